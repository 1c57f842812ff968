/*
 * The device listener and its connections: see device-links.h.
 *
 * The connections' sockets are read through one epoll set, which the main
 * loop watches as a single fd: with hundreds of devices, a GLib source per
 * socket made every turn of the loop look at all of them (poll() and each
 * source's check), and throughput fell as devices were added.
 */
#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device-links.h"
#include "log-episode.h"
#include "sockets.h"
#include "vgpu/codec.h"
#include "vgpu/ops.h"
#include "window.h"

#define DEVICE_IN_BUFFER    (4 * VGPU_WIRE_MAX_MESSAGE)
#define DEVICE_SOCKET_MODE  0660
#define DEVICE_FDS_PER_READ 4       /* room to see (and refuse) more fds than WINDOW's one */
#define DEVICE_EVENTS_PER_TURN 64   /* connections read per turn of the main loop, at most */

struct device_conn {
    gint refcount;
    struct device_links *owner;          /* NULL once closed (main thread) */
    struct device_links *links;     /* the same, never NULL: output accounting */
    GMutex lock;                    /* guards fd, closed, out, out_scheduled, stuck */
    int fd;
    bool closed;
    GByteArray *out;                /* bytes the socket did not take yet */
    bool out_scheduled;             /* the main thread was asked to flush out */
    bool stuck;                     /* out grew past device-output-max */
    bool reading;                   /* main thread: fd in the epoll set */
    guint out_watch;                /* main thread */
    guint deadline;                 /* main thread: HELLO or the message begun is due */
    pid_t peer_pid;                 /* SO_PEERCRED at accept */
    uid_t peer_uid;
    bool hello;                     /* HELLO received */
    uint8_t uuid[16];               /* from HELLO */
    char uuid_str[VGPU_UUID_STRING_LEN + 1];
    struct registry_vm *vm;         /* the identity it was given (a reference), or NULL */
    int in_fd;                      /* an fd received (SCM_RIGHTS) for WINDOW, or -1 */
    struct window *window;          /* from WINDOW (a reference), or NULL */
    size_t in_len;
    unsigned char in[DEVICE_IN_BUFFER];
};

struct device_links {
    struct config_limits limits;
    gssize out_total;               /* atomic: unsent bytes of all connections */
    GHashTable *per_uid;            /* peer uid -> its open connections */
    struct log_episode refusals;    /* connections refused at a limit */
    uint64_t accepted;              /* connections accepted since the start */
    uint64_t refused;               /* and refused at a limit */
    struct log_episode stalls;      /* connections closed for silence */
    char *socket_path;
    struct sockets_listener *listener;  /* NULL once stopped */
    struct registry *registry;
    struct scheduler *scheduler;    /* NULL once reading stopped */
    int epoll_fd;                   /* the connections being read */
    guint epoll_watch;              /* the main loop's source for it */
    GHashTable *conns;              /* the open connections (holding a reference each) */
    GHashTable *by_uuid;            /* uuid_str -> GPtrArray of conns that said HELLO */
};

static struct device_conn *conn_ref(struct device_conn *c)
{
    g_atomic_int_inc(&c->refcount);
    return c;
}

static gpointer conn_copy_ref(gconstpointer src, gpointer data)
{
    (void)data;
    return conn_ref((struct device_conn *)src);
}

static void conn_unref(gpointer data)
{
    struct device_conn *c = data;

    if (g_atomic_int_dec_and_test(&c->refcount)) {
        if (c->window) {
            window_unref(c->window);
        }
        g_byte_array_unref(c->out);
        g_mutex_clear(&c->lock);
        g_free(c);
    }
}

/* "pid 1234 (uuid ...)" for messages. */
static const char *conn_label(struct device_conn *c, char *buf, size_t size)
{
    if (c->hello) {
        snprintf(buf, size, "device pid %d (uuid %s)", (int)c->peer_pid, c->uuid_str);
    } else {
        snprintf(buf, size, "device pid %d (before HELLO)", (int)c->peer_pid);
    }
    return buf;
}
#define LABEL(c) conn_label((c), (char[96]){ 0 }, 96)

