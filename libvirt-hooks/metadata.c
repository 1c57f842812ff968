/*
 * The vgpu identity in a libvirt domain XML: see metadata.h.
 */
#include <stdarg.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "metadata.h"
#include "qemu-cmdline.h"
#include "vgpu/regs.h"

G_DEFINE_QUARK(vgpu-libvirt-metadata-error-quark, metadata_error)

static void metadata_fail(GError **error, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/*
 * Set a METADATA_ERROR, each control character of the message written as
 * \n, \t, \r or \xNN: messages quote values from the XML (an attribute's
 * &#10; or a <uuid>'s text may hold a newline), and each is one line, as
 * metadata.h promises (the hook's report in `virsh start`).  UTF-8 passes.
 */
static void metadata_fail(GError **error, int code, const char *fmt, ...)
{
    va_list ap;
    char *message;
    GString *line;

    va_start(ap, fmt);
    message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    line = g_string_sized_new(strlen(message));
    for (const unsigned char *p = (const unsigned char *)message; *p; p++) {
        if (*p == '\n') {
            g_string_append(line, "\\n");
        } else if (*p == '\t') {
            g_string_append(line, "\\t");
        } else if (*p == '\r') {
            g_string_append(line, "\\r");
        } else if (*p < 0x20 || *p == 0x7f) {
            g_string_append_printf(line, "\\x%02x", *p);
        } else {
            g_string_append_c(line, (char)*p);
        }
    }
    g_set_error_literal(error, METADATA_ERROR, code, line->str);
    g_string_free(line, TRUE);
    g_free(message);
}

xmlDoc *metadata_parse_xml(const char *xml, size_t len, GError **error)
{
    xmlParserCtxt *ctxt;
    xmlDoc *doc;

    if (len > METADATA_XML_MAX) {
        metadata_fail(error, METADATA_ERROR_MALFORMED,
                      "the domain XML is %zu bytes, more than the %u this reads", len,
                      METADATA_XML_MAX);
        return NULL;
    }
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        metadata_fail(error, METADATA_ERROR_MALFORMED,
                      "out of memory for the XML parser");
        return NULL;
    }
    /* No network, no entity expansion, and errors come back to us, not to stderr. */
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                            XML_PARSE_NOBLANKS);
    if (!doc || !ctxt->wellFormed) {
        const xmlError *err = xmlCtxtGetLastError(ctxt);
        char *message = g_strstrip(g_strdup(err && err->message ? err->message : "unknown error"));

        metadata_fail(error, METADATA_ERROR_MALFORMED,
                      "the domain XML is not well-formed: line %d: %s", err ? err->line : 0,
                      message);
        g_free(message);
        xmlFreeDoc(doc);
        xmlFreeParserCtxt(ctxt);
        return NULL;
    }
    xmlFreeParserCtxt(ctxt);
    if (!metadata_domain_node(doc)) {
        xmlNode *root = xmlDocGetRootElement(doc);

        metadata_fail(error, METADATA_ERROR_MALFORMED,
                      "the XML is a <%s>, not a libvirt <domain>",
                      root ? (const char *)root->name : "nothing");
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

static gboolean element_is(const xmlNode *n, const char *ns, const char *name)
{
    if (n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, BAD_CAST name)) {
        return FALSE;
    }
    return ns ? n->ns && xmlStrEqual(n->ns->href, BAD_CAST ns) : !n->ns;
}

static xmlNode *child_element(xmlNode *parent, const char *ns, const char *name)
{
    for (xmlNode *n = parent->children; n; n = n->next) {
        if (element_is(n, ns, name)) {
            return n;
        }
    }
    return NULL;
}

xmlNode *metadata_domain_node(xmlDoc *doc)
{
    xmlNode *root = xmlDocGetRootElement(doc);

    if (!root) {
        return NULL;
    }
    if (element_is(root, NULL, "domain")) {
        return root;
    }
    if (element_is(root, NULL, "domstatus")) {
        return child_element(root, NULL, "domain");
    }
    return NULL;
}

gboolean metadata_may_be_ours(const char *xml, size_t len)
{
    /* Text not in an ASCII-compatible encoding (UTF-16 has NUL bytes) cannot
     * be searched as bytes: only the parser can tell. */
    return g_strstr_len(xml, (gssize)len, METADATA_NS) != NULL || memchr(xml, '\0', len);
}

