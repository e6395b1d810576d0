/*  =========================================================================
    test_scheduler - the warmup scheduler core: threshold, demand of many
    users, budgets (count and memory, greedy by benefit = demand x load
    time, ties by name), hysteresis, TTL, failed and external warmups and
    cools, background and admission switches.
    =========================================================================
*/

#include "testutil.h"
#include "wp_scheduler.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1700000000000ULL     //  an event time, ms

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

//  The options most tests use: the service defaults, background on.
static wp_scheduler_opts_t
s_opts (void)
{
    wp_scheduler_opts_t opts = {
        .max_warm_models = 5,
        .max_memory_mb = 0,
        .threshold = 0.7,
        .hysteresis = 0.1,
        .ttl_s = 300,
        .background = true,
        .default_memory_mb = 512,
        .default_load_ms = 1000,
    };
    return opts;
}

//  One user's prediction for one model.
static void
s_predict (wp_scheduler_t *self, uint64_t user, const char *model, double p,
           uint64_t expected_in_ms, uint64_t now)
{
    wp_prediction_t prediction = { .model = model, .probability = p,
                                   .expected_in_ms = expected_in_ms, .confidence = 0.5 };
    wp_scheduler_predictions (self, user, &prediction, 1, now);
}

//  Assert that each model decided lists the decision as its last, with
//  the decision's reason: the scheduler keeps a code and numbers, and
//  writes the text out again when listed.
static void
s_assert_listed (wp_scheduler_t *self, uint64_t now, const wp_decision_t *out, size_t n)
{
    size_t total = wp_scheduler_list (self, now, NULL, 0);
    wp_scheduler_info_t *infos = calloc (total + 1, sizeof *infos);
    assert_non_null (infos);
    assert_int_equal (wp_scheduler_list (self, now, infos, total), total);
    for (size_t i = 0; i < n; i++) {
        bool last = true;               //  a model's last decision of the round
        for (size_t j = i + 1; j < n; j++)
            last = last && strcmp (out [j].model, out [i].model);
        size_t k = 0;
        while (k < total && strcmp (infos [k].model, out [i].model))
            k++;
        assert_true (k < total);
        if (last) {
            assert_string_equal (infos [k].last_reason, out [i].reason);
            assert_int_equal (infos [k].last_action, out [i].action);
            assert_true (infos [k].last_decision_ms == now);
        }
    }
    free (infos);
}

//  Decide; return how many decisions (each listed as its model's last).
static size_t
s_decide (wp_scheduler_t *self, uint64_t now, wp_decision_t *out)
{
    size_t n = wp_scheduler_decide (self, now, out, 16);
    s_assert_listed (self, now, out, n);
    return n;
}

//  The listed reason of a model.
static void
s_assert_reason (wp_scheduler_t *self, uint64_t now, const char *model, const char *reason)
{
    wp_scheduler_info_t infos [8];
    size_t n = wp_scheduler_list (self, now, infos, 8);
    for (size_t i = 0; i < n && i < 8; i++)
        if (strcmp (infos [i].model, model) == 0) {
            assert_string_equal (infos [i].last_reason, reason);
            return;
        }
    fail_msg ("%s is not listed", model);
}

//  Assert a decision's model and action.
static void
s_assert_decision (const wp_decision_t *d, const char *model, wp_action_t action)
{
    if (strcmp (d->model, model) || d->action != action)
        print_error ("decision is %s %s, want %s %s (%s)\n",
                     d->action == WP_ACTION_WARM ? "WARM" : "COOL", d->model,
                     action == WP_ACTION_WARM ? "WARM" : "COOL", model, d->reason);
    assert_string_equal (d->model, model);
    assert_int_equal (d->action, action);
}

//  Below the threshold nothing; reaching it gives one WARM with the
//  model's memory, benefit and deadline; then the model is warming.
static void
test_threshold_crossing (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_model (self, "coder", 1800, 2500);
    wp_decision_t out [16];

    s_predict (self, 1, "coder", 0.69, 60000, T0);
    assert_int_equal (s_decide (self, T0, out), 0);
    assert_int_equal (wp_scheduler_state (self, "coder"), WP_MODEL_COLD);
    assert_close (wp_scheduler_demand (self, "coder", T0), 0.69, 1e-12);

    //  The same user again: the new prediction replaces the old one.
    s_predict (self, 1, "coder", 0.71, 60000, T0 + 1000);
    assert_close (wp_scheduler_demand (self, "coder", T0 + 1000), 0.71, 1e-12);
    assert_int_equal (s_decide (self, T0 + 1000, out), 1);
    s_assert_decision (&out [0], "coder", WP_ACTION_WARM);
    assert_int_equal (out [0].memory_mb, 1800);
    assert_close (out [0].benefit_ms, 0.71 * 2500, 1e-9);
    assert_true (out [0].deadline_ms == T0 + 1000 + 60000);
    assert_int_equal (out [0].priority, 2);
    assert_non_null (strstr (out [0].reason, "0.71"));
    assert_int_equal (wp_scheduler_state (self, "coder"), WP_MODEL_WARMING);
    assert_int_equal (wp_scheduler_warm_count (self), 1);
    assert_int_equal (wp_scheduler_warm_memory_mb (self), 1800);

    //  Already warming: no second request; once done, warm, still nothing.
    assert_int_equal (s_decide (self, T0 + 2000, out), 0);
    wp_scheduler_done (self, "coder", WP_ACTION_WARM, true);
    assert_int_equal (wp_scheduler_state (self, "coder"), WP_MODEL_WARM);
    assert_int_equal (s_decide (self, T0 + 3000, out), 0);
    assert_int_equal (wp_scheduler_warm_count (self), 1);

    //  A model never described takes the default memory and load time.
    s_predict (self, 2, "other", 0.9, 60000, T0 + 4000);
    assert_int_equal (s_decide (self, T0 + 4000, out), 1);
    s_assert_decision (&out [0], "other", WP_ACTION_WARM);
    assert_int_equal (out [0].memory_mb, 512);
    assert_close (out [0].benefit_ms, 0.9 * 1000, 1e-9);
    assert_int_equal (wp_scheduler_warm_memory_mb (self), 1800 + 512);
    wp_scheduler_destroy (&self);
    assert_null (self);
    wp_scheduler_destroy (&self);
}

