/*
 * The CUDA call batch's encoder and decoder (include/vgpu/cuda-batch.h):
 * what one writes the other reads back, and the decoder refuses every
 * record that does not fit its batch or its call.
 */
#include <glib.h>
#include <string.h>

#include "vgpu/cuda-batch.h"

static void test_round_trip(void)
{
    unsigned char buf[4096];
    struct vgpu_cuda_writer w;
    struct vgpu_cuda_call_view v;
    const uint64_t malloc_words[] = { 1 << 20 };
    const uint64_t launch_words[] = { 7, 1 | 2ull << 32, 3 | 256ull << 32, 1 | 1ull << 32, 0, 0 };
    const char params[12] = "abcdefghijk";
    size_t offset = sizeof(struct vgpu_cuda_batch);
    long first, second, third;
    uint32_t result;
    uint64_t out[2];

    g_assert_true(vgpu_cuda_writer_init(&w, buf, sizeof(buf)));
    first = vgpu_cuda_writer_add(&w, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0);
    second = vgpu_cuda_writer_add(&w, VGPU_CUDA_MALLOC, malloc_words, NULL, 0);
    third = vgpu_cuda_writer_add(&w, VGPU_CUDA_LAUNCH, launch_words, params, sizeof(params));
    g_assert_cmpint(first, ==, 16);
    g_assert_cmpint(second, ==, 16 + 32);
    g_assert_cmpint(third, ==, 16 + 32 + 40);
    g_assert_cmpuint(vgpu_cuda_writer_length(&w), ==, 16 + 32 + 40 + 32 + 48 + 16);
    g_assert_cmpint(vgpu_cuda_writer_add(&w, 9999, NULL, NULL, 0), ==, -1);

    g_assert_cmpint(vgpu_cuda_batch_open(buf, vgpu_cuda_writer_length(&w)), ==, 3);
    g_assert_true(vgpu_cuda_batch_next(buf, vgpu_cuda_writer_length(&w), &offset, &v));
    g_assert_cmpuint(v.call, ==, VGPU_CUDA_DEVICE_COUNT);
    g_assert_cmpuint(v.tail_len, ==, 0);
    g_assert_true(vgpu_cuda_batch_next(buf, vgpu_cuda_writer_length(&w), &offset, &v));
    g_assert_cmpuint(v.call, ==, VGPU_CUDA_MALLOC);
    g_assert_cmphex(v.words[0], ==, 1 << 20);
    vgpu_cuda_record_set(&v, 0, 0xdead0000beefull, 0);
    g_assert_true(vgpu_cuda_batch_next(buf, vgpu_cuda_writer_length(&w), &offset, &v));
    g_assert_cmpuint(v.call, ==, VGPU_CUDA_LAUNCH);
    g_assert_cmphex(v.words[3], ==, launch_words[3]);
    g_assert_cmpuint(v.tail_len, ==, 16);               /* 12 bytes, padded to 8 */
    g_assert_cmpmem(v.tail, sizeof(params), params, sizeof(params));
    g_assert_cmpuint(offset, ==, vgpu_cuda_writer_length(&w));
    g_assert_false(vgpu_cuda_batch_next(buf, vgpu_cuda_writer_length(&w), &offset, &v));

    vgpu_cuda_record_get(buf, second, &result, out);
    g_assert_cmpuint(result, ==, 0);
    g_assert_cmphex(out[0], ==, 0xdead0000beefull);
    g_assert_cmpstr(vgpu_cuda_call_name(VGPU_CUDA_EVENT_ELAPSED), ==, "EVENT_ELAPSED");
    g_assert_null(vgpu_cuda_call_name(0));
}

static void test_full_batch(void)
{
    unsigned char buf[16 + 32 + 8];
    struct vgpu_cuda_writer w;

    g_assert_false(vgpu_cuda_writer_init(&w, buf, 15));
    g_assert_true(vgpu_cuda_writer_init(&w, buf, sizeof(buf)));
    g_assert_cmpint(vgpu_cuda_writer_add(&w, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0), ==, 16);
    g_assert_cmpint(vgpu_cuda_writer_add(&w, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0), ==, -1);
    g_assert_cmpint(vgpu_cuda_batch_open(buf, vgpu_cuda_writer_length(&w)), ==, 1);
}

