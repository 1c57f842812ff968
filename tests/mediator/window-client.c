/*
 * A host-side device with a data window, for the mediator's window tests:
 * it creates the window (a sealed memfd), says HELLO and WINDOW, fills the
 * window with seeded random data, runs one array operation and checks the
 * outcome against its own CPU computation, including that no byte outside
 * the operation's output changed.  Or it sends one malformed WINDOW.
 *
 *   window-client -s SOCK -u UUID --op add-u32 --count 1000
 *   window-client -s SOCK -u UUID --op sum --count 5 --a 4096 --expect BAD_RANGE
 *   window-client -s SOCK -u UUID --window no-fd
 *
 * Prints one line per event:
 *   identity error=OK pool=A priority=high vm_id=7
 *   complete error=OK status=OK
 *   check ok: 1000 elements, window outside the output unchanged
 *   closed
 *
 * Exit status: 0 the outcome was --expect and (for OK) the result checked,
 * 1 otherwise, 2 usage, 3 timeout.
 */
#include <fcntl.h>
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vgpu/cuda-batch.h"
#include "vgpu/identity.h"
#include "vgpu/ops.h"
#include "wire-client.h"

#define EXIT_MISMATCH   1
#define EXIT_USAGE      2
#define EXIT_TIMEOUT    3

static char *opt_socket, *opt_uuid, *opt_op, *opt_expect = "OK", *opt_window = "normal";
static gint64 opt_size = 1 << 20, opt_count = 1024, opt_a = -1, opt_b = -1, opt_out = -1;
static gint64 opt_length = -1;
static gboolean opt_gpu;
static gint64 opt_m = 8, opt_n = 8, opt_k = 8, opt_lda, opt_ldb, opt_ldc;
static int opt_timeout_ms = 10000;
static double opt_alpha = 1.5, opt_beta = 0.5;
static int opt_seed = 1;

static const GOptionEntry entries[] = {
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket, "The mediator's device socket", "PATH" },
    { "uuid", 'u', 0, G_OPTION_ARG_STRING, &opt_uuid, "The VM's UUID for HELLO", "UUID" },
    { "size", 0, 0, G_OPTION_ARG_INT64, &opt_size, "Window bytes (default 1 MiB)", "BYTES" },
    { "window", 0, 0, G_OPTION_ARG_STRING, &opt_window,
      "normal, none (no WINDOW), no-fd, unsealed, size-mismatch, not-memfd, two-fds, twice, "
      "before-hello", "KIND" },
    { "op", 0, 0, G_OPTION_ARG_STRING, &opt_op, "add-u32, add-f32, saxpy, sum, sgemm, cuda", "OP" },
    { "count", 'n', 0, G_OPTION_ARG_INT64, &opt_count, "Elements (add, saxpy, sum)", "N" },
    { "a", 0, 0, G_OPTION_ARG_INT64, &opt_a, "Offset of a / x / A (default 0)", "BYTES" },
    { "b", 0, 0, G_OPTION_ARG_INT64, &opt_b, "Offset of b / B (default: after a)", "BYTES" },
    { "out", 0, 0, G_OPTION_ARG_INT64, &opt_out,
      "Offset of out / y / C (default: after b); negative ones wrap to 2^64 - n", "BYTES" },
    { "length", 0, 0, G_OPTION_ARG_INT64, &opt_length,
      "CUDA: the batch length the request announces (default: what was written)", "BYTES" },
    { "gpu", 0, 0, G_OPTION_ARG_NONE, &opt_gpu,
      "CUDA: the pool has a GPU (one device, a pointer for the allocation), not cudaErrorNoDevice",
      NULL },
    { "m", 0, 0, G_OPTION_ARG_INT64, &opt_m, "SGEMM m", "M" },
    { "n", 0, 0, G_OPTION_ARG_INT64, &opt_n, "SGEMM n", "N" },
    { "k", 0, 0, G_OPTION_ARG_INT64, &opt_k, "SGEMM k", "K" },
    { "lda", 0, 0, G_OPTION_ARG_INT64, &opt_lda, "SGEMM lda (default k)", "LD" },
    { "ldb", 0, 0, G_OPTION_ARG_INT64, &opt_ldb, "SGEMM ldb (default n)", "LD" },
    { "ldc", 0, 0, G_OPTION_ARG_INT64, &opt_ldc, "SGEMM ldc (default n)", "LD" },
    { "alpha", 0, 0, G_OPTION_ARG_DOUBLE, &opt_alpha, "SAXPY/SGEMM alpha", "F" },
    { "beta", 0, 0, G_OPTION_ARG_DOUBLE, &opt_beta, "SGEMM beta", "F" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &opt_seed, "Seed of the window's contents", "N" },
    { "expect", 'e', 0, G_OPTION_ARG_STRING, &opt_expect, "Error the request must end with",
      "NAME" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &opt_timeout_ms, "Give up after MS", "MS" },
    { NULL },
};

