/*
 * The scaling run: `devices` VMs, each with one request in flight, resent
 * as soon as it completes, driven by a few client threads through epoll.
 * Latency is from just before the SUBMIT to the COMPLETE's arrival, as a
 * device sees it; the mediator's CPU time and memory come from /proc.
 * Every device's count of completed requests goes into the JSON, so that
 * the caller can hold them against `vgpuctl stats`.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "latency-hist.h"
#include "load-device.h"
#include "load-options.h"
#include "proc-stat.h"

enum scale_phase { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };

struct scale_device {
    struct load_device dev;
    uint64_t measured;          /* completions inside the measured interval */
};

struct scale_thread {
    pthread_t tid;
    const struct scale_options *o;
    atomic_int *phase;
    struct scale_device *devices;
    unsigned count;
    struct latency_hist hist;   /* the measured interval's latencies */
    int failed;                 /* a connection broke or stalled */
};

static void sleep_seconds(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* This process's CPU time so far (all threads), in microseconds. */
static int64_t self_cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
           ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static int submit_next(const struct scale_options *o, struct load_device *d)
{
    unsigned char req[VGPU_REQUEST_MAX];
    size_t len = load_request_encode(req, sizeof(req), o->op, o->count, d->last_seq + 1, d->index);

    return len ? load_device_submit(d, req, len) : -1;
}

/* Whether the device has sent all it should (or the run is over). */
static int device_done(const struct scale_thread *t, const struct load_device *d)
{
    if (t->o->requests) {
        return d->completed + d->failed >= t->o->requests;
    }
    return atomic_load(t->phase) == PHASE_STOP;
}

/* Take the COMPLETEs that arrived on one device; -1 when its connection broke. */
static int device_read(struct scale_thread *t, struct scale_device *sd, unsigned *active)
{
    struct load_device *d = &sd->dev;
    struct vgpu_response_view response;
    struct wire_msg m;
    int rc;

    while ((rc = load_device_next(d, &m)) == 1) {
        uint64_t now = load_now_ns();
        uint32_t seq = m.hdr.seq;

        if (m.hdr.type == VGPU_WIRE_IDENTITY) {
            continue;       /* sent again on a registration change: not a request's */
        }
        if (load_device_complete(d, &m, &response) == VGPU_OK &&
            load_response_right(&response, t->o->op, seq, d->index)) {
            d->completed++;
        } else {
            d->failed++;
        }
        if (atomic_load(t->phase) == PHASE_MEASURE) {
            latency_hist_add(&t->hist, now - d->sent_ns);
            sd->measured++;
        }
        if (device_done(t, d)) {
            (*active)--;
        } else if (submit_next(t->o, d) < 0) {
            return -1;
        }
    }
    return rc;
}

static void *scale_thread_main(void *data)
{
    struct scale_thread *t = data;
    struct epoll_event events[64];
    unsigned active = t->count;
    int ep = epoll_create1(EPOLL_CLOEXEC);

    for (unsigned i = 0; i < t->count; i++) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &t->devices[i] };

        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, t->devices[i].dev.fd, &ev) < 0 ||
            submit_next(t->o, &t->devices[i].dev) < 0) {
            perror("loadgen: a device's first request");
            t->failed = 1;
            return NULL;
        }
    }
    while (active && !t->failed) {
        int n = epoll_wait(ep, events, 64, LOAD_TIMEOUT_MS);

        if (n == 0) {
            fprintf(stderr, "loadgen: no COMPLETE for %d ms with %u devices waiting\n",
                    LOAD_TIMEOUT_MS, active);
            t->failed = 1;
        }
        for (int i = 0; i < n; i++) {
            struct scale_device *sd = events[i].data.ptr;

            if (device_read(t, sd, &active) < 0) {
                fprintf(stderr, "loadgen: VM %u: the connection broke\n", sd->dev.index);
                t->failed = 1;
            }
        }
    }
    close(ep);
    return NULL;
}

