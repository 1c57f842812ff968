/*
 * Control requests: see control-proto.h.
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "control-proto.h"
#include "vgpu/identity.h"
#include "vgpu/regs.h"

G_DEFINE_QUARK(vgpu-control-error-quark, control_error)

#define CONTROL_PID_MAX     4194304     /* the kernel's PID_MAX_LIMIT */

#define CONTROL_COMMAND_NAME(id, name) name,
static const char *const command_names[] = { CONTROL_COMMAND_TABLE(CONTROL_COMMAND_NAME) };
#undef CONTROL_COMMAND_NAME

#define CONTROL_ERROR_NAME(id, name) name,
static const char *const error_names[] = { CONTROL_ERROR_TABLE(CONTROL_ERROR_NAME) };
#undef CONTROL_ERROR_NAME

static gboolean has_control_character(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return TRUE;
        }
    }
    return FALSE;
}

const char *control_error_name(int code)
{
    return code >= 0 && code < CONTROL_ERROR_CODE_COUNT ? error_names[code] : "internal";
}

const char *control_command_name(enum control_command command)
{
    return command_names[command];
}

/* Which members each command takes and requires. */
enum {
    ARG_UUID = 1 << 0,
    ARG_NAME = 1 << 1,
    ARG_POOL = 1 << 2,
    ARG_PRIORITY = 1 << 3,
    ARG_VM_ID = 1 << 4,
    ARG_PID = 1 << 5,
    ARG_GPU_MEMORY = 1 << 6,
};

static const struct {
    unsigned required;
    unsigned optional;
} command_args[CONTROL_CMD_COUNT] = {
    [CONTROL_CMD_REGISTER] = { ARG_UUID | ARG_NAME | ARG_POOL | ARG_PRIORITY | ARG_VM_ID,
                               ARG_PID | ARG_GPU_MEMORY },
    [CONTROL_CMD_SET_PID] = { ARG_UUID | ARG_PID, 0 },
    [CONTROL_CMD_UNREGISTER] = { ARG_UUID, 0 },
};

static const struct {
    const char *member;
    unsigned bit;
} arg_members[] = {
    { "uuid", ARG_UUID }, { "name", ARG_NAME }, { "pool", ARG_POOL },
    { "priority", ARG_PRIORITY }, { "vm_id", ARG_VM_ID }, { "pid", ARG_PID },
    { "gpu_memory_quota", ARG_GPU_MEMORY },
};

static gboolean fail(GError **error, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/*
 * The message with each control character written as \n, \t, \r or \xNN:
 * it quotes what the client sent (json-glib's own messages quote it too,
 * a string's \n decoded), and it must stay one line in the daemon's log
 * and in vgpuctl's output.  UTF-8 passes unchanged.
 */
static char *one_line(const char *text)
{
    GString *out = g_string_sized_new(strlen(text));

    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\n') {
            g_string_append(out, "\\n");
        } else if (*p == '\t') {
            g_string_append(out, "\\t");
        } else if (*p == '\r') {
            g_string_append(out, "\\r");
        } else if (*p < 0x20 || *p == 0x7f) {
            g_string_append_printf(out, "\\x%02x", *p);
        } else {
            g_string_append_c(out, (char)*p);
        }
    }
    return g_string_free(out, FALSE);
}

static gboolean fail(GError **error, int code, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *message = NULL;
    g_autofree char *line = NULL;

    va_start(ap, fmt);
    message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    line = one_line(message);
    g_set_error_literal(error, CONTROL_ERROR, code, line);
    return FALSE;
}

/* The string member, or NULL after setting error. */
static const char *string_member(JsonObject *obj, const char *member, GError **error)
{
    JsonNode *node = json_object_get_member(obj, member);

    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
        fail(error, CONTROL_ERROR_BAD_ARGUMENT, "%s must be a string", member);
        return NULL;
    }
    return json_node_get_string(node);
}

