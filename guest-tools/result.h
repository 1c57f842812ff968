/*
 * Failure details for vgpu_last_error(): each failing path records one line
 * with the context to act on, in a per-thread buffer.
 */
#ifndef VGPU_GUEST_RESULT_H
#define VGPU_GUEST_RESULT_H

#include "vgpu.h"

/* Longest detail kept; longer ones are cut. */
#define VGPU_RESULT_DETAIL_MAX 512

/*
 * Record the detail of a failure (printf format; %m is errno as it was on
 * entry) and return result, so that a failing path reads
 * `return vgpu_result_fail(VGPU_RESULT_IO, "cannot read %s: %m", path);`.
 */
enum vgpu_result vgpu_result_fail(enum vgpu_result result, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* VGPU_GUEST_RESULT_H */
