/*  =========================================================================
    wp_policy_hybrid - hybrid-histogram: the hybrid histogram policy

    Source: Shahrad et al., "Serverless in the Wild: Characterizing and
    Optimizing the Serverless Workload at a Large Cloud Provider", USENIX
    ATC'20, section 4.2. Per model, a histogram of idle times (the gap
    between two consecutive requests; requests take no time here) in
    1-minute bins over 4 h (240 bins), plus a count of idle times out of
    range. After each request, the policy chooses:
    - fewer than 10 idle times seen: keep alive 4 h (the standard
      keep-alive, same boundary as keepalive:K);
    - more than half of them out of range: forecast the next idle time F
      and use the window [0.85 F, 1.15 F] (15 % margins);
    - coefficient of variation of the 240 bin counts < 2 (no clear
      pattern): keep alive 4 h;
    - else head = start of the 5th-percentile bin, tail = end of the
      99th-percentile bin: unload after use, pre-warm at 0.9 x head minus
      load_ms (so the load completes in time), keep until 1.1 x tail, both
      after the request. When the pre-warm time is not in the future the
      model simply stays until 1.1 x tail.
    Deviation (documented substitute for ARIMA): the forecast of the next
    idle time is an exponentially weighted moving average (alpha = 0.5) of
    the model's idle times, which like the paper's ARIMA(p,d,q) fit is a
    one-step forecast of the idle-time series, without the model search.
    A pre-warm that does not fit unloads least-recently-used idle models,
    like an on-demand load; when the budget is short: least recently used.
    =========================================================================
*/
#include "wp_eval_ttl.h"

#include <math.h>
#include <stdlib.h>

#define BINS 240                        //  1-minute bins over 4 h
#define BIN_MS 60000                    //  bin width
#define MIN_SAMPLES 10                  //  below: standard keep-alive
#define KEEP_MS (4LL * 3600 * 1000)     //  standard keep-alive, the range
#define CV_MIN 2.0                      //  below: no pattern
#define OWN_PREWARM WP_EVAL_TTL_OWN     //  token bit of pre-warm timers

//  Per-model idle-time statistics.
typedef struct {
    uint32_t *bins;             //  BINS counts, allocated on first idle time
    uint64_t samples;           //  idle times seen
    uint64_t out_of_range;      //  idle times >= 4 h
    uint64_t sum_squares;       //  sum over bins of count^2 (for the CV)
    double forecast_ms;         //  moving average of idle times
    int64_t last;               //  last request, -1 if none
    int64_t keep_until;         //  end of the window a pending pre-warm opens
    uint32_t generation;        //  bumps on each request; cancels pre-warms
} s_model_t;

//  State of one hybrid-histogram run.
typedef struct {
    s_model_t *models;          //  models [id]
    size_t nmodels;             //  number of models
    size_t histograms;          //  histograms allocated
    wp_eval_ttl_t *ttl;         //  per-model expiries
} s_self_t;

//  Create the state.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    s_self_t *self = calloc (1, sizeof (s_self_t));
    if (!self)
        return NULL;
    self->nmodels = wp_eval_catalog_size (wp_eval_sim_catalog (sim));
    self->models = calloc (self->nmodels, sizeof (s_model_t));
    self->ttl = wp_eval_ttl_new (self->nmodels);
    if (!self->models || !self->ttl) {
        wp_eval_ttl_destroy (&self->ttl);
        free (self->models);
        free (self);
        return NULL;
    }
    for (size_t i = 0; i < self->nmodels; i++)
        self->models [i].last = -1;
    return self;
}

//  Destroy the state.
static void
s_destroy (void **self_p)
{
    s_self_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nmodels; i++)
        free (self->models [i].bins);
    free (self->models);
    wp_eval_ttl_destroy (&self->ttl);
    free (self);
    *self_p = NULL;
}

//  Add one idle time to the model's statistics; -1 on allocation failure.
static int
s_observe (s_self_t *self, s_model_t *m, int64_t idle_ms)
{
    if (!m->bins) {
        m->bins = calloc (BINS, sizeof (uint32_t));
        if (!m->bins)
            return -1;
        self->histograms++;
    }
    m->forecast_ms = m->samples? 0.5 * m->forecast_ms + 0.5 * (double) idle_ms: (double) idle_ms;
    m->samples++;
    int64_t bin = idle_ms / BIN_MS;
    if (bin >= BINS)
        m->out_of_range++;
    else {
        m->sum_squares += 2 * (uint64_t) m->bins [bin] + 1;
        m->bins [bin]++;
    }
    return 0;
}

