/*
 * Build and check vgpu requests, responses and wire messages.
 *
 * Shared by the mediator, the guest tools and the tests.  Decoders never read
 * past the `len` bytes they are given and reject every malformed input with a
 * named error code (include/vgpu/errors.h).  Views point into the caller's
 * buffer; words are read through the accessors, which convert from LE.
 */
#ifndef VGPU_CODEC_H
#define VGPU_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "vgpu/errors.h"
#include "vgpu/protocol.h"
#include "vgpu/wire.h"

/* What the protocol knows about one opcode. */
struct vgpu_opcode_info {
    uint32_t opcode;
    const char *name;           /* "VECTOR_ADD" */
    uint32_t param_count;       /* params it takes, exactly */
    uint32_t result_count;      /* results it returns on success */
    uint32_t max_data_length;   /* request data bytes it accepts */
};

/* The opcode's entry, or NULL when the opcode is unknown. */
const struct vgpu_opcode_info *vgpu_opcode_lookup(uint32_t opcode);

struct vgpu_request_view {
    uint32_t opcode;
    uint32_t param_count;
    const unsigned char *params;    /* param_count LE words */
    const unsigned char *data;      /* data_length bytes; NULL when 0 */
    uint32_t data_length;
};

struct vgpu_response_view {
    uint32_t status;                /* enum vgpu_error of the request */
    uint32_t result_count;
    uint32_t exec_time_us;
    const unsigned char *results;   /* result_count LE words */
    const unsigned char *data;      /* data_length bytes; NULL when 0 */
    uint32_t data_length;
};

/*
 * Write a request into buf.  Returns its length, or 0 when it would exceed
 * cap or VGPU_REQUEST_MAX.
 */
size_t vgpu_request_encode(void *buf, size_t cap, uint32_t opcode,
                           const uint32_t *params, uint32_t param_count,
                           const void *data, uint32_t data_length);

/* A VECTOR_ADD request for a + b (40 bytes); 0 when cap is too small. */
size_t vgpu_request_encode_vector_add(void *buf, size_t cap, uint32_t a, uint32_t b);

/*
 * Check the len bytes at buf as a request and fill *view.  Returns VGPU_OK,
 * or BAD_LENGTH, BAD_VERSION, BAD_OPCODE or BAD_PARAMS (view untouched).
 */
uint32_t vgpu_request_decode(const void *buf, size_t len, struct vgpu_request_view *view);

/* Param `index` (< view->param_count) in host order. */
uint32_t vgpu_request_param(const struct vgpu_request_view *view, uint32_t index);

/*
 * Write a response into buf.  Returns its length, or 0 when it would exceed
 * cap or VGPU_RESPONSE_MAX.
 */
size_t vgpu_response_encode(void *buf, size_t cap, uint32_t status,
                            const uint32_t *results, uint32_t result_count,
                            const void *data, uint32_t data_length,
                            uint32_t exec_time_us);

/*
 * Check the len bytes at buf as a response and fill *view.  Returns VGPU_OK
 * (the request's own outcome is view->status) or VGPU_ERR_PROTOCOL.
 */
uint32_t vgpu_response_decode(const void *buf, size_t len, struct vgpu_response_view *view);

/* Result `index` (< view->result_count) in host order. */
uint32_t vgpu_response_result(const struct vgpu_response_view *view, uint32_t index);

/*
 * Write a wire message: header, then head_len bytes of head, then body_len
 * bytes of body.  Returns its length, or 0 when it exceeds cap, breaks the
 * type's payload limits, or gives seq where the type takes none (or none
 * where it needs one).
 */
size_t vgpu_wire_encode(void *buf, size_t cap, enum vgpu_wire_type type, uint32_t seq,
                        const void *head, size_t head_len,
                        const void *body, size_t body_len);

/*
 * Check the VGPU_WIRE_HEADER_SIZE bytes at buf as a wire header (magic,
 * version, a known type, a payload length that type allows, a seq that is
 * nonzero exactly for SUBMIT and COMPLETE) and fill *hdr in
 * host order.  Returns VGPU_OK or VGPU_ERR_PROTOCOL.
 */
uint32_t vgpu_wire_header_decode(const void *buf, struct vgpu_wire_header *hdr);

/*
 * One encoder and one decoder per wire message.  An encoder writes the
 * whole frame (header and payload) and returns its length, or 0 when it
 * does not fit cap or breaks the framing rules of vgpu_wire_encode; it
 * packs what it is given (tests send bad values through it).  A decoder
 * takes the payload of a frame whose header vgpu_wire_header_decode
 * accepted (len is that header's length) and checks every field: VGPU_OK,
 * or VGPU_ERR_PROTOCOL with nothing filled in.
 */
size_t vgpu_wire_hello_encode(void *buf, size_t cap, const uint8_t uuid[16],
                              uint32_t protocol_version);
/* len is the HELLO size and reserved is 0 (any protocol version: the
 * receiver decides which it speaks). */
uint32_t vgpu_wire_hello_decode(const void *payload, size_t len, struct vgpu_wire_hello *hello);

size_t vgpu_wire_identity_encode(void *buf, size_t cap, const struct vgpu_wire_identity *id);
/* A known error code; with VGPU_OK a pool 'A'..'Z', a priority and a vm_id
 * 1..VGPU_VM_ID_MAX, with any other error all three 0. */
uint32_t vgpu_wire_identity_decode(const void *payload, size_t len,
                                   struct vgpu_wire_identity *id);

struct vgpu_wire_submit_view {
    uint32_t request_id;
    const unsigned char *request;       /* inside the payload */
    size_t request_len;                 /* 1..VGPU_REQUEST_MAX */
};

size_t vgpu_wire_submit_encode(void *buf, size_t cap, uint32_t seq, uint32_t request_id,
                               const void *request, size_t request_len);
/* reserved is 0 and the request 1..VGPU_REQUEST_MAX bytes (not decoded:
 * vgpu_request_decode does that). */
uint32_t vgpu_wire_submit_decode(const void *payload, size_t len,
                                 struct vgpu_wire_submit_view *view);

struct vgpu_wire_complete_view {
    uint32_t request_id;
    uint32_t error;                     /* a known code */
    const unsigned char *response;      /* inside the payload, or NULL */
    size_t response_len;                /* 0..VGPU_RESPONSE_MAX */
};

size_t vgpu_wire_complete_encode(void *buf, size_t cap, uint32_t seq, uint32_t request_id,
                                 uint32_t error, const void *response, size_t response_len);
/* A known error code and a response of at most VGPU_RESPONSE_MAX bytes
 * (not decoded: vgpu_response_decode does that). */
uint32_t vgpu_wire_complete_decode(const void *payload, size_t len,
                                   struct vgpu_wire_complete_view *view);

size_t vgpu_wire_window_encode(void *buf, size_t cap, uint64_t size);
/* size is a power of two in VGPU_WINDOW_SIZE_MIN..VGPU_WINDOW_SIZE_MAX. */
uint32_t vgpu_wire_window_decode(const void *payload, size_t len, uint64_t *size);

/* Little-endian word access used by the views above. */
uint32_t vgpu_le32_load(const void *p);
void vgpu_le32_store(void *p, uint32_t v);

#endif /* VGPU_CODEC_H */
