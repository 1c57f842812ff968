/*
 * A VM's data window at the mediator: the memfd its QEMU sent with the
 * WINDOW wire message, checked and mapped shared.  A device connection
 * holds one reference, each request on the window another, so the mapping
 * outlives a connection that closes while its request runs.  When the last
 * reference goes, the mapping and fd go and the `released` hook tells the
 * backends (which may keep per-window state, e.g. a pinned registration).
 * Any thread.
 */
#ifndef MEDIATOR_WINDOW_H
#define MEDIATOR_WINDOW_H

#include <glib.h>
#include <stdint.h>

#include "vgpu/backend.h"

typedef void (*window_released_fn)(uint64_t window_id, void *data);

struct window {
    gint refcount;
    struct vgpu_backend_window w;   /* what backends see */
    window_released_fn released;
    void *released_data;
};

/*
 * Take fd (closed on failure too) as a window of size bytes (already
 * checked by vgpu_wire_window_decode): it must be a regular file (a memfd)
 * of exactly that size, sealed against shrinking, so that nobody can
 * truncate it under the mapping (the mediator would die of SIGBUS).
 * Returns the window with one reference, or NULL with an error that says
 * what was wrong.
 */
struct window *window_new(int fd, uint64_t size, window_released_fn released,
                          void *released_data, GError **error);

struct window *window_ref(struct window *w);
void window_unref(struct window *w);

#endif /* MEDIATOR_WINDOW_H */
