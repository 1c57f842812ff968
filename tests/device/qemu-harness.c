/*
 * QEMU qtest harness for the vgpu-stub device tests: see qemu-harness.h.
 */
#define _GNU_SOURCE     /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "vgpu/codec.h"
#include "vgpu/regs.h"
#include "qemu-harness.h"

#define VQ_MAX_IRQ          256
#define VQ_PCI_CONFIG_ADDR  0xcf8
#define VQ_PCI_CONFIG_DATA  0xcfc
#define VQ_POLL_INTERVAL_US 1000

/* PCI config space (standard layout) */
#define PCI_COMMAND             0x04
#define PCI_COMMAND_MEMORY      0x2
#define PCI_COMMAND_MASTER      0x4
#define PCI_STATUS              0x06
#define PCI_STATUS_CAP_LIST     0x10
#define PCI_BASE_ADDRESS_0      0x10
#define PCI_BASE_ADDRESS_2      0x18
#define PCI_BASE_ADDRESS_3      0x1c
#define PCI_CAPABILITY_LIST     0x34
#define PCI_CAP_ID_MSI          0x05
#define PCI_MSI_FLAGS           2
#define PCI_MSI_FLAGS_ENABLE    0x1
#define PCI_MSI_FLAGS_64BIT     0x80
#define PCI_MSI_ADDRESS_LO      4
#define PCI_MSI_ADDRESS_HI      8
#define PCI_MSI_DATA_64         12
#define PCI_MSI_DATA_32         8

struct VgpuQemu {
    pid_t pid;
    char *dir;
    int qtest_fd;
    int qmp_fd;
    GString *qtest_in;          /* bytes read, not yet a whole line */
    GString *qmp_in;
    GPtrArray *qmp_events;      /* event lines not yet waited for */
    bool irq[VQ_MAX_IRQ];
};

char *vq_mediator_path(const char *dir)
{
    return g_build_filename(dir, "mediator.sock", NULL);
}

static int vq_listen(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(addr.sun_path));
    strcpy(addr.sun_path, path);
    unlink(path);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(fd, 1), ==, 0);
    return fd;
}

