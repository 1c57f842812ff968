/*
 * vgpu_window_op_decode (common/ops.c): the mediator's check of an array
 * operation on a VM's data window, the one thing between a guest's offsets
 * and the mediator's memory.
 *
 * Input: 8 bytes of window size (LE, any value), then a request.  Once
 * vgpu_request_decode accepts it, the op's params are read again here,
 * independently of ops.c, and every range the op reads or writes is
 * computed in 128-bit arithmetic.  Checked:
 *   - the decoder's verdict is exactly this reading's: BAD_PARAMS, then
 *     BAD_RANGE, then OVERLAP, else OK (nothing bad accepted, nothing good
 *     refused);
 *   - after OK, every range lies inside the window, is aligned, and no
 *     output overlaps an input unless it is that input (in place, not SGEMM;
 *     a CUDA batch is read and answered in place);
 *     vgpu_window_op_ranges names the same ranges; the op encodes back to
 *     a request that decodes to the same op;
 *   - after a refusal *op is untouched.
 */
#include <stdbool.h>

#include "fuzz.h"
#include "vgpu/cuda.h"
#include "vgpu/ops.h"

typedef unsigned __int128 u128;

struct range {
    u128 offset, length;
};

static uint64_t param64(const struct vgpu_request_view *r, uint32_t i)
{
    return vgpu_le32_load(r->params + 4 * (size_t)i) |
           (uint64_t)vgpu_le32_load(r->params + 4 * (size_t)(i + 1)) << 32;
}

static uint32_t param32(const struct vgpu_request_view *r, uint32_t i)
{
    return vgpu_le32_load(r->params + 4 * (size_t)i);
}

static u128 matrix(uint32_t rows, uint32_t cols, uint32_t ld)
{
    return ((u128)(rows - 1) * ld + cols) * VGPU_ELEMENT_SIZE;
}

static bool inside(const struct range *r, uint64_t window)
{
    return r->offset % VGPU_ELEMENT_SIZE == 0 && r->length % VGPU_ELEMENT_SIZE == 0 &&
           r->offset + r->length <= window;
}

static bool overlap(const struct range *x, const struct range *y)
{
    return x->offset < y->offset + y->length && y->offset < x->offset + x->length;
}

/*
 * The verdict from the params as docs/protocol.md states the rules, and
 * the ranges: in[0..*n_in), *out (length 0: none).
 */
static uint32_t expected(const struct vgpu_request_view *r, uint64_t window,
                         struct range in[2], unsigned *n_in, struct range *out)
{
    uint64_t count = 0;
    bool sgemm = r->opcode == VGPU_OP_SGEMM;

    *out = (struct range){ 0, 0 };
    switch (r->opcode) {
    case VGPU_OP_ADD_U32:
    case VGPU_OP_ADD_F32:
        count = param64(r, 0);
        in[0] = (struct range){ param64(r, 2), (u128)count * 4 };
        in[1] = (struct range){ param64(r, 4), (u128)count * 4 };
        *out = (struct range){ param64(r, 6), (u128)count * 4 };
        *n_in = 2;
        break;
    case VGPU_OP_SAXPY:
        count = param64(r, 0);
        in[0] = (struct range){ param64(r, 2), (u128)count * 4 };
        in[1] = (struct range){ param64(r, 4), (u128)count * 4 };
        *out = in[1];
        *n_in = 2;
        break;
    case VGPU_OP_SUM_F32:
        count = param64(r, 0);
        in[0] = (struct range){ param64(r, 2), (u128)count * 4 };
        *n_in = 1;
        break;
    case VGPU_OP_CUDA: {
        /* a batch of `count` bytes at a, read and answered in place */
        uint64_t a = param64(r, 0), bytes = param64(r, 2);

        if (bytes < sizeof(struct vgpu_cuda_batch) || bytes > VGPU_CUDA_BATCH_MAX ||
            bytes % 8 != 0 || a % 8 != 0) {
            return VGPU_ERR_BAD_PARAMS;
        }
        in[0] = (struct range){ a, bytes };
        *out = in[0];
        *n_in = 1;
        return inside(&in[0], window) ? VGPU_OK : VGPU_ERR_BAD_RANGE;
    }
    case VGPU_OP_SGEMM: {
        uint32_t m = param32(r, 6), n = param32(r, 7), k = param32(r, 8);
        uint32_t lda = param32(r, 9), ldb = param32(r, 10), ldc = param32(r, 11);

        if (m == 0 || n == 0 || k == 0 || m > VGPU_SGEMM_DIM_MAX || n > VGPU_SGEMM_DIM_MAX ||
            k > VGPU_SGEMM_DIM_MAX || lda > VGPU_SGEMM_DIM_MAX || ldb > VGPU_SGEMM_DIM_MAX ||
            ldc > VGPU_SGEMM_DIM_MAX || lda < k || ldb < n || ldc < n) {
            return VGPU_ERR_BAD_PARAMS;
        }
        in[0] = (struct range){ param64(r, 0), matrix(m, k, lda) };
        in[1] = (struct range){ param64(r, 2), matrix(k, n, ldb) };
        *out = (struct range){ param64(r, 4), matrix(m, n, ldc) };
        *n_in = 2;
        break;
    }
    default:
        /* a window opcode these rules do not know: add its rules above */
        fprintf(stderr, "opcode 0x%x uses the window: this target lacks its rules\n", r->opcode);
        return VGPU_ERR_BAD_OPCODE;
    }
    if (!sgemm && (count == 0 || count > UINT64_MAX / 4)) {
        return VGPU_ERR_BAD_PARAMS;
    }
    for (unsigned i = 0; i < *n_in; i++) {
        if (!inside(&in[i], window)) {
            return VGPU_ERR_BAD_RANGE;
        }
    }
    if (out->length && !inside(out, window)) {
        return VGPU_ERR_BAD_RANGE;
    }
    for (unsigned i = 0; out->length && i < *n_in; i++) {
        bool in_place = !sgemm && in[i].offset == out->offset && in[i].length == out->length;

        if (!in_place && overlap(&in[i], out)) {
            return VGPU_ERR_OVERLAP;
        }
    }
    return VGPU_OK;
}

