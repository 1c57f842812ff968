/*
 * vgpu-libvirt-hook: libvirtd's QEMU hook for vgpu-stub domains, installed
 * as /etc/libvirt/hooks/qemu.d/vgpu (docs/libvirt.md).
 *
 *   vgpu-libvirt-hook [--dry-run] DOMAIN OPERATION SUB-OPERATION EXTRA < domain XML
 *
 * For a domain whose XML carries <vgpu:device pool= priority= vm-id=/> it
 * keeps the mediator's registry in step with the domain's life:
 *   prepare    register the UUID with that identity (a failure stops the start)
 *   started    add QEMU's pid (a failure stops the domain)
 *   release    unregister
 *   reconnect  (libvirtd restarted) register again, with the pid
 * Every other operation, and every domain without our metadata, exits 0 at
 * once.  It never calls libvirt, spawns nothing, and waits for the mediator
 * at most HOOK_MEDIATOR_TIMEOUT_MS.  What it prints on stderr is what
 * `virsh start` shows: one line, "vgpu: domain 'web1': <problem>".
 *
 * --dry-run (an admin at a shell, never libvirtd) validates the same way,
 * says on stdout what the operation would do, and asks the mediator only
 * what would make it fail (is it there, has it the pool, is the vm-id
 * free): it changes nothing, and exits as the real run would.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "vgpu/paths.h"
#include "control-client.h"
#include "metadata.h"
#include "qemu-pid.h"

#define HOOK_MEDIATOR_TIMEOUT_MS    1500    /* a healthy mediator answers in microseconds */
#define HOOK_STDIN_TIMEOUT_MS       5000    /* libvirtd writes the XML at once */
#define HOOK_READ_CHUNK             65536

#define HOOK_EXIT_OK        0
#define HOOK_EXIT_FAILED    1       /* libvirtd aborts the operation (prepare, started) */
#define HOOK_EXIT_USAGE     2

enum hook_op {
    HOOK_OP_PREPARE,
    HOOK_OP_STARTED,
    HOOK_OP_RELEASE,
    HOOK_OP_RECONNECT,
    HOOK_OP_OTHER,
};

static const char *const hook_op_names[] = {
    [HOOK_OP_PREPARE] = "prepare",
    [HOOK_OP_STARTED] = "started",
    [HOOK_OP_RELEASE] = "release",
    [HOOK_OP_RECONNECT] = "reconnect",
};

static enum hook_op hook_op_parse(const char *name)
{
    for (int op = 0; op < HOOK_OP_OTHER; op++) {
        if (strcmp(name, hook_op_names[op]) == 0) {
            return (enum hook_op)op;
        }
    }
    return HOOK_OP_OTHER;
}

/* Where the hook's messages go: libvirtd shows stderr when the hook fails. */
static void hook_report(const char *domain, const char *problem)
{
    fprintf(stderr, "vgpu: domain '%s': %s\n", domain, problem);
}

/*
 * Read all of stdin (at most METADATA_XML_MAX bytes, HOOK_STDIN_TIMEOUT_MS
 * in all).  NULL with error otherwise.
 */
static GString *hook_read_stdin(GError **error)
{
    GString *text = g_string_sized_new(HOOK_READ_CHUNK);
    gint64 deadline = g_get_monotonic_time() + HOOK_STDIN_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

    if (isatty(STDIN_FILENO)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "the domain XML must come on stdin (libvirtd runs this hook)");
        g_string_free(text, TRUE);
        return NULL;
    }
    for (;;) {
        struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
        gint64 left_ms = (deadline - g_get_monotonic_time()) / G_TIME_SPAN_MILLISECOND;
        char chunk[HOOK_READ_CHUNK];
        ssize_t n;
        int ready;

        if (left_ms <= 0) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                        "no end of the domain XML on stdin after %d ms", HOOK_STDIN_TIMEOUT_MS);
            break;
        }
        ready = poll(&pfd, 1, (int)left_ms);
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready < 0) {
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                        "cannot wait for stdin: %s", g_strerror(errno));
            break;
        }
        if (ready == 0) {
            continue;               /* the deadline check above ends it */
        }
        n = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                        "cannot read the domain XML from stdin: %s", g_strerror(errno));
            break;
        }
        if (n == 0) {
            return text;
        }
        if (text->len + (size_t)n > METADATA_XML_MAX) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                        "the domain XML on stdin is larger than %u bytes", METADATA_XML_MAX);
            break;
        }
        g_string_append_len(text, chunk, n);
    }
    g_string_free(text, TRUE);
    return NULL;
}

