// empty-launches: N back-to-back launches of an empty kernel, then one
// cudaDeviceSynchronize: what a launch costs (the benchmark of issue 14
// compares it native and remoted).
//
// A test program of issue 14 (tests/cuda/cuda-check.h says what its output
// and exit status mean).  An empty kernel cannot show that it ran, so after
// the timed launches a kernel that sets a __device__ flag runs and the flag
// is read back: a runtime that does not forward launches fails here.  One
// launch and synchronize before the timing loads the module.
//
//   empty-launches [--time] [N]    N launches (default 10000); --time prints
//                                  the wall time of the launches and the
//                                  synchronize, in microseconds, to stderr
#include "cuda-check.h"

#define USAGE   "[--time] [N > 0]"

__device__ int flag;

__global__ void empty(void)
{
}

__global__ void set_flag(int value)
{
    flag = value;
}

int main(int argc, char **argv)
{
    bool timing = argc > 1 && !strcmp(argv[1], "--time");
    int argi = timing ? 2 : 1;

    check_start("empty-launches");
    if (argc > argi + 1) {
        check_usage(USAGE);
    }
    long long n = argc > argi ? check_count_arg(argv[argi], USAGE) : 10000;

    empty<<<1, 1>>>();
    check_cuda_call(cudaGetLastError(), "empty<<<1, 1>>> (the first)");
    CHECK_CUDA(cudaDeviceSynchronize());

    double t0 = check_now_us();
    for (long long i = 0; i < n; i++) {
        empty<<<1, 1>>>();
    }
    check_cuda_call(cudaGetLastError(), "empty<<<1, 1>>>");
    CHECK_CUDA(cudaDeviceSynchronize());
    double us = check_now_us() - t0;
    if (timing) {
        fprintf(stderr, "empty-launches: launches=%lld wall_us=%.1f per_launch_us=%.3f\n", n, us,
                us / n);
    }
    check_that(true, "%lld launches of an empty kernel, then cudaDeviceSynchronize", n);

    int zero = 0, got = 0;
    CHECK_CUDA(cudaMemcpyToSymbol(flag, &zero, sizeof(zero)));
    set_flag<<<1, 1>>>(0x5eed);
    check_cuda_call(cudaGetLastError(), "set_flag<<<1, 1>>>");
    CHECK_CUDA(cudaMemcpyFromSymbol(&got, flag, sizeof(got)));
    check_that(got == 0x5eed, "a kernel after them ran: the __device__ flag it set reads back");
    return check_finish();
}
