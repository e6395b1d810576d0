/*  =========================================================================
    wp_prediction_wire - a user's predictions (wp_prediction_t) to and from
    the prediction.made message.

    One codec for both sides: the engine fills the message, the scheduler
    reads it back, and stage-cost runs both.
    =========================================================================
*/

#ifndef WP_PREDICTION_WIRE_H_INCLUDED
#define WP_PREDICTION_WIRE_H_INCLUDED

#include "wp_prediction.h"
#include "warmup.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Predictions of one prediction.made message at most.
#define WP_PREDICTION_WIRE_MAX 32

//  Room for one message's entries, borrowed by the message it fills.
typedef struct {
    Warmup__V1__ModelPrediction entries [WP_PREDICTION_WIRE_MAX];
    Warmup__V1__ModelPrediction *pointers [WP_PREDICTION_WIRE_MAX];
} wp_prediction_wire_t;

//  Fill out's models from n predictions (at most WP_PREDICTION_WIRE_MAX;
//  the quantiles are borrowed). The other fields are the caller's.
void
    wp_prediction_wire_fill (wp_prediction_wire_t *self, const wp_prediction_t *predictions,
                             size_t n, Warmup__V1__PredictionMade *out);

//  Read msg's predictions into out (at most capacity), borrowing names:
//  entries without a model or with a probability outside 0..1 are
//  skipped; a window that ends before it starts, a benefit that is not a
//  finite positive time, and quantiles that are not five finite
//  non-negative times are left out. Returns the predictions read.
size_t
    wp_prediction_wire_read (const Warmup__V1__PredictionMade *msg, wp_prediction_t *out,
                             size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
