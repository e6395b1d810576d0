/*  =========================================================================
    test_metrics_live - the live EVAL.md metrics of the metrics core, on
    known event sequences with every value checked: requests per model and
    the cold rates, pre-warms and their use, resident memory-time,
    prediction quality by horizon range, heartbeats, decisions, history,
    the latency histogram; and the Prometheus and JSON renderings of them,
    which never show a user id.
    =========================================================================
*/
#include "testutil.h"
#include "wp_metrics.h"
#include "wp_metrics_export.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLD WP_METRICS_OUTCOME_COLD
#define WARM WP_METRICS_OUTCOME_WARM
#define DELAYED WP_METRICS_OUTCOME_DELAYED
#define ACT_WARM WP_METRICS_ACTION_WARM
#define ACT_COOL WP_METRICS_ACTION_COOL

//  Model by name, failing the test when absent.
static const wp_metrics_model_t *
s_model (wp_metrics_t *metrics, const char *name)
{
    for (size_t i = 0; i < wp_metrics_models (metrics); i++)
        if (strcmp (wp_metrics_model (metrics, i)->name, name) == 0)
            return wp_metrics_model (metrics, i);
    fail_msg ("no model %s", name);
    return NULL;
}

//  A finished warmup task.
static void
s_done (wp_metrics_t *metrics, const char *model, int action, bool ok, const char *reason,
        uint32_t duration_ms, uint32_t memory_mb, uint64_t at_ms)
{
    wp_metrics_done_t done = { model, action, ok, reason, ok ? NULL : "backend failed",
                               duration_ms, memory_mb, at_ms, "queue/test:1" };
    assert_int_equal (wp_metrics_warmup_finished (metrics, &done), 0);
}