static const char *err_name(uint32_t code)
{
    const char *name = vgpu_error_name(code);

    return name ? name : "UNKNOWN";
}

static uint32_t error_by_name(const char *name)
{
    for (uint32_t e = 0; e < VGPU_ERROR_COUNT; e++) {
        if (strcmp(vgpu_error_name(e), name) == 0) {
            return e;
        }
    }
    return UINT32_MAX;
}

/* Floats of moderate size with both signs, from the seed: no overflow in any op. */
static void fill_window(unsigned char *w, uint64_t size)
{
    GRand *rand = g_rand_new_with_seed((guint32)opt_seed);
    float *f = (float *)w;

    for (uint64_t i = 0; i < size / 4; i++) {
        f[i] = (float)g_rand_double_range(rand, -4.0, 4.0);
    }
    g_rand_free(rand);
}

static bool parse_op(struct vgpu_window_op *op)
{
    static const struct { const char *name; uint32_t opcode; } ops[] = {
        { "add-u32", VGPU_OP_ADD_U32 }, { "add-f32", VGPU_OP_ADD_F32 },
        { "saxpy", VGPU_OP_SAXPY }, { "sum", VGPU_OP_SUM_F32 }, { "sgemm", VGPU_OP_SGEMM },
        { "cuda", VGPU_OP_CUDA },
    };
    uint64_t step;

    memset(op, 0, sizeof(*op));
    for (size_t i = 0; i < G_N_ELEMENTS(ops); i++) {
        if (strcmp(opt_op, ops[i].name) == 0) {
            op->opcode = ops[i].opcode;
        }
    }
    if (!op->opcode) {
        return false;
    }
    op->alpha = (float)opt_alpha;
    op->beta = (float)opt_beta;
    if (op->opcode == VGPU_OP_SGEMM) {
        op->m = (uint32_t)opt_m;
        op->n = (uint32_t)opt_n;
        op->k = (uint32_t)opt_k;
        op->lda = (uint32_t)(opt_lda ? opt_lda : opt_k);
        op->ldb = (uint32_t)(opt_ldb ? opt_ldb : opt_n);
        op->ldc = (uint32_t)(opt_ldc ? opt_ldc : opt_n);
        op->a = opt_a != -1 ? (uint64_t)opt_a : 0;
        op->b = opt_b != -1 ? (uint64_t)opt_b : op->a + 4ull * op->m * op->lda;
        op->out = opt_out != -1 ? (uint64_t)opt_out : op->b + 4ull * op->k * op->ldb;
        return true;
    }
    if (op->opcode == VGPU_OP_CUDA) {
        op->a = opt_a != -1 ? (uint64_t)opt_a : 0;
        return true;                    /* count: the batch's length, once written */
    }
    op->count = (uint64_t)opt_count;
    step = op->count * 4;
    op->a = opt_a != -1 ? (uint64_t)opt_a : 0;
    op->b = opt_b != -1 ? (uint64_t)opt_b : op->a + step;
    op->out = opt_out != -1 ? (uint64_t)opt_out : op->b + step;
    if (op->opcode == VGPU_OP_SAXPY && opt_b == -1 && opt_out == -1) {
        op->out = op->a + step;     /* y right after x */
    }
    return true;
}

