/*
 * The real mediator for device tests: see real-mediator.h.
 */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "real-mediator.h"

static char *build_path(const char *name)
{
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = g_path_get_dirname(exe);

    return g_build_filename(dir, "..", name, NULL);
}

static void run_vgpuctl(RealMediator *m, const char *const *args)
{
    g_autofree char *vgpuctl = build_path("vgpuctl");
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) error = NULL;
    int status = -1;

    g_ptr_array_add(argv, vgpuctl);
    g_ptr_array_add(argv, (char *)"--runtime-dir");
    g_ptr_array_add(argv, m->dir);
    for (; *args; args++) {
        g_ptr_array_add(argv, (char *)*args);
    }
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL, NULL, NULL, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_cmpint(status, ==, 0);
}

void rm_start(RealMediator *m, const char *pool_lines, const char *uuid)
{
    g_autofree char *conf = NULL, *text = NULL, *log = NULL, *control = NULL;
    g_autofree char *mediator = build_path("vgpu-mediatord");
    g_autoptr(GError) error = NULL;
    const char *register_args[] = { "register", uuid, "--pool", "A", "--priority", "high",
                                    "--vm-id", "1", "--name", "device-test", NULL };
    const char *argv[] = { mediator, "--config", NULL, NULL };
    int log_fd;

    m->dir = g_dir_make_tmp("vgpu-real-mediator-XXXXXX", &error);
    g_assert_no_error(error);
    conf = g_build_filename(m->dir, "mediator.conf", NULL);
    text = g_strdup_printf("[mediator]\nruntime-dir=%s\n[pool A]\nbackend=cpu\n%s", m->dir,
                           pool_lines);
    g_assert_true(g_file_set_contents(conf, text, -1, NULL));
    log = g_build_filename(m->dir, "mediator.log", NULL);
    log_fd = g_open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(log_fd, >=, 0);
    argv[2] = conf;
    g_assert_true(g_spawn_async_with_fds(NULL, (char **)argv, NULL,
                                         G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                                         NULL, NULL, &m->pid, -1, -1, log_fd, &error));
    g_assert_no_error(error);
    close(log_fd);
    control = g_build_filename(m->dir, "control.sock", NULL);
    for (int i = 0; i < 500 && !g_file_test(control, G_FILE_TEST_EXISTS); i++) {
        g_usleep(10000);
    }
    g_assert_true(g_file_test(control, G_FILE_TEST_EXISTS));
    run_vgpuctl(m, register_args);
}

void rm_stop(RealMediator *m)
{
    int status;

    kill(m->pid, SIGTERM);
    waitpid(m->pid, &status, 0);
    g_spawn_close_pid(m->pid);
    if (!g_getenv("KEEP_TMP")) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", m->dir);

        g_assert_cmpint(system(cmd), ==, 0);
    }
    g_free(m->dir);
}
