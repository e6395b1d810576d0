/*  =========================================================================
    wp_scheduler_actor - binds the WarmupScheduler core to the bus.
    =========================================================================
*/
#include <math.h>
#include "wp_scheduler_actor.h"
#include "wp_scheduler.h"
#include "wp_util.h"

#define PREDICTIONS_MAX 32  //  predictions per event used at most
#define DECISIONS_MAX 64    //  decisions per round at most
#define HYSTERESIS_MS 5000  //  a plan's end does not cool a model wanted again sooner
#define MIN_HOLD_MS 30000   //  a model we warmed stays at least this long

//  Build the state.
static void *
s_create (wp_ctx_t *ctx)
{
    const wp_config_t *config = wp_ctx_config (ctx);
    wp_scheduler_opts_t opts = {
        .max_warm_models = config->max_warm_models,
        .max_memory_mb = config->max_memory_mb,
        .threshold = config->prediction_threshold,
        .hysteresis = 0.1,
        .ttl_s = config->prediction_cache_ttl_seconds,
        .background = config->background_warmup_enabled,
        .default_memory_mb = config->default_memory_mb,
        .default_load_ms = config->default_load_ms,
        .horizon_s = config->prediction_horizon_seconds,
        .hysteresis_ms = HYSTERESIS_MS,
        .min_hold_ms = MIN_HOLD_MS,
    };
    wp_scheduler_t *self = wp_scheduler_new (&opts);
    for (size_t i = 0; i < config->n_models; i++)
        wp_scheduler_model (self, config->models [i].name,
                            config->models [i].memory_mb, config->models [i].load_ms);
    return self;
}

//  Destroy the state.
static void
s_destroy (void **state_p)
{
    wp_scheduler_destroy ((wp_scheduler_t **) state_p);
}

//  Decide and publish the decisions.
static int
s_decide (wp_scheduler_t *self, wp_ctx_t *ctx, uint64_t now)
{
    wp_decision_t decisions [DECISIONS_MAX];
    size_t n = wp_scheduler_decide (self, now, decisions, DECISIONS_MAX);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        Warmup__V1__WarmupRequested out = WARMUP__V1__WARMUP_REQUESTED__INIT;
        out.event_ms = now;
        out.model = (char *) decisions [i].model;
        out.action = decisions [i].action == WP_ACTION_WARM
                   ? WARMUP__V1__ACTION__ACTION_WARM : WARMUP__V1__ACTION__ACTION_COOL;
        out.priority = (Warmup__V1__Priority) decisions [i].priority;
        out.deadline_ms = decisions [i].deadline_ms;
        out.reason = decisions [i].reason;
        out.expected_benefit_ms = decisions [i].benefit_ms;
        out.memory_mb = decisions [i].memory_mb;
        if (wp_ctx_publish (ctx, WP_TOPIC_WARMUP_REQUEST, &out.base))
            rc = -1;
        if (wp_ctx_verbose (ctx))
            zsys_info ("scheduler: %s %s: %s",
                       decisions [i].action == WP_ACTION_WARM ? "warm" : "cool",
                       decisions [i].model, decisions [i].reason);
    }
    return rc;
}

//  One event.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    wp_scheduler_t *self = (wp_scheduler_t *) state;
    if (topic == WP_TOPIC_PREDICTION) {
        const Warmup__V1__PredictionMade *in = (const Warmup__V1__PredictionMade *) msg;
        if (!in->user || !*in->user) {
            wp_ctx_count_rejected (ctx);
            return -1;
        }
        wp_prediction_t predictions [PREDICTIONS_MAX];
        size_t n = 0;
        for (size_t i = 0; i < in->n_models && n < PREDICTIONS_MAX; i++) {
            const Warmup__V1__ModelPrediction *p = in->models [i];
            if (!p->model || !*p->model || !(p->probability >= 0 && p->probability <= 1))
                continue;   //  NaN fails both comparisons
            memset (&predictions [n], 0, sizeof predictions [n]);
            predictions [n].model = p->model;
            predictions [n].probability = p->probability;
            predictions [n].expected_in_ms = p->expected_in_ms;
            predictions [n].confidence = p->confidence;
            //  The plan, if any (a window needs its start before its end).
            predictions [n].keep_until_ms = p->keep_until_ms;
            if (p->hold_until_ms && p->prewarm_at_ms <= p->hold_until_ms) {
                predictions [n].prewarm_at_ms = p->prewarm_at_ms;
                predictions [n].hold_until_ms = p->hold_until_ms;
            }
            predictions [n].benefit_ms = isfinite (p->benefit_ms) && p->benefit_ms > 0
                                       ? p->benefit_ms : 0;
            predictions [n].load_ms = p->load_ms;
            predictions [n].last_ms = p->last_ms;
            if (p->n_idle_quantiles_ms == WP_ENGINE_QUANTILES) {
                bool good = true;
                for (size_t q = 0; q < WP_ENGINE_QUANTILES; q++)
                    good = good && p->idle_quantiles_ms [q] >= 0
                        && isfinite (p->idle_quantiles_ms [q]);
                if (good)
                    memcpy (predictions [n].gap_q, p->idle_quantiles_ms,
                            sizeof predictions [n].gap_q);
            }
            n++;
        }
        uint64_t now = in->event_ms ? in->event_ms : wp_ctx_now_ms (ctx);
        uint64_t user = wp_user_hash (wp_ctx_config (ctx)->user_key, in->user);
        wp_scheduler_predictions (self, user, predictions, n, now);
        return s_decide (self, ctx, now);
    }
    if (topic == WP_TOPIC_WARMUP_DONE) {
        const Warmup__V1__WarmupDone *in = (const Warmup__V1__WarmupDone *) msg;
        if (!in->model || !*in->model)
            return -1;
        wp_scheduler_done (self, in->model,
                           in->action == WARMUP__V1__ACTION__ACTION_COOL
                           ? WP_ACTION_COOL : WP_ACTION_WARM, in->ok);
        return 0;
    }
    if (topic == WP_TOPIC_PERF) {
        const Warmup__V1__PerfEstimate *in = (const Warmup__V1__PerfEstimate *) msg;
        if (in->model && *in->model && in->samples > 0 && in->load_ms_p90 > 0
            && in->load_ms_p90 < 86400000.0)
            wp_scheduler_model (self, in->model, in->memory_mb,
                                (uint32_t) in->load_ms_p90);
        return 0;
    }
    if (topic == WP_TOPIC_RESOURCE) {
        const Warmup__V1__ResourceStatus *in = (const Warmup__V1__ResourceStatus *) msg;
        wp_scheduler_admit (self, in->admit);
        return 0;
    }
    return 0;
}

//  Once a second: expire predictions, cool what is no longer wanted.
static int
s_on_tick (void *state, wp_ctx_t *ctx)
{
    return s_decide ((wp_scheduler_t *) state, ctx, wp_ctx_now_ms (ctx));
}

const wp_component_def_t wp_scheduler_def = {
    .name = "scheduler",
    .title = "WarmupScheduler",
    .topics = { "prediction.made", "warmup.done", "perf.estimate",
                "resource.status", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
    .on_tick = s_on_tick,
    .tick_ms = 1000,
};
