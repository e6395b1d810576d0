/*  =========================================================================
    wp_scheduler - WarmupScheduler core.
    =========================================================================
*/
#include <czmq.h>
#include <malloc.h>
#include <math.h>
#include "wp_scheduler.h"
#include "wp_names.h"

//  Times and sizes. Each says its unit and where it comes from; those
//  chosen by measuring on the dev traces (warmup-eval, docs/evaluation.md)
//  say so, and changing them changes the evaluation's numbers.

//  A model looked at again after this when it found no room or its warm
//  is still running, and the first step of a failed warm's back-off (ms).
//  Design: the actor's tick (1 s), so a retry costs one round.
#define RETRY_MS 1000
//  A failed warm's back-off doubles up to this (ms): a model that cannot
//  load (a pinned one is wanted always) is tried at least every 5 min.
#define BACKOFF_MAX_MS 300000
//  Failures in a row counted at most (the back-off reaches its maximum
//  after 9; the count is shown in the reason, a uint8_t).
#define FAILS_MAX 16
//  Held models one victim search looks at, at most (the search is
//  sampled from a moving cursor, so a round costs what changed, not what
//  is held). Design: bounds a decision round's cost.
#define VICTIM_SAMPLE 64
//  Models cooled to make room for one, at most (bounds a round's output).
#define DISPLACE_MAX 16
//  A model displaces only held models whose value is below its own
//  divided by this (no cool-and-reload churn between near-equal values).
//  Calibrated on the dev traces.
#define DISPLACE_RATIO 2.0
//  Under pressure a value looks ahead as far as the models cooled for room
//  had been idle: a moving average over the victims, each weighing
//  1 / PRESSURE_WEIGHT, never under PRESSURE_MIN_MS (ms). Calibrated on
//  the dev traces (looking 0.5 x or 2 x as far measured worse).
#define PRESSURE_WEIGHT 64
#define PRESSURE_MIN_MS 1000
//  A user idle past every quantile of their idle times still has this
//  share of the distribution left (the floor of 1 - P(idle so far)), so a
//  chance never divides by nothing.
#define SURVIVAL_MIN 0.01
//  A prediction's last use is believed up to this far past the time it is
//  recorded at (ms): the IDE's clock and ours may differ by that much.
#define LAST_USE_SKEW_MS 60000
//  A value a group lends from a pinned model (whose own is infinite):
//  above every value a model can have, and finite, so that the partner is
//  still placed by value and never displaces a pinned model.
#define VALUE_ABOVE_ALL 1e300
//  Priority weights of a model's value (configuration: low, normal, high).
#define WEIGHT_LOW 0.5
#define WEIGHT_NORMAL 1.0
#define WEIGHT_HIGH 2.0
//  Defaults of the options (as the configuration's, wp_config.c).
#define DEFAULT_MAX_WARM_MODELS 5
#define DEFAULT_THRESHOLD 0.7
#define DEFAULT_TTL_S 300
#define DEFAULT_HORIZON_S 300
//  The simulated world's defaults for a model the catalog does not describe
//  (EVAL.md section 2), as the service's: MiB and ms.
#define SIM_DEFAULT_MEMORY_MB 512
#define SIM_DEFAULT_LOAD_MS 1000

typedef struct _group_t group_t;

//  Why a model's last decision (or other thing done to it) was taken: a
//  code and the numbers its text is made of, written out when asked
//  (s_why_text), so that no text is kept per model.
typedef enum {
    WHY_NONE = 0,               //  no decision yet
    WHY_DEMAND_BELOW,           //  cool: demand x below the bar
    WHY_PRELOAD_UNUSED,         //  cool: preloaded, no use in x s
    WHY_GROUP_UNWANTED,         //  cool: no model of its group wanted
    WHY_PLAN_ENDED,             //  cool: plans ended, count users
    WHY_ROOM_PINNED,            //  cool: room for pinned model other
    WHY_NO_ROOM,                //  cool: value x below y of model other
    WHY_OVER_FILL,              //  cool: value x, lowest over the fill line
    WHY_OVER_BUDGET,            //  cool: value x, lowest over the budget
    WHY_PINNED,                 //  warm: pinned (count 1: by an operator)
    WHY_PRELOAD,                //  warm: preload, held x s
    WHY_GROUP_WARMED,           //  warm: with its group
    WHY_DEMAND,                 //  warm: demand x from count users
    WHY_PLAN,                   //  warm: plans of count users, value x
    WHY_FAILED,                 //  warm failed count times, next in x s
    WHY_PINNED_BY_OPERATOR,     //  an operator pinned it
    WHY_UNPINNED_BY_OPERATOR,   //  an operator unpinned it
    WHY_OVER_VRAM,              //  cool: value x, lowest on GPUs over their budget
    WHY_TEXT                    //  written out: the budgets or the group
                                //  it names changed since (why_text)
} why_t;

//  A hold: one reason to keep a model warm (or to warm it), or to keep a
//  model that is wanted cold. Each kind is a function (hold_fn, with the
//  decide phases below) that says whether it holds a model now and until
//  when; the review phase of a decide asks them in order, the
//  first that holds keeps the model, and the model is looked at again
//  when that one ends. A new rule for operators is a new kind here, its
//  function and its row in one of the tables (s_own_holds, s_lent_holds,
//  s_cold_holds), not a branch in decide.
typedef enum {
    HOLD_NONE = 0,
    //  Reasons to keep it warm that are its own (its group follows them):
    HOLD_PIN,                   //  pinned (configuration or operator): always
    HOLD_OPERATOR,              //  warmed by someone else: until cooled
    HOLD_PLAN,                  //  a user's plan covers now: until its boundary
    HOLD_DEMAND,                //  predictions without a plan reach the bar
    HOLD_WINDOW,                //  a plan's window starts within hysteresis_ms
    HOLD_PRELOAD,               //  preload: to do, or until its first use
    HOLD_MIN_KEEP,              //  within min_keep of its last use
    HOLD_MIN_HOLD,              //  within min_hold_ms of our warm for plans
    //  ... lent by something else:
    HOLD_WARMING,               //  a warm of ours is still running
    HOLD_GROUP,                 //  a model of its group is held and wanted
    //  Reasons to keep a wanted model cold:
    HOLD_AHEAD,                 //  under a budget nothing is loaded ahead
    HOLD_BACKOFF,               //  its warm failed: until the back-off ends
    HOLD_SWITCH                 //  background warmups off or not admitted
} hold_t;

//  One user's latest prediction (and plan) for a model. Its times are
//  offsets in ms from base_ms, exact within 24.8 days of it (a time
//  further away counts as 24.8 days away; the engine's plans reach 73 h),
//  read as event times by s_expected, s_keep_until, s_prewarm_at,
//  s_hold_until and s_until.
typedef struct {
    uint64_t user;          //  user hash
    uint64_t base_ms;       //  a plan's: the user's last request; else when
                            //  it was predicted (valid for ttl_s from then)
    double probability;     //  predicted
    double benefit_ms;      //  wait saved (0: the load time)
    float gap_q [WP_PREDICTION_QUANTILES];  //  idle-time quantiles (0: none)
    int32_t expected;       //  the expected request
    int32_t keep_until;     //  plan: keep until (if keeps)
    int32_t prewarm_at;     //  plan: load again at (if window)
    int32_t hold_until;     //  plan: hold until (if window)
    bool plan : 1;          //  carries a plan
    bool keeps : 1;         //  the plan's keep_until is not 0
    bool window : 1;        //  the plan's hold_until is not 0
} demand_t;

//  What few models have (operators' settings, a group, a failure), apart
//  from the model so that the others do not carry it: allocated on first
//  use (s_extra), kept while the scheduler lives.
typedef struct {
    uint64_t min_keep_ms;       //  not cooled within this of its last use
    uint64_t keep_until;        //  preload hold: held until then
    uint64_t retry_at;          //  no warm before then (after a failure)
    double boost;               //  value lent by a group partner
    group_t *group;             //  its group, or NULL
    char *why_text;             //  its reason written out (WHY_TEXT; owned,
                                //  its length)
    //  Memory as measured (live only)
    uint32_t config_mb;         //  its configured memory while learned_mb
                                //  stands in memory_mb
    uint32_t learned_mb;        //  what it was learned to take (0: not)
    uint32_t learned_vram_mb;   //  ... of it on GPUs
    uint8_t learned_from;       //  source (s_sources)
    uint8_t defer;              //  why it waits (defer_t), 0: it does not
    uint8_t defer_told;         //  ... as last told (wp_scheduler_deferrals)
    bool defer_listed;          //  in the devices' list of deferrals to tell
    uint32_t defer_need;        //  ... needs this on the axis
    uint64_t defer_used;        //  ... this is taken there
    uint64_t defer_limit;       //  ... of this
} extra_t;

//  Why a wanted model waits: the axis it does not fit on.
typedef enum {
    DEFER_NONE = 0,
    DEFER_COUNT,                //  max_warm_models
    DEFER_RAM_BUDGET,           //  max_memory_mb
    DEFER_RAM_ROOM,             //  what RAM leaves our models now
    DEFER_VRAM_BUDGET,          //  max_vram_mb
    DEFER_GPUS_ROOM,            //  what the GPUs leave
    DEFER_GPU_ROOM,             //  what its GPU leaves
    DEFER_RAM_UNKNOWN,          //  max_memory_mb = auto, not measured yet
    DEFER_VRAM_UNKNOWN          //  max_vram_mb = auto, or its GPU, not read yet
} defer_t;

//  Sources of a learned memory (as perf.estimate names them).
static const char *s_sources [] = { "", "server", "resident", "measured", "server-weights" };

//  One model. Its flags are bit-fields and its first user's demand is
//  inside it (most models have one user): a model is held per user on
//  traces with one user per model, so its size counts per pair. Models
//  live in one array that moves when it grows: a pointer to a model is
//  good until the next model is added (s_model).
typedef struct {
    uint32_t index;                     //  in models [] and the names table
    uint32_t memory_mb;                 //  memory when warm
    uint32_t load_ms;                   //  load time
    uint8_t state;                      //  what we believe (wp_model_state_t)
    uint8_t priority;                   //  1 low, 2 normal, 3 high
    uint8_t fails;                      //  warms of ours that failed in a row
    uint8_t warm_for;                   //  the hold our running warm serves
                                        //  (hold_t: pin, preload, group,
                                        //  demand or plan; 0 none)
    uint8_t last_action;                //  its last decision (wp_action_t, 0 none)
    uint8_t why;                        //  ... its reason (why_t)
    uint8_t why_count;                  //  ... the count in it
    uint8_t device;                     //  where it loads (WP_DEVICE_*: 0 RAM)
    uint32_t why_other;                 //  ... the other model it names (index)
    bool external : 1;                  //  warmed by someone else: hold it
    bool dirty : 1;                     //  in the dirty list
    bool waiting : 1;                   //  wanted but not placed
    bool chosen : 1;                    //  picked as a victim this round
    //  Operators' settings (wp_scheduler_configure, wp_scheduler_pin)
    bool pin_config : 1;                //  pinned by its configuration
    bool pin_operator_set : 1;          //  an operator's pin / unpin overrides it
    bool pin_operator : 1;              //  ... with this
    bool in_pins : 1;                   //  in the pinned list
    bool preload : 1;                   //  its preload setting
    bool preload_pending : 1;           //  to be warmed for the preload
    bool lent : 1;                      //  a group partner's warm takes it along
    bool own_wanted : 1;                //  wanted for itself at the last look
    bool used : 1;                      //  a model (of a shared names table,
                                        //  ids not ours are unused slots)
    uint8_t n_demand, cap_demand;       //  per-user predictions, and room:
    uint32_t wake;                      //  its wake-up: heap position + 1, 0 none
    union {                             //  cap_demand <= 1: in one, else
        demand_t one;                   //  in many (owned)
        demand_t *many;
    } demand;
    uint64_t warm_at;                   //  when our warm of it for demand or
                                        //  plans was done (the minimum hold)
    uint64_t loaded_at;                 //  when a request made it resident
    uint64_t used_ms;                   //  latest request known of it
    uint64_t last_decision_ms;          //  when its last decision was
    double why_x, why_y;                //  the numbers in its reason
    extra_t *extra;                     //  what few models have, or NULL
} model_t;

