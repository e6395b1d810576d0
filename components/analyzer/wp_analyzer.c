/*  =========================================================================
    wp_analyzer - UsagePatternAnalyzer core.
    =========================================================================
*/
#include <czmq.h>
#include <malloc.h>
#include <math.h>
#include "wp_analyzer.h"
#include "wp_names.h"
#include "wp_util.h"

#define NONE UINT32_MAX
#define MODEL_NAME_MAX 255              //  bytes of a model name, at most
#define EVICT_SAMPLE 8                  //  pairs an eviction looks at (sampled
                                        //  LRU: bounds its cost)

//  Units of time.
#define MS_PER_S 1000.0
#define MS_PER_HOUR 3600000ULL
#define MS_PER_DAY 86400000ULL
#define HOURS_PER_DAY 24
#define DAYS_PER_WEEK 7

//  Defaults of the options (the service's; wp_analyzer.h).
#define DEFAULT_MAX_PAIRS 1000000       //  pairs kept, as max_pairs
#define DEFAULT_USER_MODELS 16          //  models per user in a pattern
#define DEFAULT_RATE_HALF_LIFE_S 3600   //  s: the rate is "per recent hour"
//  Half-life of a pair's idle-time histogram, s. Calibrated on the dev
//  traces (warmup-eval: a day keeps a user's daily rhythm; 6 h planned
//  on a handful of recent pauses and waited longer on servegen-dev).
#define DEFAULT_HIST_HALF_LIFE_S 86400
//  A model's histogram (over its users) ages this many times slower than
//  a pair's (4 days at the default), the population's this many (4
//  weeks): they are the priors of pairs with little data. Chosen with the
//  half-life above, on the dev traces.
#define MODEL_AGE_FACTOR 4
#define GLOBAL_AGE_FACTOR 28

#define SHORT_HALF_LIFE_MS 60000.0      //  half-life of the short rate (burst)
#define LONG_HALF_LIFE_MS 86400000.0    //  half-life of the long rate (a day)
#define LINK_DECAY 0.9f                 //  weight kept by links per new one
#define LINK_ALPHA 0.2f                 //  EMA weight of a new link delay
#define NEXT_WINDOW_MS 3600000ULL       //  a later model is "next" within this
#define COUSE_WINDOW_MS 300000ULL       //  models used within this go together
                                        //  (the prediction horizon's default)
#define SEASON_MAX 60000                //  seasonal counts are halved above
                                        //  (they are uint16_t)
#define SEASON_PSEUDO 2.0               //  pseudo counts of the season factor
#define PRIOR_GLOBAL 4.0                //  weight of all pairs in a model's prior
                                        //  (Bayesian pseudo counts)
#define FAST_UNIT 16                    //  one recent idle time in pair->fast

//  Stored idle-time counts are uint16_t scaled by a power-of-two unit;
//  the largest keeps 14 to 16 bits (s_count_add): about 1/16384 of the
//  largest bin of resolution.
#define COUNT_MAX 65535                 //  UINT16_MAX
#define COUNT_FLOOR 16384               //  2^14: the largest is kept at least this
#define COUNT_UNIT_FIRST 0x1.0p-14f     //  unit of a first idle time: COUNT_FLOOR counts

//  Version 1 pair record (big-endian): count u64, first u64, last u64,
//  gap_mean f64, gap_m2 f64, decayed count f64, decayed-at u64.
#define PAIR_RECORD_V1 56
//  Version 2 appends: format u8 (2), n_next, n_next2, n_couse u8;
//  decayed short, decayed long f64; histogram total f32, 54 bins f32;
//  hour-of-day 24 x u16, day-of-week 7 x u16; next 4 x (model name
//  hash u64, weight f32, delay f32); next2 4 x (previous model hash u64,
//  next model hash u64, weight f32); co-use 4 x (hash u64, weight f32).
//  Then the recent idle times: 54 bins u8.
#define PAIR_RECORD_V2 604
//  Version 3 appends to version 1: format u8 (3), n_next, n_next2,
//  n_couse u8; decayed short, decayed long f64; histogram total f32,
//  unit f32 (the value of one count), rounding carried f32 (in counts),
//  stored bins u64 (bit i: bin i); hour-of-day 24 x u16, day-of-week
//  7 x u16 (158 bytes so far); then
//  n_next x (model name hash u64, weight f32, delay f32), n_next2 x
//  (previous model hash u64, next model hash u64, weight f32), n_couse x
//  (hash u64, weight f32); then per stored bin its count u16, then per
//  stored bin its recent weight u8. At most 512 bytes: never 604.
#define PAIR_RECORD_V3 158
#define PAIR_RECORD_V3_MAX (PAIR_RECORD_V3 + 4 * (16 + 20 + 12) + 3 * WP_IDLE_BINS)
//  Version 1 model record: count u64, last u64. Version 2 appends:
//  format u8 (2), 3 reserved bytes, histogram total f32, 54 bins f32,
//  time the histogram was aged to u64. Version 3 appends to version 1:
//  format u8 (3), 3 reserved bytes, histogram total f32, unit f32,
//  rounding carried f32, time the histogram was aged to u64, stored bins
//  u64 (48 bytes so far), then per stored bin its count u16 (at most 156
//  bytes: never 248).
#define MODEL_RECORD_V1 16
#define MODEL_RECORD_V2 248
#define MODEL_RECORD_V3 48

_Static_assert (PAIR_RECORD_V3_MAX < PAIR_RECORD_V2, "version 3 pairs are told by size");
_Static_assert (MODEL_RECORD_V3 + 2 * WP_IDLE_BINS < MODEL_RECORD_V2, "and models");

_Static_assert (WP_IDLE_BINS == 54, "record layouts assume 54 bins");

//  A link to another model the user asked next (first order).
typedef struct {
    uint32_t model;         //  model id
    float weight;           //  aged count
    float delay_ms;         //  mean delay
} link_t;

//  A second-order link: after prev then this model comes next.
typedef struct {
    uint32_t prev;          //  model id before this one
    uint32_t next;          //  model id asked next
    float weight;           //  aged count
} link2_t;

//  A model used within COUSE_WINDOW_MS of this one (no delay).
typedef struct {
    uint32_t model;         //  model id
    float weight;           //  aged count
} couse_t;

//  Bits of pair.season: hours of the day, then days of the week.
#define SEASON_DAY0 HOURS_PER_DAY

//  One (user, model) pair. What varies in size from pair to pair is in
//  one block, its tail, each part as long as it is used, in this order:
//  next [n_next] (link_t), next2 [n_next2] (link2_t), couse [n_couse]
//  (couse_t); the stored idle-time bins' counts (uint16_t per bit of
//  bins, rising: its aged idle-time count in hist_unit); the stored
//  hour-of-day and day-of-week counts (uint16_t per bit of season); the
//  stored bins' recent weights (uint8_t per bit of bins: the last few
//  idle times x FAST_UNIT, each older one weighs 7/8, rounded down to 0
//  in about 16 idle times). A bin, hour or day not stored holds 0.
typedef struct {
    uint32_t model;         //  model id
    uint32_t user_slot;     //  index of the user in users[]
    uint32_t user_next;     //  the user's next pair (less recent), NONE last
    uint32_t user_prev;     //  the user's previous pair (more recent), NONE first
    float hist_total;       //  sum of the aged idle-time counts
    float hist_unit;        //  value of one stored count (see s_count_add)
    float hist_rest;        //  rounding carried to the next count added
    uint64_t count;         //  requests
    uint64_t first_ms;      //  first request
    uint64_t last_ms;       //  last request
    double gap_mean;        //  Welford mean of gaps, ms
    double gap_m2;          //  Welford sum of squared deviations
    double decayed;         //  exponentially decayed request count, as of
                            //  last_ms (as the two below)
    double decayed_short;   //  the same with the short half-life
    double decayed_long;    //  the same with the long half-life
    uint64_t bins;          //  bit i: idle-time bin i is stored in the tail
    uint8_t *tail;          //  the parts above, NULL when all are empty (owned)
    uint32_t season;        //  bit i < 24: hour i stored in the tail; bit
                            //  24 + d: day of the week d
    uint8_t n_next : 3;     //  links in next
    uint8_t n_next2 : 3;    //  links in next2
    bool used : 1;          //  slot holds a pair
    bool dirty : 1;         //  changed since the last drain
    uint8_t n_couse : 3;    //  links in couse
    uint8_t n_hours : 5;    //  hours stored (bits of season below 24)
    uint8_t early;          //  the drain epoch it was handed in at its
                            //  event (wp_analyzer_drain_recent), 0 none
    uint8_t n_bins;         //  bins stored (bits of bins)
} pair_t;

_Static_assert (sizeof (pair_t) <= 120, "a pair's fixed part stays small");
_Static_assert (WP_ANALYZER_LINKS < 8, "link counts are 3-bit fields");
_Static_assert (HOURS_PER_DAY < 32, "n_hours is a 5-bit field");
_Static_assert (HOURS_PER_DAY + DAYS_PER_WEEK <= 32, "the stored season is a 32-bit mask");
_Static_assert (WP_IDLE_BINS <= 64, "the stored bins are a 64-bit mask");

//  One user: their pairs, most recently used first, as a list through
//  the pairs (pair.user_next, pair.user_prev): an event moves its pair to
//  the front, and the user's bound drops the last, without a walk over
//  the models the user ever used.
typedef struct {
    uint64_t hash;                              //  user hash
    uint64_t last_ms;                           //  their latest request
    uint32_t last_model;                        //  its model, NONE if none
    uint32_t prev_model;                        //  the distinct model before
    uint32_t head;                              //  most recent pair, NONE none
    uint32_t tail;                              //  least recent pair, NONE none
    uint8_t n;                                  //  pairs in the list
    bool used;                                  //  slot holds a user
} user_t;

//  One model (its name is in the names table, under its id).
typedef struct {
    uint64_t count;         //  all users' requests
    uint64_t last_ms;       //  last request
    uint64_t hist_at;       //  time its idle-time counts were aged to
    uint64_t bins;          //  bit i: bin i is stored in idle
    uint16_t *idle;         //  per stored bin, rising: the aged idle times
                            //  of all its pairs in unit (NULL: none; owned)
    float unit;             //  value of one stored count
    float rest;             //  rounding carried to the next count added
    float hist_total;       //  sum of the aged idle-time counts
    bool dirty;             //  changed since the last drain
    bool known;             //  a model of ours (its id is in use)
} model_t;

