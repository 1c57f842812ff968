/*
 * The device handle: open, info, submit, the data window and its
 * operations, close.  See vgpu.h and libvgpu(3).  A handle reaches the
 * host through the PCI device's registers (here, with bar.c, irq.c and
 * window.c) or, for an address "unix:PATH", through a host link to the
 * mediator (host-link.c); everything above the transaction is shared.
 *
 * One request is a short transaction under two locks (the handle's mutex
 * for threads, flock on resource0 for processes): wait until the device is
 * not busy, write the request, ring, wait until STATUS leaves BUSY, read the
 * outcome.  The device refuses a doorbell while busy (ERROR/BUSY), so the
 * library never rings then, not even after its own timeout expired.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "backoff.h"
#include "bar.h"
#include "clock.h"
#include "host-link.h"
#include "irq.h"
#include "result.h"
#include "sysfs.h"
#include "vgpu/codec.h"
#include "vgpu/ops.h"
#include "window.h"

struct vgpu_device {
    char address[VGPU_HOST_LINK_ADDRESS_MAX];  /* canonical PCI address, or "unix:PATH" */
    struct vgpu_host_link *link;    /* the host link; NULL for a PCI device */
    uint8_t revision;               /* from sysfs */
    struct vgpu_bar bar;            /* BAR0 and the resource0 fd we flock */
    struct vgpu_irq irq;            /* uio node and config file, in IRQ mode */
    enum vgpu_wait_mode wait;       /* POLL or IRQ, never AUTO */
    unsigned timeout_ms;            /* per request */
    pthread_mutex_t lock;           /* one request at a time; guards next_request_id */
    uint32_t next_request_id;       /* REQUEST_ID of the next request, never 0 */
    char root[PATH_MAX];            /* the sysfs root it was found under */
    pthread_mutex_t window_mutex;   /* guards window (mapped on first use) */
    struct vgpu_window window;      /* BAR2 through resource2, or the host link's memfd */
};

static const char *const wait_mode_names[] = {
    [VGPU_WAIT_AUTO] = "auto",
    [VGPU_WAIT_POLL] = "poll",
    [VGPU_WAIT_IRQ] = "irq",
};

#define WAIT_MODE_COUNT (sizeof(wait_mode_names) / sizeof(wait_mode_names[0]))

const char *vgpu_wait_mode_name(enum vgpu_wait_mode mode)
{
    return (unsigned)mode < WAIT_MODE_COUNT ? wait_mode_names[mode] : NULL;
}

int vgpu_wait_mode_parse(const char *text, enum vgpu_wait_mode *mode)
{
    for (unsigned i = 0; i < WAIT_MODE_COUNT; i++) {
        if (strcmp(text, wait_mode_names[i]) == 0) {
            *mode = (enum vgpu_wait_mode)i;
            return 0;
        }
    }
    return -1;
}

static void device_free(struct vgpu_device *dev)
{
    vgpu_host_link_close(dev->link);
    vgpu_window_unmap(&dev->window);
    vgpu_irq_close(&dev->irq);
    vgpu_bar_unmap(&dev->bar);
    free(dev);
}

/* Choose how to wait.  AUTO takes interrupts when it can: polling always works. */
static enum vgpu_result device_setup_wait(struct vgpu_device *dev, const char *root,
                                          enum vgpu_wait_mode wait)
{
    uint32_t capabilities;
    enum vgpu_result r;

    dev->wait = VGPU_WAIT_POLL;
    if (wait == VGPU_WAIT_POLL) {
        return VGPU_RESULT_OK;
    }
    capabilities = vgpu_bar_read(&dev->bar, VGPU_REG_CAPABILITIES);
    if (!(capabilities & VGPU_CAP_COMPLETION_IRQ)) {
        if (wait == VGPU_WAIT_AUTO) {
            return VGPU_RESULT_OK;
        }
        return vgpu_result_fail(VGPU_RESULT_NO_IRQ, "%s has no completion interrupt "
                                "(CAPABILITIES 0x%08x)", dev->address, capabilities);
    }
    r = vgpu_irq_open(&dev->irq, root, dev->address);
    if (r == VGPU_RESULT_OK) {
        dev->wait = VGPU_WAIT_IRQ;
        return VGPU_RESULT_OK;
    }
    vgpu_irq_close(&dev->irq);
    return wait == VGPU_WAIT_IRQ ? r : VGPU_RESULT_OK;
}

