/*
 * vgpu-client's array operations on the data window: vadd, saxpy, sum,
 * sgemm.  Each lays its arrays out in the window, fills them with
 * pseudo-random data of a seed, runs the operation, checks the result
 * against the guest's own computation and prints the time and rate.
 *
 * The data is a pure function of (seed, array, index): the check computes
 * every input anew from it and never reads the inputs back from the window,
 * so an operation that wrote into its inputs, or left its output alone, is
 * caught.  The checks (vgpu-client(1)):
 *   vadd u32, f32, saxpy: every element bit-exact (saxpy with fmaf);
 *   sum:   |got - ref| <= n 2^-52 sum|x|, ref and sum|x| summed in double
 *          (two sums in double each err by at most (n-1) 2^-53 sum|x|);
 *   sgemm: each entry checked within 2 max(k,2) 2^-24 (|alpha| sum_p
 *          |a_ip b_pj| + |beta c_ij|) of a double reference: k-term f32
 *          dot products err by k 2^-24 of that, scaling by alpha and adding
 *          beta c round twice more (hence max(k,2): k = 1 needs 3 2^-24).
 *          Every entry when m n k <= 2^24, else 1024 entries: the first,
 *          the last, and 1022 drawn from the seed.
 */
#include <endian.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client-output.h"
#include "clock.h"
#include "vgpu/codec.h"
#include "vgpu/ops.h"

#define OPS_ALIGN               256u            /* each array starts on a 256-byte boundary */
#define SGEMM_FULL_CHECK_MAX    (1ull << 24)    /* m n k up to which every entry is checked */
#define SGEMM_SAMPLES           1024u
#define SAXPY_DEFAULT_ALPHA     2.0f
#define SGEMM_DEFAULT_ALPHA     1.0f
#define SGEMM_DEFAULT_BETA      0.0f
#define SGEMM_DEFAULT_DIM       256u
#define ARRAY_DEFAULT_SIZE      (1ull << 20)

/* The pseudo-random streams: one per array, one for sgemm's sample. */
enum { STREAM_A, STREAM_B, STREAM_C, STREAM_SAMPLE };

enum window_command { CMD_VADD, CMD_SAXPY, CMD_SUM, CMD_SGEMM, CMD_NONE };

static const char *const command_names[] = {
    [CMD_VADD] = "vadd", [CMD_SAXPY] = "saxpy", [CMD_SUM] = "sum", [CMD_SGEMM] = "sgemm",
};

static enum window_command command_of(const char *name)
{
    for (int c = 0; c < CMD_NONE; c++) {
        if (strcmp(name, command_names[c]) == 0) {
            return (enum window_command)c;
        }
    }
    return CMD_NONE;
}

bool client_is_window_command(const char *command)
{
    return command_of(command) != CMD_NONE;
}

int client_window_check_options(const struct client_options *opts, const char *command)
{
    /* Each operation option and the commands it belongs to (bit per command). */
    const struct {
        bool given;
        const char *name;
        unsigned commands;
        const char *which;
    } table[] = {
        { opts->type_given, "--type", 1u << CMD_VADD, "vadd" },
        { opts->size_given, "--size", 1u << CMD_VADD | 1u << CMD_SAXPY | 1u << CMD_SUM,
          "vadd, saxpy and sum" },
        { opts->alpha_given, "--alpha", 1u << CMD_SAXPY | 1u << CMD_SGEMM, "saxpy and sgemm" },
        { opts->beta_given, "--beta", 1u << CMD_SGEMM, "sgemm" },
        { opts->m_given, "--m", 1u << CMD_SGEMM, "sgemm" },
        { opts->n_given, "--n", 1u << CMD_SGEMM, "sgemm" },
        { opts->k_given, "--k", 1u << CMD_SGEMM, "sgemm" },
        { opts->seed_given, "--seed", 0xfu, "vadd, saxpy, sum and sgemm" },
        { opts->unchecked, "--unchecked", 0xfu, "vadd, saxpy, sum and sgemm" },
    };
    enum window_command c = command_of(command);

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (table[i].given && (c == CMD_NONE || !(table[i].commands & (1u << c)))) {
            return client_usage_error("%s is for %s, not %s", table[i].name, table[i].which,
                                      command);
        }
    }
    return CLIENT_EXIT_OK;
}

