/*
 * The data window through resource2, or a memfd of our own: see window.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "result.h"
#include "sysfs.h"
#include "window.h"

#define WINDOW_RESOURCE "resource2"

_Static_assert(VGPU_WINDOW_BAR == 2, "the window is mapped through " WINDOW_RESOURCE);

void vgpu_window_init(struct vgpu_window *window)
{
    window->base = NULL;
    window->size = 0;
    window->fd = -1;
}

static enum vgpu_result window_errno_result(void)
{
    return errno == EACCES || errno == EPERM ? VGPU_RESULT_PERMISSION : VGPU_RESULT_IO;
}

/* The size the registers give, checked against the contract. */
static enum vgpu_result window_size(const char *address, const struct vgpu_bar *bar,
                                    uint64_t *size)
{
    uint32_t capabilities = vgpu_bar_read(bar, VGPU_REG_CAPABILITIES);
    uint64_t v;

    if (!(capabilities & VGPU_CAP_DATA_WINDOW)) {
        return vgpu_result_fail(VGPU_RESULT_NO_WINDOW,
                                "%s has no data window: CAPABILITIES 0x%08x lacks "
                                "VGPU_CAP_DATA_WINDOW (bit 1)", address, capabilities);
    }
    v = (uint64_t)vgpu_bar_read(bar, VGPU_REG_WINDOW_SIZE_HI) << 32 |
        vgpu_bar_read(bar, VGPU_REG_WINDOW_SIZE_LO);
    if (v == 0) {
        return vgpu_result_fail(VGPU_RESULT_NO_WINDOW,
                                "%s advertises a data window but WINDOW_SIZE is 0", address);
    }
    if (v < VGPU_WINDOW_SIZE_MIN || v > VGPU_WINDOW_SIZE_MAX || (v & (v - 1)) != 0) {
        return vgpu_result_fail(VGPU_RESULT_PROTOCOL,
                                "%s: WINDOW_SIZE is %llu bytes, not a power of two in %llu..%llu",
                                address, (unsigned long long)v,
                                (unsigned long long)VGPU_WINDOW_SIZE_MIN,
                                (unsigned long long)VGPU_WINDOW_SIZE_MAX);
    }
    if (v > SIZE_MAX) {
        return vgpu_result_fail(VGPU_RESULT_IO, "%s: a %llu-byte window does not fit this "
                                "process's address space", address, (unsigned long long)v);
    }
    *size = v;
    return VGPU_RESULT_OK;
}

/* Map fd's size bytes shared into *window, which then owns fd; else `failure`. */
static enum vgpu_result window_map_fd(struct vgpu_window *window, int fd, uint64_t size,
                                      enum vgpu_result failure, const char *what)
{
    void *map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    if (map == MAP_FAILED) {
        return vgpu_result_fail(failure, "cannot map %llu bytes of %s: %m",
                                (unsigned long long)size, what);
    }
    window->base = map;
    window->size = size;
    window->fd = fd;
    return VGPU_RESULT_OK;
}

enum vgpu_result vgpu_window_map(struct vgpu_window *window, const char *root,
                                 const char *address, const struct vgpu_bar *bar)
{
    char path[PATH_MAX];
    enum vgpu_result r;
    uint64_t size = 0;
    struct stat st;
    int fd;

    r = window_size(address, bar, &size);
    if (r != VGPU_RESULT_OK) {
        return r;
    }
    if (vgpu_sysfs_device_path(path, sizeof(path), root, address, WINDOW_RESOURCE) < 0) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, WINDOW_RESOURCE " path of %s is too long",
                                address);
    }
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return vgpu_result_fail(VGPU_RESULT_NO_WINDOW, "%s advertises a data window but "
                                    "has no %s: %m", address, path);
        }
        return vgpu_result_fail(window_errno_result(), "cannot open %s: %m", path);
    }
    if (fstat(fd, &st) < 0) {
        r = vgpu_result_fail(VGPU_RESULT_IO, "cannot stat %s: %m", path);
        goto fail;
    }
    if ((uint64_t)st.st_size != size) {
        r = vgpu_result_fail(VGPU_RESULT_PROTOCOL, "%s: WINDOW_SIZE says %llu bytes, but %s "
                             "is %lld bytes", address, (unsigned long long)size, path,
                             (long long)st.st_size);
        goto fail;
    }
    r = window_map_fd(window, fd, size, window_errno_result(), path);
    if (r == VGPU_RESULT_OK) {
        return r;
    }

fail:
    close(fd);
    return r;
}

/* The seals the mediator needs (SHRINK), and the rest of the QEMU device's. */
#define WINDOW_MEMFD_SEALS (F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)

enum vgpu_result vgpu_window_create(struct vgpu_window *window, uint64_t size)
{
    enum vgpu_result r;
    int fd;

    if (size > SIZE_MAX) {
        return vgpu_result_fail(VGPU_RESULT_IO, "a %llu-byte window does not fit this "
                                "process's address space", (unsigned long long)size);
    }
    fd = memfd_create("vgpu-host-window", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        return vgpu_result_fail(VGPU_RESULT_IO, "cannot create a memfd for the window: %m");
    }
    if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, WINDOW_MEMFD_SEALS) < 0) {
        r = vgpu_result_fail(VGPU_RESULT_IO, "cannot size and seal a %llu-byte window memfd: %m",
                             (unsigned long long)size);
        goto fail;
    }
    r = window_map_fd(window, fd, size, VGPU_RESULT_IO, "the window memfd");
    if (r == VGPU_RESULT_OK) {
        return r;
    }

fail:
    close(fd);
    return r;
}

void vgpu_window_unmap(struct vgpu_window *window)
{
    if (window->base) {
        munmap(window->base, (size_t)window->size);
    }
    if (window->fd >= 0) {
        close(window->fd);
    }
    vgpu_window_init(window);
}
