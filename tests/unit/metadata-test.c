/*
 * The hook's metadata parser and validator (libvirt-hooks/metadata.c) and
 * the QEMU command-line helpers it uses, against good and bad domain XML.
 */
#include <glib.h>
#include <string.h>

#include "metadata.h"
#include "qemu-cmdline.h"
#include "vgpu/regs.h"

#define UUID_TEXT "6F1C2B3A-4D5E-4F60-8172-93A4B5C6D7E8"
#define UUID_LOWER "6f1c2b3a-4d5e-4f60-8172-93a4b5c6d7e8"
#define NS "urn:vgpu-stub:libvirt:1"

/* A domain around the given metadata children and qemu:commandline args. */
static char *domain_xml(const char *metadata, const char *commandline)
{
    return g_strdup_printf(
        "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
        "  <name>web1</name>\n"
        "  <uuid>" UUID_TEXT "</uuid>\n"
        "%s%s%s"
        "  <memory unit='KiB'>262144</memory>\n"
        "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
        "%s%s%s"
        "</domain>\n",
        metadata ? "  <metadata>" : "", metadata ? metadata : "", metadata ? "</metadata>\n" : "",
        commandline ? "  <qemu:commandline>" : "", commandline ? commandline : "",
        commandline ? "</qemu:commandline>\n" : "");
}

static char *device_xml(const char *attrs)
{
    return g_strdup_printf("<vgpu:device xmlns:vgpu='" NS "' %s/>", attrs);
}

/* Parse and read xml; the result, with *ident filled and *error set as metadata_read left them. */
static enum metadata_result read_xml(const char *xml, struct metadata_identity *ident,
                                     GError **error)
{
    xmlDoc *doc = metadata_parse_xml(xml, strlen(xml), error);
    enum metadata_result result;

    g_assert_nonnull(doc);
    result = metadata_read(doc, ident, error);
    xmlFreeDoc(doc);
    return result;
}

/* The one-line problem metadata_read gives for these attributes. */
static char *problem_with(const char *attrs)
{
    char *device = device_xml(attrs);
    char *xml = domain_xml(device, NULL);
    struct metadata_identity ident;
    GError *error = NULL;
    char *message;

    g_assert_cmpint(read_xml(xml, &ident, &error), ==, METADATA_INVALID);
    g_assert_nonnull(error);
    g_assert_null(strchr(error->message, '\n'));
    message = g_strdup(error->message);
    g_error_free(error);
    g_free(xml);
    g_free(device);
    return message;
}

static void assert_problem(const char *attrs, const char *expected)
{
    char *message = problem_with(attrs);

    if (!strstr(message, expected)) {
        g_error("attrs %s: message '%s' does not contain '%s'", attrs, message, expected);
    }
    g_free(message);
}

static void test_valid_identity(void)
{
    char *device = device_xml("pool='A' priority='high' vm-id='7'");
    char *xml = domain_xml(device, NULL);
    struct metadata_identity ident;
    GError *error = NULL;

    g_assert_cmpint(read_xml(xml, &ident, &error), ==, METADATA_OURS);
    g_assert_no_error(error);
    g_assert_cmpstr(ident.name, ==, "web1");
    g_assert_cmpstr(ident.uuid, ==, UUID_LOWER);
    g_assert_cmpuint(ident.pool_id, ==, 'A');
    g_assert_cmpuint(ident.priority, ==, VGPU_PRIORITY_HIGH);
    g_assert_cmpuint(ident.vm_id, ==, 7);
    g_assert_cmpuint(ident.gpu_memory_quota, ==, 0);       /* absent: no quota */
    g_assert_null(ident.device_socket);
    metadata_identity_clear(&ident);
    g_free(xml);
    g_free(device);
}

