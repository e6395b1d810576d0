/*  =========================================================================
    test_eval_policies - every baseline on small hand-made traces whose
    right answers are worked out here, step by step.
    =========================================================================
*/
#include "test_eval_util.h"
#include "wp_eval_sim.h"

//  A world running the named policy; future may be NULL.
static wp_eval_sim_t *
s_sim (const char *name, wp_eval_catalog_t *catalog, int64_t budget, wp_eval_future_t *future)
{
    return test_sim (name, catalog, budget, future, true);
}

//  Feed one request.
static void
s_request (wp_eval_sim_t *sim, int64_t time, uint32_t model)
{
    wp_eval_request_t request = { time, 0, model, 0 };
    assert_int_equal (wp_eval_sim_request (sim, &request), 0);
}

//  End the run and return the metrics.
static wp_eval_metrics_t
s_finish (wp_eval_sim_t *sim, int64_t end)
{
    wp_eval_metrics_t m;
    assert_int_equal (wp_eval_sim_finish (sim, end), 0);
    wp_eval_sim_metrics (sim, &m);
    assert_true (m.ns_per_event_mean >= 0);
    assert_true (m.state_bytes_peak > 0);
    return m;
}

//  Policy names: families, knobs, bad values.
static void
test_names (void **state)
{
    char error [WP_EVAL_ERRLEN], name [64];
    double knob;
    const wp_eval_policy_t *p = wp_eval_policy_find ("keepalive:300", &knob, error);
    assert_non_null (p);
    assert_float_equal (knob, 300, 0);
    wp_eval_policy_name (p, knob, name, sizeof (name));
    assert_string_equal (name, "keepalive:300");
    assert_non_null (wp_eval_policy_find ("lru", &knob, error));
    assert_float_equal (knob, 4, 0);
    assert_null (wp_eval_policy_find ("lru:2.5", &knob, error));
    assert_non_null (strstr (error, "whole number"));
    assert_null (wp_eval_policy_find ("keepalive:-1", &knob, error));
    assert_null (wp_eval_policy_find ("keepalive:", &knob, error));
    assert_null (wp_eval_policy_find ("ollama:3", &knob, error));
    assert_non_null (strstr (error, "takes no ':value'"));
    assert_null (wp_eval_policy_find ("nosuch", &knob, error));
    assert_non_null (strstr (error, "unknown policy 'nosuch'"));
    const char *all [] = { "keepalive:600", "ollama", "lru:4", "lmstudio", "lemonade",
                           "hybrid-histogram", "greedy-dual", "icebreaker",
                           "preload-markov", "oracle" };
    for (size_t i = 0; i < sizeof (all) / sizeof (all [0]); i++)
        assert_non_null (wp_eval_policy_find (all [i], &knob, error));
}

