/*
 * The real vgpu-client binaries (static, and dynamic against libvgpu.so)
 * against a fake sysfs and a mock device (fake-vgpu.h): output formats,
 * --json that parses, exit codes, device choice, permissions, and several
 * processes sharing one device without ever ringing it while busy; the
 * array operations on the data window: each one's output and layout,
 * seeded data, wrong results caught (and a result within its bound not
 * flagged), arrays that do not fit, --unchecked refused by the host.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <grp.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake-vgpu.h"
#include "vgpu/errors.h"

#define ADDR_1E         "0000:00:1e.0"
#define NOBODY_ID       65534
#define TEST_GROUP_ID   64123               /* plays the vgpu group */
#define LIBVGPU_SONAME  "libvgpu.so.0"

enum { EXIT_OK, EXIT_DEVICE_ERROR, EXIT_USAGE, EXIT_NO_DEVICE, EXIT_TIMEOUT, EXIT_FAILURE_5,
       EXIT_WRONG_RESULT };

typedef enum { AS_ROOT, AS_NOBODY, AS_NOBODY_IN_GROUP } RunAs;

typedef struct {
    const char *name;           /* the client under test, in the build */
    char *binary;               /* its copy in bin_dir, which runs */
    gboolean dynamic;           /* needs LD_LIBRARY_PATH to find libvgpu.so */
} Client;

typedef struct {
    int status;                 /* exit status */
    char *out;
    char *err;
} Run;

/*
 * The clients also run as nobody, who cannot enter a build under a 0700
 * directory (any clone in /root): every test runs copies of them in a fresh
 * 0755 directory.  VGPU_GUEST_TOOLS_BUILD names another build to copy.
 */
static char *bin_dir;

static void copy_into_bin_dir(const char *build, const char *name)
{
    g_autofree char *from = g_build_filename(build, name, NULL);
    g_autofree char *to = g_build_filename(bin_dir, name, NULL);
    g_autofree char *bytes = NULL;
    GError *error = NULL;
    gsize length;

    g_file_get_contents(from, &bytes, &length, &error);
    g_assert_no_error(error);
    g_file_set_contents(to, bytes, (gssize)length, &error);
    g_assert_no_error(error);
    g_assert_cmpint(chmod(to, 0755), ==, 0);
}

static void make_bin_dir(void)
{
    const char *build = g_getenv("VGPU_GUEST_TOOLS_BUILD");
    GError *error = NULL;

    bin_dir = g_dir_make_tmp("vgpu-client-bin-XXXXXX", &error);
    g_assert_no_error(error);
    g_assert_cmpint(chmod(bin_dir, 0755), ==, 0);
    build = build ? build : GUEST_TOOLS_BUILD;
    copy_into_bin_dir(build, "vgpu-client-static");
    copy_into_bin_dir(build, "vgpu-client");
    copy_into_bin_dir(build, LIBVGPU_SONAME);
}

static void remove_bin_dir(void)
{
    const char *names[] = { "vgpu-client-static", "vgpu-client", LIBVGPU_SONAME };

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *path = g_build_filename(bin_dir, names[i], NULL);

        g_unlink(path);
    }
    g_rmdir(bin_dir);
    g_free(bin_dir);
}

