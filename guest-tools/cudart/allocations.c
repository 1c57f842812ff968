/*
 * The device memory this program may name: what cudaMalloc returned and
 * the variables the host located, kept sorted by base.  Copies, memsets
 * and frees are checked against it before they are sent, so a pointer
 * the host never gave this program is refused in the guest; the host
 * checks again (docs/cuda.md).
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

struct device_range {
    uint64_t base, size;
    bool freeable;              /* an allocation, not a variable */
};

static struct device_range *ranges;
static size_t count, cap;

/* The index of the first range whose base is >= p. */
static size_t range_search(uint64_t p)
{
    size_t lo = 0, hi = count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (ranges[mid].base < p) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

void cudart_device_range_add(uint64_t base, uint64_t size, bool freeable)
{
    size_t i;

    if (count == cap) {
        size_t new_cap = cap ? 2 * cap : 64;
        struct device_range *grown = realloc(ranges, new_cap * sizeof(*grown));

        if (!grown) {
            return;     /* unknown to the guest: later uses are refused, never wrong */
        }
        ranges = grown;
        cap = new_cap;
    }
    i = range_search(base);
    memmove(ranges + i + 1, ranges + i, (count - i) * sizeof(*ranges));
    ranges[i] = (struct device_range){ base, size, freeable };
    count++;
}

bool cudart_device_range_remove(uint64_t base)
{
    size_t i = range_search(base);

    if (i == count || ranges[i].base != base || !ranges[i].freeable) {
        return false;
    }
    memmove(ranges + i, ranges + i + 1, (count - i - 1) * sizeof(*ranges));
    count--;
    return true;
}

bool cudart_device_range_holds(uint64_t p, uint64_t len)
{
    size_t i = range_search(p);
    const struct device_range *r;

    /* The range that starts at p, else the one before it. */
    if (i == count || ranges[i].base != p) {
        if (i == 0) {
            return false;
        }
        i--;
    }
    r = &ranges[i];
    return p >= r->base && p - r->base <= r->size && len <= r->size - (p - r->base);
}

void cudart_device_ranges_clear(void)
{
    count = 0;
}
