/*
 * The stubs of unsupported.c are compiled without NVIDIA's headers (their
 * prototypes would clash with the stubs' (void) ones): this is all they
 * need of the rest of the library.
 */
#ifndef CUDART_UNSUPPORTED_H
#define CUDART_UNSUPPORTED_H

#include <stdbool.h>

#define CUDART_ERROR_NOT_SUPPORTED 801     /* cudaErrorNotSupported */

/* Say once (per *said) that name is not supported; record and return the error. */
int cudart_unsupported(const char *name, bool *said);

#endif /* CUDART_UNSUPPORTED_H */
