/*  =========================================================================
    wp_perf - the performance predictor core: per-model load statistics,
    quantiles from a log-bucket histogram, and their persistent record.

    Record layout (format 1), all integers big-endian, no padding:

        offset  size  field
             0     1  format, 1
             1     1  reserved, 0
             2     2  number of histogram buckets, 387
             4     8  samples (successful warmups)
            12     8  failures
            20     8  EMA of the load time, ms: IEEE 754 binary64 bits
            28     4  memory_mb
            32     4  shortest load, ms
            36     4  longest load, ms
            40     2  K, the number of non-empty buckets
            42  6 x K K pairs: bucket index (2), count (4), indexes rising

    Changing the bucket scheme (growth, range) needs a new format number.
    =========================================================================
*/

#include "wp_perf.h"
#include "wp_names.h"
#include <czmq.h>
#include <malloc.h>
#include <math.h>

//  Histogram: bucket 0 is [0, 1) ms, bucket i (1..S_TOP) is
//  [S_GROWTH^(i-1), S_GROWTH^i) ms, bucket S_TOP + 1 holds the rest.
#define S_GROWTH    1.04
#define S_TOP       385
#define S_BUCKETS   (S_TOP + 2)

//  Record layout
#define S_FORMAT        1
#define S_HEADER_SIZE   42
#define S_PAIR_SIZE     6

_Static_assert (S_HEADER_SIZE + S_PAIR_SIZE * S_BUCKETS <= WP_PERF_RECORD_MAX,
                "WP_PERF_RECORD_MAX too small");
_Static_assert (sizeof (double) == sizeof (uint64_t), "double is not 64 bits");

//  What we know about one model. The histogram is held as the window of
//  buckets from the first to the last non-empty one (a model's loads
//  span a few buckets, not 387): the same counts, so the same quantiles.

typedef struct {
    uint64_t samples;               // successful warmups measured
    uint64_t failures;              // failed warmups
    double ema_ms;                  // EMA of the load time, ms
    uint32_t memory_mb;             // last measured memory, MiB
    uint32_t min_ms;                // shortest load seen (valid if samples)
    uint32_t max_ms;                // longest load seen (valid if samples)
    uint16_t low;                   // bucket of counts [0]
    uint16_t width : 15;            // buckets in the window, 0 none
    uint16_t known : 1;             // a model of ours (its id is in use)
    union {
        uint32_t one;               // the count when width is 1
        uint32_t *many;             // the counts when width > 1 (owned)
    } counts;                       // loads per bucket, saturating
} s_model_t;

//  Structure of our class

//  The memory one model was learned to take (few models have one: kept
//  apart, by name).

typedef struct {
    uint32_t memory_mb;             // in all
    uint32_t vram_mb;               // of it on GPUs
    uint64_t at_ms;                 // when (event time of the load)
    uint8_t from;                   // source: index in s_sources
} s_learned_t;

//  Sources of a learned memory, by strength (a weaker one does not
//  replace a stronger one): the weights alone are a lower bound.
static const char *s_sources [] = { "", "server-weights", "resident", "server", "measured" };
#define S_FROM_WEIGHTS 1

//  Structure of our class (the bool last: no padding for the table)

struct _wp_perf_t {
    wp_names_t *names;              // model name -> id
    s_model_t *models;              // per id (those not known: zeros)
    double alpha;                   // EMA weight of a new load time
    zhashx_t *learned;              // model -> s_learned_t, NULL until one
    uint32_t models_n;              // ids models [] covers
    uint32_t models_cap;            // capacity of models []
    uint32_t known;                 // models known
    bool own_names;                 // names is ours (else shared, borrowed)
};

//  Upper bound of bucket index, lower bound of index + 1: S_GROWTH^index
//  (computed when needed: a load is rare, a table was 3 KiB per predictor).

static inline double
s_bound (int index)
{
    return pow (S_GROWTH, index);
}

//  The counts of a model's window.

static inline uint32_t *
s_counts (s_model_t *entry)
{
    return entry->width > 1 ? entry->counts.many : &entry->counts.one;
}

//  Widen a model's window to hold bucket index. 0, or -1 out of memory.

