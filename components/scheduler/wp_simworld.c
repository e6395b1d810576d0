/*  =========================================================================
    wp_simworld - the simulated world of EVAL.md section 2 as the scheduler
    mirrors it in a replay by windows.

    A hash of models (name -> state) and a list of the resident ones
    (swap-remove) for the least-recently-used and loading scans.
    =========================================================================
*/
#include <czmq.h>
#include "wp_simworld.h"

//  One model.
typedef struct {
    char *name;                 //  its name (owned)
    uint32_t index;             //  order described (LRU ties)
    uint32_t memory_mb;         //  memory while resident
    uint32_t load_ms;           //  load time
    bool resident;              //  loaded or loading
    uint64_t load_end;          //  end of the current load
    int64_t last_touch;         //  last request or pre-warm, -1 none
    size_t slot;                //  index in the resident list
} s_model_t;

struct _wp_simworld_t {
    zhashx_t *models;           //  name -> s_model_t
    uint32_t n_models;          //  models described or met
    s_model_t **resident;       //  resident models
    size_t n_resident;          //  how many
    size_t cap_resident;        //  allocated
    uint64_t budget_mb;         //  0 = unbounded
    int64_t resident_mb;        //  memory of the resident models
    uint32_t default_memory_mb; //  a model never described
    uint32_t default_load_ms;
};

//  Free a model.
static void
s_model_free (void **item_p)
{
    s_model_t *model = (s_model_t *) *item_p;
    if (model) {
        free (model->name);
        free (model);
        *item_p = NULL;
    }
}

//  Create a world.
wp_simworld_t *
wp_simworld_new (uint64_t budget_mb, uint32_t default_memory_mb, uint32_t default_load_ms)
{
    wp_simworld_t *self = (wp_simworld_t *) zmalloc (sizeof (wp_simworld_t));
    assert (self);
    self->models = zhashx_new ();
    assert (self->models);
    zhashx_set_destructor (self->models, s_model_free);
    self->budget_mb = budget_mb;
    self->default_memory_mb = default_memory_mb;
    self->default_load_ms = default_load_ms;
    return self;
}

//  Destroy.
void
wp_simworld_destroy (wp_simworld_t **self_p)
{
    if (self_p && *self_p) {
        wp_simworld_t *self = *self_p;
        zhashx_destroy (&self->models);
        free (self->resident);
        free (self);
        *self_p = NULL;
    }
}

//  The model of a name, added with the defaults if never met.
static s_model_t *
s_model (wp_simworld_t *self, const char *name)
{
    s_model_t *model = (s_model_t *) zhashx_lookup (self->models, name);
    if (!model) {
        model = (s_model_t *) zmalloc (sizeof (s_model_t));
        assert (model);
        model->name = strdup (name);
        assert (model->name);
        model->index = self->n_models++;
        model->memory_mb = self->default_memory_mb;
        model->load_ms = self->default_load_ms;
        model->last_touch = -1;
        zhashx_insert (self->models, name, model);
    }
    return model;
}

//  Describe a model.
void
wp_simworld_model (wp_simworld_t *self, const char *name, uint32_t memory_mb, uint32_t load_ms)
{
    assert (self && name);
    s_model_t *model = s_model (self, name);
    assert (!model->resident);
    model->memory_mb = memory_mb;
    model->load_ms = load_ms;
}

//  Memory of a model.
uint32_t
wp_simworld_memory_mb (wp_simworld_t *self, const char *name)
{
    return s_model (self, name)->memory_mb;
}

//  Resident?
bool
wp_simworld_resident (wp_simworld_t *self, const char *name, uint64_t *load_end)
{
    s_model_t *model = (s_model_t *) zhashx_lookup (self->models, name);
    if (!model || !model->resident)
        return false;
    if (load_end)
        *load_end = model->load_end;
    return true;
}

//  Resident and loaded?
bool
wp_simworld_idle (wp_simworld_t *self, const char *name, uint64_t now_ms)
{
    uint64_t load_end;
    return wp_simworld_resident (self, name, &load_end) && now_ms >= load_end;
}

