/*
 * vgpu-mediatord's lifecycle: start the modules, run, drain on SIGTERM.
 */
#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "mediator.h"
#include "runtime-dir.h"
#include "registry-file.h"
#include "spin-poll.h"

enum stop_phase {
    STOP_DRAIN,                 /* running requests finish */
    STOP_FLUSH,                 /* completions go out */
    STOP_CLOSE,                 /* the devices read them and close */
};

struct stop_state {
    struct mediator *m;
    enum stop_phase phase;
    gint64 deadline_us;
};

void mediator_notify_status(struct mediator *m)
{
    g_autofree char *pools = config_pool_names(&m->cfg);

    sd_notifyf(0, "STATUS=%u VM(s) registered; pools %s", registry_count(m->registry), pools);
}

static void mediator_finish_scheduler(struct mediator *m)
{
    if (m->control) {
        control_free(m->control);
        m->control = NULL;
    }
    if (m->metrics_http) {
        metrics_http_free(m->metrics_http);     /* it renders from the scheduler's counters */
        m->metrics_http = NULL;
    }
    if (m->links) {
        device_links_stop_reading(m->links);
    }
    if (!scheduler_free(m->scheduler, 0)) {
        /* A worker still runs plugin code: keep the plugins loaded until exit. */
        m->backends = NULL;
    }
    m->scheduler = NULL;
}

/* Shutdown steps, every MEDIATOR_DRAIN_POLL_MS until done. */
static gboolean mediator_stop_tick(gpointer data)
{
    struct stop_state *st = data;
    struct mediator *m = st->m;
    gint64 now = g_get_monotonic_time();

    if (st->phase == STOP_DRAIN) {
        unsigned running = scheduler_running(m->scheduler);

        if (running && now < st->deadline_us) {
            return G_SOURCE_CONTINUE;
        }
        if (running) {
            g_warning("stopping: %u request(s) still running after drain-timeout-ms=%u",
                      running, m->cfg.drain_timeout_ms);
        }
        mediator_finish_scheduler(m);
        st->phase = STOP_FLUSH;
        st->deadline_us = now + (gint64)MEDIATOR_FLUSH_MS * 1000;
    }
    if (st->phase == STOP_FLUSH) {
        if (device_links_pending_output(m->links) && now < st->deadline_us) {
            return G_SOURCE_CONTINUE;
        }
        /* QEMU's socket chardev drops unread bytes when it sees the hangup
         * of a socket closed under it: the last COMPLETE could be lost.  So
         * end our output and exit once each device has read it all (EOF)
         * and closed its end, or at the deadline. */
        device_links_shutdown_output(m->links);
        st->phase = STOP_CLOSE;
    }
    if (device_links_open_peers(m->links) && now < st->deadline_us) {
        return G_SOURCE_CONTINUE;
    }
    g_main_loop_quit(m->loop);
    return G_SOURCE_REMOVE;
}

