/*  =========================================================================
    test_metrics - the model warmup metrics core: topic counts and their
    bound, usage outcomes, warmup results, the latency histogram against
    exact quantiles, and the usage -> prediction match table.
    =========================================================================
*/

#include "testutil.h"
#include "wp_metrics.h"
#include "wp_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Assert |actual - expected| <= tolerance, printing both on failure.
#define assert_close(actual, expected, tolerance) \
    s_assert_close ((double) (actual), (double) (expected), (tolerance), \
                    __FILE__, __LINE__)

static void
s_assert_close (double actual, double expected, double tolerance,
                const char *file, int line)
{
    if (!(fabs (actual - expected) <= tolerance)) {
        print_error ("%s:%d: %.9g is not %.9g +- %.3g\n", file, line,
                     actual, expected, tolerance);
        fail ();
    }
}

//  The slot a key's probe window starts at: mirrors wp_metrics.c, so the
//  test can build keys that collide.
static size_t
s_slot_of (uint64_t key)
{
    return (size_t) (wp_mix64 (key) & (WP_METRICS_MATCH_SLOTS - 1));
}

//  Fill keys [0..count-1] with keys whose window starts at slot.
static void
s_colliding_keys (size_t slot, uint64_t *keys, size_t count)
{
    size_t found = 0;
    for (uint64_t key = 1; found < count; key++)
        if (s_slot_of (key) == slot)
            keys [found++] = key;
}

//  Collects what wp_metrics_topics visits.
typedef struct {
    char names [80][WP_METRICS_TOPIC_MAX + 1];
    uint64_t counts [80];
    int visited;
    int stop_after;
} visit_t;

static int
s_visit (const char *topic, uint64_t count, void *arg)
{
    visit_t *visit = (visit_t *) arg;
    assert_true (visit->visited < 80);
    snprintf (visit->names [visit->visited], WP_METRICS_TOPIC_MAX + 1, "%s", topic);
    visit->counts [visit->visited] = count;
    visit->visited++;
    return visit->visited == visit->stop_after ? 5 : 0;
}

