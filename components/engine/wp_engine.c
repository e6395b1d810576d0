/*  =========================================================================
    wp_engine - PredictionEngine core.
    =========================================================================
*/
#include <czmq.h>
#include <math.h>
#include "wp_engine.h"
#include "wp_names.h"
#include "wp_util.h"

#define PRIOR_WEIGHT 2.0        //  pseudo observations of the population prior
#define SMOOTH 3.0              //  spread of thin data, bins at n = 0
#define WINDOW_BINS 16          //  longest pre-warm window, bins
#define BREAK_EVEN_SCALE 4.4    //  break_even = horizon x odds against x this
#define FEATURE_CLIP 8.0        //  |logit| features are clipped to this
#define BURST_CAP 8.0           //  at most this many delayed requests per load
#define TABLE_MIN 256           //  smallest learning table index, slots
#define PROBE_MAX 8             //  a full table replaces after this many probes

//  Features: bias, histogram logit, Markov next, Markov next2, co-use,
//  log season, anomaly, confidence.
enum { F_BIAS, F_HIST, F_NEXT, F_NEXT2, F_COUSE, F_SEASON, F_ANOMALY, F_CONF };

static const double s_w_init [WP_ENGINE_FEATURES] = { 0, 1, 3, 3, 1, 0, 0, 0 };

//  What the engine remembers of one (user, model) pair: the prediction
//  waiting for its outcome and the cached plan.
typedef struct {
    uint64_t key;               //  pair key, 0 = empty slot
    uint64_t made_ms;           //  when the pending prediction was made, 0 none
    float x [WP_ENGINE_FEATURES];   //  its features
    uint32_t plan_count;        //  pair count the plan was made at, 0 none
    uint32_t plan_load_ms;      //  load time it assumed
    uint64_t seen_ms;           //  the pair's latest request seen
    uint8_t plan_burst;         //  burst class it assumed (s_burst, <= 12)
    uint8_t k, s, e;            //  plan: keep to edge k, window edges [s, e)
    float p_horizon;            //  P(idle <= horizon) of the distribution
    float expected_ms;          //  its mean idle time
    float gap_q [WP_ENGINE_QUANTILES];  //  its quantiles
} entry_t;

_Static_assert (sizeof (entry_t) <= 96, "a pair's entry stays small");

struct _wp_engine_t {
    wp_engine_opts_t opts;      //  effective options
    double horizon_ms;          //  horizon, ms
    double break_even_ms;       //  cost of a cold start in resident ms
    double w [WP_ENGINE_FEATURES];  //  ensemble weights
    uint64_t updates;           //  training steps so far
    uint32_t *slots;            //  pairs: index of entries + 1 (0 empty),
                                //  open addressing, at most 3/4 full
    uint32_t mask;              //  slots - 1
    entry_t *entries;           //  the pairs' entries, dense
    uint32_t used;              //  entries in use
    uint32_t entries_cap;       //  capacity of entries []
    uint64_t *model_keys;       //  models: FNV-1a of the name (never 0; 0
    uint32_t *model_load_ms;    //  empty) and its load time, ms; open
    uint32_t model_mask;        //  addressing, at most 3/4 full (keyed by
    uint32_t model_count;       //  hash, as the pairs are: no names kept)
    wp_names_t *names;          //  or, with shared names (borrowed): the load
    uint32_t *loads;            //  time of each id, ms (0: unknown), for
    uint32_t loads_n, loads_cap;    //  ids below loads_n
};

