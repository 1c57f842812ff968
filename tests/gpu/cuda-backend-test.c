/*
 * On a GPU host: the cuda plugin runs VECTOR_ADD on every GPU with the same
 * results as the CPU reference (edge values and random ones), and a GPU
 * fault (the fault-injection build's illegal store) ends that request in
 * BACKEND with CUDA's error string while the next request succeeds after
 * recover().
 *
 * The data window (GPU 0): every array opcode on the cuda plugin against
 * the cpu backend on a copy of the same window, from one element to the
 * whole window: ADD_U32, ADD_F32 and SAXPY bit for bit (NaN against NaN:
 * payloads may differ), SUM and SGEMM within docs/gpu.md's bounds against a
 * double reference, element by element; nothing outside the output range
 * written; two windows in turn; windows released (the worker drops them
 * while idle) and new ones; more windows than a worker holds; a pinned
 * budget smaller than one window; and the worker's own range check.
 *
 * Lanes (GPU 0): VECTOR_ADDs on every slot at once are right and overlap
 * on the GPU; a window request on any slot; a fault on one lane while the
 * others run ends the worker without leaving any call hanging, and
 * recover() brings a fresh one that serves every lane.
 * Run by `make gpu-test`.
 */
#include <dirent.h>   /* _GNU_SOURCE: MEDIATOR_CFLAGS */
#include <fcntl.h>
#include <glib.h>
#include <gmodule.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vgpu/backend.h"
#include "cuda-worker.h"

static const struct vgpu_backend_ops *load(const char *path)
{
    vgpu_backend_entry_fn entry;
    GModule *module = g_module_open(path, G_MODULE_BIND_LOCAL);

    if (!module) {
        g_error("loading %s: %s", path, g_module_error());
    }
    g_assert_true(g_module_symbol(module, VGPU_BACKEND_ENTRY_SYMBOL, (gpointer *)&entry));
    return entry();
}

static void *open_unit(const struct vgpu_backend_ops *ops, int index,
                       struct vgpu_backend_unit_info *info)
{
    struct vgpu_backend_unit_config config = { .index = index };
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    void *unit = ops->open(&config, info, err, sizeof(err));

    if (!unit) {
        g_error("opening GPU %d: %s", index, err);
    }
    return unit;
}

/* Run VECTOR_ADD a + b on the unit's slot; returns the backend's error code. */
static uint32_t run_add_on(const struct vgpu_backend_ops *ops, void *unit, unsigned slot,
                           uint32_t a, uint32_t b, uint32_t *sum, char *err, size_t err_size)
{
    unsigned char buf[VGPU_REQUEST_MAX];
    uint32_t results[VGPU_RESPONSE_MAX_RESULTS];
    struct vgpu_request_view view;
    uint32_t count = 0, status;
    uint64_t exec_ns = 0;
    size_t len = vgpu_request_encode_vector_add(buf, sizeof(buf), a, b);

    g_assert_cmpuint(vgpu_request_decode(buf, len, &view), ==, VGPU_OK);
    status = ops->execute(unit, &(struct vgpu_backend_job){ .request = &view, .slot = slot },
                          results, &count, &exec_ns, err, err_size);
    if (status == VGPU_OK) {
        g_assert_cmpuint(count, ==, VGPU_VECTOR_ADD_RESULTS);
        g_assert_cmpuint(exec_ns, >, 0);
        *sum = results[0];
    }
    return status;
}

static uint32_t run_add(const struct vgpu_backend_ops *ops, void *unit, uint32_t a, uint32_t b,
                        uint32_t *sum, char *err, size_t err_size)
{
    return run_add_on(ops, unit, 0, a, b, sum, err, err_size);
}

static uint32_t reference_add(uint32_t a, uint32_t b)
{
    const struct vgpu_backend_ops *cpu = vgpu_backend_cpu();
    static void *cpu_unit;
    struct vgpu_backend_unit_info info;
    char err[VGPU_BACKEND_ERROR_MAX];
    uint32_t sum = 0;

    if (!cpu_unit) {
        cpu_unit = open_unit(cpu, 0, &info);
    }
    g_assert_cmpuint(run_add(cpu, cpu_unit, a, b, &sum, err, sizeof(err)), ==, VGPU_OK);
    return sum;
}

static void test_vector_add_matches_cpu_on_every_gpu(void)
{
    const struct vgpu_backend_ops *ops = load(VGPU_CUDA_PLUGIN_PATH);
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    int count = ops->probe(err, sizeof(err));
    const uint32_t edges[][2] = {
        { 0, 0 }, { 0xffffffffu, 1 }, { 0xffffffffu, 0xffffffffu }, { 0x80000000u, 0x80000000u },
        { 1, 2 }, { 123456789u, 987654321u },
    };
    GRand *rand = g_rand_new_with_seed(7);

    g_assert_cmpint(count, >=, 1);
    for (int gpu = 0; gpu < count; gpu++) {
        struct vgpu_backend_unit_info info;
        void *unit = open_unit(ops, gpu, &info);

        g_test_message("GPU %d: %s, %.1f GiB, compute %d.%d", gpu, info.name,
                       info.memory_bytes / 1073741824.0, info.compute_major, info.compute_minor);
        g_assert_cmpuint(info.memory_bytes, >, 0);
        g_assert_cmpint(info.compute_major, >=, 7);
        for (size_t i = 0; i < G_N_ELEMENTS(edges); i++) {
            uint32_t sum = 0;

            g_assert_cmpuint(run_add(ops, unit, edges[i][0], edges[i][1], &sum, err, sizeof(err)),
                             ==, VGPU_OK);
            g_assert_cmpuint(sum, ==, reference_add(edges[i][0], edges[i][1]));
        }
        g_assert_cmpuint(reference_add(0xffffffffu, 1), ==, 0);   /* the wrap is real */
        for (int i = 0; i < 2000; i++) {
            uint32_t a = g_rand_int(rand), b = g_rand_int(rand), sum = 0;

            g_assert_cmpuint(run_add(ops, unit, a, b, &sum, err, sizeof(err)), ==, VGPU_OK);
            g_assert_cmpuint(sum, ==, reference_add(a, b));
        }
        ops->close(unit);
    }
    g_rand_free(rand);
}

