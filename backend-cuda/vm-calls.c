/*
 * A VM's batch of CUDA calls, run with the driver API in the VM's own
 * context (vm-worker.h).
 *
 * Nothing the guest wrote is trusted, nor read twice: the batch is copied
 * out of the window before it is decoded (the guest cannot change a record
 * after it was checked), every handle and device range is looked up in
 * what this VM was given (vm-objects.h), and every window range is checked
 * against the window.  Calls CUDA runs asynchronously stay asynchronous on
 * the VM's streams: the batch returns once they are queued, and a later
 * synchronize, query or blocking copy waits for them, as CUDA's own
 * semantics say.  A synchronize waits at most what is left of the batch's
 * VGPU_CUDA_WAIT_SLICE_MS and then answers VGPU_CUDA_STILL_WAITING, for
 * the guest to send it again: the GPU's unit serves other VMs meanwhile.
 * Kernel parameters are laid out from the function's own parameter
 * information (cuFuncGetParamInfo), never guessed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuda-worker.h"
#include "vgpu/cpu-relax.h"
#include "vgpu/cuda-batch.h"
#include "vm-worker.h"

#define FATBIN_MAGIC        0xba55ed50u
#define FATBIN_HEADER_MIN   16u
#define STREAM_FLAGS_MAX    1u      /* cudaStreamNonBlocking */
#define EVENT_FLAGS_OK      3u      /* cudaEventBlockingSync | cudaEventDisableTiming */

/* Errors after which CUDA's context is lost (NVIDIA's "sticky" errors). */
static bool error_is_sticky(uint32_t e)
{
    switch (e) {
    case 214:       /* ECC uncorrectable */
    case 700:       /* illegal address */
    case 702:       /* launch timeout */
    case 710:       /* assert */
    case 714:       /* hardware stack error */
    case 715:       /* illegal instruction */
    case 716:       /* misaligned address */
    case 717:       /* invalid address space */
    case 718:       /* invalid PC */
    case 719:       /* launch failure */
        return true;
    default:
        return false;
    }
}

static bool window_range(const struct vm_worker *w, uint64_t offset, uint64_t len)
{
    return offset <= w->window_size && len <= w->window_size - offset;
}

/* A name in a record's tail: NUL-terminated inside it and not too long, else NULL. */
static const char *tail_name(const struct vgpu_cuda_call_view *v)
{
    const char *end = memchr(v->tail, '\0', v->tail_len);

    return end && (size_t)(end - (const char *)v->tail) < VGPU_CUDA_NAME_MAX
               ? (const char *)v->tail : NULL;
}

/* The stream a VM names: 0 is the default stream; else one it created. */
static bool stream_of(struct vm_worker *w, uint64_t handle, CUstream *stream)
{
    struct vm_object *s;

    if (handle == 0) {
        *stream = NULL;
        return true;
    }
    s = vm_object_find(&w->objects, VM_STREAM, handle);
    if (s) {
        *stream = s->cu;
    }
    return s != NULL;
}

static CUevent event_of(struct vm_worker *w, uint64_t handle)
{
    struct vm_object *e = vm_object_find(&w->objects, VM_EVENT, handle);

    return e ? e->cu : NULL;
}

uint64_t vm_memory_total(const struct vm_worker *w)
{
    return w->quota && w->quota < w->gpu_memory ? w->quota : w->gpu_memory;
}

void vm_release_all(struct vm_worker *w)
{
    struct vm_objects *o = &w->objects;

    cuCtxSynchronize();
    for (size_t i = 0; i < o->tables[VM_EVENT].count; i++) {
        cuEventDestroy(o->tables[VM_EVENT].items[i].cu);
    }
    for (size_t i = 0; i < o->tables[VM_STREAM].count; i++) {
        cuStreamDestroy(o->tables[VM_STREAM].items[i].cu);
    }
    for (size_t i = 0; i < o->tables[VM_MODULE].count; i++) {
        cuModuleUnload(o->tables[VM_MODULE].items[i].cu);
    }
    for (size_t i = 0; i < o->range_count; i++) {
        if (o->ranges[i].module == 0) {
            cuMemFree((CUdeviceptr)o->ranges[i].base);
        }
    }
    vm_objects_clear(o);
}

