/*
 * The fake sysfs tree and mock vgpu-stub of the guest tools' tests: see
 * fake-vgpu.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <ftw.h>
#include <glib/gstdio.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fake-vgpu.h"
#include "vgpu/codec.h"
#include "vgpu/cuda-batch.h"
#include "vgpu/ops.h"

#define FAKE_POLL_NS        20000       /* the mock looks at the BAR every 20 us */
#define FAKE_CONFIG_SIZE    256
#define FAKE_REVISION       VGPU_PCI_REVISION

struct FakeRoot {
    char *path;                 /* the directory standing for "/" */
    GPtrArray *devices;         /* FakeDevice, owned */
};

struct FakeDevice {
    FakeRoot *root;
    char *address;
    char *dir;                  /* its sysfs directory (the symlink target) */
    volatile guint32 *regs;     /* shared mapping of resource0 */
    int config_fd;              /* the config file */
    int uio_fd;                 /* the fake /dev/uioN FIFO, write end; -1 without */
    GThread *thread;
    gint stopping;

    GMutex lock;                /* guards everything below */
    FakeMode mode;
    guint32 error_code;
    guint delay_us;
    gboolean in_flight;
    gboolean released;          /* fake_device_release() asked to complete */
    gint64 due_us;              /* when the request in flight completes */
    guint8 request[VGPU_REQUEST_MAX];   /* snapshot of the request in flight */
    guint request_len;
    FakeStats stats;
    guint8 *window;             /* shared mapping of resource2; NULL without a window */
    guint64 window_size;
    FakeCorrupt corrupt;
    guint64 corrupt_index;
    FakeCudaHostFunc cuda_run;          /* NULL: a pool without a GPU */
    gpointer cuda_host;
};

static void fake_write_file(const char *path, const void *data, gsize len)
{
    GError *error = NULL;

    g_file_set_contents(path, data, (gssize)len, &error);
    g_assert_no_error(error);
}

FakeRoot *fake_root_new(void)
{
    FakeRoot *root = g_new0(FakeRoot, 1);
    GError *error = NULL;
    const char *dirs[] = { "sys/bus/pci/devices", "sys/bus/pci/drivers", "sys/devices/pci0000:00", "dev" };

    root->path = g_dir_make_tmp("vgpu-fake-XXXXXX", &error);
    g_assert_no_error(error);
    /* Readable by the unprivileged users of the permission tests. */
    g_assert_cmpint(chmod(root->path, 0755), ==, 0);
    for (gsize i = 0; i < G_N_ELEMENTS(dirs); i++) {
        char *dir = g_build_filename(root->path, dirs[i], NULL);

        g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
        g_free(dir);
    }
    root->devices = g_ptr_array_new();
    return root;
}

const char *fake_root_path(const FakeRoot *root)
{
    return root->path;
}

/* VGPU_TEST_ROOT names a symlink that fake_root_use() points at a tree. */
static char *fake_current_link;

static void fake_remove_current_link(void)
{
    char *base = g_path_get_dirname(fake_current_link);

    unlink(fake_current_link);
    rmdir(base);
    g_free(base);
}

void fake_root_use(const FakeRoot *root)
{
    char *tmp;

    /* The environment is set once, before tests start threads (setenv is not thread-safe). */
    if (!fake_current_link) {
        GError *error = NULL;
        char *base = g_dir_make_tmp("vgpu-fake-current-XXXXXX", &error);

        g_assert_no_error(error);
        g_assert_cmpint(chmod(base, 0755), ==, 0);
        fake_current_link = g_build_filename(base, "root", NULL);
        g_free(base);
        g_setenv("VGPU_TEST_ROOT", fake_current_link, TRUE);
        atexit(fake_remove_current_link);
    }
    if (g_getenv("VGPU_DEVICE")) {
        g_unsetenv("VGPU_DEVICE");
    }
    tmp = g_strconcat(fake_current_link, ".new", NULL);
    unlink(tmp);
    g_assert_cmpint(symlink(root->path, tmp), ==, 0);
    g_assert_cmpint(rename(tmp, fake_current_link), ==, 0);
    g_free(tmp);
}