static void test_gpu_fault_ends_in_backend_error_then_recovers(void)
{
    const struct vgpu_backend_ops *ops = load(VGPU_CUDA_FAULT_PLUGIN_PATH);
    struct vgpu_backend_unit_info info;
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    void *unit = open_unit(ops, 0, &info);
    uint32_t sum = 0;

    g_assert_cmpuint(run_add(ops, unit, 40, 2, &sum, err, sizeof(err)), ==, VGPU_OK);
    g_assert_cmpuint(sum, ==, 42);
    g_assert_cmpuint(run_add(ops, unit, 0xfa017u, 1, &sum, err, sizeof(err)),
                     ==, VGPU_ERR_BACKEND);
    g_test_message("fault: %s", err);
    g_assert_nonnull(strstr(err, "illegal"));
    if (!ops->recover(unit, err, sizeof(err))) {
        g_error("recover() failed: %s", err);
    }
    g_assert_cmpuint(run_add(ops, unit, 0xffffffffu, 3, &sum, err, sizeof(err)), ==, VGPU_OK);
    g_assert_cmpuint(sum, ==, 2);
    ops->close(unit);
}

/* ---- the data window ------------------------------------------------------ */

#define WIN_SIZE        (64ull << 20)   /* the default window: 16M elements */
#define WIN_ELEMS       (WIN_SIZE / 4)

/* A window as the mediator holds it: a sealed memfd, mapped. */
struct win {
    struct vgpu_backend_window w;
    char name[64];
};

static uint64_t next_window_id = 1;

static void win_open(struct win *x, uint64_t size)
{
    int fd;
    void *base;

    x->w.id = next_window_id++;
    snprintf(x->name, sizeof(x->name), "vgpu-test-window-%llu", (unsigned long long)x->w.id);
    fd = memfd_create(x->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, (off_t)size), ==, 0);
    g_assert_cmpint(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), ==, 0);
    base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    g_assert_true(base != MAP_FAILED);
    x->w.fd = fd;
    x->w.base = base;
    x->w.size = size;
}

static void win_close(struct win *x)
{
    munmap(x->w.base, x->w.size);
    close(x->w.fd);
}

/* Encode op as a request, check it as the mediator does, run it on the unit's slot. */
static uint32_t run_op(const struct vgpu_backend_ops *ops, void *unit, unsigned slot,
                       const struct vgpu_window_op *op, struct win *x, uint32_t *results,
                       uint32_t *count, char *err, size_t err_size)
{
    unsigned char buf[VGPU_REQUEST_MAX];
    struct vgpu_request_view view;
    struct vgpu_window_op checked;
    uint64_t exec_ns = 0;
    size_t len = vgpu_window_op_encode(buf, sizeof(buf), op);

    *count = 0;
    g_assert_cmpuint(len, >, 0);
    g_assert_cmpuint(vgpu_request_decode(buf, len, &view), ==, VGPU_OK);
    g_assert_cmpuint(vgpu_window_op_decode(&view, x->w.size, &checked), ==, VGPU_OK);
    return ops->execute(unit, &(struct vgpu_backend_job){ .request = &view, .op = &checked,
                                                          .window = &x->w, .slot = slot },
                        results, count, &exec_ns, err, err_size);
}

static const struct vgpu_backend_ops *cuda_plugin(void)
{
    static const struct vgpu_backend_ops *ops;

    if (!ops) {
        ops = load(VGPU_CUDA_PLUGIN_PATH);
    }
    return ops;
}

static void *cpu_unit(void)
{
    static void *unit;
    struct vgpu_backend_unit_info info;

    if (!unit) {
        unit = open_unit(vgpu_backend_cpu(), 0, &info);
    }
    return unit;
}

/* The GPU's window and the cpu's copy of it: same contents, same ops. */
struct pair {
    void *gpu;          /* the cuda unit */
    struct win g, c;
};

static void pair_open(struct pair *p, void *gpu, uint64_t size)
{
    p->gpu = gpu;
    win_open(&p->g, size);
    win_open(&p->c, size);
}

static void pair_sync(struct pair *p)
{
    memcpy(p->c.w.base, p->g.w.base, p->g.w.size);
}

static void pair_close(struct pair *p)
{
    const struct vgpu_backend_ops *ops = cuda_plugin();

    ops->window_released(p->gpu, p->g.w.id);
    win_close(&p->g);
    win_close(&p->c);
}

static bool f32_is_nan(uint32_t w)
{
    return (w & 0x7f800000u) == 0x7f800000u && (w & 0x007fffffu);
}

/* Run op on both; both succeed.  SUM's results come back in *gpu_sum and *cpu_sum. */
static void pair_run(struct pair *p, const struct vgpu_window_op *op, double *gpu_sum,
                     double *cpu_sum)
{
    uint32_t gr[VGPU_RESPONSE_MAX_RESULTS], cr[VGPU_RESPONSE_MAX_RESULTS], gn, cn;
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    uint32_t status;

    status = run_op(cuda_plugin(), p->gpu, 0, op, &p->g, gr, &gn, err, sizeof(err));
    if (status != VGPU_OK) {
        g_error("cuda: opcode 0x%04x count %llu: %s", op->opcode, (unsigned long long)op->count,
                err);
    }
    status = run_op(vgpu_backend_cpu(), cpu_unit(), 0, op, &p->c, cr, &cn, err, sizeof(err));
    if (status != VGPU_OK) {
        g_error("cpu: opcode 0x%04x: %s", op->opcode, err);
    }
    g_assert_cmpuint(gn, ==, cn);
    if (op->opcode == VGPU_OP_SUM_F32) {
        g_assert_cmpuint(gn, ==, VGPU_SUM_RESULTS);
        memcpy(gpu_sum, &(uint64_t){ (uint64_t)gr[0] | (uint64_t)gr[1] << 32 }, 8);
        memcpy(cpu_sum, &(uint64_t){ (uint64_t)cr[0] | (uint64_t)cr[1] << 32 }, 8);
    } else {
        g_assert_cmpuint(gn, ==, 0);
    }
}

