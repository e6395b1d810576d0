/*  =========================================================================
    wp_policy_oracle - oracle: a clairvoyant reference (not a baseline)

    Source: EVAL.md section 4; the budget rule is Belady's MIN ("A study of
    replacement algorithms for a virtual-storage computer", IBM Systems
    Journal, 1966). The oracle reads the future (a per-model list of
    request times built in a first pass, wp_eval_future). For each request
    at t it wants the model resident during [t - load_ms, t]: after serving
    a request (at t, or at the end of its load) it keeps the model when the
    next request comes less than load_ms after that, else unloads it then
    and pre-warms it at next - load_ms. Requests before load_ms into the
    trace cannot be fully covered (the pre-warm starts at 0: delayed).
    Under a budget, a cold start or a pre-warm unloads the idle model whose
    next request is furthest in the future (never-again first, ties by
    lower id); a pre-warm only unloads models needed later than itself and
    is skipped if that does not free enough. A heuristic upper reference,
    not a proven optimum (loads of different sizes and times make the
    exact problem hard).
    =========================================================================
*/
#include "wp_eval_sim.h"

#include <stdlib.h>

#define TOKEN_PREWARM (1ULL << 62)      //  timer kinds, or'ed with a generation
#define TOKEN_UNLOAD (1ULL << 61)

typedef struct _s_self_t s_self_t;
static int s_start (s_self_t *self, wp_eval_sim_t *sim);
static void s_destroy (void **self_p);

//  State of one oracle run.
struct _s_self_t {
    wp_eval_future_t *future;   //  borrowed future
    wp_eval_future_cursor_t *next;     //  per model: its next request
    uint32_t *generation;       //  per model: bumps on each request
    size_t nmodels;             //  number of models
};

//  Create the state.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    s_self_t *self = calloc (1, sizeof (s_self_t));
    if (!self)
        return NULL;
    self->future = wp_eval_sim_future (sim);
    self->nmodels = wp_eval_catalog_size (wp_eval_sim_catalog (sim));
    self->next = calloc (self->nmodels, sizeof (wp_eval_future_cursor_t));
    self->generation = calloc (self->nmodels, sizeof (uint32_t));
    if (!self->future || !self->next || !self->generation) {
        free (self->next);
        free (self->generation);
        free (self);
        return NULL;
    }
    for (size_t i = 0; i < self->nmodels; i++)
        wp_eval_future_cursor_init (self->future, (uint32_t) i, &self->next [i]);
    if (s_start (self, sim)) {
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    return self;
}

//  Destroy the state.
static void
s_destroy (void **self_p)
{
    s_self_t *self = *self_p;
    if (!self)
        return;
    free (self->next);
    free (self->generation);
    free (self);
    *self_p = NULL;
}

//  Next request time of a model as seen now (-1: never again).
static inline int64_t
s_next_use (s_self_t *self, uint32_t model)
{
    return self->next [model].time;
}

//  True if next use a is further than b (never = furthest).
static inline bool
s_further (int64_t a, int64_t b)
{
    if (a < 0)
        return b >= 0;
    return b >= 0 && a > b;
}

//  Unload idle models needed later than `before` (-2: any), furthest
//  first, until need_mb is free; 0 if free, -1 if not.
static int
s_evict_furthest (s_self_t *self, wp_eval_sim_t *sim, int64_t need_mb, int64_t before,
                  uint32_t keep)
{
    while (wp_eval_sim_free_mb (sim) < need_mb) {
        int64_t victim = -1;
        for (size_t i = 0; i < wp_eval_sim_resident_count (sim); i++) {
            uint32_t id = wp_eval_sim_resident_model (sim, i);
            if (id == keep || wp_eval_sim_is_loading (sim, id))
                continue;
            int64_t use = s_next_use (self, id);
            if (before != -2 && !s_further (use, before))
                continue;
            if (victim < 0 || s_further (use, s_next_use (self, (uint32_t) victim))
            ||  (use == s_next_use (self, (uint32_t) victim) && id < victim))
                victim = id;
        }
        if (victim < 0)
            return -1;
        wp_eval_sim_unload (sim, (uint32_t) victim);
    }
    return 0;
}