static void run_free(Run *run)
{
    g_free(run->out);
    g_free(run->err);
    g_free(run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Run, run_free)

static void drop_root(gpointer data)
{
    RunAs as = GPOINTER_TO_INT(data);
    gid_t groups[] = { TEST_GROUP_ID };

    if (as == AS_ROOT) {
        return;
    }
    /* between fork and exec: plain system calls only */
    if (setgroups(as == AS_NOBODY_IN_GROUP ? 1 : 0, groups) < 0 || setgid(NOBODY_ID) < 0 ||
        setuid(NOBODY_ID) < 0) {
        _exit(127);
    }
}

static char **client_env(const Client *client, const FakeRoot *root, const char *device)
{
    char **env = g_get_environ();

    env = g_environ_setenv(env, "VGPU_TEST_ROOT", fake_root_path(root), TRUE);
    env = g_environ_unsetenv(env, "VGPU_DEVICE");
    if (device) {
        env = g_environ_setenv(env, "VGPU_DEVICE", device, TRUE);
    }
    if (client->dynamic) {
        env = g_environ_setenv(env, "LD_LIBRARY_PATH", bin_dir, TRUE);
    }
    return env;
}

/* Run the client with these arguments (NULL-terminated) and collect what it did. */
static Run *run_as(const Client *client, const FakeRoot *root, const char *device, RunAs as, ...)
{
    GPtrArray *argv = g_ptr_array_new();
    char **env = client_env(client, root, device);
    Run *run = g_new0(Run, 1);
    GError *error = NULL;
    const char *arg;
    int wait_status;
    va_list ap;

    g_ptr_array_add(argv, (gpointer)client->binary);
    va_start(ap, as);
    while ((arg = va_arg(ap, const char *))) {
        g_ptr_array_add(argv, (gpointer)arg);
    }
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    g_spawn_sync(NULL, (char **)argv->pdata, env, G_SPAWN_DEFAULT, drop_root, GINT_TO_POINTER(as),
                 &run->out, &run->err, &wait_status, &error);
    g_assert_no_error(error);
    g_assert_true(WIFEXITED(wait_status));
    run->status = WEXITSTATUS(wait_status);
    g_ptr_array_free(argv, TRUE);
    g_strfreev(env);
    return run;
}

#define run_client(client, root, ...) run_as(client, root, NULL, AS_ROOT, __VA_ARGS__, NULL)

static JsonObject *parse_json(const char *text, JsonParser **parser)
{
    GError *error = NULL;
    JsonNode *node;

    *parser = json_parser_new();
    json_parser_load_from_data(*parser, text, -1, &error);
    g_assert_no_error(error);
    node = json_parser_get_root(*parser);
    g_assert_nonnull(node);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
    return json_node_get_object(node);
}

static FakeRoot *root_with_device(FakeDevice **dev)
{
    FakeRoot *root = fake_root_new();

    *dev = fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    fake_device_start(*dev);
    return root;
}

static void test_help_version(gconstpointer data)
{
    const Client *client = data;
    FakeRoot *root = fake_root_new();
    g_autoptr(Run) help = run_client(client, root, "--help");
    g_autoptr(Run) version = run_client(client, root, "--version");

    g_assert_cmpint(help->status, ==, EXIT_OK);
    g_assert_true(g_str_has_prefix(help->out, "Usage: vgpu-client"));
    for (const char *const *word = (const char *const[]){ "info", "add A B", "bench", "--device",
                                                          "--wait", "--timeout-ms", "--json",
                                                          "vadd", "saxpy", "sum", "sgemm",
                                                          "--type", "--size", "--alpha",
                                                          "--beta", "--m M", "--seed",
                                                          "--unchecked", "Exit status",
                                                          NULL }; *word; word++) {
        g_assert_nonnull(strstr(help->out, *word));
    }
    g_assert_cmpstr(help->err, ==, "");
    g_assert_cmpint(version->status, ==, EXIT_OK);
    g_assert_true(g_str_has_prefix(version->out, "vgpu-client "));
    fake_root_free(root);
}

static void test_info_text(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_device(&dev);
    g_autoptr(Run) run = NULL;

    fake_device_set_identity(dev, 'A', VGPU_PRIORITY_MEDIUM, 3);
    run = run_client(client, root, "info");
    g_assert_cmpint(run->status, ==, EXIT_OK);
    g_assert_cmpstr(run->out, ==,
                    "address:      0000:00:1e.0\n"
                    "vendor:       0x1234\n"
                    "device:       0x5647\n"
                    "revision:     0x01\n"
                    "pool:         A\n"
                    "priority:     medium\n"
                    "vm-id:        3\n"
                    "protocol:     1.0\n"
                    "capabilities: 0x00000001 completion-irq\n"
                    "window:       none\n"
                    "wait:         poll\n");
    g_assert_cmpstr(run->err, ==, "");
    fake_root_free(root);
}

static void test_info_json(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_device(&dev);
    g_autoptr(Run) run = NULL;
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o;
    JsonArray *caps;

    fake_device_set_identity(dev, 'C', VGPU_PRIORITY_HIGH, 0x7fffffff);
    run = run_client(client, root, "--json", "info");
    g_assert_cmpint(run->status, ==, EXIT_OK);
    o = parse_json(run->out, &parser);
    g_assert_cmpstr(json_object_get_string_member(o, "address"), ==, ADDR_1E);
    g_assert_cmpint(json_object_get_int_member(o, "vendor_id"), ==, VGPU_PCI_VENDOR_ID);
    g_assert_cmpint(json_object_get_int_member(o, "device_id"), ==, VGPU_PCI_DEVICE_ID);
    g_assert_cmpint(json_object_get_int_member(o, "revision"), ==, VGPU_PCI_REVISION);
    g_assert_true(json_object_get_boolean_member(o, "registered"));
    g_assert_cmpstr(json_object_get_string_member(o, "pool"), ==, "C");
    g_assert_cmpstr(json_object_get_string_member(o, "priority"), ==, "high");
    g_assert_cmpint(json_object_get_int_member(o, "vm_id"), ==, 0x7fffffff);
    g_assert_cmpstr(json_object_get_string_member(o, "protocol"), ==, "1.0");
    g_assert_cmpint(json_object_get_int_member(o, "protocol_version"), ==, VGPU_PROTOCOL_VERSION);
    g_assert_cmpint(json_object_get_int_member(o, "capabilities"), ==, VGPU_CAP_COMPLETION_IRQ);
    caps = json_object_get_array_member(o, "capability_names");
    g_assert_cmpuint(json_array_get_length(caps), ==, 1);
    g_assert_cmpstr(json_array_get_string_element(caps, 0), ==, "completion-irq");
    g_assert_cmpstr(json_object_get_string_member(o, "wait"), ==, "poll");
    g_assert_true(json_object_get_null_member(o, "uio"));
    g_assert_true(json_object_get_null_member(o, "window_size"));
    g_assert_false(json_object_has_member(o, "window_error"));
    fake_root_free(root);
}

static void test_info_window(gconstpointer data)
{
    const Client *client = data;
    FakeRoot *root = fake_root_new();
    FakeDevice *dev = fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    g_autoptr(Run) text = NULL;
    g_autoptr(Run) json = NULL;
    g_autoptr(Run) broken = NULL;
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o;
    JsonArray *caps;

    fake_device_add_window(dev, 64u << 20);
    fake_device_start(dev);
    text = run_client(client, root, "info");
    g_assert_cmpint(text->status, ==, EXIT_OK);
    g_assert_nonnull(strstr(text->out, "capabilities: 0x00000003 completion-irq data-window\n"
                                       "window:       64 MiB\n"));
    json = run_client(client, root, "--json", "info");
    o = parse_json(json->out, &parser);
    g_assert_cmpint(json_object_get_int_member(o, "window_size"), ==, 64 << 20);
    caps = json_object_get_array_member(o, "capability_names");
    g_assert_cmpuint(json_array_get_length(caps), ==, 2);
    g_assert_cmpstr(json_array_get_string_element(caps, 1), ==, "data-window");
    /* a window that breaks the contract is shown, not hidden */
    fake_device_set_window_size_reg(dev, 3 << 20);
    broken = run_client(client, root, "info");
    g_assert_cmpint(broken->status, ==, EXIT_OK);
    g_assert_nonnull(strstr(broken->out, "window:       unusable: 0000:00:1e.0: WINDOW_SIZE is "
                                         "3145728 bytes, not a power of two"));
    fake_root_free(root);
}

static void test_info_no_identity(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_device(&dev);
    g_autoptr(Run) text = run_client(client, root, "info");
    g_autoptr(Run) json = run_client(client, root, "info", "--json");  /* options after the command too */
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o;

    g_assert_cmpint(text->status, ==, EXIT_OK);
    g_assert_nonnull(strstr(text->out, "pool:         none (no identity from the mediator yet)\n"));
    g_assert_nonnull(strstr(text->out, "vm-id:        none\n"));
    g_assert_cmpint(json->status, ==, EXIT_OK);
    o = parse_json(json->out, &parser);
    g_assert_false(json_object_get_boolean_member(o, "registered"));
    g_assert_true(json_object_get_null_member(o, "pool"));
    g_assert_true(json_object_get_null_member(o, "priority"));
    g_assert_true(json_object_get_null_member(o, "vm_id"));
    fake_root_free(root);
}

static void test_add(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_device(&dev);
    g_autoptr(Run) plain = run_client(client, root, "add", "2", "3");
    g_autoptr(Run) wrap = run_client(client, root, "add", "0xffffffff", "2");
    g_autoptr(Run) json = run_client(client, root, "--json", "add", "4294967295", "0x10");
    g_autoptr(JsonParser) parser = NULL;
    FakeStats stats;
    JsonObject *o;

    g_assert_cmpint(plain->status, ==, EXIT_OK);
    g_assert_cmpstr(plain->out, ==, "5\n");
    g_assert_cmpstr(plain->err, ==, "");
    g_assert_cmpint(wrap->status, ==, EXIT_OK);
    g_assert_cmpstr(wrap->out, ==, "1\n");
    g_assert_cmpint(json->status, ==, EXIT_OK);
    o = parse_json(json->out, &parser);
    g_assert_cmpint(json_object_get_int_member(o, "a"), ==, 4294967295);
    g_assert_cmpint(json_object_get_int_member(o, "b"), ==, 16);
    g_assert_cmpint(json_object_get_int_member(o, "sum"), ==, 15);
    g_assert_cmpint(json_object_get_int_member(o, "exec_time_us"), ==, FAKE_EXEC_TIME_US);
    g_assert_cmpint(json_object_get_int_member(o, "request_id"), >, 0);
    g_assert_cmpfloat(json_object_get_double_member(o, "latency_us"), >, 0);
    fake_device_stats(dev, &stats);
    g_assert_cmpint(json_object_get_int_member(o, "timestamp_ns"), ==, stats.last_timestamp_ns);
    g_assert_cmpstr(json_object_get_string_member(o, "wait"), ==, "poll");
    g_assert_cmpuint(stats.doorbells, ==, 3);
    fake_root_free(root);
}

static void test_device_error(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_device(&dev);
    g_autoptr(Run) plain = NULL;
    g_autoptr(Run) json = NULL;
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o, *e;

    fake_device_set_mode(dev, FAKE_FAIL, VGPU_ERR_NOT_CONNECTED, 0);
    plain = run_client(client, root, "add", "1", "2");
    g_assert_cmpint(plain->status, ==, EXIT_DEVICE_ERROR);
    g_assert_cmpstr(plain->out, ==, "");
    g_assert_nonnull(strstr(plain->err, "NOT_CONNECTED (6)"));
    g_assert_nonnull(strstr(plain->err, vgpu_error_message(VGPU_ERR_NOT_CONNECTED)));

    fake_device_set_mode(dev, FAKE_FAIL, VGPU_ERR_BACKEND, 200);
    json = run_client(client, root, "--json", "bench", "-n", "5");
    g_assert_cmpint(json->status, ==, EXIT_DEVICE_ERROR);
    o = parse_json(json->out, &parser);
    e = json_object_get_object_member(o, "error");
    g_assert_cmpstr(json_object_get_string_member(e, "result"), ==, "DEVICE_ERROR");
    g_assert_cmpstr(json_object_get_string_member(e, "device_error"), ==, "BACKEND");
    g_assert_cmpint(json_object_get_int_member(e, "device_error_code"), ==, VGPU_ERR_BACKEND);
    g_assert_cmpstr(json_object_get_string_member(e, "device_error_message"), ==,
                    vgpu_error_message(VGPU_ERR_BACKEND));
    g_assert_nonnull(strstr(json_object_get_string_member(e, "message"), "BACKEND"));
    g_assert_nonnull(strstr(json->err, "BACKEND"));
    fake_root_free(root);
}

/* "key: N us" lines of bench's text output. */
static double bench_value(const char *out, const char *key)
{
    const char *line = strstr(out, key);
    double value = -1;

    g_assert_nonnull(line);
    g_assert_cmpint(sscanf(line + strlen(key), " %lf", &value), ==, 1);
    return value;
}

static void test_bench(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_device(&dev);
    g_autoptr(Run) text = NULL;
    g_autoptr(Run) json = NULL;
    g_autoptr(JsonParser) parser = NULL;
    const char *keys[] = { "min_us", "p50_us", "p90_us", "p99_us", "max_us" };
    double previous = 0;
    FakeStats stats;
    JsonObject *o;

    fake_device_set_mode(dev, FAKE_ANSWER, 0, 50);
    text = run_client(client, root, "bench", "-n", "40");
    g_assert_cmpint(text->status, ==, EXIT_OK);
    g_assert_cmpfloat(bench_value(text->out, "count:"), ==, 40);
    for (const char *const *key = (const char *const[]){ "min:", "p50:", "p90:", "p99:", "max:",
                                                         NULL }; *key; key++) {
        double value = bench_value(text->out, *key);

        g_assert_cmpfloat(value, >=, previous);
        previous = value;
    }
    g_assert_cmpfloat(bench_value(text->out, "min:"), >=, 50);     /* the mock's delay */
    fake_device_stats(dev, &stats);
    g_assert_cmpuint(stats.doorbells, ==, 40);

    json = run_client(client, root, "bench", "--count", "25", "--json");
    g_assert_cmpint(json->status, ==, EXIT_OK);
    o = parse_json(json->out, &parser);
    g_assert_cmpint(json_object_get_int_member(o, "count"), ==, 25);
    g_assert_cmpstr(json_object_get_string_member(o, "wait"), ==, "poll");
    previous = 0;
    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
        double value = json_object_get_double_member(o, keys[i]);

        g_assert_cmpfloat(value, >=, previous);
        previous = value;
    }
    fake_root_free(root);
}

