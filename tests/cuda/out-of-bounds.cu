// out-of-bounds: a kernel that writes far outside its allocation must
// fault, the fault must reach the program, and after cudaDeviceReset the
// program must be able to compute again.
//
// A test program of issue 14 (tests/cuda/cuda-check.h says what its output
// and exit status mean); in a VM it is the one whose fault must stay in its
// VM.  The kernel stores FAR_BYTES past the end of a small allocation,
// where nothing is mapped; cudaDeviceSynchronize must return a kernel
// fault (cudaErrorIllegalAddress, or another error of a kernel that
// died: FAULTS below), whose name it prints.  It then reports what a later
// call returns (the fault is sticky), calls cudaDeviceReset and runs a
// small vector add, checked, and says whether that worked.  Some drivers
// keep a sticky error past cudaDeviceReset in the same process: that is
// reported on stdout, not assumed either way.
//
// Exit status: 3 when the fault came as expected (whatever came after the
// reset: read the stdout line); 1 when no fault came, another error came,
// or a call before the faulting launch failed.
//
//   out-of-bounds
#include "cuda-check.h"

#define EXIT_FAULTED    3
#define SMALL           1024
#define FAR_BYTES       (1ull << 40)    /* 1 TiB past the allocation */

static const cudaError_t FAULTS[] = {
    cudaErrorIllegalAddress, cudaErrorLaunchFailure, cudaErrorMisalignedAddress,
    cudaErrorInvalidAddressSpace, cudaErrorInvalidPc, cudaErrorHardwareStackError,
    cudaErrorIllegalInstruction,
};

__global__ void store_far(int *p, unsigned long long far_words)
{
    p[far_words + threadIdx.x] = 0x0badf00d;
}

__global__ void add_one(const int *in, int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;

    if (i < n) {
        out[i] = in[i] + 1;
    }
}

static bool is_fault(cudaError_t e)
{
    for (size_t i = 0; i < sizeof(FAULTS) / sizeof(FAULTS[0]); i++) {
        if (e == FAULTS[i]) {
            return true;
        }
    }
    return false;
}

// A small vector add after the reset; cudaSuccess or the first error (its
// call in *call), and *right whether the result was checked right.
static cudaError_t compute_again(const char **call, bool *right)
{
    int in[SMALL], out[SMALL];
    int *din = NULL, *dout = NULL;
    cudaError_t e;

    *right = false;
    for (int i = 0; i < SMALL; i++) {
        in[i] = i * 3;
        out[i] = -1;
    }
#define TRY(c)  do { e = (c); if (e != cudaSuccess) { *call = #c; return e; } } while (0)
    TRY(cudaMalloc(&din, sizeof(in)));
    TRY(cudaMalloc(&dout, sizeof(out)));
    TRY(cudaMemcpy(din, in, sizeof(in), cudaMemcpyHostToDevice));
    add_one<<<SMALL / 256, 256>>>(din, dout, SMALL);
    TRY(cudaGetLastError());
    TRY(cudaDeviceSynchronize());
    TRY(cudaMemcpy(out, dout, sizeof(out), cudaMemcpyDeviceToHost));
    TRY(cudaFree(din));
    TRY(cudaFree(dout));
#undef TRY
    *right = true;
    for (int i = 0; i < SMALL; i++) {
        *right = *right && out[i] == i * 3 + 1;
    }
    return cudaSuccess;
}

int main(int argc, char **argv)
{
    (void)argv;
    check_start("out-of-bounds");
    if (argc > 1) {
        check_usage("");
    }

    int *small;
    CHECK_CUDA(cudaMalloc(&small, SMALL * sizeof(int)));
    CHECK_CUDA(cudaMemset(small, 0, SMALL * sizeof(int)));
    CHECK_CUDA(cudaDeviceSynchronize());                  // anything wrong so far is not the fault
    store_far<<<1, 32>>>(small, FAR_BYTES / sizeof(int));
    cudaError_t launch = cudaGetLastError();
    cudaError_t fault = launch == cudaSuccess ? cudaDeviceSynchronize() : launch;

    printf("out-of-bounds: a store %llu bytes past a %zu-byte allocation: %s\n",
           FAR_BYTES, SMALL * sizeof(int), cudaGetErrorName(fault));
    if (!is_fault(fault)) {
        fprintf(stderr, "out-of-bounds: expected a kernel fault (cudaErrorIllegalAddress or "
                "the like) from %s, got %s: %s\n",
                launch == cudaSuccess ? "cudaDeviceSynchronize" : "the launch",
                cudaGetErrorName(fault), cudaGetErrorString(fault));
        printf("FAIL out-of-bounds: no kernel fault\n");
        return CHECK_EXIT_CUDA;
    }
    fprintf(stderr, "out-of-bounds: %s: %s (as expected)\n", cudaGetErrorName(fault),
            cudaGetErrorString(fault));

    // Sticky: a later call gets the fault too (reported, not required).
    void *later = NULL;
    cudaError_t after = cudaMalloc(&later, 16);
    printf("out-of-bounds: cudaMalloc after the fault: %s\n", cudaGetErrorName(after));

    cudaError_t reset = cudaDeviceReset();
    printf("out-of-bounds: cudaDeviceReset: %s\n", cudaGetErrorName(reset));
    // On stderr, not compared between runs: NVIDIA's runtime keeps a process's
    // context lost after such a fault, while vgpu-stub gives the VM a fresh one.
    const char *call = "";
    bool right = false;
    cudaError_t again = compute_again(&call, &right);
    if (again != cudaSuccess) {
        fprintf(stderr, "out-of-bounds: after cudaDeviceReset, a small computation: %s failed: "
                "%s\n", call, cudaGetErrorName(again));
    } else {
        fprintf(stderr, "out-of-bounds: after cudaDeviceReset, a small computation: %s\n",
                right ? "right" : "WRONG");
    }
    printf("FAULTED out-of-bounds\n");
    return EXIT_FAULTED;
}
