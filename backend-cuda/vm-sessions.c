/*
 * The VMs' CUDA workers, as the plugin keeps them (vm-sessions.h).
 *
 * A VM's worker starts with its first batch, on the GPU of the unit that
 * runs it, and ends when the VM's window does (its connection closed).  A
 * batch runs in it with the VM's quota of the moment; the unit thread waits
 * for the answer like for any request, so a VM's calls keep their order
 * and each batch takes its turn in the one priority queue.
 *
 * A fault (a sticky CUDA error), a batch past CUDA_VM_BATCH_LIMIT_NS or a
 * worker that died ends the VM's worker.  The VM then gets that error for
 * every call, as CUDA's own sticky errors behave, until a batch that starts
 * with DEVICE_RESET (cudaDeviceReset, or the next program's first batch),
 * which gets a fresh worker and so a fresh context.  Other VMs, with their
 * own workers and contexts, never notice.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda-child.h"
#include "vgpu/cuda-batch.h"
#include "vm-sessions.h"

#define CUDA_VMS_MAX            64u     /* VMs with a CUDA context at once, all GPUs */
/* A batch that runs longer is taken for hung (the QEMU device gives up at 30 s). */
#define CUDA_VM_BATCH_LIMIT_NS  (25ull * 1000000000u)

struct cuda_vm {
    uint64_t window_id;
    int gpu;
    char what[96];              /* "the CUDA worker of VM 3 (web1)" */
    struct cuda_child child;
    uint32_t sticky;            /* the error the VM's work ended with; 0: none */
    bool busy;                  /* a unit thread runs a batch of it */
    bool released;              /* its window is gone: end after the batch */
};

static pthread_mutex_t vms_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cuda_vm *vms[CUDA_VMS_MAX];
static unsigned vm_count;

/* With vms_lock held. */
static struct cuda_vm *vm_find(uint64_t window_id, unsigned *index)
{
    for (unsigned i = 0; i < vm_count; i++) {
        if (vms[i]->window_id == window_id) {
            *index = i;
            return vms[i];
        }
    }
    return NULL;
}

/*
 * With vms_lock held: the VM, taken for a batch (a new one when it has
 * none); NULL with why when the host is full or the VM is running a batch.
 */
static struct cuda_vm *vm_take(int gpu, const struct vgpu_backend_job *job, char *err,
                               size_t err_size)
{
    unsigned index;
    struct cuda_vm *vm = vm_find(job->window->id, &index);

    if (!vm) {
        if (vm_count == CUDA_VMS_MAX) {
            snprintf(err, err_size, "this host already runs CUDA for %u VMs", CUDA_VMS_MAX);
            return NULL;
        }
        vm = calloc(1, sizeof(*vm));
        if (!vm) {
            snprintf(err, err_size, "out of host memory");
            return NULL;
        }
        vm->window_id = job->window->id;
        vm->gpu = gpu;
        snprintf(vm->what, sizeof(vm->what), "the CUDA worker of VM %u (%s)", job->vm->vm_id,
                 job->vm->name ? job->vm->name : "?");
        if (!cuda_child_init(&vm->child, vm->what, err, err_size)) {
            free(vm);
            return NULL;
        }
        vms[vm_count++] = vm;
    } else if (vm->busy) {
        /* A device has one request in flight; a QEMU that sends more would
         * have two threads drive one worker: the second batch is refused. */
        snprintf(err, err_size, "a batch of the same VM is still running");
        return NULL;
    }
    vm->busy = true;
    return vm;
}

static void vm_free(struct cuda_vm *vm)
{
    cuda_child_destroy(&vm->child);
    free(vm);
}

/* The VM is done with its batch: free it when its window went meanwhile. */
static void vm_put(struct cuda_vm *vm)
{
    unsigned index;
    bool drop;

    pthread_mutex_lock(&vms_lock);
    vm->busy = false;
    drop = vm->released && vm_find(vm->window_id, &index) == vm;
    if (drop) {
        vms[index] = vms[--vm_count];
    }
    pthread_mutex_unlock(&vms_lock);
    if (drop) {
        vm_free(vm);
    }
}

/* Whether the batch's first call is DEVICE_RESET (a read of guest memory: only a hint). */
static bool batch_starts_with_reset(unsigned char *batch, size_t len)
{
    struct vgpu_cuda_call_view v;
    size_t at = sizeof(struct vgpu_cuda_batch);

    return vgpu_cuda_batch_open(batch, len) > 0 && vgpu_cuda_batch_next(batch, len, &at, &v) &&
           v.call == VGPU_CUDA_DEVICE_RESET;
}

static bool vm_start(struct cuda_vm *vm, const struct vgpu_backend_job *job, char *err,
                     size_t err_size)
{
    char path[4096], gpu[16], size[24];
    char *argv[] = { path, "--gpu", gpu, "--window-size", size, "--vm", vm->what, NULL };

    if (!cuda_child_program(CUDA_VM_WORKER_NAME, path, sizeof(path), err, err_size)) {
        return false;
    }
    snprintf(gpu, sizeof(gpu), "%d", vm->gpu);
    snprintf(size, sizeof(size), "%llu", (unsigned long long)job->window->size);
    cuda_child_page_reset(&vm->child);
    return cuda_child_start(&vm->child, argv, job->window->fd, err, err_size);
}

