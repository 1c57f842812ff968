/*
 * vgpu-stub: a paravirtual PCI device that forwards compute requests from
 * the guest to the host's vgpu-mediatord and returns the results.
 *
 * The guest writes a request into REQUEST_BUFFER, sets REQUEST_LEN and
 * REQUEST_ID and writes 1 to DOORBELL.  The device sends the bytes to the
 * mediator over the socket chardev named by the "chardev" property; the
 * mediator's COMPLETE fills RESPONSE_BUFFER, RESPONSE_LEN, TIMESTAMP and
 * STATUS and raises the completion interrupt (INTx or MSI) if enabled.
 * Every request the device accepts ends in DONE or ERROR: on completion,
 * timeout, mediator disconnect, malformed mediator message, or restore of a
 * saved VM.
 *
 * BAR2 is the data window: shared memory (a sealed memfd, the device's own
 * or the "memdev" backend's) that the guest maps and whose fd the device
 * passes to the mediator in a WINDOW message on every connection, so that
 * array operations read and write it in place.  Its contents migrate as
 * RAM.
 *
 * The register map, wire messages and error codes are the project's
 * contract headers (include/vgpu/); docs/register-map.md documents the
 * device's behaviour register by register.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/main-loop.h"
#include "qemu/memfd.h"
#include "qemu/module.h"
#include "qemu/timer.h"
#include "qemu/uuid.h"
#include "qapi/error.h"
#include "hw/pci/pci.h"
#include "hw/pci/msi.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "chardev/char-fe.h"
#include "migration/vmstate.h"
#include "sysemu/hostmem.h"
#include "sysemu/runstate.h"
#include "sysemu/sysemu.h"
#include "qom/object.h"
#include "trace.h"

#include "vgpu/codec.h"
#include "vgpu/errors.h"
#include "vgpu/regs.h"
#include "vgpu/wire.h"

#define TYPE_VGPU_STUB "vgpu-stub"
OBJECT_DECLARE_SIMPLE_TYPE(VgpuStubState, VGPU_STUB)

/*
 * Registers 0x000..0x03F are 32-bit words; the buffers follow them, then
 * the two words of WINDOW_SIZE, then reserved space.
 */
#define VGPU_STUB_REGS_END          VGPU_REG_REQUEST_BUFFER
#define VGPU_STUB_REG_SIZE          4

/* Seals of the device's own window memfd; the mediator needs SHRINK. */
#define VGPU_STUB_WINDOW_SEALS      (F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)

#define VGPU_STUB_TIMEOUT_MS_DEFAULT 30000   /* doorbell to completion */

struct VgpuStubState {
    PCIDevice parent_obj;

    MemoryRegion mmio;
    MemoryRegion window_ram;        /* BAR2 when no memdev is given */
    MemoryRegion *window;           /* BAR2: window_ram or the memdev's */
    CharBackend chr;                /* socket to vgpu-mediatord */
    QEMUTimer timeout_timer;        /* armed while a request is in flight */
    QEMUBH *disconnect_bh;          /* drops the link (bad message, stall) */
    VMChangeStateEntry *vmstate_change;

    /* Properties */
    uint32_t timeout_ms;
    uint64_t window_size;           /* bytes of BAR2 (the memdev's, if given) */
    HostMemoryBackend *hostmem;     /* "memdev": the window's memory, or NULL */

    /* Registers (guest visible, migrated) */
    uint32_t status;                /* enum vgpu_status */
    uint32_t error_code;            /* enum vgpu_error, meaningful in ERROR */
    uint32_t request_len;
    uint32_t response_len;
    uint32_t request_id;
    uint32_t scratch;
    uint32_t irq_ctrl;              /* VGPU_IRQ_* enable bits */
    uint32_t irq_status;            /* VGPU_IRQ_* pending bits, RW1C */
    uint64_t timestamp;             /* host CLOCK_MONOTONIC ns at completion */
    uint8_t request[VGPU_BUFFER_SIZE];
    uint8_t response[VGPU_BUFFER_SIZE];

    /*
     * The request in flight: the seq of its SUBMIT, 0 when none.  Migrated
     * so that the destination can end it with CANCELLED.
     */
    uint32_t inflight_seq;

    /* Identity from the mediator: 0 until it answers, and after a close. */
    uint32_t pool_id;
    uint32_t priority;
    uint32_t vm_id;

    /* Link state (not migrated: it belongs to this QEMU's connection) */
    bool connected;
    bool warned_not_connected;      /* one log line per disconnected spell */
    uint32_t next_seq;              /* seq of the next SUBMIT, never 0 */
    bool irq_level;                 /* last computed interrupt condition */
    bool notify_on_run;             /* raise the restored completion on run */