/*
 * The mediator this domain's device talks to: the control socket next to
 * the device socket its <qemu:commandline> names (both live in the
 * mediator's runtime dir), else the default runtime dir's.
 */
static char *hook_control_socket(const struct metadata_identity *ident)
{
    char *dir, *path;

    if (!ident->device_socket || !g_path_is_absolute(ident->device_socket)) {
        return control_client_socket_path(VGPU_RUNTIME_DIR);
    }
    dir = g_path_get_dirname(ident->device_socket);
    path = control_client_socket_path(dir);
    g_free(dir);
    return path;
}

/* The request command about the domain (register: its identity, and pid when > 0). */
static struct control_request hook_request(enum control_command command,
                                           const struct metadata_identity *ident, pid_t pid)
{
    struct control_request req = {
        .command = command,
        .name = ident->name,
        .pool_id = ident->pool_id,
        .priority = ident->priority,
        .vm_id = ident->vm_id,
        .gpu_memory_quota = ident->gpu_memory_quota,
        .pid = pid,
    };
    bool parsed = vgpu_uuid_parse(ident->uuid, req.uuid);

    g_assert(parsed);           /* the metadata parser checked it */
    return req;
}

/*
 * One request to the mediator.  TRUE when it said ok (*reply, when not
 * NULL, gets the reply to json_object_unref); else FALSE with error, and
 * *error_name (g_free) set to the reply's stable error name when the
 * mediator refused.
 */
static gboolean hook_call(ControlClient *client, enum control_command command,
                          const struct metadata_identity *ident, pid_t pid, JsonObject **reply,
                          char **error_name, GError **error)
{
    struct control_request req = hook_request(command, ident, pid);
    JsonObject *answer = control_client_call(client, &req, error_name, error);

    if (!answer) {
        return FALSE;
    }
    if (reply) {
        *reply = answer;
    } else {
        json_object_unref(answer);
    }
    return TRUE;
}

static gboolean hook_refused_as(const GError *error, const char *error_name, const char *name)
{
    return g_error_matches(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_REFUSED) &&
           g_strcmp0(error_name, name) == 0;
}

/*
 * Register the domain.  The XML is the one source of truth: a registration
 * of the same UUID with another identity (left from an earlier run, or
 * `vgpuctl register`) is replaced.  *fresh (when not NULL) says whether the
 * mediator made a new registration rather than finding this one unchanged.
 */
static gboolean hook_register(ControlClient *client, const struct metadata_identity *ident,
                              pid_t pid, gboolean *fresh, GError **error)
{
    JsonObject *reply = NULL;
    char *error_name = NULL;
    gboolean ok = hook_call(client, CONTROL_CMD_REGISTER, ident, pid, &reply, &error_name, error);

    if (!ok && hook_refused_as(*error, error_name, "already-registered")) {
        g_clear_error(error);
        ok = hook_call(client, CONTROL_CMD_UNREGISTER, ident, 0, NULL, NULL, error) &&
             hook_call(client, CONTROL_CMD_REGISTER, ident, pid, &reply, NULL, error);
    }
    if (ok && fresh) {
        *fresh = g_strcmp0(json_object_get_string_member_with_default(reply, "registered", ""),
                           "unchanged") != 0;
    }
    if (reply) {
        json_object_unref(reply);
    }
    g_free(error_name);
    return ok;
}

/* unregister; a domain the mediator does not know is fine. */
static gboolean hook_unregister(ControlClient *client, const struct metadata_identity *ident,
                                GError **error)
{
    char *error_name = NULL;
    gboolean ok = hook_call(client, CONTROL_CMD_UNREGISTER, ident, 0, NULL, &error_name, error);

    if (!ok && hook_refused_as(*error, error_name, "not-registered")) {
        g_clear_error(error);
        ok = TRUE;
    }
    g_free(error_name);
    return ok;
}

/*
 * prepare: the domain is about to start, so a registration of its UUID
 * that was already there is stale (its release never reached the
 * mediator) and may hold an old QEMU's pid, which would refuse the new
 * QEMU's connection.  Replace it with a fresh one.
 */
