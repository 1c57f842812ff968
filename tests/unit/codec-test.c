/*
 * The codec accepts well-formed requests, responses, wire headers and wire
 * messages and rejects each kind of malformed one with its named error,
 * without reading past the bytes it was given.
 */
#include <glib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vgpu/codec.h"
#include "vgpu/ops.h"

/* The len bytes end exactly at an inaccessible page: any over-read faults. */
typedef struct {
    unsigned char *page;
    size_t page_size;
} Guard;

static unsigned char *guard_place(Guard *g, const void *bytes, size_t len)
{
    g->page_size = (size_t)sysconf(_SC_PAGESIZE);
    g->page = mmap(NULL, 2 * g->page_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert(g->page != MAP_FAILED);
    g_assert_cmpint(mprotect(g->page + g->page_size, g->page_size, PROT_NONE), ==, 0);
    g_assert_cmpuint(len, <=, g->page_size);
    memcpy(g->page + g->page_size - len, bytes, len);
    return g->page + g->page_size - len;
}

static void guard_free(Guard *g)
{
    munmap(g->page, 2 * g->page_size);
}

/* The error of decoding a guarded copy (the view is not kept: it points into the copy). */
static uint32_t decode_guarded(const void *bytes, size_t len)
{
    struct vgpu_request_view view;
    Guard g;
    uint32_t err = vgpu_request_decode(guard_place(&g, bytes, len), len, &view);

    guard_free(&g);
    return err;
}

static size_t vector_add(unsigned char *buf, uint32_t a, uint32_t b)
{
    return vgpu_request_encode_vector_add(buf, VGPU_REQUEST_MAX, a, b);
}

static void set_word(unsigned char *buf, unsigned index, uint32_t v)
{
    vgpu_le32_store(buf + 4 * index, v);
}

static void test_vector_add_round_trip(void)
{
    unsigned char buf[VGPU_REQUEST_MAX];
    struct vgpu_request_view view;
    size_t len = vector_add(buf, 7, 0xffffffffu);
    Guard g;

    g_assert_cmpuint(len, ==, 40);
    g_assert_cmpuint(vgpu_le32_load(buf), ==, 0x00010000u);
    g_assert_cmpuint(vgpu_le32_load(buf + 4), ==, VGPU_OP_VECTOR_ADD);
    g_assert_cmpuint(vgpu_le32_load(buf + 12), ==, 2);
    g_assert_cmpuint(vgpu_le32_load(buf + 16), ==, 40);   /* data_offset after params */
    g_assert_cmpuint(vgpu_le32_load(buf + 20), ==, 0);
    g_assert_cmpuint(vgpu_request_decode(guard_place(&g, buf, len), len, &view), ==, VGPU_OK);
    g_assert_cmpuint(view.opcode, ==, VGPU_OP_VECTOR_ADD);
    g_assert_cmpuint(view.param_count, ==, 2);
    g_assert_cmpuint(vgpu_request_param(&view, 0), ==, 7);
    g_assert_cmpuint(vgpu_request_param(&view, 1), ==, 0xffffffffu);
    g_assert_null(view.data);
    g_assert_cmpuint(view.data_length, ==, 0);
    guard_free(&g);
}

static void test_encode_refuses_small_buffer(void)
{
    unsigned char buf[64];

    g_assert_cmpuint(vgpu_request_encode_vector_add(buf, 39, 1, 2), ==, 0);
    g_assert_cmpuint(vgpu_request_encode_vector_add(buf, 40, 1, 2), ==, 40);
    g_assert_cmpuint(vgpu_response_encode(buf, 35, 0, (uint32_t[]){ 3 }, 1, NULL, 0, 0), ==, 0);
}

static void test_encode_refuses_oversized(void)
{
    static unsigned char buf[4096], data[VGPU_REQUEST_MAX];     /* apart: memcpy */
    static uint32_t params[VGPU_REQUEST_MAX_PARAMS + 1];

    g_assert_cmpuint(vgpu_request_encode(buf, sizeof(buf), 1, params,
                                         VGPU_REQUEST_MAX_PARAMS, NULL, 0), ==, VGPU_REQUEST_MAX);
    g_assert_cmpuint(vgpu_request_encode(buf, sizeof(buf), 1, params,
                                         VGPU_REQUEST_MAX_PARAMS + 1, NULL, 0), ==, 0);
    g_assert_cmpuint(vgpu_request_encode(buf, sizeof(buf), 1, NULL, 0, data, 993), ==, 0);
    g_assert_cmpuint(vgpu_request_encode(buf, sizeof(buf), 1, NULL, 0, data, 992), ==, VGPU_REQUEST_MAX);
}

static void test_rejects_length_0_and_over_1024(void)
{
    unsigned char buf[VGPU_REQUEST_MAX + 1] = { 0 };
    struct vgpu_request_view view;

    vector_add(buf, 1, 2);
    g_assert_cmpuint(vgpu_request_decode(buf, 0, &view), ==, VGPU_ERR_BAD_LENGTH);
    g_assert_cmpuint(decode_guarded(buf, 1), ==, VGPU_ERR_BAD_LENGTH);
    g_assert_cmpuint(decode_guarded(buf, 31), ==, VGPU_ERR_BAD_LENGTH);
    g_assert_cmpuint(decode_guarded(buf, VGPU_REQUEST_MAX + 1), ==, VGPU_ERR_BAD_LENGTH);
}

static void test_rejects_bad_version(void)
{
    unsigned char buf[VGPU_REQUEST_MAX];
    size_t len = vector_add(buf, 1, 2);

    set_word(buf, 0, 0x00020000u);
    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_VERSION);
    set_word(buf, 0, 0);
    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_VERSION);
}