/* ---- waits ---- */

#define WAIT_SPIN_NS    100000u     /* then sleep between queries */
#define WAIT_SLEEP_NS   20000u

enum wait_kind { WAIT_DEVICE, WAIT_STREAM, WAIT_EVENT };

/* One look: CUDA_SUCCESS when done, CUDA_ERROR_NOT_READY while running, else its error. */
static CUresult wait_query(struct vm_worker *w, enum wait_kind kind, void *object)
{
    struct vm_table *streams = &w->objects.tables[VM_STREAM];
    CUresult r;

    switch (kind) {
    case WAIT_EVENT:
        return cuEventQuery(object);
    case WAIT_STREAM:
        return cuStreamQuery(object);
    default:            /* the device: every stream of the VM, the default one too */
        r = cuStreamQuery(NULL);
        for (size_t i = 0; i < streams->count && r == CUDA_SUCCESS; i++) {
            r = cuStreamQuery(streams->items[i].cu);
        }
        return r;
    }
}

/* Wait for the work, until the batch's slice ends: then VGPU_CUDA_STILL_WAITING. */
static uint32_t wait_done(struct vm_worker *w, enum wait_kind kind, void *object)
{
    uint64_t spin_end = cuda_now_ns() + WAIT_SPIN_NS;
    struct timespec nap = { 0, WAIT_SLEEP_NS };
    CUresult r;

    while ((r = wait_query(w, kind, object)) == CUDA_ERROR_NOT_READY) {
        uint64_t now = cuda_now_ns();

        if (now >= w->wait_deadline_ns) {
            return VGPU_CUDA_STILL_WAITING;
        }
        if (now < spin_end) {
            vgpu_cpu_relax();
        } else {
            nanosleep(&nap, NULL);
        }
    }
    /* a kernel's fault shows in a query as in a synchronize */
    return r == CUDA_SUCCESS && kind == WAIT_DEVICE ? cuCtxSynchronize() : r;
}

/* ---- devices ---- */

static int attribute(struct vm_worker *w, CUdevice_attribute a)
{
    int v = 0;

    cuDeviceGetAttribute(&v, a, w->device);
    return v;
}