/* --- the data: a pure function of (seed, stream, index) --- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t stream_key(uint64_t seed, unsigned stream)
{
    return mix64(seed ^ mix64(UINT64_C(0x9e3779b97f4a7c15) * (stream + 1)));
}

static uint64_t gen_bits(uint64_t key, uint64_t i)
{
    return mix64(key + (i + 1) * UINT64_C(0x9e3779b97f4a7c15));
}

static uint32_t gen_u32(uint64_t key, uint64_t i)
{
    return (uint32_t)(gen_bits(key, i) >> 32);
}

/*
 * A float of either sign, magnitude in [2^-4, 2^4) with all 23 mantissa
 * bits random: sums and products round, so bit-exact checks mean something.
 */
static float gen_f32(uint64_t key, uint64_t i)
{
    uint64_t b = gen_bits(key, i);
    uint32_t sign = (uint32_t)(b >> 63) << 31;
    uint32_t exponent = 127 - 4 + (uint32_t)((b >> 32) & 7);

    return vgpu_f32_from_bits(sign | exponent << 23 | ((uint32_t)b & 0x7fffffu));
}

/* --- the window: little-endian 32-bit elements --- */

static uint32_t *window_words(void *base, uint64_t offset)
{
    return (uint32_t *)((unsigned char *)base + offset);
}

static void put_f32(uint32_t *w, uint64_t i, float f)
{
    w[i] = htole32(vgpu_f32_to_bits(f));
}

static float get_f32(const uint32_t *w, uint64_t i)
{
    return vgpu_f32_from_bits(le32toh(w[i]));
}

/* --- a plan: the operation, its layout and what it moves --- */

struct plan {
    enum window_command command;
    struct vgpu_window_op op;
    const char *op_name;
    uint64_t array_bytes;       /* vadd, saxpy, sum: each array */
    uint64_t end;               /* bytes of window the layout needs */
    double bytes_moved;         /* inputs + output */
    double flops;               /* sgemm: 2 m n k */
    struct client_op_report report;
};

static uint64_t align_up(uint64_t v)
{
    return (v + OPS_ALIGN - 1) / OPS_ALIGN * OPS_ALIGN;
}

static void plan_make(const struct client_options *opts, enum window_command command,
                      struct plan *p)
{
    uint64_t bytes = opts->size_given ? opts->size : ARRAY_DEFAULT_SIZE;
    struct vgpu_window_op *op = &p->op;

    memset(p, 0, sizeof(*p));
    p->command = command;
    p->report.command = command_names[command];
    p->report.seed = opts->seed;
    switch (command) {
    case CMD_VADD:
        op->opcode = opts->type == CLIENT_TYPE_F32 ? VGPU_OP_ADD_F32 : VGPU_OP_ADD_U32;
        op->count = bytes / VGPU_ELEMENT_SIZE;
        op->a = 0;
        op->b = align_up(bytes);
        op->out = align_up(op->b + bytes);
        p->end = op->out + bytes;
        p->bytes_moved = 3.0 * (double)bytes;
        p->report.type = opts->type == CLIENT_TYPE_F32 ? "f32" : "u32";
        break;
    case CMD_SAXPY:
        op->opcode = VGPU_OP_SAXPY;
        op->count = bytes / VGPU_ELEMENT_SIZE;
        op->a = 0;
        op->out = align_up(bytes);
        op->alpha = opts->alpha_given ? opts->alpha : SAXPY_DEFAULT_ALPHA;
        p->end = op->out + bytes;
        p->bytes_moved = 3.0 * (double)bytes;       /* x and y in, y out */
        p->report.has_alpha = true;
        break;
    case CMD_SUM:
        op->opcode = VGPU_OP_SUM_F32;
        op->count = bytes / VGPU_ELEMENT_SIZE;
        op->a = 0;
        p->end = bytes;
        p->bytes_moved = (double)bytes;             /* the 8-byte sum comes in the response */
        break;
    case CMD_SGEMM:
    default:
        op->opcode = VGPU_OP_SGEMM;
        op->m = opts->m_given ? opts->m : SGEMM_DEFAULT_DIM;
        op->n = opts->n_given ? opts->n : SGEMM_DEFAULT_DIM;
        op->k = opts->k_given ? opts->k : SGEMM_DEFAULT_DIM;
        op->lda = op->k;
        op->ldb = op->n;
        op->ldc = op->n;
        op->alpha = opts->alpha_given ? opts->alpha : SGEMM_DEFAULT_ALPHA;
        op->beta = opts->beta_given ? opts->beta : SGEMM_DEFAULT_BETA;
        op->a = 0;
        op->b = align_up((uint64_t)op->m * op->k * VGPU_ELEMENT_SIZE);
        op->out = align_up(op->b + (uint64_t)op->k * op->n * VGPU_ELEMENT_SIZE);
        p->end = op->out + (uint64_t)op->m * op->n * VGPU_ELEMENT_SIZE;
        p->flops = 2.0 * op->m * op->n * (double)op->k;
        p->report.has_alpha = p->report.has_beta = true;
        bytes = 0;
        break;
    }
    p->array_bytes = bytes;
    p->op_name = vgpu_opcode_lookup(op->opcode)->name;
    p->report.op = p->op_name;
    p->report.size = bytes;
    p->report.count = op->count;
    p->report.m = op->m;
    p->report.n = op->n;
    p->report.k = op->k;
    p->report.alpha = op->alpha;
    p->report.beta = op->beta;
}