static void
test_topics (void **state)
{
    wp_metrics_t *metrics = wp_metrics_new ();
    assert_non_null (metrics);
    visit_t visit = { .visited = 0 };
    assert_int_equal (wp_metrics_topics (metrics, s_visit, &visit), 0);
    assert_int_equal (visit.visited, 0);

    for (int index = 0; index < 3; index++)
        assert_int_equal (wp_metrics_event (metrics, "usage.observed"), 0);
    assert_int_equal (wp_metrics_event (metrics, "prediction.made"), 0);
    assert_int_equal (wp_metrics_event (metrics, "prediction.made"), 0);
    assert_int_equal (wp_metrics_topic_count (metrics, "usage.observed"), 3);
    assert_int_equal (wp_metrics_topic_count (metrics, "prediction.made"), 2);
    assert_int_equal (wp_metrics_topic_count (metrics, "heartbeat"), 0);
    assert_int_equal (wp_metrics_topic_count (metrics, NULL), 0);

    //  Names are copied
    char name [WP_METRICS_TOPIC_MAX + 2];
    strcpy (name, "warmup.done");
    assert_int_equal (wp_metrics_event (metrics, name), 0);
    strcpy (name, "changed");
    assert_int_equal (wp_metrics_topic_count (metrics, "warmup.done"), 1);

    //  Unusable names go to "other"
    memset (name, 't', sizeof (name) - 1);
    name [sizeof (name) - 1] = '\0';                // 65 bytes
    assert_int_equal (wp_metrics_event (metrics, name), 1);
    name [WP_METRICS_TOPIC_MAX] = '\0';             // 64 bytes: fine
    assert_int_equal (wp_metrics_event (metrics, name), 0);
    const char *bad [] = { "", "with space", "tab\there", "caf\xc3\xa9", "\x7f",
                           "new\nline", WP_METRICS_OTHER, NULL };
    for (size_t index = 0; bad [index]; index++)
        assert_int_equal (wp_metrics_event (metrics, bad [index]), 1);
    assert_int_equal (wp_metrics_event (metrics, NULL), 1);
    assert_int_equal (wp_metrics_topic_count (metrics, WP_METRICS_OTHER), 9);
    assert_int_equal (wp_metrics_topic_count (metrics, "with space"), 0);

    //  Names in order, then "other"
    assert_int_equal (wp_metrics_topics (metrics, s_visit, &visit), 0);
    assert_int_equal (visit.visited, 5);
    assert_string_equal (visit.names [0], "prediction.made");
    assert_int_equal (visit.counts [0], 2);
    assert_string_equal (visit.names [1], name);
    assert_string_equal (visit.names [2], "usage.observed");
    assert_int_equal (visit.counts [2], 3);
    assert_string_equal (visit.names [3], "warmup.done");
    assert_string_equal (visit.names [4], WP_METRICS_OTHER);
    assert_int_equal (visit.counts [4], 9);

    //  Bounded: 64 names, then everything new is "other"
    int named = 4;
    for (int index = 0; named < WP_METRICS_MAX_TOPICS; index++, named++) {
        snprintf (name, sizeof (name), "topic.%02d", index);
        assert_int_equal (wp_metrics_event (metrics, name), 0);
    }
    assert_int_equal (wp_metrics_event (metrics, "one.too.many"), 1);
    assert_int_equal (wp_metrics_event (metrics, "usage.observed"), 0);
    assert_int_equal (wp_metrics_topic_count (metrics, "usage.observed"), 4);
    assert_int_equal (wp_metrics_topic_count (metrics, "one.too.many"), 0);
    assert_int_equal (wp_metrics_topic_count (metrics, WP_METRICS_OTHER), 10);
    //  Random names cannot grow the table
    uint32_t seed = 3;
    for (int round = 0; round < 5000; round++) {
        size_t length = (size_t) round % (sizeof (name) - 1);
        for (size_t index = 0; index < length; index++) {
            seed = seed * 1103515245u + 12345u;
            name [index] = (char) (1 + (seed >> 16) % 255);
        }
        name [length] = '\0';
        int rc = wp_metrics_event (metrics, name);
        assert_true (rc == 0 || rc == 1);
    }
    wp_metrics_snapshot_t snapshot;
    wp_metrics_snapshot (metrics, &snapshot);
    assert_int_equal (snapshot.topics, WP_METRICS_MAX_TOPICS);
    //  3 + 2 + 1 + 1 + 1 + 7 + 1, 60 topic.NN, 1 + 1, 5000 random
    assert_int_equal (snapshot.events, 16 + 60 + 2 + 5000);

    //  A non-zero return stops the walk
    memset (&visit, 0, sizeof (visit));
    visit.stop_after = 2;
    assert_int_equal (wp_metrics_topics (metrics, s_visit, &visit), 5);
    assert_int_equal (visit.visited, 2);
    //  Stopping at the last name skips "other"
    memset (&visit, 0, sizeof (visit));
    visit.stop_after = WP_METRICS_MAX_TOPICS;
    assert_int_equal (wp_metrics_topics (metrics, s_visit, &visit), 5);
    assert_int_equal (visit.visited, WP_METRICS_MAX_TOPICS);
    wp_metrics_destroy (&metrics);
    assert_null (metrics);
    wp_metrics_destroy (&metrics);
}

