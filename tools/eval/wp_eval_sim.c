/*  =========================================================================
    wp_eval_sim - the simulated world of EVAL.md section 2, for one policy

    Per model: residency (load start and end), last request, counts. A
    list of resident models (swap-remove, O(1)) for policies to scan. A
    binary heap of timers ordered by (time, order set). Residency is charged
    in exact integer MB x ms when a model leaves (or at the end of the run).
    =========================================================================
*/
#include "wp_eval_sim.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HIST_SUB 8                      //  timing bins per octave
#define HIST_BINS (64 * HIST_SUB)       //  timing histogram size
#define STATE_SAMPLE 4096               //  events between state_bytes samples

//  Per-model state of the world.
typedef struct {
    int64_t load_start;         //  start of the current load, -1 if absent
    int64_t load_end;           //  end of the current load
    int64_t last_request;       //  time of the last request, -1 if none
    int64_t last_touch;         //  last request or pre-warm (for LRU)
    uint64_t requests;          //  requests for the model
    uint64_t colds;             //  its cold starts + delayed
    uint64_t cold_starts;       //  its cold starts
    uint64_t wait_ms;           //  its wait
    uint64_t resident_mb_ms;    //  its charged residency
    uint32_t memory_mb;         //  catalog memory
    uint32_t load_ms;           //  catalog load time
    uint32_t slot;              //  index in the resident list
    bool prewarmed;             //  current residency started by a pre-warm
    bool requested;             //  current residency got a request
    bool pinned;                //  resident all along (catalog pin)
} s_model_t;

//  A timer set by the policy.
typedef struct {
    int64_t time;               //  when it falls due
    uint64_t order;             //  sequence number: ties fire in set order
    uint64_t token;             //  policy's token
    uint32_t model;             //  policy's model
} s_timer_t;

struct _wp_eval_sim_t {
    wp_eval_catalog_t *catalog; //  borrowed catalog
    wp_eval_future_t *future;   //  borrowed future, or NULL
    const wp_eval_policy_t *policy;    //  the policy's callbacks
    void *state;                //  the policy's state
    int64_t budget_mb;          //  0 = unbounded
    int64_t now;                //  current time
    s_model_t *models;          //  models [id]
    size_t nmodels;             //  catalog size
    uint32_t *resident;         //  resident model ids
    size_t nresident;           //  number of resident models
    int64_t resident_mb;        //  memory of resident models (pinned too)
    int64_t pinned_mb;          //  memory of pinned models
    bool started;               //  the first request came (pins placed)
    s_timer_t *timers;          //  timer heap
    size_t ntimers;             //  timers in the heap
    size_t timers_cap;          //  allocated timers
    uint64_t timer_order;       //  next timer sequence number
    bool finished;              //  finish was called
    //  metrics
    uint64_t requests;          //  requests seen
    uint64_t intents;           //  intents seen (not requests)
    uint64_t cold_starts;       //  on-demand loads
    uint64_t delayed;           //  requests that waited for a load in flight
    uint64_t uncacheable;       //  cold starts that could not be kept
    uint64_t prewarms;          //  loads started by the policy
    uint64_t useful_prewarms;   //  pre-warms that got a request
    uint64_t prewarm_hits;      //  requests served warm by a pre-warm
    uint64_t wait_ms;           //  total wait
    uint64_t resident_mb_ms;    //  charged residency
    //  decision cost
    bool timing;                //  measure ns per event
    uint64_t events;            //  policy events
    uint64_t ns_total;          //  ns inside the policy
    uint64_t hist [HIST_BINS];  //  log histogram of ns per event
    uint64_t state_peak;        //  peak state bytes
    char error [WP_EVAL_ERRLEN];   //  reason of a failure
    wp_eval_sim_observer_fn *observer; //  told of loads and unloads (NULL: none)
    void *observer_arg;
};

//  Nanoseconds from a monotonic clock.
static inline uint64_t
s_clock_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

