/*
 * vgpu-stub request path and identity: doorbell to SUBMIT, COMPLETE to
 * DONE (response bytes, lengths, timestamp), the mediator's error codes,
 * HELLO and IDENTITY.
 */
#include <string.h>
#include <time.h>

#include <glib.h>

#include "vgpu/codec.h"
#include "vgpu/identity.h"
#include "vgpu/regs.h"
#include "qemu-harness.h"

#define TEST_UUID "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8"

static uint64_t monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void write_request_bytes(VgpuQemu *q, const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i += 4) {
        uint32_t word = 0;

        memcpy(&word, bytes + i, MIN(4, len - i));
        vq_writel(q, VGPU_REG_REQUEST_BUFFER + i, GUINT32_FROM_LE(word));
    }
}

static void assert_response_buffer(VgpuQemu *q, const uint8_t *want, size_t len)
{
    for (size_t i = 0; i < VGPU_BUFFER_SIZE; i += 4) {
        uint32_t word = 0;

        if (i < len) {
            memcpy(&word, want + i, MIN(4, len - i));
        }
        g_assert_cmphex(vq_readl(q, VGPU_REG_RESPONSE_BUFFER + i), ==, GUINT32_FROM_LE(word));
    }
}

static void test_vector_add_done(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    uint8_t request[VGPU_REQUEST_MAX], sent[VGPU_REQUEST_MAX], response[VGPU_RESPONSE_MAX];
    size_t len, sent_len, response_len;
    uint32_t seq, request_id;
    uint64_t before, after, stamp;

    (void)data;
    len = vgpu_request_encode_vector_add(request, sizeof(request), 0xfffffff0u, 0x20);
    write_request_bytes(q, request, len);
    vq_writel(q, VGPU_REG_REQUEST_LEN, len);
    vq_writel(q, VGPU_REG_REQUEST_ID, 0xc0ffee);
    vq_writel(q, VGPU_REG_DOORBELL, VGPU_DOORBELL_SUBMIT);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_STATUS), ==, VGPU_STATUS_BUSY);

    /* The SUBMIT carries a nonzero seq, REQUEST_ID and exactly the bytes */
    fm_read_submit(f->fm, &seq, &request_id, sent, &sent_len);
    g_assert_cmpuint(seq, !=, 0);
    g_assert_cmphex(request_id, ==, 0xc0ffee);
    g_assert_cmpmem(sent, sent_len, request, len);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_STATUS), ==, VGPU_STATUS_BUSY);

    response_len = fm_vector_add_response(sent, sent_len, response, sizeof(response));
    before = monotonic_ns();
    fm_send_complete(f->fm, seq, request_id, VGPU_OK, response, response_len);
    g_assert_cmpuint(fixture_wait_done(f), ==, VGPU_STATUS_DONE);
    after = monotonic_ns();

    g_assert_cmpuint(vq_readl(q, VGPU_REG_ERROR_CODE), ==, VGPU_OK);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_RESPONSE_LEN), ==, VGPU_VECTOR_ADD_RESPONSE_SIZE);
    assert_response_buffer(q, response, response_len);
    /* result word: 0xfffffff0 + 0x20 mod 2^32 */
    g_assert_cmphex(vq_readl(q, VGPU_REG_RESPONSE_BUFFER + VGPU_RESPONSE_HEADER_SIZE), ==, 0x10);
    g_assert_cmphex(vq_readl(q, VGPU_REG_REQUEST_ID), ==, 0xc0ffee);

    /* TIMESTAMP is the host's CLOCK_MONOTONIC at completion */
    stamp = vq_readl(q, VGPU_REG_TIMESTAMP_LO) |
            (uint64_t)vq_readl(q, VGPU_REG_TIMESTAMP_HI) << 32;
    g_assert_cmpuint(stamp, >=, before);
    g_assert_cmpuint(stamp, <=, after);
    g_assert_cmpuint(vq_read(q, VGPU_REG_TIMESTAMP_LO, 8), ==, stamp);
}

