/*
 * The cuda backend plugin, libvgpu-backend-cuda.so: runs requests on NVIDIA
 * GPUs through one vgpu-cuda-worker child process per GPU (why and how:
 * cuda-worker.h).  The plugin itself links no CUDA: it loads on any host,
 * and where there is no GPU, probe() says why.  The worker programs lie
 * next to the plugin (same directory).
 *
 * Remoted CUDA calls (VGPU_OP_CUDA) do not go to the GPU's worker: each VM
 * has a CUDA worker process of its own (vm-sessions.c, vm-worker.c).
 *
 * A unit takes up to CUDA_LANES_MAX requests at once (max_in_flight): the
 * request of slot s goes on the worker's lane s, which has a thread and a
 * stream of its own there, so VECTOR_ADDs of different slots overlap on
 * the GPU.  execute() writes only its own lane of the shared page; what
 * the lanes share (the window table, the release ring) is the unit's
 * mutex's.  Window opcodes run alone on the unit (include/vgpu/backend.h),
 * on whichever lane their slot is.
 *
 * Data windows: the plugin passes each window's memfd to the worker once,
 * on a socketpair beside the shared page, and tells it of released windows
 * through a ring in the page (cuda-worker.h).  window_released() may run on
 * any thread while slot threads run requests: it only takes the unit's
 * mutex, which execute() holds for a few field updates and one
 * non-blocking sendmsg, never while a request runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "cuda-child.h"
#include "cuda-worker.h"
#include "vm-sessions.h"
#include "vgpu/backend.h"
#include "vgpu/cuda.h"

#define CUDA_EXEC_TIMEOUT_NS    (10ull * 1000000000u)   /* plus the service time */
#define CUDA_PROBE_OUTPUT_MAX   256
/*
 * A window request may take longer than that: moving its bytes (at least
 * 1 GB/s counted, for the copies and for pinning a window the first time)
 * and SGEMM's arithmetic (at least 1 TFLOP/s counted).
 */
#define CUDA_EXEC_NS_PER_BYTE   1u
#define CUDA_EXEC_FLOP_PER_NS   1000u

struct cuda_unit {
    int gpu;                    /* CUDA ordinal */
    uint64_t service_ns;        /* mediator.conf service-time-us */
    char what[48];              /* "the worker for GPU 0" */
    struct cuda_child child;    /* the worker */
    int window_sock;            /* our end of the window socket; -1 when no worker */

    /*
     * The windows whose fd the current worker holds, at most
     * CUDA_WINDOWS_MAX; `releasing` ones wait for room in the release ring.
     * Guarded by lock (window_released() runs on any thread).
     */
    pthread_mutex_t lock;
    struct cuda_sent_window {
        uint64_t id;
        uint64_t last_use;
        bool releasing;
    } sent[CUDA_WINDOWS_MAX];
    unsigned sent_count;
    uint64_t use_clock;
};

static int cuda_probe(char *err, size_t err_size)
{
    char path[PATH_MAX], out[CUDA_PROBE_OUTPUT_MAX];
    char *argv[] = { path, "--probe", NULL };
    int status, count;

    if (!cuda_child_program(CUDA_WORKER_NAME, path, sizeof(path), err, err_size)) {
        return -1;
    }
    status = cuda_child_run_capture(argv, out, sizeof(out), err, err_size);
    if (status < 0) {
        return -1;
    }
    out[strcspn(out, "\n")] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || (count = atoi(out)) <= 0) {
        if (out[0]) {
            snprintf(err, err_size, "%s", out);
        }
        return -1;
    }
    return count;
}

/* Start a worker on the unit's GPU and wait until it has opened it. */
static bool cuda_start_worker(struct cuda_unit *unit, char *err, size_t err_size)
{
    char path[PATH_MAX], gpu[16], service[24];
    char *argv[] = { path, "--gpu", gpu, "--service-ns", service, NULL };
    int pair[2];
    bool ok;

    if (!cuda_child_program(CUDA_WORKER_NAME, path, sizeof(path), err, err_size)) {
        return false;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
        snprintf(err, err_size, "window socket for GPU %d: %s", unit->gpu, strerror(errno));
        return false;
    }
    /* a fresh worker holds no window: forget what the last one was sent */
    pthread_mutex_lock(&unit->lock);
    if (unit->window_sock >= 0) {
        close(unit->window_sock);
    }
    unit->window_sock = pair[0];
    unit->sent_count = 0;
    cuda_child_page_reset(&unit->child);
    pthread_mutex_unlock(&unit->lock);
    snprintf(gpu, sizeof(gpu), "%d", unit->gpu);
    snprintf(service, sizeof(service), "%llu", (unsigned long long)unit->service_ns);
    ok = cuda_child_start(&unit->child, argv, pair[1], err, err_size);
    close(pair[1]);
    return ok;
}

static void cuda_unit_free(struct cuda_unit *unit)
{
    cuda_vms_close_gpu(unit->gpu);
    cuda_child_destroy(&unit->child);
    if (unit->window_sock >= 0) {
        close(unit->window_sock);
    }
    pthread_mutex_destroy(&unit->lock);
    free(unit);
}

