/*
 * The CUDA host of the guest runtime's tests: see fake-cuda.h.  The error
 * numbers are NVIDIA's cudaError_t values (this file does not include the
 * toolkit's headers: it is plain C and GLib).
 */
#include <string.h>

#include "fake-cuda.h"
#include "vgpu/cuda-batch.h"

#define ERR_INVALID_VALUE           1
#define ERR_MEMORY_ALLOCATION       2
#define ERR_INVALID_CONFIGURATION   9
#define ERR_INVALID_SYMBOL          13
#define ERR_INVALID_DEVICE_FUNCTION 98
#define ERR_INVALID_KERNEL_IMAGE    200
#define ERR_INVALID_RESOURCE_HANDLE 400
#define ERR_ILLEGAL_ADDRESS         700

#define FATBIN_MAGIC        0xba55ed50u
#define MEMORY_BASE         0x7f1000000000ull   /* where allocations start */
#define MEMORY_GAP          4096u               /* between allocations: one past the end is foreign */
#define MODULE_BASE         0x3300000000ull     /* handles of each kind in ranges of their own */
#define FUNCTION_BASE       0x3400000000ull
#define STREAM_BASE         0x3500000000ull
#define EVENT_BASE          0x3600000000ull
#define VARIABLE_SIZE       4u                  /* `scale` and `counter` */

typedef struct {
    guint64 base, size;
    guint8 *bytes;
    guint64 module;         /* a module's variable (0: a MALLOC allocation) */
} FakeAlloc;

typedef struct {
    guint64 handle;
    GBytes *image;
    guint64 scale, counter; /* its variables' addresses */
} FakeModule;

typedef struct FakeCudaKernel FakeCudaKernel;

typedef struct {
    guint64 handle, module;
    const FakeCudaKernel *kernel;
} FakeFunction;

typedef struct {
    guint64 handle;
    guint64 flags;
    gboolean recorded;
    double time_ms;
} FakeEvent;

/* A launch: the kernel's packed parameters and its grid's x threads. */
typedef struct {
    const guint8 *params;
    guint64 threads;
    const FakeModule *module;
} FakeLaunch;

struct FakeCudaKernel {
    const char *name;
    guint32 param_count;
    guint32 layout[8];      /* (offset, size) pairs */
    guint32 (*run)(FakeCuda *host, const FakeLaunch *launch);
};

struct FakeCuda {
    GMutex lock;
    guint32 answer;         /* 0, or what every call gets */
    guint32 fail_call, fail_error;
    guint wait_rounds;      /* synchronizes still to answer STILL_WAITING */
    GArray *allocs;         /* FakeAlloc, sorted by base */
    guint64 next_address;
    GArray *modules;        /* FakeModule */
    GPtrArray *images;      /* GBytes of every module loaded, in order */
    GArray *functions;      /* FakeFunction */
    GArray *streams;        /* guint64 */
    GArray *events;         /* FakeEvent */
    guint64 next_handle;
    double clock_ms;
    FakeCudaStats stats;
    GArray *log;            /* FakeCudaRecord */
};

/* ---- device memory ---- */

static FakeAlloc *alloc_at(FakeCuda *host, guint64 address, guint64 len)
{
    for (guint i = 0; i < host->allocs->len; i++) {
        FakeAlloc *a = &g_array_index(host->allocs, FakeAlloc, i);

        if (address >= a->base && address - a->base <= a->size &&
            len <= a->size - (address - a->base)) {
            return a;
        }
    }
    return NULL;
}

/* The bytes at [address, address + len) of one allocation, or NULL. */
static guint8 *memory(FakeCuda *host, guint64 address, guint64 len)
{
    FakeAlloc *a = alloc_at(host, address, len);

    return a ? a->bytes + (address - a->base) : NULL;
}

static guint64 memory_add(FakeCuda *host, guint64 size, guint64 module)
{
    FakeAlloc a = { host->next_address, size, g_malloc0(size ? size : 1), module };

    host->next_address += (size + 255) / 256 * 256 + MEMORY_GAP;
    g_array_append_val(host->allocs, a);
    return a.base;
}

static void memory_drop(FakeCuda *host, guint i)
{
    g_free(g_array_index(host->allocs, FakeAlloc, i).bytes);
    g_array_remove_index(host->allocs, i);
}

