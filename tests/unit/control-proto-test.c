/*
 * Control requests: each command with its arguments parses; what the one
 * encoder writes parses back to the same request; malformed, truncated,
 * oversized, unknown and ill-typed requests are refused with their stable
 * error name and a clear message.
 */
#include <glib.h>
#include <string.h>

#include "control-proto.h"
#include "vgpu/identity.h"
#include "vgpu/regs.h"

#define UUID "6f1c2a3b-0000-4d5e-8f90-0123456789ab"

static gboolean parse(const char *line, struct control_request *req, GError **error)
{
    return control_request_parse(line, strlen(line), req, error);
}

static void test_register(void)
{
    struct control_request req;
    g_autoptr(GError) error = NULL;

    g_assert_true(parse("{\"command\":\"register\",\"uuid\":\"" UUID "\",\"name\":\"web\","
                        "\"pool\":\"B\",\"priority\":\"medium\",\"vm_id\":7,\"pid\":4242}",
                        &req, &error));
    g_assert_no_error(error);
    g_assert_cmpint(req.command, ==, CONTROL_CMD_REGISTER);
    g_assert_cmpuint(req.uuid[0], ==, 0x6f);
    g_assert_cmpstr(req.name, ==, "web");
    g_assert_cmpuint(req.pool_id, ==, 'B');
    g_assert_cmpuint(req.priority, ==, VGPU_PRIORITY_MEDIUM);
    g_assert_cmpuint(req.vm_id, ==, 7);
    g_assert_cmpint(req.pid, ==, 4242);
    g_assert_cmpuint(req.gpu_memory_quota, ==, 0);     /* absent: no quota */
    control_request_clear(&req);

    g_assert_true(parse("{\"command\":\"register\",\"uuid\":\"" UUID "\",\"name\":\"web\","
                        "\"pool\":\"B\",\"priority\":\"medium\",\"vm_id\":7,"
                        "\"gpu_memory_quota\":1099511627776}", &req, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(req.gpu_memory_quota, ==, VGPU_GPU_MEMORY_MAX);
    control_request_clear(&req);
}

static void test_simple_commands(void)
{
    static const struct {
        const char *line;
        enum control_command command;
    } ok[] = {
        { "{\"command\":\"ping\"}", CONTROL_CMD_PING },
        { " { \"command\" : \"list\" } ", CONTROL_CMD_LIST },
        { "{\"command\":\"stats\"}", CONTROL_CMD_STATS },
        { "{\"command\":\"metrics\"}", CONTROL_CMD_METRICS },
        { "{\"command\":\"pause\"}", CONTROL_CMD_PAUSE },
        { "{\"command\":\"resume\"}", CONTROL_CMD_RESUME },
        { "{\"command\":\"unregister\",\"uuid\":\"" UUID "\"}", CONTROL_CMD_UNREGISTER },
        { "{\"command\":\"set-pid\",\"uuid\":\"" UUID "\",\"pid\":1}", CONTROL_CMD_SET_PID },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        struct control_request req;
        g_autoptr(GError) error = NULL;

        g_assert_true(parse(ok[i].line, &req, &error));
        g_assert_cmpint(req.command, ==, ok[i].command);
        g_assert_cmpstr(control_command_name(req.command), !=, NULL);
        control_request_clear(&req);
    }
}

static const struct {
    const char *line;
    int code;
    const char *message;        /* a part of the message */
} bad[] = {
    { "", CONTROL_ERROR_MALFORMED, "not a JSON object" },
    { "{\"command\":\"ping\"", CONTROL_ERROR_MALFORMED, "not valid JSON" },        /* truncated */
    { "{\"command\":\"regis", CONTROL_ERROR_MALFORMED, "not valid JSON" },         /* truncated */
    { "not json", CONTROL_ERROR_MALFORMED, "not valid JSON" },
    { "[\"ping\"]", CONTROL_ERROR_MALFORMED, "not a JSON object" },
    { "42", CONTROL_ERROR_MALFORMED, "not a JSON object" },
    { "{}", CONTROL_ERROR_MISSING_ARGUMENT, "no \"command\"" },
    { "{\"command\":7}", CONTROL_ERROR_BAD_ARGUMENT, "command must be a string" },
    { "{\"command\":\"reboot\"}", CONTROL_ERROR_UNKNOWN_COMMAND, "unknown command \"reboot\"" },
    { "{\"command\":\"ping\",\"force\":true}", CONTROL_ERROR_BAD_ARGUMENT, "unknown member \"force\"" },
    { "{\"command\":\"ping\",\"uuid\":\"" UUID "\"}", CONTROL_ERROR_BAD_ARGUMENT, "ping takes no uuid" },
    { "{\"command\":\"unregister\"}", CONTROL_ERROR_MISSING_ARGUMENT, "unregister needs uuid" },
    { "{\"command\":\"unregister\",\"uuid\":\"6f1c\"}", CONTROL_ERROR_BAD_ARGUMENT, "is not a UUID" },
    { "{\"command\":\"unregister\",\"uuid\":5}", CONTROL_ERROR_BAD_ARGUMENT, "uuid must be a string" },
    { "{\"command\":\"set-pid\",\"uuid\":\"" UUID "\"}", CONTROL_ERROR_MISSING_ARGUMENT, "set-pid needs pid" },
    { "{\"command\":\"set-pid\",\"uuid\":\"" UUID "\",\"pid\":0}", CONTROL_ERROR_BAD_ARGUMENT, "pid must be" },
    { "{\"command\":\"set-pid\",\"uuid\":\"" UUID "\",\"pid\":\"12\"}", CONTROL_ERROR_BAD_ARGUMENT, "pid must be" },
    { "{\"command\":\"set-pid\",\"uuid\":\"" UUID "\",\"pid\":1.5}", CONTROL_ERROR_BAD_ARGUMENT, "pid must be" },
    { "{\"command\":\"register\",\"uuid\":\"" UUID "\",\"name\":\"w\",\"pool\":\"A\","
      "\"priority\":\"high\"}", CONTROL_ERROR_MISSING_ARGUMENT, "register needs vm_id" },
    { "{\"command\":\"register\",\"uuid\":\"" UUID "\",\"name\":\"w\",\"pool\":\"a\","
      "\"priority\":\"high\",\"vm_id\":1}", CONTROL_ERROR_BAD_ARGUMENT, "pool \"a\" is not a pool name" },
    { "{\"command\":\"register\",\"uuid\":\"" UUID "\",\"name\":\"w\",\"pool\":\"A\","
      "\"priority\":\"urgent\",\"vm_id\":1}", CONTROL_ERROR_BAD_ARGUMENT, "not low, medium or high" },
    { "{\"command\":\"register\",\"uuid\":\"" UUID "\",\"name\":\"w\",\"pool\":\"A\","
      "\"priority\":\"high\",\"vm_id\":0}", CONTROL_ERROR_BAD_ARGUMENT, "vm_id must be a whole number in 1..2147483647" },
    { "{\"command\":\"register\",\"uuid\":\"" UUID "\",\"name\":\"w\",\"pool\":\"A\","
      "\"priority\":\"high\",\"vm_id\":2147483648}", CONTROL_ERROR_BAD_ARGUMENT, "vm_id must be" },
    { "{\"command\":\"register\",\"uuid\":\"" UUID "\",\"name\":\"\",\"pool\":\"A\","
      "\"priority\":\"high\",\"vm_id\":1}", CONTROL_ERROR_BAD_ARGUMENT, "name must be" },
    { "{\"command\":\"register\",\"uuid\":\"" UUID "\",\"name\":\"web\\nvgpu-mediatord: forged\","
      "\"pool\":\"A\",\"priority\":\"high\",\"vm_id\":1}", CONTROL_ERROR_BAD_ARGUMENT,
      "without control characters" },
    { "{\"command\":\"register\",\"uuid\":\"" UUID "\",\"name\":\"a\\u0000b\",\"pool\":\"A\","
      "\"priority\":\"high\",\"vm_id\":1}", CONTROL_ERROR_MALFORMED, "escaped NUL" },
#define REGISTER_WITH(member) "{\"command\":\"register\",\"uuid\":\"" UUID "\",\"name\":\"w\"," \
    "\"pool\":\"A\",\"priority\":\"high\",\"vm_id\":1," member "}"
#define QUOTA_RANGE "gpu_memory_quota must be a whole number in 1..1099511627776"
    { REGISTER_WITH("\"gpu_memory_quota\":0"), CONTROL_ERROR_BAD_ARGUMENT, QUOTA_RANGE },
    { REGISTER_WITH("\"gpu_memory_quota\":-1"), CONTROL_ERROR_BAD_ARGUMENT, QUOTA_RANGE },
    { REGISTER_WITH("\"gpu_memory_quota\":1099511627777"), CONTROL_ERROR_BAD_ARGUMENT, QUOTA_RANGE },
    { REGISTER_WITH("\"gpu_memory_quota\":99999999999999999999"), CONTROL_ERROR_BAD_ARGUMENT,
      QUOTA_RANGE },
    { REGISTER_WITH("\"gpu_memory_quota\":\"8GiB\""), CONTROL_ERROR_BAD_ARGUMENT, QUOTA_RANGE },
    { REGISTER_WITH("\"gpu_memory_quota\":1.5"), CONTROL_ERROR_BAD_ARGUMENT, QUOTA_RANGE },
    { "{\"command\":\"set-pid\",\"uuid\":\"" UUID "\",\"pid\":1,\"gpu_memory_quota\":8}",
      CONTROL_ERROR_BAD_ARGUMENT, "set-pid takes no gpu_memory_quota" },
#undef QUOTA_RANGE
#undef REGISTER_WITH
};

static void test_bad(gconstpointer data)
{
    size_t i = GPOINTER_TO_SIZE(data);
    struct control_request req;
    g_autoptr(GError) error = NULL;

    g_assert_false(parse(bad[i].line, &req, &error));
    g_assert_error(error, CONTROL_ERROR, bad[i].code);
    if (!strstr(error->message, bad[i].message)) {
        g_error("message \"%s\" lacks \"%s\"", error->message, bad[i].message);
    }
    g_assert_null(req.name);
}

static void test_oversized(void)
{
    size_t len = CONTROL_LINE_MAX + 1;
    g_autofree char *line = g_malloc(len);
    struct control_request req;
    g_autoptr(GError) error = NULL;

    memset(line, ' ', len);
    memcpy(line, "{\"command\":\"ping\"}", 18);
    g_assert_false(control_request_parse(line, len, &req, &error));
    g_assert_error(error, CONTROL_ERROR, CONTROL_ERROR_TOO_LONG);
    g_assert_cmpstr(control_error_name(error->code), ==, "request-too-long");
    /* Exactly at the limit is fine. */
    g_clear_error(&error);
    g_assert_true(control_request_parse(line, len - 1, &req, &error));
}

static void test_embedded_nul(void)
{
    static const char line[] = "{\"command\":\"ping\"}\0junk";
    struct control_request req;
    g_autoptr(GError) error = NULL;

    g_assert_false(control_request_parse(line, sizeof(line) - 1, &req, &error));
    g_assert_error(error, CONTROL_ERROR, CONTROL_ERROR_MALFORMED);
}

static void test_error_reply(void)
{
    g_autofree char *reply = control_reply_error("vm-id-taken", "vm-id 7 is \"taken\"");

    g_assert_cmpstr(reply, ==,
                    "{\"ok\":false,\"error\":\"vm-id-taken\",\"message\":\"vm-id 7 is \\\"taken\\\"\"}");
    g_assert_cmpstr(control_error_name(CONTROL_ERROR_UNKNOWN_POOL), ==, "unknown-pool");
}

/* Every command, encoded and parsed back, is the same request. */
static void test_encode_round_trip(void)
{
    struct control_request in[] = {
        { .command = CONTROL_CMD_REGISTER, .name = "web \"1\" \u00e9", .pool_id = 'Z',
          .priority = VGPU_PRIORITY_HIGH, .vm_id = VGPU_VM_ID_MAX, .pid = 4242 },
        { .command = CONTROL_CMD_REGISTER, .name = "no-pid", .pool_id = 'A',
          .priority = VGPU_PRIORITY_LOW, .vm_id = 1 },
        { .command = CONTROL_CMD_REGISTER, .name = "quota", .pool_id = 'B',
          .priority = VGPU_PRIORITY_MEDIUM, .vm_id = 2, .gpu_memory_quota = 8ull << 30 },
        { .command = CONTROL_CMD_REGISTER, .name = "largest-quota", .pool_id = 'B',
          .priority = VGPU_PRIORITY_MEDIUM, .vm_id = 3, .gpu_memory_quota = VGPU_GPU_MEMORY_MAX },
        { .command = CONTROL_CMD_SET_PID, .pid = 7 },
        { .command = CONTROL_CMD_UNREGISTER },
        { .command = CONTROL_CMD_PING }, { .command = CONTROL_CMD_LIST },
        { .command = CONTROL_CMD_STATS }, { .command = CONTROL_CMD_METRICS },
        { .command = CONTROL_CMD_PAUSE }, { .command = CONTROL_CMD_RESUME },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(in); i++) {
        g_autofree char *line = NULL;
        g_autoptr(GError) error = NULL;
        struct control_request out;

        memset(in[i].uuid, (int)(0x10 + i), sizeof(in[i].uuid));
        line = control_request_encode(&in[i]);
        g_assert_null(strchr(line, '\n'));
        g_assert_true(parse(line, &out, &error));
        g_assert_no_error(error);
        g_assert_cmpint(out.command, ==, in[i].command);
        if (in[i].command == CONTROL_CMD_REGISTER || in[i].command == CONTROL_CMD_SET_PID ||
            in[i].command == CONTROL_CMD_UNREGISTER) {
            g_assert_cmpmem(out.uuid, 16, in[i].uuid, 16);
        }
        g_assert_cmpstr(out.name, ==, in[i].name);
        g_assert_cmpuint(out.pool_id, ==, in[i].pool_id);
        g_assert_cmpuint(out.priority, ==, in[i].priority);
        g_assert_cmpuint(out.vm_id, ==, in[i].vm_id);
        g_assert_cmpint(out.pid, ==, in[i].pid);
        g_assert_cmpuint(out.gpu_memory_quota, ==, in[i].gpu_memory_quota);
        control_request_clear(&out);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/control-proto/register", test_register);
    g_test_add_func("/control-proto/simple-commands", test_simple_commands);
    g_test_add_func("/control-proto/encode-parses-back", test_encode_round_trip);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *name = g_strdup_printf("/control-proto/bad/%zu", i);

        g_test_add_data_func(name, GSIZE_TO_POINTER(i), test_bad);
    }
    g_test_add_func("/control-proto/oversized", test_oversized);
    g_test_add_func("/control-proto/embedded-nul", test_embedded_nul);
    g_test_add_func("/control-proto/error-reply", test_error_reply);
    return g_test_run();
}
