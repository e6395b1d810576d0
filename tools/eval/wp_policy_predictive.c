/*  =========================================================================
    wp_policy_predictive - predictive: the service's own cores, replayed

    The UsagePatternAnalyzer, PredictionEngine, PerformancePredictor and
    WarmupScheduler cores (components/), driven through the functions
    their actors call, in the order the bus would carry the events:
    - a request: the analyzer observes it (the eval user id is the user
      hash, the model id maps to its catalog name) and gives the pair it
      changed (usage.pattern); the engine predicts from it (probability,
      expected time, confidence, and for the requested model the keep /
      pre-warm / hold plan; for the models its links say follow it, a
      probability and maybe a window); the scheduler records the predictions and decides; its WARM
      decisions become pre-warms, its COOLs unloads (warmup.requested and
      warmup.done);
    - every load (on demand or pre-warm) is a warmup done for the
      performance predictor, whose p90 load time the engine plans with
      (how early a pre-warm starts), as perf.estimate would carry it;
    - the scheduler's next plan boundary is a timer (the actor's tick);
    - a cold start short of memory (make_room) cools the held models of
      lowest value (wait saved per MB, from the scheduler) first.
    - an intent (the trace's kind column): the engine's intent class
      (wp_intent) learns it and prices a window for each model that
      follows it; those go to the scheduler as the engine actor's
      prediction.made would carry them; a request tells the intent class
      which model was asked, and the keep the engine planned after it;
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
    Report (the run's "report" in warmup-eval's JSON): every prediction
    the engine makes is scored when its horizon ends or its model is
    asked, whichever comes first (asked within the horizon or not;
    wp_calib: confusion at the threshold, Brier score, log loss and a
    calibration table per band of how far ahead it looked); a newer
    prediction for the same pair while one is open replaces it unscored
    (counted), as the live metrics do. Per category of what a pair's
    arrivals allow (wp_category_t): pairs, requests, pre-warms and the
    useful ones. And the state per (user, model) pair (each core's, and
    the shared names once). The scoring table is the evaluator's, not the
    policy's: it is not in state_bytes. None of it changes a decision.
    =========================================================================
*/
#include "wp_eval_sim.h"
#include "wp_policy_predictive.h"
#include "wp_analyzer.h"
#include "wp_engine.h"
#include "wp_intent.h"
#include "wp_perf.h"
#include "wp_scheduler.h"
#include "wp_names.h"
#include "wp_calib.h"
#include "wp_util.h"
#include "wp_json.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREDICTIONS_MAX 8               //  predictions per event, as the actor
#define DECISIONS_MAX 64                //  decisions per round, as the actor
#define TOKEN_DECIDE 1                  //  timer: the scheduler's wake-up
#define TOKEN_COOL 2                    //  timer: a cool waiting for its load
#define PREDICTIVE_THRESHOLD 0.7        //  the scheduler's, as the service's default

//  An open prediction of a (user, model) pair, and the pair's category.
typedef struct {
    uint64_t key;               //  user << 32 | model, + 1 (0: empty)
    uint64_t made_ms;           //  when the open prediction was made (0: none)
    float probability;          //  P(request within the horizon)
    uint8_t band;               //  how far ahead it looked (wp_calib_band)
    uint8_t category;           //  the pair's category (wp_category_t)
    uint8_t seen;               //  a prediction for the pair was made
} s_guess_t;

//  Figures of one category.
typedef struct {
    uint64_t pairs, requests, prewarms, useful;
} s_category_t;

//  State of one predictive run.
typedef struct {
    wp_analyzer_t *analyzer;    //  usage patterns
    wp_engine_t *engine;        //  predictions and plans
    wp_intent_t *intent;        //  what intents say (made at the first one:
                                //  a trace without them costs nothing more)
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
    s_guess_t *guesses;         //  open predictions per pair (scoring),
    size_t guesses_mask;        //  open addressing, at most half full
    size_t guesses_used;
    uint64_t superseded;        //  open predictions replaced unscored
    wp_calib_t calib;           //  the scores
    uint8_t *model_category;    //  per model: its latest plan's category
    uint8_t *prewarmed;         //  per model: 1 + category of a pre-warm not
                                //  yet asked for or unloaded (0: none)
    s_category_t categories [WP_CATEGORIES];
    int64_t end_ms;             //  the latest event time seen
} s_self_t;