/* c->out went from old_len to its length now (caller holds c->lock). */
static void conn_out_changed(struct device_conn *c, gsize old_len)
{
    g_atomic_pointer_add(&c->links->out_total, (gssize)c->out->len - (gssize)old_len);
}

/* Write what out holds (caller holds c->lock).  FALSE when the peer is gone. */
static gboolean conn_on_writable(gint fd, GIOCondition cond, gpointer data);
static void conn_close(struct device_conn *c, uint32_t cancel_error);

/*
 * All connections together hold more unsent bytes than
 * device-output-total-max: close the one that holds the most (main thread).
 */
static void conn_close_largest_output(struct device_links *d)
{
    GHashTableIter iter;
    gpointer key;
    struct device_conn *largest = NULL;
    guint most = 0;

    g_hash_table_iter_init(&iter, d->conns);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        struct device_conn *c = key;

        g_mutex_lock(&c->lock);
        if (c->out->len > most) {
            most = c->out->len;
            largest = c;
        }
        g_mutex_unlock(&c->lock);
    }
    if (largest) {
        g_warning("devices hold more than %u unsent bytes in all (device-output-total-max): "
                  "closing %s, which holds %u", d->limits.device_output_total, LABEL(largest),
                  most);
        conn_close(largest, VGPU_ERR_CANCELLED);
    }
}

/* Main thread, asked by conn_send(): watch for room to write, or drop a stuck peer. */
static gboolean conn_out_requested(gpointer data)
{
    struct device_conn *c = data;
    bool stuck;

    if (!c->owner) {
        return G_SOURCE_REMOVE;
    }
    g_mutex_lock(&c->lock);
    stuck = c->stuck;
    if (!stuck && !c->out_watch) {
        c->out_watch = g_unix_fd_add(c->fd, G_IO_OUT, conn_on_writable, c);
    }
    g_mutex_unlock(&c->lock);
    if (stuck) {
        g_warning("%s stopped reading (more than %u bytes unsent, device-output-max): closing it",
                  LABEL(c), c->links->limits.device_output);
        conn_close(c, VGPU_ERR_CANCELLED);
    } else if ((gsize)g_atomic_pointer_get(&c->links->out_total) >
               c->links->limits.device_output_total) {
        conn_close_largest_output(c->links);
    }
    return G_SOURCE_REMOVE;
}

static gboolean conn_on_writable(gint fd, GIOCondition cond, gpointer data)
{
    struct device_conn *c = data;
    gboolean alive;
    guint old_len;

    (void)fd;
    (void)cond;
    g_mutex_lock(&c->lock);
    old_len = c->out->len;
    alive = sockets_flush(c->fd, c->out);
    conn_out_changed(c, old_len);
    if (c->out->len == 0 || !alive) {
        c->out_scheduled = false;
        c->out_watch = 0;
    }
    g_mutex_unlock(&c->lock);
    if (!alive) {
        conn_close(c, VGPU_ERR_CANCELLED);
        return G_SOURCE_REMOVE;
    }
    return c->out_watch ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/*
 * Send len bytes (any thread; never blocks).  Written straight to the
 * socket when nothing is waiting before them; else buffered for the main
 * thread to flush.  Dropped when the connection is closed.
 */
static void conn_send(struct device_conn *c, const void *buf, size_t len)
{
    g_mutex_lock(&c->lock);
    if (c->closed) {
        g_mutex_unlock(&c->lock);
        return;
    }
    if (c->out->len == 0) {
        ssize_t n;

        do {
            n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        if (n == (ssize_t)len) {
            g_mutex_unlock(&c->lock);
            return;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            g_mutex_unlock(&c->lock);   /* peer gone: its read side will see the hangup */
            return;
        }
        buf = (const unsigned char *)buf + (n > 0 ? n : 0);
        len -= (size_t)(n > 0 ? n : 0);
    }
    g_byte_array_append(c->out, buf, (guint)len);
    conn_out_changed(c, c->out->len - (guint)len);
    if (c->out->len > c->links->limits.device_output) {
        c->stuck = true;
    }
    /* the main thread also looks at the total each time it is over */
    if (!c->out_scheduled || c->stuck ||
        (gsize)g_atomic_pointer_get(&c->links->out_total) > c->links->limits.device_output_total) {
        c->out_scheduled = true;
        g_idle_add_full(G_PRIORITY_HIGH, conn_out_requested, conn_ref(c), conn_unref);
    }
    g_mutex_unlock(&c->lock);
}

static void send_identity(struct device_conn *c, uint32_t error, const struct registry_vm *vm)
{
    unsigned char msg[VGPU_WIRE_HEADER_SIZE + sizeof(struct vgpu_wire_identity)];
    struct vgpu_wire_identity id = {
        .error = error,
        .pool_id = vm ? vm->pool_id : 0,
        .priority = vm ? vm->priority : 0,
        .vm_id = vm ? vm->vm_id : 0,
    };

    conn_send(c, msg, vgpu_wire_identity_encode(msg, sizeof(msg), &id));
}

static void send_complete(struct device_conn *c, uint32_t seq, uint32_t request_id,
                          uint32_t error, const void *response, size_t response_len)
{
    unsigned char msg[VGPU_WIRE_MAX_MESSAGE];
    size_t len = vgpu_wire_complete_encode(msg, sizeof(msg), seq, request_id, error, response,
                                           response_len);

    g_assert(len > 0);
    conn_send(c, msg, len);
}

/* request_complete_fn of requests from devices: any thread. */
static void conn_request_complete(struct request *r, uint32_t error, const void *response,
                                  size_t response_len)
{
    send_complete(r->owner, r->seq, r->request_id, error, response, response_len);
}

static unsigned uid_count(struct device_links *d, uid_t uid)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(d->per_uid, GUINT_TO_POINTER(uid)));
}

