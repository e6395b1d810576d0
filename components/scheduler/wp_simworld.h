/*  =========================================================================
    wp_simworld - the simulated world of EVAL.md section 2 as the scheduler
    mirrors it in a replay by windows (ClockTick.windowed).

    In a replay by windows the requests reach the scheduler without their
    outcome, many per round, so the scheduler plays the world's rules itself
    to know what a request found (warm, loading, absent) and what its own
    decisions do, exactly as warmup-eval's world (tools/eval/wp_eval_sim.c)
    and the replayer's copy of it: a model occupies memory_mb from the start
    of its load until it is unloaded; a load ends at start + load_ms; a
    model still loading cannot be unloaded; resident memory never exceeds
    the budget (0 = unbounded); least recently used means the earliest last
    request or pre-warm, ties to the model described first (catalog order).

    Plain C: no sockets, no clock. Times are event-time ms.
    =========================================================================
*/
#ifndef WP_SIMWORLD_H_INCLUDED
#define WP_SIMWORLD_H_INCLUDED

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _wp_simworld_t wp_simworld_t;

//  Create a world with a memory budget (MB, 0 = unbounded). A model never
//  described takes default_memory_mb and default_load_ms.
wp_simworld_t *
    wp_simworld_new (uint64_t budget_mb, uint32_t default_memory_mb,
                     uint32_t default_load_ms);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_simworld_destroy (wp_simworld_t **self_p);

//  Describe a model (in catalog order: the order breaks LRU ties).
void
    wp_simworld_model (wp_simworld_t *self, const char *model, uint32_t memory_mb,
                       uint32_t load_ms);

//  Memory of a model, MB.
uint32_t
    wp_simworld_memory_mb (wp_simworld_t *self, const char *model);

//  True if the model is resident (loaded or loading); *load_end (if given)
//  is when its load ends.
bool
    wp_simworld_resident (wp_simworld_t *self, const char *model, uint64_t *load_end);

//  True if the model is resident and its load has ended by now_ms.
bool
    wp_simworld_idle (wp_simworld_t *self, const char *model, uint64_t now_ms);

//  Free memory, MB (INT64_MAX when unbounded).
int64_t
    wp_simworld_free_mb (wp_simworld_t *self);

//  Memory of the models still loading at now_ms, MB.
int64_t
    wp_simworld_loading_mb (wp_simworld_t *self, uint64_t now_ms);

//  The budget, MB (0 = unbounded).
uint64_t
    wp_simworld_budget_mb (wp_simworld_t *self);

//  Start a load of the model at now_ms (it must not be resident and must
//  fit); a pre-warm also counts as a use (LRU).
void
    wp_simworld_load (wp_simworld_t *self, const char *model, uint64_t now_ms, bool prewarm);

//  Unload the model at now_ms: 0 unloaded, 1 not resident, -1 still loading.
int
    wp_simworld_unload (wp_simworld_t *self, const char *model, uint64_t now_ms);

//  A request for the model at now_ms (LRU).
void
    wp_simworld_touch (wp_simworld_t *self, const char *model, uint64_t now_ms);

//  Unload idle models, least recently used first, until need_mb is free.
//  0 if it is free, -1 if it cannot be made free.
int
    wp_simworld_evict_lru (wp_simworld_t *self, int64_t need_mb, uint64_t now_ms);

//  A cold request, after the policy made what room it would: as the
//  simulator does, evict idle models least recently used first if the
//  budget is short (unless the loads running leave it no room), and load
//  the model if it then fits. true if loaded, false if it could not be
//  (the request is served without it: uncacheable).
bool
    wp_simworld_admit (wp_simworld_t *self, const char *model, uint64_t now_ms);

//  Bytes of memory held.
size_t
    wp_simworld_state_bytes (wp_simworld_t *self);

#ifdef __cplusplus
}
#endif

#endif
