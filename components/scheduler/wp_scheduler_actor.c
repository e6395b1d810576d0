/*  =========================================================================
    wp_scheduler_actor - binds the WarmupScheduler core to the bus.
    =========================================================================
*/
#include <math.h>
#include "wp_scheduler_actor.h"
#include "wp_prediction_wire.h"
#include "wp_scheduler.h"
#include "wp_simworld.h"
#include "wp_scheduler_policy.h"
#include "wp_util.h"

#define PREDICTIONS_MAX 32  //  predictions per event used at most
#define DECISIONS_MAX 64    //  decisions per round at most
//  A plan's end does not cool a model wanted again within this (ms), and a
//  model we warmed for plans stays at least this long after its warm is
//  done (ms): a real load has latency and jitter a plan does not see.
//  Design margins for live servers (the simulated world uses neither:
//  wp_scheduler_opts_sim).
#define HYSTERESIS_MS 5000
#define MIN_HOLD_MS 30000
#define TIMERS_MAX 1024     //  replay: wake-ups pending at most
#define ROOM_IDLE_MAX 100000    //  replay: idle models a room.request lists at most
#define FIFO_MAX 10000000   //  replay by windows: requests waiting at most
#define INFLIGHT_MS 5000    //  resync: a decision this recent is left to its done

//  Replay mode: the scheduler's timers in event time, kept exactly as
//  warmup-eval's predictive keeps its own, so both decide at the same
//  times: a wake-up is set when the next plan boundary is earlier than
//  the one pending (one set earlier and overtaken still fires); a cool of
//  a model still loading waits for the load to end (a server does not
//  unload a model mid-load) and is dropped if the model is no longer
//  cooling by then. Timers fire in (time, order set) order, one per
//  clock.tick, so what one timer published is handled before the next.
#define TOKEN_DECIDE 1      //  timer: decide
#define TOKEN_COOL 2        //  timer: a cool waiting for its model's load

#define TOKEN_ENACT 3       //  timer: decide after a cool (before anything else)

typedef struct {
    uint64_t time;          //  when it falls due
    uint64_t order;         //  ties fire in the order set
    int token;              //  TOKEN_DECIDE, _COOL or _ENACT
    wp_decision_t cool;     //  cool: the decision
} s_timer_t;

typedef struct {
    int64_t armed;              //  earliest wake-up pending, -1 none
    s_timer_t heap [TIMERS_MAX];//  pending timers, a binary min-heap
    size_t size;                //  how many
    uint64_t order;             //  timers set so far
    zhashx_t *load_end;         //  model -> event time its current load ends
                                //  (absent: not resident), as the world
} s_timers_t;

//  True when timer a fires before timer b.
static bool
s_before (const s_timer_t *a, const s_timer_t *b)
{
    return a->time < b->time || (a->time == b->time && a->order < b->order);
}

//  Set a timer.
static void
s_timer_push (s_timers_t *timers, uint64_t at, int token, const wp_decision_t *cool)
{
    if (timers->size == TIMERS_MAX) {
        zsys_error ("scheduler: more than %d timers pending (replay)", TIMERS_MAX);
        return;
    }
    s_timer_t timer;
    memset (&timer, 0, sizeof timer);
    timer.time = at;
    timer.order = token == TOKEN_ENACT ? 0 : ++timers->order;
    timer.token = token;
    if (cool)
        timer.cool = *cool;
    size_t pos = timers->size++;
    while (pos && s_before (&timer, &timers->heap [(pos - 1) / 2])) {
        timers->heap [pos] = timers->heap [(pos - 1) / 2];
        pos = (pos - 1) / 2;
    }
    timers->heap [pos] = timer;
}

//  Take the first timer.
static s_timer_t
s_timer_pop (s_timers_t *timers)
{
    s_timer_t top = timers->heap [0];
    s_timer_t last = timers->heap [--timers->size];
    size_t pos = 0;
    while (2 * pos + 1 < timers->size) {
        size_t child = 2 * pos + 1;
        if (child + 1 < timers->size && s_before (&timers->heap [child + 1],
                                                  &timers->heap [child]))
            child++;
        if (!s_before (&timers->heap [child], &last))
            break;
        timers->heap [pos] = timers->heap [child];
        pos = child;
    }
    if (timers->size)
        timers->heap [pos] = last;
    return top;
}

//  The world's view of a model: resident since a load that ends at
//  *load_end (true), or not resident (false).
static bool
s_resident (s_timers_t *timers, const char *model, uint64_t *load_end)
{
    uint64_t *end = (uint64_t *) zhashx_lookup (timers->load_end, model);
    if (end)
        *load_end = *end;
    return end != NULL;
}

//  A load of the model started: it ends at end_ms.
static void
s_loaded (s_timers_t *timers, const char *model, uint64_t end_ms)
{
    uint64_t *end = (uint64_t *) zhashx_lookup (timers->load_end, model);
    if (!end) {
        end = (uint64_t *) zmalloc (sizeof (uint64_t));
        assert (end);
        zhashx_insert (timers->load_end, model, end);
    }
    *end = end_ms;
}

//  Free a hash item.
static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  Replay by windows (ClockTick.windowed): requests come without their
//  outcome, many per round. The scheduler serves them itself, one at a
//  time in event time, on a mirror of the simulated world (wp_simworld),
//  as warmup-eval's world would: the timers due first, then the request
//  (absent: a cold start, room made from the held models of lowest value,
//  then least recently used), then, when the engine's prediction for it
//  arrives, the decisions, which it applies to the mirror at once (as
//  warmup-eval's predictive does) and publishes tagged with their cause
//  (the request they follow and the phase), so the replayer applies them
//  where warmup-eval would. The next request is served only after the
//  prediction for the previous one: the order warmup-eval calls the cores.
typedef struct {
    char *model;            //  requested model
    char *user;             //  requesting user
    uint64_t time;          //  event time
    uint64_t seq;           //  header seq of its usage.observed
    char *source;           //  header source of its usage.observed
} s_usage_t;

typedef struct {
    wp_simworld_t *world;   //  the world's state, mirrored
    s_usage_t *fifo;        //  requests received, not served yet (a ring)
    size_t head;            //  first of them
    size_t count;           //  how many
    size_t cap;             //  ring size
    bool awaiting;          //  served one, its prediction not handled yet
    char *cause_source;     //  the latest request served: the cause of
    uint64_t cause_seq;     //  decisions (0: none yet)
    char *cause_user;       //  its user
    Warmup__V1__Phase phase;    //  phase of the decisions made now
    uint64_t clock_ms;      //  the latest clock.tick
    uint64_t mismatched;    //  predictions not for the request served
    uint64_t clock_now;     //  event time of a room search (s_window_can)
} s_window_t;

//  Another policy than the scheduler's own (`policy = NAME`): its acts
//  since the last call, to publish or to answer a room.request with.
typedef struct {
    char *model;
    wp_policy_act_t act;
    int64_t time;
} s_act_t;

typedef struct {
    wp_scheduler_policy_t *policy;  //  the policy run
    s_act_t *acts;                  //  its acts not handled yet
    size_t n_acts, cap_acts;
    char *served_model;             //  a request served at its room.request:
    uint64_t served_ms;             //  its usage.observed is not served again
} s_hosted_t;