static void test_usage_errors(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_device(&dev);
    const char *const cases[][6] = {
        { NULL },
        { "frobnicate", NULL },
        { "info", "extra", NULL },
        { "add", "1", NULL },
        { "add", "1", "x", NULL },
        { "add", "-1", "2", NULL },
        { "add", "4294967296", "1", NULL },
        { "add", " 1", "2", NULL },
        { "add", "0x", "2", NULL },
        { "bench", "-n", "0", NULL },
        { "bench", "-n", "1000001", NULL },
        { "--wait", "fast", "info", NULL },
        { "--timeout-ms", "0", "info", NULL },
        { "--bogus", "info", NULL },
        { "info", "--device", NULL },
        { "-n", "5", "info", NULL },
        { "--device", "00:1e", "info", NULL },
        { "vadd", "--type", "f64", NULL },
        { "vadd", "--size", "3", NULL },
        { "vadd", "--size", "0", NULL },
        { "vadd", "--size", "-4", NULL },
        { "vadd", "--size", "4T", NULL },
        { "vadd", "--size", "17G", NULL },
        { "vadd", "--size", "1kk", NULL },
        { "saxpy", "--alpha", "nan", NULL },
        { "saxpy", "--alpha", "1x", NULL },
        { "saxpy", "--alpha", "1e39", NULL },
        { "sgemm", "--beta", "inf", NULL },
        { "sgemm", "--m", "0", NULL },
        { "sgemm", "--k", "16777217", NULL },
        { "sgemm", "--seed", "-1", NULL },
        { "sum", "--type", "u32", NULL },
        { "sgemm", "--size", "4k", NULL },
        { "vadd", "--m", "4", NULL },
        { "saxpy", "--beta", "1", NULL },
        { "info", "--size", "4k", NULL },
        { "add", "1", "2", "--seed", "3", NULL },
        { "bench", "--unchecked", NULL },
        { "vadd", "extra", NULL },
        { "sum", "-n", "3", NULL },
    };
    FakeStats stats;

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(Run) run = run_as(client, root, NULL, AS_ROOT, cases[i][0], cases[i][1],
                                    cases[i][2], cases[i][3], cases[i][4], NULL);

        if (run->status != EXIT_USAGE) {
            g_error("case %zu (%s %s %s): exit %d, stderr: %s", i, cases[i][0], cases[i][1],
                    cases[i][2], run->status, run->err);
        }
        g_assert_cmpstr(run->out, ==, "");
        g_assert_true(g_str_has_prefix(run->err, "vgpu-client: "));
    }
    fake_device_stats(dev, &stats);
    g_assert_cmpuint(stats.doorbells, ==, 0);
    fake_root_free(root);
}

