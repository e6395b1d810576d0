/*  =========================================================================
    test_pattern_wire - the usage.pattern codec: the pair the analyzer sends
    is what the engine reads, to the bit (the engine predicts the same from
    the message as from the analyzer), the message stays small, and one
    that does not hold together is refused with the field named.
    =========================================================================
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "wp_pattern_wire.h"
#include "wp_analyzer.h"
#include "wp_engine.h"

#define T0 1700000000000ULL

//  A user's models, used in a fixed order, so that every list of links
//  (next, second order, co-use) has entries.
static const char *s_seq [] = { "A", "B", "C", "A", "B", "D", "A", "B", "C", "E", "A", "B" };
#define SEQ_N (sizeof s_seq / sizeof s_seq [0])

//  Pack, unpack, read back into back. Returns the read's result; the
//  message read from is in *unpacked (free it) and its size in *size.
static int
s_through_wire (const wp_pattern_t *pair, wp_pattern_t *back,
                Warmup__V1__UsagePattern **unpacked, size_t *packed)
{
    static wp_pattern_wire_t wire;
    Warmup__V1__UsagePattern msg = WARMUP__V1__USAGE_PATTERN__INIT;
    msg.user = (char *) "u:0123456789abcdef";
    msg.event_ms = pair->last_ms;
    wp_pattern_wire_fill (&wire, pair, &msg);
    size_t size = warmup__v1__usage_pattern__get_packed_size (&msg);
    uint8_t *buffer = (uint8_t *) malloc (size);
    assert_int_equal (warmup__v1__usage_pattern__pack (&msg, buffer), size);
    *unpacked = warmup__v1__usage_pattern__unpack (NULL, size, buffer);
    free (buffer);
    assert_non_null (*unpacked);
    if (packed)
        *packed = size;
    char error [160] = "";
    return wp_pattern_wire_read (*unpacked, back, error, sizeof error);
}

//  The same links by name, weight and delay, in order.
static void
s_links_equal (const wp_link_t *a, uint8_t n_a, const wp_link_t *b, uint8_t n_b, bool delays)
{
    assert_int_equal (n_a, n_b);
    for (uint8_t i = 0; i < n_a; i++) {
        assert_string_equal (a [i].model, b [i].model);
        assert_memory_equal (&a [i].weight, &b [i].weight, sizeof (float));
        if (delays)
            assert_memory_equal (&a [i].delay_ms, &b [i].delay_ms, sizeof (float));
    }
}

//  Every field the engine reads comes back bit for bit, after every event
//  of a user with five models (links in all three lists); the message
//  stays under 700 bytes.
static void
test_round_trip_exact (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    uint64_t t = T0;
    size_t largest = 0;
    bool rich = false;
    for (int round = 0; round < 6; round++)
        for (size_t i = 0; i < SEQ_N; i++, t += 7000 + 1000 * i) {
            assert_int_equal (wp_analyzer_observe (analyzer, 9, s_seq [i], t), 0);
            wp_pattern_t pair, back;
            assert_true (wp_analyzer_observed (analyzer, t, &pair));
            Warmup__V1__UsagePattern *msg;
            size_t size;
            assert_int_equal (s_through_wire (&pair, &back, &msg, &size), 0);
            largest = size > largest ? size : largest;
            assert_string_equal (back.model, pair.model);
            assert_true (back.count == pair.count);
            assert_true (back.last_ms == pair.last_ms);
            assert_memory_equal (back.hist, pair.hist, WP_IDLE_BINS * sizeof (float));
            assert_memory_equal (&back.hist_total, &pair.hist_total, sizeof (double));
            assert_memory_equal (&back.season, &pair.season, sizeof (double));
            assert_memory_equal (&back.anomaly, &pair.anomaly, sizeof (double));
            assert_memory_equal (&back.rate_per_h, &pair.rate_per_h, sizeof (double));
            s_links_equal (pair.next, pair.n_next, back.next, back.n_next, true);
            s_links_equal (pair.next2, pair.n_next2, back.next2, back.n_next2, true);
            s_links_equal (pair.couse, pair.n_couse, back.couse, back.n_couse, false);
            rich = rich || (pair.n_next >= 2 && pair.n_next2 >= 1 && pair.n_couse >= 3);
            warmup__v1__usage_pattern__free_unpacked (msg, NULL);
        }
    assert_true (rich);
    assert_true (largest < 700);
    wp_analyzer_destroy (&analyzer);
}

//  The engine predicts the same from the message as from the analyzer, to
//  the bit: two engines fed the same events, one through the wire.
static void
test_engine_same_through_wire (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_t *direct = wp_engine_new (NULL);
    wp_engine_t *wired = wp_engine_new (NULL);
    uint64_t t = T0;
    size_t followers = 0;
    for (int round = 0; round < 20; round++)
        for (size_t i = 0; i < SEQ_N; i++, t += 7000 + 1000 * i + 60000 * (i == 5)) {
            assert_int_equal (wp_analyzer_observe (analyzer, 9, s_seq [i], t), 0);
            wp_pattern_t pair, back;
            assert_true (wp_analyzer_observed (analyzer, t, &pair));
            Warmup__V1__UsagePattern *msg;
            assert_int_equal (s_through_wire (&pair, &back, &msg, NULL), 0);
            wp_prediction_t one [8], two [8];
            size_t n = wp_engine_update (direct, 9, &pair, t, one, 8);
            assert_int_equal (wp_engine_update (wired, 9, &back, t, two, 8), n);
            for (size_t k = 0; k < n; k++) {
                assert_string_equal (one [k].model, two [k].model);
                assert_memory_equal (&one [k].probability, &two [k].probability,
                                     sizeof (double));
                assert_true (one [k].expected_in_ms == two [k].expected_in_ms);
                assert_true (one [k].keep_until_ms == two [k].keep_until_ms);
                assert_true (one [k].prewarm_at_ms == two [k].prewarm_at_ms);
                assert_true (one [k].hold_until_ms == two [k].hold_until_ms);
                assert_memory_equal (one [k].gap_q, two [k].gap_q, sizeof one [k].gap_q);
                assert_int_equal (one [k].category, two [k].category);
            }
            followers += n - 1;
            warmup__v1__usage_pattern__free_unpacked (msg, NULL);
        }
    assert_true (followers > 0);
    uint64_t a, b;
    const double *wa = wp_engine_weights (direct, &a);
    const double *wb = wp_engine_weights (wired, &b);
    assert_true (a == b && a > 0);
    assert_memory_equal (wa, wb, WP_ENGINE_FEATURES * sizeof (double));
    wp_engine_destroy (&direct);
    wp_engine_destroy (&wired);
    wp_analyzer_destroy (&analyzer);
}

//  A message that does not hold a pair, or whose parts do not hold
//  together, is refused naming the field; bad links are skipped; a season
//  or anomaly that is not finite reads as neutral.
static void
test_refused (void **state)
{
    float hist [3] = { 1, 2, 0.5f };
    char *models [5] = { "B", "C", "", "D", "E" };
    float weights [5] = { 1, 2, 3, NAN, 1 };
    float delays [5] = { 100, -5, 0, 0, 0 };
    Warmup__V1__UsagePattern msg = WARMUP__V1__USAGE_PATTERN__INIT;
    msg.model = (char *) "A";
    msg.count = 4;
    msg.last_ms = T0;
    msg.idle_bins = (1ULL << 2) | (1ULL << 20) | (1ULL << 53);
    msg.n_idle_hist = 3;
    msg.idle_hist = hist;
    msg.idle_total = 3.5;
    msg.season = NAN;
    msg.anomaly = INFINITY;
    msg.n_link_model = msg.n_link_weight = msg.n_link_delay_ms = 5;
    msg.link_model = models;
    msg.link_weight = weights;
    msg.link_delay_ms = delays;
    msg.next_count = 2;
    msg.next2_count = 1;
    wp_pattern_t out;
    char error [160];
    assert_int_equal (wp_pattern_wire_read (&msg, &out, error, sizeof error), 0);
    assert_true (out.hist [2] == 1 && out.hist [20] == 2 && out.hist [53] == 0.5f);
    assert_true (out.hist [0] == 0 && out.hist [52] == 0);
    assert_true (out.season == 1 && out.anomaly == 0);
    //  "C" has a negative delay, "" no model, "D" a NaN weight.
    assert_int_equal (out.n_next, 1);
    assert_string_equal (out.next [0].model, "B");
    assert_int_equal (out.n_next2, 0);
    assert_int_equal (out.n_couse, 1);
    assert_string_equal (out.couse [0].model, "E");

    //  Each case spoils one field; the error names it.
    const char *fields [] = { "model", "count", "idle_bins", "idle_hist", "idle_total",
                              "link_model", "next_count", "idle_hist" };
    for (size_t c = 0; c < sizeof fields / sizeof fields [0]; c++) {
        Warmup__V1__UsagePattern bad = msg;
        float nan_hist [3] = { 1, NAN, 0.5f };
        switch (c) {
            case 0: bad.model = (char *) ""; break;
            case 1: bad.count = 0; break;
            case 2: bad.idle_bins |= 1ULL << 54; bad.n_idle_hist = 4; break;
            case 3: bad.n_idle_hist = 2; break;
            case 4: bad.idle_total = -1; break;
            case 5: bad.n_link_weight = 4; break;
            case 6: bad.next_count = 5; break;
            case 7: bad.idle_hist = nan_hist; break;
        }
        error [0] = 0;
        assert_int_equal (wp_pattern_wire_read (&bad, &out, error, sizeof error), -1);
        assert_non_null (strstr (error, fields [c]));
        assert_int_equal (wp_pattern_wire_read (&bad, &out, NULL, 0), -1);
    }
    //  Links past what the counts allow for co-use (5 of them) are refused.
    Warmup__V1__UsagePattern many = msg;
    many.next_count = 0;
    many.next2_count = 0;
    assert_int_equal (wp_pattern_wire_read (&many, &out, error, sizeof error), -1);
    assert_non_null (strstr (error, "next_count"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_round_trip_exact),
        cmocka_unit_test (test_engine_same_through_wire),
        cmocka_unit_test (test_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
