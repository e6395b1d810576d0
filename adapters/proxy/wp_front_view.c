/*  =========================================================================
    wp_front_view - the service as the proxy sees it.
    =========================================================================
*/
#include <czmq.h>
#include "wp_front_view.h"

//  One model.
typedef struct {
    wp_front_state_t state;     //  cold, loading, warm
    uint32_t load_ms;           //  learned load time (0 = none)
    int task;                   //  last task it was used for (0 = none)
} model_t;

//  One predicted model, as kept.
typedef struct {
    char *model;                //  owned
    double probability;
    double confidence;
    uint64_t expected_in_ms;    //  from the prediction's reception
} kept_t;

//  One user's latest prediction.
typedef struct {
    char *user;                 //  owned (also the table's key)
    uint64_t at_ms;             //  wall clock when it was received
    size_t count;               //  models kept
    kept_t models [WP_FRONT_VIEW_PREDICTIONS];
    void *handle;               //  position in the age list
} user_t;

//  One component's liveness.
typedef struct {
    uint64_t last_ms;           //  last heartbeat, wall clock
    uint32_t interval_ms;       //  its period
} component_t;

struct _wp_front_view_t {
    size_t max_users;           //  users kept at most
    zhashx_t *models;           //  name -> model_t
    zhashx_t *users;            //  user -> user_t
    zlistx_t *ages;             //  user_t, least recently predicted first
    zhashx_t *components;       //  name -> component_t
};

//  Free a user's prediction.
static void
s_user_destroy (void **item_p)
{
    user_t *user = (user_t *) *item_p;
    if (!user)
        return;
    for (size_t i = 0; i < user->count; i++)
        free (user->models [i].model);
    free (user->user);
    free (user);
    *item_p = NULL;
}

//  A new view.
wp_front_view_t *
wp_front_view_new (size_t max_users)
{
    assert (max_users >= 1);
    wp_front_view_t *self = (wp_front_view_t *) zmalloc (sizeof (wp_front_view_t));
    assert (self);
    self->max_users = max_users;
    self->models = zhashx_new ();
    zhashx_set_destructor (self->models, (zhashx_destructor_fn *) zstr_free);
    self->users = zhashx_new ();
    zhashx_set_destructor (self->users, s_user_destroy);
    self->ages = zlistx_new ();
    self->components = zhashx_new ();
    zhashx_set_destructor (self->components, (zhashx_destructor_fn *) zstr_free);
    return self;
}

//  Destroy.
void
wp_front_view_destroy (wp_front_view_t **self_p)
{
    assert (self_p);
    wp_front_view_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy (&self->ages);
    zhashx_destroy (&self->users);
    zhashx_destroy (&self->models);
    zhashx_destroy (&self->components);
    free (self);
    *self_p = NULL;
}

//  The model's entry, made when absent (NULL when the table is full or the
//  name is empty).
static model_t *
s_model (wp_front_view_t *self, const char *name, bool make)
{
    if (!name || !*name)
        return NULL;
    model_t *model = (model_t *) zhashx_lookup (self->models, name);
    if (!model && make && zhashx_size (self->models) < WP_FRONT_VIEW_MODELS) {
        model = (model_t *) zmalloc (sizeof (model_t));
        assert (model);
        zhashx_insert (self->models, name, model);
    }
    return model;
}

//  A prediction.
void
wp_front_view_prediction (wp_front_view_t *self, const Warmup__V1__PredictionMade *in,
                          uint64_t now_ms)
{
    assert (self && in);
    if (!in->user || !*in->user)
        return;
    user_t *user = (user_t *) zhashx_lookup (self->users, in->user);
    if (user) {
        for (size_t i = 0; i < user->count; i++)
            free (user->models [i].model);
        user->count = 0;
        zlistx_move_end (self->ages, user->handle);
    }
    else {
        while (zhashx_size (self->users) >= self->max_users) {
            user_t *oldest = (user_t *) zlistx_first (self->ages);
            zlistx_delete (self->ages, oldest->handle);
            zhashx_delete (self->users, oldest->user);
        }
        user = (user_t *) zmalloc (sizeof (user_t));
        assert (user);
        user->user = strdup (in->user);
        assert (user->user);
        zhashx_insert (self->users, in->user, user);
        user->handle = zlistx_add_end (self->ages, user);
    }
    user->at_ms = now_ms;
    for (size_t i = 0; i < in->n_models && user->count < WP_FRONT_VIEW_PREDICTIONS; i++) {
        const Warmup__V1__ModelPrediction *p = in->models [i];
        if (!p || !p->model || !*p->model || strlen (p->model) > 200
            || !(p->probability >= 0 && p->probability <= 1))
            continue;
        kept_t *kept = &user->models [user->count++];
        kept->model = strdup (p->model);
        assert (kept->model);
        kept->probability = p->probability;
        kept->confidence = p->confidence >= 0 && p->confidence <= 1 ? p->confidence : 0;
        kept->expected_in_ms = p->expected_in_ms;
    }
    //  Highest probability first (the engine sends them so; keep it true)
    for (size_t i = 1; i < user->count; i++)
        for (size_t j = i; j > 0 && user->models [j].probability
                                    > user->models [j - 1].probability; j--) {
            kept_t swap = user->models [j];
            user->models [j] = user->models [j - 1];
            user->models [j - 1] = swap;
        }
}

