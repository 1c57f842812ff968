/*
 * The CUDA driver stand-in of the VM worker's unit tests: see
 * fake-libcuda.h.  Functions keep cuda.h's names (its macros map them to
 * the _v2 symbols, as the worker is built against them).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda.h>

#include "fake-libcuda.h"

struct fake_libcuda fake_libcuda;
static unsigned char *arena;
static int objects;             /* what handles point at: their addresses are all that matter */

void fake_libcuda_reset(void)
{
    if (!arena) {
        arena = calloc(1, FAKE_LIBCUDA_ARENA);
    }
    memset(&fake_libcuda, 0, sizeof(fake_libcuda));
}

unsigned char *fake_libcuda_bytes(uint64_t address, uint64_t len)
{
    if (address < FAKE_LIBCUDA_BASE || address - FAKE_LIBCUDA_BASE > FAKE_LIBCUDA_ARENA ||
        len > FAKE_LIBCUDA_ARENA - (address - FAKE_LIBCUDA_BASE)) {
        return NULL;
    }
    return arena + (address - FAKE_LIBCUDA_BASE);
}

static CUresult counted(void)
{
    fake_libcuda.calls++;
    return CUDA_SUCCESS;
}

/* The next stream or event query: busy, then faulted, then done, as set. */
static CUresult query(void)
{
    struct timespec now;

    counted();
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec < fake_libcuda.busy_until_ns) {
        return CUDA_ERROR_NOT_READY;
    }
    if (fake_libcuda.busy_queries > 0) {
        fake_libcuda.busy_queries--;
        return CUDA_ERROR_NOT_READY;
    }
    if (fake_libcuda.fault_queries > 0) {
        fake_libcuda.fault_queries--;
        return CUDA_ERROR_ILLEGAL_ADDRESS;
    }
    return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize(void)
{
    return query();
}

CUresult cuStreamQuery(CUstream s)
{
    (void)s;
    return query();
}

CUresult cuEventQuery(CUevent e)
{
    (void)e;
    return query();
}

CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d)
{
    (void)d;
    *v = a == CU_DEVICE_ATTRIBUTE_WARP_SIZE ? 32 : 1000 + (int)a;
    return counted();
}

CUresult cuDeviceGetName(char *name, int len, CUdevice d)
{
    (void)d;
    strncpy(name, "fake GPU", (size_t)len);
    return counted();
}

CUresult cuMemGetInfo(size_t *free_bytes, size_t *total)
{
    *free_bytes = FAKE_LIBCUDA_MEMORY - fake_libcuda.arena_used;
    *total = FAKE_LIBCUDA_MEMORY;
    return counted();
}

CUresult cuModuleLoadData(CUmodule *m, const void *image)
{
    (void)image;
    *m = (CUmodule)&objects;
    return counted();
}

CUresult cuModuleUnload(CUmodule m)
{
    (void)m;
    return counted();
}

static const struct {
    const char *name;
    unsigned count;
    size_t layout[8];
} kernels[] = {
    { "add_one", 2, { 0, 8, 8, 4 } },
    { "scale_and_count", 4, { 0, 1, 8, 8, 16, 8, 24, 4 } },
};

CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name)
{
    (void)m;
    counted();
    for (unsigned i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++) {
        if (strcmp(kernels[i].name, name) == 0) {
            *f = (CUfunction)&kernels[i];
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_NOT_FOUND;
}

CUresult cuFuncGetParamInfo(CUfunction f, size_t index, size_t *offset, size_t *size)
{
    const typeof(kernels[0]) *k = (const void *)f;

    counted();
    if (index >= k->count) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    *offset = k->layout[2 * index];
    *size = k->layout[2 * index + 1];
    return CUDA_SUCCESS;
}

CUresult cuMemAlloc(CUdeviceptr *p, size_t size)
{
    uint64_t at = (fake_libcuda.arena_used + 255) & ~255ull;

    counted();
    if (size > FAKE_LIBCUDA_ARENA - at) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *p = FAKE_LIBCUDA_BASE + at;
    fake_libcuda.arena_used = at + size;
    return CUDA_SUCCESS;
}

CUresult cuModuleGetGlobal(CUdeviceptr *p, size_t *size, CUmodule m, const char *name)
{
    (void)m;
    if (strcmp(name, "counter") != 0) {
        counted();
        return CUDA_ERROR_NOT_FOUND;
    }
    *size = 4;
    return cuMemAlloc(p, 4);
}

CUresult cuMemFree(CUdeviceptr p)
{
    (void)p;
    return counted();
}

static CUresult copy(void *dst, const void *src, size_t n)
{
    counted();
    if (!dst || !src) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    memmove(dst, src, n);
    return CUDA_SUCCESS;
}

CUresult cuMemcpyHtoDAsync(CUdeviceptr dst, const void *src, size_t n, CUstream s)
{
    (void)s;
    return copy(fake_libcuda_bytes(dst, n), src, n);
}

CUresult cuMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t n, CUstream s)
{
    (void)s;
    return copy(dst, fake_libcuda_bytes(src, n), n);
}

CUresult cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    (void)s;
    return copy(fake_libcuda_bytes(dst, n), fake_libcuda_bytes(src, n), n);
}

CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t n, CUstream s)
{
    unsigned char *p = fake_libcuda_bytes(dst, n);

    (void)s;
    counted();
    if (!p) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    memset(p, value, n);
    return CUDA_SUCCESS;
}

CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                        unsigned by, unsigned bz, unsigned shared, CUstream s, void **params,
                        void **extra)
{
    (void)f; (void)gx; (void)gy; (void)gz; (void)bx; (void)by; (void)bz; (void)shared;
    (void)s; (void)params; (void)extra;
    fake_libcuda.launches++;
    return counted();
}

CUresult cuStreamCreate(CUstream *s, unsigned flags)
{
    (void)flags;
    *s = (CUstream)&objects;
    return counted();
}

CUresult cuStreamDestroy(CUstream s)
{
    (void)s;
    return counted();
}

CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned flags)
{
    (void)s; (void)e; (void)flags;
    return counted();
}

CUresult cuEventCreate(CUevent *e, unsigned flags)
{
    (void)flags;
    *e = (CUevent)&objects;
    return counted();
}

CUresult cuEventDestroy(CUevent e)
{
    (void)e;
    return counted();
}

CUresult cuEventRecord(CUevent e, CUstream s)
{
    (void)e; (void)s;
    return counted();
}

CUresult cuEventElapsedTime(float *ms, CUevent start, CUevent end)
{
    (void)start; (void)end;
    *ms = 1.5f;
    return counted();
}
