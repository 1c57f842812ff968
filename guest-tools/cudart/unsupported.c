/*
 * Every name of NVIDIA's libcudart.so.13 that this library does not
 * implement (unsupported-list.h) is a stub: called with whatever
 * arguments, it says on stderr which function the program needs, and
 * returns cudaErrorNotSupported, which also becomes the last error.  The
 * x86-64 calling convention lets a (void) function stand for any of them:
 * all return cudaError_t (an int) or nothing.
 */
#include "unsupported-list.h"
#include "unsupported.h"

#define UNSUPPORTED_STUB(name)                                      \
    __attribute__((visibility("default"))) int name(void);          \
    int name(void)                                                  \
    {                                                               \
        static bool said;                                           \
        return cudart_unsupported(#name, &said);                    \
    }

CUDART_UNSUPPORTED_TABLE(UNSUPPORTED_STUB)