/* Each SUBMIT gets a fresh seq, also when the guest reuses REQUEST_ID. */
static void test_seq_is_fresh(DeviceFixture *f, gconstpointer data)
{
    uint8_t sent[VGPU_REQUEST_MAX], response[VGPU_RESPONSE_MAX];
    uint32_t seqs[3];
    size_t len, response_len;

    (void)data;
    for (unsigned i = 0; i < G_N_ELEMENTS(seqs); i++) {
        uint32_t request_id;

        g_assert_cmpuint(fixture_submit_vector_add(f, i, i, 5), ==, VGPU_STATUS_BUSY);
        fm_read_submit(f->fm, &seqs[i], &request_id, sent, &len);
        g_assert_cmpuint(request_id, ==, 5);
        g_assert_cmpuint(seqs[i], !=, 0);
        for (unsigned j = 0; j < i; j++) {
            g_assert_cmpuint(seqs[i], !=, seqs[j]);
        }
        response_len = fm_vector_add_response(sent, len, response, sizeof(response));
        fm_send_complete(f->fm, seqs[i], request_id, VGPU_OK, response, response_len);
        g_assert_cmpuint(fixture_wait_done(f), ==, VGPU_STATUS_DONE);
    }
}

/* 1024-byte requests and responses pass whole; shorter ones zero the rest. */
static void test_full_buffers(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    uint8_t request[VGPU_REQUEST_MAX], sent[VGPU_REQUEST_MAX], response[VGPU_RESPONSE_MAX];
    size_t sent_len;
    uint32_t seq, request_id;

    (void)data;
    for (size_t i = 0; i < sizeof(request); i++) {
        request[i] = (uint8_t)(i * 7 + 3);
        response[i] = (uint8_t)(i * 13 + 1);
    }
    write_request_bytes(q, request, sizeof(request));
    vq_writel(q, VGPU_REG_REQUEST_LEN, VGPU_BUFFER_SIZE);
    vq_writel(q, VGPU_REG_DOORBELL, VGPU_DOORBELL_SUBMIT);
    fm_read_submit(f->fm, &seq, &request_id, sent, &sent_len);
    g_assert_cmpmem(sent, sent_len, request, sizeof(request));

    /* The device passes bytes; judging them is the mediator's job. */
    fm_send_complete(f->fm, seq, request_id, VGPU_OK, response, sizeof(response));
    g_assert_cmpuint(fixture_wait_done(f), ==, VGPU_STATUS_DONE);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_RESPONSE_LEN), ==, VGPU_BUFFER_SIZE);
    assert_response_buffer(q, response, sizeof(response));

    /* A 1-byte request; a 5-byte response leaves zeros after it */
    vq_writel(q, VGPU_REG_REQUEST_LEN, 1);
    vq_writel(q, VGPU_REG_DOORBELL, VGPU_DOORBELL_SUBMIT);
    fm_read_submit(f->fm, &seq, &request_id, sent, &sent_len);
    g_assert_cmpmem(sent, sent_len, request, 1);
    fm_send_complete(f->fm, seq, request_id, VGPU_OK, response, 5);
    g_assert_cmpuint(fixture_wait_done(f), ==, VGPU_STATUS_DONE);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_RESPONSE_LEN), ==, 5);
    assert_response_buffer(q, response, 5);

    /* An empty response */
    vq_writel(q, VGPU_REG_DOORBELL, VGPU_DOORBELL_SUBMIT);
    fm_read_submit(f->fm, &seq, &request_id, sent, &sent_len);
    fm_send_complete(f->fm, seq, request_id, VGPU_OK, NULL, 0);
    g_assert_cmpuint(fixture_wait_done(f), ==, VGPU_STATUS_DONE);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_RESPONSE_LEN), ==, 0);
    assert_response_buffer(q, response, 0);
}

