/*
 * The data window's GPU path through a real vgpu-mediatord, against plain
 * CUDA on the same data in the same process and run (docs/benchmarks.md:
 * Data window on the GPU).
 *
 *   window-bench add   --socket S --uuid U [-n N] [--mib M]
 *       ADD_F32 of two M MiB arrays (default 64) into a third, in a window
 *       this client creates (a sealed memfd) and sends with WINDOW, against
 *       the floor: cudaMemcpy of the same bytes in from pinned memory, the
 *       backend's own add kernel, cudaMemcpy out.
 *   window-bench sgemm --socket S --uuid U [-n N] [--size D]
 *       SGEMM D x D x D (default 8192, alpha 1, beta 0) through the window,
 *       against cuBLAS called directly on the same matrices: with their
 *       copies in and out from pinned memory, and alone on the GPU.
 *
 * The two alternate, one of each at a time, after two unmeasured of each;
 * every mediator result is checked.  The VM must be registered (pool on a
 * cuda unit) and the mediator must run; bench/window-bench.sh does both.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "vgpu/codec.h"
#include "vgpu/identity.h"
#include "vgpu/ops.h"
#include "backend-cuda-kernels.h"
#include "wire-client.h"

#define BENCH_TIMEOUT_MS 120000
#define BENCH_WARMUP 2

static const char *opt_socket, *opt_uuid;
static int opt_n;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), compare_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void check(cudaError_t e, const char *what)
{
    if (e != cudaSuccess) {
        fprintf(stderr, "window-bench: %s: %s\n", what, cudaGetErrorString(e));
        exit(1);
    }
}

static void check_blas(cublasStatus_t s, const char *what)
{
    if (s != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "window-bench: %s: cuBLAS %s\n", what, cublasGetStatusString(s));
        exit(1);
    }
}

/* ---- the mediator side ------------------------------------------------------ */

struct window {
    int sock;
    int fd;
    unsigned char *base;
    uint64_t size;
    uint32_t seq;
};

/* Create a sealed memfd window of size bytes, connect, HELLO, WINDOW, IDENTITY. */
static void window_open(struct window *w, uint64_t size)
{
    struct vgpu_wire_identity id;
    uint8_t uuid[16];
    struct wire_msg m;

    w->size = size;
    w->fd = wire_window_create(size, true);
    if (w->fd < 0 ||
        (w->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd, 0)) == MAP_FAILED) {
        fprintf(stderr, "window-bench: a window of %llu bytes: %s\n", (unsigned long long)size,
                strerror(errno));
        exit(1);
    }
    if (!vgpu_uuid_parse(opt_uuid, uuid)) {
        fprintf(stderr, "window-bench: --uuid is not a UUID\n");
        exit(2);
    }
    w->sock = wire_connect(opt_socket);
    if (w->sock < 0 || wire_send_hello(w->sock, uuid, VGPU_PROTOCOL_VERSION) < 0 ||
        wire_send_window(w->sock, size, &w->fd, 1) < 0 ||
        wire_read(w->sock, &m, BENCH_TIMEOUT_MS) != 1 || m.hdr.type != VGPU_WIRE_IDENTITY ||
        vgpu_wire_identity_decode(m.payload, m.hdr.length, &id) != VGPU_OK ||
        id.error != VGPU_OK) {
        fprintf(stderr, "window-bench: no identity from the mediator at %s "
                "(is the VM registered?)\n", opt_socket);
        exit(1);
    }
}

/* One request through the mediator; ms for the round trip, the worker's time in *exec_ms. */
static double window_run(struct window *w, const struct vgpu_window_op *op, double *exec_ms,
                         uint32_t *results)
{
    unsigned char req[VGPU_REQUEST_MAX];
    size_t len = vgpu_window_op_encode(req, sizeof(req), op);
    struct vgpu_wire_complete_view complete;
    struct vgpu_response_view response;
    struct wire_msg m;
    uint32_t seq = ++w->seq;
    double t0 = now_ms(), t;

    if (!len || wire_send_submit(w->sock, seq, seq, req, len) < 0 ||
        wire_read(w->sock, &m, BENCH_TIMEOUT_MS) != 1 || m.hdr.type != VGPU_WIRE_COMPLETE ||
        m.hdr.seq != seq) {
        fprintf(stderr, "window-bench: request %u: no COMPLETE\n", seq);
        exit(1);
    }
    t = now_ms() - t0;
    if (vgpu_wire_complete_decode(m.payload, m.hdr.length, &complete) != VGPU_OK ||
        complete.error != VGPU_OK ||
        vgpu_response_decode(complete.response, complete.response_len, &response) != VGPU_OK) {
        fprintf(stderr, "window-bench: request %u failed: %s\n", seq,
                complete.error ? vgpu_error_name(complete.error) : "bad response");
        exit(1);
    }
    *exec_ms = response.exec_time_us / 1e3;
    for (uint32_t i = 0; results && i < response.result_count; i++) {
        results[i] = vgpu_response_result(&response, i);
    }
    return t;
}

