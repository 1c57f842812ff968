/*
 * mediator.conf: the daemon's settings and its pools (a GLib key file).
 * docs/mediator.md and mediator.conf(5) describe every key.
 *
 * Every error names the file, and where it can, the line, group and key:
 *   /etc/vgpu/mediator.conf:12: [pool A] workers: "x" is not a number in 1..64
 */
#ifndef MEDIATOR_CONFIG_H
#define MEDIATOR_CONFIG_H

#include <glib.h>
#include <stdint.h>

#include "queue.h"
#include "vgpu/paths.h"

#ifndef MEDIATOR_CONFIG_PATH
#define MEDIATOR_CONFIG_PATH        "/etc/vgpu/mediator.conf"
#endif
#ifndef MEDIATOR_PLUGIN_DIR
#define MEDIATOR_PLUGIN_DIR         "/usr/lib/vgpu/backends"
#endif

#define CONFIG_QUEUE_LIMIT_DEFAULT      4096u
#define CONFIG_QUEUE_LIMIT_MAX          1000000u
#define CONFIG_VM_QUEUE_LIMIT_DEFAULT   64u
#define CONFIG_AGING_MS_MAX             3600000u    /* an hour */
#define CONFIG_DRAIN_TIMEOUT_MS_DEFAULT 5000u
#define CONFIG_DRAIN_TIMEOUT_MS_MAX     600000u
#define CONFIG_SPIN_US_DEFAULT   50u
#define CONFIG_SPIN_US_MAX       10000u
#define CONFIG_WORKERS_DEFAULT          1u
#define CONFIG_WORKERS_MAX              64u
#define CONFIG_IN_FLIGHT_DEFAULT        4u          /* requests a GPU runs at once */
#define CONFIG_IN_FLIGHT_MAX            16u
#define CONFIG_GPUS_MAX                 64u         /* GPU ordinals 0..63 */
#define CONFIG_SERVICE_TIME_US_MAX      10000000u   /* 10 s */
#define CONFIG_BACKEND_NAME_MAX         32u
#define CONFIG_SOCKET_PATH_MAX          107u        /* sun_path without its NUL */

/* Limits a hostile or broken peer runs into: defaults and the ranges accepted. */
#define CONFIG_CONNECTIONS_DEFAULT      1024u
#define CONFIG_CONNECTIONS_MAX          65536u
#define CONFIG_HELLO_TIMEOUT_MS_DEFAULT 5000u
#define CONFIG_MESSAGE_TIMEOUT_MS_DEFAULT 5000u
#define CONFIG_TIMEOUT_MS_MIN           100u
#define CONFIG_TIMEOUT_MS_MAX           3600000u
#define CONFIG_DEVICE_OUTPUT_DEFAULT    (256u << 10)
#define CONFIG_DEVICE_OUTPUT_TOTAL_DEFAULT (64u << 20)
#define CONFIG_CONTROL_CLIENTS_DEFAULT  64u
#define CONFIG_CONTROL_CLIENTS_MAX      4096u
#define CONFIG_CONTROL_TIMEOUT_MS_DEFAULT 10000u
#define CONFIG_CONTROL_OUTPUT_DEFAULT   (4u << 20)
#define CONFIG_CONTROL_OUTPUT_TOTAL_DEFAULT (64u << 20)
#define CONFIG_REGISTRY_FILE_DEFAULT    (64u << 20)     /* ~300 k VMs */
#define CONFIG_WINDOW_MIB_MAX           16384u      /* VGPU_WINDOW_SIZE_MAX in MiB */
#define CONFIG_METRICS_CLIENTS_DEFAULT  16u
#define CONFIG_METRICS_CLIENTS_MAX      1024u
#define CONFIG_OUTPUT_MIN               (64u << 10)
#define CONFIG_OUTPUT_MAX               (1u << 30)

#define CONFIG_ERROR (config_error_quark())
GQuark config_error_quark(void);

