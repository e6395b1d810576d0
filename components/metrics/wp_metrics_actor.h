/*  =========================================================================
    wp_metrics_actor - ModelWarmupMetrics on the bus.

    Subscribes to every topic. Counts events per topic, requests by
    outcome (warm, delayed, cold) with their wait, warmups and cools,
    and measures the usage -> prediction latency as it sees it (from its
    own receipt of a usage event to its receipt of the prediction that
    names that event as its cause). Publishes metrics.snapshot every
    metrics_interval_ms.
    =========================================================================
*/
#ifndef WP_METRICS_ACTOR_H_INCLUDED
#define WP_METRICS_ACTOR_H_INCLUDED

#include "wp_component.h"

extern const wp_component_def_t wp_metrics_def;

#endif