//  An open-addressing table of slab indices (linear probing, backward
//  shift deletion). Slots hold index+1; 0 is empty.
typedef struct {
    uint32_t *slots;
    uint32_t mask;
} itab_t;

//  A deleted pair waiting to be drained.
typedef struct {
    uint64_t user;
    uint32_t model;
} deleted_t;

struct _wp_analyzer_t {
    wp_analyzer_opts_t opts;    //  effective options
    double tau_ms;              //  decay time constant of the rate, ms
    double tau_short_ms;        //  the same, short rate
    double tau_long_ms;         //  the same, long rate
    double hist_tau_ms;         //  decay time constant of pair histograms
    double model_tau_ms;        //  the same, model histograms
    double global_tau_ms;       //  the same, the global histogram
    uint64_t global_at;         //  time the global histogram was aged to
    float global_total;         //  sum of global
    float global [WP_IDLE_BINS];//  aged idle times of all pairs
    pair_t *pairs;              //  pair slab
    uint32_t pairs_cap;         //  slab size (max_pairs)
    uint32_t pairs_used;        //  live pairs
    uint32_t *pair_free;        //  free slab indices (stack)
    uint32_t pair_free_n;
    uint32_t pairs_top;         //  slab indices below this were handed out
    uint32_t pairs_slab;        //  slab capacity
    itab_t pair_index;          //  (user, model) -> pair
    user_t *users;              //  user slab (same capacity as pairs)
    uint32_t users_used;
    uint32_t *user_free;
    uint32_t user_free_n;
    uint32_t users_top;
    uint32_t users_slab;        //  slab capacity
    itab_t user_index;          //  user hash -> user
    model_t *models;            //  models by id (of a shared table, those not
                                //  ours are zeros)
    uint32_t models_n;          //  ids models [] covers
    uint32_t models_cap;        //  its capacity
    uint32_t n_models;          //  models known
    wp_names_t *names;          //  model name -> id
    bool own_names;             //  names is ours (else shared, borrowed)
    deleted_t *deleted;         //  evicted pairs to delete in the store
    size_t n_deleted, deleted_cap;
    uint32_t *dirty;            //  pairs changed since the last drain (may
                                //  repeat or be stale: drain checks the flag)
    uint32_t n_dirty, dirty_cap;
    uint32_t recent_from;       //  dirty[] entries from here: the latest
                                //  observe's
    uint8_t epoch;              //  full drains so far, 1..255 round
    size_t heap_bytes;          //  held by the pairs' tails, the models' bins
    uint32_t evict_cursor;      //  where the eviction sample starts
    uint64_t evicted;           //  pairs evicted
    uint32_t observed;          //  pair the latest observe learned (NONE: none)
};

//  The user hash of pair index p (kept in its user).
#define s_pair_user(self, p) ((self)->users [(self)->pairs [p].user_slot].hash)

//  Hash of a pair key.
static inline uint64_t
s_pair_hash (uint64_t user, uint32_t model)
{
    return wp_mix64 (user ^ ((uint64_t) model * 0x9e3779b97f4a7c15ULL));
}

//  Bytes a block from malloc holds (its usable size and header).
static size_t
s_block_bytes (void *block)
{
    return block ? malloc_usable_size (block) + sizeof (size_t) : 0;
}

//  Free a pair's tail.
static void
s_pair_release (wp_analyzer_t *self, pair_t *pair)
{
    self->heap_bytes -= s_block_bytes (pair->tail);
    free (pair->tail);
    pair->tail = NULL;
    pair->bins = 0;
    pair->season = 0;
    pair->n_next = pair->n_next2 = 0;
    pair->n_couse = 0;
    pair->n_hours = 0;
    pair->n_bins = 0;
}

//  Stored bins of a pair.
static inline int
s_stored (const pair_t *pair)
{
    return pair->n_bins;
}

//  Stored hours and days of a pair.
static inline int
s_seasons (const pair_t *pair)
{
    //  (the days, 7 bits, by two nibbles: popcount is a libgcc call)
    static const uint8_t nibble [16] = { 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4 };
    uint32_t days = pair->season >> SEASON_DAY0;
    return pair->n_hours + nibble [days & 15] + nibble [days >> 4];
}

//  Bytes of a pair's links in its tail.
static inline size_t
s_links_bytes (const pair_t *pair)
{
    return pair->n_next * sizeof (link_t) + pair->n_next2 * sizeof (link2_t)
         + pair->n_couse * sizeof (couse_t);
}

//  Bytes of a pair's tail.
static inline size_t
s_tail_bytes (const pair_t *pair)
{
    return s_links_bytes (pair) + 3 * (size_t) s_stored (pair) + 2 * (size_t) s_seasons (pair);
}

//  The parts of a pair's tail (NULL when there is no tail).
static inline link_t *
s_next (const pair_t *pair)
{
    return (link_t *) pair->tail;
}

static inline link2_t *
s_next2 (const pair_t *pair)
{
    return pair->tail ? (link2_t *) (pair->tail + pair->n_next * sizeof (link_t)) : NULL;
}

static inline couse_t *
s_couse (const pair_t *pair)
{
    return pair->tail ? (couse_t *) (pair->tail + pair->n_next * sizeof (link_t)
                                     + pair->n_next2 * sizeof (link2_t))
                      : NULL;
}

//  The stored bins' counts.
static inline uint16_t *
s_counts (const pair_t *pair)
{
    return pair->tail ? (uint16_t *) (pair->tail + s_links_bytes (pair)) : NULL;
}

//  The stored hour and day counts (hours first).
static inline uint16_t *
s_season_counts (const pair_t *pair)
{
    return pair->tail ? s_counts (pair) + s_stored (pair) : NULL;
}

//  The recent weights of a pair's stored bins (after the counts).
static inline uint8_t *
s_fast (const pair_t *pair)
{
    return pair->tail ? (uint8_t *) (s_season_counts (pair) + s_seasons (pair)) : NULL;
}

//  Bytes a tail of size bytes is allocated with: what malloc would give
//  anyway (glibc's blocks hold 24, 40, 56, ... bytes), so that most
//  inserts fit without a call.
static inline size_t
s_tail_room (size_t size)
{
    return size <= 24 ? 24 : (size - 8 + 15) / 16 * 16 + 8;
}

//  Make room in a pair's tail: len1 zero bytes at offset at1 and len2 at
//  at2 (at1 <= at2, offsets in the tail as it is). The caller then counts
//  what it inserted in the pair's fields (the tail's layout).
static void
s_tail_insert (wp_analyzer_t *self, pair_t *pair, size_t at1, size_t len1, size_t at2,
               size_t len2)
{
    size_t size = pair->tail ? s_tail_bytes (pair) : 0;
    assert (at1 <= at2 && at2 <= size && len1 + len2 > 0);
    uint8_t *tail = pair->tail;
    if (!tail || size + len1 + len2 > s_tail_room (size)) {
        self->heap_bytes -= s_block_bytes (tail);
        tail = (uint8_t *) realloc (tail, s_tail_room (size + len1 + len2));
        assert (tail);
        self->heap_bytes += s_block_bytes (tail);
        pair->tail = tail;
    }
    memmove (tail + at2 + len1 + len2, tail + at2, size - at2);
    memmove (tail + at1 + len1, tail + at1, at2 - at1);
    memset (tail + at1, 0, len1);
    memset (tail + at2 + len1, 0, len2);
}

//  Position of bin among a pair's stored bins, storing it (count 0,
//  recent weight 0) when it was not.
static int
s_pair_bin (wp_analyzer_t *self, pair_t *pair, int bin)
{
    int at = __builtin_popcountll (pair->bins & ((1ULL << bin) - 1));
    if (pair->bins & (1ULL << bin))
        return at;
    size_t counts = s_links_bytes (pair);
    size_t fast = counts + 2 * (size_t) s_stored (pair) + 2 * (size_t) s_seasons (pair);
    s_tail_insert (self, pair, counts + 2 * (size_t) at, 2, fast + (size_t) at, 1);
    pair->bins |= 1ULL << bin;
    pair->n_bins++;
    return at;
}

//  A pair's count of an hour (bit < 24) or a day (24 + day), storing it
//  (0) when it was not.
static uint16_t *
s_season_slot (wp_analyzer_t *self, pair_t *pair, int bit)
{
    int at = __builtin_popcount (pair->season & ((1u << bit) - 1));
    if (!(pair->season & (1u << bit))) {
        size_t offset = s_links_bytes (pair) + 2 * (size_t) (s_stored (pair) + at);
        s_tail_insert (self, pair, offset, 2, offset, 0);
        pair->season |= 1u << bit;
        if (bit < HOURS_PER_DAY)
            pair->n_hours++;
    }
    return s_season_counts (pair) + at;
}

//  Position of bin among a model's stored bins (*bins, *idle_p), storing
//  it (0) when it was not.
static int
s_bin_slot (wp_analyzer_t *self, uint64_t *bins, uint16_t **idle_p, int bin)
{
    uint64_t below = *bins & ((1ULL << bin) - 1);
    int at = __builtin_popcountll (below);
    if (*bins & (1ULL << bin))
        return at;
    int k = __builtin_popcountll (*bins);
    uint16_t *old = *idle_p;
    uint16_t *idle = (uint16_t *) malloc ((size_t) (k + 1) * sizeof (uint16_t));
    assert (idle);
    if (k) {
        memcpy (idle, old, (size_t) at * sizeof (uint16_t));
        memcpy (idle + at + 1, old + at, (size_t) (k - at) * sizeof (uint16_t));
    }
    idle [at] = 0;
    self->heap_bytes -= s_block_bytes (old);
    free (old);
    *idle_p = idle;
    *bins |= 1ULL << bin;
    self->heap_bytes += s_block_bytes (idle);
    return at;
}

