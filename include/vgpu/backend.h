/*
 * The interface between vgpu-mediatord and a backend (cpu, built in; cuda,
 * a plugin).  Plain C with no GLib types, so that a plugin builds with only
 * this header, include/vgpu/ and its own toolkit (nvcc for cuda).
 *
 * The mediator owns the queue and the threads.  A unit (a GPU, or a CPU
 * lane) runs up to `in_flight` requests at once, each on a slot: a thread
 * of the mediator's that calls execute() for the requests the queue hands
 * it, one at a time.  in_flight is the pool's in-flight setting, at most
 * what open() says the unit can take (max_in_flight; the cpu backend: 1).
 * Only requests without a data window or a CUDA batch (VECTOR_ADD) run
 * beside others; a window opcode or a VGPU_OP_CUDA batch runs alone on its
 * unit, and so does recover().  open() and close() run on slot 0's thread.
 * A backend never queues, reorders or calls back.
 *
 * A plugin is a shared object in the mediator's plugin directory named
 * libvgpu-backend-NAME.so that exports VGPU_BACKEND_ENTRY_SYMBOL.
 */
#ifndef VGPU_BACKEND_H
#define VGPU_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vgpu/codec.h"
#include "vgpu/ops.h"

#define VGPU_BACKEND_ABI_VERSION    4u
#define VGPU_BACKEND_ENTRY_SYMBOL   "vgpu_backend_entry"
#define VGPU_BACKEND_ERROR_MAX      256     /* bytes of an error message, with NUL */

/* What a unit is, for the startup log and `vgpuctl stats`. */
struct vgpu_backend_unit_info {
    char name[128];             /* "NVIDIA H100 80GB HBM3", "cpu lane 0" */
    uint64_t memory_bytes;      /* device memory; 0 for cpu */
    int compute_major;          /* compute capability; 0 for cpu */
    int compute_minor;
    unsigned max_in_flight;     /* slots execute() may run at once; 0 or 1: one at a time */
};

/* Per-unit settings from mediator.conf ([pool X] sections). */
struct vgpu_backend_unit_config {
    int index;                  /* GPU ordinal for cuda, lane number for cpu */
    uint32_t service_time_us;   /* extra time each request takes (tests, benchmarks) */
};

/*
 * A VM's data window as the mediator holds it.  It stays mapped and its fd
 * open while any request on it runs; `id` is never reused while the
 * mediator runs, so a backend may keep state per window (a mapping in its
 * own process, a pinned registration) and drop it in window_released().
 */
struct vgpu_backend_window {
    uint64_t id;
    int fd;                     /* the memfd (a backend may pass it on, not close it) */
    unsigned char *base;        /* the mediator's shared mapping */
    uint64_t size;              /* bytes: a power of two */
};

/* The VM a request comes from, as it was registered (libvirt hook, vgpuctl register). */
struct vgpu_backend_vm {
    uint32_t vm_id;             /* 1..VGPU_VM_ID_MAX */
    const char *name;           /* the domain's name, for messages */
    uint64_t gpu_memory_quota;  /* bytes of GPU memory the VM may hold; 0: no quota */
};

/*
 * What a VGPU_OP_CUDA request leaves the VM holding and what it ran, for
 * `vgpuctl stats` and the metrics.  The mediator zeroes it; a backend that
 * ran the batch on a GPU sets `valid` and the rest.
 */
struct vgpu_backend_cuda_usage {
    bool valid;
    uint64_t memory_used;       /* bytes of GPU memory the VM holds after the batch */
    uint64_t memory_total;      /* what it may hold: its quota, or the GPU's memory */
    uint64_t kernels;           /* kernels this batch launched */
};

/* One request for execute(). */
struct vgpu_backend_job {
    const struct vgpu_request_view *request;    /* decoded; params by vgpu_request_param() */
    const struct vgpu_window_op *op;            /* window opcodes: checked against window */
    const struct vgpu_backend_window *window;   /* window opcodes; NULL otherwise */
    const struct vgpu_backend_vm *vm;           /* never NULL */
    struct vgpu_backend_cuda_usage *usage;      /* out, VGPU_OP_CUDA only; never NULL */
    unsigned slot;              /* 0..in_flight-1; never two requests on one slot at once */
};

struct vgpu_backend_ops {
    uint32_t abi_version;       /* VGPU_BACKEND_ABI_VERSION */
    const char *name;           /* "cpu", "cuda" */

    /*
     * How many units this host has (GPUs for cuda), or -1 with a message in
     * err when the backend cannot run here at all (no driver, no device).
     * Called once on the main thread before any open().
     */
    int (*probe)(char *err, size_t err_size);

    /*
     * Open a unit on the calling (worker) thread and describe it in *info.
     * Returns the unit's context, or NULL with a message in err.
     */
    void *(*open)(const struct vgpu_backend_unit_config *config,
                  struct vgpu_backend_unit_info *info, char *err, size_t err_size);

    /*
     * Run one request that vgpu_request_decode() (and, for a window
     * opcode, vgpu_window_op_decode()) accepted, on the thread of
     * job->slot; other slots of the unit may run theirs at the same time
     * (see above).  Returns VGPU_OK with results[0..*result_count) filled (room
     * for VGPU_RESPONSE_MAX_RESULTS), or VGPU_ERR_BACKEND with a message in
     * err.  *exec_ns gets the time the unit spent on it.
     */
    uint32_t (*execute)(void *unit, const struct vgpu_backend_job *job,
                        uint32_t *results, uint32_t *result_count, uint64_t *exec_ns,
                        char *err, size_t err_size);

    /*
     * After execute() failed: make the unit usable again (e.g. reset the
     * GPU).  Runs on the failed slot's thread once no other request is in
     * flight on the unit.  Returns false, with a message in err, when the unit must be
     * taken out of service.
     */
    bool (*recover)(void *unit, char *err, size_t err_size);

    /* Release the unit, on slot 0's thread, after every slot stopped. */
    void (*close)(void *unit);

    /*
     * Optional (NULL: nothing kept per window).  The window is gone: its
     * connection closed and no request on it is running or queued.  Called
     * for every unit, from any thread, and possibly while the unit runs a
     * request on another window: it must not block on that request.
     */
    void (*window_released)(void *unit, uint64_t window_id);
};

typedef const struct vgpu_backend_ops *(*vgpu_backend_entry_fn)(void);

/* The built-in CPU backend. */
const struct vgpu_backend_ops *vgpu_backend_cpu(void);

#endif /* VGPU_BACKEND_H */
