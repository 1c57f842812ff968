/*
 * libvgpu: submit requests to a vgpu-stub device from inside a guest.
 *
 * The library finds the device in sysfs by its PCI ids, maps BAR0 through
 * resource0, writes a request, rings the doorbell and waits for completion
 * (adaptive polling, or the completion interrupt through uio_pci_generic).
 * Array operations work on the data window, BAR2, mapped through resource2:
 * the caller writes the operands there, names them by offset in a
 * struct vgpu_window_op, and finds the outputs there.
 * It needs only libc; callers are C11 (the contract headers it includes are
 * C, not C++).  libvgpu(3) documents every function.
 *
 * On the host, the address "unix:PATH" (in the options or $VGPU_DEVICE)
 * makes the library speak the device's wire protocol straight to
 * vgpu-mediatord's socket at PATH, for the VM $VGPU_VM_UUID, with a window
 * of $VGPU_WINDOW_SIZE bytes (default 64 MiB): a host link, so that the
 * same programs run on the host for benchmarks and tests.
 *
 * One request at a time reaches the device: a mutex serializes the threads
 * that share a handle, and an flock(2) on resource0 serializes handles and
 * processes (a host link is its own connection: the mutex alone).  All
 * functions are safe to call from several threads.
 */
#ifndef VGPU_H
#define VGPU_H

#include <stddef.h>
#include <stdint.h>

#include <vgpu/errors.h>    /* enum vgpu_error: ERROR_CODE values */
#include <vgpu/protocol.h>  /* request/response layout, opcodes, VGPU_STATUS_* */
#include <vgpu/ops.h>       /* struct vgpu_window_op: an array operation on the window.
                               Of that header only the structures and constants are
                               libvgpu's API; libvgpu.so exports the functions below. */

/* What a libvgpu call returns: VGPU_RESULT_OK, or why it failed. */
#define VGPU_RESULT_TABLE(X) \
    X(OK,           "success") \
    X(NO_DEVICE,    "no vgpu-stub device found") \
    X(PERMISSION,   "permission denied on the device (is the user in group vgpu?)") \
    X(DEVICE_ERROR, "the device answered with an error") \
    X(TIMEOUT,      "the device did not complete the request in time") \
    X(INVALID,      "invalid argument") \
    X(NO_IRQ,       "interrupt wait needs the device bound to uio_pci_generic") \
    X(PROTOCOL,     "the device's answer is malformed") \
    X(TRUNCATED,    "the response does not fit the caller's buffer") \
    X(IO,           "system call on the device failed") \
    X(NO_WINDOW,    "the device has no data window")

#define VGPU_RESULT_ENUM(name, msg) VGPU_RESULT_##name,
enum vgpu_result {
    VGPU_RESULT_TABLE(VGPU_RESULT_ENUM)
    VGPU_RESULT_COUNT
};
#undef VGPU_RESULT_ENUM

/* How a handle waits for completion. */
enum vgpu_wait_mode {
    VGPU_WAIT_AUTO = 0,     /* IRQ when the device has the completion interrupt and
                               uio_pci_generic is bound and usable, else POLL */
    VGPU_WAIT_POLL,         /* spin, then yield, then sleep with growing intervals */
    VGPU_WAIT_IRQ,          /* block on /dev/uioN; open fails without uio_pci_generic */
};

/* Default per-request timeout: longer than the device's own (30 s), so the
 * device's precise ERROR/TIMEOUT normally arrives first. */
#define VGPU_DEFAULT_TIMEOUT_MS     60000u

/* "0000:00:1e.0" and its NUL */
#define VGPU_ADDRESS_MAX            13
/* "uio" and a number, and its NUL */
#define VGPU_UIO_NAME_MAX           16

struct vgpu_open_options {
    const char *address;            /* PCI address, "0000:00:1e.0" or "00:1e.0", or
                                       "unix:PATH" for a host link to the mediator;
                                       NULL: $VGPU_DEVICE, else the lowest found */
    enum vgpu_wait_mode wait;       /* VGPU_WAIT_AUTO by default */
    unsigned timeout_ms;            /* per request; 0: VGPU_DEFAULT_TIMEOUT_MS */
};