//  Add one idle time at position slot of k stored counts whose value is
//  their count x *unit. The counts keep 14 to 16 bits of the largest: a
//  count that would pass 65535 halves them all (doubling the unit; odd
//  counts round to even), a largest count under 16384 doubles them
//  (exactly). An idle time adds 1 / *unit counts, rounded to nearest
//  with the rounding carried in *rest to the next add (error diffusion:
//  a busy bin whose idle time is a fraction of a count still grows as it
//  should, and every bin stays within about a count of its exact value,
//  1/16384 of the largest bin).
static void
s_count_add (uint16_t *counts, int k, float *unit, float *rest, int slot)
{
    if (!(*unit > 0)) {
        *unit = COUNT_UNIT_FIRST;
        *rest = 0;
    }
    double add = 1.0 / *unit + *rest;
    while (counts [slot] + add > (double) COUNT_MAX) {
        for (int i = 0; i < k; i++)
            counts [i] = (uint16_t) ((counts [i] >> 1) + ((counts [i] & 3) == 3));
        *unit *= 2.0f;
        add = 1.0 / *unit + *rest * 0.5;
        *rest *= 0.5f;
    }
    double whole = floor (add + 0.5);
    if (whole < 0)
        whole = 0;
    counts [slot] = (uint16_t) (counts [slot] + whole);
    *rest = (float) (add - whole);
    if (counts [slot] >= COUNT_FLOOR)
        return;                         //  the largest is at least that
    uint16_t largest = 0;
    for (int i = 0; i < k; i++)
        if (counts [i] > largest)
            largest = counts [i];
    while (largest && largest < COUNT_FLOOR) {
        for (int i = 0; i < k; i++)
            counts [i] *= 2;
        largest *= 2;
        *unit *= 0.5f;
        *rest *= 2.0f;
    }
}

//  Age a histogram's unit and total from *at to now (time constant tau).
static inline void
s_age (float *unit, float *total, uint64_t *at, uint64_t now_ms, double tau)
{
    if (now_ms > *at) {
        float keep = (float) exp (-(double) (now_ms - *at) / tau);
        if (keep < 1.0f) {
            *unit *= keep;
            *total *= keep;
        }
        *at = now_ms;
    }
}

//  Stored counts, dense values (WP_IDLE_BINS).
static void
s_dense (uint64_t bins, const uint16_t *counts, float unit, float *hist)
{
    memset (hist, 0, WP_IDLE_BINS * sizeof (float));
    int at = 0;
    for (; bins; bins &= bins - 1, at++)
        hist [__builtin_ctzll (bins)] = (float) counts [at] * unit;
}

//  Stored counts of dense values (WP_IDLE_BINS; >= 0, finite) and
//  recent weights (fast; NULL for a model): the power-of-two unit the
//  largest value needs, counts rounded to nearest; a bin is stored when
//  its count or its recent weight is not 0. counts and fast_out (if fast)
//  get an entry per stored bin, rising.
static void
s_quantize (const float *hist, const uint8_t *fast, uint64_t *bins, uint16_t *counts,
            uint8_t *fast_out, float *unit, float *rest)
{
    *bins = 0;
    float largest = 0;
    for (int bin = 0; bin < WP_IDLE_BINS; bin++)
        if (hist [bin] > largest)
            largest = hist [bin];
    int exponent;
    frexpf (largest / (float) COUNT_MAX, &exponent);
    *unit = largest > 0 ? ldexpf (1.0f, exponent) : COUNT_UNIT_FIRST;
    *rest = 0;
    int at = 0;
    for (int bin = 0; bin < WP_IDLE_BINS; bin++) {
        long count = lrintf (hist [bin] / *unit);
        if (count > COUNT_MAX)
            count = COUNT_MAX;
        if (count || (fast && fast [bin])) {
            *bins |= 1ULL << bin;
            counts [at] = (uint16_t) count;
            if (fast)
                fast_out [at] = fast [bin];
            at++;
        }
    }
}

//  True when a table holding used entries should grow: at most 3/4 full
//  (linear probing stays short; half full held twice the slots).
static inline bool
s_itab_full (uint32_t used, const itab_t *t)
{
    return (uint64_t) used * 4 > ((uint64_t) t->mask + 1) * 3;
}

//  Create a table with room for capacity entries at load <= 1/2.
static void
s_itab_init (itab_t *t, uint32_t capacity)
{
    uint32_t size = 16;
    while (size < capacity * 2)
        size *= 2;
    t->slots = (uint32_t *) calloc (size, sizeof (uint32_t));
    assert (t->slots);
    t->mask = size - 1;
}

//  Pair lookup: returns the slot of the pair, or of the empty slot where
//  it would go (check slots[i] == 0).
static uint32_t
s_pair_slot (wp_analyzer_t *self, uint64_t user, uint32_t model)
{
    itab_t *t = &self->pair_index;
    uint32_t i = (uint32_t) s_pair_hash (user, model) & t->mask;
    while (t->slots [i]) {
        pair_t *p = &self->pairs [t->slots [i] - 1];
        if (p->model == model && self->users [p->user_slot].hash == user)
            return i;
        i = (i + 1) & t->mask;
    }
    return i;
}

//  User lookup, the same way.
static uint32_t
s_user_slot (wp_analyzer_t *self, uint64_t hash)
{
    itab_t *t = &self->user_index;
    uint32_t i = (uint32_t) wp_mix64 (hash) & t->mask;
    while (t->slots [i]) {
        if (self->users [t->slots [i] - 1].hash == hash)
            return i;
        i = (i + 1) & t->mask;
    }
    return i;
}

//  Remove slot i of a table, shifting later entries of the probe run back.
//  home(entry) gives an entry's preferred slot.
static void
s_itab_remove (wp_analyzer_t *self, itab_t *t, uint32_t i, bool pairs)
{
    t->slots [i] = 0;
    uint32_t j = i;
    while (true) {
        j = (j + 1) & t->mask;
        if (!t->slots [j])
            break;
        uint32_t index = t->slots [j] - 1;
        uint32_t home = pairs
            ? (uint32_t) s_pair_hash (s_pair_user (self, index), self->pairs [index].model)
                  & t->mask
            : (uint32_t) wp_mix64 (self->users [index].hash) & t->mask;
        //  Move entry j to the hole i if its home is not in (i, j].
        bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            t->slots [i] = t->slots [j];
            t->slots [j] = 0;
            i = j;
        }
    }
}

//  Create an analyzer.
wp_analyzer_t *
wp_analyzer_new (const wp_analyzer_opts_t *opts)
{
    wp_analyzer_t *self = (wp_analyzer_t *) zmalloc (sizeof (wp_analyzer_t));
    self->epoch = 1;
    assert (self);
    self->observed = NONE;
    if (opts)
        self->opts = *opts;
    if (!self->opts.max_pairs)
        self->opts.max_pairs = DEFAULT_MAX_PAIRS;
    if (!self->opts.max_user_models)
        self->opts.max_user_models = DEFAULT_USER_MODELS;
    if (self->opts.max_user_models > WP_ANALYZER_USER_MODELS_MAX)
        self->opts.max_user_models = WP_ANALYZER_USER_MODELS_MAX;
    if (!self->opts.rate_half_life_s)
        self->opts.rate_half_life_s = DEFAULT_RATE_HALF_LIFE_S;
    if (!self->opts.hist_half_life_s)
        self->opts.hist_half_life_s = DEFAULT_HIST_HALF_LIFE_S;
    self->tau_ms = self->opts.rate_half_life_s * MS_PER_S / M_LN2;
    self->tau_short_ms = SHORT_HALF_LIFE_MS / M_LN2;
    self->tau_long_ms = LONG_HALF_LIFE_MS / M_LN2;
    self->hist_tau_ms = self->opts.hist_half_life_s * MS_PER_S / M_LN2;
    self->model_tau_ms = MODEL_AGE_FACTOR * self->hist_tau_ms;
    self->global_tau_ms = GLOBAL_AGE_FACTOR * self->hist_tau_ms;
    self->pairs_cap = self->opts.max_pairs;
    //  Slabs grow on demand; tables are sized for the bound up front only
    //  when it is small, else they grow with the slabs.
    self->pairs = NULL;
    self->users = NULL;
    s_itab_init (&self->pair_index, 64);
    s_itab_init (&self->user_index, 64);
    self->own_names = self->opts.names == NULL;
    self->names = self->own_names ? wp_names_new () : self->opts.names;
    assert (self->names);
    return self;
}

//  Destroy.
void
wp_analyzer_destroy (wp_analyzer_t **self_p)
{
    assert (self_p);
    wp_analyzer_t *self = *self_p;
    if (!self)
        return;
    for (uint32_t m = 0; m < self->models_n; m++)
        free (self->models [m].idle);
    free (self->models);
    if (self->own_names)
        wp_names_destroy (&self->names);
    for (uint32_t p = 0; p < self->pairs_top; p++)
        if (self->pairs [p].used)
            s_pair_release (self, &self->pairs [p]);
    free (self->pairs);
    free (self->pair_free);
    free (self->users);
    free (self->user_free);
    free (self->pair_index.slots);
    free (self->user_index.slots);
    free (self->deleted);
    free (self->dirty);
    free (self);
    *self_p = NULL;
}

//  Rebuild a table at twice the size.
static void
s_itab_grow (wp_analyzer_t *self, itab_t *t, bool pairs)
{
    uint32_t old_size = t->mask + 1;
    uint32_t *old = t->slots;
    t->slots = (uint32_t *) calloc ((size_t) old_size * 2, sizeof (uint32_t));
    assert (t->slots);
    t->mask = old_size * 2 - 1;
    for (uint32_t i = 0; i < old_size; i++) {
        if (!old [i])
            continue;
        uint32_t index = old [i] - 1;
        uint32_t j = pairs
            ? s_pair_slot (self, s_pair_user (self, index), self->pairs [index].model)
            : s_user_slot (self, self->users [index].hash);
        t->slots [j] = old [i];
    }
    free (old);
}

//  FNV-1a hash of a model's name (what records use to name a linked model).
static uint64_t
s_name_hash (wp_analyzer_t *self, uint32_t model)
{
    return wp_names_fnv1a (wp_names_name (self->names, model));
}

//  Model id of a name hash (the first model with the hash), NONE if none.
static uint32_t
s_name_lookup (wp_analyzer_t *self, uint64_t hash)
{
    uint32_t id = wp_names_find_hash (self->names, hash);
    return id < self->models_n && self->models [id].known ? id : NONE;
}

//  Id of a model, creating it. Returns NONE for a bad name.
static uint32_t
s_model_id (wp_analyzer_t *self, const char *name, bool create)
{
    uint32_t id = wp_names_find (self->names, name);
    if (id < self->models_n && self->models [id].known)
        return id;
    if (!create)
        return NONE;
    if (id == WP_NAMES_NONE)
        id = wp_names_add (self->names, name);
    if (id == WP_NAMES_NONE)
        return NONE;
    self->models = (model_t *) wp_names_room (self->models, &self->models_cap, id,
                                              sizeof (model_t));
    assert (self->models);
    if (id >= self->models_n) {
        memset (&self->models [self->models_n], 0,
                (id + 1 - self->models_n) * sizeof (model_t));
        self->models_n = id + 1;
    }
    self->models [id].known = true;
    self->n_models++;
    return id;
}