/* Compare one output element with the CPU's; bit-exact unless tol >= 0. */
static bool element_ok(uint64_t i, uint32_t got_bits, uint32_t want_bits, double want, double tol)
{
    float got;

    memcpy(&got, &got_bits, sizeof(got));
    if (tol < 0 ? got_bits == want_bits : fabs((double)got - want) <= tol) {
        return true;
    }
    printf("check FAILED at element %" G_GUINT64_FORMAT ": got %.9g (0x%08x), want %.9g "
           "(0x%08x, tolerance %g)\n", i, (double)got, got_bits, want, want_bits, tol);
    return false;
}

/* Check the window after op against before (a copy taken before it ran). */
static bool check_result(const struct vgpu_window_op *op, const unsigned char *before,
                         const unsigned char *after, uint64_t size, double sum)
{
    struct vgpu_window_range in[2], out;
    unsigned in_count;
    const float *bf = (const float *)before;
    const uint32_t *bu = (const uint32_t *)before;
    const uint32_t *au = (const uint32_t *)after;
    uint64_t checked = 0;

    vgpu_window_op_ranges(op, in, &in_count, &out);
    for (uint64_t off = 0; off < size; off += 4) {
        bool inside = off >= out.offset && off < out.offset + out.length;

        if (!inside && au[off / 4] != bu[off / 4]) {
            printf("check FAILED: byte %" G_GUINT64_FORMAT " outside the output changed\n", off);
            return false;
        }
    }
    switch (op->opcode) {
    case VGPU_OP_ADD_U32:
    case VGPU_OP_ADD_F32:
    case VGPU_OP_SAXPY:
        for (uint64_t i = 0; i < op->count; i++) {
            uint64_t ia = op->a / 4 + i, ib = op->b / 4 + i, io = op->out / 4 + i;
            uint32_t want_bits;
            float want;

            if (op->opcode == VGPU_OP_ADD_U32) {
                want_bits = bu[ia] + bu[ib];
            } else {
                want = op->opcode == VGPU_OP_ADD_F32 ? bf[ia] + bf[ib]
                                                     : fmaf(op->alpha, bf[ia], bf[io]);
                memcpy(&want_bits, &want, sizeof(want_bits));
            }
            if (!element_ok(i, au[io], want_bits, 0, -1)) {
                return false;
            }
        }
        checked = op->count;
        break;
    case VGPU_OP_SUM_F32: {
        double ref = 0, abs_sum = 0, tol;

        for (uint64_t i = 0; i < op->count; i++) {
            ref += bf[op->a / 4 + i];
            abs_sum += fabs(bf[op->a / 4 + i]);
        }
        /* two summation orders in double differ by at most n * 2^-52 * sum |x| */
        tol = (double)op->count * ldexp(1.0, -52) * abs_sum;
        if (fabs(sum - ref) > tol) {
            printf("check FAILED: sum %.17g, want %.17g (tolerance %g)\n", sum, ref, tol);
            return false;
        }
        checked = op->count;
        break;
    }
    case VGPU_OP_CUDA: {
        /* a pool without a GPU: every call hears cudaErrorNoDevice; with
         * one (--gpu), DEVICE_COUNT answers 1 and MALLOC a pointer */
        uint32_t want = opt_gpu ? VGPU_CUDA_SUCCESS : VGPU_CUDA_ERROR_NO_DEVICE;
        size_t offset = sizeof(struct vgpu_cuda_batch);
        struct vgpu_cuda_call_view view;

        for (long i = 0; i < vgpu_cuda_batch_open(after + op->a, op->count); i++) {
            uint32_t result;
            uint64_t out[2];
            long at = (long)offset;

            if (!vgpu_cuda_batch_next((unsigned char *)after + op->a, op->count, &offset, &view)) {
                printf("check FAILED: record %ld of the answered batch is malformed\n", i);
                return false;
            }
            vgpu_cuda_record_get(after + op->a, at, &result, out);
            if (result != want || (opt_gpu && out[0] == 0)) {
                printf("check FAILED: record %ld answered %u (out %#llx), want %u\n", i, result,
                       (unsigned long long)out[0], want);
                return false;
            }
            checked++;
        }
        if (sum != want) {
            printf("check FAILED: batch status %g, want %u\n", sum, want);
            return false;
        }
        break;
    }
    case VGPU_OP_SGEMM:
        for (uint32_t i = 0; i < op->m; i++) {
            for (uint32_t j = 0; j < op->n; j++) {
                uint64_t ic = op->out / 4 + (uint64_t)i * op->ldc + j;
                double ref = 0, mag = 0, tol;

                for (uint32_t p = 0; p < op->k; p++) {
                    double x = bf[op->a / 4 + (uint64_t)i * op->lda + p];
                    double y = bf[op->b / 4 + (uint64_t)p * op->ldb + j];

                    ref += x * y;
                    mag += fabs(x * y);
                }
                ref = op->alpha * ref + op->beta * (double)bf[ic];
                /* f32 arithmetic: within 2k ulps of the magnitudes involved */
                tol = 2.0 * op->k * ldexp(1.0, -24) *
                      (fabs(op->alpha) * mag + fabs(op->beta * bf[ic])) + 1e-30;
                if (!element_ok(ic, au[ic], 0, ref, tol)) {
                    return false;
                }
            }
        }
        checked = (uint64_t)op->m * op->n;
        break;
    }
    printf("check ok: %" G_GUINT64_FORMAT " elements, window outside the output unchanged\n",
           checked);
    return true;
}

