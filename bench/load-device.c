/*
 * A load generator's device: see load-device.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "load-device.h"
#include "vgpu/identity.h"
#include "vgpu/ops.h"
#include "vgpu/regs.h"

uint64_t load_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int load_device_open(struct load_device *d, const char *socket_path, unsigned index,
                     uint64_t window_size)
{
    char text[VGPU_UUID_STRING_LEN + 1];
    struct vgpu_wire_identity id;
    uint8_t uuid[16];
    struct wire_msg m;

    memset(d, 0, sizeof(*d));
    d->index = index;
    d->window_fd = -1;
    d->window_size = window_size;
    snprintf(text, sizeof(text), LOAD_VM_UUID_FORMAT, index);
    if (!vgpu_uuid_parse(text, uuid)) {
        fprintf(stderr, "loadgen: VM index %u makes no UUID\n", index);
        return -1;
    }
    if (window_size && (d->window_fd = wire_window_create(window_size, true)) < 0) {
        fprintf(stderr, "loadgen: a window of %llu bytes: %s\n",
                (unsigned long long)window_size, strerror(errno));
        return -1;
    }
    d->fd = wire_connect(socket_path);
    if (d->fd < 0) {
        fprintf(stderr, "loadgen: connect %s: %s\n", socket_path, strerror(errno));
        return -1;
    }
    if (wire_send_hello(d->fd, uuid, VGPU_PROTOCOL_VERSION) < 0 ||
        (window_size && wire_send_window(d->fd, window_size, &d->window_fd, 1) < 0) ||
        wire_read(d->fd, &m, LOAD_TIMEOUT_MS) != 1 || m.hdr.type != VGPU_WIRE_IDENTITY ||
        vgpu_wire_identity_decode(m.payload, m.hdr.length, &id) != VGPU_OK ||
        id.error != VGPU_OK) {
        fprintf(stderr, "loadgen: VM %s got no identity (is it registered?)\n", text);
        return -1;
    }
    return 0;
}

void load_device_close(struct load_device *d)
{
    if (d->fd > 0) {
        close(d->fd);
    }
    if (d->window_fd >= 0) {
        close(d->window_fd);
    }
    d->fd = 0;
    d->window_fd = -1;
}

int load_device_submit(struct load_device *d, const void *req, size_t len)
{
    d->last_seq = d->last_seq + 1 ? d->last_seq + 1 : 1;      /* seq 0 is not a SUBMIT's */
    d->in_flight = d->last_seq;
    d->sent_ns = load_now_ns();
    return wire_send_submit(d->fd, d->in_flight, d->in_flight, req, len);
}

int load_device_next(struct load_device *d, struct wire_msg *m)
{
    for (;;) {
        if (d->in_len >= VGPU_WIRE_HEADER_SIZE) {
            size_t whole;

            if (vgpu_wire_header_decode(d->in, &m->hdr) != VGPU_OK) {
                return -1;
            }
            whole = VGPU_WIRE_HEADER_SIZE + m->hdr.length;
            if (d->in_len >= whole) {
                memcpy(m->payload, d->in + VGPU_WIRE_HEADER_SIZE, m->hdr.length);
                memmove(d->in, d->in + whole, d->in_len - whole);
                d->in_len -= whole;
                return 1;
            }
        }
        ssize_t n = recv(d->fd, d->in + d->in_len, sizeof(d->in) - d->in_len, MSG_DONTWAIT);

        if (n > 0) {
            d->in_len += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        }
    }
}

uint32_t load_device_complete(struct load_device *d, const struct wire_msg *m,
                              struct vgpu_response_view *response)
{
    struct vgpu_wire_complete_view complete;

    if (m->hdr.type != VGPU_WIRE_COMPLETE || !d->in_flight || m->hdr.seq != d->in_flight ||
        vgpu_wire_complete_decode(m->payload, m->hdr.length, &complete) != VGPU_OK) {
        return VGPU_ERR_PROTOCOL;
    }
    d->in_flight = 0;
    if (complete.error != VGPU_OK) {
        return complete.error;
    }
    if (vgpu_response_decode(complete.response, complete.response_len, response) != VGPU_OK) {
        return VGPU_ERR_PROTOCOL;
    }
    return response->status;
}

size_t load_request_encode(void *buf, size_t cap, uint32_t op, uint64_t count, uint32_t seq,
                           unsigned index)
{
    uint64_t bytes = count * VGPU_ELEMENT_SIZE;
    struct vgpu_window_op add = { .opcode = VGPU_OP_ADD_F32, .count = count, .a = 0,
                                  .b = bytes, .out = 2 * bytes };

    if (op == VGPU_OP_VECTOR_ADD) {
        return vgpu_request_encode_vector_add(buf, cap, seq, index);
    }
    return vgpu_window_op_encode(buf, cap, &add);
}

bool load_response_right(const struct vgpu_response_view *response, uint32_t op, uint32_t seq,
                         unsigned index)
{
    if (response->status != VGPU_OK) {
        return false;
    }
    if (op == VGPU_OP_VECTOR_ADD) {
        return response->result_count == 1 && vgpu_response_result(response, 0) == seq + index;
    }
    return response->result_count == 0;
}

uint64_t load_window_size(uint64_t count)
{
    uint64_t size = VGPU_WINDOW_SIZE_MIN;

    while (size < 3 * count * VGPU_ELEMENT_SIZE) {
        size *= 2;
    }
    return size;
}

const char *load_op_name(uint32_t op)
{
    const struct vgpu_opcode_info *info = vgpu_opcode_lookup(op);

    return info ? info->name : "?";
}