//  Grow a slab of `size`-byte items to hold one more at index top.
static void *
s_slab_reserve (void *slab, uint32_t top, uint32_t *capacity, size_t size)
{
    if (top < *capacity)
        return slab;
    //  64, then an eighth more each time: little capacity held unused
    //  (realloc of a large block remaps pages, it does not copy them)
    *capacity = top < 64 ? 64 : top + top / 8;
    void *grown = realloc (slab, (size_t) *capacity * size);
    assert (grown);
    return grown;
}

//  Take pair p out of its user's list (it must be in it).
static void
s_list_remove (wp_analyzer_t *self, user_t *user, uint32_t p)
{
    pair_t *pair = &self->pairs [p];
    assert (user->n && (pair->user_prev != NONE || user->head == p));
    if (pair->user_prev != NONE)
        self->pairs [pair->user_prev].user_next = pair->user_next;
    else
        user->head = pair->user_next;
    if (pair->user_next != NONE)
        self->pairs [pair->user_next].user_prev = pair->user_prev;
    else
        user->tail = pair->user_prev;
    pair->user_next = pair->user_prev = NONE;
    user->n--;
}

//  Put pair p in its user's list after pair after (NONE: first).
static void
s_list_insert (wp_analyzer_t *self, user_t *user, uint32_t p, uint32_t after)
{
    pair_t *pair = &self->pairs [p];
    pair->user_prev = after;
    pair->user_next = after == NONE ? user->head : self->pairs [after].user_next;
    if (after == NONE)
        user->head = p;
    else
        self->pairs [after].user_next = p;
    if (pair->user_next != NONE)
        self->pairs [pair->user_next].user_prev = p;
    else
        user->tail = p;
    user->n++;
}

//  Put pair p first in its user's list.
static void
s_list_push (wp_analyzer_t *self, user_t *user, uint32_t p)
{
    s_list_insert (self, user, p, NONE);
}

//  Remove pair index p from its user's list.
static void
s_user_unlink (wp_analyzer_t *self, uint32_t p)
{
    user_t *user = &self->users [self->pairs [p].user_slot];
    s_list_remove (self, user, p);
    if (user->n == 0) {
        uint32_t index = self->pairs [p].user_slot;
        s_itab_remove (self, &self->user_index, s_user_slot (self, user->hash), false);
        user->used = false;
        self->users_used--;
        self->user_free = (uint32_t *) realloc (self->user_free,
                                                (self->user_free_n + 1) * sizeof (uint32_t));
        assert (self->user_free);
        self->user_free [self->user_free_n++] = index;
    }
}

//  Evict pair index p (to a delete record).
static void
s_evict (wp_analyzer_t *self, uint32_t p)
{
    pair_t *pair = &self->pairs [p];
    if (self->n_deleted == self->deleted_cap) {
        self->deleted_cap = self->deleted_cap ? self->deleted_cap * 2 : 64;
        self->deleted = (deleted_t *) realloc (self->deleted,
                                               self->deleted_cap * sizeof (deleted_t));
        assert (self->deleted);
    }
    uint64_t user = s_pair_user (self, p);
    self->deleted [self->n_deleted].user = user;
    self->deleted [self->n_deleted].model = pair->model;
    self->n_deleted++;
    //  Out of the index first: its probe run needs the user's hash
    s_itab_remove (self, &self->pair_index, s_pair_slot (self, user, pair->model), true);
    s_user_unlink (self, p);
    s_pair_release (self, pair);
    pair->used = false;
    if (self->observed == p)
        self->observed = NONE;
    self->pairs_used--;
    self->pair_free = (uint32_t *) realloc (self->pair_free,
                                            (self->pair_free_n + 1) * sizeof (uint32_t));
    assert (self->pair_free);
    self->pair_free [self->pair_free_n++] = p;
    self->evicted++;
}

//  Evict the least recently used pair of a small sample.
static void
s_evict_sampled (wp_analyzer_t *self)
{
    uint32_t best = NONE;
    uint32_t seen = 0;
    for (uint32_t tries = 0; tries < self->pairs_top && seen < EVICT_SAMPLE; tries++) {
        uint32_t p = self->evict_cursor++ % self->pairs_top;
        if (!self->pairs [p].used)
            continue;
        seen++;
        if (best == NONE || self->pairs [p].last_ms < self->pairs [best].last_ms)
            best = p;
    }
    assert (best != NONE);
    s_evict (self, best);
}

//  Find or create the user; returns its slab index.
static uint32_t
s_user (wp_analyzer_t *self, uint64_t hash)
{
    uint32_t slot = s_user_slot (self, hash);
    if (self->user_index.slots [slot])
        return self->user_index.slots [slot] - 1;
    uint32_t index;
    if (self->user_free_n)
        index = self->user_free [--self->user_free_n];
    else {
        self->users = (user_t *) s_slab_reserve (self->users, self->users_top, &self->users_slab,
                                                   sizeof (user_t));
        index = self->users_top++;
    }
    user_t *user = &self->users [index];
    memset (user, 0, sizeof *user);
    user->hash = hash;
    user->last_model = NONE;
    user->prev_model = NONE;
    user->head = NONE;
    user->tail = NONE;
    user->used = true;
    self->users_used++;
    self->user_index.slots [slot] = index + 1;
    if (s_itab_full (self->users_used, &self->user_index))
        s_itab_grow (self, &self->user_index, false);
    return index;
}

//  Find or create the pair, moving it to the front of its user's list.
static uint32_t
s_pair (wp_analyzer_t *self, uint64_t hash, uint32_t model)
{
    uint32_t slot = s_pair_slot (self, hash, model);
    uint32_t p;
    if (self->pair_index.slots [slot])
        p = self->pair_index.slots [slot] - 1;
    else {
        if (self->pairs_used >= self->pairs_cap) {
            s_evict_sampled (self);
            slot = s_pair_slot (self, hash, model);
        }
        uint32_t u = s_user (self, hash);
        //  The user's own bound: drop their least recently used model.
        if (self->users [u].n >= self->opts.max_user_models) {
            s_evict (self, self->users [u].tail);
            u = s_user (self, hash);
            slot = s_pair_slot (self, hash, model);
        }
        if (self->pair_free_n)
            p = self->pair_free [--self->pair_free_n];
        else {
            self->pairs = (pair_t *) s_slab_reserve (self->pairs, self->pairs_top, &self->pairs_slab,
                                                       sizeof (pair_t));
            p = self->pairs_top++;
        }
        pair_t *pair = &self->pairs [p];
        memset (pair, 0, sizeof *pair);
        pair->model = model;
        pair->user_slot = u;
        pair->used = true;
        self->pairs_used++;
        self->pair_index.slots [slot] = p + 1;
        if (s_itab_full (self->pairs_used, &self->pair_index))
            s_itab_grow (self, &self->pair_index, true);
        s_list_push (self, &self->users [u], p);
        return p;
    }
    //  Move to the front of the user's list.
    user_t *user = &self->users [self->pairs [p].user_slot];
    if (user->head != p) {
        s_list_remove (self, user, p);
        s_list_push (self, user, p);
    }
    return p;
}

//  Mark pair p changed, once until the next drain.
static void
s_mark_dirty (wp_analyzer_t *self, uint32_t p)
{
    if (self->pairs [p].dirty)
        return;
    self->pairs [p].dirty = true;
    if (self->n_dirty == self->dirty_cap) {
        self->dirty_cap = self->dirty_cap < 64 ? 64 : self->dirty_cap + self->dirty_cap / 8;
        self->dirty = (uint32_t *) realloc (self->dirty, self->dirty_cap * sizeof (uint32_t));
        assert (self->dirty);
    }
    self->dirty [self->n_dirty++] = p;
}

//  Bring a decayed count with time constant tau up to time now.
static inline double
s_decay (double value, uint64_t at, uint64_t now_ms, double tau)
{
    if (now_ms <= at)
        return value;
    return value * exp (-(double) (now_ms - at) / tau);
}

//  Bring a pair's decayed count up to time now.
static double
s_decayed (wp_analyzer_t *self, const pair_t *pair, uint64_t now_ms)
{
    return s_decay (pair->decayed, pair->last_ms, now_ms, self->tau_ms);
}

//  Age a histogram from *at to now (time constant tau) and add one at bin.
static inline void
s_hist_add (float *hist, float *total, uint64_t *at, uint64_t now_ms, double tau,
            int bin)
{
    if (now_ms > *at) {
        float keep = (float) exp (-(double) (now_ms - *at) / tau);
        if (keep < 1.0f) {
            for (int i = 0; i < WP_IDLE_BINS; i++)
                hist [i] *= keep;
            *total *= keep;
        }
        *at = now_ms;
    }
    hist [bin] += 1.0f;
    *total += 1.0f;
}

//  Count a request in the hour-of-day and day-of-week counts.
static void
s_season_add (wp_analyzer_t *self, pair_t *pair, uint64_t now_ms)
{
    int hour = (int) ((now_ms / MS_PER_HOUR) % HOURS_PER_DAY);
    int day = (int) ((now_ms / MS_PER_DAY) % DAYS_PER_WEEK);
    uint16_t *count = s_season_slot (self, pair, hour);
    if (++*count >= SEASON_MAX) {
        uint16_t *counts = s_season_counts (pair);
        for (int i = 0; i < pair->n_hours; i++)
            counts [i] /= 2;
    }
    count = s_season_slot (self, pair, SEASON_DAY0 + day);
    if (++*count >= SEASON_MAX) {
        uint16_t *counts = s_season_counts (pair);
        for (int i = pair->n_hours; i < s_seasons (pair); i++)
            counts [i] /= 2;
    }
}

//  A pair's count of an hour (bit < 24) or a day (24 + day).
static inline uint16_t
s_season_count (const pair_t *pair, int bit)
{
    if (!(pair->season & (1u << bit)))
        return 0;
    return s_season_counts (pair) [__builtin_popcount (pair->season & ((1u << bit) - 1))];
}

