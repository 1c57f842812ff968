/*
 * vgpu-cuda-worker: owns one GPU for the cuda backend (see cuda-worker.h).
 *
 *   vgpu-cuda-worker --probe
 *       Print how many GPUs CUDA sees and exit 0, or why there is none and
 *       exit 1.
 *   vgpu-cuda-worker --gpu N [--service-ns NS]
 *       With the shared page on fd 3: open GPU N and serve requests until
 *       the parent thread ends or a CUDA error poisons the context.
 *
 * Started by the plugin only; not for people.  A request costs one kernel
 * launch and one stream synchronize: the kernel takes its params by value
 * and writes its results into mapped pinned memory (no copies, no host
 * callback, which would cost twice as much), and the context spins on
 * synchronize rather than sleeping (15-20 us less per request).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include <cuda_runtime_api.h>

#include "backend-cuda-kernels.h"
#include "cuda-worker.h"

#define WORKER_SHM_FD 3

struct worker {
    int gpu;                    /* CUDA ordinal */
    uint64_t service_ns;        /* extra GPU time per request (mediator.conf service-time-us) */
    cudaStream_t stream;        /* non-blocking: never waits on the legacy stream */
    uint32_t *results_host;     /* mapped pinned memory, VGPU_RESPONSE_MAX_RESULTS words */
    uint32_t *results_device;   /* the same memory as the GPU addresses it */
    struct cuda_shared *shared;
};

static void worker_error(struct worker *w, char *out, const char *what, cudaError_t e)
{
    snprintf(out, VGPU_BACKEND_ERROR_MAX, "%s on GPU %d: %s (%s)", what, w->gpu,
             cudaGetErrorString(e), cudaGetErrorName(e));
}

static int worker_probe(void)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);

    if (e != cudaSuccess) {
        printf("no usable CUDA driver or GPU: %s (%s)\n", cudaGetErrorString(e),
               cudaGetErrorName(e));
        return 1;
    }
    if (count == 0) {
        printf("the CUDA driver sees no GPU\n");
        return 1;
    }
    printf("%d\n", count);
    return 0;
}

