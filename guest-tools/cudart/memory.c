/*
 * Device memory: allocation, copies in every direction, memset, the
 * quota's free and total.
 *
 * A copy's host side is either pinned memory in the window's heap
 * (cudaMallocHost), which the host copies in place, or ordinary memory,
 * which goes through the staging area in pieces.  When a call waits is
 * NVIDIA's rule for each kind:
 *   host to device, ordinary: staged and appended; the call returns once
 *       the bytes are in staging (no round trip);
 *   host to device, pinned: cudaMemcpy waits for the copy, the Async form
 *       does not;
 *   device to host: cudaMemcpy waits; the Async form waits only for
 *       ordinary memory (the bytes must reach it), not for pinned;
 *   device to device, memset: appended, never waited for.
 */
#include <string.h>

#include "runtime.h"

CUDART_API cudaError_t cudaMalloc(void **pointer, size_t size)
{
    uint64_t words[1] = { size }, out[2];
    cudaError_t e;

    if (!pointer) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_enter(__func__);
    if (e == cudaSuccess && size == 0) {
        *pointer = NULL;
        return cudart_leave(cudaSuccess);
    }
    if (e == cudaSuccess) {
        e = cudart_run(VGPU_CUDA_MALLOC, words, NULL, 0, out);
    }
    if (e == cudaSuccess && out[0] == 0) {
        cudart_say("cudaMalloc: the host answered %zu bytes with a null pointer", size);
        e = cudaErrorUnknown;
    }
    if (e == cudaSuccess) {
        cudart_device_range_add(out[0], size, true);
        *pointer = (void *)(uintptr_t)out[0];
    }
    return cudart_leave(e);
}

/* As NVIDIA's, cudaFree waits for the device. */
CUDART_API cudaError_t cudaFree(void *pointer)
{
    uint64_t words[1] = { (uintptr_t)pointer };
    cudaError_t e = cudart_enter(__func__);

    if (e == cudaSuccess && pointer) {
        if (!cudart_device_range_holds(words[0], 0) || !cudart_device_range_remove(words[0])) {
            e = cudaErrorInvalidValue;
        } else {
            e = cudart_run(VGPU_CUDA_FREE, words, NULL, 0, NULL);
        }
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
    uint64_t out[2];
    cudaError_t e;

    if (!free_bytes || !total_bytes) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_enter(__func__);
    if (e == cudaSuccess) {
        e = cudart_run(VGPU_CUDA_MEM_GET_INFO, NULL, NULL, 0, out);
    }
    if (e == cudaSuccess) {
        *free_bytes = out[0];
        *total_bytes = out[1];
    }
    return cudart_leave(e);
}

/* Wait until the stream's work so far has finished (the batch runs). */
static cudaError_t stream_wait(uint64_t stream)
{
    return cudart_run(VGPU_CUDA_STREAM_SYNCHRONIZE, &stream, NULL, 0, NULL);
}

static cudaError_t copy_to_device(uint64_t dst, const unsigned char *src, size_t count,
                                  uint64_t stream, bool async)
{
    uint64_t words[4] = { dst, 0, 0, stream }, got;
    cudaError_t e;

    if (cudart_window_holds(src, count, &words[1])) {
        words[2] = count;
        e = cudart_defer(VGPU_CUDA_MEMCPY_HTOD, words, NULL, 0);
        return e != cudaSuccess || async ? e : stream_wait(stream);
    }
    /* In pieces, each sent as it is staged: the host's DMA of one piece
     * runs while the next is copied into staging. */
    while (count > 0) {
        e = cudart_staging_take(count < cudart_staging_piece() ? count : cudart_staging_piece(),
                                &words[1], &got);
        if (e != cudaSuccess) {
            return e;
        }
        cudart_parallel_copy(cudart_window_at(words[1]), src, got);
        words[0] = dst;
        words[2] = got;
        e = cudart_defer(VGPU_CUDA_MEMCPY_HTOD, words, NULL, 0);
        if (e != cudaSuccess) {
            return e;
        }
        cudart_staging_in_flight();
        dst += got;
        src += got;
        count -= got;
        if (count > 0 && (e = cudart_flush()) != cudaSuccess) {
            return e;
        }
    }
    return cudaSuccess;
}

static cudaError_t copy_to_host(unsigned char *dst, uint64_t src, size_t count,
                                uint64_t stream, bool async)
{
    uint64_t words[4] = { 0, src, 0, stream };
    cudaError_t e;

    if (cudart_window_holds(dst, count, &words[0])) {
        words[2] = count;
        e = cudart_defer(VGPU_CUDA_MEMCPY_DTOH, words, NULL, 0);
        return e != cudaSuccess || async ? e : stream_wait(stream);
    }
    /*
     * Ordinary memory: each piece lands in staging, then here.  Pieces
     * alternate between two halves of staging, and each batch waits for one
     * piece and starts the next one's DMA, which runs while this piece is
     * copied out.
     */
    uint64_t area, size, piece[2];
    size_t len[2] = { 0, 0 };
    unsigned k = 0;

    if (count == 0) {
        return cudaSuccess;
    }
    e = cudart_staging_take(cudart_staging_piece() * 2, &area, &size);
    if (e != cudaSuccess) {
        return e;
    }
    piece[0] = area;
    piece[1] = area + size / 2;
    for (; count > 0 || len[k] > 0; k ^= 1) {
        /* the next piece's DMA, into the other half */
        len[k ^ 1] = count < size / 2 ? count : size / 2;
        if (len[k ^ 1] > 0) {
            words[0] = piece[k ^ 1];
            words[1] = src;
            words[2] = len[k ^ 1];
            src += len[k ^ 1];
            count -= len[k ^ 1];
        }
        e = len[k] > 0 ? cudart_defer(VGPU_CUDA_STREAM_SYNCHRONIZE, &stream, NULL, 0)
                       : cudaSuccess;
        if (e == cudaSuccess && len[k ^ 1] > 0) {
            e = cudart_defer(VGPU_CUDA_MEMCPY_DTOH, words, NULL, 0);
        }
        if (e == cudaSuccess) {
            e = cudart_flush();
        }
        if (e != cudaSuccess) {
            return e;
        }
        cudart_parallel_copy(dst, cudart_window_at(piece[k]), len[k]);
        dst += len[k];
        len[k] = 0;
    }
    return cudaSuccess;
}

/* Host to host: after what the stream already does with either side. */
static cudaError_t copy_on_host(void *dst, const void *src, size_t count, uint64_t stream)
{
    cudaError_t e = cudart_work_pending() ? stream_wait(stream) : cudaSuccess;

    if (e == cudaSuccess) {
        memmove(dst, src, count);
    }
    return e;
}

/* cudaMemcpyDefault: a side is the device when it points into a device range. */
static enum cudaMemcpyKind copy_kind(const void *dst, const void *src)
{
    bool to_device = cudart_device_range_holds((uintptr_t)dst, 0);
    bool from_device = cudart_device_range_holds((uintptr_t)src, 0);

    if (to_device) {
        return from_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice;
    }
    return from_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost;
}

cudaError_t cudart_memcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind,
                          cudaStream_t stream, bool async)
{
    uint64_t stream_word, words[4];
    cudaError_t e;

    if ((unsigned)kind > cudaMemcpyDefault) {
        return cudaErrorInvalidMemcpyDirection;
    }
    e = cudart_stream_word(stream, &stream_word);
    if (e != cudaSuccess || count == 0) {
        return e;
    }
    if (!dst || !src) {
        return cudaErrorInvalidValue;
    }
    if (kind == cudaMemcpyDefault) {
        kind = copy_kind(dst, src);
    }
    /* The device side must be memory the host gave this program. */
    if (((kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice) &&
         !cudart_device_range_holds((uintptr_t)dst, count)) ||
        ((kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice) &&
         !cudart_device_range_holds((uintptr_t)src, count)) ||
        (kind == cudaMemcpyHostToHost && copy_kind(dst, src) != cudaMemcpyHostToHost)) {
        return cudaErrorInvalidValue;
    }
    switch (kind) {
    case cudaMemcpyHostToDevice:
        return copy_to_device((uintptr_t)dst, src, count, stream_word, async);
    case cudaMemcpyDeviceToHost:
        return copy_to_host(dst, (uintptr_t)src, count, stream_word, async);
    case cudaMemcpyDeviceToDevice:
        words[0] = (uintptr_t)dst;
        words[1] = (uintptr_t)src;
        words[2] = count;
        words[3] = stream_word;
        return cudart_defer(VGPU_CUDA_MEMCPY_DTOD, words, NULL, 0);
    default:
        return copy_on_host(dst, src, count, stream_word);
    }
}

