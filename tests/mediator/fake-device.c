/*
 * A fake vgpu-stub device for the integration tests: connects to the
 * mediator's device socket, says HELLO, submits VECTOR_ADD requests
 * (pipelined), or sends one kind of malformed message, and prints every
 * message it receives as one line:
 *
 *   identity error=OK pool=A priority=high vm_id=7
 *   complete seq=3 request_id=3 error=OK status=OK result=1006 exec_us=20011
 *   closed
 *
 * No receive times: when this process gets to print is no order of events
 * (tests take orders from the mediator's log).
 *
 * Exit status: 0 done, 1 error, 2 usage, 3 timeout, 4 identity refused.
 */
#define _GNU_SOURCE     /* POLLRDHUP */
#include <errno.h>
#include <glib.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vgpu/codec.h"
#include "vgpu/identity.h"
#include "wire-client.h"

#define FAKE_EXIT_ERROR     1
#define FAKE_EXIT_USAGE     2
#define FAKE_EXIT_TIMEOUT   3
#define FAKE_EXIT_REFUSED   4

static char *opt_socket, *opt_uuid, *opt_raw;
static int opt_submit, opt_bad, opt_timeout_ms = 10000;
static gint64 opt_base = 1000;
static gboolean opt_now, opt_linger, opt_no_hello, opt_no_read;
static int opt_protocol = VGPU_PROTOCOL_VERSION;

static const GOptionEntry entries[] = {
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket, "The mediator's device socket", "PATH" },
    { "uuid", 'u', 0, G_OPTION_ARG_STRING, &opt_uuid, "The VM's UUID for HELLO", "UUID" },
    { "submit", 'n', 0, G_OPTION_ARG_INT, &opt_submit, "Submit N VECTOR_ADD requests", "N" },
    { "bad", 0, 0, G_OPTION_ARG_INT, &opt_bad, "Then N requests with a bad version", "N" },
    { "base", 0, 0, G_OPTION_ARG_INT64, &opt_base, "Request i adds BASE+i and i", "BASE" },
    { "now", 0, 0, G_OPTION_ARG_NONE, &opt_now, "Submit without waiting for an identity", NULL },
    { "linger", 0, 0, G_OPTION_ARG_NONE, &opt_linger, "Then read until the mediator closes", NULL },
    { "no-hello", 0, 0, G_OPTION_ARG_NONE, &opt_no_hello, "Do not send HELLO", NULL },
    { "no-read", 0, 0, G_OPTION_ARG_NONE, &opt_no_read,
      "Submit without ever reading the COMPLETEs; then wait until the mediator closes", NULL },
    { "protocol", 0, 0, G_OPTION_ARG_INT, &opt_protocol, "HELLO's protocol version", "V" },
    { "raw", 0, 0, G_OPTION_ARG_STRING, &opt_raw,
      "Send one malformed message: bad-magic, bad-length, unknown-type, identity, complete, "
      "hello-twice, truncated, oversized, garbage (after the --submit requests, if any); "
      "then read until closed", "KIND" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &opt_timeout_ms, "Give up after MS (default 10000)",
      "MS" },
    { NULL },
};

static const char *err_name(uint32_t code)
{
    const char *name = vgpu_error_name(code);

    return name ? name : "UNKNOWN";
}

/* Print one received message; returns its IDENTITY error, or VGPU_OK. */
static uint32_t print_message(const struct wire_msg *m)
{
    if (m->hdr.type == VGPU_WIRE_IDENTITY) {
        struct vgpu_wire_identity id;

        if (vgpu_wire_identity_decode(m->payload, m->hdr.length, &id) != VGPU_OK) {
            printf("identity malformed\n");
            return VGPU_ERR_PROTOCOL;
        }
        printf("identity error=%s pool=%c priority=%s vm_id=%u\n", err_name(id.error),
               id.pool_id ? (char)id.pool_id : '-',
               id.pool_id ? vgpu_priority_name(id.priority) : "-", id.vm_id);
        return id.error;
    }
    if (m->hdr.type == VGPU_WIRE_COMPLETE) {
        struct vgpu_wire_complete_view complete;
        struct vgpu_response_view view;
        char result[16] = "-";

        if (vgpu_wire_complete_decode(m->payload, m->hdr.length, &complete) != VGPU_OK) {
            printf("complete seq=%u malformed\n", m->hdr.seq);
            return VGPU_OK;
        }
        if (vgpu_response_decode(complete.response, complete.response_len, &view) != VGPU_OK) {
            printf("complete seq=%u request_id=%u error=%s response=malformed\n",
                   m->hdr.seq, complete.request_id, err_name(complete.error));
            return VGPU_OK;
        }
        if (view.result_count) {
            snprintf(result, sizeof(result), "%u", vgpu_response_result(&view, 0));
        }
        printf("complete seq=%u request_id=%u error=%s status=%s result=%s exec_us=%u\n",
               m->hdr.seq, complete.request_id, err_name(complete.error), err_name(view.status),
               result, view.exec_time_us);
        return VGPU_OK;
    }
    printf("unexpected type=%u\n", m->hdr.type);
    return VGPU_OK;
}