//  Season factor of a time: its hour and day against the average ones,
//  with pseudo counts so that little data says "average".
static double
s_season (const pair_t *pair, uint64_t when_ms)
{
    double hours = 0, days = 0;
    const uint16_t *counts = s_season_counts (pair);
    for (int i = 0; i < pair->n_hours; i++)
        hours += counts [i];
    for (int i = pair->n_hours; i < s_seasons (pair); i++)
        days += counts [i];
    int hour = (int) ((when_ms / MS_PER_HOUR) % HOURS_PER_DAY);
    int day = (int) ((when_ms / MS_PER_DAY) % DAYS_PER_WEEK);
    double h = (s_season_count (pair, hour) + SEASON_PSEUDO)
             / (hours / (double) HOURS_PER_DAY + SEASON_PSEUDO);
    double d = (s_season_count (pair, SEASON_DAY0 + day) + SEASON_PSEUDO)
             / (days / (double) DAYS_PER_WEEK + SEASON_PSEUDO);
    return h * d;
}

//  The lists of a pair's links, in the order of its tail.
typedef enum { LIST_NEXT, LIST_NEXT2, LIST_COUSE } list_t;

//  Age a list of a pair's links and find the one for (id, id2): an entry
//  holds an id first (next2: the previous model), its weight at weight_at,
//  and a second id at id2_at (next2: the next model; 0: none). When it is
//  not there it is added (zeros) while the list has room, else it takes
//  the weakest's place (*fresh then). Returns the entry's bytes.
static uint8_t *
s_link_find (wp_analyzer_t *self, pair_t *pair, list_t list, uint32_t id, uint32_t id2,
             bool *fresh)
{
    size_t stride = list == LIST_COUSE ? sizeof (couse_t) : sizeof (link_t);
    size_t weight_at = list == LIST_NEXT2 ? offsetof (link2_t, weight) : sizeof (uint32_t);
    size_t id2_at = list == LIST_NEXT2 ? offsetof (link2_t, next) : 0;
    size_t at = list == LIST_NEXT ? 0
              : list == LIST_NEXT2 ? pair->n_next * sizeof (link_t)
              : pair->n_next * sizeof (link_t) + pair->n_next2 * sizeof (link2_t);
    int n = list == LIST_NEXT ? pair->n_next : list == LIST_NEXT2 ? pair->n_next2
          : pair->n_couse;
    int found = -1, weakest = 0;
    float weakest_weight = 0;
    for (int i = 0; i < n; i++) {
        uint8_t *link = pair->tail + at + (size_t) i * stride;
        float weight;
        uint32_t first, second = 0;
        memcpy (&weight, link + weight_at, sizeof weight);
        weight *= LINK_DECAY;
        memcpy (link + weight_at, &weight, sizeof weight);
        memcpy (&first, link, sizeof first);
        if (id2_at)
            memcpy (&second, link + id2_at, sizeof second);
        if (first == id && second == id2)
            found = i;
        if (i == 0 || weight < weakest_weight) {
            weakest = i;
            weakest_weight = weight;
        }
    }
    *fresh = found < 0;
    if (found >= 0)
        return pair->tail + at + (size_t) found * stride;
    if (n == WP_ANALYZER_LINKS)
        return pair->tail + at + (size_t) weakest * stride;
    s_tail_insert (self, pair, at + (size_t) n * stride, stride, at + (size_t) n * stride, 0);
    if (list == LIST_NEXT)
        pair->n_next++;
    else
    if (list == LIST_NEXT2)
        pair->n_next2++;
    else
        pair->n_couse++;
    return pair->tail + at + (size_t) n * stride;
}

//  Age a pair's next links and count one more for model after delay_ms
//  (replacing the weakest link when full).
static void
s_next_add (wp_analyzer_t *self, pair_t *pair, uint32_t model, double delay_ms)
{
    bool fresh;
    link_t *link = (link_t *) s_link_find (self, pair, LIST_NEXT, model, 0, &fresh);
    if (fresh) {
        link->model = model;
        link->weight = 0;
        link->delay_ms = delay_ms > 0 ? (float) delay_ms : 0;
    }
    link->weight += 1.0f;
    link->delay_ms += LINK_ALPHA * ((float) delay_ms - link->delay_ms);
}

//  The same for second-order links.
static void
s_next2_add (wp_analyzer_t *self, pair_t *pair, uint32_t prev, uint32_t next)
{
    bool fresh;
    link2_t *link = (link2_t *) s_link_find (self, pair, LIST_NEXT2, prev, next, &fresh);
    if (fresh) {
        link->prev = prev;
        link->next = next;
        link->weight = 0;
    }
    link->weight += 1.0f;
}

//  The same for co-use links.
static void
s_couse_add (wp_analyzer_t *self, pair_t *pair, uint32_t model)
{
    bool fresh;
    couse_t *link = (couse_t *) s_link_find (self, pair, LIST_COUSE, model, 0, &fresh);
    if (fresh) {
        link->model = model;
        link->weight = 0;
    }
    link->weight += 1.0f;
}

//  Pair index of (user, model) if it exists, else NONE.
static uint32_t
s_pair_find (wp_analyzer_t *self, uint64_t user, uint32_t model)
{
    uint32_t slot = s_pair_slot (self, user, model);
    return self->pair_index.slots [slot] ? self->pair_index.slots [slot] - 1 : NONE;
}

//  Learn the user's move to model at now: transitions and co-use.
static void
s_transition (wp_analyzer_t *self, uint32_t index, uint64_t now_ms)
{
    pair_t *pair = &self->pairs [index];
    user_t *user = &self->users [pair->user_slot];
    uint32_t model = pair->model;
    if (user->last_model != NONE && user->last_model != model
        && now_ms >= user->last_ms) {
        uint64_t delay = now_ms - user->last_ms;
        uint32_t from = s_pair_find (self, user->hash, user->last_model);
        if (from != NONE && delay <= NEXT_WINDOW_MS) {
            pair_t *before = &self->pairs [from];
            s_next_add (self, before, model, (double) delay);
            if (user->prev_model != NONE)
                s_next2_add (self, before, user->prev_model, model);
            if (delay <= COUSE_WINDOW_MS) {
                s_couse_add (self, before, model);
                s_couse_add (self, pair, before->model);
            }
            s_mark_dirty (self, from);
        }
    }
    if (user->last_model != model) {
        user->prev_model = user->last_model;
        user->last_model = model;
    }
    if (now_ms > user->last_ms)
        user->last_ms = now_ms;
}

//  Learn one request.
int
wp_analyzer_observe (wp_analyzer_t *self, uint64_t user_hash, const char *model,
                     uint64_t now_ms)
{
    assert (self && model);
    uint32_t id = s_model_id (self, model, true);
    if (id == NONE)
        return -1;
    model_t *m = &self->models [id];
    m->count++;
    if (now_ms > m->last_ms)
        m->last_ms = now_ms;
    m->dirty = true;

    self->recent_from = self->n_dirty;
    uint32_t index = s_pair (self, user_hash, id);     //  may move the slab
    pair_t *pair = &self->pairs [index];
    if (pair->count == 0)
        pair->first_ms = now_ms;
    else {
        //  Out-of-order events count, but do not make a gap.
        double gap = now_ms > pair->last_ms ? (double) (now_ms - pair->last_ms) : 0;
        double n = (double) pair->count;   //  gaps so far + 1
        double delta = gap - pair->gap_mean;
        pair->gap_mean += delta / n;
        pair->gap_m2 += delta * (gap - pair->gap_mean);
        if (now_ms >= pair->last_ms) {
            int bin = wp_idle_bin (now_ms - pair->last_ms);
            //  The pair's counts date from its last request; a bin not
            //  stored holds 0, which ageing leaves 0
            int at = s_pair_bin (self, pair, bin);
            int k = s_stored (pair);
            uint64_t pair_at = pair->last_ms;
            s_age (&pair->hist_unit, &pair->hist_total, &pair_at, now_ms, self->hist_tau_ms);
            s_count_add (s_counts (pair), k, &pair->hist_unit, &pair->hist_rest, at);
            pair->hist_total += 1.0f;
            int model_at = s_bin_slot (self, &m->bins, &m->idle, bin);
            s_age (&m->unit, &m->hist_total, &m->hist_at, now_ms, self->model_tau_ms);
            s_count_add (m->idle, __builtin_popcountll (m->bins), &m->unit, &m->rest,
                         model_at);
            m->hist_total += 1.0f;
            //  Each older recent weight keeps 7/8, rounded down so that
            //  it reaches 0 (x >> 3 alone leaves 1..7 for ever: every
            //  bin ever hit would keep a recent weight)
            uint8_t *fast = s_fast (pair);
            for (int i = 0; i < k; i++)
                fast [i] -= (uint8_t) ((fast [i] + 7) >> 3);
            fast [at] += FAST_UNIT;
            s_hist_add (self->global, &self->global_total, &self->global_at, now_ms,
                        self->global_tau_ms, bin);
        }
    }
    pair->count++;
    if (now_ms < pair->first_ms)
        pair->first_ms = now_ms;
    if (now_ms >= pair->last_ms) {
        pair->decayed = s_decayed (self, pair, now_ms) + 1.0;
        pair->decayed_short = s_decay (pair->decayed_short, pair->last_ms, now_ms,
                                       self->tau_short_ms) + 1.0;
        pair->decayed_long = s_decay (pair->decayed_long, pair->last_ms, now_ms,
                                      self->tau_long_ms) + 1.0;
    }
    else {  //  A late event counts as decayed as it would be by now.
        double late = (double) (pair->last_ms - now_ms);
        pair->decayed += exp (-late / self->tau_ms);
        pair->decayed_short += exp (-late / self->tau_short_ms);
        pair->decayed_long += exp (-late / self->tau_long_ms);
    }
    if (now_ms > pair->last_ms)
        pair->last_ms = now_ms;
    s_season_add (self, pair, now_ms);
    s_transition (self, index, now_ms);
    s_mark_dirty (self, index);
    self->observed = index;
    return 0;
}

//  The drain epoch after this one (never 0: a pair's "none").
static uint8_t
s_next_epoch (uint8_t epoch)
{
    return epoch == UINT8_MAX ? 1 : (uint8_t) (epoch + 1);
}

//  Fill a link entry.
static void
s_fill_link (wp_analyzer_t *self, uint32_t model, float weight, float delay_ms,
             wp_link_t *out)
{
    out->model = wp_names_name (self->names, model);
    out->model_id = model;
    out->weight = weight;
    out->delay_ms = delay_ms;
}

