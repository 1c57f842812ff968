/*
 * The device <-> mediator wire messages (common/codec.c):
 * vgpu_wire_header_decode and each vgpu_wire_*_decode.
 *
 * The first byte picks what the rest is:
 *   0      a frame as the mediator and the device read it: a 16-byte header,
 *          and when the header is accepted, its `length` bytes of payload
 *          to that type's decoder
 *   1..5   a payload straight to the decoder of that wire type (1 HELLO,
 *          2 IDENTITY, 3 SUBMIT, 4 COMPLETE, 5 WINDOW)
 *
 * Checked: a refusal is PROTOCOL and fills nothing in; an accepted header
 * obeys the framing rules (a known type, its payload bounds, seq nonzero
 * exactly for SUBMIT and COMPLETE) and encodes back to the same 16 bytes;
 * an accepted payload's fields hold their documented ranges, its views lie
 * inside it, and the message encodes back to the same payload bytes.
 */
#include <stdbool.h>

#include "fuzz.h"
#include "vgpu/codec.h"
#include "vgpu/regs.h"

static unsigned char frame[VGPU_WIRE_MAX_MESSAGE];

/* The payload bytes of the frame just encoded are exactly payload[0..len). */
static void check_encoded(size_t frame_len, enum vgpu_wire_type type, uint32_t seq,
                          const unsigned char *payload, size_t len)
{
    struct vgpu_wire_header hdr;

    FUZZ_CHECK(frame_len == VGPU_WIRE_HEADER_SIZE + len);
    FUZZ_CHECK(vgpu_wire_header_decode(frame, &hdr) == VGPU_OK);
    FUZZ_CHECK(hdr.type == type && hdr.seq == seq && hdr.length == len);
    FUZZ_CHECK(memcmp(frame + VGPU_WIRE_HEADER_SIZE, payload, len) == 0);
}

static void decode_payload(unsigned type, const unsigned char *payload, size_t len)
{
    uint32_t rc = VGPU_ERR_PROTOCOL;

    switch (type) {
    case VGPU_WIRE_HELLO: {
        struct vgpu_wire_hello hello;

        memset(&hello, FUZZ_POISON, sizeof(hello));
        rc = vgpu_wire_hello_decode(payload, len, &hello);
        if (rc != VGPU_OK) {
            FUZZ_CHECK(fuzz_all_bytes(&hello, sizeof(hello), FUZZ_POISON));
            break;
        }
        FUZZ_CHECK(len == sizeof(struct vgpu_wire_hello) && hello.reserved == 0);
        check_encoded(vgpu_wire_hello_encode(frame, sizeof(frame), hello.uuid,
                                             hello.protocol_version),
                      VGPU_WIRE_HELLO, 0, payload, len);
        break;
    }
    case VGPU_WIRE_IDENTITY: {
        struct vgpu_wire_identity id;

        memset(&id, FUZZ_POISON, sizeof(id));
        rc = vgpu_wire_identity_decode(payload, len, &id);
        if (rc != VGPU_OK) {
            FUZZ_CHECK(fuzz_all_bytes(&id, sizeof(id), FUZZ_POISON));
            break;
        }
        FUZZ_CHECK(len == sizeof(struct vgpu_wire_identity));
        FUZZ_CHECK(id.error < VGPU_ERROR_COUNT);
        if (id.error == VGPU_OK) {
            FUZZ_CHECK(id.pool_id >= VGPU_POOL_FIRST && id.pool_id <= VGPU_POOL_LAST);
            FUZZ_CHECK(id.priority < VGPU_PRIORITY_COUNT);
            FUZZ_CHECK(id.vm_id >= 1 && id.vm_id <= VGPU_VM_ID_MAX);
        } else {
            FUZZ_CHECK(id.pool_id == 0 && id.priority == 0 && id.vm_id == 0);
        }
        check_encoded(vgpu_wire_identity_encode(frame, sizeof(frame), &id),
                      VGPU_WIRE_IDENTITY, 0, payload, len);
        break;
    }
    case VGPU_WIRE_SUBMIT: {
        struct vgpu_wire_submit_view view;

        memset(&view, FUZZ_POISON, sizeof(view));
        rc = vgpu_wire_submit_decode(payload, len, &view);
        if (rc != VGPU_OK) {
            FUZZ_CHECK(fuzz_all_bytes(&view, sizeof(view), FUZZ_POISON));
            break;
        }
        FUZZ_CHECK(view.request_len >= 1 && view.request_len <= VGPU_REQUEST_MAX);
        FUZZ_CHECK(view.request == payload + sizeof(struct vgpu_wire_submit));
        FUZZ_CHECK(sizeof(struct vgpu_wire_submit) + view.request_len == len);
        check_encoded(vgpu_wire_submit_encode(frame, sizeof(frame), 1, view.request_id,
                                              view.request, view.request_len),
                      VGPU_WIRE_SUBMIT, 1, payload, len);
        break;
    }
    case VGPU_WIRE_COMPLETE: {
        struct vgpu_wire_complete_view view;

        memset(&view, FUZZ_POISON, sizeof(view));
        rc = vgpu_wire_complete_decode(payload, len, &view);
        if (rc != VGPU_OK) {
            FUZZ_CHECK(fuzz_all_bytes(&view, sizeof(view), FUZZ_POISON));
            break;
        }
        FUZZ_CHECK(view.error < VGPU_ERROR_COUNT);
        FUZZ_CHECK(view.response_len <= VGPU_RESPONSE_MAX);
        FUZZ_CHECK(sizeof(struct vgpu_wire_complete) + view.response_len == len);
        FUZZ_CHECK(view.response_len ? view.response == payload + sizeof(struct vgpu_wire_complete)
                                     : view.response == NULL);
        check_encoded(vgpu_wire_complete_encode(frame, sizeof(frame), 7, view.request_id,
                                                view.error, view.response, view.response_len),
                      VGPU_WIRE_COMPLETE, 7, payload, len);
        break;
    }
    case VGPU_WIRE_WINDOW: {
        uint64_t size;

        memset(&size, FUZZ_POISON, sizeof(size));
        rc = vgpu_wire_window_decode(payload, len, &size);
        if (rc != VGPU_OK) {
            FUZZ_CHECK(fuzz_all_bytes(&size, sizeof(size), FUZZ_POISON));
            break;
        }
        FUZZ_CHECK(size >= VGPU_WINDOW_SIZE_MIN && size <= VGPU_WINDOW_SIZE_MAX);
        FUZZ_CHECK((size & (size - 1)) == 0);
        check_encoded(vgpu_wire_window_encode(frame, sizeof(frame), size),
                      VGPU_WIRE_WINDOW, 0, payload, len);
        break;
    }
    default:
        return;
    }
    FUZZ_CHECK(rc == VGPU_OK || rc == VGPU_ERR_PROTOCOL);
}

