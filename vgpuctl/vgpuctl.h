/*
 * vgpuctl: the administrator's command line for vgpu-mediatord.  Each
 * command group lives in its own file and exports a table of commands
 * (vgpuctl.c lists the tables: add a file and a line there to extend it).
 */
#ifndef VGPUCTL_H
#define VGPUCTL_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "control-proto.h"
#include "vgpu/identity.h"

/* Exit codes (vgpuctl(8)). */
#define VGPUCTL_EXIT_OK             0
#define VGPUCTL_EXIT_REFUSED        1   /* the mediator answered with an error */
#define VGPUCTL_EXIT_USAGE          2   /* wrong command line */
#define VGPUCTL_EXIT_UNREACHABLE    3   /* the mediator is not running or not answering */

struct vgpuctl {
    char *socket_path;          /* --socket, or <runtime-dir>/control.sock */
    char *runtime_dir;          /* --runtime-dir */
    int timeout_ms;             /* --timeout */
    gboolean json;              /* --json: print the reply as JSON */
};

struct vgpuctl_command {
    const char *name;           /* "register" */
    const char *args;           /* "UUID" for the usage line, or "" */
    const char *summary;        /* one line for --help */
    const GOptionEntry *options;/* the command's own options, or NULL */
    int n_args;                 /* positional arguments it takes, exactly */
    int (*run)(struct vgpuctl *ctl, char **args);   /* returns an exit code */
};

/* The command tables, each ended by an entry with a NULL name. */
extern const struct vgpuctl_command vgpuctl_vm_commands[];
extern const struct vgpuctl_command vgpuctl_stats_commands[];
extern const struct vgpuctl_command vgpuctl_top_commands[];    /* vgpuctl-top.c */
extern const struct vgpuctl_command vgpuctl_admin_commands[];
extern const struct vgpuctl_command vgpuctl_domain_commands[];  /* vgpuctl-domain.c */

/*
 * Send request and return the exit code; *reply gets the reply object on
 * success (unref it; reply may be NULL).  Errors are printed.
 */
int vgpuctl_call(struct vgpuctl *ctl, const struct control_request *request, JsonObject **reply);

/* A request of a command that takes no arguments. */
#define VGPUCTL_REQUEST(cmd) (&(struct control_request){ .command = (cmd) })

/* Print a usage error for the command and return VGPUCTL_EXIT_USAGE. */
int vgpuctl_usage(const char *command, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Print obj as pretty JSON on stdout. */
void vgpuctl_print_json(JsonObject *obj);

/* What --gpu-memory takes, for usage errors. */
#define VGPUCTL_GPU_MEMORY_WANT "a size of 1 byte..1TiB (a byte count, or a number with KiB, " \
                                "MiB, GiB or TiB)"

/* A GPU memory size as --gpu-memory takes it ("8GiB"), or "-" for 0 (no quota). */
const char *vgpuctl_gpu_memory_text(uint64_t bytes, char out[VGPU_GPU_MEMORY_TEXT_MAX]);

/* Of a stats row (VM, pool or total): a histogram's field ("p50", "count"),
 * and its errors summed over every code.  vgpuctl stats and top share them. */
gint64 vgpuctl_stats_hist(JsonObject *row, const char *hist, const char *field);
gint64 vgpuctl_stats_errors(JsonObject *row);

/* Whether any VM of a stats reply has a GPU memory quota or ran CUDA work:
 * only then do stats and top show the VMs' GPU memory and CUDA columns. */
gboolean vgpuctl_stats_has_cuda(JsonArray *vms);

#endif /* VGPUCTL_H */
