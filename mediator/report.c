/*
 * What `list` and `stats` answer: snapshots of the registry and the
 * accounting, as JSON members (`metrics` is metrics.c).
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "mediator.h"

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
    add_int(b, "gpu_memory_quota", (gint64)vm->gpu_memory_quota);
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

    /* when the counters below are read: rates over two replies divide by its change */
    add_int(b, "uptime_us", g_get_monotonic_time() - m->started_us);
    json_builder_set_member_name(b, "vms");
    json_builder_begin_array(b);
    for (guint i = 0; i < vms->len; i++) {
        struct registry_vm *vm = g_ptr_array_index(vms, i);
        struct stats_cuda cuda;

        stats_lock();
        memcpy(c, &vm->stats, sizeof(*c));
        cuda = vm->cuda;
        stats_unlock();
        json_builder_begin_object(b);
        add_identity(b, vm);
        stats_counters_to_json(c, b);
        stats_cuda_to_json(&cuda, b);
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
        add_int(b, "in_flight", u.in_flight);
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
