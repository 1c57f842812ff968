/*
 * The isolation run: one high-priority VM sends a tiny request (VECTOR_ADD)
 * at a fixed rate, one in flight, while low-priority VMs keep the unit busy,
 * one request in flight per VM, resent at once: ADD_F32 sized to take at
 * least low_op_us each, or VECTOR_ADD on a pool whose service time makes
 * every request long (a cpu lane that sleeps, as a busy GPU leaves the
 * host's CPUs free; the high VM's request then takes that long too).  Blocks with the high VM alone alternate
 * with blocks beside the low VMs, so that the machine's load hits both
 * alike.  The goal: the high VM's p99 beside the low VMs is at most its p99
 * alone plus one low request's duration (the one already running when it
 * arrives; the queue puts it before every waiting low request).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "latency-hist.h"
#include "load-device.h"
#include "load-options.h"

#define SETTLE_NS   100000000ull    /* a loaded block's first 100 ms: the low VMs start */

struct isolation {
    const struct isolation_options *o;
    struct load_device high;
    struct load_device *low;
    uint64_t count;                 /* ADD_F32 elements of a low request */
    int ep, timer;
    struct latency_hist alone, loaded;      /* the high VM's round trips */
    struct latency_hist low_exec;           /* the low requests' backend time */
    uint64_t high_skipped;                  /* ticks that found the last one still in flight */
};

static int send_request(struct isolation *s, struct load_device *d, uint32_t op)
{
    unsigned char req[VGPU_REQUEST_MAX];
    size_t len = load_request_encode(req, sizeof(req), op, s->count, d->last_seq + 1, d->index);

    return len ? load_device_submit(d, req, len) : -1;
}

/*
 * Read one COMPLETE of d, waiting (bounded); VGPU_OK with its backend time
 * in *exec_us, or why not.
 */
static int wait_complete(struct load_device *d, uint32_t op, uint32_t *exec_us)
{
    uint64_t deadline = load_now_ns() + LOAD_TIMEOUT_MS * 1000000ull;
    struct vgpu_response_view response;
    struct wire_msg m;
    uint32_t seq = d->in_flight;
    int rc;

    while ((rc = load_device_next(d, &m)) == 0 || (rc == 1 && m.hdr.type == VGPU_WIRE_IDENTITY)) {
        if (load_now_ns() > deadline) {
            return -1;
        }
        if (rc == 0) {
            usleep(50);
        }
    }
    if (rc < 0 || load_device_complete(d, &m, &response) != VGPU_OK ||
        !load_response_right(&response, op, seq, d->index)) {
        return -1;
    }
    d->completed++;
    *exec_us = response.exec_time_us;
    return 0;
}

/* One request of d, start to end; -1 when it failed. */
static int run_one(struct isolation *s, struct load_device *d, uint32_t op, uint32_t *exec_us)
{
    return send_request(s, d, op) < 0 ? -1 : wait_complete(d, op, exec_us);
}

/* The median of three runs' backend time (after one that touches the pages); -1 on failure. */
static int64_t median_exec_us(struct isolation *s)
{
    uint32_t t[4];

    for (int i = 0; i < 4; i++) {
        if (run_one(s, &s->low[0], s->o->low_op, &t[i]) < 0) {
            fprintf(stderr, "loadgen: %s of %llu elements failed\n",
                    load_op_name(s->o->low_op), (unsigned long long)s->count);
            return -1;
        }
    }
    /* sort t[1..3] */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 1; i < 3 - pass; i++) {
            if (t[i] > t[i + 1]) {
                uint32_t swap = t[i];

                t[i] = t[i + 1];
                t[i + 1] = swap;
            }
        }
    }
    return t[2];
}

/*
 * Size an ADD_F32: double its count until the backend takes low_op_us (a
 * median: the host's other load varies); then run every low VM once (the
 * first request on a window touches its pages).  0 or -1.
 */
static int calibrate(struct isolation *s)
{
    int64_t exec_us;
    uint32_t once;

    for (s->count = 4096; s->o->low_op == VGPU_OP_ADD_F32; s->count *= 2) {
        if ((exec_us = median_exec_us(s)) < 0) {
            return -1;
        }
        if (exec_us >= s->o->low_op_us) {
            break;
        }
        if (load_window_size(2 * s->count) > s->o->window_size) {
            fprintf(stderr, "loadgen: the low VMs' window (%llu bytes) holds no request of "
                    "%.0f us: the largest took %lld us\n",
                    (unsigned long long)s->o->window_size, s->o->low_op_us, (long long)exec_us);
            break;
        }
    }
    for (unsigned i = s->o->low_op == VGPU_OP_ADD_F32; i < s->o->low_count; i++) {
        if (run_one(s, &s->low[i], s->o->low_op, &once) < 0) {
            return -1;
        }
    }
    return 0;
}

