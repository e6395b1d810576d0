/*  =========================================================================
    test_replay - a slice of a real trace (the bundled first hour of
    servegen-dev, cut to its first 15 minutes; 5 for a round per request)
    replayed in lock-step through the live system gives exactly warmup-eval
    --policy predictive's cold_starts, delayed, cold_wait_s and resident_gb_s at
    the same budget: all-in-one (warmupd) and one process per component
    (warmup-bus and the seven warmup-<name>); unbounded, and under a
    memory budget where cold starts must make room (the live scheduler
    picks what to unload). Both lock-step protocols: a round per request
    (the request carries its outcome; room over room.request / room.reply)
    and by windows (requests without outcome, many per round; the
    scheduler serves them on its mirror of the world and tags its decisions
    with their cause).
    The scheduler's other policies (`policy = NAME`): a running service
    switched to icebreaker by a reload replays as warmup-eval --policy
    icebreaker, and the example plug-in (examples/adaptive_keepalive.c)
    replays as warmup-eval runs it; a policy it cannot run is refused at
    start and at a reload, with the reason, and the running one stays.
    =========================================================================
*/
#include "itest.h"
#include <zlib.h>

#define SLICE_MS 900000         //  the first 15 minutes (by windows)
#define SHORT_MS 300000         //  the first 5 (a round per request: slower)
//  A replay of the slice has to end within this (times wp_test_ms). A
//  round that makes no progress for 30 s fails the replay by itself, so
//  this only keeps a crawling run within CI's time.
#define REPLAY_MS 150000
#define BUDGET_MB "262144"      //  a budget the slice overflows: 256 GiB
#define WINDOW "500"            //  requests per round by windows: about 10 rounds

//  The four numbers that must match, as printed.
typedef struct {
    char cold_starts [32];
    char delayed [32];
    char cold_wait_s [32];
    char resident_gb_s [32];
} s_numbers_t;

//  The numbers of one policy in warmup-eval's JSON.
static void
s_numbers (const char *text, const char *name, s_numbers_t *numbers)
{
    itest_policy_value (text, name, "cold_starts", numbers->cold_starts,
                        sizeof numbers->cold_starts);
    itest_policy_value (text, name, "delayed", numbers->delayed, sizeof numbers->delayed);
    itest_policy_value (text, name, "cold_wait_s", numbers->cold_wait_s,
                        sizeof numbers->cold_wait_s);
    itest_policy_value (text, name, "resident_gb_s", numbers->resident_gb_s,
                        sizeof numbers->resident_gb_s);
}

//  Cut the bundled trace to its first slice_ms into path; returns requests.
static int
s_slice (const char *path, int64_t slice_ms)
{
    const char *source = getenv ("WP_SOURCE_DIR");
    assert_non_null (source);
    char from [1024];
    snprintf (from, sizeof from, "%s/data/servegen-dev-1h/trace.csv.gz", source);
    gzFile in = gzopen (from, "rb");
    assert_non_null (in);
    FILE *out = fopen (path, "w");
    assert_non_null (out);
    char line [512];
    int requests = 0;
    for (int n = 0; gzgets (in, line, sizeof line); n++) {
        if (n > 0 && atoll (line) >= slice_ms)
            break;
        fputs (line, out);
        requests += n > 0;
    }
    gzclose (in);
    fclose (out);
    return requests;
}

//  Path of the bundled catalog.
static void
s_catalog (char *path, size_t size)
{
    snprintf (path, size, "%s/data/servegen-dev-1h/catalog.csv", getenv ("WP_SOURCE_DIR"));
}

//  Replay the slice through the running service and read its numbers;
//  window: requests per round, or NULL for a round per request; *rooms:
//  the models the scheduler unloaded to make room for cold starts.
static void
s_replay (itest_t *it, const char *slice, const char *catalog, const char *budget,
          const char *window, s_numbers_t *numbers, int *rooms)
{
    char *output = NULL;
    char *path = wp_test_bin ("warmupctl");
    const char *argv [] = { path, "-c", it->config, "replay", "--trace", slice,
                            "--catalog", catalog, "--budget-mb", budget, "--lockstep",
                            "--json", "--quiet", window ? "--window" : "--per-request",
                            window, NULL };
    int code = wp_test_run (argv, REPLAY_MS, &output);
    free (path);
    if (code != 0)
        fail_msg ("warmupctl replay exited %d:\n%s", code, output ? output : "");
    s_numbers (output, "predictive-live", numbers);
    if (rooms) {
        const char *line = strstr (output, "the scheduler unloaded ");
        *rooms = line ? atoi (line + strlen ("the scheduler unloaded ")) : -1;
        if (strstr (output, "could not follow"))
            fail_msg ("the world could not follow the live decisions:\n%s", output);
    }
    free (output);
}