    /* Frame being received from the mediator */
    uint8_t rx_buf[VGPU_WIRE_MAX_MESSAGE];
    uint32_t rx_len;                /* bytes in rx_buf */
    bool rx_have_header;            /* rx_header decoded and checked */
    bool dropping;                  /* link being dropped: input ignored */
    struct vgpu_wire_header rx_header;
};

/* Interrupts */

/*
 * Drive INTx, or send an MSI, from INTERRUPT_STATUS & INTERRUPT_CTRL.
 * @event: a completion just happened (MSI is sent for each one).
 */
static void vgpu_stub_update_irq(VgpuStubState *s, bool event)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    bool level = s->irq_status & s->irq_ctrl & VGPU_IRQ_COMPLETION;

    if (msi_enabled(pdev)) {
        pci_set_irq(pdev, 0);
        if (level && (event || !s->irq_level)) {
            msi_notify(pdev, 0);
        }
    } else {
        pci_set_irq(pdev, level);
    }
    s->irq_level = level;
}

/* Requests */

/*
 * Refuse a doorbell at once: STATUS=ERROR with @error.  The request in
 * flight, if any, is untouched and still completes.  No interrupt: the
 * guest sees the refusal when it reads STATUS after the doorbell.
 */
static void vgpu_stub_refuse(VgpuStubState *s, uint32_t error)
{
    s->status = VGPU_STATUS_ERROR;
    s->error_code = error;
    trace_vgpu_stub_refuse(error);
}

/*
 * End the request in flight: @error VGPU_OK gives DONE, anything else
 * ERROR.  RESPONSE_BUFFER gets @len bytes of @response (zeros after them).
 */
static void vgpu_stub_finish(VgpuStubState *s, uint32_t error,
                             const uint8_t *response, uint32_t len)
{
    trace_vgpu_stub_finish(s->inflight_seq, error, len);
    timer_del(&s->timeout_timer);
    s->inflight_seq = 0;

    if (len) {
        memcpy(s->response, response, len);
    }
    memset(s->response + len, 0, sizeof(s->response) - len);
    s->response_len = len;
    s->timestamp = get_clock();
    s->error_code = error;
    s->status = error == VGPU_OK ? VGPU_STATUS_DONE : VGPU_STATUS_ERROR;

    if (s->irq_ctrl & VGPU_IRQ_COMPLETION) {
        s->irq_status |= VGPU_IRQ_COMPLETION;
    }
    vgpu_stub_update_irq(s, true);
}

/* End the request in flight, if any, with a device-side @error. */
static void vgpu_stub_abort(VgpuStubState *s, uint32_t error)
{
    if (s->inflight_seq) {
        vgpu_stub_finish(s, error, NULL, 0);
    }
}

static void vgpu_stub_timeout(void *opaque)
{
    VgpuStubState *s = opaque;

    warn_report("vgpu-stub: no completion from the mediator for request "
                "seq %" PRIu32 " within %" PRIu32 " ms; ending it with TIMEOUT",
                s->inflight_seq, s->timeout_ms);
    vgpu_stub_abort(s, VGPU_ERR_TIMEOUT);
}

/* Link to the mediator */

static void vgpu_stub_set_identity(VgpuStubState *s, uint32_t pool_id,
                                   uint32_t priority, uint32_t vm_id)
{
    s->pool_id = pool_id;
    s->priority = priority;
    s->vm_id = vm_id;
}

static void vgpu_stub_rx_reset(VgpuStubState *s)
{
    s->rx_len = 0;
    s->rx_have_header = false;
    s->dropping = false;
}

/*
 * Drop the link (a reconnect= chardev brings it back) and ignore what
 * arrives until then.  The disconnect runs from a bottom half, outside the
 * chardev's handlers.
 */
static void vgpu_stub_drop_link(VgpuStubState *s)
{
    s->dropping = true;
    qemu_bh_schedule(s->disconnect_bh);
}

/* A malformed or unexpected message: end the request in flight, drop. */
static void vgpu_stub_protocol_error(VgpuStubState *s, const char *why)
{
    warn_report("vgpu-stub: malformed message from the mediator: %s; "
                "disconnecting", why);
    vgpu_stub_abort(s, VGPU_ERR_PROTOCOL);
    vgpu_stub_drop_link(s);
}

/*
 * Send one wire message without blocking.  A message that does not go out
 * whole at once means the mediator stopped reading (one request at a time
 * never fills the socket otherwise): drop the link rather than stall the
 * vCPU, and report false.
 */