static void print_identity(const struct wire_msg *m)
{
    struct vgpu_wire_identity id;

    if (vgpu_wire_identity_decode(m->payload, m->hdr.length, &id) != VGPU_OK) {
        printf("identity malformed\n");
        return;
    }
    printf("identity error=%s pool=%c priority=%s vm_id=%u\n", err_name(id.error),
           id.pool_id ? (char)id.pool_id : '-', id.pool_id ? vgpu_priority_name(id.priority) : "-",
           id.vm_id);
}

/* Send the WINDOW that --window asks for (after or before HELLO, as it says). */
static int send_window(int sock, int memfd, uint64_t size)
{
    int fds[2] = { memfd, memfd };

    if (strcmp(opt_window, "no-fd") == 0) {
        return wire_send_window(sock, size, NULL, 0);
    }
    if (strcmp(opt_window, "size-mismatch") == 0) {
        return wire_send_window(sock, size * 2, fds, 1);
    }
    if (strcmp(opt_window, "not-memfd") == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        int rc = wire_send_window(sock, size, &null, 1);

        close(null);
        return rc;
    }
    if (strcmp(opt_window, "two-fds") == 0) {
        return wire_send_window(sock, size, fds, 2);
    }
    if (strcmp(opt_window, "twice") == 0 && wire_send_window(sock, size, fds, 1) < 0) {
        return -1;
    }
    return wire_send_window(sock, size, fds, 1);
}