//  Destroy the state.
static void s_destroy (void **self_p);

//  Model files (wp_policy_predictive.h): what every run's engine starts
//  from (none unless set), and what the latest run's engine had learned
//  when it ended.
static wp_engine_learned_t s_start;
static bool s_start_set, s_start_merge;
static wp_engine_learned_t s_last;
static bool s_last_set;

void
wp_policy_predictive_start_from (const wp_engine_learned_t *learned, bool merge)
{
    s_start_set = learned != NULL;
    if (learned)
        s_start = *learned;
    s_start_merge = merge;
}

bool
wp_policy_predictive_last_learned (wp_engine_learned_t *out)
{
    if (s_last_set)
        *out = s_last;
    return s_last_set;
}

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
    self->model_category = calloc (self->nmodels ? self->nmodels : 1, 1);
    self->prewarmed = calloc (self->nmodels ? self->nmodels : 1, 1);
    self->guesses_mask = 1023;
    self->guesses = calloc (self->guesses_mask + 1, sizeof (s_guess_t));
    wp_calib_init (&self->calib, self->threshold);
    if (!self->analyzer || !self->engine || !self->perf || !self->scheduler
        || !self->perf_told || !self->model_category || !self->prewarmed || !self->guesses) {
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    if (s_start_set)
        wp_engine_learn_from (self->engine, &s_start,
                              s_start_merge ? WP_ENGINE_MERGE : WP_ENGINE_REPLACE);
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

//  Score what is still open at the end: predictions whose horizon ended
//  before the last event were not asked in time.
static void
s_score_rest (s_self_t *self)
{
    for (size_t i = 0; i <= self->guesses_mask; i++) {
        s_guess_t *g = &self->guesses [i];
        if (!g->key)
            continue;
        if (g->made_ms && self->end_ms - (int64_t) g->made_ms > (int64_t) self->horizon_ms)
            wp_calib_add (&self->calib, g->band, g->probability, false);
        g->made_ms = 0;
        self->categories [g->category].pairs++;
    }
}

//  The report: the scores, the categories and the state per pair, as one
//  JSON object into out (size bytes); the length it needed.
static size_t
s_report (void *state, char *out, size_t size)
{
    s_self_t *self = state;
    s_score_rest (self);
    char *text = NULL;
    size_t len = 0, cap = 0;
    size_t pairs = wp_analyzer_pairs (self->analyzer);
    size_t analyzer = wp_analyzer_state_bytes (self->analyzer);
    size_t engine = wp_engine_state_bytes (self->engine);
    size_t scheduler = wp_scheduler_state_bytes (self->scheduler);
    size_t perf = wp_perf_state_bytes (self->perf);
    size_t names_bytes = wp_names_bytes (self->names);
    size_t bytes = analyzer + engine + scheduler + perf + names_bytes;
    uint64_t updates;
    const double *w = wp_engine_weights (self->engine, &updates);
    wp_json_appendf (&text, &len, &cap, "{\"cold_wait_price\":%g,\"threshold\":%g,"
                     "\"horizon_s\":%u,\"prediction\":", self->price, self->threshold,
                     self->horizon_ms / 1000);
    wp_calib_json (&self->calib, &text, &len, &cap);
    wp_json_appendf (&text, &len, &cap, ",\"superseded\":%llu,\"categories\":{",
                     (unsigned long long) self->superseded);
    for (int c = 0; c < WP_CATEGORIES; c++) {
        s_category_t *k = &self->categories [c];
        wp_json_appendf (&text, &len, &cap, "%s\"%s\":{\"pairs\":%llu,\"requests\":%llu,"
                         "\"prewarms\":%llu,\"useful_prewarms\":%llu}", c ? "," : "",
                         wp_category_name (c), (unsigned long long) k->pairs,
                         (unsigned long long) k->requests, (unsigned long long) k->prewarms,
                         (unsigned long long) k->useful);
    }
    wp_json_appendf (&text, &len, &cap, "},\"state\":{\"pairs\":%zu,\"users\":%zu,"
                     "\"models\":%zu,\"bytes\":%zu,\"analyzer_bytes\":%zu,"
                     "\"engine_bytes\":%zu,\"scheduler_bytes\":%zu,\"perf_bytes\":%zu,"
                     "\"names_bytes\":%zu,\"bytes_per_pair\":%.1f},\"ensemble_updates\":%llu,"
                     "\"weights\":[", pairs, wp_analyzer_users (self->analyzer),
                     wp_analyzer_models (self->analyzer), bytes, analyzer, engine, scheduler,
                     perf, names_bytes, pairs ? (double) bytes / (double) pairs : 0.0,
                     (unsigned long long) updates);
    for (int i = 0; i < WP_ENGINE_FEATURES; i++)
        wp_json_appendf (&text, &len, &cap, "%s%.4f", i ? "," : "", w [i]);
    wp_json_appendf (&text, &len, &cap, "]");
    if (self->intent) {
        uint64_t warming = 0;
        uint64_t signals = wp_intent_signals (self->intent, &warming);
        wp_json_appendf (&text, &len, &cap, ",\"intents\":{\"signals\":%llu,\"warming\":%llu,"
                         "\"users\":%zu,\"bytes\":%zu}", (unsigned long long) signals,
                         (unsigned long long) warming, wp_intent_users (self->intent),
                         wp_intent_state_bytes (self->intent));
    }
    wp_json_appendf (&text, &len, &cap, "}");
    if (size)
        snprintf (out, size, "%s", text ? text : "");
    free (text);
    return len;
}

//  Destroy the state.
static void
s_destroy (void **self_p)
{
    s_self_t *self = *self_p;
    if (!self)
        return;
    if (self->engine) {
        wp_engine_learned (self->engine, &s_last);
        s_last_set = true;
    }
    wp_analyzer_destroy (&self->analyzer);
    wp_engine_destroy (&self->engine);
    wp_intent_destroy (&self->intent);
    wp_perf_destroy (&self->perf);
    wp_scheduler_destroy (&self->scheduler);
    wp_names_destroy (&self->names);
    free (self->perf_told);
    free (self->model_category);
    free (self->prewarmed);
    free (self->guesses);
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

//  Unload a model (a pre-warm not asked for by then was not useful).
static int
s_unload (s_self_t *self, uint32_t model)
{
    int rc = wp_eval_sim_unload (self->sim, model);
    if (rc == 0)
        self->prewarmed [model] = 0;
    return rc;
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
        s_unload (self, s_id (self, victim));
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
                if (s_unload (self, id) < 0) {
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
                if (ok) {
                    s_loaded (self, id);
                    uint8_t category = self->model_category [id];
                    self->categories [category].prewarms++;
                    self->prewarmed [id] = (uint8_t) (category + 1);
                }
            }
            wp_scheduler_done (self->scheduler, d->model, WP_ACTION_WARM, ok);
        }
    } while (n == DECISIONS_MAX);
    return s_arm (self);
}

