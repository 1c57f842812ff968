/*
 * Links to the QEMU devices (not the GPUs: those are the scheduler's
 * units): the listener and one connection per running vgpu-stub device on
 * <runtime-dir>/mediator.sock, speaking the wire protocol of
 * include/vgpu/wire.h.
 *
 * A device says HELLO with its VM's UUID and gets IDENTITY back from the
 * registry (or NOT_REGISTERED, and stays connected until the VM is
 * registered).  The peer's pid (SO_PEERCRED) must be the registered QEMU
 * pid when one is known.  SUBMITs go to the scheduler; COMPLETEs are sent
 * by whichever thread finishes the request, straight to the socket, with a
 * per-connection buffer for a peer that reads slowly.
 *
 * Main thread only, except completions (thread-safe).
 */
#ifndef MEDIATOR_DEVICE_LINKS_H
#define MEDIATOR_DEVICE_LINKS_H

#include <glib.h>
#include <stdint.h>

#include "config.h"
#include "registry.h"
#include "scheduler.h"

struct device_links;

/*
 * Listen on socket_path (mode 0660, group when not NULL), holding peers to
 * limits (connections in all and per uid, time to HELLO and to finish a
 * message begun, unsent output per connection and in all).  NULL with an
 * error.
 */
struct device_links *device_links_new(const char *socket_path, const char *group,
                                      const struct config_limits *limits,
                                      struct registry *registry, struct scheduler *scheduler,
                                      GError **error);

/* Close every connection and the listener, remove the socket file. */
void device_links_free(struct device_links *d);

/* Stop accepting connections (at SIGTERM); the socket file goes away. */
void device_links_stop_listening(struct device_links *d);

/* Stop reading from devices (before the scheduler goes away). */
void device_links_stop_reading(struct device_links *d);

/* Bytes not yet written to any device. */
gsize device_links_pending_output(struct device_links *d);

/*
 * At the end of a stop, once everything is written: end the output of every
 * connection (the devices read what is left, then EOF) ...
 */
void device_links_shutdown_output(struct device_links *d);

/* ... and count the devices that have not closed their end yet. */
unsigned device_links_open_peers(struct device_links *d);

/*
 * The registration of uuid changed (registered, unregistered, pid set):
 * tell its connections their identity, and close those whose peer is not
 * the registered pid.  Returns how many connections were closed.
 */
unsigned device_links_registration_changed(struct device_links *d, const uint8_t uuid[16]);

/* Connections that have said HELLO with uuid. */
unsigned device_links_connected(struct device_links *d, const uint8_t uuid[16]);

/* All connections. */
unsigned device_links_count(struct device_links *d);

/* Connections accepted, and refused at a limit, since the start. */
void device_links_totals(struct device_links *d, uint64_t *accepted, uint64_t *refused);

#endif /* MEDIATOR_DEVICE_LINKS_H */
