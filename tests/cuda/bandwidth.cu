// bandwidth: copies host to device and device to host, from and to
// pageable memory (malloc), pinned memory (cudaMallocHost) and ordinary
// heap memory (posix_memalign: page-aligned, as NVIDIA's samples give
// cudaHostRegister) pinned with cudaHostRegister, each round trip checked.
//
// A test program of issue 14 (tests/cuda/cuda-check.h says what its output
// and exit status mean).  For each kind of host memory: fill one buffer
// with a pattern, copy it to the device (cudaMemcpy), overwrite it, copy
// it back, and check every word; then time REPEATS copies each way and
// keep the best.  The one host buffer per kind serves both directions, so
// a guest needs SIZE bytes of pinned memory, not twice that.  The
// bandwidths go to stderr (they differ from run to run), or with --time
// to stdout, for the benchmarks.
//
//   bandwidth [--time] [SIZE]     SIZE bytes per copy (default 64 MiB),
//                                 a multiple of 4
#include "cuda-check.h"

#define REPEATS     5
#define PAGE        4096
#define USAGE       "[--time] [SIZE > 0, a multiple of 4]"

enum kind { PAGEABLE, PINNED, REGISTERED };
static const char *const kind_names[] = { "pageable", "pinned (cudaMallocHost)",
                                          "registered (cudaHostRegister)" };
static const char *const kind_short[] = { "pageable", "pinned", "registered" };

static unsigned int pattern(size_t i, unsigned int salt)
{
    return (unsigned int)(i * 2654435761u) ^ salt;
}

// GB/s (10^9 bytes) of the fastest of REPEATS copies.
static double best_rate(void *dst, const void *src, size_t size, enum cudaMemcpyKind dir)
{
    double best_us = 0;

    for (int r = 0; r < REPEATS; r++) {
        double t0 = check_now_us();

        CHECK_CUDA(cudaMemcpy(dst, src, size, dir));
        double us = check_now_us() - t0;
        if (best_us == 0 || us < best_us) {
            best_us = us;
        }
    }
    return best_us > 0 ? size / (best_us * 1e3) : 0;
}

int main(int argc, char **argv)
{
    bool timing = argc > 1 && !strcmp(argv[1], "--time");
    int argi = timing ? 2 : 1;

    check_start("bandwidth");
    if (argc > argi + 1) {
        check_usage(USAGE);
    }
    size_t size = argc > argi ? (size_t)check_count_arg(argv[argi], USAGE) : (size_t)64 << 20;
    if (size % 4) {
        check_usage(USAGE);
    }
    size_t words = size / 4;
    FILE *rates = timing ? stdout : stderr;
    void *device;

    CHECK_CUDA(cudaMalloc(&device, size));
    printf("bandwidth: %zu bytes per copy\n", size);
    for (int k = PAGEABLE; k <= REGISTERED; k++) {
        unsigned int *host;

        if (k == PINNED) {
            CHECK_CUDA(cudaMallocHost(&host, size));
        } else if (k == REGISTERED) {
            host = (unsigned int *)check_malloc_aligned(PAGE, size);
            CHECK_CUDA(cudaHostRegister(host, size, cudaHostRegisterDefault));
        } else {
            host = (unsigned int *)check_malloc(size);
        }
        for (size_t i = 0; i < words; i++) {
            host[i] = pattern(i, k);
        }
        CHECK_CUDA(cudaMemcpy(device, host, size, cudaMemcpyHostToDevice));
        memset(host, 0xa5, size);
        CHECK_CUDA(cudaMemcpy(host, device, size, cudaMemcpyDeviceToHost));
        size_t wrong = 0;
        for (size_t i = 0; i < words; i++) {
            if (host[i] != pattern(i, k) && wrong++ == 0) {
                fprintf(stderr, "bandwidth: %s: word %zu came back as 0x%08x, not 0x%08x\n",
                        kind_names[k], i, host[i], pattern(i, k));
            }
        }
        check_that(wrong == 0, "%s memory to the device and back: every word came back",
                   kind_names[k]);

        double h2d = best_rate(device, host, size, cudaMemcpyHostToDevice);
        double d2h = best_rate(host, device, size, cudaMemcpyDeviceToHost);
        fprintf(rates, "bandwidth: %s host_to_device_GBps=%.2f device_to_host_GBps=%.2f "
                "(%zu bytes, best of %d)\n", kind_short[k], h2d, d2h, size, REPEATS);

        if (k == REGISTERED) {
            CHECK_CUDA(cudaHostUnregister(host));
        }
        if (k == PINNED) {
            CHECK_CUDA(cudaFreeHost(host));
        } else {
            free(host);
        }
    }
    CHECK_CUDA(cudaFree(device));
    return check_finish();
}
