/*
 * vgpu-stub's data window: BAR2 (64-bit, prefetchable) of window-size
 * bytes or of the memdev's size, WINDOW_SIZE and CAPABILITIES saying the
 * same, the WINDOW message with its memfd after every HELLO, and the same
 * bytes seen through BAR2 and through the mediator's mapping of the fd,
 * both ways.  Bad sizes and unusable memory backends stop QEMU at start.
 */
#define _GNU_SOURCE     /* F_SEAL_* */
#include <fcntl.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "vgpu/codec.h"
#include "vgpu/errors.h"
#include "vgpu/regs.h"
#include "qemu-harness.h"

#define PCI_COMMAND             0x04
#define PCI_BASE_ADDRESS_0      0x10
#define PCI_BASE_ADDRESS_2      0x18
#define PCI_BASE_ADDRESS_3      0x1c
#define PCI_BASE_ADDRESS_4      0x20
#define PCI_BASE_ADDRESS_5      0x24
#define PCI_BAR_MEM_TYPE_MASK   0x0f    /* space, type and prefetch bits */
#define PCI_BAR_MEM_64_PREFETCH 0x0c    /* memory, 64-bit (0x4), prefetchable (0x8) */

#define MiB                     (1024ull * 1024)
#define GiB                     (1024 * MiB)

/* A window configuration and the size it must give. */
typedef struct {
    VqOptions opts;             /* first: the fixtures take it as their VqOptions */
    uint64_t size;
} WindowCase;

static const WindowCase default_size = { { 0 }, VGPU_WINDOW_SIZE_DEFAULT };
static const WindowCase smallest = { { .window_size = "4096" }, VGPU_WINDOW_SIZE_MIN };
static const WindowCase large = { { .window_size = "256M" }, 256 * MiB };
static const WindowCase largest = { { .window_size = "16G" }, VGPU_WINDOW_SIZE_MAX };
static const WindowCase one_mib = { { .window_size = "1M" }, MiB };
static const WindowCase memdev = {
    { .memdev = "memory-backend-memfd,id=win,size=128M,share=on" }, 128 * MiB
};
static const WindowCase memdev_one_mib = {
    { .memdev = "memory-backend-memfd,id=win,size=1M,share=on" }, MiB
};

/* Some bytes that differ from those of another seed and from zeros. */
static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed << 1 | 1;     /* nonzero, and one sequence per seed */

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

