/*  =========================================================================
    wp_scheduler - WarmupScheduler core: turns predictions into warm and
    cool decisions within the model-count and memory budgets.

    Demand: each model keeps the latest prediction of up to 16 users, each
    valid for ttl_s. A model's demand is the chance that at least one of
    them asks: 1 - prod (1 - p_user). Models whose demand reaches the
    threshold are wanted; a model already warm stays wanted until its
    demand falls below threshold - hysteresis (so it does not flap).
    Wanted models are ranked by expected benefit (demand x load time) and
    taken greedily while max_warm_models and max_memory_mb allow. Wanted
    and cold -> WARM (if background warmups are enabled and the resource
    manager admits them); warm or warming and not taken -> COOL. A model
    warmed by someone else (an operator's "warm", seen only as warmup
    done) is held until someone cools it; a model cooled by someone else
    is warmed again only on predictions made after that.

    Plain C: no sockets, no clock.
    =========================================================================
*/

#ifndef WP_SCHEDULER_H_INCLUDED
#define WP_SCHEDULER_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "wp_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WP_SCHEDULER_REASON_MAX 128

//  Options; zero fields take the defaults noted.
typedef struct {
    uint32_t max_warm_models;   //  models warm or warming at once (default 5)
    uint64_t max_memory_mb;     //  their memory at most, MiB (0 = unbounded)
    double threshold;           //  demand that makes a model wanted (default 0.7)
    double hysteresis;          //  a warm model stays until threshold - this
                                //  (0 = none; the service uses 0.1)
    uint32_t ttl_s;             //  how long a prediction counts, s (default 300)
    bool background;            //  warm on predictions at all (set explicitly)
    uint32_t default_memory_mb; //  memory of a model never described
    uint32_t default_load_ms;   //  load time of a model never described
} wp_scheduler_opts_t;

//  Action codes, as in the WarmupRequested schema.
typedef enum { WP_ACTION_WARM = 1, WP_ACTION_COOL = 2 } wp_action_t;

//  Model states as the scheduler believes them.
typedef enum {
    WP_MODEL_COLD = 0, WP_MODEL_WARMING, WP_MODEL_WARM, WP_MODEL_COOLING
} wp_model_state_t;

//  One decision.
typedef struct {
    const char *model;          //  borrowed: valid while the scheduler lives
    wp_action_t action;
    int priority;               //  1 low, 2 normal, 3 high
    uint64_t deadline_ms;       //  event time the model is expected to be asked for
    double benefit_ms;          //  expected wait saved, ms
    uint32_t memory_mb;         //  memory of the model
    char reason [WP_SCHEDULER_REASON_MAX];  //  why, for people
} wp_decision_t;

typedef struct _wp_scheduler_t wp_scheduler_t;

//  Create a scheduler; opts must be given (background is not defaulted).
wp_scheduler_t *
    wp_scheduler_new (const wp_scheduler_opts_t *opts);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_scheduler_destroy (wp_scheduler_t **self_p);

//  Describe a model (from the configuration or a performance estimate).
//  A zero leaves that value as it was.
void
    wp_scheduler_model (wp_scheduler_t *self, const char *model,
                        uint32_t memory_mb, uint32_t load_ms);

//  Record a user's predictions made at now_ms.
void
    wp_scheduler_predictions (wp_scheduler_t *self, uint64_t user_hash,
                              const wp_prediction_t *predictions, size_t n,
                              uint64_t now_ms);

//  A warmup finished (ok or not) for a model.
void
    wp_scheduler_done (wp_scheduler_t *self, const char *model,
                       wp_action_t action, bool ok);

//  Whether background warmups are admitted now (resource manager).
void
    wp_scheduler_admit (wp_scheduler_t *self, bool admit);

//  Decide at now_ms. Writes at most capacity decisions and marks their
//  models warming / cooling. Returns how many were written.
size_t
    wp_scheduler_decide (wp_scheduler_t *self, uint64_t now_ms,
                         wp_decision_t *out, size_t capacity);

//  What the scheduler believes of a model.
wp_model_state_t
    wp_scheduler_state (wp_scheduler_t *self, const char *model);

//  A model's current demand (0 when unknown).
double
    wp_scheduler_demand (wp_scheduler_t *self, const char *model, uint64_t now_ms);

//  Models warm or warming, and their memory.
uint32_t
    wp_scheduler_warm_count (wp_scheduler_t *self);
uint64_t
    wp_scheduler_warm_memory_mb (wp_scheduler_t *self);

#ifdef __cplusplus
}
#endif

#endif