static void timer_set(struct isolation *s, double rate)
{
    uint64_t period = rate > 0 ? (uint64_t)(1e9 / rate) : 0;
    struct itimerspec its = {
        .it_interval = { (time_t)(period / 1000000000u), (long)(period % 1000000000u) },
        .it_value = { (time_t)(period / 1000000000u), (long)(period % 1000000000u) },
    };

    timerfd_settime(s->timer, 0, &its, NULL);
}

/* A COMPLETE for d arrived during a block. */
static int block_complete(struct isolation *s, struct load_device *d, int loaded,
                          uint64_t settled, uint64_t end)
{
    int is_high = d == &s->high;
    uint32_t op = is_high ? VGPU_OP_VECTOR_ADD : s->o->low_op;
    struct vgpu_response_view response;
    struct wire_msg m;
    int rc;

    while ((rc = load_device_next(d, &m)) == 1) {
        uint64_t now = load_now_ns(), sent = d->sent_ns;
        uint32_t seq = m.hdr.seq;

        if (m.hdr.type == VGPU_WIRE_IDENTITY) {
            continue;
        }
        if (load_device_complete(d, &m, &response) != VGPU_OK ||
            !load_response_right(&response, op, seq, d->index)) {
            fprintf(stderr, "loadgen: VM %u: a request failed\n", d->index);
            return -1;
        }
        d->completed++;
        if (is_high && sent >= settled) {
            latency_hist_add(loaded ? &s->loaded : &s->alone, now - sent);
        } else if (!is_high) {
            latency_hist_add(&s->low_exec, (uint64_t)response.exec_time_us * 1000u);
            if (now < end && send_request(s, d, op) < 0) {
                return -1;
            }
        }
    }
    return rc;
}

static int in_flight(const struct isolation *s)
{
    int n = s->high.in_flight != 0;

    for (unsigned i = 0; i < s->o->low_count; i++) {
        n += s->low[i].in_flight != 0;
    }
    return n;
}

/* One block: the high VM at its rate, the low VMs too when loaded; then drain.  0 or -1. */
static int run_block(struct isolation *s, int loaded)
{
    uint64_t start = load_now_ns(), end = start + (uint64_t)(s->o->block_seconds * 1e9);
    uint64_t settled = start + (loaded ? SETTLE_NS : 0);
    uint64_t drain_end = end + LOAD_TIMEOUT_MS * 1000000ull;
    struct epoll_event events[16];

    for (unsigned i = 0; loaded && i < s->o->low_count; i++) {
        if (send_request(s, &s->low[i], s->o->low_op) < 0) {
            return -1;
        }
    }
    timer_set(s, s->o->rate);
    for (;;) {
        uint64_t now = load_now_ns();
        int n;

        if (now >= end) {
            timer_set(s, 0);
            if (!in_flight(s)) {
                return 0;
            }
            if (now >= drain_end) {
                fprintf(stderr, "loadgen: requests still in flight %d ms after a block\n",
                        LOAD_TIMEOUT_MS);
                return -1;
            }
        }
        n = epoll_wait(s->ep, events, 16, now >= end ? 100 : (int)((end - now) / 1000000u) + 1);
        for (int i = 0; i < n; i++) {
            uint64_t ticks;

            if (events[i].data.ptr == NULL) {
                if (read(s->timer, &ticks, sizeof(ticks)) == sizeof(ticks) && load_now_ns() < end) {
                    if (s->high.in_flight) {
                        s->high_skipped++;
                    } else if (send_request(s, &s->high, VGPU_OP_VECTOR_ADD) < 0) {
                        return -1;
                    }
                }
            } else if (block_complete(s, events[i].data.ptr, loaded, settled, end) < 0) {
                return -1;
            }
        }
    }
}

static void hist_json(FILE *f, const char *name, const struct latency_hist *h)
{
    fprintf(f, "\"%s\":{\"count\":%llu,\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"mean\":%.2f,"
            "\"max\":%.2f}", name, (unsigned long long)h->count, latency_hist_quantile_us(h, 0.5),
            latency_hist_quantile_us(h, 0.99), latency_hist_quantile_us(h, 0.999),
            latency_hist_mean_us(h), (double)h->max_ns / 1e3);
}

