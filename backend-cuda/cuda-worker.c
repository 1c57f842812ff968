/*
 * vgpu-cuda-worker: owns one GPU for the cuda backend (see cuda-worker.h).
 *
 *   vgpu-cuda-worker --probe
 *       Print how many GPUs CUDA sees and exit 0, or why there is none and
 *       exit 1.
 *   vgpu-cuda-worker --gpu N [--service-ns NS]
 *       With the shared page on fd 3 and the window socket on fd 4: open
 *       GPU N and serve requests until the parent thread ends or a CUDA
 *       error poisons the context.
 *
 * Started by the plugin only; not for people.  Each lane of the shared
 * page has a thread (lane 0: the main one), a non-blocking stream and
 * mapped pinned result memory of its own, so the VECTOR_ADDs of different
 * lanes overlap on the GPU.  VECTOR_ADD costs one kernel launch and one
 * stream synchronize: the kernel takes its params by value and writes its
 * results into its lane's mapped pinned memory (no copies, no host
 * callback, which would cost twice as much), and the context spins on
 * synchronize rather than sleeping (15-20 us less per request).
 *
 * A CUDA error on any lane may have poisoned the context: that lane
 * answers, and the process ends (worker_die); the plugin starts a fresh
 * one.
 *
 * Array opcodes work on the VM's data window, mapped here and registered
 * with CUDA (page-locked) once per window, so copies are DMA straight from
 * and to the VM's memory.  Element-wise operations and SUM go in chunks of
 * WORKER_CHUNK_BYTES over WORKER_STREAMS streams, each with its own device
 * buffers allocated once, so that one chunk's copy in, another's kernel and
 * a third's copy out run at the same time.  SGEMM is cuBLAS on tiles of C:
 * A's row blocks and B's column blocks are copied in on one stream in an
 * order that lets the first tile start after two blocks, and each tile's
 * product and copy out run on the compute streams while later blocks come
 * in.  docs/gpu.md gives the numbers and the bounds.  A window request
 * runs alone on the unit, on whichever lane; the streams, buffers and
 * window table are still the worker's mutex's, since lane 0 drops released
 * windows from the table whenever it wakes.
 *
 * Nothing in the shared page is trusted: the worker decodes each window
 * request again against the size of its own mapping (vgpu_window_op_decode)
 * before it touches memory, and checks every fd it is sent (a sealed memfd
 * at least as large as the window).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "vgpu/ops.h"
#include "backend-cuda-kernels.h"
#include "cuda-worker.h"

#define WORKER_STREAMS          4u
#define WORKER_CHUNK_BYTES      (4u << 20)      /* per operand, per chunk */
#define WORKER_CHUNK_ELEMS      (WORKER_CHUNK_BYTES / VGPU_ELEMENT_SIZE)
#define WORKER_IDLE_SLICE_NS    (1000000000ull) /* idle lane 0 looks at released windows */
#define WORKER_DIE_WAIT_NS      (1000000000ull) /* a dying worker waits for the other lanes */
#define WORKER_GEMM_TILE        2048u           /* rows and columns of a C tile, at least */
#define WORKER_GEMM_BLOCKS_MAX  16u             /* row (column) blocks at most: tiles grow */
#define WORKER_GEMM_KEEP_BYTES  (1ull << 30)    /* SGEMM device memory kept between requests */
#define WORKER_WINDOW_SLOTS     (2u * CUDA_WINDOWS_MAX + 2u)
#define WORKER_PINNED_ENV       "VGPU_CUDA_PINNED_MAX"

/* A data window the plugin sent: its fd always, its mapping while pinned. */
struct worker_window {
    uint64_t id;
    uint64_t size;
    int fd;
    unsigned char *base;        /* mapped and registered with CUDA; NULL when not */
    uint64_t last_use;
};

/* What one request's work ended in. */
enum work_result {
    WORK_OK,
    WORK_REFUSED,               /* BACKEND for this request; the worker serves on */
    WORK_FATAL,                 /* BACKEND, and the worker exits (CUDA error, broken state) */
};

/* One lane: serves calls[index] of the page. */
struct worker_lane {
    struct worker *w;
    unsigned index;
    struct cuda_call *call;
    cudaStream_t stream;        /* non-blocking: never waits on the legacy stream */
    uint32_t *results_host;     /* mapped pinned memory, VGPU_RESPONSE_MAX_RESULTS words */
    uint32_t *results_device;   /* the same memory as the GPU addresses it */
    _Atomic bool busy;          /* from taking a request until its answer is out */
};

struct worker {
    int gpu;                    /* CUDA ordinal */
    uint64_t service_ns;        /* extra GPU time per request (mediator.conf service-time-us) */
    struct cuda_shared *shared;
    struct worker_lane lanes[CUDA_LANES_MAX];

    /* Window requests and releases: everything below, and the release ring's tail. */
    pthread_mutex_t lock;

    /* array operations */
    cudaStream_t streams[WORKER_STREAMS];
    cudaStream_t load_stream;                   /* SGEMM's copies in */
    cublasHandle_t blas[WORKER_STREAMS];        /* one per stream: workspaces never shared */
    void *chunk_a[WORKER_STREAMS], *chunk_b[WORKER_STREAMS];
    double *sum_partials[WORKER_STREAMS];       /* VGPU_CUDA_SUM_BLOCKS each */
    double *sum_acc;                            /* WORKER_STREAMS accumulators */
    double *sum_host;                           /* pinned, WORKER_STREAMS */
    cudaEvent_t gemm_loaded[2 * WORKER_GEMM_BLOCKS_MAX];
    float *gemm_arena;
    uint64_t gemm_arena_bytes;
    uint64_t max_pitch;                         /* cudaMemcpy2D's limit */

