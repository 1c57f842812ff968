/*
 * The scheduler: the one queue, the units that serve the pools (one worker
 * thread each), and the accounting of every request.
 *
 * A unit is a GPU of a plugin backend or a CPU lane.  A GPU named by
 * several pools is one unit serving all of them; CPU lanes belong to their
 * pool.  A unit runs several requests at once where its backend allows
 * (slots; in-flight= in mediator.conf), while the queue's order alone
 * decides which starts next.  An idle slot waits on its own condition
 * variable and is woken directly by the submit that gives it work (no
 * polling).
 *
 * Every request handed to the scheduler ends exactly once in
 * scheduler-accounted completion: its complete() runs with the outcome.
 */
#ifndef MEDIATOR_SCHEDULER_H
#define MEDIATOR_SCHEDULER_H

#include <glib.h>
#include <stdbool.h>

#include "backends.h"
#include "config.h"
#include "request.h"
#include "stats.h"

struct sched_pool {
    uint32_t pool_id;                   /* 'A'..'Z' */
    const struct backend *backend;      /* what its units run */
    bool fell_back;                     /* runs on cpu because its backend cannot run */
    unsigned units_in_service;          /* the scheduler's lock guards it */
    struct stats_counters stats;        /* stats_lock() guards it */
};

struct sched_unit_stats {
    uint64_t requests;                  /* requests it ran */
    uint64_t busy_us;                   /* time with at least one request in execute() */
};

/*
 * One of a unit's places for a running request: a thread that takes the
 * unit's next request from the queue, runs it and completes it.
 */
struct sched_slot {
    struct sched_unit *unit;
    unsigned index;                     /* the backend job's slot */
    GThread *thread;
    GCond wake;                         /* signalled when there is work or on stop */
    /* Guarded by the scheduler's lock: */
    bool waiting;                       /* idle in g_cond_wait, not yet woken */
    struct request *current;            /* running now */
};

/*
 * A unit runs up to in_flight requests at once, one per slot.  A request
 * that runs alone (scheduler.c: request_cost) takes all of them.
 */
struct sched_unit {
    struct scheduler *sched;
    const struct backend *backend;
    struct vgpu_backend_unit_config config;
    struct vgpu_backend_unit_info info; /* filled by open() */
    uint32_t pool_mask;                 /* QUEUE_POOL_BIT of each pool it serves */
    unsigned in_flight_wanted;          /* the largest in-flight= of those pools */
    unsigned in_flight;                 /* slots started: wanted, at most what open() allows */
    struct sched_slot slots[CONFIG_IN_FLIGHT_MAX];
    void *ctx;                          /* the backend's unit; its slots' threads only */
    bool overran;                       /* a request outlived the drain: slot 0 not joined */
    /* Guarded by the scheduler's lock: */
    bool closing;                       /* the worker is about to close ctx */
    bool in_service;                    /* false after a failed recover() */
    int open_state;                     /* 0 opening, 1 open, -1 failed */
    char open_error[VGPU_BACKEND_ERROR_MAX];
    unsigned load;                      /* cost of the requests running */
    unsigned running;                   /* requests taken and not yet completed */
    unsigned executing;                 /* slots from taking a request until execute() returns */
    unsigned recovers_waiting;          /* failed slots waiting to run recover(); none start */
    bool recovering;                    /* recover() runs */
    bool spinning;                      /* a slot spins for new work */
    /* Guarded by stats_lock(): */
    unsigned in_execute;                /* slots inside execute(), for busy_us */
    gint64 busy_since;                  /* when in_execute last went from 0 to 1 */
    struct sched_unit_stats stats;
};

struct scheduler;

/*
 * Build the pools and units the config describes, load their backends
 * (falling back to cpu where a pool allows it), start the workers and wait
 * until every unit is open.  NULL with an error naming the config key.
 */
struct scheduler *scheduler_new(const struct config *cfg, struct backends *backends,
                                GError **error);

/*
 * Begin to stop: refuse new requests (CANCELLED) and end the queued ones
 * with CANCELLED; running ones go on.
 */
void scheduler_drain(struct scheduler *s);

/* Requests running on units now. */
unsigned scheduler_running(struct scheduler *s);

/*
 * Stop: drain, give running requests until timeout_ms to finish (then
 * complete them with CANCELLED), stop the workers and free everything.
 * Returns false when a unit overran (its worker is left running and s is
 * not freed: the process should exit).
 */
bool scheduler_free(struct scheduler *s, unsigned timeout_ms);

/*
 * Accept r (already decoded) for its VM's pool: queue it, or complete it at
 * once with QUEUE_FULL, BACKEND (no unit in service) or CANCELLED (stopping).
 * Either way it is accounted and the scheduler owns it.
 */
void scheduler_submit(struct scheduler *s, struct request *r);

/* Account and complete r at once with error (e.g. a request that did not decode). */
void scheduler_reject(struct scheduler *s, struct request *r, uint32_t error);

/* Count an error that no VM can be charged with (e.g. a SUBMIT without identity). */
void scheduler_count_unattributed(struct scheduler *s, uint32_t error);

/*
 * A data window is gone (window.h): tell every open unit's backend, which
 * may drop what it kept for it.  Any thread, without the scheduler's lock.
 */
void scheduler_window_released(struct scheduler *s, uint64_t window_id);

/* End the queued requests for which match(r, data) holds with error.  Returns how many. */
unsigned scheduler_cancel(struct scheduler *s, bool (*match)(struct request *r, void *data),
                          void *data, uint32_t error);

/* Stop handing queued requests to units (running ones finish), or go on. */
void scheduler_set_paused(struct scheduler *s, bool paused);
bool scheduler_paused(struct scheduler *s);

/* The pools, in config order. */
struct sched_pool *scheduler_pools(struct scheduler *s, unsigned *count);

/* What reports show of a unit: a copy, taken under the locks that guard it. */
struct sched_unit_report {
    char name[sizeof(((struct vgpu_backend_unit_info *)0)->name)];
    const char *backend;                /* the backend's name (static) */
    int index;                          /* GPU ordinal or lane */
    uint32_t pool_mask;                 /* QUEUE_POOL_BIT of each pool it serves */
    unsigned in_flight;                 /* requests it runs at once, at most */
    bool in_service;
    struct sched_unit_stats stats;
};

/* The units, 0..scheduler_unit_count() - 1. */
unsigned scheduler_unit_count(struct scheduler *s);
void scheduler_unit_report(struct scheduler *s, unsigned index, struct sched_unit_report *out);

/* The counters of every request (attributed or not). */
const struct stats_counters *scheduler_total(struct scheduler *s);

/* Requests queued now. */
unsigned scheduler_queued(struct scheduler *s);

#endif /* MEDIATOR_SCHEDULER_H */
