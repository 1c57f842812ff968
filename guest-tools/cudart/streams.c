/*
 * Streams: created and queried through the host, whose handles the
 * program holds.  Creating waits for the host (it needs the handle);
 * destroying and waiting on an event are appended; synchronize and query
 * run the batch.
 */
#include "runtime.h"

static cudaError_t stream_create(const char *api, cudaStream_t *stream, unsigned flags)
{
    uint64_t handle;
    cudaError_t e;

    if (!stream || (flags & ~(unsigned)cudaStreamNonBlocking)) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_handle_create(api, CUDART_STREAM, VGPU_CUDA_STREAM_CREATE, flags, &handle);
    if (e == cudaSuccess) {
        *stream = (cudaStream_t)(uintptr_t)handle;
    }
    return e;
}

CUDART_API cudaError_t cudaStreamCreate(cudaStream_t *stream)
{
    return stream_create(__func__, stream, cudaStreamDefault);
}

CUDART_API cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags)
{
    return stream_create(__func__, stream, flags);
}

/* The priority is a scheduling hint the host does not take yet (docs/cuda.md). */
CUDART_API cudaError_t cudaStreamCreateWithPriority(cudaStream_t *stream, unsigned int flags,
                                                    int priority)
{
    (void)priority;
    return stream_create(__func__, stream, flags);
}

CUDART_API cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
    return cudart_handle_destroy(__func__, CUDART_STREAM, VGPU_CUDA_STREAM_DESTROY,
                                 (uintptr_t)stream);
}

/* STREAM_SYNCHRONIZE or STREAM_QUERY of a stream, run now. */
static cudaError_t stream_run(const char *api, uint32_t call, cudaStream_t stream)
{
    uint64_t word;
    cudaError_t e = cudart_enter(api);

    if (e == cudaSuccess) {
        e = cudart_stream_word(stream, &word);
    }
    if (e == cudaSuccess) {
        e = cudart_run(call, &word, NULL, 0, NULL);
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
    return stream_run(__func__, VGPU_CUDA_STREAM_SYNCHRONIZE, stream);
}

CUDART_API cudaError_t cudaStreamSynchronize_ptsz(cudaStream_t stream)
{
    return stream_run(__func__, VGPU_CUDA_STREAM_SYNCHRONIZE, stream);
}

CUDART_API cudaError_t cudaStreamQuery(cudaStream_t stream)
{
    return stream_run(__func__, VGPU_CUDA_STREAM_QUERY, stream);
}

CUDART_API cudaError_t cudaStreamQuery_ptsz(cudaStream_t stream)
{
    return stream_run(__func__, VGPU_CUDA_STREAM_QUERY, stream);
}

static cudaError_t stream_wait_event(const char *api, cudaStream_t stream, cudaEvent_t event,
                                     unsigned flags)
{
    uint64_t words[2] = { 0, (uintptr_t)event };
    cudaError_t e;

    if (flags != cudaEventWaitDefault) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_enter(api);
    if (e == cudaSuccess) {
        e = cudart_stream_word(stream, &words[0]);
    }
    if (e == cudaSuccess) {
        e = cudart_handle_known(CUDART_EVENT, words[1])
                ? cudart_defer(VGPU_CUDA_STREAM_WAIT_EVENT, words, NULL, 0)
                : cudaErrorInvalidResourceHandle;
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event,
                                           unsigned int flags)
{
    return stream_wait_event(__func__, stream, event, flags);
}

CUDART_API cudaError_t cudaStreamWaitEvent_ptsz(cudaStream_t stream, cudaEvent_t event,
                                                unsigned int flags)
{
    return stream_wait_event(__func__, stream, event, flags);
}
