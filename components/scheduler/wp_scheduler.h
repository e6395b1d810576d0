/*  =========================================================================
    wp_scheduler - WarmupScheduler core: turns predictions and their plans
    into warm and cool decisions within the model-count and memory budgets.

    Holds. A model stays warm (or is warmed) while something holds it, and
    each hold has an expiry and is its reason: pinned (always); warmed by
    someone else, an operator's warm seen only as its warmup done (until
    someone cools it); a user's plan covers now (until the plan's next
    boundary); demand from predictions without a plan reaches the
    threshold (a held model until it falls below threshold - hysteresis,
    so it does not flap); a plan's window starts within hysteresis_ms (no
    cool-and-reload); a preload, to do or held for a first use (min_keep,
    else the horizon); min_keep after its last use; min_hold_ms after our
    warm for plans is done (a real load has latency the plan did not
    see); a warm of ours still running; another model of its group held
    and wanted. A wanted model stays cold while its failed warm backs off,
    while background warmups are off or not admitted (operators' wishes,
    pins and preloads, do not wait for that switch), and, under a memory
    budget with no_prewarm_under_budget, unless a request made it
    resident. A model no hold keeps is cooled, saying what ended.

    Decide runs in phases: review the models whose situation changed (a
    new prediction, a done, a hold's expiry: wp_scheduler_next_ms is the
    actor's tick or the replay's timer), so a round costs what changed,
    not what is known; place the wanted models, pinned first, then by
    value, making room from held models of lower value (below half of
    their own), or leave them waiting; trim the held models to the fill
    line, then to the budgets (lowered at run time), then to the GPU
    budget, lowest value first.

    Plans: a prediction from the engine carries a plan for its user and
    model: keep the model until keep_until_ms, and/or load it again at
    prewarm_at_ms and hold it until hold_until_ms. Plan times and the
    expected request are kept to the millisecond within 24.8 days of the
    user's last request (the engine's reach 73 h); one further away counts
    as 24.8 days away. A prediction without a plan (older engines, or a
    model that is not the user's latest) counts for ttl_s: the model's
    demand is 1 - prod (1 - p_user) over such predictions.

    Value: what holding a model is worth now, per MB: the chance that one
    of its users asks for it soon (1 - prod (1 - p_user); p_user from the
    idle-time quantiles a plan carries given how long the user has been
    idle, else the prediction's probability) x the wait it saves (the
    prediction's benefit, or the load time) / memory_mb, weighted by
    priority (low x 0.5, high x 2). "Soon" is the horizon until models are
    cooled for room; then it is how long a held model lasts idle before it
    is cooled for room (a moving average over the victims): under
    pressure a model is worth holding if it is asked before it would go.

    Operators' wishes come first (wp_scheduler_configure, wp_scheduler_pin):
    a pinned model's memory (and its place among max_warm_models) is
    reserved before any other model is placed, warm or not. Priority sets
    its decisions' queue priority (low 1, high 3). A group's models are
    warmed together: when one is warmed, the others are placed too (with
    its value, within the budgets). Each model keeps its last decision and
    its reason (wp_scheduler_list): a code and the numbers in it, written
    out when listed.

    Memory as measured (wp_scheduler_memory, live only): a model loads on
    a device (settings.device: RAM, any of the GPUs, or one GPU) and holds
    memory_mb in all, vram_mb of it on GPUs, the rest in RAM; once the
    memory it really takes is learned (wp_scheduler_learned) that replaces
    its configured memory_mb. Every axis bounds what is placed: the model
    count, the RAM budget (max_memory_mb) and what RAM leaves our models
    now (measured), the GPU budget and what the GPUs leave (all the
    managed ones together, and the one a model is bound to). A wanted
    model that does not fit on an axis displaces held models of lower
    value that free memory on that axis; if they cannot make the room it
    waits, and the axis, its numbers and the shortfall are its deferral
    (wp_scheduler_list). Budgets that are measured (auto) are unknown
    until the first measure: nothing is placed on that axis before it;
    when one shrinks below what is held, the lowest values on that axis
    are cooled, as for a budget lowered at run time.

    Plain C: no sockets, no clock.
    =========================================================================
*/

