/*
 * Shared by the libFuzzer targets of tests/fuzz/ (docs/testing.md, "Fuzzing").
 *
 * Each target feeds one parser the fuzzer's bytes and checks what the
 * parser's contract promises about its result with FUZZ_CHECK: a broken
 * promise aborts, which libFuzzer reports as a crash and keeps the input.
 * Memory errors, leaks and undefined behaviour are the sanitizers' to find
 * (the targets are built with ASan, LSan and UBSan, nothing recovers).
 */
#ifndef VGPU_FUZZ_H
#define VGPU_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * A heap copy of exactly n bytes (free it): a read one byte past the end
 * of what a decoder was given is then an ASan report, also where the
 * fuzzer's own buffer goes on.
 */
static inline unsigned char *fuzz_copy(const void *data, size_t n)
{
    unsigned char *copy = malloc(n ? n : 1);

    FUZZ_CHECK(copy != NULL);
    if (n) {
        memcpy(copy, data, n);
    }
    return copy;
}

/* Whether the n bytes at p are all `byte` (an output left untouched). */
static inline int fuzz_all_bytes(const void *p, size_t n, unsigned char byte)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        if (b[i] != byte) {
            return 0;
        }
    }
    return 1;
}

#define FUZZ_POISON 0xa5    /* what an output holds before a decoder runs */

#endif /* VGPU_FUZZ_H */
