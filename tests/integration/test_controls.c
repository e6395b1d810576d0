/*  =========================================================================
    test_controls - the operator's controls with the real daemon: a pinned
    model is warmed at start-up with no usage, survives memory pressure
    and is never cooled; a preloaded model is warmed at start-up and
    cooled when unused; a group warms together; warmupctl pin, unpin and
    models; a reload (warmupctl reload, SIGHUP) adds a model and changes a
    pin without a restart and keeps what the analyzer learned; a bad
    reload changes nothing.
    =========================================================================
*/
#include "itest.h"

//  What a test waits for, and what it must never see meanwhile.
typedef struct {
    wp_topic_t topic;           //  WP_TOPIC_WARMUP_REQUEST or _DONE
    const char *model;
    int action;                 //  WARMUP__V1__ACTION__ACTION_*
    const char *reason;         //  substring of the reason (requests), or NULL
    const char *never_cooled;   //  a model whose cool request fails the test
    bool cooled;                //  out: never_cooled was asked to cool
} want_t;

static bool
s_want (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    want_t *want = (want_t *) arg;
    if (topic == WP_TOPIC_WARMUP_REQUEST) {
        const Warmup__V1__WarmupRequested *in = (const Warmup__V1__WarmupRequested *) msg;
        if (want->never_cooled && streq (in->model, want->never_cooled)
            && in->action == WARMUP__V1__ACTION__ACTION_COOL
            && !streq (in->reason, "manual"))     //  the test's own cool
            want->cooled = true;
        return topic == want->topic && streq (in->model, want->model)
            && (int) in->action == want->action
            && (!want->reason || strstr (in->reason, want->reason));
    }
    if (topic == WP_TOPIC_WARMUP_DONE && topic == want->topic) {
        const Warmup__V1__WarmupDone *in = (const Warmup__V1__WarmupDone *) msg;
        return streq (in->model, want->model) && (int) in->action == want->action && in->ok;
    }
    return false;
}

//  Wait for a warmup.requested of model/action whose reason has `reason`.
static void
s_wait_request (wp_bus_t *bus, want_t *want, const char *model, int action,
                const char *reason, int timeout_ms)
{
    want->topic = WP_TOPIC_WARMUP_REQUEST;
    want->model = model;
    want->action = action;
    want->reason = reason;
    if (!itest_wait_event (bus, s_want, want, timeout_ms))
        fail_msg ("no warmup.requested %s %s (%s)", action == 1 ? "warm" : "cool", model,
                  reason ? reason : "any reason");
}

//  Wait for a successful warmup.done of model/action.
static void
s_wait_done (wp_bus_t *bus, want_t *want, const char *model, int action)
{
    want->topic = WP_TOPIC_WARMUP_DONE;
    want->model = model;
    want->action = action;
    want->reason = NULL;
    if (!itest_wait_event (bus, s_want, want, ITEST_EVENT_MS))
        fail_msg ("no warmup.done %s %s ok", action == 1 ? "warm" : "cool", model);
}

//  warmupctl models --json into *listing, which must be NULL or what an
//  earlier call put there (freed first); the caller frees the last. The
//  caller's variable holds the output, so no pointer outlives its storage.
static void
s_models (itest_t *it, char **listing)
{
    const char *args [] = { "models", "--json", NULL };
    free (*listing);
    *listing = NULL;
    int code = itest_ctl (it, args, listing);
    if (code != 0)
        fail_msg ("warmupctl models failed (%d): %s", code, *listing);
}

//  The JSON object of one model in a listing (a pointer into it), or NULL.
static const char *
s_model_in (const char *listing, const char *model)
{
    char needle [300];
    snprintf (needle, sizeof needle, "\"model\":\"%s\"", model);
    return strstr (listing, needle);
}

//  True if the listing's entry for model has `field` (e.g. "\"pinned\":true")
//  before the next model's entry.
static bool
s_model_has (const char *listing, const char *model, const char *field)
{
    const char *entry = s_model_in (listing, model);
    if (!entry)
        return false;
    const char *next = strstr (entry + 1, "\"model\":\"");
    const char *found = strstr (entry, field);
    return found && (!next || found < next);
}

//  Ask for the models listing until the entry of model has both fields
//  (the second may be NULL), or fail after the bound. What the scheduler
//  decides at its first tick may come before the test's own subscription
//  is ready: its state proves it whenever the test looks.
static void
s_wait_listing (itest_t *it, const char *model, const char *field, const char *also)
{
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    char *listing = NULL;
    while (true) {
        s_models (it, &listing);
        if (s_model_has (listing, model, field) && (!also || s_model_has (listing, model, also)))
            break;
        if (zclock_mono () >= deadline)
            fail_msg ("%s never had %s%s%s:\n%s", model, field, also ? " and " : "",
                      also ? also : "", listing);
    }
    free (listing);
}

