/*
 * The VMs' CUDA workers (backend-cuda/vm-*.c) on a real GPU, driven
 * through the cuda plugin as the mediator drives it: each "VM" is a data
 * window (a sealed memfd) whose batches of CUDA calls (include/vgpu/cuda.h,
 * written with the contract's encoder) the plugin runs in that VM's own
 * vgpu-cuda-vm process.  The kernels are tests/gpu/vm-test-kernels.cu,
 * built by nvcc into a fat binary as a guest program's would be.
 *
 * Checked: kernels with their parameters laid out from CUDA's own
 * parameter information, copies both ways, variables, 10,000 launches in
 * one batch; every refusal (bad handles, foreign pointers, ranges past an
 * allocation or the window, malformed batches); the GPU memory quota; a
 * fault of one VM that leaves another's work and results untouched; and
 * that a VM's worker ends with its window.
 */
#include <dirent.h>
#include <fcntl.h>
#include <glib.h>
#include <gmodule.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vgpu/backend.h"
#include "vgpu/codec.h"
#include "vgpu/cuda-batch.h"
#include "vgpu/ops.h"

#define WINDOW_SIZE     (32u << 20)
#define BATCH_AT        0u
#define BATCH_SIZE      (1u << 20)
#define DATA_AT         (4u << 20)      /* bytes on their way to the GPU */
#define BACK_AT         (8u << 20)      /* bytes on their way back */
#define SCRATCH_AT      (12u << 20)     /* parameter layouts, device properties */
#define IMAGE_AT        (16u << 20)     /* the fat binary */
#define ELEMENTS        1024u

struct vm {
    struct vgpu_backend_window w;
    struct vgpu_backend_vm id;
    struct vgpu_backend_cuda_usage usage;
    struct vgpu_cuda_writer batch;
    size_t moved;               /* bytes the batch's records moved when sent again */
    uint64_t module;
};

static const struct vgpu_backend_ops *ops;
static void *unit;
static GBytes *image;
static uint64_t next_window_id = 1;

static void vm_open(struct vm *v, uint32_t vm_id, uint64_t quota)
{
    int fd = memfd_create("vgpu-test-window", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    memset(v, 0, sizeof(*v));
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, WINDOW_SIZE), ==, 0);
    g_assert_cmpint(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), ==, 0);
    v->w.base = mmap(NULL, WINDOW_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    g_assert_true(v->w.base != MAP_FAILED);
    v->w.fd = fd;
    v->w.size = WINDOW_SIZE;
    v->w.id = next_window_id++;
    v->id = (struct vgpu_backend_vm){ .vm_id = vm_id, .name = "test", .gpu_memory_quota = quota };
}

static void vm_close(struct vm *v)
{
    ops->window_released(unit, v->w.id);
    munmap(v->w.base, v->w.size);
    close(v->w.fd);
}

static void begin(struct vm *v)
{
    g_assert_true(vgpu_cuda_writer_init(&v->batch, v->w.base + BATCH_AT, BATCH_SIZE));
    v->moved = 0;
}

static long add(struct vm *v, uint32_t call, const uint64_t *words, const void *tail,
                size_t tail_len)
{
    long at = vgpu_cuda_writer_add(&v->batch, call, words, tail, tail_len);

    g_assert_cmpint(at, >=, 0);
    return at;
}

/* Send the batch written at `at` in the window once, as the mediator would;
 * *index gets the failing record's. */
static uint32_t run_at(struct vm *v, uint64_t at, uint32_t *index)
{
    struct vgpu_window_op op = { .opcode = VGPU_OP_CUDA, .a = at,
                                 .count = vgpu_cuda_writer_length(&v->batch) };
    unsigned char buf[VGPU_REQUEST_MAX];
    uint32_t results[VGPU_RESPONSE_MAX_RESULTS], count = 0;
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    struct vgpu_request_view view;
    struct vgpu_window_op checked;
    uint64_t exec_ns = 0;
    size_t len = vgpu_window_op_encode(buf, sizeof(buf), &op);

    g_assert_cmpuint(vgpu_request_decode(buf, len, &view), ==, VGPU_OK);
    g_assert_cmpuint(vgpu_window_op_decode(&view, v->w.size, &checked), ==, VGPU_OK);
    v->usage = (struct vgpu_backend_cuda_usage){ 0 };
    g_assert_cmpuint(ops->execute(unit, &(struct vgpu_backend_job){
                                      .request = &view, .op = &checked, .window = &v->w,
                                      .vm = &v->id, .usage = &v->usage },
                                  results, &count, &exec_ns, err, sizeof(err)),
                     ==, VGPU_OK);
    g_assert_cmpuint(count, ==, VGPU_CUDA_RESULTS);
    if (index) {
        *index = results[1];
    }
    return results[0];
}

