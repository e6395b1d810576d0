/*  =========================================================================
    test_resource - the resource manager core: /proc and cgroup parsers on
    real and broken text, CPU percent, the warm set and admission.
    =========================================================================
*/

#include "testutil.h"
#include "wp_resource.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A /proc/meminfo as a 16 GB machine prints it (shortened).
static const char *s_meminfo =
    "MemTotal:       16315568 kB\n"
    "MemFree:         1234567 kB\n"
    "MemAvailable:    9876543 kB\n"
    "Buffers:          345678 kB\n"
    "Cached:          5678901 kB\n"
    "HugePages_Total:       0\n"
    "Hugepagesize:       2048 kB\n";

//  A /proc/stat of a 4-CPU machine (shortened).
static const char *s_stat =
    "cpu  10132153 290696 3084719 46828483 16683 0 25195 7 175628 3\n"
    "cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0\n"
    "cpu1 1335878 13815 553592 11128434 3700 0 3624 4 48744 1\n"
    "cpu2 3797813 206431 1004413 11101232 3509 0 2042 3 51298 2\n"
    "cpu3 3605182 37484 954658 11255525 3344 0 1654 0 51653 0\n"
    "intr 1462898 27 9 0 0 0 0 3 0 1 0 0 0 4 0 0 0\n"
    "ctxt 2934879\n"
    "btime 1700000000\n"
    "processes 123456\n";

//  Fill buffer with size-1 pseudo-random bytes (never NUL) and a NUL.
static void
s_garbage (char *buffer, size_t size, uint32_t *seed)
{
    for (size_t index = 0; index + 1 < size; index++) {
        *seed = *seed * 1103515245u + 12345u;
        char c = (char) ((*seed >> 16) & 0xff);
        //  Bias towards characters the parsers care about
        if ((*seed >> 8) % 4 == 0)
            c = "0123456789 \n:cpukBmax/"[(*seed >> 10) % 22];
        buffer [index] = c ? c : '1';
    }
    buffer [size - 1] = '\0';
}

//  Run every parser on text; they must return 0 or -1, not crash.
static void
s_parse_all (const char *text)
{
    uint64_t a, b;
    wp_cpu_times_t times;
    uint32_t ncpu;
    char path [64];
    int rc = wp_resource_parse_meminfo (text, &a, &b);
    assert_true (rc == 0 || rc == -1);
    rc = wp_resource_parse_stat (text, &times, &ncpu);
    assert_true (rc == 0 || rc == -1);
    rc = wp_resource_parse_cgroup (text, path, sizeof (path));
    assert_true (rc == 0 || rc == -1);
    if (rc == 0)
        assert_true (path [0] == '/' && strlen (path) < sizeof (path));
    rc = wp_resource_parse_memory_max (text, &a);
    assert_true (rc == 0 || rc == -1);
    rc = wp_resource_parse_memory_current (text, &a);
    assert_true (rc == 0 || rc == -1);
}

