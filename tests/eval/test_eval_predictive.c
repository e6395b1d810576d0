/*  =========================================================================
    test_eval_predictive - `predictive` (the service's cores) in the
    simulated world, on small hand-made traces with known answers: a
    periodic user stops paying cold starts once the period is learned (the
    pre-warm load ends before each request) and the model is not kept
    through the idle time; a user who always follows A with B gets B
    pre-warmed after A; the budget is never exceeded and the lowest-value
    model goes first; the same input gives the same numbers; the catalog's
    priorities weight value and its pins stay resident.
    =========================================================================
*/
#include "test_eval_util.h"
#include "wp_eval_sim.h"

//  A world running predictive at a price.
static wp_eval_sim_t *
s_sim (const char *name, wp_eval_catalog_t *catalog, int64_t budget)
{
    return test_sim (name, catalog, budget, NULL, false);
}

//  Feed one request of a user.
static void
s_request (wp_eval_sim_t *sim, int64_t time, uint32_t user, uint32_t model)
{
    wp_eval_request_t request = { time, user, model, 0 };
    assert_int_equal (wp_eval_sim_request (sim, &request), 0);
}

//  End the run and return the metrics.
static wp_eval_metrics_t
s_finish (wp_eval_sim_t *sim, int64_t end)
{
    wp_eval_metrics_t m;
    assert_int_equal (wp_eval_sim_finish (sim, end), 0);
    wp_eval_sim_metrics (sim, &m);
    assert_true (m.state_bytes_peak > 0);
    return m;
}

