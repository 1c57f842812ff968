/*
 * The scheduler: see scheduler.h.
 *
 * Locks, always taken in this order: the scheduler's lock, then
 * stats_lock(), then a device connection's lock (inside complete()).
 */
#include <string.h>

#include "vgpu/cpu-relax.h"
#include "vgpu/cuda.h"
#include "scheduler.h"

struct scheduler {
    GMutex lock;
    struct queue *queue;
    struct sched_pool pools[QUEUE_POOL_COUNT];  /* config order */
    unsigned pool_count;
    struct sched_pool *by_id[QUEUE_POOL_COUNT]; /* pool letter - 'A' -> pool */
    GPtrArray *units;                   /* struct sched_unit * */
    GCond opened;                       /* a unit finished open() */
    GCond idle;                         /* a unit finished a request */
    bool paused;
    bool log_each_request;              /* log-level=debug: a line per request run */
    bool draining;                      /* refuse new work, pop nothing */
    bool stopping;                      /* workers exit */
    gint generation;                    /* atomic: bumped when work may have arrived */
    uint64_t started;                   /* requests started so far */
    unsigned spin_us;                   /* an idle unit spins this long before it sleeps */
    struct stats_counters total;        /* stats_lock() guards it */
};

static struct sched_pool *pool_of(struct scheduler *s, uint32_t pool_id)
{
    return s->by_id[pool_id - VGPU_POOL_FIRST];
}

/* Apply f to the counters r is accounted in: its VM's, its pool's, the total. */
#define FOR_EACH_COUNTERS(s, r, c, body) do { \
        struct stats_counters *list_[3] = { \
            &(r)->vm->stats, &pool_of(s, (r)->vm->pool_id)->stats, &(s)->total }; \
        for (int i_ = 0; i_ < 3; i_++) { struct stats_counters *c = list_[i_]; body; } \
    } while (0)

/*
 * Account r's outcome and send it, once: a request can race between its
 * worker and a drain that gave up waiting.  Returns false when r had
 * already been completed.  Does not free r.
 */
static bool request_finish(struct scheduler *s, struct request *r, uint32_t error,
                           const uint32_t *results, uint32_t result_count, uint64_t exec_ns)
{
    unsigned char response[VGPU_RESPONSE_MAX];
    uint64_t exec_us = exec_ns / 1000;
    uint64_t read_bytes = 0, written_bytes = 0;
    size_t len;

    if (!g_atomic_int_compare_and_exchange(&r->finished, 0, 1)) {
        return false;
    }
    if (exec_us > G_MAXUINT32) {
        exec_us = G_MAXUINT32;
    }
    if (error == VGPU_OK && r->window) {
        struct vgpu_window_range in[2], out;
        unsigned in_count;

        vgpu_window_op_ranges(&r->op, in, &in_count, &out);
        for (unsigned i = 0; i < in_count; i++) {
            read_bytes += in[i].length;
        }
        written_bytes = out.length;
    }
    stats_lock();
    FOR_EACH_COUNTERS(s, r, c, {
        if (r->state == REQUEST_QUEUED) {
            c->queued--;
        } else if (r->state == REQUEST_RUNNING) {
            c->running--;
            stats_hist_record(&c->exec, exec_us);
        }
        if (error == VGPU_OK) {
            c->completed++;
            c->window_read_bytes += read_bytes;
            c->window_written_bytes += written_bytes;
        } else {
            c->errors[error]++;
        }
    });
    stats_unlock();
    len = vgpu_response_encode(response, sizeof(response), error, results,
                               error == VGPU_OK ? result_count : 0, NULL, 0, (uint32_t)exec_us);
    r->complete(r, error, response, len);
    return true;
}

static void count_submitted(struct scheduler *s, struct request *r)
{
    stats_lock();
    FOR_EACH_COUNTERS(s, r, c, c->submitted++);
    stats_unlock();
}

void scheduler_count_unattributed(struct scheduler *s, uint32_t error)
{
    stats_lock();
    s->total.submitted++;
    s->total.errors[error]++;
    stats_unlock();
}

