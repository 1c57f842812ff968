/*
 * vgpu-client: use a vgpu-stub device from a guest's shell.
 *
 *   vgpu-client [--device ADDR] [--wait MODE] [--timeout-ms MS] [--json] info
 *   vgpu-client [...] add A B
 *   vgpu-client [...] bench [-n N]
 *
 * Exit status (vgpu-client(1)): 0 ok, 1 the device answered ERROR, 2 usage,
 * 3 no device or cannot open it, 4 timeout, 5 malformed answer or I/O error.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client-output.h"
#include "clock.h"
#include "vgpu.h"

enum client_exit {
    CLIENT_EXIT_OK = 0,
    CLIENT_EXIT_DEVICE_ERROR = 1,
    CLIENT_EXIT_USAGE = 2,
    CLIENT_EXIT_NO_DEVICE = 3,
    CLIENT_EXIT_TIMEOUT = 4,
    CLIENT_EXIT_FAILURE = 5,
};

#define CLIENT_BENCH_DEFAULT    1000u
#define CLIENT_BENCH_MAX        1000000u        /* bounds the latency array (8 MB) */
#define CLIENT_TIMEOUT_MAX_MS   86400000u       /* one day */

struct client_options {
    struct vgpu_open_options open;
    bool json;
    bool count_given;
    unsigned long count;        /* bench requests */
};

static void client_usage(FILE *out)
{
    fprintf(out,
"Usage: vgpu-client [OPTION]... COMMAND [ARG]...\n"
"Submit requests to a vgpu-stub device from inside a guest.\n"
"\n"
"Commands:\n"
"  info          show the device: address, ids, pool, priority, vm-id,\n"
"                protocol, capabilities and wait mode\n"
"  add A B       VECTOR_ADD: print A + B (mod 2^32) as the device computed it;\n"
"                A and B are 0..4294967295, decimal or 0x-prefixed hex\n"
"  bench         run VECTOR_ADD requests one after another and print the\n"
"                latency (count, min, p50, p90, p99, max) seen in the guest\n"
"\n"
"Options:\n"
"  -d, --device ADDR     use the device at PCI address ADDR (0000:00:1e.0);\n"
"                        default $VGPU_DEVICE, else the lowest vgpu-stub found\n"
"  -w, --wait MODE       wait for completion by poll, irq (uio_pci_generic)\n"
"                        or auto (irq when usable, else poll; the default)\n"
"  -t, --timeout-ms MS   give up waiting for one request after MS ms\n"
"                        (default %u)\n"
"  -n, --count N         requests for bench (default %u, at most %u)\n"
"  -j, --json            print one JSON object on stdout, errors included\n"
"  -h, --help            show this help and exit\n"
"  -V, --version         show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 the device answered ERROR, 2 usage error,\n"
"3 no device or cannot open it, 4 timeout, 5 malformed answer or I/O error.\n"
"See vgpu-client(1).\n",
            VGPU_DEFAULT_TIMEOUT_MS, CLIENT_BENCH_DEFAULT, CLIENT_BENCH_MAX);
}

static int client_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int client_usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "vgpu-client: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'vgpu-client --help'.\n");
    return CLIENT_EXIT_USAGE;
}

/* Parse decimal or 0x-hex text in 0..max, nothing else.  Returns 0 or -1. */
static int client_parse_number(const char *text, unsigned long max, unsigned long *value)
{
    int base = 10;
    char *end;

    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text += 2;
    }
    /* strtoul would take a sign or leading spaces: refuse them */
    if (base == 16 ? !isxdigit((unsigned char)text[0]) : !isdigit((unsigned char)text[0])) {
        return -1;
    }
    errno = 0;
    *value = strtoul(text, &end, base);
    return errno || *end != '\0' || *value > max ? -1 : 0;
}

static int client_exit_code(enum vgpu_result result, bool opening)
{
    switch (result) {
    case VGPU_RESULT_OK:
        return CLIENT_EXIT_OK;
    case VGPU_RESULT_DEVICE_ERROR:
        return CLIENT_EXIT_DEVICE_ERROR;
    case VGPU_RESULT_TIMEOUT:
        return CLIENT_EXIT_TIMEOUT;
    case VGPU_RESULT_INVALID:
        return opening ? CLIENT_EXIT_USAGE : CLIENT_EXIT_FAILURE;
    case VGPU_RESULT_NO_DEVICE:
    case VGPU_RESULT_PERMISSION:
    case VGPU_RESULT_NO_IRQ:
        return CLIENT_EXIT_NO_DEVICE;
    default:
        return opening ? CLIENT_EXIT_NO_DEVICE : CLIENT_EXIT_FAILURE;
    }
}

