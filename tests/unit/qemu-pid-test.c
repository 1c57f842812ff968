/*
 * Finding QEMU's pid at the `started` hook (libvirt-hooks/qemu-pid.c):
 * from a <domstatus pid=...>, and from libvirtd's pid file.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "metadata.h"
#include "qemu-pid.h"

static void test_parse(void)
{
    static const char *const good[] = { "1", "4242", "4242\n", " 77 \n", "2147483647" };
    static const char *const bad[] = { "", "\n", "0", "-5", "+5", "12a", "0x10", "2147483648",
                                       "99999999999999999999", "1 2" };
    pid_t pid;

    for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
        g_assert_true(qemu_pid_parse(good[i], &pid));
        g_assert_cmpint(pid, ==, (pid_t)g_ascii_strtoll(good[i], NULL, 10));
    }
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        pid = -1;
        g_assert_false(qemu_pid_parse(bad[i], &pid));
        g_assert_cmpint(pid, ==, -1);
    }
}

static xmlDoc *parse(const char *xml)
{
    xmlDoc *doc = metadata_parse_xml(xml, strlen(xml), NULL);

    g_assert_nonnull(doc);
    return doc;
}

static void test_from_status(void)
{
    xmlDoc *status = parse("<domstatus state='running' reason='booted' pid='31337'>"
                           "<domain type='qemu'><name>a</name></domain></domstatus>");
    xmlDoc *no_pid = parse("<domstatus state='running'><domain type='qemu'/></domstatus>");
    xmlDoc *bad_pid = parse("<domstatus pid='-1'><domain type='qemu'/></domstatus>");
    xmlDoc *domain = parse("<domain type='qemu' pid='31337'><name>a</name></domain>");
    pid_t pid = 0;

    g_assert_true(qemu_pid_from_status(status, &pid));
    g_assert_cmpint(pid, ==, 31337);
    g_assert_false(qemu_pid_from_status(no_pid, &pid));
    g_assert_false(qemu_pid_from_status(bad_pid, &pid));
    g_assert_false(qemu_pid_from_status(domain, &pid));
    xmlFreeDoc(domain);
    xmlFreeDoc(bad_pid);
    xmlFreeDoc(no_pid);
    xmlFreeDoc(status);
}

static void test_from_file(void)
{
    char *dir = g_dir_make_tmp("qemu-pid-test-XXXXXX", NULL);
    char *good = g_build_filename(dir, "web1.pid", NULL);
    char *garbage = g_build_filename(dir, "junk.pid", NULL);
    GError *error = NULL;
    pid_t pid = 0;

    g_assert_nonnull(dir);
    g_assert_true(g_file_set_contents(good, "4321\n", -1, NULL));
    g_assert_true(g_file_set_contents(garbage, "not a pid\n", -1, NULL));

    g_assert_true(qemu_pid_from_file(dir, "web1", &pid, &error));
    g_assert_no_error(error);
    g_assert_cmpint(pid, ==, 4321);

    g_assert_false(qemu_pid_from_file(dir, "junk", &pid, &error));
    g_assert_nonnull(strstr(error->message, garbage));
    g_assert_nonnull(strstr(error->message, "does not hold a pid"));
    g_clear_error(&error);

    g_assert_false(qemu_pid_from_file(dir, "absent", &pid, &error));
    g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    g_assert_nonnull(strstr(error->message, "absent.pid"));
    g_clear_error(&error);

    g_assert_false(qemu_pid_from_file(dir, "../web1", &pid, &error));
    g_assert_nonnull(error);
    g_clear_error(&error);

    g_unlink(good);
    g_unlink(garbage);
    g_rmdir(dir);
    g_free(garbage);
    g_free(good);
    g_free(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qemu-pid/parse", test_parse);
    g_test_add_func("/qemu-pid/from-status-xml", test_from_status);
    g_test_add_func("/qemu-pid/from-pid-file", test_from_file);
    return g_test_run();
}
