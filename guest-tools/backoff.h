/*
 * Adaptive waiting for a condition that someone else makes true (STATUS
 * leaving BUSY, a lock coming free): spin first so that a quick completion
 * is seen within microseconds, then yield the CPU, then sleep with growing
 * intervals so that a long queue at the mediator does not burn a CPU.
 */
#ifndef VGPU_GUEST_BACKOFF_H
#define VGPU_GUEST_BACKOFF_H

#include <stdint.h>

#define VGPU_BACKOFF_SPIN_NS        50000u      /* spin for the first 50 us */
#define VGPU_BACKOFF_YIELD_NS       200000u     /* then sched_yield() until 200 us */
#define VGPU_BACKOFF_SLEEP_MIN_NS   10000u      /* then sleep 10 us, doubling... */
#define VGPU_BACKOFF_SLEEP_MAX_NS   1000000u    /* ...up to 1 ms */

struct vgpu_backoff {
    uint64_t start_ns;          /* when the wait began */
    uint64_t sleep_ns;          /* the next sleep, once sleeping */
};

void vgpu_backoff_init(struct vgpu_backoff *backoff);

/* Pause once, as the time waited so far calls for; never past deadline_ns. */
void vgpu_backoff_pause(struct vgpu_backoff *backoff, uint64_t deadline_ns);

#endif /* VGPU_GUEST_BACKOFF_H */
