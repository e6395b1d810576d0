/*  =========================================================================
    wp_eval_ttl - per-model expiry timers shared by the time-out policies
    =========================================================================
*/
#include "wp_eval_ttl.h"

#include <stdlib.h>

struct _wp_eval_ttl_t {
    int64_t *expire;            //  expire [model], -1 = never
    int64_t *armed;             //  time of the pending timer [model], -1 = none
    size_t models;              //  number of models
};

//  Create expiries for this many models.
wp_eval_ttl_t *
wp_eval_ttl_new (size_t models)
{
    wp_eval_ttl_t *self = calloc (1, sizeof (wp_eval_ttl_t));
    if (!self)
        return NULL;
    self->models = models;
    self->expire = malloc ((models? models: 1) * sizeof (int64_t));
    self->armed = malloc ((models? models: 1) * sizeof (int64_t));
    if (!self->expire || !self->armed) {
        wp_eval_ttl_destroy (&self);
        return NULL;
    }
    for (size_t i = 0; i < models; i++)
        self->expire [i] = self->armed [i] = -1;
    return self;
}

//  Destroy.
void
wp_eval_ttl_destroy (wp_eval_ttl_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_eval_ttl_t *self = *self_p;
    free (self->expire);
    free (self->armed);
    free (self);
    *self_p = NULL;
}

//  Arm the model's timer at time.
static int
s_arm (wp_eval_ttl_t *self, wp_eval_sim_t *sim, uint32_t model, int64_t time)
{
    self->armed [model] = time;
    return wp_eval_sim_set_timer (sim, time, model, (uint64_t) time);
}

//  Set the model's expiry.
int
wp_eval_ttl_set (wp_eval_ttl_t *self, wp_eval_sim_t *sim, uint32_t model, int64_t expire)
{
    self->expire [model] = expire;
    if (expire < 0)
        return 0;
    //  A pending timer at or before the expiry will re-arm itself.
    if (self->armed [model] >= 0 && self->armed [model] <= expire + 1)
        return 0;
    return s_arm (self, sim, model, expire + 1);
}

//  The model's expiry.
int64_t
wp_eval_ttl_expire (wp_eval_ttl_t *self, uint32_t model)
{
    return self->expire [model];
}

//  Handle a due timer.
int
wp_eval_ttl_fire (wp_eval_ttl_t *self, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    if ((int64_t) token != self->armed [model])
        return 0;                       //  superseded by an earlier timer
    self->armed [model] = -1;
    int64_t expire = self->expire [model];
    if (expire < 0 || !wp_eval_sim_is_resident (sim, model))
        return 0;
    int64_t now = wp_eval_sim_now (sim);
    int64_t due = expire;
    int64_t load_end = wp_eval_sim_load_end (sim, model);
    if (load_end > due)
        due = load_end;
    if (now <= due)
        return s_arm (self, sim, model, due + 1);
    if (wp_eval_sim_unload_at (sim, model, due) < 0)
        wp_eval_sim_unload (sim, model);
    self->expire [model] = -1;
    return 0;
}

//  Bytes of memory held.
size_t
wp_eval_ttl_bytes (wp_eval_ttl_t *self)
{
    return sizeof (*self) + 2 * self->models * sizeof (int64_t);
}

//  --- An idle time-out policy --------------------------------------------

//  Create the state for a time-out of keep_ms.
void *
wp_eval_timeout_new (wp_eval_sim_t *sim, int64_t keep_ms)
{
    wp_eval_timeout_t *self = calloc (1, sizeof (wp_eval_timeout_t));
    if (!self)
        return NULL;
    self->keep_ms = keep_ms;
    self->ttl = wp_eval_ttl_new (wp_eval_catalog_size (wp_eval_sim_catalog (sim)));
    if (!self->ttl) {
        free (self);
        return NULL;
    }
    return self;
}

//  Destroy the state.
void
wp_eval_timeout_destroy (void **self_p)
{
    wp_eval_timeout_t *self = *self_p;
    if (!self)
        return;
    wp_eval_ttl_destroy (&self->ttl);
    free (self);
    *self_p = NULL;
}

//  Restart the model's time-out.
int
wp_eval_timeout_on_request (void *state, wp_eval_sim_t *sim,
                            const wp_eval_request_t *request, wp_eval_outcome_t outcome)
{
    wp_eval_timeout_t *self = state;
    if (outcome == WP_EVAL_UNCACHEABLE)
        return 0;
    return wp_eval_ttl_set (self->ttl, sim, request->model, request->time + self->keep_ms);
}

//  A time-out fell due.
int
wp_eval_timeout_on_timer (void *state, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    wp_eval_timeout_t *self = state;
    return wp_eval_ttl_fire (self->ttl, sim, model, token);
}

//  Bytes of state.
size_t
wp_eval_timeout_bytes (void *state)
{
    wp_eval_timeout_t *self = state;
    return sizeof (*self) + wp_eval_ttl_bytes (self->ttl);
}