static uint32_t run_once(struct vm *v, uint32_t *index)
{
    return run_at(v, BATCH_AT, index);
}

/* Run the batch as the guest library does: a wait left running goes again. */
static uint32_t run(struct vm *v, uint32_t *index)
{
    uint32_t status, at, dropped = 0;

    while ((status = run_once(v, &at)) == VGPU_CUDA_STILL_WAITING) {
        v->moved += vgpu_cuda_writer_drop_front(&v->batch, at);
        dropped += at;
    }
    if (index) {
        *index = at + dropped;
    }
    return status;
}

/* The outcome of the record added at `at`, wherever it is now. */
static uint32_t result_of(struct vm *v, long at, uint64_t out[2])
{
    uint64_t ignored[2];
    uint32_t result;

    vgpu_cuda_record_get(v->w.base + BATCH_AT, at - (long)v->moved, &result,
                         out ? out : ignored);
    return result;
}

/* One call in a batch of its own: its result, outputs in out. */
static uint32_t call1(struct vm *v, uint32_t call, const uint64_t *words, const void *tail,
                      size_t tail_len, uint64_t out[2])
{
    long at;

    begin(v);
    at = add(v, call, words, tail, tail_len);
    run(v, NULL);
    return result_of(v, at, out);
}

static uint64_t malloc_ok(struct vm *v, uint64_t bytes)
{
    uint64_t out[2];

    g_assert_cmpuint(call1(v, VGPU_CUDA_MALLOC, (uint64_t[]){ bytes }, NULL, 0, out), ==, 0);
    g_assert_cmpuint(out[0], !=, 0);
    return out[0];
}

/* Reset the VM and load the kernels' module. */
static void vm_start(struct vm *v)
{
    uint64_t out[2];

    g_assert_cmpuint(call1(v, VGPU_CUDA_DEVICE_RESET, NULL, NULL, 0, NULL), ==, 0);
    memcpy(v->w.base + IMAGE_AT, g_bytes_get_data(image, NULL), g_bytes_get_size(image));
    g_assert_cmpuint(call1(v, VGPU_CUDA_MODULE_LOAD,
                           (uint64_t[]){ IMAGE_AT, g_bytes_get_size(image) }, NULL, 0, out), ==, 0);
    v->module = out[0];
}

/* A VM of its own (no quota), reset, with the kernels' module. */
static void vm_ready(struct vm *v, uint32_t vm_id)
{
    vm_open(v, vm_id, 0);
    vm_start(v);
}

/* A kernel's handle and its layout as the host reports it. */
static uint64_t function(struct vm *v, const char *name, uint32_t *layout, uint32_t *count)
{
    uint64_t out[2];

    g_assert_cmpuint(call1(v, VGPU_CUDA_FUNCTION_GET, &v->module, name, strlen(name) + 1, out),
                     ==, 0);
    *count = (uint32_t)out[1];
    g_assert_cmpuint(call1(v, VGPU_CUDA_FUNCTION_PARAMS,
                           (uint64_t[]){ out[0], SCRATCH_AT, 8u * *count }, NULL, 0, NULL), ==, 0);
    memcpy(layout, v->w.base + SCRATCH_AT, 8u * *count);
    return out[0];
}

static uint64_t dims(uint32_t lo, uint32_t hi)
{
    return lo | (uint64_t)hi << 32;
}

/* Append add_one(x, n) on the default stream. */
static void add_add_one(struct vm *v, uint64_t f, uint64_t x, int32_t n)
{
    unsigned char params[16] = { 0 };

    memcpy(params, &x, 8);
    memcpy(params + 8, &n, 4);
    add(v, VGPU_CUDA_LAUNCH,
        (uint64_t[]){ f, dims((ELEMENTS + 255) / 256, 1), dims(1, 256), dims(1, 1), 0, 0 },
        params, sizeof(params));
}