//  Create an engine.
wp_engine_t *
wp_engine_new (const wp_engine_opts_t *opts)
{
    wp_engine_t *self = (wp_engine_t *) zmalloc (sizeof (wp_engine_t));
    assert (self);
    if (opts)
        self->opts = *opts;
    if (!self->opts.horizon_s)
        self->opts.horizon_s = 300;
    if (!self->opts.usage_window_s)
        self->opts.usage_window_s = 3600;
    if (!self->opts.max_models)
        self->opts.max_models = 8;
    if (self->opts.prior <= 0 || self->opts.prior >= 1)
        self->opts.prior = 0.1;
    if (!(self->opts.threshold > 0 && self->opts.threshold < 1))
        self->opts.threshold = 0.7;
    if (self->opts.learning_rate == 0 || !isfinite (self->opts.learning_rate))
        self->opts.learning_rate = 0.1;
    if (!self->opts.default_load_ms)
        self->opts.default_load_ms = 1000;
    if (!self->opts.max_pairs)
        self->opts.max_pairs = 1000000;
    self->horizon_ms = self->opts.horizon_s * 1000.0;
    double thr = self->opts.threshold;
    self->break_even_ms = self->horizon_ms * (1 - thr) / thr * BREAK_EVEN_SCALE;
    memcpy (self->w, s_w_init, sizeof self->w);
    self->mask = TABLE_MIN - 1;
    self->slots = (uint32_t *) calloc (TABLE_MIN, sizeof (uint32_t));
    assert (self->slots);
    self->names = self->opts.names;
    if (!self->names) {
        self->model_mask = 15;
        self->model_keys = (uint64_t *) calloc (16, sizeof (uint64_t));
        self->model_load_ms = (uint32_t *) calloc (16, sizeof (uint32_t));
        assert (self->model_keys && self->model_load_ms);
    }
    return self;
}

//  Destroy.
void
wp_engine_destroy (wp_engine_t **self_p)
{
    assert (self_p);
    wp_engine_t *self = *self_p;
    if (!self)
        return;
    free (self->slots);
    free (self->entries);
    free (self->model_keys);
    free (self->model_load_ms);
    free (self->loads);
    free (self);
    *self_p = NULL;
}

//  Key of a model: FNV-1a of its name, never 0.
static uint64_t
s_model_key (const char *name)
{
    uint64_t key = wp_names_fnv1a (name);
    return key ? key : 1;
}

//  Slot of a model key, or the empty slot where it would go.
static uint32_t
s_model_slot (wp_engine_t *self, uint64_t key)
{
    uint32_t i = (uint32_t) (key ^ key >> 32) & self->model_mask;
    while (self->model_keys [i] && self->model_keys [i] != key)
        i = (i + 1) & self->model_mask;
    return i;
}

//  Rebuild the model table at twice the size.
static void
s_models_grow (wp_engine_t *self)
{
    uint32_t old_size = self->model_mask + 1;
    uint64_t *keys = self->model_keys;
    uint32_t *loads = self->model_load_ms;
    self->model_mask = old_size * 2 - 1;
    self->model_keys = (uint64_t *) calloc (old_size * 2, sizeof (uint64_t));
    self->model_load_ms = (uint32_t *) calloc (old_size * 2, sizeof (uint32_t));
    assert (self->model_keys && self->model_load_ms);
    for (uint32_t j = 0; j < old_size; j++)
        if (keys [j]) {
            uint32_t i = s_model_slot (self, keys [j]);
            self->model_keys [i] = keys [j];
            self->model_load_ms [i] = loads [j];
        }
    free (keys);
    free (loads);
}

//  Describe a model's load time.
void
wp_engine_model (wp_engine_t *self, const char *name, uint32_t load_ms)
{
    assert (self && name);
    if (!load_ms)
        return;
    if (self->names) {
        uint32_t id = wp_names_add (self->names, name);
        if (id == WP_NAMES_NONE)
            return;                     //  a name no model can have
        self->loads = (uint32_t *) wp_names_room (self->loads, &self->loads_cap, id,
                                                  sizeof (uint32_t));
        assert (self->loads);
        while (self->loads_n <= id)
            self->loads [self->loads_n++] = 0;
        self->loads [id] = load_ms;
        return;
    }
    uint64_t key = s_model_key (name);
    uint32_t i = s_model_slot (self, key);
    if (!self->model_keys [i]) {
        if ((self->model_count + 1) * 4 > (self->model_mask + 1) * 3) {
            s_models_grow (self);
            i = s_model_slot (self, key);
        }
        self->model_keys [i] = key;
        self->model_load_ms [i] = 0;
        self->model_count++;
    }
    self->model_load_ms [i] = load_ms;
}

