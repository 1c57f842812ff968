/*
 * The plugin's child processes: see cuda-child.h.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "cuda-child.h"

#define CUDA_SLICE_NS   (100ull * 1000000u)     /* how often a wait checks the child */

extern char **environ;

bool cuda_child_program(const char *program, char *out, size_t size, char *err, size_t err_size)
{
    Dl_info info;
    const char *slash;

    /* any address of this object tells where the plugin was loaded from */
    if (!dladdr((void *)cuda_child_program, &info) || !info.dli_fname ||
        !(slash = strrchr(info.dli_fname, '/'))) {
        snprintf(err, err_size, "cannot tell where the cuda plugin was loaded from");
        return false;
    }
    if ((size_t)snprintf(out, size, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname,
                         program) >= size) {
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
 * Start argv with fd `page` as CUDA_WORKER_SHM_FD, `extra` as
 * CUDA_WORKER_WINDOW_FD, or stdout_fd as stdout (each -1: none).  The fds
 * are first moved above the targets so that no dup2 overwrites another's
 * source.
 */
static pid_t spawn(char *const argv[], int page, int extra, int stdout_fd, char *err,
                   size_t err_size)
{
    posix_spawn_file_actions_t actions;
    int page_high = page >= 0 ? fcntl(page, F_DUPFD_CLOEXEC, 10) : -1;
    int extra_high = extra >= 0 ? fcntl(extra, F_DUPFD_CLOEXEC, 10) : -1;
    pid_t pid = -1;
    int rc = errno;

    if ((page < 0 || page_high >= 0) && (extra < 0 || extra_high >= 0)) {
        posix_spawn_file_actions_init(&actions);
        if (page_high >= 0) {
            posix_spawn_file_actions_adddup2(&actions, page_high, CUDA_WORKER_SHM_FD);
        }
        if (extra_high >= 0) {
            posix_spawn_file_actions_adddup2(&actions, extra_high, CUDA_WORKER_WINDOW_FD);
        }
        if (stdout_fd >= 0) {
            posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
        }
        rc = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
    }
    if (page_high >= 0) {
        close(page_high);
    }
    if (extra_high >= 0) {
        close(extra_high);
    }
    if (rc != 0 || pid <= 0) {
        snprintf(err, err_size, "cannot run %s: %s", argv[0], strerror(rc));
        return -1;
    }
    return pid;
}

int cuda_child_run_capture(char *const argv[], char *out, size_t out_size, char *err,
                           size_t err_size)
{
    int fds[2], status = 0;
    size_t len = 0;
    ssize_t n;
    pid_t pid;

    out[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(err, err_size, "pipe: %s", strerror(errno));
        return -1;
    }
    pid = spawn(argv, -1, -1, fds[1], err, err_size);
    close(fds[1]);
    while (pid > 0 && len + 1 < out_size &&
           ((n = read(fds[0], out + len, out_size - 1 - len)) > 0 || (n < 0 && errno == EINTR))) {
        len += n > 0 ? (size_t)n : 0;
    }
    out[len] = '\0';
    close(fds[0]);
    if (pid < 0) {
        return -1;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char how[64];

        describe_status(status, how, sizeof(how));
        snprintf(err, err_size, "%s %s", argv[0], how);
    }
    return status;
}

bool cuda_child_init(struct cuda_child *c, const char *what, char *err, size_t err_size)
{
    void *page;

    *c = (struct cuda_child){ .what = what, .shm_fd = -1 };
    pthread_mutex_init(&c->lock, NULL);
    c->shm_fd = memfd_create("vgpu-cuda-page", MFD_CLOEXEC);
    if (c->shm_fd < 0 || ftruncate(c->shm_fd, sizeof(struct cuda_shared)) < 0 ||
        (page = mmap(NULL, sizeof(struct cuda_shared), PROT_READ | PROT_WRITE, MAP_SHARED,
                     c->shm_fd, 0)) == MAP_FAILED) {
        snprintf(err, err_size, "shared memory for %s: %s", what, strerror(errno));
        cuda_child_destroy(c);
        return false;
    }
    c->shared = page;
    return true;
}

void cuda_child_destroy(struct cuda_child *c)
{
    cuda_child_kill(c);
    if (c->shared) {
        munmap(c->shared, sizeof(*c->shared));
        c->shared = NULL;
    }
    if (c->shm_fd >= 0) {
        close(c->shm_fd);
        c->shm_fd = -1;
    }
    pthread_mutex_destroy(&c->lock);
}

void cuda_child_page_reset(struct cuda_child *c)
{
    memset(c->shared, 0, sizeof(*c->shared));
    c->shared->magic = CUDA_SHARED_MAGIC;
}

/*
 * With the lock held and a child running: wait for it (with `block`) or see
 * whether it ended.  Once reaped, the calls waiting on other lanes are
 * woken to notice.
 */
static bool reap_locked(struct cuda_child *c, bool block)
{
    int status;
    pid_t r;

    while ((r = waitpid(c->pid, &status, block ? 0 : WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == 0) {
        return false;
    }
    if (r < 0) {
        snprintf(c->ended, sizeof(c->ended), "vanished (%s)", strerror(errno));
    } else {
        describe_status(status, c->ended, sizeof(c->ended));
    }
    c->pid = 0;
    for (unsigned lane = 0; lane < CUDA_LANES_MAX; lane++) {
        cuda_futex_wake(&c->shared->calls[lane].response_seq);
    }
    return true;
}

bool cuda_child_reap(struct cuda_child *c, bool block, char *how, size_t how_size)
{
    bool ended;

    pthread_mutex_lock(&c->lock);
    ended = c->pid <= 0 || reap_locked(c, block);
    if (ended) {
        snprintf(how, how_size, "%s", c->ended[0] ? c->ended : "is not running");
    }
    pthread_mutex_unlock(&c->lock);
    return ended;
}

void cuda_child_kill(struct cuda_child *c)
{
    pthread_mutex_lock(&c->lock);
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        reap_locked(c, true);
    }
    pthread_mutex_unlock(&c->lock);
}

bool cuda_child_start(struct cuda_child *c, char *const argv[], int extra, char *err,
                      size_t err_size)
{
    struct cuda_shared *sh = c->shared;
    uint64_t deadline = cuda_now_ns() + CUDA_START_TIMEOUT_NS;
    uint32_t state;
    pid_t pid;
    char how[64];

    memset(c->seq, 0, sizeof(c->seq));
    pid = spawn(argv, c->shm_fd, extra, -1, err, err_size);
    if (pid < 0) {
        return false;
    }
    pthread_mutex_lock(&c->lock);
    c->pid = pid;
    c->ended[0] = '\0';
    pthread_mutex_unlock(&c->lock);
    while ((state = cuda_wait_change(&sh->state, CUDA_WORKER_STARTING, &sh->state_sleeping,
                                     CUDA_SPIN_NS, CUDA_SLICE_NS)) == CUDA_WORKER_STARTING) {
        if (cuda_child_reap(c, false, how, sizeof(how))) {
            snprintf(err, err_size, "%s %s before it was ready", c->what, how);
            return false;
        }
        if (cuda_now_ns() > deadline) {
            cuda_child_kill(c);
            snprintf(err, err_size, "%s was not ready within %llu s", c->what,
                     CUDA_START_TIMEOUT_NS / 1000000000u);
            return false;
        }
    }
    if (state != CUDA_WORKER_READY) {
        snprintf(err, err_size, "%s", sh->error);
        cuda_child_reap(c, true, how, sizeof(how));
        return false;
    }
    return true;
}

enum cuda_call_end cuda_child_call(struct cuda_child *c, unsigned lane, uint64_t limit_ns,
                                   char *err, size_t err_size)
{
    struct cuda_call *call = &c->shared->calls[lane];
    uint64_t deadline = cuda_now_ns() + limit_ns;
    uint32_t done = c->seq[lane], seq = ++c->seq[lane];
    char how[64];

    cuda_publish(&call->request_seq, seq, &call->worker_sleeping);
    while ((done = cuda_wait_change(&call->response_seq, done, &call->plugin_sleeping,
                                    CUDA_SPIN_NS, CUDA_SLICE_NS)) != seq) {
        if (cuda_child_reap(c, false, how, sizeof(how))) {
            if (atomic_load(&call->response_seq) == seq) {
                break;      /* it answered, then ended */
            }
            snprintf(err, err_size, "%s %s", c->what, how);
            return CUDA_CALL_ENDED;
        }
        if (cuda_now_ns() > deadline) {
            cuda_child_kill(c);
            snprintf(err, err_size, "%s did not finish the request within %llu ms; it was killed",
                     c->what, (unsigned long long)(limit_ns / 1000000u));
            return CUDA_CALL_TIMED_OUT;
        }
    }
    return CUDA_CALL_ANSWERED;
}
