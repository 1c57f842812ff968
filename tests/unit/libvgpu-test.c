/*
 * libvgpu against a fake sysfs and a mock device (fake-vgpu.h): discovery,
 * info, the exact request bytes, each device error surfaced by name, the
 * library's own timeout without a second doorbell, many threads and handles
 * never ringing while the device is busy, uio detection and the interrupt
 * path, permissions; the data window (its mapping, size checks, lock) and
 * its array operations (each request's params word by word, results, bad
 * ranges refused before anything reaches the device).
 */
#include <glib.h>
#include <grp.h>
#include <linux/pci_regs.h>
#include <math.h>
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

/* --- the data window --- */

#define WINDOW_64K  (64u << 10)

/* A started vgpu-stub at ADDR_1E with a window of size bytes, in a root in use. */
static FakeRoot *window_root(FakeDevice **fake, guint64 size)
{
    FakeRoot *root = fake_root_new();

    fake_root_use(root);
    *fake = fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    if (size) {
        fake_device_add_window(*fake, size);
    }
    fake_device_start(*fake);
    return root;
}

static guint doorbells(FakeDevice *fake)
{
    FakeStats stats;

    fake_device_stats(fake, &stats);
    return stats.doorbells;
}

static void test_window_map(void)
{
    FakeDevice *fake;
    FakeRoot *root = window_root(&fake, WINDOW_64K);
    struct vgpu_device_info info;
    guint8 *mock = fake_device_window(fake);
    void *base = NULL, *again = NULL;
    uint64_t size = 0;
    vgpu_device *dev = open_device(NULL, VGPU_WAIT_POLL, 0);

    vgpu_device_info(dev, &info);
    g_assert_cmphex(info.capabilities, ==, VGPU_CAP_COMPLETION_IRQ | VGPU_CAP_DATA_WINDOW);
    g_assert_cmpint(vgpu_device_window(dev, &base, &size), ==, VGPU_RESULT_OK);
    g_assert_nonnull(base);
    g_assert_cmpuint(size, ==, WINDOW_64K);
    /* one memory: what either side writes, the other reads, at both ends */
    memcpy(base, "guest", 5);
    memcpy(mock + WINDOW_64K - 4, "mock", 4);
    g_assert_cmpmem(mock, 5, "guest", 5);
    g_assert_cmpmem((guint8 *)base + WINDOW_64K - 4, 4, "mock", 4);
    /* mapped once per handle; either pointer may be NULL */
    g_assert_cmpint(vgpu_device_window(dev, &again, NULL), ==, VGPU_RESULT_OK);
    g_assert_true(again == base);
    size = 0;
    g_assert_cmpint(vgpu_device_window(dev, NULL, &size), ==, VGPU_RESULT_OK);
    g_assert_cmpuint(size, ==, WINDOW_64K);
    g_assert_cmpint(vgpu_device_window(NULL, &base, &size), ==, VGPU_RESULT_INVALID);
    g_assert_cmpuint(doorbells(fake), ==, 0);
    vgpu_device_close(dev);
    fake_root_free(root);
}

