/*
 * vgpu-stub migration: registers and buffers move with the VM, and a
 * request in flight when it was saved ends with CANCELLED on the
 * destination (with its interrupt) instead of being lost.  The data
 * window's contents move too, also what the mediator wrote into it while
 * the migration ran, and the destination passes its own window to the
 * mediator.
 */
#include <string.h>

#include <glib.h>

#include "vgpu/errors.h"
#include "vgpu/regs.h"
#include "qemu-harness.h"

#define MSI_DATA    0x5a5a
#define SCRATCH     0x5c5c5c5cu
#define REQUEST_ID  0xabcd

#define WINDOW_1M   (1024 * 1024)

static const VqOptions window_1m = { .window_size = "1M" };
static const VqOptions memdev_1m = {
    .memdev = "memory-backend-memfd,id=win,size=1M,share=on"
};

/* Start migrating f->q into a file in f->dir. */
static void migrate_start(DeviceFixture *f)
{
    g_autofree char *state = g_build_filename(f->dir, "vm.state", NULL);
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"exec:cat > %s\"}}", state);
    g_autofree char *reply = vq_qmp(f->q, cmd);

    g_assert_nonnull(strstr(reply, "\"return\""));
}

/*
 * Once the migration completed, stop f->q and start the destination from
 * the file, with the device configured as opts says (NULL: defaults).
 */
static void restore_in_new_qemu(DeviceFixture *f, const VqOptions *opts)
{
    g_autofree char *state = g_build_filename(f->dir, "vm.state", NULL);
    g_autofree char *incoming = g_strdup_printf("exec:cat %s", state);
    VqOptions dest = opts ? *opts : (VqOptions){ 0 };
    unsigned windows = fm_window_count(f->fm);

    g_assert_true(vq_wait_migration(f->q));
    vq_stop(f->q);

    /* The destination connects to the (same) mediator afresh, with its window */
    dest.incoming = incoming;
    f->q = vq_start(f->dir, &dest);
    fixture_connect(f);
    g_assert_cmpuint(fm_window_count(f->fm), ==, windows + 1);
    g_assert_true(vq_wait_running(f->q));
}

/* Migrate f->q into a file, stop it, and start the destination from it. */
static void migrate_to_new_qemu(DeviceFixture *f, const VqOptions *opts)
{
    migrate_start(f);
    restore_in_new_qemu(f, opts);
}

/* Poll query-migrate until its status is status. */
static void wait_migration_status(VgpuQemu *q, const char *status)
{
    g_autofree char *quoted = g_strdup_printf("\"status\": \"%s\"", status);
    gint64 deadline = g_get_monotonic_time() + (gint64)VQ_TIMEOUT_MS * 1000;

    for (;;) {
        g_autofree char *reply = vq_qmp(q, "{\"execute\": \"query-migrate\"}");

        if (strstr(reply, quoted)) {
            return;
        }
        if (g_get_monotonic_time() > deadline) {
            g_error("migration not %s within %d ms: %s", status, VQ_TIMEOUT_MS, reply);
        }
        g_usleep(10000);
    }
}

static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed << 1 | 1;     /* nonzero, and one sequence per seed */

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

/* The window through BAR2 and through the mediator's mapping of its fd */
static void assert_window_holds(DeviceFixture *f, const uint8_t *want, size_t len)
{
    g_autofree uint8_t *got = g_malloc(len);

    g_assert_cmpuint(fm_window(f->fm)->size, ==, len);
    vq_memread(f->q, VQ_BAR2, got, len);
    g_assert_true(memcmp(got, want, len) == 0);
    g_assert_true(memcmp(fm_window(f->fm)->base, want, len) == 0);
}

