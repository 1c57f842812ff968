/*
 * Latency benchmark (make bench): the floor, then the mediator.
 *
 * 1. Floor: a raw AF_UNIX stream ping-pong between two threads, with the
 *    same message sizes as a VECTOR_ADD SUBMIT and its COMPLETE.
 * 2. The same single-request round trip through a running vgpu-mediatord
 *    (device socket -> queue -> worker -> response), one request in flight,
 *    checking each result.
 *
 * The two run in alternating blocks so that both see the same machine load.
 * Prints p50/p99 of each and the ratio to the floor.  scripts/bench.sh
 * starts the daemon (cpu backend, service time 0) and registers the VM.
 */
#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vgpu/identity.h"
#include "wire-client.h"

#define BENCH_SUBMIT_BYTES  (VGPU_WIRE_HEADER_SIZE + sizeof(struct vgpu_wire_submit) + \
                             VGPU_VECTOR_ADD_REQUEST_SIZE)
#define BENCH_COMPLETE_BYTES (VGPU_WIRE_HEADER_SIZE + sizeof(struct vgpu_wire_complete) + \
                              VGPU_VECTOR_ADD_RESPONSE_SIZE)
#define BENCH_TIMEOUT_MS    5000
#define BENCH_BLOCK         500     /* round trips of one kind before switching */

static int opt_iterations = 20000, opt_warmup = 2000;
static char *opt_socket, *opt_uuid, *opt_backend = "cpu backend, 0 us";

static const GOptionEntry entries[] = {
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket, "The mediator's device socket", "PATH" },
    { "uuid", 'u', 0, G_OPTION_ARG_STRING, &opt_uuid, "A registered VM's UUID", "UUID" },
    { "iterations", 'n', 0, G_OPTION_ARG_INT, &opt_iterations, "Measured round trips", "N" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &opt_warmup, "Unmeasured round trips first", "N" },
    { "backend", 'b', 0, G_OPTION_ARG_STRING, &opt_backend,
      "What the VM's pool runs on, for the report (default \"cpu backend, 0 us\")", "TEXT" },
    { NULL },
};

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double quantile(double *sorted, int n, double q)
{
    int i = (int)(q * (n - 1) + 0.5);

    return sorted[i];
}

static int read_full(int fd, void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len) {
        ssize_t n = recv(fd, p, len, 0);

        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The floor's echo thread: read a SUBMIT-sized message, answer a COMPLETE-sized one. */
static void *echo_main(void *data)
{
    int fd = *(int *)data;
    unsigned char in[BENCH_SUBMIT_BYTES], out[BENCH_COMPLETE_BYTES] = { 0 };

    while (read_full(fd, in, sizeof(in)) == 0) {
        if (wire_send_all(fd, out, sizeof(out)) < 0) {
            break;
        }
    }
    return NULL;
}

/* The floor: a socketpair with an echo thread on the other end. */
struct floor {
    int sv[2];
    pthread_t echo;
};

static int floor_open(struct floor *f)
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, f->sv) < 0) {
        perror("bench: socketpair");
        return -1;
    }
    pthread_create(&f->echo, NULL, echo_main, &f->sv[1]);
    return 0;
}

static void floor_close(struct floor *f)
{
    shutdown(f->sv[0], SHUT_RDWR);
    pthread_join(f->echo, NULL);
    close(f->sv[0]);
    close(f->sv[1]);
}

/* One floor round trip in us, or < 0. */
static double floor_round_trip(struct floor *f)
{
    unsigned char out[BENCH_SUBMIT_BYTES] = { 0 }, in[BENCH_COMPLETE_BYTES];
    double t0 = now_us();

    if (wire_send_all(f->sv[0], out, sizeof(out)) < 0 || read_full(f->sv[0], in, sizeof(in)) < 0) {
        perror("bench: floor");
        return -1;
    }
    return now_us() - t0;
}

