// vector-add: c = a + b on the GPU, checked element by element on the host.
//
// A test program of issue 14, built with `nvcc -cudart shared` so that it
// runs on NVIDIA's runtime natively and on the guest's libcudart.so.13 in a
// VM.  It checks every CUDA call and its own result: a call that fails ends
// it with the call and the error's name on stderr (exit 1), a wrong sum
// with the first wrong element (exit 2).  Output is filled with NaN before
// the copy back, so a kernel that never ran cannot pass.
//
//   vector-add [N]      N elements (default 1048576)
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <cuda_runtime.h>

__global__ void vector_add(const float *a, const float *b, float *c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;

    if (i < n) {
        c[i] = a[i] + b[i];
    }
}

static void check(cudaError_t e, const char *call)
{
    if (e != cudaSuccess) {
        fprintf(stderr, "vector-add: %s: %s: %s\n", call, cudaGetErrorName(e),
                cudaGetErrorString(e));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1 << 20;
    int devices = 0;

    if (n <= 0) {
        fprintf(stderr, "usage: vector-add [N > 0]\n");
        return 64;
    }
    check(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
    size_t bytes = (size_t)n * sizeof(float);
    float *a = (float *)malloc(bytes), *b = (float *)malloc(bytes), *c = (float *)malloc(bytes);
    if (!a || !b || !c) {
        fprintf(stderr, "vector-add: out of host memory for %d elements\n", n);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        a[i] = (float)(i % 1000) * 0.5f;
        b[i] = (float)(i % 7) - 3.0f;
        c[i] = NAN;
    }
    float *da, *db, *dc;
    check(cudaMalloc(&da, bytes), "cudaMalloc");
    check(cudaMalloc(&db, bytes), "cudaMalloc");
    check(cudaMalloc(&dc, bytes), "cudaMalloc");
    check(cudaMemcpy(da, a, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to the device");
    check(cudaMemcpy(db, b, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to the device");
    vector_add<<<(n + 255) / 256, 256>>>(da, db, dc, n);
    check(cudaGetLastError(), "vector_add<<<>>>");
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    check(cudaMemcpy(c, dc, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to the host");
    for (int i = 0; i < n; i++) {
        if (c[i] != a[i] + b[i]) {
            fprintf(stderr, "vector-add: wrong at %d of %d: got %g, expected %g + %g = %g\n",
                    i, n, c[i], a[i], b[i], a[i] + b[i]);
            return 2;
        }
    }
    check(cudaFree(da), "cudaFree");
    check(cudaFree(db), "cudaFree");
    check(cudaFree(dc), "cudaFree");
    printf("vector-add: %d elements on %d device(s), check ok\n", n, devices);
    free(a);
    free(b);
    free(c);
    return 0;
}
