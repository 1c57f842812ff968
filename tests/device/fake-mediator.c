/*
 * Fake vgpu-mediatord for the device tests: see fake-mediator.h.
 */
#define _GNU_SOURCE     /* accept4, MSG_CMSG_CLOEXEC, F_GET_SEALS */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>

#include "vgpu/codec.h"
#include "fake-mediator.h"

#define FM_MAX_FDS  4            /* fds one read takes; a WINDOW brings one */

struct FakeMediator {
    char *path;
    int listen_fd;              /* -1 while stopped */
    int conn_fd;                /* -1 while no device is connected */

    /* fds that arrived with the bytes of the message being read */
    int fds[FM_MAX_FDS];
    unsigned nfds;

    /* The last WINDOW's memfd and our shared mapping of it */
    FmWindow window;
    unsigned windows;           /* WINDOW messages taken so far */
};

static void fm_listen(FakeMediator *fm)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };

    g_assert_cmpuint(strlen(fm->path), <, sizeof(addr.sun_path));
    strcpy(addr.sun_path, fm->path);
    unlink(fm->path);
    fm->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(fm->listen_fd, >=, 0);
    g_assert_cmpint(bind(fm->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(fm->listen_fd, 4), ==, 0);
}

FakeMediator *fm_new(const char *path)
{
    FakeMediator *fm = g_new0(FakeMediator, 1);

    fm->path = g_strdup(path);
    fm->conn_fd = -1;
    fm->window.fd = -1;
    fm_listen(fm);
    return fm;
}

static void fm_close_fds(FakeMediator *fm)
{
    for (unsigned i = 0; i < fm->nfds; i++) {
        close(fm->fds[i]);
    }
    fm->nfds = 0;
}

static void fm_unmap_window(FakeMediator *fm)
{
    if (fm->window.base) {
        g_assert_cmpint(munmap(fm->window.base, fm->window.size), ==, 0);
    }
    if (fm->window.fd >= 0) {
        close(fm->window.fd);
    }
    fm->window = (FmWindow){ .fd = -1 };
}

void fm_drop_connection(FakeMediator *fm)
{
    if (fm->conn_fd >= 0) {
        close(fm->conn_fd);
        fm->conn_fd = -1;
    }
}

void fm_stop(FakeMediator *fm)
{
    fm_drop_connection(fm);
    if (fm->listen_fd >= 0) {
        close(fm->listen_fd);
        fm->listen_fd = -1;
    }
    unlink(fm->path);
}

void fm_restart(FakeMediator *fm)
{
    g_assert_cmpint(fm->listen_fd, <, 0);
    fm_listen(fm);
}

void fm_free(FakeMediator *fm)
{
    if (!fm) {
        return;
    }
    fm_stop(fm);
    fm_close_fds(fm);
    fm_unmap_window(fm);
    g_free(fm->path);
    g_free(fm);
}

/* Wait for fd to become readable; false on timeout. */
static bool fm_poll(int fd, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    int n;

    do {
        n = poll(&pfd, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    g_assert_cmpint(n, >=, 0);
    return n == 1;
}

void fm_accept(FakeMediator *fm)
{
    g_assert_cmpint(fm->listen_fd, >=, 0);
    fm_drop_connection(fm);
    if (!fm_poll(fm->listen_fd, FM_TIMEOUT_MS)) {
        g_error("fake mediator: the device did not connect within %d ms", FM_TIMEOUT_MS);
    }
    fm->conn_fd = accept4(fm->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    g_assert_cmpint(fm->conn_fd, >=, 0);
}

/*
 * One recvmsg: the bytes go to buf, the fds passed with them (SCM_RIGHTS)
 * to fm->fds.  Only the bytes asked for are read, so the fds are those
 * the device attached to this message.
 */
static ssize_t fm_recv(FakeMediator *fm, void *buf, size_t len)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(FM_MAX_FDS * sizeof(int))];
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
    };
    ssize_t n = recvmsg(fm->conn_fd, &msg, MSG_CMSG_CLOEXEC);

    if (n < 0) {
        return n;
    }
    g_assert_false(msg.msg_flags & MSG_CTRUNC);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

        g_assert_cmpint(c->cmsg_level, ==, SOL_SOCKET);
        g_assert_cmpint(c->cmsg_type, ==, SCM_RIGHTS);
        g_assert_cmpuint(fm->nfds + count, <=, FM_MAX_FDS);
        memcpy(fm->fds + fm->nfds, CMSG_DATA(c), count * sizeof(int));
        fm->nfds += count;
    }
    return n;
}

/* Read exactly len bytes; fails the test on EOF or timeout. */
static void fm_read_exact(FakeMediator *fm, void *buf, size_t len)
{
    unsigned char *p = buf;

    g_assert_cmpint(fm->conn_fd, >=, 0);
    while (len > 0) {
        ssize_t n;

        if (!fm_poll(fm->conn_fd, FM_TIMEOUT_MS)) {
            g_error("fake mediator: no message from the device within %d ms", FM_TIMEOUT_MS);
        }
        n = fm_recv(fm, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_error("fake mediator: the device closed the connection mid-read");
        }
        p += n;
        len -= (size_t)n;
    }
}

void fm_read_message(FakeMediator *fm, FmMessage *msg)
{
    uint8_t header[VGPU_WIRE_HEADER_SIZE];

    fm_close_fds(fm);
    fm_read_exact(fm, header, sizeof(header));
    g_assert_cmpuint(vgpu_wire_header_decode(header, &msg->header), ==, VGPU_OK);
    fm_read_exact(fm, msg->payload, msg->header.length);
    /* Only WINDOW carries an fd (fm_read_window takes it). */
    if (msg->header.type != VGPU_WIRE_WINDOW) {
        g_assert_cmpuint(fm->nfds, ==, 0);
    }
}