static void fill(struct vm *v, int32_t first)
{
    int32_t *data = (int32_t *)(v->w.base + DATA_AT);

    for (uint32_t i = 0; i < ELEMENTS; i++) {
        data[i] = first + (int32_t)i;
    }
}

/* Copy x back and check it holds first, first + 1, ... */
static void expect(struct vm *v, uint64_t x, int32_t first)
{
    const int32_t *back = (const int32_t *)(v->w.base + BACK_AT);
    uint32_t index;

    begin(v);
    add(v, VGPU_CUDA_MEMCPY_DTOH, (uint64_t[]){ BACK_AT, x, 4 * ELEMENTS, 0 }, NULL, 0);
    add(v, VGPU_CUDA_STREAM_SYNCHRONIZE, (uint64_t[]){ 0 }, NULL, 0);
    g_assert_cmpuint(run(v, &index), ==, 0);
    for (uint32_t i = 0; i < ELEMENTS; i++) {
        if (back[i] != first + (int32_t)i) {
            g_error("element %u: %d, want %d", i, back[i], first + (int32_t)i);
        }
    }
}

static void test_kernel_and_copies(void)
{
    struct vm v;
    uint32_t layout[8], count, index;
    uint64_t f, x;

    vm_ready(&v, 1);
    f = function(&v, "add_one", layout, &count);
    g_assert_cmpuint(count, ==, 2);
    g_assert_cmpuint(layout[0], ==, 0);     /* int *x */
    g_assert_cmpuint(layout[1], ==, 8);
    g_assert_cmpuint(layout[2], ==, 8);     /* int n */
    g_assert_cmpuint(layout[3], ==, 4);
    x = malloc_ok(&v, 4 * ELEMENTS);
    fill(&v, 100);
    begin(&v);
    add(&v, VGPU_CUDA_MEMCPY_HTOD, (uint64_t[]){ x, DATA_AT, 4 * ELEMENTS, 0 }, NULL, 0);
    add_add_one(&v, f, x, ELEMENTS);
    g_assert_cmpuint(run(&v, &index), ==, 0);
    g_assert_true(v.usage.valid);
    g_assert_cmpuint(v.usage.kernels, ==, 1);
    g_assert_cmpuint(v.usage.memory_used, ==, 4 * ELEMENTS);
    expect(&v, x, 101);
    vm_close(&v);
}

/* A char, a double, a pointer, an int: offsets 0, 8, 16, 24 from CUDA; and a variable. */
static void test_layout_and_variable(void)
{
    struct vm v;
    uint32_t layout[8], count, index;
    unsigned char params[32] = { 0 };
    double factor = 3.0;
    int32_t n = ELEMENTS, *counter;
    uint64_t f, x, out[2];

    vm_open(&v, 1, 0);
    counter = (int32_t *)(v.w.base + BACK_AT);
    vm_start(&v);
    f = function(&v, "scale_and_count", layout, &count);
    g_assert_cmpuint(count, ==, 4);
    g_assert_cmpuint(layout[2], ==, 8);
    g_assert_cmpuint(layout[4], ==, 16);
    g_assert_cmpuint(layout[6], ==, 24);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_VARIABLE_GET, &v.module, "counter", 8, out), ==, 0);
    g_assert_cmpuint(out[1], ==, 4);
    x = malloc_ok(&v, 4 * ELEMENTS);
    fill(&v, 0);
    params[0] = 7;
    memcpy(params + 8, &factor, 8);
    memcpy(params + 16, &x, 8);
    memcpy(params + 24, &n, 4);
    *(int32_t *)(v.w.base + DATA_AT + 4 * ELEMENTS) = 40;
    begin(&v);
    add(&v, VGPU_CUDA_MEMCPY_HTOD, (uint64_t[]){ x, DATA_AT, 4 * ELEMENTS, 0 }, NULL, 0);
    add(&v, VGPU_CUDA_MEMCPY_HTOD, (uint64_t[]){ out[0], DATA_AT + 4 * ELEMENTS, 4, 0 }, NULL, 0);
    add(&v, VGPU_CUDA_LAUNCH,
        (uint64_t[]){ f, dims(ELEMENTS / 256, 1), dims(1, 256), dims(1, 1), 0, 0 },
        params, sizeof(params));
    add(&v, VGPU_CUDA_MEMCPY_DTOH, (uint64_t[]){ BACK_AT, out[0], 4, 0 }, NULL, 0);
    add(&v, VGPU_CUDA_DEVICE_SYNCHRONIZE, NULL, NULL, 0);
    g_assert_cmpuint(run(&v, &index), ==, 0);
    g_assert_cmpint(*counter, ==, 41);
    begin(&v);
    add(&v, VGPU_CUDA_MEMCPY_DTOH, (uint64_t[]){ BACK_AT, x, 4 * ELEMENTS, 0 }, NULL, 0);
    add(&v, VGPU_CUDA_DEVICE_SYNCHRONIZE, NULL, NULL, 0);
    g_assert_cmpuint(run(&v, &index), ==, 0);
    for (int32_t i = 0; i < (int32_t)ELEMENTS; i++) {
        g_assert_cmpint(((int32_t *)(v.w.base + BACK_AT))[i], ==, 3 * i + 7);
    }
    vm_close(&v);
}

