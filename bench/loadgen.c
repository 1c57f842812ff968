/*
 * vgpu-loadgen: many devices against a real vgpu-mediatord, on the host,
 * speaking the wire protocol as QEMU's vgpu-stub does (make bench; the
 * scaling test of make check).  The VMs must be registered first, VM index
 * i as UUID 00000000-0000-4000-8000-<i, 12 digits> (bench/scale.sh does it).
 * libc and common/ only, so that it runs on hosts without GLib.
 *
 *   vgpu-loadgen scale --socket PATH --devices N [--first I] [--threads T]
 *                [--seconds S --warmup S | --requests R] [--op vector_add|add_f32
 *                --count E] [--mediator-pid P [--rss-base-kib K]] [--json FILE]
 *   vgpu-loadgen isolation --socket PATH --high I --low-first I --low N
 *                [--rate R] [--blocks B] [--block-seconds S] [--low-op add_f32
 *                [--low-op-us U] [--window-mib M] | --low-op vector_add] [--json FILE]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load-options.h"
#include "vgpu/protocol.h"

static void usage(void)
{
    fputs("usage: vgpu-loadgen scale --socket PATH --devices N [--first I] [--threads T]\n"
          "           [--seconds S --warmup S | --requests R] [--op vector_add|add_f32 --count E]\n"
          "           [--mediator-pid P [--rss-base-kib K]] [--json FILE]\n"
          "       vgpu-loadgen isolation --socket PATH --high I --low-first I --low N [--rate R]\n"
          "           [--blocks B] [--block-seconds S] [--low-op add_f32 [--low-op-us U]\n"
          "           [--window-mib M] | --low-op vector_add] [--json FILE]\n",
          stderr);
}

/* A number from an option, or exit 2 naming it. */
static double number(const char *name, const char *text, double min, double max)
{
    char *end;
    double v = strtod(text, &end);

    if (end == text || *end || v < min || v > max) {
        fprintf(stderr, "vgpu-loadgen: --%s: \"%s\" is not a number in %g..%g\n", name, text, min, max);
        exit(2);
    }
    return v;
}

/* --op and --low-op: the opcode, or exit 2. */
static uint32_t op_option(const char *name, const char *text)
{
    if (!strcmp(text, "vector_add")) {
        return VGPU_OP_VECTOR_ADD;
    }
    if (!strcmp(text, "add_f32")) {
        return VGPU_OP_ADD_F32;
    }
    fprintf(stderr, "vgpu-loadgen: --%s: vector_add or add_f32, not \"%s\"\n", name, text);
    exit(2);
}

static const struct option scale_long[] = {
    { "socket", required_argument, NULL, 's' }, { "devices", required_argument, NULL, 'n' },
    { "first", required_argument, NULL, 'f' }, { "threads", required_argument, NULL, 't' },
    { "seconds", required_argument, NULL, 'S' }, { "warmup", required_argument, NULL, 'w' },
    { "requests", required_argument, NULL, 'r' }, { "op", required_argument, NULL, 'o' },
    { "count", required_argument, NULL, 'c' }, { "mediator-pid", required_argument, NULL, 'p' },
    { "rss-base-kib", required_argument, NULL, 'b' }, { "json", required_argument, NULL, 'j' },
    { NULL, 0, NULL, 0 },
};

static int scale_main(int argc, char **argv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    struct scale_options o = { .devices = 1, .first_index = 1, .seconds = 10, .warmup_seconds = 2,
                               .op = VGPU_OP_VECTOR_ADD, .count = 65536, .rss_base_kib = -1 };
    int c;

    while ((c = getopt_long(argc, argv, "", scale_long, NULL)) != -1) {
        switch (c) {
        case 's': o.socket = optarg; break;
        case 'n': o.devices = (unsigned)number("devices", optarg, 1, 65536); break;
        case 'f': o.first_index = (unsigned)number("first", optarg, 1, 1e9); break;
        case 't': o.threads = (unsigned)number("threads", optarg, 1, 1024); break;
        case 'S': o.seconds = number("seconds", optarg, 0.1, 86400); break;
        case 'w': o.warmup_seconds = number("warmup", optarg, 0, 86400); break;
        case 'r': o.requests = (uint64_t)number("requests", optarg, 1, 1e12); break;
        case 'c': o.count = (uint64_t)number("count", optarg, 1, 1ull << 32); break;
        case 'p': o.mediator = (pid_t)number("mediator-pid", optarg, 1, 1 << 30); break;
        case 'b': o.rss_base_kib = (int64_t)number("rss-base-kib", optarg, 0, 1e12); break;
        case 'j': o.json = optarg; break;
        case 'o': o.op = op_option("op", optarg); break;
        default: usage(); return 2;
        }
    }
    if (!o.socket || optind != argc) {
        usage();
        return 2;
    }
    /* a client thread per four CPUs leaves the rest to the mediator */
    if (!o.threads) {
        o.threads = cpus >= 8 ? (unsigned)(cpus / 4) : 1;
    }
    if (o.threads > o.devices) {
        o.threads = o.devices;
    }
    return scale_run(&o);
}

static const struct option isolation_long[] = {
    { "socket", required_argument, NULL, 's' }, { "high", required_argument, NULL, 'h' },
    { "low-first", required_argument, NULL, 'f' }, { "low", required_argument, NULL, 'n' },
    { "rate", required_argument, NULL, 'r' }, { "blocks", required_argument, NULL, 'b' },
    { "block-seconds", required_argument, NULL, 'S' }, { "low-op-us", required_argument, NULL, 'u' },
    { "window-mib", required_argument, NULL, 'm' }, { "json", required_argument, NULL, 'j' },
    { "low-op", required_argument, NULL, 'o' },
    { NULL, 0, NULL, 0 },
};

static int isolation_main(int argc, char **argv)
{
    struct isolation_options o = { .low_count = 4, .rate = 200, .blocks = 4, .block_seconds = 5,
                                   .low_op = VGPU_OP_ADD_F32, .low_op_us = 2000,
                                   .window_size = 64ull << 20 };
    int c;

    while ((c = getopt_long(argc, argv, "", isolation_long, NULL)) != -1) {
        switch (c) {
        case 's': o.socket = optarg; break;
        case 'h': o.high_index = (unsigned)number("high", optarg, 1, 1e9); break;
        case 'f': o.low_first = (unsigned)number("low-first", optarg, 1, 1e9); break;
        case 'n': o.low_count = (unsigned)number("low", optarg, 1, 1024); break;
        case 'r': o.rate = number("rate", optarg, 1, 100000); break;
        case 'b': o.blocks = (unsigned)number("blocks", optarg, 1, 1000); break;
        case 'S': o.block_seconds = number("block-seconds", optarg, 0.5, 3600); break;
        case 'u': o.low_op_us = number("low-op-us", optarg, 1, 1e7); break;
        case 'm': o.window_size = (uint64_t)number("window-mib", optarg, 1, 16384) << 20; break;
        case 'j': o.json = optarg; break;
        case 'o': o.low_op = op_option("low-op", optarg); break;
        default: usage(); return 2;
        }
    }
    if (!o.socket || !o.high_index || !o.low_first || optind != argc ||
        (o.window_size & (o.window_size - 1))) {
        fprintf(stderr, "vgpu-loadgen: isolation needs --socket, --high, --low-first "
                "(and --window-mib a power of two)\n");
        return 2;
    }
    return isolation_run(&o);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    if (!strcmp(argv[1], "scale")) {
        return scale_main(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "isolation")) {
        return isolation_main(argc - 1, argv + 1);
    }
    usage();
    return 2;
}