/* An integer member in min..max. */
static gboolean int_member(JsonObject *obj, const char *member, gint64 min, gint64 max,
                           gint64 *out, GError **error)
{
    JsonNode *node = json_object_get_member(obj, member);

    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64 ||
        json_node_get_int(node) < min || json_node_get_int(node) > max) {
        return fail(error, CONTROL_ERROR_BAD_ARGUMENT, "%s must be a whole number in %"
                    G_GINT64_FORMAT "..%" G_GINT64_FORMAT, member, min, max);
    }
    *out = json_node_get_int(node);
    return TRUE;
}

static gboolean parse_args(JsonObject *obj, struct control_request *req, GError **error)
{
    unsigned required = command_args[req->command].required;
    unsigned allowed = required | command_args[req->command].optional;
    const char *text;
    gint64 n;

    for (size_t i = 0; i < G_N_ELEMENTS(arg_members); i++) {
        bool present = json_object_has_member(obj, arg_members[i].member);

        if ((required & arg_members[i].bit) && !present) {
            return fail(error, CONTROL_ERROR_MISSING_ARGUMENT, "%s needs %s",
                        command_names[req->command], arg_members[i].member);
        }
        if (present && !(allowed & arg_members[i].bit)) {
            return fail(error, CONTROL_ERROR_BAD_ARGUMENT, "%s takes no %s",
                        command_names[req->command], arg_members[i].member);
        }
    }
    if (allowed & ARG_UUID) {
        if (!(text = string_member(obj, "uuid", error))) {
            return FALSE;
        }
        if (!vgpu_uuid_parse(text, req->uuid)) {
            return fail(error, CONTROL_ERROR_BAD_ARGUMENT,
                        "uuid \"%.64s\" is not a UUID like 6f1c2a3b-0000-4d5e-8f90-0123456789ab",
                        text);
        }
    }
    if (required & ARG_NAME) {
        if (!(text = string_member(obj, "name", error))) {
            return FALSE;
        }
        if (text[0] == '\0' || strlen(text) >= VGPU_DOMAIN_NAME_MAX ||
            !g_utf8_validate(text, -1, NULL) || has_control_character(text)) {
            /* a newline in a name would let it forge lines of the daemon's log */
            return fail(error, CONTROL_ERROR_BAD_ARGUMENT,
                        "name must be 1..%u bytes of UTF-8 without control characters",
                        VGPU_DOMAIN_NAME_MAX - 1);
        }
        req->name = g_strdup(text);
    }
    if (required & ARG_POOL) {
        if (!(text = string_member(obj, "pool", error))) {
            return FALSE;
        }
        if (!vgpu_pool_parse(text, &req->pool_id)) {
            return fail(error, CONTROL_ERROR_BAD_ARGUMENT,
                        "pool \"%.16s\" is not a pool name (one letter A..Z)", text);
        }
    }
    if (required & ARG_PRIORITY) {
        if (!(text = string_member(obj, "priority", error))) {
            return FALSE;
        }
        if (!vgpu_priority_parse(text, &req->priority)) {
            return fail(error, CONTROL_ERROR_BAD_ARGUMENT,
                        "priority \"%.16s\" is not low, medium or high", text);
        }
    }
    if (required & ARG_VM_ID) {
        if (!int_member(obj, "vm_id", 1, VGPU_VM_ID_MAX, &n, error)) {
            return FALSE;
        }
        req->vm_id = (uint32_t)n;
    }
    if ((allowed & ARG_PID) && json_object_has_member(obj, "pid")) {
        if (!int_member(obj, "pid", 1, CONTROL_PID_MAX, &n, error)) {
            return FALSE;
        }
        req->pid = (pid_t)n;
    }
    if ((allowed & ARG_GPU_MEMORY) && json_object_has_member(obj, "gpu_memory_quota")) {
        if (!int_member(obj, "gpu_memory_quota", 1, (gint64)VGPU_GPU_MEMORY_MAX, &n, error)) {
            return FALSE;
        }
        req->gpu_memory_quota = (uint64_t)n;
    }
    return TRUE;
}