//  Models warmed together.
struct _group_t {
    char *name;                         //  owned
    uint32_t members [WP_SCHEDULER_GROUP_MAX];  //  model indices
    uint32_t n_members;
};

//  A wake-up: look at the model again at time.
typedef struct {
    uint64_t time;
    uint32_t model;
} wake_t;

//  Memory as measured (wp_scheduler_memory): made at the first measure
//  (or the first model on a GPU), so the simulated world carries none.
typedef struct {
    wp_scheduler_memory_t in;   //  the latest measure
    bool measured;              //  in was given
    uint64_t held_vram;         //  VRAM of the held models
    uint64_t held_gpu [WP_SCHEDULER_GPUS];  //  ... of those bound to GPU N
    unsigned victims_for;       //  while room is made: the axes short (bits
                                //  1 << defer_t); 0: any held model will do
    int victims_gpu;            //  ... and the GPU of DEFER_GPU_ROOM
    uint32_t *told;             //  models whose deferral may have changed
    size_t n_told, cap_told;    //  since it was last told
} devices_t;

struct _wp_scheduler_t {
    wp_scheduler_opts_t opts;   //  effective options
    double horizon_ms;          //  horizon of the value
    model_t *models;            //  every model seen, by id (one array: no
                                //  allocation, header or pointer per model)
    size_t n_models, cap_models;    //  ids it covers (of a shared table, an
                                //  id not ours is an unused slot), and room
    size_t known;               //  models (not NULL)
    wp_names_t *names;          //  name -> index in models []
    devices_t *dev;             //  memory as measured, NULL until needed
    uint32_t *dirty;            //  models to look at in the next decide
    size_t n_dirty, cap_dirty;
    wake_t *heap;               //  wake-ups, earliest first, one per model at
                                //  most (its earliest)
    size_t n_heap, cap_heap;
    uint32_t held;              //  models warm or warming
    uint64_t held_mb;           //  their memory
    uint32_t victim_cursor;     //  where the sampled victim search starts
    uint64_t now_ms;            //  time of the latest decide
    bool admit;                 //  resource manager admits warmups
    bool own_names;             //  names is ours (else shared, borrowed)
    zhashx_t *groups;           //  name -> group_t *
    double pressure_ms;         //  idle time of the models cooled for room
                                //  (moving average; 0: none yet)
    uint32_t *pins;             //  pinned models (indices)
    size_t n_pins, cap_pins;
};

//  Destroy a group (zhashx destructor).
static void
s_group_destroy (void **item_p)
{
    group_t *group = (group_t *) *item_p;
    if (group) {
        free (group->name);
        free (group);
        *item_p = NULL;
    }
}

//  Create a scheduler.
wp_scheduler_t *
wp_scheduler_new (const wp_scheduler_opts_t *opts)
{
    assert (opts);
    wp_scheduler_t *self = (wp_scheduler_t *) zmalloc (sizeof (wp_scheduler_t));
    assert (self);
    self->opts = *opts;
    if (!self->opts.max_warm_models)
        self->opts.max_warm_models = DEFAULT_MAX_WARM_MODELS;
    if (self->opts.threshold <= 0)
        self->opts.threshold = DEFAULT_THRESHOLD;
    if (self->opts.hysteresis < 0)
        self->opts.hysteresis = 0;
    if (!self->opts.ttl_s)
        self->opts.ttl_s = DEFAULT_TTL_S;
    if (!self->opts.horizon_s)
        self->opts.horizon_s = DEFAULT_HORIZON_S;
    self->horizon_ms = self->opts.horizon_s * 1000.0;
    self->own_names = opts->names == NULL;
    self->names = self->own_names ? wp_names_new () : opts->names;
    assert (self->names);
    self->groups = zhashx_new ();
    zhashx_set_destructor (self->groups, s_group_destroy);
    self->admit = true;
    return self;
}

//  Destroy.
void
wp_scheduler_destroy (wp_scheduler_t **self_p)
{
    assert (self_p);
    wp_scheduler_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_models; i++) {
        model_t *model = &self->models [i];
        if (model->cap_demand > 1)
            free (model->demand.many);
        if (model->extra)
            free (model->extra->why_text);
        free (model->extra);
    }
    free (self->models);
    free (self->dirty);
    free (self->heap);
    free (self->pins);
    if (self->dev)
        free (self->dev->told);
    free (self->dev);
    if (self->own_names)
        wp_names_destroy (&self->names);
    zhashx_destroy (&self->groups);
    free (self);
    *self_p = NULL;
}

//  True for warm or warming.
static bool
s_holds (const model_t *model)
{
    return model->state == WP_MODEL_WARM || model->state == WP_MODEL_WARMING;
}

//  What a model holds on GPUs when warm: what it was learned to hold
//  there, else all of its memory when it loads onto a GPU.
static inline uint32_t
s_vram (const model_t *model)
{
    if (model->extra && model->extra->learned_mb)
        return model->extra->learned_vram_mb;
    return model->device ? model->memory_mb : 0;
}

//  ... and in RAM.
static inline uint32_t
s_ram (const model_t *model)
{
    return model->memory_mb - s_vram (model);
}

//  The GPU index a model is bound to, or -1 (RAM, or any GPU).
static inline int
s_gpu (const model_t *model)
{
    return model->device >= 2 ? model->device - 2 : -1;
}

//  Memory as measured, made on first use.
static devices_t *
s_dev (wp_scheduler_t *self)
{
    if (!self->dev) {
        self->dev = (devices_t *) calloc (1, sizeof (devices_t));
        assert (self->dev);
        self->dev->victims_gpu = -1;
    }
    return self->dev;
}

//  A model's deferral may have changed: list it to be told (live only).
static void
s_defer_mark (wp_scheduler_t *self, model_t *model)
{
    extra_t *x = model->extra;
    if (!self->dev || !x || x->defer_listed || x->defer == x->defer_told)
        return;
    devices_t *dev = self->dev;
    if (dev->n_told == dev->cap_told) {
        dev->cap_told = dev->cap_told ? 2 * dev->cap_told : 16;
        dev->told = (uint32_t *) realloc (dev->told, dev->cap_told * sizeof (uint32_t));
        assert (dev->told);
    }
    dev->told [dev->n_told++] = model->index;
    x->defer_listed = true;
}

//  Count a model's memory as held (sign 1) or not (-1) on every axis.
static void
s_hold (wp_scheduler_t *self, const model_t *model, int sign)
{
    uint32_t vram = s_vram (model);
    if (sign > 0) {
        self->held++;
        self->held_mb += model->memory_mb - vram;
    }
    else {
        self->held--;
        self->held_mb -= model->memory_mb - vram;
    }
    if (vram) {
        devices_t *dev = s_dev (self);
        dev->held_vram = sign > 0 ? dev->held_vram + vram : dev->held_vram - vram;
        int gpu = s_gpu (model);
        if (gpu >= 0)
            dev->held_gpu [gpu] = sign > 0 ? dev->held_gpu [gpu] + vram
                                           : dev->held_gpu [gpu] - vram;
    }
}

//  Change a model's state, keeping the held count and memory.
static void
s_set_state (wp_scheduler_t *self, model_t *model, wp_model_state_t state)
{
    bool before = s_holds (model);
    model->state = state;
    bool after = s_holds (model);
    if (before && !after)
        s_hold (self, model, -1);
    else
    if (!before && after)
        s_hold (self, model, 1);
}

//  Put a model on the dirty list.
static void
s_touch (wp_scheduler_t *self, model_t *model)
{
    if (model->dirty)
        return;
    if (self->n_dirty == self->cap_dirty) {
        self->cap_dirty = self->cap_dirty < 16 ? 16 : self->cap_dirty + self->cap_dirty / 8;
        self->dirty = (uint32_t *) realloc (self->dirty, self->cap_dirty * sizeof (uint32_t));
        assert (self->dirty);
    }
    self->dirty [self->n_dirty++] = model->index;
    model->dirty = true;
}

//  True when wake-up a is due before b.
static inline bool
s_before (const wake_t *a, const wake_t *b)
{
    return a->time < b->time || (a->time == b->time && a->model < b->model);
}

//  Put a wake-up at heap position pos, and tell its model where it is.
static inline void
s_heap_put (wp_scheduler_t *self, size_t pos, wake_t wake)
{
    self->heap [pos] = wake;
    self->models [wake.model].wake = (uint32_t) pos + 1;
}

//  Move the wake-up at pos up to its place.
static void
s_heap_up (wp_scheduler_t *self, size_t pos)
{
    wake_t wake = self->heap [pos];
    while (pos) {
        size_t parent = (pos - 1) / 2;
        if (!s_before (&wake, &self->heap [parent]))
            break;
        s_heap_put (self, pos, self->heap [parent]);
        pos = parent;
    }
    s_heap_put (self, pos, wake);
}

//  Look at a model again at time (the earliest pending wake-up stays).
static void
s_wake_at (wp_scheduler_t *self, model_t *model, uint64_t time)
{
    if (model->wake) {
        wake_t *wake = &self->heap [model->wake - 1];
        if (wake->time > time) {
            wake->time = time;
            s_heap_up (self, model->wake - 1);
        }
        return;
    }
    if (self->n_heap == self->cap_heap) {
        self->cap_heap = self->cap_heap < 64 ? 64 : self->cap_heap + self->cap_heap / 8;
        self->heap = (wake_t *) realloc (self->heap, self->cap_heap * sizeof (wake_t));
        assert (self->heap);
    }
    self->heap [self->n_heap] = (wake_t) { time, model->index };
    s_heap_up (self, self->n_heap++);
}

//  Remove the earliest wake-up.
static wake_t
s_wake_pop (wp_scheduler_t *self)
{
    wake_t top = self->heap [0];
    self->models [top.model].wake = 0;
    wake_t last = self->heap [--self->n_heap];
    size_t size = self->n_heap, pos = 0;
    while (size) {
        size_t child = 2 * pos + 1;
        if (child >= size)
            break;
        if (child + 1 < size && s_before (&self->heap [child + 1], &self->heap [child]))
            child++;
        if (!s_before (&self->heap [child], &last))
            break;
        s_heap_put (self, pos, self->heap [child]);
        pos = child;
    }
    if (size)
        s_heap_put (self, pos, last);
    return top;
}

//  A model, NULL when unknown.
static model_t *
s_find (wp_scheduler_t *self, const char *name)
{
    uint32_t id = name ? wp_names_find (self->names, name) : WP_NAMES_NONE;
    return id < self->n_models && self->models [id].used ? &self->models [id] : NULL;
}

//  What few models have: a model's, or all defaults.
static inline const extra_t *
s_x (const model_t *model)
{
    static const extra_t none = { 0 };
    return model->extra ? model->extra : &none;
}

//  A model's extra, allocated on first use.
static extra_t *
s_extra (model_t *model)
{
    if (!model->extra) {
        model->extra = (extra_t *) calloc (1, sizeof (extra_t));
        assert (model->extra);
    }
    return model->extra;
}

//  Look again at every model of a model's group in the next review.
static void
s_touch_group (wp_scheduler_t *self, const model_t *model)
{
    const group_t *group = s_x (model)->group;
    if (group)
        for (uint32_t i = 0; i < group->n_members; i++)
            s_touch (self, &self->models [group->members [i]]);
}

//  A model's name (borrowed from the names table).
static inline const char *
s_name (wp_scheduler_t *self, const model_t *model)
{
    return wp_names_name (self->names, model->index);
}

//  A model's demand entries.
static inline demand_t *
s_demand (model_t *model)
{
    return model->cap_demand > 1 ? model->demand.many : &model->demand.one;
}

//  Double a model's room for demand entries; returns them.
static demand_t *
s_demand_grow (model_t *model)
{
    if (model->cap_demand == 0)
        model->cap_demand = 1;
    else {
        uint8_t cap = (uint8_t) (model->cap_demand * 2);
        demand_t *many = (demand_t *) malloc (cap * sizeof (demand_t));
        assert (many);
        memcpy (many, s_demand (model), model->n_demand * sizeof (demand_t));
        if (model->cap_demand > 1)
            free (model->demand.many);
        model->demand.many = many;
        model->cap_demand = cap;
    }
    return s_demand (model);
}

