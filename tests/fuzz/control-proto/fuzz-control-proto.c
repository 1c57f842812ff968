/*
 * control_request_parse (control/control-proto.c): every line a client
 * writes to the mediator's control socket, and every line of the registry
 * file the mediator reads at start.
 *
 * Checked: a refusal comes with a CONTROL_ERROR of a known code and a
 * message, and holds nothing to free; an accepted request holds only what
 * its command takes, in range, and encodes (control_request_encode, what
 * vgpuctl and the hook send) to a line that parses back to the same request.
 */
#include "fuzz-glib.h"
#include "control-proto.h"
#include "vgpu/regs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_glib_init();
    return 0;
}

static void check_request(const struct control_request *req)
{
    FUZZ_CHECK((unsigned)req->command < CONTROL_CMD_COUNT);
    switch (req->command) {
    case CONTROL_CMD_REGISTER:
        FUZZ_CHECK(req->name != NULL && req->name[0] != '\0');
        FUZZ_CHECK(strlen(req->name) < VGPU_DOMAIN_NAME_MAX);
        FUZZ_CHECK(g_utf8_validate(req->name, -1, NULL));
        FUZZ_CHECK(req->pool_id >= VGPU_POOL_FIRST && req->pool_id <= VGPU_POOL_LAST);
        FUZZ_CHECK(req->priority < VGPU_PRIORITY_COUNT);
        FUZZ_CHECK(req->vm_id >= 1 && req->vm_id <= VGPU_VM_ID_MAX);
        FUZZ_CHECK(req->pid >= 0);
        break;
    case CONTROL_CMD_SET_PID:
    case CONTROL_CMD_UNREGISTER:
        FUZZ_CHECK(req->command == CONTROL_CMD_SET_PID ? req->pid > 0 : req->pid == 0);
        FUZZ_CHECK(req->name == NULL && req->pool_id == 0 && req->priority == 0 &&
                   req->vm_id == 0);
        break;
    default:
        FUZZ_CHECK(req->name == NULL && req->pool_id == 0 && req->vm_id == 0 && req->pid == 0);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct control_request req, again;
    GError *error = NULL;
    char *line;

    if (!control_request_parse((const char *)data, size, &req, &error)) {
        fuzz_check_error(error, CONTROL_ERROR, NULL);
        FUZZ_CHECK(error->code >= 0 && error->code < CONTROL_ERROR_CODE_COUNT);
        FUZZ_CHECK(strchr(error->message, '\n') == NULL);
        FUZZ_CHECK(req.name == NULL);
        g_error_free(error);
        return 0;
    }
    FUZZ_CHECK(error == NULL);
    check_request(&req);

    line = control_request_encode(&req);
    FUZZ_CHECK(line != NULL && strchr(line, '\n') == NULL);
    if (!control_request_parse(line, strlen(line), &again, &error)) {
        fprintf(stderr, "the encoded request \"%s\" does not parse: %s\n", line, error->message);
        FUZZ_CHECK(!"an encoded request parses");
    }
    FUZZ_CHECK(again.command == req.command && again.pool_id == req.pool_id &&
               again.priority == req.priority && again.vm_id == req.vm_id &&
               again.pid == req.pid && memcmp(again.uuid, req.uuid, sizeof(req.uuid)) == 0);
    FUZZ_CHECK(g_strcmp0(again.name, req.name) == 0);
    g_free(line);
    control_request_clear(&again);
    control_request_clear(&req);
    return 0;
}
