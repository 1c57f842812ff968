/*
 * mediator.conf: a good file gives the settings (and defaults for what it
 * leaves out); each kind of bad file gives one error naming the file, the
 * line and the key.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "config.h"

#define PATH "/etc/vgpu/mediator.conf"

static const char good[] =
    "# a comment\n"
    "[mediator]\n"
    "runtime-dir=/tmp/vgpu-run\n"
    "log-level=debug\n"
    "queue-limit=100\n"
    "vm-queue-limit=10\n"
    "aging-ms=250\n"
    "drain-timeout-ms=1500\n"
    "spin-us=0\n"
    "plugin-dir=/opt/vgpu/backends\n"
    "socket-group=root\n"
    "metrics-listen=[::1]:9478\n"
    "metrics-clients-max=4\n"
    "\n"
    "[pool A]\n"
    "backend=cuda\n"
    "gpus=0, 1\n"
    "fallback=cpu\n"
    "workers=3\n"
    "in-flight=8\n"
    "\n"
    "[pool B]\n"
    "backend=cpu\n"
    "workers=2\n"
    "service-time-us=500\n";

static void test_good(void)
{
    struct config cfg;
    g_autoptr(GError) error = NULL;
    const struct config_pool *a, *b;
    g_autofree char *names = NULL;

    g_assert_true(config_parse(&cfg, good, strlen(good), PATH, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(cfg.path, ==, PATH);
    g_assert_cmpstr(cfg.runtime_dir, ==, "/tmp/vgpu-run");
    g_assert_cmpint(cfg.log_level, ==, G_LOG_LEVEL_DEBUG);
    g_assert_cmpuint(cfg.queue_limit, ==, 100);
    g_assert_cmpuint(cfg.vm_queue_limit, ==, 10);
    g_assert_cmpuint(cfg.aging_ms, ==, 250);
    g_assert_cmpuint(cfg.drain_timeout_ms, ==, 1500);
    g_assert_cmpuint(cfg.spin_us, ==, 0);
    g_assert_cmpstr(cfg.plugin_dir, ==, "/opt/vgpu/backends");
    g_assert_cmpstr(cfg.socket_group, ==, "root");
    g_assert_cmpstr(cfg.metrics_address, ==, "::1");
    g_assert_cmpuint(cfg.metrics_port, ==, 9478);
    g_assert_cmpuint(cfg.limits.metrics_clients, ==, 4);
    g_assert_cmpuint(cfg.pool_count, ==, 2);
    a = config_pool(&cfg, 'A');
    b = config_pool(&cfg, 'B');
    g_assert_nonnull(a);
    g_assert_cmpstr(a->backend, ==, "cuda");
    g_assert_cmpuint(a->gpu_count, ==, 2);
    g_assert_cmpint(a->gpus[0], ==, 0);
    g_assert_cmpint(a->gpus[1], ==, 1);
    g_assert_cmpstr(a->fallback, ==, "cpu");
    g_assert_cmpuint(a->workers, ==, 3);
    g_assert_cmpuint(a->in_flight, ==, 8);
    g_assert_cmpint(a->line, ==, 15);
    g_assert_cmpstr(b->backend, ==, "cpu");
    g_assert_null(b->fallback);
    g_assert_cmpuint(b->workers, ==, 2);
    g_assert_cmpuint(b->service_time_us, ==, 500);
    g_assert_cmpuint(b->in_flight, ==, CONFIG_IN_FLIGHT_DEFAULT);
    g_assert_null(config_pool(&cfg, 'C'));
    names = config_pool_names(&cfg);
    g_assert_cmpstr(names, ==, "A, B");
    config_clear(&cfg);
}

static void test_defaults(void)
{
    static const char text[] = "[pool A]\nbackend=cpu\n";
    struct config cfg;
    g_autoptr(GError) error = NULL;

    g_assert_true(config_parse(&cfg, text, strlen(text), PATH, &error));
    g_assert_cmpstr(cfg.runtime_dir, ==, VGPU_RUNTIME_DIR);
    g_assert_cmpstr(cfg.plugin_dir, ==, MEDIATOR_PLUGIN_DIR);
    g_assert_cmpint(cfg.log_level, ==, G_LOG_LEVEL_INFO);
    g_assert_cmpuint(cfg.queue_limit, ==, CONFIG_QUEUE_LIMIT_DEFAULT);
    g_assert_cmpuint(cfg.vm_queue_limit, ==, CONFIG_VM_QUEUE_LIMIT_DEFAULT);
    g_assert_cmpuint(cfg.aging_ms, ==, 0);
    g_assert_cmpuint(cfg.spin_us, ==, CONFIG_SPIN_US_DEFAULT);
    g_assert_null(cfg.socket_group);
    g_assert_null(cfg.metrics_address);     /* no HTTP endpoint unless asked for */
    g_assert_cmpuint(cfg.limits.metrics_clients, ==, CONFIG_METRICS_CLIENTS_DEFAULT);
    g_assert_cmpuint(cfg.pools[0].workers, ==, CONFIG_WORKERS_DEFAULT);
    g_assert_cmpuint(cfg.pools[0].service_time_us, ==, 0);
    config_clear(&cfg);
}

