/*
 * vgpuctl commands about VMs: register, set-pid, unregister, list.
 */
#include <stdio.h>
#include <string.h>

#include "vgpu/identity.h"
#include "vgpuctl.h"

static char *opt_name, *opt_pool, *opt_priority, *opt_vm_id, *opt_gpu_memory;
static int opt_pid;

static const GOptionEntry register_options[] = {
    { "name", 'n', 0, G_OPTION_ARG_STRING, &opt_name,
      "The domain's name, for messages (default vm-ID)", "NAME" },
    { "pool", 'p', 0, G_OPTION_ARG_STRING, &opt_pool, "Pool letter A..Z (required)", "POOL" },
    { "priority", 'P', 0, G_OPTION_ARG_STRING, &opt_priority,
      "low, medium or high (required)", "PRIORITY" },
    { "vm-id", 'i', 0, G_OPTION_ARG_STRING, &opt_vm_id, "The VM's id, 1..2147483647 (required)",
      "ID" },
    { "pid", 0, 0, G_OPTION_ARG_INT, &opt_pid,
      "QEMU's pid: only this process may connect as the VM", "PID" },
    { "gpu-memory", 'm', 0, G_OPTION_ARG_STRING, &opt_gpu_memory,
      "GPU memory the VM may hold, e.g. 8GiB (default: no quota)", "SIZE" },
    { NULL },
};

static int check_uuid(const char *command, const char *text, uint8_t uuid[16])
{
    if (!vgpu_uuid_parse(text, uuid)) {
        return vgpuctl_usage(command, "\"%s\" is not a UUID like "
                             "6f1c2a3b-0000-4d5e-8f90-0123456789ab", text);
    }
    return VGPUCTL_EXIT_OK;
}

static int run_register(struct vgpuctl *ctl, char **args)
{
    struct control_request req = { .command = CONTROL_CMD_REGISTER };
    g_autofree char *name = NULL;
    JsonObject *reply;
    int status = check_uuid("register", args[0], req.uuid);

    if (status) {
        return status;
    }
    if (!opt_pool || !opt_priority || !opt_vm_id) {
        return vgpuctl_usage("register", "needs --pool, --priority and --vm-id");
    }
    if (!vgpu_pool_parse(opt_pool, &req.pool_id)) {
        return vgpuctl_usage("register", "--pool \"%s\" is not one letter A..Z", opt_pool);
    }
    if (!vgpu_priority_parse(opt_priority, &req.priority)) {
        return vgpuctl_usage("register", "--priority \"%s\" is not low, medium or high",
                             opt_priority);
    }
    if (!vgpu_vm_id_parse(opt_vm_id, &req.vm_id)) {
        return vgpuctl_usage("register", "--vm-id \"%s\" is not a number in 1..2147483647",
                             opt_vm_id);
    }
    if (opt_pid < 0) {
        return vgpuctl_usage("register", "--pid must be positive");
    }
    if (opt_gpu_memory && !vgpu_gpu_memory_parse(opt_gpu_memory, &req.gpu_memory_quota)) {
        return vgpuctl_usage("register", "--gpu-memory \"%s\" is not %s", opt_gpu_memory,
                             VGPUCTL_GPU_MEMORY_WANT);
    }
    name = opt_name ? g_strdup(opt_name) : g_strdup_printf("vm-%u", req.vm_id);
    req.name = name;
    req.pid = opt_pid;
    status = vgpuctl_call(ctl, &req, &reply);
    if (status == VGPUCTL_EXIT_OK) {
        if (ctl->json) {
            vgpuctl_print_json(reply);
        } else {
            printf("%s %s: pool %s, priority %s, vm-id %u%s%s\n",
                   strcmp(json_object_get_string_member_with_default(reply, "registered", ""),
                          "new") == 0 ? "registered" : "already registered",
                   name, opt_pool, opt_priority, req.vm_id,
                   opt_gpu_memory ? ", gpu-memory " : "", opt_gpu_memory ? opt_gpu_memory : "");
        }
        json_object_unref(reply);
    }
    return status;
}

