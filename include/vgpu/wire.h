/*
 * vgpu-stub wire messages between the QEMU device and vgpu-mediatord, over
 * the device's AF_UNIX stream socket.  Every message is a 16-byte header and
 * `length` bytes of payload; all fields are little-endian.
 *
 *   device                          mediator
 *     HELLO (uuid)          ---->
 *     WINDOW (size) + fd    ---->   (when the device has a data window)
 *                           <----   IDENTITY (pool, priority, vm_id or error)
 *     SUBMIT (seq, request) ---->
 *                           <----   COMPLETE (seq, error, response)
 *
 * The mediator sends IDENTITY again whenever the VM's registration changes.
 * docs/protocol.md explains each message and what each side does on error.
 */
#ifndef VGPU_WIRE_H
#define VGPU_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "vgpu/protocol.h"

#define VGPU_WIRE_MAGIC     0x57475056u     /* bytes "VPGW" */
#define VGPU_WIRE_VERSION   1u

enum vgpu_wire_type {
    VGPU_WIRE_HELLO    = 1,     /* device -> mediator: struct vgpu_wire_hello */
    VGPU_WIRE_IDENTITY = 2,     /* mediator -> device: struct vgpu_wire_identity */
    VGPU_WIRE_SUBMIT   = 3,     /* device -> mediator: vgpu_wire_submit + request */
    VGPU_WIRE_COMPLETE = 4,     /* mediator -> device: vgpu_wire_complete + response */
    VGPU_WIRE_WINDOW   = 5,     /* device -> mediator: vgpu_wire_window, the window's
                                   memfd attached (SCM_RIGHTS) */
};

struct vgpu_wire_header {
    uint32_t magic;             /* VGPU_WIRE_MAGIC */
    uint16_t version;           /* VGPU_WIRE_VERSION */
    uint16_t type;              /* enum vgpu_wire_type */
    uint32_t seq;               /* SUBMIT: device's id for it, != 0; COMPLETE: echoed; else 0 */
    uint32_t length;            /* payload bytes that follow */
};

struct vgpu_wire_hello {
    uint8_t  uuid[16];          /* QEMU's -uuid, in RFC 4122 byte order */
    uint32_t protocol_version;  /* VGPU_PROTOCOL_VERSION */
    uint32_t reserved;          /* 0 */
};

struct vgpu_wire_identity {
    uint32_t error;             /* VGPU_OK, or why there is no identity */
    uint32_t pool_id;           /* 'A'..'Z', 0 without identity */
    uint32_t priority;          /* enum vgpu_priority, 0 without identity */
    uint32_t vm_id;             /* 1..VGPU_VM_ID_MAX, 0 without identity */
};

struct vgpu_wire_submit {       /* followed by 1..VGPU_REQUEST_MAX request bytes */
    uint32_t request_id;        /* REQUEST_ID register at the doorbell */
    uint32_t reserved;          /* 0 */
};

struct vgpu_wire_complete {     /* followed by 0..VGPU_RESPONSE_MAX response bytes */
    uint32_t request_id;        /* echoed from SUBMIT */
    uint32_t error;             /* VGPU_OK: STATUS becomes DONE; else ERROR with this code */
};

/*
 * The data window, once per connection after HELLO.  The fd is a memfd of
 * exactly `size` bytes sealed against shrinking (F_SEAL_SHRINK), so that
 * no one can truncate it under the mediator's mapping.
 */
struct vgpu_wire_window {
    uint32_t size_lo;           /* bytes: a power of two, VGPU_WINDOW_SIZE_MIN..MAX */
    uint32_t size_hi;
};

#define VGPU_WIRE_HEADER_SIZE   16u
#define VGPU_WIRE_MAX_PAYLOAD   (sizeof(struct vgpu_wire_submit) + VGPU_REQUEST_MAX)
#define VGPU_WIRE_MAX_MESSAGE   (VGPU_WIRE_HEADER_SIZE + VGPU_WIRE_MAX_PAYLOAD)

_Static_assert(sizeof(struct vgpu_wire_header) == VGPU_WIRE_HEADER_SIZE, "wire header");
_Static_assert(sizeof(struct vgpu_wire_hello) == 24, "HELLO payload");
_Static_assert(sizeof(struct vgpu_wire_identity) == 16, "IDENTITY payload");
_Static_assert(sizeof(struct vgpu_wire_submit) == 8, "SUBMIT payload head");
_Static_assert(sizeof(struct vgpu_wire_complete) == 8, "COMPLETE payload head");
_Static_assert(sizeof(struct vgpu_wire_window) == 8, "WINDOW payload");
_Static_assert(sizeof(struct vgpu_wire_complete) + VGPU_RESPONSE_MAX <= VGPU_WIRE_MAX_PAYLOAD,
               "a COMPLETE fits the payload limit");

#endif /* VGPU_WIRE_H */
