/*
 * The one priority queue that spans all pools (docs/architecture.md, "Scheduling").
 *
 * Order: the highest priority first, and within a priority the earliest
 * arrival first.  With aging on, a request waiting for aging_ms gains one
 * priority level (up to high) per aging_ms of waiting, and the order is
 * that effective priority, then arrival.  A unit takes the first request in
 * that order whose pool it serves (queue_peek, then queue_remove).
 *
 * Limits: `limit` requests in all, `vm_limit` per VM (counted through the
 * entry's vm_queued counter); a push over either is refused with
 * VGPU_ERR_QUEUE_FULL and changes nothing.
 *
 * Not thread-safe: the scheduler holds its lock around every call.
 */
#ifndef MEDIATOR_QUEUE_H
#define MEDIATOR_QUEUE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vgpu/errors.h"
#include "vgpu/regs.h"

#define QUEUE_POOL_COUNT    (VGPU_POOL_LAST - VGPU_POOL_FIRST + 1)

/* A bit per pool: pool 'A' is bit 0. */
#define QUEUE_POOL_BIT(pool_id)   (1u << ((pool_id) - VGPU_POOL_FIRST))

/* Embedded in what is queued (struct request); the queue fills it on push. */
struct queue_entry {
    GList link;                 /* position in its (pool, priority) list */
    uint32_t pool_id;           /* 'A'..'Z' */
    uint32_t priority;          /* enum vgpu_priority at arrival */
    uint64_t arrival;           /* order of arrival, increasing */
    gint64 enqueued_us;         /* monotonic time of the push */
    unsigned *vm_queued;        /* the VM's count of queued requests */
};

struct queue;

struct queue *queue_new(unsigned limit, unsigned vm_limit, unsigned aging_ms);
void queue_free(struct queue *q);       /* the queue must be empty */

/*
 * Queue e for pool_id at priority; *vm_queued counts the VM's queued
 * requests.  Returns VGPU_OK or VGPU_ERR_QUEUE_FULL.
 */
uint32_t queue_push(struct queue *q, struct queue_entry *e, uint32_t pool_id,
                    uint32_t priority, unsigned *vm_queued, gint64 now_us);

/* The next entry for a unit serving pool_mask, left in the queue; NULL if none. */
struct queue_entry *queue_peek(const struct queue *q, uint32_t pool_mask, gint64 now_us);

/* Take e out of the queue (it must be queued). */
void queue_remove(struct queue *q, struct queue_entry *e);

unsigned queue_length(const struct queue *q);

/*
 * Remove every entry for which match(e, data) is true and hand it to
 * take(e, data), in queue order of each list.  Returns how many.
 */
unsigned queue_remove_matching(struct queue *q, bool (*match)(struct queue_entry *e, void *data),
                               void (*take)(struct queue_entry *e, void *data), void *data);

/* The effective priority of e at now_us (its priority plus aging). */
uint32_t queue_effective_priority(const struct queue *q, const struct queue_entry *e,
                                  gint64 now_us);

#endif /* MEDIATOR_QUEUE_H */
