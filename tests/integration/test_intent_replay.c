/*  =========================================================================
    test_intent_replay - intents warm ahead of the request, in event time,
    through the live system with the sim backend: warmupd --replay and
    warmupctl replay of a trace with a kind column (a round per event).

    One user, one chat model (4 s to load, 1 GiB; cold_wait_price 10: a
    cold start is worth 44 s of its residency). Eight times, an intent
    chat.opened and 8 s later a request to the model, the gaps between
    them 41 to 150 minutes (no rhythm the engine's own plans could
    foresee); then ten intents no request follows. What must happen, from
    the events on the bus (their event times):
    - the first request is a cold start (nothing is learned yet); from the
      second on, each intent warms the model (a warmup.requested after the
      intent, before the request: the window opens at the shortest lead
      less the load, 4 s) and the request is served warm;
    - the intents never followed fade out: the last ones warm nothing;
    - warmup-eval --policy predictive:10 on the same trace gives the live
      replay's numbers exactly (cold starts, pre-warms, memory-time).
    =========================================================================
*/
#include "itest.h"

#define REPLAY_MS 120000
#define HOUR 3600000ULL
#define PAIRS 8
#define ALONE 10

//  Minutes between the pairs, then between the lone intents.
static const int s_gaps [PAIRS + ALONE] = { 60, 95, 41, 130, 77, 150, 55, 110, 88, 66, 140, 45,
                                            100, 70, 125, 50, 90, 115 };

//  Write the catalog and the trace; the intents' times into at [].
static void
s_write (const char *dir, char *catalog, char *trace, size_t size, uint64_t *at)
{
    snprintf (catalog, size, "%s/catalog.csv", dir);
    snprintf (trace, size, "%s/trace.csv", dir);
    wp_test_write_file (catalog, "model,memory_mb,load_ms\nchat,1024,4000\n");
    FILE *out = fopen (trace, "w");
    assert_non_null (out);
    fprintf (out, "timestamp_ms,user,model,kind\n");
    uint64_t t = HOUR;
    for (int i = 0; i < PAIRS + ALONE; i++) {
        at [i] = t;
        fprintf (out, "%" PRIu64 ",alice,,chat.opened\n", t);
        if (i < PAIRS)
            fprintf (out, "%" PRIu64 ",alice,chat,\n", t + 8000);
        t += (uint64_t) s_gaps [i] * 60000;
    }
    fclose (out);
}

//  What the bus carried, in event time.
typedef struct {
    uint64_t warm_at [64];      //  warmup.requested warm chat
    int warms;
    int outcome [PAIRS];        //  the requests' outcomes
    int requests;
    int intents;
} s_seen_t;

//  Take the replay's events until every intent and request came.
static void
s_collect (wp_bus_t *bus, s_seen_t *seen)
{
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    while (zclock_mono () < deadline && (seen->intents < PAIRS + ALONE
                                         || seen->requests < PAIRS)) {
        wp_bus_event_t event;
        if (wp_bus_recv_wait (bus, &event, 200) != 1)
            continue;
        if (event.topic == WP_TOPIC_INTENT)
            seen->intents++;
        else
        if (event.topic == WP_TOPIC_USAGE && seen->requests < PAIRS)
            seen->outcome [seen->requests++] =
                ((const Warmup__V1__UsageObserved *) event.msg)->outcome;
        else
        if (event.topic == WP_TOPIC_WARMUP_REQUEST && seen->warms < 64) {
            const Warmup__V1__WarmupRequested *r =
                (const Warmup__V1__WarmupRequested *) event.msg;
            if (r->action == WARMUP__V1__ACTION__ACTION_WARM && streq (r->model, "chat"))
                seen->warm_at [seen->warms++] = r->event_ms;
        }
        wp_bus_event_free (&event);
    }
    assert_int_equal (seen->intents, PAIRS + ALONE);
    assert_int_equal (seen->requests, PAIRS);
}

//  A warm asked in [from, until).
static bool
s_warm_in (const s_seen_t *seen, uint64_t from, uint64_t until)
{
    for (int i = 0; i < seen->warms; i++)
        if (seen->warm_at [i] >= from && seen->warm_at [i] < until)
            return true;
    return false;
}