    struct worker_window windows[WORKER_WINDOW_SLOTS];
    unsigned window_count;
    uint64_t pinned_bytes, pinned_max, use_clock;
};

static void worker_error(struct worker *w, char *out, const char *what, cudaError_t e)
{
    snprintf(out, VGPU_BACKEND_ERROR_MAX, "%s on GPU %d: %s (%s)", what, w->gpu,
             cudaGetErrorString(e), cudaGetErrorName(e));
}

static void worker_blas_error(struct worker *w, char *out, const char *what, cublasStatus_t s)
{
    snprintf(out, VGPU_BACKEND_ERROR_MAX, "%s on GPU %d: cuBLAS %s (%d)", what, w->gpu,
             cublasGetStatusString(s), (int)s);
}

static int worker_probe(void)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);

    if (e != cudaSuccess) {
        printf("no usable CUDA driver or GPU: %s (%s)\n", cudaGetErrorString(e),
               cudaGetErrorName(e));
        return 1;
    }
    if (count == 0) {
        printf("the CUDA driver sees no GPU\n");
        return 1;
    }
    printf("%d\n", count);
    return 0;
}

/* The pinned-window budget: VGPU_CUDA_PINNED_MAX bytes, else half the host's memory. */
static uint64_t worker_pinned_max(void)
{
    const char *env = getenv(WORKER_PINNED_ENV);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

    if (env && *env) {
        return strtoull(env, NULL, 0);
    }
    return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 2 : (8ull << 30);
}

/* Streams, cuBLAS handles and device buffers for array operations, once. */
static bool worker_open_arrays(struct worker *w, char *err)
{
    cublasStatus_t bs;
    cudaError_t e = cudaSuccess;
    int pitch = 0;

    for (unsigned s = 0; s < WORKER_STREAMS && e == cudaSuccess; s++) {
        if ((e = cudaStreamCreateWithFlags(&w->streams[s], cudaStreamNonBlocking)) == cudaSuccess &&
            (e = cudaMalloc(&w->chunk_a[s], WORKER_CHUNK_BYTES)) == cudaSuccess &&
            (e = cudaMalloc(&w->chunk_b[s], WORKER_CHUNK_BYTES)) == cudaSuccess) {
            e = cudaMalloc((void **)&w->sum_partials[s], VGPU_CUDA_SUM_BLOCKS * sizeof(double));
        }
    }
    if (e == cudaSuccess &&
        (e = cudaStreamCreateWithFlags(&w->load_stream, cudaStreamNonBlocking)) == cudaSuccess &&
        (e = cudaMalloc((void **)&w->sum_acc, WORKER_STREAMS * sizeof(double))) == cudaSuccess &&
        (e = cudaHostAlloc((void **)&w->sum_host, WORKER_STREAMS * sizeof(double),
                           cudaHostAllocDefault)) == cudaSuccess &&
        (e = cudaDeviceGetAttribute(&pitch, cudaDevAttrMaxPitch, w->gpu)) == cudaSuccess) {
        for (unsigned i = 0; i < 2 * WORKER_GEMM_BLOCKS_MAX && e == cudaSuccess; i++) {
            e = cudaEventCreateWithFlags(&w->gemm_loaded[i], cudaEventDisableTiming);
        }
    }
    if (e != cudaSuccess) {
        worker_error(w, err, "allocating streams and buffers for array operations", e);
        return false;
    }
    w->max_pitch = pitch > 0 ? (uint64_t)pitch : 0;
    for (unsigned s = 0; s < WORKER_STREAMS; s++) {
        if ((bs = cublasCreate(&w->blas[s])) != CUBLAS_STATUS_SUCCESS ||
            (bs = cublasSetStream(w->blas[s], w->streams[s])) != CUBLAS_STATUS_SUCCESS ||
            (bs = cublasSetMathMode(w->blas[s], CUBLAS_DEFAULT_MATH)) != CUBLAS_STATUS_SUCCESS) {
            worker_blas_error(w, err, "opening cuBLAS", bs);
            return false;
        }
    }
    w->pinned_max = worker_pinned_max();
    return true;
}