gboolean fake_cuda_read(FakeCuda *host, guint64 address, void *buf, gsize len)
{
    guint8 *p;

    g_mutex_lock(&host->lock);
    p = memory(host, address, len);
    if (p) {
        memcpy(buf, p, len);
    }
    g_mutex_unlock(&host->lock);
    return p != NULL;
}

/* ---- the kernels ---- */

static guint64 param64(const FakeLaunch *l, guint offset)
{
    guint64 v;

    memcpy(&v, l->params + offset, 8);
    return GUINT64_FROM_LE(v);
}

static gint32 param32(const FakeLaunch *l, guint offset)
{
    guint32 v;

    memcpy(&v, l->params + offset, 4);
    return (gint32)GUINT32_FROM_LE(v);
}

static guint64 elements(const FakeLaunch *l, gint32 n)
{
    return n < 0 ? 0 : MIN((guint64)n, l->threads);
}

static guint32 run_vector_add(FakeCuda *host, const FakeLaunch *l)
{
    guint64 n = elements(l, param32(l, 48));
    float *a = (float *)memory(host, param64(l, 0), 4 * n);
    float *b = (float *)memory(host, param64(l, 16), 4 * n);
    float *c = (float *)memory(host, param64(l, 32), 4 * n);

    if (!a || !b || !c) {
        return ERR_ILLEGAL_ADDRESS;
    }
    for (guint64 i = 0; i < n; i++) {
        c[i] = a[i] + b[i];
    }
    return 0;
}

static guint32 run_empty(FakeCuda *host, const FakeLaunch *l)
{
    (void)host; (void)l;
    return 0;
}

static guint32 run_scale_by_constant(FakeCuda *host, const FakeLaunch *l)
{
    guint64 n = elements(l, param32(l, 8));
    float *x = (float *)memory(host, param64(l, 0), 4 * n);
    float *scale = (float *)memory(host, l->module->scale, 4);
    guint32 *counter = (guint32 *)memory(host, l->module->counter, 4);

    if (!x || !scale || !counter) {
        return ERR_ILLEGAL_ADDRESS;
    }
    for (guint64 i = 0; i < n; i++) {
        x[i] *= *scale;
    }
    (*counter)++;
    return 0;
}

static guint32 run_out_of_bounds(FakeCuda *host, const FakeLaunch *l)
{
    (void)host; (void)l;
    return ERR_ILLEGAL_ADDRESS;
}

static const FakeCudaKernel kernels[] = {
    { "_Z10vector_addPKfS0_Pfi", 4, { 0, 8, 16, 8, 32, 8, 48, 4 }, run_vector_add },
    { "_Z12empty_kernelv", 0, { 0 }, run_empty },
    { "_Z17scale_by_constantPfi", 2, { 0, 8, 8, 4 }, run_scale_by_constant },
    { "_Z13out_of_boundsPi", 1, { 0, 8 }, run_out_of_bounds },
};

/* ---- handles ---- */

static gboolean stream_known(FakeCuda *host, guint64 stream)
{
    if (stream == 0) {
        return TRUE;
    }
    for (guint i = 0; i < host->streams->len; i++) {
        if (g_array_index(host->streams, guint64, i) == stream) {
            return TRUE;
        }
    }
    return FALSE;
}

static FakeModule *module_find(FakeCuda *host, guint64 handle, guint *index)
{
    for (guint i = 0; i < host->modules->len; i++) {
        if (g_array_index(host->modules, FakeModule, i).handle == handle) {
            if (index) {
                *index = i;
            }
            return &g_array_index(host->modules, FakeModule, i);
        }
    }
    return NULL;
}

static FakeFunction *function_find(FakeCuda *host, guint64 handle)
{
    for (guint i = 0; i < host->functions->len; i++) {
        if (g_array_index(host->functions, FakeFunction, i).handle == handle) {
            return &g_array_index(host->functions, FakeFunction, i);
        }
    }
    return NULL;
}

static FakeEvent *event_find(FakeCuda *host, guint64 handle, guint *index)
{
    for (guint i = 0; i < host->events->len; i++) {
        if (g_array_index(host->events, FakeEvent, i).handle == handle) {
            if (index) {
                *index = i;
            }
            return &g_array_index(host->events, FakeEvent, i);
        }
    }
    return NULL;
}

