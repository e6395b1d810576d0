/*  =========================================================================
    wp_perf_actor - PerformancePredictor on the bus.

    Subscribes: warmup.done. For each finished warm it learns the model's
    load time (EMA and quantiles) and memory, and publishes perf.estimate.
    State: per-model statistics in <data_dir>/perf (LMDB).
    =========================================================================
*/
#ifndef WP_PERF_ACTOR_H_INCLUDED
#define WP_PERF_ACTOR_H_INCLUDED

#include "wp_component.h"

extern const wp_component_def_t wp_perf_def;

#endif