//  Fill a pattern entry from a pair; second-order links only when the
//  pair is the user's latest model.
static void
s_fill (wp_analyzer_t *self, const pair_t *pair, uint64_t now_ms, wp_pattern_t *out)
{
    const model_t *model = &self->models [pair->model];
    const user_t *user = &self->users [pair->user_slot];
    out->model = wp_names_name (self->names, pair->model);
    out->model_id = pair->model;
    out->count = pair->count;
    out->first_ms = pair->first_ms;
    out->last_ms = pair->last_ms;
    out->gap_mean_ms = pair->count >= 2 ? pair->gap_mean : 0;
    out->gap_std_ms = pair->count >= 3 ? sqrt (pair->gap_m2 / (double) (pair->count - 1)) : 0;
    out->model_count = model->count;
    out->rate_per_h = s_decayed (self, pair, now_ms) / (self->tau_ms / (double) MS_PER_HOUR);
    double short_count = s_decay (pair->decayed_short, pair->last_ms, now_ms,
                                  self->tau_short_ms);
    double long_count = s_decay (pair->decayed_long, pair->last_ms, now_ms,
                                 self->tau_long_ms);
    out->rate_short_per_h = short_count / (self->tau_short_ms / (double) MS_PER_HOUR);
    out->rate_long_per_h = long_count / (self->tau_long_ms / (double) MS_PER_HOUR);
    //  Short count expected from the long rate, Poisson spread.
    double expected = long_count * self->tau_short_ms / self->tau_long_ms;
    out->anomaly = (short_count - expected) / sqrt (expected + 1.0);
    out->season = s_season (pair, now_ms);
    //  The stored bins, dense; the sum of the recent weights in bin order
    //  (the bins not stored add 0)
    memset (out->hist_buf, 0, sizeof out->hist_buf);
    memset (out->recent, 0, sizeof out->recent);
    const uint16_t *counts = s_counts (pair);
    const uint8_t *fast = s_fast (pair);
    double fast_total = 0;
    int at = 0;
    for (uint64_t bins = pair->bins; bins; bins &= bins - 1, at++) {
        int bin = __builtin_ctzll (bins);
        out->hist_buf [bin] = (float) counts [at] * pair->hist_unit;
        out->recent [bin] = (float) fast [at] / FAST_UNIT;
        fast_total += out->recent [bin];
    }
    out->hist = out->hist_buf;
    out->hist_total = pair->hist_total;
    out->recent_total = fast_total;
    out->n_next = pair->n_next;
    out->n_couse = pair->n_couse;
    out->n_next2 = 0;
    const link_t *next = s_next (pair);
    const link2_t *next2 = s_next2 (pair);
    const couse_t *couse = s_couse (pair);
    for (uint8_t i = 0; i < pair->n_next; i++)
        s_fill_link (self, next [i].model, next [i].weight, next [i].delay_ms, &out->next [i]);
    for (uint8_t i = 0; i < pair->n_couse; i++)
        s_fill_link (self, couse [i].model, couse [i].weight, 0, &out->couse [i]);
    if (user->last_model == pair->model && user->prev_model != NONE)
        for (uint8_t i = 0; i < pair->n_next2; i++)
            if (next2 [i].prev == user->prev_model) {
                //  Its delay: the first-order one to the same model, if any.
                float delay = 0;
                for (uint8_t j = 0; j < pair->n_next; j++)
                    if (next [j].model == next2 [i].next)
                        delay = next [j].delay_ms;
                s_fill_link (self, next2 [i].next, next2 [i].weight, delay,
                             &out->next2 [out->n_next2++]);
            }
}

//  A pair's population prior: the model's other pairs, shrunk toward all
//  pairs (uniform if none). The model's counts age slower than the
//  pair's, so what is left of the pair's own is its older history.
void
wp_analyzer_prior (wp_analyzer_t *self, uint64_t user_hash, const char *name, float *out)
{
    assert (self && name && out);
    float model [WP_IDLE_BINS], pair [WP_IDLE_BINS];
    memset (model, 0, sizeof model);
    memset (pair, 0, sizeof pair);
    uint32_t id = s_model_id (self, name, false);
    if (id != NONE) {
        const model_t *m = &self->models [id];
        s_dense (m->bins, m->idle, m->unit, model);
        uint32_t p = s_pair_find (self, user_hash, id);
        if (p != NONE)
            s_dense (self->pairs [p].bins, s_counts (&self->pairs [p]), self->pairs [p].hist_unit,
                     pair);
    }
    double global = self->global_total, others = 0;
    float other [WP_IDLE_BINS];
    for (int i = 0; i < WP_IDLE_BINS; i++) {
        other [i] = model [i] > pair [i] ? model [i] - pair [i] : 0;
        others += other [i];
    }
    double weight = others + PRIOR_GLOBAL;
    if (global > 0)
        for (int i = 0; i < WP_IDLE_BINS; i++)
            out [i] = (float) ((other [i] + PRIOR_GLOBAL * (self->global [i] / global))
                               / weight);
    else
        for (int i = 0; i < WP_IDLE_BINS; i++)
            out [i] = (float) ((other [i] + PRIOR_GLOBAL * (1.0 / WP_IDLE_BINS)) / weight);
}

//  The user's models, most recent first.
size_t
wp_analyzer_pattern (wp_analyzer_t *self, uint64_t user_hash, uint64_t now_ms,
                     wp_pattern_t *out, size_t capacity)
{
    assert (self && out);
    uint32_t slot = s_user_slot (self, user_hash);
    if (!self->user_index.slots [slot])
        return 0;
    const user_t *user = &self->users [self->user_index.slots [slot] - 1];
    size_t n = 0;
    for (uint32_t p = user->head; p != NONE && n < capacity; p = self->pairs [p].user_next)
        s_fill (self, &self->pairs [p], now_ms, &out [n++]);
    return n;
}

//  The pair the latest observe learned.
bool
wp_analyzer_observed (wp_analyzer_t *self, uint64_t now_ms, wp_pattern_t *out)
{
    assert (self && out);
    if (self->observed == NONE)
        return false;
    s_fill (self, &self->pairs [self->observed], now_ms, out);
    return true;
}

//  One pair.
bool
wp_analyzer_pair (wp_analyzer_t *self, uint64_t user_hash, const char *model,
                  uint64_t now_ms, wp_pattern_t *out)
{
    assert (self && model && out);
    uint32_t id = s_model_id (self, model, false);
    if (id == NONE)
        return false;
    uint32_t slot = s_pair_slot (self, user_hash, id);
    if (!self->pair_index.slots [slot])
        return false;
    s_fill (self, &self->pairs [self->pair_index.slots [slot] - 1], now_ms, out);
    return true;
}

//  Each pair changed since since_ms.
size_t
wp_analyzer_each (wp_analyzer_t *self, uint64_t since_ms, uint64_t now_ms,
                  wp_analyzer_pair_fn *fn, void *arg)
{
    assert (self && fn);
    size_t handed = 0;
    wp_pattern_t out;
    for (uint32_t p = 0; p < self->pairs_top; p++) {
        const pair_t *pair = &self->pairs [p];
        if (!pair->used || pair->last_ms < since_ms)
            continue;
        s_fill (self, pair, now_ms, &out);
        fn (s_pair_user (self, p), &out, arg);
        handed++;
    }
    return handed;
}

//  All users' requests for a model.
uint64_t
wp_analyzer_model_count (wp_analyzer_t *self, const char *model)
{
    uint32_t id = s_model_id (self, model, false);
    return id == NONE ? 0 : self->models [id].count;
}

//  Counts.
size_t
wp_analyzer_pairs (wp_analyzer_t *self)
{
    return self->pairs_used;
}

size_t
wp_analyzer_users (wp_analyzer_t *self)
{
    return self->users_used;
}

size_t
wp_analyzer_models (wp_analyzer_t *self)
{
    return self->n_models;
}

uint64_t
wp_analyzer_evicted (wp_analyzer_t *self)
{
    return self->evicted;
}

//  Bytes held by the tables (capacity, not just use).
size_t
wp_analyzer_state_bytes (wp_analyzer_t *self)
{
    size_t bytes = sizeof *self;
    bytes += (size_t) self->pairs_slab * sizeof (pair_t)
           + (size_t) self->users_slab * sizeof (user_t);
    bytes += ((size_t) self->pair_index.mask + 1 + self->user_index.mask + 1) * sizeof (uint32_t);
    bytes += (size_t) self->models_cap * sizeof (model_t);
    if (self->own_names)
        bytes += wp_names_bytes (self->names);
    bytes += (self->pair_free_n + self->user_free_n) * sizeof (uint32_t);
    bytes += (size_t) self->dirty_cap * sizeof (uint32_t);
    bytes += self->heap_bytes;
    return bytes;
}

//  Key of a pair record: user hash (8 bytes, big-endian) + model name.
static size_t
s_pair_key (wp_analyzer_t *self, uint64_t user, uint32_t model, uint8_t *key)
{
    wp_put_u64 (key, user);
    const char *name = wp_names_name (self->names, model);
    size_t len = strlen (name);
    memcpy (key + 8, name, len);
    return 8 + len;
}

//  Little-endian-free encoding of f32 and u16 (big-endian, like the rest).
static void
s_put_f32 (uint8_t *p, float v)
{
    uint32_t bits;
    memcpy (&bits, &v, 4);
    wp_put_u32 (p, bits);
}

static float
s_get_f32 (const uint8_t *p)
{
    uint32_t bits = wp_get_u32 (p);
    float v;
    memcpy (&v, &bits, 4);
    return v;
}

static void
s_put_u16 (uint8_t *p, uint16_t v)
{
    p [0] = (uint8_t) (v >> 8);
    p [1] = (uint8_t) v;
}

static uint16_t
s_get_u16 (const uint8_t *p)
{
    return (uint16_t) ((p [0] << 8) | p [1]);
}

//  Read a histogram; false if a value cannot be (negative, not finite).
static bool
s_get_hist (const uint8_t *p, float *total, float *hist)
{
    *total = s_get_f32 (p);
    if (!isfinite (*total) || *total < 0)
        return false;
    for (int i = 0; i < WP_IDLE_BINS; i++) {
        hist [i] = s_get_f32 (p + 4 + 4 * i);
        if (!isfinite (hist [i]) || hist [i] < 0)
            return false;
    }
    return true;
}