struct vgpu_device_info {
    char address[VGPU_ADDRESS_MAX]; /* the device's PCI address; "" for a host link */
    uint16_t vendor_id;             /* from sysfs: 0x1234 */
    uint16_t device_id;             /* from sysfs: 0x5647 */
    uint8_t revision;               /* from sysfs (a host link: VGPU_PCI_REVISION) */
    uint32_t pool_id;               /* POOL_ID: 'A'..'Z', 0 until the device has its identity
                                       (a host link: the mediator's last IDENTITY) */
    uint32_t priority;              /* PRIORITY: enum vgpu_priority (0 without identity) */
    uint32_t vm_id;                 /* VM_ID: 0 until the device has its identity */
    uint32_t protocol_version;      /* PROTOCOL_VER: major << 16 | minor */
    uint32_t capabilities;          /* CAPABILITIES: VGPU_CAP_* bits (a host link:
                                       VGPU_CAP_DATA_WINDOW alone) */
    enum vgpu_wait_mode wait;       /* how this handle waits (never AUTO; a host link:
                                       POLL spins on its socket, then blocks; IRQ blocks) */
    char uio[VGPU_UIO_NAME_MAX];    /* "uio0" when waiting on interrupts, else "" */
};

/* How one submitted request ended, as the device reported it. */
struct vgpu_completion {
    uint32_t status;                /* STATUS: VGPU_STATUS_DONE or VGPU_STATUS_ERROR */
    uint32_t error_code;            /* ERROR_CODE (enum vgpu_error) when ERROR, else VGPU_OK */
    uint32_t request_id;            /* the REQUEST_ID the library gave the request */
    uint64_t timestamp_ns;          /* TIMESTAMP: host CLOCK_MONOTONIC ns at completion */
    size_t response_len;            /* RESPONSE_LEN: bytes of the device's response */
};

typedef struct vgpu_device vgpu_device;

/*
 * Open a device.  opts may be NULL for the defaults.  On success *dev is a
 * handle to close with vgpu_device_close().  Returns NO_DEVICE, PERMISSION,
 * INVALID (malformed address or option), NO_IRQ (wait IRQ without usable
 * uio) or IO; vgpu_last_error() says more.  A host link ("unix:PATH")
 * connects and waits up to the timeout for the mediator's IDENTITY: also
 * INVALID (no or bad $VGPU_VM_UUID, a bad $VGPU_WINDOW_SIZE), NO_DEVICE (no
 * mediator at PATH, or the VM not registered there), TIMEOUT or PROTOCOL.
 */
enum vgpu_result vgpu_device_open(const struct vgpu_open_options *opts, vgpu_device **dev);

/* Unmap and close.  No call on the handle may be running or follow.  NULL is fine. */
void vgpu_device_close(vgpu_device *dev);

/* Identity, capabilities and wait mode of the device.  Never fails on an open handle. */
enum vgpu_result vgpu_device_info(vgpu_device *dev, struct vgpu_device_info *info);

/*
 * Submit request_len (1..VGPU_REQUEST_MAX) bytes of a request and wait for
 * completion.  The response's bytes go to response (up to response_cap; it
 * may be NULL when response_cap is 0) and *completion tells how it ended
 * (completion may be NULL).  Returns OK when the device reported DONE,
 * DEVICE_ERROR when it reported ERROR (completion->error_code says why),
 * TRUNCATED when the response is longer than response_cap (the first
 * response_cap bytes are copied), TIMEOUT when the per-request timeout
 * expired (the library never rings again while the device is busy; a later
 * call waits for that request first), PROTOCOL, INVALID or IO.
 */
enum vgpu_result vgpu_device_submit(vgpu_device *dev, const void *request, size_t request_len,
                                    void *response, size_t response_cap,
                                    struct vgpu_completion *completion);