static void
test_usage_and_warmups (void **state)
{
    wp_metrics_t *metrics = wp_metrics_new ();
    assert_non_null (metrics);
    assert_int_equal (wp_metrics_usage (metrics, WP_METRICS_OUTCOME_WARM, 0), 0);
    assert_int_equal (wp_metrics_usage (metrics, WP_METRICS_OUTCOME_WARM, 40), 0);
    assert_int_equal (wp_metrics_usage (metrics, WP_METRICS_OUTCOME_DELAYED, 1500), 0);
    assert_int_equal (wp_metrics_usage (metrics, WP_METRICS_OUTCOME_COLD, 2501), 0);
    assert_int_equal (wp_metrics_usage (metrics, WP_METRICS_OUTCOME_UNKNOWN, 700), 0);
    assert_int_equal (wp_metrics_usage (metrics, 4, 800), -1);
    assert_int_equal (wp_metrics_usage (metrics, -1, 900), -1);

    assert_int_equal (wp_metrics_warmup_done (metrics, WP_METRICS_ACTION_WARM, true), 0);
    assert_int_equal (wp_metrics_warmup_done (metrics, WP_METRICS_ACTION_WARM, true), 0);
    assert_int_equal (wp_metrics_warmup_done (metrics, WP_METRICS_ACTION_WARM, false), 0);
    assert_int_equal (wp_metrics_warmup_done (metrics, WP_METRICS_ACTION_COOL, true), 0);
    assert_int_equal (wp_metrics_warmup_done (metrics, WP_METRICS_ACTION_COOL, false), 0);
    assert_int_equal (wp_metrics_warmup_done (metrics, 0, true), -1);
    assert_int_equal (wp_metrics_warmup_done (metrics, 3, false), -1);
    wp_metrics_dropped (metrics, 3);
    wp_metrics_dropped (metrics, 4);

    wp_metrics_snapshot_t snapshot;
    wp_metrics_snapshot (metrics, &snapshot);
    //  Every request counts, only warm / delayed / cold are told apart
    assert_int_equal (snapshot.requests, 7);
    assert_int_equal (snapshot.warm, 2);
    assert_int_equal (snapshot.delayed, 1);
    assert_int_equal (snapshot.cold_starts, 1);
    //  Only the delayed and cold waits: (1500 + 2501) / 1000
    assert_close (snapshot.cold_wait_s, 4.001, 1e-12);
    assert_int_equal (snapshot.warmups_ok, 2);
    assert_int_equal (snapshot.warmups_failed, 1);
    assert_int_equal (snapshot.cools, 1);
    assert_int_equal (snapshot.cools_failed, 1);
    assert_int_equal (snapshot.dropped, 7);
    assert_int_equal (snapshot.events, 0);
    assert_int_equal (snapshot.predictions, 0);
    assert_int_equal (snapshot.latency_samples, 0);
    assert_int_equal (snapshot.latency_p50_us, 0);
    assert_int_equal (snapshot.latency_p99_us, 0);
    assert_int_equal (snapshot.latency_max_us, 0);

    //  The wait sum is kept in whole ms: no drift, no overflow
    for (int index = 0; index < 1000; index++)
        wp_metrics_usage (metrics, WP_METRICS_OUTCOME_COLD, UINT32_MAX);
    wp_metrics_snapshot (metrics, &snapshot);
    assert_close (snapshot.cold_wait_s, (4001.0 + 1000.0 * UINT32_MAX) / 1000, 1e-3);
    assert_int_equal (snapshot.cold_starts, 1001);
    wp_metrics_destroy (&metrics);
}

//  Exact nearest-rank q-quantile of sorted[0..n-1].
static double
s_exact (const uint64_t *sorted, size_t n, double q)
{
    double wanted = ceil (q * (double) n - 1e-9);
    size_t rank = wanted < 1 ? 1 : (size_t) wanted;
    if (rank > n)
        rank = n;
    return (double) sorted [rank - 1];
}

static int
s_compare_u64 (const void *one, const void *two)
{
    uint64_t a = *(const uint64_t *) one, b = *(const uint64_t *) two;
    return a < b ? -1 : a > b;
}

static void
test_latency (void **state)
{
    wp_metrics_t *metrics = wp_metrics_new ();
    assert_non_null (metrics);
    //  One sample: exact
    wp_metrics_latency (metrics, 1234);
    assert_int_equal (wp_metrics_latency_p50_us (metrics), 1234);
    assert_int_equal (wp_metrics_latency_p99_us (metrics), 1234);
    assert_int_equal (wp_metrics_latency_max_us (metrics), 1234);
    wp_metrics_destroy (&metrics);

    //  1 .. 10000 us once each, scrambled: p50 = 5000, p99 = 9900, max 10000
    metrics = wp_metrics_new ();
    assert_non_null (metrics);
    for (uint64_t index = 0; index < 10000; index++)
        wp_metrics_latency (metrics, (index * 7919) % 10000 + 1);
    assert_close (wp_metrics_latency_p50_us (metrics), 5000,
                  5000 * WP_METRICS_REL_ERROR + 0.5);
    assert_close (wp_metrics_latency_p99_us (metrics), 9900,
                  9900 * WP_METRICS_REL_ERROR + 0.5);
    assert_int_equal (wp_metrics_latency_max_us (metrics), 10000);
    wp_metrics_snapshot_t snapshot;
    wp_metrics_snapshot (metrics, &snapshot);
    assert_int_equal (snapshot.latency_samples, 10000);
    assert_int_equal (snapshot.latency_p50_us, wp_metrics_latency_p50_us (metrics));
    assert_int_equal (snapshot.latency_p99_us, wp_metrics_latency_p99_us (metrics));
    assert_int_equal (snapshot.latency_max_us, 10000);
    wp_metrics_destroy (&metrics);

    //  Small values are exact: 0, 3, 3, 7 -> p50 = rank 2 = 3
    metrics = wp_metrics_new ();
    assert_non_null (metrics);
    wp_metrics_latency (metrics, 7);
    wp_metrics_latency (metrics, 3);
    wp_metrics_latency (metrics, 0);
    wp_metrics_latency (metrics, 3);
    assert_int_equal (wp_metrics_latency_p50_us (metrics), 3);
    assert_int_equal (wp_metrics_latency_p99_us (metrics), 7);
    //  Huge values: the max stays exact
    wp_metrics_latency (metrics, UINT64_MAX);
    assert_true (wp_metrics_latency_max_us (metrics) == UINT64_MAX);
    assert_true (wp_metrics_latency_p99_us (metrics) == UINT64_MAX);
    wp_metrics_destroy (&metrics);

    //  Log-uniform latencies from 1 us to 100 s against the exact quantiles
    metrics = wp_metrics_new ();
    assert_non_null (metrics);
    size_t n = 20000;
    uint64_t *values = malloc (n * sizeof (uint64_t));
    assert_non_null (values);
    uint32_t seed = 11;
    for (size_t index = 0; index < n; index++) {
        seed = seed * 1664525u + 1013904223u;
        double unit = (seed >> 8) / 16777216.0;
        values [index] = (uint64_t) floor (exp (unit * log (1e8)));
        wp_metrics_latency (metrics, values [index]);
    }
    qsort (values, n, sizeof (uint64_t), s_compare_u64);
    double exact = s_exact (values, n, 0.5);
    assert_close (wp_metrics_latency_p50_us (metrics), exact,
                  exact * WP_METRICS_REL_ERROR + 0.5);
    exact = s_exact (values, n, 0.99);
    assert_close (wp_metrics_latency_p99_us (metrics), exact,
                  exact * WP_METRICS_REL_ERROR + 0.5);
    assert_int_equal (wp_metrics_latency_max_us (metrics), values [n - 1]);
    free (values);
    wp_metrics_destroy (&metrics);
}

