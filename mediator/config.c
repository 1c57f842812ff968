/*
 * mediator.conf: see config.h.
 *
 * GKeyFile parses the file; a first pass over the text finds the line of
 * every group and key (GKeyFile does not keep them) so that each error can
 * point at its line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <string.h>

#include "config.h"
#include "vgpu/identity.h"

#define GROUP_MEDIATOR  "mediator"
#define GROUP_POOL      "pool "         /* "pool A" */

G_DEFINE_QUARK(vgpu-config-error-quark, config_error)

/* Where each group and key sits in the text: "group" and "group\nkey" -> line. */
struct config_lines {
    GHashTable *lines;
};

struct config_parser {
    struct config *cfg;
    GKeyFile *file;
    struct config_lines where;
    const char *path;
};

static const char *const mediator_keys[] = {
    "runtime-dir", "log-level", "queue-limit", "vm-queue-limit", "aging-ms",
    "drain-timeout-ms", "spin-us", "plugin-dir", "socket-group",
    "device-connections-max", "device-connections-per-uid", "hello-timeout-ms",
    "message-timeout-ms", "device-output-max", "device-output-total-max",
    "control-clients-max", "control-timeout-ms", "control-output-max",
    "control-output-total-max", "registry-file-max", "window-max-mib", "metrics-listen",
    "metrics-clients-max", NULL,
};

static const char *const pool_keys[] = {
    "backend", "gpus", "fallback", "workers", "service-time-us", "in-flight", NULL,
};

static const struct {
    const char *name;
    GLogLevelFlags level;
} log_levels[] = {
    { "error", G_LOG_LEVEL_CRITICAL },
    { "warning", G_LOG_LEVEL_WARNING },
    { "info", G_LOG_LEVEL_INFO },
    { "debug", G_LOG_LEVEL_DEBUG },
};

bool config_log_level_parse(const char *name, GLogLevelFlags *level)
{
    for (size_t i = 0; i < G_N_ELEMENTS(log_levels); i++) {
        if (strcmp(name, log_levels[i].name) == 0) {
            *level = log_levels[i].level;
            return true;
        }
    }
    return false;
}

const char *config_log_level_name(GLogLevelFlags level)
{
    for (size_t i = 0; i < G_N_ELEMENTS(log_levels); i++) {
        if (log_levels[i].level == level) {
            return log_levels[i].name;
        }
    }
    return "info";
}

/*
 * Record the line of each group and key, and reject a line that is neither
 * blank, a comment, a [group] nor key=value, naming its number.
 */
static gboolean lines_scan(struct config_lines *where, const char *text, gsize len,
                           const char *path, GError **error)
{
    g_autofree char *copy = g_strndup(text, len);
    g_auto(GStrv) lines = g_strsplit(copy, "\n", -1);
    g_autofree char *group = NULL, *key = NULL;

    where->lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int n = 0; lines[n]; n++) {
        char *line = g_strstrip(lines[n]);
        char *eq;

        if (line[0] == '\0' || line[0] == '#') {
            continue;
        }
        if (line[0] == '[') {
            size_t l = strlen(line);

            if (line[l - 1] != ']' || l < 3) {
                g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_SYNTAX,
                            "%s:%d: \"%s\" is not a [group] header", path, n + 1, line);
                return FALSE;
            }
            g_free(group);
            group = g_strndup(line + 1, l - 2);
            if (g_hash_table_contains(where->lines, group)) {
                g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_SYNTAX,
                            "%s:%d: [%s] is already defined at line %d", path, n + 1, group,
                            GPOINTER_TO_INT(g_hash_table_lookup(where->lines, group)));
                return FALSE;
            }
            g_hash_table_replace(where->lines, g_strdup(group), GINT_TO_POINTER(n + 1));
            continue;
        }
        eq = strchr(line, '=');
        if (!eq || eq == line) {
            g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_SYNTAX,
                        "%s:%d: \"%s\" is not key=value, a [group] or a # comment",
                        path, n + 1, line);
            return FALSE;
        }
        if (!group) {
            g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_SYNTAX,
                        "%s:%d: key \"%s\" comes before any [group]", path, n + 1, line);
            return FALSE;
        }
        *eq = '\0';
        key = g_strdup_printf("%s\n%s", group, g_strstrip(line));
        if (strchr(line, '[')) {
            g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_SYNTAX,
                        "%s:%d: [%s] %s: localized keys (key[lang]=) are not settings",
                        path, n + 1, group, line);
            return FALSE;
        }
        if (g_hash_table_contains(where->lines, key)) {
            g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_SYNTAX,
                        "%s:%d: [%s] %s is already set at line %d", path, n + 1, group, line,
                        GPOINTER_TO_INT(g_hash_table_lookup(where->lines, key)));
            return FALSE;
        }
        g_hash_table_replace(where->lines, g_steal_pointer(&key), GINT_TO_POINTER(n + 1));
    }
    return TRUE;
}

