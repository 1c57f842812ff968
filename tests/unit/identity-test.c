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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/identity/priorities", test_priorities);
    g_test_add_func("/identity/pools", test_pools);
    g_test_add_func("/identity/vm-ids", test_vm_ids);
    g_test_add_func("/identity/uuids", test_uuids);
    return g_test_run();
}