static int fake_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static void fake_device_free(FakeDevice *dev)
{
    if (dev->thread) {
        g_atomic_int_set(&dev->stopping, 1);
        g_thread_join(dev->thread);
    }
    munmap((void *)dev->regs, VGPU_BAR0_SIZE);
    if (dev->window) {
        munmap(dev->window, dev->window_size);
    }
    close(dev->config_fd);
    if (dev->uio_fd >= 0) {
        close(dev->uio_fd);
    }
    g_mutex_clear(&dev->lock);
    g_free(dev->address);
    g_free(dev->dir);
    g_free(dev);
}

void fake_root_free(FakeRoot *root)
{
    for (guint i = 0; i < root->devices->len; i++) {
        fake_device_free(g_ptr_array_index(root->devices, i));
    }
    g_ptr_array_free(root->devices, TRUE);
    g_assert_cmpint(nftw(root->path, fake_remove_entry, 16, FTW_DEPTH | FTW_PHYS), ==, 0);
    g_free(root->path);
    g_free(root);
}

static void fake_write_id(const FakeDevice *dev, const char *file, const char *format, guint value)
{
    char *path = fake_device_file(dev, file);
    char *text = g_strdup_printf(format, value);

    fake_write_file(path, text, strlen(text));
    g_free(text);
    g_free(path);
}

static void fake_reg_write(FakeDevice *dev, guint32 offset, guint32 value)
{
    dev->regs[offset / 4] = GUINT32_TO_LE(value);
}

static guint32 fake_reg_read(FakeDevice *dev, guint32 offset)
{
    return GUINT32_FROM_LE(dev->regs[offset / 4]);
}

FakeDevice *fake_device_add(FakeRoot *root, const char *address, guint16 vendor, guint16 device)
{
    FakeDevice *dev = g_new0(FakeDevice, 1);
    guint8 config[FAKE_CONFIG_SIZE] = { 0 };
    char *link, *target, *path;
    int fd;

    dev->root = root;
    dev->address = g_strdup(address);
    dev->uio_fd = -1;
    g_mutex_init(&dev->lock);
    /* Like sysfs: bus/pci/devices/ADDR links to the device's directory. */
    dev->dir = g_build_filename(root->path, "sys/devices/pci0000:00", address, NULL);
    g_assert_cmpint(g_mkdir_with_parents(dev->dir, 0755), ==, 0);
    link = g_build_filename(root->path, "sys/bus/pci/devices", address, NULL);
    target = g_build_filename("../../../devices/pci0000:00", address, NULL);
    g_assert_cmpint(symlink(target, link), ==, 0);
    g_free(link);
    g_free(target);

    fake_write_id(dev, "vendor", "0x%04x\n", vendor);
    fake_write_id(dev, "device", "0x%04x\n", device);
    fake_write_id(dev, "revision", "0x%02x\n", FAKE_REVISION);

    config[PCI_VENDOR_ID] = vendor & 0xff;
    config[PCI_VENDOR_ID + 1] = vendor >> 8;
    config[PCI_DEVICE_ID] = device & 0xff;
    config[PCI_DEVICE_ID + 1] = device >> 8;
    config[PCI_COMMAND] = PCI_COMMAND_MEMORY;
    path = fake_device_file(dev, "config");
    fake_write_file(path, config, sizeof(config));
    dev->config_fd = open(path, O_RDWR | O_CLOEXEC);
    g_assert_cmpint(dev->config_fd, >=, 0);
    g_free(path);

    path = fake_device_file(dev, "resource0");
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, VGPU_BAR0_SIZE), ==, 0);
    dev->regs = mmap(NULL, VGPU_BAR0_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    g_assert(dev->regs != MAP_FAILED);
    close(fd);
    g_free(path);
    if (vendor == VGPU_PCI_VENDOR_ID && device == VGPU_PCI_DEVICE_ID) {
        fake_reg_write(dev, VGPU_REG_PROTOCOL_VER, VGPU_PROTOCOL_VERSION);
        fake_reg_write(dev, VGPU_REG_CAPABILITIES, VGPU_CAP_COMPLETION_IRQ);
    }
    g_ptr_array_add(root->devices, dev);
    return dev;
}

char *fake_device_file(const FakeDevice *dev, const char *file)
{
    return g_build_filename(dev->dir, file, NULL);
}

void fake_device_set_identity(FakeDevice *dev, guint32 pool_id, guint32 priority, guint32 vm_id)
{
    fake_reg_write(dev, VGPU_REG_POOL_ID, pool_id);
    fake_reg_write(dev, VGPU_REG_PRIORITY, priority);
    fake_reg_write(dev, VGPU_REG_VM_ID, vm_id);
}

