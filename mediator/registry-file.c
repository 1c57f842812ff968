/*
 * The registry's state file: see registry-file.h.
 */
#include <errno.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "control-proto.h"
#include "registry-file.h"

/* A VM as the register request that restores it. */
static char *register_line(const struct registry_vm *vm)
{
    struct control_request req = {
        .command = CONTROL_CMD_REGISTER,
        .name = vm->name,
        .pool_id = vm->pool_id,
        .priority = vm->priority,
        .vm_id = vm->vm_id,
        .pid = vm->pid,
    };

    memcpy(req.uuid, vm->uuid, sizeof(req.uuid));
    return control_request_encode(&req);
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
