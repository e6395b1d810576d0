/*  =========================================================================
    test_flow - the end-to-end flow with the real programs: a usage event
    goes through analyzer, engine, scheduler and queue, all-in-one and
    one process per component; a killed component restarts and still
    knows what it learned; a bad config is refused with file, line, key.
    =========================================================================
*/
#include "itest.h"

static const char *s_components [] = {
    "metrics", "perf", "queue", "scheduler", "engine", "analyzer", "resource", NULL
};

//  Watch `warmupctl tail` while a user makes four regular requests: the
//  stream shows usage -> prediction -> warm request -> warm done, in order.
static void
s_check_flow (itest_t *it, const char *user, const char *model)
{
    char *ctl = wp_test_bin ("warmupctl");
    const char *argv [] = { ctl, "-c", it->config, "tail", "--timeout", "60", NULL };
    wp_test_proc_t *tail = wp_test_spawn (argv);
    free (ctl);
    if (wp_test_proc_wait_line (tail, "tail ready", ITEST_START_MS, NULL, 0))
        fail_msg ("tail did not start: %s", wp_test_proc_output (tail));

    itest_emit_burst (it, user, model, 4, 10000);

    const char *steps [] = { "\"topic\":\"usage.observed\"", "\"topic\":\"usage.pattern\"",
                             "\"topic\":\"prediction.made\"", "\"topic\":\"warmup.requested\"",
                             "\"topic\":\"warmup.done\"", NULL };
    char line [8192];
    for (int i = 0; steps [i]; i++)
        if (wp_test_proc_wait_line (tail, steps [i], ITEST_EVENT_MS, line, sizeof line))
            fail_msg ("no %s in the stream after the previous step:\n%s", steps [i],
                      wp_test_proc_output (tail));
    //  The last step is the warm of our model, done by the sim backend.
    assert_non_null (strstr (line, model));
    assert_non_null (strstr (line, "\"action\":\"ACTION_WARM\""));
    assert_non_null (strstr (line, "\"ok\":true"));
    assert_non_null (strstr (line, "\"backend\":\"sim\""));
    itest_stop (&tail, "warmupctl tail");
}

//  All seven components in one warmupd.
static void
test_all_in_one (void **state)
{
    itest_t it;
    itest_init (&it, "wp-flow-aio", NULL);
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    assert_non_null (strstr (wp_test_proc_output (daemon), "7 components"));
    s_check_flow (&it, "alice", "codellama");
    //  SIGTERM ends it cleanly (exit 0) and promptly.
    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
}

//  Start the bus and each component as its own process.
static void
s_start_all (itest_t *it, wp_test_proc_t **bus, wp_test_proc_t **procs)
{
    *bus = itest_start (it, "warmup-bus", NULL, NULL);
    for (int i = 0; s_components [i]; i++) {
        char program [64];
        snprintf (program, sizeof program, "warmup-%s", s_components [i]);
        procs [i] = itest_start (it, program, NULL, NULL);
    }
}

//  Stop them, each cleanly.
static void
s_stop_all (wp_test_proc_t **bus, wp_test_proc_t **procs)
{
    for (int i = 0; s_components [i]; i++)
        itest_stop (&procs [i], s_components [i]);
    itest_stop (bus, "warmup-bus");
}

//  One process per component, through warmup-bus.
static void
test_per_process (void **state)
{
    itest_t it;
    itest_init (&it, "wp-flow-pp", NULL);
    wp_test_proc_t *bus, *procs [8];
    s_start_all (&it, &bus, procs);
    s_check_flow (&it, "carol", "starcoder");
    s_stop_all (&bus, procs);
    itest_destroy (&it);
}

//  An analyzer heartbeat sent well after a time, reporting persisted records.
static bool
s_analyzer_flushed (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    uint64_t after_us = *(uint64_t *) arg;
    if (topic != WP_TOPIC_HEARTBEAT)
        return false;
    const Warmup__V1__Heartbeat *beat = (const Warmup__V1__Heartbeat *) msg;
    return streq (beat->component, "analyzer") && beat->header->sent_us > after_us
        && beat->persisted >= 2;
}

