/*
 * vgpuctl commands about accounting: stats (a table, or --json) and
 * metrics (Prometheus text).
 */
#include <stdio.h>

#include "vgpuctl.h"

gint64 vgpuctl_stats_hist(JsonObject *row, const char *hist, const char *field)
{
    return json_object_get_int_member(json_object_get_object_member(row, hist), field);
}

gint64 vgpuctl_stats_errors(JsonObject *row)
{
    JsonObject *errors = json_object_get_object_member(row, "errors");
    g_autoptr(GList) names = json_object_get_members(errors);
    gint64 total = 0;

    for (GList *n = names; n; n = n->next) {
        total += json_object_get_int_member(errors, n->data);
    }
    return total;
}

/* The columns every accounting row shares, after its own. */
static void print_counters(JsonObject *row)
{
    printf(" %9" G_GINT64_FORMAT " %9" G_GINT64_FORMAT " %6" G_GINT64_FORMAT " %6" G_GINT64_FORMAT
           " %7" G_GINT64_FORMAT " %9" G_GINT64_FORMAT " %9" G_GINT64_FORMAT " %9" G_GINT64_FORMAT
           " %9" G_GINT64_FORMAT "\n",
           json_object_get_int_member(row, "submitted"), json_object_get_int_member(row, "completed"),
           vgpuctl_stats_errors(row), json_object_get_int_member(row, "queued"),
           json_object_get_int_member(row, "running"),
           vgpuctl_stats_hist(row, "queue_wait_us", "p50"), vgpuctl_stats_hist(row, "queue_wait_us", "p99"),
           vgpuctl_stats_hist(row, "exec_time_us", "p50"), vgpuctl_stats_hist(row, "exec_time_us", "p99"));
}

static const char counters_header[] =
    " SUBMITTED COMPLETED ERRORS QUEUED RUNNING  WAIT-P50  WAIT-P99  EXEC-P50  EXEC-P99\n";

/* "QUEUE_FULL 3, BAD_VERSION 2" lines for rows with errors. */
static void print_errors(const char *what, JsonObject *row, GString *out)
{
    JsonObject *errors = json_object_get_object_member(row, "errors");
    g_autoptr(GList) names = json_object_get_members(errors);

    if (!names) {
        return;
    }
    g_string_append_printf(out, "  %s:", what);
    for (GList *n = names; n; n = n->next) {
        g_string_append_printf(out, "%s %s %" G_GINT64_FORMAT, n == names ? "" : ",",
                               (const char *)n->data,
                               json_object_get_int_member(errors, n->data));
    }
    g_string_append_c(out, '\n');
}

gboolean vgpuctl_stats_has_cuda(JsonArray *vms)
{
    for (guint i = 0; i < json_array_get_length(vms); i++) {
        JsonObject *vm = json_array_get_object_element(vms, i);

        if (json_object_get_int_member(vm, "gpu_memory_quota") ||
            json_object_get_int_member(vm, "gpu_memory_total_bytes") ||
            json_object_get_int_member(vm, "cuda_gpu_time_us")) {
            return TRUE;
        }
    }
    return FALSE;
}

static double mib(gint64 bytes)
{
    return (double)bytes / (1 << 20);
}

/* The VMs' GPU memory and CUDA work: hosts without CUDA guests are spared an empty table. */
static void print_cuda(JsonArray *vms)
{
    if (!vgpuctl_stats_has_cuda(vms)) {
        return;
    }
    printf("\n%-6s %-16s %-10s %12s %13s %10s %12s\n", "VM-ID", "NAME", "GPU-QUOTA",
           "MEM-USED-MIB", "MEM-TOTAL-MIB", "KERNELS", "GPU-TIME-US");
    for (guint i = 0; i < json_array_get_length(vms); i++) {
        JsonObject *vm = json_array_get_object_element(vms, i);
        char quota[VGPU_GPU_MEMORY_TEXT_MAX];

        printf("%-6" G_GINT64_FORMAT " %-16s %-10s %12.1f %13.1f %10" G_GINT64_FORMAT " %12"
               G_GINT64_FORMAT "\n", json_object_get_int_member(vm, "vm_id"),
               json_object_get_string_member(vm, "name"),
               vgpuctl_gpu_memory_text((uint64_t)json_object_get_int_member(vm, "gpu_memory_quota"),
                                       quota),
               mib(json_object_get_int_member(vm, "gpu_memory_used_bytes")),
               mib(json_object_get_int_member(vm, "gpu_memory_total_bytes")),
               json_object_get_int_member(vm, "cuda_kernels"),
               json_object_get_int_member(vm, "cuda_gpu_time_us"));
    }
}

