/*  =========================================================================
    test_engine - the prediction engine core ("idle-plan/2"): the
    cost-minimising plan on hand-made idle-time histograms (costs worked
    out here), then each signal on small synthetic sequences through the
    real analyzer, with answers known in advance: a periodic user is
    pre-warmed so the load ends before the next request; a user who always
    follows A with B gets B warmed after A; a new user of a model gets the
    population prior; load times move the pre-warm; the ensemble learns
    from outcomes; the output is ordered, capped and keeps the latest model.
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
#define MINUTE 60000ULL

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

//  Midpoint of an idle-time bin, ms.
static double
s_mid (int bin)
{
    return (wp_idle_edge (bin) + wp_idle_edge (bin + 1)) / 2.0;
}

//  All mass in one bin, a 2 s load, a large break-even: unload after
//  the request and pre-warm so the load ends at the bin's start, hold to
//  its end. The cost is the load plus the expected idle time into the bin.
static void
test_plan_single_bin_window (void **state)
{
    double mass [WP_IDLE_BINS] = { 0 };
    int bin = wp_idle_bin (600000);         //  10 minutes
    mass [bin] = 5;
    wp_plan_t plan;
    wp_engine_plan (mass, 2000, 3600000, 300000, &plan);
    assert_int_equal (plan.keep_ms, 0);
    assert_int_equal (plan.prewarm_ms, wp_idle_edge (bin) - 2000);
    assert_int_equal (plan.hold_ms, wp_idle_edge (bin + 1));
    assert_int_equal (plan.start_bin, bin);
    assert_int_equal (plan.end_bin, bin + 1);
    //  Resident from the pre-warm to the request (at the bin's middle).
    assert_close (plan.cost, s_mid (bin) - (wp_idle_edge (bin) - 2000), 1e-6);
    assert_close (plan.p_horizon, 0, 1e-12);
    assert_close (plan.expected_ms, s_mid (bin), 1e-6);
    //  Quantiles fall inside the bin.
    for (int q = 0; q < WP_ENGINE_QUANTILES; q++)
        assert_true (plan.gap_q [q] >= wp_idle_edge (bin)
                     && plan.gap_q [q] <= wp_idle_edge (bin + 1));
}

//  Gaps shorter than a load: a window cannot be loaded in time, so keep
//  to the end of the bin, no window. Longer than the load: unloading
//  while idle and loading again in time costs less (the load is all the
//  resident time it costs).
static void
test_plan_short_gaps_keep (void **state)
{
    double mass [WP_IDLE_BINS] = { 0 };
    int bin = wp_idle_bin (3000);
    mass [bin] = 1;
    wp_plan_t plan;
    wp_engine_plan (mass, 5000, 600000, 300000, &plan);
    assert_int_equal (plan.keep_ms, wp_idle_edge (bin + 1));
    assert_int_equal (plan.hold_ms, 0);
    assert_close (plan.cost, s_mid (bin), 1e-6);
    assert_close (plan.p_horizon, 1, 1e-12);
    wp_engine_plan (mass, 1000, 600000, 300000, &plan);
    assert_int_equal (plan.keep_ms, 0);
    assert_int_equal (plan.prewarm_ms, wp_idle_edge (bin) - 1000);
    assert_close (plan.cost, s_mid (bin) - plan.prewarm_ms, 1e-6);
}

//  Half the idle times 5 s, half 2 h, loads of 6 s. A break-even of 10 minutes: keep
//  through 5 s, no window for the long ones (holding a window of the
//  2 h bin costs more than the cold start it saves); cost = 0.5 x the
//  5 s middle + 0.5 x the keep + 0.5 x break-even. A break-even of 10 h:
//  a window on the 2 h bin too.
static void
test_plan_break_even (void **state)
{
    double mass [WP_IDLE_BINS] = { 0 };
    int near = wp_idle_bin (5000), far = wp_idle_bin (7200000);
    mass [near] = 1;
    mass [far] = 1;
    wp_plan_t plan;
    wp_engine_plan (mass, 6000, 600000, 300000, &plan);
    assert_int_equal (plan.keep_ms, wp_idle_edge (near + 1));
    assert_int_equal (plan.hold_ms, 0);
    double keep = (double) wp_idle_edge (near + 1);
    assert_close (plan.cost, 0.5 * s_mid (near) + 0.5 * keep + 0.5 * 600000, 1e-6);
    assert_close (plan.p_horizon, 0.5, 1e-12);

    wp_engine_plan (mass, 6000, 36000000, 300000, &plan);
    assert_int_equal (plan.keep_ms, wp_idle_edge (near + 1));
    assert_int_equal (plan.prewarm_ms, wp_idle_edge (far) - 6000);
    assert_int_equal (plan.hold_ms, wp_idle_edge (far + 1));
    double start = (double) wp_idle_edge (far) - 6000;
    assert_close (plan.cost, 0.5 * s_mid (near) + 0.5 * keep + 0.5 * (s_mid (far) - start),
                  1e-6);
}

//  No data at all: unload, the cost of a cold start.
static void
test_plan_empty (void **state)
{
    double mass [WP_IDLE_BINS] = { 0 };
    wp_plan_t plan;
    wp_engine_plan (mass, 2000, 600000, 300000, &plan);
    assert_int_equal (plan.keep_ms, 0);
    assert_int_equal (plan.hold_ms, 0);
    assert_close (plan.cost, 600000, 0);
}

//  Every plan the optimiser could choose costs at least what it chose
//  (checked by brute force over keep and window edges on random masses).
static void
test_plan_is_minimal (void **state)
{
    uint64_t seed = 42;
    for (int round = 0; round < 50; round++) {
        double mass [WP_IDLE_BINS] = { 0 };
        double total = 0;
        for (int i = 0; i < WP_IDLE_BINS; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            mass [i] = (seed >> 40) % 7 == 0 ? (double) ((seed >> 20) % 100) : 0;
            total += mass [i];
        }
        if (total == 0)
            continue;
        double load = 1000 + (double) (round * 977 % 20000);
        double breakeven = 60000.0 * (1 + round % 30);
        wp_plan_t plan;
        wp_engine_plan (mass, load, breakeven, 300000, &plan);
        double best = INFINITY;
        int n = WP_IDLE_BINS;
        for (int k = 0; k < n; k++) {
            double a_k = (double) wp_idle_edge (k);
            //  Keep only.
            double keep = 0, tail = 0;
            for (int i = 0; i < n; i++)
                if (i < k)
                    keep += mass [i] / total * s_mid (i);
                else
                    tail += mass [i] / total;
            double base = keep + tail * a_k + breakeven * tail;
            if (base < best)
                best = base;
            //  Keep, then one window of at most 16 bins.
            for (int s = 1; s < n; s++) {
                double a_s = (double) wp_idle_edge (s);
                if (a_s - load <= a_k)
                    continue;
                for (int e = s + 1; e <= n && e <= s + 16; e++) {
                    double start = a_s - load, cost = base, after = 0;
                    for (int i = e; i < n; i++)
                        after += mass [i] / total;
                    for (int i = s; i < e; i++)
                        cost += mass [i] / total * (s_mid (i) - start - breakeven);
                    cost += after * ((double) wp_idle_edge (e) - start);
                    if (cost < best)
                        best = cost;
                }
            }
        }
        assert_close (plan.cost, best, 1e-6 * best + 1e-6);
    }
}

//  Feed one request through the analyzer and the engine; the prediction
//  for model (NULL: the first) into *out. Returns predictions made.
static size_t
s_request (wp_analyzer_t *analyzer, wp_engine_t *engine, uint64_t user, const char *model,
           uint64_t now, const char *want, wp_prediction_t *out)
{
    assert_int_equal (wp_analyzer_observe (analyzer, user, model, now), 0);
    wp_pattern_t pattern [16];
    size_t n = wp_analyzer_pattern (analyzer, user, now, pattern, 16);
    wp_prediction_t predictions [8];
    size_t count = wp_engine_predict_for (engine, user, pattern, n, now, predictions, 8);
    memset (out, 0, sizeof *out);
    for (size_t i = 0; i < count; i++)
        if (!want || strcmp (predictions [i].model, want) == 0) {
            *out = predictions [i];
            break;
        }
    return count;
}

//  A user who asks every 10 minutes: after a few periods the plan
//  unloads the model after each request and pre-warms it so that the load
//  (3 s) ends before the next request, holding it past the period; the
//  model is not kept through the idle time. The expected time is about
//  the period; the chance within the 5-minute horizon is low.
static void
test_periodic_user_prewarmed (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_opts_t opts = { .threshold = 0.7 };
    wp_engine_t *engine = wp_engine_new (&opts);
    wp_engine_model (engine, "cron", 3000);
    wp_prediction_t p;
    uint64_t period = 10 * MINUTE, now = T0;
    for (int i = 0; i < 12; i++, now += period)
        s_request (analyzer, engine, 7, "cron", now, "cron", &p);
    now -= period;
    uint64_t next = now + period;
    assert_true (p.keep_until_ms < next - 3000);        //  unloaded in between
    assert_true (p.hold_until_ms >= next);              //  held through the request
    assert_true (p.prewarm_at_ms + 3000 <= next);       //  load done in time
    assert_true (p.prewarm_at_ms > p.keep_until_ms);
    //  Not much earlier than needed: thin data is spread over a few bins
    //  (19 % each) around the period; with more data the window narrows.
    assert_true (p.prewarm_at_ms + 3000 >= next - 2 * period / 5);
    uint64_t early = next - (p.prewarm_at_ms + 3000);
    for (int i = 0; i < 100; i++, now += period)
        s_request (analyzer, engine, 7, "cron", now + period, "cron", &p);
    next = now + period;
    assert_true (p.prewarm_at_ms + 3000 <= next && p.hold_until_ms >= next);
    assert_true (next - (p.prewarm_at_ms + 3000) < early);
    assert_true (p.prewarm_at_ms + 3000 >= next - period / 5);
    assert_int_equal (p.load_ms, 3000);
    assert_true (p.expected_in_ms > period * 8 / 10 && p.expected_in_ms < period * 12 / 10);
    assert_true (p.probability < 0.3);
    assert_true (p.confidence > 0.7);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
}

//  The load time the performance predictor learned moves the pre-warm:
//  5 s more load, the pre-warm starts 5 s earlier.
static void
test_load_time_moves_prewarm (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_t *engine = wp_engine_new (NULL);
    wp_prediction_t p;
    uint64_t period = 10 * MINUTE, now = T0;
    wp_engine_model (engine, "job", 1000);
    for (int i = 0; i < 12; i++, now += period)
        s_request (analyzer, engine, 1, "job", now, "job", &p);
    uint64_t fast = p.prewarm_at_ms - (now - period);
    wp_engine_model (engine, "job", 6000);
    s_request (analyzer, engine, 1, "job", now, "job", &p);
    uint64_t slow = p.prewarm_at_ms - now;
    assert_int_equal (fast - slow, 5000);
    assert_int_equal (p.load_ms, 6000);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
}

//  A user who always follows A with B 30 s later, sessions an hour apart:
//  right after A, B (idle for an hour) gets a window around now + 30 s
//  that ends the load before B is asked, and a high probability; a user
//  with no such habit gets no window for B.
static void
test_markov_follows (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_opts_t opts = { .threshold = 0.7 };
    wp_engine_t *engine = wp_engine_new (&opts);
    wp_engine_model (engine, "B", 4000);
    wp_prediction_t p;
    uint64_t now = T0;
    for (int i = 0; i < 10; i++, now += 60 * MINUTE) {
        s_request (analyzer, engine, 3, "A", now, "A", &p);
        s_request (analyzer, engine, 3, "B", now + 30000, "B", &p);
    }
    s_request (analyzer, engine, 3, "A", now, "B", &p);
    assert_non_null (p.model);
    assert_string_equal (p.model, "B");
    assert_true (p.hold_until_ms >= now + 30000);
    assert_true (p.prewarm_at_ms + 4000 <= now + 30000);
    assert_true (p.prewarm_at_ms >= now);
    assert_true (p.probability > 0.7);
    assert_true (p.expected_in_ms <= 30000);

    //  Another user used B once, an hour after A, never right after.
    s_request (analyzer, engine, 4, "A", T0, "A", &p);
    s_request (analyzer, engine, 4, "B", T0 + 70 * MINUTE, "B", &p);
    s_request (analyzer, engine, 4, "A", T0 + 200 * MINUTE, "B", &p);
    assert_non_null (p.model);
    assert_int_equal (p.hold_until_ms, 0);
    assert_int_equal (p.keep_until_ms, 0);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
}

//  Users of "shared" all ask every 2 minutes; a new user's first request
//  gets the population prior: a plan that covers 2 minutes (kept, or a
//  window), from no data of their own (confidence 0). A new model with no
//  population gets the global prior instead, and a different plan.
static void
test_new_user_gets_prior (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_t *engine = wp_engine_new (NULL);
    wp_engine_model (engine, "shared", 2000);
    wp_prediction_t p;
    for (uint64_t user = 1; user <= 20; user++)
        for (int i = 0; i < 30; i++)
            s_request (analyzer, engine, user, "shared", T0 + (uint64_t) i * 2 * MINUTE + user,
                       "shared", &p);
    uint64_t now = T0 + 61 * MINUTE;
    s_request (analyzer, engine, 99, "shared", now, "shared", &p);
    assert_close (p.confidence, 0, 0);
    uint64_t next = now + 2 * MINUTE;
    bool kept = p.keep_until_ms >= next;
    bool window = p.hold_until_ms >= next && p.prewarm_at_ms + 2000 <= next;
    assert_true (kept || window);
    //  Without the population the same user would be planned flat.
    wp_analyzer_t *alone = wp_analyzer_new (NULL);
    wp_engine_t *fresh = wp_engine_new (NULL);
    wp_engine_model (fresh, "shared", 2000);
    wp_prediction_t q;
    s_request (alone, fresh, 99, "shared", now, "shared", &q);
    assert_false (q.keep_until_ms == p.keep_until_ms && q.hold_until_ms == p.hold_until_ms
                  && q.prewarm_at_ms == p.prewarm_at_ms);
    wp_engine_destroy (&fresh);
    wp_analyzer_destroy (&alone);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
}

//  Confidence grows with the user's own idle times: 0 at first, then
//  n / (n + 2) (n aged by 24 h half-lives: seconds change it little).
static void
test_confidence_grows (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_t *engine = wp_engine_new (NULL);
    wp_prediction_t p;
    double last = -1;
    for (int i = 0; i < 6; i++) {
        s_request (analyzer, engine, 5, "m", T0 + (uint64_t) i * 1000, "m", &p);
        assert_true (p.confidence > last);
        last = p.confidence;
    }
    assert_close (last, 5.0 / 7.0, 1e-4);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
}

//  The ensemble learns from what happened: a user who always comes back
//  within the horizon although the histogram of a second model says
//  otherwise... simply: outcomes train the weights (updates counted), the
//  same sequence gives the same weights (deterministic), and a frozen
//  engine (learning rate < 0) does not move.
static void
test_ensemble_learns (void **state)
{
    double weights [2][WP_ENGINE_FEATURES];
    for (int run = 0; run < 2; run++) {
        wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
        wp_engine_opts_t opts = { .learning_rate = 0.1 };
        wp_engine_t *engine = wp_engine_new (&opts);
        wp_prediction_t p;
        for (int i = 0; i < 200; i++)
            s_request (analyzer, engine, 1, "m", T0 + (uint64_t) i * 20000, "m", &p);
        uint64_t updates;
        const double *w = wp_engine_weights (engine, &updates);
        assert_int_equal (updates, 199);
        memcpy (weights [run], w, sizeof weights [run]);
        //  All came back within the horizon: the bias moved up.
        assert_true (w [0] > 0);
        wp_engine_destroy (&engine);
        wp_analyzer_destroy (&analyzer);
    }
    assert_memory_equal (weights [0], weights [1], sizeof weights [0]);

    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_opts_t frozen = { .learning_rate = -1 };
    wp_engine_t *engine = wp_engine_new (&frozen);
    wp_prediction_t p;
    for (int i = 0; i < 50; i++)
        s_request (analyzer, engine, 1, "m", T0 + (uint64_t) i * 20000, "m", &p);
    uint64_t updates;
    const double *w = wp_engine_weights (engine, &updates);
    assert_int_equal (updates, 0);
    assert_close (w [0], 0, 0);
    assert_close (w [1], 1, 0);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
}

//  Highest probability first, at most max_models, the latest model kept
//  even when it is not among the most probable.
static void
test_ordering_and_cap (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_opts_t opts = { .max_models = 3 };
    wp_engine_t *engine = wp_engine_new (&opts);
    char name [16];
    //  Five models asked every 10 s for a while, then "rare" once.
    for (int i = 0; i < 20; i++)
        for (int m = 0; m < 5; m++) {
            snprintf (name, sizeof name, "hot%d", m);
            wp_analyzer_observe (analyzer, 1, name, T0 + (uint64_t) i * 10000 + m);
        }
    uint64_t now = T0 + 200000;
    wp_analyzer_observe (analyzer, 1, "rare", now);
    wp_pattern_t pattern [16];
    size_t n = wp_analyzer_pattern (analyzer, 1, now, pattern, 16);
    assert_int_equal (n, 6);
    wp_prediction_t out [8];
    size_t count = wp_engine_predict_for (engine, 1, pattern, n, now, out, 8);
    assert_int_equal (count, 3);
    bool rare = false;
    for (size_t i = 0; i < count; i++) {
        rare = rare || strcmp (out [i].model, "rare") == 0;
        if (i + 1 < count && strcmp (out [i + 1].model, "rare") != 0)
            assert_true (out [i].probability >= out [i + 1].probability);
    }
    assert_true (rare);
    //  A smaller capacity caps too; none gives none.
    assert_int_equal (wp_engine_predict_for (engine, 1, pattern, n, now, out, 2), 2);
    assert_int_equal (wp_engine_predict_for (engine, 1, pattern, n, now, out, 0), 0);
    assert_int_equal (wp_engine_predict_for (engine, 1, pattern, 0, now, out, 8), 0);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
}

//  Thin data: a pair with one idle time (1 s) is kept at least the
//  break-even time x PRIOR_WEIGHT / (1 + PRIOR_WEIGHT), whatever its own
//  short idle time says; with 200 such idle times its plan keeps it far
//  less (the floor is down to 2 / 202 of the break-even).
static void
test_thin_data_floor (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_t *engine = wp_engine_new (NULL);
    double floor_ms = wp_engine_break_even_ms (engine) * 2 / 3;
    wp_prediction_t p;
    s_request (analyzer, engine, 7, "m", T0, "m", &p);
    s_request (analyzer, engine, 7, "m", T0 + 1000, "m", &p);
    assert_true (p.keep_until_ms >= T0 + 1000 + (uint64_t) floor_ms);
    uint64_t now = T0 + 1000;
    for (int i = 0; i < 200; i++) {
        now += 1000;
        s_request (analyzer, engine, 7, "m", now, "m", &p);
    }
    assert_true (p.keep_until_ms > now);
    assert_true (p.keep_until_ms < now + (uint64_t) (floor_ms / 10));
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
}

//  Break-even from the threshold: horizon x (1 - t) / t x 4.4; a higher
//  threshold keeps less.
static void
test_threshold_sets_break_even (void **state)
{
    wp_engine_opts_t opts = { .threshold = 0.5 };
    wp_engine_t *engine = wp_engine_new (&opts);
    assert_close (wp_engine_break_even_ms (engine), 300000.0 * 4.4, 1e-6);
    assert_int_equal (wp_engine_horizon_s (engine), 300);
    wp_engine_destroy (&engine);
    opts.threshold = 0.8;
    opts.horizon_s = 60;
    engine = wp_engine_new (&opts);
    assert_close (wp_engine_break_even_ms (engine), 60000.0 * 0.25 * 4.4, 1e-6);
    wp_engine_destroy (&engine);
    //  Out of range: the default 0.7.
    opts.threshold = 1.5;
    opts.horizon_s = 0;
    engine = wp_engine_new (&opts);
    assert_close (wp_engine_break_even_ms (engine), 300000.0 * 0.3 / 0.7 * 4.4, 1e-6);
    assert_true (wp_engine_state_bytes (engine) > 0);
    wp_engine_destroy (&engine);
    wp_engine_destroy (&engine);
}

//  With a names table shared with other cores (holding other names), the
//  engine keeps load times by the names' ids and predicts the same as when
//  it keys them by hash; an undescribed model takes the default load time;
//  it holds less.
static void
test_shared_names (void **state)
{
    wp_names_t *names = wp_names_new ();
    assert_non_null (names);
    wp_names_add (names, "other");
    wp_names_add (names, "B");
    wp_analyzer_t *analyzer [2] = { wp_analyzer_new (NULL), wp_analyzer_new (NULL) };
    wp_engine_opts_t opts = { .threshold = 0.7 };
    wp_engine_t *engine [2];
    engine [0] = wp_engine_new (&opts);
    opts.names = names;
    engine [1] = wp_engine_new (&opts);
    wp_prediction_t p [2];
    for (int e = 0; e < 2; e++) {
        wp_engine_model (engine [e], "B", 4000);
        wp_engine_model (engine [e], "A", 2500);
        wp_engine_model (engine [e], "A", 0);      //  leaves it
        uint64_t now = T0;
        for (int i = 0; i < 10; i++, now += 60 * MINUTE) {
            s_request (analyzer [e], engine [e], 3, "A", now, "A", &p [e]);
            assert_int_equal (p [e].load_ms, 2500);
            s_request (analyzer [e], engine [e], 3, "B", now + 30000, "B", &p [e]);
            assert_int_equal (p [e].load_ms, 4000);
            s_request (analyzer [e], engine [e], 3, "C", now + 40000, "C", &p [e]);
            assert_int_equal (p [e].load_ms, 1000);
        }
        s_request (analyzer [e], engine [e], 3, "A", now, "B", &p [e]);
    }
    assert_string_equal (p [1].model, p [0].model);
    assert_true (p [1].probability == p [0].probability);
    assert_true (p [1].prewarm_at_ms == p [0].prewarm_at_ms);
    assert_true (p [1].hold_until_ms == p [0].hold_until_ms);
    assert_true (p [1].benefit_ms == p [0].benefit_ms);
    assert_true (p [1].hold_until_ms > 0);
    assert_int_equal (wp_names_find (names, "A"), 2);
    assert_true (wp_engine_state_bytes (engine [1]) < wp_engine_state_bytes (engine [0]));
    for (int e = 0; e < 2; e++) {
        wp_engine_destroy (&engine [e]);
        wp_analyzer_destroy (&analyzer [e]);
    }
    wp_names_destroy (&names);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_plan_single_bin_window),
        cmocka_unit_test (test_plan_short_gaps_keep),
        cmocka_unit_test (test_plan_break_even),
        cmocka_unit_test (test_thin_data_floor),
        cmocka_unit_test (test_plan_empty),
        cmocka_unit_test (test_plan_is_minimal),
        cmocka_unit_test (test_periodic_user_prewarmed),
        cmocka_unit_test (test_load_time_moves_prewarm),
        cmocka_unit_test (test_markov_follows),
        cmocka_unit_test (test_new_user_gets_prior),
        cmocka_unit_test (test_confidence_grows),
        cmocka_unit_test (test_ensemble_learns),
        cmocka_unit_test (test_ordering_and_cap),
        cmocka_unit_test (test_threshold_sets_break_even),
        cmocka_unit_test (test_shared_names),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
