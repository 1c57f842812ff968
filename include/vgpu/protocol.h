/*
 * vgpu-stub guest request and response, as they sit in REQUEST_BUFFER and
 * RESPONSE_BUFFER.  All fields are little-endian 32-bit words.
 *
 * docs/protocol.md explains them; include/vgpu/codec.h builds and checks them.
 */
#ifndef VGPU_PROTOCOL_H
#define VGPU_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "vgpu/regs.h"

struct vgpu_request {           /* 32-byte header, then params, then data */
    uint32_t version;           /* VGPU_PROTOCOL_VERSION */
    uint32_t opcode;            /* enum vgpu_opcode */
    uint32_t flags;             /* 0 */
    uint32_t param_count;       /* words in params[] */
    uint32_t data_offset;       /* from the start of the request, after params */
    uint32_t data_length;       /* bytes of data */
    uint32_t reserved[2];       /* 0 */
    uint32_t params[];
};

struct vgpu_response {          /* 32-byte header, then results, then data */
    uint32_t version;           /* VGPU_PROTOCOL_VERSION */
    uint32_t status;            /* 0 = success, else enum vgpu_error */
    uint32_t result_count;      /* words in results[] */
    uint32_t data_offset;       /* from the start of the response, after results */
    uint32_t data_length;       /* bytes of data */
    uint32_t exec_time_us;      /* time the backend spent on it */
    uint32_t reserved[2];       /* 0 */
    uint32_t results[];
};

#define VGPU_REQUEST_HEADER_SIZE    32u
#define VGPU_RESPONSE_HEADER_SIZE   32u
#define VGPU_REQUEST_MAX            VGPU_BUFFER_SIZE
#define VGPU_RESPONSE_MAX           VGPU_BUFFER_SIZE
#define VGPU_REQUEST_MAX_PARAMS     ((VGPU_REQUEST_MAX - VGPU_REQUEST_HEADER_SIZE) / 4)
#define VGPU_RESPONSE_MAX_RESULTS   ((VGPU_RESPONSE_MAX - VGPU_RESPONSE_HEADER_SIZE) / 4)

/* Opcodes: each documented in docs/protocol.md with params, results, errors. */
enum vgpu_opcode {
    VGPU_OP_VECTOR_ADD = 0x0001,    /* params [a, b] -> results [a + b mod 2^32] */

    /*
     * Array operations on the data window (VGPU_CAP_DATA_WINDOW).  Every
     * 64-bit value is two params, low word first; offsets are bytes from
     * the window's start; count is elements (4 bytes each).  include/vgpu/ops.h
     * encodes and checks them; docs/protocol.md gives ranges and errors.
     */
    VGPU_OP_ADD_U32 = 0x0010,       /* [count, a, b, out] (64-bit each): out = a + b mod 2^32 */
    VGPU_OP_ADD_F32 = 0x0011,       /* [count, a, b, out]: out = a + b (f32) */
    VGPU_OP_SAXPY   = 0x0012,       /* [count, x, y, alpha]: y = fmaf(alpha, x, y) */
    VGPU_OP_SUM_F32 = 0x0013,       /* [count, x] -> results [sum as f64, low word first] */
    VGPU_OP_SGEMM   = 0x0014,       /* [a, b, c, m, n, k, lda, ldb, ldc, alpha, beta]:
                                       C = alpha A B + beta C, f32, row-major */
};

#define VGPU_ADD_PARAMS             8u
#define VGPU_SAXPY_PARAMS           7u
#define VGPU_SUM_PARAMS             4u
#define VGPU_SUM_RESULTS            2u
#define VGPU_SGEMM_PARAMS           14u

#define VGPU_VECTOR_ADD_PARAMS      2u
#define VGPU_VECTOR_ADD_RESULTS     1u
#define VGPU_VECTOR_ADD_REQUEST_SIZE  (VGPU_REQUEST_HEADER_SIZE + 4 * VGPU_VECTOR_ADD_PARAMS)
#define VGPU_VECTOR_ADD_RESPONSE_SIZE (VGPU_RESPONSE_HEADER_SIZE + 4 * VGPU_VECTOR_ADD_RESULTS)

_Static_assert(offsetof(struct vgpu_request, params) == VGPU_REQUEST_HEADER_SIZE,
               "request header is 32 bytes");
_Static_assert(offsetof(struct vgpu_response, results) == VGPU_RESPONSE_HEADER_SIZE,
               "response header is 32 bytes");
_Static_assert(offsetof(struct vgpu_request, data_offset) == 16, "request layout");
_Static_assert(offsetof(struct vgpu_response, exec_time_us) == 20, "response layout");
_Static_assert(VGPU_VECTOR_ADD_REQUEST_SIZE == 40, "VECTOR_ADD request is 40 bytes");
_Static_assert(VGPU_VECTOR_ADD_RESPONSE_SIZE == 36, "VECTOR_ADD response is 36 bytes");

#endif /* VGPU_PROTOCOL_H */