static void
test_meminfo (void **state)
{
    uint64_t total = 0, available = 0;
    assert_int_equal (wp_resource_parse_meminfo (s_meminfo, &total, &available), 0);
    assert_int_equal (total, 15933);        //  16315568 / 1024 = 15933.17
    assert_int_equal (available, 9645);     //  9876543 / 1024 = 9645.06
    //  Either output may be NULL
    assert_int_equal (wp_resource_parse_meminfo (s_meminfo, NULL, &available), 0);
    assert_int_equal (wp_resource_parse_meminfo (s_meminfo, &total, NULL), 0);

    //  Exactly 1024 KiB is 1 MiB, 1023 KiB rounds down to 0
    assert_int_equal (wp_resource_parse_meminfo (
        "MemTotal: 1024 kB\nMemAvailable: 1023 kB", &total, &available), 0);
    assert_int_equal (total, 1);
    assert_int_equal (available, 0);

    //  Largest 64-bit value is accepted, one more is not
    assert_int_equal (wp_resource_parse_meminfo (
        "MemTotal: 18446744073709551615 kB\nMemAvailable:\t0\tkB\n",
        &total, &available), 0);
    assert_int_equal (total, UINT64_MAX / 1024);
    assert_int_equal (available, 0);

    //  Errors leave the outputs untouched
    total = available = 42;
    const char *bad [] = {
        "",
        "\n\n",
        "MemTotal:       16315568 kB\n",                         // no MemAvailable
        "MemAvailable:    9876543 kB\n",                         // no MemTotal
        "MemTotal: 100 kB\nMemAvailable: 18446744073709551616 kB\n",
        "MemTotal: 100 kB\nMemAvailable: -5 kB\n",
        "MemTotal: 100 kB\nMemAvailable: abc kB\n",
        "MemTotal: 100 kB\nMemAvailable: 100 MB\n",
        "MemTotal: 100 kB\nMemAvailable: 100\n",                 // no unit
        "MemTotal: 100 kB\nMemAvailable: 100 kB extra\n",
        "MemTotal: 100 kB\nMemAvailable: 1e3 kB\n",
        "MemTotal: 100 kB\nMemAvail",                            // truncated
        "MemTotal: 100 kB\nMemAvailable: 98",                   // truncated number
        "MemTotal: 100 kB\n MemAvailable: 100 kB\n",             // not at line start
        NULL
    };
    for (size_t index = 0; bad [index]; index++)
        assert_int_equal (wp_resource_parse_meminfo (bad [index], &total, &available), -1);
    assert_int_equal (wp_resource_parse_meminfo (NULL, &total, &available), -1);
    assert_int_equal (total, 42);
    assert_int_equal (available, 42);
}

static void
test_stat (void **state)
{
    wp_cpu_times_t times;
    uint32_t ncpu = 0;
    assert_int_equal (wp_resource_parse_stat (s_stat, &times, &ncpu), 0);
    assert_int_equal (ncpu, 4);
    assert_int_equal (times.user, 10132153);
    assert_int_equal (times.nice, 290696);
    assert_int_equal (times.system, 3084719);
    assert_int_equal (times.idle, 46828483);
    assert_int_equal (times.iowait, 16683);
    assert_int_equal (times.irq, 0);
    assert_int_equal (times.softirq, 25195);
    assert_int_equal (times.steal, 7);
    assert_int_equal (wp_resource_parse_stat (s_stat, &times, NULL), 0);

    //  Old kernels: four fields, the rest are zero
    assert_int_equal (wp_resource_parse_stat (
        "cpu 1 2 3 4\ncpu0 1 2 3 4\n", &times, &ncpu), 0);
    assert_int_equal (times.user, 1);
    assert_int_equal (times.idle, 4);
    assert_int_equal (times.iowait, 0);
    assert_int_equal (times.steal, 0);
    assert_int_equal (ncpu, 1);

    //  Not the first line, no trailing newline, a tab between fields
    assert_int_equal (wp_resource_parse_stat (
        "intr 5\ncpu 5\t6 7 8 9 10 11 12\ncpu0 1 2 3 4\ncpu1 1 2 3 4", &times, &ncpu), 0);
    assert_int_equal (times.user, 5);
    assert_int_equal (times.steal, 12);
    assert_int_equal (ncpu, 2);

    memset (&times, 0x5a, sizeof (times));
    wp_cpu_times_t saved = times;
    ncpu = 99;
    const char *bad [] = {
        "",
        "cpu\n",
        "cpu  1 2 3\ncpu0 1 2 3\n",                 // too few fields
        "cpu  1 2 3 4x\ncpu0 1 2 3 4\n",
        "cpu  1 2 -3 4\ncpu0 1 2 3 4\n",
        "cpu  1 2 3 4 5 6 7 8 9 x\ncpu0 1 2 3 4\n", // garbage guest field
        "cpu  1 2 3 18446744073709551616\ncpu0 1 2 3 4\n",
        "cpu  1 2 3 4\n",                            // no cpuN line
        "cpu0 1 2 3 4\n",                            // no aggregate line
        "cpu  10132153 290696 30",                  // truncated
        "cpuX 1 2 3 4\n",
        NULL
    };
    for (size_t index = 0; bad [index]; index++)
        assert_int_equal (wp_resource_parse_stat (bad [index], &times, &ncpu), -1);
    assert_int_equal (wp_resource_parse_stat (NULL, &times, &ncpu), -1);
    assert_memory_equal (&times, &saved, sizeof (times));
    assert_int_equal (ncpu, 99);
}

