/*
 * The main loop's poll, spinning: after activity it polls without blocking
 * for up to spin-us before it sleeps in poll(2).  A device's next request,
 * one round trip after the last completion, then finds the main thread
 * awake, and the request path costs one thread wake-up (the guest's) instead
 * of two.  Idle, the daemon sleeps as usual.
 */
#ifndef MEDIATOR_SPIN_POLL_H
#define MEDIATOR_SPIN_POLL_H

#include <glib.h>

/* Make ctx (NULL: the default context) spin for spin_us after activity; 0 never spins. */
void spin_poll_install(GMainContext *ctx, unsigned spin_us);

#endif /* MEDIATOR_SPIN_POLL_H */