static int run_set_pid(struct vgpuctl *ctl, char **args)
{
    struct control_request req = { .command = CONTROL_CMD_SET_PID };
    JsonObject *reply;
    guint64 pid;
    int status = check_uuid("set-pid", args[0], req.uuid);

    if (status) {
        return status;
    }
    if (!g_ascii_string_to_unsigned(args[1], 10, 1, G_MAXINT, &pid, NULL)) {
        return vgpuctl_usage("set-pid", "\"%s\" is not a pid", args[1]);
    }
    req.pid = (pid_t)pid;
    status = vgpuctl_call(ctl, &req, &reply);
    if (status == VGPUCTL_EXIT_OK) {
        if (ctl->json) {
            vgpuctl_print_json(reply);
        } else {
            printf("pid %" G_GUINT64_FORMAT " set; %" G_GINT64_FORMAT
                   " other connection(s) refused\n", pid,
                   json_object_get_int_member_with_default(reply, "disconnected", 0));
        }
        json_object_unref(reply);
    }
    return status;
}

static int run_unregister(struct vgpuctl *ctl, char **args)
{
    struct control_request req = { .command = CONTROL_CMD_UNREGISTER };
    JsonObject *reply;
    int status = check_uuid("unregister", args[0], req.uuid);

    if (status) {
        return status;
    }
    status = vgpuctl_call(ctl, &req, &reply);
    if (status == VGPUCTL_EXIT_OK) {
        if (ctl->json) {
            vgpuctl_print_json(reply);
        } else {
            printf("unregistered %s; %" G_GINT64_FORMAT " queued request(s) cancelled\n",
                   args[0], json_object_get_int_member_with_default(reply, "cancelled", 0));
        }
        json_object_unref(reply);
    }
    return status;
}

static int run_list(struct vgpuctl *ctl, char **args)
{
    JsonObject *reply;
    JsonArray *vms;
    int status = vgpuctl_call(ctl, VGPUCTL_REQUEST(CONTROL_CMD_LIST), &reply);

    (void)args;
    if (status != VGPUCTL_EXIT_OK) {
        return status;
    }
    if (ctl->json) {
        vgpuctl_print_json(reply);
        json_object_unref(reply);
        return status;
    }
    vms = json_object_get_array_member(reply, "vms");
    printf("%-6s %-20s %-4s %-8s %-36s %-8s %-10s %-9s %-6s %s\n", "VM-ID", "NAME", "POOL",
           "PRIORITY", "UUID", "PID", "GPU-MEMORY", "CONNECTED", "QUEUED", "RUNNING");
    for (guint i = 0; i < json_array_get_length(vms); i++) {
        JsonObject *vm = json_array_get_object_element(vms, i);
        gint64 pid = json_object_get_int_member(vm, "pid");
        g_autofree char *pid_text = pid ? g_strdup_printf("%" G_GINT64_FORMAT, pid)
                                        : g_strdup("-");
        char quota[VGPU_GPU_MEMORY_TEXT_MAX];

        printf("%-6" G_GINT64_FORMAT " %-20s %-4s %-8s %-36s %-8s %-10s %-9" G_GINT64_FORMAT
               " %-6" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n",
               json_object_get_int_member(vm, "vm_id"), json_object_get_string_member(vm, "name"),
               json_object_get_string_member(vm, "pool"),
               json_object_get_string_member(vm, "priority"),
               json_object_get_string_member(vm, "uuid"), pid_text,
               vgpuctl_gpu_memory_text((uint64_t)json_object_get_int_member_with_default(
                                           vm, "gpu_memory_quota", 0), quota),
               json_object_get_int_member(vm, "connected"),
               json_object_get_int_member(vm, "queued"),
               json_object_get_int_member(vm, "running"));
    }
    json_object_unref(reply);
    return status;
}

const struct vgpuctl_command vgpuctl_vm_commands[] = {
    { "register", "UUID --pool P --priority PR --vm-id ID [--gpu-memory SIZE]", "Register a VM (what the libvirt "
      "hook does at prepare)", register_options, 1, run_register },
    { "set-pid", "UUID PID", "Set the QEMU pid of a registered VM (the hook's started)",
      NULL, 2, run_set_pid },
    { "unregister", "UUID", "Unregister a VM; its queued requests end CANCELLED", NULL, 1,
      run_unregister },
    { "list", "", "List the registered VMs", NULL, 0, run_list },
    { NULL },
};
