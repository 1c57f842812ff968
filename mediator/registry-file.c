/*
 * The registry's state file: see registry-file.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
        .gpu_memory_quota = vm->gpu_memory_quota,
        .pid = vm->pid,
    };

    memcpy(req.uuid, vm->uuid, sizeof(req.uuid));
    return control_request_encode(&req);
}

/* Whether the register line names a VM that reg has now. */
static gboolean line_registered(struct registry *reg, const char *line)
{
    struct control_request req;
    gboolean found;

    if (!control_request_parse(line, strlen(line), &req, NULL)) {
        return FALSE;
    }
    found = registry_lookup(reg, req.uuid) != NULL;
    control_request_clear(&req);
    return found;
}

gboolean registry_file_save(struct registry *reg, GPtrArray *kept, const char *path,
                            GError **error)
{
    GPtrArray *vms = registry_list(reg);
    g_autoptr(GString) text = g_string_new(NULL);

    for (guint i = 0; i < vms->len; i++) {
        g_autofree char *line = register_line(g_ptr_array_index(vms, i));

        g_string_append(text, line);
        g_string_append_c(text, '\n');
    }
    g_ptr_array_unref(vms);
    for (guint i = 0; i < kept->len; i++) {
        const char *line = g_ptr_array_index(kept, i);

        if (!line_registered(reg, line)) {
            g_string_append(text, line);
            g_string_append_c(text, '\n');
        }
    }
    /* 0600: QEMU's user is in the daemon's group, and a forged identity
     * here would be restored at the next start. */
    return g_file_set_contents_full(path, text->str, (gssize)text->len,
                                    G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
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

/*
 * The file's text, read only when it is a regular file of this process's
 * user, not a symbolic link, and at most max_bytes.
 */
static gboolean read_state(const char *path, unsigned max_bytes, char **text, GError **error)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    ssize_t n = 0;
    size_t got = 0;

    if (fd < 0) {
        int saved = errno;

        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "%s",
                    saved == ELOOP ? "it is a symbolic link" : g_strerror(saved));
        return FALSE;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        st.st_size > max_bytes) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "not a regular file of this user of at most %u bytes (registry-file-max)",
                    max_bytes);
        close(fd);
        return FALSE;
    }
    *text = g_malloc((size_t)st.st_size + 1);
    while (got < (size_t)st.st_size &&
           ((n = read(fd, *text + got, (size_t)st.st_size - got)) > 0 || (n < 0 && errno == EINTR))) {
        got += n > 0 ? (size_t)n : 0;
    }
    (*text)[got] = '\0';
    close(fd);
    return TRUE;
}

unsigned registry_file_restore(const char *path, unsigned max_bytes,
                               registry_file_replay_fn replay, void *data, GPtrArray *kept)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) lines = NULL;
    unsigned restored = 0;

    if (!read_state(path, max_bytes, &text, &error)) {
        if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_warning("not restoring the registry from %s: %s", path, error->message);
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
        } else if (strstr(reply, "\"error\":\"unknown-pool\"")) {
            g_warning("%s:%u: kept, not served: %s; it is registered again at a start with "
                      "its pool configured", path, i + 1, reply);
            g_ptr_array_add(kept, g_strdup(lines[i]));
        } else {
            g_warning("%s:%u: not restored: %s", path, i + 1, reply);
        }
    }
    return restored;
}
