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

__global__ static void vgpu_serve_kernel(uint64_t service_ns)
{
    vgpu_serve(service_ns);
}

extern "C" cudaError_t vgpu_cuda_launch_serve(uint64_t service_ns, cudaStream_t stream)
{
    vgpu_serve_kernel<<<1, 1, 0, stream>>>(service_ns);
    return cudaGetLastError();
}

/*
 * The element-wise kernels: one element per thread in a grid-stride loop.
 * The worker calls them on chunks of a few MiB, so the grid stays small.
 */
#define VGPU_THREADS 256u
#define VGPU_GRID_MAX 8192u

static unsigned vgpu_grid(uint64_t n)
{
    uint64_t blocks = (n + VGPU_THREADS - 1) / VGPU_THREADS;

    return blocks < VGPU_GRID_MAX ? (unsigned)blocks : VGPU_GRID_MAX;
}

__global__ static void vgpu_add_u32_kernel(const uint32_t *a, const uint32_t *b, uint32_t *out,
                                           uint64_t n)
{
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (uint64_t)gridDim.x * blockDim.x) {
        out[i] = a[i] + b[i];       /* unsigned: wraps mod 2^32 */
    }
}

__global__ static void vgpu_add_f32_kernel(const float *a, const float *b, float *out, uint64_t n)
{
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (uint64_t)gridDim.x * blockDim.x) {
        out[i] = __fadd_rn(a[i], b[i]);
    }
}

__global__ static void vgpu_saxpy_kernel(float alpha, const float *x, float *y, uint64_t n)
{
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (uint64_t)gridDim.x * blockDim.x) {
        y[i] = __fmaf_rn(alpha, x[i], y[i]);     /* one rounding: the cpu's fmaf */
    }
}

extern "C" cudaError_t vgpu_cuda_launch_add_u32(const uint32_t *a, const uint32_t *b,
                                                uint32_t *out, uint64_t n, cudaStream_t stream)
{
    vgpu_add_u32_kernel<<<vgpu_grid(n), VGPU_THREADS, 0, stream>>>(a, b, out, n);
    return cudaGetLastError();
}

extern "C" cudaError_t vgpu_cuda_launch_add_f32(const float *a, const float *b, float *out,
                                                uint64_t n, cudaStream_t stream)
{
    vgpu_add_f32_kernel<<<vgpu_grid(n), VGPU_THREADS, 0, stream>>>(a, b, out, n);
    return cudaGetLastError();
}

extern "C" cudaError_t vgpu_cuda_launch_saxpy(float alpha, const float *x, float *y, uint64_t n,
                                              cudaStream_t stream)
{
    vgpu_saxpy_kernel<<<vgpu_grid(n), VGPU_THREADS, 0, stream>>>(alpha, x, y, n);
    return cudaGetLastError();
}

/* Sum of the block's VGPU_THREADS values in s[], by a fixed tree; thread 0 gets it. */
__device__ static double vgpu_block_sum(double *s)
{
    for (unsigned half = VGPU_THREADS / 2; half > 0; half /= 2) {
        __syncthreads();
        if (threadIdx.x < half) {
            s[threadIdx.x] += s[threadIdx.x + half];
        }
    }
    return s[0];
}

__global__ static void vgpu_sum_partial_kernel(const float *x, uint64_t n, double *partials)
{
    __shared__ double s[VGPU_THREADS];
    double acc = 0.0;

    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (uint64_t)gridDim.x * blockDim.x) {
        acc += (double)x[i];        /* exact: a float converts to double without rounding */
    }
    s[threadIdx.x] = acc;
    acc = vgpu_block_sum(s);
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = acc;
    }
}

__global__ static void vgpu_sum_finish_kernel(const double *partials, double *acc)
{
    __shared__ double s[VGPU_THREADS];
    double v = 0.0;

    for (unsigned i = threadIdx.x; i < VGPU_CUDA_SUM_BLOCKS; i += VGPU_THREADS) {
        v += partials[i];
    }
    s[threadIdx.x] = v;
    v = vgpu_block_sum(s);
    if (threadIdx.x == 0) {
        *acc += v;
    }
}

extern "C" cudaError_t vgpu_cuda_launch_sum_f32(const float *x, uint64_t n, double *partials,
                                                double *acc, cudaStream_t stream)
{
    cudaError_t e;

    vgpu_sum_partial_kernel<<<VGPU_CUDA_SUM_BLOCKS, VGPU_THREADS, 0, stream>>>(x, n, partials);
    if ((e = cudaGetLastError()) != cudaSuccess) {
        return e;
    }
    vgpu_sum_finish_kernel<<<1, VGPU_THREADS, 0, stream>>>(partials, acc);
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
