/*
 * The registry's state file: see registry-file.h.
 */
#include <errno.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "control-proto.h"
#include "registry-file.h"

static void add_member(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, value);
}

/* One VM as the register request that would register it again. */
static char *register_line(const struct registry_vm *vm)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;
    char pool[2] = { (char)vm->pool_id, '\0' };

    json_builder_begin_object(b);
    add_member(b, "command", control_command_name(CONTROL_CMD_REGISTER));
    add_member(b, "uuid", vm->uuid_str);
    add_member(b, "name", vm->name);
    add_member(b, "pool", pool);
    add_member(b, "priority", vgpu_priority_name(vm->priority));
    json_builder_set_member_name(b, "vm_id");
    json_builder_add_int_value(b, vm->vm_id);
    if (vm->pid > 0) {
        json_builder_set_member_name(b, "pid");
        json_builder_add_int_value(b, vm->pid);
    }
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, NULL);
}

gboolean registry_file_save(struct registry *reg, const char *path, GError **error)
{
    GPtrArray *vms = registry_list(reg);
    g_autoptr(GString) text = g_string_new(NULL);

    for (guint i = 0; i < vms->len; i++) {
        g_autofree char *line = register_line(g_ptr_array_index(vms, i));

        g_string_append(text, line);
        g_string_append_c(text, '\n');
    }
    g_ptr_array_unref(vms);
    return g_file_set_contents(path, text->str, (gssize)text->len, error);
}

/* Whether a register line is worth replaying; logs why not. */
static gboolean restorable(const char *path, unsigned lineno, const char *line, size_t len)
{
    struct control_request req;
    g_autoptr(GError) error = NULL;
    gboolean alive;

    if (!control_request_parse(line, len, &req, &error)) {
        g_warning("%s:%u: not restored: %s", path, lineno, error->message);
        return FALSE;
    }
    if (req.command != CONTROL_CMD_REGISTER) {
        g_warning("%s:%u: not restored: not a register request", path, lineno);
        control_request_clear(&req);
        return FALSE;
    }
    alive = req.pid == 0 || kill(req.pid, 0) == 0 || errno != ESRCH;
    if (!alive) {
        g_info("not restoring domain '%s': its QEMU (pid %d) has exited", req.name, (int)req.pid);
    }
    control_request_clear(&req);
    return alive;
}

unsigned registry_file_restore(const char *path, registry_file_replay_fn replay, void *data)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) lines = NULL;
    unsigned restored = 0;

    if (!g_file_get_contents(path, &text, NULL, &error)) {
        if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_warning("cannot read the registry state %s: %s", path, error->message);
        }
        return 0;
    }
    lines = g_strsplit(text, "\n", -1);
    for (unsigned i = 0; lines[i]; i++) {
        size_t len = strlen(lines[i]);
        g_autofree char *reply = NULL;

        if (len == 0 || !restorable(path, i + 1, lines[i], len)) {
            continue;
        }
        reply = replay(lines[i], len, data);
        if (g_str_has_prefix(reply, "{\"ok\":true")) {
            restored++;
        } else {
            g_warning("%s:%u: not restored: %s", path, i + 1, reply);
        }
    }
    return restored;
}
