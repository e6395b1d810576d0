/*  =========================================================================
    test_resync - a restarted engine takes the analyzer's pairs back from
    its snapshot (sync.request / sync.reply), under load.

    One process per component (bus, analyzer, engine). Quiet users ask
    model m0 then m1 30 s later, an hour apart, a few times, then never
    again; loaded users keep asking m0 and m1 at S_RATE events/s. The
    engine is killed with SIGKILL under that load and started again. Then,
    with no request of the quiet users' pairs since:
      * its heartbeat shows a resync, and as many pairs known as the
        analyzer holds (the loaded users' pairs come back by their
        requests too; the quiet ones only by the snapshot);
      * one request of m0 by a quiet user is answered with a prediction of
        m1 (a follower is predicted only from a pair the engine knows);
      * after a gap in the analyzer's events (one made here: an event of
        its source numbered far past the last), the engine asks only for
        the pairs asked for since shortly before the latest it took.
    It prints how long the resync took and what it carried
    (WP_RESYNC_QUIET=N: N quiet users, to measure a large snapshot).

    And an operator's pins (warmupctl pin, unpin) outlive a kill -9 of the
    scheduler's process and of warmupd, until the configuration changes
    the model's pin; and the metrics component, killed under load, goes on
    from the counts it kept instead of from zero, and knows from the
    queue's snapshot that the model warmed before is resident.
    =========================================================================
*/
#include "itest.h"
#include "iload.h"

#define S_LOAD_USERS 100        //  u000..: m0 and m1 under load
#define S_QUIET_USERS 50        //  q000..: history before the kill only
                                //  (WP_RESYNC_QUIET: more, to measure)
#define S_RATE 1000             //  usage events per second
#define HOUR 3600000ULL

//  The load: the loaded users ask m0 and m1 in turn.
static void
s_pick (uint64_t n, char *user, char *model, void *arg)
{
    snprintf (user, 32, "u%03d", (int) (n % S_LOAD_USERS));
    snprintf (model, 32, "m%d", (int) (n / S_LOAD_USERS % 2));
}

//  Publish one usage event.
static void
s_usage (wp_bus_t *bus, const char *user, const char *model, uint64_t at_ms)
{
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    usage.user = (char *) user;
    usage.model = (char *) model;
    usage.task = WARMUP__V1__TASK__TASK_COMPLETION;
    usage.event_ms = at_ms;
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_USAGE, &usage.base), 0);
}

//  The latest heartbeat of a component (of one pid, if set).
typedef struct {
    const char *component;
    int pid;                    //  0: any
    uint64_t items, resyncs, resync_items, served;
} s_beat_t;

static bool
s_is_beat (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    s_beat_t *want = (s_beat_t *) arg;
    const Warmup__V1__Heartbeat *beat = (const Warmup__V1__Heartbeat *) msg;
    if (topic != WP_TOPIC_HEARTBEAT || !streq (beat->component, want->component)
        || (want->pid && (int) beat->pid != want->pid))
        return false;
    want->items = beat->state_items;
    want->resyncs = beat->resyncs;
    want->resync_items = beat->resync_items;
    want->served = beat->snapshots_served;
    return true;
}

//  A heartbeat of the component showing at least `items` entries (and a
//  resync, if asked): true when seen within the bound.
static bool
s_wait_items (wp_bus_t *bus, s_beat_t *beat, uint64_t items, bool resynced, int timeout_ms)
{
    int64_t deadline = zclock_mono () + wp_test_ms (timeout_ms);
    while (zclock_mono () < deadline) {
        if (itest_wait_event (bus, s_is_beat, beat, 1000) && beat->items >= items
            && (!resynced || beat->resyncs >= 1))
            return true;
    }
    return false;
}

//  A prediction.made for user naming model.
typedef struct {
    const char *user;           //  the id on the bus
    const char *model;
    size_t models;              //  out: models it named
} s_predicted_t;

static bool
s_is_prediction (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    s_predicted_t *want = (s_predicted_t *) arg;
    const Warmup__V1__PredictionMade *made = (const Warmup__V1__PredictionMade *) msg;
    if (topic != WP_TOPIC_PREDICTION || !made->user || !streq (made->user, want->user))
        return false;
    want->models = made->n_models;
    for (size_t i = 0; i < made->n_models; i++)
        if (streq (made->models [i]->model, want->model))
            return true;
    return false;
}

//  A gap made in the analyzer's usage.pattern stream, and the engine's
//  resync after it.
typedef struct {
    uint8_t data [8192];        //  a pattern of the analyzer's, renumbered
    size_t len;
    char request_id [128];      //  the engine's request after the gap
    uint64_t since_ms;          //  what it asked from
    uint64_t items;             //  the reply's items
} s_gap_t;

