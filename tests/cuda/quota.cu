// quota: GPU memory is bounded, cudaMemGetInfo says how far, and running
// out is an ordinary, recoverable error.
//
// A test program of issue 14 (tests/cuda/cuda-check.h says what its output
// and exit status mean).  It checks cudaMemGetInfo's total against the one
// expected (a VM's quota, or the GPU's memory natively), allocates chunks
// of total/CHUNKS bytes until cudaMalloc fails, which must be with
// cudaErrorMemoryAllocation before the total is exceeded (the error is the
// last error, and cudaGetLastError clears it), then frees one chunk and
// allocates it again.  The numbers, which depend on the GPU or the quota,
// go to stderr; stdout says only what held.
//
//   quota [TOTAL]      TOTAL: the bytes cudaMemGetInfo's total must be
//                      (without it, that check is left out and says so)
#include "cuda-check.h"

#define CHUNKS      64              /* total / CHUNKS per allocation */
#define MAX_CHUNKS  (4 * CHUNKS)    /* a quota that never says no ends the loop */
#define MIN_CHUNK   (1ull << 20)
#define USAGE       "[TOTAL > 0]"

int main(int argc, char **argv)
{
    check_start("quota");
    if (argc > 2) {
        check_usage(USAGE);
    }
    unsigned long long expected = argc > 1 ? (unsigned long long)check_count_arg(argv[1], USAGE) : 0;

    size_t free_bytes = 0, total = 0;
    CHECK_CUDA(cudaMemGetInfo(&free_bytes, &total));
    fprintf(stderr, "quota: cudaMemGetInfo: free %zu of %zu bytes\n", free_bytes, total);
    if (expected) {
        if (!check_that(total == expected, "cudaMemGetInfo's total is the expected total")) {
            fprintf(stderr, "quota: total %zu, expected %llu\n", total, expected);
        }
    } else {
        printf("quota: cudaMemGetInfo's total: no expected total given, not checked\n");
    }
    check_that(total > 0 && free_bytes <= total, "cudaMemGetInfo: free is at most total");

    size_t chunk = total / CHUNKS;
    chunk -= chunk % MIN_CHUNK;
    if (chunk < MIN_CHUNK) {
        chunk = MIN_CHUNK;
    }
    void *chunks[MAX_CHUNKS];
    int held = 0;
    cudaError_t refused = cudaSuccess;
    while (held < MAX_CHUNKS) {
        refused = cudaMalloc(&chunks[held], chunk);
        if (refused != cudaSuccess) {
            break;
        }
        held++;
    }
    unsigned long long allocated = (unsigned long long)held * chunk;
    fprintf(stderr, "quota: %d chunks of %zu bytes (%llu bytes) allocated, then %s\n", held,
            chunk, allocated, cudaGetErrorName(refused));
    if (!check_that(refused == cudaErrorMemoryAllocation,
                    "allocating chunks of total/%d until cudaMalloc fails: "
                    "cudaErrorMemoryAllocation", CHUNKS)) {
        fprintf(stderr, "quota: the allocations ended with %s: %s\n", cudaGetErrorName(refused),
                cudaGetErrorString(refused));
    }
    check_that(held > 0 && allocated <= total, "it failed before the total was exceeded");
    cudaError_t last = cudaGetLastError(), cleared = cudaGetLastError();
    check_that(last == refused && cleared == cudaSuccess,
               "cudaGetLastError returns the failure once, then cudaSuccess");

    size_t free_full = 0, total_full = 0;
    CHECK_CUDA(cudaMemGetInfo(&free_full, &total_full));
    fprintf(stderr, "quota: cudaMemGetInfo when full: free %zu of %zu bytes\n", free_full,
            total_full);
    check_that(total_full == total && free_full < free_bytes,
               "cudaMemGetInfo when full: the same total, less free");

    if (held > 0) {
        CHECK_CUDA(cudaFree(chunks[held - 1]));
        CHECK_CUDA(cudaMalloc(&chunks[held - 1], chunk));
        check_that(true, "after freeing one chunk, allocating it again");
    }
    for (int i = 0; i < held; i++) {
        CHECK_CUDA(cudaFree(chunks[i]));
    }
    size_t free_after = 0;
    CHECK_CUDA(cudaMemGetInfo(&free_after, &total));
    fprintf(stderr, "quota: cudaMemGetInfo after freeing everything: free %zu bytes\n", free_after);
    check_that(free_after > free_full, "cudaMemGetInfo after freeing everything: more free");
    return check_finish();
}
