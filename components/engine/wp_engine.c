/*  =========================================================================
    wp_engine - PredictionEngine core.
    =========================================================================
*/
#include <czmq.h>
#include <math.h>
#include "wp_engine.h"
#include "wp_names.h"
#include "wp_util.h"

//  Pseudo observations a pair's own evidence is weighed against at each
//  level of the idle-time survival (and of the wait behind a cold start):
//  the population's estimate counts as this many idle times. Two: a pair's
//  own data outweighs the population once it has seen a few idle times
//  that long (an empirical-Bayes shrinkage; the results barely move
//  between 1 and 5, docs/evaluation.md).
#define PRIOR_WEIGHT 2.0
//  The population's idle times fade with this half-life, ms: the
//  analyzer's default for a pair's own (a whole daily cycle).
#define POP_HALF_LIFE_MS 86400000.0
//  The population survival is computed again after this much event time
//  (it moves on the scale of its half-life; a minute is 1/1440 of it).
#define POP_REFRESH_MS 60000
//  A pair's last idle times longer than its load, kept exactly for windows.
#define RING 4
//  Half-widths of the windows tried around the median of those, as a
//  fraction of it; each one's hit rate is learned (a pre-warm pays only
//  where the next request can be foreseen that precisely).
#define TOLS 6
static const double s_tol [TOLS] = { 0.005, 0.01, 0.02, 0.05, 0.1, 0.2 };
//  A window is used only where its learned hit rate is at least this:
//  the service's false-positive target for pre-warms (under 10 %).
#define WINDOW_HIT_MIN 0.9
//  The windows' hit counts fade by this factor per long idle time.
#define HIT_DECAY 0.999
#define FEATURE_CLIP 8.0        //  |logit| features are clipped to this
#define TABLE_MIN 256           //  smallest learning table index, slots
#define PROBE_MAX 8             //  a full table replaces after this many probes
#define LEVELS WP_IDLE_BINS     //  survival levels: the idle-time bins' edges

//  Features: bias, histogram logit, Markov next, Markov next2, co-use,
//  log season, anomaly, confidence.
enum { F_BIAS, F_HIST, F_NEXT, F_NEXT2, F_COUSE, F_SEASON, F_ANOMALY, F_CONF };

static const double s_w_init [WP_ENGINE_FEATURES] = { 0, 1, 3, 3, 1, 0, 0, 0 };

//  What the engine remembers of one (user, model) pair: the prediction
//  waiting for its outcome, the cached plan, and what the window and the
//  price of a cold start are learned from.
typedef struct {
    uint64_t key;               //  pair key, 0 = empty slot
    uint64_t made_ms;           //  when the pending prediction was made, 0 none
    uint64_t seen_ms;           //  the pair's latest request seen
    float x [WP_ENGINE_FEATURES - 1];   //  its features but the bias (1)
    uint32_t plan_count;        //  pair count the plan was made at, 0 none
    uint32_t plan_key;          //  load, memory and price it assumed (s_plan_key)
    uint32_t keep_ms;           //  plan: keep for, ms
    float p_horizon;            //  P(idle <= horizon) of the distribution
    float expected_ms;          //  its mean idle time
    float gap_q [WP_PREDICTION_QUANTILES];  //  its quantiles
    uint32_t ring [RING];       //  the last idle times longer than the load, ms
    float waits_s;              //  wait of the requests queued behind a cold
    float waits_n;              //  start (s), and how many cold starts
    uint32_t run_back;          //  seen_ms - the request that ended its latest
                                //  long idle time (UINT32_MAX: none or long ago)
    uint32_t older, newer;      //  census: the pairs asked before and after it
                                //  (index + 1, 0: none)
    uint32_t window;            //  its window_t once its ring is full (index +
                                //  1, 0: none)
    uint8_t ring_n : 3;         //  idle times in the ring
    uint8_t ring_at : 2;        //  its next slot
    uint8_t fresh_long : 1;     //  a long idle time since the plan was made
    uint8_t missed : 1;         //  an idle time past the plan's keep since
    uint8_t crossed;            //  census: highest level counted (LEVELS: none)
    uint8_t category;           //  what its latest plan found (wp_category_t)
} entry_t;

_Static_assert (sizeof (entry_t) <= 136, "a pair's entry stays small");
_Static_assert (RING == 4, "ring_n and ring_at are 3 and 2 bits");

//  What a pair learns of its windows once its ring is full (a window is
//  tried only then), and its plan's window.
typedef struct {
    float hits [TOLS];          //  how often the next one fell in each window
    float trials;               //  and how often it was tried (faded)
    uint32_t w_start, w_end;    //  plan: resident again from, to, ms after the
                                //  request (0, 0: no window); a free record:
                                //  w_start is the next free (index + 1)
} window_t;

//  What the engine knows of a model: its load time and memory (0: unknown).
typedef struct {
    uint32_t load_ms;           //  load time, ms
    uint32_t memory_mb;         //  memory when resident, MiB
} model_t;