void scheduler_window_released(struct scheduler *s, uint64_t window_id)
{
    g_mutex_lock(&s->lock);
    for (guint i = 0; i < s->units->len; i++) {
        struct sched_unit *u = g_ptr_array_index(s->units, i);

        if (u->open_state == 1 && !u->closing && u->backend->ops->window_released) {
            u->backend->ops->window_released(u->ctx, window_id);
        }
    }
    g_mutex_unlock(&s->lock);
}

void scheduler_reject(struct scheduler *s, struct request *r, uint32_t error)
{
    count_submitted(s, r);
    request_finish(s, r, error, NULL, 0, 0);
    request_free(r);
}

/* Wake every slot of u, e.g. to stop (caller holds the lock). */
static void unit_wake_all(struct sched_unit *u)
{
    for (unsigned k = 0; k < u->in_flight; k++) {
        g_cond_signal(&u->slots[k].wake);
    }
}

/* Whether u may start a request now (caller holds the lock). */
static bool unit_has_room(const struct sched_unit *u)
{
    return u->in_service && u->load < u->in_flight && u->recovers_waiting == 0;
}

/*
 * Claim an idle slot that can start a request of pool_id, on the unit with
 * the least running (caller holds the lock); the caller signals it after
 * unlocking, so that the worker does not wake only to block on the lock
 * the submitter still holds.  NULL when none is idle.
 */
static struct sched_slot *claim_idle_slot(struct scheduler *s, uint32_t pool_id)
{
    uint32_t bit = QUEUE_POOL_BIT(pool_id);
    struct sched_slot *best = NULL;

    for (guint i = 0; i < s->units->len; i++) {
        struct sched_unit *u = g_ptr_array_index(s->units, i);

        if (!(u->pool_mask & bit) || !unit_has_room(u) ||
            (best && best->unit->running <= u->running)) {
            continue;
        }
        for (unsigned k = 0; k < u->in_flight; k++) {
            if (u->slots[k].waiting) {
                best = &u->slots[k];
                break;
            }
        }
    }
    if (best) {
        best->waiting = false;
    }
    return best;
}

void scheduler_submit(struct scheduler *s, struct request *r)
{
    struct sched_pool *pool = pool_of(s, r->vm->pool_id);
    struct sched_slot *idle = NULL;
    uint32_t error;

    count_submitted(s, r);
    g_mutex_lock(&s->lock);
    if (s->draining) {
        error = VGPU_ERR_CANCELLED;
    } else if (pool->units_in_service == 0) {
        error = VGPU_ERR_BACKEND;
    } else {
        error = queue_push(s->queue, &r->entry, r->vm->pool_id, r->vm->priority,
                           &r->vm->queued, g_get_monotonic_time());
    }
    if (error == VGPU_OK) {
        r->state = REQUEST_QUEUED;
        stats_lock();
        FOR_EACH_COUNTERS(s, r, c, c->queued++);
        stats_unlock();
        if (!s->paused) {
            idle = claim_idle_slot(s, r->vm->pool_id);
            g_atomic_int_inc(&s->generation);   /* a spinning unit takes it without a wake */
        }
    }
    g_mutex_unlock(&s->lock);
    if (idle) {
        g_cond_signal(&idle->wake);
    }
    if (error != VGPU_OK) {
        request_finish(s, r, error, NULL, 0, 0);
        request_free(r);
    }
}

struct cancel_ctx {
    bool (*match)(struct request *r, void *data);
    void *data;
    GPtrArray *taken;
};

static bool cancel_match(struct queue_entry *e, void *data)
{
    struct cancel_ctx *ctx = data;

    return ctx->match((struct request *)e, ctx->data);
}

static void cancel_take(struct queue_entry *e, void *data)
{
    struct cancel_ctx *ctx = data;

    g_ptr_array_add(ctx->taken, e);
}

/* Take the matching queued requests out (caller holds the lock). */
static GPtrArray *take_matching(struct scheduler *s, bool (*match)(struct request *r, void *data),
                                void *data)
{
    struct cancel_ctx ctx = { match, data, g_ptr_array_new() };

    queue_remove_matching(s->queue, cancel_match, cancel_take, &ctx);
    return ctx.taken;
}

