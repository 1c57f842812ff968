/*
 * libvgpu against a fake sysfs and a mock device (fake-vgpu.h): discovery,
 * info, the exact request bytes, each device error surfaced by name, the
 * library's own timeout without a second doorbell, many threads and handles
 * never ringing while the device is busy, uio detection and the interrupt
 * path, permissions.
 */
#include <glib.h>
#include <grp.h>
#include <linux/pci_regs.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake-vgpu.h"
#include "sysfs.h"
#include "vgpu.h"
#include "vgpu/codec.h"

#define ADDR_1E         "0000:00:1e.0"
#define NOBODY_ID       65534               /* uid and gid of the permission tests */
#define TEST_GROUP_ID   64123               /* plays the vgpu group */

typedef struct {
    FakeRoot *root;
    FakeDevice *dev;            /* a started vgpu-stub at ADDR_1E */
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    (void)data;
    f->root = fake_root_new();
    fake_root_use(f->root);
    f->dev = fake_device_add(f->root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    fake_device_start(f->dev);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    fake_root_free(f->root);
}

static vgpu_device *open_device(const char *address, enum vgpu_wait_mode wait, unsigned timeout_ms)
{
    struct vgpu_open_options opts = { .address = address, .wait = wait, .timeout_ms = timeout_ms };
    vgpu_device *dev = NULL;
    enum vgpu_result r = vgpu_device_open(&opts, &dev);

    if (r != VGPU_RESULT_OK) {
        g_error("vgpu_device_open: %s: %s", vgpu_result_name(r), vgpu_last_error());
    }
    return dev;
}

static enum vgpu_result try_open(const char *address, enum vgpu_wait_mode wait)
{
    struct vgpu_open_options opts = { .address = address, .wait = wait };
    vgpu_device *dev = (vgpu_device *)&opts;    /* must become NULL on failure */
    enum vgpu_result r = vgpu_device_open(&opts, &dev);

    if (r == VGPU_RESULT_OK) {
        vgpu_device_close(dev);
    } else {
        g_assert_null(dev);
    }
    return r;
}

static char *opened_address(const char *address)
{
    vgpu_device *dev = open_device(address, VGPU_WAIT_POLL, 0);
    struct vgpu_device_info info;

    g_assert_cmpint(vgpu_device_info(dev, &info), ==, VGPU_RESULT_OK);
    vgpu_device_close(dev);
    return g_strdup(info.address);
}

#define MOCK_WAIT_US (5 * G_USEC_PER_SEC)    /* bound on waiting for the mock thread */

/* Wait until the mock has taken n doorbells (it runs beside us, on a busy machine). */
static void wait_for_doorbells(FakeDevice *fake, guint n)
{
    gint64 end = g_get_monotonic_time() + MOCK_WAIT_US;
    FakeStats stats;

    do {
        fake_device_stats(fake, &stats);
        if (stats.doorbells >= n) {
            return;
        }
        g_usleep(1000);
    } while (g_get_monotonic_time() < end);
    g_error("the mock took %u doorbells, not %u", stats.doorbells, n);
}

/* Wait until the mock has taken the guest's clear of the completion interrupt. */
static void wait_for_irq_cleared(FakeDevice *fake)
{
    gint64 end = g_get_monotonic_time() + MOCK_WAIT_US;
    FakeStats stats;

    do {
        fake_device_stats(fake, &stats);
        if (!stats.irq_pending) {
            return;
        }
        g_usleep(1000);
    } while (g_get_monotonic_time() < end);
    g_error("the completion interrupt is still pending");
}

/* --- discovery --- */

static void test_discovery_none(void)
{
    FakeRoot *root = fake_root_new();

    fake_root_use(root);
    g_assert_cmpint(try_open(NULL, VGPU_WAIT_AUTO), ==, VGPU_RESULT_NO_DEVICE);
    g_assert_nonnull(strstr(vgpu_last_error(), "no vgpu-stub device"));
    fake_root_free(root);
}

static void test_discovery_wrong_ids_ignored(void)
{
    FakeRoot *root = fake_root_new();

    fake_root_use(root);
    fake_device_add(root, "0000:00:03.0", 0x8086, 0x100e);
    fake_device_add(root, "0000:00:04.0", VGPU_PCI_VENDOR_ID, 0x1111);
    fake_device_add(root, "0000:00:05.0", 0x8086, VGPU_PCI_DEVICE_ID);
    g_assert_cmpint(try_open(NULL, VGPU_WAIT_AUTO), ==, VGPU_RESULT_NO_DEVICE);
    fake_root_free(root);
}

static void test_discovery_one(void)
{
    FakeRoot *root = fake_root_new();
    char *address;

    fake_root_use(root);
    fake_device_add(root, "0000:00:03.0", 0x8086, 0x100e);
    fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    address = opened_address(NULL);
    g_assert_cmpstr(address, ==, ADDR_1E);
    g_free(address);
    fake_root_free(root);
}

static void test_discovery_several(void)
{
    FakeRoot *root = fake_root_new();
    char *address;

    fake_root_use(root);
    fake_device_add(root, "0000:01:00.0", VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    fake_device_add(root, "0000:00:1f.0", VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);

    address = opened_address(NULL);                 /* the lowest address */
    g_assert_cmpstr(address, ==, ADDR_1E);
    g_free(address);
    address = opened_address("0000:01:00.0");       /* --device */
    g_assert_cmpstr(address, ==, "0000:01:00.0");
    g_free(address);
    address = opened_address("00:1F.0");            /* lspci's short form, any case */
    g_assert_cmpstr(address, ==, "0000:00:1f.0");
    g_free(address);

    g_setenv("VGPU_DEVICE", "0000:01:00.0", TRUE);  /* the environment picks... */
    address = opened_address(NULL);
    g_assert_cmpstr(address, ==, "0000:01:00.0");
    g_free(address);
    address = opened_address("0000:00:1f.0");       /* ...unless the caller names one */
    g_assert_cmpstr(address, ==, "0000:00:1f.0");
    g_free(address);
    g_unsetenv("VGPU_DEVICE");
    fake_root_free(root);
}

static void test_discovery_named(void)
{
    FakeRoot *root = fake_root_new();

    fake_root_use(root);
    fake_device_add(root, "0000:00:03.0", 0x8086, 0x100e);
    fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);

    g_assert_cmpint(try_open("0000:00:05.0", VGPU_WAIT_AUTO), ==, VGPU_RESULT_NO_DEVICE);
    g_assert_nonnull(strstr(vgpu_last_error(), "no PCI device 0000:00:05.0"));
    g_assert_cmpint(try_open("0000:00:03.0", VGPU_WAIT_AUTO), ==, VGPU_RESULT_NO_DEVICE);
    g_assert_nonnull(strstr(vgpu_last_error(), "not a vgpu-stub"));
    g_assert_nonnull(strstr(vgpu_last_error(), "8086:100e"));
    for (const char *const *bad = (const char *const[]){ "00:1e", "0000:00:1e.8", "0000:00:20.0",
                                                         "0000:00:1e.0 ", "x000:00:1e.0",
                                                         "../../../etc", NULL }; *bad; bad++) {
        g_assert_cmpint(try_open(*bad, VGPU_WAIT_AUTO), ==, VGPU_RESULT_INVALID);
        g_assert_nonnull(strstr(vgpu_last_error(), "malformed PCI address"));
    }
    fake_root_free(root);
}

/* --- info --- */

static void test_info(Fixture *f, gconstpointer data)
{
    struct vgpu_device_info info;
    vgpu_device *dev;

    (void)data;
    fake_device_set_identity(f->dev, 'B', VGPU_PRIORITY_HIGH, 7);
    dev = open_device(NULL, VGPU_WAIT_AUTO, 0);
    g_assert_cmpint(vgpu_device_info(dev, &info), ==, VGPU_RESULT_OK);
    g_assert_cmpstr(info.address, ==, ADDR_1E);
    g_assert_cmphex(info.vendor_id, ==, VGPU_PCI_VENDOR_ID);
    g_assert_cmphex(info.device_id, ==, VGPU_PCI_DEVICE_ID);
    g_assert_cmphex(info.revision, ==, VGPU_PCI_REVISION);
    g_assert_cmpuint(info.pool_id, ==, 'B');
    g_assert_cmpuint(info.priority, ==, VGPU_PRIORITY_HIGH);
    g_assert_cmpuint(info.vm_id, ==, 7);
    g_assert_cmphex(info.protocol_version, ==, VGPU_PROTOCOL_VERSION);
    g_assert_cmphex(info.capabilities, ==, VGPU_CAP_COMPLETION_IRQ);
    g_assert_cmpint(info.wait, ==, VGPU_WAIT_POLL);     /* auto, no uio bound */
    g_assert_cmpstr(info.uio, ==, "");

    fake_device_set_identity(f->dev, 0, 0, 0);          /* the mediator forgot the VM */
    g_assert_cmpint(vgpu_device_info(dev, &info), ==, VGPU_RESULT_OK);
    g_assert_cmpuint(info.pool_id, ==, 0);
    g_assert_cmpuint(info.vm_id, ==, 0);
    vgpu_device_close(dev);
}

/* --- requests --- */

static void test_add_request_bytes(Fixture *f, gconstpointer data)
{
    guint8 expected[VGPU_REQUEST_MAX];
    struct vgpu_completion c;
    uint32_t sum = 0, exec_us = 0;
    gsize expected_len;
    vgpu_device *dev;
    FakeStats stats;

    (void)data;
    fake_device_set_mode(f->dev, FAKE_ANSWER, 0, 200);
    dev = open_device(NULL, VGPU_WAIT_POLL, 0);
    g_assert_cmpint(vgpu_device_vector_add(dev, 7, 0xffffffffu, &sum, &exec_us, &c), ==,
                    VGPU_RESULT_OK);
    g_assert_cmpuint(sum, ==, 6);                        /* mod 2^32 */
    g_assert_cmpuint(exec_us, ==, FAKE_EXEC_TIME_US);
    g_assert_cmpuint(c.status, ==, VGPU_STATUS_DONE);
    g_assert_cmpuint(c.error_code, ==, VGPU_OK);
    g_assert_cmpuint(c.response_len, ==, VGPU_VECTOR_ADD_RESPONSE_SIZE);

    fake_device_stats(f->dev, &stats);
    expected_len = vgpu_request_encode_vector_add(expected, sizeof(expected), 7, 0xffffffffu);
    g_assert_cmpuint(stats.last_len, ==, VGPU_VECTOR_ADD_REQUEST_SIZE);
    g_assert_cmpmem(stats.last_request, stats.last_len, expected, expected_len);
    g_assert_cmpuint(stats.last_id, ==, c.request_id);
    g_assert_cmpuint(c.request_id, !=, 0);
    g_assert_cmpuint(c.timestamp_ns, ==, stats.last_timestamp_ns);
    g_assert_cmpuint(stats.doorbells, ==, 1);
    vgpu_device_close(dev);
}

/*
 * Requests that complete within the doorbell: every answer must be the new
 * one, never the DONE of the request before (device_settled).
 */
static void test_add_immediate_completions(Fixture *f, gconstpointer data)
{
    vgpu_device *dev = open_device(NULL, VGPU_WAIT_POLL, 0);
    uint32_t last_id = 0;
    FakeStats stats;

    (void)data;
    fake_device_set_mode(f->dev, FAKE_ANSWER, 0, 0);
    for (uint32_t i = 0; i < 200; i++) {
        struct vgpu_completion c;
        uint32_t sum;

        g_assert_cmpint(vgpu_device_vector_add(dev, i, 1000 * i, &sum, NULL, &c), ==,
                        VGPU_RESULT_OK);
        g_assert_cmpuint(sum, ==, 1001 * i);
        g_assert_cmpuint(c.request_id, >, last_id);
        last_id = c.request_id;
    }
    fake_device_stats(f->dev, &stats);
    g_assert_cmpuint(stats.doorbells, ==, 200);
    g_assert_cmpuint(stats.overlaps, ==, 0);
    vgpu_device_close(dev);
}

static void test_submit_raw_response(Fixture *f, gconstpointer data)
{
    guint8 request[VGPU_REQUEST_MAX], response[VGPU_RESPONSE_MAX], expected[VGPU_RESPONSE_MAX];
    uint32_t sum = 12;
    gsize request_len, expected_len;
    struct vgpu_completion c;
    vgpu_device *dev;

    (void)f; (void)data;
    dev = open_device(NULL, VGPU_WAIT_POLL, 0);
    request_len = vgpu_request_encode_vector_add(request, sizeof(request), 5, 7);
    expected_len = vgpu_response_encode(expected, sizeof(expected), VGPU_OK, &sum, 1, NULL, 0,
                                        FAKE_EXEC_TIME_US);
    g_assert_cmpint(vgpu_device_submit(dev, request, request_len, response, sizeof(response), &c),
                    ==, VGPU_RESULT_OK);
    g_assert_cmpmem(response, c.response_len, expected, expected_len);

    /* A short buffer gets what fits, and says the rest did not. */
    memset(response, 0xee, sizeof(response));
    g_assert_cmpint(vgpu_device_submit(dev, request, request_len, response, 8, &c), ==,
                    VGPU_RESULT_TRUNCATED);
    g_assert_cmpuint(c.response_len, ==, expected_len);
    g_assert_cmpmem(response, 8, expected, 8);
    g_assert_cmphex(response[8], ==, 0xee);

    /* A request of a length the buffer cannot hold never reaches the device. */
    g_assert_cmpint(vgpu_device_submit(dev, request, 0, NULL, 0, &c), ==, VGPU_RESULT_INVALID);
    g_assert_cmpint(vgpu_device_submit(dev, request, VGPU_REQUEST_MAX + 1, NULL, 0, &c), ==,
                    VGPU_RESULT_INVALID);
    g_assert_cmpint(vgpu_device_submit(dev, NULL, 40, NULL, 0, &c), ==, VGPU_RESULT_INVALID);
    g_assert_cmpint(vgpu_device_submit(dev, request, 40, NULL, 8, &c), ==, VGPU_RESULT_INVALID);
    g_assert_cmpint(vgpu_device_submit(NULL, request, 40, NULL, 0, &c), ==, VGPU_RESULT_INVALID);
    g_assert_cmpuint(fake_device_reg(f->dev, VGPU_REG_REQUEST_LEN), ==, request_len);
    vgpu_device_close(dev);
}

/* Each ERROR_CODE the device can report comes back with its name. */
static void test_device_errors(Fixture *f, gconstpointer data)
{
    vgpu_device *dev = open_device(NULL, VGPU_WAIT_POLL, 0);

    (void)data;
    for (uint32_t code = 1; code < VGPU_ERROR_COUNT; code++) {
        struct vgpu_completion c;
        uint32_t sum = 0xdead;

        /* alternate errors at the doorbell (NOT_CONNECTED style) and after BUSY */
        fake_device_set_mode(f->dev, FAKE_FAIL, code, code % 2 ? 0 : 100);
        g_assert_cmpint(vgpu_device_vector_add(dev, 1, 2, &sum, NULL, &c), ==,
                        VGPU_RESULT_DEVICE_ERROR);
        g_assert_cmpuint(c.status, ==, VGPU_STATUS_ERROR);
        g_assert_cmpuint(c.error_code, ==, code);
        g_assert_cmpuint(sum, ==, 0xdead);
        g_assert_nonnull(strstr(vgpu_last_error(), vgpu_error_name(code)));
        g_assert_nonnull(strstr(vgpu_last_error(), vgpu_error_message(code)));
    }
    fake_device_set_mode(f->dev, FAKE_ANSWER, 0, 0);    /* and the device still works */
    {
        uint32_t sum;

        g_assert_cmpint(vgpu_device_vector_add(dev, 1, 2, &sum, NULL, NULL), ==, VGPU_RESULT_OK);
        g_assert_cmpuint(sum, ==, 3);
    }
    vgpu_device_close(dev);
}

/*
 * The library's timeout: reported as TIMEOUT, and while the device is still
 * busy with that request, later calls time out without ringing again.
 */
static void test_timeout(Fixture *f, gconstpointer data)
{
    vgpu_device *dev = open_device(NULL, VGPU_WAIT_POLL, 100);
    gint64 start, elapsed_ms;
    FakeStats stats;
    uint32_t sum;

    (void)data;
    fake_device_set_mode(f->dev, FAKE_SILENT, 0, 0);
    start = g_get_monotonic_time();
    g_assert_cmpint(vgpu_device_vector_add(dev, 1, 2, &sum, NULL, NULL), ==, VGPU_RESULT_TIMEOUT);
    elapsed_ms = (g_get_monotonic_time() - start) / 1000;
    g_assert_cmpint(elapsed_ms, >=, 100);
    g_assert_cmpint(elapsed_ms, <, 2000);
    g_assert_nonnull(strstr(vgpu_last_error(), "within 100 ms"));
    wait_for_doorbells(f->dev, 1);      /* the device holds it now */

    g_assert_cmpint(vgpu_device_vector_add(dev, 3, 4, &sum, NULL, NULL), ==, VGPU_RESULT_TIMEOUT);
    g_assert_nonnull(strstr(vgpu_last_error(), "still busy"));
    fake_device_stats(f->dev, &stats);
    g_assert_cmpuint(stats.doorbells, ==, 1);

    fake_device_set_mode(f->dev, FAKE_ANSWER, 0, 0);
    fake_device_release(f->dev);
    g_assert_cmpint(vgpu_device_vector_add(dev, 5, 6, &sum, NULL, NULL), ==, VGPU_RESULT_OK);
    g_assert_cmpuint(sum, ==, 11);
    fake_device_stats(f->dev, &stats);
    g_assert_cmpuint(stats.doorbells, ==, 2);
    g_assert_cmpuint(stats.overlaps, ==, 0);
    vgpu_device_close(dev);
}

/* A request still in flight from before (another program timed out): wait, then ring. */
static void test_waits_for_busy_device(Fixture *f, gconstpointer data)
{
    vgpu_device *first = open_device(NULL, VGPU_WAIT_POLL, 50);
    vgpu_device *second = open_device(NULL, VGPU_WAIT_POLL, 5000);
    FakeStats stats;
    uint32_t sum;

    (void)data;
    fake_device_set_mode(f->dev, FAKE_ANSWER, 0, 300 * 1000);   /* 300 ms per request */
    g_assert_cmpint(vgpu_device_vector_add(first, 1, 1, &sum, NULL, NULL), ==, VGPU_RESULT_TIMEOUT);
    wait_for_doorbells(f->dev, 1);      /* the device holds it now */
    g_assert_cmpint(vgpu_device_vector_add(second, 2, 2, &sum, NULL, NULL), ==, VGPU_RESULT_OK);
    g_assert_cmpuint(sum, ==, 4);
    fake_device_stats(f->dev, &stats);
    g_assert_cmpuint(stats.doorbells, ==, 2);
    g_assert_cmpuint(stats.overlaps, ==, 0);
    g_assert_cmpuint(stats.completions, ==, 2);
    vgpu_device_close(first);
    vgpu_device_close(second);
}

/* --- concurrency --- */

#define CONCURRENT_THREADS  4
#define CONCURRENT_REQUESTS 150

typedef struct {
    vgpu_device *dev;           /* shared, or NULL: the thread opens its own */
    guint index;
    guint wrong;                /* wrong sums or failed calls */
} Worker;

static gpointer worker_run(gpointer data)
{
    Worker *w = data;
    vgpu_device *dev = w->dev ? w->dev : open_device(NULL, VGPU_WAIT_POLL, 10000);

    for (uint32_t i = 0; i < CONCURRENT_REQUESTS; i++) {
        uint32_t a = w->index * 100000 + i, b = 7 * i, sum = 0;
        enum vgpu_result r = vgpu_device_vector_add(dev, a, b, &sum, NULL, NULL);

        if (r != VGPU_RESULT_OK || sum != a + b) {
            g_printerr("# worker %u request %u: %s %s, sum %u\n", w->index, i,
                       vgpu_result_name(r), vgpu_last_error(), sum);
            w->wrong++;
        }
    }
    if (!w->dev) {
        vgpu_device_close(dev);
    }
    return NULL;
}

static void run_workers(Fixture *f, gboolean share_handle)
{
    vgpu_device *shared = share_handle ? open_device(NULL, VGPU_WAIT_POLL, 10000) : NULL;
    Worker workers[CONCURRENT_THREADS];
    GThread *threads[CONCURRENT_THREADS];
    FakeStats stats;

    fake_device_set_mode(f->dev, FAKE_ANSWER, 0, 30);
    for (guint i = 0; i < CONCURRENT_THREADS; i++) {
        workers[i] = (Worker){ .dev = shared, .index = i };
        threads[i] = g_thread_new("worker", worker_run, &workers[i]);
    }
    for (guint i = 0; i < CONCURRENT_THREADS; i++) {
        g_thread_join(threads[i]);
        g_assert_cmpuint(workers[i].wrong, ==, 0);
    }
    fake_device_stats(f->dev, &stats);
    g_assert_cmpuint(stats.overlaps, ==, 0);
    g_assert_cmpuint(stats.clobbered, ==, 0);
    g_assert_cmpuint(stats.doorbells, ==, CONCURRENT_THREADS * CONCURRENT_REQUESTS);
    g_assert_cmpuint(stats.completions, ==, CONCURRENT_THREADS * CONCURRENT_REQUESTS);
    vgpu_device_close(shared);
}

static void test_threads_share_handle(Fixture *f, gconstpointer data)
{
    (void)data;
    run_workers(f, TRUE);
}

static void test_handles_share_device(Fixture *f, gconstpointer data)
{
    (void)data;
    run_workers(f, FALSE);
}

/* --- uio --- */

static void test_uio_detection(void)
{
    FakeRoot *root = fake_root_new();
    FakeDevice *plain, *e1000, *uio;
    char name[VGPU_UIO_NAME_MAX], driver[64];

    plain = fake_device_add(root, "0000:00:1d.0", VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    e1000 = fake_device_add(root, "0000:00:03.0", 0x8086, 0x100e);
    uio = fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    fake_device_bind(e1000, "e1000");
    fake_device_bind(uio, "uio_pci_generic");
    fake_device_add_uio(uio, "uio3", FALSE);

    g_assert_cmpint(vgpu_sysfs_driver(fake_root_path(root), "0000:00:1d.0", driver, sizeof(driver)), ==, 0);
    g_assert_cmpstr(driver, ==, "");
    g_assert_cmpint(vgpu_sysfs_driver(fake_root_path(root), "0000:00:03.0", driver, sizeof(driver)), ==, 0);
    g_assert_cmpstr(driver, ==, "e1000");
    g_assert_cmpint(vgpu_sysfs_driver(fake_root_path(root), ADDR_1E, driver, sizeof(driver)), ==, 0);
    g_assert_cmpstr(driver, ==, "uio_pci_generic");
    g_assert_cmpint(vgpu_sysfs_driver(fake_root_path(root), ADDR_1E, driver, 4), ==, -1);

    g_assert_cmpint(vgpu_sysfs_uio_name(fake_root_path(root), "0000:00:1d.0", name), ==, -1);
    g_assert_cmpint(vgpu_sysfs_uio_name(fake_root_path(root), ADDR_1E, name), ==, 0);
    g_assert_cmpstr(name, ==, "uio3");
    (void)plain;
    fake_root_free(root);
}

static void test_irq_needs_uio(void)
{
    FakeRoot *root = fake_root_new();
    FakeDevice *e1000_bound, *uio_no_node, *no_irq;
    vgpu_device *dev;
    struct vgpu_device_info info;

    fake_root_use(root);
    fake_device_add(root, "0000:00:1d.0", VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    e1000_bound = fake_device_add(root, "0000:00:1e.0", VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    uio_no_node = fake_device_add(root, "0000:00:1f.0", VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    fake_device_bind(e1000_bound, "e1000");
    fake_device_bind(uio_no_node, "uio_pci_generic");
    fake_device_add_uio(uio_no_node, "uio0", FALSE);

    g_assert_cmpint(try_open("0000:00:1d.0", VGPU_WAIT_IRQ), ==, VGPU_RESULT_NO_IRQ);
    g_assert_nonnull(strstr(vgpu_last_error(), "no driver"));
    g_assert_cmpint(try_open("0000:00:1e.0", VGPU_WAIT_IRQ), ==, VGPU_RESULT_NO_IRQ);
    g_assert_nonnull(strstr(vgpu_last_error(), "bound to e1000"));
    g_assert_cmpint(try_open("0000:00:1f.0", VGPU_WAIT_IRQ), ==, VGPU_RESULT_NO_IRQ);
    g_assert_nonnull(strstr(vgpu_last_error(), "/dev/uio0"));

    /* auto takes polling where interrupts are not to be had */
    dev = open_device("0000:00:1f.0", VGPU_WAIT_AUTO, 0);
    vgpu_device_info(dev, &info);
    g_assert_cmpint(info.wait, ==, VGPU_WAIT_POLL);
    g_assert_cmpstr(info.uio, ==, "");
    vgpu_device_close(dev);
    fake_root_free(root);

    /* a device without the completion interrupt: uio or not, it is polled */
    root = fake_root_new();
    fake_root_use(root);
    no_irq = fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    fake_device_bind(no_irq, "uio_pci_generic");
    fake_device_add_uio(no_irq, "uio0", TRUE);
    fake_device_set_capabilities(no_irq, 0);
    g_assert_cmpint(try_open(NULL, VGPU_WAIT_IRQ), ==, VGPU_RESULT_NO_IRQ);
    g_assert_nonnull(strstr(vgpu_last_error(), "no completion interrupt"));
    dev = open_device(NULL, VGPU_WAIT_AUTO, 0);
    vgpu_device_info(dev, &info);
    g_assert_cmpint(info.wait, ==, VGPU_WAIT_POLL);
    vgpu_device_close(dev);
    fake_root_free(root);
}

/* The whole interrupt path against the uio_pci_generic stand-in. */
static void test_irq_completions(void)
{
    FakeRoot *root = fake_root_new();
    struct vgpu_device_info info;
    FakeDevice *fake;
    vgpu_device *dev;
    FakeStats stats;

    fake_root_use(root);
    fake = fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    fake_device_bind(fake, "uio_pci_generic");
    fake_device_add_uio(fake, "uio0", TRUE);
    fake_device_start(fake);

    dev = open_device(NULL, VGPU_WAIT_AUTO, 5000);
    vgpu_device_info(dev, &info);
    g_assert_cmpint(info.wait, ==, VGPU_WAIT_IRQ);
    g_assert_cmpstr(info.uio, ==, "uio0");
    for (uint32_t i = 0; i < 40; i++) {
        uint32_t sum = 0;

        /* completions at the doorbell and after a while (the last one) */
        fake_device_set_mode(fake, FAKE_ANSWER, 0, i % 2 ? 500 : 0);
        g_assert_cmpint(vgpu_device_vector_add(dev, i, i, &sum, NULL, NULL), ==, VGPU_RESULT_OK);
        g_assert_cmpuint(sum, ==, 2 * i);
    }
    /* the last one woke us by interrupt: we cleared it and unmasked INTx */
    wait_for_irq_cleared(fake);
    fake_device_stats(fake, &stats);
    g_assert_cmpuint(fake_device_reg(fake, VGPU_REG_INTERRUPT_CTRL), ==, VGPU_IRQ_COMPLETION);
    g_assert_cmpuint(stats.completions, ==, 40);
    g_assert_cmpuint(stats.interrupts, ==, stats.completions);
    g_assert_cmpuint(stats.irq_clears, >=, stats.interrupts);
    g_assert_cmphex(fake_device_command(fake) & PCI_COMMAND_INTX_DISABLE, ==, 0);
    g_assert_cmpuint(stats.overlaps, ==, 0);

    /* an ERROR completes through the interrupt too */
    fake_device_set_mode(fake, FAKE_FAIL, VGPU_ERR_QUEUE_FULL, 500);
    {
        struct vgpu_completion c;
        uint32_t sum;

        g_assert_cmpint(vgpu_device_vector_add(dev, 1, 1, &sum, NULL, &c), ==,
                        VGPU_RESULT_DEVICE_ERROR);
        g_assert_cmpuint(c.error_code, ==, VGPU_ERR_QUEUE_FULL);
    }
    vgpu_device_close(dev);
    fake_root_free(root);
}

/* --- permissions: the tests drop root in a subprocess --- */

static void drop_root(gboolean in_group)
{
    gid_t groups[] = { TEST_GROUP_ID };

    if (geteuid() != 0) {
        g_error("the permission tests need root, to drop it");
    }
    g_assert_cmpint(setgroups(in_group ? 1 : 0, groups), ==, 0);
    g_assert_cmpint(setgid(NOBODY_ID), ==, 0);
    g_assert_cmpint(setuid(NOBODY_ID), ==, 0);
}

/* Without access to resource0: PERMISSION, naming the file. */
static void test_permission(void)
{
    FakeRoot *root;
    FakeDevice *fake;
    char *resource0;

    if (g_test_subprocess()) {
        drop_root(FALSE);
        g_assert_cmpint(try_open(NULL, VGPU_WAIT_AUTO), ==, VGPU_RESULT_PERMISSION);
        g_assert_nonnull(strstr(vgpu_last_error(), "resource0"));
        g_assert_nonnull(strstr(vgpu_last_error(), "Permission denied"));
        return;
    }
    root = fake_root_new();
    fake_root_use(root);
    fake = fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    resource0 = fake_device_file(fake, "resource0");
    g_assert_cmpint(chmod(resource0, 0600), ==, 0);
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
    g_free(resource0);
    fake_root_free(root);
}

/* A member of the group that owns resource0 (as 60-vgpu.rules sets it) needs nothing else. */
static void test_permission_group(void)
{
    FakeRoot *root;
    FakeDevice *fake;
    char *resource0;

    if (g_test_subprocess()) {
        vgpu_device *dev;
        uint32_t sum = 0;

        drop_root(TRUE);
        dev = open_device(NULL, VGPU_WAIT_AUTO, 5000);
        g_assert_cmpint(vgpu_device_vector_add(dev, 20, 22, &sum, NULL, NULL), ==, VGPU_RESULT_OK);
        g_assert_cmpuint(sum, ==, 42);
        vgpu_device_close(dev);
        return;
    }
    root = fake_root_new();
    fake_root_use(root);
    fake = fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    fake_device_start(fake);
    resource0 = fake_device_file(fake, "resource0");
    g_assert_cmpint(chown(resource0, 0, TEST_GROUP_ID), ==, 0);
    g_assert_cmpint(chmod(resource0, 0660), ==, 0);
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
    g_free(resource0);
    fake_root_free(root);
}

/* --- names --- */

static void test_names(void)
{
    enum vgpu_wait_mode mode;

    for (int r = 0; r < VGPU_RESULT_COUNT; r++) {
        g_assert_nonnull(vgpu_result_name(r));
        g_assert_cmpstr(vgpu_result_message(r), !=, "unknown result");
    }
    g_assert_cmpstr(vgpu_result_name(VGPU_RESULT_DEVICE_ERROR), ==, "DEVICE_ERROR");
    g_assert_null(vgpu_result_name(VGPU_RESULT_COUNT));
    g_assert_cmpstr(vgpu_result_message(VGPU_RESULT_COUNT), ==, "unknown result");
    for (int m = VGPU_WAIT_AUTO; m <= VGPU_WAIT_IRQ; m++) {
        g_assert_cmpint(vgpu_wait_mode_parse(vgpu_wait_mode_name(m), &mode), ==, 0);
        g_assert_cmpint(mode, ==, m);
    }
    g_assert_cmpint(vgpu_wait_mode_parse("interrupt", &mode), ==, -1);
    g_assert_null(vgpu_wait_mode_name(VGPU_WAIT_IRQ + 1));
}

#define FIXTURE_TEST(path, fn) \
    g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/libvgpu/discovery/none", test_discovery_none);
    g_test_add_func("/libvgpu/discovery/wrong-ids-ignored", test_discovery_wrong_ids_ignored);
    g_test_add_func("/libvgpu/discovery/one", test_discovery_one);
    g_test_add_func("/libvgpu/discovery/several-lowest-or-named", test_discovery_several);
    g_test_add_func("/libvgpu/discovery/named-absent-or-foreign", test_discovery_named);
    FIXTURE_TEST("/libvgpu/info/identity-and-capabilities", test_info);
    FIXTURE_TEST("/libvgpu/add/exact-request-bytes", test_add_request_bytes);
    FIXTURE_TEST("/libvgpu/add/immediate-completions-never-stale", test_add_immediate_completions);
    FIXTURE_TEST("/libvgpu/submit/raw-response-truncation-invalid", test_submit_raw_response);
    FIXTURE_TEST("/libvgpu/device-error/each-code-by-name", test_device_errors);
    FIXTURE_TEST("/libvgpu/timeout/no-second-doorbell", test_timeout);
    FIXTURE_TEST("/libvgpu/timeout/next-call-waits-for-busy", test_waits_for_busy_device);
    FIXTURE_TEST("/libvgpu/concurrency/threads-share-handle", test_threads_share_handle);
    FIXTURE_TEST("/libvgpu/concurrency/handles-share-device", test_handles_share_device);
    g_test_add_func("/libvgpu/uio/driver-detection", test_uio_detection);
    g_test_add_func("/libvgpu/uio/irq-needs-uio-and-capability-auto-polls", test_irq_needs_uio);
    g_test_add_func("/libvgpu/uio/completions-by-interrupt", test_irq_completions);
    g_test_add_func("/libvgpu/permission/denied", test_permission);
    g_test_add_func("/libvgpu/permission/group-member-allowed", test_permission_group);
    g_test_add_func("/libvgpu/names", test_names);
    return g_test_run();
}
