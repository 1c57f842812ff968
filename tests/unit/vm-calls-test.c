/*
 * A VM's CUDA worker's batch runner (backend-cuda/vm-calls.c) without a
 * GPU: the real code, against a stand-in for the CUDA driver
 * (fake-libcuda.c).  Every refusal of issue 14 (bad and foreign handles,
 * another VM's pointers, ranges past an allocation or the window, bad
 * flags and configurations, malformed batches, the quota, the bounds on
 * what a VM holds) is answered with NVIDIA's error and never reaches the
 * driver; waits give the unit up after their slice; a fault poisons the
 * worker.  The same checks on a real GPU: tests/gpu/cuda-vm-test.c.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "fake-libcuda.h"
#include "vgpu/cuda-batch.h"
#include "vm-worker.h"

#define WINDOW_SIZE     (16u << 20)
#define BATCH_SIZE      (1u << 20)
#define DATA_AT         (4u << 20)
#define BACK_AT         (6u << 20)
#define SCRATCH_AT      (8u << 20)
#define IMAGE_AT        (10u << 20)

struct vm {
    struct vm_worker w;
    struct vgpu_cuda_writer batch;
    uint32_t results[2];
    uint64_t module;
};

static void vm_init(struct vm *v, uint64_t quota)
{
    memset(v, 0, sizeof(*v));
    v->w.name = "test";
    v->w.window = g_malloc0(WINDOW_SIZE);
    v->w.window_size = WINDOW_SIZE;
    v->w.batch = g_malloc(VGPU_CUDA_BATCH_MAX);
    v->w.args = g_new0(void *, VGPU_CUDA_PARAMS_MAX);
    v->w.gpu_memory = FAKE_LIBCUDA_MEMORY;
    v->w.quota = quota;
    vm_objects_init(&v->w.objects);
}

static void vm_fini(struct vm *v)
{
    vm_objects_clear(&v->w.objects);
    g_free(v->w.window);
    g_free(v->w.batch);
    g_free(v->w.args);
}

static void begin(struct vm *v)
{
    g_assert_true(vgpu_cuda_writer_init(&v->batch, v->w.window, BATCH_SIZE));
}

static long add(struct vm *v, uint32_t call, const uint64_t *words, const void *tail, size_t len)
{
    long at = vgpu_cuda_writer_add(&v->batch, call, words, tail, len);

    g_assert_cmpint(at, >=, 0);
    return at;
}

/* Run the batch; the first failure's error (0: none). */
static uint32_t run(struct vm *v)
{
    vm_batch_run(&v->w, 0, vgpu_cuda_writer_length(&v->batch), v->results);
    return v->results[0];
}

static uint32_t result_of(struct vm *v, long at, uint64_t out[2])
{
    uint64_t ignored[2];
    uint32_t result;

    vgpu_cuda_record_get(v->w.window, at, &result, out ? out : ignored);
    return result;
}

static uint32_t call1(struct vm *v, uint32_t call, const uint64_t *words, const void *tail,
                      size_t len, uint64_t out[2])
{
    long at;

    begin(v);
    at = add(v, call, words, tail, len);
    run(v);
    return result_of(v, at, out);
}

/* A fat binary's header and a body: what the worker checks before the driver sees it. */
static void vm_load(struct vm *v)
{
    uint32_t magic = 0xba55ed50u;
    uint16_t header_size = 16;
    uint64_t body = 64, out[2];

    memcpy(v->w.window + IMAGE_AT, &magic, 4);
    memcpy(v->w.window + IMAGE_AT + 6, &header_size, 2);
    memcpy(v->w.window + IMAGE_AT + 8, &body, 8);
    g_assert_cmpuint(call1(v, VGPU_CUDA_MODULE_LOAD, (uint64_t[]){ IMAGE_AT, 16 + body }, NULL, 0,
                           out), ==, 0);
    v->module = out[0];
}

static uint64_t function(struct vm *v, const char *name, uint32_t *count)
{
    uint64_t out[2];

    g_assert_cmpuint(call1(v, VGPU_CUDA_FUNCTION_GET, &v->module, name, strlen(name) + 1, out),
                     ==, 0);
    *count = (uint32_t)out[1];
    return out[0];
}

static uint64_t malloc_ok(struct vm *v, uint64_t bytes)
{
    uint64_t out[2];

    g_assert_cmpuint(call1(v, VGPU_CUDA_MALLOC, &bytes, NULL, 0, out), ==, 0);
    return out[0];
}