/* The text of parent's child element name (g_free); NULL if absent. */
static char *child_text(xmlNode *parent, const char *name)
{
    xmlNode *child = child_element(parent, NULL, name);
    xmlChar *text;
    char *copy;

    if (!child) {
        return NULL;
    }
    text = xmlNodeGetContent(child);
    copy = g_strstrip(g_strdup((const char *)text));
    xmlFree(text);
    return copy;
}

char *metadata_device_socket(xmlDoc *doc)
{
    xmlNode *domain = metadata_domain_node(doc);
    struct qemu_cmdline_vgpu found;
    char *socket;

    if (!domain) {
        return NULL;
    }
    qemu_cmdline_find_vgpu(domain, &found);
    socket = g_steal_pointer(&found.socket);
    qemu_cmdline_vgpu_clear(&found);
    return socket;
}

/* Our attribute attr of element (g_free), or NULL with error naming what is missing. */
static char *required_attr(xmlNode *element, const char *attr, const char *want, GError **error)
{
    xmlChar *value = xmlGetNoNsProp(element, BAD_CAST attr);
    char *copy;

    if (!value) {
        metadata_fail(error, METADATA_ERROR_INVALID,
                      "<%s:%s> has no %s= attribute (%s)", METADATA_NS_PREFIX, METADATA_ELEMENT,
                      attr, want);
        return NULL;
    }
    copy = g_strdup((const char *)value);
    xmlFree(value);
    return copy;
}

#define WANT_POOL       "one upper-case letter A-Z"
#define WANT_PRIORITY   "low, medium or high"
#define WANT_GPU_MEMORY "a size of 1 byte..1TiB: a byte count, or a number with KiB, MiB, GiB " \
                        "or TiB"

/* The optional gpu-memory= attribute: 0 when absent. */
static gboolean read_gpu_memory(xmlNode *element, uint64_t *quota, GError **error)
{
    xmlChar *value = xmlGetNoNsProp(element, BAD_CAST METADATA_ATTR_GPU_MEMORY);
    gboolean ok = TRUE;

    *quota = 0;
    if (value && !vgpu_gpu_memory_parse((const char *)value, quota)) {
        metadata_fail(error, METADATA_ERROR_INVALID,
                      "gpu-memory '%s' in <%s:%s> is not %s", (const char *)value,
                      METADATA_NS_PREFIX, METADATA_ELEMENT, WANT_GPU_MEMORY);
        ok = FALSE;
    }
    xmlFree(value);
    return ok;
}

static gboolean read_identity_attrs(xmlNode *element, struct metadata_identity *ident,
                                    GError **error)
{
    char *want_vm_id = g_strdup_printf("a number in 1..%u", VGPU_VM_ID_MAX);
    char *pool = NULL, *priority = NULL, *vm_id = NULL;
    gboolean ok = FALSE;

    if (!(pool = required_attr(element, METADATA_ATTR_POOL, WANT_POOL, error)) ||
        !(priority = required_attr(element, METADATA_ATTR_PRIORITY, WANT_PRIORITY, error)) ||
        !(vm_id = required_attr(element, METADATA_ATTR_VM_ID, want_vm_id, error))) {
        goto out;
    }
    if (!vgpu_pool_parse(pool, &ident->pool_id)) {
        metadata_fail(error, METADATA_ERROR_INVALID,
                      "pool '%s' in <%s:%s> is not a pool name (%s)", pool, METADATA_NS_PREFIX,
                      METADATA_ELEMENT, WANT_POOL);
    } else if (!vgpu_priority_parse(priority, &ident->priority)) {
        metadata_fail(error, METADATA_ERROR_INVALID,
                      "priority '%s' in <%s:%s> is not %s", priority, METADATA_NS_PREFIX,
                      METADATA_ELEMENT, WANT_PRIORITY);
    } else if (!vgpu_vm_id_parse(vm_id, &ident->vm_id)) {
        metadata_fail(error, METADATA_ERROR_INVALID,
                      "vm-id '%s' in <%s:%s> is not %s", vm_id, METADATA_NS_PREFIX,
                      METADATA_ELEMENT, want_vm_id);
    } else {
        ok = read_gpu_memory(element, &ident->gpu_memory_quota, error);
    }
out:
    g_free(pool);
    g_free(priority);
    g_free(vm_id);
    g_free(want_vm_id);
    return ok;
}