static void test_no_device(gconstpointer data)
{
    const Client *client = data;
    FakeRoot *root = fake_root_new();
    FakeDevice *nic = fake_device_add(root, "0000:00:03.0", 0x8086, 0x100e);
    g_autoptr(Run) none = run_client(client, root, "info");
    g_autoptr(Run) json = run_client(client, root, "--json", "add", "1", "2");
    g_autoptr(Run) foreign = run_client(client, root, "--device", "0000:00:03.0", "info");
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o;

    (void)nic;
    g_assert_cmpint(none->status, ==, EXIT_NO_DEVICE);
    g_assert_nonnull(strstr(none->err, "no vgpu-stub device"));
    g_assert_cmpint(json->status, ==, EXIT_NO_DEVICE);
    o = parse_json(json->out, &parser);
    g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(o, "error"),
                                                  "result"), ==, "NO_DEVICE");
    g_assert_cmpint(foreign->status, ==, EXIT_NO_DEVICE);
    g_assert_nonnull(strstr(foreign->err, "not a vgpu-stub"));
    fake_root_free(root);
}

static void test_no_irq(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_device(&dev);
    g_autoptr(Run) irq = run_client(client, root, "--wait", "irq", "info");
    g_autoptr(Run) poll = run_client(client, root, "--wait", "poll", "add", "1", "1");

    g_assert_cmpint(irq->status, ==, EXIT_NO_DEVICE);
    g_assert_nonnull(strstr(irq->err, "uio_pci_generic"));
    g_assert_cmpint(poll->status, ==, EXIT_OK);
    g_assert_cmpstr(poll->out, ==, "2\n");
    fake_root_free(root);
}

static void test_irq(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = fake_root_new();
    g_autoptr(Run) info = NULL;
    g_autoptr(Run) add = NULL;
    g_autoptr(Run) json = NULL;
    g_autoptr(JsonParser) parser = NULL;
    FakeStats stats;

    dev = fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    fake_device_bind(dev, "uio_pci_generic");
    fake_device_add_uio(dev, "uio0", TRUE);
    fake_device_start(dev);
    fake_device_set_mode(dev, FAKE_ANSWER, 0, 300);
    info = run_client(client, root, "info");
    g_assert_cmpint(info->status, ==, EXIT_OK);
    g_assert_nonnull(strstr(info->out, "wait:         irq (/dev/uio0)\n"));
    add = run_client(client, root, "--wait", "irq", "add", "40", "2");
    g_assert_cmpint(add->status, ==, EXIT_OK);
    g_assert_cmpstr(add->out, ==, "42\n");
    json = run_client(client, root, "--json", "add", "1", "2");
    g_assert_cmpint(json->status, ==, EXIT_OK);
    g_assert_cmpstr(json_object_get_string_member(parse_json(json->out, &parser), "wait"), ==, "irq");
    fake_device_stats(dev, &stats);
    g_assert_cmpuint(stats.interrupts, ==, 2);
    fake_root_free(root);
}

static void test_timeout(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_device(&dev);
    g_autoptr(Run) run = NULL;
    g_autoptr(Run) json = NULL;
    g_autoptr(JsonParser) parser = NULL;
    JsonObject *o;

    fake_device_set_mode(dev, FAKE_SILENT, 0, 0);
    run = run_client(client, root, "--timeout-ms", "100", "add", "1", "2");
    g_assert_cmpint(run->status, ==, EXIT_TIMEOUT);
    g_assert_nonnull(strstr(run->err, "within 100 ms"));
    json = run_client(client, root, "-t", "50", "-j", "add", "1", "2");
    g_assert_cmpint(json->status, ==, EXIT_TIMEOUT);
    o = parse_json(json->out, &parser);
    g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(o, "error"),
                                                  "result"), ==, "TIMEOUT");
    fake_root_free(root);
}

static void stdout_to_full(gpointer data)
{
    int fd = open("/dev/full", O_WRONLY);

    (void)data;
    if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
        _exit(127);
    }
}

/* Output that cannot be written is a failure, not a silent success. */
static void test_output_failure(gconstpointer data)
{
    const Client *client = data;
    const char *argv[] = { client->binary, "info", NULL };
    FakeDevice *dev;
    FakeRoot *root = root_with_device(&dev);
    char **env = client_env(client, root, NULL);
    GError *error = NULL;
    char *err = NULL;
    int wait_status;

    g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_DEFAULT, stdout_to_full, NULL, NULL, &err,
                 &wait_status, &error);
    g_assert_no_error(error);
    g_assert_true(WIFEXITED(wait_status));
    g_assert_cmpint(WEXITSTATUS(wait_status), ==, EXIT_FAILURE_5);
    g_assert_nonnull(strstr(err, "cannot write the output"));
    g_free(err);
    g_strfreev(env);
    fake_root_free(root);
}

