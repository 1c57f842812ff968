/*
 * Attach the vgpu-stub device to a domain XML, or detach it: see domain-edit.h.
 */
#include <errno.h>
#include <string.h>

#include <libxml/xpath.h>

#include "domain-edit.h"
#include "metadata.h"
#include "qemu-cmdline.h"
#include "vgpu/identity.h"

G_DEFINE_QUARK(vgpu-libvirt-domain-edit-error-quark, domain_edit_error)

/* Elements that libvirt writes before <metadata>; a new <metadata> goes after them. */
static const char *const head_elements[] = { "name", "uuid", "genid", "title", "description" };

static gboolean is_element(const xmlNode *n, const char *ns, const char *name)
{
    if (n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, BAD_CAST name)) {
        return FALSE;
    }
    return ns ? n->ns && xmlStrEqual(n->ns->href, BAD_CAST ns) : !n->ns;
}

static xmlNode *child(xmlNode *parent, const char *name)
{
    for (xmlNode *n = parent->children; n; n = n->next) {
        if (is_element(n, NULL, name)) {
            return n;
        }
    }
    return NULL;
}

static gboolean has_element_children(const xmlNode *parent)
{
    for (xmlNode *n = parent->children; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE) {
            return TRUE;
        }
    }
    return FALSE;
}

static void remove_node(xmlNode *n)
{
    xmlUnlinkNode(n);
    xmlFreeNode(n);
}

static char *attr(xmlNode *n, const char *name)
{
    xmlChar *value = xmlGetNoNsProp(n, BAD_CAST name);
    char *copy = g_strdup((const char *)value);

    xmlFree(value);
    return copy;
}

static char *format_doc(xmlDoc *doc)
{
    xmlChar *buf = NULL;
    int len = 0;
    char *text;

    xmlDocDumpFormatMemory(doc, &buf, &len, 1);
    text = g_strndup((const char *)buf, (gsize)len);
    xmlFree(buf);
    return text;
}

/* Parse xml as a <domain> (a status XML is not something to define). */
static xmlDoc *parse_domain(const char *xml, size_t len, GError **error)
{
    GError *parse_error = NULL;
    xmlDoc *doc = metadata_parse_xml(xml, len, &parse_error);

    if (!doc) {
        g_set_error_literal(error, DOMAIN_EDIT_ERROR, DOMAIN_EDIT_ERROR_XML,
                            parse_error->message);
        g_error_free(parse_error);
        return NULL;
    }
    if (metadata_domain_node(doc) != xmlDocGetRootElement(doc)) {
        g_set_error(error, DOMAIN_EDIT_ERROR, DOMAIN_EDIT_ERROR_XML,
                    "the XML is a status XML, not a domain definition");
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

char *domain_edit_normalize(const char *xml, size_t len, GError **error)
{
    xmlDoc *doc = parse_domain(xml, len, error);
    char *text;

    if (!doc) {
        return NULL;
    }
    text = format_doc(doc);
    xmlFreeDoc(doc);
    return text;
}

/* Our <vgpu:device> elements (and any other element of our namespace) in <metadata>. */
static GPtrArray *our_metadata(xmlNode *domain)
{
    GPtrArray *found = g_ptr_array_new();
    xmlNode *metadata = child(domain, "metadata");

    for (xmlNode *n = metadata ? metadata->children : NULL; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && n->ns &&
            xmlStrEqual(n->ns->href, BAD_CAST METADATA_NS)) {
            g_ptr_array_add(found, n);
        }
    }
    return found;
}

/* The previous-emulator= recorded by an earlier attach (g_free); NULL if none. */
static char *recorded_emulator(xmlNode *domain)
{
    GPtrArray *ours = our_metadata(domain);
    char *emulator = NULL;

    for (guint i = 0; i < ours->len && !emulator; i++) {
        emulator = attr(g_ptr_array_index(ours, i), METADATA_ATTR_PREVIOUS_EMULATOR);
    }
    g_ptr_array_free(ours, TRUE);
    return emulator;
}

static gboolean ns_used(const xmlNode *n, const xmlNs *ns)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (n->ns == ns) {
            return TRUE;
        }
        for (const xmlAttr *a = n->properties; a; a = a->next) {
            if (a->ns == ns) {
                return TRUE;
            }
        }
        if (ns_used(n->children, ns)) {
            return TRUE;
        }
    }
    return FALSE;
}