static void
test_cgroup (void **state)
{
    char path [64];
    assert_int_equal (wp_resource_parse_cgroup (
        "0::/user.slice/user-1000.slice/session-3.scope\n", path, sizeof (path)), 0);
    assert_string_equal (path, "/user.slice/user-1000.slice/session-3.scope");

    //  Hybrid hierarchy: v1 lines first
    assert_int_equal (wp_resource_parse_cgroup (
        "12:memory:/docker/abc\n1:name=systemd:/x\n0::/docker/abc", path, sizeof (path)), 0);
    assert_string_equal (path, "/docker/abc");

    //  Container root
    assert_int_equal (wp_resource_parse_cgroup ("0::/\n", path, sizeof (path)), 0);
    assert_string_equal (path, "/");

    //  Capacity: "/abc" needs 5 bytes
    assert_int_equal (wp_resource_parse_cgroup ("0::/abc\n", path, 5), 0);
    assert_string_equal (path, "/abc");
    strcpy (path, "untouched");
    assert_int_equal (wp_resource_parse_cgroup ("0::/abc\n", path, 4), -1);
    assert_int_equal (wp_resource_parse_cgroup ("0::/abc\n", path, 0), -1);

    const char *bad [] = {
        "",
        "12:memory:/docker/abc\n",       // v1 only
        "0::\n",
        "0::",
        "0::relative/path\n",
        "10::/x\n",
        " 0::/x\n",
        NULL
    };
    for (size_t index = 0; bad [index]; index++)
        assert_int_equal (wp_resource_parse_cgroup (bad [index], path, sizeof (path)), -1);
    assert_int_equal (wp_resource_parse_cgroup (NULL, path, sizeof (path)), -1);
    assert_string_equal (path, "untouched");
}

static void
test_memory_files (void **state)
{
    uint64_t value = 0;
    assert_int_equal (wp_resource_parse_memory_max ("max\n", &value), 0);
    assert_true (value == WP_RESOURCE_NO_LIMIT);
    assert_int_equal (wp_resource_parse_memory_max ("max", &value), 0);
    assert_true (value == WP_RESOURCE_NO_LIMIT);
    assert_int_equal (wp_resource_parse_memory_max ("1073741824\n", &value), 0);
    assert_int_equal (value, 1073741824);
    assert_int_equal (wp_resource_parse_memory_max ("0\n", &value), 0);
    assert_int_equal (value, 0);
    assert_int_equal (wp_resource_parse_memory_current ("524288000\n", &value), 0);
    assert_int_equal (value, 524288000);
    assert_int_equal (wp_resource_parse_memory_current ("18446744073709551615", &value), 0);
    assert_true (value == UINT64_MAX);

    value = 7;
    const char *bad [] = {
        "", "\n", "maxx", "max\n\n", "MAX", " 12", "12 ", "12 34", "-1", "+1",
        "0x10", "12\n13\n", "18446744073709551616", "1.5", NULL
    };
    for (size_t index = 0; bad [index]; index++) {
        assert_int_equal (wp_resource_parse_memory_max (bad [index], &value), -1);
        //  "max" is not a valid memory.current
        assert_int_equal (wp_resource_parse_memory_current (bad [index], &value), -1);
    }
    assert_int_equal (wp_resource_parse_memory_current ("max\n", &value), -1);
    assert_int_equal (wp_resource_parse_memory_max (NULL, &value), -1);
    assert_int_equal (wp_resource_parse_memory_current (NULL, &value), -1);
    assert_int_equal (value, 7);
}

