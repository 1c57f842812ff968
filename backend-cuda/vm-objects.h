/*
 * What a VM's CUDA worker gave its VM: device memory ranges (allocations
 * and module variables) and handles (modules, functions, streams, events).
 * Every handle and device range a batch names is looked up here before any
 * CUDA call sees it: a VM can only ever name its own.  Plain C, no CUDA
 * types (the CUDA objects are kept as opaque pointers), so that the checks
 * are unit-tested without a GPU (tests/unit/vm-objects-test.c).
 *
 * Handles are the worker's own numbers, never CUDA's pointers: kind in the
 * top 16 bits, a counter below, never reused while the worker runs, so a
 * stale or forged handle names nothing.  Device ranges are CUDA's real
 * addresses (kernels take them as arguments); they lie in the VM's own
 * context, which no other VM's worker shares.
 */
#ifndef VGPU_VM_OBJECTS_H
#define VGPU_VM_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on what one VM may hold, so that a guest cannot bloat its worker. */
#define VM_RANGES_MAX       (1u << 20)
#define VM_OBJECTS_MAX      (1u << 16)      /* of each kind */
#define VM_ALLOC_ALIGN      256u            /* allocations count in these against the quota */

enum vm_kind { VM_MODULE, VM_FUNCTION, VM_STREAM, VM_EVENT, VM_KINDS };

struct vm_object {
    uint64_t handle;
    void *cu;                   /* the CUDA object */
    uint64_t owner;             /* a function's module; 0 otherwise */
    uint64_t flags;             /* an event's creation flags */
    uint32_t param_count;       /* a function's parameters, (offset, size) pairs in layout */
    uint32_t *layout;
};

struct vm_range {
    uint64_t base, size;
    uint64_t module;            /* the module of a variable; 0: an allocation */
};

struct vm_table {
    struct vm_object *items;    /* sorted by handle */
    size_t count, cap;
};

struct vm_objects {
    struct vm_range *ranges;    /* sorted by base, never overlapping */
    size_t range_count, range_cap;
    uint64_t allocated;         /* bytes of allocations, each rounded up to VM_ALLOC_ALIGN */
    struct vm_table tables[VM_KINDS];
    uint64_t next_handle;
};

void vm_objects_init(struct vm_objects *o);
/* Forget everything (the caller has released the CUDA objects). */
void vm_objects_clear(struct vm_objects *o);

/* Bytes an allocation of size counts against the quota. */
uint64_t vm_alloc_charge(uint64_t size);

/* Add a range; false when it overlaps one or the table is full. */
bool vm_range_add(struct vm_objects *o, uint64_t base, uint64_t size, uint64_t module);
/* The allocation that starts at base (not a variable), or NULL. */
struct vm_range *vm_range_allocation(struct vm_objects *o, uint64_t base);
/* The variable of module that starts at base, or NULL. */
struct vm_range *vm_range_variable(struct vm_objects *o, uint64_t base, uint64_t module);
/* Remove a range the two above returned. */
void vm_range_remove(struct vm_objects *o, struct vm_range *r);
/* Remove every variable of module. */
void vm_range_remove_module(struct vm_objects *o, uint64_t module);
/* Whether [p, p + len) lies inside one range; len 0 too (p inside it). */
bool vm_range_holds(const struct vm_objects *o, uint64_t p, uint64_t len);

/* A new handle for cu, or 0 when the kind's table is full. */
uint64_t vm_object_add(struct vm_objects *o, enum vm_kind kind, void *cu, uint64_t owner);
struct vm_object *vm_object_find(struct vm_objects *o, enum vm_kind kind, uint64_t handle);
/* Remove one (its layout is freed). */
void vm_object_remove(struct vm_objects *o, enum vm_kind kind, struct vm_object *obj);

#endif /* VGPU_VM_OBJECTS_H */
