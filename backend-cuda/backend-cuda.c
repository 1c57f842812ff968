/*
 * The cuda backend plugin, libvgpu-backend-cuda.so: runs requests on NVIDIA
 * GPUs through one vgpu-cuda-worker child process per GPU (why and how:
 * cuda-worker.h).  The plugin itself links no CUDA: it loads on any host,
 * and where there is no GPU, probe() says why.  The worker program lies
 * next to the plugin (same directory).
 *
 * Data windows: the plugin passes each window's memfd to the worker once,
 * on a socketpair beside the shared page, and tells it of released windows
 * through a ring in the page (cuda-worker.h).  window_released() may run on
 * any thread while the unit thread runs a request: it only takes the
 * unit's mutex, which execute() holds for a few field updates and one
 * non-blocking sendmsg, never while a request runs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "cuda-worker.h"
#include "vgpu/backend.h"
#include "vgpu/cuda-batch.h"

#define CUDA_START_TIMEOUT_NS   (60ull * 1000000000u)   /* CUDA's init can take seconds */
#define CUDA_EXEC_TIMEOUT_NS    (10ull * 1000000000u)   /* plus the service time */
#define CUDA_SLICE_NS           (100ull * 1000000u)     /* how often a wait checks the worker */
#define CUDA_PROBE_OUTPUT_MAX   256
/*
 * A window request may take longer than that: moving its bytes (at least
 * 1 GB/s counted, for the copies and for pinning a window the first time)
 * and SGEMM's arithmetic (at least 1 TFLOP/s counted).
 */
#define CUDA_EXEC_NS_PER_BYTE   1u
#define CUDA_EXEC_FLOP_PER_NS   1000u

extern char **environ;

