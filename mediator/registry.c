/*
 * The registry of VMs: see registry.h.
 */
#include <string.h>

#include "registry.h"

struct registry {
    GHashTable *by_uuid;        /* uuid_str -> registry_vm (one reference) */
    GHashTable *by_vm_id;       /* vm_id -> registry_vm (borrowed) */
};

struct registry *registry_new(void)
{
    struct registry *reg = g_new0(struct registry, 1);

    reg->by_uuid = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify)registry_vm_unref);
    reg->by_vm_id = g_hash_table_new(g_direct_hash, g_direct_equal);
    return reg;
}

void registry_free(struct registry *reg)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, reg->by_uuid);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        ((struct registry_vm *)value)->registered = false;
    }
    g_hash_table_destroy(reg->by_vm_id);
    g_hash_table_destroy(reg->by_uuid);
    g_free(reg);
}

struct registry_vm *registry_vm_new(const uint8_t uuid[16], const char *name, uint32_t pool_id,
                                    uint32_t priority, uint32_t vm_id, pid_t pid)
{
    struct registry_vm *vm = g_new0(struct registry_vm, 1);

    vm->refcount = 1;
    memcpy(vm->uuid, uuid, sizeof(vm->uuid));
    vgpu_uuid_format(uuid, vm->uuid_str);
    vm->name = g_strdup(name);
    vm->pool_id = pool_id;
    vm->priority = priority;
    vm->vm_id = vm_id;
    vm->pid = pid;
    return vm;
}

struct registry_vm *registry_vm_ref(struct registry_vm *vm)
{
    g_atomic_int_inc(&vm->refcount);
    return vm;
}

void registry_vm_unref(struct registry_vm *vm)
{
    if (vm && g_atomic_int_dec_and_test(&vm->refcount)) {
        g_free(vm->name);
        g_free(vm);
    }
}

static bool same_identity(const struct registry_vm *a, const struct registry_vm *b)
{
    return a->pool_id == b->pool_id && a->priority == b->priority && a->vm_id == b->vm_id &&
           a->gpu_memory_quota == b->gpu_memory_quota && g_strcmp0(a->name, b->name) == 0 &&
           (a->pid == 0 || b->pid == 0 || a->pid == b->pid);
}

enum registry_result registry_add(struct registry *reg, struct registry_vm *vm,
                                  struct registry_vm **other)
{
    struct registry_vm *old = g_hash_table_lookup(reg->by_uuid, vm->uuid_str);
    struct registry_vm *holder;

    if (old) {
        *other = old;
        if (!same_identity(old, vm)) {
            registry_vm_unref(vm);
            return REGISTRY_CONFLICT;
        }
        if (old->pid == 0) {
            old->pid = vm->pid;
        }
        registry_vm_unref(vm);
        return REGISTRY_UNCHANGED;
    }
    holder = g_hash_table_lookup(reg->by_vm_id, GUINT_TO_POINTER(vm->vm_id));
    if (holder) {
        *other = holder;
        registry_vm_unref(vm);
        return REGISTRY_VM_ID_TAKEN;
    }
    vm->registered = true;
    g_hash_table_insert(reg->by_uuid, vm->uuid_str, vm);
    g_hash_table_insert(reg->by_vm_id, GUINT_TO_POINTER(vm->vm_id), vm);
    return REGISTRY_ADDED;
}

struct registry_vm *registry_remove(struct registry *reg, const uint8_t uuid[16])
{
    char key[VGPU_UUID_STRING_LEN + 1];
    gpointer stored_key, value;
    struct registry_vm *vm;

    vgpu_uuid_format(uuid, key);
    if (!g_hash_table_steal_extended(reg->by_uuid, key, &stored_key, &value)) {
        return NULL;
    }
    vm = value;
    g_hash_table_remove(reg->by_vm_id, GUINT_TO_POINTER(vm->vm_id));
    vm->registered = false;
    return vm;
}

struct registry_vm *registry_lookup(struct registry *reg, const uint8_t uuid[16])
{
    char key[VGPU_UUID_STRING_LEN + 1];

    vgpu_uuid_format(uuid, key);
    return g_hash_table_lookup(reg->by_uuid, key);
}

unsigned registry_count(struct registry *reg)
{
    return g_hash_table_size(reg->by_uuid);
}

static gint compare_vm_id(gconstpointer a, gconstpointer b)
{
    const struct registry_vm *x = *(struct registry_vm *const *)a;
    const struct registry_vm *y = *(struct registry_vm *const *)b;

    return x->vm_id < y->vm_id ? -1 : x->vm_id > y->vm_id;
}

GPtrArray *registry_list(struct registry *reg)
{
    GPtrArray *list = g_ptr_array_new();
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, reg->by_uuid);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        g_ptr_array_add(list, value);
    }
    g_ptr_array_sort(list, compare_vm_id);
    return list;
}
