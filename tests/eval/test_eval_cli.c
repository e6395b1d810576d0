/*  =========================================================================
    test_eval_cli - the warmup-eval program as a user runs it: argument
    validation with clear errors, the table, the JSON fields, the chart.
    The program's path comes from WP_EVAL_BIN (set by CMake).
    =========================================================================
*/
#include "test_eval_util.h"

#include <sys/wait.h>

//  Run the program with args (a shell fragment); capture stdout+stderr
//  into out; return the exit code.
static int
s_run (const char *args, char *out, size_t size)
{
    const char *bin = getenv ("WP_EVAL_BIN");
    if (!bin || !*bin)
        fail_msg ("WP_EVAL_BIN is not set: run through ctest");
    char command [4096];
    snprintf (command, sizeof (command), "%s %s 2>&1", bin, args);
    FILE *pipe = popen (command, "r");
    assert_non_null (pipe);
    size_t n = fread (out, 1, size - 1, pipe);
    out [n] = 0;
    int status = pclose (pipe);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  Every bad argument is refused with exit code 2 and a clear reason.
static void
test_bad_arguments (void **state)
{
    static char out [65536];
    char *catalog = test_write_file (".csv", "model,memory_mb,load_ms\na,100,10\n");
    char *trace = test_write_file (".csv", "timestamp_ms,user,model\n0,u,a\n");
    char args [2048];
    struct { const char *args; const char *want; } cases [] = {
        { "--catalog %s --budget-mb 0 --policy lru", "--trace FILE is required" },
        { "--trace %s --budget-mb 0 --policy lru", "--catalog FILE is required" },
        { "--trace %s --catalog %s --policy lru", "--budget-mb N is required" },
        { "--trace %s --catalog %s --budget-mb -5 --policy lru", "must be a whole number of MB" },
        { "--trace %s --catalog %s --budget-mb 12x --policy lru", "not '12x'" },
        { "--trace %s --catalog %s --budget-mb 0", "at least one --policy" },
        { "--trace %s --catalog %s --budget-mb 0 --policy bogus", "unknown policy 'bogus'" },
        { "--trace %s --catalog %s --budget-mb 0 --policy lru:0", "policy 'lru': N must be" },
        { "--trace %s --catalog %s --budget-mb 0 --policy lru --format xml", "csv or azure" },
        { "--trace %s --catalog %s --budget-mb 0 --policy lru --plot out.png", "ending in .svg" },
        { "--trace %s --catalog %s --budget-mb 0 --policy lru --frobnicate", "unknown argument" },
        { "--trace %s --catalog %s --budget-mb 0 --policy", "--policy needs a value" },
        { "--trace /nonexistent.csv --catalog %s --budget-mb 0 --policy lru", "cannot read trace" },
        { "--trace %s --catalog %s --budget-mb 0 --policy lru --from-ms x", "--from-ms must be" },
        { "--trace %s --catalog %s --budget-mb 0 --policy lru --until-ms -1", "--until-ms must be" },
        { "--trace %s --catalog %s --budget-mb 0 --policy lru --from-ms 5 --until-ms 5",
          "must be after --from-ms" },
    };
    for (size_t i = 0; i < sizeof (cases) / sizeof (cases [0]); i++) {
        //  Fill the %s in order: trace then catalog (or catalog alone).
        if (strncmp (cases [i].args, "--catalog", 9) == 0
        ||  strncmp (cases [i].args, "--trace /", 9) == 0)
            snprintf (args, sizeof (args), cases [i].args, catalog);
        else
        if (strstr (cases [i].args, "--catalog"))
            snprintf (args, sizeof (args), cases [i].args, trace, catalog);
        else
            snprintf (args, sizeof (args), cases [i].args, trace);
        int rc = s_run (args, out, sizeof (out));
        if (rc != 2 || !strstr (out, cases [i].want))
            fail_msg ("'%s': exit %d, output '%s', wanted '%s'", args, rc, out, cases [i].want);
    }
    //  A bad trace line: exit 1 with file:line.
    char *bad = test_write_file (".csv", "timestamp_ms,user,model\n5,u,a\n4,u,a\n");
    snprintf (args, sizeof (args), "--trace %s --catalog %s --budget-mb 0 --policy lru --quiet",
              bad, catalog);
    assert_int_equal (s_run (args, out, sizeof (out)), 1);
    char want [600];
    snprintf (want, sizeof (want), "%s:3: unsorted timestamp", bad);
    if (!strstr (out, want))
        fail_msg ("output '%s' lacks '%s'", out, want);
    test_remove_file (bad);
    test_remove_file (trace);
    test_remove_file (catalog);
}

//  JSON has the fields for asked policies only; the table marks the
//  implicit normalisers; the chart is written.
static void
test_outputs (void **state)
{
    static char out [262144];
    char *catalog = test_write_file (".csv", "model,memory_mb,load_ms\na,1024,100\nb,2048,200\n");
    char text [65536] = "timestamp_ms,user,model\n";
    for (int i = 0; i < 200; i++) {
        char line [64];
        snprintf (line, sizeof (line), "%d,u%d,%s\n", i * 37000, i % 3, i % 5? "a": "b");
        strcat (text, line);
    }
    char *trace = test_write_file (".csv", text);
    char *svg = test_write_file (".svg", "");
    char args [2048];
    snprintf (args, sizeof (args), "--trace %s --catalog %s --budget-mb 0 --policy lru:2 "
              "--policy oracle --json --quiet --plot %s", trace, catalog, svg);
    assert_int_equal (s_run (args, out, sizeof (out)), 0);
    const char *fields [] = { "\"trace\":", "\"budget_mb\":0", "\"policies\":[",
        "\"name\":\"lru:2\"", "\"name\":\"oracle\"", "\"requests\":200", "\"cold_starts\":",
        "\"delayed\":", "\"cold_rate\":", "\"cold_wait_s\":", "\"p75_model_cold_rate\":",
        "\"resident_gb_s\":", "\"wasted_pct\":", "\"prewarms\":", "\"useful_prewarms\":",
        "\"fp_rate\":", "\"cold_reduction\":", "\"recall\":", "\"ns_per_event_mean\":",
        "\"ns_per_event_p99\":", "\"state_bytes_peak\":" };
    for (size_t i = 0; i < sizeof (fields) / sizeof (fields [0]); i++)
        if (!strstr (out, fields [i]))
            fail_msg ("JSON lacks %s: %s", fields [i], out);
    assert_null (strstr (out, "\"name\":\"ollama\""));
    assert_null (strstr (out, "null"));
    assert_null (strstr (out, "by_class"));     //  no pin or priority column
    FILE *file = fopen (svg, "r");
    assert_non_null (file);
    char head [256] = "";
    assert_true (fread (head, 1, sizeof (head) - 1, file) > 0);
    fclose (file);
    assert_non_null (strstr (head, "<svg"));
    //  The table marks the implicit normalisers.
    snprintf (args, sizeof (args), "--trace %s --catalog %s --budget-mb 0 --policy lru:2 --quiet",
              trace, catalog);
    assert_int_equal (s_run (args, out, sizeof (out)), 0);
    assert_non_null (strstr (out, "keepalive:600*"));
    assert_non_null (strstr (out, "ollama*"));
    assert_non_null (strstr (out, "lru:2 "));
    //  A span: the requests at 37 s x [50, 150) only.
    snprintf (args, sizeof (args), "--trace %s --catalog %s --budget-mb 0 --policy lru:2 "
              "--from-ms %d --until-ms %d --json --quiet", trace, catalog, 50 * 37000,
              150 * 37000);
    assert_int_equal (s_run (args, out, sizeof (out)), 0);
    assert_non_null (strstr (out, "\"requests\":100,"));
    //  predictive's sweep points carry their cost at their own price, and
    //  its rows a report.
    snprintf (args, sizeof (args), "--trace %s --catalog %s --budget-mb 0 --policy predictive "
              "--sweep --no-baselines --json --quiet", trace, catalog);
    assert_int_equal (s_run (args, out, sizeof (out)), 0);
    assert_non_null (strstr (out, "\"name\":\"predictive:30000\""));
    assert_non_null (strstr (out, "\"cost\":"));
    assert_non_null (strstr (out, "\"report\":{\"cold_wait_price\":1000"));
    assert_non_null (strstr (out, "\"band\":\"under_5m\""));
    assert_null (strstr (out, "nan"));
    test_remove_file (svg);
    test_remove_file (trace);
    test_remove_file (catalog);
}

//  A catalog with pins and priorities: figures by class in the JSON and
//  the table; a bad value or column stops the run with file:line:column;
//  pinned models larger than the budget are refused.
static void
test_settings (void **state)
{
    static char out [262144];
    char *catalog = test_write_file (".csv",
        "model,memory_mb,load_ms,pin,priority\na,1024,100,1,\nb,2048,200,0,high\nc,512,50,,\n");
    char text [65536] = "timestamp_ms,user,model\n";
    for (int i = 0; i < 300; i++) {
        char line [64];
        snprintf (line, sizeof (line), "%d,u%d,%c\n", i * 41000, i % 3, "abc" [i % 3]);
        strcat (text, line);
    }
    char *trace = test_write_file (".csv", text);
    char args [2048];
    snprintf (args, sizeof (args), "--trace %s --catalog %s --budget-mb 4096 --policy lru:1 "
              "--policy predictive --json --quiet", trace, catalog);
    assert_int_equal (s_run (args, out, sizeof (out)), 0);
    //  The pinned model is never cold, whatever the policy (even lru:1).
    const char *want [] = { "\"by_class\":{\"pinned\":{\"models\":1,\"requests\":100,"
                            "\"cold_starts\":0,\"delayed\":0,\"cold_wait_s\":0.000,",
                            "\"high\":{\"models\":1,\"requests\":100,",
                            "\"normal\":{\"models\":1,\"requests\":100,",
                            "\"low\":{\"models\":0," };
    for (size_t i = 0; i < sizeof (want) / sizeof (want [0]); i++)
        if (!strstr (out, want [i]))
            fail_msg ("JSON lacks %s: %s", want [i], out);
    snprintf (args, sizeof (args), "--trace %s --catalog %s --budget-mb 4096 --policy lru:1 "
              "--quiet", trace, catalog);
    assert_int_equal (s_run (args, out, sizeof (out)), 0);
    assert_non_null (strstr (out, "by class of model"));
    assert_non_null (strstr (out, "pinned"));
    //  Pinned models must fit in the budget.
    snprintf (args, sizeof (args), "--trace %s --catalog %s --budget-mb 1000 --policy lru:1 "
              "--quiet", trace, catalog);
    assert_int_equal (s_run (args, out, sizeof (out)), 1);
    assert_non_null (strstr (out, "pinned models need 1024 MB, more than the budget of 1000 MB"));
    test_remove_file (catalog);
    //  A bad value: exit 1, file:line:column and the value.
    catalog = test_write_file (".csv", "model,memory_mb,load_ms,priority\na,1,2,low\nb,1,2,top\n");
    snprintf (args, sizeof (args), "--trace %s --catalog %s --budget-mb 0 --policy lru --quiet",
              trace, catalog);
    assert_int_equal (s_run (args, out, sizeof (out)), 1);
    char expect [600];
    snprintf (expect, sizeof (expect), "%s:3:4: bad value 'top' in field 'priority'", catalog);
    if (!strstr (out, expect))
        fail_msg ("output '%s' lacks '%s'", out, expect);
    test_remove_file (catalog);
    test_remove_file (trace);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_bad_arguments),
        cmocka_unit_test (test_outputs),
        cmocka_unit_test (test_settings),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