//  Find or create a model.
static model_t *
s_model (wp_scheduler_t *self, const char *name)
{
    model_t *model = s_find (self, name);
    if (model || !name)
        return model;
    uint32_t id = wp_names_add (self->names, name);
    if (id == WP_NAMES_NONE)
        return NULL;
    if (id >= self->cap_models) {
        //  An eighth more (ids of a shared table may skip: at least to id)
        size_t cap = self->cap_models < 16 ? 16 : self->cap_models + self->cap_models / 8;
        self->cap_models = cap > id ? cap : (size_t) id + 1;
        self->models = (model_t *) realloc (self->models, self->cap_models * sizeof (model_t));
        assert (self->models);
    }
    if (id >= self->n_models) {
        memset (&self->models [self->n_models], 0, (id + 1 - self->n_models) * sizeof (model_t));
        self->n_models = (size_t) id + 1;
    }
    model = &self->models [id];
    model->used = true;
    model->index = id;
    model->memory_mb = self->opts.default_memory_mb;
    model->load_ms = self->opts.default_load_ms;
    model->priority = 2;
    self->known++;
    return model;
}

//  True if the model is pinned now: an operator's word, else its config.
static inline bool
s_pinned (const model_t *model)
{
    return model->pin_operator_set ? model->pin_operator : model->pin_config;
}

//  Keep the pinned list in step with a model's pin.
static void
s_pins_sync (wp_scheduler_t *self, model_t *model)
{
    bool pinned = s_pinned (model);
    if (pinned == model->in_pins)
        return;
    if (pinned) {
        if (self->n_pins == self->cap_pins) {
            self->cap_pins = self->cap_pins ? self->cap_pins * 2 : 8;
            self->pins = (uint32_t *) realloc (self->pins, self->cap_pins * sizeof (uint32_t));
            assert (self->pins);
        }
        self->pins [self->n_pins++] = model->index;
    }
    else
        for (size_t i = 0; i < self->n_pins; i++)
            if (self->pins [i] == model->index) {
                self->pins [i] = self->pins [--self->n_pins];
                break;
            }
    model->in_pins = pinned;
}

//  Models and memory reserved for pinned models that are not held (other
//  than except): nothing else may take their place.
static void
s_reserved (wp_scheduler_t *self, const model_t *except, uint32_t *count,
            uint64_t *memory)
{
    *count = 0;
    *memory = 0;
    for (size_t i = 0; i < self->n_pins; i++) {
        const model_t *model = &self->models [self->pins [i]];
        if (model != except && !s_holds (model)) {
            (*count)++;
            *memory += s_ram (model);
        }
    }
}

//  Note a decision (or another thing done to a model) for people: its
//  reason as a code and the numbers its text needs.
static void
s_why (model_t *model, wp_action_t action, uint64_t now_ms, why_t why, unsigned count,
       const model_t *other, double x, double y)
{
    model->last_action = (uint8_t) action;
    model->last_decision_ms = now_ms;
    model->why = (uint8_t) why;
    model->why_count = (uint8_t) (count < UINT8_MAX ? count : UINT8_MAX);
    model->why_other = other ? other->index : 0;
    model->why_x = x;
    model->why_y = y;
    if (model->extra) {
        free (model->extra->why_text);
        model->extra->why_text = NULL;
    }
}

//  Write a model's last reason for people into text (size bytes): from its
//  code and numbers, with the threshold, the budgets and its group as they
//  are now (a reason naming the budgets or a group is written out before
//  they change, s_why_freeze).
static void
s_why_text (wp_scheduler_t *self, const model_t *model, char *text, size_t size)
{
    const char *other = wp_names_name (self->names, model->why_other);
    const group_t *in = s_x (model)->group;
    const char *group = in ? in->name : "";
    unsigned count = model->why_count;
    double x = model->why_x, y = model->why_y;
    unsigned max_models = self->opts.max_warm_models;
    unsigned max_mb = (unsigned) self->opts.max_memory_mb;
    switch ((why_t) model->why) {
        case WHY_NONE:
            snprintf (text, size, "%s", "");
            break;
        case WHY_DEMAND_BELOW:
            snprintf (text, size, "demand %.2f below %.2f", x,
                      self->opts.threshold - self->opts.hysteresis);
            break;
        case WHY_PRELOAD_UNUSED:
            snprintf (text, size, "preloaded, no use in %.0f s", x);
            break;
        case WHY_GROUP_UNWANTED:
            snprintf (text, size, "group %s: no model of it wanted", group);
            break;
        case WHY_PLAN_ENDED:
            snprintf (text, size, "plan ended, %u user(s)", count);
            break;
        case WHY_ROOM_PINNED:
            snprintf (text, size, "room for pinned %s (%u models, %u MiB budget)", other,
                      max_models, max_mb);
            break;
        case WHY_NO_ROOM:
            snprintf (text, size, "value %.3g below %.3g of %s: no room (%u models, "
                      "%u MiB budget)", x, y, other, max_models, max_mb);
            break;
        case WHY_OVER_FILL:
            snprintf (text, size, "value %.3g, lowest held over %.0f%% of %u MiB", x,
                      100 * self->opts.fill, max_mb);
            break;
        case WHY_OVER_BUDGET:
            snprintf (text, size, "value %.3g, lowest held over the budget "
                      "(%u models, %u MiB)", x, max_models, max_mb);
            break;
        case WHY_PINNED:
            snprintf (text, size, "pinned (%s)", count ? "by an operator" : "config");
            break;
        case WHY_PRELOAD:
            snprintf (text, size, "preload (held %.0f s for a first use)", x);
            break;
        case WHY_GROUP_WARMED:
            snprintf (text, size, "group %s: warmed with its models", group);
            break;
        case WHY_DEMAND:
            snprintf (text, size, "demand %.2f >= %.2f from %u user(s)", x,
                      self->opts.threshold, count);
            break;
        case WHY_PLAN:
            snprintf (text, size, "plan of %u user(s), value %.3g", count, x);
            break;
        case WHY_FAILED:
            snprintf (text, size, "warm failed %u time(s) in a row; next try in "
                      "%" PRIu64 " s", count, (uint64_t) x);
            break;
        case WHY_PINNED_BY_OPERATOR:
            snprintf (text, size, "%s", "pinned by an operator");
            break;
        case WHY_UNPINNED_BY_OPERATOR:
            snprintf (text, size, "%s", "unpinned by an operator");
            break;
        case WHY_OVER_VRAM:
            snprintf (text, size, "value %.3g, lowest held on GPUs over their budget "
                      "(%" PRIu64 " MiB)", x, self->dev ? self->dev->in.max_vram_mb : 0);
            break;
        case WHY_TEXT:
            snprintf (text, size, "%s", s_x (model)->why_text);
            break;
    }
}

//  Write a model's reason out, as it reads now, when it names the budgets
//  (budgets true) or its group (budgets false), which are about to change.
static void
s_why_freeze (wp_scheduler_t *self, model_t *model, bool budgets)
{
    why_t why = (why_t) model->why;
    bool names = budgets ? why == WHY_ROOM_PINNED || why == WHY_NO_ROOM
                           || why == WHY_OVER_FILL || why == WHY_OVER_BUDGET
                           || why == WHY_OVER_VRAM
                         : why == WHY_GROUP_UNWANTED || why == WHY_GROUP_WARMED;
    if (!names)
        return;
    char text [WP_SCHEDULER_REASON_MAX];
    s_why_text (self, model, text, sizeof text);
    char *copy = strdup (text);
    assert (copy);
    s_extra (model)->why_text = copy;
    model->why = WHY_TEXT;
}

//  Describe a model.
void
wp_scheduler_model (wp_scheduler_t *self, const char *name, uint32_t memory_mb,
                    uint32_t load_ms)
{
    assert (self && name);
    model_t *model = s_model (self, name);
    if (memory_mb && model->extra && model->extra->learned_mb)
        model->extra->config_mb = memory_mb;        //  learned stands
    else
    if (memory_mb) {
        bool held = s_holds (model);
        if (held)
            s_hold (self, model, -1);
        model->memory_mb = memory_mb;
        if (held)
            s_hold (self, model, 1);
    }
    if (load_ms)
        model->load_ms = load_ms;
}

//  What a model was learned to take.
void
wp_scheduler_learned (wp_scheduler_t *self, const char *name, uint32_t memory_mb,
                      uint32_t vram_mb, const char *source)
{
    assert (self && name);
    model_t *model = s_model (self, name);
    if (!model || (!memory_mb && !(model->extra && model->extra->learned_mb)))
        return;
    uint8_t from = 0;
    for (uint8_t i = 1; source && i < sizeof s_sources / sizeof s_sources [0]; i++)
        if (streq (source, s_sources [i]))
            from = i;
    bool held = s_holds (model);
    if (held)
        s_hold (self, model, -1);
    extra_t *x = s_extra (model);
    if (!x->learned_mb)
        x->config_mb = model->memory_mb;
    if (memory_mb) {
        x->learned_mb = memory_mb;
        x->learned_vram_mb = vram_mb < memory_mb ? vram_mb : memory_mb;
        x->learned_from = from;
        model->memory_mb = memory_mb;
    }
    else {
        model->memory_mb = x->config_mb;
        x->learned_mb = x->learned_vram_mb = 0;
        x->learned_from = 0;
    }
    if (held)
        s_hold (self, model, 1);
    s_touch (self, model);
}

//  True if a demand entry has a plan.
static inline bool
s_has_plan (const wp_prediction_t *p)
{
    return p->keep_until_ms || p->hold_until_ms;
}

//  An event time as an offset from base (within +-24.8 days, else there).
static int32_t
s_offset (uint64_t time, uint64_t base)
{
    if (time >= base)
        return time - base > INT32_MAX ? INT32_MAX : (int32_t) (time - base);
    return base - time > (uint64_t) INT32_MAX + 1 ? INT32_MIN
                                                   : (int32_t) -(int64_t) (base - time);
}

//  The event time of an offset of a demand entry.
static inline uint64_t
s_at (const demand_t *d, int32_t offset)
{
    return d->base_ms + (uint64_t) (int64_t) offset;
}

//  A demand entry's times: the expected request; a plan's keep, window
//  and hold (0 when it has none); the user's last request (0 without a
//  plan); the end of its validity.
static inline uint64_t
s_expected (const demand_t *d)
{
    return s_at (d, d->expected);
}

static inline uint64_t
s_keep_until (const demand_t *d)
{
    return d->keeps ? s_at (d, d->keep_until) : 0;
}

static inline uint64_t
s_prewarm_at (const demand_t *d)
{
    return d->window ? s_at (d, d->prewarm_at) : 0;
}

static inline uint64_t
s_hold_until (const demand_t *d)
{
    return d->window ? s_at (d, d->hold_until) : 0;
}

static inline uint64_t
s_last_ms (const demand_t *d)
{
    return d->plan ? d->base_ms : 0;
}

static inline uint64_t
s_until (wp_scheduler_t *self, const demand_t *d)
{
    if (!d->plan)
        return d->base_ms + (uint64_t) self->opts.ttl_s * 1000;
    uint64_t keep = s_keep_until (d), hold = s_hold_until (d);
    return (keep > hold ? keep : hold) + 1;
}

