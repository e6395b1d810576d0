/*  =========================================================================
    wp_policy_predictive - predictive: the service's own cores, replayed

    The UsagePatternAnalyzer, PredictionEngine, PerformancePredictor and
    WarmupScheduler cores (components/), driven through the functions
    their actors call, in the order the bus would carry the events:
    - a request: the analyzer observes it (the eval user id is the user
      hash, the model id maps to its catalog name) and gives the user's
      pattern; the engine predicts from it (probability, expected time,
      confidence, and for the requested model the keep / pre-warm / hold
      plan); the scheduler records the predictions and decides; its WARM
      decisions become pre-warms, its COOLs unloads (warmup.requested and
      warmup.done);
    - every load (on demand or pre-warm) is a warmup done for the
      performance predictor, whose p90 load time the engine plans with
      (how early a pre-warm starts), as perf.estimate would carry it;
    - the scheduler's next plan boundary is a timer (the actor's tick);
    - a cold start short of memory (make_room) cools the held models of
      lowest value (wait saved per MB, from the scheduler) first.
    - the catalog's pin and priority columns are the models'
      configuration settings: pinned models and models of low or high
      priority go to the scheduler through wp_scheduler_configure, as the
      scheduler actor passes a model section (the others, with the
      defaults, through wp_scheduler_model, as before: same decisions).
      A pinned model is the world's (resident from the start, never
      unloaded, wp_eval_sim.h); the scheduler warms it at its first
      decision, finds it resident, reserves its memory and never cools it.
      A priority weights the model's value (low x 0.5, high x 2), which
      orders what is cooled for room.
    The four cores share one table of model names (wp_names, in catalog
    order: the scheduler is told the catalog first), as cores of one
    process can.
    Knob: cold_wait_price W (GiB*s of residency one second of cold wait
    is worth: the plans minimise wait x W + residency), default
    WP_ENGINE_PRICE_DEFAULT; the scheduler's threshold is the service's
    default, 0.7. The analyzer keeps at most 16 models per user and 1 M
    pairs, as in the service.
    Deviation: none of the world's rules; the cores are the service's.
    Diagnostics: with WP_PREDICTIVE_REPORT=FILE set, the run appends one
    JSON line to FILE at the end: accuracy by horizon (the prediction made
    at each request against the user's next request) and the state per
    (user, model) pair (each core's, and the shared names once). It does
    not change any decision.
    =========================================================================
*/
#include "wp_eval_sim.h"
#include "wp_analyzer.h"
#include "wp_engine.h"
#include "wp_perf.h"
#include "wp_scheduler.h"
#include "wp_names.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATTERN_MAX 16                  //  models per pattern, as the actor
#define PREDICTIONS_MAX 8               //  predictions per event, as the actor
#define DECISIONS_MAX 64                //  decisions per round, as the actor
#define TOKEN_DECIDE 1                  //  timer: the scheduler's wake-up
#define TOKEN_COOL 2                    //  timer: a cool waiting for its load
#define BANDS 3                         //  accuracy bands: <5 min, 5-60 min, >1 h
#define PREDICTIVE_THRESHOLD 0.7        //  the scheduler's, as the service's default

//  The latest prediction for a user's latest model (accuracy report).
typedef struct {
    uint64_t made_ms;           //  when (0: none)
    uint32_t model;             //  which model
    float probability;          //  P(request within the horizon)
    uint32_t expected_s;        //  expected time until it, s
} s_pending_t;

//  Confusion counts of one band.
typedef struct {
    uint64_t tp, fp, fn, tn;
} s_band_t;

//  State of one predictive run.
typedef struct {
    wp_analyzer_t *analyzer;    //  usage patterns
    wp_engine_t *engine;        //  predictions and plans
    wp_perf_t *perf;            //  load times
    wp_scheduler_t *scheduler;  //  warm / cool decisions
    wp_names_t *names;          //  model names, shared by the cores
                                //  (destroyed after them)
    wp_eval_catalog_t *catalog; //  models (borrowed)
    wp_eval_sim_t *sim;         //  the world (borrowed, for callbacks)
    uint8_t *perf_told;         //  per model: its estimate went to the engine
    size_t nmodels;             //  catalog size
    int64_t armed;              //  earliest decide timer pending, -1 none
    double price;               //  the knob: cold_wait_price
    double threshold;           //  the scheduler's threshold
    uint32_t horizon_ms;        //  the engine's horizon
    s_pending_t *pending;       //  per user (accuracy), grown on demand
    size_t npending;            //  users covered
    s_band_t bands [BANDS];     //  accuracy by horizon
    uint64_t max_pairs_seen;    //  peak (user, model) pairs
} s_self_t;

