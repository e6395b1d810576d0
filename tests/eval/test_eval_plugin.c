/*  =========================================================================
    test_eval_plugin - policies from shared libraries (include/warmup/policy.h)
    in warmup-eval's world: a plug-in written only against the ABI gives the
    numbers of the built-in policy it copies, at any budget; the example
    plug-in (examples/adaptive_keepalive.c) does what its comment says;
    wrong libraries are refused whole with the reason, and a plug-in that
    never lets time move on stops its run.
    The libraries' paths come from the environment (tests/eval/CMakeLists.txt).
    =========================================================================
*/
#include "test_eval_util.h"
#include "wp_eval_sim.h"

//  A plug-in's path from the environment variable name.
static const char *
s_path (const char *name)
{
    const char *path = getenv (name);
    if (!path)
        fail_msg ("%s is not set (run through ctest)", name);
    return path;
}

//  "plugin:PATH[:knob]" for a library named by its environment variable.
static void
s_spec (char *spec, size_t size, const char *name, const char *knob)
{
    snprintf (spec, size, "plugin:%s%s%s", s_path (name), knob ? ":" : "", knob ? knob : "");
}

//  A pseudo-random trace over n models: bursts and long gaps, the same for
//  every run (a fixed linear congruential sequence).
static void
s_play (wp_eval_sim_t *sim, uint32_t n, size_t requests)
{
    uint64_t x = 12345;
    int64_t time = 0;
    for (size_t i = 0; i < requests; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t r = (uint32_t) (x >> 33);
        //  mostly seconds apart, sometimes minutes, now and then an hour
        time += r % 16 == 0 ? 3600000 + r % 600000 : r % 4 == 0 ? 60000 + r % 900000 : r % 5000;
        wp_eval_request_t request = { time, r % 3, (r >> 8) % n, 0 };
        assert_int_equal (wp_eval_sim_request (sim, &request), 0);
    }
    assert_int_equal (wp_eval_sim_finish (sim, time + 7200000), 0);
}

