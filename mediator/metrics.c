/*
 * The Prometheus exposition: see metrics.h.
 *
 * The format wants every sample of a family together, so each VM's and
 * pool's counters are copied first (a few hundred bytes per row, under
 * stats_lock()) and the families are written from the copies.
 */
#include <stddef.h>
#include <string.h>

#include "mediator.h"
#include "metrics.h"

struct metrics_snapshot {
    struct scheduler *scheduler;
    GPtrArray *vms;                 /* struct registry_vm *, a reference each, by vm_id */
    unsigned devices;               /* device connections open */
    uint64_t devices_accepted;      /* since the start */
    uint64_t devices_refused;       /* at a limit, since the start */
    uint64_t registrations;         /* through the control socket, since the start */
    uint64_t unregistrations;
    unsigned restored;              /* from the registry file at the start */
    double start_time_s;            /* Unix time of the start */
};

/* A histogram as the exposition shows it. */
struct row_hist {
    uint64_t le[STATS_LE_COUNT + 1];    /* per bucket, not cumulative */
    uint64_t count;
    uint64_t sum_us;
};

/* One VM's or pool's counters, copied under stats_lock(), and its labels. */
struct row {
    char *labels;                   /* without braces */
    uint64_t submitted, completed, queued, running;
    uint64_t window_read, window_written;
    uint64_t errors[VGPU_ERROR_COUNT];
    struct row_hist wait, exec;
    uint64_t gpu_memory_quota;      /* a VM's: as registered; 0 for a pool */
    struct stats_cuda cuda;         /* a VM's; zero for a pool */
};

struct metrics_snapshot *metrics_snapshot_take(struct mediator *m)
{
    struct metrics_snapshot *s = g_new0(struct metrics_snapshot, 1);
    GPtrArray *vms = registry_list(m->registry);

    s->scheduler = m->scheduler;
    s->vms = g_ptr_array_new_full(vms->len, (GDestroyNotify)registry_vm_unref);
    for (guint i = 0; i < vms->len; i++) {
        g_ptr_array_add(s->vms, registry_vm_ref(g_ptr_array_index(vms, i)));
    }
    g_ptr_array_unref(vms);
    s->devices = device_links_count(m->links);
    device_links_totals(m->links, &s->devices_accepted, &s->devices_refused);
    s->registrations = m->registrations;
    s->unregistrations = m->unregistrations;
    s->restored = m->restored;
    s->start_time_s = (double)m->started_wall_us / 1e6;
    return s;
}

void metrics_snapshot_free(struct metrics_snapshot *s)
{
    g_ptr_array_unref(s->vms);
    g_free(s);
}

static void hist_copy(struct row_hist *dst, const struct stats_hist *src)
{
    memcpy(dst->le, src->le, sizeof(dst->le));
    dst->count = src->count;
    dst->sum_us = src->sum;
}

/* cuda: a VM's CUDA work, NULL for a pool. */
static void row_fill(struct row *row, char *labels, const struct stats_counters *c,
                     const struct stats_cuda *cuda)
{
    row->labels = labels;
    stats_lock();
    row->submitted = c->submitted;
    row->completed = c->completed;
    row->queued = c->queued;
    row->running = c->running;
    row->window_read = c->window_read_bytes;
    row->window_written = c->window_written_bytes;
    memcpy(row->errors, c->errors, sizeof(row->errors));
    hist_copy(&row->wait, &c->wait);
    hist_copy(&row->exec, &c->exec);
    if (cuda) {
        row->cuda = *cuda;
    }
    stats_unlock();
}

static void row_clear(gpointer data)
{
    g_free(((struct row *)data)->labels);
}

/* A label value with \, " and newline escaped as the exposition format wants. */
static void escape_label(GString *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"') {
            g_string_append_c(out, '\\');
            g_string_append_c(out, *p);
        } else if (*p == '\n') {
            g_string_append(out, "\\n");
        } else {
            g_string_append_c(out, *p);
        }
    }
}