/* A device without the capability: NO_WINDOW from every window call, and nothing sent. */
static void test_window_none(void)
{
    FakeDevice *fake;
    FakeRoot *root = window_root(&fake, 0);
    struct vgpu_window_op op = { .opcode = VGPU_OP_SUM_F32, .count = 1 };
    struct vgpu_completion c;
    vgpu_device *dev = open_device(NULL, VGPU_WAIT_POLL, 0);
    void *base = &op;
    double sum = -1;
    uint32_t x;

    g_assert_cmpint(vgpu_device_window(dev, &base, NULL), ==, VGPU_RESULT_NO_WINDOW);
    g_assert_true(base == &op);         /* untouched on failure */
    g_assert_nonnull(strstr(vgpu_last_error(), ADDR_1E " has no data window"));
    g_assert_nonnull(strstr(vgpu_last_error(), "CAPABILITIES 0x00000001"));
    g_assert_cmpstr(vgpu_result_name(VGPU_RESULT_NO_WINDOW), ==, "NO_WINDOW");
    g_assert_cmpint(vgpu_device_run_op(dev, &op, &sum, NULL, &c), ==, VGPU_RESULT_NO_WINDOW);
    g_assert_cmpfloat(sum, ==, -1);
    g_assert_cmpint(vgpu_device_window_lock(dev), ==, VGPU_RESULT_NO_WINDOW);
    vgpu_device_window_unlock(dev);     /* harmless without a lock */
    g_assert_cmpuint(doorbells(fake), ==, 0);
    /* and requests go on as before */
    g_assert_cmpint(vgpu_device_vector_add(dev, 40, 2, &x, NULL, NULL), ==, VGPU_RESULT_OK);
    g_assert_cmpuint(x, ==, 42);
    vgpu_device_close(dev);
    fake_root_free(root);
}

static enum vgpu_result window_of_new_handle(uint64_t *size)
{
    vgpu_device *dev = open_device(NULL, VGPU_WAIT_POLL, 0);
    enum vgpu_result r = vgpu_device_window(dev, NULL, size);

    vgpu_device_close(dev);
    return r;
}

/* WINDOW_SIZE and resource2 must agree with each other and the contract. */
static void test_window_size_checks(void)
{
    FakeDevice *fake;
    FakeRoot *root = window_root(&fake, WINDOW_64K);
    uint64_t size = 0;

    fake_device_set_window_size_reg(fake, 0);
    g_assert_cmpint(window_of_new_handle(&size), ==, VGPU_RESULT_NO_WINDOW);
    g_assert_nonnull(strstr(vgpu_last_error(), "WINDOW_SIZE is 0"));
    fake_device_set_window_size_reg(fake, 3 * 4096);
    g_assert_cmpint(window_of_new_handle(&size), ==, VGPU_RESULT_PROTOCOL);
    g_assert_nonnull(strstr(vgpu_last_error(), "12288 bytes, not a power of two"));
    fake_device_set_window_size_reg(fake, 2048);
    g_assert_cmpint(window_of_new_handle(&size), ==, VGPU_RESULT_PROTOCOL);
    fake_device_set_window_size_reg(fake, 32ull << 30);
    g_assert_cmpint(window_of_new_handle(&size), ==, VGPU_RESULT_PROTOCOL);
    fake_device_set_window_size_reg(fake, 2 * WINDOW_64K);
    g_assert_cmpint(window_of_new_handle(&size), ==, VGPU_RESULT_PROTOCOL);
    g_assert_nonnull(strstr(vgpu_last_error(), "WINDOW_SIZE says 131072 bytes"));
    g_assert_nonnull(strstr(vgpu_last_error(), "resource2 is 65536 bytes"));
    fake_device_set_window_size_reg(fake, WINDOW_64K);
    g_assert_cmpint(window_of_new_handle(&size), ==, VGPU_RESULT_OK);
    g_assert_cmpuint(size, ==, WINDOW_64K);
    fake_root_free(root);

    /* the capability and a size, but no resource2 */
    root = window_root(&fake, 0);
    fake_device_set_capabilities(fake, VGPU_CAP_DATA_WINDOW);
    fake_device_set_window_size_reg(fake, WINDOW_64K);
    g_assert_cmpint(window_of_new_handle(&size), ==, VGPU_RESULT_NO_WINDOW);
    g_assert_nonnull(strstr(vgpu_last_error(), "has no"));
    g_assert_nonnull(strstr(vgpu_last_error(), "resource2"));
    fake_root_free(root);
}

