/*
 * The vgpu-stub device in <qemu:commandline>: see qemu-cmdline.h.
 */
#include <string.h>

#include "qemu-cmdline.h"

/*
 * Split the next element off *cursor (up to a single ',', with ",," kept as
 * a literal comma).  Returns it (g_free), or NULL at the end.
 */
static char *opts_next(const char **cursor)
{
    const char *p = *cursor;
    GString *element;

    if (!p) {
        return NULL;
    }
    element = g_string_new(NULL);
    for (;;) {
        if (*p == '\0') {
            *cursor = NULL;
            break;
        }
        if (*p == ',') {
            if (p[1] == ',') {
                g_string_append_c(element, ',');
                p += 2;
                continue;
            }
            *cursor = p + 1;
            break;
        }
        g_string_append_c(element, *p++);
    }
    return g_string_free(element, FALSE);
}

char *qemu_cmdline_opt(const char *opts, const char *key)
{
    const char *cursor = opts;
    size_t key_len = strlen(key);
    char *element;

    while ((element = opts_next(&cursor))) {
        if (strncmp(element, key, key_len) == 0 && element[key_len] == '=') {
            char *value = g_strdup(element + key_len + 1);

            g_free(element);
            return value;
        }
        g_free(element);
    }
    return NULL;
}

char *qemu_cmdline_opt_escape(const char *text)
{
    GString *out = g_string_new(NULL);

    for (const char *p = text; *p; p++) {
        if (*p == ',') {
            g_string_append_c(out, ',');
        }
        g_string_append_c(out, *p);
    }
    return g_string_free(out, FALSE);
}

char *qemu_cmdline_opt_driver(const char *opts)
{
    const char *cursor = opts;
    char *first = opts_next(&cursor);

    if (first && strchr(first, '=')) {
        g_clear_pointer(&first, g_free);
    }
    return first;
}

xmlNode *qemu_cmdline_element(xmlNode *domain)
{
    for (xmlNode *n = domain->children; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && n->ns &&
            xmlStrEqual(n->ns->href, BAD_CAST QEMU_CMDLINE_NS) &&
            xmlStrEqual(n->name, BAD_CAST QEMU_CMDLINE_ELEMENT)) {
            return n;
        }
    }
    return NULL;
}

/* An option and its value: "-device" "vgpu-stub,...". */
struct cmdline_pair {
    xmlNode *option_node;
    xmlNode *value_node;
    char *option;               /* "device", "chardev" (dashes stripped) */
    char *value;
};

static void cmdline_pair_free(gpointer data)
{
    struct cmdline_pair *pair = data;

    g_free(pair->option);
    g_free(pair->value);
    g_free(pair);
}

static char *arg_value(xmlNode *arg)
{
    xmlChar *value = xmlGetProp(arg, BAD_CAST "value");
    char *copy = g_strdup((const char *)value);

    xmlFree(value);
    return copy;
}

/* The <qemu:arg> children of commandline as option/value pairs. */
static GPtrArray *cmdline_pairs(xmlNode *commandline)
{
    GPtrArray *pairs = g_ptr_array_new_with_free_func(cmdline_pair_free);
    xmlNode *pending = NULL;
    char *pending_option = NULL;

    for (xmlNode *n = commandline->children; n; n = n->next) {
        char *value;

        if (n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, BAD_CAST QEMU_CMDLINE_ARG)) {
            continue;
        }
        value = arg_value(n);
        if (pending) {
            struct cmdline_pair *pair = g_new0(struct cmdline_pair, 1);

            pair->option_node = pending;
            pair->value_node = n;
            pair->option = pending_option;
            pair->value = value;
            g_ptr_array_add(pairs, pair);
            pending = NULL;
            pending_option = NULL;
        } else if (value && (g_str_equal(value, "-device") || g_str_equal(value, "--device") ||
                             g_str_equal(value, "-chardev") || g_str_equal(value, "--chardev"))) {
            pending = n;
            pending_option = g_strdup(value + (value[1] == '-' ? 2 : 1));
            g_free(value);
        } else {
            g_free(value);
        }
    }
    g_free(pending_option);
    return pairs;
}

void qemu_cmdline_find_vgpu(xmlNode *domain, struct qemu_cmdline_vgpu *found)
{
    GPtrArray *pairs;
    GPtrArray *chardev_ids;

    memset(found, 0, sizeof(*found));
    found->args = g_ptr_array_new();
    found->commandline = qemu_cmdline_element(domain);
    if (!found->commandline) {
        return;
    }
    pairs = cmdline_pairs(found->commandline);
    chardev_ids = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < pairs->len; i++) {
        struct cmdline_pair *pair = g_ptr_array_index(pairs, i);
        char *driver;

        if (!g_str_equal(pair->option, "device")) {
            continue;
        }
        driver = qemu_cmdline_opt_driver(pair->value);
        if (g_strcmp0(driver, QEMU_CMDLINE_DEVICE_DRIVER) == 0) {
            char *chardev = qemu_cmdline_opt(pair->value, "chardev");

            found->devices++;
            g_ptr_array_add(found->args, pair->option_node);
            g_ptr_array_add(found->args, pair->value_node);
            if (chardev) {
                g_ptr_array_add(chardev_ids, chardev);
            }
        }
        g_free(driver);
    }

    for (guint i = 0; i < pairs->len; i++) {
        struct cmdline_pair *pair = g_ptr_array_index(pairs, i);
        char *id;

        if (!g_str_equal(pair->option, "chardev")) {
            continue;
        }
        id = qemu_cmdline_opt(pair->value, "id");
        for (guint c = 0; id && c < chardev_ids->len; c++) {
            if (g_str_equal(id, g_ptr_array_index(chardev_ids, c))) {
                g_ptr_array_add(found->args, pair->option_node);
                g_ptr_array_add(found->args, pair->value_node);
                if (!found->socket && c == 0) {
                    found->socket = qemu_cmdline_opt(pair->value, "path");
                }
                break;
            }
        }
        g_free(id);
    }
    g_ptr_array_free(chardev_ids, TRUE);
    g_ptr_array_free(pairs, TRUE);
}

void qemu_cmdline_vgpu_clear(struct qemu_cmdline_vgpu *found)
{
    if (found->args) {
        g_ptr_array_free(found->args, TRUE);
    }
    g_free(found->socket);
    memset(found, 0, sizeof(*found));
}
