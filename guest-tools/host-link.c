/*
 * The host link: the device's side of the wire protocol over a unix
 * socket, from a host process.  See host-link.h.
 *
 * Every frame is built and checked by the one codec (include/vgpu/codec.h),
 * as in the QEMU device and the mediator.  Frames may arrive in pieces, and
 * a wait may end in the middle of one: the bytes of a frame not yet whole
 * stay in rx for the next read.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backoff.h"
#include "clock.h"
#include "host-link.h"
#include "result.h"
#include "vgpu/codec.h"
#include "vgpu/identity.h"

struct vgpu_host_link {
    char address[VGPU_HOST_LINK_ADDRESS_MAX];   /* "unix:PATH", for messages */
    struct sockaddr_un peer;        /* the mediator's device socket */
    uint8_t uuid[16];               /* the VM this link speaks for */
    const struct vgpu_window *window;   /* the caller's, sent on every connection */
    bool spin;                      /* POLL: spin on the socket before blocking */
    unsigned timeout_ms;            /* per request, for messages */
    int fd;                         /* the connection; -1 while there is none */
    struct vgpu_wire_identity identity; /* the last IDENTITY */
    uint32_t next_seq;              /* seq of the next SUBMIT, never 0 */
    uint32_t inflight_seq;          /* a SUBMIT that timed out unanswered, or 0 */
    unsigned char rx[VGPU_WIRE_MAX_MESSAGE];    /* the frame being read */
    size_t rx_len;                  /* bytes of it read so far */
};

/* What reading one frame gave. */
enum link_read {
    LINK_READ_FRAME,                /* a whole frame with a valid header */
    LINK_READ_TIMEOUT,
    LINK_READ_CLOSED,               /* the mediator closed the connection (or reset it) */
    LINK_READ_MALFORMED,            /* a header the codec refused */
    LINK_READ_ERROR,                /* a system call failed (errno) */
};

bool vgpu_host_link_selected(const char *address)
{
    return address && strncmp(address, VGPU_HOST_LINK_PREFIX,
                              sizeof(VGPU_HOST_LINK_PREFIX) - 1) == 0;
}

/* $VGPU_WINDOW_SIZE: bytes, or with K, M, G (KiB, MiB, GiB) as QEMU's window-size takes. */
static enum vgpu_result link_window_size(uint64_t *size)
{
    static const struct { const char *suffix; unsigned shift; } units[] = {
        { "", 0 }, { "K", 10 }, { "KiB", 10 }, { "M", 20 }, { "MiB", 20 },
        { "G", 30 }, { "GiB", 30 },
    };
    const char *text = secure_getenv(VGPU_WINDOW_SIZE_ENV);
    unsigned long long v;
    char *end;

    *size = VGPU_WINDOW_SIZE_DEFAULT;
    if (!text || !text[0]) {
        return VGPU_RESULT_OK;
    }
    errno = 0;
    v = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
    for (size_t i = 0; v && errno == 0 && i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) == 0 && v <= VGPU_WINDOW_SIZE_MAX >> units[i].shift) {
            v <<= units[i].shift;
            if (v >= VGPU_WINDOW_SIZE_MIN && (v & (v - 1)) == 0) {
                *size = v;
                return VGPU_RESULT_OK;
            }
            break;
        }
    }
    return vgpu_result_fail(VGPU_RESULT_INVALID, VGPU_WINDOW_SIZE_ENV "=%s: the data window "
                            "must be a power of two from 4K to 16G (bytes, or with K, M, G)",
                            text);
}