/* Find the PCI device at address (NULL: the lowest), map BAR0, choose how to wait. */
static enum vgpu_result device_open_pci(struct vgpu_device *dev, const char *address,
                                        enum vgpu_wait_mode wait)
{
    const char *root = vgpu_sysfs_root();
    char path[PATH_MAX];
    enum vgpu_result r;
    uint32_t revision;

    if (strlen(root) >= sizeof(dev->root)) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "the sysfs root %s is too long", root);
    }
    strcpy(dev->root, root);

    r = vgpu_sysfs_find(root, address, dev->address);
    if (r != VGPU_RESULT_OK) {
        return r;
    }
    if (vgpu_sysfs_read_hex(root, dev->address, "revision", &revision) < 0) {
        return vgpu_result_fail(VGPU_RESULT_IO, "cannot read the revision of %s: %m",
                                dev->address);
    }
    dev->revision = (uint8_t)revision;
    if (vgpu_sysfs_device_path(path, sizeof(path), root, dev->address, "resource0") < 0) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "resource0 path of %s is too long",
                                dev->address);
    }
    r = vgpu_bar_map(&dev->bar, path);
    if (r != VGPU_RESULT_OK) {
        return r;
    }
    return device_setup_wait(dev, root, wait);
}

/* The host link at address "unix:PATH", standing in for a device of revision 1. */
static enum vgpu_result device_open_host_link(struct vgpu_device *dev, const char *address,
                                              enum vgpu_wait_mode wait, unsigned timeout_ms)
{
    enum vgpu_result r;

    if (strlen(address) >= sizeof(dev->address)) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "%s: the socket path is too long", address);
    }
    strcpy(dev->address, address);
    dev->revision = VGPU_PCI_REVISION;
    r = vgpu_host_link_open(address, wait, timeout_ms, &dev->window, &dev->link);
    if (r == VGPU_RESULT_OK) {
        dev->wait = vgpu_host_link_wait_mode(dev->link);
    }
    return r;
}

enum vgpu_result vgpu_device_open(const struct vgpu_open_options *opts, vgpu_device **out)
{
    static const struct vgpu_open_options defaults = { .wait = VGPU_WAIT_AUTO };
    const char *address;
    struct vgpu_device *dev;
    enum vgpu_result r;

    if (!out) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "vgpu_device_open: no place for the handle");
    }
    *out = NULL;
    opts = opts ? opts : &defaults;
    if (!vgpu_wait_mode_name(opts->wait)) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "unknown wait mode %d", (int)opts->wait);
    }
    address = opts->address && opts->address[0] ? opts->address : secure_getenv(VGPU_DEVICE_ENV);
    if (address && !address[0]) {
        address = NULL;
    }
    dev = calloc(1, sizeof(*dev));
    if (!dev) {
        return vgpu_result_fail(VGPU_RESULT_IO, "out of memory for a device handle");
    }
    dev->bar.fd = -1;
    vgpu_irq_init(&dev->irq);
    vgpu_window_init(&dev->window);
    dev->timeout_ms = opts->timeout_ms ? opts->timeout_ms : VGPU_DEFAULT_TIMEOUT_MS;
    if (vgpu_host_link_selected(address)) {
        r = device_open_host_link(dev, address, opts->wait, dev->timeout_ms);
    } else {
        r = device_open_pci(dev, address, opts->wait);
    }
    if (r != VGPU_RESULT_OK) {
        goto fail;
    }
    dev->next_request_id = 1;
    pthread_mutex_init(&dev->lock, NULL);
    pthread_mutex_init(&dev->window_mutex, NULL);
    *out = dev;
    return VGPU_RESULT_OK;

