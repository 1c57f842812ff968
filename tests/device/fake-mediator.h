/*
 * A fake vgpu-mediatord for the device tests: it listens on a real AF_UNIX
 * socket and speaks the real wire protocol (include/vgpu/wire.h, encoded and
 * checked by the project's codec), but each step is driven by the test, so a
 * test decides exactly when, whether and what the mediator answers.
 *
 * Every wait has a timeout; a step that does not happen fails the test.
 */
#ifndef FAKE_MEDIATOR_H
#define FAKE_MEDIATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vgpu/wire.h"

#define FM_TIMEOUT_MS 10000     /* longest a step waits for the device */

typedef struct FakeMediator FakeMediator;

/* The data window a WINDOW message passed: its memfd, mapped shared. */
typedef struct {
    int fd;                     /* -1 before the first WINDOW */
    uint8_t *base;              /* MAP_SHARED, size bytes */
    uint64_t size;              /* as announced; the fd's size too */
    int seals;                  /* F_GET_SEALS of the fd */
} FmWindow;

/* A message as it arrived: the decoded header and its payload. */
typedef struct {
    struct vgpu_wire_header header;
    uint8_t payload[VGPU_WIRE_MAX_PAYLOAD];
} FmMessage;

/* Listen on path (replacing a stale socket file there). */
FakeMediator *fm_new(const char *path);

/* Close the connection and the listener and remove the socket file. */
void fm_free(FakeMediator *fm);

/* Stop listening and drop the connection, as a mediator that exits. */
void fm_stop(FakeMediator *fm);

/* Listen again after fm_stop, as a mediator that restarts. */
void fm_restart(FakeMediator *fm);

/* Accept the device's connection (dropping any earlier one). */
void fm_accept(FakeMediator *fm);

/*
 * Accept, read the HELLO (its uuid goes to uuid, 16 bytes, if non-NULL)
 * and the WINDOW that follows it (fm_read_window).
 */
void fm_accept_hello(FakeMediator *fm, uint8_t *uuid);

/*
 * Read a WINDOW message and its fd, check them as the mediator does (one
 * fd, a file of exactly the announced size, sealed against shrinking) and
 * map the window, replacing the previous one.
 */
void fm_read_window(FakeMediator *fm);

/* The last window received (fails the test before the first). */
const FmWindow *fm_window(FakeMediator *fm);

/* How many WINDOW messages were read so far, over all connections. */
unsigned fm_window_count(FakeMediator *fm);

/* Close the current connection only (the listener stays). */
void fm_drop_connection(FakeMediator *fm);

/*
 * Read the next whole message; fails the test on timeout, a bad header, or
 * an fd attached to anything but a WINDOW.
 */
void fm_read_message(FakeMediator *fm, FmMessage *msg);

/* True when the device closed the connection within timeout_ms. */
bool fm_wait_closed(FakeMediator *fm, int timeout_ms);

/* True when a message (or EOF) is readable within timeout_ms. */
bool fm_readable(FakeMediator *fm, int timeout_ms);

/* Send IDENTITY. */
void fm_send_identity(FakeMediator *fm, uint32_t error, uint32_t pool_id,
                      uint32_t priority, uint32_t vm_id);

/* Read a SUBMIT: its seq, request_id and request bytes (len 1..1024). */
void fm_read_submit(FakeMediator *fm, uint32_t *seq, uint32_t *request_id,
                    uint8_t *request, size_t *len);

/* Send COMPLETE with len (0..1024) response bytes. */
void fm_send_complete(FakeMediator *fm, uint32_t seq, uint32_t request_id,
                      uint32_t error, const void *response, size_t len);

/* Send raw bytes (malformed or fragmented frames). */
void fm_send_raw(FakeMediator *fm, const void *bytes, size_t len);

/* Answer a SUBMIT the way the real mediator answers VECTOR_ADD. */
size_t fm_vector_add_response(const uint8_t *request, size_t len,
                              uint8_t *response, size_t cap);

#endif /* FAKE_MEDIATOR_H */
