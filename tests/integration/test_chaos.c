/*  =========================================================================
    test_chaos - the per-process deployment under a steady usage load; each
    component in turn (the bus proxy included) is killed with SIGKILL and
    started again, and after each:
      * every component is back in `warmupctl status --require all` within
        5 s of the restart's ready line;
      * the scheduler's model states equal the queue's (the queue's
        snapshot, asked for here as any component asks: sync.request);
      * no model was loaded twice: two successful warms of a model with
        no cool between them (what a scheduler that forgot what the queue
        holds would do);
      * the analyzer, killed, lost at most one commit batch of its pairs.
    It prints the counts: events sent, seen by the analyzer, dropped by
    sequence gaps, snapshots resynced. WP_CHAOS_ROUNDS (default 1) runs
    the whole cycle that many times (bench/chaos.sh runs more).
    =========================================================================
*/
#include "itest.h"
#include <pthread.h>
#include <stdatomic.h>

#define S_MODELS 6
#define S_USERS 200
#define S_RATE 2000             //  usage events per second
#define S_STATUS_MS 5000        //  back in status within this, after ready

static const char *s_components [] = {
    "analyzer", "engine", "scheduler", "queue", "perf", "resource", "metrics", NULL
};

//  The load: a thread publishing usage.observed at S_RATE.
typedef struct {
    itest_t *it;
    atomic_bool stop;
    atomic_uint_fast64_t sent;
} s_load_t;