/* "a at 0, b at 1048576, out at 2097152" */
static void plan_layout_text(const struct plan *p, char *buf, size_t cap)
{
    const struct vgpu_window_op *op = &p->op;

    switch (p->command) {
    case CMD_VADD:
        snprintf(buf, cap, "a at 0, b at %" PRIu64 ", out at %" PRIu64, op->b, op->out);
        break;
    case CMD_SAXPY:
        snprintf(buf, cap, "x at 0, y at %" PRIu64, op->out);
        break;
    case CMD_SUM:
        snprintf(buf, cap, "x at 0");
        break;
    default:
        snprintf(buf, cap, "A at 0, B at %" PRIu64 ", C at %" PRIu64, op->b, op->out);
        break;
    }
}

/* --- filling --- */

static void fill(const struct plan *p, void *base)
{
    const struct vgpu_window_op *op = &p->op;
    uint64_t ka = stream_key(p->report.seed, STREAM_A);
    uint64_t kb = stream_key(p->report.seed, STREAM_B);
    uint64_t kc = stream_key(p->report.seed, STREAM_C);
    uint32_t *a = window_words(base, op->a), *b = window_words(base, op->b);
    uint32_t *out = window_words(base, op->out);

    switch (op->opcode) {
    case VGPU_OP_ADD_U32:
        for (uint64_t i = 0; i < op->count; i++) {
            a[i] = htole32(gen_u32(ka, i));
            b[i] = htole32(gen_u32(kb, i));
        }
        /* an output left alone reads 0xffffffff: a NaN, and a + b only by chance */
        memset(out, 0xff, op->count * VGPU_ELEMENT_SIZE);
        break;
    case VGPU_OP_ADD_F32:
        for (uint64_t i = 0; i < op->count; i++) {
            put_f32(a, i, gen_f32(ka, i));
            put_f32(b, i, gen_f32(kb, i));
        }
        memset(out, 0xff, op->count * VGPU_ELEMENT_SIZE);
        break;
    case VGPU_OP_SAXPY:
        for (uint64_t i = 0; i < op->count; i++) {
            put_f32(a, i, gen_f32(ka, i));
            put_f32(out, i, gen_f32(kc, i));
        }
        break;
    case VGPU_OP_SUM_F32:
        for (uint64_t i = 0; i < op->count; i++) {
            put_f32(a, i, gen_f32(ka, i));
        }
        break;
    case VGPU_OP_SGEMM:
        for (uint64_t i = 0; i < (uint64_t)op->m * op->k; i++) {
            put_f32(a, i, gen_f32(ka, i));
        }
        for (uint64_t i = 0; i < (uint64_t)op->k * op->n; i++) {
            put_f32(b, i, gen_f32(kb, i));
        }
        /* C is an input too (beta C); finite, so beta 0 gives exactly 0 */
        for (uint64_t i = 0; i < (uint64_t)op->m * op->n; i++) {
            put_f32(out, i, gen_f32(kc, i));
        }
        break;
    }
}

/* --- checking --- */

struct check {
    bool ok;
    char message[512];          /* what is wrong, naming the first bad index */
    uint64_t index;             /* that index */
};

static bool check_fail(struct check *c, uint64_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool check_fail(struct check *c, uint64_t index, const char *fmt, ...)
{
    va_list ap;

    c->ok = false;
    c->index = index;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof(c->message), fmt, ap);
    va_end(ap);
    return false;
}