static void test_rejects_bad_opcode(void)
{
    unsigned char buf[VGPU_REQUEST_MAX];
    size_t len = vector_add(buf, 1, 2);

    g_assert_null(vgpu_opcode_lookup(0));
    for (uint32_t op = 0; op < 4; op += 2) {      /* 0 and 2 are not opcodes */
        set_word(buf, 1, op);
        g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_OPCODE);
    }
    set_word(buf, 1, 0xffffffffu);
    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_OPCODE);
}

static void test_rejects_param_count_too_large_for_length(void)
{
    unsigned char buf[VGPU_REQUEST_MAX];
    size_t len = vector_add(buf, 1, 2);

    g_assert_cmpuint(decode_guarded(buf, len - 4), ==, VGPU_ERR_BAD_PARAMS);
    set_word(buf, 3, 3);                  /* 3 params claimed, 2 present */
    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_PARAMS);
    set_word(buf, 3, 0x40000000u);        /* 4 * count overflows 32 bits */
    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_PARAMS);
    set_word(buf, 3, 0xffffffffu);
    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_PARAMS);
}

static void test_rejects_param_count_wrong_for_opcode(void)
{
    unsigned char buf[VGPU_REQUEST_MAX];
    size_t len = vgpu_request_encode(buf, sizeof(buf), VGPU_OP_VECTOR_ADD,
                                     (uint32_t[]){ 1, 2, 3 }, 3, NULL, 0);

    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_PARAMS);
    len = vgpu_request_encode(buf, sizeof(buf), VGPU_OP_VECTOR_ADD, (uint32_t[]){ 1 }, 1, NULL, 0);
    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_PARAMS);
}

static void test_rejects_data_outside_request(void)
{
    unsigned char buf[VGPU_REQUEST_MAX];
    size_t len = vector_add(buf, 1, 2);

    set_word(buf, 4, 41);                 /* data_offset past the end */
    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_PARAMS);
    set_word(buf, 4, 36);                 /* data_offset inside the params */
    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_PARAMS);
    set_word(buf, 4, 0xfffffff0u);
    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_PARAMS);
    set_word(buf, 4, 40);
    set_word(buf, 5, 1);                  /* data_length past the end */
    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_PARAMS);
    set_word(buf, 5, 0xffffffffu);        /* offset + length wraps */
    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_PARAMS);
}

static void test_rejects_data_the_opcode_takes_none_of(void)
{
    unsigned char buf[VGPU_REQUEST_MAX];
    size_t len = vgpu_request_encode(buf, sizeof(buf), VGPU_OP_VECTOR_ADD,
                                     (uint32_t[]){ 1, 2 }, 2, "abcd", 4);

    g_assert_cmpuint(len, ==, 44);
    g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_PARAMS);
}

static void test_rejects_nonzero_flags_and_reserved(void)
{
    unsigned char buf[VGPU_REQUEST_MAX];

    for (unsigned word = 2; word < 8; word += (word == 2 ? 4 : 1)) {   /* 2, 6, 7 */
        size_t len = vector_add(buf, 1, 2);

        set_word(buf, word, 1);
        g_assert_cmpuint(decode_guarded(buf, len), ==, VGPU_ERR_BAD_PARAMS);
    }
}

static void test_accepts_trailing_bytes_after_params(void)
{
    unsigned char buf[VGPU_REQUEST_MAX] = { 0 };
    struct vgpu_request_view view;

    vector_add(buf, 5, 6);
    g_assert_cmpuint(vgpu_request_decode(buf, 64, &view), ==, VGPU_OK);
    g_assert_cmpuint(vgpu_request_param(&view, 1), ==, 6);
}

static void test_response_round_trip(void)
{
    unsigned char buf[VGPU_RESPONSE_MAX];
    struct vgpu_response_view view;
    size_t len = vgpu_response_encode(buf, sizeof(buf), VGPU_OK, (uint32_t[]){ 42 }, 1,
                                      NULL, 0, 17);
    Guard g;

    g_assert_cmpuint(len, ==, 36);
    g_assert_cmpuint(vgpu_le32_load(buf + 12), ==, 36);   /* data_offset after results */
    g_assert_cmpuint(vgpu_response_decode(guard_place(&g, buf, len), len, &view), ==, VGPU_OK);
    g_assert_cmpuint(view.status, ==, VGPU_OK);
    g_assert_cmpuint(view.result_count, ==, 1);
    g_assert_cmpuint(vgpu_response_result(&view, 0), ==, 42);
    g_assert_cmpuint(view.exec_time_us, ==, 17);
    guard_free(&g);

    len = vgpu_response_encode(buf, sizeof(buf), VGPU_ERR_BAD_OPCODE, NULL, 0, NULL, 0, 0);
    g_assert_cmpuint(len, ==, 32);
    g_assert_cmpuint(vgpu_response_decode(buf, len, &view), ==, VGPU_OK);
    g_assert_cmpuint(view.status, ==, VGPU_ERR_BAD_OPCODE);
}

