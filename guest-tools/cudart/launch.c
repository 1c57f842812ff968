/*
 * Kernel launches.  For `kernel<<<grid, block, shared, stream>>>(args)`
 * nvcc 13 emits __cudaPushCallConfiguration, then in the kernel's stub
 * __cudaGetKernel (once) and __cudaPopCallConfiguration, then
 * __cudaLaunchKernel with the addresses of the arguments; cudaLaunchKernel
 * names the kernel by its stub instead.  Each launch packs the arguments
 * at the offsets the host gave for the kernel (registry.c) and is
 * appended to the batch: launches never wait for the host.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define CONFIG_DEPTH 32     /* configurations pushed and not yet popped, per thread */

struct call_config {
    dim3 grid, block;
    size_t shared;
    cudaStream_t stream;
};

static __thread struct call_config configs[CONFIG_DEPTH];
static __thread unsigned config_depth;

CUDART_API unsigned __cudaPushCallConfiguration(dim3 grid, dim3 block, size_t shared,
                                                struct CUstream_st *stream)
{
    if (config_depth == CONFIG_DEPTH) {
        cudart_refuse(cudaErrorInvalidConfiguration);
        return 1;       /* nvcc's code then skips the launch */
    }
    configs[config_depth++] = (struct call_config){ grid, block, shared, stream };
    return 0;
}

CUDART_API cudaError_t __cudaPopCallConfiguration(dim3 *grid, dim3 *block, size_t *shared,
                                                  void *stream)
{
    struct call_config *c;

    if (config_depth == 0) {
        return cudart_refuse(cudaErrorMissingConfiguration);
    }
    c = &configs[--config_depth];
    *grid = c->grid;
    *block = c->block;
    *shared = c->shared;
    *(cudaStream_t *)stream = c->stream;
    return cudaSuccess;
}

CUDART_API cudaError_t __cudaGetKernel(cudaKernel_t *kernel, const void *host_function)
{
    struct cudart_function *f;

    cudart_enter(__func__);
    f = cudart_function_of(host_function);
    cudart_leave(cudaSuccess);
    if (!f) {
        return cudart_refuse(cudaErrorInvalidDeviceFunction);
    }
    *kernel = (cudaKernel_t)f;
    return cudaSuccess;
}

/* Pack the arguments at the host's offsets and append the launch. */
static cudaError_t launch(struct cudart_function *f, dim3 grid, dim3 block, void **args,
                          size_t shared, cudaStream_t stream)
{
    uint32_t param_count, packed_size;
    const uint32_t *layout;
    uint64_t words[6];
    unsigned char *packed;
    cudaError_t e;

    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || block.x == 0 || block.y == 0 ||
        block.z == 0) {
        return cudaErrorInvalidConfiguration;
    }
    e = cudart_stream_word(stream, &words[5]);
    if (e != cudaSuccess) {
        return e;
    }
    e = cudart_function_resolve(f, &words[0], &layout, &param_count, &packed_size);
    if (e != cudaSuccess) {
        return e;
    }
    if (param_count > 0 && !args) {
        return cudaErrorInvalidValue;
    }
    packed = calloc(1, packed_size ? packed_size : 1);
    if (!packed) {
        return cudaErrorMemoryAllocation;
    }
    for (uint32_t i = 0; i < param_count; i++) {
        memcpy(packed + layout[2 * i], args[i], layout[2 * i + 1]);
    }
    words[1] = grid.x | (uint64_t)grid.y << 32;
    words[2] = grid.z | (uint64_t)block.x << 32;
    words[3] = block.y | (uint64_t)block.z << 32;
    words[4] = shared;
    e = cudart_defer(VGPU_CUDA_LAUNCH, words, packed, packed_size);
    free(packed);
    return e;
}

/* A launch of f (NULL: not a registered kernel) under the lock. */
static cudaError_t launch_checked(const char *api, struct cudart_function *(*find)(const void *),
                                  const void *kernel, dim3 grid, dim3 block, void **args,
                                  size_t shared, cudaStream_t stream)
{
    cudaError_t e = cudart_enter(api);
    struct cudart_function *f;

    if (e == cudaSuccess) {
        f = find(kernel);
        e = f ? launch(f, grid, block, args, shared, stream) : cudaErrorInvalidDeviceFunction;
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t __cudaLaunchKernel(cudaKernel_t kernel, dim3 grid, dim3 block,
                                          void **args, size_t shared, cudaStream_t stream)
{
    return launch_checked(__func__, cudart_function_checked, kernel, grid, block, args, shared,
                          stream);
}

CUDART_API cudaError_t __cudaLaunchKernel_ptsz(cudaKernel_t kernel, dim3 grid, dim3 block,
                                               void **args, size_t shared, cudaStream_t stream)
{
    return launch_checked(__func__, cudart_function_checked, kernel, grid, block, args, shared,
                          stream);
}

CUDART_API cudaError_t cudaLaunchKernel(const void *function, dim3 grid, dim3 block,
                                        void **args, size_t shared, cudaStream_t stream)
{
    return launch_checked(__func__, cudart_function_of, function, grid, block, args, shared,
                          stream);
}

CUDART_API cudaError_t cudaLaunchKernel_ptsz(const void *function, dim3 grid, dim3 block,
                                             void **args, size_t shared, cudaStream_t stream)
{
    return launch_checked(__func__, cudart_function_of, function, grid, block, args, shared,
                          stream);
}
