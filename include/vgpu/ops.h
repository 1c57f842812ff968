/*
 * Array operations on the data window: their params as one structure, the
 * one encoder and the one decoder of those params.
 *
 * The decoder is the mediator's check: after it accepts a request, every
 * range the operation reads or writes lies inside the window, is aligned
 * to its 4-byte elements, and no output overlaps an input (except an
 * element-wise output that is exactly one of its inputs: in place).  The
 * guest tools call it too, to refuse a bad request before sending it.
 * docs/protocol.md explains each operation.
 */
#ifndef VGPU_OPS_H
#define VGPU_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vgpu/codec.h"

#define VGPU_ELEMENT_SIZE       4u              /* u32 and f32 */
#define VGPU_SGEMM_DIM_MAX      0x7fffffffu     /* m, n, k and leading dimensions (BLAS int) */

/*
 * One array operation.  Offsets are bytes from the window's start.
 *   ADD_U32, ADD_F32: out[i] = a[i] + b[i], i < count
 *   SAXPY:            y[i] = fmaf(alpha, x[i], y[i]); x is `a`, y is `out`
 *   SUM_F32:          the sum of a[0..count), accumulated in double
 *   SGEMM:            C = alpha A B + beta C, row-major; A m x k at `a`
 *                     (row stride lda), B k x n at `b` (ldb), C m x n at
 *                     `out` (ldc)
 *   CUDA:             a batch of CUDA calls (vgpu/cuda.h) of `count` bytes
 *                     at `a`, 8-byte aligned, read and answered in place
 */
struct vgpu_window_op {
    uint32_t opcode;
    uint64_t count;                 /* elements: ADD, SAXPY, SUM */
    uint64_t a, b, out;             /* byte offsets of the operands (unused ones 0) */
    uint32_t m, n, k;               /* SGEMM */
    uint32_t lda, ldb, ldc;         /* SGEMM, in elements */
    float alpha, beta;              /* SAXPY alpha; SGEMM alpha and beta */
};

/* A byte range in the window. */
struct vgpu_window_range {
    uint64_t offset;
    uint64_t length;
};

/* Whether the opcode works on the data window. */
bool vgpu_opcode_uses_window(uint32_t opcode);

/*
 * Write the request for op into buf.  Returns its length, or 0 when
 * op->opcode is not a window operation or cap is too small.  It packs what
 * it is given: the decoder is the one that checks.
 */
size_t vgpu_window_op_encode(void *buf, size_t cap, const struct vgpu_window_op *op);

/*
 * Check a request that vgpu_request_decode() accepted, against a window of
 * window_size bytes, and fill *op.  Returns VGPU_OK, BAD_PARAMS (count 0, a
 * dimension 0 or over VGPU_SGEMM_DIM_MAX, a leading dimension smaller than
 * its row), BAD_RANGE (outside the window, wrapping, misaligned) or
 * OVERLAP; *op is filled only on VGPU_OK.
 */
uint32_t vgpu_window_op_decode(const struct vgpu_request_view *request, uint64_t window_size,
                               struct vgpu_window_op *op);

/*
 * The ranges op reads (in[0..*in_count)) and writes (*out; length 0 for
 * SUM_F32).  For a decoded op they lie inside the window.
 */
void vgpu_window_op_ranges(const struct vgpu_window_op *op, struct vgpu_window_range in[2],
                           unsigned *in_count, struct vgpu_window_range *out);

/* An f32 param (alpha, beta) as its bits, and back. */
uint32_t vgpu_f32_to_bits(float f);
float vgpu_f32_from_bits(uint32_t bits);

/* SUM_F32's result words: a double, low word first. */
void vgpu_sum_result_store(double sum, uint32_t results[VGPU_SUM_RESULTS]);
/* False when the response does not carry VGPU_SUM_RESULTS words. */
bool vgpu_sum_result_load(const struct vgpu_response_view *response, double *sum);

#endif /* VGPU_OPS_H */