static bool vq_poll_in(int fd, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    int n;

    do {
        n = poll(&pfd, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    return n == 1;
}

static void vq_fail(VgpuQemu *q, const char *what)
{
    g_autofree char *log_path = g_build_filename(q->dir, "qemu.stderr", NULL);
    g_autofree char *log = NULL;

    g_file_get_contents(log_path, &log, NULL, NULL);
    g_error("%s\nQEMU's stderr:\n%s", what, log ? log : "(none)");
}

static int vq_accept(VgpuQemu *q, int listen_fd, const char *what)
{
    int fd;

    if (!vq_poll_in(listen_fd, VQ_TIMEOUT_MS)) {
        vq_fail(q, what);
    }
    fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    return fd;
}

/* The QEMU build next to this test program: build/tests/.. /qemu/ */
static char *vq_qemu_binary(void)
{
    const char *env = g_getenv("VGPU_QEMU");
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = NULL;
    char *bin;

    if (env) {
        return g_strdup(env);
    }
    g_assert_nonnull(exe);
    dir = g_path_get_dirname(exe);
    bin = g_build_filename(dir, "..", "qemu", "qemu-system-x86_64", NULL);
    if (access(bin, X_OK) != 0) {
        g_error("no QEMU build at %s: run 'make qemu' first", bin);
    }
    return bin;
}

static GPtrArray *vq_argv(const char *dir, const VqOptions *opts)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *mediator = vq_mediator_path(dir);
    g_autoptr(GString) device = g_string_new(NULL);

    g_ptr_array_add(argv, vq_qemu_binary());
#define ARG(...) g_ptr_array_add(argv, g_strdup_printf(__VA_ARGS__))
    ARG("-accel");
    ARG("qtest");
    ARG("-qtest");
    ARG("unix:%s/qtest.sock", dir);
    ARG("-qtest-log");
    ARG("/dev/null");
    ARG("-chardev");
    ARG("socket,id=qmp,path=%s/qmp.sock", dir);
    ARG("-mon");
    ARG("chardev=qmp,mode=control");
    ARG("-machine");
    ARG("%s", opts->machine ? opts->machine : "q35");
    ARG("-nodefaults");
    ARG("-display");
    ARG("none");
    ARG("-d");
    ARG("guest_errors");
    ARG("-D");
    ARG("%s/guest-errors.log", dir);
    g_string_printf(device, "vgpu-stub,addr=0x%x", VQ_SLOT);
    if (!opts->no_chardev) {
        ARG("-chardev");
        ARG("socket,id=vgpu,path=%s,reconnect=1", mediator);
        g_string_append(device, ",chardev=vgpu");
    }
    if (opts->timeout_ms) {
        g_string_append_printf(device, ",timeout-ms=%u", opts->timeout_ms);
    }
    if (opts->window_size) {
        g_string_append_printf(device, ",window-size=%s", opts->window_size);
    }
    if (opts->memdev) {
        g_autofree char *id = g_strdup(strstr(opts->memdev, "id=") + 3);

        id[strcspn(id, ",")] = '\0';
        ARG("-object");
        ARG("%s", opts->memdev);
        g_string_append_printf(device, ",memdev=%s", id);
    }
    ARG("-device");
    ARG("%s", device->str);
    if (opts->uuid) {
        ARG("-uuid");
        ARG("%s", opts->uuid);
    }
    if (opts->incoming) {
        ARG("-incoming");
        ARG("%s", opts->incoming);
    }
#undef ARG
    g_ptr_array_add(argv, NULL);
    return argv;
}

VgpuQemu *vq_start(const char *dir, const VqOptions *opts)
{
    static const VqOptions defaults;
    VgpuQemu *q = g_new0(VgpuQemu, 1);
    g_autofree char *qtest_path = g_build_filename(dir, "qtest.sock", NULL);
    g_autofree char *qmp_path = g_build_filename(dir, "qmp.sock", NULL);
    g_autofree char *stderr_path = g_build_filename(dir, "qemu.stderr", NULL);
    g_autoptr(GPtrArray) argv = vq_argv(dir, opts ? opts : &defaults);
    int qtest_listen = vq_listen(qtest_path);
    int qmp_listen = vq_listen(qmp_path);
    pid_t parent = getpid();

    q->dir = g_strdup(dir);
    q->qtest_in = g_string_new(NULL);
    q->qmp_in = g_string_new(NULL);
    q->qmp_events = g_ptr_array_new_with_free_func(g_free);
    q->pid = fork();
    g_assert_cmpint(q->pid, >=, 0);
    if (q->pid == 0) {
        int fd = open(stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0644);

        /* QEMU never outlives the test, even when the test crashes. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || fd < 0) {
            _exit(127);
        }
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(argv->pdata[0], (char **)argv->pdata);
        dprintf(fd, "exec %s: %s\n", (char *)argv->pdata[0], strerror(errno));
        _exit(127);
    }

    q->qtest_fd = vq_accept(q, qtest_listen, "QEMU did not connect its qtest socket");
    q->qmp_fd = vq_accept(q, qmp_listen, "QEMU did not connect its QMP socket");
    close(qtest_listen);
    close(qmp_listen);
    g_free(vq_qmp(q, "{\"execute\": \"qmp_capabilities\"}"));
    return q;
}

char *vq_start_refused(const char *dir, const char *const *args)
{
    static const char *const base[] = {
        "-accel", "qtest", "-machine", "q35", "-nodefaults", "-display", "none",
        "-S", "-monitor", "none", "-serial", "none",
    };
    g_autofree char *out_path = g_build_filename(dir, "refused.out", NULL);
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *cmdline = NULL;
    char *out = NULL;
    int status, waited = 0;
    pid_t pid;

    g_ptr_array_add(argv, vq_qemu_binary());
    for (size_t i = 0; i < G_N_ELEMENTS(base); i++) {
        g_ptr_array_add(argv, g_strdup(base[i]));
    }
    for (size_t i = 0; args[i]; i++) {
        g_ptr_array_add(argv, g_strdup(args[i]));
    }
    g_ptr_array_add(argv, NULL);
    cmdline = g_strjoinv(" ", (char **)argv->pdata + 1);

    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd < 0) {
            _exit(127);
        }
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(argv->pdata[0], (char **)argv->pdata);
        _exit(127);
    }
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (waited >= VQ_TIMEOUT_MS * 1000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            g_error("QEMU started instead of refusing: %s", cmdline);
        }
        g_usleep(VQ_POLL_INTERVAL_US);
        waited += VQ_POLL_INTERVAL_US;
    }
    g_assert_true(g_file_get_contents(out_path, &out, NULL, NULL));
    g_unlink(out_path);
    g_test_message("%s: %s", cmdline, out);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    return out;
}

/* Release what the harness holds of a QEMU that has been reaped. */
static void vq_free(VgpuQemu *q)
{
    close(q->qtest_fd);
    close(q->qmp_fd);
    g_string_free(q->qtest_in, TRUE);
    g_string_free(q->qmp_in, TRUE);
    g_ptr_array_free(q->qmp_events, TRUE);
    g_free(q->dir);
    g_free(q);
}

void vq_kill(VgpuQemu *q)
{
    int status;

    kill(q->pid, SIGKILL);
    waitpid(q->pid, &status, 0);
    vq_free(q);
}

void vq_stop(VgpuQemu *q)
{
    int status, waited = 0;

    if (!q) {
        return;
    }
    kill(q->pid, SIGTERM);
    while (waitpid(q->pid, &status, WNOHANG) == 0) {
        if (waited >= VQ_TIMEOUT_MS * 1000) {
            kill(q->pid, SIGKILL);
            waitpid(q->pid, &status, 0);
            break;
        }
        g_usleep(VQ_POLL_INTERVAL_US);
        waited += VQ_POLL_INTERVAL_US;
    }
    vq_free(q);
}

/* Next whole line from fd into a new string (without the newline). */
static char *vq_read_line(VgpuQemu *q, int fd, GString *in, const char *what)
{
    size_t scanned = 0;         /* bytes of in known to hold no newline */

    for (;;) {
        char *nl = memchr(in->str + scanned, '\n', in->len - scanned);
        char buf[65536];
        ssize_t n;

        if (nl) {
            char *line = g_strndup(in->str, nl - in->str);

            g_string_erase(in, 0, nl - in->str + 1);
            return line;
        }
        scanned = in->len;
        if (!vq_poll_in(fd, VQ_TIMEOUT_MS)) {
            vq_fail(q, g_strdup_printf("no %s reply from QEMU within %d ms", what, VQ_TIMEOUT_MS));
        }
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            vq_fail(q, g_strdup_printf("QEMU closed its %s socket (did it crash?)", what));
        }
        g_string_append_len(in, buf, n);
    }
}

static void vq_write_all(int fd, const char *text)
{
    size_t len = strlen(text);

    while (len > 0) {
        ssize_t n = write(fd, text, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        g_assert_cmpint(n, >, 0);
        text += n;
        len -= (size_t)n;
    }
}

/*
 * Send one qtest command and return its "OK [VALUE]" reply line (g_free
 * it).  "IRQ raise|lower N" lines before it update the levels.
 */
static char *vq_cmd_line(VgpuQemu *q, const char *cmd)
{
    vq_write_all(q->qtest_fd, cmd);
    vq_write_all(q->qtest_fd, "\n");

    for (;;) {
        char *line = vq_read_line(q, q->qtest_fd, q->qtest_in, "qtest");
        unsigned irq;

        if (sscanf(line, "IRQ raise %u", &irq) == 1 && irq < VQ_MAX_IRQ) {
            q->irq[irq] = true;
        } else if (sscanf(line, "IRQ lower %u", &irq) == 1 && irq < VQ_MAX_IRQ) {
            q->irq[irq] = false;
        } else if (g_str_has_prefix(line, "OK")) {
            return line;
        } else {
            g_error("qtest command '%.80s' failed: %s", cmd, line);
        }
        g_free(line);
    }
}

/* A qtest command's "OK [VALUE]" value (0 without one). */
static uint64_t G_GNUC_PRINTF(2, 3) vq_cmd(VgpuQemu *q, const char *fmt, ...)
{
    g_autofree char *cmd = NULL;
    g_autofree char *line = NULL;
    va_list ap;

    va_start(ap, fmt);
    cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    line = vq_cmd_line(q, cmd);
    return line[2] ? g_ascii_strtoull(line + 3, NULL, 0) : 0;
}

static void vq_cfg_select(VgpuQemu *q, unsigned offset)
{
    vq_cmd(q, "outl 0x%x 0x%x", VQ_PCI_CONFIG_ADDR,
           0x80000000u | VQ_SLOT << 11 | (offset & ~3u));
}

uint32_t vq_cfg_read(VgpuQemu *q, unsigned offset, unsigned size)
{
    unsigned port = VQ_PCI_CONFIG_DATA + (offset & 3);

    vq_cfg_select(q, offset);
    switch (size) {
    case 1:
        return vq_cmd(q, "inb 0x%x", port);
    case 2:
        return vq_cmd(q, "inw 0x%x", port);
    default:
        return vq_cmd(q, "inl 0x%x", port);
    }
}

void vq_cfg_write(VgpuQemu *q, unsigned offset, unsigned size, uint32_t value)
{
    unsigned port = VQ_PCI_CONFIG_DATA + (offset & 3);

    vq_cfg_select(q, offset);
    switch (size) {
    case 1:
        vq_cmd(q, "outb 0x%x 0x%x", port, value);
        break;
    case 2:
        vq_cmd(q, "outw 0x%x 0x%x", port, value);
        break;
    default:
        vq_cmd(q, "outl 0x%x 0x%x", port, value);
        break;
    }
}

void vq_pci_enable(VgpuQemu *q)
{
    vq_cfg_write(q, PCI_BASE_ADDRESS_0, 4, VQ_BAR0);
    vq_cfg_write(q, PCI_BASE_ADDRESS_2, 4, (uint32_t)VQ_BAR2);
    vq_cfg_write(q, PCI_BASE_ADDRESS_3, 4, (uint32_t)(VQ_BAR2 >> 32));
    vq_cfg_write(q, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static char vq_size_letter(unsigned size)
{
    switch (size) {
    case 1:
        return 'b';
    case 2:
        return 'w';
    case 4:
        return 'l';
    case 8:
        return 'q';
    }
    g_error("no %u-byte qtest access", size);
}

uint64_t vq_read(VgpuQemu *q, unsigned offset, unsigned size)
{
    return vq_cmd(q, "read%c 0x%" PRIx64, vq_size_letter(size), (uint64_t)VQ_BAR0 + offset);
}

void vq_write(VgpuQemu *q, unsigned offset, unsigned size, uint64_t value)
{
    vq_cmd(q, "write%c 0x%" PRIx64 " 0x%" PRIx64, vq_size_letter(size),
           (uint64_t)VQ_BAR0 + offset, value);
}

uint32_t vq_readl(VgpuQemu *q, unsigned offset)
{
    return vq_read(q, offset, 4);
}

void vq_writel(VgpuQemu *q, unsigned offset, uint32_t value)
{
    vq_write(q, offset, 4, value);
}

uint32_t vq_mem_readl(VgpuQemu *q, uint64_t addr)
{
    return vq_cmd(q, "readl 0x%" PRIx64, addr);
}

void vq_mem_writel(VgpuQemu *q, uint64_t addr, uint32_t value)
{
    vq_cmd(q, "writel 0x%" PRIx64 " 0x%x", addr, value);
}

void vq_memread(VgpuQemu *q, uint64_t addr, void *buf, size_t len)
{
    g_autofree char *cmd = g_strdup_printf("b64read 0x%" PRIx64 " 0x%zx", addr, len);
    g_autofree char *line = vq_cmd_line(q, cmd);
    g_autofree guchar *data = NULL;
    gsize got;

    g_assert_true(g_str_has_prefix(line, "OK "));
    data = g_base64_decode(line + 3, &got);
    g_assert_cmpuint(got, ==, len);
    memcpy(buf, data, len);
}

void vq_memwrite(VgpuQemu *q, uint64_t addr, const void *buf, size_t len)
{
    g_autofree char *b64 = g_base64_encode(buf, len);
    g_autofree char *cmd = g_strdup_printf("b64write 0x%" PRIx64 " 0x%zx %s", addr, len, b64);

    g_free(vq_cmd_line(q, cmd));
}

void vq_clock_step(VgpuQemu *q, uint64_t ns)
{
    vq_cmd(q, "clock_step %" PRIu64, ns);
}

void vq_irq_intercept(VgpuQemu *q)
{
    vq_cmd(q, "irq_intercept_in ioapic");
}

bool vq_irq(VgpuQemu *q, unsigned gsi)
{
    g_assert_cmpuint(gsi, <, VQ_MAX_IRQ);
    vq_cmd(q, "clock_step 0");      /* collect IRQ lines sent so far */
    return q->irq[gsi];
}

void vq_msi_enable(VgpuQemu *q, uint16_t data)
{
    unsigned cap;
    uint16_t flags;

    g_assert_true(vq_cfg_read(q, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
    for (cap = vq_cfg_read(q, PCI_CAPABILITY_LIST, 1); cap; cap = vq_cfg_read(q, cap + 1, 1)) {
        if (vq_cfg_read(q, cap, 1) == PCI_CAP_ID_MSI) {
            break;
        }
    }
    g_assert_cmpuint(cap, !=, 0);
    flags = vq_cfg_read(q, cap + PCI_MSI_FLAGS, 2);
    vq_cfg_write(q, cap + PCI_MSI_ADDRESS_LO, 4, VQ_MSI_ADDR);
    if (flags & PCI_MSI_FLAGS_64BIT) {
        vq_cfg_write(q, cap + PCI_MSI_ADDRESS_HI, 4, 0);
        vq_cfg_write(q, cap + PCI_MSI_DATA_64, 2, data);
    } else {
        vq_cfg_write(q, cap + PCI_MSI_DATA_32, 2, data);
    }
    vq_cfg_write(q, cap + PCI_MSI_FLAGS, 2, flags | PCI_MSI_FLAGS_ENABLE);
}

bool vq_wait_reg(VgpuQemu *q, unsigned offset, uint32_t value, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (;;) {
        if (vq_readl(q, offset) == value) {
            return true;
        }
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        g_usleep(VQ_POLL_INTERVAL_US);
    }
}

char *vq_qmp(VgpuQemu *q, const char *json)
{
    vq_write_all(q->qmp_fd, json);
    vq_write_all(q->qmp_fd, "\n");
    for (;;) {
        char *line = vq_read_line(q, q->qmp_fd, q->qmp_in, "QMP");

        /* A reply has "return" or "error"; keep events, skip the greeting. */
        if (strstr(line, "\"return\"") || strstr(line, "\"error\"")) {
            return line;
        }
        if (strstr(line, "\"event\"")) {
            g_ptr_array_add(q->qmp_events, line);
        } else {
            g_free(line);
        }
    }
}

void vq_qmp_wait_event(VgpuQemu *q, const char *name)
{
    g_autofree char *quoted = g_strdup_printf("\"event\": \"%s\"", name);

    for (;;) {
        char *line;

        for (guint i = 0; i < q->qmp_events->len; i++) {
            if (strstr(q->qmp_events->pdata[i], quoted)) {
                g_ptr_array_remove_index(q->qmp_events, i);
                return;
            }
        }
        line = vq_read_line(q, q->qmp_fd, q->qmp_in, "QMP event");
        g_ptr_array_add(q->qmp_events, line);
    }
}

bool vq_wait_migration(VgpuQemu *q)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)VQ_TIMEOUT_MS * 1000;

    while (g_get_monotonic_time() < deadline) {
        g_autofree char *reply = vq_qmp(q, "{\"execute\": \"query-migrate\"}");

        if (strstr(reply, "\"status\": \"completed\"")) {
            return true;
        }
        if (strstr(reply, "\"status\": \"failed\"") || strstr(reply, "\"error\"")) {
            g_test_message("migration failed: %s", reply);
            return false;
        }
        g_usleep(10 * VQ_POLL_INTERVAL_US);
    }
    return false;
}

bool vq_wait_running(VgpuQemu *q)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)VQ_TIMEOUT_MS * 1000;

    while (g_get_monotonic_time() < deadline) {
        g_autofree char *reply = vq_qmp(q, "{\"execute\": \"query-status\"}");

        if (strstr(reply, "\"status\": \"running\"")) {
            return true;
        }
        g_usleep(10 * VQ_POLL_INTERVAL_US);
    }
    return false;
}

static bool vq_file_contains(const char *dir, const char *name, const char *text)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *contents = NULL;

    return g_file_get_contents(path, &contents, NULL, NULL) && strstr(contents, text);
}

bool vq_guest_log_contains(VgpuQemu *q, const char *text)
{
    return vq_file_contains(q->dir, "guest-errors.log", text);
}

bool vq_stderr_contains(VgpuQemu *q, const char *text)
{
    return vq_file_contains(q->dir, "qemu.stderr", text);
}

/* Fixtures */

void fixture_start_qemu(DeviceFixture *f, const VqOptions *opts)
{
    f->q = vq_start(f->dir, opts);
    vq_pci_enable(f->q);
}

void fixture_connect(DeviceFixture *f)
{
    fm_accept_hello(f->fm, NULL);
    fm_send_identity(f->fm, VGPU_OK, FIXTURE_POOL, FIXTURE_PRIORITY, FIXTURE_VM_ID);
    g_assert_true(vq_wait_reg(f->q, VGPU_REG_VM_ID, FIXTURE_VM_ID, VQ_TIMEOUT_MS));
}

static void fixture_make_dir(DeviceFixture *f)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *mediator = NULL;

    f->dir = g_dir_make_tmp("vgpu-device-XXXXXX", &err);
    g_assert_no_error(err);
    mediator = vq_mediator_path(f->dir);
    f->fm = fm_new(mediator);
}

void fixture_setup_unconnected(DeviceFixture *f, gconstpointer data)
{
    fixture_make_dir(f);
    fixture_start_qemu(f, data);
}

void fixture_setup_mediator_down(DeviceFixture *f, gconstpointer data)
{
    fixture_make_dir(f);
    fm_stop(f->fm);
    fixture_start_qemu(f, data);
}

void fixture_setup_connected(DeviceFixture *f, gconstpointer data)
{
    fixture_setup_unconnected(f, data);
    fixture_connect(f);
}

static void fixture_remove_dir(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;

    if (!d) {
        return;
    }
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);

        g_unlink(path);
    }
    g_dir_close(d);
    g_rmdir(dir);
}