/* The window lock keeps other handles out (until the timeout), not requests. */
static void test_window_lock(void)
{
    FakeDevice *fake;
    FakeRoot *root = window_root(&fake, WINDOW_64K);
    vgpu_device *owner = open_device(NULL, VGPU_WAIT_POLL, 0);
    vgpu_device *other = open_device(NULL, VGPU_WAIT_POLL, 100);
    gint64 start, elapsed_ms;
    uint32_t x;

    g_assert_cmpint(vgpu_device_window_lock(owner), ==, VGPU_RESULT_OK);
    start = g_get_monotonic_time();
    g_assert_cmpint(vgpu_device_window_lock(other), ==, VGPU_RESULT_TIMEOUT);
    elapsed_ms = (g_get_monotonic_time() - start) / 1000;
    g_assert_cmpint(elapsed_ms, >=, 100);
    g_assert_cmpint(elapsed_ms, <, 2000);
    g_assert_nonnull(strstr(vgpu_last_error(), "held the data window for over 100 ms"));
    g_assert_cmpint(vgpu_device_vector_add(other, 1, 2, &x, NULL, NULL), ==, VGPU_RESULT_OK);
    g_assert_cmpuint(x, ==, 3);
    vgpu_device_window_unlock(owner);
    g_assert_cmpint(vgpu_device_window_lock(other), ==, VGPU_RESULT_OK);
    vgpu_device_close(other);           /* closing lets go */
    g_assert_cmpint(vgpu_device_window_lock(owner), ==, VGPU_RESULT_OK);
    vgpu_device_close(owner);
    fake_root_free(root);
}

/* --- array operations --- */

static uint32_t f32_bits(float f)
{
    uint32_t w;

    memcpy(&w, &f, 4);
    return w;
}

static float bits_f32(uint32_t w)
{
    float f;

    memcpy(&f, &w, 4);
    return f;
}

static uint32_t *words_at(void *base, uint64_t offset)
{
    return (uint32_t *)((guint8 *)base + offset);
}

/* The params of the last request the mock took, which must be opcode's, one by one. */
static void assert_last_params(FakeDevice *fake, uint32_t opcode, const uint32_t *want,
                               uint32_t count)
{
    struct vgpu_request_view view;
    FakeStats stats;

    fake_device_stats(fake, &stats);
    g_assert_cmpuint(stats.last_len, ==, VGPU_REQUEST_HEADER_SIZE + 4 * count);
    g_assert_cmpuint(vgpu_request_decode(stats.last_request, stats.last_len, &view), ==, VGPU_OK);
    g_assert_cmphex(view.opcode, ==, opcode);
    g_assert_cmpuint(view.param_count, ==, count);
    g_assert_cmpuint(view.data_length, ==, 0);
    for (uint32_t i = 0; i < count; i++) {
        if (vgpu_request_param(&view, i) != want[i]) {
            g_error("opcode 0x%x param %u: 0x%08x, expected 0x%08x", opcode, i,
                    vgpu_request_param(&view, i), want[i]);
        }
    }
}

/*
 * Every opcode's request, word by word as docs/protocol.md lays it out,
 * with offsets past 4 GiB so that the high words count, and the results
 * the mock computed from the window.
 */
#define BIG_WINDOW  (8ull << 30)        /* sparse: only the pages used are real */
#define AT_4G       (4ull << 30)

