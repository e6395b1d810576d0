/*  =========================================================================
    wp_scheduler_policy - the scheduler runs another policy than its own

    `policy = icebreaker` (any policy of the live table, wp_policy_table.c)
    or `policy = plugin:PATH[:knob]` (include/warmup/policy.h) in the
    configuration makes the scheduler run that policy instead of planning
    from the engine's predictions. The policy runs as it runs in
    warmup-eval, in the same world code (wp_eval_sim), which here follows
    the real one: the models are the configuration's (memory_mb, load_ms),
    the budget is max_memory_mb, a request finds its model loaded or not as
    the policy's own loads and unloads and the servers' loads on demand
    left it. What the policy does in that world is what the scheduler asks
    of the real one: its pre-warms are warms, its unloads are cools, and
    the room a cold start needs is made from what the policy (or least
    recently used) unloads. Same requests, same times: same decisions as
    `warmup-eval --policy NAME`.

    Plain C: no sockets, no clock. Times are ms (event time in a replay,
    the wall clock live).
    =========================================================================
*/
#ifndef WP_SCHEDULER_POLICY_H_INCLUDED
#define WP_SCHEDULER_POLICY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wp_config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _wp_scheduler_policy_t wp_scheduler_policy_t;

//  What the policy asks of the real world.
typedef enum {
    WP_POLICY_WARM = 0,         //  load the model (a pre-warm)
    WP_POLICY_COOL,             //  unload it
    WP_POLICY_ROOM              //  unload it to make room for a cold start
} wp_policy_act_t;

//  Told each act: the model, what, and as of when (ms).
typedef void (wp_policy_act_fn) (void *arg, const char *model, wp_policy_act_t act,
                                 int64_t time);

//  Run the policy named spec over the configuration's models and budget;
//  NULL with the reason in error (size bytes).
wp_scheduler_policy_t *
    wp_scheduler_policy_new (const char *spec, const wp_config_t *config, char *error,
                             size_t size);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_scheduler_policy_destroy (wp_scheduler_policy_t **self_p);

//  The policy's canonical name ("icebreaker", "keepalive:600").
const char *
    wp_scheduler_policy_name (wp_scheduler_policy_t *self);

//  Where the acts go.
void
    wp_scheduler_policy_acts (wp_scheduler_policy_t *self, wp_policy_act_fn *fn, void *arg);

//  A request at time (timers due by then fire first). A model not in the
//  configuration is not the policy's (1). 0, or -1 if the policy failed.
int
    wp_scheduler_policy_request (wp_scheduler_policy_t *self, int64_t time,
                                 const char *user, const char *model);

//  Time passes to time: the policy's timers due by then fire. 0 or -1.
int
    wp_scheduler_policy_advance (wp_scheduler_policy_t *self, int64_t time);

//  When the policy's next timer falls due, -1 if none.
int64_t
    wp_scheduler_policy_next (wp_scheduler_policy_t *self);

//  A load of the model failed or an unload happened that the policy did
//  not ask for: the world follows (the model is not resident).
void
    wp_scheduler_policy_gone (wp_scheduler_policy_t *self, const char *model);

#ifdef __cplusplus
}
#endif

#endif
