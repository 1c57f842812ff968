/*
 * Request, response and wire-message codec: see include/vgpu/codec.h.
 */
#include <endian.h>
#include <stddef.h>
#include <string.h>

#include "vgpu/codec.h"
#include "vgpu/cuda.h"

static const struct vgpu_opcode_info opcode_table[] = {
    { VGPU_OP_VECTOR_ADD, "VECTOR_ADD", VGPU_VECTOR_ADD_PARAMS, VGPU_VECTOR_ADD_RESULTS, 0 },
    { VGPU_OP_ADD_U32,    "ADD_U32",    VGPU_ADD_PARAMS,        0,                       0 },
    { VGPU_OP_ADD_F32,    "ADD_F32",    VGPU_ADD_PARAMS,        0,                       0 },
    { VGPU_OP_SAXPY,      "SAXPY",      VGPU_SAXPY_PARAMS,      0,                       0 },
    { VGPU_OP_SUM_F32,    "SUM_F32",    VGPU_SUM_PARAMS,        VGPU_SUM_RESULTS,        0 },
    { VGPU_OP_SGEMM,      "SGEMM",      VGPU_SGEMM_PARAMS,      0,                       0 },
    { VGPU_OP_CUDA,       "CUDA",       VGPU_CUDA_PARAMS,       VGPU_CUDA_RESULTS,       0 },
};

const struct vgpu_opcode_info *vgpu_opcode_lookup(uint32_t opcode)
{
    for (size_t i = 0; i < sizeof(opcode_table) / sizeof(opcode_table[0]); i++) {
        if (opcode_table[i].opcode == opcode) {
            return &opcode_table[i];
        }
    }
    return NULL;
}

uint32_t vgpu_le32_load(const void *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return le32toh(v);
}

void vgpu_le32_store(void *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, sizeof(v));
}

static uint32_t word_at(const unsigned char *base, uint32_t index)
{
    return vgpu_le32_load(base + 4 * (size_t)index);
}

/*
 * Shared layout of both messages: 8 header words, then `count` words, then
 * data.  The header word at `offset_word` gets the data offset.
 */
static size_t encode_message(void *buf, size_t cap, size_t max,
                             const uint32_t header[8], unsigned offset_word,
                             const uint32_t *words, uint32_t count,
                             const void *data, uint32_t data_length)
{
    unsigned char *out = buf;
    size_t words_end, total;

    if (count > (max - 32) / 4) {
        return 0;
    }
    words_end = 32 + 4 * (size_t)count;
    total = words_end + data_length;
    if (data_length > max || total > max || total > cap) {
        return 0;
    }
    for (unsigned i = 0; i < 8; i++) {
        vgpu_le32_store(out + 4 * i, header[i]);
    }
    vgpu_le32_store(out + 4 * offset_word, (uint32_t)words_end);
    for (uint32_t i = 0; i < count; i++) {
        vgpu_le32_store(out + 32 + 4 * (size_t)i, words[i]);
    }
    if (data_length) {
        memcpy(out + words_end, data, data_length);
    }
    return total;
}

/*
 * Shared bounds check: `count` words after the header must fit, and the data
 * region [data_offset, data_offset + data_length) must lie after them and
 * inside the len bytes.  Returns false when it does not.
 */
static int region_fits(size_t len, uint32_t count, uint32_t data_offset, uint32_t data_length)
{
    size_t words_end;

    if (count > (len - 32) / 4) {
        return 0;
    }
    words_end = 32 + 4 * (size_t)count;
    return data_offset >= words_end && data_offset <= len &&
           data_length <= len - data_offset;
}

size_t vgpu_request_encode(void *buf, size_t cap, uint32_t opcode,
                           const uint32_t *params, uint32_t param_count,
                           const void *data, uint32_t data_length)
{
    const uint32_t header[8] = {
        VGPU_PROTOCOL_VERSION, opcode, 0, param_count, 0, data_length, 0, 0,
    };

    return encode_message(buf, cap, VGPU_REQUEST_MAX, header, 4, params, param_count,
                          data, data_length);
}

size_t vgpu_request_encode_vector_add(void *buf, size_t cap, uint32_t a, uint32_t b)
{
    const uint32_t params[VGPU_VECTOR_ADD_PARAMS] = { a, b };

    return vgpu_request_encode(buf, cap, VGPU_OP_VECTOR_ADD, params,
                               VGPU_VECTOR_ADD_PARAMS, NULL, 0);
}

