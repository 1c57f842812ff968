/*
 * Control socket client: see control-client.h.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control-client.h"
#include "runtime-dir.h"

#define CONTROL_CLIENT_SOCKET   "control.sock"
#define CONTROL_CLIENT_CHUNK    65536

struct control_client {
    int fd;
    char *path;
    unsigned timeout_ms;
    GByteArray *in;             /* bytes after the last reply line */
};

G_DEFINE_QUARK(vgpu-control-client-error-quark, control_client_error)

char *control_client_socket_path(const char *runtime_dir)
{
    return g_build_filename(runtime_dir, CONTROL_CLIENT_SOCKET, NULL);
}

static void unreachable(GError **error, const char *path, int err)
{
    switch (err) {
    case ENOENT:
        g_set_error(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_UNREACHABLE,
                    "vgpu-mediatord is not running (no socket at %s)", path);
        break;
    case ECONNREFUSED:
        g_set_error(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_UNREACHABLE,
                    "vgpu-mediatord is not running (nothing listens on %s)", path);
        break;
    case EACCES:
    case EPERM:
        g_set_error(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_UNREACHABLE,
                    "permission denied on %s (the control socket is for root and the "
                    "daemon's user)", path);
        break;
    default:
        g_set_error(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_UNREACHABLE,
                    "cannot reach vgpu-mediatord at %s: %s", path, g_strerror(err));
    }
}

ControlClient *control_client_connect(const char *path, unsigned timeout_ms, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    ControlClient *c;
    int fd;

    g_autofree char *dir = g_path_get_dirname(path);
    g_autoptr(GError) untrusted = NULL;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_UNREACHABLE,
                    "socket path %s is too long", path);
        return NULL;
    }
    /* the answer from a socket someone else could have put there means nothing
     * (a directory that is not there fails at connect, with its own message) */
    if (g_file_test(dir, G_FILE_TEST_EXISTS) && !runtime_dir_trusted(dir, &untrusted)) {
        g_set_error(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_UNREACHABLE,
                    "not connecting to %s: %s", path, untrusted->message);
        return NULL;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        unreachable(error, path, errno);
        return NULL;
    }
    /* A full backlog would block connect(): bound it like every other wait. */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int saved = errno;

        close(fd);
        if (saved == EAGAIN || saved == EINPROGRESS) {
            g_set_error(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_UNREACHABLE,
                        "vgpu-mediatord did not accept a connection on %s within %u ms",
                        path, timeout_ms);
        } else {
            unreachable(error, path, saved);
        }
        return NULL;
    }
    c = g_new0(ControlClient, 1);
    c->fd = fd;
    c->path = g_strdup(path);
    c->timeout_ms = timeout_ms;
    c->in = g_byte_array_new();
    return c;
}

void control_client_free(ControlClient *c)
{
    if (c) {
        close(c->fd);
        g_free(c->path);
        g_byte_array_unref(c->in);
        g_free(c);
    }
}

static gboolean send_all(ControlClient *c, const char *buf, size_t len, GError **error)
{
    while (len) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            g_set_error(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_UNREACHABLE,
                        "vgpu-mediatord at %s: sending failed: %s", c->path, g_strerror(errno));
            return FALSE;
        }
        buf += n;
        len -= (size_t)n;
    }
    return TRUE;
}

/* One reply line (without newline, free it), or NULL with an error. */
static char *read_line(ControlClient *c, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)c->timeout_ms * 1000;
    guint8 chunk[CONTROL_CLIENT_CHUNK];
    guint8 *nl;

    while (!(nl = c->in->len ? memchr(c->in->data, '\n', c->in->len) : NULL)) {
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        ssize_t n;
        int ready;

        if (c->in->len > CONTROL_CLIENT_REPLY_MAX) {
            g_set_error(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_PROTOCOL,
                        "vgpu-mediatord at %s sent a reply over %u bytes", c->path,
                        CONTROL_CLIENT_REPLY_MAX);
            return NULL;
        }
        ready = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready == 0) {
            g_set_error(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_UNREACHABLE,
                        "vgpu-mediatord at %s did not answer within %u ms", c->path,
                        c->timeout_ms);
            return NULL;
        }
        n = recv(c->fd, chunk, sizeof(chunk), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_set_error(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_UNREACHABLE,
                        "vgpu-mediatord at %s closed the connection without a reply%s%s",
                        c->path, n < 0 ? ": " : "", n < 0 ? g_strerror(errno) : "");
            return NULL;
        }
        g_byte_array_append(c->in, chunk, (guint)n);
    }
    {
        size_t len = (size_t)(nl - c->in->data);
        char *line = g_strndup((const char *)c->in->data, len);

        g_byte_array_remove_range(c->in, 0, (guint)len + 1);
        return line;
    }
}

/*
 * Whether text nests arrays and objects at most max deep (strings skipped):
 * json-glib's parser recurses once per level, so a hostile daemon (or a
 * socket path taken from a domain XML) could overflow the stack otherwise.
 */
static gboolean json_depth_at_most(const char *text, unsigned max)
{
    unsigned depth = 0;
    gboolean in_string = FALSE;

    for (const char *p = text; *p; p++) {
        if (in_string) {
            if (*p == '\\' && p[1]) {
                p++;
            } else if (*p == '"') {
                in_string = FALSE;
            }
        } else if (*p == '"') {
            in_string = TRUE;
        } else if (*p == '[' || *p == '{') {
            if (++depth > max) {
                return FALSE;
            }
        } else if ((*p == ']' || *p == '}') && depth > 0) {
            depth--;
        }
    }
    return TRUE;
}

JsonObject *control_client_call(ControlClient *c, const struct control_request *request,
                                char **error_name, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autofree char *text = control_request_encode(request), *line = NULL;
    g_autoptr(GError) send_error = NULL;
    JsonNode *root;
    JsonObject *reply;

    if (!send_all(c, text, strlen(text), &send_error) || !send_all(c, "\n", 1, &send_error)) {
        /* a mediator that turns the connection away (busy) answers before it closes */
        line = read_line(c, NULL);
        if (!line) {
            g_propagate_error(error, g_steal_pointer(&send_error));
            return NULL;
        }
    } else if (!(line = read_line(c, error))) {
        return NULL;
    }
    root = json_depth_at_most(line, CONTROL_CLIENT_DEPTH_MAX) &&
           json_parser_load_from_data(parser, line, -1, NULL) ? json_parser_get_root(parser)
                                                              : NULL;
    if (!root || !JSON_NODE_HOLDS_OBJECT(root) ||
        !json_object_has_member(json_node_get_object(root), "ok")) {
        g_set_error(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_PROTOCOL,
                    "vgpu-mediatord at %s sent a reply that is not a JSON object with \"ok\"",
                    c->path);
        return NULL;
    }
    reply = json_node_get_object(root);
    if (!json_object_get_boolean_member(reply, "ok")) {
        const char *name = json_object_get_string_member_with_default(reply, "error", "unknown");
        const char *message = json_object_get_string_member_with_default(
            reply, "message", "the mediator refused without a message");

        if (error_name) {
            *error_name = g_strdup(name);
        }
        g_set_error_literal(error, CONTROL_CLIENT_ERROR, CONTROL_CLIENT_ERROR_REFUSED, message);
        return NULL;
    }
    return json_object_ref(reply);
}
