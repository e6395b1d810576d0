/*  =========================================================================
    test_engine - the prediction engine core ("idle-plan/2"): the
    cost-minimising plan on hand-made idle-time histograms (costs worked
    out here), then each signal on small synthetic sequences through the
    real analyzer, with answers known in advance: a periodic user is
    pre-warmed so the load ends before the next request; a user who always
    follows A with B gets B warmed after A; a new user of a model gets the
    population prior; load times move the pre-warm; the ensemble learns
    from outcomes; the output is ordered, capped and keeps the latest model;
    a restarted engine takes the analyzer's pairs from a resync snapshot
    (each encoded as the snapshot item carries it, then decoded).
    =========================================================================
*/

#include "testutil.h"
#include "wp_analyzer.h"
#include "wp_engine.h"
#include "wp_pattern_wire.h"
#include "warmup.pb-c.h"
#include "wp_util.h"
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

//  Gaps in one bin: keep to the bin's end when a cold start costs more
//  than the whole bin's residency (cost = the mean idle time), else
//  unload at once (cost = a cold start).
static void
test_plan_single_bin (void **state)
{
    double mass [WP_IDLE_BINS] = { 0 };
    int bin = wp_idle_bin (600000);         //  10 minutes
    mass [bin] = 5;
    wp_plan_t plan;
    wp_engine_plan (mass, 2000, 3600000, 300000, &plan);
    assert_int_equal (plan.keep_ms, wp_idle_edge (bin + 1));
    assert_int_equal (plan.keep_bin, bin + 1);
    assert_close (plan.cost, s_mid (bin), 1e-6);
    assert_close (plan.p_horizon, 0, 1e-12);
    assert_close (plan.expected_ms, s_mid (bin), 1e-6);
    //  Quantiles fall inside the bin.
    for (int q = 0; q < WP_PREDICTION_QUANTILES; q++)
        assert_true (plan.gap_q [q] >= wp_idle_edge (bin)
                     && plan.gap_q [q] <= wp_idle_edge (bin + 1));
    wp_engine_plan (mass, 2000, 60000, 300000, &plan);
    assert_int_equal (plan.keep_ms, 0);
    assert_close (plan.cost, 60000, 1e-6);
}

//  Half the idle times 5 s, half 2 h. A break-even of 10 minutes: keep
//  through 5 s only; cost = 0.5 x the 5 s middle + 0.5 x (the keep +
//  break-even). A break-even of 10 h: keep through the 2 h bin too.
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
    double keep = (double) wp_idle_edge (near + 1);
    assert_close (plan.cost, 0.5 * s_mid (near) + 0.5 * keep + 0.5 * 600000, 1e-6);
    assert_close (plan.p_horizon, 0.5, 1e-12);
    wp_engine_plan (mass, 6000, 36000000, 300000, &plan);
    assert_int_equal (plan.keep_ms, wp_idle_edge (far + 1));
    assert_close (plan.cost, 0.5 * s_mid (near) + 0.5 * s_mid (far), 1e-6);
}

//  No data at all: unload, the cost of a cold start.
static void
test_plan_empty (void **state)
{
    double mass [WP_IDLE_BINS] = { 0 };
    wp_plan_t plan;
    wp_engine_plan (mass, 2000, 600000, 300000, &plan);
    assert_int_equal (plan.keep_ms, 0);
    assert_close (plan.cost, 600000, 0);
}

//  Every keep the optimiser could choose costs at least what it chose
//  (checked by brute force over the edges on random masses).
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
        for (int k = 0; k < WP_IDLE_BINS; k++) {
            double keep = 0, tail = 0;
            for (int i = 0; i < WP_IDLE_BINS; i++)
                if (i < k)
                    keep += mass [i] / total * s_mid (i);
                else
                    tail += mass [i] / total;
            double cost = keep + tail * (double) wp_idle_edge (k) + breakeven * tail;
            if (cost < best)
                best = cost;
        }
        assert_close (plan.cost, best, 1e-6 * best + 1e-6);
    }
}

