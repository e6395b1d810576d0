/*  =========================================================================
    wp_pattern - what the analyzer knows of a user's models and the engine
    predicts from: a pattern entry per (user, model) pair, the idle-time
    bins its histograms are counted in, and an entry's population prior.

    Both sides of usage.pattern share it (the codec is wp_pattern_wire), so
    neither component includes the other's headers. Plain C.
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

//  Entries per pair in each transition / co-use list.
#define WP_PATTERN_LINKS 4

//  Entries of a user's pattern at most (the models an analyzer remembers
//  per user).
#define WP_PATTERN_MODELS_MAX 32

//  A model that tends to follow (or go with) another for the user.
typedef struct {
    const char *model;          //  borrowed from the analyzer or the message
    uint32_t model_id;          //  dense id
    float weight;               //  aged count
    float delay_ms;             //  mean delay after the other model, ms
} wp_link_t;

//  What the analyzer knows of one (user, model) pair.
typedef struct {
    const char *model;      //  borrowed from the analyzer or the message
    uint32_t model_id;      //  dense id of the model, 0..models-1
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
                            //  the analyzer points it at hist_buf)
    double hist_total;      //  their sum
    float hist_buf [WP_IDLE_BINS];  //  the pair's counts, as filled in
    float recent [WP_IDLE_BINS];    //  the last few idle times (each
    double recent_total;    //  older one weighs 7/8), and their sum
    float prior [WP_IDLE_BINS]; //  population prior: the model's other
                            //  pairs' idle times shrunk toward all pairs',
                            //  sums to 1; filled by wp_pattern_prior (the
                            //  analyzer leaves it to whoever needs it)
    uint64_t model_bins;        //  for the prior: the model's idle times,
    const uint16_t *model_counts;   //  bit i of bins set: bin i is stored,
    float model_unit;           //  in rising order, as a count of unit;
                                //  and all pairs'
    const float *global_hist;   //  (WP_IDLE_BINS); borrowed until the next
    double global_total;        //  observe; global_hist NULL when prior is
                                //  filled (a pattern from the bus)
    wp_link_t next [WP_PATTERN_LINKS];   //  asked next after this model
    uint8_t n_next;
    wp_link_t next2 [WP_PATTERN_LINKS];  //  asked next after the user's
    uint8_t n_next2;        //  previous model then this one (second order)
    wp_link_t couse [WP_PATTERN_LINKS];  //  used within 5 min of it
    uint8_t n_couse;
} wp_pattern_t;

//  An entry's population prior into out (WP_IDLE_BINS, sums to 1): the
//  model's other pairs' idle times shrunk toward all pairs' (uniform if
//  none); from entry->prior when the entry carries no counts (it came from
//  the bus).
void
    wp_pattern_prior (const wp_pattern_t *entry, float *out);

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
