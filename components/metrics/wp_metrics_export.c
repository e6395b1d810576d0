/*  =========================================================================
    wp_metrics_export - the metrics core as Prometheus text and as JSON.
    =========================================================================
*/
#include "wp_metrics_export.h"
#include "wp_json.h"
#include "wp_bus.h"
#include <czmq.h>
#include <math.h>

//  A growing text buffer (wp_json_appendf does the growing).
typedef struct {
    char *text;                 // the text, NUL-terminated
    size_t len;                 // bytes used
    size_t cap;                 // bytes allocated
} s_buffer_t;

#define APPEND(b, ...) wp_json_appendf (&(b)->text, &(b)->len, &(b)->cap, __VA_ARGS__)

//  Components whose latest heartbeat is older than this many intervals
//  (plus a second) are gone.
#define S_STALE_INTERVALS 3

//  One component's heartbeats summed over its live publishers.
typedef struct {
    char name [WP_METRICS_COMPONENT_MAX + 1];
    uint64_t instances;         // publishers heard from recently
    uint64_t rss_kb;            // their RSS, KiB
    uint64_t uptime_ms;         // the longest uptime
    uint64_t events_in;
    uint64_t events_out;
    uint64_t dropped;
    uint64_t bad_frames;
    uint64_t persisted;
    uint64_t dropped_topics [WP_METRICS_TOPICS]; // gaps by topic number
    uint64_t refused;           // the bus: events a key may not send
    uint64_t rate_limited;      // the bus: usage over the rate limit
    uint64_t auth_failures;     // the bus: handshakes refused
    uint64_t age_ms;            // since the latest heartbeat
} s_component_t;

//  Order components by name (qsort).
static int
s_compare_components (const void *one, const void *two)
{
    return strcmp (((const s_component_t *) one)->name, ((const s_component_t *) two)->name);
}

//  Sum the heartbeats per component, sorted by name; returns the count.
//  Counters include publishers that went away, so they do not go back.
static size_t
s_components (wp_metrics_t *metrics, uint64_t now_ms, s_component_t *out)
{
    const wp_metrics_source_t *sources;
    size_t n_sources = wp_metrics_sources (metrics, &sources);
    size_t n = 0;
    for (size_t i = 0; i < n_sources; i++) {
        const wp_metrics_source_t *s = &sources [i];
        if (!s->used)
            continue;
        s_component_t *c = NULL;
        for (size_t j = 0; j < n && !c; j++)
            if (streq (out [j].name, s->component))
                c = &out [j];
        if (!c) {
            c = &out [n++];
            memset (c, 0, sizeof *c);
            snprintf (c->name, sizeof c->name, "%s", s->component);
            c->age_ms = UINT64_MAX;
        }
        uint64_t age = now_ms > s->seen_ms ? now_ms - s->seen_ms : 0;
        if (age <= (uint64_t) S_STALE_INTERVALS * s->interval_ms + 1000) {
            c->instances++;
            c->rss_kb += s->rss_kb;
            if (s->uptime_ms > c->uptime_ms)
                c->uptime_ms = s->uptime_ms;
        }
        if (age < c->age_ms)
            c->age_ms = age;
        c->events_in += s->events_in;
        c->events_out += s->events_out;
        c->dropped += s->dropped;
        c->bad_frames += s->bad_frames;
        c->persisted += s->persisted;
        for (int t = 0; t < WP_METRICS_TOPICS; t++)
            c->dropped_topics [t] += s->dropped_topics [t];
        c->refused += s->refused;
        c->rate_limited += s->rate_limited;
        c->auth_failures += s->auth_failures;
    }
    qsort (out, n, sizeof *out, s_compare_components);
    return n;
}

//  Order model pointers by name (qsort).
static int
s_compare_models (const void *one, const void *two)
{
    const wp_metrics_model_t *a = *(const wp_metrics_model_t *const *) one;
    const wp_metrics_model_t *b = *(const wp_metrics_model_t *const *) two;
    //  "other" last
    bool a_other = streq (a->name, WP_METRICS_OTHER), b_other = streq (b->name, WP_METRICS_OTHER);
    if (a_other != b_other)
        return a_other ? 1 : -1;
    return strcmp (a->name, b->name);
}

//  The models sorted by name, "other" last; returns the count.
static size_t
s_models (wp_metrics_t *metrics, const wp_metrics_model_t **out)
{
    size_t n = wp_metrics_models (metrics);
    for (size_t i = 0; i < n; i++)
        out [i] = wp_metrics_model (metrics, i);
    qsort (out, n, sizeof *out, s_compare_models);
    return n;
}

//  Name of a model state.
static const char *
s_state_name (int state)
{
    return state == WP_METRICS_MODEL_WARM ? "warm"
         : state == WP_METRICS_MODEL_LOADING ? "loading" : "cold";
}

//  Name of an outcome.
static const char *
s_outcome_name (int outcome)
{
    return outcome == WP_METRICS_OUTCOME_WARM ? "warm"
         : outcome == WP_METRICS_OUTCOME_DELAYED ? "delayed"
         : outcome == WP_METRICS_OUTCOME_COLD ? "cold" : "unknown";
}

//  A sample value in the exposition format.
static void
s_prom_value (s_buffer_t *b, double value)
{
    if (isnan (value))
        APPEND (b, "NaN");
    else
    if (isinf (value))
        APPEND (b, value > 0 ? "+Inf" : "-Inf");
    else
        APPEND (b, "%.17g", value);
}