//  The break-even is priced: a cold start costs its wait at the price
//  (GiB*s per s) over the model's GiB, plus the load's own residency.
//  A reload's price changes it; a bad price is ignored.
static void
test_break_even_priced (void **state)
{
    wp_engine_t *engine = wp_engine_new (NULL);
    assert_close (wp_engine_price (engine), WP_ENGINE_PRICE_DEFAULT, 0);
    //  4 s load, 8 GiB: 1000 x 4 s / 8 GiB + 4 s = 504 s.
    assert_close (wp_engine_break_even_ms (engine, 4000, 8192), 504000, 1e-6);
    //  Defaults: 1 s load, 512 MiB: 1000 x 1 / 0.5 + 1 = 2001 s.
    assert_close (wp_engine_break_even_ms (engine, 0, 0), 2001000, 1e-6);
    wp_engine_set_price (engine, 10000);
    assert_close (wp_engine_break_even_ms (engine, 4000, 8192), 5004000, 1e-6);
    wp_engine_set_price (engine, -1);
    wp_engine_set_price (engine, NAN);
    assert_close (wp_engine_price (engine), 10000, 0);
    assert_int_equal (wp_engine_horizon_s (engine), 300);
    assert_true (wp_engine_state_bytes (engine) > 0);
    wp_engine_destroy (&engine);
    wp_engine_destroy (&engine);
    wp_engine_opts_t opts = { .cold_wait_price = 300, .default_load_ms = 2000,
                              .default_memory_mb = 1024 };
    engine = wp_engine_new (&opts);
    assert_close (wp_engine_break_even_ms (engine, 0, 0), 300.0 * 2000 + 2000, 1e-6);
    wp_engine_destroy (&engine);
}

//  Feed one request through the analyzer and the engine; the prediction
//  for model (NULL: the first) into *out. Returns predictions made.
static size_t
s_request (wp_analyzer_t *analyzer, wp_engine_t *engine, uint64_t user, const char *model,
           uint64_t now, const char *want, wp_prediction_t *out)
{
    assert_int_equal (wp_analyzer_observe (analyzer, user, model, now), 0);
    wp_pattern_t pair;
    assert_true (wp_analyzer_observed (analyzer, now, &pair));
    wp_prediction_t predictions [8];
    size_t count = wp_engine_update (engine, user, &pair, now, predictions, 8);
    memset (out, 0, sizeof *out);
    for (size_t i = 0; i < count; i++)
        if (!want || strcmp (predictions [i].model, want) == 0) {
            *out = predictions [i];
            break;
        }
    return count;
}

//  A pair holds what its windows are learned from only once it has seen
//  enough long idle times to try one: 10,000 pairs of a single request
//  each hold under 170 bytes apiece (with the room the table and the
//  entries keep to grow). Periodic pairs past the table's
//  bound give their window records back with their entries: the memory
//  stays that of the bound, and the pairs kept are still pre-warmed.
static void
test_entry_bytes (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_t *engine = wp_engine_new (NULL);
    wp_prediction_t p;
    size_t empty = wp_engine_state_bytes (engine);
    for (uint64_t user = 1; user <= 10000; user++)
        s_request (analyzer, engine, user, "m", T0 + user, "m", &p);
    assert_int_equal (wp_engine_pairs (engine), 10000);
    assert_true (wp_engine_state_bytes (engine) - empty < 10000 * 170);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);

    analyzer = wp_analyzer_new (NULL);
    wp_engine_opts_t opts = { .max_pairs = 64 };
    engine = wp_engine_new (&opts);
    wp_engine_model (engine, "cron", 3000, 0);
    size_t bound = 0;
    for (uint64_t round = 0; round < 20; round++) {
        uint64_t now = T0 + round * 6000 * MINUTE;
        int windows = 0;
        for (int i = 0; i < 12; i++, now += 10 * MINUTE)
            for (uint64_t user = 1; user <= 64; user++) {
                s_request (analyzer, engine, round * 1000 + user, "cron", now + user,
                           "cron", &p);
                windows += i == 11 && p.hold_until_ms > 0;
            }
        //  (pairs of a round whose home slots meet take each other's entry)
        assert_true (windows >= 16);
        if (round == 4)                         //  the table at its bound
            bound = wp_engine_state_bytes (engine);
        if (round > 4)
            assert_int_equal (wp_engine_state_bytes (engine), bound);
    }
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
}