/*
 * VECTOR_ADD: *sum = a + b (mod 2^32) as the device computed it.  Returns as
 * vgpu_device_submit(); also DEVICE_ERROR when the response carries an error
 * status, PROTOCOL when it is malformed.  completion and exec_time_us (the
 * backend's time) may be NULL.
 */
enum vgpu_result vgpu_device_vector_add(vgpu_device *dev, uint32_t a, uint32_t b, uint32_t *sum,
                                        uint32_t *exec_time_us,
                                        struct vgpu_completion *completion);

/*
 * The data window (BAR2): the shared memory that array operations read and
 * write.  The first call on a handle maps it through the device's
 * resource2; *base gets its address and *size its bytes (either pointer may
 * be NULL).  The size is WINDOW_SIZE, a power of two, and must equal
 * resource2's (a host link's window is its own memfd, mapped at open).
 * The mapping lasts until vgpu_device_close().  Returns
 * NO_WINDOW when the device has none (no VGPU_CAP_DATA_WINDOW, WINDOW_SIZE
 * 0, no resource2), PERMISSION, PROTOCOL (sizes that break the contract)
 * or IO.
 */
enum vgpu_result vgpu_device_window(vgpu_device *dev, void **base, uint64_t *size);

/*
 * Exclusive use of the window among handles and processes: an flock(2) on
 * resource2 (a host link: on its memfd, a window no other handle shares),
 * waited for up to the handle's timeout (TIMEOUT), held until
 * vgpu_device_window_unlock() or vgpu_device_close().  Requests do not take
 * it; a program that fills the window, runs operations and reads the
 * results takes it around all three so that another program's data does
 * not land in between.  Threads that share a handle share the lock.
 * Returns as vgpu_device_window(), or TIMEOUT.
 */
enum vgpu_result vgpu_device_window_lock(vgpu_device *dev);
void vgpu_device_window_unlock(vgpu_device *dev);

/*
 * Run one array operation (ADD_U32, ADD_F32, SAXPY, SUM_F32, SGEMM; see
 * <vgpu/ops.h>) on operands already in the window.  The library maps the
 * window if need be and checks op against its size exactly as the mediator
 * will (offsets aligned, ranges inside the window, no output overlapping an
 * input except in place, sane counts and dimensions): an op that fails is
 * never sent, and the call returns INVALID with vgpu_last_error() naming
 * BAD_PARAMS, BAD_RANGE or OVERLAP and the operand at fault.  Otherwise it
 * returns as vgpu_device_submit(), DEVICE_ERROR also for a response whose
 * status is an error, PROTOCOL for a malformed response.  On OK the outputs
 * are in the window and, for SUM_F32, *sum holds the sum.  sum,
 * exec_time_us and completion may be NULL.
 */
enum vgpu_result vgpu_device_run_op(vgpu_device *dev, const struct vgpu_window_op *op,
                                    double *sum, uint32_t *exec_time_us,
                                    struct vgpu_completion *completion);

/* "DEVICE_ERROR"; NULL for a value that is not a result. */
const char *vgpu_result_name(enum vgpu_result result);

/* The one-line meaning of a result; "unknown result" for a value that is not one. */
const char *vgpu_result_message(enum vgpu_result result);

/*
 * What the last failed call in this thread said, with the context to act on
 * ("cannot open /sys/bus/pci/devices/0000:00:1e.0/resource0: Permission
 * denied", "device error NOT_CONNECTED (6): ...").  "" before any failure.
 */
const char *vgpu_last_error(void);

/* "auto", "poll", "irq"; NULL for a value that is not a mode. */
const char *vgpu_wait_mode_name(enum vgpu_wait_mode mode);

/* Parse "auto", "poll" or "irq".  Returns 0, or -1 for anything else. */
int vgpu_wait_mode_parse(const char *text, enum vgpu_wait_mode *mode);

#endif /* VGPU_H */