/* Each refused call stops its batch there, with NVIDIA's error. */
static void test_refusals(void)
{
    static const unsigned char garbage[64] = { 1, 2, 3 };
    struct vm v;
    uint32_t layout[8], count, index;
    unsigned char short_params[8] = { 0 };
    uint64_t f, x, stream, out[2];
    long at;

    vm_ready(&v, 1);
    f = function(&v, "add_one", layout, &count);
    x = malloc_ok(&v, 4096);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_STREAM_CREATE, (uint64_t[]){ 0 }, NULL, 0, out), ==, 0);
    stream = out[0];

#define REFUSED(want, call, ...) \
    g_assert_cmpuint(call1(&v, call, (uint64_t[]){ __VA_ARGS__ }, NULL, 0, NULL), ==, want)
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_FREE, x + 16);            /* not a base */
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_HTOD, x, DATA_AT, 4097, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_HTOD, x + 4096, DATA_AT, 1, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_HTOD, x, WINDOW_SIZE - 8, 16, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_HTOD, x, UINT64_MAX - 7, 16, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_DTOH, WINDOW_SIZE, x, 1, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_DTOD, x, x + 2048, 4096, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMSET, x, 256, 16, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMSET, 0x1000, 0, 16, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_MEMSET, x, 0, 16, stream + 1);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_STREAM_SYNCHRONIZE, f);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_STREAM_DESTROY, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_EVENT_RECORD, stream, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_MODULE_UNLOAD, f);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_FUNCTION_PARAMS, v.module,
            SCRATCH_AT, 64);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_FUNCTION_PARAMS, f, WINDOW_SIZE - 8, 16);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_DEVICE_PROPERTIES, WINDOW_SIZE - 64, 256);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_EVENT_CREATE, 4);         /* interprocess */
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_STREAM_CREATE, 2);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MALLOC, 0);
    REFUSED(VGPU_CUDA_ERROR_MEMORY_ALLOCATION, VGPU_CUDA_MALLOC, 1ull << 50);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_LAUNCH, x, dims(1, 1),
            dims(1, 1), dims(1, 1), 0, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_CONFIGURATION, VGPU_CUDA_LAUNCH, f, dims(0, 1),
            dims(1, 1), dims(1, 1), 0, 0);
