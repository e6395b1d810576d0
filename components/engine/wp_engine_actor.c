/*  =========================================================================
    wp_engine_actor - binds the PredictionEngine core to the bus.
    =========================================================================
*/
#include "wp_engine_actor.h"
#include "wp_engine.h"
#include "wp_util.h"

#define PATTERN_MAX 32      //  pattern entries used at most
#define PREDICTIONS_MAX 8   //  predictions per event at most

//  Build the state.
static void *
s_create (wp_ctx_t *ctx)
{
    const wp_config_t *config = wp_ctx_config (ctx);
    wp_engine_opts_t opts = { .horizon_s = config->prediction_horizon_seconds,
                              .usage_window_s = config->usage_window_seconds,
                              .max_models = PREDICTIONS_MAX };
    return wp_engine_new (&opts);
}

//  Destroy the state.
static void
s_destroy (void **state_p)
{
    wp_engine_destroy ((wp_engine_t **) state_p);
}

//  Predict from one pattern and publish.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    wp_engine_t *engine = (wp_engine_t *) state;
    const Warmup__V1__UsagePattern *in = (const Warmup__V1__UsagePattern *) msg;
    uint64_t started = wp_mono_ns ();
    if (!in->user || !*in->user) {
        wp_ctx_count_rejected (ctx);
        return -1;
    }
    wp_pattern_t pattern [PATTERN_MAX];
    size_t n = 0;
    for (size_t i = 0; i < in->n_models && n < PATTERN_MAX; i++) {
        const Warmup__V1__ModelPattern *m = in->models [i];
        if (!m->model || !*m->model || m->count == 0)
            continue;
        memset (&pattern [n], 0, sizeof pattern [n]);
        pattern [n].model = m->model;
        pattern [n].count = m->count;
        pattern [n].last_ms = m->last_ms;
        pattern [n].gap_mean_ms = m->gap_mean_ms;
        pattern [n].gap_std_ms = m->gap_std_ms;
        pattern [n].model_count = m->model_count;
        pattern [n].rate_per_h = m->rate_per_h;
        n++;
    }
    uint64_t now = in->event_ms ? in->event_ms : wp_ctx_now_ms (ctx);
    wp_prediction_t predictions [PREDICTIONS_MAX];
    size_t count = wp_engine_predict (engine, pattern, n, now, predictions,
                                      PREDICTIONS_MAX);

    Warmup__V1__ModelPrediction entries [PREDICTIONS_MAX];
    Warmup__V1__ModelPrediction *pointers [PREDICTIONS_MAX];
    for (size_t i = 0; i < count; i++) {
        warmup__v1__model_prediction__init (&entries [i]);
        entries [i].model = (char *) predictions [i].model;
        entries [i].probability = predictions [i].probability;
        entries [i].expected_in_ms = predictions [i].expected_in_ms;
        entries [i].confidence = predictions [i].confidence;
        pointers [i] = &entries [i];
    }
    Warmup__V1__PredictionMade out = WARMUP__V1__PREDICTION_MADE__INIT;
    out.event_ms = now;
    out.user = in->user;
    out.horizon_s = wp_engine_horizon_s (engine);
    out.n_models = count;
    out.models = pointers;
    out.engine_version = (char *) WP_ENGINE_VERSION;
    out.cause = in->cause;
    out.usage_received_us = in->usage_received_us;
    out.compute_us = (uint32_t) ((wp_mono_ns () - started) / 1000);
    return wp_ctx_publish (ctx, WP_TOPIC_PREDICTION, &out.base);
}

const wp_component_def_t wp_engine_def = {
    .name = "engine",
    .title = "PredictionEngine",
    .topics = { "usage.pattern", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
};