//  The component's state.
typedef struct {
    wp_scheduler_t *core;       //  the decisions
    s_hosted_t hosted;          //  another policy than the core's, if .policy
    s_timers_t *timers;         //  replay mode: wake-ups (NULL live)
    s_window_t *window;         //  replay by windows (NULL otherwise)
    const wp_config_t *config;  //  the configuration
    zhashx_t *synced;           //  resync: models the snapshot named (NULL
                                //  outside one)
    zhashx_t *in_flight;        //  resync: models decided within
                                //  INFLIGHT_MS: the snapshot may predate
                                //  the request, their warmup.done settles them
    wp_scheduler_memory_t memory;   //  live: the devices as last measured
    uint64_t ram_budget_mb;     //  live, max_memory_mb = auto: as measured
} sched_t;

#define LISTED_MAX 1000     //  models a listing looks at, at most

static int s_hosted_start (sched_t *sched, const wp_config_t *config);
static bool s_model_name_ok (const char *name);
static void s_hosted_stop (s_hosted_t *hosted);

//  Give the core every model section of next; models whose section went
//  away (in running, not in next) get the defaults.
static void
s_configure (wp_scheduler_t *self, const wp_config_t *running, const wp_config_t *next)
{
    for (size_t i = 0; i < next->n_models; i++) {
        const wp_model_config_t *model = &next->models [i];
        wp_scheduler_settings_t settings = {
            .memory_mb = model->memory_mb,
            .load_ms = model->load_ms,
            .pin = model->pin,
            .preload = model->preload,
            .priority = (int) model->priority,
            .min_keep_ms = (uint64_t) model->min_keep_seconds * 1000,
            .group = model->group,
            .device = model->device,
        };
        wp_scheduler_configure (self, model->name, &settings);
    }
    for (size_t i = 0; running && i < running->n_models; i++)
        if (!wp_config_model (next, running->models [i].name)) {
            wp_scheduler_settings_t settings = {
                .memory_mb = next->default_memory_mb,
                .load_ms = next->default_load_ms,
                .device = wp_config_has_vram (next) ? WP_DEVICE_GPU : WP_DEVICE_CPU,
            };
            wp_scheduler_configure (self, running->models [i].name, &settings);
        }
}

//  --- Operator pins kept over a restart -----------------------------------------
//  Database "pins": a model's name -> [the operator's pin (1) or unpin (0),
//  the model's configured pin when it was given]. Written and committed
//  when the operator acts; taken again at start unless the configuration
//  changed the model's pin since (a change of the pin key replaces an
//  operator's pin, as a reload does).
#define PINS_DB "pins"
#define PINS_VERSION 1

//  The model's configured pin.
static bool
s_config_pin (const wp_config_t *config, const char *model)
{
    const wp_model_config_t *section = wp_config_model (config, model);
    return section && section->pin;
}

//  Keep an operator's pin or unpin, committed at once.
static void
s_pin_keep (wp_ctx_t *ctx, const char *model, bool pin)
{
    uint8_t value [2] = { pin, s_config_pin (wp_ctx_config (ctx), model) };
    wp_store_t *store = wp_ctx_store (ctx);
    if (wp_ctx_replay (ctx))
        return;                 //  a replay's world is its own
    if (!store || wp_store_put (store, PINS_DB, model, strlen (model), value, sizeof value,
                                PINS_VERSION)
        || wp_store_flush (store))
        zsys_warning ("scheduler: the %s of %s is not stored: it lasts until a restart",
                      pin ? "pin" : "unpin", model);
}

//  What a walk over the stored pins does.
typedef struct {
    wp_scheduler_t *core;       //  restore into it (NULL: only check)
    const wp_config_t *config;  //  the configuration now
    zlistx_t *stale;            //  names of the records to delete
    size_t taken;               //  pins restored
} s_pins_t;

//  One stored pin: restored, or to delete (its pin key changed, it no
//  longer fits the budgets, or it does not parse).
static int
s_pin_record (const void *key, size_t key_len, const void *value, size_t value_len,
              uint16_t version, void *arg)
{
    s_pins_t *walk = (s_pins_t *) arg;
    char name [256];
    if (key_len >= sizeof name)
        return 0;
    memcpy (name, key, key_len);
    name [key_len] = 0;
    const uint8_t *record = (const uint8_t *) value;
    char error [300] = "";
    if (version != PINS_VERSION || value_len != 2 || record [0] > 1
        || !s_model_name_ok (name))
        snprintf (error, sizeof error, "a record that does not parse");
    else
    if (record [1] != s_config_pin (walk->config, name))
        snprintf (error, sizeof error, "the configuration changed its pin since");
    else
    if (walk->core && wp_scheduler_pin (walk->core, name, record [0], error, sizeof error) == 0) {
        zsys_info ("scheduler: %s %s again (the operator's, kept over the restart)", name,
                   record [0] ? "pinned" : "unpinned");
        walk->taken++;
    }
    if (*error) {
        if (walk->core)
            zsys_warning ("scheduler: the operator's %s of %s is dropped: %s",
                          record [0] ? "pin" : "unpin", name, error);
        zlistx_add_end (walk->stale, strdup (name));
    }
    return 0;
}

//  Walk the stored pins (restoring them into core, if given); delete the
//  records that no longer hold.
static void
s_pins_walk (wp_ctx_t *ctx, wp_scheduler_t *core, const wp_config_t *config)
{
    wp_store_t *store = wp_ctx_store (ctx);
    if (!store)
        return;
    s_pins_t walk = { .core = core, .config = config, .stale = zlistx_new () };
    assert (walk.stale);
    zlistx_set_destructor (walk.stale, s_free_item);
    if (wp_store_iterate (store, PINS_DB, s_pin_record, &walk) < 0)
        zsys_warning ("scheduler: the stored operator pins cannot be read");
    for (char *name = (char *) zlistx_first (walk.stale); name;
         name = (char *) zlistx_next (walk.stale))
        wp_store_del (store, PINS_DB, name, strlen (name));
    if (zlistx_size (walk.stale))
        wp_store_flush (store);
    zlistx_destroy (&walk.stale);
}

//  Build the state.
static void *
s_create (wp_ctx_t *ctx)
{
    const wp_config_t *config = wp_ctx_config (ctx);
    if (wp_ctx_replay (ctx)) {
        //  The simulated world's settings (as warmup-eval's predictive),
        //  and the wake-ups the clock drives.
        wp_scheduler_opts_t opts;
        wp_scheduler_opts_sim (&opts, config->max_memory_mb, config->prediction_threshold);
        opts.ttl_s = config->prediction_cache_ttl_seconds;
        opts.horizon_s = config->prediction_horizon_seconds;
        opts.default_memory_mb = config->default_memory_mb;
        opts.default_load_ms = config->default_load_ms;
        opts.background = config->background_warmup_enabled;
        sched_t *self = (sched_t *) zmalloc (sizeof (sched_t));
        assert (self);
        self->config = config;
        self->core = wp_scheduler_new (&opts);
        s_configure (self->core, NULL, config);
        self->timers = (s_timers_t *) zmalloc (sizeof (s_timers_t));
        assert (self->timers);
        self->timers->armed = -1;
        self->timers->load_end = zhashx_new ();
        assert (self->timers->load_end);
        zhashx_set_destructor (self->timers->load_end, s_free_item);
        s_hosted_start (self, config);
        return self;
    }
    wp_scheduler_opts_t opts = {
        .max_warm_models = config->max_warm_models,
        .max_memory_mb = config->max_memory_mb,
        .threshold = config->prediction_threshold,
        .hysteresis = WP_SCHEDULER_HYSTERESIS,
        .ttl_s = config->prediction_cache_ttl_seconds,
        .background = config->background_warmup_enabled,
        .default_memory_mb = config->default_memory_mb,
        .default_load_ms = config->default_load_ms,
        .horizon_s = config->prediction_horizon_seconds,
        .hysteresis_ms = HYSTERESIS_MS,
        .min_hold_ms = MIN_HOLD_MS,
    };
    sched_t *self = (sched_t *) zmalloc (sizeof (sched_t));
    assert (self);
    self->core = wp_scheduler_new (&opts);
    s_configure (self->core, NULL, config);
    //  Memory as measured: the budgets known now, the devices unknown
    self->memory.memory_auto = config->max_memory_auto;
    self->memory.vram_auto = config->max_vram_auto;
    self->memory.max_vram_mb = config->max_vram_auto ? 0 : config->max_vram_mb;
    wp_scheduler_memory (self->core, &self->memory);
    s_pins_walk (ctx, self->core, config);
    s_hosted_start (self, config);
    return self;
}

