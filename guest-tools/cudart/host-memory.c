/*
 * Page-locked host memory.  cudaMallocHost and cudaHostAlloc give memory
 * of the data window's heap: the host copies from and to it in place, so
 * those copies cost no copy in the guest.  cudaHostRegister cannot move
 * ordinary memory into the window: a registered range is remembered (for
 * NVIDIA's errors) and its copies are staged like any ordinary memory's,
 * with the same results.
 */
#include <stdlib.h>

#include "runtime.h"
#include "window-heap.h"

#define HOST_ALLOC_FLAGS    (cudaHostAllocPortable | cudaHostAllocMapped | \
                             cudaHostAllocWriteCombined)
#define HOST_REGISTER_FLAGS (cudaHostRegisterPortable | cudaHostRegisterMapped | \
                             cudaHostRegisterIoMemory | cudaHostRegisterReadOnly)

struct registered_range {
    uintptr_t start;
    size_t size;
};

static struct registered_range *registered;
static size_t registered_count, registered_cap;

static cudaError_t host_alloc(void **pointer, size_t size)
{
    struct cudart_heap *heap;
    uint64_t offset;
    cudaError_t e = cudart_session_open();

    if (e != cudaSuccess) {
        return e;
    }
    heap = cudart_session_heap();
    if (!cudart_heap_alloc(heap, size, &offset)) {
        cudart_say("%s: %zu bytes of pinned memory do not fit the data window's heap "
                   "(%llu bytes free): give the VM a larger window", cudart_api(), size,
                   (unsigned long long)heap->free_bytes);
        return cudaErrorMemoryAllocation;
    }
    *pointer = cudart_window_at(offset);
    return cudaSuccess;
}

CUDART_API cudaError_t cudaHostAlloc(void **pointer, size_t size, unsigned int flags)
{
    cudaError_t e;

    if (!pointer || (flags & ~HOST_ALLOC_FLAGS)) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_enter(__func__);
    if (e == cudaSuccess && size == 0) {
        *pointer = NULL;
    } else if (e == cudaSuccess) {
        e = host_alloc(pointer, size);
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaMallocHost(void **pointer, size_t size)
{
    cudaError_t e;

    if (!pointer) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_enter(__func__);
    if (e == cudaSuccess && size == 0) {
        *pointer = NULL;
    } else if (e == cudaSuccess) {
        e = host_alloc(pointer, size);
    }
    return cudart_leave(e);
}

/* As NVIDIA's, it waits for the device: a copy may still use the memory. */
CUDART_API cudaError_t cudaFreeHost(void *pointer)
{
    struct cudart_heap *heap;
    uint64_t offset;
    cudaError_t e = cudart_enter(__func__);

    if (e != cudaSuccess || !pointer) {
        return cudart_leave(e);
    }
    heap = cudart_session_heap();
    if (!heap || !cudart_window_holds(pointer, 0, &offset)) {
        return cudart_leave(cudaErrorInvalidValue);
    }
    if (cudart_work_pending()) {
        e = cudart_run(VGPU_CUDA_DEVICE_SYNCHRONIZE, NULL, NULL, 0, NULL);
    }
    if (e == cudaSuccess && !cudart_heap_free(heap, offset)) {
        e = cudaErrorInvalidValue;
    }
    return cudart_leave(e);
}

static bool registered_overlaps(uintptr_t start, size_t size)
{
    for (size_t i = 0; i < registered_count; i++) {
        const struct registered_range *r = &registered[i];

        if (start < r->start + r->size && r->start < start + size) {
            return true;
        }
    }
    return false;
}

CUDART_API cudaError_t cudaHostRegister(void *pointer, size_t size, unsigned int flags)
{
    uintptr_t start = (uintptr_t)pointer;
    uint64_t offset;
    cudaError_t e;

    if (!pointer || size == 0 || size > UINTPTR_MAX - start ||
        (flags & ~HOST_REGISTER_FLAGS)) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    if (flags & cudaHostRegisterIoMemory) {
        cudart_say("cudaHostRegister: cudaHostRegisterIoMemory is not supported "
                   "(cudaErrorNotSupported)");
        return cudart_refuse(cudaErrorNotSupported);
    }
    e = cudart_enter(__func__);
    if (e != cudaSuccess) {
        return cudart_leave(e);
    }
    if (cudart_window_holds(pointer, size, &offset) || registered_overlaps(start, size)) {
        return cudart_leave(cudaErrorHostMemoryAlreadyRegistered);
    }
    if (registered_count == registered_cap) {
        size_t new_cap = registered_cap ? 2 * registered_cap : 16;
        struct registered_range *grown = realloc(registered, new_cap * sizeof(*grown));

        if (!grown) {
            return cudart_leave(cudaErrorMemoryAllocation);
        }
        registered = grown;
        registered_cap = new_cap;
    }
    registered[registered_count++] = (struct registered_range){ start, size };
    return cudart_leave(cudaSuccess);
}

CUDART_API cudaError_t cudaHostUnregister(void *pointer)
{
    cudaError_t e = cudart_enter(__func__);

    if (e != cudaSuccess) {
        return cudart_leave(e);
    }
    for (size_t i = 0; i < registered_count; i++) {
        if (registered[i].start == (uintptr_t)pointer) {
            registered[i] = registered[--registered_count];
            return cudart_leave(cudaSuccess);
        }
    }
    return cudart_leave(cudaErrorHostMemoryNotRegistered);
}
