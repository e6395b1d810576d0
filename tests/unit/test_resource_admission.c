/*  =========================================================================
    test_resource_admission - what the resource manager gained with the
    real backends: the per-process RSS and nvidia-smi parsers (GPUs and
    the processes on them), what a device leaves us, and the admission
    verdict the queue asks for each warmup (budget for all, CPU only for
    background warmups, system and cgroup memory when a sample is known,
    the GPU budget and the device's room for a warm onto a GPU).
    =========================================================================
*/
#include "testutil.h"
#include "wp_resource.h"
#include "wp_config.h"
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

//  nvidia-smi's GPU lines: index, uuid, name (commas allowed), total, used.
static void
test_parse_gpus (void **state)
{
    wp_gpu_t gpus [4];
    size_t n = 0;
    assert_int_equal (wp_resource_parse_gpus (
        "0, GPU-aaaa, NVIDIA GeForce RTX 3090, 24576, 1024\n"
        "1, GPU-bbbb, Tesla T4, rev, 2, 15360, 20\r\n", gpus, 4, &n), 0);
    assert_int_equal (n, 2);
    assert_int_equal (gpus [0].index, 0);
    assert_string_equal (gpus [0].uuid, "GPU-aaaa");
    assert_string_equal (gpus [0].name, "NVIDIA GeForce RTX 3090");
    assert_int_equal (gpus [0].total_mb, 24576);
    assert_int_equal (gpus [0].used_mb, 1024);
    assert_string_equal (gpus [1].name, "Tesla T4, rev, 2");
    assert_int_equal (gpus [1].total_mb, 15360);
    assert_int_equal (gpus [1].used_mb, 20);
    //  Too many for the room, and every malformed line
    assert_int_equal (wp_resource_parse_gpus ("0, G, x, 1, 1\n1, H, y, 1, 1\n", gpus, 1, &n),
                      -1);
    const char *bad [] = { "", "\n", "0, G, x, N/A, N/A\n", "0, G, 1024\n", "x, G, n, 1, 2\n",
                           "32, G, n, 1, 2\n", "0, , n, 1, 2\n", "No devices were found\n",
                           "0, G, n, 1, 2, \n", "0, G, n, -1, 2\n", NULL };
    for (int i = 0; bad [i]; i++)
        assert_int_equal (wp_resource_parse_gpus (bad [i], gpus, 4, &n), -1);
}

//  nvidia-smi's processes: matched to GPUs by uuid; unknown memory; none.
static void
test_parse_gpu_apps (void **state)
{
    wp_gpu_t gpus [2];
    size_t n_gpus = 0, n = 9;
    assert_int_equal (wp_resource_parse_gpus ("0, GPU-a, A, 8192, 5300\n3, GPU-b, B, 8192, 0\n",
                                              gpus, 2, &n_gpus), 0);
    wp_gpu_app_t apps [4];
    assert_int_equal (wp_resource_parse_gpu_apps (
        "GPU-a, 4242, 5120\nGPU-b, 77, [N/A]\nGPU-zzz, 1, 5\n", gpus, n_gpus, apps, 4, &n), 0);
    assert_int_equal (n, 2);
    assert_int_equal (apps [0].gpu, 0);
    assert_int_equal (apps [0].pid, 4242);
    assert_int_equal (apps [0].used_mb, 5120);
    assert_int_equal (apps [1].gpu, 3);
    assert_int_equal (apps [1].used_mb, WP_RESOURCE_UNKNOWN_MB);
    //  No process at all (the CSV is then empty, or says so)
    assert_int_equal (wp_resource_parse_gpu_apps ("", gpus, n_gpus, apps, 4, &n), 0);
    assert_int_equal (n, 0);
    assert_int_equal (wp_resource_parse_gpu_apps ("No running processes found\n", gpus, n_gpus,
                                                  apps, 4, &n), 0);
    assert_int_equal (n, 0);
    const char *bad [] = { "GPU-a, x, 5\n", "GPU-a, 0, 5\n", "GPU-a, 5\n", "GPU-a, 1, 5MiB\n",
                           NULL };
    for (int i = 0; bad [i]; i++)
        assert_int_equal (wp_resource_parse_gpu_apps (bad [i], gpus, n_gpus, apps, 4, &n), -1);
    assert_int_equal (wp_resource_parse_gpu_apps ("GPU-a, 1, 5\nGPU-a, 2, 5\n", gpus, n_gpus,
                                                  apps, 1, &n), -1);
}

//  What a device leaves us: total - reserve - (used - ours).
static void
test_capacity (void **state)
{
    //  8 GiB, 5 GiB used by another process, 512 MiB reserved: 2.5 GiB
    assert_int_equal (wp_resource_capacity_mb (8192, 5120, 0, 512), 2560);
    //  Our own 3 GiB do not shrink it
    assert_int_equal (wp_resource_capacity_mb (8192, 8192, 3072, 512), 2560);
    //  Ours over used (a reading before our load showed): others 0
    assert_int_equal (wp_resource_capacity_mb (8192, 1000, 3072, 512), 7680);
    //  Nothing left, never below 0
    assert_int_equal (wp_resource_capacity_mb (8192, 8000, 0, 512), 0);
    assert_int_equal (wp_resource_capacity_mb (100, 0, 0, UINT64_MAX), 0);
}