//  Requests by outcome, per model and in total; p75 and the cold wait.
static void
test_requests (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();
    assert_non_null (m);
    assert_int_equal (wp_metrics_models (m), 0);
    assert_true (wp_metrics_p75_model_cold_rate (m) == 0);

    assert_int_equal (wp_metrics_request (m, "u1", "a", WARM, 0, 1000), 0);
    assert_int_equal (wp_metrics_request (m, "u1", "a", COLD, 1000, 2000), 0);
    assert_int_equal (wp_metrics_request (m, "u2", "a", DELAYED, 300, 3000), 0);
    assert_int_equal (wp_metrics_request (m, "u1", "b", COLD, 2000, 4000), 0);
    assert_int_equal (wp_metrics_request (m, "u2", "b", COLD, 2500, 5000), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal (wp_metrics_request (m, "u3", "c", WARM, 0, 6000), 0);
    //  An outcome outside the enum: a request of unknown outcome
    assert_int_equal (wp_metrics_request (m, "u3", "c", 17, 999, 7000), -1);

    const wp_metrics_model_t *a = s_model (m, "a"), *b = s_model (m, "b"), *c = s_model (m, "c");
    assert_int_equal (a->requests, 3);
    assert_int_equal (a->warm, 1);
    assert_int_equal (a->cold_starts, 1);
    assert_int_equal (a->delayed, 1);
    assert_int_equal (a->wait_ms, 1300);
    assert_int_equal (b->requests, 2);
    assert_int_equal (b->cold_starts, 2);
    assert_int_equal (b->wait_ms, 4500);
    assert_int_equal (c->requests, 4);
    assert_int_equal (c->warm, 3);
    assert_int_equal (c->wait_ms, 0);
    assert_int_equal (c->last_outcome, WP_METRICS_OUTCOME_UNKNOWN);
    assert_int_equal (c->last_request_ms, 7000);

    wp_metrics_model_t t;
    wp_metrics_totals (m, &t);
    assert_int_equal (t.requests, 9);
    assert_int_equal (t.warm, 4);
    assert_int_equal (t.cold_starts, 3);
    assert_int_equal (t.delayed, 1);
    assert_int_equal (t.wait_ms, 5800);
    //  The old totals agree
    wp_metrics_snapshot_t snap;
    wp_metrics_snapshot (m, &snap);
    assert_int_equal (snap.requests, 9);
    assert_int_equal (snap.cold_starts, 3);
    assert_true (snap.cold_wait_s == 5.8);
    //  Cold rates: a 2/3, b 1, c 0: the nearest-rank p75 of three is the 3rd
    assert_true (wp_metrics_p75_model_cold_rate (m) == 1.0);
    wp_metrics_request (m, "u4", "d", WARM, 0, 8000);
    //  Four models: rank 3 of [0, 0, 2/3, 1]
    assert_true (fabs (wp_metrics_p75_model_cold_rate (m) - 2.0 / 3.0) < 1e-12);
    //  The stream clock follows the event times
    assert_int_equal (wp_metrics_clock_ms (m), 8000);
    wp_metrics_request (m, "u4", "d", WARM, 0, 500);
    assert_int_equal (wp_metrics_clock_ms (m), 8000);
    wp_metrics_destroy (&m);
    assert_null (m);
}

//  Model names that cannot be labels, and models past the bound, are
//  counted under "other", which is left out of p75.
static void
test_model_bound (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();
    const char *bad [] = { "", "with space", "quo\"te", "back\\slash", "caf\xc3\xa9", "other",
                           NULL };
    for (int i = 0; bad [i]; i++)
        wp_metrics_request (m, "u", bad [i], COLD, 10, 1);
    wp_metrics_request (m, "u", NULL, COLD, 10, 1);
    assert_int_equal (wp_metrics_models (m), 1);
    const wp_metrics_model_t *other = s_model (m, WP_METRICS_OTHER);
    assert_int_equal (other->requests, 7);
    assert_true (wp_metrics_p75_model_cold_rate (m) == 0);
    char name [32];
    for (int i = 0; i < WP_METRICS_MAX_MODELS + 10; i++) {
        snprintf (name, sizeof name, "model-%03d", i);
        wp_metrics_request (m, "u", name, WARM, 0, 2);
    }
    assert_int_equal (wp_metrics_models (m), WP_METRICS_MAX_MODELS + 1);
    assert_int_equal (s_model (m, WP_METRICS_OTHER)->requests, 17);
    //  "other" comes last
    assert_string_equal (wp_metrics_model (m, WP_METRICS_MAX_MODELS)->name, WP_METRICS_OTHER);
    assert_null (wp_metrics_model (m, WP_METRICS_MAX_MODELS + 1));
    wp_metrics_destroy (&m);
}

//  Pre-warms, their use, the hits, resident memory-time and model states.
static void
test_prewarms (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();
    //  m1: pre-warmed, then used warm twice, then cooled
    assert_int_equal (wp_metrics_warmup_requested (m, "m1", ACT_WARM, "demand 0.9", "scheduler/x:1",
                                                   1000), 0);
    assert_int_equal (s_model (m, "m1")->state, WP_METRICS_MODEL_LOADING);
    s_done (m, "m1", ACT_WARM, true, "demand 0.9", 500, 1024, 2000);
    const wp_metrics_model_t *m1 = s_model (m, "m1");
    assert_int_equal (m1->state, WP_METRICS_MODEL_WARM);
    assert_int_equal (m1->prewarms, 1);
    assert_int_equal (m1->useful_prewarms, 0);
    assert_true (m1->resident);
    assert_int_equal (m1->resident_since_ms, 1500);    //  from the start of the load
    assert_int_equal (wp_metrics_resident_mb (m), 1024);
    wp_metrics_request (m, "u", "m1", WARM, 0, 3000);
    wp_metrics_request (m, "u", "m1", WARM, 0, 4000);
    assert_int_equal (m1->useful_prewarms, 1);
    assert_int_equal (m1->prewarm_hits, 1);
    //  Open residency: up to the stream clock (4000)
    assert_int_equal (wp_metrics_model_resident_mb_ms (m, m1), 1024 * 2500);
    wp_metrics_advance (m, 1000);
    assert_int_equal (wp_metrics_clock_ms (m), 5000);
    assert_int_equal (wp_metrics_model_resident_mb_ms (m, m1), 1024 * 3500);
    assert_int_equal (wp_metrics_warmup_requested (m, "m1", ACT_COOL, "demand 0.1", NULL,
                                                   11000), 0);
    assert_int_equal (m1->state, WP_METRICS_MODEL_WARM);   //  until the cool is done
    s_done (m, "m1", ACT_COOL, true, "demand 0.1", 3, 0, 11500);
    assert_int_equal (m1->state, WP_METRICS_MODEL_COLD);
    assert_false (m1->resident);
    //  1 GiB for 10 s: 10 GiB x s; the clock moving on adds nothing
    assert_int_equal (m1->resident_mb_ms, 1024 * 10000);
    wp_metrics_advance (m, 60000);
    assert_int_equal (wp_metrics_model_resident_mb_ms (m, m1), 1024 * 10000);

    //  m2: pre-warmed and cooled unused: a false positive
    wp_metrics_warmup_requested (m, "m2", ACT_WARM, "demand 0.8", NULL, 80000);
    s_done (m, "m2", ACT_WARM, true, "demand 0.8", 1000, 2048, 81000);
    s_done (m, "m2", ACT_COOL, true, "demand 0.2", 0, 0, 91000);
    const wp_metrics_model_t *m2 = s_model (m, "m2");
    assert_int_equal (m2->prewarms, 1);
    assert_int_equal (m2->useful_prewarms, 0);
    assert_int_equal (m2->resident_mb_ms, 2048 * 11000);   //  load included
    //  A request after the cool does not make it useful
    wp_metrics_request (m, "u", "m2", COLD, 1000, 92000);
    assert_int_equal (m2->useful_prewarms, 0);

    //  m3: its first request comes while the pre-warm loads: useful, no hit
    wp_metrics_warmup_requested (m, "m3", ACT_WARM, "demand 0.95", NULL, 100000);
    wp_metrics_request (m, "u", "m3", DELAYED, 400, 100100);
    s_done (m, "m3", ACT_WARM, true, "demand 0.95", 500, 512, 100500);
    const wp_metrics_model_t *m3 = s_model (m, "m3");
    assert_int_equal (m3->prewarms, 1);
    assert_int_equal (m3->useful_prewarms, 1);
    assert_int_equal (m3->prewarm_hits, 0);
    wp_metrics_request (m, "u", "m3", WARM, 0, 101000);
    assert_int_equal (m3->useful_prewarms, 1);
    assert_int_equal (m3->prewarm_hits, 0);

    //  m4: an operator's warm is no pre-warm; a warm request is no hit
    wp_metrics_warmup_requested (m, "m4", ACT_WARM, "manual", "warmupctl-warm/9", 102000);
    s_done (m, "m4", ACT_WARM, true, "manual", 100, 256, 102100);
    wp_metrics_request (m, "u", "m4", WARM, 0, 102200);
    const wp_metrics_model_t *m4 = s_model (m, "m4");
    assert_int_equal (m4->prewarms, 0);
    assert_int_equal (m4->prewarm_hits, 0);
    assert_int_equal (m4->warmups_ok, 1);
    assert_int_equal (m4->state, WP_METRICS_MODEL_WARM);

    //  m5: a failed warm leaves it cold; a failed cool leaves m4 resident
    wp_metrics_warmup_requested (m, "m5", ACT_WARM, "demand 0.99", NULL, 103000);
    s_done (m, "m5", ACT_WARM, false, "demand 0.99", 30000, 0, 133000);
    const wp_metrics_model_t *m5 = s_model (m, "m5");
    assert_int_equal (m5->state, WP_METRICS_MODEL_COLD);
    assert_int_equal (m5->warmups_failed, 1);
    assert_int_equal (m5->prewarms, 0);
    s_done (m, "m4", ACT_COOL, false, "manual", 0, 0, 133100);
    assert_int_equal (m4->cools_failed, 1);
    assert_true (m4->resident);
    //  A bad action or a missing model is refused
    assert_int_equal (wp_metrics_warmup_requested (m, "m6", 0, "x", NULL, 1), -1);
    assert_int_equal (wp_metrics_warmup_requested (m, NULL, ACT_WARM, "x", NULL, 1), -1);

    wp_metrics_model_t t;
    wp_metrics_totals (m, &t);
    assert_int_equal (t.prewarms, 3);
    assert_int_equal (t.useful_prewarms, 2);
    assert_int_equal (t.prewarm_hits, 1);
    //  cold m2 (1), delayed m3 (1): recall = 1 / (1 + 1 + 1)
    assert_int_equal (t.cold_starts, 1);
    assert_int_equal (t.delayed, 1);
    assert_int_equal (wp_metrics_resident_mb (m), 512 + 256);
    //  Exported: fp_rate 1 - 2/3, recall 1/3
    wp_metrics_export_info_t info = { .now_ms = 133100, .threshold = 0.7 };
    char *json = wp_metrics_export_json (m, &info);
    assert_non_null (strstr (json, "\"prewarms\":3,\"useful_prewarms\":2,\"prewarm_hits\":1,"
                                   "\"fp_rate\":0.3333333333,\"recall\":0.3333333333"));
    free (json);
    wp_metrics_summary_t summary;
    wp_metrics_export_summary (m, &summary);
    assert_true (fabs (summary.resource_efficiency - 2.0 / 3.0) < 1e-12);
    wp_metrics_destroy (&m);
}

//  One prediction entry.
static void
s_predict (wp_metrics_t *m, const char *user, uint64_t at_ms, const char *model,
           double p, uint64_t expected_in_ms)
{
    wp_metrics_guess_t guess = { model, p, expected_in_ms };
    assert_int_equal (wp_metrics_prediction (m, user, at_ms, 300, &guess, 1), 1);
}

//  Prediction quality by horizon range, every case.
static void
test_accuracy (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();
    wp_metrics_set_threshold (m, 0.5);
    wp_metrics_guess_t guesses [] = {
        { "m1", 0.9, 60000 },       //  positive, under 5 min
        { "m2", 0.2, 600000 },      //  negative, 5 min to 1 h
        { "m3", 0.8, 7200000 },     //  positive, over 1 h
        { NULL, 0.9, 1 },           //  skipped: no model
        { "m4", NAN, 1 },           //  skipped: not a probability
        { "m5", 1.5, 1 },           //  skipped: not a probability
    };
    assert_int_equal (wp_metrics_prediction (m, "alice", 0, 300, guesses, 6), 3);
    assert_int_equal (wp_metrics_prediction (m, "", 0, 300, guesses, 6), 0);
    s_predict (m, "bob", 0, "m1", 0.1, 10000);     //  negative, under 5 min
    assert_int_equal (wp_metrics_guesses_open (m), 4);

    //  alice asks for m1 within the horizon: true positive
    wp_metrics_request (m, "alice", "m1", WARM, 0, 100000);
    //  alice asks for m2 within it: false negative
    wp_metrics_request (m, "alice", "m2", COLD, 500, 200000);
    //  alice asks for m1 again: no open guess
    wp_metrics_request (m, "alice", "m1", WARM, 0, 250000);
    assert_int_equal (wp_metrics_unpredicted (m), 1);
    assert_int_equal (wp_metrics_guesses_open (m), 2);
    //  Nothing expires before the horizon ends (300 s after 0)
    wp_metrics_advance (m, 50000);                  //  clock 300000
    assert_int_equal (wp_metrics_expire (m), 0);
    wp_metrics_advance (m, 1);
    //  m3 for alice: false positive; m1 for bob: true negative
    assert_int_equal (wp_metrics_expire (m), 2);
    assert_int_equal (wp_metrics_guesses_open (m), 0);

    wp_metrics_confusion_t s = wp_metrics_horizon (m, 0);
    wp_metrics_confusion_t md = wp_metrics_horizon (m, 1);
    wp_metrics_confusion_t l = wp_metrics_horizon (m, 2);
    assert_int_equal (s.tp, 1);
    assert_int_equal (s.tn, 1);
    assert_int_equal (s.fp + s.fn, 0);
    assert_int_equal (md.fn, 1);
    assert_int_equal (md.tp + md.fp + md.tn, 0);
    assert_int_equal (l.fp, 1);
    assert_int_equal (l.tp + l.fn + l.tn, 0);
    wp_metrics_confusion_t all = wp_metrics_horizon (m, -1);
    assert_int_equal (all.tp, 1);
    assert_int_equal (all.fp, 1);
    assert_int_equal (all.fn, 1);
    assert_int_equal (all.tn, 1);
    wp_metrics_quality_t q = wp_metrics_quality (all);
    assert_true (q.accuracy == 0.5);
    assert_true (q.precision == 0.5);
    assert_true (q.recall == 0.5);
    assert_true (q.f1 == 0.5);
    q = wp_metrics_quality (md);
    assert_true (q.accuracy == 0);
    assert_true (isnan (q.precision));
    assert_true (q.recall == 0);
    assert_true (q.f1 == 0);
    q = wp_metrics_quality (wp_metrics_horizon (m, 0));
    assert_true (q.accuracy == 1);
    assert_true (q.precision == 1 && q.recall == 1 && q.f1 == 1);
    //  Scored as probabilities too: under 5 min, 0.9 asked and 0.1 not.
    const wp_calib_t *calib = wp_metrics_calib (m);
    assert_int_equal (wp_calib_count (calib, 0), 2);
    assert_true (fabs (wp_calib_brier (calib, 0) - 0.01) < 1e-6);
    assert_true (fabs (wp_calib_log_loss (calib, 0) + log (0.9)) < 1e-6);
    assert_true (fabs (wp_calib_brier (calib, 1) - 0.64) < 1e-6);    //  0.2, asked
    assert_string_equal (wp_metrics_horizon_name (0), "under_5m");
    assert_string_equal (wp_metrics_horizon_name (1), "5m_to_1h");
    assert_string_equal (wp_metrics_horizon_name (2), "over_1h");
    wp_metrics_destroy (&m);
}

//  A newer prediction supersedes an open guess; a late request leaves a
//  guess open; a request after the horizon scores it as not requested;
//  a guess whose horizon ended is scored when its slot is needed.
static void
test_accuracy_edges (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();     //  threshold 0.7 by default
    s_predict (m, "carol", 1000, "m1", 0.75, 1000);
    s_predict (m, "carol", 2000, "m1", 0.65, 1000);
    assert_int_equal (wp_metrics_guesses_superseded (m), 1);
    assert_int_equal (wp_metrics_guesses_open (m), 1);
    //  A request from before the prediction (delivered late)
    wp_metrics_request (m, "carol", "m1", WARM, 0, 1500);
    assert_int_equal (wp_metrics_guesses_open (m), 1);
    assert_int_equal (wp_metrics_unpredicted (m), 0);
    //  The newer guess (negative) is the one scored: a false negative
    wp_metrics_request (m, "carol", "m1", WARM, 0, 3000);
    assert_int_equal (wp_metrics_horizon (m, 0).fn, 1);
    assert_int_equal (wp_metrics_horizon (m, -1).tp, 0);

    //  Requested after the horizon, before any expiry scan: false positive
    s_predict (m, "dave", 10000, "m2", 0.9, 1000);
    wp_metrics_request (m, "dave", "m2", COLD, 100, 10000 + 300001);
    assert_int_equal (wp_metrics_horizon (m, 0).fp, 1);
    //  A prediction after the horizon of an open guess of the same pair
    //  scores the old one first, then opens the new one
    s_predict (m, "erin", 0, "m3", 0.1, 1000);
    s_predict (m, "erin", 400000, "m3", 0.1, 1000);
    assert_int_equal (wp_metrics_horizon (m, 0).tn, 1);
    assert_int_equal (wp_metrics_guesses_superseded (m), 1);
    assert_int_equal (wp_metrics_guesses_open (m), 1);
    wp_metrics_destroy (&m);
}

//  However many pairs are predicted, the guess table stays within its
//  slots; what does not fit is counted as evicted, never scored.
static void
test_guess_bound (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();
    char user [32];
    size_t total = 3 * WP_METRICS_GUESS_SLOTS;
    for (size_t i = 0; i < total; i++) {
        snprintf (user, sizeof user, "user-%zu", i);
        s_predict (m, user, 1000 + i, "m", 0.9, 1000);
    }
    assert_true (wp_metrics_guesses_open (m) <= WP_METRICS_GUESS_SLOTS);
    assert_int_equal (wp_metrics_guesses_open (m) + wp_metrics_guesses_evicted (m), total);
    assert_true (wp_metrics_guesses_evicted (m) >= 2 * WP_METRICS_GUESS_SLOTS);
    wp_metrics_confusion_t all = wp_metrics_horizon (m, -1);
    assert_int_equal (all.tp + all.fp + all.fn + all.tn, 0);
    //  Everything open is scored once the horizons are over
    wp_metrics_advance (m, 301000 + total);
    uint64_t open = wp_metrics_guesses_open (m);
    assert_int_equal (wp_metrics_expire (m), open);
    assert_int_equal (wp_metrics_horizon (m, 0).fp, open);
    wp_metrics_destroy (&m);
}

//  Heartbeats: the latest per publisher, summed per component, the table
//  bounded.
static void
test_heartbeats (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();
    wp_metrics_beat_t beat = { "analyzer/h:1", "analyzer", 10000, 2048, 5000, 10, 20, 1, 0,
                               3, 1000, { [0] = 1 }, 0, 0, 0 };
    assert_int_equal (wp_metrics_heartbeat (m, &beat), 0);
    beat.events_in = 15;                   //  the same publisher, later
    beat.event_ms = 11000;
    assert_int_equal (wp_metrics_heartbeat (m, &beat), 0);
    wp_metrics_beat_t other = { "analyzer/h:2", "analyzer", 11000, 1024, 9000, 5, 5, 2, 1, 0,
                                1000, { [0] = 2 }, 0, 0, 0 };
    assert_int_equal (wp_metrics_heartbeat (m, &other), 0);
    wp_metrics_beat_t gone = { "engine/h:3", "engine", 1000, 4096, 100, 7, 7, 0, 0, 0, 1000,
                               { 0 }, 0, 0, 0 };
    assert_int_equal (wp_metrics_heartbeat (m, &gone), 0);
    wp_metrics_beat_t bad = { NULL, "engine", 1, 1, 1, 1, 1, 1, 1, 1, 1, { 0 }, 0, 0, 0 };
    //  The bus's own: what it kept out.
    wp_metrics_beat_t bus = { "bus/h:1", "bus", 11500, 512, 9000, 100, 80, 20, 2, 0, 1000,
                              { 0 }, 7, 11, 3 };
    assert_int_equal (wp_metrics_heartbeat (m, &bus), 0);
    assert_int_equal (wp_metrics_heartbeat (m, &bad), -1);

    wp_metrics_export_info_t info = { .now_ms = 12000, .threshold = 0.7 };
    char *text = wp_metrics_export_prometheus (m, &info);
    assert_non_null (strstr (text, "warmup_component_instances{component=\"analyzer\"} 2\n"));
    assert_non_null (strstr (text, "warmup_component_rss_bytes{component=\"analyzer\"} 3145728\n"));
    assert_non_null (strstr (text, "warmup_component_uptime_seconds{component=\"analyzer\"} 9\n"));
    assert_non_null (strstr (text, "warmup_component_events_in_total{component=\"analyzer\"} 20\n"));
    assert_non_null (strstr (text, "warmup_component_dropped_total{component=\"analyzer\"} 3\n"));
    //  Drops by topic: summed over the component's publishers
    assert_non_null (strstr (text, "warmup_component_dropped_by_topic_total{component="
                                   "\"analyzer\",topic=\"usage.observed\"} 3\n"));
    assert_null (strstr (text, "warmup_component_dropped_by_topic_total{component=\"engine\""));
    assert_non_null (strstr (text, "warmup_component_refused_total{component=\"bus\"} 7\n"));
    assert_non_null (strstr (text, "warmup_component_rate_limited_total{component=\"bus\"} 11\n"));
    assert_non_null (strstr (text, "warmup_component_auth_failures_total{component=\"bus\"} 3\n"));
    assert_non_null (strstr (text, "warmup_component_rate_limited_total{component=\"analyzer\"} 0\n"));
    //  engine's last heartbeat is 11 s old (> 3 intervals + 1 s): gone,
    //  its counters stay
    assert_non_null (strstr (text, "warmup_component_instances{component=\"engine\"} 0\n"));
    assert_non_null (strstr (text, "warmup_component_rss_bytes{component=\"engine\"} 0\n"));
    assert_non_null (strstr (text, "warmup_component_events_in_total{component=\"engine\"} 7\n"));
    free (text);

    //  Bounded: many publishers keep at most WP_METRICS_MAX_SOURCES
    char source [64];
    for (int i = 0; i < 200; i++) {
        snprintf (source, sizeof source, "perf/h:%d", 100 + i);
        wp_metrics_beat_t b = { source, "perf", 20000 + (uint64_t) i, 1, 1, 1, 1, 0, 0, 0, 1000,
                                { 0 }, 0, 0, 0 };
        assert_int_equal (wp_metrics_heartbeat (m, &b), 0);
    }
    const wp_metrics_source_t *sources;
    size_t n = wp_metrics_sources (m, &sources);
    assert_int_equal (n, WP_METRICS_MAX_SOURCES);
    size_t perf = 0;
    for (size_t i = 0; i < n; i++)
        if (sources [i].used && strcmp (sources [i].component, "perf") == 0)
            perf++;
    assert_int_equal (perf, WP_METRICS_MAX_SOURCES);   //  the stalest were replaced
    wp_metrics_destroy (&m);
}

//  Decisions: newest first, bounded, text made printable and cut.
static void
test_decisions (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();
    assert_int_equal (wp_metrics_decisions (m), 0);
    assert_null (wp_metrics_decision (m, 0));
    char reason [400];
    memset (reason, 'r', sizeof reason - 1);
    reason [sizeof reason - 1] = 0;
    reason [3] = '\n';
    wp_metrics_warmup_requested (m, "m1", ACT_WARM, reason, "scheduler/h:1", 5);
    s_done (m, "m1", ACT_WARM, false, "demand", 7, 0, 9);
    assert_int_equal (wp_metrics_decisions (m), 2);
    const wp_metrics_decision_t *d = wp_metrics_decision (m, 0);
    assert_true (d->done);
    assert_false (d->ok);
    assert_string_equal (d->error, "backend failed");
    assert_string_equal (d->component, "queue");
    d = wp_metrics_decision (m, 1);
    assert_false (d->done);
    assert_string_equal (d->component, "scheduler");
    assert_int_equal (strlen (d->reason), WP_METRICS_REASON_MAX);
    assert_int_equal (d->reason [3], '?');
    for (int i = 0; i < 3 * WP_METRICS_DECISIONS; i++) {
        char model [16];
        snprintf (model, sizeof model, "x%d", i);
        wp_metrics_warmup_requested (m, model, ACT_COOL, "demand 0.1", NULL, 100 + (uint64_t) i);
    }
    assert_int_equal (wp_metrics_decisions (m), WP_METRICS_DECISIONS);
    assert_string_equal (wp_metrics_decision (m, 0)->model, "x95");
    assert_string_equal (wp_metrics_decision (m, WP_METRICS_DECISIONS - 1)->model, "x64");
    assert_null (wp_metrics_decision (m, WP_METRICS_DECISIONS));
    wp_metrics_destroy (&m);
}

//  History: oldest first, bounded, each sample the totals of its time.
static void
test_history (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();
    assert_int_equal (wp_metrics_history (m), 0);
    wp_metrics_request (m, "u", "a", COLD, 2000, 1000);
    wp_metrics_sample (m, 50);
    wp_metrics_warmup_requested (m, "a", ACT_WARM, "demand 0.9", NULL, 1000);
    s_done (m, "a", ACT_WARM, true, "demand 0.9", 0, 100, 2000);
    wp_metrics_request (m, "u", "a", WARM, 0, 3000);
    wp_metrics_sample (m, 60);
    assert_int_equal (wp_metrics_history (m), 2);
    const wp_metrics_point_t *p = wp_metrics_history_point (m, 0);
    assert_int_equal (p->time_ms, 50);
    assert_int_equal (p->requests, 1);
    assert_int_equal (p->cold_starts, 1);
    assert_int_equal (p->wait_ms, 2000);
    assert_int_equal (p->prewarm_hits, 0);
    p = wp_metrics_history_point (m, 1);
    assert_int_equal (p->requests, 2);
    assert_int_equal (p->prewarm_hits, 1);
    assert_int_equal (p->resident_mb, 100);
    assert_int_equal (p->resident_mb_ms, 100 * 1000);
    for (int i = 0; i < WP_METRICS_HISTORY + 5; i++)
        wp_metrics_sample (m, 100 + (uint64_t) i);
    assert_int_equal (wp_metrics_history (m), WP_METRICS_HISTORY);
    assert_int_equal (wp_metrics_history_point (m, 0)->time_ms, 105);
    assert_int_equal (wp_metrics_history_point (m, WP_METRICS_HISTORY - 1)->time_ms,
                      100 + WP_METRICS_HISTORY + 4);
    assert_null (wp_metrics_history_point (m, WP_METRICS_HISTORY));
    wp_metrics_destroy (&m);
}

//  The exported latency histogram: cumulative counts at each bound.
static void
test_latency_buckets (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();
    uint64_t samples [] = { 0, 100, 101, 999, 1000, 2600, 10000000, 10000001, 99000000 };
    for (size_t i = 0; i < sizeof samples / sizeof samples [0]; i++)
        wp_metrics_latency (m, samples [i]);
    assert_int_equal (wp_metrics_latency_bound_us (0), 100);
    assert_int_equal (wp_metrics_latency_le (m, 0), 2);     //  <= 100 us
    assert_int_equal (wp_metrics_latency_le (m, 3), 5);     //  <= 1 ms
    assert_int_equal (wp_metrics_latency_le (m, 4), 5);     //  <= 2.5 ms
    assert_int_equal (wp_metrics_latency_le (m, 5), 6);     //  <= 5 ms
    assert_int_equal (wp_metrics_latency_le (m, 15), 7);    //  <= 10 s
    assert_int_equal (wp_metrics_latency_le (m, WP_METRICS_LATENCY_BUCKETS), 9);
    assert_int_equal (wp_metrics_latency_sum_us (m), 119004801);
    wp_metrics_export_info_t info = { .now_ms = 1, .threshold = 0.7 };
    char *text = wp_metrics_export_prometheus (m, &info);
    assert_non_null (strstr (text, "# TYPE warmup_prediction_latency_seconds histogram\n"));
    assert_non_null (strstr (text, "warmup_prediction_latency_seconds_bucket{le=\"0.0001\"} 2\n"));
    assert_non_null (strstr (text, "warmup_prediction_latency_seconds_bucket{le=\"0.001\"} 5\n"));
    assert_non_null (strstr (text, "warmup_prediction_latency_seconds_bucket{le=\"10\"} 7\n"));
    assert_non_null (strstr (text, "warmup_prediction_latency_seconds_bucket{le=\"+Inf\"} 9\n"));
    assert_non_null (strstr (text, "warmup_prediction_latency_seconds_sum 119.004801\n"));
    assert_non_null (strstr (text, "warmup_prediction_latency_seconds_count 9\n"));
    free (text);
    wp_metrics_destroy (&m);
}

//  A known sequence through the Prometheus export: the required names
//  with their values, every sample under a declared family, no user id.
static void
test_prometheus (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();
    wp_metrics_event (m, "usage.observed");
    wp_metrics_request (m, "secret-user-42", "coder", COLD, 2500, 1000);
    wp_metrics_request (m, "secret-user-42", "coder", COLD, 1500, 2000);
    wp_metrics_request (m, "secret-user-42", "chat", DELAYED, 250, 3000);
    s_predict (m, "secret-user-42", 3000, "coder", 0.9, 1000);
    wp_metrics_warmup_requested (m, "coder", ACT_WARM, "demand 0.90", NULL, 3000);
    s_done (m, "coder", ACT_WARM, true, "demand 0.90", 1000, 512, 4000);
    wp_metrics_request (m, "secret-user-42", "coder", WARM, 0, 5000);
    wp_metrics_advance (m, 5000);      //  clock 10000
    wp_metrics_export_info_t info = { .now_ms = 10000, .threshold = 0.7 };
    char *text = wp_metrics_export_prometheus (m, &info);
    const char *expected [] = {
        "warmup_requests_total{model=\"chat\"} 1\n",
        "warmup_requests_total{model=\"coder\"} 3\n",
        "warmup_cold_starts_total{model=\"coder\"} 2\n",
        "warmup_cold_starts_total{model=\"chat\"} 0\n",
        "warmup_delayed_total{model=\"chat\"} 1\n",
        "warmup_cold_wait_seconds_total{model=\"coder\"} 4\n",
        "warmup_cold_wait_seconds_total{model=\"chat\"} 0.25\n",
        "warmup_prewarms_total{model=\"coder\"} 1\n",
        "warmup_useful_prewarms_total{model=\"coder\"} 1\n",
        "warmup_prewarm_hits_total{model=\"coder\"} 1\n",
        "warmup_resident_bytes{model=\"coder\"} 536870912\n",
        "warmup_resident_bytes{model=\"chat\"} 0\n",
        //  512 MiB from 3000 (load start) to 10000: 7 s
        "warmup_resident_byte_seconds_total{model=\"coder\"} 3758096384\n",
        "warmup_model_state{model=\"coder\",state=\"warm\"} 1\n",
        "warmup_model_state{model=\"chat\",state=\"cold\"} 1\n",
        "warmup_warmups_total{model=\"coder\",action=\"warm\",result=\"ok\"} 1\n",
        "warmup_cold_rate 0.75\n",
        "warmup_fp_rate 0\n",
        "warmup_recall 0.25\n",
        "warmup_prediction_guesses_total{horizon=\"under_5m\",result=\"true_positive\"} 1\n",
        "warmup_prediction_accuracy{horizon=\"all\"} 1\n",
        "warmup_prediction_precision{horizon=\"over_1h\"} NaN\n",
        "warmup_unpredicted_requests_total 3\n",
        "warmup_events_total{topic=\"usage.observed\"} 1\n",
        "# TYPE warmup_requests_total counter\n",
        "# TYPE warmup_resident_bytes gauge\n",
        "# TYPE warmup_prediction_latency_seconds histogram\n",
        NULL
    };
    for (int i = 0; expected [i]; i++)
        if (!strstr (text, expected [i]))
            fail_msg ("no line '%s' in:\n%s", expected [i], text);
    assert_null (strstr (text, "secret-user-42"));
    //  Every sample line's name is declared by a TYPE line before it;
    //  every counter ends in _total
    char *copy = strdup (text);
    char declared [8192] = " ";
    for (char *line = strtok (copy, "\n"); line; line = strtok (NULL, "\n")) {
        char name [128];
        if (strncmp (line, "# TYPE ", 7) == 0) {
            char type [32];
            assert_int_equal (sscanf (line + 7, "%127s %31s", name, type), 2);
            assert_int_equal (strncmp (name, "warmup_", 7), 0);
            if (strcmp (type, "counter") == 0)
                assert_string_equal (name + strlen (name) - 6, "_total");
            strcat (declared, name);
            strcat (declared, " ");
            continue;
        }
        if (line [0] == '#')
            continue;
        size_t length = strcspn (line, "{ ");
        snprintf (name, sizeof name, " %.*s ", (int) length, line);
        char *suffix;
        if (!strstr (declared, name)
            && (suffix = strstr (name, "_bucket ")) == NULL
            && (suffix = strstr (name, "_sum ")) == NULL
            && (suffix = strstr (name, "_count ")) == NULL)
            fail_msg ("sample '%s' has no TYPE line before it", line);
    }
    free (copy);
    free (text);

    char *json = wp_metrics_export_json (m, &info);
    assert_null (strstr (json, "secret-user-42"));
    assert_non_null (strstr (json, "\"requests\":4,\"warm\":1,\"delayed\":1,\"cold_starts\":2,"
                                   "\"cold_rate\":0.75,\"cold_wait_s\":4.25"));
    assert_non_null (strstr (json, "\"resident_gb_s\":3.5,\"resident_mb\":512"));
    assert_non_null (strstr (json, "{\"horizon\":\"all\",\"tp\":1,\"fp\":0,\"fn\":0,\"tn\":0,"
                                   "\"accuracy\":1,\"precision\":1,\"recall\":1,\"f1\":1}"));
    assert_non_null (strstr (json, "{\"horizon\":\"over_1h\",\"tp\":0,\"fp\":0,\"fn\":0,"
                                   "\"tn\":0,\"accuracy\":null"));
    assert_non_null (strstr (json, "\"topics\":{\"usage.observed\":1}}"));
    //  Braces and brackets balance outside strings
    int depth = 0;
    bool in_string = false;
    for (const char *p = json; *p; p++) {
        if (in_string) {
            if (*p == '\\')
                p++;
            else
            if (*p == '"')
                in_string = false;
            continue;
        }
        if (*p == '"')
            in_string = true;
        else
        if (*p == '{' || *p == '[')
            depth++;
        else
        if (*p == '}' || *p == ']')
            assert_true (--depth >= 0);
    }
    assert_int_equal (depth, 0);
    free (json);
    wp_metrics_destroy (&m);
}

//  Device memory: each device's gauges by kind, the budgets, the JSON
//  "memory" object; device ids other than ram and gpuN are refused.
static void
test_device_memory (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();
    wp_metrics_memory_t in = {
        .known = true, .seen_ms = 9000, .budget_mb = 2048, .vram_budget_mb = 2560,
        .vram_auto = true, .warm_memory_mb = 100, .n_devices = 2,
        .devices = {
            { .device = "ram", .total_mb = 24000, .used_mb = 6000, .ours_mb = 100,
              .others_mb = 5900, .reserved_mb = 512, .capacity_mb = 17588, .managed = true },
            { .device = "gpu0", .name = "Fake \"8\" GiB", .total_mb = 8192, .used_mb = 5120,
              .ours_mb = 0, .others_mb = 5120, .reserved_mb = 512, .capacity_mb = 2560,
              .managed = true }
        }
    };
    wp_metrics_memory_t memory = { 0 };
    assert_int_equal (wp_metrics_memory_take (&memory, &in), 0);
    wp_metrics_export_info_t info = { .now_ms = 10000, .threshold = 0.7, .memory = &memory };
    char *text = wp_metrics_export_prometheus (m, &info);
    assert_non_null (strstr (text, "# TYPE warmup_device_memory_bytes gauge\n"));
    assert_non_null (strstr (text, "warmup_device_memory_bytes{device=\"gpu0\",kind=\"total\"} "
                                   "8589934592\n"));
    assert_non_null (strstr (text, "warmup_device_memory_bytes{device=\"gpu0\",kind=\"others\"} "
                                   "5368709120\n"));
    assert_non_null (strstr (text, "warmup_device_memory_bytes{device=\"gpu0\",kind=\"capacity\"}"
                                   " 2684354560\n"));
    assert_non_null (strstr (text, "warmup_device_memory_bytes{device=\"ram\",kind=\"ours\"} "
                                   "104857600\n"));
    assert_non_null (strstr (text, "warmup_memory_budget_bytes{device=\"gpu\"} 2684354560\n"));
    assert_non_null (strstr (text, "warmup_memory_budget_auto{device=\"gpu\"} 1\n"));
    assert_non_null (strstr (text, "warmup_memory_budget_auto{device=\"ram\"} 0\n"));
    assert_null (strstr (text, "Fake"));       //  names are not labels
    free (text);
    char *json = wp_metrics_export_json (m, &info);
    assert_non_null (strstr (json, "\"memory\":{\"age_ms\":1000,\"budget_mb\":2048,"
                                   "\"memory_auto\":false,\"vram_budget_mb\":2560,"
                                   "\"vram_auto\":true,\"warm_memory_mb\":100,\"devices\":["));
    assert_non_null (strstr (json, "{\"device\":\"gpu0\",\"name\":\"Fake \\\"8\\\" GiB\","
                                   "\"total_mb\":8192,\"used_mb\":5120,\"ours_mb\":0,"
                                   "\"others_mb\":5120,\"reserved_mb\":512,\"capacity_mb\":2560,"
                                   "\"managed\":true,\"ours_from\":\"models\"}"));
    free (json);
    //  Nothing known: no gauges, and "memory":null
    wp_metrics_memory_t none = { 0 };
    info.memory = &none;
    text = wp_metrics_export_prometheus (m, &info);
    assert_null (strstr (text, "warmup_device_memory_bytes"));
    free (text);
    json = wp_metrics_export_json (m, &info);
    assert_non_null (strstr (json, "\"memory\":null"));
    free (json);
    //  Bad ids and names are refused, keeping what was there
    wp_metrics_memory_t bad = in;
    snprintf (bad.devices [1].device, sizeof bad.devices [1].device, "gpu0\"x");
    assert_int_equal (wp_metrics_memory_take (&memory, &bad), -1);
    bad = in;
    snprintf (bad.devices [1].device, sizeof bad.devices [1].device, "tpu0");
    assert_int_equal (wp_metrics_memory_take (&memory, &bad), -1);
    bad = in;
    bad.devices [1].name [0] = '\n';
    assert_int_equal (wp_metrics_memory_take (&memory, &bad), -1);
    assert_string_equal (memory.devices [1].device, "gpu0");
    wp_metrics_destroy (&m);
}

//  The counters kept (wp_metrics_keep) and taken by a new core
//  (wp_metrics_restore) are the same, and it counts on from them; a
//  record cut short or of another version, or a core that counted
//  already, takes nothing.
static void
test_counters_kept (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();
    for (int i = 0; i < 3; i++)
        wp_metrics_event (m, "usage.observed");
    wp_metrics_event (m, "heartbeat");
    wp_metrics_request (m, "alice", "m1", WP_METRICS_OUTCOME_COLD, 1500, 1000);
    wp_metrics_request (m, "alice", "m1", WP_METRICS_OUTCOME_WARM, 0, 2000);
    wp_metrics_request (m, "carol", "m3", WP_METRICS_OUTCOME_DELAYED, 300, 2500);
    s_done (m, "m1", WP_METRICS_ACTION_WARM, true, "predicted", 800, 100, 3000);
    s_done (m, "m1", WP_METRICS_ACTION_COOL, true, "idle", 10, 0, 9000);
    s_predict (m, "bob", 0, "m2", 0.9, 10000);
    wp_metrics_advance (m, 400000);
    wp_metrics_expire (m);
    wp_metrics_latency (m, 1234);
    wp_metrics_latency (m, 99);
    wp_metrics_set_dropped (m, 5);
    uint8_t *data = (uint8_t *) malloc (WP_METRICS_KEEP_MAX);
    assert_non_null (data);
    size_t len = wp_metrics_keep (m, data, WP_METRICS_KEEP_MAX);
    assert_true (len > 0);
    print_message ("kept counters: %zu bytes (3 models, 2 topics)\n", len);
    assert_int_equal (wp_metrics_keep (m, data, 16), 0);
    len = wp_metrics_keep (m, data, WP_METRICS_KEEP_MAX);

    wp_metrics_t *back = wp_metrics_new ();
    assert_int_equal (wp_metrics_restore (back, data, len), 0);
    wp_metrics_snapshot_t a, b;
    wp_metrics_snapshot (m, &a);
    wp_metrics_snapshot (back, &b);
    assert_int_equal (b.events, 4);
    assert_int_equal (b.events, a.events);
    assert_int_equal (b.topics, a.topics);
    assert_int_equal (b.requests, 3);
    assert_int_equal (b.warm, a.warm);
    assert_int_equal (b.delayed, a.delayed);
    assert_int_equal (b.cold_starts, a.cold_starts);
    assert_true (fabs (b.cold_wait_s - a.cold_wait_s) < 1e-9);
    assert_int_equal (b.predictions, a.predictions);
    assert_int_equal (b.latency_samples, 2);
    assert_int_equal (b.latency_p50_us, a.latency_p50_us);
    assert_int_equal (b.latency_p99_us, a.latency_p99_us);
    assert_int_equal (b.latency_max_us, a.latency_max_us);
    assert_int_equal (b.warmups_ok, 1);
    assert_int_equal (b.cools, 1);
    assert_int_equal (b.dropped, 5);
    assert_int_equal (wp_metrics_topic_count (back, "usage.observed"), 3);
    assert_int_equal (wp_metrics_topic_count (back, "heartbeat"), 1);
    assert_int_equal (wp_metrics_models (back), wp_metrics_models (m));
    const wp_metrics_model_t *m1 = s_model (back, "m1");
    assert_int_equal (m1->requests, 2);
    assert_int_equal (m1->cold_starts, 1);
    assert_int_equal (m1->prewarms, s_model (m, "m1")->prewarms);
    assert_int_equal (m1->resident_mb_ms, s_model (m, "m1")->resident_mb_ms);
    assert_true (m1->resident_mb_ms > 0);
    assert_int_equal (s_model (back, "m3")->delayed, 1);
    wp_metrics_confusion_t was = wp_metrics_horizon (m, -1), now = wp_metrics_horizon (back, -1);
    assert_true (was.tp + was.fp + was.fn + was.tn >= 1);
    assert_memory_equal (&was, &now, sizeof was);
    assert_memory_equal (wp_metrics_calib (m), wp_metrics_calib (back), sizeof (wp_calib_t));

    //  It counts on: own drops add to the kept ones
    wp_metrics_set_dropped (back, 2);
    wp_metrics_event (back, "usage.observed");
    wp_metrics_snapshot (back, &b);
    assert_int_equal (b.dropped, 7);
    assert_int_equal (wp_metrics_topic_count (back, "usage.observed"), 4);
    assert_int_equal (b.events, 5);

    //  Refused: a core that counted, a record cut short, another version
    assert_int_equal (wp_metrics_restore (back, data, len), -1);
    wp_metrics_t *fresh = wp_metrics_new ();
    assert_int_equal (wp_metrics_restore (fresh, data, len - 1), -1);
    data [0] ^= 0xff;
    assert_int_equal (wp_metrics_restore (fresh, data, len), -1);
    wp_metrics_snapshot (fresh, &b);
    assert_int_equal (b.events, 0);
    assert_int_equal (b.requests, 0);
    assert_int_equal (wp_metrics_models (fresh), 0);
    free (data);
    wp_metrics_destroy (&fresh);
    wp_metrics_destroy (&back);
    wp_metrics_destroy (&m);
}

//  A model's state from the queue's snapshot: warm is resident from then
//  on (its memory-time counted from the resync), cold ends it; nothing is
//  counted as a warmup or a pre-warm.
static void
test_model_state_synced (void **state)
{
    wp_metrics_t *m = wp_metrics_new ();
    wp_metrics_model_state (m, "w0", WP_METRICS_MODEL_WARM, 100, 10000);
    wp_metrics_model_state (m, "l0", WP_METRICS_MODEL_LOADING, 50, 10000);
    wp_metrics_model_state (m, "x0", 7, 50, 10000);     //  no such state: ignored
    assert_int_equal (wp_metrics_resident_mb (m), 100);
    assert_int_equal (wp_metrics_models (m), 2);
    const wp_metrics_model_t *w0 = s_model (m, "w0");
    assert_int_equal (w0->state, WP_METRICS_MODEL_WARM);
    assert_int_equal (s_model (m, "l0")->state, WP_METRICS_MODEL_LOADING);
    assert_int_equal (w0->warmups_ok + w0->prewarms, 0);
    //  Warm again by the next snapshot: the residency goes on
    wp_metrics_model_state (m, "w0", WP_METRICS_MODEL_WARM, 100, 15000);
    wp_metrics_model_state (m, "w0", WP_METRICS_MODEL_COLD, 0, 20000);
    assert_int_equal (w0->resident_mb_ms, 100 * 10000);
    assert_int_equal (wp_metrics_resident_mb (m), 0);
    assert_int_equal (w0->state, WP_METRICS_MODEL_COLD);
    wp_metrics_destroy (&m);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_requests),
        cmocka_unit_test (test_model_bound),
        cmocka_unit_test (test_prewarms),
        cmocka_unit_test (test_accuracy),
        cmocka_unit_test (test_accuracy_edges),
        cmocka_unit_test (test_guess_bound),
        cmocka_unit_test (test_heartbeats),
        cmocka_unit_test (test_decisions),
        cmocka_unit_test (test_history),
        cmocka_unit_test (test_latency_buckets),
        cmocka_unit_test (test_prometheus),
        cmocka_unit_test (test_device_memory),
        cmocka_unit_test (test_counters_kept),
        cmocka_unit_test (test_model_state_synced),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
