/*
 * The real vgpu-mediatord for device tests that go past the fake one: it
 * runs from the build tree with its runtime dir in a private temp dir (the
 * dir a QEMU of vq_start() connects to), one cpu pool A, and a VM
 * registered for the given UUID.
 */
#ifndef REAL_MEDIATOR_H
#define REAL_MEDIATOR_H

#include <glib.h>

typedef struct {
    char *dir;          /* runtime dir: vq_start(dir, ...) connects here */
    GPid pid;
} RealMediator;

/* Start it with pool A's extra lines (e.g. "service-time-us=200000\n" or ""), register uuid. */
void rm_start(RealMediator *m, const char *pool_lines, const char *uuid);

/* SIGTERM, reap, remove the dir (KEEP_TMP keeps it). */
void rm_stop(RealMediator *m);

#endif /* REAL_MEDIATOR_H */
