/*  =========================================================================
    test_engine - the prediction engine core against the formula its
    header documents: P = (g * (1 - exp (-H / gap)) * exp (-idle / W)
    + prior) / (g + 1), with g the number of gaps seen, gap the mean gap
    (a pair seen once: W), H the horizon and W the usage window. Expected
    values are computed from that formula here, not copied from a run.
    =========================================================================
*/

#include "testutil.h"
#include "wp_analyzer.h"
#include "wp_engine.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1700000000000ULL     //  an event time, ms

//  Assert |actual - expected| <= tolerance, printing both on failure.
#define assert_close(actual, expected, tolerance) \
    s_assert_close ((actual), (expected), (tolerance), __FILE__, __LINE__)

//  Assert |actual - expected| <= tolerance, printing both on failure.
static void
s_assert_close (double actual, double expected, double tolerance,
                const char *file, int line)
{
    if (!(fabs (actual - expected) <= tolerance)) {
        print_error ("%s:%d: %.12g is not %.12g +- %.3g\n", file, line,
                     actual, expected, tolerance);
        fail ();
    }
}

//  The documented probability, computed independently.
static double
s_formula (uint64_t count, double gap_mean_ms, double idle_ms, double horizon_s,
           double window_s, double prior)
{
    double gaps = count > 1 ? (double) (count - 1) : 0;
    double gap = gaps > 0 ? gap_mean_ms : window_s * 1000;
    double p = (1 - exp (-horizon_s * 1000 / gap)) * exp (-idle_ms / (window_s * 1000));
    return (gaps * p + prior) / (gaps + 1);
}

//  A pattern entry made by hand.
static wp_pattern_t
s_pattern (const char *model, uint64_t count, double gap_mean_ms, uint64_t last_ms)
{
    wp_pattern_t pattern;
    memset (&pattern, 0, sizeof pattern);
    pattern.model = model;
    pattern.count = count;
    pattern.first_ms = last_ms;     //  not used by the engine
    pattern.last_ms = last_ms;
    pattern.gap_mean_ms = gap_mean_ms;
    pattern.model_count = count;
    return pattern;
}

//  A user who asks every 10 s, five times, through the real analyzer.
//  Right after the last request, with the default 300 s horizon, the
//  chance of a request is 1 - e^-30 (about 1): P = (4 x 1 + 0.1) / 5 = 0.82.
static void
test_periodic_user (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    for (int i = 0; i < 5; i++)
        assert_int_equal (wp_analyzer_observe (analyzer, 42, "coder", T0 + 10000 * i), 0);
    uint64_t last = T0 + 40000;
    wp_pattern_t pattern [4];
    size_t n = wp_analyzer_pattern (analyzer, 42, last, pattern, 4);
    assert_int_equal (n, 1);
    assert_int_equal (pattern [0].count, 5);
    assert_close (pattern [0].gap_mean_ms, 10000, 1e-9);

    wp_engine_t *engine = wp_engine_new (NULL);
    assert_int_equal (wp_engine_horizon_s (engine), 300);
    wp_prediction_t out [4];
    assert_int_equal (wp_engine_predict (engine, pattern, n, last, out, 4), 1);
    assert_string_equal (out [0].model, "coder");
    assert_close (out [0].probability, 0.82, 1e-9);
    assert_close (out [0].probability, s_formula (5, 10000, 0, 300, 3600, 0.1), 1e-12);
    //  A minute later the pair has faded by e^(-60/3600).
    n = wp_analyzer_pattern (analyzer, 42, last + 60000, pattern, 4);
    assert_int_equal (wp_engine_predict (engine, pattern, n, last + 60000, out, 4), 1);
    assert_close (out [0].probability, (4 * exp (-60.0 / 3600) + 0.1) / 5, 1e-9);
    wp_engine_destroy (&engine);

    //  A horizon of one gap: the chance of a request is 1 - 1/e.
    wp_engine_opts_t opts = { .horizon_s = 10 };
    engine = wp_engine_new (&opts);
    assert_int_equal (wp_engine_horizon_s (engine), 10);
    n = wp_analyzer_pattern (analyzer, 42, last, pattern, 4);
    assert_int_equal (wp_engine_predict (engine, pattern, n, last, out, 4), 1);
    assert_close (out [0].probability, (4 * (1 - exp (-1.0)) + 0.1) / 5, 1e-12);
    assert_close (out [0].probability, 0.525696447, 1e-9);
    //  Expected time to the next request: one gap after the last one.
    assert_int_equal (out [0].expected_in_ms, 10000);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
}

