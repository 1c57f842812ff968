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

/* Little-endian word access used by the views above. */
uint32_t vgpu_le32_load(const void *p);
void vgpu_le32_store(void *p, uint32_t v);

#endif /* VGPU_CODEC_H */