//  "key": value of the policy named name in JSON text, times 1000.
static long long
s_number (const char *text, const char *name, const char *key)
{
    char value [64];
    itest_policy_value (text, name, key, value, sizeof value);
    return (long long) (atof (value) * 1000 + 0.5);
}

static void
test_intent_warms_ahead (void **state)
{
    itest_t it;
    itest_init (&it, "intent-replay", "cold_wait_price = 10\n");
    char catalog [512], trace [512];
    uint64_t at [PAIRS + ALONE];
    s_write (it.dir, catalog, trace, sizeof catalog, at);
    char *path = wp_test_bin ("warmupd");
    const char *argv [] = { path, "-c", it.config, "--replay", "--catalog", catalog,
                            "--max-memory-mb", "0", NULL };
    wp_test_proc_t *daemon = wp_test_spawn (argv);
    free (path);
    if (wp_test_proc_wait_line (daemon, "ready", ITEST_START_MS, NULL, 0))
        fail_msg ("warmupd did not get ready:\n%s", wp_test_proc_output (daemon));
    const char *topics [] = { "usage.", "warmup.requested", NULL };
    wp_bus_t *bus = itest_bus (&it, topics);

    path = wp_test_bin ("warmupctl");
    const char *replay [] = { path, "-c", it.config, "replay", "--trace", trace, "--catalog",
                              catalog, "--budget-mb", "0", "--json", "--quiet", NULL };
    char *live = NULL;
    int code = wp_test_run (replay, REPLAY_MS, &live);
    free (path);
    if (code != 0)
        fail_msg ("warmupctl replay exited %d:\n%s", code, live ? live : "");
    assert_non_null (strstr (live, "has intents: a round per event"));

    s_seen_t seen = { .warms = 0 };
    s_collect (bus, &seen);
    //  Nothing learned: the first request waits for its load.
    assert_int_equal (seen.outcome [0], WARMUP__V1__OUTCOME__OUTCOME_COLD);
    assert_false (s_warm_in (&seen, at [0], at [0] + 8000));
    //  Then each intent warms the model before its request: warm.
    for (int i = 1; i < PAIRS; i++) {
        if (!s_warm_in (&seen, at [i], at [i] + 8000))
            fail_msg ("intent %d at %" PRIu64 ": no warm before its request", i, at [i]);
        assert_int_equal (seen.outcome [i], WARMUP__V1__OUTCOME__OUTCOME_WARM);
    }
    //  Intents never followed: the first ones still warm, the last warm
    //  nothing within their horizon.
    assert_true (s_warm_in (&seen, at [PAIRS], at [PAIRS] + 300000));
    for (int i = PAIRS + ALONE - 2; i < PAIRS + ALONE; i++)
        if (s_warm_in (&seen, at [i], at [i] + 300000))
            fail_msg ("lone intent %d at %" PRIu64 " still warms", i, at [i]);

    //  warmup-eval's predictive at the same price: the same numbers.
    path = wp_test_bin ("warmup-eval");
    const char *eval [] = { path, "--trace", trace, "--catalog", catalog, "--budget-mb", "0",
                            "--policy", "predictive:10", "--json", "--no-baselines",
                            "--quiet", NULL };
    char *offline = NULL;
    assert_int_equal (wp_test_run (eval, REPLAY_MS, &offline), 0);
    free (path);
    const char *keys [] = { "requests", "cold_starts", "delayed", "prewarms",
                            "useful_prewarms", "resident_gb_s" };
    for (size_t k = 0; k < sizeof keys / sizeof keys [0]; k++) {
        long long a = s_number (live, "predictive-live", keys [k]);
        long long b = s_number (offline, "predictive:10", keys [k]);
        if (a != b)
            fail_msg ("%s: live %lld, warmup-eval %lld (x1000)\n%s\n%s", keys [k], a, b, live,
                      offline);
    }
    assert_int_equal (s_number (offline, "predictive:10", "cold_starts"), 1000);
    free (live);
    free (offline);
    wp_bus_destroy (&bus);
    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_intent_warms_ahead),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