static bool check_add_u32(const struct plan *p, const void *base, struct check *c)
{
    const struct vgpu_window_op *op = &p->op;
    uint64_t ka = stream_key(p->report.seed, STREAM_A);
    uint64_t kb = stream_key(p->report.seed, STREAM_B);
    const uint32_t *out = window_words((void *)base, op->out);

    for (uint64_t i = 0; i < op->count; i++) {
        uint32_t a = gen_u32(ka, i), b = gen_u32(kb, i), want = a + b;
        uint32_t got = le32toh(out[i]);

        if (got != want) {
            return check_fail(c, i, "ADD_U32 result is wrong at element %" PRIu64 " of %" PRIu64
                              ": got %" PRIu32 " (0x%08" PRIx32 "), expected %" PRIu32
                              " (0x%08" PRIx32 ") = %" PRIu32 " + %" PRIu32 " mod 2^32",
                              i, op->count, got, got, want, want, a, b);
        }
    }
    return true;
}

/* Element-wise f32 results, bit for bit: ADD_F32 and SAXPY. */
static bool check_f32_elementwise(const struct plan *p, const void *base, struct check *c)
{
    const struct vgpu_window_op *op = &p->op;
    uint64_t ka = stream_key(p->report.seed, STREAM_A);
    uint64_t kb = stream_key(p->report.seed, STREAM_B);
    uint64_t kc = stream_key(p->report.seed, STREAM_C);
    const uint32_t *out = window_words((void *)base, op->out);
    bool saxpy = op->opcode == VGPU_OP_SAXPY;

    for (uint64_t i = 0; i < op->count; i++) {
        float x = gen_f32(ka, i), y = saxpy ? gen_f32(kc, i) : gen_f32(kb, i);
        float want = saxpy ? fmaf(op->alpha, x, y) : x + y;
        float got = get_f32(out, i);

        if (vgpu_f32_to_bits(got) != vgpu_f32_to_bits(want)) {
            if (saxpy) {
                return check_fail(c, i, "SAXPY result is wrong at element %" PRIu64 " of %"
                                  PRIu64 ": got %.9g (0x%08" PRIx32 "), expected %.9g (0x%08"
                                  PRIx32 ") = fmaf(%.9g, %.9g, %.9g)", i, op->count, got,
                                  vgpu_f32_to_bits(got), want, vgpu_f32_to_bits(want), op->alpha, x, y);
            }
            return check_fail(c, i, "ADD_F32 result is wrong at element %" PRIu64 " of %" PRIu64
                              ": got %.9g (0x%08" PRIx32 "), expected %.9g (0x%08" PRIx32
                              ") = %.9g + %.9g", i, op->count, got, vgpu_f32_to_bits(got), want,
                              vgpu_f32_to_bits(want), x, y);
        }
    }
    return true;
}

static bool check_sum(struct plan *p, double got, struct check *c)
{
    const struct vgpu_window_op *op = &p->op;
    uint64_t ka = stream_key(p->report.seed, STREAM_A);
    double ref = 0, abs_sum = 0, bound, error;

    for (uint64_t i = 0; i < op->count; i++) {
        double x = gen_f32(ka, i);

        ref += x;
        abs_sum += fabs(x);
    }
    bound = (double)op->count * ldexp(1.0, -52) * abs_sum;
    error = fabs(got - ref);
    p->report.sum = got;
    p->report.reference = ref;
    p->report.bound = bound;
    p->report.max_error_ratio = bound > 0 ? error / bound : 0;
    if (!(error <= bound)) {
        return check_fail(c, 0, "SUM_F32 result is wrong: got %.17g, expected %.17g within "
                          "%.3g (n 2^-52 sum|x| for n %" PRIu64 "), off by %.3g", got, ref,
                          bound, op->count, error);
    }
    return true;
}

/* One SGEMM entry against its reference; *ratio gets error / bound. */
static bool check_sgemm_entry(const struct plan *p, const uint32_t *out, uint64_t i, uint64_t j,
                              double dot, double abs_dot, struct check *c, double *ratio)
{
    const struct vgpu_window_op *op = &p->op;
    double c0 = gen_f32(stream_key(p->report.seed, STREAM_C), i * op->n + j);
    double ref = (double)op->alpha * dot + (double)op->beta * c0;
    double scale = fabs((double)op->alpha) * abs_dot + fabs((double)op->beta * c0);
    double bound = 2.0 * (op->k < 2 ? 2 : op->k) * ldexp(1.0, -24) * scale;
    double got = get_f32(out, i * op->ldc + j);
    double error = fabs(got - ref);

    *ratio = bound > 0 ? error / bound : 0;
    if (!(error <= bound)) {
        return check_fail(c, i * op->n + j, "SGEMM result is wrong at C[%" PRIu64 "][%" PRIu64
                          "] (entry %" PRIu64 "): got %.9g, expected %.9g within %.3g "
                          "(2 max(k,2) 2^-24 (|alpha| sum|a||b| + |beta c|)), off by %.3g",
                          i, j, i * op->n + j, got, ref, bound, error);
    }
    return true;
}