//  The formula over a grid of counts, gaps, idle times, horizons and
//  windows (gaps at or above one second).
static void
test_formula_grid (void **state)
{
    const uint64_t counts [] = { 2, 3, 10, 1000 };
    const double gaps [] = { 1000, 7000, 60000, 3600000 };
    const double idles [] = { 0, 500, 30000, 3600000, 86400000 };
    const uint32_t horizons [] = { 10, 300, 3600 };
    const uint32_t windows [] = { 60, 3600, 86400 };
    const double priors [] = { 0.1, 0.01, 0.5 };
    for (size_t h = 0; h < 3; h++)
        for (size_t w = 0; w < 3; w++)
            for (size_t q = 0; q < 3; q++) {
                wp_engine_opts_t opts = { .horizon_s = horizons [h],
                                          .usage_window_s = windows [w],
                                          .prior = priors [q] };
                wp_engine_t *engine = wp_engine_new (&opts);
                for (size_t c = 0; c < 4; c++)
                    for (size_t g = 0; g < 4; g++)
                        for (size_t i = 0; i < 5; i++) {
                            uint64_t now = T0 + (uint64_t) idles [i];
                            wp_pattern_t pattern = s_pattern ("m", counts [c], gaps [g], T0);
                            wp_prediction_t out;
                            assert_int_equal (wp_engine_predict (engine, &pattern, 1, now, &out, 1), 1);
                            double want = s_formula (counts [c], gaps [g], idles [i],
                                                     horizons [h], windows [w], priors [q]);
                            assert_close (out.probability, want, 1e-12);
                            assert_true (out.probability >= 0 && out.probability <= 1);
                        }
                wp_engine_destroy (&engine);
            }
}

//  An idle user fades: probability falls with idle time toward the prior
//  shrunk by the evidence, prior / (g + 1).
static void
test_idle_user_fades (void **state)
{
    wp_engine_t *engine = wp_engine_new (NULL);
    wp_pattern_t pattern = s_pattern ("m", 5, 10000, T0);
    double last = 2;
    const double hours [] = { 0, 0.25, 1, 2, 5, 24, 240 };
    for (size_t i = 0; i < sizeof hours / sizeof hours [0]; i++) {
        wp_prediction_t out;
        uint64_t now = T0 + (uint64_t) (hours [i] * 3600000);
        assert_int_equal (wp_engine_predict (engine, &pattern, 1, now, &out, 1), 1);
        assert_true (out.probability < last);
        last = out.probability;
        assert_close (out.probability,
                      (4 * (1 - exp (-30.0)) * exp (-hours [i]) + 0.1) / 5, 1e-12);
    }
    //  Ten days idle: all that is left is 0.1 / 5.
    assert_close (last, 0.02, 1e-9);
    //  An event time before the last request counts as no idle time.
    wp_prediction_t out;
    wp_engine_predict (engine, &pattern, 1, T0 - 5000, &out, 1);
    assert_close (out.probability, (4 * (1 - exp (-30.0)) + 0.1) / 5, 1e-12);
    wp_engine_destroy (&engine);
}

//  A pair seen once has no gap: its probability is the prior, however
//  recent; its confidence is 0; it is expected within a usage window.
static void
test_seen_once_gets_prior (void **state)
{
    wp_engine_t *engine = wp_engine_new (NULL);
    wp_pattern_t pattern = s_pattern ("once", 1, 0, T0);
    wp_prediction_t out;
    assert_int_equal (wp_engine_predict (engine, &pattern, 1, T0, &out, 1), 1);
    assert_close (out.probability, 0.1, 1e-12);
    assert_close (out.confidence, 0, 0);
    assert_int_equal (out.expected_in_ms, 3600000);
    wp_engine_predict (engine, &pattern, 1, T0 + 600000, &out, 1);
    assert_close (out.probability, 0.1, 1e-12);
    assert_int_equal (out.expected_in_ms, 3000000);
    wp_engine_destroy (&engine);

    wp_engine_opts_t opts = { .prior = 0.25 };
    engine = wp_engine_new (&opts);
    wp_engine_predict (engine, &pattern, 1, T0, &out, 1);
    assert_close (out.probability, 0.25, 1e-12);
    wp_engine_destroy (&engine);

    //  A prior outside (0, 1) takes the default 0.1.
    const double bad [] = { 0, -0.5, 1, 2 };
    for (int i = 0; i < 4; i++) {
        opts.prior = bad [i];
        engine = wp_engine_new (&opts);
        wp_engine_predict (engine, &pattern, 1, T0, &out, 1);
        assert_close (out.probability, 0.1, 1e-12);
        wp_engine_destroy (&engine);
    }
}

