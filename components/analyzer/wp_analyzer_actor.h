/*  =========================================================================
    wp_analyzer_actor - UsagePatternAnalyzer on the bus.

    Subscribes: usage.observed. Publishes: usage.pattern (one per valid
    usage event: the user's models with what was learned of each), and
    heartbeats. State: pairs and models in <data_dir>/analyzer (LMDB),
    loaded at start, written back every flush_ms.
    =========================================================================
*/
#ifndef WP_ANALYZER_ACTOR_H_INCLUDED
#define WP_ANALYZER_ACTOR_H_INCLUDED

#include "wp_component.h"

extern const wp_component_def_t wp_analyzer_def;

#endif
