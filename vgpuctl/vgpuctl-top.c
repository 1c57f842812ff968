/*
 * vgpuctl top: a live view of the mediator that refreshes like top(1),
 * for an operator on the host without a Grafana.  Every --delay seconds
 * it asks for ping and stats (one control connection) and shows each VM,
 * pool and unit: requests completed and failed per second, the queue, the
 * mean queue wait and execution time of the requests of the last
 * interval, the p99 of both since the mediator started, the data window's
 * throughput; for a unit, requests per second and how busy it was; and,
 * when VMs run CUDA work, each VM's GPU memory, GPU share and kernels.
 * q quits.
 */
#include <curses.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control-client.h"
#include "vgpuctl.h"

#define TOP_DELAY_DEFAULT_S 2.0
#define TOP_DELAY_MIN_S     0.1
#define TOP_DELAY_MAX_S     3600.0
#define TOP_NAME_WIDTH      16

static double opt_delay = TOP_DELAY_DEFAULT_S;
static int opt_iterations;

static const GOptionEntry top_options[] = {
    { "delay", 'd', 0, G_OPTION_ARG_DOUBLE, &opt_delay,
      "Refresh every SECONDS (default 2, 0.1 to 3600)", "SECONDS" },
    { "iterations", 'n', 0, G_OPTION_ARG_INT, &opt_iterations,
      "Stop after N refreshes (default: when q is pressed)", "N" },
    { NULL },
};

/* What the mediator said at one moment. */
struct sample {
    JsonObject *ping;           /* NULL when it did not answer */
    JsonObject *stats;          /* NULL when it did not answer */
    gint64 at_us;               /* monotonic, when stats was asked for: the next is due after */
    char *error;                /* why not, when stats is NULL */
};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void sample_clear(struct sample *s)
{
    g_clear_pointer(&s->ping, json_object_unref);
    g_clear_pointer(&s->stats, json_object_unref);
    g_clear_pointer(&s->error, g_free);
}

static void sample_take(struct vgpuctl *ctl, struct sample *s)
{
    g_autoptr(ControlClient) client = NULL;
    g_autoptr(GError) error = NULL;

    sample_clear(s);
    client = control_client_connect(ctl->socket_path, (unsigned)ctl->timeout_ms, &error);
    if (client) {
        s->ping = control_client_call(client, VGPUCTL_REQUEST(CONTROL_CMD_PING), NULL, &error);
    }
    s->at_us = g_get_monotonic_time();
    if (s->ping) {
        s->stats = control_client_call(client, VGPUCTL_REQUEST(CONTROL_CMD_STATS), NULL,
                                       &error);
    }
    if (!s->stats) {
        s->error = g_strdup(error->message);
    }
}

static gint64 int_member(JsonObject *o, const char *name)
{
    return json_object_get_int_member(o, name);
}


/* The row of prev's array that has the same key member as row, or NULL. */
static JsonObject *row_before(JsonObject *prev_stats, const char *array, const char *key,
                              JsonObject *row)
{
    JsonArray *rows;

    if (!prev_stats) {
        return NULL;
    }
    rows = json_object_get_array_member(prev_stats, array);
    for (guint i = 0; i < json_array_get_length(rows); i++) {
        JsonObject *candidate = json_array_get_object_element(rows, i);

        if (json_node_equal(json_object_get_member(candidate, key),
                            json_object_get_member(row, key))) {
            /* counters that went down belong to another life of the row */
            return int_member(candidate, "submitted") <= int_member(row, "submitted") ? candidate
                                                                                   : NULL;
        }
    }
    return NULL;
}

