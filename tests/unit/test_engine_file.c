/*  =========================================================================
    test_engine_file - model files and the engine taking another's learning:
    a file round-trips; one changed byte, a cut, a longer file, another
    magic, format, engine or a value out of range is refused whole with the
    reason; a replace takes the file's weights and rates, a merge averages
    the weights by the examples each saw and adds the counts; the
    population's survival becomes the prior only when the file says so; a
    file with a value that is no count changes nothing.
    =========================================================================
*/
#include "testutil.h"
#include "wp_engine.h"
#include "wp_engine_file.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

//  A file with recognisable values.
static void
s_file (wp_engine_file_t *file)
{
    memset (file, 0, sizeof *file);
    snprintf (file->engine, sizeof file->engine, "%s", WP_ENGINE_VERSION);
    snprintf (file->source, sizeof file->source, "trace.csv");
    file->price = 1000;
    file->requests = 12345;
    file->from_ms = -1;
    file->until_ms = 43200000;
    for (int i = 0; i < WP_ENGINE_FEATURES; i++)
        file->learned.weights [i] = 0.5 + i;
    file->learned.updates = 1000;
    for (int j = 0; j < WP_IDLE_BINS; j++)
        file->learned.survival [j] = 0.9;
    for (int j = 0; j <= WP_IDLE_BINS; j++)
        file->learned.done [j] = 1000.0 / (j + 1);
    file->learned.waits_s = 50;
    file->learned.waits_n = 10;
    for (int t = 0; t < WP_ENGINE_TOLS; t++)
        file->learned.hits [t] = t;
    file->learned.trials = 10;
}

//  Encode, then decode: the same values; every way of being wrong refused.
static void
test_round_trip_and_refusals (void **state)
{
    wp_engine_file_t file, back;
    s_file (&file);
    file.merge = true;
    uint8_t data [WP_ENGINE_FILE_MAX];
    size_t len = wp_engine_file_encode (&file, data, sizeof data);
    assert_true (len > 200 && len < WP_ENGINE_FILE_MAX);
    char error [256];
    assert_int_equal (wp_engine_file_decode (&back, data, len, error, sizeof error), 0);
    assert_true (back.merge);
    assert_false (back.population);
    assert_int_equal (back.requests, 12345);
    assert_int_equal (back.until_ms, 43200000);
    assert_string_equal (back.source, "trace.csv");
    assert_memory_equal (&back.learned, &file.learned, sizeof file.learned);
    //  every single byte changed is caught (by the checksum or a check)
    for (size_t i = 0; i < len; i++) {
        uint8_t copy [WP_ENGINE_FILE_MAX];
        memcpy (copy, data, len);
        copy [i] ^= 0x40;
        assert_int_equal (wp_engine_file_decode (&back, copy, len, error, sizeof error), -1);
    }
    assert_int_equal (wp_engine_file_decode (&back, data, len - 1, error, sizeof error), -1);
    assert_non_null (strstr (error, "cut short"));
    uint8_t longer [WP_ENGINE_FILE_MAX + 1];
    memcpy (longer, data, len);
    longer [len] = 0;
    assert_int_equal (wp_engine_file_decode (&back, longer, len + 1, error, sizeof error), -1);
    assert_non_null (strstr (error, "longer"));
    data [3] = 'X';
    assert_int_equal (wp_engine_file_decode (&back, data, len, error, sizeof error), -1);
    assert_non_null (strstr (error, "magic"));
    //  another engine's file (checksummed right): named
    s_file (&file);
    snprintf (file.engine, sizeof file.engine, "idle-plan/0");
    len = wp_engine_file_encode (&file, data, sizeof data);
    assert_int_equal (wp_engine_file_decode (&back, data, len, error, sizeof error), -1);
    assert_non_null (strstr (error, "idle-plan/0"));
    //  the file on disk, and a missing one named
    char path [256];
    snprintf (path, sizeof path, "/tmp/wp-model-%d.bin", (int) getpid ());
    s_file (&file);
    assert_int_equal (wp_engine_file_write (&file, path, error, sizeof error), 0);
    assert_int_equal (wp_engine_file_read (&back, path, error, sizeof error), 0);
    assert_memory_equal (&back.learned, &file.learned, sizeof file.learned);
    unlink (path);
    assert_int_equal (wp_engine_file_read (&back, path, error, sizeof error), -1);
    assert_non_null (strstr (error, path));
}

//  Replace, merge, the prior only when asked, and a bad value taken as
//  nothing.
static void
test_learn_from (void **state)
{
    wp_engine_t *engine = wp_engine_new (NULL);
    wp_engine_learned_t mine, theirs, now;
    wp_engine_learned (engine, &mine);
    assert_int_equal (mine.updates, 0);
    wp_engine_file_t file;
    s_file (&file);
    wp_engine_file_learned (&file, &theirs);
    for (int j = 0; j < WP_IDLE_BINS; j++)
        assert_true (theirs.survival [j] == 0);         //  not the prior: not asked
    assert_int_equal (wp_engine_learn_from (engine, &theirs, WP_ENGINE_REPLACE), 0);
    wp_engine_learned (engine, &now);
    assert_memory_equal (now.weights, theirs.weights, sizeof now.weights);
    assert_int_equal (now.updates, 1000);
    assert_true (now.waits_s == 50 && now.trials == 10 && now.hits [3] == 3);
    assert_true (now.done [0] == 0);        //  replace: its own counts forgotten
    //  merge: weights averaged by examples (1000 and 3000), counts added
    wp_engine_learned_t other = theirs;
    for (int i = 0; i < WP_ENGINE_FEATURES; i++)
        other.weights [i] = 10;
    other.updates = 3000;
    assert_int_equal (wp_engine_learn_from (engine, &other, WP_ENGINE_MERGE), 0);
    wp_engine_learned (engine, &now);
    for (int i = 0; i < WP_ENGINE_FEATURES; i++)
        assert_true (fabs (now.weights [i] - (theirs.weights [i] * 1000 + 10 * 3000) / 4000)
                     < 1e-12);
    assert_int_equal (now.updates, 4000);
    assert_true (now.waits_s == 100 && now.trials == 20);
    //  a restore takes the counts back
    assert_int_equal (wp_engine_learn_from (engine, &theirs, WP_ENGINE_RESTORE), 0);
    wp_engine_learned (engine, &now);
    assert_true (now.done [0] == 1000);
    //  a value that is no count: refused, nothing taken
    wp_engine_learned_t before = now, bad = theirs;
    bad.hits [2] = bad.trials + 1;
    assert_int_equal (wp_engine_learn_from (engine, &bad, WP_ENGINE_REPLACE), -1);
    bad = theirs;
    bad.weights [0] = NAN;
    assert_int_equal (wp_engine_learn_from (engine, &bad, WP_ENGINE_MERGE), -1);
    bad = theirs;
    bad.survival [0] = 1.5;
    assert_int_equal (wp_engine_learn_from (engine, &bad, WP_ENGINE_REPLACE), -1);
    wp_engine_learned (engine, &now);
    assert_memory_equal (&now, &before, sizeof now);
    wp_engine_destroy (&engine);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_round_trip_and_refusals),
        cmocka_unit_test (test_learn_from),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
