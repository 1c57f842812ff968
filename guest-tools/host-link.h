/*
 * The host link: libvgpu in a host process, speaking the wire protocol
 * (include/vgpu/wire.h) straight to vgpu-mediatord as the QEMU device does,
 * so that the same programs (vgpu-client, libcudart.so.13) run on the host
 * for benchmarks and tests without a guest.
 *
 * A device address "unix:PATH" selects it; the VM is $VGPU_VM_UUID (it must
 * be registered at the mediator) and the window $VGPU_WINDOW_SIZE bytes.
 * The link stands in for the device's side of the protocol: HELLO, then
 * WINDOW with the window's memfd, then IDENTITY; one SUBMIT at a time,
 * answered by COMPLETE; IDENTITY again whenever the registration changes.
 * On a lost connection the request in flight ends MEDIATOR_RESTARTED (as on
 * the device) and the next request connects again.
 *
 * Not thread-safe: device.c calls it under the handle's mutex.
 */
#ifndef VGPU_GUEST_HOST_LINK_H
#define VGPU_GUEST_HOST_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "vgpu.h"
#include "window.h"

#define VGPU_HOST_LINK_PREFIX       "unix:"
#define VGPU_VM_UUID_ENV            "VGPU_VM_UUID"
#define VGPU_WINDOW_SIZE_ENV        "VGPU_WINDOW_SIZE"
/* "unix:" and a sockaddr_un path, with its NUL */
#define VGPU_HOST_LINK_ADDRESS_MAX  (sizeof(VGPU_HOST_LINK_PREFIX) + 108)

struct vgpu_host_link;

/* Whether address names a host link ("unix:PATH") rather than a PCI device. */
bool vgpu_host_link_selected(const char *address);

/*
 * Connect to the mediator at address ("unix:PATH"), say HELLO for
 * $VGPU_VM_UUID, create *window ($VGPU_WINDOW_SIZE, default
 * VGPU_WINDOW_SIZE_DEFAULT) and send it, and wait (up to timeout_ms) for
 * IDENTITY.  wait POLL or AUTO spins on the socket before blocking, IRQ
 * blocks at once.  The caller owns *window and keeps it mapped while the
 * link lives.  Returns OK with *out set, or INVALID (no or bad
 * $VGPU_VM_UUID or $VGPU_WINDOW_SIZE, a path too long), NO_DEVICE (no
 * mediator at PATH, or the VM is not registered), PERMISSION, TIMEOUT,
 * PROTOCOL or IO, with the detail in vgpu_last_error().
 */
enum vgpu_result vgpu_host_link_open(const char *address, enum vgpu_wait_mode wait,
                                     unsigned timeout_ms, struct vgpu_window *window,
                                     struct vgpu_host_link **out);

void vgpu_host_link_close(struct vgpu_host_link *link);

/* The identity the mediator gave last (0s while it gives none). */
void vgpu_host_link_identity(const struct vgpu_host_link *link, uint32_t *pool_id,
                             uint32_t *priority, uint32_t *vm_id);

/* POLL or IRQ: how the link waits for the mediator. */
enum vgpu_wait_mode vgpu_host_link_wait_mode(const struct vgpu_host_link *link);

/*
 * Send request_len bytes as SUBMIT with c->request_id and wait until
 * deadline_ns for its COMPLETE.  On OK, *c says how it ended (DONE, or
 * ERROR with the mediator's code) and the first response_cap bytes of the
 * response are in response: the caller judges them as the device's.
 * Errors the link finds itself fill *c as the device would (ERROR with
 * NOT_CONNECTED, MEDIATOR_RESTARTED or PROTOCOL) and return DEVICE_ERROR;
 * TIMEOUT leaves the request in flight (the next call waits for it first).
 */
enum vgpu_result vgpu_host_link_transact(struct vgpu_host_link *link, uint64_t deadline_ns,
                                         const void *request, size_t request_len,
                                         void *response, size_t response_cap,
                                         struct vgpu_completion *c);

#endif /* VGPU_GUEST_HOST_LINK_H */
