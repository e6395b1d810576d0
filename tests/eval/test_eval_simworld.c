/*  =========================================================================
    test_eval_simworld - the scheduler's mirror of the simulated world
    (components/scheduler/wp_simworld, used in a replay by windows) follows
    warmup-eval's world (wp_eval_sim) exactly: the same random requests,
    pre-warms, unloads and evictions, under budgets that force evictions,
    give the same outcomes, return codes, residency, load ends and free
    memory after every step.
    =========================================================================
*/
#include "test_eval_util.h"
#include "wp_eval_sim.h"
#include "wp_simworld.h"

#define MODELS 12               //  catalog size
#define STEPS 20000             //  operations per run

//  The outcome the world gave the latest request.
static wp_eval_outcome_t s_outcome;

//  No state.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    return &s_outcome;
}

//  Nothing to free.
static void
s_destroy (void **self_p)
{
    *self_p = NULL;
}

//  Record the outcome.
static int
s_on_request (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *request,
              wp_eval_outcome_t outcome)
{
    s_outcome = outcome;
    return 0;
}

//  No timers.
static int
s_on_timer (void *state, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    return 0;
}

//  A policy that only watches (make_room NULL: the world evicts LRU).
static const wp_eval_policy_t s_policy = {
    .family = "watch",
    .create = s_create,
    .destroy = s_destroy,
    .on_request = s_on_request,
    .on_timer = s_on_timer,
};

//  A deterministic random number (xorshift).
static uint64_t
s_random (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

//  Serve a request on the mirror as the scheduler does (s_window_serve,
//  without the room its core makes first): the outcome.
static wp_eval_outcome_t
s_mirror_request (wp_simworld_t *world, const char *model, uint64_t t)
{
    wp_eval_outcome_t outcome;
    uint64_t load_end;
    if (wp_simworld_resident (world, model, &load_end))
        outcome = t < load_end ? WP_EVAL_DELAYED : WP_EVAL_WARM;
    else {
        outcome = wp_simworld_admit (world, model, t) ? WP_EVAL_COLD : WP_EVAL_UNCACHEABLE;
    }
    wp_simworld_touch (world, model, t);
    return outcome;
}

//  Pre-warm on the mirror as the scheduler does: 0, 1 resident, -1 no room.
static int
s_mirror_prewarm (wp_simworld_t *world, const char *model, uint64_t t)
{
    if (wp_simworld_resident (world, model, NULL))
        return 1;
    if (wp_simworld_free_mb (world) < wp_simworld_memory_mb (world, model))
        return -1;
    wp_simworld_load (world, model, t, true);
    return 0;
}

//  Both worlds agree on every model and on the free memory.
static void
s_assert_same (wp_eval_sim_t *sim, wp_simworld_t *world, wp_eval_catalog_t *catalog,
               int step)
{
    for (uint32_t m = 0; m < MODELS; m++) {
        const char *name = wp_eval_catalog_name (catalog, m);
        uint64_t load_end = 0;
        bool resident = wp_simworld_resident (world, name, &load_end);
        if (resident != wp_eval_sim_is_resident (sim, m)
            || (resident && (int64_t) load_end != wp_eval_sim_load_end (sim, m)))
            fail_msg ("step %d: %s resident %d (ends %llu) in the mirror, %d (ends %lld) "
                      "in the world", step, name, resident, (unsigned long long) load_end,
                      wp_eval_sim_is_resident (sim, m),
                      (long long) wp_eval_sim_load_end (sim, m));
    }
    assert_true (wp_simworld_free_mb (world) == wp_eval_sim_free_mb (sim));
}

//  One run of random steps at a budget.
static void
s_run (int64_t budget_mb, uint64_t seed)
{
    wp_eval_catalog_t *catalog = wp_eval_catalog_new ();
    assert_non_null (catalog);
    wp_simworld_t *world = wp_simworld_new ((uint64_t) budget_mb, 512, 1000);
    uint64_t rng = seed;
    char name [32];
    for (uint32_t m = 0; m < MODELS; m++) {
        snprintf (name, sizeof name, "m%u", m);
        uint32_t memory = 10240 + (uint32_t) (s_random (&rng) % 9) * 10240;
        uint32_t load = 500 + (uint32_t) (s_random (&rng) % 16) * 500;
        assert_int_equal (wp_eval_catalog_add (catalog, name, memory, load), (int64_t) m);
        wp_simworld_model (world, name, memory, load);
    }
    char error [WP_EVAL_ERRLEN];
    wp_eval_sim_t *sim = wp_eval_sim_new (catalog, budget_mb, &s_policy, 0, NULL, false,
                                          error);
    assert_non_null (sim);
    int64_t t = 0;
    int counts [4] = { 0 };
    for (int step = 0; step < STEPS; step++) {
        uint64_t dice = s_random (&rng);
        uint32_t model = (uint32_t) ((dice >> 8) % MODELS);
        const char *label = wp_eval_catalog_name (catalog, model);
        int op = (int) (dice % 10);
        if (op < 6) {
            //  Often at the same ms, often within a load.
            t += (int64_t) ((dice >> 20) % 4) * (int64_t) ((dice >> 24) % 1500);
            wp_eval_request_t request = { t, 0, model, 0 };
            assert_int_equal (wp_eval_sim_request (sim, &request), 0);
            wp_eval_outcome_t outcome = s_mirror_request (world, label, (uint64_t) t);
            if (outcome != s_outcome)
                fail_msg ("step %d: request for %s at %lld: mirror %d, world %d", step,
                          label, (long long) t, (int) outcome, (int) s_outcome);
            counts [outcome]++;
        }
        else
        if (op < 8)
            assert_int_equal (s_mirror_prewarm (world, label, (uint64_t) t),
                              wp_eval_sim_prewarm (sim, model));
        else
        if (op < 9)
            assert_int_equal (wp_simworld_unload (world, label, (uint64_t) t),
                              wp_eval_sim_unload (sim, model));
        else {
            int64_t need = (int64_t) ((dice >> 32) % 6) * 20480;
            assert_int_equal (wp_simworld_evict_lru (world, need, (uint64_t) t),
                              wp_eval_sim_evict_lru (sim, need));
        }
        s_assert_same (sim, world, catalog, step);
    }
    //  The run went through every kind of outcome (uncacheable only when
    //  the loading models can fill the budget).
    assert_true (counts [WP_EVAL_WARM] > 100 && counts [WP_EVAL_DELAYED] > 100
                 && counts [WP_EVAL_COLD] > 100);
    if (budget_mb)
        assert_true (counts [WP_EVAL_UNCACHEABLE] > 0);
    wp_eval_sim_destroy (&sim);
    wp_simworld_destroy (&world);
    wp_eval_catalog_destroy (&catalog);
}

//  Unbounded: no evictions, the rules of loads and unloads.
static void
test_unbounded (void **state)
{
    s_run (0, 88172645463325252ULL);
}

//  Under budgets that force least-recently-used evictions and refusals.
static void
test_budgets (void **state)
{
    s_run (204800, 1234567ULL);
    s_run (307200, 987654321ULL);
    s_run (153600, 42ULL);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_unbounded),
        cmocka_unit_test (test_budgets),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
