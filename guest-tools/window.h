/*
 * The data window: BAR2 of the device, mapped through sysfs resource2; or,
 * for a host link (host-link.h), a sealed memfd of the library's own that
 * the link hands to the mediator.
 *
 * The device advertises it with VGPU_CAP_DATA_WINDOW and gives its size in
 * WINDOW_SIZE_LO/HI (include/vgpu/regs.h); the resource2 file must be
 * exactly that size.  The resource2 descriptor (or the memfd) stays open
 * for the window's flock(2), which vgpu_device_window_lock() takes.
 */
#ifndef VGPU_GUEST_WINDOW_H
#define VGPU_GUEST_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "bar.h"
#include "vgpu.h"

struct vgpu_window {
    void *base;                 /* size bytes of shared memory; NULL until mapped */
    uint64_t size;
    int fd;                     /* resource2 or the memfd, kept open for flock; -1 until mapped */
};

void vgpu_window_init(struct vgpu_window *window);

/*
 * Map the window of the device at address whose BAR0 is bar.  Returns OK,
 * NO_WINDOW (no VGPU_CAP_DATA_WINDOW, WINDOW_SIZE 0, or no resource2),
 * PROTOCOL (a size that breaks the contract, or resource2 of another
 * size), PERMISSION or IO, with the detail in vgpu_last_error().
 */
enum vgpu_result vgpu_window_map(struct vgpu_window *window, const char *root,
                                 const char *address, const struct vgpu_bar *bar);

/*
 * Create and map a window of size bytes (a power of two in
 * VGPU_WINDOW_SIZE_MIN..MAX, checked by the caller) as a memfd sealed
 * against growing and shrinking, as the QEMU device seals its own: the
 * mediator maps only a window sealed against shrinking.  Returns OK or IO.
 */
enum vgpu_result vgpu_window_create(struct vgpu_window *window, uint64_t size);

void vgpu_window_unmap(struct vgpu_window *window);

#endif /* VGPU_GUEST_WINDOW_H */
