/*
 * What the load generator reads about the mediator from /proc: its CPU time
 * (utime + stime of all its threads) and its memory.
 */
#ifndef BENCH_PROC_STAT_H
#define BENCH_PROC_STAT_H

#include <stdint.h>
#include <sys/types.h>

/* CPU time used so far, in microseconds (clock-tick resolution); -1 on error. */
int64_t proc_cpu_us(pid_t pid);

/* From /proc/PID/status, in KiB. */
struct proc_memory {
    uint64_t rss_kib;       /* VmRSS: all resident pages */
    uint64_t anon_kib;      /* RssAnon: the process's own (heap, stacks) */
    uint64_t shmem_kib;     /* RssShmem: shared memory it touched (the VMs' windows) */
    uint64_t virt_kib;      /* VmSize: its address space */
};

/* 0, or -1 when the file cannot be read. */
int proc_memory_read(pid_t pid, struct proc_memory *m);

#endif /* BENCH_PROC_STAT_H */