static int line_of(const struct config_lines *where, const char *group, const char *key)
{
    g_autofree char *k = key ? g_strdup_printf("%s\n%s", group, key) : g_strdup(group);

    return GPOINTER_TO_INT(g_hash_table_lookup(where->lines, k));
}

/* An error about group/key (key NULL: about the group), with its line when known. */
G_GNUC_PRINTF(6, 7)
static gboolean parser_fail(struct config_parser *p, GError **error, int code,
                            const char *group, const char *key, const char *fmt, ...)
{
    int line = line_of(&p->where, group, key);
    g_autofree char *why = NULL;
    g_autofree char *where = line ? g_strdup_printf("%s:%d", p->path, line) : g_strdup(p->path);
    va_list ap;

    va_start(ap, fmt);
    why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (key) {
        g_set_error(error, CONFIG_ERROR, code, "%s: [%s] %s: %s", where, group, key, why);
    } else {
        g_set_error(error, CONFIG_ERROR, code, "%s: [%s]: %s", where, group, why);
    }
    return FALSE;
}

/* The value of group/key with surrounding blanks removed; NULL when absent. */
static char *parser_value(struct config_parser *p, const char *group, const char *key)
{
    char *value = g_key_file_get_value(p->file, group, key, NULL);

    return value ? g_strstrip(value) : NULL;
}

/* A hint for the commonest mistake: GKeyFile has no trailing comments. */
static const char *comment_hint(const char *value)
{
    return strchr(value, '#') ? " (comments must be on a line of their own)" : "";
}

static gboolean parse_uint_text(const char *text, unsigned min, unsigned max, unsigned *out)
{
    guint64 v;

    if (!g_ascii_string_to_unsigned(text, 10, min, max, &v, NULL)) {
        return FALSE;
    }
    *out = (unsigned)v;
    return TRUE;
}

/* An optional unsigned key in min..max; *out keeps its default when absent. */
static gboolean parser_uint(struct config_parser *p, const char *group, const char *key,
                            unsigned min, unsigned max, unsigned *out, GError **error)
{
    g_autofree char *value = parser_value(p, group, key);

    if (value && !parse_uint_text(value, min, max, out)) {
        return parser_fail(p, error, CONFIG_ERROR_VALUE, group, key,
                    "\"%s\" is not a whole number in %u..%u%s", value, min, max,
                    comment_hint(value));
    }
    return TRUE;
}

static gboolean parser_path(struct config_parser *p, const char *group, const char *key,
                            char **out, GError **error)
{
    g_autofree char *value = parser_value(p, group, key);

    if (!value) {
        return TRUE;
    }
    if (!g_path_is_absolute(value)) {
        return parser_fail(p, error, CONFIG_ERROR_VALUE, group, key,
                    "\"%s\" is not an absolute path%s", value, comment_hint(value));
    }
    g_free(*out);
    *out = g_steal_pointer(&value);
    return TRUE;
}

static gboolean keys_known(struct config_parser *p, const char *group,
                           const char *const *known, GError **error)
{
    g_auto(GStrv) keys = g_key_file_get_keys(p->file, group, NULL, NULL);

    for (int i = 0; keys && keys[i]; i++) {
        if (!g_strv_contains(known, keys[i])) {
            g_autofree char *list = g_strjoinv(", ", (char **)known);

            return parser_fail(p, error, CONFIG_ERROR_UNKNOWN, group, keys[i],
                        "unknown key (keys of this group: %s)", list);
        }
    }
    return TRUE;
}

