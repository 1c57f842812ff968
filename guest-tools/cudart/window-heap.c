/*
 * First fit in the window's heap: see window-heap.h.
 */
#include <stdlib.h>
#include <string.h>

#include "window-heap.h"

bool cudart_heap_init(struct cudart_heap *heap, uint64_t offset, uint64_t size)
{
    memset(heap, 0, sizeof(*heap));
    heap->blocks = malloc(16 * sizeof(*heap->blocks));
    if (!heap->blocks) {
        return false;
    }
    heap->cap = 16;
    heap->count = 1;
    heap->blocks[0] = (struct cudart_heap_block){ offset, size, false };
    heap->free_bytes = size;
    return true;
}

void cudart_heap_destroy(struct cudart_heap *heap)
{
    free(heap->blocks);
    memset(heap, 0, sizeof(*heap));
}

/* Room for one more block; false when out of memory. */
static bool heap_grow(struct cudart_heap *heap)
{
    struct cudart_heap_block *blocks;

    if (heap->count < heap->cap) {
        return true;
    }
    blocks = realloc(heap->blocks, 2 * heap->cap * sizeof(*blocks));
    if (!blocks) {
        return false;
    }
    heap->blocks = blocks;
    heap->cap *= 2;
    return true;
}

bool cudart_heap_alloc(struct cudart_heap *heap, uint64_t size, uint64_t *offset)
{
    uint64_t want;

    if (size == 0 || size > UINT64_MAX - CUDART_HEAP_ALIGN) {
        return false;
    }
    want = (size + CUDART_HEAP_ALIGN - 1) & ~(uint64_t)(CUDART_HEAP_ALIGN - 1);
    for (size_t i = 0; i < heap->count; i++) {
        struct cudart_heap_block *b = &heap->blocks[i];

        if (b->used || b->size < want) {
            continue;
        }
        if (b->size > want) {
            if (!heap_grow(heap)) {
                return false;
            }
            b = &heap->blocks[i];
            memmove(b + 2, b + 1, (heap->count - i - 1) * sizeof(*b));
            b[1] = (struct cudart_heap_block){ b->offset + want, b->size - want, false };
            b->size = want;
            heap->count++;
        }
        b->used = true;
        heap->free_bytes -= want;
        *offset = b->offset;
        return true;
    }
    return false;
}

/* Merge block i with block i + 1 when both are free. */
static void heap_merge_next(struct cudart_heap *heap, size_t i)
{
    struct cudart_heap_block *b = &heap->blocks[i];

    if (i + 1 >= heap->count || b->used || b[1].used) {
        return;
    }
    b->size += b[1].size;
    memmove(b + 1, b + 2, (heap->count - i - 2) * sizeof(*b));
    heap->count--;
}

bool cudart_heap_free(struct cudart_heap *heap, uint64_t offset)
{
    size_t lo = 0, hi = heap->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (heap->blocks[mid].offset < offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == heap->count || heap->blocks[lo].offset != offset || !heap->blocks[lo].used) {
        return false;
    }
    heap->blocks[lo].used = false;
    heap->free_bytes += heap->blocks[lo].size;
    heap_merge_next(heap, lo);
    if (lo > 0) {
        heap_merge_next(heap, lo - 1);
    }
    return true;
}
