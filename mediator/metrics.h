/*
 * The Prometheus text exposition (format 0.0.4) of the accounting: the one
 * generator behind both `vgpuctl metrics` and GET /metrics
 * (metrics-http.h).  docs/observability.md lists every family.
 *
 * It works in two steps so that a scrape costs the main thread, which
 * reads the devices' requests, almost nothing: the main thread takes a
 * snapshot of what it alone owns (the registered VMs, by reference, and a
 * few counts), and any thread renders it, reading each VM's, pool's and
 * unit's counters under stats_lock() one row at a time.
 */
#ifndef MEDIATOR_METRICS_H
#define MEDIATOR_METRICS_H

struct mediator;
struct metrics_snapshot;

/* Main thread: a reference per registered VM and the counts; no counter is read. */
struct metrics_snapshot *metrics_snapshot_take(struct mediator *m);

/* The exposition text (g_free it).  Any thread, while the scheduler lives. */
char *metrics_snapshot_render(const struct metrics_snapshot *s);

/* Any thread. */
void metrics_snapshot_free(struct metrics_snapshot *s);

/* Take, render and free: the text now (main thread). */
char *metrics_text(struct mediator *m);

#endif /* MEDIATOR_METRICS_H */
