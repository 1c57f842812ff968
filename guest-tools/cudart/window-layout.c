/*
 * The window's regions: see window-layout.h.
 */
#include "vgpu/cuda.h"
#include "window-layout.h"

static uint64_t align_down(uint64_t v)
{
    return v & ~(uint64_t)(CUDART_REGION_ALIGN - 1);
}

bool cudart_layout_compute(uint64_t window_size, struct cudart_layout *layout)
{
    uint64_t batch, staging;

    if (window_size < CUDART_WINDOW_MIN) {
        return false;
    }
    /* An eighth for the batch (up to its maximum), a quarter for staging
     * (up to 64 MiB: larger copies are chunked anyway), the rest is heap. */
    batch = align_down(window_size / 8);
    if (batch > VGPU_CUDA_BATCH_MAX) {
        batch = VGPU_CUDA_BATCH_MAX;
    }
    staging = align_down(window_size / 4);
    if (staging > CUDART_STAGING_MAX) {
        staging = CUDART_STAGING_MAX;
    }
    layout->batch_offset = 0;
    layout->batch_size = batch;
    layout->staging_offset = batch;
    layout->staging_size = staging;
    layout->heap_offset = batch + staging;
    layout->heap_size = window_size - batch - staging;
    return true;
}
