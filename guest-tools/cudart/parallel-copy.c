/*
 * Large copies between a program's ordinary memory and the window's
 * staging area, on several threads.  One core's memcpy (5-6 GB/s measured
 * on the H200 host) is far slower than the host's DMA from the window
 * (55 GB/s) and than NVIDIA's own pageable path; the cores of a VM are not.
 *
 * The calls run under the library's lock, so there is one copy at a time:
 * the caller copies the first slice, up to COPY_THREADS - 1 helpers one
 * each, started on first use.  A child after fork() has no helpers and
 * copies alone.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

#define COPY_THREADS    4u
#define COPY_SLICE_MIN  (1u << 20)  /* below two of these, one memcpy */

struct slice {
    unsigned char *dst;
    const unsigned char *src;
    size_t len;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    unsigned generation;        /* bumped for each copy */
    unsigned pending;           /* helpers' slices not yet copied */
    struct slice slices[COPY_THREADS];
    unsigned helpers;           /* started */
    unsigned want;              /* helpers for this process's CPUs, counted once */
    pid_t pid;                  /* the process that started them */
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

/* arg: the helper's slice index, and the generation it was started in (it waits for the next). */
static void *helper_main(void *arg)
{
    unsigned index = (unsigned)((uintptr_t)arg & 0xff), seen = (unsigned)((uintptr_t)arg >> 8);

    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (pool.generation == seen) {
            pthread_cond_wait(&pool.work, &pool.lock);
        }
        seen = pool.generation;
        struct slice s = pool.slices[index];

        pthread_mutex_unlock(&pool.lock);
        if (s.len > 0) {
            memcpy(s.dst, s.src, s.len);
        }
        pthread_mutex_lock(&pool.lock);
        if (--pool.pending == 0) {
            pthread_cond_signal(&pool.done);
        }
    }
    return NULL;
}

/* Start the helpers once per process; how many run. */
static unsigned helpers_ready(void)
{
    if (pool.pid != getpid()) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        pool.pid = getpid();
        pool.want = cpus > 1 ? (unsigned)(cpus < COPY_THREADS ? cpus : COPY_THREADS) - 1 : 0;
        pool.helpers = 0;
        pool.generation = 0;
    }
    while (pool.helpers < pool.want) {
        pthread_t thread;
        pthread_attr_t attr;
        bool started;

        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&thread, &attr, helper_main,
                                 (void *)(uintptr_t)((pool.helpers + 1) |
                                                     (uintptr_t)pool.generation << 8)) == 0;
        pthread_attr_destroy(&attr);
        if (!started) {
            break;
        }
        pool.helpers++;
    }
    return pool.helpers;
}

void cudart_parallel_copy(void *dst, const void *src, size_t len)
{
    unsigned helpers = len >= 2 * COPY_SLICE_MIN ? helpers_ready() : 0;
    unsigned parts = helpers + 1;
    size_t slice;

    if (parts > len / COPY_SLICE_MIN) {
        parts = (unsigned)(len / COPY_SLICE_MIN);
    }
    if (parts <= 1) {
        memcpy(dst, src, len);
        return;
    }
    /* slices of whole cache lines; the caller's, the first, takes the rest */
    slice = len / parts & ~(size_t)63;
    pthread_mutex_lock(&pool.lock);
    for (unsigned i = 1; i < COPY_THREADS; i++) {
        size_t at = len - (parts - i) * slice;

        pool.slices[i] = i < parts ? (struct slice){ (unsigned char *)dst + at,
                                                     (const unsigned char *)src + at, slice }
                                   : (struct slice){ NULL, NULL, 0 };
    }
    pool.pending = helpers;
    pool.generation++;
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.lock);
    memcpy(dst, src, len - (parts - 1) * slice);
    pthread_mutex_lock(&pool.lock);
    while (pool.pending > 0) {
        pthread_cond_wait(&pool.done, &pool.lock);
    }
    pthread_mutex_unlock(&pool.lock);
}