static void test_response_rejects_malformed(void)
{
    unsigned char buf[VGPU_RESPONSE_MAX];
    struct vgpu_response_view view;
    size_t len = vgpu_response_encode(buf, sizeof(buf), VGPU_OK, (uint32_t[]){ 42 }, 1,
                                      NULL, 0, 0);

    g_assert_cmpuint(vgpu_response_decode(buf, 31, &view), ==, VGPU_ERR_PROTOCOL);
    g_assert_cmpuint(vgpu_response_decode(buf, VGPU_RESPONSE_MAX + 1, &view), ==, VGPU_ERR_PROTOCOL);
    g_assert_cmpuint(vgpu_response_decode(buf, len - 1, &view), ==, VGPU_ERR_PROTOCOL);
    set_word(buf, 2, 2);                  /* two results claimed, one present */
    g_assert_cmpuint(vgpu_response_decode(buf, len, &view), ==, VGPU_ERR_PROTOCOL);
    /* counts whose 4 * count wraps in 32 bits to something that fits */
    for (uint32_t count = 0x40000000u; count != 0; count += 0x40000000u) {
        set_word(buf, 2, count);
        g_assert_cmpuint(vgpu_response_decode(buf, len, &view), ==, VGPU_ERR_PROTOCOL);
        set_word(buf, 2, count + 1);
        g_assert_cmpuint(vgpu_response_decode(buf, len, &view), ==, VGPU_ERR_PROTOCOL);
    }
    set_word(buf, 2, 1);
    set_word(buf, 4, 1);                  /* data past the end */
    g_assert_cmpuint(vgpu_response_decode(buf, len, &view), ==, VGPU_ERR_PROTOCOL);
    set_word(buf, 4, 0);
    set_word(buf, 0, 0x00020000u);
    g_assert_cmpuint(vgpu_response_decode(buf, len, &view), ==, VGPU_ERR_PROTOCOL);
}

static void test_error_table_is_complete(void)
{
    g_assert_cmpint(VGPU_ERROR_COUNT, >=, 15);
    for (uint32_t code = 0; code < VGPU_ERROR_COUNT; code++) {
        g_assert_nonnull(vgpu_error_name(code));
        g_assert_cmpstr(vgpu_error_message(code), !=, "unknown error");
        for (uint32_t other = 0; other < code; other++) {
            g_assert_cmpstr(vgpu_error_name(code), !=, vgpu_error_name(other));
        }
    }
    g_assert_null(vgpu_error_name(VGPU_ERROR_COUNT));
    g_assert_cmpstr(vgpu_error_message(VGPU_ERROR_COUNT), ==, "unknown error");
    /* the numbers are a stable contract */
    g_assert_cmpint(VGPU_ERR_BAD_LENGTH, ==, 1);
    g_assert_cmpint(VGPU_ERR_NOT_CONNECTED, ==, 6);
    g_assert_cmpint(VGPU_ERR_QUEUE_FULL, ==, 8);
    g_assert_cmpint(VGPU_ERR_CANCELLED, ==, 12);
    g_assert_cmpint(VGPU_ERR_NO_WINDOW, ==, 15);
    g_assert_cmpint(VGPU_ERR_OVERLAP, ==, 17);
    g_assert_cmpstr(vgpu_error_name(VGPU_ERR_TIMEOUT), ==, "TIMEOUT");
}

static void test_wire_round_trip(void)
{
    unsigned char buf[VGPU_WIRE_MAX_MESSAGE];
    unsigned char req[VGPU_REQUEST_MAX];
    struct vgpu_wire_submit submit = { .request_id = 0x1234 };
    struct vgpu_wire_header hdr;
    size_t req_len = vector_add(req, 1, 2);
    size_t len = vgpu_wire_encode(buf, sizeof(buf), VGPU_WIRE_SUBMIT, 9,
                                  &submit, sizeof(submit), req, req_len);

    g_assert_cmpuint(len, ==, 16 + 8 + 40);
    g_assert_cmpmem(buf, 4, "VPGW", 4);
    g_assert_cmpuint(vgpu_wire_header_decode(buf, &hdr), ==, VGPU_OK);
    g_assert_cmpuint(hdr.type, ==, VGPU_WIRE_SUBMIT);
    g_assert_cmpuint(hdr.seq, ==, 9);
    g_assert_cmpuint(hdr.length, ==, 48);
    g_assert_cmpmem(buf + 24, req_len, req, req_len);
}

