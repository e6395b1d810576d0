/*  =========================================================================
    test_measure - what a load took, from the readings around it: the
    change on its GPU and process channels between the last reading before
    it and the first after; dropped when another load or cool of the
    service ran between them, when nothing changed, or when no reading
    after comes in time; each load reported once.
    =========================================================================
*/
#include "testutil.h"
#include "wp_measure.h"

//  A GPU load measured by the change of its GPU's memory used.
static void
test_gpu_change (void **state)
{
    wp_measure_t *measure = wp_measure_new ();
    assert_non_null (measure);
    unsigned gpu0 [] = { WP_MEASURE_GPU (0) };
    //  nvidia-smi readings take time: from start to end
    assert_int_equal (wp_measure_reading (measure, WP_MEASURE_GPU (0), 900, 950, 1000), 0);
    wp_measure_asked (measure, "chat", 1000);
    wp_measure_ended (measure, "chat", 1100, 4000);
    assert_int_equal (wp_measure_load (measure, "chat", 1100, 4000, gpu0, 1), 0);
    wp_measured_t out [4];
    //  No reading after yet: nothing
    assert_int_equal (wp_measure_take (measure, 4100, out, 4), 0);
    //  A reading that started before the end does not count as after
    wp_measure_reading (measure, WP_MEASURE_GPU (0), 3900, 4200, 3000);
    assert_int_equal (wp_measure_take (measure, 4300, out, 4), 0);
    wp_measure_reading (measure, WP_MEASURE_GPU (0), 5000, 5050, 3950);
    assert_int_equal (wp_measure_take (measure, 5100, out, 4), 1);
    assert_string_equal (out [0].model, "chat");
    assert_int_equal (out [0].vram_mb, 2950);
    assert_int_equal (out [0].ram_mb, 0);
    assert_true (out [0].gpu);
    assert_false (out [0].processes);
    assert_int_equal (out [0].end_ms, 4000);
    //  Reported once
    assert_int_equal (wp_measure_take (measure, 6000, out, 4), 0);
    assert_int_equal (wp_measure_dropped (measure), 0);
    wp_measure_destroy (&measure);
    wp_measure_destroy (&measure);
}

//  Several channels: two GPUs and a watched process (KiB).
static void
test_channels (void **state)
{
    wp_measure_t *measure = wp_measure_new ();
    unsigned channels [] = { WP_MEASURE_GPU (0), WP_MEASURE_GPU (1), WP_MEASURE_WATCH (2) };
    wp_measure_reading (measure, WP_MEASURE_GPU (0), 100, 100, 500);
    wp_measure_reading (measure, WP_MEASURE_GPU (1), 100, 100, 0);
    wp_measure_reading (measure, WP_MEASURE_WATCH (2), 150, 150, 10240);
    wp_measure_reading (measure, WP_MEASURE_WATCH (2), 190, 190, 20480);   //  the latest before
    wp_measure_ended (measure, "big", 200, 800);
    wp_measure_load (measure, "big", 200, 800, channels, 3);
    wp_measure_reading (measure, WP_MEASURE_GPU (0), 900, 900, 2500);
    wp_measure_reading (measure, WP_MEASURE_GPU (1), 900, 900, 1000);
    wp_measured_t out [2];
    assert_int_equal (wp_measure_take (measure, 950, out, 2), 0);     //  the process's after?
    wp_measure_reading (measure, WP_MEASURE_WATCH (2), 1000, 1000, 20480 + 300 * 1024 + 1);
    wp_measure_reading (measure, WP_MEASURE_WATCH (2), 2000, 2000, 0);     //  not the first after
    assert_int_equal (wp_measure_take (measure, 2100, out, 2), 1);
    assert_int_equal (out [0].vram_mb, 3000);
    assert_int_equal (out [0].ram_mb, 301);     //  KiB rounded up to MiB
    assert_true (out [0].gpu && out [0].processes);
    //  Out of range channels and bad names are refused
    assert_int_equal (wp_measure_reading (measure, WP_MEASURE_CHANNELS, 0, 0, 1), -1);
    assert_int_equal (wp_measure_reading (measure, 0, 10, 5, 1), -1);
    assert_int_equal (wp_measure_load (measure, "", 0, 1, channels, 1), -1);
    assert_int_equal (wp_measure_load (measure, "m", 0, 1, channels, 0), -1);
    wp_measure_destroy (&measure);
}