/* The cells every VM and pool row shares, after its own. */
static void counters_cells(GString *line, JsonObject *row, JsonObject *before, double seconds)
{
    char rate[16] = "-", errors[16] = "-", wait[16] = "-", exec[16] = "-", window[16] = "-";

    if (before) {
        gint64 waited = vgpuctl_stats_hist(row, "queue_wait_us", "count") -
                        vgpuctl_stats_hist(before, "queue_wait_us", "count");
        gint64 ran = vgpuctl_stats_hist(row, "exec_time_us", "count") -
                     vgpuctl_stats_hist(before, "exec_time_us", "count");
        gint64 bytes = int_member(row, "window_read_bytes") + int_member(row, "window_written_bytes") -
                       int_member(before, "window_read_bytes") -
                       int_member(before, "window_written_bytes");

        g_snprintf(rate, sizeof(rate), "%.1f",
                   (double)(int_member(row, "completed") - int_member(before, "completed")) / seconds);
        g_snprintf(errors, sizeof(errors), "%.1f",
                   (double)(vgpuctl_stats_errors(row) - vgpuctl_stats_errors(before)) / seconds);
        if (waited > 0) {
            g_snprintf(wait, sizeof(wait), "%" G_GINT64_FORMAT,
                       (vgpuctl_stats_hist(row, "queue_wait_us", "sum") -
                        vgpuctl_stats_hist(before, "queue_wait_us", "sum")) / waited);
        }
        if (ran > 0) {
            g_snprintf(exec, sizeof(exec), "%" G_GINT64_FORMAT,
                       (vgpuctl_stats_hist(row, "exec_time_us", "sum") -
                        vgpuctl_stats_hist(before, "exec_time_us", "sum")) / ran);
        }
        g_snprintf(window, sizeof(window), "%.1f", (double)bytes / seconds / 1e6);
    }
    g_string_append_printf(line, " %9s %7s %6" G_GINT64_FORMAT " %4" G_GINT64_FORMAT
                           " %8s %8s %8" G_GINT64_FORMAT " %8" G_GINT64_FORMAT " %8s %10"
                           G_GINT64_FORMAT " %7" G_GINT64_FORMAT,
                           rate, errors, int_member(row, "queued"), int_member(row, "running"),
                           wait, exec, vgpuctl_stats_hist(row, "queue_wait_us", "p99"),
                           vgpuctl_stats_hist(row, "exec_time_us", "p99"), window,
                           int_member(row, "completed"), vgpuctl_stats_errors(row));
}

static const char counters_header[] =
    "     REQ/S   ERR/S QUEUED  RUN WAIT-AVG EXEC-AVG WAIT-P99 EXEC-P99 WIN-MB/S  COMPLETED  ERRORS";

/* text cut or padded to width characters (UTF-8). */
static void append_padded(GString *line, const char *text, long width)
{
    g_autofree char *cut = g_utf8_substring(text, 0, MIN(g_utf8_strlen(text, -1), width));

    g_string_append(line, cut);
    for (long n = g_utf8_strlen(cut, -1); n < width; n++) {
        g_string_append_c(line, ' ');
    }
}

/* The screen, line by line from the top; lines past its bottom are left out. */
static int screen_row;

static void screen_line(int attr, const char *text)
{
    if (screen_row >= LINES) {
        return;
    }
    attron(attr);
    mvaddnstr(screen_row, 0, text, COLS);
    attroff(attr);
    clrtoeol();
    screen_row++;
}

static void draw_header(const struct sample *now, double seconds)
{
    g_autofree char *title = NULL, *timing = NULL;

    if (now->stats) {
        gint64 up = int_member(now->ping, "uptime_s");

        title = g_strdup_printf("vgpu-mediatord %s (pid %" G_GINT64_FORMAT "), up %" G_GINT64_FORMAT
                                ":%02d:%02d: %" G_GINT64_FORMAT " VM(s), %" G_GINT64_FORMAT
                                " device connection(s), %" G_GINT64_FORMAT " queued%s",
                                json_object_get_string_member(now->ping, "version"),
                                int_member(now->ping, "pid"), up / 3600, (int)(up / 60 % 60),
                                (int)(up % 60), int_member(now->ping, "vms"),
                                int_member(now->ping, "devices"), int_member(now->ping, "queued"),
                                json_object_get_boolean_member(now->ping, "paused")
                                    ? "; dispatching PAUSED" : "");
    } else {
        title = g_strdup_printf("vgpu-mediatord is not reachable: %s", now->error);
    }
    screen_line(A_BOLD, title);
    if (seconds > 0) {
        timing = g_strdup_printf("Every %.1f s. Per second and averages: the last %.1f s; p99: "
                                 "since the mediator started; times in us. q quits.",
                                 opt_delay, seconds);
    } else {
        timing = g_strdup_printf("Every %.1f s. Per second and averages from the next refresh "
                                 "on; p99: since the mediator started; times in us. q quits.",
                                 opt_delay);
    }
    screen_line(A_NORMAL, timing);
}

static void draw_vms(JsonObject *stats, JsonObject *prev, double seconds)
{
    JsonArray *vms = json_object_get_array_member(stats, "vms");
    g_autofree char *header = g_strdup_printf("%6s %-*s %-4s %-6s%s", "VM-ID", TOP_NAME_WIDTH,
                                              "NAME", "POOL", "PRIO", counters_header);

    screen_line(A_REVERSE, header);
    for (guint i = 0; i < json_array_get_length(vms); i++) {
        JsonObject *vm = json_array_get_object_element(vms, i);
        g_autoptr(GString) line = g_string_new(NULL);

        g_string_append_printf(line, "%6" G_GINT64_FORMAT " ", int_member(vm, "vm_id"));
        append_padded(line, json_object_get_string_member(vm, "name"), TOP_NAME_WIDTH);
        g_string_append_printf(line, " %-4s %-6s", json_object_get_string_member(vm, "pool"),
                               json_object_get_string_member(vm, "priority"));
        counters_cells(line, vm, row_before(prev, "vms", "uuid", vm), seconds);
        screen_line(A_NORMAL, line->str);
    }
}

