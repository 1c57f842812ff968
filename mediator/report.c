/*
 * What `list`, `stats` and `metrics` answer: snapshots of the registry and
 * the accounting, as JSON members or Prometheus text exposition (0.0.4).
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "mediator.h"

/* One row of accounting: a VM or a pool, copied under stats_lock(). */
struct report_row {
    char *labels;               /* Prometheus labels, without braces (any length) */
    struct stats_counters c;
};

static void report_row_clear(gpointer data)
{
    g_free(((struct report_row *)data)->labels);
}

static void add_string(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, value);
}

static void add_int(JsonBuilder *b, const char *name, gint64 value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, value);
}

static void add_identity(JsonBuilder *b, const struct registry_vm *vm)
{
    char pool[2] = { (char)vm->pool_id, 0 };

    add_string(b, "uuid", vm->uuid_str);
    add_string(b, "name", vm->name);
    add_string(b, "pool", pool);
    add_string(b, "priority", vgpu_priority_name(vm->priority));
    add_int(b, "vm_id", vm->vm_id);
    add_int(b, "pid", vm->pid);
}

void report_list(struct mediator *m, JsonBuilder *b)
{
    GPtrArray *vms = registry_list(m->registry);

    json_builder_set_member_name(b, "vms");
    json_builder_begin_array(b);
    for (guint i = 0; i < vms->len; i++) {
        struct registry_vm *vm = g_ptr_array_index(vms, i);
        uint64_t queued, running;

        stats_lock();
        queued = vm->stats.queued;
        running = vm->stats.running;
        stats_unlock();
        json_builder_begin_object(b);
        add_identity(b, vm);
        add_int(b, "connected", device_links_connected(m->links, vm->uuid));
        add_int(b, "queued", (gint64)queued);
        add_int(b, "running", (gint64)running);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    g_ptr_array_unref(vms);
}

static void copy_counters(struct stats_counters *dst, const struct stats_counters *src)
{
    stats_lock();
    memcpy(dst, src, sizeof(*dst));
    stats_unlock();
}

/* The pools a unit serves: "A,B". */
static void unit_pools(struct scheduler *s, uint32_t pool_mask, char *out, size_t size)
{
    unsigned count, n = 0;
    struct sched_pool *pools = scheduler_pools(s, &count);

    out[0] = '\0';
    for (unsigned p = 0; p < count && n + 3 < size; p++) {
        if (pool_mask & QUEUE_POOL_BIT(pools[p].pool_id)) {
            n += (unsigned)g_snprintf(out + n, size - n, "%s%c", n ? "," : "",
                                      (char)pools[p].pool_id);
        }
    }
}

void report_stats(struct mediator *m, JsonBuilder *b)
{
    GPtrArray *vms = registry_list(m->registry);
    struct stats_counters *c = g_new(struct stats_counters, 1);
    unsigned pool_count;
    struct sched_pool *pools = scheduler_pools(m->scheduler, &pool_count);

    json_builder_set_member_name(b, "vms");
    json_builder_begin_array(b);
    for (guint i = 0; i < vms->len; i++) {
        struct registry_vm *vm = g_ptr_array_index(vms, i);

        copy_counters(c, &vm->stats);
        json_builder_begin_object(b);
        add_identity(b, vm);
        stats_counters_to_json(c, b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    g_ptr_array_unref(vms);

    json_builder_set_member_name(b, "pools");
    json_builder_begin_array(b);
    for (unsigned p = 0; p < pool_count; p++) {
        char pool[2] = { (char)pools[p].pool_id, 0 };

        copy_counters(c, &pools[p].stats);
        json_builder_begin_object(b);
        add_string(b, "pool", pool);
        add_string(b, "backend", pools[p].backend->name);
        json_builder_set_member_name(b, "fallback");
        json_builder_add_boolean_value(b, pools[p].fell_back);
        stats_counters_to_json(c, b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    json_builder_set_member_name(b, "units");
    json_builder_begin_array(b);
    for (unsigned i = 0; i < scheduler_unit_count(m->scheduler); i++) {
        struct sched_unit_report u;
        char served[3 * QUEUE_POOL_COUNT];

        scheduler_unit_report(m->scheduler, i, &u);
        unit_pools(m->scheduler, u.pool_mask, served, sizeof(served));
        json_builder_begin_object(b);
        add_int(b, "unit", i);
        add_string(b, "name", u.name);
        add_string(b, "backend", u.backend);
        add_int(b, "index", u.index);
        add_string(b, "pools", served);
        add_int(b, "requests", (gint64)u.stats.requests);
        add_int(b, "busy_us", (gint64)u.stats.busy_us);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);

    copy_counters(c, scheduler_total(m->scheduler));
    json_builder_set_member_name(b, "total");
    json_builder_begin_object(b);
    stats_counters_to_json(c, b);
    json_builder_end_object(b);
    g_free(c);
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

/* The accounting families for one kind of row ("vm" or "pool"). */
static void metrics_rows(GString *out, const char *kind, GArray *rows)
{
    static const struct {
        const char *suffix, *type, *help;
        size_t offset;                  /* of a uint64_t in struct stats_counters */
    } counts[] = {
        { "requests_submitted_total", "counter", "Requests submitted.",
          G_STRUCT_OFFSET(struct stats_counters, submitted) },
        { "requests_completed_total", "counter", "Requests completed successfully.",
          G_STRUCT_OFFSET(struct stats_counters, completed) },
        { "requests_queued", "gauge", "Requests waiting in the queue.",
          G_STRUCT_OFFSET(struct stats_counters, queued) },
        { "requests_running", "gauge", "Requests running on a unit.",
          G_STRUCT_OFFSET(struct stats_counters, running) },
    };
    static const struct {
        const char *hist;
        const char *help;
    } summaries[] = {
        { "queue_wait_seconds", "Time requests waited in the queue." },
        { "exec_seconds", "Time the backend spent on requests." },
    };
    g_autofree char *name = NULL;

#define ROW(i) (&g_array_index(rows, struct report_row, i))
    for (size_t k = 0; k < G_N_ELEMENTS(counts); k++) {
        g_free(name);
        name = g_strdup_printf("vgpu_%s_%s", kind, counts[k].suffix);
        family(out, name, counts[k].type, counts[k].help);
        for (guint i = 0; i < rows->len; i++) {
            const uint64_t *value = G_STRUCT_MEMBER_P(&ROW(i)->c, counts[k].offset);

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
                                   ROW(i)->labels, vgpu_error_name(e), ROW(i)->c.errors[e]);
        }
    }
    for (size_t s = 0; s < G_N_ELEMENTS(summaries); s++) {
        g_free(name);
        name = g_strdup_printf("vgpu_%s_%s", kind, summaries[s].hist);
        family(out, name, "summary", summaries[s].help);
        for (guint i = 0; i < rows->len; i++) {
            const struct stats_hist *h = s == 0 ? &ROW(i)->c.wait : &ROW(i)->c.exec;

            g_string_append_printf(out, "%s{%s,quantile=\"0.5\"} %.6f\n", name, ROW(i)->labels,
                                   (double)stats_hist_quantile(h, 0.5) / 1e6);
            g_string_append_printf(out, "%s{%s,quantile=\"0.99\"} %.6f\n", name, ROW(i)->labels,
                                   (double)stats_hist_quantile(h, 0.99) / 1e6);
            g_string_append_printf(out, "%s_sum{%s} %.6f\n", name, ROW(i)->labels,
                                   (double)h->sum / 1e6);
            g_string_append_printf(out, "%s_count{%s} %" G_GUINT64_FORMAT "\n", name,
                                   ROW(i)->labels, h->count);
        }
    }
#undef ROW
}

char *report_metrics(struct mediator *m)
{
    GString *out = g_string_new(NULL);
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(struct report_row));
    GPtrArray *vms = registry_list(m->registry);
    unsigned pool_count, unit_count = scheduler_unit_count(m->scheduler);
    struct sched_unit_report *units;
    struct sched_pool *pools = scheduler_pools(m->scheduler, &pool_count);

    g_array_set_clear_func(rows, report_row_clear);

    family(out, "vgpu_up", "gauge", "1 while vgpu-mediatord runs.");
    g_string_append(out, "vgpu_up 1\n");
    family(out, "vgpu_vms_registered", "gauge", "VMs in the registry.");
    g_string_append_printf(out, "vgpu_vms_registered %u\n", registry_count(m->registry));
    family(out, "vgpu_devices_connected", "gauge", "Device connections.");
    g_string_append_printf(out, "vgpu_devices_connected %u\n", device_links_count(m->links));

    for (unsigned p = 0; p < pool_count; p++) {
        struct report_row *row;

        g_array_set_size(rows, rows->len + 1);
        row = &g_array_index(rows, struct report_row, rows->len - 1);
        row->labels = g_strdup_printf("pool=\"%c\",backend=\"%s\"", (char)pools[p].pool_id,
                                      pools[p].backend->name);
        copy_counters(&row->c, &pools[p].stats);
    }
    metrics_rows(out, "pool", rows);
    g_array_set_size(rows, 0);
    for (guint i = 0; i < vms->len; i++) {
        struct registry_vm *vm = g_ptr_array_index(vms, i);
        GString *labels = g_string_new(NULL);
        struct report_row *row;

        g_string_append_printf(labels, "uuid=\"%s\",name=\"", vm->uuid_str);
        escape_label(labels, vm->name);
        g_string_append_printf(labels, "\",vm_id=\"%u\",pool=\"%c\",priority=\"%s\"", vm->vm_id,
                               (char)vm->pool_id, vgpu_priority_name(vm->priority));
        g_array_set_size(rows, rows->len + 1);
        row = &g_array_index(rows, struct report_row, rows->len - 1);
        row->labels = g_string_free(labels, FALSE);
        copy_counters(&row->c, &vm->stats);
    }
    metrics_rows(out, "vm", rows);

    units = g_new(struct sched_unit_report, unit_count ? unit_count : 1);
    for (unsigned i = 0; i < unit_count; i++) {
        scheduler_unit_report(m->scheduler, i, &units[i]);
    }
    family(out, "vgpu_unit_requests_total", "counter", "Requests a unit ran.");
    for (unsigned i = 0; i < unit_count; i++) {
        g_string_append_printf(out, "vgpu_unit_requests_total{unit=\"%u\",backend=\"%s\"} %"
                               G_GUINT64_FORMAT "\n", i, units[i].backend, units[i].stats.requests);
    }
    family(out, "vgpu_unit_busy_seconds_total", "counter", "Time a unit spent running requests.");
    for (unsigned i = 0; i < unit_count; i++) {
        g_string_append_printf(out, "vgpu_unit_busy_seconds_total{unit=\"%u\",backend=\"%s\"} "
                               "%.6f\n", i, units[i].backend, (double)units[i].stats.busy_us / 1e6);
    }
    g_free(units);
    g_ptr_array_unref(vms);
    g_array_unref(rows);
    return g_string_free(out, FALSE);
}
