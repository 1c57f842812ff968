/*
 * Completion interrupts through uio_pci_generic: see irq.h.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/pci_regs.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "irq.h"
#include "result.h"
#include "sysfs.h"

void vgpu_irq_init(struct vgpu_irq *irq)
{
    irq->uio_fd = -1;
    irq->config_fd = -1;
    irq->name[0] = '\0';
}

static enum vgpu_result irq_open_file(const char *path, int flags, int *fd)
{
    *fd = open(path, flags | O_CLOEXEC);
    if (*fd >= 0) {
        return VGPU_RESULT_OK;
    }
    if (errno == EACCES || errno == EPERM) {
        return vgpu_result_fail(VGPU_RESULT_PERMISSION, "cannot open %s: %m", path);
    }
    return vgpu_result_fail(errno == ENOENT ? VGPU_RESULT_NO_IRQ : VGPU_RESULT_IO,
                            "cannot open %s: %m", path);
}

enum vgpu_result vgpu_irq_open(struct vgpu_irq *irq, const char *root, const char *address)
{
    char driver[NAME_MAX + 1], path[PATH_MAX];
    enum vgpu_result r;

    vgpu_irq_init(irq);
    if (vgpu_sysfs_driver(root, address, driver, sizeof(driver)) < 0) {
        return vgpu_result_fail(VGPU_RESULT_IO, "cannot read the driver of %s", address);
    }
    if (driver[0] == '\0') {
        return vgpu_result_fail(VGPU_RESULT_NO_IRQ, "%s is bound to no driver, interrupts need "
                                VGPU_SYSFS_UIO_DRIVER, address);
    }
    if (strcmp(driver, VGPU_SYSFS_UIO_DRIVER) != 0) {
        return vgpu_result_fail(VGPU_RESULT_NO_IRQ, "%s is bound to %s, interrupts need "
                                VGPU_SYSFS_UIO_DRIVER, address, driver);
    }
    if (vgpu_sysfs_uio_name(root, address, irq->name) < 0) {
        return vgpu_result_fail(VGPU_RESULT_NO_IRQ,
                                "%s is bound to " VGPU_SYSFS_UIO_DRIVER " but has no uio node", address);
    }
    snprintf(path, sizeof(path), "%s/dev/%s", root, irq->name);
    r = irq_open_file(path, O_RDONLY | O_NONBLOCK, &irq->uio_fd);
    if (r != VGPU_RESULT_OK) {
        return r;
    }
    if (vgpu_sysfs_device_path(path, sizeof(path), root, address, "config") < 0) {
        vgpu_irq_close(irq);
        return vgpu_result_fail(VGPU_RESULT_IO, "config path of %s is too long", address);
    }
    r = irq_open_file(path, O_RDWR, &irq->config_fd);
    if (r != VGPU_RESULT_OK) {
        vgpu_irq_close(irq);
    }
    return r;
}

void vgpu_irq_close(struct vgpu_irq *irq)
{
    if (irq->uio_fd >= 0) {
        close(irq->uio_fd);
    }
    if (irq->config_fd >= 0) {
        close(irq->config_fd);
    }
    vgpu_irq_init(irq);
}

/* Clear the pending completion, then unmask INTx (see irq.h for the order). */
static enum vgpu_result irq_rearm(struct vgpu_irq *irq, const struct vgpu_bar *bar)
{
    uint16_t command;

    vgpu_bar_write(bar, VGPU_REG_INTERRUPT_STATUS, VGPU_IRQ_COMPLETION);
    if (pread(irq->config_fd, &command, sizeof(command), PCI_COMMAND) != sizeof(command)) {
        return vgpu_result_fail(VGPU_RESULT_IO, "cannot read the PCI command register: %m");
    }
    command = le16toh(command);
    if (!(command & PCI_COMMAND_INTX_DISABLE)) {
        return VGPU_RESULT_OK;
    }
    command = htole16(command & ~PCI_COMMAND_INTX_DISABLE);
    if (pwrite(irq->config_fd, &command, sizeof(command), PCI_COMMAND) != sizeof(command)) {
        return vgpu_result_fail(VGPU_RESULT_IO, "cannot unmask INTx in the PCI command register: %m");
    }
    return VGPU_RESULT_OK;
}

enum vgpu_result vgpu_irq_arm(struct vgpu_irq *irq, const struct vgpu_bar *bar)
{
    vgpu_bar_write(bar, VGPU_REG_INTERRUPT_CTRL, VGPU_IRQ_COMPLETION);
    return irq_rearm(irq, bar);
}

enum vgpu_result vgpu_irq_wait(struct vgpu_irq *irq, const struct vgpu_bar *bar,
                               uint64_t deadline_ns)
{
    struct pollfd pfd = { .fd = irq->uio_fd, .events = POLLIN };
    uint64_t now = vgpu_clock_now_ns();
    uint64_t wait_ms;
    uint32_t count;
    int n;

    if (now >= deadline_ns) {
        return VGPU_RESULT_OK;
    }
    wait_ms = (deadline_ns - now + VGPU_NS_PER_MS - 1) / VGPU_NS_PER_MS;
    n = poll(&pfd, 1, wait_ms > VGPU_IRQ_RECHECK_MS ? VGPU_IRQ_RECHECK_MS : (int)wait_ms);
    if (n < 0) {
        return errno == EINTR ? VGPU_RESULT_OK
                              : vgpu_result_fail(VGPU_RESULT_IO, "cannot poll /dev/%s: %m", irq->name);
    }
    if (n == 0) {
        return VGPU_RESULT_OK;
    }
    if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
        return vgpu_result_fail(VGPU_RESULT_IO, "/dev/%s failed (poll events 0x%x)",
                                irq->name, (unsigned)pfd.revents);
    }
    /* uio returns the interrupt count; we only need to consume it. */
    if (read(irq->uio_fd, &count, sizeof(count)) < 0 && errno != EAGAIN && errno != EINTR) {
        return vgpu_result_fail(VGPU_RESULT_IO, "cannot read /dev/%s: %m", irq->name);
    }
    return irq_rearm(irq, bar);
}