static void print_stats(JsonObject *reply)
{
    JsonArray *vms = json_object_get_array_member(reply, "vms");
    JsonArray *pools = json_object_get_array_member(reply, "pools");
    JsonArray *units = json_object_get_array_member(reply, "units");
    g_autoptr(GString) errors = g_string_new(NULL);

    printf("%-6s %-16s %-4s %-8s%s", "VM-ID", "NAME", "POOL", "PRIORITY", counters_header);
    for (guint i = 0; i < json_array_get_length(vms); i++) {
        JsonObject *vm = json_array_get_object_element(vms, i);
        g_autofree char *what = g_strdup_printf("vm-id %" G_GINT64_FORMAT " (%s)",
                                                json_object_get_int_member(vm, "vm_id"),
                                                json_object_get_string_member(vm, "name"));

        printf("%-6" G_GINT64_FORMAT " %-16s %-4s %-8s", json_object_get_int_member(vm, "vm_id"),
               json_object_get_string_member(vm, "name"), json_object_get_string_member(vm, "pool"),
               json_object_get_string_member(vm, "priority"));
        print_counters(vm);
        print_errors(what, vm, errors);
    }
    print_cuda(vms);
    printf("\n%-4s %-8s %-8s%s", "POOL", "BACKEND", "FALLBACK", counters_header);
    for (guint i = 0; i < json_array_get_length(pools); i++) {
        JsonObject *pool = json_array_get_object_element(pools, i);
        g_autofree char *what = g_strdup_printf("pool %s", json_object_get_string_member(pool, "pool"));

        printf("%-4s %-8s %-8s", json_object_get_string_member(pool, "pool"),
               json_object_get_string_member(pool, "backend"),
               json_object_get_boolean_member(pool, "fallback") ? "yes" : "no");
        print_counters(pool);
        print_errors(what, pool, errors);
    }
    printf("\n%-4s %-24s %-8s %-6s %9s %9s %12s\n", "UNIT", "NAME", "BACKEND", "POOLS",
           "IN-FLIGHT", "REQUESTS", "BUSY-US");
    for (guint i = 0; i < json_array_get_length(units); i++) {
        JsonObject *u = json_array_get_object_element(units, i);

        printf("%-4" G_GINT64_FORMAT " %-24s %-8s %-6s %9" G_GINT64_FORMAT " %9" G_GINT64_FORMAT
               " %12" G_GINT64_FORMAT "\n", json_object_get_int_member(u, "unit"),
               json_object_get_string_member(u, "name"), json_object_get_string_member(u, "backend"),
               json_object_get_string_member(u, "pools"), json_object_get_int_member(u, "in_flight"),
               json_object_get_int_member(u, "requests"), json_object_get_int_member(u, "busy_us"));
    }
    print_errors("all requests", json_object_get_object_member(reply, "total"), errors);
    if (errors->len) {
        printf("\nErrors by code:\n%s", errors->str);
    }
    printf("\nTimes in microseconds; percentiles are within 3.2%% (log-linear histogram).\n");
}

static int run_stats(struct vgpuctl *ctl, char **args)
{
    JsonObject *reply;
    int status = vgpuctl_call(ctl, VGPUCTL_REQUEST(CONTROL_CMD_STATS), &reply);

    (void)args;
    if (status == VGPUCTL_EXIT_OK) {
        if (ctl->json) {
            vgpuctl_print_json(reply);
        } else {
            print_stats(reply);
        }
        json_object_unref(reply);
    }
    return status;
}

static int run_metrics(struct vgpuctl *ctl, char **args)
{
    JsonObject *reply;
    int status = vgpuctl_call(ctl, VGPUCTL_REQUEST(CONTROL_CMD_METRICS), &reply);

    (void)args;
    if (status == VGPUCTL_EXIT_OK) {
        fputs(json_object_get_string_member(reply, "text"), stdout);
        json_object_unref(reply);
    }
    return status;
}

const struct vgpuctl_command vgpuctl_stats_commands[] = {
    { "stats", "", "Requests, errors, queue wait and execution time per VM, pool and unit; "
      "each VM's GPU memory and CUDA work",
      NULL, 0, run_stats },
    { "metrics", "", "The same in Prometheus text exposition format", NULL, 0, run_metrics },
    { NULL },
};
