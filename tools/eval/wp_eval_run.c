/*  =========================================================================
    wp_eval_run - replays one trace through several policies side by side
    =========================================================================
*/
#include "wp_eval_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 8192                      //  requests read at a time

//  One simulation of the run.
typedef struct {
    char *name;                 //  report name
    const wp_eval_policy_t *policy;    //  policy
    double knob;                //  its knob
    int64_t budget_mb;          //  its budget
    wp_eval_sim_t *sim;         //  the world, after execute starts
    wp_eval_metrics_t metrics;  //  results, after execute
} s_entry_t;

struct _wp_eval_run_t {
    char *trace_path;           //  trace file
    wp_eval_format_t format;    //  its format
    wp_eval_catalog_t *catalog; //  borrowed catalog
    s_entry_t *entries;         //  simulations
    size_t size;                //  number of simulations
    bool timing;                //  measure ns per event
    bool progress;              //  progress lines on stderr
    int64_t from_ms, until_ms;  //  requests replayed: [from_ms, until_ms)
    uint64_t requests;          //  requests replayed
    double seconds;             //  wall time of the replay pass
    char error [WP_EVAL_ERRLEN];   //  reason of a failure
};

//  Seconds from a monotonic clock.
static double
s_seconds (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

//  Create a run.
wp_eval_run_t *
wp_eval_run_new (const char *trace_path, wp_eval_format_t format, wp_eval_catalog_t *catalog)
{
    wp_eval_run_t *self = calloc (1, sizeof (wp_eval_run_t));
    if (!self)
        return NULL;
    self->trace_path = strdup (trace_path);
    if (!self->trace_path) {
        free (self);
        return NULL;
    }
    self->format = format;
    self->until_ms = INT64_MAX;
    self->catalog = catalog;
    self->timing = true;
    return self;
}

//  Destroy the run.
void
wp_eval_run_destroy (wp_eval_run_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_eval_run_t *self = *self_p;
    for (size_t i = 0; i < self->size; i++) {
        wp_eval_sim_destroy (&self->entries [i].sim);
        free (self->entries [i].name);
    }
    free (self->entries);
    free (self->trace_path);
    free (self);
    *self_p = NULL;
}

//  Add a simulation.
int
wp_eval_run_add (wp_eval_run_t *self, const char *name, const wp_eval_policy_t *policy,
                 double knob, int64_t budget_mb, char *error)
{
    if (budget_mb < 0) {
        snprintf (error, WP_EVAL_ERRLEN, "budget must be >= 0 MB");
        return -1;
    }
    s_entry_t *entries = realloc (self->entries, (self->size + 1) * sizeof (s_entry_t));
    if (!entries) {
        snprintf (error, WP_EVAL_ERRLEN, "out of memory");
        return -1;
    }
    self->entries = entries;
    s_entry_t *entry = &self->entries [self->size];
    memset (entry, 0, sizeof (*entry));
    entry->name = strdup (name);
    if (!entry->name) {
        snprintf (error, WP_EVAL_ERRLEN, "out of memory");
        return -1;
    }
    entry->policy = policy;
    entry->knob = knob;
    entry->budget_mb = budget_mb;
    return (int) self->size++;
}

//  Measure ns per policy event.
void
wp_eval_run_set_timing (wp_eval_run_t *self, bool timing)
{
    self->timing = timing;
}

//  Print progress lines.
void
wp_eval_run_set_progress (wp_eval_run_t *self, bool progress)
{
    self->progress = progress;
}

//  Replay only the requests of a span of time.
void
wp_eval_run_set_span (wp_eval_run_t *self, int64_t from_ms, int64_t until_ms)
{
    self->from_ms = from_ms;
    self->until_ms = until_ms;
}

//  Read the next requests of the span into buffer; as wp_eval_trace_read.
static ssize_t
s_read (wp_eval_run_t *self, wp_eval_trace_t *trace, wp_eval_request_t *buffer)
{
    ssize_t n;
    while ((n = wp_eval_trace_read (trace, buffer, BATCH)) > 0) {
        ssize_t kept = 0;
        for (ssize_t i = 0; i < n; i++)
            if (buffer [i].time >= self->from_ms && buffer [i].time < self->until_ms)
                buffer [kept++] = buffer [i];
        if (kept)
            return kept;
        if (buffer [n - 1].time >= self->until_ms)
            return 0;               //  sorted: nothing later is in the span
    }
    return n;
}

//  Build the future with a first pass over the trace.
static wp_eval_future_t *
s_build_future (wp_eval_run_t *self, wp_eval_request_t *buffer)
{
    wp_eval_trace_t *trace = wp_eval_trace_open (self->trace_path, self->format,
                                                 self->catalog, self->error);
    if (!trace)
        return NULL;
    wp_eval_future_t *future = wp_eval_future_new (wp_eval_catalog_size (self->catalog));
    if (!future) {
        snprintf (self->error, sizeof (self->error), "out of memory");
        wp_eval_trace_destroy (&trace);
        return NULL;
    }
    ssize_t n;
    while ((n = s_read (self, trace, buffer)) > 0)
        for (ssize_t i = 0; i < n; i++)
            if (!buffer [i].kind
                && wp_eval_future_add (future, buffer [i].model, buffer [i].time)) {
                snprintf (self->error, sizeof (self->error), "out of memory");
                n = -2;
                break;
            }
    if (n == -1)
        snprintf (self->error, sizeof (self->error), "%s", wp_eval_trace_error (trace));
    wp_eval_trace_destroy (&trace);
    if (n < 0)
        wp_eval_future_destroy (&future);
    return future;
}

//  Replay the trace through every simulation.
int
wp_eval_run_execute (wp_eval_run_t *self)
{
    int rc = -1;
    wp_eval_future_t *future = NULL;
    wp_eval_trace_t *trace = NULL;
    wp_eval_request_t *buffer = malloc (BATCH * sizeof (wp_eval_request_t));
    if (!buffer) {
        snprintf (self->error, sizeof (self->error), "out of memory");
        return -1;
    }
    bool needs_future = false;
    for (size_t i = 0; i < self->size; i++)
        needs_future |= self->entries [i].policy->needs_future;
    if (needs_future) {
        if (self->progress)
            fprintf (stderr, "warmup-eval: reading the trace once for oracle's future\n");
        future = s_build_future (self, buffer);
        if (!future)
            goto done;
    }
    trace = wp_eval_trace_open (self->trace_path, self->format, self->catalog, self->error);
    if (!trace)
        goto done;
    for (size_t i = 0; i < self->size; i++) {
        s_entry_t *entry = &self->entries [i];
        char error [WP_EVAL_ERRLEN];
        entry->sim = wp_eval_sim_new (self->catalog, entry->budget_mb, entry->policy,
                                      entry->knob, future, self->timing, error);
        if (!entry->sim) {
            snprintf (self->error, sizeof (self->error), "%.64s: %.400s", entry->name, error);
            goto done;
        }
    }
    double start = s_seconds (), last_print = start;
    bool tty = isatty (STDERR_FILENO);
    bool printed = false;
    int64_t last_time = 0;
    ssize_t n;
    while ((n = s_read (self, trace, buffer)) > 0) {
        for (size_t s = 0; s < self->size; s++) {
            wp_eval_sim_t *sim = self->entries [s].sim;
            for (ssize_t i = 0; i < n; i++)
                if (wp_eval_sim_request (sim, &buffer [i])) {
                    snprintf (self->error, sizeof (self->error), "%.64s: %.400s",
                              self->entries [s].name, wp_eval_sim_error (sim));
                    goto done;
                }
        }
        last_time = buffer [n - 1].time;
        for (ssize_t i = 0; i < n; i++)
            self->requests += buffer [i].kind == 0;
        if (self->progress && (self->requests & ((1u << 18) - 1)) < BATCH) {
            double now = s_seconds ();
            if (now - last_print >= 2.0) {
                fprintf (stderr, "%swarmup-eval: %zu %s (%s%s), %5.1f%% of trace, "
                         "%.2fM requests, %.2fM req/s%s",
                         tty? "\r": "", self->size, self->size == 1? "policy": "policies",
                         self->entries [0].name, self->size > 1? ", ...": "",
                         100.0 * wp_eval_trace_progress (trace), self->requests / 1e6,
                         self->requests / 1e6 / (now - start), tty? "   ": "\n");
                last_print = now;
                printed = true;
            }
        }
    }
    if (n < 0) {
        snprintf (self->error, sizeof (self->error), "%s", wp_eval_trace_error (trace));
        goto done;
    }
    for (size_t s = 0; s < self->size; s++) {
        s_entry_t *entry = &self->entries [s];
        if (wp_eval_sim_finish (entry->sim, last_time + WP_EVAL_TAIL_MS)) {
            snprintf (self->error, sizeof (self->error), "%.64s: %.400s",
                      entry->name, wp_eval_sim_error (entry->sim));
            goto done;
        }
        wp_eval_sim_metrics (entry->sim, &entry->metrics);
    }
    self->seconds = s_seconds () - start;
    if (printed && tty)
        fprintf (stderr, "\n");
    rc = 0;
done:
    for (size_t i = 0; i < self->size; i++)
        wp_eval_sim_destroy (&self->entries [i].sim);
    wp_eval_trace_destroy (&trace);
    wp_eval_future_destroy (&future);
    free (buffer);
    return rc;
}

//  Reason of the failure.
const char *
wp_eval_run_error (wp_eval_run_t *self)
{
    return self->error;
}

//  Number of simulations.
size_t
wp_eval_run_size (wp_eval_run_t *self)
{
    return self->size;
}

//  Name of simulation i.
const char *
wp_eval_run_name (wp_eval_run_t *self, size_t index)
{
    return index < self->size? self->entries [index].name: NULL;
}

//  Metrics of simulation i.
void
wp_eval_run_metrics (wp_eval_run_t *self, size_t index, wp_eval_metrics_t *metrics)
{
    *metrics = self->entries [index].metrics;
}

//  Requests replayed and wall-clock seconds.
void
wp_eval_run_stats (wp_eval_run_t *self, uint64_t *requests, double *seconds)
{
    *requests = self->requests;
    *seconds = self->seconds;
}
