// streams-reduction: the sum of N integers, split over several streams.
//
// A test program of issue 14 (tests/cuda/cuda-check.h says what its output
// and exit status mean).  Each stream, created with cudaStreamNonBlocking,
// copies its part from pinned memory (cudaMallocHost) with
// cudaMemcpyAsync, sums it in shared memory into its own partial, copies
// the partial back, and records an event before and after.  A last stream
// waits on every stream's last event (cudaStreamWaitEvent) and adds the
// partials: its total is right only if the waits ordered it after them.
// The sums are integers, checked exactly against the CPU's.  It also
// checks cudaStreamQuery and cudaEventQuery (cudaSuccess or
// cudaErrorNotReady while work may run, cudaSuccess after) and that each
// stream's cudaEventElapsedTime is positive and finite (the times go to
// stderr: they differ from run to run).
//
//   streams-reduction [N [STREAMS]]    N integers (default 4194304) over
//                                      STREAMS streams (default 4, at most 16)
#include <cmath>

#include "cuda-check.h"

#define MAX_STREAMS     16
#define BLOCK           256
#define MAX_BLOCKS      1024
#define USAGE           "[N > 0 [STREAMS 1..16]]"

typedef unsigned long long u64;

__global__ void reduce_sum(const unsigned int *in, size_t n, u64 *partial)
{
    __shared__ u64 sums[BLOCK];
    u64 sum = 0;

    for (size_t i = blockIdx.x * (size_t)BLOCK + threadIdx.x; i < n; i += (size_t)gridDim.x * BLOCK) {
        sum += in[i];
    }
    sums[threadIdx.x] = sum;
    __syncthreads();
    for (int half = BLOCK / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) {
            sums[threadIdx.x] += sums[threadIdx.x + half];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        atomicAdd(partial, sums[0]);
    }
}

__global__ void add_partials(const u64 *partials, int count, u64 *total)
{
    u64 sum = 0;

    for (int i = 0; i < count; i++) {
        sum += partials[i];
    }
    *total = sum;
}

static bool running_answer(cudaError_t e)
{
    return e == cudaSuccess || e == cudaErrorNotReady;
}

