/*
 * The registry of VMs: UUID -> name, pool, priority, vm_id, GPU memory quota
 * and QEMU pid, as
 * the libvirt hook or `vgpuctl register` gave them (docs/architecture.md, "Who decides pool, priority and vm_id").  The
 * mediator schedules by this registry, never by what a device claims.
 *
 * Owned by the main thread.  A registry_vm is reference counted: requests
 * in the queue or on a unit keep theirs after the VM is unregistered.
 */
#ifndef MEDIATOR_REGISTRY_H
#define MEDIATOR_REGISTRY_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "stats.h"
#include "vgpu/identity.h"
#include "vgpu/paths.h"


struct registry_vm {
    gint refcount;
    uint8_t uuid[16];
    char uuid_str[VGPU_UUID_STRING_LEN + 1];   /* lower case */
    char *name;                 /* domain name, for messages */
    uint32_t pool_id;           /* 'A'..'Z' */
    uint32_t priority;          /* enum vgpu_priority */
    uint32_t vm_id;             /* 1..VGPU_VM_ID_MAX, unique among registered VMs */
    uint64_t gpu_memory_quota;  /* bytes the VM may hold on a GPU; 0: no quota */
    pid_t pid;                  /* QEMU's pid, 0 while unknown */
    bool registered;            /* false once unregistered */
    unsigned queued;            /* requests in the queue (the scheduler's lock guards it) */
    struct stats_counters stats;/* stats_lock() guards it */
    struct stats_cuda cuda;     /* its CUDA work; stats_lock() guards it */
};

enum registry_result {
    REGISTRY_ADDED,             /* a new VM */
    REGISTRY_UNCHANGED,         /* the same UUID with the same identity: nothing to do */
    REGISTRY_VM_ID_TAKEN,       /* another UUID holds the vm_id (*other says which) */
    REGISTRY_CONFLICT,          /* the UUID is registered with another identity (*other) */
};

struct registry;

struct registry *registry_new(void);
void registry_free(struct registry *reg);

/*
 * A VM record with a reference, not in any registry (registry_add takes it).
 * Its gpu_memory_quota is 0: set it before registry_add.
 */
struct registry_vm *registry_vm_new(const uint8_t uuid[16], const char *name, uint32_t pool_id,
                                    uint32_t priority, uint32_t vm_id, pid_t pid);
struct registry_vm *registry_vm_ref(struct registry_vm *vm);
void registry_vm_unref(struct registry_vm *vm);

/*
 * Register vm (the registry takes the caller's reference on ADDED and drops
 * it otherwise).  *other gets the VM that caused UNCHANGED, VM_ID_TAKEN or
 * CONFLICT (borrowed).  On UNCHANGED a pid given in vm updates a pid of 0.
 */
enum registry_result registry_add(struct registry *reg, struct registry_vm *vm,
                                  struct registry_vm **other);

/* Remove a VM; returns the registry's reference (caller unrefs), NULL if unknown. */
struct registry_vm *registry_remove(struct registry *reg, const uint8_t uuid[16]);

/* Borrowed; NULL when the UUID is not registered. */
struct registry_vm *registry_lookup(struct registry *reg, const uint8_t uuid[16]);

unsigned registry_count(struct registry *reg);

/* The registered VMs ordered by vm_id (borrowed; g_ptr_array_unref the array). */
GPtrArray *registry_list(struct registry *reg);

#endif /* MEDIATOR_REGISTRY_H */
