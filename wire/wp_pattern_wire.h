/*  =========================================================================
    wp_pattern_wire - a user's pattern (wp_pattern_t entries) to and from
    the usage.pattern message.

    One codec for every side: the analyzer fills the message, the engine
    reads it back, and stage-cost runs both, so what they measure is what
    the components do. The pattern goes as columns (PatternColumns in
    schemas/warmup.proto): one sub-message of 27 packed arrays whatever
    the number of models, where a ModelPattern per model (and a ModelLink
    per link before that) made protobuf-c's per-message and per-field
    costs the largest part of a usage event. The reader still takes the
    older forms.
    =========================================================================
*/

#ifndef WP_PATTERN_WIRE_H_INCLUDED
#define WP_PATTERN_WIRE_H_INCLUDED

#include "wp_pattern.h"
#include "warmup.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Entries of one usage.pattern message at most.
#define WP_PATTERN_WIRE_MAX 16

//  Room for one message: the columns and the names, all borrowed by the
//  message it fills (keep it alive until the message is packed).
typedef struct {
    Warmup__V1__PatternColumns columns;
    char *model [WP_PATTERN_WIRE_MAX];
    uint64_t count [WP_PATTERN_WIRE_MAX];
    uint64_t last_ms [WP_PATTERN_WIRE_MAX];
    uint64_t model_count [WP_PATTERN_WIRE_MAX];
    double gap_mean_ms [WP_PATTERN_WIRE_MAX];
    double gap_std_ms [WP_PATTERN_WIRE_MAX];
    double rate_per_h [WP_PATTERN_WIRE_MAX];
    double idle_total [WP_PATTERN_WIRE_MAX];
    double recent_total [WP_PATTERN_WIRE_MAX];
    double rate_short_per_h [WP_PATTERN_WIRE_MAX];
    double rate_long_per_h [WP_PATTERN_WIRE_MAX];
    double anomaly [WP_PATTERN_WIRE_MAX];
    double season [WP_PATTERN_WIRE_MAX];
    float hist [WP_PATTERN_WIRE_MAX * WP_IDLE_BINS];
    float recent [WP_PATTERN_WIRE_MAX * WP_IDLE_BINS];
    float prior [WP_PATTERN_WIRE_MAX * WP_IDLE_BINS];
    uint32_t link_count [3][WP_PATTERN_WIRE_MAX];
    uint32_t refs [3][WP_PATTERN_WIRE_MAX * WP_PATTERN_LINKS];
    float weights [3][WP_PATTERN_WIRE_MAX * WP_PATTERN_LINKS];
    float delays [2][WP_PATTERN_WIRE_MAX * WP_PATTERN_LINKS];
    char *others [WP_PATTERN_WIRE_MAX * 3 * WP_PATTERN_LINKS];
    uint32_t other_ids [WP_PATTERN_WIRE_MAX * 3 * WP_PATTERN_LINKS];
} wp_pattern_wire_t;

//  Fill out's columns, link_models and idle_bins from n entries of pattern
//  (n <= WP_PATTERN_WIRE_MAX; more are left out), computing each entry's
//  population prior (wp_pattern_prior) into it. The other fields of out
//  (header, user, times) are the caller's.
void
    wp_pattern_wire_fill (wp_pattern_wire_t *self, wp_pattern_t *pattern, size_t n,
                          Warmup__V1__UsagePattern *out);

//  Read msg's entries (its columns, else its ModelPattern list) into out
//  (at most capacity), borrowing names and the pair's histogram from msg:
//  entries without a model or a count are skipped; a histogram of another
//  size or with a value that is not a finite count is left out (hist NULL,
//  recent empty, prior flat); links with a negative or non-finite weight
//  or delay are skipped. Returns the entries read, or -1 when msg does not
//  hold together (a column of another length than the models, link counts
//  that do not add up, a reference to no model); then error says which
//  field (and model).
int
    wp_pattern_wire_read (const Warmup__V1__UsagePattern *msg, wp_pattern_t *out,
                          size_t capacity, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
