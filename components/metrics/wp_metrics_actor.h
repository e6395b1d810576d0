/*  =========================================================================
    wp_metrics_actor - ModelWarmupMetrics on the bus, and over HTTP.

    Subscribes to every topic. Counts events per topic, requests by
    outcome (warm, delayed, cold) with their wait, per model too; pre-warms
    and whether they were used; resident memory-time; prediction quality
    by horizon range; the usage -> prediction latency as it sees it (from
    its own receipt of a usage event to its receipt of the prediction that
    names that event as its cause); each component's latest heartbeat.
    Publishes metrics.snapshot every metrics_interval_ms, and samples the
    dashboard's history at the same period.

    Serves, in its own zloop, at metrics_listen (--metrics-listen; default
    127.0.0.1:9464, port 0 takes a free port, "off" serves nothing):
        GET /               the dashboard (one offline HTML page)
        GET /metrics        Prometheus text exposition format 0.0.4
        GET /api/snapshot   the same counters and more as one JSON object
    and logs "metrics: serving http://HOST:PORT/ ..." with the real port
    when it starts. A bad address or a port in use fails START.
    docs/metrics.md defines every metric.
    =========================================================================
*/
#ifndef WP_METRICS_ACTOR_H_INCLUDED
#define WP_METRICS_ACTOR_H_INCLUDED

#include "wp_component.h"

extern const wp_component_def_t wp_metrics_def;

#endif
