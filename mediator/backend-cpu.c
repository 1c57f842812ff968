/*
 * The built-in CPU backend: runs every opcode on the worker thread.  A unit
 * is a "lane"; its optional service time makes each request take at least
 * that long, so tests and benchmarks can create contention without a GPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpu-window-ops.h"
#include "vgpu/cuda-batch.h"
#include "vgpu/backend.h"

struct cpu_lane {
    int index;
    uint32_t service_time_us;
};

static uint64_t cpu_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cpu_probe(char *err, size_t err_size)
{
    (void)err;
    (void)err_size;
    return 1;   /* lanes are not limited by the host; the config sets their number */
}

static void *cpu_open(const struct vgpu_backend_unit_config *config,
                      struct vgpu_backend_unit_info *info, char *err, size_t err_size)
{
    struct cpu_lane *lane = calloc(1, sizeof(*lane));

    if (!lane) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    lane->index = config->index;
    lane->service_time_us = config->service_time_us;
    snprintf(info->name, sizeof(info->name), "cpu lane %d", config->index);
    info->memory_bytes = 0;
    info->compute_major = 0;
    info->compute_minor = 0;
    return lane;
}

/* Wait until the request has taken service_time_us since start (absolute: no drift). */
static void cpu_serve_until(uint64_t start_ns, uint32_t service_time_us)
{
    uint64_t end = start_ns + (uint64_t)service_time_us * 1000u;
    struct timespec ts = {
        .tv_sec = (time_t)(end / 1000000000u),
        .tv_nsec = (long)(end % 1000000000u),
    };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
        /* EINTR: sleep on to the same deadline */
    }
}

static uint32_t cpu_execute(void *unit, const struct vgpu_backend_job *job,
                            uint32_t *results, uint32_t *result_count, uint64_t *exec_ns,
                            char *err, size_t err_size)
{
    const struct vgpu_request_view *request = job->request;
    struct cpu_lane *lane = unit;
    uint64_t start = cpu_now_ns();

    switch (request->opcode) {
    case VGPU_OP_VECTOR_ADD:
        results[0] = vgpu_request_param(request, 0) + vgpu_request_param(request, 1);
        *result_count = VGPU_VECTOR_ADD_RESULTS;
        break;
    case VGPU_OP_ADD_U32:
    case VGPU_OP_ADD_F32:
    case VGPU_OP_SAXPY:
    case VGPU_OP_SUM_F32:
    case VGPU_OP_SGEMM:
        cpu_window_op_run(job->op, job->window->base, results, result_count);
        break;
    case VGPU_OP_CUDA:
        /* CUDA programs need a GPU: each call learns there is none */
        *result_count = vgpu_cuda_batch_answer_all(job->window->base + job->op->a, job->op->count,
                                                   VGPU_CUDA_ERROR_NO_DEVICE, results);
        break;
    default:
        snprintf(err, err_size, "cpu backend has no implementation of opcode 0x%04x",
                 request->opcode);
        return VGPU_ERR_BACKEND;
    }
    if (lane->service_time_us) {
        cpu_serve_until(start, lane->service_time_us);
    }
    *exec_ns = cpu_now_ns() - start;
    return VGPU_OK;
}

static bool cpu_recover(void *unit, char *err, size_t err_size)
{
    (void)unit;
    (void)err;
    (void)err_size;
    return true;    /* a lane has no state to repair */
}

static void cpu_close(void *unit)
{
    free(unit);
}

static const struct vgpu_backend_ops cpu_ops = {
    .abi_version = VGPU_BACKEND_ABI_VERSION,
    .name = "cpu",
    .probe = cpu_probe,
    .open = cpu_open,
    .execute = cpu_execute,
    .recover = cpu_recover,
    .close = cpu_close,
};

const struct vgpu_backend_ops *vgpu_backend_cpu(void)
{
    return &cpu_ops;
}