struct cuda_unit {
    int gpu;                    /* CUDA ordinal */
    uint64_t service_ns;        /* mediator.conf service-time-us */
    int shm_fd;                 /* memfd of the shared page */
    struct cuda_shared *shared;
    pid_t pid;                  /* the worker; 0 when none runs */
    uint32_t seq;               /* the last request_seq posted */
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

const struct vgpu_backend_ops *vgpu_backend_entry(void);

/* The worker program: next to this plugin. */
static bool cuda_worker_path(char *out, size_t size, char *err, size_t err_size)
{
    Dl_info info;
    const char *slash;

    if (!dladdr((void *)vgpu_backend_entry, &info) || !info.dli_fname ||
        !(slash = strrchr(info.dli_fname, '/'))) {
        snprintf(err, err_size, "cannot tell where the cuda plugin was loaded from");
        return false;
    }
    if ((size_t)snprintf(out, size, "%.*s/" CUDA_WORKER_NAME, (int)(slash - info.dli_fname),
                         info.dli_fname) >= size) {
        snprintf(err, err_size, "the cuda plugin's path is too long");
        return false;
    }
    return true;
}

/* "exited with status 1", "was killed by signal 9". */
static void describe_status(int status, char *out, size_t size)
{
    if (WIFSIGNALED(status)) {
        snprintf(out, size, "was killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
    }
}

/*
 * Start `path args...` with fd `keep` as CUDA_WORKER_SHM_FD, `window` as
 * CUDA_WORKER_WINDOW_FD, or stdout_fd as stdout.  The fds are first moved
 * above the targets so that no dup2 overwrites another's source.
 */
static pid_t cuda_spawn(char *const argv[], int keep, int window, int stdout_fd, char *err,
                        size_t err_size)
{
    posix_spawn_file_actions_t actions;
    int keep_high = keep >= 0 ? fcntl(keep, F_DUPFD_CLOEXEC, 10) : -1;
    int window_high = window >= 0 ? fcntl(window, F_DUPFD_CLOEXEC, 10) : -1;
    pid_t pid;
    int rc;

    if ((keep >= 0 && keep_high < 0) || (window >= 0 && window_high < 0)) {
        snprintf(err, err_size, "cannot run %s: %s", argv[0], strerror(errno));
        if (keep_high >= 0) {
            close(keep_high);
        }
        return -1;
    }
    posix_spawn_file_actions_init(&actions);
    if (keep_high >= 0) {
        posix_spawn_file_actions_adddup2(&actions, keep_high, CUDA_WORKER_SHM_FD);
    }
    if (window_high >= 0) {
        posix_spawn_file_actions_adddup2(&actions, window_high, CUDA_WORKER_WINDOW_FD);
    }
    if (stdout_fd >= 0) {
        posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
    }
    rc = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (keep_high >= 0) {
        close(keep_high);
    }
    if (window_high >= 0) {
        close(window_high);
    }
    if (rc != 0) {
        snprintf(err, err_size, "cannot run %s: %s", argv[0], strerror(rc));
        return -1;
    }
    return pid;
}

static int cuda_probe(char *err, size_t err_size)
{
    char path[PATH_MAX], out[CUDA_PROBE_OUTPUT_MAX] = "";
    char *argv[] = { path, "--probe", NULL };
    int fds[2], status = 0, count;
    size_t len = 0;
    ssize_t n;
    pid_t pid;

    if (!cuda_worker_path(path, sizeof(path), err, err_size)) {
        return -1;
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(err, err_size, "pipe: %s", strerror(errno));
        return -1;
    }
    pid = cuda_spawn(argv, -1, -1, fds[1], err, err_size);
    close(fds[1]);
    while (pid > 0 && len + 1 < sizeof(out) &&
           ((n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0 || (n < 0 && errno == EINTR))) {
        len += n > 0 ? (size_t)n : 0;
    }
    close(fds[0]);
    if (pid < 0) {
        return -1;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    out[strcspn(out, "\n")] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || (count = atoi(out)) <= 0) {
        if (out[0]) {
            snprintf(err, err_size, "%s", out);
        } else {
            char how[64];

            describe_status(status, how, sizeof(how));
            snprintf(err, err_size, "%s %s", path, how);
        }
        return -1;
    }
    return count;
}

/* Reap the worker if it ended; with `block`, wait for it.  Says how it ended. */
static bool cuda_reap(struct cuda_unit *unit, bool block, char *how, size_t how_size)
{
    int status;
    pid_t r;

    if (unit->pid <= 0) {
        snprintf(how, how_size, "is not running");
        return true;
    }
    while ((r = waitpid(unit->pid, &status, block ? 0 : WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == 0) {
        return false;
    }
    if (r < 0) {
        snprintf(how, how_size, "vanished (%s)", strerror(errno));
    } else {
        describe_status(status, how, how_size);
    }
    unit->pid = 0;
    return true;
}

static void cuda_kill(struct cuda_unit *unit)
{
    char how[64];

    if (unit->pid > 0) {
        kill(unit->pid, SIGKILL);
        cuda_reap(unit, true, how, sizeof(how));
    }
}

/* Start a worker on the unit's GPU and wait until it has opened it. */
static bool cuda_start_worker(struct cuda_unit *unit, char *err, size_t err_size)
{
    struct cuda_shared *sh = unit->shared;
    char path[PATH_MAX], gpu[16], service[24], how[64];
    char *argv[] = { path, "--gpu", gpu, "--service-ns", service, NULL };
    uint64_t deadline = cuda_now_ns() + CUDA_START_TIMEOUT_NS;
    uint32_t state;
    int pair[2];

    if (!cuda_worker_path(path, sizeof(path), err, err_size)) {
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
    memset(sh, 0, sizeof(*sh));
    sh->magic = CUDA_SHARED_MAGIC;
    pthread_mutex_unlock(&unit->lock);
    unit->seq = 0;
    snprintf(gpu, sizeof(gpu), "%d", unit->gpu);
    snprintf(service, sizeof(service), "%llu", (unsigned long long)unit->service_ns);
    unit->pid = cuda_spawn(argv, unit->shm_fd, pair[1], -1, err, err_size);
    close(pair[1]);
    if (unit->pid < 0) {
        unit->pid = 0;
        return false;
    }
    while ((state = cuda_wait_change(&sh->state, CUDA_WORKER_STARTING, &sh->plugin_sleeping,
                                     CUDA_SLICE_NS)) == CUDA_WORKER_STARTING) {
        if (cuda_reap(unit, false, how, sizeof(how))) {
            snprintf(err, err_size, "the worker for GPU %d %s before it was ready",
                     unit->gpu, how);
            return false;
        }
        if (cuda_now_ns() > deadline) {
            cuda_kill(unit);
            snprintf(err, err_size, "the worker for GPU %d was not ready within %llu s",
                     unit->gpu, CUDA_START_TIMEOUT_NS / 1000000000u);
            return false;
        }
    }
    if (state != CUDA_WORKER_READY) {
        snprintf(err, err_size, "%s", sh->error);
        cuda_reap(unit, true, how, sizeof(how));
        return false;
    }
    return true;
}

static void cuda_unit_free(struct cuda_unit *unit)
{
    cuda_kill(unit);
    if (unit->shared) {
        munmap(unit->shared, sizeof(*unit->shared));
    }
    if (unit->shm_fd >= 0) {
        close(unit->shm_fd);
    }
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
    void *page;

    if (!unit) {
        snprintf(err, err_size, "out of host memory");
        return NULL;
    }
    unit->gpu = config->index;
    unit->service_ns = (uint64_t)config->service_time_us * 1000u;
    unit->window_sock = -1;
    pthread_mutex_init(&unit->lock, NULL);
    unit->shm_fd = memfd_create("vgpu-cuda-unit", MFD_CLOEXEC);
    if (unit->shm_fd < 0 || ftruncate(unit->shm_fd, sizeof(struct cuda_shared)) < 0 ||
        (page = mmap(NULL, sizeof(struct cuda_shared), PROT_READ | PROT_WRITE, MAP_SHARED,
                     unit->shm_fd, 0)) == MAP_FAILED) {
        snprintf(err, err_size, "shared memory for GPU %d: %s", unit->gpu, strerror(errno));
        cuda_unit_free(unit);
        return NULL;
    }
    unit->shared = page;
    if (!cuda_start_worker(unit, err, err_size)) {
        cuda_unit_free(unit);
        return NULL;
    }
    snprintf(info->name, sizeof(info->name), "%s", unit->shared->name);
    info->memory_bytes = unit->shared->memory_bytes;
    info->compute_major = unit->shared->compute_major;
    info->compute_minor = unit->shared->compute_minor;
    return unit;
}

/*
 * Move released windows into the ring, as many as it has room for (always
 * all of them: see CUDA_RELEASE_RING), and wake an idle worker to drop
 * them.  With the lock held.
 */
static void cuda_flush_releases(struct cuda_unit *unit)
{
    struct cuda_shared *sh = unit->shared;
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
        if (atomic_load(&sh->worker_sleeping)) {
            cuda_futex_wake(&sh->request_seq);      /* the word the idle worker sleeps on */
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
 * Fill the page's window fields for this request: released windows into
 * the ring first, then the window's fd on the socket unless this worker
 * has it (forgetting the least recently used window when it holds
 * CUDA_WINDOWS_MAX).
 */
static bool cuda_prepare_window(struct cuda_unit *unit, const struct vgpu_backend_window *window,
                                char *err, size_t err_size)
{
    struct cuda_shared *sh = unit->shared;
    struct cuda_sent_window *found = NULL;
    bool ok = true;

    pthread_mutex_lock(&unit->lock);
    cuda_flush_releases(unit);
    sh->window_fd_follows = 0;
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
            sh->window_fd_follows = 1;
        }
    }
    if (found) {
        found->last_use = ++unit->use_clock;
    }
    sh->window_present = ok;
    sh->window_id = window->id;
    sh->window_size = window->size;
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
    struct cuda_shared *sh = unit->shared;
    uint64_t limit = cuda_exec_limit_ns(unit, job), deadline = cuda_now_ns() + limit;
    uint32_t done = unit->seq;
    char how[64];

    if (request->opcode == VGPU_OP_CUDA) {
        /* Remoted CUDA calls do not run on the GPU yet (docs/cuda.md): each
         * one says so, loudly, rather than pretending to have run. */
        *result_count = vgpu_cuda_batch_answer_all(job->window->base + job->op->a,
                                                   job->op->count,
                                                   VGPU_CUDA_ERROR_NOT_SUPPORTED, results);
        *exec_ns = 0;
        return VGPU_OK;
    }
    if (unit->pid <= 0) {
        snprintf(err, err_size, "GPU %d has no worker", unit->gpu);
        return VGPU_ERR_BACKEND;
    }
    if (job->window) {
        if (!cuda_prepare_window(unit, job->window, err, err_size)) {
            return VGPU_ERR_BACKEND;
        }
    } else {
        sh->window_present = 0;
        sh->window_fd_follows = 0;
    }
    sh->opcode = request->opcode;
    sh->param_count = request->param_count;
    for (uint32_t i = 0; i < request->param_count; i++) {
        sh->params[i] = vgpu_request_param(request, i);
    }
    cuda_publish(&sh->request_seq, ++unit->seq, &sh->worker_sleeping);
    while ((done = cuda_wait_change(&sh->response_seq, done, &sh->plugin_sleeping,
                                    CUDA_SLICE_NS)) != unit->seq) {
        if (cuda_reap(unit, false, how, sizeof(how))) {
            snprintf(err, err_size, "the worker for GPU %d %s", unit->gpu, how);
            return VGPU_ERR_BACKEND;
        }
        if (cuda_now_ns() > deadline) {
            cuda_kill(unit);
            snprintf(err, err_size, "GPU %d did not finish the request within %llu ms; "
                     "its worker was killed", unit->gpu, (unsigned long long)(limit / 1000000u));
            return VGPU_ERR_BACKEND;
        }
    }
    if (sh->status != VGPU_OK) {
        snprintf(err, err_size, "%s", sh->error);
        return sh->status;
    }
    if (sh->result_count > VGPU_RESPONSE_MAX_RESULTS) {
        snprintf(err, err_size, "the worker for GPU %d answered %u results", unit->gpu,
                 sh->result_count);
        return VGPU_ERR_BACKEND;
    }
    *result_count = sh->result_count;
    memcpy(results, sh->results, sh->result_count * sizeof(uint32_t));
    *exec_ns = sh->exec_ns;
    return VGPU_OK;
}

/*
 * After a failure: a worker that still serves needs nothing; one that ended
 * (or says it will, after a CUDA error) is replaced by a fresh process, which
 * gets a fresh context on the GPU.  False when the GPU cannot be opened again.
 */
static bool cuda_recover(void *opaque, char *err, size_t err_size)
{
    struct cuda_unit *unit = opaque;
    char how[64];

    if (unit->pid > 0 && !cuda_reap(unit, unit->shared->worker_exits != 0, how, sizeof(how))) {
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
