/*
 * The device: count, properties and attributes (those of the host GPU
 * the VM's pool runs on, with the VM's memory quota as its memory), the
 * current device and its flags, synchronize and reset; the versions and
 * the profiler switches.  A VM sees at most one GPU, device 0.
 */
#include <endian.h>
#include <string.h>

#include "runtime.h"

static bool count_known;
static int device_count;
static bool properties_known;
static struct vgpu_cuda_device properties;     /* host order */
static unsigned device_flags;

/* The number of devices, asked once (cudaErrorNoDevice when there is none). */
static cudaError_t device_count_load(int *count)
{
    uint64_t out[2];
    cudaError_t e;

    if (!count_known) {
        e = cudart_run(VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0, out);
        if (e != cudaSuccess) {
            *count = 0;
            return e;
        }
        device_count = out[0] > 0 ? 1 : 0;
        count_known = true;
    }
    *count = device_count;
    return device_count > 0 ? cudaSuccess : cudaErrorNoDevice;
}

/* cudaErrorInvalidDevice unless device is one this VM has. */
static cudaError_t device_check(int device)
{
    int count;
    cudaError_t e = device_count_load(&count);

    if (e != cudaSuccess) {
        return e;
    }
    return device >= 0 && device < count ? cudaSuccess : cudaErrorInvalidDevice;
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return le32toh(v);
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return le64toh(v);
}

/* The host's description, read once through staging. */
static cudaError_t device_properties_load(int device, const struct vgpu_cuda_device **out)
{
    struct vgpu_cuda_device *d = &properties;
    uint64_t offset, got, words[2];
    const unsigned char *p;
    cudaError_t e = device_check(device);

    if (e == cudaSuccess && !properties_known) {
        e = cudart_staging_take(sizeof(*d), &offset, &got);
        if (e == cudaSuccess) {
            words[0] = offset;
            words[1] = sizeof(*d);
            e = cudart_run(VGPU_CUDA_DEVICE_PROPERTIES, words, NULL, 0, NULL);
        }
        if (e == cudaSuccess) {
            p = cudart_window_at(offset);
            memcpy(d->name, p, sizeof(d->name));
            d->name[sizeof(d->name) - 1] = '\0';
#define LOAD64(field) d->field = get64(p + offsetof(struct vgpu_cuda_device, field))
#define LOAD32(field) d->field = get32(p + offsetof(struct vgpu_cuda_device, field))
            LOAD64(total_memory);
            LOAD64(shared_memory_per_block);
            LOAD64(shared_memory_per_block_optin);
            LOAD64(shared_memory_per_multiprocessor);
            LOAD64(constant_memory);
            LOAD64(l2_cache_size);
            LOAD32(compute_major);
            LOAD32(compute_minor);
            LOAD32(multiprocessors);
            LOAD32(warp_size);
            LOAD32(max_threads_per_block);
            for (int i = 0; i < 3; i++) {
                LOAD32(max_threads_dim[i]);
                LOAD32(max_grid_size[i]);
            }
            LOAD32(max_threads_per_multiprocessor);
            LOAD32(registers_per_block);
            LOAD32(registers_per_multiprocessor);
            LOAD32(clock_khz);
            LOAD32(memory_clock_khz);
            LOAD32(memory_bus_width);
            LOAD32(pci_bus);
            LOAD32(pci_device);
            LOAD32(pci_domain);
#undef LOAD64
#undef LOAD32
            properties_known = true;
        }
    }
    *out = d;
    return e;
}

CUDART_API cudaError_t cudaGetDeviceCount(int *count)
{
    cudaError_t e;

    if (!count) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_enter(__func__);
    if (e == cudaSuccess) {
        e = device_count_load(count);
    } else {
        *count = 0;
    }
    return cudart_leave(e);
}

