/*
 * The CUDA backend's kernels and their launchers, called from
 * backend-cuda.c (C) through backend-cuda-kernels.h.
 */
#include "backend-cuda-kernels.h"

__device__ static uint64_t vgpu_globaltimer_ns(void)
{
    uint64_t t;

    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

/* Occupy the GPU for the configured service time (mediator.conf's service-time-us). */
__device__ static void vgpu_serve(uint64_t service_ns)
{
    uint64_t start = vgpu_globaltimer_ns();

    while (vgpu_globaltimer_ns() - start < service_ns) {
        __nanosleep(1000);
    }
}

/* One thread: results are written straight into mapped, pinned host memory. */
__global__ static void vgpu_vector_add_kernel(uint32_t a, uint32_t b, uint32_t *out,
                                              uint64_t service_ns)
{
    if (service_ns) {
        vgpu_serve(service_ns);
    }
    out[0] = a + b;                 /* unsigned: wraps mod 2^32 */
}

extern "C" cudaError_t vgpu_cuda_launch_vector_add(uint32_t a, uint32_t b, uint32_t *out,
                                                   uint64_t service_ns, cudaStream_t stream)
{
    vgpu_vector_add_kernel<<<1, 1, 0, stream>>>(a, b, out, service_ns);
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