/*
 * The two windows are the same word for word, except that in [from, to)
 * a word may be NaN in both (f32 results: the GPU's NaN is canonical).
 * Returns how many words differ otherwise.
 */
static uint64_t pair_diff(struct pair *p, uint64_t nan_from, uint64_t nan_to)
{
    const uint32_t *g = (const uint32_t *)p->g.w.base, *c = (const uint32_t *)p->c.w.base;
    uint64_t words = p->g.w.size / 4, bad = 0;

    if (memcmp(g, c, p->g.w.size) == 0) {
        return 0;
    }
    for (uint64_t i = 0; i < words; i++) {
        if (g[i] != c[i] && !(i * 4 >= nan_from && i * 4 < nan_to && f32_is_nan(g[i]) &&
                              f32_is_nan(c[i]))) {
            if (bad++ < 5) {
                g_test_message("word %llu (byte %llu): gpu 0x%08x cpu 0x%08x",
                               (unsigned long long)i, (unsigned long long)i * 4, g[i], c[i]);
            }
        }
    }
    return bad;
}

/* A float of every kind: specials, denormals, and ordinary values of wide range. */
static uint32_t random_f32_bits(GRand *r)
{
    static const uint32_t specials[] = {
        0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7fa00001u,
        0x00000001u, 0x807fffffu, 0x7f7fffffu, 0xff7fffffu, 0x00800000u, 0x3f800000u,
    };
    uint32_t pick = g_rand_int_range(r, 0, 64);

    if (pick == 0) {
        return specials[g_rand_int_range(r, 0, G_N_ELEMENTS(specials))];
    }
    if (pick == 1) {
        return g_rand_int(r) & 0x807fffffu;                     /* a denormal */
    }
    /* exponents 2^-40 .. 2^40 meet in sums and products, rounding every way */
    return (g_rand_int(r) & 0x807fffffu) | (uint32_t)g_rand_int_range(r, 87, 167) << 23;
}

static void fill_words(struct win *x, uint64_t from, uint64_t count, GRand *r, bool floats)
{
    uint32_t *w = (uint32_t *)(x->w.base + from);

    for (uint64_t i = 0; i < count; i++) {
        w[i] = floats ? random_f32_bits(r) : g_rand_int(r);
    }
}

static void fill_finite(struct win *x, uint64_t from, uint64_t count, GRand *r)
{
    float *f = (float *)(x->w.base + from);

    for (uint64_t i = 0; i < count; i++) {
        f[i] = (float)ldexp(g_rand_double_range(r, -1.0, 1.0), g_rand_int_range(r, -20, 21));
    }
}

static void test_window_elementwise_bit_exact(void)
{
    const struct vgpu_backend_ops *ops = cuda_plugin();
    struct vgpu_backend_unit_info info;
    void *unit = open_unit(ops, 0, &info);
    const uint64_t counts[] = { 1, 3, 1023, 1024 * 1024 + 7, 4 * 1024 * 1024 + 1, WIN_ELEMS / 3 };
    const float alphas[] = { 1.5f, -0.333333343f, 0.0f, 1e-30f, 3e38f, -1.0f };
    GRand *r = g_rand_new_with_seed(13);
    struct pair p;
    unsigned runs = 0;

    pair_open(&p, unit, WIN_SIZE);
    for (size_t ci = 0; ci < G_N_ELEMENTS(counts); ci++) {
        uint64_t n = counts[ci], bytes = n * 4;
        /* operands at odd (4-byte aligned) places: a at 4, b after a, out after b */
        uint64_t a = 4, b = a + bytes + 12, out = b + bytes + 28;
        uint32_t opcodes[] = { VGPU_OP_ADD_U32, VGPU_OP_ADD_F32 };

        if (out + bytes > WIN_SIZE) {
            a = 0, b = bytes, out = 2 * bytes;      /* the whole window */
        }
        for (size_t oi = 0; oi < G_N_ELEMENTS(opcodes); oi++) {
            bool f = opcodes[oi] == VGPU_OP_ADD_F32;
            struct vgpu_window_op op = { .opcode = opcodes[oi], .count = n, .a = a, .b = b,
                                         .out = out };

            fill_words(&p.g, 0, WIN_ELEMS, r, f);
            pair_sync(&p);
            pair_run(&p, &op, NULL, NULL);
            g_assert_cmpuint(pair_diff(&p, f ? out : 0, f ? out + bytes : 0), ==, 0);
            runs++;
            /* in place: out is a, then out is b */
            op.out = a;
            pair_run(&p, &op, NULL, NULL);
            g_assert_cmpuint(pair_diff(&p, 0, f ? WIN_SIZE : 0), ==, 0);
            op.out = b;
            pair_run(&p, &op, NULL, NULL);
            g_assert_cmpuint(pair_diff(&p, 0, f ? WIN_SIZE : 0), ==, 0);
            runs += 2;
        }
        if (2 * bytes + 8 <= WIN_SIZE) {
            struct vgpu_window_op op = { .opcode = VGPU_OP_SAXPY, .count = n, .a = 0,
                                         .out = WIN_SIZE - bytes,
                                         .alpha = alphas[ci % G_N_ELEMENTS(alphas)] };

            fill_words(&p.g, 0, WIN_ELEMS, r, true);
            pair_sync(&p);
            pair_run(&p, &op, NULL, NULL);
            g_assert_cmpuint(pair_diff(&p, op.out, WIN_SIZE), ==, 0);
            op.alpha = alphas[(ci + 1) % G_N_ELEMENTS(alphas)];
            pair_run(&p, &op, NULL, NULL);          /* again, on its own result */
            g_assert_cmpuint(pair_diff(&p, op.out, WIN_SIZE), ==, 0);
            runs += 2;
        }
    }
    /* the largest of each: in-place ADD over half the window each, SAXPY over halves */
    {
        struct vgpu_window_op add = { .opcode = VGPU_OP_ADD_F32, .count = WIN_ELEMS / 2,
                                      .a = 0, .b = WIN_SIZE / 2, .out = 0 };
        struct vgpu_window_op saxpy = { .opcode = VGPU_OP_SAXPY, .count = WIN_ELEMS / 2,
                                        .a = WIN_SIZE / 2, .out = 0, .alpha = -2.5f };

        fill_words(&p.g, 0, WIN_ELEMS, r, true);
        pair_sync(&p);
        pair_run(&p, &add, NULL, NULL);
        g_assert_cmpuint(pair_diff(&p, 0, WIN_SIZE), ==, 0);
        pair_run(&p, &saxpy, NULL, NULL);
        g_assert_cmpuint(pair_diff(&p, 0, WIN_SIZE), ==, 0);
        add.opcode = VGPU_OP_ADD_U32;
        pair_sync(&p);          /* the f32 runs may have left NaNs of different payloads */
        pair_run(&p, &add, NULL, NULL);
        g_assert_cmpuint(pair_diff(&p, 0, 0), ==, 0);
        runs += 3;
    }
    g_test_message("%u element-wise runs bit-exact with the cpu backend", runs);
    pair_close(&p);
    ops->close(unit);
    g_rand_free(r);
}