static gboolean parse_limits(struct config_parser *p, struct config_limits *l, GError **error)
{
    const char *g = GROUP_MEDIATOR;

    return parser_uint(p, g, "device-connections-max", 1, CONFIG_CONNECTIONS_MAX,
                       &l->device_connections, error) &&
           parser_uint(p, g, "device-connections-per-uid", 1, CONFIG_CONNECTIONS_MAX,
                       &l->device_connections_per_uid, error) &&
           parser_uint(p, g, "hello-timeout-ms", CONFIG_TIMEOUT_MS_MIN, CONFIG_TIMEOUT_MS_MAX,
                       &l->hello_timeout_ms, error) &&
           parser_uint(p, g, "message-timeout-ms", CONFIG_TIMEOUT_MS_MIN, CONFIG_TIMEOUT_MS_MAX,
                       &l->message_timeout_ms, error) &&
           parser_uint(p, g, "device-output-max", CONFIG_OUTPUT_MIN, CONFIG_OUTPUT_MAX,
                       &l->device_output, error) &&
           parser_uint(p, g, "device-output-total-max", CONFIG_OUTPUT_MIN, CONFIG_OUTPUT_MAX,
                       &l->device_output_total, error) &&
           parser_uint(p, g, "control-clients-max", 1, CONFIG_CONTROL_CLIENTS_MAX,
                       &l->control_clients, error) &&
           parser_uint(p, g, "control-timeout-ms", CONFIG_TIMEOUT_MS_MIN, CONFIG_TIMEOUT_MS_MAX,
                       &l->control_timeout_ms, error) &&
           parser_uint(p, g, "control-output-max", CONFIG_OUTPUT_MIN, CONFIG_OUTPUT_MAX,
                       &l->control_output, error) &&
           parser_uint(p, g, "control-output-total-max", CONFIG_OUTPUT_MIN, CONFIG_OUTPUT_MAX,
                       &l->control_output_total, error) &&
           parser_uint(p, g, "registry-file-max", CONFIG_OUTPUT_MIN, CONFIG_OUTPUT_MAX,
                       &l->registry_file, error) &&
           parser_uint(p, g, "window-max-mib", 1, CONFIG_WINDOW_MIB_MAX, &l->window_mib, error) &&
           parser_uint(p, g, "metrics-clients-max", 1, CONFIG_METRICS_CLIENTS_MAX,
                       &l->metrics_clients, error);
}

/* Whether text is a numeric IPv4 or IPv6 address (host names are not looked up). */
static gboolean ip_address_valid(const char *text)
{
    unsigned char addr[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, text, addr) == 1 || inet_pton(AF_INET6, text, addr) == 1;
}

/* metrics-listen=ADDRESS:PORT, an IPv6 address in brackets: [::1]:9478. */
static gboolean parse_metrics_listen(struct config_parser *p, GError **error)
{
    const char *g = GROUP_MEDIATOR, *key = "metrics-listen", *port;
    g_autofree char *value = parser_value(p, g, key);
    g_autofree char *address = NULL;
    unsigned port_number;

    if (!value) {
        return TRUE;
    }
    if (value[0] == '\0') {
        return parser_fail(p, error, CONFIG_ERROR_VALUE, g, key,
                    "empty (leave the key out for no HTTP endpoint)");
    }
    if (value[0] == '[') {
        const char *end = strchr(value, ']');

        if (!end || end[1] != ':') {
            return parser_fail(p, error, CONFIG_ERROR_VALUE, g, key,
                        "\"%s\" is not [IPV6-ADDRESS]:PORT, as in [::1]:9478%s", value,
                        comment_hint(value));
        }
        address = g_strndup(value + 1, (gsize)(end - value - 1));
        port = end + 2;
    } else {
        const char *colon = strrchr(value, ':');

        if (!colon || memchr(value, ':', (size_t)(colon - value))) {
            return parser_fail(p, error, CONFIG_ERROR_VALUE, g, key,
                        "\"%s\" is not ADDRESS:PORT, as in 127.0.0.1:9478 (an IPv6 address in "
                        "brackets: [::1]:9478)%s",
                        value, comment_hint(value));
        }
        address = g_strndup(value, (gsize)(colon - value));
        port = colon + 1;
    }
    if (!ip_address_valid(address)) {
        return parser_fail(p, error, CONFIG_ERROR_VALUE, g, key,
                    "\"%s\" is not an IP address (host names are not looked up; 127.0.0.1 "
                    "or ::1 listen on this host only)", address);
    }
    if (!parse_uint_text(port, 1, 65535, &port_number)) {
        return parser_fail(p, error, CONFIG_ERROR_VALUE, g, key,
                    "port \"%s\" is not a whole number in 1..65535%s", port, comment_hint(port));
    }
    p->cfg->metrics_address = g_steal_pointer(&address);
    p->cfg->metrics_port = port_number;
    return TRUE;
}