static void test_ops_requests(void)
{
    FakeDevice *fake;
    FakeRoot *root = window_root(&fake, BIG_WINDOW);
    const uint64_t a = AT_4G + 0x1000, b = AT_4G + 0x2000, out = AT_4G + 0x3000;
    const uint64_t n = 1000;
    struct vgpu_completion c;
    uint32_t exec_us = 0;
    vgpu_device *dev = open_device(NULL, VGPU_WAIT_POLL, 0);
    double sum = 0, want_sum = 0;
    void *base;
    uint64_t size;
    uint32_t *wa, *wb, *wo;

    g_assert_cmpint(vgpu_device_window(dev, &base, &size), ==, VGPU_RESULT_OK);
    g_assert_cmpuint(size, ==, BIG_WINDOW);
    wa = words_at(base, a);
    wb = words_at(base, b);
    wo = words_at(base, out);

    /* ADD_U32: [count, a, b, out], 64 bits each, low word first */
    for (uint32_t i = 0; i < n; i++) {
        wa[i] = 0xfffffff0u + i;
        wb[i] = 3 * i + 100;
    }
    {
        struct vgpu_window_op op = { .opcode = VGPU_OP_ADD_U32, .count = n, .a = a, .b = b,
                                     .out = out };
        const uint32_t want[] = { n, 0, 0x1000, 1, 0x2000, 1, 0x3000, 1 };

        g_assert_cmpint(vgpu_device_run_op(dev, &op, NULL, &exec_us, &c), ==, VGPU_RESULT_OK);
        assert_last_params(fake, VGPU_OP_ADD_U32, want, G_N_ELEMENTS(want));
        g_assert_cmpuint(c.status, ==, VGPU_STATUS_DONE);
        g_assert_cmpuint(exec_us, ==, FAKE_EXEC_TIME_US);
        for (uint32_t i = 0; i < n; i++) {
            g_assert_cmpuint(wo[i], ==, (uint32_t)(0xfffffff0u + i + 3 * i + 100));
        }
    }
    /* ADD_F32, in place: out is a */
    for (uint32_t i = 0; i < n; i++) {
        wa[i] = f32_bits(0.1f * i);
        wb[i] = f32_bits(1.0f / (i + 1));
    }
    {
        struct vgpu_window_op op = { .opcode = VGPU_OP_ADD_F32, .count = n, .a = a, .b = b,
                                     .out = a };
        const uint32_t want[] = { n, 0, 0x1000, 1, 0x2000, 1, 0x1000, 1 };

        g_assert_cmpint(vgpu_device_run_op(dev, &op, NULL, NULL, NULL), ==, VGPU_RESULT_OK);
        assert_last_params(fake, VGPU_OP_ADD_F32, want, G_N_ELEMENTS(want));
        for (uint32_t i = 0; i < n; i++) {
            g_assert_cmphex(wa[i], ==, f32_bits(0.1f * i + 1.0f / (i + 1)));
        }
    }
    /* SAXPY: [count, x, y, alpha bits] */
    for (uint32_t i = 0; i < n; i++) {
        wa[i] = f32_bits(0.3f * i);
        wo[i] = f32_bits(7.0f - i);
    }
    {
        struct vgpu_window_op op = { .opcode = VGPU_OP_SAXPY, .count = n, .a = a, .out = out,
                                     .alpha = -1.75f };
        const uint32_t want[] = { n, 0, 0x1000, 1, 0x3000, 1, f32_bits(-1.75f) };

        g_assert_cmpint(vgpu_device_run_op(dev, &op, NULL, NULL, NULL), ==, VGPU_RESULT_OK);
        assert_last_params(fake, VGPU_OP_SAXPY, want, G_N_ELEMENTS(want));
        for (uint32_t i = 0; i < n; i++) {
            g_assert_cmphex(wo[i], ==, f32_bits(fmaf(-1.75f, 0.3f * i, 7.0f - i)));
        }
    }
    /* SUM_F32: [count, x] -> a double in two result words */
    for (uint32_t i = 0; i < n; i++) {
        wb[i] = f32_bits(1.0f / (i + 3));
        want_sum += 1.0f / (i + 3);
    }
    {
        struct vgpu_window_op op = { .opcode = VGPU_OP_SUM_F32, .count = n, .a = b };
        const uint32_t want[] = { n, 0, 0x2000, 1 };

        g_assert_cmpint(vgpu_device_run_op(dev, &op, &sum, NULL, &c), ==, VGPU_RESULT_OK);
        assert_last_params(fake, VGPU_OP_SUM_F32, want, G_N_ELEMENTS(want));
        g_assert_cmpfloat(sum, ==, want_sum);   /* the mock sums in order, as we did */
        g_assert_cmpuint(c.response_len, ==, VGPU_RESPONSE_HEADER_SIZE + 4 * VGPU_SUM_RESULTS);
    }
    /* SGEMM: [a, b, c, m, n, k, lda, ldb, ldc, alpha, beta], with padded rows */
    {
        struct vgpu_window_op op = { .opcode = VGPU_OP_SGEMM, .a = a, .b = b, .out = out,
                                     .m = 3, .n = 2, .k = 4, .lda = 5, .ldb = 3, .ldc = 7,
                                     .alpha = 0.5f, .beta = -2.0f };
        const uint32_t want[] = { 0x1000, 1, 0x2000, 1, 0x3000, 1, 3, 2, 4, 5, 3, 7,
                                  f32_bits(0.5f), f32_bits(-2.0f) };

        for (uint32_t i = 0; i < 3 * 5; i++) {
            wa[i] = f32_bits((float)i);
        }
        for (uint32_t i = 0; i < 4 * 3; i++) {
            wb[i] = f32_bits((float)(i % 5) - 1.0f);
        }
        for (uint32_t i = 0; i < 3 * 7; i++) {
            wo[i] = f32_bits(1.0f + i);
        }
        g_assert_cmpint(vgpu_device_run_op(dev, &op, NULL, NULL, NULL), ==, VGPU_RESULT_OK);
        assert_last_params(fake, VGPU_OP_SGEMM, want, G_N_ELEMENTS(want));
        for (uint32_t i = 0; i < 3; i++) {
            for (uint32_t j = 0; j < 7; j++) {
                float expected = 1.0f + (i * 7 + j);    /* padding stays */

                if (j < 2) {
                    float dot = 0;

                    for (uint32_t p = 0; p < 4; p++) {
                        dot += (float)(i * 5 + p) * ((float)((p * 3 + j) % 5) - 1.0f);
                    }
                    expected = 0.5f * dot - 2.0f * expected;    /* small integers: exact */
                }
                g_assert_cmpfloat(bits_f32(wo[i * 7 + j]), ==, expected);
            }
        }
    }
    g_assert_cmpuint(doorbells(fake), ==, 5);
    vgpu_device_close(dev);
    fake_root_free(root);
}

