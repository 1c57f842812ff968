/*
 * __device__ and __constant__ variables by their host shadow:
 * cudaMemcpyToSymbol/FromSymbol (and Async), cudaGetSymbolAddress and
 * cudaGetSymbolSize.  The host locates a variable by name (registry.c);
 * a copy is then an ordinary copy to or from that address, inside the
 * variable's size.
 */
#include "runtime.h"

/* The variable's address at offset, with count bytes inside it. */
static cudaError_t symbol_range(const void *symbol, size_t count, size_t offset, void **at)
{
    uint64_t address, size;
    cudaError_t e = cudart_variable_resolve(symbol, &address, &size);

    if (e != cudaSuccess) {
        return e;
    }
    if (offset > size || count > size - offset) {
        return cudaErrorInvalidValue;
    }
    *at = (void *)(uintptr_t)(address + offset);
    return cudaSuccess;
}

static cudaError_t to_symbol(const char *api, const void *symbol, const void *src, size_t count,
                             size_t offset, enum cudaMemcpyKind kind, cudaStream_t stream,
                             bool async)
{
    cudaError_t e = cudart_enter(api);
    void *dst;

    if (e == cudaSuccess && kind != cudaMemcpyHostToDevice && kind != cudaMemcpyDeviceToDevice &&
        kind != cudaMemcpyDefault) {
        e = cudaErrorInvalidMemcpyDirection;
    }
    if (e == cudaSuccess) {
        e = symbol_range(symbol, count, offset, &dst);
    }
    if (e == cudaSuccess) {
        e = cudart_memcpy(dst, src, count, kind, stream, async);
    }
    return cudart_leave(e);
}

static cudaError_t from_symbol(const char *api, void *dst, const void *symbol, size_t count,
                               size_t offset, enum cudaMemcpyKind kind, cudaStream_t stream,
                               bool async)
{
    cudaError_t e = cudart_enter(api);
    void *src;

    if (e == cudaSuccess && kind != cudaMemcpyDeviceToHost && kind != cudaMemcpyDeviceToDevice &&
        kind != cudaMemcpyDefault) {
        e = cudaErrorInvalidMemcpyDirection;
    }
    if (e == cudaSuccess) {
        e = symbol_range(symbol, count, offset, &src);
    }
    if (e == cudaSuccess) {
        e = cudart_memcpy(dst, src, count, kind, stream, async);
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaMemcpyToSymbol(const void *symbol, const void *src, size_t count,
                                          size_t offset, enum cudaMemcpyKind kind)
{
    return to_symbol(__func__, symbol, src, count, offset, kind, NULL, false);
}

CUDART_API cudaError_t cudaMemcpyToSymbol_ptds(const void *symbol, const void *src, size_t count,
                                               size_t offset, enum cudaMemcpyKind kind)
{
    return to_symbol(__func__, symbol, src, count, offset, kind, cudaStreamPerThread, false);
}

CUDART_API cudaError_t cudaMemcpyToSymbolAsync(const void *symbol, const void *src,
                                               size_t count, size_t offset,
                                               enum cudaMemcpyKind kind, cudaStream_t stream)
{
    return to_symbol(__func__, symbol, src, count, offset, kind, stream, true);
}

CUDART_API cudaError_t cudaMemcpyToSymbolAsync_ptsz(const void *symbol, const void *src,
                                                    size_t count, size_t offset,
                                                    enum cudaMemcpyKind kind, cudaStream_t stream)
{
    return to_symbol(__func__, symbol, src, count, offset, kind, stream, true);
}

CUDART_API cudaError_t cudaMemcpyFromSymbol(void *dst, const void *symbol, size_t count,
                                            size_t offset, enum cudaMemcpyKind kind)
{
    return from_symbol(__func__, dst, symbol, count, offset, kind, NULL, false);
}

CUDART_API cudaError_t cudaMemcpyFromSymbol_ptds(void *dst, const void *symbol, size_t count,
                                                 size_t offset, enum cudaMemcpyKind kind)
{
    return from_symbol(__func__, dst, symbol, count, offset, kind, cudaStreamPerThread, false);
}

CUDART_API cudaError_t cudaMemcpyFromSymbolAsync(void *dst, const void *symbol, size_t count,
                                                 size_t offset, enum cudaMemcpyKind kind,
                                                 cudaStream_t stream)
{
    return from_symbol(__func__, dst, symbol, count, offset, kind, stream, true);
}

CUDART_API cudaError_t cudaMemcpyFromSymbolAsync_ptsz(void *dst, const void *symbol,
                                                      size_t count, size_t offset,
                                                      enum cudaMemcpyKind kind,
                                                      cudaStream_t stream)
{
    return from_symbol(__func__, dst, symbol, count, offset, kind, stream, true);
}

CUDART_API cudaError_t cudaGetSymbolAddress(void **address, const void *symbol)
{
    cudaError_t e;
    void *at;

    if (!address) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_enter(__func__);
    if (e == cudaSuccess) {
        e = symbol_range(symbol, 0, 0, &at);
    }
    if (e == cudaSuccess) {
        *address = at;
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaGetSymbolSize(size_t *size, const void *symbol)
{
    uint64_t address, bytes;
    cudaError_t e;

    if (!size) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_enter(__func__);
    if (e == cudaSuccess) {
        e = cudart_variable_resolve(symbol, &address, &bytes);
    }
    if (e == cudaSuccess) {
        *size = bytes;
    }
    return cudart_leave(e);
}