//  Take one usage.pattern of the analyzer, numbered far past its last.
static bool
s_take_pattern (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    s_gap_t *gap = (s_gap_t *) arg;
    Warmup__V1__UsagePattern *pattern = (Warmup__V1__UsagePattern *) msg;
    if (topic != WP_TOPIC_PATTERN || strncmp (pattern->header->source, "analyzer/", 9)
        || protobuf_c_message_get_packed_size (msg) > sizeof gap->data)
        return false;
    pattern->header->seq += 1000000;
    gap->len = protobuf_c_message_pack (msg, gap->data);
    return true;
}

//  The engine's request with a since_ms, then its answer's last part.
static bool
s_is_partial_resync (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    s_gap_t *gap = (s_gap_t *) arg;
    if (topic == WP_TOPIC_SYNC_REQUEST && !*gap->request_id) {
        const Warmup__V1__SyncRequest *request = (const Warmup__V1__SyncRequest *) msg;
        if (request->requester && streq (request->requester, "engine") && request->since_ms) {
            snprintf (gap->request_id, sizeof gap->request_id, "%s", request->request_id);
            gap->since_ms = request->since_ms;
        }
    }
    const Warmup__V1__SyncReply *reply = (const Warmup__V1__SyncReply *) msg;
    if (topic != WP_TOPIC_SYNC_REPLY || !*gap->request_id || !reply->last
        || !streq (reply->request_id, gap->request_id))
        return false;
    gap->items = reply->items_total;
    return true;
}

//  Quiet users: WP_RESYNC_QUIET, or S_QUIET_USERS.
static int
s_quiet_users (void)
{
    const char *text = getenv ("WP_RESYNC_QUIET");
    int quiet = text ? atoi (text) : S_QUIET_USERS;
    return quiet < S_QUIET_USERS ? S_QUIET_USERS : quiet > 400000 ? 400000 : quiet;
}

//  Print the lines of text that hold needle.
static void
s_print_lines (const char *text, const char *needle)
{
    for (const char *at = strstr (text, needle); at; at = strstr (at + 1, needle)) {
        const char *start = at;
        while (start > text && start [-1] != '\n')
            start--;
        const char *end = strchr (at, '\n');
        print_message ("  %.*s\n", (int) (end ? end - start : (long) strlen (start)), start);
    }
}