static void test_small_queue_caps_vm_default(void)
{
    static const char text[] = "[mediator]\nqueue-limit=10\n[pool A]\nbackend=cpu\n";
    struct config cfg;
    g_autoptr(GError) error = NULL;

    g_assert_true(config_parse(&cfg, text, strlen(text), PATH, &error));
    g_assert_cmpuint(cfg.queue_limit, ==, 10);
    g_assert_cmpuint(cfg.vm_queue_limit, ==, 10);
    config_clear(&cfg);
}

static void test_shipped_default_config(void)
{
    struct config cfg;
    g_autoptr(GError) error = NULL;

    g_assert_true(config_load(&cfg, VGPU_SRCDIR "/mediator/mediator.conf", &error));
    g_assert_no_error(error);
    g_assert_nonnull(config_pool(&cfg, 'A'));
    g_assert_nonnull(config_pool(&cfg, 'B'));
    g_assert_cmpstr(config_pool(&cfg, 'A')->backend, ==, "cpu");
    config_clear(&cfg);
}

static void test_missing_file(void)
{
    struct config cfg;
    g_autoptr(GError) error = NULL;

    g_assert_false(config_load(&cfg, "/nonexistent/vgpu/mediator.conf", &error));
    g_assert_error(error, CONFIG_ERROR, CONFIG_ERROR_READ);
    g_assert_nonnull(strstr(error->message, "/nonexistent/vgpu/mediator.conf"));
}