/* Send a frame the codec encoded (len 0: it did not fit the contract). */
static bool vgpu_stub_send(VgpuStubState *s, const uint8_t *frame, size_t len)
{
    int sent;

    assert(len);    /* our own messages always fit the contract */
    sent = qemu_chr_fe_write(&s->chr, frame, len);
    if (sent == (int)len) {
        return true;
    }
    warn_report("vgpu-stub: the mediator does not take messages (sent %d "
                "of %zu bytes); disconnecting", MAX(sent, 0), len);
    vgpu_stub_drop_link(s);
    return false;
}

static void vgpu_stub_doorbell(VgpuStubState *s)
{
    uint8_t frame[VGPU_WIRE_MAX_MESSAGE];
    uint32_t seq;

    if (s->inflight_seq) {
        qemu_log_mask(LOG_GUEST_ERROR, "vgpu-stub: doorbell while request "
                      "seq %" PRIu32 " is in flight; refused with BUSY\n",
                      s->inflight_seq);
        vgpu_stub_refuse(s, VGPU_ERR_BUSY);
        return;
    }
    if (s->request_len < 1 || s->request_len > VGPU_BUFFER_SIZE) {
        qemu_log_mask(LOG_GUEST_ERROR, "vgpu-stub: doorbell with REQUEST_LEN "
                      "%" PRIu32 " (must be 1..%u); refused with BAD_LENGTH\n",
                      s->request_len, VGPU_BUFFER_SIZE);
        vgpu_stub_refuse(s, VGPU_ERR_BAD_LENGTH);
        return;
    }
    if (!s->connected || s->dropping) {
        if (!s->warned_not_connected) {
            warn_report("vgpu-stub: doorbell while not connected to the "
                        "mediator; refused with NOT_CONNECTED");
            s->warned_not_connected = true;
        }
        vgpu_stub_refuse(s, VGPU_ERR_NOT_CONNECTED);
        return;
    }

    seq = s->next_seq;
    s->next_seq = seq == UINT32_MAX ? 1 : seq + 1;
    if (!vgpu_stub_send(s, frame,
                        vgpu_wire_submit_encode(frame, sizeof(frame), seq,
                                                s->request_id, s->request,
                                                s->request_len))) {
        vgpu_stub_refuse(s, VGPU_ERR_NOT_CONNECTED);
        return;
    }

    trace_vgpu_stub_submit(seq, s->request_id, s->request_len);
    s->inflight_seq = seq;
    s->status = VGPU_STATUS_BUSY;
    s->error_code = VGPU_OK;
    s->response_len = 0;
    timer_mod(&s->timeout_timer,
              qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) + s->timeout_ms);
}

static void vgpu_stub_disconnect_bh(void *opaque)
{
    VgpuStubState *s = opaque;

    qemu_chr_fe_disconnect(&s->chr);
    vgpu_stub_rx_reset(s);
    qemu_chr_fe_accept_input(&s->chr);
}

static void vgpu_stub_handle_identity(VgpuStubState *s, const uint8_t *p,
                                      uint32_t len)
{
    struct vgpu_wire_identity id;

    if (vgpu_wire_identity_decode(p, len, &id) != VGPU_OK) {
        vgpu_stub_protocol_error(s, "IDENTITY out of range");
        return;
    }
    if (id.error != VGPU_OK) {
        warn_report("vgpu-stub: the mediator gives this VM no identity: %s",
                    vgpu_error_message(id.error));
        vgpu_stub_set_identity(s, 0, 0, 0);
        return;
    }
    trace_vgpu_stub_identity(id.pool_id, id.priority, id.vm_id);
    vgpu_stub_set_identity(s, id.pool_id, id.priority, id.vm_id);
}

static void vgpu_stub_handle_complete(VgpuStubState *s, uint32_t seq,
                                      const uint8_t *p, uint32_t len)
{
    struct vgpu_wire_complete_view complete;

    if (vgpu_wire_complete_decode(p, len, &complete) != VGPU_OK) {
        vgpu_stub_protocol_error(s, "COMPLETE with an unknown error code");
        return;
    }
    /*
     * The mediator wrote the request's outputs into the window behind
     * QEMU's back: mark it dirty so that a migration under way sends those
     * pages again (a no-op while nothing tracks dirty memory).  Late
     * completions count too: their writes happened all the same.
     */
    memory_region_set_dirty(s->window, 0, s->window_size);
    if (seq != s->inflight_seq) {
        warn_report("vgpu-stub: dropping a completion for seq %" PRIu32
                    ", which is not in flight (ended earlier by a timeout "
                    "or a reset?)", seq);
        return;
    }
    vgpu_stub_finish(s, complete.error, complete.response,
                     complete.response_len);
}