static void
test_engine_resync (void **state)
{
    int quiet = s_quiet_users ();
    int pairs = 2 * (S_LOAD_USERS + quiet);
    int bound_ms = 20000 + pairs / 5;       //  (5 pairs a ms on a slow machine)
    itest_t it;
    itest_init (&it, "resync", "models\n    m0\n        load_ms = 2000\n"
                               "    m1\n        load_ms = 2000\n");
    wp_test_proc_t *bus = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *analyzer = itest_start (&it, "warmup-analyzer", NULL, NULL);
    wp_test_proc_t *engine = itest_start (&it, "warmup-engine", NULL, NULL);
    const char *topics [] = { "heartbeat", "prediction.made", NULL };
    wp_bus_t *client = itest_bus (&it, topics);

    //  The quiet users' history: m0, then m1 30 s later, hourly (once
    //  when there are many), in blocks the analyzer takes in before the
    //  next (no high-water mark reached)
    uint64_t now = wp_wall_us () / 1000;
    int rounds = quiet > 1000 ? 1 : 6;
    s_beat_t learned = { "analyzer", 0, 0, 0, 0, 0 };
    for (int u = 0; u < quiet; u++) {
        char user [16];
        snprintf (user, sizeof user, "q%03d", u);
        for (int i = rounds; i >= 1; i--) {
            s_usage (client, user, "m0", now - i * HOUR);
            s_usage (client, user, "m1", now - i * HOUR + 30000);
        }
        if ((u + 1) % 5000 == 0
            && !s_wait_items (client, &learned, 2 * (uint64_t) (u + 1), false, bound_ms))
            fail_msg ("the analyzer holds %" PRIu64 " pairs, not %d", learned.items,
                      2 * (u + 1));
    }
    iload_t load = { .it = &it, .rate = S_RATE, .pick = s_pick };
    iload_start (&load);
    if (!s_wait_items (client, &learned, pairs, false, bound_ms))
        fail_msg ("the analyzer holds %" PRIu64 " pairs, not %d", learned.items, pairs);
    s_beat_t before = { "engine", 0, 0, 0, 0, 0 };
    if (!s_wait_items (client, &before, pairs, false, bound_ms))
        fail_msg ("the engine knows %" PRIu64 " pairs before the kill", before.items);

    //  Kill it under load, start it again
    assert_int_equal (kill (wp_test_proc_pid (engine), SIGKILL), 0);
    wp_test_proc_wait (engine, ITEST_STOP_MS);
    wp_test_proc_destroy (&engine);
    int64_t restarted = zclock_mono ();
    engine = itest_start (&it, "warmup-engine", NULL, NULL);
    s_beat_t after = { "engine", wp_test_proc_pid (engine), 0, 0, 0, 0 };
    if (!s_wait_items (client, &after, pairs, true, bound_ms))
        fail_msg ("after its restart the engine knows %" PRIu64 " pairs (%" PRIu64
                  " resyncs, %" PRIu64 " items), the analyzer %d:\n%s", after.items,
                  after.resyncs, after.resync_items, pairs,
                  wp_test_proc_output (engine));
    int64_t back_ms = zclock_mono () - restarted;
    assert_int_equal (after.items, pairs);
    assert_true (after.resync_items >= (uint64_t) pairs);
    s_beat_t served = { "analyzer", wp_test_proc_pid (analyzer), 0, 0, 0, 0 };
    assert_true (itest_wait_event (client, s_is_beat, &served, 5000));
    assert_true (served.served >= 1);

    //  A quiet user's request of m0: m1 follows it (its pair came back by
    //  the snapshot alone)
    char q007 [WP_USER_ID_LEN + 1];
    itest_user_id (&it, "q007", 'u', q007);
    s_usage (client, "q007", "m0", wp_wall_us () / 1000);
    s_predicted_t want = { q007, "m1", 0 };
    if (!itest_wait_event (client, s_is_prediction, &want, 10000))
        fail_msg ("no prediction of m1 after m0 for a quiet user");

    //  A gap in the analyzer's events: the engine asks only for the pairs
    //  asked for since shortly before the latest pattern it took (the
    //  loaded users' and q007's m0, not the quiet users' older ones)
    const char *spy_topics [] = { "usage.pattern", "sync.", NULL };
    wp_bus_t *spy = itest_bus (&it, spy_topics);
    s_gap_t *gap = (s_gap_t *) calloc (1, sizeof (s_gap_t));
    assert_non_null (gap);
    assert_true (itest_wait_event (spy, s_take_pattern, gap, 5000));
    zmsg_t *forged = zmsg_new ();
    zmsg_addstr (forged, "usage.pattern");
    zmsg_addmem (forged, gap->data, gap->len);
    assert_int_equal (wp_bus_send_raw (spy, &forged), 0);
    if (!itest_wait_event (spy, s_is_partial_resync, gap, 10000))
        fail_msg ("no resync since an event time after a gap (request '%s')",
                  gap->request_id);
    uint64_t now_ms = wp_wall_us () / 1000;
    assert_true (gap->since_ms + 120000 > now_ms && gap->since_ms < now_ms);
    assert_int_equal (gap->items, 2 * S_LOAD_USERS + 1);
    print_message ("resync after a gap: since %" PRIu64 " ms before now, %" PRIu64
                   " pairs (of %d)\n", now_ms - gap->since_ms, gap->items, pairs);
    free (gap);
    wp_bus_destroy (&spy);

    uint64_t total = iload_stop (&load);
    print_message ("resync: engine killed under %d events/s (%" PRIu64 " sent); %" PRIu64
                   " pairs known again %" PRId64 " ms after its restart (%" PRIu64
                   " resyncs, %" PRIu64 " items; analyzer served %" PRIu64 ")\n", S_RATE,
                   total, after.items, back_ms, after.resyncs,
                   after.resync_items, served.served);
    s_print_lines (wp_test_proc_output (analyzer), "snapshot for engine");
    s_print_lines (wp_test_proc_output (engine), "resynced from");
    wp_bus_destroy (&client);
    itest_stop (&engine, "warmup-engine");
    itest_stop (&analyzer, "warmup-analyzer");
    itest_stop (&bus, "warmup-bus");
    itest_destroy (&it);
}

//  --- Operator pins kept over a restart -----------------------------------------

//  The scheduler's pin of each model m0..m2: 'o' pinned by the operator,
//  'c' by the configuration, '-' not pinned.
typedef struct {
    char pins [4];
} s_pins_t;

