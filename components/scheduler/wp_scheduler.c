/*  =========================================================================
    wp_scheduler - WarmupScheduler core.
    =========================================================================
*/
#include <czmq.h>
#include <math.h>
#include "wp_scheduler.h"

#define USERS_PER_MODEL 16

//  One user's latest prediction for a model.
typedef struct {
    uint64_t user;          //  user hash
    double probability;     //  predicted
    uint64_t until_ms;      //  valid until
    uint64_t expected_ms;   //  event time of the expected request
} demand_t;

//  One model.
typedef struct {
    char *name;                         //  owned
    uint32_t memory_mb;                 //  memory when warm
    uint32_t load_ms;                   //  load time
    wp_model_state_t state;             //  what we believe
    bool external;                      //  warmed by someone else: hold it
    demand_t demand [USERS_PER_MODEL];  //  per-user predictions
    uint8_t n_demand;
    double score;                       //  demand, during decide
    bool active;                        //  in the active list
} model_t;

struct _wp_scheduler_t {
    wp_scheduler_opts_t opts;   //  effective options
    model_t **models;           //  every model seen
    size_t n_models, cap_models;
    zhashx_t *by_name;          //  name -> model_t *
    model_t **active;           //  models with demand or not cold
    size_t n_active, cap_active;
    bool admit;                 //  resource manager admits warmups
};

//  Create a scheduler.
wp_scheduler_t *
wp_scheduler_new (const wp_scheduler_opts_t *opts)
{
    assert (opts);
    wp_scheduler_t *self = (wp_scheduler_t *) zmalloc (sizeof (wp_scheduler_t));
    assert (self);
    self->opts = *opts;
    if (!self->opts.max_warm_models)
        self->opts.max_warm_models = 5;
    if (self->opts.threshold <= 0)
        self->opts.threshold = 0.7;
    if (self->opts.hysteresis < 0)
        self->opts.hysteresis = 0;
    if (!self->opts.ttl_s)
        self->opts.ttl_s = 300;
    self->by_name = zhashx_new ();
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
        free (self->models [i]->name);
        free (self->models [i]);
    }
    free (self->models);
    free (self->active);
    zhashx_destroy (&self->by_name);
    free (self);
    *self_p = NULL;
}

//  Find or create a model.
static model_t *
s_model (wp_scheduler_t *self, const char *name)
{
    model_t *model = (model_t *) zhashx_lookup (self->by_name, name);
    if (model)
        return model;
    model = (model_t *) zmalloc (sizeof (model_t));
    assert (model);
    model->name = strdup (name);
    assert (model->name);
    model->memory_mb = self->opts.default_memory_mb;
    model->load_ms = self->opts.default_load_ms;
    if (self->n_models == self->cap_models) {
        self->cap_models = self->cap_models ? self->cap_models * 2 : 16;
        self->models = (model_t **) realloc (self->models,
                                             self->cap_models * sizeof (model_t *));
        assert (self->models);
    }
    self->models [self->n_models++] = model;
    zhashx_insert (self->by_name, name, model);
    return model;
}

//  Put a model on the active list.
static void
s_activate (wp_scheduler_t *self, model_t *model)
{
    if (model->active)
        return;
    if (self->n_active == self->cap_active) {
        self->cap_active = self->cap_active ? self->cap_active * 2 : 16;
        self->active = (model_t **) realloc (self->active,
                                             self->cap_active * sizeof (model_t *));
        assert (self->active);
    }
    self->active [self->n_active++] = model;
    model->active = true;
}

//  Describe a model.
void
wp_scheduler_model (wp_scheduler_t *self, const char *name, uint32_t memory_mb,
                    uint32_t load_ms)
{
    assert (self && name);
    model_t *model = s_model (self, name);
    if (memory_mb)
        model->memory_mb = memory_mb;
    if (load_ms)
        model->load_ms = load_ms;
}

