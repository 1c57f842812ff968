/*
 * vgpu-probe: the device's smoke test inside a booted guest (static, libc
 * only).  Finds the vgpu-stub device in /sys/bus/pci by its ids and reads
 * registers through its resource0 mapping.
 *
 *   vgpu-probe find        print the device's sysfs directory
 *   vgpu-probe ids         print "VENDOR DEVICE" in hex, as new_id takes them
 *   vgpu-probe read REG..  print REG=0xVALUE for each register name
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

static int probe_read(char **names, int count)
{
    char dir[PROBE_PATH_MAX], path[PROBE_PATH_MAX + sizeof("/resource0")];
    volatile uint32_t *bar;
    int fd;

    if (probe_find(dir, sizeof(dir)) < 0) {
        return 1;
    }
    snprintf(path, sizeof(path), "%s/resource0", dir);
    fd = open(path, O_RDWR | O_SYNC);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    bar = mmap(NULL, VGPU_BAR0_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (bar == MAP_FAILED) {
        perror("vgpu-probe: mmap resource0");
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
    munmap((void *)bar, VGPU_BAR0_SIZE);
    return 0;
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
    fprintf(stderr, "usage: vgpu-probe find | ids | read REGISTER...\n");
    return 2;
}