//  Ask for metrics snapshots until one has both needles, or fail after
//  the bound.
static void
s_wait_metrics (itest_t *it, const char *needle, const char *also)
{
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    const char *args [] = { "metrics", "--json", "--timeout", "60", NULL };
    char *output = NULL;
    while (true) {
        free (output);
        output = NULL;
        int code = itest_ctl (it, args, &output);
        if (code == 0 && strstr (output, needle) && strstr (output, also))
            break;
        if (zclock_mono () >= deadline)
            fail_msg ("no snapshot with %s and %s (exit %d):\n%s", needle, also, code, output);
    }
    free (output);
}

#define WARM WARMUP__V1__ACTION__ACTION_WARM
#define COOL WARMUP__V1__ACTION__ACTION_COOL

//  A pinned model is warm at start-up with no usage, stays warm while the
//  other models compete for the memory, and is never cooled; a pin that
//  would not fit is refused.
static void
test_pin_survives_pressure (void **state)
{
    itest_t it;
    itest_init (&it, "wp-ctl-pin",
                "max_memory_mb = 1000\n"
                "max_warm_models = 3\n"
                "models\n"
                "    embed\n"
                "        memory_mb = 300\n"
                "        load_ms = 20\n"
                "        pin = true\n"
                "    big-a\n"
                "        memory_mb = 600\n"
                "        load_ms = 20\n"
                "    big-b\n"
                "        memory_mb = 600\n"
                "        load_ms = 20\n");
    const char *topics [] = { "warmup.", NULL };
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    wp_bus_t *bus = itest_bus (&it, topics);
    want_t want = { .never_cooled = "embed" };
    //  Warm for its pin with no usage at all.
    s_wait_listing (&it, "embed", "\"state\":\"warm\"", "\"last_reason\":\"pinned (config)\"");

    //  Two users want the big models: only one fits beside the pin.
    itest_emit_burst (&it, "alice", "big-a", 4, 10000);
    s_wait_done (bus, &want, "big-a", WARM);
    itest_emit_burst (&it, "bob", "big-b", 4, 10000);
    itest_emit_burst (&it, "alice", "big-a", 2, 1000);
    //  An operator cools the pinned model: the scheduler warms it again.
    const char *cool [] = { "cool", "embed", NULL };
    char *output = NULL;
    assert_int_equal (itest_ctl (&it, cool, &output), 0);
    free (output);
    s_wait_request (bus, &want, "embed", WARM, "pinned", ITEST_EVENT_MS);
    s_wait_done (bus, &want, "embed", WARM);
    assert_false (want.cooled);

    //  Pin big-a at run time (300 + 600 MiB of 1000); big-b too would
    //  need 1500: refused.
    const char *pin_a [] = { "pin", "big-a", NULL };
    output = NULL;
    assert_int_equal (itest_ctl (&it, pin_a, &output), 0);
    assert_non_null (strstr (output, "big-a pinned"));
    free (output);
    const char *pin [] = { "pin", "big-b", NULL };
    output = NULL;
    assert_int_equal (itest_ctl (&it, pin, &output), 1);
    assert_non_null (strstr (output, "cannot pin big-b"));
    free (output);

    char *listing = NULL;
    s_models (&it, &listing);
    assert_true (s_model_has (listing, "embed", "\"pinned\":true"));
    assert_true (s_model_has (listing, "embed", "\"state\":\"warm\""));
    assert_true (s_model_has (listing, "embed", "\"pin_source\":\"config\""));
    assert_true (s_model_has (listing, "embed", "\"last_reason\":\"pinned (config)\""));
    assert_false (s_model_has (listing, "big-b", "\"pinned\":true"));
    assert_true (s_model_has (listing, "big-a", "\"pin_source\":\"operator\""));
    //  Never both big models with the pin: at most one is warm or loading.
    bool a = s_model_has (listing, "big-a", "\"state\":\"warm\"")
          || s_model_has (listing, "big-a", "\"state\":\"loading\"");
    bool b = s_model_has (listing, "big-b", "\"state\":\"warm\"")
          || s_model_has (listing, "big-b", "\"state\":\"loading\"");
    assert_false (a && b);
    free (listing);

    //  Unpin at run time: managed like any other, listed so.
    const char *unpin [] = { "unpin", "embed", NULL };
    output = NULL;
    assert_int_equal (itest_ctl (&it, unpin, &output), 0);
    assert_non_null (strstr (output, "embed unpinned"));
    free (output);
    listing = NULL;
    s_models (&it, &listing);
    assert_true (s_model_has (listing, "embed", "\"pinned\":false"));
    free (listing);

    assert_false (want.cooled);
    itest_stop (&daemon, "warmupd");
    wp_bus_destroy (&bus);
    itest_destroy (&it);
}

