/*
 * Device discovery through sysfs: see sysfs.h.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "result.h"
#include "sysfs.h"

/* Longest sysfs number file we read ("0x1234\n" and then some). */
#define SYSFS_NUMBER_MAX 32

const char *vgpu_sysfs_root(void)
{
    const char *root = secure_getenv(VGPU_TEST_ROOT_ENV);

    return root ? root : "";
}

/* n hex digits at *text, advancing it; the value goes to out in lower case. */
static int address_hex_field(const char **text, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)(*text)[i])) {
            return -1;
        }
        out[i] = (char)tolower((unsigned char)(*text)[i]);
    }
    *text += n;
    return 0;
}

int vgpu_sysfs_address_parse(const char *text, char out[VGPU_ADDRESS_MAX])
{
    char canon[VGPU_ADDRESS_MAX] = "0000:00:00.0";
    const char *p = text;
    size_t len = strlen(text);

    if (len != VGPU_ADDRESS_MAX - 1 && len != VGPU_ADDRESS_MAX - 1 - 5) {
        return -1;
    }
    if (len == VGPU_ADDRESS_MAX - 1) {              /* domain given */
        if (address_hex_field(&p, 4, canon) < 0 || *p++ != ':') {
            return -1;
        }
    }
    if (address_hex_field(&p, 2, canon + 5) < 0 || *p++ != ':' ||
        address_hex_field(&p, 2, canon + 8) < 0 || *p++ != '.' ||
        *p < '0' || *p > '7' || p[1] != '\0') {     /* function 0..7 */
        return -1;
    }
    canon[11] = *p;
    /* the device number is 5 bits: 00..1f */
    if (strtoul(canon + 8, NULL, 16) > 0x1f) {
        return -1;
    }
    memcpy(out, canon, VGPU_ADDRESS_MAX);
    return 0;
}

