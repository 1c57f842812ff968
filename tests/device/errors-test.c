/*
 * vgpu-stub error paths: each ends in STATUS=ERROR with its own ERROR_CODE,
 * is logged, and leaves the device working.
 */
#include <string.h>

#include <glib.h>

#include "vgpu/codec.h"
#include "vgpu/regs.h"
#include "qemu-harness.h"

#define TEST_TIMEOUT_MS     50
#define NS_PER_MS           1000000ull
#define QUIET_MS            200     /* how long "nothing arrives" is watched */
#define STALL_MAX_REQUESTS  10000   /* far more than any socket buffer holds */

static const VqOptions no_chardev = { .no_chardev = true };
static const VqOptions short_timeout = { .timeout_ms = TEST_TIMEOUT_MS };

static void assert_error(VgpuQemu *q, uint32_t code)
{
    g_assert_cmpuint(vq_readl(q, VGPU_REG_STATUS), ==, VGPU_STATUS_ERROR);
    g_assert_cmpstr(vgpu_error_name(vq_readl(q, VGPU_REG_ERROR_CODE)), ==, vgpu_error_name(code));
}

/* Submit and read the SUBMIT; its seq. */
static uint32_t submit_in_flight(DeviceFixture *f, uint32_t request_id)
{
    uint8_t sent[VGPU_REQUEST_MAX];
    uint32_t seq, got_id;
    size_t len;

    g_assert_cmpuint(fixture_submit_vector_add(f, 1, 2, request_id), ==, VGPU_STATUS_BUSY);
    fm_read_submit(f->fm, &seq, &got_id, sent, &len);
    return seq;
}

/* The 36-byte VECTOR_ADD response for a + b. */
static size_t sum_response(uint8_t *response, uint32_t a, uint32_t b)
{
    uint32_t sum = a + b;

    return vgpu_response_encode(response, VGPU_RESPONSE_MAX, VGPU_OK, &sum, 1, NULL, 0, 0);
}

static void test_busy_keeps_request(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    uint8_t response[VGPU_RESPONSE_MAX];
    size_t response_len;
    uint32_t seq;

    (void)data;
    seq = submit_in_flight(f, 1);

    /* Doorbells while it is in flight are refused, each one */
    for (int i = 0; i < 3; i++) {
        vq_writel(q, VGPU_REG_DOORBELL, VGPU_DOORBELL_SUBMIT);
        assert_error(q, VGPU_ERR_BUSY);
    }
    g_assert_true(vq_guest_log_contains(q, "doorbell while request"));
    g_assert_false(fm_readable(f->fm, QUIET_MS));      /* no second SUBMIT */

    /* The accepted request still completes as usual */
    response_len = sum_response(response, 1, 2);
    fm_send_complete(f->fm, seq, 1, VGPU_OK, response, response_len);
    g_assert_true(vq_wait_reg(q, VGPU_REG_STATUS, VGPU_STATUS_DONE, VQ_TIMEOUT_MS));
    g_assert_cmpuint(vq_readl(q, VGPU_REG_ERROR_CODE), ==, VGPU_OK);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_RESPONSE_LEN), ==, response_len);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_RESPONSE_BUFFER + VGPU_RESPONSE_HEADER_SIZE), ==, 3);
    g_assert_cmpuint(fixture_vector_add(f, 4, 5), ==, 9);
}

static void test_bad_length(DeviceFixture *f, gconstpointer data)
{
    static const uint32_t lengths[] = { 0, VGPU_BUFFER_SIZE + 1, 0xffffffff };
    VgpuQemu *q = f->q;

    (void)data;
    for (size_t i = 0; i < G_N_ELEMENTS(lengths); i++) {
        g_autofree char *log = g_strdup_printf("REQUEST_LEN %u (must be 1..%u)",
                                               lengths[i], VGPU_BUFFER_SIZE);

        vq_writel(q, VGPU_REG_REQUEST_LEN, lengths[i]);
        vq_writel(q, VGPU_REG_DOORBELL, VGPU_DOORBELL_SUBMIT);
        assert_error(q, VGPU_ERR_BAD_LENGTH);
        g_assert_true(vq_guest_log_contains(q, log));
    }
    g_assert_false(fm_readable(f->fm, QUIET_MS));
    g_assert_cmpuint(fixture_vector_add(f, 4, 5), ==, 9);
}