static void test_in_flight_cancelled(DeviceFixture *f, gconstpointer data)
{
    uint32_t words[VGPU_VECTOR_ADD_REQUEST_SIZE / 4];

    (void)data;
    vq_msi_enable(f->q, MSI_DATA);
    vq_writel(f->q, VGPU_REG_INTERRUPT_CTRL, VGPU_IRQ_COMPLETION);
    vq_writel(f->q, VGPU_REG_SCRATCH, SCRATCH);
    g_assert_cmpuint(fixture_submit_vector_add(f, 1, 2, REQUEST_ID), ==, VGPU_STATUS_BUSY);
    for (unsigned i = 0; i < G_N_ELEMENTS(words); i++) {
        words[i] = vq_readl(f->q, VGPU_REG_REQUEST_BUFFER + 4 * i);
    }
    vq_mem_writel(f->q, VQ_MSI_ADDR, 0);

    migrate_to_new_qemu(f, NULL);

    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_STATUS), ==, VGPU_STATUS_ERROR);
    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_ERROR_CODE), ==, VGPU_ERR_CANCELLED);
    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_RESPONSE_LEN), ==, 0);
    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_INTERRUPT_STATUS), ==, VGPU_IRQ_COMPLETION);
    g_assert_cmphex(vq_mem_readl(f->q, VQ_MSI_ADDR), ==, MSI_DATA);
    g_assert_true(vq_stderr_contains(f->q, "ending it with CANCELLED"));

    /* The guest's registers and buffer came along */
    g_assert_cmphex(vq_readl(f->q, VGPU_REG_SCRATCH), ==, SCRATCH);
    g_assert_cmphex(vq_readl(f->q, VGPU_REG_REQUEST_ID), ==, REQUEST_ID);
    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_INTERRUPT_CTRL), ==, VGPU_IRQ_COMPLETION);
    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_REQUEST_LEN), ==, VGPU_VECTOR_ADD_REQUEST_SIZE);
    for (unsigned i = 0; i < G_N_ELEMENTS(words); i++) {
        g_assert_cmphex(vq_readl(f->q, VGPU_REG_REQUEST_BUFFER + 4 * i), ==, words[i]);
    }

    /* and the device works on the destination */
    vq_writel(f->q, VGPU_REG_INTERRUPT_STATUS, VGPU_IRQ_COMPLETION);
    vq_mem_writel(f->q, VQ_MSI_ADDR, 0);
    g_assert_cmpuint(fixture_vector_add(f, 20, 22), ==, 42);
    g_assert_cmphex(vq_mem_readl(f->q, VQ_MSI_ADDR), ==, MSI_DATA);
}

static void test_idle_state_kept(DeviceFixture *f, gconstpointer data)
{
    uint32_t response[VGPU_VECTOR_ADD_RESPONSE_SIZE / 4];
    uint32_t ts_lo, ts_hi;

    (void)data;
    fixture_vector_add(f, 7, 8);
    for (unsigned i = 0; i < G_N_ELEMENTS(response); i++) {
        response[i] = vq_readl(f->q, VGPU_REG_RESPONSE_BUFFER + 4 * i);
    }
    ts_lo = vq_readl(f->q, VGPU_REG_TIMESTAMP_LO);
    ts_hi = vq_readl(f->q, VGPU_REG_TIMESTAMP_HI);

    migrate_to_new_qemu(f, NULL);

    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_STATUS), ==, VGPU_STATUS_DONE);
    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_ERROR_CODE), ==, VGPU_OK);
    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_RESPONSE_LEN), ==, sizeof(response));
    for (unsigned i = 0; i < G_N_ELEMENTS(response); i++) {
        g_assert_cmphex(vq_readl(f->q, VGPU_REG_RESPONSE_BUFFER + 4 * i), ==, response[i]);
    }
    g_assert_cmphex(vq_readl(f->q, VGPU_REG_TIMESTAMP_LO), ==, ts_lo);
    g_assert_cmphex(vq_readl(f->q, VGPU_REG_TIMESTAMP_HI), ==, ts_hi);
    g_assert_false(vq_stderr_contains(f->q, "CANCELLED"));
    g_assert_cmpuint(fixture_vector_add(f, 1, 2), ==, 3);
}

/*
 * The window's bytes move with the VM, those the guest wrote through BAR2
 * and those the mediator wrote through its mapping, and the destination's
 * WINDOW gives the mediator a window holding them.
 */
static void test_window_kept(DeviceFixture *f, gconstpointer data)
{
    g_autofree uint8_t *pattern = g_malloc(WINDOW_1M);

    fill_pattern(pattern, WINDOW_1M, 5);
    vq_memwrite(f->q, VQ_BAR2, pattern, WINDOW_1M / 2);
    memcpy(fm_window(f->fm)->base + WINDOW_1M / 2, pattern + WINDOW_1M / 2, WINDOW_1M / 2);
    assert_window_holds(f, pattern, WINDOW_1M);

    migrate_to_new_qemu(f, data);

    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_WINDOW_SIZE_LO), ==, WINDOW_1M);
    assert_window_holds(f, pattern, WINDOW_1M);
    g_assert_cmpuint(fixture_vector_add(f, 1, 2), ==, 3);
}

/*
 * The mediator writes a request's outputs into the window behind QEMU's
 * back.  A request that completes while the migration runs, after the
 * window's pages were sent (here: paused before the switchover), must
 * still bring its outputs to the destination, with its DONE.
 */
