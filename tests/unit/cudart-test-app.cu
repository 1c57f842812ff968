// The nvcc-built side of cudart-test: kernels and the host code nvcc
// generates for them (registration, <<<>>> launches), built with
// `nvcc -cudart shared` into a shared object the test loads, so that the
// guest's libcudart.so.13 is exercised by nvcc's real output.  The fake
// host (tests/unit/fake-cuda.h) knows these kernels by their mangled names.
#include <cuda_runtime.h>

__constant__ float scale;
__device__ unsigned int counter;

__global__ void vector_add(const float *a, const float *b, float *c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;

    if (i < n) {
        c[i] = a[i] + b[i];
    }
}

__global__ void empty_kernel() {}

__global__ void scale_by_constant(float *x, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;

    if (i < n) {
        x[i] *= scale;
    }
    if (i == 0) {
        atomicAdd(&counter, 1u);
    }
}

__global__ void out_of_bounds(int *p)
{
    p[1 << 30] = 1;
}

// Not known to the fake host: its lookup fails there.
__global__ void unknown_to_host(int x)
{
    (void)x;
}

extern "C" {

int app_vector_add(const float *a, const float *b, float *c, int n, cudaStream_t stream)
{
    vector_add<<<(n + 255) / 256, 256, 0, stream>>>(a, b, c, n);
    return cudaGetLastError();
}

// times launches of empty_kernel; the error of the last, as the program sees it.
int app_empty(int times, cudaStream_t stream)
{
    for (int i = 0; i < times; i++) {
        empty_kernel<<<1, 1, 0, stream>>>();
    }
    return cudaPeekAtLastError();
}

int app_empty_config(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                     unsigned bz, size_t shared, cudaStream_t stream)
{
    empty_kernel<<<dim3(gx, gy, gz), dim3(bx, by, bz), shared, stream>>>();
    return cudaGetLastError();
}

int app_scale_by_constant(float *x, int n)
{
    scale_by_constant<<<(n + 255) / 256, 256>>>(x, n);
    return cudaGetLastError();
}

int app_out_of_bounds(int *p)
{
    out_of_bounds<<<1, 1>>>(p);
    return cudaGetLastError();
}

int app_unknown_to_host(void)
{
    unknown_to_host<<<1, 1>>>(7);
    return cudaGetLastError();
}

const void *app_symbol_scale(void)
{
    return &scale;
}

const void *app_symbol_counter(void)
{
    return &counter;
}

const void *app_kernel_vector_add(void)
{
    return (const void *)vector_add;
}

}
