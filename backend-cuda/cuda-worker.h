/*
 * The cuda backend's two halves and what they share.
 *
 * The plugin (backend-cuda.c), loaded into vgpu-mediatord, never touches
 * CUDA: each unit (GPU) is a child process, vgpu-cuda-worker
 * (cuda-worker.c), that owns the GPU's context.  A GPU fault such as an
 * illegal address poisons a CUDA context for the rest of its process; with
 * the context in a child, the fault ends the requests in flight in BACKEND,
 * the child exits, and the plugin's recover() starts a fresh one on the
 * same GPU.  A GPU that cannot be opened again is taken out of service.  A
 * hung kernel is ended by killing the child.
 *
 * Requests cross a shared memory page (a memfd the plugin creates and the
 * worker inherits) in lanes: calls[lane] holds one request and its
 * response, and a unit's slot s uses lane s, so up to CUDA_LANES_MAX
 * requests are in flight at once, each served by its own worker thread on
 * its own stream.  On a lane, the plugin writes the request and bumps
 * request_seq, the worker writes the response and sets response_seq to it.
 * Each side spins a little before it sleeps on a futex on the other's
 * counter, so back-to-back requests cost no system call; `*_sleeping` tell
 * the writer that a wake is needed.  All atomics are sequentially
 * consistent, which makes "set sleeping, re-check, wait" race-free against
 * "publish, check sleeping, wake".  A VM's CUDA worker (vm-worker.c) uses
 * lane 0 only.
 *
 * Data windows (array opcodes).  Beside the page, plugin and worker share a
 * SOCK_SEQPACKET socketpair (the worker's end on CUDA_WORKER_WINDOW_FD).
 * The first time a request of a window reaches a worker, the plugin sends
 * the window's memfd on it (SCM_RIGHTS, with a struct cuda_window_msg) and
 * sets the lane's window_fd_follows; the worker maps the fd MAP_SHARED and
 * registers the mapping with CUDA (page-locked, so copies are DMA straight
 * from and to the VM's memory), and keeps it in a table by window id.  A
 * window request runs alone on its unit (include/vgpu/backend.h), so the
 * socket's next message is always its own.  The plugin remembers which ids
 * it sent to the current worker, at most CUDA_WINDOWS_MAX (beyond that it
 * forgets the least recently used one, as if released).  A released
 * window's id goes into release_ids[], a ring the plugin fills (under its
 * mutex: one producer) and the worker empties before each window request,
 * after each request of lane 0 and whenever lane 0 wakes while idle; the
 * worker then unregisters, unmaps and closes it.  Pinned bytes are bounded
 * separately by the worker (cuda-worker.c, docs/gpu.md).
 */
#ifndef VGPU_CUDA_WORKER_H
#define VGPU_CUDA_WORKER_H

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vgpu/backend.h"
#include "vgpu/cpu-relax.h"

#define CUDA_WORKER_NAME        "vgpu-cuda-worker"
#define CUDA_VM_WORKER_NAME     "vgpu-cuda-vm"          /* a VM's CUDA worker (vm-worker.c) */
#define CUDA_SHARED_MAGIC       0x56435753u     /* "SWCV" */
#define CUDA_SPIN_NS            200000u         /* each side spins this long before sleeping */
#define CUDA_LANE_SPIN_NS       50000u          /* the worker's lanes > 0 (cuda-worker.c) */
#define CUDA_LANES_MAX          8u              /* requests in flight on one worker */
#define CUDA_WORKER_SHM_FD      3               /* the worker's shared page */
#define CUDA_WORKER_WINDOW_FD   4               /* the worker's end of the window socket */
#define CUDA_WINDOWS_MAX        128u            /* windows a worker holds open at once */
/*
 * Ring of released ids.  An id enters it only after the plugin forgot it,
 * and the worker empties it before each window request, the only kind that
 * sends it a new window: at most CUDA_WINDOWS_MAX + 1 ids wait at once
 * (cuda_flush_releases keeps any that do not fit).
 */
#define CUDA_RELEASE_RING       512u

/* Sent with a window's memfd on the window socket. */
struct cuda_window_msg {
    uint64_t id;
    uint64_t size;
};

enum cuda_worker_state {
    CUDA_WORKER_STARTING = 0,
    CUDA_WORKER_READY,          /* the GPU is open: name, memory, compute filled */
    CUDA_WORKER_FAILED,         /* could not open the GPU: error filled; it exits */
};

