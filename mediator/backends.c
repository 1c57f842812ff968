/*
 * Backend registry and plugin loading: see backends.h.
 */
#include <gmodule.h>
#include <string.h>

#include "backends.h"

#define BACKEND_PLUGIN_PREFIX   "libvgpu-backend-"
#define BACKEND_PLUGIN_SUFFIX   ".so"

struct backends {
    char *plugin_dir;
    GHashTable *loaded;         /* name -> struct backend */
};

static void backend_free(gpointer data)
{
    struct backend *be = data;

    if (be->module) {
        g_module_close(be->module);
    }
    g_free(be->name);
    g_free(be->path);
    g_free(be);
}

struct backends *backends_new(const char *plugin_dir)
{
    struct backends *b = g_new0(struct backends, 1);

    b->plugin_dir = g_strdup(plugin_dir);
    b->loaded = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, backend_free);
    return b;
}

void backends_free(struct backends *b)
{
    g_hash_table_destroy(b->loaded);
    g_free(b->plugin_dir);
    g_free(b);
}

/* Whether a plugin's ops table is complete and of our ABI; else why not. */
static gboolean ops_check(const struct vgpu_backend_ops *ops, const char *name,
                          const char *path, GError **error)
{
    if (!ops) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "%s: %s() returned no backend", path, VGPU_BACKEND_ENTRY_SYMBOL);
        return FALSE;
    }
    if (ops->abi_version != VGPU_BACKEND_ABI_VERSION) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "%s: backend ABI version %u, this mediator needs %u (rebuild the plugin)",
                    path, ops->abi_version, VGPU_BACKEND_ABI_VERSION);
        return FALSE;
    }
    if (!ops->name || strcmp(ops->name, name) != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "%s: the plugin calls itself \"%s\", not \"%s\"", path,
                    ops->name ? ops->name : "(null)", name);
        return FALSE;
    }
    if (!ops->probe || !ops->open || !ops->execute || !ops->recover || !ops->close) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "%s: the backend lacks an operation (probe, open, execute, recover, close)",
                    path);
        return FALSE;
    }
    return TRUE;
}

static struct backend *backend_load_plugin(struct backends *b, const char *name, GError **error)
{
    g_autofree char *path = g_strdup_printf("%s/" BACKEND_PLUGIN_PREFIX "%s"
                                            BACKEND_PLUGIN_SUFFIX, b->plugin_dir, name);
    vgpu_backend_entry_fn entry;
    const struct vgpu_backend_ops *ops;
    struct backend *be;
    GModule *module;

    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "backend \"%s\" is not installed (no %s)", name, path);
        return NULL;
    }
    module = g_module_open(path, G_MODULE_BIND_LOCAL);
    if (!module) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot load backend \"%s\": %s",
                    name, g_module_error());
        return NULL;
    }
    if (!g_module_symbol(module, VGPU_BACKEND_ENTRY_SYMBOL, (gpointer *)&entry) || !entry) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "%s is not a vgpu backend plugin (no symbol %s)", path,
                    VGPU_BACKEND_ENTRY_SYMBOL);
        g_module_close(module);
        return NULL;
    }
    ops = entry();
    if (!ops_check(ops, name, path, error)) {
        g_module_close(module);
        return NULL;
    }
    be = g_new0(struct backend, 1);
    be->ops = ops;
    be->module = module;
    be->path = g_steal_pointer(&path);
    return be;
}

const struct backend *backends_get(struct backends *b, const char *name, GError **error)
{
    struct backend *be = g_hash_table_lookup(b->loaded, name);
    char err[VGPU_BACKEND_ERROR_MAX] = "";

    if (be) {
        return be;
    }
    if (strcmp(name, "cpu") == 0) {
        be = g_new0(struct backend, 1);
        be->ops = vgpu_backend_cpu();
    } else {
        be = backend_load_plugin(b, name, error);
        if (!be) {
            return NULL;
        }
    }
    be->name = g_strdup(name);
    be->unit_count = be->ops->probe(err, sizeof(err));
    if (be->unit_count < 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "backend \"%s\" cannot run here: %s",
                    name, err[0] ? err : "its probe failed");
        backend_free(be);
        return NULL;
    }
    g_hash_table_insert(b->loaded, be->name, be);
    return be;
}