static void
test_garbage (void **state)
{
    //  Every prefix of the real files (a read cut anywhere)
    const char *samples [] = { s_meminfo, s_stat,
                               "12:memory:/a\n0::/user.slice/x\n", "max\n", NULL };
    for (size_t sample = 0; samples [sample]; sample++) {
        size_t length = strlen (samples [sample]);
        char *copy = malloc (length + 1);
        assert_non_null (copy);
        for (size_t cut = 0; cut <= length; cut++) {
            memcpy (copy, samples [sample], cut);
            copy [cut] = '\0';
            s_parse_all (copy);
        }
        free (copy);
    }
    //  A cut meminfo is only accepted once MemAvailable is complete
    size_t whole = strstr (s_meminfo, "MemAvailable:    9876543 kB") - s_meminfo
                 + strlen ("MemAvailable:    9876543 kB");
    char copy [512];
    for (size_t cut = 0; cut < whole; cut++) {
        memcpy (copy, s_meminfo, cut);
        copy [cut] = '\0';
        assert_int_equal (wp_resource_parse_meminfo (copy, NULL, NULL), -1);
    }
    //  Random bytes of many lengths
    uint32_t seed = 12345;
    char buffer [300];
    for (int round = 0; round < 5000; round++) {
        size_t size = 1 + (size_t) (round % (int) sizeof (buffer));
        s_garbage (buffer, size, &seed);
        s_parse_all (buffer);
    }
    //  A very long line and a huge number
    size_t size = 1 << 20;
    char *big = malloc (size);
    assert_non_null (big);
    memset (big, '9', size - 1);
    big [size - 1] = '\0';
    s_parse_all (big);
    uint64_t value;
    assert_int_equal (wp_resource_parse_memory_current (big, &value), -1);
    free (big);
}

static void
test_cpu_percent (void **state)
{
    wp_cpu_times_t before = { 100, 0, 50, 800, 50, 0, 0, 0 };
    wp_cpu_times_t after = { 160, 10, 80, 900, 50, 0, 0, 0 };
    //  busy +60 +10 +30 = 100, idle +100: 50 %
    assert_float_equal (wp_resource_cpu_percent (&before, &after), 50.0, 1e-9);
    //  No time passed
    assert_float_equal (wp_resource_cpu_percent (&before, &before), 0.0, 0);
    //  All busy: irq, softirq and steal count as busy
    wp_cpu_times_t busy = before;
    busy.irq += 5;
    busy.softirq += 3;
    busy.steal += 2;
    assert_float_equal (wp_resource_cpu_percent (&before, &busy), 100.0, 1e-9);
    //  All idle: iowait counts as idle
    wp_cpu_times_t idle = before;
    idle.iowait += 40;
    assert_float_equal (wp_resource_cpu_percent (&before, &idle), 0.0, 0);
    //  iowait going backwards counts 0: busy 25, idle 75 -> 25 %
    wp_cpu_times_t back_before = { 0, 0, 0, 100, 50, 0, 0, 0 };
    wp_cpu_times_t back_after = { 25, 0, 0, 175, 40, 0, 0, 0 };
    assert_float_equal (wp_resource_cpu_percent (&back_before, &back_after), 25.0, 1e-9);
    //  Samples swapped: nothing moved forward
    assert_float_equal (wp_resource_cpu_percent (&after, &before), 0.0, 0);
    //  Counters near the top of the range: busy 10, idle 30 -> 25 %
    wp_cpu_times_t high_before = { UINT64_MAX - 10, 0, 0, UINT64_MAX - 30, 0, 0, 0, 0 };
    wp_cpu_times_t high_after = { UINT64_MAX, 0, 0, UINT64_MAX, 0, 0, 0, 0 };
    assert_float_equal (wp_resource_cpu_percent (&high_before, &high_after), 25.0, 1e-9);
}