//  Start a program with --replay, the catalog and the budget.
static wp_test_proc_t *
s_start (itest_t *it, const char *program, const char *catalog, const char *budget)
{
    char *path = wp_test_bin (program);
    const char *argv [] = { path, "-c", it->config, "--replay", "--catalog", catalog,
                            "--max-memory-mb", budget, NULL };
    wp_test_proc_t *proc = wp_test_spawn (argv);
    free (path);
    if (wp_test_proc_wait_line (proc, "ready", ITEST_START_MS, NULL, 0))
        fail_msg ("%s did not get ready:\n%s", program, wp_test_proc_output (proc));
    return proc;
}

//  Assert the live numbers equal the evaluator's.
static void
s_assert_equal (const s_numbers_t *eval, const s_numbers_t *live, const char *how)
{
    if (strcmp (eval->cold_starts, live->cold_starts) || strcmp (eval->delayed, live->delayed)
        || strcmp (eval->cold_wait_s, live->cold_wait_s)
        || strcmp (eval->resident_gb_s, live->resident_gb_s))
        fail_msg ("%s: live cold_starts %s delayed %s cold_wait_s %s resident_gb_s %s; "
                  "warmup-eval %s %s %s %s", how, live->cold_starts, live->delayed,
                  live->cold_wait_s, live->resident_gb_s, eval->cold_starts, eval->delayed,
                  eval->cold_wait_s, eval->resident_gb_s);
}

//  warmup-eval --policy policy's numbers on the slice at the budget.
static void
s_eval_policy (const char *slice, const char *catalog, const char *budget,
               const char *policy, s_numbers_t *numbers)
{
    char *output = NULL;
    char *path = wp_test_bin ("warmup-eval");
    const char *argv [] = { path, "--trace", slice, "--catalog", catalog, "--budget-mb", budget,
                            "--policy", policy, "--json", "--quiet", "--no-baselines",
                            NULL };
    int code = wp_test_run (argv, REPLAY_MS, &output);
    free (path);
    if (code != 0)
        fail_msg ("warmup-eval exited %d:\n%s", code, output ? output : "");
    s_numbers (output, policy, numbers);        //  a name without a knob: its row's
    free (output);
}

//  warmup-eval --policy predictive's numbers on the slice at the budget.
static void
s_eval (const char *slice, const char *catalog, const char *budget, s_numbers_t *numbers)
{
    s_eval_policy (slice, catalog, budget, "predictive", numbers);
    //  The slice is not trivial: loads, waits and pre-warms happen.
    assert_true (atoi (numbers->cold_starts) > 50);
    assert_true (atoi (numbers->delayed) > 50);
}

#define PATH_LEN 1024            //  size of the slice's and catalog's paths

//  A deployment, its slice (the short one for a round per request) and
//  warmup-eval's numbers on it at the budget.
static void
s_prepare (itest_t *it, const char *name, const char *budget, const char *window,
           char *slice, char *catalog, s_numbers_t *eval)
{
    itest_init (it, name, NULL);
    snprintf (slice, PATH_LEN, "%s/slice.csv", it->dir);
    s_catalog (catalog, PATH_LEN);
    assert_true (s_slice (slice, window ? SLICE_MS : SHORT_MS) > 1500);
    s_eval (slice, catalog, budget, eval);
}

//  Replay the slice through the running deployment: the live numbers are
//  warmup-eval's, and under the budget the scheduler made room (only then).
static void
s_replay_equal (itest_t *it, const char *slice, const char *catalog, const char *budget,
                const char *window, const s_numbers_t *eval, const char *what)
{
    s_numbers_t live;
    int rooms = 0;
    s_replay (it, slice, catalog, budget, window, &live, &rooms);
    s_assert_equal (eval, &live, what);
    if (atoll (budget))
        assert_true (rooms > 10);
    else
        assert_int_equal (rooms, -1);
}

