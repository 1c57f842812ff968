/*
 * The registry keeps one identity per UUID and one UUID per vm_id:
 * re-registering the same identity is a no-op (libvirt's reconnect), a
 * taken vm_id or a changed identity is refused with the VM in the way.
 */
#include <glib.h>

#include "registry.h"
#include "vgpu/regs.h"

static const uint8_t uuid1[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t uuid2[16] = { 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t uuid3[16] = { 3, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static void test_add_lookup_remove(void)
{
    struct registry *reg = registry_new();
    struct registry_vm *other = NULL, *vm, *removed;

    vm = registry_vm_new(uuid1, "web", 'A', VGPU_PRIORITY_HIGH, 7, 0);
    g_assert_cmpint(registry_add(reg, vm, &other), ==, REGISTRY_ADDED);
    g_assert_true(registry_lookup(reg, uuid1) == vm);
    g_assert_true(vm->registered);
    g_assert_cmpstr(vm->uuid_str, ==, "01020304-0506-0708-090a-0b0c0d0e0f10");
    g_assert_null(registry_lookup(reg, uuid2));
    g_assert_cmpuint(registry_count(reg), ==, 1);

    removed = registry_remove(reg, uuid1);
    g_assert_true(removed == vm);
    g_assert_false(removed->registered);
    g_assert_null(registry_lookup(reg, uuid1));
    g_assert_null(registry_remove(reg, uuid1));
    registry_vm_unref(removed);
    /* The vm_id is free again. */
    vm = registry_vm_new(uuid2, "db", 'B', VGPU_PRIORITY_LOW, 7, 0);
    g_assert_cmpint(registry_add(reg, vm, &other), ==, REGISTRY_ADDED);
    registry_free(reg);
}

static void test_idempotent_and_pid(void)
{
    struct registry *reg = registry_new();
    struct registry_vm *other = NULL, *vm = registry_vm_new(uuid1, "web", 'A', 2, 7, 0);

    g_assert_cmpint(registry_add(reg, vm, &other), ==, REGISTRY_ADDED);
    g_assert_cmpint(registry_add(reg, registry_vm_new(uuid1, "web", 'A', 2, 7, 0), &other), ==,
                    REGISTRY_UNCHANGED);
    g_assert_true(other == vm);
    /* The same identity with the pid added fills the pid in. */
    g_assert_cmpint(registry_add(reg, registry_vm_new(uuid1, "web", 'A', 2, 7, 4242), &other), ==,
                    REGISTRY_UNCHANGED);
    g_assert_cmpint(vm->pid, ==, 4242);
    /* Another pid for the same VM is another identity. */
    g_assert_cmpint(registry_add(reg, registry_vm_new(uuid1, "web", 'A', 2, 7, 4243), &other), ==,
                    REGISTRY_CONFLICT);
    g_assert_cmpint(vm->pid, ==, 4242);
    registry_free(reg);
}

static void test_conflicts(void)
{
    struct registry *reg = registry_new();
    struct registry_vm *other = NULL, *web = registry_vm_new(uuid1, "web", 'A', 2, 7, 0);

    registry_add(reg, web, &other);
    g_assert_cmpint(registry_add(reg, registry_vm_new(uuid2, "db", 'B', 0, 7, 0), &other), ==,
                    REGISTRY_VM_ID_TAKEN);
    g_assert_true(other == web);
    g_assert_null(registry_lookup(reg, uuid2));
    g_assert_cmpint(registry_add(reg, registry_vm_new(uuid1, "web", 'B', 2, 7, 0), &other), ==,
                    REGISTRY_CONFLICT);
    g_assert_cmpint(registry_add(reg, registry_vm_new(uuid1, "web", 'A', 1, 7, 0), &other), ==,
                    REGISTRY_CONFLICT);
    g_assert_cmpint(registry_add(reg, registry_vm_new(uuid1, "web", 'A', 2, 8, 0), &other), ==,
                    REGISTRY_CONFLICT);
    g_assert_cmpint(web->pool_id, ==, 'A');
    g_assert_cmpuint(registry_count(reg), ==, 1);
    registry_free(reg);
}

/* The GPU memory quota is part of the identity: another quota is a conflict. */
static void test_quota_is_identity(void)
{
    struct registry *reg = registry_new();
    struct registry_vm *other = NULL, *web = registry_vm_new(uuid1, "web", 'A', 2, 7, 0);
    struct registry_vm *again;

    web->gpu_memory_quota = 8ull << 30;
    g_assert_cmpint(registry_add(reg, web, &other), ==, REGISTRY_ADDED);
    again = registry_vm_new(uuid1, "web", 'A', 2, 7, 0);
    again->gpu_memory_quota = 8ull << 30;
    g_assert_cmpint(registry_add(reg, again, &other), ==, REGISTRY_UNCHANGED);
    again = registry_vm_new(uuid1, "web", 'A', 2, 7, 0);
    again->gpu_memory_quota = 4ull << 30;
    g_assert_cmpint(registry_add(reg, again, &other), ==, REGISTRY_CONFLICT);
    g_assert_true(other == web);
    g_assert_cmpint(registry_add(reg, registry_vm_new(uuid1, "web", 'A', 2, 7, 0), &other), ==,
                    REGISTRY_CONFLICT);
    g_assert_cmpuint(web->gpu_memory_quota, ==, 8ull << 30);
    registry_free(reg);
}

static void test_list_by_vm_id(void)
{
    struct registry *reg = registry_new();
    struct registry_vm *other;
    GPtrArray *list;

    registry_add(reg, registry_vm_new(uuid1, "c", 'A', 0, 30, 0), &other);
    registry_add(reg, registry_vm_new(uuid2, "a", 'A', 0, 10, 0), &other);
    registry_add(reg, registry_vm_new(uuid3, "b", 'B', 0, 20, 0), &other);
    list = registry_list(reg);
    g_assert_cmpuint(list->len, ==, 3);
    g_assert_cmpuint(((struct registry_vm *)g_ptr_array_index(list, 0))->vm_id, ==, 10);
    g_assert_cmpuint(((struct registry_vm *)g_ptr_array_index(list, 1))->vm_id, ==, 20);
    g_assert_cmpuint(((struct registry_vm *)g_ptr_array_index(list, 2))->vm_id, ==, 30);
    g_ptr_array_unref(list);
    registry_free(reg);
}

static void test_reference_outlives_registry(void)
{
    struct registry *reg = registry_new();
    struct registry_vm *other, *vm = registry_vm_new(uuid1, "web", 'A', 2, 7, 0);
    struct registry_vm *held;

    registry_add(reg, vm, &other);
    held = registry_vm_ref(vm);         /* as a queued request holds it */
    registry_free(reg);
    g_assert_false(held->registered);
    g_assert_cmpstr(held->name, ==, "web");
    registry_vm_unref(held);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/registry/add-lookup-remove", test_add_lookup_remove);
    g_test_add_func("/registry/idempotent-and-pid", test_idempotent_and_pid);
    g_test_add_func("/registry/conflicts", test_conflicts);
    g_test_add_func("/registry/quota-is-identity", test_quota_is_identity);
    g_test_add_func("/registry/list-by-vm-id", test_list_by_vm_id);
    g_test_add_func("/registry/reference-outlives-registry", test_reference_outlives_registry);
    return g_test_run();
}
