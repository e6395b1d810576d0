/*  =========================================================================
    wp_metrics - the model warmup metrics core: topic counts, usage
    outcomes, warmup results, and usage -> prediction latency.
    =========================================================================
*/

#include "wp_metrics.h"
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
    uint64_t latency_samples;   // latencies recorded
    uint64_t latency_min;       // smallest latency, us (valid if samples)
    uint64_t latency_max;       // largest latency, us (valid if samples)
    uint64_t latency [S_BUCKETS];       // latencies per bucket
    double bounds [S_TOP + 1];          // bounds [i] = S_GROWTH^i
    s_slot_t slots [WP_METRICS_MATCH_SLOTS];    // usage -> seen time
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

//  Scramble a key (maybe sequential) into a slot: the splitmix64 finaliser.

static size_t
s_slot_of (uint64_t key)
{
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    key ^= key >> 31;
    return (size_t) (key & (WP_METRICS_MATCH_SLOTS - 1));
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