/* Act on the complete message in rx_buf. */
static void vgpu_stub_handle_message(VgpuStubState *s)
{
    const uint8_t *payload = s->rx_buf + VGPU_WIRE_HEADER_SIZE;

    switch (s->rx_header.type) {
    case VGPU_WIRE_IDENTITY:
        vgpu_stub_handle_identity(s, payload, s->rx_header.length);
        break;
    case VGPU_WIRE_COMPLETE:
        vgpu_stub_handle_complete(s, s->rx_header.seq, payload,
                                  s->rx_header.length);
        break;
    default:
        vgpu_stub_protocol_error(s, "a message type only devices send");
        break;
    }
}

/* Bytes still missing from the current frame (header first, then payload) */
static int vgpu_stub_rx_wanted(VgpuStubState *s)
{
    if (!s->rx_have_header) {
        return VGPU_WIRE_HEADER_SIZE - s->rx_len;
    }
    return VGPU_WIRE_HEADER_SIZE + s->rx_header.length - s->rx_len;
}

static int vgpu_stub_can_receive(void *opaque)
{
    VgpuStubState *s = opaque;

    return s->dropping ? 0 : vgpu_stub_rx_wanted(s);
}

/* Frames may arrive in any fragments: collect header, then payload. */
static void vgpu_stub_receive(void *opaque, const uint8_t *buf, int size)
{
    VgpuStubState *s = opaque;

    while (size > 0 && !s->dropping) {
        int n = MIN(size, vgpu_stub_rx_wanted(s));

        memcpy(s->rx_buf + s->rx_len, buf, n);
        s->rx_len += n;
        buf += n;
        size -= n;

        if (!s->rx_have_header && s->rx_len == VGPU_WIRE_HEADER_SIZE) {
            if (vgpu_wire_header_decode(s->rx_buf, &s->rx_header) !=
                VGPU_OK) {
                vgpu_stub_protocol_error(s, "bad header (magic, version, "
                                         "type, length or seq)");
                break;
            }
            s->rx_have_header = true;
        }
        if (s->rx_have_header && vgpu_stub_rx_wanted(s) == 0) {
            vgpu_stub_handle_message(s);
            if (!s->dropping) {
                vgpu_stub_rx_reset(s);
            }
        }
    }
}

static void vgpu_stub_send_hello(VgpuStubState *s)
{
    uint8_t frame[VGPU_WIRE_HEADER_SIZE + sizeof(struct vgpu_wire_hello)];

    vgpu_stub_send(s, frame, vgpu_wire_hello_encode(frame, sizeof(frame),
                                                    qemu_uuid.data,
                                                    VGPU_PROTOCOL_VERSION));
}

/*
 * The data window, with its fd attached (SCM_RIGHTS), once per connection
 * right after HELLO.  A chardev that cannot pass fds (not a unix socket)
 * gets no WINDOW: the mediator then refuses window operations with
 * NO_WINDOW, and everything else works.
 */
static void vgpu_stub_send_window(VgpuStubState *s)
{
    uint8_t frame[VGPU_WIRE_HEADER_SIZE + sizeof(struct vgpu_wire_window)];
    int fd = memory_region_get_fd(s->window);

    if (qemu_chr_fe_set_msgfds(&s->chr, &fd, 1) < 0) {
        warn_report("vgpu-stub: the chardev cannot pass file descriptors "
                    "(is it a unix socket?); the mediator gets no data "
                    "window");
        return;
    }
    trace_vgpu_stub_window(s->window_size, fd);
    if (!vgpu_stub_send(s, frame, vgpu_wire_window_encode(frame, sizeof(frame),
                                                          s->window_size))) {
        /* not sent: the fd must not ride along with a later message */
        qemu_chr_fe_set_msgfds(&s->chr, NULL, 0);
    }
}

static void vgpu_stub_event(void *opaque, QEMUChrEvent event)
{
    VgpuStubState *s = opaque;

    switch (event) {
    case CHR_EVENT_OPENED:
        trace_vgpu_stub_connected();
        s->connected = true;
        s->warned_not_connected = false;
        vgpu_stub_rx_reset(s);
        vgpu_stub_send_hello(s);
        if (!s->dropping) {
            vgpu_stub_send_window(s);
        }
        break;
    case CHR_EVENT_CLOSED:
        if (!s->connected) {
            break;
        }
        s->connected = false;
        vgpu_stub_rx_reset(s);
        vgpu_stub_set_identity(s, 0, 0, 0);
        if (s->inflight_seq) {
            warn_report("vgpu-stub: the mediator closed the connection with "
                        "request seq %" PRIu32 " in flight; ending it with "
                        "MEDIATOR_RESTARTED", s->inflight_seq);
            vgpu_stub_abort(s, VGPU_ERR_MEDIATOR_RESTARTED);
        }
        trace_vgpu_stub_disconnected();
        break;
    default:
        break;
    }
}

