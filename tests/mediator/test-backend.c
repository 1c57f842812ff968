/*
 * A backend plugin for tests/mediator/plugin-loading.t, built the way the
 * CUDA plugin will be: only include/vgpu/backend.h and include/vgpu/.
 *
 * It has TEST_BACKEND_UNITS units named "test unit N" and computes
 * VECTOR_ADD like the cpu backend, except that a == TEST_BACKEND_FAIL_A
 * makes execute() fail (so the BACKEND error path can be tested).
 *
 * A CUDA batch (VGPU_OP_CUDA) is answered like the cpu backend does (every
 * call: no device), but reported as if a GPU had run it, with usage a test
 * can predict: the VM holds half its quota (half of TEST_BACKEND_MEMORY
 * without one) out of its quota (or TEST_BACKEND_MEMORY), and each call of
 * the batch counts as a kernel.  Every request reports TEST_BACKEND_EXEC_NS
 * and sleeps the pool's service-time-us.
 *
 * A unit takes TEST_BACKEND_IN_FLIGHT requests at once and checks what the
 * mediator promises (include/vgpu/backend.h): a request that carries a
 * window or a CUDA batch, and recover(), never run beside another request,
 * and a slot never runs two at once; a broken promise fails the request
 * (or recover(), which takes the unit out of service), so tests see it.
 * VECTOR_ADD with a == TEST_BACKEND_PEAK_A answers the most requests the
 * unit ever ran at once; a == TEST_BACKEND_BREAK_A fails and breaks the
 * unit for good: its recover() fails (a GPU that cannot be reset).
 * Built three ways: as "test"; with TEST_BACKEND_ABI set to a wrong ABI
 * version; and with TEST_BACKEND_NO_ENTRY (no entry symbol).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vgpu/backend.h"
#include "vgpu/cuda-batch.h"
#include "vgpu/cuda.h"

#define TEST_BACKEND_UNITS  2
#define TEST_BACKEND_FAIL_A 0xdeadbeefu
#define TEST_BACKEND_MEMORY (1u << 20)      /* a unit's "GPU memory", bytes */
#define TEST_BACKEND_EXEC_NS 1000u
#define TEST_BACKEND_IN_FLIGHT 4u
#define TEST_BACKEND_PEAK_A 0xfeed0000u
#define TEST_BACKEND_BREAK_A 0xdead0000u

struct test_unit {
    int index;
    unsigned service_us;
    atomic_uint running;                /* execute() calls in progress */
    atomic_uint peak;                   /* the most ever at once */
    atomic_bool slot_busy[TEST_BACKEND_IN_FLIGHT];
    atomic_bool broken;                 /* TEST_BACKEND_BREAK_A came: recover() fails */
};

#ifndef TEST_BACKEND_ABI
#define TEST_BACKEND_ABI VGPU_BACKEND_ABI_VERSION
#endif
#ifndef TEST_BACKEND_NAME
#define TEST_BACKEND_NAME "test"
#endif

static int test_probe(char *err, size_t err_size)
{
    const char *broken = getenv("VGPU_TEST_BACKEND_BROKEN");

    if (broken && *broken) {
        snprintf(err, err_size, "no test device here (VGPU_TEST_BACKEND_BROKEN is set)");
        return -1;
    }
    return TEST_BACKEND_UNITS;
}

static void *test_open(const struct vgpu_backend_unit_config *config,
                       struct vgpu_backend_unit_info *info, char *err, size_t err_size)
{
    struct test_unit *unit = calloc(1, sizeof(*unit));

    if (!unit) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    unit->index = config->index;
    unit->service_us = config->service_time_us;
    info->max_in_flight = TEST_BACKEND_IN_FLIGHT;
    snprintf(info->name, sizeof(info->name), "test unit %d", config->index);
    info->memory_bytes = TEST_BACKEND_MEMORY;
    info->compute_major = 9;
    info->compute_minor = 0;
    return unit;
}

