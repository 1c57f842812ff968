/*
 * /proc readers: see proc-stat.h.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc-stat.h"

int64_t proc_cpu_us(pid_t pid)
{
    char path[64], line[1024], *p;
    unsigned long long utime, stime;
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    ok = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    /* the command name may hold spaces and parentheses: fields count from the last ')' */
    p = ok ? strrchr(line, ')') : NULL;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                     &utime, &stime) != 2) {
        return -1;
    }
    return (int64_t)((utime + stime) * 1000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

int proc_memory_read(pid_t pid, struct proc_memory *m)
{
    char path[64], line[256];
    unsigned long long v;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    memset(m, 0, sizeof(*m));
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %llu kB", &v) == 1) {
            m->rss_kib = v;
        } else if (sscanf(line, "RssAnon: %llu kB", &v) == 1) {
            m->anon_kib = v;
        } else if (sscanf(line, "RssShmem: %llu kB", &v) == 1) {
            m->shmem_kib = v;
        } else if (sscanf(line, "VmSize: %llu kB", &v) == 1) {
            m->virt_kib = v;
        }
    }
    fclose(f);
    return 0;
}
