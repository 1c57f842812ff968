/*
 * QEMU killed mid-request, again and again, at the real mediator: 200
 * QEMUs in turn connect, get their identity, ring the doorbell and are
 * killed with SIGKILL while the request is in flight (running, or queued
 * behind the one still running from the QEMU before).  The mediator must
 * stay up and its open descriptors and resident memory must come back to
 * where they were after the first few rounds: nothing per connection or
 * per request is left behind.
 */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qemu-harness.h"
#include "vgpu/codec.h"

#define KILLS           200
#define WARMUP          10          /* rounds before the baseline is taken */
#define SETTLE_MS       20000       /* how long the mediator may take to let go */
#define RSS_SLACK_KIB   4096        /* allocator caches, not a leak per round */
#define UUID            "00000000-0000-4000-8000-00000000abcd"

typedef struct {
    char *dir;
    GPid mediator;
} KillFixture;

static char *build_path(const char *name)
{
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = g_path_get_dirname(exe);

    return g_build_filename(dir, "..", name, NULL);
}

static unsigned open_fds(GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int)pid);
    GDir *d = g_dir_open(path, 0, NULL);
    unsigned n = 0;

    g_assert_nonnull(d);
    while (g_dir_read_name(d)) {
        n++;
    }
    g_dir_close(d);
    return n;
}

static unsigned rss_kib(GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *text = NULL;
    const char *line;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    line = strstr(text, "VmRSS:");
    g_assert_nonnull(line);
    return (unsigned)strtoul(line + strlen("VmRSS:"), NULL, 10);
}

static void run_vgpuctl(KillFixture *f, const char *const *args)
{
    g_autofree char *vgpuctl = build_path("vgpuctl");
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) error = NULL;
    int status = -1;

    g_ptr_array_add(argv, vgpuctl);
    g_ptr_array_add(argv, (char *)"--runtime-dir");
    g_ptr_array_add(argv, f->dir);
    for (; *args; args++) {
        g_ptr_array_add(argv, (char *)*args);
    }
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL, NULL, NULL, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_cmpint(status, ==, 0);
}

static void fixture_start(KillFixture *f)
{
    g_autofree char *conf = NULL, *text = NULL, *log = NULL, *control = NULL;
    g_autofree char *mediator = build_path("vgpu-mediatord");
    g_autoptr(GError) error = NULL;
    const char *register_args[] = { "register", UUID, "--pool", "A", "--priority", "high",
                                    "--vm-id", "1", "--name", "killed", NULL };
    int log_fd;

    f->dir = g_dir_make_tmp("vgpu-kill-test-XXXXXX", &error);
    g_assert_no_error(error);
    conf = g_build_filename(f->dir, "mediator.conf", NULL);
    /* 0.2 s a request: the one running when its QEMU dies is still running
     * when the next QEMU's request queues behind it */
    text = g_strdup_printf("[mediator]\nruntime-dir=%s\n[pool A]\nbackend=cpu\n"
                           "service-time-us=200000\n", f->dir);
    g_assert_true(g_file_set_contents(conf, text, -1, NULL));
    log = g_build_filename(f->dir, "mediator.log", NULL);
    log_fd = g_open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(log_fd, >=, 0);
    {
        const char *argv[] = { mediator, "--config", conf, NULL };
        GSpawnFlags flags = G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL;

        g_assert_true(g_spawn_async_with_fds(NULL, (char **)argv, NULL, flags, NULL, NULL,
                                             &f->mediator, -1, -1, log_fd, &error));
        g_assert_no_error(error);
    }
    close(log_fd);
    control = g_build_filename(f->dir, "control.sock", NULL);
    for (int i = 0; i < 500 && !g_file_test(control, G_FILE_TEST_EXISTS); i++) {
        g_usleep(10000);
    }
    g_assert_true(g_file_test(control, G_FILE_TEST_EXISTS));
    run_vgpuctl(f, register_args);
}

static void fixture_stop(KillFixture *f)
{
    int status;

    kill(f->mediator, SIGTERM);
    waitpid(f->mediator, &status, 0);
    g_spawn_close_pid(f->mediator);
    if (!g_getenv("KEEP_TMP")) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

        g_assert_cmpint(system(cmd), ==, 0);
    }
    g_free(f->dir);
}

/* One QEMU: identity, a request in flight, SIGKILL. */
static void one_killed_qemu(KillFixture *f)
{
    VqOptions opts = { .uuid = UUID };
    uint8_t request[VGPU_REQUEST_MAX];
    size_t len = vgpu_request_encode_vector_add(request, sizeof(request), 1, 2);
    VgpuQemu *q = vq_start(f->dir, &opts);

    vq_pci_enable(q);
    g_assert_true(vq_wait_reg(q, VGPU_REG_POOL_ID, 'A', VQ_TIMEOUT_MS));
    for (size_t i = 0; i < len; i += 4) {
        vq_writel(q, VGPU_REG_REQUEST_BUFFER + i, vgpu_le32_load(request + i));
    }
    vq_writel(q, VGPU_REG_REQUEST_LEN, len);
    vq_writel(q, VGPU_REG_DOORBELL, VGPU_DOORBELL_SUBMIT);
    g_assert_cmphex(vq_readl(q, VGPU_REG_STATUS), ==, VGPU_STATUS_BUSY);
    vq_kill(q);
}

/* Wait until the mediator holds want descriptors (its requests drained); the count then. */
static unsigned settled_fds(GPid pid, unsigned want)
{
    gint64 end = g_get_monotonic_time() + (gint64)SETTLE_MS * 1000;
    unsigned n;

    while ((n = open_fds(pid)) != want && g_get_monotonic_time() < end) {
        g_usleep(50000);
    }
    return n;
}

static void test_qemu_killed_mid_request(void)
{
    KillFixture f;
    unsigned fds0 = 0, rss0 = 0, fds1, rss1;
    int status;

    fixture_start(&f);
    for (int i = 0; i < KILLS; i++) {
        one_killed_qemu(&f);
        if (i + 1 == WARMUP) {
            g_usleep(500000);           /* the last request runs out */
            fds0 = open_fds(f.mediator);
            rss0 = rss_kib(f.mediator);
        }
    }
    fds1 = settled_fds(f.mediator, fds0);
    rss1 = rss_kib(f.mediator);
    g_test_message("after %d rounds: %u fds, %u KiB resident; after all %d: %u fds, %u KiB",
                   WARMUP, fds0, rss0, KILLS, fds1, rss1);
    g_assert_cmpint(waitpid(f.mediator, &status, WNOHANG), ==, 0);     /* still running */
    g_assert_cmpuint(fds1, ==, fds0);
    g_assert_cmpuint(rss1, <=, rss0 + RSS_SLACK_KIB);
    fixture_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kill/qemu-killed-mid-request-200-times", test_qemu_killed_mid_request);
    return g_test_run();
}