//  Destroy the state.
static void
s_destroy (void **state_p)
{
    sched_t *self = (sched_t *) *state_p;
    if (self) {
        s_hosted_stop (&self->hosted);
        wp_scheduler_destroy (&self->core);
        zhashx_destroy (&self->synced);
        zhashx_destroy (&self->in_flight);
        if (self->timers)
            zhashx_destroy (&self->timers->load_end);
        if (self->window) {
            s_window_t *window = self->window;
            for (size_t i = 0; i < window->count; i++) {
                s_usage_t *usage = &window->fifo [(window->head + i) % window->cap];
                free (usage->model);
                free (usage->user);
                free (usage->source);
            }
            free (window->fifo);
            free (window->cause_source);
            free (window->cause_user);
            wp_simworld_destroy (&window->world);
            free (window);
        }
        free (self->timers);
        free (self);
        *state_p = NULL;
    }
}

//  Publish one decision made at now (by windows: with its cause).
static int
s_publish (sched_t *sched, wp_ctx_t *ctx, const wp_decision_t *decision, uint64_t now)
{
    Warmup__V1__WarmupRequested out = WARMUP__V1__WARMUP_REQUESTED__INIT;
    Warmup__V1__Header cause = WARMUP__V1__HEADER__INIT;
    if (sched->window) {
        if (sched->window->cause_seq) {
            cause.source = sched->window->cause_source;
            cause.seq = sched->window->cause_seq;
            out.cause = &cause;
        }
        out.cause_phase = sched->window->phase;
    }
    out.event_ms = now;
    out.model = (char *) decision->model;
    out.action = decision->action == WP_ACTION_WARM
               ? WARMUP__V1__ACTION__ACTION_WARM : WARMUP__V1__ACTION__ACTION_COOL;
    out.priority = (Warmup__V1__Priority) decision->priority;
    out.deadline_ms = decision->deadline_ms;
    out.reason = (char *) decision->reason;
    out.expected_benefit_ms = decision->benefit_ms;
    out.memory_mb = decision->memory_mb;
    out.vram_mb = decision->vram_mb;
    char device [16] = "";
    if (decision->device)
        wp_device_name (decision->device, device, sizeof device);
    out.device = device;
    if (wp_ctx_verbose (ctx))
        zsys_info ("scheduler: %s %s: %s", decision->action == WP_ACTION_WARM ? "warm" : "cool",
                   decision->model, decision->reason);
    return wp_ctx_publish (ctx, WP_TOPIC_WARMUP_REQUEST, &out.base);
}

//  Answer a room.request with the models unloaded for it.
static int
s_room_reply (wp_ctx_t *ctx, const Warmup__V1__RoomRequest *in, char **victims, size_t n)
{
    Warmup__V1__RoomReply out = WARMUP__V1__ROOM_REPLY__INIT;
    out.event_ms = in->event_ms;
    out.request_source = in->header->source;
    out.request_seq = in->header->seq;
    out.n_victims = n;
    out.victims = victims;
    return wp_ctx_publish (ctx, WP_TOPIC_ROOM_REPLY, &out.base);
}

//  --- Another policy than the core's (wp_scheduler_policy.h) -------------

//  An act of the policy: kept until handled.
static void
s_hosted_act (void *arg, const char *model, wp_policy_act_t act, int64_t time)
{
    s_hosted_t *hosted = (s_hosted_t *) arg;
    if (hosted->n_acts == hosted->cap_acts) {
        hosted->cap_acts = hosted->cap_acts ? 2 * hosted->cap_acts : 16;
        hosted->acts = (s_act_t *) realloc (hosted->acts, hosted->cap_acts * sizeof (s_act_t));
        assert (hosted->acts);
    }
    s_act_t *item = &hosted->acts [hosted->n_acts++];
    item->model = strdup (model);
    assert (item->model);
    item->act = act;
    item->time = time;
}

//  Publish the acts kept (room made live: cools too), oldest first.
static int
s_hosted_publish (sched_t *sched, wp_ctx_t *ctx)
{
    s_hosted_t *hosted = &sched->hosted;
    const char *name = wp_scheduler_policy_name (hosted->policy);
    int rc = 0;
    for (size_t i = 0; i < hosted->n_acts; i++) {
        s_act_t *item = &hosted->acts [i];
        wp_decision_t decision = {
            .model = item->model, .priority = 2,
            .action = item->act == WP_POLICY_WARM ? WP_ACTION_WARM : WP_ACTION_COOL,
            .memory_mb = wp_config_model_memory_mb (wp_ctx_config (ctx), item->model),
        };
        snprintf (decision.reason, sizeof decision.reason, "policy %s: %s", name,
                  item->act == WP_POLICY_WARM ? "pre-warm"
                  : item->act == WP_POLICY_ROOM ? "room for a cold start" : "unload");
        if (s_publish (sched, ctx, &decision, (uint64_t) item->time))
            rc = -1;
        free (item->model);
    }
    hosted->n_acts = 0;
    return rc;
}

//  Stop running another policy.
static void
s_hosted_stop (s_hosted_t *hosted)
{
    wp_scheduler_policy_destroy (&hosted->policy);
    for (size_t i = 0; i < hosted->n_acts; i++)
        free (hosted->acts [i].model);
    free (hosted->acts);
    free (hosted->served_model);
    memset (hosted, 0, sizeof *hosted);
}

//  Run the configuration's policy if it is not the core's; -1 if it
//  cannot run (the core's runs then, and the reason is logged).
static int
s_hosted_start (sched_t *sched, const wp_config_t *config)
{
    s_hosted_stop (&sched->hosted);
    if (streq (config->policy, "builtin"))
        return 0;
    char error [600];
    sched->hosted.policy = wp_scheduler_policy_new (config->policy, config, error,
                                                    sizeof error);
    if (!sched->hosted.policy) {
        zsys_error ("scheduler: %s; the built-in policy runs", error);
        return -1;
    }
    wp_scheduler_policy_acts (sched->hosted.policy, s_hosted_act, &sched->hosted);
    zsys_info ("scheduler: runs policy %s", wp_scheduler_policy_name (sched->hosted.policy));
    return 0;
}

//  A request: the policy serves it, and what it did goes out. In a replay
//  by rounds, a request that needed room was served at its room.request.
static int
s_hosted_usage (sched_t *sched, wp_ctx_t *ctx, const Warmup__V1__UsageObserved *in)
{
    s_hosted_t *hosted = &sched->hosted;
    if (!in->model || !*in->model || !in->user) {
        wp_ctx_count_rejected (ctx);
        return -1;
    }
    uint64_t now = in->event_ms ? in->event_ms : wp_ctx_now_ms (ctx);
    if (hosted->served_model) {
        bool served = streq (hosted->served_model, in->model) && hosted->served_ms == now;
        zstr_free (&hosted->served_model);
        if (served)
            return s_hosted_publish (sched, ctx);
    }
    if (wp_scheduler_policy_request (hosted->policy, (int64_t) now, in->user, in->model) < 0)
        zsys_error ("scheduler: policy %s failed on a request for %s",
                    wp_scheduler_policy_name (hosted->policy), in->model);
    return s_hosted_publish (sched, ctx);
}