static uint64_t dims(uint32_t lo, uint32_t hi)
{
    return lo | (uint64_t)hi << 32;
}

static void test_calls(void)
{
    struct vm v;
    uint32_t count, layout[8];
    uint64_t f, x, out[2];
    unsigned char params[16] = { 0 };

    fake_libcuda_reset();
    vm_init(&v, 0);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0, out), ==, 0);
    g_assert_cmpuint(out[0], ==, 1);
    vm_load(&v);
    f = function(&v, "scale_and_count", &count);
    g_assert_cmpuint(count, ==, 4);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_FUNCTION_PARAMS, (uint64_t[]){ f, SCRATCH_AT, 32 }, NULL,
                           0, NULL), ==, 0);
    memcpy(layout, v.w.window + SCRATCH_AT, sizeof(layout));
    g_assert_cmpuint(layout[2], ==, 8);         /* the double after the char: from the driver */
    g_assert_cmpuint(layout[6], ==, 24);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_VARIABLE_GET, &v.module, "counter", 8, out), ==, 0);
    g_assert_cmpuint(out[1], ==, 4);

    f = function(&v, "add_one", &count);
    x = malloc_ok(&v, 4096);
    for (int i = 0; i < 4096; i++) {
        v.w.window[DATA_AT + i] = (unsigned char)(i * 7);
    }
    memcpy(params, &x, 8);
    begin(&v);
    add(&v, VGPU_CUDA_MEMCPY_HTOD, (uint64_t[]){ x, DATA_AT, 4096, 0 }, NULL, 0);
    add(&v, VGPU_CUDA_LAUNCH, (uint64_t[]){ f, dims(1, 1), dims(1, 1), dims(1, 1), 0, 0 },
        params, sizeof(params));
    add(&v, VGPU_CUDA_MEMSET, (uint64_t[]){ x + 100, 0xab, 10, 0 }, NULL, 0);
    add(&v, VGPU_CUDA_MEMCPY_DTOH, (uint64_t[]){ BACK_AT, x, 4096, 0 }, NULL, 0);
    add(&v, VGPU_CUDA_DEVICE_SYNCHRONIZE, NULL, NULL, 0);
    g_assert_cmpuint(run(&v), ==, 0);
    g_assert_cmpuint(fake_libcuda.launches, ==, 1);
    g_assert_cmpuint(v.w.kernels, ==, 1);
    memset(v.w.window + DATA_AT + 100, 0xab, 10);
    g_assert_cmpmem(v.w.window + BACK_AT, 4096, v.w.window + DATA_AT, 4096);
    g_assert_cmpuint(v.w.objects.allocated, ==, 4096);
    vm_release_all(&v.w);
    g_assert_cmpuint(v.w.objects.allocated, ==, 0);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_FREE, &x, NULL, 0, NULL), ==,
                     VGPU_CUDA_ERROR_INVALID_VALUE);     /* gone with the reset */
    vm_fini(&v);
}

/* Each refusal answers NVIDIA's error, stops its batch, and never reaches the driver. */
static void test_refusals(void)
{
    static const unsigned char garbage[64] = { 1, 2, 3 };
    struct vm v;
    uint32_t count;
    uint64_t f, x, stream, event, out[2];
    unsigned calls;
    unsigned char short_params[8] = { 0 };
    long at;

    fake_libcuda_reset();
    vm_init(&v, 0);
    vm_load(&v);
    f = function(&v, "add_one", &count);
    x = malloc_ok(&v, 4096);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_STREAM_CREATE, (uint64_t[]){ 0 }, NULL, 0, out), ==, 0);
    stream = out[0];
    g_assert_cmpuint(call1(&v, VGPU_CUDA_EVENT_CREATE, (uint64_t[]){ 2 }, NULL, 0, out), ==, 0);
    event = out[0];
    calls = fake_libcuda.calls;