//  Histogram bin of a duration: HIST_SUB bins per power of two.
static inline size_t
s_hist_bin (uint64_t ns)
{
    if (ns < HIST_SUB)
        return (size_t) ns;
    int octave = 63 - __builtin_clzll (ns);                 //  >= 3
    size_t sub = (size_t) (ns >> (octave - 3)) & (HIST_SUB - 1);
    return (size_t) (octave - 2) * HIST_SUB + sub;
}

//  Upper edge (ns) of a histogram bin.
static double
s_hist_upper (size_t bin)
{
    if (bin < HIST_SUB)
        return (double) bin + 1;
    int octave = (int) (bin / HIST_SUB) + 2;
    double sub = (double) (bin % HIST_SUB);
    return ldexp (HIST_SUB + sub + 1, octave - 3);
}

//  Record one policy event's cost.
static inline void
s_account (wp_eval_sim_t *self, uint64_t start)
{
    uint64_t ns = s_clock_ns () - start;
    self->ns_total += ns;
    self->hist [s_hist_bin (ns)]++;
}

//  Sample the policy's state size.
static void
s_sample_state (wp_eval_sim_t *self)
{
    if (self->policy->state_bytes && self->state) {
        uint64_t bytes = self->policy->state_bytes (self->state);
        if (bytes > self->state_peak)
            self->state_peak = bytes;
    }
}

//  Create a world for one policy.
wp_eval_sim_t *
wp_eval_sim_new (wp_eval_catalog_t *catalog, int64_t budget_mb,
                 const wp_eval_policy_t *policy, double knob,
                 wp_eval_future_t *future, bool timing, char *error)
{
    assert (catalog && policy);
    if (budget_mb < 0) {
        snprintf (error, WP_EVAL_ERRLEN, "budget must be >= 0 MB");
        return NULL;
    }
    if (policy->needs_future && !future) {
        snprintf (error, WP_EVAL_ERRLEN, "policy '%s' needs the trace's future", policy->family);
        return NULL;
    }
    wp_eval_sim_t *self = calloc (1, sizeof (wp_eval_sim_t));
    if (!self) {
        snprintf (error, WP_EVAL_ERRLEN, "out of memory");
        return NULL;
    }
    self->catalog = catalog;
    self->future = future;
    self->policy = policy;
    self->budget_mb = budget_mb;
    self->timing = timing;
    self->nmodels = wp_eval_catalog_size (catalog);
    self->models = calloc (self->nmodels? self->nmodels: 1, sizeof (s_model_t));
    self->resident = calloc (self->nmodels? self->nmodels: 1, sizeof (uint32_t));
    self->timers_cap = 64;
    self->timers = malloc (self->timers_cap * sizeof (s_timer_t));
    if (!self->models || !self->resident || !self->timers) {
        snprintf (error, WP_EVAL_ERRLEN, "out of memory");
        wp_eval_sim_destroy (&self);
        return NULL;
    }
    for (size_t i = 0; i < self->nmodels; i++) {
        s_model_t *m = &self->models [i];
        m->load_start = -1;
        m->load_end = -1;
        m->last_request = -1;
        m->last_touch = -1;
        m->memory_mb = wp_eval_catalog_memory_mb (catalog, (uint32_t) i);
        m->load_ms = wp_eval_catalog_load_ms (catalog, (uint32_t) i);
        if (wp_eval_catalog_pinned (catalog, (uint32_t) i)) {
            //  Loaded at the start (set at the first request), outside the
            //  resident list.
            m->pinned = true;
            m->load_start = 0;
            m->load_end = 0;
            self->pinned_mb += m->memory_mb;
            self->resident_mb += m->memory_mb;
        }
    }
    if (budget_mb && self->pinned_mb > budget_mb) {
        snprintf (error, WP_EVAL_ERRLEN, "the pinned models need %lld MB, more than the "
                  "budget of %lld MB", (long long) self->pinned_mb, (long long) budget_mb);
        wp_eval_sim_destroy (&self);
        return NULL;
    }
    self->state = policy->create (self, knob);
    if (!self->state) {
        snprintf (error, WP_EVAL_ERRLEN, "policy '%s' failed to start", policy->family);
        wp_eval_sim_destroy (&self);
        return NULL;
    }
    s_sample_state (self);
    return self;
}