static bool check_sgemm(struct plan *p, const void *base, struct check *c)
{
    const struct vgpu_window_op *op = &p->op;
    uint64_t ka = stream_key(p->report.seed, STREAM_A);
    uint64_t kb = stream_key(p->report.seed, STREAM_B);
    uint64_t entries = (uint64_t)op->m * op->n;
    const uint32_t *out = window_words((void *)base, op->out);
    bool full = (uint64_t)op->m * op->n * op->k <= SGEMM_FULL_CHECK_MAX ||
                entries <= SGEMM_SAMPLES;
    double ratio, worst = 0;
    bool ok = true;

    p->report.total = entries;
    if (full) {
        /* row by row: acc[j] = sum_p a_ip b_pj, with B made once */
        float *bm = malloc((size_t)op->k * op->n * sizeof(*bm));
        float *arow = malloc((size_t)op->k * sizeof(*arow));
        double *acc = malloc((size_t)op->n * sizeof(*acc));
        double *abs_acc = malloc((size_t)op->n * sizeof(*abs_acc));

        if (!bm || !arow || !acc || !abs_acc) {
            free(bm), free(arow), free(acc), free(abs_acc);
            return check_fail(c, 0, "out of memory for SGEMM's reference");
        }
        for (uint64_t x = 0; x < (uint64_t)op->k * op->n; x++) {
            bm[x] = gen_f32(kb, x);
        }
        for (uint64_t i = 0; i < op->m && ok; i++) {
            for (uint64_t q = 0; q < op->k; q++) {
                arow[q] = gen_f32(ka, i * op->k + q);
            }
            memset(acc, 0, op->n * sizeof(*acc));
            memset(abs_acc, 0, op->n * sizeof(*abs_acc));
            for (uint64_t q = 0; q < op->k; q++) {
                const float *brow = bm + q * op->n;

                for (uint64_t j = 0; j < op->n; j++) {
                    double t = (double)arow[q] * (double)brow[j];

                    acc[j] += t;
                    abs_acc[j] += fabs(t);
                }
            }
            for (uint64_t j = 0; j < op->n && ok; j++) {
                ok = check_sgemm_entry(p, out, i, j, acc[j], abs_acc[j], c, &ratio);
                worst = ratio > worst ? ratio : worst;
            }
        }
        free(bm), free(arow), free(acc), free(abs_acc);
        p->report.checked = entries;
        p->report.check_mode = "all";
    } else {
        uint64_t ks = stream_key(p->report.seed, STREAM_SAMPLE);

        for (uint64_t s = 0; s < SGEMM_SAMPLES && ok; s++) {
            uint64_t e = s == 0 ? 0 : s == 1 ? entries - 1 : gen_bits(ks, s) % entries;
            uint64_t i = e / op->n, j = e % op->n;
            double dot = 0, abs_dot = 0;

            for (uint64_t q = 0; q < op->k; q++) {
                double t = (double)gen_f32(ka, i * op->k + q) * (double)gen_f32(kb, q * op->n + j);

                dot += t;
                abs_dot += fabs(t);
            }
            ok = check_sgemm_entry(p, out, i, j, dot, abs_dot, c, &ratio);
            worst = ratio > worst ? ratio : worst;
        }
        p->report.checked = SGEMM_SAMPLES;
        p->report.check_mode = "sample";
    }
    p->report.max_error_ratio = worst;
    return ok;
}

static bool check(struct plan *p, const void *base, double sum, struct check *c)
{
    c->ok = true;
    p->report.total = p->op.count;
    p->report.checked = p->op.count;
    p->report.check_mode = "bit-exact";
    switch (p->op.opcode) {
    case VGPU_OP_ADD_U32:
        return check_add_u32(p, base, c);
    case VGPU_OP_ADD_F32:
    case VGPU_OP_SAXPY:
        return check_f32_elementwise(p, base, c);
    case VGPU_OP_SUM_F32:
        p->report.check_mode = "bound";
        return check_sum(p, sum, c);
    default:
        return check_sgemm(p, base, c);
    }
}

