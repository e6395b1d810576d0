/*  =========================================================================
    wp_engine - PredictionEngine core.
    =========================================================================
*/
#include <czmq.h>
#include <math.h>
#include "wp_engine.h"

//  Shortest gap credited, ms: bursts faster than this do not make a
//  model more certain than a request per second does.
#define GAP_FLOOR_MS 1000.0

struct _wp_engine_t {
    wp_engine_opts_t opts;      //  effective options
};

//  Create an engine.
wp_engine_t *
wp_engine_new (const wp_engine_opts_t *opts)
{
    wp_engine_t *self = (wp_engine_t *) zmalloc (sizeof (wp_engine_t));
    assert (self);
    if (opts)
        self->opts = *opts;
    if (!self->opts.horizon_s)
        self->opts.horizon_s = 300;
    if (!self->opts.usage_window_s)
        self->opts.usage_window_s = 3600;
    if (!self->opts.max_models)
        self->opts.max_models = 8;
    if (self->opts.prior <= 0 || self->opts.prior >= 1)
        self->opts.prior = 0.1;
    return self;
}

//  Destroy.
void
wp_engine_destroy (wp_engine_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

//  Predict one pair.
static void
s_predict_pair (wp_engine_t *self, const wp_pattern_t *pair, uint64_t now_ms,
                wp_prediction_t *out)
{
    double window_ms = self->opts.usage_window_s * 1000.0;
    double horizon_ms = self->opts.horizon_s * 1000.0;
    double gaps = pair->count > 1 ? (double) (pair->count - 1) : 0;
    double gap = gaps > 0 ? fmax (pair->gap_mean_ms, GAP_FLOOR_MS) : window_ms;
    double elapsed = now_ms > pair->last_ms ? (double) (now_ms - pair->last_ms) : 0;

    double p_request = 1.0 - exp (-horizon_ms / gap);
    double alive = exp (-elapsed / window_ms);
    double p = p_request * alive;
    //  Bayesian average with one pseudo observation at the prior.
    double probability = (gaps * p + self->opts.prior) / (gaps + 1.0);

    out->model = pair->model;
    out->probability = probability;
    out->confidence = gaps / (gaps + 3.0);
    double expected = elapsed < gap ? gap - elapsed : gap;
    out->expected_in_ms = (uint64_t) expected;
}

//  Predict a user's models.
size_t
wp_engine_predict (wp_engine_t *self, const wp_pattern_t *pattern, size_t n_pattern,
                   uint64_t now_ms, wp_prediction_t *out, size_t capacity)
{
    assert (self && (pattern || n_pattern == 0) && out);
    size_t limit = capacity < self->opts.max_models ? capacity : self->opts.max_models;
    size_t n = 0;
    for (size_t i = 0; i < n_pattern; i++) {
        wp_prediction_t candidate;
        s_predict_pair (self, &pattern [i], now_ms, &candidate);
        //  Insertion into the sorted output, keeping the best `limit`.
        size_t at = n;
        while (at > 0 && out [at - 1].probability < candidate.probability)
            at--;
        if (at >= limit)
            continue;
        size_t move = (n < limit ? n : limit - 1) - at;
        memmove (&out [at + 1], &out [at], move * sizeof (wp_prediction_t));
        out [at] = candidate;
        if (n < limit)
            n++;
    }
    return n;
}

//  The horizon.
uint32_t
wp_engine_horizon_s (wp_engine_t *self)
{
    return self->opts.horizon_s;
}
