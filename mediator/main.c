/*
 * vgpu-mediatord: options, logging, and the run.  See vgpu-mediatord(8).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mediator.h"
#include "sockets.h"

#define EXIT_CONFIG     2       /* the config or the command line is wrong */
#define EXIT_START      1       /* the daemon could not start */

static GLogLevelFlags log_max = G_LOG_LEVEL_INFO;
static gboolean log_to_journal;

/* 0 most severe .. 3 debug, comparable with the configured log-level. */
static int level_rank(GLogLevelFlags level)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
        return 0;
    }
    if (level & G_LOG_LEVEL_WARNING) {
        return 1;
    }
    if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)) {
        return 2;
    }
    return 3;
}

static const char *level_word(GLogLevelFlags level)
{
    static const char *const words[] = { "error", "warning", "info", "debug" };

    return words[level_rank(level)];
}

static GLogWriterOutput log_writer(GLogLevelFlags level, const GLogField *fields, gsize n,
                                   gpointer data)
{
    const char *message = NULL;

    (void)data;
    if (level_rank(level) > level_rank(log_max)) {
        return G_LOG_WRITER_HANDLED;
    }
    if (log_to_journal) {
        return g_log_writer_journald(level, fields, n, NULL);
    }
    for (gsize i = 0; i < n; i++) {
        if (strcmp(fields[i].key, "MESSAGE") == 0) {
            message = fields[i].value;
        }
    }
    fprintf(stderr, "vgpu-mediatord[%d]: %s: %s\n", (int)getpid(), level_word(level),
            message ? message : "");
    fflush(stderr);
    return G_LOG_WRITER_HANDLED;
}

int main(int argc, char **argv)
{
    g_autofree char *config_path = NULL, *runtime_dir = NULL, *log_level = NULL;
    gboolean foreground = FALSE, check = FALSE, version = FALSE;
    unsigned long fd_limit, fds_wanted;
    GOptionEntry entries[] = {
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
          "Read the configuration from FILE (default " MEDIATOR_CONFIG_PATH ")", "FILE" },
        { "foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground,
          "Log to stderr even under systemd (the daemon never forks)", NULL },
        { "runtime-dir", 0, 0, G_OPTION_ARG_FILENAME, &runtime_dir,
          "Put the sockets in DIR (overrides runtime-dir of the config)", "DIR" },
        { "log-level", 0, 0, G_OPTION_ARG_STRING, &log_level,
          "Log LEVEL and above: error, warning, info, debug (overrides the config)", "LEVEL" },
        { "check-config", 0, 0, G_OPTION_ARG_NONE, &check,
          "Check the configuration and exit", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- share GPUs among VMs by priority");
    g_autoptr(GError) error = NULL;
    struct config cfg;
    struct mediator *m;
    int status;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx,
        "Runs in the foreground (systemd Type=notify). SIGTERM or SIGINT drains it:\n"
        "running requests finish, queued ones end with CANCELLED.\n"
        "See vgpu-mediatord(8) and mediator.conf(5).");
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "vgpu-mediatord: %s (try --help)\n", error->message);
        return EXIT_CONFIG;
    }
    if (argc > 1) {
        fprintf(stderr, "vgpu-mediatord: unexpected argument \"%s\" (try --help)\n", argv[1]);
        return EXIT_CONFIG;
    }
    if (version) {
        printf("vgpu-mediatord %s\n", VGPU_VERSION);
        return 0;
    }
    log_to_journal = !foreground && g_log_writer_is_journald(fileno(stderr));
    g_log_set_writer_func(log_writer, NULL, NULL);
    if (!config_load(&cfg, config_path ? config_path : MEDIATOR_CONFIG_PATH, &error)) {
        fprintf(stderr, "vgpu-mediatord: %s\n", error->message);
        return EXIT_CONFIG;
    }
    if (runtime_dir) {
        if (!g_path_is_absolute(runtime_dir)) {
            fprintf(stderr, "vgpu-mediatord: --runtime-dir %s is not an absolute path\n",
                    runtime_dir);
            config_clear(&cfg);
            return EXIT_CONFIG;
        }
        g_free(cfg.runtime_dir);
        cfg.runtime_dir = g_steal_pointer(&runtime_dir);
    }
    if (log_level) {
        if (!config_log_level_parse(log_level, &cfg.log_level)) {
            fprintf(stderr, "vgpu-mediatord: --log-level %s is not error, warning, info or "
                    "debug\n", log_level);
            config_clear(&cfg);
            return EXIT_CONFIG;
        }
    }
    log_max = cfg.log_level;
    if (check) {
        g_autofree char *pools = config_pool_names(&cfg);

        printf("%s: OK (pools: %s)\n", cfg.path, pools);
        config_clear(&cfg);
        return 0;
    }
    fds_wanted = cfg.limits.device_connections + cfg.limits.control_clients +
                 MEDIATOR_FDS_SPARE;
    fd_limit = sockets_raise_fd_limit();
    if (fd_limit < fds_wanted) {
        g_warning("only %lu file descriptors (RLIMIT_NOFILE): fewer than the %lu the connection "
                  "limits need; connections past it wait (LimitNOFILE= in the unit raises it)",
                  fd_limit, fds_wanted);
    }
    m = mediator_new(&cfg, &error);
    if (!m) {
        g_critical("%s", error->message);
        config_clear(&cfg);
        return EXIT_START;
    }
    status = mediator_run(m);
    mediator_free(m);
    return status;
}
