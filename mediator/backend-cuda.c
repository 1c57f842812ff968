/*
 * The cuda backend: runs requests on NVIDIA GPUs.  Built as the plugin
 * libvgpu-backend-cuda.so, linked with the static CUDA runtime, so it loads
 * on any host and reports "no usable driver" from probe() where there is no
 * GPU; the mediator then fails or falls back as mediator.conf says.
 *
 * One unit per GPU, opened on its worker thread: a non-blocking stream and a
 * mapped, pinned result buffer, allocated once.  A kernel takes its params by
 * value and writes its results straight into the mapped buffer, so a request
 * costs one launch and one synchronize (no copies, no host callback: a
 * cudaLaunchHostFunc completion costs twice as much).  The context spins on
 * synchronize rather than sleeping, which saves 15-20 us per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "backend.h"
#include "backend-cuda-kernels.h"

struct cuda_unit {
    int device;                 /* CUDA ordinal */
    cudaStream_t stream;        /* non-blocking: never waits on the legacy stream */
    uint32_t *results_host;     /* mapped pinned memory, VGPU_RESPONSE_MAX_RESULTS words */
    uint32_t *results_device;   /* the same memory as the GPU addresses it */
    uint64_t service_ns;        /* mediator.conf's service-time-us: extra GPU time per request */
};

#define CUDA_RESULTS_BYTES (VGPU_RESPONSE_MAX_RESULTS * sizeof(uint32_t))

static void cuda_error(char *err, size_t err_size, const char *what, int device, cudaError_t e)
{
    snprintf(err, err_size, "%s on GPU %d: %s (%s)", what, device,
             cudaGetErrorString(e), cudaGetErrorName(e));
}

static uint64_t cuda_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cuda_probe(char *err, size_t err_size)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);

    if (e != cudaSuccess) {
        snprintf(err, err_size, "no usable CUDA driver or GPU: %s (%s)",
                 cudaGetErrorString(e), cudaGetErrorName(e));
        return -1;
    }
    if (count == 0) {
        snprintf(err, err_size, "the CUDA driver sees no GPU");
        return -1;
    }
    return count;
}

/* Select the device for this thread, spinning on synchronize, host memory mappable. */
static bool cuda_select_device(int device, char *err, size_t err_size)
{
    cudaError_t e = cudaSetDevice(device);

    if (e != cudaSuccess) {
        cuda_error(err, err_size, "selecting the device", device, e);
        return false;
    }
    e = cudaSetDeviceFlags(cudaDeviceScheduleSpin | cudaDeviceMapHost);
    if (e != cudaSuccess && e != cudaErrorSetOnActiveProcess) {
        cuda_error(err, err_size, "setting device flags", device, e);
        return false;
    }
    cudaGetLastError();         /* SetOnActiveProcess is not sticky: clear it */
    return true;
}

static void cuda_unit_release(struct cuda_unit *unit)
{
    if (unit->stream) {
        cudaStreamDestroy(unit->stream);
        unit->stream = NULL;
    }
    if (unit->results_host) {
        cudaFreeHost(unit->results_host);
        unit->results_host = NULL;
        unit->results_device = NULL;
    }
}

static bool cuda_unit_setup(struct cuda_unit *unit, char *err, size_t err_size)
{
    cudaError_t e;

    e = cudaStreamCreateWithFlags(&unit->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        cuda_error(err, err_size, "creating a stream", unit->device, e);
        return false;
    }
    e = cudaHostAlloc((void **)&unit->results_host, CUDA_RESULTS_BYTES, cudaHostAllocMapped);
    if (e != cudaSuccess) {
        cuda_error(err, err_size, "allocating pinned result memory", unit->device, e);
        cuda_unit_release(unit);
        return false;
    }
    e = cudaHostGetDevicePointer((void **)&unit->results_device, unit->results_host, 0);
    if (e != cudaSuccess) {
        cuda_error(err, err_size, "mapping result memory", unit->device, e);
        cuda_unit_release(unit);
        return false;
    }
    return true;
}

static void *cuda_open(const struct vgpu_backend_unit_config *config,
                       struct vgpu_backend_unit_info *info, char *err, size_t err_size)
{
    struct cudaDeviceProp prop;
    struct cuda_unit *unit;
    int count = 0;
    cudaError_t e;