/* Each bad text: the error code and the exact message (file:line: [group] key: why). */
static const struct {
    const char *text;
    int code;
    const char *message;
} bad[] = {
    { "[pool A]\nbackend=cpu\nthis is not a key\n", CONFIG_ERROR_SYNTAX,
      PATH ":3: \"this is not a key\" is not key=value, a [group] or a # comment" },
    { "backend=cpu\n[pool A]\n", CONFIG_ERROR_SYNTAX,
      PATH ":1: key \"backend=cpu\" comes before any [group]" },
    { "[pool A\nbackend=cpu\n", CONFIG_ERROR_SYNTAX, PATH ":1: \"[pool A\" is not a [group] header" },
    { "[pool A]\nbackend=cpu\n[pool A]\nworkers=2\n", CONFIG_ERROR_SYNTAX,
      PATH ":3: [pool A] is already defined at line 1" },
    { "[pool A]\nbackend=cpu\n[pools B]\nbackend=cpu\n", CONFIG_ERROR_UNKNOWN,
      PATH ":3: [pools B]: unknown group (groups: [mediator] and [pool A]..[pool Z])" },
    { "[mediator]\nqueue-limt=5\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_UNKNOWN,
      PATH ":2: [mediator] queue-limt: unknown key (keys of this group: runtime-dir, log-level, "
      "queue-limit, vm-queue-limit, aging-ms, drain-timeout-ms, spin-us, plugin-dir, socket-group, "
      "device-connections-max, device-connections-per-uid, hello-timeout-ms, message-timeout-ms, "
      "device-output-max, device-output-total-max, control-clients-max, control-timeout-ms, "
      "control-output-max, control-output-total-max, registry-file-max, window-max-mib, "
      "metrics-listen, metrics-clients-max)" },
    { "[mediator]\nqueue-limit=5\nspin-us=1\nqueue-limit=6\n[pool A]\nbackend=cpu\n",
      CONFIG_ERROR_SYNTAX, PATH ":4: [mediator] queue-limit is already set at line 2" },
    { "[pool A]\nbackend=cpu\nbackend[de]=cuda\n", CONFIG_ERROR_SYNTAX,
      PATH ":3: [pool A] backend[de]: localized keys (key[lang]=) are not settings" },
    { "[mediator]\nruntime-dir=/tmp/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] runtime-dir: \"/tmp/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "\" is too long: /tmp/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "/mediator.sock would exceed the 107 bytes of a socket path" },
    { "[mediator]\nhello-timeout-ms=50\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] hello-timeout-ms: \"50\" is not a whole number in 100..3600000" },
    { "[mediator]\ndevice-output-max=1000\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] device-output-max: \"1000\" is not a whole number in 65536..1073741824" },
    { "[mediator]\nqueue-limit=lots\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] queue-limit: \"lots\" is not a whole number in 1..1000000" },
    { "[mediator]\naging-ms=0   # off\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] aging-ms: \"0   # off\" is not a whole number in 0..3600000 "
      "(comments must be on a line of their own)" },
    { "[mediator]\nqueue-limit=10\nvm-queue-limit=20\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":3: [mediator] vm-queue-limit: 20 is more than queue-limit (10)" },
    { "[mediator]\nlog-level=verbose\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] log-level: \"verbose\" is not one of error, warning, info, debug" },
    { "[mediator]\nruntime-dir=run/vgpu\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] runtime-dir: \"run/vgpu\" is not an absolute path" },
    { "[mediator]\nsocket-group=no-such-group-vgpu\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] socket-group: group \"no-such-group-vgpu\" does not exist" },
    { "[mediator]\nmetrics-listen=9478\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] metrics-listen: \"9478\" is not ADDRESS:PORT, as in 127.0.0.1:9478 "
      "(an IPv6 address in brackets: [::1]:9478)" },
    { "[mediator]\nmetrics-listen=::1:9478\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] metrics-listen: \"::1:9478\" is not ADDRESS:PORT, as in "
      "127.0.0.1:9478 (an IPv6 address in brackets: [::1]:9478)" },
    { "[mediator]\nmetrics-listen=[::1]9478\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] metrics-listen: \"[::1]9478\" is not [IPV6-ADDRESS]:PORT, as in "
      "[::1]:9478" },
    { "[mediator]\nmetrics-listen=localhost:9478\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] metrics-listen: \"localhost\" is not an IP address (host names are "
      "not looked up; 127.0.0.1 or ::1 listen on this host only)" },
    { "[mediator]\nmetrics-listen=127.0.0.1:0\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] metrics-listen: port \"0\" is not a whole number in 1..65535" },
    { "[mediator]\nmetrics-listen=127.0.0.1:9478 # local\n[pool A]\nbackend=cpu\n",
      CONFIG_ERROR_VALUE, PATH ":2: [mediator] metrics-listen: port \"9478 # local\" is not a "
      "whole number in 1..65535 (comments must be on a line of their own)" },
    { "[mediator]\nmetrics-listen=\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] metrics-listen: empty (leave the key out for no HTTP endpoint)" },
    { "[mediator]\nmetrics-clients-max=0\n[pool A]\nbackend=cpu\n", CONFIG_ERROR_VALUE,
      PATH ":2: [mediator] metrics-clients-max: \"0\" is not a whole number in 1..1024" },
    { "[pool AB]\nbackend=cpu\n", CONFIG_ERROR_UNKNOWN,
      PATH ":1: [pool AB]: \"AB\" is not a pool name: one letter A..Z, as in [pool A]" },
    { "[pool A]\nworkers=2\n", CONFIG_ERROR_MISSING,
      PATH ":1: [pool A]: no backend= key (cpu, cuda, or the name of a backend plugin)" },
    { "[pool A]\nbackend=../evil\n", CONFIG_ERROR_VALUE,
      PATH ":2: [pool A] backend: \"../evil\" is not a backend name (cpu, cuda, or a plugin's "
      "name: lower-case letters, digits, - and _)" },
    { "[pool A]\nbackend=cpu\ngpus=0\n", CONFIG_ERROR_VALUE,
      PATH ":3: [pool A] gpus: only GPU backends take gpus (this pool's backend is cpu; "
      "cpu lanes are set with workers)" },
    { "[pool A]\nbackend=cuda\ngpus=0,x\n", CONFIG_ERROR_VALUE,
      PATH ":3: [pool A] gpus: \"0,x\" is not a list of GPU ordinals in 0..63 like 0,1" },
    { "[pool A]\nbackend=cuda\ngpus=1,1\n", CONFIG_ERROR_VALUE,
      PATH ":3: [pool A] gpus: GPU 1 is listed twice" },
    { "[pool A]\nbackend=cuda\nfallback=gpu\n", CONFIG_ERROR_VALUE,
      PATH ":3: [pool A] fallback: \"gpu\" is not cpu or none" },
    { "[pool A]\nbackend=cpu\nworkers=0\n", CONFIG_ERROR_VALUE,
      PATH ":3: [pool A] workers: \"0\" is not a whole number in 1..64" },
    { "[pool A]\nbackend=cpu\nservice-time-us=-1\n", CONFIG_ERROR_VALUE,
      PATH ":3: [pool A] service-time-us: \"-1\" is not a whole number in 0..10000000" },
    { "[pool A]\nbackend=cpu\ncolor=blue\n", CONFIG_ERROR_UNKNOWN,
      PATH ":3: [pool A] color: unknown key (keys of this group: backend, gpus, fallback, "
      "workers, service-time-us, in-flight)" },
    { "[pool A]\nbackend=cuda\nin-flight=0\n", CONFIG_ERROR_VALUE,
      PATH ":3: [pool A] in-flight: \"0\" is not a whole number in 1..16" },
    { "[pool A]\nbackend=cuda\nin-flight=17\n", CONFIG_ERROR_VALUE,
      PATH ":3: [pool A] in-flight: \"17\" is not a whole number in 1..16" },
    { "[mediator]\nqueue-limit=10\n", CONFIG_ERROR_MISSING,
      PATH ": no pool is defined (add a [pool A] group with backend=cpu or cuda)" },
    { "", CONFIG_ERROR_MISSING,
      PATH ": no pool is defined (add a [pool A] group with backend=cpu or cuda)" },
};

static void test_bad(gconstpointer data)
{
    size_t i = GPOINTER_TO_SIZE(data);
    struct config cfg;
    g_autoptr(GError) error = NULL;

    g_assert_false(config_parse(&cfg, bad[i].text, strlen(bad[i].text), PATH, &error));
    g_assert_error(error, CONFIG_ERROR, bad[i].code);
    g_assert_cmpstr(error->message, ==, bad[i].message);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/config/good", test_good);
    g_test_add_func("/config/defaults", test_defaults);
    g_test_add_func("/config/small-queue-caps-vm-default", test_small_queue_caps_vm_default);
    g_test_add_func("/config/shipped-default-config", test_shipped_default_config);
    g_test_add_func("/config/missing-file", test_missing_file);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *name = g_strdup_printf("/config/bad/%zu", i);

        g_test_add_data_func(name, GSIZE_TO_POINTER(i), test_bad);
    }
    return g_test_run();
}
