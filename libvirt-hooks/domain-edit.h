/*
 * Add the vgpu-stub device to a persistent libvirt domain XML, or take it
 * out again: the text-in, text-out half of `vgpuctl attach` / `detach`
 * (the libvirt calls live in vgpuctl-domain.c).
 *
 * Attaching writes, and replaces when they are already there:
 *   - <metadata><vgpu:device pool= priority= vm-id= [gpu-memory=]/></metadata>
 *     (docs/libvirt.md),
 *   - <devices><emulator> = the project's QEMU build; the emulator it
 *     replaces is kept in previous-emulator= so that detach restores it,
 *   - in <qemu:commandline>: -chardev socket,id=vgpu0,path=<socket>,reconnect=1
 *     and -device vgpu-stub,chardev=vgpu0,bus=<root bus>,addr=<slot>.
 * Detaching removes all of ours (also a hand-written vgpu-stub device) and
 * leaves everything else as it was.
 */
#ifndef LIBVIRT_HOOKS_DOMAIN_EDIT_H
#define LIBVIRT_HOOKS_DOMAIN_EDIT_H

#include <glib.h>
#include <stdint.h>

#define DOMAIN_EDIT_CHARDEV_ID      "vgpu0"
/*
 * The device is conventional PCI, on the root bus: pci.0 (pc) or, as an
 * integrated endpoint, pcie.0 (q35).  libvirt assigns its own devices from
 * the low slots up and, on q35, keeps 0x1f (LPC, SATA, SMBus), 0x1e
 * (dmi-to-pci-bridge), 0x1d (ICH9 USB) and 0x1b (ICH9 audio): 0x1c clashes
 * with none of them on either machine type.
 */
#define DOMAIN_EDIT_SLOT_DEFAULT    0x1c
#define DOMAIN_EDIT_SLOT_MIN        0x01    /* slot 0 is the host bridge */
#define DOMAIN_EDIT_SLOT_MAX        0x1f
#define DOMAIN_EDIT_RECONNECT_S     1       /* QEMU retries the mediator's socket this often */

struct domain_edit_options {
    uint32_t pool_id;           /* 'A'..'Z' */
    uint32_t priority;          /* enum vgpu_priority */
    uint32_t vm_id;             /* 1..VGPU_VM_ID_MAX */
    uint64_t gpu_memory_quota;  /* bytes; 0: no gpu-memory= (no quota) */
    const char *emulator;       /* the <emulator> to set */
    const char *device_socket;  /* the mediator's device socket the chardev connects to */
    unsigned slot;              /* PCI slot on the root bus */
};

#define DOMAIN_EDIT_ERROR (domain_edit_error_quark())
GQuark domain_edit_error_quark(void);

enum domain_edit_error_code {
    DOMAIN_EDIT_ERROR_XML,          /* not a well-formed <domain> */
    DOMAIN_EDIT_ERROR_UNSUPPORTED,  /* a domain the device cannot go into (type, arch, machine) */
    DOMAIN_EDIT_ERROR_SLOT_TAKEN,   /* another device has the slot */
};

/*
 * The domain XML (len bytes) with the device attached as opts says.
 * Returns the new XML (g_free), and *changed says whether it differs from
 * the input in more than formatting; NULL with error when the domain cannot
 * take the device.
 */
char *domain_edit_attach(const char *xml, size_t len, const struct domain_edit_options *opts,
                         gboolean *changed, GError **error);

/*
 * The domain XML (len bytes) without any of the vgpu parts above, with the
 * previous <emulator> restored when attach recorded one.  *changed is FALSE
 * when there was nothing to remove.  NULL with error on malformed XML.
 */
char *domain_edit_detach(const char *xml, size_t len, gboolean *changed, GError **error);

/* The XML reformatted the way attach and detach write it (g_free); NULL on bad XML. */
char *domain_edit_normalize(const char *xml, size_t len, GError **error);

#endif /* LIBVIRT_HOOKS_DOMAIN_EDIT_H */