//  Ask the scheduler for its models until it answers (it may be starting);
//  true with *pins filled when it did within the bound.
static bool
s_ask_pins (wp_bus_t *bus, s_pins_t *pins)
{
    static int asked = 0;
    int64_t deadline = zclock_mono () + wp_test_ms (15000);
    while (zclock_mono () < deadline) {
        char id [32];
        snprintf (id, sizeof id, "pins#%d", ++asked);
        Warmup__V1__ControlRequest control = WARMUP__V1__CONTROL_REQUEST__INIT;
        control.command = WARMUP__V1__COMMAND__COMMAND_MODELS;
        control.request_id = id;
        wp_bus_publish (bus, WP_TOPIC_CONTROL, &control.base);
        int64_t wait_until = zclock_mono () + 1000;
        while (zclock_mono () < wait_until) {
            wp_bus_event_t event;
            if (wp_bus_recv_wait (bus, &event, 200) != 1)
                continue;
            const Warmup__V1__ControlReply *reply = (const Warmup__V1__ControlReply *) event.msg;
            bool ours = event.topic == WP_TOPIC_CONTROL_REPLY && reply->request_id
                     && streq (reply->request_id, id);
            if (ours) {
                snprintf (pins->pins, sizeof pins->pins, "---");
                for (size_t i = 0; i < reply->n_models; i++) {
                    const Warmup__V1__ModelState *model = reply->models [i];
                    int m = model->model [0] == 'm' ? atoi (model->model + 1) : -1;
                    if (m >= 0 && m < 3 && model->pinned)
                        pins->pins [m] = streq (model->pin_source, "operator") ? 'o' : 'c';
                }
            }
            wp_bus_event_free (&event);
            if (ours)
                return true;
        }
    }
    return false;
}

//  Run warmupctl pin or unpin; it must succeed.
static void
s_pin (itest_t *it, const char *verb, const char *model)
{
    const char *args [] = { verb, model, NULL };
    char *output = NULL;
    if (itest_ctl (it, args, &output) != 0)
        fail_msg ("warmupctl %s %s: %s", verb, model, output);
    assert_non_null (strstr (output, "kept over restarts"));
    free (output);
}

//  The scheduler's pins are want (m0, m1, m2), asked through bus.
static void
s_assert_pins (wp_bus_t *bus, const char *want, const char *when)
{
    s_pins_t pins;
    if (!s_ask_pins (bus, &pins))
        fail_msg ("%s: the scheduler does not answer", when);
    if (!streq (pins.pins, want))
        fail_msg ("%s: pins %s, want %s (o operator, c config, - none)", when, pins.pins,
                  want);
    print_message ("pins %s: %s\n", when, pins.pins);
}

//  Kill a process with SIGKILL and wait for it.
static void
s_kill (wp_test_proc_t **proc)
{
    assert_int_equal (kill (wp_test_proc_pid (*proc), SIGKILL), 0);
    wp_test_proc_wait (*proc, ITEST_STOP_MS);
    wp_test_proc_destroy (proc);
}

#define S_PIN_MODELS "max_warm_models = 3\nmodels\n" \
                     "    m0\n        memory_mb = 100\n%s" \
                     "    m1\n        memory_mb = 100\n        pin = true\n" \
                     "    m2\n        memory_mb = 100\n"

//  An operator's pin and unpin outlive a kill -9 of the scheduler's
//  process and of warmupd; a configuration that changes the model's pin
//  since replaces the operator's.
static void
test_pins_kept (void **state)
{
    itest_t it;
    char extra [512];
    snprintf (extra, sizeof extra, S_PIN_MODELS, "");
    itest_init (&it, "pins", extra);
    const char *topics [] = { "control.reply", NULL };

    //  One process per component: the scheduler killed
    wp_test_proc_t *bus = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *scheduler = itest_start (&it, "warmup-scheduler", NULL, NULL);
    wp_bus_t *client = itest_bus (&it, topics);
    s_assert_pins (client, "-c-", "at start");
    s_pin (&it, "pin", "m0");
    s_pin (&it, "unpin", "m1");
    s_pin (&it, "pin", "m2");
    s_pin (&it, "unpin", "m2");
    s_assert_pins (client, "o--", "after pin m0, unpin m1, pin and unpin m2");
    s_kill (&scheduler);
    scheduler = itest_start (&it, "warmup-scheduler", NULL, NULL);
    s_assert_pins (client, "o--", "after kill -9 of the scheduler");
    wp_bus_destroy (&client);
    itest_stop (&scheduler, "warmup-scheduler");
    itest_stop (&bus, "warmup-bus");

    //  All in one process, the same store: warmupd killed
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    client = itest_bus (&it, topics);
    s_assert_pins (client, "o--", "warmupd on the same store");
    s_pin (&it, "unpin", "m0");
    s_pin (&it, "pin", "m2");
    s_kill (&daemon);
    daemon = itest_start (&it, "warmupd", NULL, NULL);
    s_assert_pins (client, "--o", "after kill -9 of warmupd");

    //  The configuration pins m0 now: that replaces the operator's unpin
    wp_bus_destroy (&client);
    s_kill (&daemon);
    snprintf (extra, sizeof extra, S_PIN_MODELS, "        pin = true\n");
    itest_config (&it, extra);
    daemon = itest_start (&it, "warmupd", NULL, NULL);
    client = itest_bus (&it, topics);
    s_assert_pins (client, "c-o", "after the configuration pinned m0");
    wp_bus_destroy (&client);
    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
}

