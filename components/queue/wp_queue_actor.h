/*  =========================================================================
    wp_queue_actor - WarmupQueue on the bus.

    Subscribes: warmup.requested, resource.status, perf.estimate (what
    models were learned to take). Queues each request
    (priority, dedupe per model, a request of the opposite action cancels
    a pending one, max_queue_size with the lowest priority dropped first,
    counted in every warmup.done as queue_dropped), runs up to
    max_concurrent_warmups at once (and each server's `concurrency`)
    through the model's backend (wp_backend.h: sim, exec, llama-server,
    ollama, openai-compatible, file), retries failures worth retrying
    with exponential backoff, and publishes warmup.done for every request
    it accepted: done, failed, timed out, cancelled or dropped, with the
    measured duration, the memory and where that number came from.

    A warm starts only when admitted: its memory (learned, else its
    memory_mb) within max_memory_mb for its RAM part and max_vram_mb for
    its GPU part (what the queue warmed, plus what the servers said was
    loaded when the queue started; an auto budget as resource.status
    measured it), the machine's available memory less memory_reserve_mb
    and the cgroup's headroom from the last resource.status, its GPU's
    free memory as last read less the reserve and the loads since, and for
    background warms (priority below HIGH) the CPU under max_cpu_percent.
    Held warms wait.

    Accepted tasks are kept in the component's LMDB environment (database
    "tasks") until their warmup.done and resumed after a restart.
    =========================================================================
*/
#ifndef WP_QUEUE_ACTOR_H_INCLUDED
#define WP_QUEUE_ACTOR_H_INCLUDED

#include "wp_component.h"

extern const wp_component_def_t wp_queue_def;

#endif