/* A name in a record's tail: NUL-terminated inside it, else NULL. */
static const char *tail_name(const struct vgpu_cuda_call_view *v)
{
    return memchr(v->tail, '\0', v->tail_len) ? (const char *)v->tail : NULL;
}

static gboolean window_range(guint64 window_size, guint64 offset, guint64 len)
{
    return offset <= window_size && len <= window_size - offset;
}

/* Forget everything of the program: DEVICE_RESET. */
static void device_reset(FakeCuda *host)
{
    while (host->allocs->len) {
        memory_drop(host, 0);
    }
    for (guint i = 0; i < host->modules->len; i++) {
        g_bytes_unref(g_array_index(host->modules, FakeModule, i).image);
    }
    g_array_set_size(host->modules, 0);
    g_array_set_size(host->functions, 0);
    g_array_set_size(host->streams, 0);
    g_array_set_size(host->events, 0);
    host->stats.memory_used = 0;
    host->stats.allocations = 0;
    host->stats.modules = 0;
}

static void put32(guint8 *p, guint32 v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, 4);
}

static void put64(guint8 *p, guint64 v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, 8);
}

/* What DEVICE_PROPERTIES writes: an H100-like GPU with the quota as memory. */
static void device_properties(guint8 *p)
{
    static const guint32 dims[3] = { 1024, 1024, 64 }, grid[3] = { 0x7fffffff, 65535, 65535 };

    memset(p, 0, sizeof(struct vgpu_cuda_device));
    strcpy((char *)p, "vgpu-stub test GPU");
#define PUT64(field, v) put64(p + offsetof(struct vgpu_cuda_device, field), v)
#define PUT32(field, v) put32(p + offsetof(struct vgpu_cuda_device, field), v)
    PUT64(total_memory, FAKE_CUDA_MEMORY);
    PUT64(shared_memory_per_block, 48 << 10);
    PUT64(shared_memory_per_block_optin, 227 << 10);
    PUT64(shared_memory_per_multiprocessor, 228 << 10);
    PUT64(constant_memory, 64 << 10);
    PUT64(l2_cache_size, 50 << 20);
    PUT32(compute_major, 9);
    PUT32(compute_minor, 0);
    PUT32(multiprocessors, 132);
    PUT32(warp_size, 32);
    PUT32(max_threads_per_block, 1024);
    for (int i = 0; i < 3; i++) {
        PUT32(max_threads_dim[i], dims[i]);
        PUT32(max_grid_size[i], grid[i]);
    }
    PUT32(max_threads_per_multiprocessor, 2048);
    PUT32(registers_per_block, 65536);
    PUT32(registers_per_multiprocessor, 65536);
    PUT32(clock_khz, 1980000);
    PUT32(memory_clock_khz, 2619000);
    PUT32(memory_bus_width, 5120);
    PUT32(pci_bus, 0x1b);
    PUT32(pci_device, 0);
    PUT32(pci_domain, 0);
#undef PUT64
#undef PUT32
}

/* ---- the calls ---- */

static guint32 call_module_load(FakeCuda *host, guint8 *window, guint64 window_size,
                                const guint64 *w, guint64 *out)
{
    FakeModule m = { 0 };
    guint32 magic;
    guint16 header_size;
    guint64 fat_size;

    if (!window_range(window_size, w[0], w[1]) || w[1] < 16) {
        return ERR_INVALID_VALUE;
    }
    memcpy(&magic, window + w[0], 4);
    memcpy(&header_size, window + w[0] + 6, 2);
    memcpy(&fat_size, window + w[0] + 8, 8);
    if (GUINT32_FROM_LE(magic) != FATBIN_MAGIC ||
        GUINT16_FROM_LE(header_size) + GUINT64_FROM_LE(fat_size) != w[1]) {
        return ERR_INVALID_KERNEL_IMAGE;
    }
    m.handle = MODULE_BASE + host->next_handle++;
    m.image = g_bytes_new(window + w[0], w[1]);
    m.scale = memory_add(host, VARIABLE_SIZE, m.handle);
    m.counter = memory_add(host, VARIABLE_SIZE, m.handle);
    g_ptr_array_add(host->images, g_bytes_ref(m.image));
    g_array_append_val(host->modules, m);
    host->stats.modules++;
    out[0] = m.handle;
    return 0;
}

