/*
 * The backends the pools use: `cpu` built in, any other NAME loaded once
 * from <plugin-dir>/libvgpu-backend-NAME.so through GModule and checked
 * (entry symbol, ABI version, every operation present) before use.
 */
#ifndef MEDIATOR_BACKENDS_H
#define MEDIATOR_BACKENDS_H

#include <gio/gio.h>

#include "vgpu/backend.h"

struct backend {
    char *name;                         /* "cpu", "cuda" */
    const struct vgpu_backend_ops *ops;
    GModule *module;                    /* NULL for cpu */
    char *path;                         /* the plugin's file; NULL for cpu */
    int unit_count;                     /* what probe() found */
};

struct backends;

struct backends *backends_new(const char *plugin_dir);
void backends_free(struct backends *b);     /* unloads the plugins */

/*
 * The backend called name, loaded and probed on first use.  NULL with an
 * error saying what is wrong (no such file, not a plugin, wrong ABI, probe
 * failed: the backend cannot run here).
 */
const struct backend *backends_get(struct backends *b, const char *name, GError **error);

#endif /* MEDIATOR_BACKENDS_H */