fail:
    device_free(dev);
    return r;
}

void vgpu_device_close(vgpu_device *dev)
{
    if (!dev) {
        return;
    }
    pthread_mutex_destroy(&dev->lock);
    pthread_mutex_destroy(&dev->window_mutex);
    device_free(dev);
}

enum vgpu_result vgpu_device_info(vgpu_device *dev, struct vgpu_device_info *info)
{
    if (!dev || !info) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "vgpu_device_info: NULL handle or info");
    }
    memset(info, 0, sizeof(*info));
    info->vendor_id = VGPU_PCI_VENDOR_ID;       /* open checked both ids */
    info->device_id = VGPU_PCI_DEVICE_ID;
    info->revision = dev->revision;
    info->wait = dev->wait;
    if (dev->link) {
        /* No PCI address; the identity the mediator gave; a window, no interrupt. */
        vgpu_host_link_identity(dev->link, &info->pool_id, &info->priority, &info->vm_id);
        info->protocol_version = VGPU_PROTOCOL_VERSION;
        info->capabilities = VGPU_CAP_DATA_WINDOW;
        return VGPU_RESULT_OK;
    }
    memcpy(info->address, dev->address, sizeof(info->address));
    info->pool_id = vgpu_bar_read(&dev->bar, VGPU_REG_POOL_ID);
    info->priority = vgpu_bar_read(&dev->bar, VGPU_REG_PRIORITY);
    info->vm_id = vgpu_bar_read(&dev->bar, VGPU_REG_VM_ID);
    info->protocol_version = vgpu_bar_read(&dev->bar, VGPU_REG_PROTOCOL_VER);
    info->capabilities = vgpu_bar_read(&dev->bar, VGPU_REG_CAPABILITIES);
    memcpy(info->uio, dev->irq.name, sizeof(info->uio));
    return VGPU_RESULT_OK;
}

/*
 * Take the handle's mutex, then the flock on resource0, both by deadline_ns.
 * A host link is its process's own connection: the mutex is all it needs.
 */
static enum vgpu_result device_lock(struct vgpu_device *dev, uint64_t deadline_ns)
{
    struct timespec abs = vgpu_clock_timespec(deadline_ns);
    struct vgpu_backoff backoff;
    enum vgpu_result r;
    int rc;

    rc = pthread_mutex_clocklock(&dev->lock, CLOCK_MONOTONIC, &abs);
    if (rc == ETIMEDOUT) {
        return vgpu_result_fail(VGPU_RESULT_TIMEOUT,
                                "%s: other threads' requests on this handle held it for over %u ms",
                                dev->address, dev->timeout_ms);
    }
    if (rc != 0) {
        errno = rc;
        return vgpu_result_fail(VGPU_RESULT_IO, "cannot lock the handle of %s: %m", dev->address);
    }
    if (dev->link) {
        return VGPU_RESULT_OK;
    }
    vgpu_backoff_init(&backoff);
    while (flock(dev->bar.fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EINTR) {
            continue;
        }
        if (errno != EWOULDBLOCK) {
            r = vgpu_result_fail(VGPU_RESULT_IO, "cannot lock %s: %m", dev->address);
            goto unlock;
        }
        if (vgpu_clock_now_ns() >= deadline_ns) {
            r = vgpu_result_fail(VGPU_RESULT_TIMEOUT,
                                 "%s: another process held the device for over %u ms",
                                 dev->address, dev->timeout_ms);
            goto unlock;
        }
        vgpu_backoff_pause(&backoff, deadline_ns);
    }
    return VGPU_RESULT_OK;

unlock:
    pthread_mutex_unlock(&dev->lock);
    return r;
}

static void device_unlock(struct vgpu_device *dev)
{
    if (!dev->link) {
        flock(dev->bar.fd, LOCK_UN);
    }
    pthread_mutex_unlock(&dev->lock);
}

