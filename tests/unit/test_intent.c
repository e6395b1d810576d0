/*  =========================================================================
    test_intent - the engine's intent learning (wp_intent), with answers
    worked out here: a run of intents each followed by its request warms
    the model ahead of the next request, in a window priced with the
    engine's break-even; intents never followed stop warming; a hint alone
    warms only where a cold start costs more than the horizon's
    residency; a plan that already keeps the model makes a window
    needless; kinds and languages are learned apart; a request past the
    horizon is not a follower; a lead shorter than the load saves a part
    of it; bad signs are refused; users are bounded.
    =========================================================================
*/
#include "testutil.h"
#include "wp_engine.h"
#include "wp_intent.h"
#include <math.h>

#define T0 1700000000000ULL     //  an event time, ms
#define HOUR 3600000ULL

//  An engine at price W with one model: 4 s to load, 1 GiB. Break-even
//  W x 4000 + 4000 ms (44 s at W = 10).
static wp_engine_t *
s_engine (double price)
{
    wp_engine_opts_t opts = { .cold_wait_price = price };
    wp_engine_t *engine = wp_engine_new (&opts);
    assert_non_null (engine);
    wp_engine_model (engine, "chat", 4000, 1024);
    wp_engine_model (engine, "py-coder", 4000, 1024);
    wp_engine_model (engine, "c-coder", 4000, 1024);
    return engine;
}

//  Send an intent; returns how many predictions, the first into *first.
static int
s_signal (wp_intent_t *intent, wp_engine_t *engine, uint64_t user, const char *kind,
          const char *language, const char *hint, uint64_t at, wp_prediction_t *first)
{
    wp_prediction_t out [8];
    wp_intent_sign_t sign = { .kind = kind, .language = language, .model = hint };
    int n = wp_intent_signal (intent, engine, user, &sign, at, out, 8);
    if (n > 0 && first)
        *first = out [0];
    return n;
}

//  Intents, each followed by its request 8 s later, an hour apart: from
//  the second on, the model is warmed ahead, in the window 4..10 s after
//  the intent (the shortest lead less the load, the longest lead plus
//  2 s), at probability 1 / 2, 2 / 2.8, ... (hits over intents before,
//  plus one of prior).
static void
test_learned_run_warms_ahead (void **state)
{
    wp_engine_t *engine = s_engine (10);
    wp_intent_t *intent = wp_intent_new (NULL);
    assert_non_null (intent);
    int warmed = 0;
    for (int i = 0; i < 8; i++) {
        uint64_t at = T0 + (uint64_t) i * HOUR;
        wp_prediction_t p = { 0 };
        int n = s_signal (intent, engine, 7, "chat.opened", NULL, NULL, at, &p);
        if (i == 0)
            assert_int_equal (n, 0);        //  nothing learned yet
        else {
            assert_int_equal (n, 1);
            assert_string_equal (p.model, "chat");
            assert_int_equal (p.prewarm_at_ms, at + 4000);
            assert_int_equal (p.hold_until_ms, at + 10000);
            assert_true (p.prewarm_at_ms + p.load_ms <= at + 8000);
            assert_int_equal (p.expected_in_ms, 8000);
            assert_int_equal (p.category, WP_CATEGORY_INTENT);
            assert_int_equal (p.load_ms, 4000);
            assert_true (p.probability >= 0.5 && p.probability <= 1);
            if (i == 1)
                assert_true (fabs (p.probability - 0.5) < 1e-6);
            warmed++;
        }
        assert_int_equal (wp_intent_request (intent, 7, "chat", at + 8000, at + 9000), 0);
    }
    assert_int_equal (warmed, 7);
    uint64_t warming = 0;
    assert_int_equal (wp_intent_signals (intent, &warming), 8);
    assert_int_equal (warming, 7);
    //  Another user learned nothing.
    assert_int_equal (s_signal (intent, engine, 8, "chat.opened", NULL, NULL, T0, NULL), 0);
    wp_intent_destroy (&intent);
    wp_engine_destroy (&engine);
    assert_null (intent);
}

