/*
 * The raw CUDA floor of one request: the CUDA backend's own kernel launch
 * and stream synchronize, in a tight loop, with no mediator around it.
 * `make bench` (on a GPU host) and `make gpu-test` report the mediator's
 * latency as a ratio to this, measured in the same run.
 *
 *   cuda-floor [-n ITERATIONS] [-d GPU]
 *
 * Prints one line: "cuda-floor gpu=NAME n=N p50_us=.. p99_us=.. min_us=..".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cuda_runtime_api.h>

#include "backend-cuda-kernels.h"

#define FLOOR_WARMUP 1000

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void check(cudaError_t e, const char *what)
{
    if (e != cudaSuccess) {
        fprintf(stderr, "cuda-floor: %s: %s\n", what, cudaGetErrorString(e));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int iterations = 20000, device = 0, opt;
    struct cudaDeviceProp prop;
    cudaStream_t stream;
    uint32_t *host, *mapped;
    double *lat;

    while ((opt = getopt(argc, argv, "n:d:")) != -1) {
        switch (opt) {
        case 'n':
            iterations = atoi(optarg);
            break;
        case 'd':
            device = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: cuda-floor [-n ITERATIONS] [-d GPU]\n");
            return 2;
        }
    }
    if (iterations < 1) {
        fprintf(stderr, "cuda-floor: -n must be at least 1\n");
        return 2;
    }
    /* The same context set-up as the backend (backend-cuda.c). */
    check(cudaSetDevice(device), "selecting the GPU");
    check(cudaSetDeviceFlags(cudaDeviceScheduleSpin | cudaDeviceMapHost), "device flags");
    check(cudaGetDeviceProperties(&prop, device), "device properties");
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
    check(cudaHostAlloc((void **)&host, 64, cudaHostAllocMapped), "pinned memory");
    check(cudaHostGetDevicePointer((void **)&mapped, host, 0), "mapping");
    lat = calloc((size_t)iterations, sizeof(*lat));

    for (int i = -FLOOR_WARMUP; i < iterations; i++) {
        uint32_t a = (uint32_t)i * 2654435761u, b = (uint32_t)i;
        double t0 = now_us();

        check(vgpu_cuda_launch_vector_add(a, b, mapped, 0, stream), "launch");
        check(cudaStreamSynchronize(stream), "synchronize");
        if (((volatile uint32_t *)host)[0] != a + b) {
            fprintf(stderr, "cuda-floor: wrong result at iteration %d\n", i);
            return 1;
        }
        if (i >= 0) {
            lat[i] = now_us() - t0;
        }
    }
    qsort(lat, (size_t)iterations, sizeof(*lat), compare_double);
    printf("cuda-floor gpu=\"%s\" n=%d p50_us=%.1f p99_us=%.1f min_us=%.1f\n", prop.name,
           iterations, lat[iterations / 2], lat[(size_t)(iterations * 0.99)], lat[0]);
    free(lat);
    return 0;
}
