/*
 * One device of the load generator: a connection to the mediator's device
 * socket that says HELLO as a registered VM (and sends a data window when
 * asked), then submits requests and reads COMPLETEs without blocking, so
 * that one thread can drive many devices through epoll.  The messages are
 * the shared codec's (common/, tests/mediator/wire-client.c).
 */
#ifndef BENCH_LOAD_DEVICE_H
#define BENCH_LOAD_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire-client.h"

/* The VMs the benchmarks register: VM index i has this UUID and vm-id i. */
#define LOAD_VM_UUID_FORMAT "00000000-0000-4000-8000-%012u"
#define LOAD_TIMEOUT_MS     10000   /* the handshake, and a request at the end of a run */

struct load_device {
    int fd;
    unsigned index;             /* the VM's index: its UUID and vm-id */
    int window_fd;              /* the data window's memfd, -1 without one */
    uint64_t window_size;
    uint32_t last_seq;          /* the seq of the last request sent */
    uint32_t in_flight;         /* the seq of the request in flight; 0 when none */
    uint64_t sent_ns;           /* when it was sent (CLOCK_MONOTONIC) */
    uint64_t completed;         /* requests that completed with the right result */
    uint64_t failed;            /* requests that ended in an error or a wrong result */
    size_t in_len;              /* bytes received, not yet a whole message */
    unsigned char in[2 * VGPU_WIRE_MAX_MESSAGE];
};

uint64_t load_now_ns(void);

/*
 * Connect as VM `index`, send HELLO (and WINDOW with a sealed memfd of
 * window_size bytes unless 0) and wait for the identity.  0, or -1 with a
 * message on stderr.
 */
int load_device_open(struct load_device *d, const char *socket_path, unsigned index,
                     uint64_t window_size);
void load_device_close(struct load_device *d);

/* Submit the len bytes of req as the next seq; the time is taken just before.  0 or -1. */
int load_device_submit(struct load_device *d, const void *req, size_t len);

/*
 * The next whole message received, without blocking: 1 with *m filled, 0
 * when none is complete yet, -1 when the connection closed or sent a
 * malformed frame.
 */
int load_device_next(struct load_device *d, struct wire_msg *m);

/*
 * Check m as the COMPLETE of the request in flight and clear it: VGPU_OK with
 * *response filled, or the error it ended in (VGPU_ERR_PROTOCOL for a
 * message that is not that COMPLETE).
 */
uint32_t load_device_complete(struct load_device *d, const struct wire_msg *m,
                              struct vgpu_response_view *response);

/*
 * The requests the benchmarks send: VECTOR_ADD(seq, index), whose result
 * is seq + index, or ADD_F32 of count elements over three arrays at the
 * start of the window (a, b, out).  The length, 0 when it does not fit.
 */
size_t load_request_encode(void *buf, size_t cap, uint32_t op, uint64_t count, uint32_t seq,
                           unsigned index);

/* Whether response is what that request must get. */
bool load_response_right(const struct vgpu_response_view *response, uint32_t op, uint32_t seq,
                         unsigned index);

/* The window an ADD_F32 of count elements needs: a power of two, at least the minimum. */
uint64_t load_window_size(uint64_t count);

/* "VECTOR_ADD", "ADD_F32" */
const char *load_op_name(uint32_t op);

#endif /* BENCH_LOAD_DEVICE_H */