//  Load time of a model, by its name and its name's FNV-1a hash.
static uint32_t
s_load_ms (wp_engine_t *self, const char *name, uint64_t name_hash)
{
    if (self->names) {
        uint32_t id = wp_names_find_fnv1a (self->names, name, name_hash);
        return id < self->loads_n && self->loads [id] ? self->loads [id]
                                                      : self->opts.default_load_ms;
    }
    uint32_t i = s_model_slot (self, name_hash ? name_hash : 1);
    return self->model_keys [i] ? self->model_load_ms [i] : self->opts.default_load_ms;
}

//  Key of a (user, model) pair from the model's name hash, never 0.
static uint64_t
s_key (uint64_t user, uint64_t name_hash)
{
    uint64_t key = wp_mix64 (user ^ wp_mix64 (name_hash));
    return key ? key : 1;
}

//  Rebuild the index at twice the size.
static void
s_grow (wp_engine_t *self)
{
    uint32_t size = (self->mask + 1) * 2;
    free (self->slots);
    self->slots = (uint32_t *) calloc (size, sizeof (uint32_t));
    assert (self->slots);
    self->mask = size - 1;
    for (uint32_t e = 0; e < self->used; e++) {
        uint32_t j = (uint32_t) self->entries [e].key & self->mask;
        while (self->slots [j])
            j = (j + 1) & self->mask;
        self->slots [j] = e + 1;
    }
}

//  The entry of a pair, created empty if missing (a full index at its
//  bound gives up the entry at the pair's home slot).
static entry_t *
s_entry (wp_engine_t *self, uint64_t key)
{
    uint32_t home = (uint32_t) key & self->mask;
    for (uint32_t probe = 0; probe <= self->mask; probe++) {
        uint32_t *slot = &self->slots [(home + probe) & self->mask];
        if (*slot && self->entries [*slot - 1].key == key)
            return &self->entries [*slot - 1];
        if (!*slot) {
            if ((uint64_t) (self->used + 1) * 4 > ((uint64_t) self->mask + 1) * 3
                && (self->mask + 1) / 2 < self->opts.max_pairs) {
                s_grow (self);
                return s_entry (self, key);
            }
            if (self->used == self->entries_cap) {
                //  Grow by an eighth: little capacity held unused
                uint32_t cap = self->used < 64 ? 64 : self->used + self->used / 8;
                self->entries = (entry_t *) realloc (self->entries, cap * sizeof (entry_t));
                assert (self->entries);
                self->entries_cap = cap;
            }
            *slot = ++self->used;
            entry_t *entry = &self->entries [*slot - 1];
            memset (entry, 0, sizeof *entry);
            entry->key = key;
            return entry;
        }
        if (probe >= PROBE_MAX && (self->mask + 1) / 2 >= self->opts.max_pairs)
            break;
    }
    entry_t *entry = &self->entries [self->slots [home] - 1];
    memset (entry, 0, sizeof *entry);
    entry->key = key;
    return entry;
}

//  Logistic function.
static inline double
s_sigmoid (double z)
{
    return 1.0 / (1.0 + exp (-z));
}

//  Logit, clipped.
static inline double
s_logit (double p)
{
    double eps = 1e-4;
    p = p < eps ? eps : p > 1 - eps ? 1 - eps : p;
    double z = log (p / (1 - p));
    return z < -FEATURE_CLIP ? -FEATURE_CLIP : z > FEATURE_CLIP ? FEATURE_CLIP : z;
}

//  The ensemble's probability for features x.
static double
s_score (wp_engine_t *self, const float *x)
{
    double z = 0;
    for (int i = 0; i < WP_ENGINE_FEATURES; i++)
        z += self->w [i] * x [i];
    return s_sigmoid (z);
}

//  One training step on features x with outcome y.
static void
s_train (wp_engine_t *self, const float *x, double y)
{
    if (self->opts.learning_rate < 0)
        return;
    double step = self->opts.learning_rate / sqrt (1.0 + (double) self->updates / 1000.0);
    double error = y - s_score (self, x);
    for (int i = 0; i < WP_ENGINE_FEATURES; i++)
        self->w [i] += step * error * x [i];
    self->updates++;
}

