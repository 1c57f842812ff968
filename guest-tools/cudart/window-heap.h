/*
 * The heap of pinned host memory in the data window: first fit over the
 * heap's offsets, blocks aligned to CUDART_HEAP_ALIGN, neighbours merged
 * when freed.  Its bookkeeping lives in ordinary memory: the window is
 * shared with the host, which must not be able to change it.
 */
#ifndef CUDART_WINDOW_HEAP_H
#define CUDART_WINDOW_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CUDART_HEAP_ALIGN 256u

struct cudart_heap_block {
    uint64_t offset;            /* in the window */
    uint64_t size;
    bool used;
};

struct cudart_heap {
    struct cudart_heap_block *blocks;   /* sorted by offset, covering the heap */
    size_t count, cap;
    uint64_t free_bytes;
};

/* A heap over [offset, offset + size); false when out of memory. */
bool cudart_heap_init(struct cudart_heap *heap, uint64_t offset, uint64_t size);
void cudart_heap_destroy(struct cudart_heap *heap);
/* A block of at least size bytes (size > 0); false when none is free. */
bool cudart_heap_alloc(struct cudart_heap *heap, uint64_t size, uint64_t *offset);
/* Free the block that starts at offset; false when no used block does. */
bool cudart_heap_free(struct cudart_heap *heap, uint64_t offset);

#endif /* CUDART_WINDOW_HEAP_H */