/* Read and print until the mediator closes: 0, or the timeout/error exit. */
static int read_until_closed(int fd)
{
    struct wire_msg m;

    for (;;) {
        int rc = wire_read(fd, &m, opt_timeout_ms);

        if (rc == 0) {
            printf("closed\n");
            return 0;
        }
        if (rc == -2) {
            printf("timeout\n");
            return FAKE_EXIT_TIMEOUT;
        }
        if (rc < 0) {
            printf("closed\n");     /* reset by the peer counts as closed */
            return 0;
        }
        print_message(&m);
    }
}

static int send_raw(int fd, const char *kind, const uint8_t uuid[16])
{
    unsigned char msg[VGPU_WIRE_MAX_MESSAGE + 64] = { 0 };
    unsigned char zeros[8] = { 0 };
    size_t len = 0;

    if (strcmp(kind, "bad-magic") == 0) {
        len = vgpu_wire_hello_encode(msg, sizeof(msg), uuid, VGPU_PROTOCOL_VERSION);
        msg[0] ^= 0xff;
    } else if (strcmp(kind, "bad-length") == 0) {
        vgpu_wire_hello_encode(msg, sizeof(msg), uuid, VGPU_PROTOCOL_VERSION);
        vgpu_le32_store(msg + 12, 5);
        len = VGPU_WIRE_HEADER_SIZE + 5;
    } else if (strcmp(kind, "unknown-type") == 0) {
        len = vgpu_wire_hello_encode(msg, sizeof(msg), uuid, VGPU_PROTOCOL_VERSION);
        vgpu_le32_store(msg + 4, VGPU_WIRE_VERSION | 9u << 16);
    } else if (strcmp(kind, "identity") == 0) {
        struct vgpu_wire_identity id = { 0 };

        len = vgpu_wire_identity_encode(msg, sizeof(msg), &id);
    } else if (strcmp(kind, "complete") == 0) {
        len = vgpu_wire_complete_encode(msg, sizeof(msg), 1, 0, VGPU_OK, NULL, 0);
    } else if (strcmp(kind, "hello-twice") == 0) {
        len = vgpu_wire_hello_encode(msg, sizeof(msg), uuid, VGPU_PROTOCOL_VERSION);
    } else if (strcmp(kind, "truncated") == 0) {
        unsigned char req[VGPU_REQUEST_MAX];
        size_t rlen = vgpu_request_encode_vector_add(req, sizeof(req), 1, 2);

        len = vgpu_wire_submit_encode(msg, sizeof(msg), 1, 0, req, rlen) - 10;
    } else if (strcmp(kind, "oversized") == 0) {
        vgpu_wire_submit_encode(msg, sizeof(msg), 1, 0, zeros, sizeof(zeros));
        vgpu_le32_store(msg + 12, (uint32_t)VGPU_WIRE_MAX_PAYLOAD + 1);
        len = sizeof(msg);
    } else if (strcmp(kind, "garbage") == 0) {
        for (size_t i = 0; i < 64; i++) {
            msg[i] = (unsigned char)(i * 37 + 11);
        }
        len = 64;
    } else {
        fprintf(stderr, "fake-device: unknown --raw kind \"%s\"\n", kind);
        return FAKE_EXIT_USAGE;
    }
    if (wire_send_all(fd, msg, len) < 0) {
        perror("fake-device: send");
        return FAKE_EXIT_ERROR;
    }
    if (strcmp(kind, "truncated") == 0) {
        shutdown(fd, SHUT_WR);      /* the message ends half way */
    }
    return read_until_closed(fd);
}