//  Destroy the world and the policy state.
void
wp_eval_sim_destroy (wp_eval_sim_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_eval_sim_t *self = *self_p;
    if (self->state)
        self->policy->destroy (&self->state);
    free (self->models);
    free (self->resident);
    free (self->timers);
    free (self);
    *self_p = NULL;
}

//  True when timer a fires before timer b.
static inline bool
s_timer_before (const s_timer_t *a, const s_timer_t *b)
{
    return a->time < b->time || (a->time == b->time && a->order < b->order);
}

//  Remove the first timer from the heap into *out.
static void
s_timer_pop (wp_eval_sim_t *self, s_timer_t *out)
{
    s_timer_t *heap = self->timers;
    *out = heap [0];
    s_timer_t last = heap [--self->ntimers];
    size_t size = self->ntimers, pos = 0;
    while (size) {
        size_t child = 2 * pos + 1;
        if (child >= size)
            break;
        if (child + 1 < size && s_timer_before (&heap [child + 1], &heap [child]))
            child++;
        if (!s_timer_before (&heap [child], &last))
            break;
        heap [pos] = heap [child];
        pos = child;
    }
    if (size)
        heap [pos] = last;
}

//  Fire every timer due at or before time, in order.
static int
s_fire_until (wp_eval_sim_t *self, int64_t time)
{
    while (self->ntimers && self->timers [0].time <= time) {
        s_timer_t timer;
        s_timer_pop (self, &timer);
        self->now = timer.time;
        self->events++;
        uint64_t start = self->timing? s_clock_ns (): 0;
        int rc = self->policy->on_timer (self->state, self, timer.model, timer.token);
        if (self->timing)
            s_account (self, start);
        if (rc) {
            snprintf (self->error, sizeof (self->error), "policy '%s' failed in on_timer",
                      self->policy->family);
            return -1;
        }
        if ((self->events & (STATE_SAMPLE - 1)) == 0)
            s_sample_state (self);
    }
    return 0;
}

//  Make a model resident from now.
static void
s_load (wp_eval_sim_t *self, uint32_t model, bool prewarm)
{
    s_model_t *m = &self->models [model];
    m->load_start = self->now;
    m->load_end = self->now + m->load_ms;
    m->prewarmed = prewarm;
    m->requested = false;
    m->slot = (uint32_t) self->nresident;
    self->resident [self->nresident++] = model;
    self->resident_mb += m->memory_mb;
    if (self->observer)
        self->observer (self->observer_arg, model, prewarm ? WP_EVAL_SIM_PREWARM
                                                           : WP_EVAL_SIM_LOAD, self->now);
}

//  Memory that could be freed plus what is free: budget minus pinned and
//  loading.
static int64_t
s_reachable_mb (wp_eval_sim_t *self)
{
    return self->budget_mb - self->pinned_mb - wp_eval_sim_loading_mb (self);
}

//  The run starts at time: the pinned models are resident from it.
static void
s_start (wp_eval_sim_t *self, int64_t time)
{
    self->started = true;
    if (!self->pinned_mb)
        return;
    for (size_t i = 0; i < self->nmodels; i++)
        if (self->models [i].pinned) {
            self->models [i].load_start = time;
            self->models [i].load_end = time;
        }
}

//  An intent: timers due up to its time, then the policy hears of it (a
//  policy without on_intent ignores it). Nothing is served, nothing is
//  counted as a request.
static int
s_intent (wp_eval_sim_t *self, const wp_eval_request_t *intent)
{
    int64_t t = intent->time;
    if (self->ntimers && self->timers [0].time <= t && s_fire_until (self, t))
        return -1;
    self->now = t;
    self->intents++;
    if (!self->policy->on_intent)
        return 0;
    self->events++;
    uint64_t start = self->timing? s_clock_ns (): 0;
    int rc = self->policy->on_intent (self->state, self, intent);
    if (self->timing)
        s_account (self, start);
    if (rc) {
        snprintf (self->error, sizeof (self->error), "policy '%s' failed in on_intent",
                  self->policy->family);
        return -1;
    }
    return 0;
}