static uint32_t call_device_properties(struct vm_worker *w, const uint64_t *a)
{
    struct vgpu_cuda_device d = { 0 };

    if (!window_range(w, a[0], a[1]) || a[1] < sizeof(d)) {
        return VGPU_CUDA_ERROR_INVALID_VALUE;
    }
    cuDeviceGetName(d.name, sizeof(d.name), w->device);
    d.total_memory = vm_memory_total(w);
    d.shared_memory_per_block = attribute(w, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
    d.shared_memory_per_block_optin =
        attribute(w, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    d.shared_memory_per_multiprocessor =
        attribute(w, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
    d.constant_memory = attribute(w, CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY);
    d.l2_cache_size = attribute(w, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
    d.compute_major = attribute(w, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
    d.compute_minor = attribute(w, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    d.multiprocessors = attribute(w, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    d.warp_size = attribute(w, CU_DEVICE_ATTRIBUTE_WARP_SIZE);
    d.max_threads_per_block = attribute(w, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    d.max_threads_dim[0] = attribute(w, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X);
    d.max_threads_dim[1] = attribute(w, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y);
    d.max_threads_dim[2] = attribute(w, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z);
    d.max_grid_size[0] = attribute(w, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X);
    d.max_grid_size[1] = attribute(w, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y);
    d.max_grid_size[2] = attribute(w, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z);
    d.max_threads_per_multiprocessor =
        attribute(w, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
    d.registers_per_block = attribute(w, CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK);
    d.registers_per_multiprocessor =
        attribute(w, CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR);
    d.clock_khz = attribute(w, CU_DEVICE_ATTRIBUTE_CLOCK_RATE);
    d.memory_clock_khz = attribute(w, CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE);
    d.memory_bus_width = attribute(w, CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH);
    d.pci_bus = attribute(w, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID);
    d.pci_device = attribute(w, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID);
    d.pci_domain = attribute(w, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID);
    memcpy(w->window + a[0], &d, sizeof(d));
    return VGPU_CUDA_SUCCESS;
}

static uint32_t call_mem_get_info(struct vm_worker *w, uint64_t *out)
{
    size_t gpu_free = 0, gpu_total = 0;
    uint64_t total = vm_memory_total(w), used = w->objects.allocated;
    CUresult r = cuMemGetInfo(&gpu_free, &gpu_total);

    if (r != CUDA_SUCCESS) {
        return r;
    }
    out[0] = used < total ? total - used : 0;
    if (out[0] > gpu_free) {
        out[0] = gpu_free;      /* other VMs hold the rest of the GPU */
    }
    out[1] = total;
    return VGPU_CUDA_SUCCESS;
}

/* ---- modules ---- */

static uint32_t call_module_load(struct vm_worker *w, const uint64_t *a, uint64_t *out)
{
    uint32_t magic;
    uint16_t header_size;
    uint64_t fat_size, handle;
    void *image;
    CUmodule module;
    CUresult r;

    if (!window_range(w, a[0], a[1]) || a[1] < FATBIN_HEADER_MIN) {
        return VGPU_CUDA_ERROR_INVALID_VALUE;
    }
    /* the driver parses a private copy: the guest cannot change it meanwhile */
    image = malloc(a[1]);
    if (!image) {
        return VGPU_CUDA_ERROR_MEMORY_ALLOCATION;
    }
    memcpy(image, w->window + a[0], a[1]);
    memcpy(&magic, image, 4);
    memcpy(&header_size, (unsigned char *)image + 6, 2);
    memcpy(&fat_size, (unsigned char *)image + 8, 8);
    if (magic != FATBIN_MAGIC || header_size < FATBIN_HEADER_MIN ||
        fat_size != a[1] - header_size) {
        free(image);
        return VGPU_CUDA_ERROR_INVALID_KERNEL_IMAGE;
    }
    r = cuModuleLoadData(&module, image);
    free(image);
    if (r != CUDA_SUCCESS) {
        return r;
    }
    handle = vm_object_add(&w->objects, VM_MODULE, module, 0);
    if (!handle) {
        cuModuleUnload(module);
        return VGPU_CUDA_ERROR_MEMORY_ALLOCATION;
    }
    out[0] = handle;
    return VGPU_CUDA_SUCCESS;
}

static uint32_t call_module_unload(struct vm_worker *w, uint64_t handle)
{
    struct vm_object *m = vm_object_find(&w->objects, VM_MODULE, handle);
    struct vm_table *functions = &w->objects.tables[VM_FUNCTION];
    CUresult r;

    if (!m) {
        return VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE;
    }
    r = cuModuleUnload(m->cu);
    vm_object_remove(&w->objects, VM_MODULE, m);
    for (size_t i = functions->count; i-- > 0;) {
        if (functions->items[i].owner == handle) {
            vm_object_remove(&w->objects, VM_FUNCTION, &functions->items[i]);
        }
    }
    vm_range_remove_module(&w->objects, handle);
    return r;
}

/* The function's parameters as (offset, size) pairs, from CUDA itself. */
static uint32_t function_layout(CUfunction f, uint32_t **layout, uint32_t *count)
{
    size_t offset, size, cap = 0;
    uint32_t *pairs = NULL;
    uint32_t n = 0;

    while (cuFuncGetParamInfo(f, n, &offset, &size) == CUDA_SUCCESS) {
        if (offset + size > VGPU_CUDA_PARAMS_MAX) {
            free(pairs);
            return VGPU_CUDA_ERROR_INVALID_VALUE;
        }
        if (2 * n + 2 > cap) {
            uint32_t *grown;

            cap = cap ? 2 * cap : 16;
            grown = realloc(pairs, cap * sizeof(*pairs));
            if (!grown) {
                free(pairs);
                return VGPU_CUDA_ERROR_MEMORY_ALLOCATION;
            }
            pairs = grown;
        }
        pairs[2 * n] = (uint32_t)offset;
        pairs[2 * n + 1] = (uint32_t)size;
        n++;
    }
    *layout = pairs;
    *count = n;
    return VGPU_CUDA_SUCCESS;
}

static uint32_t call_function_get(struct vm_worker *w, const struct vgpu_cuda_call_view *v,
                                  uint64_t *out)
{
    struct vm_object *m = vm_object_find(&w->objects, VM_MODULE, v->words[0]);
    const char *name = tail_name(v);
    uint32_t *layout = NULL, count = 0, e;
    struct vm_object *f;
    CUfunction function;
    uint64_t handle;
    CUresult r;

    if (!m) {
        return VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE;
    }
    if (!name) {
        return VGPU_CUDA_ERROR_INVALID_VALUE;
    }
    r = cuModuleGetFunction(&function, m->cu, name);
    if (r == CUDA_ERROR_NOT_FOUND) {
        return VGPU_CUDA_ERROR_INVALID_DEVICE_FUNCTION;
    }
    if (r != CUDA_SUCCESS) {
        return r;
    }
    e = function_layout(function, &layout, &count);
    if (e != VGPU_CUDA_SUCCESS) {
        return e;
    }
    handle = vm_object_add(&w->objects, VM_FUNCTION, function, v->words[0]);
    if (!handle) {
        free(layout);
        return VGPU_CUDA_ERROR_MEMORY_ALLOCATION;
    }
    f = vm_object_find(&w->objects, VM_FUNCTION, handle);
    f->layout = layout;
    f->param_count = count;
    out[0] = handle;
    out[1] = count;
    return VGPU_CUDA_SUCCESS;
}

static uint32_t call_function_params(struct vm_worker *w, const uint64_t *a)
{
    struct vm_object *f = vm_object_find(&w->objects, VM_FUNCTION, a[0]);

    if (!f) {
        return VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE;
    }
    if (!window_range(w, a[1], a[2]) || a[2] < 8ull * f->param_count) {
        return VGPU_CUDA_ERROR_INVALID_VALUE;
    }
    memcpy(w->window + a[1], f->layout, 8ull * f->param_count);
    return VGPU_CUDA_SUCCESS;
}

static uint32_t call_variable_get(struct vm_worker *w, const struct vgpu_cuda_call_view *v,
                                  uint64_t *out)
{
    struct vm_object *m = vm_object_find(&w->objects, VM_MODULE, v->words[0]);
    const char *name = tail_name(v);
    CUdeviceptr address;
    size_t size;
    CUresult r;

    if (!m) {
        return VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE;
    }
    if (!name) {
        return VGPU_CUDA_ERROR_INVALID_VALUE;
    }
    r = cuModuleGetGlobal(&address, &size, m->cu, name);
    if (r == CUDA_ERROR_NOT_FOUND) {
        return VGPU_CUDA_ERROR_INVALID_SYMBOL;
    }
    if (r != CUDA_SUCCESS) {
        return r;
    }
    if (!vm_range_variable(&w->objects, address, v->words[0]) &&
        !vm_range_add(&w->objects, address, size, v->words[0])) {
        return VGPU_CUDA_ERROR_MEMORY_ALLOCATION;
    }
    out[0] = address;
    out[1] = size;
    return VGPU_CUDA_SUCCESS;
}

/* ---- memory ---- */

static uint32_t call_malloc(struct vm_worker *w, uint64_t size, uint64_t *out)
{
    uint64_t charge = vm_alloc_charge(size);
    CUdeviceptr p;
    CUresult r;

    if (size == 0) {
        return VGPU_CUDA_ERROR_INVALID_VALUE;
    }
    if (w->objects.allocated > vm_memory_total(w) ||
        charge > vm_memory_total(w) - w->objects.allocated) {
        return VGPU_CUDA_ERROR_MEMORY_ALLOCATION;       /* past the VM's quota */
    }
    r = cuMemAlloc(&p, size);
    if (r != CUDA_SUCCESS) {
        return r;
    }
    if (!vm_range_add(&w->objects, p, size, 0)) {
        cuMemFree(p);
        return VGPU_CUDA_ERROR_MEMORY_ALLOCATION;
    }
    out[0] = p;
    return VGPU_CUDA_SUCCESS;
}

static uint32_t call_free(struct vm_worker *w, uint64_t pointer)
{
    struct vm_range *r = vm_range_allocation(&w->objects, pointer);
    CUresult e;

    if (!r) {
        return VGPU_CUDA_ERROR_INVALID_VALUE;
    }
    e = cuMemFree(pointer);
    vm_range_remove(&w->objects, r);
    return e;
}

static uint32_t call_copy(struct vm_worker *w, uint32_t call, const uint64_t *a)
{
    CUstream stream;
    bool ok;

    if (!stream_of(w, a[3], &stream)) {
        return VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE;
    }
    switch (call) {
    case VGPU_CUDA_MEMCPY_HTOD:
        ok = vm_range_holds(&w->objects, a[0], a[2]) && window_range(w, a[1], a[2]);
        return !ok ? VGPU_CUDA_ERROR_INVALID_VALUE
             : a[2] == 0 ? VGPU_CUDA_SUCCESS
             : cuMemcpyHtoDAsync(a[0], w->window + a[1], a[2], stream);
    case VGPU_CUDA_MEMCPY_DTOH:
        ok = window_range(w, a[0], a[2]) && vm_range_holds(&w->objects, a[1], a[2]);
        return !ok ? VGPU_CUDA_ERROR_INVALID_VALUE
             : a[2] == 0 ? VGPU_CUDA_SUCCESS
             : cuMemcpyDtoHAsync(w->window + a[0], a[1], a[2], stream);
    case VGPU_CUDA_MEMCPY_DTOD:
        ok = vm_range_holds(&w->objects, a[0], a[2]) && vm_range_holds(&w->objects, a[1], a[2]);
        return !ok ? VGPU_CUDA_ERROR_INVALID_VALUE
             : a[2] == 0 ? VGPU_CUDA_SUCCESS
             : cuMemcpyDtoDAsync(a[0], a[1], a[2], stream);
    default:        /* MEMSET */
        ok = vm_range_holds(&w->objects, a[0], a[2]) && a[1] <= 0xff;
        return !ok ? VGPU_CUDA_ERROR_INVALID_VALUE
             : a[2] == 0 ? VGPU_CUDA_SUCCESS
             : cuMemsetD8Async(a[0], (unsigned char)a[1], a[2], stream);
    }
}

/* ---- execution ---- */

static uint32_t call_launch(struct vm_worker *w, const struct vgpu_cuda_call_view *v)
{
    const uint64_t *a = v->words;
    struct vm_object *f = vm_object_find(&w->objects, VM_FUNCTION, a[0]);
    uint32_t dims[6] = { (uint32_t)a[1], (uint32_t)(a[1] >> 32), (uint32_t)a[2],
                         (uint32_t)(a[2] >> 32), (uint32_t)a[3], (uint32_t)(a[3] >> 32) };
    CUstream stream;
    CUresult r;

    if (!f || !stream_of(w, a[5], &stream)) {
        return VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE;
    }
    for (int i = 0; i < 6; i++) {
        if (dims[i] == 0) {
            return VGPU_CUDA_ERROR_INVALID_CONFIGURATION;
        }
    }
    if (a[4] > UINT32_MAX) {
        return VGPU_CUDA_ERROR_INVALID_VALUE;
    }
    /* each parameter where the function's own layout puts it, inside the record */
    for (uint32_t i = 0; i < f->param_count; i++) {
        uint32_t end = f->layout[2 * i] + f->layout[2 * i + 1];

        if (end > v->tail_len) {
            return VGPU_CUDA_ERROR_INVALID_VALUE;
        }
        w->args[i] = (void *)(v->tail + f->layout[2 * i]);
    }
    r = cuLaunchKernel(f->cu, dims[0], dims[1], dims[2], dims[3], dims[4], dims[5],
                       (unsigned)a[4], stream, f->param_count ? w->args : NULL, NULL);
    if (r == CUDA_SUCCESS) {
        w->kernels++;
    }
    return r;
}

/* ---- streams and events ---- */

static uint32_t call_stream_create(struct vm_worker *w, uint64_t flags, uint64_t *out)
{
    CUstream stream;
    CUresult r;

    if (flags > STREAM_FLAGS_MAX) {
        return VGPU_CUDA_ERROR_INVALID_VALUE;
    }
    r = cuStreamCreate(&stream, (unsigned)flags);
    if (r != CUDA_SUCCESS) {
        return r;
    }
    out[0] = vm_object_add(&w->objects, VM_STREAM, stream, 0);
    if (!out[0]) {
        cuStreamDestroy(stream);
        return VGPU_CUDA_ERROR_MEMORY_ALLOCATION;
    }
    return VGPU_CUDA_SUCCESS;
}

static uint32_t call_stream(struct vm_worker *w, uint32_t call, const uint64_t *a)
{
    struct vm_object *s;
    CUstream stream;
    CUevent event;
    CUresult r;

    if (!stream_of(w, a[0], &stream)) {
        return VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE;
    }
    switch (call) {
    case VGPU_CUDA_STREAM_DESTROY:
        s = vm_object_find(&w->objects, VM_STREAM, a[0]);
        if (!s) {
            return VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE;     /* the default stream */
        }
        r = cuStreamDestroy(stream);
        vm_object_remove(&w->objects, VM_STREAM, s);
        return r;
    case VGPU_CUDA_STREAM_SYNCHRONIZE:
        return wait_done(w, WAIT_STREAM, stream);
    case VGPU_CUDA_STREAM_QUERY:
        return cuStreamQuery(stream);
    default:        /* STREAM_WAIT_EVENT */
        event = event_of(w, a[1]);
        return event ? cuStreamWaitEvent(stream, event, 0)
                     : VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE;
    }
}

static uint32_t call_event_create(struct vm_worker *w, uint64_t flags, uint64_t *out)
{
    CUevent event;
    CUresult r;

    /* no interprocess events: a VM has nobody to share them with */
    if (flags & ~(uint64_t)EVENT_FLAGS_OK) {
        return VGPU_CUDA_ERROR_INVALID_VALUE;
    }
    r = cuEventCreate(&event, (unsigned)flags);
    if (r != CUDA_SUCCESS) {
        return r;
    }
    out[0] = vm_object_add(&w->objects, VM_EVENT, event, 0);
    if (!out[0]) {
        cuEventDestroy(event);
        return VGPU_CUDA_ERROR_MEMORY_ALLOCATION;
    }
    return VGPU_CUDA_SUCCESS;
}

static uint32_t call_event(struct vm_worker *w, uint32_t call, const uint64_t *a, uint64_t *out)
{
    struct vm_object *e = vm_object_find(&w->objects, VM_EVENT, a[0]);
    CUstream stream;
    CUevent end;
    float ms = 0;
    uint32_t bits;
    CUresult r;

    if (!e) {
        return VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE;
    }
    switch (call) {
    case VGPU_CUDA_EVENT_DESTROY:
        r = cuEventDestroy(e->cu);
        vm_object_remove(&w->objects, VM_EVENT, e);
        return r;
    case VGPU_CUDA_EVENT_RECORD:
        return stream_of(w, a[1], &stream) ? cuEventRecord(e->cu, stream)
                                           : VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE;
    case VGPU_CUDA_EVENT_SYNCHRONIZE:
        return wait_done(w, WAIT_EVENT, e->cu);
    case VGPU_CUDA_EVENT_QUERY:
        return cuEventQuery(e->cu);
    default:        /* EVENT_ELAPSED */
        end = event_of(w, a[1]);
        if (!end) {
            return VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE;
        }
        r = cuEventElapsedTime(&ms, e->cu, end);
        memcpy(&bits, &ms, sizeof(bits));
        out[0] = bits;
        return r;
    }
}

static uint32_t call_run(struct vm_worker *w, const struct vgpu_cuda_call_view *v,
                         uint64_t *out)
{
    const uint64_t *a = v->words;
    uint32_t e;

    switch (v->call) {
    case VGPU_CUDA_DEVICE_COUNT:
        out[0] = 1;
        return VGPU_CUDA_SUCCESS;
    case VGPU_CUDA_DEVICE_PROPERTIES:
        return call_device_properties(w, a);
    case VGPU_CUDA_MEM_GET_INFO:
        return call_mem_get_info(w, out);
    case VGPU_CUDA_DEVICE_SYNCHRONIZE:
        return wait_done(w, WAIT_DEVICE, NULL);
    case VGPU_CUDA_DEVICE_RESET:
        e = wait_done(w, WAIT_DEVICE, NULL);
        if (e == VGPU_CUDA_STILL_WAITING) {
            /* Kernels still run: this process ends, and its kernels with
             * it; the call comes again to a fresh one. */
            w->exit_for_reset = true;
            return e;
        }
        vm_release_all(w);
        return VGPU_CUDA_SUCCESS;
    case VGPU_CUDA_MODULE_LOAD:
        return call_module_load(w, a, out);
    case VGPU_CUDA_MODULE_UNLOAD:
        return call_module_unload(w, a[0]);
    case VGPU_CUDA_FUNCTION_GET:
        return call_function_get(w, v, out);
    case VGPU_CUDA_FUNCTION_PARAMS:
        return call_function_params(w, a);
    case VGPU_CUDA_VARIABLE_GET:
        return call_variable_get(w, v, out);
    case VGPU_CUDA_MALLOC:
        return call_malloc(w, a[0], out);
    case VGPU_CUDA_FREE:
        return call_free(w, a[0]);
    case VGPU_CUDA_MEMCPY_HTOD:
    case VGPU_CUDA_MEMCPY_DTOH:
    case VGPU_CUDA_MEMCPY_DTOD:
    case VGPU_CUDA_MEMSET:
        return call_copy(w, v->call, a);
    case VGPU_CUDA_LAUNCH:
        return call_launch(w, v);
    case VGPU_CUDA_STREAM_CREATE:
        return call_stream_create(w, a[0], out);
    case VGPU_CUDA_STREAM_DESTROY:
    case VGPU_CUDA_STREAM_SYNCHRONIZE:
    case VGPU_CUDA_STREAM_QUERY:
    case VGPU_CUDA_STREAM_WAIT_EVENT:
        return call_stream(w, v->call, a);
    case VGPU_CUDA_EVENT_CREATE:
        return call_event_create(w, a[0], out);
    default:
        return call_event(w, v->call, a, out);
    }
}

void vm_batch_run(struct vm_worker *w, uint64_t offset, uint64_t length, uint32_t results[2])
{
    size_t at = sizeof(struct vgpu_cuda_batch);
    struct vgpu_cuda_call_view v;
    long count;

    results[0] = VGPU_CUDA_ERROR_INVALID_VALUE;
    results[1] = 0;
    w->kernels = 0;
    w->wait_deadline_ns = cuda_now_ns() + VGPU_CUDA_WAIT_SLICE_MS * 1000000ull;
    if (!window_range(w, offset, length) || length > VGPU_CUDA_BATCH_MAX) {
        return;
    }
    memcpy(w->batch, w->window + offset, length);
    count = vgpu_cuda_batch_open(w->batch, length);
    if (count < 0) {
        return;
    }
    results[0] = VGPU_CUDA_SUCCESS;
    for (long i = 0; i < count; i++) {
        uint64_t out[2] = { 0, 0 };
        uint32_t result;

        if (!vgpu_cuda_batch_next(w->batch, length, &at, &v)) {
            results[0] = VGPU_CUDA_ERROR_INVALID_VALUE;
            results[1] = (uint32_t)i;
            break;
        }
        result = call_run(w, &v, out);
        vgpu_cuda_record_set(&v, result, out[0], out[1]);
        if (error_is_sticky(result)) {
            w->poisoned = true;
        }
        if (w->exit_for_reset) {
            results[0] = result;
            results[1] = (uint32_t)i;
            break;
        }
        /* a query's "not ready" is its answer; any other error, or a wait
         * still waiting, ends the batch */
        if (result != VGPU_CUDA_SUCCESS && result != VGPU_CUDA_ERROR_NOT_READY) {
            results[0] = result;
            results[1] = (uint32_t)i;
            break;
        }
    }
    /* the answers, in place: the records the guest wrote, with results and outputs */
    memcpy(w->window + offset, w->batch, at);
}
