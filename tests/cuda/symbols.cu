// symbols: __device__ and __constant__ variables, reached through
// cudaMemcpyToSymbol/FromSymbol (and their Async forms), cudaGetSymbolAddress
// and cudaGetSymbolSize, and by a kernel.
//
// A test program of issue 14 (tests/cuda/cuda-check.h says what its output
// and exit status mean).  The kernel reads the coefficients of a
// __constant__ array, transforms a __device__ table with them and counts
// its threads in a __device__ counter; every value is checked on the host.
//
//   symbols
#include "cuda-check.h"

#define TABLE       256
#define LAUNCHES    3

__constant__ float coeffs[4];          // scale, offset, unused, bias
__device__ float table[TABLE];
__device__ unsigned int counter;

__global__ void apply(void)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;

    if (i < TABLE) {
        table[i] = table[i] * coeffs[0] + coeffs[1] + coeffs[3];
        atomicAdd(&counter, 1u);
    }
}

int main(int argc, char **argv)
{
    (void)argv;
    check_start("symbols");
    if (argc > 1) {
        check_usage("");
    }

    size_t size = 0;
    CHECK_CUDA(cudaGetSymbolSize(&size, coeffs));
    check_that(size == sizeof(float) * 4, "cudaGetSymbolSize of a __constant__ float[4]: 16");
    CHECK_CUDA(cudaGetSymbolSize(&size, table));
    check_that(size == sizeof(float) * TABLE, "cudaGetSymbolSize of a __device__ float[%d]: %d",
               TABLE, (int)sizeof(float) * TABLE);
    CHECK_CUDA(cudaGetSymbolSize(&size, counter));
    check_that(size == sizeof(unsigned int), "cudaGetSymbolSize of a __device__ unsigned int: 4");

    // Coefficients in two writes: the whole array, then one element at an offset.
    const float first[4] = { 2.0f, 1.0f, 99.0f, 0.0f }, bias = 0.5f;
    float host[TABLE], back[TABLE];
    unsigned int zero = 0, count = 0;
    CHECK_CUDA(cudaMemcpyToSymbol(coeffs, first, sizeof(first)));
    CHECK_CUDA(cudaMemcpyToSymbol(coeffs, &bias, sizeof(bias), 3 * sizeof(float)));
    for (int i = 0; i < TABLE; i++) {
        host[i] = (float)i;
    }
    CHECK_CUDA(cudaMemcpyToSymbol(table, host, sizeof(host)));
    CHECK_CUDA(cudaMemcpyToSymbol(counter, &zero, sizeof(zero)));

    float read_coeffs[4];
    CHECK_CUDA(cudaMemcpyFromSymbol(read_coeffs, coeffs, sizeof(read_coeffs)));
    check_that(read_coeffs[0] == 2.0f && read_coeffs[1] == 1.0f && read_coeffs[2] == 99.0f &&
               read_coeffs[3] == 0.5f,
               "cudaMemcpyFromSymbol gives back the __constant__ values, the one written "
               "at an offset too");

    for (int l = 0; l < LAUNCHES; l++) {
        apply<<<(TABLE + 63) / 64, 64>>>();
        check_cuda_call(cudaGetLastError(), "apply<<<>>>");
    }
    CHECK_CUDA(cudaDeviceSynchronize());
    CHECK_CUDA(cudaMemcpyFromSymbol(&count, counter, sizeof(count)));
    check_that(count == TABLE * LAUNCHES, "the kernel counted its threads in the __device__ "
               "variable: %d launches of %d", LAUNCHES, TABLE);

    // Each launch: x -> 2x + 1.5.
    float want[TABLE];
    for (int i = 0; i < TABLE; i++) {
        want[i] = (float)i;
        for (int l = 0; l < LAUNCHES; l++) {
            want[i] = want[i] * 2.0f + 1.5f;
        }
    }
    CHECK_CUDA(cudaMemcpyFromSymbol(back, table, sizeof(back)));
    check_that(!memcmp(back, want, sizeof(want)),
               "the kernel transformed the __device__ table with the __constant__ coefficients");

    // The table by its address: an ordinary device pointer.
    void *address = NULL;
    float by_address[TABLE];
    CHECK_CUDA(cudaGetSymbolAddress(&address, table));
    CHECK_CUDA(cudaMemcpy(by_address, address, sizeof(by_address), cudaMemcpyDeviceToHost));
    check_that(address != NULL && !memcmp(by_address, want, sizeof(want)),
               "cudaGetSymbolAddress: a cudaMemcpy from that address reads the table");

    // Device to device: the table's second half onto its first, by symbol.
    CHECK_CUDA(cudaMemcpyToSymbol(table, (float *)address + TABLE / 2,
                                  sizeof(float) * (TABLE / 2), 0, cudaMemcpyDeviceToDevice));
    CHECK_CUDA(cudaMemcpyFromSymbol(back, table, sizeof(float) * (TABLE / 2)));
    check_that(!memcmp(back, want + TABLE / 2, sizeof(float) * (TABLE / 2)),
               "cudaMemcpyToSymbol from device memory (cudaMemcpyDeviceToDevice)");

    // The Async forms on a stream of its own, into and out of pinned memory.
    cudaStream_t stream;
    float *pinned, *pinned_back;
    CHECK_CUDA(cudaStreamCreate(&stream));
    CHECK_CUDA(cudaMallocHost(&pinned, sizeof(float) * TABLE));
    // Results land elsewhere: an async copy may still read pinned until the stream syncs.
    CHECK_CUDA(cudaMallocHost(&pinned_back, sizeof(float) * TABLE));
    for (int i = 0; i < TABLE; i++) {
        pinned[i] = (float)(TABLE - i);
    }
    const float async_coeffs[4] = { -1.0f, 3.0f, 0.0f, 0.25f };
    CHECK_CUDA(cudaMemcpyToSymbolAsync(coeffs, async_coeffs, sizeof(async_coeffs), 0,
                                       cudaMemcpyHostToDevice, stream));
    CHECK_CUDA(cudaMemcpyToSymbolAsync(table, pinned, sizeof(float) * TABLE, 0,
                                       cudaMemcpyHostToDevice, stream));
    CHECK_CUDA(cudaMemcpyToSymbolAsync(counter, &zero, sizeof(zero), 0, cudaMemcpyHostToDevice,
                                       stream));
    apply<<<(TABLE + 63) / 64, 64, 0, stream>>>();
    check_cuda_call(cudaGetLastError(), "apply<<<>>> on the stream");
    memset(pinned_back, 0, sizeof(float) * TABLE);
    count = 0;
    CHECK_CUDA(cudaMemcpyFromSymbolAsync(pinned_back, table, sizeof(float) * TABLE, 0,
                                         cudaMemcpyDeviceToHost, stream));
    CHECK_CUDA(cudaMemcpyFromSymbolAsync(&count, counter, sizeof(count), 0,
                                         cudaMemcpyDeviceToHost, stream));
    CHECK_CUDA(cudaStreamSynchronize(stream));
    int right = 0;
    for (int i = 0; i < TABLE; i++) {
        right += pinned_back[i] == (float)(TABLE - i) * -1.0f + 3.0f + 0.25f;
    }
    check_that(right == TABLE && count == TABLE,
               "cudaMemcpyToSymbolAsync and FromSymbolAsync on a stream, around a launch on it");

    CHECK_CUDA(cudaFreeHost(pinned));
    CHECK_CUDA(cudaFreeHost(pinned_back));
    CHECK_CUDA(cudaStreamDestroy(stream));
    return check_finish();
}