//  The plan's edges and representatives (shared by every engine).
static double s_edges [WP_IDLE_BINS + 1];
static double s_mids [WP_IDLE_BINS];

//  Fill the shared edges once.
static void
s_edges_init (void)
{
    if (s_edges [1] > 0)
        return;
    for (int i = 0; i <= WP_IDLE_BINS; i++)
        s_edges [i] = (double) wp_idle_edge (i);
    for (int i = 0; i < WP_IDLE_BINS; i++)
        s_mids [i] = (s_edges [i] + s_edges [i + 1]) / 2;
}

//  Probability mass of a distribution (p, normalised) at or below x ms,
//  uniform within a bin.
static double
s_cdf (const double *p, double x)
{
    double sum = 0;
    for (int i = 0; i < WP_IDLE_BINS; i++) {
        if (x >= s_edges [i + 1])
            sum += p [i];
        else {
            if (x > s_edges [i])
                sum += p [i] * (x - s_edges [i]) / (s_edges [i + 1] - s_edges [i]);
            break;
        }
    }
    return sum;
}

//  The cost-minimising plan.
void
wp_engine_plan (const double *mass, double load_ms, double break_even_ms,
                double horizon_ms, wp_plan_t *plan)
{
    s_edges_init ();
    memset (plan, 0, sizeof *plan);
    double total = 0;
    for (int i = 0; i < WP_IDLE_BINS; i++)
        total += mass [i];
    if (!(total > 0)) {
        plan->cost = break_even_ms;
        plan->expected_ms = s_edges [WP_IDLE_BINS];
        return;
    }
    const int n = WP_IDLE_BINS;
    double p [WP_IDLE_BINS], tail [WP_IDLE_BINS + 1], pm [WP_IDLE_BINS + 1];
    for (int i = 0; i < n; i++)
        p [i] = mass [i] / total;
    tail [n] = 0;
    for (int i = n - 1; i >= 0; i--)
        tail [i] = tail [i + 1] + p [i];
    pm [0] = 0;
    for (int i = 0; i < n; i++)
        pm [i + 1] = pm [i] + p [i] * s_mids [i];
    const double *a = s_edges;
    double B = break_even_ms, L = load_ms;
    //  Best window from each start edge s: best [s], its end edge [s].
    double best [WP_IDLE_BINS + 1];
    int best_end [WP_IDLE_BINS + 1];
    best [n] = 0;
    best_end [n] = 0;
    for (int s = n - 1; s >= 1; s--) {
        double start = a [s] - L > 0 ? a [s] - L : 0;
        double acc = 0, low = 0;
        int low_end = 0;
        int last = s + WINDOW_BINS < n ? s + WINDOW_BINS : n;
        for (int e = s + 1; e <= last; e++) {
            acc += p [e - 1] * (s_mids [e - 1] - start - B);
            double cost = acc + tail [e] * (a [e] - start);
            if (cost < low) {
                low = cost;
                low_end = e;
            }
        }
        best [s] = low;
        best_end [s] = low_end;
    }
    //  Suffix minimum over start edges.
    double suffix [WP_IDLE_BINS + 2];
    int suffix_at [WP_IDLE_BINS + 2];
    suffix [n] = 0;
    suffix_at [n] = 0;
    for (int s = n - 1; s >= 1; s--) {
        if (best [s] < suffix [s + 1]) {
            suffix [s] = best [s];
            suffix_at [s] = s;
        }
        else {
            suffix [s] = suffix [s + 1];
            suffix_at [s] = suffix_at [s + 1];
        }
    }
    //  Keep to edge k, then the best window starting after it.
    double cheapest = INFINITY;
    int best_k = 0, best_s = 0;
    int s = 1;
    for (int k = 0; k < n; k++) {
        while (s < n && a [s] - L <= a [k])
            s++;
        double cost = pm [k] + tail [k] * a [k] + B * tail [k];
        int window = 0;
        if (s < n && suffix [s] < 0) {
            cost += suffix [s];
            window = suffix_at [s];
        }
        if (cost < cheapest - 1e-9) {
            cheapest = cost;
            best_k = k;
            best_s = window;
        }
    }
    plan->keep_ms = (uint64_t) a [best_k];
    plan->keep_bin = best_k;
    if (best_s) {
        plan->start_bin = best_s;
        plan->end_bin = best_end [best_s];
        plan->prewarm_ms = (uint64_t) (a [best_s] - L > 0 ? a [best_s] - L : 0);
        plan->hold_ms = (uint64_t) a [best_end [best_s]];
    }
    plan->cost = cheapest;
    plan->p_horizon = s_cdf (p, horizon_ms);
    plan->expected_ms = pm [n];
    //  Quantiles, uniform within a bin.
    static const double levels [WP_ENGINE_QUANTILES] = { 0.25, 0.5, 0.75, 0.9, 0.99 };
    double cum = 0;
    int q = 0;
    for (int i = 0; i < n && q < WP_ENGINE_QUANTILES; i++) {
        while (q < WP_ENGINE_QUANTILES && cum + p [i] >= levels [q] - 1e-12) {
            double into = p [i] > 0 ? (levels [q] - cum) / p [i] : 0;
            into = into < 0 ? 0 : into > 1 ? 1 : into;
            plan->gap_q [q++] = a [i] + into * (a [i + 1] - a [i]);
        }
        cum += p [i];
    }
    while (q < WP_ENGINE_QUANTILES)
        plan->gap_q [q++] = a [n];
}

