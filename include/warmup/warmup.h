/*  =========================================================================
    warmup.h - libwarmup, the client library of the warmup service: what an
    IDE back end (in C, or any language with a C FFI) needs to tell the
    service what its users do and to hear what the service decides.

    A client talks to the service one or both of two ways:

      * the HTTP listener of warmup's proxy (`proxy/listen`, e.g.
        "http://127.0.0.1:11435"): usage events, intents and
        predict-and-warm, each a request answered by the service;
      * the bus (the XSUB/XPUB endpoints of warmupd or warmup-bus, e.g.
        "tcp://127.0.0.1:5701" and "tcp://127.0.0.1:5702"): usage events and
        intents published without waiting for an answer, and the events
        the client subscribed to (predictions, warmup done), delivered by
        warmup_next or warmup_dispatch; warmup_fd gives a descriptor to
        poll. On tcp:// the bus speaks CURVE: give the bus's public key
        (<data_dir>/keys/server.key) and a client certificate admitted by
        the service (`warmupctl keygen`, then copied into
        <data_dir>/keys/allowed/; docs/security.md).

    Usage events and intents go on the bus when the client has one, else
    over HTTP. Predict-and-warm needs HTTP (the bus has no request/reply);
    subscriptions need the bus.

    Errors: every verb returns WARMUP_OK (0) or a negative warmup_status_t;
    warmup_last_error says what went wrong in words (naming the field of a
    refused event, or the endpoint that failed). Nothing is printed: the
    first warmup_connect turns czmq's log output off and leaves the
    program's signal handlers alone (czmq would take SIGINT and SIGTERM).

    Threads: a warmup_t belongs to the thread that created it: call it from
    one thread at a time. Several clients may live in one process.

    Ownership: strings passed in are copied or used only during the call;
    what a function returns as const is borrowed from the client and valid
    until the next call on it (or warmup_destroy).

    No type of ZeroMQ, czmq or protobuf-c appears here: the library links
    them, its callers do not need their headers.
    Versions: while the library is 0.x (soname libwarmup.so.0) the ABI may
    change with a minor version (the structs below may grow); rebuild
    against the header you link with.
    Build against it with pkg-config: `cc app.c $(pkg-config --cflags --libs
    warmup)` (docs/integration.md).
    =========================================================================
*/
#ifndef WARMUP_WARMUP_H_INCLUDED
#define WARMUP_WARMUP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#   define WARMUP_EXPORT __attribute__ ((visibility ("default")))
#else
#   define WARMUP_EXPORT
#endif

//  The library's version: major * 10000 + minor * 100 + patch.
#define WARMUP_VERSION 100

//  Longest user id, model name and intent kind accepted, bytes.
#define WARMUP_USER_MAX 256
#define WARMUP_MODEL_MAX 200
#define WARMUP_KIND_MAX 48

//  Results of the verbs.
typedef enum {
    WARMUP_OK = 0,
    WARMUP_EINVAL = -1,     //  a bad argument (the message names it)
    WARMUP_ENOTCONN = -2,   //  no way to do it: HTTP or the bus not configured
    WARMUP_ETIMEDOUT = -3,  //  no answer in time
    WARMUP_EREFUSED = -4,   //  the service refused it (an HTTP 4xx: what it said)
    WARMUP_EIO = -5,        //  the transport failed (connect, send, an HTTP 5xx)
    WARMUP_EPROTO = -6,     //  an answer that does not read
    WARMUP_ENOMEM = -7
} warmup_status_t;

//  What a user asked a model to do (warmup.v1.Task).
typedef enum {
    WARMUP_TASK_UNSPECIFIED = 0,
    WARMUP_TASK_COMPLETION = 1,
    WARMUP_TASK_CHAT = 2,
    WARMUP_TASK_EMBEDDING = 3,
    WARMUP_TASK_RERANK = 4,
    WARMUP_TASK_EDIT = 5,
    WARMUP_TASK_REVIEW = 6
} warmup_task_t;

//  How the model server served a request (warmup.v1.Outcome).
typedef enum {
    WARMUP_OUTCOME_UNKNOWN = 0,
    WARMUP_OUTCOME_WARM = 1,
    WARMUP_OUTCOME_DELAYED = 2,
    WARMUP_OUTCOME_COLD = 3,
    WARMUP_OUTCOME_UNCACHEABLE = 4
} warmup_outcome_t;