/* The bytes to send: a whole frame, or -1 with errno. */
static int link_send_all(struct vgpu_host_link *link, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len) {
        ssize_t n = send(link->fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* WINDOW with the window's memfd attached, as the device sends it. */
static int link_send_window(struct vgpu_host_link *link)
{
    unsigned char frame[VGPU_WIRE_HEADER_SIZE + sizeof(struct vgpu_wire_window)];
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct iovec iov = {
        frame, vgpu_wire_window_encode(frame, sizeof(frame), link->window->size)
    };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
    };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    ssize_t n;

    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &link->window->fd, sizeof(int));
    do {
        n = sendmsg(link->fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    /* The frame is tiny: a stream socket takes it whole or not at all. */
    return n == (ssize_t)iov.iov_len ? 0 : -1;
}

static void link_disconnect(struct vgpu_host_link *link)
{
    if (link->fd >= 0) {
        close(link->fd);
    }
    link->fd = -1;
    link->rx_len = 0;
    link->inflight_seq = 0;     /* the mediator ends what this connection had queued */
    memset(&link->identity, 0, sizeof(link->identity));
}

/*
 * Wait until the socket is readable: 1, 0 at deadline_ns, -1 on error.
 * Spinning first (POLL) saves the wake-up of a quick answer, as the device
 * path's polling does.
 */
static int link_wait_readable(const struct vgpu_host_link *link, uint64_t deadline_ns)
{
    struct pollfd pfd = { .fd = link->fd, .events = POLLIN };
    uint64_t now = vgpu_clock_now_ns();
    uint64_t spin_end = link->spin ? now + VGPU_BACKOFF_SPIN_NS : now;

    for (;;) {
        int timeout_ms = 0;
        int n;

        if (now >= spin_end) {
            uint64_t left_ms;

            if (now >= deadline_ns) {
                return 0;
            }
            left_ms = (deadline_ns - now + VGPU_NS_PER_MS - 1) / VGPU_NS_PER_MS;
            timeout_ms = left_ms > INT_MAX ? INT_MAX : (int)left_ms;
        }
        n = poll(&pfd, 1, timeout_ms);
        if (n > 0) {
            return 1;
        }
        if (n < 0 && errno != EINTR) {
            return -1;
        }
        now = vgpu_clock_now_ns();
    }
}

/*
 * Read one frame by deadline_ns.  On FRAME, *hdr is its header and *payload
 * points at its hdr->length bytes, valid until the next read.
 */
static enum link_read link_read_frame(struct vgpu_host_link *link, uint64_t deadline_ns,
                                      struct vgpu_wire_header *hdr,
                                      const unsigned char **payload)
{
    size_t want = VGPU_WIRE_HEADER_SIZE;

    if (link->rx_len >= VGPU_WIRE_HEADER_SIZE) {
        vgpu_wire_header_decode(link->rx, hdr);     /* accepted when it came */
        want += hdr->length;
    }
    while (link->rx_len < want) {
        ssize_t n;
        int ready = link_wait_readable(link, deadline_ns);

        if (ready <= 0) {
            return ready == 0 ? LINK_READ_TIMEOUT : LINK_READ_ERROR;
        }
        n = recv(link->fd, link->rx + link->rx_len, want - link->rx_len, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            return LINK_READ_CLOSED;
        }
        if (n < 0) {
            return LINK_READ_ERROR;
        }
        link->rx_len += (size_t)n;
        if (link->rx_len == VGPU_WIRE_HEADER_SIZE) {
            if (vgpu_wire_header_decode(link->rx, hdr) != VGPU_OK) {
                return LINK_READ_MALFORMED;
            }
            want += hdr->length;
        }
    }
    link->rx_len = 0;
    *payload = link->rx + VGPU_WIRE_HEADER_SIZE;
    return LINK_READ_FRAME;
}

/* Why a read gave no frame, for a message. */
static const char *link_read_why(enum link_read how)
{
    switch (how) {
    case LINK_READ_CLOSED:
        return "the mediator closed the connection";
    case LINK_READ_MALFORMED:
        return "the mediator sent a frame with a malformed header";
    case LINK_READ_ERROR:
        return strerror(errno);
    default:
        return "no answer in time";
    }
}

/* Take an IDENTITY frame: 0, or -1 when the codec refuses it. */
static int link_take_identity(struct vgpu_host_link *link, const struct vgpu_wire_header *hdr,
                              const unsigned char *payload)
{
    struct vgpu_wire_identity id;

    if (vgpu_wire_identity_decode(payload, hdr->length, &id) != VGPU_OK) {
        return -1;
    }
    link->identity = id;
    return 0;
}

/*
 * Connect, HELLO, WINDOW, and wait for the first IDENTITY, by deadline_ns.
 * OK whatever the IDENTITY says (the caller judges it); otherwise the
 * connection is closed again.
 */
static enum vgpu_result link_connect(struct vgpu_host_link *link, uint64_t deadline_ns)
{
    unsigned char hello[VGPU_WIRE_HEADER_SIZE + sizeof(struct vgpu_wire_hello)];
    const char *path = link->peer.sun_path;
    struct vgpu_wire_header hdr;
    const unsigned char *payload;
    enum link_read how;
    enum vgpu_result r;

    link->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (link->fd < 0) {
        return vgpu_result_fail(VGPU_RESULT_IO, "cannot create a unix socket: %m");
    }
    if (connect(link->fd, (const struct sockaddr *)&link->peer, sizeof(link->peer)) < 0) {
        r = errno == EACCES || errno == EPERM ? VGPU_RESULT_PERMISSION
            : errno == ENOENT || errno == ECONNREFUSED ? VGPU_RESULT_NO_DEVICE
            : VGPU_RESULT_IO;
        r = vgpu_result_fail(r, "cannot connect to the mediator's device socket %s: %m", path);
        goto fail;
    }
    /* In the QEMU device's order: HELLO, then the window, then IDENTITY comes. */
    if (link_send_all(link, hello, vgpu_wire_hello_encode(hello, sizeof(hello), link->uuid,
                                                          VGPU_PROTOCOL_VERSION)) < 0) {
        r = vgpu_result_fail(VGPU_RESULT_IO, "cannot send HELLO to %s: %m", path);
        goto fail;
    }
    /* A mediator that refuses the VM may close before taking the window:
     * the IDENTITY it sent first says why, so read on. */
    (void)link_send_window(link);
    how = link_read_frame(link, deadline_ns, &hdr, &payload);
    if (how != LINK_READ_FRAME) {
        r = vgpu_result_fail(how == LINK_READ_TIMEOUT ? VGPU_RESULT_TIMEOUT : VGPU_RESULT_PROTOCOL,
                             "%s: no IDENTITY after HELLO within %u ms: %s", link->address,
                             link->timeout_ms, link_read_why(how));
        goto fail;
    }
    /* The mediator answers HELLO first, before it takes the window. */
    if (hdr.type != VGPU_WIRE_IDENTITY || link_take_identity(link, &hdr, payload) < 0) {
        r = vgpu_result_fail(VGPU_RESULT_PROTOCOL, "%s answered HELLO with a malformed or "
                             "unexpected frame (type %u) instead of IDENTITY", link->address,
                             hdr.type);
        goto fail;
    }
    return VGPU_RESULT_OK;

fail:
    link_disconnect(link);
    return r;
}

enum vgpu_result vgpu_host_link_open(const char *address, enum vgpu_wait_mode wait,
                                     unsigned timeout_ms, struct vgpu_window *window,
                                     struct vgpu_host_link **out)
{
    const char *path = address + sizeof(VGPU_HOST_LINK_PREFIX) - 1;
    const char *uuid = secure_getenv(VGPU_VM_UUID_ENV);
    struct vgpu_host_link *link;
    char uuid_text[VGPU_UUID_STRING_LEN + 1];
    enum vgpu_result r;
    uint64_t size;

    *out = NULL;
    if (!path[0] || strlen(path) >= sizeof(link->peer.sun_path)) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "%s: a unix socket path must have 1..%zu "
                                "bytes", address, sizeof(link->peer.sun_path) - 1);
    }
    link = calloc(1, sizeof(*link));
    if (!link) {
        return vgpu_result_fail(VGPU_RESULT_IO, "out of memory for a host link");
    }
    link->fd = -1;
    snprintf(link->address, sizeof(link->address), "%s", address);
    link->peer.sun_family = AF_UNIX;
    strcpy(link->peer.sun_path, path);
    link->spin = wait != VGPU_WAIT_IRQ;
    link->timeout_ms = timeout_ms;
    link->next_seq = 1;
    link->window = window;
    if (uuid && !uuid[0]) {
        uuid = NULL;
    }
    if (!uuid || !vgpu_uuid_parse(uuid, link->uuid)) {
        r = vgpu_result_fail(VGPU_RESULT_INVALID, "%s: set " VGPU_VM_UUID_ENV " to the UUID of "
                             "a VM registered at the mediator (vgpuctl register UUID --pool A "
                             "--priority high --vm-id N)%s%s", address,
                             uuid ? "; it is " : "", uuid ? uuid : "");
        goto fail;
    }
    r = link_window_size(&size);
    if (r == VGPU_RESULT_OK) {
        r = vgpu_window_create(window, size);
    }
    if (r == VGPU_RESULT_OK) {
        r = link_connect(link, vgpu_clock_now_ns() + (uint64_t)timeout_ms * VGPU_NS_PER_MS);
    }
    if (r != VGPU_RESULT_OK) {
        goto fail;
    }
    vgpu_uuid_format(link->uuid, uuid_text);
    switch (link->identity.error) {
    case VGPU_OK:
        *out = link;
        return VGPU_RESULT_OK;
    case VGPU_ERR_NOT_REGISTERED:
        r = vgpu_result_fail(VGPU_RESULT_NO_DEVICE, "%s: VM %s is not registered at the mediator "
                             "(NOT_REGISTERED): register it first with vgpuctl register %s "
                             "--pool A --priority high --vm-id N", address, uuid_text, uuid_text);
        break;
    case VGPU_ERR_PERMISSION:
        r = vgpu_result_fail(VGPU_RESULT_PERMISSION, "%s: the mediator refused this process for "
                             "VM %s (PERMISSION): it is registered with another QEMU pid",
                             address, uuid_text);
        break;
    default:
        r = vgpu_result_fail(VGPU_RESULT_PROTOCOL, "%s: the mediator refused VM %s: %s (%u): %s",
                             address, uuid_text, vgpu_error_name(link->identity.error),
                             link->identity.error, vgpu_error_message(link->identity.error));
        break;
    }

fail:
    vgpu_host_link_close(link);
    return r;
}

