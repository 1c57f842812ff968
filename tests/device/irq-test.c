/*
 * vgpu-stub completion interrupts: INTx (with the PCI 2.3 interrupt
 * disable bit uio_pci_generic relies on) and MSI, raised when
 * INTERRUPT_CTRL enables them; INTERRUPT_STATUS is write-1-to-clear.
 */
#include <glib.h>

#include "vgpu/errors.h"
#include "vgpu/regs.h"
#include "qemu-harness.h"

#define PCI_COMMAND                 0x04
#define PCI_COMMAND_MEMORY          0x2
#define PCI_COMMAND_MASTER          0x4
#define PCI_COMMAND_INTX_DISABLE    0x400
#define PCI_STATUS                  0x06
#define PCI_STATUS_INTERRUPT        0x08

#define MSI_DATA        0x4321
#define NS_PER_MS       1000000ull
#define TEST_TIMEOUT_MS 50

static const VqOptions short_timeout = { .timeout_ms = TEST_TIMEOUT_MS };

static void test_intx(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;

    (void)data;
    vq_irq_intercept(q);
    vq_writel(q, VGPU_REG_INTERRUPT_CTRL, VGPU_IRQ_COMPLETION);
    g_assert_false(vq_irq(q, VQ_Q35_GSI));

    fixture_vector_add(f, 1, 2);
    g_assert_true(vq_irq(q, VQ_Q35_GSI));
    g_assert_cmpuint(vq_readl(q, VGPU_REG_INTERRUPT_STATUS), ==, VGPU_IRQ_COMPLETION);
    g_assert_true(vq_cfg_read(q, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);

    /* Writing 0 clears nothing; writing 1 clears and lowers the line */
    vq_writel(q, VGPU_REG_INTERRUPT_STATUS, 0);
    g_assert_true(vq_irq(q, VQ_Q35_GSI));
    vq_writel(q, VGPU_REG_INTERRUPT_STATUS, VGPU_IRQ_COMPLETION);
    g_assert_false(vq_irq(q, VQ_Q35_GSI));
    g_assert_cmpuint(vq_readl(q, VGPU_REG_INTERRUPT_STATUS), ==, 0);
    g_assert_false(vq_cfg_read(q, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);

    /* Every completion raises it again */
    fixture_vector_add(f, 3, 4);
    g_assert_true(vq_irq(q, VQ_Q35_GSI));

    /* Clearing INTERRUPT_CTRL masks a pending completion; setting it unmasks */
    vq_writel(q, VGPU_REG_INTERRUPT_CTRL, 0);
    g_assert_false(vq_irq(q, VQ_Q35_GSI));
    vq_writel(q, VGPU_REG_INTERRUPT_CTRL, VGPU_IRQ_COMPLETION);
    g_assert_true(vq_irq(q, VQ_Q35_GSI));
}

static void test_intx_disabled(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;

    (void)data;
    vq_irq_intercept(q);
    fixture_vector_add(f, 1, 2);
    g_assert_false(vq_irq(q, VQ_Q35_GSI));
    g_assert_cmpuint(vq_readl(q, VGPU_REG_INTERRUPT_STATUS), ==, 0);

    /* Refusals at the doorbell raise nothing even when enabled */
    vq_writel(q, VGPU_REG_INTERRUPT_CTRL, VGPU_IRQ_COMPLETION);
    vq_writel(q, VGPU_REG_REQUEST_LEN, 0);
    vq_writel(q, VGPU_REG_DOORBELL, VGPU_DOORBELL_SUBMIT);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_STATUS), ==, VGPU_STATUS_ERROR);
    g_assert_false(vq_irq(q, VQ_Q35_GSI));
    g_assert_cmpuint(vq_readl(q, VGPU_REG_INTERRUPT_STATUS), ==, 0);
}

