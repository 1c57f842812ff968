/*
 * The /metrics endpoint: see metrics-http.h.
 *
 * Threads: metrics_http_new(), metrics_http_free() and snapshot_on_main()
 * run on the main thread; the rest on the HTTP thread, whose GMainContext
 * is its thread-default one, so that libsoup's sockets are watched there.
 * The listening socket is ours, not libsoup's, so that connections can be
 * counted and refused before libsoup sees them.
 */
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "log-episode.h"
#include "mediator.h"

struct metrics_http {
    gint refcount;                  /* the owner's, and one per snapshot on its way */
    struct mediator *m;             /* NULL once stopping (main thread) */
    GMainContext *main_context;     /* where snapshots are taken */
    GMainContext *context;          /* the HTTP thread's */
    GMainLoop *loop;
    GThread *thread;
    GSocket *socket;                /* bound and listening */
    unsigned max_clients;
    char *where;                    /* "127.0.0.1:9478", for messages */
    /* The HTTP thread's alone: */
    SoupServer *server;
    GSocketService *service;
    GPtrArray *clients;             /* GSocketConnection *: open, or closed since the last look */
    GPtrArray *waiting;             /* SoupServerMessage *: paused until a snapshot comes */
    bool asked;                     /* a snapshot was asked for and has not come yet */
    struct log_episode refusals;    /* clients refused at metrics-clients-max */
};

/* A snapshot on its way from the main thread to the HTTP thread. */
struct delivery {
    struct metrics_http *h;         /* a reference */
    struct metrics_snapshot *snapshot;
};

static void http_unref(struct metrics_http *h)
{
    if (g_atomic_int_dec_and_test(&h->refcount)) {
        g_free(h->where);
        g_free(h);
    }
}

/* Call fn(data) from context's loop; destroy(data) afterwards, or when the context goes. */
static void run_in(GMainContext *context, GSourceFunc fn, gpointer data, GDestroyNotify destroy)
{
    GSource *source = g_idle_source_new();

    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, fn, data, destroy);
    g_source_attach(source, context);
    g_source_unref(source);
}

static void delivery_free(gpointer data)
{
    struct delivery *d = data;

    metrics_snapshot_free(d->snapshot);
    http_unref(d->h);
    g_free(d);
}

/* HTTP thread: render the snapshot once and answer every scrape waiting for it. */
static gboolean deliver(gpointer data)
{
    struct delivery *d = data;
    struct metrics_http *h = d->h;
    g_autofree char *text = metrics_snapshot_render(d->snapshot);
    gsize len = strlen(text);
    GPtrArray *batch = h->waiting;

    h->waiting = g_ptr_array_new_with_free_func(g_object_unref);
    h->asked = false;
    for (guint i = 0; i < batch->len; i++) {
        SoupServerMessage *msg = g_ptr_array_index(batch, i);

        g_signal_handlers_disconnect_by_data(msg, h);
        soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
        soup_server_message_set_response(msg, METRICS_HTTP_CONTENT_TYPE, SOUP_MEMORY_COPY, text,
                                         len);
        soup_server_message_unpause(msg);
    }
    g_ptr_array_unref(batch);
    return G_SOURCE_REMOVE;
}

/* Main thread: the snapshot, sent back to the HTTP thread (unless stopping). */
static gboolean snapshot_on_main(gpointer data)
{
    struct metrics_http *h = data;
    struct delivery *d;

    if (!h->m) {
        http_unref(h);
        return G_SOURCE_REMOVE;
    }
    d = g_new(struct delivery, 1);
    d->h = h;                       /* the reference this call held */
    d->snapshot = metrics_snapshot_take(h->m);
    run_in(h->context, deliver, d, delivery_free);
    return G_SOURCE_REMOVE;
}

/* A paused scrape's client went away: it waits no more. */
static void on_waiting_gone(SoupServerMessage *msg, gpointer data)
{
    struct metrics_http *h = data;

    g_signal_handlers_disconnect_by_data(msg, h);
    g_ptr_array_remove(h->waiting, msg);
}

static void respond_text(SoupServerMessage *msg, guint status, const char *text)
{
    soup_server_message_set_status(msg, status, NULL);
    soup_server_message_set_response(msg, "text/plain; charset=utf-8", SOUP_MEMORY_STATIC, text,
                                     strlen(text));
}

static void on_request(SoupServer *server, SoupServerMessage *msg, const char *path,
                       GHashTable *query, gpointer data)
{
    struct metrics_http *h = data;
    const char *method = soup_server_message_get_method(msg);

    (void)server;
    (void)query;
    if (strcmp(path, METRICS_HTTP_PATH) != 0) {
        respond_text(msg, SOUP_STATUS_NOT_FOUND, "Not found: the metrics are at "
                     METRICS_HTTP_PATH "\n");
        return;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                                     "GET, HEAD");
        respond_text(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "Only GET and HEAD\n");
        return;
    }
    soup_server_message_pause(msg);
    g_signal_connect(msg, "disconnected", G_CALLBACK(on_waiting_gone), h);
    g_ptr_array_add(h->waiting, g_object_ref(msg));
    if (!h->asked) {
        h->asked = true;
        g_atomic_int_inc(&h->refcount);
        run_in(h->main_context, snapshot_on_main, h, NULL);
    }
}

/* Forget the connections libsoup has closed. */
static void clients_prune(struct metrics_http *h)
{
    for (guint i = h->clients->len; i-- > 0;) {
        if (g_io_stream_is_closed(g_ptr_array_index(h->clients, i))) {
            g_ptr_array_remove_index_fast(h->clients, i);
        }
    }
}