//  Confidence is 0 without gaps, grows with them and stays below 1.
static void
test_confidence_grows (void **state)
{
    wp_engine_t *engine = wp_engine_new (NULL);
    double last = -1;
    const uint64_t counts [] = { 1, 2, 3, 5, 10, 100, 100000 };
    for (size_t i = 0; i < sizeof counts / sizeof counts [0]; i++) {
        wp_pattern_t pattern = s_pattern ("m", counts [i], 60000, T0);
        wp_prediction_t out;
        wp_engine_predict (engine, &pattern, 1, T0, &out, 1);
        assert_true (out.confidence > last);
        assert_true (out.confidence >= 0 && out.confidence < 1);
        last = out.confidence;
    }
    assert_true (last > 0.99);
    wp_engine_destroy (&engine);
}

//  Expected time to the next request: one mean gap after the last one,
//  and one gap from now once that time has passed.
static void
test_expected_in_ms (void **state)
{
    wp_engine_t *engine = wp_engine_new (NULL);
    wp_pattern_t pattern = s_pattern ("m", 5, 10000, T0);
    wp_prediction_t out;
    wp_engine_predict (engine, &pattern, 1, T0, &out, 1);
    assert_int_equal (out.expected_in_ms, 10000);
    wp_engine_predict (engine, &pattern, 1, T0 + 3000, &out, 1);
    assert_int_equal (out.expected_in_ms, 7000);
    wp_engine_predict (engine, &pattern, 1, T0 + 9999, &out, 1);
    assert_int_equal (out.expected_in_ms, 1);
    wp_engine_predict (engine, &pattern, 1, T0 + 25000, &out, 1);
    assert_int_equal (out.expected_in_ms, 10000);
    wp_engine_destroy (&engine);
}

//  Highest probability first; equal probabilities keep the pattern order.
static void
test_ordering (void **state)
{
    wp_engine_t *engine = wp_engine_new (NULL);
    wp_pattern_t patterns [5] = {
        s_pattern ("rare", 2, 3600000, T0),     //  one gap of an hour
        s_pattern ("once", 1, 0, T0),           //  the prior
        s_pattern ("hot", 50, 5000, T0),        //  nearly certain
        s_pattern ("stale", 50, 5000, T0 - 7200000),  //  two hours idle
        s_pattern ("hot2", 50, 5000, T0),       //  ties with hot
    };
    double want [5];
    for (int i = 0; i < 5; i++)
        want [i] = s_formula (patterns [i].count, patterns [i].gap_mean_ms,
                              (double) (T0 - patterns [i].last_ms), 300, 3600, 0.1);
    //  By the formula: hot = hot2 (0.98) > stale (0.135) > once (the
    //  prior, 0.1) > rare ((0.080 + 0.1) / 2 = 0.090: weak evidence of a
    //  long gap ranks below no evidence).
    assert_true (want [2] == want [4]);
    assert_true (want [2] > want [3] && want [3] > want [1] && want [1] > want [0]);
    wp_prediction_t out [8];
    assert_int_equal (wp_engine_predict (engine, patterns, 5, T0, out, 8), 5);
    const char *order [5] = { "hot", "hot2", "stale", "once", "rare" };
    const int index [5] = { 2, 4, 3, 1, 0 };
    for (int i = 0; i < 5; i++) {
        assert_string_equal (out [i].model, order [i]);
        assert_close (out [i].probability, want [index [i]], 1e-12);
    }
    //  The model pointer is the pattern's (borrowed).
    assert_ptr_equal (out [0].model, patterns [2].model);
    wp_engine_destroy (&engine);
}