static void test_window_written_during_migration(DeviceFixture *f, gconstpointer data)
{
    g_autofree uint8_t *before = g_malloc(WINDOW_1M);
    g_autofree uint8_t *after = g_malloc(WINDOW_1M);
    uint8_t request[VGPU_REQUEST_MAX], response[VGPU_RESPONSE_MAX];
    uint32_t seq, request_id;
    size_t len, response_len;
    g_autofree char *reply = NULL;

    (void)data;
    fill_pattern(before, WINDOW_1M, 6);
    fill_pattern(after, WINDOW_1M, 7);
    vq_memwrite(f->q, VQ_BAR2, before, WINDOW_1M);
    g_assert_cmpuint(fixture_submit_vector_add(f, 20, 22, REQUEST_ID), ==, VGPU_STATUS_BUSY);
    fm_read_submit(f->fm, &seq, &request_id, request, &len);

    /*
     * Pause before the switchover, and get there only once nothing is
     * left to send (a downtime limit of 0): every page of the window has
     * gone out with its old bytes by then.
     */
    reply = vq_qmp(f->q, "{\"execute\": \"migrate-set-capabilities\", \"arguments\": "
                         "{\"capabilities\": [{\"capability\": \"pause-before-switchover\", "
                         "\"state\": true}]}}");
    g_assert_nonnull(strstr(reply, "\"return\""));
    g_free(reply);
    reply = vq_qmp(f->q, "{\"execute\": \"migrate-set-parameters\", \"arguments\": "
                         "{\"downtime-limit\": 0}}");
    g_assert_nonnull(strstr(reply, "\"return\""));
    g_free(reply);
    migrate_start(f);
    wait_migration_status(f->q, "pre-switchover");

    memcpy(fm_window(f->fm)->base, after, WINDOW_1M);
    response_len = fm_vector_add_response(request, len, response, sizeof(response));
    fm_send_complete(f->fm, seq, request_id, VGPU_OK, response, response_len);
    g_assert_true(vq_wait_reg(f->q, VGPU_REG_STATUS, VGPU_STATUS_DONE, VQ_TIMEOUT_MS));

    reply = vq_qmp(f->q, "{\"execute\": \"migrate-continue\", \"arguments\": "
                         "{\"state\": \"pre-switchover\"}}");
    g_assert_nonnull(strstr(reply, "\"return\""));
    restore_in_new_qemu(f, data);

    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_STATUS), ==, VGPU_STATUS_DONE);
    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_RESPONSE_BUFFER + VGPU_RESPONSE_HEADER_SIZE), ==,
                     42);
    assert_window_holds(f, after, WINDOW_1M);
}

/* A destination whose window has another size refuses the stream and exits. */
static void test_window_size_mismatch(DeviceFixture *f, gconstpointer data)
{
    g_autofree char *state = g_build_filename(f->dir, "vm.state", NULL);
    g_autofree char *incoming = g_strdup_printf("exec:cat %s", state);
    g_autofree char *device = g_strdup_printf("vgpu-stub,addr=0x%x,window-size=2M", VQ_SLOT);
    const char *const args[] = { "-device", device, "-incoming", incoming, NULL };
    g_autofree char *out = NULL;

    (void)data;
    migrate_start(f);
    g_assert_true(vq_wait_migration(f->q));
    out = vq_start_refused(f->dir, args);
    g_assert_nonnull(strstr(out, "Size mismatch: 0000:00:1e.0/vgpu-stub.window: "
                                 "0x100000 != 0x200000"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) \
    g_test_add(path, DeviceFixture, NULL, fixture_setup_connected, fn, fixture_teardown)
    ADD("/vgpu-stub/migration/request-in-flight-ends-cancelled-on-destination",
        test_in_flight_cancelled);
    ADD("/vgpu-stub/migration/registers-and-response-move-with-the-vm",
        test_idle_state_kept);
#undef ADD
#define ADD(path, opts, fn) \
    g_test_add(path, DeviceFixture, opts, fixture_setup_connected, fn, fixture_teardown)
    ADD("/vgpu-stub/migration/window-contents-move-with-the-vm", &window_1m, test_window_kept);
    ADD("/vgpu-stub/migration/memdev-window-contents-move-with-the-vm", &memdev_1m,
        test_window_kept);
    ADD("/vgpu-stub/migration/mediator-writes-during-migration-reach-destination", &window_1m,
        test_window_written_during_migration);
    ADD("/vgpu-stub/migration/destination-with-another-window-size-refuses", &window_1m,
        test_window_size_mismatch);
#undef ADD
    return g_test_run();
}