static void test_gpu_memory(void)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } good[] = {
        { "8GiB", 8ull << 30 }, { "8G", 8ull << 30 }, { "512MiB", 512ull << 20 },
        { "1TiB", 1ull << 40 }, { "4096", 4096 }, { "64K", 64ull << 10 },
    };

    for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *attrs = g_strdup_printf("pool='A' priority='high' vm-id='7' "
                                                 "gpu-memory='%s'", good[i].text);
        g_autofree char *device = device_xml(attrs);
        g_autofree char *xml = domain_xml(device, NULL);
        struct metadata_identity ident;
        GError *error = NULL;

        g_assert_cmpint(read_xml(xml, &ident, &error), ==, METADATA_OURS);
        g_assert_no_error(error);
        g_assert_cmpuint(ident.gpu_memory_quota, ==, good[i].bytes);
        metadata_identity_clear(&ident);
    }
}

static void test_bad_gpu_memory(void)
{
    static const char *const sizes[] = {
        "0", "0GiB", "-1", "-8GiB", "", "GiB", "8 GiB", "8GB", "8gib", "1.5GiB", "2TiB",
        "1025GiB", "1099511627777", "99999999999999999999999", "8GiB!", "lots",
    };

    for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
        char *attrs = g_strdup_printf("pool='A' priority='low' vm-id='7' gpu-memory='%s'",
                                      sizes[i]);
        char *expected = g_strdup_printf("gpu-memory '%s' in <vgpu:device> is not a size of "
                                         "1 byte..1TiB", sizes[i]);

        assert_problem(attrs, expected);
        g_free(expected);
        g_free(attrs);
    }
    /* a newline in the value stays one line in the message */
    assert_problem("pool='A' priority='low' vm-id='7' gpu-memory='8&#10;GiB'",
                   "gpu-memory '8\\nGiB' in <vgpu:device>");
}

/* A domain XML in UTF-16 (with its declaration) carries the identity too. */
static void test_utf16_domain(void)
{
    g_autofree char *device = device_xml("pool='B' priority='low' vm-id='9'");
    g_autofree char *body = domain_xml(device, NULL);
    g_autofree char *utf8 = g_strconcat("<?xml version='1.0' encoding='UTF-16'?>\n", body, NULL);
    gsize len = 0;
    g_autofree char *utf16 = g_convert(utf8, -1, "UTF-16", "UTF-8", NULL, &len, NULL);
    struct metadata_identity ident;
    GError *error = NULL;
    xmlDoc *doc;

    g_assert_nonnull(utf16);
    g_assert_true(metadata_may_be_ours(utf16, len));
    doc = metadata_parse_xml(utf16, len, &error);
    g_assert_no_error(error);
    g_assert_cmpint(metadata_read(doc, &ident, &error), ==, METADATA_OURS);
    g_assert_cmpuint(ident.pool_id, ==, 'B');
    g_assert_cmpuint(ident.vm_id, ==, 9);
    metadata_identity_clear(&ident);
    xmlFreeDoc(doc);
}

/* <vgpu:device> anywhere but in <metadata> is a mistake to report, not a domain to ignore. */
static void test_device_outside_metadata(void)
{
    g_autofree char *device = device_xml("pool='A' priority='high' vm-id='7'");
    g_autofree char *xml = g_strdup_printf(
        "<domain type='qemu'><name>web1</name><uuid>" UUID_TEXT "</uuid>"
        "<devices>%s</devices></domain>", device);
    struct metadata_identity ident;
    GError *error = NULL;

    g_assert_cmpint(read_xml(xml, &ident, &error), ==, METADATA_INVALID);
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "outside its <metadata>"));
    g_error_free(error);
}

static void test_every_priority_and_largest_vm_id(void)
{
    static const char *const names[] = { "low", "medium", "high" };

    for (uint32_t p = 0; p < G_N_ELEMENTS(names); p++) {
        char *attrs = g_strdup_printf("pool='Z' priority='%s' vm-id='%u'", names[p], VGPU_VM_ID_MAX);
        char *device = device_xml(attrs);
        char *xml = domain_xml(device, NULL);
        struct metadata_identity ident;

        g_assert_cmpint(read_xml(xml, &ident, NULL), ==, METADATA_OURS);
        g_assert_cmpuint(ident.priority, ==, p);
        g_assert_cmpuint(ident.pool_id, ==, 'Z');
        g_assert_cmpuint(ident.vm_id, ==, VGPU_VM_ID_MAX);
        metadata_identity_clear(&ident);
        g_free(xml);
        g_free(device);
        g_free(attrs);
    }
}

