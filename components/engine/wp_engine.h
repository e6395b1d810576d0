/*  =========================================================================
    wp_engine - PredictionEngine core: from what the analyzer says of the
    (user, model) pair a request changed, the probability of the next
    request within the horizon, the expected time until it, a confidence,
    and a plan: how long to keep the model after the request and when to
    pre-warm it again; and the same for the models that follow it.

    An event costs what changed: the engine keeps what it needs of each
    pair (its plan, the plan's idle-time quantiles, the features of its
    pending prediction, the window's evidence), so a request makes the
    plan of its own pair (again only when the pair's idle times moved
    enough) and predicts the models its links name; the user's other
    models keep the plans they were given (the scheduler reads their
    chance from the quantiles as time passes) until their own next
    request.

    Model "idle-plan/3", priced: the user states what a second of a
    request waiting on a load is worth in residency (cold_wait_price, W,
    GiB*s per s) and every plan minimises the expected wait x W + memory x
    time of its (user, model) pair.
    - Break-even of a pair: a cold start costs as much as keeping the model
      W x (load + queued) / GiB + load: the request's wait, the waits of the
      requests that queue behind the load (learned per pair from what
      followed its idle times longer than the load, against all pairs'),
      and the load's own residency.
    - Keep: the pair's idle-time survival on the analyzer's bins, each
      level's conditional survival its own faded counts against the
      population's, weighed as PRIOR_WEIGHT idle times; the keep is the bin
      edge minimising E[min (idle, keep)] + P(idle > keep) x break-even.
    - The population: Kaplan-Meier over all pairs' ended idle times (faded,
      24 h half-life) and the running ones (a census: pairs in order of
      their latest request, a cursor per level), a scale-free prior where
      nothing is known (S ~ 1 / t).
    - Window: each pair keeps its last RING idle times longer than its load
      exactly and learns how often the next fell within each of TOLS
      widths of their median; keep-then-load-again replaces the keep where
      it costs less and its hit rate is at least 0.9.
    - Probability: an online logistic regression (learning_rate) over the
      survival's P(request within the horizon | idle so far), first- and
      second-order Markov and co-use weights after the user's latest
      model, seasonality, the rate anomaly and the confidence, trained on
      what happened next.
    - A model that follows the user's latest one (Markov, co-use) gets a
      window at the learned delay when its probability times the
      break-even pays for the window's residency; its idle-time feature is
      its own last plan's quantiles given how long it has been idle.
    - Each plan names what the pair's arrivals allowed (wp_category_t).
    It reads the pair a request changed (wp_pattern.h) and says wp_prediction_t
    (wp_prediction.h): both live in wire/, beside the schemas, with their
    codecs. Load times come from the performance predictor and memory from the
    configuration or perf.estimate (wp_engine_model). Plain C: no sockets,
    no clock.
    =========================================================================
*/

#ifndef WP_ENGINE_H_INCLUDED
#define WP_ENGINE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "wp_names.h"
#include "wp_pattern.h"
#include "wp_prediction.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WP_ENGINE_VERSION "idle-plan/3"

//  Default price of a second of cold wait, GiB*s of residency (see
//  wp_engine_opts_t.cold_wait_price).
#define WP_ENGINE_PRICE_DEFAULT 1000.0

//  Features of the ensemble.
#define WP_ENGINE_FEATURES 8

//  Options; zero fields take the defaults.
typedef struct {
    uint32_t horizon_s;         //  prediction horizon, s (default 300)
    uint32_t usage_window_s;    //  (reserved; kept for the config key)
    uint32_t max_models;        //  predictions per user at most (default 8)
    double prior;               //  (reserved)
    double threshold;           //  prediction_threshold (kept for the
                                //  callers' options; plans are priced)
    double learning_rate;       //  ensemble step (default 0.1; < 0: frozen)
    uint32_t default_load_ms;   //  load time of an undescribed model (default 1000)
    uint32_t default_memory_mb; //  memory of an undescribed model (default 512)
    double cold_wait_price;     //  GiB*s of residency that one second of a
                                //  request waiting on a load is worth: the
                                //  plans minimise wait x price + residency
                                //  (default WP_ENGINE_PRICE_DEFAULT)
    uint32_t max_pairs;         //  pairs remembered for learning (default 1000000)
    wp_names_t *names;          //  model names shared with other cores of the
                                //  process (borrowed, outlives the engine):
                                //  load times are kept by their ids (4 bytes
                                //  an id); NULL: by name hash in a table
} wp_engine_opts_t;

//  A plan in offsets from the last request, for tests and tools.
typedef struct {
    uint64_t keep_ms;           //  keep for
    uint64_t prewarm_ms;        //  pre-warm at (0: no window)
    uint64_t hold_ms;           //  hold until
    double cost;                //  expected cost, ms per MB
    double p_horizon;           //  P(next idle time <= horizon)
    double expected_ms;         //  expected next idle time
    int keep_bin;               //  keep_ms is the lower edge of this bin
    int start_bin;              //  the window covers bins [start, end)
    int end_bin;                //  (0, 0: no window)
    double gap_q [WP_PREDICTION_QUANTILES]; //  idle-time quantiles, ms
} wp_plan_t;

typedef struct _wp_engine_t wp_engine_t;

//  Create an engine; opts may be NULL.
wp_engine_t *
    wp_engine_new (const wp_engine_opts_t *opts);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_engine_destroy (wp_engine_t **self_p);