static void
test_warm_set (void **state)
{
    wp_resource_t *resource = wp_resource_new (1000, 80);
    assert_non_null (resource);
    assert_int_equal (wp_resource_budget_mb (resource), 1000);
    assert_int_equal (wp_resource_warm_count (resource), 0);
    assert_int_equal (wp_resource_warm_memory_mb (resource), 0);

    //  Names are copied
    char name [16];
    strcpy (name, "llama-7b");
    assert_int_equal (wp_resource_model_warm (resource, name, 300), 0);
    strcpy (name, "changed");
    assert_true (wp_resource_is_warm (resource, "llama-7b"));
    assert_false (wp_resource_is_warm (resource, "changed"));
    assert_false (wp_resource_is_warm (resource, NULL));

    assert_int_equal (wp_resource_model_warm (resource, "coder-13b", 500), 0);
    assert_int_equal (wp_resource_warm_count (resource), 2);
    assert_int_equal (wp_resource_warm_memory_mb (resource), 800);
    //  Warming again replaces the memory
    assert_int_equal (wp_resource_model_warm (resource, "llama-7b", 200), 0);
    assert_int_equal (wp_resource_warm_count (resource), 2);
    assert_int_equal (wp_resource_warm_memory_mb (resource), 700);

    assert_int_equal (wp_resource_model_cool (resource, "llama-7b"), 0);
    assert_int_equal (wp_resource_warm_count (resource), 1);
    assert_int_equal (wp_resource_warm_memory_mb (resource), 500);
    assert_false (wp_resource_is_warm (resource, "llama-7b"));
    //  Cooling a cold model changes nothing
    assert_int_equal (wp_resource_model_cool (resource, "llama-7b"), -1);
    assert_int_equal (wp_resource_model_cool (resource, NULL), -1);
    assert_int_equal (wp_resource_warm_memory_mb (resource), 500);

    //  Names: empty, NULL and too long are refused; 255 bytes is fine
    char long_name [WP_RESOURCE_NAME_MAX + 2];
    memset (long_name, 'm', sizeof (long_name) - 1);
    long_name [sizeof (long_name) - 1] = '\0';
    assert_int_equal (wp_resource_model_warm (resource, long_name, 1), -1);
    long_name [WP_RESOURCE_NAME_MAX] = '\0';
    assert_int_equal (wp_resource_model_warm (resource, long_name, 1), 0);
    assert_int_equal (wp_resource_model_warm (resource, "", 1), -1);
    assert_int_equal (wp_resource_model_warm (resource, NULL, 1), -1);
    assert_int_equal (wp_resource_warm_count (resource), 2);
    wp_resource_destroy (&resource);
    assert_null (resource);
    wp_resource_destroy (&resource);

    //  Bounded: WP_RESOURCE_MAX_MODELS models of the largest size
    resource = wp_resource_new (0, 0);
    assert_non_null (resource);
    char model [32];
    for (unsigned index = 0; index < WP_RESOURCE_MAX_MODELS; index++) {
        snprintf (model, sizeof (model), "model-%u", index);
        assert_int_equal (wp_resource_model_warm (resource, model, UINT32_MAX), 0);
    }
    assert_int_equal (wp_resource_model_warm (resource, "one-too-many", 1), -1);
    assert_int_equal (wp_resource_model_warm (resource, "model-7", UINT32_MAX), 0);
    assert_int_equal (wp_resource_warm_count (resource), WP_RESOURCE_MAX_MODELS);
    assert_true (wp_resource_warm_memory_mb (resource)
                 == (uint64_t) WP_RESOURCE_MAX_MODELS * UINT32_MAX);
    //  After a cool there is room again
    assert_int_equal (wp_resource_model_cool (resource, "model-0"), 0);
    assert_int_equal (wp_resource_model_warm (resource, "one-too-many", 1), 0);
    wp_resource_destroy (&resource);

    //  Bad configuration
    assert_null (wp_resource_new (1000, -1));
    assert_null (wp_resource_new (1000, NAN));
}