static guint32 call_module_unload(FakeCuda *host, guint64 module)
{
    guint index;
    FakeModule *m = module_find(host, module, &index);

    if (!m) {
        return ERR_INVALID_RESOURCE_HANDLE;
    }
    for (guint i = host->allocs->len; i-- > 0;) {
        if (g_array_index(host->allocs, FakeAlloc, i).module == module) {
            memory_drop(host, i);
        }
    }
    g_bytes_unref(m->image);
    g_array_remove_index(host->modules, index);
    host->stats.modules--;
    return 0;
}

static guint32 call_function_get(FakeCuda *host, const struct vgpu_cuda_call_view *v,
                                 guint64 *out)
{
    const char *name = tail_name(v);
    FakeFunction f = { 0 };

    if (!module_find(host, v->words[0], NULL)) {
        return ERR_INVALID_RESOURCE_HANDLE;
    }
    if (!name) {
        return ERR_INVALID_VALUE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(kernels) && !f.kernel; i++) {
        if (strcmp(kernels[i].name, name) == 0) {
            f.kernel = &kernels[i];
        }
    }
    if (!f.kernel) {
        return ERR_INVALID_DEVICE_FUNCTION;
    }
    f.handle = FUNCTION_BASE + host->next_handle++;
    f.module = v->words[0];
    g_array_append_val(host->functions, f);
    out[0] = f.handle;
    out[1] = f.kernel->param_count;
    return 0;
}

static guint32 call_function_params(FakeCuda *host, guint8 *window, guint64 window_size,
                                    const guint64 *w)
{
    FakeFunction *f = function_find(host, w[0]);

    if (!f) {
        return ERR_INVALID_RESOURCE_HANDLE;
    }
    if (!window_range(window_size, w[1], w[2]) || w[2] < 8ull * f->kernel->param_count) {
        return ERR_INVALID_VALUE;
    }
    for (guint i = 0; i < 2 * f->kernel->param_count; i++) {
        put32(window + w[1] + 4 * i, f->kernel->layout[i]);
    }
    return 0;
}

static guint32 call_variable_get(FakeCuda *host, const struct vgpu_cuda_call_view *v,
                                 guint64 *out)
{
    const char *name = tail_name(v);
    FakeModule *m = module_find(host, v->words[0], NULL);

    if (!m) {
        return ERR_INVALID_RESOURCE_HANDLE;
    }
    if (!name) {
        return ERR_INVALID_VALUE;
    }
    if (strcmp(name, "scale") != 0 && strcmp(name, "counter") != 0) {
        return ERR_INVALID_SYMBOL;
    }
    out[0] = strcmp(name, "scale") == 0 ? m->scale : m->counter;
    out[1] = VARIABLE_SIZE;
    return 0;
}

static guint32 call_malloc(FakeCuda *host, guint64 size, guint64 *out)
{
    if (size == 0) {
        return ERR_INVALID_VALUE;
    }
    if (size > FAKE_CUDA_MEMORY - host->stats.memory_used) {
        return ERR_MEMORY_ALLOCATION;
    }
    out[0] = memory_add(host, size, 0);
    host->stats.memory_used += size;
    host->stats.allocations++;
    return 0;
}

static guint32 call_free(FakeCuda *host, guint64 pointer)
{
    for (guint i = 0; i < host->allocs->len; i++) {
        FakeAlloc *a = &g_array_index(host->allocs, FakeAlloc, i);

        if (a->base == pointer && a->module == 0) {
            host->stats.memory_used -= a->size;
            host->stats.allocations--;
            memory_drop(host, i);
            return 0;
        }
    }
    return ERR_INVALID_VALUE;
}