static void test_device_choice(gconstpointer data)
{
    const Client *client = data;
    FakeRoot *root = fake_root_new();
    FakeDevice *low = fake_device_add(root, "0000:00:1d.0", VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    FakeDevice *high = fake_device_add(root, "0000:00:1f.0", VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    g_autoptr(Run) first = NULL;
    g_autoptr(Run) named = NULL;
    g_autoptr(Run) env = NULL;
    g_autoptr(Run) both = NULL;

    fake_device_set_identity(low, 'A', VGPU_PRIORITY_LOW, 1);
    fake_device_set_identity(high, 'B', VGPU_PRIORITY_HIGH, 2);
    first = run_client(client, root, "info");
    named = run_client(client, root, "--device", "0000:00:1f.0", "info");
    env = run_as(client, root, "00:1f.0", AS_ROOT, "info", NULL);
    both = run_as(client, root, "0000:00:1f.0", AS_ROOT, "-d", "0000:00:1d.0", "info", NULL);
    g_assert_nonnull(strstr(first->out, "vm-id:        1\n"));
    g_assert_nonnull(strstr(named->out, "vm-id:        2\n"));
    g_assert_nonnull(strstr(env->out, "vm-id:        2\n"));
    g_assert_nonnull(strstr(both->out, "vm-id:        1\n"));     /* the option wins */
    fake_root_free(root);
}

static void test_permissions(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_device(&dev);
    char *resource0 = fake_device_file(dev, "resource0");
    g_autoptr(Run) denied = NULL;
    g_autoptr(Run) member = NULL;

    /* what 60-vgpu.rules does on a real system */
    g_assert_cmpint(chown(resource0, 0, TEST_GROUP_ID), ==, 0);
    g_assert_cmpint(chmod(resource0, 0660), ==, 0);
    denied = run_as(client, root, NULL, AS_NOBODY, "add", "1", "2", NULL);
    g_assert_cmpint(denied->status, ==, EXIT_NO_DEVICE);
    g_assert_nonnull(strstr(denied->err, "Permission denied"));
    member = run_as(client, root, NULL, AS_NOBODY_IN_GROUP, "add", "1", "2", NULL);
    g_assert_cmpint(member->status, ==, EXIT_OK);
    g_assert_cmpstr(member->out, ==, "3\n");
    g_free(resource0);
    fake_root_free(root);
}

/* Several processes on one device: flock keeps them from ringing while it is busy. */
static void test_concurrent_processes(gconstpointer data)
{
    const Client *client = data;
    enum { PROCESSES = 3, REQUESTS = 60 };
    const char *argv[] = { client->binary, "--timeout-ms", "20000", "bench", "-n", "60", NULL };
    FakeDevice *dev;
    FakeRoot *root = root_with_device(&dev);
    char **env = client_env(client, root, NULL);
    GPid pids[PROCESSES];
    FakeStats stats;

    fake_device_set_mode(dev, FAKE_ANSWER, 0, 40);
    for (int i = 0; i < PROCESSES; i++) {
        GError *error = NULL;

        g_spawn_async(NULL, (char **)argv, env,
                      G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                      &pids[i], &error);
        g_assert_no_error(error);
    }
    for (int i = 0; i < PROCESSES; i++) {
        int status;

        g_assert_cmpint(waitpid(pids[i], &status, 0), ==, pids[i]);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, EXIT_OK);
    }
    fake_device_stats(dev, &stats);
    g_assert_cmpuint(stats.doorbells, ==, PROCESSES * REQUESTS);
    g_assert_cmpuint(stats.completions, ==, PROCESSES * REQUESTS);
    g_assert_cmpuint(stats.overlaps, ==, 0);
    g_assert_cmpuint(stats.clobbered, ==, 0);
    g_strfreev(env);
    fake_root_free(root);
}

/* --- array operations on the data window --- */

#define WINDOW_1M   (1u << 20)

static FakeRoot *root_with_window(FakeDevice **dev, guint64 size)
{
    FakeRoot *root = fake_root_new();

    *dev = fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    fake_device_add_window(*dev, size);
    fake_device_start(*dev);
    return root;
}

static guint32 window_u32(FakeDevice *dev, guint64 offset, guint64 i)
{
    guint32 w;

    memcpy(&w, (guint8 *)fake_device_window(dev) + offset + 4 * i, 4);
    return GUINT32_FROM_LE(w);
}

static float window_f32(FakeDevice *dev, guint64 offset, guint64 i)
{
    guint32 w = window_u32(dev, offset, i);
    float f;

    memcpy(&f, &w, 4);
    return f;
}

/* vadd's text, and its layout (docs/guest-tools.md): a at 0, b and out each after the last. */
static void test_op_vadd_text(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_window(&dev, WINDOW_1M);
    g_autoptr(Run) run = run_client(client, root, "vadd", "--size", "64k", "--seed", "5");
    guint distinct = 0;
    FakeStats stats;

    g_assert_cmpint(run->status, ==, EXIT_OK);
    g_assert_cmpstr(run->err, ==, "");
    g_assert_true(g_str_has_prefix(run->out, "op:       ADD_U32\n"
                                             "size:     64 KiB per array, 16384 elements\n"
                                             "seed:     5\n"
                                             "check:    ok, all 16384 elements bit-exact\n"
                                             "time:     "));
    g_assert_nonnull(strstr(run->out, " us (backend 3 us)\nrate:     "));
    g_assert_nonnull(strstr(run->out, " GB/s (196608 bytes moved)\nwait:     poll\n"));
    for (guint i = 0; i < 16384; i++) {
        guint32 a = window_u32(dev, 0, i), b = window_u32(dev, 65536, i);

        g_assert_cmpuint(window_u32(dev, 131072, i), ==, (guint32)(a + b));
        distinct += a != window_u32(dev, 0, 0);
    }
    g_assert_cmpuint(distinct, >, 16000);       /* pseudo-random, not a constant */
    fake_device_stats(dev, &stats);
    g_assert_cmpuint(stats.doorbells, ==, 1);
    g_assert_cmpuint(stats.window_ops, ==, 1);
    fake_root_free(root);
}

/* Fields every operation's JSON has, checked against the mock. */
static JsonObject *op_json(const Client *client, FakeRoot *root, FakeDevice *dev,
                           JsonParser **parser, const char *op, const char *const *args)
{
    const char *argv[16] = { "--json" };
    FakeStats stats;
    JsonObject *o;
    Run *run;
    gsize n = 1;

    while (*args) {
        g_assert_cmpuint(n, <, G_N_ELEMENTS(argv) - 1);
        argv[n++] = *args++;
    }
    run = run_as(client, root, NULL, AS_ROOT, argv[0], argv[1], argv[2], argv[3], argv[4],
                 argv[5], argv[6], argv[7], argv[8], argv[9], argv[10], argv[11], argv[12],
                 argv[13], argv[14], NULL);
    if (run->status != EXIT_OK) {
        g_error("%s: exit %d: %s", op, run->status, run->err);
    }
    g_assert_cmpstr(run->err, ==, "");
    o = parse_json(run->out, parser);
    run_free(run);
    fake_device_stats(dev, &stats);
    g_assert_cmpstr(json_object_get_string_member(o, "op"), ==, op);
    g_assert_cmpstr(json_object_get_string_member(o, "check"), ==, "ok");
    g_assert_cmpint(json_object_get_int_member(o, "window_size"), ==, WINDOW_1M);
    g_assert_cmpint(json_object_get_int_member(o, "checked"), >, 0);
    g_assert_cmpfloat(json_object_get_double_member(o, "time_us"), >, 0);
    g_assert_cmpint(json_object_get_int_member(o, "exec_time_us"), ==, FAKE_EXEC_TIME_US);
    g_assert_cmpint(json_object_get_int_member(o, "request_id"), >, 0);
    g_assert_cmpint(json_object_get_int_member(o, "timestamp_ns"), ==, stats.last_timestamp_ns);
    g_assert_cmpstr(json_object_get_string_member(o, "wait"), ==, "poll");
    return o;
}

static void test_op_json(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_window(&dev, WINDOW_1M);
    g_autoptr(JsonParser) p1 = NULL;
    g_autoptr(JsonParser) p2 = NULL;
    g_autoptr(JsonParser) p3 = NULL;
    g_autoptr(JsonParser) p4 = NULL;
    double time_us, sum = 0;
    JsonObject *o;

    o = op_json(client, root, dev, &p1, "ADD_F32",
                (const char *const[]){ "vadd", "--type", "f32", "--size", "8k", NULL });
    g_assert_cmpstr(json_object_get_string_member(o, "command"), ==, "vadd");
    g_assert_cmpstr(json_object_get_string_member(o, "type"), ==, "f32");
    g_assert_cmpint(json_object_get_int_member(o, "size"), ==, 8192);
    g_assert_cmpint(json_object_get_int_member(o, "count"), ==, 2048);
    g_assert_cmpint(json_object_get_int_member(o, "seed"), ==, 1);
    g_assert_cmpstr(json_object_get_string_member(o, "check_mode"), ==, "bit-exact");
    g_assert_cmpint(json_object_get_int_member(o, "checked"), ==, 2048);
    g_assert_cmpint(json_object_get_int_member(o, "total"), ==, 2048);
    g_assert_cmpint(json_object_get_int_member(o, "bytes_moved"), ==, 3 * 8192);
    time_us = json_object_get_double_member(o, "time_us");
    g_assert_cmpfloat(fabs(json_object_get_double_member(o, "gb_per_s") -
                           3 * 8192 / (time_us * 1000)), <=,
                      1e-3 * json_object_get_double_member(o, "gb_per_s"));
    for (guint i = 0; i < 2048; i++) {      /* the f32 sums, as the mock made them */
        g_assert_cmpfloat(window_f32(dev, 16384, i), ==,
                          window_f32(dev, 0, i) + window_f32(dev, 8192, i));
    }

    o = op_json(client, root, dev, &p2, "SAXPY",
                (const char *const[]){ "saxpy", "--size", "8k", "--alpha", "-0.75", NULL });
    g_assert_cmpfloat(json_object_get_double_member(o, "alpha"), ==, -0.75);
    g_assert_cmpint(json_object_get_int_member(o, "count"), ==, 2048);
    g_assert_cmpint(json_object_get_int_member(o, "bytes_moved"), ==, 3 * 8192);

    o = op_json(client, root, dev, &p3, "SUM_F32",
                (const char *const[]){ "sum", "--size", "4k", "--seed", "99", NULL });
    g_assert_cmpstr(json_object_get_string_member(o, "check_mode"), ==, "bound");
    g_assert_cmpint(json_object_get_int_member(o, "seed"), ==, 99);
    g_assert_cmpint(json_object_get_int_member(o, "bytes_moved"), ==, 4096);
    for (guint i = 0; i < 1024; i++) {
        sum += window_f32(dev, 0, i);
    }
    g_assert_cmpfloat(json_object_get_double_member(o, "sum"), ==, sum);   /* %.17g: exact */
    g_assert_cmpfloat(fabs(json_object_get_double_member(o, "reference") - sum), <=,
                      json_object_get_double_member(o, "bound"));
    g_assert_cmpfloat(json_object_get_double_member(o, "bound"), >, 0);

    o = op_json(client, root, dev, &p4, "SGEMM",
                (const char *const[]){ "sgemm", "--m", "8", "--n", "5", "--k", "3",
                                       "--alpha", "1.5", "--beta", "-0.5", NULL });
    g_assert_cmpint(json_object_get_int_member(o, "m"), ==, 8);
    g_assert_cmpint(json_object_get_int_member(o, "n"), ==, 5);
    g_assert_cmpint(json_object_get_int_member(o, "k"), ==, 3);
    g_assert_cmpfloat(json_object_get_double_member(o, "alpha"), ==, 1.5);
    g_assert_cmpfloat(json_object_get_double_member(o, "beta"), ==, -0.5);
    g_assert_cmpstr(json_object_get_string_member(o, "check_mode"), ==, "all");
    g_assert_cmpint(json_object_get_int_member(o, "checked"), ==, 40);
    g_assert_cmpint(json_object_get_int_member(o, "total"), ==, 40);
    g_assert_cmpint(json_object_get_int_member(o, "flops"), ==, 2 * 8 * 5 * 3);
    g_assert_cmpfloat(json_object_get_double_member(o, "gflop_per_s"), >, 0);
    g_assert_cmpfloat(json_object_get_double_member(o, "max_error_ratio"), <=, 1);
    fake_root_free(root);
}

/* The same seed gives the same data; another seed other data. */
static void test_op_seed(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_window(&dev, WINDOW_1M);
    g_autofree guint8 *first = NULL;
    g_autofree guint8 *deflt = NULL;
    Run *run;

    run = run_client(client, root, "vadd", "--size", "4k", "--seed", "7");
    g_assert_cmpint(run->status, ==, EXIT_OK);
    run_free(run);
    first = g_memdup2(fake_device_window(dev), 3 * 4096);
    memset(fake_device_window(dev), 0, 3 * 4096);
    run = run_client(client, root, "vadd", "--size", "4k", "--seed", "7");
    g_assert_cmpint(run->status, ==, EXIT_OK);
    run_free(run);
    g_assert_cmpmem(fake_device_window(dev), 3 * 4096, first, 3 * 4096);
    run = run_client(client, root, "vadd", "--size", "4k", "--seed", "8");
    g_assert_cmpint(run->status, ==, EXIT_OK);
    run_free(run);
    g_assert_cmpint(memcmp(fake_device_window(dev), first, 4096), !=, 0);
    g_assert_cmpint(memcmp((guint8 *)fake_device_window(dev) + 4096, first + 4096, 4096), !=, 0);
    /* the default seed is 1 */
    run = run_client(client, root, "vadd", "--size", "4k");
    g_assert_cmpint(run->status, ==, EXIT_OK);
    run_free(run);
    deflt = g_memdup2(fake_device_window(dev), 4096);
    run = run_client(client, root, "vadd", "--size", "4k", "--seed", "1");
    g_assert_cmpint(run->status, ==, EXIT_OK);
    run_free(run);
    g_assert_cmpmem(fake_device_window(dev), 4096, deflt, 4096);
    fake_root_free(root);
}

typedef struct {
    FakeCorrupt corrupt;
    guint64 index;
    const char *args[10];
    int status;                 /* EXIT_WRONG_RESULT, or EXIT_OK: within the check's bound */
    const char *message;        /* on stderr when wrong */
} Corruption;

/* A result the mock spoils is caught, naming the first bad index and the values. */
static void test_op_wrong_result(gconstpointer data)
{
    const Client *client = data;
    const Corruption cases[] = {
        { FAKE_CORRUPT_ULP, 1000, { "vadd", "--size", "16k" }, EXIT_WRONG_RESULT,
          "ADD_U32 result is wrong at element 1000 of 4096: got " },
        { FAKE_CORRUPT_LARGE, 4095, { "vadd", "--size", "16k" }, EXIT_WRONG_RESULT,
          "ADD_U32 result is wrong at element 4095 of 4096: got " },
        { FAKE_CORRUPT_ULP, 0, { "vadd", "--type", "f32", "--size", "16k" }, EXIT_WRONG_RESULT,
          "ADD_F32 result is wrong at element 0 of 4096: got " },
        { FAKE_CORRUPT_ULP, 77, { "saxpy", "--size", "16k" }, EXIT_WRONG_RESULT,
          "SAXPY result is wrong at element 77 of 4096: got " },
        { FAKE_CORRUPT_LARGE, 0, { "sum", "--size", "16k" }, EXIT_WRONG_RESULT,
          "SUM_F32 result is wrong: got " },
        { FAKE_CORRUPT_ULP, 0, { "sum", "--size", "16k" }, EXIT_OK, NULL },
        { FAKE_CORRUPT_LARGE, 100, { "sgemm", "--m", "16", "--n", "16", "--k", "32" },
          EXIT_WRONG_RESULT, "SGEMM result is wrong at C[6][4] (entry 100): got " },
        { FAKE_CORRUPT_ULP, 100, { "sgemm", "--m", "16", "--n", "16", "--k", "32" },
          EXIT_OK, NULL },
        /* past 2^24 multiply-adds a sample is checked: the last entry is always in it */
        { FAKE_CORRUPT_LARGE, 128 * 128 - 1,
          { "sgemm", "--m", "128", "--n", "128", "--k", "1025", "--beta", "2" },
          EXIT_WRONG_RESULT, "SGEMM result is wrong at C[127][127] (entry 16383): got " },
    };
    FakeDevice *dev;
    FakeRoot *root = root_with_window(&dev, 2 * WINDOW_1M);

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *const *a = cases[i].args;
        g_autoptr(Run) run = NULL;
        g_autoptr(Run) json = NULL;
        g_autoptr(JsonParser) parser = NULL;
        JsonObject *e;

        fake_device_set_corruption(dev, cases[i].corrupt, cases[i].index);
        run = run_as(client, root, NULL, AS_ROOT, a[0], a[1], a[2], a[3], a[4], a[5], a[6],
                     a[7], a[8], NULL);
        if (run->status != cases[i].status ||
            (cases[i].message && !strstr(run->err, cases[i].message))) {
            g_error("case %zu (%s): exit %d, stderr: %s", i, a[0], run->status, run->err);
        }
        if (cases[i].status == EXIT_OK) {
            g_assert_nonnull(strstr(run->out, "check:    ok"));
            continue;
        }
        g_assert_cmpstr(run->out, ==, "");
        g_assert_nonnull(strstr(run->err, "expected"));
        json = run_as(client, root, NULL, AS_ROOT, "--json", a[0], a[1], a[2], a[3], a[4],
                      a[5], a[6], a[7], a[8], NULL);
        g_assert_cmpint(json->status, ==, EXIT_WRONG_RESULT);
        e = json_object_get_object_member(parse_json(json->out, &parser), "error");
        g_assert_cmpstr(json_object_get_string_member(e, "result"), ==, "WRONG_RESULT");
        g_assert_nonnull(strstr(json_object_get_string_member(e, "message"), cases[i].message));
        g_assert_cmpint(json_object_get_int_member(e, "index"), ==, cases[i].index);
    }
    fake_device_set_corruption(dev, FAKE_CORRUPT_NONE, 0);
    {
        g_autoptr(Run) json = run_client(client, root, "--json", "sgemm", "--m", "128", "--n",
                                         "128", "--k", "1025", "--beta", "2");
        g_autoptr(JsonParser) parser = NULL;
        JsonObject *o;

        g_assert_cmpint(json->status, ==, EXIT_OK);
        o = parse_json(json->out, &parser);
        g_assert_cmpstr(json_object_get_string_member(o, "check_mode"), ==, "sample");
        g_assert_cmpint(json_object_get_int_member(o, "checked"), ==, 1024);
        g_assert_cmpint(json_object_get_int_member(o, "total"), ==, 128 * 128);
    }
    fake_root_free(root);
}

