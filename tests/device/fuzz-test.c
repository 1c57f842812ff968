/*
 * A few thousand random BAR0 accesses (any offset,
 * size and value, doorbells included, with requests completing meanwhile),
 * after which every read-only register holds what it should and the device
 * still runs a request to DONE, its response alone in RESPONSE_BUFFER.  The run's random
 * seed is printed; --seed repeats it.
 */
#include <glib.h>

#include "vgpu/codec.h"
#include "vgpu/regs.h"
#include "qemu-harness.h"

#define ACCESSES    4000
#define REGS_END    VGPU_REG_REQUEST_BUFFER

static const unsigned sizes[] = { 1, 2, 4, 8 };

/* Values that hit the interesting cases more often than chance would */
static uint64_t random_value(void)
{
    static const uint64_t special[] = {
        0, 1, 2, VGPU_VECTOR_ADD_REQUEST_SIZE, VGPU_BUFFER_SIZE, VGPU_BUFFER_SIZE + 1,
        0xffffffffu, ~0ull,
    };

    if (g_test_rand_int_range(0, 4) == 0) {
        return special[g_test_rand_int_range(0, G_N_ELEMENTS(special))];
    }
    return (uint64_t)g_test_rand_int() << 32 | (uint32_t)g_test_rand_int();
}

/* Mostly the registers, also the buffers, WINDOW_SIZE and reserved space */
static unsigned random_offset(unsigned size)
{
    unsigned offset = g_test_rand_bit() ? g_test_rand_int_range(0, REGS_END)
                                        : g_test_rand_int_range(0, VGPU_BAR0_SIZE);

    if (g_test_rand_bit()) {
        offset &= ~(size - 1);      /* aligned half the time */
    }
    return MIN(offset, VGPU_BAR0_SIZE - size);
}

/* Answer a SUBMIT that a random doorbell sent, if one is waiting. */
static unsigned complete_pending(DeviceFixture *f)
{
    uint8_t request[VGPU_REQUEST_MAX];
    uint32_t seq, request_id, error;
    size_t len;

    if (!fm_readable(f->fm, 0)) {
        return 0;
    }
    fm_read_submit(f->fm, &seq, &request_id, request, &len);
    error = g_test_rand_int_range(0, VGPU_ERROR_COUNT);
    fm_send_complete(f->fm, seq, request_id, error, request, MIN(len, VGPU_RESPONSE_MAX));
    return 1;
}

static void test_random_accesses(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    unsigned submits = 0;

    (void)data;
    for (unsigned i = 0; i < ACCESSES; i++) {
        unsigned size = sizes[g_test_rand_int_range(0, G_N_ELEMENTS(sizes))];
        unsigned offset = random_offset(size);

        switch (g_test_rand_int_range(0, 8)) {
        case 0:
            vq_read(q, offset, size);
            break;
        case 1:                     /* a register write as drivers do it */
            vq_writel(q, g_test_rand_int_range(0, REGS_END / 4) * 4, random_value());
            break;
        case 2:
            vq_writel(q, VGPU_REG_DOORBELL, VGPU_DOORBELL_SUBMIT);
            break;
        default:
            vq_write(q, offset, size, random_value());
            break;
        }
        submits += complete_pending(f);
    }
    g_test_message("%u random accesses submitted %u requests", ACCESSES, submits);

    /* Let the last request finish (or be refused), then a clean one */
    while (vq_readl(q, VGPU_REG_STATUS) == VGPU_STATUS_BUSY) {
        if (!complete_pending(f)) {
            g_usleep(1000);
        }
    }
    complete_pending(f);
    /* No random write moved a read-only register */
    g_assert_cmpuint(vq_readl(q, VGPU_REG_DOORBELL), ==, 0);
    g_assert_cmphex(vq_readl(q, VGPU_REG_POOL_ID), ==, FIXTURE_POOL);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_PRIORITY), ==, FIXTURE_PRIORITY);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_VM_ID), ==, FIXTURE_VM_ID);
    g_assert_cmphex(vq_readl(q, VGPU_REG_PROTOCOL_VER), ==, VGPU_PROTOCOL_VERSION);
    g_assert_cmphex(vq_readl(q, VGPU_REG_CAPABILITIES), ==,
                    VGPU_CAP_COMPLETION_IRQ | VGPU_CAP_DATA_WINDOW);
    g_assert_cmphex(vq_read(q, VGPU_REG_WINDOW_SIZE_LO, 8), ==, VGPU_WINDOW_SIZE_DEFAULT);
    for (unsigned off = VGPU_REG_RESERVED; off < VGPU_BAR0_SIZE; off += 4) {
        g_assert_cmphex(vq_readl(q, off), ==, 0);
    }
    g_assert_cmpuint(fixture_vector_add(f, 123, 456), ==, 579);
    /* RESPONSE_BUFFER holds that response (checked above) and nothing after it */
    for (unsigned off = vq_readl(q, VGPU_REG_RESPONSE_LEN); off < VGPU_BUFFER_SIZE; off += 4) {
        g_assert_cmphex(vq_readl(q, VGPU_REG_RESPONSE_BUFFER + off), ==, 0);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/vgpu-stub/fuzz/random-accesses-then-a-request-still-works",
               DeviceFixture, NULL, fixture_setup_connected, test_random_accesses,
               fixture_teardown);
    return g_test_run();
}
