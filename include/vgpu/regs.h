/*
 * vgpu-stub PCI identity and BAR0 register map.
 *
 * The one place these numbers are defined; docs/register-map.md explains
 * them.  Shared by the QEMU device, the guest tools and the tests.
 */
#ifndef VGPU_REGS_H
#define VGPU_REGS_H

/* PCI identity (config space) */
#define VGPU_PCI_VENDOR_ID          0x1234
#define VGPU_PCI_DEVICE_ID          0x5647
#define VGPU_PCI_SUBSYSTEM_VENDOR_ID VGPU_PCI_VENDOR_ID
#define VGPU_PCI_SUBSYSTEM_ID       VGPU_PCI_DEVICE_ID
#define VGPU_PCI_REVISION           0x01
#define VGPU_PCI_CLASS              0x1200  /* processing accelerator */

/* BAR0: 4 KiB, 32-bit memory, non-prefetchable; all registers 32-bit LE */
#define VGPU_BAR0_SIZE              0x1000

#define VGPU_REG_DOORBELL           0x000   /* W: write 1 to submit; reads 0 */
#define VGPU_REG_STATUS             0x004   /* RO: enum vgpu_status */
#define VGPU_REG_POOL_ID            0x008   /* RO: pool letter, 'A' = 0x41 */
#define VGPU_REG_PRIORITY           0x00C   /* RO: enum vgpu_priority */
#define VGPU_REG_VM_ID              0x010   /* RO: the VM's id, 0 until known */
#define VGPU_REG_ERROR_CODE         0x014   /* RO: enum vgpu_error, when ERROR */
#define VGPU_REG_REQUEST_LEN        0x018   /* RW: request bytes, 1..1024 */
#define VGPU_REG_RESPONSE_LEN       0x01C   /* RO: response bytes */
#define VGPU_REG_PROTOCOL_VER       0x020   /* RO: VGPU_PROTOCOL_VERSION */
#define VGPU_REG_CAPABILITIES       0x024   /* RO: VGPU_CAP_* bits */
#define VGPU_REG_INTERRUPT_CTRL     0x028   /* RW: VGPU_IRQ_* enable bits */
#define VGPU_REG_INTERRUPT_STATUS   0x02C   /* RW1C: VGPU_IRQ_* pending bits */
#define VGPU_REG_REQUEST_ID         0x030   /* RW: guest's tag, echoed */
#define VGPU_REG_TIMESTAMP_LO       0x034   /* RO: completion, CLOCK_MONOTONIC ns */
#define VGPU_REG_TIMESTAMP_HI       0x038   /* RO: high half */
#define VGPU_REG_SCRATCH            0x03C   /* RW: free for the guest */
#define VGPU_REG_REQUEST_BUFFER     0x040   /* RW: VGPU_BUFFER_SIZE bytes */
#define VGPU_REG_RESPONSE_BUFFER    0x440   /* RO: VGPU_BUFFER_SIZE bytes */
#define VGPU_REG_WINDOW_SIZE_LO     0x840   /* RO: data window bytes, low half; 0: none */
#define VGPU_REG_WINDOW_SIZE_HI     0x844   /* RO: high half */
#define VGPU_REG_RESERVED           0x848   /* RO: reads 0 up to the BAR's end */

#define VGPU_BUFFER_SIZE            1024

_Static_assert(VGPU_REG_REQUEST_BUFFER + VGPU_BUFFER_SIZE == VGPU_REG_RESPONSE_BUFFER,
               "response buffer follows the request buffer");
_Static_assert(VGPU_REG_RESPONSE_BUFFER + VGPU_BUFFER_SIZE == VGPU_REG_WINDOW_SIZE_LO,
               "the window size follows the response buffer");
_Static_assert(VGPU_REG_WINDOW_SIZE_HI + 4 == VGPU_REG_RESERVED,
               "reserved space follows the window size");
_Static_assert(VGPU_REG_RESERVED < VGPU_BAR0_SIZE, "the map fits BAR0");

/* DOORBELL */
#define VGPU_DOORBELL_SUBMIT        1u

/* STATUS */
enum vgpu_status {
    VGPU_STATUS_IDLE  = 0,
    VGPU_STATUS_BUSY  = 1,
    VGPU_STATUS_DONE  = 2,
    VGPU_STATUS_ERROR = 3,
};

/* PRIORITY */
enum vgpu_priority {
    VGPU_PRIORITY_LOW    = 0,
    VGPU_PRIORITY_MEDIUM = 1,
    VGPU_PRIORITY_HIGH   = 2,
};
#define VGPU_PRIORITY_COUNT         3

/* POOL_ID: one upper-case letter */
#define VGPU_POOL_FIRST             'A'
#define VGPU_POOL_LAST              'Z'

/* VM_ID: 0 means "no identity yet"; a registered VM has 1..VGPU_VM_ID_MAX */
#define VGPU_VM_ID_MAX              0x7fffffffu

/* PROTOCOL_VER: major in the high half, minor in the low half (1.0) */
#define VGPU_PROTOCOL_VERSION       0x00010000u

/* CAPABILITIES */
#define VGPU_CAP_COMPLETION_IRQ     (1u << 0)   /* INTx and MSI on completion */
#define VGPU_CAP_DATA_WINDOW        (1u << 1)   /* BAR2 is the data window (WINDOW_SIZE) */

/*
 * The data window: BAR2 (64-bit, prefetchable), shared memory that the
 * guest, QEMU, the mediator and the GPU worker all map.  Array operations
 * name their operands as byte ranges in it.  Its size is a power of two.
 */
#define VGPU_WINDOW_BAR             2
#define VGPU_WINDOW_SIZE_DEFAULT    (64ull << 20)
#define VGPU_WINDOW_SIZE_MIN        4096ull
#define VGPU_WINDOW_SIZE_MAX        (16ull << 30)

/* INTERRUPT_CTRL (enable) and INTERRUPT_STATUS (pending, write 1 to clear) */
#define VGPU_IRQ_COMPLETION         (1u << 0)

#endif /* VGPU_REGS_H */
