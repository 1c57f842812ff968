/*
 * QEMU's pid at the `started` and `reconnect` hooks: see qemu-pid.h.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "qemu-pid.h"

gboolean qemu_pid_parse(const char *text, pid_t *pid)
{
    guint64 value;
    char *end;

    while (g_ascii_isspace(*text)) {
        text++;
    }
    if (!g_ascii_isdigit(*text)) {
        return FALSE;                       /* no sign, no empty string */
    }
    errno = 0;
    value = g_ascii_strtoull(text, &end, 10);
    while (g_ascii_isspace(*end)) {
        end++;
    }
    if (errno || *end || value == 0 || value > INT_MAX) {
        return FALSE;
    }
    *pid = (pid_t)value;
    return TRUE;
}

gboolean qemu_pid_from_status(xmlDoc *doc, pid_t *pid)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlChar *value;
    gboolean ok;

    if (!root || !xmlStrEqual(root->name, BAD_CAST "domstatus")) {
        return FALSE;
    }
    value = xmlGetNoNsProp(root, BAD_CAST "pid");
    ok = value && qemu_pid_parse((const char *)value, pid);
    xmlFree(value);
    return ok;
}

gboolean qemu_pid_from_file(const char *state_dir, const char *name, pid_t *pid,
                            GError **error)
{
    char *file_name = g_strconcat(name, ".pid", NULL);
    char *path = g_build_filename(state_dir, file_name, NULL);
    char *text = NULL;
    gsize len = 0;
    gboolean ok = FALSE;

    if (strchr(name, '/')) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "the domain name '%s' cannot name a pid file", name);
    } else if (!g_file_get_contents(path, &text, &len, error)) {
        /* error already says which file and why */
    } else if (len > QEMU_PID_FILE_MAX || strlen(text) != len || !qemu_pid_parse(text, pid)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s does not hold a pid", path);
    } else {
        ok = TRUE;
    }
    g_free(text);
    g_free(path);
    g_free(file_name);
    return ok;
}
