/*
 * Log-linear latency histogram: see latency-hist.h.
 */
#include <math.h>

#include "latency-hist.h"

static unsigned bucket_of(uint64_t ns)
{
    unsigned msb, shift, index;

    if (ns < LATENCY_HIST_SUB) {
        return (unsigned)ns;
    }
    msb = 63u - (unsigned)__builtin_clzll(ns);
    shift = msb - LATENCY_HIST_SUB_BITS;
    index = (shift + 1) * LATENCY_HIST_SUB + (unsigned)((ns >> shift) - LATENCY_HIST_SUB);
    return index < LATENCY_HIST_BUCKETS ? index : LATENCY_HIST_BUCKETS - 1;
}

/* The middle of a bucket, in ns. */
static double bucket_middle_ns(unsigned index)
{
    unsigned shift;
    uint64_t low;

    if (index < LATENCY_HIST_SUB) {
        return index;
    }
    shift = index / LATENCY_HIST_SUB - 1;
    low = (uint64_t)(LATENCY_HIST_SUB + index % LATENCY_HIST_SUB) << shift;
    return (double)low + (double)((1ull << shift) - 1) / 2.0;
}

void latency_hist_add(struct latency_hist *h, uint64_t ns)
{
    h->buckets[bucket_of(ns)]++;
    h->count++;
    h->sum_ns += ns;
    if (ns > h->max_ns) {
        h->max_ns = ns;
    }
}

void latency_hist_merge(struct latency_hist *dst, const struct latency_hist *src)
{
    for (unsigned i = 0; i < LATENCY_HIST_BUCKETS; i++) {
        dst->buckets[i] += src->buckets[i];
    }
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    if (src->max_ns > dst->max_ns) {
        dst->max_ns = src->max_ns;
    }
}

double latency_hist_quantile_us(const struct latency_hist *h, double q)
{
    /* the sample of rank ceil(q * count), counting from 1 */
    uint64_t rank = (uint64_t)ceil(q * (double)h->count), seen = 0;

    if (!h->count) {
        return 0;
    }
    if (rank < 1) {
        rank = 1;
    }
    for (unsigned i = 0; i < LATENCY_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            double mid = bucket_middle_ns(i);

            /* the top sample is known exactly */
            return (mid > (double)h->max_ns ? (double)h->max_ns : mid) / 1e3;
        }
    }
    return (double)h->max_ns / 1e3;
}

double latency_hist_mean_us(const struct latency_hist *h)
{
    return h->count ? (double)h->sum_ns / (double)h->count / 1e3 : 0;
}
