/*  =========================================================================
    wp_metrics - the model warmup metrics core: topic counts, usage
    outcomes, warmup results, and usage -> prediction latency.
    =========================================================================
*/

#include "wp_metrics.h"
#include "wp_calib.h"
#include "wp_util.h"
#include "wp_bus.h"
#include <czmq.h>
#include <math.h>

//  Latency histogram: bucket 0 is [0, 1) us, bucket i (1..S_TOP) is
//  [S_GROWTH^(i-1), S_GROWTH^i) us (1.04^562 us is about 62 minutes),
//  bucket S_TOP + 1 holds the rest.
#define S_GROWTH    1.04
#define S_TOP       562
#define S_BUCKETS   (S_TOP + 2)

_Static_assert ((WP_METRICS_MATCH_SLOTS & (WP_METRICS_MATCH_SLOTS - 1)) == 0,
                "WP_METRICS_MATCH_SLOTS must be a power of two");

//  One slot of the match table

typedef struct {
    uint64_t key;               // usage key
    uint64_t seen_us;           // when the usage was seen
    bool used;                  // slot holds a usage waiting for its prediction
} s_slot_t;

_Static_assert ((WP_METRICS_GUESS_SLOTS & (WP_METRICS_GUESS_SLOTS - 1)) == 0,
                "WP_METRICS_GUESS_SLOTS must be a power of two");

//  Bounds of the horizon ranges, ms: under 5 min, under 1 h, the rest.
#define S_HORIZON_SHORT_MS  300000
#define S_HORIZON_MEDIUM_MS 3600000

//  Upper bounds of the exported latency buckets, us.
static const uint64_t s_latency_bounds [WP_METRICS_LATENCY_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
    250000, 500000, 1000000, 2500000, 5000000, 10000000
};

//  One open guess: a prediction for a (user, model) pair, not scored yet

typedef struct {
    uint64_t key;               // keyed hash of user and model
    uint64_t made_ms;           // event time of the prediction
    uint64_t end_ms;            // made_ms + horizon
    float probability;          // P(request within the horizon)
    uint8_t horizon;            // range index of expected_in_ms
    bool positive;              // probability >= threshold
    bool used;                  // slot holds an open guess
} s_guess_t;

//  Structure of our class

struct _wp_metrics_t {
    zhashx_t *topics;           // topic name -> uint64_t count
    uint64_t other;             // events counted under "other"
    uint64_t events;            // all events counted
    uint64_t requests;          // usage events
    uint64_t warm;              // ... served warm
    uint64_t delayed;           // ... that waited for a load in progress
    uint64_t cold_starts;       // ... that started an on-demand load
    uint64_t wait_ms;           // wait of delayed and cold requests, ms
    uint64_t predictions;       // predictions seen
    uint64_t unmatched;         // ... without their usage in the table
    uint64_t evicted;           // usages overwritten before their prediction
    uint64_t pending;           // used slots in the match table
    uint64_t warmups_ok;        // loads that succeeded
    uint64_t warmups_failed;    // loads that failed
    uint64_t cools;             // unloads that succeeded
    uint64_t cools_failed;      // unloads that failed
    uint64_t dropped;           // events the component lost
    uint64_t dropped_kept;      // ... in the runs before (wp_metrics_restore)
    uint64_t latency_samples;   // latencies recorded
    uint64_t latency_min;       // smallest latency, us (valid if samples)
    uint64_t latency_max;       // largest latency, us (valid if samples)
    uint64_t latency [S_BUCKETS];       // latencies per bucket
    double bounds [S_TOP + 1];          // bounds [i] = S_GROWTH^i
    s_slot_t slots [WP_METRICS_MATCH_SLOTS];    // usage -> seen time
    uint64_t latency_sum;               // sum of latencies, us
    uint64_t latency_le [WP_METRICS_LATENCY_BUCKETS + 1]; // per exported bucket
    //  The live EVAL.md metrics
    double threshold;           // probability of a positive guess
    uint8_t user_key [16];      // key of the user hash
    uint64_t clock_ms;          // the stream clock
    zhashx_t *model_index;      // model name -> index + 1 into models
    size_t n_models;            // named models in use
    wp_metrics_model_t models [WP_METRICS_MAX_MODELS + 1];  // the last is "other"
    s_guess_t guesses [WP_METRICS_GUESS_SLOTS];             // open guesses
    uint64_t guesses_open;      // used guess slots
    uint64_t superseded;        // open guesses replaced by a newer prediction
    uint64_t guesses_evicted;   // open guesses dropped for room
    uint64_t unpredicted;       // requests with no open guess
    wp_metrics_confusion_t horizons [WP_METRICS_HORIZONS];  // scored guesses
    wp_calib_t calib;           // Brier, log loss and calibration of them
    wp_metrics_source_t sources [WP_METRICS_MAX_SOURCES];   // latest heartbeats
    wp_metrics_decision_t decisions [WP_METRICS_DECISIONS]; // ring, newest at head
    size_t decision_head;       // next decision slot
    size_t n_decisions;         // decisions kept
    wp_metrics_point_t history [WP_METRICS_HISTORY];        // ring of samples
    size_t history_head;        // next sample slot
    size_t n_history;           // samples kept
};

//  Free a topic counter (zhashx destructor).

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  Create a metrics core.

wp_metrics_t *
wp_metrics_new (void)
{
    wp_metrics_t *self = (wp_metrics_t *) calloc (1, sizeof (wp_metrics_t));
    if (!self)
        return NULL;
    self->topics = zhashx_new ();
    if (!self->topics) {
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->topics, s_free_item);
    self->model_index = zhashx_new ();
    if (!self->model_index) {
        zhashx_destroy (&self->topics);
        free (self);
        return NULL;
    }
    self->threshold = 0.7;
    wp_calib_init (&self->calib, self->threshold);
    snprintf (self->models [WP_METRICS_MAX_MODELS].name, WP_METRICS_MODEL_MAX + 1,
              "%s", WP_METRICS_OTHER);
    for (int index = 0; index <= S_TOP; index++)
        self->bounds [index] = pow (S_GROWTH, index);
    return self;
}

//  Destroy the metrics core.

void
wp_metrics_destroy (wp_metrics_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        wp_metrics_t *self = *self_p;
        zhashx_destroy (&self->topics);
        zhashx_destroy (&self->model_index);
        free (self);
        *self_p = NULL;
    }
}

//  True when topic may be counted under its own name.

static bool
s_valid_topic (const char *topic)
{
    if (!topic || !*topic || streq (topic, WP_METRICS_OTHER))
        return false;
    size_t length = 0;
    for (const char *p = topic; *p; p++) {
        if (++length > WP_METRICS_TOPIC_MAX)
            return false;
        if (*p < 0x21 || *p > 0x7e)     // also refuses bytes >= 0x80
            return false;
    }
    return true;
}

