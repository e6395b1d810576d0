/*  =========================================================================
    wp_metrics_actor - binds the ModelWarmupMetrics core to the bus and
    serves it over HTTP (wp_http, in the actor's own zloop).
    =========================================================================
*/
#include "wp_metrics_actor.h"
#include "wp_metrics.h"
#include "wp_metrics_export.h"
#include "wp_http.h"
#include "wp_util.h"

//  The dashboard page, generated at build time from docs/dashboard/index.html.
extern const unsigned char wp_dashboard_html [];
extern const size_t wp_dashboard_html_size;

//  Guesses taken from one prediction event at most.
#define GUESSES_MAX 32

//  Models in a metrics.snapshot event at most (keeps it under a frame).
#define SNAPSHOT_MODELS_MAX 64

//  History samples in /api/snapshot at most (10 minutes at 1 s).
#define HISTORY_MAX 600

//  The component's state.
typedef struct {
    wp_ctx_t *ctx;              // the component (borrowed)
    wp_metrics_t *core;         // the counters
    wp_http_t *http;            // the HTTP endpoint, or NULL when off
    uint64_t started_ms;        // wall clock at start
    uint64_t advanced_ms;       // wall clock of the last clock advance
    wp_metrics_memory_t memory; // device memory, the latest resource.status
    uint64_t kept_stamp;        // wp_metrics_stamp when the counters were kept
    zhashx_t *synced;           // models named by the queue's snapshot being
                                // received (NULL: none)
} s_state_t;

//  The counters are kept in the store (database "counters", one record)
//  at each flush after they changed, and taken again at start: a restart
//  goes on from them, losing at most a flush period of counts.
#define KEEP_DB "counters"
#define KEEP_KEY "totals"
#define KEEP_VERSION 1

//  Take the counters of the runs before.
static void
s_restore (wp_metrics_t *core, wp_ctx_t *ctx)
{
    wp_store_t *store = wp_ctx_store (ctx);
    uint8_t *data = (uint8_t *) malloc (WP_METRICS_KEEP_MAX);
    assert (data);
    size_t len = 0;
    uint16_t version = 0;
    int rc = store ? wp_store_get (store, KEEP_DB, KEEP_KEY, strlen (KEEP_KEY), data,
                                   WP_METRICS_KEEP_MAX, &len, &version) : 1;
    if (rc == 0 && (version != KEEP_VERSION || wp_metrics_restore (core, data, len)))
        zsys_warning ("metrics: the kept counters do not parse (another build?): "
                      "counting from zero");
    else
    if (rc == 0) {
        wp_metrics_snapshot_t snap;
        wp_metrics_snapshot (core, &snap);
        zsys_info ("metrics: counters taken from the store: %" PRIu64 " events, %" PRIu64
                   " requests, %" PRIu64 " predictions", snap.events, snap.requests,
                   snap.predictions);
    }
    free (data);
}

//  Keep the counters when they changed.
static int
s_on_persist (void *state, wp_ctx_t *ctx)
{
    s_state_t *self = (s_state_t *) state;
    uint64_t stamp = wp_metrics_stamp (self->core);
    wp_store_t *store = wp_ctx_store (ctx);
    if (!store || stamp == self->kept_stamp || wp_ctx_replay (ctx))
        return 0;               //  (a replay's counts are its own)
    uint8_t *data = (uint8_t *) malloc (WP_METRICS_KEEP_MAX);
    assert (data);
    size_t len = wp_metrics_keep (self->core, data, WP_METRICS_KEEP_MAX);
    int rc = len ? wp_store_put (store, KEEP_DB, KEEP_KEY, strlen (KEEP_KEY), data, len,
                                 KEEP_VERSION) : -1;
    free (data);
    if (rc == 0)
        self->kept_stamp = stamp;
    return rc;
}

//  Key of an event from its publisher and sequence number (a usage's
//  header and a prediction's cause give the same key), without formatting
//  either: two of these per usage event.
static uint64_t
s_event_key (const Warmup__V1__Header *header)
{
    static const uint8_t key [16] = { 0 };
    const char *source = header->source ? header->source : "";
    return wp_mix64 (wp_siphash (key, source, strnlen (source, 256))
                     ^ wp_mix64 (header->seq + 1));
}