static int
s_widen (s_model_t *entry, size_t index)
{
    assert (index < S_BUCKETS);
    if (entry->width == 0) {
        entry->low = (uint16_t) index;
        entry->width = 1;
        entry->counts.one = 0;
        return 0;
    }
    size_t low = entry->low, high = low + entry->width;     // [low, high)
    if (index >= low && index < high)
        return 0;
    size_t new_low = index < low ? index : low;
    size_t new_high = index >= high ? index + 1 : high;
    uint32_t *many = (uint32_t *) calloc (new_high - new_low, sizeof (uint32_t));
    if (!many)
        return -1;
    memcpy (many + (low - new_low), s_counts (entry), entry->width * sizeof (uint32_t));
    if (entry->width > 1)
        free (entry->counts.many);
    entry->counts.many = many;
    entry->low = (uint16_t) new_low;
    entry->width = (uint16_t) (new_high - new_low);
    return 0;
}

//  Free a model's window.

static void
s_clear (s_model_t *entry)
{
    if (entry->width > 1)
        free (entry->counts.many);
    entry->width = 0;
}

//  Create a performance predictor.

wp_perf_t *
wp_perf_new (double alpha)
{
    return wp_perf_new_shared (alpha, NULL);
}

//  Create a performance predictor that keeps names in a shared table.

wp_perf_t *
wp_perf_new_shared (double alpha, wp_names_t *names)
{
    if (alpha == 0)
        alpha = WP_PERF_ALPHA_DEFAULT;
    if (!(alpha > 0 && alpha <= 1))     // also refuses NaN
        return NULL;
    wp_perf_t *self = (wp_perf_t *) calloc (1, sizeof (wp_perf_t));
    if (!self)
        return NULL;
    self->own_names = names == NULL;
    self->names = names ? names : wp_names_new ();
    if (!self->names) {
        free (self);
        return NULL;
    }
    self->alpha = alpha;
    return self;
}

//  Destroy the predictor.

void
wp_perf_destroy (wp_perf_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        wp_perf_t *self = *self_p;
        for (uint32_t id = 0; id < self->models_n; id++)
            s_clear (&self->models [id]);
        free (self->models);
        zhashx_destroy (&self->learned);
        if (self->own_names)
            wp_names_destroy (&self->names);
        free (self);
        *self_p = NULL;
    }
}

//  The bucket holding a load of value ms.

static size_t
s_bucket (wp_perf_t *self, uint32_t value)
{
    if (value < 1)
        return 0;
    double v = value;
    //  log() gives the bucket up to rounding; the bounds decide
    long index = 1 + (long) floor (log (v) / log (S_GROWTH));
    if (index < 1)
        index = 1;
    if (index > S_TOP + 1)
        index = S_TOP + 1;
    while (index > 1 && v < s_bound ((int) index - 1))
        index--;
    while (index <= S_TOP && v >= s_bound ((int) index))
        index++;
    return (size_t) index;
}

//  True when name is a usable model name.

static bool
s_valid_name (const char *model)
{
    if (!model || !*model)
        return false;
    return strnlen (model, WP_PERF_NAME_MAX + 1) <= WP_PERF_NAME_MAX;
}

//  Find model, creating it when missing; NULL on a bad name or a full table.

static s_model_t *
s_require (wp_perf_t *self, const char *model)
{
    if (!s_valid_name (model))
        return NULL;
    uint32_t id = wp_names_find (self->names, model);
    if (id != WP_NAMES_NONE && id < self->models_n && self->models [id].known)
        return &self->models [id];
    if (self->known >= WP_PERF_MAX_MODELS)
        return NULL;
    if (id == WP_NAMES_NONE)
        id = wp_names_add (self->names, model);
    if (id == WP_NAMES_NONE)
        return NULL;
    s_model_t *models = (s_model_t *) wp_names_room (self->models, &self->models_cap, id,
                                                     sizeof (s_model_t));
    if (!models)
        return NULL;
    self->models = models;
    if (id >= self->models_n) {
        memset (&self->models [self->models_n], 0,
                (id + 1 - self->models_n) * sizeof (s_model_t));
        self->models_n = id + 1;
    }
    self->models [id].known = 1;
    self->known++;
    return &self->models [id];
}

//  The model's statistics, or NULL when unknown.

static s_model_t *
s_lookup (wp_perf_t *self, const char *model)
{
    uint32_t id = model ? wp_names_find (self->names, model) : WP_NAMES_NONE;
    return id < self->models_n && self->models [id].known ? &self->models [id] : NULL;
}

//  Learn from one finished warmup of model.