//  A user who asks every 10 minutes: once the window has been right a few
//  times (RING idle times, then its hit rate learned), the plan unloads
//  the model soon after each request and pre-warms it so that the load
//  (3 s) ends before the next request, holding it just past it (the
//  narrowest width, 0.5 % of the period, since every idle time fell in
//  it). The expected time is about the period; the chance within the
//  5-minute horizon is low.
static void
test_periodic_user_prewarmed (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_opts_t opts = { .threshold = 0.7 };
    wp_engine_t *engine = wp_engine_new (&opts);
    wp_engine_model (engine, "cron", 3000, 0);
    wp_prediction_t p;
    uint64_t period = 10 * MINUTE, now = T0;
    for (int i = 0; i < 4; i++, now += period)
        s_request (analyzer, engine, 7, "cron", now, "cron", &p);
    assert_int_equal (p.hold_until_ms, 0);              //  not yet
    for (int i = 0; i < 30; i++, now += period)
        s_request (analyzer, engine, 7, "cron", now, "cron", &p);
    now -= period;
    uint64_t next = now + period;
    assert_true (p.keep_until_ms < next - 3000);        //  unloaded in between
    assert_true (p.hold_until_ms >= next);              //  held through the request
    assert_true (p.prewarm_at_ms + 3000 <= next);       //  load done in time
    assert_true (p.prewarm_at_ms > p.keep_until_ms);
    assert_true (p.prewarm_at_ms + 3000 >= next - period / 200);
    assert_true (p.hold_until_ms <= next + period / 200);
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
    wp_engine_model (engine, "job", 1000, 0);
    for (int i = 0; i < 30; i++, now += period)
        s_request (analyzer, engine, 1, "job", now, "job", &p);
    assert_true (p.hold_until_ms > 0);
    uint64_t fast = p.prewarm_at_ms - (now - period);
    wp_engine_model (engine, "job", 6000, 0);
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
    wp_engine_model (engine, "B", 4000, 0);
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

    //  Another user used B once, an hour after A, never right after: no
    //  link names B, so a request of A says nothing of it (B keeps the
    //  plan of its own last request).
    s_request (analyzer, engine, 4, "A", T0, "A", &p);
    s_request (analyzer, engine, 4, "B", T0 + 70 * MINUTE, "B", &p);
    assert_int_equal (s_request (analyzer, engine, 4, "A", T0 + 200 * MINUTE, "B", &p), 1);
    assert_null (p.model);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
}