/* Complete and free what take_matching() took (without the lock). */
static unsigned finish_taken(struct scheduler *s, GPtrArray *taken, uint32_t error)
{
    unsigned n = taken->len;

    for (guint i = 0; i < taken->len; i++) {
        struct request *r = g_ptr_array_index(taken, i);

        request_finish(s, r, error, NULL, 0, 0);
        request_free(r);
    }
    g_ptr_array_unref(taken);
    return n;
}

unsigned scheduler_cancel(struct scheduler *s, bool (*match)(struct request *r, void *data),
                          void *data, uint32_t error)
{
    GPtrArray *taken;

    g_mutex_lock(&s->lock);
    taken = take_matching(s, match, data);
    g_mutex_unlock(&s->lock);
    return finish_taken(s, taken, error);
}

static bool match_pool_mask(struct request *r, void *data)
{
    return (QUEUE_POOL_BIT(r->vm->pool_id) & *(uint32_t *)data) != 0;
}

/*
 * Take u out of service after recover() failed; pools left without a unit
 * end their queued requests with BACKEND (caller holds the lock).
 */
static GPtrArray *unit_retire(struct scheduler *s, struct sched_unit *u)
{
    uint32_t orphaned = 0;

    u->in_service = false;
    for (unsigned i = 0; i < s->pool_count; i++) {
        struct sched_pool *p = &s->pools[i];

        if ((u->pool_mask & QUEUE_POOL_BIT(p->pool_id)) && --p->units_in_service == 0) {
            orphaned |= QUEUE_POOL_BIT(p->pool_id);
            g_critical("pool %c has no unit in service: its requests now fail with BACKEND",
                       (char)p->pool_id);
        }
    }
    return take_matching(s, match_pool_mask, &orphaned);
}

/*
 * A request without a data window or a CUDA batch (VECTOR_ADD) takes one
 * slot; any other takes them all and runs alone: what a high-priority
 * request may wait behind is then one such operation, as with a single
 * slot, and backends need not run window operations side by side.
 */
static unsigned request_cost(const struct sched_unit *u, const struct request *r)
{
    return r->window || r->view.opcode == VGPU_OP_CUDA ? u->in_flight : 1;
}

/*
 * Wake one more idle slot of u when u has room and its pools have work
 * (caller holds the lock): a slot that took a request passes the baton,
 * so that a burst fills every slot without a submit for each.
 */
static struct sched_slot *unit_claim_another(struct sched_unit *u)
{
    struct scheduler *s = u->sched;

    if (!unit_has_room(u) || s->paused || s->draining ||
        !queue_peek(s->queue, u->pool_mask, g_get_monotonic_time())) {
        return NULL;
    }
    for (unsigned k = 0; k < u->in_flight; k++) {
        if (u->slots[k].waiting) {
            u->slots[k].waiting = false;
            return &u->slots[k];
        }
    }
    return NULL;
}

/*
 * After a request, an idle slot first spins (without the lock) for up to
 * spin_us waiting for new work: a request that follows within that window
 * (a guest's next one, one round trip later) then costs no futex wake-up of
 * the worker, about 5-10 us.  One slot of a unit spins at a time.  Caller
 * holds the lock; so does the return.
 */
static void slot_spin(struct sched_slot *slot)
{
    struct scheduler *s = slot->unit->sched;
    gint generation = g_atomic_int_get(&s->generation);
    gint64 end = g_get_monotonic_time() + s->spin_us;

    slot->unit->spinning = true;
    g_mutex_unlock(&s->lock);
    while (g_atomic_int_get(&s->generation) == generation && g_get_monotonic_time() < end) {
        vgpu_cpu_relax();
    }
    g_mutex_lock(&s->lock);
    slot->unit->spinning = false;
}

/*
 * Wait for the next request slot may start: the queue's first for the
 * unit's pools, once the unit has room for it (what runs alone waits for
 * the unit to empty, and nothing passes it meanwhile).  The request is out
 * of the queue and counted as running.  NULL when the slot must stop.
 * Caller holds the lock; so does the return.
 */
