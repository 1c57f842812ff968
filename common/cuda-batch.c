/*
 * CUDA call batches: see include/vgpu/cuda-batch.h.
 */
#include <endian.h>
#include <string.h>

#include "vgpu/cuda-batch.h"

#define RECORD_HEADER   sizeof(struct vgpu_cuda_record)
#define BATCH_HEADER    sizeof(struct vgpu_cuda_batch)

#define CALL_WORDS_CASE(name, num, words) case num: return words;
int vgpu_cuda_call_words(uint32_t call)
{
    switch (call) {
    VGPU_CUDA_CALL_TABLE(CALL_WORDS_CASE)
    }
    return -1;
}
#undef CALL_WORDS_CASE

#define CALL_NAME_CASE(name, num, words) case num: return #name;
const char *vgpu_cuda_call_name(uint32_t call)
{
    switch (call) {
    VGPU_CUDA_CALL_TABLE(CALL_NAME_CASE)
    }
    return NULL;
}
#undef CALL_NAME_CASE

static void put32(unsigned char *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, sizeof(v));
}

static void put64(unsigned char *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, sizeof(v));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return le32toh(v);
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

bool vgpu_cuda_writer_init(struct vgpu_cuda_writer *w, void *buf, size_t cap)
{
    if (cap < BATCH_HEADER) {
        return false;
    }
    w->buf = buf;
    w->cap = cap < VGPU_CUDA_BATCH_MAX ? cap : VGPU_CUDA_BATCH_MAX;
    w->used = BATCH_HEADER;
    w->count = 0;
    put32(w->buf + offsetof(struct vgpu_cuda_batch, magic), VGPU_CUDA_BATCH_MAGIC);
    put32(w->buf + offsetof(struct vgpu_cuda_batch, count), 0);
    put64(w->buf + offsetof(struct vgpu_cuda_batch, reserved), 0);
    return true;
}

long vgpu_cuda_writer_add(struct vgpu_cuda_writer *w, uint32_t call, const uint64_t *words,
                          const void *tail, size_t tail_len)
{
    int n = vgpu_cuda_call_words(call);
    size_t fixed, length;
    unsigned char *r;
    long offset;

    if (n < 0 || tail_len > VGPU_CUDA_BATCH_MAX) {
        return -1;
    }
    fixed = RECORD_HEADER + 8 * (size_t)n;
    length = (fixed + tail_len + 7) & ~(size_t)7;
    if (length > w->cap - w->used) {
        return -1;
    }
    offset = (long)w->used;
    r = w->buf + w->used;
    memset(r, 0, length);
    put32(r + offsetof(struct vgpu_cuda_record, call), call);
    put32(r + offsetof(struct vgpu_cuda_record, length), (uint32_t)length);
    for (int i = 0; i < n; i++) {
        put64(r + RECORD_HEADER + 8 * (size_t)i, words[i]);
    }
    if (tail_len) {
        memcpy(r + fixed, tail, tail_len);
    }
    w->used += length;
    w->count++;
    put32(w->buf + offsetof(struct vgpu_cuda_batch, count), w->count);
    return offset;
}

size_t vgpu_cuda_writer_drop_front(struct vgpu_cuda_writer *w, uint32_t records)
{
    size_t from = BATCH_HEADER;

    for (uint32_t i = 0; i < records && i < w->count; i++) {
        from += get32(w->buf + from + offsetof(struct vgpu_cuda_record, length));
    }
    if (records > w->count || from > w->used) {
        return 0;
    }
    memmove(w->buf + BATCH_HEADER, w->buf + from, w->used - from);
    w->used -= from - BATCH_HEADER;
    w->count -= records;
    put32(w->buf + offsetof(struct vgpu_cuda_batch, count), w->count);
    return from - BATCH_HEADER;
}

size_t vgpu_cuda_writer_length(const struct vgpu_cuda_writer *w)
{
    return w->used;
}

long vgpu_cuda_batch_open(const void *batch, size_t len)
{
    const unsigned char *b = batch;

    if (len < BATCH_HEADER || len > VGPU_CUDA_BATCH_MAX ||
        get32(b + offsetof(struct vgpu_cuda_batch, magic)) != VGPU_CUDA_BATCH_MAGIC ||
        get64(b + offsetof(struct vgpu_cuda_batch, reserved)) != 0) {
        return -1;
    }
    return (long)get32(b + offsetof(struct vgpu_cuda_batch, count));
}

bool vgpu_cuda_batch_next(unsigned char *batch, size_t len, size_t *offset,
                          struct vgpu_cuda_call_view *view)
{
    unsigned char *r;
    uint32_t call, length;
    size_t fixed;
    int n;

    if (*offset > len || len - *offset < RECORD_HEADER) {
        return false;
    }
    r = batch + *offset;
    call = get32(r + offsetof(struct vgpu_cuda_record, call));
    length = get32(r + offsetof(struct vgpu_cuda_record, length));
    n = vgpu_cuda_call_words(call);
    if (n < 0) {
        return false;
    }
    fixed = RECORD_HEADER + 8 * (size_t)n;
    if (length < fixed || length % 8 != 0 || length > len - *offset ||
        get32(r + offsetof(struct vgpu_cuda_record, reserved)) != 0) {
        return false;
    }
    view->call = call;
    view->record = r;
    memset(view->words, 0, sizeof(view->words));
    for (int i = 0; i < n; i++) {
        view->words[i] = get64(r + RECORD_HEADER + 8 * (size_t)i);
    }
    view->tail = r + fixed;
    view->tail_len = length - fixed;
    *offset += length;
    return true;
}

void vgpu_cuda_record_set(struct vgpu_cuda_call_view *view, uint32_t result, uint64_t out0,
                          uint64_t out1)
{
    put32(view->record + offsetof(struct vgpu_cuda_record, result), result);
    put64(view->record + offsetof(struct vgpu_cuda_record, out), out0);
    put64(view->record + offsetof(struct vgpu_cuda_record, out) + 8, out1);
}

void vgpu_cuda_record_get(const void *batch, long offset, uint32_t *result, uint64_t out[2])
{
    const unsigned char *r = (const unsigned char *)batch + offset;

    *result = get32(r + offsetof(struct vgpu_cuda_record, result));
    out[0] = get64(r + offsetof(struct vgpu_cuda_record, out));
    out[1] = get64(r + offsetof(struct vgpu_cuda_record, out) + 8);
}

uint32_t vgpu_cuda_batch_answer_all(unsigned char *batch, size_t len, uint32_t result,
                                    uint32_t results[2])
{
    long count = vgpu_cuda_batch_open(batch, len);
    size_t offset = BATCH_HEADER;
    struct vgpu_cuda_call_view view;

    results[0] = count > 0 ? result : VGPU_CUDA_ERROR_INVALID_VALUE;
    results[1] = 0;
    for (long i = 0; i < count; i++) {
        if (!vgpu_cuda_batch_next(batch, len, &offset, &view)) {
            results[0] = VGPU_CUDA_ERROR_INVALID_VALUE;
            results[1] = (uint32_t)i;
            break;
        }
        vgpu_cuda_record_set(&view, result, 0, 0);
    }
    return VGPU_CUDA_RESULTS;
}
