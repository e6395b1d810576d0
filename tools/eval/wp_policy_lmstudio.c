/*  =========================================================================
    wp_policy_lmstudio - lmstudio: LM Studio's just-in-time loading

    Source: LM Studio documentation ("Idle TTL and Auto-Evict", lmstudio.ai
    docs, app/api/ttl-and-auto-evict): JIT-loaded models get a default
    idle TTL of 60 minutes; with auto-evict on (the default), loading a
    model through JIT unloads the models previously loaded through JIT.
    Here every load is request-loaded (JIT), so a cold start unloads every
    other idle resident model; a model still loading is left alone. A
    model leaves 3600 s after its last request (same boundary as
    keepalive:K). LRU if the budget is still short.
    =========================================================================
*/
#include "wp_eval_ttl.h"

#include <stdlib.h>

#define TTL_MS 3600000                  //  default idle TTL of JIT models

//  Create the state.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    return wp_eval_timeout_new (sim, TTL_MS);
}

//  Auto-evict: a JIT load unloads every other idle JIT-loaded model.
static int
s_make_room (void *state, wp_eval_sim_t *sim, uint32_t model, int64_t short_mb)
{
    size_t i = 0;
    while (i < wp_eval_sim_resident_count (sim)) {
        uint32_t id = wp_eval_sim_resident_model (sim, i);
        if (!wp_eval_sim_is_loading (sim, id) && !wp_eval_sim_is_prewarmed (sim, id))
            wp_eval_sim_unload (sim, id);      //  swaps another model into slot i
        else
            i++;
    }
    return 0;
}

const wp_eval_policy_t wp_policy_lmstudio = {
    .family = "lmstudio",
    .summary = "idle TTL 3600 s; a request-loaded model unloads the others (auto-evict)",
    .create = s_create,
    .destroy = wp_eval_timeout_destroy,
    .on_request = wp_eval_timeout_on_request,
    .on_timer = wp_eval_timeout_on_timer,
    .make_room = s_make_room,
    .state_bytes = wp_eval_timeout_bytes,
};
