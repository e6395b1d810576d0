/*  =========================================================================
    wp_prediction_wire - predictions to and from the prediction.made message.
    =========================================================================
*/
#include <assert.h>
#include <math.h>
#include <string.h>
#include "wp_prediction_wire.h"

void
wp_prediction_wire_fill (wp_prediction_wire_t *self, const wp_prediction_t *predictions,
                         size_t n, Warmup__V1__PredictionMade *out)
{
    assert (self && (predictions || n == 0) && out);
    if (n > WP_PREDICTION_WIRE_MAX)
        n = WP_PREDICTION_WIRE_MAX;
    for (size_t i = 0; i < n; i++) {
        const wp_prediction_t *p = &predictions [i];
        Warmup__V1__ModelPrediction *e = &self->entries [i];
        warmup__v1__model_prediction__init (e);
        e->model = (char *) p->model;
        e->probability = p->probability;
        e->expected_in_ms = p->expected_in_ms;
        e->confidence = p->confidence;
        e->keep_until_ms = p->keep_until_ms;
        e->prewarm_at_ms = p->prewarm_at_ms;
        e->hold_until_ms = p->hold_until_ms;
        e->benefit_ms = p->benefit_ms;
        e->load_ms = p->load_ms;
        e->last_ms = p->last_ms;
        e->n_idle_quantiles_ms = WP_PREDICTION_QUANTILES;
        e->idle_quantiles_ms = (float *) p->gap_q;
        self->pointers [i] = e;
    }
    out->n_models = n;
    out->models = self->pointers;
}

size_t
wp_prediction_wire_read (const Warmup__V1__PredictionMade *msg, wp_prediction_t *out,
                         size_t capacity)
{
    assert (msg && (out || capacity == 0));
    size_t n = 0;
    for (size_t i = 0; i < msg->n_models && n < capacity; i++) {
        const Warmup__V1__ModelPrediction *m = msg->models [i];
        if (!m->model || !*m->model || !(m->probability >= 0 && m->probability <= 1))
            continue;   //  NaN fails both comparisons
        wp_prediction_t *p = &out [n];
        memset (p, 0, sizeof *p);
        p->model = m->model;
        p->probability = m->probability;
        p->expected_in_ms = m->expected_in_ms;
        p->confidence = m->confidence;
        //  The plan, if any (a window needs its start before its end).
        p->keep_until_ms = m->keep_until_ms;
        if (m->hold_until_ms && m->prewarm_at_ms <= m->hold_until_ms) {
            p->prewarm_at_ms = m->prewarm_at_ms;
            p->hold_until_ms = m->hold_until_ms;
        }
        p->benefit_ms = isfinite (m->benefit_ms) && m->benefit_ms > 0 ? m->benefit_ms : 0;
        p->load_ms = m->load_ms;
        p->last_ms = m->last_ms;
        if (m->n_idle_quantiles_ms == WP_PREDICTION_QUANTILES) {
            bool good = true;
            for (size_t q = 0; q < WP_PREDICTION_QUANTILES; q++)
                good = good && m->idle_quantiles_ms [q] >= 0
                    && isfinite (m->idle_quantiles_ms [q]);
            if (good)
                memcpy (p->gap_q, m->idle_quantiles_ms, sizeof p->gap_q);
        }
        n++;
    }
    return n;
}