static gboolean read_name_and_uuid(xmlNode *domain, struct metadata_identity *ident,
                                   GError **error)
{
    char *uuid_text = child_text(domain, "uuid");
    uint8_t uuid[16];

    ident->name = child_text(domain, "name");
    if (!ident->name || !*ident->name) {
        metadata_fail(error, METADATA_ERROR_MALFORMED,
                      "the domain XML has no <name>");
        g_free(uuid_text);
        return FALSE;
    }
    if (!uuid_text || !vgpu_uuid_parse(uuid_text, uuid)) {
        metadata_fail(error, METADATA_ERROR_MALFORMED,
                      "the domain XML has no valid <uuid> (got '%s')", uuid_text ? uuid_text : "");
        g_free(uuid_text);
        return FALSE;
    }
    vgpu_uuid_format(uuid, ident->uuid);
    g_free(uuid_text);
    return TRUE;
}

/*
 * The elements of our namespace in the domain's <metadata>: XPath with
 * the namespace registered, so any prefix the XML uses matches.
 */
static xmlXPathObject *our_elements(xmlDoc *doc, xmlNode *domain, const char *expr)
{
    xmlXPathContext *ctx = xmlXPathNewContext(doc);
    xmlXPathObject *result = NULL;

    if (ctx && xmlXPathRegisterNs(ctx, BAD_CAST METADATA_NS_PREFIX, BAD_CAST METADATA_NS) == 0) {
        ctx->node = domain;
        result = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    }
    xmlXPathFreeContext(ctx);
    return result;
}

static guint node_count(const xmlXPathObject *result)
{
    return result && result->nodesetval ? (guint)result->nodesetval->nodeNr : 0;
}

enum metadata_result metadata_read(xmlDoc *doc, struct metadata_identity *ident,
                                   GError **error)
{
    xmlNode *domain = metadata_domain_node(doc);
    xmlXPathObject *all, *found;
    xmlNode *device;
    guint ours, devices;

    memset(ident, 0, sizeof(*ident));
    if (!domain) {
        metadata_fail(error, METADATA_ERROR_MALFORMED,
                      "the XML has no libvirt <domain>");
        return METADATA_INVALID;
    }
    all = our_elements(doc, domain, "metadata/" METADATA_NS_PREFIX ":*");
    found = our_elements(doc, domain, "metadata/" METADATA_NS_PREFIX ":" METADATA_ELEMENT);
    ours = node_count(all);
    devices = node_count(found);
    device = devices ? found->nodesetval->nodeTab[0] : NULL;
    xmlXPathFreeObject(all);
    xmlXPathFreeObject(found);

    if (ours == 0) {
        xmlXPathObject *astray = our_elements(doc, domain, ".//" METADATA_NS_PREFIX ":*");
        guint misplaced = node_count(astray);

        xmlXPathFreeObject(astray);
        if (misplaced) {
            metadata_fail(error, METADATA_ERROR_INVALID,
                          "the domain has %u element(s) of namespace %s outside its <metadata>: "
                          "<%s:%s> must be a child of <metadata>", misplaced, METADATA_NS,
                          METADATA_NS_PREFIX, METADATA_ELEMENT);
            return METADATA_INVALID;
        }
        return METADATA_NOT_OURS;
    }
    if (devices != 1) {
        if (devices == 0) {
            metadata_fail(error, METADATA_ERROR_INVALID,
                          "the domain's <metadata> has elements of namespace %s but no <%s:%s>",
                          METADATA_NS, METADATA_NS_PREFIX, METADATA_ELEMENT);
        } else {
            metadata_fail(error, METADATA_ERROR_INVALID,
                          "the domain's <metadata> has %u <%s:%s> elements; it must have one",
                          devices, METADATA_NS_PREFIX, METADATA_ELEMENT);
        }
        return METADATA_INVALID;
    }
    if (!read_name_and_uuid(domain, ident, error) ||
        !read_identity_attrs(device, ident, error)) {
        metadata_identity_clear(ident);
        return METADATA_INVALID;
    }
    ident->device_socket = metadata_device_socket(doc);
    return METADATA_OURS;
}

void metadata_identity_clear(struct metadata_identity *ident)
{
    g_free(ident->name);
    g_free(ident->device_socket);
    memset(ident, 0, sizeof(*ident));
}