/* Wait for IDENTITY OK (printing NOT_REGISTERED ones): 0, or an exit status. */
static int wait_identity(int fd)
{
    struct wire_msg m;

    for (;;) {
        int rc = wire_read(fd, &m, opt_timeout_ms);
        uint32_t error;

        if (rc == -2) {
            printf("timeout\n");
            return FAKE_EXIT_TIMEOUT;
        }
        if (rc <= 0) {
            printf("closed\n");
            return FAKE_EXIT_ERROR;
        }
        error = print_message(&m);
        if (m.hdr.type != VGPU_WIRE_IDENTITY || error == VGPU_ERR_NOT_REGISTERED) {
            continue;
        }
        if (error != VGPU_OK) {
            read_until_closed(fd);
            return FAKE_EXIT_REFUSED;
        }
        return 0;
    }
}

/*
 * Send the --submit good and --bad bad requests, pipelined: 0, an exit
 * status, or -1 when (with --no-read) the mediator closed the connection.
 */
static int submit_all(int fd)
{
    unsigned char req[VGPU_REQUEST_MAX];
    int expected = opt_submit + opt_bad;

    for (int i = 1; i <= opt_submit; i++) {
        size_t len = vgpu_request_encode_vector_add(req, sizeof(req), (uint32_t)(opt_base + i),
                                                    (uint32_t)i);

        if (wire_send_submit(fd, (uint32_t)i, (uint32_t)i, req, len) < 0) {
            if (opt_no_read && (errno == EPIPE || errno == ECONNRESET)) {
                printf("closed after %d submits\n", i - 1);
                return -1;
            }
            perror("fake-device: submit");
            return FAKE_EXIT_ERROR;
        }
    }
    for (int i = opt_submit + 1; i <= expected; i++) {
        size_t len = vgpu_request_encode_vector_add(req, sizeof(req), 1, 2);

        vgpu_le32_store(req, 0x00020000u);      /* a version the mediator does not speak */
        if (wire_send_submit(fd, (uint32_t)i, (uint32_t)i, req, len) < 0) {
            perror("fake-device: submit");
            return FAKE_EXIT_ERROR;
        }
    }
    return 0;
}

static int submit_and_collect(int fd)
{
    int expected = opt_submit + opt_bad, got = 0, status = submit_all(fd);
    struct wire_msg m;

    if (status) {
        return status;
    }
    while (got < expected) {
        int rc = wire_read(fd, &m, opt_timeout_ms);

        if (rc == -2) {
            printf("timeout\n");
            return FAKE_EXIT_TIMEOUT;
        }
        if (rc <= 0) {
            printf("closed\n");
            return FAKE_EXIT_ERROR;
        }
        print_message(&m);
        got += m.hdr.type == VGPU_WIRE_COMPLETE;
    }
    return 0;
}

/* Without reading: wait until the mediator hangs up (0) or the timeout. */
static int wait_hangup(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };

    if (poll(&pfd, 1, opt_timeout_ms) > 0 && (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR))) {
        printf("closed\n");
        return 0;
    }
    printf("timeout\n");
    return FAKE_EXIT_TIMEOUT;
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("- a fake vgpu-stub device");
    g_autoptr(GError) error = NULL;
    uint8_t uuid[16] = { 0 };
    int fd, status = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "fake-device: %s\n", error->message);
        return FAKE_EXIT_USAGE;
    }
    if (!opt_socket || (!opt_no_hello && (!opt_uuid || !vgpu_uuid_parse(opt_uuid, uuid)))) {
        fprintf(stderr, "fake-device: needs --socket and a valid --uuid\n");
        return FAKE_EXIT_USAGE;
    }
    fd = wire_connect(opt_socket);
    if (fd < 0) {
        fprintf(stderr, "fake-device: cannot connect to %s: %s\n", opt_socket, g_strerror(errno));
        return FAKE_EXIT_ERROR;
    }
    if (!opt_no_hello && wire_send_hello(fd, uuid, (uint32_t)opt_protocol) < 0) {
        perror("fake-device: HELLO");
        return FAKE_EXIT_ERROR;
    }
    if (opt_raw) {
        /* With --submit: queue requests first, then break the protocol. */
        if (opt_submit + opt_bad > 0) {
            status = opt_now ? 0 : wait_identity(fd);
            status = status ? status : submit_all(fd);
        }
        status = status ? status : send_raw(fd, opt_raw, uuid);
    } else {
        if (opt_submit + opt_bad > 0 && !opt_now && !opt_no_hello) {
            status = wait_identity(fd);
        }
        if (status == 0 && opt_no_read) {
            status = submit_all(fd);
            status = status < 0 ? 0 : status ? status : wait_hangup(fd);
        } else if (status == 0 && opt_submit + opt_bad > 0) {
            status = submit_and_collect(fd);
        }
        if (status == 0 && opt_linger) {
            status = read_until_closed(fd);
        }
    }
    close(fd);
    return status;
}
