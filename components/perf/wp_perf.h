/*  =========================================================================
    wp_perf - the performance predictor core: learns, per model, what a
    warmup (a load) costs from the warmup.done events the actor feeds it.

    Per model it keeps the successful and failed warmup counts, an
    exponential moving average (EMA) of the load time, the last measured
    memory, and a histogram of load times from which it answers quantiles.

    The histogram has fixed log buckets: [0, 1) ms, then buckets growing by
    a factor of 1.04 from 1 ms up to 1.04^385 ms (about 60.2 minutes), then
    one bucket for anything longer: 387 buckets, of which a model holds
    the window from its first to its last non-empty one (one counter when
    its loads all take about the same time). A quantile is
    the geometric middle of the bucket holding the nearest-rank sample,
    kept within the smallest and largest load seen. So for loads between
    1 ms and 1 hour a quantile is within WP_PERF_REL_ERROR (sqrt(1.04) - 1,
    under 2 %) of the exact nearest-rank quantile of the same loads; below
    1 ms it is within 1 ms; above 1 hour it is the longest load seen, an
    upper bound. Quantiles cover all loads since the model was first seen
    (no decay); the EMA follows recent loads.

    Plain C, no I/O. Bounded: at most WP_PERF_MAX_MODELS models, names of
    at most WP_PERF_NAME_MAX bytes (copied once, into a wp_names table: its
    own, or one shared with the other cores of a process, whose ids index
    its models, wp_perf_new_shared). Records for persistence are at most
    WP_PERF_RECORD_MAX bytes (layout in wp_perf.c).
    =========================================================================
*/

#ifndef WP_PERF_H_INCLUDED
#define WP_PERF_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "wp_names.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Most models tracked; observations of further models fail.
#define WP_PERF_MAX_MODELS 4096

//  Longest model name, bytes (without the terminating NUL).
#define WP_PERF_NAME_MAX 255

//  Largest relative error of a quantile for loads of 1 ms to 1 hour.
#define WP_PERF_REL_ERROR 0.0199

//  EMA weight of a new load time when wp_perf_new is given 0.
#define WP_PERF_ALPHA_DEFAULT 0.2

//  Buffer size that holds any record wp_perf_encode writes.
#define WP_PERF_RECORD_MAX 2364

typedef struct _wp_perf_t wp_perf_t;

//  What loading one model costs, as far as we know.
typedef struct {
    uint64_t samples;       // successful warmups measured
    uint64_t failures;      // failed warmups
    double ema_ms;          // EMA of the load time, ms (0 without samples)
    double p50_ms;          // median load time, ms (0 without samples)
    double p90_ms;          // 90th percentile, ms
    double p99_ms;          // 99th percentile, ms
    uint32_t memory_mb;     // last measured memory of the warm model, MiB
    //  The memory the model takes once loaded, learned (wp_perf_learn_memory)
    uint32_t learned_mb;    // in all, MiB (0: nothing learned)
    uint32_t learned_vram_mb;   // of it on GPUs
    const char *learned_from;   // "server", "resident", "measured",
                            // "server-weights", "" (static text)
    uint64_t learned_ms;    // when
} wp_perf_estimate_t;

//  Called by wp_perf_iterate for each model. Both pointers are valid only
//  during the call. Return 0 to go on, non-zero to stop.
typedef int (wp_perf_fn) (const char *model, const wp_perf_estimate_t *estimate,
                          void *arg);

//  Create a performance predictor. alpha is the EMA weight of each new
//  load time, in (0, 1]; 0 takes WP_PERF_ALPHA_DEFAULT. Returns NULL for
//  any other alpha or when out of memory.
wp_perf_t *
    wp_perf_new (double alpha);

//  The same, keeping model names in names, shared with other cores of the
//  process (borrowed: it must outlive the predictor; not counted by
//  wp_perf_state_bytes). Its models are indexed by the table's ids, so
//  each id of the table costs a model's statistics (48 bytes). NULL names:
//  as wp_perf_new.
wp_perf_t *
    wp_perf_new_shared (double alpha, wp_names_t *names);