/* docs/gpu.md: |sum - exact| <= n 2^-52 sum|x| for any order of double additions. */
static void check_sum(struct pair *p, uint64_t at, uint64_t n)
{
    const float *x = (const float *)(p->g.w.base + at);
    struct vgpu_window_op op = { .opcode = VGPU_OP_SUM_F32, .count = n, .a = at };
    long double exact = 0;
    double abs_sum = 0, gsum = 0, csum = 0, bound;

    for (uint64_t i = 0; i < n; i++) {
        exact += x[i];
        abs_sum += fabs(x[i]);
    }
    pair_run(p, &op, &gsum, &csum);
    bound = (double)n * ldexp(1.0, -52) * abs_sum;
    g_test_message("SUM n=%llu: gpu %.17g cpu %.17g reference %.17Lg, |gpu-cpu| %.3g, bound %.3g",
                   (unsigned long long)n, gsum, csum, exact, fabs(gsum - csum), bound);
    g_assert_cmpfloat(fabs(gsum - csum), <=, bound);
    g_assert_cmpfloat(fabsl(gsum - exact), <=, bound);
    g_assert_cmpfloat(fabsl(csum - exact), <=, bound);
    g_assert_cmpuint(pair_diff(p, 0, 0), ==, 0);       /* SUM writes nothing */
}

static void test_window_sum_within_tolerance(void)
{
    const struct vgpu_backend_ops *ops = cuda_plugin();
    struct vgpu_backend_unit_info info;
    void *unit = open_unit(ops, 0, &info);
    const uint64_t counts[] = { 1, 3, 1023, 1024 * 1024 + 7, 4 * 1024 * 1024 + 3 };
    GRand *r = g_rand_new_with_seed(17);
    struct pair p;

    pair_open(&p, unit, WIN_SIZE);
    fill_finite(&p.g, 0, WIN_ELEMS, r);
    pair_sync(&p);
    for (size_t i = 0; i < G_N_ELEMENTS(counts); i++) {
        check_sum(&p, 4 * (i + 1), counts[i]);
    }
    check_sum(&p, 0, WIN_ELEMS);                        /* the whole window */
    /* one value: exact */
    {
        struct vgpu_window_op op = { .opcode = VGPU_OP_SUM_F32, .count = 1, .a = 8 };
        double gsum, csum;

        pair_run(&p, &op, &gsum, &csum);
        g_assert_cmpfloat(gsum, ==, ((const float *)p.g.w.base)[2]);
        g_assert_cmpfloat(csum, ==, gsum);
    }
    pair_close(&p);
    ops->close(unit);
    g_rand_free(r);
}

struct gemm_case {
    uint32_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
};

/*
 * docs/gpu.md: each element of C within (k + 2) 2^-24 (|alpha| sum_l
 * |a_il b_lj| + |beta c_ij|) of the double reference, for the GPU and for
 * the cpu backend; every word of the window outside C's elements (the gaps
 * of ldc included) untouched.
 */