/*
 * A \u escape as json-glib 1.6 reads it: up to 4 hex digits at line[i]
 * (*digits of them), each at its place ("\udb" is 0xdb00), stopping at
 * the first other character, which it swallows.
 */
static unsigned escape_unit(const char *line, size_t len, size_t i, size_t *digits)
{
    unsigned unit = 0;
    size_t n = 0;

    for (; n < 4 && i + n < len && g_ascii_isxdigit(line[i + n]); n++) {
        unit |= (unsigned)g_ascii_xdigit_value(line[i + n]) << (4 * (3 - n));
    }
    *digits = n;
    return unit;
}

/*
 * What json-glib 1.6 would leak memory on, refused before it parses: NULL,
 * or why.  It takes "{...}{...}" or "1{...}" as its first value and leaks
 * the container after it, and it leaks the string being read when a UTF-16
 * surrogate escape is followed by a \u escape that does not complete the
 * pair ("\ud800\u0041"): 24 bytes and more for every such line, for as
 * long as a client sends them.  The text is read as json-glib's scanner
 * reads it: blanks; comments from a '/' to the next '/' (its single-line
 * comment pair is "//"); strings in single quotes without escapes and in
 * double quotes with them, a \u escape swallowing what it swallows.  A
 * surrogate escape must be a complete pair here.  ("var x = {...}", which
 * json-glib also takes, is refused as more than one value.)
 */
static const char *json_leak_hazard(const char *line, size_t len)
{
    unsigned depth = 0;
    gboolean seen = FALSE;
    size_t bom = len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;    /* skipped too */

    for (size_t i = bom; i < len; i++) {
        char c = line[i];

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        }
        if (c == '/') {
            for (i++; i < len && line[i] != '/'; i++) {
            }
            continue;
        }
        if (c == '\'') {
            for (i++; i < len && line[i] != '\''; i++) {
            }
        } else if (c == '"') {
            for (i++; i < len && line[i] != '"'; i++) {
                size_t digits, low_digits;
                unsigned unit, low;

                if (line[i] != '\\' || ++i >= len || line[i] != 'u') {
                    continue;       /* a character, or the one escaped */
                }
                unit = escape_unit(line, len, i + 1, &digits);
                if (unit < 0xd800 || unit > 0xdfff) {
                    i += digits + (digits > 0 && digits < 4);
                    continue;
                }
                low = i + 6 < len && line[i + 5] == '\\' && line[i + 6] == 'u'
                      ? escape_unit(line, len, i + 7, &low_digits) : 0;
                if (digits < 4 || unit > 0xdbff || low < 0xdc00 || low > 0xdfff ||
                    low_digits < 4) {
                    return "request has a UTF-16 surrogate escape that is not a pair";
                }
                i += 10;            /* uXXXX\uXXXX */
            }
        } else if (c == '{' || c == '[') {
            if (depth == 0 && seen) {
                return "request is more than one JSON value";
            }
            depth++;
        } else if (c == '}' || c == ']') {
            depth -= depth > 0;
        }
        seen = TRUE;
    }
    return NULL;
}

