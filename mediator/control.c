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
#include "log-episode.h"
#include "sockets.h"

#define CONTROL_READ_CHUNK  4096

struct control_conn {
    struct control *ctl;
    int fd;
    GByteArray *in;             /* bytes of the unfinished line */
    GByteArray *out;            /* reply bytes not yet written */
    guint in_watch;
    guint out_watch;
    guint idle_timer;           /* no complete request line for control-timeout-ms */
    gboolean closing;           /* close once out is written */
};

struct control {
    struct config_limits limits;
    gsize out_total;            /* unread reply bytes of all clients */
    struct log_episode refused;     /* clients turned away at control-clients-max */
    struct log_episode idle;        /* clients closed for sending no request */
    struct log_episode deaf;        /* clients closed for not reading replies */
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
    if (c->idle_timer) {
        g_source_remove(c->idle_timer);
    }
    c->ctl->out_total -= c->out->len;
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

/* Write what c->out holds, keeping the total of all clients; FALSE when the peer is gone. */
static gboolean control_conn_flush(struct control_conn *c)
{
    guint before = c->out->len;
    gboolean alive = sockets_flush(c->fd, c->out);

    c->ctl->out_total -= before - c->out->len;
    return alive;
}

/* Queue a reply line and write it; FALSE when c was closed. */
static gboolean control_conn_reply(struct control_conn *c, char *reply)
{
    struct control *ctl = c->ctl;
    gsize len = strlen(reply);

    g_byte_array_append(c->out, (const guint8 *)reply, (guint)len);
    g_byte_array_append(c->out, (const guint8 *)"\n", 1);
    ctl->out_total += len + 1;
    g_free(reply);
    if (!control_conn_flush(c)) {
        control_conn_close(c);
        return FALSE;
    }
    if (c->out->len > ctl->limits.control_output ||
        ctl->out_total > ctl->limits.control_output_total) {
        log_episode_event(&ctl->deaf, "control client closed: it does not read its replies "
                          "(%u bytes unread; control-output-max %u, control-output-total-max %u)",
                          c->out->len, ctl->limits.control_output,
                          ctl->limits.control_output_total);
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
    if (!control_conn_flush(c) || (c->out->len == 0 && c->closing)) {
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

/* A client that sent no complete request line for control-timeout-ms only holds a slot. */
static gboolean control_conn_idle(gpointer data)
{
    struct control_conn *c = data;

    c->idle_timer = 0;
    log_episode_event(&c->ctl->idle, "control client closed: no complete request within "
                      "%u ms (control-timeout-ms)", c->ctl->limits.control_timeout_ms);
    control_conn_close(c);
    return G_SOURCE_REMOVE;
}

static void control_conn_restart_idle(struct control_conn *c)
{
    if (c->idle_timer) {
        g_source_remove(c->idle_timer);
    }
    c->idle_timer = g_timeout_add(c->ctl->limits.control_timeout_ms, control_conn_idle, c);
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
        control_conn_restart_idle(c);
        log_episode_end(&c->ctl->idle, "control clients closed for sending no request");
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

    if (g_hash_table_size(ctl->conns) >= ctl->limits.control_clients) {
        g_autofree char *message = g_strdup_printf(
            "vgpu-mediatord already serves %u control clients (control-clients-max); "
            "try again", ctl->limits.control_clients);
        g_autofree char *reply = control_reply_error(control_error_name(CONTROL_ERROR_BUSY),
                                                     message);

        log_episode_event(&ctl->refused, "control client refused: %s", message);
        /* the reply is small: it fits the new socket's buffer, or is lost with it */
        if (send(cfd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT) > 0) {
            send(cfd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        close(cfd);
        return;
    }
    log_episode_end(&ctl->refused, "control clients refused at control-clients-max");
    log_episode_end(&ctl->deaf, "control clients closed for not reading their replies");
    c = g_new0(struct control_conn, 1);
    c->ctl = ctl;
    c->fd = cfd;
    c->in = g_byte_array_new();
    c->out = g_byte_array_new();
    c->in_watch = g_unix_fd_add(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR, control_on_readable, c);
    g_hash_table_add(ctl->conns, c);
    control_conn_restart_idle(c);
}

struct control *control_new(const char *socket_path, const struct config_limits *limits,
                            control_handler_fn handler, void *data, GError **error)
{
    int fd = sockets_listen(socket_path, CONTROL_SOCKET_MODE, NULL, error);
    struct control *ctl;

    if (fd < 0) {
        return NULL;
    }
    ctl = g_new0(struct control, 1);
    ctl->limits = *limits;
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