//  After the learned run, intents no request follows: the probability
//  fades by 0.8 an intent, and once p x 44 s no longer pays for the 6 s
//  window (p <= 0.136, the eighth), nothing is warmed any more.
static void
test_unfollowed_stops_warming (void **state)
{
    wp_engine_t *engine = s_engine (10);
    wp_intent_t *intent = wp_intent_new (NULL);
    uint64_t at = T0;
    for (int i = 0; i < 8; i++, at += HOUR) {
        s_signal (intent, engine, 7, "chat.opened", NULL, NULL, at, NULL);
        wp_intent_request (intent, 7, "chat", at + 8000, 0);
    }
    int last_warm = -1;
    double previous = 1;
    for (int i = 0; i < 14; i++, at += HOUR) {
        wp_prediction_t p = { 0 };
        int n = s_signal (intent, engine, 7, "chat.opened", NULL, NULL, at, &p);
        if (n) {
            assert_true (p.probability < previous);
            previous = p.probability;
            assert_true (p.probability * 44000 > 6000);
            last_warm = i;
        }
    }
    assert_true (last_warm >= 3);           //  it took a few to forget
    assert_true (last_warm <= 8);           //  and then it stopped for good
    wp_intent_destroy (&intent);
    wp_engine_destroy (&engine);
}

//  A hint with nothing learned: p = 0.5 over a window of the whole
//  horizon (300 s): at W = 10 (break-even 44 s) not worth it; at W = 1000
//  (4004 s) it is, from the intent on.
static void
test_hint_priced (void **state)
{
    wp_engine_t *cheap = s_engine (10);
    wp_engine_t *dear = s_engine (1000);
    wp_intent_t *intent = wp_intent_new (NULL);
    assert_int_equal (s_signal (intent, cheap, 1, "review.requested", NULL, "chat", T0, NULL),
                      0);
    wp_prediction_t p = { 0 };
    assert_int_equal (s_signal (intent, dear, 2, "review.requested", NULL, "chat", T0, &p), 1);
    assert_string_equal (p.model, "chat");
    assert_true (fabs (p.probability - 0.5) < 1e-6);
    assert_int_equal (p.prewarm_at_ms, T0);
    assert_int_equal (p.hold_until_ms, T0 + 300000);
    //  The hint never followed: the user's next hinted intents fade out.
    int warmed = 0;
    for (int i = 1; i < 10; i++)
        warmed += s_signal (intent, dear, 2, "review.requested", NULL, "chat",
                            T0 + (uint64_t) i * HOUR, NULL);
    assert_true (warmed < 9);
    assert_int_equal (s_signal (intent, dear, 2, "review.requested", NULL, "chat",
                                T0 + 10 * HOUR, NULL), 0);
    wp_intent_destroy (&intent);
    wp_engine_destroy (&cheap);
    wp_engine_destroy (&dear);
}

//  The engine's plan keeps the model through the window: nothing to add.
//  A keep that ends inside the window leaves only the rest to pay for.
static void
test_keep_makes_window_needless (void **state)
{
    wp_engine_t *engine = s_engine (10);
    wp_intent_t *intent = wp_intent_new (NULL);
    uint64_t at = T0;
    for (int i = 0; i < 4; i++, at += HOUR) {
        s_signal (intent, engine, 7, "chat.opened", NULL, NULL, at, NULL);
        wp_intent_request (intent, 7, "chat", at + 8000, 0);
    }
    //  A request now, kept for 10 minutes.
    wp_intent_request (intent, 7, "chat", at, at + 600000);
    assert_int_equal (s_signal (intent, engine, 7, "chat.opened", NULL, NULL, at + 1000, NULL),
                      0);
    wp_intent_request (intent, 7, "chat", at + 9000, at + 9000 + 7000);
    //  Kept until 16 s after: the window of an intent at 12 s (16..22 s)
    //  starts where the keep ends, and carries the keep along.
    wp_prediction_t p = { 0 };
    assert_int_equal (s_signal (intent, engine, 7, "chat.opened", NULL, NULL, at + 12000, &p),
                      1);
    assert_int_equal (p.keep_until_ms, at + 16000);
    assert_int_equal (p.last_ms, at + 9000);
    assert_int_equal (p.prewarm_at_ms, at + 12000 + 4000);
    wp_intent_destroy (&intent);
    wp_engine_destroy (&engine);
}

