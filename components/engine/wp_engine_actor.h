/*  =========================================================================
    wp_engine_actor - PredictionEngine on the bus.

    Subscribes: usage.pattern, perf.estimate, usage.intent. Publishes:
    prediction.made: one per pattern (the user's models with probability,
    expected time to use, confidence and plan, the engine version and its
    compute time), and one per intent that makes a model worth warming
    ahead (those models, each with its window; wp_intent.h). Its learning
    is held in memory (heartbeats report its bytes): the analyzer's store
    holds what the patterns are made from.
    =========================================================================
*/
#ifndef WP_ENGINE_ACTOR_H_INCLUDED
#define WP_ENGINE_ACTOR_H_INCLUDED

#include "wp_component.h"

extern const wp_component_def_t wp_engine_def;

#endif
