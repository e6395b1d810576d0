/*  =========================================================================
    wp_policy_predictive - predictive and model files (warmupctl train,
    warmup-eval --model; wp_engine_file.h).
    =========================================================================
*/
#ifndef WP_POLICY_PREDICTIVE_H_INCLUDED
#define WP_POLICY_PREDICTIVE_H_INCLUDED

#include <stdbool.h>
#include "wp_engine.h"

//  Every later run's engine starts from learned (NULL: from nothing),
//  merged or replaced as wp_engine_learn_from says.
void
    wp_policy_predictive_start_from (const wp_engine_learned_t *learned, bool merge);

//  What the latest run's engine had learned when it ended; false if no
//  run ended yet.
bool
    wp_policy_predictive_last_learned (wp_engine_learned_t *out);

#endif