/* Read until a COMPLETE (returns 1), a close (0) or an error/timeout (< 0). */
static int read_until_complete(int sock, struct wire_msg *m)
{
    for (;;) {
        int rc = wire_read(sock, m, opt_timeout_ms);

        if (rc <= 0) {
            return rc;
        }
        if (m->hdr.type == VGPU_WIRE_COMPLETE) {
            return 1;
        }
        if (m->hdr.type == VGPU_WIRE_IDENTITY) {
            print_identity(m);
        }
    }
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("- a device with a data window");
    g_autoptr(GError) error = NULL;
    static struct wire_msg m;
    struct vgpu_wire_complete_view complete;
    struct vgpu_response_view response;
    struct vgpu_window_op op;
    unsigned char request[VGPU_REQUEST_MAX], frame[VGPU_WIRE_MAX_MESSAGE];
    unsigned char *window, *before;
    uint8_t uuid[16];
    uint64_t size;
    uint32_t expect;
    double sum = 0;
    size_t len;
    int sock, memfd, rc;
    bool sealed;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || !opt_socket || !opt_uuid ||
        !vgpu_uuid_parse(opt_uuid, uuid) ||
        (expect = error_by_name(opt_expect)) == UINT32_MAX ||
        (opt_op && !parse_op(&op))) {
        fprintf(stderr, "window-client: %s\n",
                error ? error->message : "need --socket, --uuid, a known --op and --expect");
        return EXIT_USAGE;
    }
    size = (uint64_t)opt_size;
    sealed = strcmp(opt_window, "unsealed") != 0;
    memfd = wire_window_create(size, sealed);
    sock = wire_connect(opt_socket);
    if (memfd < 0 || sock < 0) {
        perror("window-client: window or connect");
        return EXIT_MISMATCH;
    }
    window = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (window == MAP_FAILED) {
        perror("window-client: mmap");
        return EXIT_MISMATCH;
    }
    fill_window(window, size);
    before = g_memdup2(window, size);

    if (strcmp(opt_window, "before-hello") == 0 && send_window(sock, memfd, size) < 0) {
        perror("window-client: WINDOW");
    }
    if (wire_send_hello(sock, uuid, VGPU_PROTOCOL_VERSION) < 0) {
        perror("window-client: HELLO");
    }
    if (strcmp(opt_window, "none") != 0 && strcmp(opt_window, "before-hello") != 0 &&
        send_window(sock, memfd, size) < 0) {
        perror("window-client: WINDOW");
    }
    if (!opt_op) {
        /* a malformed WINDOW: the mediator should close; print what came */
        while ((rc = wire_read(sock, &m, opt_timeout_ms)) > 0) {
            if (m.hdr.type == VGPU_WIRE_IDENTITY) {
                print_identity(&m);
            }
        }
        printf(rc == 0 ? "closed\n" : "not closed\n");
        return rc == 0 ? 0 : EXIT_TIMEOUT;
    }
    if (op.opcode == VGPU_OP_CUDA) {
        /* a program's first calls: how many GPUs, and some memory */
        struct vgpu_cuda_writer w;
        const uint64_t bytes[] = { 1 << 20 };

        vgpu_cuda_writer_init(&w, window + op.a, size - op.a);
        vgpu_cuda_writer_add(&w, VGPU_CUDA_DEVICE_COUNT, NULL, NULL, 0);
        vgpu_cuda_writer_add(&w, VGPU_CUDA_MALLOC, bytes, NULL, 0);
        memcpy(before + op.a, window + op.a, vgpu_cuda_writer_length(&w));
        op.count = opt_length != -1 ? (uint64_t)opt_length : vgpu_cuda_writer_length(&w);
    }
    len = vgpu_window_op_encode(request, sizeof(request), &op);
    if (wire_send_all(sock, frame, vgpu_wire_submit_encode(frame, sizeof(frame), 1, 1, request,
                                                           len)) < 0) {
        perror("window-client: SUBMIT");
    }
    rc = read_until_complete(sock, &m);
    if (rc <= 0) {
        printf(rc == 0 ? "closed\n" : "no completion\n");
        return rc == 0 ? EXIT_MISMATCH : EXIT_TIMEOUT;
    }
    if (vgpu_wire_complete_decode(m.payload, m.hdr.length, &complete) != VGPU_OK ||
        vgpu_response_decode(complete.response, complete.response_len, &response) != VGPU_OK) {
        printf("complete malformed\n");
        return EXIT_MISMATCH;
    }
    printf("complete error=%s status=%s\n", err_name(complete.error), err_name(response.status));
    if (response.status != expect) {
        return EXIT_MISMATCH;
    }
    if (expect != VGPU_OK) {
        /* refused: not a byte of the window may have changed */
        if (memcmp(before, window, size) != 0) {
            printf("check FAILED: a refused request changed the window\n");
            return EXIT_MISMATCH;
        }
        printf("check ok: window unchanged\n");
        return 0;
    }
    if (op.opcode == VGPU_OP_SUM_F32 && !vgpu_sum_result_load(&response, &sum)) {
        printf("check FAILED: SUM without its result\n");
        return EXIT_MISMATCH;
    }
    if (op.opcode == VGPU_OP_CUDA) {
        if (response.result_count != VGPU_CUDA_RESULTS) {
            printf("check FAILED: CUDA batch without its status\n");
            return EXIT_MISMATCH;
        }
        sum = vgpu_response_result(&response, 0);     /* the batch's status */
    }
    return check_result(&op, before, window, size, sum) ? 0 : EXIT_MISMATCH;
}