static void
test_match (void **state)
{
    wp_metrics_t *metrics = wp_metrics_new ();
    assert_non_null (metrics);
    wp_metrics_usage_seen (metrics, 42, 1000);
    wp_metrics_usage_seen (metrics, 43, 1100);
    wp_metrics_snapshot_t snapshot;
    wp_metrics_snapshot (metrics, &snapshot);
    assert_int_equal (snapshot.pending, 2);

    assert_int_equal (wp_metrics_prediction_seen (metrics, 42, 1750), 750);
    //  Matched once only
    assert_int_equal (wp_metrics_prediction_seen (metrics, 42, 1800), -1);
    //  Never seen
    assert_int_equal (wp_metrics_prediction_seen (metrics, 99, 1800), -1);
    //  Clock went back: 0
    assert_int_equal (wp_metrics_prediction_seen (metrics, 43, 1000), 0);
    //  Seen twice: the later time counts
    wp_metrics_usage_seen (metrics, 7, 100);
    wp_metrics_usage_seen (metrics, 7, 300);
    assert_int_equal (wp_metrics_prediction_seen (metrics, 7, 350), 50);
    //  Key 0 is a key like any other
    wp_metrics_usage_seen (metrics, 0, 10);
    assert_int_equal (wp_metrics_prediction_seen (metrics, 0, 20), 10);
    //  A huge latency is capped to fit the return type
    wp_metrics_usage_seen (metrics, 8, 0);
    assert_true (wp_metrics_prediction_seen (metrics, 8, UINT64_MAX) == INT64_MAX);

    wp_metrics_snapshot (metrics, &snapshot);
    assert_int_equal (snapshot.predictions, 7);
    assert_int_equal (snapshot.unmatched, 2);
    assert_int_equal (snapshot.pending, 0);
    assert_int_equal (snapshot.evicted, 0);
    //  Latencies 750, 0, 50, 10, INT64_MAX were recorded
    assert_int_equal (snapshot.latency_samples, 5);
    assert_true (snapshot.latency_max_us == INT64_MAX);
    assert_close (snapshot.latency_p50_us, 50, 50 * WP_METRICS_REL_ERROR + 0.5);
    wp_metrics_destroy (&metrics);
}

