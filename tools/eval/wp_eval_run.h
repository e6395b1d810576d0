/*  =========================================================================
    wp_eval_run - replays one trace through several policies side by side

    One pass over the trace feeds the same request stream to every
    simulation (one wp_eval_sim per policy, knob and budget), batch by
    batch, so adding a policy costs its own work, not another read of the
    trace. When a policy needs the future (oracle), a first pass builds it.
    The run goes on WP_EVAL_TAIL_MS (600 s, the normaliser's keep-alive)
    after the last request without requests: timers due by then fire, and
    models still resident at that end are charged up to it. So a policy
    that unloads after 10 idle minutes leaves nothing behind, and every
    policy is observed over the same span.
    =========================================================================
*/
#ifndef WP_EVAL_RUN_H_INCLUDED
#define WP_EVAL_RUN_H_INCLUDED

#include "wp_eval_sim.h"
#include "wp_eval_trace.h"

//  How long the simulated world goes on after the last request, ms.
#define WP_EVAL_TAIL_MS 600000

typedef struct _wp_eval_run_t wp_eval_run_t;

//  Create a run over a trace (opened at execute) and a catalog (borrowed).
//  NULL on allocation failure.
wp_eval_run_t *
    wp_eval_run_new (const char *trace_path, wp_eval_format_t format,
                     wp_eval_catalog_t *catalog);

//  Destroy the run and its simulations; safe on NULL, nulls the pointer.
void
    wp_eval_run_destroy (wp_eval_run_t **self_p);

//  Add a simulation; name is what reports call it. Returns its index, or
//  -1 with the reason in error.
int
    wp_eval_run_add (wp_eval_run_t *self, const char *name, const wp_eval_policy_t *policy,
                     double knob, int64_t budget_mb, char *error);

//  Measure ns per policy event (default on).
void
    wp_eval_run_set_timing (wp_eval_run_t *self, bool timing);

//  Print a progress line on stderr about every 2 s (default off).
void
    wp_eval_run_set_progress (wp_eval_run_t *self, bool progress);

//  Replay only the requests at from_ms <= time < until_ms (default: all),
//  e.g. to measure on a part of a trace that was not tuned on.
void
    wp_eval_run_set_span (wp_eval_run_t *self, int64_t from_ms, int64_t until_ms);

//  Replay the trace through every simulation. 0, or -1 with the reason
//  (a bad trace line as "file:line: reason") in wp_eval_run_error.
int
    wp_eval_run_execute (wp_eval_run_t *self);

//  Reason of the failure (borrowed).
const char *
    wp_eval_run_error (wp_eval_run_t *self);

//  Number of simulations.
size_t
    wp_eval_run_size (wp_eval_run_t *self);

//  Name of simulation i (borrowed).
const char *
    wp_eval_run_name (wp_eval_run_t *self, size_t index);

//  Metrics of simulation i (after execute).
void
    wp_eval_run_metrics (wp_eval_run_t *self, size_t index, wp_eval_metrics_t *metrics);

//  Requests replayed and wall-clock seconds of the replay pass.
void
    wp_eval_run_stats (wp_eval_run_t *self, uint64_t *requests, double *seconds);

#endif
