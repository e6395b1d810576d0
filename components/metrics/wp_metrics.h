/*  =========================================================================
    wp_metrics - the model warmup metrics core: counts what goes over the
    bus and how requests were served, and measures the latency from a usage
    event to the prediction it caused.

    Plain C, no I/O, no clock: the actor passes each event's facts and the
    current time in. All counters are cumulative since wp_metrics_new.
    Memory is bounded whatever the traffic:

    * topics: at most WP_METRICS_MAX_TOPICS distinct names are counted by
      name; further names, names longer than WP_METRICS_TOPIC_MAX bytes and
      names with bytes outside printable ASCII are counted under "other"
      (WP_METRICS_OTHER, which is also the count of a topic named "other").
    * latency: a histogram of fixed log buckets, [0, 1) us, then buckets
      growing by 1.04 from 1 us up to about 1 hour, then one for the rest.
      p50 and p99 are within WP_METRICS_REL_ERROR of the exact nearest-rank
      quantile, plus 0.5 us of rounding; the largest latency is exact.
    * the match table remembering usage events until their prediction
      arrives: WP_METRICS_MATCH_SLOTS slots, open addressing, each key
      living in one of WP_METRICS_MATCH_PROBE slots after its hash. When
      those are all taken the oldest entry is overwritten and counted as
      evicted: under overload (more than a few thousand usages waiting for
      a prediction) the oldest usages lose their latency sample, and their
      predictions count as unmatched. Nothing grows.
    =========================================================================
*/

#ifndef WP_METRICS_H_INCLUDED
#define WP_METRICS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Most topic names counted by name.
#define WP_METRICS_MAX_TOPICS 64

//  Longest topic name counted by name, bytes.
#define WP_METRICS_TOPIC_MAX 64

//  Name under which all other topics are counted.
#define WP_METRICS_OTHER "other"

//  Slots in the usage -> prediction match table (a power of two).
#define WP_METRICS_MATCH_SLOTS 4096

//  Slots a key may occupy, from its hash on.
#define WP_METRICS_MATCH_PROBE 8

//  Largest relative error of the latency quantiles (besides rounding).
#define WP_METRICS_REL_ERROR 0.0199

typedef struct _wp_metrics_t wp_metrics_t;

//  How the model server served a request: mirrors warmup.v1.Outcome.
typedef enum {
    WP_METRICS_OUTCOME_UNKNOWN = 0,     // the reporter does not know
    WP_METRICS_OUTCOME_WARM = 1,        // model was loaded: no wait
    WP_METRICS_OUTCOME_DELAYED = 2,     // model was loading: waited
    WP_METRICS_OUTCOME_COLD = 3         // model was not resident: cold start
} wp_metrics_outcome_t;

//  What a finished warmup task did: mirrors warmup.v1.Action.
typedef enum {
    WP_METRICS_ACTION_WARM = 1,         // load the model
    WP_METRICS_ACTION_COOL = 2          // unload the model
} wp_metrics_action_t;

//  The counters at one moment (metrics.snapshot, plus a few more).
typedef struct {
    uint64_t events;            // events counted by wp_metrics_event
    size_t topics;              // distinct topic names counted by name
    uint64_t requests;          // usage events
    uint64_t warm;              // ... served warm
    uint64_t delayed;           // ... that waited for a load in progress
    uint64_t cold_starts;       // ... that started an on-demand load
    double cold_wait_s;         // wait reported by delayed and cold, s
    uint64_t predictions;       // predictions seen
    uint64_t unmatched;         // ... whose usage was not in the table
    uint64_t evicted;           // usages overwritten before their prediction
    uint64_t pending;           // usages waiting for their prediction
    uint64_t latency_samples;   // latencies recorded
    uint64_t latency_p50_us;    // usage -> prediction latency, us
    uint64_t latency_p99_us;
    uint64_t latency_max_us;
    uint64_t warmups_ok;        // loads that succeeded
    uint64_t warmups_failed;    // loads that failed
    uint64_t cools;             // unloads that succeeded
    uint64_t cools_failed;      // unloads that failed
    uint64_t dropped;           // events the metrics component lost
} wp_metrics_snapshot_t;

//  Called by wp_metrics_topics for each topic. topic is valid only during
//  the call. Return 0 to go on, non-zero to stop.
typedef int (wp_metrics_topic_fn) (const char *topic, uint64_t count, void *arg);

//  Create a metrics core with every counter at zero. NULL when out of
//  memory.
wp_metrics_t *
    wp_metrics_new (void);

//  Destroy the metrics core; nulls *self_p. Safe on NULL.
void
    wp_metrics_destroy (wp_metrics_t **self_p);

//  Count one event of topic (copied). Returns 0 when counted under its
//  own name, 1 when counted under "other" (NULL, empty, too long,
//  unprintable, or the table is full).
int
    wp_metrics_event (wp_metrics_t *self, const char *topic);

//  Events counted under topic (WP_METRICS_OTHER for the rest); 0 if none.
uint64_t
    wp_metrics_topic_count (wp_metrics_t *self, const char *topic);

//  Call fn for each topic counted by name, in name order, then for "other"
//  if it counted anything. Returns 0 or fn's non-zero return.
int
    wp_metrics_topics (wp_metrics_t *self, wp_metrics_topic_fn *fn, void *arg);

//  Count one usage event served with outcome (a wp_metrics_outcome_t) after
//  waiting wait_ms; the wait of delayed and cold requests adds to
//  cold_wait_s. An outcome outside the enum counts as a request of unknown
//  outcome and returns -1; otherwise 0.
int
    wp_metrics_usage (wp_metrics_t *self, int outcome, uint32_t wait_ms);

//  Count one finished warmup task: action is a wp_metrics_action_t.
//  Returns 0, or -1 for an action outside the enum (nothing counted).
int
    wp_metrics_warmup_done (wp_metrics_t *self, int action, bool ok);

//  Record one usage -> prediction latency, microseconds.
void
    wp_metrics_latency (wp_metrics_t *self, uint64_t us);

//  Remember that the usage event identified by key (the actor derives it
//  from the event's source and sequence number) was seen at now_us. Seeing
//  a key again moves its time to now_us. May evict the oldest entry of the
//  key's probe window (see above).
void
    wp_metrics_usage_seen (wp_metrics_t *self, uint64_t key, uint64_t now_us);

//  A prediction caused by usage key was seen at now_us: counts the
//  prediction and, if the usage is in the table, removes it, records the
//  latency (now_us - seen time, 0 if the clock went back) and returns it.
//  Returns -1 when the usage is unknown (never seen, already matched or
//  evicted).
int64_t
    wp_metrics_prediction_seen (wp_metrics_t *self, uint64_t key, uint64_t now_us);

//  Add count to the events the metrics component itself dropped.
void
    wp_metrics_dropped (wp_metrics_t *self, uint64_t count);

//  Median usage -> prediction latency, us (0 without samples).
uint64_t
    wp_metrics_latency_p50_us (wp_metrics_t *self);

//  99th percentile usage -> prediction latency, us (0 without samples).
uint64_t
    wp_metrics_latency_p99_us (wp_metrics_t *self);

//  Largest usage -> prediction latency, us (0 without samples).
uint64_t
    wp_metrics_latency_max_us (wp_metrics_t *self);

//  Fill *snapshot with the current counters.
void
    wp_metrics_snapshot (wp_metrics_t *self, wp_metrics_snapshot_t *snapshot);

#ifdef __cplusplus
}
#endif

#endif
