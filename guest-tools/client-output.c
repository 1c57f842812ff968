/*
 * vgpu-client's text and JSON output: see client-output.h.
 */
#include <inttypes.h>
#include <stdio.h>

#include "client-output.h"
#include "vgpu/identity.h"

/* Known CAPABILITIES bits and their names, as info prints them. */
static const struct {
    uint32_t bit;
    const char *name;
} capability_names[] = {
    { VGPU_CAP_COMPLETION_IRQ, "completion-irq" },
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

static void info_text(const struct vgpu_device_info *info)
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
    if (info->wait == VGPU_WAIT_IRQ) {
        printf("wait:         irq (/dev/%s)\n", info->uio);
    } else {
        printf("wait:         %s\n", vgpu_wait_mode_name(info->wait));
    }
}

static void info_json(const struct vgpu_device_info *info)
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
    printf("],\"wait\":");
    json_string(vgpu_wait_mode_name(info->wait));
    printf(",\"uio\":");
    if (info->uio[0]) {
        json_string(info->uio);
    } else {
        printf("null");
    }
    printf("}\n");
}

void client_print_info(bool json, const struct vgpu_device_info *info)
{
    if (json) {
        info_json(info);
    } else {
        info_text(info);
    }
}

void client_print_add(bool json, const struct client_add_result *add)
{
    if (!json) {
        printf("%" PRIu32 "\n", add->sum);
        return;
    }
    printf("{\"a\":%" PRIu32 ",\"b\":%" PRIu32 ",\"sum\":%" PRIu32, add->a, add->b, add->sum);
    printf(",\"request_id\":%" PRIu32 ",\"exec_time_us\":%" PRIu32
           ",\"latency_us\":%.3f,\"timestamp_ns\":%" PRIu64 "}\n",
           add->completion.request_id, add->exec_time_us, add->latency_us,
           add->completion.timestamp_ns);
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
