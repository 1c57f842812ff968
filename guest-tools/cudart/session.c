/*
 * The session with the host: the vgpu-stub device, its data window (held
 * for the program's lifetime: the heap and staging live there), the batch
 * of calls and its flush, and the staging area.  See runtime.h.
 *
 * One batch is one VGPU_OP_CUDA request.  Calls that need no answer now
 * are appended and cost nothing; a call whose result is needed appends
 * itself and runs the batch.  The host runs the records in order until
 * one fails and answers [status, index]: the records after index never
 * ran, so a call whose record lies past a failure fails with it.
 */
#include <string.h>

#include "runtime.h"
#include "vgpu.h"
#include "vgpu/codec.h"
#include "vgpu/cuda-batch.h"
#include "vgpu/ops.h"
#include "window-heap.h"
#include "window-layout.h"

static struct {
    bool opened;                    /* the first call tried to connect */
    cudaError_t open_error;         /* and this is what it got */
    vgpu_device *dev;
    unsigned char *base;            /* the window */
    uint64_t size;
    struct cudart_layout layout;
    struct cudart_heap heap;
    struct vgpu_cuda_writer batch;
    bool batch_answered;            /* the batch ran: the next append starts another */
    uint64_t staging_used;          /* bytes of staging taken since it was last free */
    bool staging_in_flight;         /* deferred copies still read staged bytes */
    bool work_pending;              /* calls deferred since the last device synchronize */
} s;

static cudaError_t defer_record(uint32_t call, const uint64_t *words, const void *tail,
                                size_t tail_len);

static cudaError_t session_connect(void)
{
    enum vgpu_result r;
    void *base;

    r = vgpu_device_open(NULL, &s.dev);
    if (r != VGPU_RESULT_OK) {
        cudart_say("%s: no CUDA device: %s", cudart_api(), vgpu_last_error());
        return cudaErrorNoDevice;
    }
    r = vgpu_device_window(s.dev, &base, &s.size);
    if (r != VGPU_RESULT_OK) {
        cudart_say("%s: no CUDA device: the vgpu-stub device has no usable data window: %s",
                   cudart_api(), vgpu_last_error());
        return cudaErrorNoDevice;
    }
    if (!cudart_layout_compute(s.size, &s.layout)) {
        cudart_say("%s: no CUDA device: the data window has %llu bytes, CUDA needs at "
                   "least %llu", cudart_api(), (unsigned long long)s.size,
                   (unsigned long long)CUDART_WINDOW_MIN);
        return cudaErrorNoDevice;
    }
    /* Batch, staging and heap are this program's for its whole life. */
    r = vgpu_device_window_lock(s.dev);
    if (r != VGPU_RESULT_OK) {
        cudart_say("%s: the data window is in use by another program of this VM (CUDA "
                   "programs run one at a time): %s", cudart_api(), vgpu_last_error());
        return cudaErrorDevicesUnavailable;
    }
    if (!cudart_heap_init(&s.heap, s.layout.heap_offset, s.layout.heap_size)) {
        return cudaErrorMemoryAllocation;
    }
    s.base = base;
    s.batch_answered = true;
    /* What an earlier program of this VM left on the host (it may have been
     * killed) goes first: the window's lock says no other one is running. */
    return defer_record(VGPU_CUDA_DEVICE_RESET, NULL, NULL, 0);
}

cudaError_t cudart_session_open(void)
{
    if (!s.opened) {
        s.opened = true;
        s.open_error = session_connect();
        if (s.open_error != cudaSuccess && s.dev) {
            vgpu_device_close(s.dev);
            s.dev = NULL;
            s.base = NULL;
        }
    }
    return s.open_error;
}

/* Append a record to the batch (a new one when the last was answered). */
static long batch_add(uint32_t call, const uint64_t *words, const void *tail, size_t tail_len)
{
    if (s.batch_answered) {
        vgpu_cuda_writer_init(&s.batch, s.base + s.layout.batch_offset, s.layout.batch_size);
        s.batch_answered = false;
    }
    return vgpu_cuda_writer_add(&s.batch, call, words, tail, tail_len);
}