#undef REFUSED
    /* parameters shorter than the kernel's layout */
    g_assert_cmpuint(call1(&v, VGPU_CUDA_LAUNCH,
                           (uint64_t[]){ f, dims(1, 1), dims(1, 1), dims(1, 1), 0, 0 },
                           short_params, sizeof(short_params), NULL),
                     ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_FUNCTION_GET, &v.module, "no_such_kernel", 15, NULL),
                     ==, VGPU_CUDA_ERROR_INVALID_DEVICE_FUNCTION);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_VARIABLE_GET, &v.module, "no_such_variable", 17, NULL),
                     ==, VGPU_CUDA_ERROR_INVALID_SYMBOL);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_FUNCTION_GET, &v.module, "add_oneX", 8, NULL),
                     ==, VGPU_CUDA_ERROR_INVALID_VALUE);                        /* no NUL */
    memcpy(v.w.base + IMAGE_AT, garbage, sizeof(garbage));
    g_assert_cmpuint(call1(&v, VGPU_CUDA_MODULE_LOAD, (uint64_t[]){ IMAGE_AT, sizeof(garbage) },
                           NULL, 0, NULL), ==, VGPU_CUDA_ERROR_INVALID_KERNEL_IMAGE);

    /* a batch stops at its first failure: the records after it never run */
    begin(&v);
    add(&v, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0);
    at = add(&v, VGPU_CUDA_FREE, (uint64_t[]){ 0x1000 }, NULL, 0);
    add(&v, VGPU_CUDA_FREE, (uint64_t[]){ x }, NULL, 0);
    g_assert_cmpuint(run(&v, &index), ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    g_assert_cmpuint(index, ==, 1);
    g_assert_cmpuint(result_of(&v, at, NULL), ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    g_assert_cmpuint(v.usage.memory_used, ==, 4096);                    /* x still held */

    /* a malformed batch: bad magic */
    begin(&v);
    add(&v, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0);
    v.w.base[BATCH_AT] ^= 0xff;
    g_assert_cmpuint(run(&v, &index), ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    /* the worker serves on */
    g_assert_cmpuint(call1(&v, VGPU_CUDA_FREE, (uint64_t[]){ x }, NULL, 0, NULL), ==, 0);
    vm_close(&v);
}

/* Another VM's device pointer names nothing of this VM. */
static void test_foreign_pointer(void)
{
    struct vm a, b;
    uint64_t xa;

    vm_ready(&a, 1);
    vm_ready(&b, 2);
    xa = malloc_ok(&a, 4 * ELEMENTS);
    fill(&a, 5);
    g_assert_cmpuint(call1(&a, VGPU_CUDA_MEMCPY_HTOD, (uint64_t[]){ xa, DATA_AT, 4 * ELEMENTS, 0 },
                           NULL, 0, NULL), ==, 0);
    fill(&b, 999);
    g_assert_cmpuint(call1(&b, VGPU_CUDA_MEMCPY_HTOD, (uint64_t[]){ xa, DATA_AT, 4 * ELEMENTS, 0 },
                           NULL, 0, NULL), ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    g_assert_cmpuint(call1(&b, VGPU_CUDA_MEMCPY_DTOH, (uint64_t[]){ BACK_AT, xa, 4, 0 },
                           NULL, 0, NULL), ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    g_assert_cmpuint(call1(&b, VGPU_CUDA_FREE, (uint64_t[]){ xa }, NULL, 0, NULL),
                     ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    /* handles are each worker's own numbers: A's may equal one of B's, never name A's */
    call1(&b, VGPU_CUDA_MODULE_UNLOAD, &a.module, NULL, 0, NULL);
    g_assert_cmpuint(call1(&a, VGPU_CUDA_FUNCTION_GET, &a.module, "add_one", 8, NULL), ==, 0);
    expect(&a, xa, 5);
    vm_close(&a);
    vm_close(&b);
}

static void test_quota(void)
{
    struct vm v;
    struct vgpu_cuda_device d;
    uint64_t out[2], x;

    vm_open(&v, 3, 8u << 20);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_DEVICE_RESET, NULL, NULL, 0, NULL), ==, 0);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_MEM_GET_INFO, NULL, NULL, 0, out), ==, 0);
    g_assert_cmpuint(out[1], ==, 8u << 20);
    g_assert_cmpuint(out[0], ==, 8u << 20);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_DEVICE_PROPERTIES, (uint64_t[]){ SCRATCH_AT, sizeof(d) },
                           NULL, 0, NULL), ==, 0);
    memcpy(&d, v.w.base + SCRATCH_AT, sizeof(d));
    g_assert_cmpuint(d.total_memory, ==, 8u << 20);
    g_assert_cmpuint(d.compute_major, >=, 7);
    g_assert_cmpuint(d.multiprocessors, >, 0);
    g_assert_cmpuint(d.warp_size, ==, 32);
    g_assert_cmpuint(strnlen(d.name, sizeof(d.name)), >, 0);
    g_test_message("device: %s, sm %u.%u, %u SMs", d.name, d.compute_major, d.compute_minor,
                   d.multiprocessors);
    x = malloc_ok(&v, 6u << 20);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_MALLOC, (uint64_t[]){ 4u << 20 }, NULL, 0, NULL),
                     ==, VGPU_CUDA_ERROR_MEMORY_ALLOCATION);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_MEM_GET_INFO, NULL, NULL, 0, out), ==, 0);
    g_assert_cmpuint(out[0], ==, 2u << 20);
    g_assert_cmpuint(v.usage.memory_used, ==, 6u << 20);
    g_assert_cmpuint(v.usage.memory_total, ==, 8u << 20);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_FREE, &x, NULL, 0, NULL), ==, 0);
    malloc_ok(&v, 4u << 20);
    g_assert_cmpuint(v.usage.memory_used, ==, 4u << 20);
    vm_close(&v);
}