static void test_wire_rejects_malformed_headers(void)
{
    unsigned char good[VGPU_WIRE_HEADER_SIZE + sizeof(struct vgpu_wire_identity)];
    struct vgpu_wire_identity id = { 0 };
    struct vgpu_wire_header hdr;
    unsigned char bad[sizeof(good)];

    g_assert_cmpuint(vgpu_wire_encode(good, sizeof(good), VGPU_WIRE_IDENTITY, 0,
                                      &id, sizeof(id), NULL, 0), ==, sizeof(good));
    g_assert_cmpuint(vgpu_wire_header_decode(good, &hdr), ==, VGPU_OK);

    memcpy(bad, good, sizeof(bad)); bad[0] ^= 1;                      /* magic */
    g_assert_cmpuint(vgpu_wire_header_decode(bad, &hdr), ==, VGPU_ERR_PROTOCOL);
    memcpy(bad, good, sizeof(bad)); bad[4] = 2;                       /* version */
    g_assert_cmpuint(vgpu_wire_header_decode(bad, &hdr), ==, VGPU_ERR_PROTOCOL);
    memcpy(bad, good, sizeof(bad)); bad[6] = 99;                      /* type */
    g_assert_cmpuint(vgpu_wire_header_decode(bad, &hdr), ==, VGPU_ERR_PROTOCOL);
    memcpy(bad, good, sizeof(bad)); bad[12] = 17;                     /* IDENTITY is 16 */
    g_assert_cmpuint(vgpu_wire_header_decode(bad, &hdr), ==, VGPU_ERR_PROTOCOL);
    memcpy(bad, good, sizeof(bad)); bad[8] = 1;                       /* seq on IDENTITY */
    g_assert_cmpuint(vgpu_wire_header_decode(bad, &hdr), ==, VGPU_ERR_PROTOCOL);
    memcpy(bad, good, sizeof(bad)); bad[6] = VGPU_WIRE_COMPLETE;      /* COMPLETE needs seq */
    g_assert_cmpuint(vgpu_wire_header_decode(bad, &hdr), ==, VGPU_ERR_PROTOCOL);
    bad[8] = 1;
    g_assert_cmpuint(vgpu_wire_header_decode(bad, &hdr), ==, VGPU_OK);
    vgpu_le32_store(bad + 12, 8 + VGPU_RESPONSE_MAX + 1);             /* oversized */
    g_assert_cmpuint(vgpu_wire_header_decode(bad, &hdr), ==, VGPU_ERR_PROTOCOL);
    vgpu_le32_store(bad + 12, 0xffffffffu);
    g_assert_cmpuint(vgpu_wire_header_decode(bad, &hdr), ==, VGPU_ERR_PROTOCOL);
    bad[6] = VGPU_WIRE_SUBMIT;                                        /* empty SUBMIT */
    vgpu_le32_store(bad + 12, 8);
    g_assert_cmpuint(vgpu_wire_header_decode(bad, &hdr), ==, VGPU_ERR_PROTOCOL);
}

static void test_wire_encode_refuses_what_decode_would(void)
{
    unsigned char buf[VGPU_WIRE_MAX_MESSAGE + 16];
    static unsigned char big[VGPU_REQUEST_MAX + 1];
    struct vgpu_wire_submit submit = { 0 };

    g_assert_cmpuint(vgpu_wire_encode(buf, sizeof(buf), VGPU_WIRE_SUBMIT, 0,
                                      &submit, sizeof(submit), big, 40), ==, 0);
    g_assert_cmpuint(vgpu_wire_encode(buf, sizeof(buf), VGPU_WIRE_SUBMIT, 1,
                                      &submit, sizeof(submit), big, sizeof(big)), ==, 0);
    g_assert_cmpuint(vgpu_wire_encode(buf, sizeof(buf), VGPU_WIRE_SUBMIT, 1,
                                      &submit, sizeof(submit), big, VGPU_REQUEST_MAX),
                     ==, VGPU_WIRE_MAX_MESSAGE);
    g_assert_cmpuint(vgpu_wire_encode(buf, 60, VGPU_WIRE_SUBMIT, 1,
                                      &submit, sizeof(submit), big, 40), ==, 0);
    g_assert_cmpuint(vgpu_wire_encode(buf, sizeof(buf), 77, 0, NULL, 0, NULL, 0), ==, 0);
}

/* Random bytes: decode never faults, and what it accepts lies inside the input. */
static void test_random_requests_stay_in_bounds(void)
{
    GRand *rand = g_rand_new_with_seed(20261125);
    unsigned char buf[VGPU_REQUEST_MAX];
    Guard g;

    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)g_rand_int_range(rand, 0, VGPU_REQUEST_MAX + 1);
        struct vgpu_request_view view;
        unsigned char *at;

        vector_add(buf, 1, 2);
        for (int k = g_rand_int_range(rand, 0, 4); k >= 0; k--) {
            buf[g_rand_int_range(rand, 0, 40)] = (unsigned char)g_rand_int(rand);
        }
        if (i % 7 == 0) {
            for (size_t k = 0; k < len; k++) {
                buf[k] = (unsigned char)g_rand_int(rand);
            }
        }
        at = guard_place(&g, buf, len);
        if (vgpu_request_decode(at, len, &view) == VGPU_OK) {
            g_assert_true(view.params + 4 * (size_t)view.param_count <= at + len);
            g_assert_true(view.data_length == 0 || view.data + view.data_length <= at + len);
        }
        guard_free(&g);
    }
    g_rand_free(rand);
}

/* The payload of a frame the encoders wrote, guarded; its header checked. */
static const unsigned char *payload_of(Guard *g, const unsigned char *frame, size_t len,
                                       enum vgpu_wire_type type)
{
    struct vgpu_wire_header hdr;