#define REFUSED(want, call, ...) \
    g_assert_cmpuint(call1(&v, call, (uint64_t[]){ __VA_ARGS__ }, NULL, 0, NULL), ==, want)
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_FREE, x + 16);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_FREE, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_HTOD, x, DATA_AT, 4097, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_HTOD, x + 4096, DATA_AT, 1, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_HTOD, x - 1, DATA_AT, 2, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_HTOD, x, WINDOW_SIZE - 8, 16, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_HTOD, x, UINT64_MAX - 7, 16, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_DTOH, WINDOW_SIZE, x, 1, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_DTOH, 0, x, UINT64_MAX, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMCPY_DTOD, x, x + 2048, 4096, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMSET, x, 256, 16, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MEMSET, FAKE_LIBCUDA_BASE + (8 << 20), 0, 16, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_MEMSET, x, 0, 16, stream + 1);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_MEMSET, x, 0, 16, event);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_STREAM_SYNCHRONIZE, f);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_STREAM_DESTROY, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_STREAM_WAIT_EVENT, stream, stream);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_EVENT_RECORD, stream, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_EVENT_RECORD, event, event);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_EVENT_ELAPSED, event, x);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_MODULE_UNLOAD, f);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_FUNCTION_PARAMS, v.module,
            SCRATCH_AT, 64);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_FUNCTION_PARAMS, f, WINDOW_SIZE - 8, 16);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_FUNCTION_PARAMS, f, SCRATCH_AT, 8);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_DEVICE_PROPERTIES, WINDOW_SIZE - 64, 256);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_DEVICE_PROPERTIES, SCRATCH_AT, 8);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_EVENT_CREATE, 4);         /* interprocess */
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_STREAM_CREATE, 2);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MALLOC, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MODULE_LOAD, WINDOW_SIZE - 8, 16);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_MODULE_LOAD, IMAGE_AT, 8);
    REFUSED(VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE, VGPU_CUDA_LAUNCH, x, dims(1, 1),
            dims(1, 1), dims(1, 1), 0, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_CONFIGURATION, VGPU_CUDA_LAUNCH, f, dims(1, 1),
            dims(1, 0), dims(1, 1), 0, 0);
    REFUSED(VGPU_CUDA_ERROR_INVALID_VALUE, VGPU_CUDA_LAUNCH, f, dims(1, 1), dims(1, 1),
            dims(1, 1), 1ull << 32, 0);
