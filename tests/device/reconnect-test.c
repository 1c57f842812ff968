/*
 * vgpu-stub and a mediator that restarts: the identity goes away with the
 * connection, doorbells meanwhile end in NOT_CONNECTED, and reconnect=
 * brings back the link, the identity and working requests.
 */
#include <glib.h>

#include "vgpu/errors.h"
#include "vgpu/regs.h"
#include "qemu-harness.h"

#define RESTARTS 3

static void test_mediator_restarts(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;

    (void)data;
    g_assert_cmpuint(fixture_vector_add(f, 1, 1), ==, 2);
    for (uint32_t i = 0; i < RESTARTS; i++) {
        fm_stop(f->fm);
        g_assert_true(vq_wait_reg(q, VGPU_REG_VM_ID, 0, VQ_TIMEOUT_MS));
        g_assert_cmpuint(vq_readl(q, VGPU_REG_POOL_ID), ==, 0);
        g_assert_cmpuint(vq_readl(q, VGPU_REG_PRIORITY), ==, 0);
        g_assert_cmpuint(fixture_submit_vector_add(f, 1, 2, 3), ==, VGPU_STATUS_ERROR);
        g_assert_cmpuint(vq_readl(q, VGPU_REG_ERROR_CODE), ==, VGPU_ERR_NOT_CONNECTED);

        fm_restart(f->fm);
        fixture_connect(f);
        g_assert_cmphex(vq_readl(q, VGPU_REG_POOL_ID), ==, FIXTURE_POOL);
        g_assert_cmpuint(fixture_vector_add(f, i, 100), ==, i + 100);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/vgpu-stub/reconnect/mediator-restart-clears-then-restores-identity",
               DeviceFixture, NULL, fixture_setup_connected, test_mediator_restarts,
               fixture_teardown);
    return g_test_run();
}
