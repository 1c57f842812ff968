/*
 * Array operations on the data window: see include/vgpu/ops.h.
 */
#include <string.h>

#include "vgpu/cuda.h"
#include "vgpu/ops.h"

bool vgpu_opcode_uses_window(uint32_t opcode)
{
    switch (opcode) {
    case VGPU_OP_ADD_U32:
    case VGPU_OP_ADD_F32:
    case VGPU_OP_SAXPY:
    case VGPU_OP_SUM_F32:
    case VGPU_OP_SGEMM:
    case VGPU_OP_CUDA:
        return true;
    }
    return false;
}

uint32_t vgpu_f32_to_bits(float f)
{
    uint32_t w;

    memcpy(&w, &f, sizeof(w));
    return w;
}

float vgpu_f32_from_bits(uint32_t w)
{
    float f;

    memcpy(&f, &w, sizeof(f));
    return f;
}

/* A 64-bit value as two params, low word first. */
static void put64(uint32_t *p, uint64_t v)
{
    p[0] = (uint32_t)v;
    p[1] = (uint32_t)(v >> 32);
}

static uint64_t get64(const struct vgpu_request_view *r, uint32_t index)
{
    return vgpu_request_param(r, index) | (uint64_t)vgpu_request_param(r, index + 1) << 32;
}

size_t vgpu_window_op_encode(void *buf, size_t cap, const struct vgpu_window_op *op)
{
    uint32_t p[VGPU_SGEMM_PARAMS];
    uint32_t n;

    switch (op->opcode) {
    case VGPU_OP_ADD_U32:
    case VGPU_OP_ADD_F32:
        put64(p, op->count);
        put64(p + 2, op->a);
        put64(p + 4, op->b);
        put64(p + 6, op->out);
        n = VGPU_ADD_PARAMS;
        break;
    case VGPU_OP_SAXPY:
        put64(p, op->count);
        put64(p + 2, op->a);
        put64(p + 4, op->out);
        p[6] = vgpu_f32_to_bits(op->alpha);
        n = VGPU_SAXPY_PARAMS;
        break;
    case VGPU_OP_SUM_F32:
        put64(p, op->count);
        put64(p + 2, op->a);
        n = VGPU_SUM_PARAMS;
        break;
    case VGPU_OP_CUDA:
        put64(p, op->a);
        put64(p + 2, op->count);
        n = VGPU_CUDA_PARAMS;
        break;
    case VGPU_OP_SGEMM:
        put64(p, op->a);
        put64(p + 2, op->b);
        put64(p + 4, op->out);
        p[6] = op->m;
        p[7] = op->n;
        p[8] = op->k;
        p[9] = op->lda;
        p[10] = op->ldb;
        p[11] = op->ldc;
        p[12] = vgpu_f32_to_bits(op->alpha);
        p[13] = vgpu_f32_to_bits(op->beta);
        n = VGPU_SGEMM_PARAMS;
        break;
    default:
        return 0;
    }
    return vgpu_request_encode(buf, cap, op->opcode, p, n, NULL, 0);
}

static uint32_t decode_params(const struct vgpu_request_view *r, struct vgpu_window_op *op)
{
    memset(op, 0, sizeof(*op));
    op->opcode = r->opcode;
    switch (r->opcode) {
    case VGPU_OP_ADD_U32:
    case VGPU_OP_ADD_F32:
        op->count = get64(r, 0);
        op->a = get64(r, 2);
        op->b = get64(r, 4);
        op->out = get64(r, 6);
        break;
    case VGPU_OP_SAXPY:
        op->count = get64(r, 0);
        op->a = get64(r, 2);
        op->out = get64(r, 4);
        op->alpha = vgpu_f32_from_bits(vgpu_request_param(r, 6));
        break;
    case VGPU_OP_SUM_F32:
        op->count = get64(r, 0);
        op->a = get64(r, 2);
        break;
    case VGPU_OP_SGEMM:
        op->a = get64(r, 0);
        op->b = get64(r, 2);
        op->out = get64(r, 4);
        op->m = vgpu_request_param(r, 6);
        op->n = vgpu_request_param(r, 7);
        op->k = vgpu_request_param(r, 8);
        op->lda = vgpu_request_param(r, 9);
        op->ldb = vgpu_request_param(r, 10);
        op->ldc = vgpu_request_param(r, 11);
        op->alpha = vgpu_f32_from_bits(vgpu_request_param(r, 12));
        op->beta = vgpu_f32_from_bits(vgpu_request_param(r, 13));
        if (op->m == 0 || op->n == 0 || op->k == 0 || op->m > VGPU_SGEMM_DIM_MAX ||
            op->n > VGPU_SGEMM_DIM_MAX || op->k > VGPU_SGEMM_DIM_MAX ||
            op->lda > VGPU_SGEMM_DIM_MAX || op->ldb > VGPU_SGEMM_DIM_MAX ||
            op->ldc > VGPU_SGEMM_DIM_MAX ||
            op->lda < op->k || op->ldb < op->n || op->ldc < op->n) {
            return VGPU_ERR_BAD_PARAMS;
        }
        return VGPU_OK;
    case VGPU_OP_CUDA:
        op->a = get64(r, 0);
        op->count = get64(r, 2);        /* bytes of the batch */
        return op->count < sizeof(struct vgpu_cuda_batch) || op->count > VGPU_CUDA_BATCH_MAX ||
                       op->count % 8 != 0 || op->a % 8 != 0 ? VGPU_ERR_BAD_PARAMS : VGPU_OK;
    default:
        return VGPU_ERR_BAD_OPCODE;
    }
    /* count * 4 must not wrap; the window check bounds it further */
    return op->count == 0 || op->count > UINT64_MAX / VGPU_ELEMENT_SIZE ? VGPU_ERR_BAD_PARAMS
                                                                      : VGPU_OK;
}

