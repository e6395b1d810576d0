/*  =========================================================================
    wp_engine - PredictionEngine core: from what the analyzer knows of a
    user, the probability that each of their models is requested within
    the horizon, the expected time until it, and a confidence.

    First model ("recency-frequency/1"): per (user, model) pair, requests
    are taken as a Poisson process whose rate is 1 / mean gap (a pair
    seen once gets one request per usage window). The chance of a request
    within the horizon H is 1 - exp(-H / gap), faded by how long the pair
    has been idle relative to the usage window, and shrunk toward a small
    prior while few gaps back it (a Bayesian average with one pseudo
    observation). Gaps shorter than 1 s count as 1 s. The expected time
    until the next request is the mean gap minus the time idle so far (or
    a whole gap once the pair is idle longer than that). Plain C: no
    sockets, no clock.
    =========================================================================
*/

#ifndef WP_ENGINE_H_INCLUDED
#define WP_ENGINE_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include "wp_analyzer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WP_ENGINE_VERSION "recency-frequency/1"

//  Options; zero fields take the defaults.
typedef struct {
    uint32_t horizon_s;         //  prediction horizon, s (default 300)
    uint32_t usage_window_s;    //  idle time over which a pair fades, s (default 3600)
    uint32_t max_models;        //  predictions per user at most (default 8)
    double prior;               //  probability with no evidence (default 0.1)
} wp_engine_opts_t;

//  One model's prediction.
typedef struct {
    const char *model;          //  borrowed from the pattern it came from
    double probability;         //  P(request within the horizon)
    uint64_t expected_in_ms;    //  expected time until the request, ms
    double confidence;          //  0..1, grows with the evidence
} wp_prediction_t;

typedef struct _wp_engine_t wp_engine_t;

//  Create an engine; opts may be NULL.
wp_engine_t *
    wp_engine_new (const wp_engine_opts_t *opts);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_engine_destroy (wp_engine_t **self_p);

//  Predict from a user's pattern at now_ms. Writes at most capacity (and
//  max_models) predictions, highest probability first (ties: pattern
//  order). Returns how many were written.
size_t
    wp_engine_predict (wp_engine_t *self, const wp_pattern_t *pattern,
                       size_t n_pattern, uint64_t now_ms,
                       wp_prediction_t *out, size_t capacity);

//  The horizon in seconds.
uint32_t
    wp_engine_horizon_s (wp_engine_t *self);

#ifdef __cplusplus
}
#endif

#endif