//  Break-even time.
double
wp_engine_break_even_ms (wp_engine_t *self)
{
    return self->break_even_ms;
}

//  Distribution of a pattern entry: its long-run counts plus its recent
//  idle times, each counted as the evidence it is (the last few idle
//  times weigh a few observations, not as much as all the counts: a
//  single long pause must not make a busy pair's tail), plus the prior as
//  PRIOR_WEIGHT observations.
static void
s_mass (const wp_pattern_t *entry, double *mass)
{
    double n = entry->hist_total;
    double raw [WP_IDLE_BINS];
    if (entry->hist)
        for (int i = 0; i < WP_IDLE_BINS; i++)
            raw [i] = entry->hist [i] + entry->recent [i];
    else
        for (int i = 0; i < WP_IDLE_BINS; i++)
            raw [i] = entry->recent [i];
    //  Few idle times say little about the exact bin: spread each over
    //  its neighbours, the wider the fewer (a Gaussian of SMOOTH / sqrt
    //  (1 + n) bins), so that a plan does not bet on the noise.
    double sigma = SMOOTH / sqrt (1 + n);
    int reach = (int) ceil (3 * sigma);
    if (reach > 8)
        reach = 8;
    //  The kernel is symmetric: one exp per distance (-d * -d is d * d
    //  exactly), summed in the same order as ever.
    double kernel [17], sum = 0;
    for (int d = 0; d <= reach; d++)
        kernel [reach + d] = kernel [reach - d]
                           = sigma > 0.05 ? exp (-0.5 * d * d / (sigma * sigma)) : d == 0;
    for (int d = -reach; d <= reach; d++)
        sum += kernel [d + reach];
    float prior [WP_IDLE_BINS];
    wp_analyzer_prior (entry, prior);
    for (int i = 0; i < WP_IDLE_BINS; i++)
        mass [i] = PRIOR_WEIGHT * prior [i];
    for (int i = 0; i < WP_IDLE_BINS; i++) {
        if (raw [i] <= 0)
            continue;
        for (int d = -reach; d <= reach; d++) {
            int j = i + d;
            j = j < 0 ? 0 : j >= WP_IDLE_BINS ? WP_IDLE_BINS - 1 : j;
            mass [j] += raw [i] * kernel [d + reach] / sum;
        }
    }
}