/* A lane's stream and mapped result memory. */
static bool worker_open_lane(struct worker *w, struct worker_lane *lane, char *err)
{
    cudaError_t e;

    lane->w = w;
    lane->call = &w->shared->calls[lane->index];
    if ((e = cudaStreamCreateWithFlags(&lane->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        worker_error(w, err, "creating a stream", e);
        return false;
    }
    e = cudaHostAlloc((void **)&lane->results_host, VGPU_RESPONSE_MAX_RESULTS * sizeof(uint32_t),
                      cudaHostAllocMapped);
    if (e != cudaSuccess) {
        worker_error(w, err, "allocating pinned result memory", e);
        return false;
    }
    if ((e = cudaHostGetDevicePointer((void **)&lane->results_device, lane->results_host, 0))
        != cudaSuccess) {
        worker_error(w, err, "mapping result memory", e);
        return false;
    }
    return true;
}

/* Open the GPU: spin-scheduled context, the lanes, the array operations' resources. */
static bool worker_open(struct worker *w, char *err)
{
    struct cudaDeviceProp prop;
    int count = 0;
    cudaError_t e;

    e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || w->gpu < 0 || w->gpu >= count) {
        snprintf(err, VGPU_BACKEND_ERROR_MAX, "GPU %d does not exist (CUDA sees %d GPU%s)",
                 w->gpu, count, count == 1 ? "" : "s");
        return false;
    }
    if ((e = cudaSetDevice(w->gpu)) != cudaSuccess ||
        (e = cudaSetDeviceFlags(cudaDeviceScheduleSpin | cudaDeviceMapHost)) != cudaSuccess) {
        worker_error(w, err, "selecting the device", e);
        return false;
    }
    if ((e = cudaGetDeviceProperties(&prop, w->gpu)) != cudaSuccess) {
        worker_error(w, err, "reading device properties", e);
        return false;
    }
    for (unsigned i = 0; i < CUDA_LANES_MAX; i++) {
        w->lanes[i].index = i;
        if (!worker_open_lane(w, &w->lanes[i], err)) {
            return false;
        }
    }
    if (!worker_open_arrays(w, err)) {
        return false;
    }
    snprintf(w->shared->name, sizeof(w->shared->name), "%.*s",
             (int)sizeof(w->shared->name) - 1, prop.name);
    w->shared->memory_bytes = prop.totalGlobalMem;
    w->shared->compute_major = prop.major;
    w->shared->compute_minor = prop.minor;
    return true;
}

/* ---- windows -------------------------------------------------------------- */

static struct worker_window *worker_window_find(struct worker *w, uint64_t id)
{
    for (unsigned i = 0; i < w->window_count; i++) {
        if (w->windows[i].id == id) {
            return &w->windows[i];
        }
    }
    return NULL;
}

/* Unregister and unmap; the fd stays.  False after a CUDA error. */
static bool worker_window_unpin(struct worker *w, struct worker_window *win, char *err)
{
    cudaError_t e;

    if (!win->base) {
        return true;
    }
    e = cudaHostUnregister(win->base);
    munmap(win->base, win->size);
    win->base = NULL;
    w->pinned_bytes -= win->size;
    if (e != cudaSuccess) {
        worker_error(w, err, "unregistering a data window", e);
        return false;
    }
    return true;
}

/* Forget a released window: unpin, close, take it out of the table. */
static bool worker_window_drop(struct worker *w, uint64_t id, char *err)
{
    struct worker_window *win = worker_window_find(w, id);
    bool ok;

    if (!win) {
        return true;    /* never sent to this worker */
    }
    ok = worker_window_unpin(w, win, err);
    close(win->fd);
    *win = w->windows[--w->window_count];
    return ok;
}

/* Drop every window the plugin released; false after a CUDA error or a broken ring. */
static bool worker_drain_releases(struct worker *w, char *err)
{
    struct cuda_shared *sh = w->shared;
    uint32_t tail = atomic_load(&sh->release_tail), head = atomic_load(&sh->release_head);

    if (head - tail > CUDA_RELEASE_RING) {
        snprintf(err, VGPU_BACKEND_ERROR_MAX, "the release ring is broken (head %u, tail %u)",
                 head, tail);
        return false;
    }
    for (; tail != head; tail++) {
        if (!worker_window_drop(w, sh->release_ids[tail % CUDA_RELEASE_RING], err)) {
            return false;
        }
    }
    atomic_store(&sh->release_tail, tail);
    return true;
}

/*
 * Take the window fd the plugin sent for this request: one message, one
 * fd, the request's id and size, a memfd sealed against shrinking that is
 * at least that large.  False (the worker exits) otherwise.
 */
static bool worker_window_receive(struct worker *w, const struct cuda_call *call, char *err)
{
    struct cuda_window_msg msg;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(2 * sizeof(int))];
    } control;
    struct iovec iov = { &msg, sizeof(msg) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf) };
    struct cmsghdr *c;
    struct worker_window *win;
    struct stat st;
    int fds[2] = { -1, -1 }, nfds = 0, seals;
    ssize_t n;

    n = recvmsg(CUDA_WORKER_WINDOW_FD, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    for (c = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

            for (size_t i = 0; i < count; i++) {
                int fd;

                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
                if (nfds < 2) {
                    fds[nfds++] = fd;
                } else {
                    close(fd);
                }
            }
        }
    }
    if (n != (ssize_t)sizeof(msg) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || nfds != 1 ||
        msg.id != call->window_id || msg.size != call->window_size) {
        snprintf(err, VGPU_BACKEND_ERROR_MAX, "window %llu: no fd from the plugin where one "
                 "was announced (%s)", (unsigned long long)call->window_id,
                 n < 0 ? strerror(errno) : "a malformed message");
        goto fail;
    }
    seals = fcntl(fds[0], F_GET_SEALS);
    if (fstat(fds[0], &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < msg.size ||
        seals < 0 || !(seals & F_SEAL_SHRINK) || msg.size == 0 || msg.size % 4096) {
        snprintf(err, VGPU_BACKEND_ERROR_MAX, "window %llu: its fd is not a sealed memfd of "
                 "%llu bytes", (unsigned long long)msg.id, (unsigned long long)msg.size);
        goto fail;
    }
    if ((win = worker_window_find(w, msg.id))) {
        /* the plugin forgot and resent it: keep the newer fd */
        if (!worker_window_drop(w, msg.id, err)) {
            goto fail;
        }
    }
    if (w->window_count == WORKER_WINDOW_SLOTS) {
        snprintf(err, VGPU_BACKEND_ERROR_MAX, "more than %u windows at once", WORKER_WINDOW_SLOTS);
        goto fail;
    }
    w->windows[w->window_count++] = (struct worker_window){ .id = msg.id, .size = msg.size,
                                                            .fd = fds[0] };
    return true;
fail:
    if (fds[0] >= 0) {
        close(fds[0]);
    }
    if (fds[1] >= 0) {
        close(fds[1]);
    }
    return false;
}

