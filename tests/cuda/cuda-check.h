// cuda-check.h: what the test programs of tests/cuda/ share.
//
// Each program runs natively on NVIDIA's runtime and in a VM on the guest's
// libcudart.so.13, and tests/cuda/run-programs.sh compares the two runs'
// standard output line for line.  So a program's stdout holds only lines
// that are the same on every correct run: what it checked and how it came
// out, ending in "PASS <program>" or "FAIL <program>".  Timings and sizes
// that depend on the machine go to stderr.
//
// Exit status: 0 when every check held; 1 when a CUDA call failed (the
// call and the error's name on stderr, "FAIL <program>: ..." on stdout;
// the program stops there); 2 when a result was wrong; 64 for bad usage.
// A program may add its own (out-of-bounds.cu: 3).
#ifndef TESTS_CUDA_CHECK_H
#define TESTS_CUDA_CHECK_H

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <cuda_runtime.h>

#define CHECK_EXIT_CUDA     1
#define CHECK_EXIT_WRONG    2
#define CHECK_EXIT_USAGE    64

static const char *check_program = "cuda-test";    // names every line
static int check_failures;

static inline void check_start(const char *program)
{
    check_program = program;
    // Lines in order even when stdout and stderr go to one file.
    setvbuf(stdout, NULL, _IOLBF, 0);
}

// A CUDA call that must succeed: on failure, say which and stop.
static inline void check_cuda_call(cudaError_t e, const char *call)
{
    if (e != cudaSuccess) {
        fprintf(stderr, "%s: %s: %s: %s\n", check_program, call, cudaGetErrorName(e),
                cudaGetErrorString(e));
        printf("FAIL %s: %s: %s\n", check_program, call, cudaGetErrorName(e));
        exit(CHECK_EXIT_CUDA);
    }
}

#define CHECK_CUDA(call) check_cuda_call((call), #call)

// One check of a result: "<program>: <what>: ok" or ": FAIL" on stdout.
// Returns held, so a caller can add detail to a failure.
static inline bool check_that(bool held, const char *what, ...)
{
    va_list ap;

    printf("%s: ", check_program);
    va_start(ap, what);
    vprintf(what, ap);
    va_end(ap);
    printf(": %s\n", held ? "ok" : "FAIL");
    if (!held) {
        check_failures++;
    }
    return held;
}

// The last line and the exit status.
static inline int check_finish(void)
{
    printf("%s %s\n", check_failures ? "FAIL" : "PASS", check_program);
    return check_failures ? CHECK_EXIT_WRONG : 0;
}

static inline void check_usage(const char *usage)
{
    fprintf(stderr, "usage: %s %s\n", check_program, usage);
    exit(CHECK_EXIT_USAGE);
}

// A positive count from an argument, or exit with the usage.
static inline long long check_count_arg(const char *arg, const char *usage)
{
    char *end;
    long long v = strtoll(arg, &end, 10);

    if (end == arg || *end || v <= 0) {
        check_usage(usage);
    }
    return v;
}

// Host memory the program cannot run without (free() it).
static inline void *check_malloc_aligned(size_t alignment, size_t bytes)
{
    void *p = NULL;

    if (posix_memalign(&p, alignment, bytes)) {
        fprintf(stderr, "%s: out of host memory for %zu bytes\n", check_program, bytes);
        printf("FAIL %s: out of host memory\n", check_program);
        exit(CHECK_EXIT_CUDA);
    }
    return p;
}

static inline void *check_malloc(size_t bytes)
{
    return check_malloc_aligned(sizeof(void *) * 2, bytes);
}

// Wall-clock time in microseconds, for --time.
static inline double check_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

#endif