uint32_t vgpu_request_decode(const void *buf, size_t len, struct vgpu_request_view *view)
{
    const unsigned char *in = buf;
    const struct vgpu_opcode_info *info;
    uint32_t opcode, param_count, data_offset, data_length;

    if (len < VGPU_REQUEST_HEADER_SIZE || len > VGPU_REQUEST_MAX) {
        return VGPU_ERR_BAD_LENGTH;
    }
    if (word_at(in, 0) != VGPU_PROTOCOL_VERSION) {
        return VGPU_ERR_BAD_VERSION;
    }
    opcode = word_at(in, 1);
    info = vgpu_opcode_lookup(opcode);
    if (!info) {
        return VGPU_ERR_BAD_OPCODE;
    }
    param_count = word_at(in, 3);
    data_offset = word_at(in, 4);
    data_length = word_at(in, 5);
    if (word_at(in, 2) != 0 || word_at(in, 6) != 0 || word_at(in, 7) != 0 ||
        !region_fits(len, param_count, data_offset, data_length) ||
        param_count != info->param_count || data_length > info->max_data_length) {
        return VGPU_ERR_BAD_PARAMS;
    }
    view->opcode = opcode;
    view->param_count = param_count;
    view->params = in + VGPU_REQUEST_HEADER_SIZE;
    view->data = data_length ? in + data_offset : NULL;
    view->data_length = data_length;
    return VGPU_OK;
}

uint32_t vgpu_request_param(const struct vgpu_request_view *view, uint32_t index)
{
    return word_at(view->params, index);
}

size_t vgpu_response_encode(void *buf, size_t cap, uint32_t status,
                            const uint32_t *results, uint32_t result_count,
                            const void *data, uint32_t data_length,
                            uint32_t exec_time_us)
{
    const uint32_t header[8] = {
        VGPU_PROTOCOL_VERSION, status, result_count, 0, data_length, exec_time_us, 0, 0,
    };

    return encode_message(buf, cap, VGPU_RESPONSE_MAX, header, 3, results, result_count,
                          data, data_length);
}

uint32_t vgpu_response_decode(const void *buf, size_t len, struct vgpu_response_view *view)
{
    const unsigned char *in = buf;
    uint32_t result_count, data_offset, data_length;

    if (len < VGPU_RESPONSE_HEADER_SIZE || len > VGPU_RESPONSE_MAX ||
        word_at(in, 0) != VGPU_PROTOCOL_VERSION) {
        return VGPU_ERR_PROTOCOL;
    }
    result_count = word_at(in, 2);
    data_offset = word_at(in, 3);
    data_length = word_at(in, 4);
    if (!region_fits(len, result_count, data_offset, data_length)) {
        return VGPU_ERR_PROTOCOL;
    }
    view->status = word_at(in, 1);
    view->result_count = result_count;
    view->exec_time_us = word_at(in, 5);
    view->results = in + VGPU_RESPONSE_HEADER_SIZE;
    view->data = data_length ? in + data_offset : NULL;
    view->data_length = data_length;
    return VGPU_OK;
}

uint32_t vgpu_response_result(const struct vgpu_response_view *view, uint32_t index)
{
    return word_at(view->results, index);
}

/* SUBMIT and COMPLETE carry the device's nonzero seq; the others carry 0. */
static int wire_seq_valid(uint16_t type, uint32_t seq)
{
    return (type == VGPU_WIRE_SUBMIT || type == VGPU_WIRE_COMPLETE) == (seq != 0);
}

/* Payload bounds of each wire message type; max 0 marks an unknown type. */
static void wire_payload_bounds(uint16_t type, size_t *min, size_t *max)
{
    switch (type) {
    case VGPU_WIRE_HELLO:
        *min = *max = sizeof(struct vgpu_wire_hello);
        return;
    case VGPU_WIRE_IDENTITY:
        *min = *max = sizeof(struct vgpu_wire_identity);
        return;
    case VGPU_WIRE_SUBMIT:
        *min = sizeof(struct vgpu_wire_submit) + 1;
        *max = sizeof(struct vgpu_wire_submit) + VGPU_REQUEST_MAX;
        return;
    case VGPU_WIRE_COMPLETE:
        *min = sizeof(struct vgpu_wire_complete);
        *max = sizeof(struct vgpu_wire_complete) + VGPU_RESPONSE_MAX;
        return;
    case VGPU_WIRE_WINDOW:
        *min = *max = sizeof(struct vgpu_wire_window);
        return;
    }
    *min = *max = 0;
}