//  A replay by rounds: a cold start short of memory. The policy serves the
//  request now (its user is not known yet: the usage follows); the room it
//  made is the answer, its other acts go out with the usage.
static int
s_hosted_room (sched_t *sched, wp_ctx_t *ctx, const Warmup__V1__RoomRequest *in)
{
    s_hosted_t *hosted = &sched->hosted;
    zstr_free (&hosted->served_model);
    hosted->served_model = strdup (in->model);
    assert (hosted->served_model);
    hosted->served_ms = in->event_ms;
    if (wp_scheduler_policy_request (hosted->policy, (int64_t) in->event_ms, "",
                                     in->model) < 0)
        zsys_error ("scheduler: policy %s failed on a request for %s",
                    wp_scheduler_policy_name (hosted->policy), in->model);
    char **victims = (char **) zmalloc ((hosted->n_acts + 1) * sizeof (char *));
    assert (victims);
    size_t n = 0, kept = 0;
    for (size_t i = 0; i < hosted->n_acts; i++)
        if (hosted->acts [i].act == WP_POLICY_ROOM)
            victims [n++] = hosted->acts [i].model;
        else
            hosted->acts [kept++] = hosted->acts [i];
    hosted->n_acts = kept;
    int rc = s_room_reply (ctx, in, victims, n);
    for (size_t i = 0; i < n; i++)
        free (victims [i]);
    free (victims);
    return rc;
}

//  Time passes: the policy's timers due fire, what they did goes out.
static int
s_hosted_advance (sched_t *sched, wp_ctx_t *ctx, uint64_t now)
{
    if (wp_scheduler_policy_advance (sched->hosted.policy, (int64_t) now) < 0)
        zsys_error ("scheduler: policy %s failed on a timer",
                    wp_scheduler_policy_name (sched->hosted.policy));
    return s_hosted_publish (sched, ctx);
}

static int s_window_apply (sched_t *sched, wp_ctx_t *ctx, const wp_decision_t *decision,
                           uint64_t now);

//  Live: publish the deferrals that changed (warmup.deferred).
static int
s_deferrals (sched_t *sched, wp_ctx_t *ctx, uint64_t now)
{
    wp_scheduler_deferral_t deferrals [DECISIONS_MAX];
    int rc = 0;
    size_t n;
    do {
        n = wp_scheduler_deferrals (sched->core, deferrals, DECISIONS_MAX);
        for (size_t i = 0; i < n; i++) {
            const wp_scheduler_deferral_t *d = &deferrals [i];
            Warmup__V1__WarmupDeferred out = WARMUP__V1__WARMUP_DEFERRED__INIT;
            char device [16];
            out.event_ms = now;
            out.model = (char *) d->model;
            out.waits = d->waits;
            out.reason = (char *) d->reason;
            out.memory_mb = d->memory_mb;
            wp_device_name (d->device, device, sizeof device);
            out.device = device;
            if (d->waits || wp_ctx_verbose (ctx))
                zsys_info ("scheduler: %s %s: %s", d->model, d->waits ? "waits" : "no longer "
                           "waits", d->reason);
            if (wp_ctx_publish (ctx, WP_TOPIC_WARMUP_DEFERRED, &out.base))
                rc = -1;
        }
    } while (n == DECISIONS_MAX);
    return rc;
}

//  Decide and publish the decisions.
static int
s_decide (sched_t *sched, wp_ctx_t *ctx, uint64_t now)
{
    wp_scheduler_t *self = sched->core;
    s_timers_t *timers = sched->timers;
    wp_decision_t decisions [DECISIONS_MAX];
    int rc = 0;
    size_t n;
    do {
        n = wp_scheduler_decide (self, now, decisions, DECISIONS_MAX);
        for (size_t i = 0; i < n; i++) {
            uint64_t load_end;
            if (sched->window) {
                if (s_window_apply (sched, ctx, &decisions [i], now))
                    rc = -1;
                continue;
            }
            if (timers && decisions [i].action == WP_ACTION_COOL
                && s_resident (timers, decisions [i].model, &load_end) && now < load_end) {
                //  Replay: still loading; the cool waits for the load's end.
                s_timer_push (timers, load_end, TOKEN_COOL, &decisions [i]);
                continue;
            }
            if (s_publish (sched, ctx, &decisions [i], now))
                rc = -1;
        }
    } while (timers && n == DECISIONS_MAX);     //  replay: all of them now
    if (!timers && s_deferrals (sched, ctx, now))
        rc = -1;
    if (timers) {
        //  Replay: a wake-up at the next plan boundary.
        uint64_t next = wp_scheduler_next_ms (self);
        if (next != UINT64_MAX) {
            int64_t at = next < now ? (int64_t) now : (int64_t) next;
            if (timers->armed < 0 || timers->armed > at) {
                timers->armed = at;
                s_timer_push (timers, (uint64_t) at, TOKEN_DECIDE, NULL);
            }
        }
    }
    return rc;
}

//  Names of model states for people.
static const char *
s_state_name (wp_model_state_t state)
{
    return state == WP_MODEL_WARM ? "warm" : state == WP_MODEL_WARMING ? "loading"
         : state == WP_MODEL_COOLING ? "cooling" : "cold";
}

//  Order listings by model name.
static int
s_by_name (const void *a, const void *b)
{
    return strcmp (((const wp_scheduler_info_t *) a)->model,
                   ((const wp_scheduler_info_t *) b)->model);
}

//  Answer models: every model with its state and last decision, as many as
//  fit in one frame.
static int
s_list (wp_scheduler_t *self, wp_ctx_t *ctx, Warmup__V1__ControlReply *reply)
{
    const wp_config_t *config = wp_ctx_config (ctx);
    uint64_t now = wp_ctx_now_ms (ctx);
    size_t total = wp_scheduler_list (self, now, NULL, 0);
    size_t n = total < LISTED_MAX ? total : LISTED_MAX;
    wp_scheduler_info_t *infos = (wp_scheduler_info_t *) calloc (n + 1, sizeof *infos);
    Warmup__V1__ModelState *states = (Warmup__V1__ModelState *) calloc (n + 1, sizeof *states);
    Warmup__V1__ModelState **pointers = (Warmup__V1__ModelState **) calloc (n + 1,
                                                                  sizeof *pointers);
    char (*devices) [16] = (char (*) [16]) calloc (n + 1, 16);
    assert (infos && states && pointers && devices);
    wp_scheduler_list (self, now, infos, n);
    qsort (infos, n, sizeof *infos, s_by_name);
    for (size_t i = 0; i < n; i++) {
        const wp_scheduler_info_t *info = &infos [i];
        Warmup__V1__ModelState *out = &states [i];
        warmup__v1__model_state__init (out);
        out->model = (char *) info->model;
        out->state = (char *) s_state_name (info->state);
        out->pinned = info->pinned;
        out->pin_source = (char *) info->pin_source;
        out->preload = info->preload;
        out->priority = (Warmup__V1__Priority) info->priority;
        out->memory_mb = info->memory_mb;
        out->last_use_ms = info->last_use_ms;
        out->probability = info->probability;
        out->demand = info->demand;
        out->value = isfinite (info->value) ? info->value : 0;
        out->last_action = info->last_action == WP_ACTION_WARM
                         ? WARMUP__V1__ACTION__ACTION_WARM
                         : info->last_action == WP_ACTION_COOL
                         ? WARMUP__V1__ACTION__ACTION_COOL
                         : WARMUP__V1__ACTION__ACTION_UNSPECIFIED;
        out->last_decision_ms = info->last_decision_ms;
        out->last_reason = (char *) info->last_reason;
        out->group = (char *) info->group;
        out->min_keep_seconds = (uint32_t) (info->min_keep_ms / 1000);
        out->configured = wp_config_model (config, info->model) != NULL;
        out->device = devices [i];
        wp_device_name (info->device, devices [i], sizeof devices [i]);
        out->configured_mb = info->configured_mb;
        out->learned_mb = info->learned_mb;
        out->vram_mb = info->vram_mb;
        out->learned_from = (char *) info->learned_from;
        out->deferred = (char *) info->deferred;
        pointers [i] = out;
    }
    reply->models = pointers;
    reply->models_total = (uint32_t) total;
    //  As many as fit in a frame.
    reply->n_models = n;
    while (reply->n_models
           && protobuf_c_message_get_packed_size (&reply->base) + 256 > config->max_frame_bytes)
        reply->n_models = reply->n_models * 3 / 4;
    char message [128];
    snprintf (message, sizeof message, "%zu of %zu models", reply->n_models, total);
    reply->message = message;
    int rc = wp_ctx_publish (ctx, WP_TOPIC_CONTROL_REPLY, &reply->base);
    free (infos);
    free (states);
    free (pointers);
    free (devices);
    return rc;
}

