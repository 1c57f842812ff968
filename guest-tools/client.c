/*
 * vgpu-client: use a vgpu-stub device from a guest's shell.
 *
 *   vgpu-client [--device ADDR] [--wait MODE] [--timeout-ms MS] [--json] info
 *   vgpu-client [...] add A B
 *   vgpu-client [...] bench [-n N]
 *   vgpu-client [...] vadd|saxpy|sum|sgemm [OPERATION OPTIONS]  (client-ops.c)
 *
 * Exit status (vgpu-client(1)): 0 ok, 1 the device answered ERROR, 2 usage,
 * 3 no device or cannot open it, 4 timeout, 5 malformed answer or I/O error,
 * 6 an array operation's result is wrong.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client-output.h"
#include "clock.h"
#include "vgpu.h"

#define CLIENT_BENCH_DEFAULT    1000u
#define CLIENT_BENCH_MAX        1000000u        /* bounds the latency array (8 MB) */
#define CLIENT_TIMEOUT_MAX_MS   86400000u       /* one day */
#define CLIENT_SGEMM_DIM_LIMIT  16777216u       /* m, n, k: 2^24 keeps every product in 64 bits */
#define CLIENT_COMMANDS         "info, add, bench, vadd, saxpy, sum or sgemm"

/* Long options without a short form. */
enum {
    OPT_TYPE = 256,
    OPT_SIZE,
    OPT_ALPHA,
    OPT_BETA,
    OPT_M,
    OPT_N,
    OPT_K,
    OPT_SEED,
    OPT_UNCHECKED,
};

static void client_usage(FILE *out)
{
    fprintf(out,
"Usage: vgpu-client [OPTION]... COMMAND [ARG]...\n"
"Submit requests to a vgpu-stub device from inside a guest.\n"
"\n"
"Commands:\n"
"  info          show the device: address, ids, pool, priority, vm-id,\n"
"                protocol, capabilities, data window and wait mode\n"
"  add A B       VECTOR_ADD: print A + B (mod 2^32) as the device computed it;\n"
"                A and B are 0..4294967295, decimal or 0x-prefixed hex\n"
"  bench         run VECTOR_ADD requests one after another and print the\n"
"                latency (count, min, p50, p90, p99, max) seen in the guest\n"
"\n"
"Array operations on the data window: fill the operands with pseudo-random\n"
"data, run the operation on the device, check the result against the guest's\n"
"own computation, print the time and GB/s (GFLOP/s for sgemm):\n"
"  vadd          out = a + b, --type u32 (mod 2^32) or f32; bit-exact\n"
"  saxpy         y = fmaf(alpha, x, y); bit-exact\n"
"  sum           the sum of x in double; within n * 2^-52 * sum|x|\n"
"  sgemm         C = alpha A B + beta C, f32 row-major, A m x k, B k x n;\n"
"                every entry, or 1024 seeded ones past m*n*k = 2^24, within\n"
"                2 max(k,2) 2^-24 (|alpha| sum|a||b| + |beta c|)\n"
"\n"
"Options:\n"
"  -d, --device ADDR     use the device at PCI address ADDR (0000:00:1e.0), or\n"
"                        on the host unix:SOCKET, the mediator's device socket\n"
"                        (VM $VGPU_VM_UUID); default $VGPU_DEVICE, else the\n"
"                        lowest vgpu-stub found\n"
"  -w, --wait MODE       wait for completion by poll, irq (uio_pci_generic)\n"
"                        or auto (irq when usable, else poll; the default)\n"
"  -t, --timeout-ms MS   give up waiting for one request after MS ms\n"
"                        (default %u)\n"
"  -n, --count N         requests for bench (default %u, at most %u)\n"
"      --type u32|f32    vadd's element type (default u32)\n"
"      --size BYTES      bytes of each array of vadd, saxpy, sum; a multiple\n"
"                        of 4, with a k, M or G suffix for KiB, MiB, GiB\n"
"                        (default 1M)\n"
"      --alpha X         saxpy's alpha (default 2), sgemm's (default 1)\n"
"      --beta X          sgemm's beta (default 0)\n"
"      --m M, --n N, --k K  sgemm's dimensions, 1..%u (default 256)\n"
"      --seed S          seed of the operands' data (default 1)\n"
"      --unchecked       send an operation whose arrays do not fit the window,\n"
"                        unchecked: the host must refuse it (BAD_RANGE)\n"
"  -j, --json            print one JSON object on stdout, errors included\n"
"  -h, --help            show this help and exit\n"
"  -V, --version         show the version and exit\n"
"\n"
"Exit status: 0 ok, 1 the device answered ERROR, 2 usage error (also:\n"
"the arrays do not fit the window), 3 no device, cannot open it, no data\n"
"window, or --wait irq without uio, 4 timeout, 5 malformed answer or I/O\n"
"error, 6 the result of an array operation is wrong.\n"
"See vgpu-client(1).\n",
            VGPU_DEFAULT_TIMEOUT_MS, CLIENT_BENCH_DEFAULT, CLIENT_BENCH_MAX,
            CLIENT_SGEMM_DIM_LIMIT);
}