static guint32 call_copy(FakeCuda *host, guint8 *window, guint64 window_size, guint32 call,
                         const guint64 *w)
{
    guint8 *dst, *src;

    if (!stream_known(host, w[3])) {
        return ERR_INVALID_RESOURCE_HANDLE;
    }
    switch (call) {
    case VGPU_CUDA_MEMCPY_HTOD:
        dst = memory(host, w[0], w[2]);
        src = window_range(window_size, w[1], w[2]) ? window + w[1] : NULL;
        break;
    case VGPU_CUDA_MEMCPY_DTOH:
        dst = window_range(window_size, w[0], w[2]) ? window + w[0] : NULL;
        src = memory(host, w[1], w[2]);
        break;
    default:
        dst = memory(host, w[0], w[2]);
        src = memory(host, w[1], w[2]);
        break;
    }
    if (!dst || !src) {
        return ERR_INVALID_VALUE;
    }
    memmove(dst, src, w[2]);
    return 0;
}

static guint32 call_memset(FakeCuda *host, const guint64 *w)
{
    guint8 *dst = memory(host, w[0], w[2]);

    if (!stream_known(host, w[3])) {
        return ERR_INVALID_RESOURCE_HANDLE;
    }
    if (!dst || w[1] > 0xff) {
        return ERR_INVALID_VALUE;
    }
    memset(dst, (int)w[1], w[2]);
    return 0;
}

static guint32 call_launch(FakeCuda *host, const struct vgpu_cuda_call_view *v)
{
    const guint64 *w = v->words;
    FakeFunction *f = function_find(host, w[0]);
    guint32 dims[6] = { (guint32)w[1], (guint32)(w[1] >> 32), (guint32)w[2],
                        (guint32)(w[2] >> 32), (guint32)w[3], (guint32)(w[3] >> 32) };
    FakeLaunch launch = { v->tail, (guint64)dims[0] * dims[3], NULL };
    guint32 needed = 0;

    if (!f || !stream_known(host, w[5])) {
        return ERR_INVALID_RESOURCE_HANDLE;
    }
    for (int i = 0; i < 6; i++) {
        if (dims[i] == 0) {
            return ERR_INVALID_CONFIGURATION;
        }
    }
    for (guint i = 0; i < f->kernel->param_count; i++) {
        needed = MAX(needed, f->kernel->layout[2 * i] + f->kernel->layout[2 * i + 1]);
    }
    if (v->tail_len < needed) {
        return ERR_INVALID_VALUE;
    }
    launch.module = module_find(host, f->module, NULL);
    host->clock_ms += 1.0;
    return f->kernel->run(host, &launch);
}

static guint32 handle_new(FakeCuda *host, GArray *set, guint64 base, guint64 *out)
{
    guint64 handle = base + host->next_handle++;

    g_array_append_val(set, handle);
    out[0] = handle;
    return 0;
}

static guint32 call_stream(FakeCuda *host, guint32 call, const guint64 *w)
{
    if (!stream_known(host, w[0]) || (call == VGPU_CUDA_STREAM_DESTROY && w[0] == 0)) {
        return ERR_INVALID_RESOURCE_HANDLE;
    }
    if (call == VGPU_CUDA_STREAM_DESTROY) {
        for (guint i = 0; i < host->streams->len; i++) {
            if (g_array_index(host->streams, guint64, i) == w[0]) {
                g_array_remove_index(host->streams, i);
                break;
            }
        }
    }
    if (call == VGPU_CUDA_STREAM_WAIT_EVENT && !event_find(host, w[1], NULL)) {
        return ERR_INVALID_RESOURCE_HANDLE;
    }
    return 0;
}

static guint32 call_event(FakeCuda *host, guint32 call, const guint64 *w, guint64 *out)
{
    guint index;
    FakeEvent *e = event_find(host, w[0], &index), *end;
    float ms;
    guint32 bits;

    if (!e) {
        return ERR_INVALID_RESOURCE_HANDLE;
    }
    switch (call) {
    case VGPU_CUDA_EVENT_DESTROY:
        g_array_remove_index(host->events, index);
        return 0;
    case VGPU_CUDA_EVENT_RECORD:
        if (!stream_known(host, w[1])) {
            return ERR_INVALID_RESOURCE_HANDLE;
        }
        e->recorded = TRUE;
        e->time_ms = host->clock_ms;
        return 0;
    case VGPU_CUDA_EVENT_ELAPSED:
        end = event_find(host, w[1], NULL);
        if (!end || !e->recorded || !end->recorded || (e->flags & 2) || (end->flags & 2)) {
            return ERR_INVALID_RESOURCE_HANDLE;     /* 2: cudaEventDisableTiming */
        }
        ms = (float)(end->time_ms - e->time_ms);
        memcpy(&bits, &ms, 4);
        out[0] = bits;
        return 0;
    default:
        return 0;
    }
}