//  The guess slot of a (user, model) pair, created empty if missing.
static s_guess_t *
s_guess (s_self_t *self, uint32_t user, uint32_t model)
{
    if ((self->guesses_used + 1) * 2 > self->guesses_mask + 1) {
        size_t size = (self->guesses_mask + 1) * 2;
        s_guess_t *grown = calloc (size, sizeof (s_guess_t));
        if (!grown)
            return NULL;
        for (size_t i = 0; i <= self->guesses_mask; i++) {
            if (!self->guesses [i].key)
                continue;
            size_t j = wp_mix64 (self->guesses [i].key) & (size - 1);
            while (grown [j].key)
                j = (j + 1) & (size - 1);
            grown [j] = self->guesses [i];
        }
        free (self->guesses);
        self->guesses = grown;
        self->guesses_mask = size - 1;
    }
    uint64_t key = ((uint64_t) user << 32 | model) + 1;
    size_t i = wp_mix64 (key) & self->guesses_mask;
    while (self->guesses [i].key && self->guesses [i].key != key)
        i = (i + 1) & self->guesses_mask;
    if (!self->guesses [i].key) {
        self->guesses [i].key = key;
        self->guesses_used++;
    }
    return &self->guesses [i];
}

//  A request of a pair scores its open prediction: asked within the
//  horizon, or not (its horizon ended first).
static void
s_score_request (s_self_t *self, const wp_eval_request_t *request)
{
    s_guess_t *g = s_guess (self, request->user, request->model);
    if (!g)
        return;
    if (g->made_ms) {
        bool asked = request->time - (int64_t) g->made_ms <= (int64_t) self->horizon_ms;
        wp_calib_add (&self->calib, g->band, g->probability, asked);
        g->made_ms = 0;
    }
    if (g->seen)
        self->categories [g->category].requests++;
}