/* Connect as the registered VM and wait for its identity; the fd or -1. */
static int mediator_open(void)
{
    struct vgpu_wire_identity id;
    uint8_t uuid[16];
    struct wire_msg m;
    int fd;

    if (!vgpu_uuid_parse(opt_uuid, uuid)) {
        fprintf(stderr, "bench: --uuid is not a UUID\n");
        return -1;
    }
    fd = wire_connect(opt_socket);
    if (fd < 0 || wire_send_hello(fd, uuid, VGPU_PROTOCOL_VERSION) < 0 ||
        wire_read(fd, &m, BENCH_TIMEOUT_MS) != 1 || m.hdr.type != VGPU_WIRE_IDENTITY ||
        vgpu_wire_identity_decode(m.payload, m.hdr.length, &id) != VGPU_OK ||
        id.error != VGPU_OK) {
        fprintf(stderr, "bench: no identity from the mediator at %s (is the VM registered?)\n",
                opt_socket);
        return -1;
    }
    return fd;
}

/* One VECTOR_ADD through the mediator in us, or < 0. */
static double mediator_round_trip(int fd, uint32_t seq)
{
    unsigned char req[VGPU_REQUEST_MAX];
    size_t len = vgpu_request_encode_vector_add(req, sizeof(req), seq, 1);
    struct vgpu_wire_complete_view complete;
    struct vgpu_response_view response;
    struct wire_msg m;
    double t0 = now_us();

    if (wire_send_submit(fd, seq, seq, req, len) < 0 ||
        wire_read(fd, &m, BENCH_TIMEOUT_MS) != 1 || m.hdr.type != VGPU_WIRE_COMPLETE ||
        m.hdr.seq != seq ||
        vgpu_wire_complete_decode(m.payload, m.hdr.length, &complete) != VGPU_OK ||
        complete.error != VGPU_OK ||
        vgpu_response_decode(complete.response, complete.response_len, &response) != VGPU_OK ||
        response.result_count != 1 || vgpu_response_result(&response, 0) != seq + 1) {
        fprintf(stderr, "bench: request %u did not complete with its result\n", seq);
        return -1;
    }
    return now_us() - t0;
}

/*
 * Alternate blocks of floor and mediator round trips, so that both see the
 * same load on a shared machine; the first opt_warmup of each are dropped.
 */
static int bench_run(double *floor_lat, double *med_lat, int n)
{
    struct floor f;
    int fd = mediator_open();
    uint32_t seq = 0;

    if (fd < 0 || floor_open(&f) < 0) {
        return -1;
    }
    for (int done = -opt_warmup; done < n; done += BENCH_BLOCK) {
        for (int i = done; i < done + BENCH_BLOCK && i < n; i++) {
            double t = floor_round_trip(&f);

            if (t < 0) {
                return -1;
            }
            if (i >= 0) {
                floor_lat[i] = t;
            }
        }
        for (int i = done; i < done + BENCH_BLOCK && i < n; i++) {
            double t = mediator_round_trip(fd, ++seq);

            if (t < 0) {
                return -1;
            }
            if (i >= 0) {
                med_lat[i] = t;
            }
        }
    }
    floor_close(&f);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("- floor and mediator round trip");
    g_autoptr(GError) error = NULL;
    g_autofree double *floor_lat = NULL, *med_lat = NULL;
    double f50, f99, m50, m99;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || !opt_socket || !opt_uuid ||
        opt_iterations < 100 || opt_warmup < 0) {
        fprintf(stderr, "bench: %s\n", error ? error->message
                                             : "needs --socket, --uuid and --iterations >= 100");
        return 2;
    }
    floor_lat = g_new(double, opt_iterations);
    med_lat = g_new(double, opt_iterations);
    if (bench_run(floor_lat, med_lat, opt_iterations) < 0) {
        return 1;
    }
    qsort(floor_lat, (size_t)opt_iterations, sizeof(double), compare_double);
    qsort(med_lat, (size_t)opt_iterations, sizeof(double), compare_double);
    f50 = quantile(floor_lat, opt_iterations, 0.50);
    f99 = quantile(floor_lat, opt_iterations, 0.99);
    m50 = quantile(med_lat, opt_iterations, 0.50);
    m99 = quantile(med_lat, opt_iterations, 0.99);
    printf("%d round trips each, after %d unmeasured\n", opt_iterations, opt_warmup);
    printf("floor    AF_UNIX ping-pong, 2 threads:        p50 %7.1f us  p99 %7.1f us\n", f50, f99);
    printf("mediator one VECTOR_ADD, %-20s p50 %7.1f us  p99 %7.1f us\n", opt_backend, m50, m99);
    printf("ratio    mediator / floor:                    p50 %7.2fx    p99 %7.2fx\n",
           m50 / f50, m99 / f99);
    return 0;
}
