/*
 * Device side of the wire protocol: see wire-client.h.
 */
#define _GNU_SOURCE     /* memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "wire-client.h"

int wire_connect(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int saved = errno;

        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int wire_send_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

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

int wire_send_hello(int fd, const uint8_t uuid[16], uint32_t protocol_version)
{
    unsigned char msg[VGPU_WIRE_HEADER_SIZE + sizeof(struct vgpu_wire_hello)];
    size_t len = vgpu_wire_hello_encode(msg, sizeof(msg), uuid, protocol_version);

    return len ? wire_send_all(fd, msg, len) : -1;
}

int wire_send_submit(int fd, uint32_t seq, uint32_t request_id, const void *request, size_t len)
{
    unsigned char msg[VGPU_WIRE_MAX_MESSAGE];
    size_t n = vgpu_wire_submit_encode(msg, sizeof(msg), seq, request_id, request, len);

    return n ? wire_send_all(fd, msg, n) : -1;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read exactly len bytes before the deadline: 1, 0 (closed at a message boundary), -1, -2. */
static int read_exact(int fd, void *buf, size_t len, long long deadline, int at_boundary)
{
    unsigned char *p = buf;
    size_t got = 0;

    while (got < len) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int wait = deadline < 0 ? -1 : (int)(deadline - now_ms());
        ssize_t n;

        if (deadline >= 0 && wait <= 0) {
            return -2;
        }
        if (poll(&pfd, 1, wait) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
            continue;
        }
        n = recv(fd, p + got, len - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == ECONNRESET) {
            n = 0;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            return got == 0 && at_boundary ? 0 : -1;
        }
        got += (size_t)n;
    }
    return 1;
}

int wire_read(int fd, struct wire_msg *msg, int timeout_ms)
{
    unsigned char hdr[VGPU_WIRE_HEADER_SIZE];
    long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    int rc = read_exact(fd, hdr, sizeof(hdr), deadline, 1);

    if (rc != 1) {
        return rc;
    }
    if (vgpu_wire_header_decode(hdr, &msg->hdr) != VGPU_OK) {
        return -1;
    }
    return msg->hdr.length ? read_exact(fd, msg->payload, msg->hdr.length, deadline, 0) : 1;
}

int wire_window_create(uint64_t size, bool seal)
{
    int fd = memfd_create("vgpu-test-window", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0) {
        return -1;
    }
    if (ftruncate(fd, (off_t)size) < 0 ||
        (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)) {
        int saved = errno;

        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int wire_send_window(int fd, uint64_t size, const int *fds, unsigned nfds)
{
    unsigned char frame[VGPU_WIRE_HEADER_SIZE + sizeof(struct vgpu_wire_window)];
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(4 * sizeof(int))];
    } control;
    struct iovec iov = { frame, vgpu_wire_window_encode(frame, sizeof(frame), size) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t n;

    if (nfds > 4) {
        errno = EINVAL;
        return -1;
    }
    if (nfds) {
        struct cmsghdr *cm;

        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
    }
    do {
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)iov.iov_len ? 0 : -1;
}