/* Fill NVIDIA's structure from the host's description. */
static void properties_fill(struct cudaDeviceProp *prop, const struct vgpu_cuda_device *d)
{
    memset(prop, 0, sizeof(*prop));
    memcpy(prop->name, d->name, sizeof(prop->name));
    prop->totalGlobalMem = d->total_memory;
    prop->sharedMemPerBlock = d->shared_memory_per_block;
    prop->regsPerBlock = (int)d->registers_per_block;
    prop->warpSize = (int)d->warp_size;
    prop->maxThreadsPerBlock = (int)d->max_threads_per_block;
    for (int i = 0; i < 3; i++) {
        prop->maxThreadsDim[i] = (int)d->max_threads_dim[i];
        prop->maxGridSize[i] = (int)d->max_grid_size[i];
    }
    prop->totalConstMem = d->constant_memory;
    prop->major = (int)d->compute_major;
    prop->minor = (int)d->compute_minor;
    prop->multiProcessorCount = (int)d->multiprocessors;
    prop->concurrentKernels = d->compute_major >= 2;
    prop->pciBusID = (int)d->pci_bus;
    prop->pciDeviceID = (int)d->pci_device;
    prop->pciDomainID = (int)d->pci_domain;
    prop->unifiedAddressing = 1;        /* cudaMemcpyDefault tells the sides apart */
    prop->memoryBusWidth = (int)d->memory_bus_width;
    prop->l2CacheSize = (int)d->l2_cache_size;
    prop->maxThreadsPerMultiProcessor = (int)d->max_threads_per_multiprocessor;
    prop->sharedMemPerMultiprocessor = d->shared_memory_per_multiprocessor;
    prop->regsPerMultiprocessor = (int)d->registers_per_multiprocessor;
    prop->sharedMemPerBlockOptin = d->shared_memory_per_block_optin;
    prop->hostRegisterSupported = 1;    /* staged through the window */
    prop->hostNumaId = -1;
}

CUDART_API cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device)
{
    const struct vgpu_cuda_device *d;
    cudaError_t e;

    if (!prop) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_enter(__func__);
    if (e == cudaSuccess) {
        e = device_properties_load(device, &d);
    }
    if (e == cudaSuccess) {
        properties_fill(prop, d);
    }
    return cudart_leave(e);
}

/* An attribute from the description; false for one it does not give. */
static bool attribute_value(const struct vgpu_cuda_device *d, enum cudaDeviceAttr attr,
                            int *value)
{
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = (int)d->max_threads_per_block; return true;
    case cudaDevAttrMaxBlockDimX: *value = (int)d->max_threads_dim[0]; return true;
    case cudaDevAttrMaxBlockDimY: *value = (int)d->max_threads_dim[1]; return true;
    case cudaDevAttrMaxBlockDimZ: *value = (int)d->max_threads_dim[2]; return true;
    case cudaDevAttrMaxGridDimX: *value = (int)d->max_grid_size[0]; return true;
    case cudaDevAttrMaxGridDimY: *value = (int)d->max_grid_size[1]; return true;
    case cudaDevAttrMaxGridDimZ: *value = (int)d->max_grid_size[2]; return true;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = (int)d->shared_memory_per_block; return true;
    case cudaDevAttrTotalConstantMemory: *value = (int)d->constant_memory; return true;
    case cudaDevAttrWarpSize: *value = (int)d->warp_size; return true;
    case cudaDevAttrMaxRegistersPerBlock: *value = (int)d->registers_per_block; return true;
    case cudaDevAttrClockRate: *value = (int)d->clock_khz; return true;
    case cudaDevAttrMultiProcessorCount: *value = (int)d->multiprocessors; return true;
    case cudaDevAttrIntegrated: *value = 0; return true;
    case cudaDevAttrCanMapHostMemory: *value = 0; return true;
    case cudaDevAttrComputeMode: *value = cudaComputeModeDefault; return true;
    case cudaDevAttrConcurrentKernels: *value = d->compute_major >= 2; return true;
    case cudaDevAttrPciBusId: *value = (int)d->pci_bus; return true;
    case cudaDevAttrPciDeviceId: *value = (int)d->pci_device; return true;
    case cudaDevAttrPciDomainId: *value = (int)d->pci_domain; return true;
    case cudaDevAttrMemoryClockRate: *value = (int)d->memory_clock_khz; return true;
    case cudaDevAttrGlobalMemoryBusWidth: *value = (int)d->memory_bus_width; return true;
    case cudaDevAttrL2CacheSize: *value = (int)d->l2_cache_size; return true;
    case cudaDevAttrMaxThreadsPerMultiProcessor:
        *value = (int)d->max_threads_per_multiprocessor;
        return true;
    case cudaDevAttrUnifiedAddressing: *value = 1; return true;
    case cudaDevAttrComputeCapabilityMajor: *value = (int)d->compute_major; return true;
    case cudaDevAttrComputeCapabilityMinor: *value = (int)d->compute_minor; return true;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
        *value = (int)d->shared_memory_per_multiprocessor;
        return true;
    case cudaDevAttrMaxRegistersPerMultiprocessor:
        *value = (int)d->registers_per_multiprocessor;
        return true;
    case cudaDevAttrManagedMemory: *value = 0; return true;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
        *value = (int)d->shared_memory_per_block_optin;
        return true;
    case cudaDevAttrHostRegisterSupported: *value = 1; return true;
    default:
        return false;
    }
}