static void uid_count_drop(struct device_links *d, uid_t uid)
{
    unsigned n = uid_count(d, uid);

    if (n > 1) {
        g_hash_table_insert(d->per_uid, GUINT_TO_POINTER(uid), GUINT_TO_POINTER(n - 1));
    } else {
        g_hash_table_remove(d->per_uid, GUINT_TO_POINTER(uid));
    }
}

static void by_uuid_remove(struct device_links *d, struct device_conn *c)
{
    GPtrArray *list = g_hash_table_lookup(d->by_uuid, c->uuid_str);

    if (list) {
        g_ptr_array_remove(list, c);
        if (list->len == 0) {
            g_hash_table_remove(d->by_uuid, c->uuid_str);
        }
    }
}

static bool request_of_conn(struct request *r, void *data)
{
    return r->owner == data;
}

/* Take c's socket out of the epoll set (main thread). */
static void conn_stop_reading(struct device_links *d, struct device_conn *c)
{
    if (c->reading) {
        epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
        c->reading = false;
    }
}

/*
 * Close c (main thread): its queued requests end with cancel_error (and
 * are not answered: there is no one to answer).  Anything already queued
 * for output is tried once more so that a last IDENTITY arrives.
 */
static void conn_close(struct device_conn *c, uint32_t cancel_error)
{
    struct device_links *d = c->owner;
    guint old_len;

    if (!d) {
        return;
    }
    c->owner = NULL;
    conn_stop_reading(d, c);
    if (c->out_watch) {
        g_source_remove(c->out_watch);
        c->out_watch = 0;
    }
    if (c->hello) {
        by_uuid_remove(d, c);
    }
    if (c->deadline) {
        g_source_remove(c->deadline);
        c->deadline = 0;
    }
    uid_count_drop(d, c->peer_uid);
    g_mutex_lock(&c->lock);
    old_len = c->out->len;
    sockets_flush(c->fd, c->out);
    c->closed = true;
    close(c->fd);
    c->fd = -1;
    g_byte_array_set_size(c->out, 0);
    conn_out_changed(c, old_len);
    g_mutex_unlock(&c->lock);
    if (c->in_fd >= 0) {
        close(c->in_fd);
        c->in_fd = -1;
    }
    if (d->scheduler) {
        unsigned n = scheduler_cancel(d->scheduler, request_of_conn, c, cancel_error);

        if (n) {
            g_info("%s: %u queued request(s) dropped (%s)", LABEL(c), n,
                   vgpu_error_name(cancel_error));
        }
    }
    g_clear_pointer(&c->vm, registry_vm_unref);
    g_hash_table_remove(d->conns, c);       /* drops the set's reference */
}

