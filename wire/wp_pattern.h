/*  =========================================================================
    wp_pattern - what the analyzer says of one (user, model) pair, as the
    engine reads it: the meaning the two sides of usage.pattern share.

    - The idle-time bins: [0, 1 s), quarter octaves from 1 s to 512 s (for
      IDE bursts), half octaves from 512 s to 2^17 s (36.4 h, for
      sessions), then everything longer: WP_IDLE_BINS bins, whose edges
      wp_idle_edge gives to the millisecond. The analyzer counts idle times
      in them; the engine plans on their edges.
    - A pair's summary (wp_pattern_t): its requests, its idle-time
      histogram, its rates, its season and its links to the models the
      user asks next or uses with it. The analyzer fills it from what it
      learned; usage.pattern carries the part the engine needs
      (wp_pattern_wire); the engine predicts and plans from it.

    Plain C: no sockets, no clock. Owned by no component: both include it.
    =========================================================================
*/

#ifndef WP_PATTERN_H_INCLUDED
#define WP_PATTERN_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Bins of an idle-time histogram: [0, 1 s), 36 quarter octaves to 512 s,
//  16 half octaves to 2^17 s (36.4 h), then everything longer.
#define WP_IDLE_BINS 54

//  Entries per pair in each link list (next, next after the previous and
//  this model, co-use).
#define WP_PATTERN_LINKS 4

//  A model that tends to follow (or go with) another for the user.
typedef struct {
    const char *model;          //  borrowed: valid while its source lives
    uint32_t model_id;          //  dense id (the analyzer's; 0 from the wire)
    float weight;               //  aged count
    float delay_ms;             //  mean delay after the other model, ms
} wp_link_t;

//  What is known of one (user, model) pair. From the analyzer every field
//  is filled; from the wire (wp_pattern_wire_read) the fields usage.pattern
//  carries: model, count, last_ms, rate_per_h, the histogram and its total,
//  season, anomaly and the links (the others are 0).
typedef struct {
    const char *model;      //  borrowed: valid while its source lives
    uint32_t model_id;      //  dense id of the model (the analyzer's)
    uint64_t count;         //  the user's requests for it
    uint64_t first_ms;      //  first request, event time
    uint64_t last_ms;       //  last request, event time
    double gap_mean_ms;     //  mean gap between requests, ms (0 if count < 2)
    double gap_std_ms;      //  standard deviation of the gap, ms
    uint64_t model_count;   //  all users' requests for the model
    double rate_per_h;      //  recency-weighted rate at the query time, 1/h
    double rate_short_per_h;//  the same with a 1-minute half-life
    double rate_long_per_h; //  the same with a 1-day half-life
    double anomaly;         //  z score of the short rate against the long
                            //  one (> 0 burst, < 0 silence)
    double season;          //  hour-of-day x day-of-week factor of the
                            //  query time (1 = an average hour)
    const float *hist;      //  WP_IDLE_BINS aged idle-time counts (borrowed;
                            //  points at hist_buf), NULL when none
    double hist_total;      //  their sum
    float hist_buf [WP_IDLE_BINS];  //  the pair's counts, as filled in
    float recent [WP_IDLE_BINS];    //  the last few idle times (each
    double recent_total;    //  older one weighs 7/8), and their sum
    wp_link_t next [WP_PATTERN_LINKS];    //  asked next after this model
    uint8_t n_next;
    wp_link_t next2 [WP_PATTERN_LINKS];   //  asked next after the user's
    uint8_t n_next2;        //  previous model then this one (second order)
    wp_link_t couse [WP_PATTERN_LINKS];   //  used within 5 min of it
    uint8_t n_couse;
} wp_pattern_t;

//  Idle-time histogram bin of a gap, ms.
int
    wp_idle_bin (uint64_t gap_ms);

//  Lower edge of bin i (0 <= i <= WP_IDLE_BINS), ms; edge WP_IDLE_BINS is
//  a nominal end of the last bin (twice its start).
uint64_t
    wp_idle_edge (int bin);

#ifdef __cplusplus
}
#endif

#endif