//  Process timers due up to the request's time, then the request.
int
wp_eval_sim_request (wp_eval_sim_t *self, const wp_eval_request_t *request)
{
    int64_t t = request->time;
    assert (!self->finished);
    assert (t >= self->now);
    assert (request->model < self->nmodels
            || (request->kind && request->model == WP_EVAL_NO_MODEL));
    if (!self->started)
        s_start (self, t);
    if (request->kind)
        return s_intent (self, request);
    if (self->ntimers && self->timers [0].time <= t && s_fire_until (self, t))
        return -1;
    self->now = t;
    self->requests++;
    self->events++;
    s_model_t *m = &self->models [request->model];
    m->requests++;
    wp_eval_outcome_t outcome;
    uint64_t start = self->timing? s_clock_ns (): 0;
    if (m->load_start >= 0) {
        if (t < m->load_end) {
            outcome = WP_EVAL_DELAYED;
            self->delayed++;
            m->colds++;
            m->wait_ms += (uint64_t) (m->load_end - t);
            self->wait_ms += (uint64_t) (m->load_end - t);
        }
        else
            outcome = WP_EVAL_WARM;
        if (m->prewarmed && !m->requested) {
            self->useful_prewarms++;
            if (outcome == WP_EVAL_WARM)
                self->prewarm_hits++;
        }
        m->requested = true;
    }
    else {
        self->cold_starts++;
        m->colds++;
        m->cold_starts++;
        m->wait_ms += m->load_ms;
        self->wait_ms += m->load_ms;
        int64_t short_mb = self->budget_mb
                         ? (int64_t) m->memory_mb - (self->budget_mb - self->resident_mb)
                         : -(int64_t) m->memory_mb;
        int room = 0;
        if (self->policy->make_room)
            room = self->policy->make_room (self->state, self, request->model, short_mb);
        if (room < 0) {
            snprintf (self->error, sizeof (self->error), "policy '%s' failed in make_room",
                      self->policy->family);
            return -1;
        }
        bool fits = room == 0;
        if (fits && self->budget_mb
        &&  self->budget_mb - self->resident_mb < (int64_t) m->memory_mb) {
            if ((int64_t) m->memory_mb <= s_reachable_mb (self))
                fits = wp_eval_sim_evict_lru (self, m->memory_mb) == 0;
            else
                fits = false;
        }
        if (fits) {
            outcome = WP_EVAL_COLD;
            s_load (self, request->model, false);
            m->requested = true;
        }
        else {
            outcome = WP_EVAL_UNCACHEABLE;
            self->uncacheable++;
        }
    }
    m->last_request = t;
    m->last_touch = t;
    int rc = self->policy->on_request (self->state, self, request, outcome);
    if (self->timing)
        s_account (self, start);
    if (rc) {
        snprintf (self->error, sizeof (self->error), "policy '%s' failed in on_request",
                  self->policy->family);
        return -1;
    }
    if ((self->events & (STATE_SAMPLE - 1)) == 0)
        s_sample_state (self);
    return 0;
}

//  End the run at end_time.
int
wp_eval_sim_finish (wp_eval_sim_t *self, int64_t end_time)
{
    assert (!self->finished);
    if (end_time < self->now)
        end_time = self->now;
    if (!self->started)
        s_start (self, end_time);
    if (s_fire_until (self, end_time))
        return -1;
    self->now = end_time;
    for (size_t i = 0; i < self->nresident; i++) {
        s_model_t *m = &self->models [self->resident [i]];
        uint64_t charge = (uint64_t) m->memory_mb * (uint64_t) (end_time - m->load_start);
        m->resident_mb_ms += charge;
        self->resident_mb_ms += charge;
    }
    for (size_t i = 0; self->pinned_mb && i < self->nmodels; i++) {
        s_model_t *m = &self->models [i];
        if (m->pinned) {
            uint64_t charge = (uint64_t) m->memory_mb * (uint64_t) (end_time - m->load_start);
            m->resident_mb_ms += charge;
            self->resident_mb_ms += charge;
        }
    }
    s_sample_state (self);
    self->finished = true;
    return 0;
}

