/*
 * Control socket transport: see control.h.
 */
#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control-proto.h"
#include "control.h"
#include "sockets.h"

#define CONTROL_READ_CHUNK  4096

struct control_conn {
    struct control *ctl;
    int fd;
    GByteArray *in;             /* bytes of the unfinished line */
    GByteArray *out;            /* reply bytes not yet written */
    guint in_watch;
    guint out_watch;
    gboolean closing;           /* close once out is written */
};

struct control {
    char *socket_path;
    struct sockets_listener *listener;
    control_handler_fn handler;
    void *data;
    GHashTable *conns;          /* the set of struct control_conn */
};

static void control_conn_free(gpointer data)
{
    struct control_conn *c = data;

    if (c->in_watch) {
        g_source_remove(c->in_watch);
    }
    if (c->out_watch) {
        g_source_remove(c->out_watch);
    }
    close(c->fd);
    g_byte_array_unref(c->in);
    g_byte_array_unref(c->out);
    g_free(c);
}

static void control_conn_close(struct control_conn *c)
{
    g_hash_table_remove(c->ctl->conns, c);
}

static gboolean control_on_writable(gint fd, GIOCondition cond, gpointer data);

/* Queue a reply line and write it; FALSE when c was closed. */
static gboolean control_conn_reply(struct control_conn *c, char *reply)
{
    g_byte_array_append(c->out, (const guint8 *)reply, (guint)strlen(reply));
    g_byte_array_append(c->out, (const guint8 *)"\n", 1);
    g_free(reply);
    if (c->out->len > CONTROL_OUT_MAX || !sockets_flush(c->fd, c->out)) {
        control_conn_close(c);
        return FALSE;
    }
    if (c->out->len && !c->out_watch) {
        c->out_watch = g_unix_fd_add(c->fd, G_IO_OUT, control_on_writable, c);
    }
    if (c->out->len == 0 && c->closing) {
        control_conn_close(c);
        return FALSE;
    }
    return TRUE;
}

static gboolean control_on_writable(gint fd, GIOCondition cond, gpointer data)
{
    struct control_conn *c = data;

    (void)fd;
    (void)cond;
    if (!sockets_flush(c->fd, c->out) || (c->out->len == 0 && c->closing)) {
        c->out_watch = 0;
        control_conn_close(c);
        return G_SOURCE_REMOVE;
    }
    if (c->out->len == 0) {
        c->out_watch = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean control_on_readable(gint fd, GIOCondition cond, gpointer data)
{
    struct control_conn *c = data;
    guint8 chunk[CONTROL_READ_CHUNK];
    ssize_t n;
    guint8 *nl;

    (void)cond;
    n = recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR || errno == EWOULDBLOCK)) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        c->in_watch = 0;
        control_conn_close(c);
        return G_SOURCE_REMOVE;
    }
    g_byte_array_append(c->in, chunk, (guint)n);
    while ((nl = memchr(c->in->data, '\n', c->in->len))) {
        size_t len = (size_t)(nl - c->in->data);
        char *reply = c->ctl->handler((const char *)c->in->data, len, c->ctl->data);

        g_byte_array_remove_range(c->in, 0, (guint)len + 1);
        if (!control_conn_reply(c, reply)) {
            return G_SOURCE_REMOVE;
        }
    }
    if (c->in->len > CONTROL_LINE_MAX) {
        g_autofree char *message = g_strdup_printf(
            "request line is longer than %u bytes: closing the connection", CONTROL_LINE_MAX);

        g_warning("control client: %s", message);
        c->closing = TRUE;
        g_source_remove(c->in_watch);
        c->in_watch = 0;
        control_conn_reply(c, control_reply_error(control_error_name(CONTROL_ERROR_TOO_LONG),
                                                  message));
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void control_on_accept(int cfd, void *data)
{
    struct control *ctl = data;
    struct control_conn *c;

    if (g_hash_table_size(ctl->conns) >= CONTROL_MAX_CLIENTS) {
        g_warning("control client refused: already %u clients", CONTROL_MAX_CLIENTS);
        close(cfd);
        return;
    }
    c = g_new0(struct control_conn, 1);
    c->ctl = ctl;
    c->fd = cfd;
    c->in = g_byte_array_new();
    c->out = g_byte_array_new();
    c->in_watch = g_unix_fd_add(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR, control_on_readable, c);
    g_hash_table_add(ctl->conns, c);
}

struct control *control_new(const char *socket_path, control_handler_fn handler, void *data,
                            GError **error)
{
    int fd = sockets_listen(socket_path, CONTROL_SOCKET_MODE, NULL, error);
    struct control *ctl;

    if (fd < 0) {
        return NULL;
    }
    ctl = g_new0(struct control, 1);
    ctl->socket_path = g_strdup(socket_path);
    ctl->handler = handler;
    ctl->data = data;
    ctl->conns = g_hash_table_new_full(g_direct_hash, g_direct_equal, control_conn_free, NULL);
    ctl->listener = sockets_listener_new(fd, "control", control_on_accept, ctl);
    return ctl;
}

void control_free(struct control *ctl)
{
    sockets_listener_free(ctl->listener);
    unlink(ctl->socket_path);
    g_hash_table_destroy(ctl->conns);
    g_free(ctl->socket_path);
    g_free(ctl);
}