/* One request with the batch: *status and *index from the host, or why it did not run. */
static cudaError_t batch_submit_once(uint32_t *status, uint32_t *index)
{
    unsigned char request[VGPU_REQUEST_MAX], response[VGPU_RESPONSE_MAX];
    struct vgpu_window_op op = {
        .opcode = VGPU_OP_CUDA,
        .a = s.layout.batch_offset,
        .count = vgpu_cuda_writer_length(&s.batch),
    };
    struct vgpu_response_view view;
    struct vgpu_completion c;
    uint32_t records = s.batch.count;
    enum vgpu_result r;
    size_t len;

    s.batch_answered = true;
    len = vgpu_window_op_encode(request, sizeof(request), &op);
    r = vgpu_device_submit(s.dev, request, len, response, sizeof(response), &c);
    if (r == VGPU_RESULT_DEVICE_ERROR || r == VGPU_RESULT_TIMEOUT) {
        cudart_say("%s: a batch of %u calls did not run: %s", cudart_api(), records,
                   vgpu_last_error());
        return cudaErrorDevicesUnavailable;
    }
    if (r != VGPU_RESULT_OK || vgpu_response_decode(response, c.response_len, &view) != VGPU_OK ||
        view.status != VGPU_OK || view.result_count != VGPU_CUDA_RESULTS) {
        cudart_say("%s: the device's answer to a batch of %u calls is malformed%s%s",
                   cudart_api(), records, r != VGPU_RESULT_OK ? ": " : "",
                   r != VGPU_RESULT_OK ? vgpu_last_error() : "");
        return cudaErrorUnknown;
    }
    *status = vgpu_response_result(&view, 0);
    *index = vgpu_response_result(&view, 1);
    if (*status != 0 && *index >= records) {
        cudart_say("%s: the host says call %u of a batch of %u failed", cudart_api(), *index,
                   records);
        return cudaErrorUnknown;
    }
    return cudaSuccess;
}

/*
 * Run the batch: *status and *index from the host, or why it did not run.
 * A wait the host left running (VGPU_CUDA_STILL_WAITING) goes again, with
 * the calls after it, as a batch of its own, until it ends: *dropped
 * records went before it, and the rest moved *moved bytes to the front.
 */
static cudaError_t batch_submit(uint32_t *status, uint32_t *index, uint32_t *dropped,
                                size_t *moved)
{
    cudaError_t e;

    *dropped = 0;
    *moved = 0;
    while ((e = batch_submit_once(status, index)) == cudaSuccess &&
           *status == VGPU_CUDA_STILL_WAITING) {
        *moved += vgpu_cuda_writer_drop_front(&s.batch, *index);
        *dropped += *index;
    }
    return e;
}

cudaError_t cudart_flush(void)
{
    uint32_t status, index, dropped;
    size_t moved;
    cudaError_t e;

    if (!s.base || s.batch_answered || s.batch.count == 0) {
        return cudaSuccess;
    }
    e = batch_submit(&status, &index, &dropped, &moved);
    if (e == cudaSuccess && status != 0) {
        e = (cudaError_t)status;
        cudart_host_error(e);
    }
    return e;
}

/* Append, running the batch first when it is full; *offset and *index of the record. */
static cudaError_t append(uint32_t call, const uint64_t *words, const void *tail,
                          size_t tail_len, long *offset, uint32_t *index)
{
    cudaError_t e;

    *offset = batch_add(call, words, tail, tail_len);
    if (*offset < 0 && s.batch.count > 0) {
        /* Full.  A failure of the calls before is this call's to report. */
        e = cudart_flush();
        if (e != cudaSuccess) {
            return e;
        }
        *offset = batch_add(call, words, tail, tail_len);
    }
    if (*offset < 0) {
        cudart_say("%s: a %s call of %zu bytes does not fit the batch area of %llu bytes",
                   cudart_api(), vgpu_cuda_call_name(call), tail_len,
                   (unsigned long long)s.layout.batch_size);
        return cudaErrorInvalidValue;
    }
    *index = s.batch.count - 1;
    return cudaSuccess;
}