//  All-in-one: warmupd --replay at the budget.
static void
s_all_in_one (const char *budget, const char *window)
{
    itest_t it;
    char slice [PATH_LEN], catalog [PATH_LEN];
    s_numbers_t eval;
    s_prepare (&it, "replay-one", budget, window, slice, catalog, &eval);
    wp_test_proc_t *daemon = s_start (&it, "warmupd", catalog, budget);
    s_replay_equal (&it, slice, catalog, budget, window, &eval, "warmupd");
    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
}

//  One process per component, through warmup-bus, at the budget.
static void
s_per_process (const char *budget, const char *window)
{
    itest_t it;
    char slice [PATH_LEN], catalog [PATH_LEN];
    s_numbers_t eval;
    s_prepare (&it, "replay-many", budget, window, slice, catalog, &eval);
    const char *names [] = { "warmup-bus", "warmup-metrics", "warmup-perf", "warmup-resource",
                             "warmup-queue", "warmup-scheduler", "warmup-engine",
                             "warmup-analyzer" };
    size_t count = sizeof names / sizeof names [0];
    wp_test_proc_t *procs [8];
    procs [0] = itest_start (&it, "warmup-bus", NULL, NULL);
    for (size_t i = 1; i < count; i++)
        procs [i] = s_start (&it, names [i], catalog, budget);
    s_replay_equal (&it, slice, catalog, budget, window, &eval, "one process per component");
    for (size_t i = count; i-- > 0;) {
        itest_stop (&procs [i], names [i]);
    }
    itest_destroy (&it);
}

//  A round per request: all-in-one, unbounded.
static void
test_per_request_all_in_one (void **state)
{
    s_all_in_one ("0", NULL);
}

//  A round per request: one process per component, unbounded.
static void
test_per_request_per_process (void **state)
{
    s_per_process ("0", NULL);
}

//  A round per request: all-in-one under a budget (room over the bus).
static void
test_per_request_all_in_one_budget (void **state)
{
    s_all_in_one (BUDGET_MB, NULL);
}

//  A round per request: one process per component under a budget.
static void
test_per_request_per_process_budget (void **state)
{
    s_per_process (BUDGET_MB, NULL);
}

//  By windows (of fewer requests than the slice, so decisions cross
//  rounds): all-in-one, unbounded.
static void
test_windows_all_in_one (void **state)
{
    s_all_in_one ("0", WINDOW);
}

//  By windows: one process per component, unbounded.
static void
test_windows_per_process (void **state)
{
    s_per_process ("0", WINDOW);
}

//  By windows: all-in-one under a budget (the scheduler's mirror makes room).
static void
test_windows_all_in_one_budget (void **state)
{
    s_all_in_one (BUDGET_MB, WINDOW);
}

//  By windows: one process per component under a budget.
static void
test_windows_per_process_budget (void **state)
{
    s_per_process (BUDGET_MB, WINDOW);
}

//  By windows is refused for a catalog that pins models (the scheduler's
//  mirror of the world does not know pins): it says so and what to use.
static void
test_windows_refuse_pins (void **state)
{
    itest_t it;
    itest_init (&it, "replay-pins", NULL);
    char slice [1024], catalog [1024];
    snprintf (slice, sizeof slice, "%s/slice.csv", it.dir);
    snprintf (catalog, sizeof catalog, "%s/catalog.csv", it.dir);
    assert_true (s_slice (slice, SHORT_MS) > 1500);
    FILE *file = fopen (catalog, "w");
    assert_non_null (file);
    fputs ("model,memory_mb,load_ms,pin\nm-large/c0,81920,40000,true\n", file);
    fclose (file);
    char *output = NULL;
    char *path = wp_test_bin ("warmupctl");
    const char *argv [] = { path, "-c", it.config, "replay", "--trace", slice, "--catalog",
                            catalog, "--budget-mb", "0", "--window", WINDOW, NULL };
    int code = wp_test_run (argv, REPLAY_MS, &output);
    free (path);
    assert_int_equal (code, 1);
    assert_non_null (strstr (output, "pins models"));
    assert_non_null (strstr (output, "--per-request"));
    free (output);
    itest_destroy (&it);
}

