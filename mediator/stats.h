/*
 * Accounting of requests: counters, error counts by code, and latency
 * histograms, kept per VM, per pool and in total (and busy time per unit).
 *
 * One mutex (stats_lock) guards every stats_counters: the main thread and
 * the worker threads update them, the control socket reads snapshots.
 *
 * Percentiles come from a log-linear histogram: exact below
 * STATS_HIST_EXACT microseconds, then STATS_HIST_SUB buckets per power of
 * two, so a reported p50/p99 is within 1/STATS_HIST_SUB (3.2%) of the true
 * value; sums, counts and maxima are exact.
 *
 * Each histogram also counts its values in the buckets that the Prometheus
 * exposition shows (metrics.c): 1-2-5 steps from 1 us to 10 s.  Those
 * counts are exact, since a value falls in the first bucket whose bound is
 * not below it, so a scrape's `le` series are not estimates of estimates.
 */
#ifndef MEDIATOR_STATS_H
#define MEDIATOR_STATS_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdint.h>

#include "vgpu/backend.h"
#include "vgpu/errors.h"

#define STATS_HIST_EXACT    64u         /* values below this get a bucket each */
#define STATS_HIST_SUB_BITS 5u
#define STATS_HIST_SUB      (1u << STATS_HIST_SUB_BITS)
#define STATS_HIST_MAX_EXP  40u         /* 2^40 us, 12 days: larger values are clamped */
#define STATS_HIST_BUCKETS  (STATS_HIST_EXACT + (STATS_HIST_MAX_EXP - 6u + 1u) * STATS_HIST_SUB)
#define STATS_LE_COUNT      22u         /* Prometheus bucket bounds, 1 us .. 10 s */

/* The Prometheus buckets' upper bounds, in microseconds, ascending. */
extern const uint64_t stats_le_us[STATS_LE_COUNT];

struct stats_hist {
    uint64_t count;                     /* values recorded */
    uint64_t sum;                       /* their sum, us */
    uint64_t max;                       /* the largest, us */
    uint64_t buckets[STATS_HIST_BUCKETS];
    uint64_t le[STATS_LE_COUNT + 1];    /* values per Prometheus bucket (not cumulative);
                                           the last: above the largest bound */
};

struct stats_counters {
    uint64_t submitted;                 /* SUBMITs attributed to this VM/pool */
    uint64_t completed;                 /* finished with VGPU_OK */
    uint64_t errors[VGPU_ERROR_COUNT];  /* finished with each error code */
    uint64_t queued;                    /* waiting in the queue now */
    uint64_t running;                   /* executing on a unit now */
    struct stats_hist wait;             /* queue wait, us */
    struct stats_hist exec;             /* backend execution time, us */
    uint64_t window_read_bytes;         /* bytes the completed window operations read */
    uint64_t window_written_bytes;      /* and wrote */
};

/*
 * A VM's CUDA work, from the usage the backend reports after each of its
 * VGPU_OP_CUDA batches that ran on a GPU (struct vgpu_backend_cuda_usage).
 */
struct stats_cuda {
    uint64_t memory_used;               /* bytes of GPU memory the VM holds (last batch) */
    uint64_t memory_total;              /* what it may hold: its quota or the GPU's; 0 before */
    uint64_t kernels;                   /* kernels its batches launched */
    uint64_t gpu_time_ns;               /* the backend's execution time of those batches */
};

/* Guards every struct stats_counters and stats_cuda. */
void stats_lock(void);
void stats_unlock(void);

void stats_hist_record(struct stats_hist *h, uint64_t value_us);

/* The value below which a fraction q (0..1) of the recorded values lie; 0 when empty. */
uint64_t stats_hist_quantile(const struct stats_hist *h, double q);

/*
 * Write c's fields as members of the builder's current object:
 * submitted, completed, errors {NAME: n}, queued, running,
 * queue_wait_us and exec_time_us {count, sum, p50, p99, max},
 * window_read_bytes, window_written_bytes.
 */
void stats_counters_to_json(const struct stats_counters *c, JsonBuilder *b);

/* Account one batch that ran on a GPU (usage->valid) in exec_ns. */
void stats_cuda_record(struct stats_cuda *c, const struct vgpu_backend_cuda_usage *usage,
                       uint64_t exec_ns);

/*
 * Write c's fields as members of the builder's current object:
 * gpu_memory_used_bytes, gpu_memory_total_bytes, cuda_kernels, cuda_gpu_time_us.
 */
void stats_cuda_to_json(const struct stats_cuda *c, JsonBuilder *b);

#endif /* MEDIATOR_STATS_H */