//  Relative importance (warmup.v1.Priority).
typedef enum {
    WARMUP_PRIORITY_UNSPECIFIED = 0,
    WARMUP_PRIORITY_LOW = 1,
    WARMUP_PRIORITY_NORMAL = 2,
    WARMUP_PRIORITY_HIGH = 3
} warmup_priority_t;

//  Events a client may subscribe to (bits of warmup_options_t.subscribe).
typedef enum {
    WARMUP_EVENT_PREDICTION = 1,    //  prediction.made: the engine's forecast for a user
    WARMUP_EVENT_WARMUP_DONE = 2    //  warmup.done: a model was loaded or unloaded
} warmup_event_type_t;

//  How to reach the service. Zero or NULL fields take the defaults; at
//  least http_url or both bus endpoints must be set.
typedef struct {
    const char *http_url;       //  the proxy's listener, "http://host:port" (NULL: no HTTP)
    const char *http_token;     //  sent as "Authorization: Bearer <token>" (NULL: none);
                                //  predict without a user predicts for the
                                //  caller the proxy counts by this token
    const char *bus_publish;    //  the bus's publishers' endpoint (XSUB), e.g.
                                //  "tcp://127.0.0.1:5701" (NULL: no bus)
    const char *bus_subscribe;  //  its subscribers' endpoint (XPUB), e.g. "...:5702"
    const char *bus_server_key; //  the bus's public certificate file (keys/server.key):
                                //  CURVE on; NULL: off (ipc://, or a bus with curve = false)
    const char *bus_client_cert;//  this client's certificate (its public file;
                                //  FILE_secret beside it holds the secret), needed
                                //  with bus_server_key
    const char *source;         //  the name this client publishes under (default
                                //  "libwarmup/<pid>")
    unsigned subscribe;         //  WARMUP_EVENT_* bits to receive (needs the bus)
    int timeout_ms;             //  bound of connecting and of each HTTP call,
                                //  ms (default 5000)
} warmup_options_t;

//  A request that reached a model (warmup.v1.UsageObserved).
typedef struct {
    const char *user;           //  required, 1..WARMUP_USER_MAX bytes, as the IDE knows
                                //  the user (the service hashes it at once)
    const char *model;          //  required, 1..WARMUP_MODEL_MAX bytes, as clients call it
    warmup_task_t task;
    const char *session;        //  optional
    const char *language;       //  optional, e.g. "python"
    const char *file_type;      //  optional, e.g. ".py"
    uint64_t event_ms;          //  when, ms since the epoch (0: now)
    warmup_priority_t priority;
    warmup_outcome_t outcome;   //  what the model server saw, when known
    uint32_t wait_ms;           //  time the request waited for a load, ms
    uint32_t input_tokens;      //  0: unknown
    uint32_t acceptable_latency_ms; // 0: unknown
} warmup_usage_t;

//  A sign that a model will be needed soon (warmup.v1.UsageIntent).
typedef struct {
    const char *user;           //  required, as in warmup_usage_t
    const char *kind;           //  required: "chat.opened", "typing.started",
                                //  "file.opened", "editor.focused",
                                //  "review.requested", or another name of
                                //  1..WARMUP_KIND_MAX bytes of [a-z0-9._-]
    const char *model;          //  optional hint: the model expected
    const char *language;       //  optional
    const char *file_type;      //  optional
    const char *session;        //  optional
    warmup_task_t task;         //  optional hint
    uint64_t event_ms;          //  0: now
} warmup_intent_t;

//  A predict-and-warm request.
typedef struct {
    const char *user;           //  whose (NULL: the caller, as the proxy counts it)
    warmup_task_t task;         //  keep only models used for this task (0: any)
    warmup_priority_t priority; //  of the warms asked for
    uint32_t acceptable_latency_ms; // a model that loads faster is not warmed
    int no_warm;                //  nonzero: predict only, warm nothing
} warmup_predict_t;

//  One model of a prediction.
typedef struct {
    char model [WARMUP_MODEL_MAX + 1];
    double probability;         //  P(a request within the horizon), 0..1
    double confidence;          //  0..1: how much data backs it
    uint64_t expected_in_ms;    //  expected time to the next request, ms
    char state [16];            //  predict: "warm", "loading" or "cold"; events: ""
    int warming;                //  predict: nonzero when this call asked to warm it
} warmup_model_t;