//  A running service switched to icebreaker by a reload replays, a round
//  per request under a budget, as warmup-eval --policy icebreaker, and not
//  as predictive did.
static void
test_policy_reload_icebreaker (void **state)
{
    itest_t it;
    char slice [PATH_LEN], catalog [PATH_LEN];
    s_numbers_t predictive, icebreaker, live;
    s_prepare (&it, "replay-policy", BUDGET_MB, NULL, slice, catalog, &predictive);
    s_eval_policy (slice, catalog, BUDGET_MB, "icebreaker", &icebreaker);
    assert_true (strcmp (predictive.resident_gb_s, icebreaker.resident_gb_s) != 0);
    wp_test_proc_t *daemon = s_start (&it, "warmupd", catalog, BUDGET_MB);
    itest_config (&it, "policy = icebreaker\n");
    const char *reload [] = { "reload", NULL };
    char *output = NULL;
    int code = itest_ctl (&it, reload, &output);
    if (code != 0)
        fail_msg ("reload failed (%d): %s", code, output);
    free (output);
    if (wp_test_proc_wait_line (daemon, "runs policy icebreaker", ITEST_EVENT_MS, NULL, 0))
        fail_msg ("the scheduler did not switch:\n%s", wp_test_proc_output (daemon));
    s_replay (&it, slice, catalog, BUDGET_MB, NULL, &live, NULL);
    s_assert_equal (&icebreaker, &live, "icebreaker after a reload");
    //  A policy it cannot run: the reload is refused, the reason named.
    itest_config (&it, "policy = nosuch\n");
    code = itest_ctl (&it, reload, &output);
    assert_int_not_equal (code, 0);
    if (!strstr (output, "policy") || !strstr (output, "nosuch"))
        fail_msg ("a bad policy's reload says: %s", output);
    free (output);
    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
}

//  The example plug-in as the scheduler's policy from the start replays as
//  warmup-eval runs it; a library that is no plug-in stops the start with
//  the reason.
static void
test_policy_plugin (void **state)
{
    const char *plugin = getenv ("WP_PLUGIN_EXAMPLE");
    assert_non_null (plugin);
    char spec [PATH_LEN + 16], line [PATH_LEN + 32];
    snprintf (spec, sizeof spec, "plugin:%s", plugin);
    itest_t it;
    char slice [PATH_LEN], catalog [PATH_LEN];
    s_numbers_t predictive, example, live;
    s_prepare (&it, "replay-plugin", "0", NULL, slice, catalog, &predictive);
    s_eval_policy (slice, catalog, "0", spec, &example);
    assert_true (strcmp (predictive.cold_starts, example.cold_starts) != 0);
    snprintf (line, sizeof line, "policy = \"%s\"\n", spec);
    itest_config (&it, line);
    wp_test_proc_t *daemon = s_start (&it, "warmupd", catalog, "0");
    s_replay (&it, slice, catalog, "0", NULL, &live, NULL);
    s_assert_equal (&example, &live, "the example plug-in");
    itest_stop (&daemon, "warmupd");
    //  not a plug-in: warmupd refuses to start, naming the key and why
    snprintf (line, sizeof line, "policy = \"plugin:%s\"\n", catalog);
    itest_config (&it, line);
    char *output = NULL;
    char *path = wp_test_bin ("warmupd");
    const char *argv [] = { path, "-c", it.config, "--replay", NULL };
    int code = wp_test_run (argv, ITEST_START_MS, &output);
    free (path);
    assert_int_not_equal (code, 0);
    if (!strstr (output, "policy") || !strstr (output, "cannot load"))
        fail_msg ("a bad plug-in's start says: %s", output);
    free (output);
    itest_destroy (&it);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_policy_reload_icebreaker),
        cmocka_unit_test (test_policy_plugin),
        cmocka_unit_test (test_windows_all_in_one),
        cmocka_unit_test (test_windows_per_process),
        cmocka_unit_test (test_windows_all_in_one_budget),
        cmocka_unit_test (test_windows_per_process_budget),
        cmocka_unit_test (test_windows_refuse_pins),
        cmocka_unit_test (test_per_request_all_in_one),
        cmocka_unit_test (test_per_request_per_process),
        cmocka_unit_test (test_per_request_all_in_one_budget),
        cmocka_unit_test (test_per_request_per_process_budget),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