//  Count one event of topic.

int
wp_metrics_event (wp_metrics_t *self, const char *topic)
{
    assert (self);
    self->events++;
    if (s_valid_topic (topic)) {
        uint64_t *count = (uint64_t *) zhashx_lookup (self->topics, topic);
        if (count) {
            (*count)++;
            return 0;
        }
        if (zhashx_size (self->topics) < WP_METRICS_MAX_TOPICS) {
            count = (uint64_t *) malloc (sizeof (uint64_t));
            if (count) {
                *count = 1;
                zhashx_insert (self->topics, topic, count);
                return 0;
            }
        }
    }
    self->other++;
    return 1;
}

//  Events counted under topic.

uint64_t
wp_metrics_topic_count (wp_metrics_t *self, const char *topic)
{
    assert (self);
    if (!topic)
        return 0;
    if (streq (topic, WP_METRICS_OTHER))
        return self->other;
    uint64_t *count = (uint64_t *) zhashx_lookup (self->topics, topic);
    return count ? *count : 0;
}

//  Order topic names (zlistx comparator).

static int
s_compare_names (const void *one, const void *two)
{
    return strcmp ((const char *) one, (const char *) two);
}

//  Call fn for each topic in name order, then "other".

int
wp_metrics_topics (wp_metrics_t *self, wp_metrics_topic_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    zlistx_t *names = zhashx_keys (self->topics);
    if (!names)
        return -1;
    zlistx_set_comparator (names, s_compare_names);
    zlistx_sort (names);
    int rc = 0;
    const char *name = (const char *) zlistx_first (names);
    while (name && rc == 0) {
        rc = fn (name, wp_metrics_topic_count (self, name), arg);
        name = (const char *) zlistx_next (names);
    }
    zlistx_destroy (&names);
    if (rc == 0 && self->other > 0)
        rc = fn (WP_METRICS_OTHER, self->other, arg);
    return rc;
}

//  Count one usage event.

int
wp_metrics_usage (wp_metrics_t *self, int outcome, uint32_t wait_ms)
{
    assert (self);
    self->requests++;
    switch (outcome) {
        case WP_METRICS_OUTCOME_UNKNOWN:
            return 0;
        case WP_METRICS_OUTCOME_WARM:
            self->warm++;
            return 0;
        case WP_METRICS_OUTCOME_DELAYED:
            self->delayed++;
            self->wait_ms += wait_ms;
            return 0;
        case WP_METRICS_OUTCOME_COLD:
            self->cold_starts++;
            self->wait_ms += wait_ms;
            return 0;
        default:
            return -1;
    }
}

//  Count one finished warmup task.

int
wp_metrics_warmup_done (wp_metrics_t *self, int action, bool ok)
{
    assert (self);
    if (action == WP_METRICS_ACTION_WARM) {
        if (ok)
            self->warmups_ok++;
        else
            self->warmups_failed++;
        return 0;
    }
    if (action == WP_METRICS_ACTION_COOL) {
        if (ok)
            self->cools++;
        else
            self->cools_failed++;
        return 0;
    }
    return -1;
}

//  The latency bucket holding us.

static size_t
s_bucket (wp_metrics_t *self, uint64_t us)
{
    if (us < 1)
        return 0;
    double v = (double) us;
    //  log() gives the bucket up to rounding; the bounds table decides
    double guess = 1 + floor (log (v) / log (S_GROWTH));
    long index = guess > S_TOP + 1 ? S_TOP + 1 : (long) guess;
    if (index < 1)
        index = 1;
    while (index > 1 && v < self->bounds [index - 1])
        index--;
    while (index <= S_TOP && v >= self->bounds [index])
        index++;
    return (size_t) index;
}

//  Record one usage -> prediction latency.

void
wp_metrics_latency (wp_metrics_t *self, uint64_t us)
{
    assert (self);
    if (self->latency_samples == 0 || us < self->latency_min)
        self->latency_min = us;
    if (self->latency_samples == 0 || us > self->latency_max)
        self->latency_max = us;
    self->latency_samples++;
    self->latency [s_bucket (self, us)]++;
    self->latency_sum += us;
    size_t index = 0;
    while (index < WP_METRICS_LATENCY_BUCKETS && us > s_latency_bounds [index])
        index++;
    self->latency_le [index]++;
}

//  The nearest-rank q-quantile of the latencies, us.

static uint64_t
s_latency_quantile (wp_metrics_t *self, double q)
{
    uint64_t total = self->latency_samples;
    if (total == 0)
        return 0;
    //  The small slack keeps 0.5 * 10 at rank 5
    double wanted = ceil (q * (double) total - 1e-9);
    uint64_t rank = wanted < 1 ? 1 : (uint64_t) wanted;
    if (rank >= total)
        return self->latency_max;
    if (rank == 1)
        return self->latency_min;
    uint64_t seen = 0;
    size_t index;
    for (index = 0; index < S_BUCKETS - 1; index++) {
        seen += self->latency [index];
        if (seen >= rank)
            break;
    }
    if (index == 0)
        return 0;                       // [0, 1) us holds only 0
    if (index > S_TOP)
        return self->latency_max;       // beyond the range: an upper bound
    double middle = sqrt (self->bounds [index - 1] * self->bounds [index]);
    uint64_t value = (uint64_t) llround (middle);
    if (value < self->latency_min)
        value = self->latency_min;
    if (value > self->latency_max)
        value = self->latency_max;
    return value;
}

//  Scramble a key (maybe sequential) into a slot.

static size_t
s_slot_of (uint64_t key)
{
    return (size_t) (wp_mix64 (key) & (WP_METRICS_MATCH_SLOTS - 1));
}

//  Remember that usage key was seen at now_us.

void
wp_metrics_usage_seen (wp_metrics_t *self, uint64_t key, uint64_t now_us)
{
    assert (self);
    size_t start = s_slot_of (key);
    s_slot_t *empty = NULL;
    s_slot_t *oldest = NULL;
    for (size_t probe = 0; probe < WP_METRICS_MATCH_PROBE; probe++) {
        s_slot_t *slot = &self->slots [(start + probe) & (WP_METRICS_MATCH_SLOTS - 1)];
        if (!slot->used) {
            if (!empty)
                empty = slot;
        }
        else
        if (slot->key == key) {
            slot->seen_us = now_us;
            return;
        }
        else
        if (!oldest || slot->seen_us < oldest->seen_us)
            oldest = slot;
    }
    s_slot_t *slot = empty;
    if (!slot) {
        slot = oldest;
        self->evicted++;
        self->pending--;
    }
    slot->key = key;
    slot->seen_us = now_us;
    slot->used = true;
    self->pending++;
}

//  A prediction caused by usage key was seen at now_us.

