/*  =========================================================================
    wp_metrics_export - the metrics core rendered for readers: the
    Prometheus text exposition format (version 0.0.4) for /metrics, and
    one JSON object for /api/snapshot and the dashboard.

    Plain C, no I/O, no clock: the caller passes the wall time. Labels are
    model, component, topic, horizon, state, action and result; never a
    user (the core keeps no user id). Every name is in docs/metrics.md.
    =========================================================================
*/

#ifndef WP_METRICS_EXPORT_H_INCLUDED
#define WP_METRICS_EXPORT_H_INCLUDED

#include "wp_metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

//  What the export adds to the core's counters.
typedef struct {
    uint64_t now_ms;            // wall clock: heartbeats older than three
                                // intervals count as a component gone
    uint64_t started_ms;        // when the metrics component started
    double threshold;           // probability of a positive guess
    const char *endpoint;       // HTTP endpoint "host:port", or NULL
    size_t history_max;         // history samples in the JSON at most
                                // (0 = all kept)
} wp_metrics_export_info_t;

//  The Prometheus text exposition. Returns a string the caller frees.
char *
    wp_metrics_export_prometheus (wp_metrics_t *metrics,
                                  const wp_metrics_export_info_t *info);

//  The JSON snapshot. Returns a string the caller frees.
char *
    wp_metrics_export_json (wp_metrics_t *metrics, const wp_metrics_export_info_t *info);

//  The seed's summary figures, also in the JSON "summary" object and in
//  warmupctl metrics: predictions seen, prediction accuracy over every
//  horizon (NaN when none scored), mean usage -> prediction latency in
//  ms (NaN without samples), and resource efficiency: useful_prewarms /
//  prewarms (1 without pre-warms).
typedef struct {
    uint64_t total_predictions;
    double accuracy;
    double avg_prediction_latency_ms;
    double resource_efficiency;
} wp_metrics_summary_t;

//  Fill *summary.
void
    wp_metrics_export_summary (wp_metrics_t *metrics, wp_metrics_summary_t *summary);

#ifdef __cplusplus
}
#endif

#endif
