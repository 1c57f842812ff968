/*
 * Monotonic time in nanoseconds, for deadlines and latencies.
 */
#ifndef VGPU_GUEST_CLOCK_H
#define VGPU_GUEST_CLOCK_H

#include <stdint.h>
#include <time.h>

#define VGPU_NS_PER_US  1000ull
#define VGPU_NS_PER_MS  1000000ull
#define VGPU_NS_PER_SEC 1000000000ull

static inline uint64_t vgpu_clock_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * VGPU_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline struct timespec vgpu_clock_timespec(uint64_t ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(ns / VGPU_NS_PER_SEC),
        .tv_nsec = (long)(ns % VGPU_NS_PER_SEC),
    };

    return ts;
}

#endif /* VGPU_GUEST_CLOCK_H */
