/*
 * Launchers of the CUDA backend's kernels (backend-cuda-kernels.cu).  Each
 * queues its kernel on `stream` and returns the launch's error; the caller
 * synchronizes.
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