int64_t
wp_metrics_prediction_seen (wp_metrics_t *self, uint64_t key, uint64_t now_us)
{
    assert (self);
    self->predictions++;
    //  Lookups scan the whole window, so freeing a slot needs no tombstone
    size_t start = s_slot_of (key);
    for (size_t probe = 0; probe < WP_METRICS_MATCH_PROBE; probe++) {
        s_slot_t *slot = &self->slots [(start + probe) & (WP_METRICS_MATCH_SLOTS - 1)];
        if (slot->used && slot->key == key) {
            slot->used = false;
            self->pending--;
            uint64_t latency = now_us > slot->seen_us ? now_us - slot->seen_us : 0;
            if (latency > INT64_MAX)
                latency = INT64_MAX;
            wp_metrics_latency (self, latency);
            return (int64_t) latency;
        }
    }
    self->unmatched++;
    return -1;
}

//  Add count to the events the component dropped.

void
wp_metrics_dropped (wp_metrics_t *self, uint64_t count)
{
    assert (self);
    self->dropped += count;
}

//  Median latency, us.

uint64_t
wp_metrics_latency_p50_us (wp_metrics_t *self)
{
    assert (self);
    return s_latency_quantile (self, 0.50);
}

//  99th percentile latency, us.

uint64_t
wp_metrics_latency_p99_us (wp_metrics_t *self)
{
    assert (self);
    return s_latency_quantile (self, 0.99);
}

//  Largest latency, us.

uint64_t
wp_metrics_latency_max_us (wp_metrics_t *self)
{
    assert (self);
    return self->latency_samples ? self->latency_max : 0;
}

//  Fill *snapshot with the current counters.

void
wp_metrics_snapshot (wp_metrics_t *self, wp_metrics_snapshot_t *snapshot)
{
    assert (self);
    assert (snapshot);
    memset (snapshot, 0, sizeof (*snapshot));
    snapshot->events = self->events;
    snapshot->topics = zhashx_size (self->topics);
    snapshot->requests = self->requests;
    snapshot->warm = self->warm;
    snapshot->delayed = self->delayed;
    snapshot->cold_starts = self->cold_starts;
    snapshot->cold_wait_s = (double) self->wait_ms / 1000.0;
    snapshot->predictions = self->predictions;
    snapshot->unmatched = self->unmatched;
    snapshot->evicted = self->evicted;
    snapshot->pending = self->pending;
    snapshot->latency_samples = self->latency_samples;
    snapshot->latency_p50_us = wp_metrics_latency_p50_us (self);
    snapshot->latency_p99_us = wp_metrics_latency_p99_us (self);
    snapshot->latency_max_us = wp_metrics_latency_max_us (self);
    snapshot->warmups_ok = self->warmups_ok;
    snapshot->warmups_failed = self->warmups_failed;
    snapshot->cools = self->cools;
    snapshot->cools_failed = self->cools_failed;
    snapshot->dropped = self->dropped;
}

//  --- The live EVAL.md metrics ---------------------------------------------

//  Set the probability of a positive guess.

void
wp_metrics_set_threshold (wp_metrics_t *self, double threshold)
{
    assert (self);
    self->threshold = threshold;
    self->calib.threshold = threshold;
}

//  Brier, log loss and calibration of the scored guesses.

const wp_calib_t *
wp_metrics_calib (wp_metrics_t *self)
{
    assert (self);
    return &self->calib;
}

//  Set the key of the user hash.

void
wp_metrics_set_user_key (wp_metrics_t *self, const uint8_t key [16])
{
    assert (self && key);
    memcpy (self->user_key, key, sizeof self->user_key);
}

//  Move the stream clock to an event's time if that is later.

static void
s_clock_at (wp_metrics_t *self, uint64_t event_ms)
{
    if (event_ms > self->clock_ms)
        self->clock_ms = event_ms;
}

//  True when name may be counted under its own name: 1..max printable
//  ASCII bytes without quotes or backslashes (it becomes a label value),
//  and not "other".

static bool
s_valid_name (const char *name, size_t max)
{
    if (!name || !*name || streq (name, WP_METRICS_OTHER))
        return false;
    size_t length = 0;
    for (const char *p = name; *p; p++) {
        if (++length > max)
            return false;
        if (*p < 0x21 || *p > 0x7e || *p == '"' || *p == '\\')
            return false;
    }
    return true;
}

//  The counters of model name: its own, a new entry, or "other".

static wp_metrics_model_t *
s_model (wp_metrics_t *self, const char *name)
{
    if (!s_valid_name (name, WP_METRICS_MODEL_MAX))
        return &self->models [WP_METRICS_MAX_MODELS];
    size_t index = (size_t) (uintptr_t) zhashx_lookup (self->model_index, name);
    if (index)
        return &self->models [index - 1];
    if (self->n_models == WP_METRICS_MAX_MODELS)
        return &self->models [WP_METRICS_MAX_MODELS];
    wp_metrics_model_t *model = &self->models [self->n_models++];
    snprintf (model->name, sizeof model->name, "%s", name);
    zhashx_insert (self->model_index, model->name, (void *) (uintptr_t) self->n_models);
    return model;
}

//  Copy text as printable ASCII (others become '?'), cut to size - 1.

static void
s_copy_text (char *target, size_t size, const char *text)
{
    size_t at = 0;
    for (const char *p = text ? text : ""; *p && at + 1 < size; p++)
        target [at++] = (*p >= 0x20 && *p <= 0x7e) ? *p : '?';
    target [at] = 0;
}

//  The component of a publisher id "<component>/<instance>".

static void
s_copy_component (char *target, size_t size, const char *source)
{
    s_copy_text (target, size, source);
    char *slash = strchr (target, '/');
    if (slash)
        *slash = 0;
}

//  Keyed hash of a (user, model) pair. The bus hashed the user at ingress
//  ("u:" and 16 hex digits): that hash is taken as it is; only an id in
//  another form (an event that did not come through the proxy) is hashed.
static uint64_t
s_pair_key (wp_metrics_t *self, const char *user, const char *model)
{
    uint8_t buffer [8 + 256];
    uint64_t user_hash;
    if (wp_user_id_parse (user, &user_hash))
        user_hash = wp_user_hash (self->user_key, user);
    wp_put_u64 (buffer, user_hash);
    size_t length = strlen (model);
    if (length > 256)
        length = 256;
    memcpy (buffer + 8, model, length);
    return wp_siphash (self->user_key, buffer, 8 + length);
}

//  The guess slot a key's probe window starts at.

static size_t
s_guess_slot (uint64_t key)
{
    return (size_t) (key & (WP_METRICS_GUESS_SLOTS - 1));
}

//  Score an open guess and free its slot: requested says whether the
//  user requested the model within the horizon.

