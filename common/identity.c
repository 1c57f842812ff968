/*
 * Identity text <-> values: see include/vgpu/identity.h.
 */
#include <stdio.h>
#include <string.h>

#include "vgpu/identity.h"
#include "vgpu/regs.h"

static const char *const priority_names[VGPU_PRIORITY_COUNT] = {
    [VGPU_PRIORITY_LOW] = "low",
    [VGPU_PRIORITY_MEDIUM] = "medium",
    [VGPU_PRIORITY_HIGH] = "high",
};

const char *vgpu_priority_name(uint32_t priority)
{
    return priority < VGPU_PRIORITY_COUNT ? priority_names[priority] : NULL;
}

bool vgpu_priority_parse(const char *text, uint32_t *priority)
{
    for (uint32_t p = 0; p < VGPU_PRIORITY_COUNT; p++) {
        if (strcmp(text, priority_names[p]) == 0) {
            *priority = p;
            return true;
        }
    }
    return false;
}

bool vgpu_pool_parse(const char *text, uint32_t *pool_id)
{
    if (text[0] < VGPU_POOL_FIRST || text[0] > VGPU_POOL_LAST || text[1] != '\0') {
        return false;
    }
    *pool_id = (uint32_t)text[0];
    return true;
}

bool vgpu_vm_id_parse(const char *text, uint32_t *vm_id)
{
    uint64_t value = 0;

    if (text[0] == '\0' || text[0] == '0') {
        return false;                       /* empty, zero or a leading zero */
    }
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9') {
            return false;
        }
        value = value * 10 + (uint64_t)(*c - '0');
        if (value > VGPU_VM_ID_MAX) {
            return false;
        }
    }
    *vm_id = (uint32_t)value;
    return true;
}

/* The IEC units, largest first; the one-letter forms are the same units. */
static const struct {
    const char *name, *letter;
    unsigned shift;
} memory_units[] = {
    { "TiB", "T", 40 }, { "GiB", "G", 30 }, { "MiB", "M", 20 }, { "KiB", "K", 10 },
};

bool vgpu_gpu_memory_parse(const char *text, uint64_t *bytes)
{
    uint64_t value = 0;
    unsigned shift = 0;
    const char *c = text;

    if (*c < '1' || *c > '9') {
        return false;                       /* empty, zero, a sign or a leading zero */
    }
    for (; *c >= '0' && *c <= '9'; c++) {
        value = value * 10 + (uint64_t)(*c - '0');
        if (value > VGPU_GPU_MEMORY_MAX) {
            return false;                   /* checked per digit: no overflow */
        }
    }
    if (*c) {
        size_t u = 0;

        while (u < sizeof(memory_units) / sizeof(memory_units[0]) &&
               strcmp(c, memory_units[u].name) != 0 && strcmp(c, memory_units[u].letter) != 0) {
            u++;
        }
        if (u == sizeof(memory_units) / sizeof(memory_units[0])) {
            return false;
        }
        shift = memory_units[u].shift;
    }
    if (value > VGPU_GPU_MEMORY_MAX >> shift) {
        return false;
    }
    *bytes = value << shift;
    return true;
}

void vgpu_gpu_memory_format(uint64_t bytes, char out[VGPU_GPU_MEMORY_TEXT_MAX])
{
    for (size_t u = 0; u < sizeof(memory_units) / sizeof(memory_units[0]); u++) {
        uint64_t unit = 1ull << memory_units[u].shift;

        if (bytes && bytes % unit == 0) {
            snprintf(out, VGPU_GPU_MEMORY_TEXT_MAX, "%llu%s",
                     (unsigned long long)(bytes / unit), memory_units[u].name);
            return;
        }
    }
    snprintf(out, VGPU_GPU_MEMORY_TEXT_MAX, "%llu", (unsigned long long)bytes);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool vgpu_uuid_parse(const char *text, uint8_t uuid[16])
{
    uint8_t out[16];
    size_t pos = 0;

    for (int byte = 0; byte < 16; byte++) {
        int hi, lo;

        if (byte == 4 || byte == 6 || byte == 8 || byte == 10) {
            if (text[pos++] != '-') {
                return false;
            }
        }
        hi = hex_value(text[pos]);
        lo = hi < 0 ? -1 : hex_value(text[pos + 1]);
        if (lo < 0) {
            return false;
        }
        out[byte] = (uint8_t)(hi << 4 | lo);
        pos += 2;
    }
    if (text[pos] != '\0') {
        return false;
    }
    memcpy(uuid, out, sizeof(out));
    return true;
}

void vgpu_uuid_format(const uint8_t uuid[16], char out[VGPU_UUID_STRING_LEN + 1])
{
    snprintf(out, VGPU_UUID_STRING_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7],
             uuid[8], uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
}