/* Open the GPU: spin-scheduled context, a stream, mapped result memory. */
static bool worker_open(struct worker *w, char *err)
{
    struct cudaDeviceProp prop;
    int count = 0;
    cudaError_t e;

    e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || w->gpu < 0 || w->gpu >= count) {
        snprintf(err, VGPU_BACKEND_ERROR_MAX, "GPU %d does not exist (CUDA sees %d GPU%s)",
                 w->gpu, count, count == 1 ? "" : "s");
        return false;
    }
    if ((e = cudaSetDevice(w->gpu)) != cudaSuccess ||
        (e = cudaSetDeviceFlags(cudaDeviceScheduleSpin | cudaDeviceMapHost)) != cudaSuccess) {
        worker_error(w, err, "selecting the device", e);
        return false;
    }
    if ((e = cudaGetDeviceProperties(&prop, w->gpu)) != cudaSuccess) {
        worker_error(w, err, "reading device properties", e);
        return false;
    }
    if ((e = cudaStreamCreateWithFlags(&w->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        worker_error(w, err, "creating a stream", e);
        return false;
    }
    e = cudaHostAlloc((void **)&w->results_host, VGPU_RESPONSE_MAX_RESULTS * sizeof(uint32_t),
                      cudaHostAllocMapped);
    if (e != cudaSuccess) {
        worker_error(w, err, "allocating pinned result memory", e);
        return false;
    }
    if ((e = cudaHostGetDevicePointer((void **)&w->results_device, w->results_host, 0))
        != cudaSuccess) {
        worker_error(w, err, "mapping result memory", e);
        return false;
    }
    snprintf(w->shared->name, sizeof(w->shared->name), "%.*s",
             (int)sizeof(w->shared->name) - 1, prop.name);
    w->shared->memory_bytes = prop.totalGlobalMem;
    w->shared->compute_major = prop.major;
    w->shared->compute_minor = prop.minor;
    return true;
}

static cudaError_t worker_launch_vector_add(struct worker *w, uint32_t a, uint32_t b)
{
#ifdef VGPU_CUDA_FAULT_INJECTION
    if (a == VGPU_CUDA_FAULT_OPERAND) {
        return vgpu_cuda_launch_illegal_store(w->stream);
    }
#endif
    return vgpu_cuda_launch_vector_add(a, b, w->results_device, w->service_ns, w->stream);
}

/*
 * Run the request in the shared page and fill its response.  Returns false
 * after a CUDA error: the context may be poisoned, so the worker must exit.
 */
static bool worker_execute(struct worker *w)
{
    struct cuda_shared *sh = w->shared;
    uint64_t start = cuda_now_ns();
    cudaError_t e;

    sh->result_count = 0;
    sh->error[0] = '\0';
    switch (sh->opcode) {
    case VGPU_OP_VECTOR_ADD:
        e = worker_launch_vector_add(w, sh->params[0], sh->params[1]);
        if (e == cudaSuccess) {
            e = cudaStreamSynchronize(w->stream);
            if (e != cudaSuccess) {
                worker_error(w, sh->error, "running VECTOR_ADD", e);
            }
        } else {
            worker_error(w, sh->error, "launching VECTOR_ADD", e);
        }
        if (e != cudaSuccess) {
            sh->status = VGPU_ERR_BACKEND;
            return false;
        }
        sh->results[0] = ((volatile uint32_t *)w->results_host)[0];
        sh->result_count = VGPU_VECTOR_ADD_RESULTS;
        break;
    default:
        snprintf(sh->error, sizeof(sh->error),
                 "opcode 0x%04x is not implemented by the cuda backend", sh->opcode);
        sh->status = VGPU_ERR_BACKEND;
        return true;
    }
    sh->status = VGPU_OK;
    sh->exec_ns = cuda_now_ns() - start;
    return true;
}

static int worker_serve(struct worker *w)
{
    struct cuda_shared *sh;
    uint32_t seen = 0;

    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, WORKER_SHM_FD, 0);
    if (sh == MAP_FAILED || sh->magic != CUDA_SHARED_MAGIC) {
        fprintf(stderr, CUDA_WORKER_NAME ": no shared page on fd %d\n", WORKER_SHM_FD);
        return 2;
    }
    w->shared = sh;
    if (!worker_open(w, sh->error)) {
        cuda_publish(&sh->state, CUDA_WORKER_FAILED, &sh->plugin_sleeping);
        return 1;
    }
    cuda_publish(&sh->state, CUDA_WORKER_READY, &sh->plugin_sleeping);
    for (;;) {
        uint32_t seq;

        while ((seq = cuda_wait_change(&sh->request_seq, seen, &sh->worker_sleeping, 0)) == seen) {
        }
        seen = seq;
        if (!worker_execute(w)) {
            fprintf(stderr, CUDA_WORKER_NAME "[gpu %d]: %s; exiting\n", w->gpu, sh->error);
            sh->worker_exits = 1;
            cuda_publish(&sh->response_seq, seq, &sh->plugin_sleeping);
            return 1;
        }
        cuda_publish(&sh->response_seq, seq, &sh->plugin_sleeping);
    }
}

int main(int argc, char **argv)
{
    struct worker w = { .gpu = -1 };

    if (argc == 2 && strcmp(argv[1], "--probe") == 0) {
        return worker_probe();
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--gpu") == 0) {
            w.gpu = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--service-ns") == 0) {
            w.service_ns = strtoull(argv[i + 1], NULL, 10);
        }
    }
    if (w.gpu < 0) {
        fprintf(stderr, "usage: " CUDA_WORKER_NAME " --probe | --gpu N [--service-ns NS]\n"
                        "(started by the cuda backend of vgpu-mediatord, not by hand)\n");
        return 2;
    }
    /* End with the mediator's unit thread that started us, whatever kills it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) {
        return 1;
    }
    close_range(WORKER_SHM_FD + 1, ~0u, 0);
    return worker_serve(&w);
}
