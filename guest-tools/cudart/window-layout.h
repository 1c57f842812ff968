/*
 * How the guest's CUDA runtime divides the data window:
 *
 *   [ batch | staging | heap ]
 *
 * batch:   the calls being written (at most VGPU_CUDA_BATCH_MAX bytes);
 * staging: bytes of ordinary memory on their way to or from the device,
 *          and the host's answers that do not fit a record (device
 *          properties, parameter layouts) and the fat binaries it loads;
 * heap:    cudaMallocHost/cudaHostAlloc memory, which the host copies
 *          from and to in place.
 */
#ifndef CUDART_WINDOW_LAYOUT_H
#define CUDART_WINDOW_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#define CUDART_WINDOW_MIN       (1ull << 20)    /* smaller windows are refused */
#define CUDART_STAGING_MAX      (64ull << 20)
#define CUDART_REGION_ALIGN     4096u

struct cudart_layout {
    uint64_t batch_offset, batch_size;
    uint64_t staging_offset, staging_size;
    uint64_t heap_offset, heap_size;
};

/* The layout of a window of window_size bytes; false when it is under CUDART_WINDOW_MIN. */
bool cudart_layout_compute(uint64_t window_size, struct cudart_layout *layout);

#endif /* CUDART_WINDOW_LAYOUT_H */