/*
 * HELLO, or the rest of a message begun, did not come in time: the peer
 * holds a connection without using it (main thread).
 */
static gboolean conn_deadline_passed(gpointer data)
{
    struct device_conn *c = data;
    struct device_links *d = c->owner;

    c->deadline = 0;
    log_episode_event(&d->stalls, "%s: %s within %u ms: closing it", LABEL(c),
                      c->hello ? "sent part of a message and not the rest"
                               : "sent no HELLO",
                      c->hello ? d->limits.message_timeout_ms : d->limits.hello_timeout_ms);
    conn_close(c, VGPU_ERR_PROTOCOL);
    return G_SOURCE_REMOVE;
}

/* Before HELLO, and while a message is partly read, something is due. */
static void conn_update_deadline(struct device_conn *c)
{
    bool due = !c->hello || c->in_len > 0;

    if (due && !c->deadline) {
        c->deadline = g_timeout_add(c->hello ? c->owner->limits.message_timeout_ms
                                             : c->owner->limits.hello_timeout_ms,
                                    conn_deadline_passed, c);
    } else if (!due && c->deadline) {
        g_source_remove(c->deadline);
        c->deadline = 0;
    }
}

/* A malformed wire message: log it with the peer, close, charge its queue to PROTOCOL. */
static void conn_protocol_error(struct device_conn *c, const char *why)
{
    g_warning("%s: %s: closing the connection", LABEL(c), why);
    conn_close(c, VGPU_ERR_PROTOCOL);
}

/*
 * Give c the identity the registry holds for its UUID (or none), and close
 * it when the registered pid is not its peer.  initial: right after HELLO,
 * when an IDENTITY is always sent.  FALSE when c was closed.
 */
static gboolean conn_update_identity(struct device_links *d, struct device_conn *c, bool initial)
{
    struct registry_vm *vm = registry_lookup(d->registry, c->uuid);

    if (vm && vm->pid && vm->pid != c->peer_pid) {
        g_warning("%s claims domain '%s', whose registered QEMU is pid %d: refused (PERMISSION)",
                  LABEL(c), vm->name, (int)vm->pid);
        send_identity(c, VGPU_ERR_PERMISSION, NULL);
        conn_close(c, VGPU_ERR_PERMISSION);
        return FALSE;
    }
    if (vm && c->vm != vm) {
        g_clear_pointer(&c->vm, registry_vm_unref);
        c->vm = registry_vm_ref(vm);
        g_info("%s is domain '%s': pool %c, priority %s, vm-id %u", LABEL(c), vm->name,
               (char)vm->pool_id, vgpu_priority_name(vm->priority), vm->vm_id);
        send_identity(c, VGPU_OK, vm);
    } else if (!vm && (c->vm || initial)) {
        g_clear_pointer(&c->vm, registry_vm_unref);
        g_info("%s is not registered: it waits for its registration", LABEL(c));
        send_identity(c, VGPU_ERR_NOT_REGISTERED, NULL);
    }
    return TRUE;
}