//  --- Metrics' counters kept over a restart ---------------------------------------

//  A metrics.snapshot of the process pid (0: any) with at least `requests`.
typedef struct {
    int pid;
    uint64_t requests;          //  at least this; out: its count
    uint64_t resident_mb;       //  at least this; out: its memory resident
} s_counted_t;

static bool
s_is_counted (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    s_counted_t *want = (s_counted_t *) arg;
    const Warmup__V1__MetricsSnapshot *snap = (const Warmup__V1__MetricsSnapshot *) msg;
    if (topic != WP_TOPIC_METRICS)
        return false;
    char suffix [32];
    snprintf (suffix, sizeof suffix, ":%d", want->pid);
    const char *source = snap->header->source;
    size_t len = strlen (source), suffix_len = strlen (suffix);
    if (want->pid && (len < suffix_len || !streq (source + len - suffix_len, suffix)))
        return false;
    if (snap->requests < want->requests || snap->resident_mb < want->resident_mb)
        return false;
    want->requests = snap->requests;
    want->resident_mb = snap->resident_mb;
    return true;
}

//  The metrics component, killed under load and started again, goes on
//  from the counts it kept (a flush period at most lost), not from zero,
//  and knows from the queue's snapshot that the model warmed before is
//  resident.
static void
test_metrics_kept (void **state)
{
    itest_t it;
    itest_init (&it, "metrics-kept", "metrics_interval_ms = 100\nmodels\n"
                                     "    w0\n        memory_mb = 100\n"
                                     "        load_ms = 1\n");
    wp_test_proc_t *bus = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *queue = itest_start (&it, "warmup-queue", NULL, NULL);
    wp_test_proc_t *metrics = itest_start (&it, "warmup-metrics", NULL, NULL);
    const char *topics [] = { "metrics.snapshot", NULL };
    wp_bus_t *client = itest_bus (&it, topics);
    iload_t load = { .it = &it, .rate = S_RATE, .pick = s_pick };
    iload_start (&load);
    const char *warm [] = { "warm", "w0", NULL };
    assert_int_equal (itest_ctl (&it, warm, NULL), 0);
    //  Counted a while: a count, then a second of flushes after it
    s_counted_t first = { wp_test_proc_pid (metrics), 2000, 100 };
    if (!itest_wait_event (client, s_is_counted, &first, 20000))
        fail_msg ("no metrics.snapshot with 2000 requests and w0 resident");
    s_counted_t later = { wp_test_proc_pid (metrics), first.requests + S_RATE, 100 };
    if (!itest_wait_event (client, s_is_counted, &later, 20000))
        fail_msg ("no metrics.snapshot with %" PRIu64 " requests", later.requests);
    s_kill (&metrics);
    uint64_t sent = (uint64_t) atomic_load (&load.sent);
    metrics = itest_start (&it, "warmup-metrics", NULL, NULL);
    s_counted_t after = { wp_test_proc_pid (metrics), 0, 0 };
    if (!itest_wait_event (client, s_is_counted, &after, 20000))
        fail_msg ("no metrics.snapshot after the restart");
    s_counted_t resident = { wp_test_proc_pid (metrics), 0, 100 };
    if (!itest_wait_event (client, s_is_counted, &resident, 10000))
        fail_msg ("after the restart, w0 is not resident in the metrics");
    uint64_t total = iload_stop (&load);
    print_message ("metrics: %" PRIu64 " requests counted a second before the kill, %"
                   PRIu64 " at the last snapshot before it (%" PRIu64 " sent at the kill); "
                   "%" PRIu64 " in the first snapshot after the restart\n", first.requests,
                   later.requests, sent, after.requests);
    assert_true (after.requests >= first.requests);
    assert_true (after.requests <= total);
    wp_bus_destroy (&client);
    itest_stop (&metrics, "warmup-metrics");
    itest_stop (&queue, "warmup-queue");
    itest_stop (&bus, "warmup-bus");
    itest_destroy (&it);
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_engine_resync),
        cmocka_unit_test (test_pins_kept),
        cmocka_unit_test (test_metrics_kept),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
