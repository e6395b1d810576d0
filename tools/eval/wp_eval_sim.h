/*  =========================================================================
    wp_eval_sim - the simulated world of EVAL.md section 2, for one policy

    Requests take no service time. A request for a loaded model waits 0, for
    a loading model until its load ends (delayed), for an absent model
    load_ms (a cold start: an on-demand load starts now). A model occupies
    memory_mb from the start of its load until it is unloaded; resident
    memory never exceeds the budget (0 = unbounded). Loading models cannot
    be unloaded. A load ends at start + load_ms: a request at that very ms
    is warm.

    Pins (the catalog's pin column) are part of the world, the same for
    every policy: a pinned model is loaded at the start of the run (the
    first request's time), its memory counts against the budget and in
    resident_gb_s until the end, and nothing unloads it. It is not in the
    resident list policies scan for victims (nor in their model-count
    limits); wp_eval_sim_is_resident says true, wp_eval_sim_unload 2.
    Priorities are no part of the world: a policy with a notion of value
    reads them from the catalog.

    The driver feeds requests in time order (wp_eval_sim_request) and ends
    the run (wp_eval_sim_finish); the policy acts through the functions
    below marked "policy". Times are ms. See wp_eval_policy.h.
    =========================================================================
*/
#ifndef WP_EVAL_SIM_H_INCLUDED
#define WP_EVAL_SIM_H_INCLUDED

#include "wp_eval.h"
#include "wp_eval_catalog.h"
#include "wp_eval_future.h"
#include "wp_eval_policy.h"

//  Classes of models for the per-class figures (a pinned model is in
//  WP_EVAL_CLASS_PINNED whatever its priority).
typedef enum {
    WP_EVAL_CLASS_PINNED = 0, WP_EVAL_CLASS_HIGH, WP_EVAL_CLASS_NORMAL, WP_EVAL_CLASS_LOW,
    WP_EVAL_CLASSES
} wp_eval_class_id_t;

//  Longest policy report (a JSON object), bytes.
#define WP_EVAL_REPORT_MAX 16384

//  Figures of one class of models.
typedef struct {
    uint32_t models;            //  models of the class in the catalog
    uint64_t requests;          //  their requests
    uint64_t cold_starts;       //  their cold starts
    uint64_t delayed;           //  their delayed requests
    uint64_t wait_ms;           //  their wait, ms
    uint64_t resident_mb_ms;    //  their residency, MB x ms
} wp_eval_class_t;

//  The metrics of EVAL.md section 3 for one run.
typedef struct {
    uint64_t requests;          //  requests in the trace
    uint64_t cold_starts;       //  requests that started an on-demand load
    uint64_t delayed;           //  requests that arrived while their model loaded
    uint64_t uncacheable;       //  cold starts whose model could not be kept
    double cold_rate;           //  (cold_starts + delayed) / requests
    double cold_wait_s;         //  total seconds requests waited for loads
    double p75_model_cold_rate; //  75th pct over models of their cold rate
    double resident_gb_s;       //  sum of memory_mb/1024 x seconds resident
    double wasted_pct;          //  % of keepalive:600's resident_gb_s (NAN: n/a)
    uint64_t prewarms;          //  loads started by the policy
    uint64_t useful_prewarms;   //  pre-warms whose model got a request
    double fp_rate;             //  1 - useful_prewarms / prewarms
    double cold_reduction;      //  1 - cold_wait_s / ollama's (NAN: n/a)
    double recall;              //  warm-by-pre-warm / (that + cold + delayed)
    uint64_t prewarm_hits;      //  requests served warm by a pre-warm
    uint64_t events;            //  policy events (requests + timers)
    double ns_per_event_mean;   //  mean ns inside the policy per event
    double ns_per_event_p99;    //  99th percentile of the same (bin upper edge)
    uint64_t state_bytes_peak;  //  peak bytes of policy state
    uint64_t resident_mb_ms;    //  resident_gb_s in exact MB x ms
    uint64_t wait_ms;           //  cold_wait_s in exact ms
    bool by_class;              //  the catalog has pins or priorities
    wp_eval_class_t classes [WP_EVAL_CLASSES];  //  figures per class of model
    char report [WP_EVAL_REPORT_MAX];   //  the policy's own figures, a JSON
                                //  object ("" none; wp_eval_policy_t.report)
} wp_eval_metrics_t;

//  Name of a class ("pinned", "high", "normal", "low").
const char *
    wp_eval_class_name (int class_id);

//  Create a world for one policy; the catalog and future are borrowed (the
//  future may be NULL unless the policy needs it). budget_mb 0 = unbounded.
//  timing: measure ns per policy event. NULL on failure with error set
//  (also when the pinned models do not fit in the budget).
wp_eval_sim_t *
    wp_eval_sim_new (wp_eval_catalog_t *catalog, int64_t budget_mb,
                     const wp_eval_policy_t *policy, double knob,
                     wp_eval_future_t *future, bool timing, char *error);

//  Destroy the world and the policy state; safe on NULL, nulls the pointer.
void
    wp_eval_sim_destroy (wp_eval_sim_t **self_p);

//  Driver: process timers due up to the request's time, then the request.
//  0, or -1 if the policy failed (reason in wp_eval_sim_error).
int
    wp_eval_sim_request (wp_eval_sim_t *self, const wp_eval_request_t *request);

//  Driver: end the run at end_time (>= the last request): fire the timers
//  due until then and charge residency up to it. 0 or -1.
int
    wp_eval_sim_finish (wp_eval_sim_t *self, int64_t end_time);

