/*
 * vgpu_response_decode (common/codec.c): what the mediator sends back in
 * COMPLETE, which the device and libvgpu read.
 *
 * Checked for every input: a refusal is PROTOCOL and leaves the view
 * untouched; an accepted response's results and data lie inside the input
 * and encode back into a response that decodes to the same view.
 */
#include "fuzz.h"
#include "vgpu/codec.h"
#include "vgpu/ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *in = fuzz_copy(data, size);
    struct vgpu_response_view view, again;
    uint32_t results[VGPU_RESPONSE_MAX_RESULTS];
    unsigned char out[VGPU_RESPONSE_MAX];
    size_t results_end, len;
    double sum;
    uint32_t rc;

    memset(&view, FUZZ_POISON, sizeof(view));
    rc = vgpu_response_decode(in, size, &view);
    if (rc != VGPU_OK) {
        FUZZ_CHECK(rc == VGPU_ERR_PROTOCOL);
        FUZZ_CHECK(fuzz_all_bytes(&view, sizeof(view), FUZZ_POISON));
        free(in);
        return 0;
    }

    FUZZ_CHECK(size >= VGPU_RESPONSE_HEADER_SIZE && size <= VGPU_RESPONSE_MAX);
    FUZZ_CHECK(view.results == in + VGPU_RESPONSE_HEADER_SIZE);
    FUZZ_CHECK(view.result_count <= VGPU_RESPONSE_MAX_RESULTS);
    results_end = VGPU_RESPONSE_HEADER_SIZE + 4 * (size_t)view.result_count;
    FUZZ_CHECK(results_end <= size);
    if (view.data_length) {
        FUZZ_CHECK(view.data >= in + results_end);
        FUZZ_CHECK((size_t)(view.data - in) <= size &&
                   view.data_length <= size - (size_t)(view.data - in));
    } else {
        FUZZ_CHECK(view.data == NULL);
    }
    for (uint32_t i = 0; i < view.result_count; i++) {
        results[i] = vgpu_response_result(&view, i);
    }
    FUZZ_CHECK(vgpu_sum_result_load(&view, &sum) == (view.result_count == VGPU_SUM_RESULTS));

    len = vgpu_response_encode(out, sizeof(out), view.status, results, view.result_count,
                               view.data, view.data_length, view.exec_time_us);
    FUZZ_CHECK(len >= results_end && len <= size);
    FUZZ_CHECK(vgpu_response_decode(out, len, &again) == VGPU_OK);
    FUZZ_CHECK(again.status == view.status && again.result_count == view.result_count &&
               again.exec_time_us == view.exec_time_us && again.data_length == view.data_length);
    FUZZ_CHECK(memcmp(again.results, view.results, 4 * (size_t)view.result_count) == 0);
    FUZZ_CHECK(view.data_length == 0 ||
               memcmp(again.data, view.data, view.data_length) == 0);
    free(in);
    return 0;
}
