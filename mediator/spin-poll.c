/*
 * The spinning main-loop poll: see spin-poll.h.  One main loop per process,
 * so its state is the module's.
 */
#include "vgpu/cpu-relax.h"
#include "spin-poll.h"

static gint64 spin_window_us;   /* spin this long after the last activity */
static gint64 last_active_us;   /* monotonic time poll last returned events */

static gint spin_poll(GPollFD *fds, guint nfds, gint timeout_ms)
{
    gint64 now = g_get_monotonic_time();
    gint64 end = last_active_us + spin_window_us;
    gint ready;

    if (timeout_ms >= 0 && now + (gint64)timeout_ms * 1000 < end) {
        end = now + (gint64)timeout_ms * 1000;      /* never delay a timer */
    }
    while (now < end) {
        ready = g_poll(fds, nfds, 0);
        if (ready != 0) {
            last_active_us = ready > 0 ? now : last_active_us;
            return ready;
        }
        vgpu_cpu_relax();
        now = g_get_monotonic_time();
    }
    ready = g_poll(fds, nfds, timeout_ms);
    if (ready > 0) {
        last_active_us = g_get_monotonic_time();
    }
    return ready;
}

void spin_poll_install(GMainContext *ctx, unsigned spin_us)
{
    if (spin_us == 0) {
        return;
    }
    spin_window_us = spin_us;
    g_main_context_set_poll_func(ctx, spin_poll);
}
