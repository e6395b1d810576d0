/*  =========================================================================
    wp_engine_actor - binds the PredictionEngine core to the bus.
    =========================================================================
*/
#include <math.h>
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
                              .max_models = PREDICTIONS_MAX,
                              .threshold = config->prediction_threshold,
                              .learning_rate = config->learning_rate,
                              .default_load_ms = config->default_load_ms,
                              .max_pairs = config->max_pairs };
    wp_engine_t *self = wp_engine_new (&opts);
    for (size_t i = 0; i < config->n_models; i++)
        wp_engine_model (self, config->models [i].name, config->models [i].load_ms);
    return self;
}

//  Destroy the state.
static void
s_destroy (void **state_p)
{
    wp_engine_destroy ((wp_engine_t **) state_p);
}

//  Copy up to WP_ANALYZER_LINKS links of a message.
static uint8_t
s_links (Warmup__V1__ModelLink **in, size_t n_in, wp_link_t *out)
{
    uint8_t n = 0;
    for (size_t i = 0; i < n_in && n < WP_ANALYZER_LINKS; i++) {
        if (!in [i]->model || !*in [i]->model || !(in [i]->weight >= 0)
            || !isfinite (in [i]->delay_ms))
            continue;
        out [n].model = in [i]->model;
        out [n].model_id = 0;
        out [n].weight = in [i]->weight;
        out [n].delay_ms = in [i]->delay_ms;
        n++;
    }
    return n;
}

//  Copy a histogram of WP_IDLE_BINS finite, non-negative floats; false if
//  it is not one.
static bool
s_hist (const float *in, size_t n, float *out)
{
    if (n != WP_IDLE_BINS)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!(in [i] >= 0) || !isfinite (in [i]))
            return false;
        out [i] = in [i];
    }
    return true;
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
            wp_engine_model (engine, perf->model, (uint32_t) ceil (perf->load_ms_p90));
        return 0;
    }
    const Warmup__V1__UsagePattern *in = (const Warmup__V1__UsagePattern *) msg;
    uint64_t started = wp_mono_ns ();
    if (!in->user || !*in->user) {
        wp_ctx_count_rejected (ctx);
        return -1;
    }
    wp_pattern_t pattern [PATTERN_MAX];
    float hists [PATTERN_MAX][WP_IDLE_BINS];
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
        //  The idle-time statistics: histograms of another size (another
        //  analyzer) or with bad values are left out; the prior is then
        //  flat (every bin alike).
        if (s_hist (m->idle_hist, m->n_idle_hist, hists [n]) && m->idle_total >= 0
            && isfinite (m->idle_total)) {
            pattern [n].hist = hists [n];
            pattern [n].hist_total = m->idle_total;
        }
        if (s_hist (m->idle_recent, m->n_idle_recent, pattern [n].recent)
            && m->recent_total >= 0 && isfinite (m->recent_total))
            pattern [n].recent_total = m->recent_total;
        else
            memset (pattern [n].recent, 0, sizeof pattern [n].recent);
        if (!s_hist (m->idle_prior, m->n_idle_prior, pattern [n].prior))
            for (int b = 0; b < WP_IDLE_BINS; b++)
                pattern [n].prior [b] = 1.0f / WP_IDLE_BINS;
        pattern [n].rate_short_per_h = isfinite (m->rate_short_per_h) ? m->rate_short_per_h : 0;
        pattern [n].rate_long_per_h = isfinite (m->rate_long_per_h) ? m->rate_long_per_h : 0;
        pattern [n].anomaly = isfinite (m->anomaly) ? m->anomaly : 0;
        pattern [n].season = isfinite (m->season) && m->season > 0 ? m->season : 1;
        pattern [n].n_next = s_links (m->next, m->n_next, pattern [n].next);
        pattern [n].n_next2 = s_links (m->next2, m->n_next2, pattern [n].next2);
        pattern [n].n_couse = s_links (m->couse, m->n_couse, pattern [n].couse);
        n++;
    }
    uint64_t now = in->event_ms ? in->event_ms : wp_ctx_now_ms (ctx);
    wp_prediction_t predictions [PREDICTIONS_MAX];
    uint64_t user = wp_user_hash (wp_ctx_config (ctx)->user_key, in->user);
    size_t count = wp_engine_predict_for (engine, user, pattern, n, now, predictions,
                                          PREDICTIONS_MAX);

    Warmup__V1__ModelPrediction entries [PREDICTIONS_MAX];
    Warmup__V1__ModelPrediction *pointers [PREDICTIONS_MAX];
    for (size_t i = 0; i < count; i++) {
        warmup__v1__model_prediction__init (&entries [i]);
        entries [i].model = (char *) predictions [i].model;
        entries [i].probability = predictions [i].probability;
        entries [i].expected_in_ms = predictions [i].expected_in_ms;
        entries [i].confidence = predictions [i].confidence;
        entries [i].keep_until_ms = predictions [i].keep_until_ms;
        entries [i].prewarm_at_ms = predictions [i].prewarm_at_ms;
        entries [i].hold_until_ms = predictions [i].hold_until_ms;
        entries [i].benefit_ms = predictions [i].benefit_ms;
        entries [i].load_ms = predictions [i].load_ms;
        entries [i].last_ms = predictions [i].last_ms;
        entries [i].n_idle_quantiles_ms = WP_ENGINE_QUANTILES;
        entries [i].idle_quantiles_ms = predictions [i].gap_q;
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

//  A reload: load times of added or changed models (what was learned stays).
static void
s_on_config (void *state, wp_ctx_t *ctx, const wp_config_t *next)
{
    for (size_t i = 0; i < next->n_models; i++)
        wp_engine_model ((wp_engine_t *) state, next->models [i].name,
                         next->models [i].load_ms);
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