static gboolean hook_prepare(ControlClient *client, const struct metadata_identity *ident,
                             GError **error)
{
    gboolean fresh = TRUE;

    if (!hook_register(client, ident, 0, &fresh, error)) {
        return FALSE;
    }
    return fresh || (hook_unregister(client, ident, error) &&
                     hook_register(client, ident, 0, NULL, error));
}

/* QEMU's pid: from a status XML on stdin, else from libvirtd's pid file. */
static gboolean hook_qemu_pid(xmlDoc *doc, const char *name, pid_t *pid, GError **error)
{
    GError *file_error = NULL;

    if (qemu_pid_from_status(doc, pid)) {
        return TRUE;
    }
    if (qemu_pid_from_file(QEMU_PID_STATE_DIR, name, pid, &file_error)) {
        return TRUE;
    }
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "cannot find QEMU's pid: %s",
                file_error->message);
    g_error_free(file_error);
    return FALSE;
}

/* started: tell the mediator QEMU's pid (register again if it lost the domain). */
static gboolean hook_started(ControlClient *client, xmlDoc *doc,
                             const struct metadata_identity *ident, GError **error)
{
    char *error_name = NULL;
    pid_t pid;
    gboolean ok;

    if (!hook_qemu_pid(doc, ident->name, &pid, error)) {
        return FALSE;
    }
    ok = hook_call(client, CONTROL_CMD_SET_PID, ident, pid, NULL, &error_name, error);
    if (!ok && hook_refused_as(*error, error_name, "not-registered")) {
        g_clear_error(error);
        ok = hook_register(client, ident, pid, NULL, error);
    }
    g_free(error_name);
    return ok;
}

/*
 * reconnect: the domain runs; register it again and make sure the
 * registration carries the pid libvirtd knows (an unchanged registration
 * keeps whatever pid it had).
 */
static gboolean hook_reconnect(ControlClient *client, xmlDoc *doc,
                               const struct metadata_identity *ident, GError **error)
{
    pid_t pid = 0;

    if (!hook_qemu_pid(doc, ident->name, &pid, NULL)) {
        return hook_register(client, ident, 0, NULL, error);
    }
    if (!hook_register(client, ident, pid, NULL, error)) {
        return FALSE;
    }
    return hook_call(client, CONTROL_CMD_SET_PID, ident, pid, NULL, NULL, error);
}

static gboolean hook_act(enum hook_op op, xmlDoc *doc, const struct metadata_identity *ident,
                         GError **error)
{
    char *socket = hook_control_socket(ident);
    ControlClient *client = control_client_connect(socket, HOOK_MEDIATOR_TIMEOUT_MS, error);
    gboolean ok = FALSE;

    g_free(socket);
    if (!client) {
        return FALSE;
    }
    switch (op) {
    case HOOK_OP_PREPARE:
        ok = hook_prepare(client, ident, error);
        break;
    case HOOK_OP_STARTED:
        ok = hook_started(client, doc, ident, error);
        break;
    case HOOK_OP_RELEASE:
        ok = hook_unregister(client, ident, error);
        break;
    case HOOK_OP_RECONNECT:
        ok = hook_reconnect(client, doc, ident, error);
        break;
    case HOOK_OP_OTHER:
        ok = TRUE;
        break;
    }
    control_client_free(client);
    return ok;
}

static const char *const hook_priority_names[] = { "low", "medium", "high" };

/* The identity in one phrase: "pool A, priority high, vm-id 7". */
static char *hook_identity_text(const struct metadata_identity *ident)
{
    GString *text = g_string_new(NULL);

    g_string_append_printf(text, "pool %c, priority %s, vm-id %u", (char)ident->pool_id,
                           ident->priority < G_N_ELEMENTS(hook_priority_names) ?
                           hook_priority_names[ident->priority] : "?", ident->vm_id);
    if (ident->gpu_memory_quota) {
        g_string_append_printf(text, ", gpu-memory %" G_GUINT64_FORMAT " bytes",
                               ident->gpu_memory_quota);
    }
    return g_string_free(text, FALSE);
}

/* The mediator's answer to a read-only command (ping, list, stats), or NULL with error. */
static JsonObject *hook_ask(ControlClient *client, enum control_command command, GError **error)
{
    struct control_request req = { .command = command };

    return control_client_call(client, &req, NULL, error);
}

