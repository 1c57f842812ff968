/*
 * Listening sockets: see sockets.h.
 */
#include <errno.h>
#include <glib-unix.h>
#include <grp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockets.h"

static gboolean address_of(const char *path, struct sockaddr_un *addr, GError **error)
{
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr->sun_path)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
                    "socket path %s is longer than %zu bytes", path, sizeof(addr->sun_path) - 1);
        return FALSE;
    }
    strcpy(addr->sun_path, path);
    return TRUE;
}

/* Whether a daemon answers at addr. */
static gboolean socket_alive(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    gboolean alive;

    if (fd < 0) {
        return FALSE;
    }
    alive = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
    close(fd);
    return alive;
}

int sockets_listen(const char *path, mode_t mode, const char *group, GError **error)
{
    struct sockaddr_un addr;
    struct stat st;
    int fd, saved;

    if (!address_of(path, &addr, error)) {
        return -1;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                        "%s exists and is not a socket: remove it or choose another runtime-dir",
                        path);
            return -1;
        }
        if (socket_alive(&addr)) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                        "another vgpu-mediatord is already listening on %s", path);
            return -1;
        }
        unlink(path);       /* left by a daemon that died */
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, mode) < 0) {
        goto fail;
    }
    if (group) {
        struct group *gr = getgrnam(group);

        if (!gr) {
            errno = ENOENT;
            goto fail;
        }
        if (chown(path, (uid_t)-1, gr->gr_gid) < 0) {
            goto fail;
        }
    }
    if (listen(fd, SOCKETS_BACKLOG) < 0) {
        goto fail;
    }
    return fd;
fail:
    saved = errno;
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved), "cannot listen on %s: %s",
                path, g_strerror(saved));
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    return -1;
}

gboolean sockets_flush(int fd, GByteArray *out)
{
    while (out->len) {
        ssize_t n = send(fd, out->data, out->len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        g_byte_array_remove_range(out, 0, (guint)n);
    }
    return TRUE;
}

struct sockets_listener {
    int fd;
    char *what;
    sockets_accept_fn accept_fn;
    void *data;
    guint watch;                /* the fd watch; 0 while backing off */
    guint backoff;              /* the timeout that watches again */
    bool exhausted;             /* in an out-of-descriptors episode */
};

static gboolean listener_on_readable(gint fd, GIOCondition cond, gpointer data);

static gboolean listener_rearm(gpointer data)
{
    struct sockets_listener *l = data;

    l->backoff = 0;
    l->watch = g_unix_fd_add(l->fd, G_IO_IN, listener_on_readable, l);
    return G_SOURCE_REMOVE;
}

static gboolean listener_on_readable(gint fd, GIOCondition cond, gpointer data)
{
    struct sockets_listener *l = data;

    (void)cond;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (cfd >= 0) {
            if (l->exhausted) {
                g_info("accepting %s connections again", l->what);
                l->exhausted = false;
            }
            l->accept_fn(cfd, l->data);
            continue;
        }
        switch (errno) {
        case EINTR:
        case ECONNABORTED:
            continue;
        case EAGAIN:
            return G_SOURCE_CONTINUE;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            if (!l->exhausted) {
                g_warning("cannot accept %s connections: %s; trying again every %u ms until "
                          "descriptors free up", l->what, g_strerror(errno), SOCKETS_BACKOFF_MS);
                l->exhausted = true;
            }
            l->watch = 0;
            l->backoff = g_timeout_add(SOCKETS_BACKOFF_MS, listener_rearm, l);
            return G_SOURCE_REMOVE;
        default:
            g_warning("accepting a %s connection failed: %s", l->what, g_strerror(errno));
            return G_SOURCE_CONTINUE;
        }
    }
}

struct sockets_listener *sockets_listener_new(int listen_fd, const char *what,
                                              sockets_accept_fn accept_fn, void *data)
{
    struct sockets_listener *l = g_new0(struct sockets_listener, 1);

    l->fd = listen_fd;
    l->what = g_strdup(what);
    l->accept_fn = accept_fn;
    l->data = data;
    l->watch = g_unix_fd_add(listen_fd, G_IO_IN, listener_on_readable, l);
    return l;
}

void sockets_listener_free(struct sockets_listener *l)
{
    if (l->watch) {
        g_source_remove(l->watch);
    }
    if (l->backoff) {
        g_source_remove(l->backoff);
    }
    close(l->fd);
    g_free(l->what);
    g_free(l);
}

unsigned long sockets_raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return 0;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (unsigned long)rl.rlim_cur;
}