struct _wp_engine_t {
    wp_engine_opts_t opts;      //  effective options
    double horizon_ms;          //  horizon, ms
    double w [WP_ENGINE_FEATURES];  //  ensemble weights
    uint64_t updates;           //  training steps so far
    uint64_t epoch;             //  price changes so far (plans made again)
    uint32_t *slots;            //  pairs: index of entries + 1 (0 empty),
                                //  open addressing, at most 3/4 full
    uint32_t mask;              //  slots - 1
    entry_t *entries;           //  the pairs' entries, dense
    uint32_t used;              //  entries in use
    uint32_t entries_cap;       //  capacity of entries []
    uint64_t *model_keys;       //  models: FNV-1a of the name (never 0; 0
    model_t *model_info;        //  empty) and its load time and memory;
    uint32_t model_mask;        //  open addressing, at most 3/4 full (keyed
    uint32_t model_count;       //  by hash, as the pairs are: no names kept)
    wp_names_t *names;          //  or, with shared names (borrowed): the load
    model_t *loads;             //  time and memory of each id (0: unknown),
    uint32_t loads_n, loads_cap;    //  for ids below loads_n
    //  The population: all pairs' idle times, for the levels a pair has
    //  seen little of. Kaplan-Meier with censoring: an idle time still
    //  running counts as surviving the levels it passed (without it, the
    //  pairs that never come back would be missing from the estimate).
    double done [LEVELS + 1];   //  ended idle times >= level j (faded)
    uint64_t done_ms;           //  when done [] was faded last
    uint64_t idle [LEVELS + 1]; //  pairs idle now for >= level j
    uint32_t oldest, newest;    //  the census' pairs, by their latest request
                                //  (index + 1, 0: none)
    uint32_t cursor [LEVELS];   //  level j: the oldest pair not counted yet
                                //  (index + 1, 0: every pair is counted)
    uint64_t census_ms;         //  census advanced to
    double pop_q [LEVELS];      //  P(idle >= level j+1 | >= level j)
    double prior_q [LEVELS];    //  the same where nothing is known (0: the
                                //  scale-free prior; else a model file's)
    uint64_t pop_ms;            //  when pop_q was computed (0: never)
    double waits_s, waits_n;    //  waits behind cold starts, all pairs (faded)
    double hits [TOLS];         //  windows' hits, all pairs (faded)
    double trials;              //  and tries
    window_t *windows;          //  the pairs' window records
    uint32_t windows_used;      //  records handed out (dense, below this)
    uint32_t windows_cap;       //  capacity of windows []
    uint32_t windows_free;      //  a record given back (index + 1, 0: none)
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
    if (!self->opts.default_memory_mb)
        self->opts.default_memory_mb = 512;
    if (!(self->opts.cold_wait_price > 0 && isfinite (self->opts.cold_wait_price)))
        self->opts.cold_wait_price = WP_ENGINE_PRICE_DEFAULT;
    if (!self->opts.max_pairs)
        self->opts.max_pairs = 1000000;
    self->horizon_ms = self->opts.horizon_s * 1000.0;
    memcpy (self->w, s_w_init, sizeof self->w);
    self->mask = TABLE_MIN - 1;
    self->slots = (uint32_t *) calloc (TABLE_MIN, sizeof (uint32_t));
    assert (self->slots);
    self->names = self->opts.names;
    if (!self->names) {
        self->model_mask = 15;
        self->model_keys = (uint64_t *) calloc (16, sizeof (uint64_t));
        self->model_info = (model_t *) calloc (16, sizeof (model_t));
        assert (self->model_keys && self->model_info);
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
    free (self->windows);
    free (self->model_keys);
    free (self->model_info);
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
    model_t *info = self->model_info;
    self->model_mask = old_size * 2 - 1;
    self->model_keys = (uint64_t *) calloc (old_size * 2, sizeof (uint64_t));
    self->model_info = (model_t *) calloc (old_size * 2, sizeof (model_t));
    assert (self->model_keys && self->model_info);
    for (uint32_t j = 0; j < old_size; j++)
        if (keys [j]) {
            uint32_t i = s_model_slot (self, keys [j]);
            self->model_keys [i] = keys [j];
            self->model_info [i] = info [j];
        }
    free (keys);
    free (info);
}

//  Describe a model's load time and memory.
void
wp_engine_model (wp_engine_t *self, const char *name, uint32_t load_ms, uint32_t memory_mb)
{
    assert (self && name);
    if (!load_ms && !memory_mb)
        return;
    model_t *model;
    if (self->names) {
        uint32_t id = wp_names_add (self->names, name);
        if (id == WP_NAMES_NONE)
            return;                     //  a name no model can have
        self->loads = (model_t *) wp_names_room (self->loads, &self->loads_cap, id,
                                                 sizeof (model_t));
        assert (self->loads);
        while (self->loads_n <= id)
            self->loads [self->loads_n++] = (model_t) { 0, 0 };
        model = &self->loads [id];
    }
    else {
        uint64_t key = s_model_key (name);
        uint32_t i = s_model_slot (self, key);
        if (!self->model_keys [i]) {
            if ((self->model_count + 1) * 4 > (self->model_mask + 1) * 3) {
                s_models_grow (self);
                i = s_model_slot (self, key);
            }
            self->model_keys [i] = key;
            self->model_info [i] = (model_t) { 0, 0 };
            self->model_count++;
        }
        model = &self->model_info [i];
    }
    if (load_ms)
        model->load_ms = load_ms;
    if (memory_mb)
        model->memory_mb = memory_mb;
}

//  Load time and memory of a model, by its name and its name's FNV-1a
//  hash; the defaults for what is unknown.
static model_t
s_model (wp_engine_t *self, const char *name, uint64_t name_hash)
{
    model_t model = { 0, 0 };
    if (self->names) {
        uint32_t id = wp_names_find_fnv1a (self->names, name, name_hash);
        if (id < self->loads_n)
            model = self->loads [id];
    }
    else {
        uint32_t i = s_model_slot (self, name_hash ? name_hash : 1);
        if (self->model_keys [i])
            model = self->model_info [i];
    }
    if (!model.load_ms)
        model.load_ms = self->opts.default_load_ms;
    if (!model.memory_mb)
        model.memory_mb = self->opts.default_memory_mb;
    return model;
}

//  Load time and memory the engine plans a model with.
void
wp_engine_model_info (wp_engine_t *self, const char *name, uint32_t *load_ms,
                      uint32_t *memory_mb)
{
    assert (self && name && load_ms && memory_mb);
    model_t model = s_model (self, name, wp_names_fnv1a (name));
    *load_ms = model.load_ms;
    *memory_mb = model.memory_mb;
}

//  Key of a (user, model) pair from the model's name hash, never 0.
static uint64_t
s_key (uint64_t user, uint64_t name_hash)
{
    uint64_t key = wp_mix64 (user ^ wp_mix64 (name_hash));
    return key ? key : 1;
}

//  The bins' edges and representatives (shared by every engine).
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

//  Take a pair out of the census (a new request, or its entry reused):
//  uncounted at the levels it reached, unlinked from the pairs by recency.
static void
s_census_leave (wp_engine_t *self, entry_t *entry)
{
    if (entry->crossed == LEVELS)
        return;
    uint32_t me = (uint32_t) (entry - self->entries) + 1;
    for (int j = 0; j <= entry->crossed; j++)
        self->idle [j]--;
    //  The levels whose oldest uncounted pair it is follow the last one
    //  it was counted at (a higher level's cursor is never newer).
    for (int j = entry->crossed + 1; j < LEVELS && self->cursor [j] == me; j++)
        self->cursor [j] = entry->newer;
    if (entry->older)
        self->entries [entry->older - 1].newer = entry->newer;
    else
        self->oldest = entry->newer;
    if (entry->newer)
        self->entries [entry->newer - 1].older = entry->older;
    else
        self->newest = entry->older;
    entry->older = entry->newer = 0;
    entry->crossed = LEVELS;
}

//  Count the pairs whose idle time has reached further levels by now:
//  each level's cursor walks the pairs from the oldest request on.
static void
s_census_advance (wp_engine_t *self, uint64_t now_ms)
{
    if (now_ms <= self->census_ms)
        return;
    self->census_ms = now_ms;
    for (int j = 1; j < LEVELS; j++) {
        uint64_t level = (uint64_t) s_edges [j];
        while (self->cursor [j]) {
            entry_t *entry = &self->entries [self->cursor [j] - 1];
            if (entry->seen_ms + level > now_ms)
                break;
            self->idle [j]++;
            entry->crossed = (uint8_t) j;
            self->cursor [j] = entry->newer;
        }
    }
}

//  A pair starts an idle time at now_ms: the newest of the census,
//  counted at level 0, at no other yet.
static void
s_census_enter (wp_engine_t *self, entry_t *entry, uint64_t now_ms)
{
    s_census_leave (self, entry);
    uint32_t me = (uint32_t) (entry - self->entries) + 1;
    entry->older = self->newest;
    entry->newer = 0;
    if (self->newest)
        self->entries [self->newest - 1].newer = me;
    else
        self->oldest = me;
    self->newest = me;
    entry->crossed = 0;
    self->idle [0]++;
    //  Where every pair was counted (the lowest levels first), it is the
    //  oldest uncounted now.
    for (int j = 1; j < LEVELS && !self->cursor [j]; j++)
        self->cursor [j] = me;
}

//  Room in array (of size-byte items, *cap of them) for one more at index
//  used: 64, then an eighth more each time (little capacity held unused).
static void *
s_reserve (void *array, uint32_t used, uint32_t *cap, size_t size)
{
    if (used < *cap)
        return array;
    *cap = used < 64 ? 64 : used + used / 8;
    void *grown = realloc (array, (size_t) *cap * size);
    assert (grown);
    return grown;
}

//  A pair's window record, NULL before its ring is full.
static inline window_t *
s_window_of (wp_engine_t *self, const entry_t *entry)
{
    return entry->window ? &self->windows [entry->window - 1] : NULL;
}

//  Give a pair a window record (empty).
static void
s_window_new (wp_engine_t *self, entry_t *entry)
{
    uint32_t index;
    if (self->windows_free) {
        index = self->windows_free - 1;
        self->windows_free = self->windows [index].w_start;
    }
    else {
        self->windows = (window_t *) s_reserve (self->windows, self->windows_used,
                                                &self->windows_cap, sizeof (window_t));
        index = self->windows_used++;
    }
    memset (&self->windows [index], 0, sizeof (window_t));
    entry->window = index + 1;
}

//  A fresh entry for key (its old pair, if any, leaves the census and
//  gives its window record back).
static entry_t *
s_entry_reset (wp_engine_t *self, entry_t *entry, uint64_t key)
{
    if (entry->key)
        s_census_leave (self, entry);
    if (entry->window) {
        self->windows [entry->window - 1].w_start = self->windows_free;
        self->windows_free = entry->window;
    }
    memset (entry, 0, sizeof *entry);
    entry->key = key;
    entry->crossed = LEVELS;
    return entry;
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

//  The entry of a pair, NULL if the engine does not know it.
static entry_t *
s_entry_find (wp_engine_t *self, uint64_t key)
{
    uint32_t home = (uint32_t) key & self->mask;
    for (uint32_t probe = 0; probe <= self->mask; probe++) {
        uint32_t slot = self->slots [(home + probe) & self->mask];
        if (!slot)
            return NULL;
        if (self->entries [slot - 1].key == key)
            return &self->entries [slot - 1];
        if (probe >= PROBE_MAX && (self->mask + 1) / 2 >= self->opts.max_pairs)
            break;          //  as far as s_entry looks in a table at its bound
    }
    return NULL;
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
            self->entries = (entry_t *) s_reserve (self->entries, self->used,
                                                   &self->entries_cap, sizeof (entry_t));
            *slot = ++self->used;
            entry_t *entry = &self->entries [*slot - 1];
            entry->key = 0;
            entry->window = 0;
            return s_entry_reset (self, entry, key);
        }
        if (probe >= PROBE_MAX && (self->mask + 1) / 2 >= self->opts.max_pairs)
            break;
    }
    return s_entry_reset (self, &self->entries [self->slots [home] - 1], key);
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

//  A pair's features into x (WP_ENGINE_FEATURES): the bias, 1, and the
//  ones it keeps.
static void
s_x_get (const entry_t *slot, float *x)
{
    x [F_BIAS] = 1;
    memcpy (x + 1, slot->x, sizeof slot->x);
}

//  Keep features x in a pair (but the bias: 1).
static void
s_x_put (entry_t *slot, const float *x)
{
    assert (x [F_BIAS] == 1);
    memcpy (slot->x, x + 1, sizeof slot->x);
}

//  The residency (ms) that a cold start of a model costs as much as: the
//  wait of the request and of those queued behind it (waits_ms) at the
//  price, over the model's GiB, plus the load's own residency (a cold
//  load is resident while it loads, as a pre-warm is).
static double
s_break_even (wp_engine_t *self, double load_ms, double memory_mb, double waits_ms)
{
    return self->opts.cold_wait_price * waits_ms * 1024.0 / memory_mb + load_ms;
}

//  Key of what a plan assumed: the load time, the memory and the price
//  epoch (a plan is made again when one of them changed).
static uint32_t
s_plan_key (wp_engine_t *self, const model_t *model)
{
    uint64_t key = wp_mix64 (((uint64_t) model->load_ms << 32 | model->memory_mb)
                             ^ wp_mix64 (self->epoch));
    return (uint32_t) (key ^ key >> 32);
}

//  Fade the population's ended idle times and waits to now.
static void
s_pop_fade (wp_engine_t *self, uint64_t now_ms)
{
    if (now_ms <= self->done_ms)
        return;
    if (self->done_ms) {
        double keep = exp2 (-(double) (now_ms - self->done_ms) / POP_HALF_LIFE_MS);
        for (int j = 0; j <= LEVELS; j++)
            self->done [j] *= keep;
        self->waits_s *= keep;
        self->waits_n *= keep;
    }
    self->done_ms = now_ms;
}

//  The population's conditional survival per level, computed again when
//  POP_REFRESH_MS of event time passed: Kaplan-Meier over the ended idle
//  times (faded) and the running ones (censored within their level).
static const double *
s_pop_survival (wp_engine_t *self, uint64_t now_ms)
{
    if (self->pop_ms && now_ms < self->pop_ms + POP_REFRESH_MS)
        return self->pop_q;
    s_census_advance (self, now_ms);
    s_pop_fade (self, now_ms);
    for (int j = 0; j < LEVELS; j++) {
        double at_risk = self->done [j] + (double) self->idle [j];
        double ended = self->done [j] - self->done [j + 1];
        double censored = (double) self->idle [j] - (double) self->idle [j + 1];
        double exposed = at_risk - censored / 2;
        //  Where nothing is known yet (a new service, the longest idle
        //  times), idle times are taken to be scale-free: as likely to
        //  last twice as long as they have already lasted (S ~ 1 / t).
        double lindy = s_edges [j] > 0 ? s_edges [j] / s_edges [j + 1] : 0.5;
        double prior = self->prior_q [j] > 0 ? self->prior_q [j] : lindy;
        double q = (exposed - ended + PRIOR_WEIGHT * prior) / (exposed + PRIOR_WEIGHT);
        self->pop_q [j] = q < 0 ? 0 : q > 1 ? 1 : q;
    }
    self->pop_ms = now_ms ? now_ms : 1;
    return self->pop_q;
}

//  A pair's survival S [j] = P(idle >= level j), j = 0..LEVELS (S [LEVELS]
//  = 0): per level, its own idle times (the analyzer's faded counts)
//  against the population's estimate weighed as PRIOR_WEIGHT of them.
static void
s_survival (const wp_pattern_t *entry, const double *pop_q, double *survival)
{
    double tail [LEVELS + 1];
    tail [LEVELS] = 0;
    for (int i = LEVELS - 1; i >= 0; i--)
        tail [i] = tail [i + 1] + (entry->hist ? entry->hist [i] : 0);
    survival [0] = 1;
    for (int j = 0; j + 1 < LEVELS; j++) {
        double q = (tail [j + 1] + PRIOR_WEIGHT * pop_q [j]) / (tail [j] + PRIOR_WEIGHT);
        survival [j + 1] = survival [j] * (q < 0 ? 0 : q > 1 ? 1 : q);
    }
    survival [LEVELS] = 0;
}

//  Probability mass per bin of a survival curve.
static void
s_mass (const double *survival, double *mass)
{
    for (int i = 0; i < LEVELS; i++)
        mass [i] = survival [i] - survival [i + 1];
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

//  The cost-minimising keep.
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
    //  Keep to edge k: resident min (idle, a [k]), a cold start past it.
    double cheapest = INFINITY;
    for (int k = 0; k < n; k++) {
        double cost = pm [k] + tail [k] * s_edges [k] + break_even_ms * tail [k];
        if (cost < cheapest - 1e-9) {
            cheapest = cost;
            plan->keep_bin = k;
        }
    }
    plan->keep_ms = (uint64_t) s_edges [plan->keep_bin];
    plan->cost = cheapest;
    plan->p_horizon = s_cdf (p, horizon_ms);
    plan->expected_ms = pm [n];
    //  Quantiles, uniform within a bin.
    static const double levels [WP_PREDICTION_QUANTILES] = { 0.25, 0.5, 0.75, 0.9, 0.99 };
    double cum = 0;
    int q = 0;
    for (int i = 0; i < n && q < WP_PREDICTION_QUANTILES; i++) {
        while (q < WP_PREDICTION_QUANTILES && cum + p [i] >= levels [q] - 1e-12) {
            double into = p [i] > 0 ? (levels [q] - cum) / p [i] : 0;
            into = into < 0 ? 0 : into > 1 ? 1 : into;
            plan->gap_q [q++] = s_edges [i] + into * (s_edges [i + 1] - s_edges [i]);
        }
        cum += p [i];
    }
    while (q < WP_PREDICTION_QUANTILES)
        plan->gap_q [q++] = s_edges [n];
}

//  Median of a pair's ring of long idle times, ms.
static double
s_ring_median (const entry_t *slot)
{
    uint32_t v [RING];
    memcpy (v, slot->ring, sizeof v);
    for (int i = 1; i < RING; i++)
        for (int j = i; j > 0 && v [j - 1] > v [j]; j--) {
            uint32_t t = v [j];
            v [j] = v [j - 1];
            v [j - 1] = t;
        }
    return (v [RING / 2 - 1] + (double) v [RING / 2]) / 2;
}

//  A pair's learned hit rate of the window of width t: its hits against
//  all pairs' rate at that width, weighed as PRIOR_WEIGHT tries.
static double
s_hit_rate (wp_engine_t *self, const entry_t *slot, int t)
{
    double all = (self->hits [t] + 1) / (self->trials + 2);
    const window_t *window = s_window_of (self, slot);
    float hits = window ? window->hits [t] : 0, trials = window ? window->trials : 0;
    return (hits + PRIOR_WEIGHT * all) / (trials + PRIOR_WEIGHT);
}

//  The window plan, if one costs less than keeping: keep to a level k,
//  then load again so the model is resident from just before the median
//  of the pair's last long idle times to just after it, at the width
//  whose learned hit rate (s_hit_rate, at least WINDOW_HIT_MIN) makes it
//  cheapest. The cost per idle time, as
//  the keep's: residency up to the keep, then, past it, the window's
//  residency when the request falls in it, else the window and a cold
//  start. Sets keep, start and end (ms after the request); false if
//  keeping (cost keep_cost) is cheaper.
static bool
s_window (wp_engine_t *self, const entry_t *slot, const double *survival, double load_ms,
          double break_even, double keep_cost, uint32_t *keep, uint32_t *start,
          uint32_t *end)
{
    if (slot->ring_n < RING)
        return false;
    double median = s_ring_median (slot);
    double best = keep_cost;
    bool found = false;
    for (int t = 0; t < TOLS; t++) {
        double from = median * (1 - s_tol [t]), to = median * (1 + s_tol [t]);
        double load_at = from - load_ms;
        double hit = s_hit_rate (self, slot, t);
        if (hit < WINDOW_HIT_MIN)
            continue;
        double past = hit * (median - load_at) + (1 - hit) * (to - load_at + break_even);
        double area = 0;
        for (int k = 0; k < LEVELS && s_edges [k] < load_at; k++) {
            double cost = area + survival [k] * past;
            if (cost < best - 1e-9) {
                best = cost;
                found = true;
                *keep = (uint32_t) s_edges [k];
                *start = (uint32_t) load_at;
                *end = (uint32_t) ceil (to);
            }
            area += (s_edges [k + 1] - s_edges [k]) * (survival [k] + survival [k + 1]) / 2;
        }
    }
    return found;
}

//  A pair's request ended an idle time of gap_ms (0: its first request):
//  the population, the window hit rates and ring, the waits behind cold
//  starts, and the census learn it.
static void
s_learn_gap (wp_engine_t *self, entry_t *slot, uint64_t now_ms, double gap_ms,
             double load_ms)
{
    if (slot->seen_ms && now_ms > slot->seen_ms) {
        if (slot->plan_count && gap_ms > slot->keep_ms)
            slot->missed = 1;           //  a cold start under the plan: news
        //  (faded when the survival is computed again: what ended since
        //  counts as ended then, POP_REFRESH_MS at most later)
        for (int j = 0; j <= LEVELS && gap_ms >= s_edges [j]; j++)
            self->done [j] += 1;
        //  Requests that would queue behind the cold start of a long idle
        //  time wait the rest of its load.
        uint64_t run = slot->run_back == UINT32_MAX ? 0 : slot->seen_ms - slot->run_back;
        if (run && (double) (now_ms - run) < load_ms) {
            double waited = (double) (run + (uint64_t) load_ms - now_ms) / 1000.0;
            slot->waits_s += (float) waited;
            self->waits_s += waited;
        }
        if (gap_ms > load_ms) {
            run = now_ms;
            slot->waits_n += 1;
            self->waits_n += 1;
            if (slot->ring_n == RING) {
                window_t *window = s_window_of (self, slot);
                double median = s_ring_median (slot);
                window->trials = window->trials * (float) HIT_DECAY + 1;
                self->trials = self->trials * HIT_DECAY + 1;
                for (int t = 0; t < TOLS; t++) {
                    bool hit = fabs (gap_ms - median) <= s_tol [t] * median;
                    window->hits [t] = window->hits [t] * (float) HIT_DECAY + hit;
                    self->hits [t] = self->hits [t] * HIT_DECAY + hit;
                }
            }
            slot->ring [slot->ring_at] = gap_ms < UINT32_MAX ? (uint32_t) gap_ms : UINT32_MAX;
            slot->ring_at = (uint8_t) ((slot->ring_at + 1) % RING);
            if (slot->ring_n < RING && ++slot->ring_n == RING && !slot->window)
                s_window_new (self, slot);
            slot->fresh_long = 1;
        }
        uint64_t back = run ? now_ms - run : UINT32_MAX;
        slot->run_back = back < UINT32_MAX ? (uint32_t) back : UINT32_MAX;
    }
    else
        slot->run_back = UINT32_MAX;
    s_census_enter (self, slot, now_ms);
}

//  The pair's wait behind a cold start, ms: its load plus what queued
//  behind its cold starts, per cold start (against the population's).
static double
s_waits_ms (wp_engine_t *self, const entry_t *slot, double load_ms)
{
    double pop = self->waits_n > 0 ? self->waits_s / self->waits_n : 0;
    double queued = (slot->waits_s + PRIOR_WEIGHT * pop) / (slot->waits_n + PRIOR_WEIGHT);
    return load_ms + 1000.0 * queued;
}

//  Break-even time of a model: the residency a cold start costs, ms.
double
wp_engine_break_even_ms (wp_engine_t *self, uint32_t load_ms, uint32_t memory_mb)
{
    double load = load_ms ? load_ms : self->opts.default_load_ms;
    return s_break_even (self, load, memory_mb ? memory_mb : self->opts.default_memory_mb,
                         load);
}

//  P(request within the horizon | idle for elapsed) and the expected time
//  until it, from a pair's idle-time quantiles (wp_prediction_cdf: linear
//  between them, to twice the last).
static void
s_conditional_q (const float *gap_q, double elapsed, double horizon_ms, double *p_h,
                 double *expected)
{
    double before = wp_prediction_cdf (gap_q, elapsed);
    double left = 1 - before;
    if (left < 1e-9) {
        *p_h = 0;
        *expected = 0;
        return;
    }
    *p_h = (wp_prediction_cdf (gap_q, elapsed + horizon_ms) - before) / left;
    //  E[idle - elapsed | idle > elapsed]: the survival's area past elapsed
    //  (linear between the points, so each piece is a trapezoid).
    double points [WP_PREDICTION_QUANTILES + 2];
    points [0] = 0;
    for (int q = 0; q < WP_PREDICTION_QUANTILES; q++)
        points [q + 1] = gap_q [q] > points [q] ? gap_q [q] : points [q];
    points [WP_PREDICTION_QUANTILES + 1] = 2.0 * points [WP_PREDICTION_QUANTILES];
    double area = 0;
    for (int i = 0; i + 1 < WP_PREDICTION_QUANTILES + 2; i++) {
        double low = points [i] > elapsed ? points [i] : elapsed, high = points [i + 1];
        if (high <= low)
            continue;
        area += (high - low) * (2 - wp_prediction_cdf (gap_q, low)
                                  - wp_prediction_cdf (gap_q, high)) / 2;
    }
    *expected = area / left;
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

//  What a pair's arrivals allow, from its plan: few idle times of its own,
//  a window, or where its median and 90th percentile idle times fall
//  against the load and the keep.
static wp_category_t
s_category (const entry_t *slot, uint32_t window_end, const wp_pattern_t *entry,
            const wp_plan_t *plan, double load_ms)
{
    if (entry->hist_total < RING)
        return WP_CATEGORY_NEW;
    if (window_end)
        return WP_CATEGORY_PERIODIC;
    double median = plan->gap_q [1], q90 = plan->gap_q [3];
    if (median < load_ms)
        return WP_CATEGORY_ALWAYS_ON;
    if (median > slot->keep_ms)
        return WP_CATEGORY_RARE;
    return q90 <= slot->keep_ms ? WP_CATEGORY_DENSE : WP_CATEGORY_SUCCESSIVE;
}

//  Learn from the pair's pending prediction: asked within the horizon
//  (asked: this is its request) or known not to have been.
static void
s_learn_pending (wp_engine_t *self, entry_t *slot, bool asked, uint64_t now_ms)
{
    if (!slot->made_ms || now_ms < slot->made_ms)
        return;
    double since = (double) (now_ms - slot->made_ms);
    float x [WP_ENGINE_FEATURES];
    s_x_get (slot, x);
    if (asked && since > 0) {
        s_train (self, x, since <= self->horizon_ms ? 1 : 0);
        slot->made_ms = 0;
    }
    else
    if (since > self->horizon_ms) {
        s_train (self, x, 0);
        slot->made_ms = 0;
    }
}

//  Make the pair's plan again unless the cached one still holds. It is
//  cached until the histogram grew by 1/8, an idle time outlasted its
//  keep, an idle time longer than a load came to a pair with a window's
//  worth of them (its tail and the window's evidence changed), or the
//  load, memory or price changed.
static void
s_replan (wp_engine_t *self, entry_t *slot, const wp_pattern_t *entry,
          const model_t *model, const double *pop_q, double load_ms, double break_even)
{
    uint32_t count = (uint32_t) (entry->count < UINT32_MAX ? entry->count : UINT32_MAX);
    uint32_t step = slot->plan_count / 8;
    step = step < 1 ? 1 : step > 16 ? 16 : step;
    uint32_t plan_key = s_plan_key (self, model);
    if (slot->plan_count && slot->plan_key == plan_key
        && !slot->missed && !(slot->fresh_long && slot->ring_n == RING)
        && count >= slot->plan_count && count - slot->plan_count < step)
        return;
    double survival [LEVELS + 1], mass [WP_IDLE_BINS];
    s_survival (entry, pop_q, survival);
    s_mass (survival, mass);
    wp_plan_t plan;
    wp_engine_plan (mass, load_ms, break_even, self->horizon_ms, &plan);
    uint32_t keep = (uint32_t) plan.keep_ms, start = 0, end = 0;
    s_window (self, slot, survival, load_ms, break_even, plan.cost, &keep, &start, &end);
    slot->plan_count = count ? count : 1;
    slot->plan_key = plan_key;
    slot->fresh_long = 0;
    slot->missed = 0;
    slot->keep_ms = keep;
    window_t *window = s_window_of (self, slot);
    assert (window || !end);                //  (a window needs a full ring)
    if (window) {
        window->w_start = start;
        window->w_end = end;
    }
    slot->p_horizon = (float) plan.p_horizon;
    slot->expected_ms = (float) plan.expected_ms;
    for (int q = 0; q < WP_PREDICTION_QUANTILES; q++)
        slot->gap_q [q] = (float) plan.gap_q [q];
    slot->category = (uint8_t) s_category (slot, end, entry, &plan, load_ms);
}

//  The model just asked for: learn its gap, refresh its plan and answer
//  from the plan (keep, window, category).
static void
s_predict_fresh (wp_engine_t *self, entry_t *slot, const wp_pattern_t *entry,
                 const model_t *model, const double *pop_q, double break_even,
                 uint64_t now_ms, wp_prediction_t *out)
{
    double load_ms = model->load_ms;
    if (now_ms != slot->seen_ms) {
        double gap = slot->seen_ms && now_ms > slot->seen_ms
                   ? (double) (now_ms - slot->seen_ms) : 0;
        s_learn_gap (self, slot, now_ms, gap, load_ms);
        slot->seen_ms = now_ms;
    }
    s_replan (self, slot, entry, model, pop_q, load_ms, break_even);
    out->category = slot->category;
    memcpy (out->gap_q, slot->gap_q, sizeof out->gap_q);
    out->keep_until_ms = now_ms + slot->keep_ms;
    const window_t *window = s_window_of (self, slot);
    if (window && window->w_end) {
        out->prewarm_at_ms = now_ms + window->w_start;
        out->hold_until_ms = now_ms + window->w_end;
    }
}

//  The ensemble's features of the pair a request changed into x (no
//  link: it is the latest model).
static void
s_features (float *x, const wp_pattern_t *entry, double p_hist, double confidence)
{
    x [F_BIAS] = 1;
    x [F_HIST] = (float) s_logit (p_hist);
    x [F_NEXT] = x [F_NEXT2] = x [F_COUSE] = 0;
    double season = entry->season > 0 ? log (entry->season) : 0;
    x [F_SEASON] = (float) (season < -3 ? -3 : season > 3 ? 3 : season);
    x [F_ANOMALY] = (float) tanh (entry->anomaly / 4);
    x [F_CONF] = (float) confidence;
}

//  A follower's link features into x, from the latest pair's links;
//  delays: the learned delays after the latest model and after the one
//  before it.
static void
s_link_features (float *x, const wp_pattern_t *latest, const char *name, double delays [2])
{
    x [F_NEXT] = (float) s_link_share (latest->next, latest->n_next, name, &delays [0]);
    x [F_NEXT2] = (float) s_link_share (latest->next2, latest->n_next2, name, &delays [1]);
    x [F_COUSE] = (float) s_link_share (latest->couse, latest->n_couse, name, NULL);
}

//  A model that follows the latest one: a window at the learned delay
//  when the expected saving pays for the memory.
static void
s_follow_window (const float *x, const double delays [2], double probability,
                 double break_even, double load_ms, uint64_t now_ms, wp_prediction_t *out)
{
    if (!(x [F_NEXT] > 0 || x [F_NEXT2] > 0 || x [F_COUSE] > 0))
        return;
    double delay = x [F_NEXT2] > x [F_NEXT] ? delays [1] : delays [0];
    double start = delay - load_ms > 0 ? delay - load_ms : 0;
    double until = delay + (delay > 60000 ? delay : 60000);
    double cost = until - start;
    if (probability * break_even > cost) {
        out->category = WP_CATEGORY_CORRELATED;
        out->prewarm_at_ms = now_ms + (uint64_t) start;
        out->hold_until_ms = now_ms + (uint64_t) until;
        if (out->expected_in_ms > (uint64_t) delay)
            out->expected_in_ms = (uint64_t) delay;
    }
}

//  The pair a request changed: learn from it, predict it, plan it.
static void
s_predict_pair (wp_engine_t *self, uint64_t user_hash, const wp_pattern_t *entry,
                uint64_t now_ms, wp_prediction_t *out)
{
    memset (out, 0, sizeof *out);
    out->model = entry->model;
    //  The name is hashed once: it keys the pair and the load time
    uint64_t name_hash = wp_names_fnv1a (entry->model);
    entry_t *slot = s_entry (self, s_key (user_hash, name_hash));
    model_t model = s_model (self, entry->model, name_hash);
    double load_ms = model.load_ms;
    out->load_ms = model.load_ms;
    out->last_ms = entry->last_ms;
    double n = entry->hist_total;
    double confidence = n / (n + PRIOR_WEIGHT);
    s_learn_pending (self, slot, entry->last_ms == now_ms, now_ms);
    const double *pop_q = s_pop_survival (self, now_ms);
    double waits_ms = s_waits_ms (self, slot, load_ms);
    double break_even = s_break_even (self, load_ms, model.memory_mb, waits_ms);
    s_predict_fresh (self, slot, entry, &model, pop_q, break_even, now_ms, out);
    float x [WP_ENGINE_FEATURES];
    s_features (x, entry, slot->p_horizon, confidence);
    s_x_put (slot, x);
    slot->made_ms = now_ms;
    double expected = slot->expected_ms;
    out->probability = s_score (self, x);
    out->confidence = confidence;
    out->expected_in_ms = (uint64_t) (expected > 0 ? expected : 0);
    out->benefit_ms = waits_ms;
}

//  A model a link of the user's latest pair names: predicted from what
//  the engine kept of its pair (the quantiles of its last plan given how
//  long it has been idle, its season, rate anomaly and confidence as its
//  last prediction had them) and the link weights; a window at the
//  learned delay when the expected saving pays for the memory. False when
//  the engine does not know the pair.
static bool
s_predict_follower (wp_engine_t *self, uint64_t user_hash, const wp_pattern_t *latest,
                    const char *name, uint64_t now_ms, wp_prediction_t *out)
{
    uint64_t name_hash = wp_names_fnv1a (name);
    entry_t *slot = s_entry_find (self, s_key (user_hash, name_hash));
    if (!slot || !slot->seen_ms || !slot->plan_count)
        return false;
    memset (out, 0, sizeof *out);
    out->model = name;
    model_t model = s_model (self, name, name_hash);
    double load_ms = model.load_ms;
    out->load_ms = model.load_ms;
    out->last_ms = slot->seen_ms;
    s_learn_pending (self, slot, false, now_ms);
    double elapsed = now_ms > slot->seen_ms ? (double) (now_ms - slot->seen_ms) : 0;
    double p_hist, expected;
    s_conditional_q (slot->gap_q, elapsed, self->horizon_ms, &p_hist, &expected);
    double waits_ms = s_waits_ms (self, slot, load_ms);
    double break_even = s_break_even (self, load_ms, model.memory_mb, waits_ms);
    float x [WP_ENGINE_FEATURES];
    s_x_get (slot, x);
    double delays [2] = { 0, 0 };
    x [F_HIST] = (float) s_logit (p_hist);
    s_link_features (x, latest, name, delays);
    s_x_put (slot, x);
    slot->made_ms = now_ms;
    double probability = s_score (self, x);
    out->probability = probability;
    out->confidence = x [F_CONF];
    out->expected_in_ms = (uint64_t) (expected > 0 ? expected : 0);
    out->benefit_ms = waits_ms;
    out->category = slot->category;
    memcpy (out->gap_q, slot->gap_q, sizeof out->gap_q);
    s_follow_window (x, delays, probability, break_even, load_ms, now_ms, out);
    return true;
}

//  Add a linked model to the followers once (not the pair's own model).
static size_t
s_follower_add (const char **names, size_t n, const wp_link_t *links, uint8_t n_links,
                const char *own)
{
    for (uint8_t i = 0; i < n_links; i++) {
        const char *name = links [i].model;
        if (!name || !*name || streq (name, own))
            continue;
        size_t k = 0;
        while (k < n && !streq (names [k], name))
            k++;
        if (k == n)
            names [n++] = name;
    }
    return n;
}

//  A pair changed: predict it and the models that follow it.
size_t
wp_engine_update (wp_engine_t *self, uint64_t user_hash, const wp_pattern_t *pair,
                  uint64_t now_ms, wp_prediction_t *out, size_t capacity)
{
    assert (self && pair && out);
    s_edges_init ();
    size_t limit = capacity < self->opts.max_models ? capacity : self->opts.max_models;
    if (limit == 0 || !pair->model)
        return 0;
    s_predict_pair (self, user_hash, pair, now_ms, &out [0]);
    const char *names [3 * WP_PATTERN_LINKS];
    size_t n_names = s_follower_add (names, 0, pair->next, pair->n_next, pair->model);
    n_names = s_follower_add (names, n_names, pair->next2, pair->n_next2, pair->model);
    n_names = s_follower_add (names, n_names, pair->couse, pair->n_couse, pair->model);
    wp_prediction_t followers [3 * WP_PATTERN_LINKS];
    size_t order [3 * WP_PATTERN_LINKS], n = 0;
    for (size_t i = 0; i < n_names; i++) {
        if (!s_predict_follower (self, user_hash, pair, names [i], now_ms, &followers [n]))
            continue;
        //  Stable insertion by probability, highest first.
        size_t at = n;
        while (at > 0 && followers [order [at - 1]].probability < followers [n].probability) {
            order [at] = order [at - 1];
            at--;
        }
        order [at] = n++;
    }
    size_t written = 1;
    for (size_t i = 0; i < n && written < limit; i++)
        out [written++] = followers [order [i]];
    return written;
}

//  A pair from a snapshot: known as of its latest request, planned.
bool
wp_engine_restore (wp_engine_t *self, uint64_t user_hash, const wp_pattern_t *pair,
                   uint64_t now_ms)
{
    assert (self && pair);
    s_edges_init ();
    if (!pair->model || !*pair->model || !pair->last_ms)
        return false;
    uint64_t name_hash = wp_names_fnv1a (pair->model);
    uint64_t key = s_key (user_hash, name_hash);
    entry_t *slot = s_entry_find (self, key);
    if (slot && slot->seen_ms >= pair->last_ms)
        return false;
    slot = slot ? slot : s_entry (self, key);
    //  Its idle time started at a request the census did not see
    s_census_leave (self, slot);
    slot->seen_ms = pair->last_ms;
    slot->run_back = UINT32_MAX;
    slot->made_ms = 0;
    model_t model = s_model (self, pair->model, name_hash);
    const double *pop_q = s_pop_survival (self, now_ms);
    double waits_ms = s_waits_ms (self, slot, model.load_ms);
    double break_even = s_break_even (self, model.load_ms, model.memory_mb, waits_ms);
    s_replan (self, slot, pair, &model, pop_q, model.load_ms, break_even);
    double n = pair->hist_total;
    float x [WP_ENGINE_FEATURES];
    s_features (x, pair, slot->p_horizon, n / (n + PRIOR_WEIGHT));
    s_x_put (slot, x);
    return true;
}

//  Pairs known.
size_t
wp_engine_pairs (wp_engine_t *self)
{
    assert (self);
    return self->used;
}

//  Change the price of a second of cold wait (plans are made again).
void
wp_engine_set_price (wp_engine_t *self, double cold_wait_price)
{
    assert (self);
    if (!(cold_wait_price > 0 && isfinite (cold_wait_price))
        || cold_wait_price == self->opts.cold_wait_price)
        return;
    self->opts.cold_wait_price = cold_wait_price;
    self->epoch++;
}

//  The price of a second of cold wait.
double
wp_engine_price (wp_engine_t *self)
{
    return self->opts.cold_wait_price;
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

//  What the engine learned of all its pairs.
void
wp_engine_learned (wp_engine_t *self, wp_engine_learned_t *out)
{
    _Static_assert (TOLS == WP_ENGINE_TOLS, "the tolerances of wp_engine.h");
    memset (out, 0, sizeof *out);
    memcpy (out->weights, self->w, sizeof out->weights);
    out->updates = self->updates;
    memcpy (out->survival, self->pop_q, sizeof out->survival);
    memcpy (out->done, self->done, sizeof out->done);
    out->waits_s = self->waits_s;
    out->waits_n = self->waits_n;
    memcpy (out->hits, self->hits, sizeof out->hits);
    out->trials = self->trials;
}

//  True if every value is finite, each count >= 0, each rate in 0..1.
static bool
s_learned_ok (const wp_engine_learned_t *in)
{
    for (int i = 0; i < WP_ENGINE_FEATURES; i++)
        if (!isfinite (in->weights [i]))
            return false;
    for (int j = 0; j <= LEVELS; j++)
        if (!isfinite (in->done [j]) || in->done [j] < 0)
            return false;
    for (int j = 0; j < LEVELS; j++)
        if (!(in->survival [j] >= 0 && in->survival [j] <= 1))
            return false;
    for (int t = 0; t < TOLS; t++)
        if (!isfinite (in->hits [t]) || in->hits [t] < 0
            || in->hits [t] > in->trials * (1 + 1e-9) + 1e-9)
            return false;
    return isfinite (in->waits_s) && in->waits_s >= 0 && isfinite (in->waits_n)
        && in->waits_n >= 0 && isfinite (in->trials) && in->trials >= 0;
}

//  Take what another engine learned.
int
wp_engine_learn_from (wp_engine_t *self, const wp_engine_learned_t *in,
                      wp_engine_learn_t how)
{
    if (!s_learned_ok (in))
        return -1;
    bool merge = how == WP_ENGINE_MERGE;
    double mine = merge ? (double) self->updates : 0;
    double theirs = (double) in->updates;
    for (int i = 0; i < WP_ENGINE_FEATURES; i++)
        self->w [i] = mine + theirs > 0
                    ? (self->w [i] * mine + in->weights [i] * theirs) / (mine + theirs)
                    : in->weights [i];
    self->updates = (merge ? self->updates : 0) + in->updates;
    //  The population: its own counts only on a restore (the same
    //  service); another's survival is the prior where nothing is known.
    for (int j = 0; j <= LEVELS; j++)
        if (how != WP_ENGINE_MERGE)
            self->done [j] = how == WP_ENGINE_RESTORE ? in->done [j] : 0;
    for (int j = 0; j < LEVELS; j++)
        if (how != WP_ENGINE_RESTORE)
            self->prior_q [j] = in->survival [j];       //  0: the scale-free one
    self->waits_s = (merge ? self->waits_s : 0) + in->waits_s;
    self->waits_n = (merge ? self->waits_n : 0) + in->waits_n;
    for (int t = 0; t < TOLS; t++)
        self->hits [t] = (merge ? self->hits [t] : 0) + in->hits [t];
    self->trials = (merge ? self->trials : 0) + in->trials;
    self->pop_ms = 0;           //  the population's survival again
    self->epoch++;              //  and every plan
    return 0;
}

//  Bytes held.
size_t
wp_engine_state_bytes (wp_engine_t *self)
{
    size_t models = self->names ? (size_t) self->loads_cap * sizeof (model_t)
                  : ((size_t) self->model_mask + 1) * (sizeof (uint64_t) + sizeof (model_t));
    return sizeof *self + ((size_t) self->mask + 1) * sizeof (uint32_t)
         + (size_t) self->entries_cap * sizeof (entry_t)
         + (size_t) self->windows_cap * sizeof (window_t) + models;
}