/*
 * What prepare would be refused for, asked without changing anything: the
 * pool must be one the mediator has, and no other domain may hold the vm-id.
 */
static gboolean hook_dry_check_prepare(ControlClient *client,
                                       const struct metadata_identity *ident, GError **error)
{
    g_autoptr(GString) pools = g_string_new(NULL);
    JsonObject *stats = hook_ask(client, CONTROL_CMD_STATS, error);
    JsonObject *list;
    JsonArray *array;
    gboolean found = FALSE;

    if (!stats) {
        return FALSE;
    }
    array = json_object_get_array_member(stats, "pools");
    for (guint i = 0; array && i < json_array_get_length(array); i++) {
        const char *pool = json_object_get_string_member_with_default(
            json_array_get_object_element(array, i), "pool", "");

        g_string_append_printf(pools, "%s%s", pools->len ? ", " : "", pool);
        found = found || (pool[0] == (char)ident->pool_id && pool[1] == 0);
    }
    json_object_unref(stats);
    if (!found) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "pool %c is not configured at the mediator (pools: %s)",
                    (char)ident->pool_id, pools->str);
        return FALSE;
    }
    list = hook_ask(client, CONTROL_CMD_LIST, error);
    if (!list) {
        return FALSE;
    }
    array = json_object_get_array_member(list, "vms");
    for (guint i = 0; array && i < json_array_get_length(array); i++) {
        JsonObject *vm = json_array_get_object_element(array, i);

        if (json_object_get_int_member_with_default(vm, "vm_id", 0) == ident->vm_id &&
            g_strcmp0(json_object_get_string_member_with_default(vm, "uuid", ""),
                      ident->uuid) != 0) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                        "vm-id %u is already used by domain '%s' (uuid %s)", ident->vm_id,
                        json_object_get_string_member_with_default(vm, "name", "?"),
                        json_object_get_string_member_with_default(vm, "uuid", "?"));
            json_object_unref(list);
            return FALSE;
        }
    }
    json_object_unref(list);
    return TRUE;
}

/*
 * --dry-run for one of the four operations on a domain of ours: what it
 * would do (stdout), then whether it would succeed.
 */
static gboolean hook_dry_run(enum hook_op op, xmlDoc *doc, const struct metadata_identity *ident,
                             GError **error)
{
    g_autofree char *socket = hook_control_socket(ident);
    g_autofree char *identity = hook_identity_text(ident);
    ControlClient *client;
    JsonObject *ping;
    pid_t pid = 0;
    gboolean ok = TRUE;

    printf("vgpu: domain '%s' (uuid %s): %s; mediator %s\n", ident->name, ident->uuid, identity,
           socket);
    switch (op) {
    case HOOK_OP_PREPARE:
        printf("vgpu: prepare would register it (replacing an older registration of the uuid)\n");
        break;
    case HOOK_OP_STARTED:
        if (!hook_qemu_pid(doc, ident->name, &pid, error)) {
            return FALSE;
        }
        printf("vgpu: started would give the mediator QEMU's pid %d\n", (int)pid);
        break;
    case HOOK_OP_RELEASE:
        printf("vgpu: release would unregister it\n");
        break;
    case HOOK_OP_RECONNECT:
        hook_qemu_pid(doc, ident->name, &pid, NULL);
        printf("vgpu: reconnect would register it again, with QEMU's pid %d\n", (int)pid);
        break;
    case HOOK_OP_OTHER:
        break;
    }
    client = control_client_connect(socket, HOOK_MEDIATOR_TIMEOUT_MS, error);
    if (!client) {
        return FALSE;
    }
    ping = hook_ask(client, CONTROL_CMD_PING, error);
    ok = ping != NULL;
    if (ok) {
        printf("vgpu: the mediator answers (vgpu-mediatord %s, %" G_GINT64_FORMAT " VMs)\n",
               json_object_get_string_member_with_default(ping, "version", "?"),
               json_object_get_int_member_with_default(ping, "vms", 0));
        json_object_unref(ping);
    }
    if (ok && op == HOOK_OP_PREPARE) {
        ok = hook_dry_check_prepare(client, ident, error);
        if (ok) {
            printf("vgpu: pool %c is configured there and vm-id %u is free\n",
                   (char)ident->pool_id, ident->vm_id);
        }
    }
    control_client_free(client);
    if (ok) {
        printf("vgpu: nothing was changed (--dry-run)\n");
    }
    return ok;
}

