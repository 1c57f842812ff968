/*
 * vgpu-stub PCI identity and BAR0 register map: every register's reset
 * value and access rule, accesses of every size and alignment, reset.
 */
#include <string.h>

#include <glib.h>

#include "vgpu/errors.h"
#include "vgpu/regs.h"
#include "qemu-harness.h"

#define PCI_VENDOR_ID           0x00
#define PCI_DEVICE_ID           0x02
#define PCI_COMMAND             0x04
#define PCI_STATUS              0x06
#define PCI_STATUS_CAP_LIST     0x10
#define PCI_REVISION_ID         0x08
#define PCI_CLASS_PROG          0x09
#define PCI_CLASS_DEVICE        0x0a
#define PCI_BASE_ADDRESS_0      0x10
#define PCI_BASE_ADDRESS_1      0x14
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID        0x2e
#define PCI_CAPABILITY_LIST     0x34
#define PCI_INTERRUPT_PIN       0x3d
#define PCI_CAP_ID_MSI          0x05
#define PCI_MSI_FLAGS           2
#define PCI_MSI_FLAGS_QMASK     0x0e    /* log2 of vectors the device asks for */
#define PCI_MSI_FLAGS_64BIT     0x80
#define PCI_BAR_MEM_TYPE_MASK   0x0f    /* space, type and prefetch bits */

#define PATTERN 0xa5a5a5a5u
#define CAPABILITIES (VGPU_CAP_COMPLETION_IRQ | VGPU_CAP_DATA_WINDOW)

enum access { RO, RW, RW_BIT0, RW1C, DOORBELL };

static const struct reg {
    unsigned offset;
    const char *name;
    uint32_t reset;
    enum access access;
} regs[] = {
    { VGPU_REG_DOORBELL,         "DOORBELL",         0, DOORBELL },
    { VGPU_REG_STATUS,           "STATUS",           VGPU_STATUS_IDLE, RO },
    { VGPU_REG_POOL_ID,          "POOL_ID",          0, RO },
    { VGPU_REG_PRIORITY,         "PRIORITY",         0, RO },
    { VGPU_REG_VM_ID,            "VM_ID",            0, RO },
    { VGPU_REG_ERROR_CODE,       "ERROR_CODE",       VGPU_OK, RO },
    { VGPU_REG_REQUEST_LEN,      "REQUEST_LEN",      0, RW },
    { VGPU_REG_RESPONSE_LEN,     "RESPONSE_LEN",     0, RO },
    { VGPU_REG_PROTOCOL_VER,     "PROTOCOL_VER",     VGPU_PROTOCOL_VERSION, RO },
    { VGPU_REG_CAPABILITIES,     "CAPABILITIES",     CAPABILITIES, RO },
    { VGPU_REG_INTERRUPT_CTRL,   "INTERRUPT_CTRL",   0, RW_BIT0 },
    { VGPU_REG_INTERRUPT_STATUS, "INTERRUPT_STATUS", 0, RW1C },
    { VGPU_REG_REQUEST_ID,       "REQUEST_ID",       0, RW },
    { VGPU_REG_TIMESTAMP_LO,     "TIMESTAMP_LO",     0, RO },
    { VGPU_REG_TIMESTAMP_HI,     "TIMESTAMP_HI",     0, RO },
    { VGPU_REG_SCRATCH,          "SCRATCH",          0, RW },
    { VGPU_REG_WINDOW_SIZE_LO,   "WINDOW_SIZE_LO",   (uint32_t)VGPU_WINDOW_SIZE_DEFAULT, RO },
    { VGPU_REG_WINDOW_SIZE_HI,   "WINDOW_SIZE_HI",   VGPU_WINDOW_SIZE_DEFAULT >> 32, RO },
};

static const VqOptions no_chardev = { .no_chardev = true };