//  An event received from the bus. Strings and models are borrowed: valid
//  until the next warmup_next / warmup_dispatch or warmup_destroy.
typedef struct {
    warmup_event_type_t type;
    uint64_t event_ms;          //  event time, ms since the epoch
    const char *user;           //  prediction: the user, as the service holds it
                                //  (a keyed hash of the id the client gave)
    uint32_t horizon_s;         //  prediction: the probabilities' horizon, s
    size_t model_count;         //  prediction: models, highest probability first
    const warmup_model_t *models;
    const char *model;          //  warmup done: the model
    int warm;                   //  warmup done: 1 loaded, 0 unloaded
    int ok;                     //  warmup done: nonzero when it worked
    const char *error;          //  warmup done: why not ("" when ok)
    const char *reason;         //  warmup done: why it was asked
    const char *backend;        //  warmup done: which backend did it
    uint32_t duration_ms;       //  warmup done: how long it took
    uint32_t memory_mb;         //  warmup done: memory it holds now
} warmup_event_t;

typedef struct _warmup_t warmup_t;

//  Called by warmup_dispatch for each event; return nonzero to stop.
typedef int (warmup_callback_fn) (const warmup_event_t *event, void *arg);

//  The library's version (WARMUP_VERSION of the library actually loaded).
WARMUP_EXPORT int
    warmup_version (void);

//  A static description of a status, e.g. "timed out".
WARMUP_EXPORT const char *
    warmup_strerror (int status);

//  Connect. With the bus, waits until the path through the bus works (or
//  timeout_ms). Returns a client, or NULL with the reason in error (of
//  error_size bytes; error may be NULL).
WARMUP_EXPORT warmup_t *
    warmup_connect (const warmup_options_t *options, char *error, size_t error_size);

//  Disconnect and free; safe on NULL; nulls *self_p. Events published
//  just before are still sent (for up to a second).
WARMUP_EXPORT void
    warmup_destroy (warmup_t **self_p);

//  What the last failed call on the client said (borrowed; "" when none).
WARMUP_EXPORT const char *
    warmup_last_error (warmup_t *self);

//  Report a request that reached a model. On the bus: published, no
//  answer awaited. Over HTTP: returns once the service accepted it.
WARMUP_EXPORT int
    warmup_observe (warmup_t *self, const warmup_usage_t *usage);

//  Send an intent, as warmup_observe sends a usage event.
WARMUP_EXPORT int
    warmup_intent (warmup_t *self, const warmup_intent_t *intent);

//  Predict and warm (HTTP): the service's latest prediction for the user,
//  highest probability first, into models (at most capacity; *count gets
//  how many), asking to warm the cold ones likely enough unless
//  request->no_warm. request may be NULL (the caller, any task).
//  timeout_ms bounds the call (0: the client's timeout).
WARMUP_EXPORT int
    warmup_predict (warmup_t *self, const warmup_predict_t *request, warmup_model_t *models,
                    size_t capacity, size_t *count, int timeout_ms);

//  The next subscribed event, waiting up to timeout_ms (0: no wait, -1:
//  forever). Returns 1 with *event filled, 0 when none came in time, or a
//  negative status.
WARMUP_EXPORT int
    warmup_next (warmup_t *self, warmup_event_t *event, int timeout_ms);

//  Call fn for every subscribed event that arrives within timeout_ms (0:
//  those waiting now; -1: until fn returns nonzero). Returns the number of
//  events handed to fn, or a negative status.
WARMUP_EXPORT int
    warmup_dispatch (warmup_t *self, warmup_callback_fn *fn, void *arg, int timeout_ms);

//  A file descriptor to poll for readability (select, poll, epoll, an
//  event loop) while subscribed, or -1 without the bus. It is edge-
//  triggered (ZeroMQ's ZMQ_FD): when it polls readable, call warmup_next
//  with timeout 0 until it returns 0, then poll again; do so once after
//  warmup_connect too (events may have come while it connected).
WARMUP_EXPORT int
    warmup_fd (warmup_t *self);

#ifdef __cplusplus
}
#endif

#endif