//  A preloaded model is warm at start-up, then cooled when unused past
//  min_keep_seconds.
static void
test_preload_then_cooled (void **state)
{
    itest_t it;
    itest_init (&it, "wp-ctl-preload",
                "models\n"
                "    chat\n"
                "        memory_mb = 800\n"
                "        load_ms = 20\n"
                "        preload = true\n"
                "        min_keep_seconds = 1\n");
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    //  Both decisions may come before a subscription of the test's could
    //  be ready (the warm at the scheduler's first tick, the cool a
    //  second later): the scheduler's state shows them. Only a model it
    //  warmed for its preload is cooled for this reason.
    s_wait_listing (&it, "chat", "\"last_reason\":\"preloaded, no use",
                    "\"state\":\"cold\"");
    char *listing = NULL;
    s_models (&it, &listing);
    assert_true (s_model_has (listing, "chat", "\"preload\":true"));
    free (listing);
    //  The metrics component (started before the scheduler) counts one
    //  warm and one cool done.
    s_wait_metrics (&it, "\"warmups_ok\":1,", "\"cools\":1,");
    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
}

//  When a user's requests warm the chat model, its embedding model of the
//  same group is warmed with it.
static void
test_group_warms_together (void **state)
{
    itest_t it;
    itest_init (&it, "wp-ctl-group",
                "models\n"
                "    chat\n"
                "        memory_mb = 800\n"
                "        load_ms = 20\n"
                "    chat-embed\n"
                "        memory_mb = 200\n"
                "        load_ms = 20\n"
                "    other\n"
                "        memory_mb = 200\n"
                "groups\n"
                "    chatting\n"
                "        models = \"chat, chat-embed\"\n");
    const char *topics [] = { "warmup.", NULL };
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    wp_bus_t *bus = itest_bus (&it, topics);
    itest_emit_burst (&it, "alice", "chat", 4, 10000);
    want_t want = { 0 };
    s_wait_request (bus, &want, "chat", WARM, NULL, ITEST_EVENT_MS);
    s_wait_request (bus, &want, "chat-embed", WARM, "group chatting", ITEST_EVENT_MS);
    s_wait_done (bus, &want, "chat-embed", WARM);
    char *listing = NULL;
    s_models (&it, &listing);
    assert_true (s_model_has (listing, "chat-embed", "\"group\":\"chatting\""));
    assert_false (s_model_has (listing, "other", "\"state\":\"warm\""));
    free (listing);
    itest_stop (&daemon, "warmupd");
    wp_bus_destroy (&bus);
    itest_destroy (&it);
}