void fake_device_set_capabilities(FakeDevice *dev, guint32 capabilities)
{
    fake_reg_write(dev, VGPU_REG_CAPABILITIES, capabilities);
}

void fake_device_add_window(FakeDevice *dev, guint64 size)
{
    char *path = fake_device_file(dev, "resource2");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    g_assert_null(dev->thread);
    g_assert_null(dev->window);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, (off_t)size), ==, 0);
    dev->window = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    g_assert(dev->window != MAP_FAILED);
    dev->window_size = size;
    close(fd);
    g_free(path);
    fake_reg_write(dev, VGPU_REG_CAPABILITIES,
                   fake_reg_read(dev, VGPU_REG_CAPABILITIES) | VGPU_CAP_DATA_WINDOW);
    fake_device_set_window_size_reg(dev, size);
}

void *fake_device_window(FakeDevice *dev)
{
    return dev->window;
}

void fake_device_set_window_size_reg(FakeDevice *dev, guint64 size)
{
    fake_reg_write(dev, VGPU_REG_WINDOW_SIZE_LO, (guint32)size);
    fake_reg_write(dev, VGPU_REG_WINDOW_SIZE_HI, (guint32)(size >> 32));
}

void fake_device_set_cuda_host(FakeDevice *dev, FakeCudaHostFunc run, gpointer host)
{
    g_assert_null(dev->thread);
    dev->cuda_run = run;
    dev->cuda_host = host;
}

void fake_device_set_corruption(FakeDevice *dev, FakeCorrupt corrupt, guint64 index)
{
    g_mutex_lock(&dev->lock);
    dev->corrupt = corrupt;
    dev->corrupt_index = index;
    g_mutex_unlock(&dev->lock);
}

void fake_device_bind(FakeDevice *dev, const char *driver)
{
    char *driver_dir = g_build_filename(dev->root->path, "sys/bus/pci/drivers", driver, NULL);
    char *link = fake_device_file(dev, "driver");
    char *target = g_build_filename("../../../bus/pci/drivers", driver, NULL);

    g_assert_cmpint(g_mkdir_with_parents(driver_dir, 0755), ==, 0);
    g_assert_cmpint(symlink(target, link), ==, 0);
    g_free(driver_dir);
    g_free(link);
    g_free(target);
}