static struct request *slot_next(struct sched_slot *slot)
{
    struct sched_unit *u = slot->unit;
    struct scheduler *s = u->sched;
    bool may_spin = s->spin_us != 0;

    while (!s->stopping && u->in_service) {
        struct queue_entry *e = NULL;

        if (!s->paused && !s->draining && u->recovers_waiting == 0) {
            e = queue_peek(s->queue, u->pool_mask, g_get_monotonic_time());
        }
        if (e) {
            struct request *r = (struct request *)e;
            unsigned cost = request_cost(u, r);

            if (u->load + cost <= u->in_flight) {
                queue_remove(s->queue, e);
                r->state = REQUEST_RUNNING;
                r->started = ++s->started;
                u->running++;
                u->load += cost;
                u->executing++;
                slot->current = r;
                return r;
            }
            may_spin = false;   /* it waits for a running request, not for a submit */
        }
        if (may_spin && !u->spinning) {
            slot_spin(slot);
            may_spin = false;
            continue;
        }
        slot->waiting = true;
        g_cond_wait(&slot->wake, &s->lock);
        slot->waiting = false;
    }
    return NULL;
}

/*
 * After execute() failed: once no other slot of u is inside execute(),
 * run recover() alone (no request starts on u meanwhile); take u out of
 * service if it cannot recover.
 */
static void slot_recover(struct sched_slot *slot)
{
    struct sched_unit *u = slot->unit;
    struct scheduler *s = u->sched;
    char why[VGPU_BACKEND_ERROR_MAX] = "";
    GPtrArray *orphans = NULL;
    bool ok;

    g_mutex_lock(&s->lock);
    u->recovers_waiting++;
    while (u->executing > 0 || u->recovering) {
        g_cond_wait(&s->idle, &s->lock);
    }
    u->recovering = true;
    g_mutex_unlock(&s->lock);
    ok = u->backend->ops->recover(u->ctx, why, sizeof(why));
    g_mutex_lock(&s->lock);
    u->recovering = false;
    u->recovers_waiting--;
    if (!ok) {
        g_critical("%s taken out of service: recovery failed: %s", u->info.name, why);
        orphans = unit_retire(s, u);
    }
    g_cond_broadcast(&s->idle);
    unit_wake_all(u);
    g_mutex_unlock(&s->lock);
    if (orphans) {
        finish_taken(s, orphans, VGPU_ERR_BACKEND);
    }
}