//  Demand exactly at the threshold is wanted (1 - (1 - 0.7) is 0.7 in
//  binary floating point too).
static void
test_threshold_is_inclusive (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_decision_t out [16];
    s_predict (self, 1, "m", 0.7, 60000, T0);
    assert_int_equal (s_decide (self, T0, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_WARM);
    wp_scheduler_destroy (&self);
}

//  A request soon (before the model could load) is high priority; the
//  deadline is the earliest expected request of all users.
static void
test_priority_and_deadline (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_model (self, "soon", 0, 1000);
    wp_scheduler_model (self, "later", 0, 1000);
    wp_decision_t out [16];
    s_predict (self, 1, "soon", 0.9, 500, T0);
    s_predict (self, 1, "later", 0.5, 30000, T0);
    s_predict (self, 2, "later", 0.5, 8000, T0 + 100);
    assert_int_equal (s_decide (self, T0 + 100, out), 2);
    //  Benefits: soon 0.9 x 1000 = 900 > later 0.75 x 1000 = 750.
    s_assert_decision (&out [0], "soon", WP_ACTION_WARM);
    assert_int_equal (out [0].priority, 3);
    assert_true (out [0].deadline_ms == T0 + 500);
    s_assert_decision (&out [1], "later", WP_ACTION_WARM);
    assert_int_equal (out [1].priority, 2);
    assert_true (out [1].deadline_ms == T0 + 100 + 8000);
    assert_close (out [1].benefit_ms, 0.75 * 1000, 1e-9);
    assert_non_null (strstr (out [1].reason, "2 user(s)"));
    wp_scheduler_destroy (&self);
}

//  Demand of several users is the chance that at least one asks.
static void
test_multi_user_demand (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_decision_t out [16];
    s_predict (self, 1, "m", 0.5, 60000, T0);
    s_predict (self, 2, "m", 0.3, 60000, T0);
    //  1 - 0.5 x 0.7 = 0.65: not yet.
    assert_close (wp_scheduler_demand (self, "m", T0), 0.65, 1e-12);
    assert_int_equal (s_decide (self, T0, out), 0);
    s_predict (self, 3, "m", 0.2, 60000, T0);
    //  1 - 0.5 x 0.7 x 0.8 = 0.72
    assert_close (wp_scheduler_demand (self, "m", T0), 0.72, 1e-12);
    assert_int_equal (s_decide (self, T0, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_WARM);
    assert_non_null (strstr (out [0].reason, "3 user(s)"));

    //  One user predicting twice counts once: 0.5 then 0.6 is 0.6.
    s_predict (self, 9, "solo", 0.5, 60000, T0);
    s_predict (self, 9, "solo", 0.6, 60000, T0);
    assert_close (wp_scheduler_demand (self, "solo", T0), 0.6, 1e-12);
    //  Several models in one call.
    wp_prediction_t batch [2] = { { .model = "x", .probability = 0.4, .expected_in_ms = 1000 },
                                  { .model = "y", .probability = 0.8, .expected_in_ms = 1000 } };
    wp_scheduler_predictions (self, 7, batch, 2, T0);
    assert_close (wp_scheduler_demand (self, "x", T0), 0.4, 1e-12);
    assert_close (wp_scheduler_demand (self, "y", T0), 0.8, 1e-12);
    assert_close (wp_scheduler_demand (self, "unknown", T0), 0, 0);
    wp_scheduler_destroy (&self);
}

//  At most 16 users count per model: the 17th replaces the prediction
//  that expires first.
static void
test_users_per_model_bound (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    s_predict (self, 100, "m", 0.5, 60000, T0);        //  expires first
    for (uint64_t u = 1; u <= 15; u++)
        s_predict (self, u, "m", 0.1, 60000, T0 + u);
    assert_close (wp_scheduler_demand (self, "m", T0 + 16),
                  1 - 0.5 * pow (0.9, 15), 1e-12);
    s_predict (self, 16, "m", 0.1, 60000, T0 + 16);
    //  User 100 is gone: sixteen users of 0.1.
    assert_close (wp_scheduler_demand (self, "m", T0 + 16), 1 - pow (0.9, 16), 1e-12);
    wp_scheduler_destroy (&self);
}

//  Greedy by benefit within the memory budget, in benefit order.
//  A: 0.9 x 5000 = 4500, 1000 MiB   C: 0.8 x 3000 = 2400, 600 MiB
//  B: 0.95 x 1000 = 950, 1000 MiB   D: 0.99 x 100 = 99, 400 MiB
//  Budget 2000 MiB: A (1000), C (1600), B does not fit (2600), D fits
//  exactly (2000).
static void
test_memory_budget_greedy (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    opts.max_memory_mb = 2000;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_model (self, "A", 1000, 5000);
    wp_scheduler_model (self, "B", 1000, 1000);
    wp_scheduler_model (self, "C", 600, 3000);
    wp_scheduler_model (self, "D", 400, 100);
    s_predict (self, 1, "B", 0.95, 60000, T0);
    s_predict (self, 1, "D", 0.99, 60000, T0);
    s_predict (self, 1, "A", 0.9, 60000, T0);
    s_predict (self, 1, "C", 0.8, 60000, T0);
    wp_decision_t out [16];
    assert_int_equal (s_decide (self, T0, out), 3);
    s_assert_decision (&out [0], "A", WP_ACTION_WARM);
    s_assert_decision (&out [1], "C", WP_ACTION_WARM);
    s_assert_decision (&out [2], "D", WP_ACTION_WARM);
    assert_close (out [0].benefit_ms, 4500, 1e-9);
    assert_close (out [1].benefit_ms, 2400, 1e-9);
    assert_close (out [2].benefit_ms, 99, 1e-9);
    assert_int_equal (out [1].memory_mb, 600);
    assert_int_equal (wp_scheduler_warm_count (self), 3);
    assert_int_equal (wp_scheduler_warm_memory_mb (self), 2000);
    assert_int_equal (wp_scheduler_state (self, "B"), WP_MODEL_COLD);
    //  Nothing changes on the next round.
    assert_int_equal (s_decide (self, T0 + 1000, out), 0);
    wp_scheduler_destroy (&self);
}

//  The model-count budget, the same models, memory unbounded.
static void
test_model_count_budget (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    opts.max_warm_models = 2;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_model (self, "A", 1000, 5000);
    wp_scheduler_model (self, "B", 1000, 1000);
    wp_scheduler_model (self, "C", 600, 3000);
    wp_scheduler_model (self, "D", 400, 100);
    s_predict (self, 1, "D", 0.99, 60000, T0);
    s_predict (self, 1, "B", 0.95, 60000, T0);
    s_predict (self, 1, "C", 0.8, 60000, T0);
    s_predict (self, 1, "A", 0.9, 60000, T0);
    wp_decision_t out [16];
    assert_int_equal (s_decide (self, T0, out), 2);
    s_assert_decision (&out [0], "A", WP_ACTION_WARM);
    s_assert_decision (&out [1], "C", WP_ACTION_WARM);
    assert_int_equal (wp_scheduler_warm_count (self), 2);
    assert_int_equal (wp_scheduler_warm_memory_mb (self), 1600);
    wp_scheduler_destroy (&self);
}

//  Equal benefit: the name decides, whatever the order of arrival.
static void
test_tie_by_name (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    opts.max_warm_models = 1;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    s_predict (self, 1, "beta", 0.8, 60000, T0);
    s_predict (self, 1, "gamma", 0.8, 60000, T0);
    s_predict (self, 1, "alpha", 0.8, 60000, T0);
    wp_decision_t out [16];
    assert_int_equal (s_decide (self, T0, out), 1);
    s_assert_decision (&out [0], "alpha", WP_ACTION_WARM);
    wp_scheduler_destroy (&self);
}

//  A better model displaces a warm one: the cool comes first.
static void
test_displacement_cools_first (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    opts.max_warm_models = 1;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_model (self, "small", 100, 1000);
    wp_scheduler_model (self, "big", 100, 5000);
    wp_decision_t out [16];
    s_predict (self, 1, "small", 0.75, 60000, T0);
    assert_int_equal (s_decide (self, T0, out), 1);
    wp_scheduler_done (self, "small", WP_ACTION_WARM, true);
    //  big: 0.9 x 5000 = 4500 against small: 0.75 x 1000 = 750.
    s_predict (self, 2, "big", 0.9, 60000, T0 + 1000);
    assert_int_equal (s_decide (self, T0 + 1000, out), 2);
    s_assert_decision (&out [0], "small", WP_ACTION_COOL);
    assert_non_null (strstr (out [0].reason, "no room"));
    assert_int_equal (out [0].memory_mb, 100);
    s_assert_decision (&out [1], "big", WP_ACTION_WARM);
    assert_int_equal (wp_scheduler_state (self, "small"), WP_MODEL_COOLING);
    assert_int_equal (wp_scheduler_state (self, "big"), WP_MODEL_WARMING);
    //  A cooling model is not warmed again while it cools.
    assert_int_equal (s_decide (self, T0 + 2000, out), 0);
    wp_scheduler_done (self, "small", WP_ACTION_COOL, true);
    assert_int_equal (wp_scheduler_state (self, "small"), WP_MODEL_COLD);
    assert_int_equal (s_decide (self, T0 + 3000, out), 0);
    wp_scheduler_destroy (&self);
}

//  A warm model stays while demand >= threshold - hysteresis (0.6); a
//  cold one needs the full threshold.
static void
test_hysteresis (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_decision_t out [16];
    s_predict (self, 1, "m", 0.8, 60000, T0);
    assert_int_equal (s_decide (self, T0, out), 1);
    wp_scheduler_done (self, "m", WP_ACTION_WARM, true);
    s_predict (self, 1, "m", 0.65, 60000, T0 + 1000);
    assert_int_equal (s_decide (self, T0 + 1000, out), 0);
    s_predict (self, 1, "m", 0.61, 60000, T0 + 2000);
    assert_int_equal (s_decide (self, T0 + 2000, out), 0);
    assert_int_equal (wp_scheduler_state (self, "m"), WP_MODEL_WARM);
    s_predict (self, 1, "m", 0.59, 60000, T0 + 3000);
    assert_int_equal (s_decide (self, T0 + 3000, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_COOL);
    assert_non_null (strstr (out [0].reason, "below"));
    wp_scheduler_done (self, "m", WP_ACTION_COOL, true);
    assert_int_equal (wp_scheduler_state (self, "m"), WP_MODEL_COLD);
    //  Cold again, 0.65 is not enough.
    s_predict (self, 1, "m", 0.65, 60000, T0 + 4000);
    assert_int_equal (s_decide (self, T0 + 4000, out), 0);
    //  A warming model is held the same way.
    s_predict (self, 1, "m", 0.75, 60000, T0 + 5000);
    assert_int_equal (s_decide (self, T0 + 5000, out), 1);
    assert_int_equal (wp_scheduler_state (self, "m"), WP_MODEL_WARMING);
    s_predict (self, 1, "m", 0.62, 60000, T0 + 6000);
    assert_int_equal (s_decide (self, T0 + 6000, out), 0);
    wp_scheduler_destroy (&self);
}

//  Regression (was a bug; wp_scheduler.c, wp_scheduler_new): the header says zero option
//  fields take the defaults noted, hysteresis (0.1); a zero hysteresis
//  stays 0, so a warm model at 0.65 is cooled at once.
static void
test_hysteresis_zero (void **state)
{
    //  The header documents hysteresis 0 as "none": a warm model whose
    //  demand falls below the threshold at all is cooled at once.
    wp_scheduler_opts_t opts = s_opts ();
    opts.hysteresis = 0;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_decision_t out [16];
    s_predict (self, 1, "m", 0.8, 60000, T0);
    assert_int_equal (s_decide (self, T0, out), 1);
    wp_scheduler_done (self, "m", WP_ACTION_WARM, true);
    s_predict (self, 1, "m", 0.65, 60000, T0 + 1000);
    assert_int_equal (s_decide (self, T0 + 1000, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_COOL);
    wp_scheduler_destroy (&self);
}

//  Predictions count for ttl_s: demand ends at the TTL and the model cools.
static void
test_ttl_expiry (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_decision_t out [16];
    s_predict (self, 1, "m", 0.9, 60000, T0);
    assert_int_equal (s_decide (self, T0, out), 1);
    wp_scheduler_done (self, "m", WP_ACTION_WARM, true);
    assert_close (wp_scheduler_demand (self, "m", T0 + 299999), 0.9, 1e-12);
    assert_int_equal (s_decide (self, T0 + 299999, out), 0);
    assert_close (wp_scheduler_demand (self, "m", T0 + 300000), 0, 0);
    assert_int_equal (s_decide (self, T0 + 300000, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_COOL);
    wp_scheduler_done (self, "m", WP_ACTION_COOL, true);
    assert_int_equal (wp_scheduler_warm_count (self), 0);
    assert_int_equal (s_decide (self, T0 + 400000, out), 0);

    //  Another TTL.
    wp_scheduler_destroy (&self);
    opts.ttl_s = 10;
    self = wp_scheduler_new (&opts);
    s_predict (self, 1, "m", 0.9, 60000, T0);
    assert_close (wp_scheduler_demand (self, "m", T0 + 9999), 0.9, 1e-12);
    assert_close (wp_scheduler_demand (self, "m", T0 + 10000), 0, 0);
    assert_int_equal (s_decide (self, T0 + 10000, out), 0);
    wp_scheduler_destroy (&self);
}

//  A failed warmup returns the model to cold, and it is asked for again;
//  a failed cool leaves it warm.
static void
test_failed_done (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_decision_t out [16];
    s_predict (self, 1, "m", 0.9, 60000, T0);
    assert_int_equal (s_decide (self, T0, out), 1);
    assert_int_equal (wp_scheduler_state (self, "m"), WP_MODEL_WARMING);
    wp_scheduler_done (self, "m", WP_ACTION_WARM, false);
    assert_int_equal (wp_scheduler_state (self, "m"), WP_MODEL_COLD);
    assert_int_equal (wp_scheduler_warm_count (self), 0);
    assert_int_equal (s_decide (self, T0 + 1000, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_WARM);
    wp_scheduler_done (self, "m", WP_ACTION_WARM, true);

    //  Demand gone: cool; the cool fails: warm again, and the next round
    //  asks to cool again.
    assert_int_equal (s_decide (self, T0 + 400000, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_COOL);
    wp_scheduler_done (self, "m", WP_ACTION_COOL, false);
    assert_int_equal (wp_scheduler_state (self, "m"), WP_MODEL_WARM);
    assert_int_equal (s_decide (self, T0 + 401000, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_COOL);

    //  A failed warmup of a model that was not warming changes nothing.
    wp_scheduler_done (self, "idle", WP_ACTION_WARM, false);
    assert_int_equal (wp_scheduler_state (self, "idle"), WP_MODEL_COLD);
    wp_scheduler_destroy (&self);
}

//  A model warmed by someone else is held: no cool, though nobody wants
//  it, until someone cools it.
static void
test_external_warm_is_held (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_model (self, "ext", 700, 1000);
    wp_decision_t out [16];
    wp_scheduler_done (self, "ext", WP_ACTION_WARM, true);
    assert_int_equal (wp_scheduler_state (self, "ext"), WP_MODEL_WARM);
    assert_int_equal (wp_scheduler_warm_count (self), 1);
    assert_int_equal (wp_scheduler_warm_memory_mb (self), 700);
    assert_int_equal (s_decide (self, T0, out), 0);
    assert_int_equal (s_decide (self, T0 + 86400000, out), 0);
    //  Other models still warm beside it.
    s_predict (self, 1, "m", 0.9, 60000, T0 + 86400000);
    assert_int_equal (s_decide (self, T0 + 86400000, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_WARM);
    //  Cooled by the operator: cold, and not warmed again.
    wp_scheduler_done (self, "ext", WP_ACTION_COOL, true);
    assert_int_equal (wp_scheduler_state (self, "ext"), WP_MODEL_COLD);
    assert_int_equal (s_decide (self, T0 + 86401000, out), 0);
    assert_int_equal (wp_scheduler_warm_count (self), 1);
    wp_scheduler_destroy (&self);
}

//  A model cooled by someone else is not warmed again on the predictions
//  made before the cool, only on new ones.
static void
test_external_cool_needs_new_prediction (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_decision_t out [16];
    s_predict (self, 1, "m", 0.9, 60000, T0);
    s_predict (self, 2, "m", 0.9, 60000, T0);
    assert_int_equal (s_decide (self, T0, out), 1);
    wp_scheduler_done (self, "m", WP_ACTION_WARM, true);
    //  The operator cools it (no COOL decision of ours).
    wp_scheduler_done (self, "m", WP_ACTION_COOL, true);
    assert_int_equal (wp_scheduler_state (self, "m"), WP_MODEL_COLD);
    assert_close (wp_scheduler_demand (self, "m", T0 + 1000), 0, 0);
    assert_int_equal (s_decide (self, T0 + 1000, out), 0);
    assert_int_equal (s_decide (self, T0 + 2000, out), 0);
    //  A new prediction: warmed again.
    s_predict (self, 1, "m", 0.9, 60000, T0 + 3000);
    assert_int_equal (s_decide (self, T0 + 3000, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_WARM);
    wp_scheduler_destroy (&self);
}

//  Background warmups off: no WARM, whatever the demand.
static void
test_background_off (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    opts.background = false;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_decision_t out [16];
    s_predict (self, 1, "m", 0.99, 60000, T0);
    s_predict (self, 2, "n", 0.95, 60000, T0);
    assert_int_equal (s_decide (self, T0, out), 0);
    assert_int_equal (wp_scheduler_state (self, "m"), WP_MODEL_COLD);
    assert_int_equal (wp_scheduler_warm_count (self), 0);
    assert_close (wp_scheduler_demand (self, "m", T0), 0.99, 1e-12);
    wp_scheduler_destroy (&self);
}

//  Regression (was a bug; wp_scheduler.c, wp_scheduler_decide): with background warmups
//  off, a model that will never be warmed still takes the budget, so a
//  model an operator warmed (which the scheduler must hold) is cooled.
//  max_warm_models 1; "ext" warmed externally; "hot" predicted at 0.9.
//  Expected: no decision at all. Actual: COOL ext.
static void
test_background_off_keeps_external (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    opts.max_warm_models = 1;
    opts.background = false;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_decision_t out [16];
    wp_scheduler_done (self, "ext", WP_ACTION_WARM, true);
    s_predict (self, 1, "hot", 0.9, 60000, T0);
    size_t n = s_decide (self, T0, out);
    if (n)
        print_error ("regression: wp_scheduler_decide: background off, decided %s %s (%s)\n",
                     out [0].action == WP_ACTION_COOL ? "COOL" : "WARM",
                     out [0].model, out [0].reason);
    wp_model_state_t ext = wp_scheduler_state (self, "ext");
    wp_scheduler_destroy (&self);
    assert_int_equal (n, 0);
    assert_int_equal (ext, WP_MODEL_WARM);
}

//  Not admitted: warms wait; admitted again: they go out.
static void
test_admission (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_decision_t out [16];
    wp_scheduler_admit (self, false);
    s_predict (self, 1, "m", 0.9, 60000, T0);
    assert_int_equal (s_decide (self, T0, out), 0);
    assert_int_equal (s_decide (self, T0 + 1000, out), 0);
    assert_int_equal (wp_scheduler_state (self, "m"), WP_MODEL_COLD);
    wp_scheduler_admit (self, true);
    assert_int_equal (s_decide (self, T0 + 2000, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_WARM);
    //  Not admitted again: warm models are not cooled for it.
    wp_scheduler_done (self, "m", WP_ACTION_WARM, true);
    wp_scheduler_admit (self, false);
    assert_int_equal (s_decide (self, T0 + 3000, out), 0);
    assert_int_equal (wp_scheduler_state (self, "m"), WP_MODEL_WARM);
    wp_scheduler_destroy (&self);
}

//  A full output: the rest waits for the next round, unmarked.
static void
test_capacity (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_model (self, "first", 0, 2000);
    wp_scheduler_model (self, "second", 0, 1000);
    s_predict (self, 1, "first", 0.9, 60000, T0);
    s_predict (self, 1, "second", 0.9, 60000, T0);
    wp_decision_t out [1];
    assert_int_equal (wp_scheduler_decide (self, T0, out, 1), 1);
    s_assert_decision (&out [0], "first", WP_ACTION_WARM);
    assert_int_equal (wp_scheduler_state (self, "second"), WP_MODEL_COLD);
    assert_int_equal (wp_scheduler_decide (self, T0, out, 1), 1);
    s_assert_decision (&out [0], "second", WP_ACTION_WARM);
    assert_int_equal (wp_scheduler_decide (self, T0, out, 0), 0);
    wp_scheduler_destroy (&self);
}

//  Describing a model with a zero keeps the old value of that field.
static void
test_describe_model (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_model (self, "m", 100, 200);
    wp_scheduler_model (self, "m", 0, 300);
    wp_scheduler_model (self, "m", 0, 0);
    s_predict (self, 1, "m", 0.8, 60000, T0);
    wp_decision_t out [16];
    assert_int_equal (s_decide (self, T0, out), 1);
    assert_int_equal (out [0].memory_mb, 100);
    assert_close (out [0].benefit_ms, 0.8 * 300, 1e-9);
    //  A new estimate changes the memory counted for the warm model.
    wp_scheduler_model (self, "m", 150, 0);
    assert_int_equal (wp_scheduler_warm_memory_mb (self), 150);
    wp_scheduler_destroy (&self);
}

//  Zero options take the defaults: 5 models, threshold 0.7, TTL 300 s.
static void
test_option_defaults (void **state)
{
    wp_scheduler_opts_t opts = { .background = true };
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_decision_t out [16];
    char names [7][8];
    for (int i = 0; i < 7; i++) {
        snprintf (names [i], sizeof names [i], "m%d", i);
        s_predict (self, 1, names [i], 0.69, 60000, T0);
    }
    assert_int_equal (s_decide (self, T0, out), 0);
    for (int i = 0; i < 7; i++)
        s_predict (self, 1, names [i], 0.7, 60000, T0);
    assert_int_equal (s_decide (self, T0, out), 5);
    assert_close (wp_scheduler_demand (self, "m0", T0 + 299999), 0.7, 1e-12);
    assert_close (wp_scheduler_demand (self, "m0", T0 + 300000), 0, 0);
    wp_scheduler_destroy (&self);
}

//  A plan: keep until a time, then a window. WARM now (kept), COOL just
//  after keep_until, the next wake-up is then the window's start, WARM
//  at it, COOL just after its end; nothing in between.
static void
test_plan_keep_and_window (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_model (self, "m", 1000, 2000);
    wp_prediction_t p = { .model = "m", .probability = 0.2, .expected_in_ms = 600000,
                          .keep_until_ms = T0 + 10000, .prewarm_at_ms = T0 + 500000,
                          .hold_until_ms = T0 + 700000, .benefit_ms = 2000,
                          .last_ms = T0 };
    wp_scheduler_predictions (self, 1, &p, 1, T0);
    wp_decision_t out [16];
    assert_int_equal (s_decide (self, T0, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_WARM);
    assert_non_null (strstr (out [0].reason, "plan"));
    wp_scheduler_done (self, "m", WP_ACTION_WARM, true);
    //  A done is looked at in the next round; then the plan's boundary.
    assert_true (wp_scheduler_next_ms (self) == 0);
    assert_int_equal (s_decide (self, T0, out), 0);
    assert_true (wp_scheduler_next_ms (self) == T0 + 10001);
    assert_int_equal (s_decide (self, T0 + 10000, out), 0);
    assert_int_equal (s_decide (self, T0 + 10001, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_COOL);
    assert_non_null (strstr (out [0].reason, "plan ended"));
    wp_scheduler_done (self, "m", WP_ACTION_COOL, true);
    assert_int_equal (s_decide (self, T0 + 10001, out), 0);
    assert_true (wp_scheduler_next_ms (self) == T0 + 500000);
    assert_int_equal (s_decide (self, T0 + 499999, out), 0);
    assert_int_equal (s_decide (self, T0 + 500000, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_WARM);
    wp_scheduler_done (self, "m", WP_ACTION_WARM, true);
    assert_int_equal (s_decide (self, T0 + 500000, out), 0);
    assert_true (wp_scheduler_next_ms (self) == T0 + 700001);
    assert_int_equal (s_decide (self, T0 + 700001, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_COOL);
    wp_scheduler_done (self, "m", WP_ACTION_COOL, true);
    assert_int_equal (s_decide (self, T0 + 700001, out), 0);
    assert_true (wp_scheduler_next_ms (self) == UINT64_MAX);
    wp_scheduler_destroy (&self);
}

//  Time hysteresis: a keep that ends 3 s before the window starts does
//  not cool the model with hysteresis_ms 5000; it does with 1000.
static void
test_plan_time_hysteresis (void **state)
{
    for (int round = 0; round < 2; round++) {
        wp_scheduler_opts_t opts = s_opts ();
        opts.hysteresis_ms = round == 0 ? 5000 : 1000;
        wp_scheduler_t *self = wp_scheduler_new (&opts);
        wp_prediction_t p = { .model = "m", .probability = 0.5, .expected_in_ms = 20000,
                              .keep_until_ms = T0 + 10000, .prewarm_at_ms = T0 + 13001,
                              .hold_until_ms = T0 + 30000, .last_ms = T0 };
        wp_scheduler_predictions (self, 1, &p, 1, T0);
        wp_decision_t out [16];
        assert_int_equal (s_decide (self, T0, out), 1);
        wp_scheduler_done (self, "m", WP_ACTION_WARM, true);
        assert_int_equal (s_decide (self, T0 + 10001, out), round == 0 ? 0 : 1);
        wp_scheduler_destroy (&self);
    }
}

//  A plan-less prediction for a model with a plan keeps the plan and
//  updates the probability; a new plan replaces the old one.
static void
test_plan_kept_by_plain_prediction (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_prediction_t p = { .model = "m", .probability = 0.1, .expected_in_ms = 20000,
                          .keep_until_ms = T0 + 60000, .last_ms = T0 };
    wp_scheduler_predictions (self, 1, &p, 1, T0);
    wp_decision_t out [16];
    assert_int_equal (s_decide (self, T0, out), 1);
    wp_scheduler_done (self, "m", WP_ACTION_WARM, true);
    s_predict (self, 1, "m", 0.3, 10000, T0 + 1000);
    assert_int_equal (s_decide (self, T0 + 1000, out), 0);
    assert_int_equal (s_decide (self, T0 + 59000, out), 0);     //  plan still there
    assert_true (wp_scheduler_next_ms (self) == T0 + 60001);
    p.keep_until_ms = T0 + 65000;
    wp_scheduler_predictions (self, 1, &p, 1, T0 + 62000);
    assert_int_equal (s_decide (self, T0 + 62000, out), 0);
    assert_int_equal (s_decide (self, T0 + 65001, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_COOL);
    wp_scheduler_destroy (&self);
}

//  Value: a model whose user is asked again sooner (idle-time quantiles
//  short, idle so far short) is worth more per MB; the victim is the
//  lowest; a model still loading (made resident by a request within its
//  load time) is never the victim.
static void
test_value_and_victim (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    opts.max_warm_models = UINT32_MAX;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_model (self, "busy", 1000, 2000);
    wp_scheduler_model (self, "idle", 1000, 2000);
    wp_prediction_t busy = { .model = "busy", .probability = 0.9, .keep_until_ms = T0 + 60000,
                             .last_ms = T0, .benefit_ms = 2000,
                             .gap_q = { 1000, 2000, 4000, 8000, 20000 } };
    wp_prediction_t idle = { .model = "idle", .probability = 0.9, .keep_until_ms = T0 + 60000,
                             .last_ms = T0, .benefit_ms = 2000,
                             .gap_q = { 600000, 1200000, 2400000, 3600000, 7200000 } };
    wp_scheduler_predictions (self, 1, &busy, 1, T0);
    wp_scheduler_predictions (self, 2, &idle, 1, T0);
    wp_scheduler_resident (self, "busy", true, T0);
    wp_scheduler_resident (self, "idle", true, T0);
    assert_int_equal (wp_scheduler_warm_count (self), 2);
    double vb = wp_scheduler_value (self, "busy", T0 + 5000);
    double vi = wp_scheduler_value (self, "idle", T0 + 5000);
    assert_true (vb > vi);
    assert_close (vb, 1.0 * 2000 / 1000, 1e-9);     //  certain within 300 s
    assert_true (vi < 0.5);
    //  Within their load time neither can be the victim.
    assert_null (wp_scheduler_victim (self, T0 + 1999, NULL, NULL, NULL));
    assert_string_equal (wp_scheduler_victim (self, T0 + 5000, NULL, NULL, NULL), "idle");
    assert_string_equal (wp_scheduler_victim (self, T0 + 5000, "idle", NULL, NULL), "busy");
    wp_scheduler_destroy (&self);
}

//  Under pressure the value looks ahead as far as held models last idle
//  (the victims' idle time), not the whole horizon: a busy model with a
//  rare long pause is worth less than a steady one certain to be asked
//  within 300 s, until models are cooled for room after 5 s of idle;
//  then the busy one (likely asked in the next seconds) is worth more.
static void
test_value_under_pressure (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    opts.max_warm_models = UINT32_MAX;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    const char *names [3] = { "busy", "steady", "gone" };
    const float quantiles [3][WP_PREDICTION_QUANTILES] = {
        { 1000, 2000, 4000, 8000, 400000 },
        { 100000, 150000, 200000, 240000, 280000 },
        { 600000, 1200000, 2400000, 3600000, 7200000 } };
    for (int i = 0; i < 3; i++) {
        wp_scheduler_model (self, names [i], 1000, 2000);
        wp_prediction_t p = { .model = names [i], .probability = 0.9,
                              .keep_until_ms = T0 + 60000, .last_ms = T0,
                              .benefit_ms = 2000 };
        memcpy (p.gap_q, quantiles [i], sizeof p.gap_q);
        wp_scheduler_predictions (self, (uint64_t) i + 1, &p, 1, T0);
        wp_scheduler_resident (self, names [i], true, T0);
    }
    uint64_t now = T0 + 5000;
    assert_true (wp_scheduler_value (self, "busy", now)
                 < wp_scheduler_value (self, "steady", now));
    //  The first victim, idle 5 s, sets how far values look.
    assert_string_equal (wp_scheduler_victim (self, now, NULL, NULL, NULL), "gone");
    wp_scheduler_done (self, "gone", WP_ACTION_COOL, true);
    assert_true (wp_scheduler_value (self, "busy", now)
                 > wp_scheduler_value (self, "steady", now));
    assert_string_equal (wp_scheduler_victim (self, now, NULL, NULL, NULL), "steady");
    wp_scheduler_destroy (&self);
}

//  Fill: over 0.5 of a 2000 MiB budget, the lowest values are cooled;
//  with no_prewarm_under_budget a window does not load a cold model.
static void
test_fill_and_no_prewarm (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    opts.max_warm_models = UINT32_MAX;
    opts.max_memory_mb = 2000;
    opts.fill = 0.5;
    opts.no_prewarm_under_budget = true;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    const char *names [3] = { "a", "b", "c" };
    double chance [3] = { 0.9, 0.75, 0.8 };
    for (int i = 0; i < 3; i++) {
        wp_scheduler_model (self, names [i], 400, 1000);
        s_predict (self, 1, names [i], chance [i], 60000, T0);
        wp_scheduler_resident (self, names [i], true, T0);
    }
    wp_decision_t out [16];
    //  1200 MiB held, line 1000: the lowest value (b) goes.
    assert_int_equal (s_decide (self, T0 + 5000, out), 1);
    s_assert_decision (&out [0], "b", WP_ACTION_COOL);
    assert_non_null (strstr (out [0].reason, "over"));
    wp_scheduler_done (self, "b", WP_ACTION_COOL, true);
    assert_int_equal (wp_scheduler_warm_memory_mb (self), 800);
    //  A window for a cold model: not loaded ahead under the budget.
    wp_scheduler_model (self, "w", 100, 1000);
    wp_prediction_t p = { .model = "w", .probability = 0.5, .prewarm_at_ms = T0 + 6000,
                          .hold_until_ms = T0 + 9000, .last_ms = T0 };
    wp_scheduler_predictions (self, 2, &p, 1, T0 + 5000);
    assert_int_equal (s_decide (self, T0 + 6000, out), 0);
    assert_int_equal (wp_scheduler_state (self, "w"), WP_MODEL_COLD);
    wp_scheduler_destroy (&self);
}

//  A failed warm is tried again a tick later, not at once.
static void
test_failed_warm_retries_later (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_decision_t out [16];
    s_predict (self, 1, "m", 0.9, 60000, T0);
    assert_int_equal (s_decide (self, T0, out), 1);
    wp_scheduler_done (self, "m", WP_ACTION_WARM, false);
    assert_true (wp_scheduler_next_ms (self) == T0 + 1000);
    assert_int_equal (s_decide (self, T0, out), 0);
    assert_int_equal (s_decide (self, T0 + 1000, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_WARM);
    assert_true (wp_scheduler_state_bytes (self) > 0);
    wp_scheduler_destroy (&self);
}


//  A pin warms with no demand and the background switch off, reserves its
//  memory while cold, is never a victim, and an operator's pin that would
//  not fit is refused.
static void
test_pin_reserves_and_stays (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    opts.max_memory_mb = 1000;
    opts.background = false;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_settings_t pin = { .memory_mb = 300, .load_ms = 100, .pin = true };
    wp_scheduler_configure (self, "embed", &pin);
    wp_scheduler_settings_t big = { .memory_mb = 600, .load_ms = 100 };
    wp_scheduler_configure (self, "big-a", &big);
    wp_scheduler_configure (self, "big-b", &big);
    wp_decision_t out [16];
    assert_int_equal (s_decide (self, T0, out), 1);
    s_assert_decision (&out [0], "embed", WP_ACTION_WARM);
    assert_int_equal (out [0].priority, 3);
    assert_string_equal (out [0].reason, "pinned (config)");
    //  The warm fails: embed's 300 MiB stay reserved, big-b cannot take them.
    wp_scheduler_done (self, "embed", WP_ACTION_WARM, false);
    wp_scheduler_limits (self, 5, 1000, true);
    s_predict (self, 1, "big-a", 0.9, 1000, T0 + 10);
    s_predict (self, 2, "big-b", 0.9, 1000, T0 + 10);
    size_t n = s_decide (self, T0 + 10, out);
    size_t warms = 0;
    for (size_t i = 0; i < n; i++)
        warms += out [i].action == WP_ACTION_WARM && strcmp (out [i].model, "embed");
    assert_int_equal (warms, 1);            //  600 + reserved 300 of 1000
    //  After the backoff the pin warms again, and no demand cools it.
    n = s_decide (self, T0 + 2000, out);
    assert_int_equal (n, 1);
    s_assert_decision (&out [0], "embed", WP_ACTION_WARM);
    wp_scheduler_done (self, "embed", WP_ACTION_WARM, true);
    assert_true (wp_scheduler_victim (self, T0 + 3000, NULL, NULL, NULL) == NULL
                 || strcmp (wp_scheduler_victim (self, T0 + 3000, NULL, NULL, NULL), "embed"));
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_decide (self, T0 + 400000 + i * 1000, out) > 0
                          && !strcmp (out [0].model, "embed"), 0);
    assert_int_equal (wp_scheduler_state (self, "embed"), WP_MODEL_WARM);
    char error [300];
    assert_int_equal (wp_scheduler_pin (self, "big-a", true, error, sizeof error), 0);
    assert_int_equal (wp_scheduler_pin (self, "big-b", true, error, sizeof error), -1);
    assert_non_null (strstr (error, "cannot pin big-b"));
    assert_false (wp_scheduler_pinned (self, "big-b"));
    //  A reload that leaves the pin key as it was keeps the operator's
    //  word; one that changes it replaces it.
    wp_scheduler_settings_t unpinned = { .memory_mb = 600 };
    wp_scheduler_configure (self, "big-a", &unpinned);
    assert_true (wp_scheduler_pinned (self, "big-a"));
    assert_int_equal (wp_scheduler_pin (self, "big-a", false, error, sizeof error), 0);
    wp_scheduler_settings_t pinned = { .memory_mb = 600, .pin = true };
    wp_scheduler_configure (self, "big-a", &pinned);
    assert_true (wp_scheduler_pinned (self, "big-a"));
    wp_scheduler_info_t infos [4];
    wp_scheduler_list (self, T0 + 500000, infos, 4);
    assert_string_equal (infos [1].model, "big-a");
    assert_string_equal (infos [1].pin_source, "config");
    wp_scheduler_destroy (&self);
}

//  A preload warms at once, holds min_keep for a first use, then cools.
static void
test_preload_holds_then_cools (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_settings_t chat = { .memory_mb = 800, .preload = true,
                                     .min_keep_ms = 5000 };
    wp_scheduler_configure (self, "chat", &chat);
    wp_decision_t out [16];
    assert_int_equal (s_decide (self, T0, out), 1);
    s_assert_decision (&out [0], "chat", WP_ACTION_WARM);
    wp_scheduler_done (self, "chat", WP_ACTION_WARM, true);
    assert_int_equal (s_decide (self, T0 + 4000, out), 0);
    assert_int_equal (s_decide (self, T0 + 5001, out), 1);
    s_assert_decision (&out [0], "chat", WP_ACTION_COOL);
    assert_non_null (strstr (out [0].reason, "preloaded, no use"));
    wp_scheduler_destroy (&self);
}

//  A group's model comes with the one warmed, and goes with it.
static void
test_group_together (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_settings_t chat = { .memory_mb = 800, .group = "g" };
    wp_scheduler_settings_t embed = { .memory_mb = 100, .group = "g",
                                      .priority = 1 };
    wp_scheduler_configure (self, "chat", &chat);
    wp_scheduler_configure (self, "embed", &embed);
    s_predict (self, 1, "chat", 0.9, 1000, T0);
    wp_decision_t out [16];
    assert_int_equal (s_decide (self, T0, out), 2);
    s_assert_decision (&out [0], "chat", WP_ACTION_WARM);
    s_assert_decision (&out [1], "embed", WP_ACTION_WARM);
    assert_int_equal (out [1].priority, 1);     //  low priority
    assert_non_null (strstr (out [1].reason, "group g"));
    wp_scheduler_done (self, "chat", WP_ACTION_WARM, true);
    wp_scheduler_done (self, "embed", WP_ACTION_WARM, true);
    //  chat's demand expires: both are cooled (embed a round later).
    size_t cools = 0;
    for (uint64_t t = T0 + 301000; t < T0 + 304000; t += 1000) {
        size_t n = s_decide (self, t, out);
        for (size_t i = 0; i < n; i++)
            cools += out [i].action == WP_ACTION_COOL;
    }
    assert_int_equal (cools, 2);
    wp_scheduler_info_t infos [4];
    assert_int_equal (wp_scheduler_list (self, T0 + 304000, infos, 4), 2);
    assert_string_equal (infos [1].group, "g");
    assert_int_equal (infos [1].last_action, WP_ACTION_COOL);
    wp_scheduler_destroy (&self);
}

//  Plan times are kept to the millisecond within 24.8 days of the user's
//  last request: a keep 30 days long counts as 24.8 days.
static void
test_plan_times_far (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    const uint64_t day = 86400000ULL, limit = 2147483647ULL;
    wp_prediction_t p = { .model = "m", .probability = 0.5, .last_ms = T0,
                          .keep_until_ms = T0 + 30 * day };
    wp_scheduler_predictions (self, 1, &p, 1, T0);
    wp_decision_t out [16];
    assert_int_equal (s_decide (self, T0, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_WARM);
    wp_scheduler_done (self, "m", WP_ACTION_WARM, true);
    assert_int_equal (s_decide (self, T0 + 1, out), 0);
    assert_true (wp_scheduler_next_ms (self) == T0 + limit + 1);
    assert_int_equal (s_decide (self, T0 + limit, out), 0);
    assert_int_equal (s_decide (self, T0 + limit + 1, out), 1);
    s_assert_decision (&out [0], "m", WP_ACTION_COOL);
    assert_string_equal (out [0].reason, "plan ended, 0 user(s)");
    wp_scheduler_done (self, "m", WP_ACTION_COOL, true);
    //  A plan within the bound is exact to the millisecond.
    p.keep_until_ms = T0 + limit + 5 * day;
    p.last_ms = T0 + 5 * day;
    wp_scheduler_predictions (self, 1, &p, 1, T0 + 5 * day);
    assert_int_equal (s_decide (self, T0 + 5 * day, out), 1);
    wp_scheduler_done (self, "m", WP_ACTION_WARM, true);
    assert_int_equal (s_decide (self, T0 + 5 * day + 1, out), 0);
    assert_true (wp_scheduler_next_ms (self) == T0 + limit + 5 * day + 1);
    wp_scheduler_destroy (&self);
}

//  With a names table shared with other cores, the scheduler decides the
//  same as with its own; it lists its models only, in the table's order;
//  the table is not in its bytes.
static void
test_shared_names (void **state)
{
    wp_names_t *names = wp_names_new ();
    assert_non_null (names);
    wp_names_add (names, "other");
    wp_names_add (names, "b");
    wp_scheduler_opts_t opts = s_opts ();
    opts.max_memory_mb = 1000;
    wp_scheduler_t *own = wp_scheduler_new (&opts);
    opts.names = names;
    wp_scheduler_t *shared = wp_scheduler_new (&opts);
    wp_scheduler_t *both [2] = { own, shared };
    wp_decision_t out [2][16];
    size_t n [2];
    for (int s = 0; s < 2; s++) {
        wp_scheduler_model (both [s], "a", 600, 1000);
        wp_scheduler_model (both [s], "b", 600, 3000);
        s_predict (both [s], 1, "a", 0.9, 60000, T0);
        assert_int_equal (s_decide (both [s], T0, out [s]), 1);
        wp_scheduler_done (both [s], "a", WP_ACTION_WARM, true);
        s_predict (both [s], 2, "b", 0.95, 60000, T0 + 1000);
        n [s] = s_decide (both [s], T0 + 1000, out [s]);
    }
    assert_int_equal (n [1], n [0]);
    assert_int_equal (n [0], 2);
    for (size_t i = 0; i < n [0]; i++) {
        assert_string_equal (out [1][i].model, out [0][i].model);
        assert_string_equal (out [1][i].reason, out [0][i].reason);
    }
    wp_scheduler_info_t infos [4];
    assert_int_equal (wp_scheduler_list (shared, T0 + 1000, infos, 4), 2);
    assert_string_equal (infos [0].model, "b");
    assert_string_equal (infos [1].model, "a");
    assert_int_equal (wp_scheduler_state (shared, "other"), WP_MODEL_COLD);
    assert_string_equal (wp_scheduler_victim (shared, T0 + 100000, NULL, NULL, NULL), "b");
    assert_true (wp_scheduler_state_bytes (shared) < wp_scheduler_state_bytes (own));
    wp_scheduler_destroy (&own);
    wp_scheduler_destroy (&shared);
    assert_int_equal (wp_names_size (names), 3);
    wp_names_destroy (&names);
}

//  A model's last reason reads as when it was decided, after the budgets
//  or the group it names changed; failures and operators' pins read too.
static void
test_reasons_kept (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    opts.max_warm_models = 1;
    opts.max_memory_mb = 1000;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_model (self, "a", 600, 1000);
    wp_scheduler_model (self, "b", 600, 4000);
    wp_decision_t out [16];
    s_predict (self, 1, "a", 0.9, 60000, T0);
    assert_int_equal (s_decide (self, T0, out), 1);
    assert_string_equal (out [0].reason, "demand 0.90 >= 0.70 from 1 user(s)");
    wp_scheduler_done (self, "a", WP_ACTION_WARM, true);
    //  b is worth more: a makes room for it.
    s_predict (self, 2, "b", 0.95, 60000, T0 + 1000);
    assert_int_equal (s_decide (self, T0 + 1000, out), 2);
    s_assert_decision (&out [0], "a", WP_ACTION_COOL);
    char room [WP_SCHEDULER_REASON_MAX];
    snprintf (room, sizeof room, "%s", out [0].reason);
    assert_non_null (strstr (room, "of b: no room (1 models, 1000 MiB budget)"));
    //  New budgets: a's reason still names those it was cooled under.
    wp_scheduler_limits (self, 3, 5000, true);
    s_assert_reason (self, T0 + 1000, "a", room);
    //  The same for a group a model leaves.
    wp_scheduler_settings_t in_g = { .group = "g" };
    wp_scheduler_configure (self, "c", &in_g);
    wp_scheduler_configure (self, "d", &in_g);
    s_predict (self, 3, "d", 0.9, 60000, T0 + 2000);
    assert_int_equal (s_decide (self, T0 + 2000, out), 2);
    s_assert_decision (&out [0], "d", WP_ACTION_WARM);
    s_assert_decision (&out [1], "c", WP_ACTION_WARM);
    assert_string_equal (out [1].reason, "group g: warmed with its models");
    wp_scheduler_settings_t in_h = { .group = "h" };
    wp_scheduler_configure (self, "c", &in_h);
    s_assert_reason (self, T0 + 2000, "c", "group g: warmed with its models");
    //  A failed warm, then operators.
    wp_scheduler_done (self, "c", WP_ACTION_WARM, false);
    s_assert_reason (self, T0 + 2000, "c", "warm failed 1 time(s) in a row; next try in 1 s");
    char error [200];
    assert_int_equal (wp_scheduler_pin (self, "c", true, error, sizeof error), 0);
    s_assert_reason (self, T0 + 2000, "c", "pinned by an operator");
    assert_int_equal (wp_scheduler_pin (self, "c", false, error, sizeof error), 0);
    s_assert_reason (self, T0 + 2000, "c", "unpinned by an operator");
    wp_scheduler_destroy (&self);
}

//  The listing of a model (a copy).
static wp_scheduler_info_t
s_info (wp_scheduler_t *self, uint64_t now, const char *model)
{
    wp_scheduler_info_t infos [16];
    size_t n = wp_scheduler_list (self, now, infos, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        if (strcmp (infos [i].model, model) == 0)
            return infos [i];
    fail_msg ("%s is not listed", model);
    return infos [0];
}

#define DEVICE_GPU 1u           //  as WP_DEVICE_GPU of wp_config.h
#define DEVICE_GPU_N(n) (2u + (n))

//  Models on GPUs count on the GPU budget, not the RAM budget; one that
//  does not fit displaces lower values that free GPU memory (never a
//  model in RAM), else it waits and says why.
static void
test_device_axes (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    opts.max_memory_mb = 1000;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_memory_t memory = { .max_vram_mb = 6000 };
    wp_scheduler_memory (self, &memory);
    wp_scheduler_settings_t gpu = { .memory_mb = 4000, .load_ms = 1000, .device = DEVICE_GPU };
    wp_scheduler_settings_t ram = { .memory_mb = 900, .load_ms = 200 };
    wp_scheduler_settings_t small = { .memory_mb = 3000, .load_ms = 4000, .device = DEVICE_GPU };
    wp_scheduler_configure (self, "chat", &gpu);
    wp_scheduler_configure (self, "coder", &small);
    wp_scheduler_configure (self, "embed", &ram);
    wp_decision_t out [16];
    //  chat (GPU) and embed (RAM) both fit: 4000 of 6000 on GPUs, 900 of
    //  1000 in RAM
    s_predict (self, 1, "chat", 0.8, 1000, T0);
    s_predict (self, 2, "embed", 0.75, 1000, T0);
    assert_int_equal (s_decide (self, T0, out), 2);
    assert_int_equal (out [0].device + out [1].device, DEVICE_GPU);
    for (int i = 0; i < 2; i++)
        assert_int_equal (out [i].vram_mb, out [i].device ? 4000 : 0);
    wp_scheduler_done (self, "chat", WP_ACTION_WARM, true);
    wp_scheduler_done (self, "embed", WP_ACTION_WARM, true);
    assert_int_equal (wp_scheduler_warm_memory_mb (self), 900);
    //  coder, worth much more (1.32 ms per MiB against 0.2), displaces
    //  chat (GPU memory), not embed (the lowest value, 0.167, but in RAM)
    s_predict (self, 3, "coder", 0.99, 1000, T0 + 10);
    size_t n = s_decide (self, T0 + 10, out);
    assert_int_equal (n, 2);
    s_assert_decision (&out [0], "chat", WP_ACTION_COOL);
    assert_non_null (strstr (out [0].reason, "no room"));
    s_assert_decision (&out [1], "coder", WP_ACTION_WARM);
    wp_scheduler_done (self, "chat", WP_ACTION_COOL, true);
    wp_scheduler_done (self, "coder", WP_ACTION_WARM, true);
    //  chat, worth less now, cannot displace coder: it waits, saying why
    s_predict (self, 1, "chat", 0.8, 1000, T0 + 20);
    assert_int_equal (s_decide (self, T0 + 20, out), 0);
    wp_scheduler_info_t info = s_info (self, T0 + 20, "chat");
    assert_string_equal (info.deferred, "no room in GPU budget: needs 4000 MiB, 3000 of 6000 "
                                        "MiB taken (max_vram_mb)");
    assert_int_equal (info.device, DEVICE_GPU);
    assert_int_equal (info.vram_mb, 4000);
    assert_string_equal (s_info (self, T0 + 20, "coder").deferred, "");
    //  A smaller GPU budget cools the lowest value on GPUs, not in RAM
    memory.max_vram_mb = 2000;
    wp_scheduler_memory (self, &memory);
    n = s_decide (self, T0 + 30, out);
    assert_int_equal (n, 1);
    s_assert_decision (&out [0], "coder", WP_ACTION_COOL);
    assert_string_equal (out [0].reason, "value 1.32, lowest held on GPUs over their budget "
                                         "(2000 MiB)");
    wp_scheduler_destroy (&self);
}

//  What the devices leave us bounds what is placed besides the budgets;
//  a budget measured (auto) is unknown until measured; a model bound to
//  a GPU counts on that GPU.
static void
test_measured_room (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    opts.max_memory_mb = 100000;
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_memory_t memory = { .vram_auto = true };
    wp_scheduler_memory (self, &memory);
    wp_scheduler_settings_t one = { .memory_mb = 3000, .load_ms = 1000,
                                    .device = DEVICE_GPU_N (1) };
    wp_scheduler_settings_t ram = { .memory_mb = 2000, .load_ms = 1000 };
    wp_scheduler_configure (self, "on-one", &one);
    wp_scheduler_configure (self, "in-ram", &ram);
    wp_decision_t out [16];
    s_predict (self, 1, "on-one", 0.9, 1000, T0);
    s_predict (self, 2, "in-ram", 0.9, 1000, T0);
    //  Nothing read yet: the GPU model waits; RAM goes (no RAM reading needed)
    assert_int_equal (s_decide (self, T0, out), 1);
    s_assert_decision (&out [0], "in-ram", WP_ACTION_WARM);
    assert_string_equal (s_info (self, T0, "on-one").deferred, "gpu:1 not read yet");
    //  GPU 0 read, not GPU 1: still waiting, for its GPU
    memory.gpus_measured = true;
    memory.gpu_read = 1;
    memory.gpu_capacity_mb [0] = memory.gpus_capacity_mb = memory.max_vram_mb = 8000;
    wp_scheduler_memory (self, &memory);
    assert_int_equal (s_decide (self, T0 + 10, out), 0);
    assert_string_equal (s_info (self, T0 + 10, "on-one").deferred, "gpu:1 not read yet");
    //  GPU 1 leaves 2500: too little
    memory.gpu_read = 3;
    memory.gpu_capacity_mb [1] = 2500;
    memory.gpus_capacity_mb = memory.max_vram_mb = 10500;
    wp_scheduler_memory (self, &memory);
    assert_int_equal (s_decide (self, T0 + 20, out), 0);
    assert_string_equal (s_info (self, T0 + 20, "on-one").deferred,
                         "no room on gpu:1 now: needs 3000 MiB, 0 of the 2500 MiB it leaves "
                         "us taken");
    //  ... then 3500: it goes
    memory.gpu_capacity_mb [1] = 3500;
    memory.gpus_capacity_mb = memory.max_vram_mb = 11500;
    wp_scheduler_memory (self, &memory);
    assert_int_equal (s_decide (self, T0 + 30, out), 1);
    s_assert_decision (&out [0], "on-one", WP_ACTION_WARM);
    assert_int_equal (out [0].device, DEVICE_GPU_N (1));
    //  RAM measured: what it leaves bounds RAM models under a large budget
    wp_scheduler_settings_t more = { .memory_mb = 1500, .load_ms = 1000 };
    wp_scheduler_configure (self, "more-ram", &more);
    memory.ram_measured = true;
    memory.ram_capacity_mb = 3000;
    wp_scheduler_memory (self, &memory);
    s_predict (self, 3, "more-ram", 0.9, 1000, T0 + 40);
    assert_int_equal (s_decide (self, T0 + 40, out), 0);
    assert_string_equal (s_info (self, T0 + 40, "more-ram").deferred,
                         "no room in RAM now: needs 1500 MiB, 2000 of the 3000 MiB it leaves "
                         "us taken");
    wp_scheduler_destroy (&self);
}

//  Plans use what a model was learned to take instead of its configured
//  memory; the listing shows both; forgetting it restores the guess.
static void
test_learned_size (void **state)
{
    wp_scheduler_opts_t opts = s_opts ();
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    wp_scheduler_memory_t memory = { .max_vram_mb = 2900 };
    wp_scheduler_memory (self, &memory);
    wp_scheduler_settings_t big = { .memory_mb = 3072, .load_ms = 1000, .device = DEVICE_GPU };
    wp_scheduler_configure (self, "big", &big);
    wp_decision_t out [16];
    s_predict (self, 1, "big", 0.9, 1000, T0);
    assert_int_equal (s_decide (self, T0, out), 0);
    wp_scheduler_info_t info = s_info (self, T0, "big");
    assert_int_equal (info.memory_mb, 3072);
    assert_int_equal (info.configured_mb, 3072);
    assert_int_equal (info.learned_mb, 0);
    assert_string_equal (info.learned_from, "");
    assert_non_null (strstr (info.deferred, "needs 3072 MiB"));
    //  The deferral is told once, as listed
    wp_scheduler_deferral_t told [4];
    assert_int_equal (wp_scheduler_deferrals (self, told, 4), 1);
    assert_string_equal (told [0].model, "big");
    assert_true (told [0].waits);
    assert_string_equal (told [0].reason, info.deferred);
    assert_int_equal (told [0].memory_mb, 3072);
    assert_int_equal (told [0].device, DEVICE_GPU);
    assert_int_equal (s_decide (self, T0 + 5, out), 0);
    assert_int_equal (wp_scheduler_deferrals (self, told, 4), 0);
    //  Its server says 2800, all on the GPU: it fits now
    wp_scheduler_learned (self, "big", 2800, 2800, "server");
    assert_int_equal (s_decide (self, T0 + 10, out), 1);
    assert_int_equal (wp_scheduler_deferrals (self, told, 4), 1);
    assert_false (told [0].waits);
    assert_string_equal (told [0].reason, "room now: warmed");
    s_assert_decision (&out [0], "big", WP_ACTION_WARM);
    assert_int_equal (out [0].memory_mb, 2800);
    assert_int_equal (out [0].vram_mb, 2800);
    info = s_info (self, T0 + 10, "big");
    assert_int_equal (info.memory_mb, 2800);
    assert_int_equal (info.configured_mb, 3072);
    assert_int_equal (info.learned_mb, 2800);
    assert_string_equal (info.learned_from, "server");
    //  A reload of its section keeps what was learned, remembering the guess
    big.memory_mb = 3500;
    wp_scheduler_configure (self, "big", &big);
    info = s_info (self, T0 + 10, "big");
    assert_int_equal (info.memory_mb, 2800);
    assert_int_equal (info.configured_mb, 3500);
    //  A split: 2000 on the GPU, 800 in RAM (held, while warming)
    wp_scheduler_learned (self, "big", 2800, 2000, "measured");
    assert_int_equal (wp_scheduler_warm_memory_mb (self), 800);
    assert_int_equal (s_info (self, T0 + 10, "big").vram_mb, 2000);
    //  Forgotten: the configured memory again, all on the GPU
    wp_scheduler_learned (self, "big", 0, 0, NULL);
    info = s_info (self, T0 + 10, "big");
    assert_int_equal (info.memory_mb, 3500);
    assert_int_equal (info.learned_mb, 0);
    assert_int_equal (wp_scheduler_warm_memory_mb (self), 0);
    wp_scheduler_destroy (&self);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_device_axes),
        cmocka_unit_test (test_measured_room),
        cmocka_unit_test (test_learned_size),
        cmocka_unit_test (test_threshold_crossing),
        cmocka_unit_test (test_threshold_is_inclusive),
        cmocka_unit_test (test_priority_and_deadline),
        cmocka_unit_test (test_multi_user_demand),
        cmocka_unit_test (test_users_per_model_bound),
        cmocka_unit_test (test_memory_budget_greedy),
        cmocka_unit_test (test_model_count_budget),
        cmocka_unit_test (test_tie_by_name),
        cmocka_unit_test (test_displacement_cools_first),
        cmocka_unit_test (test_hysteresis),
        cmocka_unit_test (test_hysteresis_zero),
        cmocka_unit_test (test_ttl_expiry),
        cmocka_unit_test (test_failed_done),
        cmocka_unit_test (test_external_warm_is_held),
        cmocka_unit_test (test_external_cool_needs_new_prediction),
        cmocka_unit_test (test_background_off),
        cmocka_unit_test (test_background_off_keeps_external),
        cmocka_unit_test (test_admission),
        cmocka_unit_test (test_capacity),
        cmocka_unit_test (test_describe_model),
        cmocka_unit_test (test_option_defaults),
        cmocka_unit_test (test_plan_keep_and_window),
        cmocka_unit_test (test_plan_time_hysteresis),
        cmocka_unit_test (test_plan_kept_by_plain_prediction),
        cmocka_unit_test (test_value_and_victim),
        cmocka_unit_test (test_value_under_pressure),
        cmocka_unit_test (test_fill_and_no_prewarm),
        cmocka_unit_test (test_failed_warm_retries_later),
        cmocka_unit_test (test_pin_reserves_and_stays),
        cmocka_unit_test (test_preload_holds_then_cools),
        cmocka_unit_test (test_group_together),
        cmocka_unit_test (test_plan_times_far),
        cmocka_unit_test (test_shared_names),
        cmocka_unit_test (test_reasons_kept),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