//  Bring the core up to now: the stream clock moves on by the wall time
//  since the last call, ended horizons are scored, own drops are set.
static void
s_refresh (s_state_t *self)
{
    uint64_t now = wp_ctx_now_ms (self->ctx);
    if (now > self->advanced_ms)
        wp_metrics_advance (self->core, now - self->advanced_ms);
    self->advanced_ms = now;
    wp_metrics_expire (self->core);
    wp_bus_stats_t stats;
    wp_ctx_bus_stats (self->ctx, &stats);
    wp_metrics_set_dropped (self->core, stats.gaps + stats.bad_frames);
}

//  What the exports add.
static wp_metrics_export_info_t
s_info (s_state_t *self)
{
    wp_metrics_export_info_t info = {
        .now_ms = wp_ctx_now_ms (self->ctx),
        .started_ms = self->started_ms,
        .threshold = wp_ctx_config (self->ctx)->prediction_threshold,
        .endpoint = self->http ? wp_http_endpoint (self->http) : NULL,
        .history_max = HISTORY_MAX,
        .memory = &self->memory,
    };
    return info;
}

//  Answer an HTTP request (the path is checked by wp_http).
static int
s_http (const char *path, wp_http_response_t *response, void *arg)
{
    s_state_t *self = (s_state_t *) arg;
    if (streq (path, "/metrics")) {
        s_refresh (self);
        wp_metrics_export_info_t info = s_info (self);
        response->body = wp_metrics_export_prometheus (self->core, &info);
        response->content_type = "text/plain; version=0.0.4; charset=utf-8";
    }
    else
    if (streq (path, "/api/snapshot")) {
        s_refresh (self);
        wp_metrics_export_info_t info = s_info (self);
        response->body = wp_metrics_export_json (self->core, &info);
        response->content_type = "application/json";
    }
    else
    if (streq (path, "/") || streq (path, "/index.html")) {
        response->body = (char *) wp_dashboard_html;
        response->size = wp_dashboard_html_size;
        response->borrowed = true;
        response->content_type = "text/html; charset=utf-8";
        //  Offline by construction: nothing but this server is reachable
        response->extra_header = "Content-Security-Policy: default-src 'none'; "
                                 "script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                                 "connect-src 'self'; img-src data:";
        response->status = 200;
        return 0;
    }
    else {
        response->status = 404;
        response->body = (char *) "not found: try /, /metrics or /api/snapshot\n";
        response->size = strlen (response->body);
        response->borrowed = true;
        response->content_type = "text/plain; charset=utf-8";
        return 0;
    }
    if (!response->body)
        return -1;
    response->status = 200;
    response->size = strlen (response->body);
    return 0;
}

//  Build the state and start the HTTP endpoint.
static void *
s_create (wp_ctx_t *ctx)
{
    const wp_config_t *config = wp_ctx_config (ctx);
    s_state_t *self = (s_state_t *) zmalloc (sizeof (s_state_t));
    assert (self);
    self->ctx = ctx;
    self->core = wp_metrics_new ();
    if (!self->core) {
        free (self);
        return NULL;
    }
    //  Topics it only counts: their contents are not decoded (the usage
    //  pattern is the largest event on the bus; resource.status is read
    //  for the device memory, once a period)
    const wp_topic_t counted [] = { WP_TOPIC_PATTERN, WP_TOPIC_PERF, WP_TOPIC_METRICS };
    for (size_t i = 0; i < sizeof counted / sizeof counted [0]; i++)
        wp_ctx_header_only (ctx, counted [i]);
    wp_metrics_set_threshold (self->core, config->prediction_threshold);
    if (!wp_ctx_replay (ctx))
        s_restore (self->core, ctx);
    self->kept_stamp = wp_metrics_stamp (self->core);
    //  User ids come hashed under the installation's key (wp_ingress), so a
    //  publisher cannot choose where they land: the core's fixed key will do.
    self->started_ms = wp_ctx_now_ms (ctx);
    self->advanced_ms = self->started_ms;
    if (!streq (config->metrics_listen, "off")) {
        const char *why = NULL;
        if (wp_http_check_listen (config->metrics_listen, &why)) {
            zsys_error ("metrics: key 'metrics_listen': bad value '%s': %s",
                        config->metrics_listen, why);
            wp_metrics_destroy (&self->core);
            free (self);
            return NULL;
        }
        self->http = wp_http_new (wp_ctx_loop (ctx), config->metrics_listen, s_http, self);
        if (!self->http) {
            zsys_error ("metrics: no HTTP endpoint on %s (set metrics_listen or "
                        "--metrics-listen; port 0 takes a free port, off turns it off)",
                        config->metrics_listen);
            wp_metrics_destroy (&self->core);
            free (self);
            return NULL;
        }
        zsys_info ("metrics: serving http://%s/ (dashboard), /metrics, /api/snapshot",
                   wp_http_endpoint (self->http));
    }
    return self;
}

