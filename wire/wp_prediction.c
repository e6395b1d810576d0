/*  =========================================================================
    wp_prediction - what a prediction's quantiles and category mean.
    =========================================================================
*/
#include "wp_prediction.h"

//  The levels of the quantiles.
static const double s_levels [WP_PREDICTION_QUANTILES] = { 0.25, 0.5, 0.75, 0.9, 0.99 };
//  The idle-time distribution ends at this multiple of its 99th
//  percentile, linear from there (a prediction carries no further quantile).
#define TAIL_END 2.0

//  Fraction of idle times at or below x, piecewise linear.
double
wp_prediction_cdf (const float *q, double x)
{
    double prev_x = 0, prev_p = 0;
    for (int i = 0; i < WP_PREDICTION_QUANTILES; i++) {
        if (x < q [i]) {
            double span = q [i] - prev_x;
            return span > 0 ? prev_p + (s_levels [i] - prev_p) * (x - prev_x) / span
                            : s_levels [i];
        }
        prev_x = q [i];
        prev_p = s_levels [i];
    }
    double end = TAIL_END * q [WP_PREDICTION_QUANTILES - 1];
    if (x >= end || end <= prev_x)
        return 1;
    return prev_p + (1 - prev_p) * (x - prev_x) / (end - prev_x);
}

//  Name of a category.
const char *
wp_category_name (int category)
{
    static const char *names [WP_CATEGORIES] = {
        "new", "always_on", "periodic", "dense", "successive", "rare", "correlated",
        "intent"
    };
    return category >= 0 && category < WP_CATEGORIES ? names [category] : "";
}