/*
 * Whether STATUS has left BUSY (*status gets it).  After our doorbell, a
 * DONE or ERROR read before we ever saw BUSY may still be the previous
 * request's, unless DOORBELL reads 0: the real device takes a doorbell
 * within the write (DOORBELL always reads 0 and STATUS is BUSY or final
 * right after it), so this extra read happens only for a request that ends
 * at once (NOT_CONNECTED, BAD_LENGTH...); a device emulated beside the
 * program, like the tests' mock, takes the doorbell a moment later and
 * clears DOORBELL only after setting STATUS.
 */
static bool device_settled(struct vgpu_device *dev, bool rang, bool *seen_busy, uint32_t *status)
{
    *status = vgpu_bar_read(&dev->bar, VGPU_REG_STATUS);
    if (*status != VGPU_STATUS_BUSY && (!rang || *seen_busy)) {
        return true;
    }
    if (*status == VGPU_STATUS_BUSY) {
        *seen_busy = true;
        return false;
    }
    if (vgpu_bar_read(&dev->bar, VGPU_REG_DOORBELL) != 0) {
        return false;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    *status = vgpu_bar_read(&dev->bar, VGPU_REG_STATUS);
    *seen_busy = *status == VGPU_STATUS_BUSY;
    return !*seen_busy;
}

/* Wait until STATUS leaves BUSY or deadline_ns passes (TIMEOUT, no detail). */
static enum vgpu_result device_wait(struct vgpu_device *dev, uint64_t deadline_ns, bool rang,
                                    uint32_t *status)
{
    struct vgpu_backoff backoff;
    bool seen_busy = false;
    enum vgpu_result r;

    vgpu_backoff_init(&backoff);
    while (!device_settled(dev, rang, &seen_busy, status)) {
        if (vgpu_clock_now_ns() >= deadline_ns) {
            return VGPU_RESULT_TIMEOUT;
        }
        if (dev->wait == VGPU_WAIT_IRQ) {
            r = vgpu_irq_wait(&dev->irq, &dev->bar, deadline_ns);
            if (r != VGPU_RESULT_OK) {
                return r;
            }
        } else {
            vgpu_backoff_pause(&backoff, deadline_ns);
        }
    }
    return VGPU_RESULT_OK;
}

/* Report the device's ERROR_CODE (or a response's error status) for a request. */
static enum vgpu_result device_failed(const struct vgpu_device *dev, uint32_t code,
                                      uint32_t request_id)
{
    const char *name = vgpu_error_name(code);

    return vgpu_result_fail(VGPU_RESULT_DEVICE_ERROR, "%s: request %u failed: %s (%u): %s",
                            dev->address, request_id, name ? name : "UNKNOWN", code,
                            vgpu_error_message(code));
}

/* Judge a completed request *c whose response went to a response_cap-byte buffer. */
static enum vgpu_result device_outcome(const struct vgpu_device *dev,
                                       const struct vgpu_completion *c, size_t response_cap)
{
    if (c->status == VGPU_STATUS_ERROR) {
        return device_failed(dev, c->error_code, c->request_id);
    }
    if (c->response_len > response_cap) {
        return vgpu_result_fail(VGPU_RESULT_TRUNCATED,
                                "%s: the %zu-byte response does not fit the %zu-byte buffer",
                                dev->address, c->response_len, response_cap);
    }
    return VGPU_RESULT_OK;
}

/* Read the outcome of the request that ended with status into *c and response. */
static enum vgpu_result device_collect(struct vgpu_device *dev, uint32_t status,
                                       void *response, size_t response_cap,
                                       struct vgpu_completion *c)
{
    uint32_t len;

    if (status != VGPU_STATUS_DONE && status != VGPU_STATUS_ERROR) {
        return vgpu_result_fail(VGPU_RESULT_PROTOCOL,
                                "%s went to STATUS %u instead of completing request %u (reset?)",
                                dev->address, status, c->request_id);
    }
    c->status = status;
    c->error_code = status == VGPU_STATUS_ERROR ? vgpu_bar_read(&dev->bar, VGPU_REG_ERROR_CODE)
                                                : VGPU_OK;
    c->timestamp_ns = (uint64_t)vgpu_bar_read(&dev->bar, VGPU_REG_TIMESTAMP_HI) << 32 |
                      vgpu_bar_read(&dev->bar, VGPU_REG_TIMESTAMP_LO);
    len = vgpu_bar_read(&dev->bar, VGPU_REG_RESPONSE_LEN);
    if (len > VGPU_RESPONSE_MAX) {
        return vgpu_result_fail(VGPU_RESULT_PROTOCOL,
                                "%s reports a %u-byte response, over its %u-byte buffer",
                                dev->address, len, VGPU_RESPONSE_MAX);
    }
    c->response_len = len;
    vgpu_bar_read_bytes(&dev->bar, VGPU_REG_RESPONSE_BUFFER, response,
                        len < response_cap ? len : response_cap);
    return device_outcome(dev, c, response_cap);
}

static uint32_t device_take_request_id(struct vgpu_device *dev)
{
    uint32_t id = dev->next_request_id;

    dev->next_request_id = id == UINT32_MAX ? 1 : id + 1;
    return id;
}

/* One request, under the locks. */
static enum vgpu_result device_transact(struct vgpu_device *dev, uint64_t deadline_ns,
                                        const void *request, size_t request_len,
                                        void *response, size_t response_cap,
                                        struct vgpu_completion *c)
{
    enum vgpu_result r;
    uint32_t status;

    if (dev->link) {
        c->request_id = device_take_request_id(dev);
        r = vgpu_host_link_transact(dev->link, deadline_ns, request, request_len, response,
                                    response_cap, c);
        return r == VGPU_RESULT_OK ? device_outcome(dev, c, response_cap) : r;
    }
    if (dev->wait == VGPU_WAIT_IRQ) {
        r = vgpu_irq_arm(&dev->irq, &dev->bar);
        if (r != VGPU_RESULT_OK) {
            return r;
        }
    }
    r = device_wait(dev, deadline_ns, false, &status);
    if (r == VGPU_RESULT_TIMEOUT) {
        return vgpu_result_fail(VGPU_RESULT_TIMEOUT,
                                "%s is still busy with an earlier request after %u ms; not ringing",
                                dev->address, dev->timeout_ms);
    }
    if (r != VGPU_RESULT_OK) {
        return r;
    }
    c->request_id = device_take_request_id(dev);
    vgpu_bar_write_bytes(&dev->bar, VGPU_REG_REQUEST_BUFFER, request, request_len);
    vgpu_bar_write(&dev->bar, VGPU_REG_REQUEST_LEN, (uint32_t)request_len);
    vgpu_bar_write(&dev->bar, VGPU_REG_REQUEST_ID, c->request_id);
    /* Everything above must reach the device before the doorbell does. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    vgpu_bar_write(&dev->bar, VGPU_REG_DOORBELL, VGPU_DOORBELL_SUBMIT);

    r = device_wait(dev, deadline_ns, true, &status);
    if (r == VGPU_RESULT_TIMEOUT) {
        return vgpu_result_fail(VGPU_RESULT_TIMEOUT,
                                "no completion from %s within %u ms; request %u stays in flight "
                                "on the device", dev->address, dev->timeout_ms, c->request_id);
    }
    if (r != VGPU_RESULT_OK) {
        return r;
    }
    /* The outcome registers are read only after STATUS said they are final. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return device_collect(dev, status, response, response_cap, c);
}

enum vgpu_result vgpu_device_submit(vgpu_device *dev, const void *request, size_t request_len,
                                    void *response, size_t response_cap,
                                    struct vgpu_completion *completion)
{
    struct vgpu_completion c = { 0 };
    uint64_t deadline_ns;
    enum vgpu_result r;

    if (completion) {
        *completion = c;
    }
    if (!dev || !request || (!response && response_cap)) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "vgpu_device_submit: NULL handle or buffer");
    }
    if (request_len == 0 || request_len > VGPU_REQUEST_MAX) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "a request of %zu bytes; the device takes 1..%u",
                                request_len, VGPU_REQUEST_MAX);
    }
    deadline_ns = vgpu_clock_now_ns() + (uint64_t)dev->timeout_ms * VGPU_NS_PER_MS;
    r = device_lock(dev, deadline_ns);
    if (r != VGPU_RESULT_OK) {
        return r;
    }
    r = device_transact(dev, deadline_ns, request, request_len, response, response_cap, &c);
    device_unlock(dev);
    if (completion) {
        *completion = c;
    }
    return r;
}

/* Check a DONE VECTOR_ADD response and take its sum. */
static enum vgpu_result device_vector_add_result(const struct vgpu_device *dev,
                                                 const unsigned char *response,
                                                 struct vgpu_completion *c,
                                                 uint32_t *sum, uint32_t *exec_time_us)
{
    struct vgpu_response_view view;

    if (vgpu_response_decode(response, c->response_len, &view) != VGPU_OK) {
        return vgpu_result_fail(VGPU_RESULT_PROTOCOL,
                                "%s: malformed %zu-byte response to VECTOR_ADD request %u",
                                dev->address, c->response_len, c->request_id);
    }
    if (view.status != VGPU_OK) {
        c->error_code = view.status;
        return device_failed(dev, view.status, c->request_id);
    }
    if (view.result_count != VGPU_VECTOR_ADD_RESULTS) {
        return vgpu_result_fail(VGPU_RESULT_PROTOCOL,
                                "%s: VECTOR_ADD request %u answered with %u results, not %u",
                                dev->address, c->request_id, view.result_count,
                                VGPU_VECTOR_ADD_RESULTS);
    }
    *sum = vgpu_response_result(&view, 0);
    if (exec_time_us) {
        *exec_time_us = view.exec_time_us;
    }
    return VGPU_RESULT_OK;
}

enum vgpu_result vgpu_device_vector_add(vgpu_device *dev, uint32_t a, uint32_t b, uint32_t *sum,
                                        uint32_t *exec_time_us,
                                        struct vgpu_completion *completion)
{
    unsigned char request[VGPU_VECTOR_ADD_REQUEST_SIZE], response[VGPU_RESPONSE_MAX];
    struct vgpu_completion c;
    enum vgpu_result r;
    size_t len;

    if (!sum) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "vgpu_device_vector_add: NULL sum");
    }
    len = vgpu_request_encode_vector_add(request, sizeof(request), a, b);
    r = vgpu_device_submit(dev, request, len, response, sizeof(response), &c);
    if (r == VGPU_RESULT_OK) {
        r = device_vector_add_result(dev, response, &c, sum, exec_time_us);
    }
    if (completion) {
        *completion = c;
    }
    return r;
}

