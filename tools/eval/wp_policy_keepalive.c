/*  =========================================================================
    wp_policy_keepalive - keepalive:K, a fixed idle time-out

    Source: the keep-alive of serverless platforms and model runtimes
    (Ollama's OLLAMA_KEEP_ALIVE, default 5 min = keepalive:300); EVAL.md
    uses keepalive:600 as the normaliser of wasted_pct. A model is unloaded
    K seconds after its last request arrived: a request at exactly last + K
    is still warm, one at last + K + 1 ms is cold, and the model's memory
    is charged up to last + K (this reproduces EVAL.md's reference
    figures); if it is still loading then, at the end of its load. When
    the budget is short: least recently used.
    Knob: K in seconds (default 600).
    =========================================================================
*/
#include "wp_eval_ttl.h"

#include <stdlib.h>

//  State of one keepalive run.
typedef struct {
    int64_t keep_ms;            //  K in ms
    wp_eval_ttl_t *ttl;         //  per-model expiries
} s_self_t;

//  Create the state.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    s_self_t *self = calloc (1, sizeof (s_self_t));
    if (!self)
        return NULL;
    self->keep_ms = (int64_t) (knob * 1000);
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

//  Restart the model's time-out.
static int
s_on_request (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *request,
              wp_eval_outcome_t outcome)
{
    s_self_t *self = state;
    if (outcome == WP_EVAL_UNCACHEABLE)
        return 0;
    return wp_eval_ttl_set (self->ttl, sim, request->model, request->time + self->keep_ms);
}

//  A time-out fell due.
static int
s_on_timer (void *state, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    s_self_t *self = state;
    return wp_eval_ttl_fire (self->ttl, sim, model, token);
}

//  Bytes of state.
static size_t
s_state_bytes (void *state)
{
    s_self_t *self = state;
    return sizeof (*self) + wp_eval_ttl_bytes (self->ttl);
}

static const double s_sweep [] = { 10, 30, 60, 120, 300, 600, 1200, 3600, 14400 };

const wp_eval_policy_t wp_policy_keepalive = {
    .family = "keepalive",
    .knob = "K_s",
    .knob_default = 600,
    .knob_min = 0,
    .knob_max = 86400.0 * 365,
    .knob_integer = false,
    .sweep = s_sweep,
    .sweep_len = sizeof (s_sweep) / sizeof (s_sweep [0]),
    .summary = "unload K s after the last request (default 600); LRU when short",
    .create = s_create,
    .destroy = s_destroy,
    .on_request = s_on_request,
    .on_timer = s_on_timer,
    .make_room = NULL,
    .state_bytes = s_state_bytes,
};
