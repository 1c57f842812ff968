/*
 * vgpu-mediatord as a whole: the config and the modules it wires together
 * (registry, scheduler, device listener, control socket).  main.c parses
 * options and runs it; tests drive the modules directly.
 */
#ifndef MEDIATOR_MEDIATOR_H
#define MEDIATOR_MEDIATOR_H

#include <glib.h>
#include <stdbool.h>

#include "backends.h"
#include "config.h"
#include "control.h"
#include "device-links.h"
#include "metrics-http.h"
#include "metrics.h"
#include "registry.h"
#include "scheduler.h"


#define MEDIATOR_DRAIN_POLL_MS  10      /* how often a stopping daemon looks at its units */
#define MEDIATOR_FLUSH_MS       2000    /* how long a stopping daemon tries to send */
/* Descriptors the daemon wants beyond every device and control connection
 * its limits allow: plugins, workers, windows in use, the registry file. */
#define MEDIATOR_FDS_SPARE      256

struct mediator {
    struct config cfg;
    struct backends *backends;
    struct registry *registry;
    struct scheduler *scheduler;
    struct device_links *links;
    struct control *control;
    GMainLoop *loop;
    char *registry_path;        /* the registry's state file (registry-file.h) */
    GPtrArray *registry_kept;   /* its lines of VMs whose pool is not configured */
    gint64 started_us;          /* monotonic */
    gint64 started_wall_us;     /* real time, for vgpu_start_time_seconds */
    unsigned restored;          /* VMs registered again from the registry file at start */
    uint64_t registrations;     /* VMs registered through the control socket since the start */
    uint64_t unregistrations;   /* and unregistered */
    struct metrics_http *metrics_http;  /* GET /metrics, or NULL (metrics-listen unset) */
    bool stopping;              /* SIGTERM/SIGINT received */
    bool restoring;             /* replaying the registry file: it is saved once, after */
    int exit_status;
};

/* Start everything cfg describes (takes cfg over).  NULL with an error. */
struct mediator *mediator_new(struct config *cfg, GError **error);

/* Run until SIGTERM/SIGINT has drained it; returns the exit status. */
int mediator_run(struct mediator *m);

void mediator_free(struct mediator *m);

/* Answer one control request line: see docs/control-protocol.md (commands.c). */
char *commands_handle(const char *line, size_t len, void *mediator);

/* Replies of list and stats (report.c); metrics: metrics.h. */
void report_list(struct mediator *m, JsonBuilder *b);
void report_stats(struct mediator *m, JsonBuilder *b);

/* Rewrite the registry's state file after a change (logs a failure). */
void mediator_save_registry(struct mediator *m);

/* Tell systemd how things stand (STATUS=...). */
void mediator_notify_status(struct mediator *m);

#endif /* MEDIATOR_MEDIATOR_H */