//  Kinds and languages are contexts of their own.
static void
test_contexts_apart (void **state)
{
    wp_engine_t *engine = s_engine (10);
    wp_intent_t *intent = wp_intent_new (NULL);
    uint64_t at = T0;
    for (int i = 0; i < 4; i++) {
        s_signal (intent, engine, 3, "file.opened", "python", NULL, at, NULL);
        wp_intent_request (intent, 3, "py-coder", at + 6000, 0);
        at += HOUR;
        s_signal (intent, engine, 3, "file.opened", "c", NULL, at, NULL);
        wp_intent_request (intent, 3, "c-coder", at + 6000, 0);
        at += HOUR;
    }
    wp_prediction_t p = { 0 };
    assert_int_equal (s_signal (intent, engine, 3, "file.opened", "python", NULL, at, &p), 1);
    assert_string_equal (p.model, "py-coder");
    assert_int_equal (s_signal (intent, engine, 3, "file.opened", "c", NULL, at + HOUR, &p), 1);
    assert_string_equal (p.model, "c-coder");
    assert_int_equal (s_signal (intent, engine, 3, "typing.started", "c", NULL, at + 2 * HOUR,
                                NULL), 0);
    wp_intent_destroy (&intent);
    wp_engine_destroy (&engine);
}

//  A request past the horizon follows nothing; the first request of a
//  model after an intent counts once.
static void
test_horizon_and_first_request (void **state)
{
    wp_engine_opts_t opts = { .cold_wait_price = 10 };
    wp_engine_t *engine = wp_engine_new (&opts);
    wp_engine_model (engine, "chat", 4000, 1024);
    wp_intent_opts_t iopts = { .horizon_s = 300 };
    wp_intent_t *intent = wp_intent_new (&iopts);
    s_signal (intent, engine, 5, "chat.opened", NULL, NULL, T0, NULL);
    wp_intent_request (intent, 5, "chat", T0 + 301000, 0);
    assert_int_equal (s_signal (intent, engine, 5, "chat.opened", NULL, NULL, T0 + HOUR, NULL),
                      0);
    //  Three requests after one intent: one hit (p = 1 / (1.8 + 1)).
    wp_intent_request (intent, 5, "chat", T0 + HOUR + 8000, 0);
    wp_intent_request (intent, 5, "chat", T0 + HOUR + 9000, 0);
    wp_intent_request (intent, 5, "chat", T0 + HOUR + 10000, 0);
    wp_prediction_t p = { 0 };
    assert_int_equal (s_signal (intent, engine, 5, "chat.opened", NULL, NULL, T0 + 2 * HOUR,
                                &p), 1);
    assert_true (fabs (p.probability - 1 / 2.8) < 1e-6);
    wp_intent_destroy (&intent);
    wp_engine_destroy (&engine);
}

//  A lead shorter than the load: the window starts at the intent and
//  saves the part of the load that the lead covers.
static void
test_short_lead_saves_part (void **state)
{
    wp_engine_t *engine = s_engine (10);
    wp_intent_t *intent = wp_intent_new (NULL);
    uint64_t at = T0;
    for (int i = 0; i < 3; i++, at += HOUR) {
        s_signal (intent, engine, 9, "typing.started", NULL, NULL, at, NULL);
        wp_intent_request (intent, 9, "chat", at + 2000, 0);
    }
    wp_prediction_t p = { 0 };
    assert_int_equal (s_signal (intent, engine, 9, "typing.started", NULL, NULL, at, &p), 1);
    assert_int_equal (p.prewarm_at_ms, at);
    assert_int_equal (p.hold_until_ms, at + 4000);
    assert_true (fabs (p.benefit_ms - 2000) < 1e-6);
    wp_intent_destroy (&intent);
    wp_engine_destroy (&engine);
}

