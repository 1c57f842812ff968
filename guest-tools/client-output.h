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
    enum vgpu_wait_mode wait;       /* how the client waited for it */
    struct vgpu_completion completion;
};

struct client_bench_stats {
    size_t count;
    double min_us, p50_us, p90_us, p99_us, max_us, mean_us;
};

/* What info says of the data window: its size, or why there is none to use. */
struct client_window_info {
    enum vgpu_result result;        /* of vgpu_device_window() */
    uint64_t size;                  /* bytes, when OK */
    const char *detail;             /* vgpu_last_error() otherwise */
};

/* An array operation that ran and passed its check (client-ops.c). */
struct client_op_report {
    const char *command;            /* "vadd", "saxpy", "sum", "sgemm" */
    const char *op;                 /* the opcode's name: "ADD_U32" */
    const char *type;               /* vadd: "u32" or "f32"; else NULL */
    uint64_t size;                  /* bytes of each array (vadd, saxpy, sum); 0 for sgemm */
    uint64_t count;                 /* elements of each array (vadd, saxpy, sum) */
    uint32_t m, n, k;               /* sgemm */
    bool has_alpha, has_beta;
    float alpha, beta;
    uint64_t seed;
    uint64_t window_size;
    const char *check_mode;         /* "bit-exact", "bound" (sum), "all" or "sample" (sgemm) */
    uint64_t checked;               /* elements or entries checked... */
    uint64_t total;                 /* ...of this many */
    double max_error_ratio;         /* largest error / its bound (sum, sgemm) */
    double sum, reference, bound;   /* sum: the device's, the guest's, the bound */
    double time_us;                 /* the request, as the guest saw it */
    uint32_t exec_time_us;          /* the backend's time, from the response */
    double bytes_moved;             /* inputs + output; 0 for sgemm */
    double flops;                   /* sgemm: 2 m n k; else 0 */
    double rate;                    /* GB/s, or GFLOP/s for sgemm */
    enum vgpu_wait_mode wait;
    struct vgpu_completion completion;
};

void client_print_info(bool json, const struct vgpu_device_info *info,
                       const struct client_window_info *window);
void client_print_op(bool json, const struct client_op_report *report);
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

/*
 * Report a failure of the client's own (a wrong result): "vgpu-client:
 * <message>" on stderr and, with json, {"error":{"result":name,
 * "message":...}} on stdout, with "index" when index is not NULL.
 */
void client_print_failure(bool json, const char *name, const char *message,
                          const uint64_t *index);

#endif /* VGPU_CLIENT_OUTPUT_H */