static void check_sgemm(struct pair *p, const struct gemm_case *t, GRand *r)
{
    struct vgpu_window_op op = {
        .opcode = VGPU_OP_SGEMM, .m = t->m, .n = t->n, .k = t->k, .lda = t->lda, .ldb = t->ldb,
        .ldc = t->ldc, .alpha = t->alpha, .beta = t->beta,
    };
    uint64_t a_bytes = ((uint64_t)(t->m - 1) * t->lda + t->k) * 4;
    uint64_t b_bytes = ((uint64_t)(t->k - 1) * t->ldb + t->n) * 4;
    uint64_t c_bytes = ((uint64_t)(t->m - 1) * t->ldc + t->n) * 4;
    const float *A, *Cg, *Cc;
    float *C0;
    double worst_g = 0, worst_c = 0, *Bt;

    op.a = 4096;
    op.b = (op.a + a_bytes + 4096 + 60) & ~3ull;
    op.out = (op.b + b_bytes + 4096 + 124) & ~3ull;
    g_assert_cmpuint(op.out + c_bytes, <=, p->g.w.size);
    for (uint64_t i = 0; i < (op.out + c_bytes) / 4; i++) {  /* |x| <= 1 keeps products tame */
        float *f = (float *)p->g.w.base + i;

        *f = (float)g_rand_double_range(r, -1.0, 1.0);
    }
    pair_sync(p);
    A = (const float *)(p->g.w.base + op.a);
    Bt = g_new(double, (uint64_t)t->n * t->k);          /* B transposed: rows of the reference */
    for (uint32_t l = 0; l < t->k; l++) {
        const float *row = (const float *)(p->g.w.base + op.b) + (uint64_t)l * t->ldb;

        for (uint32_t j = 0; j < t->n; j++) {
            Bt[(uint64_t)j * t->k + l] = row[j];
        }
    }
    C0 = g_memdup2(p->g.w.base + op.out, c_bytes);
    pair_run(p, &op, NULL, NULL);
    Cg = (const float *)(p->g.w.base + op.out);
    Cc = (const float *)(p->c.w.base + op.out);
    for (uint32_t i = 0; i < t->m; i++) {
        for (uint32_t j = 0; j < t->n; j++) {
            double ref = 0, mag = 0, tol;
            uint64_t at = (uint64_t)i * t->ldc + j;

            const float *arow = A + (uint64_t)i * t->lda;
            const double *bcol = Bt + (uint64_t)j * t->k;

            for (uint32_t l = 0; l < t->k; l++) {
                double prod = (double)arow[l] * bcol[l];

                ref += prod;
                mag += fabs(prod);
            }
            ref = t->alpha * ref + (t->beta != 0.0f ? (double)t->beta * C0[at] : 0.0);
            mag = fabs(t->alpha) * mag + (t->beta != 0.0f ? fabs((double)t->beta * C0[at]) : 0.0);
            tol = (t->k + 2) * ldexp(1.0, -24) * mag + 1e-37;
            if (fabs(Cg[at] - ref) > tol || fabs(Cc[at] - ref) > tol) {
                g_error("SGEMM %ux%ux%u C[%u][%u]: gpu %.9g cpu %.9g reference %.17g tolerance %.3g",
                        t->m, t->n, t->k, i, j, Cg[at], Cc[at], ref, tol);
            }
            worst_g = fmax(worst_g, fabs(Cg[at] - ref) / tol);
            worst_c = fmax(worst_c, fabs(Cc[at] - ref) / tol);
        }
    }
    /* outside C's elements: the two windows still agree (both untouched) */
    for (uint32_t i = 0; i < t->m; i++) {
        uint64_t at = op.out + (uint64_t)i * t->ldc * 4;

        memcpy(p->c.w.base + at, p->g.w.base + at, (uint64_t)t->n * 4);
    }
    g_assert_cmpuint(pair_diff(p, 0, 0), ==, 0);
    g_test_message("SGEMM %ux%ux%u ld %u/%u/%u alpha %g beta %g: worst error %.3f (gpu) "
                   "%.3f (cpu) of the tolerance", t->m, t->n, t->k, t->lda, t->ldb, t->ldc,
                   t->alpha, t->beta, worst_g, worst_c);
    g_free(C0);
    g_free(Bt);
}

static void test_window_sgemm_within_tolerance(void)
{
    const struct vgpu_backend_ops *ops = cuda_plugin();
    struct vgpu_backend_unit_info info;
    void *unit = open_unit(ops, 0, &info);
    const struct gemm_case cases[] = {
        { 1, 1, 1, 1, 1, 1, 1.0f, 0.0f },
        { 3, 5, 7, 7, 5, 5, 1.0f, 0.0f },
        { 3, 5, 7, 9, 6, 11, -1.5f, 0.25f },                /* leading dimensions > rows */
        { 17, 1, 33, 33, 1, 1, 2.0f, 1.0f },
        { 1023, 257, 131, 1023, 300, 1025, 0.5f, -2.0f },
        { 1024, 1024, 1024, 1024, 1024, 1024, 1.0f, 0.0f },
        { 4100, 2050, 64, 64, 2050, 2051, 1.0f, 1.0f },     /* several tiles, ragged edges */
        { 2049, 4097, 3, 5, 4097, 4100, -1.0f, 0.0f },
    };
    GRand *r = g_rand_new_with_seed(19);
    struct pair p;

    pair_open(&p, unit, WIN_SIZE);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        check_sgemm(&p, &cases[i], r);
    }
    pair_close(&p);
    ops->close(unit);
    g_rand_free(r);
}

