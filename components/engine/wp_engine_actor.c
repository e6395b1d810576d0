/*  =========================================================================
    wp_engine_actor - binds the PredictionEngine core to the bus: a
    usage.pattern is predicted and planned (wp_engine) and tells the
    intent learning which model was asked (wp_intent); a usage.intent is
    learned and, where a model is worth warming ahead, published as a
    prediction.made with its window.
    =========================================================================
*/
#include <math.h>
#include "wp_engine_actor.h"
#include "wp_engine.h"
#include "wp_intent.h"
#include "wp_engine_file.h"
#include "wp_pattern_wire.h"
#include "wp_prediction_wire.h"
#include "wp_util.h"

#define PREDICTIONS_MAX 8   //  predictions per event at most
//  The actor's state.
typedef struct {
    wp_engine_t *engine;        //  predictions and plans
    wp_intent_t *intent;        //  what intents say
    uint64_t refused;           //  usage.pattern events that did not hold a pair
    wp_engine_learned_t saved;  //  what of all pairs the store has last
    int64_t saved_mono;         //  when it was put there (monotonic ms)
    bool save_now;              //  a model was loaded: at the next flush
    wp_store_t *store;          //  the store (the skeleton's)
    uint64_t pattern_ms;        //  latest event time of a usage.pattern taken
    uint64_t restored;          //  pairs taken from the snapshot being received
} s_state_t;

//  A resync after a gap asks for the pairs whose latest request is at most
//  this much older than the latest usage.pattern taken (event times are
//  the clients': a little out of order across users).
#define SYNC_SLACK_MS 60000

//  What was learned of all pairs goes into the store at most this often
//  (and at a model load, and at a stop): each save is a commit, with its
//  fdatasync, on the engine's thread, which serves every prediction; what
//  it holds moves slowly (weights, population, rates).
#define SAVE_MS 10000

#define STORE_DB "learned"  //  the store's record of what was learned of all
#define STORE_KEY "engine"  //  pairs (a model file's bytes)

//  What the engine learned of all pairs is kept in its store, as a model
//  file, at a flush after it changed (SAVE_MS apart), and taken again at start: a
//  restart keeps the weights, the population and the windows' hit rates.
//  (Per-pair state comes again from the analyzer's patterns.)
static void
s_restore (wp_engine_t *engine, wp_ctx_t *ctx)
{
    uint8_t data [WP_ENGINE_FILE_MAX];
    size_t len = 0;
    wp_store_t *store = wp_ctx_store (ctx);
    if (!store || wp_store_get (store, STORE_DB, STORE_KEY, strlen (STORE_KEY), data,
                                sizeof data, &len, NULL) != 0)
        return;
    wp_engine_file_t file;
    char error [256];
    if (wp_engine_file_decode (&file, data, len, error, sizeof error)
        || wp_engine_learn_from (engine, &file.learned, WP_ENGINE_RESTORE)) {
        zsys_warning ("engine: the stored weights are not taken (%s): learning afresh",
                      error);
        return;
    }
    zsys_info ("engine: took the stored weights (%" PRIu64 " examples)",
               file.learned.updates);
}

//  Put what was learned in the store when it changed.
static int
s_save (s_state_t *self)
{
    wp_engine_file_t file = { .price = wp_engine_price (self->engine), .from_ms = -1,
                              .until_ms = -1 };
    wp_engine_learned (self->engine, &file.learned);
    wp_store_t *store = self->store;
    if (!store || memcmp (&file.learned, &self->saved, sizeof self->saved) == 0)
        return 0;           //  (the population and rates change without the weights)
    snprintf (file.engine, sizeof file.engine, "%s", WP_ENGINE_VERSION);
    snprintf (file.source, sizeof file.source, "learned online");
    uint8_t data [WP_ENGINE_FILE_MAX];
    size_t len = wp_engine_file_encode (&file, data, sizeof data);
    if (!len || wp_store_put (store, STORE_DB, STORE_KEY, strlen (STORE_KEY), data, len, 1))
        return -1;
    self->saved = file.learned;
    self->saved_mono = zclock_mono ();
    self->save_now = false;
    return 0;
}

//  At a flush: what was learned, SAVE_MS after the last save (at once
//  after a model load); the skeleton commits it.
static int
s_on_persist (void *state, wp_ctx_t *ctx)
{
    s_state_t *self = (s_state_t *) state;
    if (!self->save_now && zclock_mono () - self->saved_mono < SAVE_MS)
        return 0;
    return s_save (self);
}