/*
 * The request's window, mapped and registered: map and pin it if it is not,
 * then unpin the least recently used others while the pinned bytes exceed
 * the budget (the window in use always stays).
 */
static enum work_result worker_window_get(struct worker *w, const struct cuda_call *call,
                                          struct worker_window **out, char *err)
{
    struct worker_window *win;
    cudaError_t e;
    void *base;

    if (call->window_fd_follows && !worker_window_receive(w, call, err)) {
        return WORK_FATAL;
    }
    win = worker_window_find(w, call->window_id);
    if (!win || win->size != call->window_size) {
        snprintf(err, VGPU_BACKEND_ERROR_MAX, "window %llu: %s",
                 (unsigned long long)call->window_id,
                 win ? "its size changed" : "the worker was never sent it");
        return WORK_FATAL;
    }
    if (!win->base) {
        base = mmap(NULL, win->size, PROT_READ | PROT_WRITE, MAP_SHARED, win->fd, 0);
        if (base == MAP_FAILED) {
            snprintf(err, VGPU_BACKEND_ERROR_MAX, "mapping window %llu (%llu bytes): %s",
                     (unsigned long long)win->id, (unsigned long long)win->size, strerror(errno));
            return WORK_FATAL;
        }
        if ((e = cudaHostRegister(base, win->size, cudaHostRegisterDefault)) != cudaSuccess) {
            munmap(base, win->size);
            worker_error(w, err, "registering a data window", e);
            return WORK_FATAL;
        }
        win->base = base;
        w->pinned_bytes += win->size;
    }
    win->last_use = ++w->use_clock;
    while (w->pinned_bytes > w->pinned_max) {
        struct worker_window *lru = NULL;

        for (unsigned i = 0; i < w->window_count; i++) {
            struct worker_window *x = &w->windows[i];

            if (x != win && x->base && (!lru || x->last_use < lru->last_use)) {
                lru = x;
            }
        }
        if (!lru) {
            break;
        }
        if (!worker_window_unpin(w, lru, err)) {
            return WORK_FATAL;
        }
    }
    *out = win;
    return WORK_OK;
}

/* ---- array operations ------------------------------------------------------ */

#define CUDA_TRY(call, what)                                        \
    do {                                                            \
        cudaError_t e_ = (call);                                    \
        if (e_ != cudaSuccess) {                                    \
            worker_error(w, err, (what), e_);                       \
            return WORK_FATAL;                                      \
        }                                                           \
    } while (0)

static enum work_result worker_sync_streams(struct worker *w, char *err)
{
    for (unsigned s = 0; s < WORKER_STREAMS; s++) {
        CUDA_TRY(cudaStreamSynchronize(w->streams[s]), "running an array operation");
    }
    CUDA_TRY(cudaStreamSynchronize(w->load_stream), "copying SGEMM operands");
    return WORK_OK;
}

/*
 * ADD_U32, ADD_F32, SAXPY and SUM_F32 in chunks over the streams: chunk c
 * goes on stream c % WORKER_STREAMS, whose buffers it reuses once the
 * stream's previous chunk is out (same-stream order).  An output is either
 * disjoint from the inputs or exactly one of them (the decoder's rule), so
 * chunk c's copy out touches only what chunk c read.
 */
static enum work_result worker_elementwise(struct worker *w, const struct vgpu_window_op *op,
                                           unsigned char *win, uint32_t *results,
                                           uint32_t *result_count, char *err)
{
    uint64_t done = 0;
    unsigned c = 0;
    double sum = 0.0;

    if (op->opcode == VGPU_OP_SUM_F32) {
        for (unsigned s = 0; s < WORKER_STREAMS; s++) {
            CUDA_TRY(cudaMemsetAsync(w->sum_acc + s, 0, sizeof(double), w->streams[s]),
                     "clearing a sum");
        }
    }
    for (; done < op->count; done += WORKER_CHUNK_ELEMS, c++) {
        unsigned s = c % WORKER_STREAMS;
        cudaStream_t st = w->streams[s];
        uint64_t n = op->count - done < WORKER_CHUNK_ELEMS ? op->count - done : WORKER_CHUNK_ELEMS;
        uint64_t off = done * VGPU_ELEMENT_SIZE, bytes = n * VGPU_ELEMENT_SIZE;
        void *da = w->chunk_a[s], *db = w->chunk_b[s];

        CUDA_TRY(cudaMemcpyAsync(da, win + op->a + off, bytes, cudaMemcpyHostToDevice, st),
                 "copying an operand in");
        switch (op->opcode) {
        case VGPU_OP_ADD_U32:
        case VGPU_OP_ADD_F32:
            CUDA_TRY(cudaMemcpyAsync(db, win + op->b + off, bytes, cudaMemcpyHostToDevice, st),
                     "copying an operand in");
            CUDA_TRY(op->opcode == VGPU_OP_ADD_U32
                         ? vgpu_cuda_launch_add_u32(da, db, da, n, st)
                         : vgpu_cuda_launch_add_f32(da, db, da, n, st),
                     "launching ADD");
            CUDA_TRY(cudaMemcpyAsync(win + op->out + off, da, bytes, cudaMemcpyDeviceToHost, st),
                     "copying a result out");
            break;
        case VGPU_OP_SAXPY:
            CUDA_TRY(cudaMemcpyAsync(db, win + op->out + off, bytes, cudaMemcpyHostToDevice, st),
                     "copying an operand in");
            CUDA_TRY(vgpu_cuda_launch_saxpy(op->alpha, da, db, n, st), "launching SAXPY");
            CUDA_TRY(cudaMemcpyAsync(win + op->out + off, db, bytes, cudaMemcpyDeviceToHost, st),
                     "copying a result out");
            break;
        case VGPU_OP_SUM_F32:
            CUDA_TRY(vgpu_cuda_launch_sum_f32(da, n, w->sum_partials[s], w->sum_acc + s, st),
                     "launching SUM");
            break;
        }
    }
    if (worker_sync_streams(w, err) != WORK_OK) {
        return WORK_FATAL;
    }
    if (op->opcode == VGPU_OP_SUM_F32) {
        CUDA_TRY(cudaMemcpy(w->sum_host, w->sum_acc, WORKER_STREAMS * sizeof(double),
                            cudaMemcpyDeviceToHost), "reading a sum");
        for (unsigned s = 0; s < WORKER_STREAMS; s++) {
            sum += w->sum_host[s];
        }
        vgpu_sum_result_store(sum, results);
        *result_count = VGPU_SUM_RESULTS;
    }
    return WORK_OK;
}

