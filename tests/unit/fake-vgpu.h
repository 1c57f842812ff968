/*
 * A fake "/" for the guest tools' tests: sysfs PCI devices whose resource0
 * is a 4096-byte regular file, and a mock vgpu-stub that a thread plays on
 * it.  The mock watches DOORBELL in a shared mapping of that file and
 * answers as the device does (docs/register-map.md): STATUS
 * BUSY, then DONE or ERROR with ERROR_CODE, RESPONSE_LEN/BUFFER and
 * TIMESTAMP; a doorbell while a request is in flight is refused with
 * ERROR/BUSY (and counted) while the request in flight completes later.
 *
 * Unlike the real device, the mock takes a doorbell a moment after the
 * write: it sets STATUS first and clears DOORBELL last, which is what
 * libvgpu relies on (device.c, device_settled).
 *
 * Interrupts follow uio_pci_generic: a completion with INTERRUPT_CTRL bit 0
 * set makes the completion pending; a pending completion with INTx unmasked
 * (command register bit 10 clear in the config file) is delivered by
 * setting that bit and writing a count to the fake /dev/uioN (a FIFO).
 * INTERRUPT_STATUS is write-1-to-clear, which a plain file cannot be: the
 * mock keeps the pending bit itself and treats the word as a mailbox for
 * the guest's clears (libvgpu only writes it).
 *
 * The data window (fake_device_add_window) is a resource2 file that the mock
 * maps too.  For the array opcodes the mock plays the mediator and a
 * backend: it checks the request with the contract's decoder against the
 * window's size (NO_WINDOW without one, else BAD_PARAMS, BAD_RANGE,
 * OVERLAP) and computes the result in the window (SGEMM in double, rounded
 * once), optionally corrupted (fake_device_set_corruption).  A CUDA batch
 * (VGPU_OP_CUDA) it range-checks the same way and hands to the CUDA host
 * set with fake_device_set_cuda_host (fake-cuda.h); without one it answers
 * every call with cudaErrorNoDevice, as a pool without a GPU does.
 *
 * Libraries and programs under test find the tree through VGPU_TEST_ROOT.
 */
#ifndef FAKE_VGPU_H
#define FAKE_VGPU_H

#include <glib.h>

#include "vgpu/protocol.h"

typedef enum {
    FAKE_ANSWER,    /* decode the request: VECTOR_ADD -> DONE with a + b, else ERROR with the codec's code */
    FAKE_FAIL,      /* ERROR with the configured code (the response's status says it too) */
    FAKE_SILENT,    /* take the doorbell, stay BUSY until fake_device_release(), then answer */
    FAKE_CARELESS,  /* DONE without results for any request, checking and computing nothing:
                       a host that lost its checks */
} FakeMode;

/* How the mock spoils the result of an array operation. */
typedef enum {
    FAKE_CORRUPT_NONE,
    FAKE_CORRUPT_ULP,       /* output element `index`: its lowest bit flipped (SUM: the double's) */
    FAKE_CORRUPT_LARGE,     /* output element `index` + 1 (u32) or + 1.0 (f32); SUM + 1.0 */
    FAKE_CORRUPT_NO_RESULTS,/* DONE without the results the opcode returns (SUM's two words) */
} FakeCorrupt;

typedef struct FakeRoot FakeRoot;
typedef struct FakeDevice FakeDevice;

typedef struct {
    guint doorbells;            /* doorbells seen */
    guint overlaps;             /* doorbells while a request was in flight */
    guint clobbered;            /* requests whose bytes changed while in flight */
    guint completions;          /* requests completed (DONE or ERROR) */
    guint interrupts;           /* interrupts delivered through the uio FIFO */
    guint irq_clears;           /* writes of 1 to INTERRUPT_STATUS */
    gboolean irq_pending;       /* a completion interrupt is pending */
    guint last_len;             /* REQUEST_LEN of the last accepted request */
    guint32 last_id;            /* REQUEST_ID of the last accepted request */
    guint8 last_request[VGPU_REQUEST_MAX];
    guint64 last_timestamp_ns;  /* TIMESTAMP of the last completion */
    guint window_ops;           /* array operations computed */
} FakeStats;

#define FAKE_EXEC_TIME_US 3     /* exec_time_us in every response */

/* A new empty tree under a temporary directory. */
FakeRoot *fake_root_new(void);
const char *fake_root_path(const FakeRoot *root);
/*
 * Make the tree the one that VGPU_TEST_ROOT leads to, and drop VGPU_DEVICE,
 * for the library in this process and the children it starts.  The first
 * call sets the environment, so make it before any thread starts.
 */
void fake_root_use(const FakeRoot *root);
/* Stop every mock, remove the tree. */
void fake_root_free(FakeRoot *root);

/* A PCI device with these ids; a vgpu-stub's BAR shows PROTOCOL_VER and CAPABILITIES. */
FakeDevice *fake_device_add(FakeRoot *root, const char *address, guint16 vendor, guint16 device);
void fake_device_set_identity(FakeDevice *dev, guint32 pool_id, guint32 priority, guint32 vm_id);
void fake_device_set_capabilities(FakeDevice *dev, guint32 capabilities);
/*
 * A data window of size bytes: CAPABILITIES gets VGPU_CAP_DATA_WINDOW,
 * WINDOW_SIZE the size, and resource2 is a file of that size.  Call before
 * fake_device_start().
 */
void fake_device_add_window(FakeDevice *dev, guint64 size);
/* The mock's mapping of resource2 (NULL without a window). */
void *fake_device_window(FakeDevice *dev);
/* Make WINDOW_SIZE_LO/HI read this, whatever resource2 is. */
void fake_device_set_window_size_reg(FakeDevice *dev, guint64 size);
/*
 * Who answers CUDA batches: run gets the window, the batch's offset and
 * length, and fills results with [status, index]; it runs under the mock's
 * lock.  Call before fake_device_start().
 */
typedef void (*FakeCudaHostFunc)(gpointer host, guint8 *window, guint64 window_size,
                                 guint64 offset, guint64 length, guint32 results[2]);
void fake_device_set_cuda_host(FakeDevice *dev, FakeCudaHostFunc run, gpointer host);
/* Spoil the results of array operations from now on. */
void fake_device_set_corruption(FakeDevice *dev, FakeCorrupt corrupt, guint64 index);
/* Bind to the driver of that name (a driver symlink). */
void fake_device_bind(FakeDevice *dev, const char *driver);
/* A uio/<name> entry; with_node: also /dev/<name>, a FIFO the mock signals. */
void fake_device_add_uio(FakeDevice *dev, const char *name, gboolean with_node);
/* Path of one of the device's sysfs files. */
char *fake_device_file(const FakeDevice *dev, const char *file);

/* Start playing the device (FAKE_ANSWER, no delay, until fake_root_free). */
void fake_device_start(FakeDevice *dev);
/* How to answer from now on; delay_us 0 completes within the doorbell, without BUSY. */
void fake_device_set_mode(FakeDevice *dev, FakeMode mode, guint32 error_code, guint delay_us);
/* Complete the request a FAKE_SILENT mock holds, as FAKE_ANSWER would. */
void fake_device_release(FakeDevice *dev);

void fake_device_stats(FakeDevice *dev, FakeStats *stats);
guint32 fake_device_reg(FakeDevice *dev, guint32 offset);
guint16 fake_device_command(FakeDevice *dev);

#endif /* FAKE_VGPU_H */
