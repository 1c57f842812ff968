/*
 * Events: created through the host (their handles are the host's),
 * recorded and destroyed by appending to the batch, synchronized, queried
 * and timed by running it.
 */
#include <string.h>

#include "runtime.h"

#define EVENT_FLAGS (cudaEventBlockingSync | cudaEventDisableTiming | cudaEventInterprocess)

static cudaError_t event_create(const char *api, cudaEvent_t *event, unsigned flags)
{
    uint64_t handle;
    cudaError_t e;

    if (!event || (flags & ~(unsigned)EVENT_FLAGS)) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    if (flags & cudaEventInterprocess) {
        cudart_say("%s: cudaEventInterprocess is not supported (cudaErrorNotSupported)", api);
        return cudart_refuse(cudaErrorNotSupported);
    }
    e = cudart_handle_create(api, CUDART_EVENT, VGPU_CUDA_EVENT_CREATE, flags, &handle);
    if (e == cudaSuccess) {
        *event = (cudaEvent_t)(uintptr_t)handle;
    }
    return e;
}

CUDART_API cudaError_t cudaEventCreate(cudaEvent_t *event)
{
    return event_create(__func__, event, cudaEventDefault);
}

CUDART_API cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags)
{
    return event_create(__func__, event, flags);
}

CUDART_API cudaError_t cudaEventDestroy(cudaEvent_t event)
{
    return cudart_handle_destroy(__func__, CUDART_EVENT, VGPU_CUDA_EVENT_DESTROY,
                                 (uintptr_t)event);
}

static cudaError_t event_record(const char *api, cudaEvent_t event, cudaStream_t stream)
{
    uint64_t words[2] = { (uintptr_t)event, 0 };
    cudaError_t e = cudart_enter(api);

    if (e == cudaSuccess) {
        e = cudart_stream_word(stream, &words[1]);
    }
    if (e == cudaSuccess) {
        e = cudart_handle_known(CUDART_EVENT, words[0])
                ? cudart_defer(VGPU_CUDA_EVENT_RECORD, words, NULL, 0)
                : cudaErrorInvalidResourceHandle;
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream)
{
    return event_record(__func__, event, stream);
}

CUDART_API cudaError_t cudaEventRecord_ptsz(cudaEvent_t event, cudaStream_t stream)
{
    return event_record(__func__, event, stream);
}

/* A call on known events, run now; out may be NULL. */
static cudaError_t event_run(const char *api, uint32_t call, const uint64_t *words,
                             unsigned count, uint64_t out[2])
{
    cudaError_t e = cudart_enter(api);

    for (unsigned i = 0; i < count && e == cudaSuccess; i++) {
        if (!cudart_handle_known(CUDART_EVENT, words[i])) {
            e = cudaErrorInvalidResourceHandle;
        }
    }
    if (e == cudaSuccess) {
        e = cudart_run(call, words, NULL, 0, out);
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaEventSynchronize(cudaEvent_t event)
{
    uint64_t word = (uintptr_t)event;

    return event_run(__func__, VGPU_CUDA_EVENT_SYNCHRONIZE, &word, 1, NULL);
}

CUDART_API cudaError_t cudaEventQuery(cudaEvent_t event)
{
    uint64_t word = (uintptr_t)event;

    return event_run(__func__, VGPU_CUDA_EVENT_QUERY, &word, 1, NULL);
}

CUDART_API cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)
{
    uint64_t words[2] = { (uintptr_t)start, (uintptr_t)end }, out[2];
    uint32_t bits;
    cudaError_t e;

    if (!ms) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = event_run(__func__, VGPU_CUDA_EVENT_ELAPSED, words, 2, out);
    if (e == cudaSuccess) {
        bits = (uint32_t)out[0];
        memcpy(ms, &bits, sizeof(*ms));
    }
    return e;
}
