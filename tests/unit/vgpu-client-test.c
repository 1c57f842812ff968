/*
 * The real vgpu-client binaries (static, and dynamic against libvgpu.so)
 * against a fake sysfs and a mock device (fake-vgpu.h): output formats,
 * --json that parses, exit codes, device choice, permissions, and several
 * processes sharing one device without ever ringing it while busy.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <grp.h>
#include <json-glib/json-glib.h>
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

enum { EXIT_OK, EXIT_DEVICE_ERROR, EXIT_USAGE, EXIT_NO_DEVICE, EXIT_TIMEOUT, EXIT_FAILURE_5 };

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
                                                          "Exit status", NULL }; *word; word++) {
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
    const char *const cases[][5] = {
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
    };
    FakeStats stats;

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(Run) run = run_as(client, root, NULL, AS_ROOT, cases[i][0], cases[i][1],
                                    cases[i][2], cases[i][3], NULL);

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