/* A batch the host left waiting goes again from the waiting call on. */
static void test_drop_front(void)
{
    unsigned char buf[4096];
    struct vgpu_cuda_writer w;
    struct vgpu_cuda_call_view v;
    const uint64_t stream[] = { 42 }, launch_words[] = { 7, 1, 1, 1, 0, 0 };
    size_t offset = sizeof(struct vgpu_cuda_batch);
    long sync, last;

    g_assert_true(vgpu_cuda_writer_init(&w, buf, sizeof(buf)));
    vgpu_cuda_writer_add(&w, VGPU_CUDA_LAUNCH, launch_words, "params!", 8);
    sync = vgpu_cuda_writer_add(&w, VGPU_CUDA_STREAM_SYNCHRONIZE, stream, NULL, 0);
    last = vgpu_cuda_writer_add(&w, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0);
    g_assert_cmpuint(vgpu_cuda_writer_drop_front(&w, 4), ==, 0);   /* there are 3 */
    g_assert_cmpuint(vgpu_cuda_writer_drop_front(&w, 1), ==, (size_t)(sync - 16));
    g_assert_cmpuint(vgpu_cuda_writer_length(&w), ==, 16 + 40 + 32);
    g_assert_cmpint(vgpu_cuda_batch_open(buf, vgpu_cuda_writer_length(&w)), ==, 2);
    g_assert_true(vgpu_cuda_batch_next(buf, vgpu_cuda_writer_length(&w), &offset, &v));
    g_assert_cmpuint(v.call, ==, VGPU_CUDA_STREAM_SYNCHRONIZE);
    g_assert_cmpuint(v.words[0], ==, 42);
    g_assert_true(vgpu_cuda_batch_next(buf, vgpu_cuda_writer_length(&w), &offset, &v));
    g_assert_cmpuint(v.call, ==, VGPU_CUDA_DEVICE_COUNT);
    g_assert_cmpuint(offset - 32, ==, (size_t)(last - (sync - 16)));
    /* and the batch takes more records after it */
    g_assert_cmpint(vgpu_cuda_writer_add(&w, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0), ==,
                    16 + 40 + 32);
    g_assert_cmpint(vgpu_cuda_batch_open(buf, vgpu_cuda_writer_length(&w)), ==, 3);
}

/* Corrupt one field of a one-record batch; the decoder must refuse it. */
static void test_malformed(void)
{
    unsigned char good[64], bad[64];
    struct vgpu_cuda_writer w;
    struct vgpu_cuda_call_view v;
    const uint64_t words[] = { 4096 };
    size_t len, offset;
    uint32_t results[2];

    vgpu_cuda_writer_init(&w, good, sizeof(good));
    vgpu_cuda_writer_add(&w, VGPU_CUDA_MALLOC, words, NULL, 0);
    len = vgpu_cuda_writer_length(&w);

    memcpy(bad, good, len);
    bad[0] ^= 1;                                                /* magic */
    g_assert_cmpint(vgpu_cuda_batch_open(bad, len), ==, -1);
    g_assert_cmpint(vgpu_cuda_batch_open(good, 8), ==, -1);      /* shorter than its header */

    struct { size_t at; uint32_t value; } cases[] = {
        { 16 + 0, 9999 },                   /* unknown call */
        { 16 + 4, 24 },                     /* length shorter than header + words */
        { 16 + 4, 44 },                     /* not a multiple of 8 */
        { 16 + 4, 48 },                     /* runs past the batch */
        { 16 + 12, 1 },                     /* reserved */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint32_t le = GUINT32_TO_LE(cases[i].value);

        memcpy(bad, good, len);
        memcpy(bad + cases[i].at, &le, 4);
        offset = 16;
        g_assert_false(vgpu_cuda_batch_next(bad, len, &offset, &v));
        g_assert_cmpuint(offset, ==, 16);
        vgpu_cuda_batch_answer_all(bad, len, VGPU_CUDA_ERROR_NO_DEVICE, results);
        g_assert_cmpuint(results[0], ==, VGPU_CUDA_ERROR_INVALID_VALUE);
        g_assert_cmpuint(results[1], ==, 0);
    }
    vgpu_cuda_batch_answer_all(good, len, VGPU_CUDA_ERROR_NO_DEVICE, results);
    g_assert_cmpuint(results[0], ==, VGPU_CUDA_ERROR_NO_DEVICE);
    {
        uint32_t result;
        uint64_t out[2];

        vgpu_cuda_record_get(good, 16, &result, out);
        g_assert_cmpuint(result, ==, VGPU_CUDA_ERROR_NO_DEVICE);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cuda-batch/round-trip", test_round_trip);
    g_test_add_func("/cuda-batch/full-batch", test_full_batch);
    g_test_add_func("/cuda-batch/malformed-records-refused", test_malformed);
    g_test_add_func("/cuda-batch/drop-front", test_drop_front);
    return g_test_run();
}