static guint32 call_run(FakeCuda *host, guint8 *window, guint64 window_size,
                        const struct vgpu_cuda_call_view *v, guint64 *out)
{
    const guint64 *w = v->words;
    FakeEvent event = { 0 };

    switch (v->call) {
    case VGPU_CUDA_DEVICE_COUNT:
        out[0] = 1;
        return 0;
    case VGPU_CUDA_DEVICE_PROPERTIES:
        if (!window_range(window_size, w[0], w[1]) || w[1] < sizeof(struct vgpu_cuda_device)) {
            return ERR_INVALID_VALUE;
        }
        device_properties(window + w[0]);
        return 0;
    case VGPU_CUDA_MEM_GET_INFO:
        out[0] = FAKE_CUDA_MEMORY - host->stats.memory_used;
        out[1] = FAKE_CUDA_MEMORY;
        return 0;
    case VGPU_CUDA_DEVICE_SYNCHRONIZE:
        return 0;
    case VGPU_CUDA_DEVICE_RESET:
        device_reset(host);
        return 0;
    case VGPU_CUDA_MODULE_LOAD:
        return call_module_load(host, window, window_size, w, out);
    case VGPU_CUDA_MODULE_UNLOAD:
        return call_module_unload(host, w[0]);
    case VGPU_CUDA_FUNCTION_GET:
        return call_function_get(host, v, out);
    case VGPU_CUDA_FUNCTION_PARAMS:
        return call_function_params(host, window, window_size, w);
    case VGPU_CUDA_VARIABLE_GET:
        return call_variable_get(host, v, out);
    case VGPU_CUDA_MALLOC:
        return call_malloc(host, w[0], out);
    case VGPU_CUDA_FREE:
        return call_free(host, w[0]);
    case VGPU_CUDA_MEMCPY_HTOD:
    case VGPU_CUDA_MEMCPY_DTOH:
    case VGPU_CUDA_MEMCPY_DTOD:
        return call_copy(host, window, window_size, v->call, w);
    case VGPU_CUDA_MEMSET:
        return call_memset(host, w);
    case VGPU_CUDA_LAUNCH:
        return call_launch(host, v);
    case VGPU_CUDA_STREAM_CREATE:
        return w[0] > 1 ? ERR_INVALID_VALUE : handle_new(host, host->streams, STREAM_BASE, out);
    case VGPU_CUDA_EVENT_CREATE:
        if (w[0] > 7) {
            return ERR_INVALID_VALUE;
        }
        event.handle = EVENT_BASE + host->next_handle++;
        event.flags = w[0];
        g_array_append_val(host->events, event);
        out[0] = event.handle;
        return 0;
    case VGPU_CUDA_STREAM_DESTROY:
    case VGPU_CUDA_STREAM_SYNCHRONIZE:
    case VGPU_CUDA_STREAM_QUERY:
    case VGPU_CUDA_STREAM_WAIT_EVENT:
        return call_stream(host, v->call, w);
    default:
        return call_event(host, v->call, w, out);
    }
}

static void log_record(FakeCuda *host, const struct vgpu_cuda_call_view *v, guint32 result)
{
    FakeCudaRecord r = { .call = v->call, .tail_len = v->tail_len, .result = result };

    memcpy(r.words, v->words, sizeof(r.words));
    memcpy(r.tail, v->tail, MIN(v->tail_len, sizeof(r.tail)));
    g_array_append_val(host->log, r);
    host->stats.records++;
    if (v->call < FAKE_CUDA_CALLS) {
        host->stats.calls[v->call]++;
    }
}

