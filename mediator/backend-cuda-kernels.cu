/*
 * The CUDA backend's kernels and their launchers, called from
 * backend-cuda.c (C) through backend-cuda-kernels.h.
 */
#include "backend-cuda-kernels.h"

/* One thread: results are written straight into mapped, pinned host memory. */
__global__ static void vgpu_vector_add_kernel(uint32_t a, uint32_t b, uint32_t *out)
{
    out[0] = a + b;                 /* unsigned: wraps mod 2^32 */
}

extern "C" cudaError_t vgpu_cuda_launch_vector_add(uint32_t a, uint32_t b, uint32_t *out,
                                                   cudaStream_t stream)
{
    vgpu_vector_add_kernel<<<1, 1, 0, stream>>>(a, b, out);
    return cudaGetLastError();
}

#ifdef VGPU_CUDA_FAULT_INJECTION
/* Test builds only: a store to an address no allocation owns. */
__global__ static void vgpu_illegal_store_kernel(uint32_t *out)
{
    out[0] = 0xdeadbeefu;
}

extern "C" cudaError_t vgpu_cuda_launch_illegal_store(cudaStream_t stream)
{
    vgpu_illegal_store_kernel<<<1, 1, 0, stream>>>((uint32_t *)(uintptr_t)0x10);
    return cudaGetLastError();
}
#endif