/* A's kernel faults; B, running beside it, keeps its context and its results. */
static void test_fault_isolated(void)
{
    struct vm a, b;
    uint32_t layout[8], count, index;
    uint64_t fa, fb, far, xa, xb;
    unsigned char params[8];
    uint32_t e;

    vm_ready(&a, 1);
    vm_ready(&b, 2);
    fa = function(&a, "add_one", layout, &count);
    far = function(&a, "write_far", layout, &count);
    fb = function(&b, "add_one", layout, &count);
    xa = malloc_ok(&a, 4 * ELEMENTS);
    xb = malloc_ok(&b, 4 * ELEMENTS);
    fill(&b, 1000);
    g_assert_cmpuint(call1(&b, VGPU_CUDA_MEMCPY_HTOD, (uint64_t[]){ xb, DATA_AT, 4 * ELEMENTS, 0 },
                           NULL, 0, NULL), ==, 0);

    memcpy(params, &xa, 8);
    begin(&a);
    add(&a, VGPU_CUDA_LAUNCH, (uint64_t[]){ far, dims(1, 1), dims(1, 1), dims(1, 1), 0, 0 },
        params, sizeof(params));
    add(&a, VGPU_CUDA_DEVICE_SYNCHRONIZE, NULL, NULL, 0);
    add(&a, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0);
    e = run(&a, &index);
    g_test_message("the faulting VM got cudaError %u at record %u", e, index);
    g_assert_true(e == 700 || e == 719);
    g_assert_cmpuint(index, ==, 1);
    /* sticky: every later batch of A gets it, without a reset */
    g_assert_cmpuint(call1(&a, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0, NULL), ==, e);

    /* B is untouched: its kernel runs, its data is right */
    begin(&b);
    add_add_one(&b, fb, xb, ELEMENTS);
    g_assert_cmpuint(run(&b, &index), ==, 0);
    expect(&b, xb, 1001);

    /* A's reset gives it a fresh context */
    vm_start(&a);
    fa = function(&a, "add_one", layout, &count);
    xa = malloc_ok(&a, 4 * ELEMENTS);
    fill(&a, 0);
    begin(&a);
    add(&a, VGPU_CUDA_MEMCPY_HTOD, (uint64_t[]){ xa, DATA_AT, 4 * ELEMENTS, 0 }, NULL, 0);
    add_add_one(&a, fa, xa, ELEMENTS);
    g_assert_cmpuint(run(&a, &index), ==, 0);
    expect(&a, xa, 1);
    vm_close(&a);
    vm_close(&b);
}

/* 10,000 launches and one synchronize: one batch. */
static void test_many_launches(void)
{
    struct vm v;
    uint32_t layout[8], count, index;
    uint64_t f, x;

    vm_ready(&v, 1);
    f = function(&v, "add_one", layout, &count);
    x = malloc_ok(&v, 4 * ELEMENTS);
    fill(&v, 0);
    begin(&v);
    add(&v, VGPU_CUDA_MEMCPY_HTOD, (uint64_t[]){ x, DATA_AT, 4 * ELEMENTS, 0 }, NULL, 0);
    for (int i = 0; i < 10000; i++) {
        add_add_one(&v, f, x, ELEMENTS);
    }
    g_assert_cmpuint(run(&v, &index), ==, 0);
    g_assert_cmpuint(v.usage.kernels, ==, 10000);
    expect(&v, x, 10000);
    vm_close(&v);
}