/* Each VM's GPU memory and CUDA work, when any VM has a quota or ran CUDA batches. */
static void draw_cuda(JsonObject *stats, JsonObject *prev, double seconds)
{
    JsonArray *vms = json_object_get_array_member(stats, "vms");
    g_autofree char *header = g_strdup_printf("%6s %-*s %-10s %12s %13s %6s %10s %10s %12s",
                                              "VM-ID", TOP_NAME_WIDTH, "NAME", "GPU-QUOTA",
                                              "MEM-USED-MIB", "MEM-TOTAL-MIB", "GPU%",
                                              "KERNELS/S", "KERNELS", "GPU-TIME-US");

    if (!vgpuctl_stats_has_cuda(vms)) {
        return;
    }
    screen_line(A_NORMAL, "");
    screen_line(A_REVERSE, header);
    for (guint i = 0; i < json_array_get_length(vms); i++) {
        JsonObject *vm = json_array_get_object_element(vms, i);
        JsonObject *before = row_before(prev, "vms", "uuid", vm);
        g_autoptr(GString) line = g_string_new(NULL);
        char quota[VGPU_GPU_MEMORY_TEXT_MAX], share[16] = "-", kernels[16] = "-";

        if (before) {
            g_snprintf(share, sizeof(share), "%.0f",
                       (double)(int_member(vm, "cuda_gpu_time_us") -
                                int_member(before, "cuda_gpu_time_us")) / (seconds * 1e4));
            g_snprintf(kernels, sizeof(kernels), "%.1f",
                       (double)(int_member(vm, "cuda_kernels") -
                                int_member(before, "cuda_kernels")) / seconds);
        }
        g_string_append_printf(line, "%6" G_GINT64_FORMAT " ", int_member(vm, "vm_id"));
        append_padded(line, json_object_get_string_member(vm, "name"), TOP_NAME_WIDTH);
        g_string_append_printf(line, " %-10s %12.1f %13.1f %6s %10s %10" G_GINT64_FORMAT " %12"
                               G_GINT64_FORMAT,
                               vgpuctl_gpu_memory_text((uint64_t)int_member(vm, "gpu_memory_quota"),
                                                       quota),
                               (double)int_member(vm, "gpu_memory_used_bytes") / (1 << 20),
                               (double)int_member(vm, "gpu_memory_total_bytes") / (1 << 20),
                               share, kernels, int_member(vm, "cuda_kernels"),
                               int_member(vm, "cuda_gpu_time_us"));
        screen_line(A_NORMAL, line->str);
    }
}

static void draw_pools(JsonObject *stats, JsonObject *prev, double seconds)
{
    JsonArray *pools = json_object_get_array_member(stats, "pools");
    g_autofree char *header = g_strdup_printf("%-4s %-8s %*s%s", "POOL", "BACKEND",
                                              TOP_NAME_WIDTH - 2, "", counters_header);

    screen_line(A_REVERSE, header);
    for (guint i = 0; i < json_array_get_length(pools); i++) {
        JsonObject *pool = json_array_get_object_element(pools, i);
        g_autoptr(GString) line = g_string_new(NULL);

        g_string_append_printf(line, "%-4s %-8s %*s", json_object_get_string_member(pool, "pool"),
                               json_object_get_string_member(pool, "backend"),
                               TOP_NAME_WIDTH - 2, "");
        counters_cells(line, pool, row_before(prev, "pools", "pool", pool), seconds);
        screen_line(A_NORMAL, line->str);
    }
}

static void draw_units(JsonObject *stats, JsonObject *prev, double seconds)
{
    JsonArray *units = json_object_get_array_member(stats, "units");
    JsonArray *before_units = prev ? json_object_get_array_member(prev, "units") : NULL;
    g_autofree char *header = g_strdup_printf("%-4s %-24s %-8s %-6s %9s %6s %10s %12s", "UNIT",
                                              "NAME", "BACKEND", "POOLS", "REQ/S", "BUSY%",
                                              "REQUESTS", "BUSY-US");

    screen_line(A_REVERSE, header);
    for (guint i = 0; i < json_array_get_length(units); i++) {
        JsonObject *u = json_array_get_object_element(units, i);
        JsonObject *before = before_units && i < json_array_get_length(before_units)
                                 ? json_array_get_object_element(before_units, i) : NULL;
        g_autoptr(GString) line = g_string_new(NULL);
        char rate[16] = "-", busy[16] = "-";

        if (before) {
            g_snprintf(rate, sizeof(rate), "%.1f",
                       (double)(int_member(u, "requests") - int_member(before, "requests")) /
                           seconds);
            g_snprintf(busy, sizeof(busy), "%.0f",
                       (double)(int_member(u, "busy_us") - int_member(before, "busy_us")) /
                           (seconds * 1e4));
        }
        g_string_append_printf(line, "%-4" G_GINT64_FORMAT " ", int_member(u, "unit"));
        append_padded(line, json_object_get_string_member(u, "name"), 24);
        g_string_append_printf(line, " %-8s %-6s %9s %6s %10" G_GINT64_FORMAT " %12"
                               G_GINT64_FORMAT, json_object_get_string_member(u, "backend"),
                               json_object_get_string_member(u, "pools"), rate, busy,
                               int_member(u, "requests"), int_member(u, "busy_us"));
        screen_line(A_NORMAL, line->str);
    }
}