//  Destroy the state.
static void s_destroy (void **self_p);

//  Create the state: the four cores with the service's options, and the
//  catalog described to the scheduler (as the configuration would).
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    s_self_t *self = calloc (1, sizeof (s_self_t));
    if (!self)
        return NULL;
    self->sim = sim;
    self->catalog = wp_eval_sim_catalog (sim);
    self->nmodels = wp_eval_catalog_size (self->catalog);
    self->price = knob;
    self->threshold = PREDICTIVE_THRESHOLD;
    self->armed = -1;
    self->horizon_ms = 300000;
    self->names = wp_names_new ();
    if (!self->names) {
        free (self);
        return NULL;
    }
    wp_analyzer_opts_t analyzer = { .max_pairs = 1000000, .rate_half_life_s = 3600,
                                    .names = self->names };
    wp_engine_opts_t engine = { .horizon_s = self->horizon_ms / 1000,
                                .usage_window_s = 3600,
                                .max_models = PREDICTIONS_MAX,
                                .threshold = self->threshold,
                                .cold_wait_price = knob,
                                .learning_rate = 0.1,
                                .names = self->names };
    int64_t budget = wp_eval_sim_budget_mb (sim);
    //  The same options as the scheduler component in replay mode.
    wp_scheduler_opts_t scheduler;
    wp_scheduler_opts_sim (&scheduler, (uint64_t) budget, self->threshold);
    scheduler.horizon_s = self->horizon_ms / 1000;
    scheduler.names = self->names;
    self->analyzer = wp_analyzer_new (&analyzer);
    self->engine = wp_engine_new (&engine);
    self->perf = wp_perf_new_shared (0, self->names);
    self->scheduler = wp_scheduler_new (&scheduler);
    self->perf_told = calloc (self->nmodels ? self->nmodels : 1, 1);
    if (!self->analyzer || !self->engine || !self->perf || !self->scheduler
        || !self->perf_told) {
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    for (size_t i = 0; i < self->nmodels; i++) {
        const char *name = wp_eval_catalog_name (self->catalog, (uint32_t) i);
        uint32_t load_ms = wp_eval_catalog_load_ms (self->catalog, (uint32_t) i);
        uint32_t memory_mb = wp_eval_catalog_memory_mb (self->catalog, (uint32_t) i);
        bool pin = wp_eval_catalog_pinned (self->catalog, (uint32_t) i);
        int priority = wp_eval_catalog_priority (self->catalog, (uint32_t) i);
        if (pin || priority != 2) {
            //  The model's settings, as the scheduler actor gives them from
            //  its configuration section (wp_scheduler_configure).
            wp_scheduler_settings_t settings = {
                .memory_mb = memory_mb, .load_ms = load_ms,
                .pin = pin, .priority = priority
            };
            wp_scheduler_configure (self->scheduler, name, &settings);
        }
        else
            wp_scheduler_model (self->scheduler, name, memory_mb, load_ms);
        wp_engine_model (self->engine, name, load_ms, memory_mb);
    }
    return self;
}