/*
 * A rows x width-byte block between pitched memories: one copy when both
 * are contiguous, one 2D copy while the pitches are within CUDA's limit,
 * else a copy per row.
 */
static cudaError_t worker_copy_2d(struct worker *w, void *dst, uint64_t dpitch, const void *src,
                                  uint64_t spitch, uint64_t width, uint64_t rows,
                                  enum cudaMemcpyKind kind, cudaStream_t st)
{
    cudaError_t e = cudaSuccess;

    if ((dpitch == width && spitch == width) || rows == 1) {
        return cudaMemcpyAsync(dst, src, width * rows, kind, st);
    }
    if (dpitch <= w->max_pitch && spitch <= w->max_pitch) {
        return cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, rows, kind, st);
    }
    for (uint64_t r = 0; r < rows && e == cudaSuccess; r++) {
        e = cudaMemcpyAsync((char *)dst + r * dpitch, (const char *)src + r * spitch, width,
                            kind, st);
    }
    return e;
}

/* Rows (columns) of one block: at least WORKER_GEMM_TILE, at most WORKER_GEMM_BLOCKS_MAX blocks. */
static uint64_t worker_gemm_block(uint64_t dim)
{
    uint64_t b = (dim + WORKER_GEMM_BLOCKS_MAX - 1) / WORKER_GEMM_BLOCKS_MAX;

    return dim <= WORKER_GEMM_TILE ? dim : b > WORKER_GEMM_TILE ? b : WORKER_GEMM_TILE;
}

/*
 * Split dim into blocks of worker_gemm_block(dim): starts[0..count], with
 * starts[count] = dim.  (Smaller first blocks, 512 rows doubling up to
 * 2048, so that the first product starts after less copying, measured
 * slower on an H200: 25.8 against 24.6 ms for 8192^3; the small products
 * cost more than the earlier start saves.)
 */
static unsigned worker_gemm_blocks(uint64_t dim, uint64_t *starts)
{
    uint64_t size = worker_gemm_block(dim), at;
    unsigned n = 0;

    for (at = 0; at < dim; at += size) {
        starts[n++] = at;
    }
    starts[n] = dim;
    return n;
}

struct gemm_plan {
    const struct vgpu_window_op *op;
    unsigned char *win;
    float *da, *db, *dc;            /* packed on the GPU: lda = k, ldb = ldc = n */
    uint64_t rs[WORKER_GEMM_BLOCKS_MAX + 1];    /* row blocks: [rs[i], rs[i + 1]) */
    uint64_t cs[WORKER_GEMM_BLOCKS_MAX + 1];    /* column blocks */
    unsigned tiles;                 /* queued so far: the next one's stream */
};

static enum work_result gemm_load_a(struct worker *w, struct gemm_plan *p, uint64_t i, char *err)
{
    const struct vgpu_window_op *op = p->op;
    uint64_t r0 = p->rs[i], rows = p->rs[i + 1] - r0;

    CUDA_TRY(worker_copy_2d(w, p->da + r0 * op->k, (uint64_t)op->k * 4,
                            p->win + op->a + r0 * op->lda * 4, (uint64_t)op->lda * 4,
                            (uint64_t)op->k * 4, rows, cudaMemcpyHostToDevice, w->load_stream),
             "copying SGEMM's A in");
    CUDA_TRY(cudaEventRecord(w->gemm_loaded[i], w->load_stream), "recording a copy");
    return WORK_OK;
}

static enum work_result gemm_load_b(struct worker *w, struct gemm_plan *p, uint64_t j, char *err)
{
    const struct vgpu_window_op *op = p->op;
    uint64_t c0 = p->cs[j], cols = p->cs[j + 1] - c0;

    CUDA_TRY(worker_copy_2d(w, p->db + c0, (uint64_t)op->n * 4, p->win + op->b + c0 * 4,
                            (uint64_t)op->ldb * 4, cols * 4, op->k, cudaMemcpyHostToDevice,
                            w->load_stream),
             "copying SGEMM's B in");
    CUDA_TRY(cudaEventRecord(w->gemm_loaded[WORKER_GEMM_BLOCKS_MAX + j], w->load_stream),
             "recording a copy");
    return WORK_OK;
}

