/*
 * The accounting histograms: exact counts, sums and maxima; percentiles
 * within the documented 1/32 of the true value; exact Prometheus buckets.
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

static void test_empty(void)
{
    struct stats_hist *h = g_new0(struct stats_hist, 1);

    g_assert_cmpuint(stats_hist_quantile(h, 0.5), ==, 0);
    g_assert_cmpuint(stats_hist_quantile(h, 0.99), ==, 0);
    g_free(h);
}

static void test_clamped_huge_value(void)
{
    struct stats_hist *h = g_new0(struct stats_hist, 1);
    uint64_t huge = G_GUINT64_CONSTANT(1) << 50;

    stats_hist_record(h, huge);
    g_assert_cmpuint(h->max, ==, huge);
    g_assert_cmpuint(h->sum, ==, huge);
    g_assert_cmpuint(stats_hist_quantile(h, 0.5), <=, huge);
    g_free(h);
}

/* The Prometheus buckets count exactly: a value on a bound is in that bucket, one above in the next. */
static void test_prometheus_buckets(void)
{
    struct stats_hist *h = g_new0(struct stats_hist, 1);
    uint64_t total = 0;

    for (unsigned i = 0; i < STATS_LE_COUNT; i++) {
        stats_hist_record(h, stats_le_us[i]);
        stats_hist_record(h, stats_le_us[i] + 1);
    }
    stats_hist_record(h, 0);
    g_assert_cmpuint(h->le[0], ==, 2);                  /* 0 and 1 us */
    for (unsigned i = 1; i < STATS_LE_COUNT; i++) {
        g_assert_cmpuint(h->le[i], ==, 2);              /* bound[i - 1] + 1 and bound[i] */
    }
    g_assert_cmpuint(h->le[STATS_LE_COUNT], ==, 1);     /* 10 s + 1 us */
    for (unsigned i = 0; i <= STATS_LE_COUNT; i++) {
        total += h->le[i];
    }
    g_assert_cmpuint(total, ==, h->count);
    g_assert_cmpuint(stats_le_us[0], ==, 1);
    g_assert_cmpuint(stats_le_us[STATS_LE_COUNT - 1], ==, 10000000);
    for (unsigned i = 1; i < STATS_LE_COUNT; i++) {
        g_assert_cmpuint(stats_le_us[i], >, stats_le_us[i - 1]);
    }
    g_free(h);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/stats/exact-small-values", test_exact_small_values);
    g_test_add_func("/stats/relative-error-bound", test_relative_error_bound);
    g_test_add_func("/stats/empty", test_empty);
    g_test_add_func("/stats/clamped-huge-value", test_clamped_huge_value);
    g_test_add_func("/stats/prometheus-buckets", test_prometheus_buckets);
    return g_test_run();
}
