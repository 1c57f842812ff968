/*
 * The plugin's side of the VMs' CUDA workers (vgpu-cuda-vm, vm-worker.h):
 * one per VM that makes CUDA calls, keyed by its data window, shared by
 * all of the plugin's units.
 */
#ifndef VGPU_VM_SESSIONS_H
#define VGPU_VM_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "vgpu/backend.h"

/*
 * Run a VGPU_OP_CUDA batch in its VM's worker, started on GPU `gpu` when
 * the VM has none.  Whatever happens to the VM's worker is the VM's answer
 * (results [status, index]): VGPU_OK unless the batch cannot be answered
 * at all.
 */
uint32_t cuda_vms_run(int gpu, const struct vgpu_backend_job *job, uint32_t *results,
                      uint32_t *result_count, uint64_t *exec_ns, char *err, size_t err_size);

/* The VM's window is gone: its worker ends (any thread). */
void cuda_vms_window_released(uint64_t window_id);

/* The unit of GPU gpu closes: the workers on it end. */
void cuda_vms_close_gpu(int gpu);

#endif /* VGPU_VM_SESSIONS_H */
