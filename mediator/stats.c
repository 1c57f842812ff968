/*
 * Request accounting: see stats.h.
 */
#include <string.h>

#include "stats.h"

static GMutex stats_mutex;

const uint64_t stats_le_us[STATS_LE_COUNT] = {
    1, 2, 5, 10, 20, 50, 100, 200, 500,
    1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000,
    1000000, 2000000, 5000000, 10000000,
};

void stats_lock(void)
{
    g_mutex_lock(&stats_mutex);
}

void stats_unlock(void)
{
    g_mutex_unlock(&stats_mutex);
}

static unsigned hist_bucket(uint64_t v)
{
    unsigned exp;

    if (v < STATS_HIST_EXACT) {
        return (unsigned)v;
    }
    exp = 63u - (unsigned)__builtin_clzll(v);
    if (exp > STATS_HIST_MAX_EXP) {
        return STATS_HIST_BUCKETS - 1;
    }
    return STATS_HIST_EXACT + (exp - 6u) * STATS_HIST_SUB +
           (unsigned)((v >> (exp - STATS_HIST_SUB_BITS)) & (STATS_HIST_SUB - 1));
}

/* The smallest value that falls into bucket b. */
static uint64_t hist_bucket_low(unsigned b)
{
    unsigned exp, sub;

    if (b < STATS_HIST_EXACT) {
        return b;
    }
    exp = (b - STATS_HIST_EXACT) / STATS_HIST_SUB + 6u;
    sub = (b - STATS_HIST_EXACT) % STATS_HIST_SUB;
    return ((uint64_t)STATS_HIST_SUB + sub) << (exp - STATS_HIST_SUB_BITS);
}

void stats_hist_record(struct stats_hist *h, uint64_t value_us)
{
    h->count++;
    h->sum += value_us;
    if (value_us > h->max) {
        h->max = value_us;
    }
    h->buckets[hist_bucket(value_us)]++;
    for (unsigned i = 0; i <= STATS_LE_COUNT; i++) {
        if (i == STATS_LE_COUNT || value_us <= stats_le_us[i]) {
            h->le[i]++;
            break;
        }
    }
}

uint64_t stats_hist_quantile(const struct stats_hist *h, double q)
{
    uint64_t rank, seen = 0;

    if (h->count == 0) {
        return 0;
    }
    rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank == 0) {
        rank = 1;
    }
    for (unsigned b = 0; b < STATS_HIST_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen >= rank) {
            uint64_t low = hist_bucket_low(b);
            uint64_t high = b + 1 < STATS_HIST_BUCKETS ? hist_bucket_low(b + 1) - 1 : low;
            uint64_t mid = low + (high - low) / 2;

            return mid < h->max ? mid : h->max;
        }
    }
    return h->max;
}

static void hist_to_json(const char *name, const struct stats_hist *h, JsonBuilder *b)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "count");
    json_builder_add_int_value(b, (gint64)h->count);
    json_builder_set_member_name(b, "sum");
    json_builder_add_int_value(b, (gint64)h->sum);
    json_builder_set_member_name(b, "p50");
    json_builder_add_int_value(b, (gint64)stats_hist_quantile(h, 0.50));
    json_builder_set_member_name(b, "p99");
    json_builder_add_int_value(b, (gint64)stats_hist_quantile(h, 0.99));
    json_builder_set_member_name(b, "max");
    json_builder_add_int_value(b, (gint64)h->max);
    json_builder_end_object(b);
}

void stats_counters_to_json(const struct stats_counters *c, JsonBuilder *b)
{
    json_builder_set_member_name(b, "submitted");
    json_builder_add_int_value(b, (gint64)c->submitted);
    json_builder_set_member_name(b, "completed");
    json_builder_add_int_value(b, (gint64)c->completed);
    json_builder_set_member_name(b, "errors");
    json_builder_begin_object(b);
    for (unsigned e = 1; e < VGPU_ERROR_COUNT; e++) {
        if (c->errors[e]) {
            json_builder_set_member_name(b, vgpu_error_name(e));
            json_builder_add_int_value(b, (gint64)c->errors[e]);
        }
    }
    json_builder_end_object(b);
    json_builder_set_member_name(b, "queued");
    json_builder_add_int_value(b, (gint64)c->queued);
    json_builder_set_member_name(b, "running");
    json_builder_add_int_value(b, (gint64)c->running);
    hist_to_json("queue_wait_us", &c->wait, b);
    hist_to_json("exec_time_us", &c->exec, b);
    json_builder_set_member_name(b, "window_read_bytes");
    json_builder_add_int_value(b, (gint64)c->window_read_bytes);
    json_builder_set_member_name(b, "window_written_bytes");
    json_builder_add_int_value(b, (gint64)c->window_written_bytes);
}

void stats_cuda_record(struct stats_cuda *c, const struct vgpu_backend_cuda_usage *usage,
                       uint64_t exec_ns)
{
    c->memory_used = usage->memory_used;
    c->memory_total = usage->memory_total;
    c->kernels += usage->kernels;
    c->gpu_time_ns += exec_ns;
}

void stats_cuda_to_json(const struct stats_cuda *c, JsonBuilder *b)
{
    json_builder_set_member_name(b, "gpu_memory_used_bytes");
    json_builder_add_int_value(b, (gint64)c->memory_used);
    json_builder_set_member_name(b, "gpu_memory_total_bytes");
    json_builder_add_int_value(b, (gint64)c->memory_total);
    json_builder_set_member_name(b, "cuda_kernels");
    json_builder_add_int_value(b, (gint64)c->kernels);
    json_builder_set_member_name(b, "cuda_gpu_time_us");
    json_builder_add_int_value(b, (gint64)(c->gpu_time_ns / 1000));
}