//  Another load or cool between the readings spoils the measure; one
//  outside them does not.
static void
test_overlap (void **state)
{
    wp_measure_t *measure = wp_measure_new ();
    unsigned gpu0 [] = { WP_MEASURE_GPU (0) };
    wp_measure_reading (measure, WP_MEASURE_GPU (0), 0, 10, 1000);
    //  A cool of another model long before: no matter
    wp_measure_ended (measure, "old", 0, 5);
    wp_measure_ended (measure, "a", 100, 200);
    wp_measure_load (measure, "a", 100, 200, gpu0, 1);
    //  b was asked while a loaded, and is still running
    wp_measure_asked (measure, "b", 150);
    wp_measure_reading (measure, WP_MEASURE_GPU (0), 300, 300, 5000);
    wp_measured_t out [2];
    assert_int_equal (wp_measure_take (measure, 400, out, 2), 0);
    assert_int_equal (wp_measure_dropped (measure), 1);
    //  b ran from 350 (asked at 150) to 400: between the readings at 300
    //  and 500 it ran alone (its own asking counts as itself)
    wp_measure_ended (measure, "b", 350, 400);
    wp_measure_load (measure, "b", 350, 400, gpu0, 1);
    wp_measure_reading (measure, WP_MEASURE_GPU (0), 500, 500, 6000);
    assert_int_equal (wp_measure_take (measure, 600, out, 2), 1);
    assert_int_equal (out [0].vram_mb, 1000);
    //  c started before the reading at 500 ended: a's window is not c's
    wp_measure_ended (measure, "c", 450, 700);
    wp_measure_load (measure, "c", 450, 700, gpu0, 1);
    wp_measure_reading (measure, WP_MEASURE_GPU (0), 800, 800, 7000);
    assert_int_equal (wp_measure_take (measure, 900, out, 2), 0);
    assert_int_equal (wp_measure_dropped (measure), 2);     //  b's run (to 400) is inside
    wp_measure_destroy (&measure);
}

//  Nothing to measure: no change, no reading before, none after in time.
static void
test_dropped (void **state)
{
    wp_measure_t *measure = wp_measure_new ();
    unsigned gpu0 [] = { WP_MEASURE_GPU (0) };
    wp_measured_t out [2];
    //  No reading before
    wp_measure_load (measure, "a", 100, 200, gpu0, 1);
    wp_measure_reading (measure, WP_MEASURE_GPU (0), 300, 300, 5000);
    assert_int_equal (wp_measure_take (measure, 400, out, 2), 0);
    assert_int_equal (wp_measure_dropped (measure), 1);
    //  No change (the server had it loaded already)
    wp_measure_load (measure, "b", 400, 500, gpu0, 1);
    wp_measure_reading (measure, WP_MEASURE_GPU (0), 600, 600, 5000);
    assert_int_equal (wp_measure_take (measure, 700, out, 2), 0);
    assert_int_equal (wp_measure_dropped (measure), 2);
    //  Memory went down: not a size
    wp_measure_load (measure, "c", 700, 800, gpu0, 1);
    wp_measure_reading (measure, WP_MEASURE_GPU (0), 900, 900, 100);
    assert_int_equal (wp_measure_take (measure, 1000, out, 2), 0);
    assert_int_equal (wp_measure_dropped (measure), 3);
    //  No reading after within the wait
    wp_measure_load (measure, "d", 1000, 1100, gpu0, 1);
    assert_int_equal (wp_measure_take (measure, 1100 + WP_MEASURE_WAIT_MS, out, 2), 0);
    assert_int_equal (wp_measure_dropped (measure), 3);
    assert_int_equal (wp_measure_take (measure, 1101 + WP_MEASURE_WAIT_MS, out, 2), 0);
    assert_int_equal (wp_measure_dropped (measure), 4);
    //  A full pending list drops the newest
    for (int i = 0; i < WP_MEASURE_PENDING; i++)
        assert_int_equal (wp_measure_load (measure, "e", 5000000, 5000001, gpu0, 1), 0);
    assert_int_equal (wp_measure_load (measure, "e", 5000000, 5000001, gpu0, 1), -1);
    assert_int_equal (wp_measure_dropped (measure), 5);
    wp_measure_destroy (&measure);
}

//  The rings are bounded: old readings and activity are overwritten.
static void
test_bounded (void **state)
{
    wp_measure_t *measure = wp_measure_new ();
    unsigned gpu0 [] = { WP_MEASURE_GPU (0) };
    for (uint64_t t = 0; t < 100; t++) {
        wp_measure_reading (measure, WP_MEASURE_GPU (0), t * 10, t * 10, 1000);
        wp_measure_asked (measure, "busy", t * 10);
        wp_measure_ended (measure, "busy", t * 10, t * 10 + 1);
    }
    for (int i = 0; i < 1000; i++)
        wp_measure_asked (measure, "x", 10);   //  never ended: overwritten in time
    for (int i = 0; i < WP_MEASURE_ACTIVITY; i++)
        wp_measure_ended (measure, "quiet", 0, 1);
    wp_measure_load (measure, "m", 995, 999, gpu0, 1);
    wp_measure_reading (measure, WP_MEASURE_GPU (0), 1000, 1000, 1500);
    wp_measured_t out [1];
    assert_int_equal (wp_measure_take (measure, 1001, out, 1), 1);
    assert_int_equal (out [0].vram_mb, 500);
    wp_measure_destroy (&measure);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_gpu_change),
        cmocka_unit_test (test_channels),
        cmocka_unit_test (test_overlap),
        cmocka_unit_test (test_dropped),
        cmocka_unit_test (test_bounded),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