static void
test_match_eviction (void **state)
{
    wp_metrics_t *metrics = wp_metrics_new ();
    assert_non_null (metrics);
    //  Nine keys with the same window: the ninth evicts the oldest
    uint64_t keys [WP_METRICS_MATCH_PROBE + 1];
    s_colliding_keys (100, keys, WP_METRICS_MATCH_PROBE + 1);
    for (size_t index = 0; index < WP_METRICS_MATCH_PROBE; index++)
        wp_metrics_usage_seen (metrics, keys [index], index == 3 ? 5 : 10 + index);
    wp_metrics_snapshot_t snapshot;
    wp_metrics_snapshot (metrics, &snapshot);
    assert_int_equal (snapshot.pending, WP_METRICS_MATCH_PROBE);
    assert_int_equal (snapshot.evicted, 0);
    wp_metrics_usage_seen (metrics, keys [WP_METRICS_MATCH_PROBE], 100);
    wp_metrics_snapshot (metrics, &snapshot);
    assert_int_equal (snapshot.pending, WP_METRICS_MATCH_PROBE);
    assert_int_equal (snapshot.evicted, 1);
    //  keys [3] was the oldest (seen at 5)
    assert_int_equal (wp_metrics_prediction_seen (metrics, keys [3], 200), -1);
    for (size_t index = 0; index <= WP_METRICS_MATCH_PROBE; index++) {
        if (index == 3)
            continue;
        int64_t expected = index == WP_METRICS_MATCH_PROBE ? 100 : 200 - (int64_t) (10 + index);
        assert_int_equal (wp_metrics_prediction_seen (metrics, keys [index], 200), expected);
    }
    wp_metrics_snapshot (metrics, &snapshot);
    assert_int_equal (snapshot.pending, 0);
    //  Freed slots are found again without tombstones: refill the window
    for (size_t index = 0; index < WP_METRICS_MATCH_PROBE; index++)
        wp_metrics_usage_seen (metrics, keys [index], 1000);
    assert_int_equal (wp_metrics_prediction_seen (metrics, keys [7], 1001), 1);
    assert_int_equal (wp_metrics_prediction_seen (metrics, keys [0], 1002), 2);
    wp_metrics_destroy (&metrics);

    //  A window that wraps around the end of the table
    metrics = wp_metrics_new ();
    assert_non_null (metrics);
    s_colliding_keys (WP_METRICS_MATCH_SLOTS - 1, keys, WP_METRICS_MATCH_PROBE + 1);
    for (size_t index = 0; index <= WP_METRICS_MATCH_PROBE; index++)
        wp_metrics_usage_seen (metrics, keys [index], 10 + index);
    wp_metrics_snapshot (metrics, &snapshot);
    assert_int_equal (snapshot.evicted, 1);
    assert_int_equal (wp_metrics_prediction_seen (metrics, keys [0], 50), -1);
    for (size_t index = 1; index <= WP_METRICS_MATCH_PROBE; index++)
        assert_int_equal (wp_metrics_prediction_seen (metrics, keys [index], 50),
                          50 - (int64_t) (10 + index));
    wp_metrics_destroy (&metrics);

    //  Overload: 100000 usages, no prediction. Memory stays put, the table
    //  fills up, everything beyond it is evicted, the newest is kept
    metrics = wp_metrics_new ();
    assert_non_null (metrics);
    uint64_t total = 100000;
    for (uint64_t key = 1; key <= total; key++)
        wp_metrics_usage_seen (metrics, key * 0x10001, key);
    wp_metrics_snapshot (metrics, &snapshot);
    assert_int_equal (snapshot.pending, WP_METRICS_MATCH_SLOTS);
    assert_int_equal (snapshot.evicted, total - WP_METRICS_MATCH_SLOTS);
    assert_int_equal (wp_metrics_prediction_seen (metrics, total * 0x10001, total + 5), 5);
    assert_int_equal (wp_metrics_prediction_seen (metrics, 1 * 0x10001, total + 5), -1);
    wp_metrics_destroy (&metrics);
}

//  The stamp that decides a save: the periodic reports alone leave it as
//  it was (a service at rest writes nothing for its heartbeats); any other
//  event moves it.
static void
test_stamp_at_rest (void **state)
{
    wp_metrics_t *metrics = wp_metrics_new ();
    assert_int_equal (wp_metrics_event (metrics, "usage.observed"), 0);
    uint64_t stamp = wp_metrics_stamp (metrics);
    const char *periodic [] = { "heartbeat", "metrics.snapshot", "resource.status",
                                "perf.estimate" };
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 4; i++)
            wp_metrics_event (metrics, periodic [i]);
    assert_int_equal (wp_metrics_stamp (metrics), stamp);
    wp_metrics_event (metrics, "prediction.made");
    assert_true (wp_metrics_stamp (metrics) != stamp);
    wp_metrics_destroy (&metrics);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_topics),
        cmocka_unit_test (test_usage_and_warmups),
        cmocka_unit_test (test_latency),
        cmocka_unit_test (test_match),
        cmocka_unit_test (test_match_eviction),
        cmocka_unit_test (test_stamp_at_rest),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
