/*  =========================================================================
    wp_pattern_wire - a user's pattern (wp_pattern_t entries) to and from
    the usage.pattern message.

    One codec for every side: the analyzer fills the message, the engine
    reads it back, and stage-cost runs both, so what they measure is what
    the components do. Links go as parallel arrays of references (see
    ModelPattern.next_ref in schemas/warmup.proto): a pattern of 16 models
    with full link lists was 16 + 192 sub-messages, it is 16. The reader
    still takes the older ModelLink lists.
    =========================================================================
*/

#ifndef WP_PATTERN_WIRE_H_INCLUDED
#define WP_PATTERN_WIRE_H_INCLUDED

#include "wp_analyzer.h"
#include "warmup.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Entries of one usage.pattern message at most.
#define WP_PATTERN_WIRE_MAX 16

//  Room for one message: entries, link arrays and names, all borrowed by
//  the message it fills (keep it alive until the message is packed).
typedef struct {
    Warmup__V1__ModelPattern entries [WP_PATTERN_WIRE_MAX];
    Warmup__V1__ModelPattern *pointers [WP_PATTERN_WIRE_MAX];
    uint32_t refs [WP_PATTERN_WIRE_MAX][3][WP_ANALYZER_LINKS];
    float weights [WP_PATTERN_WIRE_MAX][3][WP_ANALYZER_LINKS];
    float delays [WP_PATTERN_WIRE_MAX][2][WP_ANALYZER_LINKS];
    char *others [WP_PATTERN_WIRE_MAX * 3 * WP_ANALYZER_LINKS];
    uint32_t other_ids [WP_PATTERN_WIRE_MAX * 3 * WP_ANALYZER_LINKS];
} wp_pattern_wire_t;

//  Fill out's models, link_models and idle_bins from n entries of pattern
//  (n <= WP_PATTERN_WIRE_MAX; more are left out), computing each entry's
//  population prior (wp_analyzer_prior) into it. The other fields of out
//  (header, user, times) are the caller's.
void
    wp_pattern_wire_fill (wp_pattern_wire_t *self, wp_pattern_t *pattern, size_t n,
                          Warmup__V1__UsagePattern *out);

//  Read msg's entries into out (at most capacity), borrowing names from
//  msg: entries without a model or a count are skipped; a histogram of
//  another size or with a value that is not a finite count is left out
//  (hist NULL, recent empty, prior flat); links with a negative or
//  non-finite weight or delay are skipped. Returns the entries read, or -1
//  when msg does not hold together (parallel arrays of different lengths,
//  a reference to no model); then error says which entry and field.
int
    wp_pattern_wire_read (const Warmup__V1__UsagePattern *msg, wp_pattern_t *out,
                          size_t capacity, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
