/*
 * A latency histogram for the load generator: log-linear over nanoseconds
 * (exact below 128 ns, then 128 buckets per power of two, so a percentile
 * is within 0.4% of the true value), fixed size however many samples, and
 * mergeable, so each client thread keeps its own without locking.
 */
#ifndef BENCH_LATENCY_HIST_H
#define BENCH_LATENCY_HIST_H

#include <stdint.h>

#define LATENCY_HIST_SUB_BITS   7
#define LATENCY_HIST_SUB        (1u << LATENCY_HIST_SUB_BITS)
#define LATENCY_HIST_MAX_BITS   40      /* 2^40 ns, 18 minutes: longer samples count there */
#define LATENCY_HIST_BUCKETS    ((LATENCY_HIST_MAX_BITS - LATENCY_HIST_SUB_BITS + 1) * LATENCY_HIST_SUB)

struct latency_hist {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t max_ns;
    uint64_t buckets[LATENCY_HIST_BUCKETS];
};

void latency_hist_add(struct latency_hist *h, uint64_t ns);

/* Add every sample of src to dst. */
void latency_hist_merge(struct latency_hist *dst, const struct latency_hist *src);

/* The q-quantile (0 < q <= 1) in microseconds: the middle of its bucket; 0 when empty. */
double latency_hist_quantile_us(const struct latency_hist *h, double q);

double latency_hist_mean_us(const struct latency_hist *h);

#endif /* BENCH_LATENCY_HIST_H */