/* The window, mapped on first use; *window points at it. */
static enum vgpu_result device_window(struct vgpu_device *dev, struct vgpu_window **window)
{
    enum vgpu_result r = VGPU_RESULT_OK;

    pthread_mutex_lock(&dev->window_mutex);
    if (!dev->window.base) {
        r = vgpu_window_map(&dev->window, dev->root, dev->address, &dev->bar);
    }
    pthread_mutex_unlock(&dev->window_mutex);
    *window = &dev->window;
    return r;
}

enum vgpu_result vgpu_device_window(vgpu_device *dev, void **base, uint64_t *size)
{
    struct vgpu_window *window;
    enum vgpu_result r;

    if (!dev) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "vgpu_device_window: NULL handle");
    }
    r = device_window(dev, &window);
    if (r != VGPU_RESULT_OK) {
        return r;
    }
    if (base) {
        *base = window->base;
    }
    if (size) {
        *size = window->size;
    }
    return VGPU_RESULT_OK;
}

enum vgpu_result vgpu_device_window_lock(vgpu_device *dev)
{
    struct vgpu_window *window;
    struct vgpu_backoff backoff;
    uint64_t deadline_ns;
    enum vgpu_result r;

    if (!dev) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "vgpu_device_window_lock: NULL handle");
    }
    deadline_ns = vgpu_clock_now_ns() + (uint64_t)dev->timeout_ms * VGPU_NS_PER_MS;
    r = device_window(dev, &window);
    if (r != VGPU_RESULT_OK) {
        return r;
    }
    vgpu_backoff_init(&backoff);
    while (flock(window->fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EINTR) {
            continue;
        }
        if (errno != EWOULDBLOCK) {
            return vgpu_result_fail(VGPU_RESULT_IO, "cannot lock the window of %s: %m",
                                    dev->address);
        }
        if (vgpu_clock_now_ns() >= deadline_ns) {
            return vgpu_result_fail(VGPU_RESULT_TIMEOUT,
                                    "%s: another program held the data window for over %u ms",
                                    dev->address, dev->timeout_ms);
        }
        vgpu_backoff_pause(&backoff, deadline_ns);
    }
    return VGPU_RESULT_OK;
}

