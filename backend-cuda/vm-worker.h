/*
 * vgpu-cuda-vm: one VM's CUDA worker.  The cuda plugin (vm-sessions.c)
 * starts one per VM that makes CUDA calls, with the plugin's shared page
 * (cuda-worker.h) on CUDA_WORKER_SHM_FD and the VM's data window (its
 * memfd) on CUDA_WORKER_WINDOW_FD.  It owns a CUDA context of its own on
 * one GPU: a kernel of this VM that faults poisons this process only, and
 * the other VMs' workers, other processes with other contexts, never see
 * it.  Each request is one batch of calls (include/vgpu/cuda.h) in the
 * window, run in order with the driver API (vm-calls.c) against what this
 * VM was given (vm-objects.h).
 */
#ifndef VGPU_VM_WORKER_H
#define VGPU_VM_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <cuda.h>

#include "vm-objects.h"

struct vm_worker {
    int gpu;
    const char *name;               /* the VM, for messages */
    CUdevice device;
    CUcontext context;
    uint64_t gpu_memory;            /* the GPU's */
    unsigned char *window;          /* the VM's data window, registered with CUDA */
    uint64_t window_size;
    unsigned char *batch;           /* private copy of the batch being run */
    void **args;                    /* a launch's parameters: VGPU_CUDA_PARAMS_MAX pointers */

    uint64_t quota;                 /* this batch's: 0 none */
    uint64_t wait_deadline_ns;      /* this batch's waits end by then (VGPU_CUDA_WAIT_SLICE_MS) */
    uint64_t kernels;               /* launched by this batch */
    bool poisoned;                  /* a fault ended the context: answer, then exit */
    bool exit_for_reset;            /* a reset found kernels running: answer, then exit */
    struct vm_objects objects;
};

/*
 * Run the batch at [offset, offset + length) of the window: results get
 * [status, index] (include/vgpu/cuda.h), every record its answer.
 */
void vm_batch_run(struct vm_worker *w, uint64_t offset, uint64_t length, uint32_t results[2]);

/* Release every CUDA object of the VM (DEVICE_RESET, and exit). */
void vm_release_all(struct vm_worker *w);

/* The bytes the VM may hold: its quota, or the GPU's memory. */
uint64_t vm_memory_total(const struct vm_worker *w);

#endif /* VGPU_VM_WORKER_H */