//  P(request within the horizon | idle for elapsed) and the expected
//  time until it, from a distribution.
static void
s_conditional (const double *mass, double elapsed, double horizon_ms, double *p_h,
               double *expected)
{
    double total = 0, p [WP_IDLE_BINS];
    for (int i = 0; i < WP_IDLE_BINS; i++)
        total += mass [i];
    if (!(total > 0)) {
        *p_h = 0;
        *expected = s_edges [WP_IDLE_BINS];
        return;
    }
    for (int i = 0; i < WP_IDLE_BINS; i++)
        p [i] = mass [i] / total;
    double before = s_cdf (p, elapsed);
    double left = 1 - before;
    if (left < 1e-9) {
        *p_h = 0;
        *expected = elapsed;
        return;
    }
    *p_h = (s_cdf (p, elapsed + horizon_ms) - before) / left;
    double sum = 0;
    for (int i = 0; i < WP_IDLE_BINS; i++) {
        if (s_edges [i + 1] <= elapsed)
            continue;
        double low = s_edges [i] > elapsed ? s_edges [i] : elapsed;
        double share = p [i] * (s_edges [i + 1] - low) / (s_edges [i + 1] - s_edges [i]);
        sum += share * ((low + s_edges [i + 1]) / 2 - elapsed);
    }
    *expected = sum / left;
}

//  Weight of a model in a link list, as a share of the list (+1 for "none").
static double
s_link_share (const wp_link_t *links, uint8_t n, const char *model, double *delay_ms)
{
    double total = 1, mine = 0;
    for (uint8_t i = 0; i < n; i++) {
        total += links [i].weight;
        if (links [i].model == model || streq (links [i].model, model)) {
            mine = links [i].weight;
            if (delay_ms)
                *delay_ms = links [i].delay_ms;
        }
    }
    return mine / total;
}

//  Requests expected to queue behind a cold start of the pair: its rate
//  over the last hour x half the load time, capped.
static double
s_queued (const wp_pattern_t *entry, double load_ms)
{
    double per_ms = entry->rate_per_h / 3600000.0;
    double queued = per_ms * load_ms / 2;
    return queued < BURST_CAP ? queued : BURST_CAP;
}

//  Burst class of a pair: the queue rounded to quarter steps (plans are
//  made again when it changes).
static uint32_t
s_burst (const wp_pattern_t *entry, double load_ms)
{
    return (uint32_t) floor (4 * log2 (1 + s_queued (entry, load_ms)));
}

//  Wait saved if the model is resident at its next request: the load,
//  plus the requests that would queue behind it.
static double
s_benefit (const wp_pattern_t *entry, double load_ms)
{
    return load_ms * (1 + s_queued (entry, load_ms));
}

