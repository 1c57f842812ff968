/*
 * The attach/detach XML editing of `vgpuctl attach` (libvirt-hooks/domain-edit.c):
 * input XML -> output XML, idempotence, and detach restoring the original
 * minus our parts.
 */
#include <glib.h>
#include <string.h>

#include "domain-edit.h"
#include "metadata.h"
#include "vgpu/regs.h"

#define EMULATOR "/usr/libexec/vgpu/qemu/bin/qemu-system-x86_64"
#define SOCKET "/run/vgpu/mediator.sock"

static char *data_file(const char *name)
{
    char *path = g_build_filename(LVH_TEST_DATA, name, NULL);
    char *text = NULL;
    GError *error = NULL;

    g_file_get_contents(path, &text, NULL, &error);
    g_assert_no_error(error);
    g_free(path);
    return text;
}

static struct domain_edit_options options(uint32_t pool, uint32_t priority, uint32_t vm_id)
{
    struct domain_edit_options opts = {
        .pool_id = pool, .priority = priority, .vm_id = vm_id,
        .emulator = EMULATOR, .device_socket = SOCKET, .slot = DOMAIN_EDIT_SLOT_DEFAULT,
    };
    return opts;
}

static char *attach(const char *xml, const struct domain_edit_options *opts, gboolean *changed)
{
    GError *error = NULL;
    gboolean changed_here;
    char *out = domain_edit_attach(xml, strlen(xml), opts, changed ? changed : &changed_here, &error);

    g_assert_no_error(error);
    g_assert_nonnull(out);
    return out;
}

static char *detach(const char *xml, gboolean *changed)
{
    GError *error = NULL;
    gboolean changed_here;
    char *out = domain_edit_detach(xml, strlen(xml), changed ? changed : &changed_here, &error);

    g_assert_no_error(error);
    g_assert_nonnull(out);
    return out;
}

static char *normalize(const char *xml)
{
    char *out = domain_edit_normalize(xml, strlen(xml), NULL);

    g_assert_nonnull(out);
    return out;
}

