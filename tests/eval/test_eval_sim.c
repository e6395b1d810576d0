/*  =========================================================================
    test_eval_sim - the simulated world: outcomes and waits, timer order,
    budget enforcement, uncacheable models, exact residency accounting.
    A scripted policy records what it is told and acts as the test says.
    =========================================================================
*/
#include "test_eval_util.h"
#include "wp_eval_sim.h"

//  What the scripted policy saw, in order.
typedef struct {
    char log [64][32];          //  "timer m t" / "request m t outcome"
    int nlog;                   //  entries
    int64_t prewarm_timer;      //  set a pre-warm timer at create, -1: none
    uint32_t prewarm_model;     //  model of that timer
} s_script_t;

static s_script_t s_script;

//  Create: optionally set the scripted pre-warm timer.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    if (s_script.prewarm_timer >= 0)
        wp_eval_sim_set_timer (sim, s_script.prewarm_timer, s_script.prewarm_model, 7);
    return &s_script;
}

//  Nothing to free.
static void
s_destroy (void **self_p)
{
    *self_p = NULL;
}

//  Record the request.
static int
s_on_request (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *request,
              wp_eval_outcome_t outcome)
{
    s_script_t *self = state;
    snprintf (self->log [self->nlog++], 32, "request %u %lld %d", request->model,
              (long long) request->time, (int) outcome);
    return 0;
}

//  Record the timer and pre-warm its model.
static int
s_on_timer (void *state, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    s_script_t *self = state;
    snprintf (self->log [self->nlog++], 32, "timer %u %lld", model,
              (long long) wp_eval_sim_now (sim));
    assert_int_equal (token, 7);
    assert_int_equal (wp_eval_sim_prewarm (sim, model), 0);
    assert_int_equal (wp_eval_sim_prewarm (sim, model), 1);
    return 0;
}

static const wp_eval_policy_t s_policy = {
    .family = "script",
    .create = s_create,
    .destroy = s_destroy,
    .on_request = s_on_request,
    .on_timer = s_on_timer,
};

//  Feed one request.
static void
s_request (wp_eval_sim_t *sim, int64_t time, uint32_t model)
{
    wp_eval_request_t request = { time, 0, model, 0 };
    assert_int_equal (wp_eval_sim_request (sim, &request), 0);
}

//  Reset the script.
static void
s_reset (int64_t prewarm_timer, uint32_t model)
{
    memset (&s_script, 0, sizeof (s_script));
    s_script.prewarm_timer = prewarm_timer;
    s_script.prewarm_model = model;
}

//  Cold, delayed and warm requests; waits; residency charged to the end.
static void
test_outcomes (void **state)
{
    uint32_t mem [2] = { 2048, 1024 }, load [2] = { 1000, 500 };
    wp_eval_catalog_t *catalog = test_catalog (2, mem, load);
    s_reset (-1, 0);
    char error [WP_EVAL_ERRLEN];
    wp_eval_sim_t *sim = wp_eval_sim_new (catalog, 0, &s_policy, 0, NULL, false, error);
    assert_non_null (sim);
    s_request (sim, 100, 0);            //  cold: load 100..1100, wait 1000
    s_request (sim, 600, 0);            //  delayed: wait 500
    s_request (sim, 1100, 0);           //  load ended at 1100: warm
    s_request (sim, 1200, 1);           //  cold: wait 500
    assert_true (wp_eval_sim_is_loading (sim, 1));
    assert_int_equal (wp_eval_sim_loading_mb (sim), 1024);
    assert_int_equal (wp_eval_sim_resident_mb (sim), 3072);
    assert_int_equal (wp_eval_sim_finish (sim, 3000), 0);
    wp_eval_metrics_t m;
    wp_eval_sim_metrics (sim, &m);
    assert_int_equal (m.requests, 4);
    assert_int_equal (m.cold_starts, 2);
    assert_int_equal (m.delayed, 1);
    assert_int_equal (m.wait_ms, 2000);
    assert_float_equal (m.cold_rate, 0.75, 1e-12);
    //  2048 MB x 2900 ms + 1024 MB x 1800 ms
    assert_int_equal (m.resident_mb_ms, 2048ULL * 2900 + 1024ULL * 1800);
    assert_float_equal (m.resident_gb_s, (2.0 * 2.9 + 1.0 * 1.8), 1e-9);
    //  per-model cold rates: m0 2/3, m1 1/1; p75 (nearest rank of 2) = 1
    assert_float_equal (m.p75_model_cold_rate, 1.0, 1e-12);
    assert_string_equal (s_script.log [1], "request 0 600 1");
    assert_string_equal (s_script.log [2], "request 0 1100 0");
    wp_eval_sim_destroy (&sim);
    assert_null (sim);
    wp_eval_catalog_destroy (&catalog);
}

