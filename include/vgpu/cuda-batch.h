/*
 * The one encoder and the one decoder of a CUDA call batch
 * (include/vgpu/cuda.h): the guest library writes batches with the
 * encoder, the host's backends walk them with the decoder, which checks
 * every record against the batch's bounds and its call's argument count
 * before anything reads it.
 */
#ifndef VGPU_CUDA_BATCH_H
#define VGPU_CUDA_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vgpu/cuda.h"

/* The fixed argument words of a call; -1 for a number that is not a call. */
int vgpu_cuda_call_words(uint32_t call);

/* "LAUNCH"; NULL for a number that is not a call. */
const char *vgpu_cuda_call_name(uint32_t call);

/* A batch being written into buf (cap bytes). */
struct vgpu_cuda_writer {
    unsigned char *buf;
    size_t cap;
    size_t used;
    uint32_t count;
};

/* Start a batch in buf; false when cap cannot hold even the header. */
bool vgpu_cuda_writer_init(struct vgpu_cuda_writer *w, void *buf, size_t cap);

/*
 * Append a record: call with its words (vgpu_cuda_call_words(call) of
 * them) and tail_len bytes of tail (a name, packed parameters; may be 0).
 * Returns the record's offset in the batch, or -1 when it does not fit
 * (the batch is unchanged) or call and word count do not match.
 */
long vgpu_cuda_writer_add(struct vgpu_cuda_writer *w, uint32_t call, const uint64_t *words,
                          const void *tail, size_t tail_len);

/*
 * Drop the first `records` records (ones the host ran), moving the rest to
 * the front: a batch the host answered VGPU_CUDA_STILL_WAITING goes again
 * from the waiting call on.  Returns how many bytes the rest moved by (0
 * when there are not that many records).
 */
size_t vgpu_cuda_writer_drop_front(struct vgpu_cuda_writer *w, uint32_t records);

/* Bytes of the batch written so far (its header's count kept current). */
size_t vgpu_cuda_writer_length(const struct vgpu_cuda_writer *w);

/* One record as the decoder hands it out: pointers into the batch. */
struct vgpu_cuda_call_view {
    uint32_t call;
    unsigned char *record;          /* its header: result and out[] are written here */
    uint64_t words[8];              /* the fixed arguments, host order */
    const unsigned char *tail;      /* the bytes after them */
    size_t tail_len;
};

/*
 * Check the batch header of the len bytes at batch.  Returns its record
 * count, or -1 when the magic, the reserved word or len is wrong.
 */
long vgpu_cuda_batch_open(const void *batch, size_t len);

/*
 * The record at *offset (start with sizeof(struct vgpu_cuda_batch)):
 * checks its length (at least the header and its words, a multiple of 8,
 * inside len), its call number and its reserved fields, fills *view and
 * advances *offset.  Returns false on any of those failures.
 */
bool vgpu_cuda_batch_next(unsigned char *batch, size_t len, size_t *offset,
                          struct vgpu_cuda_call_view *view);

/* Write a record's outcome (through a view the decoder gave). */
void vgpu_cuda_record_set(struct vgpu_cuda_call_view *view, uint32_t result, uint64_t out0,
                          uint64_t out1);

/*
 * Answer every record of the batch with result and no outputs (a backend
 * without CUDA devices).  results gets [result, 0], or, when a record is
 * malformed, [VGPU_CUDA_ERROR_INVALID_VALUE, its index] with the records
 * before it answered.  Returns the number of results (2).
 */
uint32_t vgpu_cuda_batch_answer_all(unsigned char *batch, size_t len, uint32_t result,
                                    uint32_t results[2]);

/* A record's outcome, as the guest reads it back. */
void vgpu_cuda_record_get(const void *batch, long offset, uint32_t *result, uint64_t out[2]);

#endif /* VGPU_CUDA_BATCH_H */