static void
s_score (wp_metrics_t *self, s_guess_t *guess, bool requested)
{
    wp_metrics_confusion_t *c = &self->horizons [guess->horizon];
    if (guess->positive && requested)
        c->tp++;
    else
    if (guess->positive)
        c->fp++;
    else
    if (requested)
        c->fn++;
    else
        c->tn++;
    wp_calib_add (&self->calib, guess->horizon, guess->probability, requested);
    guess->used = false;
    self->guesses_open--;
}

//  The open guess of key, or NULL.

static s_guess_t *
s_guess_find (wp_metrics_t *self, uint64_t key)
{
    size_t start = s_guess_slot (key);
    for (size_t probe = 0; probe < WP_METRICS_GUESS_PROBE; probe++) {
        s_guess_t *guess = &self->guesses [(start + probe) & (WP_METRICS_GUESS_SLOTS - 1)];
        if (guess->used && guess->key == key)
            return guess;
    }
    return NULL;
}

//  One request.

int
wp_metrics_request (wp_metrics_t *self, const char *user, const char *model,
                    int outcome, uint32_t wait_ms, uint64_t event_ms)
{
    assert (self);
    int rc = wp_metrics_usage (self, outcome, wait_ms);
    s_clock_at (self, event_ms);
    wp_metrics_model_t *m = s_model (self, model);
    m->requests++;
    m->last_outcome = rc == 0 ? outcome : WP_METRICS_OUTCOME_UNKNOWN;
    m->last_request_ms = event_ms;
    if (outcome == WP_METRICS_OUTCOME_WARM)
        m->warm++;
    else
    if (outcome == WP_METRICS_OUTCOME_DELAYED) {
        m->delayed++;
        m->wait_ms += wait_ms;
    }
    else
    if (outcome == WP_METRICS_OUTCOME_COLD) {
        m->cold_starts++;
        m->wait_ms += wait_ms;
    }
    //  EVAL.md: a pre-warm is useful once its model gets a request; a
    //  hit when that first request is served warm.
    if (m->resident && m->prewarmed && !m->requested) {
        m->requested = true;
        m->useful_prewarms++;
        if (outcome == WP_METRICS_OUTCOME_WARM)
            m->prewarm_hits++;
    }
    else
    if (m->prewarm_pending)
        m->pending_touched = true;

    //  Score the open guess of the pair
    if (user && *user && model && *model) {
        s_guess_t *guess = s_guess_find (self, s_pair_key (self, user, model));
        if (!guess)
            self->unpredicted++;
        else
        if (event_ms < guess->made_ms)
            ;   //  an older request delivered late: the guess stays open
        else
            s_score (self, guess, event_ms <= guess->end_ms);
    }
    else
        self->unpredicted++;
    return rc;
}

//  Open one guess.

static void
s_guess_open (wp_metrics_t *self, uint64_t key, uint64_t made_ms, uint64_t end_ms,
              uint8_t horizon, double probability)
{
    size_t start = s_guess_slot (key);
    s_guess_t *empty = NULL, *first_end = NULL;
    for (size_t probe = 0; probe < WP_METRICS_GUESS_PROBE; probe++) {
        s_guess_t *guess = &self->guesses [(start + probe) & (WP_METRICS_GUESS_SLOTS - 1)];
        if (guess->used && guess->end_ms < made_ms)
            s_score (self, guess, false);       //  its horizon is over
        if (!guess->used) {
            if (!empty)
                empty = guess;
        }
        else
        if (guess->key == key) {
            self->superseded++;
            guess->used = false;
            self->guesses_open--;
            if (!empty)
                empty = guess;
        }
        else
        if (!first_end || guess->end_ms < first_end->end_ms)
            first_end = guess;
    }
    s_guess_t *slot = empty;
    if (!slot) {
        slot = first_end;
        self->guesses_evicted++;
        slot->used = false;
        self->guesses_open--;
    }
    slot->key = key;
    slot->made_ms = made_ms;
    slot->end_ms = end_ms;
    slot->horizon = horizon;
    slot->probability = (float) probability;
    slot->positive = probability >= self->threshold;
    slot->used = true;
    self->guesses_open++;
}

//  One prediction event.

size_t
wp_metrics_prediction (wp_metrics_t *self, const char *user, uint64_t event_ms,
                       uint32_t horizon_s, const wp_metrics_guess_t *guesses,
                       size_t n_guesses)
{
    assert (self);
    assert (guesses || n_guesses == 0);
    s_clock_at (self, event_ms);
    if (!user || !*user)
        return 0;
    size_t opened = 0;
    for (size_t i = 0; i < n_guesses; i++) {
        const wp_metrics_guess_t *g = &guesses [i];
        if (!g->model || !*g->model || !(g->probability >= 0 && g->probability <= 1))
            continue;   //  NaN fails both comparisons
        uint8_t horizon = g->expected_in_ms < S_HORIZON_SHORT_MS ? 0
                        : g->expected_in_ms < S_HORIZON_MEDIUM_MS ? 1 : 2;
        s_guess_open (self, s_pair_key (self, user, g->model), event_ms,
                      event_ms + (uint64_t) horizon_s * 1000, horizon, g->probability);
        opened++;
    }
    return opened;
}

//  Remember a decision (request or result) in the ring.

static wp_metrics_decision_t *
s_decision (wp_metrics_t *self, const char *model, int action, const char *reason,
            const char *source, uint64_t event_ms)
{
    wp_metrics_decision_t *d = &self->decisions [self->decision_head];
    self->decision_head = (self->decision_head + 1) % WP_METRICS_DECISIONS;
    if (self->n_decisions < WP_METRICS_DECISIONS)
        self->n_decisions++;
    memset (d, 0, sizeof *d);
    d->time_ms = event_ms;
    d->action = action;
    s_copy_text (d->model, sizeof d->model, model);
    s_copy_text (d->reason, sizeof d->reason, reason);
    s_copy_component (d->component, sizeof d->component, source);
    return d;
}

//  A warmup was requested.

int
wp_metrics_warmup_requested (wp_metrics_t *self, const char *model, int action,
                             const char *reason, const char *source, uint64_t event_ms)
{
    assert (self);
    if (!model || !*model
        || (action != WP_METRICS_ACTION_WARM && action != WP_METRICS_ACTION_COOL))
        return -1;
    s_clock_at (self, event_ms);
    s_decision (self, model, action, reason, source, event_ms);
    wp_metrics_model_t *m = s_model (self, model);
    if (action == WP_METRICS_ACTION_WARM && !m->resident) {
        m->state = WP_METRICS_MODEL_LOADING;
        bool manual = reason && streq (reason, "manual");
        if (!manual && !m->prewarm_pending) {
            m->prewarm_pending = true;
            m->pending_touched = false;
        }
    }
    return 0;
}