static void test_any_prefix_and_declaration_place(void)
{
    const char *xml_other_prefix =
        "<domain type='kvm'><name>a</name><uuid>" UUID_TEXT "</uuid>"
        "<metadata><g:device xmlns:g='" NS "' pool='B' priority='low' vm-id='3'/></metadata>"
        "</domain>";
    const char *xml_ns_on_root =
        "<domain type='kvm' xmlns:vgpu='" NS "'><name>a</name><uuid>" UUID_TEXT "</uuid>"
        "<metadata><vgpu:device pool='B' priority='low' vm-id='3'/></metadata></domain>";
    const char *xmls[] = { xml_other_prefix, xml_ns_on_root };

    for (guint i = 0; i < G_N_ELEMENTS(xmls); i++) {
        struct metadata_identity ident;

        g_assert_cmpint(read_xml(xmls[i], &ident, NULL), ==, METADATA_OURS);
        g_assert_cmpuint(ident.pool_id, ==, 'B');
        g_assert_cmpuint(ident.vm_id, ==, 3);
        metadata_identity_clear(&ident);
    }
}

static void test_status_xml(void)
{
    const char *xml =
        "<domstatus state='running' reason='booted' pid='4242'>\n"
        "  <taint flag='custom-argv'/>\n"
        "  <domain type='qemu'><name>st</name><uuid>" UUID_TEXT "</uuid>\n"
        "    <metadata><vgpu:device xmlns:vgpu='" NS "' pool='C' priority='medium' vm-id='9'/>"
        "    </metadata></domain>\n"
        "</domstatus>\n";
    struct metadata_identity ident;

    g_assert_cmpint(read_xml(xml, &ident, NULL), ==, METADATA_OURS);
    g_assert_cmpstr(ident.name, ==, "st");
    g_assert_cmpuint(ident.pool_id, ==, 'C');
    g_assert_cmpuint(ident.priority, ==, VGPU_PRIORITY_MEDIUM);
    metadata_identity_clear(&ident);
}

static void test_not_ours(void)
{
    const char *others =
        "<libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/domain/1.0'>"
        "<libosinfo:os id='http://debian.org/debian/12'/></libosinfo:libosinfo>";
    const char *wrong_ns =
        "<vgpu:device xmlns:vgpu='urn:vgpu-stub:libvirt:2' pool='A' priority='high' vm-id='7'/>";
    const char *no_ns = "<device pool='A' priority='high' vm-id='7'/>";
    const char *cases[] = { NULL, others, wrong_ns, no_ns };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *xml = domain_xml(cases[i], NULL);
        struct metadata_identity ident;
        GError *error = NULL;

        g_assert_cmpint(read_xml(xml, &ident, &error), ==, METADATA_NOT_OURS);
        g_assert_no_error(error);
        g_free(xml);
    }
}

static void test_quick_check(void)
{
    char *device = device_xml("pool='A' priority='high' vm-id='7'");
    char *ours = domain_xml(device, NULL);
    char *plain = domain_xml(NULL, NULL);

    g_assert_true(metadata_may_be_ours(ours, strlen(ours)));
    g_assert_false(metadata_may_be_ours(plain, strlen(plain)));
    g_free(plain);
    g_free(ours);
    g_free(device);
}

static void test_missing_attributes(void)
{
    assert_problem("priority='high' vm-id='7'", "<vgpu:device> has no pool= attribute");
    assert_problem("pool='A' vm-id='7'", "<vgpu:device> has no priority= attribute");
    assert_problem("pool='A' priority='high'", "<vgpu:device> has no vm-id= attribute");
    assert_problem("", "has no pool= attribute");
}

static void test_bad_pool(void)
{
    static const char *const pools[] = { "a", "AB", "", "1", " A", "Ä" };

    for (guint i = 0; i < G_N_ELEMENTS(pools); i++) {
        char *attrs = g_strdup_printf("pool='%s' priority='high' vm-id='7'", pools[i]);
        char *expected = g_strdup_printf("pool '%s' in <vgpu:device> is not a pool name", pools[i]);

        assert_problem(attrs, expected);
        g_free(expected);
        g_free(attrs);
    }
}

