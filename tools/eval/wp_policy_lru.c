/*  =========================================================================
    wp_policy_lru - lru:N, llama.cpp's router

    Source: llama.cpp (github.com/ggml-org/llama.cpp) server router mode
    ("--models-max N", default 4): models load on demand, at most N stay
    resident, the least recently used is unloaded to make room; no idle
    time-out. Here "room" is also the memory budget. If all N slots hold
    models still loading, the request is `uncacheable` (llama.cpp would
    make it wait; the simulated world has no queue). Knob: N (default 4).
    =========================================================================
*/
#include "wp_eval_sim.h"

#include <stdlib.h>

//  State of one lru run.
typedef struct {
    size_t max_models;          //  N
} s_self_t;

//  Create the state.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    s_self_t *self = calloc (1, sizeof (s_self_t));
    if (self)
        self->max_models = (size_t) knob;
    return self;
}

//  Destroy the state.
static void
s_destroy (void **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

//  Nothing to learn: the simulator keeps the last use of each model.
static int
s_on_request (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *request,
              wp_eval_outcome_t outcome)
{
    return 0;
}

//  No timers.
static int
s_on_timer (void *state, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    return 0;
}

//  Unload least recently used idle models while N are resident or memory
//  is short.
static int
s_make_room (void *state, wp_eval_sim_t *sim, uint32_t model, int64_t short_mb)
{
    s_self_t *self = state;
    while (wp_eval_sim_resident_count (sim) >= self->max_models) {
        int64_t victim = -1;
        for (size_t i = 0; i < wp_eval_sim_resident_count (sim); i++) {
            uint32_t id = wp_eval_sim_resident_model (sim, i);
            if (wp_eval_sim_is_loading (sim, id))
                continue;
            if (victim < 0
            ||  wp_eval_sim_last_request (sim, id) < wp_eval_sim_last_request (sim, (uint32_t) victim)
            ||  (wp_eval_sim_last_request (sim, id) == wp_eval_sim_last_request (sim, (uint32_t) victim)
                 && id < victim))
                victim = id;
        }
        if (victim < 0)
            return 1;                   //  every slot is loading
        wp_eval_sim_unload (sim, (uint32_t) victim);
    }
    wp_eval_sim_evict_lru (sim, wp_eval_catalog_memory_mb (wp_eval_sim_catalog (sim), model));
    return 0;
}

//  Bytes of state.
static size_t
s_state_bytes (void *state)
{
    return sizeof (s_self_t);
}

static const double s_sweep [] = { 1, 2, 4, 8, 16, 32, 64, 128 };

const wp_eval_policy_t wp_policy_lru = {
    .family = "lru",
    .knob = "N",
    .knob_default = 4,
    .knob_min = 1,
    .knob_max = 1e9,
    .knob_integer = true,
    .sweep = s_sweep,
    .sweep_len = sizeof (s_sweep) / sizeof (s_sweep [0]),
    .summary = "at most N resident (default 4), least recently used out, no time-out",
    .create = s_create,
    .destroy = s_destroy,
    .on_request = s_on_request,
    .on_timer = s_on_timer,
    .make_room = s_make_room,
    .state_bytes = s_state_bytes,
};