/* Drop namespace declarations for href on element that nothing uses any more. */
static void drop_unused_ns(xmlNode *element, const char *href)
{
    xmlNs **link = &element->nsDef;

    while (*link) {
        xmlNs *ns = *link;

        if (xmlStrEqual(ns->href, BAD_CAST href) && !ns_used(element, ns)) {
            *link = ns->next;
            ns->next = NULL;
            xmlFreeNs(ns);
        } else {
            link = &ns->next;
        }
    }
}

/* Remove every vgpu part but the emulator.  TRUE when there was one. */
static gboolean remove_ours(xmlNode *domain)
{
    GPtrArray *ours = our_metadata(domain);
    struct qemu_cmdline_vgpu cmdline;
    xmlNode *metadata = child(domain, "metadata");
    gboolean removed = ours->len > 0;

    for (guint i = 0; i < ours->len; i++) {
        remove_node(g_ptr_array_index(ours, i));
    }
    g_ptr_array_free(ours, TRUE);
    if (metadata && !has_element_children(metadata)) {
        remove_node(metadata);
    }

    qemu_cmdline_find_vgpu(domain, &cmdline);
    removed = removed || cmdline.args->len > 0;
    for (guint i = 0; i < cmdline.args->len; i++) {
        remove_node(g_ptr_array_index(cmdline.args, i));
    }
    if (cmdline.commandline && !has_element_children(cmdline.commandline)) {
        remove_node(cmdline.commandline);
    }
    qemu_cmdline_vgpu_clear(&cmdline);

    drop_unused_ns(domain, QEMU_CMDLINE_NS);
    drop_unused_ns(domain, METADATA_NS);
    return removed;
}

static void set_emulator(xmlNode *domain, const char *path)
{
    xmlNode *devices = child(domain, "devices");
    xmlNode *emulator;

    if (!devices) {
        devices = xmlNewChild(domain, NULL, BAD_CAST "devices", NULL);
    }
    emulator = child(devices, "emulator");
    if (!emulator) {
        emulator = xmlNewNode(NULL, BAD_CAST "emulator");
        if (devices->children) {
            xmlAddPrevSibling(devices->children, emulator);
        } else {
            xmlAddChild(devices, emulator);
        }
    }
    xmlNodeSetContent(emulator, NULL);
    xmlNodeAddContent(emulator, BAD_CAST path);
}

static char *current_emulator(xmlNode *domain)
{
    xmlNode *devices = child(domain, "devices");
    xmlNode *emulator = devices ? child(devices, "emulator") : NULL;
    xmlChar *text;
    char *copy;

    if (!emulator) {
        return NULL;
    }
    text = xmlNodeGetContent(emulator);
    copy = g_strstrip(g_strdup((const char *)text));
    xmlFree(text);
    return copy;
}

/* The domain's <metadata>, made after the head elements when it has none. */
static xmlNode *metadata_element(xmlNode *domain)
{
    xmlNode *metadata = child(domain, "metadata");
    xmlNode *after = NULL;

    if (metadata) {
        return metadata;
    }
    metadata = xmlNewNode(NULL, BAD_CAST "metadata");
    for (xmlNode *n = domain->children; n; n = n->next) {
        for (guint i = 0; i < G_N_ELEMENTS(head_elements); i++) {
            if (is_element(n, NULL, head_elements[i])) {
                after = n;
            }
        }
    }
    if (after) {
        xmlAddNextSibling(after, metadata);
    } else if (domain->children) {
        xmlAddPrevSibling(domain->children, metadata);
    } else {
        xmlAddChild(domain, metadata);
    }
    return metadata;
}

static void add_metadata(xmlNode *domain, const struct domain_edit_options *opts,
                         const char *previous_emulator)
{
    xmlNode *device = xmlNewChild(metadata_element(domain), NULL, BAD_CAST METADATA_ELEMENT, NULL);
    char pool[2] = { (char)opts->pool_id, '\0' };
    char vm_id[16];

    xmlSetNs(device, xmlNewNs(device, BAD_CAST METADATA_NS, BAD_CAST METADATA_NS_PREFIX));
    g_snprintf(vm_id, sizeof(vm_id), "%u", opts->vm_id);
    xmlNewProp(device, BAD_CAST METADATA_ATTR_POOL, BAD_CAST pool);
    xmlNewProp(device, BAD_CAST METADATA_ATTR_PRIORITY,
               BAD_CAST vgpu_priority_name(opts->priority));
    xmlNewProp(device, BAD_CAST METADATA_ATTR_VM_ID, BAD_CAST vm_id);
    if (opts->gpu_memory_quota) {
        char quota[VGPU_GPU_MEMORY_TEXT_MAX];

        vgpu_gpu_memory_format(opts->gpu_memory_quota, quota);
        xmlNewProp(device, BAD_CAST METADATA_ATTR_GPU_MEMORY, BAD_CAST quota);
    }
    if (previous_emulator) {
        xmlNewProp(device, BAD_CAST METADATA_ATTR_PREVIOUS_EMULATOR, BAD_CAST previous_emulator);
    }
}