/* --- running --- */

/*
 * --unchecked with arrays outside the window: send the request as encoded,
 * without libvgpu's check, to see the host refuse it.
 */
static int run_unchecked(const struct client_options *opts, vgpu_device *dev,
                         const struct plan *p, uint64_t window_size)
{
    unsigned char request[VGPU_REQUEST_MAX], response[VGPU_RESPONSE_MAX];
    struct vgpu_completion c;
    enum vgpu_result r;
    char message[256];
    size_t len = vgpu_window_op_encode(request, sizeof(request), &p->op);

    r = vgpu_device_submit(dev, request, len, response, sizeof(response), &c);
    if (r != VGPU_RESULT_OK) {
        client_print_error(opts->json, r, &c);
        return client_exit_code(r, false);
    }
    snprintf(message, sizeof(message), "the device ran %s request %" PRIu32 " whose arrays end "
             "at byte %" PRIu64 ", past its %" PRIu64 "-byte window: the host did not check it",
             p->op_name, c.request_id, p->end, window_size);
    client_print_failure(opts->json, "NOT_REFUSED", message, NULL);
    return CLIENT_EXIT_FAILURE;
}

static int run_checked(const struct client_options *opts, vgpu_device *dev, struct plan *p,
                       void *base)
{
    struct client_op_report *report = &p->report;
    struct vgpu_device_info info;
    struct check result;
    enum vgpu_result r;
    uint64_t start, ns;
    double sum = 0;

    r = vgpu_device_window_lock(dev);
    if (r != VGPU_RESULT_OK) {
        client_print_error(opts->json, r, NULL);
        return client_exit_code(r, false);
    }
    fill(p, base);
    start = vgpu_clock_now_ns();
    r = vgpu_device_run_op(dev, &p->op, &sum, &report->exec_time_us, &report->completion);
    ns = vgpu_clock_now_ns() - start;
    if (r != VGPU_RESULT_OK) {
        vgpu_device_window_unlock(dev);
        client_print_error(opts->json, r, &report->completion);
        return client_exit_code(r, false);
    }
    check(p, base, sum, &result);
    vgpu_device_window_unlock(dev);
    if (!result.ok) {
        client_print_failure(opts->json, "WRONG_RESULT", result.message, &result.index);
        return CLIENT_EXIT_WRONG_RESULT;
    }
    ns = ns ? ns : 1;
    vgpu_device_info(dev, &info);
    report->wait = info.wait;
    report->time_us = (double)ns / VGPU_NS_PER_US;
    report->bytes_moved = p->bytes_moved;
    report->flops = p->flops;
    report->rate = (p->flops ? p->flops : p->bytes_moved) / (double)ns;  /* G per s */
    client_print_op(opts->json, report);
    return CLIENT_EXIT_OK;
}

int client_window_command(const struct client_options *opts, const char *command)
{
    struct plan p;
    uint64_t window_size;
    enum vgpu_result r;
    vgpu_device *dev;
    void *base;
    int status;

    plan_make(opts, command_of(command), &p);
    status = client_open(opts, &dev);
    if (status != CLIENT_EXIT_OK) {
        return status;
    }
    r = vgpu_device_window(dev, &base, &window_size);
    if (r != VGPU_RESULT_OK) {
        client_print_error(opts->json, r, NULL);
        vgpu_device_close(dev);
        return client_exit_code(r, false);
    }
    p.report.window_size = window_size;
    if (p.end > window_size && opts->unchecked) {
        status = run_unchecked(opts, dev, &p, window_size);
    } else if (p.end > window_size) {
        struct vgpu_device_info info;
        char layout[160];

        /* a usage error: on stderr only, as the others (vgpu-client(1)) */
        vgpu_device_info(dev, &info);
        plan_layout_text(&p, layout, sizeof(layout));
        fprintf(stderr, "vgpu-client: %s does not fit the data window of %s: its arrays (%s) "
                "need %" PRIu64 " bytes, the window has %" PRIu64 "\n", command, info.address,
                layout, p.end, window_size);
        status = CLIENT_EXIT_USAGE;
    } else {
        status = run_checked(opts, dev, &p, base);
    }
    vgpu_device_close(dev);
    return status;
}