static gboolean parse_mediator(struct config_parser *p, GError **error)
{
    struct config *cfg = p->cfg;
    const char *g = GROUP_MEDIATOR;
    g_autofree char *level = NULL, *group_name = NULL;

    if (!g_key_file_has_group(p->file, g)) {
        return TRUE;
    }
    if (!keys_known(p, g, mediator_keys, error) ||
        !parser_path(p, g, "runtime-dir", &cfg->runtime_dir, error) ||
        !parser_path(p, g, "plugin-dir", &cfg->plugin_dir, error) ||
        !parser_uint(p, g, "queue-limit", 1, CONFIG_QUEUE_LIMIT_MAX, &cfg->queue_limit, error) ||
        !parser_uint(p, g, "vm-queue-limit", 1, CONFIG_QUEUE_LIMIT_MAX, &cfg->vm_queue_limit,
                     error) ||
        !parser_uint(p, g, "aging-ms", 0, CONFIG_AGING_MS_MAX, &cfg->aging_ms, error) ||
        !parser_uint(p, g, "drain-timeout-ms", 0, CONFIG_DRAIN_TIMEOUT_MS_MAX,
                     &cfg->drain_timeout_ms, error) ||
        !parser_uint(p, g, "spin-us", 0, CONFIG_SPIN_US_MAX,
                     &cfg->spin_us, error) ||
        !parse_limits(p, &cfg->limits, error) ||
        !parse_metrics_listen(p, error)) {
        return FALSE;
    }
    /* sun_path holds 107 bytes and a NUL: say so now, not when the daemon starts */
    if (strlen(cfg->runtime_dir) + 1 + strlen(VGPU_DEVICE_SOCKET) > CONFIG_SOCKET_PATH_MAX) {
        return parser_fail(p, error, CONFIG_ERROR_VALUE, g, "runtime-dir",
                    "\"%s\" is too long: %s/%s would exceed the %u bytes of a socket path",
                    cfg->runtime_dir, cfg->runtime_dir, VGPU_DEVICE_SOCKET,
                    CONFIG_SOCKET_PATH_MAX);
    }
    if (!g_key_file_has_key(p->file, g, "vm-queue-limit", NULL) &&
        cfg->vm_queue_limit > cfg->queue_limit) {
        cfg->vm_queue_limit = cfg->queue_limit;    /* a small queue-limit caps the default */
    }
    if (cfg->vm_queue_limit > cfg->queue_limit) {
        return parser_fail(p, error, CONFIG_ERROR_VALUE, g, "vm-queue-limit",
                    "%u is more than queue-limit (%u)", cfg->vm_queue_limit, cfg->queue_limit);
    }
    level = parser_value(p, g, "log-level");
    if (level) {
        if (!config_log_level_parse(level, &cfg->log_level)) {
            return parser_fail(p, error, CONFIG_ERROR_VALUE, g, "log-level",
                        "\"%s\" is not one of error, warning, info, debug%s", level,
                        comment_hint(level));
        }
    }
    group_name = parser_value(p, g, "socket-group");
    if (group_name) {
        errno = 0;
        if (!getgrnam(group_name)) {
            return parser_fail(p, error, CONFIG_ERROR_VALUE, g, "socket-group",
                        "group \"%s\" does not exist%s", group_name, comment_hint(group_name));
        }
        cfg->socket_group = g_steal_pointer(&group_name);
    }
    return TRUE;
}

