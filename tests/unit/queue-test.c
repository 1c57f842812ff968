/*
 * The queue hands out requests by priority, FIFO within a priority, only
 * to units serving their pool; it enforces the total and per-VM caps; and
 * with aging on, a waiting request climbs one level per aging period.
 */
#include <glib.h>

#include "queue.h"

#define POOL_A 'A'
#define POOL_B 'B'
#define MASK_A QUEUE_POOL_BIT(POOL_A)
#define MASK_B QUEUE_POOL_BIT(POOL_B)

typedef struct {
    struct queue_entry entry;
    int tag;
} Item;

/* What a unit does: take the first entry for its pools out. */
static struct queue_entry *pop(struct queue *q, uint32_t mask, gint64 now)
{
    struct queue_entry *e = queue_peek(q, mask, now);

    if (e) {
        queue_remove(q, e);
    }
    return e;
}

static int pop_tag(struct queue *q, uint32_t mask, gint64 now)
{
    struct queue_entry *e = pop(q, mask, now);

    return e ? ((Item *)e)->tag : -1;
}

static void test_priority_then_fifo(void)
{
    struct queue *q = queue_new(100, 100, 0);
    unsigned vm = 0;
    static const uint32_t prio[] = { 0, 2, 1, 2, 0, 1, 2 };
    Item items[G_N_ELEMENTS(prio)];
    /* high in arrival order (1, 3, 6), then medium (2, 5), then low (0, 4) */
    static const int want[] = { 1, 3, 6, 2, 5, 0, 4 };

    for (size_t i = 0; i < G_N_ELEMENTS(prio); i++) {
        items[i].tag = (int)i;
        g_assert_cmpuint(queue_push(q, &items[i].entry, POOL_A, prio[i], &vm, 0), ==, VGPU_OK);
    }
    g_assert_cmpuint(queue_length(q), ==, 7);
    g_assert_cmpuint(vm, ==, 7);
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        g_assert_cmpint(pop_tag(q, MASK_A, 0), ==, want[i]);
    }
    g_assert_cmpint(pop_tag(q, MASK_A, 0), ==, -1);
    g_assert_cmpuint(vm, ==, 0);
    queue_free(q);
}

static void test_one_queue_across_pools(void)
{
    struct queue *q = queue_new(100, 100, 0);
    unsigned vm = 0;
    Item a_low = { .tag = 1 }, b_high = { .tag = 2 }, a_high = { .tag = 3 }, b_low = { .tag = 4 };

    queue_push(q, &a_low.entry, POOL_A, VGPU_PRIORITY_LOW, &vm, 0);
    queue_push(q, &b_high.entry, POOL_B, VGPU_PRIORITY_HIGH, &vm, 0);
    queue_push(q, &a_high.entry, POOL_A, VGPU_PRIORITY_HIGH, &vm, 0);
    queue_push(q, &b_low.entry, POOL_B, VGPU_PRIORITY_LOW, &vm, 0);
    /* A unit of pool A never gets pool B's work, even high over low. */
    g_assert_cmpint(pop_tag(q, MASK_A, 0), ==, 3);
    g_assert_cmpint(pop_tag(q, MASK_A, 0), ==, 1);
    g_assert_cmpint(pop_tag(q, MASK_A, 0), ==, -1);
    /* A unit serving both pools follows the one order: priority, then arrival. */
    queue_push(q, &a_low.entry, POOL_A, VGPU_PRIORITY_LOW, &vm, 0);
    g_assert_cmpint(pop_tag(q, MASK_A | MASK_B, 0), ==, 2);
    g_assert_cmpint(pop_tag(q, MASK_A | MASK_B, 0), ==, 4);    /* arrived before a_low's return */
    g_assert_cmpint(pop_tag(q, MASK_A | MASK_B, 0), ==, 1);
    queue_free(q);
}

static void test_vm_cap(void)
{
    struct queue *q = queue_new(100, 2, 0);
    unsigned vm1 = 0, vm2 = 0;
    Item items[5];

    g_assert_cmpuint(queue_push(q, &items[0].entry, POOL_A, 1, &vm1, 0), ==, VGPU_OK);
    g_assert_cmpuint(queue_push(q, &items[1].entry, POOL_A, 1, &vm1, 0), ==, VGPU_OK);
    g_assert_cmpuint(queue_push(q, &items[2].entry, POOL_A, 1, &vm1, 0), ==, VGPU_ERR_QUEUE_FULL);
    /* The full VM does not affect another. */
    g_assert_cmpuint(queue_push(q, &items[3].entry, POOL_A, 1, &vm2, 0), ==, VGPU_OK);
    g_assert_cmpuint(vm1, ==, 2);
    g_assert_cmpuint(vm2, ==, 1);
    g_assert_cmpuint(queue_length(q), ==, 3);
    /* Room again once one is popped. */
    g_assert_nonnull(pop(q, MASK_A, 0));
    g_assert_cmpuint(vm1, ==, 1);
    g_assert_cmpuint(queue_push(q, &items[4].entry, POOL_A, 1, &vm1, 0), ==, VGPU_OK);
    while (pop(q, MASK_A, 0)) {
    }
    queue_free(q);
}