    g_assert_cmpuint(len, >, VGPU_WIRE_HEADER_SIZE);
    g_assert_cmpuint(vgpu_wire_header_decode(frame, &hdr), ==, VGPU_OK);
    g_assert_cmpuint(hdr.type, ==, type);
    g_assert_cmpuint(hdr.length, ==, len - VGPU_WIRE_HEADER_SIZE);
    return guard_place(g, frame + VGPU_WIRE_HEADER_SIZE, hdr.length);
}

static void test_wire_hello(void)
{
    static const uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    unsigned char frame[VGPU_WIRE_MAX_MESSAGE], bytes[sizeof(struct vgpu_wire_hello) + 1];
    size_t len = vgpu_wire_hello_encode(frame, sizeof(frame), uuid, 0x00020003u);
    struct vgpu_wire_hello hello;
    Guard g;

    g_assert_cmpuint(vgpu_wire_hello_decode(payload_of(&g, frame, len, VGPU_WIRE_HELLO), 24,
                                            &hello), ==, VGPU_OK);
    guard_free(&g);
    g_assert_cmpmem(hello.uuid, 16, uuid, 16);
    g_assert_cmphex(hello.protocol_version, ==, 0x00020003u);
    memcpy(bytes, frame + VGPU_WIRE_HEADER_SIZE, 24);
    for (size_t bad_len = 0; bad_len <= 25; bad_len += 1) {
        if (bad_len != 24) {
            g_assert_cmpuint(vgpu_wire_hello_decode(guard_place(&g, bytes, bad_len), bad_len,
                                                    &hello), ==, VGPU_ERR_PROTOCOL);
            guard_free(&g);
        }
    }
    set_word(bytes, 5, 1);                                      /* reserved */
    g_assert_cmpuint(vgpu_wire_hello_decode(guard_place(&g, bytes, 24), 24, &hello), ==,
                     VGPU_ERR_PROTOCOL);
    guard_free(&g);
    g_assert_cmpuint(vgpu_wire_hello_encode(frame, 39, uuid, 1), ==, 0);    /* cap */
}

static void test_wire_window(void)
{
    unsigned char frame[VGPU_WIRE_MAX_MESSAGE];
    static const uint64_t good[] = { 4096, 64ull << 20, 4ull << 30, 16ull << 30 };
    static const uint64_t bad[] = { 0, 2048, 4095, 3ull << 20, 32ull << 30, 1ull << 63 };
    struct vgpu_wire_header hdr;
    uint64_t size;
    size_t len;
    Guard g;

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        len = vgpu_wire_window_encode(frame, sizeof(frame), good[i]);
        g_assert_cmpuint(len, ==, VGPU_WIRE_HEADER_SIZE + 8);
        g_assert_cmpuint(vgpu_wire_header_decode(frame, &hdr), ==, VGPU_OK);
        g_assert_cmpuint(hdr.type, ==, VGPU_WIRE_WINDOW);
        g_assert_cmpuint(hdr.seq, ==, 0);
        size = 0;
        g_assert_cmpuint(vgpu_wire_window_decode(payload_of(&g, frame, len, VGPU_WIRE_WINDOW), 8,
                                                 &size), ==, VGPU_OK);
        guard_free(&g);
        g_assert_cmpuint(size, ==, good[i]);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        len = vgpu_wire_window_encode(frame, sizeof(frame), bad[i]);
        g_assert_cmpuint(len, ==, VGPU_WIRE_HEADER_SIZE + 8);  /* packs what it is given */
        g_assert_cmpuint(vgpu_wire_window_decode(frame + VGPU_WIRE_HEADER_SIZE, 8, &size), ==,
                         VGPU_ERR_PROTOCOL);
    }
    g_assert_cmpuint(vgpu_wire_window_decode(frame + VGPU_WIRE_HEADER_SIZE, 7, &size), ==,
                     VGPU_ERR_PROTOCOL);
    set_word(frame, 3, 9);                                      /* a 9-byte WINDOW */
    g_assert_cmpuint(vgpu_wire_header_decode(frame, &hdr), ==, VGPU_ERR_PROTOCOL);
}

/* Encode op, decode it as the mediator does against a window of size bytes. */
static uint32_t window_op_checked(const struct vgpu_window_op *op, uint64_t size,
                                  struct vgpu_window_op *out)
{
    unsigned char buf[VGPU_REQUEST_MAX];
    struct vgpu_request_view view;
    size_t len = vgpu_window_op_encode(buf, sizeof(buf), op);

    g_assert_cmpuint(len, >, 0);
    g_assert_cmpuint(vgpu_request_decode(buf, len, &view), ==, VGPU_OK);
    return vgpu_window_op_decode(&view, size, out);
}