bool fm_readable(FakeMediator *fm, int timeout_ms)
{
    g_assert_cmpint(fm->conn_fd, >=, 0);
    return fm_poll(fm->conn_fd, timeout_ms);
}

bool fm_wait_closed(FakeMediator *fm, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    uint8_t buf[VGPU_WIRE_MAX_MESSAGE];

    /* Whatever the device still sends before closing is read and dropped. */
    while (g_get_monotonic_time() < deadline) {
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        ssize_t n;

        if (!fm_poll(fm->conn_fd, left > 0 ? left : 0)) {
            return false;
        }
        n = fm_recv(fm, buf, sizeof(buf));
        fm_close_fds(fm);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            fm_drop_connection(fm);
            return true;
        }
    }
    return false;
}

void fm_read_window(FakeMediator *fm)
{
    FmMessage msg;
    uint64_t size;
    struct stat st;
    void *base;
    int seals;

    fm_read_message(fm, &msg);
    g_assert_cmpuint(msg.header.type, ==, VGPU_WIRE_WINDOW);
    g_assert_cmpuint(vgpu_wire_window_decode(msg.payload, msg.header.length, &size), ==,
                     VGPU_OK);
    g_assert_cmpuint(fm->nfds, ==, 1);

    /* What the real mediator checks before it maps the window */
    g_assert_cmpint(fstat(fm->fds[0], &st), ==, 0);
    g_assert_true(S_ISREG(st.st_mode));
    g_assert_cmpuint((uint64_t)st.st_size, ==, size);
    seals = fcntl(fm->fds[0], F_GET_SEALS);
    g_assert_cmpint(seals, >=, 0);
    g_assert_true(seals & F_SEAL_SHRINK);
    base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fm->fds[0], 0);
    g_assert_true(base != MAP_FAILED);

    fm_unmap_window(fm);
    fm->window = (FmWindow){ .fd = fm->fds[0], .base = base, .size = size, .seals = seals };
    fm->nfds = 0;
    fm->windows++;
}

const FmWindow *fm_window(FakeMediator *fm)
{
    g_assert_nonnull(fm->window.base);
    return &fm->window;
}

unsigned fm_window_count(FakeMediator *fm)
{
    return fm->windows;
}

void fm_accept_hello(FakeMediator *fm, uint8_t *uuid)
{
    struct vgpu_wire_hello hello;
    FmMessage msg;

    fm_accept(fm);
    fm_read_message(fm, &msg);
    g_assert_cmpuint(msg.header.type, ==, VGPU_WIRE_HELLO);
    g_assert_cmpuint(vgpu_wire_hello_decode(msg.payload, msg.header.length, &hello), ==, VGPU_OK);
    g_assert_cmpuint(hello.protocol_version, ==, VGPU_PROTOCOL_VERSION);
    if (uuid) {
        memcpy(uuid, hello.uuid, 16);
    }
    fm_read_window(fm);
}

void fm_send_raw(FakeMediator *fm, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;

    g_assert_cmpint(fm->conn_fd, >=, 0);
    while (len > 0) {
        ssize_t n = write(fm->conn_fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        g_assert_cmpint(n, >, 0);
        p += n;
        len -= (size_t)n;
    }
}

void fm_send_identity(FakeMediator *fm, uint32_t error, uint32_t pool_id,
                      uint32_t priority, uint32_t vm_id)
{
    struct vgpu_wire_identity id = { error, pool_id, priority, vm_id };
    uint8_t frame[VGPU_WIRE_MAX_MESSAGE];
    size_t len = vgpu_wire_identity_encode(frame, sizeof(frame), &id);

    g_assert_cmpuint(len, >, 0);
    fm_send_raw(fm, frame, len);
}

void fm_read_submit(FakeMediator *fm, uint32_t *seq, uint32_t *request_id,
                    uint8_t *request, size_t *len)
{
    struct vgpu_wire_submit_view submit;
    FmMessage msg;

    fm_read_message(fm, &msg);
    g_assert_cmpuint(msg.header.type, ==, VGPU_WIRE_SUBMIT);
    g_assert_cmpuint(vgpu_wire_submit_decode(msg.payload, msg.header.length, &submit), ==,
                     VGPU_OK);
    *seq = msg.header.seq;
    *request_id = submit.request_id;
    *len = submit.request_len;
    memcpy(request, submit.request, *len);
}

void fm_send_complete(FakeMediator *fm, uint32_t seq, uint32_t request_id,
                      uint32_t error, const void *response, size_t len)
{
    uint8_t frame[VGPU_WIRE_MAX_MESSAGE];
    size_t n = vgpu_wire_complete_encode(frame, sizeof(frame), seq, request_id, error,
                                         response, len);

    g_assert_cmpuint(n, >, 0);
    fm_send_raw(fm, frame, n);
}

size_t fm_vector_add_response(const uint8_t *request, size_t len,
                              uint8_t *response, size_t cap)
{
    struct vgpu_request_view view;
    uint32_t sum;

    g_assert_cmpuint(vgpu_request_decode(request, len, &view), ==, VGPU_OK);
    g_assert_cmpuint(view.opcode, ==, VGPU_OP_VECTOR_ADD);
    sum = vgpu_request_param(&view, 0) + vgpu_request_param(&view, 1);
    return vgpu_response_encode(response, cap, VGPU_OK, &sum, 1, NULL, 0, 0);
}