//  The metrics of one run of a policy on the pseudo-random trace.
static void
s_run (const char *policy, int64_t budget, wp_eval_metrics_t *m)
{
    uint32_t mem [5] = { 1000, 3000, 500, 2000, 8000 }, load [5] = { 900, 4000, 300, 2500, 9000 };
    wp_eval_catalog_t *catalog = test_catalog (5, mem, load);
    wp_eval_sim_t *sim = test_sim (policy, catalog, budget, NULL, false);
    s_play (sim, 5, 20000);
    wp_eval_sim_metrics (sim, m);
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  plugin_keepalive:K equals keepalive:K to the last millisecond, with
//  memory to spare and under a budget that forces evictions.
static void
test_keepalive_exact (void **state)
{
    char spec [1200];
    s_spec (spec, sizeof spec, "WP_PLUGIN_KEEPALIVE", "120");
    int64_t budgets [] = { 0, 9000, 4000 };
    for (size_t i = 0; i < sizeof budgets / sizeof budgets [0]; i++) {
        wp_eval_metrics_t a, b;
        s_run ("keepalive:120", budgets [i], &a);
        s_run (spec, budgets [i], &b);
        assert_true (a.cold_starts > 100);
        assert_int_equal (a.requests, b.requests);
        assert_int_equal (a.cold_starts, b.cold_starts);
        assert_int_equal (a.delayed, b.delayed);
        assert_int_equal (a.uncacheable, b.uncacheable);
        assert_int_equal (a.wait_ms, b.wait_ms);
        assert_int_equal (a.resident_mb_ms, b.resident_mb_ms);
    }
    //  and a different knob gives different numbers (the knob reaches it)
    wp_eval_metrics_t a, c;
    s_run ("keepalive:120", 0, &a);
    s_spec (spec, sizeof spec, "WP_PLUGIN_KEEPALIVE", "30");
    s_run (spec, 0, &c);
    assert_true (c.cold_starts > a.cold_starts);
    assert_true (c.resident_mb_ms < a.resident_mb_ms);
}

//  The example: requests 10 s apart, factor 3: kept 30 s after the last,
//  then unloaded; the next request after that is cold.
static void
test_example (void **state)
{
    char spec [1200];
    s_spec (spec, sizeof spec, "WP_PLUGIN_EXAMPLE", "3");
    uint32_t mem [1] = { 1024 }, load [1] = { 100 };
    wp_eval_catalog_t *catalog = test_catalog (1, mem, load);
    wp_eval_sim_t *sim = test_sim (spec, catalog, 0, NULL, false);
    int64_t times [] = { 0, 10000, 20000, 30000, 59000, 120000 };
    for (size_t i = 0; i < sizeof times / sizeof times [0]; i++) {
        wp_eval_request_t request = { times [i], 0, 0, 0 };
        assert_int_equal (wp_eval_sim_request (sim, &request), 0);
    }
    assert_int_equal (wp_eval_sim_finish (sim, 400000), 0);
    wp_eval_metrics_t m;
    wp_eval_sim_metrics (sim, &m);
    //  cold at 0 and at 120 s (59 s is within 30 s x ... of 30 s: the
    //  average idle is 0.8 x 10 + 0.2 x 10 = 10 s before it, so kept to 60 s)
    assert_int_equal (m.cold_starts, 2);
    assert_int_equal (m.prewarms, 0);
    //  resident from 0 to 59 s + 3 x avg idle; the average after 59 s is
    //  0.8 x 10 s + 0.2 x 29 s = 13.8 s: kept to 59 + 41.4 = 100.4 s;
    //  from 120 s: 3 x (0.8 x 13.8 + 0.2 x 61) s = 69.72 s, to 189.72 s;
    //  each unload is its timer's, a millisecond after the hold's end
    assert_int_equal (m.resident_mb_ms, (uint64_t) 1024 * (100401 + 69721));
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  Wrong libraries: refused whole, the reason named.
static void
test_refused (void **state)
{
    struct { const char *env; const char *reason; } cases [] = {
        { "WP_PLUGIN_BAD_ABI", "ABI version 2, this build loads 1" },
        { "WP_PLUGIN_BAD_NAME", "is a built-in's" },
        { "WP_PLUGIN_BAD_CALLBACK", "on_timer missing" },
        { "WP_PLUGIN_BAD_NULL", "returned NULL" },
        { "WP_PLUGIN_BAD_SYMBOL", "no warmup_policy_v1 symbol" },
    };
    char error [WP_EVAL_ERRLEN], spec [1200];
    double knob;
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        s_spec (spec, sizeof spec, cases [i].env, NULL);
        error [0] = 0;
        assert_null (wp_eval_policy_find (spec, &knob, error));
        if (!strstr (error, cases [i].reason) || !strstr (error, s_path (cases [i].env)))
            fail_msg ("%s: '%s' does not say '%s'", cases [i].env, error, cases [i].reason);
    }
    assert_null (wp_eval_policy_find ("plugin:/nonexistent/x.so", &knob, error));
    assert_non_null (strstr (error, "cannot load"));
    //  a knob out of range, and a knob for a policy without one
    s_spec (spec, sizeof spec, "WP_PLUGIN_EXAMPLE", "1000");
    assert_null (wp_eval_policy_find (spec, &knob, error));
    assert_non_null (strstr (error, "factor must be a number in [0.1, 100]"));
    s_spec (spec, sizeof spec, "WP_PLUGIN_BAD_LOOP", "3");
    assert_null (wp_eval_policy_find (spec, &knob, error));
    assert_non_null (strstr (error, "takes no ':value'"));
}

//  A plug-in that sets a timer at now from every timer stops its run with
//  an error instead of hanging.
static void
test_loop_stopped (void **state)
{
    char spec [1200];
    s_spec (spec, sizeof spec, "WP_PLUGIN_BAD_LOOP", NULL);
    uint32_t mem [1] = { 1024 }, load [1] = { 100 };
    wp_eval_catalog_t *catalog = test_catalog (1, mem, load);
    wp_eval_sim_t *sim = test_sim (spec, catalog, 0, NULL, false);
    wp_eval_request_t first = { 0, 0, 0, 0 }, second = { 1000, 0, 0, 0 };
    assert_int_equal (wp_eval_sim_request (sim, &first), 0);
    assert_int_equal (wp_eval_sim_request (sim, &second), -1);
    assert_non_null (strstr (wp_eval_sim_error (sim), "on_timer"));
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_keepalive_exact),
        cmocka_unit_test (test_example),
        cmocka_unit_test (test_refused),
        cmocka_unit_test (test_loop_stopped),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
