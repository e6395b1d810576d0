/*  =========================================================================
    test_calib - scoring probabilities: the confusion at the threshold,
    the Brier score and log loss worked out by hand, the calibration
    table, the bands, and the JSON (null where nothing was scored, the
    targets met or not).
    =========================================================================
*/

#include "testutil.h"
#include "wp_calib.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

//  Bands by expected time: under 5 min, 5 min to 1 h, over 1 h.
static void
test_bands (void **state)
{
    assert_int_equal (wp_calib_band (0), 0);
    assert_int_equal (wp_calib_band (299999), 0);
    assert_int_equal (wp_calib_band (300000), 1);
    assert_int_equal (wp_calib_band (3599999), 1);
    assert_int_equal (wp_calib_band (3600000), 2);
    assert_string_equal (wp_calib_band_name (0), "under_5m");
    assert_string_equal (wp_calib_band_name (2), "over_1h");
    assert_string_equal (wp_calib_band_name (3), "");
}

//  Four predictions of band 0 at threshold 0.7: 0.9 asked (tp), 0.8 not
//  (fp), 0.2 asked (fn), 0.1 not (tn). Brier = (0.01 + 0.64 + 0.64 +
//  0.01) / 4; log loss = -(ln 0.9 + ln 0.2 + ln 0.2 + ln 0.9) / 4.
static void
test_scores_by_hand (void **state)
{
    wp_calib_t calib;
    wp_calib_init (&calib, 0.7);
    wp_calib_add (&calib, 0, 0.9, true);
    wp_calib_add (&calib, 0, 0.8, false);
    wp_calib_add (&calib, 0, 0.2, true);
    wp_calib_add (&calib, 0, 0.1, false);
    wp_calib_add (&calib, 0, NAN, true);         //  not scored
    wp_calib_add (&calib, 5, 0.5, true);         //  no such band
    const wp_calib_band_t *b = &calib.bands [0];
    assert_int_equal (b->tp, 1);
    assert_int_equal (b->fp, 1);
    assert_int_equal (b->fn, 1);
    assert_int_equal (b->tn, 1);
    assert_int_equal (wp_calib_count (&calib, 0), 4);
    assert_true (fabs (wp_calib_brier (&calib, 0) - 1.30 / 4) < 1e-12);
    double loss = -(log (0.9) + log (0.2) + log (0.2) + log (0.9)) / 4;
    assert_true (fabs (wp_calib_log_loss (&calib, 0) - loss) < 1e-12);
    assert_true (isnan (wp_calib_brier (&calib, 1)));
    //  Bins: 0.1 in bin 1, 0.2 in bin 2, 0.8 in bin 8, 0.9 in bin 9.
    assert_int_equal (b->bin_n [1], 1);
    assert_int_equal (b->bin_n [2], 1);
    assert_int_equal (b->bin_asked [2], 1);
    assert_int_equal (b->bin_n [8], 1);
    assert_int_equal (b->bin_asked [8], 0);
    assert_int_equal (b->bin_n [9], 1);
    //  A certain miss is clipped, not infinite; 1.0 falls in the top bin.
    wp_calib_add (&calib, 1, 1.0, false);
    assert_true (isfinite (wp_calib_log_loss (&calib, 1)));
    assert_true (wp_calib_log_loss (&calib, 1) > 10);
    assert_int_equal (calib.bands [1].bin_n [WP_CALIB_BINS - 1], 1);
}

//  The JSON: every band, null where undefined, the targets, the table.
static void
test_json (void **state)
{
    wp_calib_t calib;
    wp_calib_init (&calib, 0.5);
    for (int i = 0; i < 100; i++)
        wp_calib_add (&calib, 0, i < 95 ? 0.9 : 0.1, i < 95);
    char *text = NULL;
    size_t len = 0, cap = 0;
    wp_calib_json (&calib, &text, &len, &cap);
    assert_non_null (text);
    assert_int_equal (strlen (text), len);
    assert_non_null (strstr (text, "\"band\":\"under_5m\",\"scored\":100,\"tp\":95"));
    assert_non_null (strstr (text, "\"accuracy\":1.000000"));
    assert_non_null (strstr (text, "\"meets_targets\":true"));
    //  Band 1 scored nothing.
    assert_non_null (strstr (text, "\"band\":\"5m_to_1h\",\"scored\":0,\"tp\":0,\"fp\":0,"
                                   "\"fn\":0,\"tn\":0,\"accuracy\":null"));
    assert_non_null (strstr (text, "\"meets_targets\":null"));
    assert_null (strstr (text, "nan"));
    assert_int_equal (text [0], '[');
    assert_int_equal (text [len - 1], ']');
    free (text);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_bands),
        cmocka_unit_test (test_scores_by_hand),
        cmocka_unit_test (test_json),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
