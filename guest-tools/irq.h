/*
 * Waiting for the completion interrupt through uio_pci_generic.
 *
 * uio_pci_generic counts each INTx in /dev/uioN (read() returns the count,
 * poll() says when it changed) and masks INTx with the interrupt-disable bit
 * of the PCI command register.  It has no irqcontrol (a write to /dev/uioN
 * returns ENOSYS), so after each interrupt we clear the device's pending bit
 * (INTERRUPT_STATUS, write 1 to clear) and then unmask INTx through the
 * sysfs config file.  The order matters: unmasking first would re-raise the
 * still-pending level interrupt.
 *
 * An interrupt is only a wake-up: the caller always decides by STATUS, so
 * a stale or spurious interrupt costs one extra check and nothing else.
 */
#ifndef VGPU_GUEST_IRQ_H
#define VGPU_GUEST_IRQ_H

#include <stdint.h>

#include "bar.h"
#include "vgpu.h"

/* Wake at least this often to re-check STATUS: an interrupt lost on the way
 * (a driver or hypervisor bug) then costs this long, not the whole timeout. */
#define VGPU_IRQ_RECHECK_MS 100

struct vgpu_irq {
    int uio_fd;                     /* /dev/uioN, non-blocking; -1 when unused */
    int config_fd;                  /* the device's sysfs config file; -1 when unused */
    char name[VGPU_UIO_NAME_MAX];   /* "uio0" */
};

/* A handle that does not wait on interrupts. */
void vgpu_irq_init(struct vgpu_irq *irq);

/*
 * Open the uio node and config file of the device at address.  Returns OK,
 * NO_IRQ (not bound to uio_pci_generic, or no uio node), PERMISSION or IO.
 */
enum vgpu_result vgpu_irq_open(struct vgpu_irq *irq, const char *root, const char *address);

void vgpu_irq_close(struct vgpu_irq *irq);

/*
 * Make the next completion interrupt reach us: enable it in INTERRUPT_CTRL,
 * clear a pending one, unmask INTx.  Returns OK or IO.
 */
enum vgpu_result vgpu_irq_arm(struct vgpu_irq *irq, const struct vgpu_bar *bar);

/*
 * Sleep until an interrupt arrives, deadline_ns passes or VGPU_IRQ_RECHECK_MS
 * elapse, then re-arm if one arrived.  Returns OK (the caller checks STATUS
 * and the time) or IO.
 */
enum vgpu_result vgpu_irq_wait(struct vgpu_irq *irq, const struct vgpu_bar *bar,
                               uint64_t deadline_ns);

#endif /* VGPU_GUEST_IRQ_H */