//  Free memory.
int64_t
wp_simworld_free_mb (wp_simworld_t *self)
{
    return self->budget_mb ? (int64_t) self->budget_mb - self->resident_mb : INT64_MAX;
}

//  Memory still loading.
int64_t
wp_simworld_loading_mb (wp_simworld_t *self, uint64_t now_ms)
{
    int64_t mb = 0;
    for (size_t i = 0; i < self->n_resident; i++)
        if (now_ms < self->resident [i]->load_end)
            mb += self->resident [i]->memory_mb;
    return mb;
}

//  The budget.
uint64_t
wp_simworld_budget_mb (wp_simworld_t *self)
{
    return self->budget_mb;
}

//  Start a load.
void
wp_simworld_load (wp_simworld_t *self, const char *name, uint64_t now_ms, bool prewarm)
{
    s_model_t *model = s_model (self, name);
    assert (!model->resident);
    if (self->n_resident == self->cap_resident) {
        self->cap_resident = self->cap_resident ? 2 * self->cap_resident : 64;
        self->resident = (s_model_t **) realloc (self->resident,
                                                 self->cap_resident * sizeof (s_model_t *));
        assert (self->resident);
    }
    model->resident = true;
    model->load_end = now_ms + model->load_ms;
    model->slot = self->n_resident;
    self->resident [self->n_resident++] = model;
    self->resident_mb += model->memory_mb;
    if (prewarm)
        model->last_touch = (int64_t) now_ms;
}

//  Take a model out.
static void
s_unload (wp_simworld_t *self, s_model_t *model)
{
    s_model_t *last = self->resident [--self->n_resident];
    self->resident [model->slot] = last;
    last->slot = model->slot;
    model->resident = false;
    self->resident_mb -= model->memory_mb;
}

//  Unload a model.
int
wp_simworld_unload (wp_simworld_t *self, const char *name, uint64_t now_ms)
{
    s_model_t *model = (s_model_t *) zhashx_lookup (self->models, name);
    if (!model || !model->resident)
        return 1;
    if (now_ms < model->load_end)
        return -1;
    s_unload (self, model);
    return 0;
}

//  A request.
void
wp_simworld_touch (wp_simworld_t *self, const char *name, uint64_t now_ms)
{
    s_model (self, name)->last_touch = (int64_t) now_ms;
}

//  Evict least recently used idle models until need_mb is free.
int
wp_simworld_evict_lru (wp_simworld_t *self, int64_t need_mb, uint64_t now_ms)
{
    if (!self->budget_mb)
        return 0;
    while ((int64_t) self->budget_mb - self->resident_mb < need_mb) {
        s_model_t *victim = NULL;
        for (size_t i = 0; i < self->n_resident; i++) {
            s_model_t *model = self->resident [i];
            if (now_ms < model->load_end)
                continue;
            if (!victim || model->last_touch < victim->last_touch
                || (model->last_touch == victim->last_touch && model->index < victim->index))
                victim = model;
        }
        if (!victim)
            return -1;
        s_unload (self, victim);
    }
    return 0;
}

//  A cold request's load, making room by LRU if the budget is short.
bool
wp_simworld_admit (wp_simworld_t *self, const char *name, uint64_t now_ms)
{
    int64_t need = wp_simworld_memory_mb (self, name);
    int64_t budget = (int64_t) self->budget_mb;
    bool fits = true;
    if (budget && wp_simworld_free_mb (self) < need) {
        if (need <= budget - wp_simworld_loading_mb (self, now_ms))
            fits = wp_simworld_evict_lru (self, need, now_ms) == 0;
        else
            fits = false;
    }
    if (fits)
        wp_simworld_load (self, name, now_ms, false);
    return fits;
}

//  Bytes held.
size_t
wp_simworld_state_bytes (wp_simworld_t *self)
{
    return sizeof *self + self->cap_resident * sizeof (s_model_t *)
         + zhashx_size (self->models) * (sizeof (s_model_t) + 48);
}
