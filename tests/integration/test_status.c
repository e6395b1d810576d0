/*  =========================================================================
    test_status - warmupctl status --require, the health check of scripts
    and of compose: exit 0 only when every component asked for has a
    heartbeat, 1 naming the missing ones (with no service at all, with
    part of one), 2 for a name that is no component; --json for scripts.
    =========================================================================
*/
#include "itest.h"

//  Run warmupctl with args (NULL-ended); returns its exit code, output in
//  *output (caller frees).
static int
s_ctl (itest_t *it, const char *const args [], char **output)
{
    *output = NULL;
    return itest_ctl (it, args, output);
}

//  With no service running, --require all exits 1 within its timeout and
//  names all seven components; so does --json, whose "ok" is false.
static void
test_nothing_running (void **state)
{
    itest_t it;
    itest_init (&it, "wp-status-none", NULL);
    char *output;
    const char *all [] = { "status", "--require", "all", "--timeout", "1", NULL };
    int64_t start = zclock_mono ();
    assert_int_equal (s_ctl (&it, all, &output), 1);
    //  Bounded by --timeout, the bus wait included (ready_timeout_ms is 10 s).
    assert_true (zclock_mono () - start < 8000);
    assert_non_null (strstr (output, "no bus at"));
    assert_non_null (strstr (output, "missing: metrics, perf, queue, scheduler, engine, "
                                     "analyzer, resource"));
    free (output);

    const char *json [] = { "status", "--require", "all", "--timeout", "1", "--json", NULL };
    assert_int_equal (s_ctl (&it, json, &output), 1);
    assert_non_null (strstr (output, "{\"ok\":false,\"bus\":false,\"missing\":[\"metrics\","
                                     "\"perf\",\"queue\",\"scheduler\",\"engine\","
                                     "\"analyzer\",\"resource\"],\"heartbeats\":[]}"));
    free (output);

    //  The bus itself is a name too.
    const char *bus [] = { "status", "--require", "bus", "--timeout", "1", NULL };
    assert_int_equal (s_ctl (&it, bus, &output), 1);
    assert_non_null (strstr (output, "missing: bus"));
    free (output);

    //  Without --require: no heartbeat at all is a failure as before.
    const char *plain [] = { "status", "--timeout", "1", NULL };
    assert_int_equal (s_ctl (&it, plain, &output), 1);
    free (output);
    itest_destroy (&it);
}

//  A name that is no component is a usage error (2) listing the names.
static void
test_unknown_name (void **state)
{
    itest_t it;
    itest_init (&it, "wp-status-bad", NULL);
    char *output;
    const char *bad [] = { "status", "--require", "analyzer,sheduler", NULL };
    assert_int_equal (s_ctl (&it, bad, &output), 2);
    assert_non_null (strstr (output, "unknown component 'sheduler'"));
    assert_non_null (strstr (output, "all, bus, metrics"));
    free (output);
    const char *empty [] = { "status", "--require", ",", NULL };
    assert_int_equal (s_ctl (&it, empty, &output), 2);
    free (output);
    itest_destroy (&it);
}

//  The bus and two of the seven components, each its own process: the two
//  and the bus are healthy, all is not and names exactly the five others.
static void
test_part_of_a_service (void **state)
{
    itest_t it;
    itest_init (&it, "wp-status-part", NULL);
    wp_test_proc_t *bus = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *analyzer = itest_start (&it, "warmup-analyzer", NULL, NULL);
    wp_test_proc_t *engine = itest_start (&it, "warmup-engine", NULL, NULL);
    char *output;

    const char *two [] = { "status", "--require", "analyzer,engine", "--timeout", "20", NULL };
    assert_int_equal (s_ctl (&it, two, &output), 0);
    assert_non_null (strstr (output, "analyzer "));
    assert_non_null (strstr (output, "engine "));
    free (output);

    const char *only_bus [] = { "status", "--require", "bus", "--timeout", "20", NULL };
    assert_int_equal (s_ctl (&it, only_bus, &output), 0);
    free (output);

    const char *all [] = { "status", "--require", "all", "--timeout", "2", "--json", NULL };
    assert_int_equal (s_ctl (&it, all, &output), 1);
    assert_non_null (strstr (output, "\"ok\":false,\"bus\":true,\"missing\":[\"metrics\","
                                     "\"perf\",\"queue\",\"scheduler\",\"resource\"]"));
    //  Each heartbeat as the event's JSON.
    assert_non_null (strstr (output, "\"component\":\"analyzer\""));
    assert_non_null (strstr (output, "\"component\":\"engine\""));
    free (output);

    //  The analyzer gone: it is missing again.
    itest_stop (&analyzer, "warmup-analyzer");
    const char *one [] = { "status", "--require", "analyzer", "--timeout", "2", NULL };
    assert_int_equal (s_ctl (&it, one, &output), 1);
    assert_non_null (strstr (output, "missing: analyzer"));
    free (output);

    itest_stop (&engine, "warmup-engine");
    itest_stop (&bus, "warmup-bus");
    itest_destroy (&it);
}

//  The whole service in one warmupd: --require all answers 0 as soon as
//  every component has spoken, well before the timeout.
static void
test_all_in_one (void **state)
{
    itest_t it;
    itest_init (&it, "wp-status-aio", NULL);
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    char *output;
    const char *all [] = { "status", "--require", "all", "--timeout", "60", "--json", NULL };
    int64_t start = zclock_mono ();
    assert_int_equal (s_ctl (&it, all, &output), 0);
    assert_true (zclock_mono () - start < 30000);
    assert_non_null (strstr (output, "{\"ok\":true,\"bus\":true,\"missing\":[]"));
    const char *names [] = { "metrics", "perf", "queue", "scheduler", "engine", "analyzer",
                             "resource", NULL };
    for (int i = 0; names [i]; i++) {
        char needle [64];
        snprintf (needle, sizeof needle, "\"component\":\"%s\"", names [i]);
        if (!strstr (output, needle))
            fail_msg ("no heartbeat of %s in:\n%s", names [i], output);
    }
    free (output);
    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_nothing_running),
        cmocka_unit_test (test_unknown_name),
        cmocka_unit_test (test_part_of_a_service),
        cmocka_unit_test (test_all_in_one),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