/*
 * One screen: now's figures, with rates against prev when it is of the same
 * mediator.  The interval is the mediator's own, between the moments it
 * read the counters: on a loaded host this process may take its samples
 * late by a good part of a second.
 */
static void draw(const struct sample *now, const struct sample *prev)
{
    bool comparable = now->stats && prev->stats &&
                      int_member(now->ping, "pid") == int_member(prev->ping, "pid") &&
                      int_member(now->stats, "uptime_us") > int_member(prev->stats, "uptime_us");
    double seconds = comparable ? (double)(int_member(now->stats, "uptime_us") -
                                           int_member(prev->stats, "uptime_us")) / 1e6 : 0;
    JsonObject *before = comparable ? prev->stats : NULL;

    screen_row = 0;
    draw_header(now, seconds);
    if (now->stats) {
        screen_line(A_NORMAL, "");
        draw_vms(now->stats, before, seconds);
        draw_cuda(now->stats, before, seconds);
        screen_line(A_NORMAL, "");
        draw_pools(now->stats, before, seconds);
        screen_line(A_NORMAL, "");
        draw_units(now->stats, before, seconds);
    }
    if (screen_row < LINES) {
        move(screen_row, 0);
        clrtobot();
    }
    refresh();
}

/* Wait for the next refresh, drawing again when the terminal changes size; false: quit. */
static bool wait_next(const struct sample *now, const struct sample *prev)
{
    gint64 due = now->at_us + (gint64)(opt_delay * G_USEC_PER_SEC);

    for (;;) {
        gint64 left_ms = (due - g_get_monotonic_time()) / 1000;
        int key;

        if (stop_requested) {
            return false;
        }
        if (left_ms <= 0) {
            return true;
        }
        timeout((int)MIN(left_ms, 1000));   /* a signal is noticed within a second */
        key = getch();
        if (key == 'q' || key == 'Q') {
            return false;
        }
        if (key == KEY_RESIZE) {
            draw(now, prev);
        }
    }
}

static int run_top(struct vgpuctl *ctl, char **args)
{
    struct sample now = { 0 }, prev = { 0 };
    struct sigaction stop = { .sa_handler = on_stop_signal };
    SCREEN *screen;

    (void)args;
    if (!(opt_delay >= TOP_DELAY_MIN_S && opt_delay <= TOP_DELAY_MAX_S)) {
        return vgpuctl_usage("top", "--delay must be between 0.1 and 3600 seconds");
    }
    if (opt_iterations < 0) {
        return vgpuctl_usage("top", "--iterations must be 0 (no end) or more");
    }
    if (ctl->json) {
        return vgpuctl_usage("top", "shows a live table, not JSON (vgpuctl stats --json does)");
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        return vgpuctl_usage("top", "needs a terminal (vgpuctl stats is for scripts)");
    }
    sample_take(ctl, &now);
    if (!now.stats) {
        fprintf(stderr, "vgpuctl: %s\n", now.error);
        sample_clear(&now);
        return VGPUCTL_EXIT_UNREACHABLE;
    }
    setlocale(LC_ALL, "");
    screen = newterm(NULL, stdout, stdin);
    if (!screen) {
        sample_clear(&now);
        return vgpuctl_usage("top", "cannot drive this terminal (TERM=%s)",
                             g_getenv("TERM") ? g_getenv("TERM") : "unset");
    }
    cbreak();
    noecho();
    curs_set(0);
    keypad(stdscr, TRUE);
    sigemptyset(&stop.sa_mask);
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);
    for (int shown = 1;; shown++) {
        draw(&now, &prev);
        if ((opt_iterations && shown >= opt_iterations) || !wait_next(&now, &prev)) {
            break;
        }
        sample_clear(&prev);
        prev = now;
        memset(&now, 0, sizeof(now));
        sample_take(ctl, &now);
    }
    endwin();
    delscreen(screen);
    sample_clear(&now);
    sample_clear(&prev);
    return VGPUCTL_EXIT_OK;
}

const struct vgpuctl_command vgpuctl_top_commands[] = {
    { "top", "", "A live view of VMs, pools and units: rates, queues, latencies (q quits)",
      top_options, 0, run_top },
    { NULL },
};