/* One lane: a request and its response. */
struct cuda_call {
    /* request: plugin -> worker (each lane on cache lines of its own) */
    _Alignas(64) _Atomic uint32_t request_seq;  /* bumped after the fields below are written */
    _Atomic uint32_t worker_sleeping;       /* the worker waits on request_seq */
    uint32_t opcode;
    uint32_t param_count;
    uint32_t params[VGPU_REQUEST_MAX_PARAMS];
    uint32_t window_present;                /* the request works on a data window */
    uint32_t window_fd_follows;             /* its fd waits on the window socket */
    uint64_t window_id;
    uint64_t window_size;                   /* bytes, as the mediator maps it */

    /* a VGPU_OP_CUDA batch for a VM's CUDA worker: plugin -> worker */
    uint64_t batch_offset, batch_length;    /* in the VM's window */
    uint64_t vm_quota;                      /* bytes of GPU memory the VM may hold; 0: no quota */

    /* response: worker -> plugin */
    _Atomic uint32_t response_seq;          /* = request_seq once the fields below are written */
    _Atomic uint32_t plugin_sleeping;       /* the plugin waits on response_seq */
    uint32_t status;                        /* VGPU_OK or VGPU_ERR_BACKEND */
    uint32_t result_count;
    uint32_t results[VGPU_RESPONSE_MAX_RESULTS];
    uint64_t exec_ns;
    uint64_t vm_memory_used, vm_memory_total;   /* a VM's CUDA worker: after the batch */
    uint64_t vm_kernels;                        /* launched by the batch */
    uint32_t worker_exits;                  /* after this response the worker exits */
    char error[VGPU_BACKEND_ERROR_MAX];     /* why, when status says failure */
};

struct cuda_shared {
    uint32_t magic;                         /* CUDA_SHARED_MAGIC, set by the plugin */
    _Atomic uint32_t state;                 /* enum cuda_worker_state, set by the worker */
    _Atomic uint32_t state_sleeping;        /* the plugin waits on state */
    char name[128];                         /* the GPU's name */
    uint64_t memory_bytes;
    int32_t compute_major, compute_minor;
    char error[VGPU_BACKEND_ERROR_MAX];     /* why, when state says CUDA_WORKER_FAILED */

    /* released windows: plugin -> worker (see above) */
    _Atomic uint32_t release_head;          /* the plugin's: ids written before it moves */
    _Atomic uint32_t release_tail;          /* the worker's */
    uint64_t release_ids[CUDA_RELEASE_RING];

    struct cuda_call calls[CUDA_LANES_MAX];
};

static inline uint64_t cuda_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wait while *word == expected, at most timeout_ns (0: no limit); shared mapping futex. */
static inline void cuda_futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
    struct timespec ts = { (time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u) };

    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, timeout_ns ? &ts : NULL, NULL, 0);
}

static inline void cuda_futex_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/*
 * Wait until *word != last: spin up to spin_ns, then sleep on the futex
 * with *sleeping set, waking every slice_ns (0: never) to let the caller
 * check other things.  Returns the new value, or `last` after a slice
 * passed with no change (or a wake that changed nothing).
 */
static inline uint32_t cuda_wait_change(_Atomic uint32_t *word, uint32_t last,
                                        _Atomic uint32_t *sleeping, uint64_t spin_ns,
                                        uint64_t slice_ns)
{
    uint64_t spin_end = cuda_now_ns() + spin_ns;
    uint32_t now;

    while ((now = atomic_load(word)) == last) {
        if (cuda_now_ns() >= spin_end) {
            atomic_store(sleeping, 1);
            if ((now = atomic_load(word)) == last) {
                cuda_futex_wait(word, last, slice_ns);
                now = atomic_load(word);
            }
            atomic_store(sleeping, 0);
            return now;
        }
        vgpu_cpu_relax();
    }
    return now;
}

/* Publish a new value of *word and wake the other side if it sleeps. */
static inline void cuda_publish(_Atomic uint32_t *word, uint32_t value, _Atomic uint32_t *sleeping)
{
    atomic_store(word, value);
    if (atomic_load(sleeping)) {
        cuda_futex_wake(word);
    }
}

/*
 * A worker's first step: end with the plugin's thread that started it,
 * whatever kills that; keep only the fds it was given; map the shared
 * page.  NULL (said on stderr) when it cannot serve.
 */
static inline struct cuda_shared *cuda_worker_attach(const char *program)
{
    struct cuda_shared *sh;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) {
        return NULL;
    }
    syscall(SYS_close_range, CUDA_WORKER_WINDOW_FD + 1, ~0u, 0);
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, CUDA_WORKER_SHM_FD, 0);
    if (sh == MAP_FAILED || sh->magic != CUDA_SHARED_MAGIC) {
        fprintf(stderr, "%s: no shared page on fd %d\n", program, CUDA_WORKER_SHM_FD);
        return NULL;
    }
    return sh;
}

#endif /* VGPU_CUDA_WORKER_H */
