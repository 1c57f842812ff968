/*
 * The streams and events the host created for this program.  A handle is
 * the host's value, passed through as the cudaStream_t or cudaEvent_t;
 * one the guest never got from the host is refused before it is sent.
 */
#include <stdlib.h>

#include "runtime.h"

struct handle_set {
    uint64_t *items;
    size_t count, cap;
};

static struct handle_set sets[2];       /* enum cudart_handle_kind */

static void handle_add(enum cudart_handle_kind kind, uint64_t handle)
{
    struct handle_set *set = &sets[kind];

    if (set->count == set->cap) {
        size_t new_cap = set->cap ? 2 * set->cap : 32;
        uint64_t *grown = realloc(set->items, new_cap * sizeof(*grown));

        if (!grown) {
            return;     /* unknown to the guest: later uses are refused, never wrong */
        }
        set->items = grown;
        set->cap = new_cap;
    }
    set->items[set->count++] = handle;
}

static size_t handle_index(const struct handle_set *set, uint64_t handle)
{
    size_t i;

    for (i = 0; i < set->count && set->items[i] != handle; i++) {
    }
    return i;
}

static bool handle_remove(enum cudart_handle_kind kind, uint64_t handle)
{
    struct handle_set *set = &sets[kind];
    size_t i = handle_index(set, handle);

    if (i == set->count) {
        return false;
    }
    set->items[i] = set->items[--set->count];
    return true;
}

bool cudart_handle_known(enum cudart_handle_kind kind, uint64_t handle)
{
    return handle_index(&sets[kind], handle) < sets[kind].count;
}

void cudart_handles_clear(void)
{
    sets[CUDART_STREAM].count = 0;
    sets[CUDART_EVENT].count = 0;
}

cudaError_t cudart_stream_word(cudaStream_t stream, uint64_t *word)
{
    /* The legacy and per-thread default streams are both the host's default
     * stream: as ordered as the legacy one, never less (docs/cuda.md). */
    if (stream == NULL || stream == cudaStreamLegacy || stream == cudaStreamPerThread) {
        *word = 0;
        return cudaSuccess;
    }
    if (!cudart_handle_known(CUDART_STREAM, (uintptr_t)stream)) {
        return cudaErrorInvalidResourceHandle;
    }
    *word = (uintptr_t)stream;
    return cudaSuccess;
}

cudaError_t cudart_handle_create(const char *api, enum cudart_handle_kind kind, uint32_t call,
                                 uint64_t flags, uint64_t *handle)
{
    uint64_t out[2];
    cudaError_t e = cudart_enter(api);

    if (e == cudaSuccess) {
        e = cudart_run(call, &flags, NULL, 0, out);
    }
    if (e == cudaSuccess) {
        handle_add(kind, out[0]);
        *handle = out[0];
    }
    return cudart_leave(e);
}

cudaError_t cudart_handle_destroy(const char *api, enum cudart_handle_kind kind, uint32_t call,
                                  uint64_t handle)
{
    cudaError_t e = cudart_enter(api);

    if (e == cudaSuccess) {
        e = handle_remove(kind, handle) ? cudart_defer(call, &handle, NULL, 0)
                                        : cudaErrorInvalidResourceHandle;
    }
    return cudart_leave(e);
}
