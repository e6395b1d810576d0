/*  =========================================================================
    wp_policy_plugin - a policy from a shared library (include/warmup/policy.h)

    `--policy plugin:PATH[:knob]` loads PATH with dlopen, finds its
    warmup_policy_v1, checks the ABI version, its name and its callbacks,
    and wraps it in a wp_eval_policy_t whose callbacks hand the simulated
    world to the plug-in through a warmup_host_t (the world is the
    wp_eval_sim_t itself). A library is loaded once per path and stays
    loaded until the process ends (its policy table lives in it). Its name
    must not be a built-in policy's: reports name it by that name.
    =========================================================================
*/
#include "wp_eval_sim.h"
#include "warmup/policy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A loaded plug-in.
typedef struct {
    char *path;                     //  as given
    void *handle;                   //  dlopen's
    const warmup_policy_t *plugin;  //  its table
    wp_eval_policy_t policy;        //  the wrapper warmup-eval runs
} s_plugin_t;

//  One run of a plug-in: its table and its state.
typedef struct {
    const warmup_policy_t *plugin;
    void *state;
    int64_t timer_time;             //  event time of the last timers fired
    uint64_t timer_run;             //  timers fired at it in a row
} s_run_t;

//  Timers fired at one event time in a row before the run is stopped: a
//  plug-in that sets a timer at now from its timer would never end.
#define TIMER_RUN_MAX 10000000

#define PLUGINS_MAX 16
static s_plugin_t *s_plugins [PLUGINS_MAX];
static size_t s_nplugins;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;  //  the configuration's
                                //  check and the scheduler load from two threads

//  The host table: the simulated world, as the plug-in sees it.
static wp_eval_sim_t *
s_sim (warmup_world_t *world)
{
    return (wp_eval_sim_t *) world;
}

static int64_t
s_now (warmup_world_t *w)
{
    return wp_eval_sim_now (s_sim (w));
}

static uint32_t
s_models (warmup_world_t *w)
{
    return (uint32_t) wp_eval_catalog_size (wp_eval_sim_catalog (s_sim (w)));
}

static uint32_t
s_memory_mb (warmup_world_t *w, uint32_t model)
{
    return model < s_models (w) ? wp_eval_catalog_memory_mb (wp_eval_sim_catalog (s_sim (w)),
                                                              model) : 0;
}

static uint32_t
s_load_ms (warmup_world_t *w, uint32_t model)
{
    return model < s_models (w) ? wp_eval_catalog_load_ms (wp_eval_sim_catalog (s_sim (w)),
                                                            model) : 0;
}

static const char *
s_model_name (warmup_world_t *w, uint32_t model)
{
    return model < s_models (w) ? wp_eval_catalog_name (wp_eval_sim_catalog (s_sim (w)), model)
                                : NULL;
}

static int64_t
s_budget_mb (warmup_world_t *w)
{
    return wp_eval_sim_budget_mb (s_sim (w));
}

static int64_t
s_free_mb (warmup_world_t *w)
{
    return wp_eval_sim_free_mb (s_sim (w));
}

static bool
s_is_resident (warmup_world_t *w, uint32_t model)
{
    return model < s_models (w) && wp_eval_sim_is_resident (s_sim (w), model);
}

static bool
s_is_loading (warmup_world_t *w, uint32_t model)
{
    return model < s_models (w) && wp_eval_sim_is_loading (s_sim (w), model);
}

static int64_t
s_load_end (warmup_world_t *w, uint32_t model)
{
    return s_is_resident (w, model) ? wp_eval_sim_load_end (s_sim (w), model) : -1;
}

static size_t
s_resident_count (warmup_world_t *w)
{
    return wp_eval_sim_resident_count (s_sim (w));
}

static uint32_t
s_resident_model (warmup_world_t *w, size_t index)
{
    return wp_eval_sim_resident_model (s_sim (w), index);
}

static int
s_prewarm (warmup_world_t *w, uint32_t model)
{
    return model < s_models (w) ? wp_eval_sim_prewarm (s_sim (w), model) : -1;
}

static int
s_unload (warmup_world_t *w, uint32_t model)
{
    return model < s_models (w) && wp_eval_sim_unload (s_sim (w), model) == 0 ? 0 : -1;
}

static int
s_unload_at (warmup_world_t *w, uint32_t model, int64_t time_ms)
{
    return model < s_models (w) && wp_eval_sim_unload_at (s_sim (w), model, time_ms) == 0
           ? 0 : -1;
}

static int
s_set_timer (warmup_world_t *w, int64_t time_ms, uint32_t model, uint64_t token)
{
    return wp_eval_sim_set_timer (s_sim (w), time_ms, model, token);
}

static const warmup_host_t s_host = {
    .abi = WARMUP_POLICY_ABI, .now = s_now, .models = s_models, .memory_mb = s_memory_mb,
    .load_ms = s_load_ms, .model_name = s_model_name, .budget_mb = s_budget_mb,
    .free_mb = s_free_mb, .is_resident = s_is_resident, .is_loading = s_is_loading,
    .load_end = s_load_end,
    .resident_count = s_resident_count, .resident_model = s_resident_model,
    .prewarm = s_prewarm, .unload = s_unload, .unload_at = s_unload_at,
    .set_timer = s_set_timer,
};