/*
 * C tile (i, j), row-major, as cuBLAS sees it in column-major: its
 * transpose, C^T = alpha B^T A^T + beta C^T, with B^T n x k (ld n) and A^T
 * k x m (ld k) being the packed row-major blocks as they lie.
 */
static enum work_result gemm_tile(struct worker *w, struct gemm_plan *p, uint64_t i, uint64_t j,
                                  char *err)
{
    const struct vgpu_window_op *op = p->op;
    unsigned s = p->tiles++ % WORKER_STREAMS;
    cudaStream_t st = w->streams[s];
    uint64_t r0 = p->rs[i], rows = p->rs[i + 1] - r0;
    uint64_t c0 = p->cs[j], cols = p->cs[j + 1] - c0;
    float *dct = p->dc + r0 * op->n + c0;
    unsigned char *hct = p->win + op->out + (r0 * op->ldc + c0) * 4;
    cublasStatus_t bs;

    CUDA_TRY(cudaStreamWaitEvent(st, w->gemm_loaded[i], 0), "ordering SGEMM");
    CUDA_TRY(cudaStreamWaitEvent(st, w->gemm_loaded[WORKER_GEMM_BLOCKS_MAX + j], 0),
             "ordering SGEMM");
    if (op->beta != 0.0f) {
        CUDA_TRY(worker_copy_2d(w, dct, (uint64_t)op->n * 4, hct, (uint64_t)op->ldc * 4,
                                cols * 4, rows, cudaMemcpyHostToDevice, st),
                 "copying SGEMM's C in");
    }
    bs = cublasSgemm(w->blas[s], CUBLAS_OP_N, CUBLAS_OP_N, (int)cols, (int)rows, (int)op->k,
                     &op->alpha, p->db + c0, (int)op->n, p->da + r0 * op->k, (int)op->k,
                     &op->beta, dct, (int)op->n);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        worker_blas_error(w, err, "running SGEMM", bs);
        return WORK_FATAL;
    }
    CUDA_TRY(worker_copy_2d(w, hct, (uint64_t)op->ldc * 4, dct, (uint64_t)op->n * 4, cols * 4,
                            rows, cudaMemcpyDeviceToHost, st),
             "copying SGEMM's C out");
    return WORK_OK;
}

/*
 * SGEMM: A, B and C packed on the GPU (one arena, kept between requests up
 * to WORKER_GEMM_KEEP_BYTES), C in tiles.  The copies in alternate between
 * B's column blocks and A's row blocks; after each, every tile whose blocks
 * are both in is queued, so the GPU computes while the rest comes in.
 */
static enum work_result worker_sgemm(struct worker *w, const struct vgpu_window_op *op,
                                     unsigned char *win, char *err)
{
    uint64_t a_el = (uint64_t)op->m * op->k, b_el = (uint64_t)op->k * op->n;
    uint64_t c_el = (uint64_t)op->m * op->n, bytes = (a_el + b_el + c_el) * sizeof(float);
    struct gemm_plan p = { .op = op, .win = win };
    uint64_t ni, nj, il = 0, jl = 0;
    enum work_result r = WORK_OK;
    cudaError_t e;

    if (bytes > w->gemm_arena_bytes) {
        if (w->gemm_arena) {
            CUDA_TRY(cudaFree(w->gemm_arena), "freeing SGEMM memory");
            w->gemm_arena = NULL;
            w->gemm_arena_bytes = 0;
        }
        e = cudaMalloc((void **)&w->gemm_arena, bytes);
        if (e == cudaErrorMemoryAllocation) {
            cudaGetLastError();         /* not sticky: the context is fine */
            w->gemm_arena = NULL;
            snprintf(err, VGPU_BACKEND_ERROR_MAX, "SGEMM %ux%ux%u needs %.1f GiB on GPU %d, "
                     "which it does not have free", op->m, op->n, op->k, bytes / 1073741824.0,
                     w->gpu);
            return WORK_REFUSED;
        }
        CUDA_TRY(e, "allocating SGEMM memory");
        w->gemm_arena_bytes = bytes;
    }
    p.da = w->gemm_arena;
    p.db = p.da + a_el;
    p.dc = p.db + b_el;
    ni = worker_gemm_blocks(op->m, p.rs);
    nj = worker_gemm_blocks(op->n, p.cs);
    while (r == WORK_OK && (il < ni || jl < nj)) {
        if (jl < nj && (jl <= il || il == ni)) {
            r = gemm_load_b(w, &p, jl, err);
            for (uint64_t i = 0; r == WORK_OK && i < il; i++) {
                r = gemm_tile(w, &p, i, jl, err);
            }
            jl++;
        } else {
            r = gemm_load_a(w, &p, il, err);
            for (uint64_t j = 0; r == WORK_OK && j < jl; j++) {
                r = gemm_tile(w, &p, il, j, err);
            }
            il++;
        }
    }
    if (r != WORK_OK || worker_sync_streams(w, err) != WORK_OK) {
        return WORK_FATAL;
    }
    if (w->gemm_arena_bytes > WORKER_GEMM_KEEP_BYTES) {
        CUDA_TRY(cudaFree(w->gemm_arena), "freeing SGEMM memory");
        w->gemm_arena = NULL;
        w->gemm_arena_bytes = 0;
    }
    return WORK_OK;
}

