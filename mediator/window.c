/*
 * Data windows: see window.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "window.h"

static guint64 next_window_id = 1;  /* atomic; ids are never reused */

static gboolean window_fd_usable(int fd, uint64_t size, GError **error)
{
    struct stat st;
    int seals;

    if (fstat(fd, &st) < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot fstat the window's fd: %s", g_strerror(errno));
        return FALSE;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "the window's fd is not a memfd (not a regular file)");
        return FALSE;
    }
    if ((uint64_t)st.st_size != size) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "the window's memfd has %lld bytes, WINDOW announced %" G_GUINT64_FORMAT,
                    (long long)st.st_size, size);
        return FALSE;
    }
    seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "the window's fd is not sealed against shrinking (F_SEAL_SHRINK): "
                    "a truncate under the mapping would crash the mediator");
        return FALSE;
    }
    return TRUE;
}

struct window *window_new(int fd, uint64_t size, window_released_fn released,
                          void *released_data, GError **error)
{
    struct window *w;
    void *base;

    if (!window_fd_usable(fd, size, error)) {
        close(fd);
        return NULL;
    }
    base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot map the window (%" G_GUINT64_FORMAT " bytes): %s", size,
                    g_strerror(errno));
        close(fd);
        return NULL;
    }
    w = g_new0(struct window, 1);
    w->refcount = 1;
    w->w.id = __atomic_fetch_add(&next_window_id, 1, __ATOMIC_RELAXED);
    w->w.fd = fd;
    w->w.base = base;
    w->w.size = size;
    w->released = released;
    w->released_data = released_data;
    return w;
}

struct window *window_ref(struct window *w)
{
    g_atomic_int_inc(&w->refcount);
    return w;
}

void window_unref(struct window *w)
{
    if (!g_atomic_int_dec_and_test(&w->refcount)) {
        return;
    }
    if (w->released) {
        w->released(w->w.id, w->released_data);
    }
    munmap(w->w.base, w->w.size);
    close(w->w.fd);
    g_free(w);
}
