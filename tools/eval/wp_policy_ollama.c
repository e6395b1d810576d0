/*  =========================================================================
    wp_policy_ollama - ollama: Ollama's scheduler defaults

    Source: Ollama (github.com/ollama/ollama), server/sched.go and its
    documented defaults: OLLAMA_KEEP_ALIVE 5 min, OLLAMA_MAX_LOADED_MODELS
    3 (per GPU; one device here). A model is unloaded 300 s after its last
    request (same boundary as keepalive:K); at most 3 models are resident;
    to make room (the count or the budget), the idle model whose keep-alive
    ends first is unloaded, ties by model name.
    Deviation: Ollama queues a request while all 3 slots hold models that
    are still loading; the simulated world has no queue, so such a request
    is `uncacheable` (waits load_ms, the model is not kept).
    =========================================================================
*/
#include "wp_eval_ttl.h"

#include <stdlib.h>

#define KEEP_MS 300000                  //  OLLAMA_KEEP_ALIVE default
#define MAX_LOADED 3                    //  OLLAMA_MAX_LOADED_MODELS default

//  Create the state.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    return wp_eval_timeout_new (sim, KEEP_MS);
}

//  Unload idle models, soonest keep-alive end first (ties by name), while
//  3 are resident or memory is short.
static int
s_make_room (void *state, wp_eval_sim_t *sim, uint32_t model, int64_t short_mb)
{
    wp_eval_timeout_t *self = state;
    wp_eval_catalog_t *catalog = wp_eval_sim_catalog (sim);
    int64_t need = wp_eval_catalog_memory_mb (catalog, model);
    while (wp_eval_sim_resident_count (sim) >= MAX_LOADED || wp_eval_sim_free_mb (sim) < need) {
        int64_t victim = -1;
        for (size_t i = 0; i < wp_eval_sim_resident_count (sim); i++) {
            uint32_t id = wp_eval_sim_resident_model (sim, i);
            if (wp_eval_sim_is_loading (sim, id))
                continue;
            if (victim < 0) {
                victim = id;
                continue;
            }
            int64_t a = wp_eval_ttl_expire (self->ttl, id);
            int64_t b = wp_eval_ttl_expire (self->ttl, (uint32_t) victim);
            if (a < b || (a == b && wp_eval_catalog_name_rank (catalog, id)
                                  < wp_eval_catalog_name_rank (catalog, (uint32_t) victim)))
                victim = id;
        }
        if (victim < 0)                 //  every slot is loading
            return wp_eval_sim_resident_count (sim) >= MAX_LOADED? 1: 0;
        wp_eval_sim_unload (sim, (uint32_t) victim);
    }
    return 0;
}

const wp_eval_policy_t wp_policy_ollama = {
    .family = "ollama",
    .summary = "keep-alive 300 s, at most 3 resident, evict soonest-expiring idle",
    .create = s_create,
    .destroy = wp_eval_timeout_destroy,
    .on_request = wp_eval_timeout_on_request,
    .on_timer = wp_eval_timeout_on_timer,
    .make_room = s_make_room,
    .state_bytes = wp_eval_timeout_bytes,
};