/* Arrays that do not fit: a usage error, nothing sent; --unchecked sends it and the host refuses. */
static void test_op_does_not_fit(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_window(&dev, 64u << 10);
    g_autoptr(Run) big = run_client(client, root, "--json", "vadd", "--size", "32k");
    g_autoptr(Run) sgemm = run_client(client, root, "sgemm", "--m", "128", "--n", "64", "--k", "64");
    g_autoptr(Run) unchecked = NULL;
    g_autoptr(Run) json = NULL;
    g_autoptr(Run) fits = NULL;
    g_autoptr(JsonParser) parser = NULL;
    FakeStats stats;
    JsonObject *e;

    g_assert_cmpint(big->status, ==, EXIT_USAGE);
    g_assert_cmpstr(big->out, ==, "");
    g_assert_nonnull(strstr(big->err, "vadd does not fit the data window of 0000:00:1e.0: its "
                                      "arrays (a at 0, b at 32768, out at 65536) need 98304 "
                                      "bytes, the window has 65536"));
    g_assert_cmpint(sgemm->status, ==, EXIT_USAGE);
    g_assert_nonnull(strstr(sgemm->err, "(A at 0, B at 32768, C at 49152) need 81920"));
    fake_device_stats(dev, &stats);
    g_assert_cmpuint(stats.doorbells, ==, 0);

    unchecked = run_client(client, root, "--unchecked", "vadd", "--size", "32k");
    g_assert_cmpint(unchecked->status, ==, EXIT_DEVICE_ERROR);
    g_assert_nonnull(strstr(unchecked->err, "BAD_RANGE (16)"));
    json = run_client(client, root, "sum", "--json", "--unchecked", "--size", "128k");
    g_assert_cmpint(json->status, ==, EXIT_DEVICE_ERROR);
    e = json_object_get_object_member(parse_json(json->out, &parser), "error");
    g_assert_cmpstr(json_object_get_string_member(e, "device_error"), ==, "BAD_RANGE");
    fake_device_stats(dev, &stats);
    g_assert_cmpuint(stats.doorbells, ==, 2);     /* both reached the device... */
    g_assert_cmpuint(stats.window_ops, ==, 0);    /* ...and neither ran */

    /* what fits runs as usual, --unchecked or not */
    fits = run_client(client, root, "--unchecked", "vadd", "--size", "16k");
    g_assert_cmpint(fits->status, ==, EXIT_OK);
    fake_device_stats(dev, &stats);
    g_assert_cmpuint(stats.window_ops, ==, 1);
    fake_root_free(root);
}

