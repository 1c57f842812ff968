/*
 * Spin, yield, sleep: see backoff.h.
 */
#include <sched.h>
#include <time.h>

#include "backoff.h"
#include "clock.h"

void vgpu_backoff_init(struct vgpu_backoff *backoff)
{
    backoff->start_ns = vgpu_clock_now_ns();
    backoff->sleep_ns = VGPU_BACKOFF_SLEEP_MIN_NS;
}

static void backoff_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

void vgpu_backoff_pause(struct vgpu_backoff *backoff, uint64_t deadline_ns)
{
    uint64_t now = vgpu_clock_now_ns();
    uint64_t waited = now - backoff->start_ns;
    uint64_t sleep_ns;
    struct timespec ts;

    if (waited < VGPU_BACKOFF_SPIN_NS) {
        backoff_cpu_relax();
        return;
    }
    if (waited < VGPU_BACKOFF_YIELD_NS) {
        sched_yield();
        return;
    }
    if (now >= deadline_ns) {
        return;
    }
    sleep_ns = backoff->sleep_ns;
    if (sleep_ns > deadline_ns - now) {
        sleep_ns = deadline_ns - now;
    }
    ts = vgpu_clock_timespec(sleep_ns);
    nanosleep(&ts, NULL);   /* EINTR: the caller checks again, which is all we want */
    if (backoff->sleep_ns < VGPU_BACKOFF_SLEEP_MAX_NS) {
        backoff->sleep_ns *= 2;
        if (backoff->sleep_ns > VGPU_BACKOFF_SLEEP_MAX_NS) {
            backoff->sleep_ns = VGPU_BACKOFF_SLEEP_MAX_NS;
        }
    }
}