//  warmupctl model load: a model file, installed at once (the actor does
//  one thing at a time: no event sees half of it), or refused whole with
//  the reason (what the engine had stays).
static int
s_on_control (wp_engine_t *engine, wp_ctx_t *ctx, const Warmup__V1__ControlRequest *in)
{
    if (in->command != WARMUP__V1__COMMAND__COMMAND_MODEL_LOAD)
        return 0;
    Warmup__V1__ControlReply reply = WARMUP__V1__CONTROL_REPLY__INIT;
    reply.event_ms = wp_ctx_now_ms (ctx);
    reply.command = in->command;
    reply.request_id = in->request_id ? in->request_id : (char *) "";
    reply.cause = in->header;
    reply.component = (char *) "engine";
    char message [400] = "", error [300] = "";
    wp_engine_file_t file;
    wp_engine_learned_t learned;
    if (wp_engine_file_decode (&file, in->payload.data, in->payload.len, error,
                               sizeof error) == 0
        && (wp_engine_file_learned (&file, &learned), 1)
        && wp_engine_learn_from (engine, &learned,
                                 file.merge ? WP_ENGINE_MERGE : WP_ENGINE_REPLACE))
        snprintf (error, sizeof error, "a value is not a finite count");
    else
    if (!*error) {
        reply.ok = true;
        snprintf (message, sizeof message, "model of %s (%" PRIu64 " requests, %" PRIu64
                  " examples) %s what was learned online", file.source, file.requests,
                  file.learned.updates, file.merge ? "merged with" : "replaced");
        zsys_info ("engine: %s, by %s", message,
                   in->principal && *in->principal ? in->principal : "?");
    }
    if (!reply.ok)
        wp_ctx_count_rejected (ctx);
    reply.message = message;
    reply.error = error;
    return wp_ctx_publish (ctx, WP_TOPIC_CONTROL_REPLY, &reply.base);
}

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
    wp_intent_opts_t intent_opts = { .horizon_s = config->prediction_horizon_seconds };
    s_state_t *self = (s_state_t *) zmalloc (sizeof (s_state_t));
    self->engine = wp_engine_new (&opts);
    self->intent = wp_intent_new (&intent_opts);
    if (!self->engine || !self->intent) {
        wp_engine_destroy (&self->engine);
        wp_intent_destroy (&self->intent);
        free (self);
        return NULL;
    }
    for (size_t i = 0; i < config->n_models; i++)
        wp_engine_model (self->engine, config->models [i].name, config->models [i].load_ms,
                         config->models [i].memory_mb);
    self->store = wp_ctx_store (ctx);
    self->saved_mono = zclock_mono ();
    s_restore (self->engine, ctx);
    return self;
}

//  Destroy the state.
static void
s_destroy (void **state_p)
{
    s_state_t *self = (s_state_t *) *state_p;
    if (self) {
        //  The stop: what was learned since the last save
        if (s_save (self) == 0 && self->store && wp_store_flush (self->store))
            zsys_error ("engine: cannot keep what was learned in the store");
        wp_engine_destroy (&self->engine);
        wp_intent_destroy (&self->intent);
        free (self);
        *state_p = NULL;
    }
}

//  Publish a user's predictions (made at now) as a prediction.made.
static int
s_publish (wp_ctx_t *ctx, wp_engine_t *engine, const char *user, uint64_t now,
           const wp_prediction_t *predictions, size_t count, Warmup__V1__Header *cause,
           uint64_t usage_received_us, uint64_t started)
{
    Warmup__V1__PredictionMade out = WARMUP__V1__PREDICTION_MADE__INIT;
    out.event_ms = now;
    out.user = (char *) user;
    out.horizon_s = wp_engine_horizon_s (engine);
    wp_prediction_wire_t wire;
    wp_prediction_wire_fill (&wire, predictions, count, &out);
    out.engine_version = (char *) WP_ENGINE_VERSION;
    out.cause = cause;
    out.usage_received_us = usage_received_us;
    out.compute_us = (uint32_t) ((wp_mono_ns () - started) / 1000);
    return wp_ctx_publish (ctx, WP_TOPIC_PREDICTION, &out.base);
}

//  An intent: learned; the models worth warming ahead are published with
//  their windows (nothing when none is).
static int
s_on_intent (s_state_t *self, wp_ctx_t *ctx, const Warmup__V1__UsageIntent *in)
{
    uint64_t started = wp_mono_ns ();
    //  The user as the bus hashed it at ingress (a raw id came around it).
    uint64_t user;
    if (!in->user || wp_user_id_parse (in->user, &user) || !wp_intent_kind_ok (in->kind)) {
        wp_ctx_count_rejected (ctx);
        return -1;
    }
    uint64_t now = in->event_ms ? in->event_ms : wp_ctx_now_ms (ctx);
    wp_intent_sign_t sign = { .kind = in->kind, .language = in->language,
                              .model = in->model };
    wp_prediction_t predictions [PREDICTIONS_MAX];
    int n = wp_intent_signal (self->intent, self->engine, user, &sign, now, predictions,
                              PREDICTIONS_MAX);
    if (n < 0) {
        wp_ctx_count_rejected (ctx);
        return -1;
    }
    if (n == 0)
        return 0;
    return s_publish (ctx, self->engine, in->user, now, predictions, (size_t) n, NULL, 0,
                      started);
}