int
wp_perf_observe (wp_perf_t *self, const char *model, bool ok,
                 uint32_t duration_ms, uint32_t memory_mb)
{
    assert (self);
    s_model_t *entry = s_require (self, model);
    if (!entry)
        return -1;
    if (!ok) {
        entry->failures++;
        return 0;
    }
    size_t bucket = s_bucket (self, duration_ms);
    if (s_widen (entry, bucket))
        return -1;
    if (entry->samples == 0) {
        entry->ema_ms = duration_ms;
        entry->min_ms = duration_ms;
        entry->max_ms = duration_ms;
    }
    else {
        entry->ema_ms += self->alpha * ((double) duration_ms - entry->ema_ms);
        if (duration_ms < entry->min_ms)
            entry->min_ms = duration_ms;
        if (duration_ms > entry->max_ms)
            entry->max_ms = duration_ms;
    }
    entry->samples++;
    uint32_t *count = &s_counts (entry) [bucket - entry->low];
    if (*count < UINT32_MAX)
        (*count)++;
    if (memory_mb)
        entry->memory_mb = memory_mb;
    return 0;
}

//  The q-quantile of one model's loads, ms.

static double
s_quantile (wp_perf_t *self, s_model_t *entry, double q)
{
    if (entry->samples == 0)
        return 0;
    //  Counts may have saturated: rank within what the histogram holds
    const uint32_t *counts = s_counts (entry);
    uint64_t total = 0;
    for (size_t slot = 0; slot < entry->width; slot++)
        total += counts [slot];
    if (isnan (q) || q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    //  Nearest rank; the small slack keeps 0.9 * 10 at rank 9, not 10
    double wanted = ceil (q * (double) total - 1e-9);
    uint64_t rank = wanted < 1 ? 1 : (uint64_t) wanted;
    if (rank > total)
        rank = total;
    //  The first and the last rank are known exactly
    if (rank == 1)
        return entry->min_ms;
    if (rank == total)
        return entry->max_ms;
    size_t slot = 0;
    uint64_t seen = 0;
    for (slot = 0; slot < entry->width; slot++) {
        seen += counts [slot];
        if (seen >= rank)
            break;
    }
    //  Past the window when the window is empty (cannot be: rank <= total)
    size_t index = entry->low + slot;
    double value;
    if (index == 0)
        value = 0.5;
    else
    if (index <= S_TOP)
        value = sqrt (s_bound ((int) index - 1) * s_bound ((int) index));
    else
        value = entry->max_ms;
    if (value < entry->min_ms)
        value = entry->min_ms;
    if (value > entry->max_ms)
        value = entry->max_ms;
    return value;
}

//  Fill an estimate from one model's statistics.

static void
s_fill (wp_perf_t *self, s_model_t *entry, wp_perf_estimate_t *estimate)
{
    estimate->samples = entry->samples;
    estimate->failures = entry->failures;
    estimate->ema_ms = entry->samples ? entry->ema_ms : 0;
    estimate->p50_ms = s_quantile (self, entry, 0.50);
    estimate->p90_ms = s_quantile (self, entry, 0.90);
    estimate->p99_ms = s_quantile (self, entry, 0.99);
    estimate->memory_mb = entry->memory_mb;
}

//  Fill *estimate for model.

int
wp_perf_estimate (wp_perf_t *self, const char *model,
                  wp_perf_estimate_t *estimate)
{
    assert (self);
    assert (estimate);
    memset (estimate, 0, sizeof (*estimate));
    estimate->learned_from = "";
    s_model_t *entry = s_lookup (self, model);
    s_learned_t *learned = self->learned && model
                         ? (s_learned_t *) zhashx_lookup (self->learned, model) : NULL;
    if (!entry && !learned)
        return -1;
    if (entry)
        s_fill (self, entry, estimate);
    if (learned) {
        estimate->learned_mb = learned->memory_mb;
        estimate->learned_vram_mb = learned->vram_mb;
        estimate->learned_from = s_sources [learned->from];
        estimate->learned_ms = learned->at_ms;
    }
    return 0;
}

//  Learn the memory a model takes.

int
wp_perf_learn_memory (wp_perf_t *self, const char *model, uint32_t memory_mb,
                      uint32_t vram_mb, const char *source, uint64_t at_ms)
{
    assert (self);
    uint8_t from = 0;
    for (uint8_t i = 1; source && i < sizeof s_sources / sizeof s_sources [0]; i++)
        if (streq (source, s_sources [i]))
            from = i;
    if (!model || !*model || strlen (model) > WP_PERF_NAME_MAX || !from || !memory_mb)
        return -1;
    if (!self->learned) {
        self->learned = zhashx_new ();
        if (!self->learned)
            return -1;
        zhashx_set_destructor (self->learned, (zhashx_destructor_fn *) zstr_free);
    }
    s_learned_t *learned = (s_learned_t *) zhashx_lookup (self->learned, model);
    if (!learned) {
        if (zhashx_size (self->learned) >= WP_PERF_MAX_MODELS)
            return -1;
        learned = (s_learned_t *) calloc (1, sizeof (s_learned_t));
        if (!learned)
            return -1;
        zhashx_insert (self->learned, model, learned);
    }
    else
    if (from == S_FROM_WEIGHTS && learned->from > S_FROM_WEIGHTS)
        return 0;           //  the weights alone say less than what is known
    bool same = learned->from == from && learned->memory_mb == memory_mb
             && learned->vram_mb == vram_mb;
    learned->memory_mb = memory_mb;
    learned->vram_mb = vram_mb < memory_mb ? vram_mb : memory_mb;
    learned->from = from;
    learned->at_ms = at_ms;
    return same ? 0 : 1;
}

//  Models with a learned memory, in no order.

int
wp_perf_iterate_learned (wp_perf_t *self, wp_perf_fn *fn, void *arg)
{
    assert (self && fn);
    if (!self->learned)
        return 0;
    zlistx_t *names = zhashx_keys (self->learned);
    int rc = 0;
    for (const char *name = (const char *) zlistx_first (names); name && !rc;
         name = (const char *) zlistx_next (names)) {
        wp_perf_estimate_t estimate;
        wp_perf_estimate (self, name, &estimate);
        rc = fn (name, &estimate, arg);
    }
    zlistx_destroy (&names);
    return rc;
}

//  A learned memory as a record: format (1), source (1), memory (4),
//  vram (4), at (8), big-endian.

#define S_LEARNED_FORMAT 1
#define S_LEARNED_SIZE 18

int
wp_perf_encode_memory (wp_perf_t *self, const char *model, void *buffer, size_t capacity)
{
    assert (self && buffer);
    s_learned_t *learned = self->learned && model
                         ? (s_learned_t *) zhashx_lookup (self->learned, model) : NULL;
    if (!learned || capacity < S_LEARNED_SIZE)
        return -1;
    uint8_t *p = (uint8_t *) buffer;
    p [0] = S_LEARNED_FORMAT;
    p [1] = learned->from;
    for (int i = 0; i < 4; i++) {
        p [2 + i] = (uint8_t) (learned->memory_mb >> (24 - 8 * i));
        p [6 + i] = (uint8_t) (learned->vram_mb >> (24 - 8 * i));
    }
    for (int i = 0; i < 8; i++)
        p [10 + i] = (uint8_t) (learned->at_ms >> (56 - 8 * i));
    return S_LEARNED_SIZE;
}

int
wp_perf_decode_memory (wp_perf_t *self, const char *model, const void *data, size_t len)
{
    assert (self);
    const uint8_t *p = (const uint8_t *) data;
    if (!p || len != S_LEARNED_SIZE || p [0] != S_LEARNED_FORMAT || !p [1]
        || p [1] >= sizeof s_sources / sizeof s_sources [0])
        return -1;
    uint32_t memory = 0, vram = 0;
    uint64_t at = 0;
    for (int i = 0; i < 4; i++) {
        memory = memory << 8 | p [2 + i];
        vram = vram << 8 | p [6 + i];
    }
    for (int i = 0; i < 8; i++)
        at = at << 8 | p [10 + i];
    if (vram > memory)
        return -1;
    return wp_perf_learn_memory (self, model, memory, vram, s_sources [p [1]], at) < 0 ? -1 : 0;
}

//  The q-quantile of model's load times, ms.

double
wp_perf_quantile_ms (wp_perf_t *self, const char *model, double q)
{
    assert (self);
    s_model_t *entry = s_lookup (self, model);
    return entry ? s_quantile (self, entry, q) : 0;
}

//  Load time to plan with: p90, or default_ms without samples.

double
wp_perf_expected_load_ms (wp_perf_t *self, const char *model, double default_ms)
{
    assert (self);
    s_model_t *entry = s_lookup (self, model);
    if (!entry || entry->samples == 0)
        return default_ms;
    return s_quantile (self, entry, 0.90);
}

//  Number of models tracked.

size_t
wp_perf_size (wp_perf_t *self)
{
    assert (self);
    return self->known;
}

//  Bytes held: the names (its own), the statistics (capacity), and the
//  windows wider than one bucket as allocated (with the allocator's header).

size_t
wp_perf_state_bytes (wp_perf_t *self)
{
    assert (self);
    size_t bytes = sizeof (*self) + (self->own_names ? wp_names_bytes (self->names) : 0)
                 + (size_t) self->models_cap * sizeof (s_model_t);
    if (self->learned)      //  an item, its name and the table's entry, about
        bytes += zhashx_size (self->learned) * (sizeof (s_learned_t) + 2 * WP_PERF_NAME_MAX / 8
                                                + 48);
    for (uint32_t id = 0; id < self->models_n; id++)
        if (self->models [id].width > 1)
            bytes += malloc_usable_size (self->models [id].counts.many) + sizeof (size_t);
    return bytes;
}

//  Order model ids by name (qsort_r comparator, arg is the names).

static int
s_compare_ids (const void *one, const void *two, void *names)
{
    return strcmp (wp_names_name ((wp_names_t *) names, *(const uint32_t *) one),
                   wp_names_name ((wp_names_t *) names, *(const uint32_t *) two));
}

//  Call fn for every model, in name order.

int
wp_perf_iterate (wp_perf_t *self, wp_perf_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    //  The ids sorted by name: fn may add models (names and ids stay)
    uint32_t size = 0;
    uint32_t *ids = (uint32_t *) malloc ((self->known ? self->known : 1) * sizeof (uint32_t));
    if (!ids)
        return -1;
    for (uint32_t id = 0; id < self->models_n; id++)
        if (self->models [id].known)
            ids [size++] = id;
    qsort_r (ids, size, sizeof (uint32_t), s_compare_ids, self->names);
    int rc = 0;
    for (uint32_t i = 0; i < size && rc == 0; i++) {
        wp_perf_estimate_t estimate;
        s_fill (self, &self->models [ids [i]], &estimate);
        rc = fn (wp_names_name (self->names, ids [i]), &estimate, arg);
    }
    free (ids);
    return rc;
}

//  Write a 16-bit big-endian number, return the next byte.

static uint8_t *
s_put_u16 (uint8_t *p, uint16_t value)
{
    p [0] = (uint8_t) (value >> 8);
    p [1] = (uint8_t) value;
    return p + 2;
}

//  Write a 32-bit big-endian number, return the next byte.

static uint8_t *
s_put_u32 (uint8_t *p, uint32_t value)
{
    for (int index = 0; index < 4; index++)
        p [index] = (uint8_t) (value >> (24 - 8 * index));
    return p + 4;
}

//  Write a 64-bit big-endian number, return the next byte.

static uint8_t *
s_put_u64 (uint8_t *p, uint64_t value)
{
    for (int index = 0; index < 8; index++)
        p [index] = (uint8_t) (value >> (56 - 8 * index));
    return p + 8;
}

//  Read a 16-bit big-endian number, advance *p_p.

static uint16_t
s_get_u16 (const uint8_t **p_p)
{
    const uint8_t *p = *p_p;
    *p_p = p + 2;
    return (uint16_t) ((p [0] << 8) | p [1]);
}

//  Read a 32-bit big-endian number, advance *p_p.

static uint32_t
s_get_u32 (const uint8_t **p_p)
{
    const uint8_t *p = *p_p;
    uint32_t value = 0;
    for (int index = 0; index < 4; index++)
        value = (value << 8) | p [index];
    *p_p = p + 4;
    return value;
}

//  Read a 64-bit big-endian number, advance *p_p.

static uint64_t
s_get_u64 (const uint8_t **p_p)
{
    const uint8_t *p = *p_p;
    uint64_t value = 0;
    for (int index = 0; index < 8; index++)
        value = (value << 8) | p [index];
    *p_p = p + 8;
    return value;
}

//  Write model's statistics as a record into buffer.

int
wp_perf_encode (wp_perf_t *self, const char *model, void *buffer,
                size_t capacity)
{
    assert (self);
    assert (buffer);
    s_model_t *entry = s_lookup (self, model);
    if (!entry)
        return -1;
    const uint32_t *counts = s_counts (entry);
    uint16_t nonzero = 0;
    for (size_t slot = 0; slot < entry->width; slot++)
        if (counts [slot])
            nonzero++;
    size_t size = S_HEADER_SIZE + S_PAIR_SIZE * (size_t) nonzero;
    if (size > capacity)
        return -1;
    uint64_t ema_bits;
    double ema = entry->samples ? entry->ema_ms : 0;
    memcpy (&ema_bits, &ema, sizeof (ema_bits));

    uint8_t *p = (uint8_t *) buffer;
    *p++ = S_FORMAT;
    *p++ = 0;
    p = s_put_u16 (p, S_BUCKETS);
    p = s_put_u64 (p, entry->samples);
    p = s_put_u64 (p, entry->failures);
    p = s_put_u64 (p, ema_bits);
    p = s_put_u32 (p, entry->memory_mb);
    p = s_put_u32 (p, entry->samples ? entry->min_ms : 0);
    p = s_put_u32 (p, entry->samples ? entry->max_ms : 0);
    p = s_put_u16 (p, nonzero);
    for (size_t slot = 0; slot < entry->width; slot++)
        if (counts [slot]) {
            p = s_put_u16 (p, (uint16_t) (entry->low + slot));
            p = s_put_u32 (p, counts [slot]);
        }
    assert ((size_t) (p - (uint8_t *) buffer) == size);
    return (int) size;
}

//  Read and check a record into *entry (its window empty) and counts
//  (S_BUCKETS, zeroed). Returns 0 or -1.

static int
s_parse_record (wp_perf_t *self, const uint8_t *data, size_t len,
                s_model_t *entry, uint32_t *counts)
{
    if (len < S_HEADER_SIZE)
        return -1;
    const uint8_t *p = data;
    uint8_t format = *p++;
    uint8_t reserved = *p++;
    if (format != S_FORMAT || reserved != 0 || s_get_u16 (&p) != S_BUCKETS)
        return -1;
    entry->samples = s_get_u64 (&p);
    entry->failures = s_get_u64 (&p);
    uint64_t ema_bits = s_get_u64 (&p);
    memcpy (&entry->ema_ms, &ema_bits, sizeof (ema_bits));
    entry->memory_mb = s_get_u32 (&p);
    entry->min_ms = s_get_u32 (&p);
    entry->max_ms = s_get_u32 (&p);
    size_t nonzero = s_get_u16 (&p);
    if (nonzero > S_BUCKETS || len != S_HEADER_SIZE + S_PAIR_SIZE * nonzero)
        return -1;

    uint64_t total = 0;
    bool saturated = false;
    long first = -1, last = -1;
    for (size_t pair = 0; pair < nonzero; pair++) {
        long index = s_get_u16 (&p);
        uint32_t count = s_get_u32 (&p);
        if (index <= last || index >= S_BUCKETS || count == 0)
            return -1;
        if (first < 0)
            first = index;
        last = index;
        counts [index] = count;
        total += count;
        saturated |= count == UINT32_MAX;
    }
    if (!isfinite (entry->ema_ms))
        return -1;
    if (entry->samples == 0) {
        //  Only failures: everything else must be empty
        if (nonzero > 0 || entry->ema_ms != 0 || entry->memory_mb != 0
        ||  entry->min_ms != 0 || entry->max_ms != 0)
            return -1;
        return 0;
    }

    //  The histogram must hold the samples, from the shortest to the
    //  longest load, and the EMA must lie between those two
    if (saturated ? total > entry->samples : total != entry->samples)
        return -1;
    if (entry->min_ms > entry->max_ms
    ||  (long) s_bucket (self, entry->min_ms) != first
    ||  (long) s_bucket (self, entry->max_ms) != last)
        return -1;
    double slack = 1e-9 * entry->max_ms + 1e-9;
    if (entry->ema_ms < entry->min_ms - slack
    ||  entry->ema_ms > entry->max_ms + slack)
        return -1;
    return 0;
}

//  Replace model's statistics by those of a record.

int
wp_perf_decode (wp_perf_t *self, const char *model, const void *data,
                size_t len)
{
    assert (self);
    if (!data)
        return -1;
    s_model_t parsed;
    memset (&parsed, 0, sizeof parsed);
    uint32_t *counts = (uint32_t *) calloc (S_BUCKETS, sizeof (uint32_t));
    if (!counts)
        return -1;
    int rc = s_parse_record (self, (const uint8_t *) data, len, &parsed, counts);
    //  The window: from the first to the last non-empty bucket
    for (size_t index = 0; index < S_BUCKETS && rc == 0; index++)
        if (counts [index]) {
            if (s_widen (&parsed, index))
                rc = -1;
            else
                s_counts (&parsed) [index - parsed.low] = counts [index];
        }
    free (counts);
    s_model_t *entry = rc ? NULL : s_require (self, model);
    if (!entry) {
        s_clear (&parsed);
        return -1;
    }
    s_clear (entry);
    parsed.known = 1;
    *entry = parsed;
    return 0;
}