//  Driver: the metrics (after finish). wasted_pct and cold_reduction are
//  NAN here: the driver fills them from other runs.
void
    wp_eval_sim_metrics (wp_eval_sim_t *self, wp_eval_metrics_t *metrics);

//  What the world did to a model, as an observer is told.
typedef enum {
    WP_EVAL_SIM_LOAD = 0,       //  an on-demand load started (a cold start)
    WP_EVAL_SIM_PREWARM,        //  a load the policy started
    WP_EVAL_SIM_UNLOAD          //  unloaded (by the policy or for room)
} wp_eval_sim_change_t;

typedef void (wp_eval_sim_observer_fn) (void *arg, uint32_t model,
                                        wp_eval_sim_change_t change, int64_t time);

//  Host: be told of every load and unload (time: as of when), for a host
//  that runs a policy against a real world (the scheduler); NULL: none.
void
    wp_eval_sim_observe (wp_eval_sim_t *self, wp_eval_sim_observer_fn *observer,
                         void *arg);

//  Host: let time pass to time (>= now; earlier is ignored): the timers
//  due by then fire. 0, or -1 if the policy failed.
int
    wp_eval_sim_advance (wp_eval_sim_t *self, int64_t time);

//  Host: when the next timer falls due, -1 if none.
int64_t
    wp_eval_sim_next_timer (wp_eval_sim_t *self);

//  Reason the run failed (borrowed).
const char *
    wp_eval_sim_error (wp_eval_sim_t *self);

//  Policy: the catalog (borrowed).
wp_eval_catalog_t *
    wp_eval_sim_catalog (wp_eval_sim_t *self);

//  The policy the world runs (borrowed).
const wp_eval_policy_t *
    wp_eval_sim_policy (wp_eval_sim_t *self);

//  Policy: the future of the trace (oracle only; NULL if not built).
wp_eval_future_t *
    wp_eval_sim_future (wp_eval_sim_t *self);

//  Policy: the current simulated time, ms.
int64_t
    wp_eval_sim_now (wp_eval_sim_t *self);

//  Policy: the budget, MB (0 = unbounded).
int64_t
    wp_eval_sim_budget_mb (wp_eval_sim_t *self);

//  Policy: free memory, MB (INT64_MAX when unbounded).
int64_t
    wp_eval_sim_free_mb (wp_eval_sim_t *self);

//  Policy: memory of resident models (loading included), MB.
int64_t
    wp_eval_sim_resident_mb (wp_eval_sim_t *self);

//  Policy: memory of models still loading, MB (scans the resident list).
int64_t
    wp_eval_sim_loading_mb (wp_eval_sim_t *self);

//  Policy: true if the model is resident (loaded or loading).
bool
    wp_eval_sim_is_resident (wp_eval_sim_t *self, uint32_t model);

//  Policy: true if the model is pinned (resident all along, never unloaded).
bool
    wp_eval_sim_is_pinned (wp_eval_sim_t *self, uint32_t model);

//  Policy: true if the model is resident and its load has not ended.
bool
    wp_eval_sim_is_loading (wp_eval_sim_t *self, uint32_t model);

//  Policy: when the model's current load ends (ms), or -1 if not resident.
int64_t
    wp_eval_sim_load_end (wp_eval_sim_t *self, uint32_t model);

//  Policy: true if the model's current residency was started by a pre-warm.
bool
    wp_eval_sim_is_prewarmed (wp_eval_sim_t *self, uint32_t model);

//  Policy: time of the model's last request, or -1.
int64_t
    wp_eval_sim_last_request (wp_eval_sim_t *self, uint32_t model);

//  Policy: number of resident models the policy may unload (pinned ones
//  are not counted).
size_t
    wp_eval_sim_resident_count (wp_eval_sim_t *self);

//  Policy: the i-th resident model (0 <= i < count; order changes when a
//  model is loaded or unloaded).
uint32_t
    wp_eval_sim_resident_model (wp_eval_sim_t *self, size_t index);

//  Policy: start a pre-warm load of the model now. 0 started, 1 already
//  resident, -1 it does not fit in the free memory (unload first).
int
    wp_eval_sim_prewarm (wp_eval_sim_t *self, uint32_t model);

//  Policy: unload the model now. 0 unloaded, 1 not resident, 2 pinned
//  (never unloaded), -1 still loading (try again at wp_eval_sim_load_end).
int
    wp_eval_sim_unload (wp_eval_sim_t *self, uint32_t model);

//  Policy: unload a model whose residency ended at an earlier time (<= now,
//  >= its load end, its last request and its last pre-warm), charging
//  memory only up to that time. Used for expiries "idle for more than K":
//  the model is still there for a request at exactly last + K, and leaves
//  at that time if none came (the timer that notices fires 1 ms later).
//  0 unloaded, 1 not resident, 2 pinned, -1 time out of range.
int
    wp_eval_sim_unload_at (wp_eval_sim_t *self, uint32_t model, int64_t time);

//  Policy: call on_timer (model, token) at time (clamped to now if
//  earlier). 0, or -1 on allocation failure.
int
    wp_eval_sim_set_timer (wp_eval_sim_t *self, int64_t time, uint32_t model, uint64_t token);

//  Policy: unload idle (loaded, not loading) models, least recently used
//  first (last request or pre-warm), until need_mb is free. 0 if it is
//  free, -1 if it cannot be made free.
int
    wp_eval_sim_evict_lru (wp_eval_sim_t *self, int64_t need_mb);

#endif
