/*
 * The control socket <runtime-dir>/control.sock (mode 0600): one JSON
 * request per line in, one JSON reply per line out, in order.  This module
 * is the transport; the handler answers each line.
 */
#ifndef MEDIATOR_CONTROL_H
#define MEDIATOR_CONTROL_H

#include <glib.h>

#define CONTROL_MAX_CLIENTS     64
#define CONTROL_SOCKET_MODE     0600
#define CONTROL_OUT_MAX         (16u << 20)     /* unread reply bytes before a client is dropped */

/* Answer one request line (len bytes, no newline): a reply without newline. */
typedef char *(*control_handler_fn)(const char *line, size_t len, void *data);

struct control;

struct control *control_new(const char *socket_path, control_handler_fn handler, void *data,
                            GError **error);
void control_free(struct control *ctl);     /* closes clients, removes the socket file */

#endif /* MEDIATOR_CONTROL_H */
