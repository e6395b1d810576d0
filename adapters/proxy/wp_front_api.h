/*  =========================================================================
    wp_front_api - the proxy's own HTTP API as buffers in, JSON out: the
    readers of POST /warmup/v1/usage and /warmup/v1/predict, the predict
    answer (from the view, with the models to warm), /healthz, and the
    error body {"error": "...", "field": "..."}.

    No socket, no clock: the actor passes the body and the time, and sends
    what comes back. The readers take a buffer and its length, so a
    fuzzer calls them as the proxy does. Every error names the field
    ("[2].model" for the third event of an array) and its HTTP status.
    =========================================================================
*/
#ifndef WP_FRONT_API_H_INCLUDED
#define WP_FRONT_API_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "warmup.pb-c.h"
#include "wp_config.h"
#include "wp_front.h"
#include "wp_front_view.h"
#include "wp_util.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Events one POST /warmup/v1/usage takes at most.
#define WP_FRONT_USAGE_MAX 1000

//  Models a predict answer lists at most.
#define WP_FRONT_PREDICT_MAX WP_FRONT_VIEW_PREDICTIONS

//  A refused request: its status, what is wrong, which field.
typedef struct {
    int status;                 //  400, 404, 405, 413, 502, 504, ...
    char message [200];         //  what is wrong
    char field [96];            //  the field ("" when none)
} wp_front_error_t;

//  Fill an error; returns -1 (for "return wp_front_error (...)").
int
    wp_front_error (wp_front_error_t *error, int status, const char *field,
                    const char *format, ...) __attribute__ ((format (printf, 4, 5)));

//  The JSON body of an error (caller frees), its length into *size.
char *
    wp_front_error_json (const wp_front_error_t *error, size_t *size);

//  --- POST /warmup/v1/usage and /warmup/v1/intent --------------------------

//  A batch of events read from a body: usage events or intents.
typedef struct _wp_front_usage_t wp_front_usage_t;

//  Read one usage event (a JSON object with the fields of UsageObserved:
//  user and model required; task, priority and outcome by name; event_ms
//  defaults to now_ms) or an array of 1..WP_FRONT_USAGE_MAX of them.
//  Returns the events, or NULL with error filled.
wp_front_usage_t *
    wp_front_usage_read (const char *body, size_t size, uint64_t now_ms,
                         wp_front_error_t *error);

//  Read one intent (a JSON object with the fields of UsageIntent: user
//  and kind required, the kind as wp_intent_kind_ok says; model, language,
//  session, file_type, task by name; event_ms defaults to now_ms) or an
//  array of 1..WP_FRONT_USAGE_MAX of them. Returns the intents, or NULL
//  with error filled.
wp_front_usage_t *
    wp_front_intent_read (const char *body, size_t size, uint64_t now_ms,
                          wp_front_error_t *error);

//  Events read.
size_t
    wp_front_usage_count (wp_front_usage_t *self);

//  The index-th event of a usage batch, borrowed (valid until destroy).
Warmup__V1__UsageObserved *
    wp_front_usage_event (wp_front_usage_t *self, size_t index);

//  The index-th intent of an intent batch, borrowed.
Warmup__V1__UsageIntent *
    wp_front_intent_event (wp_front_usage_t *self, size_t index);

//  The index-th event of either batch, as a message to publish, borrowed.
ProtobufCMessage *
    wp_front_batch_message (wp_front_usage_t *self, size_t index);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_front_usage_destroy (wp_front_usage_t **self_p);

//  --- POST /warmup/v1/predict --------------------------------------------

//  A predict request.
typedef struct {
    char user [WP_FRONT_USER_MAX + 1];  //  "" = the caller's own (as the proxy
                                        //  counts its requests)
    int task;                   //  warmup.v1.Task, 0 = any
    char language [65];         //  as given ("" = none)
    int priority;               //  warmup.v1.Priority, 0 = normal
    uint32_t acceptable_latency_ms; // a cold model loading faster is not warmed
    bool warm;                  //  warm what is predicted (default true)
    char held_as [WP_USER_ID_LEN + 1];  //  the id the user's predictions are held
                                        //  under (the bus's hash of user: the
                                        //  caller fills it); "" = user
} wp_front_predict_t;

//  Read a predict request (an empty body is {}). Returns 0, or -1 with
//  error filled.
int
    wp_front_predict_read (const char *body, size_t size, wp_front_predict_t *request,
                           wp_front_error_t *error);

//  The answer to a predict request from the view at now_ms: the user's
//  current predictions (those made within prediction_cache_ttl_seconds),
//  highest first, with each model's state; the cold ones at or above
//  prediction_threshold (and loading slower than acceptable_latency_ms)
//  are listed in "warming" when request->warm and copied into warm (up to
//  max_warm names; *n_warm counts them) for the caller to request.
//  Returns the JSON body (caller frees), its length into *size.
char *
    wp_front_predict_answer (wp_front_view_t *view, const wp_config_t *config,
                             const wp_front_predict_t *request, uint64_t now_ms,
                             char warm [][WP_FRONT_MODEL_MAX + 1], size_t max_warm,
                             size_t *n_warm, size_t *size);

//  --- GET /healthz ---------------------------------------------------------

//  The health answer: {"status": "ok"|"degraded", "alive": [...],
//  "missing": [...]} over the NULL-ended component names; *status gets
//  200 when none is missing, else 503. Caller frees.
char *
    wp_front_health (wp_front_view_t *view, const char *const *components,
                     uint64_t now_ms, int *status, size_t *size);

#ifdef __cplusplus
}
#endif

#endif
