/*
 * A client of vgpu-mediatord's control socket (docs/control-protocol.md),
 * for vgpuctl and the libvirt hook: connect with a short timeout, send one
 * request, read its reply, and turn every failure into one clear message.
 *
 *   GError *err = NULL;
 *   struct control_request ping = { .command = CONTROL_CMD_PING };
 *   ControlClient *c = control_client_connect(path, CONTROL_CLIENT_TIMEOUT_MS, &err);
 *   JsonObject *reply = c ? control_client_call(c, &ping, NULL, &err) : NULL;
 */
#ifndef VGPU_CONTROL_CLIENT_H
#define VGPU_CONTROL_CLIENT_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "control-proto.h"

#define CONTROL_CLIENT_TIMEOUT_MS   5000        /* default for connect and each reply */
#define CONTROL_CLIENT_REPLY_MAX    (64u << 20) /* bytes of one reply line */
#define CONTROL_CLIENT_DEPTH_MAX    64          /* nesting of a reply (the daemon's is 4) */

#define CONTROL_CLIENT_ERROR (control_client_error_quark())
GQuark control_client_error_quark(void);

enum control_client_error {
    CONTROL_CLIENT_ERROR_UNREACHABLE,   /* no daemon, no permission, or no answer in time */
    CONTROL_CLIENT_ERROR_REFUSED,       /* the daemon answered {"ok":false,...} */
    CONTROL_CLIENT_ERROR_PROTOCOL,      /* the answer was not a reply */
};

typedef struct control_client ControlClient;

/* <runtime_dir>/control.sock (free with g_free). */
char *control_client_socket_path(const char *runtime_dir);

/*
 * Connect to the control socket at path.  NULL with UNREACHABLE and a
 * message such as "vgpu-mediatord is not running (no socket at PATH)".
 */
ControlClient *control_client_connect(const char *path, unsigned timeout_ms, GError **error);

void control_client_free(ControlClient *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ControlClient, control_client_free)

/*
 * Send request (encoded by control_request_to_json) and wait for the reply.
 * Returns the reply object (json_object_unref it) when it says ok; else
 * NULL with REFUSED (the daemon's message; *error_name, when not NULL,
 * gets its stable name to g_free), UNREACHABLE or PROTOCOL.
 */
JsonObject *control_client_call(ControlClient *c, const struct control_request *request,
                                char **error_name, GError **error);

#endif /* VGPU_CONTROL_CLIENT_H */