void vgpu_device_window_unlock(vgpu_device *dev)
{
    if (dev && dev->window.fd >= 0) {
        flock(dev->window.fd, LOCK_UN);
    }
}

/* The operands of an opcode by name, in the order of vgpu_window_op_ranges(). */
static void op_operand_names(uint32_t opcode, const char *in[2], const char **out)
{
    switch (opcode) {
    case VGPU_OP_SAXPY:
        in[0] = "x";
        in[1] = "y";
        *out = "y";
        return;
    case VGPU_OP_SUM_F32:
        in[0] = "x";
        in[1] = "";
        *out = "";
        return;
    case VGPU_OP_SGEMM:
        in[0] = "A";
        in[1] = "B";
        *out = "C";
        return;
    default:
        in[0] = "a";
        in[1] = "b";
        *out = "out";
        return;
    }
}

static bool op_range_inside(const struct vgpu_window_range *r, uint64_t size)
{
    return r->offset % VGPU_ELEMENT_SIZE == 0 && r->offset <= size &&
           r->length <= size - r->offset;
}

/*
 * Why the contract's check refused op (error), naming the operand at fault,
 * as the detail of an INVALID result.
 */
static enum vgpu_result op_refused(const struct vgpu_device *dev,
                                   const struct vgpu_window_op *op, const char *op_name,
                                   uint64_t size, uint32_t error)
{
    struct vgpu_window_range in[2], out, all[3];
    const char *in_names[2], *out_name, *names[3];
    unsigned in_count, n = 0;
    char why[160] = "";

    if (error == VGPU_ERR_BAD_RANGE || error == VGPU_ERR_OVERLAP) {
        vgpu_window_op_ranges(op, in, &in_count, &out);
        op_operand_names(op->opcode, in_names, &out_name);
        for (unsigned i = 0; i < in_count; i++) {
            all[n] = in[i];
            names[n++] = in_names[i];
        }
        if (out.length) {
            all[n] = out;
            names[n++] = out_name;
        }
        for (unsigned i = 0; i < n && error == VGPU_ERR_BAD_RANGE; i++) {
            if (!op_range_inside(&all[i], size)) {
                snprintf(why, sizeof(why), ": %s is %llu bytes at offset %llu (0x%llx)", names[i],
                         (unsigned long long)all[i].length, (unsigned long long)all[i].offset,
                         (unsigned long long)all[i].offset);
                break;
            }
        }
        for (unsigned i = 0; i < in_count && error == VGPU_ERR_OVERLAP; i++) {
            bool in_place = op->opcode != VGPU_OP_SGEMM && in[i].offset == out.offset;

            if (!in_place && in[i].offset < out.offset + out.length &&
                out.offset < in[i].offset + in[i].length) {
                snprintf(why, sizeof(why), ": %s [%llu, +%llu) overlaps %s [%llu, +%llu)",
                         out_name, (unsigned long long)out.offset,
                         (unsigned long long)out.length, in_names[i],
                         (unsigned long long)in[i].offset, (unsigned long long)in[i].length);
                break;
            }
        }
    } else if (op->opcode == VGPU_OP_SGEMM) {
        snprintf(why, sizeof(why), ": m %u, n %u, k %u, lda %u, ldb %u, ldc %u",
                 op->m, op->n, op->k, op->lda, op->ldb, op->ldc);
    } else {
        snprintf(why, sizeof(why), ": count %llu", (unsigned long long)op->count);
    }
    return vgpu_result_fail(VGPU_RESULT_INVALID, "%s: %s refused before sending: %s (%u): %s, "
                            "in a window of %llu bytes%s", dev->address, op_name,
                            vgpu_error_name(error), error, vgpu_error_message(error),
                            (unsigned long long)size, why);
}