static void family(GString *out, const char *name, const char *type, const char *help)
{
    g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void histogram(GString *out, const char *name, const char *labels,
                      const struct row_hist *h)
{
    uint64_t cumulative = 0;

    for (unsigned i = 0; i < STATS_LE_COUNT; i++) {
        cumulative += h->le[i];
        g_string_append_printf(out, "%s_bucket{%s,le=\"%g\"} %" G_GUINT64_FORMAT "\n", name,
                               labels, (double)stats_le_us[i] / 1e6, cumulative);
    }
    g_string_append_printf(out, "%s_bucket{%s,le=\"+Inf\"} %" G_GUINT64_FORMAT "\n", name,
                           labels, h->count);
    g_string_append_printf(out, "%s_sum{%s} %.6f\n", name, labels, (double)h->sum_us / 1e6);
    g_string_append_printf(out, "%s_count{%s} %" G_GUINT64_FORMAT "\n", name, labels, h->count);
}

/* The accounting families of one kind of row ("vm" or "pool"). */
static void rows_write(GString *out, const char *kind, GArray *rows)
{
    static const struct {
        const char *suffix, *type, *help;
        size_t offset;                  /* of a uint64_t in struct row */
    } scalars[] = {
        { "requests_submitted_total", "counter", "Requests submitted.",
          offsetof(struct row, submitted) },
        { "requests_completed_total", "counter", "Requests completed successfully.",
          offsetof(struct row, completed) },
        { "requests_queued", "gauge", "Requests waiting in the queue (the queue depth).",
          offsetof(struct row, queued) },
        { "requests_running", "gauge", "Requests running on a unit.",
          offsetof(struct row, running) },
        { "window_read_bytes_total", "counter",
          "Bytes of the data window that completed array operations read.",
          offsetof(struct row, window_read) },
        { "window_written_bytes_total", "counter",
          "Bytes of the data window that completed array operations wrote.",
          offsetof(struct row, window_written) },
    };
    static const struct {
        const char *suffix, *help;
        size_t offset;                  /* of a struct row_hist in struct row */
    } hists[] = {
        { "queue_wait_seconds", "Time requests waited in the queue before a unit took them.",
          offsetof(struct row, wait) },
        { "exec_seconds", "Time the backend spent on requests.", offsetof(struct row, exec) },
    };
    g_autofree char *name = NULL;

#define ROW(i) (&g_array_index(rows, struct row, i))
    for (size_t k = 0; k < G_N_ELEMENTS(scalars); k++) {
        g_free(name);
        name = g_strdup_printf("vgpu_%s_%s", kind, scalars[k].suffix);
        family(out, name, scalars[k].type, scalars[k].help);
        for (guint i = 0; i < rows->len; i++) {
            const uint64_t *value = G_STRUCT_MEMBER_P(ROW(i), scalars[k].offset);

            g_string_append_printf(out, "%s{%s} %" G_GUINT64_FORMAT "\n", name, ROW(i)->labels,
                                   *value);
        }
    }
    g_free(name);
    name = g_strdup_printf("vgpu_%s_request_errors_total", kind);
    family(out, name, "counter", "Requests that ended in an error, by error code.");
    for (guint i = 0; i < rows->len; i++) {
        for (unsigned e = 1; e < VGPU_ERROR_COUNT; e++) {
            g_string_append_printf(out, "%s{%s,code=\"%s\"} %" G_GUINT64_FORMAT "\n", name,
                                   ROW(i)->labels, vgpu_error_name(e), ROW(i)->errors[e]);
        }
    }
    for (size_t k = 0; k < G_N_ELEMENTS(hists); k++) {
        g_free(name);
        name = g_strdup_printf("vgpu_%s_%s", kind, hists[k].suffix);
        family(out, name, "histogram", hists[k].help);
        for (guint i = 0; i < rows->len; i++) {
            histogram(out, name, ROW(i)->labels, G_STRUCT_MEMBER_P(ROW(i), hists[k].offset));
        }
    }
#undef ROW
}

static struct row *rows_add(GArray *rows)
{
    g_array_set_size(rows, rows->len + 1);
    return &g_array_index(rows, struct row, rows->len - 1);
}

static void pools_write(GString *out, struct scheduler *sched, GArray *rows)
{
    unsigned count;
    struct sched_pool *pools = scheduler_pools(sched, &count);

    g_array_set_size(rows, 0);
    for (unsigned p = 0; p < count; p++) {
        row_fill(rows_add(rows), g_strdup_printf("pool=\"%c\",backend=\"%s\"",
                                                 (char)pools[p].pool_id, pools[p].backend->name),
                 &pools[p].stats, NULL);
    }
    rows_write(out, "pool", rows);
}

/* The VMs' GPU memory and CUDA work (a VM's own: pools have no such rows). */
static void vms_cuda_write(GString *out, GArray *rows)
{
    static const struct {
        const char *name, *type, *help;
        size_t offset;                  /* of a uint64_t in struct row */
    } scalars[] = {
        { "vgpu_vm_gpu_memory_quota_bytes", "gauge",
          "GPU memory the VM may hold, as registered (gpu-memory=); 0: no quota.",
          offsetof(struct row, gpu_memory_quota) },
        { "vgpu_vm_gpu_memory_used_bytes", "gauge",
          "GPU memory the VM held after its last CUDA batch.",
          offsetof(struct row, cuda.memory_used) },
        { "vgpu_vm_gpu_memory_total_bytes", "gauge",
          "GPU memory the VM could hold then: its quota, or the GPU's memory; 0 before any.",
          offsetof(struct row, cuda.memory_total) },
        { "vgpu_vm_cuda_kernels_total", "counter", "Kernels the VM's CUDA batches launched.",
          offsetof(struct row, cuda.kernels) },
    };

    for (size_t k = 0; k < G_N_ELEMENTS(scalars); k++) {
        family(out, scalars[k].name, scalars[k].type, scalars[k].help);
        for (guint i = 0; i < rows->len; i++) {
            const struct row *row = &g_array_index(rows, struct row, i);
            const uint64_t *value = G_STRUCT_MEMBER_P(row, scalars[k].offset);

            g_string_append_printf(out, "%s{%s} %" G_GUINT64_FORMAT "\n", scalars[k].name,
                                   row->labels, *value);
        }
    }
    family(out, "vgpu_vm_cuda_gpu_seconds_total", "counter",
           "The backend's execution time of the VM's CUDA batches that ran on a GPU.");
    for (guint i = 0; i < rows->len; i++) {
        const struct row *row = &g_array_index(rows, struct row, i);

        g_string_append_printf(out, "vgpu_vm_cuda_gpu_seconds_total{%s} %.9f\n", row->labels,
                               (double)row->cuda.gpu_time_ns / 1e9);
    }
}

static void vms_write(GString *out, GPtrArray *vms, GArray *rows)
{
    g_array_set_size(rows, 0);
    for (guint i = 0; i < vms->len; i++) {
        struct registry_vm *vm = g_ptr_array_index(vms, i);
        GString *labels = g_string_new(NULL);

        g_string_append_printf(labels, "uuid=\"%s\",name=\"", vm->uuid_str);
        escape_label(labels, vm->name);
        g_string_append_printf(labels, "\",vm_id=\"%u\",pool=\"%c\",priority=\"%s\"", vm->vm_id,
                               (char)vm->pool_id, vgpu_priority_name(vm->priority));
        struct row *row = rows_add(rows);

        row_fill(row, g_string_free(labels, FALSE), &vm->stats, &vm->cuda);
        row->gpu_memory_quota = vm->gpu_memory_quota;
    }
    rows_write(out, "vm", rows);
    vms_cuda_write(out, rows);
}

static void units_write(GString *out, struct scheduler *sched)
{
    unsigned count = scheduler_unit_count(sched), pool_count;
    struct sched_pool *pools = scheduler_pools(sched, &pool_count);
    struct sched_unit_report *units = g_new(struct sched_unit_report, count ? count : 1);
    char **labels = g_new0(char *, count + 1);

    for (unsigned i = 0; i < count; i++) {
        GString *l = g_string_new(NULL);
        unsigned served = 0;

        scheduler_unit_report(sched, i, &units[i]);
        g_string_append_printf(l, "unit=\"%u\",name=\"", i);
        escape_label(l, units[i].name);
        g_string_append_printf(l, "\",backend=\"%s\",pools=\"", units[i].backend);
        for (unsigned p = 0; p < pool_count; p++) {
            if (units[i].pool_mask & QUEUE_POOL_BIT(pools[p].pool_id)) {
                g_string_append_printf(l, "%s%c", served++ ? "," : "", (char)pools[p].pool_id);
            }
        }
        g_string_append_c(l, '"');
        labels[i] = g_string_free(l, FALSE);
    }
    family(out, "vgpu_unit_requests_total", "counter", "Requests a unit ran.");
    for (unsigned i = 0; i < count; i++) {
        g_string_append_printf(out, "vgpu_unit_requests_total{%s} %" G_GUINT64_FORMAT "\n",
                               labels[i], units[i].stats.requests);
    }
    family(out, "vgpu_unit_busy_seconds_total", "counter",
           "Time a unit (a GPU or a CPU lane) spent running requests.");
    for (unsigned i = 0; i < count; i++) {
        g_string_append_printf(out, "vgpu_unit_busy_seconds_total{%s} %.6f\n", labels[i],
                               (double)units[i].stats.busy_us / 1e6);
    }
    family(out, "vgpu_unit_in_service", "gauge",
           "1 while a unit takes requests, 0 after its backend failed to recover.");
    for (unsigned i = 0; i < count; i++) {
        g_string_append_printf(out, "vgpu_unit_in_service{%s} %d\n", labels[i],
                               units[i].in_service ? 1 : 0);
    }
    g_strfreev(labels);
    g_free(units);
}

/*
 * Requests answered NOT_REGISTERED before any VM was known for them (a
 * device without identity): the total counts them, no pool or VM does.
 */
static uint64_t unregistered_requests(struct scheduler *sched)
{
    unsigned count;
    struct sched_pool *pools = scheduler_pools(sched, &count);
    uint64_t n;

    stats_lock();
    n = scheduler_total(sched)->errors[VGPU_ERR_NOT_REGISTERED];
    for (unsigned p = 0; p < count; p++) {
        n -= pools[p].stats.errors[VGPU_ERR_NOT_REGISTERED];
    }
    stats_unlock();
    return n;
}

char *metrics_snapshot_render(const struct metrics_snapshot *s)
{
    GString *out = g_string_new(NULL);
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(struct row));

    g_array_set_clear_func(rows, row_clear);
    family(out, "vgpu_up", "gauge", "1 while vgpu-mediatord runs.");
    g_string_append(out, "vgpu_up 1\n");
    family(out, "vgpu_build_info", "gauge", "The mediator's version, as a label; always 1.");
    g_string_append(out, "vgpu_build_info{version=\"" VGPU_VERSION "\"} 1\n");
    family(out, "vgpu_start_time_seconds", "gauge",
           "When this mediator started, in seconds since the Unix epoch.");
    g_string_append_printf(out, "vgpu_start_time_seconds %.3f\n", s->start_time_s);
    family(out, "vgpu_vms_registered", "gauge", "VMs in the registry.");
    g_string_append_printf(out, "vgpu_vms_registered %u\n", s->vms->len);
    family(out, "vgpu_vms_restored", "gauge",
           "VMs registered again from registry.jsonl when this mediator started.");
    g_string_append_printf(out, "vgpu_vms_restored %u\n", s->restored);
    family(out, "vgpu_registrations_total", "counter",
           "VMs registered through the control socket (the libvirt hook, vgpuctl).");
    g_string_append_printf(out, "vgpu_registrations_total %" G_GUINT64_FORMAT "\n",
                           s->registrations);
    family(out, "vgpu_unregistrations_total", "counter", "VMs unregistered.");
    g_string_append_printf(out, "vgpu_unregistrations_total %" G_GUINT64_FORMAT "\n",
                           s->unregistrations);
    family(out, "vgpu_devices_connected", "gauge", "Device connections open now.");
    g_string_append_printf(out, "vgpu_devices_connected %u\n", s->devices);
    family(out, "vgpu_device_connections_total", "counter", "Device connections accepted.");
    g_string_append_printf(out, "vgpu_device_connections_total %" G_GUINT64_FORMAT "\n",
                           s->devices_accepted);
    family(out, "vgpu_device_connections_refused_total", "counter",
           "Device connections refused at device-connections-max or -per-uid.");
    g_string_append_printf(out, "vgpu_device_connections_refused_total %" G_GUINT64_FORMAT "\n",
                           s->devices_refused);
    family(out, "vgpu_unregistered_requests_total", "counter",
           "Requests from devices no VM is registered for, answered NOT_REGISTERED; "
           "no pool or VM series counts them.");
    g_string_append_printf(out, "vgpu_unregistered_requests_total %" G_GUINT64_FORMAT "\n",
                           unregistered_requests(s->scheduler));
    pools_write(out, s->scheduler, rows);
    vms_write(out, s->vms, rows);
    units_write(out, s->scheduler);
    g_array_unref(rows);
    return g_string_free(out, FALSE);
}

char *metrics_text(struct mediator *m)
{
    struct metrics_snapshot *s = metrics_snapshot_take(m);
    char *text = metrics_snapshot_render(s);

    metrics_snapshot_free(s);
    return text;
}