//  Order two doubles (qsort).
static int
s_double_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y? 1: 0;
}

//  The metrics.
void
wp_eval_sim_metrics (wp_eval_sim_t *self, wp_eval_metrics_t *metrics)
{
    memset (metrics, 0, sizeof (*metrics));
    metrics->requests = self->requests;
    metrics->cold_starts = self->cold_starts;
    metrics->delayed = self->delayed;
    metrics->uncacheable = self->uncacheable;
    metrics->cold_rate = self->requests
        ? (double) (self->cold_starts + self->delayed) / (double) self->requests: 0;
    metrics->wait_ms = self->wait_ms;
    metrics->cold_wait_s = (double) self->wait_ms / 1000.0;
    metrics->resident_mb_ms = self->resident_mb_ms;
    metrics->resident_gb_s = (double) self->resident_mb_ms / (1024.0 * 1000.0);
    metrics->prewarms = self->prewarms;
    metrics->useful_prewarms = self->useful_prewarms;
    metrics->prewarm_hits = self->prewarm_hits;
    metrics->fp_rate = self->prewarms
        ? 1.0 - (double) self->useful_prewarms / (double) self->prewarms: 0;
    uint64_t missed = self->prewarm_hits + self->cold_starts + self->delayed;
    metrics->recall = missed? (double) self->prewarm_hits / (double) missed: 0;
    metrics->wasted_pct = NAN;
    metrics->cold_reduction = NAN;
    //  p75 over models with requests, nearest rank.
    double *rates = malloc ((self->nmodels? self->nmodels: 1) * sizeof (double));
    size_t n = 0;
    if (rates) {
        for (size_t i = 0; i < self->nmodels; i++)
            if (self->models [i].requests)
                rates [n++] = (double) self->models [i].colds / (double) self->models [i].requests;
        if (n) {
            qsort (rates, n, sizeof (double), s_double_cmp);
            size_t rank = (size_t) ceil (0.75 * (double) n);
            metrics->p75_model_cold_rate = rates [rank? rank - 1: 0];
        }
        free (rates);
    }
    else
        metrics->p75_model_cold_rate = NAN;
    metrics->events = self->events;
    if (self->timing && self->events) {
        metrics->ns_per_event_mean = (double) self->ns_total / (double) self->events;
        uint64_t target = (uint64_t) ceil (0.99 * (double) self->events), seen = 0;
        for (size_t b = 0; b < HIST_BINS; b++) {
            seen += self->hist [b];
            if (seen >= target) {
                metrics->ns_per_event_p99 = s_hist_upper (b);
                break;
            }
        }
    }
    else {
        metrics->ns_per_event_mean = NAN;
        metrics->ns_per_event_p99 = NAN;
    }
    metrics->state_bytes_peak = self->state_peak;
    metrics->report [0] = 0;
    if (self->finished && self->policy->report && self->state
        && self->policy->report (self->state, metrics->report, sizeof metrics->report)
           >= sizeof metrics->report)
        metrics->report [0] = 0;        //  cut short: better none than broken JSON
    metrics->by_class = wp_eval_catalog_has_settings (self->catalog);
    for (size_t i = 0; metrics->by_class && i < self->nmodels; i++) {
        s_model_t *m = &self->models [i];
        int priority = wp_eval_catalog_priority (self->catalog, (uint32_t) i);
        wp_eval_class_t *c = &metrics->classes [m->pinned? WP_EVAL_CLASS_PINNED
                                              : priority == 3? WP_EVAL_CLASS_HIGH
                                              : priority == 1? WP_EVAL_CLASS_LOW
                                              : WP_EVAL_CLASS_NORMAL];
        c->models++;
        c->requests += m->requests;
        c->cold_starts += m->cold_starts;
        c->delayed += m->colds - m->cold_starts;
        c->wait_ms += m->wait_ms;
        c->resident_mb_ms += m->resident_mb_ms;
    }
}