static void
test_admit (void **state)
{
    wp_resource_t *resource = wp_resource_new (1000, 80);
    assert_non_null (resource);
    assert_int_equal (wp_resource_model_warm (resource, "a", 300), 0);
    assert_int_equal (wp_resource_model_warm (resource, "b", 400), 0);

    //  Budget: 700 warm + 300 = 1000 fits exactly, 301 does not
    assert_true (wp_resource_admit (resource, 300, 50, 10000, 0, 0));
    assert_false (wp_resource_admit (resource, 301, 50, 10000, 0, 0));
    assert_false (wp_resource_admit (resource, UINT64_MAX, 50, WP_RESOURCE_UNKNOWN_MB, 0, 0));
    assert_true (wp_resource_admit (resource, 0, 50, 10000, 0, 0));

    //  CPU: 80 is allowed, above is not, NaN is not
    assert_true (wp_resource_admit (resource, 100, 80.0, 10000, 0, 0));
    assert_false (wp_resource_admit (resource, 100, 80.01, 10000, 0, 0));
    assert_false (wp_resource_admit (resource, 100, NAN, 10000, 0, 0));

    //  Machine memory: need 300, 299 available is too little
    assert_true (wp_resource_admit (resource, 300, 10, 300, 0, 0));
    assert_false (wp_resource_admit (resource, 300, 10, 299, 0, 0));
    assert_true (wp_resource_admit (resource, 300, 10, WP_RESOURCE_UNKNOWN_MB, 0, 0));

    //  cgroup: limit 2000, usage 1700 leaves 300
    assert_true (wp_resource_admit (resource, 300, 10, 10000, 2000, 1700));
    assert_false (wp_resource_admit (resource, 300, 10, 10000, 2000, 1701));
    //  usage above the limit: no headroom, no underflow
    assert_false (wp_resource_admit (resource, 1, 10, 10000, 2000, 2500));
    assert_true (wp_resource_admit (resource, 0, 10, 10000, 2000, 2500));
    //  limit 0: no limit
    assert_true (wp_resource_admit (resource, 300, 10, 10000, 0, 999999));

    //  Background admission: false before a sample
    assert_false (wp_resource_admit_background (resource));
    wp_resource_set_sample (resource, 10, 5000, 0, 0);
    assert_true (wp_resource_admit_background (resource));
    wp_resource_set_sample (resource, 90, 5000, 0, 0);
    assert_false (wp_resource_admit_background (resource));
    wp_resource_set_sample (resource, 10, 0, 0, 0);
    assert_false (wp_resource_admit_background (resource));
    wp_resource_set_sample (resource, 10, 5000, 4096, 4096);
    assert_false (wp_resource_admit_background (resource));
    wp_resource_set_sample (resource, 10, 5000, 4096, 4095);
    assert_true (wp_resource_admit_background (resource));
    //  Budget full: 1000 of 1000
    assert_int_equal (wp_resource_model_warm (resource, "c", 300), 0);
    assert_false (wp_resource_admit_background (resource));
    assert_true (wp_resource_admit (resource, 0, 10, 5000, 0, 0));
    //  Over budget (a model grew): nothing fits, no underflow
    assert_int_equal (wp_resource_model_warm (resource, "c", 900), 0);
    assert_int_equal (wp_resource_warm_memory_mb (resource), 1600);
    assert_false (wp_resource_admit (resource, 0, 10, 5000, 0, 0));
    assert_false (wp_resource_admit_background (resource));
    wp_resource_destroy (&resource);

    //  Unbounded budget and no CPU limit
    resource = wp_resource_new (0, 0);
    assert_non_null (resource);
    assert_int_equal (wp_resource_model_warm (resource, "a", UINT32_MAX), 0);
    assert_true (wp_resource_admit (resource, UINT64_MAX, 100, WP_RESOURCE_UNKNOWN_MB, 0, 0));
    assert_true (wp_resource_admit (resource, 10, 100, 10, 0, 0));
    assert_false (wp_resource_admit (resource, 11, 100, 10, 0, 0));
    wp_resource_destroy (&resource);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_meminfo),
        cmocka_unit_test (test_stat),
        cmocka_unit_test (test_cgroup),
        cmocka_unit_test (test_memory_files),
        cmocka_unit_test (test_garbage),
        cmocka_unit_test (test_cpu_percent),
        cmocka_unit_test (test_warm_set),
        cmocka_unit_test (test_admit),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