int client_usage_error(const char *fmt, ...)
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

/* Bytes: decimal digits and an optional k, M or G (KiB, MiB, GiB); 4..16G, a multiple of 4. */
static int client_parse_size(const char *text, uint64_t *bytes)
{
    unsigned long long v;
    unsigned shift = 0;
    char *end;

    if (!isdigit((unsigned char)text[0])) {
        return -1;
    }
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno) {
        return -1;
    }
    switch (*end) {
    case '\0':
        break;
    case 'k': case 'K':
        shift = 10;
        break;
    case 'm': case 'M':
        shift = 20;
        break;
    case 'g': case 'G':
        shift = 30;
        break;
    default:
        return -1;
    }
    if (shift && end[1] != '\0') {
        return -1;
    }
    if (v == 0 || v > (VGPU_WINDOW_SIZE_MAX >> shift) || ((v << shift) % 4) != 0) {
        return -1;
    }
    *bytes = (uint64_t)v << shift;
    return 0;
}

/* A finite float, the whole text. */
static int client_parse_float(const char *text, float *value)
{
    char *end;

    if (text[0] == '\0' || isspace((unsigned char)text[0])) {
        return -1;
    }
    errno = 0;
    *value = strtof(text, &end);
    return errno || *end != '\0' || !isfinite(*value) ? -1 : 0;
}

