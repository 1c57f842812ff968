/*
 * Finding the device in sysfs: PCI addresses, ids, the bound driver and its
 * uio node.
 *
 * Every path starts at a root that stands for "/": "" on a real system, or
 * the directory in $VGPU_TEST_ROOT, which exists for the project's tests only
 * (they build a fake sysfs and /dev under a temporary directory).
 */
#ifndef VGPU_GUEST_SYSFS_H
#define VGPU_GUEST_SYSFS_H

#include <stddef.h>
#include <stdint.h>

#include "vgpu.h"

#define VGPU_SYSFS_PCI_DEVICES  "/sys/bus/pci/devices"
#define VGPU_SYSFS_UIO_DRIVER   "uio_pci_generic"
#define VGPU_TEST_ROOT_ENV      "VGPU_TEST_ROOT"
#define VGPU_DEVICE_ENV         "VGPU_DEVICE"

/* "" or $VGPU_TEST_ROOT (ignored in setuid programs). */
const char *vgpu_sysfs_root(void);

/*
 * Write the canonical form "0000:00:1e.0" of a PCI address given as
 * "DDDD:BB:DD.F" or "BB:DD.F" (hex, either case).  Returns 0, or -1 when the
 * text is not such an address.
 */
int vgpu_sysfs_address_parse(const char *text, char out[VGPU_ADDRESS_MAX]);

/*
 * Path of a file of the PCI device: root + VGPU_SYSFS_PCI_DEVICES/address/file.
 * Returns 0, or -1 when it does not fit cap.
 */
int vgpu_sysfs_device_path(char *out, size_t cap, const char *root, const char *address,
                           const char *file);

/*
 * Find the vgpu-stub device: the one at address when it is not NULL (then
 * it must carry the vgpu-stub ids), else the lowest address that does.
 * Writes its canonical address to out.  Returns OK, NO_DEVICE or INVALID
 * (malformed address), with the detail in vgpu_last_error().
 */
enum vgpu_result vgpu_sysfs_find(const char *root, const char *address, char out[VGPU_ADDRESS_MAX]);

/* Read a sysfs number file in hex ("0x1234\n").  Returns 0, or -1 (errno set). */
int vgpu_sysfs_read_hex(const char *root, const char *address, const char *file, uint32_t *value);

/*
 * Write the name of the driver bound to the device ("uio_pci_generic") to
 * out, "" when none is bound.  Returns 0, or -1 when it does not fit cap.
 */
int vgpu_sysfs_driver(const char *root, const char *address, char *out, size_t cap);

/*
 * Write the name of the device's uio node ("uio0", the entry under its uio/
 * directory) to out.  Returns 0, or -1 when it has none.
 */
int vgpu_sysfs_uio_name(const char *root, const char *address, char out[VGPU_UIO_NAME_MAX]);

#endif /* VGPU_GUEST_SYSFS_H */