static void test_total_cap(void)
{
    struct queue *q = queue_new(3, 3, 0);
    unsigned vm1 = 0, vm2 = 0;
    Item items[4];

    g_assert_cmpuint(queue_push(q, &items[0].entry, POOL_A, 0, &vm1, 0), ==, VGPU_OK);
    g_assert_cmpuint(queue_push(q, &items[1].entry, POOL_B, 0, &vm2, 0), ==, VGPU_OK);
    g_assert_cmpuint(queue_push(q, &items[2].entry, POOL_B, 0, &vm2, 0), ==, VGPU_OK);
    g_assert_cmpuint(queue_push(q, &items[3].entry, POOL_A, 2, &vm1, 0), ==, VGPU_ERR_QUEUE_FULL);
    g_assert_cmpuint(vm1, ==, 1);
    while (pop(q, MASK_A | MASK_B, 0)) {
    }
    queue_free(q);
}

static bool tag_is_odd(struct queue_entry *e, void *data)
{
    (void)data;
    return ((Item *)e)->tag % 2;
}

static void count_taken(struct queue_entry *e, void *data)
{
    (void)e;
    (*(int *)data)++;
}

static void test_remove_matching(void)
{
    struct queue *q = queue_new(10, 10, 0);
    unsigned vm = 0;
    Item items[4] = { { .tag = 0 }, { .tag = 1 }, { .tag = 2 }, { .tag = 3 } };
    int n = 0;

    for (int i = 0; i < 4; i++) {
        queue_push(q, &items[i].entry, POOL_A, (uint32_t)(i % 3), &vm, 0);
    }
    g_assert_cmpuint(queue_remove_matching(q, tag_is_odd, count_taken, &n), ==, 2);
    g_assert_cmpint(n, ==, 2);
    g_assert_cmpuint(vm, ==, 2);
    g_assert_cmpint(pop_tag(q, MASK_A, 0), ==, 2);
    g_assert_cmpint(pop_tag(q, MASK_A, 0), ==, 0);
    queue_free(q);
}

static void test_aging(void)
{
    struct queue *q = queue_new(10, 10, 100);     /* a level per 100 ms */
    unsigned vm = 0;
    Item low = { .tag = 1 }, medium = { .tag = 2 }, high = { .tag = 3 };
    const gint64 ms = 1000;

    queue_push(q, &low.entry, POOL_A, VGPU_PRIORITY_LOW, &vm, 0);
    queue_push(q, &medium.entry, POOL_A, VGPU_PRIORITY_MEDIUM, &vm, 150 * ms);
    queue_push(q, &high.entry, POOL_A, VGPU_PRIORITY_HIGH, &vm, 199 * ms);
    g_assert_cmpuint(queue_effective_priority(q, &low.entry, 99 * ms), ==, VGPU_PRIORITY_LOW);
    g_assert_cmpuint(queue_effective_priority(q, &low.entry, 100 * ms), ==, VGPU_PRIORITY_MEDIUM);
    g_assert_cmpuint(queue_effective_priority(q, &low.entry, 200 * ms), ==, VGPU_PRIORITY_HIGH);
    g_assert_cmpuint(queue_effective_priority(q, &low.entry, 900 * ms), ==, VGPU_PRIORITY_HIGH);
    /* At 200 ms the low request has aged to high and arrived first: it goes first. */
    g_assert_cmpint(pop_tag(q, MASK_A, 200 * ms), ==, 1);
    g_assert_cmpint(pop_tag(q, MASK_A, 200 * ms), ==, 3);
    g_assert_cmpint(pop_tag(q, MASK_A, 200 * ms), ==, 2);
    queue_free(q);
}

static void test_aging_off_is_strict(void)
{
    struct queue *q = queue_new(10, 10, 0);
    unsigned vm = 0;
    Item low = { .tag = 1 }, high = { .tag = 2 };

    queue_push(q, &low.entry, POOL_A, VGPU_PRIORITY_LOW, &vm, 0);
    queue_push(q, &high.entry, POOL_A, VGPU_PRIORITY_HIGH, &vm, G_GINT64_CONSTANT(3600000000));
    g_assert_cmpuint(queue_effective_priority(q, &low.entry, G_MAXINT64 / 2), ==, VGPU_PRIORITY_LOW);
    g_assert_cmpint(pop_tag(q, MASK_A, G_GINT64_CONSTANT(7200000000)), ==, 2);
    g_assert_cmpint(pop_tag(q, MASK_A, 0), ==, 1);
    queue_free(q);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/queue/priority-then-fifo", test_priority_then_fifo);
    g_test_add_func("/queue/one-queue-across-pools", test_one_queue_across_pools);
    g_test_add_func("/queue/vm-cap", test_vm_cap);
    g_test_add_func("/queue/total-cap", test_total_cap);
    g_test_add_func("/queue/remove-matching", test_remove_matching);
    g_test_add_func("/queue/aging", test_aging);
    g_test_add_func("/queue/aging-off-is-strict", test_aging_off_is_strict);
    return g_test_run();
}