//  Destroy the state.
static void
s_destroy (void **state_p)
{
    s_state_t *self = (s_state_t *) *state_p;
    if (self) {
        wp_http_destroy (&self->http);
        wp_metrics_destroy (&self->core);
        zhashx_destroy (&self->synced);
        free (self);
        *state_p = NULL;
    }
}

//  Action of an event as the core's enum (0 when unspecified).
static int
s_action (Warmup__V1__Action action)
{
    return action == WARMUP__V1__ACTION__ACTION_WARM ? WP_METRICS_ACTION_WARM
         : action == WARMUP__V1__ACTION__ACTION_COOL ? WP_METRICS_ACTION_COOL : 0;
}

//  The devices of a resource.status (one without any, in replay, leaves
//  what was known).
static void
s_on_resource (s_state_t *self, const Warmup__V1__ResourceStatus *in)
{
    if (!in->n_devices)
        return;
    wp_metrics_memory_t *memory = (wp_metrics_memory_t *) zmalloc (sizeof *memory);
    assert (memory);
    memory->known = true;
    memory->seen_ms = wp_wall_us () / 1000;
    memory->budget_mb = in->budget_mb;
    memory->vram_budget_mb = in->vram_budget_mb;
    memory->memory_auto = in->memory_auto;
    memory->vram_auto = in->vram_auto;
    memory->warm_memory_mb = in->warm_memory_mb;
    for (size_t i = 0; i < in->n_devices && i < WP_METRICS_DEVICES_MAX; i++) {
        const Warmup__V1__DeviceMemory *d = in->devices [i];
        wp_metrics_device_t *out = &memory->devices [memory->n_devices++];
        snprintf (out->device, sizeof out->device, "%s", d->device ? d->device : "");
        snprintf (out->name, sizeof out->name, "%s", d->name ? d->name : "");
        out->total_mb = d->total_mb;
        out->used_mb = d->used_mb;
        out->ours_mb = d->ours_mb;
        out->others_mb = d->others_mb;
        out->reserved_mb = d->reserved_mb;
        out->capacity_mb = d->capacity_mb;
        out->managed = d->managed;
        out->ours_by_processes = d->ours_from && streq (d->ours_from, "processes");
    }
    if (in->n_devices > WP_METRICS_DEVICES_MAX
        || wp_metrics_memory_take (&self->memory, memory))
        wp_ctx_count_rejected (self->ctx);
    free (memory);
}