static void test_window_op_round_trip(void)
{
    struct vgpu_window_op sgemm = {
        .opcode = VGPU_OP_SGEMM, .a = 4096, .b = 1ull << 32, .out = 3ull << 31,
        .m = 3, .n = 5, .k = 7, .lda = 8, .ldb = 9, .ldc = 10, .alpha = -1.5f, .beta = 0.25f,
    };
    struct vgpu_window_op saxpy = {
        .opcode = VGPU_OP_SAXPY, .count = 1ull << 30, .a = 0, .out = 2ull << 32, .alpha = 3.0f,
    };
    struct vgpu_window_op out;

    g_assert_cmpuint(window_op_checked(&sgemm, 16ull << 30, &out), ==, VGPU_OK);
    g_assert_cmpmem(&out, sizeof(out), &sgemm, sizeof(sgemm));
    g_assert_cmpuint(window_op_checked(&saxpy, 16ull << 30, &out), ==, VGPU_OK);
    g_assert_cmpmem(&out, sizeof(out), &saxpy, sizeof(saxpy));
    g_assert_true(vgpu_opcode_uses_window(VGPU_OP_SUM_F32));
    g_assert_false(vgpu_opcode_uses_window(VGPU_OP_VECTOR_ADD));
    saxpy.opcode = VGPU_OP_VECTOR_ADD;
    g_assert_cmpuint(vgpu_window_op_encode(NULL, 0, &saxpy), ==, 0);
}

/* Every range is checked at its exact edges, overflow included. */
static void test_window_op_ranges(void)
{
    const uint64_t size = 1 << 20;
    struct vgpu_window_op add = { .opcode = VGPU_OP_ADD_U32, .count = 1024,
                                  .a = 0, .b = 4096, .out = size - 4096 };
    struct vgpu_window_op sum = { .opcode = VGPU_OP_SUM_F32, .count = size / 4 };
    struct vgpu_window_op gemm = { .opcode = VGPU_OP_SGEMM, .m = 2, .n = 2, .k = 2,
                                   .lda = 2, .ldb = 2, .ldc = 2, .a = 0, .b = 16,
                                   .out = size - 16 };
    struct vgpu_window_op out;

    g_assert_cmpuint(window_op_checked(&add, size, &out), ==, VGPU_OK);     /* ends at the end */
    add.out += 4;
    g_assert_cmpuint(window_op_checked(&add, size, &out), ==, VGPU_ERR_BAD_RANGE);
    add.out = UINT64_MAX - 3;
    g_assert_cmpuint(window_op_checked(&add, size, &out), ==, VGPU_ERR_BAD_RANGE);
    add.out = 8192 + 2;
    g_assert_cmpuint(window_op_checked(&add, size, &out), ==, VGPU_ERR_BAD_RANGE);
    add.out = 4096 + 4;                                         /* half over b */
    g_assert_cmpuint(window_op_checked(&add, size, &out), ==, VGPU_ERR_OVERLAP);
    add.out = 4096;                                             /* exactly b: in place */
    g_assert_cmpuint(window_op_checked(&add, size, &out), ==, VGPU_OK);
    add.b = 4;                                                  /* inputs may overlap */
    add.out = 8192;
    g_assert_cmpuint(window_op_checked(&add, size, &out), ==, VGPU_OK);
    add.count = 0;
    g_assert_cmpuint(window_op_checked(&add, size, &out), ==, VGPU_ERR_BAD_PARAMS);
    add.count = (UINT64_MAX / 4) + 1;                           /* bytes would wrap */
    g_assert_cmpuint(window_op_checked(&add, size, &out), ==, VGPU_ERR_BAD_PARAMS);

    g_assert_cmpuint(window_op_checked(&sum, size, &out), ==, VGPU_OK);     /* whole window */
    sum.count++;
    g_assert_cmpuint(window_op_checked(&sum, size, &out), ==, VGPU_ERR_BAD_RANGE);

    g_assert_cmpuint(window_op_checked(&gemm, size, &out), ==, VGPU_OK);
    gemm.out = 8;                                               /* C over the end of A */
    g_assert_cmpuint(window_op_checked(&gemm, size, &out), ==, VGPU_ERR_OVERLAP);
    gemm.out = 0;                                               /* C exactly A: still refused */
    g_assert_cmpuint(window_op_checked(&gemm, size, &out), ==, VGPU_ERR_OVERLAP);
    gemm.out = 64;
    gemm.ldc = 1;
    g_assert_cmpuint(window_op_checked(&gemm, size, &out), ==, VGPU_ERR_BAD_PARAMS);
    gemm.ldc = 2;
    gemm.m = 0;
    g_assert_cmpuint(window_op_checked(&gemm, size, &out), ==, VGPU_ERR_BAD_PARAMS);
    /* the largest dimensions: byte extents near 2^64 must not wrap into the window */
    gemm.m = gemm.k = gemm.lda = VGPU_SGEMM_DIM_MAX;
    g_assert_cmpuint(window_op_checked(&gemm, size, &out), ==, VGPU_ERR_BAD_RANGE);
    gemm.m = VGPU_SGEMM_DIM_MAX + 1u;
    g_assert_cmpuint(window_op_checked(&gemm, size, &out), ==, VGPU_ERR_BAD_PARAMS);
}

static void test_sum_result(void)
{
    unsigned char buf[VGPU_RESPONSE_MAX];
    uint32_t words[VGPU_SUM_RESULTS];
    struct vgpu_response_view view;
    double sum = 0;
    size_t len;

    vgpu_sum_result_store(-12345.678901234567, words);
    len = vgpu_response_encode(buf, sizeof(buf), VGPU_OK, words, 2, NULL, 0, 1);
    g_assert_cmpuint(vgpu_response_decode(buf, len, &view), ==, VGPU_OK);
    g_assert_true(vgpu_sum_result_load(&view, &sum));
    g_assert_cmpfloat(sum, ==, -12345.678901234567);
    len = vgpu_response_encode(buf, sizeof(buf), VGPU_OK, words, 1, NULL, 0, 1);
    g_assert_cmpuint(vgpu_response_decode(buf, len, &view), ==, VGPU_OK);
    g_assert_false(vgpu_sum_result_load(&view, &sum));
}