    e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || config->index < 0 || config->index >= count) {
        snprintf(err, err_size, "GPU %d does not exist (CUDA sees %d GPU%s)",
                 config->index, count, count == 1 ? "" : "s");
        return NULL;
    }
    if (!cuda_select_device(config->index, err, err_size)) {
        return NULL;
    }
    e = cudaGetDeviceProperties(&prop, config->index);
    if (e != cudaSuccess) {
        cuda_error(err, err_size, "reading device properties", config->index, e);
        return NULL;
    }
    unit = calloc(1, sizeof(*unit));
    if (!unit) {
        snprintf(err, err_size, "out of host memory");
        return NULL;
    }
    unit->device = config->index;
    unit->service_ns = (uint64_t)config->service_time_us * 1000u;
    if (!cuda_unit_setup(unit, err, err_size)) {
        free(unit);
        return NULL;
    }
    snprintf(info->name, sizeof(info->name), "%.*s", (int)sizeof(info->name) - 1, prop.name);
    info->memory_bytes = prop.totalGlobalMem;
    info->compute_major = prop.major;
    info->compute_minor = prop.minor;
    return unit;
}

static cudaError_t cuda_launch_vector_add(struct cuda_unit *unit, uint32_t a, uint32_t b)
{
#ifdef VGPU_CUDA_FAULT_INJECTION
    if (a == VGPU_CUDA_FAULT_OPERAND) {
        return vgpu_cuda_launch_illegal_store(unit->stream);
    }
#endif
    return vgpu_cuda_launch_vector_add(a, b, unit->results_device, unit->service_ns,
                                       unit->stream);
}

static uint32_t cuda_execute(void *opaque, const struct vgpu_request_view *request,
                             uint32_t *results, uint32_t *result_count, uint64_t *exec_ns,
                             char *err, size_t err_size)
{
    struct cuda_unit *unit = opaque;
    uint64_t start = cuda_now_ns();
    cudaError_t e;

    switch (request->opcode) {
    case VGPU_OP_VECTOR_ADD:
        e = cuda_launch_vector_add(unit, vgpu_request_param(request, 0),
                                   vgpu_request_param(request, 1));
        if (e != cudaSuccess) {
            cuda_error(err, err_size, "launching VECTOR_ADD", unit->device, e);
            return VGPU_ERR_BACKEND;
        }
        e = cudaStreamSynchronize(unit->stream);
        if (e != cudaSuccess) {
            cuda_error(err, err_size, "running VECTOR_ADD", unit->device, e);
            return VGPU_ERR_BACKEND;
        }
        results[0] = ((volatile uint32_t *)unit->results_host)[0];
        *result_count = VGPU_VECTOR_ADD_RESULTS;
        break;
    default:
        snprintf(err, err_size, "opcode 0x%04x is not implemented by the cuda backend",
                 request->opcode);
        return VGPU_ERR_BACKEND;
    }
    *exec_ns = cuda_now_ns() - start;
    return VGPU_OK;
}

/*
 * An illegal address or a failed launch poisons the whole context: the only
 * way back is a device reset, then the unit's stream and buffers anew.
 */
static bool cuda_recover(void *opaque, char *err, size_t err_size)
{
    struct cuda_unit *unit = opaque;
    cudaError_t e;

    cuda_unit_release(unit);
    e = cudaDeviceReset();
    if (e != cudaSuccess) {
        cuda_error(err, err_size, "resetting the device", unit->device, e);
        return false;
    }
    return cuda_select_device(unit->device, err, err_size) &&
           cuda_unit_setup(unit, err, err_size);
}

static void cuda_close(void *opaque)
{
    struct cuda_unit *unit = opaque;

    cuda_unit_release(unit);
    free(unit);
}

static const struct vgpu_backend_ops cuda_ops = {
    .abi_version = VGPU_BACKEND_ABI_VERSION,
    .name = "cuda",
    .probe = cuda_probe,
    .open = cuda_open,
    .execute = cuda_execute,
    .recover = cuda_recover,
    .close = cuda_close,
};

__attribute__((visibility("default")))
const struct vgpu_backend_ops *vgpu_backend_entry(void)
{
    return &cuda_ops;
}