/* Run r on slot (without the lock); account the unit and complete r. */
static void slot_run(struct sched_slot *slot, struct request *r)
{
    struct sched_unit *u = slot->unit;
    struct scheduler *s = u->sched;
    const struct vgpu_backend_ops *ops = u->backend->ops;
    uint32_t results[VGPU_RESPONSE_MAX_RESULTS];
    uint32_t result_count = 0, error;
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    gint64 start = g_get_monotonic_time(), end;
    uint64_t wait_us = (uint64_t)(start - r->entry.enqueued_us);
    uint64_t exec_ns = 0;
    struct vgpu_backend_cuda_usage usage = { 0 };

    stats_lock();
    FOR_EACH_COUNTERS(s, r, c, {
        c->queued--;
        c->running++;
        stats_hist_record(&c->wait, wait_us);
    });
    if (u->in_execute++ == 0) {
        u->busy_since = start;
    }
    stats_unlock();
    error = ops->execute(u->ctx, &(struct vgpu_backend_job){
                             .request = &r->view,
                             .op = r->window ? &r->op : NULL,
                             .window = r->window ? &r->window->w : NULL,
                             .vm = &(struct vgpu_backend_vm){
                                 .vm_id = r->vm->vm_id,
                                 .name = r->vm->name,
                                 .gpu_memory_quota = r->vm->gpu_memory_quota,
                             },
                             .usage = &usage,
                             .slot = slot->index,
                         }, results, &result_count, &exec_ns, err, sizeof(err));
    g_mutex_lock(&s->lock);
    if (--u->executing == 0 && u->recovers_waiting) {
        g_cond_broadcast(&s->idle);
    }
    stats_lock();
    if (--u->in_execute == 0) {
        u->stats.busy_us += (uint64_t)(g_get_monotonic_time() - u->busy_since);
    }
    u->stats.requests++;
    /* usage is VGPU_OP_CUDA's alone: a plugin that sets it for another opcode is ignored */
    if (usage.valid && r->view.opcode == VGPU_OP_CUDA) {
        stats_cuda_record(&r->vm->cuda, &usage, exec_ns);
    }
    stats_unlock();
    g_mutex_unlock(&s->lock);
    if (error != VGPU_OK) {
        g_warning("%s: request %u of domain '%s' (uuid %s) failed: %s", u->info.name,
                  r->request_id, r->vm->name, r->vm->uuid_str, err[0] ? err : "no reason given");
        error = VGPU_ERR_BACKEND;       /* the only failure a backend may report */
        slot_recover(slot);
    }
    if (result_count > VGPU_RESPONSE_MAX_RESULTS) {
        result_count = VGPU_RESPONSE_MAX_RESULTS;
    }
    end = g_get_monotonic_time();
    /* Lines are logged as requests end; "started #N" gives the order they started in. */
    if (s->log_each_request) {
        g_debug("%s: ran request %u of domain '%s' (vm-id %u): %s, started #%" G_GUINT64_FORMAT
                ", waited %" G_GUINT64_FORMAT " us, ran %" G_GINT64_FORMAT " us", u->info.name,
                r->request_id, r->vm->name, r->vm->vm_id, vgpu_error_name(error), r->started,
                wait_us, end - start);
    }
    request_finish(s, r, error, results, result_count, exec_ns);
}

/* The request on slot ended: give its room back (lock held). */
static void slot_release(struct sched_slot *slot, struct request *r)
{
    struct sched_unit *u = slot->unit;

    u->load -= request_cost(u, r);
    u->running--;
    slot->current = NULL;
    g_cond_broadcast(&u->sched->idle);
}

/* Take requests and run them until the unit stops or leaves service. */
static void slot_serve(struct sched_slot *slot)
{
    struct scheduler *s = slot->unit->sched;
    struct request *r;

    g_mutex_lock(&s->lock);
    while ((r = slot_next(slot))) {
        struct sched_slot *next = unit_claim_another(slot->unit);

        g_mutex_unlock(&s->lock);
        if (next) {
            g_cond_signal(&next->wake);
        }
        slot_run(slot, r);
        g_mutex_lock(&s->lock);
        slot_release(slot, r);
        g_mutex_unlock(&s->lock);
        request_free(r);
        g_mutex_lock(&s->lock);
    }
    g_mutex_unlock(&s->lock);
}

static gpointer slot_main(gpointer data)
{
    slot_serve(data);
    return NULL;
}

/*
 * Slot 0's thread: open the unit, start its other slots (as many as the
 * backend allows), serve, and once every slot stopped, close the unit.
 */
static gpointer unit_main(gpointer data)
{
    struct sched_unit *u = data;
    struct scheduler *s = u->sched;
    char err[VGPU_BACKEND_ERROR_MAX] = "";
    void *ctx = u->backend->ops->open(&u->config, &u->info, err, sizeof(err));
    unsigned allowed = u->info.max_in_flight ? u->info.max_in_flight : 1;

    g_mutex_lock(&s->lock);
    u->ctx = ctx;
    u->in_flight = MIN(u->in_flight_wanted, allowed);
    u->open_state = ctx ? 1 : -1;
    u->in_service = ctx != NULL;
    g_strlcpy(u->open_error, err[0] ? err : "open failed", sizeof(u->open_error));
    g_cond_broadcast(&s->opened);
    g_mutex_unlock(&s->lock);
    if (!ctx) {
        return NULL;
    }
    for (unsigned k = 1; k < u->in_flight; k++) {
        g_autofree char *name = g_strdup_printf("vgpu-unit-%d.%u", u->config.index, k);

        u->slots[k].thread = g_thread_new(name, slot_main, &u->slots[k]);
    }
    slot_serve(&u->slots[0]);
    for (unsigned k = 1; k < u->in_flight; k++) {
        g_thread_join(u->slots[k].thread);
    }
    g_mutex_lock(&s->lock);
    u->closing = true;
    g_mutex_unlock(&s->lock);
    u->backend->ops->close(ctx);
    return NULL;
}