//  Record a user's predictions.
void
wp_scheduler_predictions (wp_scheduler_t *self, uint64_t user_hash,
                          const wp_prediction_t *predictions, size_t n,
                          uint64_t now_ms)
{
    assert (self && (predictions || n == 0));
    for (size_t i = 0; i < n; i++) {
        model_t *model = s_model (self, predictions [i].model);
        demand_t *slot = NULL;
        for (uint8_t j = 0; j < model->n_demand && !slot; j++)
            if (model->demand [j].user == user_hash)
                slot = &model->demand [j];
        if (!slot && model->n_demand < USERS_PER_MODEL)
            slot = &model->demand [model->n_demand++];
        if (!slot) {
            //  Full: replace the entry that expires first.
            slot = &model->demand [0];
            for (uint8_t j = 1; j < model->n_demand; j++)
                if (model->demand [j].until_ms < slot->until_ms)
                    slot = &model->demand [j];
        }
        slot->user = user_hash;
        slot->probability = predictions [i].probability;
        slot->until_ms = now_ms + (uint64_t) self->opts.ttl_s * 1000;
        slot->expected_ms = now_ms + predictions [i].expected_in_ms;
        s_activate (self, model);
    }
}

//  A warmup finished.
void
wp_scheduler_done (wp_scheduler_t *self, const char *name, wp_action_t action, bool ok)
{
    assert (self && name);
    model_t *model = s_model (self, name);
    if (action == WP_ACTION_WARM) {
        if (ok) {
            if (model->state != WP_MODEL_WARMING)
                model->external = true;     //  not ours: hold it
            model->state = WP_MODEL_WARM;
        }
        else
        if (model->state == WP_MODEL_WARMING)
            model->state = WP_MODEL_COLD;
    }
    else {
        if (ok) {
            //  Cooled by someone else (an operator): respect it, and warm
            //  again only on predictions made after it.
            if (model->state != WP_MODEL_COOLING)
                model->n_demand = 0;
            model->state = WP_MODEL_COLD;
            model->external = false;
        }
        else
        if (model->state == WP_MODEL_COOLING)
            model->state = WP_MODEL_WARM;
    }
    s_activate (self, model);
}

//  Resource admission.
void
wp_scheduler_admit (wp_scheduler_t *self, bool admit)
{
    assert (self);
    self->admit = admit;
}

//  Expire old demand and compute the model's demand now. Returns the
//  earliest expected request time through *expected.
static double
s_demand (wp_scheduler_t *self, model_t *model, uint64_t now_ms, uint64_t *expected)
{
    double none = 1.0;
    uint64_t soonest = UINT64_MAX;
    uint8_t kept = 0;
    for (uint8_t j = 0; j < model->n_demand; j++) {
        demand_t *d = &model->demand [j];
        if (d->until_ms <= now_ms)
            continue;
        model->demand [kept++] = *d;
        none *= 1.0 - d->probability;
        if (d->expected_ms < soonest)
            soonest = d->expected_ms;
    }
    model->n_demand = kept;
    if (expected)
        *expected = soonest == UINT64_MAX ? now_ms : soonest;
    return 1.0 - none;
}

//  Order models by expected benefit, highest first; ties by name.
static int
s_by_benefit (const void *a, const void *b)
{
    const model_t *x = *(model_t *const *) a, *y = *(model_t *const *) b;
    double bx = x->score * x->load_ms, by = y->score * y->load_ms;
    if (bx != by)
        return bx > by ? -1 : 1;
    return strcmp (x->name, y->name);
}

//  True for warm or warming.
static bool
s_holds (const model_t *model)
{
    return model->state == WP_MODEL_WARM || model->state == WP_MODEL_WARMING;
}