//  A job every 15 minutes (load 4 s; model 1, used by another user once
//  a minute, only moves the clock): after a few periods every request
//  of the job finds it loaded by a pre-warm, and mid-period it is gone.
static void
test_periodic_prewarmed (void **state)
{
    uint32_t mem [2] = { 1000, 1 }, load [2] = { 4000, 1 };
    wp_eval_catalog_t *catalog = test_catalog (2, mem, load);
    wp_eval_sim_t *sim = s_sim ("predictive", catalog, 0);
    const int64_t period = 15 * 60000;
    for (int k = 0; k < 40; k++) {
        for (int64_t t = (k - 1) * period + 60000; k > 0 && t < k * period; t += 60000) {
            s_request (sim, t, 1, 1);
            if (k >= 10 && t == (k - 1) * period + period / 2)
                assert_false (wp_eval_sim_is_resident (sim, 0));
        }
        if (k >= 10) {
            s_request (sim, k * period - 1, 1, 1);
            assert_true (wp_eval_sim_is_resident (sim, 0));
            assert_false (wp_eval_sim_is_loading (sim, 0));
            assert_true (wp_eval_sim_is_prewarmed (sim, 0));
        }
        s_request (sim, k * period, 0, 0);
    }
    wp_eval_metrics_t m = s_finish (sim, 40 * period);
    assert_true (m.useful_prewarms >= 30);
    //  The job: resident well under half of the time (keeping it: all).
    assert_true (m.resident_mb_ms < (uint64_t) 1000 * 40 * period / 2);
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  Sessions an hour apart: A, then B 40 s later (model 2, another user's,
//  only moves the clock). After a few sessions, B is loaded by a pre-warm
//  when it is asked for.
static void
test_follower_prewarmed (void **state)
{
    uint32_t mem [3] = { 1000, 2000, 1 }, load [3] = { 2000, 5000, 1 };
    wp_eval_catalog_t *catalog = test_catalog (3, mem, load);
    wp_eval_sim_t *sim = s_sim ("predictive", catalog, 0);
    const int64_t hour = 3600000;
    for (int k = 0; k < 12; k++) {
        s_request (sim, k * hour, 0, 0);
        wp_eval_metrics_t before, after;
        if (k >= 6) {
            //  Mid-session the clock moves: B is resident by a pre-warm.
            s_request (sim, k * hour + 39999, 1, 2);
            assert_true (wp_eval_sim_is_resident (sim, 1));
            assert_true (wp_eval_sim_is_prewarmed (sim, 1));
            assert_true (wp_eval_sim_load_end (sim, 1) <= k * hour + 40000);
        }
        wp_eval_sim_metrics (sim, &before);
        s_request (sim, k * hour + 40000, 0, 1);
        wp_eval_sim_metrics (sim, &after);
        if (k >= 6)     //  served warm: no cold start, no wait
            assert_true (after.wait_ms == before.wait_ms);
    }
    wp_eval_metrics_t m = s_finish (sim, 12 * hour);
    assert_true (m.useful_prewarms >= 6);
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  A budget of two models among three busy ones: memory never exceeds
//  it (the world would abort), and every request is served.
static void
test_budget_and_determinism (void **state)
{
    uint32_t mem [3] = { 1000, 1000, 1000 }, load [3] = { 1000, 2000, 3000 };
    wp_eval_catalog_t *catalog = test_catalog (3, mem, load);
    wp_eval_metrics_t runs [2];
    for (int run = 0; run < 2; run++) {
        wp_eval_sim_t *sim = s_sim ("predictive:300", catalog, 2000);
        uint64_t seed = 7;
        int64_t t = 0;
        for (int i = 0; i < 3000; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            t += 1000 + (int64_t) ((seed >> 33) % 60000);
            s_request (sim, t, (uint32_t) ((seed >> 20) % 5), (uint32_t) ((seed >> 40) % 3));
            assert_true (wp_eval_sim_resident_mb (sim) <= 2000);
        }
        runs [run] = s_finish (sim, t + 600000);
        assert_int_equal (runs [run].requests, 3000);
        wp_eval_sim_destroy (&sim);
    }
    assert_int_equal (runs [0].cold_starts, runs [1].cold_starts);
    assert_int_equal (runs [0].delayed, runs [1].delayed);
    assert_int_equal (runs [0].resident_mb_ms, runs [1].resident_mb_ms);
    assert_int_equal (runs [0].wait_ms, runs [1].wait_ms);
    assert_int_equal (runs [0].prewarms, runs [1].prewarms);
    wp_eval_catalog_destroy (&catalog);
}

//  The knob: the price of a second of cold wait (EVAL.md section 6), its
//  sweep over the seven prices, bad values refused.
static void
test_knob (void **state)
{
    char error [WP_EVAL_ERRLEN];
    double knob;
    const wp_eval_policy_t *policy = wp_eval_policy_find ("predictive", &knob, error);
    assert_non_null (policy);
    assert_string_equal (policy->knob, "cold_wait_price");
    assert_true (knob == 1000);
    assert_non_null (policy->sweep);
    assert_int_equal (policy->sweep_len, 7);
    assert_true (policy->sweep [0] == 30 && policy->sweep [6] == 30000);
    assert_non_null (wp_eval_policy_find ("predictive:3000", &knob, error));
    assert_true (knob == 3000);
    assert_null (wp_eval_policy_find ("predictive:0.5", &knob, error));
    assert_null (wp_eval_policy_find ("predictive:0", &knob, error));
    assert_null (wp_eval_policy_find ("predictive:-5", &knob, error));
}

//  A higher price keeps more and waits less: on the same bursty trace,
//  predictive:30000 waits no longer than predictive:30 and holds at least
//  as much memory.
static void
test_price_trades_wait_for_memory (void **state)
{
    uint32_t mem [1] = { 4096 }, load [1] = { 8000 };
    wp_eval_catalog_t *catalog = test_catalog (1, mem, load);
    wp_eval_metrics_t m [2];
    const char *names [2] = { "predictive:30", "predictive:30000" };
    for (int run = 0; run < 2; run++) {
        wp_eval_sim_t *sim = s_sim (names [run], catalog, 0);
        uint64_t seed = 11;
        int64_t t = 0;
        for (int i = 0; i < 2000; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            //  Bursts of short gaps, now and then a pause of up to 2 h.
            t += (seed >> 60) == 0 ? (int64_t) ((seed >> 20) % 7200000) : 5000;
            s_request (sim, t, 0, 0);
        }
        m [run] = s_finish (sim, t + 600000);
        wp_eval_sim_destroy (&sim);
    }
    assert_true (m [1].wait_ms < m [0].wait_ms);
    assert_true (m [1].resident_mb_ms > m [0].resident_mb_ms);
    wp_eval_catalog_destroy (&catalog);
}

//  Run two users asking for their model every 5 s at the same ms (A:
//  model 0, B: model 1, so that only their settings tell them apart) and
//  a third asking for model 2 every 7 minutes, between them, under a
//  budget for two; return the metrics (by class of the catalog). Each
//  cold start of model 2 cools A or B; the one cooled comes back within
//  5 s and cools model 2 or the other.
static wp_eval_metrics_t
s_contention (wp_eval_catalog_t *catalog)
{
    wp_eval_sim_t *sim = s_sim ("predictive", catalog, 2100);
    for (int64_t t = 60000; t < 12 * 3600000; t += 500) {
        if (t % 5000 == 0) {
            s_request (sim, t, 0, 0);
            s_request (sim, t, 1, 1);
        }
        if (t % 420000 == 17500)
            s_request (sim, t, 2, 2);
        assert_true (wp_eval_sim_resident_mb (sim) <= 2100);
    }
    wp_eval_metrics_t m = s_finish (sim, 13 * 3600000);
    wp_eval_sim_destroy (&sim);
    return m;
}

//  Priorities weight value: under contention the high-priority model is
//  kept and the low one pays the cold starts, whichever of two alike
//  models is which (without priorities they share them).
static void
test_priority_weights_value (void **state)
{
    //  Model 2 loads fast: it is not protected by a long load when the one
    //  cooled for it comes back (a model still loading cannot be unloaded,
    //  so a slow one would turn the choice around).
    uint32_t mem [3] = { 1000, 1000, 1000 }, load [3] = { 6000, 6000, 100 };
    for (int swap = 0; swap < 2; swap++) {
        wp_eval_catalog_t *catalog = test_catalog (3, mem, load);
        wp_eval_catalog_set_priority (catalog, swap? 1: 0, 3);
        wp_eval_catalog_set_priority (catalog, swap? 0: 1, 1);
        wp_eval_metrics_t m = s_contention (catalog);
        const wp_eval_class_t *high = &m.classes [WP_EVAL_CLASS_HIGH];
        const wp_eval_class_t *low = &m.classes [WP_EVAL_CLASS_LOW];
        assert_int_equal (high->requests, low->requests);
        assert_true (high->wait_ms * 10 < low->wait_ms);
        wp_eval_catalog_destroy (&catalog);
    }
}

//  A pin in predictive: warm from the start, never cooled, its memory
//  kept out of what the others share; its requests never wait.
static void
test_pin_reserved (void **state)
{
    uint32_t mem [3] = { 1000, 1000, 1000 }, load [3] = { 6000, 6000, 6000 };
    wp_eval_catalog_t *catalog = test_catalog (3, mem, load);
    wp_eval_catalog_set_pin (catalog, 2, true);
    wp_eval_metrics_t m = s_contention (catalog);
    const wp_eval_class_t *pinned = &m.classes [WP_EVAL_CLASS_PINNED];
    const wp_eval_class_t *normal = &m.classes [WP_EVAL_CLASS_NORMAL];
    assert_true (pinned->requests > 0);
    assert_int_equal (pinned->wait_ms, 0);
    assert_int_equal (pinned->resident_mb_ms, 1000ULL * (13 * 3600000 - 60000));
    //  A and B share the one model's room left: they take turns.
    assert_true (normal->cold_starts > 100);
    wp_eval_catalog_destroy (&catalog);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_periodic_prewarmed),
        cmocka_unit_test (test_follower_prewarmed),
        cmocka_unit_test (test_budget_and_determinism),
        cmocka_unit_test (test_knob),
        cmocka_unit_test (test_price_trades_wait_for_memory),
        cmocka_unit_test (test_priority_weights_value),
        cmocka_unit_test (test_pin_reserved),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