/* The unit's worker: our child named vgpu-cuda-worker (one runs at a time here). */
static int worker_pid(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = -1;

    g_assert_nonnull(d);
    while ((e = readdir(d))) {
        char path[300], *stat = NULL, *close_paren;
        int pid = atoi(e->d_name), ppid = 0;

        if (pid <= 0) {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        if (!g_file_get_contents(path, &stat, NULL, NULL)) {
            continue;
        }
        close_paren = strrchr(stat, ')');
        if (strstr(stat, "(vgpu-cuda-work") && close_paren &&
            sscanf(close_paren + 1, " %*c %d", &ppid) == 1 && ppid == getpid()) {
            found = pid;
        }
        g_free(stat);
    }
    closedir(d);
    g_assert_cmpint(found, >, 0);
    return found;
}

/* How many of the worker's mappings are the window's memfd. */
static unsigned worker_maps_window(int pid, const struct win *x)
{
    char path[64], *maps = NULL, needle[96];
    unsigned count = 0;

    snprintf(path, sizeof(path), "/proc/%d/maps", pid);
    snprintf(needle, sizeof(needle), "/memfd:%s ", x->name);
    g_assert_true(g_file_get_contents(path, &maps, NULL, NULL));
    for (char *at = maps; (at = strstr(at, needle)); at++) {
        count++;
    }
    g_free(maps);
    return count;
}

/* How many of the worker's fds are test windows. */
static unsigned worker_window_fds(int pid)
{
    char path[64], target[256];
    unsigned count = 0;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    d = opendir(path);
    g_assert_nonnull(d);
    while ((e = readdir(d))) {
        char link[320];
        ssize_t n;

        snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
        n = readlink(link, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = '\0';
            count += strstr(target, "memfd:vgpu-test-window-") != NULL;
        }
    }
    closedir(d);
    return count;
}

/* ADD_U32 over the first n words of x into the next n on the slot; checks the result here. */
static void add_and_check_on(void *unit, unsigned slot, struct win *x, uint64_t n, uint32_t seed)
{
    uint32_t *w = (uint32_t *)x->w.base, results[VGPU_RESPONSE_MAX_RESULTS], count;
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    struct vgpu_window_op op = { .opcode = VGPU_OP_ADD_U32, .count = n, .a = 0, .b = 0,
                                 .out = n * 4 };

    for (uint64_t i = 0; i < n; i++) {
        w[i] = seed * 2654435761u + (uint32_t)i;
    }
    if (run_op(cuda_plugin(), unit, slot, &op, x, results, &count, err, sizeof(err)) != VGPU_OK) {
        g_error("window %llu: %s", (unsigned long long)x->w.id, err);
    }
    for (uint64_t i = 0; i < n; i++) {
        if (w[n + i] != 2 * w[i]) {
            g_error("window %llu word %llu: %u, not %u", (unsigned long long)x->w.id,
                    (unsigned long long)i, w[n + i], 2 * w[i]);
        }
    }
}

static void add_and_check(void *unit, struct win *x, uint64_t n, uint32_t seed)
{
    add_and_check_on(unit, 0, x, n, seed);
}

static bool wait_unmapped(int pid, const struct win *x)
{
    for (int i = 0; i < 50; i++) {     /* the worker looks every second when idle */
        if (worker_maps_window(pid, x) == 0) {
            return true;
        }
        g_usleep(100000);
    }
    return false;
}

static void test_window_two_in_turn_released_and_new(void)
{
    const struct vgpu_backend_ops *ops = cuda_plugin();
    struct vgpu_backend_unit_info info;
    void *unit = open_unit(ops, 0, &info);
    int pid = worker_pid();
    struct win w1, w2, w3, many[CUDA_WINDOWS_MAX + 9];

    /* two VMs' windows in turn, different contents each time */
    win_open(&w1, WIN_SIZE);
    win_open(&w2, 1 << 20);
    for (uint32_t round = 0; round < 6; round++) {
        add_and_check(unit, &w1, 1000003, round);
        add_and_check(unit, &w2, 100003, round + 100);
    }
    g_assert_cmpuint(worker_maps_window(pid, &w1), ==, 1);
    g_assert_cmpuint(worker_maps_window(pid, &w2), ==, 1);

    /* released: gone from the idle worker; the other still served */
    ops->window_released(unit, w1.w.id);
    win_close(&w1);
    g_assert_true(wait_unmapped(pid, &w1));
    add_and_check(unit, &w2, 100003, 7);

    /* a new window, likely at the fd number and address the released one had */
    win_open(&w3, WIN_SIZE);
    add_and_check(unit, &w3, 3000017, 8);
    add_and_check(unit, &w2, 100003, 9);
    ops->window_released(unit, w3.w.id);
    ops->window_released(unit, w2.w.id);
    win_close(&w3);
    win_close(&w2);
    g_assert_true(wait_unmapped(pid, &w3));
    g_assert_true(wait_unmapped(pid, &w2));

    /* more windows than a worker holds: the oldest are forgotten and sent again */
    for (size_t i = 0; i < G_N_ELEMENTS(many); i++) {
        win_open(&many[i], 4096);
    }
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < G_N_ELEMENTS(many); i++) {
            add_and_check(unit, &many[i], 512, (uint32_t)(round * 1000 + i));
        }
    }
    g_assert_cmpuint(worker_window_fds(pid), <=, CUDA_WINDOWS_MAX);
    for (size_t i = 0; i < G_N_ELEMENTS(many); i++) {
        ops->window_released(unit, many[i].w.id);
        win_close(&many[i]);
    }
    for (int i = 0; i < 50 && worker_window_fds(pid) > 0; i++) {
        g_usleep(100000);
    }
    g_assert_cmpuint(worker_window_fds(pid), ==, 0);
    g_assert_cmpint(worker_pid(), ==, pid);             /* the same worker all along */
    ops->close(unit);
}

static void test_window_pinned_budget(void)
{
    const struct vgpu_backend_ops *ops = cuda_plugin();
    struct vgpu_backend_unit_info info;
    void *unit;
    struct win w1, w2;
    int pid;

    g_setenv("VGPU_CUDA_PINNED_MAX", "1", TRUE);        /* less than one window */
    unit = open_unit(ops, 0, &info);
    g_unsetenv("VGPU_CUDA_PINNED_MAX");
    pid = worker_pid();
    win_open(&w1, 8 << 20);
    win_open(&w2, 8 << 20);
    for (uint32_t round = 0; round < 4; round++) {
        add_and_check(unit, &w1, 1000001, round);
        g_assert_cmpuint(worker_maps_window(pid, &w1), ==, 1);
        g_assert_cmpuint(worker_maps_window(pid, &w2), ==, 0);
        add_and_check(unit, &w2, 999999, round + 50);
        g_assert_cmpuint(worker_maps_window(pid, &w1), ==, 0);
        g_assert_cmpuint(worker_maps_window(pid, &w2), ==, 1);
    }
    g_assert_cmpuint(worker_window_fds(pid), ==, 2);   /* unpinned, still held */
    ops->window_released(unit, w1.w.id);
    ops->window_released(unit, w2.w.id);
    win_close(&w1);
    win_close(&w2);
    ops->close(unit);
}

/*
 * The worker checks again: a request the mediator would refuse (out of the
 * window) ends in BACKEND with the worker's own message and the worker
 * serves on; a window whose memfd is smaller than announced ends the worker,
 * and recover() brings a fresh one.
 */
