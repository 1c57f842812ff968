/*
 * The guest CUDA runtime's multi-threaded copy to and from staging
 * (guest-tools/cudart/parallel-copy.c): every byte lands, for sizes that
 * split unevenly, from and to unaligned addresses, many times in a row,
 * and in a child after fork(), which has no helper threads.
 */
#include <glib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime.h"

static void check_copy(size_t len, size_t src_off, size_t dst_off)
{
    guint8 *src = g_malloc(len + src_off + 1), *dst = g_malloc0(len + dst_off + 1);

    for (size_t i = 0; i < len + src_off + 1; i++) {
        src[i] = (guint8)(i * 131 + len);
    }
    cudart_parallel_copy(dst + dst_off, src + src_off, len);
    g_assert_cmpmem(dst + dst_off, len, src + src_off, len);
    g_assert_cmpuint(dst[len + dst_off], ==, 0);        /* not a byte past */
    for (size_t i = 0; i < dst_off; i++) {
        g_assert_cmpuint(dst[i], ==, 0);                /* nor before */
    }
    g_free(src);
    g_free(dst);
}

static void test_sizes(void)
{
    static const size_t sizes[] = { 0, 1, 4095, 1 << 20, (2 << 20) - 1, 2 << 20, (2 << 20) + 65,
                                    (7 << 20) + 3, 33 << 20 };

    for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
        check_copy(sizes[i], 0, 0);
        check_copy(sizes[i], 3, 5);
    }
}

static void test_repeated(void)
{
    for (int i = 0; i < 200; i++) {
        check_copy((3 << 20) + (size_t)i * 4099, (size_t)i % 7, (size_t)i % 5);
    }
}

static void test_after_fork(void)
{
    pid_t pid;
    int status;

    check_copy(8 << 20, 1, 2);          /* the parent's helpers run */
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        check_copy(8 << 20, 1, 2);      /* would hang on the parent's helpers */
        _exit(0);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/parallel-copy/sizes-and-alignments", test_sizes);
    g_test_add_func("/parallel-copy/many-in-a-row", test_repeated);
    g_test_add_func("/parallel-copy/in-a-child-after-fork", test_after_fork);
    return g_test_run();
}