//  End a model's residency at end_ms.

static void
s_unload (wp_metrics_model_t *m, uint64_t end_ms)
{
    if (!m->resident)
        return;
    uint64_t since = m->resident_since_ms;
    m->resident_mb_ms += (uint64_t) m->memory_mb * (end_ms > since ? end_ms - since : 0);
    m->resident = false;
    m->prewarmed = false;
    m->requested = false;
    m->memory_mb = 0;
}

//  A model's state from the queue's snapshot.

void
wp_metrics_model_state (wp_metrics_t *self, const char *model, int state,
                        uint32_t memory_mb, uint64_t now_ms)
{
    assert (self && model);
    if (state != WP_METRICS_MODEL_COLD && state != WP_METRICS_MODEL_LOADING
        && state != WP_METRICS_MODEL_WARM)
        return;
    s_clock_at (self, now_ms);
    wp_metrics_model_t *m = s_model (self, model);
    if (state == WP_METRICS_MODEL_WARM && !m->resident) {
        m->resident = true;
        m->resident_since_ms = now_ms;
        m->memory_mb = memory_mb;
        m->prewarmed = false;
        m->requested = false;
    }
    if (state == WP_METRICS_MODEL_COLD)
        s_unload (m, now_ms);
    m->state = state;
}

//  A warmup task finished.

int
wp_metrics_warmup_finished (wp_metrics_t *self, const wp_metrics_done_t *done)
{
    assert (self && done);
    if (wp_metrics_warmup_done (self, done->action, done->ok))
        return -1;
    if (!done->model || !*done->model)
        return -1;
    s_clock_at (self, done->event_ms);
    wp_metrics_decision_t *d = s_decision (self, done->model, done->action, done->reason,
                                           done->source, done->event_ms);
    d->done = true;
    d->ok = done->ok;
    d->duration_ms = done->duration_ms;
    s_copy_text (d->error, sizeof d->error, done->error);

    wp_metrics_model_t *m = s_model (self, done->model);
    bool manual = done->reason && streq (done->reason, "manual");
    if (done->action == WP_METRICS_ACTION_WARM) {
        bool touched = m->prewarm_pending && m->pending_touched;
        if (!manual) {
            m->prewarm_pending = false;
            m->pending_touched = false;
        }
        if (!done->ok) {
            m->warmups_failed++;
            if (!m->resident)
                m->state = WP_METRICS_MODEL_COLD;
            return 0;
        }
        m->warmups_ok++;
        if (m->resident && m->memory_mb != done->memory_mb) {
            //  Warm again with another size: a new residency from now
            s_unload (m, done->event_ms);
            m->resident = true;
            m->resident_since_ms = done->event_ms;
            m->memory_mb = done->memory_mb;
        }
        else
        if (!m->resident) {
            //  EVAL.md counts memory from the start of the load
            m->resident = true;
            m->resident_since_ms = done->event_ms > done->duration_ms
                                 ? done->event_ms - done->duration_ms : 0;
            m->memory_mb = done->memory_mb;
            m->prewarmed = !manual;
            m->requested = false;
            if (!manual) {
                m->prewarms++;
                if (touched) {
                    //  Its first request came while it loaded: useful, no hit
                    m->requested = true;
                    m->useful_prewarms++;
                }
            }
        }
        m->state = WP_METRICS_MODEL_WARM;
        return 0;
    }
    if (!done->ok) {
        m->cools_failed++;
        return 0;
    }
    m->cools++;
    s_unload (m, done->event_ms);
    m->state = WP_METRICS_MODEL_COLD;
    return 0;
}

//  A heartbeat.

int
wp_metrics_heartbeat (wp_metrics_t *self, const wp_metrics_beat_t *beat)
{
    assert (self && beat);
    if (!beat->source || !*beat->source || !beat->component || !*beat->component)
        return -1;
    static const uint8_t key [16] = { 0 };
    uint64_t hash = wp_siphash (key, beat->source, strlen (beat->source));
    wp_metrics_source_t *slot = NULL;
    for (size_t i = 0; i < WP_METRICS_MAX_SOURCES && !slot; i++)
        if (self->sources [i].used && self->sources [i].source_hash == hash)
            slot = &self->sources [i];
    if (!slot) {
        //  A free slot, else the publisher heard from least recently
        for (size_t i = 0; i < WP_METRICS_MAX_SOURCES; i++) {
            wp_metrics_source_t *s = &self->sources [i];
            if (!slot || !s->used || s->seen_ms < slot->seen_ms)
                slot = s;
            if (!s->used)
                break;
        }
        memset (slot, 0, sizeof *slot);
        slot->used = true;
        slot->source_hash = hash;
    }
    char component [WP_METRICS_COMPONENT_MAX + 1];
    s_copy_text (component, sizeof component, beat->component);
    if (!s_valid_name (component, WP_METRICS_COMPONENT_MAX))
        snprintf (component, sizeof component, "%s", WP_METRICS_OTHER);
    memcpy (slot->component, component, sizeof component);
    slot->seen_ms = beat->event_ms;
    slot->interval_ms = beat->interval_ms;
    slot->rss_kb = beat->rss_kb;
    slot->uptime_ms = beat->uptime_ms;
    slot->events_in = beat->events_in;
    slot->events_out = beat->events_out;
    slot->dropped = beat->dropped;
    slot->bad_frames = beat->bad_frames;
    slot->persisted = beat->persisted;
    memcpy (slot->dropped_topics, beat->dropped_topics, sizeof slot->dropped_topics);
    slot->refused = beat->refused;
    slot->rate_limited = beat->rate_limited;
    slot->auth_failures = beat->auth_failures;
    return 0;
}

//  Move the stream clock on.

void
wp_metrics_advance (wp_metrics_t *self, uint64_t elapsed_ms)
{
    assert (self);
    if (self->clock_ms)
        self->clock_ms += elapsed_ms;
}

//  The stream clock.

uint64_t
wp_metrics_clock_ms (wp_metrics_t *self)
{
    assert (self);
    return self->clock_ms;
}

//  Score guesses whose horizon ended.

size_t
wp_metrics_expire (wp_metrics_t *self)
{
    assert (self);
    size_t scored = 0;
    for (size_t i = 0; i < WP_METRICS_GUESS_SLOTS && self->guesses_open; i++) {
        s_guess_t *guess = &self->guesses [i];
        if (guess->used && guess->end_ms < self->clock_ms) {
            s_score (self, guess, false);
            scored++;
        }
    }
    return scored;
}

//  Set the events the component dropped.

void
wp_metrics_set_dropped (wp_metrics_t *self, uint64_t count)
{
    assert (self);
    self->dropped = self->dropped_kept + count;
}

//  Append a history sample.

