/*
 * vgpu-stub migration: registers and buffers move with the VM, and a
 * request in flight when it was saved ends with CANCELLED on the
 * destination (with its interrupt) instead of being lost.
 */
#include <string.h>

#include <glib.h>

#include "vgpu/errors.h"
#include "vgpu/regs.h"
#include "qemu-harness.h"

#define MSI_DATA    0x5a5a
#define SCRATCH     0x5c5c5c5cu
#define REQUEST_ID  0xabcd

/* Migrate f->q into a file, stop it, and start the destination from it. */
static void migrate_to_new_qemu(DeviceFixture *f)
{
    g_autofree char *state = g_build_filename(f->dir, "vm.state", NULL);
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"exec:cat > %s\"}}", state);
    g_autofree char *incoming = g_strdup_printf("exec:cat %s", state);
    g_autofree char *reply = vq_qmp(f->q, cmd);
    VqOptions dest = { .incoming = incoming };

    g_assert_nonnull(strstr(reply, "\"return\""));
    g_assert_true(vq_wait_migration(f->q));
    vq_stop(f->q);

    /* The destination connects to the (same) mediator afresh */
    f->q = vq_start(f->dir, &dest);
    fixture_connect(f);
    g_assert_true(vq_wait_running(f->q));
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

    migrate_to_new_qemu(f);

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

    migrate_to_new_qemu(f);

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
    return g_test_run();
}