static void memory_json(FILE *f, const char *name, const struct proc_memory *m)
{
    fprintf(f, "\"%s\":{\"rss_kib\":%llu,\"anon_kib\":%llu,\"shmem_kib\":%llu,\"virt_kib\":%llu}",
            name, (unsigned long long)m->rss_kib, (unsigned long long)m->anon_kib,
            (unsigned long long)m->shmem_kib, (unsigned long long)m->virt_kib);
}

struct scale_result {
    struct latency_hist hist;
    double measured_s, load_s;
    uint64_t measured;
    int64_t cpu_us;                             /* the mediator's, measured interval; -1 unknown */
    int64_t client_cpu_us;                      /* this process's, the same interval */
    struct proc_memory connected, end;          /* the mediator's */
    uint64_t fair_min, fair_max;                /* per device, measured interval */
    uint64_t failed;
};

static void scale_json(const struct scale_options *o, const struct scale_result *r,
                       const struct scale_device *devices)
{
    FILE *f = fopen(o->json, "w");
    const struct latency_hist *h = &r->hist;

    if (!f) {
        perror(o->json);
        return;
    }
    fprintf(f, "{\"bench\":\"scale\",\"op\":\"%s\",\"count\":%llu,\"devices\":%u,\"threads\":%u,",
            load_op_name(o->op), (unsigned long long)(o->op == VGPU_OP_VECTOR_ADD ? 0 : o->count),
            o->devices, o->threads);
    fprintf(f, "\"measured_seconds\":%.3f,\"load_seconds\":%.3f,\"requests\":%llu,"
            "\"throughput_rps\":%.1f,", r->measured_s, r->load_s,
            (unsigned long long)r->measured, (double)r->measured / r->measured_s);
    fprintf(f, "\"latency_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"mean\":%.2f,\"max\":%.2f},",
            latency_hist_quantile_us(h, 0.5), latency_hist_quantile_us(h, 0.99),
            latency_hist_quantile_us(h, 0.999), latency_hist_mean_us(h), (double)h->max_ns / 1e3);
    if (r->cpu_us >= 0 && r->measured) {
        fprintf(f, "\"mediator_cpu_us_per_request\":%.3f,", (double)r->cpu_us / (double)r->measured);
    }
    if (r->measured) {
        fprintf(f, "\"client_cpu_us_per_request\":%.3f,",
                (double)r->client_cpu_us / (double)r->measured);
    }
    if (o->mediator) {
        fprintf(f, "\"mediator_memory\":{\"base_rss_kib\":%lld,", (long long)o->rss_base_kib);
        memory_json(f, "connected", &r->connected);
        fputc(',', f);
        memory_json(f, "end", &r->end);
        fputs("},", f);
        if (o->rss_base_kib >= 0) {
            fprintf(f, "\"rss_per_vm_bytes\":%.0f,",
                    ((double)r->connected.rss_kib - (double)o->rss_base_kib) * 1024.0 / o->devices);
        }
    }
    fprintf(f, "\"fairness\":{\"min\":%llu,\"max\":%llu},\"failed\":%llu,\"completed_by_vm\":[",
            (unsigned long long)r->fair_min, (unsigned long long)r->fair_max,
            (unsigned long long)r->failed);
    for (unsigned i = 0; i < o->devices; i++) {
        fprintf(f, "%s[%u,%llu]", i ? "," : "", devices[i].dev.index,
                (unsigned long long)devices[i].dev.completed);
    }
    fputs("]}\n", f);
    fclose(f);
}

/* Open every device and split them over the threads; 0 or -1. */
static int scale_open(const struct scale_options *o, struct scale_device *devices,
                      struct scale_thread *threads, atomic_int *phase)
{
    uint64_t window = o->op == VGPU_OP_VECTOR_ADD ? 0 : load_window_size(o->count);

    for (unsigned i = 0; i < o->devices; i++) {
        if (load_device_open(&devices[i].dev, o->socket, o->first_index + i, window) < 0) {
            return -1;
        }
    }
    for (unsigned t = 0, first = 0; t < o->threads; t++) {
        unsigned count = o->devices / o->threads + (t < o->devices % o->threads);

        threads[t] = (struct scale_thread){ .o = o, .phase = phase, .devices = devices + first,
                                            .count = count };
        first += count;
    }
    return 0;
}