static gboolean mediator_on_stop_signal(gpointer data)
{
    struct mediator *m = data;
    struct stop_state *st;

    if (m->stopping) {
        g_info("already stopping");
        return G_SOURCE_CONTINUE;
    }
    m->stopping = true;
    g_info("stopping: no new connections; running requests get %u ms to finish",
           m->cfg.drain_timeout_ms);
    sd_notify(0, "STOPPING=1\nSTATUS=draining");
    device_links_stop_listening(m->links);
    scheduler_drain(m->scheduler);
    st = g_new0(struct stop_state, 1);
    st->m = m;
    st->phase = STOP_DRAIN;
    st->deadline_us = g_get_monotonic_time() + (gint64)m->cfg.drain_timeout_ms * 1000;
    if (mediator_stop_tick(st) == G_SOURCE_REMOVE) {
        g_free(st);             /* nothing was running or unsent */
    } else {
        /* Shutdown only: a short poll of the units is simpler than a wake-up path. */
        g_timeout_add_full(G_PRIORITY_DEFAULT, MEDIATOR_DRAIN_POLL_MS, mediator_stop_tick, st,
                           g_free);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean mediator_on_hup(gpointer data)
{
    (void)data;
    g_warning("SIGHUP: reloading the configuration is not supported; restart the service "
              "to apply changes");
    return G_SOURCE_CONTINUE;
}

struct mediator *mediator_new(struct config *cfg, GError **error)
{
    struct mediator *m = g_new0(struct mediator, 1);
    g_autofree char *device_path = NULL, *control_path = NULL;

    m->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    m->started_us = g_get_monotonic_time();
    m->started_wall_us = g_get_real_time();
    if (g_mkdir_with_parents(m->cfg.runtime_dir, 0755) < 0) {
        int saved = errno;

        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                    "cannot create runtime-dir %s: %s", m->cfg.runtime_dir, g_strerror(saved));
        goto fail;
    }
    if (!runtime_dir_trusted(m->cfg.runtime_dir, error)) {
        goto fail;
    }
    m->backends = backends_new(m->cfg.plugin_dir);
    m->registry = registry_new();
    m->registry_kept = g_ptr_array_new_with_free_func(g_free);
    m->scheduler = scheduler_new(&m->cfg, m->backends, error);
    if (!m->scheduler) {
        goto fail;
    }
    device_path = g_build_filename(m->cfg.runtime_dir, VGPU_DEVICE_SOCKET, NULL);
    control_path = g_build_filename(m->cfg.runtime_dir, VGPU_CONTROL_SOCKET, NULL);
    m->links = device_links_new(device_path, m->cfg.socket_group, &m->cfg.limits, m->registry,
                                m->scheduler, error);
    if (!m->links) {
        goto fail;
    }
    m->control = control_new(control_path, &m->cfg.limits, commands_handle, m, error);
    if (!m->control) {
        goto fail;
    }
    if (m->cfg.metrics_address) {
        m->metrics_http = metrics_http_new(m, error);
        if (!m->metrics_http) {
            goto fail;
        }
    }
    m->registry_path = g_build_filename(m->cfg.runtime_dir, REGISTRY_FILE_NAME, NULL);
    m->restoring = true;
    m->restored = registry_file_restore(m->registry_path, m->cfg.limits.registry_file,
                                        commands_handle, m, m->registry_kept);
    m->restoring = false;
    if (m->restored) {
        g_info("%u VM(s) registered again from %s", m->restored, m->registry_path);
    }
    mediator_save_registry(m);
    m->loop = g_main_loop_new(NULL, FALSE);
    spin_poll_install(NULL, m->cfg.spin_us);
    g_unix_signal_add(SIGTERM, mediator_on_stop_signal, m);
    g_unix_signal_add(SIGINT, mediator_on_stop_signal, m);
    g_unix_signal_add(SIGHUP, mediator_on_hup, m);
    g_info("vgpu-mediatord %s ready: devices on %s, control on %s", VGPU_VERSION, device_path,
           control_path);
    return m;
fail:
    mediator_free(m);
    return NULL;
}

int mediator_run(struct mediator *m)
{
    sd_notify(0, "READY=1");
    mediator_notify_status(m);
    g_main_loop_run(m->loop);
    g_info("stopped");
    return m->exit_status;
}

void mediator_free(struct mediator *m)
{
    if (m->control) {
        control_free(m->control);
    }
    if (m->links) {
        device_links_stop_reading(m->links);
    }
    if (m->scheduler) {
        mediator_finish_scheduler(m);
    }
    if (m->links) {
        device_links_free(m->links);
    }
    if (m->registry) {
        registry_free(m->registry);
    }
    if (m->backends) {
        backends_free(m->backends);
    }
    if (m->loop) {
        g_main_loop_unref(m->loop);
    }
    config_clear(&m->cfg);
    if (m->registry_kept) {
        g_ptr_array_unref(m->registry_kept);
    }
    g_free(m->registry_path);
    g_free(m);
}

void mediator_save_registry(struct mediator *m)
{
    g_autoptr(GError) error = NULL;

    if (m->restoring) {
        return;
    }
    if (!registry_file_save(m->registry, m->registry_kept, m->registry_path, &error)) {
        g_warning("cannot save the registry state: %s (a restarted mediator will not know "
                  "the VMs registered now)", error->message);
    }
}