static void fake_cuda_run(gpointer data, guint8 *window, guint64 window_size, guint64 offset,
                          guint64 length, guint32 results[2])
{
    FakeCuda *host = data;
    guint8 *batch = window + offset;
    long count = vgpu_cuda_batch_open(batch, length);
    size_t at = sizeof(struct vgpu_cuda_batch);
    struct vgpu_cuda_call_view v;
    guint32 result;

    g_mutex_lock(&host->lock);
    host->stats.batches++;
    host->stats.last_batch_records = count > 0 ? (guint)count : 0;
    results[0] = count < 0 ? ERR_INVALID_VALUE : 0;
    results[1] = 0;
    for (long i = 0; i < count; i++) {
        guint64 out[2] = { 0, 0 };

        if (!vgpu_cuda_batch_next(batch, length, &at, &v)) {
            results[0] = ERR_INVALID_VALUE;
            results[1] = (guint32)i;
            break;
        }
        if (host->answer) {
            result = host->answer;
        } else if (host->wait_rounds > 0 && (v.call == VGPU_CUDA_DEVICE_SYNCHRONIZE ||
                                             v.call == VGPU_CUDA_STREAM_SYNCHRONIZE ||
                                             v.call == VGPU_CUDA_EVENT_SYNCHRONIZE)) {
            result = VGPU_CUDA_STILL_WAITING;
            host->wait_rounds--;
        } else if (host->fail_call == v.call) {
            result = host->fail_error;
            host->fail_call = 0;
        } else {
            result = call_run(host, window, window_size, &v, out);
        }
        vgpu_cuda_record_set(&v, result, out[0], out[1]);
        log_record(host, &v, result);
        if (result != 0) {
            /* The records after a failure do not run; the all-answering
             * pools answer each one, as vgpu_cuda_batch_answer_all does. */
            if (results[0] == 0) {
                results[0] = result;
                results[1] = (guint32)i;
            }
            if (!host->answer) {
                break;
            }
        }
    }
    g_mutex_unlock(&host->lock);
}

FakeCuda *fake_cuda_new(FakeDevice *dev)
{
    FakeCuda *host = g_new0(FakeCuda, 1);

    g_mutex_init(&host->lock);
    host->allocs = g_array_new(FALSE, FALSE, sizeof(FakeAlloc));
    host->next_address = MEMORY_BASE;
    host->modules = g_array_new(FALSE, FALSE, sizeof(FakeModule));
    host->images = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    host->functions = g_array_new(FALSE, FALSE, sizeof(FakeFunction));
    host->streams = g_array_new(FALSE, FALSE, sizeof(guint64));
    host->events = g_array_new(FALSE, FALSE, sizeof(FakeEvent));
    host->log = g_array_new(FALSE, FALSE, sizeof(FakeCudaRecord));
    host->next_handle = 1;
    fake_device_set_cuda_host(dev, fake_cuda_run, host);
    return host;
}

void fake_cuda_free(FakeCuda *host)
{
    device_reset(host);
    g_array_unref(host->allocs);
    g_array_unref(host->modules);
    g_ptr_array_unref(host->images);
    g_array_unref(host->functions);
    g_array_unref(host->streams);
    g_array_unref(host->events);
    g_array_unref(host->log);
    g_mutex_clear(&host->lock);
    g_free(host);
}

void fake_cuda_set_answer(FakeCuda *host, guint32 error)
{
    g_mutex_lock(&host->lock);
    host->answer = error;
    g_mutex_unlock(&host->lock);
}

void fake_cuda_fail_next(FakeCuda *host, guint32 call, guint32 error)
{
    g_mutex_lock(&host->lock);
    host->fail_call = call;
    host->fail_error = error;
    g_mutex_unlock(&host->lock);
}

void fake_cuda_wait_rounds(FakeCuda *host, guint rounds)
{
    g_mutex_lock(&host->lock);
    host->wait_rounds = rounds;
    g_mutex_unlock(&host->lock);
}

void fake_cuda_stats(FakeCuda *host, FakeCudaStats *stats)
{
    g_mutex_lock(&host->lock);
    *stats = host->stats;
    g_mutex_unlock(&host->lock);
}

GArray *fake_cuda_log_take(FakeCuda *host)
{
    GArray *log;

    g_mutex_lock(&host->lock);
    log = host->log;
    host->log = g_array_new(FALSE, FALSE, sizeof(FakeCudaRecord));
    g_mutex_unlock(&host->lock);
    return log;
}

GBytes *fake_cuda_module_image(FakeCuda *host, guint n)
{
    GBytes *image = NULL;

    g_mutex_lock(&host->lock);
    if (n < host->images->len) {
        image = g_bytes_ref(g_ptr_array_index(host->images, n));
    }
    g_mutex_unlock(&host->lock);
    return image;
}
