/*  =========================================================================
    wp_perf_actor - PerformancePredictor on the bus.

    Subscribes: warmup.done, resource.status, heartbeat. For each finished
    warm it learns the model's load time (EMA and quantiles), and what the
    model takes when its server or files said it (memory_source server,
    server-weights, resident); from resource.status, what loads were
    measured to take. Publishes perf.estimate (with the learned memory) on
    each, and every learned memory again when a scheduler or queue
    instance appears (its first heartbeat) and at start.
    State: per-model statistics in <data_dir>/perf (LMDB; database
    "models", and "memory" for the learned memory).
    =========================================================================
*/
#ifndef WP_PERF_ACTOR_H_INCLUDED
#define WP_PERF_ACTOR_H_INCLUDED

#include "wp_component.h"

extern const wp_component_def_t wp_perf_def;

#endif