static gboolean on_incoming(GSocketService *service, GSocketConnection *conn, GObject *source,
                            gpointer data)
{
    struct metrics_http *h = data;
    g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address(conn, NULL);
    g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address(conn, NULL);
    g_autoptr(GError) error = NULL;

    (void)service;
    (void)source;
    clients_prune(h);
    if (h->clients->len >= h->max_clients) {
        g_autofree char *peer = remote ? g_inet_address_to_string(
            g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(remote))) : NULL;

        log_episode_event(&h->refusals, "metrics client %s refused: already %u connections "
                          "(metrics-clients-max)", peer ? peer : "(gone)", h->max_clients);
        g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
        return TRUE;
    }
    log_episode_end(&h->refusals, "metrics clients refused at metrics-clients-max");
    if (!local || !remote) {
        g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);   /* the peer is gone already */
        return TRUE;
    }
    g_socket_set_timeout(g_socket_connection_get_socket(conn), METRICS_HTTP_TIMEOUT_S);
    if (!soup_server_accept_iostream(h->server, G_IO_STREAM(conn), local, remote, &error)) {
        g_debug("metrics client not served: %s", error->message);
        g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
        return TRUE;
    }
    g_ptr_array_add(h->clients, g_object_ref(conn));
    return TRUE;
}

static gboolean quit_loop(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

static gpointer http_main(gpointer data)
{
    struct metrics_http *h = data;
    g_autoptr(GError) error = NULL;

    g_main_context_push_thread_default(h->context);
    h->server = soup_server_new("server-header", "vgpu-mediatord/" VGPU_VERSION, NULL);
    soup_server_add_handler(h->server, NULL, on_request, h, NULL);
    h->clients = g_ptr_array_new_with_free_func(g_object_unref);
    h->waiting = g_ptr_array_new_with_free_func(g_object_unref);
    h->service = g_socket_service_new();
    g_signal_connect(h->service, "incoming", G_CALLBACK(on_incoming), h);
    if (g_socket_listener_add_socket(G_SOCKET_LISTENER(h->service), h->socket, NULL, &error)) {
        g_socket_service_start(h->service);
        g_main_loop_run(h->loop);
    } else {
        g_critical("metrics on %s: %s", h->where, error->message);
    }
    g_socket_service_stop(h->service);
    g_socket_listener_close(G_SOCKET_LISTENER(h->service));
    g_clear_object(&h->service);
    for (guint i = 0; i < h->waiting->len; i++) {
        g_signal_handlers_disconnect_by_data(g_ptr_array_index(h->waiting, i), h);
    }
    g_ptr_array_unref(h->waiting);
    for (guint i = 0; i < h->clients->len; i++) {
        g_io_stream_close(g_ptr_array_index(h->clients, i), NULL, NULL);
    }
    g_ptr_array_unref(h->clients);
    g_clear_object(&h->server);
    g_main_context_pop_thread_default(h->context);
    return NULL;
}

struct metrics_http *metrics_http_new(struct mediator *m, GError **error)
{
    const struct config *cfg = &m->cfg;
    g_autoptr(GInetAddress) address = g_inet_address_new_from_string(cfg->metrics_address);
    g_autoptr(GSocketAddress) socket_address = NULL;
    g_autoptr(GSocket) socket = NULL;
    struct metrics_http *h;
    bool v6;

    if (!address) {     /* config.c accepts only what this accepts */
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "%s: [mediator] metrics-listen: \"%s\" is not an IP address", cfg->path,
                    cfg->metrics_address);
        return NULL;
    }
    v6 = g_inet_address_get_family(address) == G_SOCKET_FAMILY_IPV6;
    socket_address = g_inet_socket_address_new(address, (guint16)cfg->metrics_port);
    socket = g_socket_new(g_inet_address_get_family(address), G_SOCKET_TYPE_STREAM,
                          G_SOCKET_PROTOCOL_TCP, error);
    /* allow_reuse (SO_REUSEADDR): a restarted mediator binds again at once */
    if (!socket || !g_socket_bind(socket, socket_address, TRUE, error)) {
        g_prefix_error(error, "%s: [mediator] metrics-listen: ", cfg->path);
        return NULL;
    }
    g_socket_set_listen_backlog(socket, METRICS_HTTP_BACKLOG);
    if (!g_socket_listen(socket, error)) {
        g_prefix_error(error, "%s: [mediator] metrics-listen: ", cfg->path);
        return NULL;
    }
    h = g_new0(struct metrics_http, 1);
    h->refcount = 1;
    h->m = m;
    h->max_clients = cfg->limits.metrics_clients;
    h->where = g_strdup_printf(v6 ? "[%s]:%u" : "%s:%u", cfg->metrics_address,
                               cfg->metrics_port);
    h->socket = g_steal_pointer(&socket);
    h->main_context = g_main_context_ref_thread_default();
    h->context = g_main_context_new();
    h->loop = g_main_loop_new(h->context, FALSE);
    h->thread = g_thread_new("vgpu-metrics", http_main, h);
    g_info("metrics for Prometheus at http://%s" METRICS_HTTP_PATH, h->where);
    return h;
}

void metrics_http_free(struct metrics_http *h)
{
    h->m = NULL;                    /* snapshots asked for and not yet taken: none */
    run_in(h->context, quit_loop, h->loop, NULL);
    g_thread_join(h->thread);
    g_main_loop_unref(h->loop);
    g_main_context_unref(h->context);   /* a delivery not yet made goes with it */
    g_main_context_unref(h->main_context);
    g_object_unref(h->socket);
    http_unref(h);
}
