/*
 * A CUDA host for the guest runtime's tests (cudart-test): it answers the
 * batches the mock device of fake-vgpu.c passes it the way the host's
 * per-VM CUDA worker is to (include/vgpu/cuda.h), on a small in-memory
 * model of one GPU: device memory with a quota, modules (the fat binaries
 * the guest sends, kept for the tests to compare), kernels, variables,
 * streams and events, and a clock that a launch advances by 1 ms.
 *
 * It reads every batch with the contract's checking decoder and checks
 * each call as the real host must: handles it never gave out, device
 * ranges outside its allocations and window ranges outside the window are
 * refused, so a guest that sends them is caught.  It runs the records in
 * order until one fails and answers [status, index].
 *
 * The kernels it knows, by mangled name (tests/unit/cudart-test-app.cu
 * and tests/cuda/vector-add.cu define them):
 *   vector_add(const float *a, const float *b, float *c, int n)
 *       c[i] = a[i] + b[i] for i < n within the grid's x threads.  Its
 *       parameter layout is deliberately not the natural one (each
 *       parameter in a 16-byte slot): a guest that guesses the layout
 *       instead of taking the host's gets the wrong sum.
 *   empty_kernel()
 *   scale_by_constant(float *x, int n)
 *       x[i] *= the module's __constant__ float `scale`; adds 1 to its
 *       __device__ unsigned `counter`.
 *   out_of_bounds(int *p)
 *       faults: cudaErrorIllegalAddress (700), which sticks.
 * Any other name is unknown to the host (cudaErrorInvalidDeviceFunction).
 */
#ifndef FAKE_CUDA_H
#define FAKE_CUDA_H

#include <glib.h>

#include "fake-vgpu.h"

#define FAKE_CUDA_MEMORY        (64u << 20)     /* the quota: total memory */
#define FAKE_CUDA_CALLS         128             /* call numbers counted (all are < 128) */
#define FAKE_CUDA_TAIL_KEPT     64              /* bytes of a record's tail the log keeps */

typedef struct FakeCuda FakeCuda;

typedef struct {
    guint batches;                  /* VGPU_OP_CUDA requests */
    guint records;                  /* records answered */
    guint last_batch_records;       /* records in the last batch */
    guint calls[FAKE_CUDA_CALLS];   /* records answered, per call number */
    guint64 memory_used;            /* bytes allocated by MALLOC */
    guint allocations;              /* live MALLOC allocations */
    guint modules;                  /* live modules */
} FakeCudaStats;

/* A record as the host saw it, for the tests of the encoding. */
typedef struct {
    guint32 call;
    guint64 words[8];
    gsize tail_len;
    guint8 tail[FAKE_CUDA_TAIL_KEPT];
    guint32 result;                 /* what the host answered */
} FakeCudaRecord;

/* A host with one GPU and nothing on it, answering dev's CUDA batches. */
FakeCuda *fake_cuda_new(FakeDevice *dev);
void fake_cuda_free(FakeCuda *host);
/* 0: run the calls; else answer every call with this error, as the cpu
 * backend (cudaErrorNoDevice, 100) and the cuda backend (801) do today. */
void fake_cuda_set_answer(FakeCuda *host, guint32 error);
/* The next record of this call fails with error, running nothing. */
void fake_cuda_fail_next(FakeCuda *host, guint32 call, guint32 error);

/* The next `rounds` synchronizes (device, stream, event) answer VGPU_CUDA_STILL_WAITING. */
void fake_cuda_wait_rounds(FakeCuda *host, guint rounds);
void fake_cuda_stats(FakeCuda *host, FakeCudaStats *stats);
/* The records answered since the last call (FakeCudaRecord; free with g_array_unref). */
GArray *fake_cuda_log_take(FakeCuda *host);
/* The bytes of the n-th fat binary loaded (NULL when there is none). */
GBytes *fake_cuda_module_image(FakeCuda *host, guint n);
/* Read device memory as the GPU has it; FALSE outside the allocations. */
gboolean fake_cuda_read(FakeCuda *host, guint64 address, void *buf, gsize len);

#endif /* FAKE_CUDA_H */