static uint32_t identity_decoded(struct vgpu_wire_identity in, struct vgpu_wire_identity *out)
{
    unsigned char frame[VGPU_WIRE_MAX_MESSAGE];
    size_t len = vgpu_wire_identity_encode(frame, sizeof(frame), &in);
    Guard g;
    uint32_t err = vgpu_wire_identity_decode(payload_of(&g, frame, len, VGPU_WIRE_IDENTITY),
                                             16, out);

    guard_free(&g);
    return err;
}

static void test_wire_identity(void)
{
    static const struct vgpu_wire_identity good[] = {
        { VGPU_OK, 'A', 0, 1 }, { VGPU_OK, 'Z', 2, VGPU_VM_ID_MAX },
        { VGPU_ERR_NOT_REGISTERED, 0, 0, 0 }, { VGPU_ERR_PERMISSION, 0, 0, 0 },
    };
    static const struct vgpu_wire_identity bad[] = {
        { VGPU_OK, '@', 0, 1 }, { VGPU_OK, '[', 0, 1 }, { VGPU_OK, 0, 0, 1 },
        { VGPU_OK, 'A', VGPU_PRIORITY_COUNT, 1 }, { VGPU_OK, 'A', 0, 0 },
        { VGPU_OK, 'A', 0, VGPU_VM_ID_MAX + 1 }, { VGPU_ERROR_COUNT, 0, 0, 0 },
        { VGPU_ERR_NOT_REGISTERED, 'A', 0, 0 }, { VGPU_ERR_NOT_REGISTERED, 0, 1, 0 },
        { VGPU_ERR_NOT_REGISTERED, 0, 0, 7 },
    };
    struct vgpu_wire_identity out;
    unsigned char bytes[17] = { 0 };
    Guard g;

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_assert_cmpuint(identity_decoded(good[i], &out), ==, VGPU_OK);
        g_assert_cmpmem(&out, sizeof(out), &good[i], sizeof(good[i]));
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_cmpuint(identity_decoded(bad[i], &out), ==, VGPU_ERR_PROTOCOL);
    }
    g_assert_cmpuint(vgpu_wire_identity_decode(guard_place(&g, bytes, 15), 15, &out), ==,
                     VGPU_ERR_PROTOCOL);
    guard_free(&g);
    g_assert_cmpuint(vgpu_wire_identity_decode(guard_place(&g, bytes, 17), 17, &out), ==,
                     VGPU_ERR_PROTOCOL);
    guard_free(&g);
}

static void test_wire_submit(void)
{
    unsigned char frame[VGPU_WIRE_MAX_MESSAGE], req[VGPU_REQUEST_MAX + 1] = { 0 };
    unsigned char bytes[sizeof(struct vgpu_wire_submit) + VGPU_REQUEST_MAX + 1] = { 0 };
    size_t req_len = vector_add(req, 3, 4);
    size_t len = vgpu_wire_submit_encode(frame, sizeof(frame), 5, 0xabc, req, req_len);
    struct vgpu_wire_submit_view view;
    Guard g;

    g_assert_cmpuint(vgpu_wire_submit_decode(payload_of(&g, frame, len, VGPU_WIRE_SUBMIT),
                                             8 + req_len, &view), ==, VGPU_OK);
    g_assert_cmpuint(view.request_id, ==, 0xabc);
    g_assert_cmpmem(view.request, view.request_len, req, req_len);
    guard_free(&g);
    /* no request, one byte too many, a nonzero reserved word */
    g_assert_cmpuint(vgpu_wire_submit_decode(guard_place(&g, bytes, 8), 8, &view), ==,
                     VGPU_ERR_PROTOCOL);
    guard_free(&g);
    g_assert_cmpuint(vgpu_wire_submit_decode(guard_place(&g, bytes, sizeof(bytes)),
                                             sizeof(bytes), &view), ==, VGPU_ERR_PROTOCOL);
    guard_free(&g);
    g_assert_cmpuint(vgpu_wire_submit_decode(guard_place(&g, bytes, sizeof(bytes) - 1),
                                             sizeof(bytes) - 1, &view), ==, VGPU_OK);
    guard_free(&g);
    set_word(bytes, 1, 1);
    g_assert_cmpuint(vgpu_wire_submit_decode(guard_place(&g, bytes, 9), 9, &view), ==,
                     VGPU_ERR_PROTOCOL);
    guard_free(&g);
    /* what the framing forbids is not encoded: no seq, no request, too long */
    g_assert_cmpuint(vgpu_wire_submit_encode(frame, sizeof(frame), 0, 1, req, req_len), ==, 0);
    g_assert_cmpuint(vgpu_wire_submit_encode(frame, sizeof(frame), 1, 1, req, 0), ==, 0);
    g_assert_cmpuint(vgpu_wire_submit_encode(frame, sizeof(frame), 1, 1, req,
                                             VGPU_REQUEST_MAX + 1), ==, 0);
}

