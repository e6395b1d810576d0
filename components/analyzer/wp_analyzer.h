/*  =========================================================================
    wp_analyzer - UsagePatternAnalyzer core: learns, per (user, model) pair
    and per model, how often, how regularly and in what order models are
    used.

    Plain C: no sockets, no clock. Users are keyed by a keyed hash of their
    id (wp_user_hash), never by the id itself. Memory is bounded: at most
    max_pairs pairs (beyond that the least recently used of a small sample
    is evicted) and at most max_user_models models per user (the user's
    least recently used model is evicted). A pair holds under 1 KiB.

    What it says of a user's models is a pattern (wp_pattern_t, in wire/
    beside the schemas: the engine reads the same type from the bus).

    Per pair it keeps:
    - request count, first and last use, mean and standard deviation of the
      gap between requests (Welford);
    - request rates as exponentially decayed counts at three half-lives
      (1 minute, the configured one, 1 day); the short one against the
      long one is the rate anomaly (a burst or a silence, as a z score);
    - the distribution of idle times (gaps) in a log-scale histogram at two
      resolutions (quarter octaves from 1 s to 512 s for IDE bursts, half
      octaves from 512 s to 36 h for sessions; WP_IDLE_BINS bins), aged
      exponentially in time (hist_half_life_s) so it follows a changing
      user and counts gaps per time, not per request (a busy model's rare
      pauses keep their weight); beside it the last few idle times (each
      older one weighs 7/8: what the user does now);
    - hour-of-day and day-of-week counts (seasonality), halved when large;
    - what the user asks next after this model (first-order Markov, with
      the mean delay), next after (previous model, this model) (second
      order), and which models the user uses within 5 minutes of it
      (co-use): WP_ANALYZER_LINKS entries each, aged, weakest replaced.
    Per model: the request count of all users, the last use, and the idle
    times of all its pairs (the population its users form: the prior for
    a new user of the model); over all pairs, the global idle times (the
    prior for a new model).

    Persistence: changed pairs and models are handed to the owner as
    records (wp_analyzer_drain) and read back with wp_analyzer_load, so the
    actor can keep them in LMDB and a restarted analyzer knows what it
    learned. Record version 3 (a version 1 record is a prefix of it; 1
    and 2 still load: version 1's new statistics start empty, version 2's
    dense float histograms are stored as counts).

    Memory: a histogram stores only its non-empty bins (a 64-bit mask),
    each as a 16-bit count of a per-histogram unit, the largest count kept
    between 16384 and 65535: every bin holds its aged idle times to
    1/16384 of the largest bin. Ageing scales the unit; an idle time adds
    1 / unit counts rounded up or down at random (deterministic: a fixed
    xorshift sequence), so a busy bin whose idle time is a fraction of a
    count grows without bias.
    What varies in size from pair to pair (its links, each list as long
    as it is used; its stored bins; the hours of the day and days of the
    week it was used in) is one block per pair, beside a fixed part of
    120 bytes (warmup-bench's load: about 250 bytes a pair in all).
    =========================================================================
*/

#ifndef WP_ANALYZER_H_INCLUDED
#define WP_ANALYZER_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "wp_names.h"
#include "wp_pattern.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Largest number of models remembered per user (a pattern's size).
#define WP_ANALYZER_USER_MODELS_MAX 32

//  Record version of persisted pairs and models (1 and 2 still load).
#define WP_ANALYZER_RECORD_VERSION 3

//  Entries per pair in each transition / co-use list.
#define WP_ANALYZER_LINKS WP_PATTERN_LINKS

//  Options; zero fields take the defaults.
typedef struct {
    uint32_t max_pairs;         //  pairs kept in memory (default 1000000)
    uint32_t max_user_models;   //  models per user, <= 32 (default 16)
    uint32_t rate_half_life_s;  //  half-life of the rate estimate, s (default 3600)
    uint32_t hist_half_life_s;  //  half-life of a pair's idle-time counts, s
                                //  (default 86400: a whole daily cycle;
                                //  models x4, global x28)
    wp_names_t *names;          //  model names shared with other cores of the
                                //  process (borrowed, outlives the analyzer,
                                //  not in wp_analyzer_state_bytes; each id of
                                //  it costs a model, 56 bytes); NULL: its own
} wp_analyzer_opts_t;

//  Receives a record to store (value != NULL) or delete (value == NULL).
//  db is "pairs" or "models". Return 0, or -1 to stop draining (the
//  record stays dirty).
typedef int (wp_analyzer_record_fn) (const char *db, const void *key,
                                     size_t key_len, const void *value,
                                     size_t value_len, void *arg);

