/*
 * The CUDA call batch reader (common/cuda-batch.c): records a guest writes
 * into its data window and the mediator walks for a VGPU_OP_CUDA request,
 * writing each record's outcome back in place.
 *
 * Checked: vgpu_cuda_batch_open refuses exactly a short, oversized or
 * foreign header; each record vgpu_cuda_batch_next hands out lies inside
 * the batch, 8-byte sized, its words and tail where its call says, and the
 * writer (what the guest library uses) writes the same record again;
 * vgpu_cuda_record_set writes only the record's outcome, read back by
 * vgpu_cuda_record_get; vgpu_cuda_batch_answer_all answers as the walk
 * went (all records, or INVALID_VALUE with the index of the first bad one).
 */
#include <endian.h>
#include <stdbool.h>

#include "fuzz.h"
#include "vgpu/cuda-batch.h"

#define RECORD_HEADER   sizeof(struct vgpu_cuda_record)
#define BATCH_HEADER    sizeof(struct vgpu_cuda_batch)

/* The record at r equals the writer's copy w but for its outcome fields. */
static bool same_but_outcome(const unsigned char *r, const unsigned char *w, size_t length)
{
    size_t result = offsetof(struct vgpu_cuda_record, result);
    size_t out = offsetof(struct vgpu_cuda_record, out);

    return memcmp(r, w, result) == 0 &&
           memcmp(r + result + 4, w + result + 4, out - result - 4) == 0 &&
           memcmp(r + RECORD_HEADER, w + RECORD_HEADER, length - RECORD_HEADER) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *batch = fuzz_copy(data, size), *fresh = fuzz_copy(data, size);
    unsigned char *copy = malloc(size > BATCH_HEADER ? size : BATCH_HEADER);
    struct vgpu_cuda_writer w;
    struct vgpu_cuda_call_view view;
    uint32_t results[2], result, magic;
    uint64_t out[2], reserved;
    size_t offset = BATCH_HEADER, at;
    long count, i;

    FUZZ_CHECK(copy != NULL);
    count = vgpu_cuda_batch_open(batch, size);
    if (count < 0) {
        if (size >= BATCH_HEADER) {
            memcpy(&magic, data, 4);
            memcpy(&reserved, data + 8, 8);
            FUZZ_CHECK(size > VGPU_CUDA_BATCH_MAX || le32toh(magic) != VGPU_CUDA_BATCH_MAGIC ||
                       reserved != 0);
        }
        FUZZ_CHECK(vgpu_cuda_batch_answer_all(fresh, size, 42, results) == VGPU_CUDA_RESULTS);
        FUZZ_CHECK(results[0] == VGPU_CUDA_ERROR_INVALID_VALUE && results[1] == 0);
        goto out;
    }
    FUZZ_CHECK(size >= BATCH_HEADER && size <= VGPU_CUDA_BATCH_MAX);
    FUZZ_CHECK(vgpu_cuda_writer_init(&w, copy, size));

    for (i = 0; i < count; i++) {
        int words;

        at = offset;
        if (!vgpu_cuda_batch_next(batch, size, &offset, &view)) {
            FUZZ_CHECK(offset == at);
            break;
        }
        FUZZ_CHECK(offset > at && offset <= size && (offset - at) % 8 == 0);
        FUZZ_CHECK(view.record == batch + at);
        words = vgpu_cuda_call_words(view.call);
        FUZZ_CHECK(words >= 0 && words <= 8 && vgpu_cuda_call_name(view.call) != NULL);
        FUZZ_CHECK(view.tail == view.record + RECORD_HEADER + 8 * (size_t)words);
        FUZZ_CHECK(view.tail + view.tail_len == batch + offset);
        for (int k = words; k < 8; k++) {
            FUZZ_CHECK(view.words[k] == 0);
        }

        /* the guest's writer makes the same record */
        FUZZ_CHECK(vgpu_cuda_writer_add(&w, view.call, view.words, view.tail, view.tail_len) ==
                   (long)at);
        FUZZ_CHECK(vgpu_cuda_writer_length(&w) == offset);
        FUZZ_CHECK(same_but_outcome(batch + at, copy + at, offset - at));

        /* an outcome is written into the record only, and read back */
        memcpy(copy + at, batch + at, offset - at);
        vgpu_cuda_record_set(&view, 7, 11, 13);
        vgpu_cuda_record_get(batch, (long)at, &result, out);
        FUZZ_CHECK(result == 7 && out[0] == 11 && out[1] == 13);
        FUZZ_CHECK(same_but_outcome(batch + at, copy + at, offset - at));
    }

    FUZZ_CHECK(vgpu_cuda_batch_answer_all(fresh, size, 42, results) == VGPU_CUDA_RESULTS);
    if (i == count) {
        FUZZ_CHECK(results[0] == (count > 0 ? 42u : VGPU_CUDA_ERROR_INVALID_VALUE));
        FUZZ_CHECK(results[1] == 0);
    } else {
        FUZZ_CHECK(results[0] == VGPU_CUDA_ERROR_INVALID_VALUE && results[1] == (uint32_t)i);
    }
out:
    free(copy);
    free(fresh);
    free(batch);
    return 0;
}