int main(int argc, char **argv)
{
    check_start("streams-reduction");
    if (argc > 3) {
        check_usage(USAGE);
    }
    size_t n = argc > 1 ? (size_t)check_count_arg(argv[1], USAGE) : (size_t)1 << 22;
    int count = argc > 2 ? (int)check_count_arg(argv[2], USAGE) : 4;
    if (count > MAX_STREAMS) {
        check_usage(USAGE);
    }

    unsigned int *h_in, *d_in;
    u64 *h_partials, *h_total, *d_partials, *d_total;
    cudaStream_t streams[MAX_STREAMS], join;
    cudaEvent_t start[MAX_STREAMS], stop[MAX_STREAMS], done;

    CHECK_CUDA(cudaMallocHost(&h_in, n * sizeof(*h_in)));
    CHECK_CUDA(cudaMallocHost(&h_partials, count * sizeof(*h_partials)));
    CHECK_CUDA(cudaMallocHost(&h_total, sizeof(*h_total)));
    CHECK_CUDA(cudaMalloc(&d_in, n * sizeof(*d_in)));
    CHECK_CUDA(cudaMalloc(&d_partials, count * sizeof(*d_partials)));
    CHECK_CUDA(cudaMalloc(&d_total, sizeof(*d_total)));
    for (int s = 0; s < count; s++) {
        CHECK_CUDA(cudaStreamCreateWithFlags(&streams[s], cudaStreamNonBlocking));
        CHECK_CUDA(cudaEventCreate(&start[s]));
        CHECK_CUDA(cudaEventCreateWithFlags(&stop[s], cudaEventDefault));
    }
    CHECK_CUDA(cudaStreamCreateWithFlags(&join, cudaStreamNonBlocking));
    CHECK_CUDA(cudaEventCreate(&done));

    u64 want_partials[MAX_STREAMS] = { 0 }, want_total = 0;
    for (size_t i = 0; i < n; i++) {
        h_in[i] = (unsigned int)((i * 2654435761u) % 1000003u);
    }
    for (int s = 0; s < count; s++) {
        size_t lo = n * s / count, hi = n * (s + 1) / count;

        for (size_t i = lo; i < hi; i++) {
            want_partials[s] += h_in[i];
        }
        want_total += want_partials[s];
        h_partials[s] = ~0ull;          // a copy back that never happened shows
    }
    *h_total = ~0ull;

    for (int s = 0; s < count; s++) {
        size_t lo = n * s / count, hi = n * (s + 1) / count, len = hi - lo;
        unsigned int blocks = (unsigned int)((len + BLOCK - 1) / BLOCK);

        if (blocks > MAX_BLOCKS) {
            blocks = MAX_BLOCKS;
        }
        if (blocks == 0) {
            blocks = 1;
        }
        CHECK_CUDA(cudaEventRecord(start[s], streams[s]));
        CHECK_CUDA(cudaMemcpyAsync(d_in + lo, h_in + lo, len * sizeof(*h_in),
                                   cudaMemcpyHostToDevice, streams[s]));
        CHECK_CUDA(cudaMemsetAsync(d_partials + s, 0, sizeof(*d_partials), streams[s]));
        reduce_sum<<<blocks, BLOCK, 0, streams[s]>>>(d_in + lo, len, d_partials + s);
        check_cuda_call(cudaGetLastError(), "reduce_sum<<<>>>");
        CHECK_CUDA(cudaMemcpyAsync(h_partials + s, d_partials + s, sizeof(*d_partials),
                                   cudaMemcpyDeviceToHost, streams[s]));
        CHECK_CUDA(cudaEventRecord(stop[s], streams[s]));
    }
    cudaError_t stream_running = cudaStreamQuery(streams[0]);
    cudaError_t event_running = cudaEventQuery(stop[count - 1]);

    for (int s = 0; s < count; s++) {
        CHECK_CUDA(cudaStreamWaitEvent(join, stop[s], 0));
    }
    add_partials<<<1, 1, 0, join>>>(d_partials, count, d_total);
    check_cuda_call(cudaGetLastError(), "add_partials<<<>>>");
    CHECK_CUDA(cudaMemcpyAsync(h_total, d_total, sizeof(*d_total), cudaMemcpyDeviceToHost, join));
    CHECK_CUDA(cudaEventRecord(done, join));
    CHECK_CUDA(cudaEventSynchronize(done));
    cudaError_t join_done = cudaStreamQuery(join), event_done = cudaEventQuery(done);
    cudaError_t streams_done = cudaSuccess;
    for (int s = 0; s < count; s++) {
        CHECK_CUDA(cudaStreamSynchronize(streams[s]));
        if (cudaStreamQuery(streams[s]) != cudaSuccess || cudaEventQuery(stop[s]) != cudaSuccess) {
            streams_done = cudaErrorNotReady;
        }
    }

    int right = 0, timed = 0;
    for (int s = 0; s < count; s++) {
        float ms = -1;

        right += h_partials[s] == want_partials[s];
        if (h_partials[s] != want_partials[s]) {
            fprintf(stderr, "streams-reduction: stream %d: partial %llu, expected %llu\n", s,
                    h_partials[s], want_partials[s]);
        }
        CHECK_CUDA(cudaEventElapsedTime(&ms, start[s], stop[s]));
        timed += ms > 0 && std::isfinite(ms);
        fprintf(stderr, "streams-reduction: stream %d: %.3f ms from its first event to its last\n",
                s, ms);
    }
    float all_ms = -1;
    CHECK_CUDA(cudaEventElapsedTime(&all_ms, start[0], done));
    fprintf(stderr, "streams-reduction: %.3f ms from stream 0's first event to the total\n",
            all_ms);

    printf("streams-reduction: %zu integers over %d streams\n", n, count);
    check_that(running_answer(stream_running) && running_answer(event_running),
               "cudaStreamQuery and cudaEventQuery while work may run: cudaSuccess or "
               "cudaErrorNotReady");
    check_that(join_done == cudaSuccess && event_done == cudaSuccess && streams_done == cudaSuccess,
               "cudaStreamQuery and cudaEventQuery once synchronized: cudaSuccess");
    check_that(right == count, "every stream's partial sum equals the CPU's");
    if (!check_that(*h_total == want_total,
                    "the total, after cudaStreamWaitEvent on every stream, equals the CPU's")) {
        fprintf(stderr, "streams-reduction: total %llu, expected %llu\n", *h_total, want_total);
    }
    check_that(timed == count, "every stream's cudaEventElapsedTime is positive and finite");
    check_that(all_ms > 0 && std::isfinite(all_ms),
               "cudaEventElapsedTime across streams is positive and finite");

    for (int s = 0; s < count; s++) {
        CHECK_CUDA(cudaEventDestroy(start[s]));
        CHECK_CUDA(cudaEventDestroy(stop[s]));
        CHECK_CUDA(cudaStreamDestroy(streams[s]));
    }
    CHECK_CUDA(cudaEventDestroy(done));
    CHECK_CUDA(cudaStreamDestroy(join));
    CHECK_CUDA(cudaFree(d_in));
    CHECK_CUDA(cudaFree(d_partials));
    CHECK_CUDA(cudaFree(d_total));
    CHECK_CUDA(cudaFreeHost(h_in));
    CHECK_CUDA(cudaFreeHost(h_partials));
    CHECK_CUDA(cudaFreeHost(h_total));
    return check_finish();
}
