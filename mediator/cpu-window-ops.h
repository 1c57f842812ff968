/*
 * The cpu backend's array operations on a data window (include/vgpu/ops.h).
 * They are the reference the cuda backend is checked against: element-wise
 * adds and SAXPY (fmaf) are bit-exact in both, SUM accumulates in double,
 * SGEMM is OpenBLAS's cblas_sgemm.
 */
#ifndef MEDIATOR_CPU_WINDOW_OPS_H
#define MEDIATOR_CPU_WINDOW_OPS_H

#include <stdint.h>

#include "vgpu/ops.h"

/*
 * Run op, which vgpu_window_op_decode() accepted for this window, on the
 * calling thread; results gets SUM's words (room for VGPU_SUM_RESULTS).
 */
void cpu_window_op_run(const struct vgpu_window_op *op, unsigned char *window,
                       uint32_t *results, uint32_t *result_count);

#endif /* MEDIATOR_CPU_WINDOW_OPS_H */
