/*  =========================================================================
    wp_scheduler_policy - the scheduler runs another policy than its own
    (wp_scheduler_policy.h).
    =========================================================================
*/
#include "wp_scheduler_policy.h"
#include "wp_eval_sim.h"
#include "wp_eval_strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Users told apart at most; later ones share the last id (policies that
//  look at users see them as one: memory stays bounded).
#define USERS_MAX 1000000

struct _wp_scheduler_policy_t {
    wp_eval_catalog_t *catalog;     //  the configuration's models
    wp_eval_sim_t *sim;             //  the world the policy acts in
    wp_eval_strmap_t *users;        //  user -> dense id, in order of appearance
    const wp_eval_policy_t *inner;  //  the policy run
    wp_eval_policy_t table;         //  it, wrapped (the world borrows it)
    char name [256];                //  canonical name
    bool in_request;                //  inside a request, before the policy hears of it
    wp_policy_act_fn *act;          //  where the acts go
    void *act_arg;
};

//  The world changed: tell the real one what the policy did. A load on
//  demand is the server's own (the request makes it); an unload while a
//  request is being served, before the policy hears of it, is room made
//  for that request's cold start.
static void
s_observe (void *arg, uint32_t model, wp_eval_sim_change_t change, int64_t time)
{
    wp_scheduler_policy_t *self = (wp_scheduler_policy_t *) arg;
    if (change == WP_EVAL_SIM_LOAD || !self->act)
        return;
    const char *name = wp_eval_catalog_name (self->catalog, model);
    wp_policy_act_t act = change == WP_EVAL_SIM_PREWARM ? WP_POLICY_WARM
                        : self->in_request ? WP_POLICY_ROOM : WP_POLICY_COOL;
    self->act (self->act_arg, name, act, time);
}

//  The policy this scheduler runs, wrapped so that the scheduler knows when
//  a request's room has been made (the policy hears of the request). The
//  wrapper's data is the policy's (a plug-in finds its library there).
typedef struct {
    const wp_eval_policy_t *inner;
    void *state;
    wp_scheduler_policy_t *host;
} s_wrap_t;

static _Thread_local wp_scheduler_policy_t *s_creating;   //  around wp_eval_sim_new only

static void *
s_wrap_create (wp_eval_sim_t *sim, double knob)
{
    s_wrap_t *wrap = (s_wrap_t *) calloc (1, sizeof (s_wrap_t));
    if (!wrap)
        return NULL;
    wrap->host = s_creating;
    wrap->inner = s_creating->inner;
    wrap->state = wrap->inner->create (sim, knob);
    if (!wrap->state) {
        free (wrap);
        return NULL;
    }
    return wrap;
}

static void
s_wrap_destroy (void **self_p)
{
    s_wrap_t *wrap = (s_wrap_t *) *self_p;
    if (wrap) {
        wrap->inner->destroy (&wrap->state);
        free (wrap);
        *self_p = NULL;
    }
}

static int
s_wrap_request (void *self, wp_eval_sim_t *sim, const wp_eval_request_t *request,
                wp_eval_outcome_t outcome)
{
    s_wrap_t *wrap = (s_wrap_t *) self;
    wrap->host->in_request = false;
    return wrap->inner->on_request (wrap->state, sim, request, outcome);
}

static int
s_wrap_timer (void *self, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    s_wrap_t *wrap = (s_wrap_t *) self;
    return wrap->inner->on_timer (wrap->state, sim, model, token);
}

static int
s_wrap_room (void *self, wp_eval_sim_t *sim, uint32_t model, int64_t short_mb)
{
    s_wrap_t *wrap = (s_wrap_t *) self;
    return wrap->inner->make_room (wrap->state, sim, model, short_mb);
}

static size_t
s_wrap_bytes (void *self)
{
    s_wrap_t *wrap = (s_wrap_t *) self;
    return sizeof *wrap + (wrap->inner->state_bytes
                           ? wrap->inner->state_bytes (wrap->state) : 0);
}