//  True for a model name as configs allow it.
static bool
s_model_name_ok (const char *name)
{
    size_t length = strlen (name);
    return length <= 200
        && strspn (name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789._:/@+-") == length;
}

//  An operator's command.
static int
s_on_control (sched_t *sched, wp_ctx_t *ctx, const Warmup__V1__ControlRequest *in)
{
    wp_scheduler_t *self = sched->core;
    Warmup__V1__ControlReply reply = WARMUP__V1__CONTROL_REPLY__INIT;
    reply.event_ms = wp_ctx_now_ms (ctx);
    reply.command = in->command;
    reply.request_id = in->request_id ? in->request_id : (char *) "";
    reply.cause = in->header;
    reply.component = (char *) "scheduler";
    char message [300] = "", error [300] = "";
    if (in->command == WARMUP__V1__COMMAND__COMMAND_MODELS) {
        reply.ok = true;
        return s_list (self, ctx, &reply);
    }
    if (in->command == WARMUP__V1__COMMAND__COMMAND_PIN
        || in->command == WARMUP__V1__COMMAND__COMMAND_UNPIN) {
        bool pin = in->command == WARMUP__V1__COMMAND__COMMAND_PIN;
        if (!in->model || !*in->model || !s_model_name_ok (in->model)) {
            wp_ctx_count_rejected (ctx);
            snprintf (error, sizeof error, "a model name is needed (letters, digits, ._:/@+-)");
        }
        else
        if (wp_scheduler_pin (self, in->model, pin, error, sizeof error) == 0) {
            reply.ok = true;
            snprintf (message, sizeof message, "%s %s (kept over restarts until the "
                      "configuration changes its pin key)", in->model,
                      pin ? "pinned" : "unpinned");
            s_pin_keep (ctx, in->model, pin);
            zsys_info ("scheduler: %s by %s (%s)", message,
                       in->principal && *in->principal ? in->principal : "?",
                       in->header->source);
        }
        reply.message = message;
        reply.error = error;
        int rc = wp_ctx_publish (ctx, WP_TOPIC_CONTROL_REPLY, &reply.base);
        //  A pin warms at once.
        return s_decide (sched, ctx, wp_ctx_now_ms (ctx)) || rc ? -1 : 0;
    }
    return 0;       //  reload: for the process that owns the configuration
}

//  --- Replay by windows --------------------------------------------------------

//  May the model be unloaded for room now (the mirror: resident, loaded)?
static bool
s_window_can (const char *model, void *arg)
{
    s_window_t *window = ((sched_t *) arg)->window;
    return wp_simworld_idle (window->world, model, window->clock_now);
}

//  Unload held models of lowest value until need_mb is free, as
//  warmup-eval's predictive does (s_free): each is a cool, published. 0
//  if it is free, -1 if it cannot be made free.
static int
s_window_free (sched_t *sched, wp_ctx_t *ctx, const char *model, int64_t need_mb,
               uint64_t now)
{
    s_window_t *window = sched->window;
    window->clock_now = now;
    while (wp_simworld_free_mb (window->world) < need_mb) {
        const char *victim = wp_scheduler_victim (sched->core, now, model, s_window_can, sched);
        if (!victim)
            return -1;
        wp_simworld_unload (window->world, victim, now);
        wp_scheduler_done (sched->core, victim, WP_ACTION_COOL, true);
        wp_decision_t cool;
        memset (&cool, 0, sizeof cool);
        cool.model = victim;
        cool.action = WP_ACTION_COOL;
        cool.priority = 2;
        cool.memory_mb = wp_simworld_memory_mb (window->world, victim);
        snprintf (cool.reason, sizeof cool.reason, "lowest value: room for %s", model);
        if (s_publish (sched, ctx, &cool, now))
            return -1;
    }
    return 0;
}

//  Apply one decision to the mirror at once and publish it, as
//  warmup-eval's predictive applies its scheduler's decisions (s_enact).
static int
s_window_apply (sched_t *sched, wp_ctx_t *ctx, const wp_decision_t *decision, uint64_t now)
{
    s_window_t *window = sched->window;
    wp_simworld_t *world = window->world;
    if (decision->action == WP_ACTION_COOL) {
        uint64_t load_end;
        if (wp_simworld_unload (world, decision->model, now) < 0
            && wp_simworld_resident (world, decision->model, &load_end)) {
            //  Still loading: the cool waits for the load's end.
            s_timer_push (sched->timers, load_end, TOKEN_COOL, decision);
            return 0;
        }
        wp_scheduler_done (sched->core, decision->model, WP_ACTION_COOL, true);
        return s_publish (sched, ctx, decision, now);
    }
    int rc = 0;
    if (!wp_simworld_resident (world, decision->model, NULL)) {
        int64_t need = wp_simworld_memory_mb (world, decision->model);
        if (wp_simworld_free_mb (world) >= need
            || s_window_free (sched, ctx, decision->model, need, now) == 0)
            wp_simworld_load (world, decision->model, now, true);
    }
    bool ok = wp_simworld_resident (world, decision->model, NULL);
    if (ok)
        rc = s_publish (sched, ctx, decision, now);
    wp_scheduler_done (sched->core, decision->model, WP_ACTION_WARM, ok);
    return rc;
}

//  Fire the timers due by limit, in (time, order set) order, as
//  warmup-eval fires predictive's: a cool waiting for a load (if the model
//  is still cooling), then a decision; a wake-up, a decision.
static int
s_window_fire (sched_t *sched, wp_ctx_t *ctx, uint64_t limit)
{
    s_timers_t *timers = sched->timers;
    s_window_t *window = sched->window;
    int rc = 0;
    while (timers->size && timers->heap [0].time <= limit) {
        s_timer_t timer = s_timer_pop (timers);
        window->phase = WARMUP__V1__PHASE__PHASE_TIMER;
        if (timer.token == TOKEN_COOL) {
            if (wp_scheduler_state (sched->core, timer.cool.model) != WP_MODEL_COOLING)
                continue;
            wp_simworld_unload (window->world, timer.cool.model, timer.time);
            wp_scheduler_done (sched->core, timer.cool.model, WP_ACTION_COOL, true);
            if (s_publish (sched, ctx, &timer.cool, timer.time))
                rc = -1;
        }
        else
        if (timer.token == TOKEN_DECIDE && timers->armed == (int64_t) timer.time)
            timers->armed = -1;
        if (s_decide (sched, ctx, timer.time))
            rc = -1;
    }
    return rc;
}

//  Serve one request on the mirror, as warmup-eval's world: the timers due
//  by then first; absent, a cold start, with room made from the held
//  models of lowest value, then least recently used (or none: it is not
//  kept). Its decisions come with its prediction.
static int
s_window_serve (sched_t *sched, wp_ctx_t *ctx, s_usage_t *usage)
{
    s_window_t *window = sched->window;
    wp_simworld_t *world = window->world;
    int rc = s_window_fire (sched, ctx, usage->time);
    free (window->cause_source);
    free (window->cause_user);
    window->cause_source = usage->source;
    window->cause_user = usage->user;
    window->cause_seq = usage->seq;
    window->phase = WARMUP__V1__PHASE__PHASE_ROOM;
    uint64_t t = usage->time;
    if (!wp_simworld_resident (world, usage->model, NULL)) {
        int64_t need = wp_simworld_memory_mb (world, usage->model);
        int64_t budget = (int64_t) wp_simworld_budget_mb (world);
        if (budget && wp_simworld_free_mb (world) < need)
            s_window_free (sched, ctx, usage->model, need, t);     //  what it can
        if (wp_simworld_admit (world, usage->model, t))
            wp_scheduler_resident (sched->core, usage->model, true, t);
    }
    wp_simworld_touch (world, usage->model, t);
    free (usage->model);
    window->phase = WARMUP__V1__PHASE__PHASE_SERVED;
    window->awaiting = true;
    return rc;
}

//  Serve what may be served: requests in order, each after the previous
//  one's prediction; when none waits, the timers due by the latest tick.
static int
s_window_pump (sched_t *sched, wp_ctx_t *ctx)
{
    s_window_t *window = sched->window;
    int rc = 0;
    while (!window->awaiting && window->count) {
        s_usage_t usage = window->fifo [window->head];
        window->head = (window->head + 1) % window->cap;
        window->count--;
        if (s_window_serve (sched, ctx, &usage))
            rc = -1;
    }
    if (!window->awaiting && !window->count && s_window_fire (sched, ctx, window->clock_ms))
        rc = -1;
    return rc;
}

//  A request arrived: queue it and serve what may be served.
static int
s_window_usage (sched_t *sched, wp_ctx_t *ctx, const Warmup__V1__UsageObserved *in)
{
    s_window_t *window = sched->window;
    if (!in->model || !*in->model || !in->user || !*in->user || !in->header
        || !in->header->source) {
        wp_ctx_count_rejected (ctx);
        return -1;
    }
    if (window->count == FIFO_MAX) {
        zsys_error ("scheduler: more than %d requests waiting (replay by windows)", FIFO_MAX);
        return -1;
    }
    if (window->count == window->cap) {
        size_t cap = window->cap ? 2 * window->cap : 1024;
        s_usage_t *fifo = (s_usage_t *) malloc (cap * sizeof (s_usage_t));
        assert (fifo);
        for (size_t i = 0; i < window->count; i++)
            fifo [i] = window->fifo [(window->head + i) % window->cap];
        free (window->fifo);
        window->fifo = fifo;
        window->head = 0;
        window->cap = cap;
    }
    s_usage_t *usage = &window->fifo [(window->head + window->count++) % window->cap];
    usage->model = strdup (in->model);
    usage->user = strdup (in->user);
    usage->source = strdup (in->header->source);
    assert (usage->model && usage->user && usage->source);
    usage->time = in->event_ms;
    usage->seq = in->header->seq;
    return s_window_pump (sched, ctx);
}

//  Start a replay by windows: the mirror of the world, empty.
static void
s_window_start (sched_t *sched)
{
    const wp_config_t *config = sched->config;
    s_window_t *window = (s_window_t *) zmalloc (sizeof (s_window_t));
    assert (window);
    window->world = wp_simworld_new (config->max_memory_mb, config->default_memory_mb,
                                     config->default_load_ms);
    for (size_t i = 0; i < config->n_models; i++)
        wp_simworld_model (window->world, config->models [i].name,
                           config->models [i].memory_mb, config->models [i].load_ms);
    sched->window = window;
}

//  Replay mode: a room.request being answered.
typedef struct {
    const Warmup__V1__RoomRequest *in;  //  the request
    bool *chosen;                       //  per idle model: picked already
} s_room_t;

//  Replay mode: may the model be unloaded for room now? As warmup-eval's
//  predictive asks its world: resident with its load ended (the world's
//  idle list), and not picked already.
static bool
s_room_can (const char *model, void *arg)
{
    s_room_t *room = (s_room_t *) arg;
    for (size_t i = 0; i < room->in->n_idle; i++)
        if (streq (room->in->idle [i]->model, model))
            return !room->chosen [i];
    return false;
}

//  Replay mode: a cold start short of memory. Pick victims of lowest
//  value until the model fits, record them as cooled (as warmup-eval's
//  predictive does in make_room), and answer with them.
static int
s_on_room (sched_t *sched, wp_ctx_t *ctx, const Warmup__V1__RoomRequest *in)
{
    if (!in->model || !*in->model || !in->header || !in->header->source
        || in->n_idle > ROOM_IDLE_MAX) {
        wp_ctx_count_rejected (ctx);
        return -1;
    }
    for (size_t i = 0; i < in->n_idle; i++)
        if (!in->idle [i]->model || !*in->idle [i]->model) {
            wp_ctx_count_rejected (ctx);
            return -1;
        }
    if (sched->hosted.policy)
        return s_hosted_room (sched, ctx, in);
    s_room_t room = { in, (bool *) zmalloc (in->n_idle + 1) };
    assert (room.chosen);
    char **victims = (char **) zmalloc ((in->n_idle + 1) * sizeof (char *));
    assert (victims);
    size_t n = 0;
    int64_t free_mb = in->free_mb;
    while (free_mb < (int64_t) in->need_mb) {
        const char *victim = wp_scheduler_victim (sched->core, in->event_ms, in->model,
                                                  s_room_can, &room);
        if (!victim)
            break;
        for (size_t i = 0; i < in->n_idle; i++)
            if (streq (in->idle [i]->model, victim)) {
                room.chosen [i] = true;
                free_mb += in->idle [i]->memory_mb;
                break;
            }
        victims [n++] = (char *) victim;
        zhashx_delete (sched->timers->load_end, victim);
        if (wp_ctx_verbose (ctx))
            zsys_info ("scheduler: cool %s: room for %s", victim, in->model);
        wp_scheduler_done (sched->core, victim, WP_ACTION_COOL, true);
    }
    int rc = s_room_reply (ctx, in, victims, n);
    free (victims);
    free (room.chosen);
    return rc;
}

//  Live: the devices and budgets as the resource manager measured them.
static void
s_on_memory (sched_t *sched, wp_ctx_t *ctx, const Warmup__V1__ResourceStatus *in)
{
    const wp_config_t *config = wp_ctx_config (ctx);
    wp_scheduler_memory_t memory;
    memset (&memory, 0, sizeof memory);
    memory.memory_auto = config->max_memory_auto;
    memory.vram_auto = config->max_vram_auto;
    memory.max_vram_mb = config->max_vram_auto ? in->vram_budget_mb : config->max_vram_mb;
    for (size_t i = 0; i < in->n_devices; i++) {
        const Warmup__V1__DeviceMemory *d = in->devices [i];
        if (!d->device)
            continue;
        if (streq (d->device, "ram")) {
            memory.ram_measured = true;
            memory.ram_capacity_mb = d->capacity_mb;
            continue;
        }
        int index = strncmp (d->device, "gpu", 3) == 0 && isdigit ((unsigned char) d->device [3])
                  ? atoi (d->device + 3) : -1;
        if (index < 0 || index >= WP_SCHEDULER_GPUS || !d->managed)
            continue;
        memory.gpus_measured = true;
        memory.gpus_capacity_mb += d->capacity_mb;
        memory.gpu_read |= 1u << index;
        memory.gpu_capacity_mb [index] = d->capacity_mb;
    }
    //  The GPU budget when auto is what they leave: unknown until read
    if (config->max_vram_auto && !memory.gpus_measured)
        memory.max_vram_mb = 0;
    if (memcmp (&memory, &sched->memory, sizeof memory) != 0) {
        sched->memory = memory;
        wp_scheduler_memory (sched->core, &memory);
    }
    //  An auto RAM budget is the max_memory_mb the scheduler plans in
    if (config->max_memory_auto && in->budget_mb && in->budget_mb != sched->ram_budget_mb) {
        sched->ram_budget_mb = in->budget_mb;
        wp_scheduler_limits (sched->core, config->max_warm_models, in->budget_mb,
                             config->background_warmup_enabled);
    }
}

//  One event.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    sched_t *sched = (sched_t *) state;
    wp_scheduler_t *self = sched->core;
    if (topic == WP_TOPIC_PREDICTION && sched->hosted.policy)
        return 0;               //  another policy decides
    if (topic == WP_TOPIC_USAGE && sched->hosted.policy && !sched->window)
        return s_hosted_usage (sched, ctx, (const Warmup__V1__UsageObserved *) msg);
    if (topic == WP_TOPIC_PREDICTION) {
        const Warmup__V1__PredictionMade *in = (const Warmup__V1__PredictionMade *) msg;
        uint64_t user;
        if (!in->user || wp_user_id_parse (in->user, &user)) {
            wp_ctx_count_rejected (ctx);
            return -1;
        }
        wp_prediction_t predictions [PREDICTIONS_MAX];
        size_t n = wp_prediction_wire_read (in, predictions, PREDICTIONS_MAX);
        uint64_t now = in->event_ms ? in->event_ms : wp_ctx_now_ms (ctx);
        s_window_t *window = sched->window;
        bool served = window && window->awaiting && in->cause && in->cause->source
                   && in->cause->seq == window->cause_seq
                   && streq (in->cause->source, window->cause_source);
        if (window && !served && wp_log_should (++window->mismatched))
            zsys_error ("scheduler: a prediction for another request than the one served "
                        "(replay by windows: the numbers will not be exact)");
        wp_scheduler_predictions (self, user, predictions, n, now);
        int rc = s_decide (sched, ctx, now);
        if (served) {
            window->awaiting = false;
            if (s_window_pump (sched, ctx))
                rc = -1;
        }
        return rc;
    }
    if (topic == WP_TOPIC_WARMUP_DONE) {
        const Warmup__V1__WarmupDone *in = (const Warmup__V1__WarmupDone *) msg;
        if (!in->model || !*in->model)
            return -1;
        if (sched->window)
            return 0;       //  by windows: applied when decided, as warmup-eval
        if (sched->hosted.policy && !in->ok && in->action == WARMUP__V1__ACTION__ACTION_WARM)
            wp_scheduler_policy_gone (sched->hosted.policy, in->model);
        uint64_t load_end;
        if (sched->timers && in->ok && in->action == WARMUP__V1__ACTION__ACTION_WARM
            && !s_resident (sched->timers, in->model, &load_end)) {
            uint64_t now = in->event_ms ? in->event_ms : wp_ctx_now_ms (ctx);
            s_loaded (sched->timers, in->model,
                      now + wp_config_model_load_ms (wp_ctx_config (ctx), in->model));
        }
        else
        if (sched->timers && in->ok && in->action == WARMUP__V1__ACTION__ACTION_COOL)
            zhashx_delete (sched->timers->load_end, in->model);
        wp_scheduler_done (self, in->model,
                           in->action == WARMUP__V1__ACTION__ACTION_COOL
                           ? WP_ACTION_COOL : WP_ACTION_WARM, in->ok);
        return 0;
    }
    if (topic == WP_TOPIC_PERF) {
        const Warmup__V1__PerfEstimate *in = (const Warmup__V1__PerfEstimate *) msg;
        if (!in->model || !*in->model || !s_model_name_ok (in->model))
            return 0;
        if (in->samples > 0 && in->load_ms_p90 > 0 && in->load_ms_p90 < 86400000.0)
            wp_scheduler_model (self, in->model, 0, (uint32_t) in->load_ms_p90);
        //  What it really takes, once learned, instead of the guess
        if (in->learned_mb && in->learned_from && *in->learned_from && !sched->timers)
            wp_scheduler_learned (self, in->model, in->learned_mb, in->learned_vram_mb,
                                  in->learned_from);
        return 0;
    }
    if (topic == WP_TOPIC_USAGE && sched->window)
        return s_window_usage (sched, ctx, (const Warmup__V1__UsageObserved *) msg);
    if (topic == WP_TOPIC_USAGE) {
        //  Replay mode: a request that loaded its model on demand (a cold
        //  start) made it resident; it is held under the plans.
        const Warmup__V1__UsageObserved *in = (const Warmup__V1__UsageObserved *) msg;
        if (in->outcome == WARMUP__V1__OUTCOME__OUTCOME_COLD && in->model && *in->model
            && sched->timers) {
            uint64_t now = in->event_ms ? in->event_ms : wp_ctx_now_ms (ctx);
            wp_scheduler_resident (self, in->model, true, now);
            s_loaded (sched->timers, in->model,
                      now + wp_config_model_load_ms (wp_ctx_config (ctx), in->model));
        }
        return 0;
    }
    if (topic == WP_TOPIC_CONTROL)
        return s_on_control (sched, ctx, (const Warmup__V1__ControlRequest *) msg);
    if (topic == WP_TOPIC_ROOM_REQUEST && sched->timers)
        return s_on_room (sched, ctx, (const Warmup__V1__RoomRequest *) msg);
    if (topic == WP_TOPIC_RESOURCE) {
        const Warmup__V1__ResourceStatus *in = (const Warmup__V1__ResourceStatus *) msg;
        wp_scheduler_admit (self, in->admit);
        if (!sched->timers)
            s_on_memory (sched, ctx, in);
        return 0;
    }
    return 0;
}

