/*
 * vgpu-cuda-vm: one VM's CUDA worker (vm-worker.h).
 *
 *   vgpu-cuda-vm --gpu N --window-size BYTES --vm NAME
 *       With the shared page on fd 3 and the VM's window memfd on fd 4:
 *       open a context on GPU N, map and page-lock the window, and run the
 *       VM's batches until the plugin's thread ends, the plugin kills it
 *       (the VM's window is gone, a batch ran too long) or a fault poisons
 *       the context (it answers that batch first).
 *
 * Started by the cuda plugin only; not for people.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "cuda-worker.h"
#include "vgpu/cuda.h"
#include "vm-worker.h"

static void say_error(struct cuda_shared *sh, const char *what, CUresult r)
{
    const char *name = NULL;

    cuGetErrorName(r, &name);
    snprintf(sh->error, sizeof(sh->error), "%s: %s", what, name ? name : "unknown CUDA error");
}

/* The VM's window on CUDA_WORKER_WINDOW_FD: a regular file of exactly the announced size. */
static bool map_window(struct vm_worker *w, struct cuda_shared *sh)
{
    struct stat st;
    void *p;

    if (fstat(CUDA_WORKER_WINDOW_FD, &st) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size != w->window_size || w->window_size == 0) {
        snprintf(sh->error, sizeof(sh->error), "the window of VM %s is not a %llu-byte memfd",
                 w->name, (unsigned long long)w->window_size);
        return false;
    }
    p = mmap(NULL, w->window_size, PROT_READ | PROT_WRITE, MAP_SHARED, CUDA_WORKER_WINDOW_FD, 0);
    if (p == MAP_FAILED) {
        snprintf(sh->error, sizeof(sh->error), "mapping the window of VM %s: %m", w->name);
        return false;
    }
    w->window = p;
    return true;
}

static bool open_gpu(struct vm_worker *w, struct cuda_shared *sh)
{
    size_t total = 0;
    CUresult r;

    if ((r = cuInit(0)) != CUDA_SUCCESS) {
        say_error(sh, "cuInit", r);
        return false;
    }
    if ((r = cuDeviceGet(&w->device, w->gpu)) != CUDA_SUCCESS ||
        (r = cuDevicePrimaryCtxRetain(&w->context, w->device)) != CUDA_SUCCESS ||
        (r = cuCtxSetCurrent(w->context)) != CUDA_SUCCESS ||
        (r = cuDeviceTotalMem(&total, w->device)) != CUDA_SUCCESS) {
        say_error(sh, "opening a CUDA context", r);
        return false;
    }
    w->gpu_memory = total;
    /* Copies are DMA straight from and to the VM's memory.  Without the
     * lock (a memlock limit), they still work, staged by the driver. */
    r = cuMemHostRegister(w->window, w->window_size, 0);
    if (r != CUDA_SUCCESS) {
        const char *name = NULL;

        cuGetErrorName(r, &name);
        fprintf(stderr, CUDA_VM_WORKER_NAME "[%s]: the window stays pageable (%s): copies "
                "are slower\n", w->name, name ? name : "?");
    }
    cuDeviceGetName(sh->name, sizeof(sh->name), w->device);
    sh->memory_bytes = total;
    return true;
}

/* Batches come on lane 0 of the page, one at a time. */
static int serve(struct vm_worker *w, struct cuda_call *call)
{
    uint32_t seen = 0, seq;

    for (;;) {
        uint64_t start;

        while ((seq = cuda_wait_change(&call->request_seq, seen, &call->worker_sleeping,
                                       CUDA_SPIN_NS, 0)) == seen) {
        }
        seen = seq;
        start = cuda_now_ns();
        w->quota = call->vm_quota;
        vm_batch_run(w, call->batch_offset, call->batch_length, call->results);
        call->result_count = VGPU_CUDA_RESULTS;
        call->status = VGPU_OK;
        call->vm_memory_used = w->objects.allocated;
        call->vm_memory_total = vm_memory_total(w);
        call->vm_kernels = w->kernels;
        call->exec_ns = cuda_now_ns() - start;
        call->worker_exits = w->poisoned || w->exit_for_reset;
        cuda_publish(&call->response_seq, seq, &call->plugin_sleeping);
        if (w->poisoned) {
            fprintf(stderr, CUDA_VM_WORKER_NAME "[%s]: cudaError %u poisoned the VM's context; "
                    "exiting\n", w->name, call->results[0]);
            return 1;
        }
        if (w->exit_for_reset) {
            fprintf(stderr, CUDA_VM_WORKER_NAME "[%s]: reset with kernels still running; "
                    "exiting, to end them\n", w->name);
            return 0;
        }
    }
}

int main(int argc, char **argv)
{
    struct vm_worker w = { .gpu = -1, .name = "?" };
    struct cuda_shared *sh;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--gpu") == 0) {
            w.gpu = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--window-size") == 0) {
            w.window_size = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--vm") == 0) {
            w.name = argv[i + 1];
        }
    }
    if (w.gpu < 0 || w.window_size == 0) {
        fprintf(stderr, "usage: " CUDA_VM_WORKER_NAME " --gpu N --window-size BYTES --vm NAME\n"
                        "(started by the cuda backend of vgpu-mediatord, not by hand)\n");
        return 2;
    }
    sh = cuda_worker_attach(CUDA_VM_WORKER_NAME);
    if (!sh) {
        return 1;
    }
    vm_objects_init(&w.objects);
    w.batch = malloc(VGPU_CUDA_BATCH_MAX);
    w.args = calloc(VGPU_CUDA_PARAMS_MAX, sizeof(*w.args));
    if (!w.batch || !w.args) {
        snprintf(sh->error, sizeof(sh->error), "out of host memory");
    }
    if (!w.batch || !w.args || !map_window(&w, sh) || !open_gpu(&w, sh)) {
        cuda_publish(&sh->state, CUDA_WORKER_FAILED, &sh->state_sleeping);
        return 1;
    }
    cuda_publish(&sh->state, CUDA_WORKER_READY, &sh->state_sleeping);
    return serve(&w, &sh->calls[0]);
}