static struct sched_unit *unit_add(struct scheduler *s, const struct backend *be, int index,
                                   uint32_t service_time_us)
{
    struct sched_unit *u = g_new0(struct sched_unit, 1);

    u->sched = s;
    u->backend = be;
    u->config.index = index;
    u->config.service_time_us = service_time_us;
    for (unsigned k = 0; k < CONFIG_IN_FLIGHT_MAX; k++) {
        u->slots[k].unit = u;
        u->slots[k].index = k;
        g_cond_init(&u->slots[k].wake);
    }
    g_ptr_array_add(s->units, u);
    return u;
}

static struct sched_unit *unit_find(struct scheduler *s, const struct backend *be, int index)
{
    for (guint i = 0; i < s->units->len; i++) {
        struct sched_unit *u = g_ptr_array_index(s->units, i);

        if (u->backend == be && u->config.index == index) {
            return u;
        }
    }
    return NULL;
}

/* The GPU backend for pool, with the units it names checked; NULL with why. */
static const struct backend *pool_gpu_backend(const struct config_pool *pool,
                                              struct backends *backends, GError **error)
{
    const struct backend *be = backends_get(backends, pool->backend, error);

    if (!be) {
        return NULL;
    }
    for (unsigned g = 0; g < pool->gpu_count; g++) {
        if (pool->gpus[g] >= be->unit_count) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                        "backend \"%s\" has %d unit(s) here, so GPU %d does not exist",
                        pool->backend, be->unit_count, pool->gpus[g]);
            return NULL;
        }
    }
    if (be->unit_count == 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "backend \"%s\" found no unit on this host", pool->backend);
        return NULL;
    }
    return be;
}

/* Set up the pool's backend and units (falling back to cpu if allowed). */
static gboolean pool_build(struct scheduler *s, const struct config *cfg,
                           const struct config_pool *pool, struct sched_pool *sp,
                           struct backends *backends, GError **error)
{
    uint32_t bit = QUEUE_POOL_BIT(pool->pool_id);
    const struct backend *be = NULL;
    g_autoptr(GError) why = NULL;

    sp->pool_id = pool->pool_id;
    if (strcmp(pool->backend, "cpu") != 0) {
        be = pool_gpu_backend(pool, backends, &why);
        if (!be && !pool->fallback) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                        "%s:%d: [pool %c] backend: %s (set fallback=cpu to run this pool "
                        "on the CPU instead)", cfg->path, pool->line, (char)pool->pool_id,
                        why->message);
            return FALSE;
        }
        if (!be) {
            g_warning("pool %c: %s; using fallback=cpu with %u lane(s)", (char)pool->pool_id,
                      why->message, pool->workers);
            sp->fell_back = true;
        }
    }
    if (be) {
        int count = pool->gpu_count ? (int)pool->gpu_count : be->unit_count;

        for (int g = 0; g < count; g++) {
            int index = pool->gpu_count ? pool->gpus[g] : g;
            struct sched_unit *u = unit_find(s, be, index);

            if (!u) {
                u = unit_add(s, be, index, pool->service_time_us);
            }
            u->pool_mask |= bit;
            u->in_flight_wanted = MAX(u->in_flight_wanted, pool->in_flight);
        }
    } else {
        be = backends_get(backends, "cpu", error);
        if (!be) {
            return FALSE;
        }
        for (unsigned lane = 0; lane < pool->workers; lane++) {
            struct sched_unit *u = unit_add(s, be, (int)lane, pool->service_time_us);

            u->pool_mask = bit;
            u->in_flight_wanted = pool->in_flight;
        }
    }
    sp->backend = be;
    return TRUE;
}

