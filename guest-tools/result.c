/*
 * Result names, messages and the per-thread failure detail: see vgpu.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "result.h"

static __thread char last_error[VGPU_RESULT_DETAIL_MAX];

#define RESULT_NAME(name, msg) [VGPU_RESULT_##name] = #name,
static const char *const result_names[VGPU_RESULT_COUNT] = {
    VGPU_RESULT_TABLE(RESULT_NAME)
};
#undef RESULT_NAME

#define RESULT_MESSAGE(name, msg) [VGPU_RESULT_##name] = msg,
static const char *const result_messages[VGPU_RESULT_COUNT] = {
    VGPU_RESULT_TABLE(RESULT_MESSAGE)
};
#undef RESULT_MESSAGE

const char *vgpu_result_name(enum vgpu_result result)
{
    return (unsigned)result < VGPU_RESULT_COUNT ? result_names[result] : NULL;
}

const char *vgpu_result_message(enum vgpu_result result)
{
    return (unsigned)result < VGPU_RESULT_COUNT ? result_messages[result] : "unknown result";
}

const char *vgpu_last_error(void)
{
    return last_error;
}

enum vgpu_result vgpu_result_fail(enum vgpu_result result, const char *fmt, ...)
{
    int saved_errno = errno;
    va_list ap;

    va_start(ap, fmt);
    errno = saved_errno;        /* for %m */
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    errno = saved_errno;
    return result;
}
