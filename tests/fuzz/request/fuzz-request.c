/*
 * vgpu_request_decode (common/codec.c): what a guest writes into
 * REQUEST_BUFFER, checked by the mediator before anything else reads it.
 *
 * Checked for every input: a refusal is one of the four request errors and
 * leaves the view untouched; an accepted request's view lies inside the
 * input, matches its opcode's table entry, and encodes back into a request
 * that decodes to the same view.
 */
#include "fuzz.h"
#include "vgpu/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *in = fuzz_copy(data, size);
    struct vgpu_request_view view, again;
    const struct vgpu_opcode_info *info;
    uint32_t params[VGPU_REQUEST_MAX_PARAMS];
    unsigned char out[VGPU_REQUEST_MAX];
    size_t params_end, len;
    uint32_t rc;

    memset(&view, FUZZ_POISON, sizeof(view));
    rc = vgpu_request_decode(in, size, &view);
    if (rc != VGPU_OK) {
        FUZZ_CHECK(rc == VGPU_ERR_BAD_LENGTH || rc == VGPU_ERR_BAD_VERSION ||
                   rc == VGPU_ERR_BAD_OPCODE || rc == VGPU_ERR_BAD_PARAMS);
        FUZZ_CHECK(fuzz_all_bytes(&view, sizeof(view), FUZZ_POISON));
        free(in);
        return 0;
    }

    FUZZ_CHECK(size >= VGPU_REQUEST_HEADER_SIZE && size <= VGPU_REQUEST_MAX);
    info = vgpu_opcode_lookup(view.opcode);
    FUZZ_CHECK(info != NULL && info->opcode == view.opcode);
    FUZZ_CHECK(view.param_count == info->param_count);
    FUZZ_CHECK(view.data_length <= info->max_data_length);
    FUZZ_CHECK(view.params == in + VGPU_REQUEST_HEADER_SIZE);
    params_end = VGPU_REQUEST_HEADER_SIZE + 4 * (size_t)view.param_count;
    FUZZ_CHECK(params_end <= size);
    if (view.data_length) {
        FUZZ_CHECK(view.data >= in + params_end);
        FUZZ_CHECK((size_t)(view.data - in) <= size &&
                   view.data_length <= size - (size_t)(view.data - in));
    } else {
        FUZZ_CHECK(view.data == NULL);
    }
    for (uint32_t i = 0; i < view.param_count; i++) {
        params[i] = vgpu_request_param(&view, i);
        FUZZ_CHECK(params[i] == vgpu_le32_load(in + VGPU_REQUEST_HEADER_SIZE + 4 * (size_t)i));
    }

    len = vgpu_request_encode(out, sizeof(out), view.opcode, params, view.param_count,
                              view.data, view.data_length);
    FUZZ_CHECK(len >= params_end && len <= size);
    FUZZ_CHECK(vgpu_request_decode(out, len, &again) == VGPU_OK);
    FUZZ_CHECK(again.opcode == view.opcode && again.param_count == view.param_count &&
               again.data_length == view.data_length);
    FUZZ_CHECK(memcmp(again.params, view.params, 4 * (size_t)view.param_count) == 0);
    FUZZ_CHECK(view.data_length == 0 ||
               memcmp(again.data, view.data, view.data_length) == 0);
    free(in);
    return 0;
}
