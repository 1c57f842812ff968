/*
 * vgpu-probe: the device's smoke test inside a booted guest (static, libc
 * only).  Finds the vgpu-stub device in /sys/bus/pci by its ids and reads
 * registers through its resource0 mapping, and the data window through
 * resource2.
 *
 *   vgpu-probe find        print the device's sysfs directory
 *   vgpu-probe ids         print "VENDOR DEVICE" in hex, as new_id takes them
 *   vgpu-probe read REG..  print REG=0xVALUE for each register name
 *   vgpu-probe window      check resource2 is WINDOW_SIZE bytes of memory:
 *                          write its first and last words, read them back
 *
 * Exits 1 when the device is missing or a step fails, 2 on bad usage.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vgpu/regs.h"

#define PROBE_PCI_DEVICES "/sys/bus/pci/devices"
#define PROBE_PATH_MAX 512

static const struct probe_reg {
    const char *name;
    unsigned offset;
} probe_regs[] = {
    { "STATUS", VGPU_REG_STATUS },
    { "POOL_ID", VGPU_REG_POOL_ID },
    { "PRIORITY", VGPU_REG_PRIORITY },
    { "VM_ID", VGPU_REG_VM_ID },
    { "ERROR_CODE", VGPU_REG_ERROR_CODE },
    { "PROTOCOL_VER", VGPU_REG_PROTOCOL_VER },
    { "CAPABILITIES", VGPU_REG_CAPABILITIES },
    { "INTERRUPT_CTRL", VGPU_REG_INTERRUPT_CTRL },
    { "INTERRUPT_STATUS", VGPU_REG_INTERRUPT_STATUS },
    { "SCRATCH", VGPU_REG_SCRATCH },
    { "WINDOW_SIZE_LO", VGPU_REG_WINDOW_SIZE_LO },
    { "WINDOW_SIZE_HI", VGPU_REG_WINDOW_SIZE_HI },
};

/* The hex number in a sysfs file such as "vendor" ("0x1234\n"); -1 on error. */
static long probe_read_hex(const char *dir, const char *file)
{
    char path[2 * PROBE_PATH_MAX], text[32];
    FILE *f;
    long value = -1;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    if (fgets(text, sizeof(text), f)) {
        value = strtol(text, NULL, 16);
    }
    fclose(f);
    return value;
}

/* Fill dir with the device's sysfs directory; 0, or -1 when none. */
static int probe_find(char *dir, size_t cap)
{
    DIR *d = opendir(PROBE_PCI_DEVICES);
    struct dirent *e;
    int found = -1;

    if (!d) {
        perror("vgpu-probe: " PROBE_PCI_DEVICES);
        return -1;
    }
    while (found < 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(dir, cap, "%s/%s", PROBE_PCI_DEVICES, e->d_name);
        if (probe_read_hex(dir, "vendor") == VGPU_PCI_VENDOR_ID &&
            probe_read_hex(dir, "device") == VGPU_PCI_DEVICE_ID) {
            found = 0;
        }
    }
    closedir(d);
    if (found < 0) {
        fprintf(stderr, "vgpu-probe: no PCI device %04x:%04x\n",
                VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    }
    return found;
}

static const struct probe_reg *probe_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof(probe_regs) / sizeof(probe_regs[0]); i++) {
        if (strcmp(probe_regs[i].name, name) == 0) {
            return &probe_regs[i];
        }
    }
    return NULL;
}

/* Map resource N of the device in dir; its size goes to *size.  NULL on error. */
static volatile uint32_t *probe_map(const char *dir, int n, off_t *size)
{
    char path[PROBE_PATH_MAX + sizeof("/resourceN")];
    struct stat st;
    void *bar;
    int fd;

    snprintf(path, sizeof(path), "%s/resource%d", dir, n);
    fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        perror(path);
        return NULL;
    }
    bar = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (bar == MAP_FAILED) {
        perror(path);
        return NULL;
    }
    *size = st.st_size;
    return bar;
}

static int probe_read(char **names, int count)
{
    char dir[PROBE_PATH_MAX];
    volatile uint32_t *bar;
    off_t size;

    if (probe_find(dir, sizeof(dir)) < 0) {
        return 1;
    }
    bar = probe_map(dir, 0, &size);
    if (!bar) {
        return 1;
    }
    for (int i = 0; i < count; i++) {
        const struct probe_reg *reg = probe_lookup(names[i]);

        if (!reg) {
            fprintf(stderr, "vgpu-probe: no register '%s'\n", names[i]);
            return 2;
        }
        printf("%s=0x%08x\n", reg->name, bar[reg->offset / 4]);
    }
    munmap((void *)bar, size);
    return 0;
}

static int probe_window(void)
{
    char dir[PROBE_PATH_MAX];
    volatile uint32_t *bar, *window;
    off_t bar_size, window_size;
    uint64_t size;
    uint32_t first, last;

    if (probe_find(dir, sizeof(dir)) < 0) {
        return 1;
    }
    bar = probe_map(dir, 0, &bar_size);
    if (!bar) {
        return 1;
    }
    size = bar[VGPU_REG_WINDOW_SIZE_LO / 4] |
           (uint64_t)bar[VGPU_REG_WINDOW_SIZE_HI / 4] << 32;
    munmap((void *)bar, bar_size);
    window = probe_map(dir, VGPU_WINDOW_BAR, &window_size);
    if (!window) {
        return 1;
    }
    window[0] = 0x11223344;
    window[window_size / 4 - 1] = 0x55667788;
    first = window[0];
    last = window[window_size / 4 - 1];
    munmap((void *)window, window_size);
    printf("WINDOW_SIZE=%llu resource%d=%llu first=0x%08x last=0x%08x\n",
           (unsigned long long)size, VGPU_WINDOW_BAR, (unsigned long long)window_size,
           first, last);
    return (uint64_t)window_size == size && first == 0x11223344 && last == 0x55667788
               ? 0 : 1;
}

int main(int argc, char **argv)
{
    char dir[PROBE_PATH_MAX];

    if (argc == 2 && strcmp(argv[1], "find") == 0) {
        if (probe_find(dir, sizeof(dir)) < 0) {
            return 1;
        }
        printf("%s\n", dir);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "ids") == 0) {
        printf("%04x %04x\n", VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "read") == 0) {
        return probe_read(argv + 2, argc - 2);
    }
    if (argc == 2 && strcmp(argv[1], "window") == 0) {
        return probe_window();
    }
    fprintf(stderr, "usage: vgpu-probe find | ids | read REGISTER... | window\n");
    return 2;
}