//  Once a second: expire predictions, cool what is no longer wanted.
static int
s_on_tick (void *state, wp_ctx_t *ctx)
{
    sched_t *sched = (sched_t *) state;
    if (sched->hosted.policy)
        return sched->timers ? 0 : s_hosted_advance (sched, ctx, wp_ctx_now_ms (ctx));
    return s_decide (sched, ctx, wp_ctx_now_ms (ctx));
}

//  Replay mode: fire the first timer due by now_ms (the replayer ticks
//  again at the next one).
static int
s_on_clock (void *state, wp_ctx_t *ctx, uint64_t now_ms)
{
    sched_t *sched = (sched_t *) state;
    s_timers_t *timers = sched->timers;
    if (sched->hosted.policy) {
        if (wp_ctx_windowed (ctx) && !sched->window) {
            zsys_error ("scheduler: policy %s replays a round per request only "
                        "(warmupctl replay --per-request)",
                        wp_scheduler_policy_name (sched->hosted.policy));
            s_window_start (sched);
        }
        return s_hosted_advance (sched, ctx, now_ms);
    }
    if (wp_ctx_windowed (ctx) && !sched->window)
        s_window_start (sched);
    if (sched->window) {
        //  By windows: every timer due by now, once the requests before
        //  the tick are served.
        if (now_ms > sched->window->clock_ms)
            sched->window->clock_ms = now_ms;
        return s_window_pump (sched, ctx);
    }
    if (!timers->size || timers->heap [0].time > now_ms)
        return 0;
    s_timer_t timer = s_timer_pop (timers);
    if (timer.token == TOKEN_COOL) {
        //  As warmup-eval's predictive: the cool happens only if the model
        //  is still cooling, and then the scheduler decides again.
        if (wp_scheduler_state (sched->core, timer.cool.model) != WP_MODEL_COOLING)
            return 0;
        s_timer_push (timers, timer.time, TOKEN_ENACT, NULL);
        return s_publish (sched, ctx, &timer.cool, timer.time);
    }
    if (timer.token == TOKEN_DECIDE && timers->armed == (int64_t) timer.time)
        timers->armed = -1;
    return s_decide (sched, ctx, timer.time);
}

