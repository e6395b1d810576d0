/*  =========================================================================
    wp_calib - scores predicted probabilities against what happened

    A prediction says P(the model is asked within the horizon); once its
    horizon ended (or the model was asked), its outcome is known, asked or
    not, and it is added here, negatives as much as positives. Per band of
    how far ahead the prediction looked (its expected time until the
    request: under 5 minutes, 5 minutes to an hour, over an hour) it keeps:
    - the confusion at the threshold (positive: probability >= threshold);
    - the Brier score (mean squared error of the probability) and the log
      loss (probabilities clipped to [1e-6, 1 - 1e-6]);
    - a calibration table: predictions in WP_CALIB_BINS bins of their
      probability, each bin's mean probability against the frequency with
      which the model was asked.
    And the seed's targets per band: accuracy at least 90 / 80 / 70 % and
    false-positive rate (fp / (fp + tn)) under 5 / 10 / 15 %.

    A plain value (no allocation): warmup-eval's predictive and the live
    metrics keep one each. Figures that are not defined (a band with no
    prediction) are written as JSON null.
    =========================================================================
*/

#ifndef WP_CALIB_H_INCLUDED
#define WP_CALIB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Bands of how far ahead a prediction looked.
#define WP_CALIB_BANDS 3

//  Bins of the calibration table (probability 0-0.1, ..., 0.9-1).
#define WP_CALIB_BINS 10

//  What one band has scored.
typedef struct {
    uint64_t tp, fp, fn, tn;            //  confusion at the threshold
    double brier;                       //  sum of (p - y)^2
    double log_loss;                    //  sum of -log p(y)
    uint64_t bin_n [WP_CALIB_BINS];     //  predictions per probability bin
    double bin_p [WP_CALIB_BINS];       //  sum of their probabilities
    uint64_t bin_asked [WP_CALIB_BINS]; //  how many were asked
} wp_calib_band_t;

//  The scores of all bands.
typedef struct {
    double threshold;                   //  a probability at least this is positive
    wp_calib_band_t bands [WP_CALIB_BANDS];
} wp_calib_t;

//  Start empty with a threshold.
void
    wp_calib_init (wp_calib_t *self, double threshold);

//  The band of a prediction by its expected time until the request, ms.
int
    wp_calib_band (uint64_t expected_in_ms);

//  Name of a band: "under_5m", "5m_to_1h", "over_1h".
const char *
    wp_calib_band_name (int band);

//  Score one prediction of band: its probability, and whether the model
//  was asked within the horizon. A probability that is not a number is
//  not scored.
void
    wp_calib_add (wp_calib_t *self, int band, double probability, bool asked);

//  Predictions scored in a band.
uint64_t
    wp_calib_count (const wp_calib_t *self, int band);

//  Brier score and log loss of a band (NaN when it has none).
double
    wp_calib_brier (const wp_calib_t *self, int band);
double
    wp_calib_log_loss (const wp_calib_t *self, int band);

//  Append the bands as a JSON array to a growing buffer (wp_json_appendf:
//  *buffer of *cap bytes holding *len, reallocated as needed): per band its
//  name, counts, accuracy, precision, recall, false-positive rate, Brier,
//  log loss, the targets and whether they are met, and the calibration
//  table.
void
    wp_calib_json (const wp_calib_t *self, char **buffer, size_t *len, size_t *cap);

#ifdef __cplusplus
}
#endif

#endif