enum config_error_code {
    CONFIG_ERROR_READ,          /* the file cannot be read */
    CONFIG_ERROR_SYNTAX,        /* not a key file */
    CONFIG_ERROR_UNKNOWN,       /* a group or key that does not exist */
    CONFIG_ERROR_VALUE,         /* a value out of range or of the wrong kind */
    CONFIG_ERROR_MISSING,       /* something required is absent */
};

struct config_pool {
    uint32_t pool_id;           /* 'A'..'Z' */
    char *backend;              /* "cpu", "cuda", or another plugin's name */
    char *fallback;             /* "cpu" or NULL (none): used when the backend cannot run */
    int gpus[CONFIG_GPUS_MAX];  /* GPU ordinals (not cpu); gpu_count 0: all the backend has */
    unsigned gpu_count;
    unsigned workers;           /* cpu lanes */
    uint32_t service_time_us;   /* cpu: extra time per request */
    unsigned in_flight;         /* requests a unit runs at once, at most (backends may allow fewer) */
    int line;                   /* line of the [pool X] header, for messages */
};

/* What one peer, or all of them, may hold (mediator.conf(5) explains each). */
struct config_limits {
    unsigned device_connections;        /* device-connections-max */
    unsigned device_connections_per_uid; /* device-connections-per-uid */
    unsigned hello_timeout_ms;          /* hello-timeout-ms: from connect to HELLO */
    unsigned message_timeout_ms;        /* message-timeout-ms: a begun message must end */
    unsigned device_output;             /* device-output-max: unsent bytes per connection */
    unsigned device_output_total;       /* device-output-total-max: over all of them */
    unsigned control_clients;           /* control-clients-max */
    unsigned control_timeout_ms;        /* control-timeout-ms: idle or mid-line */
    unsigned control_output;            /* control-output-max: unread reply bytes per client */
    unsigned control_output_total;      /* control-output-total-max */
    unsigned registry_file;             /* registry-file-max: bytes restored at most */
    unsigned window_mib;                /* window-max-mib: a device's data window at most */
    unsigned metrics_clients;           /* metrics-clients-max: HTTP connections to /metrics */
};

struct config {
    char *path;                 /* the file it came from */
    char *runtime_dir;          /* sockets live here */
    GLogLevelFlags log_level;   /* the least severe level logged */
    unsigned queue_limit;       /* all queued requests */
    unsigned vm_queue_limit;    /* queued requests per VM */
    unsigned aging_ms;          /* 0: aging off */
    unsigned drain_timeout_ms;  /* at SIGTERM, how long running requests may take */
    unsigned spin_us;           /* after activity, the main loop and idle units spin this long */
    char *plugin_dir;           /* libvgpu-backend-NAME.so live here */
    char *socket_group;         /* group of the device socket; NULL: the daemon's */
    char *metrics_address;      /* metrics-listen's IP address; NULL: no HTTP endpoint */
    unsigned metrics_port;      /* and its TCP port */
    struct config_limits limits;
    struct config_pool pools[QUEUE_POOL_COUNT];
    unsigned pool_count;        /* in file order */
};

/* Read and check the file at path into *cfg (cleared first).  FALSE with error. */
gboolean config_load(struct config *cfg, const char *path, GError **error);

/* The same for len bytes of text said to come from path. */
gboolean config_parse(struct config *cfg, const char *text, gsize len, const char *path,
                      GError **error);

void config_clear(struct config *cfg);

/* The pool's settings; NULL when the config has no such pool. */
const struct config_pool *config_pool(const struct config *cfg, uint32_t pool_id);

/* "A, B" (free with g_free). */
char *config_pool_names(const struct config *cfg);

/* "error", "warning", "info", "debug" for a level config_parse accepts. */
const char *config_log_level_name(GLogLevelFlags level);

/* "debug" -> G_LOG_LEVEL_DEBUG, ...; false for a name that is none of them. */
bool config_log_level_parse(const char *name, GLogLevelFlags *level);

#endif /* MEDIATOR_CONFIG_H */