CUDART_API cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attr, int device)
{
    const struct vgpu_cuda_device *d;
    cudaError_t e;

    if (!value) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_enter(__func__);
    if (e == cudaSuccess) {
        e = device_properties_load(device, &d);
    }
    if (e == cudaSuccess && !attribute_value(d, attr, value)) {
        /* Never a made-up value: the program learns this one is not known here. */
        cudart_say("cudaDeviceGetAttribute: attribute %d is not known to this runtime "
                   "(cudaErrorNotSupported)", (int)attr);
        e = cudaErrorNotSupported;
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaSetDevice(int device)
{
    cudaError_t e = cudart_enter(__func__);

    if (e == cudaSuccess) {
        e = device_check(device);
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaGetDevice(int *device)
{
    cudaError_t e;

    if (!device) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_enter(__func__);
    if (e == cudaSuccess) {
        e = device_check(0);
    }
    if (e == cudaSuccess) {
        *device = 0;
    }
    return cudart_leave(e);
}

#define DEVICE_FLAGS_KNOWN (cudaDeviceScheduleMask | cudaDeviceMapHost | \
                            cudaDeviceLmemResizeToMax | cudaDeviceSyncMemops)

/* Kept in the guest: how the host's worker waits is the host's choice. */
CUDART_API cudaError_t cudaSetDeviceFlags(unsigned int flags)
{
    cudaError_t e;

    if ((flags & ~DEVICE_FLAGS_KNOWN) || (flags & cudaDeviceScheduleMask) == 3) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_enter(__func__);
    if (e == cudaSuccess) {
        e = device_check(0);
    }
    if (e == cudaSuccess) {
        device_flags = flags;
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaGetDeviceFlags(unsigned int *flags)
{
    cudaError_t e;

    if (!flags) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    e = cudart_enter(__func__);
    if (e == cudaSuccess) {
        e = device_check(0);
    }
    if (e == cudaSuccess) {
        *flags = device_flags;
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaDeviceSynchronize(void)
{
    cudaError_t e = cudart_enter(__func__);

    if (e == cudaSuccess) {
        e = cudart_run(VGPU_CUDA_DEVICE_SYNCHRONIZE, NULL, NULL, 0, NULL);
    }
    return cudart_leave(e);
}

/* Frees everything of this program on the host, sticky errors included. */
CUDART_API cudaError_t cudaDeviceReset(void)
{
    cudaError_t e;

    cudart_enter(__func__);
    e = cudart_run(VGPU_CUDA_DEVICE_RESET, NULL, NULL, 0, NULL);
    if (e == cudaSuccess) {
        cudart_clear_sticky();
        cudart_device_ranges_clear();
        cudart_handles_clear();
        cudart_registry_forget_host();
        device_flags = 0;
    }
    return cudart_leave(e);
}

CUDART_API cudaError_t cudaRuntimeGetVersion(int *version)
{
    if (!version) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    *version = CUDART_VERSION;
    return cudaSuccess;
}

/* The "driver" a program talks to is this library, which speaks CUDA 13.0. */
CUDART_API cudaError_t cudaDriverGetVersion(int *version)
{
    if (!version) {
        return cudart_refuse(cudaErrorInvalidValue);
    }
    *version = CUDART_VERSION;
    return cudaSuccess;
}

CUDART_API cudaError_t cudaProfilerStart(void)
{
    return cudaSuccess;
}

CUDART_API cudaError_t cudaProfilerStop(void)
{
    return cudaSuccess;
}

/* Pure: it describes a texture format and asks nothing of the device. */
CUDART_API struct cudaChannelFormatDesc cudaCreateChannelDesc(int x, int y, int z, int w,
                                                              enum cudaChannelFormatKind f)
{
    struct cudaChannelFormatDesc desc = { x, y, z, w, f };

    return desc;
}