static gboolean handle_hello(struct device_links *d, struct device_conn *c,
                             const unsigned char *p, size_t len)
{
    struct vgpu_wire_hello hello;
    uint32_t version;
    GPtrArray *list;

    if (c->hello) {
        conn_protocol_error(c, "HELLO sent twice");
        return FALSE;
    }
    if (vgpu_wire_hello_decode(p, len, &hello) != VGPU_OK) {
        conn_protocol_error(c, "HELLO with a nonzero reserved word");
        return FALSE;
    }
    version = hello.protocol_version;
    c->hello = true;
    if (c->deadline) {
        g_source_remove(c->deadline);       /* from now on only a partial message is timed */
        c->deadline = 0;
    }
    log_episode_end(&d->stalls, "device connections closed for sending nothing");
    memcpy(c->uuid, hello.uuid, sizeof(c->uuid));
    vgpu_uuid_format(c->uuid, c->uuid_str);
    list = g_hash_table_lookup(d->by_uuid, c->uuid_str);
    if (!list) {
        list = g_ptr_array_new();
        g_hash_table_insert(d->by_uuid, g_strdup(c->uuid_str), list);
    }
    g_ptr_array_add(list, c);
    if (version >> 16 != VGPU_PROTOCOL_VERSION >> 16) {
        g_warning("%s speaks protocol %u.%u, this mediator %u.%u: refused", LABEL(c),
                  version >> 16, version & 0xffff, VGPU_PROTOCOL_VERSION >> 16,
                  VGPU_PROTOCOL_VERSION & 0xffff);
        send_identity(c, VGPU_ERR_BAD_VERSION, NULL);
        conn_close(c, VGPU_ERR_BAD_VERSION);
        return FALSE;
    }
    return conn_update_identity(d, c, true);
}

static gboolean handle_submit(struct device_links *d, struct device_conn *c, uint32_t seq,
                              const unsigned char *p, size_t len)
{
    struct vgpu_wire_submit_view submit;
    uint32_t request_id;
    struct request *r;
    uint32_t error;

    if (!c->hello) {
        conn_protocol_error(c, "SUBMIT before HELLO");
        return FALSE;
    }
    if (vgpu_wire_submit_decode(p, len, &submit) != VGPU_OK) {
        conn_protocol_error(c, "SUBMIT with a nonzero reserved word");
        return FALSE;
    }
    request_id = submit.request_id;
    if (!c->vm) {
        unsigned char response[VGPU_RESPONSE_HEADER_SIZE];
        size_t rlen = vgpu_response_encode(response, sizeof(response), VGPU_ERR_NOT_REGISTERED,
                                           NULL, 0, NULL, 0, 0);

        scheduler_count_unattributed(d->scheduler, VGPU_ERR_NOT_REGISTERED);
        send_complete(c, seq, request_id, VGPU_ERR_NOT_REGISTERED, response, rlen);
        return TRUE;
    }
    r = request_new(c->vm, seq, request_id, submit.request, submit.request_len,
                    conn_request_complete, conn_ref(c), conn_unref);
    error = vgpu_request_decode(r->bytes, r->length, &r->view);
    if (error == VGPU_OK && vgpu_opcode_uses_window(r->view.opcode)) {
        error = !c->window ? VGPU_ERR_NO_WINDOW
                           : vgpu_window_op_decode(&r->view, c->window->w.size, &r->op);
        if (error == VGPU_OK) {
            r->window = window_ref(c->window);
        }
    }
    if (error != VGPU_OK) {
        g_debug("%s: request %u refused: %s", LABEL(c), request_id, vgpu_error_name(error));
        scheduler_reject(d->scheduler, r, error);
    } else {
        scheduler_submit(d->scheduler, r);
    }
    return TRUE;
}

/* The last reference to a window went: its backends may drop their state for it. */
static void links_window_released(uint64_t window_id, void *data)
{
    struct device_links *d = data;
    struct scheduler *s = g_atomic_pointer_get(&d->scheduler);

    if (s) {
        scheduler_window_released(s, window_id);
    }
}