typedef struct _wp_analyzer_t wp_analyzer_t;

//  Create an analyzer; opts may be NULL.
wp_analyzer_t *
    wp_analyzer_new (const wp_analyzer_opts_t *opts);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_analyzer_destroy (wp_analyzer_t **self_p);

//  Learn one request of user_hash for model at event time now_ms.
//  Returns 0, or -1 for an invalid model name (empty or over 255 bytes).
int
    wp_analyzer_observe (wp_analyzer_t *self, uint64_t user_hash,
                         const char *model, uint64_t now_ms);

//  Fill out with the user's models, most recently used first, with rates
//  evaluated at now_ms. Returns how many were written (<= capacity). The
//  second-order links are those after the user's latest two models.
size_t
    wp_analyzer_pattern (wp_analyzer_t *self, uint64_t user_hash,
                         uint64_t now_ms, wp_pattern_t *out, size_t capacity);

//  The population prior of a pair into out (WP_IDLE_BINS, sums to 1): the
//  idle times of the model's other pairs, shrunk toward all pairs'
//  (uniform when none). For inspection: the engine keeps a population of
//  its own. A pair not known gets the model's, or all pairs'.
void
    wp_analyzer_prior (wp_analyzer_t *self, uint64_t user_hash, const char *model,
                       float *out);

//  The pair the latest wp_analyzer_observe learned, its summary at now_ms
//  (as wp_analyzer_pair gives it, without looking the pair up again): what
//  usage.pattern carries. Returns false when there is none (no observe
//  yet, or the pair was evicted since).
bool
    wp_analyzer_observed (wp_analyzer_t *self, uint64_t now_ms, wp_pattern_t *out);

//  One pair, if known. Returns true and fills out.
bool
    wp_analyzer_pair (wp_analyzer_t *self, uint64_t user_hash,
                      const char *model, uint64_t now_ms, wp_pattern_t *out);

//  Receives one pair of wp_analyzer_each: its user and its summary
//  (borrowed, valid during the call).
typedef void (wp_analyzer_pair_fn) (uint64_t user_hash, const wp_pattern_t *pair,
                                    void *arg);

//  Hand each pair whose last request is at or after since_ms (0: every
//  pair) to fn, its summary at now_ms (what usage.pattern carries; a
//  resync's snapshot). Returns how many were handed.
size_t
    wp_analyzer_each (wp_analyzer_t *self, uint64_t since_ms, uint64_t now_ms,
                      wp_analyzer_pair_fn *fn, void *arg);

//  All users' requests for a model (0 when unknown).
uint64_t
    wp_analyzer_model_count (wp_analyzer_t *self, const char *model);

//  Number of pairs, users and models known.
size_t
    wp_analyzer_pairs (wp_analyzer_t *self);
size_t
    wp_analyzer_users (wp_analyzer_t *self);
size_t
    wp_analyzer_models (wp_analyzer_t *self);

//  Pairs evicted to respect the bounds so far.
uint64_t
    wp_analyzer_evicted (wp_analyzer_t *self);

//  Bytes of memory held by the analyzer's tables.
size_t
    wp_analyzer_state_bytes (wp_analyzer_t *self);

//  Hand every changed pair and model (and every evicted pair, as a
//  delete) to fn, then mark them clean. Returns records handed, or -1
//  when fn stopped it.
int
    wp_analyzer_drain (wp_analyzer_t *self, wp_analyzer_record_fn *fn, void *arg);

//  Hand over now the records the latest wp_analyzer_observe changed: the
//  pairs it made dirty (its own, and the one before it that gained a
//  link) while their state is in the cache, and the pairs it evicted (as
//  deletes), so that the drain at a flush has little left. A pair handed
//  so once is not handed again at its events before the next
//  wp_analyzer_drain, which hands its latest: at most two records a pair
//  per drain. Returns records handed, or -1 when fn refused one (it and
//  the rest stay dirty for the drain).
int
    wp_analyzer_drain_recent (wp_analyzer_t *self, wp_analyzer_record_fn *fn, void *arg);

//  Load one persisted record of db "pairs" or "models", of record version
//  1, 2 or 3 (told apart by their size and format byte). Returns 0, or -1 for a record that
//  does not parse (logged by the caller; not loaded). Links to models
//  not loaded yet are dropped: load "models" first.
int
    wp_analyzer_load (wp_analyzer_t *self, const char *db, const void *key,
                      size_t key_len, const void *value, size_t value_len);

#ifdef __cplusplus
}
#endif

#endif
