/*  =========================================================================
    wp_policy_lemonade - lemonade: Lemonade Server's model manager

    Source: Lemonade Server (github.com/lemonade-sdk/lemonade), as
    described in EVAL.md section 4: a model is unloaded after 300 s idle
    (same boundary as keepalive:K); when a load is short of memory, the
    idle model with the largest idle_ms / load_ms (longest idle relative to
    what it costs to bring back) is unloaded first, ties by lower model id.
    =========================================================================
*/
#include "wp_eval_ttl.h"

#include <stdlib.h>

#define IDLE_MS 300000                  //  idle time-out

//  Create the state.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    return wp_eval_timeout_new (sim, IDLE_MS);
}

//  Unload the idle model with the largest idle_ms / load_ms while short.
static int
s_make_room (void *state, wp_eval_sim_t *sim, uint32_t model, int64_t short_mb)
{
    wp_eval_catalog_t *catalog = wp_eval_sim_catalog (sim);
    int64_t need = wp_eval_catalog_memory_mb (catalog, model);
    int64_t now = wp_eval_sim_now (sim);
    while (wp_eval_sim_free_mb (sim) < need) {
        int64_t victim = -1;
        int64_t v_idle = 0, v_load = 1;
        for (size_t i = 0; i < wp_eval_sim_resident_count (sim); i++) {
            uint32_t id = wp_eval_sim_resident_model (sim, i);
            if (wp_eval_sim_is_loading (sim, id))
                continue;
            int64_t last = wp_eval_sim_last_request (sim, id);
            int64_t idle = last >= 0? now - last: now;
            int64_t load = wp_eval_catalog_load_ms (catalog, id);
            if (load < 1)
                load = 1;
            //  idle / load > v_idle / v_load, compared without division
            __int128 lhs = (__int128) idle * v_load, rhs = (__int128) v_idle * load;
            if (victim < 0 || lhs > rhs || (lhs == rhs && id < victim)) {
                victim = id;
                v_idle = idle;
                v_load = load;
            }
        }
        if (victim < 0)
            break;                      //  everything is loading
        wp_eval_sim_unload (sim, (uint32_t) victim);
    }
    return 0;
}

const wp_eval_policy_t wp_policy_lemonade = {
    .family = "lemonade",
    .summary = "unload after 300 s idle; when short, the largest idle_ms / load_ms",
    .create = s_create,
    .destroy = wp_eval_timeout_destroy,
    .on_request = wp_eval_timeout_on_request,
    .on_timer = wp_eval_timeout_on_timer,
    .make_room = s_make_room,
    .state_bytes = wp_eval_timeout_bytes,
};
