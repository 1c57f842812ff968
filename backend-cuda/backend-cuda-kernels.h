/*
 * Launchers of the CUDA backend's kernels (backend-cuda-kernels.cu).  Each
 * queues its kernel(s) on `stream` and returns the launch's error; the
 * caller synchronizes.  Pointers are device-visible.
 */
#ifndef VGPU_BACKEND_CUDA_KERNELS_H
#define VGPU_BACKEND_CUDA_KERNELS_H

#include <stdint.h>
#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * out[0] = a + b mod 2^32; out is a device-visible pointer (mapped host
 * memory).  With service_ns > 0 the kernel first occupies the GPU that long.
 */
cudaError_t vgpu_cuda_launch_vector_add(uint32_t a, uint32_t b, uint32_t *out,
                                        uint64_t service_ns, cudaStream_t stream);

/* Occupy the GPU for service_ns (mediator.conf service-time-us). */
cudaError_t vgpu_cuda_launch_serve(uint64_t service_ns, cudaStream_t stream);

/*
 * Element-wise, n elements; out may be a or b (in place).  The results are
 * bit-exact with the cpu backend's: u32 wraps mod 2^32, f32 adds and SAXPY's
 * fused multiply-add round to nearest even, denormals kept (no flush to
 * zero).  Only NaN payloads may differ (the GPU returns the canonical NaN).
 */
cudaError_t vgpu_cuda_launch_add_u32(const uint32_t *a, const uint32_t *b, uint32_t *out,
                                     uint64_t n, cudaStream_t stream);
cudaError_t vgpu_cuda_launch_add_f32(const float *a, const float *b, float *out,
                                     uint64_t n, cudaStream_t stream);
/* y[i] = fmaf(alpha, x[i], y[i]) */
cudaError_t vgpu_cuda_launch_saxpy(float alpha, const float *x, float *y, uint64_t n,
                                   cudaStream_t stream);

#define VGPU_CUDA_SUM_BLOCKS 256u   /* partial sums per vgpu_cuda_launch_sum_f32 */

/*
 * *acc += the sum of x[0..n) in double: VGPU_CUDA_SUM_BLOCKS partial sums
 * (each thread's strided elements in order, then a tree) into partials,
 * then one block adds them in a fixed tree into *acc.  Deterministic for
 * a given n; docs/gpu.md gives the tolerance against the cpu's order.
 */
cudaError_t vgpu_cuda_launch_sum_f32(const float *x, uint64_t n, double *partials, double *acc,
                                     cudaStream_t stream);

#ifdef VGPU_CUDA_FAULT_INJECTION
/* Test builds only: a kernel that stores to an illegal address. */
cudaError_t vgpu_cuda_launch_illegal_store(cudaStream_t stream);

/* Test builds only: VECTOR_ADD with this first operand runs the illegal store. */
#define VGPU_CUDA_FAULT_OPERAND 0xfa017u
#endif

#ifdef __cplusplus
}
#endif

#endif /* VGPU_BACKEND_CUDA_KERNELS_H */