/*
 * Append an <qemu:arg> after the last one already there (libvirt's schema
 * lists every arg before any env), or first when there is none.
 */
static void add_arg(xmlNode *commandline, const char *value)
{
    xmlNode *arg = xmlNewNode(commandline->ns, BAD_CAST QEMU_CMDLINE_ARG);
    xmlNode *last = NULL;

    xmlNewProp(arg, BAD_CAST "value", BAD_CAST value);
    for (xmlNode *n = commandline->children; n; n = n->next) {
        if (is_element(n, QEMU_CMDLINE_NS, QEMU_CMDLINE_ARG)) {
            last = n;
        }
    }
    if (last) {
        xmlAddNextSibling(last, arg);
    } else if (commandline->children) {
        xmlAddPrevSibling(commandline->children, arg);
    } else {
        xmlAddChild(commandline, arg);
    }
}

static void add_commandline(xmlNode *domain, const char *bus,
                            const struct domain_edit_options *opts)
{
    xmlNode *commandline = qemu_cmdline_element(domain);
    char *socket = qemu_cmdline_opt_escape(opts->device_socket);
    char *chardev, *device;

    if (!commandline) {
        xmlNs *ns = xmlSearchNsByHref(domain->doc, domain, BAD_CAST QEMU_CMDLINE_NS);

        if (!ns) {
            ns = xmlNewNs(domain, BAD_CAST QEMU_CMDLINE_NS, BAD_CAST QEMU_CMDLINE_NS_PREFIX);
        }
        commandline = xmlNewChild(domain, ns, BAD_CAST QEMU_CMDLINE_ELEMENT, NULL);
    }
    chardev = g_strdup_printf("socket,id=%s,path=%s,reconnect=%d", DOMAIN_EDIT_CHARDEV_ID,
                              socket, DOMAIN_EDIT_RECONNECT_S);
    device = g_strdup_printf("%s,chardev=%s,bus=%s,addr=0x%x", QEMU_CMDLINE_DEVICE_DRIVER,
                             DOMAIN_EDIT_CHARDEV_ID, bus, opts->slot);
    add_arg(commandline, "-chardev");
    add_arg(commandline, chardev);
    add_arg(commandline, "-device");
    add_arg(commandline, device);
    g_free(device);
    g_free(chardev);
    g_free(socket);
}

/*
 * The root PCI bus of the domain's machine type: pcie.0 for q35, pci.0 for
 * pc (i440fx); NULL with error for a domain the device cannot go into.
 */
static const char *root_bus(xmlNode *domain, GError **error)
{
    char *type = attr(domain, "type");
    xmlNode *os = child(domain, "os");
    xmlNode *os_type = os ? child(os, "type") : NULL;
    char *arch = os_type ? attr(os_type, "arch") : NULL;
    char *machine = os_type ? attr(os_type, "machine") : NULL;
    const char *bus = NULL;

    if (g_strcmp0(type, "kvm") != 0 && g_strcmp0(type, "qemu") != 0) {
        g_set_error(error, DOMAIN_EDIT_ERROR, DOMAIN_EDIT_ERROR_UNSUPPORTED,
                    "domain type '%s' is not a QEMU domain (want kvm or qemu)",
                    type ? type : "");
    } else if (arch && !g_str_equal(arch, "x86_64") && !g_str_equal(arch, "i686")) {
        g_set_error(error, DOMAIN_EDIT_ERROR, DOMAIN_EDIT_ERROR_UNSUPPORTED,
                    "architecture '%s' is not supported: the vgpu QEMU build is x86_64", arch);
    } else if (machine && strstr(machine, "q35")) {
        bus = "pcie.0";
    } else if (!machine || g_str_equal(machine, "pc") || g_str_has_prefix(machine, "pc-")) {
        bus = "pci.0";
    } else {
        g_set_error(error, DOMAIN_EDIT_ERROR, DOMAIN_EDIT_ERROR_UNSUPPORTED,
                    "machine type '%s' has no PCI root bus for vgpu-stub (use pc or q35)",
                    machine);
    }
    g_free(machine);
    g_free(arch);
    g_free(type);
    return bus;
}