/* BAR0 */

/* Whether @addr lies in a 32-bit register word (not a buffer, not reserved) */
static bool vgpu_stub_is_reg(hwaddr addr)
{
    return addr < VGPU_STUB_REGS_END ||
           (addr >= VGPU_REG_WINDOW_SIZE_LO && addr < VGPU_REG_RESERVED);
}

/* The 32-bit value of the register word at @addr (aligned, a register). */
static uint32_t vgpu_stub_reg_read(VgpuStubState *s, hwaddr addr)
{
    switch (addr) {
    case VGPU_REG_STATUS:
        return s->status;
    case VGPU_REG_POOL_ID:
        return s->pool_id;
    case VGPU_REG_PRIORITY:
        return s->priority;
    case VGPU_REG_VM_ID:
        return s->vm_id;
    case VGPU_REG_ERROR_CODE:
        return s->error_code;
    case VGPU_REG_REQUEST_LEN:
        return s->request_len;
    case VGPU_REG_RESPONSE_LEN:
        return s->response_len;
    case VGPU_REG_PROTOCOL_VER:
        return VGPU_PROTOCOL_VERSION;
    case VGPU_REG_CAPABILITIES:
        return VGPU_CAP_COMPLETION_IRQ | VGPU_CAP_DATA_WINDOW;
    case VGPU_REG_INTERRUPT_CTRL:
        return s->irq_ctrl;
    case VGPU_REG_INTERRUPT_STATUS:
        return s->irq_status;
    case VGPU_REG_REQUEST_ID:
        return s->request_id;
    case VGPU_REG_TIMESTAMP_LO:
        return (uint32_t)s->timestamp;
    case VGPU_REG_TIMESTAMP_HI:
        return (uint32_t)(s->timestamp >> 32);
    case VGPU_REG_SCRATCH:
        return s->scratch;
    case VGPU_REG_WINDOW_SIZE_LO:
        return (uint32_t)s->window_size;
    case VGPU_REG_WINDOW_SIZE_HI:
        return (uint32_t)(s->window_size >> 32);
    default:                        /* DOORBELL reads 0 */
        return 0;
    }
}

/* One byte of BAR0 as the guest reads it. */
static uint8_t vgpu_stub_read_byte(VgpuStubState *s, hwaddr addr)
{
    if (vgpu_stub_is_reg(addr)) {
        hwaddr word = addr & ~(hwaddr)(VGPU_STUB_REG_SIZE - 1);

        return vgpu_stub_reg_read(s, word) >> (8 * (addr - word));
    }
    if (addr < VGPU_REG_RESPONSE_BUFFER) {
        return s->request[addr - VGPU_REG_REQUEST_BUFFER];
    }
    if (addr < VGPU_REG_WINDOW_SIZE_LO) {
        return s->response[addr - VGPU_REG_RESPONSE_BUFFER];
    }
    return 0;                       /* reserved, from VGPU_REG_RESERVED */
}

/* Reads have no side effects, so any size at any offset reads the bytes. */
static uint64_t vgpu_stub_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    VgpuStubState *s = opaque;
    uint64_t val = 0;
    unsigned i;

    for (i = 0; i < size && addr + i < VGPU_BAR0_SIZE; i++) {
        val |= (uint64_t)vgpu_stub_read_byte(s, addr + i) << (8 * i);
    }
    trace_vgpu_stub_mmio_read(addr, size, val);
    return val;
}

static void vgpu_stub_reg_write(VgpuStubState *s, hwaddr addr, uint32_t val)
{
    switch (addr) {
    case VGPU_REG_DOORBELL:
        if (val != VGPU_DOORBELL_SUBMIT) {
            qemu_log_mask(LOG_GUEST_ERROR, "vgpu-stub: DOORBELL write of "
                          "0x%" PRIx32 " ignored (only %u submits)\n",
                          val, VGPU_DOORBELL_SUBMIT);
            break;
        }
        vgpu_stub_doorbell(s);
        break;
    case VGPU_REG_REQUEST_LEN:
        s->request_len = val;
        break;
    case VGPU_REG_INTERRUPT_CTRL:
        s->irq_ctrl = val & VGPU_IRQ_COMPLETION;
        vgpu_stub_update_irq(s, false);
        break;
    case VGPU_REG_INTERRUPT_STATUS:
        s->irq_status &= ~val;
        vgpu_stub_update_irq(s, false);
        break;
    case VGPU_REG_REQUEST_ID:
        s->request_id = val;
        break;
    case VGPU_REG_SCRATCH:
        s->scratch = val;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "vgpu-stub: write of 0x%" PRIx32
                      " to read-only register 0x%03" HWADDR_PRIx " ignored\n",
                      val, addr);
        break;
    }
}

