/*
 * Array operations through the device and the real mediator, under qtest:
 * operands written through BAR2 (the data window), the request through
 * BAR0, the result read back through BAR2 and RESPONSE_BUFFER.  A range
 * past the window's end or one that wraps around ends the request in
 * ERROR with BAD_RANGE, and leaves every byte of the window as it was.
 */
#include <glib.h>
#include <string.h>

#include "qemu-harness.h"
#include "real-mediator.h"
#include "vgpu/ops.h"

#define UUID            "00000000-0000-4000-8000-00000000beef"
#define WINDOW_SIZE     (1u << 20)
#define COUNT           4096u           /* elements of each array */

typedef struct {
    RealMediator m;
    VgpuQemu *q;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    VqOptions opts = { .uuid = UUID, .window_size = "1M" };

    (void)data;
    rm_start(&f->m, "", UUID);
    f->q = vq_start(f->m.dir, &opts);
    vq_pci_enable(f->q);
    g_assert_true(vq_wait_reg(f->q, VGPU_REG_POOL_ID, 'A', VQ_TIMEOUT_MS));
}

static void teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    vq_stop(f->q);
    rm_stop(&f->m);
}

/* Submit op through BAR0 and wait; STATUS at the end, the response in response. */
static uint32_t run_op(Fixture *f, const struct vgpu_window_op *op,
                       uint8_t response[VGPU_RESPONSE_MAX])
{
    uint8_t request[VGPU_REQUEST_MAX];
    size_t len = vgpu_window_op_encode(request, sizeof(request), op);
    gint64 end = g_get_monotonic_time() + (gint64)VQ_TIMEOUT_MS * 1000;
    uint32_t status;

    g_assert_cmpuint(len, >, 0);
    for (size_t i = 0; i < len; i += 4) {
        vq_writel(f->q, VGPU_REG_REQUEST_BUFFER + i, vgpu_le32_load(request + i));
    }
    vq_writel(f->q, VGPU_REG_REQUEST_LEN, len);
    vq_writel(f->q, VGPU_REG_DOORBELL, VGPU_DOORBELL_SUBMIT);
    while ((status = vq_readl(f->q, VGPU_REG_STATUS)) == VGPU_STATUS_BUSY &&
           g_get_monotonic_time() < end) {
        g_usleep(1000);
    }
    for (size_t i = 0; i < VGPU_RESPONSE_MAX; i += 4) {
        vgpu_le32_store(response + i, vq_readl(f->q, VGPU_REG_RESPONSE_BUFFER + i));
    }
    return status;
}

static void fill_window(Fixture *f, uint8_t *copy)
{
    for (uint32_t i = 0; i < WINDOW_SIZE / 4; i++) {
        vgpu_le32_store(copy + 4 * (size_t)i, i * 2654435761u);
    }
    vq_memwrite(f->q, VQ_BAR2, copy, WINDOW_SIZE);
}

static void test_add_and_sum(Fixture *f, gconstpointer data)
{
    g_autofree uint8_t *before = g_malloc(WINDOW_SIZE), *after = g_malloc(WINDOW_SIZE);
    struct vgpu_window_op add = { .opcode = VGPU_OP_ADD_U32, .count = COUNT, .a = 0,
                                  .b = 4 * COUNT, .out = WINDOW_SIZE - 4 * COUNT };
    struct vgpu_window_op sum = { .opcode = VGPU_OP_SUM_F32, .count = 3, .a = 64 };
    uint8_t response[VGPU_RESPONSE_MAX];
    struct vgpu_response_view view;
    const float x[3] = { 1.5f, -0.25f, 1024.0f };
    double total = 0;

    (void)data;
    fill_window(f, before);
    g_assert_cmpuint(run_op(f, &add, response), ==, VGPU_STATUS_DONE);
    vq_memread(f->q, VQ_BAR2, after, WINDOW_SIZE);
    for (uint32_t i = 0; i < COUNT; i++) {
        uint32_t a = vgpu_le32_load(before + 4 * i), b = vgpu_le32_load(before + 4 * (COUNT + i));

        g_assert_cmphex(vgpu_le32_load(after + add.out + 4 * i), ==, a + b);
    }
    /* nothing but the output changed */
    g_assert_cmpmem(after, add.out, before, add.out);

    vq_memwrite(f->q, VQ_BAR2 + sum.a, x, sizeof(x));
    g_assert_cmpuint(run_op(f, &sum, response), ==, VGPU_STATUS_DONE);
    g_assert_cmpuint(vgpu_response_decode(response, vq_readl(f->q, VGPU_REG_RESPONSE_LEN), &view),
                     ==, VGPU_OK);
    g_assert_true(vgpu_sum_result_load(&view, &total));
    g_assert_cmpfloat(total, ==, 1025.25);
}

/* A refused range: ERROR with BAD_RANGE, and the window as it was. */
static void assert_refused(Fixture *f, const struct vgpu_window_op *op, const uint8_t *before)
{
    g_autofree uint8_t *after = g_malloc(WINDOW_SIZE);
    uint8_t response[VGPU_RESPONSE_MAX];

    g_assert_cmpuint(run_op(f, op, response), ==, VGPU_STATUS_ERROR);
    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_ERROR_CODE), ==, VGPU_ERR_BAD_RANGE);
    vq_memread(f->q, VQ_BAR2, after, WINDOW_SIZE);
    g_assert_cmpmem(after, WINDOW_SIZE, before, WINDOW_SIZE);
}

static void test_bad_ranges(Fixture *f, gconstpointer data)
{
    g_autofree uint8_t *before = g_malloc(WINDOW_SIZE);
    struct vgpu_window_op past_end = { .opcode = VGPU_OP_ADD_U32, .count = COUNT, .a = 0,
                                       .b = 4 * COUNT, .out = WINDOW_SIZE - 4 * COUNT + 4 };
    struct vgpu_window_op wrapping = { .opcode = VGPU_OP_ADD_F32, .count = 2, .a = 0, .b = 8,
                                       .out = UINT64_MAX - 3 };
    struct vgpu_window_op huge = { .opcode = VGPU_OP_SAXPY, .count = (UINT64_MAX / 4) - 1,
                                   .a = 4, .out = 0, .alpha = 2.0f };
    struct vgpu_window_op matrix = { .opcode = VGPU_OP_SGEMM, .m = 512, .n = 512, .k = 512,
                                     .lda = 512, .ldb = 512, .ldc = 512, .a = 0,
                                     .b = 1u << 20, .out = 2u << 20, .alpha = 1.0f };

    (void)data;
    fill_window(f, before);
    assert_refused(f, &past_end, before);
    assert_refused(f, &wrapping, before);
    assert_refused(f, &huge, before);
    assert_refused(f, &matrix, before);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/window-ops/add-and-sum-through-bar2", Fixture, NULL, setup, test_add_and_sum,
               teardown);
    g_test_add("/window-ops/bad-ranges-refused-window-untouched", Fixture, NULL, setup,
               test_bad_ranges, teardown);
    return g_test_run();
}
