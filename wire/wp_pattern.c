/*  =========================================================================
    wp_pattern - a pattern entry's idle-time bins and population prior.
    =========================================================================
*/
#include <assert.h>
#include <math.h>
#include <string.h>
#include "wp_pattern.h"

//  Idle-time bins (WP_IDLE_BINS): [0, 1 s), quarter octaves from 1 s to
//  512 s (edges 1 to EDGES_QUARTER), half octaves from there to 2^17 s.
//  Design: a load is seconds, a keep-alive minutes; finer where plans
//  are made, coarse where only "long" matters.
#define EDGE_FIRST_MS 1000.0            //  the first edge
#define EDGES_QUARTER 37                //  edges in quarter octaves
#define EDGE_HALF_FROM_MS 512000.0      //  where half octaves start

//  Weight of all pairs in a model's prior (Bayesian pseudo counts).
#define PRIOR_GLOBAL 4.0

//  Lower edges of the idle-time bins, ms (built once; see wp_idle_edge).
static uint64_t s_edges [WP_IDLE_BINS + 1];

//  Build the bin edges: [0, 1 s), quarter octaves to 512 s, half octaves
//  to 2^17 s. Deterministic: integer ms rounded from exact powers.
static void
s_edges_init (void)
{
    if (s_edges [1])
        return;
    s_edges [0] = 0;
    for (int i = 1; i <= EDGES_QUARTER; i++)
        s_edges [i] = (uint64_t) llround (EDGE_FIRST_MS * pow (2.0, (i - 1) / 4.0));
    for (int j = 1; EDGES_QUARTER + j < WP_IDLE_BINS; j++)
        s_edges [EDGES_QUARTER + j] = (uint64_t) llround (EDGE_HALF_FROM_MS
                                                          * pow (2.0, j / 2.0));
    s_edges [WP_IDLE_BINS] = 2 * s_edges [WP_IDLE_BINS - 1];
}

//  Idle-time bin of a gap.
int
wp_idle_bin (uint64_t gap_ms)
{
    s_edges_init ();
    if (gap_ms < s_edges [1])
        return 0;
    if (gap_ms >= s_edges [WP_IDLE_BINS - 1])
        return WP_IDLE_BINS - 1;
    int low = 1, high = WP_IDLE_BINS - 1;     //  edges [low] <= gap < edges [high]
    while (high - low > 1) {
        int mid = (low + high) / 2;
        if (gap_ms >= s_edges [mid])
            low = mid;
        else
            high = mid;
    }
    return low;
}

//  Lower edge of a bin.
uint64_t
wp_idle_edge (int bin)
{
    assert (bin >= 0 && bin <= WP_IDLE_BINS);
    s_edges_init ();
    return s_edges [bin];
}

//  An entry's population prior: the model's other pairs, shrunk toward
//  all pairs (uniform if none). The model's counts age slower than the
//  pair's, so what is left of the pair's own is its older history.
void
wp_pattern_prior (const wp_pattern_t *entry, float *out)
{
    assert (entry && out);
    if (!entry->global_hist || !entry->hist) {
        memcpy (out, entry->prior, sizeof entry->prior);
        return;
    }
    //  The model's stored bins, dense
    float model [WP_IDLE_BINS];
    memset (model, 0, sizeof model);
    int at = 0;
    for (uint64_t bins = entry->model_bins; bins; bins &= bins - 1, at++)
        model [__builtin_ctzll (bins)] = (float) entry->model_counts [at] * entry->model_unit;
    double global = entry->global_total, others = 0;
    float other [WP_IDLE_BINS];
    for (int i = 0; i < WP_IDLE_BINS; i++) {
        other [i] = model [i] > entry->hist [i] ? model [i] - entry->hist [i] : 0;
        others += other [i];
    }
    double weight = others + PRIOR_GLOBAL;
    if (global > 0)
        for (int i = 0; i < WP_IDLE_BINS; i++)
            out [i] = (float) ((other [i] + PRIOR_GLOBAL * (entry->global_hist [i] / global))
                               / weight);
    else
        for (int i = 0; i < WP_IDLE_BINS; i++)
            out [i] = (float) ((other [i] + PRIOR_GLOBAL * (1.0 / WP_IDLE_BINS)) / weight);
}
