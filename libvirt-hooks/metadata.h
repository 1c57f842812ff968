/*
 * The vgpu identity a libvirt domain XML carries (docs/libvirt.md):
 *
 *   <metadata>
 *     <vgpu:device xmlns:vgpu="urn:vgpu-stub:libvirt:1" pool="A" priority="high" vm-id="7"
 *                  gpu-memory="8GiB"/>
 *   </metadata>
 *
 * and the other facts about a domain that the hook and `vgpuctl attach`
 * need: its name, its UUID, and which mediator its device connects to.
 * Used by the hook on the XML libvirtd passes on stdin (a <domain>, or a
 * <domstatus> around one) and by vgpuctl on libvirt's XML.
 */
#ifndef LIBVIRT_HOOKS_METADATA_H
#define LIBVIRT_HOOKS_METADATA_H

#include <glib.h>
#include <libxml/tree.h>
#include <stdint.h>

#include "vgpu/identity.h"

#define METADATA_NS             "urn:vgpu-stub:libvirt:1"
#define METADATA_NS_PREFIX      "vgpu"
#define METADATA_ELEMENT        "device"
#define METADATA_ATTR_POOL      "pool"
#define METADATA_ATTR_PRIORITY  "priority"
#define METADATA_ATTR_VM_ID     "vm-id"
#define METADATA_ATTR_GPU_MEMORY "gpu-memory"  /* optional: the VM's GPU memory quota */
/* Written by `vgpuctl attach`, read by `vgpuctl detach`: the <emulator> to restore. */
#define METADATA_ATTR_PREVIOUS_EMULATOR "previous-emulator"

#define METADATA_XML_MAX        (16u << 20)     /* bytes of domain XML we parse */

enum metadata_result {
    METADATA_OURS,              /* one valid <vgpu:device>: *ident is filled */
    METADATA_NOT_OURS,          /* no element of our namespace: leave the domain alone */
    METADATA_INVALID,           /* ours, but wrong: the GError says what, in one line */
};

struct metadata_identity {
    char *name;                 /* the domain's <name> */
    char uuid[VGPU_UUID_STRING_LEN + 1];    /* <uuid>, lower case */
    uint32_t pool_id;           /* 'A'..'Z' */
    uint32_t priority;          /* enum vgpu_priority */
    uint32_t vm_id;             /* 1..VGPU_VM_ID_MAX */
    uint64_t gpu_memory_quota;  /* bytes, 1..VGPU_GPU_MEMORY_MAX; 0 when gpu-memory= is absent */
    char *device_socket;        /* path= of the vgpu-stub device's chardev; NULL if none */
};

#define METADATA_ERROR (metadata_error_quark())
GQuark metadata_error_quark(void);

enum metadata_error_code {
    METADATA_ERROR_MALFORMED,   /* not well-formed XML, or not a domain */
    METADATA_ERROR_INVALID,     /* our element is there but wrong */
};

/*
 * Parse len bytes of domain XML (a <domain>, or a <domstatus> around one).
 * NULL with error when it is not well-formed or has no <domain>.  Free with
 * xmlFreeDoc.
 */
xmlDoc *metadata_parse_xml(const char *xml, size_t len, GError **error);

/* The <domain> element of doc (the root, or inside <domstatus>); NULL if none. */
xmlNode *metadata_domain_node(xmlDoc *doc);

/*
 * Read and validate the domain's vgpu identity into *ident (cleared first;
 * free its strings with metadata_identity_clear).  METADATA_INVALID comes
 * with error set to one line that names the problem and the value, e.g.
 * "priority 'urgent' in <vgpu:device> is not low, medium or high".
 */
enum metadata_result metadata_read(xmlDoc *doc, struct metadata_identity *ident,
                                   GError **error);

/*
 * Quick test on the raw text, before parsing: FALSE when the XML cannot
 * carry our metadata (our namespace does not occur in it at all).
 */
gboolean metadata_may_be_ours(const char *xml, size_t len);

/*
 * The socket path of the chardev that the domain's `-device vgpu-stub`
 * uses, from its <qemu:commandline>; NULL when there is none (g_free).
 */
char *metadata_device_socket(xmlDoc *doc);

void metadata_identity_clear(struct metadata_identity *ident);

#endif /* LIBVIRT_HOOKS_METADATA_H */