static guint occurrences(const char *haystack, const char *needle)
{
    guint n = 0;

    for (const char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

static void assert_contains(const char *xml, const char *needle)
{
    if (!strstr(xml, needle)) {
        g_error("expected '%s' in:\n%s", needle, xml);
    }
}

/* What the hook would read from xml. */
static void assert_identity(const char *xml, uint32_t pool, uint32_t priority, uint32_t vm_id)
{
    xmlDoc *doc = metadata_parse_xml(xml, strlen(xml), NULL);
    struct metadata_identity ident;
    GError *error = NULL;

    g_assert_nonnull(doc);
    g_assert_cmpint(metadata_read(doc, &ident, &error), ==, METADATA_OURS);
    g_assert_no_error(error);
    g_assert_cmpuint(ident.pool_id, ==, pool);
    g_assert_cmpuint(ident.priority, ==, priority);
    g_assert_cmpuint(ident.vm_id, ==, vm_id);
    g_assert_cmpstr(ident.device_socket, ==, SOCKET);
    metadata_identity_clear(&ident);
    xmlFreeDoc(doc);
}

static void test_attach_q35(void)
{
    char *xml = data_file("virt-install-q35.xml");
    struct domain_edit_options opts = options('A', VGPU_PRIORITY_HIGH, 7);
    gboolean changed = FALSE;
    char *out = attach(xml, &opts, &changed);

    g_assert_true(changed);
    assert_identity(out, 'A', VGPU_PRIORITY_HIGH, 7);
    assert_contains(out, "<emulator>" EMULATOR "</emulator>");
    assert_contains(out, "previous-emulator=\"/usr/bin/qemu-system-x86_64\"");
    assert_contains(out, "<qemu:arg value=\"-chardev\"/>");
    assert_contains(out, "socket,id=vgpu0,path=" SOCKET ",reconnect=1");
    assert_contains(out, "vgpu-stub,chardev=vgpu0,bus=pcie.0,addr=0x1c");
    assert_contains(out, "xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\"");
    /* virt-install's own metadata stays, next to ours. */
    assert_contains(out, "<libosinfo:os id=\"http://debian.org/debian/12\"/>");
    g_assert_cmpuint(occurrences(out, "<metadata>"), ==, 1);
    g_free(out);
    g_free(xml);
}

static void test_attach_pc(void)
{
    char *xml = data_file("pc-minimal.xml");
    struct domain_edit_options opts = options('B', VGPU_PRIORITY_LOW, 12);
    char *out = attach(xml, &opts, NULL);

    assert_identity(out, 'B', VGPU_PRIORITY_LOW, 12);
    assert_contains(out, "vgpu-stub,chardev=vgpu0,bus=pci.0,addr=0x1c");
    g_free(out);
    g_free(xml);
}

static void test_attach_twice_is_one_device(void)
{
    char *xml = data_file("virt-install-q35.xml");
    struct domain_edit_options opts = options('A', VGPU_PRIORITY_HIGH, 7);
    gboolean changed = TRUE;
    char *once = attach(xml, &opts, NULL);
    char *twice = attach(once, &opts, &changed);

    g_assert_false(changed);
    g_assert_cmpstr(once, ==, twice);
    g_assert_cmpuint(occurrences(twice, "vgpu-stub,"), ==, 1);
    g_assert_cmpuint(occurrences(twice, "-chardev"), ==, 1);
    g_assert_cmpuint(occurrences(twice, "<vgpu:device"), ==, 1);
    g_free(twice);
    g_free(once);
    g_free(xml);
}

static void test_attach_again_updates_identity(void)
{
    char *xml = data_file("virt-install-q35.xml");
    struct domain_edit_options first = options('A', VGPU_PRIORITY_HIGH, 7);
    struct domain_edit_options second = options('C', VGPU_PRIORITY_MEDIUM, 99);
    gboolean changed = FALSE;
    char *once, *twice;

    second.device_socket = "/srv/vgpu,test/mediator.sock";
    second.emulator = "/opt/vgpu/qemu-system-x86_64";
    once = attach(xml, &first, NULL);
    twice = attach(once, &second, &changed);

    g_assert_true(changed);
    g_assert_cmpuint(occurrences(twice, "<vgpu:device"), ==, 1);
    g_assert_cmpuint(occurrences(twice, "vgpu-stub,"), ==, 1);
    assert_contains(twice, "pool=\"C\" priority=\"medium\" vm-id=\"99\"");
    assert_contains(twice, "path=/srv/vgpu,,test/mediator.sock,");
    assert_contains(twice, "<emulator>/opt/vgpu/qemu-system-x86_64</emulator>");
    /* The emulator to restore is still the original, not the first attach's. */
    assert_contains(twice, "previous-emulator=\"/usr/bin/qemu-system-x86_64\"");
    g_free(twice);
    g_free(once);
    g_free(xml);
}

/* --gpu-memory writes gpu-memory= that the hook reads back; attaching without it drops it. */
static void test_attach_gpu_memory(void)
{
    char *xml = data_file("virt-install-q35.xml");
    struct domain_edit_options opts = options('A', VGPU_PRIORITY_HIGH, 7);
    gboolean changed = FALSE;
    char *with, *without;
    xmlDoc *doc;
    struct metadata_identity ident;

    opts.gpu_memory_quota = 8ull << 30;
    with = attach(xml, &opts, NULL);
    assert_contains(with, "vm-id=\"7\" gpu-memory=\"8GiB\"");
    doc = metadata_parse_xml(with, strlen(with), NULL);
    g_assert_cmpint(metadata_read(doc, &ident, NULL), ==, METADATA_OURS);
    g_assert_cmpuint(ident.gpu_memory_quota, ==, 8ull << 30);
    metadata_identity_clear(&ident);
    xmlFreeDoc(doc);

    opts.gpu_memory_quota = 0;
    without = attach(with, &opts, &changed);
    g_assert_true(changed);
    g_assert_cmpuint(occurrences(without, "gpu-memory="), ==, 0);
    g_free(without);
    g_free(with);
    g_free(xml);
}

static void assert_round_trip(const char *file, uint32_t slot)
{
    char *xml = data_file(file);
    struct domain_edit_options opts = options('A', VGPU_PRIORITY_MEDIUM, 5);
    gboolean changed = FALSE;
    char *attached, *detached, *original;

    opts.slot = slot;
    attached = attach(xml, &opts, NULL);
    detached = detach(attached, &changed);
    original = normalize(xml);
    g_assert_true(changed);
    g_assert_cmpstr(detached, ==, original);
    g_free(original);
    g_free(detached);
    g_free(attached);
    g_free(xml);
}

static void test_detach_restores_original(void)
{
    assert_round_trip("virt-install-q35.xml", DOMAIN_EDIT_SLOT_DEFAULT);
    assert_round_trip("pc-minimal.xml", DOMAIN_EDIT_SLOT_DEFAULT);
    /* Other metadata, an admin's own qemu:commandline args and env, a custom emulator. */
    assert_round_trip("admin-extras.xml", DOMAIN_EDIT_SLOT_DEFAULT);
    assert_round_trip("q35-bridge.xml", 0x1b);
}

static void test_admin_commandline_kept(void)
{
    char *xml = data_file("admin-extras.xml");
    struct domain_edit_options opts = options('A', VGPU_PRIORITY_HIGH, 1);
    char *out = attach(xml, &opts, NULL);

    g_assert_cmpuint(occurrences(out, "<qemu:commandline>"), ==, 1);
    assert_contains(out, "PIIX4_PM.disable_s3=1");
    assert_contains(out, "<qemu:env name=\"QEMU_AUDIO_DRV\" value=\"none\"/>");
    assert_contains(out, "previous-emulator=\"/opt/qemu/bin/qemu-system-x86_64\"");
    assert_contains(out, "<app:owner xmlns:app=\"urn:example:app\">team-x</app:owner>");
    g_free(out);
    g_free(xml);
}

static void test_detach_without_device_changes_nothing(void)
{
    char *xml = data_file("admin-extras.xml");
    gboolean changed = TRUE;
    char *out = detach(xml, &changed);
    char *original = normalize(xml);

    g_assert_false(changed);
    g_assert_cmpstr(out, ==, original);
    g_free(original);
    g_free(out);
    g_free(xml);
}

static void test_detach_hand_written(void)
{
    const char *xml =
        "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
        "  <name>hand</name><uuid>11111111-2222-4333-8444-555555555555</uuid>\n"
        "  <metadata>\n"
        "    <vgpu:device xmlns:vgpu='urn:vgpu-stub:libvirt:1' pool='A' priority='high' vm-id='7'/>\n"
        "  </metadata>\n"
        "  <os><type arch='x86_64' machine='q35'>hvm</type></os>\n"
        "  <devices><emulator>" EMULATOR "</emulator></devices>\n"
        "  <qemu:commandline>\n"
        "    <qemu:arg value='-chardev'/>\n"
        "    <qemu:arg value='socket,id=myvgpu,path=/run/vgpu/mediator.sock,reconnect=1'/>\n"
        "    <qemu:arg value='-device'/>\n"
        "    <qemu:arg value='vgpu-stub,chardev=myvgpu,bus=pcie.0,addr=0x1c'/>\n"
        "  </qemu:commandline>\n"
        "</domain>\n";
    gboolean changed = FALSE;
    char *out = detach(xml, &changed);

    g_assert_true(changed);
    g_assert_null(strstr(out, "vgpu-stub"));
    g_assert_null(strstr(out, "myvgpu"));
    g_assert_null(strstr(out, "qemu:"));
    g_assert_null(strstr(out, "<metadata"));
    /* Nothing recorded an emulator to go back to: it stays. */
    assert_contains(out, "<emulator>" EMULATOR "</emulator>");
    g_free(out);
}

static void assert_refused(const char *xml, int code, const char *expected)
{
    struct domain_edit_options opts = options('A', VGPU_PRIORITY_HIGH, 7);
    GError *error = NULL;
    gboolean changed;

    g_assert_null(domain_edit_attach(xml, strlen(xml), &opts, &changed, &error));
    g_assert_error(error, DOMAIN_EDIT_ERROR, code);
    if (!strstr(error->message, expected)) {
        g_error("message '%s' does not contain '%s'", error->message, expected);
    }
    g_error_free(error);
}

static void test_unsupported_domains(void)
{
    assert_refused("<domain type='lxc'><name>c</name></domain>",
                   DOMAIN_EDIT_ERROR_UNSUPPORTED, "domain type 'lxc' is not a QEMU domain");
    assert_refused("<domain type='kvm'><name>c</name>"
                   "<os><type arch='aarch64' machine='virt'>hvm</type></os></domain>",
                   DOMAIN_EDIT_ERROR_UNSUPPORTED, "architecture 'aarch64' is not supported");
    assert_refused("<domain type='kvm'><name>c</name>"
                   "<os><type arch='x86_64' machine='microvm'>hvm</type></os></domain>",
                   DOMAIN_EDIT_ERROR_UNSUPPORTED, "machine type 'microvm' has no PCI root bus");
    assert_refused("<domstatus pid='1'><domain type='kvm'><name>c</name></domain></domstatus>",
                   DOMAIN_EDIT_ERROR_XML, "status XML");
    assert_refused("<domain type='kvm'>", DOMAIN_EDIT_ERROR_XML, "not well-formed");
}

static void test_slot_taken(void)
{
    char *xml = data_file("q35-bridge.xml");
    struct domain_edit_options opts = options('A', VGPU_PRIORITY_HIGH, 7);
    GError *error = NULL;
    gboolean changed;
    char *out;

    opts.slot = 0x1e;
    g_assert_null(domain_edit_attach(xml, strlen(xml), &opts, &changed, &error));
    g_assert_error(error, DOMAIN_EDIT_ERROR, DOMAIN_EDIT_ERROR_SLOT_TAKEN);
    g_assert_cmpstr(error->message, ==,
                    "PCI slot 0x1e of the root bus is taken by the domain's "
                    "<controller type='pci' model='dmi-to-pci-bridge'>");
    g_clear_error(&error);

    /* The default slot is free there, and an attached device does not block itself. */
    opts.slot = DOMAIN_EDIT_SLOT_DEFAULT;
    out = attach(xml, &opts, NULL);
    g_free(attach(out, &opts, NULL));
    g_free(out);
    g_free(xml);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/domain-edit/attach-q35-virt-install-domain", test_attach_q35);
    g_test_add_func("/domain-edit/attach-pc-domain", test_attach_pc);
    g_test_add_func("/domain-edit/attach-twice-is-one-device", test_attach_twice_is_one_device);
    g_test_add_func("/domain-edit/attach-again-updates-identity", test_attach_again_updates_identity);
    g_test_add_func("/domain-edit/attach-gpu-memory", test_attach_gpu_memory);
    g_test_add_func("/domain-edit/detach-restores-original", test_detach_restores_original);
    g_test_add_func("/domain-edit/admin-commandline-kept", test_admin_commandline_kept);
    g_test_add_func("/domain-edit/detach-without-device-changes-nothing",
                    test_detach_without_device_changes_nothing);
    g_test_add_func("/domain-edit/detach-hand-written-device", test_detach_hand_written);
    g_test_add_func("/domain-edit/unsupported-domains-refused", test_unsupported_domains);
    g_test_add_func("/domain-edit/slot-taken-refused", test_slot_taken);
    return g_test_run();
}