void fake_device_add_uio(FakeDevice *dev, const char *name, gboolean with_node)
{
    char *uio_dir = fake_device_file(dev, "uio");
    char *entry = g_build_filename(uio_dir, name, NULL);
    char *node;

    g_assert_cmpint(g_mkdir_with_parents(entry, 0755), ==, 0);
    g_free(entry);
    g_free(uio_dir);
    if (!with_node) {
        return;
    }
    node = g_build_filename(dev->root->path, "dev", name, NULL);
    g_assert_cmpint(mkfifo(node, 0660), ==, 0);
    /* O_RDWR: the FIFO always has a writer, so it never reports a hang-up. */
    dev->uio_fd = open(node, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    g_assert_cmpint(dev->uio_fd, >=, 0);
    g_free(node);
}

guint16 fake_device_command(FakeDevice *dev)
{
    guint16 command;

    g_assert_cmpint(pread(dev->config_fd, &command, sizeof(command), PCI_COMMAND), ==, sizeof(command));
    return GUINT16_FROM_LE(command);
}

static void fake_set_command(FakeDevice *dev, guint16 command)
{
    command = GUINT16_TO_LE(command);
    g_assert_cmpint(pwrite(dev->config_fd, &command, sizeof(command), PCI_COMMAND), ==, sizeof(command));
}

guint32 fake_device_reg(FakeDevice *dev, guint32 offset)
{
    return fake_reg_read(dev, offset);
}

static float fake_f32(const guint8 *window, guint64 offset, guint64 i)
{
    guint32 w;
    float f;

    memcpy(&w, window + offset + 4 * i, 4);
    w = GUINT32_FROM_LE(w);
    memcpy(&f, &w, 4);
    return f;
}

static void fake_put_f32(guint8 *window, guint64 offset, guint64 i, float f)
{
    guint32 w;

    memcpy(&w, &f, 4);
    w = GUINT32_TO_LE(w);
    memcpy(window + offset + 4 * i, &w, 4);
}

static guint32 fake_u32(const guint8 *window, guint64 offset, guint64 i)
{
    guint32 w;

    memcpy(&w, window + offset + 4 * i, 4);
    return GUINT32_FROM_LE(w);
}

static void fake_put_u32(guint8 *window, guint64 offset, guint64 i, guint32 v)
{
    v = GUINT32_TO_LE(v);
    memcpy(window + offset + 4 * i, &v, 4);
}

/* Spoil output element i of op (dev->corrupt says how). */
static void fake_corrupt_element(FakeDevice *dev, const struct vgpu_window_op *op, guint64 i)
{
    guint32 w = fake_u32(dev->window, op->out, i);

    if (dev->corrupt == FAKE_CORRUPT_ULP) {
        fake_put_u32(dev->window, op->out, i, w ^ 1);
    } else if (op->opcode == VGPU_OP_ADD_U32) {
        fake_put_u32(dev->window, op->out, i, w + 1);
    } else {
        fake_put_f32(dev->window, op->out, i, fake_f32(dev->window, op->out, i) + 1.0f);
    }
}

/*
 * Play the mediator and a backend for an array operation: check it against
 * the window, compute it there.  Returns the error code; a SUM's results go
 * to results (*result_count of them).
 */
static guint32 fake_window_op(FakeDevice *dev, const struct vgpu_request_view *view,
                              guint32 *results, guint32 *result_count)
{
    struct vgpu_window_op op;
    guint8 *w = dev->window;
    guint32 error;

    *result_count = 0;
    if (!w) {
        return VGPU_ERR_NO_WINDOW;
    }
    error = vgpu_window_op_decode(view, dev->window_size, &op);
    if (error != VGPU_OK) {
        return error;
    }
    dev->stats.window_ops++;
    switch (op.opcode) {
    case VGPU_OP_CUDA:
        G_STATIC_ASSERT(VGPU_CUDA_RESULTS <= VGPU_SUM_RESULTS);     /* fake_answer's results */
        if (dev->cuda_run) {
            dev->cuda_run(dev->cuda_host, w, dev->window_size, op.a, op.count, results);
            *result_count = VGPU_CUDA_RESULTS;
        } else {
            *result_count = vgpu_cuda_batch_answer_all(w + op.a, op.count,
                                                       VGPU_CUDA_ERROR_NO_DEVICE, results);
        }
        return VGPU_OK;
    case VGPU_OP_ADD_U32:
        for (guint64 i = 0; i < op.count; i++) {
            fake_put_u32(w, op.out, i, fake_u32(w, op.a, i) + fake_u32(w, op.b, i));
        }
        break;
    case VGPU_OP_ADD_F32:
        for (guint64 i = 0; i < op.count; i++) {
            fake_put_f32(w, op.out, i, fake_f32(w, op.a, i) + fake_f32(w, op.b, i));
        }
        break;
    case VGPU_OP_SAXPY:
        for (guint64 i = 0; i < op.count; i++) {
            fake_put_f32(w, op.out, i, fmaf(op.alpha, fake_f32(w, op.a, i), fake_f32(w, op.out, i)));
        }
        break;
    case VGPU_OP_SUM_F32: {
        double sum = 0;

        for (guint64 i = 0; i < op.count; i++) {
            sum += fake_f32(w, op.a, i);
        }
        if (dev->corrupt == FAKE_CORRUPT_ULP) {
            guint64 bits;

            memcpy(&bits, &sum, 8);
            bits ^= 1;
            memcpy(&sum, &bits, 8);
        } else if (dev->corrupt == FAKE_CORRUPT_LARGE) {
            sum += 1.0;
        }
        vgpu_sum_result_store(sum, results);
        *result_count = dev->corrupt == FAKE_CORRUPT_NO_RESULTS ? 0 : VGPU_SUM_RESULTS;
        return VGPU_OK;
    }
    case VGPU_OP_SGEMM:
        for (guint64 i = 0; i < op.m; i++) {
            for (guint64 j = 0; j < op.n; j++) {
                double dot = 0;

                for (guint64 p = 0; p < op.k; p++) {
                    dot += (double)fake_f32(w, op.a, i * op.lda + p) *
                           fake_f32(w, op.b, p * op.ldb + j);
                }
                fake_put_f32(w, op.out, i * op.ldc + j,
                             (float)(op.alpha * dot + op.beta * (double)fake_f32(w, op.out, i * op.ldc + j)));
            }
        }
        break;
    }
    if (dev->corrupt == FAKE_CORRUPT_ULP || dev->corrupt == FAKE_CORRUPT_LARGE) {
        fake_corrupt_element(dev, &op, dev->corrupt_index);
    }
    return VGPU_OK;
}

/* The response to the request in dev->request: DONE or ERROR, its code, its bytes. */
static guint32 fake_answer(FakeDevice *dev, guint8 *response, gsize *response_len, guint32 *error)
{
    struct vgpu_request_view view;
    guint32 results[VGPU_SUM_RESULTS], count;

    *error = dev->error_code;
    if (dev->mode == FAKE_CARELESS) {
        *error = VGPU_OK;
        *response_len = vgpu_response_encode(response, VGPU_RESPONSE_MAX, VGPU_OK, NULL, 0, NULL,
                                             0, FAKE_EXEC_TIME_US);
        return VGPU_STATUS_DONE;
    }
    if (dev->mode != FAKE_FAIL) {
        *error = vgpu_request_decode(dev->request, dev->request_len, &view);
        if (*error == VGPU_OK && vgpu_opcode_uses_window(view.opcode)) {
            *error = fake_window_op(dev, &view, results, &count);
        } else if (*error == VGPU_OK) {
            results[0] = vgpu_request_param(&view, 0) + vgpu_request_param(&view, 1);
            count = 1;
        }
        if (*error == VGPU_OK) {
            *response_len = vgpu_response_encode(response, VGPU_RESPONSE_MAX, VGPU_OK, results,
                                                 count, NULL, 0, FAKE_EXEC_TIME_US);
            return VGPU_STATUS_DONE;
        }
    }
    *response_len = vgpu_response_encode(response, VGPU_RESPONSE_MAX, *error, NULL, 0, NULL, 0,
                                         FAKE_EXEC_TIME_US);
    return VGPU_STATUS_ERROR;
}

/* Complete the request in flight: outcome registers first, STATUS last. */
static void fake_complete(FakeDevice *dev)
{
    guint8 response[VGPU_RESPONSE_MAX], current[VGPU_REQUEST_MAX];
    guint64 timestamp = (guint64)g_get_monotonic_time() * 1000 + 1;
    gsize response_len;
    guint32 error, status;

    /* A well-behaved guest leaves the request alone while it is in flight. */
    for (guint i = 0; i < VGPU_REQUEST_MAX / 4; i++) {
        guint32 word = dev->regs[(VGPU_REG_REQUEST_BUFFER + 4 * i) / 4];

        memcpy(current + 4 * i, &word, 4);
    }
    if (fake_reg_read(dev, VGPU_REG_REQUEST_LEN) != dev->request_len ||
        memcmp(current, dev->request, dev->request_len) != 0) {
        dev->stats.clobbered++;
    }
    status = fake_answer(dev, response, &response_len, &error);
    for (gsize i = 0; i < response_len; i += 4) {
        guint32 word = 0;

        memcpy(&word, response + i, MIN(4, response_len - i));
        dev->regs[(VGPU_REG_RESPONSE_BUFFER + i) / 4] = word;
    }
    fake_reg_write(dev, VGPU_REG_RESPONSE_LEN, (guint32)response_len);
    fake_reg_write(dev, VGPU_REG_ERROR_CODE, status == VGPU_STATUS_ERROR ? error : VGPU_OK);
    fake_reg_write(dev, VGPU_REG_TIMESTAMP_LO, (guint32)timestamp);
    fake_reg_write(dev, VGPU_REG_TIMESTAMP_HI, (guint32)(timestamp >> 32));
    __atomic_thread_fence(__ATOMIC_RELEASE);
    fake_reg_write(dev, VGPU_REG_STATUS, status);
    if (fake_reg_read(dev, VGPU_REG_INTERRUPT_CTRL) & VGPU_IRQ_COMPLETION) {
        dev->stats.irq_pending = TRUE;
    }
    dev->in_flight = FALSE;
    dev->released = FALSE;
    dev->stats.completions++;
    dev->stats.last_timestamp_ns = timestamp;
}

static void fake_doorbell(FakeDevice *dev)
{
    dev->stats.doorbells++;
    if (dev->in_flight) {
        /* The device refuses it at once; the request in flight goes on. */
        dev->stats.overlaps++;
        fake_reg_write(dev, VGPU_REG_ERROR_CODE, VGPU_ERR_BUSY);
        fake_reg_write(dev, VGPU_REG_STATUS, VGPU_STATUS_ERROR);
        return;
    }
    dev->request_len = MIN(fake_reg_read(dev, VGPU_REG_REQUEST_LEN), VGPU_REQUEST_MAX);
    for (guint i = 0; i < VGPU_REQUEST_MAX / 4; i++) {
        guint32 word = dev->regs[(VGPU_REG_REQUEST_BUFFER + 4 * i) / 4];

        memcpy(dev->request + 4 * i, &word, 4);
    }
    dev->stats.last_len = dev->request_len;
    dev->stats.last_id = fake_reg_read(dev, VGPU_REG_REQUEST_ID);
    memcpy(dev->stats.last_request, dev->request, sizeof(dev->request));
    dev->in_flight = TRUE;
    dev->due_us = g_get_monotonic_time() + dev->delay_us;
    if (dev->mode != FAKE_SILENT && dev->delay_us == 0) {
        fake_complete(dev);
    } else {
        fake_reg_write(dev, VGPU_REG_STATUS, VGPU_STATUS_BUSY);
    }
}

/* INTERRUPT_STATUS is write-1-to-clear: the word is a mailbox for the guest's clears. */
static void fake_take_clears(FakeDevice *dev)
{
    guint32 clears = __atomic_exchange_n(&dev->regs[VGPU_REG_INTERRUPT_STATUS / 4], 0,
                                         __ATOMIC_SEQ_CST);

    if (GUINT32_FROM_LE(clears) & VGPU_IRQ_COMPLETION) {
        dev->stats.irq_clears++;
        dev->stats.irq_pending = FALSE;
    }
}

/* uio_pci_generic's part: deliver a pending interrupt while INTx is unmasked. */
static void fake_interrupt(FakeDevice *dev)
{
    guint32 count;
    guint16 command;

    if (!dev->stats.irq_pending || dev->uio_fd < 0) {
        return;
    }
    command = fake_device_command(dev);
    if (command & PCI_COMMAND_INTX_DISABLE) {
        return;
    }
    fake_set_command(dev, command | PCI_COMMAND_INTX_DISABLE);
    count = ++dev->stats.interrupts;
    g_assert_cmpint(write(dev->uio_fd, &count, sizeof(count)), ==, sizeof(count));
}

static gpointer fake_device_thread(gpointer data)
{
    FakeDevice *dev = data;
    struct timespec pause = { 0, FAKE_POLL_NS };

    prctl(PR_SET_TIMERSLACK, 1000UL);   /* sleep 20 us, not 20 + 50 */
    while (!g_atomic_int_get(&dev->stopping)) {
        g_mutex_lock(&dev->lock);
        /*
         * The guest's clears first: it wrote them before any doorbell seen
         * now.  A completion's interrupt goes out in the same round, before
         * a clear it never saw can reach it.
         */
        fake_take_clears(dev);
        if (fake_reg_read(dev, VGPU_REG_DOORBELL) != 0) {
            fake_doorbell(dev);
            __atomic_thread_fence(__ATOMIC_RELEASE);
            fake_reg_write(dev, VGPU_REG_DOORBELL, 0);     /* last: the doorbell is taken */
        }
        if (dev->in_flight && (dev->released ||
                               (dev->mode != FAKE_SILENT && g_get_monotonic_time() >= dev->due_us))) {
            fake_complete(dev);
        }
        fake_interrupt(dev);
        g_mutex_unlock(&dev->lock);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

void fake_device_start(FakeDevice *dev)
{
    g_assert_null(dev->thread);
    dev->thread = g_thread_new(dev->address, fake_device_thread, dev);
}

void fake_device_set_mode(FakeDevice *dev, FakeMode mode, guint32 error_code, guint delay_us)
{
    g_mutex_lock(&dev->lock);
    dev->mode = mode;
    dev->error_code = error_code;
    dev->delay_us = delay_us;
    g_mutex_unlock(&dev->lock);
}

void fake_device_release(FakeDevice *dev)
{
    g_mutex_lock(&dev->lock);
    dev->released = TRUE;
    g_mutex_unlock(&dev->lock);
}

void fake_device_stats(FakeDevice *dev, FakeStats *stats)
{
    g_mutex_lock(&dev->lock);
    *stats = dev->stats;
    g_mutex_unlock(&dev->lock);
}
