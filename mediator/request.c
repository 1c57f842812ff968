/*
 * Request records: see request.h.
 */
#include <string.h>

#include "request.h"

struct request *request_new(struct registry_vm *vm, uint32_t seq, uint32_t request_id,
                            const void *bytes, size_t len, request_complete_fn complete,
                            gpointer owner, GDestroyNotify owner_free)
{
    struct request *r = g_new0(struct request, 1);

    g_assert(len <= sizeof(r->bytes));
    r->vm = vm ? registry_vm_ref(vm) : NULL;
    r->seq = seq;
    r->request_id = request_id;
    r->length = (uint32_t)len;
    memcpy(r->bytes, bytes, len);
    r->received_us = g_get_monotonic_time();
    r->complete = complete;
    r->owner = owner;
    r->owner_free = owner_free;
    return r;
}

void request_free(struct request *r)
{
    if (r->owner_free) {
        r->owner_free(r->owner);
    }
    registry_vm_unref(r->vm);
    if (r->window) {
        window_unref(r->window);
    }
    g_free(r);
}
