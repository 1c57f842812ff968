/*
 * The priority queue: see queue.h.
 *
 * One FIFO list per (pool, priority).  Within a list the head is both the
 * earliest arrival and (with aging) the longest waiting, so the next entry
 * for a unit is the best of the heads of the lists of the pools it serves:
 * a pop looks at 3 heads per pool, whatever the queue's length.
 */
#include "queue.h"

struct queue {
    GQueue lists[QUEUE_POOL_COUNT][VGPU_PRIORITY_COUNT];
    uint32_t nonempty;          /* pool bits with at least one entry */
    unsigned pool_length[QUEUE_POOL_COUNT];
    unsigned length;
    unsigned limit;
    unsigned vm_limit;
    gint64 aging_us;            /* 0: aging off */
    uint64_t next_arrival;
};

struct queue *queue_new(unsigned limit, unsigned vm_limit, unsigned aging_ms)
{
    struct queue *q = g_new0(struct queue, 1);

    for (unsigned p = 0; p < QUEUE_POOL_COUNT; p++) {
        for (unsigned pr = 0; pr < VGPU_PRIORITY_COUNT; pr++) {
            g_queue_init(&q->lists[p][pr]);
        }
    }
    q->limit = limit;
    q->vm_limit = vm_limit;
    q->aging_us = (gint64)aging_ms * 1000;
    return q;
}

void queue_free(struct queue *q)
{
    g_assert(q->length == 0);
    g_free(q);
}

uint32_t queue_push(struct queue *q, struct queue_entry *e, uint32_t pool_id,
                    uint32_t priority, unsigned *vm_queued, gint64 now_us)
{
    unsigned pool = pool_id - VGPU_POOL_FIRST;

    g_assert(pool < QUEUE_POOL_COUNT && priority < VGPU_PRIORITY_COUNT);
    if (q->length >= q->limit || *vm_queued >= q->vm_limit) {
        return VGPU_ERR_QUEUE_FULL;
    }
    e->link.data = e;
    e->link.prev = e->link.next = NULL;
    e->pool_id = pool_id;
    e->priority = priority;
    e->arrival = q->next_arrival++;
    e->enqueued_us = now_us;
    e->vm_queued = vm_queued;
    g_queue_push_tail_link(&q->lists[pool][priority], &e->link);
    q->nonempty |= 1u << pool;
    q->pool_length[pool]++;
    q->length++;
    (*vm_queued)++;
    return VGPU_OK;
}

uint32_t queue_effective_priority(const struct queue *q, const struct queue_entry *e,
                                  gint64 now_us)
{
    gint64 waited = now_us - e->enqueued_us;
    uint64_t levels;

    if (q->aging_us == 0 || waited < q->aging_us) {
        return e->priority;
    }
    levels = (uint64_t)(waited / q->aging_us);
    return levels >= VGPU_PRIORITY_HIGH - e->priority ? VGPU_PRIORITY_HIGH
                                                      : e->priority + (uint32_t)levels;
}

/* Whether a goes before b. */
static bool entry_before(const struct queue *q, const struct queue_entry *a,
                         const struct queue_entry *b, gint64 now_us)
{
    uint32_t pa = queue_effective_priority(q, a, now_us);
    uint32_t pb = queue_effective_priority(q, b, now_us);

    return pa != pb ? pa > pb : a->arrival < b->arrival;
}

struct queue_entry *queue_peek(const struct queue *q, uint32_t pool_mask, gint64 now_us)
{
    struct queue_entry *best = NULL;
    uint32_t pools = pool_mask & q->nonempty;

    while (pools) {
        unsigned pool = (unsigned)__builtin_ctz(pools);

        pools &= pools - 1;
        for (int pr = VGPU_PRIORITY_COUNT - 1; pr >= 0; pr--) {
            GList *head = q->lists[pool][pr].head;

            if (head && (!best || entry_before(q, head->data, best, now_us))) {
                best = head->data;
            }
            /* Without aging, a lower list of this pool cannot beat its higher head. */
            if (head && q->aging_us == 0) {
                break;
            }
        }
    }
    return best;
}

void queue_remove(struct queue *q, struct queue_entry *e)
{
    unsigned pool = e->pool_id - VGPU_POOL_FIRST;

    g_queue_unlink(&q->lists[pool][e->priority], &e->link);
    if (--q->pool_length[pool] == 0) {
        q->nonempty &= ~(1u << pool);
    }
    q->length--;
    (*e->vm_queued)--;
}

unsigned queue_length(const struct queue *q)
{
    return q->length;
}

unsigned queue_remove_matching(struct queue *q, bool (*match)(struct queue_entry *e, void *data),
                               void (*take)(struct queue_entry *e, void *data), void *data)
{
    unsigned removed = 0;

    for (unsigned pool = 0; pool < QUEUE_POOL_COUNT; pool++) {
        for (int pr = VGPU_PRIORITY_COUNT - 1; pr >= 0; pr--) {
            GList *link = q->lists[pool][pr].head;

            while (link) {
                struct queue_entry *e = link->data;

                link = link->next;
                if (match(e, data)) {
                    queue_remove(q, e);
                    take(e, data);
                    removed++;
                }
            }
        }
    }
    return removed;
}
