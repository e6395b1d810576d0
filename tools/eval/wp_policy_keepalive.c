/*  =========================================================================
    wp_policy_keepalive - keepalive:K, a fixed idle time-out

    Source: the keep-alive of serverless platforms and model runtimes
    (Ollama's OLLAMA_KEEP_ALIVE, default 5 min = keepalive:300); EVAL.md
    uses keepalive:600 as the normaliser of wasted_pct. A model is unloaded
    K seconds after its last request arrived: a request at exactly last + K
    is still warm, one at last + K + 1 ms is cold, and the model's memory
    is charged up to last + K (this reproduces EVAL.md's reference
    figures); if it is still loading then, at the end of its load. When
    the budget is short: least recently used.
    Knob: K in seconds (default 600).
    =========================================================================
*/
#include "wp_eval_ttl.h"

#include <stdlib.h>

//  Create the state.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    return wp_eval_timeout_new (sim, (int64_t) (knob * 1000));
}

static const double s_sweep [] = { 10, 30, 60, 120, 300, 600, 1200, 3600, 14400 };

const wp_eval_policy_t wp_policy_keepalive = {
    .family = "keepalive",
    .knob = "K_s",
    .knob_default = 600,
    .knob_min = 0,
    .knob_max = 86400.0 * 365,
    .knob_integer = false,
    .sweep = s_sweep,
    .sweep_len = sizeof (s_sweep) / sizeof (s_sweep [0]),
    .summary = "unload K s after the last request (default 600); LRU when short",
    .create = s_create,
    .destroy = wp_eval_timeout_destroy,
    .on_request = wp_eval_timeout_on_request,
    .on_timer = wp_eval_timeout_on_timer,
    .make_room = NULL,
    .state_bytes = wp_eval_timeout_bytes,
};