#ifndef WP_SCHEDULER_H_INCLUDED
#define WP_SCHEDULER_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "wp_prediction.h"
#include "wp_names.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WP_SCHEDULER_REASON_MAX 128

//  Most users whose predictions a model remembers.
#define WP_SCHEDULER_USERS_MAX 16

//  The service's demand hysteresis (opts.hysteresis): a warm model held
//  by demand stays until its demand falls this far below the threshold.
//  Design: a tenth of a probability, so that noise around the threshold
//  does not make a model flap.
#define WP_SCHEDULER_HYSTERESIS 0.1

//  Options; zero fields take the defaults noted.
typedef struct {
    uint32_t max_warm_models;   //  models warm or warming at once (default 5;
                                //  UINT32_MAX: no limit)
    uint64_t max_memory_mb;     //  their memory at most, MiB (0 = unbounded)
    double threshold;           //  demand that makes a model wanted (default 0.7)
    double hysteresis;          //  a warm model stays until threshold - this
                                //  (0 = none; the service uses
                                //  WP_SCHEDULER_HYSTERESIS)
    uint32_t ttl_s;             //  how long a prediction counts, s (default 300)
    bool background;            //  warm on predictions at all (set explicitly)
    uint32_t default_memory_mb; //  memory of a model never described
    uint32_t default_load_ms;   //  load time of a model never described
    uint32_t horizon_s;         //  horizon of the value, s (default 300)
    uint32_t hysteresis_ms;     //  a plan's end does not cool a model wanted
                                //  again within this (default 0)
    uint32_t min_hold_ms;       //  a model we warmed stays at least this long
                                //  after its warm is done (default 0)
    double fill;                //  with max_memory_mb: held models are cooled,
                                //  lowest value first, down to this share of
                                //  it (0 or >= 1: none, the default)
    bool no_prewarm_under_budget;   //  with max_memory_mb: hold only what a
                                //  request made resident (wp_scheduler_resident),
                                //  load nothing ahead (default false)
    wp_names_t *names;          //  model names shared with other cores of the
                                //  process (borrowed, outlives the scheduler,
                                //  not in wp_scheduler_state_bytes; each id of
                                //  it costs a model's slot); NULL: its own
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
    uint32_t vram_mb;           //  of memory_mb, on GPUs
    uint32_t device;            //  where it loads (WP_DEVICE_*)
} wp_decision_t;

//  Most models in one group.
#define WP_SCHEDULER_GROUP_MAX 16

//  Devices as in wp_config.h: 0 RAM (cpu), 1 any GPU, 2 + N GPU N.
#define WP_SCHEDULER_GPUS 32

//  A model's settings from its configuration section.
typedef struct {
    uint32_t memory_mb;         //  memory when warm, on its device (0: unchanged)
    uint32_t load_ms;           //  load time (0: unchanged)
    bool pin;                   //  warm always, never cooled, memory reserved
    bool preload;               //  warm now, then managed like any other
    int priority;               //  1 low, 2 normal (0 too), 3 high
    uint64_t min_keep_ms;       //  not cooled within this of its last use
    const char *group;          //  its group's name (copied), NULL = none
    uint32_t device;            //  where it loads (WP_DEVICE_*: 0 = RAM)
} wp_scheduler_settings_t;