//  Run the policy named spec.
wp_scheduler_policy_t *
wp_scheduler_policy_new (const char *spec, const wp_config_t *config, char *error,
                         size_t size)
{
    char reason [WP_EVAL_ERRLEN];
    double knob;
    size_t count;
    const wp_eval_policy_t *const *list = wp_policy_live_list (&count);
    const wp_eval_policy_t *inner = wp_policy_table_find (list, count, spec, &knob, reason);
    if (!inner) {
        snprintf (error, size, "policy: %s", reason);
        return NULL;
    }
    if (inner->needs_future) {
        snprintf (error, size, "policy: '%s' reads the future", inner->family);
        return NULL;
    }
    wp_scheduler_policy_t *self = (wp_scheduler_policy_t *) calloc (1, sizeof *self);
    if (!self || !(self->catalog = wp_eval_catalog_new ())
        || !(self->users = wp_eval_strmap_new ())) {
        snprintf (error, size, "policy: out of memory");
        wp_scheduler_policy_destroy (&self);
        return NULL;
    }
    for (size_t i = 0; i < config->n_models; i++) {
        const wp_model_config_t *model = &config->models [i];
        int64_t id = wp_eval_catalog_add (self->catalog, model->name, model->memory_mb,
                                          model->load_ms);
        if (id < 0) {
            snprintf (error, size, "policy: model '%s' cannot be described", model->name);
            wp_scheduler_policy_destroy (&self);
            return NULL;
        }
        if (model->pin)
            wp_eval_catalog_set_pin (self->catalog, (uint32_t) id, true);
        wp_eval_catalog_set_priority (self->catalog, (uint32_t) id, (int) model->priority);
    }
    self->table = (wp_eval_policy_t) {
        .family = inner->family, .knob = inner->knob, .summary = inner->summary,
        .create = s_wrap_create, .destroy = s_wrap_destroy, .on_request = s_wrap_request,
        .on_timer = s_wrap_timer, .make_room = inner->make_room ? s_wrap_room : NULL,
        .state_bytes = s_wrap_bytes, .data = inner->data,    //  a plug-in's own
    };
    self->inner = inner;
    wp_eval_policy_name (inner, knob, self->name, sizeof self->name);
    s_creating = self;
    self->sim = wp_eval_sim_new (self->catalog, config->max_memory_mb, &self->table, knob,
                                 NULL, false, reason);
    s_creating = NULL;
    if (!self->sim) {
        snprintf (error, size, "policy %s: %s", self->name, reason);
        wp_scheduler_policy_destroy (&self);
        return NULL;
    }
    wp_eval_sim_observe (self->sim, s_observe, self);
    return self;
}

//  Destroy.
void
wp_scheduler_policy_destroy (wp_scheduler_policy_t **self_p)
{
    wp_scheduler_policy_t *self = *self_p;
    if (!self)
        return;
    wp_eval_sim_destroy (&self->sim);
    wp_eval_catalog_destroy (&self->catalog);
    wp_eval_strmap_destroy (&self->users);
    free (self);
    *self_p = NULL;
}

const char *
wp_scheduler_policy_name (wp_scheduler_policy_t *self)
{
    return self->name;
}

void
wp_scheduler_policy_acts (wp_scheduler_policy_t *self, wp_policy_act_fn *fn, void *arg)
{
    self->act = fn;
    self->act_arg = arg;
}

//  A request.
int
wp_scheduler_policy_request (wp_scheduler_policy_t *self, int64_t time, const char *user,
                             const char *model)
{
    int64_t id = wp_eval_catalog_lookup (self->catalog, model, strlen (model));
    if (id < 0)
        return 1;
    if (time < wp_eval_sim_now (self->sim))
        time = wp_eval_sim_now (self->sim);
    uint32_t user_id = USERS_MAX - 1;
    if (wp_eval_strmap_size (self->users) < USERS_MAX - 1
        || wp_eval_strmap_lookup (self->users, user, strlen (user)) >= 0) {
        int added;
        int64_t uid = wp_eval_strmap_intern (self->users, user, strlen (user), &added);
        if (uid >= 0)
            user_id = (uint32_t) uid;
    }
    //  Timers due by then fire first, as warmup-eval fires them.
    if (wp_eval_sim_advance (self->sim, time))
        return -1;
    wp_eval_request_t request = { time, user_id, (uint32_t) id, 0 };
    self->in_request = true;
    int rc = wp_eval_sim_request (self->sim, &request);
    self->in_request = false;
    return rc;
}

int
wp_scheduler_policy_advance (wp_scheduler_policy_t *self, int64_t time)
{
    return wp_eval_sim_advance (self->sim, time);
}

int64_t
wp_scheduler_policy_next (wp_scheduler_policy_t *self)
{
    return wp_eval_sim_next_timer (self->sim);
}

void
wp_scheduler_policy_gone (wp_scheduler_policy_t *self, const char *model)
{
    int64_t id = wp_eval_catalog_lookup (self->catalog, model, strlen (model));
    if (id < 0)
        return;
    wp_policy_act_fn *act = self->act;
    self->act = NULL;               //  the world's news, not an act to pass on
    wp_eval_sim_unload (self->sim, (uint32_t) id);
    self->act = act;
}
