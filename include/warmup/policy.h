/*  =========================================================================
    warmup/policy.h - the C ABI of a warm-up policy plug-in

    A policy decides when to load models ahead of their requests and when
    to unload them. The host runs it: `warmup-eval --policy plugin:PATH`
    in the simulated world of docs/EVAL.md, or the service itself. The
    host calls the policy on every request (with its outcome), on every
    timer the policy set, and when a cold start needs memory; the policy
    acts through the host's table (warmup_host_t): start a load, unload,
    set a timer, and read what is resident. It never reads a clock or does
    I/O: the same input gives the same decisions.

    A plug-in is a shared library that exports one function:

        const warmup_policy_t *warmup_policy_v1 (void);

    The host checks `abi` (WARMUP_POLICY_ABI) and every callback it needs
    before it runs anything, and refuses the library whole, naming what is
    wrong. Names and times: models are dense ids 0..models-1 (the host's
    catalog order; model_name gives the name); times are milliseconds of
    event time. All of this header is plain C99: no other header of the
    project is needed to write or build a plug-in.

        cc -shared -fPIC -o my_policy.so my_policy.c
        warmup-eval --trace T --catalog C --budget-mb 0 --policy plugin:./my_policy.so:600

    Version 1. A later version adds fields at the end of both tables and
    raises WARMUP_POLICY_ABI; a host loads a plug-in of its own version.
    =========================================================================
*/

#ifndef WARMUP_POLICY_H_INCLUDED
#define WARMUP_POLICY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WARMUP_POLICY_ABI 1

//  The host's world, opaque to the policy.
typedef struct warmup_world warmup_world_t;

//  What happened to a request.
typedef enum {
    WARMUP_SERVED_WARM = 0,     //  the model was loaded: no wait
    WARMUP_SERVED_DELAYED,      //  the model was loading: waited for the load
    WARMUP_SERVED_COLD,         //  the model was absent: a load started now
    WARMUP_SERVED_UNCACHEABLE   //  absent and no room: waited, not kept
} warmup_outcome_t;

//  One request.
typedef struct {
    int64_t time_ms;            //  event time
    uint32_t user;              //  user (dense id, or the host's hash folded)
    uint32_t model;             //  model id
} warmup_request_t;

//  What the host offers the policy. Every function takes the world the
//  policy was created with.
typedef struct {
    uint32_t abi;               //  WARMUP_POLICY_ABI of the host
    //  Event time now, ms.
    int64_t (*now) (warmup_world_t *world);
    //  Models known, and each one's memory (MiB), load time (ms) and name.
    uint32_t (*models) (warmup_world_t *world);
    uint32_t (*memory_mb) (warmup_world_t *world, uint32_t model);
    uint32_t (*load_ms) (warmup_world_t *world, uint32_t model);
    const char *(*model_name) (warmup_world_t *world, uint32_t model);
    //  Memory budget (MiB, 0 = none) and what is free of it now.
    int64_t (*budget_mb) (warmup_world_t *world);
    int64_t (*free_mb) (warmup_world_t *world);
    //  A model's state: resident (loaded or loading), loading.
    bool (*is_resident) (warmup_world_t *world, uint32_t model);
    bool (*is_loading) (warmup_world_t *world, uint32_t model);
    //  When a resident model's load ends (or ended), ms; -1 if not resident.
    int64_t (*load_end) (warmup_world_t *world, uint32_t model);
    //  Resident models, by index (0 .. count-1); pinned models are not
    //  among them (the operator's: never the policy's to unload).
    size_t (*resident_count) (warmup_world_t *world);
    uint32_t (*resident_model) (warmup_world_t *world, size_t index);
    //  Start loading a model now (a pre-warm): 0, 1 if it is resident
    //  already, -1 if there is no room.
    int (*prewarm) (warmup_world_t *world, uint32_t model);
    //  Unload a loaded model now: 0, or -1 if it is loading (or pinned,
    //  or not resident).
    int (*unload) (warmup_world_t *world, uint32_t model);
    //  Unload a loaded model as of time_ms, a time already past but not
    //  before its last request nor its load's end: its residency counts up
    //  to there (a time-out that fired a millisecond after its expiry
    //  unloads as of the expiry). 0, or -1 as unload. A live host unloads
    //  now.
    int (*unload_at) (warmup_world_t *world, uint32_t model, int64_t time_ms);
    //  Be called back (on_timer) at time_ms with model and token: 0 or -1.
    int (*set_timer) (warmup_world_t *world, int64_t time_ms, uint32_t model,
                      uint64_t token);
} warmup_host_t;

//  A policy: its names and its callbacks.
typedef struct {
    uint32_t abi;               //  WARMUP_POLICY_ABI it was built against
    const char *name;           //  family name ("my-policy"), [a-z0-9-]+
    const char *knob;           //  what its knob means ("K_s"), NULL: none
    double knob_default;        //  when none is given
    double knob_min, knob_max;  //  accepted range
    const char *summary;        //  one line for --help
    //  Create the state for one run at a knob; NULL on failure.
    void *(*create) (const warmup_host_t *host, warmup_world_t *world, double knob);
    //  Destroy it (safe on NULL).
    void (*destroy) (void *state);
    //  A request was served with this outcome: 0, or -1 to stop the run.
    int (*on_request) (void *state, const warmup_request_t *request,
                       warmup_outcome_t outcome);
    //  A timer it set fell due: 0, or -1 to stop the run.
    int (*on_timer) (void *state, uint32_t model, uint64_t token);
    //  A cold start of model needs short_mb more free memory (<= 0: it
    //  fits): unload what should go and return 0, 1 if nothing can; NULL:
    //  the host unloads the least recently used.
    int (*make_room) (void *state, uint32_t model, int64_t short_mb);
    //  Bytes of state held now (optional, NULL: not reported).
    size_t (*state_bytes) (void *state);
} warmup_policy_t;

//  The one symbol a plug-in exports.
typedef const warmup_policy_t *(warmup_policy_fn) (void);
#define WARMUP_POLICY_SYMBOL "warmup_policy_v1"

#ifdef __cplusplus
}
#endif

#endif
