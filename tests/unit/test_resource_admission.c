/*  =========================================================================
    test_resource_admission - what the resource manager gained with the
    real backends: the per-process RSS and nvidia-smi parsers, and the
    admission verdict the queue asks for each warmup (budget for all,
    CPU only for background warmups, system and cgroup memory when a
    sample is known).
    =========================================================================
*/
#include "testutil.h"
#include "wp_resource.h"
#include <math.h>
#include <string.h>

//  VmRSS of /proc/PID/status; kernel threads have none.
static void
test_parse_status_rss (void **state)
{
    uint64_t rss = 0;
    assert_int_equal (wp_resource_parse_status_rss (
        "Name:\tllama-server\nVmPeak:\t  999 kB\nVmRSS:\t  123456 kB\nThreads:\t4\n", &rss), 0);
    assert_int_equal (rss, 123456);
    assert_int_equal (wp_resource_parse_status_rss ("Name:\tkthreadd\nThreads:\t1\n", &rss), -1);
    assert_int_equal (wp_resource_parse_status_rss ("VmRSS:\t12x kB\n", &rss), -1);
    assert_int_equal (wp_resource_parse_status_rss (NULL, &rss), -1);
    assert_int_equal (rss, 123456);
}

//  nvidia-smi's CSV: one "total, used" line per GPU, summed.
static void
test_parse_nvidia_smi (void **state)
{
    uint64_t total = 0, used = 0;
    uint32_t gpus = 0;
    assert_int_equal (wp_resource_parse_nvidia_smi ("24576, 1024\n24576, 20000\n",
                                                    &total, &used, &gpus), 0);
    assert_int_equal (total, 49152);
    assert_int_equal (used, 21024);
    assert_int_equal (gpus, 2);
    assert_int_equal (wp_resource_parse_nvidia_smi ("81920,0\r\n", &total, NULL, NULL), 0);
    assert_int_equal (total, 81920);
    const char *bad [] = { "", "\n", "N/A, N/A\n", "1024\n", "1, 2, 3\n",
                           "No devices were found\n", NULL };
    for (int i = 0; bad [i]; i++)
        assert_int_equal (wp_resource_parse_nvidia_smi (bad [i], &total, &used, &gpus), -1);
}

//  The verdicts and their text.
static void
test_check (void **state)
{
    wp_resource_t *resource = wp_resource_new (1000, 30);
    char why [200];
    //  No sample yet: only the budget counts
    assert_int_equal (wp_resource_check (resource, 1000, true), WP_RESOURCE_ADMIT);
    assert_int_equal (wp_resource_check (resource, 1001, false), WP_RESOURCE_OVER_BUDGET);
    assert_int_equal (wp_resource_model_warm (resource, "a", 600), 0);
    assert_int_equal (wp_resource_check (resource, 500, false), WP_RESOURCE_OVER_BUDGET);
    wp_resource_verdict_text (resource, WP_RESOURCE_OVER_BUDGET, 500, why, sizeof why);
    assert_string_equal (why, "needs 500 MiB, 600 of 1000 MiB budget in use");
    assert_int_equal (wp_resource_check (resource, 400, true), WP_RESOURCE_ADMIT);

    //  A busy machine holds background warmups only
    wp_resource_set_sample (resource, 85, 8000, 0, 0);
    assert_int_equal (wp_resource_check (resource, 100, true), WP_RESOURCE_CPU_BUSY);
    assert_int_equal (wp_resource_check (resource, 100, false), WP_RESOURCE_ADMIT);
    wp_resource_verdict_text (resource, WP_RESOURCE_CPU_BUSY, 100, why, sizeof why);
    assert_string_equal (why, "cpu 85% > 30%");
    wp_resource_set_sample (resource, NAN, 8000, 0, 0);
    assert_int_equal (wp_resource_check (resource, 100, true), WP_RESOURCE_CPU_BUSY);

    //  Memory the machine or the cgroup does not have holds every warmup
    wp_resource_set_sample (resource, 5, 50, 0, 0);
    assert_int_equal (wp_resource_check (resource, 100, false), WP_RESOURCE_LOW_MEMORY);
    wp_resource_verdict_text (resource, WP_RESOURCE_LOW_MEMORY, 100, why, sizeof why);
    assert_string_equal (why, "needs 100 MiB, 50 MiB available");
    wp_resource_set_sample (resource, 5, 8000, 4096, 4000);
    assert_int_equal (wp_resource_check (resource, 100, false), WP_RESOURCE_CGROUP_FULL);
    wp_resource_verdict_text (resource, WP_RESOURCE_CGROUP_FULL, 100, why, sizeof why);
    assert_string_equal (why, "needs 100 MiB, cgroup at 4000 of 4096 MiB");
    assert_int_equal (wp_resource_check (resource, 96, false), WP_RESOURCE_ADMIT);

    //  A forgotten sample: back to the budget alone
    wp_resource_clear_sample (resource);
    assert_int_equal (wp_resource_check (resource, 400, true), WP_RESOURCE_ADMIT);
    assert_false (wp_resource_admit_background (resource));
    wp_resource_verdict_text (resource, WP_RESOURCE_ADMIT, 1, why, sizeof why);
    assert_string_equal (why, "");
    wp_resource_destroy (&resource);

    //  No budget, no CPU limit
    resource = wp_resource_new (0, 0);
    wp_resource_set_sample (resource, 100, 100000, 0, 0);
    assert_int_equal (wp_resource_check (resource, 50000, true), WP_RESOURCE_ADMIT);
    wp_resource_destroy (&resource);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_parse_status_rss),
        cmocka_unit_test (test_parse_nvidia_smi),
        cmocka_unit_test (test_check),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