//  At most max_models predictions, and at most capacity: the best ones.
static void
test_max_models_cap (void **state)
{
    wp_pattern_t patterns [12];
    char names [12][8];
    for (int i = 0; i < 12; i++) {
        snprintf (names [i], sizeof names [i], "m%02d", i);
        //  Idle time grows with i: the probability falls with i.
        patterns [i] = s_pattern (names [i], 10, 30000, T0 - 600000 * (uint64_t) i);
    }
    //  Present them worst first.
    wp_pattern_t reversed [12];
    for (int i = 0; i < 12; i++)
        reversed [i] = patterns [11 - i];

    wp_engine_t *engine = wp_engine_new (NULL);     //  max_models 8
    wp_prediction_t out [12];
    assert_int_equal (wp_engine_predict (engine, reversed, 12, T0, out, 12), 8);
    for (int i = 0; i < 8; i++)
        assert_string_equal (out [i].model, names [i]);
    assert_int_equal (wp_engine_predict (engine, reversed, 12, T0, out, 3), 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal (out [i].model, names [i]);
    assert_int_equal (wp_engine_predict (engine, reversed, 12, T0, out, 0), 0);
    assert_int_equal (wp_engine_predict (engine, NULL, 0, T0, out, 12), 0);
    wp_engine_destroy (&engine);

    wp_engine_opts_t opts = { .max_models = 2 };
    engine = wp_engine_new (&opts);
    assert_int_equal (wp_engine_predict (engine, reversed, 12, T0, out, 12), 2);
    assert_string_equal (out [0].model, "m00");
    assert_string_equal (out [1].model, "m01");
    wp_engine_destroy (&engine);
}

//  Sorting and capping against a reference (stable sort, take the top)
//  on random patterns, including many ties.
static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

//  xorshift64: a fixed sequence.
static uint64_t
s_random (void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

//  A reference prediction: its probability and pattern index.
typedef struct {
    double probability;
    int index;
} ranked_t;

//  Highest probability first, then pattern order.
static int
s_by_probability (const void *a, const void *b)
{
    const ranked_t *x = (const ranked_t *) a, *y = (const ranked_t *) b;
    if (x->probability != y->probability)
        return x->probability > y->probability ? -1 : 1;
    return x->index - y->index;     //  stable: pattern order
}

//  Random patterns: the engine keeps the best min (n, max_models,
//  capacity), in the reference order.
static void
test_random_against_reference (void **state)
{
    char names [40][8];
    for (int i = 0; i < 40; i++)
        snprintf (names [i], sizeof names [i], "m%d", i);
    for (int trial = 0; trial < 2000; trial++) {
        size_t n = s_random () % 41;
        uint32_t max_models = 1 + (uint32_t) (s_random () % 10);
        size_t capacity = s_random () % 12;
        wp_engine_opts_t opts = { .max_models = max_models };
        wp_engine_t *engine = wp_engine_new (&opts);
        wp_pattern_t patterns [40];
        ranked_t ranked [40];
        for (size_t i = 0; i < n; i++) {
            //  Few distinct values, so ties are common.
            uint64_t count = 1 + s_random () % 4;
            double gap = 1000.0 * (double) (1 + s_random () % 3);
            uint64_t idle = 60000 * (s_random () % 3);
            patterns [i] = s_pattern (names [i], count, gap, T0 - idle);
            ranked [i].probability = s_formula (count, gap, (double) idle, 300, 3600, 0.1);
            ranked [i].index = (int) i;
        }
        qsort (ranked, n, sizeof ranked [0], s_by_probability);
        size_t want = n < max_models ? n : max_models;
        if (want > capacity)
            want = capacity;
        wp_prediction_t out [12];
        size_t got = wp_engine_predict (engine, patterns, n, T0, out, capacity);
        assert_int_equal (got, want);
        for (size_t i = 0; i < got; i++) {
            assert_string_equal (out [i].model, names [ranked [i].index]);
            assert_close (out [i].probability, ranked [i].probability, 1e-12);
        }
        wp_engine_destroy (&engine);
    }
}

//  Extremes stay in [0, 1] and finite: zero gaps, huge counts, far future.
static void
test_extremes (void **state)
{
    wp_engine_t *engine = wp_engine_new (NULL);
    wp_pattern_t patterns [4] = {
        s_pattern ("zero-gap", 1000, 0, T0),
        s_pattern ("huge", UINT32_MAX, 1e12, T0),
        s_pattern ("ancient", 3, 1000, 0),
        s_pattern ("future", 3, 1000, T0 + 1000000),
    };
    wp_prediction_t out [4];
    assert_int_equal (wp_engine_predict (engine, patterns, 4, T0, out, 4), 4);
    for (int i = 0; i < 4; i++) {
        assert_true (isfinite (out [i].probability));
        assert_true (out [i].probability >= 0 && out [i].probability <= 1);
        assert_true (isfinite (out [i].confidence));
    }
    wp_engine_destroy (&engine);
    wp_engine_destroy (&engine);
    assert_null (engine);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_periodic_user),
        cmocka_unit_test (test_formula_grid),
        cmocka_unit_test (test_idle_user_fades),
        cmocka_unit_test (test_seen_once_gets_prior),
        cmocka_unit_test (test_confidence_grows),
        cmocka_unit_test (test_expected_in_ms),
        cmocka_unit_test (test_ordering),
        cmocka_unit_test (test_max_models_cap),
        cmocka_unit_test (test_random_against_reference),
        cmocka_unit_test (test_extremes),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