int scale_run(const struct scale_options *o)
{
    struct scale_device *devices = calloc(o->devices, sizeof(*devices));
    struct scale_thread *threads = calloc(o->threads, sizeof(*threads));
    struct scale_result *r = calloc(1, sizeof(*r));
    atomic_int phase = o->requests ? PHASE_MEASURE : PHASE_WARMUP;
    uint64_t t0, t1, t2 = 0;
    int64_t cpu1 = -1, cpu2 = -1, self1, self2 = 0;
    int failed = 0;

    if (!devices || !threads || !r || scale_open(o, devices, threads, &phase) < 0) {
        return 1;
    }
    if (o->mediator) {
        proc_memory_read(o->mediator, &r->connected);
    }
    t0 = t1 = load_now_ns();
    cpu1 = o->mediator ? proc_cpu_us(o->mediator) : -1;
    self1 = self_cpu_us();
    for (unsigned t = 0; t < o->threads; t++) {
        pthread_create(&threads[t].tid, NULL, scale_thread_main, &threads[t]);
    }
    if (!o->requests) {
        sleep_seconds(o->warmup_seconds);
        cpu1 = o->mediator ? proc_cpu_us(o->mediator) : -1;
        self1 = self_cpu_us();
        t1 = load_now_ns();
        atomic_store(&phase, PHASE_MEASURE);
        sleep_seconds(o->seconds);
        atomic_store(&phase, PHASE_STOP);
        t2 = load_now_ns();
        cpu2 = o->mediator ? proc_cpu_us(o->mediator) : -1;
        self2 = self_cpu_us();
    }
    for (unsigned t = 0; t < o->threads; t++) {
        pthread_join(threads[t].tid, NULL);
        failed |= threads[t].failed;
        latency_hist_merge(&r->hist, &threads[t].hist);
    }
    if (o->requests) {
        t2 = load_now_ns();
        cpu2 = o->mediator ? proc_cpu_us(o->mediator) : -1;
        self2 = self_cpu_us();
    }
    r->client_cpu_us = self2 - self1;
    r->load_s = (double)(load_now_ns() - t0) / 1e9;
    r->measured_s = (double)(t2 - t1) / 1e9;
    r->cpu_us = cpu1 >= 0 && cpu2 >= 0 ? cpu2 - cpu1 : -1;
    if (o->mediator) {
        proc_memory_read(o->mediator, &r->end);
    }
    r->fair_min = UINT64_MAX;
    for (unsigned i = 0; i < o->devices; i++) {
        r->measured += devices[i].measured;
        r->failed += devices[i].dev.failed;
        r->fair_min = devices[i].measured < r->fair_min ? devices[i].measured : r->fair_min;
        r->fair_max = devices[i].measured > r->fair_max ? devices[i].measured : r->fair_max;
    }
    printf("scale %-10s devices %4u: %9.0f requests/s  p50 %9.1f us  p99 %9.1f us  p99.9 %9.1f us",
           load_op_name(o->op), o->devices, (double)r->measured / r->measured_s,
           latency_hist_quantile_us(&r->hist, 0.5), latency_hist_quantile_us(&r->hist, 0.99),
           latency_hist_quantile_us(&r->hist, 0.999));
    if (r->cpu_us >= 0 && r->measured) {
        printf("  mediator CPU %.2f us/request", (double)r->cpu_us / (double)r->measured);
    }
    if (r->measured) {
        printf("  client CPU %.2f", (double)r->client_cpu_us / (double)r->measured);
    }
    printf("\n");
    if (o->json) {
        scale_json(o, r, devices);
    }
    for (unsigned i = 0; i < o->devices; i++) {
        load_device_close(&devices[i].dev);
    }
    if (r->failed) {
        fprintf(stderr, "loadgen: %llu requests did not complete with their result\n",
                (unsigned long long)r->failed);
    }
    failed |= r->failed != 0;
    free(devices);
    free(threads);
    free(r);
    return failed ? 1 : 0;
}
