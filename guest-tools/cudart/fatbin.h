/*
 * The device code nvcc embeds in a program: __cudaRegisterFatBinary gets a
 * wrapper (fatbinary_section.h's __fatBinC_Wrapper_t) whose data points at
 * a fat binary: a 16-byte header (magic, version, header size, then the
 * size of what follows it) and its entries.  Its bytes, header included,
 * are what the host loads.
 */
#ifndef CUDART_FATBIN_H
#define CUDART_FATBIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CUDART_FATBINC_MAGIC    0x466243b1u     /* the wrapper */
#define CUDART_FATBINC_VERSION  1
#define CUDART_FATBIN_MAGIC     0xba55ed50u     /* the fat binary */
#define CUDART_FATBIN_MAX       (1ull << 30)    /* a size past this is a broken header */

struct cudart_fatbin_wrapper {      /* __fatBinC_Wrapper_t */
    int32_t magic;
    int32_t version;
    const void *data;
    void *filename_or_fatbins;
};

struct cudart_fatbin_header {
    uint32_t magic;
    uint16_t version;
    uint16_t header_size;
    uint64_t fat_size;              /* bytes after the header */
};

/*
 * The fat binary the wrapper points at: *image and *len, or false with
 * *why saying what is wrong (a wrong magic, a version this library does
 * not read, sizes that make no sense).
 */
bool cudart_fatbin_image(const void *wrapper, const void **image, size_t *len,
                         const char **why);

#endif /* CUDART_FATBIN_H */