static void test_doorbell_values_ignored(DeviceFixture *f, gconstpointer data)
{
    static const uint32_t values[] = { 0, 2, 3, 0x100, 0xffffffff };
    VgpuQemu *q = f->q;

    (void)data;
    vq_writel(q, VGPU_REG_REQUEST_LEN, VGPU_VECTOR_ADD_REQUEST_SIZE);
    for (size_t i = 0; i < G_N_ELEMENTS(values); i++) {
        g_autofree char *log = g_strdup_printf("DOORBELL write of 0x%x ignored", values[i]);

        vq_writel(q, VGPU_REG_DOORBELL, values[i]);
        g_assert_cmpuint(vq_readl(q, VGPU_REG_STATUS), ==, VGPU_STATUS_IDLE);
        g_assert_true(vq_guest_log_contains(q, log));
    }
    g_assert_false(fm_readable(f->fm, QUIET_MS));
    g_assert_cmpuint(fixture_vector_add(f, 4, 5), ==, 9);
}

static void test_no_chardev(DeviceFixture *f, gconstpointer data)
{
    (void)data;
    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint(fixture_submit_vector_add(f, 1, 2, 1), ==, VGPU_STATUS_ERROR);
        assert_error(f->q, VGPU_ERR_NOT_CONNECTED);
    }
    g_assert_true(vq_stderr_contains(f->q, "not connected to the mediator"));
}

/* The mediator is not there at all, then comes: reconnect= finds it. */
static void test_mediator_absent(DeviceFixture *f, gconstpointer data)
{
    (void)data;
    g_assert_cmpuint(fixture_submit_vector_add(f, 1, 2, 1), ==, VGPU_STATUS_ERROR);
    assert_error(f->q, VGPU_ERR_NOT_CONNECTED);

    fm_restart(f->fm);
    fixture_connect(f);
    g_assert_cmpuint(fixture_vector_add(f, 4, 5), ==, 9);
}

static void test_disconnect_in_flight(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;

    (void)data;
    submit_in_flight(f, 9);
    fm_drop_connection(f->fm);
    g_assert_true(vq_wait_reg(q, VGPU_REG_STATUS, VGPU_STATUS_ERROR, VQ_TIMEOUT_MS));
    assert_error(q, VGPU_ERR_MEDIATOR_RESTARTED);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_VM_ID), ==, 0);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_RESPONSE_LEN), ==, 0);
    g_assert_true(vq_stderr_contains(q, "MEDIATOR_RESTARTED"));

    fixture_connect(f);     /* reconnect= brings the link back */
    g_assert_cmpuint(fixture_vector_add(f, 4, 5), ==, 9);
}

static void test_timeout(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    uint8_t response[VGPU_RESPONSE_MAX];
    size_t response_len = sum_response(response, 1, 2);
    uint32_t seq;

    (void)data;
    seq = submit_in_flight(f, 3);
    vq_clock_step(q, (TEST_TIMEOUT_MS - 1) * NS_PER_MS);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_STATUS), ==, VGPU_STATUS_BUSY);
    vq_clock_step(q, 2 * NS_PER_MS);
    assert_error(q, VGPU_ERR_TIMEOUT);
    g_assert_true(vq_stderr_contains(q, "ending it with TIMEOUT"));

    /* Its late completion is dropped, not taken for a later request */
    fm_send_complete(f->fm, seq, 3, VGPU_OK, response, response_len);
    g_assert_cmpuint(fixture_vector_add(f, 4, 5), ==, 9);
    g_assert_true(vq_stderr_contains(q, "dropping a completion"));
}

