/*
 * What a VM's CUDA worker gave its VM (backend-cuda/vm-objects.c): the
 * lookups that decide whether a batch may name a handle or a device range.
 * Plain C with no CUDA, so it runs on any host; the same checks with a GPU
 * are tests/gpu/cuda-vm-test.c.
 */
#include <glib.h>

#include "vm-objects.h"

static void test_ranges(void)
{
    struct vm_objects o;

    vm_objects_init(&o);
    g_assert_true(vm_range_add(&o, 0x10000, 4096, 0));
    g_assert_true(vm_range_add(&o, 0x30000, 100, 0));
    g_assert_true(vm_range_add(&o, 0x20000, 8, 7));             /* a variable of module 7 */
    g_assert_cmpuint(o.allocated, ==, 4096 + 256);              /* 100 counts as 256 */

    g_assert_true(vm_range_holds(&o, 0x10000, 4096));
    g_assert_true(vm_range_holds(&o, 0x10fff, 1));
    g_assert_true(vm_range_holds(&o, 0x11000 - 16, 0) && vm_range_holds(&o, 0x10000, 0));
    g_assert_false(vm_range_holds(&o, 0x10000, 4097));          /* one past the end */
    g_assert_false(vm_range_holds(&o, 0x11000, 1));
    g_assert_false(vm_range_holds(&o, 0x11000, 0));
    g_assert_false(vm_range_holds(&o, 0xffff, 2));              /* one before */
    g_assert_false(vm_range_holds(&o, 0x10000, UINT64_MAX));
    g_assert_false(vm_range_holds(&o, UINT64_MAX, 1));
    g_assert_false(vm_range_holds(&o, 0, 1));
    g_assert_false(vm_range_holds(&o, 0x10f00, 0x30000));       /* spans two ranges */

    /* no overlap, no empty or wrapping range */
    g_assert_false(vm_range_add(&o, 0x10800, 16, 0));
    g_assert_false(vm_range_add(&o, 0xff00, 0x200, 0));
    g_assert_false(vm_range_add(&o, 0x40000, 0, 0));
    g_assert_false(vm_range_add(&o, UINT64_MAX - 8, 16, 0));

    /* allocations free by their base only; variables are not allocations */
    g_assert_null(vm_range_allocation(&o, 0x10010));
    g_assert_null(vm_range_allocation(&o, 0x20000));
    g_assert_nonnull(vm_range_variable(&o, 0x20000, 7));
    g_assert_null(vm_range_variable(&o, 0x20000, 8));
    g_assert_null(vm_range_variable(&o, 0x10000, 0));
    vm_range_remove(&o, vm_range_allocation(&o, 0x10000));
    g_assert_cmpuint(o.allocated, ==, 256);
    g_assert_false(vm_range_holds(&o, 0x10000, 1));
    vm_range_remove_module(&o, 7);
    g_assert_false(vm_range_holds(&o, 0x20000, 1));
    g_assert_true(vm_range_holds(&o, 0x30000, 100));
    vm_objects_clear(&o);
    g_assert_false(vm_range_holds(&o, 0x30000, 1));
    g_assert_cmpuint(o.allocated, ==, 0);
    vm_objects_clear(&o);
}

static void test_handles(void)
{
    struct vm_objects o;
    uint64_t m, f1, f2, s, stale;
    int module_object, function_object;

    vm_objects_init(&o);
    m = vm_object_add(&o, VM_MODULE, &module_object, 0);
    f1 = vm_object_add(&o, VM_FUNCTION, &function_object, m);
    f2 = vm_object_add(&o, VM_FUNCTION, &function_object, m);
    s = vm_object_add(&o, VM_STREAM, NULL, 0);
    g_assert_cmpuint(m, !=, 0);
    g_assert_cmpuint(f1, !=, f2);
    g_assert_true(vm_object_find(&o, VM_MODULE, m)->cu == &module_object);
    g_assert_cmpuint(vm_object_find(&o, VM_FUNCTION, f2)->owner, ==, m);

    /* a handle of one kind names nothing of another, nor does 0 or a guess */
    g_assert_null(vm_object_find(&o, VM_FUNCTION, m));
    g_assert_null(vm_object_find(&o, VM_STREAM, f1));
    g_assert_null(vm_object_find(&o, VM_EVENT, s));
    g_assert_null(vm_object_find(&o, VM_STREAM, 0));
    g_assert_null(vm_object_find(&o, VM_STREAM, s + 1));

    /* removed and reset handles stay dead: numbers are never reused */
    vm_object_remove(&o, VM_FUNCTION, vm_object_find(&o, VM_FUNCTION, f1));
    g_assert_null(vm_object_find(&o, VM_FUNCTION, f1));
    g_assert_nonnull(vm_object_find(&o, VM_FUNCTION, f2));
    stale = s;
    vm_objects_clear(&o);
    g_assert_null(vm_object_find(&o, VM_STREAM, stale));
    s = vm_object_add(&o, VM_STREAM, NULL, 0);
    g_assert_cmpuint(s, !=, stale);
    vm_objects_clear(&o);
}

static void test_bounds(void)
{
    struct vm_objects o;
    unsigned added = 0;

    vm_objects_init(&o);
    while (vm_object_add(&o, VM_EVENT, NULL, 0) != 0) {
        added++;
        g_assert_cmpuint(added, <=, VM_OBJECTS_MAX);
    }
    g_assert_cmpuint(added, ==, VM_OBJECTS_MAX);
    g_assert_cmpuint(vm_alloc_charge(1), ==, VM_ALLOC_ALIGN);
    g_assert_cmpuint(vm_alloc_charge(UINT64_MAX), ==, UINT64_MAX);
    vm_objects_clear(&o);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vm-objects/ranges", test_ranges);
    g_test_add_func("/vm-objects/handles", test_handles);
    g_test_add_func("/vm-objects/bounds", test_bounds);
    return g_test_run();
}
