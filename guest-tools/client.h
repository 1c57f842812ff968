/*
 * vgpu-client's pieces shared by its commands: options, exit statuses and
 * the helpers of client.c that the array operations (client-ops.c) use.
 */
#ifndef VGPU_CLIENT_H
#define VGPU_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vgpu.h"

enum client_exit {
    CLIENT_EXIT_OK = 0,
    CLIENT_EXIT_DEVICE_ERROR = 1,
    CLIENT_EXIT_USAGE = 2,
    CLIENT_EXIT_NO_DEVICE = 3,
    CLIENT_EXIT_TIMEOUT = 4,
    CLIENT_EXIT_FAILURE = 5,
    CLIENT_EXIT_WRONG_RESULT = 6,
};

enum client_element_type {
    CLIENT_TYPE_U32,
    CLIENT_TYPE_F32,
};

struct client_options {
    struct vgpu_open_options open;
    bool json;
    bool count_given;
    unsigned long count;        /* bench requests */

    /* array operations (client-ops.c); *_given: the option was on the command line */
    bool type_given, size_given, alpha_given, beta_given, seed_given;
    bool m_given, n_given, k_given;
    bool unchecked;
    enum client_element_type type;      /* vadd */
    uint64_t size;                      /* bytes of each array: vadd, saxpy, sum */
    float alpha, beta;                  /* saxpy, sgemm */
    uint32_t m, n, k;                   /* sgemm */
    uint64_t seed;                      /* the operands' pseudo-random data */
};

/* "vgpu-client: ..." and the hint on stderr; returns CLIENT_EXIT_USAGE. */
int client_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The exit status for a libvgpu result (opening: from vgpu_device_open). */
int client_exit_code(enum vgpu_result result, bool opening);

/* Open the device as the options say; reports a failure and returns its exit status. */
int client_open(const struct client_options *opts, vgpu_device **dev);

/* Whether command is one of the array operations of client-ops.c. */
bool client_is_window_command(const char *command);

/*
 * Check that the options given suit command (an array operation); returns
 * CLIENT_EXIT_OK or the usage error's status.
 */
int client_window_check_options(const struct client_options *opts, const char *command);

/* Run an array operation: lay out, fill, run, check, print. */
int client_window_command(const struct client_options *opts, const char *command);

#endif /* VGPU_CLIENT_H */
