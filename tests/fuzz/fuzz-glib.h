/*
 * For the targets of GLib code: plain malloc for every allocation (so that
 * ASan and LSan see each one: GLib 2.74's slice allocator hides them),
 * and criticals and warnings fatal (a g_return_if_fail that fires is a
 * bug the fuzzer found).  Call from LLVMFuzzerInitialize.
 */
#ifndef VGPU_FUZZ_GLIB_H
#define VGPU_FUZZ_GLIB_H

#include <glib.h>

#include "fuzz.h"

static inline void fuzz_glib_init(void)
{
    setenv("G_SLICE", "always-malloc", 1);
    setenv("G_DEBUG", "gc-friendly", 1);
    g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

/* The error is set, of that domain, with a one-line message starting with prefix. */
static inline void fuzz_check_error(const GError *error, GQuark domain, const char *prefix)
{
    FUZZ_CHECK(error != NULL && error->domain == domain);
    FUZZ_CHECK(error->message != NULL && error->message[0] != '\0');
    FUZZ_CHECK(prefix == NULL || g_str_has_prefix(error->message, prefix));
}

#endif /* VGPU_FUZZ_GLIB_H */