int client_exit_code(enum vgpu_result result, bool opening)
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
    case VGPU_RESULT_NO_WINDOW:
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
        { "type",       required_argument, NULL, OPT_TYPE },
        { "size",       required_argument, NULL, OPT_SIZE },
        { "alpha",      required_argument, NULL, OPT_ALPHA },
        { "beta",       required_argument, NULL, OPT_BETA },
        { "m",          required_argument, NULL, OPT_M },
        { "n",          required_argument, NULL, OPT_N },
        { "k",          required_argument, NULL, OPT_K },
        { "seed",       required_argument, NULL, OPT_SEED },
        { "unchecked",  no_argument,       NULL, OPT_UNCHECKED },
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
        case OPT_TYPE:
            if (strcmp(optarg, "u32") == 0) {
                opts->type = CLIENT_TYPE_U32;
            } else if (strcmp(optarg, "f32") == 0) {
                opts->type = CLIENT_TYPE_F32;
            } else {
                return client_usage_error("--type takes u32 or f32, not '%s'", optarg);
            }
            opts->type_given = true;
            break;
        case OPT_SIZE:
            if (client_parse_size(optarg, &opts->size) < 0) {
                return client_usage_error("--size takes bytes, a multiple of 4 from 4 to 16G "
                                          "(k, M, G: KiB, MiB, GiB), not '%s'", optarg);
            }
            opts->size_given = true;
            break;
        case OPT_ALPHA:
        case OPT_BETA:
            if (client_parse_float(optarg, c == OPT_ALPHA ? &opts->alpha : &opts->beta) < 0) {
                return client_usage_error("--%s takes a finite number, not '%s'",
                                          c == OPT_ALPHA ? "alpha" : "beta", optarg);
            }
            *(c == OPT_ALPHA ? &opts->alpha_given : &opts->beta_given) = true;
            break;
        case OPT_M:
        case OPT_N:
        case OPT_K:
            if (client_parse_number(optarg, CLIENT_SGEMM_DIM_LIMIT, &n) < 0 || n == 0) {
                return client_usage_error("--%c takes 1..%u, not '%s'",
                                          c == OPT_M ? 'm' : c == OPT_N ? 'n' : 'k',
                                          CLIENT_SGEMM_DIM_LIMIT, optarg);
            }
            *(c == OPT_M ? &opts->m : c == OPT_N ? &opts->n : &opts->k) = (uint32_t)n;
            *(c == OPT_M ? &opts->m_given : c == OPT_N ? &opts->n_given : &opts->k_given) = true;
            break;
        case OPT_SEED:
            if (client_parse_number(optarg, ULONG_MAX, &n) < 0) {
                return client_usage_error("--seed takes 0..%lu, not '%s'", ULONG_MAX, optarg);
            }
            opts->seed = n;
            opts->seed_given = true;
            break;
        case OPT_UNCHECKED:
            opts->unchecked = true;
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

int client_open(const struct client_options *opts, vgpu_device **dev)
{
    enum vgpu_result r = vgpu_device_open(&opts->open, dev);

    if (r != VGPU_RESULT_OK) {
        client_print_error(opts->json, r, NULL);
    }
    return client_exit_code(r, true);
}

static int client_info(const struct client_options *opts)
{
    struct client_window_info window = { 0 };
    struct vgpu_device_info info;
    vgpu_device *dev;
    int status = client_open(opts, &dev);

    if (status != CLIENT_EXIT_OK) {
        return status;
    }
    vgpu_device_info(dev, &info);
    window.result = vgpu_device_window(dev, NULL, &window.size);
    window.detail = vgpu_last_error();
    client_print_info(opts->json, &info, &window);
    vgpu_device_close(dev);
    return CLIENT_EXIT_OK;
}

static int client_add(const struct client_options *opts, const char *a, const char *b)
{
    struct client_add_result add = { 0 };
    struct vgpu_device_info info;
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
    vgpu_device_info(dev, &info);
    add.wait = info.wait;
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
    struct client_options opts = { .open = { .wait = VGPU_WAIT_AUTO }, .type = CLIENT_TYPE_U32,
                                   .seed = 1 };
    const char *command;
    int first = 0, status, args;

    status = client_parse_options(argc, argv, &opts, &first);
    if (status != CLIENT_EXIT_OK) {
        return status;
    }
    if (first >= argc) {
        return client_usage_error("no command given (" CLIENT_COMMANDS ")");
    }
    command = argv[first];
    args = argc - first - 1;
    if (opts.count_given && strcmp(command, "bench") != 0) {
        return client_usage_error("--count is for bench, not %s", command);
    }
    if (client_is_window_command(command)) {
        if (args != 0) {
            return client_usage_error("%s takes options only, not '%s'", command,
                                      argv[first + 1]);
        }
        status = client_window_check_options(&opts, command);
        if (status != CLIENT_EXIT_OK) {
            return status;
        }
        return client_flush(client_window_command(&opts, command));
    }
    status = client_window_check_options(&opts, command);
    if (status != CLIENT_EXIT_OK) {
        return status;
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
        return client_usage_error("unknown command '%s' (" CLIENT_COMMANDS ")", command);
    }
    return client_flush(status);
}
