/*
 * The libvirt hook's reading of a domain XML (libvirt-hooks/metadata.c and
 * the <qemu:commandline> it looks into, qemu-cmdline.c): what libvirtd
 * passes the hook on stdin, in the order the hook calls them.
 *
 * Checked: metadata_parse_xml gives a document with a <domain>, or NULL
 * with a MALFORMED error; metadata_read's three outcomes hold what its
 * header says (OURS: a name, a canonical lower-case UUID, a pool, priority
 * and vm-id in range, the device socket metadata_device_socket finds;
 * NOT_OURS: nothing filled, no error; INVALID: an error of one line,
 * nothing left to free).
 */
#include <libxml/parser.h>

#include "fuzz-glib.h"
#include "metadata.h"
#include "vgpu/regs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_glib_init();
    xmlInitParser();
    return 0;
}

static void check_identity(const struct metadata_identity *ident, xmlDoc *doc)
{
    uint8_t uuid[16];
    char canonical[VGPU_UUID_STRING_LEN + 1];
    char *socket;

    FUZZ_CHECK(ident->name != NULL && ident->name[0] != '\0');
    FUZZ_CHECK(vgpu_uuid_parse(ident->uuid, uuid));
    vgpu_uuid_format(uuid, canonical);
    FUZZ_CHECK(strcmp(canonical, ident->uuid) == 0);
    FUZZ_CHECK(ident->pool_id >= VGPU_POOL_FIRST && ident->pool_id <= VGPU_POOL_LAST);
    FUZZ_CHECK(ident->priority < VGPU_PRIORITY_COUNT);
    FUZZ_CHECK(ident->vm_id >= 1 && ident->vm_id <= VGPU_VM_ID_MAX);
    socket = metadata_device_socket(doc);
    FUZZ_CHECK(g_strcmp0(socket, ident->device_socket) == 0);
    g_free(socket);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct metadata_identity cleared;
    struct metadata_identity ident;
    GError *error = NULL;
    xmlDoc *doc;

    (void)metadata_may_be_ours((const char *)data, size);
    doc = metadata_parse_xml((const char *)data, size, &error);
    if (!doc) {
        fuzz_check_error(error, METADATA_ERROR, NULL);
        FUZZ_CHECK(error->code == METADATA_ERROR_MALFORMED);
        g_error_free(error);
        return 0;
    }
    FUZZ_CHECK(error == NULL && metadata_domain_node(doc) != NULL);

    switch (metadata_read(doc, &ident, &error)) {
    case METADATA_OURS:
        FUZZ_CHECK(error == NULL);
        check_identity(&ident, doc);
        metadata_identity_clear(&ident);
        break;
    case METADATA_NOT_OURS:
        FUZZ_CHECK(error == NULL);
        FUZZ_CHECK(memcmp(&ident, &cleared, sizeof(ident)) == 0);
        g_free(metadata_device_socket(doc));
        break;
    case METADATA_INVALID:
        fuzz_check_error(error, METADATA_ERROR, NULL);
        FUZZ_CHECK(strchr(error->message, '\n') == NULL);
        FUZZ_CHECK(ident.name == NULL && ident.device_socket == NULL);
        g_error_free(error);
        break;
    default:
        FUZZ_CHECK(!"metadata_read returns one of its three outcomes");
    }
    xmlFreeDoc(doc);
    return 0;
}
