/*
 * Whether a runtime directory (where control.sock, mediator.sock and the
 * registry live) can be trusted: the daemon checks it before creating its
 * sockets, and vgpuctl and the libvirt hook before they connect, so that
 * nobody else can put an impostor's socket there.
 */
#ifndef CONTROL_RUNTIME_DIR_H
#define CONTROL_RUNTIME_DIR_H

#include <glib.h>

#define RUNTIME_DIR_SYSTEM_UID_MAX  999     /* Debian's SYS_UID_MAX: system users' uids */

/*
 * TRUE when dir is a directory (not a symbolic link) owned by this process's
 * user, root or a system user (the packaged /run/vgpu belongs to the
 * daemon's system user), that other users cannot write.  FALSE with an
 * error saying which rule it breaks and who could abuse it.
 */
gboolean runtime_dir_trusted(const char *dir, GError **error);

#endif /* CONTROL_RUNTIME_DIR_H */