//  Write a pair's links at p (n_next x 16, n_next2 x 20, n_couse x 12
//  bytes); returns the end.
static uint8_t *
s_put_links (wp_analyzer_t *self, const pair_t *pair, uint8_t *p)
{
    const link_t *next = s_next (pair);
    const link2_t *next2 = s_next2 (pair);
    const couse_t *couse = s_couse (pair);
    for (int i = 0; i < pair->n_next; i++, p += 16) {
        wp_put_u64 (p, s_name_hash (self, next [i].model));
        s_put_f32 (p + 8, next [i].weight);
        s_put_f32 (p + 12, next [i].delay_ms);
    }
    for (int i = 0; i < pair->n_next2; i++, p += 20) {
        wp_put_u64 (p, s_name_hash (self, next2 [i].prev));
        wp_put_u64 (p + 8, s_name_hash (self, next2 [i].next));
        s_put_f32 (p + 16, next2 [i].weight);
    }
    for (int i = 0; i < pair->n_couse; i++, p += 12) {
        wp_put_u64 (p, s_name_hash (self, couse [i].model));
        s_put_f32 (p + 8, couse [i].weight);
    }
    return p;
}

//  Encode a pair, version 3 (PAIR_RECORD_V3 + links + 3 bytes a stored
//  bin); returns its size.
static size_t
s_encode_pair (wp_analyzer_t *self, const pair_t *pair, uint8_t *value)
{
    memset (value, 0, PAIR_RECORD_V3);
    wp_put_u64 (value, pair->count);
    wp_put_u64 (value + 8, pair->first_ms);
    wp_put_u64 (value + 16, pair->last_ms);
    wp_put_f64 (value + 24, pair->gap_mean);
    wp_put_f64 (value + 32, pair->gap_m2);
    wp_put_f64 (value + 40, pair->decayed);
    wp_put_u64 (value + 48, pair->last_ms);    //  decayed-at
    value [56] = 3;
    value [57] = pair->n_next;
    value [58] = pair->n_next2;
    value [59] = pair->n_couse;
    wp_put_f64 (value + 60, pair->decayed_short);
    wp_put_f64 (value + 68, pair->decayed_long);
    s_put_f32 (value + 76, pair->hist_total);
    s_put_f32 (value + 80, pair->hist_unit);
    s_put_f32 (value + 84, pair->hist_rest);
    wp_put_u64 (value + 88, pair->bins);
    for (int i = 0; i < HOURS_PER_DAY; i++)
        s_put_u16 (value + 96 + 2 * i, s_season_count (pair, i));
    for (int i = 0; i < DAYS_PER_WEEK; i++)
        s_put_u16 (value + 144 + 2 * i, s_season_count (pair, SEASON_DAY0 + i));
    uint8_t *p = s_put_links (self, pair, value + PAIR_RECORD_V3);
    int k = s_stored (pair);
    const uint16_t *counts = s_counts (pair);
    for (int i = 0; i < k; i++, p += 2)
        s_put_u16 (p, counts [i]);
    if (k)
        memcpy (p, s_fast (pair), (size_t) k);
    return (size_t) (p + k - value);
}

//  Encode a model, version 3 (MODEL_RECORD_V3 + 2 bytes a stored bin);
//  returns its size.
static size_t
s_encode_model (const model_t *model, uint8_t *value)
{
    memset (value, 0, MODEL_RECORD_V3);
    wp_put_u64 (value, model->count);
    wp_put_u64 (value + 8, model->last_ms);
    value [16] = 3;
    s_put_f32 (value + 20, model->hist_total);
    s_put_f32 (value + 24, model->unit);
    s_put_f32 (value + 28, model->rest);
    wp_put_u64 (value + 32, model->hist_at);
    wp_put_u64 (value + 40, model->bins);
    int k = __builtin_popcountll (model->bins);
    for (int i = 0; i < k; i++)
        s_put_u16 (value + MODEL_RECORD_V3 + 2 * i, model->idle [i]);
    return MODEL_RECORD_V3 + 2 * (size_t) k;
}

//  Hand the evicted pairs' deletes to fn; returns those handed, or -1
//  when fn refused one (it and the rest stay).
static int
s_drain_deleted (wp_analyzer_t *self, wp_analyzer_record_fn *fn, void *arg)
{
    uint8_t key [8 + MODEL_NAME_MAX];
    int handed = 0;
    while (self->n_deleted) {
        deleted_t *d = &self->deleted [self->n_deleted - 1];
        size_t len = s_pair_key (self, d->user, d->model, key);
        if (fn ("pairs", key, len, NULL, 0, arg))
            return -1;
        self->n_deleted--;
        handed++;
    }
    return handed;
}

//  Hand pair p's record to fn and mark it clean; -1 when fn refused it.
static int
s_hand_pair (wp_analyzer_t *self, uint32_t p, wp_analyzer_record_fn *fn, void *arg)
{
    uint8_t key [8 + MODEL_NAME_MAX];
    uint8_t value [PAIR_RECORD_V3_MAX];
    pair_t *pair = &self->pairs [p];
    size_t len = s_pair_key (self, s_pair_user (self, p), pair->model, key);
    size_t size = s_encode_pair (self, pair, value);
    if (fn ("pairs", key, len, value, size, arg))
        return -1;
    pair->dirty = false;
    return 0;
}

//  Hand changed records to fn.
int
wp_analyzer_drain (wp_analyzer_t *self, wp_analyzer_record_fn *fn, void *arg)
{
    assert (self && fn);
    uint8_t value [PAIR_RECORD_V3_MAX];         //  (a model record is smaller)
    int handed = s_drain_deleted (self, fn, arg);
    if (handed < 0)
        return -1;
    //  Models first: a restart loads them before the pairs that link them.
    for (uint32_t m = 0; m < self->models_n; m++) {
        model_t *model = &self->models [m];
        if (!model->dirty)
            continue;
        size_t size = s_encode_model (model, value);
        const char *name = wp_names_name (self->names, m);
        if (fn ("models", name, strlen (name), value, size, arg))
            return -1;
        model->dirty = false;
        handed++;
    }
    while (self->n_dirty) {
        uint32_t p = self->dirty [self->n_dirty - 1];
        pair_t *pair = &self->pairs [p];
        if (!pair->used || !pair->dirty) {
            self->n_dirty--;
            continue;
        }
        if (s_hand_pair (self, p, fn, arg))
            return -1;
        self->n_dirty--;
        handed++;
    }
    self->recent_from = 0;
    self->epoch = s_next_epoch (self->epoch);
    return handed;
}

//  The latest observe's pairs, now.
int
wp_analyzer_drain_recent (wp_analyzer_t *self, wp_analyzer_record_fn *fn, void *arg)
{
    assert (self && fn);
    //  Evictions first: a key evicted and asked again comes after its
    //  delete
    int handed = s_drain_deleted (self, fn, arg);
    if (handed < 0)
        return -1;
    if (self->recent_from > self->n_dirty)
        self->recent_from = self->n_dirty;
    uint32_t keep = self->recent_from;
    uint32_t i = self->recent_from;
    bool refused = false;
    for (; i < self->n_dirty; i++) {
        uint32_t p = self->dirty [i];
        pair_t *pair = &self->pairs [p];
        if (!pair->used || !pair->dirty)
            continue;
        if (pair->early == self->epoch) {
            self->dirty [keep++] = p;       //  (its latest goes at the drain)
            continue;
        }
        if (s_hand_pair (self, p, fn, arg)) {
            refused = true;
            break;
        }
        pair->early = self->epoch;
        handed++;
    }
    for (; i < self->n_dirty; i++)          //  (those fn refused stay)
        self->dirty [keep++] = self->dirty [i];
    self->n_dirty = keep;
    self->recent_from = keep;
    return refused ? -1 : handed;
}

//  What a version 2 or 3 pair record adds, decoded: the idle-time counts
//  stored (version 3: bins, unit, counts) or dense (version 2: hist).
typedef struct {
    double decayed_short, decayed_long;
    float hist_total;
    bool sparse;
    uint64_t bins;
    float unit, rest;
    uint16_t counts [WP_IDLE_BINS];
    float hist [WP_IDLE_BINS];
    uint8_t fast [WP_IDLE_BINS];
    uint16_t hod [24], dow [7];
    uint8_t n_next, n_next2, n_couse;
    link_t next [WP_ANALYZER_LINKS];
    link2_t next2 [WP_ANALYZER_LINKS];
    link_t couse [WP_ANALYZER_LINKS];
} decoded_t;

//  Decode n_next, n_next2, n_couse links from at (as s_put_links wrote
//  them), appending to into's; false if a value cannot be. Links to
//  unknown models are dropped.
static bool
s_get_links (wp_analyzer_t *self, const uint8_t *at, int n_next, int n_next2, int n_couse,
             decoded_t *into)
{
    for (int i = 0; i < n_next; i++, at += 16) {
        link_t link = { s_name_lookup (self, wp_get_u64 (at)), s_get_f32 (at + 8),
                        s_get_f32 (at + 12) };
        if (!isfinite (link.weight) || !isfinite (link.delay_ms) || link.weight < 0)
            return false;
        if (link.model != NONE)
            into->next [into->n_next++] = link;
    }
    for (int i = 0; i < n_next2; i++, at += 20) {
        link2_t link = { s_name_lookup (self, wp_get_u64 (at)),
                         s_name_lookup (self, wp_get_u64 (at + 8)), s_get_f32 (at + 16) };
        if (!isfinite (link.weight) || link.weight < 0)
            return false;
        if (link.prev != NONE && link.next != NONE)
            into->next2 [into->n_next2++] = link;
    }
    for (int i = 0; i < n_couse; i++, at += 12) {
        link_t link = { s_name_lookup (self, wp_get_u64 (at)), s_get_f32 (at + 8), 0 };
        if (!isfinite (link.weight) || link.weight < 0)
            return false;
        if (link.model != NONE)
            into->couse [into->n_couse++] = link;
    }
    return true;
}