//  Name of a class.
const char *
wp_eval_class_name (int class_id)
{
    static const char *names [WP_EVAL_CLASSES] = { "pinned", "high", "normal", "low" };
    return class_id >= 0 && class_id < WP_EVAL_CLASSES? names [class_id]: "?";
}

//  Reason the run failed.
const char *
wp_eval_sim_error (wp_eval_sim_t *self)
{
    return self->error;
}

//  The catalog.
wp_eval_catalog_t *
wp_eval_sim_catalog (wp_eval_sim_t *self)
{
    return self->catalog;
}

//  The policy the world runs.
const wp_eval_policy_t *
wp_eval_sim_policy (wp_eval_sim_t *self)
{
    return self->policy;
}

//  The future of the trace.
wp_eval_future_t *
wp_eval_sim_future (wp_eval_sim_t *self)
{
    return self->future;
}

//  The current simulated time.
int64_t
wp_eval_sim_now (wp_eval_sim_t *self)
{
    return self->now;
}

//  The budget.
int64_t
wp_eval_sim_budget_mb (wp_eval_sim_t *self)
{
    return self->budget_mb;
}

//  Free memory.
int64_t
wp_eval_sim_free_mb (wp_eval_sim_t *self)
{
    return self->budget_mb? self->budget_mb - self->resident_mb: INT64_MAX;
}

//  Memory of resident models.
int64_t
wp_eval_sim_resident_mb (wp_eval_sim_t *self)
{
    return self->resident_mb;
}

//  Memory of models still loading.
int64_t
wp_eval_sim_loading_mb (wp_eval_sim_t *self)
{
    int64_t mb = 0;
    for (size_t i = 0; i < self->nresident; i++) {
        s_model_t *m = &self->models [self->resident [i]];
        if (self->now < m->load_end)
            mb += m->memory_mb;
    }
    return mb;
}

//  True if the model is resident.
bool
wp_eval_sim_is_resident (wp_eval_sim_t *self, uint32_t model)
{
    assert (model < self->nmodels);
    return self->models [model].load_start >= 0;
}

//  True if the model is pinned.
bool
wp_eval_sim_is_pinned (wp_eval_sim_t *self, uint32_t model)
{
    assert (model < self->nmodels);
    return self->models [model].pinned;
}

//  True if the model is loading.
bool
wp_eval_sim_is_loading (wp_eval_sim_t *self, uint32_t model)
{
    assert (model < self->nmodels);
    s_model_t *m = &self->models [model];
    return m->load_start >= 0 && self->now < m->load_end;
}

//  When the model's current load ends.
int64_t
wp_eval_sim_load_end (wp_eval_sim_t *self, uint32_t model)
{
    assert (model < self->nmodels);
    s_model_t *m = &self->models [model];
    return m->load_start >= 0? m->load_end: -1;
}

//  True if the current residency was started by a pre-warm.
bool
wp_eval_sim_is_prewarmed (wp_eval_sim_t *self, uint32_t model)
{
    assert (model < self->nmodels);
    s_model_t *m = &self->models [model];
    return m->load_start >= 0 && m->prewarmed;
}

//  Time of the model's last request.
int64_t
wp_eval_sim_last_request (wp_eval_sim_t *self, uint32_t model)
{
    assert (model < self->nmodels);
    return self->models [model].last_request;
}

//  Number of resident models.
size_t
wp_eval_sim_resident_count (wp_eval_sim_t *self)
{
    return self->nresident;
}

//  The i-th resident model.
uint32_t
wp_eval_sim_resident_model (wp_eval_sim_t *self, size_t index)
{
    assert (index < self->nresident);
    return self->resident [index];
}

//  Start a pre-warm load.
int
wp_eval_sim_prewarm (wp_eval_sim_t *self, uint32_t model)
{
    assert (model < self->nmodels);
    s_model_t *m = &self->models [model];
    if (m->load_start >= 0)
        return 1;
    if (self->budget_mb && self->budget_mb - self->resident_mb < (int64_t) m->memory_mb)
        return -1;
    s_load (self, model, true);
    m->last_touch = self->now;
    self->prewarms++;
    return 0;
}