int vgpu_sysfs_device_path(char *out, size_t cap, const char *root, const char *address,
                           const char *file)
{
    int n = snprintf(out, cap, "%s" VGPU_SYSFS_PCI_DEVICES "/%s/%s", root, address, file);

    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int vgpu_sysfs_read_hex(const char *root, const char *address, const char *file, uint32_t *value)
{
    char path[PATH_MAX], text[SYSFS_NUMBER_MAX], *end;
    unsigned long v;
    ssize_t n;
    int fd;

    if (vgpu_sysfs_device_path(path, sizeof(path), root, address, file) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0) {
        errno = n < 0 ? errno : EINVAL;
        return -1;
    }
    text[n] = '\0';
    errno = 0;
    v = strtoul(text, &end, 16);
    if (errno || end == text || (*end != '\n' && *end != '\0') || v > UINT32_MAX) {
        errno = EINVAL;
        return -1;
    }
    *value = (uint32_t)v;
    return 0;
}

/* Whether the device at address carries the vgpu-stub ids; -1 when unreadable (errno). */
static int sysfs_is_vgpu(const char *root, const char *address, uint32_t *vendor, uint32_t *device)
{
    if (vgpu_sysfs_read_hex(root, address, "vendor", vendor) < 0 ||
        vgpu_sysfs_read_hex(root, address, "device", device) < 0) {
        return -1;
    }
    return *vendor == VGPU_PCI_VENDOR_ID && *device == VGPU_PCI_DEVICE_ID;
}

static enum vgpu_result sysfs_check(const char *root, const char *address,
                                    char out[VGPU_ADDRESS_MAX])
{
    char canon[VGPU_ADDRESS_MAX];
    uint32_t vendor, device;
    int is_vgpu;

    if (vgpu_sysfs_address_parse(address, canon) < 0) {
        return vgpu_result_fail(VGPU_RESULT_INVALID,
                                "malformed PCI address '%s' (expected DDDD:BB:DD.F, e.g. 0000:00:1e.0)",
                                address);
    }
    is_vgpu = sysfs_is_vgpu(root, canon, &vendor, &device);
    if (is_vgpu < 0) {
        return vgpu_result_fail(VGPU_RESULT_NO_DEVICE, "no PCI device %s in %s" VGPU_SYSFS_PCI_DEVICES
                                " (%m)", canon, root);
    }
    if (!is_vgpu) {
        return vgpu_result_fail(VGPU_RESULT_NO_DEVICE,
                                "PCI device %s is not a vgpu-stub: ids %04x:%04x, expected %04x:%04x",
                                canon, vendor, device, VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID);
    }
    memcpy(out, canon, VGPU_ADDRESS_MAX);
    return VGPU_RESULT_OK;
}

enum vgpu_result vgpu_sysfs_find(const char *root, const char *address, char out[VGPU_ADDRESS_MAX])
{
    char dir[PATH_MAX], best[VGPU_ADDRESS_MAX] = "";
    struct dirent *entry;
    DIR *d;

    if (address) {
        return sysfs_check(root, address, out);
    }
    snprintf(dir, sizeof(dir), "%s" VGPU_SYSFS_PCI_DEVICES, root);
    d = opendir(dir);
    if (!d) {
        return vgpu_result_fail(VGPU_RESULT_NO_DEVICE, "cannot list PCI devices in %s: %m", dir);
    }
    while ((entry = readdir(d))) {
        char canon[VGPU_ADDRESS_MAX];
        uint32_t vendor, device;

        /* Entries are canonical addresses; anything else is not a device. */
        if (vgpu_sysfs_address_parse(entry->d_name, canon) < 0 ||
            strcmp(canon, entry->d_name) != 0) {
            continue;
        }
        if (sysfs_is_vgpu(root, canon, &vendor, &device) == 1 &&
            (best[0] == '\0' || strcmp(canon, best) < 0)) {
            memcpy(best, canon, sizeof(best));
        }
    }
    closedir(d);
    if (best[0] == '\0') {
        return vgpu_result_fail(VGPU_RESULT_NO_DEVICE,
                                "no vgpu-stub device (PCI %04x:%04x) in %s",
                                VGPU_PCI_VENDOR_ID, VGPU_PCI_DEVICE_ID, dir);
    }
    memcpy(out, best, VGPU_ADDRESS_MAX);
    return VGPU_RESULT_OK;
}

int vgpu_sysfs_driver(const char *root, const char *address, char *out, size_t cap)
{
    char path[PATH_MAX], target[PATH_MAX];
    const char *name;
    ssize_t n;

    if (cap == 0 || vgpu_sysfs_device_path(path, sizeof(path), root, address, "driver") < 0) {
        return -1;
    }
    n = readlink(path, target, sizeof(target) - 1);
    if (n < 0) {
        out[0] = '\0';      /* no driver bound */
        return 0;
    }
    target[n] = '\0';
    name = strrchr(target, '/');
    name = name ? name + 1 : target;
    if (strlen(name) >= cap) {
        return -1;
    }
    strcpy(out, name);
    return 0;
}

/* Whether name is "uio" followed by decimal digits. */
static int sysfs_is_uio_name(const char *name)
{
    if (strncmp(name, "uio", 3) != 0 || name[3] == '\0') {
        return 0;
    }
    for (const char *p = name + 3; *p; p++) {
        if (!isdigit((unsigned char)*p)) {
            return 0;
        }
    }
    return 1;
}

int vgpu_sysfs_uio_name(const char *root, const char *address, char out[VGPU_UIO_NAME_MAX])
{
    char path[PATH_MAX];
    struct dirent *entry;
    int found = -1;
    DIR *d;

    if (vgpu_sysfs_device_path(path, sizeof(path), root, address, "uio") < 0) {
        return -1;
    }
    d = opendir(path);
    if (!d) {
        return -1;
    }
    while ((entry = readdir(d))) {
        if (sysfs_is_uio_name(entry->d_name) && strlen(entry->d_name) < VGPU_UIO_NAME_MAX) {
            strcpy(out, entry->d_name);
            found = 0;
            break;
        }
    }
    closedir(d);
    return found;
}