//  Predict one entry of the pattern; latest: entry 0 (its plan is made).
static void
s_predict_entry (wp_engine_t *self, uint64_t user_hash, const wp_pattern_t *latest,
                 const wp_pattern_t *entry, bool is_latest, uint64_t now_ms,
                 wp_prediction_t *out)
{
    memset (out, 0, sizeof *out);
    out->model = entry->model;
    //  The name is hashed once: it keys the pair and the load time
    uint64_t name_hash = wp_names_fnv1a (entry->model);
    entry_t *slot = s_entry (self, s_key (user_hash, name_hash));
    uint32_t load_ms = s_load_ms (self, entry->model, name_hash);
    out->load_ms = load_ms;
    out->last_ms = entry->last_ms;
    double elapsed = now_ms > entry->last_ms ? (double) (now_ms - entry->last_ms) : 0;
    double n = entry->hist_total;
    double confidence = n / (n + PRIOR_WEIGHT);

    //  Learn from the pending prediction: asked within the horizon (this
    //  is its request) or known not to have been.
    if (slot->made_ms && now_ms >= slot->made_ms) {
        double since = (double) (now_ms - slot->made_ms);
        if (is_latest && entry->last_ms == now_ms && since > 0) {
            s_train (self, slot->x, since <= self->horizon_ms ? 1 : 0);
            slot->made_ms = 0;
        }
        else
        if (since > self->horizon_ms) {
            s_train (self, slot->x, 0);
            slot->made_ms = 0;
        }
    }
    double mass [WP_IDLE_BINS];
    double p_hist, expected;
    bool fresh = is_latest && elapsed == 0;
    if (fresh) {
        //  The plan, cached until the histogram grew by 1/8.
        uint32_t count = (uint32_t) (entry->count < UINT32_MAX ? entry->count : UINT32_MAX);
        uint32_t step = slot->plan_count / 8;
        step = step < 1 ? 1 : step > 16 ? 16 : step;
        uint32_t burst = s_burst (entry, load_ms);
        //  An idle time the plan did not cover: the user may have changed.
        bool missed = false;
        if (slot->plan_count && slot->seen_ms && now_ms > slot->seen_ms) {
            double gap = (double) (now_ms - slot->seen_ms);
            missed = gap > s_edges [slot->k]
                  && !(slot->e && gap >= s_edges [slot->s] && gap <= s_edges [slot->e]);
        }
        slot->seen_ms = now_ms;
        if (!slot->plan_count || slot->plan_load_ms != load_ms || slot->plan_burst != burst
            || missed || count < slot->plan_count || count - slot->plan_count >= step) {
            s_mass (entry, mass);
            wp_plan_t plan;
            //  A cold start costs the load for every request queued behind it.
            double break_even = self->break_even_ms * pow (2, burst / 4.0);
            wp_engine_plan (mass, load_ms, break_even, self->horizon_ms, &plan);
            slot->plan_burst = (uint8_t) burst;
            slot->plan_count = count ? count : 1;
            slot->plan_load_ms = load_ms;
            slot->k = (uint8_t) plan.keep_bin;
            slot->s = (uint8_t) plan.start_bin;
            slot->e = (uint8_t) plan.end_bin;
            slot->p_horizon = (float) plan.p_horizon;
            slot->expected_ms = (float) plan.expected_ms;
            for (int q = 0; q < WP_ENGINE_QUANTILES; q++)
                slot->gap_q [q] = (float) plan.gap_q [q];
        }
        p_hist = slot->p_horizon;
        expected = slot->expected_ms;
        memcpy (out->gap_q, slot->gap_q, sizeof out->gap_q);
        out->keep_until_ms = now_ms + (uint64_t) s_edges [slot->k];
        //  Thin data: the plan of a pair with few idle times leans on
        //  them as much as the prior lets it. Held at least the keep of
        //  a pair that knows nothing (its break-even time) times the
        //  prior's share, PRIOR_WEIGHT / (n + PRIOR_WEIGHT): all of it
        //  at first, nothing once the pair's own evidence is large.
        double floor_ms = self->break_even_ms * pow (2, slot->plan_burst / 4.0)
                        * PRIOR_WEIGHT / (n + PRIOR_WEIGHT);
        if (s_edges [slot->k] < floor_ms)
            out->keep_until_ms = now_ms + (uint64_t) floor_ms;
        if (slot->e) {
            double start = s_edges [slot->s] - load_ms;
            out->prewarm_at_ms = now_ms + (uint64_t) (start > 0 ? start : 0);
            out->hold_until_ms = now_ms + (uint64_t) s_edges [slot->e];
        }
    }
    else {
        s_mass (entry, mass);
        s_conditional (mass, elapsed, self->horizon_ms, &p_hist, &expected);
    }
    //  Features and the ensemble.
    float *x = slot->x;
    double delay_next = 0, delay_next2 = 0;
    x [F_BIAS] = 1;
    x [F_HIST] = (float) s_logit (p_hist);
    x [F_NEXT] = x [F_NEXT2] = x [F_COUSE] = 0;
    if (!is_latest && latest) {
        x [F_NEXT] = (float) s_link_share (latest->next, latest->n_next, entry->model,
                                           &delay_next);
        x [F_NEXT2] = (float) s_link_share (latest->next2, latest->n_next2, entry->model,
                                            &delay_next2);
        x [F_COUSE] = (float) s_link_share (latest->couse, latest->n_couse, entry->model,
                                            NULL);
    }
    double season = entry->season > 0 ? log (entry->season) : 0;
    x [F_SEASON] = (float) (season < -3 ? -3 : season > 3 ? 3 : season);
    x [F_ANOMALY] = (float) tanh (entry->anomaly / 4);
    x [F_CONF] = (float) confidence;
    slot->made_ms = now_ms;
    double probability = s_score (self, x);
    out->probability = probability;
    out->confidence = confidence;
    out->expected_in_ms = (uint64_t) (expected > 0 ? expected : 0);
    out->benefit_ms = s_benefit (entry, load_ms);

    //  A model that follows the latest one: a window at the learned delay
    //  when the expected saving pays for the memory.
    if (!is_latest && (x [F_NEXT] > 0 || x [F_NEXT2] > 0 || x [F_COUSE] > 0)) {
        double delay = x [F_NEXT2] > x [F_NEXT] ? delay_next2 : delay_next;
        double start = delay - load_ms > 0 ? delay - load_ms : 0;
        double until = delay + (delay > 60000 ? delay : 60000);
        double cost = until - start;
        if (probability * self->break_even_ms > cost) {
            out->prewarm_at_ms = now_ms + (uint64_t) start;
            out->hold_until_ms = now_ms + (uint64_t) until;
            if (out->expected_in_ms > (uint64_t) delay)
                out->expected_in_ms = (uint64_t) delay;
        }
    }
}