//  Take a model out of the world, charging its residency up to time.
static void
s_unload (wp_eval_sim_t *self, uint32_t model, int64_t time)
{
    s_model_t *m = &self->models [model];
    uint64_t charge = (uint64_t) m->memory_mb * (uint64_t) (time - m->load_start);
    m->resident_mb_ms += charge;
    self->resident_mb_ms += charge;
    self->resident_mb -= m->memory_mb;
    uint32_t last = self->resident [--self->nresident];
    self->resident [m->slot] = last;
    self->models [last].slot = m->slot;
    m->load_start = -1;
    m->load_end = -1;
    m->prewarmed = false;
    m->requested = false;
    if (self->observer)
        self->observer (self->observer_arg, model, WP_EVAL_SIM_UNLOAD, time);
}

//  Unload a model.
int
wp_eval_sim_unload (wp_eval_sim_t *self, uint32_t model)
{
    assert (model < self->nmodels);
    s_model_t *m = &self->models [model];
    if (m->load_start < 0)
        return 1;
    if (m->pinned)
        return 2;
    if (self->now < m->load_end)
        return -1;
    s_unload (self, model, self->now);
    return 0;
}

//  Unload a model that expired at an earlier time.
int
wp_eval_sim_unload_at (wp_eval_sim_t *self, uint32_t model, int64_t time)
{
    assert (model < self->nmodels);
    s_model_t *m = &self->models [model];
    if (m->load_start < 0)
        return 1;
    if (m->pinned)
        return 2;
    if (time > self->now || time < m->load_end || time < m->last_request || time < m->last_touch)
        return -1;
    s_unload (self, model, time);
    return 0;
}

//  Be told of every load and unload.
void
wp_eval_sim_observe (wp_eval_sim_t *self, wp_eval_sim_observer_fn *observer, void *arg)
{
    self->observer = observer;
    self->observer_arg = arg;
}

//  Let time pass to time: the timers due by then fire.
int
wp_eval_sim_advance (wp_eval_sim_t *self, int64_t time)
{
    assert (!self->finished);
    if (time < self->now)
        return 0;
    if (!self->started)
        s_start (self, time);
    if (s_fire_until (self, time))
        return -1;
    self->now = time;
    return 0;
}

//  When the next timer falls due, -1 if none.
int64_t
wp_eval_sim_next_timer (wp_eval_sim_t *self)
{
    return self->ntimers ? self->timers [0].time : -1;
}

//  Set a timer.
int
wp_eval_sim_set_timer (wp_eval_sim_t *self, int64_t time, uint32_t model, uint64_t token)
{
    if (time < self->now)
        time = self->now;
    if (self->ntimers == self->timers_cap) {
        size_t cap = self->timers_cap * 2;
        s_timer_t *timers = realloc (self->timers, cap * sizeof (s_timer_t));
        if (!timers)
            return -1;
        self->timers = timers;
        self->timers_cap = cap;
    }
    s_timer_t timer = { time, self->timer_order++, token, model };
    size_t pos = self->ntimers++;
    while (pos) {
        size_t parent = (pos - 1) / 2;
        if (!s_timer_before (&timer, &self->timers [parent]))
            break;
        self->timers [pos] = self->timers [parent];
        pos = parent;
    }
    self->timers [pos] = timer;
    return 0;
}

//  Unload idle models, least recently used first, until need_mb is free.
int
wp_eval_sim_evict_lru (wp_eval_sim_t *self, int64_t need_mb)
{
    if (!self->budget_mb)
        return 0;
    while (self->budget_mb - self->resident_mb < need_mb) {
        int64_t best = -1;
        uint32_t victim = 0;
        for (size_t i = 0; i < self->nresident; i++) {
            uint32_t id = self->resident [i];
            s_model_t *m = &self->models [id];
            if (self->now < m->load_end)
                continue;
            if (best < 0 || m->last_touch < self->models [victim].last_touch
            ||  (m->last_touch == self->models [victim].last_touch && id < victim)) {
                best = 1;
                victim = id;
            }
        }
        if (best < 0)
            return -1;
        wp_eval_sim_unload (self, victim);
    }
    return 0;
}
