/*
 * The load generator's two runs and their options (bench/loadgen.c parses
 * them; docs/benchmarks.md says what each measures).
 */
#ifndef BENCH_LOAD_OPTIONS_H
#define BENCH_LOAD_OPTIONS_H

#include <stdint.h>
#include <sys/types.h>

/* Many devices, each with one request in flight, as fast as they are answered. */
struct scale_options {
    const char *socket;         /* the mediator's device socket */
    unsigned devices;           /* VMs first_index .. first_index + devices - 1 */
    unsigned first_index;
    unsigned threads;           /* client threads, each driving a share of the devices */
    double warmup_seconds;      /* unmeasured first */
    double seconds;             /* measured */
    uint64_t requests;          /* per device, all measured; 0: run for the seconds above */
    uint32_t op;                /* VGPU_OP_VECTOR_ADD or VGPU_OP_ADD_F32 */
    uint64_t count;             /* ADD_F32 elements (each device's window holds three arrays) */
    pid_t mediator;             /* whose CPU time and memory to read; 0: none */
    int64_t rss_base_kib;       /* the mediator's RSS before the VMs were registered; -1: unknown */
    const char *json;           /* where to write the result; NULL: nowhere */
};

/* One high-priority VM at a fixed rate, alone and beside low VMs that keep the unit busy. */
struct isolation_options {
    const char *socket;
    unsigned high_index;        /* the high-priority VM */
    unsigned low_first;         /* the low-priority VMs: low_first .. low_first + low_count - 1 */
    unsigned low_count;
    double rate;                /* the high VM's requests per second */
    unsigned blocks;            /* alone and loaded alternate, this many blocks of each */
    double block_seconds;
    uint32_t low_op;            /* ADD_F32 on a window, or VECTOR_ADD (the pool's service
                                   time makes it long) */
    double low_op_us;           /* ADD_F32 is sized to take at least this long */
    uint64_t window_size;       /* each low VM's window, bytes (ADD_F32) */
    const char *json;
};

/* Each returns the program's exit status: 0, 1 (a failure, said on stderr). */
int scale_run(const struct scale_options *o);
int isolation_run(const struct isolation_options *o);

#endif /* BENCH_LOAD_OPTIONS_H */