/* A COMPLETE for another seq is dropped; the real one still completes. */
static void test_wrong_seq(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    uint8_t response[VGPU_RESPONSE_MAX];
    size_t response_len = sum_response(response, 1, 2);
    uint32_t seq;

    (void)data;
    seq = submit_in_flight(f, 3);
    fm_send_complete(f->fm, seq + 1, 3, VGPU_OK, response, response_len);
    fm_send_identity(f->fm, VGPU_OK, 'Q', 1, 99);   /* a marker after it */
    g_assert_true(vq_wait_reg(q, VGPU_REG_VM_ID, 99, VQ_TIMEOUT_MS));
    g_assert_cmpuint(vq_readl(q, VGPU_REG_STATUS), ==, VGPU_STATUS_BUSY);
    g_assert_true(vq_stderr_contains(q, "dropping a completion"));

    fm_send_complete(f->fm, seq, 3, VGPU_OK, response, response_len);
    g_assert_true(vq_wait_reg(q, VGPU_REG_STATUS, VGPU_STATUS_DONE, VQ_TIMEOUT_MS));
}

/*
 * Bad bytes from the mediator: the request in flight ends with PROTOCOL,
 * the device drops the link, reconnects, and works.
 */
static void assert_protocol_error(DeviceFixture *f, const void *bytes, size_t len)
{
    VgpuQemu *q = f->q;

    submit_in_flight(f, 4);
    fm_send_raw(f->fm, bytes, len);
    g_assert_true(fm_wait_closed(f->fm, VQ_TIMEOUT_MS));
    assert_error(q, VGPU_ERR_PROTOCOL);
    g_assert_true(vq_stderr_contains(q, "malformed message from the mediator"));

    fixture_connect(f);
    g_assert_cmpuint(fixture_vector_add(f, 4, 5), ==, 9);
}

static void test_bad_magic(DeviceFixture *f, gconstpointer data)
{
    static const char garbage[VGPU_WIRE_HEADER_SIZE] = "this is no frame";

    (void)data;
    assert_protocol_error(f, garbage, sizeof(garbage));
}

/* A COMPLETE header announcing more payload than the protocol allows */
static void test_oversized(DeviceFixture *f, gconstpointer data)
{
    uint8_t header[VGPU_WIRE_HEADER_SIZE];

    (void)data;
    vgpu_le32_store(header, VGPU_WIRE_MAGIC);
    vgpu_le32_store(header + 4, VGPU_WIRE_VERSION | (uint32_t)VGPU_WIRE_COMPLETE << 16);
    vgpu_le32_store(header + 8, 1);
    vgpu_le32_store(header + 12, sizeof(struct vgpu_wire_complete) + VGPU_RESPONSE_MAX + 1);
    assert_protocol_error(f, header, sizeof(header));
}

/* A message type only devices send (SUBMIT) coming from the mediator */
static void test_unexpected_type(DeviceFixture *f, gconstpointer data)
{
    uint8_t frame[VGPU_WIRE_MAX_MESSAGE], body = 1;
    size_t len = vgpu_wire_submit_encode(frame, sizeof(frame), 5, 0, &body, 1);

    (void)data;
    assert_protocol_error(f, frame, len);
}

/* An IDENTITY whose values are out of range is malformed too */
static size_t identity_frame(uint8_t *frame, uint32_t pool, uint32_t priority, uint32_t vm_id)
{
    struct vgpu_wire_identity id = { VGPU_OK, pool, priority, vm_id };

    return vgpu_wire_identity_encode(frame, VGPU_WIRE_MAX_MESSAGE, &id);
}