static void *
s_load_run (void *arg)
{
    s_load_t *load = (s_load_t *) arg;
    char source [64];
    snprintf (source, sizeof source, "chaos-load/%d", (int) getpid ());
    wp_bus_opts_t opts = { .sndhwm = 100000 };
    wp_bus_t *bus = wp_bus_new (load->it->pub, load->it->sub, source, &opts);
    assert (bus);
    wp_bus_wait_ready (bus, 2000);  //  the bus may be down: publish anyway
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    char user [32], model [32];
    usage.user = user;
    usage.model = model;
    usage.task = WARMUP__V1__TASK__TASK_COMPLETION;
    uint64_t seed = 12345, mine = 0;
    int64_t started = zclock_mono ();
    while (!atomic_load (&load->stop)) {
        int64_t due = started + (int64_t) (mine * 1000 / S_RATE);
        if (due > zclock_mono ()) {
            zclock_sleep ((int) (due - zclock_mono ()));    //  pacing, not sync
            continue;
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        snprintf (user, sizeof user, "u%03d", (int) (seed % S_USERS));
        //  Each user mostly uses two models: predictions warm them
        snprintf (model, sizeof model, "m%d",
                  (int) ((seed % S_USERS + (seed >> 20) % 2) % S_MODELS));
        usage.event_ms = wp_wall_us () / 1000;
        wp_bus_publish (bus, WP_TOPIC_USAGE, &usage.base);
        mine++;
        atomic_store (&load->sent, mine);
    }
    wp_bus_destroy (&bus);
    return NULL;
}

//  What the watcher saw: warm/cool dones per model and loads twice.
typedef struct {
    char warm [S_MODELS];       //  the queue says warm (last done)
    uint64_t loaded_twice;      //  warm ok while warm already
    uint64_t dones;
} s_watch_t;

//  Follow warmup.done: a second successful warm with no cool between.
static void
s_watch_done (s_watch_t *watch, const Warmup__V1__WarmupDone *done)
{
    int m = done->model && done->model [0] == 'm' ? atoi (done->model + 1) : -1;
    if (m < 0 || m >= S_MODELS || !done->ok)
        return;
    watch->dones++;
    if (done->action == WARMUP__V1__ACTION__ACTION_WARM) {
        if (watch->warm [m]) {
            watch->loaded_twice++;
            print_message ("loaded twice: %s (%s)\n", done->model, done->reason);
        }
        watch->warm [m] = 1;
    }
    else
        watch->warm [m] = 0;
}

//  The state names of both sides, per model ("" = cold).
typedef struct {
    char queue [S_MODELS][16];
    char scheduler [S_MODELS][16];
    bool have_queue, have_scheduler;
} s_states_t;

//  Ask the queue for its snapshot and the scheduler for its models, and
//  read both answers (watching warmup.done meanwhile). True when both
//  answered within the bound.
static bool
s_ask_states (wp_bus_t *bus, s_states_t *states, s_watch_t *watch, int round)
{
    memset (states, 0, sizeof *states);
    char id [64];
    snprintf (id, sizeof id, "chaos#%d", round);
    Warmup__V1__SyncRequest sync = WARMUP__V1__SYNC_REQUEST__INIT;
    sync.component = "queue";
    sync.request_id = id;
    sync.requester = "chaos";
    wp_bus_publish (bus, WP_TOPIC_SYNC_REQUEST, &sync.base);
    Warmup__V1__ControlRequest control = WARMUP__V1__CONTROL_REQUEST__INIT;
    control.command = WARMUP__V1__COMMAND__COMMAND_MODELS;
    control.request_id = id;
    wp_bus_publish (bus, WP_TOPIC_CONTROL, &control.base);
    int64_t deadline = zclock_mono () + wp_test_ms (5000);
    while ((!states->have_queue || !states->have_scheduler) && zclock_mono () < deadline) {
        wp_bus_event_t event;
        if (wp_bus_recv_wait (bus, &event, 200) != 1)
            continue;
        if (event.topic == WP_TOPIC_WARMUP_DONE)
            s_watch_done (watch, (const Warmup__V1__WarmupDone *) event.msg);
        else
        if (event.topic == WP_TOPIC_SYNC_REPLY) {
            const Warmup__V1__SyncReply *reply = (const Warmup__V1__SyncReply *) event.msg;
            for (size_t i = 0; reply->request_id && streq (reply->request_id, id)
                               && i < reply->n_items; i++) {
                Warmup__V1__ModelState *item = warmup__v1__model_state__unpack (
                    NULL, reply->items [i]->payload.len, reply->items [i]->payload.data);
                assert_non_null (item);
                int m = atoi (item->model + 1);
                if (m >= 0 && m < S_MODELS)
                    snprintf (states->queue [m], 16, "%s", item->state);
                warmup__v1__model_state__free_unpacked (item, NULL);
            }
            if (reply->request_id && streq (reply->request_id, id) && reply->last)
                states->have_queue = true;
        }
        else
        if (event.topic == WP_TOPIC_CONTROL_REPLY) {
            const Warmup__V1__ControlReply *reply = (const Warmup__V1__ControlReply *) event.msg;
            if (reply->request_id && streq (reply->request_id, id)) {
                for (size_t i = 0; i < reply->n_models; i++) {
                    int m = atoi (reply->models [i]->model + 1);
                    const char *state = reply->models [i]->state;
                    if (m >= 0 && m < S_MODELS && !streq (state, "cold"))
                        snprintf (states->scheduler [m], 16, "%s", state);
                }
                states->have_scheduler = true;
            }
        }
        wp_bus_event_free (&event);
    }
    return states->have_queue && states->have_scheduler;
}

//  True when the scheduler's states equal the queue's.
static bool
s_states_agree (const s_states_t *states)
{
    for (int m = 0; m < S_MODELS; m++)
        if (!streq (states->queue [m], states->scheduler [m]))
            return false;
    return true;
}

//  Wait until the scheduler's states equal the queue's (both settle
//  between decisions); true when they did within the bound.
static bool
s_wait_agree (wp_bus_t *bus, s_watch_t *watch, int *round, s_states_t *states)
{
    int64_t deadline = zclock_mono () + wp_test_ms (15000);
    while (zclock_mono () < deadline)
        if (s_ask_states (bus, states, watch, ++*round) && s_states_agree (states))
            return true;
    return false;
}

//  The latest heartbeat numbers of one component.
typedef struct {
    const char *component;
    uint64_t items, persisted, events_in, dropped, resyncs;
} s_beat_t;

static bool
s_is_beat (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    s_beat_t *want = (s_beat_t *) arg;
    const Warmup__V1__Heartbeat *beat = (const Warmup__V1__Heartbeat *) msg;
    if (topic != WP_TOPIC_HEARTBEAT || !streq (beat->component, want->component))
        return false;
    want->items = beat->state_items;
    want->persisted = beat->persisted;
    want->events_in = beat->events_in;
    want->dropped = beat->dropped;
    want->resyncs = beat->resyncs;
    return true;
}

//  Start one program of the deployment.
static wp_test_proc_t *
s_start (itest_t *it, const char *component)
{
    char program [64];
    snprintf (program, sizeof program, "warmup-%s", component);
    return itest_start (it, program, NULL, NULL);
}

static void
test_chaos (void **state)
{
    int rounds = getenv ("WP_CHAOS_ROUNDS") ? atoi (getenv ("WP_CHAOS_ROUNDS")) : 1;
    if (rounds < 1)
        rounds = 1;
    itest_t it;
    char extra [1024] = "max_warm_models = 3\nmax_memory_mb = 0\n"
                        "prediction_threshold = 0.3\nmodels\n";
    for (int m = 0; m < S_MODELS; m++) {
        size_t used = strlen (extra);
        snprintf (extra + used, sizeof extra - used,
                  "    m%d\n        memory_mb = 100\n        load_ms = 100\n", m);
    }
    itest_init (&it, "chaos", extra);
    wp_test_proc_t *bus = s_start (&it, "bus");
    wp_test_proc_t *procs [8] = { NULL };
    for (int i = 0; s_components [i]; i++)
        procs [i] = s_start (&it, s_components [i]);
    const char *topics [] = { "warmup.done", "sync.reply", "control.reply", "heartbeat",
                              NULL };
    wp_bus_t *client = itest_bus (&it, topics);
    s_load_t load = { .it = &it };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_load_run, &load), 0);
    s_watch_t watch;
    memset (&watch, 0, sizeof watch);
    s_states_t states;
    int asked = 0;
    //  The load has reached the scheduler: something is warm
    if (!s_wait_agree (client, &watch, &asked, &states))
        fail_msg ("before any kill the scheduler and the queue disagree");

    uint64_t resynced = 0, kills = 0;
    for (int round = 0; round < rounds; round++)
        for (int i = 0; i <= 7; i++) {
            const char *name = i < 7 ? s_components [i] : "bus";
            wp_test_proc_t **proc = i < 7 ? &procs [i] : &bus;
            s_beat_t before = { name, 0, 0, 0, 0, 0 };
            if (i < 7 && !itest_wait_event (client, s_is_beat, &before, 5000))
                fail_msg ("no heartbeat from %s", name);
            //  The analyzer: once most pairs are learned and committed, so
            //  that a loss would show
            int64_t learn_until = zclock_mono () + wp_test_ms (20000);
            while (streq (name, "analyzer") && before.items < S_USERS
                   && zclock_mono () < learn_until)
                itest_wait_event (client, s_is_beat, &before, 5000);
            //  Let a commit pass, then kill: what is lost is the open batch
            assert_int_equal (kill (wp_test_proc_pid (*proc), SIGKILL), 0);
            wp_test_proc_wait (*proc, ITEST_STOP_MS);
            wp_test_proc_destroy (proc);
            kills++;
            *proc = s_start (&it, name);
            int64_t ready = zclock_mono ();
            const char *args [] = { "status", "--require", "all", "--timeout", "5", NULL };
            char *output = NULL;
            int code = itest_ctl (&it, args, &output);
            int64_t back_ms = zclock_mono () - ready;
            if (code != 0 || back_ms > wp_test_ms (S_STATUS_MS))
                fail_msg ("after restarting %s, not all back in %" PRId64 " ms:\n%s", name,
                          back_ms, output);
            free (output);
            if (!s_wait_agree (client, &watch, &asked, &states)) {
                for (int m = 0; m < S_MODELS; m++)
                    print_message ("m%d: queue '%s' scheduler '%s'\n", m, states.queue [m],
                                   states.scheduler [m]);
                fail_msg ("after restarting %s the scheduler's states differ from the "
                          "queue's", name);
            }
            s_beat_t after = { name, 0, 0, 0, 0, 0 };
            if (i < 7 && !itest_wait_event (client, s_is_beat, &after, 5000))
                fail_msg ("no heartbeat from %s after its restart", name);
            if (streq (name, "analyzer") && after.items + 1000 < before.items)
                fail_msg ("analyzer: %" PRIu64 " pairs before the kill, %" PRIu64
                          " after: more than a batch (1000) lost", before.items, after.items);
            if (streq (name, "scheduler"))
                resynced += after.resyncs;
            print_message ("chaos: killed %-9s back in status %4" PRId64 " ms, states agree, "
                           "pairs %" PRIu64 " -> %" PRIu64 "\n", name, back_ms,
                           before.items, after.items);
        }
    atomic_store (&load.stop, true);
    pthread_join (thread, NULL);
    s_beat_t analyzer = { "analyzer", 0, 0, 0, 0, 0 };
    assert_true (itest_wait_event (client, s_is_beat, &analyzer, 5000));
    //  The counts; drops are those of the restarted analyzer's run only
    //  (a heartbeat counts since its process started)
    uint64_t dropped = 0;
    for (int i = 0; s_components [i]; i++) {
        s_beat_t beat = { s_components [i], 0, 0, 0, 0, 0 };
        if (itest_wait_event (client, s_is_beat, &beat, 5000))
            dropped += beat.dropped;
    }
    print_message ("chaos: %" PRIu64 " kills; events sent %" PRIu64 ", seen by the analyzer "
                   "since its restart %" PRIu64 ", dropped by sequence gap (live processes) %"
                   PRIu64 ", scheduler resyncs %" PRIu64 ", warm/cool dones %" PRIu64
                   ", loaded twice %" PRIu64 "\n", kills, (uint64_t) atomic_load (&load.sent),
                   analyzer.events_in, dropped, resynced, watch.dones, watch.loaded_twice);
    assert_int_equal (watch.loaded_twice, 0);
    assert_true (resynced >= 1);
    wp_bus_destroy (&client);
    for (int i = 0; s_components [i]; i++)
        itest_stop (&procs [i], s_components [i]);
    itest_stop (&bus, "warmup-bus");
    itest_destroy (&it);
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_chaos),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
