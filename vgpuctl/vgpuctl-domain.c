/*
 * vgpuctl commands about libvirt domains: attach, detach (vgpuctl-attach(8),
 * docs/libvirt.md).
 *
 * They edit the persistent definition through libvirt's API in one
 * virDomainDefineXML: the XML editing itself is domain-edit.c.  On a
 * running domain the edit is made and applies at the domain's next start;
 * the command says so on stderr and exits 0 (libvirt cannot add a
 * <qemu:commandline> device to a running QEMU).
 *
 * attach asks the mediator (the one --runtime-dir names) for its pools and
 * refuses one it does not have, rather than let the domain fail at
 * `virsh start`; when no mediator answers there, the hook checks at start.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "vgpu/paths.h"
#include "control-client.h"
#include "domain-edit.h"
#include "metadata.h"
#include "qemu-cmdline.h"
#include "vgpu/identity.h"
#include "vgpu/regs.h"
#include "vgpuctl.h"

#ifndef VGPU_QEMU_EMULATOR
#define VGPU_QEMU_EMULATOR  "/usr/local/libexec/vgpu/qemu/bin/qemu-system-x86_64"
#endif
#define DOMAIN_DEFAULT_URI  "qemu:///system"

/* Persistent definition, with secrets (a VNC password must survive the edit). */
#define DOMAIN_XML_FLAGS    (VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE)

static char *opt_connect, *opt_pool, *opt_priority, *opt_vm_id, *opt_emulator, *opt_slot;
static char *opt_gpu_memory;

static const GOptionEntry attach_options[] = {
    { "pool", 'p', 0, G_OPTION_ARG_STRING, &opt_pool, "Pool letter A..Z (required)", "POOL" },
    { "priority", 'P', 0, G_OPTION_ARG_STRING, &opt_priority,
      "low, medium or high (required)", "PRIORITY" },
    { "vm-id", 'i', 0, G_OPTION_ARG_STRING, &opt_vm_id,
      "The VM's id, 1..2147483647, unique on this host (required)", "ID" },
    { "gpu-memory", 'm', 0, G_OPTION_ARG_STRING, &opt_gpu_memory,
      "GPU memory the VM may hold, e.g. 8GiB (default: no quota)", "SIZE" },
    { "emulator", 'e', 0, G_OPTION_ARG_FILENAME, &opt_emulator,
      "The QEMU with vgpu-stub (default " VGPU_QEMU_EMULATOR ")", "PATH" },
    { "slot", 0, 0, G_OPTION_ARG_STRING, &opt_slot,
      "PCI slot on the root bus (default " G_STRINGIFY(DOMAIN_EDIT_SLOT_DEFAULT) ")", "SLOT" },
    { "connect", 'c', 0, G_OPTION_ARG_STRING, &opt_connect,
      "libvirt URI (default $LIBVIRT_DEFAULT_URI or " DOMAIN_DEFAULT_URI ")", "URI" },
    { NULL },
};

static const GOptionEntry detach_options[] = {
    { "connect", 'c', 0, G_OPTION_ARG_STRING, &opt_connect,
      "libvirt URI (default $LIBVIRT_DEFAULT_URI or " DOMAIN_DEFAULT_URI ")", "URI" },
    { NULL },
};

/* libvirt prints every error on stderr by default; we report each once, ourselves. */
static void domain_quiet_errors(void *data, virErrorPtr error)
{
    (void)data;
    (void)error;
}

static const char *domain_libvirt_message(void)
{
    const char *message = virGetLastErrorMessage();

    return message ? message : "unknown libvirt error";
}