/* A host that runs what it should have refused is reported, not taken for a success. */
static void test_op_not_refused(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_window(&dev, 64u << 10);
    g_autoptr(Run) run = NULL;

    fake_device_set_mode(dev, FAKE_CARELESS, 0, 0);
    run = run_client(client, root, "--unchecked", "vadd", "--size", "32k");
    g_assert_cmpint(run->status, ==, EXIT_FAILURE_5);
    g_assert_nonnull(strstr(run->err, "the device ran ADD_U32 request"));
    g_assert_nonnull(strstr(run->err, "the host did not check it"));
    fake_root_free(root);
}

static void test_op_no_window(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_device(&dev);
    g_autoptr(Run) text = run_client(client, root, "sgemm");
    g_autoptr(Run) json = run_client(client, root, "--json", "vadd");
    g_autoptr(JsonParser) parser = NULL;
    FakeStats stats;

    g_assert_cmpint(text->status, ==, EXIT_NO_DEVICE);
    g_assert_nonnull(strstr(text->err, "0000:00:1e.0 has no data window"));
    g_assert_cmpint(json->status, ==, EXIT_NO_DEVICE);
    g_assert_cmpstr(json_object_get_string_member(
                        json_object_get_object_member(parse_json(json->out, &parser), "error"),
                        "result"), ==, "NO_WINDOW");
    fake_device_stats(dev, &stats);
    g_assert_cmpuint(stats.doorbells, ==, 0);
    fake_root_free(root);
}