//  Destroy the predictor and everything it learnt; nulls *self_p. Safe on
//  NULL.
void
    wp_perf_destroy (wp_perf_t **self_p);

//  Learn from one finished warmup (a load) of model. When ok, duration_ms
//  is a load time and memory_mb (if not 0) the memory the model now holds;
//  when not ok only the failure is counted. The name is copied. Returns 0,
//  or -1 when the name is empty or too long or the model table is full.
int
    wp_perf_observe (wp_perf_t *self, const char *model, bool ok,
                     uint32_t duration_ms, uint32_t memory_mb);

//  Fill *estimate for model. Returns 0, or -1 when the model is unknown
//  (no load and no memory learned; *estimate is then all zero).
int
    wp_perf_estimate (wp_perf_t *self, const char *model,
                      wp_perf_estimate_t *estimate);

//  The q-quantile (0 <= q <= 1) of model's load times, ms: the
//  nearest-rank sample (rank ceil(q * samples)) within the error above.
//  0 when the model has no samples.
double
    wp_perf_quantile_ms (wp_perf_t *self, const char *model, double q);

//  Load time to plan with: the p90 when model has samples, else default_ms.
double
    wp_perf_expected_load_ms (wp_perf_t *self, const char *model,
                              double default_ms);

//  Learn the memory model takes once loaded: memory_mb in all, vram_mb of
//  it on GPUs, from source ("server": the server's report of its whole
//  footprint, e.g. Ollama's /api/ps; "resident": the bytes of its files
//  made resident; "measured": the change in device or process memory
//  around its load; "server-weights": the size of its weights a server
//  reports, a lower bound that does not replace any other), at at_ms.
//  Kept apart from the load statistics (a table made on the first one).
//  Returns 1 when what is learned changed, 0 when not (the same, or a
//  weaker source), -1 for a bad name, source or size.
int
    wp_perf_learn_memory (wp_perf_t *self, const char *model, uint32_t memory_mb,
                          uint32_t vram_mb, const char *source, uint64_t at_ms);

//  Call fn for every model with a learned memory, in no order (fn may not
//  add or remove models).
int
    wp_perf_iterate_learned (wp_perf_t *self, wp_perf_fn *fn, void *arg);

//  A model's learned memory as a record of 18 bytes (format 1: format,
//  source, memory, vram, time; big-endian), and back. Encode: bytes
//  written, or -1 (nothing learned, no room). Decode: 0, or -1 for a
//  record that does not hold together (nothing changes).
int
    wp_perf_encode_memory (wp_perf_t *self, const char *model, void *buffer,
                           size_t capacity);
int
    wp_perf_decode_memory (wp_perf_t *self, const char *model, const void *data,
                           size_t len);

//  Number of models tracked.
size_t
    wp_perf_size (wp_perf_t *self);

//  Bytes of memory held (the models' statistics and their table).
size_t
    wp_perf_state_bytes (wp_perf_t *self);

//  Call fn for every model, in name order. fn may call any wp_perf method
//  (models it adds are not visited). Returns 0 or fn's non-zero return.
int
    wp_perf_iterate (wp_perf_t *self, wp_perf_fn *fn, void *arg);

//  Write model's statistics as a self-contained record of fixed layout
//  into buffer. Returns the bytes written, or -1 when the model is unknown
//  or capacity is too small (WP_PERF_RECORD_MAX is always enough).
int
    wp_perf_encode (wp_perf_t *self, const char *model, void *buffer,
                    size_t capacity);

//  Replace model's statistics by those of a record wp_perf_encode wrote.
//  The record is checked whole (length, version, histogram consistent
//  with the counts, smallest and largest load); on any doubt it is refused
//  with -1 and nothing changes. Returns 0 or -1 (also for a bad name or a
//  full model table).
int
    wp_perf_decode (wp_perf_t *self, const char *model, const void *data,
                    size_t len);

#ifdef __cplusplus
}
#endif

#endif
