/*
 * QEMU killed mid-request, again and again, at the real mediator: 200
 * QEMUs in turn connect, get their identity, ring the doorbell and are
 * killed with SIGKILL while the request is in flight (running, or queued
 * behind the one still running from the QEMU before).  The mediator must
 * stay up and its open descriptors and resident memory must come back to
 * where they were after the first few rounds: nothing per connection or
 * per request is left behind.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "qemu-harness.h"
#include "real-mediator.h"
#include "vgpu/codec.h"

#define KILLS           200
#define WARMUP          10          /* rounds before the baseline is taken */
#define SETTLE_MS       20000       /* how long the mediator may take to let go */
#define RSS_SLACK_KIB   4096        /* allocator caches, not a leak per round */
#define UUID            "00000000-0000-4000-8000-00000000abcd"

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

/* One QEMU: identity, a request in flight, SIGKILL. */
static void one_killed_qemu(RealMediator *f)
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
    RealMediator f;
    unsigned fds0 = 0, rss0 = 0, fds1, rss1;
    int status;

    /* 0.2 s a request: the one running when its QEMU dies is still running
     * when the next QEMU's request queues behind it */
    rm_start(&f, "service-time-us=200000\n", UUID);
    for (int i = 0; i < KILLS; i++) {
        one_killed_qemu(&f);
        if (i + 1 == WARMUP) {
            g_usleep(500000);           /* the last request runs out */
            fds0 = open_fds(f.pid);
            rss0 = rss_kib(f.pid);
        }
    }
    fds1 = settled_fds(f.pid, fds0);
    rss1 = rss_kib(f.pid);
    g_test_message("after %d rounds: %u fds, %u KiB resident; after all %d: %u fds, %u KiB",
                   WARMUP, fds0, rss0, KILLS, fds1, rss1);
    g_assert_cmpint(waitpid(f.pid, &status, WNOHANG), ==, 0);     /* still running */
    g_assert_cmpuint(fds1, ==, fds0);
    g_assert_cmpuint(rss1, <=, rss0 + RSS_SLACK_KIB);
    rm_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/kill/qemu-killed-mid-request-200-times", test_qemu_killed_mid_request);
    return g_test_run();
}
