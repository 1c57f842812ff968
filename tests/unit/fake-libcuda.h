/*
 * A stand-in for the CUDA driver (libcuda.so.1) for the unit tests of a
 * VM's CUDA worker (tests/unit/vm-calls-test.c): the driver API calls that
 * backend-cuda/vm-calls.c makes, on host memory.  Device memory is an
 * arena of host memory at a fixed fake address; copies and memsets move
 * real bytes, kernels run nothing.  Modules know two kernels, add_one(int *,
 * int) and scale_and_count(char, double, int *, int), and one variable,
 * counter (4 bytes).  Every call is counted, so a test can tell that a
 * refused call never reached the driver.
 */
#ifndef FAKE_LIBCUDA_H
#define FAKE_LIBCUDA_H

#include <stdint.h>

#define FAKE_LIBCUDA_BASE       0x7f0000000000ull   /* the arena's device address */
#define FAKE_LIBCUDA_ARENA      (64u << 20)
#define FAKE_LIBCUDA_MEMORY     (80ull << 30)       /* what cuMemGetInfo reports */

struct fake_libcuda {
    unsigned calls;             /* driver calls made */
    unsigned launches;
    unsigned busy_queries;      /* the next stream/event queries answer NOT_READY */
    uint64_t busy_until_ns;     /* and all of them until then (CLOCK_MONOTONIC) */
    unsigned fault_queries;     /* then this many answer ILLEGAL_ADDRESS (0: none) */
    uint64_t arena_used;
};

extern struct fake_libcuda fake_libcuda;

void fake_libcuda_reset(void);
/* The arena's bytes at a fake device address, or NULL outside it. */
unsigned char *fake_libcuda_bytes(uint64_t address, uint64_t len);

#endif /* FAKE_LIBCUDA_H */
