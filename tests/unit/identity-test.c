/*
 * Identity text parses exactly the documented forms and nothing else.
 */
#include <glib.h>

#include "vgpu/identity.h"
#include "vgpu/regs.h"

static void test_priorities(void)
{
    uint32_t p = 99;

    g_assert_true(vgpu_priority_parse("low", &p));
    g_assert_cmpuint(p, ==, VGPU_PRIORITY_LOW);
    g_assert_true(vgpu_priority_parse("medium", &p));
    g_assert_cmpuint(p, ==, VGPU_PRIORITY_MEDIUM);
    g_assert_true(vgpu_priority_parse("high", &p));
    g_assert_cmpuint(p, ==, VGPU_PRIORITY_HIGH);
    g_assert_false(vgpu_priority_parse("High", &p));
    g_assert_false(vgpu_priority_parse("urgent", &p));
    g_assert_false(vgpu_priority_parse("", &p));
    g_assert_cmpstr(vgpu_priority_name(VGPU_PRIORITY_HIGH), ==, "high");
    g_assert_null(vgpu_priority_name(3));
}

static void test_pools(void)
{
    uint32_t pool = 0;

    g_assert_true(vgpu_pool_parse("A", &pool));
    g_assert_cmpuint(pool, ==, 0x41);
    g_assert_true(vgpu_pool_parse("Z", &pool));
    g_assert_cmpuint(pool, ==, 0x5a);
    g_assert_false(vgpu_pool_parse("a", &pool));
    g_assert_false(vgpu_pool_parse("AB", &pool));
    g_assert_false(vgpu_pool_parse("", &pool));
    g_assert_false(vgpu_pool_parse("1", &pool));
}

static void test_vm_ids(void)
{
    uint32_t id = 0;

    g_assert_true(vgpu_vm_id_parse("7", &id));
    g_assert_cmpuint(id, ==, 7);
    g_assert_true(vgpu_vm_id_parse("2147483647", &id));
    g_assert_cmpuint(id, ==, VGPU_VM_ID_MAX);
    g_assert_false(vgpu_vm_id_parse("2147483648", &id));
    g_assert_false(vgpu_vm_id_parse("99999999999999999999999", &id));
    g_assert_false(vgpu_vm_id_parse("0", &id));
    g_assert_false(vgpu_vm_id_parse("07", &id));
    g_assert_false(vgpu_vm_id_parse("-1", &id));
    g_assert_false(vgpu_vm_id_parse(" 7", &id));
    g_assert_false(vgpu_vm_id_parse("7x", &id));
    g_assert_false(vgpu_vm_id_parse("", &id));
}

static void test_uuids(void)
{
    uint8_t uuid[16];
    char text[VGPU_UUID_STRING_LEN + 1];

    g_assert_true(vgpu_uuid_parse("6F1C2A3B-0000-4d5e-8f90-0123456789ab", uuid));
    g_assert_cmpuint(uuid[0], ==, 0x6f);
    g_assert_cmpuint(uuid[15], ==, 0xab);
    vgpu_uuid_format(uuid, text);
    g_assert_cmpstr(text, ==, "6f1c2a3b-0000-4d5e-8f90-0123456789ab");
    g_assert_false(vgpu_uuid_parse("6f1c2a3b-0000-4d5e-8f90-0123456789a", uuid));
    g_assert_false(vgpu_uuid_parse("6f1c2a3b-0000-4d5e-8f90-0123456789abc", uuid));
    g_assert_false(vgpu_uuid_parse("6f1c2a3b00000-4d5e-8f90-0123456789ab", uuid));
    g_assert_false(vgpu_uuid_parse("6f1c2a3g-0000-4d5e-8f90-0123456789ab", uuid));
    g_assert_false(vgpu_uuid_parse("", uuid));
}

static void test_gpu_memory(void)
{
    uint64_t bytes = 0;
    char text[VGPU_GPU_MEMORY_TEXT_MAX];

    g_assert_true(vgpu_gpu_memory_parse("8GiB", &bytes));
    g_assert_cmpuint(bytes, ==, 8ull << 30);
    g_assert_true(vgpu_gpu_memory_parse("8G", &bytes));
    g_assert_cmpuint(bytes, ==, 8ull << 30);
    g_assert_true(vgpu_gpu_memory_parse("512MiB", &bytes));
    g_assert_cmpuint(bytes, ==, 512ull << 20);
    g_assert_true(vgpu_gpu_memory_parse("4K", &bytes));
    g_assert_cmpuint(bytes, ==, 4096);
    g_assert_true(vgpu_gpu_memory_parse("1", &bytes));
    g_assert_cmpuint(bytes, ==, 1);
    g_assert_true(vgpu_gpu_memory_parse("1TiB", &bytes));
    g_assert_cmpuint(bytes, ==, VGPU_GPU_MEMORY_MAX);
    g_assert_true(vgpu_gpu_memory_parse("1099511627776", &bytes));
    g_assert_cmpuint(bytes, ==, VGPU_GPU_MEMORY_MAX);
    g_assert_true(vgpu_gpu_memory_parse("1024G", &bytes));
    g_assert_cmpuint(bytes, ==, VGPU_GPU_MEMORY_MAX);

    bytes = 7;
    g_assert_false(vgpu_gpu_memory_parse("0", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("0GiB", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("08GiB", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("-1", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("+8GiB", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("GiB", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("8 GiB", &bytes));
    g_assert_false(vgpu_gpu_memory_parse(" 8GiB", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("8GB", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("8gib", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("8GiBx", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("1.5GiB", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("1099511627777", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("2TiB", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("1025GiB", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("18446744073709551617", &bytes));
    g_assert_false(vgpu_gpu_memory_parse("17179869184TiB", &bytes));
    g_assert_cmpuint(bytes, ==, 7);

    vgpu_gpu_memory_format(8ull << 30, text);
    g_assert_cmpstr(text, ==, "8GiB");
    vgpu_gpu_memory_format(1536ull << 20, text);
    g_assert_cmpstr(text, ==, "1536MiB");
    vgpu_gpu_memory_format(VGPU_GPU_MEMORY_MAX, text);
    g_assert_cmpstr(text, ==, "1TiB");
    vgpu_gpu_memory_format(1000, text);
    g_assert_cmpstr(text, ==, "1000");
    vgpu_gpu_memory_format(VGPU_GPU_MEMORY_MAX - 1, text);
    g_assert_cmpstr(text, ==, "1099511627775");
    g_assert_true(vgpu_gpu_memory_parse(text, &bytes));
    g_assert_cmpuint(bytes, ==, VGPU_GPU_MEMORY_MAX - 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/identity/priorities", test_priorities);
    g_test_add_func("/identity/pools", test_pools);
    g_test_add_func("/identity/vm-ids", test_vm_ids);
    g_test_add_func("/identity/uuids", test_uuids);
    g_test_add_func("/identity/gpu-memory", test_gpu_memory);
    return g_test_run();
}