//  A prediction for user naming model.
static bool
s_prediction_for (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    if (topic != WP_TOPIC_PREDICTION)
        return false;
    const Warmup__V1__PredictionMade *prediction = (const Warmup__V1__PredictionMade *) msg;
    return prediction->n_models > 0 && streq (prediction->models [0]->model, (char *) arg);
}

//  kill -9 the analyzer, start it again: the flow resumes and what it
//  learned before (committed) is still there.
static void
test_restart_keeps_state (void **state)
{
    itest_t it;
    itest_init (&it, "wp-flow-rs", NULL);
    wp_test_proc_t *bus, *procs [8];
    s_start_all (&it, &bus, procs);
    const char *topics [] = { "usage.pattern", "heartbeat", "prediction.made", NULL };
    wp_bus_t *watch = itest_bus (&it, topics);

    itest_emit_burst (&it, "bob", "llama3", 4, 10000);
    itest_pattern_t fourth = { "llama3", 4, 0 };
    assert_true (itest_wait_event (watch, itest_is_pattern, &fourth, ITEST_EVENT_MS));
    //  A heartbeat sent more than three flush periods after the fourth
    //  event reports what the flushes since then committed (a component
    //  runs a due flush before a heartbeat due at the same time).
    uint64_t after = fourth.sent_us + 3 * 50 * 1000;
    assert_true (itest_wait_event (watch, s_analyzer_flushed, &after, ITEST_EVENT_MS));

    int analyzer = 5;
    assert_string_equal (s_components [analyzer], "analyzer");
    assert_int_equal (wp_test_proc_stop (procs [analyzer], SIGKILL, 5000), 128 + SIGKILL);
    wp_test_proc_destroy (&procs [analyzer]);
    procs [analyzer] = itest_start (&it, "warmup-analyzer", NULL, NULL);
    assert_non_null (strstr (wp_test_proc_output (procs [analyzer]), "loaded 1 pairs"));

    itest_emit (&it, "bob", "llama3", wp_wall_us () / 1000);
    itest_pattern_t fifth = { "llama3", 5, 0 };
    assert_true (itest_wait_event (watch, itest_is_pattern, &fifth, ITEST_EVENT_MS));
    assert_true (itest_wait_event (watch, s_prediction_for, "llama3", ITEST_EVENT_MS));

    wp_bus_destroy (&watch);
    s_stop_all (&bus, procs);
    itest_destroy (&it);
}

//  A bad value in the config: refused with the file, the line and the key.
static void
test_bad_config (void **state)
{
    itest_t it;
    itest_init (&it, "wp-flow-cfg",
                "models\n"
                "    codellama\n"
                "        memory_mb = 4096\n"
                "        load_ms = soon\n");
    char *daemon = wp_test_bin ("warmupd");
    const char *argv [] = { daemon, "-c", it.config, NULL };
    char *output = NULL;
    assert_int_equal (wp_test_run (argv, ITEST_START_MS, &output), 2);
    //  The base config has 10 lines; the bad key is on line 14.
    char where [600];
    snprintf (where, sizeof where, "%s:14", it.config);
    if (!strstr (output, where) || !strstr (output, "models/codellama/load_ms")
        || !strstr (output, "'soon'"))
        fail_msg ("error does not name file:line and key:\n%s", output);
    free (output);

    //  An unknown key at the root is refused too.
    wp_test_write_file (it.config, "max_warm_modles = 3\n");
    assert_int_equal (wp_test_run (argv, ITEST_START_MS, &output), 2);
    assert_non_null (strstr (output, "max_warm_modles"));
    assert_non_null (strstr (output, "unknown key"));
    free (output);
    free (daemon);
    itest_destroy (&it);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_all_in_one),
        cmocka_unit_test (test_per_process),
        cmocka_unit_test (test_restart_keeps_state),
        cmocka_unit_test (test_bad_config),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
