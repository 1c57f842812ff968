/*
 * vgpu-client's text and JSON output: see client-output.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client-output.h"
#include "vgpu/identity.h"

/* Known CAPABILITIES bits and their names, as info prints them. */
static const struct {
    uint32_t bit;
    const char *name;
} capability_names[] = {
    { VGPU_CAP_COMPLETION_IRQ, "completion-irq" },
    { VGPU_CAP_DATA_WINDOW, "data-window" },
};

#define CAPABILITY_COUNT (sizeof(capability_names) / sizeof(capability_names[0]))

/* A JSON string literal: quotes, backslashes and control characters escaped. */
static void json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            printf("\\%c", *p);
        } else if (*p < 0x20) {
            printf("\\u%04x", *p);
        } else {
            putchar(*p);
        }
    }
    putchar('"');
}

/* The device has its identity once VM_ID is nonzero (regs.h). */
static bool info_has_identity(const struct vgpu_device_info *info)
{
    return info->vm_id != 0;
}

static const char *info_priority(const struct vgpu_device_info *info)
{
    const char *name = vgpu_priority_name(info->priority);

    return name ? name : "unknown";
}

/* "64 MiB", "4 KiB", "1000 bytes": the largest unit that divides it. */
static void format_bytes(char *buf, size_t cap, uint64_t bytes)
{
    static const char *const units[] = { "bytes", "KiB", "MiB", "GiB" };
    unsigned u = 0;

    while (u + 1 < sizeof(units) / sizeof(units[0]) && bytes && bytes % 1024 == 0) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, cap, "%" PRIu64 " %s", bytes, units[u]);
}

static void info_text(const struct vgpu_device_info *info, const struct client_window_info *window)
{
    printf("address:      %s\n", info->address);
    printf("vendor:       0x%04x\n", info->vendor_id);
    printf("device:       0x%04x\n", info->device_id);
    printf("revision:     0x%02x\n", info->revision);
    if (info_has_identity(info)) {
        printf("pool:         %c\n", (char)info->pool_id);
        printf("priority:     %s\n", info_priority(info));
        printf("vm-id:        %" PRIu32 "\n", info->vm_id);
    } else {
        printf("pool:         none (no identity from the mediator yet)\n");
        printf("priority:     none\n");
        printf("vm-id:        none\n");
    }
    printf("protocol:     %" PRIu32 ".%" PRIu32 "\n",
           info->protocol_version >> 16, info->protocol_version & 0xffff);
    printf("capabilities: 0x%08" PRIx32, info->capabilities);
    for (uint32_t bit = 0; bit < 32; bit++) {
        uint32_t mask = UINT32_C(1) << bit;
        const char *name = NULL;

        if (!(info->capabilities & mask)) {
            continue;
        }
        for (size_t i = 0; i < CAPABILITY_COUNT; i++) {
            if (capability_names[i].bit == mask) {
                name = capability_names[i].name;
            }
        }
        if (name) {
            printf(" %s", name);
        } else {
            printf(" bit%" PRIu32, bit);
        }
    }
    printf("\n");
    if (window->result == VGPU_RESULT_OK) {
        char size[32];

        format_bytes(size, sizeof(size), window->size);
        printf("window:       %s\n", size);
    } else if (window->result == VGPU_RESULT_NO_WINDOW) {
        printf("window:       none\n");
    } else {
        printf("window:       unusable: %s\n", window->detail);
    }
    if (info->wait == VGPU_WAIT_IRQ) {
        printf("wait:         irq (/dev/%s)\n", info->uio);
    } else {
        printf("wait:         %s\n", vgpu_wait_mode_name(info->wait));
    }
}