//  Append the diagnostics line (WP_PREDICTIVE_REPORT).
static void
s_report (s_self_t *self)
{
    const char *path = getenv ("WP_PREDICTIVE_REPORT");
    if (!path || !*path)
        return;
    FILE *file = fopen (path, "a");
    if (!file)
        return;
    static const char *names [BANDS] = { "under_5m", "5m_to_1h", "over_1h" };
    size_t pairs = wp_analyzer_pairs (self->analyzer);
    size_t analyzer = wp_analyzer_state_bytes (self->analyzer);
    size_t engine = wp_engine_state_bytes (self->engine);
    size_t scheduler = wp_scheduler_state_bytes (self->scheduler);
    size_t perf = wp_perf_state_bytes (self->perf);
    size_t names_bytes = wp_names_bytes (self->names);
    size_t bytes = analyzer + engine + scheduler + perf + names_bytes;
    uint64_t updates;
    const double *w = wp_engine_weights (self->engine, &updates);
    fprintf (file, "{\"cold_wait_price\":%g,\"threshold\":%g,\"budget_mb\":%lld,\"pairs\":%zu,\"users\":%zu,"
             "\"models\":%zu,\"state_bytes\":%zu,\"analyzer_bytes\":%zu,\"engine_bytes\":%zu,"
             "\"scheduler_bytes\":%zu,\"perf_bytes\":%zu,\"names_bytes\":%zu,"
             "\"bytes_per_pair\":%.1f,\"ensemble_updates\":%llu,"
             "\"weights\":[", self->price, self->threshold,
             (long long) wp_eval_sim_budget_mb (self->sim), pairs,
             wp_analyzer_users (self->analyzer), wp_analyzer_models (self->analyzer),
             bytes, analyzer, engine, scheduler, perf, names_bytes,
             pairs ? (double) bytes / (double) pairs : 0.0, (unsigned long long) updates);
    for (int i = 0; i < WP_ENGINE_FEATURES; i++)
        fprintf (file, "%s%.4f", i ? "," : "", w [i]);
    fprintf (file, "],\"horizons\":[");
    for (int b = 0; b < BANDS; b++) {
        s_band_t *s = &self->bands [b];
        uint64_t all = s->tp + s->fp + s->fn + s->tn;
        fprintf (file, "%s{\"horizon\":\"%s\",\"tp\":%llu,\"fp\":%llu,\"fn\":%llu,\"tn\":%llu,"
                 "\"accuracy\":%.4f,\"precision\":%.4f,\"recall\":%.4f}", b ? "," : "",
                 names [b], (unsigned long long) s->tp, (unsigned long long) s->fp,
                 (unsigned long long) s->fn, (unsigned long long) s->tn,
                 all ? (double) (s->tp + s->tn) / (double) all : NAN,
                 s->tp + s->fp ? (double) s->tp / (double) (s->tp + s->fp) : NAN,
                 s->tp + s->fn ? (double) s->tp / (double) (s->tp + s->fn) : NAN);
    }
    fprintf (file, "]}\n");
    fclose (file);
}

//  Destroy the state.
static void
s_destroy (void **self_p)
{
    s_self_t *self = *self_p;
    if (!self)
        return;
    if (self->analyzer && self->sim)
        s_report (self);
    wp_analyzer_destroy (&self->analyzer);
    wp_engine_destroy (&self->engine);
    wp_perf_destroy (&self->perf);
    wp_scheduler_destroy (&self->scheduler);
    wp_names_destroy (&self->names);
    free (self->perf_told);
    free (self->pending);
    free (self);
    *self_p = NULL;
}

//  Catalog id of a model name the cores hand back.
static uint32_t
s_id (s_self_t *self, const char *name)
{
    int64_t id = wp_eval_catalog_lookup (self->catalog, name, strlen (name));
    assert (id >= 0);
    return (uint32_t) id;
}

//  A load happened (warmup done): the performance predictor learns it,
//  and its estimate goes to the engine the first time (perf.estimate).
static void
s_loaded (s_self_t *self, uint32_t model)
{
    const char *name = wp_eval_catalog_name (self->catalog, model);
    wp_perf_observe (self->perf, name, true, wp_eval_catalog_load_ms (self->catalog, model),
                     wp_eval_catalog_memory_mb (self->catalog, model));
    if (!self->perf_told [model]) {
        double p90 = wp_perf_expected_load_ms (self->perf, name, 0);
        wp_engine_model (self->engine, name, (uint32_t) ceil (p90), 0);
        self->perf_told [model] = 1;
    }
}

