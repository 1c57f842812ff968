/*
 * What vgpu-client prints: plain text for people, or one JSON object on
 * stdout for scripts (errors too).  Diagnostics always go to stderr.
 */
#ifndef VGPU_CLIENT_OUTPUT_H
#define VGPU_CLIENT_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vgpu.h"

struct client_add_result {
    uint32_t a, b, sum;
    uint32_t exec_time_us;          /* the backend's time, from the response */
    double latency_us;              /* submit to completion, as the guest saw it */
    struct vgpu_completion completion;
};

struct client_bench_stats {
    size_t count;
    double min_us, p50_us, p90_us, p99_us, max_us, mean_us;
};

void client_print_info(bool json, const struct vgpu_device_info *info);
void client_print_add(bool json, const struct client_add_result *add);
void client_print_bench(bool json, const struct vgpu_device_info *info,
                        const struct client_bench_stats *stats);

/*
 * Report a failed libvgpu call: "vgpu-client: <detail>" on stderr and, with
 * json, an {"error": ...} object on stdout.  completion may be NULL; its
 * error_code is reported for DEVICE_ERROR.
 */
void client_print_error(bool json, enum vgpu_result result,
                        const struct vgpu_completion *completion);

#endif /* VGPU_CLIENT_OUTPUT_H */