//  Replay by windows: requests wait to be served (or a prediction).
static bool
s_busy (void *state)
{
    s_window_t *window = ((sched_t *) state)->window;
    return window && (window->awaiting || window->count);
}

//  Replay mode: the next wake-up, 0 if none.
static uint64_t
s_next_ms (void *state)
{
    sched_t *sched = (sched_t *) state;
    if (sched->hosted.policy) {
        int64_t next = wp_scheduler_policy_next (sched->hosted.policy);
        return next < 0 ? 0 : next == 0 ? 1 : (uint64_t) next;
    }
    s_timers_t *timers = sched->timers;
    return timers && timers->size ? timers->heap [0].time : 0;
}

//  A reload: models added, removed or changed, new budgets. Predictions
//  and plans already received stay.
static void
s_on_config (void *state, wp_ctx_t *ctx, const wp_config_t *next)
{
    sched_t *sched = (sched_t *) state;
    wp_scheduler_t *self = sched->core;
    s_configure (self, wp_ctx_config (ctx), next);
    //  An operator's pin whose pin key the reload changed is replaced
    if (!sched->timers)
        s_pins_walk (ctx, NULL, next);
    if (!next->max_memory_auto)
        sched->ram_budget_mb = 0;
    //  A replay plays the simulated world: no model count
    //  (wp_scheduler_opts_sim), whatever the file says.
    wp_scheduler_limits (self, sched->timers ? UINT32_MAX : next->max_warm_models,
                         next->max_memory_auto ? sched->ram_budget_mb : next->max_memory_mb,
                         next->background_warmup_enabled);
    if (!sched->timers) {
        //  The budgets' kinds may have changed; the devices wait for the
        //  next resource.status
        sched->memory.memory_auto = next->max_memory_auto;
        sched->memory.vram_auto = next->max_vram_auto;
        if (!next->max_vram_auto)
            sched->memory.max_vram_mb = next->max_vram_mb;
        wp_scheduler_memory (self, &sched->memory);
    }
    //  Another policy, or the same with other models or budget: it starts
    //  afresh (what it learned is its own, in its world).
    const wp_config_t *running = wp_ctx_config (ctx);
    if (!streq (running->policy, next->policy) || (sched->hosted.policy
        && (running->max_memory_mb != next->max_memory_mb
            || running->n_models != next->n_models)))
        s_hosted_start (sched, next);
}