//  Users of "shared" all ask every 2 minutes; a new user's first request
//  gets the population's idle times: a plan that covers 2 minutes (kept,
//  or a window), from no data of their own (confidence 0), and a request
//  expected about 2 minutes away. Without that population the same user
//  is expected far later (idle times taken as scale-free).
static void
test_new_user_gets_prior (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_t *engine = wp_engine_new (NULL);
    wp_engine_model (engine, "shared", 2000, 0);
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
    assert_true (p.expected_in_ms > MINUTE && p.expected_in_ms < 5 * MINUTE);
    wp_analyzer_t *alone = wp_analyzer_new (NULL);
    wp_engine_t *fresh = wp_engine_new (NULL);
    wp_engine_model (fresh, "shared", 2000, 0);
    wp_prediction_t q;
    s_request (alone, fresh, 99, "shared", now, "shared", &q);
    assert_true (q.expected_in_ms < MINUTE / 2 || q.expected_in_ms > 10 * MINUTE);
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

//  The pair first, then the models its links name by probability, highest
//  first; at most max_models (and capacity). A model the user uses with no
//  link to the pair (at other hours) is not predicted: it keeps its plan.
static void
test_ordering_and_cap (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_opts_t opts = { .max_models = 2 };
    wp_engine_t *engine = wp_engine_new (&opts);
    wp_engine_opts_t wide = { .max_models = 8 };
    wp_engine_t *all = wp_engine_new (&wide);     //  the same, uncapped
    char name [16];
    wp_pattern_t pair;
    wp_prediction_t out [8];
    //  "night" once at 3 am; then five models asked in turn every 10 s for
    //  a while. Both engines see every request.
    wp_prediction_t p;
    s_request (analyzer, engine, 1, "night", T0 - 6 * 60 * MINUTE, "night", &p);
    assert_true (wp_analyzer_observed (analyzer, T0 - 6 * 60 * MINUTE, &pair));
    wp_engine_update (all, 1, &pair, T0 - 6 * 60 * MINUTE, out, 8);
    for (int i = 0; i < 20; i++)
        for (int m = 0; m < 5; m++) {
            snprintf (name, sizeof name, "hot%d", m);
            uint64_t at = T0 + (uint64_t) i * 10000 + m;
            s_request (analyzer, engine, 1, name, at, name, &p);
            assert_true (wp_analyzer_observed (analyzer, at, &pair));
            wp_engine_update (all, 1, &pair, at, out, 8);
        }
    uint64_t now = T0 + 200000;
    assert_int_equal (wp_analyzer_observe (analyzer, 1, "hot0", now), 0);
    assert_true (wp_analyzer_observed (analyzer, now, &pair));
    assert_true (pair.n_next + pair.n_couse >= 2);
    size_t count = wp_engine_update (engine, 1, &pair, now, out, 8);
    assert_int_equal (count, 2);
    assert_string_equal (out [0].model, "hot0");
    assert_true (out [0].keep_until_ms >= now && out [0].last_ms == now);
    for (size_t i = 1; i < count; i++) {
        assert_true (strncmp (out [i].model, "hot", 3) == 0);
        assert_true (strcmp (out [i].model, "hot0") != 0);
        assert_int_equal (out [i].keep_until_ms, 0);
        if (i + 1 < count)
            assert_true (out [i].probability >= out [i + 1].probability);
    }
    //  A smaller capacity caps too; none gives none.
    assert_int_equal (wp_engine_update (engine, 1, &pair, now, out, 1), 1);
    assert_int_equal (wp_engine_update (engine, 1, &pair, now, out, 0), 0);
    //  Uncapped: hot0, then each model its links name once (the engine
    //  knows them all), highest first; not "night": no link to hot0, nor
    //  hot0 to it.
    const char *named [3 * WP_PATTERN_LINKS];
    size_t n_named = 0;
    for (int list = 0; list < 3; list++) {
        const wp_link_t *links = list == 0 ? pair.next : list == 1 ? pair.next2 : pair.couse;
        int n = list == 0 ? pair.n_next : list == 1 ? pair.n_next2 : pair.n_couse;
        for (int i = 0; i < n; i++) {
            size_t k = 0;
            while (k < n_named && strcmp (named [k], links [i].model) != 0)
                k++;
            if (k == n_named && strcmp (links [i].model, "hot0") != 0)
                named [n_named++] = links [i].model;
        }
    }
    assert_true (n_named >= 2);
    count = wp_engine_update (all, 1, &pair, now, out, 8);
    assert_int_equal (count, 1 + n_named);
    for (size_t i = 1; i + 1 < count; i++)
        assert_true (out [i].probability >= out [i + 1].probability);
    for (size_t i = 0; i < count; i++)
        assert_true (strcmp (out [i].model, "night") != 0);
    wp_engine_destroy (&all);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
}

//  Thin data leans on the population, a pair's own data on itself: among
//  pairs that ask every 10 minutes, a pair that asks every hour has its
//  median idle time at an hour once it has a few idle times of its own;
//  with one, the population's 10 minutes still weigh on it.
static void
test_thin_data_leans_on_population (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_t *engine = wp_engine_new (NULL);
    wp_prediction_t p;
    uint64_t now = T0;
    for (int i = 0; i < 40; i++, now += 10 * MINUTE)
        for (uint64_t user = 1; user <= 20; user++)
            s_request (analyzer, engine, user, "m", now + user, "m", &p);
    uint64_t hourly = T0 + 3 * 60 * MINUTE + 30 * 1000;
    s_request (analyzer, engine, 77, "m", hourly, "m", &p);
    s_request (analyzer, engine, 77, "m", hourly + 60 * MINUTE, "m", &p);
    double thin = p.gap_q [1];
    for (int i = 2; i < 8; i++)
        s_request (analyzer, engine, 77, "m", hourly + (uint64_t) i * 60 * MINUTE, "m", &p);
    double rich = p.gap_q [1];
    assert_true (rich > 45 * MINUTE && rich < 75 * MINUTE);
    assert_true (thin > 8 * MINUTE && thin < rich * 0.9);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
}

//  Censoring: pairs that went quiet and never came back count. Thirty
//  pairs burst (five requests a second apart), then the service runs on
//  (another pair asks every minute for ten hours): a new bursting pair is
//  let go soon after its burst, for the population shows that idle times
//  past a burst last. Had the thirty come back after 20 minutes each
//  time, the new one would be kept through 20 minutes (a cold start of
//  its 20 s load at the default price costs more).
static void
test_quiet_pairs_count (void **state)
{
    uint64_t keeps [2];
    for (int run = 0; run < 2; run++) {
        wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
        wp_engine_t *engine = wp_engine_new (NULL);
        wp_engine_model (engine, "m", 20000, 4096);
        wp_engine_model (engine, "tick", 20000, 4096);
        wp_prediction_t p;
        for (uint64_t user = 1; user <= 30; user++)
            for (int burst = 0; burst < (run ? 30 : 1); burst++)
                for (int i = 0; i < 5; i++)
                    s_request (analyzer, engine, user, "m",
                               T0 + (uint64_t) burst * 20 * MINUTE + user * 10000
                               + (uint64_t) i * 1000, "m", &p);
        for (int i = 0; i < 600; i++)
            s_request (analyzer, engine, 999, "tick", T0 + (uint64_t) i * MINUTE, "tick", &p);
        uint64_t now = T0 + 600 * MINUTE + 1000;
        for (int i = 0; i < 5; i++)
            s_request (analyzer, engine, 500, "m", now + (uint64_t) i * 1000, "m", &p);
        keeps [run] = p.keep_until_ms - (now + 4000);
        wp_engine_destroy (&engine);
        wp_analyzer_destroy (&analyzer);
    }
    assert_true (keeps [0] < 20 * MINUTE);
    assert_true (keeps [1] >= 20 * MINUTE);
}

//  The wait behind a cold start is learned: a pair whose long idle times
//  end in a burst (requests that would queue behind the load) is worth
//  more per cold start than one asked once after each.
static void
test_queued_waits_learned (void **state)
{
    double benefit [2];
    for (int run = 0; run < 2; run++) {
        wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
        wp_engine_t *engine = wp_engine_new (NULL);
        wp_engine_model (engine, "m", 10000, 4096);
        wp_prediction_t p;
        uint64_t now = T0;
        for (int i = 0; i < 20; i++, now += 30 * MINUTE) {
            s_request (analyzer, engine, 1, "m", now, "m", &p);
            if (run)
                for (int j = 1; j <= 4; j++)
                    s_request (analyzer, engine, 1, "m", now + (uint64_t) j * 2000, "m", &p);
        }
        benefit [run] = p.benefit_ms;
        wp_engine_destroy (&engine);
        wp_analyzer_destroy (&analyzer);
    }
    assert_true (benefit [0] >= 10000 && benefit [0] < 15000);
    //  Four requests waiting 8, 6, 4 and 2 s: 20 s more per cold start.
    assert_true (benefit [1] > benefit [0] + 15000);
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
        wp_engine_model (engine [e], "B", 4000, 0);
        wp_engine_model (engine [e], "A", 2500, 0);
        wp_engine_model (engine [e], "A", 0, 0);   //  leaves it
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

//  A snapshot being answered and taken, in memory: each pair the
//  analyzer hands is encoded as sync.reply carries it (a SyncItem holding
//  the packed usage.pattern), decoded as the engine reads it and restored.
typedef struct {
    wp_engine_t *engine;        //  the engine taking them
    uint64_t now;               //  when
    size_t handed, taken;       //  pairs handed, restored
    size_t bytes;               //  packed size of the items
} s_snap_t;

static void
s_snap_pair (uint64_t user, const wp_pattern_t *pair, void *arg)
{
    s_snap_t *snap = (s_snap_t *) arg;
    //  Encode, as the analyzer answers
    char user_id [WP_USER_ID_LEN + 1];
    wp_user_id_format (user, user_id);
    wp_pattern_wire_t room;
    Warmup__V1__UsagePattern out = WARMUP__V1__USAGE_PATTERN__INIT;
    out.event_ms = snap->now;
    out.user = user_id;
    wp_pattern_wire_fill (&room, pair, &out);
    uint8_t payload [4096];
    size_t len = protobuf_c_message_get_packed_size (&out.base);
    assert_true (len <= sizeof payload);
    protobuf_c_message_pack (&out.base, payload);
    Warmup__V1__SyncItem item = WARMUP__V1__SYNC_ITEM__INIT;
    item.kind = "usage.pattern";
    item.payload.data = payload;
    item.payload.len = len;
    uint8_t packed [4200];
    size_t item_len = warmup__v1__sync_item__pack (&item, packed);
    snap->bytes += item_len;
    //  Decode, as the engine takes it
    Warmup__V1__SyncItem *got = warmup__v1__sync_item__unpack (NULL, item_len, packed);
    assert_non_null (got);
    assert_string_equal (got->kind, "usage.pattern");
    Warmup__V1__UsagePattern *in = warmup__v1__usage_pattern__unpack (
        NULL, got->payload.len, got->payload.data);
    assert_non_null (in);
    uint64_t user_back;
    assert_int_equal (wp_user_id_parse (in->user, &user_back), 0);
    assert_true (user_back == user);
    wp_pattern_t back;
    char error [160];
    assert_int_equal (wp_pattern_wire_read (in, &back, error, sizeof error), 0);
    assert_string_equal (back.model, pair->model);
    assert_true (back.count == pair->count);
    assert_true (back.last_ms == pair->last_ms);
    assert_close (back.hist_total, pair->hist_total, 1e-3);
    for (int b = 0; b < WP_IDLE_BINS; b++)
        assert_close (back.hist_buf [b], pair->hist_buf [b], 1e-3);
    assert_int_equal (back.n_next, pair->n_next);
    for (uint8_t i = 0; i < back.n_next; i++) {
        assert_string_equal (back.next [i].model, pair->next [i].model);
        assert_close (back.next [i].weight, pair->next [i].weight, 1e-4);
        assert_close (back.next [i].delay_ms, pair->next [i].delay_ms, 1e-1);
    }
    assert_int_equal (back.n_couse, pair->n_couse);
    snap->handed++;
    if (wp_engine_restore (snap->engine, user_back, &back, snap->now))
        snap->taken++;
    warmup__v1__usage_pattern__free_unpacked (in, NULL);
    warmup__v1__sync_item__free_unpacked (got, NULL);
}

//  A restarted engine knows no pair: a request of A predicts A alone. One
//  that took the analyzer's snapshot knows B's pair, so the same request
//  predicts B after A with its window, as the engine that saw every
//  request does. A pair seen after the snapshot's is left; a snapshot
//  asked since an event time carries only the pairs asked at or after it.
static void
test_restore_from_snapshot (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_opts_t opts = { .threshold = 0.7 };
    wp_engine_t *engine = wp_engine_new (&opts);
    wp_engine_model (engine, "B", 4000, 0);
    wp_prediction_t p;
    uint64_t now = T0;
    for (int i = 0; i < 10; i++, now += 60 * MINUTE) {
        s_request (analyzer, engine, 3, "A", now, "A", &p);
        s_request (analyzer, engine, 3, "B", now + 30000, "B", &p);
        s_request (analyzer, engine, 5, "C", now + 1000, "C", &p);
    }
    uint64_t last = now - 60 * MINUTE;
    assert_int_equal (wp_engine_pairs (engine), 3);

    //  Restarted, without the snapshot: B is not predicted after A
    wp_engine_t *bare = wp_engine_new (&opts);
    wp_engine_model (bare, "B", 4000, 0);
    wp_analyzer_t *copy = wp_analyzer_new (NULL);
    s_request (copy, bare, 3, "A", last - 60 * MINUTE, "A", &p);
    assert_int_equal (s_request (analyzer, bare, 3, "A", now, "B", &p), 1);
    assert_null (p.model);

    //  Restarted, with it
    wp_engine_t *restored = wp_engine_new (&opts);
    wp_engine_model (restored, "B", 4000, 0);
    s_snap_t snap = { .engine = restored, .now = now - 1 };
    assert_int_equal (wp_analyzer_each (analyzer, 0, snap.now, s_snap_pair, &snap), 3);
    assert_int_equal (snap.handed, 3);
    assert_int_equal (snap.taken, 3);
    assert_int_equal (wp_engine_pairs (restored), 3);
    print_message ("snapshot: %zu pairs, %zu bytes of items\n", snap.handed, snap.bytes);
    //  Again: nothing newer, nothing taken
    snap.taken = 0;
    wp_analyzer_each (analyzer, 0, snap.now, s_snap_pair, &snap);
    assert_int_equal (snap.taken, 0);
    wp_prediction_t q;
    assert_true (s_request (analyzer, restored, 3, "A", now, "B", &q) >= 2);
    assert_non_null (q.model);
    assert_string_equal (q.model, "B");
    assert_true (q.hold_until_ms >= now + 30000);
    assert_true (q.prewarm_at_ms + 4000 <= now + 30000);
    assert_true (q.prewarm_at_ms >= now);
    assert_true (q.last_ms == last + 30000);

    //  Since an event time: only user 3's pairs were asked at or after it
    //  (A now, B at last + 30 s); C's latest request is older
    s_snap_t since = { .engine = bare, .now = now };
    assert_int_equal (wp_analyzer_each (analyzer, last + 2000, now, s_snap_pair, &since), 2);
    wp_engine_destroy (&bare);
    wp_engine_destroy (&restored);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&copy);
    wp_analyzer_destroy (&analyzer);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_plan_single_bin),
        cmocka_unit_test (test_plan_break_even),
        cmocka_unit_test (test_plan_empty),
        cmocka_unit_test (test_plan_is_minimal),
        cmocka_unit_test (test_break_even_priced),
        cmocka_unit_test (test_thin_data_leans_on_population),
        cmocka_unit_test (test_quiet_pairs_count),
        cmocka_unit_test (test_queued_waits_learned),
        cmocka_unit_test (test_periodic_user_prewarmed),
        cmocka_unit_test (test_entry_bytes),
        cmocka_unit_test (test_load_time_moves_prewarm),
        cmocka_unit_test (test_markov_follows),
        cmocka_unit_test (test_new_user_gets_prior),
        cmocka_unit_test (test_confidence_grows),
        cmocka_unit_test (test_ensemble_learns),
        cmocka_unit_test (test_ordering_and_cap),
        cmocka_unit_test (test_shared_names),
        cmocka_unit_test (test_restore_from_snapshot),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