//  Record a user's predictions.
void
wp_scheduler_predictions (wp_scheduler_t *self, uint64_t user_hash,
                          const wp_prediction_t *predictions, size_t n,
                          uint64_t now_ms)
{
    assert (self && (predictions || n == 0));
    for (size_t i = 0; i < n; i++) {
        const wp_prediction_t *p = &predictions [i];
        model_t *model = s_model (self, p->model);
        demand_t *demand = s_demand (model);
        demand_t *slot = NULL;
        for (uint8_t j = 0; j < model->n_demand && !slot; j++)
            if (demand [j].user == user_hash)
                slot = &demand [j];
        if (!slot && model->n_demand < WP_SCHEDULER_USERS_MAX) {
            if (model->n_demand == model->cap_demand)
                demand = s_demand_grow (model);
            slot = &demand [model->n_demand++];
            memset (slot, 0, sizeof *slot);
        }
        if (!slot) {
            //  Full: replace the entry that expires first.
            slot = &demand [0];
            for (uint8_t j = 1; j < model->n_demand; j++)
                if (s_until (self, &demand [j]) < s_until (self, slot))
                    slot = &demand [j];
            memset (slot, 0, sizeof *slot);
        }
        if (p->last_ms > model->used_ms && p->last_ms <= now_ms + LAST_USE_SKEW_MS)
            model->used_ms = p->last_ms;
        slot->user = user_hash;
        slot->probability = p->probability;
        if (p->gap_q [WP_PREDICTION_QUANTILES - 1] > 0)
            memcpy (slot->gap_q, p->gap_q, sizeof slot->gap_q);
        if (s_has_plan (p)) {
            uint64_t base = p->last_ms ? p->last_ms : now_ms;
            slot->plan = true;
            slot->base_ms = base;
            slot->keeps = p->keep_until_ms != 0;
            slot->keep_until = s_offset (p->keep_until_ms, base);
            slot->window = p->hold_until_ms != 0;
            slot->prewarm_at = s_offset (p->prewarm_at_ms, base);
            slot->hold_until = s_offset (p->hold_until_ms, base);
            slot->benefit_ms = p->benefit_ms;
        }
        else
        if (!slot->plan) {
            slot->base_ms = now_ms;     //  valid for ttl_s from now
            slot->benefit_ms = p->benefit_ms;
        }
        slot->expected = s_offset (now_ms + p->expected_in_ms, slot->base_ms);
        s_touch (self, model);
    }
}

//  A warm finished ok: ours (a preload held for a first use, demand or
//  plans held at least min_hold_ms from now) or someone else's (held
//  until someone cools it).
static void
s_warm_done (wp_scheduler_t *self, model_t *model)
{
    if (model->state != WP_MODEL_WARMING)
        model->external = true;
    else
    if (model->warm_for == HOLD_PRELOAD) {
        uint64_t min_keep = s_x (model)->min_keep_ms;
        uint64_t hold = min_keep ? min_keep : (uint64_t) self->horizon_ms;
        s_extra (model)->keep_until = self->now_ms + hold;
        model->preload_pending = false;
    }
    else
    if (model->warm_for == HOLD_DEMAND || model->warm_for == HOLD_PLAN)
        model->warm_at = self->now_ms;
    model->warm_for = HOLD_NONE;
    model->fails = 0;
    s_set_state (self, model, WP_MODEL_WARM);
}

//  A cool finished ok. One by someone else (an operator) is respected:
//  the model is warmed again only on predictions made after it.
static void
s_cool_done (wp_scheduler_t *self, model_t *model)
{
    if (model->state != WP_MODEL_COOLING)
        model->n_demand = 0;
    s_set_state (self, model, WP_MODEL_COLD);
    model->external = false;
}

//  A warm of ours failed: back off (RETRY_MS, doubling per failure in a
//  row up to BACKOFF_MAX_MS), so that a model that cannot load (pinned:
//  wanted always) does not fail again every tick. A preload is to do
//  again; the model waits under its HOLD_BACKOFF.
static void
s_backoff (wp_scheduler_t *self, model_t *model)
{
    if (model->warm_for == HOLD_PRELOAD)
        model->warm_for = HOLD_NONE;
    if (model->fails < FAILS_MAX)
        model->fails++;
    uint64_t delay = (uint64_t) RETRY_MS << (model->fails - 1);
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    s_extra (model)->retry_at = self->now_ms + delay;
    s_why (model, WP_ACTION_WARM, self->now_ms, WHY_FAILED, model->fails, NULL,
           (double) (delay / 1000), 0);
    s_wake_at (self, model, s_x (model)->retry_at);
}

//  A warmup finished: the model is looked at again in the next decide; a
//  failed warm of ours after its back-off (not at once: no retry storm).
void
wp_scheduler_done (wp_scheduler_t *self, const char *name, wp_action_t action, bool ok)
{
    assert (self && name);
    model_t *model = s_model (self, name);
    bool failed = !ok && action == WP_ACTION_WARM && model->state == WP_MODEL_WARMING;
    if (action == WP_ACTION_WARM && ok)
        s_warm_done (self, model);
    else
    if (action == WP_ACTION_WARM && model->state == WP_MODEL_WARMING)
        s_set_state (self, model, WP_MODEL_COLD);
    else
    if (action != WP_ACTION_WARM && ok)
        s_cool_done (self, model);
    else
    if (action != WP_ACTION_WARM && model->state == WP_MODEL_COOLING)
        s_set_state (self, model, WP_MODEL_WARM);
    if (failed)
        s_backoff (self, model);
    else
        s_touch (self, model);
    //  Its group's models may be held for it, or no longer.
    s_touch_group (self, model);
}

//  Resident by a request (or gone).
void
wp_scheduler_resident (wp_scheduler_t *self, const char *name, bool resident,
                       uint64_t now_ms)
{
    assert (self && name);
    model_t *model = s_model (self, name);
    model->loaded_at = resident ? now_ms : 0;
    if (resident && now_ms > model->used_ms)
        model->used_ms = now_ms;
    s_set_state (self, model, resident ? WP_MODEL_WARM : WP_MODEL_COLD);
    model->external = false;
    s_touch (self, model);
}

//  State transfer (resync): what the queue says of a model.
void
wp_scheduler_sync (wp_scheduler_t *self, const char *name, wp_model_state_t state,
                   uint64_t now_ms)
{
    assert (self && name);
    model_t *model = s_model (self, name);
    if (model->state == state)
        return;
    if (state == WP_MODEL_WARM) {
        //  Held under the plans from now (the minimum hold runs from now:
        //  the predictions that wanted it come again), not as an external
        //  warm that would never be cooled
        model->warm_at = now_ms;
        model->warm_for = HOLD_NONE;
    }
    model->external = false;
    s_set_state (self, model, state);
    s_touch (self, model);
}

//  Resource admission.
void
wp_scheduler_admit (wp_scheduler_t *self, bool admit)
{
    assert (self);
    if (admit && !self->admit)
        for (size_t i = 0; i < self->n_models; i++)
            if (self->models [i].used && self->models [i].waiting)
                s_touch (self, &self->models [i]);
    self->admit = admit;
}

