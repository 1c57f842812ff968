/*
 * The accounting histograms: exact counts, sums and maxima; percentiles
 * within the documented 1/32 of the true value.
 */
#include <glib.h>
#include <string.h>

#include "stats.h"

static void test_exact_small_values(void)
{
    struct stats_hist *h = g_new0(struct stats_hist, 1);

    for (uint64_t v = 1; v <= 50; v++) {
        stats_hist_record(h, v);
    }
    g_assert_cmpuint(h->count, ==, 50);
    g_assert_cmpuint(h->sum, ==, 1275);
    g_assert_cmpuint(h->max, ==, 50);
    g_assert_cmpuint(stats_hist_quantile(h, 0.5), ==, 25);
    g_assert_cmpuint(stats_hist_quantile(h, 0.99), ==, 50);
    g_free(h);
}

static void test_relative_error_bound(void)
{
    struct stats_hist *h = g_new0(struct stats_hist, 1);
    static const uint64_t values[] = { 64, 100, 999, 12345, 20000, 1000000, 123456789 };

    for (size_t i = 0; i < G_N_ELEMENTS(values); i++) {
        uint64_t q;

        memset(h, 0, sizeof(*h));
        stats_hist_record(h, values[i]);
        stats_hist_record(h, values[i] * 4);    /* so the max does not clamp the answer */
        q = stats_hist_quantile(h, 0.5);
        g_assert_cmpfloat(ABS((double)q - (double)values[i]), <=, (double)values[i] / 32.0);
    }
    g_free(h);
}

static void test_empty_and_add(void)
{
    struct stats_counters *a = g_new0(struct stats_counters, 1);
    struct stats_counters *b = g_new0(struct stats_counters, 1);

    g_assert_cmpuint(stats_hist_quantile(&a->wait, 0.99), ==, 0);
    a->submitted = 3;
    a->errors[VGPU_ERR_QUEUE_FULL] = 2;
    stats_hist_record(&a->exec, 10);
    b->submitted = 4;
    b->errors[VGPU_ERR_QUEUE_FULL] = 1;
    b->errors[VGPU_ERR_BAD_VERSION] = 5;
    stats_hist_record(&b->exec, 30);
    stats_counters_add(a, b);
    g_assert_cmpuint(a->submitted, ==, 7);
    g_assert_cmpuint(stats_counters_error_total(a), ==, 8);
    g_assert_cmpuint(a->exec.count, ==, 2);
    g_assert_cmpuint(a->exec.sum, ==, 40);
    g_assert_cmpuint(a->exec.max, ==, 30);
    g_free(a);
    g_free(b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/stats/exact-small-values", test_exact_small_values);
    g_test_add_func("/stats/relative-error-bound", test_relative_error_bound);
    g_test_add_func("/stats/empty-and-add", test_empty_and_add);
    return g_test_run();
}
