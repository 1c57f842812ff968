/*
 * CUDA runtime calls remoted through vgpu-stub: the batch of calls a guest
 * program's CUDA runtime (the guest library that stands in for
 * libcudart.so) writes into its data window, and what the host writes
 * back.  docs/cuda.md explains the model; this header is the one place the
 * numbers are defined.
 *
 * One VGPU_OP_CUDA request runs one batch: params [offset, length] (64-bit
 * each, low word first) name the batch's bytes in the window.  The host
 * runs the calls in order, in the VM's own CUDA context, until one fails;
 * each call's record gets its result (a cudaError_t number) and outputs in
 * place.  The response's results are [status, index]: the cudaError_t of
 * the first call that failed (0: none) and its index, or
 * VGPU_CUDA_STILL_WAITING and the index of a wait to send again.  Calls that CUDA
 * runs asynchronously (launches, async copies, event records) are batched
 * by the guest and cost no round trip of their own; a call whose result
 * the program needs at once (cudaMalloc's pointer, a synchronous copy to
 * the host) ends a batch.
 *
 * All fields little-endian.  Records are 8-byte aligned; their data
 * (names, images, packed kernel parameters) follows the fixed part.  Bulk
 * data is never inside a record: it lies elsewhere in the window and the
 * record names it as offset + length, checked like every window range.
 */
#ifndef VGPU_CUDA_H
#define VGPU_CUDA_H

#include <stddef.h>
#include <stdint.h>

#define VGPU_OP_CUDA                0x0100u
#define VGPU_CUDA_PARAMS            4u      /* [offset, length] */
#define VGPU_CUDA_RESULTS           2u      /* [status, index] */

/*
 * The cudaError_t numbers the host itself gives (NVIDIA's, which never
 * change).  Errors of the CUDA driver pass through as they are: its CUresult
 * numbers are the runtime's for every error a call here can meet.
 */
#define VGPU_CUDA_SUCCESS                       0u
#define VGPU_CUDA_ERROR_INVALID_VALUE           1u      /* a malformed record, a bad argument */
#define VGPU_CUDA_ERROR_MEMORY_ALLOCATION       2u      /* past the VM's quota, or its tables */
#define VGPU_CUDA_ERROR_INVALID_CONFIGURATION   9u      /* a zero grid or block dimension */
#define VGPU_CUDA_ERROR_INVALID_SYMBOL          13u     /* no such variable in the module */
#define VGPU_CUDA_ERROR_DEVICES_UNAVAILABLE     46u     /* the host cannot take another CUDA VM */
#define VGPU_CUDA_ERROR_INVALID_DEVICE_FUNCTION 98u     /* no such kernel in the module */
#define VGPU_CUDA_ERROR_NO_DEVICE               100u    /* the VM's pool has no GPU */
#define VGPU_CUDA_ERROR_INVALID_KERNEL_IMAGE    200u    /* not a fat binary */
#define VGPU_CUDA_ERROR_INVALID_RESOURCE_HANDLE 400u    /* a handle the VM was never given */
#define VGPU_CUDA_ERROR_NOT_READY               600u    /* a query's answer, not a failure */
#define VGPU_CUDA_ERROR_LAUNCH_TIMEOUT          702u    /* the batch ran past the host's limit */
#define VGPU_CUDA_ERROR_NOT_SUPPORTED           801u    /* a call this host does not run */
#define VGPU_CUDA_ERROR_UNKNOWN                 999u    /* the VM's CUDA worker ended */

/*
 * Not a cudaError_t: a synchronize (device, stream or event) whose work had
 * not finished within VGPU_CUDA_WAIT_SLICE_MS of the batch.  It and the
 * calls after it did not run; the guest sends them again as a batch of
 * their own, which takes its turn in the queue again.  So a VM waiting
 * for long kernels never holds the GPU's unit from the other VMs, and a
 * wait may last longer than any one request's timeout.
 */
#define VGPU_CUDA_STILL_WAITING                 0x10000u
#define VGPU_CUDA_WAIT_SLICE_MS                 20u

#define VGPU_CUDA_BATCH_MAGIC       0x42554356u     /* bytes "VCUB" */
#define VGPU_CUDA_BATCH_MAX         (1u << 20)      /* bytes of one batch */
#define VGPU_CUDA_NAME_MAX          1024u           /* bytes of a kernel or variable name */
#define VGPU_CUDA_PARAMS_MAX        32764u          /* bytes of one launch's parameters */

struct vgpu_cuda_batch {
    uint32_t magic;             /* VGPU_CUDA_BATCH_MAGIC */
    uint32_t count;             /* records that follow */
    uint64_t reserved;          /* 0 */
};

/* Every record starts with this. */
struct vgpu_cuda_record {
    uint32_t call;              /* enum vgpu_cuda_call */
    uint32_t length;            /* bytes of the record, header included; a multiple of 8 */
    uint32_t result;            /* out: cudaError_t; the guest writes 0 */
    uint32_t reserved;          /* 0 */
    uint64_t out[2];            /* out: the call's values (below) */
};