//  Chance of a user's request within the horizon, now; once models are
//  cooled for room, within the time a held model lasts idle before it
//  is (a model is worth holding if it is asked before it would go).
static double
s_chance (wp_scheduler_t *self, const demand_t *d, uint64_t now_ms)
{
    if (!d->plan || d->gap_q [WP_PREDICTION_QUANTILES - 1] <= 0)
        return d->probability;
    uint64_t last_ms = s_last_ms (d);
    double idle = now_ms > last_ms ? (double) (now_ms - last_ms) : 0;
    double before = wp_prediction_cdf (d->gap_q, idle);
    double left = 1 - before;
    if (left < SURVIVAL_MIN)
        left = SURVIVAL_MIN;
    double within = self->pressure_ms > 0 ? self->pressure_ms : self->horizon_ms;
    double p = (wp_prediction_cdf (d->gap_q, idle + within) - before) / left;
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

//  True if a plan covers now.
static inline bool
s_covers (const demand_t *d, uint64_t now_ms)
{
    return d->plan && (now_ms <= s_keep_until (d)
                       || (d->window && s_prewarm_at (d) <= now_ms
                           && now_ms <= s_hold_until (d)));
}

//  What a model's demand says now (s_assess).
typedef struct {
    double demand;          //  from predictions without a plan
    double chance;          //  P(a request within the horizon)
    double value;           //  wait saved per MB, weighted by priority
    uint64_t last_use;      //  latest request its plans know
    bool covered;           //  a plan covers now
    uint64_t next;          //  next plan boundary (UINT64_MAX none)
    uint64_t next_start;    //  next start of a window (UINT64_MAX none)
    uint64_t expected;      //  earliest expected request (now if none)
} look_t;

//  Expire old demand and look at what is left: the model's demand
//  (predictions without a plan), its value, whether a plan covers now,
//  the next plan boundary, the next start of a window, and the earliest
//  expected request.
static void
s_assess (wp_scheduler_t *self, model_t *model, uint64_t now_ms, look_t *look)
{
    double none = 1.0, any = 1.0, benefit = 0;
    uint64_t last_use = 0;
    uint64_t soonest = UINT64_MAX, boundary = UINT64_MAX, start = UINT64_MAX;
    bool cover = false;
    uint8_t kept = 0;
    for (uint8_t j = 0; j < model->n_demand; j++) {
        demand_t *d = &s_demand (model) [j];
        if (s_until (self, d) <= now_ms)
            continue;
        s_demand (model) [kept++] = *d;
        double chance = s_chance (self, d, now_ms);
        any *= 1.0 - chance;
        double saves = d->benefit_ms > 0 ? d->benefit_ms : model->load_ms;
        if (saves > benefit)
            benefit = saves;
        if (s_last_ms (d) > last_use)
            last_use = s_last_ms (d);
        if (s_expected (d) < soonest)
            soonest = s_expected (d);
        if (!d->plan) {
            none *= 1.0 - d->probability;
            if (s_until (self, d) < boundary)
                boundary = s_until (self, d);
            continue;
        }
        cover = cover || s_covers (d, now_ms);
        uint64_t keep = s_keep_until (d);
        if (now_ms <= keep && keep + 1 < boundary)
            boundary = keep + 1;
        if (d->window) {
            uint64_t prewarm = s_prewarm_at (d), hold = s_hold_until (d);
            if (now_ms < prewarm && prewarm < boundary)
                boundary = prewarm;
            if (now_ms < prewarm && prewarm < start)
                start = prewarm;
            if (now_ms <= hold && hold + 1 < boundary)
                boundary = hold + 1;
        }
    }
    model->n_demand = kept;
    double memory = model->memory_mb ? model->memory_mb : 1;
    static const double weight [4] = { WEIGHT_NORMAL, WEIGHT_LOW, WEIGHT_NORMAL,
                                       WEIGHT_HIGH };
    look->demand = 1.0 - none;
    look->chance = 1.0 - any;
    look->value = (1.0 - any) * benefit / memory * weight [model->priority & 3];
    look->last_use = last_use;
    look->covered = cover;
    look->next = boundary;
    look->next_start = start;
    look->expected = soonest == UINT64_MAX ? now_ms : soonest;
}

//  A model to warm, with its value and name when sorted.
typedef struct {
    model_t *model;
    double value;
    const char *name;
} candidate_t;

//  Order candidates by value, highest first; ties by name.
static int
s_by_value (const void *a, const void *b)
{
    const candidate_t *x = (const candidate_t *) a, *y = (const candidate_t *) b;
    if (x->value != y->value)
        return x->value > y->value ? -1 : 1;
    return strcmp (x->name, y->name);
}

//  Write a decision (demand and value: the model's now, for a warm).
static void
s_decision (wp_scheduler_t *self, wp_decision_t *d, model_t *model, wp_action_t action,
            uint64_t now_ms, uint64_t expected, double demand, double value)
{
    memset (d, 0, sizeof *d);
    d->model = s_name (self, model);
    d->action = action;
    d->priority = 2;
    d->memory_mb = model->memory_mb;
    d->vram_mb = s_vram (model);
    d->device = model->device;
    if (action == WP_ACTION_WARM) {
        d->deadline_ms = expected;
        d->benefit_ms = demand > 0 ? demand * model->load_ms : value * model->memory_mb;
        d->priority = expected < now_ms + model->load_ms ? 3 : 2;
    }
    if (model->priority == 1 || model->priority == 3)
        d->priority = model->priority;
}

//  True if cooling the model frees memory on an axis room is made on.
static bool
s_frees (wp_scheduler_t *self, const model_t *model)
{
    unsigned axes = self->dev->victims_for;
    if ((axes & (1u << DEFER_RAM_BUDGET | 1u << DEFER_RAM_ROOM)) && s_ram (model))
        return true;
    if ((axes & (1u << DEFER_VRAM_BUDGET | 1u << DEFER_GPUS_ROOM)) && s_vram (model))
        return true;
    return (axes & (1u << DEFER_GPU_ROOM)) && s_vram (model)
        && s_gpu (model) == self->dev->victims_gpu;
}

//  True if the model may be cooled now for room or for a budget: held by
//  us, not loading, not pinned, not within min_keep of its last use, not
//  chosen already this round.
static bool
s_coolable (const model_t *model, const model_t *except, uint64_t now_ms)
{
    return s_holds (model) && !model->external && model != except
        && model->state != WP_MODEL_COOLING && !model->chosen
        && now_ms >= model->loaded_at + model->load_ms && !s_pinned (model)
        && !(s_x (model)->min_keep_ms
             && now_ms < model->used_ms + s_x (model)->min_keep_ms);
}

//  True if a candidate victim of look ranks below the lowest so far (of
//  low): a lower value; ties (often: all certain to be asked soon) go to
//  the least recently used, then the name.
static bool
s_ranks_below (wp_scheduler_t *self, const model_t *model, const look_t *look,
               const model_t *lowest, const look_t *low)
{
    if (!lowest || look->value < low->value)
        return true;
    if (look->value != low->value)
        return false;
    return look->last_use < low->last_use
        || (look->last_use == low->last_use
            && strcmp (s_name (self, model), s_name (self, lowest)) < 0);
}

//  Learn how long held models last idle under pressure from a victim
//  chosen at now_ms.
static void
s_pressure (wp_scheduler_t *self, const model_t *victim, uint64_t now_ms)
{
    if (!victim || !victim->used_ms || now_ms <= victim->used_ms)
        return;
    double idle = (double) (now_ms - victim->used_ms);
    self->pressure_ms = self->pressure_ms > 0
                      ? self->pressure_ms + (idle - self->pressure_ms) / PRESSURE_WEIGHT
                      : idle;
    if (self->pressure_ms < PRESSURE_MIN_MS)
        self->pressure_ms = PRESSURE_MIN_MS;
}

//  The held model of lowest value below below (sampled when many are
//  held), its value in *value_p (if given).
static model_t *
s_lowest (wp_scheduler_t *self, uint64_t now_ms, const model_t *except, double below,
          wp_scheduler_can_fn *can, void *arg, double *value_p)
{
    model_t *lowest = NULL;
    look_t low = { 0 };
    size_t n = self->n_models, seen = 0;
    if (!n)
        return NULL;
    size_t at = self->victim_cursor % n;
    for (size_t k = 0; k < n && seen < VICTIM_SAMPLE; k++, at = at + 1 < n ? at + 1 : 0) {
        //  (an unused slot is cold: not held)
        model_t *model = &self->models [at];
        if (!s_coolable (model, except, now_ms))
            continue;
        if (self->dev && self->dev->victims_for && !s_frees (self, model))
            continue;
        if (can && !can (s_name (self, model), arg))
            continue;
        seen++;
        look_t look;
        s_assess (self, model, now_ms, &look);
        if (look.value < below && s_ranks_below (self, model, &look, lowest, &low)) {
            lowest = model;
            low = look;
        }
    }
    if (seen >= VICTIM_SAMPLE)
        self->victim_cursor += VICTIM_SAMPLE / 2;
    if (value_p)
        *value_p = low.value;
    s_pressure (self, lowest, now_ms);
    return lowest;
}

//  What is taken on the GPU axes, for a placement (RAM and the count are
//  the caller's, as before memory was measured).
typedef struct {
    uint64_t vram;              //  on the GPUs: held and reserved for pins
    uint64_t gpu;               //  on the model's own GPU, if it has one
} load_t;

//  VRAM reserved for pinned models not held (other than except), in all
//  and on GPU gpu.
static void
s_reserved_vram (wp_scheduler_t *self, const model_t *except, int gpu, uint64_t *vram,
                 uint64_t *on_gpu)
{
    *vram = *on_gpu = 0;
    for (size_t i = 0; i < self->n_pins; i++) {
        const model_t *model = &self->models [self->pins [i]];
        if (model != except && !s_holds (model)) {
            *vram += s_vram (model);
            if (gpu >= 0 && s_gpu (model) == gpu)
                *on_gpu += s_vram (model);
        }
    }
}

//  The GPU load a placement of model starts from.
static void
s_load (wp_scheduler_t *self, const model_t *model, load_t *load)
{
    int gpu = s_gpu (model);
    s_reserved_vram (self, model, gpu, &load->vram, &load->gpu);
    load->vram += self->dev->held_vram;
    if (gpu >= 0)
        load->gpu += self->dev->held_gpu [gpu];
}

//  A victim of model's placement is cooled: its GPU memory is free.
static void
s_unload (const model_t *model, const model_t *victim, load_t *load)
{
    uint32_t vram = s_vram (victim);
    load->vram -= vram < load->vram ? vram : load->vram;
    if (s_gpu (model) >= 0 && s_gpu (victim) == s_gpu (model))
        load->gpu -= vram < load->gpu ? vram : load->gpu;
}

//  Note why model waits (the first axis found short), when note is it.
static unsigned
s_defer (model_t *note, defer_t why, uint32_t need, uint64_t used, uint64_t limit)
{
    if (note) {
        extra_t *x = s_extra (note);
        x->defer = (uint8_t) why;
        x->defer_need = need;
        x->defer_used = used;
        x->defer_limit = limit;
    }
    return 1u << why;
}

//  The axes model does not fit on, with count models and memory MiB of
//  RAM taken (held and reserved) and load on the GPUs: bits 1 << defer_t.
//  With note (the model), the first one is noted as why it waits.
static unsigned
s_short (wp_scheduler_t *self, const model_t *model, uint32_t count, uint64_t memory,
         const load_t *load, model_t *note)
{
    const wp_scheduler_memory_t *in = &self->dev->in;
    bool measured = self->dev->measured;
    uint32_t ram = s_ram (model), vram = s_vram (model);
    int gpu = s_gpu (model);
    unsigned axes = 0;
    //  (a noted axis clears note: only the first is noted)
    #define S_SHORT(why, need, used, limit) \
        do { axes |= s_defer (note, why, need, used, limit); note = NULL; } while (0)
    if (ram && measured && in->memory_auto && !in->ram_measured)
        S_SHORT (DEFER_RAM_UNKNOWN, ram, 0, 0);
    if (vram && measured && in->vram_auto && !in->gpus_measured)
        S_SHORT (DEFER_VRAM_UNKNOWN, vram, 0, 0);
    if (vram && gpu >= 0 && measured && (in->vram_auto || in->gpus_measured)
        && !(in->gpu_read & (1u << gpu)))
        S_SHORT (DEFER_VRAM_UNKNOWN, vram, 0, 0);
    if (count + 1 > self->opts.max_warm_models)
        S_SHORT (DEFER_COUNT, 1, count, self->opts.max_warm_models);
    if (ram && self->opts.max_memory_mb && memory + ram > self->opts.max_memory_mb)
        S_SHORT (DEFER_RAM_BUDGET, ram, memory, self->opts.max_memory_mb);
    if (ram && measured && in->ram_measured && memory + ram > in->ram_capacity_mb)
        S_SHORT (DEFER_RAM_ROOM, ram, memory, in->ram_capacity_mb);
    if (vram && in->max_vram_mb && load->vram + vram > in->max_vram_mb)
        S_SHORT (DEFER_VRAM_BUDGET, vram, load->vram, in->max_vram_mb);
    if (vram && gpu < 0 && measured && in->gpus_measured
        && load->vram + vram > in->gpus_capacity_mb)
        S_SHORT (DEFER_GPUS_ROOM, vram, load->vram, in->gpus_capacity_mb);
    if (vram && gpu >= 0 && measured && (in->gpu_read & (1u << gpu))
        && load->gpu + vram > in->gpu_capacity_mb [gpu])
        S_SHORT (DEFER_GPU_ROOM, vram, load->gpu, in->gpu_capacity_mb [gpu]);
    #undef S_SHORT
    return axes;
}

//  VRAM held and reserved for pins.
static uint64_t
s_vram_taken (wp_scheduler_t *self)
{
    uint64_t vram, on_gpu;
    s_reserved_vram (self, NULL, -1, &vram, &on_gpu);
    return self->dev->held_vram + vram;
}

//  True if another model of its group is held and wanted for itself.
static bool
s_group_wants (wp_scheduler_t *self, const model_t *model)
{
    const group_t *group = s_x (model)->group;
    if (!group)
        return false;
    for (uint32_t i = 0; i < group->n_members; i++) {
        const model_t *other = &self->models [group->members [i]];
        if (other != model && other->own_wanted && s_holds (other))
            return true;
    }
    return false;
}

//  -------------------------------------------------------------------------
//  A decision round (wp_scheduler_decide) runs in phases, each a function:
//  review the models that changed (their holds, s_review), place what
//  should be warm (s_place), trim to the fill line (s_trim_fill), to the
//  budgets (s_trim_budget) and to the GPU budget (s_trim_vram). Room is
//  made on the axes a model is short on (count, RAM, GPUs: s_short). A
//  round writes at most capacity decisions; what did not fit is looked at
//  again in the next.

typedef struct {
    wp_scheduler_t *self;
    uint64_t now_ms;
    wp_decision_t *out;         //  decisions written
    size_t n, capacity;         //  how many, and room
    candidate_t *warm;          //  models to place (owned)
    size_t n_warm, cap_warm;
    bool can_warm;              //  background warmups on and admitted
    bool ahead;                 //  nothing is loaded ahead of a request
} round_t;

//  What a hold looks at: one model in review.
typedef struct {
    round_t *round;
    model_t *model;
    look_t look;                //  its demand now (s_assess)
    bool held;                  //  warm or warming
    bool pinned;
    bool wish;                  //  an operator's wish: pinned, or a
                                //  preload still to do (no switch or
                                //  budget rule keeps it cold)
} review_t;

//  A hold of some kind: 0 when it does not hold the model now, else until
//  when it holds (UINT64_MAX: until something else changes, which looks
//  at the model again).
typedef uint64_t (hold_fn) (const review_t *r);

//  Pinned: warm always.
static uint64_t
s_hold_pin (const review_t *r)
{
    return r->pinned ? UINT64_MAX : 0;
}

//  Warmed by someone else (an operator): held until someone cools it.
static uint64_t
s_hold_operator (const review_t *r)
{
    return r->model->external ? UINT64_MAX : 0;
}

//  A user's plan covers now (its boundaries are in the look's next).
static uint64_t
s_hold_plan (const review_t *r)
{
    return r->look.covered ? UINT64_MAX : 0;
}

//  Predictions without a plan reach the threshold; a model held stays
//  until its demand falls below threshold - hysteresis (no flapping).
static uint64_t
s_hold_demand (const review_t *r)
{
    const wp_scheduler_opts_t *opts = &r->round->self->opts;
    double bar = r->held ? opts->threshold - opts->hysteresis : opts->threshold;
    return r->look.demand >= bar ? UINT64_MAX : 0;
}

//  Held, and a plan's window starts within hysteresis_ms: no cool and
//  reload (time hysteresis).
static uint64_t
s_hold_window (const review_t *r)
{
    uint64_t start = r->look.next_start;
    return r->held && start != UINT64_MAX
        && start <= r->round->now_ms + r->round->self->opts.hysteresis_ms ? UINT64_MAX : 0;
}

//  A preload: cold and still to do, or held until its first use (or
//  min_keep) once done.
static uint64_t
s_hold_preload (const review_t *r)
{
    if (r->model->preload_pending && r->model->state == WP_MODEL_COLD)
        return UINT64_MAX;
    uint64_t until = s_x (r->model)->keep_until;
    return r->held && r->round->now_ms < until ? until : 0;
}

//  Held within min_keep of its last use.
static uint64_t
s_hold_min_keep (const review_t *r)
{
    uint64_t keep = s_x (r->model)->min_keep_ms;
    uint64_t until = r->model->used_ms + keep;
    return r->held && keep && r->round->now_ms < until ? until : 0;
}

//  Warm by our warm for demand or plans, done less than min_hold_ms ago
//  (a real load has latency the plan did not see).
static uint64_t
s_hold_min_hold (const review_t *r)
{
    uint64_t hold = r->round->self->opts.min_hold_ms;
    uint64_t until = r->model->warm_at + hold;
    return r->model->state == WP_MODEL_WARM && hold && r->round->now_ms < until ? until : 0;
}

//  A warm of ours still running is not undone: looked at again soon.
static uint64_t
s_hold_warming (const review_t *r)
{
    return !r->model->external && r->model->state == WP_MODEL_WARMING
         ? r->round->now_ms + RETRY_MS : 0;
}

//  Another model of its group is held and wanted for itself.
static uint64_t
s_hold_group (const review_t *r)
{
    return s_group_wants (r->round->self, r->model) ? UINT64_MAX : 0;
}

//  Under a memory budget with no_prewarm_under_budget: only what a
//  request made resident is held; nothing is loaded ahead of a request.
static uint64_t
s_hold_ahead (const review_t *r)
{
    return r->round->ahead && !r->wish ? UINT64_MAX : 0;
}

//  A failed warm backs off (wp_scheduler_done) until retry_at.
static uint64_t
s_hold_backoff (const review_t *r)
{
    uint64_t until = s_x (r->model)->retry_at;
    return r->round->now_ms < until ? until : 0;
}

//  Background warmups off, or not admitted now (the resource manager):
//  the model waits for the switch.
static uint64_t
s_hold_switch (const review_t *r)
{
    return !r->round->can_warm && !r->wish ? UINT64_MAX : 0;
}

//  A kind of hold and its function.
typedef struct {
    hold_t kind;
    hold_fn *holds;
} hold_kind_t;

//  Reasons to keep a model warm (or warm it) that are its own, in the
//  order they are asked: the first that holds keeps it, and the model is
//  looked at again when that one ends.
static const hold_kind_t s_own_holds [] = {
    { HOLD_PIN, s_hold_pin },
    { HOLD_OPERATOR, s_hold_operator },
    { HOLD_PLAN, s_hold_plan },
    { HOLD_DEMAND, s_hold_demand },
    { HOLD_WINDOW, s_hold_window },
    { HOLD_PRELOAD, s_hold_preload },
    { HOLD_MIN_KEEP, s_hold_min_keep },
    { HOLD_MIN_HOLD, s_hold_min_hold },
};

//  ... and those that are not its own (they do not make its group wanted).
static const hold_kind_t s_lent_holds [] = {
    { HOLD_WARMING, s_hold_warming },
    { HOLD_GROUP, s_hold_group },
};

//  Reasons to keep a wanted cold model cold; for the last, it waits (it
//  is looked at again when the switch or the budgets change).
static const hold_kind_t s_cold_holds [] = {
    { HOLD_AHEAD, s_hold_ahead },
    { HOLD_BACKOFF, s_hold_backoff },
    { HOLD_SWITCH, s_hold_switch },
};

#define HOLDS(table) table, sizeof (table) / sizeof (table [0])

//  The first hold of a table that holds the model, HOLD_NONE if none;
//  its expiry joins *next.
static hold_t
s_first_hold (const review_t *r, const hold_kind_t *table, size_t size, uint64_t *next)
{
    for (size_t i = 0; i < size; i++) {
        uint64_t until = table [i].holds (r);
        if (until) {
            *next = until < *next ? until : *next;
            return table [i].kind;
        }
    }
    return HOLD_NONE;
}

//  A model warm already (a request, an operator) when its preload is due
//  is held as preloaded.
static void
s_preload_arrived (wp_scheduler_t *self, model_t *model, uint64_t now_ms)
{
    if (!model->preload_pending || model->state != WP_MODEL_WARM)
        return;
    extra_t *extra = s_extra (model);
    uint64_t until = now_ms + (extra->min_keep_ms ? extra->min_keep_ms
                                                  : (uint64_t) self->horizon_ms);
    extra->keep_until = until > extra->keep_until ? until : extra->keep_until;
    model->preload_pending = false;
}

//  Note whether a model is wanted for itself; its group's models are
//  looked at again when that changes.
static void
s_own_wanted (wp_scheduler_t *self, model_t *model, bool own)
{
    if (own != model->own_wanted)
        s_touch_group (self, model);
    model->own_wanted = own;
}

//  Cool a model (a decision written), with its reason (why, and the
//  count, other model and numbers its text names).
static void
s_cool (round_t *round, model_t *model, why_t why, unsigned count, const model_t *other,
        double x, double y)
{
    wp_decision_t *d = &round->out [round->n++];
    s_decision (round->self, d, model, WP_ACTION_COOL, round->now_ms, round->now_ms, 0, 0);
    s_why (model, WP_ACTION_COOL, round->now_ms, why, count, other, x, y);
    s_why_text (round->self, model, d->reason, sizeof d->reason);
    s_set_state (round->self, model, WP_MODEL_COOLING);
}

//  A held model no hold keeps is cooled, saying what ended: its demand,
//  its preload's hold, its group, or its plans.
static void
s_cool_unheld (round_t *round, const review_t *r)
{
    model_t *model = r->model;
    const extra_t *x = s_x (model);
    uint64_t now_ms = round->now_ms;
    if (r->look.demand > 0)
        s_cool (round, model, WHY_DEMAND_BELOW, 0, NULL, r->look.demand, 0);
    else
    if (x->keep_until && x->keep_until <= now_ms && !model->n_demand) {
        uint64_t held = x->min_keep_ms ? x->min_keep_ms : (uint64_t) round->self->horizon_ms;
        s_cool (round, model, WHY_PRELOAD_UNUSED, 0, NULL,
                (now_ms - (x->keep_until - held)) / 1000.0, 0);
    }
    else
    if (x->group && !model->n_demand)
        s_cool (round, model, WHY_GROUP_UNWANTED, 0, NULL, 0, 0);
    else
        s_cool (round, model, WHY_PLAN_ENDED, model->n_demand, NULL, 0, 0);
    if (model->extra)
        model->extra->keep_until = 0;
    s_touch_group (round->self, model);
}

//  Add a model to the round's candidates to place.
static void
s_candidate (round_t *round, model_t *model)
{
    if (round->n_warm == round->cap_warm) {
        round->cap_warm = round->cap_warm ? round->cap_warm * 2 : 16;
        round->warm = (candidate_t *) realloc (round->warm,
                                               round->cap_warm * sizeof (candidate_t));
        assert (round->warm);
    }
    round->warm [round->n_warm++] = (candidate_t) { model, 0, NULL };
}

//  Review one model: what holds it warm, what it is waiting for. A held
//  model nothing holds is cooled; a cold model something wants and
//  nothing keeps cold becomes a candidate to place. Returns false when
//  the round is out of room for its cool (it stays dirty).
static bool
s_review_model (round_t *round, model_t *model)
{
    wp_scheduler_t *self = round->self;
    review_t r = { .round = round, .model = model };
    s_assess (self, model, round->now_ms, &r.look);
    r.held = s_holds (model);
    r.pinned = s_pinned (model);
    s_preload_arrived (self, model, round->now_ms);
    uint64_t next = r.look.next;
    hold_t hold = s_first_hold (&r, HOLDS (s_own_holds), &next);
    //  (a preload still to do makes its group wanted, even while warming)
    s_own_wanted (self, model, hold != HOLD_NONE || model->preload_pending);
    if (hold == HOLD_NONE)
        hold = s_first_hold (&r, HOLDS (s_lent_holds), &next);
    if (r.held && hold == HOLD_NONE) {
        if (round->n >= round->capacity)
            return false;
        s_cool_unheld (round, &r);
    }
    model->waiting = false;
    if (model->extra) {
        model->extra->defer = DEFER_NONE;
        s_defer_mark (self, model);
    }
    r.wish = r.pinned || model->preload_pending;
    if (hold != HOLD_NONE && model->state == WP_MODEL_COLD && !model->external) {
        hold_t cold = s_first_hold (&r, HOLDS (s_cold_holds), &next);
        model->waiting = cold == HOLD_NONE || cold == HOLD_SWITCH;
        if (cold == HOLD_NONE)
            s_candidate (round, model);
    }
    model->dirty = false;
    if (next != UINT64_MAX)
        s_wake_at (self, model, next);
    return true;
}

//  Phase 1: the wake-ups due join the models that changed, and each is
//  reviewed (the list may grow as we walk it: a group's models).
static void
s_review (round_t *round)
{
    wp_scheduler_t *self = round->self;
    while (self->n_heap && self->heap [0].time <= round->now_ms) {
        wake_t wake = s_wake_pop (self);
        s_touch (self, &self->models [wake.model]);
    }
    size_t kept = 0;
    for (size_t i = 0; i < self->n_dirty; i++)
        if (!s_review_model (round, &self->models [self->dirty [i]]))
            self->dirty [kept++] = self->dirty [i];
    self->n_dirty = kept;
}

//  True if model fits in the budgets with count models and memory MiB of
//  RAM held and reserved besides it, and load on the GPUs (memory as
//  measured, when there is a measure).
static bool
s_fits (wp_scheduler_t *self, const model_t *model, uint32_t count, uint64_t memory,
        const load_t *load)
{
    return count + 1 <= self->opts.max_warm_models
        && (!self->opts.max_memory_mb
            || memory + s_ram (model) <= self->opts.max_memory_mb)
        && !(self->dev && s_short (self, model, count, memory, load, NULL));
}

//  While room is made for model: only held models that free memory on
//  the axes it is short on are victims. False when nothing can free them
//  (an axis not measured yet).
static bool
s_victims_for (wp_scheduler_t *self, const model_t *model, uint32_t count,
               uint64_t memory, const load_t *load)
{
    if (!self->dev)
        return true;
    unsigned axes = s_short (self, model, count, memory, load, NULL);
    if (axes & (1u << DEFER_RAM_UNKNOWN | 1u << DEFER_VRAM_UNKNOWN))
        return false;
    self->dev->victims_for = axes & (1u << DEFER_COUNT) ? 0 : axes;
    self->dev->victims_gpu = s_gpu (model);
    return true;
}

//  Held models of lower value (below value / DISPLACE_RATIO; any for a
//  pinned model), lowest first, that would make room for model: written
//  to victims and their values (at most DISPLACE_MAX, within the round's
//  room); returns whether model fits once they are cooled, else notes on
//  which axis it waits. Pinned models not held keep their room reserved.
static bool
s_room (round_t *round, model_t *model, double value, bool pinned, model_t **victims,
        double *values, size_t *n_victims)
{
    wp_scheduler_t *self = round->self;
    uint32_t count;
    uint64_t memory;
    s_reserved (self, model, &count, &memory);
    count += self->held;
    memory += self->held_mb;
    load_t load = { 0 };
    if (self->dev)
        s_load (self, model, &load);
    *n_victims = 0;
    while (*n_victims < DISPLACE_MAX && round->n + *n_victims + 1 < round->capacity
           && !s_fits (self, model, count, memory, &load)) {
        if (!s_victims_for (self, model, count, memory, &load))
            break;
        model_t *victim = s_lowest (self, round->now_ms, model,
                                    pinned ? INFINITY : value / DISPLACE_RATIO,
                                    NULL, NULL, &values [*n_victims]);
        if (self->dev)
            self->dev->victims_for = 0;
        if (!victim)
            break;
        victim->chosen = true;
        victims [(*n_victims)++] = victim;
        count--;
        memory -= s_ram (victim);
        if (self->dev)
            s_unload (model, victim, &load);
    }
    bool fits = s_fits (self, model, count, memory, &load);
    if (!fits && self->dev) {
        s_short (self, model, count, memory, &load, model);     //  note why
        s_defer_mark (self, model);
    }
    return fits;
}

//  The reason for warming a model: the hold it is warmed for (written to
//  its last decision).
static hold_t
s_warm_for (round_t *round, model_t *model, const look_t *look, bool pinned, bool lent,
            double value)
{
    uint64_t now_ms = round->now_ms;
    const extra_t *x = s_x (model);
    if (pinned) {
        s_why (model, WP_ACTION_WARM, now_ms, WHY_PINNED, model->pin_operator_set, NULL,
               0, 0);
        return HOLD_PIN;
    }
    if (model->preload_pending) {
        s_why (model, WP_ACTION_WARM, now_ms, WHY_PRELOAD, 0, NULL,
               (x->min_keep_ms ? x->min_keep_ms : round->self->horizon_ms) / 1000.0, 0);
        return HOLD_PRELOAD;
    }
    if (lent) {
        s_why (model, WP_ACTION_WARM, now_ms, WHY_GROUP_WARMED, 0, NULL, 0, 0);
        return HOLD_GROUP;
    }
    if (look->demand >= round->self->opts.threshold) {
        s_why (model, WP_ACTION_WARM, now_ms, WHY_DEMAND, model->n_demand, NULL,
               look->demand, 0);
        return HOLD_DEMAND;
    }
    s_why (model, WP_ACTION_WARM, now_ms, WHY_PLAN, model->n_demand, NULL, value, 0);
    return HOLD_PLAN;
}

//  Warm a model (a decision written) at value.
static void
s_warm (round_t *round, model_t *model, const look_t *look, bool pinned, bool lent,
        double value)
{
    wp_decision_t *d = &round->out [round->n++];
    if (model->extra) {
        model->extra->defer = DEFER_NONE;
        s_defer_mark (round->self, model);
    }
    s_decision (round->self, d, model, WP_ACTION_WARM, round->now_ms, look->expected,
                look->demand, value);
    model->warm_for = (uint8_t) s_warm_for (round, model, look, pinned, lent, value);
    s_why_text (round->self, model, d->reason, sizeof d->reason);
    if (pinned)
        d->priority = 3;
    s_set_state (round->self, model, WP_MODEL_WARMING);
    model->waiting = false;
}

//  A model warmed takes its group along: each cold partner becomes a
//  candidate with the model's value lent, placed within the budgets.
static void
s_bring_group (round_t *round, const model_t *model, double value)
{
    const group_t *group = s_x (model)->group;
    if (!group)
        return;
    for (uint32_t g = 0; g < group->n_members; g++) {
        model_t *other = &round->self->models [group->members [g]];
        if (other == model || other->state != WP_MODEL_COLD || other->external
            || round->now_ms < s_x (other)->retry_at)
            continue;
        s_extra (other)->boost = isfinite (value) ? value : VALUE_ABOVE_ALL;
        other->lent = true;
        s_candidate (round, other);
    }
}

//  Place one candidate: make room from lower values and warm it, or leave
//  it waiting (looked at again in RETRY_MS, or in the next round when
//  this one is out of room).
static void
s_place_one (round_t *round, model_t *model)
{
    wp_scheduler_t *self = round->self;
    look_t look;
    s_assess (self, model, round->now_ms, &look);
    bool pinned = s_pinned (model);
    double value = pinned ? INFINITY : look.value;
    if (s_x (model)->boost > value)
        value = s_x (model)->boost;
    model_t *victims [DISPLACE_MAX];
    double values [DISPLACE_MAX];
    size_t n_victims;
    bool fits = s_room (round, model, value, pinned, victims, values, &n_victims);
    for (size_t v = 0; v < n_victims; v++) {
        model_t *victim = victims [v];
        victim->chosen = false;
        if (!fits)
            continue;
        if (pinned)
            s_cool (round, victim, WHY_ROOM_PINNED, 0, model, 0, 0);
        else
            s_cool (round, victim, WHY_NO_ROOM, 0, model, values [v], value);
        if (victim->extra)
            victim->extra->keep_until = 0;
    }
    bool lent = model->lent;
    if (model->extra)
        model->extra->boost = 0;
    model->lent = false;
    if (!fits || round->n >= round->capacity) {
        if (round->n >= round->capacity)
            s_touch (self, model);
        else
        if (!lent)
            s_wake_at (self, model, round->now_ms + RETRY_MS);
        return;
    }
    s_warm (round, model, &look, pinned, lent, value);
    s_bring_group (round, model, value);
}

//  Phase 2: place the candidates, pinned first (their memory is reserved
//  anyway), then by value, best first; a group's partners after them.
static void
s_place (round_t *round)
{
    for (size_t i = 0; i < round->n_warm; i++) {
        look_t look;
        model_t *model = round->warm [i].model;
        s_assess (round->self, model, round->now_ms, &look);
        round->warm [i].value = s_pinned (model) ? INFINITY : look.value;
        round->warm [i].name = s_name (round->self, model);
    }
    if (round->n_warm > 1)
        qsort (round->warm, round->n_warm, sizeof (candidate_t), s_by_value);
    //  The list grows as we walk it (a group's partners).
    for (size_t i = 0; i < round->n_warm; i++)
        if (round->warm [i].model->state == WP_MODEL_COLD)
            s_place_one (round, round->warm [i].model);
}

//  A line the held models may be over: true if they are, with the axes
//  whose memory a victim must free in *axes (bits 1 << defer_t; 0: any
//  held model will do).
typedef bool (over_fn) (const round_t *round, unsigned *axes);

//  Cool the held models of lowest value, each for why, while over says
//  the held models are over a line.
static void
s_trim (round_t *round, over_fn *over, why_t why)
{
    wp_scheduler_t *self = round->self;
    unsigned axes = 0;
    while (round->n < round->capacity && over (round, &axes)) {
        double value;
        if (self->dev)
            self->dev->victims_for = axes;
        model_t *victim = s_lowest (self, round->now_ms, NULL, INFINITY, NULL, NULL, &value);
        if (self->dev)
            self->dev->victims_for = 0;
        if (!victim)
            break;
        s_cool (round, victim, why, 0, NULL, value, 0);
    }
}

//  True if the held models are over the fill line of the memory budget.
static bool
s_over_fill (const round_t *round, unsigned *axes)
{
    const wp_scheduler_t *self = round->self;
    *axes = 0;
    return (double) self->held_mb > self->opts.fill * (double) self->opts.max_memory_mb;
}

//  Phase 3: under a memory budget with a fill line, cool the lowest values
//  over it.
static void
s_trim_fill (round_t *round)
{
    const wp_scheduler_opts_t *opts = &round->self->opts;
    if (opts->max_memory_mb && opts->fill > 0 && opts->fill < 1)
        s_trim (round, s_over_fill, WHY_OVER_FILL);
}

//  True if the held models and the pinned ones' reservations are over a
//  budget; the victims free RAM when the count is not what is over.
static bool
s_over_budget (const round_t *round, unsigned *axes)
{
    wp_scheduler_t *self = round->self;
    uint32_t count;
    uint64_t memory;
    s_reserved (self, NULL, &count, &memory);
    bool over_count = self->held + count > self->opts.max_warm_models;
    *axes = over_count ? 0 : 1u << DEFER_RAM_BUDGET;
    return over_count
        || (self->opts.max_memory_mb && self->held_mb + memory > self->opts.max_memory_mb);
}

//  Phase 4: over a budget lowered (or pins added) at run time, cool the
//  lowest values.
static void
s_trim_budget (round_t *round)
{
    s_trim (round, s_over_budget, WHY_OVER_BUDGET);
}

//  True if the models held and reserved on GPUs are over the GPU budget.
static bool
s_over_vram (const round_t *round, unsigned *axes)
{
    wp_scheduler_t *self = round->self;
    *axes = 1u << DEFER_VRAM_BUDGET;
    return s_vram_taken (self) > self->dev->in.max_vram_mb;
}

//  Phase 5: over the GPU budget (lowered, or measured smaller), cool the
//  lowest values on GPUs.
static void
s_trim_vram (round_t *round)
{
    if (round->self->dev && round->self->dev->in.max_vram_mb)
        s_trim (round, s_over_vram, WHY_OVER_VRAM);
}

//  Decide.
size_t
wp_scheduler_decide (wp_scheduler_t *self, uint64_t now_ms, wp_decision_t *out,
                     size_t capacity)
{
    assert (self && out);
    self->now_ms = now_ms;
    round_t round = {
        .self = self, .now_ms = now_ms, .out = out, .capacity = capacity,
        .can_warm = self->opts.background && self->admit,
        .ahead = self->opts.max_memory_mb && self->opts.no_prewarm_under_budget
    };
    s_review (&round);
    s_place (&round);
    s_trim_fill (&round);
    s_trim_budget (&round);
    s_trim_vram (&round);
    free (round.warm);
    return round.n;
}

//  Put a model in a group (NULL: none).
static void
s_regroup (wp_scheduler_t *self, model_t *model, const char *name)
{
    group_t *group = s_x (model)->group;
    if (group && name && streq (group->name, name))
        return;
    if (group) {
        s_why_freeze (self, model, false);
        for (uint32_t i = 0; i < group->n_members; i++)
            if (group->members [i] == model->index) {
                group->members [i] = group->members [--group->n_members];
                break;
            }
        for (uint32_t i = 0; i < group->n_members; i++)
            s_touch (self, &self->models [group->members [i]]);
        model->extra->group = NULL;
        if (!group->n_members)
            zhashx_delete (self->groups, group->name);
    }
    if (!name || !*name)
        return;
    group = (group_t *) zhashx_lookup (self->groups, name);
    if (!group) {
        group = (group_t *) zmalloc (sizeof (group_t));
        assert (group);
        group->name = strdup (name);
        assert (group->name);
        zhashx_insert (self->groups, name, group);
    }
    if (group->n_members < WP_SCHEDULER_GROUP_MAX) {
        group->members [group->n_members++] = model->index;
        s_extra (model)->group = group;
    }
}

//  Apply a model's configuration section.
void
wp_scheduler_configure (wp_scheduler_t *self, const char *name,
                        const wp_scheduler_settings_t *settings)
{
    assert (self && name && settings);
    model_t *model = s_model (self, name);
    if (settings->device != model->device) {
        //  Its memory moves to another device
        bool held = s_holds (model);
        if (held)
            s_hold (self, model, -1);
        model->device = (uint8_t) (settings->device < 2 + WP_SCHEDULER_GPUS
                                   ? settings->device : 1);
        if (held)
            s_hold (self, model, 1);
    }
    wp_scheduler_model (self, name, settings->memory_mb, settings->load_ms);
    if (settings->pin != model->pin_config) {
        model->pin_config = settings->pin;
        model->pin_operator_set = false;    //  the config's word is the latest
    }
    s_pins_sync (self, model);
    if (settings->preload && !model->preload)
        model->preload_pending = true;
    if (!settings->preload)
        model->preload_pending = false;
    model->preload = settings->preload;
    model->priority = settings->priority >= 1 && settings->priority <= 3
                    ? (uint8_t) settings->priority : 2;
    if (settings->min_keep_ms || model->extra)
        s_extra (model)->min_keep_ms = settings->min_keep_ms;
    s_regroup (self, model, settings->group);
    s_touch (self, model);
}

//  An operator pins or unpins a model.
int
wp_scheduler_pin (wp_scheduler_t *self, const char *name, bool pin, char *error,
                  size_t size)
{
    assert (self && name);
    model_t *model = s_model (self, name);
    if (pin && !s_pinned (model)) {
        //  The pinned models must fit together.
        uint32_t count = 1;
        uint64_t memory = s_ram (model), vram = s_vram (model);
        for (size_t i = 0; i < self->n_pins; i++) {
            count++;
            memory += s_ram (&self->models [self->pins [i]]);
            vram += s_vram (&self->models [self->pins [i]]);
        }
        if (count > self->opts.max_warm_models
            || (self->opts.max_memory_mb && memory > self->opts.max_memory_mb)) {
            if (error && size)
                snprintf (error, size, "cannot pin %s: pinned models would need %u "
                          "models and %" PRIu64 " MiB, over max_warm_models %u or "
                          "max_memory_mb %" PRIu64, name, count, memory,
                          self->opts.max_warm_models, self->opts.max_memory_mb);
            return -1;
        }
        uint64_t max_vram = self->dev ? self->dev->in.max_vram_mb : 0;
        if (max_vram && vram > max_vram) {
            if (error && size)
                snprintf (error, size, "cannot pin %s: pinned models would need %" PRIu64
                          " MiB of GPU memory, over the GPU budget %" PRIu64 " MiB", name,
                          vram, max_vram);
            return -1;
        }
    }
    model->pin_operator_set = true;
    model->pin_operator = pin;
    s_pins_sync (self, model);
    s_why (model, (wp_action_t) model->last_action, self->now_ms,
           pin ? WHY_PINNED_BY_OPERATOR : WHY_UNPINNED_BY_OPERATOR, 0, NULL, 0, 0);
    s_touch (self, model);
    return 0;
}

//  True if pinned.
bool
wp_scheduler_pinned (wp_scheduler_t *self, const char *name)
{
    model_t *model = s_find (self, name);
    return model && s_pinned (model);
}

//  Change the budgets.
void
wp_scheduler_limits (wp_scheduler_t *self, uint32_t max_warm_models,
                     uint64_t max_memory_mb, bool background)
{
    assert (self);
    max_warm_models = max_warm_models ? max_warm_models : DEFAULT_MAX_WARM_MODELS;
    //  Reasons that name the budgets keep the budgets they were made under.
    if (max_warm_models != self->opts.max_warm_models
        || (unsigned) max_memory_mb != (unsigned) self->opts.max_memory_mb)
        for (size_t i = 0; i < self->n_models; i++)
            if (self->models [i].used)
                s_why_freeze (self, &self->models [i], true);
    self->opts.max_warm_models = max_warm_models;
    self->opts.max_memory_mb = max_memory_mb;
    self->opts.background = background;
    //  Models that waited for room or for the switch may go now.
    model_t *first = NULL;
    for (size_t i = 0; i < self->n_models; i++) {
        model_t *model = &self->models [i];
        if (!model->used)
            continue;
        if (model->waiting)
            s_touch (self, model);
        first = first ? first : model;
    }
    if (first)
        s_touch (self, first);              //  a decide round checks the budgets
}

//  Why a model waits to be warmed, for people ("" when it does not).
static void
s_defer_text (wp_scheduler_t *self, const model_t *model, char *text, size_t size)
{
    const extra_t *x = s_x (model);
    unsigned need = x->defer_need;
    uint64_t used = x->defer_used, limit = x->defer_limit;
    bool vram_auto = self->dev && self->dev->in.vram_auto;
    bool memory_auto = self->dev && self->dev->in.memory_auto;
    *text = 0;
    switch ((defer_t) (model->waiting ? x->defer : DEFER_NONE)) {
        case DEFER_NONE:
            if (model->waiting && model->state == WP_MODEL_COLD
                && !(self->opts.background && self->admit) && !s_pinned (model)
                && !model->preload_pending)
                snprintf (text, size, "%s", self->opts.background
                          ? "background warmups not admitted now (resource.status)"
                          : "background warmups disabled");
            break;
        case DEFER_COUNT:
            snprintf (text, size, "no room: %" PRIu64 " of max_warm_models %" PRIu64
                      " warm or reserved", used, limit);
            break;
        case DEFER_RAM_BUDGET:
            snprintf (text, size, "no room in RAM budget: needs %u MiB, %" PRIu64 " of %"
                      PRIu64 " MiB taken (max_memory_mb%s)", need, used, limit,
                      memory_auto ? " = auto, as measured" : "");
            break;
        case DEFER_RAM_ROOM:
            snprintf (text, size, "no room in RAM now: needs %u MiB, %" PRIu64 " of the %"
                      PRIu64 " MiB it leaves us taken", need, used, limit);
            break;
        case DEFER_VRAM_BUDGET:
            snprintf (text, size, "no room in GPU budget: needs %u MiB, %" PRIu64 " of %"
                      PRIu64 " MiB taken (max_vram_mb%s)", need, used, limit,
                      vram_auto ? " = auto, as measured" : "");
            break;
        case DEFER_GPUS_ROOM:
            snprintf (text, size, "no room on the GPUs now: needs %u MiB, %" PRIu64 " of "
                      "the %" PRIu64 " MiB they leave us taken", need, used, limit);
            break;
        case DEFER_GPU_ROOM:
            snprintf (text, size, "no room on gpu:%d now: needs %u MiB, %" PRIu64 " of "
                      "the %" PRIu64 " MiB it leaves us taken", s_gpu (model), need, used,
                      limit);
            break;
        case DEFER_RAM_UNKNOWN:
            snprintf (text, size, "max_memory_mb = auto: RAM not measured yet");
            break;
        case DEFER_VRAM_UNKNOWN:
            if (s_gpu (model) >= 0)
                snprintf (text, size, "gpu:%d not read yet", s_gpu (model));
            else
                snprintf (text, size, "max_vram_mb = auto: GPUs not read yet");
            break;
    }
}

//  Deferrals that changed since last told.
size_t
wp_scheduler_deferrals (wp_scheduler_t *self, wp_scheduler_deferral_t *out, size_t capacity)
{
    assert (self && (out || !capacity));
    devices_t *dev = self->dev;
    size_t n = 0, kept = 0;
    for (size_t i = 0; dev && i < dev->n_told; i++) {
        model_t *model = &self->models [dev->told [i]];
        extra_t *x = model->extra;
        uint8_t now = model->waiting ? x->defer : DEFER_NONE;
        if (now == x->defer_told) {
            x->defer_listed = false;
            continue;
        }
        if (n == capacity) {
            dev->told [kept++] = dev->told [i];
            continue;
        }
        wp_scheduler_deferral_t *d = &out [n++];
        memset (d, 0, sizeof *d);
        d->model = s_name (self, model);
        d->waits = now != DEFER_NONE;
        d->memory_mb = model->memory_mb;
        d->device = model->device;
        if (d->waits)
            s_defer_text (self, model, d->reason, sizeof d->reason);
        else
            snprintf (d->reason, sizeof d->reason, "%s", s_holds (model)
                      ? "room now: warmed" : "waits no more: not wanted now");
        x->defer_told = now;
        x->defer_listed = false;
    }
    if (dev)
        dev->n_told = kept;
    return n;
}

//  Memory as measured.
void
wp_scheduler_memory (wp_scheduler_t *self, const wp_scheduler_memory_t *memory)
{
    assert (self && memory);
    devices_t *dev = s_dev (self);
    bool smaller = !dev->measured || memory->max_vram_mb != dev->in.max_vram_mb
                || memory->ram_capacity_mb < dev->in.ram_capacity_mb
                || memory->gpus_capacity_mb < dev->in.gpus_capacity_mb;
    bool larger = !dev->measured || memory->ram_capacity_mb > dev->in.ram_capacity_mb
               || memory->gpus_capacity_mb > dev->in.gpus_capacity_mb
               || memory->gpu_read != dev->in.gpu_read
               || memory->ram_measured != dev->in.ram_measured
               || memory->gpus_measured != dev->in.gpus_measured;
    for (int g = 0; g < WP_SCHEDULER_GPUS && !larger; g++)
        larger = memory->gpu_capacity_mb [g] > dev->in.gpu_capacity_mb [g];
    //  Reasons that name the GPU budget keep the one they were made under
    if (dev->measured && memory->max_vram_mb != dev->in.max_vram_mb)
        for (size_t i = 0; i < self->n_models; i++)
            if (self->models [i].used && self->models [i].why == WHY_OVER_VRAM)
                s_why_freeze (self, &self->models [i], true);
    dev->in = *memory;
    dev->measured = true;
    //  More room: models waiting may go; less: a round checks the budgets
    model_t *first = NULL;
    for (size_t i = 0; i < self->n_models; i++) {
        model_t *model = &self->models [i];
        if (!model->used)
            continue;
        if (larger && model->waiting)
            s_touch (self, model);
        first = first ? first : model;
    }
    if (smaller && first)
        s_touch (self, first);
}

//  What is known of each model.
size_t
wp_scheduler_list (wp_scheduler_t *self, uint64_t now_ms, wp_scheduler_info_t *out,
                   size_t capacity)
{
    assert (self && (out || !capacity));
    size_t listed = 0;
    for (size_t i = 0; i < self->n_models && listed < capacity; i++) {
        model_t *model = &self->models [i];
        if (!model->used)
            continue;
        look_t look;
        s_assess (self, model, now_ms, &look);
        wp_scheduler_info_t *info = &out [listed++];
        memset (info, 0, sizeof *info);
        info->model = s_name (self, model);
        info->state = model->state;
        info->pinned = s_pinned (model);
        info->pin_source = !info->pinned ? ""
                         : model->pin_operator_set ? "operator" : "config";
        info->preload = model->preload;
        info->priority = model->priority;
        info->memory_mb = model->memory_mb;
        info->load_ms = model->load_ms;
        info->min_keep_ms = s_x (model)->min_keep_ms;
        info->group = s_x (model)->group ? s_x (model)->group->name : "";
        info->last_use_ms = model->used_ms;
        info->probability = look.chance;
        info->demand = look.demand;
        info->value = look.value;
        info->last_action = (wp_action_t) model->last_action;
        info->last_decision_ms = model->last_decision_ms;
        s_why_text (self, model, info->last_reason, sizeof info->last_reason);
        const extra_t *x = s_x (model);
        info->device = model->device;
        info->vram_mb = s_vram (model);
        info->configured_mb = x->learned_mb ? x->config_mb : model->memory_mb;
        info->learned_mb = x->learned_mb;
        info->learned_from = s_sources [x->learned_from < 5 ? x->learned_from : 0];
        s_defer_text (self, model, info->deferred, sizeof info->deferred);
    }
    return self->known;
}

//  Earliest time decide has something to do.
uint64_t
wp_scheduler_next_ms (wp_scheduler_t *self)
{
    assert (self);
    if (self->n_dirty)
        return 0;
    return self->n_heap ? self->heap [0].time : UINT64_MAX;
}

//  The held model of lowest value.
const char *
wp_scheduler_victim (wp_scheduler_t *self, uint64_t now_ms, const char *except,
                     wp_scheduler_can_fn *can, void *arg)
{
    assert (self);
    model_t *skip = s_find (self, except);
    model_t *lowest = s_lowest (self, now_ms, skip, INFINITY, can, arg, NULL);
    return lowest ? s_name (self, lowest) : NULL;
}

//  Value of a model now.
double
wp_scheduler_value (wp_scheduler_t *self, const char *name, uint64_t now_ms)
{
    model_t *model = s_find (self, name);
    if (!model)
        return 0;
    look_t look;
    s_assess (self, model, now_ms, &look);
    return look.value;
}

//  State of a model.
wp_model_state_t
wp_scheduler_state (wp_scheduler_t *self, const char *name)
{
    model_t *model = s_find (self, name);
    return model ? model->state : WP_MODEL_COLD;
}

//  Demand of a model.
double
wp_scheduler_demand (wp_scheduler_t *self, const char *name, uint64_t now_ms)
{
    model_t *model = s_find (self, name);
    if (!model)
        return 0;
    look_t look;
    s_assess (self, model, now_ms, &look);
    return look.demand;
}

//  Models warm or warming.
uint32_t
wp_scheduler_warm_count (wp_scheduler_t *self)
{
    return self->held;
}

//  Their memory.
uint64_t
wp_scheduler_warm_memory_mb (wp_scheduler_t *self)
{
    return self->held_mb;
}

//  Bytes a block from malloc holds (its usable size and header).
static size_t
s_block_bytes (void *block)
{
    return block ? malloc_usable_size (block) + sizeof (size_t) : 0;
}

//  Bytes held.
size_t
wp_scheduler_state_bytes (wp_scheduler_t *self)
{
    size_t bytes = sizeof *self + self->cap_models * sizeof (model_t)
                 + self->cap_dirty * sizeof (uint32_t) + self->cap_heap * sizeof (wake_t)
                 + self->cap_pins * sizeof (uint32_t);
    for (size_t i = 0; i < self->n_models; i++) {
        model_t *model = &self->models [i];
        if (model->used)
            bytes += s_block_bytes (model->extra)
                   + (model->extra ? s_block_bytes (model->extra->why_text) : 0)
                   + (model->cap_demand > 1 ? s_block_bytes (model->demand.many) : 0);
    }
    if (self->own_names)
        bytes += wp_names_bytes (self->names);
    return bytes;
}

//  The options for the simulated world.
void
wp_scheduler_opts_sim (wp_scheduler_opts_t *opts, uint64_t max_memory_mb, double threshold)
{
    assert (opts);
    memset (opts, 0, sizeof *opts);
    opts->max_warm_models = UINT32_MAX;
    opts->max_memory_mb = max_memory_mb;
    opts->threshold = threshold;
    opts->hysteresis = WP_SCHEDULER_HYSTERESIS;
    opts->ttl_s = DEFAULT_TTL_S;
    opts->background = true;
    opts->default_memory_mb = SIM_DEFAULT_MEMORY_MB;
    opts->default_load_ms = SIM_DEFAULT_LOAD_MS;
    opts->horizon_s = DEFAULT_HORIZON_S;
    opts->no_prewarm_under_budget = true;
}