static void info_json(const struct vgpu_device_info *info, const struct client_window_info *window)
{
    printf("{\"address\":");
    json_string(info->address);
    printf(",\"vendor_id\":%u,\"device_id\":%u,\"revision\":%u",
           info->vendor_id, info->device_id, info->revision);
    printf(",\"registered\":%s", info_has_identity(info) ? "true" : "false");
    if (info_has_identity(info)) {
        printf(",\"pool\":\"%c\",\"priority\":", (char)info->pool_id);
        json_string(info_priority(info));
        printf(",\"vm_id\":%" PRIu32, info->vm_id);
    } else {
        printf(",\"pool\":null,\"priority\":null,\"vm_id\":null");
    }
    printf(",\"protocol\":\"%" PRIu32 ".%" PRIu32 "\",\"protocol_version\":%" PRIu32,
           info->protocol_version >> 16, info->protocol_version & 0xffff,
           info->protocol_version);
    printf(",\"capabilities\":%" PRIu32 ",\"capability_names\":[", info->capabilities);
    for (size_t i = 0, n = 0; i < CAPABILITY_COUNT; i++) {
        if (info->capabilities & capability_names[i].bit) {
            printf("%s", n++ ? "," : "");
            json_string(capability_names[i].name);
        }
    }
    printf("],\"window_size\":");
    if (window->result == VGPU_RESULT_OK) {
        printf("%" PRIu64, window->size);
    } else {
        printf("null");
    }
    if (window->result != VGPU_RESULT_OK && window->result != VGPU_RESULT_NO_WINDOW) {
        printf(",\"window_error\":");
        json_string(window->detail);
    }
    printf(",\"wait\":");
    json_string(vgpu_wait_mode_name(info->wait));
    printf(",\"uio\":");
    if (info->uio[0]) {
        json_string(info->uio);
    } else {
        printf("null");
    }
    printf("}\n");
}

void client_print_info(bool json, const struct vgpu_device_info *info,
                       const struct client_window_info *window)
{
    if (json) {
        info_json(info, window);
    } else {
        info_text(info, window);
    }
}

static void op_text(const struct client_op_report *r)
{
    char size[32];

    printf("op:       %s\n", r->op);
    if (r->flops) {
        printf("shape:    m %" PRIu32 ", n %" PRIu32 ", k %" PRIu32 ", alpha %.9g, beta %.9g\n",
               r->m, r->n, r->k, r->alpha, r->beta);
    } else {
        format_bytes(size, sizeof(size), r->size);
        printf("size:     %s per array, %" PRIu64 " elements\n", size, r->count);
        if (r->has_alpha) {
            printf("alpha:    %.9g\n", r->alpha);
        }
    }
    printf("seed:     %" PRIu64 "\n", r->seed);
    if (strcmp(r->check_mode, "bound") == 0) {
        printf("sum:      %.17g (reference %.17g)\n", r->sum, r->reference);
    }
    if (strcmp(r->check_mode, "bit-exact") == 0) {
        printf("check:    ok, all %" PRIu64 " elements bit-exact\n", r->checked);
    } else if (strcmp(r->check_mode, "bound") == 0) {
        printf("check:    ok, within %.3g = n 2^-52 sum|x| (error %.3g of it)\n", r->bound,
               r->max_error_ratio);
    } else {
        printf("check:    ok, %s %" PRIu64 " of %" PRIu64 " entries within 2 max(k,2) 2^-24 "
               "(|alpha| sum|a||b| + |beta c|) (largest error %.3g of it)\n",
               strcmp(r->check_mode, "all") == 0 ? "all" : "sampled", r->checked, r->total,
               r->max_error_ratio);
    }
    printf("time:     %.1f us (backend %" PRIu32 " us)\n", r->time_us, r->exec_time_us);
    if (r->flops) {
        printf("rate:     %.3f GFLOP/s (%.0f flops)\n", r->rate, r->flops);
    } else {
        printf("rate:     %.3f GB/s (%.0f bytes moved)\n", r->rate, r->bytes_moved);
    }
    printf("wait:     %s\n", vgpu_wait_mode_name(r->wait));
}

static void op_json(const struct client_op_report *r)
{
    printf("{\"command\":");
    json_string(r->command);
    printf(",\"op\":");
    json_string(r->op);
    if (r->type) {
        printf(",\"type\":");
        json_string(r->type);
    }
    if (r->flops) {
        printf(",\"m\":%" PRIu32 ",\"n\":%" PRIu32 ",\"k\":%" PRIu32, r->m, r->n, r->k);
    } else {
        printf(",\"size\":%" PRIu64 ",\"count\":%" PRIu64, r->size, r->count);
    }
    if (r->has_alpha) {
        printf(",\"alpha\":%.9g", r->alpha);
    }
    if (r->has_beta) {
        printf(",\"beta\":%.9g", r->beta);
    }
    printf(",\"seed\":%" PRIu64 ",\"window_size\":%" PRIu64, r->seed, r->window_size);
    if (strcmp(r->check_mode, "bound") == 0) {
        printf(",\"sum\":%.17g,\"reference\":%.17g,\"bound\":%.17g", r->sum, r->reference,
               r->bound);
    }
    printf(",\"check\":\"ok\",\"check_mode\":");
    json_string(r->check_mode);
    printf(",\"checked\":%" PRIu64 ",\"total\":%" PRIu64 ",\"max_error_ratio\":%.6g",
           r->checked, r->total, r->max_error_ratio);
    printf(",\"time_us\":%.3f,\"exec_time_us\":%" PRIu32, r->time_us, r->exec_time_us);
    if (r->flops) {
        printf(",\"flops\":%.0f,\"gflop_per_s\":%.6g", r->flops, r->rate);
    } else {
        printf(",\"bytes_moved\":%.0f,\"gb_per_s\":%.6g", r->bytes_moved, r->rate);
    }
    printf(",\"request_id\":%" PRIu32 ",\"timestamp_ns\":%" PRIu64 ",\"wait\":",
           r->completion.request_id, r->completion.timestamp_ns);
    json_string(vgpu_wait_mode_name(r->wait));
    printf("}\n");
}