/* A PCI address attribute ("0x1c", "28"); -1 when absent, G_MAXINT64 when not a number. */
static gint64 address_number(xmlNode *address, const char *name)
{
    char *text = attr(address, name);
    gint64 value = -1;

    if (text) {
        char *end;

        errno = 0;
        value = g_ascii_strtoll(text, &end, 0);
        if (errno || end == text || *end) {
            value = G_MAXINT64;
        }
    }
    g_free(text);
    return value;
}

/* FALSE with error when a device of the domain sits at opts->slot of the root bus. */
static gboolean slot_free(xmlDoc *doc, xmlNode *domain, unsigned slot, GError **error)
{
    xmlXPathContext *ctx = xmlXPathNewContext(doc);
    xmlXPathObject *result;
    gboolean free_slot = TRUE;

    ctx->node = domain;
    result = xmlXPathEvalExpression(BAD_CAST "devices//address[@type='pci']", ctx);
    for (int i = 0; result && result->nodesetval && i < result->nodesetval->nodeNr; i++) {
        xmlNode *address = result->nodesetval->nodeTab[i];
        gint64 pci_domain = address_number(address, "domain");

        if (pci_domain <= 0 && address_number(address, "bus") == 0 &&
            address_number(address, "slot") == slot) {
            xmlNode *owner = address->parent;
            char *type = attr(owner, "type");
            char *model = attr(owner, "model");

            g_set_error(error, DOMAIN_EDIT_ERROR, DOMAIN_EDIT_ERROR_SLOT_TAKEN,
                        "PCI slot 0x%x of the root bus is taken by the domain's <%s%s%s%s%s%s%s>",
                        slot, (const char *)owner->name, type ? " type='" : "",
                        type ? type : "", type ? "'" : "", model ? " model='" : "",
                        model ? model : "", model ? "'" : "");
            g_free(model);
            g_free(type);
            free_slot = FALSE;
            break;
        }
    }
    xmlXPathFreeObject(result);
    xmlXPathFreeContext(ctx);
    return free_slot;
}

char *domain_edit_attach(const char *xml, size_t len, const struct domain_edit_options *opts,
                         gboolean *changed, GError **error)
{
    xmlDoc *doc = parse_domain(xml, len, error);
    xmlNode *domain;
    const char *bus;
    char *before, *after = NULL, *previous, *current;

    if (!doc) {
        return NULL;
    }
    domain = xmlDocGetRootElement(doc);
    before = format_doc(doc);
    bus = root_bus(domain, error);
    if (!bus) {
        goto out;
    }
    previous = recorded_emulator(domain);
    current = current_emulator(domain);
    remove_ours(domain);
    if (!slot_free(doc, domain, opts->slot, error)) {
        g_free(previous);
        g_free(current);
        goto out;
    }
    if (!previous && current && !g_str_equal(current, opts->emulator)) {
        previous = g_steal_pointer(&current);
    }
    add_metadata(domain, opts, previous);
    set_emulator(domain, opts->emulator);
    add_commandline(domain, bus, opts);
    g_free(previous);
    g_free(current);

    after = format_doc(doc);
    *changed = !g_str_equal(before, after);
out:
    g_free(before);
    xmlFreeDoc(doc);
    return after;
}

char *domain_edit_detach(const char *xml, size_t len, gboolean *changed, GError **error)
{
    xmlDoc *doc = parse_domain(xml, len, error);
    xmlNode *domain;
    char *before, *after, *previous;

    if (!doc) {
        return NULL;
    }
    domain = xmlDocGetRootElement(doc);
    before = format_doc(doc);
    previous = recorded_emulator(domain);
    remove_ours(domain);
    if (previous) {
        set_emulator(domain, previous);
    }
    after = format_doc(doc);
    *changed = !g_str_equal(before, after);
    g_free(previous);
    g_free(before);
    xmlFreeDoc(doc);
    return after;
}