static void *cuda_open(const struct vgpu_backend_unit_config *config,
                       struct vgpu_backend_unit_info *info, char *err, size_t err_size)
{
    struct cuda_unit *unit = calloc(1, sizeof(*unit));
    struct cuda_shared *sh;

    if (!unit) {
        snprintf(err, err_size, "out of host memory");
        return NULL;
    }
    unit->gpu = config->index;
    unit->service_ns = (uint64_t)config->service_time_us * 1000u;
    unit->window_sock = -1;
    pthread_mutex_init(&unit->lock, NULL);
    snprintf(unit->what, sizeof(unit->what), "the worker for GPU %d", unit->gpu);
    if (!cuda_child_init(&unit->child, unit->what, err, err_size)) {
        pthread_mutex_destroy(&unit->lock);
        free(unit);
        return NULL;
    }
    if (!cuda_start_worker(unit, err, err_size)) {
        cuda_unit_free(unit);
        return NULL;
    }
    sh = unit->child.shared;
    snprintf(info->name, sizeof(info->name), "%s", sh->name);
    info->memory_bytes = sh->memory_bytes;
    info->compute_major = sh->compute_major;
    info->compute_minor = sh->compute_minor;
    info->max_in_flight = CUDA_LANES_MAX;
    return unit;
}

/*
 * Move released windows into the ring, as many as it has room for (always
 * all of them: see CUDA_RELEASE_RING), and wake the worker's lane 0 if it
 * sleeps, to drop them.  With the lock held.
 */
static void cuda_flush_releases(struct cuda_unit *unit)
{
    struct cuda_shared *sh = unit->child.shared;
    uint32_t head = atomic_load(&sh->release_head), tail = atomic_load(&sh->release_tail);
    bool pushed = false;

    for (unsigned i = 0; i < unit->sent_count;) {
        if (!unit->sent[i].releasing) {
            i++;
            continue;
        }
        if (head - tail >= CUDA_RELEASE_RING) {
            break;
        }
        sh->release_ids[head++ % CUDA_RELEASE_RING] = unit->sent[i].id;
        unit->sent[i] = unit->sent[--unit->sent_count];
        pushed = true;
    }
    if (pushed) {
        atomic_store(&sh->release_head, head);
        if (atomic_load(&sh->calls[0].worker_sleeping)) {
            cuda_futex_wake(&sh->calls[0].request_seq);     /* the word idle lane 0 sleeps on */
        }
    }
}

