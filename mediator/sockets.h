/*
 * Listening AF_UNIX sockets for the daemon.
 */
#ifndef MEDIATOR_SOCKETS_H
#define MEDIATOR_SOCKETS_H

#include <gio/gio.h>
#include <sys/types.h>

#define SOCKETS_BACKLOG     64
#define SOCKETS_BACKOFF_MS  100     /* out of descriptors: how long accepting pauses */

/*
 * Listen on a non-blocking stream socket at path with the given mode (and
 * group, when not NULL).  A stale socket file left by a dead daemon is
 * replaced; a live one (it accepts a connection) is an error.  Returns the
 * fd, or -1 with an error naming the path.
 */
int sockets_listen(const char *path, mode_t mode, const char *group, GError **error);

/*
 * Send as much of out as the socket takes now, without blocking, and drop
 * what was sent from out.  FALSE when the peer is gone (an error other than
 * "would block").
 */
gboolean sockets_flush(int fd, GByteArray *out);

/*
 * A listening socket on the main loop: each accepted connection (a
 * non-blocking, close-on-exec fd) goes to accept_fn, which owns it.  When
 * the process is out of descriptors the socket stays readable, so instead
 * of retrying at once the listener stops watching it for SOCKETS_BACKOFF_MS
 * at a time, and logs once per such episode (and when it ends).  what names
 * the connections in the log ("device").  Main thread only.
 */
typedef void (*sockets_accept_fn)(int fd, void *data);
struct sockets_listener;

struct sockets_listener *sockets_listener_new(int listen_fd, const char *what,
                                              sockets_accept_fn accept_fn, void *data);

/* Stop listening: the watch goes and listen_fd is closed. */
void sockets_listener_free(struct sockets_listener *l);

/*
 * Raise the soft limit on open descriptors to the hard limit (the daemon's
 * caps on connections must stay below it).  Returns the limit now in force.
 */
unsigned long sockets_raise_fd_limit(void);

#endif /* MEDIATOR_SOCKETS_H */