/* ---- ADD_F32 ---------------------------------------------------------------- */

static int bench_add(uint64_t mib)
{
    uint64_t bytes = mib << 20, n = bytes / 4, size = 4096;
    struct vgpu_window_op op = { .opcode = VGPU_OP_ADD_F32, .count = n, .a = 0, .b = bytes,
                                 .out = 2 * bytes };
    double *floor_ms = calloc((size_t)opt_n, sizeof(double));
    double *med_ms = calloc((size_t)opt_n, sizeof(double));
    double *exec_ms = calloc((size_t)opt_n, sizeof(double));
    float *ha, *hb, *hout, *da, *db, *dout, *wa, *wb, *wout, fl, me, ex;
    struct window w;

    while (size < 3 * bytes) {
        size *= 2;
    }
    window_open(&w, size);
    wa = (float *)w.base;
    wb = wa + n;
    wout = wb + n;
    for (uint64_t i = 0; i < n; i++) {
        wa[i] = (float)(i % 1000003) * 0.5f;
        wb[i] = 1.0f / (float)(1 + i % 977);
    }
    check(cudaHostAlloc((void **)&ha, bytes, cudaHostAllocDefault), "pinned memory");
    check(cudaHostAlloc((void **)&hb, bytes, cudaHostAllocDefault), "pinned memory");
    check(cudaHostAlloc((void **)&hout, bytes, cudaHostAllocDefault), "pinned memory");
    check(cudaMalloc((void **)&da, bytes), "device memory");
    check(cudaMalloc((void **)&db, bytes), "device memory");
    check(cudaMalloc((void **)&dout, bytes), "device memory");
    memcpy(ha, wa, bytes);
    memcpy(hb, wb, bytes);
    for (int i = -BENCH_WARMUP; i < opt_n; i++) {
        double t0 = now_ms(), t, e;

        check(cudaMemcpy(da, ha, bytes, cudaMemcpyHostToDevice), "copy in");
        check(cudaMemcpy(db, hb, bytes, cudaMemcpyHostToDevice), "copy in");
        check(vgpu_cuda_launch_add_f32(da, db, dout, n, 0), "add");
        check(cudaMemcpy(hout, dout, bytes, cudaMemcpyDeviceToHost), "copy out");
        t = now_ms() - t0;
        if (i >= 0) {
            floor_ms[i] = t;
        }
        memset(wout, 0xff, 4096);                       /* a stale result cannot pass */
        t = window_run(&w, &op, &e, NULL);
        if (i == -BENCH_WARMUP || i == opt_n - 1) {
            if (memcmp(wout, hout, bytes) != 0) {
                fprintf(stderr, "window-bench: the mediator's sum differs from the floor's\n");
                return 1;
            }
        } else if (memcmp(wout, hout, 4096) != 0) {
            fprintf(stderr, "window-bench: the mediator's sum differs from the floor's\n");
            return 1;
        }
        if (i >= 0) {
            med_ms[i] = t;
            exec_ms[i] = e;
        }
    }
    fl = (float)median(floor_ms, opt_n);
    me = (float)median(med_ms, opt_n);
    ex = (float)median(exec_ms, opt_n);
    printf("%d of each, after %d unmeasured; %llu MiB each of a, b and out (%.0f MiB moved), "
           "window %llu MiB\n", opt_n, BENCH_WARMUP, (unsigned long long)mib, 3.0 * mib,
           (unsigned long long)(size >> 20));
    printf("floor    cudaMemcpy in, add kernel, cudaMemcpy out:  p50 %8.3f ms  %6.1f GB/s  "
           "(min %.3f ms)\n", fl, 3.0 * bytes / fl / 1e6, floor_ms[0]);
    printf("mediator ADD_F32 through the window, round trip:    p50 %8.3f ms  %6.1f GB/s  "
           "(min %.3f ms; the worker's time p50 %.3f ms)\n", me, 3.0 * bytes / me / 1e6,
           med_ms[0], ex);
    printf("ratio    mediator bandwidth / floor bandwidth:       %.2f (target >= 0.90, goal 0.95)\n",
           fl / me);
    return 0;
}

