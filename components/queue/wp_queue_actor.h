/*  =========================================================================
    wp_queue_actor - WarmupQueue on the bus.

    Subscribes: warmup.requested. Queues each request (priority, dedupe per
    model, a request of the opposite action cancels a pending one,
    max_queue_size with the lowest priority dropped first), runs up to
    max_concurrent_warmups at once through the model's backend, times them
    out after warmup_timeout_seconds, and publishes warmup.done for every
    request it accepted: done, failed, timed out, cancelled or dropped.

    Backends: "sim" (the default: a simulated load that takes the model's
    load_ms, clearly reported as backend "sim") and "exec" (runs the
    model's command / cool_command through /bin/sh, %m = model name,
    watched through a pidfd, stderr captured for the error text).
    =========================================================================
*/
#ifndef WP_QUEUE_ACTOR_H_INCLUDED
#define WP_QUEUE_ACTOR_H_INCLUDED

#include "wp_component.h"

extern const wp_component_def_t wp_queue_def;

#endif
