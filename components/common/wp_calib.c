/*  =========================================================================
    wp_calib - scores predicted probabilities against what happened
    =========================================================================
*/
#include "wp_calib.h"

#include <math.h>
#include <string.h>
#include "wp_json.h"

//  A probability is clipped to this distance from 0 and 1 in the log loss.
#define LOG_CLIP 1e-6

//  The seed's targets per band: accuracy at least, false-positive rate under.
static const double s_target_accuracy [WP_CALIB_BANDS] = { 0.9, 0.8, 0.7 };
static const double s_target_fp [WP_CALIB_BANDS] = { 0.05, 0.10, 0.15 };
static const char *s_names [WP_CALIB_BANDS] = { "under_5m", "5m_to_1h", "over_1h" };

//  Start empty.
void
wp_calib_init (wp_calib_t *self, double threshold)
{
    memset (self, 0, sizeof *self);
    self->threshold = threshold;
}

//  The band of an expected time.
int
wp_calib_band (uint64_t expected_in_ms)
{
    return expected_in_ms < 300000 ? 0 : expected_in_ms < 3600000 ? 1 : 2;
}

//  Name of a band.
const char *
wp_calib_band_name (int band)
{
    return band >= 0 && band < WP_CALIB_BANDS ? s_names [band] : "";
}

//  Score one prediction.
void
wp_calib_add (wp_calib_t *self, int band, double probability, bool asked)
{
    if (band < 0 || band >= WP_CALIB_BANDS || isnan (probability))
        return;
    double p = probability < 0 ? 0 : probability > 1 ? 1 : probability;
    wp_calib_band_t *b = &self->bands [band];
    bool positive = p >= self->threshold;
    if (positive && asked)
        b->tp++;
    else
    if (positive)
        b->fp++;
    else
    if (asked)
        b->fn++;
    else
        b->tn++;
    double y = asked ? 1 : 0;
    b->brier += (p - y) * (p - y);
    double clipped = p < LOG_CLIP ? LOG_CLIP : p > 1 - LOG_CLIP ? 1 - LOG_CLIP : p;
    b->log_loss -= asked ? log (clipped) : log (1 - clipped);
    int bin = (int) (p * WP_CALIB_BINS);
    bin = bin >= WP_CALIB_BINS ? WP_CALIB_BINS - 1 : bin;
    b->bin_n [bin]++;
    b->bin_p [bin] += p;
    b->bin_asked [bin] += asked;
}

//  Predictions scored in a band.
uint64_t
wp_calib_count (const wp_calib_t *self, int band)
{
    const wp_calib_band_t *b = &self->bands [band];
    return b->tp + b->fp + b->fn + b->tn;
}

//  Brier score of a band.
double
wp_calib_brier (const wp_calib_t *self, int band)
{
    uint64_t n = wp_calib_count (self, band);
    return n ? self->bands [band].brier / (double) n : NAN;
}

//  Log loss of a band.
double
wp_calib_log_loss (const wp_calib_t *self, int band)
{
    uint64_t n = wp_calib_count (self, band);
    return n ? self->bands [band].log_loss / (double) n : NAN;
}

//  A ratio as JSON: null when the denominator is 0.
static void
s_ratio (char **buffer, size_t *len, size_t *cap, const char *name, double num, double den)
{
    if (den > 0)
        wp_json_appendf (buffer, len, cap, ",\"%s\":%.6f", name, num / den);
    else
        wp_json_appendf (buffer, len, cap, ",\"%s\":null", name);
}

//  The bands as JSON.
void
wp_calib_json (const wp_calib_t *self, char **buffer, size_t *len, size_t *cap)
{
    wp_json_appendf (buffer, len, cap, "[");
    for (int i = 0; i < WP_CALIB_BANDS; i++) {
        const wp_calib_band_t *b = &self->bands [i];
        double n = (double) wp_calib_count (self, i);
        wp_json_appendf (buffer, len, cap, "%s{\"band\":\"%s\",\"scored\":%.0f,\"tp\":%llu,"
                         "\"fp\":%llu,\"fn\":%llu,\"tn\":%llu", i ? "," : "", s_names [i], n,
                         (unsigned long long) b->tp, (unsigned long long) b->fp,
                         (unsigned long long) b->fn, (unsigned long long) b->tn);
        s_ratio (buffer, len, cap, "accuracy", (double) (b->tp + b->tn), n);
        s_ratio (buffer, len, cap, "precision", (double) b->tp, (double) (b->tp + b->fp));
        s_ratio (buffer, len, cap, "recall", (double) b->tp, (double) (b->tp + b->fn));
        s_ratio (buffer, len, cap, "fp_rate", (double) b->fp, (double) (b->fp + b->tn));
        s_ratio (buffer, len, cap, "brier", b->brier, n);
        s_ratio (buffer, len, cap, "log_loss", b->log_loss, n);
        wp_json_appendf (buffer, len, cap, ",\"target_accuracy\":%.2f,\"target_fp_rate\":%.2f",
                         s_target_accuracy [i], s_target_fp [i]);
        if (n > 0) {
            double accuracy = (double) (b->tp + b->tn) / n;
            double negatives = (double) (b->fp + b->tn);
            double fp_rate = negatives > 0 ? (double) b->fp / negatives : 0;
            wp_json_appendf (buffer, len, cap, ",\"meets_targets\":%s",
                             accuracy >= s_target_accuracy [i] && fp_rate < s_target_fp [i]
                             ? "true" : "false");
        }
        else
            wp_json_appendf (buffer, len, cap, ",\"meets_targets\":null");
        wp_json_appendf (buffer, len, cap, ",\"calibration\":[");
        for (int k = 0; k < WP_CALIB_BINS; k++) {
            wp_json_appendf (buffer, len, cap, "%s{\"from\":%.1f,\"to\":%.1f,\"n\":%llu",
                             k ? "," : "", (double) k / WP_CALIB_BINS,
                             (double) (k + 1) / WP_CALIB_BINS,
                             (unsigned long long) b->bin_n [k]);
            s_ratio (buffer, len, cap, "mean_p", b->bin_p [k], (double) b->bin_n [k]);
            s_ratio (buffer, len, cap, "asked", (double) b->bin_asked [k], (double) b->bin_n [k]);
            wp_json_appendf (buffer, len, cap, "}");
        }
        wp_json_appendf (buffer, len, cap, "]}");
    }
    wp_json_appendf (buffer, len, cap, "]");
}