static void test_pci_identity(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    unsigned cap, caps = 0;

    (void)data;
    g_assert_cmphex(vq_cfg_read(q, PCI_VENDOR_ID, 2), ==, VGPU_PCI_VENDOR_ID);
    g_assert_cmphex(vq_cfg_read(q, PCI_DEVICE_ID, 2), ==, VGPU_PCI_DEVICE_ID);
    g_assert_cmphex(vq_cfg_read(q, PCI_REVISION_ID, 1), ==, VGPU_PCI_REVISION);
    g_assert_cmphex(vq_cfg_read(q, PCI_CLASS_DEVICE, 2), ==, VGPU_PCI_CLASS);
    g_assert_cmphex(vq_cfg_read(q, PCI_CLASS_PROG, 1), ==, 0);
    g_assert_cmphex(vq_cfg_read(q, PCI_SUBSYSTEM_VENDOR_ID, 2), ==, VGPU_PCI_SUBSYSTEM_VENDOR_ID);
    g_assert_cmphex(vq_cfg_read(q, PCI_SUBSYSTEM_ID, 2), ==, VGPU_PCI_SUBSYSTEM_ID);
    g_assert_cmpuint(vq_cfg_read(q, PCI_INTERRUPT_PIN, 1), ==, 1);    /* INTA */

    /* BAR0: 4 KiB, 32-bit memory, non-prefetchable; no BAR1 */
    vq_cfg_write(q, PCI_COMMAND, 2, 0);
    vq_cfg_write(q, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
    g_assert_cmphex(vq_cfg_read(q, PCI_BASE_ADDRESS_0, 4), ==, (uint32_t)~(VGPU_BAR0_SIZE - 1));
    g_assert_cmphex(vq_cfg_read(q, PCI_BASE_ADDRESS_0, 4) & PCI_BAR_MEM_TYPE_MASK, ==, 0);
    vq_cfg_write(q, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
    g_assert_cmphex(vq_cfg_read(q, PCI_BASE_ADDRESS_1, 4), ==, 0);

    /* Capabilities: exactly one, MSI with one vector */
    g_assert_true(vq_cfg_read(q, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    for (cap = vq_cfg_read(q, PCI_CAPABILITY_LIST, 1); cap; cap = vq_cfg_read(q, cap + 1, 1)) {
        g_assert_cmphex(vq_cfg_read(q, cap, 1), ==, PCI_CAP_ID_MSI);
        g_assert_cmphex(vq_cfg_read(q, cap + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_QMASK, ==, 0);
        g_assert_true(vq_cfg_read(q, cap + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_64BIT);
        caps++;
    }
    g_assert_cmpuint(caps, ==, 1);
}

static void assert_reset_values(VgpuQemu *q, bool with_identity)
{
    for (size_t i = 0; i < G_N_ELEMENTS(regs); i++) {
        uint32_t want = regs[i].reset;

        if (with_identity && regs[i].offset == VGPU_REG_POOL_ID) {
            want = FIXTURE_POOL;
        } else if (with_identity && regs[i].offset == VGPU_REG_PRIORITY) {
            want = FIXTURE_PRIORITY;
        } else if (with_identity && regs[i].offset == VGPU_REG_VM_ID) {
            want = FIXTURE_VM_ID;
        }
        g_test_message("%s", regs[i].name);
        g_assert_cmphex(vq_readl(q, regs[i].offset), ==, want);
    }
    for (unsigned off = VGPU_REG_REQUEST_BUFFER; off < VGPU_REG_WINDOW_SIZE_LO; off += 4) {
        g_assert_cmphex(vq_readl(q, off), ==, 0);
    }
    for (unsigned off = VGPU_REG_RESERVED; off < VGPU_BAR0_SIZE; off += 4) {
        g_assert_cmphex(vq_readl(q, off), ==, 0);
    }
}

static void test_reset_values(DeviceFixture *f, gconstpointer data)
{
    (void)data;
    assert_reset_values(f->q, false);
}

static void test_access_rules(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;

    (void)data;
    for (size_t i = 0; i < G_N_ELEMENTS(regs); i++) {
        const struct reg *r = &regs[i];
        uint32_t got;

        g_test_message("%s", r->name);
        vq_writel(q, r->offset, PATTERN);
        got = vq_readl(q, r->offset);
        switch (r->access) {
        case RO: {
            g_autofree char *log = g_strdup_printf("read-only register 0x%03x", r->offset);

            g_assert_cmphex(got, ==, r->reset);
            g_assert_true(vq_guest_log_contains(q, log));
            break;
        }
        case RW:
            g_assert_cmphex(got, ==, PATTERN);
            vq_writel(q, r->offset, 0);
            g_assert_cmphex(vq_readl(q, r->offset), ==, 0);
            break;
        case RW_BIT0:
            g_assert_cmphex(got, ==, PATTERN & VGPU_IRQ_COMPLETION);
            break;
        case RW1C:
            g_assert_cmphex(got, ==, 0);    /* nothing pending to clear */
            break;
        case DOORBELL:
            g_assert_cmphex(got, ==, 0);
            g_assert_true(vq_guest_log_contains(q, "DOORBELL write of 0xa5a5a5a5 ignored"));
            break;
        }
    }
    /* The DOORBELL write above did not submit anything. */
    g_assert_cmpuint(vq_readl(q, VGPU_REG_STATUS), ==, VGPU_STATUS_IDLE);
}

static void test_buffers_and_reserved(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    g_autofree char *log = g_strdup_printf("write of 0xa5a5a5a5 at 0x%03x ignored",
                                           VGPU_REG_RESERVED);

    (void)data;
    /* REQUEST_BUFFER holds what is written, at every word */
    for (unsigned i = 0; i < VGPU_BUFFER_SIZE; i += 4) {
        vq_writel(q, VGPU_REG_REQUEST_BUFFER + i, 0x01000000u * (i & 0xff) + i);
    }
    for (unsigned i = 0; i < VGPU_BUFFER_SIZE; i += 4) {
        g_assert_cmphex(vq_readl(q, VGPU_REG_REQUEST_BUFFER + i), ==, 0x01000000u * (i & 0xff) + i);
    }
    /* RESPONSE_BUFFER and reserved space ignore writes and read 0 */
    vq_writel(q, VGPU_REG_RESPONSE_BUFFER, PATTERN);
    vq_writel(q, VGPU_REG_RESPONSE_BUFFER + VGPU_BUFFER_SIZE - 4, PATTERN);
    vq_writel(q, VGPU_REG_RESERVED, PATTERN);
    vq_writel(q, VGPU_BAR0_SIZE - 4, PATTERN);
    vq_write(q, VGPU_BAR0_SIZE - 1, 1, 0xff);
    g_assert_cmphex(vq_readl(q, VGPU_REG_RESPONSE_BUFFER), ==, 0);
    g_assert_cmphex(vq_readl(q, VGPU_REG_RESPONSE_BUFFER + VGPU_BUFFER_SIZE - 4), ==, 0);
    g_assert_cmphex(vq_readl(q, VGPU_REG_RESERVED), ==, 0);
    g_assert_cmphex(vq_readl(q, VGPU_BAR0_SIZE - 4), ==, 0);
    g_assert_cmphex(vq_read(q, VGPU_BAR0_SIZE - 1, 1), ==, 0);
    g_assert_true(vq_guest_log_contains(q, log));
    /* WINDOW_SIZE reads bytewise like the other registers */
    g_assert_cmphex(vq_read(q, VGPU_REG_WINDOW_SIZE_LO, 8), ==, VGPU_WINDOW_SIZE_DEFAULT);
    g_assert_cmphex(vq_read(q, VGPU_REG_WINDOW_SIZE_LO + 1, 4), ==,
                    (uint32_t)(VGPU_WINDOW_SIZE_DEFAULT >> 8));
    g_assert_cmphex(vq_read(q, VGPU_REG_WINDOW_SIZE_LO + 3, 1), ==,
                    (uint8_t)(VGPU_WINDOW_SIZE_DEFAULT >> 24));
}

static void test_sub_word_accesses(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    const unsigned buf = VGPU_REG_REQUEST_BUFFER;

    (void)data;
    /* Reads of any size and offset return the registers' LE bytes */
    g_assert_cmphex(vq_read(q, VGPU_REG_PROTOCOL_VER + 2, 1), ==, VGPU_PROTOCOL_VERSION >> 16);
    g_assert_cmphex(vq_read(q, VGPU_REG_PROTOCOL_VER + 2, 2), ==, VGPU_PROTOCOL_VERSION >> 16);
    g_assert_cmphex(vq_read(q, VGPU_REG_PROTOCOL_VER + 1, 4), ==,
                    (VGPU_PROTOCOL_VERSION >> 8) | (CAPABILITIES << 24));
    vq_writel(q, VGPU_REG_SCRATCH, 0x44332211);
    vq_writel(q, buf, 0x88776655);
    g_assert_cmphex(vq_read(q, VGPU_REG_SCRATCH + 2, 4), ==, 0x66554433);
    g_assert_cmphex(vq_read(q, VGPU_REG_SCRATCH, 8), ==, 0x8877665544332211ull);

    /* Sub-word and unaligned register writes are ignored and logged */
    vq_write(q, VGPU_REG_SCRATCH, 1, 0xff);
    vq_write(q, VGPU_REG_SCRATCH + 2, 2, 0xffff);
    vq_write(q, VGPU_REG_SCRATCH - 1, 4, 0xffffffff);
    g_assert_cmphex(vq_readl(q, VGPU_REG_SCRATCH), ==, 0x44332211);
    g_assert_true(vq_guest_log_contains(q, "1-byte write of 0xff at 0x03c ignored"));
    vq_write(q, VGPU_REG_DOORBELL, 1, VGPU_DOORBELL_SUBMIT);   /* not a doorbell */
    g_assert_cmpuint(vq_readl(q, VGPU_REG_STATUS), ==, VGPU_STATUS_IDLE);

    /* An 8-byte register write is two aligned 32-bit writes */
    vq_write(q, VGPU_REG_REQUEST_ID, 8, 0x0123456789abcdefull);
    g_assert_cmphex(vq_readl(q, VGPU_REG_REQUEST_ID), ==, 0x89abcdef);
    g_assert_cmphex(vq_readl(q, VGPU_REG_TIMESTAMP_LO), ==, 0);    /* RO half ignored */

    /* REQUEST_BUFFER takes writes of any size at any offset inside it */
    vq_write(q, buf + 1, 1, 0xaa);
    vq_write(q, buf + 3, 2, 0xccbb);       /* unaligned, crosses a word */
    g_assert_cmphex(vq_readl(q, buf), ==, 0xbb77aa55);
    g_assert_cmphex(vq_read(q, buf + 4, 1), ==, 0xcc);
    vq_write(q, buf + 5, 4, 0x04030201);
    g_assert_cmphex(vq_read(q, buf + 5, 4), ==, 0x04030201);
    vq_write(q, buf + 16, 8, 0x1122334455667788ull);
    g_assert_cmphex(vq_read(q, buf + 16, 8), ==, 0x1122334455667788ull);
    vq_write(q, buf + VGPU_BUFFER_SIZE - 1, 1, 0x5a);
    g_assert_cmphex(vq_read(q, buf + VGPU_BUFFER_SIZE - 1, 1), ==, 0x5a);

    /* A write that straddles REQUEST_BUFFER's end is ignored whole */
    vq_write(q, VGPU_REG_RESPONSE_BUFFER - 2, 4, 0xffffffff);
    g_assert_cmphex(vq_read(q, VGPU_REG_RESPONSE_BUFFER - 2, 2), ==, 0x5a00);
    g_assert_cmphex(vq_readl(q, VGPU_REG_RESPONSE_BUFFER), ==, 0);
}

/* A system reset restores the reset values but keeps the identity. */
static void test_system_reset(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    g_autofree char *reply = NULL;

    (void)data;
    fixture_vector_add(f, 1, 2);
    vq_writel(q, VGPU_REG_SCRATCH, PATTERN);
    vq_writel(q, VGPU_REG_INTERRUPT_CTRL, VGPU_IRQ_COMPLETION);
    vq_writel(q, VGPU_REG_REQUEST_ID, PATTERN);

    reply = vq_qmp(q, "{\"execute\": \"system_reset\"}");
    g_assert_nonnull(strstr(reply, "\"return\""));
    vq_qmp_wait_event(q, "RESET");
    vq_pci_enable(q);               /* the reset unmapped BAR0 */
    assert_reset_values(q, true);
    g_assert_cmpuint(fixture_vector_add(f, 40, 2), ==, 42);
}

/* INTERRUPT_STATUS with a completion pending: only a 1 in bit 0 clears it */
static void test_write_1_to_clear(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;

    (void)data;
    vq_writel(q, VGPU_REG_INTERRUPT_CTRL, VGPU_IRQ_COMPLETION);
    g_assert_cmpuint(fixture_vector_add(f, 1, 1), ==, 2);
    g_assert_cmphex(vq_readl(q, VGPU_REG_INTERRUPT_STATUS), ==, VGPU_IRQ_COMPLETION);
    vq_writel(q, VGPU_REG_INTERRUPT_STATUS, 0);
    g_assert_cmphex(vq_readl(q, VGPU_REG_INTERRUPT_STATUS), ==, VGPU_IRQ_COMPLETION);
    vq_writel(q, VGPU_REG_INTERRUPT_STATUS, ~VGPU_IRQ_COMPLETION);
    g_assert_cmphex(vq_readl(q, VGPU_REG_INTERRUPT_STATUS), ==, VGPU_IRQ_COMPLETION);
    vq_writel(q, VGPU_REG_INTERRUPT_STATUS, VGPU_IRQ_COMPLETION);
    g_assert_cmphex(vq_readl(q, VGPU_REG_INTERRUPT_STATUS), ==, 0);
    vq_writel(q, VGPU_REG_INTERRUPT_STATUS, VGPU_IRQ_COMPLETION);  /* clearing twice */
    g_assert_cmphex(vq_readl(q, VGPU_REG_INTERRUPT_STATUS), ==, 0);
    /* without INTERRUPT_CTRL a completion leaves nothing pending */
    vq_writel(q, VGPU_REG_INTERRUPT_CTRL, 0);
    g_assert_cmpuint(fixture_vector_add(f, 2, 2), ==, 4);
    g_assert_cmphex(vq_readl(q, VGPU_REG_INTERRUPT_STATUS), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, setup, opts, fn) \
    g_test_add(path, DeviceFixture, opts, setup, fn, fixture_teardown)
    ADD("/vgpu-stub/pci/identity-bar0-and-msi-capability", fixture_setup_unconnected,
        &no_chardev, test_pci_identity);
    ADD("/vgpu-stub/registers/reset-values", fixture_setup_unconnected,
        &no_chardev, test_reset_values);
    ADD("/vgpu-stub/registers/access-rules-of-each-register", fixture_setup_unconnected,
        &no_chardev, test_access_rules);
    ADD("/vgpu-stub/registers/buffers-and-reserved-space", fixture_setup_unconnected,
        &no_chardev, test_buffers_and_reserved);
    ADD("/vgpu-stub/registers/accesses-of-every-size-and-alignment", fixture_setup_unconnected,
        &no_chardev, test_sub_word_accesses);
    ADD("/vgpu-stub/registers/system-reset-restores-reset-values-keeps-identity",
        fixture_setup_connected, NULL, test_system_reset);
    ADD("/vgpu-stub/registers/interrupt-status-is-write-1-to-clear-when-pending",
        fixture_setup_connected, NULL, test_write_1_to_clear);
#undef ADD
    return g_test_run();
}