//  What the scheduler knows of one model (wp_scheduler_list). Pointers are
//  borrowed: valid until the next call that changes the scheduler.
typedef struct {
    const char *model;
    wp_model_state_t state;
    bool pinned;                //  pinned now (by config or operator)
    const char *pin_source;     //  "config", "operator" or "" (not pinned)
    bool preload;
    int priority;               //  1 low, 2 normal, 3 high
    uint32_t memory_mb;
    uint32_t load_ms;
    uint64_t min_keep_ms;
    const char *group;          //  "" = none
    uint64_t last_use_ms;       //  latest request known (0 = none)
    double probability;         //  chance of a request soon (see Value)
    double demand;              //  demand from predictions without a plan
    double value;               //  value now, ms saved per MiB
    wp_action_t last_action;    //  0 = no decision yet
    uint64_t last_decision_ms;  //  when
    char last_reason [WP_SCHEDULER_REASON_MAX]; //  why ("" = no decision yet),
                                //  written out from what the scheduler keeps
    uint32_t device;            //  where it loads
    uint32_t vram_mb;           //  of memory_mb, on GPUs
    uint32_t configured_mb;     //  its configured memory (on its device)
    uint32_t learned_mb;        //  what it was learned to take (0: not yet)
    const char *learned_from;   //  "server", "measured", ... ("" = not yet)
    char deferred [WP_SCHEDULER_REASON_MAX];    //  why it waits ("" = it
                                //  does not): the axis and its numbers
} wp_scheduler_info_t;

//  Asked by wp_scheduler_victim: may this model be cooled now?
typedef bool (wp_scheduler_can_fn) (const char *model, void *arg);

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

//  The memory a model was learned to take once loaded (perf.estimate):
//  memory_mb in all, vram_mb of it on GPUs, from source ("server",
//  "resident", "measured", "server-weights"; copied as a code). Plans use
//  it instead of the configured memory from now on; memory_mb 0 forgets
//  it (the configured memory again).
void
    wp_scheduler_learned (wp_scheduler_t *self, const char *model, uint32_t memory_mb,
                          uint32_t vram_mb, const char *source);

//  Memory as measured, per axis (wp_scheduler_memory).
typedef struct {
    uint64_t max_vram_mb;       //  the GPU budget (0: none; with vram_auto:
                                //  what the GPUs leave, as measured)
    bool memory_auto;           //  max_memory_mb is measured: unknown (no
                                //  RAM placed) until ram_measured
    bool vram_auto;             //  max_vram_mb is measured: unknown (nothing
                                //  placed on GPUs) until gpus_measured
    bool ram_measured;          //  ram_capacity_mb holds a reading
    uint64_t ram_capacity_mb;   //  what RAM leaves our models now
    bool gpus_measured;         //  the managed GPUs were read
    uint64_t gpus_capacity_mb;  //  what they leave our models, together
    uint32_t gpu_read;          //  bit per GPU index read
    uint64_t gpu_capacity_mb [WP_SCHEDULER_GPUS];   //  what each leaves
} wp_scheduler_memory_t;

//  The latest measure of the devices and the GPU budget (copied). Until
//  the first call no axis but the model count and max_memory_mb bounds
//  anything, and no deferral is noted (the simulated world's use).
void
    wp_scheduler_memory (wp_scheduler_t *self, const wp_scheduler_memory_t *memory);

//  A model began or stopped waiting for room (wp_scheduler_deferrals).
typedef struct {
    const char *model;          //  borrowed: valid while the scheduler lives
    bool waits;                 //  it waits now (false: it no longer does)
    char reason [WP_SCHEDULER_REASON_MAX];  //  why it waits (as listed), or
                                //  why no more ("room now: warmed", "waits no
                                //  more: not wanted now")
    uint32_t memory_mb;         //  the memory it is planned with
    uint32_t device;            //  where it loads
} wp_scheduler_deferral_t;

//  The models whose deferral changed (began, moved to another axis, or
//  ended) since the last call, at most capacity (the rest at the next
//  call); each change once. Live only: none before wp_scheduler_memory.
size_t
    wp_scheduler_deferrals (wp_scheduler_t *self, wp_scheduler_deferral_t *out,
                            size_t capacity);

//  Record a user's predictions made at now_ms. A prediction with a plan
//  replaces the user's plan for the model; one without keeps the plan and
//  updates the probability.
void
    wp_scheduler_predictions (wp_scheduler_t *self, uint64_t user_hash,
                              const wp_prediction_t *predictions, size_t n,
                              uint64_t now_ms);

