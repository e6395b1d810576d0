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

//  Device memory as the latest resource.status measured it (RAM first,
//  then each GPU), with the budgets in force. Device ids are "ram" or
//  "gpuN" (wp_metrics_memory_take checks them), names printable text.
#define WP_METRICS_DEVICES_MAX 33
typedef struct {
    char device [8];            // "ram", "gpu0", ...
    char name [64];             // GPU product name ("" for RAM)
    uint64_t total_mb, used_mb, ours_mb, others_mb, reserved_mb, capacity_mb;
    bool managed;               // a GPU this service uses
    bool ours_by_processes;     // ours from the watched processes (else
                                // from what the models warm on it hold)
} wp_metrics_device_t;

typedef struct {
    bool known;                 // a resource.status with devices was seen
    uint64_t seen_ms;           // when (wall clock)
    wp_metrics_device_t devices [WP_METRICS_DEVICES_MAX];
    size_t n_devices;
    uint64_t budget_mb;         // the RAM budget in force (0 = none)
    uint64_t vram_budget_mb;    // the GPU budget in force (0 = none)
    bool memory_auto, vram_auto;// ... measured
    uint64_t warm_memory_mb;    // RAM the warm models hold, as the resource
                                // manager counts them
} wp_metrics_memory_t;

//  What the export adds to the core's counters.
typedef struct {
    uint64_t now_ms;            // wall clock: heartbeats older than three
                                // intervals count as a component gone
    uint64_t started_ms;        // when the metrics component started
    double threshold;           // probability of a positive guess
    const char *endpoint;       // HTTP endpoint "host:port", or NULL
    size_t history_max;         // history samples in the JSON at most
                                // (0 = all kept)
    const wp_metrics_memory_t *memory;  // device memory, or NULL
} wp_metrics_export_info_t;

//  Keep the devices of a resource.status (in, filled by the caller) in
//  *memory. Returns 0, or -1 (nothing kept) when a device id is not "ram"
//  or "gpuN", a name is not printable ASCII, or there are too many.
int
    wp_metrics_memory_take (wp_metrics_memory_t *memory, const wp_metrics_memory_t *in);

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