static void decode_frame(const unsigned char *in, size_t size)
{
    unsigned char *header, *payload;
    struct vgpu_wire_header hdr;
    bool has_seq;
    size_t len;
    uint32_t rc;

    if (size < VGPU_WIRE_HEADER_SIZE) {
        return;
    }
    header = fuzz_copy(in, VGPU_WIRE_HEADER_SIZE);
    memset(&hdr, FUZZ_POISON, sizeof(hdr));
    rc = vgpu_wire_header_decode(header, &hdr);
    free(header);
    if (rc != VGPU_OK) {
        FUZZ_CHECK(rc == VGPU_ERR_PROTOCOL);
        FUZZ_CHECK(fuzz_all_bytes(&hdr, sizeof(hdr), FUZZ_POISON));
        return;
    }
    FUZZ_CHECK(hdr.magic == VGPU_WIRE_MAGIC && hdr.version == VGPU_WIRE_VERSION);
    FUZZ_CHECK(hdr.type >= VGPU_WIRE_HELLO && hdr.type <= VGPU_WIRE_WINDOW);
    FUZZ_CHECK(hdr.length <= VGPU_WIRE_MAX_PAYLOAD);
    has_seq = hdr.type == VGPU_WIRE_SUBMIT || hdr.type == VGPU_WIRE_COMPLETE;
    FUZZ_CHECK(has_seq == (hdr.seq != 0));

    /* The same header again from the encoder, with a zero payload of that length. */
    payload = calloc(1, hdr.length ? hdr.length : 1);
    FUZZ_CHECK(payload != NULL);
    FUZZ_CHECK(vgpu_wire_encode(frame, sizeof(frame), hdr.type, hdr.seq, NULL, 0, payload,
                                hdr.length) == VGPU_WIRE_HEADER_SIZE + hdr.length);
    FUZZ_CHECK(memcmp(frame, in, VGPU_WIRE_HEADER_SIZE) == 0);
    free(payload);

    /* The reader takes exactly `length` bytes of payload. */
    len = size - VGPU_WIRE_HEADER_SIZE;
    if (len < hdr.length) {
        return;
    }
    payload = fuzz_copy(in + VGPU_WIRE_HEADER_SIZE, hdr.length);
    decode_payload(hdr.type, payload, hdr.length);
    free(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *payload;

    if (size < 1) {
        return 0;
    }
    if (data[0] == 0) {
        decode_frame(data + 1, size - 1);
    } else if (data[0] <= VGPU_WIRE_WINDOW) {
        payload = fuzz_copy(data + 1, size - 1);
        decode_payload(data[0], payload, size - 1);
        free(payload);
    }
    return 0;
}