//  Count one event.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    s_state_t *self = (s_state_t *) state;
    wp_metrics_t *core = self->core;
    uint64_t now_ms = wp_ctx_now_ms (ctx);
    wp_metrics_event (core, wp_topic_name (topic));
    if (topic == WP_TOPIC_USAGE) {
        const Warmup__V1__UsageObserved *usage = (const Warmup__V1__UsageObserved *) msg;
        wp_metrics_usage_seen (core, s_event_key (usage->header), wp_wall_us ());
        wp_metrics_request (core, usage->user, usage->model, (int) usage->outcome,
                            usage->wait_ms, usage->event_ms ? usage->event_ms : now_ms);
    }
    else
    if (topic == WP_TOPIC_PREDICTION) {
        const Warmup__V1__PredictionMade *prediction = (const Warmup__V1__PredictionMade *) msg;
        wp_metrics_prediction_seen (core, prediction->cause
                                          ? s_event_key (prediction->cause) : 0,
                                    wp_wall_us ());
        wp_metrics_guess_t guesses [GUESSES_MAX];
        size_t n = 0;
        for (size_t i = 0; i < prediction->n_models && n < GUESSES_MAX; i++) {
            guesses [n].model = prediction->models [i]->model;
            guesses [n].probability = prediction->models [i]->probability;
            guesses [n].expected_in_ms = prediction->models [i]->expected_in_ms;
            n++;
        }
        wp_metrics_prediction (core, prediction->user,
                               prediction->event_ms ? prediction->event_ms : now_ms,
                               prediction->horizon_s, guesses, n);
    }
    else
    if (topic == WP_TOPIC_WARMUP_REQUEST) {
        const Warmup__V1__WarmupRequested *request = (const Warmup__V1__WarmupRequested *) msg;
        wp_metrics_warmup_requested (core, request->model, s_action (request->action),
                                     request->reason, request->header->source,
                                     request->event_ms ? request->event_ms : now_ms);
    }
    else
    if (topic == WP_TOPIC_WARMUP_DONE) {
        const Warmup__V1__WarmupDone *in = (const Warmup__V1__WarmupDone *) msg;
        wp_metrics_done_t done = {
            .model = in->model,
            .action = s_action (in->action),
            .ok = in->ok,
            .reason = in->reason,
            .error = in->error,
            .duration_ms = in->duration_ms,
            .memory_mb = in->memory_mb,
            .event_ms = in->event_ms ? in->event_ms : now_ms,
            .source = in->header->source,
        };
        wp_metrics_warmup_finished (core, &done);
    }
    else
    if (topic == WP_TOPIC_RESOURCE)
        s_on_resource (self, (const Warmup__V1__ResourceStatus *) msg);
    else
    if (topic == WP_TOPIC_HEARTBEAT) {
        const Warmup__V1__Heartbeat *in = (const Warmup__V1__Heartbeat *) msg;
        wp_metrics_beat_t beat = {
            .source = in->header->source,
            .component = in->component,
            .event_ms = in->event_ms ? in->event_ms : now_ms,
            .rss_kb = in->rss_kb,
            .uptime_ms = in->uptime_ms,
            .events_in = in->events_in,
            .events_out = in->events_out,
            .dropped = in->dropped,
            .bad_frames = in->bad_frames,
            .persisted = in->persisted,
            .interval_ms = in->interval_ms,
            .refused = in->refused,
            .rate_limited = in->rate_limited,
            .auth_failures = in->auth_failures,
        };
        for (size_t i = 0; i < in->n_dropped_topics; i++) {
            const char *name = in->dropped_topics [i]->topic;
            int t = name ? wp_topic_lookup (name, strlen (name)) : -1;
            if (t >= 0 && t < WP_METRICS_TOPICS)
                beat.dropped_topics [t] = in->dropped_topics [i]->count;
        }
        wp_metrics_heartbeat (core, &beat);
    }
    return 0;
}

//  Add one topic count to the snapshot being built.
static int
s_add_topic (const char *topic, uint64_t count, void *arg)
{
    Warmup__V1__MetricsSnapshot *out = (Warmup__V1__MetricsSnapshot *) arg;
    Warmup__V1__TopicCount *entry = (Warmup__V1__TopicCount *) zmalloc (sizeof *entry);
    assert (entry);
    warmup__v1__topic_count__init (entry);
    entry->topic = strdup (topic);
    assert (entry->topic);
    entry->count = count;
    out->topics [out->n_topics++] = entry;
    return 0;
}

//  Name of a model state.
static char *
s_state_name (int state)
{
    return (char *) (state == WP_METRICS_MODEL_WARM ? "warm"
                   : state == WP_METRICS_MODEL_LOADING ? "loading" : "cold");
}

