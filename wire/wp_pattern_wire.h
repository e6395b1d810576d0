/*  =========================================================================
    wp_pattern_wire - one pair's summary (wp_pattern_t) to and from the
    usage.pattern message.

    One codec for every side: the analyzer fills the message, the engine
    reads it back, warmupctl tail and stage-cost do both, so what they
    measure is what the components do. A message is the pair one usage
    event changed ("pair/1" in schemas/warmup.proto): its counts, its
    idle-time histogram as the bins that hold idle times and their counts,
    its season and rate anomaly, and its links to the models the user asks
    next or uses with it.
    =========================================================================
*/

#ifndef WP_PATTERN_WIRE_H_INCLUDED
#define WP_PATTERN_WIRE_H_INCLUDED

#include "wp_pattern.h"
#include "warmup.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Links of one message at most: three lists of WP_PATTERN_LINKS.
#define WP_PATTERN_WIRE_LINKS (3 * WP_PATTERN_LINKS)

//  Room for one message's arrays, borrowed by the message it fills (keep
//  it alive until the message is packed).
typedef struct {
    float hist [WP_IDLE_BINS];                  //  the counts of the set bins
    char *link_model [WP_PATTERN_WIRE_LINKS];   //  the links, flattened
    float link_weight [WP_PATTERN_WIRE_LINKS];
    float link_delay_ms [WP_PATTERN_WIRE_LINKS];
} wp_pattern_wire_t;

//  Fill out's pair fields from pair (names and counts borrowed from pair
//  and self). The other fields of out (header, user, times, cause) are the
//  caller's.
void
    wp_pattern_wire_fill (wp_pattern_wire_t *self, const wp_pattern_t *pair,
                          Warmup__V1__UsagePattern *out);

//  Read msg's pair into out, borrowing the names from msg. The histogram
//  goes into out->hist_buf (out->hist points at it). A season or anomaly
//  that is not finite reads as 1 or 0; a link without a model or with a
//  weight or delay that is not a finite, non-negative number is skipped.
//  Returns 0, or -1 when msg does not hold a pair (no model, no count) or
//  its parts do not hold together (a bin past the last, counts of another
//  number than the set bins or that are not finite non-negative numbers,
//  a total that is not, link arrays of different lengths, a list longer
//  than WP_PATTERN_LINKS); then error (may be NULL) says which field.
int
    wp_pattern_wire_read (const Warmup__V1__UsagePattern *msg, wp_pattern_t *out,
                          char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
