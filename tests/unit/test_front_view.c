/*  =========================================================================
    test_front_view - the proxy's view of the service: model states from
    warmups, cools and served requests; each user's latest prediction,
    aged and expired; the bound on users; liveness from heartbeats.
    =========================================================================
*/
#include "testutil.h"
#include "wp_front_view.h"
#include <czmq.h>

//  A prediction.made for user with (model, probability) pairs.
static void
s_predict (wp_front_view_t *view, const char *user, uint64_t now, int count,
           const char *const models [], const double probabilities [])
{
    Warmup__V1__ModelPrediction items [16], *pointers [16];
    for (int i = 0; i < count; i++) {
        Warmup__V1__ModelPrediction init = WARMUP__V1__MODEL_PREDICTION__INIT;
        items [i] = init;
        items [i].model = (char *) models [i];
        items [i].probability = probabilities [i];
        items [i].confidence = 0.5;
        items [i].expected_in_ms = 60000;
        pointers [i] = &items [i];
    }
    Warmup__V1__PredictionMade made = WARMUP__V1__PREDICTION_MADE__INIT;
    made.user = (char *) user;
    made.n_models = (size_t) count;
    made.models = pointers;
    wp_front_view_prediction (view, &made, now);
}

static void
test_states (void **state)
{
    wp_front_view_t *view = wp_front_view_new (10);
    assert_int_equal (wp_front_view_state (view, "m"), WP_FRONT_COLD);
    wp_front_view_requested (view, "m", true);
    assert_int_equal (wp_front_view_state (view, "m"), WP_FRONT_LOADING);
    wp_front_view_done (view, "m", true, false);
    assert_int_equal (wp_front_view_state (view, "m"), WP_FRONT_COLD);
    wp_front_view_requested (view, "m", true);
    wp_front_view_done (view, "m", true, true);
    assert_int_equal (wp_front_view_state (view, "m"), WP_FRONT_WARM);
    //  A warm request of a warm model leaves it warm
    wp_front_view_requested (view, "m", true);
    assert_int_equal (wp_front_view_state (view, "m"), WP_FRONT_WARM);
    //  A failed cool: still warm; a cool request: cold
    wp_front_view_done (view, "m", false, false);
    assert_int_equal (wp_front_view_state (view, "m"), WP_FRONT_WARM);
    wp_front_view_requested (view, "m", false);
    assert_int_equal (wp_front_view_state (view, "m"), WP_FRONT_COLD);
    //  Served by the server: loaded there
    wp_front_view_served (view, "n");
    assert_int_equal (wp_front_view_state (view, "n"), WP_FRONT_WARM);
    wp_front_view_done (view, "n", false, true);
    assert_int_equal (wp_front_view_state (view, "n"), WP_FRONT_COLD);
    assert_string_equal (wp_front_state_name (WP_FRONT_LOADING), "loading");
    //  Tasks and load times
    assert_int_equal (wp_front_view_task_of (view, "m"), 0);
    wp_front_view_task (view, "m", WARMUP__V1__TASK__TASK_EMBEDDING);
    assert_int_equal (wp_front_view_task_of (view, "m"), WARMUP__V1__TASK__TASK_EMBEDDING);
    assert_int_equal (wp_front_view_load_ms_of (view, "m", 77), 77);
    wp_front_view_load_ms (view, "m", 1234);
    assert_int_equal (wp_front_view_load_ms_of (view, "m", 77), 1234);
    //  Empty names are ignored
    wp_front_view_served (view, "");
    wp_front_view_served (view, NULL);
    assert_int_equal (wp_front_view_state (view, ""), WP_FRONT_COLD);
    wp_front_view_destroy (&view);
    assert_null (view);
    wp_front_view_destroy (&view);
}

static void
test_models_bounded (void **state)
{
    wp_front_view_t *view = wp_front_view_new (1);
    char name [32];
    for (int i = 0; i < WP_FRONT_VIEW_MODELS + 100; i++) {
        snprintf (name, sizeof name, "model-%d", i);
        wp_front_view_served (view, name);
    }
    assert_int_equal (wp_front_view_state (view, "model-0"), WP_FRONT_WARM);
    snprintf (name, sizeof name, "model-%d", WP_FRONT_VIEW_MODELS + 50);
    assert_int_equal (wp_front_view_state (view, name), WP_FRONT_COLD);
    wp_front_view_destroy (&view);
}

static void
test_predictions (void **state)
{
    wp_front_view_t *view = wp_front_view_new (2);
    wp_front_pred_t out [16];
    assert_int_equal (wp_front_view_predictions (view, "alice", 1000, 300000, out, 16), 0);
    const char *models [] = { "low", "high", "mid" };
    const double probabilities [] = { 0.1, 0.9, 0.5 };
    s_predict (view, "alice", 1000, 3, models, probabilities);
    size_t n = wp_front_view_predictions (view, "alice", 11000, 300000, out, 16);
    assert_int_equal (n, 3);
    //  Highest first, expected time counted from now
    assert_string_equal (out [0].model, "high");
    assert_string_equal (out [1].model, "mid");
    assert_string_equal (out [2].model, "low");
    assert_true (out [0].probability == 0.9);
    assert_int_equal (out [0].expected_in_ms, 50000);
    //  Capped by the caller
    assert_int_equal (wp_front_view_predictions (view, "alice", 11000, 300000, out, 1), 1);
    //  Expired after the ttl
    assert_int_equal (wp_front_view_predictions (view, "alice", 301001, 300000, out, 16), 0);
    //  A newer prediction replaces the older
    const char *one [] = { "only" };
    const double p [] = { 0.7 };
    s_predict (view, "alice", 400000, 1, one, p);
    n = wp_front_view_predictions (view, "alice", 400000, 300000, out, 16);
    assert_int_equal (n, 1);
    assert_string_equal (out [0].model, "only");
    //  Bounded users: the least recently predicted goes
    s_predict (view, "bob", 400001, 1, one, p);
    s_predict (view, "alice", 400002, 1, one, p);
    s_predict (view, "carol", 400003, 1, one, p);
    assert_int_equal (wp_front_view_users (view), 2);
    assert_int_equal (wp_front_view_predictions (view, "bob", 400004, 300000, out, 16), 0);
    assert_int_equal (wp_front_view_predictions (view, "alice", 400004, 300000, out, 16), 1);
    assert_int_equal (wp_front_view_predictions (view, "carol", 400004, 300000, out, 16), 1);
    //  Bad entries are skipped
    const char *bad [] = { "", "ok" };
    const double q [] = { 0.5, 2.0 };
    s_predict (view, "dave", 400005, 2, bad, q);
    assert_int_equal (wp_front_view_predictions (view, "dave", 400005, 300000, out, 16), 0);
    wp_front_view_destroy (&view);
}

static void
test_alive (void **state)
{
    wp_front_view_t *view = wp_front_view_new (1);
    assert_false (wp_front_view_alive (view, "engine", 1000));
    wp_front_view_heartbeat (view, "engine", 1000, 1000);
    assert_true (wp_front_view_alive (view, "engine", 1000));
    assert_true (wp_front_view_alive (view, "engine", 4000));
    assert_false (wp_front_view_alive (view, "engine", 4001));
    wp_front_view_heartbeat (view, "engine", 0, 5000);      //  0: a second
    assert_true (wp_front_view_alive (view, "engine", 8000));
    wp_front_view_destroy (&view);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_states),
        cmocka_unit_test (test_models_bounded),
        cmocka_unit_test (test_predictions),
        cmocka_unit_test (test_alive),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