//  A warm onto a GPU: the GPU budget, then the device keeps its reserve
//  free, counting loads placed since it was read.
static void
test_check_device (void **state)
{
    wp_resource_t *resource = wp_resource_new (0, 0);
    char why [200];
    wp_resource_set_sample (resource, 1, 20000, 0, 0);
    //  No reading of the GPU: only budgets
    assert_int_equal (wp_resource_check_on (resource, 3072, 3072, WP_DEVICE_GPU, true, 1000),
                      WP_RESOURCE_ADMIT);
    wp_resource_device_t devices [] = {
        { .index = -1, .managed = true, .total_mb = 24000, .used_mb = 4000,
          .reserved_mb = 512, .sampled_ms = 1000 },
        { .index = 0, .managed = true, .total_mb = 8192, .used_mb = 5120,
          .reserved_mb = 512, .sampled_ms = 1000 },
        { .index = 1, .managed = false, .total_mb = 8192, .used_mb = 0,
          .reserved_mb = 512, .sampled_ms = 1000 },
    };
    wp_resource_set_devices (resource, devices, 3, 0);
    //  GPU 0 has 2560 MiB over its reserve; GPU 1 is not ours to use
    assert_int_equal (wp_resource_check_on (resource, 3072, 3072, WP_DEVICE_GPU, true, 2000),
                      WP_RESOURCE_DEVICE_FULL);
    wp_resource_verdict_text_on (resource, WP_RESOURCE_DEVICE_FULL, 3072, 3072, WP_DEVICE_GPU,
                                 why, sizeof why);
    assert_string_equal (why, "needs 3072 MiB on gpu: 5120 of 8192 MiB used, 512 reserved");
    assert_int_equal (wp_resource_check_on (resource, 2560, 2560, WP_DEVICE_GPU, true, 2000),
                      WP_RESOURCE_ADMIT);
    //  ... by index: GPU 1 has room
    assert_int_equal (wp_resource_check_on (resource, 3072, 3072, WP_DEVICE_GPU_N (1), true,
                                            2000), WP_RESOURCE_ADMIT);
    //  A load placed after the reading counts whole
    assert_int_equal (wp_resource_model_place (resource, "a", 2000, 2000, WP_DEVICE_GPU_N (0),
                                               1500), 0);
    assert_int_equal (wp_resource_warm_vram_mb (resource, WP_DEVICE_GPU), 2000);
    assert_int_equal (wp_resource_warm_vram_mb (resource, WP_DEVICE_GPU_N (0)), 2000);
    assert_int_equal (wp_resource_warm_vram_mb (resource, WP_DEVICE_GPU_N (1)), 0);
    assert_int_equal (wp_resource_warm_memory_mb (resource), 0);
    assert_int_equal (wp_resource_check_on (resource, 1000, 1000, WP_DEVICE_GPU, true, 2000),
                      WP_RESOURCE_DEVICE_FULL);
    wp_resource_verdict_text_on (resource, WP_RESOURCE_DEVICE_FULL, 1000, 1000, WP_DEVICE_GPU,
                                 why, sizeof why);
    assert_string_equal (why, "needs 1000 MiB on gpu: 5120 of 8192 MiB used, 512 reserved, "
                              "2000 MiB loading since read");
    //  A newer reading holds it: it counts as used there
    devices [1].used_mb = 7120;
    devices [1].sampled_ms = 5000;
    wp_resource_set_devices (resource, devices, 3, 0);
    assert_int_equal (wp_resource_check_on (resource, 560, 560, WP_DEVICE_GPU, true, 6000),
                      WP_RESOURCE_ADMIT);
    assert_int_equal (wp_resource_check_on (resource, 561, 561, WP_DEVICE_GPU, true, 6000),
                      WP_RESOURCE_DEVICE_FULL);
    //  The GPU budget
    wp_resource_set_devices (resource, devices, 3, 2400);
    assert_int_equal (wp_resource_check_on (resource, 500, 500, WP_DEVICE_GPU, true, 6000),
                      WP_RESOURCE_OVER_VRAM_BUDGET);
    wp_resource_verdict_text_on (resource, WP_RESOURCE_OVER_VRAM_BUDGET, 500, 500,
                                 WP_DEVICE_GPU, why, sizeof why);
    assert_string_equal (why, "needs 500 MiB of GPU memory, 2000 of 2400 MiB GPU budget in use");
    //  The RAM part of a GPU model is checked on RAM, with its reserve
    assert_int_equal (wp_resource_check_on (resource, 19600, 100, WP_DEVICE_GPU, true, 6000),
                      WP_RESOURCE_LOW_MEMORY);
    wp_resource_verdict_text_on (resource, WP_RESOURCE_LOW_MEMORY, 19600, 100, WP_DEVICE_GPU,
                                 why, sizeof why);
    assert_string_equal (why, "needs 19500 MiB, 20000 MiB available, 512 reserved");
    //  Cooled: its VRAM is free again in the accounts
    assert_int_equal (wp_resource_model_cool (resource, "a"), 0);
    assert_int_equal (wp_resource_warm_vram_mb (resource, WP_DEVICE_GPU), 0);
    //  A forgotten sample forgets the devices too
    wp_resource_clear_sample (resource);
    assert_int_equal (wp_resource_check_on (resource, 8000, 2000, WP_DEVICE_GPU, true, 7000),
                      WP_RESOURCE_ADMIT);
    wp_resource_destroy (&resource);
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
        cmocka_unit_test (test_parse_gpus),
        cmocka_unit_test (test_parse_gpu_apps),
        cmocka_unit_test (test_capacity),
        cmocka_unit_test (test_check_device),
        cmocka_unit_test (test_check),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
