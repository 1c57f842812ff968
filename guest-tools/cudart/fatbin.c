/*
 * Finding a fat binary's bytes: see fatbin.h.
 */
#include <string.h>

#include "fatbin.h"

bool cudart_fatbin_image(const void *wrapper, const void **image, size_t *len,
                         const char **why)
{
    struct cudart_fatbin_wrapper w;
    struct cudart_fatbin_header h;

    if (!wrapper) {
        *why = "no fat binary wrapper";
        return false;
    }
    memcpy(&w, wrapper, sizeof(w));
    if ((uint32_t)w.magic != CUDART_FATBINC_MAGIC) {
        *why = "the fat binary wrapper's magic is not 0x466243b1";
        return false;
    }
    if (w.version != CUDART_FATBINC_VERSION) {
        /* version 2: relocatable device code linked by nvlink (-rdc) */
        *why = "the fat binary wrapper is not version 1 (relocatable device code, -rdc, "
               "is not supported)";
        return false;
    }
    if (!w.data) {
        *why = "the fat binary wrapper points at no fat binary";
        return false;
    }
    memcpy(&h, w.data, sizeof(h));
    if (h.magic != CUDART_FATBIN_MAGIC) {
        *why = "the fat binary's magic is not 0xba55ed50";
        return false;
    }
    if (h.header_size < sizeof(h) || h.fat_size > CUDART_FATBIN_MAX) {
        *why = "the fat binary's header gives sizes that make no sense";
        return false;
    }
    *image = w.data;
    *len = (size_t)h.header_size + (size_t)h.fat_size;
    return true;
}