void
wp_metrics_sample (wp_metrics_t *self, uint64_t now_ms)
{
    assert (self);
    wp_metrics_model_t totals;
    wp_metrics_totals (self, &totals);
    wp_metrics_point_t *point = &self->history [self->history_head];
    self->history_head = (self->history_head + 1) % WP_METRICS_HISTORY;
    if (self->n_history < WP_METRICS_HISTORY)
        self->n_history++;
    point->time_ms = now_ms;
    point->requests = totals.requests;
    point->cold_starts = totals.cold_starts;
    point->delayed = totals.delayed;
    point->wait_ms = totals.wait_ms;
    point->prewarms = totals.prewarms;
    point->useful_prewarms = totals.useful_prewarms;
    point->prewarm_hits = totals.prewarm_hits;
    point->resident_mb_ms = totals.resident_mb_ms;
    point->resident_mb = wp_metrics_resident_mb (self);
    memcpy (point->horizons, self->horizons, sizeof point->horizons);
}

//  True when "other" counted anything.

static bool
s_other_used (wp_metrics_t *self)
{
    const wp_metrics_model_t *other = &self->models [WP_METRICS_MAX_MODELS];
    return other->requests || other->warmups_ok || other->warmups_failed
        || other->cools || other->cools_failed || other->resident
        || other->state != WP_METRICS_MODEL_COLD;
}

//  Models counted.

size_t
wp_metrics_models (wp_metrics_t *self)
{
    assert (self);
    return self->n_models + (s_other_used (self) ? 1 : 0);
}

//  Model by index.

const wp_metrics_model_t *
wp_metrics_model (wp_metrics_t *self, size_t index)
{
    assert (self);
    if (index < self->n_models)
        return &self->models [index];
    if (index == self->n_models && s_other_used (self))
        return &self->models [WP_METRICS_MAX_MODELS];
    return NULL;
}

//  Memory-time of a model up to the stream clock.

uint64_t
wp_metrics_model_resident_mb_ms (wp_metrics_t *self, const wp_metrics_model_t *model)
{
    assert (self && model);
    uint64_t total = model->resident_mb_ms;
    if (model->resident && self->clock_ms > model->resident_since_ms)
        total += (uint64_t) model->memory_mb * (self->clock_ms - model->resident_since_ms);
    return total;
}

//  The totals over every model.

void
wp_metrics_totals (wp_metrics_t *self, wp_metrics_model_t *totals)
{
    assert (self && totals);
    memset (totals, 0, sizeof *totals);
    snprintf (totals->name, sizeof totals->name, "total");
    for (size_t i = 0; i < wp_metrics_models (self); i++) {
        const wp_metrics_model_t *m = wp_metrics_model (self, i);
        totals->requests += m->requests;
        totals->warm += m->warm;
        totals->delayed += m->delayed;
        totals->cold_starts += m->cold_starts;
        totals->wait_ms += m->wait_ms;
        totals->prewarms += m->prewarms;
        totals->useful_prewarms += m->useful_prewarms;
        totals->prewarm_hits += m->prewarm_hits;
        totals->warmups_ok += m->warmups_ok;
        totals->warmups_failed += m->warmups_failed;
        totals->cools += m->cools;
        totals->cools_failed += m->cools_failed;
        totals->resident_mb_ms += wp_metrics_model_resident_mb_ms (self, m);
        if (m->resident)
            totals->memory_mb += m->memory_mb;
    }
}

//  Order doubles (qsort).

static int
s_compare_doubles (const void *one, const void *two)
{
    double a = *(const double *) one, b = *(const double *) two;
    return a < b ? -1 : a > b ? 1 : 0;
}

//  p75 of the models' cold rates.

double
wp_metrics_p75_model_cold_rate (wp_metrics_t *self)
{
    assert (self);
    double rates [WP_METRICS_MAX_MODELS];
    size_t n = 0;
    for (size_t i = 0; i < self->n_models; i++) {
        const wp_metrics_model_t *m = &self->models [i];
        if (m->requests)
            rates [n++] = (double) (m->cold_starts + m->delayed) / (double) m->requests;
    }
    if (n == 0)
        return 0;
    qsort (rates, n, sizeof (double), s_compare_doubles);
    size_t rank = (size_t) ceil (0.75 * (double) n);
    return rates [rank ? rank - 1 : 0];
}

//  Memory resident now.

uint64_t
wp_metrics_resident_mb (wp_metrics_t *self)
{
    assert (self);
    uint64_t total = 0;
    for (size_t i = 0; i < wp_metrics_models (self); i++) {
        const wp_metrics_model_t *m = wp_metrics_model (self, i);
        if (m->resident)
            total += m->memory_mb;
    }
    return total;
}

//  Confusion matrix of a range, or of all.

wp_metrics_confusion_t
wp_metrics_horizon (wp_metrics_t *self, int index)
{
    assert (self);
    assert (index >= -1 && index < WP_METRICS_HORIZONS);
    if (index >= 0)
        return self->horizons [index];
    wp_metrics_confusion_t all = { 0 };
    for (int i = 0; i < WP_METRICS_HORIZONS; i++) {
        all.tp += self->horizons [i].tp;
        all.fp += self->horizons [i].fp;
        all.fn += self->horizons [i].fn;
        all.tn += self->horizons [i].tn;
    }
    return all;
}

//  Name of a range.

const char *
wp_metrics_horizon_name (int index)
{
    static const char *names [WP_METRICS_HORIZONS] = { "under_5m", "5m_to_1h", "over_1h" };
    assert (index >= 0 && index < WP_METRICS_HORIZONS);
    return names [index];
}

//  a / b, NaN when b is 0.

static double
s_ratio (uint64_t a, uint64_t b)
{
    return b ? (double) a / (double) b : NAN;
}

//  Quality of a confusion matrix.

wp_metrics_quality_t
wp_metrics_quality (wp_metrics_confusion_t c)
{
    wp_metrics_quality_t q;
    q.accuracy = s_ratio (c.tp + c.tn, c.tp + c.fp + c.fn + c.tn);
    q.precision = s_ratio (c.tp, c.tp + c.fp);
    q.recall = s_ratio (c.tp, c.tp + c.fn);
    q.f1 = s_ratio (2 * c.tp, 2 * c.tp + c.fp + c.fn);
    return q;
}

//  Guess bookkeeping.

uint64_t
wp_metrics_guesses_open (wp_metrics_t *self)
{
    assert (self);
    return self->guesses_open;
}

uint64_t
wp_metrics_guesses_superseded (wp_metrics_t *self)
{
    assert (self);
    return self->superseded;
}

uint64_t
wp_metrics_guesses_evicted (wp_metrics_t *self)
{
    assert (self);
    return self->guesses_evicted;
}

uint64_t
wp_metrics_unpredicted (wp_metrics_t *self)
{
    assert (self);
    return self->unpredicted;
}

