/*
 * The lock every call takes, the last error of each thread, the sticky
 * error of the process, and the names and strings of every cudaError_t.
 *
 * As NVIDIA's runtime: every failed call becomes its thread's last error
 * (cudaErrorNotReady, which is no error, does not); cudaGetLastError
 * returns and clears it, cudaPeekAtLastError only returns it.  A sticky
 * error (a kernel that faulted: the host's context is lost) is returned by
 * every later call and by both of those until cudaDeviceReset.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "error-table.h"
#include "runtime.h"
#include "unsupported.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static cudaError_t sticky_error;        /* under lock */
static bool said_no_device, said_not_supported;
static __thread cudaError_t last_error;
static __thread const char *current_api;

static bool error_is_sticky(cudaError_t error)
{
    switch (error) {
    case cudaErrorECCUncorrectable:
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchFailure:
        return true;
    default:
        return false;
    }
}

cudaError_t cudart_enter(const char *api)
{
    pthread_mutex_lock(&lock);
    current_api = api;
    return sticky_error;
}

static void record(cudaError_t error)
{
    if (error != cudaSuccess && error != cudaErrorNotReady) {
        last_error = error;
    }
}

cudaError_t cudart_leave(cudaError_t error)
{
    current_api = NULL;
    pthread_mutex_unlock(&lock);
    record(error);
    return error;
}

cudaError_t cudart_refuse(cudaError_t error)
{
    record(error);
    return error;
}

const char *cudart_api(void)
{
    return current_api ? current_api : "libcudart";
}

void cudart_say(const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    flockfile(stderr);
    fputs("libcudart (vgpu-stub): ", stderr);
    vfprintf(stderr, format, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}

void cudart_host_error(cudaError_t error)
{
    if (error_is_sticky(error)) {
        sticky_error = error;
    }
    /* Said once: a program that finds no GPU must know why, not be flooded. */
    if (error == cudaErrorNoDevice && !said_no_device) {
        said_no_device = true;
        cudart_say("%s: no CUDA device: the host answered cudaErrorNoDevice "
                   "(this VM's pool has no GPU)", cudart_api());
    } else if (error == cudaErrorNotSupported && !said_not_supported) {
        said_not_supported = true;
        cudart_say("%s: the host does not run CUDA calls for this VM yet "
                   "(cudaErrorNotSupported)", cudart_api());
    }
}

void cudart_set_sticky(cudaError_t error)
{
    sticky_error = error;
}

void cudart_clear_sticky(void)
{
    sticky_error = cudaSuccess;
    last_error = cudaSuccess;
}

CUDART_API cudaError_t cudaGetLastError(void)
{
    cudaError_t error, sticky = cudart_enter(__func__);

    cudart_leave(cudaSuccess);
    error = sticky ? sticky : last_error;
    last_error = cudaSuccess;
    return error;
}

CUDART_API cudaError_t cudaPeekAtLastError(void)
{
    cudaError_t sticky = cudart_enter(__func__);

    cudart_leave(cudaSuccess);
    return sticky ? sticky : last_error;
}

#define ERROR_NAME_CASE(number, name, message) case number: return #name;
CUDART_API const char *cudaGetErrorName(cudaError_t error)
{
    switch ((int)error) {
    CUDART_ERROR_TABLE(ERROR_NAME_CASE)
    }
    return "unrecognized error code";
}
#undef ERROR_NAME_CASE

#define ERROR_STRING_CASE(number, name, message) case number: return message;
CUDART_API const char *cudaGetErrorString(cudaError_t error)
{
    switch ((int)error) {
    CUDART_ERROR_TABLE(ERROR_STRING_CASE)
    }
    return "unrecognized error code";
}
#undef ERROR_STRING_CASE

int cudart_unsupported(const char *name, bool *said)
{
    if (!__atomic_exchange_n(said, true, __ATOMIC_RELAXED)) {
        cudart_say("%s is not supported by this CUDA runtime (cudaErrorNotSupported)", name);
    }
    cudart_refuse(cudaErrorNotSupported);
    return CUDART_ERROR_NOT_SUPPORTED;
}
