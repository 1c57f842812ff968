/*
 * BAR0 mapping and word-wise buffer copies: see bar.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bar.h"
#include "result.h"

static enum vgpu_result bar_errno_result(void)
{
    return errno == EACCES || errno == EPERM ? VGPU_RESULT_PERMISSION : VGPU_RESULT_IO;
}

enum vgpu_result vgpu_bar_map(struct vgpu_bar *bar, const char *path)
{
    enum vgpu_result r;
    struct stat st;
    void *map;

    bar->regs = NULL;
    bar->fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
    if (bar->fd < 0) {
        return vgpu_result_fail(errno == ENOENT ? VGPU_RESULT_NO_DEVICE : bar_errno_result(),
                                "cannot open %s: %m", path);
    }
    if (fstat(bar->fd, &st) < 0) {
        r = vgpu_result_fail(VGPU_RESULT_IO, "cannot stat %s: %m", path);
        goto fail;
    }
    if (st.st_size < VGPU_BAR0_SIZE) {
        r = vgpu_result_fail(VGPU_RESULT_IO, "%s is %lld bytes, BAR0 of vgpu-stub is %d",
                             path, (long long)st.st_size, VGPU_BAR0_SIZE);
        goto fail;
    }
    map = mmap(NULL, VGPU_BAR0_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, bar->fd, 0);
    if (map == MAP_FAILED) {
        r = vgpu_result_fail(bar_errno_result(), "cannot map %s: %m", path);
        goto fail;
    }
    bar->regs = map;
    return VGPU_RESULT_OK;

fail:
    close(bar->fd);
    bar->fd = -1;
    return r;
}

void vgpu_bar_unmap(struct vgpu_bar *bar)
{
    if (bar->regs) {
        munmap((void *)bar->regs, VGPU_BAR0_SIZE);
        bar->regs = NULL;
    }
    if (bar->fd >= 0) {
        close(bar->fd);
        bar->fd = -1;
    }
}

void vgpu_bar_write_bytes(const struct vgpu_bar *bar, uint32_t offset, const void *bytes, size_t len)
{
    const unsigned char *in = bytes;

    for (size_t done = 0; done < len; done += 4) {
        uint32_t word = 0;      /* the last word's missing bytes are 0 */
        size_t n = len - done < 4 ? len - done : 4;

        memcpy(&word, in + done, n);
        bar->regs[(offset + done) / 4] = word;  /* bytes keep their order: no swap */
    }
}

void vgpu_bar_read_bytes(const struct vgpu_bar *bar, uint32_t offset, void *bytes, size_t len)
{
    unsigned char *out = bytes;

    for (size_t done = 0; done < len; done += 4) {
        uint32_t word = bar->regs[(offset + done) / 4];
        size_t n = len - done < 4 ? len - done : 4;

        memcpy(out + done, &word, n);
    }
}