typedef struct {
    struct vgpu_window_op op;
    enum vgpu_error error;      /* what the contract's check says */
    const char *detail;         /* in vgpu_last_error() */
} BadOp;

/* Bad ops never reach the device: INVALID, naming the code and the operand. */
static void test_ops_refused_before_submit(void)
{
    FakeDevice *fake;
    FakeRoot *root = window_root(&fake, WINDOW_64K);
    const uint64_t w = WINDOW_64K;
    const BadOp cases[] = {
        { { .opcode = VGPU_OP_ADD_U32, .count = 1, .a = w, .b = 0, .out = 8 },
          VGPU_ERR_BAD_RANGE, "a is 4 bytes at offset 65536" },
        { { .opcode = VGPU_OP_ADD_U32, .count = 1, .a = 0, .b = 4, .out = w - 2 },
          VGPU_ERR_BAD_RANGE, "out is 4 bytes at offset 65534" },
        { { .opcode = VGPU_OP_ADD_F32, .count = 8, .a = 0, .b = 2, .out = 64 },
          VGPU_ERR_BAD_RANGE, "b is 32 bytes at offset 2 " },
        { { .opcode = VGPU_OP_ADD_U32, .count = w / 4, .a = 0, .b = 0, .out = 0 },
          VGPU_ERR_OK, NULL },      /* the whole window, in place twice: fine */
        { { .opcode = VGPU_OP_ADD_U32, .count = w / 4 + 1, .a = 0, .b = 0, .out = 0 },
          VGPU_ERR_BAD_RANGE, "a is 65540 bytes at offset 0" },
        { { .opcode = VGPU_OP_ADD_U32, .count = 4, .a = UINT64_MAX - 3, .b = 0, .out = 64 },
          VGPU_ERR_BAD_RANGE, "a is 16 bytes at offset 18446744073709551612" },
        { { .opcode = VGPU_OP_ADD_U32, .count = 0, .a = 0, .b = 64, .out = 128 },
          VGPU_ERR_BAD_PARAMS, "count 0" },
        { { .opcode = VGPU_OP_ADD_U32, .count = UINT64_MAX / 4 + 1, .a = 0, .b = 0, .out = 0 },
          VGPU_ERR_BAD_PARAMS, "count 4611686018427387904" },
        { { .opcode = VGPU_OP_ADD_U32, .count = 16, .a = 0, .b = 256, .out = 4 },
          VGPU_ERR_OVERLAP, "out [4, +64) overlaps a [0, +64)" },
        { { .opcode = VGPU_OP_SAXPY, .count = 16, .a = 0, .out = 60, .alpha = 1 },
          VGPU_ERR_OVERLAP, "y [60, +64) overlaps x [0, +64)" },
        { { .opcode = VGPU_OP_SUM_F32, .count = w / 4, .a = 4 },
          VGPU_ERR_BAD_RANGE, "x is 65536 bytes at offset 4" },
        { { .opcode = VGPU_OP_SGEMM, .a = 0, .b = 4096, .out = 8192, .m = 2, .n = 2, .k = 3,
            .lda = 2, .ldb = 2, .ldc = 2 },
          VGPU_ERR_BAD_PARAMS, "m 2, n 2, k 3, lda 2, ldb 2, ldc 2" },
        { { .opcode = VGPU_OP_SGEMM, .a = 0, .b = 4096, .out = 0, .m = 2, .n = 2, .k = 2,
            .lda = 2, .ldb = 2, .ldc = 2 },
          VGPU_ERR_OVERLAP, "C [0, +16) overlaps A [0, +16)" },    /* no SGEMM in place */
        { { .opcode = VGPU_OP_SGEMM, .a = 0, .b = 4096, .out = w - 12, .m = 2, .n = 2, .k = 2,
            .lda = 2, .ldb = 2, .ldc = 2 },
          VGPU_ERR_BAD_RANGE, "C is 16 bytes at offset 65524" },
    };
    vgpu_device *dev = open_device(NULL, VGPU_WAIT_POLL, 0);
    guint expected_doorbells = 0;

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        enum vgpu_result r = vgpu_device_run_op(dev, &cases[i].op, NULL, NULL, NULL);

        if (cases[i].error == VGPU_ERR_OK) {
            g_assert_cmpint(r, ==, VGPU_RESULT_OK);
            expected_doorbells++;
        } else {
            const char *name = vgpu_error_name(cases[i].error);

            if (r != VGPU_RESULT_INVALID || !strstr(vgpu_last_error(), name) ||
                !strstr(vgpu_last_error(), cases[i].detail) ||
                !strstr(vgpu_last_error(), "refused before sending")) {
                g_error("case %zu: %s, '%s'; expected INVALID naming %s and '%s'", i,
                        vgpu_result_name(r), vgpu_last_error(), name, cases[i].detail);
            }
        }
        g_assert_cmpuint(doorbells(fake), ==, expected_doorbells);
    }
    {
        struct vgpu_window_op op = { .opcode = VGPU_OP_VECTOR_ADD, .count = 1 };

        g_assert_cmpint(vgpu_device_run_op(dev, &op, NULL, NULL, NULL), ==, VGPU_RESULT_INVALID);
        g_assert_nonnull(strstr(vgpu_last_error(), "not an operation on the data window"));
        g_assert_cmpint(vgpu_device_run_op(dev, NULL, NULL, NULL, NULL), ==, VGPU_RESULT_INVALID);
        g_assert_cmpint(vgpu_device_run_op(NULL, &op, NULL, NULL, NULL), ==, VGPU_RESULT_INVALID);
    }
    g_assert_cmpuint(doorbells(fake), ==, expected_doorbells);
    vgpu_device_close(dev);
    fake_root_free(root);
}