void vgpu_host_link_close(struct vgpu_host_link *link)
{
    if (link) {
        link_disconnect(link);
        free(link);
    }
}

void vgpu_host_link_identity(const struct vgpu_host_link *link, uint32_t *pool_id,
                             uint32_t *priority, uint32_t *vm_id)
{
    *pool_id = link->identity.pool_id;
    *priority = link->identity.priority;
    *vm_id = link->identity.vm_id;
}

enum vgpu_wait_mode vgpu_host_link_wait_mode(const struct vgpu_host_link *link)
{
    return link->spin ? VGPU_WAIT_POLL : VGPU_WAIT_IRQ;
}

/*
 * End request c with an error the link found itself (as the device ends
 * it: ERROR, no response), dropping the connection unless it is already
 * gone.  why says what happened.
 */
static enum vgpu_result link_fail(struct vgpu_host_link *link, struct vgpu_completion *c,
                                  uint32_t code, const char *why)
{
    link_disconnect(link);
    c->status = VGPU_STATUS_ERROR;
    c->error_code = code;
    c->timestamp_ns = vgpu_clock_now_ns();
    c->response_len = 0;
    return vgpu_result_fail(VGPU_RESULT_DEVICE_ERROR, "%s: request %u failed: %s (%u): %s (%s)",
                            link->address, c->request_id, vgpu_error_name(code), code,
                            vgpu_error_message(code), why);
}

