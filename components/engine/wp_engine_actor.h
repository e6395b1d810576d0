/*  =========================================================================
    wp_engine_actor - PredictionEngine on the bus.

    Subscribes: usage.pattern. Publishes: prediction.made (one per
    pattern: the user's models with probability, expected time to use and
    confidence, the engine version and its compute time). No state of its
    own yet: the learned state is the analyzer's.
    =========================================================================
*/
#ifndef WP_ENGINE_ACTOR_H_INCLUDED
#define WP_ENGINE_ACTOR_H_INCLUDED

#include "wp_component.h"

extern const wp_component_def_t wp_engine_def;

#endif