static void test_bad_priority(void)
{
    static const char *const priorities[] = { "High", "urgent", "", "2", "high " };

    for (guint i = 0; i < G_N_ELEMENTS(priorities); i++) {
        char *attrs = g_strdup_printf("pool='A' priority='%s' vm-id='7'", priorities[i]);
        char *expected = g_strdup_printf("priority '%s' in <vgpu:device> is not low, medium or high",
                                         priorities[i]);

        assert_problem(attrs, expected);
        g_free(expected);
        g_free(attrs);
    }
}

static void test_bad_vm_id(void)
{
    static const char *const ids[] = {
        "0", "-1", "-7", "2147483648", "99999999999999999999", "7a", "", " 7", "+7", "07", "0x7",
    };

    for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
        char *attrs = g_strdup_printf("pool='A' priority='low' vm-id='%s'", ids[i]);
        char *expected = g_strdup_printf("vm-id '%s' in <vgpu:device> is not a number in 1..2147483647",
                                         ids[i]);

        assert_problem(attrs, expected);
        g_free(expected);
        g_free(attrs);
    }
}

static void test_two_devices(void)
{
    char *one = device_xml("pool='A' priority='high' vm-id='7'");
    char *two = device_xml("pool='B' priority='low' vm-id='8'");
    char *both = g_strconcat(one, two, NULL);
    char *xml = domain_xml(both, NULL);
    struct metadata_identity ident;
    GError *error = NULL;

    g_assert_cmpint(read_xml(xml, &ident, &error), ==, METADATA_INVALID);
    g_assert_error(error, METADATA_ERROR, METADATA_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "has 2 <vgpu:device> elements"));
    g_error_free(error);
    g_free(xml);
    g_free(both);
    g_free(two);
    g_free(one);
}

static void test_our_namespace_without_device(void)
{
    char *xml = domain_xml("<vgpu:devices xmlns:vgpu='" NS "' pool='A'/>", NULL);
    struct metadata_identity ident;
    GError *error = NULL;

    g_assert_cmpint(read_xml(xml, &ident, &error), ==, METADATA_INVALID);
    g_assert_nonnull(strstr(error->message, "but no <vgpu:device>"));
    g_error_free(error);
    g_free(xml);
}

static void test_bad_uuid(void)
{
    const char *xml =
        "<domain type='qemu'><name>x</name><uuid>not-a-uuid</uuid><metadata>"
        "<vgpu:device xmlns:vgpu='" NS "' pool='A' priority='high' vm-id='7'/></metadata></domain>";
    struct metadata_identity ident;
    GError *error = NULL;

    g_assert_cmpint(read_xml(xml, &ident, &error), ==, METADATA_INVALID);
    g_assert_nonnull(strstr(error->message, "no valid <uuid> (got 'not-a-uuid')"));
    g_error_free(error);
}

static void test_malformed_xml(void)
{
    static const char *const bad[] = {
        "<domain><name>x</name>",
        "<domain><name>x</nam></domain>",
        "",
        "not xml at all",
    };

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *error = NULL;

        g_assert_null(metadata_parse_xml(bad[i], strlen(bad[i]), &error));
        g_assert_error(error, METADATA_ERROR, METADATA_ERROR_MALFORMED);
        g_assert_nonnull(strstr(error->message, "not well-formed: line"));
        g_assert_null(strchr(error->message, '\n'));
        g_error_free(error);
    }
}

static void test_external_entity_not_loaded(void)
{
    const char *xml =
        "<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"
        "<domain><name>&e;</name></domain>";
    xmlDoc *doc = metadata_parse_xml(xml, strlen(xml), NULL);
    xmlChar *text;

    g_assert_nonnull(doc);
    text = xmlNodeGetContent(xmlDocGetRootElement(doc));
    g_assert_null(strstr((const char *)text, "root:"));
    xmlFree(text);
    xmlFreeDoc(doc);
}