/*
 * Read frames until the COMPLETE of seq, taking IDENTITY updates on the
 * way.  FRAME with *complete filled (pointing into rx), or why not; a
 * frame that breaks the protocol is MALFORMED.
 */
static enum link_read link_await(struct vgpu_host_link *link, uint64_t deadline_ns, uint32_t seq,
                                 struct vgpu_wire_complete_view *complete)
{
    struct vgpu_wire_header hdr;
    const unsigned char *payload;

    for (;;) {
        enum link_read how = link_read_frame(link, deadline_ns, &hdr, &payload);

        if (how != LINK_READ_FRAME) {
            return how;
        }
        if (hdr.type == VGPU_WIRE_IDENTITY) {
            if (link_take_identity(link, &hdr, payload) < 0) {
                return LINK_READ_MALFORMED;
            }
            continue;
        }
        if (hdr.type != VGPU_WIRE_COMPLETE || hdr.seq != seq ||
            vgpu_wire_complete_decode(payload, hdr.length, complete) != VGPU_OK) {
            return LINK_READ_MALFORMED;
        }
        return LINK_READ_FRAME;
    }
}

/* Send SUBMIT for c, connecting first when there is no connection. */
static enum vgpu_result link_submit(struct vgpu_host_link *link, uint64_t deadline_ns,
                                    uint32_t seq, const void *request, size_t request_len,
                                    struct vgpu_completion *c)
{
    unsigned char frame[VGPU_WIRE_MAX_MESSAGE];
    size_t len = vgpu_wire_submit_encode(frame, sizeof(frame), seq, c->request_id, request,
                                         request_len);
    char why[VGPU_RESULT_DETAIL_MAX];