static gboolean handle_window(struct device_links *d, struct device_conn *c,
                              const unsigned char *p, size_t len)
{
    g_autoptr(GError) error = NULL;
    const char *why = NULL;
    uint64_t size = 0;
    int fd = c->in_fd;

    c->in_fd = -1;
    if (!c->hello) {
        why = "WINDOW before HELLO";
    } else if (c->window) {
        why = "WINDOW sent twice";
    } else if (vgpu_wire_window_decode(p, len, &size) != VGPU_OK) {
        why = "WINDOW size is not a power of two from 4 KiB to 16 GiB";
    } else if (fd < 0) {
        why = "WINDOW came without its memfd (SCM_RIGHTS)";
    }
    if (why) {
        if (fd >= 0) {
            close(fd);
        }
        conn_protocol_error(c, why);
        return FALSE;
    }
    if (size > (uint64_t)d->limits.window_mib << 20) {
        /* not a protocol error: the device would reconnect and send it again */
        close(fd);
        g_warning("%s: its data window of %" G_GUINT64_FORMAT " MiB is over window-max-mib (%u): "
                  "not mapped; its window operations end in NO_WINDOW", LABEL(c), size >> 20,
                  d->limits.window_mib);
        return TRUE;
    }
    c->window = window_new(fd, size, links_window_released, d, &error);
    if (!c->window) {
        g_autofree char *refused = g_strdup_printf("WINDOW refused: %s", error->message);

        conn_protocol_error(c, refused);
        return FALSE;
    }
    g_info("%s: data window of %" G_GUINT64_FORMAT " bytes mapped", LABEL(c), size);
    return TRUE;
}

/* Handle one whole message.  FALSE when c was closed. */
static gboolean handle_message(struct device_links *d, struct device_conn *c,
                               const struct vgpu_wire_header *hdr, const unsigned char *payload)
{
    switch (hdr->type) {
    case VGPU_WIRE_HELLO:
        return handle_hello(d, c, payload, hdr->length);
    case VGPU_WIRE_SUBMIT:
        return handle_submit(d, c, hdr->seq, payload, hdr->length);
    case VGPU_WIRE_WINDOW:
        return handle_window(d, c, payload, hdr->length);
    default:
        conn_protocol_error(c, hdr->type == VGPU_WIRE_IDENTITY
                                   ? "a device sent IDENTITY (only the mediator sends it)"
                                   : "a device sent COMPLETE (only the mediator sends it)");
        return FALSE;
    }
}

/*
 * Read what the socket has into c->in, and an fd sent with it into
 * c->in_fd.  Returns recv's result, or -2 when fds came that WINDOW does
 * not account for (more than one pending): they are closed.
 */
static ssize_t conn_receive(struct device_conn *c, int fd)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(DEVICE_FDS_PER_READ * sizeof(int))];
    } control;
    struct iovec iov = { c->in + c->in_len, sizeof(c->in) - c->in_len };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
    };
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    bool refused = (msg.msg_flags & MSG_CTRUNC) != 0;

    if (n < 0) {
        return n;
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        int *fds = (int *)CMSG_DATA(cm);
        size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        for (size_t i = 0; i < count; i++) {
            if (c->in_fd < 0 && !refused) {
                c->in_fd = fds[i];
            } else {
                close(fds[i]);
                refused = true;
            }
        }
    }
    return refused ? -2 : n;
}

/* Read what c's socket has and handle each whole message (main thread). */
static void conn_read(struct device_conn *c)
{
    struct device_links *d = c->owner;
    size_t used = 0;
    ssize_t n;

    n = conn_receive(c, c->fd);
    if (n == -2) {
        conn_protocol_error(c, "more than one file descriptor sent (only WINDOW carries one)");
        return;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK)) {
        if (c->in_len) {
            conn_protocol_error(c, "connection ended inside a message");
        } else {
            g_info("%s disconnected", LABEL(c));
            conn_close(c, VGPU_ERR_CANCELLED);
        }
        return;
    }
    if (n < 0) {
        return;
    }
    c->in_len += (size_t)n;
    while (c->in_len - used >= VGPU_WIRE_HEADER_SIZE) {
        struct vgpu_wire_header hdr;

        if (vgpu_wire_header_decode(c->in + used, &hdr) != VGPU_OK) {
            conn_protocol_error(c, "malformed wire header (magic, version, type, seq or length)");
            return;
        }
        if (c->in_len - used < VGPU_WIRE_HEADER_SIZE + hdr.length) {
            break;
        }
        if (!handle_message(d, c, &hdr, c->in + used + VGPU_WIRE_HEADER_SIZE)) {
            return;
        }
        used += VGPU_WIRE_HEADER_SIZE + hdr.length;
    }
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    conn_update_deadline(c);
}

/*
 * The epoll set has readable connections: read each once (level-triggered:
 * what is left is reported again next turn).  Each is held by a reference
 * while the batch runs, since handling one may close another.
 */