static void test_wire_complete(void)
{
    unsigned char frame[VGPU_WIRE_MAX_MESSAGE], resp[VGPU_RESPONSE_MAX];
    unsigned char bytes[sizeof(struct vgpu_wire_complete) + VGPU_RESPONSE_MAX + 1] = { 0 };
    size_t resp_len = vgpu_response_encode(resp, sizeof(resp), VGPU_OK, (uint32_t[]){ 7 }, 1,
                                           NULL, 0, 3);
    size_t len = vgpu_wire_complete_encode(frame, sizeof(frame), 2, 0x55, VGPU_OK, resp,
                                           resp_len);
    struct vgpu_wire_complete_view view;
    Guard g;

    g_assert_cmpuint(vgpu_wire_complete_decode(payload_of(&g, frame, len, VGPU_WIRE_COMPLETE),
                                               8 + resp_len, &view), ==, VGPU_OK);
    g_assert_cmpuint(view.request_id, ==, 0x55);
    g_assert_cmpuint(view.error, ==, VGPU_OK);
    g_assert_cmpmem(view.response, view.response_len, resp, resp_len);
    guard_free(&g);
    len = vgpu_wire_complete_encode(frame, sizeof(frame), 2, 1, VGPU_ERR_TIMEOUT, NULL, 0);
    g_assert_cmpuint(vgpu_wire_complete_decode(payload_of(&g, frame, len, VGPU_WIRE_COMPLETE),
                                               8, &view), ==, VGPU_OK);
    g_assert_cmpuint(view.error, ==, VGPU_ERR_TIMEOUT);
    g_assert_null(view.response);
    g_assert_cmpuint(view.response_len, ==, 0);
    guard_free(&g);
    /* too short, one byte too many, an unknown error code */
    g_assert_cmpuint(vgpu_wire_complete_decode(guard_place(&g, bytes, 7), 7, &view), ==,
                     VGPU_ERR_PROTOCOL);
    guard_free(&g);
    g_assert_cmpuint(vgpu_wire_complete_decode(guard_place(&g, bytes, sizeof(bytes)),
                                               sizeof(bytes), &view), ==, VGPU_ERR_PROTOCOL);
    guard_free(&g);
    set_word(bytes, 1, VGPU_ERROR_COUNT);
    g_assert_cmpuint(vgpu_wire_complete_decode(guard_place(&g, bytes, 8), 8, &view), ==,
                     VGPU_ERR_PROTOCOL);
    guard_free(&g);
    g_assert_cmpuint(vgpu_wire_complete_encode(frame, sizeof(frame), 0, 1, VGPU_OK, NULL, 0),
                     ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/codec/request/vector-add-round-trip", test_vector_add_round_trip);
    g_test_add_func("/codec/request/encode-refuses-small-buffer", test_encode_refuses_small_buffer);
    g_test_add_func("/codec/request/encode-refuses-oversized", test_encode_refuses_oversized);
    g_test_add_func("/codec/request/rejects-length-0-and-over-1024", test_rejects_length_0_and_over_1024);
    g_test_add_func("/codec/request/rejects-bad-version", test_rejects_bad_version);
    g_test_add_func("/codec/request/rejects-bad-opcode", test_rejects_bad_opcode);
    g_test_add_func("/codec/request/rejects-param-count-too-large-for-length",
                    test_rejects_param_count_too_large_for_length);
    g_test_add_func("/codec/request/rejects-param-count-wrong-for-opcode",
                    test_rejects_param_count_wrong_for_opcode);
    g_test_add_func("/codec/request/rejects-data-outside-request", test_rejects_data_outside_request);
    g_test_add_func("/codec/request/rejects-data-the-opcode-takes-none-of",
                    test_rejects_data_the_opcode_takes_none_of);
    g_test_add_func("/codec/request/rejects-nonzero-flags-and-reserved",
                    test_rejects_nonzero_flags_and_reserved);
    g_test_add_func("/codec/request/accepts-trailing-bytes-after-params",
                    test_accepts_trailing_bytes_after_params);
    g_test_add_func("/codec/request/random-bytes-stay-in-bounds", test_random_requests_stay_in_bounds);
    g_test_add_func("/codec/response/round-trip", test_response_round_trip);
    g_test_add_func("/codec/response/rejects-malformed", test_response_rejects_malformed);
    g_test_add_func("/codec/errors/table-is-complete", test_error_table_is_complete);
    g_test_add_func("/codec/wire/round-trip", test_wire_round_trip);
    g_test_add_func("/codec/wire/rejects-malformed-headers", test_wire_rejects_malformed_headers);
    g_test_add_func("/codec/wire/hello", test_wire_hello);
    g_test_add_func("/codec/wire/window", test_wire_window);
    g_test_add_func("/codec/window-op/round-trip", test_window_op_round_trip);
    g_test_add_func("/codec/window-op/ranges-checked-at-their-edges", test_window_op_ranges);
    g_test_add_func("/codec/window-op/sum-result", test_sum_result);
    g_test_add_func("/codec/wire/identity", test_wire_identity);
    g_test_add_func("/codec/wire/submit", test_wire_submit);
    g_test_add_func("/codec/wire/complete", test_wire_complete);
    g_test_add_func("/codec/wire/encode-refuses-what-decode-would",
                    test_wire_encode_refuses_what_decode_would);
    return g_test_run();
}