//  May the scheduler's victim be unloaded now (loaded, not loading)?
static bool
s_can_cool (const char *name, void *arg)
{
    s_self_t *self = arg;
    uint32_t id = s_id (self, name);
    return wp_eval_sim_is_resident (self->sim, id) && !wp_eval_sim_is_loading (self->sim, id);
}

//  Unload victims of lower value until need_mb is free. 0 if it is.
static int
s_free (s_self_t *self, uint32_t model, int64_t need_mb)
{
    const char *name = wp_eval_catalog_name (self->catalog, model);
    int64_t now = wp_eval_sim_now (self->sim);
    while (wp_eval_sim_free_mb (self->sim) < need_mb) {
        const char *victim = wp_scheduler_victim (self->scheduler, (uint64_t) now, name,
                                                  s_can_cool, self);
        if (!victim)
            return -1;
        //  Evicted for room: as an operator's cool, its plans are dropped
        //  (warmed again only on predictions after this).
        wp_eval_sim_unload (self->sim, s_id (self, victim));
        wp_scheduler_done (self->scheduler, victim, WP_ACTION_COOL, true);
    }
    return 0;
}

//  Arm a timer for the scheduler's next wake-up.
static int
s_arm (s_self_t *self)
{
    uint64_t next = wp_scheduler_next_ms (self->scheduler);
    if (next == UINT64_MAX)
        return 0;
    int64_t now = wp_eval_sim_now (self->sim);
    int64_t at = (int64_t) next < now ? now : (int64_t) next;
    if (self->armed >= 0 && self->armed <= at)
        return 0;
    self->armed = at;
    return wp_eval_sim_set_timer (self->sim, at, 0, TOKEN_DECIDE);
}

//  Let the scheduler decide and carry its decisions out.
static int
s_enact (s_self_t *self)
{
    wp_eval_sim_t *sim = self->sim;
    int64_t now = wp_eval_sim_now (sim);
    wp_decision_t decisions [DECISIONS_MAX];
    size_t n;
    do {
        n = wp_scheduler_decide (self->scheduler, (uint64_t) now, decisions, DECISIONS_MAX);
        for (size_t i = 0; i < n; i++) {
            wp_decision_t *d = &decisions [i];
            uint32_t id = s_id (self, d->model);
            if (d->action == WP_ACTION_COOL) {
                if (wp_eval_sim_unload (sim, id) < 0) {
                    //  Still loading: the cool completes when the load ends.
                    if (wp_eval_sim_set_timer (sim, wp_eval_sim_load_end (sim, id), id,
                                               TOKEN_COOL))
                        return -1;
                }
                else
                    wp_scheduler_done (self->scheduler, d->model, WP_ACTION_COOL, true);
                continue;
            }
            bool ok = wp_eval_sim_is_resident (sim, id);
            if (!ok) {
                int64_t need = wp_eval_catalog_memory_mb (self->catalog, id);
                if (wp_eval_sim_prewarm (sim, id) < 0 && s_free (self, id, need) == 0)
                    wp_eval_sim_prewarm (sim, id);
                ok = wp_eval_sim_is_resident (sim, id);
                if (ok)
                    s_loaded (self, id);
            }
            wp_scheduler_done (self->scheduler, d->model, WP_ACTION_WARM, ok);
        }
    } while (n == DECISIONS_MAX);
    return s_arm (self);
}

//  Score the user's previous prediction against this request (report).
static void
s_score (s_self_t *self, const wp_eval_request_t *request)
{
    if (request->user >= self->npending) {
        size_t size = self->npending ? self->npending : 1024;
        while (size <= request->user)
            size *= 2;
        s_pending_t *grown = realloc (self->pending, size * sizeof (s_pending_t));
        if (!grown)
            return;
        memset (grown + self->npending, 0, (size - self->npending) * sizeof (s_pending_t));
        self->pending = grown;
        self->npending = size;
    }
    s_pending_t *p = &self->pending [request->user];
    if (!p->made_ms)
        return;
    int64_t since = request->time - (int64_t) p->made_ms;
    bool asked = p->model == request->model && since <= (int64_t) self->horizon_ms;
    if (!asked && p->model != request->model && since <= (int64_t) self->horizon_ms)
        return;                         //  not known yet
    int band = p->expected_s < 300 ? 0 : p->expected_s <= 3600 ? 1 : 2;
    bool positive = p->probability >= self->threshold;
    s_band_t *b = &self->bands [band];
    if (positive && asked)
        b->tp++;
    else
    if (positive)
        b->fp++;
    else
    if (asked)
        b->fn++;
    else
        b->tn++;
    p->made_ms = 0;
}