/*
 * Registers take aligned 32-bit writes; REQUEST_BUFFER takes writes of any
 * size at any offset inside it.  Everything else is ignored and logged.
 */
static void vgpu_stub_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    VgpuStubState *s = opaque;

    trace_vgpu_stub_mmio_write(addr, size, val);
    if (vgpu_stub_is_reg(addr) && size == VGPU_STUB_REG_SIZE &&
        addr % VGPU_STUB_REG_SIZE == 0) {
        vgpu_stub_reg_write(s, addr, val);
    } else if (addr >= VGPU_REG_REQUEST_BUFFER &&
               addr + size <= VGPU_REG_RESPONSE_BUFFER) {
        stn_le_p(s->request + (addr - VGPU_REG_REQUEST_BUFFER), size, val);
    } else {
        qemu_log_mask(LOG_GUEST_ERROR, "vgpu-stub: %u-byte write of 0x%"
                      PRIx64 " at 0x%03" HWADDR_PRIx " ignored (registers "
                      "take aligned 32-bit writes; only REQUEST_BUFFER is "
                      "writable bytewise)\n", size, val, addr);
    }
}

static const MemoryRegionOps vgpu_stub_mmio_ops = {
    .read = vgpu_stub_mmio_read,
    .write = vgpu_stub_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 4,
        .unaligned = true,
    },
};

/* Reset, migration, lifecycle */

/*
 * Guest-visible state back to its reset values.  The identity and the link
 * belong to the connection, which outlives a guest reset; a request in
 * flight is forgotten (its late completion is dropped).
 */
static void vgpu_stub_reset(DeviceState *dev)
{
    VgpuStubState *s = VGPU_STUB(dev);

    timer_del(&s->timeout_timer);
    s->inflight_seq = 0;
    s->status = VGPU_STATUS_IDLE;
    s->error_code = VGPU_OK;
    s->request_len = 0;
    s->response_len = 0;
    s->request_id = 0;
    s->scratch = 0;
    s->irq_ctrl = 0;
    s->irq_status = 0;
    s->timestamp = 0;
    s->notify_on_run = false;
    memset(s->request, 0, sizeof(s->request));
    memset(s->response, 0, sizeof(s->response));
    vgpu_stub_update_irq(s, false);
}

/*
 * A request in flight when the VM was saved has no completion coming here:
 * end it with CANCELLED.  Its interrupt waits until the VM runs, when the
 * rest of the machine (APIC, MSI state) is loaded too.
 */
static int vgpu_stub_post_load(void *opaque, int version_id)
{
    VgpuStubState *s = opaque;

    timer_del(&s->timeout_timer);
    s->irq_level = s->irq_status & s->irq_ctrl & VGPU_IRQ_COMPLETION;
    if (s->inflight_seq) {
        warn_report("vgpu-stub: request seq %" PRIu32 " was in flight when "
                    "the VM was saved; ending it with CANCELLED",
                    s->inflight_seq);
        s->inflight_seq = 0;
        memset(s->response, 0, sizeof(s->response));
        s->response_len = 0;
        s->timestamp = get_clock();
        s->status = VGPU_STATUS_ERROR;
        s->error_code = VGPU_ERR_CANCELLED;
        if (s->irq_ctrl & VGPU_IRQ_COMPLETION) {
            s->irq_status |= VGPU_IRQ_COMPLETION;
        }
        s->notify_on_run = true;
    }
    return 0;
}

static void vgpu_stub_vm_state_change(void *opaque, bool running,
                                      RunState state)
{
    VgpuStubState *s = opaque;

    if (running && s->notify_on_run) {
        s->notify_on_run = false;
        vgpu_stub_update_irq(s, true);
    }
}