static void test_window_worker_checks_for_itself(void)
{
    const struct vgpu_backend_ops *ops = cuda_plugin();
    struct vgpu_backend_unit_info info;
    void *unit = open_unit(ops, 0, &info);
    uint32_t params[VGPU_ADD_PARAMS] = { 16, 0, 0, 0, 0, 0, 1u << 21, 0 };  /* out at 2 MiB */
    unsigned char buf[VGPU_REQUEST_MAX];
    uint32_t results[VGPU_RESPONSE_MAX_RESULTS], count = 0;
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    struct vgpu_request_view view;
    struct vgpu_window_op op = { .opcode = VGPU_OP_ADD_U32, .count = 16, .out = 1u << 21 };
    uint64_t exec_ns;
    struct win x, liar;
    int pid = worker_pid();
    size_t len;

    win_open(&x, 1 << 20);
    len = vgpu_request_encode(buf, sizeof(buf), VGPU_OP_ADD_U32, params, VGPU_ADD_PARAMS, NULL, 0);
    g_assert_cmpuint(vgpu_request_decode(buf, len, &view), ==, VGPU_OK);
    g_assert_cmpuint(ops->execute(unit, &(struct vgpu_backend_job){ .request = &view, .op = &op,
                                                                   .window = &x.w },
                                  results, &count, &exec_ns, err, sizeof(err)),
                     ==, VGPU_ERR_BACKEND);
    g_test_message("out of range: %s", err);
    g_assert_nonnull(strstr(err, "own check"));
    add_and_check(unit, &x, 1000, 1);                   /* no recover() needed */
    g_assert_cmpint(worker_pid(), ==, pid);

    win_open(&liar, 1 << 20);
    liar.w.size = 2 << 20;                              /* the memfd has half that */
    op = (struct vgpu_window_op){ .opcode = VGPU_OP_ADD_U32, .count = 16, .out = 1u << 20 };
    params[6] = 1u << 20;
    len = vgpu_request_encode(buf, sizeof(buf), VGPU_OP_ADD_U32, params, VGPU_ADD_PARAMS, NULL, 0);
    g_assert_cmpuint(vgpu_request_decode(buf, len, &view), ==, VGPU_OK);
    g_assert_cmpuint(ops->execute(unit, &(struct vgpu_backend_job){ .request = &view, .op = &op,
                                                                   .window = &liar.w },
                                  results, &count, &exec_ns, err, sizeof(err)),
                     ==, VGPU_ERR_BACKEND);
    g_test_message("short memfd: %s", err);
    g_assert_nonnull(strstr(err, "sealed memfd"));
    if (!ops->recover(unit, err, sizeof(err))) {
        g_error("recover() failed: %s", err);
    }
    add_and_check(unit, &x, 1000, 2);                   /* the fresh worker gets x again */
    liar.w.size = 1 << 20;
    win_close(&liar);
    ops->window_released(unit, x.w.id);
    win_close(&x);
    ops->close(unit);
}

static void window_tests_add(void)
{
    g_test_add_func("/cuda-backend/window/add-and-saxpy-bit-exact-with-cpu",
                    test_window_elementwise_bit_exact);
    g_test_add_func("/cuda-backend/window/sum-within-tolerance", test_window_sum_within_tolerance);
    g_test_add_func("/cuda-backend/window/sgemm-within-tolerance",
                    test_window_sgemm_within_tolerance);
    g_test_add_func("/cuda-backend/window/two-in-turn-released-and-new",
                    test_window_two_in_turn_released_and_new);
    g_test_add_func("/cuda-backend/window/pinned-budget", test_window_pinned_budget);
    g_test_add_func("/cuda-backend/window/worker-checks-for-itself",
                    test_window_worker_checks_for_itself);
}

/* ---- lanes: several requests in flight --------------------------------------- */

#define LANE_ADDS           4u          /* per lane in the overlap test */
#define LANE_SERVICE_US     50000u      /* each of those occupies the GPU this long */

/* One slot's thread: VECTOR_ADDs until `count` answered (0: no limit), one failed, or stop. */
struct lane_run {
    const struct vgpu_backend_ops *ops;
    void *unit;
    unsigned slot;
    unsigned count;
    gint *stop;
    uint32_t status;            /* the last request's */
    unsigned done;              /* answered with the right sum */
    char err[VGPU_BACKEND_ERROR_MAX];
};

static gpointer lane_main(gpointer data)
{
    struct lane_run *l = data;
    GRand *rand = g_rand_new_with_seed(l->slot + 1);

    l->status = VGPU_OK;
    while ((l->count == 0 || l->done < l->count) && !(l->stop && g_atomic_int_get(l->stop))) {
        /* the high bit set: never the fault build's operand */
        uint32_t a = g_rand_int(rand) | 0x80000000u, b = g_rand_int(rand), sum = 0;

        l->status = run_add_on(l->ops, l->unit, l->slot, a, b, &sum, l->err, sizeof(l->err));
        if (l->status != VGPU_OK) {
            break;
        }
        g_assert_cmpuint(sum, ==, (uint32_t)(a + b));
        l->done++;
    }
    g_rand_free(rand);
    return NULL;
}

/* Run lanes[from..CUDA_LANES_MAX) on threads of their own. */
static void lanes_start(struct lane_run *lanes, GThread **threads, unsigned from)
{
    for (unsigned i = from; i < CUDA_LANES_MAX; i++) {
        threads[i] = g_thread_new("lane", lane_main, &lanes[i]);
    }
}

static void lanes_join(struct lane_run *lanes, GThread **threads, unsigned from)
{
    for (unsigned i = from; i < CUDA_LANES_MAX; i++) {
        g_thread_join(threads[i]);
        g_test_message("lane %u: %u answered%s%s", i, lanes[i].done,
                       lanes[i].status == VGPU_OK ? "" : ", then: ",
                       lanes[i].status == VGPU_OK ? "" : lanes[i].err);
    }
}

