/*
 * Listening AF_UNIX sockets for the daemon.
 */
#ifndef MEDIATOR_SOCKETS_H
#define MEDIATOR_SOCKETS_H

#include <gio/gio.h>
#include <sys/types.h>

#define SOCKETS_BACKLOG     64

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

#endif /* MEDIATOR_SOCKETS_H */