static const VMStateDescription vgpu_stub_vmstate = {
    .name = TYPE_VGPU_STUB,
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = vgpu_stub_post_load,
    .fields = (VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, VgpuStubState),
        VMSTATE_UINT32(status, VgpuStubState),
        VMSTATE_UINT32(error_code, VgpuStubState),
        VMSTATE_UINT32(request_len, VgpuStubState),
        VMSTATE_UINT32(response_len, VgpuStubState),
        VMSTATE_UINT32(request_id, VgpuStubState),
        VMSTATE_UINT32(scratch, VgpuStubState),
        VMSTATE_UINT32(irq_ctrl, VgpuStubState),
        VMSTATE_UINT32(irq_status, VgpuStubState),
        VMSTATE_UINT64(timestamp, VgpuStubState),
        VMSTATE_UINT8_ARRAY(request, VgpuStubState, VGPU_BUFFER_SIZE),
        VMSTATE_UINT8_ARRAY(response, VgpuStubState, VGPU_BUFFER_SIZE),
        VMSTATE_UINT32(inflight_seq, VgpuStubState),
        VMSTATE_END_OF_LIST()
    },
};

/* The data window */

/* A window size is a power of two in VGPU_WINDOW_SIZE_MIN..MAX. */
static bool vgpu_stub_window_size_ok(uint64_t size, const char *what,
                                     Error **errp)
{
    g_autofree char *min = NULL, *max = NULL;

    if (size >= VGPU_WINDOW_SIZE_MIN && size <= VGPU_WINDOW_SIZE_MAX &&
        is_power_of_2(size)) {
        return true;
    }
    min = size_to_str(VGPU_WINDOW_SIZE_MIN);
    max = size_to_str(VGPU_WINDOW_SIZE_MAX);
    error_setg(errp, "vgpu-stub: %s is %" PRIu64 " bytes; the data window "
               "must be a power of two from %s to %s", what, size, min, max);
    return false;
}

/*
 * Check the memdev backend as the window: shared, a memfd sealed against
 * shrinking (the mediator maps it and refuses it otherwise), a valid size,
 * and not in use by anything else.
 */
static bool vgpu_stub_check_memdev(VgpuStubState *s, Error **errp)
{
    const char *id = object_get_canonical_path_component(OBJECT(s->hostmem));
    g_autofree char *what = NULL;
    MemoryRegion *mr;
    int fd, seals;

    if (s->window_size != VGPU_WINDOW_SIZE_DEFAULT) {
        error_setg(errp, "vgpu-stub: give window-size or memdev, not both "
                   "(the window is the size of memdev '%s')", id);
        return false;
    }
    if (host_memory_backend_is_mapped(s->hostmem)) {
        error_setg(errp, "vgpu-stub: memdev '%s' is already in use", id);
        return false;
    }
    if (!s->hostmem->share) {
        error_setg(errp, "vgpu-stub: memdev '%s' must be shared (share=on): "
                   "the mediator maps the window", id);
        return false;
    }
    mr = host_memory_backend_get_memory(s->hostmem);
    fd = memory_region_get_fd(mr);
    if (fd < 0) {
        error_setg(errp, "vgpu-stub: memdev '%s' has no file descriptor to "
                   "pass to the mediator: use memory-backend-memfd", id);
        return false;
    }
    seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
        error_setg(errp, "vgpu-stub: memdev '%s' must be a memfd sealed "
                   "against shrinking: use memory-backend-memfd with "
                   "seal=on", id);
        return false;
    }
    what = g_strdup_printf("memdev '%s'", id);
    return vgpu_stub_window_size_ok(memory_region_size(mr), what, errp);
}

/* Set up s->window: the memdev's memory, or a sealed memfd of our own. */
static bool vgpu_stub_window_init(VgpuStubState *s, Error **errp)
{
    Error *err = NULL;
    int fd;

    if (s->hostmem) {
        if (!vgpu_stub_check_memdev(s, errp)) {
            return false;
        }
        s->window = host_memory_backend_get_memory(s->hostmem);
        s->window_size = memory_region_size(s->window);
        host_memory_backend_set_mapped(s->hostmem, true);
        return true;
    }

    if (!vgpu_stub_window_size_ok(s->window_size, "window-size", errp)) {
        return false;
    }
    fd = qemu_memfd_create("vgpu-stub-window", s->window_size, false, 0,
                           VGPU_STUB_WINDOW_SEALS, errp);
    if (fd < 0) {
        error_prepend(errp, "vgpu-stub: cannot create the data window: ");
        return false;
    }
    /* The RAM block owns fd from here on and closes it when freed. */
    memory_region_init_ram_from_fd(&s->window_ram, OBJECT(s),
                                   "vgpu-stub.window", s->window_size,
                                   RAM_SHARED, fd, 0, &err);
    if (err) {
        close(fd);
        error_propagate_prepend(errp, err,
                                "vgpu-stub: cannot map the data window: ");
        return false;
    }
    s->window = &s->window_ram;
    return true;
}

