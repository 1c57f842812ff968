/*
 * The VM's objects and ranges: see vm-objects.h.  Sorted arrays with binary
 * search: lookups on every call are cheap, and the tables are bounded.
 */
#include <stdlib.h>
#include <string.h>

#include "vm-objects.h"

#define HANDLE_KIND_SHIFT   48

void vm_objects_init(struct vm_objects *o)
{
    memset(o, 0, sizeof(*o));
    o->next_handle = 1;
}

void vm_objects_clear(struct vm_objects *o)
{
    uint64_t next = o->next_handle;     /* handles stay unique for the worker's life */

    for (int k = 0; k < VM_KINDS; k++) {
        for (size_t i = 0; i < o->tables[k].count; i++) {
            free(o->tables[k].items[i].layout);
        }
        free(o->tables[k].items);
    }
    free(o->ranges);
    vm_objects_init(o);
    o->next_handle = next;
}

uint64_t vm_alloc_charge(uint64_t size)
{
    return size > UINT64_MAX - (VM_ALLOC_ALIGN - 1) ? UINT64_MAX
                                                    : (size + VM_ALLOC_ALIGN - 1) & ~(uint64_t)(VM_ALLOC_ALIGN - 1);
}

/* The index of the first range whose base is above p. */
static size_t range_upper(const struct vm_objects *o, uint64_t p)
{
    size_t lo = 0, hi = o->range_count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (o->ranges[mid].base <= p) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

bool vm_range_add(struct vm_objects *o, uint64_t base, uint64_t size, uint64_t module)
{
    size_t at = range_upper(o, base);

    if (size == 0 || base + size < base || o->range_count >= VM_RANGES_MAX) {
        return false;
    }
    if ((at > 0 && o->ranges[at - 1].base + o->ranges[at - 1].size > base) ||
        (at < o->range_count && o->ranges[at].base < base + size)) {
        return false;
    }
    if (o->range_count == o->range_cap) {
        size_t cap = o->range_cap ? 2 * o->range_cap : 64;
        struct vm_range *grown = realloc(o->ranges, cap * sizeof(*grown));

        if (!grown) {
            return false;
        }
        o->ranges = grown;
        o->range_cap = cap;
    }
    memmove(&o->ranges[at + 1], &o->ranges[at], (o->range_count - at) * sizeof(*o->ranges));
    o->ranges[at] = (struct vm_range){ base, size, module };
    o->range_count++;
    if (module == 0) {
        o->allocated += vm_alloc_charge(size);
    }
    return true;
}

/* The range that starts exactly at base, or NULL. */
static struct vm_range *range_at(struct vm_objects *o, uint64_t base)
{
    size_t at = range_upper(o, base);

    return at > 0 && o->ranges[at - 1].base == base ? &o->ranges[at - 1] : NULL;
}

struct vm_range *vm_range_allocation(struct vm_objects *o, uint64_t base)
{
    struct vm_range *r = range_at(o, base);

    return r && r->module == 0 ? r : NULL;
}

struct vm_range *vm_range_variable(struct vm_objects *o, uint64_t base, uint64_t module)
{
    struct vm_range *r = range_at(o, base);

    return r && module != 0 && r->module == module ? r : NULL;
}

void vm_range_remove(struct vm_objects *o, struct vm_range *r)
{
    size_t at = (size_t)(r - o->ranges);

    if (r->module == 0) {
        o->allocated -= vm_alloc_charge(r->size);
    }
    memmove(r, r + 1, (o->range_count - at - 1) * sizeof(*r));
    o->range_count--;
}

void vm_range_remove_module(struct vm_objects *o, uint64_t module)
{
    size_t kept = 0;

    for (size_t i = 0; i < o->range_count; i++) {
        if (o->ranges[i].module != module || module == 0) {
            o->ranges[kept++] = o->ranges[i];
        }
    }
    o->range_count = kept;
}

bool vm_range_holds(const struct vm_objects *o, uint64_t p, uint64_t len)
{
    size_t at = range_upper(o, p);
    const struct vm_range *r;

    if (at == 0) {
        return false;
    }
    r = &o->ranges[at - 1];
    return p - r->base < r->size && len <= r->size - (p - r->base);
}

/* The index of handle in t, or where it would go. */
static size_t object_index(const struct vm_table *t, uint64_t handle)
{
    size_t lo = 0, hi = t->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (t->items[mid].handle < handle) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

uint64_t vm_object_add(struct vm_objects *o, enum vm_kind kind, void *cu, uint64_t owner)
{
    struct vm_table *t = &o->tables[kind];

    if (t->count >= VM_OBJECTS_MAX) {
        return 0;
    }
    if (t->count == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        struct vm_object *grown = realloc(t->items, cap * sizeof(*grown));

        if (!grown) {
            return 0;
        }
        t->items = grown;
        t->cap = cap;
    }
    /* increasing handles: appending keeps the table sorted */
    t->items[t->count] = (struct vm_object){
        .handle = ((uint64_t)(kind + 1) << HANDLE_KIND_SHIFT) | o->next_handle++,
        .cu = cu,
        .owner = owner,
    };
    return t->items[t->count++].handle;
}

struct vm_object *vm_object_find(struct vm_objects *o, enum vm_kind kind, uint64_t handle)
{
    struct vm_table *t = &o->tables[kind];
    size_t at = object_index(t, handle);

    return at < t->count && t->items[at].handle == handle ? &t->items[at] : NULL;
}

void vm_object_remove(struct vm_objects *o, enum vm_kind kind, struct vm_object *obj)
{
    struct vm_table *t = &o->tables[kind];
    size_t at = (size_t)(obj - t->items);

    free(obj->layout);
    memmove(obj, obj + 1, (t->count - at - 1) * sizeof(*obj));
    t->count--;
}