/* Answer the request; the promises are checked around it (test_execute). */
static uint32_t test_run(struct test_unit *unit, const struct vgpu_backend_job *job,
                         uint32_t *results, uint32_t *result_count, char *err, size_t err_size)
{
    const struct vgpu_request_view *request = job->request;
    uint32_t a = vgpu_request_param(request, 0);

    if (request->opcode == VGPU_OP_CUDA) {
        unsigned char *batch = job->window->base + job->op->a;
        long calls = vgpu_cuda_batch_open(batch, job->op->count);
        uint64_t total = job->vm->gpu_memory_quota ? job->vm->gpu_memory_quota
                                                   : TEST_BACKEND_MEMORY;

        *result_count = vgpu_cuda_batch_answer_all(batch, job->op->count,
                                                   VGPU_CUDA_ERROR_NO_DEVICE, results);
        *job->usage = (struct vgpu_backend_cuda_usage){
            .valid = true,
            .memory_used = total / 2,
            .memory_total = total,
            .kernels = calls > 0 ? (uint64_t)calls : 0,
        };
        return VGPU_OK;
    }
    if (a == TEST_BACKEND_FAIL_A) {
        snprintf(err, err_size, "test unit %d refuses a = 0x%x", unit->index, a);
        return VGPU_ERR_BACKEND;
    }
    if (a == TEST_BACKEND_BREAK_A) {
        atomic_store(&unit->broken, true);
        snprintf(err, err_size, "test unit %d breaks", unit->index);
        return VGPU_ERR_BACKEND;
    }
    results[0] = a == TEST_BACKEND_PEAK_A ? atomic_load(&unit->peak)
                                          : a + vgpu_request_param(request, 1);
    *result_count = 1;
    return VGPU_OK;
}

static uint32_t test_execute(void *opaque, const struct vgpu_backend_job *job,
                             uint32_t *results, uint32_t *result_count, uint64_t *exec_ns,
                             char *err, size_t err_size)
{
    struct test_unit *unit = opaque;
    unsigned running = atomic_fetch_add(&unit->running, 1) + 1, peak = atomic_load(&unit->peak);
    bool alone = job->window != NULL;
    uint32_t status;

    while (running > peak && !atomic_compare_exchange_weak(&unit->peak, &peak, running)) {
    }
    *exec_ns = TEST_BACKEND_EXEC_NS;
    if (job->slot >= TEST_BACKEND_IN_FLIGHT || atomic_exchange(&unit->slot_busy[job->slot], true)) {
        snprintf(err, err_size, "test unit %d: slot %u is not free", unit->index, job->slot);
        atomic_fetch_sub(&unit->running, 1);
        return VGPU_ERR_BACKEND;
    }
    if (unit->service_us) {
        /* one it refuses fails halfway, while the requests that started with it still run */
        unsigned us = vgpu_request_param(job->request, 0) == TEST_BACKEND_FAIL_A
                          ? unit->service_us / 2 : unit->service_us;

        nanosleep(&(struct timespec){ us / 1000000, (long)(us % 1000000) * 1000 }, NULL);
    }
    /* one that started while this one slept counts too */
    if (atomic_load(&unit->running) > running) {
        running = atomic_load(&unit->running);
    }
    if (alone && running != 1) {
        snprintf(err, err_size, "test unit %d: opcode 0x%04x ran beside %u other request(s)",
                 unit->index, job->request->opcode, running - 1);
        status = VGPU_ERR_BACKEND;
    } else {
        status = test_run(unit, job, results, result_count, err, err_size);
    }
    atomic_store(&unit->slot_busy[job->slot], false);
    atomic_fetch_sub(&unit->running, 1);
    return status;
}

static bool test_recover(void *opaque, char *err, size_t err_size)
{
    struct test_unit *unit = opaque;
    unsigned running = atomic_load(&unit->running);

    if (running) {
        snprintf(err, err_size, "recover() ran beside %u request(s)", running);
        return false;
    }
    if (atomic_load(&unit->broken)) {
        snprintf(err, err_size, "test unit %d cannot be reset", unit->index);
        return false;
    }
    return true;
}

static void test_close(void *unit)
{
    free(unit);
}

static const struct vgpu_backend_ops test_ops = {
    .abi_version = TEST_BACKEND_ABI,
    .name = TEST_BACKEND_NAME,
    .probe = test_probe,
    .open = test_open,
    .execute = test_execute,
    .recover = test_recover,
    .close = test_close,
};

#ifndef TEST_BACKEND_NO_ENTRY
const struct vgpu_backend_ops *vgpu_backend_entry(void);

const struct vgpu_backend_ops *vgpu_backend_entry(void)
{
    return &test_ops;
}
#else
const struct vgpu_backend_ops *vgpu_backend_other(void);

const struct vgpu_backend_ops *vgpu_backend_other(void)
{
    return &test_ops;
}
#endif
