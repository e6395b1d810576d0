/*  =========================================================================
    wp_analyzer - UsagePatternAnalyzer core: learns, per (user, model) pair
    and per model, how often and how regularly models are used.

    Plain C: no sockets, no clock. Users are keyed by a keyed hash of their
    id (wp_user_hash), never by the id itself. Memory is bounded: at most
    max_pairs pairs (beyond that the least recently used of a small sample
    is evicted) and at most max_user_models models per user (the user's
    least recently used model is evicted).

    Per pair it keeps: request count, first and last use, mean and standard
    deviation of the gap between requests (Welford), and a recency-weighted
    rate (an exponentially decayed count with a configurable half-life).
    Per model: the request count of all users and the last use.

    Persistence: changed pairs and models are handed to the owner as
    records (wp_analyzer_drain) and read back with wp_analyzer_load, so the
    actor can keep them in LMDB and a restarted analyzer knows what it
    learned.
    =========================================================================
*/

#ifndef WP_ANALYZER_H_INCLUDED
#define WP_ANALYZER_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Largest number of models remembered per user.
#define WP_ANALYZER_USER_MODELS_MAX 32

//  Record version of persisted pairs and models.
#define WP_ANALYZER_RECORD_VERSION 1

//  Options; zero fields take the defaults.
typedef struct {
    uint32_t max_pairs;         //  pairs kept in memory (default 1000000)
    uint32_t max_user_models;   //  models per user, <= 32 (default 16)
    uint32_t rate_half_life_s;  //  half-life of the rate estimate, s (default 3600)
} wp_analyzer_opts_t;

//  What the analyzer knows of one (user, model) pair.
typedef struct {
    const char *model;      //  borrowed: valid while the analyzer lives
    uint32_t model_id;      //  dense id of the model, 0..models-1
    uint64_t count;         //  the user's requests for it
    uint64_t first_ms;      //  first request, event time
    uint64_t last_ms;       //  last request, event time
    double gap_mean_ms;     //  mean gap between requests, ms (0 if count < 2)
    double gap_std_ms;      //  standard deviation of the gap, ms
    uint64_t model_count;   //  all users' requests for the model
    double rate_per_h;      //  recency-weighted rate at the query time, 1/h
} wp_pattern_t;

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
//  evaluated at now_ms. Returns how many were written (<= capacity).
size_t
    wp_analyzer_pattern (wp_analyzer_t *self, uint64_t user_hash,
                         uint64_t now_ms, wp_pattern_t *out, size_t capacity);

//  One pair, if known. Returns true and fills out.
bool
    wp_analyzer_pair (wp_analyzer_t *self, uint64_t user_hash,
                      const char *model, uint64_t now_ms, wp_pattern_t *out);

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

//  Load one persisted record of db "pairs" or "models". Returns 0, or -1
//  for a record that does not parse (logged by the caller; not loaded).
int
    wp_analyzer_load (wp_analyzer_t *self, const char *db, const void *key,
                      size_t key_len, const void *value, size_t value_len);

#ifdef __cplusplus
}
#endif

#endif
