/*
 * The device side of the wire protocol, for the fake device and the
 * latency benchmark: blocking, one connection, every wait bounded.
 */
#ifndef TESTS_WIRE_CLIENT_H
#define TESTS_WIRE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vgpu/codec.h"

struct wire_msg {
    struct vgpu_wire_header hdr;
    unsigned char payload[VGPU_WIRE_MAX_PAYLOAD];
};

/* Connect to the mediator's device socket; -1 on error (errno set). */
int wire_connect(const char *path);

/* Send len bytes whole; 0 or -1. */
int wire_send_all(int fd, const void *buf, size_t len);

int wire_send_hello(int fd, const uint8_t uuid[16], uint32_t protocol_version);

/*
 * A memfd of size bytes for a data window, sealed against growing and
 * shrinking as the device's own is (unless seal is false); -1 on error.
 */
int wire_window_create(uint64_t size, bool seal);

/* WINDOW announcing size, with fds[0..nfds) attached (none when 0); 0 or -1. */
int wire_send_window(int fd, uint64_t size, const int *fds, unsigned nfds);
int wire_send_submit(int fd, uint32_t seq, uint32_t request_id, const void *request, size_t len);

/*
 * Read one message within timeout_ms (-1: no limit).  Returns 1 with *msg
 * filled, 0 when the peer closed, -1 on error or malformed input, -2 on
 * timeout.
 */
int wire_read(int fd, struct wire_msg *msg, int timeout_ms);

#endif /* TESTS_WIRE_CLIENT_H */