//  Predict a user's models.
size_t
wp_engine_predict_for (wp_engine_t *self, uint64_t user_hash, const wp_pattern_t *pattern,
                       size_t n_pattern, uint64_t now_ms, wp_prediction_t *out,
                       size_t capacity)
{
    assert (self && (pattern || n_pattern == 0) && out);
    s_edges_init ();
    size_t limit = capacity < self->opts.max_models ? capacity : self->opts.max_models;
    if (limit == 0 || n_pattern == 0)
        return 0;
    if (n_pattern > WP_ANALYZER_USER_MODELS_MAX)
        n_pattern = WP_ANALYZER_USER_MODELS_MAX;
    wp_prediction_t all [WP_ANALYZER_USER_MODELS_MAX];
    size_t order [WP_ANALYZER_USER_MODELS_MAX];
    for (size_t i = 0; i < n_pattern; i++) {
        s_predict_entry (self, user_hash, &pattern [0], &pattern [i], i == 0, now_ms,
                         &all [i]);
        //  Stable insertion by probability, highest first.
        size_t at = i;
        while (at > 0 && all [order [at - 1]].probability < all [i].probability) {
            order [at] = order [at - 1];
            at--;
        }
        order [at] = i;
    }
    size_t n = n_pattern < limit ? n_pattern : limit;
    bool latest = false;
    for (size_t i = 0; i < n; i++) {
        out [i] = all [order [i]];
        latest = latest || order [i] == 0;
    }
    if (!latest)
        out [n - 1] = all [0];      //  the latest model carries the plan
    return n;
}

//  Predict for user hash 0.
size_t
wp_engine_predict (wp_engine_t *self, const wp_pattern_t *pattern, size_t n_pattern,
                   uint64_t now_ms, wp_prediction_t *out, size_t capacity)
{
    return wp_engine_predict_for (self, 0, pattern, n_pattern, now_ms, out, capacity);
}

//  The horizon.
uint32_t
wp_engine_horizon_s (wp_engine_t *self)
{
    return self->opts.horizon_s;
}

//  The ensemble's weights.
const double *
wp_engine_weights (wp_engine_t *self, uint64_t *updates)
{
    if (updates)
        *updates = self->updates;
    return self->w;
}

//  Bytes held.
size_t
wp_engine_state_bytes (wp_engine_t *self)
{
    size_t models = self->names ? (size_t) self->loads_cap * sizeof (uint32_t)
                  : ((size_t) self->model_mask + 1) * (sizeof (uint64_t) + sizeof (uint32_t));
    return sizeof *self + ((size_t) self->mask + 1) * sizeof (uint32_t)
         + (size_t) self->entries_cap * sizeof (entry_t) + models;
}