/* What the host says about an op that passed the guest's check, and a malformed answer. */
static void test_ops_device_answers(void)
{
    FakeDevice *fake;
    FakeRoot *root = window_root(&fake, WINDOW_64K);
    struct vgpu_window_op sum_op = { .opcode = VGPU_OP_SUM_F32, .count = 16, .a = 0 };
    struct vgpu_completion c;
    vgpu_device *dev = open_device(NULL, VGPU_WAIT_POLL, 0);
    double sum = -1;

    fake_device_set_mode(fake, FAKE_FAIL, VGPU_ERR_NO_WINDOW, 100);
    g_assert_cmpint(vgpu_device_run_op(dev, &sum_op, &sum, NULL, &c), ==,
                    VGPU_RESULT_DEVICE_ERROR);
    g_assert_cmpuint(c.error_code, ==, VGPU_ERR_NO_WINDOW);
    g_assert_nonnull(strstr(vgpu_last_error(), "NO_WINDOW (15)"));
    g_assert_cmpfloat(sum, ==, -1);

    fake_device_set_mode(fake, FAKE_ANSWER, 0, 0);
    fake_device_set_corruption(fake, FAKE_CORRUPT_NO_RESULTS, 0);
    g_assert_cmpint(vgpu_device_run_op(dev, &sum_op, &sum, NULL, &c), ==, VGPU_RESULT_PROTOCOL);
    g_assert_nonnull(strstr(vgpu_last_error(), "SUM_F32 request"));
    g_assert_nonnull(strstr(vgpu_last_error(), "with 0 results, not 2"));
    g_assert_cmpfloat(sum, ==, -1);

    fake_device_set_corruption(fake, FAKE_CORRUPT_NONE, 0);
    memset(fake_device_window(fake), 0, 64);
    ((float *)fake_device_window(fake))[3] = 2.5f;
    g_assert_cmpint(vgpu_device_run_op(dev, &sum_op, &sum, NULL, &c), ==, VGPU_RESULT_OK);
    g_assert_cmpfloat(sum, ==, 2.5);
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

/* The window is resource2: a member of the group that owns resource0 alone cannot map it. */
static void test_permission_window(void)
{
    FakeRoot *root;
    FakeDevice *fake;
    char *resource0;

    if (g_test_subprocess()) {
        vgpu_device *dev;
        uint64_t size;
        uint32_t sum = 0;

        drop_root(TRUE);
        dev = open_device(NULL, VGPU_WAIT_AUTO, 5000);
        g_assert_cmpint(vgpu_device_window(dev, NULL, &size), ==, VGPU_RESULT_PERMISSION);
        g_assert_nonnull(strstr(vgpu_last_error(), "resource2: Permission denied"));
        g_assert_cmpint(vgpu_device_vector_add(dev, 20, 22, &sum, NULL, NULL), ==, VGPU_RESULT_OK);
        vgpu_device_close(dev);
        return;
    }
    root = fake_root_new();
    fake_root_use(root);
    fake = fake_device_add(root, ADDR_1E, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    fake_device_add_window(fake, WINDOW_64K);
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
    g_test_add_func("/libvgpu/permission/window-needs-resource2", test_permission_window);
    g_test_add_func("/libvgpu/window/map-size-shared", test_window_map);
    g_test_add_func("/libvgpu/window/none-without-capability", test_window_none);
    g_test_add_func("/libvgpu/window/size-checked-against-resource2", test_window_size_checks);
    g_test_add_func("/libvgpu/window/lock-excludes-other-handles", test_window_lock);
    g_test_add_func("/libvgpu/ops/each-request-word-by-word", test_ops_requests);
    g_test_add_func("/libvgpu/ops/bad-ops-refused-before-submit", test_ops_refused_before_submit);
    g_test_add_func("/libvgpu/ops/device-error-and-malformed-answer", test_ops_device_answers);
    g_test_add_func("/libvgpu/names", test_names);
    return g_test_run();
}