/* Parse the options into *opts; *first gets the index of the command. */
static int client_parse_options(int argc, char **argv, struct client_options *opts, int *first)
{
    static const struct option long_options[] = {
        { "device",     required_argument, NULL, 'd' },
        { "wait",       required_argument, NULL, 'w' },
        { "timeout-ms", required_argument, NULL, 't' },
        { "count",      required_argument, NULL, 'n' },
        { "json",       no_argument,       NULL, 'j' },
        { "help",       no_argument,       NULL, 'h' },
        { "version",    no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    unsigned long n;
    int c;

    opterr = 0;     /* we word the errors ourselves */
    while ((c = getopt_long(argc, argv, ":d:w:t:n:jhV", long_options, NULL)) != -1) {
        switch (c) {
        case 'd':
            opts->open.address = optarg;
            break;
        case 'w':
            if (vgpu_wait_mode_parse(optarg, &opts->open.wait) < 0) {
                return client_usage_error("--wait takes poll, irq or auto, not '%s'", optarg);
            }
            break;
        case 't':
            if (client_parse_number(optarg, CLIENT_TIMEOUT_MAX_MS, &n) < 0 || n == 0) {
                return client_usage_error("--timeout-ms takes 1..%u ms, not '%s'",
                                          CLIENT_TIMEOUT_MAX_MS, optarg);
            }
            opts->open.timeout_ms = (unsigned)n;
            break;
        case 'n':
            if (client_parse_number(optarg, CLIENT_BENCH_MAX, &opts->count) < 0 ||
                opts->count == 0) {
                return client_usage_error("--count takes 1..%u requests, not '%s'",
                                          CLIENT_BENCH_MAX, optarg);
            }
            opts->count_given = true;
            break;
        case 'j':
            opts->json = true;
            break;
        case 'h':
            client_usage(stdout);
            exit(CLIENT_EXIT_OK);
        case 'V':
            printf("vgpu-client %s (vgpu-stub protocol %u.%u)\n", VGPU_TOOLS_VERSION,
                   VGPU_PROTOCOL_VERSION >> 16, VGPU_PROTOCOL_VERSION & 0xffff);
            exit(CLIENT_EXIT_OK);
        case ':':
            return client_usage_error("option '%s' needs an argument", argv[optind - 1]);
        default:
            return client_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    *first = optind;
    return CLIENT_EXIT_OK;
}

static int client_open(const struct client_options *opts, vgpu_device **dev)
{
    enum vgpu_result r = vgpu_device_open(&opts->open, dev);

    if (r != VGPU_RESULT_OK) {
        client_print_error(opts->json, r, NULL);
    }
    return client_exit_code(r, true);
}

static int client_info(const struct client_options *opts)
{
    struct vgpu_device_info info;
    vgpu_device *dev;
    int status = client_open(opts, &dev);

    if (status != CLIENT_EXIT_OK) {
        return status;
    }
    vgpu_device_info(dev, &info);
    client_print_info(opts->json, &info);
    vgpu_device_close(dev);
    return CLIENT_EXIT_OK;
}

static int client_add(const struct client_options *opts, const char *a, const char *b)
{
    struct client_add_result add = { 0 };
    unsigned long va, vb;
    enum vgpu_result r;
    uint64_t start;
    vgpu_device *dev;
    int status;

    if (client_parse_number(a, UINT32_MAX, &va) < 0) {
        return client_usage_error("add takes numbers 0..%" PRIu32 ", not '%s'", UINT32_MAX, a);
    }
    if (client_parse_number(b, UINT32_MAX, &vb) < 0) {
        return client_usage_error("add takes numbers 0..%" PRIu32 ", not '%s'", UINT32_MAX, b);
    }
    status = client_open(opts, &dev);
    if (status != CLIENT_EXIT_OK) {
        return status;
    }
    add.a = (uint32_t)va;
    add.b = (uint32_t)vb;
    start = vgpu_clock_now_ns();
    r = vgpu_device_vector_add(dev, add.a, add.b, &add.sum, &add.exec_time_us, &add.completion);
    add.latency_us = (double)(vgpu_clock_now_ns() - start) / VGPU_NS_PER_US;
    if (r == VGPU_RESULT_OK) {
        client_print_add(opts->json, &add);
    } else {
        client_print_error(opts->json, r, &add.completion);
    }
    vgpu_device_close(dev);
    return client_exit_code(r, false);
}

static int client_compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile p (0 < p <= 100) of n sorted values. */
static double client_percentile(const double *sorted, size_t n, unsigned p)
{
    size_t rank = (n * p + 99) / 100;   /* ceil(n * p / 100), at least 1 */

    return sorted[(rank ? rank : 1) - 1];
}

static void client_bench_stats(double *latency_us, size_t n, struct client_bench_stats *stats)
{
    double sum = 0;

    qsort(latency_us, n, sizeof(*latency_us), client_compare_double);
    for (size_t i = 0; i < n; i++) {
        sum += latency_us[i];
    }
    stats->count = n;
    stats->min_us = latency_us[0];
    stats->p50_us = client_percentile(latency_us, n, 50);
    stats->p90_us = client_percentile(latency_us, n, 90);
    stats->p99_us = client_percentile(latency_us, n, 99);
    stats->max_us = latency_us[n - 1];
    stats->mean_us = sum / (double)n;
}

static int client_bench(const struct client_options *opts)
{
    size_t n = opts->count_given ? opts->count : CLIENT_BENCH_DEFAULT;
    struct client_bench_stats stats;
    struct vgpu_completion completion;
    struct vgpu_device_info info;
    enum vgpu_result r = VGPU_RESULT_OK;
    double *latency_us;
    vgpu_device *dev;
    int status;

    latency_us = calloc(n, sizeof(*latency_us));
    if (!latency_us) {
        fprintf(stderr, "vgpu-client: out of memory for %zu latencies\n", n);
        return CLIENT_EXIT_FAILURE;
    }
    status = client_open(opts, &dev);
    if (status != CLIENT_EXIT_OK) {
        free(latency_us);
        return status;
    }
    for (size_t i = 0; i < n && r == VGPU_RESULT_OK; i++) {
        uint64_t start = vgpu_clock_now_ns();
        uint32_t sum;

        r = vgpu_device_vector_add(dev, (uint32_t)i, (uint32_t)(n - i), &sum, NULL, &completion);
        latency_us[i] = (double)(vgpu_clock_now_ns() - start) / VGPU_NS_PER_US;
    }
    if (r == VGPU_RESULT_OK) {
        vgpu_device_info(dev, &info);
        client_bench_stats(latency_us, n, &stats);
        client_print_bench(opts->json, &info, &stats);
    } else {
        client_print_error(opts->json, r, &completion);
    }
    vgpu_device_close(dev);
    free(latency_us);
    return client_exit_code(r, false);
}

/* Output that could not be written is a failure, not a silent success. */
static int client_flush(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "vgpu-client: cannot write the output: %s\n", strerror(errno));
        return status == CLIENT_EXIT_OK ? CLIENT_EXIT_FAILURE : status;
    }
    return status;
}

int main(int argc, char **argv)
{
    struct client_options opts = { .open = { .wait = VGPU_WAIT_AUTO } };
    const char *command;
    int first = 0, status, args;

    status = client_parse_options(argc, argv, &opts, &first);
    if (status != CLIENT_EXIT_OK) {
        return status;
    }
    if (first >= argc) {
        return client_usage_error("no command given (info, add or bench)");
    }
    command = argv[first];
    args = argc - first - 1;
    if (opts.count_given && strcmp(command, "bench") != 0) {
        return client_usage_error("--count is for bench, not %s", command);
    }
    if (strcmp(command, "info") == 0 && args == 0) {
        status = client_info(&opts);
    } else if (strcmp(command, "add") == 0 && args == 2) {
        status = client_add(&opts, argv[first + 1], argv[first + 2]);
    } else if (strcmp(command, "bench") == 0 && args == 0) {
        status = client_bench(&opts);
    } else if (strcmp(command, "info") == 0 || strcmp(command, "add") == 0 ||
               strcmp(command, "bench") == 0) {
        return client_usage_error("wrong number of arguments for %s", command);
    } else {
        return client_usage_error("unknown command '%s' (info, add or bench)", command);
    }
    return client_flush(status);
}