gboolean control_request_parse(const char *line, size_t len, struct control_request *req,
                               GError **error)
{
    g_autoptr(JsonParser) parser = NULL;
    g_autoptr(GError) local = NULL;
    JsonNode *root;
    JsonObject *obj;
    const char *command, *hazard;
    int i;

    memset(req, 0, sizeof(*req));
    if (len > CONTROL_LINE_MAX) {
        return fail(error, CONTROL_ERROR_TOO_LONG, "request of %zu bytes is over the limit of %u",
                    len, CONTROL_LINE_MAX);
    }
    if (memchr(line, '\0', len)) {
        return fail(error, CONTROL_ERROR_MALFORMED, "request contains a NUL byte");
    }
    /* json-glib would cut the string there: "a\u0000b" would register as "a" */
    if (g_strstr_len(line, (gssize)len, "\\u0000")) {
        return fail(error, CONTROL_ERROR_MALFORMED, "request contains an escaped NUL (\\u0000)");
    }
    if ((hazard = json_leak_hazard(line, len))) {
        return fail(error, CONTROL_ERROR_MALFORMED, "%s", hazard);
    }
    parser = json_parser_new_immutable();
    if (!json_parser_load_from_data(parser, line, (gssize)len, &local)) {
        return fail(error, CONTROL_ERROR_MALFORMED, "request is not valid JSON: %s",
                    local->message);
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        return fail(error, CONTROL_ERROR_MALFORMED, "request is not a JSON object");
    }
    obj = json_node_get_object(root);
    if (!json_object_has_member(obj, "command")) {
        return fail(error, CONTROL_ERROR_MISSING_ARGUMENT, "request has no \"command\"");
    }
    if (!(command = string_member(obj, "command", error))) {
        return FALSE;
    }
    for (i = 0; i < CONTROL_CMD_COUNT; i++) {
        if (strcmp(command, command_names[i]) == 0) {
            break;
        }
    }
    if (i == CONTROL_CMD_COUNT) {
        g_autofree char *known = g_strjoinv(", ", (char **)command_names);

        return fail(error, CONTROL_ERROR_UNKNOWN_COMMAND, "unknown command \"%.32s\" (commands: %s)",
                    command, known);
    }
    req->command = (enum control_command)i;
    {
        GList *members = json_object_get_members(obj);

        for (GList *m = members; m; m = m->next) {
            bool known = strcmp(m->data, "command") == 0;

            for (size_t a = 0; a < G_N_ELEMENTS(arg_members) && !known; a++) {
                known = strcmp(m->data, arg_members[a].member) == 0;
            }
            if (!known) {
                fail(error, CONTROL_ERROR_BAD_ARGUMENT, "unknown member \"%.32s\"",
                     (const char *)m->data);
                g_list_free(members);
                return FALSE;
            }
        }
        g_list_free(members);
    }
    if (!parse_args(obj, req, error)) {
        control_request_clear(req);
        return FALSE;
    }
    return TRUE;
}

void control_request_clear(struct control_request *req)
{
    g_clear_pointer(&req->name, g_free);
}

char *control_reply_error(const char *name, const char *message)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "ok");
    json_builder_add_boolean_value(b, FALSE);
    json_builder_set_member_name(b, "error");
    json_builder_add_string_value(b, name);
    json_builder_set_member_name(b, "message");
    json_builder_add_string_value(b, message);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, NULL);
}

JsonObject *control_request_to_json(const struct control_request *req)
{
    unsigned allowed = command_args[req->command].required | command_args[req->command].optional;
    JsonObject *obj = json_object_new();

    json_object_set_string_member(obj, "command", command_names[req->command]);
    if (allowed & ARG_UUID) {
        char uuid[VGPU_UUID_STRING_LEN + 1];

        vgpu_uuid_format(req->uuid, uuid);
        json_object_set_string_member(obj, "uuid", uuid);
    }
    if (allowed & ARG_NAME) {
        char pool[2] = { (char)req->pool_id, '\0' };

        json_object_set_string_member(obj, "name", req->name);
        json_object_set_string_member(obj, "pool", pool);
        json_object_set_string_member(obj, "priority", vgpu_priority_name(req->priority));
        json_object_set_int_member(obj, "vm_id", req->vm_id);
    }
    if ((allowed & ARG_PID) && req->pid > 0) {
        json_object_set_int_member(obj, "pid", req->pid);
    }
    if ((allowed & ARG_GPU_MEMORY) && req->gpu_memory_quota > 0) {
        json_object_set_int_member(obj, "gpu_memory_quota", (gint64)req->gpu_memory_quota);
    }
    return obj;
}

char *control_request_encode(const struct control_request *req)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonObject) obj = control_request_to_json(req);
    g_autoptr(JsonNode) root = json_node_init_object(json_node_alloc(), obj);

    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, NULL);
}