static gboolean backend_name_valid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > CONFIG_BACKEND_NAME_MAX) {
        return FALSE;
    }
    for (const char *c = name; *c; c++) {
        if (!g_ascii_islower(*c) && !g_ascii_isdigit(*c) && *c != '_' && *c != '-') {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean parse_gpus(struct config_parser *p, const char *g, struct config_pool *pool,
                           GError **error)
{
    g_autofree char *value = parser_value(p, g, "gpus");
    g_auto(GStrv) items = NULL;

    if (!value) {
        return TRUE;
    }
    if (strcmp(pool->backend, "cpu") == 0) {
        return parser_fail(p, error, CONFIG_ERROR_VALUE, g, "gpus",
                    "only GPU backends take gpus (this pool's backend is cpu; "
                    "cpu lanes are set with workers)");
    }
    items = g_strsplit(value, ",", -1);
    for (int i = 0; items[i]; i++) {
        unsigned gpu;

        if (!parse_uint_text(g_strstrip(items[i]), 0, CONFIG_GPUS_MAX - 1, &gpu)) {
            return parser_fail(p, error, CONFIG_ERROR_VALUE, g, "gpus",
                        "\"%s\" is not a list of GPU ordinals in 0..%u like 0,1%s", value,
                        CONFIG_GPUS_MAX - 1, comment_hint(value));
        }
        for (unsigned j = 0; j < pool->gpu_count; j++) {
            if (pool->gpus[j] == (int)gpu) {
                return parser_fail(p, error, CONFIG_ERROR_VALUE, g, "gpus",
                            "GPU %u is listed twice", gpu);
            }
        }
        pool->gpus[pool->gpu_count++] = (int)gpu;
    }
    return TRUE;
}

static gboolean parse_pool(struct config_parser *p, const char *g, GError **error)
{
    struct config *cfg = p->cfg;
    struct config_pool *pool = &cfg->pools[cfg->pool_count];
    g_autofree char *backend = NULL, *fallback = NULL;
    uint32_t pool_id;

    if (!vgpu_pool_parse(g + strlen(GROUP_POOL), &pool_id)) {
        return parser_fail(p, error, CONFIG_ERROR_UNKNOWN, g, NULL,
                    "\"%s\" is not a pool name: one letter A..Z, as in [pool A]",
                    g + strlen(GROUP_POOL));
    }
    if (config_pool(cfg, pool_id)) {
        return parser_fail(p, error, CONFIG_ERROR_SYNTAX, g, NULL, "pool %c is defined twice",
                    (char)pool_id);
    }
    pool->pool_id = pool_id;
    pool->workers = CONFIG_WORKERS_DEFAULT;
    pool->in_flight = CONFIG_IN_FLIGHT_DEFAULT;
    pool->line = line_of(&p->where, g, NULL);
    cfg->pool_count++;      /* from here config_clear frees the pool's strings */
    if (!keys_known(p, g, pool_keys, error)) {
        return FALSE;
    }
    backend = parser_value(p, g, "backend");
    if (!backend) {
        return parser_fail(p, error, CONFIG_ERROR_MISSING, g, NULL,
                    "no backend= key (cpu, cuda, or the name of a backend plugin)");
    }
    if (!backend_name_valid(backend)) {
        return parser_fail(p, error, CONFIG_ERROR_VALUE, g, "backend",
                    "\"%s\" is not a backend name (cpu, cuda, or a plugin's name: "
                    "lower-case letters, digits, - and _)%s", backend, comment_hint(backend));
    }
    pool->backend = g_steal_pointer(&backend);
    fallback = parser_value(p, g, "fallback");
    if (fallback && strcmp(fallback, "none") != 0) {
        if (strcmp(fallback, "cpu") != 0) {
            return parser_fail(p, error, CONFIG_ERROR_VALUE, g, "fallback",
                        "\"%s\" is not cpu or none%s", fallback, comment_hint(fallback));
        }
        pool->fallback = g_steal_pointer(&fallback);
    }
    return parse_gpus(p, g, pool, error) &&
           parser_uint(p, g, "workers", 1, CONFIG_WORKERS_MAX, &pool->workers, error) &&
           parser_uint(p, g, "service-time-us", 0, CONFIG_SERVICE_TIME_US_MAX,
                       &pool->service_time_us, error) &&
           parser_uint(p, g, "in-flight", 1, CONFIG_IN_FLIGHT_MAX, &pool->in_flight, error);
}

static void config_defaults(struct config *cfg, const char *path)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->path = g_strdup(path);
    cfg->runtime_dir = g_strdup(VGPU_RUNTIME_DIR);
    cfg->plugin_dir = g_strdup(MEDIATOR_PLUGIN_DIR);
    cfg->log_level = G_LOG_LEVEL_INFO;
    cfg->queue_limit = CONFIG_QUEUE_LIMIT_DEFAULT;
    cfg->vm_queue_limit = CONFIG_VM_QUEUE_LIMIT_DEFAULT;
    cfg->drain_timeout_ms = CONFIG_DRAIN_TIMEOUT_MS_DEFAULT;
    cfg->spin_us = CONFIG_SPIN_US_DEFAULT;
    cfg->limits = (struct config_limits){
        .device_connections = CONFIG_CONNECTIONS_DEFAULT,
        .device_connections_per_uid = CONFIG_CONNECTIONS_DEFAULT,
        .hello_timeout_ms = CONFIG_HELLO_TIMEOUT_MS_DEFAULT,
        .message_timeout_ms = CONFIG_MESSAGE_TIMEOUT_MS_DEFAULT,
        .device_output = CONFIG_DEVICE_OUTPUT_DEFAULT,
        .device_output_total = CONFIG_DEVICE_OUTPUT_TOTAL_DEFAULT,
        .control_clients = CONFIG_CONTROL_CLIENTS_DEFAULT,
        .control_timeout_ms = CONFIG_CONTROL_TIMEOUT_MS_DEFAULT,
        .control_output = CONFIG_CONTROL_OUTPUT_DEFAULT,
        .control_output_total = CONFIG_CONTROL_OUTPUT_TOTAL_DEFAULT,
        .registry_file = CONFIG_REGISTRY_FILE_DEFAULT,
        .window_mib = CONFIG_WINDOW_MIB_MAX,
        .metrics_clients = CONFIG_METRICS_CLIENTS_DEFAULT,
    };
}

gboolean config_parse(struct config *cfg, const char *text, gsize len, const char *path,
                      GError **error)
{
    struct config_parser p = { .cfg = cfg, .path = path };
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) groups = NULL;
    gboolean ok = FALSE;

    config_defaults(cfg, path);
    if (!lines_scan(&p.where, text, len, path, error)) {
        goto out;
    }
    p.file = g_key_file_new();
    if (!g_key_file_load_from_data(p.file, text, len, G_KEY_FILE_NONE, &local)) {
        g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_SYNTAX, "%s: %s", path, local->message);
        goto out;
    }
    if (!parse_mediator(&p, error)) {
        goto out;
    }
    groups = g_key_file_get_groups(p.file, NULL);
    for (int i = 0; groups[i]; i++) {
        if (strcmp(groups[i], GROUP_MEDIATOR) == 0) {
            continue;
        }
        if (!g_str_has_prefix(groups[i], GROUP_POOL)) {
            parser_fail(&p, error, CONFIG_ERROR_UNKNOWN, groups[i], NULL,
                 "unknown group (groups: [mediator] and [pool A]..[pool Z])");
            goto out;
        }
        if (!parse_pool(&p, groups[i], error)) {
            goto out;
        }
    }
    if (cfg->pool_count == 0) {
        g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_MISSING,
                    "%s: no pool is defined (add a [pool A] group with backend=cpu or cuda)",
                    path);
        goto out;
    }
    ok = TRUE;
