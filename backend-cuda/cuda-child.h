/*
 * A child process of the cuda plugin that serves requests through a
 * shared page (struct cuda_shared, cuda-worker.h): a GPU's worker
 * (vgpu-cuda-worker) or a VM's CUDA worker (vgpu-cuda-vm).  Starting one,
 * handing it a request on a lane and waiting for its answer with a
 * deadline, and noticing when it ended are the same for both.
 *
 * Threads may call on different lanes at once (a GPU's worker): each
 * polls for the child's end while it waits, so reaping and killing take
 * the child's mutex, and only one thread ever waits for a pid.  The thread
 * that reaps wakes the other lanes' waiters, which then end with
 * CUDA_CALL_ENDED.
 */
#ifndef VGPU_CUDA_CHILD_H
#define VGPU_CUDA_CHILD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cuda-worker.h"

#define CUDA_START_TIMEOUT_NS   (60ull * 1000000000u)   /* CUDA's init can take seconds */

struct cuda_child {
    const char *what;           /* "the worker for GPU 0", for messages */
    int shm_fd;                 /* memfd of the shared page */
    struct cuda_shared *shared;
    pthread_mutex_t lock;       /* held to reap or kill */
    _Atomic pid_t pid;          /* 0 when none runs; set to 0 under lock */
    char ended[64];             /* how the last one ended, under lock: "was killed by signal 9" */
    uint32_t seq[CUDA_LANES_MAX];   /* the last request_seq posted on each lane */
};

/* The directory the plugin was loaded from, with `program` appended. */
bool cuda_child_program(const char *program, char *out, size_t size, char *err, size_t err_size);

/* Map a fresh shared page.  False with a message. */
bool cuda_child_init(struct cuda_child *c, const char *what, char *err, size_t err_size);
void cuda_child_destroy(struct cuda_child *c);

/* A blank page for a new child (callers that share it with other threads lock around this). */
void cuda_child_page_reset(struct cuda_child *c);

/*
 * Start argv[0] with the page on CUDA_WORKER_SHM_FD and `extra` (>= 0) on
 * CUDA_WORKER_WINDOW_FD, and wait until it says it is ready.  The page must be reset first.  False with a
 * message (its own, when it could not open the GPU).
 */
bool cuda_child_start(struct cuda_child *c, char *const argv[], int extra, char *err,
                      size_t err_size);

/*
 * Run `path argv...` with stdout into out (NUL-terminated), wait for it.
 * Returns its wait status, or -1 with a message.
 */
int cuda_child_run_capture(char *const argv[], char *out, size_t out_size, char *err,
                           size_t err_size);

enum cuda_call_end {
    CUDA_CALL_ANSWERED,
    CUDA_CALL_ENDED,            /* the child ended first */
    CUDA_CALL_TIMED_OUT,        /* it took longer than its limit and was killed */
};

/*
 * Post the request already written into calls[lane] and wait for the
 * answer, at most limit_ns (past it the child is killed, ending every
 * lane's call).  Never two calls on one lane at once.  Unless answered, a
 * message says why not.
 */
enum cuda_call_end cuda_child_call(struct cuda_child *c, unsigned lane, uint64_t limit_ns,
                                   char *err, size_t err_size);

/*
 * Reap the child if it ended; with `block`, wait for it.  True, saying how
 * it ended, when none runs (any more).
 */
bool cuda_child_reap(struct cuda_child *c, bool block, char *how, size_t how_size);
void cuda_child_kill(struct cuda_child *c);

#endif /* VGPU_CUDA_CHILD_H */