static gboolean links_on_readable(gint fd, GIOCondition cond, gpointer data)
{
    struct device_links *d = data;
    struct epoll_event events[DEVICE_EVENTS_PER_TURN];
    int n = epoll_wait(fd, events, DEVICE_EVENTS_PER_TURN, 0);

    (void)cond;
    for (int i = 0; i < n; i++) {
        conn_ref(events[i].data.ptr);
    }
    for (int i = 0; i < n; i++) {
        struct device_conn *c = events[i].data.ptr;

        if (c->owner == d && c->reading) {
            conn_read(c);
        }
        conn_unref(c);
    }
    return G_SOURCE_CONTINUE;
}

/* A new connection from the listener: checked, then read on the main loop. */
static void device_links_on_accept(int cfd, void *data)
{
    struct device_links *d = data;
    struct ucred cred = { 0 };
    socklen_t cred_len = sizeof(cred);
    struct device_conn *c;

    if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) < 0) {
        g_warning("a device connection without peer credentials: %s", g_strerror(errno));
        close(cfd);
        return;
    }
    if (g_hash_table_size(d->conns) >= d->limits.device_connections) {
        log_episode_event(&d->refusals, "device pid %d refused: already %u connections "
                          "(device-connections-max)", (int)cred.pid,
                          d->limits.device_connections);
        d->refused++;
        close(cfd);
        return;
    }
    if (uid_count(d, cred.uid) >= d->limits.device_connections_per_uid) {
        log_episode_event(&d->refusals, "device pid %d refused: uid %d already has %u "
                          "connections (device-connections-per-uid)", (int)cred.pid,
                          (int)cred.uid, d->limits.device_connections_per_uid);
        d->refused++;
        close(cfd);
        return;
    }
    log_episode_end(&d->refusals, "device connections refused at a limit");
    d->accepted++;
    g_hash_table_insert(d->per_uid, GUINT_TO_POINTER(cred.uid),
                        GUINT_TO_POINTER(uid_count(d, cred.uid) + 1));
    c = g_new0(struct device_conn, 1);
    c->refcount = 1;
    c->owner = d;
    c->links = d;
    c->peer_uid = cred.uid;
    g_mutex_init(&c->lock);
    c->fd = cfd;
    c->out = g_byte_array_new();
    c->peer_pid = cred.pid;
    c->in_fd = -1;
    if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, cfd,
                  &(struct epoll_event){ .events = EPOLLIN, .data.ptr = c }) < 0) {
        g_warning("device pid %d: cannot watch its socket: %s; closing it", (int)cred.pid,
                  g_strerror(errno));
        uid_count_drop(d, cred.uid);
        close(cfd);
        g_mutex_clear(&c->lock);
        g_byte_array_unref(c->out);
        g_free(c);
        return;
    }
    c->reading = true;
    g_hash_table_add(d->conns, c);
    conn_update_deadline(c);
    g_debug("device pid %d (uid %d) connected", (int)cred.pid, (int)cred.uid);
}

struct device_links *device_links_new(const char *socket_path, const char *group,
                                      const struct config_limits *limits,
                                      struct registry *registry, struct scheduler *scheduler,
                                      GError **error)
{
    int fd = sockets_listen(socket_path, DEVICE_SOCKET_MODE, group, error);
    struct device_links *d;

    if (fd < 0) {
        return NULL;
    }
    d = g_new0(struct device_links, 1);
    d->limits = *limits;
    d->per_uid = g_hash_table_new(g_direct_hash, g_direct_equal);
    d->socket_path = g_strdup(socket_path);
    d->registry = registry;
    d->scheduler = scheduler;
    d->conns = g_hash_table_new_full(g_direct_hash, g_direct_equal, conn_unref, NULL);
    d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (d->epoll_fd < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "epoll_create1: %s",
                    g_strerror(errno));
        close(fd);
        unlink(socket_path);
        g_hash_table_destroy(d->conns);
        g_hash_table_destroy(d->per_uid);
        g_free(d->socket_path);
        g_free(d);
        return NULL;
    }
    d->epoll_watch = g_unix_fd_add(d->epoll_fd, G_IO_IN, links_on_readable, d);
    d->by_uuid = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify)g_ptr_array_unref);
    d->listener = sockets_listener_new(fd, "device", device_links_on_accept, d);
    return d;
}