static void test_not_a_domain(void)
{
    const char *xml = "<network><name>default</name></network>";
    GError *error = NULL;

    g_assert_null(metadata_parse_xml(xml, strlen(xml), &error));
    g_assert_error(error, METADATA_ERROR, METADATA_ERROR_MALFORMED);
    g_assert_nonnull(strstr(error->message, "<network>, not a libvirt <domain>"));
    g_error_free(error);
}

static void test_device_socket(void)
{
    char *device = device_xml("pool='A' priority='high' vm-id='7'");
    const char *args =
        "<qemu:arg value='-chardev'/><qemu:arg value='socket,id=other,path=/tmp/not-this'/>"
        "<qemu:arg value='-chardev'/><qemu:arg value='socket,id=mine,path=/srv/a,,b/mediator.sock,reconnect=1'/>"
        "<qemu:arg value='-device'/><qemu:arg value='vgpu-stub,chardev=mine,addr=0x1c'/>";
    char *xml = domain_xml(device, args);
    struct metadata_identity ident;

    g_assert_cmpint(read_xml(xml, &ident, NULL), ==, METADATA_OURS);
    g_assert_cmpstr(ident.device_socket, ==, "/srv/a,b/mediator.sock");
    metadata_identity_clear(&ident);
    g_free(xml);
    g_free(device);
}

static void test_qemu_opts(void)
{
    const char *opts = "socket,id=vgpu0,path=/a,,b,reconnect=1";
    char *value;

    value = qemu_cmdline_opt(opts, "path");
    g_assert_cmpstr(value, ==, "/a,b");
    g_free(value);
    value = qemu_cmdline_opt(opts, "id");
    g_assert_cmpstr(value, ==, "vgpu0");
    g_free(value);
    g_assert_null(qemu_cmdline_opt(opts, "server"));
    g_assert_null(qemu_cmdline_opt(opts, "pat"));
    value = qemu_cmdline_opt_driver(opts);
    g_assert_cmpstr(value, ==, "socket");
    g_free(value);
    g_assert_null(qemu_cmdline_opt_driver("id=x,path=y"));
    value = qemu_cmdline_opt_escape("/a,b,,c");
    g_assert_cmpstr(value, ==, "/a,,b,,,,c");
    g_free(value);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/metadata/valid-identity", test_valid_identity);
    g_test_add_func("/metadata/utf16-domain", test_utf16_domain);
    g_test_add_func("/metadata/device-outside-metadata", test_device_outside_metadata);
    g_test_add_func("/metadata/every-priority-and-largest-vm-id", test_every_priority_and_largest_vm_id);
    g_test_add_func("/metadata/any-prefix-and-declaration-place", test_any_prefix_and_declaration_place);
    g_test_add_func("/metadata/status-xml", test_status_xml);
    g_test_add_func("/metadata/no-metadata-is-not-ours", test_not_ours);
    g_test_add_func("/metadata/quick-check-on-raw-text", test_quick_check);
    g_test_add_func("/metadata/missing-attributes", test_missing_attributes);
    g_test_add_func("/metadata/bad-pool", test_bad_pool);
    g_test_add_func("/metadata/bad-priority", test_bad_priority);
    g_test_add_func("/metadata/bad-vm-id", test_bad_vm_id);
    g_test_add_func("/metadata/gpu-memory", test_gpu_memory);
    g_test_add_func("/metadata/bad-gpu-memory", test_bad_gpu_memory);
    g_test_add_func("/metadata/two-devices", test_two_devices);
    g_test_add_func("/metadata/our-namespace-without-device", test_our_namespace_without_device);
    g_test_add_func("/metadata/bad-uuid", test_bad_uuid);
    g_test_add_func("/metadata/malformed-xml", test_malformed_xml);
    g_test_add_func("/metadata/external-entity-not-loaded", test_external_entity_not_loaded);
    g_test_add_func("/metadata/not-a-domain", test_not_a_domain);
    g_test_add_func("/metadata/device-socket-from-commandline", test_device_socket);
    g_test_add_func("/metadata/qemu-option-strings", test_qemu_opts);
    return g_test_run();
}