void fixture_teardown(DeviceFixture *f, gconstpointer data)
{
    (void)data;
    vq_stop(f->q);
    fm_free(f->fm);
    fixture_remove_dir(f->dir);
    g_free(f->dir);
}

uint32_t fixture_submit_vector_add(DeviceFixture *f, uint32_t a, uint32_t b,
                                   uint32_t request_id)
{
    uint8_t request[VGPU_REQUEST_MAX];
    size_t len = vgpu_request_encode_vector_add(request, sizeof(request), a, b);

    for (size_t i = 0; i < len; i += 4) {
        vq_writel(f->q, VGPU_REG_REQUEST_BUFFER + i, vgpu_le32_load(request + i));
    }
    vq_writel(f->q, VGPU_REG_REQUEST_LEN, len);
    vq_writel(f->q, VGPU_REG_REQUEST_ID, request_id);
    vq_writel(f->q, VGPU_REG_DOORBELL, VGPU_DOORBELL_SUBMIT);
    return vq_readl(f->q, VGPU_REG_STATUS);
}

uint32_t fixture_wait_done(DeviceFixture *f)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)VQ_TIMEOUT_MS * 1000;
    uint32_t status;

    while ((status = vq_readl(f->q, VGPU_REG_STATUS)) == VGPU_STATUS_BUSY &&
           g_get_monotonic_time() < deadline) {
        g_usleep(VQ_POLL_INTERVAL_US);
    }
    return status;
}