void device_links_stop_listening(struct device_links *d)
{
    if (d->listener) {
        sockets_listener_free(d->listener);
        unlink(d->socket_path);
        d->listener = NULL;
    }
}

void device_links_stop_reading(struct device_links *d)
{
    GHashTableIter iter;
    gpointer key;

    g_atomic_pointer_set(&d->scheduler, NULL);
    g_hash_table_iter_init(&iter, d->conns);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        struct device_conn *c = key;

        conn_stop_reading(d, c);
    }
}

/* fn(c) summed over the open connections, each called under c's lock. */
static gsize conns_sum(struct device_links *d, gsize (*fn)(struct device_conn *c))
{
    GHashTableIter iter;
    gpointer key;
    gsize sum = 0;

    g_hash_table_iter_init(&iter, d->conns);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        struct device_conn *c = key;

        g_mutex_lock(&c->lock);
        sum += c->closed ? 0 : fn(c);
        g_mutex_unlock(&c->lock);
    }
    return sum;
}

static gsize conn_shutdown_output(struct device_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    return 0;
}

/* 1 while c's peer still holds its end: reads (and drops) what it sent meanwhile. */
static gsize conn_peer_open(struct device_conn *c)
{
    unsigned char sink[256];
    ssize_t n;

    do {
        n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
    } while (n > 0 || (n < 0 && errno == EINTR));
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static gsize conn_pending_output(struct device_conn *c)
{
    return c->out->len;
}

void device_links_shutdown_output(struct device_links *d)
{
    conns_sum(d, conn_shutdown_output);
}

unsigned device_links_open_peers(struct device_links *d)
{
    return (unsigned)conns_sum(d, conn_peer_open);
}

gsize device_links_pending_output(struct device_links *d)
{
    return conns_sum(d, conn_pending_output);
}

void device_links_free(struct device_links *d)
{
    GList *conns;

    device_links_stop_listening(d);
    d->scheduler = NULL;
    conns = g_hash_table_get_keys(d->conns);
    for (GList *l = conns; l; l = l->next) {
        conn_close(l->data, VGPU_ERR_CANCELLED);
    }
    g_list_free(conns);
    g_hash_table_destroy(d->conns);
    g_hash_table_destroy(d->by_uuid);
    g_hash_table_destroy(d->per_uid);
    g_source_remove(d->epoll_watch);
    close(d->epoll_fd);
    g_free(d->socket_path);
    g_free(d);
}

unsigned device_links_registration_changed(struct device_links *d, const uint8_t uuid[16])
{
    char key[VGPU_UUID_STRING_LEN + 1];
    GPtrArray *list, *copy;
    unsigned closed = 0;

    vgpu_uuid_format(uuid, key);
    list = g_hash_table_lookup(d->by_uuid, key);
    if (!list) {
        return 0;
    }
    /* Closing a connection edits the list: walk a copy. */
    copy = g_ptr_array_copy(list, conn_copy_ref, NULL);
    for (guint i = 0; i < copy->len; i++) {
        struct device_conn *c = g_ptr_array_index(copy, i);

        if (c->owner && !conn_update_identity(d, c, false)) {
            closed++;
        }
        conn_unref(c);
    }
    g_ptr_array_unref(copy);
    return closed;
}

unsigned device_links_connected(struct device_links *d, const uint8_t uuid[16])
{
    char key[VGPU_UUID_STRING_LEN + 1];
    GPtrArray *list;

    vgpu_uuid_format(uuid, key);
    list = g_hash_table_lookup(d->by_uuid, key);
    return list ? list->len : 0;
}

unsigned device_links_count(struct device_links *d)
{
    return g_hash_table_size(d->conns);
}

void device_links_totals(struct device_links *d, uint64_t *accepted, uint64_t *refused)
{
    *accepted = d->accepted;
    *refused = d->refused;
}
