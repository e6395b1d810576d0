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

    The live EVAL.md section 3 metrics (docs/metrics.md has every
    definition and where the live value can differ from the simulator's):

    * per model (at most WP_METRICS_MAX_MODELS names, the rest under
      "other"): requests by outcome, cold wait, pre-warms (a warm done ok
      whose reason is not "manual"), useful pre-warms (the model got a
      request before it was cooled), pre-warm hits (that first request was
      served warm), resident memory-time from warm and cool done events;
      its state as this service knows it (cold, loading, warm).
    * prediction quality: each (user, model) entry of a prediction opens a
      guess, kept in WP_METRICS_GUESS_SLOTS fixed slots keyed by a keyed
      hash of the user id and the model (raw user ids are never stored).
      A guess is positive when its probability is at least the threshold;
      it is scored when the user requests the model (a request within the
      horizon: true positive or false negative) or when its horizon ends
      first (false positive or true negative), by the range of its
      expected_in_ms (under 5 min, 5 min to 1 h, over 1 h). A newer
      prediction for the same pair supersedes an open guess (counted,
      not scored); when the slots of a key are all taken, the guess
      ending first is evicted (counted, not scored).
    * the stream clock: the largest event time seen on usage, prediction
      and warmup events, moved on by wp_metrics_advance between events.
      Horizons end and memory-time accrues on this clock.
    * heartbeats: the latest of each publisher, WP_METRICS_MAX_SOURCES at
      most (the stalest is replaced).
    * the latest WP_METRICS_DECISIONS warmup requests and results, and
      WP_METRICS_HISTORY samples of the totals for the dashboard.
    =========================================================================
*/

#ifndef WP_METRICS_H_INCLUDED
#define WP_METRICS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "wp_calib.h"

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

//  Models counted by name; the rest are counted under "other".
#define WP_METRICS_MAX_MODELS 128

//  Longest model name counted by name, bytes.
#define WP_METRICS_MODEL_MAX 128

//  Open prediction guesses at most (a power of two), and the slots a key
//  may occupy from its hash on.
#define WP_METRICS_GUESS_SLOTS 16384
#define WP_METRICS_GUESS_PROBE 8

//  Heartbeat publishers remembered at most.
#define WP_METRICS_MAX_SOURCES 64

//  Longest component name kept from a heartbeat, bytes.
#define WP_METRICS_COMPONENT_MAX 32

//  Latest decisions (warmup requests and results) kept.
#define WP_METRICS_DECISIONS 32

//  Longest reason or error kept with a decision, bytes.
#define WP_METRICS_REASON_MAX 160

//  History samples kept (one per wp_metrics_sample call).
#define WP_METRICS_HISTORY 600

//  Ranges of expected_in_ms predictions are scored by.
#define WP_METRICS_HORIZONS 3

//  Upper bounds of the exported latency histogram buckets, microseconds
//  (a last bucket, +Inf, holds the rest).
#define WP_METRICS_LATENCY_BUCKETS 16

typedef struct _wp_metrics_t wp_metrics_t;

//  What this service knows of a model.
typedef enum {
    WP_METRICS_MODEL_COLD = 0,          // not loaded by this service
    WP_METRICS_MODEL_LOADING = 1,       // a warm was requested, not done yet
    WP_METRICS_MODEL_WARM = 2           // warmed ok and not cooled since
} wp_metrics_model_state_t;

//  One model's counters. Read with wp_metrics_models.
typedef struct {
    char name [WP_METRICS_MODEL_MAX + 1];   // model name, or "other"
    int state;                  // a wp_metrics_model_state_t
    uint32_t memory_mb;         // memory while resident, MiB (0 when not)
    uint64_t requests;          // usage events for the model
    uint64_t warm;              // ... served warm
    uint64_t delayed;           // ... that waited for a load in progress
    uint64_t cold_starts;       // ... that started an on-demand load
    uint64_t wait_ms;           // wait of delayed and cold requests, ms
    uint64_t prewarms;          // pre-warms done (warm ok, reason not "manual")
    uint64_t useful_prewarms;   // ... that got a request before the cool
    uint64_t prewarm_hits;      // ... whose first request was served warm
    uint64_t warmups_ok;        // warm done ok (pre-warms and manual)
    uint64_t warmups_failed;    // warm done failed
    uint64_t cools;             // cool done ok
    uint64_t cools_failed;      // cool done failed
    uint64_t resident_mb_ms;    // memory-time of ended residencies, MiB x ms
    uint64_t resident_since_ms; // start of the current residency (if resident)
    bool resident;              // loaded by this service and not cooled
    bool prewarmed;             // the current residency is a pre-warm
    bool requested;             // ... and got a request already
    bool prewarm_pending;       // a pre-warm was requested, not done yet
    bool pending_touched;       // ... and the model got a request meanwhile
    int last_outcome;           // outcome of the latest request
    uint64_t last_request_ms;   // event time of the latest request
} wp_metrics_model_t;

//  A confusion matrix of scored guesses.
typedef struct {
    uint64_t tp;                // positive, requested within the horizon
    uint64_t fp;                // positive, not requested within it
    uint64_t fn;                // negative, requested within it
    uint64_t tn;                // negative, not requested within it
} wp_metrics_confusion_t;

//  Quality figures of a confusion matrix; NaN where undefined.
typedef struct {
    double accuracy;            // (tp + tn) / all
    double precision;           // tp / (tp + fp)
    double recall;              // tp / (tp + fn)
    double f1;                  // 2 tp / (2 tp + fp + fn)
} wp_metrics_quality_t;

//  One model of a prediction event (wp_metrics_prediction).
typedef struct {
    const char *model;          // model name
    double probability;         // P(request within the horizon)
    uint64_t expected_in_ms;    // expected time until the request, ms
} wp_metrics_guess_t;

//  A finished warmup task (wp_metrics_warmup_finished).
typedef struct {
    const char *model;          // model name
    int action;                 // a wp_metrics_action_t
    bool ok;                    // the backend succeeded
    const char *reason;         // the request's reason ("manual" = operator)
    const char *error;          // why it failed, or NULL
    uint32_t duration_ms;       // time the backend took
    uint32_t memory_mb;         // memory held when warm
    uint64_t event_ms;          // when it finished
    const char *source;         // publisher id, or NULL
} wp_metrics_done_t;

//  Topics a heartbeat's drops are counted by at most (indexed by the
//  bus's topic numbers).
#define WP_METRICS_TOPICS 32

//  A heartbeat (wp_metrics_heartbeat).
typedef struct {
    const char *source;         // publisher id: one entry per source
    const char *component;      // component name ("analyzer", ...)
    uint64_t event_ms;          // when it was sent
    uint64_t rss_kb;            // resident set size, KiB
    uint64_t uptime_ms;
    uint64_t events_in;
    uint64_t events_out;
    uint64_t dropped;
    uint64_t bad_frames;
    uint64_t persisted;
    uint32_t interval_ms;       // time until its next heartbeat
    uint64_t dropped_topics [WP_METRICS_TOPICS]; // sequence gaps by topic number
    uint64_t refused;           // the bus: events a key may not send
    uint64_t rate_limited;      // the bus: usage events over the rate limit
    uint64_t auth_failures;     // the bus: handshakes refused
} wp_metrics_beat_t;

//  The latest heartbeat of one publisher. Read with wp_metrics_sources.
typedef struct {
    bool used;                  // slot holds a publisher
    uint64_t source_hash;       // hash of the publisher id
    char component [WP_METRICS_COMPONENT_MAX + 1];
    uint64_t seen_ms;           // event time of its latest heartbeat
    uint32_t interval_ms;
    uint64_t rss_kb;
    uint64_t uptime_ms;
    uint64_t events_in;
    uint64_t events_out;
    uint64_t dropped;
    uint64_t bad_frames;
    uint64_t persisted;
    uint64_t dropped_topics [WP_METRICS_TOPICS]; // sequence gaps by topic number
    uint64_t refused;           // the bus's refusals (see wp_metrics_beat_t)
    uint64_t rate_limited;
    uint64_t auth_failures;
} wp_metrics_source_t;

//  A warmup request or result. Read with wp_metrics_decision.
typedef struct {
    uint64_t time_ms;           // event time
    bool done;                  // a result (warmup.done), else a request
    int action;                 // a wp_metrics_action_t
    bool ok;                    // result: succeeded
    uint32_t duration_ms;       // result: time the backend took
    char model [WP_METRICS_MODEL_MAX + 1];
    char reason [WP_METRICS_REASON_MAX + 1];    // printable ASCII, cut
    char error [WP_METRICS_REASON_MAX + 1];     // result: why it failed
    char component [WP_METRICS_COMPONENT_MAX + 1];  // who published it
} wp_metrics_decision_t;

//  The totals at one moment. Read with wp_metrics_history_point.
typedef struct {
    uint64_t time_ms;           // when sampled (the caller's clock)
    uint64_t requests;
    uint64_t cold_starts;
    uint64_t delayed;
    uint64_t wait_ms;
    uint64_t prewarms;
    uint64_t useful_prewarms;
    uint64_t prewarm_hits;      // cold starts avoided
    uint64_t resident_mb_ms;    // memory spent, MiB x ms
    uint64_t resident_mb;       // memory resident now, MiB
    wp_metrics_confusion_t horizons [WP_METRICS_HORIZONS];
} wp_metrics_point_t;

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

//  --- The live EVAL.md metrics ---------------------------------------------

//  Set the probability at which a guess is positive (default 0.7).
void
    wp_metrics_set_threshold (wp_metrics_t *self, double threshold);

//  Set the key of the user hash (default all zero bytes).
void
    wp_metrics_set_user_key (wp_metrics_t *self, const uint8_t key [16]);

//  One request: counts it as wp_metrics_usage does, per model too, scores
//  the open guess of (user, model), and makes a pending pre-warm useful.
//  user is hashed at once and never kept. Returns 0, or -1 when outcome
//  is outside the enum (counted as a request of unknown outcome).
int
    wp_metrics_request (wp_metrics_t *self, const char *user, const char *model,
                        int outcome, uint32_t wait_ms, uint64_t event_ms);

//  One prediction event for user, made at event_ms for horizon_s: opens
//  a guess per entry (entries without a model or with a probability
//  outside 0..1 are skipped). Returns the guesses opened.
size_t
    wp_metrics_prediction (wp_metrics_t *self, const char *user, uint64_t event_ms,
                           uint32_t horizon_s, const wp_metrics_guess_t *guesses,
                           size_t n_guesses);

//  A warmup was requested for model (action a wp_metrics_action_t; reason
//  "manual" for operators); remembered as a decision. Returns 0, or -1
//  for a missing model or an action outside the enum.
int
    wp_metrics_warmup_requested (wp_metrics_t *self, const char *model, int action,
                                 const char *reason, const char *source,
                                 uint64_t event_ms);

//  A warmup task finished: counts it as wp_metrics_warmup_done does, per
//  model too, starts or ends the model's residency, counts pre-warms.
//  Returns 0, or -1 for a missing model or an action outside the enum.
int
    wp_metrics_warmup_finished (wp_metrics_t *self, const wp_metrics_done_t *done);

//  A heartbeat. Returns 0, or -1 when it lacks a source or a component.
int
    wp_metrics_heartbeat (wp_metrics_t *self, const wp_metrics_beat_t *beat);

//  Move the stream clock on by elapsed_ms (the caller's time since its
//  previous call), for the time between events.
void
    wp_metrics_advance (wp_metrics_t *self, uint64_t elapsed_ms);

//  The stream clock, ms since the epoch (0 before any event).
uint64_t
    wp_metrics_clock_ms (wp_metrics_t *self);

//  Score every open guess whose horizon ended before the stream clock.
//  Returns how many were scored.
size_t
    wp_metrics_expire (wp_metrics_t *self);

//  Set the count of events the metrics component itself dropped.
void
    wp_metrics_set_dropped (wp_metrics_t *self, uint64_t count);

//  Append a history sample of the totals, stamped now_ms.
void
    wp_metrics_sample (wp_metrics_t *self, uint64_t now_ms);

//  Models counted: the named ones, then "other" when it counted anything.
size_t
    wp_metrics_models (wp_metrics_t *self);

//  Model index (0 .. wp_metrics_models - 1) in the order first seen,
//  "other" last; NULL past the end. Borrowed from the core.
const wp_metrics_model_t *
    wp_metrics_model (wp_metrics_t *self, size_t index);

//  Memory-time of a model up to the stream clock, MiB x ms.
uint64_t
    wp_metrics_model_resident_mb_ms (wp_metrics_t *self, const wp_metrics_model_t *model);

//  The totals over every model (name "total", state unused).
void
    wp_metrics_totals (wp_metrics_t *self, wp_metrics_model_t *totals);

//  The 75th percentile (nearest rank), over models with requests, of
//  (cold_starts + delayed) / requests; 0 without requests. "other" is
//  left out.
double
    wp_metrics_p75_model_cold_rate (wp_metrics_t *self);

//  Memory of the models resident now, MiB.
uint64_t
    wp_metrics_resident_mb (wp_metrics_t *self);

//  The confusion matrix of horizon range index (0: under 5 min, 1: 5 min
//  to 1 h, 2: over 1 h), or of all of them with index -1.
wp_metrics_confusion_t
    wp_metrics_horizon (wp_metrics_t *self, int index);

//  Brier score, log loss and calibration table of the scored guesses, by
//  horizon range (the same ranges; wp_calib.h).
const wp_calib_t *
    wp_metrics_calib (wp_metrics_t *self);

//  Name of a horizon range: "under_5m", "5m_to_1h", "over_1h".
const char *
    wp_metrics_horizon_name (int index);

//  Quality figures of a confusion matrix.
wp_metrics_quality_t
    wp_metrics_quality (wp_metrics_confusion_t confusion);

//  Guess bookkeeping: open now, superseded by a newer prediction, evicted
//  for room, and requests that had no open guess.
uint64_t
    wp_metrics_guesses_open (wp_metrics_t *self);
uint64_t
    wp_metrics_guesses_superseded (wp_metrics_t *self);
uint64_t
    wp_metrics_guesses_evicted (wp_metrics_t *self);
uint64_t
    wp_metrics_unpredicted (wp_metrics_t *self);

//  The publishers' latest heartbeats: *sources points to an array of
//  WP_METRICS_MAX_SOURCES entries the core owns; unused ones have used
//  false. Returns WP_METRICS_MAX_SOURCES.
size_t
    wp_metrics_sources (wp_metrics_t *self, const wp_metrics_source_t **sources);

//  Decisions kept (at most WP_METRICS_DECISIONS).
size_t
    wp_metrics_decisions (wp_metrics_t *self);

//  Decision index, 0 the newest, or NULL past the end.
const wp_metrics_decision_t *
    wp_metrics_decision (wp_metrics_t *self, size_t index);

//  History samples kept (at most WP_METRICS_HISTORY).
size_t
    wp_metrics_history (wp_metrics_t *self);

//  History sample index, 0 the oldest, or NULL past the end.
const wp_metrics_point_t *
    wp_metrics_history_point (wp_metrics_t *self, size_t index);

//  Upper bound of exported latency bucket index, us.
uint64_t
    wp_metrics_latency_bound_us (size_t index);

//  Latencies at most wp_metrics_latency_bound_us (index), cumulative;
//  index WP_METRICS_LATENCY_BUCKETS is every sample (+Inf).
uint64_t
    wp_metrics_latency_le (wp_metrics_t *self, size_t index);

//  Sum of the recorded latencies, us.
uint64_t
    wp_metrics_latency_sum_us (wp_metrics_t *self);

//  A model's state as the queue holds it (a resync after a restart): warm
//  makes it resident with memory_mb from now_ms on (if it was not), cold
//  ends its residency at now_ms, loading only sets the state. Counts no
//  warmup, pre-warm or request. Unknown states are ignored.
void
    wp_metrics_model_state (wp_metrics_t *self, const char *model, int state,
                            uint32_t memory_mb, uint64_t now_ms);

//  --- Keeping the counters over a restart ---------------------------------

//  Largest encoding of the counters, bytes.
#define WP_METRICS_KEEP_MAX 65536

//  Encode the cumulative counters into out (size bytes): the totals, the
//  latency histogram, the scored guesses and their calibration, each
//  topic's and each model's counts. Not in it: what is only current (open
//  guesses, usages waiting for their prediction, model states, heartbeats,
//  decisions, history samples). Returns the bytes written, 0 when size is
//  too small.
size_t
    wp_metrics_keep (wp_metrics_t *self, uint8_t *out, size_t size);

//  Take counters wp_metrics_keep encoded (a previous run's) into a core
//  that has counted nothing yet; its counters go on from them (the own
//  drops that wp_metrics_set_dropped sets are added to the kept ones).
//  Returns 0, or -1 when the data does not parse, comes from a build with
//  other histogram sizes, or the core has counted already (nothing is
//  taken then).
int
    wp_metrics_restore (wp_metrics_t *self, const uint8_t *data, size_t len);

//  A number that changes whenever a counter wp_metrics_keep encodes does
//  (to skip keeping what did not change), but for the counts of the
//  periodic reports (heartbeat, metrics.snapshot, resource.status,
//  perf.estimate): those alone do not make a service at rest write; they
//  are kept with the next change of another counter.
uint64_t
    wp_metrics_stamp (wp_metrics_t *self);

#ifdef __cplusplus
}
#endif

#endif