//  A timer due at the same ms as a request fires first: the pre-warm it
//  starts makes the request delayed, not cold; a pre-warm counts as useful
//  and as a warm hit only when the load had ended.
static void
test_timer_before_request (void **state)
{
    uint32_t mem [1] = { 1024 }, load [1] = { 1000 };
    wp_eval_catalog_t *catalog = test_catalog (1, mem, load);
    s_reset (5000, 0);
    char error [WP_EVAL_ERRLEN];
    wp_eval_sim_t *sim = wp_eval_sim_new (catalog, 0, &s_policy, 0, NULL, false, error);
    s_request (sim, 5000, 0);
    assert_string_equal (s_script.log [0], "timer 0 5000");
    assert_string_equal (s_script.log [1], "request 0 5000 1");
    assert_int_equal (wp_eval_sim_finish (sim, 6000), 0);
    wp_eval_metrics_t m;
    wp_eval_sim_metrics (sim, &m);
    assert_int_equal (m.cold_starts, 0);
    assert_int_equal (m.delayed, 1);
    assert_int_equal (m.wait_ms, 1000);
    assert_int_equal (m.prewarms, 1);
    assert_int_equal (m.useful_prewarms, 1);
    assert_int_equal (m.prewarm_hits, 0);
    assert_float_equal (m.recall, 0.0, 1e-12);
    wp_eval_sim_destroy (&sim);

    //  Pre-warm at 4000, request at 5000 = load end: warm, a hit.
    s_reset (4000, 0);
    sim = wp_eval_sim_new (catalog, 0, &s_policy, 0, NULL, false, error);
    s_request (sim, 5000, 0);
    s_request (sim, 5001, 0);
    assert_int_equal (wp_eval_sim_finish (sim, 6000), 0);
    wp_eval_sim_metrics (sim, &m);
    assert_int_equal (m.delayed, 0);
    assert_int_equal (m.prewarm_hits, 1);
    assert_int_equal (m.useful_prewarms, 1);
    assert_float_equal (m.recall, 1.0, 1e-12);
    assert_float_equal (m.fp_rate, 0.0, 1e-12);
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  Budget: the default make-room unloads the least recently used idle
//  model; a model larger than the budget (or than what loading models
//  leave) is uncacheable: waits load_ms, is not kept.
static void
test_budget (void **state)
{
    uint32_t mem [4] = { 1000, 1000, 1000, 5000 }, load [4] = { 100, 100, 100, 300 };
    wp_eval_catalog_t *catalog = test_catalog (4, mem, load);
    s_reset (-1, 0);
    char error [WP_EVAL_ERRLEN];
    wp_eval_sim_t *sim = wp_eval_sim_new (catalog, 2000, &s_policy, 0, NULL, false, error);
    s_request (sim, 0, 0);
    s_request (sim, 1000, 1);
    s_request (sim, 2000, 0);           //  warm; m1 is now least recent
    s_request (sim, 3000, 2);           //  cold: unloads m1
    assert_true (wp_eval_sim_is_resident (sim, 0));
    assert_false (wp_eval_sim_is_resident (sim, 1));
    assert_true (wp_eval_sim_is_resident (sim, 2));
    s_request (sim, 3050, 1);           //  m2 loading, m0 idle: unloads m0
    assert_false (wp_eval_sim_is_resident (sim, 0));
    s_request (sim, 3060, 0);           //  m1 and m2 both loading: uncacheable
    assert_false (wp_eval_sim_is_resident (sim, 0));
    assert_string_equal (s_script.log [5], "request 0 3060 3");
    s_request (sim, 4000, 3);           //  5000 MB > budget: uncacheable
    assert_false (wp_eval_sim_is_resident (sim, 3));
    assert_true (wp_eval_sim_resident_mb (sim) <= 2000);
    assert_int_equal (wp_eval_sim_finish (sim, 5000), 0);
    wp_eval_metrics_t m;
    wp_eval_sim_metrics (sim, &m);
    assert_int_equal (m.cold_starts, 6);
    assert_int_equal (m.uncacheable, 2);
    assert_int_equal (m.wait_ms, 100 * 5 + 300);
    //  m0 0..3050, m1 1000..3000 and 3050..5000, m2 3000..5000
    assert_int_equal (m.resident_mb_ms, 1000ULL * (3050 + 2000 + 1950 + 2000));
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  Unload rules: not while loading; unload_at charges up to its time.
static void
test_unload (void **state)
{
    uint32_t mem [2] = { 1024, 1024 }, load [2] = { 1000, 1000 };
    wp_eval_catalog_t *catalog = test_catalog (2, mem, load);
    s_reset (-1, 0);
    char error [WP_EVAL_ERRLEN];
    wp_eval_sim_t *sim = wp_eval_sim_new (catalog, 0, &s_policy, 0, NULL, false, error);
    s_request (sim, 0, 0);
    assert_int_equal (wp_eval_sim_unload (sim, 0), -1);        //  loading
    assert_int_equal (wp_eval_sim_unload (sim, 1), 1);         //  absent
    assert_int_equal (wp_eval_sim_load_end (sim, 0), 1000);
    s_request (sim, 5000, 1);
    assert_int_equal (wp_eval_sim_unload_at (sim, 0, 6000), -1);   //  future
    assert_int_equal (wp_eval_sim_unload_at (sim, 0, 500), -1);    //  before load end
    assert_int_equal (wp_eval_sim_unload_at (sim, 0, 2000), 0);
    assert_int_equal (wp_eval_sim_resident_count (sim), 1);
    assert_int_equal (wp_eval_sim_resident_model (sim, 0), 1);
    assert_int_equal (wp_eval_sim_finish (sim, 6000), 0);
    wp_eval_metrics_t m;
    wp_eval_sim_metrics (sim, &m);
    assert_int_equal (m.resident_mb_ms, 1024ULL * 2000 + 1024ULL * 1000);
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  Pins are the world's: resident from the first request to the end,
//  charged, counted against the budget, never unloaded and not in the
//  list policies evict from; the by-class figures split them out.
static void
test_pins (void **state)
{
    uint32_t mem [4] = { 1000, 1000, 1000, 2000 }, load [4] = { 100, 100, 100, 300 };
    wp_eval_catalog_t *catalog = test_catalog (4, mem, load);
    wp_eval_catalog_set_pin (catalog, 0, true);
    wp_eval_catalog_set_priority (catalog, 2, 3);
    s_reset (-1, 0);
    char error [WP_EVAL_ERRLEN];
    //  Pinned models larger than the budget: refused.
    assert_null (wp_eval_sim_new (catalog, 999, &s_policy, 0, NULL, false, error));
    assert_non_null (strstr (error, "pinned models need 1000 MB, more than the budget of 999 MB"));
    wp_eval_sim_t *sim = wp_eval_sim_new (catalog, 2500, &s_policy, 0, NULL, false, error);
    assert_non_null (sim);
    s_request (sim, 100, 1);            //  cold; the pin is resident from here
    assert_true (wp_eval_sim_is_pinned (sim, 0));
    assert_false (wp_eval_sim_is_pinned (sim, 1));
    assert_true (wp_eval_sim_is_resident (sim, 0));
    assert_false (wp_eval_sim_is_loading (sim, 0));
    assert_int_equal (wp_eval_sim_resident_count (sim), 1);
    assert_int_equal (wp_eval_sim_resident_model (sim, 0), 1);
    assert_int_equal (wp_eval_sim_resident_mb (sim), 2000);
    assert_int_equal (wp_eval_sim_free_mb (sim), 500);
    assert_int_equal (wp_eval_sim_loading_mb (sim), 1000);
    s_request (sim, 150, 0);            //  pinned: warm at once
    assert_string_equal (s_script.log [1], "request 0 150 0");
    assert_int_equal (wp_eval_sim_unload (sim, 0), 2);
    assert_int_equal (wp_eval_sim_unload_at (sim, 0, 150), 2);
    assert_int_equal (wp_eval_sim_prewarm (sim, 0), 1);
    s_request (sim, 2000, 2);           //  short of room: m1 goes, never the pin
    assert_true (wp_eval_sim_is_resident (sim, 0));
    assert_false (wp_eval_sim_is_resident (sim, 1));
    assert_true (wp_eval_sim_is_resident (sim, 2));
    assert_int_equal (wp_eval_sim_evict_lru (sim, 2500), -1);
    assert_true (wp_eval_sim_is_resident (sim, 0));
    //  2000 MB > budget - pinned (1500): uncacheable, although it would
    //  fit in the budget alone.
    s_request (sim, 3000, 3);
    assert_false (wp_eval_sim_is_resident (sim, 3));
    assert_string_equal (s_script.log [3], "request 3 3000 3");
    assert_int_equal (wp_eval_sim_finish (sim, 5000), 0);
    wp_eval_metrics_t m;
    wp_eval_sim_metrics (sim, &m);
    assert_int_equal (m.cold_starts, 3);
    assert_int_equal (m.uncacheable, 1);
    assert_int_equal (m.prewarms, 0);
    assert_int_equal (m.wait_ms, 100 + 100 + 300);
    //  pin 100..5000, m1 100..2000 (evicted), m2 2000..5000
    assert_int_equal (m.resident_mb_ms, 1000ULL * (4900 + 1900 + 3000));
    assert_true (m.by_class);
    const wp_eval_class_t *pinned = &m.classes [WP_EVAL_CLASS_PINNED];
    assert_int_equal (pinned->models, 1);
    assert_int_equal (pinned->requests, 1);
    assert_int_equal (pinned->cold_starts + pinned->delayed, 0);
    assert_int_equal (pinned->wait_ms, 0);
    assert_int_equal (pinned->resident_mb_ms, 1000ULL * 4900);
    const wp_eval_class_t *high = &m.classes [WP_EVAL_CLASS_HIGH];
    assert_int_equal (high->models, 1);
    assert_int_equal (high->cold_starts, 1);
    assert_int_equal (high->wait_ms, 100);
    assert_int_equal (high->resident_mb_ms, 1000ULL * 3000);
    const wp_eval_class_t *normal = &m.classes [WP_EVAL_CLASS_NORMAL];
    assert_int_equal (normal->models, 2);
    assert_int_equal (normal->requests, 2);
    assert_int_equal (normal->wait_ms, 400);
    assert_int_equal (m.classes [WP_EVAL_CLASS_LOW].models, 0);
    assert_string_equal (wp_eval_class_name (WP_EVAL_CLASS_PINNED), "pinned");
    wp_eval_sim_destroy (&sim);

    //  No request at all: the pin costs nothing (the run has no span).
    s_reset (-1, 0);
    sim = wp_eval_sim_new (catalog, 0, &s_policy, 0, NULL, false, error);
    assert_int_equal (wp_eval_sim_finish (sim, 7000), 0);
    wp_eval_sim_metrics (sim, &m);
    assert_int_equal (m.resident_mb_ms, 0);
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_outcomes),
        cmocka_unit_test (test_timer_before_request),
        cmocka_unit_test (test_budget),
        cmocka_unit_test (test_unload),
        cmocka_unit_test (test_pins),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