//  Describe a model's load time, ms, and memory, MiB (from the performance
//  predictor or the configuration). 0 leaves a value as it was.
void
    wp_engine_model (wp_engine_t *self, const char *model, uint32_t load_ms,
                     uint32_t memory_mb);

//  A pair changed: pair is its summary after the user's request at now_ms
//  (usage.pattern's, or the analyzer's). Learn from it (the idle time it
//  ended, what the pair's previous prediction said), predict it and plan
//  it, then predict the models its links say follow it for this user
//  (first- and second-order Markov, co-use) among the user's pairs the
//  engine knows, each from what the engine kept of it (its last plan's
//  idle-time quantiles, features and learning), with a window where one
//  pays. The user's other models are left as their plans said: nothing is
//  computed for them. Writes at most capacity (and max_models)
//  predictions, the pair's first, then its followers by probability,
//  highest first. Returns how many.
size_t
    wp_engine_update (wp_engine_t *self, uint64_t user_hash, const wp_pattern_t *pair,
                      uint64_t now_ms, wp_prediction_t *out, size_t capacity);

//  Resync: take a pair's summary without a request (the analyzer's
//  snapshot after a restart or a gap): the engine knows the pair as of its
//  latest request (pair->last_ms) and plans it, so a later request of the
//  user predicts it as a follower, and its own next request learns the
//  idle time it ends. Nothing else is learned. A pair the engine has seen
//  at or after pair->last_ms is left as it is. Its running idle time joins
//  the population's census at its next request. Returns true when taken.
bool
    wp_engine_restore (wp_engine_t *self, uint64_t user_hash, const wp_pattern_t *pair,
                       uint64_t now_ms);

//  Pairs the engine knows.
size_t
    wp_engine_pairs (wp_engine_t *self);

//  The cost-minimising plan for an idle-time distribution: mass [i] in
//  bin i (WP_IDLE_BINS, need not sum to 1), a load time and a break-even
//  time (ms). Fills *plan.
void
    wp_engine_plan (const double *mass, double load_ms, double break_even_ms,
                    double horizon_ms, wp_plan_t *plan);

//  Break-even time (ms) the engine plans with for a model of that load
//  time and memory (0: the defaults): the residency a cold start costs,
//  load_ms x (price x 1024 / memory_mb + 1).
double
    wp_engine_break_even_ms (wp_engine_t *self, uint32_t load_ms, uint32_t memory_mb);

//  The load time (ms) and memory (MiB) the engine plans a model with: as
//  described (wp_engine_model), else the defaults.
void
    wp_engine_model_info (wp_engine_t *self, const char *model, uint32_t *load_ms,
                          uint32_t *memory_mb);

//  Change the price of a second of cold wait (a reload); what was learned
//  stays, plans are made again. Ignored unless positive and finite.
void
    wp_engine_set_price (wp_engine_t *self, double cold_wait_price);

//  The price of a second of cold wait.
double
    wp_engine_price (wp_engine_t *self);

//  The horizon in seconds.
uint32_t
    wp_engine_horizon_s (wp_engine_t *self);

//  The ensemble's weights (WP_ENGINE_FEATURES), and its updates so far.
const double *
    wp_engine_weights (wp_engine_t *self, uint64_t *updates);

//  Window tolerances a pair learns (the population's hit rates).
#define WP_ENGINE_TOLS 6

//  What the engine learns of all its pairs together, which carries over
//  to other users and other deployments (a model file, wp_engine_file):
//  the ensemble's weights, the population's idle-time survival (and its
//  counts, for a restart of the same service), the waits that queue
//  behind a cold start and the windows' hit rates. Per-pair state is not
//  in it.
typedef struct {
    double weights [WP_ENGINE_FEATURES];    //  the ensemble's weights
    uint64_t updates;                       //  and the examples they saw
    double survival [WP_IDLE_BINS];         //  P(idle >= level j+1 | >= j)
    double done [WP_IDLE_BINS + 1];         //  ended idle times >= level j
    double waits_s, waits_n;                //  waits behind cold starts
    double hits [WP_ENGINE_TOLS];           //  windows' hits per tolerance
    double trials;                          //  and tries
} wp_engine_learned_t;

//  How another engine's learning is taken.
typedef enum {
    WP_ENGINE_RESTORE = 0,      //  the same service after a restart: all of it
    WP_ENGINE_REPLACE,          //  a model file: replaces what was learned
    WP_ENGINE_MERGE             //  a model file: merged with what was learned
} wp_engine_learn_t;

//  What the engine learned of all its pairs (the population's survival as
//  it last computed it; 0 where never: the scale-free prior).
void
    wp_engine_learned (wp_engine_t *self, wp_engine_learned_t *out);

//  Take what another engine learned. A restore takes everything back. A
//  model file (replace or merge) sets the ensemble's weights (replaced,
//  or averaged by the examples each saw), the waits and the windows' hit
//  rates (replaced or added), and its population survival becomes the
//  prior where this engine knows nothing yet (weighed as a few idle
//  times: the survival of another time or place is no observation here;
//  replace also forgets this engine's own population counts). Pairs are
//  untouched; plans are made again. -1 if a value is not finite, a count
//  negative or a survival out of 0..1 (nothing is taken then).
int
    wp_engine_learn_from (wp_engine_t *self, const wp_engine_learned_t *in,
                          wp_engine_learn_t how);

//  Bytes of memory held.
size_t
    wp_engine_state_bytes (wp_engine_t *self);

#ifdef __cplusplus
}
#endif

#endif