//  The publishers' heartbeats.

size_t
wp_metrics_sources (wp_metrics_t *self, const wp_metrics_source_t **sources)
{
    assert (self && sources);
    *sources = self->sources;
    return WP_METRICS_MAX_SOURCES;
}

//  Decisions kept.

size_t
wp_metrics_decisions (wp_metrics_t *self)
{
    assert (self);
    return self->n_decisions;
}

//  Decision by index, newest first.

const wp_metrics_decision_t *
wp_metrics_decision (wp_metrics_t *self, size_t index)
{
    assert (self);
    if (index >= self->n_decisions)
        return NULL;
    size_t at = (self->decision_head + WP_METRICS_DECISIONS - 1 - index) % WP_METRICS_DECISIONS;
    return &self->decisions [at];
}

//  Samples kept.

size_t
wp_metrics_history (wp_metrics_t *self)
{
    assert (self);
    return self->n_history;
}

//  Sample by index, oldest first.

const wp_metrics_point_t *
wp_metrics_history_point (wp_metrics_t *self, size_t index)
{
    assert (self);
    if (index >= self->n_history)
        return NULL;
    size_t first = (self->history_head + WP_METRICS_HISTORY - self->n_history) % WP_METRICS_HISTORY;
    return &self->history [(first + index) % WP_METRICS_HISTORY];
}

//  Upper bound of an exported latency bucket.

uint64_t
wp_metrics_latency_bound_us (size_t index)
{
    assert (index < WP_METRICS_LATENCY_BUCKETS);
    return s_latency_bounds [index];
}

//  Cumulative latency count of an exported bucket.

uint64_t
wp_metrics_latency_le (wp_metrics_t *self, size_t index)
{
    assert (self);
    assert (index <= WP_METRICS_LATENCY_BUCKETS);
    uint64_t total = 0;
    for (size_t i = 0; i <= index; i++)
        total += self->latency_le [i];
    return total;
}

//  Sum of latencies.

uint64_t
wp_metrics_latency_sum_us (wp_metrics_t *self)
{
    assert (self);
    return self->latency_sum;
}

//  --- Keeping the counters over a restart ---------------------------------
//  Little-endian 64-bit words: a version, the sizes of the arrays (a build
//  with others is refused), the totals, the arrays, then the topics and
//  the models by name (a length byte, the name, then their counts).

#define S_KEEP_VERSION 1

//  The scalar totals, in their order in the encoding.
static size_t
s_keep_totals (wp_metrics_t *self, uint64_t **fields)
{
    uint64_t *list [] = {
        &self->other, &self->events, &self->requests, &self->warm, &self->delayed,
        &self->cold_starts, &self->wait_ms, &self->predictions, &self->unmatched,
        &self->evicted, &self->warmups_ok, &self->warmups_failed, &self->cools,
        &self->cools_failed, &self->dropped, &self->latency_samples, &self->latency_min,
        &self->latency_max, &self->latency_sum, &self->superseded, &self->guesses_evicted,
        &self->unpredicted
    };
    size_t n = sizeof list / sizeof list [0];
    memcpy (fields, list, sizeof list);
    return n;
}
#define S_KEEP_TOTALS 22

//  A model's counters, in their order in the encoding.
#define S_KEEP_MODEL 13
static void
s_keep_model (wp_metrics_model_t *model, uint64_t **fields)
{
    uint64_t *list [S_KEEP_MODEL] = {
        &model->requests, &model->warm, &model->delayed, &model->cold_starts,
        &model->wait_ms, &model->prewarms, &model->useful_prewarms, &model->prewarm_hits,
        &model->warmups_ok, &model->warmups_failed, &model->cools, &model->cools_failed,
        &model->resident_mb_ms
    };
    memcpy (fields, list, sizeof list);
}

//  A cursor over the encoding; ok turns false past its end.
typedef struct {
    uint8_t *at;
    const uint8_t *end;
    bool ok;
} s_cursor_t;

static void
s_put (s_cursor_t *c, uint64_t value)
{
    if (!c->ok || c->end - c->at < 8) {
        c->ok = false;
        return;
    }
    for (int i = 0; i < 8; i++)
        *c->at++ = (uint8_t) (value >> (8 * i));
}

static uint64_t
s_get (s_cursor_t *c)
{
    if (!c->ok || c->end - c->at < 8) {
        c->ok = false;
        return 0;
    }
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value |= (uint64_t) *c->at++ << (8 * i);
    return value;
}

static uint64_t
s_bits (double value)
{
    uint64_t bits;
    memcpy (&bits, &value, sizeof bits);
    return bits;
}

static double
s_double (uint64_t bits)
{
    double value;
    memcpy (&value, &bits, sizeof value);
    return value;
}

static void
s_put_name (s_cursor_t *c, const char *name)
{
    size_t len = strlen (name);
    if (!c->ok || len > 255 || (size_t) (c->end - c->at) < len + 1) {
        c->ok = false;
        return;
    }
    *c->at++ = (uint8_t) len;
    memcpy (c->at, name, len);
    c->at += len;
}

//  A name into out (256 bytes).
static void
s_get_name (s_cursor_t *c, char *out)
{
    out [0] = 0;
    if (!c->ok || c->end - c->at < 1 || c->end - c->at < 1 + c->at [0]) {
        c->ok = false;
        return;
    }
    size_t len = *c->at++;
    memcpy (out, c->at, len);
    out [len] = 0;
    c->at += len;
}

//  The arrays (latency buckets, exported buckets, horizons, calibration),
//  written (put) or read into self.
static void
s_keep_arrays (wp_metrics_t *self, s_cursor_t *c, bool put)
{
    uint64_t *words [S_BUCKETS + WP_METRICS_LATENCY_BUCKETS + 1 + 4 * WP_METRICS_HORIZONS];
    size_t n = 0;
    for (size_t i = 0; i < S_BUCKETS; i++)
        words [n++] = &self->latency [i];
    for (size_t i = 0; i <= WP_METRICS_LATENCY_BUCKETS; i++)
        words [n++] = &self->latency_le [i];
    for (size_t i = 0; i < WP_METRICS_HORIZONS; i++) {
        words [n++] = &self->horizons [i].tp;
        words [n++] = &self->horizons [i].fp;
        words [n++] = &self->horizons [i].fn;
        words [n++] = &self->horizons [i].tn;
    }
    for (size_t i = 0; i < n; i++)
        if (put)
            s_put (c, *words [i]);
        else
            *words [i] = s_get (c);
    for (size_t b = 0; b < WP_CALIB_BANDS; b++) {
        wp_calib_band_t *band = &self->calib.bands [b];
        uint64_t *counts [] = { &band->tp, &band->fp, &band->fn, &band->tn };
        double *sums [] = { &band->brier, &band->log_loss };
        for (size_t i = 0; i < 4; i++)
            if (put)
                s_put (c, *counts [i]);
            else
                *counts [i] = s_get (c);
        for (size_t i = 0; i < 2; i++)
            if (put)
                s_put (c, s_bits (*sums [i]));
            else
                *sums [i] = s_double (s_get (c));
        for (size_t i = 0; i < WP_CALIB_BINS; i++)
            if (put) {
                s_put (c, band->bin_n [i]);
                s_put (c, s_bits (band->bin_p [i]));
                s_put (c, band->bin_asked [i]);
            }
            else {
                band->bin_n [i] = s_get (c);
                band->bin_p [i] = s_double (s_get (c));
                band->bin_asked [i] = s_get (c);
            }
    }
}

