/*  =========================================================================
    wp_eval_ttl - per-model expiry timers shared by the time-out policies

    Each model has an expiry time E: it stays resident through E (a request
    at exactly E is served warm) and leaves at E if no request came, its
    memory charged up to E (the timer noticing it fires at E + 1 ms, see
    wp_eval_sim_unload_at). When E passes, the model is unloaded
    (if it is still loading then, at the end of its load). At most one
    timer per model is pending at a time when expiries only move later
    (the usual keep-alive case): a timer that falls due before the current
    expiry re-arms itself. Timers of this helper carry a token below 2^62;
    a policy that sets timers of its own marks them with WP_EVAL_TTL_OWN.
    =========================================================================
*/
#ifndef WP_EVAL_TTL_H_INCLUDED
#define WP_EVAL_TTL_H_INCLUDED

#include "wp_eval_sim.h"
#include "wp_eval_policy.h"

//  Bit a policy sets in the tokens of its own (non-expiry) timers.
#define WP_EVAL_TTL_OWN (1ULL << 63)

typedef struct _wp_eval_ttl_t wp_eval_ttl_t;

//  Create expiries for this many models, none set; NULL on failure.
wp_eval_ttl_t *
    wp_eval_ttl_new (size_t models);

//  Destroy; safe on NULL, nulls the pointer.
void
    wp_eval_ttl_destroy (wp_eval_ttl_t **self_p);

//  Set the model's expiry (ms; -1 = never) and arm a timer if needed.
//  0, or -1 on allocation failure.
int
    wp_eval_ttl_set (wp_eval_ttl_t *self, wp_eval_sim_t *sim, uint32_t model, int64_t expire);

//  The model's expiry, or -1.
int64_t
    wp_eval_ttl_expire (wp_eval_ttl_t *self, uint32_t model);

//  Handle a due timer with a token below WP_EVAL_TTL_OWN: unload the model
//  if it has expired, else re-arm. 0, or -1 on allocation failure.
int
    wp_eval_ttl_fire (wp_eval_ttl_t *self, wp_eval_sim_t *sim, uint32_t model, uint64_t token);

//  Bytes of memory held.
size_t
    wp_eval_ttl_bytes (wp_eval_ttl_t *self);

//  --- An idle time-out policy --------------------------------------------
//  The state and callbacks shared by the policies that keep a model a
//  fixed time after its last request (keepalive, ollama, lmstudio,
//  lemonade); they differ only in the time and in how they make room.

//  State: the time-out and the expiries.
typedef struct {
    int64_t keep_ms;            //  idle time-out, ms
    wp_eval_ttl_t *ttl;         //  per-model expiries
} wp_eval_timeout_t;

//  Create the state for a time-out of keep_ms; NULL on failure.
void *
    wp_eval_timeout_new (wp_eval_sim_t *sim, int64_t keep_ms);

//  Destroy the state; safe on NULL, nulls the pointer (a policy's destroy).
void
    wp_eval_timeout_destroy (void **self_p);

//  Restart the model's time-out after a request (a policy's on_request);
//  an uncacheable request changes nothing.
int
    wp_eval_timeout_on_request (void *self, wp_eval_sim_t *sim,
                                const wp_eval_request_t *request,
                                wp_eval_outcome_t outcome);

//  A time-out fell due (a policy's on_timer).
int
    wp_eval_timeout_on_timer (void *self, wp_eval_sim_t *sim, uint32_t model,
                              uint64_t token);

//  Bytes of state (a policy's state_bytes).
size_t
    wp_eval_timeout_bytes (void *self);

#endif