static void add_spin(struct vm *v, uint64_t f, uint64_t ns)
{
    add(v, VGPU_CUDA_LAUNCH, (uint64_t[]){ f, dims(1, 1), dims(1, 1), dims(1, 1), 0, 0 }, &ns, 8);
}

/*
 * A wait on a long kernel answers STILL_WAITING after its slice, so the
 * unit serves another VM meanwhile; sent again, it ends when the kernel
 * does.  A reset with a kernel running ends the worker and the kernel.
 */
static void test_waits_take_turns(void)
{
    struct vm a, b;
    uint32_t layout[8], count, index, rounds = 0;
    uint64_t spin, fb, xb;
    gint64 start, took;

    vm_ready(&a, 1);
    vm_ready(&b, 2);
    spin = function(&a, "spin", layout, &count);
    fb = function(&b, "add_one", layout, &count);
    xb = malloc_ok(&b, 4 * ELEMENTS);
    fill(&b, 0);

    start = g_get_monotonic_time();
    begin(&a);
    add_spin(&a, spin, 800000000ull);                   /* 0.8 s */
    add(&a, VGPU_CUDA_DEVICE_SYNCHRONIZE, NULL, NULL, 0);
    g_assert_cmpuint(run_once(&a, &index), ==, VGPU_CUDA_STILL_WAITING);
    g_assert_cmpuint(index, ==, 1);
    took = g_get_monotonic_time() - start;
    g_test_message("a wait on a 0.8 s kernel came back after %" G_GINT64_FORMAT " us", took);
    g_assert_cmpint(took, <, 300000);

    /* B's work runs meanwhile, beside A's kernel */
    begin(&b);
    add(&b, VGPU_CUDA_MEMCPY_HTOD, (uint64_t[]){ xb, DATA_AT, 4 * ELEMENTS, 0 }, NULL, 0);
    add_add_one(&b, fb, xb, ELEMENTS);
    g_assert_cmpuint(run(&b, &index), ==, 0);
    expect(&b, xb, 1);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 600000);

    /* A's wait again and again until its kernel ends */
    do {
        begin(&a);
        add(&a, VGPU_CUDA_DEVICE_SYNCHRONIZE, NULL, NULL, 0);
        rounds++;
    } while (run_once(&a, &index) == VGPU_CUDA_STILL_WAITING);
    took = g_get_monotonic_time() - start;
    g_test_message("A's wait ended after %u more rounds, %" G_GINT64_FORMAT " us", rounds, took);
    g_assert_cmpuint(result_of(&a, sizeof(struct vgpu_cuda_batch), NULL), ==, 0);
    g_assert_cmpint(took, >=, 800000);

    /* a reset with a 5 s kernel running ends it */
    start = g_get_monotonic_time();
    begin(&a);
    add_spin(&a, spin, 5000000000ull);
    g_assert_cmpuint(run(&a, &index), ==, 0);
    begin(&a);
    add(&a, VGPU_CUDA_DEVICE_RESET, NULL, NULL, 0);
    add(&a, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0);
    g_assert_cmpuint(run_once(&a, &index), ==, VGPU_CUDA_STILL_WAITING);
    begin(&a);
    add(&a, VGPU_CUDA_DEVICE_RESET, NULL, NULL, 0);
    add(&a, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0);
    g_assert_cmpuint(run(&a, &index), ==, 0);
    took = g_get_monotonic_time() - start;
    g_test_message("a reset beside a 5 s kernel took %" G_GINT64_FORMAT " us", took);
    g_assert_cmpint(took, <, 3000000);
    vm_close(&a);
    vm_close(&b);
}

struct racing {
    struct vm *v;
    uint32_t status;
};

static gpointer run_in_thread(gpointer data)
{
    struct racing *r = data;

    r->status = run_once(r->v, NULL);
    return NULL;
}

/*
 * A VM's device has one request in flight; a QEMU sending a second batch of
 * the same window while one runs (two units of a pool could take them)
 * gets it refused, never two threads driving one worker.
 */