static cudaError_t memcpy_call(const char *api, void *dst, const void *src, size_t count,
                               enum cudaMemcpyKind kind, cudaStream_t stream, bool async)
{
    cudaError_t e = cudart_enter(api);

    if (e == cudaSuccess) {
        e = cudart_memcpy(dst, src, count, kind, stream, async);
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaMemcpy(void *dst, const void *src, size_t count,
                                  enum cudaMemcpyKind kind)
{
    return memcpy_call(__func__, dst, src, count, kind, NULL, false);
}

CUDART_API cudaError_t cudaMemcpy_ptds(void *dst, const void *src, size_t count,
                                       enum cudaMemcpyKind kind)
{
    return memcpy_call(__func__, dst, src, count, kind, cudaStreamPerThread, false);
}

CUDART_API cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count,
                                       enum cudaMemcpyKind kind, cudaStream_t stream)
{
    return memcpy_call(__func__, dst, src, count, kind, stream, true);
}

CUDART_API cudaError_t cudaMemcpyAsync_ptsz(void *dst, const void *src, size_t count,
                                            enum cudaMemcpyKind kind, cudaStream_t stream)
{
    return memcpy_call(__func__, dst, src, count, kind, stream, true);
}

static cudaError_t memset_call(const char *api, void *dst, int value, size_t count,
                               cudaStream_t stream)
{
    uint64_t words[4] = { (uintptr_t)dst, (unsigned char)value, count, 0 };
    cudaError_t e = cudart_enter(api);

    if (e == cudaSuccess) {
        e = cudart_stream_word(stream, &words[3]);
    }
    if (e == cudaSuccess && count > 0) {
        e = cudart_device_range_holds(words[0], count)
                ? cudart_defer(VGPU_CUDA_MEMSET, words, NULL, 0)
                : cudaErrorInvalidValue;
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaMemset(void *dst, int value, size_t count)
{
    return memset_call(__func__, dst, value, count, NULL);
}

CUDART_API cudaError_t cudaMemset_ptds(void *dst, int value, size_t count)
{
    return memset_call(__func__, dst, value, count, cudaStreamPerThread);
}

CUDART_API cudaError_t cudaMemsetAsync(void *dst, int value, size_t count, cudaStream_t stream)
{
    return memset_call(__func__, dst, value, count, stream);
}

CUDART_API cudaError_t cudaMemsetAsync_ptsz(void *dst, int value, size_t count,
                                            cudaStream_t stream)
{
    return memset_call(__func__, dst, value, count, stream);
}