static int domain_fail(const char *command, int status, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static int domain_fail(const char *command, int status, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "vgpuctl %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

static virConnectPtr domain_connect(const char *command, int *status)
{
    const char *uri = opt_connect ? opt_connect : g_getenv("LIBVIRT_DEFAULT_URI");
    virConnectPtr conn;

    if (!uri || !*uri) {
        uri = DOMAIN_DEFAULT_URI;
    }
    virSetErrorFunc(NULL, domain_quiet_errors);
    conn = virConnectOpen(uri);
    if (!conn) {
        *status = domain_fail(command, VGPUCTL_EXIT_UNREACHABLE, "cannot connect to libvirt at %s: %s",
                              uri, domain_libvirt_message());
    }
    return conn;
}

/* The domain by name or UUID; NULL with the message printed. */
static virDomainPtr domain_lookup(const char *command, virConnectPtr conn, const char *name)
{
    virDomainPtr dom = virDomainLookupByName(conn, name);
    uint8_t uuid[16];

    if (!dom && vgpu_uuid_parse(name, uuid)) {
        dom = virDomainLookupByUUIDString(conn, name);
    }
    if (!dom) {
        domain_fail(command, VGPUCTL_EXIT_REFUSED, "no domain '%s' (virsh list --all shows them)",
                    name);
        return NULL;
    }
    if (virDomainIsPersistent(dom) != 1) {
        domain_fail(command, VGPUCTL_EXIT_REFUSED,
                    "domain '%s' is transient: vgpuctl edits persistent definitions "
                    "(virsh define it first)", name);
        virDomainFree(dom);
        return NULL;
    }
    return dom;
}

/*
 * FALSE, with the message printed, when a domain other than dom already
 * has vm_id in its persistent definition: both could not run at once.
 */
static gboolean domain_vm_id_free(const char *command, virConnectPtr conn, virDomainPtr dom,
                                  uint32_t vm_id)
{
    virDomainPtr *all = NULL;
    int count = virConnectListAllDomains(conn, &all, 0);
    char own_uuid[VIR_UUID_STRING_BUFLEN];
    gboolean free_id = TRUE;

    if (count < 0) {
        return TRUE;            /* the hook and the mediator still check at start */
    }
    virDomainGetUUIDString(dom, own_uuid);
    for (int i = 0; i < count; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        char *xml;

        virDomainGetUUIDString(all[i], uuid);
        xml = free_id && strcmp(uuid, own_uuid) != 0
                  ? virDomainGetXMLDesc(all[i], VIR_DOMAIN_XML_INACTIVE) : NULL;
        if (xml && metadata_may_be_ours(xml, strlen(xml))) {
            xmlDoc *doc = metadata_parse_xml(xml, strlen(xml), NULL);
            struct metadata_identity ident;

            if (doc && metadata_read(doc, &ident, NULL) == METADATA_OURS) {
                if (ident.vm_id == vm_id) {
                    domain_fail(command, VGPUCTL_EXIT_REFUSED,
                                "vm-id %u is already used by domain '%s'; each domain "
                                "needs its own vm-id", vm_id, ident.name);
                    free_id = FALSE;
                }
                metadata_identity_clear(&ident);
            }
            xmlFreeDoc(doc);
        }
        free(xml);
        virDomainFree(all[i]);
    }
    free(all);
    return free_id;
}

static gboolean domain_parse_slot(const char *text, unsigned *slot)
{
    char *end;
    guint64 value = g_ascii_strtoull(text, &end, 0);

    if (end == text || *end || value < DOMAIN_EDIT_SLOT_MIN || value > DOMAIN_EDIT_SLOT_MAX) {
        return FALSE;
    }
    *slot = (unsigned)value;
    return TRUE;
}

/* Whether the running QEMU of dom has a vgpu-stub device (from the live XML). */
static gboolean domain_live_has_device(virDomainPtr dom)
{
    char *xml = virDomainGetXMLDesc(dom, 0);
    xmlDoc *doc = xml ? metadata_parse_xml(xml, strlen(xml), NULL) : NULL;
    struct qemu_cmdline_vgpu found = { 0 };
    gboolean has = FALSE;

    if (doc) {
        qemu_cmdline_find_vgpu(metadata_domain_node(doc), &found);
        has = found.devices > 0;
        qemu_cmdline_vgpu_clear(&found);
        xmlFreeDoc(doc);
    }
    free(xml);
    return has;
}

/*
 * Say what was done.  A running domain keeps what its QEMU started with:
 * when that differs from the new definition, warn that it applies later.
 */
static void domain_print_result(struct vgpuctl *ctl, virDomainPtr dom, const char *what,
                                gboolean changed, const struct domain_edit_options *opts)
{
    const char *name = virDomainGetName(dom);
    gboolean running = virDomainIsActive(dom) == 1;
    gboolean pending = running && (changed || domain_live_has_device(dom) != (opts != NULL));

    if (ctl->json) {
        JsonObject *obj = json_object_new();

        json_object_set_string_member(obj, "domain", name);
        json_object_set_string_member(obj, "action", what);
        json_object_set_boolean_member(obj, "changed", changed);
        json_object_set_boolean_member(obj, "running", running);
        json_object_set_boolean_member(obj, "applies_at_next_start", pending);
        if (opts) {
            char pool[2] = { (char)opts->pool_id, '\0' };

            json_object_set_string_member(obj, "pool", pool);
            json_object_set_string_member(obj, "priority", vgpu_priority_name(opts->priority));
            json_object_set_int_member(obj, "vm_id", opts->vm_id);
            json_object_set_int_member(obj, "gpu_memory_quota", (gint64)opts->gpu_memory_quota);
            json_object_set_string_member(obj, "emulator", opts->emulator);
            json_object_set_string_member(obj, "socket", opts->device_socket);
            json_object_set_int_member(obj, "slot", opts->slot);
        }
        vgpuctl_print_json(obj);
        json_object_unref(obj);
    } else if (opts) {
        printf("domain '%s': vgpu-stub %s (pool %c, priority %s, vm-id %u%s%s, slot 0x%x, "
               "mediator %s, emulator %s)\n", name, changed ? "attached" : "already attached",
               (char)opts->pool_id, vgpu_priority_name(opts->priority), opts->vm_id,
               opt_gpu_memory ? ", gpu-memory " : "", opt_gpu_memory ? opt_gpu_memory : "",
               opts->slot, opts->device_socket, opts->emulator);
    } else {
        printf("domain '%s': %s\n", name,
               changed ? "vgpu-stub detached" : "has no vgpu-stub device; nothing to detach");
    }
    if (pending) {
        fprintf(stderr, "vgpuctl %s: warning: domain '%s' is running: the change applies at its "
                "next start (shut it down and start it again; a reboot inside the guest is "
                "not enough)\n", what, name);
    }
}

/* Define xml as the domain's new persistent definition. */
static int domain_define(const char *command, virConnectPtr conn, const char *name,
                         const char *xml)
{
    virDomainPtr defined = virDomainDefineXML(conn, xml);

    if (!defined) {
        return domain_fail(command, VGPUCTL_EXIT_REFUSED, "libvirt refused the new definition of "
                           "domain '%s': %s", name, domain_libvirt_message());
    }
    virDomainFree(defined);
    return VGPUCTL_EXIT_OK;
}

static int domain_attach_options(struct domain_edit_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    if (!opt_pool || !opt_priority || !opt_vm_id) {
        return vgpuctl_usage("attach", "needs --pool, --priority and --vm-id");
    }
    if (!vgpu_pool_parse(opt_pool, &opts->pool_id)) {
        return vgpuctl_usage("attach", "--pool \"%s\" is not one letter A..Z", opt_pool);
    }
    if (!vgpu_priority_parse(opt_priority, &opts->priority)) {
        return vgpuctl_usage("attach", "--priority \"%s\" is not low, medium or high",
                             opt_priority);
    }
    if (!vgpu_vm_id_parse(opt_vm_id, &opts->vm_id)) {
        return vgpuctl_usage("attach", "--vm-id \"%s\" is not a number in 1..%u", opt_vm_id,
                             VGPU_VM_ID_MAX);
    }
    if (opt_gpu_memory && !vgpu_gpu_memory_parse(opt_gpu_memory, &opts->gpu_memory_quota)) {
        return vgpuctl_usage("attach", "--gpu-memory \"%s\" is not %s", opt_gpu_memory,
                             VGPUCTL_GPU_MEMORY_WANT);
    }
    opts->slot = DOMAIN_EDIT_SLOT_DEFAULT;
    if (opt_slot && !domain_parse_slot(opt_slot, &opts->slot)) {
        return vgpuctl_usage("attach", "--slot \"%s\" is not a PCI slot in 0x%x..0x%x", opt_slot,
                             DOMAIN_EDIT_SLOT_MIN, DOMAIN_EDIT_SLOT_MAX);
    }
    opts->emulator = opt_emulator ? opt_emulator : VGPU_QEMU_EMULATOR;
    if (!g_path_is_absolute(opts->emulator)) {
        return vgpuctl_usage("attach", "--emulator \"%s\" is not an absolute path", opts->emulator);
    }
    return VGPUCTL_EXIT_OK;
}

/*
 * FALSE, with the message printed, when the mediator answers and has no
 * pool pool_id.  TRUE when it has it, or when no mediator answers (nothing
 * to check against: the hook and the mediator check at start).
 */
static gboolean domain_pool_known(const struct vgpuctl *ctl, uint32_t pool_id)
{
    g_autoptr(ControlClient) client = NULL;
    g_autoptr(GString) pools = g_string_new(NULL);
    struct control_request req = { .command = CONTROL_CMD_STATS };
    JsonObject *stats = NULL;
    JsonArray *array;
    gboolean found = FALSE;

    client = control_client_connect(ctl->socket_path, (unsigned)ctl->timeout_ms, NULL);
    if (client) {
        stats = control_client_call(client, &req, NULL, NULL);
    }
    if (!stats) {
        return TRUE;
    }
    array = json_object_get_array_member(stats, "pools");
    for (guint i = 0; array && i < json_array_get_length(array); i++) {
        const char *pool = json_object_get_string_member_with_default(
            json_array_get_object_element(array, i), "pool", "");

        g_string_append_printf(pools, "%s%s", pools->len ? ", " : "", pool);
        found = found || (pool[0] == (char)pool_id && pool[1] == 0);
    }
    json_object_unref(stats);
    if (!found) {
        g_autofree char *dir = g_path_get_dirname(ctl->socket_path);

        domain_fail("attach", VGPUCTL_EXIT_REFUSED,
                    "pool %c is not configured at the mediator on %s (pools: %s); add "
                    "[pool %c] to its mediator.conf and restart it, or attach with one of "
                    "those", (char)pool_id, dir, pools->str, (char)pool_id);
    }
    return found;
}

/* The mediator's device socket: next to the control socket vgpuctl talks to. */
static char *domain_device_socket(const struct vgpuctl *ctl)
{
    char *dir = g_path_get_dirname(ctl->socket_path);
    char *socket = g_build_filename(dir, VGPU_DEVICE_SOCKET, NULL);

    g_free(dir);
    return socket;
}

/*
 * Edit the persistent definition of domain `name` through libvirt: attach
 * with opts, or detach when opts is NULL.  Defines it only when the edit
 * changed something.  Returns a VGPUCTL_EXIT_* status.
 */
static int domain_apply(struct vgpuctl *ctl, const char *verb, const char *name,
                        const struct domain_edit_options *opts)
{
    g_autofree char *edited = NULL;
    g_autoptr(GError) error = NULL;
    virConnectPtr conn;
    virDomainPtr dom = NULL;
    char *xml = NULL;
    gboolean changed = FALSE;
    int status;

    conn = domain_connect(verb, &status);
    if (!conn) {
        return status;
    }
    status = VGPUCTL_EXIT_REFUSED;
    if (!(dom = domain_lookup(verb, conn, name)) ||
        (opts && !domain_vm_id_free(verb, conn, dom, opts->vm_id))) {
        goto out;
    }
    if (!(xml = virDomainGetXMLDesc(dom, DOMAIN_XML_FLAGS))) {
        domain_fail(verb, status, "cannot read domain '%s': %s", name, domain_libvirt_message());
        goto out;
    }
    edited = opts ? domain_edit_attach(xml, strlen(xml), opts, &changed, &error)
                  : domain_edit_detach(xml, strlen(xml), &changed, &error);
    if (!edited) {
        domain_fail(verb, status, "domain '%s': %s", name, error->message);
        goto out;
    }
    status = changed ? domain_define(verb, conn, name, edited) : VGPUCTL_EXIT_OK;
    if (status == VGPUCTL_EXIT_OK) {
        domain_print_result(ctl, dom, verb, changed, opts);
    }
out:
    free(xml);
    if (dom) {
        virDomainFree(dom);
    }
    virConnectClose(conn);
    return status;
}

static int run_attach(struct vgpuctl *ctl, char **args)
{
    struct domain_edit_options opts;
    g_autofree char *device_socket = NULL;
    int status = domain_attach_options(&opts);

    if (status != VGPUCTL_EXIT_OK) {
        return status;
    }
    if (!domain_pool_known(ctl, opts.pool_id)) {
        return VGPUCTL_EXIT_REFUSED;
    }
    device_socket = domain_device_socket(ctl);
    opts.device_socket = device_socket;
    return domain_apply(ctl, "attach", args[0], &opts);
}

static int run_detach(struct vgpuctl *ctl, char **args)
{
    return domain_apply(ctl, "detach", args[0], NULL);
}

const struct vgpuctl_command vgpuctl_domain_commands[] = {
    { "attach", "DOMAIN --pool P --priority PR --vm-id ID [--gpu-memory SIZE]",
      "Add vgpu-stub and its identity to a libvirt domain's definition",
      attach_options, 1, run_attach },
    { "detach", "DOMAIN", "Remove vgpu-stub from a libvirt domain's definition",
      detach_options, 1, run_detach },
    { NULL },
};