/* Send the window's fd to the worker: one message, never blocking.  With the lock held. */
static bool cuda_send_window(struct cuda_unit *unit, const struct vgpu_backend_window *window,
                             char *err, size_t err_size)
{
    struct cuda_window_msg msg = { .id = window->id, .size = window->size };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct iovec iov = { &msg, sizeof(msg) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    ssize_t n;

    memset(&control, 0, sizeof(control));
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &window->fd, sizeof(int));
    while ((n = sendmsg(unit->window_sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 &&
           errno == EINTR) {
    }
    if (n != (ssize_t)sizeof(msg)) {
        snprintf(err, err_size, "passing window %llu to the worker for GPU %d: %s",
                 (unsigned long long)window->id, unit->gpu,
                 n < 0 ? strerror(errno) : "short send");
        return false;
    }
    return true;
}

/*
 * Fill the lane's window fields for this request: released windows into
 * the ring first, then the window's fd on the socket unless this worker
 * has it (forgetting the least recently used window when it holds
 * CUDA_WINDOWS_MAX).
 */
static bool cuda_prepare_window(struct cuda_unit *unit, struct cuda_call *call,
                                const struct vgpu_backend_window *window, char *err,
                                size_t err_size)
{
    struct cuda_sent_window *found = NULL;
    bool ok = true;

    pthread_mutex_lock(&unit->lock);
    cuda_flush_releases(unit);
    call->window_fd_follows = 0;
    for (unsigned i = 0; i < unit->sent_count; i++) {
        if (unit->sent[i].id == window->id && !unit->sent[i].releasing) {
            found = &unit->sent[i];
        }
    }
    if (!found && unit->sent_count == CUDA_WINDOWS_MAX) {
        struct cuda_sent_window *lru = NULL;

        for (unsigned i = 0; i < unit->sent_count; i++) {
            if (!unit->sent[i].releasing && (!lru || unit->sent[i].last_use < lru->last_use)) {
                lru = &unit->sent[i];
            }
        }
        if (lru) {
            lru->releasing = true;
            cuda_flush_releases(unit);
        }
    }
    if (!found && unit->sent_count == CUDA_WINDOWS_MAX) {
        snprintf(err, err_size, "GPU %d: no room for another window", unit->gpu);
        ok = false;
    } else if (!found) {
        ok = cuda_send_window(unit, window, err, err_size);
        if (ok) {
            found = &unit->sent[unit->sent_count++];
            *found = (struct cuda_sent_window){ .id = window->id };
            call->window_fd_follows = 1;
        }
    }
    if (found) {
        found->last_use = ++unit->use_clock;
    }
    call->window_present = ok;
    call->window_id = window->id;
    call->window_size = window->size;
    pthread_mutex_unlock(&unit->lock);
    return ok;
}

/* Any thread: the window is gone; its worker drops it when next idle or before the next request. */
static void cuda_window_released(void *opaque, uint64_t window_id)
{
    struct cuda_unit *unit = opaque;

    pthread_mutex_lock(&unit->lock);
    for (unsigned i = 0; i < unit->sent_count; i++) {
        if (unit->sent[i].id == window_id) {
            unit->sent[i].releasing = true;
        }
    }
    cuda_flush_releases(unit);
    pthread_mutex_unlock(&unit->lock);
    cuda_vms_window_released(window_id);
}

/* How long a request may run before its worker is taken for hung. */
static uint64_t cuda_exec_limit_ns(const struct cuda_unit *unit, const struct vgpu_backend_job *job)
{
    uint64_t limit = CUDA_EXEC_TIMEOUT_NS + unit->service_ns;
    const struct vgpu_window_op *op = job->op;

    if (job->window && op) {
        limit += job->window->size * CUDA_EXEC_NS_PER_BYTE;
        if (op->opcode == VGPU_OP_SGEMM) {
            limit += (uint64_t)(2.0 * op->m * op->n * op->k / CUDA_EXEC_FLOP_PER_NS);
        }
    }
    return limit;
}

static uint32_t cuda_execute(void *opaque, const struct vgpu_backend_job *job,
                             uint32_t *results, uint32_t *result_count, uint64_t *exec_ns,
                             char *err, size_t err_size)
{
    struct cuda_unit *unit = opaque;
    const struct vgpu_request_view *request = job->request;
    struct cuda_call *call;

    if (request->opcode == VGPU_OP_CUDA) {
        /* The VM's own CUDA worker runs it (vm-sessions.c); its faults are
         * the VM's answer, never this unit's failure. */
        return cuda_vms_run(unit->gpu, job, results, result_count, exec_ns, err, err_size);
    }
    if (job->slot >= CUDA_LANES_MAX) {
        snprintf(err, err_size, "GPU %d has no lane for slot %u", unit->gpu, job->slot);
        return VGPU_ERR_BACKEND;
    }
    if (unit->child.pid <= 0) {
        snprintf(err, err_size, "GPU %d has no worker", unit->gpu);
        return VGPU_ERR_BACKEND;
    }
    call = &unit->child.shared->calls[job->slot];
    if (job->window) {
        if (!cuda_prepare_window(unit, call, job->window, err, err_size)) {
            return VGPU_ERR_BACKEND;
        }
    } else {
        call->window_present = 0;
        call->window_fd_follows = 0;
    }
    call->opcode = request->opcode;
    call->param_count = request->param_count;
    for (uint32_t i = 0; i < request->param_count; i++) {
        call->params[i] = vgpu_request_param(request, i);
    }
    if (cuda_child_call(&unit->child, job->slot, cuda_exec_limit_ns(unit, job), err, err_size) !=
        CUDA_CALL_ANSWERED) {
        return VGPU_ERR_BACKEND;
    }
    if (call->status != VGPU_OK) {
        snprintf(err, err_size, "%s", call->error);
        return call->status;
    }
    if (call->result_count > VGPU_RESPONSE_MAX_RESULTS) {
        snprintf(err, err_size, "the worker for GPU %d answered %u results", unit->gpu,
                 call->result_count);
        return VGPU_ERR_BACKEND;
    }
    *result_count = call->result_count;
    memcpy(results, call->results, call->result_count * sizeof(uint32_t));
    *exec_ns = call->exec_ns;
    return VGPU_OK;
}

/* Whether the worker said, on any lane, that it exits after that answer (a CUDA error). */
static bool cuda_worker_exits(const struct cuda_unit *unit)
{
    for (unsigned lane = 0; lane < CUDA_LANES_MAX; lane++) {
        if (unit->child.shared->calls[lane].worker_exits) {
            return true;
        }
    }
    return false;
}

/*
 * After a failure, with no other request in flight on the unit: a worker
 * that still serves needs nothing; one that ended (or says it will, after
 * a CUDA error on any lane) is replaced by a fresh process, which gets a
 * fresh context on the GPU.  False when the GPU cannot be opened again.
 */
static bool cuda_recover(void *opaque, char *err, size_t err_size)
{
    struct cuda_unit *unit = opaque;
    char how[64];

    if (unit->child.pid > 0 &&
        !cuda_child_reap(&unit->child, cuda_worker_exits(unit), how, sizeof(how))) {
        return true;
    }
    return cuda_start_worker(unit, err, err_size);
}

static void cuda_close(void *opaque)
{
    cuda_unit_free(opaque);
}

static const struct vgpu_backend_ops cuda_ops = {
    .abi_version = VGPU_BACKEND_ABI_VERSION,
    .name = "cuda",
    .probe = cuda_probe,
    .open = cuda_open,
    .execute = cuda_execute,
    .recover = cuda_recover,
    .close = cuda_close,
    .window_released = cuda_window_released,
};

__attribute__((visibility("default")))
const struct vgpu_backend_ops *vgpu_backend_entry(void)
{
    return &cuda_ops;
}