/* Start every unit's worker and wait until each has opened (or failed to). */
static gboolean units_start(struct scheduler *s, GError **error)
{
    for (guint i = 0; i < s->units->len; i++) {
        struct sched_unit *u = g_ptr_array_index(s->units, i);
        g_autofree char *name = g_strdup_printf("vgpu-unit-%u", i);

        u->slots[0].thread = g_thread_new(name, unit_main, u);
    }
    g_mutex_lock(&s->lock);
    for (guint i = 0; i < s->units->len; i++) {
        struct sched_unit *u = g_ptr_array_index(s->units, i);

        while (u->open_state == 0) {
            g_cond_wait(&s->opened, &s->lock);
        }
        if (u->open_state < 0 && !(error && *error)) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                        "backend \"%s\" cannot open unit %d: %s", u->backend->name,
                        u->config.index, u->open_error);
        }
    }
    for (guint i = 0; i < s->units->len; i++) {
        struct sched_unit *u = g_ptr_array_index(s->units, i);

        for (unsigned p = 0; p < s->pool_count && u->in_service; p++) {
            if (u->pool_mask & QUEUE_POOL_BIT(s->pools[p].pool_id)) {
                s->pools[p].units_in_service++;
            }
        }
    }
    g_mutex_unlock(&s->lock);
    return !(error && *error);
}

struct scheduler *scheduler_new(const struct config *cfg, struct backends *backends,
                                GError **error)
{
    struct scheduler *s = g_new0(struct scheduler, 1);
    g_autoptr(GError) local = NULL;

    g_mutex_init(&s->lock);
    g_cond_init(&s->opened);
    g_cond_init(&s->idle);
    s->queue = queue_new(cfg->queue_limit, cfg->vm_queue_limit, cfg->aging_ms);
    s->spin_us = cfg->spin_us;
    s->log_each_request = cfg->log_level == G_LOG_LEVEL_DEBUG;
    s->units = g_ptr_array_new();
    for (unsigned i = 0; i < cfg->pool_count; i++) {
        struct sched_pool *sp = &s->pools[s->pool_count];

        if (!pool_build(s, cfg, &cfg->pools[i], sp, backends, &local)) {
            break;
        }
        s->by_id[sp->pool_id - VGPU_POOL_FIRST] = sp;
        s->pool_count++;
    }
    if (!local) {
        units_start(s, &local);
    }
    if (local) {
        g_propagate_error(error, g_steal_pointer(&local));
        scheduler_free(s, 0);
        return NULL;
    }
    for (guint i = 0; i < s->units->len; i++) {
        struct sched_unit *u = g_ptr_array_index(s->units, i);
        g_autofree char *pools = NULL;
        GString *list = g_string_new(NULL);

        for (unsigned p = 0; p < s->pool_count; p++) {
            if (u->pool_mask & QUEUE_POOL_BIT(s->pools[p].pool_id)) {
                g_string_append_printf(list, "%s%c", list->len ? "," : "",
                                       (char)s->pools[p].pool_id);
            }
        }
        pools = g_string_free(list, FALSE);
        if (u->info.memory_bytes) {
            g_info("unit %u: %s (backend %s, GPU %d, %.1f GiB, compute capability %d.%d) "
                   "serves pool(s) %s", i, u->info.name, u->backend->name, u->config.index,
                   u->info.memory_bytes / 1073741824.0, u->info.compute_major,
                   u->info.compute_minor, pools);
        } else {
            g_info("unit %u: %s (backend %s) serves pool(s) %s", i, u->info.name,
                   u->backend->name, pools);
        }
    }
    return s;
}

static bool match_all(struct request *r, void *data)
{
    (void)r;
    (void)data;
    return true;
}

void scheduler_drain(struct scheduler *s)
{
    GPtrArray *taken;
    unsigned n;

    g_mutex_lock(&s->lock);
    s->draining = true;
    taken = take_matching(s, match_all, NULL);
    g_mutex_unlock(&s->lock);
    n = finish_taken(s, taken, VGPU_ERR_CANCELLED);
    if (n) {
        g_info("stopping: %u queued request(s) cancelled", n);
    }
}