//  keepalive:10: a request at exactly last + 10 s is warm, one at
//  last + 10 s + 1 ms is cold; memory is charged up to last + 10 s.
static void
test_keepalive_boundary (void **state)
{
    uint32_t mem [1] = { 1024 }, load [1] = { 100 };
    wp_eval_catalog_t *catalog = test_catalog (1, mem, load);
    wp_eval_sim_t *sim = s_sim ("keepalive:10", catalog, 0, NULL);
    s_request (sim, 0, 0);              //  cold
    s_request (sim, 10000, 0);          //  idle exactly 10 s: warm
    s_request (sim, 20001, 0);          //  idle 10.001 s: gone at 20000, cold
    wp_eval_metrics_t m = s_finish (sim, 100000);
    assert_int_equal (m.cold_starts, 2);
    assert_int_equal (m.delayed, 0);
    //  [0, 20000] + [20001, 30001] = 30 s x 1 GB
    assert_int_equal (m.resident_mb_ms, 1024ULL * 30000);
    assert_float_equal (m.resident_gb_s, 30.0, 1e-9);
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  keepalive under a budget of two models: least recently used goes.
static void
test_keepalive_budget (void **state)
{
    uint32_t mem [3] = { 1024, 1024, 1024 }, load [3] = { 100, 100, 100 };
    wp_eval_catalog_t *catalog = test_catalog (3, mem, load);
    wp_eval_sim_t *sim = s_sim ("keepalive:600", catalog, 2048, NULL);
    s_request (sim, 0, 0);
    s_request (sim, 1000, 1);
    s_request (sim, 2000, 0);           //  warm: m1 is least recent
    s_request (sim, 3000, 2);           //  evicts m1
    assert_true (wp_eval_sim_is_resident (sim, 0));
    assert_false (wp_eval_sim_is_resident (sim, 1));
    s_request (sim, 4000, 1);           //  evicts m0 (2000) before m2 (3000)
    assert_false (wp_eval_sim_is_resident (sim, 0));
    assert_true (wp_eval_sim_is_resident (sim, 2));
    s_request (sim, 5000, 0);           //  evicts m2
    assert_false (wp_eval_sim_is_resident (sim, 2));
    wp_eval_metrics_t m = s_finish (sim, 6000);
    assert_int_equal (m.cold_starts, 5);
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  ollama: the 4th model unloads the soonest-expiring idle one, ties by
//  name ("a" before "b" although "b" has the lower id).
static void
test_ollama (void **state)
{
    wp_eval_catalog_t *catalog = wp_eval_catalog_new ();
    wp_eval_catalog_add (catalog, "b", 100, 10);
    wp_eval_catalog_add (catalog, "a", 100, 10);
    wp_eval_catalog_add (catalog, "c", 100, 10);
    wp_eval_catalog_add (catalog, "d", 100, 10);
    wp_eval_sim_t *sim = s_sim ("ollama", catalog, 0, NULL);
    s_request (sim, 0, 0);
    s_request (sim, 0, 1);
    s_request (sim, 1000, 2);
    s_request (sim, 2000, 3);
    assert_true (wp_eval_sim_is_resident (sim, 0));
    assert_false (wp_eval_sim_is_resident (sim, 1));
    assert_true (wp_eval_sim_is_resident (sim, 2));
    assert_int_equal (wp_eval_sim_resident_count (sim), 3);
    s_request (sim, 2005, 1);           //  3 resident, d loading: unloads b (expires 300000)
    assert_false (wp_eval_sim_is_resident (sim, 0));
    s_request (sim, 302001, 2);         //  c idle since 1000: expired at 301000
    wp_eval_metrics_t m = s_finish (sim, 400000);
    assert_int_equal (m.cold_starts, 6);
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  lru:2 evicts the least recently used; lru:1 with its slot loading makes
//  the request uncacheable.
static void
test_lru (void **state)
{
    uint32_t mem [3] = { 1, 1, 1 }, load [3] = { 100, 100, 100 };
    wp_eval_catalog_t *catalog = test_catalog (3, mem, load);
    wp_eval_sim_t *sim = s_sim ("lru:2", catalog, 0, NULL);
    s_request (sim, 0, 0);
    s_request (sim, 1000, 1);
    s_request (sim, 1500, 0);
    s_request (sim, 2000, 2);
    assert_true (wp_eval_sim_is_resident (sim, 0));
    assert_false (wp_eval_sim_is_resident (sim, 1));
    wp_eval_metrics_t m = s_finish (sim, 3000);
    assert_int_equal (m.cold_starts, 3);
    wp_eval_sim_destroy (&sim);
    sim = s_sim ("lru:1", catalog, 0, NULL);
    s_request (sim, 0, 0);
    s_request (sim, 50, 1);             //  m0 still loading
    assert_false (wp_eval_sim_is_resident (sim, 1));
    s_request (sim, 200, 1);            //  m0 idle now: replaced
    assert_false (wp_eval_sim_is_resident (sim, 0));
    m = s_finish (sim, 300);
    assert_int_equal (m.uncacheable, 1);
    assert_int_equal (m.cold_starts, 3);
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  lmstudio: a request-loaded model unloads the other idle ones.
static void
test_lmstudio (void **state)
{
    uint32_t mem [3] = { 1, 1, 1 }, load [3] = { 100, 100, 100 };
    wp_eval_catalog_t *catalog = test_catalog (3, mem, load);
    wp_eval_sim_t *sim = s_sim ("lmstudio", catalog, 0, NULL);
    s_request (sim, 0, 0);
    s_request (sim, 50, 1);             //  m0 loading: kept
    assert_true (wp_eval_sim_is_resident (sim, 0));
    s_request (sim, 1000, 2);           //  both idle: unloaded
    assert_false (wp_eval_sim_is_resident (sim, 0));
    assert_false (wp_eval_sim_is_resident (sim, 1));
    s_request (sim, 1000 + 3600000, 2); //  idle exactly 3600 s: warm
    s_request (sim, 2 * 3600000 + 1001, 2);    //  3600.001 s: cold
    wp_eval_metrics_t m = s_finish (sim, 3 * 3600000);
    assert_int_equal (m.cold_starts, 4);
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  lemonade: short of room, the largest idle_ms / load_ms goes.
static void
test_lemonade (void **state)
{
    uint32_t mem [3] = { 1024, 1024, 1024 }, load [3] = { 1000, 100, 100 };
    wp_eval_catalog_t *catalog = test_catalog (3, mem, load);
    wp_eval_sim_t *sim = s_sim ("lemonade", catalog, 2048, NULL);
    s_request (sim, 0, 0);
    s_request (sim, 0, 1);
    s_request (sim, 10000, 2);          //  idle/load: m0 10, m1 100
    assert_true (wp_eval_sim_is_resident (sim, 0));
    assert_false (wp_eval_sim_is_resident (sim, 1));
    s_request (sim, 10000 + 300000, 2); //  300 s idle exactly: warm
    wp_eval_metrics_t m = s_finish (sim, 1000000);
    assert_int_equal (m.cold_starts, 3);
    //  m0 [0, 300000], m1 [0, 10000], m2 [10000, 610000]
    assert_int_equal (m.resident_mb_ms, 1024ULL * (300000 + 10000 + 600000));
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  hybrid-histogram: requests every 30 min. Until 10 idle times it keeps
//  the model 4 h (always warm). At the 10th idle time all sit in bin 30
//  (CV = 15.5 >= 2): head = 30 min, tail = 31 min, so the model leaves
//  right after use and is pre-warmed 0.9 x 30 min - load_ms later, kept
//  until 1.1 x 31 min.
static void
test_hybrid_switches_to_prewarm (void **state)
{
    uint32_t mem [2] = { 1024, 1 }, load [2] = { 10000, 10 };
    wp_eval_catalog_t *catalog = test_catalog (2, mem, load);
    wp_eval_sim_t *sim = s_sim ("hybrid-histogram", catalog, 0, NULL);
    const int64_t gap = 1800000;
    for (int k = 0; k <= 10; k++)
        s_request (sim, k * gap, 0);
    //  Mid-gap the model is gone (pre-warm due at +1610000).
    s_request (sim, 10 * gap + 1000000, 1);
    assert_false (wp_eval_sim_is_resident (sim, 0));
    s_request (sim, 10 * gap + 1615000, 1);
    assert_true (wp_eval_sim_is_loading (sim, 0));
    assert_true (wp_eval_sim_is_prewarmed (sim, 0));
    s_request (sim, 11 * gap, 0);
    s_request (sim, 12 * gap, 0);
    wp_eval_metrics_t m = s_finish (sim, 12 * gap + 100);
    assert_int_equal (m.cold_starts, 2);            //  m0 once, m1 once
    assert_int_equal (m.delayed, 0);
    assert_int_equal (m.prewarms, 2);
    assert_int_equal (m.useful_prewarms, 2);
    assert_int_equal (m.prewarm_hits, 2);
    //  m0: [0, 10 gap] + 2 x [+1610000, next] ; m1: 4 h keep-alive, to the end
    uint64_t m0 = 10 * gap + 2 * (gap - 1610000);
    uint64_t m1 = 12 * gap + 100 - (10 * gap + 1000000);
    assert_int_equal (m.resident_mb_ms, 1024 * m0 + m1);
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  greedy-dual: priority = clock + freq x load_ms / memory_mb; the clock
//  (priority of the last unloaded) decides the last eviction: without it
//  m0 (0.98) would go, with it m1 (2.0 < 2.45) goes.
static void
test_greedy_dual_clock (void **state)
{
    uint32_t mem [3] = { 1024, 1024, 1024 }, load [3] = { 1000, 2048, 512 };
    wp_eval_catalog_t *catalog = test_catalog (3, mem, load);
    wp_eval_sim_t *sim = s_sim ("greedy-dual", catalog, 2048, NULL);
    s_request (sim, 0, 0);              //  m0: 0.977
    s_request (sim, 10000, 1);          //  m1: 2.0
    s_request (sim, 20000, 2);          //  evict m0, clock 0.977; m2: 1.477
    assert_false (wp_eval_sim_is_resident (sim, 0));
    s_request (sim, 30000, 0);          //  evict m2 (1.477 < 2.0), clock 1.477; m0: 2.453
    assert_false (wp_eval_sim_is_resident (sim, 2));
    assert_true (wp_eval_sim_is_resident (sim, 1));
    s_request (sim, 40000, 2);          //  evict m1 (2.0 < 2.453)
    assert_false (wp_eval_sim_is_resident (sim, 1));
    assert_true (wp_eval_sim_is_resident (sim, 0));
    wp_eval_metrics_t m = s_finish (sim, 50000);
    assert_int_equal (m.cold_starts, 5);
    wp_eval_sim_destroy (&sim);
    //  Unbounded: nothing ever leaves.
    sim = s_sim ("greedy-dual", catalog, 0, NULL);
    s_request (sim, 0, 0);
    s_request (sim, 10000, 1);
    m = s_finish (sim, 100000);
    assert_int_equal (m.resident_mb_ms, 1024ULL * (100000 + 90000));
    wp_eval_sim_destroy (&sim);
    wp_eval_catalog_destroy (&catalog);
}

//  icebreaker: one request gives a forecast of 0.35 (< 0.5): unloaded at
//  the next minute. A steady 1/min gives a forecast of exactly 1 once 60
//  minutes are seen: the 61st request is warm.
static void
test_icebreaker (void **state)
{
    uint32_t mem [1] = { 1024 }, load [1] = { 1000 };
    wp_eval_catalog_t *catalog = test_catalog (1, mem, load);
    wp_eval_sim_t *sim = s_sim ("icebreaker", catalog, 0, NULL);
    s_request (sim, 1000, 0);
    wp_eval_metrics_t m = s_finish (sim, 200000);
    assert_int_equal (m.resident_mb_ms, 1024ULL * 59000);
    wp_eval_sim_destroy (&sim);
    wp_eval_metrics_t runs [2];
    for (int r = 0; r < 2; r++) {
        sim = s_sim ("icebreaker", catalog, 0, NULL);
        for (int j = 0; j < 60 + r; j++)
            s_request (sim, j * 60000 + 30000, 0);
        runs [r] = s_finish (sim, 61 * 60000);
        wp_eval_sim_destroy (&sim);
    }
    assert_int_equal (runs [1].cold_starts, runs [0].cold_starts);
    assert_int_equal (runs [1].delayed, runs [0].delayed);
    assert_true (runs [1].cold_starts < 60);
    wp_eval_catalog_destroy (&catalog);
}

//  preload-markov: 20 s cycles [a b] [] [a] [b] [] repeated. In state "a
//  only" the chain has always moved to "b only" next, so at the end of an
//  [a] cycle it bids P(b) = corr (1/6 in the long run) x (1 - e^-1.5) x
//  visits / (visits + 0.01) ~ 0.13. A threshold of 0.1 pre-warms b then
//  (b is absent: nothing used it in the cycle before [a]), and b's request
//  in the next cycle is warm; a threshold of 0.5 never pre-warms.
static void
test_markov (void **state)
{
    uint32_t mem [2] = { 1024, 1024 }, load [2] = { 1000, 1000 };
    wp_eval_catalog_t *catalog = test_catalog (2, mem, load);
    const char *names [2] = { "preload-markov:0.1", "preload-markov:0.5" };
    wp_eval_metrics_t m [2];
    for (int r = 0; r < 2; r++) {
        wp_eval_sim_t *sim = s_sim (names [r], catalog, 0, NULL);
        for (int period = 0; period < 40; period++) {
            int64_t base = period * 5 * 20000;
            s_request (sim, base + 5000, 0);
            s_request (sim, base + 6000, 1);
            s_request (sim, base + 45000, 0);
            s_request (sim, base + 65000, 1);
        }
        m [r] = s_finish (sim, 40 * 5 * 20000);
        wp_eval_sim_destroy (&sim);
    }
    assert_true (m [0].prewarms > 10);
    assert_true (m [0].useful_prewarms > 10);
    assert_true (m [0].prewarm_hits > 10);
    assert_int_equal (m [1].prewarms, 0);
    assert_true (m [0].cold_starts < m [1].cold_starts);
    wp_eval_catalog_destroy (&catalog);
}

//  oracle: requests at 300, 5000, 5500, 20000 with load 1000. Pre-warm at
//  0 (300 - 1000 < 0: delayed 700), unload at 1000, pre-warm at 4000
//  (warm at 5000), keep across the 500 ms gap, unload at 5500, pre-warm
//  at 19000 (warm at 20000), unload at 20000.
static void
test_oracle_timing (void **state)
{
    uint32_t mem [1] = { 1024 }, load [1] = { 1000 };
    wp_eval_catalog_t *catalog = test_catalog (1, mem, load);
    wp_eval_future_t *future = wp_eval_future_new (1);
    int64_t times [4] = { 300, 5000, 5500, 20000 };
    for (int i = 0; i < 4; i++)
        assert_int_equal (wp_eval_future_add (future, 0, times [i]), 0);
    wp_eval_sim_t *sim = s_sim ("oracle", catalog, 0, future);
    for (int i = 0; i < 4; i++)
        s_request (sim, times [i], 0);
    wp_eval_metrics_t m = s_finish (sim, 30000);
    assert_int_equal (m.cold_starts, 0);
    assert_int_equal (m.delayed, 1);
    assert_int_equal (m.wait_ms, 700);
    assert_int_equal (m.prewarms, 3);
    assert_int_equal (m.useful_prewarms, 3);
    assert_int_equal (m.prewarm_hits, 2);
    assert_int_equal (m.resident_mb_ms, 1024ULL * (1000 + 1500 + 1000));
    wp_eval_sim_destroy (&sim);
    //  Without a future the oracle cannot start.
    char error [WP_EVAL_ERRLEN];
    double knob;
    const wp_eval_policy_t *oracle = wp_eval_policy_find ("oracle", &knob, error);
    assert_null (wp_eval_sim_new (catalog, 0, oracle, knob, NULL, false, error));
    assert_non_null (strstr (error, "needs the trace's future"));
    wp_eval_future_destroy (&future);
    wp_eval_catalog_destroy (&catalog);
}

//  oracle under a budget of two (load 1000): m0 and m1 are kept across
//  short gaps; at m2's cold start (1900) both are idle, m0 next needed at
//  2500, m1 at 2600: Belady unloads m1 (LRU would take m0, the lower id
//  of two used at 1800).
static void
test_oracle_budget (void **state)
{
    uint32_t mem [3] = { 1024, 1024, 1024 }, load [3] = { 1000, 1000, 1000 };
    wp_eval_catalog_t *catalog = test_catalog (3, mem, load);
    wp_eval_future_t *future = wp_eval_future_new (3);
    int64_t t [7] = { 1000, 1000, 1800, 1800, 1900, 2500, 2600 };
    uint32_t model [7] = { 0, 1, 0, 1, 2, 0, 1 };
    for (int i = 0; i < 7; i++)
        assert_int_equal (wp_eval_future_add (future, model [i], t [i]), 0);
    wp_eval_sim_t *sim = s_sim ("oracle", catalog, 2048, future);
    for (int i = 0; i < 5; i++)
        s_request (sim, t [i], model [i]);
    assert_true (wp_eval_sim_is_resident (sim, 0));
    assert_false (wp_eval_sim_is_resident (sim, 1));
    assert_true (wp_eval_sim_is_resident (sim, 2));
    for (int i = 5; i < 7; i++)
        s_request (sim, t [i], model [i]);
    wp_eval_metrics_t m = s_finish (sim, 5000);
    assert_int_equal (m.cold_starts, 2);                //  m2, then m1 again
    assert_int_equal (m.prewarm_hits, 2);               //  m0, m1 at 1000
    wp_eval_sim_destroy (&sim);
    wp_eval_future_destroy (&future);
    wp_eval_catalog_destroy (&catalog);
}

//  Every policy under a pin: the pinned model is resident from the first
//  request to the end, all its requests are warm, nothing unloads it, and
//  the others share what the pin leaves of the budget.
static void
test_pins_every_policy (void **state)
{
    uint32_t mem [5] = { 1000, 1000, 1000, 1000, 1000 };
    uint32_t load [5] = { 200, 200, 300, 400, 500 };
    wp_eval_catalog_t *catalog = test_catalog (5, mem, load);
    wp_eval_catalog_set_pin (catalog, 0, true);
    //  Users cycle through models 1-4 with gaps up to 40 minutes, and ask
    //  for the pinned model now and then.
    enum { N = 400 };
    static int64_t times [N];
    static uint32_t models [N];
    int64_t t = 1000;
    uint32_t seed = 7;
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        t += (seed >> 8) % (i % 50 == 49? 2400000: 90000);
        times [i] = t;
        models [i] = i % 7 == 3? 0: 1 + (seed >> 4) % 4;
    }
    wp_eval_future_t *future = wp_eval_future_new (5);
    for (int i = 0; i < N; i++)
        assert_int_equal (wp_eval_future_add (future, models [i], times [i]), 0);
    int64_t end = t + 600000;
    size_t count;
    const wp_eval_policy_t *const *list = wp_eval_policy_list (&count);
    for (size_t p = 0; p < count; p++) {
        for (int64_t budget = 0; budget <= 3000; budget += 3000) {
            char error [WP_EVAL_ERRLEN];
            wp_eval_sim_t *sim = wp_eval_sim_new (catalog, budget, list [p],
                                                  list [p]->knob_default, future, false, error);
            if (!sim)
                fail_msg ("%s: %s", list [p]->family, error);
            for (int i = 0; i < N; i++) {
                s_request (sim, times [i], models [i]);
                if (!wp_eval_sim_is_resident (sim, 0))
                    fail_msg ("%s at %lld: the pinned model left", list [p]->family,
                              (long long) times [i]);
                for (size_t r = 0; r < wp_eval_sim_resident_count (sim); r++)
                    assert_int_not_equal (wp_eval_sim_resident_model (sim, r), 0);
                if (budget)
                    assert_true (wp_eval_sim_resident_mb (sim) <= budget);
            }
            wp_eval_metrics_t m;
            assert_int_equal (wp_eval_sim_finish (sim, end), 0);
            wp_eval_sim_metrics (sim, &m);
            const wp_eval_class_t *pinned = &m.classes [WP_EVAL_CLASS_PINNED];
            assert_true (m.by_class);
            assert_true (pinned->requests > 0);
            if (pinned->cold_starts + pinned->delayed + pinned->wait_ms)
                fail_msg ("%s: the pinned model waited", list [p]->family);
            assert_int_equal (pinned->resident_mb_ms, 1000ULL * (uint64_t) (end - times [0]));
            assert_int_equal (m.classes [WP_EVAL_CLASS_NORMAL].requests + pinned->requests, N);
            assert_true (m.resident_mb_ms >= pinned->resident_mb_ms);
            wp_eval_sim_destroy (&sim);
        }
    }
    wp_eval_future_destroy (&future);
    wp_eval_catalog_destroy (&catalog);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_names),
        cmocka_unit_test (test_keepalive_boundary),
        cmocka_unit_test (test_keepalive_budget),
        cmocka_unit_test (test_ollama),
        cmocka_unit_test (test_lru),
        cmocka_unit_test (test_lmstudio),
        cmocka_unit_test (test_lemonade),
        cmocka_unit_test (test_hybrid_switches_to_prewarm),
        cmocka_unit_test (test_greedy_dual_clock),
        cmocka_unit_test (test_icebreaker),
        cmocka_unit_test (test_markov),
        cmocka_unit_test (test_oracle_timing),
        cmocka_unit_test (test_oracle_budget),
        cmocka_unit_test (test_pins_every_policy),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
