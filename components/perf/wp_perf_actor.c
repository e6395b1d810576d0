/*  =========================================================================
    wp_perf_actor - binds the PerformancePredictor core to the bus.
    =========================================================================
*/
#include "wp_perf_actor.h"
#include "wp_perf.h"
#include "wp_util.h"

#define RECORD_VERSION 1

typedef struct {
    wp_perf_t *core;        //  what is learned
    zhashx_t *dirty;        //  models changed since the last persist
} perf_t;

//  Load one stored model.
static int
s_load (const void *key, size_t key_len, const void *value, size_t value_len,
        uint16_t version, void *arg)
{
    perf_t *self = (perf_t *) ((void **) arg) [0];
    size_t *bad = (size_t *) ((void **) arg) [1];
    char name [256];
    if (key_len == 0 || key_len >= sizeof name || version != RECORD_VERSION) {
        (*bad)++;
        return 0;
    }
    memcpy (name, key, key_len);
    name [key_len] = 0;
    if (wp_perf_decode (self->core, name, value, value_len))
        (*bad)++;
    return 0;
}

//  Build the state.
static void *
s_create (wp_ctx_t *ctx)
{
    perf_t *self = (perf_t *) zmalloc (sizeof (perf_t));
    assert (self);
    self->core = wp_perf_new (0);
    self->dirty = zhashx_new ();
    size_t bad = 0;
    void *args [] = { self, &bad };
    if (!self->core
        || wp_store_iterate (wp_ctx_store (ctx), "models", s_load, args) < 0) {
        zsys_error ("perf: cannot load the stored estimates");
        wp_perf_destroy (&self->core);
        zhashx_destroy (&self->dirty);
        free (self);
        return NULL;
    }
    if (bad)
        zsys_warning ("perf: skipped %zu stored records that do not parse", bad);
    return self;
}

//  Destroy the state.
static void
s_destroy (void **state_p)
{
    perf_t *self = (perf_t *) *state_p;
    wp_perf_destroy (&self->core);
    zhashx_destroy (&self->dirty);
    free (self);
    *state_p = NULL;
}

//  Learn from a finished warm and publish the estimate.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    perf_t *self = (perf_t *) state;
    const Warmup__V1__WarmupDone *done = (const Warmup__V1__WarmupDone *) msg;
    if (done->action != WARMUP__V1__ACTION__ACTION_WARM)
        return 0;
    if (!done->model
        || wp_perf_observe (self->core, done->model, done->ok, done->duration_ms,
                            done->memory_mb)) {
        wp_ctx_count_rejected (ctx);
        return -1;
    }
    zhashx_update (self->dirty, done->model, (void *) 1);
    wp_perf_estimate_t estimate;
    wp_perf_estimate (self->core, done->model, &estimate);
    Warmup__V1__PerfEstimate out = WARMUP__V1__PERF_ESTIMATE__INIT;
    out.event_ms = done->event_ms ? done->event_ms : wp_ctx_now_ms (ctx);
    out.model = done->model;
    out.samples = estimate.samples;
    out.load_ms_ema = estimate.ema_ms;
    out.load_ms_p50 = estimate.p50_ms;
    out.load_ms_p90 = estimate.p90_ms;
    out.load_ms_p99 = estimate.p99_ms;
    out.memory_mb = estimate.memory_mb;
    out.failures = estimate.failures;
    return wp_ctx_publish (ctx, WP_TOPIC_PERF, &out.base);
}

//  Write the changed models.
static int
s_on_persist (void *state, wp_ctx_t *ctx)
{
    perf_t *self = (perf_t *) state;
    uint8_t record [WP_PERF_RECORD_MAX];
    int rc = 0;
    for (void *item = zhashx_first (self->dirty); item; item = zhashx_next (self->dirty)) {
        const char *model = (const char *) zhashx_cursor (self->dirty);
        int len = wp_perf_encode (self->core, model, record, sizeof record);
        if (len < 0
            || wp_store_put (wp_ctx_store (ctx), "models", model, strlen (model),
                             record, (size_t) len, RECORD_VERSION))
            rc = -1;
    }
    if (rc == 0)
        zhashx_purge (self->dirty);
    return rc;
}

const wp_component_def_t wp_perf_def = {
    .name = "perf",
    .title = "PerformancePredictor",
    .topics = { "warmup.done", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
    .on_persist = s_on_persist,
};