size_t vgpu_wire_encode(void *buf, size_t cap, enum vgpu_wire_type type, uint32_t seq,
                        const void *head, size_t head_len,
                        const void *body, size_t body_len)
{
    unsigned char *out = buf;
    size_t min, max, payload;

    wire_payload_bounds((uint16_t)type, &min, &max);
    if (head_len > VGPU_WIRE_MAX_PAYLOAD || body_len > VGPU_WIRE_MAX_PAYLOAD) {
        return 0;
    }
    payload = head_len + body_len;
    if (max == 0 || payload < min || payload > max || !wire_seq_valid((uint16_t)type, seq) ||
        cap < VGPU_WIRE_HEADER_SIZE || payload > cap - VGPU_WIRE_HEADER_SIZE) {
        return 0;
    }
    vgpu_le32_store(out, VGPU_WIRE_MAGIC);
    vgpu_le32_store(out + 4, VGPU_WIRE_VERSION | (uint32_t)type << 16);
    vgpu_le32_store(out + 8, seq);
    vgpu_le32_store(out + 12, (uint32_t)payload);
    if (head_len) {
        memcpy(out + VGPU_WIRE_HEADER_SIZE, head, head_len);
    }
    if (body_len) {
        memcpy(out + VGPU_WIRE_HEADER_SIZE + head_len, body, body_len);
    }
    return VGPU_WIRE_HEADER_SIZE + payload;
}

uint32_t vgpu_wire_header_decode(const void *buf, struct vgpu_wire_header *hdr)
{
    const unsigned char *in = buf;
    uint32_t version_type = vgpu_le32_load(in + 4);
    uint16_t type = (uint16_t)(version_type >> 16);
    uint32_t seq = vgpu_le32_load(in + 8);
    uint32_t length = vgpu_le32_load(in + 12);
    size_t min, max;

    wire_payload_bounds(type, &min, &max);
    if (vgpu_le32_load(in) != VGPU_WIRE_MAGIC ||
        (version_type & 0xffff) != VGPU_WIRE_VERSION ||
        max == 0 || length < min || length > max || !wire_seq_valid(type, seq)) {
        return VGPU_ERR_PROTOCOL;
    }
    hdr->magic = VGPU_WIRE_MAGIC;
    hdr->version = VGPU_WIRE_VERSION;
    hdr->type = type;
    hdr->seq = seq;
    hdr->length = length;
    return VGPU_OK;
}

size_t vgpu_wire_hello_encode(void *buf, size_t cap, const uint8_t uuid[16],
                              uint32_t protocol_version)
{
    unsigned char head[sizeof(struct vgpu_wire_hello)];

    memcpy(head + offsetof(struct vgpu_wire_hello, uuid), uuid, 16);
    vgpu_le32_store(head + offsetof(struct vgpu_wire_hello, protocol_version), protocol_version);
    vgpu_le32_store(head + offsetof(struct vgpu_wire_hello, reserved), 0);
    return vgpu_wire_encode(buf, cap, VGPU_WIRE_HELLO, 0, head, sizeof(head), NULL, 0);
}

uint32_t vgpu_wire_hello_decode(const void *payload, size_t len, struct vgpu_wire_hello *hello)
{
    const unsigned char *in = payload;

    if (len != sizeof(struct vgpu_wire_hello) ||
        vgpu_le32_load(in + offsetof(struct vgpu_wire_hello, reserved)) != 0) {
        return VGPU_ERR_PROTOCOL;
    }
    memcpy(hello->uuid, in + offsetof(struct vgpu_wire_hello, uuid), 16);
    hello->protocol_version = vgpu_le32_load(in + offsetof(struct vgpu_wire_hello,
                                                           protocol_version));
    hello->reserved = 0;
    return VGPU_OK;
}

size_t vgpu_wire_identity_encode(void *buf, size_t cap, const struct vgpu_wire_identity *id)
{
    unsigned char head[sizeof(struct vgpu_wire_identity)];

    vgpu_le32_store(head + offsetof(struct vgpu_wire_identity, error), id->error);
    vgpu_le32_store(head + offsetof(struct vgpu_wire_identity, pool_id), id->pool_id);
    vgpu_le32_store(head + offsetof(struct vgpu_wire_identity, priority), id->priority);
    vgpu_le32_store(head + offsetof(struct vgpu_wire_identity, vm_id), id->vm_id);
    return vgpu_wire_encode(buf, cap, VGPU_WIRE_IDENTITY, 0, head, sizeof(head), NULL, 0);
}

uint32_t vgpu_wire_identity_decode(const void *payload, size_t len,
                                   struct vgpu_wire_identity *id)
{
    const unsigned char *in = payload;
    struct vgpu_wire_identity got;

    if (len != sizeof(struct vgpu_wire_identity)) {
        return VGPU_ERR_PROTOCOL;
    }
    got.error = vgpu_le32_load(in + offsetof(struct vgpu_wire_identity, error));
    got.pool_id = vgpu_le32_load(in + offsetof(struct vgpu_wire_identity, pool_id));
    got.priority = vgpu_le32_load(in + offsetof(struct vgpu_wire_identity, priority));
    got.vm_id = vgpu_le32_load(in + offsetof(struct vgpu_wire_identity, vm_id));
    if (got.error >= VGPU_ERROR_COUNT) {
        return VGPU_ERR_PROTOCOL;
    }
    if (got.error == VGPU_OK
            ? got.pool_id < VGPU_POOL_FIRST || got.pool_id > VGPU_POOL_LAST ||
              got.priority >= VGPU_PRIORITY_COUNT || got.vm_id < 1 || got.vm_id > VGPU_VM_ID_MAX
            : got.pool_id != 0 || got.priority != 0 || got.vm_id != 0) {
        return VGPU_ERR_PROTOCOL;
    }
    *id = got;
    return VGPU_OK;
}

