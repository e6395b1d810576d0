/*  =========================================================================
    wp_perf_actor - binds the PerformancePredictor core to the bus.
    =========================================================================
*/
#include "wp_perf_actor.h"
#include "wp_perf.h"
#include "wp_util.h"

#define RECORD_VERSION 1
#define MEMORY_DB "memory"      //  learned memory, key = model
#define MEMORY_VERSION 1
#define PEERS_MAX 64            //  scheduler and queue instances remembered

typedef struct {
    wp_perf_t *core;        //  what is learned
    zhashx_t *dirty;        //  models changed since the last persist
    zhashx_t *dirty_memory; //  models whose learned memory changed since
    zhashx_t *peers;        //  sources of scheduler and queue instances seen
    bool announce;          //  publish every learned memory at the next tick
} perf_t;

//  What a store iteration loads into: the predictor, a record's decoder
//  and version, and the count of records refused.
typedef struct {
    perf_t *self;
    int (*decode) (wp_perf_t *, const char *, const void *, size_t);
    uint16_t version;
    size_t bad;
} s_loading_t;

//  Load one stored record (wp_store_iterate callback).
static int
s_load (const void *key, size_t key_len, const void *value, size_t value_len,
        uint16_t version, void *arg)
{
    s_loading_t *loading = (s_loading_t *) arg;
    char name [256];
    if (key_len == 0 || key_len >= sizeof name || version != loading->version) {
        loading->bad++;
        return 0;
    }
    memcpy (name, key, key_len);
    name [key_len] = 0;
    if (loading->decode (loading->self->core, name, value, value_len))
        loading->bad++;
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
    self->dirty_memory = zhashx_new ();
    self->peers = zhashx_new ();
    s_loading_t stats = { self, wp_perf_decode, RECORD_VERSION, 0 };
    s_loading_t memory = { self, wp_perf_decode_memory, MEMORY_VERSION, 0 };
    if (!self->core
        || wp_store_iterate (wp_ctx_store (ctx), "models", s_load, &stats) < 0
        || wp_store_iterate (wp_ctx_store (ctx), MEMORY_DB, s_load, &memory) < 0) {
        zsys_error ("perf: cannot load the stored estimates");
        wp_perf_destroy (&self->core);
        zhashx_destroy (&self->dirty);
        zhashx_destroy (&self->dirty_memory);
        zhashx_destroy (&self->peers);
        free (self);
        return NULL;
    }
    if (stats.bad + memory.bad)
        zsys_warning ("perf: skipped %zu stored records that do not parse",
                      stats.bad + memory.bad);
    //  What was learned before goes out once the bus is up
    self->announce = !wp_ctx_replay (ctx);
    return self;
}

//  Destroy the state.
static void
s_destroy (void **state_p)
{
    perf_t *self = (perf_t *) *state_p;
    wp_perf_destroy (&self->core);
    zhashx_destroy (&self->dirty);
    zhashx_destroy (&self->dirty_memory);
    zhashx_destroy (&self->peers);
    free (self);
    *state_p = NULL;
}

//  Publish a model's estimate (at event_ms).
static int
s_publish (perf_t *self, wp_ctx_t *ctx, const char *model, uint64_t event_ms)
{
    wp_perf_estimate_t estimate;
    if (wp_perf_estimate (self->core, model, &estimate))
        return 0;
    Warmup__V1__PerfEstimate out = WARMUP__V1__PERF_ESTIMATE__INIT;
    out.event_ms = event_ms ? event_ms : wp_ctx_now_ms (ctx);
    out.model = (char *) model;
    out.samples = estimate.samples;
    out.load_ms_ema = estimate.ema_ms;
    out.load_ms_p50 = estimate.p50_ms;
    out.load_ms_p90 = estimate.p90_ms;
    out.load_ms_p99 = estimate.p99_ms;
    out.memory_mb = estimate.memory_mb;
    out.failures = estimate.failures;
    out.learned_mb = estimate.learned_mb;
    out.learned_vram_mb = estimate.learned_vram_mb;
    out.learned_from = (char *) estimate.learned_from;
    out.learned_ms = estimate.learned_ms;
    return wp_ctx_publish (ctx, WP_TOPIC_PERF, &out.base);
}

//  Learn what a model takes; say so when it changed.
static void
s_learn (perf_t *self, const char *model, uint32_t memory_mb, uint32_t vram_mb,
         const char *source, uint64_t at_ms)
{
    int changed = wp_perf_learn_memory (self->core, model, memory_mb, vram_mb, source, at_ms);
    if (changed == 1) {
        zhashx_update (self->dirty_memory, model, (void *) 1);
        zsys_info ("perf: %s takes %u MiB (%u on GPUs), as %s", model, memory_mb, vram_mb,
                   streq (source, "measured") ? "measured around its load"
                   : streq (source, "server-weights") ? "its server reports of its weights"
                   : streq (source, "resident") ? "its files made resident"
                   : "its server reports");
    }
}

