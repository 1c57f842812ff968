/*
 * The control commands: each request line becomes one reply line
 * (docs/control-protocol.md).  Main thread.
 */
#include <json-glib/json-glib.h>
#include <unistd.h>

#include "control-proto.h"
#include "mediator.h"

typedef struct {
    struct mediator *m;
    JsonBuilder *b;             /* the reply object, open; commands add members */
    const char *error;          /* set to refuse: the stable name */
    char *message;              /* with this one line */
} Reply;

G_GNUC_PRINTF(3, 4)
static void refuse(Reply *r, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    r->error = control_error_name(code);
    r->message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

static void member_int(JsonBuilder *b, const char *name, gint64 v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

static void describe_vm(const struct registry_vm *vm, GString *out)
{
    g_string_append_printf(out, "domain '%s' (uuid %s)", vm->name, vm->uuid_str);
}

static void cmd_ping(Reply *r, const struct control_request *req)
{
    struct mediator *m = r->m;

    (void)req;
    json_builder_set_member_name(r->b, "version");
    json_builder_add_string_value(r->b, VGPU_VERSION);
    member_int(r->b, "pid", getpid());
    member_int(r->b, "uptime_s", (g_get_monotonic_time() - m->started_us) / G_USEC_PER_SEC);
    member_int(r->b, "vms", registry_count(m->registry));
    member_int(r->b, "devices", device_links_count(m->links));
    member_int(r->b, "queued", scheduler_queued(m->scheduler));
    json_builder_set_member_name(r->b, "paused");
    json_builder_add_boolean_value(r->b, scheduler_paused(m->scheduler));
}

/* A quota as people write it ("8GiB"), or "unlimited" for none. */
static const char *quota_text(uint64_t quota, char out[VGPU_GPU_MEMORY_TEXT_MAX])
{
    if (!quota) {
        return "unlimited";
    }
    vgpu_gpu_memory_format(quota, out);
    return out;
}

static void cmd_register(Reply *r, const struct control_request *req)
{
    struct mediator *m = r->m;
    struct registry_vm *vm, *other = NULL;
    g_autoptr(GString) who = g_string_new(NULL);
    char quota[VGPU_GPU_MEMORY_TEXT_MAX];

    if (!config_pool(&m->cfg, req->pool_id)) {
        g_autofree char *pools = config_pool_names(&m->cfg);

        refuse(r, CONTROL_ERROR_UNKNOWN_POOL, "pool %c is not configured in %s (pools: %s)",
               (char)req->pool_id, m->cfg.path, pools);
        return;
    }
    vm = registry_vm_new(req->uuid, req->name, req->pool_id, req->priority, req->vm_id, req->pid);
    vm->gpu_memory_quota = req->gpu_memory_quota;
    switch (registry_add(m->registry, vm, &other)) {
    case REGISTRY_ADDED:
        if (!m->restoring) {
            m->registrations++;     /* restored ones count in vgpu_vms_restored */
        }
        g_info("registered domain '%s' (uuid %s): pool %c, priority %s, vm-id %u, pid %d, "
               "gpu-memory %s", req->name, vm->uuid_str, (char)req->pool_id,
               vgpu_priority_name(req->priority), req->vm_id, (int)req->pid,
               quota_text(req->gpu_memory_quota, quota));
        json_builder_set_member_name(r->b, "registered");
        json_builder_add_string_value(r->b, "new");
        break;
    case REGISTRY_UNCHANGED:
        json_builder_set_member_name(r->b, "registered");
        json_builder_add_string_value(r->b, "unchanged");
        break;
    case REGISTRY_VM_ID_TAKEN:
        describe_vm(other, who);
        refuse(r, CONTROL_ERROR_VM_ID_TAKEN, "vm-id %u is already used by %s", req->vm_id,
               who->str);
        return;
    case REGISTRY_CONFLICT:
        describe_vm(other, who);
        refuse(r, CONTROL_ERROR_ALREADY_REGISTERED,
               "%s is already registered with pool %c, priority %s, vm-id %u, pid %d, "
               "gpu-memory %s: unregister it first", who->str, (char)other->pool_id,
               vgpu_priority_name(other->priority), other->vm_id, (int)other->pid,
               quota_text(other->gpu_memory_quota, quota));
        return;
    }
    member_int(r->b, "disconnected", device_links_registration_changed(m->links, req->uuid));
    mediator_notify_status(m);
}

static struct registry_vm *lookup_or_refuse(Reply *r, const struct control_request *req)
{
    struct registry_vm *vm = registry_lookup(r->m->registry, req->uuid);

    if (!vm) {
        char uuid[VGPU_UUID_STRING_LEN + 1];

        vgpu_uuid_format(req->uuid, uuid);
        refuse(r, CONTROL_ERROR_NOT_REGISTERED, "no domain with uuid %s is registered", uuid);
    }
    return vm;
}

static void cmd_set_pid(Reply *r, const struct control_request *req)
{
    struct registry_vm *vm = lookup_or_refuse(r, req);

    if (!vm) {
        return;
    }
    g_info("domain '%s' (uuid %s): QEMU is pid %d", vm->name, vm->uuid_str, (int)req->pid);
    vm->pid = req->pid;
    member_int(r->b, "disconnected", device_links_registration_changed(r->m->links, req->uuid));
}

static bool request_of_vm(struct request *rq, void *vm)
{
    return rq->vm == vm;
}

static void cmd_unregister(Reply *r, const struct control_request *req)
{
    struct mediator *m = r->m;
    struct registry_vm *vm = lookup_or_refuse(r, req);
    unsigned cancelled;

    if (!vm) {
        return;
    }
    vm = registry_remove(m->registry, req->uuid);
    m->unregistrations++;
    device_links_registration_changed(m->links, req->uuid);
    cancelled = scheduler_cancel(m->scheduler, request_of_vm, vm, VGPU_ERR_CANCELLED);
    g_info("unregistered domain '%s' (uuid %s); %u queued request(s) cancelled", vm->name,
           vm->uuid_str, cancelled);
    member_int(r->b, "cancelled", cancelled);
    registry_vm_unref(vm);
    mediator_notify_status(m);
}

static void cmd_list(Reply *r, const struct control_request *req)
{
    (void)req;
    report_list(r->m, r->b);
}

static void cmd_stats(Reply *r, const struct control_request *req)
{
    (void)req;
    report_stats(r->m, r->b);
}

static void cmd_metrics(Reply *r, const struct control_request *req)
{
    g_autofree char *text = metrics_text(r->m);

    (void)req;
    json_builder_set_member_name(r->b, "text");
    json_builder_add_string_value(r->b, text);
}

static void cmd_pause(Reply *r, const struct control_request *req)
{
    bool pause = req->command == CONTROL_CMD_PAUSE;

    if (pause != scheduler_paused(r->m->scheduler)) {
        g_info("dispatching %s by the control socket", pause ? "paused" : "resumed");
    }
    scheduler_set_paused(r->m->scheduler, pause);
    json_builder_set_member_name(r->b, "paused");
    json_builder_add_boolean_value(r->b, pause);
}

static void (*const handlers[CONTROL_CMD_COUNT])(Reply *r, const struct control_request *req) = {
    [CONTROL_CMD_PING] = cmd_ping,
    [CONTROL_CMD_REGISTER] = cmd_register,
    [CONTROL_CMD_SET_PID] = cmd_set_pid,
    [CONTROL_CMD_UNREGISTER] = cmd_unregister,
    [CONTROL_CMD_LIST] = cmd_list,
    [CONTROL_CMD_STATS] = cmd_stats,
    [CONTROL_CMD_METRICS] = cmd_metrics,
    [CONTROL_CMD_PAUSE] = cmd_pause,
    [CONTROL_CMD_RESUME] = cmd_pause,
};

char *commands_handle(const char *line, size_t len, void *mediator)
{
    struct mediator *m = mediator;
    struct control_request req;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonBuilder) b = NULL;
    g_autoptr(JsonGenerator) gen = NULL;
    g_autoptr(JsonNode) root = NULL;
    Reply r = { .m = m };

    if (!control_request_parse(line, len, &req, &error)) {
        g_debug("control request refused: %s", error->message);
        return control_reply_error(control_error_name(error->code), error->message);
    }
    if (m->stopping && req.command != CONTROL_CMD_PING) {
        control_request_clear(&req);
        return control_reply_error(control_error_name(CONTROL_ERROR_STOPPING),
                                   "vgpu-mediatord is stopping");
    }
    b = json_builder_new();
    r.b = b;
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "ok");
    json_builder_add_boolean_value(b, TRUE);
    handlers[req.command](&r, &req);
    json_builder_end_object(b);
    control_request_clear(&req);
    if (r.error) {
        char *reply = control_reply_error(r.error, r.message);

        g_info("control %s refused: %s", control_command_name(req.command), r.message);
        g_free(r.message);
        return reply;
    }
    if (req.command == CONTROL_CMD_REGISTER || req.command == CONTROL_CMD_SET_PID ||
        req.command == CONTROL_CMD_UNREGISTER) {
        mediator_save_registry(m);
    }
    gen = json_generator_new();
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, NULL);
}