//  Predict from the pair a usage event changed, and publish.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    s_state_t *self = (s_state_t *) state;
    wp_engine_t *engine = self->engine;
    if (topic == WP_TOPIC_INTENT)
        return s_on_intent (self, ctx, (const Warmup__V1__UsageIntent *) msg);
    if (topic == WP_TOPIC_CONTROL) {
        const Warmup__V1__ControlRequest *control = (const Warmup__V1__ControlRequest *) msg;
        if (control->command == WARMUP__V1__COMMAND__COMMAND_MODEL_LOAD)
            self->save_now = true;  //  (a model loaded is kept at once)
        return s_on_control (engine, ctx, control);
    }
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
    wp_pattern_t pair;
    char error [160];
    if (wp_pattern_wire_read (in, &pair, error, sizeof error)) {
        wp_ctx_count_rejected (ctx);
        if (wp_log_should (++self->refused))
            zsys_warning ("engine: usage.pattern dropped: %s (%" PRIu64 " so far)", error,
                          self->refused);
        return -1;
    }
    uint64_t now = in->event_ms ? in->event_ms : wp_ctx_now_ms (ctx);
    if (now > self->pattern_ms && now < wp_ctx_now_ms (ctx) + SYNC_SLACK_MS)
        self->pattern_ms = now;     //  (a time in the future is a client's error)
    wp_prediction_t predictions [PREDICTIONS_MAX];
    size_t count = wp_engine_update (engine, user, &pair, now, predictions, PREDICTIONS_MAX);
    //  The request behind the pair, for the intents it follows.
    if (pair.last_ms == now) {
        uint64_t keep = 0;
        for (size_t i = 0; i < count; i++)
            if (streq (predictions [i].model, pair.model))
                keep = predictions [i].keep_until_ms;
        wp_intent_request (self->intent, user, pair.model, now, keep);
    }
    return s_publish (ctx, engine, in->user, now, predictions, count, in->cause,
                      in->usage_received_us, started);
}

//  Resync from the analyzer: each pair of its snapshot is taken into the
//  pair table (wp_engine_restore: known and planned as of its latest
//  request), so the models that follow a user's next request are
//  predicted at once. A snapshot cut short leaves the pairs it gave (each
//  is a pair as the analyzer had it).
static int
s_on_sync (void *state, wp_ctx_t *ctx, wp_sync_phase_t phase, const char *kind,
           const ProtobufCMessage *msg)
{
    s_state_t *self = (s_state_t *) state;
    if (phase == WP_SYNC_BEGIN)
        self->restored = 0;
    if (phase == WP_SYNC_END)
        zsys_info ("engine: %" PRIu64 " pairs taken from the analyzer's snapshot; %zu "
                   "pairs known", self->restored, wp_engine_pairs (self->engine));
    if (phase != WP_SYNC_ITEM || !streq (kind, WP_SYNC_PATTERN))
        return 0;
    const Warmup__V1__UsagePattern *in = (const Warmup__V1__UsagePattern *) msg;
    uint64_t user;
    wp_pattern_t pair;
    if (!in->user || wp_user_id_parse (in->user, &user)
        || wp_pattern_wire_read (in, &pair, NULL, 0)) {
        wp_ctx_count_rejected (ctx);
        return -1;
    }
    if (wp_engine_restore (self->engine, user, &pair, wp_ctx_now_ms (ctx)))
        self->restored++;
    return 0;
}

//  Where a resync after a gap starts: shortly before the latest pattern.
static uint64_t
s_sync_since (void *state)
{
    s_state_t *self = (s_state_t *) state;
    return self->pattern_ms > SYNC_SLACK_MS ? self->pattern_ms - SYNC_SLACK_MS : 0;
}

//  Bytes of learned state, for heartbeats; items: the pairs known.
static void
s_state_size (void *state, uint64_t *bytes, uint64_t *items)
{
    s_state_t *self = (s_state_t *) state;
    *bytes = wp_engine_state_bytes (self->engine) + wp_intent_state_bytes (self->intent);
    *items = wp_engine_pairs (self->engine);
}

//  A reload: the price, load times and memory of added or changed models
//  (what was learned stays).
static void
s_on_config (void *state, wp_ctx_t *ctx, const wp_config_t *next)
{
    wp_engine_t *engine = ((s_state_t *) state)->engine;
    wp_engine_set_price (engine, next->cold_wait_price);
    for (size_t i = 0; i < next->n_models; i++)
        wp_engine_model (engine, next->models [i].name, next->models [i].load_ms,
                         next->models [i].memory_mb);
}

const wp_component_def_t wp_engine_def = {
    .name = "engine",
    .title = "PredictionEngine",
    .topics = { "usage.pattern", "perf.estimate", "usage.intent", "control.request", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
    .on_config = s_on_config,
    .state_size = s_state_size,
    .on_persist = s_on_persist,
    .sync_from = "analyzer",
    .on_sync = s_on_sync,
    .sync_since = s_sync_since,
};