/* Each field just past its range is refused; the last values inside are shown */
static void test_bad_identity(DeviceFixture *f, gconstpointer data)
{
    static const uint32_t bad[][3] = {          /* pool, priority, vm_id */
        { '?', 0, 1 },
        { VGPU_POOL_FIRST - 1, 0, 1 },
        { VGPU_POOL_LAST + 1, 0, 1 },
        { 'A', VGPU_PRIORITY_COUNT, 1 },
        { 'A', 0, 0 },
        { 'A', 0, VGPU_VM_ID_MAX + 1 },
    };
    uint8_t frame[VGPU_WIRE_MAX_MESSAGE];
    VgpuQemu *q = f->q;

    (void)data;
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        assert_protocol_error(f, frame, identity_frame(frame, bad[i][0], bad[i][1], bad[i][2]));
    }
    fm_send_raw(f->fm, frame, identity_frame(frame, VGPU_POOL_LAST, VGPU_PRIORITY_COUNT - 1,
                                             VGPU_VM_ID_MAX));
    g_assert_true(vq_wait_reg(q, VGPU_REG_VM_ID, VGPU_VM_ID_MAX, VQ_TIMEOUT_MS));
    g_assert_cmphex(vq_readl(q, VGPU_REG_POOL_ID), ==, VGPU_POOL_LAST);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_PRIORITY), ==, VGPU_PRIORITY_COUNT - 1);
}

/* Frames split into single bytes, and several frames in one write */
static void test_fragmentation(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    uint8_t response[VGPU_RESPONSE_MAX], frames[2 * VGPU_WIRE_MAX_MESSAGE];
    struct vgpu_wire_identity id = { VGPU_OK, 'C', 0, 12 };
    size_t response_len = sum_response(response, 1, 2), len;
    uint32_t seq;

    (void)data;
    seq = submit_in_flight(f, 6);
    len = vgpu_wire_complete_encode(frames, sizeof(frames), seq, 6, VGPU_OK, response,
                                    response_len);
    for (size_t i = 0; i < len; i++) {
        fm_send_raw(f->fm, frames + i, 1);
        if (i % 7 == 0) {
            g_assert_cmpuint(vq_readl(q, VGPU_REG_STATUS), ==, VGPU_STATUS_BUSY);
        }
    }
    g_assert_true(vq_wait_reg(q, VGPU_REG_STATUS, VGPU_STATUS_DONE, VQ_TIMEOUT_MS));

    /* IDENTITY and COMPLETE back to back in one write */
    seq = submit_in_flight(f, 7);
    len = vgpu_wire_identity_encode(frames, sizeof(frames), &id);
    len += vgpu_wire_complete_encode(frames + len, sizeof(frames) - len, seq, 7, VGPU_OK,
                                     response, response_len);
    fm_send_raw(f->fm, frames, len);
    g_assert_true(vq_wait_reg(q, VGPU_REG_STATUS, VGPU_STATUS_DONE, VQ_TIMEOUT_MS));
    g_assert_cmpuint(vq_readl(q, VGPU_REG_VM_ID), ==, 12);
    g_assert_cmphex(vq_readl(q, VGPU_REG_POOL_ID), ==, 'C');
}

/*
 * A mediator that stops reading: once the socket is full the device drops
 * the link instead of blocking QEMU, refuses with NOT_CONNECTED, and comes
 * back by reconnecting.
 */
static void test_mediator_not_reading(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    unsigned sent;

    (void)data;
    vq_writel(q, VGPU_REG_REQUEST_LEN, VGPU_BUFFER_SIZE);
    for (sent = 0; sent < STALL_MAX_REQUESTS; sent++) {
        vq_writel(q, VGPU_REG_DOORBELL, VGPU_DOORBELL_SUBMIT);
        if (vq_readl(q, VGPU_REG_STATUS) != VGPU_STATUS_BUSY) {
            break;
        }
        vq_clock_step(q, (TEST_TIMEOUT_MS + 1) * NS_PER_MS);
        assert_error(q, VGPU_ERR_TIMEOUT);
    }
    g_test_message("the socket took %u requests", sent);
    g_assert_cmpuint(sent, <, STALL_MAX_REQUESTS);
    assert_error(q, VGPU_ERR_NOT_CONNECTED);
    g_assert_true(vq_stderr_contains(q, "the mediator does not take messages"));
    g_assert_true(fm_wait_closed(f->fm, VQ_TIMEOUT_MS));

    fixture_connect(f);
    g_assert_cmpuint(fixture_vector_add(f, 4, 5), ==, 9);
}