static bool same_op(const struct vgpu_window_op *x, const struct vgpu_window_op *y)
{
    return x->opcode == y->opcode && x->count == y->count && x->a == y->a && x->b == y->b &&
           x->out == y->out && x->m == y->m && x->n == y->n && x->k == y->k &&
           x->lda == y->lda && x->ldb == y->ldb && x->ldc == y->ldc &&
           memcmp(&x->alpha, &y->alpha, sizeof(float)) == 0 &&
           memcmp(&x->beta, &y->beta, sizeof(float)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vgpu_request_view view, again;
    struct vgpu_window_op op, op2;
    struct vgpu_window_range got_in[2], got_out;
    struct range in[2], out;
    unsigned n_in = 0, got_n_in;
    unsigned char *request, buf[VGPU_REQUEST_MAX];
    uint64_t window;
    uint32_t rc, want;
    size_t len;

    if (size < 8) {
        return 0;
    }
    window = vgpu_le32_load(data) | (uint64_t)vgpu_le32_load(data + 4) << 32;
    request = fuzz_copy(data + 8, size - 8);
    if (vgpu_request_decode(request, size - 8, &view) != VGPU_OK ||
        !vgpu_opcode_uses_window(view.opcode)) {
        free(request);
        return 0;
    }

    memset(&op, FUZZ_POISON, sizeof(op));
    rc = vgpu_window_op_decode(&view, window, &op);
    want = expected(&view, window, in, &n_in, &out);
    if (rc != want) {
        fprintf(stderr, "opcode 0x%x window %llu: decoder says %u, the rules say %u\n",
                view.opcode, (unsigned long long)window, rc, want);
    }
    FUZZ_CHECK(rc == want);
    if (rc != VGPU_OK) {
        FUZZ_CHECK(fuzz_all_bytes(&op, sizeof(op), FUZZ_POISON));
        free(request);
        return 0;
    }

    /* Every range the accepted op names lies inside the window. */
    FUZZ_CHECK(op.opcode == view.opcode);
    vgpu_window_op_ranges(&op, got_in, &got_n_in, &got_out);
    FUZZ_CHECK(got_n_in == n_in);
    for (unsigned i = 0; i < n_in; i++) {
        FUZZ_CHECK(inside(&in[i], window) && in[i].length > 0);
        FUZZ_CHECK(got_in[i].offset == in[i].offset && got_in[i].length == in[i].length);
        FUZZ_CHECK(got_in[i].offset <= window && got_in[i].length <= window - got_in[i].offset);
    }
    FUZZ_CHECK(got_out.offset == out.offset && got_out.length == out.length);
    FUZZ_CHECK(out.length == 0 ? op.opcode == VGPU_OP_SUM_F32 : inside(&out, window));
    FUZZ_CHECK(op.opcode != VGPU_OP_CUDA || (op.a % 8 == 0 && op.count % 8 == 0));
    FUZZ_CHECK(got_out.offset <= window && got_out.length <= window - got_out.offset);

    /* Encoded again, it decodes to the same op. */
    len = vgpu_window_op_encode(buf, sizeof(buf), &op);
    FUZZ_CHECK(len > 0);
    FUZZ_CHECK(vgpu_request_decode(buf, len, &again) == VGPU_OK);
    FUZZ_CHECK(vgpu_window_op_decode(&again, window, &op2) == VGPU_OK);
    FUZZ_CHECK(same_op(&op, &op2));
    free(request);
    return 0;
}