/* The command register's INTx disable bit masks the line (uio_pci_generic) */
static void test_intx_command_mask(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    const uint16_t enabled = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;

    (void)data;
    vq_irq_intercept(q);
    vq_writel(q, VGPU_REG_INTERRUPT_CTRL, VGPU_IRQ_COMPLETION);
    vq_cfg_write(q, PCI_COMMAND, 2, enabled | PCI_COMMAND_INTX_DISABLE);
    fixture_vector_add(f, 1, 2);
    g_assert_false(vq_irq(q, VQ_Q35_GSI));
    g_assert_true(vq_cfg_read(q, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);

    vq_cfg_write(q, PCI_COMMAND, 2, enabled);
    g_assert_true(vq_irq(q, VQ_Q35_GSI));
    vq_writel(q, VGPU_REG_INTERRUPT_STATUS, VGPU_IRQ_COMPLETION);
    g_assert_false(vq_irq(q, VQ_Q35_GSI));
}

/* A request that ends in an error (here: timeout) interrupts too */
static void test_error_completion_interrupts(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;

    (void)data;
    vq_irq_intercept(q);
    vq_writel(q, VGPU_REG_INTERRUPT_CTRL, VGPU_IRQ_COMPLETION);
    g_assert_cmpuint(fixture_submit_vector_add(f, 1, 2, 3), ==, VGPU_STATUS_BUSY);
    g_assert_false(vq_irq(q, VQ_Q35_GSI));
    vq_clock_step(q, (TEST_TIMEOUT_MS + 1) * NS_PER_MS);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_ERROR_CODE), ==, VGPU_ERR_TIMEOUT);
    g_assert_true(vq_irq(q, VQ_Q35_GSI));
    g_assert_cmpuint(vq_readl(q, VGPU_REG_INTERRUPT_STATUS), ==, VGPU_IRQ_COMPLETION);
}

static void test_msi(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;

    (void)data;
    vq_irq_intercept(q);
    vq_msi_enable(q, MSI_DATA);
    vq_mem_writel(q, VQ_MSI_ADDR, 0);
    vq_writel(q, VGPU_REG_INTERRUPT_CTRL, VGPU_IRQ_COMPLETION);

    fixture_vector_add(f, 1, 2);
    g_assert_cmphex(vq_mem_readl(q, VQ_MSI_ADDR), ==, MSI_DATA);
    g_assert_false(vq_irq(q, VQ_Q35_GSI));     /* INTx stays low with MSI */
    g_assert_cmpuint(vq_readl(q, VGPU_REG_INTERRUPT_STATUS), ==, VGPU_IRQ_COMPLETION);

    /* One message per completion, also before the guest clears the status */
    vq_mem_writel(q, VQ_MSI_ADDR, 0);
    fixture_vector_add(f, 3, 4);
    g_assert_cmphex(vq_mem_readl(q, VQ_MSI_ADDR), ==, MSI_DATA);

    /* Clearing the status sends nothing */
    vq_mem_writel(q, VQ_MSI_ADDR, 0);
    vq_writel(q, VGPU_REG_INTERRUPT_STATUS, VGPU_IRQ_COMPLETION);
    g_assert_cmphex(vq_mem_readl(q, VQ_MSI_ADDR), ==, 0);

    /* Disabled in INTERRUPT_CTRL: no message */
    vq_writel(q, VGPU_REG_INTERRUPT_CTRL, 0);
    fixture_vector_add(f, 5, 6);
    g_assert_cmphex(vq_mem_readl(q, VQ_MSI_ADDR), ==, 0);
}

/* Without bus mastering the device cannot write its MSI (PCI rule) */
static void test_msi_needs_bus_master(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;

    (void)data;
    vq_msi_enable(q, MSI_DATA);
    vq_mem_writel(q, VQ_MSI_ADDR, 0);
    vq_writel(q, VGPU_REG_INTERRUPT_CTRL, VGPU_IRQ_COMPLETION);
    vq_cfg_write(q, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    fixture_vector_add(f, 1, 2);
    g_assert_cmphex(vq_mem_readl(q, VQ_MSI_ADDR), ==, 0);
    g_assert_cmpuint(vq_readl(q, VGPU_REG_INTERRUPT_STATUS), ==, VGPU_IRQ_COMPLETION);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, opts, fn) \
    g_test_add(path, DeviceFixture, opts, fixture_setup_connected, fn, fixture_teardown)
    ADD("/vgpu-stub/irq/intx-raised-on-completion-lowered-by-w1c", NULL, test_intx);
    ADD("/vgpu-stub/irq/intx-not-raised-when-disabled-or-refused", NULL, test_intx_disabled);
    ADD("/vgpu-stub/irq/intx-masked-by-command-interrupt-disable", NULL, test_intx_command_mask);
    ADD("/vgpu-stub/irq/error-completion-interrupts-too", &short_timeout,
        test_error_completion_interrupts);
    ADD("/vgpu-stub/irq/msi-sent-once-per-completion", NULL, test_msi);
    ADD("/vgpu-stub/irq/msi-needs-bus-master", NULL, test_msi_needs_bus_master);
#undef ADD
    return g_test_run();
}