//  A request: analyzer, engine, scheduler, as on the bus.
static int
s_on_request (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *request,
              wp_eval_outcome_t outcome)
{
    s_self_t *self = state;
    self->sim = sim;
    uint32_t model = request->model;
    const char *name = wp_eval_catalog_name (self->catalog, model);
    uint64_t now = (uint64_t) request->time;
    if (outcome == WP_EVAL_COLD) {
        s_loaded (self, model);
        wp_scheduler_resident (self->scheduler, name, true, now);
    }
    s_score (self, request);
    uint64_t user = request->user;
    if (wp_analyzer_observe (self->analyzer, user, name, now))
        return -1;
    wp_pattern_t pattern [PATTERN_MAX];
    size_t n = wp_analyzer_pattern (self->analyzer, user, now, pattern, PATTERN_MAX);
    wp_prediction_t predictions [PREDICTIONS_MAX];
    size_t count = wp_engine_predict_for (self->engine, user, pattern, n, now, predictions,
                                          PREDICTIONS_MAX);
    wp_scheduler_predictions (self->scheduler, user, predictions, count, now);
    for (size_t i = 0; i < count; i++)
        if (strcmp (predictions [i].model, name) == 0 && request->user < self->npending) {
            s_pending_t *p = &self->pending [request->user];
            p->made_ms = now ? now : 1;
            p->model = model;
            p->probability = (float) predictions [i].probability;
            p->expected_s = (uint32_t) (predictions [i].expected_in_ms / 1000);
        }
    return s_enact (self);
}

//  The scheduler's wake-up.
static int
s_on_timer (void *state, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    s_self_t *self = state;
    self->sim = sim;
    if (token == TOKEN_COOL) {
        const char *name = wp_eval_catalog_name (self->catalog, model);
        if (wp_scheduler_state (self->scheduler, name) != WP_MODEL_COOLING)
            return 0;
        wp_eval_sim_unload (sim, model);
        wp_scheduler_done (self->scheduler, name, WP_ACTION_COOL, true);
    }
    else
    if (self->armed == wp_eval_sim_now (sim))
        self->armed = -1;
    return s_enact (self);
}

//  A cold start short of memory: cool the lowest values first.
static int
s_make_room (void *state, wp_eval_sim_t *sim, uint32_t model, int64_t short_mb)
{
    s_self_t *self = state;
    self->sim = sim;
    if (short_mb <= 0)
        return 0;
    s_free (self, model, wp_eval_catalog_memory_mb (self->catalog, model));
    return 0;
}

//  Bytes of state.
static size_t
s_state_bytes (void *state)
{
    s_self_t *self = state;
    return sizeof (*self) + wp_analyzer_state_bytes (self->analyzer)
         + wp_engine_state_bytes (self->engine) + wp_scheduler_state_bytes (self->scheduler)
         + wp_perf_state_bytes (self->perf) + wp_names_bytes (self->names)
         + self->nmodels + self->npending * sizeof (s_pending_t);
}

static const double s_sweep [] = { 30, 100, 300, 1000, 3000, 10000, 30000 };

const wp_eval_policy_t wp_policy_predictive = {
    .family = "predictive",
    .knob = "cold_wait_price",
    .knob_default = WP_ENGINE_PRICE_DEFAULT,
    .knob_min = 1,
    .knob_max = 1e7,
    .knob_integer = false,
    .sweep = s_sweep,
    .sweep_len = sizeof (s_sweep) / sizeof (s_sweep [0]),
    .summary = "the service's analyzer, engine, perf and scheduler cores (price W 1000)",
    .create = s_create,
    .destroy = s_destroy,
    .on_request = s_on_request,
    .on_timer = s_on_timer,
    .make_room = s_make_room,
    .state_bytes = s_state_bytes,
};