out:
    if (p.where.lines) {
        g_hash_table_destroy(p.where.lines);
    }
    if (p.file) {
        g_key_file_free(p.file);
    }
    if (!ok) {
        config_clear(cfg);
    }
    return ok;
}

gboolean config_load(struct config *cfg, const char *path, GError **error)
{
    g_autofree char *text = NULL;
    gsize len;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(path, &text, &len, &local)) {
        config_defaults(cfg, path);
        config_clear(cfg);
        g_set_error(error, CONFIG_ERROR, CONFIG_ERROR_READ, "%s", local->message);
        return FALSE;
    }
    return config_parse(cfg, text, len, path, error);
}

void config_clear(struct config *cfg)
{
    g_free(cfg->path);
    g_free(cfg->runtime_dir);
    g_free(cfg->plugin_dir);
    g_free(cfg->socket_group);
    g_free(cfg->metrics_address);
    for (unsigned i = 0; i < cfg->pool_count; i++) {
        g_free(cfg->pools[i].backend);
        g_free(cfg->pools[i].fallback);
    }
    memset(cfg, 0, sizeof(*cfg));
}

const struct config_pool *config_pool(const struct config *cfg, uint32_t pool_id)
{
    for (unsigned i = 0; i < cfg->pool_count; i++) {
        if (cfg->pools[i].pool_id == pool_id) {
            return &cfg->pools[i];
        }
    }
    return NULL;
}

char *config_pool_names(const struct config *cfg)
{
    GString *names = g_string_new(NULL);

    for (unsigned i = 0; i < cfg->pool_count; i++) {
        g_string_append_printf(names, "%s%c", i ? ", " : "", (char)cfg->pools[i].pool_id);
    }
    return g_string_free(names, FALSE);
}
