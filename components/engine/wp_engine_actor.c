/*  =========================================================================
    wp_engine_actor - binds the PredictionEngine core to the bus.
    =========================================================================
*/
#include <math.h>
#include "wp_engine_actor.h"
#include "wp_engine.h"
#include "wp_pattern_wire.h"
#include "wp_prediction_wire.h"
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
                              .max_models = PREDICTIONS_MAX,
                              .threshold = config->prediction_threshold,
                              .learning_rate = config->learning_rate,
                              .default_load_ms = config->default_load_ms,
                              .default_memory_mb = config->default_memory_mb,
                              .cold_wait_price = config->cold_wait_price,
                              .max_pairs = config->max_pairs };
    wp_engine_t *self = wp_engine_new (&opts);
    for (size_t i = 0; i < config->n_models; i++)
        wp_engine_model (self, config->models [i].name, config->models [i].load_ms,
                         config->models [i].memory_mb);
    return self;
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
    if (topic == WP_TOPIC_PERF) {
        //  What a load of the model costs: the plans pre-warm that early.
        const Warmup__V1__PerfEstimate *perf = (const Warmup__V1__PerfEstimate *) msg;
        if (perf->model && *perf->model && perf->samples > 0 && perf->load_ms_p90 > 0
            && perf->load_ms_p90 < 86400000.0)
            wp_engine_model (engine, perf->model, (uint32_t) ceil (perf->load_ms_p90),
                             perf->memory_mb);
        return 0;
    }
    const Warmup__V1__UsagePattern *in = (const Warmup__V1__UsagePattern *) msg;
    uint64_t started = wp_mono_ns ();
    uint64_t user;
    if (!in->user || wp_user_id_parse (in->user, &user)) {
        wp_ctx_count_rejected (ctx);
        return -1;
    }
    wp_pattern_t pattern [PATTERN_MAX];
    char error [160];
    int n = wp_pattern_wire_read (in, pattern, PATTERN_MAX, error, sizeof error);
    if (n < 0) {
        wp_ctx_count_rejected (ctx);
        zsys_warning ("engine: usage.pattern for a user dropped: %s", error);
        return -1;
    }
    uint64_t now = in->event_ms ? in->event_ms : wp_ctx_now_ms (ctx);
    wp_prediction_t predictions [PREDICTIONS_MAX];
    size_t count = wp_engine_predict_for (engine, user, pattern, (size_t) n, now, predictions,
                                          PREDICTIONS_MAX);

    Warmup__V1__PredictionMade out = WARMUP__V1__PREDICTION_MADE__INIT;
    out.event_ms = now;
    out.user = in->user;
    out.horizon_s = wp_engine_horizon_s (engine);
    wp_prediction_wire_t wire;
    wp_prediction_wire_fill (&wire, predictions, count, &out);
    out.engine_version = (char *) WP_ENGINE_VERSION;
    out.cause = in->cause;
    out.usage_received_us = in->usage_received_us;
    out.compute_us = (uint32_t) ((wp_mono_ns () - started) / 1000);
    return wp_ctx_publish (ctx, WP_TOPIC_PREDICTION, &out.base);
}

//  A reload: the price, load times and memory of added or changed models
//  (what was learned stays).
static void
s_on_config (void *state, wp_ctx_t *ctx, const wp_config_t *next)
{
    wp_engine_set_price ((wp_engine_t *) state, next->cold_wait_price);
    for (size_t i = 0; i < next->n_models; i++)
        wp_engine_model ((wp_engine_t *) state, next->models [i].name,
                         next->models [i].load_ms, next->models [i].memory_mb);
}

const wp_component_def_t wp_engine_def = {
    .name = "engine",
    .title = "PredictionEngine",
    .topics = { "usage.pattern", "perf.estimate", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
    .on_config = s_on_config,
};