/* A guest reset forgets the request in flight; its completion is dropped. */
static void test_reset_in_flight(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    uint8_t response[VGPU_RESPONSE_MAX];
    size_t response_len = sum_response(response, 1, 2);
    g_autofree char *reply = NULL;
    uint32_t seq;

    (void)data;
    seq = submit_in_flight(f, 8);
    reply = vq_qmp(q, "{\"execute\": \"system_reset\"}");
    vq_qmp_wait_event(q, "RESET");
    vq_pci_enable(q);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_STATUS), ==, VGPU_STATUS_IDLE);

    fm_send_complete(f->fm, seq, 8, VGPU_OK, response, response_len);
    g_assert_cmpuint(fixture_vector_add(f, 4, 5), ==, 9);
    g_assert_true(vq_stderr_contains(q, "dropping a completion"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, setup, opts, fn) \
    g_test_add(path, DeviceFixture, opts, setup, fn, fixture_teardown)
    ADD("/vgpu-stub/errors/doorbell-while-busy-refused-accepted-request-completes",
        fixture_setup_connected, NULL, test_busy_keeps_request);
    ADD("/vgpu-stub/errors/request-len-0-or-over-1024-is-bad-length",
        fixture_setup_connected, NULL, test_bad_length);
    ADD("/vgpu-stub/errors/doorbell-values-other-than-1-ignored",
        fixture_setup_connected, NULL, test_doorbell_values_ignored);
    ADD("/vgpu-stub/errors/no-chardev-is-not-connected",
        fixture_setup_unconnected, &no_chardev, test_no_chardev);
    ADD("/vgpu-stub/errors/mediator-absent-is-not-connected-until-it-comes",
        fixture_setup_mediator_down, NULL, test_mediator_absent);
    ADD("/vgpu-stub/errors/disconnect-in-flight-is-mediator-restarted",
        fixture_setup_connected, NULL, test_disconnect_in_flight);
    ADD("/vgpu-stub/errors/no-completion-in-timeout-ms-is-timeout",
        fixture_setup_connected, &short_timeout, test_timeout);
    ADD("/vgpu-stub/errors/completion-for-another-seq-dropped",
        fixture_setup_connected, NULL, test_wrong_seq);
    ADD("/vgpu-stub/errors/bad-header-is-protocol-and-reconnects",
        fixture_setup_connected, NULL, test_bad_magic);
    ADD("/vgpu-stub/errors/oversized-message-is-protocol-and-reconnects",
        fixture_setup_connected, NULL, test_oversized);
    ADD("/vgpu-stub/errors/device-only-message-type-is-protocol",
        fixture_setup_connected, NULL, test_unexpected_type);
    ADD("/vgpu-stub/errors/identity-out-of-range-is-protocol",
        fixture_setup_connected, NULL, test_bad_identity);
    ADD("/vgpu-stub/errors/fragmented-and-coalesced-frames-parsed",
        fixture_setup_connected, NULL, test_fragmentation);
    ADD("/vgpu-stub/errors/mediator-not-reading-drops-link-instead-of-blocking",
        fixture_setup_connected, &short_timeout, test_mediator_not_reading);
    ADD("/vgpu-stub/errors/reset-forgets-request-in-flight",
        fixture_setup_connected, NULL, test_reset_in_flight);
#undef ADD
    return g_test_run();
}