static void isolation_report(const struct isolation *s)
{
    const struct isolation_options *o = s->o;
    double a50 = latency_hist_quantile_us(&s->alone, 0.5), a99 = latency_hist_quantile_us(&s->alone, 0.99);
    double l50 = latency_hist_quantile_us(&s->loaded, 0.5), l99 = latency_hist_quantile_us(&s->loaded, 0.99);
    double op50 = latency_hist_quantile_us(&s->low_exec, 0.5);
    FILE *f;

    printf("isolation high VM alone:        p50 %9.1f us  p99 %9.1f us  (%llu requests)\n",
           a50, a99, (unsigned long long)s->alone.count);
    printf("isolation beside %2u low VMs:    p50 %9.1f us  p99 %9.1f us  (%llu requests)\n",
           o->low_count, l50, l99, (unsigned long long)s->loaded.count);
    if (o->low_op == VGPU_OP_ADD_F32) {
        printf("isolation one low ADD_F32 of %llu elements: p50 %.1f us on the backend\n",
               (unsigned long long)s->count, op50);
    } else {
        printf("isolation one low VECTOR_ADD: p50 %.1f us on the backend\n", op50);
    }
    if (!o->json || !(f = fopen(o->json, "w"))) {
        return;
    }
    fprintf(f, "{\"bench\":\"isolation\",\"rate\":%.1f,\"blocks\":%u,\"block_seconds\":%.2f,"
            "\"low_vms\":%u,\"low_op\":\"%s\",\"low_count\":%llu,\"high_skipped\":%llu,"
            "\"completed_by_vm\":[[%u,%llu]",
            o->rate, o->blocks, o->block_seconds, o->low_count, load_op_name(o->low_op),
            (unsigned long long)(o->low_op == VGPU_OP_ADD_F32 ? s->count : 0),
            (unsigned long long)s->high_skipped, s->high.index, (unsigned long long)s->high.completed);
    for (unsigned i = 0; i < o->low_count; i++) {
        fprintf(f, ",[%u,%llu]", s->low[i].index, (unsigned long long)s->low[i].completed);
    }
    fputs("],", f);
    hist_json(f, "alone_us", &s->alone);
    fputc(',', f);
    hist_json(f, "loaded_us", &s->loaded);
    fputc(',', f);
    hist_json(f, "low_exec_us", &s->low_exec);
    fputs("}\n", f);
    fclose(f);
}

static int isolation_open(struct isolation *s)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    const struct isolation_options *o = s->o;

    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (s->ep < 0 || s->timer < 0 || epoll_ctl(s->ep, EPOLL_CTL_ADD, s->timer, &ev) < 0 ||
        load_device_open(&s->high, o->socket, o->high_index, 0) < 0) {
        return -1;
    }
    ev.data.ptr = &s->high;
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->high.fd, &ev) < 0) {
        return -1;
    }
    for (unsigned i = 0; i < o->low_count; i++) {
        if (load_device_open(&s->low[i], o->socket, o->low_first + i,
                             o->low_op == VGPU_OP_ADD_F32 ? o->window_size : 0) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The low devices join the epoll set after calibrating, which reads them directly. */
static int isolation_watch_low(struct isolation *s)
{
    for (unsigned i = 0; i < s->o->low_count; i++) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->low[i] };

        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->low[i].fd, &ev) < 0) {
            return -1;
        }
    }
    return 0;
}

int isolation_run(const struct isolation_options *o)
{
    struct isolation *s = calloc(1, sizeof(*s));
    int rc = 1;

    if (!s || !(s->low = calloc(o->low_count, sizeof(*s->low)))) {
        return 1;
    }
    s->o = o;
    if (isolation_open(s) < 0 || calibrate(s) < 0 || isolation_watch_low(s) < 0) {
        fprintf(stderr, "loadgen: isolation: setting up failed\n");
        goto out;
    }
    for (unsigned b = 0; b < o->blocks; b++) {
        if (run_block(s, 0) < 0 || run_block(s, 1) < 0) {
            goto out;
        }
    }
    isolation_report(s);
    rc = 0;
out:
    load_device_close(&s->high);
    for (unsigned i = 0; i < o->low_count; i++) {
        load_device_close(&s->low[i]);
    }
    free(s->low);
    free(s);
    return rc;
}