//  The queue's word for a state.
static wp_model_state_t
s_state_parse (const char *state)
{
    return streq (state, "warm") ? WP_MODEL_WARM
         : streq (state, "loading") ? WP_MODEL_WARMING
         : streq (state, "cooling") ? WP_MODEL_COOLING : WP_MODEL_COLD;
}

//  Resync from the queue's snapshot: each model it names is in the state
//  it says; at the end, any model believed warm, warming or cooling that
//  it did not name is cold. Decisions follow at the next tick.
static int
s_on_sync (void *state, wp_ctx_t *ctx, wp_sync_phase_t phase, const char *kind,
           const ProtobufCMessage *msg)
{
    sched_t *sched = (sched_t *) state;
    uint64_t now = wp_ctx_now_ms (ctx);
    if (phase == WP_SYNC_BEGIN) {
        zhashx_destroy (&sched->synced);
        zhashx_destroy (&sched->in_flight);
        sched->synced = zhashx_new ();
        sched->in_flight = zhashx_new ();
        size_t count = wp_scheduler_list (sched->core, now, NULL, 0);
        wp_scheduler_info_t *models = (wp_scheduler_info_t *) calloc (count + 1,
                                                                      sizeof *models);
        assert (models);
        count = wp_scheduler_list (sched->core, now, models, count);
        for (size_t i = 0; i < count; i++)
            if (models [i].last_action && models [i].last_decision_ms + INFLIGHT_MS > now)
                zhashx_update (sched->in_flight, models [i].model, (void *) "");
        free (models);
        return 0;
    }
    if (phase == WP_SYNC_ITEM && sched->synced && streq (kind, WP_SYNC_MODEL_STATE)) {
        const Warmup__V1__ModelState *item = (const Warmup__V1__ModelState *) msg;
        if (!item->model || !*item->model || !s_model_name_ok (item->model) || !item->state) {
            wp_ctx_count_rejected (ctx);
            return -1;
        }
        if (!zhashx_lookup (sched->in_flight, item->model))
            wp_scheduler_sync (sched->core, item->model, s_state_parse (item->state), now);
        zhashx_update (sched->synced, item->model, (void *) "");
        return 0;
    }
    if (phase == WP_SYNC_END && sched->synced) {
        size_t count = wp_scheduler_list (sched->core, now, NULL, 0);
        wp_scheduler_info_t *models = (wp_scheduler_info_t *) calloc (count + 1,
                                                                      sizeof *models);
        assert (models);
        count = wp_scheduler_list (sched->core, now, models, count);
        zlistx_t *gone = zlistx_new ();
        zlistx_set_destructor (gone, (zlistx_destructor_fn *) zstr_free);
        for (size_t i = 0; i < count; i++)
            if (models [i].state != WP_MODEL_COLD
                && !zhashx_lookup (sched->synced, models [i].model)
                && !zhashx_lookup (sched->in_flight, models [i].model))
                zlistx_add_end (gone, strdup (models [i].model));
        free (models);
        for (char *model = (char *) zlistx_first (gone); model;
             model = (char *) zlistx_next (gone))
            wp_scheduler_sync (sched->core, model, WP_MODEL_COLD, now);
        zlistx_destroy (&gone);
    }
    zhashx_destroy (&sched->synced);
    zhashx_destroy (&sched->in_flight);
    return 0;
}

const wp_component_def_t wp_scheduler_def = {
    .name = "scheduler",
    .title = "WarmupScheduler",
    .topics = { "prediction.made", "warmup.done", "perf.estimate",
                "resource.status", "control.request", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
    .on_tick = s_on_tick,
    .tick_ms = 1000,
    .replay_topics = { "usage.observed", "room.request", NULL },
    .on_clock = s_on_clock,
    .next_ms = s_next_ms,
    .on_config = s_on_config,
    .busy = s_busy,
    .sync_from = "queue",
    .on_sync = s_on_sync,
};