//  The snapshot's totals (EVAL.md section 3 and the seed's summary).
static void
s_snapshot_totals (s_state_t *self, wp_ctx_t *ctx, Warmup__V1__MetricsSnapshot *out)
{
    wp_metrics_t *core = self->core;
    wp_metrics_snapshot_t snap;
    wp_metrics_snapshot (core, &snap);
    wp_metrics_model_t totals;
    wp_metrics_totals (core, &totals);
    wp_metrics_summary_t summary;
    wp_metrics_export_summary (core, &summary);
    out->event_ms = wp_ctx_now_ms (ctx);
    out->topics = (Warmup__V1__TopicCount **) calloc (snap.topics + 2, sizeof (void *));
    assert (out->topics);
    wp_metrics_topics (core, s_add_topic, out);
    out->requests = snap.requests;
    out->warm = snap.warm;
    out->delayed = snap.delayed;
    out->cold_starts = snap.cold_starts;
    out->cold_wait_s = snap.cold_wait_s;
    out->predictions = snap.predictions;
    out->latency_p50_us = snap.latency_p50_us;
    out->latency_p99_us = snap.latency_p99_us;
    out->latency_max_us = snap.latency_max_us;
    out->warmups_ok = snap.warmups_ok;
    out->warmups_failed = snap.warmups_failed;
    out->cools = snap.cools;
    out->dropped = snap.dropped;
    out->prewarms = totals.prewarms;
    out->useful_prewarms = totals.useful_prewarms;
    out->prewarm_hits = totals.prewarm_hits;
    out->fp_rate = totals.prewarms
                 ? 1.0 - (double) totals.useful_prewarms / (double) totals.prewarms : 0;
    uint64_t missed = totals.prewarm_hits + totals.cold_starts + totals.delayed;
    out->recall = missed ? (double) totals.prewarm_hits / (double) missed : 0;
    out->cold_rate = totals.requests
                   ? (double) (totals.cold_starts + totals.delayed) / (double) totals.requests
                   : NAN;
    out->p75_model_cold_rate = wp_metrics_p75_model_cold_rate (core);
    out->resident_gb_s = (double) totals.resident_mb_ms / (1024.0 * 1000.0);
    out->resident_mb = wp_metrics_resident_mb (core);
    out->latency_samples = snap.latency_samples;
    out->latency_mean_us = snap.latency_samples
                         ? wp_metrics_latency_sum_us (core) / snap.latency_samples : 0;
    out->accuracy = summary.accuracy;
    out->resource_efficiency = summary.resource_efficiency;
    out->http_endpoint = (char *) (self->http ? wp_http_endpoint (self->http) : "");
    out->unpredicted = wp_metrics_unpredicted (core);
}

//  The snapshot's prediction quality by horizon range, in horizons.
static void
s_snapshot_horizons (wp_metrics_t *core, Warmup__V1__HorizonAccuracy *horizons)
{
    for (int h = 0; h < WP_METRICS_HORIZONS; h++) {
        wp_metrics_confusion_t c = wp_metrics_horizon (core, h);
        wp_metrics_quality_t q = wp_metrics_quality (c);
        warmup__v1__horizon_accuracy__init (&horizons [h]);
        horizons [h].horizon = (char *) wp_metrics_horizon_name (h);
        horizons [h].true_positives = c.tp;
        horizons [h].false_positives = c.fp;
        horizons [h].false_negatives = c.fn;
        horizons [h].true_negatives = c.tn;
        horizons [h].accuracy = q.accuracy;
        horizons [h].precision = q.precision;
        horizons [h].recall = q.recall;
        horizons [h].f1 = q.f1;
    }
}

//  The snapshot's models (SNAPSHOT_MODELS_MAX at most), in models;
//  returns how many.
static size_t
s_snapshot_models (wp_metrics_t *core, Warmup__V1__ModelMetrics *models)
{
    size_t n_models = 0;
    for (size_t i = 0; i < wp_metrics_models (core) && n_models < SNAPSHOT_MODELS_MAX; i++) {
        const wp_metrics_model_t *m = wp_metrics_model (core, i);
        Warmup__V1__ModelMetrics *entry = &models [n_models++];
        warmup__v1__model_metrics__init (entry);
        entry->model = (char *) m->name;
        entry->state = s_state_name (m->state);
        entry->requests = m->requests;
        entry->warm = m->warm;
        entry->delayed = m->delayed;
        entry->cold_starts = m->cold_starts;
        entry->cold_wait_s = (double) m->wait_ms / 1000.0;
        entry->prewarms = m->prewarms;
        entry->useful_prewarms = m->useful_prewarms;
        entry->prewarm_hits = m->prewarm_hits;
        entry->resident_gb_s = (double) wp_metrics_model_resident_mb_ms (core, m)
                             / (1024.0 * 1000.0);
        entry->memory_mb = m->resident ? m->memory_mb : 0;
    }
    return n_models;
}