//  The wrapper's callbacks: the run's state is s_run_t.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    const s_plugin_t *loaded = (const s_plugin_t *) wp_eval_sim_policy (sim)->data;
    s_run_t *run = calloc (1, sizeof (s_run_t));
    if (!run)
        return NULL;
    run->plugin = loaded->plugin;
    run->state = loaded->plugin->create (&s_host, (warmup_world_t *) sim, knob);
    if (!run->state) {
        free (run);
        return NULL;
    }
    return run;
}

static void
s_destroy (void **self_p)
{
    s_run_t *run = (s_run_t *) *self_p;
    if (!run)
        return;
    run->plugin->destroy (run->state);
    free (run);
    *self_p = NULL;
}

static int
s_on_request (void *self, wp_eval_sim_t *sim, const wp_eval_request_t *request,
              wp_eval_outcome_t outcome)
{
    s_run_t *run = (s_run_t *) self;
    warmup_request_t r = { request->time, request->user, request->model };
    return run->plugin->on_request (run->state, &r, (warmup_outcome_t) outcome);
}

static int
s_on_timer (void *self, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    s_run_t *run = (s_run_t *) self;
    int64_t now = wp_eval_sim_now (sim);
    run->timer_run = now == run->timer_time ? run->timer_run + 1 : 1;
    run->timer_time = now;
    if (run->timer_run > TIMER_RUN_MAX) {
        fprintf (stderr, "plugin %s: more than %d timers at %lld ms in a row: a timer set"
                 " at now from on_timer?\n", run->plugin->name, TIMER_RUN_MAX,
                 (long long) now);
        return -1;
    }
    return run->plugin->on_timer (run->state, model, token);
}

static int
s_make_room (void *self, wp_eval_sim_t *sim, uint32_t model, int64_t short_mb)
{
    s_run_t *run = (s_run_t *) self;
    return run->plugin->make_room (run->state, model, short_mb);
}

static size_t
s_state_bytes (void *self)
{
    s_run_t *run = (s_run_t *) self;
    return sizeof *run + run->plugin->state_bytes (run->state);
}

static const wp_eval_policy_t *s_load (const char *path, char *error);

//  Load a plug-in (once per path); its wrapper, or NULL with the reason.
const wp_eval_policy_t *
wp_policy_plugin_load (const char *path, char *error)
{
    pthread_mutex_lock (&s_lock);
    const wp_eval_policy_t *policy = s_load (path, error);
    pthread_mutex_unlock (&s_lock);
    return policy;
}

static const wp_eval_policy_t *
s_load (const char *path, char *error)
{
    for (size_t i = 0; i < s_nplugins; i++)
        if (strcmp (s_plugins [i]->path, path) == 0)
            return &s_plugins [i]->policy;
    if (s_nplugins == PLUGINS_MAX) {
        snprintf (error, WP_EVAL_ERRLEN, "plugin %s: at most %d plug-ins at once", path,
                  PLUGINS_MAX);
        return NULL;
    }
    void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf (error, WP_EVAL_ERRLEN, "plugin %s: cannot load: %s", path, dlerror ());
        return NULL;
    }
    warmup_policy_fn *entry = (warmup_policy_fn *) dlsym (handle, WARMUP_POLICY_SYMBOL);
    const warmup_policy_t *plugin = entry ? entry () : NULL;
    const char *wrong = !entry ? "no " WARMUP_POLICY_SYMBOL " symbol"
                      : !plugin ? WARMUP_POLICY_SYMBOL " returned NULL"
                      : plugin->abi != WARMUP_POLICY_ABI ? "ABI version differs"
                      : !wp_policy_name_free (plugin->name) ? "name is not [a-z0-9-]+ or is a built-in's"
                      : !plugin->create || !plugin->destroy || !plugin->on_request
                        || !plugin->on_timer ? "create, destroy, on_request or on_timer missing"
                      : plugin->knob && !(plugin->knob_min <= plugin->knob_default
                                          && plugin->knob_default <= plugin->knob_max)
                        ? "knob_default is not in [knob_min, knob_max]" : NULL;
    if (wrong) {
        if (plugin && plugin->abi != WARMUP_POLICY_ABI)
            snprintf (error, WP_EVAL_ERRLEN, "plugin %s: ABI version %u, this build loads %u",
                      path, plugin->abi, WARMUP_POLICY_ABI);
        else
            snprintf (error, WP_EVAL_ERRLEN, "plugin %s: %s", path, wrong);
        dlclose (handle);
        return NULL;
    }
    s_plugin_t *loaded = calloc (1, sizeof (s_plugin_t));
    if (!loaded || !(loaded->path = strdup (path))) {
        free (loaded);
        dlclose (handle);
        snprintf (error, WP_EVAL_ERRLEN, "out of memory");
        return NULL;
    }
    loaded->handle = handle;
    loaded->plugin = plugin;
    loaded->policy = (wp_eval_policy_t) {
        .family = plugin->name, .knob = plugin->knob,
        .knob_default = plugin->knob ? plugin->knob_default : 0,
        .knob_min = plugin->knob_min, .knob_max = plugin->knob_max,
        .summary = plugin->summary ? plugin->summary : "a plug-in",
        .create = s_create, .destroy = s_destroy, .on_request = s_on_request,
        .on_timer = s_on_timer, .make_room = plugin->make_room ? s_make_room : NULL,
        .state_bytes = plugin->state_bytes ? s_state_bytes : NULL, .data = loaded,
    };
    s_plugins [s_nplugins++] = loaded;
    return &loaded->policy;
}