void client_print_op(bool json, const struct client_op_report *report)
{
    if (json) {
        op_json(report);
    } else {
        op_text(report);
    }
}

void client_print_failure(bool json, const char *name, const char *message,
                          const uint64_t *index)
{
    fprintf(stderr, "vgpu-client: %s\n", message);
    if (!json) {
        return;
    }
    printf("{\"error\":{\"result\":");
    json_string(name);
    printf(",\"message\":");
    json_string(message);
    if (index) {
        printf(",\"index\":%" PRIu64, *index);
    }
    printf("}}\n");
}

void client_print_add(bool json, const struct client_add_result *add)
{
    if (!json) {
        printf("%" PRIu32 "\n", add->sum);
        return;
    }
    printf("{\"a\":%" PRIu32 ",\"b\":%" PRIu32 ",\"sum\":%" PRIu32, add->a, add->b, add->sum);
    printf(",\"request_id\":%" PRIu32 ",\"exec_time_us\":%" PRIu32
           ",\"latency_us\":%.3f,\"timestamp_ns\":%" PRIu64 ",\"wait\":",
           add->completion.request_id, add->exec_time_us, add->latency_us,
           add->completion.timestamp_ns);
    json_string(vgpu_wait_mode_name(add->wait));
    printf("}\n");
}

void client_print_bench(bool json, const struct vgpu_device_info *info,
                        const struct client_bench_stats *stats)
{
    if (!json) {
        printf("count:  %zu\n", stats->count);
        printf("min:    %.1f us\n", stats->min_us);
        printf("p50:    %.1f us\n", stats->p50_us);
        printf("p90:    %.1f us\n", stats->p90_us);
        printf("p99:    %.1f us\n", stats->p99_us);
        printf("max:    %.1f us\n", stats->max_us);
        printf("mean:   %.1f us\n", stats->mean_us);
        printf("wait:   %s\n", vgpu_wait_mode_name(info->wait));
        return;
    }
    printf("{\"address\":");
    json_string(info->address);
    printf(",\"wait\":");
    json_string(vgpu_wait_mode_name(info->wait));
    printf(",\"count\":%zu,\"min_us\":%.3f,\"p50_us\":%.3f,\"p90_us\":%.3f"
           ",\"p99_us\":%.3f,\"max_us\":%.3f,\"mean_us\":%.3f}\n",
           stats->count, stats->min_us, stats->p50_us, stats->p90_us,
           stats->p99_us, stats->max_us, stats->mean_us);
}

void client_print_error(bool json, enum vgpu_result result,
                        const struct vgpu_completion *completion)
{
    bool device_error = result == VGPU_RESULT_DEVICE_ERROR && completion;
    const char *detail = vgpu_last_error();

    fprintf(stderr, "vgpu-client: %s\n", detail[0] ? detail : vgpu_result_message(result));
    if (!json) {
        return;
    }
    printf("{\"error\":{\"result\":");
    json_string(vgpu_result_name(result));
    printf(",\"message\":");
    json_string(detail[0] ? detail : vgpu_result_message(result));
    if (device_error) {
        const char *name = vgpu_error_name(completion->error_code);

        printf(",\"device_error\":");
        json_string(name ? name : "UNKNOWN");
        printf(",\"device_error_code\":%" PRIu32 ",\"device_error_message\":",
               completion->error_code);
        json_string(vgpu_error_message(completion->error_code));
    }
    printf("}}\n");
}
