/*
 * A small, faithful model of the transport vgpu-stub replaced (the
 * planning note's "current system"): each VM wrote its request as a text
 * file "pool_id:priority:vm_id:num1:num2" into a directory shared over
 * NFS; the host daemon scanned the directory once a second, ran what it
 * found (high priority first) and wrote the answer as a file; the VM
 * looked for the answer file every 100 ms.  Here the directory is local
 * (no NFS round trips, so the model is a little faster than the real
 * thing) and the work is the addition itself.
 *
 * Guests are threads, each a VM with one request at a time.  Before each
 * request a guest waits a random time, so that requests arrive at random
 * points of the host's second, as independent VMs' do; the latency is from
 * the request file's write to reading the answer.
 *
 *   old-transport [--dir DIR] [--requests N] [--guests G] [--host-poll-ms MS]
 *                 [--guest-poll-ms MS] [--json FILE]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POOL_OF_GUEST(g) ((g) % 2 ? 'B' : 'A')
#define MAX_FILE_TEXT    128

static const char *dir;
static unsigned requests = 20, guests = 4, host_poll_ms = 1000, guest_poll_ms = 100;
static atomic_int guests_running;
static double *latency_ms;          /* one per request, in the order they finished */
static atomic_uint finished;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms)
{
    struct timespec ts = { (time_t)(ms / 1e3), (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6) };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Write text to dir/name whole: through a temporary name and a rename, so no reader sees half. */
static int write_file(const char *name, const char *text)
{
    char tmp[4096], path[4096];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(tmp, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        return -1;
    }
    return rename(tmp, path);
}

/* Read dir/name into text; 0, or -1 when it is not there. */
static int read_file(const char *name, char *text, size_t cap)
{
    char path[4096];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    n = fread(text, 1, cap - 1, f);
    text[n] = 0;
    fclose(f);
    return 0;
}

/* ---- the host: one scan of the directory per tick ---------------------------- */

struct old_request {
    char pool;
    unsigned priority, vm_id, num1, num2;
};

static int by_priority(const void *a, const void *b)
{
    const struct old_request *x = a, *y = b;

    return (int)y->priority - (int)x->priority;     /* high (2) first */
}

static void host_scan(void)
{
    struct old_request found[256];
    unsigned n = 0;
    struct dirent *e;
    DIR *d = opendir(dir);

    while (d && (e = readdir(d)) && n < 256) {
        char text[MAX_FILE_TEXT], path[4096];
        struct old_request *r = &found[n];

        if (!strstr(e->d_name, ".request") || e->d_name[0] == '.' ||
            read_file(e->d_name, text, sizeof(text)) < 0 ||
            sscanf(text, "%c:%u:%u:%u:%u", &r->pool, &r->priority, &r->vm_id, &r->num1,
                   &r->num2) != 5) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
        n++;
    }
    if (d) {
        closedir(d);
    }
    qsort(found, n, sizeof(found[0]), by_priority);
    for (unsigned i = 0; i < n; i++) {
        char name[64], text[32];

        snprintf(name, sizeof(name), "vm%u.response", found[i].vm_id);
        snprintf(text, sizeof(text), "%u\n", found[i].num1 + found[i].num2);
        write_file(name, text);
    }
}

static void *host_main(void *unused)
{
    (void)unused;
    while (atomic_load(&guests_running)) {
        sleep_ms(host_poll_ms);
        host_scan();
    }
    return NULL;
}

/* ---- a guest: one request at a time, polling for the answer ------------------ */

static void *guest_main(void *arg)
{
    unsigned g = (unsigned)(uintptr_t)arg, vm_id = g + 1, seed = g * 7919u + 1;
    char name[64], answer[64], text[MAX_FILE_TEXT];

    for (unsigned i = g; i < requests; i += guests) {
        unsigned num1 = i * 3, num2 = 1000 + i;
        double t0;

        sleep_ms((double)(rand_r(&seed) % (host_poll_ms * 1000)) / 1e3);
        snprintf(name, sizeof(name), "vm%u.request", vm_id);
        snprintf(text, sizeof(text), "%c:%u:%u:%u:%u\n", POOL_OF_GUEST(g), g % 3, vm_id, num1, num2);
        t0 = now_ms();
        if (write_file(name, text) < 0) {
            perror("old-transport: writing a request");
            exit(1);
        }
        snprintf(name, sizeof(name), "vm%u.response", vm_id);
        while (read_file(name, answer, sizeof(answer)) < 0) {
            sleep_ms(guest_poll_ms);
        }
        if (strtoul(answer, NULL, 10) != num1 + num2) {
            fprintf(stderr, "old-transport: VM %u: wrong answer \"%s\"\n", vm_id, answer);
            exit(1);
        }
        snprintf(text, sizeof(text), "%s/%s", dir, name);
        unlink(text);
        latency_ms[atomic_fetch_add(&finished, 1)] = now_ms() - t0;
    }
    atomic_fetch_sub(&guests_running, 1);
    return NULL;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void report(const char *json)
{
    double sum = 0, p50;
    FILE *f;

    qsort(latency_ms, requests, sizeof(double), compare_double);
    for (unsigned i = 0; i < requests; i++) {
        sum += latency_ms[i];
    }
    p50 = requests % 2 ? latency_ms[requests / 2]
                       : (latency_ms[requests / 2 - 1] + latency_ms[requests / 2]) / 2;
    printf("old design: %u requests through files, host scan every %u ms, guest poll every %u ms: "
           "p50 %.1f ms  mean %.1f ms  min %.1f ms  max %.1f ms\n", requests, host_poll_ms,
           guest_poll_ms, p50, sum / requests, latency_ms[0], latency_ms[requests - 1]);
    if (!json || !(f = fopen(json, "w"))) {
        return;
    }
    fprintf(f, "{\"bench\":\"old-design\",\"requests\":%u,\"guests\":%u,\"host_poll_ms\":%u,"
            "\"guest_poll_ms\":%u,\"p50_ms\":%.3f,\"mean_ms\":%.3f,\"min_ms\":%.3f,\"max_ms\":%.3f,"
            "\"latency_ms\":[", requests, guests, host_poll_ms, guest_poll_ms, p50, sum / requests,
            latency_ms[0], latency_ms[requests - 1]);
    for (unsigned i = 0; i < requests; i++) {
        fprintf(f, "%s%.3f", i ? "," : "", latency_ms[i]);
    }
    fputs("]}\n", f);
    fclose(f);
}

static unsigned option_number(const char *name, const char *text)
{
    char *end;
    unsigned long v = strtoul(text, &end, 10);

    if (end == text || *end || v < 1 || v > 1000000) {
        fprintf(stderr, "old-transport: --%s: \"%s\" is not a number in 1..1000000\n", name, text);
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        { "dir", required_argument, NULL, 'd' }, { "requests", required_argument, NULL, 'n' },
        { "guests", required_argument, NULL, 'g' }, { "host-poll-ms", required_argument, NULL, 'H' },
        { "guest-poll-ms", required_argument, NULL, 'G' }, { "json", required_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 },
    };
    char made[] = "/tmp/vgpu-old-transport.XXXXXX";
    const char *json = NULL;
    pthread_t host, *guest;
    int c;

    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'n': requests = option_number("requests", optarg); break;
        case 'g': guests = option_number("guests", optarg); break;
        case 'H': host_poll_ms = option_number("host-poll-ms", optarg); break;
        case 'G': guest_poll_ms = option_number("guest-poll-ms", optarg); break;
        case 'j': json = optarg; break;
        default:
            fputs("usage: old-transport [--dir DIR] [--requests N] [--guests G] "
                  "[--host-poll-ms MS] [--guest-poll-ms MS] [--json FILE]\n", stderr);
            return 2;
        }
    }
    if (guests > requests) {
        guests = requests;
    }
    if (!dir && !(dir = mkdtemp(made))) {
        perror("old-transport: mkdtemp");
        return 1;
    }
    latency_ms = calloc(requests, sizeof(double));
    guest = calloc(guests, sizeof(pthread_t));
    atomic_store(&guests_running, (int)guests);
    pthread_create(&host, NULL, host_main, NULL);
    for (unsigned g = 0; g < guests; g++) {
        pthread_create(&guest[g], NULL, guest_main, (void *)(uintptr_t)g);
    }
    for (unsigned g = 0; g < guests; g++) {
        pthread_join(guest[g], NULL);
    }
    pthread_join(host, NULL);
    report(json);
    if (dir == made) {
        rmdir(made);
    }
    return 0;
}