    /* A connection the mediator closed since the last request shows at
     * send (EPIPE): one fresh connection, as the device reconnects. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (link->fd < 0 && link_connect(link, deadline_ns) != VGPU_RESULT_OK) {
            snprintf(why, sizeof(why), "%s", vgpu_last_error());
            return link_fail(link, c, VGPU_ERR_NOT_CONNECTED, why);
        }
        if (link_send_all(link, frame, len) == 0) {
            return VGPU_RESULT_OK;
        }
        snprintf(why, sizeof(why), "cannot send the request: %s", strerror(errno));
        link_disconnect(link);
    }
    return link_fail(link, c, VGPU_ERR_NOT_CONNECTED, why);
}

enum vgpu_result vgpu_host_link_transact(struct vgpu_host_link *link, uint64_t deadline_ns,
                                         const void *request, size_t request_len,
                                         void *response, size_t response_cap,
                                         struct vgpu_completion *c)
{
    struct vgpu_wire_complete_view complete;
    enum link_read how;
    enum vgpu_result r;
    uint32_t seq;

    if (link->inflight_seq) {
        /* One request at a time, as on the device: the late one first. */
        how = link_await(link, deadline_ns, link->inflight_seq, &complete);
        if (how == LINK_READ_TIMEOUT) {
            return vgpu_result_fail(VGPU_RESULT_TIMEOUT, "%s is still busy with an earlier "
                                    "request after %u ms; not sending", link->address,
                                    link->timeout_ms);
        }
        if (how != LINK_READ_FRAME) {
            link_disconnect(link);
        }
        link->inflight_seq = 0;
    }
    seq = link->next_seq;
    link->next_seq = seq == UINT32_MAX ? 1 : seq + 1;
    r = link_submit(link, deadline_ns, seq, request, request_len, c);
    if (r != VGPU_RESULT_OK) {
        return r;
    }
    how = link_await(link, deadline_ns, seq, &complete);
    switch (how) {
    case LINK_READ_FRAME:
        break;
    case LINK_READ_TIMEOUT:
        link->inflight_seq = seq;
        return vgpu_result_fail(VGPU_RESULT_TIMEOUT, "no completion from %s within %u ms; "
                                "request %u stays in flight at the mediator", link->address,
                                link->timeout_ms, c->request_id);
    case LINK_READ_CLOSED:
    case LINK_READ_ERROR:
        return link_fail(link, c, VGPU_ERR_MEDIATOR_RESTARTED, link_read_why(how));
    case LINK_READ_MALFORMED:
        return link_fail(link, c, VGPU_ERR_PROTOCOL, "a malformed or unexpected frame from "
                         "the mediator");
    }
    if (complete.request_id != c->request_id) {
        return link_fail(link, c, VGPU_ERR_PROTOCOL, "its COMPLETE names another request");
    }
    c->status = complete.error == VGPU_OK ? VGPU_STATUS_DONE : VGPU_STATUS_ERROR;
    c->error_code = complete.error;
    c->timestamp_ns = vgpu_clock_now_ns();
    c->response_len = complete.response_len;
    if (response_cap && complete.response_len) {
        memcpy(response, complete.response,
               complete.response_len < response_cap ? complete.response_len : response_cap);
    }
    return VGPU_RESULT_OK;
}