/*
 * A window opcode: decode the params again against the worker's own
 * mapping, then run.  The mediator checked them already; this check is the
 * worker's own, so that nothing in the shared page can make it touch
 * memory outside the window.
 */
static enum work_result worker_window_op(struct worker *w, const struct cuda_call *call,
                                         uint32_t *results, uint32_t *result_count, char *err)
{
    unsigned char buf[VGPU_REQUEST_MAX];
    struct vgpu_request_view view;
    struct vgpu_window_op op;
    struct worker_window *win;
    enum work_result r;
    uint32_t params[VGPU_REQUEST_MAX_PARAMS], code;
    size_t len;

    if (!call->window_present) {
        snprintf(err, VGPU_BACKEND_ERROR_MAX, "opcode 0x%04x came without a data window",
                 call->opcode);
        return WORK_REFUSED;
    }
    if ((r = worker_window_get(w, call, &win, err)) != WORK_OK) {
        return r;
    }
    if (call->param_count > VGPU_REQUEST_MAX_PARAMS) {
        snprintf(err, VGPU_BACKEND_ERROR_MAX, "%u params", call->param_count);
        return WORK_REFUSED;
    }
    memcpy(params, call->params, call->param_count * sizeof(uint32_t));
    len = vgpu_request_encode(buf, sizeof(buf), call->opcode, params, call->param_count, NULL, 0);
    if (!len || (code = vgpu_request_decode(buf, len, &view)) != VGPU_OK ||
        (code = vgpu_window_op_decode(&view, win->size, &op)) != VGPU_OK) {
        snprintf(err, VGPU_BACKEND_ERROR_MAX, "the worker's own check refused opcode 0x%04x "
                 "on a window of %llu bytes", call->opcode, (unsigned long long)win->size);
        return WORK_REFUSED;
    }
    if (w->service_ns) {
        CUDA_TRY(vgpu_cuda_launch_serve(w->service_ns, w->streams[0]), "launching the service time");
        CUDA_TRY(cudaStreamSynchronize(w->streams[0]), "running the service time");
    }
    if (op.opcode == VGPU_OP_SGEMM) {
        return worker_sgemm(w, &op, win->base, err);
    }
    return worker_elementwise(w, &op, win->base, results, result_count, err);
}

static cudaError_t worker_launch_vector_add(struct worker_lane *lane, uint32_t a, uint32_t b)
{
#ifdef VGPU_CUDA_FAULT_INJECTION
    if (a == VGPU_CUDA_FAULT_OPERAND) {
        return vgpu_cuda_launch_illegal_store(lane->stream);
    }
#endif
    return vgpu_cuda_launch_vector_add(a, b, lane->results_device, lane->w->service_ns,
                                       lane->stream);
}

/*
 * Run the request of the lane and fill its response.  Returns false after
 * a CUDA error: the context may be poisoned, so the worker must exit.
 */
static bool worker_execute(struct worker_lane *lane)
{
    struct worker *w = lane->w;
    struct cuda_call *call = lane->call;
    uint64_t start = cuda_now_ns();
    uint32_t results[VGPU_RESPONSE_MAX_RESULTS], count = 0;
    enum work_result r;
    cudaError_t e;

    call->result_count = 0;
    call->error[0] = '\0';
    switch (call->opcode) {
    case VGPU_OP_VECTOR_ADD:
        e = worker_launch_vector_add(lane, call->params[0], call->params[1]);
        if (e == cudaSuccess) {
            e = cudaStreamSynchronize(lane->stream);
            if (e != cudaSuccess) {
                worker_error(w, call->error, "running VECTOR_ADD", e);
            }
        } else {
            worker_error(w, call->error, "launching VECTOR_ADD", e);
        }
        if (e != cudaSuccess) {
            call->status = VGPU_ERR_BACKEND;
            return false;
        }
        call->results[0] = ((volatile uint32_t *)lane->results_host)[0];
        call->result_count = VGPU_VECTOR_ADD_RESULTS;
        break;
    case VGPU_OP_ADD_U32:
    case VGPU_OP_ADD_F32:
    case VGPU_OP_SAXPY:
    case VGPU_OP_SUM_F32:
    case VGPU_OP_SGEMM:
        /* released windows first: see CUDA_RELEASE_RING */
        pthread_mutex_lock(&w->lock);
        r = worker_drain_releases(w, call->error)
                ? worker_window_op(w, call, results, &count, call->error) : WORK_FATAL;
        pthread_mutex_unlock(&w->lock);
        if (r != WORK_OK) {
            call->status = VGPU_ERR_BACKEND;
            return r == WORK_REFUSED;
        }
        memcpy(call->results, results, count * sizeof(uint32_t));
        call->result_count = count;
        break;
    default:
        snprintf(call->error, sizeof(call->error),
                 "opcode 0x%04x is not implemented by the cuda backend", call->opcode);
        call->status = VGPU_ERR_BACKEND;
        return true;
    }
    call->status = VGPU_OK;
    call->exec_ns = cuda_now_ns() - start;
    return true;
}

/*
 * End the process after a CUDA error or a broken state.  On a poisoned
 * context the other lanes' requests in flight fail too, within moments:
 * the first lane here waits for their answers (at most WORKER_DIE_WAIT_NS,
 * as a kernel may hang), so that their callers get CUDA's error rather
 * than "exited".  _exit: the CUDA runtime's teardown must not run while
 * other lanes are inside CUDA.
 */