/*
 * Only prepare and started can stop a domain from running.  A failure at
 * release or reconnect is reported but exits 0: at reconnect a non-zero
 * exit would make libvirtd kill a running guest.
 */
static int hook_failure_status(enum hook_op op)
{
    return op == HOOK_OP_PREPARE || op == HOOK_OP_STARTED ? HOOK_EXIT_FAILED : HOOK_EXIT_OK;
}

static int hook_run(const char *domain, enum hook_op op, gboolean dry_run)
{
    struct metadata_identity ident;
    GError *error = NULL;
    GString *xml;
    xmlDoc *doc;
    int status = HOOK_EXIT_OK;

    xml = hook_read_stdin(&error);
    if (!xml) {
        hook_report(domain, error->message);
        g_error_free(error);
        return hook_failure_status(op);
    }
    if (!metadata_may_be_ours(xml->str, xml->len)) {
        g_string_free(xml, TRUE);
        if (dry_run) {
            printf("vgpu: domain '%s': no <vgpu:device> in its metadata: nothing to do\n", domain);
        }
        return HOOK_EXIT_OK;
    }
    doc = metadata_parse_xml(xml->str, xml->len, &error);
    g_string_free(xml, TRUE);
    if (!doc) {
        hook_report(domain, error->message);
        g_error_free(error);
        return hook_failure_status(op);
    }
    switch (metadata_read(doc, &ident, &error)) {
    case METADATA_NOT_OURS:
        if (dry_run) {
            printf("vgpu: domain '%s': no <vgpu:device> in its metadata: nothing to do\n", domain);
        }
        break;
    case METADATA_INVALID:
        hook_report(domain, error->message);
        status = hook_failure_status(op);
        break;
    case METADATA_OURS:
        if (dry_run ? !hook_dry_run(op, doc, &ident, &error) : !hook_act(op, doc, &ident, &error)) {
            hook_report(domain, error->message);
            status = hook_failure_status(op);
        }
        metadata_identity_clear(&ident);
        break;
    }
    g_clear_error(&error);
    xmlFreeDoc(doc);
    return status;
}

static void hook_usage(FILE *out)
{
    fprintf(out,
            "Usage: vgpu-libvirt-hook [--dry-run] DOMAIN OPERATION SUB-OPERATION EXTRA < DOMAIN-XML\n"
            "\n"
            "libvirtd's QEMU hook for vgpu-stub domains; libvirtd runs it as\n"
            "/etc/libvirt/hooks/qemu.d/vgpu.  For a domain whose XML has\n"
            "<vgpu:device xmlns:vgpu=\"%s\" pool= priority= vm-id= [gpu-memory=]/>\n"
            "it registers the domain with vgpu-mediatord at prepare, adds QEMU's pid\n"
            "at started, unregisters at release and registers again at reconnect.\n"
            "Other domains and operations are left alone.  See docs/libvirt.md.\n"
            "\n"
            "  --dry-run      say what OPERATION would do and whether it would succeed\n"
            "                 (the mediator is there, has the pool, the vm-id is free),\n"
            "                 changing nothing; for an admin, never for libvirtd\n"
            "  -h, --help     show this help\n"
            "  --version      show the version\n",
            METADATA_NS);
}

int main(int argc, char **argv)
{
    gboolean dry_run = argc > 1 && strcmp(argv[1], "--dry-run") == 0;

    if (dry_run) {
        argv++;
        argc--;
        setvbuf(stdout, NULL, _IOLBF, 0);   /* in order with the problem on stderr */
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        hook_usage(stdout);
        return HOOK_EXIT_OK;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("vgpu-libvirt-hook %s\n", VGPU_VERSION);
        return HOOK_EXIT_OK;
    }
    if (argc < 3) {
        hook_usage(stderr);
        return HOOK_EXIT_USAGE;
    }
    if (hook_op_parse(argv[2]) == HOOK_OP_OTHER) {
        if (dry_run) {
            printf("vgpu: the hook does nothing at '%s' (it acts at prepare, started, release "
                   "and reconnect)\n", argv[2]);
        }
        return HOOK_EXIT_OK;        /* not an operation we act on: don't even read stdin */
    }
    return hook_run(argv[1], hook_op_parse(argv[2]), dry_run);
}
