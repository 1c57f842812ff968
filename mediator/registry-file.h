/*
 * The registry's state file, <runtime-dir>/registry.jsonl: the registered
 * VMs as control-protocol `register` lines (docs/control-protocol.md),
 * rewritten after every change and replayed when the daemon starts.  A
 * mediator that restarts (a crash, an upgrade, `systemctl restart`) thus
 * keeps the identity of the VMs that are still running; their devices
 * reconnect by themselves.  /run is cleared at boot, like the VMs.
 */
#ifndef MEDIATOR_REGISTRY_FILE_H
#define MEDIATOR_REGISTRY_FILE_H

#include <glib.h>

#include "registry.h"

#define REGISTRY_FILE_NAME  "registry.jsonl"

/*
 * Write reg's VMs to path (atomically: a temporary file renamed; mode 0600),
 * then the lines of kept (see below) whose UUID is not registered now.
 * FALSE with error.
 */
gboolean registry_file_save(struct registry *reg, GPtrArray *kept, const char *path,
                            GError **error);

/* Handles one request line like the control socket, returning the reply line. */
typedef char *(*registry_file_replay_fn)(const char *line, size_t len, void *data);

/*
 * Replay the register lines of the file at path through replay, leaving out
 * (and logging) VMs whose QEMU pid no longer exists and lines that are not
 * register requests.  A VM whose pool is not configured (an admin removed
 * the pool, or restarted with another config) is not served, but its line
 * goes to kept (strings) so that saving keeps it, and a restart with the
 * pool back registers it again.  A missing file restores nothing, and so
 * does one that is a symbolic link, not this user's or over max_bytes
 * (logged).  Returns how many VMs were registered again.
 */
unsigned registry_file_restore(const char *path, unsigned max_bytes,
                               registry_file_replay_fn replay, void *data, GPtrArray *kept);

#endif /* MEDIATOR_REGISTRY_FILE_H */