//  Encode the counters.
size_t
wp_metrics_keep (wp_metrics_t *self, uint8_t *out, size_t size)
{
    assert (self && out);
    s_cursor_t c = { out, out + size, true };
    s_put (&c, S_KEEP_VERSION);
    s_put (&c, S_BUCKETS);
    s_put (&c, WP_METRICS_LATENCY_BUCKETS);
    s_put (&c, WP_METRICS_HORIZONS);
    s_put (&c, WP_CALIB_BANDS);
    s_put (&c, WP_CALIB_BINS);
    uint64_t *totals [S_KEEP_TOTALS];
    size_t n = s_keep_totals (self, totals);
    s_put (&c, n);
    for (size_t i = 0; i < n; i++)
        s_put (&c, *totals [i]);
    s_keep_arrays (self, &c, true);
    s_put (&c, zhashx_size (self->topics));
    for (uint64_t *count = (uint64_t *) zhashx_first (self->topics); count;
         count = (uint64_t *) zhashx_next (self->topics)) {
        s_put_name (&c, (const char *) zhashx_cursor (self->topics));
        s_put (&c, *count);
    }
    s_put (&c, self->n_models + 1);
    for (size_t m = 0; m <= self->n_models; m++) {
        //  (the last: "other", the models past WP_METRICS_MAX_MODELS)
        wp_metrics_model_t *model = &self->models [m < self->n_models ? m
                                                     : WP_METRICS_MAX_MODELS];
        s_put_name (&c, m < self->n_models ? model->name : "");
        uint64_t *fields [S_KEEP_MODEL];
        s_keep_model (model, fields);
        for (size_t i = 0; i < S_KEEP_MODEL; i++)
            s_put (&c, *fields [i]);
    }
    return c.ok ? (size_t) (c.at - out) : 0;
}

//  Check the encoding's version and sizes.
static bool
s_keep_header_ok (s_cursor_t *c)
{
    const uint64_t want [] = { S_KEEP_VERSION, S_BUCKETS, WP_METRICS_LATENCY_BUCKETS,
                               WP_METRICS_HORIZONS, WP_CALIB_BANDS, WP_CALIB_BINS,
                               S_KEEP_TOTALS };
    for (size_t i = 0; i < sizeof want / sizeof want [0]; i++)
        if (s_get (c) != want [i])
            return false;
    return c->ok;
}

//  Read the topics and the models into self.
static bool
s_restore_named (wp_metrics_t *self, s_cursor_t *c)
{
    char name [256];
    uint64_t topics = s_get (c);
    for (uint64_t t = 0; c->ok && t < topics && t <= WP_METRICS_MAX_TOPICS; t++) {
        s_get_name (c, name);
        uint64_t count = s_get (c);
        if (c->ok && s_valid_topic (name) && !zhashx_lookup (self->topics, name)
            && zhashx_size (self->topics) < WP_METRICS_MAX_TOPICS) {
            uint64_t *kept = (uint64_t *) malloc (sizeof (uint64_t));
            assert (kept);
            *kept = count;
            zhashx_insert (self->topics, name, kept);
        }
    }
    uint64_t models = s_get (c);
    if (!c->ok || topics > WP_METRICS_MAX_TOPICS || models > WP_METRICS_MAX_MODELS + 1)
        return false;
    for (uint64_t m = 0; c->ok && m < models; m++) {
        s_get_name (c, name);
        wp_metrics_model_t *model = m + 1 < models && *name ? s_model (self, name)
                                  : &self->models [WP_METRICS_MAX_MODELS];
        uint64_t *fields [S_KEEP_MODEL];
        s_keep_model (model, fields);
        for (size_t i = 0; i < S_KEEP_MODEL; i++)
            *fields [i] = s_get (c);
    }
    return c->ok && c->at == c->end;
}

//  Read the whole encoding into self; false when it does not parse.
static bool
s_restore_into (wp_metrics_t *self, const uint8_t *data, size_t len)
{
    s_cursor_t c = { (uint8_t *) data, data + len, true };
    if (!s_keep_header_ok (&c))
        return false;
    uint64_t *totals [S_KEEP_TOTALS];
    size_t n = s_keep_totals (self, totals);
    for (size_t i = 0; i < n; i++)
        *totals [i] = s_get (&c);
    s_keep_arrays (self, &c, false);
    return s_restore_named (self, &c);
}

//  Take kept counters: read into a scratch core first, so that a record
//  that does not parse leaves this one as it was.
int
wp_metrics_restore (wp_metrics_t *self, const uint8_t *data, size_t len)
{
    assert (self && data);
    if (self->events || self->n_models || zhashx_size (self->topics))
        return -1;
    wp_metrics_t *scratch = wp_metrics_new ();
    bool ok = scratch && s_restore_into (scratch, data, len);
    wp_metrics_destroy (&scratch);
    if (!ok || !s_restore_into (self, data, len))
        return -1;
    self->dropped_kept = self->dropped;
    return 0;
}

//  What changes with the kept counters.
uint64_t
wp_metrics_stamp (wp_metrics_t *self)
{
    assert (self);
    //  (not the periodic reports: a service at rest keeps its counters
    //  as they were, not a commit per flush for its heartbeats)
    uint64_t periodic = 0;
    for (int topic = 0; topic < WP_TOPIC_COUNT; topic++)
        if (wp_topic_periodic ((wp_topic_t) topic)) {
            const uint64_t *count = (const uint64_t *) zhashx_lookup (
                self->topics, wp_topic_name ((wp_topic_t) topic));
            periodic += count ? *count : 0;
        }
    uint64_t stamp = self->events - periodic + self->dropped + self->latency_samples
                   + self->requests + self->warmups_ok + self->warmups_failed
                   + self->cools + self->cools_failed;
    //  (guesses are scored as the clock passes their horizon, without events)
    for (size_t i = 0; i < WP_METRICS_HORIZONS; i++)
        stamp += self->horizons [i].tp + self->horizons [i].fp + self->horizons [i].fn
               + self->horizons [i].tn;
    return stamp;
}
