/*
 * The guest's CUDA runtime (libcudart.so.13): what its parts share.
 *
 * Every API call runs under one process-wide lock (cudart_enter/leave),
 * talks to the host through the session's batch (session.c) and keeps the
 * guest's view of what the host gave it: device ranges (allocations.c),
 * streams and events (handles.c), fat binaries, kernels and variables
 * (registry.c).  NVIDIA's cuda_runtime_api.h gives the exact types; none
 * of NVIDIA's code is linked.  docs/cuda.md describes the model.
 */
#ifndef CUDART_RUNTIME_H
#define CUDART_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "vgpu/cuda.h"

/* What the library exports (everything else is hidden, see cudart.mk). */
#define CUDART_API __attribute__((visibility("default")))

/* ---- errors.c: the lock around every call, last and sticky errors ---- */

/* Take the lock; returns the sticky error (cudaSuccess without one). */
cudaError_t cudart_enter(const char *api);
/* Release the lock; error becomes this thread's last error (not NotReady). */
cudaError_t cudart_leave(cudaError_t error);
/* An argument refused before the lock: recorded like cudart_leave's. */
cudaError_t cudart_refuse(cudaError_t error);
/* The API call this thread is in, for messages ("cudaMalloc"). */
const char *cudart_api(void);
/* A line on stderr: "libcudart (vgpu-stub): " and the message. */
void cudart_say(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* A host error: sticky ones stick; the ones that mean "no GPU here" are said once. */
void cudart_host_error(cudaError_t error);
void cudart_set_sticky(cudaError_t error);
/* cudaDeviceReset: no sticky error, and none last in this thread. */
void cudart_clear_sticky(void);

/* ---- session.c: the device, the window and the batch ---- */

/* Connect on first use (device, window, its lock).  cudaErrorNoDevice and
 * a message when there is no usable device; the same answer every time. */
cudaError_t cudart_session_open(void);
/* Append a call that needs no answer now; flushes first when the batch is full. */
cudaError_t cudart_defer(uint32_t call, const uint64_t *words, const void *tail,
                         size_t tail_len);
/* Append a call and run the batch; out gets the call's outputs (may be NULL). */
cudaError_t cudart_run(uint32_t call, const uint64_t *words, const void *tail, size_t tail_len,
                       uint64_t out[2]);
/* Run what is batched, if anything. */
cudaError_t cudart_flush(void);
/* Whether calls were deferred since the device was last synchronized. */
bool cudart_work_pending(void);

/*
 * Staging: window space for bytes that live in ordinary memory.  Take up
 * to want bytes (at least min(want, the staging size)), contiguous, at
 * *offset; *got says how many.  A synchronous user runs its batch before
 * it takes again; a deferred copy from staging calls
 * cudart_staging_in_flight(), and the space is reused only after the
 * device was synchronized.
 */
cudaError_t cudart_staging_take(uint64_t want, uint64_t *offset, uint64_t *got);
/*
 * How much of a large copy goes at once: a quarter of staging, so that
 * copying one piece in or out of staging overlaps the host's DMA of another.
 */
#define CUDART_STAGING_PIECES 4u
uint64_t cudart_staging_piece(void);

/* ---- parallel-copy.c: large copies to and from staging on several threads ---- */
void cudart_parallel_copy(void *dst, const void *src, size_t len);
void cudart_staging_in_flight(void);

/* The window's bytes at offset. */
unsigned char *cudart_window_at(uint64_t offset);
/* Whether [p, p + len) lies in the window's heap (pinned host memory); its offset. */
bool cudart_window_holds(const void *p, size_t len, uint64_t *offset);
/* The heap of pinned host memory (window-heap.h), NULL before the session opens. */
struct cudart_heap *cudart_session_heap(void);

/* ---- allocations.c: device ranges the host gave this program ---- */

void cudart_device_range_add(uint64_t base, uint64_t size, bool freeable);
/* Remove a freeable range by its base; false when there is none. */
bool cudart_device_range_remove(uint64_t base);
/* Whether [p, p + len) lies inside one range (len 0: p inside or at its end). */
bool cudart_device_range_holds(uint64_t p, uint64_t len);
void cudart_device_ranges_clear(void);

/* ---- handles.c: streams and events ---- */

enum cudart_handle_kind { CUDART_STREAM, CUDART_EVENT };
bool cudart_handle_known(enum cudart_handle_kind kind, uint64_t handle);
void cudart_handles_clear(void);
/* Create one through the host (call with flags, waits for the handle), under the lock. */
cudaError_t cudart_handle_create(const char *api, enum cudart_handle_kind kind, uint32_t call,
                                 uint64_t flags, uint64_t *handle);
/* Forget one and append its destruction, under the lock; NVIDIA's error for an unknown one. */
cudaError_t cudart_handle_destroy(const char *api, enum cudart_handle_kind kind, uint32_t call,
                                  uint64_t handle);
/* The host's word for a stream (0 for the default streams); cudaErrorInvalidResourceHandle. */
cudaError_t cudart_stream_word(cudaStream_t stream, uint64_t *word);

/* ---- registry.c: fat binaries, kernels and variables ---- */

struct cudart_function;
/* The registered kernel of a host stub, NULL for none. */
struct cudart_function *cudart_function_of(const void *host_function);
/* Whether a cudaKernel_t is one this library gave out. */
struct cudart_function *cudart_function_checked(const void *kernel);
/* Load its module and learn its handle and parameter layout (cached). */
cudaError_t cudart_function_resolve(struct cudart_function *function, uint64_t *handle,
                                    const uint32_t **layout, uint32_t *param_count,
                                    uint32_t *packed_size);
/* A registered variable's device address and size (cudaErrorInvalidSymbol). */
cudaError_t cudart_variable_resolve(const void *host_variable, uint64_t *address,
                                    uint64_t *size);
/* After cudaDeviceReset: every module must be loaded again. */
void cudart_registry_forget_host(void);

/* ---- memory.c: copies, shared by the symbol calls ---- */

/* cudaMemcpy(Async) after the lock; async says which. */
cudaError_t cudart_memcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind,
                          cudaStream_t stream, bool async);

#endif /* CUDART_RUNTIME_H */
