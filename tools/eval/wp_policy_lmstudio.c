/*  =========================================================================
    wp_policy_lmstudio - lmstudio: LM Studio's just-in-time loading

    Source: LM Studio documentation ("Idle TTL and Auto-Evict", lmstudio.ai
    docs, app/api/ttl-and-auto-evict): JIT-loaded models get a default
    idle TTL of 60 minutes; with auto-evict on (the default), loading a
    model through JIT unloads the models previously loaded through JIT.
    Here every load is request-loaded (JIT), so a cold start unloads every
    other idle resident model; a model still loading is left alone. A
    model leaves 3600 s after its last request (same boundary as
    keepalive:K). LRU if the budget is still short.
    =========================================================================
*/
#include "wp_eval_ttl.h"

#include <stdlib.h>

#define TTL_MS 3600000                  //  default idle TTL of JIT models

//  State of one lmstudio run.
typedef struct {
    wp_eval_ttl_t *ttl;         //  per-model expiries
} s_self_t;

//  Create the state.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    s_self_t *self = calloc (1, sizeof (s_self_t));
    if (!self)
        return NULL;
    self->ttl = wp_eval_ttl_new (wp_eval_catalog_size (wp_eval_sim_catalog (sim)));
    if (!self->ttl) {
        free (self);
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
    wp_eval_ttl_destroy (&self->ttl);
    free (self);
    *self_p = NULL;
}

//  Restart the model's TTL.
static int
s_on_request (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *request,
              wp_eval_outcome_t outcome)
{
    s_self_t *self = state;
    if (outcome == WP_EVAL_UNCACHEABLE)
        return 0;
    return wp_eval_ttl_set (self->ttl, sim, request->model, request->time + TTL_MS);
}

//  A TTL fell due.
static int
s_on_timer (void *state, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    s_self_t *self = state;
    return wp_eval_ttl_fire (self->ttl, sim, model, token);
}

//  Auto-evict: a JIT load unloads every other idle JIT-loaded model.
static int
s_make_room (void *state, wp_eval_sim_t *sim, uint32_t model, int64_t short_mb)
{
    size_t i = 0;
    while (i < wp_eval_sim_resident_count (sim)) {
        uint32_t id = wp_eval_sim_resident_model (sim, i);
        if (!wp_eval_sim_is_loading (sim, id) && !wp_eval_sim_is_prewarmed (sim, id))
            wp_eval_sim_unload (sim, id);      //  swaps another model into slot i
        else
            i++;
    }
    return 0;
}

//  Bytes of state.
static size_t
s_state_bytes (void *state)
{
    s_self_t *self = state;
    return sizeof (*self) + wp_eval_ttl_bytes (self->ttl);
}

const wp_eval_policy_t wp_policy_lmstudio = {
    .family = "lmstudio",
    .summary = "idle TTL 3600 s; a request-loaded model unloads the others (auto-evict)",
    .create = s_create,
    .destroy = s_destroy,
    .on_request = s_on_request,
    .on_timer = s_on_timer,
    .make_room = s_make_room,
    .state_bytes = s_state_bytes,
};
