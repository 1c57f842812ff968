/*
 * The vgpu-stub device in a domain's <qemu:commandline>:
 *
 *   <qemu:commandline>
 *     <qemu:arg value="-chardev"/>
 *     <qemu:arg value="socket,id=vgpu0,path=/run/vgpu/mediator.sock,reconnect=1"/>
 *     <qemu:arg value="-device"/>
 *     <qemu:arg value="vgpu-stub,chardev=vgpu0,bus=pcie.0,addr=0x1c"/>
 *   </qemu:commandline>
 *
 * Finding those arguments (whoever wrote them: vgpuctl attach or an admin by
 * hand) and reading QEMU's "driver,key=value,..." option strings.
 */
#ifndef LIBVIRT_HOOKS_QEMU_CMDLINE_H
#define LIBVIRT_HOOKS_QEMU_CMDLINE_H

#include <glib.h>
#include <libxml/tree.h>

/* libvirt's namespace for QEMU passthrough (<qemu:commandline>). */
#define QEMU_CMDLINE_NS             "http://libvirt.org/schemas/domain/qemu/1.0"
#define QEMU_CMDLINE_NS_PREFIX      "qemu"
#define QEMU_CMDLINE_DEVICE_DRIVER  "vgpu-stub"
#define QEMU_CMDLINE_ELEMENT        "commandline"
#define QEMU_CMDLINE_ARG            "arg"

/*
 * The value of key in a QEMU option string ("socket,id=vgpu0,path=/x"),
 * with QEMU's ",," escapes undone; NULL when the key is absent (g_free).
 */
char *qemu_cmdline_opt(const char *opts, const char *key);

/* text with each ',' doubled, as a value in a QEMU option string (g_free). */
char *qemu_cmdline_opt_escape(const char *text);

/* The driver (the first element, when it has no '='): "vgpu-stub"; or NULL (g_free). */
char *qemu_cmdline_opt_driver(const char *opts);

struct qemu_cmdline_vgpu {
    xmlNode *commandline;       /* the domain's <qemu:commandline>; NULL if none */
    GPtrArray *args;            /* our <qemu:arg> nodes: option and value of each -device, then each -chardev */
    char *socket;               /* path= of the first vgpu-stub's chardev; NULL if none */
    guint devices;              /* how many -device vgpu-stub */
};

/*
 * Find the vgpu-stub devices under domain's <qemu:commandline> and the
 * -chardev each one names.  Always fills *found; free it with
 * qemu_cmdline_vgpu_clear.
 */
void qemu_cmdline_find_vgpu(xmlNode *domain, struct qemu_cmdline_vgpu *found);

void qemu_cmdline_vgpu_clear(struct qemu_cmdline_vgpu *found);

/* The <qemu:commandline> child of domain, or NULL. */
xmlNode *qemu_cmdline_element(xmlNode *domain);

#endif /* LIBVIRT_HOOKS_QEMU_CMDLINE_H */