/*
 * Bytes of a rows x cols row-major matrix with row stride ld: the last row
 * starts at (rows - 1) * ld and holds cols elements.  With every value at
 * most 2^31 - 1 this stays below 2^64.
 */
static uint64_t matrix_bytes(uint32_t rows, uint32_t cols, uint32_t ld)
{
    return ((uint64_t)(rows - 1) * ld + cols) * VGPU_ELEMENT_SIZE;
}

void vgpu_window_op_ranges(const struct vgpu_window_op *op, struct vgpu_window_range in[2],
                           unsigned *in_count, struct vgpu_window_range *out)
{
    uint64_t bytes = op->count * VGPU_ELEMENT_SIZE;

    *out = (struct vgpu_window_range){ 0, 0 };
    switch (op->opcode) {
    case VGPU_OP_ADD_U32:
    case VGPU_OP_ADD_F32:
        in[0] = (struct vgpu_window_range){ op->a, bytes };
        in[1] = (struct vgpu_window_range){ op->b, bytes };
        *out = (struct vgpu_window_range){ op->out, bytes };
        *in_count = 2;
        return;
    case VGPU_OP_SAXPY:
        in[0] = (struct vgpu_window_range){ op->a, bytes };
        in[1] = (struct vgpu_window_range){ op->out, bytes };
        *out = in[1];
        *in_count = 2;
        return;
    case VGPU_OP_SUM_F32:
        in[0] = (struct vgpu_window_range){ op->a, bytes };
        *in_count = 1;
        return;
    case VGPU_OP_CUDA:
        /* the batch is read, and its records' results written, in place */
        in[0] = (struct vgpu_window_range){ op->a, op->count };
        *out = in[0];
        *in_count = 1;
        return;
    case VGPU_OP_SGEMM:
        in[0] = (struct vgpu_window_range){ op->a, matrix_bytes(op->m, op->k, op->lda) };
        in[1] = (struct vgpu_window_range){ op->b, matrix_bytes(op->k, op->n, op->ldb) };
        *out = (struct vgpu_window_range){ op->out, matrix_bytes(op->m, op->n, op->ldc) };
        *in_count = 2;
        return;
    }
    *in_count = 0;
}

static bool range_inside(const struct vgpu_window_range *r, uint64_t window_size)
{
    return r->offset % VGPU_ELEMENT_SIZE == 0 && r->offset <= window_size &&
           r->length <= window_size - r->offset;
}

static bool ranges_overlap(const struct vgpu_window_range *x, const struct vgpu_window_range *y)
{
    return x->offset < y->offset + y->length && y->offset < x->offset + x->length;
}

uint32_t vgpu_window_op_decode(const struct vgpu_request_view *request, uint64_t window_size,
                               struct vgpu_window_op *op)
{
    struct vgpu_window_op o;
    struct vgpu_window_range in[2], out;
    unsigned in_count;
    uint32_t error = decode_params(request, &o);

    if (error != VGPU_OK) {
        return error;
    }
    vgpu_window_op_ranges(&o, in, &in_count, &out);
    for (unsigned i = 0; i < in_count; i++) {
        if (!range_inside(&in[i], window_size)) {
            return VGPU_ERR_BAD_RANGE;
        }
    }
    if (out.length && !range_inside(&out, window_size)) {
        return VGPU_ERR_BAD_RANGE;
    }
    for (unsigned i = 0; out.length && i < in_count; i++) {
        /* element-wise operations may write in place; SGEMM may not */
        bool in_place = o.opcode != VGPU_OP_SGEMM && in[i].offset == out.offset;

        if (!in_place && ranges_overlap(&in[i], &out)) {
            return VGPU_ERR_OVERLAP;
        }
    }
    *op = o;
    return VGPU_OK;
}

void vgpu_sum_result_store(double sum, uint32_t results[VGPU_SUM_RESULTS])
{
    uint64_t bits;

    memcpy(&bits, &sum, sizeof(bits));
    results[0] = (uint32_t)bits;
    results[1] = (uint32_t)(bits >> 32);
}

bool vgpu_sum_result_load(const struct vgpu_response_view *response, double *sum)
{
    uint64_t bits;

    if (response->result_count != VGPU_SUM_RESULTS) {
        return false;
    }
    bits = vgpu_response_result(response, 0) | (uint64_t)vgpu_response_result(response, 1) << 32;
    memcpy(sum, &bits, sizeof(*sum));
    return true;
}