//  HELP and TYPE lines of a family.
static void
s_family (s_buffer_t *b, const char *name, const char *type, const char *help)
{
    APPEND (b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  One sample with an optional label (label NULL = none).
static void
s_sample (s_buffer_t *b, const char *name, const char *label, const char *value_of_label,
          double value)
{
    if (label)
        APPEND (b, "%s{%s=\"%s\"} ", name, label, value_of_label);
    else
        APPEND (b, "%s ", name);
    s_prom_value (b, value);
    APPEND (b, "\n");
}

//  A per-model family from one field.
typedef double (s_model_field_fn) (wp_metrics_t *metrics, const wp_metrics_model_t *m);

static void
s_model_family (s_buffer_t *b, wp_metrics_t *metrics, const wp_metrics_model_t **models,
                size_t n, const char *name, const char *type, const char *help,
                s_model_field_fn *field)
{
    s_family (b, name, type, help);
    for (size_t i = 0; i < n; i++)
        s_sample (b, name, "model", models [i]->name, field (metrics, models [i]));
}

static double s_requests (wp_metrics_t *x, const wp_metrics_model_t *m) { return (double) m->requests; }
static double s_warm (wp_metrics_t *x, const wp_metrics_model_t *m) { return (double) m->warm; }
static double s_delayed (wp_metrics_t *x, const wp_metrics_model_t *m) { return (double) m->delayed; }
static double s_colds (wp_metrics_t *x, const wp_metrics_model_t *m) { return (double) m->cold_starts; }
static double s_wait_s (wp_metrics_t *x, const wp_metrics_model_t *m) { return (double) m->wait_ms / 1000.0; }
static double s_prewarms (wp_metrics_t *x, const wp_metrics_model_t *m) { return (double) m->prewarms; }
static double s_useful (wp_metrics_t *x, const wp_metrics_model_t *m) { return (double) m->useful_prewarms; }
static double s_hits (wp_metrics_t *x, const wp_metrics_model_t *m) { return (double) m->prewarm_hits; }
static double s_bytes (wp_metrics_t *x, const wp_metrics_model_t *m)
{
    return m->resident ? (double) m->memory_mb * 1048576.0 : 0;
}
static double s_byte_seconds (wp_metrics_t *x, const wp_metrics_model_t *m)
{
    //  MiB x ms -> bytes x s
    return (double) wp_metrics_model_resident_mb_ms (x, m) * 1048576.0 / 1000.0;
}

//  a / b, or when_zero if b is 0.
static double
s_ratio (double a, double b, double when_zero)
{
    return b > 0 ? a / b : when_zero;
}

//  Fill the seed's summary.
void
wp_metrics_export_summary (wp_metrics_t *metrics, wp_metrics_summary_t *summary)
{
    assert (metrics && summary);
    wp_metrics_snapshot_t snap;
    wp_metrics_snapshot (metrics, &snap);
    wp_metrics_model_t totals;
    wp_metrics_totals (metrics, &totals);
    summary->total_predictions = snap.predictions;
    summary->accuracy = wp_metrics_quality (wp_metrics_horizon (metrics, -1)).accuracy;
    summary->avg_prediction_latency_ms = snap.latency_samples
        ? (double) wp_metrics_latency_sum_us (metrics) / (double) snap.latency_samples / 1000.0
        : NAN;
    summary->resource_efficiency = s_ratio ((double) totals.useful_prewarms,
                                            (double) totals.prewarms, 1.0);
}

//  One topic's count (wp_metrics_topics callback). Topic names are
//  printable ASCII without spaces; quotes and backslashes are escaped.
static int
s_prom_topic (const char *topic, uint64_t count, void *arg)
{
    s_buffer_t *b = (s_buffer_t *) arg;
    APPEND (b, "warmup_events_total{topic=\"");
    for (const char *p = topic; *p; p++)
        APPEND (b, (*p == '"' || *p == '\\') ? "\\%c" : "%c", *p);
    APPEND (b, "\"} %" PRIu64 "\n", count);
    return 0;
}

//  What the sections of an export read: the core, the request, and what
//  is computed once for them (the snapshot, the totals, the models and
//  the components sorted by name).
typedef struct {
    s_buffer_t *b;                  //  the text made
    wp_metrics_t *metrics;
    const wp_metrics_export_info_t *info;
    wp_metrics_snapshot_t snap;
    wp_metrics_model_t totals;
    const wp_metrics_model_t *models [WP_METRICS_MAX_MODELS + 1];
    size_t n_models;
    s_component_t components [WP_METRICS_MAX_SOURCES];
    size_t n_components;
} s_export_t;

//  One section of an export.
typedef void (s_section_fn) (s_export_t *x);

//  Make an export: its sections in order. Returns the text (the caller's).
static char *
s_export (wp_metrics_t *metrics, const wp_metrics_export_info_t *info,
          s_section_fn *const *sections, size_t n_sections)
{
    s_buffer_t buffer = { NULL, 0, 0 };
    s_export_t *x = (s_export_t *) zmalloc (sizeof (s_export_t));
    assert (x);
    x->b = &buffer;
    x->metrics = metrics;
    x->info = info;
    wp_metrics_snapshot (metrics, &x->snap);
    wp_metrics_totals (metrics, &x->totals);
    x->n_models = s_models (metrics, x->models);
    x->n_components = s_components (metrics, info->now_ms, x->components);
    for (size_t i = 0; i < n_sections; i++)
        sections [i] (x);
    free (x);
    return buffer.text;
}

//  EVAL.md section 3, per model.
static void
s_prom_models (s_export_t *x)
{
    s_buffer_t *b = x->b;
    wp_metrics_t *metrics = x->metrics;
    const wp_metrics_model_t **models = x->models;
    size_t n = x->n_models;
    s_model_family (b, metrics, models, n, "warmup_requests_total", "counter",
                    "Requests seen in usage.observed (EVAL.md requests).", s_requests);
    s_model_family (b, metrics, models, n, "warmup_warm_requests_total", "counter",
                    "Requests served warm.", s_warm);
    s_model_family (b, metrics, models, n, "warmup_delayed_total", "counter",
                    "Requests that waited for a load in progress (EVAL.md delayed).",
                    s_delayed);
    s_model_family (b, metrics, models, n, "warmup_cold_starts_total", "counter",
                    "Requests that started an on-demand load (EVAL.md cold_starts).",
                    s_colds);
    s_model_family (b, metrics, models, n, "warmup_cold_wait_seconds_total", "counter",
                    "Seconds delayed and cold requests waited (EVAL.md cold_wait_s).",
                    s_wait_s);
    s_model_family (b, metrics, models, n, "warmup_prewarms_total", "counter",
                    "Pre-warms done: warm ok, reason not manual (EVAL.md prewarms).",
                    s_prewarms);
    s_model_family (b, metrics, models, n, "warmup_useful_prewarms_total", "counter",
                    "Pre-warms whose model got a request before the cool "
                    "(EVAL.md useful_prewarms).", s_useful);
    s_model_family (b, metrics, models, n, "warmup_prewarm_hits_total", "counter",
                    "Requests served warm by a pre-warm: cold starts avoided.", s_hits);
    s_model_family (b, metrics, models, n, "warmup_resident_bytes", "gauge",
                    "Memory of the model while this service holds it loaded.", s_bytes);
    s_model_family (b, metrics, models, n, "warmup_resident_byte_seconds_total", "counter",
                    "Memory-time of the model, loading included (EVAL.md resident_gb_s "
                    "x 2^30).", s_byte_seconds);
}

//  Each model's state, and its warmups by action and result.
static void
s_prom_model_states (s_export_t *x)
{
    s_buffer_t *b = x->b;
    const wp_metrics_model_t **models = x->models;
    size_t n = x->n_models;
    s_family (b, "warmup_model_state", "gauge",
              "1 for the model's state as this service knows it: warm, loading or cold.");
    for (size_t i = 0; i < n; i++)
        for (int state = WP_METRICS_MODEL_COLD; state <= WP_METRICS_MODEL_WARM; state++) {
            APPEND (b, "warmup_model_state{model=\"%s\",state=\"%s\"} %d\n",
                    models [i]->name, s_state_name (state), models [i]->state == state);
        }
    s_family (b, "warmup_warmups_total", "counter",
              "Warmup tasks finished, by action and result.");
    for (size_t i = 0; i < n; i++) {
        const wp_metrics_model_t *m = models [i];
        APPEND (b, "warmup_warmups_total{model=\"%s\",action=\"warm\",result=\"ok\"} %" PRIu64 "\n"
                "warmup_warmups_total{model=\"%s\",action=\"warm\",result=\"failed\"} %" PRIu64 "\n"
                "warmup_warmups_total{model=\"%s\",action=\"cool\",result=\"ok\"} %" PRIu64 "\n"
                "warmup_warmups_total{model=\"%s\",action=\"cool\",result=\"failed\"} %" PRIu64 "\n",
                m->name, m->warmups_ok, m->name, m->warmups_failed, m->name, m->cools,
                m->name, m->cools_failed);
    }
}

//  EVAL.md section 3, ratios.
static void
s_prom_ratios (s_export_t *x)
{
    s_buffer_t *b = x->b;
    const wp_metrics_model_t totals = x->totals;
    s_family (b, "warmup_cold_rate", "gauge",
              "(cold_starts + delayed) / requests (EVAL.md cold_rate; NaN without requests).");
    s_sample (b, "warmup_cold_rate", NULL, NULL,
              s_ratio ((double) (totals.cold_starts + totals.delayed),
                       (double) totals.requests, NAN));
    s_family (b, "warmup_p75_model_cold_rate", "gauge",
              "75th percentile over models of their cold rate (EVAL.md p75_model_cold_rate).");
    s_sample (b, "warmup_p75_model_cold_rate", NULL, NULL,
              wp_metrics_p75_model_cold_rate (x->metrics));
    s_family (b, "warmup_fp_rate", "gauge",
              "1 - useful_prewarms / prewarms (EVAL.md fp_rate; 0 without pre-warms).");
    s_sample (b, "warmup_fp_rate", NULL, NULL,
              totals.prewarms ? 1.0 - (double) totals.useful_prewarms / (double) totals.prewarms
                              : 0.0);
    s_family (b, "warmup_recall", "gauge",
              "prewarm_hits / (prewarm_hits + cold_starts + delayed) (EVAL.md recall).");
    s_sample (b, "warmup_recall", NULL, NULL,
              s_ratio ((double) totals.prewarm_hits,
                       (double) (totals.prewarm_hits + totals.cold_starts + totals.delayed),
                       0.0));
}

//  Prediction quality by horizon range: the confusion and its figures.
static void
s_prom_quality (s_export_t *x)
{
    s_buffer_t *b = x->b;
    wp_metrics_t *metrics = x->metrics;
    s_family (b, "warmup_predictions_total", "counter", "prediction.made events seen.");
    s_sample (b, "warmup_predictions_total", NULL, NULL, (double) x->snap.predictions);
    s_family (b, "warmup_prediction_guesses_total", "counter",
              "Scored (user, model) predictions by range of expected time and result.");
    static const char *results [4] = { "true_positive", "false_positive",
                                       "false_negative", "true_negative" };
    for (int h = 0; h < WP_METRICS_HORIZONS; h++) {
        wp_metrics_confusion_t c = wp_metrics_horizon (metrics, h);
        uint64_t values [4] = { c.tp, c.fp, c.fn, c.tn };
        for (int r = 0; r < 4; r++)
            APPEND (b, "warmup_prediction_guesses_total{horizon=\"%s\",result=\"%s\"} %"
                    PRIu64 "\n", wp_metrics_horizon_name (h), results [r], values [r]);
    }
    static const char *figures [4] = { "accuracy", "precision", "recall", "f1" };
    static const char *figure_help [4] = {
        "(tp + tn) / scored predictions, by range of expected time (all = every range).",
        "tp / (tp + fp), by range of expected time.",
        "tp / (tp + fn), by range of expected time.",
        "2 tp / (2 tp + fp + fn), by range of expected time."
    };
    for (int f = 0; f < 4; f++) {
        char name [64];
        snprintf (name, sizeof name, "warmup_prediction_%s", figures [f]);
        s_family (b, name, "gauge", figure_help [f]);
        for (int h = -1; h < WP_METRICS_HORIZONS; h++) {
            wp_metrics_quality_t q = wp_metrics_quality (wp_metrics_horizon (metrics, h));
            double values [4] = { q.accuracy, q.precision, q.recall, q.f1 };
            s_sample (b, name, "horizon", h < 0 ? "all" : wp_metrics_horizon_name (h),
                      values [f]);
        }
    }
}

//  Predictions scored as probabilities: Brier score, log loss, calibration.
static void
s_prom_calibration (s_export_t *x)
{
    s_buffer_t *b = x->b;
    const wp_calib_t *calib = wp_metrics_calib (x->metrics);
    s_family (b, "warmup_prediction_brier", "gauge",
              "Mean squared error of the predicted probabilities, by range of expected time.");
    for (int h = 0; h < WP_METRICS_HORIZONS; h++)
        s_sample (b, "warmup_prediction_brier", "horizon", wp_metrics_horizon_name (h),
                  wp_calib_brier (calib, h));
    s_family (b, "warmup_prediction_log_loss", "gauge",
              "Mean log loss of the predicted probabilities, by range of expected time.");
    for (int h = 0; h < WP_METRICS_HORIZONS; h++)
        s_sample (b, "warmup_prediction_log_loss", "horizon", wp_metrics_horizon_name (h),
                  wp_calib_log_loss (calib, h));
    s_family (b, "warmup_prediction_calibration_total", "counter",
              "Scored predictions by range of expected time and bin of probability "
              "(bin: its edges), and how many of them were asked.");
    for (int h = 0; h < WP_METRICS_HORIZONS; h++)
        for (int k = 0; k < WP_CALIB_BINS; k++) {
            const wp_calib_band_t *band = &calib->bands [h];
            APPEND (b, "warmup_prediction_calibration_total{horizon=\"%s\","
                    "bin=\"%.1f-%.1f\",result=\"scored\"} %" PRIu64 "\n",
                    wp_metrics_horizon_name (h), (double) k / WP_CALIB_BINS,
                    (double) (k + 1) / WP_CALIB_BINS, band->bin_n [k]);
            APPEND (b, "warmup_prediction_calibration_total{horizon=\"%s\","
                    "bin=\"%.1f-%.1f\",result=\"asked\"} %" PRIu64 "\n",
                    wp_metrics_horizon_name (h), (double) k / WP_CALIB_BINS,
                    (double) (k + 1) / WP_CALIB_BINS, band->bin_asked [k]);
        }
}

//  The predictions not scored, and the requests none predicted.
static void
s_prom_unscored (s_export_t *x)
{
    s_buffer_t *b = x->b;
    wp_metrics_t *metrics = x->metrics;
    s_family (b, "warmup_prediction_guesses_open", "gauge",
              "Predictions waiting for a request or the end of their horizon.");
    s_sample (b, "warmup_prediction_guesses_open", NULL, NULL,
              (double) wp_metrics_guesses_open (metrics));
    s_family (b, "warmup_prediction_guesses_superseded_total", "counter",
              "Open predictions replaced by a newer one for the same pair (not scored).");
    s_sample (b, "warmup_prediction_guesses_superseded_total", NULL, NULL,
              (double) wp_metrics_guesses_superseded (metrics));
    s_family (b, "warmup_prediction_guesses_evicted_total", "counter",
              "Open predictions dropped for room (not scored).");
    s_sample (b, "warmup_prediction_guesses_evicted_total", NULL, NULL,
              (double) wp_metrics_guesses_evicted (metrics));
    s_family (b, "warmup_unpredicted_requests_total", "counter",
              "Requests with no open prediction for their user and model.");
    s_sample (b, "warmup_unpredicted_requests_total", NULL, NULL,
              (double) wp_metrics_unpredicted (metrics));
}

//  Usage -> prediction latency.
static void
s_prom_latency (s_export_t *x)
{
    s_buffer_t *b = x->b;
    wp_metrics_t *metrics = x->metrics;
    s_family (b, "warmup_prediction_latency_seconds", "histogram",
              "Time from a usage event to the prediction it caused, as metrics sees them.");
    for (size_t i = 0; i <= WP_METRICS_LATENCY_BUCKETS; i++) {
        if (i < WP_METRICS_LATENCY_BUCKETS)
            APPEND (b, "warmup_prediction_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                    (double) wp_metrics_latency_bound_us (i) / 1e6,
                    wp_metrics_latency_le (metrics, i));
        else
            APPEND (b, "warmup_prediction_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
                    wp_metrics_latency_le (metrics, i));
    }
    APPEND (b, "warmup_prediction_latency_seconds_sum ");
    s_prom_value (b, (double) wp_metrics_latency_sum_us (metrics) / 1e6);
    APPEND (b, "\nwarmup_prediction_latency_seconds_count %" PRIu64 "\n",
            x->snap.latency_samples);
}

//  The bus, and the metrics component itself.
static void
s_prom_bus (s_export_t *x)
{
    s_buffer_t *b = x->b;
    s_family (b, "warmup_events_total", "counter", "Bus events seen by the metrics component, by topic.");
    wp_metrics_topics (x->metrics, s_prom_topic, b);
    s_family (b, "warmup_metrics_dropped_total", "counter",
              "Events the metrics component lost (sequence gaps and bad frames).");
    s_sample (b, "warmup_metrics_dropped_total", NULL, NULL, (double) x->snap.dropped);
}

//  Components, from their heartbeats: processes, memory, uptime.
static void
s_prom_components (s_export_t *x)
{
    s_buffer_t *b = x->b;
    const s_component_t *components = x->components;
    size_t n_components = x->n_components;
    s_family (b, "warmup_component_instances", "gauge",
              "Processes of the component heard from in the last three heartbeat intervals.");
    for (size_t i = 0; i < n_components; i++)
        s_sample (b, "warmup_component_instances", "component", components [i].name,
                  (double) components [i].instances);
    s_family (b, "warmup_component_rss_bytes", "gauge",
              "Resident set size of the component's live processes.");
    for (size_t i = 0; i < n_components; i++)
        s_sample (b, "warmup_component_rss_bytes", "component", components [i].name,
                  (double) components [i].rss_kb * 1024.0);
    s_family (b, "warmup_component_uptime_seconds", "gauge",
              "Longest uptime among the component's live processes.");
    for (size_t i = 0; i < n_components; i++)
        s_sample (b, "warmup_component_uptime_seconds", "component", components [i].name,
                  (double) components [i].uptime_ms / 1000.0);
}

//  Components' counters, from their heartbeats.
static void
s_prom_component_counters (s_export_t *x)
{
    s_buffer_t *b = x->b;
    const s_component_t *components = x->components;
    size_t n_components = x->n_components;
    struct { const char *name; const char *help; size_t offset; } counters [] = {
        { "warmup_component_events_in_total", "Bus events the component received.",
          offsetof (s_component_t, events_in) },
        { "warmup_component_events_out_total", "Bus events the component published.",
          offsetof (s_component_t, events_out) },
        { "warmup_component_dropped_total",
          "Events the component lost: sequence gaps, bad frames, refused events.",
          offsetof (s_component_t, dropped) },
        { "warmup_component_bad_frames_total", "Frames the component rejected as malformed.",
          offsetof (s_component_t, bad_frames) },
        { "warmup_component_persisted_total", "State records the component made durable (LMDB, the analyzer's journal).",
          offsetof (s_component_t, persisted) },
        { "warmup_component_refused_total",
          "Events the bus refused because the sender's key may not send them.",
          offsetof (s_component_t, refused) },
        { "warmup_component_rate_limited_total",
          "Usage events the bus dropped over bus/max_events_per_s_per_source.",
          offsetof (s_component_t, rate_limited) },
        { "warmup_component_auth_failures_total",
          "Connections the bus refused at the CURVE handshake.",
          offsetof (s_component_t, auth_failures) },
    };
    for (size_t c = 0; c < sizeof counters / sizeof counters [0]; c++) {
        s_family (b, counters [c].name, "counter", counters [c].help);
        for (size_t i = 0; i < n_components; i++)
            s_sample (b, counters [c].name, "component", components [i].name,
                      (double) *(const uint64_t *) ((const char *) &components [i]
                                                    + counters [c].offset));
    }
}

//  Device memory as measured, by device and kind, and the budgets.
static void
s_prom_memory (s_export_t *x)
{
    s_buffer_t *b = x->b;
    const wp_metrics_memory_t *memory = x->info->memory;
    if (!memory || !memory->known)
        return;
    static const char *kinds [] = { "total", "used", "ours", "others", "reserved",
                                    "capacity" };
    s_family (b, "warmup_device_memory_bytes", "gauge",
              "Device memory as the resource manager measured it, by device (ram, gpuN) "
              "and kind: total, used (by everything), ours (our model servers), others "
              "(processes not ours), reserved (memory_reserve_mb), capacity (total - "
              "reserved - others: what our models may hold).");
    for (size_t i = 0; i < memory->n_devices; i++) {
        const wp_metrics_device_t *d = &memory->devices [i];
        uint64_t values [] = { d->total_mb, d->used_mb, d->ours_mb, d->others_mb,
                               d->reserved_mb, d->capacity_mb };
        for (size_t k = 0; k < sizeof kinds / sizeof kinds [0]; k++)
            APPEND (b, "warmup_device_memory_bytes{device=\"%s\",kind=\"%s\"} %.17g\n",
                    d->device, kinds [k], (double) values [k] * 1048576.0);
    }
    s_family (b, "warmup_memory_budget_bytes", "gauge",
              "The memory budget in force, by axis (ram: max_memory_mb, gpu: "
              "max_vram_mb); 0 = none.");
    s_sample (b, "warmup_memory_budget_bytes", "device", "ram",
              (double) memory->budget_mb * 1048576.0);
    s_sample (b, "warmup_memory_budget_bytes", "device", "gpu",
              (double) memory->vram_budget_mb * 1048576.0);
    s_family (b, "warmup_memory_budget_auto", "gauge",
              "1 when the budget of the axis is measured (auto), 0 when configured.");
    s_sample (b, "warmup_memory_budget_auto", "device", "ram", memory->memory_auto);
    s_sample (b, "warmup_memory_budget_auto", "device", "gpu", memory->vram_auto);
}

//  Where the load is lost: sequence gaps by component and topic.
static void
s_prom_dropped_by_topic (s_export_t *x)
{
    s_buffer_t *b = x->b;
    const s_component_t *components = x->components;
    s_family (b, "warmup_component_dropped_by_topic_total", "counter",
              "Events the component missed (sequence gaps), by topic.");
    for (size_t i = 0; i < x->n_components; i++)
        for (int t = 0; t < WP_TOPIC_COUNT && t < WP_METRICS_TOPICS; t++)
            if (components [i].dropped_topics [t]) {
                APPEND (b, "warmup_component_dropped_by_topic_total{component=\"%s\","
                        "topic=\"%s\"} ", components [i].name, wp_topic_name ((wp_topic_t) t));
                s_prom_value (b, (double) components [i].dropped_topics [t]);
                APPEND (b, "\n");
            }
}

//  The Prometheus exposition's sections, in order.
static s_section_fn *const s_prometheus [] = {
    s_prom_models, s_prom_model_states, s_prom_ratios, s_prom_quality,
    s_prom_calibration, s_prom_unscored, s_prom_latency, s_prom_bus,
    s_prom_components, s_prom_component_counters, s_prom_memory, s_prom_dropped_by_topic
};

//  The Prometheus text exposition.
char *
wp_metrics_export_prometheus (wp_metrics_t *metrics, const wp_metrics_export_info_t *info)
{
    assert (metrics && info);
    return s_export (metrics, info, s_prometheus,
                     sizeof s_prometheus / sizeof s_prometheus [0]);
}

//  A JSON number, null when not finite.
static void
s_json_number (s_buffer_t *b, double value)
{
    if (isfinite (value))
        APPEND (b, "%.10g", value);
    else
        APPEND (b, "null");
}

//  "name":"string"
static void
s_json_string (s_buffer_t *b, const char *name, const char *value)
{
    APPEND (b, "\"%s\":", name);
    wp_json_append_string (&b->text, &b->len, &b->cap, value);
}

//  A confusion matrix and its figures as JSON members (no braces).
static void
s_json_quality (s_buffer_t *b, wp_metrics_confusion_t c)
{
    wp_metrics_quality_t q = wp_metrics_quality (c);
    APPEND (b, "\"tp\":%" PRIu64 ",\"fp\":%" PRIu64 ",\"fn\":%" PRIu64 ",\"tn\":%" PRIu64,
            c.tp, c.fp, c.fn, c.tn);
    APPEND (b, ",\"accuracy\":");
    s_json_number (b, q.accuracy);
    APPEND (b, ",\"precision\":");
    s_json_number (b, q.precision);
    APPEND (b, ",\"recall\":");
    s_json_number (b, q.recall);
    APPEND (b, ",\"f1\":");
    s_json_number (b, q.f1);
}

//  One topic's count as a JSON member (wp_metrics_topics callback).
static int
s_json_topic (const char *topic, uint64_t count, void *arg)
{
    s_buffer_t *b = (s_buffer_t *) arg;
    if (b->text [b->len - 1] != '{')
        APPEND (b, ",");
    wp_json_append_string (&b->text, &b->len, &b->cap, topic);
    APPEND (b, ":%" PRIu64, count);
    return 0;
}

//  Take the devices of a resource.status.
int
wp_metrics_memory_take (wp_metrics_memory_t *memory, const wp_metrics_memory_t *in)
{
    assert (memory && in);
    for (size_t i = 0; i < in->n_devices; i++) {
        const char *id = in->devices [i].device;
        bool ok = streq (id, "ram")
               || (strncmp (id, "gpu", 3) == 0 && id [3] && strlen (id) <= 5
                   && strspn (id + 3, "0123456789") == strlen (id + 3));
        for (const char *c = in->devices [i].name; *c && ok; c++)
            ok = *c >= 0x20 && *c < 0x7F;
        if (!ok)
            return -1;
    }
    if (in->n_devices > WP_METRICS_DEVICES_MAX)
        return -1;
    *memory = *in;
    return 0;
}

//  The time, the endpoint and the threshold.
static void
s_json_head (s_export_t *x)
{
    s_buffer_t *b = x->b;
    const wp_metrics_export_info_t *info = x->info;
    APPEND (b, "{\"time_ms\":%" PRIu64 ",\"clock_ms\":%" PRIu64 ",\"uptime_s\":",
            info->now_ms, wp_metrics_clock_ms (x->metrics));
    s_json_number (b, info->now_ms > info->started_ms
                      ? (double) (info->now_ms - info->started_ms) / 1000.0 : 0);
    APPEND (b, ",");
    s_json_string (b, "endpoint", info->endpoint ? info->endpoint : "");
    APPEND (b, ",\"threshold\":");
    s_json_number (b, info->threshold);
}

//  The totals, by EVAL.md section 3's names.
static void
s_json_totals (s_export_t *x)
{
    s_buffer_t *b = x->b;
    wp_metrics_t *metrics = x->metrics;
    const wp_metrics_model_t t = x->totals;
    APPEND (b, ",\"totals\":{\"requests\":%" PRIu64 ",\"warm\":%" PRIu64 ",\"delayed\":%"
            PRIu64 ",\"cold_starts\":%" PRIu64 ",\"cold_rate\":",
            t.requests, t.warm, t.delayed, t.cold_starts);
    s_json_number (b, s_ratio ((double) (t.cold_starts + t.delayed), (double) t.requests, NAN));
    APPEND (b, ",\"cold_wait_s\":");
    s_json_number (b, (double) t.wait_ms / 1000.0);
    APPEND (b, ",\"p75_model_cold_rate\":");
    s_json_number (b, wp_metrics_p75_model_cold_rate (metrics));
    APPEND (b, ",\"resident_gb_s\":");
    s_json_number (b, (double) t.resident_mb_ms / (1024.0 * 1000.0));
    APPEND (b, ",\"resident_mb\":%" PRIu64 ",\"prewarms\":%" PRIu64 ",\"useful_prewarms\":%"
            PRIu64 ",\"prewarm_hits\":%" PRIu64 ",\"fp_rate\":",
            wp_metrics_resident_mb (metrics), t.prewarms, t.useful_prewarms, t.prewarm_hits);
    s_json_number (b, t.prewarms ? 1.0 - (double) t.useful_prewarms / (double) t.prewarms : 0);
    APPEND (b, ",\"recall\":");
    s_json_number (b, s_ratio ((double) t.prewarm_hits,
                               (double) (t.prewarm_hits + t.cold_starts + t.delayed), 0));
    APPEND (b, ",\"warmups_ok\":%" PRIu64 ",\"warmups_failed\":%" PRIu64 ",\"cools\":%"
            PRIu64 ",\"cools_failed\":%" PRIu64 ",\"predictions\":%" PRIu64
            ",\"unpredicted\":%" PRIu64 ",\"guesses_open\":%" PRIu64
            ",\"guesses_superseded\":%" PRIu64 ",\"guesses_evicted\":%" PRIu64
            ",\"events\":%" PRIu64 ",\"dropped\":%" PRIu64 "}",
            t.warmups_ok, t.warmups_failed, t.cools, t.cools_failed, x->snap.predictions,
            wp_metrics_unpredicted (metrics), wp_metrics_guesses_open (metrics),
            wp_metrics_guesses_superseded (metrics), wp_metrics_guesses_evicted (metrics),
            x->snap.events, x->snap.dropped);
}

//  The seed's summary calls, and the usage -> prediction latency.
static void
s_json_summary (s_export_t *x)
{
    s_buffer_t *b = x->b;
    wp_metrics_summary_t summary;
    wp_metrics_export_summary (x->metrics, &summary);
    APPEND (b, ",\"summary\":{\"total_predictions\":%" PRIu64 ",\"accuracy\":",
            summary.total_predictions);
    s_json_number (b, summary.accuracy);
    APPEND (b, ",\"avg_prediction_latency_ms\":");
    s_json_number (b, summary.avg_prediction_latency_ms);
    APPEND (b, ",\"resource_efficiency\":");
    s_json_number (b, summary.resource_efficiency);
    APPEND (b, "}");
    const wp_metrics_snapshot_t *snap = &x->snap;
    APPEND (b, ",\"latency\":{\"samples\":%" PRIu64 ",\"p50_us\":%" PRIu64 ",\"p99_us\":%"
            PRIu64 ",\"max_us\":%" PRIu64 ",\"sum_us\":%" PRIu64 "}",
            snap->latency_samples, snap->latency_p50_us, snap->latency_p99_us,
            snap->latency_max_us, wp_metrics_latency_sum_us (x->metrics));
}

//  Prediction quality by horizon range, and the probabilities scored
//  (wp_calib: per range, the targets, Brier, log loss and the calibration
//  table).
static void
s_json_quality_all (s_export_t *x)
{
    s_buffer_t *b = x->b;
    APPEND (b, ",\"horizons\":[");
    for (int h = -1; h < WP_METRICS_HORIZONS; h++) {
        APPEND (b, "%s{", h < 0 ? "" : ",");
        s_json_string (b, "horizon", h < 0 ? "all" : wp_metrics_horizon_name (h));
        APPEND (b, ",");
        s_json_quality (b, wp_metrics_horizon (x->metrics, h));
        APPEND (b, "}");
    }
    APPEND (b, "]");
    APPEND (b, ",\"calibration\":");
    wp_calib_json (wp_metrics_calib (x->metrics), &b->text, &b->len, &b->cap);
}

//  Each model.
static void
s_json_models (s_export_t *x)
{
    s_buffer_t *b = x->b;
    APPEND (b, ",\"models\":[");
    for (size_t i = 0; i < x->n_models; i++) {
        const wp_metrics_model_t *m = x->models [i];
        APPEND (b, "%s{", i ? "," : "");
        s_json_string (b, "model", m->name);
        APPEND (b, ",");
        s_json_string (b, "state", s_state_name (m->state));
        APPEND (b, ",");
        s_json_string (b, "last_outcome", m->requests ? s_outcome_name (m->last_outcome) : "");
        APPEND (b, ",\"last_request_ms\":%" PRIu64 ",\"memory_mb\":%" PRIu32
                ",\"requests\":%" PRIu64 ",\"warm\":%" PRIu64 ",\"delayed\":%" PRIu64
                ",\"cold_starts\":%" PRIu64 ",\"cold_wait_s\":",
                m->last_request_ms, m->resident ? m->memory_mb : 0, m->requests, m->warm,
                m->delayed, m->cold_starts);
        s_json_number (b, (double) m->wait_ms / 1000.0);
        APPEND (b, ",\"prewarms\":%" PRIu64 ",\"useful_prewarms\":%" PRIu64
                ",\"prewarm_hits\":%" PRIu64 ",\"resident_gb_s\":",
                m->prewarms, m->useful_prewarms, m->prewarm_hits);
        s_json_number (b, (double) wp_metrics_model_resident_mb_ms (x->metrics, m)
                          / (1024.0 * 1000.0));
        APPEND (b, "}");
    }
    APPEND (b, "]");
}

//  Each component, from its heartbeats.
static void
s_json_components (s_export_t *x)
{
    s_buffer_t *b = x->b;
    APPEND (b, ",\"components\":[");
    for (size_t i = 0; i < x->n_components; i++) {
        const s_component_t *c = &x->components [i];
        APPEND (b, "%s{", i ? "," : "");
        s_json_string (b, "component", c->name);
        APPEND (b, ",\"instances\":%" PRIu64 ",\"rss_kb\":%" PRIu64 ",\"uptime_s\":",
                c->instances, c->rss_kb);
        s_json_number (b, (double) c->uptime_ms / 1000.0);
        APPEND (b, ",\"events_in\":%" PRIu64 ",\"events_out\":%" PRIu64 ",\"dropped\":%"
                PRIu64 ",\"bad_frames\":%" PRIu64 ",\"persisted\":%" PRIu64
                ",\"refused\":%" PRIu64 ",\"rate_limited\":%" PRIu64
                ",\"auth_failures\":%" PRIu64 ",\"age_ms\":%" PRIu64 "}",
                c->events_in, c->events_out, c->dropped, c->bad_frames, c->persisted,
                c->refused, c->rate_limited, c->auth_failures, c->age_ms);
        //  ..."dropped_topics":{"usage.observed":12}} (the closing brace again)
        b->len--;
        APPEND (b, ",\"dropped_topics\":{");
        const char *comma = "";
        for (int topic = 0; topic < WP_TOPIC_COUNT && topic < WP_METRICS_TOPICS; topic++)
            if (c->dropped_topics [topic]) {
                APPEND (b, "%s\"%s\":%" PRIu64, comma, wp_topic_name ((wp_topic_t) topic),
                        c->dropped_topics [topic]);
                comma = ",";
            }
        APPEND (b, "}}");
    }
    APPEND (b, "]");
}

//  Device memory as measured (null when not measured).
static void
s_json_memory (s_export_t *x)
{
    s_buffer_t *b = x->b;
    const wp_metrics_export_info_t *info = x->info;
    const wp_metrics_memory_t *memory = info->memory;
    if (memory && memory->known) {
        APPEND (b, ",\"memory\":{\"age_ms\":%" PRIu64 ",\"budget_mb\":%" PRIu64
                ",\"memory_auto\":%s,\"vram_budget_mb\":%" PRIu64 ",\"vram_auto\":%s"
                ",\"warm_memory_mb\":%" PRIu64 ",\"devices\":[",
                info->now_ms > memory->seen_ms ? info->now_ms - memory->seen_ms : 0,
                memory->budget_mb, memory->memory_auto ? "true" : "false",
                memory->vram_budget_mb, memory->vram_auto ? "true" : "false",
                memory->warm_memory_mb);
        for (size_t i = 0; i < memory->n_devices; i++) {
            const wp_metrics_device_t *d = &memory->devices [i];
            APPEND (b, "%s{", i ? "," : "");
            s_json_string (b, "device", d->device);
            APPEND (b, ",");
            s_json_string (b, "name", d->name);
            APPEND (b, ",\"total_mb\":%" PRIu64 ",\"used_mb\":%" PRIu64 ",\"ours_mb\":%"
                    PRIu64 ",\"others_mb\":%" PRIu64 ",\"reserved_mb\":%" PRIu64
                    ",\"capacity_mb\":%" PRIu64 ",\"managed\":%s,",
                    d->total_mb, d->used_mb, d->ours_mb, d->others_mb, d->reserved_mb,
                    d->capacity_mb, d->managed ? "true" : "false");
            s_json_string (b, "ours_from", d->ours_by_processes ? "processes" : "models");
            APPEND (b, "}");
        }
        APPEND (b, "]}");
    }
    else
        APPEND (b, ",\"memory\":null");
}

//  The latest decisions, newest first.
static void
s_json_decisions (s_export_t *x)
{
    s_buffer_t *b = x->b;
    APPEND (b, ",\"decisions\":[");
    for (size_t i = 0; i < wp_metrics_decisions (x->metrics); i++) {
        const wp_metrics_decision_t *d = wp_metrics_decision (x->metrics, i);
        APPEND (b, "%s{\"time_ms\":%" PRIu64 ",", i ? "," : "", d->time_ms);
        s_json_string (b, "kind", d->done ? "done" : "requested");
        APPEND (b, ",");
        s_json_string (b, "action", d->action == WP_METRICS_ACTION_COOL ? "cool" : "warm");
        APPEND (b, ",");
        s_json_string (b, "model", d->model);
        APPEND (b, ",");
        s_json_string (b, "reason", d->reason);
        APPEND (b, ",");
        s_json_string (b, "component", d->component);
        if (d->done) {
            APPEND (b, ",\"ok\":%s,\"duration_ms\":%" PRIu32 ",", d->ok ? "true" : "false",
                    d->duration_ms);
            s_json_string (b, "error", d->error);
        }
        APPEND (b, "}");
    }
    APPEND (b, "]");
}

//  The history's columns, in order (s_json_point writes column c).
static const char *s_columns [] = {
    "time_ms", "requests", "cold_starts", "delayed", "prewarm_hits", "prewarms",
    "useful_prewarms", "cold_wait_s", "resident_gb_s", "resident_mb", "accuracy",
    "accuracy_under_5m", "accuracy_5m_to_1h", "accuracy_over_1h", NULL
};

//  Column c of a history point.
static void
s_json_point (s_buffer_t *b, const wp_metrics_point_t *p, int c)
{
    wp_metrics_confusion_t all = { 0 };
    for (int h = 0; h < WP_METRICS_HORIZONS; h++) {
        all.tp += p->horizons [h].tp;
        all.fp += p->horizons [h].fp;
        all.fn += p->horizons [h].fn;
        all.tn += p->horizons [h].tn;
    }
    switch (c) {
        case 0: APPEND (b, "%" PRIu64, p->time_ms); break;
        case 1: APPEND (b, "%" PRIu64, p->requests); break;
        case 2: APPEND (b, "%" PRIu64, p->cold_starts); break;
        case 3: APPEND (b, "%" PRIu64, p->delayed); break;
        case 4: APPEND (b, "%" PRIu64, p->prewarm_hits); break;
        case 5: APPEND (b, "%" PRIu64, p->prewarms); break;
        case 6: APPEND (b, "%" PRIu64, p->useful_prewarms); break;
        case 7: s_json_number (b, (double) p->wait_ms / 1000.0); break;
        case 8: s_json_number (b, (double) p->resident_mb_ms / (1024.0 * 1000.0)); break;
        case 9: APPEND (b, "%" PRIu64, p->resident_mb); break;
        case 10: s_json_number (b, wp_metrics_quality (all).accuracy); break;
        default:
            s_json_number (b, wp_metrics_quality (p->horizons [c - 11]).accuracy);
            break;
    }
}

//  History as columns: compact, and what a chart wants.
static void
s_json_history (s_export_t *x)
{
    s_buffer_t *b = x->b;
    size_t kept = wp_metrics_history (x->metrics);
    size_t max = x->info->history_max;
    size_t first = max && kept > max ? kept - max : 0;
    APPEND (b, ",\"history\":{");
    for (int c = 0; s_columns [c]; c++) {
        APPEND (b, "%s\"%s\":[", c ? "," : "", s_columns [c]);
        for (size_t i = first; i < kept; i++) {
            if (i > first)
                APPEND (b, ",");
            s_json_point (b, wp_metrics_history_point (x->metrics, i), c);
        }
        APPEND (b, "]");
    }
    APPEND (b, "}");
}

//  Events seen by topic, and the end.
static void
s_json_topics (s_export_t *x)
{
    s_buffer_t *b = x->b;
    APPEND (b, ",\"topics\":{");
    wp_metrics_topics (x->metrics, s_json_topic, b);
    APPEND (b, "}}");
}

//  The JSON snapshot's sections, in order.
static s_section_fn *const s_json [] = {
    s_json_head, s_json_totals, s_json_summary, s_json_quality_all, s_json_models,
    s_json_components, s_json_memory, s_json_decisions, s_json_history, s_json_topics
};

//  The JSON snapshot.
char *
wp_metrics_export_json (wp_metrics_t *metrics, const wp_metrics_export_info_t *info)
{
    assert (metrics && info);
    return s_export (metrics, info, s_json, sizeof s_json / sizeof s_json [0]);
}