/* ---- SGEMM ------------------------------------------------------------------ */

/* Row-major C = A B on cuBLAS: C^T = B^T A^T in column-major. */
static void direct_sgemm(cublasHandle_t h, int d, const float *a, const float *b, float *c)
{
    const float one = 1.0f, zero = 0.0f;

    check_blas(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, d, d, d, &one, b, d, a, d, &zero, c, d),
               "sgemm");
}

/* Sampled elements of C against a double reference, within docs/gpu.md's bound. */
static int check_c(const float *a, const float *b, const float *c, int d, const char *who)
{
    for (int s = 0; s < 64; s++) {
        uint64_t i = (uint64_t)(s * 7919u) % (uint64_t)d, j = (uint64_t)(s * 104729u) % (uint64_t)d;
        double ref = 0, mag = 0, tol;

        for (int l = 0; l < d; l++) {
            double p = (double)a[i * d + l] * b[(uint64_t)l * d + j];

            ref += p;
            mag += fabs(p);
        }
        tol = (d + 2) * ldexp(1.0, -24) * mag;
        if (fabs(c[i * d + j] - ref) > tol) {
            fprintf(stderr, "window-bench: %s C[%llu][%llu] = %.9g, reference %.9g (tolerance "
                    "%.3g)\n", who, (unsigned long long)i, (unsigned long long)j, c[i * d + j],
                    ref, tol);
            return 1;
        }
    }
    return 0;
}