//  Learn from a finished warm and publish the estimate.
static int
s_on_done (perf_t *self, wp_ctx_t *ctx, const Warmup__V1__WarmupDone *done)
{
    if (done->action != WARMUP__V1__ACTION__ACTION_WARM)
        return 0;
    if (!done->model
        || wp_perf_observe (self->core, done->model, done->ok, done->duration_ms,
                            done->memory_mb)) {
        wp_ctx_count_rejected (ctx);
        return -1;
    }
    zhashx_update (self->dirty, done->model, (void *) 1);
    //  What the server or the files said is what the model takes
    const char *source = done->memory_source;
    if (done->ok && done->memory_mb && source
        && (streq (source, "server") || streq (source, "resident")
            || streq (source, "server-weights")))
        s_learn (self, done->model, done->memory_mb, done->vram_mb, source, done->event_ms);
    return s_publish (self, ctx, done->model, done->event_ms);
}

//  What the resource manager measured loads to take.
static int
s_on_resource (perf_t *self, wp_ctx_t *ctx, const Warmup__V1__ResourceStatus *in)
{
    int rc = 0;
    for (size_t i = 0; i < in->n_measured; i++) {
        const Warmup__V1__ModelMeasured *m = in->measured [i];
        if (!m->model || !*m->model || !m->memory_mb) {
            wp_ctx_count_rejected (ctx);
            continue;
        }
        s_learn (self, m->model, m->memory_mb, m->vram_mb, "measured", m->event_ms);
        if (s_publish (self, ctx, m->model, in->event_ms))
            rc = -1;
    }
    return rc;
}

//  A new instance of the scheduler or the queue (their first heartbeat)
//  has not heard what was learned: say it again.
static void
s_on_heartbeat (perf_t *self, const Warmup__V1__Heartbeat *in)
{
    if (!in->component || !in->header || !in->header->source
        || !(streq (in->component, "scheduler") || streq (in->component, "queue")))
        return;
    if (zhashx_lookup (self->peers, in->header->source))
        return;
    if (zhashx_size (self->peers) >= PEERS_MAX)
        zhashx_purge (self->peers);
    zhashx_insert (self->peers, in->header->source, (void *) 1);
    self->announce = true;
}

//  An event.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    perf_t *self = (perf_t *) state;
    if (topic == WP_TOPIC_WARMUP_DONE)
        return s_on_done (self, ctx, (const Warmup__V1__WarmupDone *) msg);
    if (wp_ctx_replay (ctx))
        return 0;           //  the simulated world measures nothing
    if (topic == WP_TOPIC_RESOURCE)
        return s_on_resource (self, ctx, (const Warmup__V1__ResourceStatus *) msg);
    if (topic == WP_TOPIC_HEARTBEAT)
        s_on_heartbeat (self, (const Warmup__V1__Heartbeat *) msg);
    return 0;
}

//  Publish one learned memory (wp_perf_iterate_learned callback).
static int
s_announce_one (const char *model, const wp_perf_estimate_t *estimate, void *arg)
{
    void **args = (void **) arg;
    return s_publish ((perf_t *) args [0], (wp_ctx_t *) args [1], model, 0);
}

//  Every second: what was learned, to peers that have not heard it.
static int
s_on_tick (void *state, wp_ctx_t *ctx)
{
    perf_t *self = (perf_t *) state;
    if (!self->announce || wp_ctx_replay (ctx))
        return 0;
    self->announce = false;
    void *args [] = { self, ctx };
    return wp_perf_iterate_learned (self->core, s_announce_one, args);
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
    int memory_rc = 0;
    for (void *item = zhashx_first (self->dirty_memory); item;
         item = zhashx_next (self->dirty_memory)) {
        const char *model = (const char *) zhashx_cursor (self->dirty_memory);
        int len = wp_perf_encode_memory (self->core, model, record, sizeof record);
        if (len < 0
            || wp_store_put (wp_ctx_store (ctx), MEMORY_DB, model, strlen (model),
                             record, (size_t) len, MEMORY_VERSION))
            memory_rc = -1;
    }
    if (memory_rc == 0)
        zhashx_purge (self->dirty_memory);
    return rc || memory_rc ? -1 : 0;
}

const wp_component_def_t wp_perf_def = {
    .name = "perf",
    .title = "PerformancePredictor",
    .topics = { "warmup.done", "resource.status", "heartbeat", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
    .on_tick = s_on_tick,
    .tick_ms = 1000,
    .on_persist = s_on_persist,
};
