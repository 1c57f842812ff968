/*
 * vgpuctl: global options, the command tables, and the call to the
 * mediator.  See vgpuctl(8).
 */
#include <stdio.h>
#include <string.h>

#include "vgpu/paths.h"
#include "control-client.h"
#include "vgpuctl.h"

static const struct vgpuctl_command *const command_tables[] = {
    vgpuctl_vm_commands,
    vgpuctl_stats_commands,
    vgpuctl_top_commands,
    vgpuctl_admin_commands,
    vgpuctl_domain_commands,
};

static struct vgpuctl ctl = { .timeout_ms = CONTROL_CLIENT_TIMEOUT_MS };

static const GOptionEntry global_options[] = {
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &ctl.socket_path,
      "The mediator's control socket (default " VGPU_RUNTIME_DIR "/"
      VGPU_CONTROL_SOCKET ")", "PATH" },
    { "runtime-dir", 'r', 0, G_OPTION_ARG_FILENAME, &ctl.runtime_dir,
      "The mediator's runtime-dir: use DIR/" VGPU_CONTROL_SOCKET, "DIR" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &ctl.timeout_ms,
      "Wait at most MS milliseconds for the mediator (default 5000)", "MS" },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &ctl.json, "Print replies as JSON", NULL },
    { NULL },
};

int vgpuctl_usage(const char *command, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "vgpuctl%s%s: ", command ? " " : "", command ? command : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try vgpuctl %s%s--help)\n", command ? command : "", command ? " " : "");
    return VGPUCTL_EXIT_USAGE;
}

void vgpuctl_print_json(JsonObject *obj)
{
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), obj);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;

    json_generator_set_pretty(gen, TRUE);
    json_generator_set_root(gen, node);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}

const char *vgpuctl_gpu_memory_text(uint64_t bytes, char out[VGPU_GPU_MEMORY_TEXT_MAX])
{
    if (!bytes) {
        return "-";
    }
    vgpu_gpu_memory_format(bytes, out);
    return out;
}

int vgpuctl_call(struct vgpuctl *c, const struct control_request *request, JsonObject **reply)
{
    g_autoptr(ControlClient) client = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *name = NULL;
    JsonObject *answer = NULL;

    client = control_client_connect(c->socket_path, (unsigned)c->timeout_ms, &error);
    if (client) {
        answer = control_client_call(client, request, &name, &error);
    }
    if (!answer) {
        fprintf(stderr, "vgpuctl: %s\n", error->message);
        return error->code == CONTROL_CLIENT_ERROR_REFUSED ? VGPUCTL_EXIT_REFUSED
                                                           : VGPUCTL_EXIT_UNREACHABLE;
    }
    if (reply) {
        *reply = answer;
    } else {
        json_object_unref(answer);
    }
    return VGPUCTL_EXIT_OK;
}

static const struct vgpuctl_command *command_find(const char *name)
{
    for (size_t t = 0; t < G_N_ELEMENTS(command_tables); t++) {
        for (const struct vgpuctl_command *cmd = command_tables[t]; cmd->name; cmd++) {
            if (strcmp(cmd->name, name) == 0) {
                return cmd;
            }
        }
    }
    return NULL;
}

static char *commands_summary(void)
{
    GString *s = g_string_new("Commands:\n");

    for (size_t t = 0; t < G_N_ELEMENTS(command_tables); t++) {
        for (const struct vgpuctl_command *cmd = command_tables[t]; cmd->name; cmd++) {
            g_autofree char *usage = g_strdup_printf("%s %s", cmd->name, cmd->args);

            g_string_append_printf(s, "  %-28s %s\n", usage, cmd->summary);
        }
    }
    g_string_append(s, "\nExit status: 0 ok, 1 the mediator refused, 2 usage error,\n"
                       "3 the mediator is not reachable.  See vgpuctl(8).");
    return g_string_free(s, FALSE);
}

/* Parse the command's own options (and the global ones again) and run it. */
static int command_run(const struct vgpuctl_command *cmd, int argc, char **argv)
{
    g_autofree char *param = g_strdup_printf("%s %s", cmd->name, cmd->args);
    g_autoptr(GOptionContext) octx = g_option_context_new(param);
    g_autoptr(GError) error = NULL;

    g_option_context_set_summary(octx, cmd->summary);
    if (cmd->options) {
        g_option_context_add_main_entries(octx, cmd->options, NULL);
    }
    g_option_context_add_main_entries(octx, global_options, NULL);
    if (!g_option_context_parse(octx, &argc, &argv, &error)) {
        return vgpuctl_usage(cmd->name, "%s", error->message);
    }
    if (argc - 1 != cmd->n_args) {
        return vgpuctl_usage(cmd->name, "takes %d argument(s)%s%s, not %d", cmd->n_args,
                             cmd->n_args ? ": " : "", cmd->args, argc - 1);
    }
    if (ctl.timeout_ms <= 0) {
        return vgpuctl_usage(cmd->name, "--timeout must be a positive number of milliseconds");
    }
    if (!ctl.socket_path) {
        ctl.socket_path = control_client_socket_path(ctl.runtime_dir ? ctl.runtime_dir
                                                                     : VGPU_RUNTIME_DIR);
    }
    return cmd->run(&ctl, argv + 1);
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) octx = g_option_context_new("COMMAND [ARGS...]");
    g_autoptr(GError) error = NULL;
    g_autofree char *summary = commands_summary();
    const struct vgpuctl_command *cmd;
    int status;

    g_option_context_set_summary(octx, "Control vgpu-mediatord: register VMs, list them, "
                                       "show statistics.");
    g_option_context_set_description(octx, summary);
    g_option_context_add_main_entries(octx, global_options, NULL);
    g_option_context_set_strict_posix(octx, TRUE);     /* options after COMMAND are its own */
    if (!g_option_context_parse(octx, &argc, &argv, &error)) {
        return vgpuctl_usage(NULL, "%s", error->message);
    }
    if (argc < 2) {
        return vgpuctl_usage(NULL, "no command given");
    }
    cmd = command_find(argv[1]);
    if (!cmd) {
        return vgpuctl_usage(NULL, "unknown command \"%s\"", argv[1]);
    }
    status = command_run(cmd, argc - 1, argv + 1);
    g_free(ctl.socket_path);
    g_free(ctl.runtime_dir);
    return status;
}
