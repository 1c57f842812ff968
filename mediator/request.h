/*
 * One guest request on its way through the mediator: received from a
 * device connection, queued, run on a unit, completed back.
 */
#ifndef MEDIATOR_REQUEST_H
#define MEDIATOR_REQUEST_H

#include <glib.h>
#include <stdint.h>

#include "queue.h"
#include "registry.h"
#include "vgpu/codec.h"
#include "vgpu/ops.h"
#include "window.h"

struct request;

/*
 * Send the outcome to whoever submitted the request (any thread; must not
 * block).  response/response_len: the encoded vgpu_response.
 */
typedef void (*request_complete_fn)(struct request *r, uint32_t error,
                                    const void *response, size_t response_len);

enum request_state {
    REQUEST_NEW,                /* not yet accepted by the scheduler */
    REQUEST_QUEUED,             /* in the queue */
    REQUEST_RUNNING,            /* on a unit */
};

struct request {
    struct queue_entry entry;   /* first: the queue's position */
    struct registry_vm *vm;     /* a reference; the VM it is accounted to */
    uint32_t seq;               /* the wire message's seq, echoed */
    uint32_t request_id;        /* the guest's tag, echoed */
    struct vgpu_request_view view;      /* into bytes, once decoded */
    struct window *window;              /* a reference, for a window opcode; else NULL */
    struct vgpu_window_op op;           /* checked against window, when there is one */
    uint32_t length;                    /* bytes of the request */
    unsigned char bytes[VGPU_REQUEST_MAX];
    enum request_state state;   /* the scheduler's lock guards it */
    uint64_t started;           /* RUNNING: its place among the requests started (1, 2, ...) */
    gint finished;              /* set once, atomically, by whoever completes it */
    gint64 received_us;         /* monotonic */
    request_complete_fn complete;
    gpointer owner;             /* the submitter's (a device connection) */
    GDestroyNotify owner_free;  /* drops owner when the request is freed */
};

/* A request of len bytes (len <= VGPU_REQUEST_MAX) for vm (a reference is taken). */
struct request *request_new(struct registry_vm *vm, uint32_t seq, uint32_t request_id,
                            const void *bytes, size_t len, request_complete_fn complete,
                            gpointer owner, GDestroyNotify owner_free);
void request_free(struct request *r);

#endif /* MEDIATOR_REQUEST_H */