//  A reload adds a model and pins another without a restart; the
//  analyzer's counts go on from where they were.
static void
test_reload_adds_and_pins (void **state)
{
    itest_t it;
    itest_init (&it, "wp-ctl-reload",
                "models\n"
                "    coder\n"
                "        memory_mb = 500\n"
                "        load_ms = 20\n");
    const char *topics [] = { "warmup.", "usage.pattern", NULL };
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    wp_bus_t *bus = itest_bus (&it, topics);
    int pid = wp_test_proc_pid (daemon);
    uint64_t now = wp_wall_us () / 1000;
    itest_emit (&it, "dave", "coder", now - 2000);
    itest_emit (&it, "dave", "coder", now - 1000);
    itest_pattern_t learned = { "coder", 2, 0 };
    assert_true (itest_wait_event (bus, itest_is_pattern, &learned, ITEST_EVENT_MS));

    itest_config (&it, "models\n"
                    "    coder\n"
                    "        memory_mb = 500\n"
                    "        load_ms = 20\n"
                    "        pin = true\n"
                    "    embed\n"
                    "        memory_mb = 100\n"
                    "        load_ms = 20\n"
                    "        preload = true\n"
                    "        priority = high\n");
    const char *reload [] = { "reload", NULL };
    char *output = NULL;
    int code = itest_ctl (&it, reload, &output);
    if (code != 0)
        fail_msg ("reload failed (%d): %s", code, output);
    assert_non_null (strstr (output, "added: embed"));
    assert_non_null (strstr (output, "changed: coder"));
    free (output);
    //  The new model's preload is done at once.
    want_t want = { 0 };
    s_wait_request (bus, &want, "embed", WARM, "preload", ITEST_EVENT_MS);
    //  Same process; the analyzer still knows the two requests.
    assert_int_equal (wp_test_proc_pid (daemon), pid);
    itest_emit (&it, "dave", "coder", wp_wall_us () / 1000);
    learned.count = 3;
    assert_true (itest_wait_event (bus, itest_is_pattern, &learned, ITEST_EVENT_MS));
    //  coder is pinned: warm (or loading) whether its users' plan had it
    //  warm already or not.
    char *listing = NULL;
    s_models (&it, &listing);
    assert_true (s_model_has (listing, "coder", "\"pinned\":true"));
    assert_true (s_model_has (listing, "coder", "\"state\":\"warm\"")
                 || s_model_has (listing, "coder", "\"state\":\"loading\""));
    assert_true (s_model_has (listing, "embed", "\"configured\":true"));
    assert_true (s_model_has (listing, "embed", "\"priority\":\"PRIORITY_HIGH\""));
    free (listing);

    //  SIGHUP reloads too: the pin goes away, the reply says so.
    itest_config (&it, "models\n"
                    "    coder\n"
                    "        memory_mb = 500\n"
                    "        load_ms = 20\n");
    const char *replies [] = { "control.reply", NULL };
    wp_bus_t *listen = itest_bus (&it, replies);
    kill (pid, SIGHUP);
    wp_bus_event_t event;
    assert_int_equal (wp_bus_recv_wait (listen, &event, ITEST_EVENT_MS), 1);
    const Warmup__V1__ControlReply *reply = (const Warmup__V1__ControlReply *) event.msg;
    assert_true (reply->ok);
    assert_non_null (strstr (reply->message, "removed: embed"));
    wp_bus_event_free (&event);
    wp_bus_destroy (&listen);
    listing = NULL;
    s_models (&it, &listing);
    assert_true (s_model_has (listing, "coder", "\"pinned\":false"));
    free (listing);

    itest_stop (&daemon, "warmupd");
    wp_bus_destroy (&bus);
    itest_destroy (&it);
}

//  Run warmupctl with the bus endpoints only (its own config load would
//  refuse the bad file before the daemon sees the request).
static int
s_ctl_endpoints (itest_t *it, const char *command, char **output)
{
    char *path = wp_test_bin ("warmupctl");
    const char *argv [] = { path, "--pub-endpoint", it->pub, "--sub-endpoint", it->sub,
                            command, NULL };
    int code = wp_test_run (argv, ITEST_EVENT_MS, output);
    free (path);
    return code;
}

//  A reload of a bad file, or of one changing a key that needs a restart,
//  is refused with file:line:key and changes nothing.
static void
test_bad_reload_changes_nothing (void **state)
{
    itest_t it;
    itest_init (&it, "wp-ctl-bad",
                "models\n"
                "    coder\n"
                "        memory_mb = 500\n"
                "        pin = true\n");
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    //  Line 14 of the file: a bad value; "other" would be pinned.
    itest_config (&it, "models\n"
                    "    coder\n"
                    "        memory_mb = 500\n"
                    "    other\n"
                    "        pin = true\n"
                    "        priority = urgent\n");
    char *output = NULL;
    assert_int_equal (s_ctl_endpoints (&it, "reload", &output), 1);
    assert_non_null (strstr (output, "warmup.cfg:16: key 'models/other/priority': "
                                     "bad value 'urgent'"));
    free (output);
    //  A key that takes effect only at start.
    itest_config (&it, "models\n"
                    "    coder\n"
                    "        memory_mb = 500\n"
                    "max_pairs = 5000\n");
    output = NULL;
    assert_int_equal (s_ctl_endpoints (&it, "reload", &output), 1);
    assert_non_null (strstr (output, "warmup.cfg:14: key 'max_pairs': changed, but takes "
                                     "effect only at start"));
    free (output);
    //  Nothing changed: coder still pinned, other unknown.
    output = NULL;
    char *path = wp_test_bin ("warmupctl");
    const char *argv [] = { path, "--pub-endpoint", it.pub, "--sub-endpoint", it.sub,
                            "models", "--json", NULL };
    assert_int_equal (wp_test_run (argv, ITEST_EVENT_MS, &output), 0);
    free (path);
    assert_true (s_model_has (output, "coder", "\"pinned\":true"));
    assert_true (s_model_has (output, "coder", "\"configured\":true"));
    assert_null (s_model_in (output, "other"));
    free (output);
    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pin_survives_pressure),
        cmocka_unit_test (test_preload_then_cooled),
        cmocka_unit_test (test_group_warms_together),
        cmocka_unit_test (test_reload_adds_and_pins),
        cmocka_unit_test (test_bad_reload_changes_nothing),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