#undef REFUSED
    g_assert_cmpuint(call1(&v, VGPU_CUDA_LAUNCH,
                           (uint64_t[]){ f, dims(1, 1), dims(1, 1), dims(1, 1), 0, 0 },
                           short_params, sizeof(short_params), NULL),
                     ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_FUNCTION_GET, &v.module, "add_oneX", 8, NULL),
                     ==, VGPU_CUDA_ERROR_INVALID_VALUE);                        /* no NUL */
    g_assert_cmpuint(call1(&v, VGPU_CUDA_VARIABLE_GET, (uint64_t[]){ f }, "counter", 8, NULL),
                     ==, VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE);
    memcpy(v.w.window + IMAGE_AT, garbage, sizeof(garbage));
    g_assert_cmpuint(call1(&v, VGPU_CUDA_MODULE_LOAD, (uint64_t[]){ IMAGE_AT, sizeof(garbage) },
                           NULL, 0, NULL), ==, VGPU_CUDA_ERROR_INVALID_KERNEL_IMAGE);
    g_assert_cmpuint(fake_libcuda.calls, ==, calls);    /* none reached the driver */
    g_assert_cmpuint(fake_libcuda.launches, ==, 0);

    /* names the driver does not know: its answer, as NVIDIA's runtime gives it */
    g_assert_cmpuint(call1(&v, VGPU_CUDA_FUNCTION_GET, &v.module, "no_such_kernel", 15, NULL),
                     ==, VGPU_CUDA_ERROR_INVALID_DEVICE_FUNCTION);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_VARIABLE_GET, &v.module, "no_such", 8, NULL),
                     ==, VGPU_CUDA_ERROR_INVALID_SYMBOL);

    /* a batch stops at its first failure */
    begin(&v);
    add(&v, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0);
    at = add(&v, VGPU_CUDA_FREE, (uint64_t[]){ 0x1000 }, NULL, 0);
    add(&v, VGPU_CUDA_FREE, &x, NULL, 0);
    g_assert_cmpuint(run(&v), ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    g_assert_cmpuint(v.results[1], ==, 1);
    g_assert_cmpuint(result_of(&v, at, NULL), ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    g_assert_cmpuint(v.w.objects.allocated, ==, 4096);
    vm_fini(&v);
}

/* Malformed batches: nothing runs. */
static void test_malformed(void)
{
    struct vm v;

    fake_libcuda_reset();
    vm_init(&v, 0);
    begin(&v);
    add(&v, VGPU_CUDA_MALLOC, (uint64_t[]){ 64 }, NULL, 0);
    v.w.window[0] ^= 0xff;                                          /* magic */
    g_assert_cmpuint(run(&v), ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    begin(&v);
    add(&v, VGPU_CUDA_MALLOC, (uint64_t[]){ 64 }, NULL, 0);
    v.w.window[16 + 4] = 8;                                         /* record shorter than its words */
    g_assert_cmpuint(run(&v), ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    vm_batch_run(&v.w, WINDOW_SIZE - 8, 64, v.results);             /* past the window */
    g_assert_cmpuint(v.results[0], ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    vm_batch_run(&v.w, 8, UINT64_MAX, v.results);
    g_assert_cmpuint(v.results[0], ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    g_assert_cmpuint(fake_libcuda.calls, ==, 0);
    g_assert_cmpuint(v.w.objects.allocated, ==, 0);
    vm_fini(&v);
}

/* Another VM's pointer names nothing of this VM's, even in the same address space. */
static void test_foreign_pointer(void)
{
    struct vm a, b;
    uint64_t xa;
    unsigned calls;

    fake_libcuda_reset();
    vm_init(&a, 0);
    vm_init(&b, 0);
    xa = malloc_ok(&a, 4096);
    malloc_ok(&b, 4096);
    calls = fake_libcuda.calls;
    g_assert_cmpuint(call1(&b, VGPU_CUDA_MEMCPY_HTOD, (uint64_t[]){ xa, DATA_AT, 16, 0 }, NULL, 0,
                           NULL), ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    g_assert_cmpuint(call1(&b, VGPU_CUDA_MEMCPY_DTOH, (uint64_t[]){ BACK_AT, xa, 16, 0 }, NULL, 0,
                           NULL), ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    g_assert_cmpuint(call1(&b, VGPU_CUDA_MEMSET, (uint64_t[]){ xa, 0, 16, 0 }, NULL, 0, NULL),
                     ==, VGPU_CUDA_ERROR_INVALID_VALUE);
    g_assert_cmpuint(call1(&b, VGPU_CUDA_FREE, &xa, NULL, 0, NULL), ==,
                     VGPU_CUDA_ERROR_INVALID_VALUE);
    g_assert_cmpuint(fake_libcuda.calls, ==, calls);
    vm_fini(&a);
    vm_fini(&b);
}

static void test_quota(void)
{
    struct vm v;
    uint64_t out[2], x;
    struct vgpu_cuda_device d;
    unsigned calls;

    fake_libcuda_reset();
    vm_init(&v, 8u << 20);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_MEM_GET_INFO, NULL, NULL, 0, out), ==, 0);
    g_assert_cmpuint(out[0], ==, 8u << 20);
    g_assert_cmpuint(out[1], ==, 8u << 20);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_DEVICE_PROPERTIES, (uint64_t[]){ SCRATCH_AT, sizeof(d) },
                           NULL, 0, NULL), ==, 0);
    memcpy(&d, v.w.window + SCRATCH_AT, sizeof(d));
    g_assert_cmpuint(d.total_memory, ==, 8u << 20);
    g_assert_cmpstr(d.name, ==, "fake GPU");
    g_assert_cmpuint(d.warp_size, ==, 32);
    x = malloc_ok(&v, 6u << 20);
    calls = fake_libcuda.calls;
    g_assert_cmpuint(call1(&v, VGPU_CUDA_MALLOC, (uint64_t[]){ (2u << 20) + 1 }, NULL, 0, NULL),
                     ==, VGPU_CUDA_ERROR_MEMORY_ALLOCATION);
    g_assert_cmpuint(fake_libcuda.calls, ==, calls);     /* refused before the driver */
    malloc_ok(&v, 2u << 20);                             /* exactly up to the quota */
    g_assert_cmpuint(call1(&v, VGPU_CUDA_MEM_GET_INFO, NULL, NULL, 0, out), ==, 0);
    g_assert_cmpuint(out[0], ==, 0);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_FREE, &x, NULL, 0, NULL), ==, 0);
    malloc_ok(&v, 4u << 20);
    /* a quota lowered below what the VM holds: nothing more, nothing wraps */
    v.w.quota = 1u << 20;
    g_assert_cmpuint(call1(&v, VGPU_CUDA_MALLOC, (uint64_t[]){ 1 }, NULL, 0, NULL), ==,
                     VGPU_CUDA_ERROR_MEMORY_ALLOCATION);
    g_assert_cmpuint(call1(&v, VGPU_CUDA_MEM_GET_INFO, NULL, NULL, 0, out), ==, 0);
    g_assert_cmpuint(out[0], ==, 0);
    vm_fini(&v);
}

/* A wait gives the unit up after its slice; the calls after it do not run. */
static void test_waits(void)
{
    struct vm v;
    uint32_t count;
    uint64_t f, x;
    unsigned char params[16] = { 0 };
    gint64 start, took;

    fake_libcuda_reset();
    vm_init(&v, 0);
    vm_load(&v);
    f = function(&v, "add_one", &count);
    x = malloc_ok(&v, 64);
    memcpy(params, &x, 8);

    fake_libcuda.busy_queries = 3;                      /* done within the slice */
    g_assert_cmpuint(call1(&v, VGPU_CUDA_DEVICE_SYNCHRONIZE, NULL, NULL, 0, NULL), ==, 0);

    start = g_get_monotonic_time();                     /* running for 400 ms */
    fake_libcuda.busy_until_ns = (uint64_t)start * 1000u + 400000000u;
    begin(&v);
    add(&v, VGPU_CUDA_STREAM_SYNCHRONIZE, (uint64_t[]){ 0 }, NULL, 0);
    add(&v, VGPU_CUDA_LAUNCH, (uint64_t[]){ f, dims(1, 1), dims(1, 1), dims(1, 1), 0, 0 },
        params, sizeof(params));
    g_assert_cmpuint(run(&v), ==, VGPU_CUDA_STILL_WAITING);
    took = g_get_monotonic_time() - start;
    g_assert_cmpuint(v.results[1], ==, 0);
    g_assert_cmpint(took, >=, VGPU_CUDA_WAIT_SLICE_MS * 1000 - 1000);
    g_assert_cmpint(took, <, 10 * VGPU_CUDA_WAIT_SLICE_MS * 1000);
    g_assert_cmpuint(fake_libcuda.launches, ==, 0);
    g_assert_false(v.w.poisoned);

    /* a reset with work still running ends the worker, to end the kernels */
    g_assert_cmpuint(call1(&v, VGPU_CUDA_DEVICE_RESET, NULL, NULL, 0, NULL), ==,
                     VGPU_CUDA_STILL_WAITING);
    g_assert_true(v.w.exit_for_reset);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 300000);

    /* a fault shows in the wait and poisons the worker */
    v.w.exit_for_reset = false;
    fake_libcuda.busy_until_ns = 0;
    fake_libcuda.fault_queries = 1;
    g_assert_cmpuint(call1(&v, VGPU_CUDA_EVENT_SYNCHRONIZE, (uint64_t[]){ 0 }, NULL, 0, NULL), ==,
                     VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE);    /* no such event: no wait */
    g_assert_cmpuint(call1(&v, VGPU_CUDA_STREAM_SYNCHRONIZE, (uint64_t[]){ 0 }, NULL, 0, NULL),
                     ==, 700);
    g_assert_true(v.w.poisoned);
    vm_fini(&v);
}