static void test_op_device_error(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_window(&dev, WINDOW_1M);
    g_autoptr(Run) run = NULL;

    fake_device_set_mode(dev, FAKE_FAIL, VGPU_ERR_NO_WINDOW, 100);
    run = run_client(client, root, "saxpy", "--size", "4k");
    g_assert_cmpint(run->status, ==, EXIT_DEVICE_ERROR);
    g_assert_cmpstr(run->out, ==, "");
    g_assert_nonnull(strstr(run->err, "NO_WINDOW (15)"));
    fake_root_free(root);
}

/* The window is resource2: group access to it as well as to resource0. */
static void test_op_permissions(gconstpointer data)
{
    const Client *client = data;
    FakeDevice *dev;
    FakeRoot *root = root_with_window(&dev, WINDOW_1M);
    char *resource0 = fake_device_file(dev, "resource0");
    char *resource2 = fake_device_file(dev, "resource2");
    g_autoptr(Run) denied = NULL;
    g_autoptr(Run) member = NULL;

    g_assert_cmpint(chown(resource0, 0, TEST_GROUP_ID), ==, 0);
    g_assert_cmpint(chmod(resource0, 0660), ==, 0);
    denied = run_as(client, root, NULL, AS_NOBODY_IN_GROUP, "vadd", "--size", "4k", NULL);
    g_assert_cmpint(denied->status, ==, EXIT_NO_DEVICE);
    g_assert_nonnull(strstr(denied->err, "resource2: Permission denied"));
    g_assert_cmpint(chown(resource2, 0, TEST_GROUP_ID), ==, 0);
    g_assert_cmpint(chmod(resource2, 0660), ==, 0);
    member = run_as(client, root, NULL, AS_NOBODY_IN_GROUP, "vadd", "--size", "4k", NULL);
    g_assert_cmpint(member->status, ==, EXIT_OK);
    g_free(resource0);
    g_free(resource2);
    fake_root_free(root);
}

/*
 * Programs that share the window at once: the window lock keeps each one's
 * data in place from filling to checking, so every check passes.
 */
static void test_op_concurrent(gconstpointer data)
{
    const Client *client = data;
    enum { PROCESSES = 3 };
    const char *seeds[PROCESSES] = { "11", "12", "13" };
    FakeDevice *dev;
    FakeRoot *root = root_with_window(&dev, WINDOW_1M);
    char **env = client_env(client, root, NULL);
    GPid pids[PROCESSES];
    FakeStats stats;

    fake_device_set_mode(dev, FAKE_ANSWER, 0, 20000);     /* 20 ms: plenty of time to collide */
    for (int i = 0; i < PROCESSES; i++) {
        const char *argv[] = { client->binary, "vadd", "--size", "64k", "--seed", seeds[i], NULL };
        GError *error = NULL;

        g_spawn_async(NULL, (char **)argv, env,
                      G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                      &pids[i], &error);
        g_assert_no_error(error);
    }
    for (int i = 0; i < PROCESSES; i++) {
        int status;

        g_assert_cmpint(waitpid(pids[i], &status, 0), ==, pids[i]);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, EXIT_OK);
    }
    fake_device_stats(dev, &stats);
    g_assert_cmpuint(stats.window_ops, ==, PROCESSES);
    g_assert_cmpuint(stats.overlaps, ==, 0);
    g_strfreev(env);
    fake_root_free(root);
}

static Client static_client = { "vgpu-client-static", NULL, FALSE };
static Client dynamic_client = { "vgpu-client", NULL, TRUE };

static void add_tests(const char *kind, Client *client)
{
    static const struct {
        const char *name;
        GTestDataFunc fn;
    } tests[] = {
        { "help-and-version", test_help_version },
        { "info/text", test_info_text },
        { "info/json", test_info_json },
        { "info/no-identity", test_info_no_identity },
        { "add/text-and-json", test_add },
        { "exit/1-device-error-named", test_device_error },
        { "bench/percentiles-ordered", test_bench },
        { "exit/2-usage", test_usage_errors },
        { "exit/3-no-device", test_no_device },
        { "exit/3-irq-without-uio", test_no_irq },
        { "exit/4-timeout", test_timeout },
        { "exit/5-output-not-written", test_output_failure },
        { "wait/irq-through-uio", test_irq },
        { "device-choice", test_device_choice },
        { "permissions/group-member-only", test_permissions },
        { "concurrent-processes-never-overlap", test_concurrent_processes },
        { "info/window", test_info_window },
        { "ops/vadd-text-and-layout", test_op_vadd_text },
        { "ops/json-each-operation", test_op_json },
        { "ops/seeded-data", test_op_seed },
        { "ops/exit/6-wrong-result-caught", test_op_wrong_result },
        { "ops/exit/2-does-not-fit-1-unchecked-refused", test_op_does_not_fit },
        { "ops/exit/5-unchecked-not-refused", test_op_not_refused },
        { "ops/exit/3-no-window", test_op_no_window },
        { "ops/exit/1-device-error", test_op_device_error },
        { "ops/permissions/resource2-too", test_op_permissions },
        { "ops/concurrent-processes-keep-their-data", test_op_concurrent },
    };

    client->binary = g_build_filename(bin_dir, client->name, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(tests); i++) {
        char *path = g_strdup_printf("/vgpu-client/%s/%s", kind, tests[i].name);

        g_test_add_data_func(path, client, tests[i].fn);
        g_free(path);
    }
}

int main(int argc, char **argv)
{
    int status;

    g_test_init(&argc, &argv, NULL);
    if (geteuid() != 0) {
        g_printerr("vgpu-client-test: the permission tests need root, to drop it\n");
    }
    make_bin_dir();
    add_tests("static", &static_client);
    add_tests("dynamic", &dynamic_client);
    status = g_test_run();
    remove_bin_dir();
    g_free(static_client.binary);
    g_free(dynamic_client.binary);
    return status;
}