/*
 * The calls: X(name, number, fixed argument words).  Arguments are 64-bit
 * words after the record header; a call may be followed by a name or
 * parameter bytes as noted.  "handle" values are the host's: device
 * pointers, module, function, stream and event handles a VM only ever gets
 * from the host and that the host checks are its own.
 */
#define VGPU_CUDA_CALL_TABLE(X) \
    /* devices */ \
    X(DEVICE_COUNT,       1,  0)   /* out[0]: GPUs this VM may use (0 or 1) */ \
    X(DEVICE_PROPERTIES,  2,  2)   /* [window offset, length]: struct vgpu_cuda_device written there */ \
    X(MEM_GET_INFO,       3,  0)   /* out[0] free, out[1] total: of the VM's quota */ \
    X(DEVICE_SYNCHRONIZE, 4,  0) \
    X(DEVICE_RESET,       5,  0)   /* frees everything of this VM */ \
    /* modules: the program's fat binaries */ \
    X(MODULE_LOAD,        16, 2)   /* [window offset, length] of the fat binary; out[0]: module */ \
    X(MODULE_UNLOAD,      17, 1)   /* [module] */ \
    X(FUNCTION_GET,       18, 1)   /* [module], then the name and its NUL; out[0]: function, \
                                       out[1]: its parameter count */ \
    X(FUNCTION_PARAMS,    19, 3)   /* [function, window offset, length]: (offset, size) u32 pairs, \
                                       one per parameter, written there */ \
    X(VARIABLE_GET,       20, 1)   /* [module], then the name and its NUL; out[0]: address, \
                                       out[1]: size */ \
    /* memory */ \
    X(MALLOC,             32, 1)   /* [bytes]; out[0]: device pointer */ \
    X(FREE,               33, 1)   /* [device pointer] */ \
    X(MEMCPY_HTOD,        34, 4)   /* [device dst, window src offset, bytes, stream] */ \
    X(MEMCPY_DTOH,        35, 4)   /* [window dst offset, device src, bytes, stream] */ \
    X(MEMCPY_DTOD,        36, 4)   /* [device dst, device src, bytes, stream] */ \
    X(MEMSET,             37, 4)   /* [device dst, byte value, bytes, stream] */ \
    /* execution */ \
    X(LAUNCH,             48, 6)   /* [function, grid x|y<<32, grid z|block x<<32, block y|z<<32, \
                                       shared bytes, stream], then the packed parameters */ \
    /* streams and events */ \
    X(STREAM_CREATE,      64, 1)   /* [flags]; out[0]: stream */ \
    X(STREAM_DESTROY,     65, 1)   /* [stream] */ \
    X(STREAM_SYNCHRONIZE, 66, 1)   /* [stream] */ \
    X(STREAM_QUERY,       67, 1)   /* [stream]: result cudaErrorNotReady while busy */ \
    X(STREAM_WAIT_EVENT,  68, 2)   /* [stream, event] */ \
    X(EVENT_CREATE,       80, 1)   /* [flags]; out[0]: event */ \
    X(EVENT_DESTROY,      81, 1)   /* [event] */ \
    X(EVENT_RECORD,       82, 2)   /* [event, stream] */ \
    X(EVENT_SYNCHRONIZE,  83, 1)   /* [event] */ \
    X(EVENT_QUERY,        84, 1)   /* [event] */ \
    X(EVENT_ELAPSED,      85, 2)   /* [start, end]; out[0]: milliseconds as a float's bits */

#define VGPU_CUDA_CALL_ENUM(name, num, words) VGPU_CUDA_##name = num,
enum vgpu_cuda_call {
    VGPU_CUDA_CALL_TABLE(VGPU_CUDA_CALL_ENUM)
};
#undef VGPU_CUDA_CALL_ENUM

/* What DEVICE_PROPERTIES writes: the host GPU's, with the VM's quota as its memory. */
struct vgpu_cuda_device {
    char name[256];
    uint64_t total_memory;              /* the VM's quota, or the GPU's memory without one */
    uint64_t shared_memory_per_block;
    uint64_t shared_memory_per_block_optin;
    uint64_t shared_memory_per_multiprocessor;
    uint64_t constant_memory;
    uint64_t l2_cache_size;
    uint32_t compute_major, compute_minor;
    uint32_t multiprocessors;
    uint32_t warp_size;
    uint32_t max_threads_per_block;
    uint32_t max_threads_dim[3];
    uint32_t max_grid_size[3];
    uint32_t max_threads_per_multiprocessor;
    uint32_t registers_per_block;
    uint32_t registers_per_multiprocessor;
    uint32_t clock_khz;
    uint32_t memory_clock_khz;
    uint32_t memory_bus_width;
    uint32_t pci_bus, pci_device, pci_domain;
    uint32_t reserved[8];               /* 0 */
};

_Static_assert(sizeof(struct vgpu_cuda_batch) == 16, "batch header");
_Static_assert(sizeof(struct vgpu_cuda_record) == 32, "record header");
_Static_assert(sizeof(struct vgpu_cuda_device) == 256 + 6 * 8 + 20 * 4 + 8 * 4, "device");

#endif /* VGPU_CUDA_H */