uint32_t fixture_vector_add(DeviceFixture *f, uint32_t a, uint32_t b)
{
    static uint32_t request_id = 0x1000;
    uint8_t request[VGPU_REQUEST_MAX], response[VGPU_RESPONSE_MAX];
    size_t len, response_len;
    uint32_t seq, got_id;
    struct vgpu_response_view view;

    request_id++;
    g_assert_cmpuint(fixture_submit_vector_add(f, a, b, request_id), ==, VGPU_STATUS_BUSY);
    fm_read_submit(f->fm, &seq, &got_id, request, &len);
    g_assert_cmpuint(got_id, ==, request_id);
    response_len = fm_vector_add_response(request, len, response, sizeof(response));
    fm_send_complete(f->fm, seq, got_id, VGPU_OK, response, response_len);

    g_assert_cmpuint(fixture_wait_done(f), ==, VGPU_STATUS_DONE);
    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_ERROR_CODE), ==, VGPU_OK);
    g_assert_cmpuint(vq_readl(f->q, VGPU_REG_RESPONSE_LEN), ==, response_len);
    for (size_t i = 0; i < response_len; i += 4) {
        g_assert_cmphex(vq_readl(f->q, VGPU_REG_RESPONSE_BUFFER + i), ==,
                        vgpu_le32_load(response + i));
    }
    g_assert_cmpuint(vgpu_response_decode(response, response_len, &view), ==, VGPU_OK);
    return vgpu_response_result(&view, 0);
}