//  A warmup finished (ok or not) for a model.
void
    wp_scheduler_done (wp_scheduler_t *self, const char *model,
                       wp_action_t action, bool ok);

//  The model became resident (or left) at now_ms by a request, not by a
//  decision: it is held (or not) under the plans, not as an external
//  warm; while it loads (its load time) it is not cooled for room.
void
    wp_scheduler_resident (wp_scheduler_t *self, const char *model, bool resident,
                           uint64_t now_ms);

//  State transfer after a restart or a gap (resync from the queue's
//  snapshot): the model is in state now, as the queue runs it (warm,
//  being warmed, being cooled, cold). A warm model is held under the
//  plans, its minimum hold counted from now_ms. Decides nothing.
void
    wp_scheduler_sync (wp_scheduler_t *self, const char *model,
                       wp_model_state_t state, uint64_t now_ms);

//  Whether background warmups are admitted now (resource manager).
void
    wp_scheduler_admit (wp_scheduler_t *self, bool admit);

//  Decide at now_ms. Writes at most capacity decisions and marks their
//  models warming / cooling. Returns how many were written.
size_t
    wp_scheduler_decide (wp_scheduler_t *self, uint64_t now_ms,
                         wp_decision_t *out, size_t capacity);

//  Earliest time decide has something to do (a plan boundary, a retry),
//  or UINT64_MAX.
uint64_t
    wp_scheduler_next_ms (wp_scheduler_t *self);

//  The held model of lowest value now, other than except, that can (if
//  given) accepts; NULL if none. Its state is not changed.
const char *
    wp_scheduler_victim (wp_scheduler_t *self, uint64_t now_ms, const char *except,
                         wp_scheduler_can_fn *can, void *arg);

//  Value of a model now (wait saved per MB, ms/MB; 0 when unknown).
double
    wp_scheduler_value (wp_scheduler_t *self, const char *model, uint64_t now_ms);

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

//  Apply a model's configuration section (or, for a model whose section
//  went away, the defaults: settings with zeros). A change of the pin
//  setting replaces an operator's pin or unpin of the model; a preload that
//  is new warms the model at the next decide.
void
    wp_scheduler_configure (wp_scheduler_t *self, const char *model,
                            const wp_scheduler_settings_t *settings);

//  An operator pins (pin true) or unpins a model at run time, overriding
//  its configuration until the next change of it. Returns 0, or -1 with
//  error filled when the pinned models would not fit in the budgets.
int
    wp_scheduler_pin (wp_scheduler_t *self, const char *model, bool pin,
                      char *error, size_t size);

//  True if the model is pinned now.
bool
    wp_scheduler_pinned (wp_scheduler_t *self, const char *model);

//  Change the budgets and the background switch at run time (a reload);
//  what no longer fits is cooled, lowest value first, at the next decide.
void
    wp_scheduler_limits (wp_scheduler_t *self, uint32_t max_warm_models,
                         uint64_t max_memory_mb, bool background);

//  Fill out with what is known of up to capacity models, in the order of
//  their names' ids (the order they were first seen, with a table of their
//  own); returns how many models there are.
size_t
    wp_scheduler_list (wp_scheduler_t *self, uint64_t now_ms,
                       wp_scheduler_info_t *out, size_t capacity);

//  Bytes of memory held.
size_t
    wp_scheduler_state_bytes (wp_scheduler_t *self);

//  The options for the simulated world of EVAL.md section 2, used by
//  warmup-eval's predictive and by the scheduler component in replay
//  mode, so both decide alike: loads take exactly their load time (no
//  minimum hold or time hysteresis for load latency), only the memory
//  budget limits what is resident (no model count), held models may fill
//  it (no fill line), and under a budget nothing is loaded ahead.
void
    wp_scheduler_opts_sim (wp_scheduler_opts_t *opts, uint64_t max_memory_mb,
                           double threshold);

#ifdef __cplusplus
}
#endif

#endif