/* BAR2's size and type bits, as firmware finds them; BAR2 is mapped again after. */
static uint64_t bar2_size(VgpuQemu *q, uint32_t *type)
{
    uint64_t mask;

    vq_cfg_write(q, PCI_COMMAND, 2, 0);
    vq_cfg_write(q, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
    vq_cfg_write(q, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
    mask = vq_cfg_read(q, PCI_BASE_ADDRESS_2, 4) |
           (uint64_t)vq_cfg_read(q, PCI_BASE_ADDRESS_3, 4) << 32;
    vq_pci_enable(q);
    *type = mask & PCI_BAR_MEM_TYPE_MASK;
    return ~(mask & ~(uint64_t)PCI_BAR_MEM_TYPE_MASK) + 1;
}

static uint64_t window_size_reg(VgpuQemu *q)
{
    return vq_readl(q, VGPU_REG_WINDOW_SIZE_LO) |
           (uint64_t)vq_readl(q, VGPU_REG_WINDOW_SIZE_HI) << 32;
}

/* 4 bytes at the window's first and last word, each way. */
static void assert_ends_shared(DeviceFixture *f, uint64_t size)
{
    const FmWindow *w = fm_window(f->fm);
    uint32_t word;

    /* guest -> mediator */
    vq_mem_writel(f->q, VQ_BAR2, 0x11223344);
    vq_mem_writel(f->q, VQ_BAR2 + size - 4, 0x55667788);
    memcpy(&word, w->base, 4);
    g_assert_cmphex(word, ==, 0x11223344);
    memcpy(&word, w->base + size - 4, 4);
    g_assert_cmphex(word, ==, 0x55667788);

    /* mediator -> guest */
    word = 0xa1b2c3d4;
    memcpy(w->base, &word, 4);
    word = 0xe5f60718;
    memcpy(w->base + size - 4, &word, 4);
    g_assert_cmphex(vq_mem_readl(f->q, VQ_BAR2), ==, 0xa1b2c3d4);
    g_assert_cmphex(vq_mem_readl(f->q, VQ_BAR2 + size - 4), ==, 0xe5f60718);
}

/*
 * BAR2, the registers and the WINDOW message all give the configured size,
 * and the window's two ends are shared with the mediator.
 */
static void test_size(DeviceFixture *f, gconstpointer data)
{
    const WindowCase *c = data;
    const FmWindow *w = fm_window(f->fm);
    uint32_t type;

    g_assert_cmpuint(bar2_size(f->q, &type), ==, c->size);
    g_assert_cmphex(type, ==, PCI_BAR_MEM_64_PREFETCH);
    g_assert_cmpuint(window_size_reg(f->q), ==, c->size);
    g_assert_cmphex(vq_readl(f->q, VGPU_REG_CAPABILITIES), ==,
                    VGPU_CAP_COMPLETION_IRQ | VGPU_CAP_DATA_WINDOW);

    g_assert_cmpuint(fm_window_count(f->fm), ==, 1);
    g_assert_cmpuint(w->size, ==, c->size);
    g_assert_true(w->seals & F_SEAL_SHRINK);
    assert_ends_shared(f, c->size);
    g_assert_cmpuint(fixture_vector_add(f, 2, 3), ==, 5);
}

/* The device's own memfd has all three seals; nothing else but BAR0 and BAR2. */
static void test_own_memfd_and_bars(DeviceFixture *f, gconstpointer data)
{
    static const unsigned empty[] = { PCI_BASE_ADDRESS_4, PCI_BASE_ADDRESS_5 };
    VgpuQemu *q = f->q;

    (void)data;
    g_assert_cmphex(fm_window(f->fm)->seals, ==, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);

    /* BAR0 is still 4 KiB at VQ_BAR0, BAR4 and BAR5 are not implemented */
    g_assert_cmphex(vq_cfg_read(q, PCI_BASE_ADDRESS_0, 4), ==, VQ_BAR0);
    g_assert_cmphex(vq_cfg_read(q, PCI_BASE_ADDRESS_2, 4), ==,
                    (uint32_t)VQ_BAR2 | PCI_BAR_MEM_64_PREFETCH);
    g_assert_cmphex(vq_cfg_read(q, PCI_BASE_ADDRESS_3, 4), ==, (uint32_t)(VQ_BAR2 >> 32));
    vq_cfg_write(q, PCI_COMMAND, 2, 0);
    for (size_t i = 0; i < G_N_ELEMENTS(empty); i++) {
        vq_cfg_write(q, empty[i], 4, 0xffffffff);
        g_assert_cmphex(vq_cfg_read(q, empty[i], 4), ==, 0);
    }
    vq_pci_enable(q);
}

/* The whole window, each way: a 1 MiB pattern through BAR2, another through the fd. */
static void test_whole_window(DeviceFixture *f, gconstpointer data)
{
    const WindowCase *c = data;
    const FmWindow *w = fm_window(f->fm);
    g_autofree uint8_t *pattern = g_malloc(c->size);
    g_autofree uint8_t *got = g_malloc(c->size);

    fill_pattern(pattern, c->size, 1);
    vq_memwrite(f->q, VQ_BAR2, pattern, c->size);
    g_assert_true(memcmp(w->base, pattern, c->size) == 0);

    fill_pattern(pattern, c->size, 2);
    memcpy(w->base, pattern, c->size);
    vq_memread(f->q, VQ_BAR2, got, c->size);
    g_assert_true(memcmp(got, pattern, c->size) == 0);
}

/*
 * Every connection gets its WINDOW right after HELLO: after the mediator
 * restarts and after it drops the link.  The fd is the same memory: what
 * was in the window is still there.
 */
static void test_window_on_reconnect(DeviceFixture *f, gconstpointer data)
{
    const WindowCase *c = data;
    uint8_t pattern[4096], got[4096];

    fill_pattern(pattern, sizeof(pattern), 3);
    vq_memwrite(f->q, VQ_BAR2 + c->size - sizeof(pattern), pattern, sizeof(pattern));

    fm_stop(f->fm);
    g_assert_true(vq_wait_reg(f->q, VGPU_REG_VM_ID, 0, VQ_TIMEOUT_MS));
    fm_restart(f->fm);
    fixture_connect(f);                 /* HELLO, then WINDOW with its fd */
    g_assert_cmpuint(fm_window_count(f->fm), ==, 2);

    fm_drop_connection(f->fm);
    g_assert_true(vq_wait_reg(f->q, VGPU_REG_VM_ID, 0, VQ_TIMEOUT_MS));
    fixture_connect(f);
    g_assert_cmpuint(fm_window_count(f->fm), ==, 3);

    g_assert_cmpuint(fm_window(f->fm)->size, ==, c->size);
    memcpy(got, fm_window(f->fm)->base + c->size - sizeof(got), sizeof(got));
    g_assert_true(memcmp(got, pattern, sizeof(got)) == 0);
    assert_ends_shared(f, c->size);
    g_assert_cmpuint(fixture_vector_add(f, 40, 2), ==, 42);
}

/* A guest reset leaves the window's contents alone, like RAM. */
static void test_reset_keeps_contents(DeviceFixture *f, gconstpointer data)
{
    const WindowCase *c = data;
    g_autofree uint8_t *pattern = g_malloc(c->size);
    g_autofree uint8_t *got = g_malloc(c->size);
    g_autofree char *reply = NULL;

    fill_pattern(pattern, c->size, 4);
    vq_memwrite(f->q, VQ_BAR2, pattern, c->size);
    reply = vq_qmp(f->q, "{\"execute\": \"system_reset\"}");
    g_assert_nonnull(strstr(reply, "\"return\""));
    vq_qmp_wait_event(f->q, "RESET");
    vq_pci_enable(f->q);
    vq_memread(f->q, VQ_BAR2, got, c->size);
    g_assert_true(memcmp(got, pattern, c->size) == 0);
    g_assert_cmpuint(window_size_reg(f->q), ==, c->size);
}

/*
 * BAR0 around the window registers: RESPONSE_BUFFER ends at 0x840,
 * WINDOW_SIZE (here 16 GiB: LO 0, HI 4) is read-only, reserved space from
 * 0x848 reads 0; reads of any size across the borders see exactly that.
 */
static void test_bar0_borders(DeviceFixture *f, gconstpointer data)
{
    VgpuQemu *q = f->q;
    uint8_t request[VGPU_REQUEST_MAX], response[VGPU_RESPONSE_MAX];
    uint32_t seq, request_id;
    size_t len;

    (void)data;
    memset(response, 0xff, sizeof(response));
    g_assert_cmpuint(fixture_submit_vector_add(f, 1, 2, 9), ==, VGPU_STATUS_BUSY);
    fm_read_submit(f->fm, &seq, &request_id, request, &len);
    fm_send_complete(f->fm, seq, request_id, VGPU_OK, response, sizeof(response));
    g_assert_true(vq_wait_reg(q, VGPU_REG_STATUS, VGPU_STATUS_DONE, VQ_TIMEOUT_MS));
    g_assert_cmpuint(vq_readl(q, VGPU_REG_RESPONSE_LEN), ==, VGPU_BUFFER_SIZE);

    g_assert_cmphex(vq_readl(q, VGPU_REG_WINDOW_SIZE_LO - 4), ==, 0xffffffff);
    g_assert_cmphex(vq_read(q, VGPU_REG_WINDOW_SIZE_LO - 2, 4), ==, 0x0000ffff);
    g_assert_cmphex(vq_read(q, VGPU_REG_WINDOW_SIZE_LO - 4, 8), ==, 0x00000000ffffffffull);
    g_assert_cmphex(vq_readl(q, VGPU_REG_WINDOW_SIZE_LO), ==, 0);
    g_assert_cmphex(vq_readl(q, VGPU_REG_WINDOW_SIZE_HI), ==, VGPU_WINDOW_SIZE_MAX >> 32);
    g_assert_cmphex(vq_read(q, VGPU_REG_WINDOW_SIZE_LO, 8), ==, VGPU_WINDOW_SIZE_MAX);
    g_assert_cmphex(vq_read(q, VGPU_REG_WINDOW_SIZE_HI - 1, 2), ==,
                    (VGPU_WINDOW_SIZE_MAX >> 32) << 8);
    g_assert_cmphex(vq_read(q, VGPU_REG_WINDOW_SIZE_HI, 8), ==, VGPU_WINDOW_SIZE_MAX >> 32);
    g_assert_cmphex(vq_read(q, VGPU_REG_RESERVED, 8), ==, 0);
    g_assert_cmphex(vq_read(q, VGPU_BAR0_SIZE - 8, 8), ==, 0);

    /* WINDOW_SIZE is read-only: writes are logged and change nothing */
    vq_writel(q, VGPU_REG_WINDOW_SIZE_LO, 0x1000);
    vq_writel(q, VGPU_REG_WINDOW_SIZE_HI, 0);
    vq_write(q, VGPU_REG_WINDOW_SIZE_LO, 8, 0x2000);
    vq_write(q, VGPU_REG_WINDOW_SIZE_LO + 1, 1, 0xff);
    g_assert_cmpuint(window_size_reg(q), ==, VGPU_WINDOW_SIZE_MAX);
    g_assert_true(vq_guest_log_contains(q, "write of 0x1000 to read-only register 0x840 ignored"));
    g_assert_true(vq_guest_log_contains(q, "write of 0x0 to read-only register 0x844 ignored"));
    g_assert_true(vq_guest_log_contains(q, "write of 0x2000 to read-only register 0x840 ignored"));
    g_assert_true(vq_guest_log_contains(q, "1-byte write of 0xff at 0x841 ignored"));
    g_assert_cmpuint(fixture_vector_add(f, 1, 1), ==, 2);
}

/* WINDOW goes from the device to the mediator only: one back is malformed. */
static void test_window_from_mediator(DeviceFixture *f, gconstpointer data)
{
    uint8_t frame[VGPU_WIRE_MAX_MESSAGE];
    size_t len = vgpu_wire_window_encode(frame, sizeof(frame), VGPU_WINDOW_SIZE_MIN);

    (void)data;
    g_assert_cmpuint(len, >, 0);
    fm_send_raw(f->fm, frame, len);
    g_assert_true(fm_wait_closed(f->fm, VQ_TIMEOUT_MS));
    g_assert_true(vq_stderr_contains(f->q, "malformed message from the mediator"));
    fixture_connect(f);
    g_assert_cmpuint(fm_window_count(f->fm), ==, 2);
    g_assert_cmpuint(fixture_vector_add(f, 4, 5), ==, 9);
}

/* Start configurations QEMU must refuse, with the words it must say. */
static const struct refusal {
    const char *name;
    const char *args[7];
    const char *says;
} refusals[] = {
    { "window-size-not-a-power-of-two",
      { "-device", "vgpu-stub,window-size=3M" },
      "window-size is 3145728 bytes; the data window must be a power of two from 4 KiB to 16 GiB" },
    { "window-size-not-a-power-of-two-above-the-minimum",
      { "-device", "vgpu-stub,window-size=12288" },
      "window-size is 12288 bytes; the data window must be a power of two" },
    { "window-size-below-4k",
      { "-device", "vgpu-stub,window-size=2048" },
      "window-size is 2048 bytes; the data window must be a power of two from 4 KiB" },
    { "window-size-zero",
      { "-device", "vgpu-stub,window-size=0" },
      "window-size is 0 bytes" },
    { "window-size-over-16g",
      { "-device", "vgpu-stub,window-size=32G" },
      "window-size is 34359738368 bytes; the data window must be a power of two from 4 KiB "
      "to 16 GiB" },
    { "memdev-not-shared",
      { "-object", "memory-backend-memfd,id=w,size=64M,share=off",
        "-device", "vgpu-stub,memdev=w" },
      "memdev 'w' must be shared (share=on)" },
    { "memdev-without-fd",
      { "-object", "memory-backend-ram,id=w,size=64M,share=on",
        "-device", "vgpu-stub,memdev=w" },
      "memdev 'w' has no file descriptor to pass to the mediator: use memory-backend-memfd" },
    { "memdev-not-sealed",
      { "-object", "memory-backend-memfd,id=w,size=64M,share=on,seal=off",
        "-device", "vgpu-stub,memdev=w" },
      "memdev 'w' must be a memfd sealed against shrinking: use memory-backend-memfd with "
      "seal=on" },
    { "memdev-size-not-a-power-of-two",
      { "-object", "memory-backend-memfd,id=w,size=3M,share=on",
        "-device", "vgpu-stub,memdev=w" },
      "memdev 'w' is 3145728 bytes; the data window must be a power of two from 4 KiB to 16 GiB" },
    { "memdev-too-big",
      { "-object", "memory-backend-memfd,id=w,size=32G,share=on",
        "-device", "vgpu-stub,memdev=w" },
      "memdev 'w' is 34359738368 bytes; the data window must be a power of two" },
    { "memdev-already-in-use",
      { "-object", "memory-backend-memfd,id=w,size=64M,share=on",
        "-device", "vgpu-stub,memdev=w", "-device", "vgpu-stub,memdev=w" },
      "memdev 'w' is already in use" },
    { "memdev-and-window-size",
      { "-object", "memory-backend-memfd,id=w,size=64M,share=on",
        "-device", "vgpu-stub,memdev=w,window-size=4096" },
      "give window-size or memdev, not both (the window is the size of memdev 'w')" },
    { "memdev-that-does-not-exist",
      { "-device", "vgpu-stub,memdev=nosuch" },
      "nosuch" },
};

static void test_refused(gconstpointer data)
{
    const struct refusal *r = data;
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("vgpu-window-XXXXXX", &err);
    g_autofree char *out = NULL;

    g_assert_no_error(err);
    out = vq_start_refused(dir, r->args);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
    if (!strstr(out, r->says)) {
        g_error("QEMU refused without saying '%s':\n%s", r->says, out);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, c, fn) \
    g_test_add(path, DeviceFixture, c, fixture_setup_connected, fn, fixture_teardown)
    ADD("/vgpu-stub/window/default-64m-bar2-registers-and-fd-agree", &default_size, test_size);
    ADD("/vgpu-stub/window/4k-bar2-registers-and-fd-agree", &smallest, test_size);
    ADD("/vgpu-stub/window/256m-bar2-registers-and-fd-agree", &large, test_size);
    ADD("/vgpu-stub/window/16g-bar2-registers-and-fd-agree", &largest, test_size);
    ADD("/vgpu-stub/window/memdev-128m-bar2-registers-and-fd-agree", &memdev, test_size);
    ADD("/vgpu-stub/window/own-memfd-fully-sealed-bars-0-and-2-only", &default_size,
        test_own_memfd_and_bars);
    ADD("/vgpu-stub/window/whole-1m-window-shared-both-ways", &one_mib, test_whole_window);
    ADD("/vgpu-stub/window/memdev-whole-1m-window-shared-both-ways", &memdev_one_mib,
        test_whole_window);
    ADD("/vgpu-stub/window/window-sent-again-on-every-reconnect", &one_mib,
        test_window_on_reconnect);
    ADD("/vgpu-stub/window/reset-keeps-window-contents", &one_mib, test_reset_keeps_contents);
    ADD("/vgpu-stub/window/bar0-response-buffer-window-size-reserved-borders", &largest,
        test_bar0_borders);
    ADD("/vgpu-stub/window/window-from-mediator-is-protocol-error", &default_size,
        test_window_from_mediator);
#undef ADD
    for (size_t i = 0; i < G_N_ELEMENTS(refusals); i++) {
        g_autofree char *path = g_strdup_printf("/vgpu-stub/window/refused/%s",
                                                refusals[i].name);

        g_test_add_data_func(path, &refusals[i], test_refused);
    }
    return g_test_run();
}