//  Sample the history and publish a snapshot.
static int
s_on_tick (void *state, wp_ctx_t *ctx)
{
    s_state_t *self = (s_state_t *) state;
    s_refresh (self);
    wp_metrics_sample (self->core, wp_ctx_now_ms (ctx));
    Warmup__V1__MetricsSnapshot out = WARMUP__V1__METRICS_SNAPSHOT__INIT;
    s_snapshot_totals (self, ctx, &out);

    Warmup__V1__HorizonAccuracy horizons [WP_METRICS_HORIZONS];
    Warmup__V1__HorizonAccuracy *horizon_p [WP_METRICS_HORIZONS];
    s_snapshot_horizons (self->core, horizons);
    for (int h = 0; h < WP_METRICS_HORIZONS; h++)
        horizon_p [h] = &horizons [h];
    out.horizons = horizon_p;
    out.n_horizons = WP_METRICS_HORIZONS;

    Warmup__V1__ModelMetrics models [SNAPSHOT_MODELS_MAX];
    Warmup__V1__ModelMetrics *model_p [SNAPSHOT_MODELS_MAX];
    out.n_models = s_snapshot_models (self->core, models);
    for (size_t i = 0; i < out.n_models; i++)
        model_p [i] = &models [i];
    out.models = model_p;

    int rc = wp_ctx_publish (ctx, WP_TOPIC_METRICS, &out.base);
    for (size_t i = 0; i < out.n_topics; i++) {
        free (out.topics [i]->topic);
        free (out.topics [i]);
    }
    free (out.topics);
    return rc;
}

//  Resync from the queue (its snapshot at start, after a gap or a new
//  instance): each model's state, so a model warm across a restart is
//  resident (its memory-time counted from the resync on); a model the
//  snapshot does not name is cold.
static int
s_on_sync (void *state, wp_ctx_t *ctx, wp_sync_phase_t phase, const char *kind,
           const ProtobufCMessage *msg)
{
    s_state_t *self = (s_state_t *) state;
    uint64_t now = wp_ctx_now_ms (ctx);
    if (phase == WP_SYNC_BEGIN || phase == WP_SYNC_ABORT)
        zhashx_destroy (&self->synced);
    if (phase == WP_SYNC_BEGIN) {
        self->synced = zhashx_new ();
        assert (self->synced);
    }
    if (phase == WP_SYNC_ITEM && self->synced && streq (kind, WP_SYNC_MODEL_STATE)) {
        const Warmup__V1__ModelState *in = (const Warmup__V1__ModelState *) msg;
        if (!in->model || !*in->model || !in->state)
            return -1;
        int known = streq (in->state, "loading") ? WP_METRICS_MODEL_LOADING
                  : streq (in->state, "cold") ? WP_METRICS_MODEL_COLD
                  : WP_METRICS_MODEL_WARM;      //  warm, or cooling: still loaded
        wp_metrics_model_state (self->core, in->model, known, in->memory_mb, now);
        zhashx_insert (self->synced, in->model, (void *) 1);
    }
    if (phase == WP_SYNC_END && self->synced) {
        for (size_t i = 0; i < wp_metrics_models (self->core); i++) {
            const wp_metrics_model_t *model = wp_metrics_model (self->core, i);
            if (model->state != WP_METRICS_MODEL_COLD && !streq (model->name, "other")
                && !zhashx_lookup (self->synced, model->name))
                wp_metrics_model_state (self->core, model->name, WP_METRICS_MODEL_COLD, 0,
                                        now);
        }
        zhashx_destroy (&self->synced);
    }
    return 0;
}

//  Snapshot period from the configuration.
static unsigned
s_tick_period (const wp_config_t *config)
{
    return config->metrics_interval_ms;
}

const wp_component_def_t wp_metrics_def = {
    .name = "metrics",
    .title = "ModelWarmupMetrics",
    .topics = { "", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
    .on_tick = s_on_tick,
    .tick_period = s_tick_period,
    .on_persist = s_on_persist,
    .sync_from = "queue",
    .on_sync = s_on_sync,
};