/* What one VM may hold is bounded. */
static void test_bounds(void)
{
    struct vm v;
    unsigned created = 0;
    long first;

    fake_libcuda_reset();
    vm_init(&v, 0);
    while (created < VM_OBJECTS_MAX) {
        begin(&v);
        for (unsigned i = 0; i < 20000 && created + i < VM_OBJECTS_MAX; i++) {
            add(&v, VGPU_CUDA_STREAM_CREATE, (uint64_t[]){ 1 }, NULL, 0);
        }
        first = run(&v);
        g_assert_cmpuint(first, ==, 0);
        created += v.batch.count;
    }
    g_assert_cmpuint(call1(&v, VGPU_CUDA_STREAM_CREATE, (uint64_t[]){ 0 }, NULL, 0, NULL), ==,
                     VGPU_CUDA_ERROR_MEMORY_ALLOCATION);
    g_assert_cmpuint(v.w.objects.tables[VM_STREAM].count, ==, VM_OBJECTS_MAX);
    vm_release_all(&v.w);
    g_assert_cmpuint(v.w.objects.tables[VM_STREAM].count, ==, 0);
    vm_fini(&v);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vm-calls/calls", test_calls);
    g_test_add_func("/vm-calls/refusals-never-reach-the-driver", test_refusals);
    g_test_add_func("/vm-calls/malformed-batches", test_malformed);
    g_test_add_func("/vm-calls/foreign-pointer", test_foreign_pointer);
    g_test_add_func("/vm-calls/quota", test_quota);
    g_test_add_func("/vm-calls/waits-faults-resets", test_waits);
    g_test_add_func("/vm-calls/bounds", test_bounds);
    return g_test_run();
}
