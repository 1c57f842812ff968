/*
 * Run the project's QEMU build with -accel qtest and drive the vgpu-stub
 * device through the qtest protocol (registers, PCI config space, clock,
 * IRQ lines) and QMP.  QEMU connects to sockets the harness listens on; it
 * runs with PR_SET_PDEATHSIG so it never outlives the test, and every wait
 * has a timeout.
 *
 * The device sits at slot VQ_SLOT of bus 0 with BAR0 at VQ_BAR0 and its
 * data window (BAR2, 64-bit) at VQ_BAR2, memory and bus mastering enabled.
 */
#ifndef QEMU_HARNESS_H
#define QEMU_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "fake-mediator.h"

#define VQ_SLOT         0x1e
#define VQ_BAR0         0xe0000000u
#define VQ_BAR2         0x1000000000ull /* 64 GiB: aligned for any window size */
#define VQ_Q35_GSI      20          /* slot 0x1e pin A on q35 */
#define VQ_TIMEOUT_MS   10000       /* longest the harness waits for QEMU */
#define VQ_MSI_ADDR     0x100000u   /* MSI writes land in guest RAM here */

typedef struct {
    const char *machine;        /* "q35" when NULL */
    bool no_chardev;            /* start the device without a mediator link */
    const char *uuid;           /* -uuid, none when NULL */
    uint32_t timeout_ms;        /* device timeout-ms; its default when 0 */
    const char *incoming;       /* -incoming URI, none when NULL */
    const char *window_size;    /* device window-size, e.g. "4096"; its default when NULL */
    const char *memdev;         /* an -object memory backend with id=...; used as the
                                   device's memdev when given */
} VqOptions;

typedef struct VgpuQemu VgpuQemu;

/*
 * Start QEMU in dir (its sockets and logs go there); the device's chardev
 * connects to dir/mediator.sock with reconnect=1.
 */
VgpuQemu *vq_start(const char *dir, const VqOptions *opts);

/* SIGTERM (SIGKILL after VQ_TIMEOUT_MS), reap, free. */
void vq_stop(VgpuQemu *q);

/* SIGKILL at once (a QEMU that crashes or is killed by its admin), reap, free. */
void vq_kill(VgpuQemu *q);

/* The mediator socket path a QEMU in dir connects to (g_free it). */
char *vq_mediator_path(const char *dir);

/*
 * QEMU (q35, -S, nothing but what args add: e.g. "-device",
 * "vgpu-stub,window-size=3", NULL) expected to refuse to start: it must
 * exit with status 1 within VQ_TIMEOUT_MS.  Its output (g_free it).
 */
char *vq_start_refused(const char *dir, const char *const *args);

/* Map BAR0 at VQ_BAR0 and BAR2 at VQ_BAR2, enable memory and bus mastering. */
void vq_pci_enable(VgpuQemu *q);

/* Device config space */
uint32_t vq_cfg_read(VgpuQemu *q, unsigned offset, unsigned size);
void vq_cfg_write(VgpuQemu *q, unsigned offset, unsigned size, uint32_t value);

/* BAR0 accesses of 1, 2, 4 or 8 bytes at any offset */
uint64_t vq_read(VgpuQemu *q, unsigned offset, unsigned size);
void vq_write(VgpuQemu *q, unsigned offset, unsigned size, uint64_t value);
uint32_t vq_readl(VgpuQemu *q, unsigned offset);
void vq_writel(VgpuQemu *q, unsigned offset, uint32_t value);

/* Guest physical memory */
uint32_t vq_mem_readl(VgpuQemu *q, uint64_t addr);
void vq_mem_writel(VgpuQemu *q, uint64_t addr, uint32_t value);
/* len bytes at once (qtest b64read/b64write) */
void vq_memread(VgpuQemu *q, uint64_t addr, void *buf, size_t len);
void vq_memwrite(VgpuQemu *q, uint64_t addr, const void *buf, size_t len);

/* Advance QEMU_CLOCK_VIRTUAL (which drives the device's timeout). */
void vq_clock_step(VgpuQemu *q, uint64_t ns);

/* Report the IOAPIC's input lines; vq_irq gives a line's last level. */
void vq_irq_intercept(VgpuQemu *q);
bool vq_irq(VgpuQemu *q, unsigned gsi);

/* Enable MSI with its message at VQ_MSI_ADDR carrying data. */
void vq_msi_enable(VgpuQemu *q, uint16_t data);

/* Poll a register until it reads value; false after timeout_ms. */
bool vq_wait_reg(VgpuQemu *q, unsigned offset, uint32_t value, int timeout_ms);

/* Send a QMP command (JSON text); the reply line, g_free it. */
char *vq_qmp(VgpuQemu *q, const char *json);

/* Wait for the QMP event name (one that came earlier counts). */
void vq_qmp_wait_event(VgpuQemu *q, const char *name);

/* Poll QMP query-migrate until status is completed; false on failure. */
bool vq_wait_migration(VgpuQemu *q);

/* Poll QMP query-status until the VM runs; false after VQ_TIMEOUT_MS. */
bool vq_wait_running(VgpuQemu *q);

/* Whether QEMU's guest-error log (-d guest_errors) / stderr contain text */
bool vq_guest_log_contains(VgpuQemu *q, const char *text);
bool vq_stderr_contains(VgpuQemu *q, const char *text);

/*
 * A test's setting: private temp dir, fake mediator, QEMU.  The connected
 * setup also takes the HELLO and answers IDENTITY with the FIXTURE_* values.
 */
#define FIXTURE_POOL        'B'
#define FIXTURE_PRIORITY    2
#define FIXTURE_VM_ID       7

typedef struct {
    char *dir;
    FakeMediator *fm;
    VgpuQemu *q;
} DeviceFixture;

/* data: a VqOptions *, or NULL for the defaults */
void fixture_setup_connected(DeviceFixture *f, gconstpointer data);
void fixture_setup_unconnected(DeviceFixture *f, gconstpointer data);
/* QEMU starts while the fake mediator is stopped (fm_restart starts it). */
void fixture_setup_mediator_down(DeviceFixture *f, gconstpointer data);
void fixture_teardown(DeviceFixture *f, gconstpointer data);

/* Start QEMU in f->dir with opts (the fixture's fm must be listening). */
void fixture_start_qemu(DeviceFixture *f, const VqOptions *opts);

/* Accept the device, read HELLO, send the fixture identity, wait for it. */
void fixture_connect(DeviceFixture *f);

/*
 * Write a VECTOR_ADD request for a + b into the device with request_id and
 * ring the doorbell; the STATUS right after it.
 */
uint32_t fixture_submit_vector_add(DeviceFixture *f, uint32_t a, uint32_t b,
                                   uint32_t request_id);

/*
 * One whole request through the fake mediator: submit, check the SUBMIT,
 * complete it, wait for DONE and check the response.  Returns the sum.
 */
uint32_t fixture_vector_add(DeviceFixture *f, uint32_t a, uint32_t b);

/* Wait until STATUS is no longer BUSY; its value then. */
uint32_t fixture_wait_done(DeviceFixture *f);

#endif /* QEMU_HARNESS_H */