//  First bin at which the cumulative count reaches fraction of in_range.
static int
s_percentile_bin (const s_model_t *m, uint64_t in_range, double fraction)
{
    uint64_t target = (uint64_t) ceil (fraction * (double) in_range);
    if (target == 0)
        target = 1;
    uint64_t seen = 0;
    for (int b = 0; b < BINS; b++) {
        seen += m->bins [b];
        if (seen >= target)
            return b;
    }
    return BINS - 1;
}

//  Open a window [prewarm_at, keep_until] after a request at now: unload
//  after use and pre-warm later, or keep throughout.
static int
s_window (s_self_t *self, wp_eval_sim_t *sim, uint32_t model, int64_t now,
          int64_t prewarm_at, int64_t keep_until)
{
    s_model_t *m = &self->models [model];
    if (prewarm_at <= now)
        return wp_eval_ttl_set (self->ttl, sim, model, keep_until);
    m->keep_until = keep_until;
    if (wp_eval_ttl_set (self->ttl, sim, model, now))
        return -1;
    return wp_eval_sim_set_timer (sim, prewarm_at, model, OWN_PREWARM | m->generation);
}

//  Learn the idle time, choose the keep-alive or pre-warm window.
static int
s_on_request (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *request,
              wp_eval_outcome_t outcome)
{
    s_self_t *self = state;
    uint32_t model = request->model;
    s_model_t *m = &self->models [model];
    int64_t now = request->time;
    if (m->last >= 0 && s_observe (self, m, now - m->last))
        return -1;
    m->last = now;
    m->generation++;
    if (outcome == WP_EVAL_UNCACHEABLE)
        return 0;
    int64_t load_ms = wp_eval_catalog_load_ms (wp_eval_sim_catalog (sim), model);
    if (m->samples < MIN_SAMPLES)
        return wp_eval_ttl_set (self->ttl, sim, model, now + KEEP_MS);
    if (2 * m->out_of_range > m->samples) {
        double f = m->forecast_ms;
        return s_window (self, sim, model, now, now + (int64_t) (0.85 * f) - load_ms,
                         now + (int64_t) (1.15 * f));
    }
    uint64_t in_range = m->samples - m->out_of_range;
    double mean = (double) in_range / BINS;
    double variance = (double) m->sum_squares / BINS - mean * mean;
    double cv = mean > 0? sqrt (variance > 0? variance: 0) / mean: 0;
    if (cv < CV_MIN)
        return wp_eval_ttl_set (self->ttl, sim, model, now + KEEP_MS);
    int head = s_percentile_bin (m, in_range, 0.05);
    int tail = s_percentile_bin (m, in_range, 0.99);
    int64_t prewarm_at = now + (int64_t) (0.9 * head * BIN_MS) - load_ms;
    int64_t keep_until = now + (int64_t) (1.1 * (tail + 1) * BIN_MS);
    return s_window (self, sim, model, now, prewarm_at, keep_until);
}

//  An expiry or a pre-warm fell due.
static int
s_on_timer (void *state, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    s_self_t *self = state;
    if (!(token & OWN_PREWARM))
        return wp_eval_ttl_fire (self->ttl, sim, model, token);
    s_model_t *m = &self->models [model];
    if ((uint32_t) token != m->generation)
        return 0;                       //  a request came since
    if (wp_eval_sim_prewarm (sim, model) < 0) {
        int64_t need = wp_eval_catalog_memory_mb (wp_eval_sim_catalog (sim), model);
        if (wp_eval_sim_evict_lru (sim, need) == 0)
            wp_eval_sim_prewarm (sim, model);
    }
    if (!wp_eval_sim_is_resident (sim, model))
        return 0;
    return wp_eval_ttl_set (self->ttl, sim, model, m->keep_until);
}

//  Bytes of state.
static size_t
s_state_bytes (void *state)
{
    s_self_t *self = state;
    return sizeof (*self) + self->nmodels * sizeof (s_model_t)
         + self->histograms * BINS * sizeof (uint32_t) + wp_eval_ttl_bytes (self->ttl);
}

const wp_eval_policy_t wp_policy_hybrid = {
    .family = "hybrid-histogram",
    .summary = "Shahrad et al. ATC'20: idle-time histogram, pre-warm + keep-alive windows",
    .create = s_create,
    .destroy = s_destroy,
    .on_request = s_on_request,
    .on_timer = s_on_timer,
    .make_room = NULL,
    .state_bytes = s_state_bytes,
};
