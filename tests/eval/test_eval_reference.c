/*  =========================================================================
    test_eval_reference - keepalive:600 at budget 0 reproduces EVAL.md's
    reference figures exactly on both dev traces (slow: 22 M requests).
    The traces are the repository's (data/, found through WP_DATA_DIR,
    set by CMake); a missing file fails the test, it never passes
    silently.
    =========================================================================
*/
#include "test_eval_util.h"
#include "wp_eval_run.h"

//  Replay one bundled trace through keepalive:600 and compare.
static void
s_check (const char *trace_rel, const char *catalog_rel, uint64_t requests,
         uint64_t cold_starts, const char *resident_gb_s)
{
    const char *data = getenv ("WP_DATA_DIR");
    if (!data || !*data)
        fail_msg ("WP_DATA_DIR is not set: run through ctest, or set it to the repository's data/");
    char trace [1024], catalog_path [1024];
    snprintf (trace, sizeof (trace), "%s/%s", data, trace_rel);
    snprintf (catalog_path, sizeof (catalog_path), "%s/%s", data, catalog_rel);
    if (access (trace, R_OK) || access (catalog_path, R_OK))
        fail_msg ("trace data missing: %s or %s (WP_DATA_DIR=%s)", trace, catalog_path, data);
    char error [WP_EVAL_ERRLEN];
    wp_eval_catalog_t *catalog = wp_eval_catalog_load (catalog_path, error);
    if (!catalog)
        fail_msg ("%s", error);
    wp_eval_run_t *run = wp_eval_run_new (trace, WP_EVAL_FORMAT_AUTO, catalog);
    double knob;
    const wp_eval_policy_t *policy = wp_eval_policy_find ("keepalive:600", &knob, error);
    assert_int_equal (wp_eval_run_add (run, "keepalive:600", policy, knob, 0, error), 0);
    wp_eval_run_set_timing (run, false);
    if (wp_eval_run_execute (run))
        fail_msg ("%s", wp_eval_run_error (run));
    wp_eval_metrics_t m;
    wp_eval_run_metrics (run, 0, &m);
    char gb_s [64];
    snprintf (gb_s, sizeof (gb_s), "%.3f", m.resident_gb_s);
    print_message ("%s: requests %llu cold_starts %llu resident_gb_s %s\n", trace_rel,
                   (unsigned long long) m.requests, (unsigned long long) m.cold_starts, gb_s);
    assert_int_equal (m.requests, requests);
    assert_int_equal (m.cold_starts, cold_starts);
    assert_string_equal (gb_s, resident_gb_s);
    wp_eval_run_destroy (&run);
    wp_eval_catalog_destroy (&catalog);
}

//  azure-functions-2019: 18279781 requests, 10842 cold starts.
static void
test_azure_functions_2019 (void **state)
{
    s_check ("azure-functions-2019/1250_inv.csv", "azure-functions-2019/catalog.csv",
             18279781, 10842, "49939151.909");
}

//  servegen-dev: 3593831 requests, 5262 cold starts.
static void
test_servegen_dev (void **state)
{
    s_check ("servegen-dev/trace.csv.gz", "servegen-dev/catalog.csv",
             3593831, 5262, "3682754718.472");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_azure_functions_2019),
        cmocka_unit_test (test_servegen_dev),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