//  A warmup.requested.
void
wp_front_view_requested (wp_front_view_t *self, const char *name, bool warm)
{
    assert (self);
    model_t *model = s_model (self, name, true);
    if (!model)
        return;
    if (!warm)
        model->state = WP_FRONT_COLD;
    else
    if (model->state != WP_FRONT_WARM)
        model->state = WP_FRONT_LOADING;
}

//  A warmup.done.
void
wp_front_view_done (wp_front_view_t *self, const char *name, bool warm, bool ok)
{
    assert (self);
    model_t *model = s_model (self, name, true);
    if (!model)
        return;
    if (warm)
        model->state = ok ? WP_FRONT_WARM : WP_FRONT_COLD;
    else
    if (ok)
        model->state = WP_FRONT_COLD;
}

//  The server answered for the model.
void
wp_front_view_served (wp_front_view_t *self, const char *name)
{
    assert (self);
    model_t *model = s_model (self, name, true);
    if (model)
        model->state = WP_FRONT_WARM;
}

//  A model's task.
void
wp_front_view_task (wp_front_view_t *self, const char *name, int task)
{
    assert (self);
    model_t *model = task ? s_model (self, name, true) : NULL;
    if (model)
        model->task = task;
}

//  A load time.
void
wp_front_view_load_ms (wp_front_view_t *self, const char *name, uint32_t load_ms)
{
    assert (self);
    model_t *model = s_model (self, name, true);
    if (model)
        model->load_ms = load_ms;
}

//  A heartbeat.
void
wp_front_view_heartbeat (wp_front_view_t *self, const char *name, uint32_t interval_ms,
                         uint64_t now_ms)
{
    assert (self);
    if (!name || !*name || strlen (name) > 64)
        return;
    component_t *component = (component_t *) zhashx_lookup (self->components, name);
    if (!component) {
        if (zhashx_size (self->components) >= 256)
            return;
        component = (component_t *) zmalloc (sizeof (component_t));
        assert (component);
        zhashx_insert (self->components, name, component);
    }
    component->last_ms = now_ms;
    component->interval_ms = interval_ms ? interval_ms : 1000;
}

//  A model's state.
wp_front_state_t
wp_front_view_state (wp_front_view_t *self, const char *name)
{
    assert (self);
    model_t *model = s_model (self, name, false);
    return model ? model->state : WP_FRONT_COLD;
}

//  Name of a state.
const char *
wp_front_state_name (wp_front_state_t state)
{
    return state == WP_FRONT_WARM ? "warm" : state == WP_FRONT_LOADING ? "loading" : "cold";
}

//  A model's last task.
int
wp_front_view_task_of (wp_front_view_t *self, const char *name)
{
    assert (self);
    model_t *model = s_model (self, name, false);
    return model ? model->task : 0;
}

//  A model's load time.
uint32_t
wp_front_view_load_ms_of (wp_front_view_t *self, const char *name, uint32_t fallback)
{
    assert (self);
    model_t *model = s_model (self, name, false);
    return model && model->load_ms ? model->load_ms : fallback;
}

//  A user's prediction.
size_t
wp_front_view_predictions (wp_front_view_t *self, const char *name, uint64_t now_ms,
                           uint64_t ttl_ms, wp_front_pred_t *out, size_t max)
{
    assert (self);
    user_t *user = name ? (user_t *) zhashx_lookup (self->users, name) : NULL;
    if (!user || (now_ms > user->at_ms && now_ms - user->at_ms > ttl_ms))
        return 0;
    uint64_t age = now_ms > user->at_ms ? now_ms - user->at_ms : 0;
    size_t count = 0;
    for (size_t i = 0; i < user->count && count < max; i++, count++) {
        const kept_t *kept = &user->models [i];
        snprintf (out [count].model, sizeof out [count].model, "%s", kept->model);
        out [count].probability = kept->probability;
        out [count].confidence = kept->confidence;
        out [count].expected_in_ms = kept->expected_in_ms > age
                                   ? kept->expected_in_ms - age : 0;
    }
    return count;
}

//  Alive?
bool
wp_front_view_alive (wp_front_view_t *self, const char *name, uint64_t now_ms)
{
    assert (self);
    component_t *component = (component_t *) zhashx_lookup (self->components, name);
    return component && now_ms <= component->last_ms + 3ull * component->interval_ms;
}

//  Users kept.
size_t
wp_front_view_users (wp_front_view_t *self)
{
    assert (self);
    return zhashx_size (self->users);
}