/* Check a DONE response to an array operation and take its results. */
static enum vgpu_result op_result(const struct vgpu_device *dev, const char *op_name,
                                  const struct vgpu_opcode_info *info,
                                  const unsigned char *response, struct vgpu_completion *c,
                                  double *sum, uint32_t *exec_time_us)
{
    struct vgpu_response_view view;
    double value = 0;

    if (vgpu_response_decode(response, c->response_len, &view) != VGPU_OK) {
        return vgpu_result_fail(VGPU_RESULT_PROTOCOL,
                                "%s: malformed %zu-byte response to %s request %u",
                                dev->address, c->response_len, op_name, c->request_id);
    }
    if (view.status != VGPU_OK) {
        c->error_code = view.status;
        return device_failed(dev, view.status, c->request_id);
    }
    if (view.result_count != info->result_count ||
        (info->opcode == VGPU_OP_SUM_F32 && !vgpu_sum_result_load(&view, &value))) {
        return vgpu_result_fail(VGPU_RESULT_PROTOCOL,
                                "%s: %s request %u answered with %u results, not %u",
                                dev->address, op_name, c->request_id, view.result_count,
                                info->result_count);
    }
    if (sum && info->opcode == VGPU_OP_SUM_F32) {
        *sum = value;
    }
    if (exec_time_us) {
        *exec_time_us = view.exec_time_us;
    }
    return VGPU_RESULT_OK;
}

