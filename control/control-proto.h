/*
 * The control protocol's requests: one JSON object per line, parsed and
 * checked here, and built here for every client: vgpuctl, the libvirt hook
 * and the registry file (docs/control-protocol.md).  Pure: no sockets, no
 * state.
 *
 * Every error has a stable name that the reply carries in "error".
 */
#ifndef VGPU_CONTROL_PROTO_H
#define VGPU_CONTROL_PROTO_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vgpu/paths.h"

#define CONTROL_LINE_MAX    65536u      /* bytes of a request line, without the newline */

/* X(enum suffix, "wire name") */
#define CONTROL_COMMAND_TABLE(X) \
    X(PING, "ping") \
    X(REGISTER, "register") \
    X(SET_PID, "set-pid") \
    X(UNREGISTER, "unregister") \
    X(LIST, "list") \
    X(STATS, "stats") \
    X(METRICS, "metrics") \
    X(PAUSE, "pause") \
    X(RESUME, "resume")

#define CONTROL_COMMAND_ENUM(id, name) CONTROL_CMD_##id,
enum control_command {
    CONTROL_COMMAND_TABLE(CONTROL_COMMAND_ENUM)
    CONTROL_CMD_COUNT
};
#undef CONTROL_COMMAND_ENUM

/* Stable error names of replies: X(enum suffix, "name") */
#define CONTROL_ERROR_TABLE(X) \
    X(MALFORMED, "malformed-request") \
    X(TOO_LONG, "request-too-long") \
    X(UNKNOWN_COMMAND, "unknown-command") \
    X(MISSING_ARGUMENT, "missing-argument") \
    X(BAD_ARGUMENT, "bad-argument") \
    X(UNKNOWN_POOL, "unknown-pool") \
    X(VM_ID_TAKEN, "vm-id-taken") \
    X(ALREADY_REGISTERED, "already-registered") \
    X(NOT_REGISTERED, "not-registered") \
    X(STOPPING, "stopping") \
    X(BUSY, "busy")

#define CONTROL_ERROR_ENUM(id, name) CONTROL_ERROR_##id,
enum control_error_code {
    CONTROL_ERROR_TABLE(CONTROL_ERROR_ENUM)
    CONTROL_ERROR_CODE_COUNT
};
#undef CONTROL_ERROR_ENUM

#define CONTROL_ERROR (control_error_quark())
GQuark control_error_quark(void);

/* "malformed-request" for CONTROL_ERROR_MALFORMED, ... */
const char *control_error_name(int code);

struct control_request {
    enum control_command command;
    uint8_t uuid[16];           /* register, set-pid, unregister */
    char *name;                 /* register: the domain's name */
    uint32_t pool_id;           /* register */
    uint32_t priority;          /* register */
    uint32_t vm_id;             /* register */
    uint64_t gpu_memory_quota;  /* register: bytes, 1..VGPU_GPU_MEMORY_MAX; 0: none given */
    pid_t pid;                  /* register (0: not given), set-pid */
};

/*
 * Parse one request line (len bytes, no newline).  FALSE with a
 * CONTROL_ERROR whose message is one clear line.
 */
gboolean control_request_parse(const char *line, size_t len, struct control_request *req,
                               GError **error);
void control_request_clear(struct control_request *req);

/*
 * The one encoder of requests, which control_request_parse reads back: the
 * members req->command takes (pid only when > 0).  req holds valid values
 * (the caller checked them).  As an object (json_object_unref it) ...
 */
JsonObject *control_request_to_json(const struct control_request *req);

/* ... or as one line without a newline (g_free it). */
char *control_request_encode(const struct control_request *req);

/* The wire name of a command ("set-pid"). */
const char *control_command_name(enum control_command command);

/* {"ok":false,"error":NAME,"message":MESSAGE} as one line without newline. */
char *control_reply_error(const char *name, const char *message);

#endif /* VGPU_CONTROL_PROTO_H */