//  Open a pair's prediction (one still open is scored if its horizon
//  ended, else replaced unscored).
static void
s_guess_open (s_self_t *self, uint32_t user, uint32_t model, const wp_prediction_t *p,
              uint64_t now)
{
    s_guess_t *g = s_guess (self, user, model);
    if (!g)
        return;
    if (g->made_ms) {
        if (now - g->made_ms > self->horizon_ms)
            wp_calib_add (&self->calib, g->band, g->probability, false);
        else
            self->superseded++;
    }
    g->made_ms = now ? now : 1;
    g->probability = (float) p->probability;
    g->band = (uint8_t) wp_calib_band (p->expected_in_ms);
    g->category = p->category < WP_CATEGORIES ? p->category : WP_CATEGORY_NEW;
    g->seen = 1;
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
    s_score_request (self, request);
    if (self->prewarmed [model]) {
        if (outcome == WP_EVAL_WARM || outcome == WP_EVAL_DELAYED)
            self->categories [self->prewarmed [model] - 1].useful++;
        self->prewarmed [model] = 0;
    }
    self->end_ms = request->time;
    uint64_t user = request->user;
    if (wp_analyzer_observe (self->analyzer, user, name, now))
        return -1;
    wp_pattern_t pair;
    if (!wp_analyzer_observed (self->analyzer, now, &pair))
        return -1;
    wp_prediction_t predictions [PREDICTIONS_MAX];
    size_t count = wp_engine_update (self->engine, user, &pair, now, predictions,
                                     PREDICTIONS_MAX);
    wp_scheduler_predictions (self->scheduler, user, predictions, count, now);
    uint64_t keep = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t id = s_id (self, predictions [i].model);
        s_guess_open (self, request->user, id, &predictions [i], now);
        if (id == model) {
            self->model_category [id] = predictions [i].category;
            keep = predictions [i].keep_until_ms;
        }
    }
    //  The intents this request follows, as the engine actor tells them.
    if (self->intent)
        wp_intent_request (self->intent, user, name, now, keep);
    return s_enact (self);
}

//  An intent: learned by the engine's intent class; the models worth
//  warming ahead go to the scheduler with their windows, as the engine
//  actor publishes them. The kind is the trace's kind id as a name.
static int
s_on_intent (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *intent)
{
    s_self_t *self = state;
    self->sim = sim;
    if (!self->intent) {
        wp_intent_opts_t opts = { .horizon_s = self->horizon_ms / 1000 };
        self->intent = wp_intent_new (&opts);
        if (!self->intent)
            return -1;
    }
    uint64_t now = (uint64_t) intent->time;
    self->end_ms = intent->time;
    char kind [16];
    snprintf (kind, sizeof kind, "k%u", intent->kind);
    wp_intent_sign_t sign = {
        .kind = kind,
        .model = intent->model == WP_EVAL_NO_MODEL
               ? NULL : wp_eval_catalog_name (self->catalog, intent->model)
    };
    wp_prediction_t predictions [PREDICTIONS_MAX];
    int n = wp_intent_signal (self->intent, self->engine, intent->user, &sign, now,
                              predictions, PREDICTIONS_MAX);
    if (n <= 0)
        return n < 0 ? -1 : 0;
    wp_scheduler_predictions (self->scheduler, intent->user, predictions, (size_t) n, now);
    for (int i = 0; i < n; i++) {
        uint32_t id = s_id (self, predictions [i].model);
        s_guess_open (self, intent->user, id, &predictions [i], now);
        self->model_category [id] = predictions [i].category;
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
        s_unload (self, model);
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
         + (self->intent ? wp_intent_state_bytes (self->intent) : 0)
         + self->nmodels;
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
    .report = s_report,
    .on_intent = s_on_intent,
};
