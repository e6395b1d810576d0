/*  =========================================================================
    wp_scheduler_actor - WarmupScheduler on the bus.

    Subscribes: prediction.made, warmup.done, perf.estimate (load times,
    and what models were learned to take), resource.status (admission,
    the devices and the budgets as measured). Publishes: warmup.requested
    (warm and cool decisions), warmup.deferred (a wanted model waits for
    room, or no longer does). Decides on every prediction and once a
    second (so that models whose predictions expire are cooled).
    =========================================================================
*/
#ifndef WP_SCHEDULER_ACTOR_H_INCLUDED
#define WP_SCHEDULER_ACTOR_H_INCLUDED

#include "wp_component.h"

extern const wp_component_def_t wp_scheduler_def;

#endif
