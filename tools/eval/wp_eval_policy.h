/*  =========================================================================
    wp_eval_policy - the interface every warm-up policy implements

    A policy is a table of callbacks (wp_eval_policy_t) plus private state.
    The simulator (wp_eval_sim) owns the world: it classifies each request
    (warm, delayed, cold, uncacheable), does the on-demand loads, enforces
    the memory budget and keeps the metrics. The policy only decides:

    - on_request: called after the simulator has served a request, with
      the request (time, user id, model id) and its outcome;
    - on_intent (optional): a sign from the IDE in the trace (its kind
      column) that a request is coming; nothing is served;
    - on_timer: called when a timer the policy set falls due (timers and
      requests are processed in time order; a timer due at the same ms as a
      request fires first; timers due at the same ms fire in the order they
      were set);
    - make_room: called before every on-demand load (a cold start) with how
      many MB are missing (<= 0 when the model already fits); the policy
      unloads what it wants (its own limits too, e.g. a model count) and
      returns 0, or 1 when its own limit leaves no room (every slot is
      taken by a model still loading). If the budget is still short
      afterwards, or make_room is NULL, the simulator unloads
      least-recently-used idle models itself (wp_eval_sim_evict_lru). If
      no room can be made at all (make_room said 1, or the model is larger
      than the budget minus the models still loading), the request waits
      load_ms and the model is not kept (`uncacheable`).

    From its callbacks the policy acts through the simulator:
    wp_eval_sim_prewarm (start a load now), wp_eval_sim_unload (unload a
    loaded model now), wp_eval_sim_set_timer (be called back at a time with
    a model and a token), and reads the world with wp_eval_sim_now,
    _free_mb, _resident_mb, _loading_mb, _is_resident, _is_loading,
    _load_end, _is_pinned, _resident_count / _resident_model, and the
    catalog (wp_eval_sim_catalog: memory_mb, load_ms, names, pin and
    priority). A pinned model is the world's: resident all along, not in
    the resident list, never unloaded (wp_eval_sim.h). Only `oracle` may
    read wp_eval_sim_future (it declares needs_future).

    Policies never read a clock or do I/O: same input, same decisions.
    To add a policy: write wp_policy_NAME.c defining a const
    wp_eval_policy_t, and add it to the table in wp_eval_policies.c.
    =========================================================================
*/
#ifndef WP_EVAL_POLICY_H_INCLUDED
#define WP_EVAL_POLICY_H_INCLUDED

#include "wp_eval.h"

typedef struct _wp_eval_sim_t wp_eval_sim_t;

//  What happened to a request, as the policy is told in on_request.
typedef enum {
    WP_EVAL_WARM = 0,           //  model loaded: wait 0
    WP_EVAL_DELAYED,            //  model loading: waited for the load to end
    WP_EVAL_COLD,               //  model absent: an on-demand load started now
    WP_EVAL_UNCACHEABLE         //  model absent and no room: waited, not kept
} wp_eval_outcome_t;

//  A policy: its name, its knob, and its callbacks.
typedef struct {
    const char *family;         //  name before any ':' ("keepalive")
    const char *knob;           //  what the ':value' sets ("K_s"), NULL if none
    double knob_default;        //  knob when the name has no ':value'
    double knob_min;            //  smallest accepted knob
    double knob_max;            //  largest accepted knob
    bool knob_integer;          //  knob must be a whole number
    const double *sweep;        //  knob values for --sweep, NULL: sweep the budget
    size_t sweep_len;           //  number of sweep values
    bool needs_future;          //  policy reads the future (oracle only)
    const char *summary;        //  one line for --help

    //  Create the policy's state for one simulation (the catalog and budget
    //  are readable through sim); NULL on failure.
    void *(*create) (wp_eval_sim_t *sim, double knob);
    //  Destroy the state; safe on NULL, nulls the pointer.
    void (*destroy) (void **self_p);
    //  A request was served with this outcome; 0, or -1 to abort the run.
    int (*on_request) (void *self, wp_eval_sim_t *sim, const wp_eval_request_t *request,
                       wp_eval_outcome_t outcome);
    //  A timer set by the policy fell due; 0, or -1 to abort the run.
    int (*on_timer) (void *self, wp_eval_sim_t *sim, uint32_t model, uint64_t token);
    //  A cold start of model needs short_mb more free memory (<= 0: fits);
    //  NULL means least-recently-used. 0, 1 if the policy's own limit
    //  leaves no room (the request is then uncacheable), -1 to abort.
    int (*make_room) (void *self, wp_eval_sim_t *sim, uint32_t model, int64_t short_mb);
    //  Bytes of memory the state holds now (for state_bytes_peak).
    size_t (*state_bytes) (void *self);
    //  The policy's own figures at the end of a run, as one JSON object
    //  into out (size bytes); NULL: none. Returns the length it needed.
    size_t (*report) (void *self, char *out, size_t size);
    //  An intent of the trace (request->kind > 0; its model a hint or
    //  WP_EVAL_NO_MODEL): nothing is served. NULL: the policy ignores
    //  intents. 0, or -1 to abort the run.
    int (*on_intent) (void *self, wp_eval_sim_t *sim, const wp_eval_request_t *intent);
    //  The policy's own constant data (a plug-in's table), for create
    //  through wp_eval_sim_policy; NULL for the built-in ones.
    const void *data;
} wp_eval_policy_t;

//  Find a policy by name, "family" or "family:value", or a plug-in,
//  "plugin:PATH" or "plugin:PATH:value"; sets *knob. NULL if unknown or
//  the value is bad, with the reason in error (WP_EVAL_ERRLEN bytes).
const wp_eval_policy_t *
    wp_eval_policy_find (const char *name, double *knob, char *error);

//  The known policies, in table order; sets *count.
const wp_eval_policy_t *const *
    wp_eval_policy_list (size_t *count);

//  Find a policy by name in a table (as wp_eval_policy_find), or a plug-in.
const wp_eval_policy_t *
    wp_policy_table_find (const wp_eval_policy_t *const *list, size_t count,
                          const char *name, double *knob, char *error);

//  The policies the service can run live (wp_policy_table.c); sets *count.
const wp_eval_policy_t *const *
    wp_policy_live_list (size_t *count);

//  True if a plug-in may take this name ([a-z0-9-]+, no built-in's).
bool
    wp_policy_name_free (const char *name);

//  A policy from a shared library (include/warmup/policy.h), loaded once
//  per path; NULL with the reason in error (WP_EVAL_ERRLEN bytes).
const wp_eval_policy_t *
    wp_policy_plugin_load (const char *path, char *error);

//  Canonical name of a policy with a knob ("keepalive:600"), into buffer.
void
    wp_eval_policy_name (const wp_eval_policy_t *policy, double knob,
                         char *buffer, size_t size);

#endif