static _Noreturn void worker_die(struct worker *w)
{
    static pthread_mutex_t dying = PTHREAD_MUTEX_INITIALIZER;
    uint64_t deadline;
    bool busy = true;

    pthread_mutex_lock(&dying);         /* never unlocked: later lanes wait here for the end */
    deadline = cuda_now_ns() + WORKER_DIE_WAIT_NS;
    while (busy && cuda_now_ns() < deadline) {
        busy = false;
        for (unsigned i = 0; i < CUDA_LANES_MAX; i++) {
            busy = busy || atomic_load(&w->lanes[i].busy);
        }
        if (busy) {
            usleep(1000);
        }
    }
    _exit(1);
}

/* Lane 0, between requests: drop the windows released meanwhile, if any. */
static void worker_drain_idle(struct worker *w)
{
    struct cuda_shared *sh = w->shared;
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    bool ok;

    if (atomic_load(&sh->release_head) == atomic_load(&sh->release_tail)) {
        return;
    }
    pthread_mutex_lock(&w->lock);
    ok = worker_drain_releases(w, err);
    pthread_mutex_unlock(&w->lock);
    if (!ok) {
        fprintf(stderr, CUDA_WORKER_NAME "[gpu %d]: %s; exiting\n", w->gpu, err);
        worker_die(w);
    }
}

/*
 * A lane's loop: wait for a request, run it, answer.  Lane 0 spins
 * CUDA_SPIN_NS after each answer, as a worker of one lane always did.  The
 * other lanes have requests only while the unit is loaded, and then the
 * next one comes within the mediator's turnaround (microseconds), so they
 * spin CUDA_LANE_SPIN_NS: eight lanes spinning the full time after every
 * request of a lightly loaded GPU would burn CPU for nothing.  Only lane 0
 * drops released windows outside window requests: after each answer, every
 * WORKER_IDLE_SLICE_NS while idle, and when the plugin wakes it for that.
 */
static _Noreturn void worker_lane_serve(struct worker_lane *lane)
{
    struct cuda_call *call = lane->call;
    bool first = lane->index == 0;
    uint32_t seen = 0, seq;

    for (;;) {
        bool ok;

        while ((seq = cuda_wait_change(&call->request_seq, seen, &call->worker_sleeping,
                                       first ? CUDA_SPIN_NS : CUDA_LANE_SPIN_NS,
                                       first ? WORKER_IDLE_SLICE_NS : 0)) == seen) {
            if (first) {
                worker_drain_idle(lane->w);
            }
        }
        seen = seq;
        atomic_store(&lane->busy, true);
        ok = worker_execute(lane);
        if (!ok) {
            fprintf(stderr, CUDA_WORKER_NAME "[gpu %d, lane %u]: %s; exiting\n", lane->w->gpu,
                    lane->index, call->error);
            call->worker_exits = 1;
        }
        cuda_publish(&call->response_seq, seq, &call->plugin_sleeping);
        atomic_store(&lane->busy, false);
        if (!ok) {
            worker_die(lane->w);
        }
        if (first) {
            worker_drain_idle(lane->w);
        }
    }
}

/* Lanes > 0: the device is per host thread, so select it first. */
static void *worker_lane_thread(void *arg)
{
    struct worker_lane *lane = arg;
    cudaError_t e = cudaSetDevice(lane->w->gpu);

    if (e != cudaSuccess) {
        char err[VGPU_BACKEND_ERROR_MAX];

        worker_error(lane->w, err, "selecting the device for a lane", e);
        fprintf(stderr, CUDA_WORKER_NAME "[gpu %d, lane %u]: %s; exiting\n", lane->w->gpu,
                lane->index, err);
        worker_die(lane->w);
    }
    worker_lane_serve(lane);
}

/* Open the GPU, start lanes 1.. on threads of their own, serve lane 0 on this one. */
static int worker_serve(struct worker *w, struct cuda_shared *sh)
{
    pthread_t thread;
    int rc;

    w->shared = sh;
    if (!worker_open(w, sh->error)) {
        cuda_publish(&sh->state, CUDA_WORKER_FAILED, &sh->state_sleeping);
        return 1;
    }
    for (unsigned i = 1; i < CUDA_LANES_MAX; i++) {
        if ((rc = pthread_create(&thread, NULL, worker_lane_thread, &w->lanes[i])) != 0) {
            snprintf(sh->error, sizeof(sh->error), "starting a lane's thread: %s",
                     strerror(rc));
            cuda_publish(&sh->state, CUDA_WORKER_FAILED, &sh->state_sleeping);
            _exit(1);       /* not exit(): other lanes may be inside CUDA */
        }
    }
    cuda_publish(&sh->state, CUDA_WORKER_READY, &sh->state_sleeping);
    worker_lane_serve(&w->lanes[0]);
}

int main(int argc, char **argv)
{
    struct worker w = { .gpu = -1, .lock = PTHREAD_MUTEX_INITIALIZER };
    struct cuda_shared *sh;

    if (argc == 2 && strcmp(argv[1], "--probe") == 0) {
        return worker_probe();
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--gpu") == 0) {
            w.gpu = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--service-ns") == 0) {
            w.service_ns = strtoull(argv[i + 1], NULL, 10);
        }
    }
    if (w.gpu < 0) {
        fprintf(stderr, "usage: " CUDA_WORKER_NAME " --probe | --gpu N [--service-ns NS]\n"
                        "(started by the cuda backend of vgpu-mediatord, not by hand)\n");
        return 2;
    }
    sh = cuda_worker_attach(CUDA_WORKER_NAME);
    return sh ? worker_serve(&w, sh) : 1;
}