/* Every slot at once, many small requests: each its own right sum; then windows on every slot. */
static void test_lanes_vector_adds_right_on_every_slot_at_once(void)
{
    const struct vgpu_backend_ops *ops = cuda_plugin();
    struct vgpu_backend_unit_info info;
    void *unit = open_unit(ops, 0, &info);
    struct lane_run lanes[CUDA_LANES_MAX];
    GThread *threads[CUDA_LANES_MAX];
    struct win x;

    g_assert_cmpuint(info.max_in_flight, ==, CUDA_LANES_MAX);
    for (unsigned i = 0; i < CUDA_LANES_MAX; i++) {
        lanes[i] = (struct lane_run){ .ops = ops, .unit = unit, .slot = i, .count = 2000 };
    }
    lanes_start(lanes, threads, 0);
    lanes_join(lanes, threads, 0);
    for (unsigned i = 0; i < CUDA_LANES_MAX; i++) {
        g_assert_cmpuint(lanes[i].status, ==, VGPU_OK);
        g_assert_cmpuint(lanes[i].done, ==, 2000);
    }
    win_open(&x, 1 << 20);
    for (unsigned i = 0; i < CUDA_LANES_MAX; i++) {
        add_and_check_on(unit, i, &x, 1000, i);         /* a window request runs on any slot */
    }
    ops->window_released(unit, x.w.id);
    win_close(&x);
    ops->close(unit);
}

/* With a service time, the VECTOR_ADDs of all slots at once take little longer than one lane's. */
static void test_lanes_vector_adds_overlap_on_the_gpu(void)
{
    const struct vgpu_backend_ops *ops = cuda_plugin();
    struct vgpu_backend_unit_config config = { .index = 0, .service_time_us = LANE_SERVICE_US };
    struct vgpu_backend_unit_info info;
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    void *unit = ops->open(&config, &info, err, sizeof(err));
    struct lane_run lanes[CUDA_LANES_MAX];
    GThread *threads[CUDA_LANES_MAX];
    double took, serial = CUDA_LANES_MAX * LANE_ADDS * LANE_SERVICE_US / 1e6;
    gint64 start;

    if (!unit) {
        g_error("opening GPU 0: %s", err);
    }
    for (unsigned i = 0; i < CUDA_LANES_MAX; i++) {
        lanes[i] = (struct lane_run){ .ops = ops, .unit = unit, .slot = i, .count = LANE_ADDS };
    }
    start = g_get_monotonic_time();
    lanes_start(lanes, threads, 0);
    lanes_join(lanes, threads, 0);
    took = (g_get_monotonic_time() - start) / 1e6;
    g_test_message("%u lanes x %u VECTOR_ADDs of %u us: %.3f s (one at a time: %.3f s)",
                   CUDA_LANES_MAX, LANE_ADDS, LANE_SERVICE_US, took, serial);
    for (unsigned i = 0; i < CUDA_LANES_MAX; i++) {
        g_assert_cmpuint(lanes[i].status, ==, VGPU_OK);
    }
    g_assert_cmpfloat(took, <, serial / 3);
    ops->close(unit);
}

/*
 * The fault build's illegal store on slot 0 while every other slot runs
 * VECTOR_ADDs: the fault's request ends in BACKEND with CUDA's error, no
 * other slot's call hangs, and recover() brings a fresh worker that serves
 * every slot.
 */
static void test_lanes_fault_ends_the_worker_then_recovers(void)
{
    const struct vgpu_backend_ops *ops = load(VGPU_CUDA_FAULT_PLUGIN_PATH);
    struct vgpu_backend_unit_info info;
    void *unit = open_unit(ops, 0, &info);
    struct lane_run lanes[CUDA_LANES_MAX];
    GThread *threads[CUDA_LANES_MAX];
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    int pid = worker_pid();
    uint32_t sum = 0;
    gint stop = 0;

    for (unsigned i = 1; i < CUDA_LANES_MAX; i++) {
        lanes[i] = (struct lane_run){ .ops = ops, .unit = unit, .slot = i, .stop = &stop };
    }
    lanes_start(lanes, threads, 1);
    g_usleep(100000);                                   /* the other slots are busy */
    g_assert_cmpuint(run_add_on(ops, unit, 0, 0xfa017u, 1, &sum, err, sizeof(err)),
                     ==, VGPU_ERR_BACKEND);
    g_test_message("fault: %s", err);
    g_assert_nonnull(strstr(err, "illegal"));
    g_atomic_int_set(&stop, 1);
    lanes_join(lanes, threads, 1);
    if (!ops->recover(unit, err, sizeof(err))) {
        g_error("recover() failed: %s", err);
    }
    g_assert_cmpint(worker_pid(), !=, pid);
    for (unsigned i = 0; i < CUDA_LANES_MAX; i++) {
        g_assert_cmpuint(run_add_on(ops, unit, i, 0xffffffffu, i, &sum, err, sizeof(err)),
                         ==, VGPU_OK);
        g_assert_cmpuint(sum, ==, i - 1);
    }
    ops->close(unit);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    window_tests_add();
    g_test_add_func("/cuda-backend/lanes/vector-adds-right-on-every-slot-at-once",
                    test_lanes_vector_adds_right_on_every_slot_at_once);
    g_test_add_func("/cuda-backend/lanes/vector-adds-overlap-on-the-gpu",
                    test_lanes_vector_adds_overlap_on_the_gpu);
    g_test_add_func("/cuda-backend/lanes/fault-ends-the-worker-then-recovers",
                    test_lanes_fault_ends_the_worker_then_recovers);
    g_test_add_func("/cuda-backend/vector-add-matches-cpu-on-every-gpu",
                    test_vector_add_matches_cpu_on_every_gpu);
    g_test_add_func("/cuda-backend/gpu-fault-ends-in-backend-error-then-recovers",
                    test_gpu_fault_ends_in_backend_error_then_recovers);
    return g_test_run();
}
