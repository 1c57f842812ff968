/*
 * BAR0 of the device, mapped through sysfs resource0.
 *
 * Every access is 32-bit and aligned, through a volatile pointer, so the
 * compiler neither merges, splits nor drops one.  Registers are
 * little-endian.  The resource0 descriptor stays open for flock(2): it is
 * what serializes processes that share the device.
 */
#ifndef VGPU_GUEST_BAR_H
#define VGPU_GUEST_BAR_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>

#include "vgpu.h"

struct vgpu_bar {
    volatile uint32_t *regs;    /* VGPU_BAR0_SIZE bytes of MMIO */
    int fd;                     /* resource0, kept open for the mapping's lock */
};

/*
 * Open path (a resource0 file) O_RDWR|O_SYNC and map VGPU_BAR0_SIZE bytes.
 * Returns OK, NO_DEVICE (the file is gone), PERMISSION or IO.
 */
enum vgpu_result vgpu_bar_map(struct vgpu_bar *bar, const char *path);

void vgpu_bar_unmap(struct vgpu_bar *bar);

static inline uint32_t vgpu_bar_read(const struct vgpu_bar *bar, uint32_t offset)
{
    return le32toh(bar->regs[offset / 4]);
}

static inline void vgpu_bar_write(const struct vgpu_bar *bar, uint32_t offset, uint32_t value)
{
    bar->regs[offset / 4] = htole32(value);
}

/* Copy len bytes into the BAR at offset in 32-bit writes, the last word zero-padded. */
void vgpu_bar_write_bytes(const struct vgpu_bar *bar, uint32_t offset, const void *bytes, size_t len);

/* Copy len bytes out of the BAR at offset with 32-bit reads. */
void vgpu_bar_read_bytes(const struct vgpu_bar *bar, uint32_t offset, void *bytes, size_t len);

#endif /* VGPU_GUEST_BAR_H */
