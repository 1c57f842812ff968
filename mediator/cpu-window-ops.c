/*
 * The cpu backend's array operations: see cpu-window-ops.h.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "cpu-window-ops.h"

/* The window is shared with a running guest: read each element once. */
static void add_u32(uint64_t n, const uint32_t *a, const uint32_t *b, uint32_t *out)
{
    for (uint64_t i = 0; i < n; i++) {
        out[i] = a[i] + b[i];
    }
}

static void add_f32(uint64_t n, const float *a, const float *b, float *out)
{
    for (uint64_t i = 0; i < n; i++) {
        out[i] = a[i] + b[i];
    }
}

static void saxpy(uint64_t n, float alpha, const float *x, float *y)
{
    for (uint64_t i = 0; i < n; i++) {
        y[i] = fmaf(alpha, x[i], y[i]);
    }
}

/* Four double accumulators: the order differs from the GPU's anyway. */
static double sum_f32(uint64_t n, const float *x)
{
    double s[4] = { 0, 0, 0, 0 };
    uint64_t i = 0;

    for (; i + 4 <= n; i += 4) {
        s[0] += x[i];
        s[1] += x[i + 1];
        s[2] += x[i + 2];
        s[3] += x[i + 3];
    }
    for (; i < n; i++) {
        s[0] += x[i];
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

void cpu_window_op_run(const struct vgpu_window_op *op, unsigned char *window,
                       uint32_t *results, uint32_t *result_count)
{
    void *a = window + op->a, *b = window + op->b, *out = window + op->out;

    *result_count = 0;
    switch (op->opcode) {
    case VGPU_OP_ADD_U32:
        add_u32(op->count, a, b, out);
        break;
    case VGPU_OP_ADD_F32:
        add_f32(op->count, a, b, out);
        break;
    case VGPU_OP_SAXPY:
        saxpy(op->count, op->alpha, a, out);
        break;
    case VGPU_OP_SUM_F32:
        vgpu_sum_result_store(sum_f32(op->count, a), results);
        *result_count = VGPU_SUM_RESULTS;
        break;
    case VGPU_OP_SGEMM:
        /* dimensions are at most 2^31 - 1 (checked): they fit blasint */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)op->m, (blasint)op->n,
                    (blasint)op->k, op->alpha, a, (blasint)op->lda, b, (blasint)op->ldb,
                    op->beta, out, (blasint)op->ldc);
        break;
    }
}