size_t vgpu_wire_submit_encode(void *buf, size_t cap, uint32_t seq, uint32_t request_id,
                               const void *request, size_t request_len)
{
    unsigned char head[sizeof(struct vgpu_wire_submit)];

    vgpu_le32_store(head + offsetof(struct vgpu_wire_submit, request_id), request_id);
    vgpu_le32_store(head + offsetof(struct vgpu_wire_submit, reserved), 0);
    return vgpu_wire_encode(buf, cap, VGPU_WIRE_SUBMIT, seq, head, sizeof(head), request,
                            request_len);
}

uint32_t vgpu_wire_submit_decode(const void *payload, size_t len,
                                 struct vgpu_wire_submit_view *view)
{
    const unsigned char *in = payload;

    if (len <= sizeof(struct vgpu_wire_submit) ||
        len - sizeof(struct vgpu_wire_submit) > VGPU_REQUEST_MAX ||
        vgpu_le32_load(in + offsetof(struct vgpu_wire_submit, reserved)) != 0) {
        return VGPU_ERR_PROTOCOL;
    }
    view->request_id = vgpu_le32_load(in + offsetof(struct vgpu_wire_submit, request_id));
    view->request = in + sizeof(struct vgpu_wire_submit);
    view->request_len = len - sizeof(struct vgpu_wire_submit);
    return VGPU_OK;
}

size_t vgpu_wire_complete_encode(void *buf, size_t cap, uint32_t seq, uint32_t request_id,
                                 uint32_t error, const void *response, size_t response_len)
{
    unsigned char head[sizeof(struct vgpu_wire_complete)];

    vgpu_le32_store(head + offsetof(struct vgpu_wire_complete, request_id), request_id);
    vgpu_le32_store(head + offsetof(struct vgpu_wire_complete, error), error);
    return vgpu_wire_encode(buf, cap, VGPU_WIRE_COMPLETE, seq, head, sizeof(head), response,
                            response_len);
}

uint32_t vgpu_wire_complete_decode(const void *payload, size_t len,
                                   struct vgpu_wire_complete_view *view)
{
    const unsigned char *in = payload;
    uint32_t error;

    if (len < sizeof(struct vgpu_wire_complete) ||
        len - sizeof(struct vgpu_wire_complete) > VGPU_RESPONSE_MAX) {
        return VGPU_ERR_PROTOCOL;
    }
    error = vgpu_le32_load(in + offsetof(struct vgpu_wire_complete, error));
    if (error >= VGPU_ERROR_COUNT) {
        return VGPU_ERR_PROTOCOL;
    }
    view->request_id = vgpu_le32_load(in + offsetof(struct vgpu_wire_complete, request_id));
    view->error = error;
    view->response_len = len - sizeof(struct vgpu_wire_complete);
    view->response = view->response_len ? in + sizeof(struct vgpu_wire_complete) : NULL;
    return VGPU_OK;
}

size_t vgpu_wire_window_encode(void *buf, size_t cap, uint64_t size)
{
    unsigned char head[sizeof(struct vgpu_wire_window)];

    vgpu_le32_store(head + offsetof(struct vgpu_wire_window, size_lo), (uint32_t)size);
    vgpu_le32_store(head + offsetof(struct vgpu_wire_window, size_hi), (uint32_t)(size >> 32));
    return vgpu_wire_encode(buf, cap, VGPU_WIRE_WINDOW, 0, head, sizeof(head), NULL, 0);
}

uint32_t vgpu_wire_window_decode(const void *payload, size_t len, uint64_t *size)
{
    const unsigned char *in = payload;
    uint64_t v;

    if (len != sizeof(struct vgpu_wire_window)) {
        return VGPU_ERR_PROTOCOL;
    }
    v = vgpu_le32_load(in + offsetof(struct vgpu_wire_window, size_lo)) |
        (uint64_t)vgpu_le32_load(in + offsetof(struct vgpu_wire_window, size_hi)) << 32;
    if (v < VGPU_WINDOW_SIZE_MIN || v > VGPU_WINDOW_SIZE_MAX || (v & (v - 1)) != 0) {
        return VGPU_ERR_PROTOCOL;
    }
    *size = v;
    return VGPU_OK;
}
