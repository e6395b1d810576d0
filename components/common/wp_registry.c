/*  =========================================================================
    wp_registry - the seven components, in start order: consumers of an
    event start before its producers, so nothing published at start-up is
    missed by a component of the same process.
    =========================================================================
*/
#include "wp_component.h"
#include "wp_analyzer_actor.h"
#include "wp_engine_actor.h"
#include "wp_scheduler_actor.h"
#include "wp_resource_actor.h"
#include "wp_queue_actor.h"
#include "wp_perf_actor.h"
#include "wp_metrics_actor.h"

const wp_component_def_t *const wp_components [] = {
    &wp_metrics_def,
    &wp_perf_def,
    &wp_queue_def,
    &wp_scheduler_def,
    &wp_engine_def,
    &wp_analyzer_def,
    &wp_resource_def,
    NULL
};