/*
 * Run the batch in the VM's worker.  Unless it answered, the VM's work
 * ends with the error returned (and err says why); else 0.
 */
static uint32_t vm_call(struct cuda_vm *vm, const struct vgpu_backend_job *job, uint32_t *results,
                        uint64_t *exec_ns, char *err, size_t err_size)
{
    struct cuda_call *call = &vm->child.shared->calls[0];
    char how[64];

    call->batch_offset = job->op->a;
    call->batch_length = job->op->count;
    call->vm_quota = job->vm->gpu_memory_quota;
    switch (cuda_child_call(&vm->child, 0, CUDA_VM_BATCH_LIMIT_NS, err, err_size)) {
    case CUDA_CALL_ANSWERED:
        break;
    case CUDA_CALL_TIMED_OUT:
        return VGPU_CUDA_ERROR_LAUNCH_TIMEOUT;
    default:
        return VGPU_CUDA_ERROR_UNKNOWN;
    }
    results[0] = call->results[0];
    results[1] = call->results[1];
    *exec_ns = call->exec_ns;
    *job->usage = (struct vgpu_backend_cuda_usage){
        .valid = true,
        .memory_used = call->vm_memory_used,
        .memory_total = call->vm_memory_total,
        .kernels = call->vm_kernels,
    };
    if (call->worker_exits) {
        /* a fault sticks; a reset that ended running kernels comes again, to a fresh worker */
        cuda_child_reap(&vm->child, true, how, sizeof(how));
        vm->sticky = results[0] == VGPU_CUDA_STILL_WAITING ? 0 : results[0];
    }
    return VGPU_CUDA_SUCCESS;
}

uint32_t cuda_vms_run(int gpu, const struct vgpu_backend_job *job, uint32_t *results,
                      uint32_t *result_count, uint64_t *exec_ns, char *err, size_t err_size)
{
    unsigned char *batch = job->window->base + job->op->a;
    size_t len = job->op->count;
    uint32_t answer = VGPU_CUDA_SUCCESS;
    struct cuda_vm *vm;

    /* err is only scratch here: every outcome is the VM's answer, VGPU_OK */
    *exec_ns = 0;
    pthread_mutex_lock(&vms_lock);
    vm = vm_take(gpu, job, err, err_size);
    pthread_mutex_unlock(&vms_lock);
    if (!vm) {
        fprintf(stderr, "vgpu-cuda: no CUDA for VM %u (%s): %s\n", job->vm->vm_id,
                job->vm->name ? job->vm->name : "?", err);
        *result_count = vgpu_cuda_batch_answer_all(batch, len,
                                                   VGPU_CUDA_ERROR_DEVICES_UNAVAILABLE, results);
        return VGPU_OK;
    }
    if (vm->child.pid <= 0) {
        if (vm->sticky && !batch_starts_with_reset(batch, len)) {
            answer = vm->sticky;
        } else if (!vm_start(vm, job, err, err_size)) {
            fprintf(stderr, "vgpu-cuda: %s could not start: %s\n", vm->what, err);
            answer = VGPU_CUDA_ERROR_DEVICES_UNAVAILABLE;
        } else {
            vm->sticky = 0;
        }
    }
    if (answer == VGPU_CUDA_SUCCESS &&
        (answer = vm_call(vm, job, results, exec_ns, err, err_size)) != VGPU_CUDA_SUCCESS) {
        fprintf(stderr, "vgpu-cuda: %s; the VM's CUDA work ends with an error until "
                "cudaDeviceReset\n", err);
        vm->sticky = answer;
    }
    if (answer != VGPU_CUDA_SUCCESS) {
        vgpu_cuda_batch_answer_all(batch, len, answer, results);
    }
    *result_count = VGPU_CUDA_RESULTS;
    vm_put(vm);
    return VGPU_OK;
}

void cuda_vms_window_released(uint64_t window_id)
{
    struct cuda_vm *vm;
    unsigned index;
    bool drop = false;

    pthread_mutex_lock(&vms_lock);
    vm = vm_find(window_id, &index);
    if (vm) {
        vm->released = true;
        drop = !vm->busy;
        if (drop) {
            vms[index] = vms[--vm_count];
        }
    }
    pthread_mutex_unlock(&vms_lock);
    if (drop) {
        vm_free(vm);
    }
}

void cuda_vms_close_gpu(int gpu)
{
    for (;;) {
        struct cuda_vm *vm = NULL;

        pthread_mutex_lock(&vms_lock);
        for (unsigned i = 0; i < vm_count && !vm; i++) {
            if (vms[i]->gpu == gpu) {
                vms[i]->released = true;
                if (!vms[i]->busy) {
                    vm = vms[i];
                    vms[i] = vms[--vm_count];
                }
            }
        }
        pthread_mutex_unlock(&vms_lock);
        if (!vm) {
            return;
        }
        vm_free(vm);
    }
}
