// matmul-tiled: C = A x B for N x N floats with a tiled kernel that stages
// TILE x TILE blocks of A and B in shared memory, checked against the CPU.
//
// A test program of issue 14 (tests/cuda/cuda-check.h says what its output
// and exit status mean).  The entries are small multiples of 1/4, so every
// product and partial sum is exact in float for N up to 2^16: the GPU's
// result must equal the CPU's whatever the order of the additions (the
// check still allows 1e-3 of slack).  Up to FULL_CHECK_MAX every entry is
// checked; above it a fixed sample of SAMPLE_ENTRIES (the corners, the
// last row and column, and pseudo-random ones).  C is filled with NaN
// before the copy back, so a kernel that never ran cannot pass.
//
//   matmul-tiled [N]           N x N (default 512)
//   matmul-tiled --time [N]    also the GPU time (default N 4096) on stderr:
//                              best of TIME_RUNS after one warm-up
#include <cmath>

#include "cuda-check.h"

#define TILE            16
#define FULL_CHECK_MAX  512
#define SAMPLE_ENTRIES  4096
#define TIME_RUNS       5
#define TOLERANCE       1e-3
#define USAGE           "[--time] [N > 0]"

__global__ void matmul_tiled(const float *a, const float *b, float *c, int n)
{
    __shared__ float ta[TILE][TILE];
    __shared__ float tb[TILE][TILE];
    int row = blockIdx.y * TILE + threadIdx.y;
    int col = blockIdx.x * TILE + threadIdx.x;
    float sum = 0.0f;

    for (int t = 0; t < n; t += TILE) {
        int ac = t + threadIdx.x, br = t + threadIdx.y;

        ta[threadIdx.y][threadIdx.x] = row < n && ac < n ? a[(size_t)row * n + ac] : 0.0f;
        tb[threadIdx.y][threadIdx.x] = br < n && col < n ? b[(size_t)br * n + col] : 0.0f;
        __syncthreads();
        for (int k = 0; k < TILE; k++) {
            sum += ta[threadIdx.y][k] * tb[k][threadIdx.x];
        }
        __syncthreads();
    }
    if (row < n && col < n) {
        c[(size_t)row * n + col] = sum;
    }
}

// Entries in -2 .. 2 in steps of 1/4.
static float entry(int i, int j, int salt)
{
    return (float)((i * 7 + j * 3 + salt) % 17 - 8) * 0.25f;
}

static double reference(const float *a, const float *b, int n, int row, int col)
{
    double sum = 0.0;

    for (int k = 0; k < n; k++) {
        sum += (double)a[(size_t)row * n + k] * b[(size_t)k * n + col];
    }
    return sum;
}