//  Decode what a pair record of version 2 (604 bytes) or 3 adds after
//  version 1; false if it cannot be.
static bool
s_decode_pair (wp_analyzer_t *self, const uint8_t *v, size_t len, decoded_t *into)
{
    if (v [57] > WP_ANALYZER_LINKS || v [58] > WP_ANALYZER_LINKS
        || v [59] > WP_ANALYZER_LINKS)
        return false;
    bool v3 = v [56] == 3;
    if (!(v3 ? len >= PAIR_RECORD_V3 : v [56] == 2 && len == PAIR_RECORD_V2))
        return false;
    into->decayed_short = wp_get_f64 (v + 60);
    into->decayed_long = wp_get_f64 (v + 68);
    if (!isfinite (into->decayed_short) || !isfinite (into->decayed_long)
        || into->decayed_short < 0 || into->decayed_long < 0)
        return false;
    if (!v3) {
        if (!s_get_hist (v + 76, &into->hist_total, into->hist))
            return false;
        memcpy (into->fast, v + 550, WP_IDLE_BINS);
        for (int i = 0; i < 24; i++)
            into->hod [i] = s_get_u16 (v + 296 + 2 * i);
        for (int i = 0; i < 7; i++)
            into->dow [i] = s_get_u16 (v + 344 + 2 * i);
        //  Version 2 wrote the links at fixed places
        return s_get_links (self, v + 358, v [57], 0, 0, into)
            && s_get_links (self, v + 422, 0, v [58], 0, into)
            && s_get_links (self, v + 502, 0, 0, v [59], into);
    }
    into->sparse = true;
    into->hist_total = s_get_f32 (v + 76);
    into->unit = s_get_f32 (v + 80);
    into->rest = s_get_f32 (v + 84);
    into->bins = wp_get_u64 (v + 88);
    int k = __builtin_popcountll (into->bins);
    size_t links = 16 * (size_t) v [57] + 20 * (size_t) v [58] + 12 * (size_t) v [59];
    if (!isfinite (into->hist_total) || into->hist_total < 0 || !isfinite (into->unit)
        || into->unit < 0 || !(fabsf (into->rest) <= 65535) || (into->bins >> WP_IDLE_BINS) != 0
        || len != PAIR_RECORD_V3 + links + 3 * (size_t) k)
        return false;
    for (int i = 0; i < 24; i++)
        into->hod [i] = s_get_u16 (v + 96 + 2 * i);
    for (int i = 0; i < 7; i++)
        into->dow [i] = s_get_u16 (v + 144 + 2 * i);
    if (!s_get_links (self, v + PAIR_RECORD_V3, v [57], v [58], v [59], into))
        return false;
    const uint8_t *at = v + PAIR_RECORD_V3 + links;
    for (int i = 0; i < k; i++)
        into->counts [i] = s_get_u16 (at + 2 * i);
    memcpy (into->fast, at + 2 * k, (size_t) k);
    return true;
}

//  Load one persisted model record (version 1, 2 or 3).
static int
s_load_model (wp_analyzer_t *self, const char *name, const uint8_t *v, size_t len)
{
    float total = 0, unit = 0, rest = 0, hist [WP_IDLE_BINS] = { 0 };
    uint64_t bins = 0, hist_at = 0;
    uint16_t counts [WP_IDLE_BINS];
    if (len == MODEL_RECORD_V2) {
        if (v [16] != 2 || !s_get_hist (v + 20, &total, hist))
            return -1;
        hist_at = wp_get_u64 (v + 240);
    }
    else
    if (len != MODEL_RECORD_V1) {
        if (len < MODEL_RECORD_V3 || v [16] != 3)
            return -1;
        total = s_get_f32 (v + 20);
        unit = s_get_f32 (v + 24);
        rest = s_get_f32 (v + 28);
        hist_at = wp_get_u64 (v + 32);
        bins = wp_get_u64 (v + 40);
        int k = __builtin_popcountll (bins);
        if (!isfinite (total) || total < 0 || !isfinite (unit) || unit < 0
            || !(fabsf (rest) <= 65535)
            || (bins >> WP_IDLE_BINS) != 0 || len != MODEL_RECORD_V3 + 2 * (size_t) k)
            return -1;
        for (int i = 0; i < k; i++)
            counts [i] = s_get_u16 (v + MODEL_RECORD_V3 + 2 * i);
        s_dense (bins, counts, unit, hist);
    }
    uint32_t id = s_model_id (self, name, true);
    if (id == NONE)
        return -1;
    model_t *model = &self->models [id];
    model->count = wp_get_u64 (v);
    model->last_ms = wp_get_u64 (v + 8);
    //  The global histogram is rebuilt as the sum of the models'.
    float before [WP_IDLE_BINS];
    s_dense (model->bins, model->idle, model->unit, before);
    //  (its total too: of the stored values, which the counts round)
    for (int i = 0; i < WP_IDLE_BINS; i++) {
        self->global [i] += hist [i] - before [i];
        self->global_total += hist [i] - before [i];
    }
    if (len == MODEL_RECORD_V2 || len == MODEL_RECORD_V1)
        s_quantize (hist, NULL, &bins, counts, NULL, &unit, &rest);
    int k = __builtin_popcountll (bins);
    self->heap_bytes -= s_block_bytes (model->idle);
    free (model->idle);
    model->idle = k ? (uint16_t *) malloc ((size_t) k * sizeof (uint16_t)) : NULL;
    assert (model->idle || !k);
    if (k)
        memcpy (model->idle, counts, (size_t) k * sizeof (uint16_t));
    self->heap_bytes += s_block_bytes (model->idle);
    model->bins = bins;
    model->unit = unit;
    model->rest = rest;
    model->hist_total = total;
    model->hist_at = hist_at;
    if (model->hist_at > self->global_at)
        self->global_at = model->hist_at;
    return 0;
}

//  Give a pair (its tail released) the links, stored bins and season
//  counts decoded from a record (the hours and days not 0 stored).
static void
s_tail_load (wp_analyzer_t *self, pair_t *pair, const decoded_t *from)
{
    s_pair_release (self, pair);
    int k = __builtin_popcountll (from->bins);
    uint16_t season [HOURS_PER_DAY + DAYS_PER_WEEK];
    int n_season = 0;
    for (int i = 0; i < HOURS_PER_DAY + DAYS_PER_WEEK; i++) {
        uint16_t count = i < HOURS_PER_DAY ? from->hod [i] : from->dow [i - SEASON_DAY0];
        if (count) {
            pair->season |= 1u << i;
            season [n_season++] = count;
            pair->n_hours += i < HOURS_PER_DAY;
        }
    }
    pair->n_next = from->n_next;
    pair->n_next2 = from->n_next2;
    pair->n_couse = from->n_couse;
    pair->bins = from->bins;
    pair->n_bins = (uint8_t) k;
    size_t size = s_tail_bytes (pair);
    if (!size)
        return;
    pair->tail = (uint8_t *) malloc (s_tail_room (size));
    assert (pair->tail);
    self->heap_bytes += s_block_bytes (pair->tail);
    memcpy (s_next (pair), from->next, from->n_next * sizeof (link_t));
    memcpy (s_next2 (pair), from->next2, from->n_next2 * sizeof (link2_t));
    couse_t *couse = s_couse (pair);
    for (int i = 0; i < from->n_couse; i++)
        couse [i] = (couse_t) { from->couse [i].model, from->couse [i].weight };
    memcpy (s_counts (pair), from->counts, (size_t) k * sizeof (uint16_t));
    memcpy (s_season_counts (pair), season, (size_t) n_season * sizeof (uint16_t));
    memcpy (s_fast (pair), from->fast, (size_t) k);
}

//  Load one persisted record.
int
wp_analyzer_load (wp_analyzer_t *self, const char *db, const void *key,
                  size_t key_len, const void *value, size_t value_len)
{
    assert (self && db && key && value);
    const uint8_t *v = (const uint8_t *) value;
    char name [MODEL_NAME_MAX + 1];
    if (streq (db, "models")) {
        if (key_len == 0 || key_len > MODEL_NAME_MAX)
            return -1;
        memcpy (name, key, key_len);
        name [key_len] = 0;
        if (strlen (name) != key_len)
            return -1;
        return s_load_model (self, name, v, value_len);
    }
    if (!streq (db, "pairs") || (value_len != PAIR_RECORD_V1 && value_len < PAIR_RECORD_V3)
        || value_len > PAIR_RECORD_V2 || key_len <= 8 || key_len > 8 + MODEL_NAME_MAX)
        return -1;
    const uint8_t *k = (const uint8_t *) key;
    memcpy (name, k + 8, key_len - 8);
    name [key_len - 8] = 0;
    if (strlen (name) != key_len - 8)
        return -1;
    double gap_mean = wp_get_f64 (v + 24), gap_m2 = wp_get_f64 (v + 32);
    double decayed = wp_get_f64 (v + 40);
    uint64_t count = wp_get_u64 (v);
    if (count == 0 || !isfinite (gap_mean) || !isfinite (gap_m2) || !isfinite (decayed)
        || gap_mean < 0 || gap_m2 < 0 || decayed < 0)
        return -1;
    decoded_t scratch;
    memset (&scratch, 0, sizeof scratch);
    if (value_len != PAIR_RECORD_V1 && !s_decode_pair (self, v, value_len, &scratch))
        return -1;
    uint32_t id = s_model_id (self, name, true);
    if (id == NONE)
        return -1;
    uint32_t index = s_pair (self, wp_get_u64 (k), id);    //  may move the slab
    pair_t *pair = &self->pairs [index];
    pair->count = count;
    pair->first_ms = wp_get_u64 (v + 8);
    pair->last_ms = wp_get_u64 (v + 16);
    pair->gap_mean = gap_mean;
    pair->gap_m2 = gap_m2;
    pair->decayed = decayed;
    //  The decayed counts are kept as of the last request: a record's
    //  (written with them at another time) are brought to it
    uint64_t decayed_at = wp_get_u64 (v + 48);
    double shift = (double) pair->last_ms - (double) decayed_at;
    pair->decayed = decayed * exp (-shift / self->tau_ms);
    pair->decayed_short = scratch.decayed_short * exp (-shift / self->tau_short_ms);
    pair->decayed_long = scratch.decayed_long * exp (-shift / self->tau_long_ms);
    pair->hist_total = scratch.hist_total;
    //  The stored bins: as recorded (version 3), or those that hold
    //  something (a bin not stored holds 0, 0)
    if (!scratch.sparse) {
        uint8_t fast [WP_IDLE_BINS];
        s_quantize (scratch.hist, scratch.fast, &scratch.bins, scratch.counts, fast,
                    &scratch.unit, &scratch.rest);
        memcpy (scratch.fast, fast, sizeof fast);
    }
    pair->hist_unit = scratch.unit;
    pair->hist_rest = scratch.rest;
    s_tail_load (self, pair, &scratch);
    pair->dirty = false;
    //  Keep the user's list most recent first (records load in key order).
    user_t *user = &self->users [pair->user_slot];
    //  (the pair is first: it goes after those used later than it)
    assert (user->head == index);
    uint32_t after = NONE;
    for (uint32_t q = pair->user_next; q != NONE && self->pairs [q].last_ms > pair->last_ms;
         q = self->pairs [q].user_next)
        after = q;
    if (after != NONE) {
        s_list_remove (self, user, index);
        s_list_insert (self, user, index, after);
    }
    return 0;
}
