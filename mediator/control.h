/*
 * The control socket <runtime-dir>/control.sock (mode 0600): one JSON
 * request per line in, one JSON reply per line out, in order.  This module
 * is the transport; the handler answers each line.
 */
#ifndef MEDIATOR_CONTROL_H
#define MEDIATOR_CONTROL_H

#include <glib.h>

#include "config.h"

#define CONTROL_SOCKET_MODE     0600

/* Answer one request line (len bytes, no newline): a reply without newline. */
typedef char *(*control_handler_fn)(const char *line, size_t len, void *data);

struct control;

/*
 * Listen on socket_path, holding clients to limits: control-clients-max
 * (a client past it gets a "busy" reply, then the close),
 * control-timeout-ms (a client with no complete request line for that long
 * is closed), control-output-max and control-output-total-max (unread
 * replies).  NULL with an error.
 */
struct control *control_new(const char *socket_path, const struct config_limits *limits,
                            control_handler_fn handler, void *data, GError **error);
void control_free(struct control *ctl);     /* closes clients, removes the socket file */

#endif /* MEDIATOR_CONTROL_H */