int main(int argc, char **argv)
{
    bool timing = argc > 1 && !strcmp(argv[1], "--time");
    int argi = timing ? 2 : 1;

    check_start("matmul-tiled");
    if (argc > argi + 1) {
        check_usage(USAGE);
    }
    long long nl = argc > argi ? check_count_arg(argv[argi], USAGE) : (timing ? 4096 : 512);
    if (nl > 65536) {
        check_usage(USAGE " (N at most 65536)");
    }
    int n = (int)nl;
    size_t bytes = (size_t)n * n * sizeof(float);
    float *a = (float *)check_malloc(bytes), *b = (float *)check_malloc(bytes);
    float *c = (float *)check_malloc(bytes);

    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            a[(size_t)i * n + j] = entry(i, j, 0);
            b[(size_t)i * n + j] = entry(j, i, 5);
            c[(size_t)i * n + j] = NAN;
        }
    }

    float *da, *db, *dc;
    cudaEvent_t start, stop;
    dim3 block(TILE, TILE), grid((n + TILE - 1) / TILE, (n + TILE - 1) / TILE);

    CHECK_CUDA(cudaMalloc(&da, bytes));
    CHECK_CUDA(cudaMalloc(&db, bytes));
    CHECK_CUDA(cudaMalloc(&dc, bytes));
    CHECK_CUDA(cudaEventCreate(&start));
    CHECK_CUDA(cudaEventCreate(&stop));
    CHECK_CUDA(cudaMemcpy(dc, c, bytes, cudaMemcpyHostToDevice));   // NaN: nothing stale

    // One run is the whole program's work; --time repeats it and keeps the best.
    double best_wall_us = 0;
    float best_kernel_ms = 0;
    for (int run = 0; run < (timing ? 1 + TIME_RUNS : 1); run++) {
        double t0 = check_now_us();
        float kernel_ms;

        CHECK_CUDA(cudaMemcpy(da, a, bytes, cudaMemcpyHostToDevice));
        CHECK_CUDA(cudaMemcpy(db, b, bytes, cudaMemcpyHostToDevice));
        CHECK_CUDA(cudaEventRecord(start, 0));
        matmul_tiled<<<grid, block>>>(da, db, dc, n);
        check_cuda_call(cudaGetLastError(), "matmul_tiled<<<>>>");
        CHECK_CUDA(cudaEventRecord(stop, 0));
        CHECK_CUDA(cudaMemcpy(c, dc, bytes, cudaMemcpyDeviceToHost));
        double wall_us = check_now_us() - t0;
        CHECK_CUDA(cudaEventElapsedTime(&kernel_ms, start, stop));
        if (run > 0 || !timing) {
            if (best_wall_us == 0 || wall_us < best_wall_us) {
                best_wall_us = wall_us;
            }
            if (best_kernel_ms == 0 || kernel_ms < best_kernel_ms) {
                best_kernel_ms = kernel_ms;
            }
        }
    }

    long long checked = 0, wrong = 0;
    bool full = n <= FULL_CHECK_MAX;
    long long entries = full ? (long long)n * n : SAMPLE_ENTRIES;
    unsigned int lcg = 12345;
    for (long long e = 0; e < entries; e++) {
        int row, col;

        if (full) {
            row = (int)(e / n);
            col = (int)(e % n);
        } else if (e < 4) {                                 // the corners
            row = e & 1 ? n - 1 : 0;
            col = e & 2 ? n - 1 : 0;
        } else if (e < 4 + 64) {                            // the last row and column
            row = e & 1 ? n - 1 : (int)((e * 131) % n);
            col = e & 1 ? (int)((e * 137) % n) : n - 1;
        } else {
            lcg = lcg * 1103515245u + 12345u;
            row = (int)((lcg >> 8) % (unsigned)n);
            lcg = lcg * 1103515245u + 12345u;
            col = (int)((lcg >> 8) % (unsigned)n);
        }
        double want = reference(a, b, n, row, col);
        float got = c[(size_t)row * n + col];
        checked++;
        if (!(fabs(got - want) <= TOLERANCE)) {
            if (wrong++ < 5) {
                fprintf(stderr, "matmul-tiled: C[%d][%d] = %g, expected %g\n", row, col, got,
                        want);
            }
        }
    }
    check_that(wrong == 0, "%dx%d, tiles of %dx%d: %lld entries of C (%s) equal the CPU's", n, n,
               TILE, TILE, checked, full ? "all" : "a sample");
    if (timing) {
        double flops = 2.0 * n * n * (double)n;
        fprintf(stderr, "matmul-tiled: N=%d kernel_ms=%.3f wall_ms=%.3f kernel_gflops=%.1f "
                "(best of %d; wall: copies in, kernel, copy out)\n", n, best_kernel_ms,
                best_wall_us / 1e3, flops / (best_kernel_ms * 1e6), TIME_RUNS);
    }
    CHECK_CUDA(cudaEventDestroy(start));
    CHECK_CUDA(cudaEventDestroy(stop));
    CHECK_CUDA(cudaFree(da));
    CHECK_CUDA(cudaFree(db));
    CHECK_CUDA(cudaFree(dc));
    free(a);
    free(b);
    free(c);
    return check_finish();
}