unsigned scheduler_running(struct scheduler *s)
{
    unsigned n = 0;

    g_mutex_lock(&s->lock);
    for (guint i = 0; i < s->units->len; i++) {
        n += ((struct sched_unit *)g_ptr_array_index(s->units, i))->running;
    }
    g_mutex_unlock(&s->lock);
    return n;
}

bool scheduler_free(struct scheduler *s, unsigned timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    bool stuck = false;

    scheduler_drain(s);

    g_mutex_lock(&s->lock);
    for (guint i = 0; i < s->units->len; i++) {
        struct sched_unit *u = g_ptr_array_index(s->units, i);

        while (u->running && g_cond_wait_until(&s->idle, &s->lock, deadline)) {
        }
        for (unsigned k = 0; k < u->in_flight; k++) {
            struct request *r = u->slots[k].current;

            if (!r) {
                continue;
            }
            /* It overran the drain time: answer for it; its unit's threads are left behind. */
            g_warning("%s did not finish request %u within %u ms; ending it with CANCELLED",
                      u->info.name, r->request_id, timeout_ms);
            request_finish(s, r, VGPU_ERR_CANCELLED, NULL, 0, 0);
            stuck = true;
            u->overran = true;
        }
    }
    s->stopping = true;
    g_atomic_int_inc(&s->generation);
    for (guint i = 0; i < s->units->len; i++) {
        unit_wake_all(g_ptr_array_index(s->units, i));
    }
    g_mutex_unlock(&s->lock);
    for (guint i = 0; i < s->units->len; i++) {
        struct sched_unit *u = g_ptr_array_index(s->units, i);

        if (u->slots[0].thread && !u->overran) {
            g_thread_join(u->slots[0].thread);  /* which joins the unit's other slots */
        }
    }
    if (stuck) {
        return false;   /* a worker still uses s; the process is about to exit */
    }
    for (guint i = 0; i < s->units->len; i++) {
        struct sched_unit *u = g_ptr_array_index(s->units, i);

        for (unsigned k = 0; k < CONFIG_IN_FLIGHT_MAX; k++) {
            g_cond_clear(&u->slots[k].wake);
        }
        g_free(u);
    }
    g_ptr_array_unref(s->units);
    queue_free(s->queue);
    g_cond_clear(&s->opened);
    g_cond_clear(&s->idle);
    g_mutex_clear(&s->lock);
    g_free(s);
    return true;
}

void scheduler_set_paused(struct scheduler *s, bool paused)
{
    g_mutex_lock(&s->lock);
    s->paused = paused;
    if (!paused) {
        g_atomic_int_inc(&s->generation);
        for (guint i = 0; i < s->units->len; i++) {
            unit_wake_all(g_ptr_array_index(s->units, i));
        }
    }
    g_mutex_unlock(&s->lock);
}

bool scheduler_paused(struct scheduler *s)
{
    bool paused;

    g_mutex_lock(&s->lock);
    paused = s->paused;
    g_mutex_unlock(&s->lock);
    return paused;
}

struct sched_pool *scheduler_pools(struct scheduler *s, unsigned *count)
{
    *count = s->pool_count;
    return s->pools;
}

unsigned scheduler_unit_count(struct scheduler *s)
{
    return s->units->len;
}

void scheduler_unit_report(struct scheduler *s, unsigned index, struct sched_unit_report *out)
{
    struct sched_unit *u = g_ptr_array_index(s->units, index);

    /* name, backend, config and pool_mask are fixed once the unit is open */
    g_strlcpy(out->name, u->info.name, sizeof(out->name));
    out->backend = u->backend->name;
    out->index = u->config.index;
    out->pool_mask = u->pool_mask;
    g_mutex_lock(&s->lock);
    out->in_flight = u->in_flight;
    out->in_service = u->in_service;
    g_mutex_unlock(&s->lock);
    stats_lock();
    out->stats = u->stats;
    stats_unlock();
}

const struct stats_counters *scheduler_total(struct scheduler *s)
{
    return &s->total;
}

unsigned scheduler_queued(struct scheduler *s)
{
    unsigned n;

    g_mutex_lock(&s->lock);
    n = queue_length(s->queue);
    g_mutex_unlock(&s->lock);
    return n;
}