//  Bad signs are refused and learn nothing.
static void
test_bad_signs (void **state)
{
    wp_engine_t *engine = s_engine (10);
    wp_intent_t *intent = wp_intent_new (NULL);
    wp_prediction_t out [4];
    const char *kinds [] = { NULL, "", "Chat.Opened", "chat opened", "a\nb",
                             "x123456789012345678901234567890123456789012345678" };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds [0]; i++) {
        wp_intent_sign_t sign = { .kind = kinds [i] };
        assert_int_equal (wp_intent_signal (intent, engine, 1, &sign, T0, out, 4), -1);
    }
    wp_intent_sign_t bad_language = { .kind = "file.opened", .language = "py\tthon" };
    assert_int_equal (wp_intent_signal (intent, engine, 1, &bad_language, T0, out, 4), -1);
    wp_intent_sign_t bad_hint = { .kind = "file.opened", .model = "m\x01" };
    assert_int_equal (wp_intent_signal (intent, engine, 1, &bad_hint, T0, out, 4), -1);
    assert_int_equal (wp_intent_signals (intent, NULL), 0);
    assert_int_equal (wp_intent_users (intent), 0);
    assert_int_equal (wp_intent_request (intent, 1, "", T0, 0), -1);
    assert_true (wp_intent_kind_ok ("review.requested"));
    assert_true (wp_intent_kind_ok ("x-custom_2"));
    wp_intent_destroy (&intent);
    wp_engine_destroy (&engine);
}

//  At most max_users users: the least recently active go first, and what
//  the others learned stays reachable.
static void
test_users_bounded (void **state)
{
    wp_engine_t *engine = s_engine (10);
    wp_intent_opts_t opts = { .max_users = 4 };
    wp_intent_t *intent = wp_intent_new (&opts);
    size_t bytes = 0;
    for (int round = 0; round < 3; round++)
        for (uint64_t user = 0; user < 40; user++) {
            uint64_t at = T0 + (uint64_t) round * HOUR + user * 60000;
            s_signal (intent, engine, user, "chat.opened", NULL, NULL, at, NULL);
            wp_intent_request (intent, user, "chat", at + 8000, 0);
            assert_true (wp_intent_users (intent) <= 4);
            if (round == 0 && user == 8)
                bytes = wp_intent_state_bytes (intent);
        }
    assert_int_equal (wp_intent_state_bytes (intent), bytes);
    //  The last user, active most recently, keeps what it learned.
    for (int i = 0; i < 2; i++) {
        uint64_t at = T0 + 10 * HOUR + (uint64_t) i * HOUR;
        s_signal (intent, engine, 39, "chat.opened", NULL, NULL, at, NULL);
        wp_intent_request (intent, 39, "chat", at + 8000, 0);
    }
    assert_int_equal (s_signal (intent, engine, 39, "chat.opened", NULL, NULL, T0 + 20 * HOUR,
                                NULL), 1);
    wp_intent_destroy (&intent);
    wp_engine_destroy (&engine);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_learned_run_warms_ahead),
        cmocka_unit_test (test_unfollowed_stops_warming),
        cmocka_unit_test (test_hint_priced),
        cmocka_unit_test (test_keep_makes_window_needless),
        cmocka_unit_test (test_contexts_apart),
        cmocka_unit_test (test_horizon_and_first_request),
        cmocka_unit_test (test_short_lead_saves_part),
        cmocka_unit_test (test_bad_signs),
        cmocka_unit_test (test_users_bounded),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
