/*
 * QEMU's pid at the `started` and `reconnect` hooks.  libvirtd does not
 * pass it in argv: a status XML (<domstatus pid='N'>) carries it when that
 * is what stdin holds, and libvirtd's pid file <state-dir>/<name>.pid
 * always has it once QEMU runs (libvirt 9.0 writes it before it runs the
 * `started` hook, and keeps it while the domain runs).
 */
#ifndef LIBVIRT_HOOKS_QEMU_PID_H
#define LIBVIRT_HOOKS_QEMU_PID_H

#include <glib.h>
#include <libxml/tree.h>
#include <sys/types.h>

#ifndef QEMU_PID_STATE_DIR
#define QEMU_PID_STATE_DIR      "/run/libvirt/qemu"     /* libvirtd's (system) state dir */
#endif
#define QEMU_PID_FILE_MAX       64u                     /* bytes of a pid file we read */

/* The pid= of a <domstatus> root; FALSE when doc has none or it is not a pid. */
gboolean qemu_pid_from_status(xmlDoc *doc, pid_t *pid);

/*
 * The pid in <state_dir>/<name>.pid.  FALSE with error (naming the file)
 * when it is missing, unreadable or does not hold a pid.
 */
gboolean qemu_pid_from_file(const char *state_dir, const char *name, pid_t *pid,
                            GError **error);

/* Parse a pid as written in a pid file ("1234\n"): 1..INT_MAX, decimal. */
gboolean qemu_pid_parse(const char *text, pid_t *pid);

#endif /* LIBVIRT_HOOKS_QEMU_PID_H */