static int bench_sgemm(int d)
{
    uint64_t el = (uint64_t)d * d, bytes = el * 4, size = 4096;
    struct vgpu_window_op op = {
        .opcode = VGPU_OP_SGEMM, .a = 0, .b = bytes, .out = 2 * bytes, .m = (uint32_t)d,
        .n = (uint32_t)d, .k = (uint32_t)d, .lda = (uint32_t)d, .ldb = (uint32_t)d,
        .ldc = (uint32_t)d, .alpha = 1.0f, .beta = 0.0f,
    };
    double *copies_ms = calloc((size_t)opt_n, sizeof(double));
    double *alone_ms = calloc((size_t)opt_n, sizeof(double));
    double *med_ms = calloc((size_t)opt_n, sizeof(double));
    double *exec_ms = calloc((size_t)opt_n, sizeof(double));
    double flop = 2.0 * d * d * d, co, al, me, ex;
    float *ha, *hb, *hc, *da, *db, *dc, *wa, *wb, *wc;
    cudaEvent_t e0, e1;
    cublasHandle_t h;
    struct window w;
    unsigned seed = 12345;

    while (size < 3 * bytes) {
        size *= 2;
    }
    window_open(&w, size);
    wa = (float *)w.base;
    wb = wa + el;
    wc = wb + el;
    for (uint64_t i = 0; i < 2 * el; i++) {
        seed = seed * 1103515245u + 12345u;
        wa[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    check(cudaHostAlloc((void **)&ha, bytes, cudaHostAllocDefault), "pinned memory");
    check(cudaHostAlloc((void **)&hb, bytes, cudaHostAllocDefault), "pinned memory");
    check(cudaHostAlloc((void **)&hc, bytes, cudaHostAllocDefault), "pinned memory");
    check(cudaMalloc((void **)&da, bytes), "device memory");
    check(cudaMalloc((void **)&db, bytes), "device memory");
    check(cudaMalloc((void **)&dc, bytes), "device memory");
    check(cudaEventCreate(&e0), "event");
    check(cudaEventCreate(&e1), "event");
    check_blas(cublasCreate(&h), "cublasCreate");
    check_blas(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "math mode");
    memcpy(ha, wa, bytes);
    memcpy(hb, wb, bytes);
    for (int i = -BENCH_WARMUP; i < opt_n; i++) {
        double t0 = now_ms(), t, e;
        float gpu_ms = 0;

        /* direct, with the copies a program of its own would make */
        check(cudaMemcpy(da, ha, bytes, cudaMemcpyHostToDevice), "copy in");
        check(cudaMemcpy(db, hb, bytes, cudaMemcpyHostToDevice), "copy in");
        direct_sgemm(h, d, da, db, dc);
        check(cudaMemcpy(hc, dc, bytes, cudaMemcpyDeviceToHost), "copy out");
        t = now_ms() - t0;
        /* direct, the product alone on data already on the GPU */
        check(cudaEventRecord(e0, 0), "event");
        direct_sgemm(h, d, da, db, dc);
        check(cudaEventRecord(e1, 0), "event");
        check(cudaEventSynchronize(e1), "sgemm");
        check(cudaEventElapsedTime(&gpu_ms, e0, e1), "event time");
        if (i >= 0) {
            copies_ms[i] = t;
            alone_ms[i] = gpu_ms;
        }
        memset(wc, 0xff, bytes);
        t = window_run(&w, &op, &e, NULL);
        if (i == -BENCH_WARMUP || i == opt_n - 1) {
            if (check_c(wa, wb, wc, d, "mediator") || check_c(ha, hb, hc, d, "direct cuBLAS")) {
                return 1;
            }
        }
        if (i >= 0) {
            med_ms[i] = t;
            exec_ms[i] = e;
        }
    }
    co = median(copies_ms, opt_n);
    al = median(alone_ms, opt_n);
    me = median(med_ms, opt_n);
    ex = median(exec_ms, opt_n);
    printf("%d of each, after %d unmeasured; SGEMM %dx%dx%d, alpha 1, beta 0, %.0f MiB of "
           "operands, window %llu MiB\n", opt_n, BENCH_WARMUP, d, d, d, 3.0 * bytes / 1048576.0,
           (unsigned long long)(size >> 20));
    printf("direct   cuBLAS alone, data on the GPU:                  p50 %8.2f ms  %6.1f TFLOP/s\n",
           al, flop / al / 1e9);
    printf("direct   cudaMemcpy A, B in, cuBLAS, cudaMemcpy C out:   p50 %8.2f ms  %6.1f TFLOP/s\n",
           co, flop / co / 1e9);
    printf("mediator SGEMM through the window, round trip:           p50 %8.2f ms  %6.1f TFLOP/s  "
           "(the worker's time p50 %.2f ms)\n", me, flop / me / 1e9, ex);
    printf("ratio    mediator / direct with copies: %.2f (target >= 0.95); "
           "mediator / cuBLAS alone: %.2f\n", co / me, al / me);
    cublasDestroy(h);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "socket", required_argument, NULL, 's' },
        { "uuid", required_argument, NULL, 'u' },
        { "mib", required_argument, NULL, 'm' },
        { "size", required_argument, NULL, 'd' },
        { NULL, 0, NULL, 0 },
    };
    const char *what = argc > 1 ? argv[1] : "";
    int opt, mib = 64, dim = 8192, n = -1;
    struct cudaDeviceProp prop;

    optind = 2;
    while ((opt = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': opt_socket = optarg; break;
        case 'u': opt_uuid = optarg; break;
        case 'm': mib = atoi(optarg); break;
        case 'd': dim = atoi(optarg); break;
        case 'n': n = atoi(optarg); break;
        default: goto usage;
        }
    }
    if (!opt_socket || !opt_uuid || mib < 1 || dim < 1 || (strcmp(what, "add") != 0 &&
                                                            strcmp(what, "sgemm") != 0)) {
        goto usage;
    }
    opt_n = n > 0 ? n : strcmp(what, "add") == 0 ? 20 : 5;
    /* the backend's context settings (cuda-worker.c) */
    check(cudaSetDevice(0), "selecting GPU 0");
    check(cudaSetDeviceFlags(cudaDeviceScheduleSpin | cudaDeviceMapHost), "device flags");
    check(cudaGetDeviceProperties(&prop, 0), "device properties");
    printf("gpu: %s\n", prop.name);
    return strcmp(what, "add") == 0 ? bench_add((uint64_t)mib) : bench_sgemm(dim);
usage:
    fprintf(stderr, "usage: window-bench add|sgemm --socket S --uuid U [-n N] [--mib M] "
                    "[--size D]\n");
    return 2;
}
