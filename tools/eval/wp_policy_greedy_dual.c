/*  =========================================================================
    wp_policy_greedy_dual - greedy-dual: FaasCache's Greedy-Dual keep-alive

    Source: Fuerst and Sharma, "FaasCache: Keeping Serverless Computing
    Alive with Greedy-Dual Caching", ASPLOS'21. No time-out. Each resident
    model has priority = clock + frequency x cost / size, with cost =
    load_ms and size = memory_mb; on every request the frequency grows by
    one and the priority is recomputed with the current clock. To make
    room, the idle model with the lowest priority is unloaded (ties: lower
    model id) and the clock becomes its priority. As in FaasCache, the
    frequency restarts from zero when the model is unloaded. At budget 0
    nothing is ever unloaded.
    =========================================================================
*/
#include "wp_eval_sim.h"

#include <stdlib.h>

//  State of one greedy-dual run.
typedef struct {
    double clock;               //  priority of the last unloaded model
    double *priority;           //  priority [model]
    uint64_t *frequency;        //  requests since the model was loaded
    size_t models;              //  number of models
} s_self_t;

//  Create the state.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    s_self_t *self = calloc (1, sizeof (s_self_t));
    if (!self)
        return NULL;
    self->models = wp_eval_catalog_size (wp_eval_sim_catalog (sim));
    self->priority = calloc (self->models, sizeof (double));
    self->frequency = calloc (self->models, sizeof (uint64_t));
    if (!self->priority || !self->frequency) {
        free (self->priority);
        free (self->frequency);
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
    free (self->priority);
    free (self->frequency);
    free (self);
    *self_p = NULL;
}

//  Count the request and refresh the model's priority.
static int
s_on_request (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *request,
              wp_eval_outcome_t outcome)
{
    s_self_t *self = state;
    uint32_t m = request->model;
    if (outcome == WP_EVAL_UNCACHEABLE)
        return 0;
    if (outcome == WP_EVAL_COLD)
        self->frequency [m] = 0;
    self->frequency [m]++;
    wp_eval_catalog_t *catalog = wp_eval_sim_catalog (sim);
    uint32_t size = wp_eval_catalog_memory_mb (catalog, m);
    self->priority [m] = self->clock + (double) self->frequency [m]
                       * (double) wp_eval_catalog_load_ms (catalog, m) / (double) (size? size: 1);
    return 0;
}

//  No timers.
static int
s_on_timer (void *state, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    return 0;
}

//  Unload the lowest-priority idle model while short; advance the clock.
static int
s_make_room (void *state, wp_eval_sim_t *sim, uint32_t model, int64_t short_mb)
{
    s_self_t *self = state;
    int64_t need = wp_eval_catalog_memory_mb (wp_eval_sim_catalog (sim), model);
    while (wp_eval_sim_free_mb (sim) < need) {
        int64_t victim = -1;
        for (size_t i = 0; i < wp_eval_sim_resident_count (sim); i++) {
            uint32_t id = wp_eval_sim_resident_model (sim, i);
            if (wp_eval_sim_is_loading (sim, id))
                continue;
            if (victim < 0 || self->priority [id] < self->priority [victim]
            ||  (self->priority [id] == self->priority [victim] && id < victim))
                victim = id;
        }
        if (victim < 0)
            break;                      //  everything is loading
        self->clock = self->priority [victim];
        self->frequency [victim] = 0;
        wp_eval_sim_unload (sim, (uint32_t) victim);
    }
    return 0;
}

//  Bytes of state.
static size_t
s_state_bytes (void *state)
{
    s_self_t *self = state;
    return sizeof (*self) + self->models * (sizeof (double) + sizeof (uint64_t));
}

const wp_eval_policy_t wp_policy_greedy_dual = {
    .family = "greedy-dual",
    .summary = "FaasCache: no time-out, unload lowest clock + freq x load_ms / memory_mb",
    .create = s_create,
    .destroy = s_destroy,
    .on_request = s_on_request,
    .on_timer = s_on_timer,
    .make_room = s_make_room,
    .state_bytes = s_state_bytes,
};