static void test_second_batch_refused(void)
{
    struct vm a, again;
    uint32_t layout[8], count;
    uint64_t spin;
    struct racing first;
    GThread *thread;

    vm_ready(&a, 1);
    spin = function(&a, "spin", layout, &count);
    begin(&a);
    add_spin(&a, spin, 2000000000ull);
    add(&a, VGPU_CUDA_DEVICE_SYNCHRONIZE, NULL, NULL, 0);
    first = (struct racing){ .v = &a };
    thread = g_thread_new("first", run_in_thread, &first);
    g_usleep(5000);
    /* the same window, another batch in it: a second request of the same device */
    again = a;
    g_assert_true(vgpu_cuda_writer_init(&again.batch, a.w.base + BATCH_SIZE, BATCH_SIZE));
    vgpu_cuda_writer_add(&again.batch, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0);
    g_assert_cmpuint(run_at(&again, BATCH_SIZE, NULL), ==, VGPU_CUDA_ERROR_DEVICES_UNAVAILABLE);
    g_thread_join(thread);
    g_assert_cmpuint(first.status, ==, VGPU_CUDA_STILL_WAITING);
    vm_start(&a);               /* the reset ends the 2 s kernel; the worker serves on */
    vm_close(&a);
}

/* This test's vgpu-cuda-vm children. */
static unsigned vm_workers(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    unsigned n = 0;

    g_assert_nonnull(d);
    while ((e = readdir(d))) {
        char path[300], *stat = NULL;
        const char *close_paren;

        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        if (g_file_get_contents(path, &stat, NULL, NULL) && strstr(stat, "(vgpu-cuda-vm)") &&
            (close_paren = strrchr(stat, ')')) &&
            atoi(close_paren + 4) == getpid()) {          /* ") S ppid" */
            n++;
        }
        g_free(stat);
    }
    closedir(d);
    return n;
}

static void test_worker_ends_with_window(void)
{
    struct vm a, b;

    vm_ready(&a, 1);
    vm_ready(&b, 2);
    g_assert_cmpuint(vm_workers(), ==, 2);
    vm_close(&a);
    g_assert_cmpuint(vm_workers(), ==, 1);
    vm_close(&b);
    g_assert_cmpuint(vm_workers(), ==, 0);
}

int main(int argc, char **argv)
{
    struct vgpu_backend_unit_config config = { .index = 0 };
    struct vgpu_backend_unit_info info;
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    vgpu_backend_entry_fn entry;
    GModule *module;
    GError *error = NULL;
    gchar *bytes;
    gsize len;

    g_test_init(&argc, &argv, NULL);
    module = g_module_open(VGPU_CUDA_PLUGIN_PATH, G_MODULE_BIND_LOCAL);
    if (!module || !g_module_symbol(module, VGPU_BACKEND_ENTRY_SYMBOL, (gpointer *)&entry)) {
        g_error("loading %s: %s", VGPU_CUDA_PLUGIN_PATH, g_module_error());
    }
    ops = entry();
    unit = ops->open(&config, &info, err, sizeof(err));
    if (!unit) {
        g_error("opening GPU 0: %s", err);
    }
    if (!g_file_get_contents(VGPU_VM_TEST_FATBIN, &bytes, &len, &error)) {
        g_error("%s", error->message);
    }
    image = g_bytes_new_take(bytes, len);
    g_test_add_func("/cuda-vm/kernel-and-copies", test_kernel_and_copies);
    g_test_add_func("/cuda-vm/layout-from-cuda-and-variables", test_layout_and_variable);
    g_test_add_func("/cuda-vm/refusals", test_refusals);
    g_test_add_func("/cuda-vm/foreign-pointer-refused", test_foreign_pointer);
    g_test_add_func("/cuda-vm/quota", test_quota);
    g_test_add_func("/cuda-vm/fault-stays-in-its-vm", test_fault_isolated);
    g_test_add_func("/cuda-vm/ten-thousand-launches-one-batch", test_many_launches);
    g_test_add_func("/cuda-vm/waits-take-turns", test_waits_take_turns);
    g_test_add_func("/cuda-vm/second-batch-of-a-vm-refused", test_second_batch_refused);
    g_test_add_func("/cuda-vm/worker-ends-with-window", test_worker_ends_with_window);
    return g_test_run();
}