static cudaError_t defer_record(uint32_t call, const uint64_t *words, const void *tail,
                                size_t tail_len)
{
    uint32_t index;
    long offset;
    cudaError_t e = append(call, words, tail, tail_len, &offset, &index);

    if (e == cudaSuccess) {
        s.work_pending = true;
    }
    return e;
}

cudaError_t cudart_defer(uint32_t call, const uint64_t *words, const void *tail,
                         size_t tail_len)
{
    cudaError_t e = cudart_session_open();

    return e != cudaSuccess ? e : defer_record(call, words, tail, tail_len);
}

cudaError_t cudart_run(uint32_t call, const uint64_t *words, const void *tail, size_t tail_len,
                       uint64_t out[2])
{
    uint32_t status, index, mine, result, dropped;
    uint64_t values[2];
    size_t moved;
    cudaError_t e;
    long offset;

    e = cudart_session_open();
    if (e == cudaSuccess) {
        e = append(call, words, tail, tail_len, &offset, &mine);
    }
    if (e == cudaSuccess) {
        e = batch_submit(&status, &index, &dropped, &moved);
    }
    if (e != cudaSuccess) {
        return e;
    }
    mine -= dropped;            /* where this call's record is now */
    offset -= (long)moved;
    if (status != 0 && index < mine) {
        /* An earlier, deferred call failed: this one never ran. */
        cudart_host_error((cudaError_t)status);
        return (cudaError_t)status;
    }
    vgpu_cuda_record_get(s.base + s.layout.batch_offset, offset, &result, values);
    if (out) {
        out[0] = values[0];
        out[1] = values[1];
    }
    if (result != cudaSuccess) {
        if (result != cudaErrorNotReady) {
            cudart_host_error((cudaError_t)result);
        }
        return (cudaError_t)result;
    }
    if (call == VGPU_CUDA_DEVICE_SYNCHRONIZE || call == VGPU_CUDA_DEVICE_RESET) {
        /* Everything before has finished: staging is free again. */
        s.work_pending = false;
        s.staging_in_flight = false;
        s.staging_used = 0;
    }
    return cudaSuccess;
}

bool cudart_work_pending(void)
{
    return s.work_pending;
}

cudaError_t cudart_staging_take(uint64_t want, uint64_t *offset, uint64_t *got)
{
    uint64_t size, need;
    cudaError_t e = cudart_session_open();

    if (e != cudaSuccess) {
        return e;
    }
    size = s.layout.staging_size;
    need = want < size ? want : size;
    if (size - s.staging_used < need) {
        if (s.staging_in_flight) {
            e = cudart_run(VGPU_CUDA_DEVICE_SYNCHRONIZE, NULL, NULL, 0, NULL);
            if (e != cudaSuccess) {
                return e;
            }
        }
        s.staging_used = 0;
    }
    *offset = s.layout.staging_offset + s.staging_used;
    *got = size - s.staging_used < want ? size - s.staging_used : want;
    /* The next piece starts aligned, for the host's structures. */
    s.staging_used += (*got + CUDART_HEAP_ALIGN - 1) & ~(uint64_t)(CUDART_HEAP_ALIGN - 1);
    if (s.staging_used > size) {
        s.staging_used = size;
    }
    return cudaSuccess;
}

uint64_t cudart_staging_piece(void)
{
    return s.layout.staging_size / CUDART_STAGING_PIECES;
}

void cudart_staging_in_flight(void)
{
    s.staging_in_flight = true;
}

unsigned char *cudart_window_at(uint64_t offset)
{
    return s.base + offset;
}

bool cudart_window_holds(const void *p, size_t len, uint64_t *offset)
{
    uintptr_t start = (uintptr_t)s.base + s.layout.heap_offset;
    uintptr_t end = (uintptr_t)s.base + s.size;
    uintptr_t q = (uintptr_t)p;

    if (!s.base || q < start || q > end || len > end - q) {
        return false;
    }
    *offset = q - (uintptr_t)s.base;
    return true;
}

struct cudart_heap *cudart_session_heap(void)
{
    return s.base ? &s.heap : NULL;
}
