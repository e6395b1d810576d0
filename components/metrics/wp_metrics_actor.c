/*  =========================================================================
    wp_metrics_actor - binds the ModelWarmupMetrics core to the bus.
    =========================================================================
*/
#include "wp_metrics_actor.h"
#include "wp_metrics.h"
#include "wp_util.h"

//  Key of an event from its publisher and sequence number.
static uint64_t
s_event_key (const Warmup__V1__Header *header)
{
    static const uint8_t key [16] = { 0 };
    char text [320];
    int len = snprintf (text, sizeof text, "%.256s|%" PRIu64,
                        header->source ? header->source : "", header->seq);
    return wp_siphash (key, text, (size_t) len);
}

//  Build the state.
static void *
s_create (wp_ctx_t *ctx)
{
    return wp_metrics_new ();
}

//  Destroy the state.
static void
s_destroy (void **state_p)
{
    wp_metrics_destroy ((wp_metrics_t **) state_p);
}

//  Count one event.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    wp_metrics_t *self = (wp_metrics_t *) state;
    wp_metrics_event (self, wp_topic_name (topic));
    if (topic == WP_TOPIC_USAGE) {
        const Warmup__V1__UsageObserved *usage = (const Warmup__V1__UsageObserved *) msg;
        wp_metrics_usage_seen (self, s_event_key (usage->header), wp_wall_us ());
        wp_metrics_usage (self, (int) usage->outcome, usage->wait_ms);
    }
    else
    if (topic == WP_TOPIC_PREDICTION) {
        const Warmup__V1__PredictionMade *prediction = (const Warmup__V1__PredictionMade *) msg;
        if (prediction->cause)
            wp_metrics_prediction_seen (self, s_event_key (prediction->cause), wp_wall_us ());
        else
            wp_metrics_prediction_seen (self, 0, wp_wall_us ());
    }
    else
    if (topic == WP_TOPIC_WARMUP_DONE) {
        const Warmup__V1__WarmupDone *done = (const Warmup__V1__WarmupDone *) msg;
        wp_metrics_warmup_done (self, done->action == WARMUP__V1__ACTION__ACTION_COOL
                                      ? WP_METRICS_ACTION_COOL : WP_METRICS_ACTION_WARM,
                                done->ok);
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

//  Publish a snapshot.
static int
s_on_tick (void *state, wp_ctx_t *ctx)
{
    wp_metrics_t *self = (wp_metrics_t *) state;
    wp_metrics_snapshot_t snap;
    wp_metrics_snapshot (self, &snap);
    wp_bus_stats_t stats;
    wp_ctx_bus_stats (ctx, &stats);

    Warmup__V1__MetricsSnapshot out = WARMUP__V1__METRICS_SNAPSHOT__INIT;
    out.event_ms = wp_ctx_now_ms (ctx);
    out.topics = (Warmup__V1__TopicCount **) calloc (snap.topics + 2, sizeof (void *));
    assert (out.topics);
    wp_metrics_topics (self, s_add_topic, &out);
    out.requests = snap.requests;
    out.warm = snap.warm;
    out.delayed = snap.delayed;
    out.cold_starts = snap.cold_starts;
    out.cold_wait_s = snap.cold_wait_s;
    out.predictions = snap.predictions;
    out.latency_p50_us = snap.latency_p50_us;
    out.latency_p99_us = snap.latency_p99_us;
    out.latency_max_us = snap.latency_max_us;
    out.warmups_ok = snap.warmups_ok;
    out.warmups_failed = snap.warmups_failed;
    out.cools = snap.cools;
    out.dropped = stats.gaps + stats.bad_frames;
    int rc = wp_ctx_publish (ctx, WP_TOPIC_METRICS, &out.base);
    for (size_t i = 0; i < out.n_topics; i++) {
        free (out.topics [i]->topic);
        free (out.topics [i]);
    }
    free (out.topics);
    return rc;
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
};
