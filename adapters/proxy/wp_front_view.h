/*  =========================================================================
    wp_front_view - the service as the proxy sees it, from the events it
    receives: each model's state (cold, loading, warm), each user's latest
    prediction, which components are alive, what a load costs. The proxy
    answers predict calls and stamps the outcome of each request from
    this view at once, without asking anyone over the bus.

    A core: no socket, no clock; events and the current time in, answers
    out. Bounded: at most max_users users' predictions (the least recently
    predicted forgotten first) and WP_FRONT_VIEW_MODELS models.

    Where it can be wrong (docs/proxy.md): a model the server loaded on
    demand counts as warm from its first answer until the service cools
    it; an eviction by the server's own policy (llama-server's
    --models-max, Ollama's keep_alive) is not seen.
    =========================================================================
*/
#ifndef WP_FRONT_VIEW_H_INCLUDED
#define WP_FRONT_VIEW_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "warmup.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Models tracked at most.
#define WP_FRONT_VIEW_MODELS 4096

//  Models kept per user prediction at most.
#define WP_FRONT_VIEW_PREDICTIONS 16

//  A model's state as the service knows it.
typedef enum {
    WP_FRONT_COLD = 0,
    WP_FRONT_LOADING,
    WP_FRONT_WARM
} wp_front_state_t;

//  One predicted model for a user.
typedef struct {
    char model [201];           //  the model
    double probability;         //  P(request within the horizon)
    double confidence;          //  0..1
    uint64_t expected_in_ms;    //  expected time to the next request, from now
} wp_front_pred_t;

typedef struct _wp_front_view_t wp_front_view_t;

//  A view keeping at most max_users users' predictions (>= 1).
wp_front_view_t *
    wp_front_view_new (size_t max_users);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_front_view_destroy (wp_front_view_t **self_p);

//  A prediction.made received at now_ms (wall clock).
void
    wp_front_view_prediction (wp_front_view_t *self, const Warmup__V1__PredictionMade *in,
                              uint64_t now_ms);

//  A warmup.requested: a warm makes the model loading (unless warm), a
//  cool makes it cold.
void
    wp_front_view_requested (wp_front_view_t *self, const char *model, bool warm);

//  A warmup.done: a warm that succeeded makes it warm, one that failed
//  cold; a cool that succeeded cold.
void
    wp_front_view_done (wp_front_view_t *self, const char *model, bool warm, bool ok);

//  The model server answered a request for the model: it is loaded there.
void
    wp_front_view_served (wp_front_view_t *self, const char *model);

//  A usage.observed of a model for a task (remembered for predict's task
//  filter).
void
    wp_front_view_task (wp_front_view_t *self, const char *model, int task);

//  A perf.estimate: the model's load time, ms (p90).
void
    wp_front_view_load_ms (wp_front_view_t *self, const char *model, uint32_t load_ms);

//  A heartbeat of component at now_ms; it is alive until 3 intervals pass.
void
    wp_front_view_heartbeat (wp_front_view_t *self, const char *component,
                             uint32_t interval_ms, uint64_t now_ms);

//  The state of a model.
wp_front_state_t
    wp_front_view_state (wp_front_view_t *self, const char *model);

//  Name of a state: "cold", "loading", "warm".
const char *
    wp_front_state_name (wp_front_state_t state);

//  The last task a model was used for (0 = never seen).
int
    wp_front_view_task_of (wp_front_view_t *self, const char *model);

//  The model's learned load time, or fallback when none was estimated.
uint32_t
    wp_front_view_load_ms_of (wp_front_view_t *self, const char *model, uint32_t fallback);

//  The user's latest prediction if made within ttl_ms of now_ms: up to max
//  models into out, highest probability first, expected_in_ms counted
//  from now. Returns the count (0 when none).
size_t
    wp_front_view_predictions (wp_front_view_t *self, const char *user, uint64_t now_ms,
                               uint64_t ttl_ms, wp_front_pred_t *out, size_t max);

//  True when component sent a heartbeat within 3 of its intervals.
bool
    wp_front_view_alive (wp_front_view_t *self, const char *component, uint64_t now_ms);

//  Users whose prediction is kept now.
size_t
    wp_front_view_users (wp_front_view_t *self);

#ifdef __cplusplus
}
#endif

#endif