/* COMPLETE with an error: STATUS=ERROR, ERROR_CODE=it, response still shown. */
static void test_mediator_error(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    uint8_t sent[VGPU_REQUEST_MAX], response[VGPU_RESPONSE_MAX];
    size_t len, response_len;
    uint32_t seq, request_id;

    (void)data;
    fixture_submit_vector_add(f, 1, 2, 77);
    fm_read_submit(f->fm, &seq, &request_id, sent, &len);
    response_len = vgpu_response_encode(response, sizeof(response), VGPU_ERR_QUEUE_FULL,
                                        NULL, 0, NULL, 0, 0);
    fm_send_complete(f->fm, seq, request_id, VGPU_ERR_QUEUE_FULL, response, response_len);
    g_assert_cmpuint(fixture_wait_done(f), ==, VGPU_STATUS_ERROR);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_ERROR_CODE), ==, VGPU_ERR_QUEUE_FULL);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_RESPONSE_LEN), ==, response_len);
    assert_response_buffer(q, response, response_len);

    /* and the next request succeeds, with ERROR_CODE back to 0 */
    g_assert_cmpuint(fixture_vector_add(f, 2, 3), ==, 5);
}

static void test_identity_shown(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;

    (void)data;
    g_assert_cmphex(vq_readl(q, VGPU_REG_POOL_ID), ==, FIXTURE_POOL);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_PRIORITY), ==, FIXTURE_PRIORITY);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_VM_ID), ==, FIXTURE_VM_ID);

    /* The mediator may send IDENTITY again at any time */
    fm_send_identity(f->fm, VGPU_OK, 'Z', VGPU_PRIORITY_LOW, VGPU_VM_ID_MAX);
    g_assert_true(vq_wait_reg(q, VGPU_REG_VM_ID, VGPU_VM_ID_MAX, VQ_TIMEOUT_MS));
    g_assert_cmphex(vq_readl(q, VGPU_REG_POOL_ID), ==, 'Z');
    g_assert_cmpuint(vq_readl(q, VGPU_REG_PRIORITY), ==, VGPU_PRIORITY_LOW);

    /* IDENTITY with an error takes the identity away */
    fm_send_identity(f->fm, VGPU_ERR_NOT_REGISTERED, 0, 0, 0);
    g_assert_true(vq_wait_reg(q, VGPU_REG_VM_ID, 0, VQ_TIMEOUT_MS));
    g_assert_cmphex(vq_readl(q, VGPU_REG_POOL_ID), ==, 0);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_PRIORITY), ==, 0);
    g_assert_true(vq_stderr_contains(q, vgpu_error_message(VGPU_ERR_NOT_REGISTERED)));

    /* Requests still go to the mediator, which decides what to do */
    g_assert_cmpuint(fixture_vector_add(f, 20, 22), ==, 42);
}

static void test_hello_uuid(DeviceFixture *f, gconstpointer data)
{
    const VqOptions *opts = data;
    uint8_t uuid[16], want[16] = { 0 };

    if (opts->uuid) {
        g_assert_true(vgpu_uuid_parse(opts->uuid, want));
    }
    fm_accept_hello(f->fm, uuid);
    g_assert_cmpmem(uuid, sizeof(uuid), want, sizeof(want));
    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_VM_ID), ==, 0);    /* nothing yet */
}

static const VqOptions with_uuid = { .uuid = TEST_UUID };
static const VqOptions without_uuid = { 0 };

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, setup, opts, fn) \
    g_test_add(path, DeviceFixture, opts, setup, fn, fixture_teardown)
    ADD("/vgpu-stub/request/doorbell-submits-and-complete-fills-response",
        fixture_setup_connected, NULL, test_vector_add_done);
    ADD("/vgpu-stub/request/each-submit-gets-a-fresh-seq",
        fixture_setup_connected, NULL, test_seq_is_fresh);
    ADD("/vgpu-stub/request/full-and-short-buffers-pass-whole",
        fixture_setup_connected, NULL, test_full_buffers);
    ADD("/vgpu-stub/request/mediator-error-ends-in-error-with-its-code",
        fixture_setup_connected, NULL, test_mediator_error);
    ADD("/vgpu-stub/identity/shown-updated-and-cleared",
        fixture_setup_connected, NULL, test_identity_shown);
    ADD("/vgpu-stub/identity/hello-carries-the-qemu-uuid",
        fixture_setup_unconnected, &with_uuid, test_hello_uuid);
    ADD("/vgpu-stub/identity/hello-without-uuid-is-all-zero",
        fixture_setup_unconnected, &without_uuid, test_hello_uuid);
#undef ADD
    return g_test_run();
}
