/*
 * GET /metrics for Prometheus, over HTTP on metrics-listen (mediator.conf),
 * served by libsoup on a thread of its own: no HTTP client, slow, broken
 * or one of many, ever waits in the main loop that reads the devices'
 * requests.
 *
 * A scrape asks the main thread only for a snapshot (metrics.h: a
 * reference per VM and a few counts, no counter read there) and renders
 * it on the HTTP thread; scrapes that arrive while a snapshot is on its
 * way share it.  At most metrics-clients-max connections are open: one
 * more is closed at once (logged once per episode).  A connection that
 * neither sends nor takes anything for METRICS_HTTP_TIMEOUT_S is closed,
 * and each is closed after its response.
 */
#ifndef MEDIATOR_METRICS_HTTP_H
#define MEDIATOR_METRICS_HTTP_H

#include <glib.h>

#define METRICS_HTTP_PATH           "/metrics"
#define METRICS_HTTP_CONTENT_TYPE   "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_HTTP_TIMEOUT_S      10u
#define METRICS_HTTP_BACKLOG        64

struct mediator;
struct metrics_http;

/*
 * Listen on m->cfg's metrics-listen (bound here, so that a taken port
 * stops the start with an error naming the key) and serve from a thread.
 * NULL with an error.
 */
struct metrics_http *metrics_http_new(struct mediator *m, GError **error);

/* Stop serving and join the thread (main thread), before the scheduler goes. */
void metrics_http_free(struct metrics_http *h);

#endif /* MEDIATOR_METRICS_HTTP_H */