enum vgpu_result vgpu_device_run_op(vgpu_device *dev, const struct vgpu_window_op *op,
                                    double *sum, uint32_t *exec_time_us,
                                    struct vgpu_completion *completion)
{
    unsigned char request[VGPU_REQUEST_MAX], response[VGPU_RESPONSE_MAX];
    const struct vgpu_opcode_info *info;
    struct vgpu_request_view view;
    struct vgpu_completion c = { 0 };
    struct vgpu_window_op checked;
    struct vgpu_window *window;
    enum vgpu_result r;
    uint32_t error;
    size_t len;

    if (completion) {
        *completion = c;
    }
    if (!dev || !op) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "vgpu_device_run_op: NULL handle or op");
    }
    info = vgpu_opcode_lookup(op->opcode);
    if (!info || !vgpu_opcode_uses_window(op->opcode)) {
        return vgpu_result_fail(VGPU_RESULT_INVALID,
                                "opcode 0x%04x is not an operation on the data window",
                                op->opcode);
    }
    r = device_window(dev, &window);
    if (r != VGPU_RESULT_OK) {
        return r;
    }
    /* The one encoder, then the mediator's own check of what it encoded. */
    len = vgpu_window_op_encode(request, sizeof(request), op);
    if (len == 0 || vgpu_request_decode(request, len, &view) != VGPU_OK) {
        return vgpu_result_fail(VGPU_RESULT_INVALID, "cannot encode a %s request", info->name);
    }
    error = vgpu_window_op_decode(&view, window->size, &checked);
    if (error != VGPU_OK) {
        return op_refused(dev, op, info->name, window->size, error);
    }
    r = vgpu_device_submit(dev, request, len, response, sizeof(response), &c);
    if (r == VGPU_RESULT_OK) {
        r = op_result(dev, info->name, info, response, &c, sum, exec_time_us);
    }
    if (completion) {
        *completion = c;
    }
    return r;
}