static void vgpu_stub_realize(PCIDevice *pdev, Error **errp)
{
    VgpuStubState *s = VGPU_STUB(pdev);

    if (s->timeout_ms == 0) {
        error_setg(errp, "vgpu-stub: timeout-ms must be at least 1");
        return;
    }

    pci_config_set_interrupt_pin(pdev->config, 1);
    if (msi_init(pdev, 0, 1, true, false, errp)) {
        return;
    }
    if (!vgpu_stub_window_init(s, errp)) {
        msi_uninit(pdev);
        return;
    }

    memory_region_init_io(&s->mmio, OBJECT(s), &vgpu_stub_mmio_ops, s,
                          "vgpu-stub-mmio", VGPU_BAR0_SIZE);
    pci_register_bar(pdev, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->mmio);

    /* The window's contents migrate (and are saved) as RAM, as ivshmem's */
    vmstate_register_ram(s->window, DEVICE(s));
    pci_register_bar(pdev, VGPU_WINDOW_BAR,
                     PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_PREFETCH |
                     PCI_BASE_ADDRESS_MEM_TYPE_64,
                     s->window);

    timer_init_ms(&s->timeout_timer, QEMU_CLOCK_VIRTUAL, vgpu_stub_timeout, s);
    s->disconnect_bh = qemu_bh_new(vgpu_stub_disconnect_bh, s);
    s->vmstate_change = qemu_add_vm_change_state_handler(
        vgpu_stub_vm_state_change, s);
    s->next_seq = 1;

    /* Without a chardev every doorbell ends in NOT_CONNECTED. */
    qemu_chr_fe_set_handlers(&s->chr, vgpu_stub_can_receive,
                             vgpu_stub_receive, vgpu_stub_event, NULL,
                             s, NULL, true);
}

static void vgpu_stub_exit(PCIDevice *pdev)
{
    VgpuStubState *s = VGPU_STUB(pdev);

    qemu_chr_fe_deinit(&s->chr, false);
    qemu_del_vm_change_state_handler(s->vmstate_change);
    qemu_bh_delete(s->disconnect_bh);
    timer_del(&s->timeout_timer);
    vmstate_unregister_ram(s->window, DEVICE(s));
    if (s->hostmem) {
        host_memory_backend_set_mapped(s->hostmem, false);
    }
    msi_uninit(pdev);
}

static Property vgpu_stub_properties[] = {
    DEFINE_PROP_CHR("chardev", VgpuStubState, chr),
    DEFINE_PROP_UINT32("timeout-ms", VgpuStubState, timeout_ms,
                       VGPU_STUB_TIMEOUT_MS_DEFAULT),
    DEFINE_PROP_SIZE("window-size", VgpuStubState, window_size,
                     VGPU_WINDOW_SIZE_DEFAULT),
    DEFINE_PROP_LINK("memdev", VgpuStubState, hostmem, TYPE_MEMORY_BACKEND,
                     HostMemoryBackend *),
    DEFINE_PROP_END_OF_LIST(),
};

static void vgpu_stub_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = vgpu_stub_realize;
    k->exit = vgpu_stub_exit;
    k->vendor_id = VGPU_PCI_VENDOR_ID;
    k->device_id = VGPU_PCI_DEVICE_ID;
    k->subsystem_vendor_id = VGPU_PCI_SUBSYSTEM_VENDOR_ID;
    k->subsystem_id = VGPU_PCI_SUBSYSTEM_ID;
    k->revision = VGPU_PCI_REVISION;
    k->class_id = VGPU_PCI_CLASS;
    dc->desc = "vgpu-stub: GPU compute requests forwarded to vgpu-mediatord";
    dc->reset = vgpu_stub_reset;
    dc->vmsd = &vgpu_stub_vmstate;
    device_class_set_props(dc, vgpu_stub_properties);
    object_class_property_set_description(klass, "window-size",
        "bytes of the data window (BAR2) without memdev: a power of two, "
        "4K to 16G");
    object_class_property_set_description(klass, "memdev",
        "memory-backend-memfd (share=on, seal=on) to use as the data window");
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo vgpu_stub_info = {
    .name = TYPE_VGPU_STUB,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(VgpuStubState),
    .class_init = vgpu_stub_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { },
    },
};

static void vgpu_stub_register_types(void)
{
    type_register_static(&vgpu_stub_info);
}

type_init(vgpu_stub_register_types)