//  Decide.
size_t
wp_scheduler_decide (wp_scheduler_t *self, uint64_t now_ms, wp_decision_t *out,
                     size_t capacity)
{
    assert (self && out);
    //  Score the active models; drop the ones with nothing going on.
    size_t kept = 0;
    for (size_t i = 0; i < self->n_active; i++) {
        model_t *model = self->active [i];
        model->score = s_demand (self, model, now_ms, NULL);
        if (model->n_demand == 0 && model->state == WP_MODEL_COLD) {
            model->active = false;
            continue;
        }
        self->active [kept++] = model;
    }
    self->n_active = kept;
    //  qsort's array may not be NULL, even for no element (UBSan aborts)
    if (self->n_active > 1)
        qsort (self->active, self->n_active, sizeof (model_t *), s_by_benefit);

    //  Take wanted models greedily within the budgets.
    uint32_t count = 0;
    uint64_t memory = 0;
    size_t n = 0;
    bool *take = (bool *) calloc (self->n_active + 1, sizeof (bool));
    assert (take);
    for (size_t i = 0; i < self->n_active; i++) {
        model_t *model = self->active [i];
        double bar = s_holds (model) ? self->opts.threshold - self->opts.hysteresis
                                     : self->opts.threshold;
        bool wanted = model->external || (model->n_demand > 0 && model->score >= bar);
        if (!wanted)
            continue;
        //  A cold model that cannot be warmed this round takes no room
        //  from the ones that are held.
        if (!s_holds (model) && model->state != WP_MODEL_COOLING
            && !(self->opts.background && self->admit))
            continue;
        if (count + 1 > self->opts.max_warm_models)
            continue;
        if (self->opts.max_memory_mb && memory + model->memory_mb > self->opts.max_memory_mb)
            continue;
        take [i] = true;
        count++;
        memory += model->memory_mb;
    }
    //  Cool first (frees room), then warm.
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < self->n_active && n < capacity; i++) {
            model_t *model = self->active [i];
            wp_decision_t *d = &out [n];
            if (pass == 0 && !take [i] && s_holds (model)) {
                memset (d, 0, sizeof *d);
                d->model = model->name;
                d->action = WP_ACTION_COOL;
                d->priority = 2;
                d->memory_mb = model->memory_mb;
                if (model->score >= self->opts.threshold - self->opts.hysteresis)
                    snprintf (d->reason, sizeof d->reason,
                              "demand %.2f but no room (%u models, %u MiB budget)",
                              model->score, self->opts.max_warm_models,
                              (unsigned) self->opts.max_memory_mb);
                else
                    snprintf (d->reason, sizeof d->reason,
                              "demand %.2f below %.2f", model->score,
                              self->opts.threshold - self->opts.hysteresis);
                model->state = WP_MODEL_COOLING;
                n++;
            }
            else
            if (pass == 1 && take [i] && !s_holds (model)
                && model->state != WP_MODEL_COOLING
                && self->opts.background && self->admit) {
                uint64_t expected;
                s_demand (self, model, now_ms, &expected);
                memset (d, 0, sizeof *d);
                d->model = model->name;
                d->action = WP_ACTION_WARM;
                d->deadline_ms = expected;
                d->benefit_ms = model->score * model->load_ms;
                d->memory_mb = model->memory_mb;
                d->priority = expected < now_ms + model->load_ms ? 3 : 2;
                snprintf (d->reason, sizeof d->reason,
                          "demand %.2f >= %.2f from %u user(s)", model->score,
                          self->opts.threshold, (unsigned) model->n_demand);
                model->state = WP_MODEL_WARMING;
                n++;
            }
        }
    free (take);
    return n;
}

//  State of a model.
wp_model_state_t
wp_scheduler_state (wp_scheduler_t *self, const char *name)
{
    model_t *model = (model_t *) zhashx_lookup (self->by_name, name);
    return model ? model->state : WP_MODEL_COLD;
}

//  Demand of a model.
double
wp_scheduler_demand (wp_scheduler_t *self, const char *name, uint64_t now_ms)
{
    model_t *model = (model_t *) zhashx_lookup (self->by_name, name);
    return model ? s_demand (self, model, now_ms, NULL) : 0;
}

//  Models warm or warming.
uint32_t
wp_scheduler_warm_count (wp_scheduler_t *self)
{
    uint32_t count = 0;
    for (size_t i = 0; i < self->n_models; i++)
        if (s_holds (self->models [i]))
            count++;
    return count;
}

//  Their memory.
uint64_t
wp_scheduler_warm_memory_mb (wp_scheduler_t *self)
{
    uint64_t memory = 0;
    for (size_t i = 0; i < self->n_models; i++)
        if (s_holds (self->models [i]))
            memory += self->models [i]->memory_mb;
    return memory;
}
