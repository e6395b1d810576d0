/*  =========================================================================
    wp_pattern - the idle-time bins both sides of usage.pattern share.
    =========================================================================
*/
#include <assert.h>
#include <math.h>
#include "wp_pattern.h"

//  The bins: [0, 1 s), quarter octaves from 1 s to 512 s (edges 1 to
//  EDGES_QUARTER), half octaves from there to 2^17 s. A load is seconds,
//  a keep-alive minutes: finer where plans are made, coarse where only
//  "long" matters.
#define EDGE_FIRST_MS 1000.0            //  the first edge
#define EDGES_QUARTER 37                //  edges in quarter octaves
#define EDGE_HALF_FROM_MS 512000.0      //  where half octaves start

//  Lower edges of the idle-time bins, ms (built once; see wp_idle_edge).
static uint64_t s_edges [WP_IDLE_BINS + 1];

//  Build the bin edges. Deterministic: integer ms rounded from exact
//  powers. (Two threads building them at once write the same values.)
static void
s_edges_init (void)
{
    if (__atomic_load_n (&s_edges [WP_IDLE_BINS], __ATOMIC_ACQUIRE))
        return;
    uint64_t edges [WP_IDLE_BINS + 1];
    edges [0] = 0;
    for (int i = 1; i <= EDGES_QUARTER; i++)
        edges [i] = (uint64_t) llround (EDGE_FIRST_MS * pow (2.0, (i - 1) / 4.0));
    for (int j = 1; EDGES_QUARTER + j < WP_IDLE_BINS; j++)
        edges [EDGES_QUARTER + j] = (uint64_t) llround (EDGE_HALF_FROM_MS * pow (2.0, j / 2.0));
    edges [WP_IDLE_BINS] = 2 * edges [WP_IDLE_BINS - 1];
    for (int i = 0; i < WP_IDLE_BINS; i++)
        __atomic_store_n (&s_edges [i], edges [i], __ATOMIC_RELAXED);
    __atomic_store_n (&s_edges [WP_IDLE_BINS], edges [WP_IDLE_BINS], __ATOMIC_RELEASE);
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