//  Set the first pre-warm of every model (at creation, time 0).
static int
s_start (s_self_t *self, wp_eval_sim_t *sim)
{
    wp_eval_catalog_t *catalog = wp_eval_sim_catalog (sim);
    for (size_t i = 0; i < self->nmodels; i++) {
        int64_t first = s_next_use (self, (uint32_t) i);
        if (first < 0)
            continue;
        int64_t at = first - wp_eval_catalog_load_ms (catalog, (uint32_t) i);
        if (wp_eval_sim_set_timer (sim, at < 0? 0: at, (uint32_t) i, TOKEN_PREWARM))
            return -1;
    }
    return 0;
}

//  Advance the model's future past this request; plan unload and pre-warm.
static int
s_on_request (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *request,
              wp_eval_outcome_t outcome)
{
    s_self_t *self = state;
    uint32_t model = request->model;
    wp_eval_future_cursor_t *cursor = &self->next [model];
    //  The cursor sits on this request; move to the next one.
    if (cursor->time >= 0 && cursor->time <= request->time)
        wp_eval_future_cursor_next (self->future, model, cursor);
    uint32_t generation = ++self->generation [model];
    if (outcome == WP_EVAL_UNCACHEABLE)
        return 0;
    int64_t load_ms = wp_eval_catalog_load_ms (wp_eval_sim_catalog (sim), model);
    int64_t served = wp_eval_sim_load_end (sim, model);
    if (served < request->time)
        served = request->time;
    int64_t next = cursor->time;
    if (next >= 0 && next - load_ms <= served)
        return 0;                       //  keep across the short gap
    if (wp_eval_sim_set_timer (sim, served, model, TOKEN_UNLOAD | generation))
        return -1;
    if (next >= 0)
        return wp_eval_sim_set_timer (sim, next - load_ms, model, TOKEN_PREWARM | generation);
    return 0;
}

//  An unload or a pre-warm fell due.
static int
s_on_timer (void *state, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    s_self_t *self = state;
    if ((uint32_t) token != self->generation [model])
        return 0;                       //  planned before a later request
    if (token & TOKEN_UNLOAD) {
        wp_eval_sim_unload (sim, model);
        return 0;
    }
    if (wp_eval_sim_is_resident (sim, model))
        return 0;
    int64_t need = wp_eval_catalog_memory_mb (wp_eval_sim_catalog (sim), model);
    if (wp_eval_sim_free_mb (sim) < need
    &&  s_evict_furthest (self, sim, need, s_next_use (self, model), model))
        return 0;                       //  no room without hurting sooner needs
    wp_eval_sim_prewarm (sim, model);
    return 0;
}

//  Cold start: unload the idle models needed furthest in the future.
static int
s_make_room (void *state, wp_eval_sim_t *sim, uint32_t model, int64_t short_mb)
{
    s_self_t *self = state;
    if (short_mb > 0)
        s_evict_furthest (self, sim, wp_eval_catalog_memory_mb (wp_eval_sim_catalog (sim), model),
                          -2, model);
    return 0;
}

//  Bytes of state (the shared future counted once per oracle run).
static size_t
s_state_bytes (void *state)
{
    s_self_t *self = state;
    return sizeof (*self) + self->nmodels * (sizeof (wp_eval_future_cursor_t) + sizeof (uint32_t))
         + wp_eval_future_bytes (self->future);
}

const wp_eval_policy_t wp_policy_oracle = {
    .family = "oracle",
    .needs_future = true,
    .summary = "clairvoyant reference: resident [t - load_ms, t], Belady under a budget",
    .create = s_create,
    .destroy = s_destroy,
    .on_request = s_on_request,
    .on_timer = s_on_timer,
    .make_room = s_make_room,
    .state_bytes = s_state_bytes,
};
