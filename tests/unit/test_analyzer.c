/*  =========================================================================
    test_analyzer - the usage pattern analyzer core: counts, times, gap
    statistics and decayed rates worked out by hand; ordering; the per-user
    and total bounds; persistence records (layout, deletes, round trip,
    rejects); and a large randomized run checked against a reference.
    =========================================================================
*/

#include "testutil.h"
#include <czmq.h>
#include <math.h>
#include "wp_analyzer.h"
#include "wp_util.h"

#define T0 1700000000000ULL     //  an event time, ms
#define HOUR 3600000ULL

#define assert_close(actual, expected, tolerance) \
    s_assert_close ((actual), (expected), (tolerance), __FILE__, __LINE__)

//  Assert |actual - expected| <= tolerance, printing both on failure.
static void
s_assert_close (double actual, double expected, double tolerance,
                const char *file, int line)
{
    if (!(fabs (actual - expected) <= tolerance)) {
        print_error ("%s:%d: %.15g is not %.15g +- %.3g\n", file, line,
                     actual, expected, tolerance);
        fail ();
    }
}

//  --------------------------------------------------------------------------
//  A store for drained records: (db, key) -> value, deletes remove.

typedef struct {
    char db [8];
    uint8_t key [300];
    size_t key_len;
    uint8_t value [1024];
    size_t value_len;
} record_t;

typedef struct {
    zhashx_t *records;      //  "db:hex key" -> record_t
    int puts;               //  records with a value handed
    int deletes;            //  deletes handed
    int calls;              //  calls of the callback
    int fail_at;            //  call number that fails (0 = never)
    record_t last;          //  the last record handed
} store_t;

//  Destructor of stored records.
static void
s_record_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  An empty store.
static void
s_store_init (store_t *store)
{
    memset (store, 0, sizeof *store);
    store->records = zhashx_new ();
    zhashx_set_destructor (store->records, s_record_free);
}

//  Free the store.
static void
s_store_fini (store_t *store)
{
    zhashx_destroy (&store->records);
}

//  Name of a record in the store.
static char *
s_record_name (const char *db, const void *key, size_t key_len)
{
    char *name = malloc (strlen (db) + 2 + 2 * key_len);
    assert_non_null (name);
    size_t at = (size_t) sprintf (name, "%s:", db);
    for (size_t i = 0; i < key_len; i++)
        at += (size_t) sprintf (name + at, "%02x", ((const uint8_t *) key) [i]);
    return name;
}

//  The drain callback: keep or delete the record; fail on call fail_at.
static int
s_store_fn (const char *db, const void *key, size_t key_len, const void *value,
            size_t value_len, void *arg)
{
    store_t *store = (store_t *) arg;
    store->calls++;
    if (store->fail_at && store->calls == store->fail_at)
        return -1;
    record_t *record = calloc (1, sizeof *record);
    assert_non_null (record);
    assert_true (strlen (db) < sizeof record->db);
    assert_true (key_len <= sizeof record->key);
    assert_true (value_len <= sizeof record->value);
    strcpy (record->db, db);
    memcpy (record->key, key, key_len);
    record->key_len = key_len;
    if (value) {
        memcpy (record->value, value, value_len);
        record->value_len = value_len;
    }
    store->last = *record;
    char *name = s_record_name (db, key, key_len);
    if (value) {
        store->puts++;
        zhashx_update (store->records, name, record);
    }
    else {
        store->deletes++;
        zhashx_delete (store->records, name);
        free (record);
    }
    free (name);
    return 0;
}

//  Load every stored record into an analyzer (models first, as a store
//  with two databases would be read in any order; both orders work).
static void
s_store_load (store_t *store, wp_analyzer_t *analyzer)
{
    for (record_t *r = (record_t *) zhashx_first (store->records); r;
         r = (record_t *) zhashx_next (store->records))
        assert_int_equal (wp_analyzer_load (analyzer, r->db, r->key, r->key_len,
                                            r->value, r->value_len), 0);
}

//  --------------------------------------------------------------------------

//  Requests at 1000, 4000, 6000 and 13000 ms: gaps 3000, 2000, 7000,
//  mean 4000, deviations -1000, -2000, +3000, squares 1e6 + 4e6 + 9e6 =
//  14e6 over 3 gaps: standard deviation sqrt (14e6 / 3) = 2160.2469 ms
//  (of the gaps seen; with 2 requests there is one gap and no spread).
static void
test_known_sequence (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    wp_pattern_t p;
    assert_false (wp_analyzer_pair (self, 7, "m", T0, &p));

    assert_int_equal (wp_analyzer_observe (self, 7, "m", T0 + 1000), 0);
    assert_true (wp_analyzer_pair (self, 7, "m", T0 + 1000, &p));
    assert_string_equal (p.model, "m");
    assert_true (p.count == 1);
    assert_true (p.first_ms == T0 + 1000 && p.last_ms == T0 + 1000);
    assert_close (p.gap_mean_ms, 0, 0);
    assert_close (p.gap_std_ms, 0, 0);

    wp_analyzer_observe (self, 7, "m", T0 + 4000);
    wp_analyzer_pair (self, 7, "m", T0 + 4000, &p);
    assert_true (p.count == 2);
    assert_close (p.gap_mean_ms, 3000, 1e-9);
    assert_close (p.gap_std_ms, 0, 0);

    wp_analyzer_observe (self, 7, "m", T0 + 6000);
    wp_analyzer_pair (self, 7, "m", T0 + 6000, &p);
    assert_close (p.gap_mean_ms, 2500, 1e-9);
    assert_close (p.gap_std_ms, 500, 1e-9);

    wp_analyzer_observe (self, 7, "m", T0 + 13000);
    wp_analyzer_pair (self, 7, "m", T0 + 13000, &p);
    assert_true (p.count == 4);
    assert_true (p.first_ms == T0 + 1000);
    assert_true (p.last_ms == T0 + 13000);
    assert_close (p.gap_mean_ms, 4000, 1e-9);
    assert_close (p.gap_std_ms, sqrt (14e6 / 3), 1e-6);
    assert_close (p.gap_std_ms, 2160.24689, 1e-5);
    assert_true (p.model_count == 4);
    assert_int_equal (p.model_id, 0);

    //  Another user of the same model: the model count is everyone's.
    wp_analyzer_observe (self, 8, "m", T0 + 14000);
    wp_analyzer_pair (self, 7, "m", T0 + 14000, &p);
    assert_true (p.count == 4);
    assert_true (p.model_count == 5);
    assert_true (wp_analyzer_model_count (self, "m") == 5);
    assert_true (wp_analyzer_model_count (self, "other") == 0);
    assert_int_equal (wp_analyzer_pairs (self), 2);
    assert_int_equal (wp_analyzer_users (self), 2);
    assert_int_equal (wp_analyzer_models (self), 1);
    assert_false (wp_analyzer_pair (self, 9, "m", T0, &p));
    assert_false (wp_analyzer_pair (self, 7, "other", T0, &p));
    wp_analyzer_destroy (&self);
    assert_null (self);
    wp_analyzer_destroy (&self);
}

//  A late event counts but does not make a gap of its own: with events
//  at 10 s, 20 s and a late one at 15 s, the mean gap is the span over
//  the gaps, (20 - 10) / 2 = 5 s, and the last use stays 20 s.
static void
test_out_of_order (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    wp_analyzer_observe (self, 1, "m", T0 + 10000);
    wp_analyzer_observe (self, 1, "m", T0 + 20000);
    wp_analyzer_observe (self, 1, "m", T0 + 15000);
    wp_pattern_t p;
    assert_true (wp_analyzer_pair (self, 1, "m", T0 + 20000, &p));
    assert_true (p.count == 3);
    assert_true (p.first_ms == T0 + 10000);
    assert_true (p.last_ms == T0 + 20000);
    assert_close (p.gap_mean_ms, 5000, 1e-9);
    assert_true (p.gap_mean_ms >= 0 && p.gap_std_ms >= 0);
    //  Same-millisecond requests are gaps of 0.
    wp_analyzer_observe (self, 2, "m", T0);
    wp_analyzer_observe (self, 2, "m", T0);
    wp_analyzer_pair (self, 2, "m", T0, &p);
    assert_true (p.count == 2);
    assert_close (p.gap_mean_ms, 0, 0);
    wp_analyzer_destroy (&self);
}

//  Regression (was a bug; wp_analyzer.c, wp_analyzer_observe): first_ms is documented as
//  the first request in event time, but a late event older than every
//  other does not lower it. Events at 10 s then 5 s: first_ms should be
//  5 s; it stays 10 s.
static void
test_late_event_before_first (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    wp_analyzer_observe (self, 1, "m", T0 + 10000);
    wp_analyzer_observe (self, 1, "m", T0 + 5000);
    wp_pattern_t p;
    assert_true (wp_analyzer_pair (self, 1, "m", T0 + 10000, &p));
    wp_analyzer_destroy (&self);
    assert_true (p.count == 2);
    assert_true (p.last_ms == T0 + 10000);
    if (p.first_ms != T0 + 5000)
        print_error ("regression: wp_analyzer_observe: first_ms %" PRIu64 " not min %" PRIu64 "\n",
                     (uint64_t) (p.first_ms - T0), (uint64_t) 5000);
    assert_true (p.first_ms == T0 + 5000);
}

//  The rate: an exponentially decayed count of requests, per hour. One
//  request, half-life h: the decay constant is tau = h / ln 2, and the
//  rate right after it is 1 / tau = ln 2 / h; one half-life later, half.
static void
test_rate_half_life (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);      //  half-life 1 h
    wp_analyzer_observe (self, 1, "m", T0);
    wp_pattern_t p;
    wp_analyzer_pair (self, 1, "m", T0, &p);
    assert_close (p.rate_per_h, M_LN2, 1e-12);
    double at_start = p.rate_per_h;
    wp_analyzer_pair (self, 1, "m", T0 + HOUR, &p);
    assert_close (p.rate_per_h, at_start / 2, 1e-12);
    wp_analyzer_pair (self, 1, "m", T0 + 2 * HOUR, &p);
    assert_close (p.rate_per_h, at_start / 4, 1e-12);
    wp_analyzer_pair (self, 1, "m", T0 + HOUR / 2, &p);
    assert_close (p.rate_per_h, at_start / sqrt (2), 1e-12);
    //  Two requests at once count twice.
    wp_analyzer_observe (self, 2, "m", T0);
    wp_analyzer_observe (self, 2, "m", T0);
    wp_analyzer_pair (self, 2, "m", T0, &p);
    assert_close (p.rate_per_h, 2 * M_LN2, 1e-12);
    //  A second request one half-life later: 1/2 + 1.
    wp_analyzer_observe (self, 1, "m", T0 + HOUR);
    wp_analyzer_pair (self, 1, "m", T0 + HOUR, &p);
    assert_close (p.rate_per_h, 1.5 * M_LN2, 1e-12);
    wp_analyzer_destroy (&self);

    //  A one-minute half-life: ln 2 x 60 per hour, halving every minute.
    wp_analyzer_opts_t opts = { .rate_half_life_s = 60 };
    self = wp_analyzer_new (&opts);
    wp_analyzer_observe (self, 1, "m", T0);
    wp_analyzer_pair (self, 1, "m", T0, &p);
    assert_close (p.rate_per_h, 60 * M_LN2, 1e-9);
    wp_analyzer_pair (self, 1, "m", T0 + 60000, &p);
    assert_close (p.rate_per_h, 30 * M_LN2, 1e-9);
    wp_analyzer_destroy (&self);
}

//  Requests every 6 minutes for 20 hours, half-life 1 hour: right after
//  the n-th request the decayed count is the geometric sum
//  (1 - r^n) / (1 - r), r = 2^(-0.1), and the rate that sum x ln 2 per
//  hour, about 10.35/h for a true rate of 10/h.
static void
test_rate_steady_state (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    int n = 200;
    for (int i = 0; i < n; i++)
        wp_analyzer_observe (self, 1, "m", T0 + (uint64_t) i * 360000);
    wp_pattern_t p;
    wp_analyzer_pair (self, 1, "m", T0 + (uint64_t) (n - 1) * 360000, &p);
    double r = pow (2, -0.1);
    double want = (1 - pow (r, n)) / (1 - r) * M_LN2;
    assert_close (p.rate_per_h, want, 1e-9 * want);
    assert_true (p.rate_per_h > 10 && p.rate_per_h < 10.5);
    assert_close (p.gap_mean_ms, 360000, 1e-6);
    assert_close (p.gap_std_ms, 0, 1e-6);
    wp_analyzer_destroy (&self);
}

//  Regression (was a bug; wp_analyzer.c, wp_analyzer_observe): a late event is added to the
//  decayed count with weight 1, as if it happened at the newest time
//  seen. With a 1 h half-life, a request at T0 + 1 h and then a late one
//  at T0 give, at T0 + 1 h, a decayed count of 1 + 1/2: rate 1.5 ln 2 /h.
//  The analyzer says 2 ln 2 /h.
static void
test_late_event_rate (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    wp_analyzer_observe (self, 1, "m", T0 + HOUR);
    wp_analyzer_observe (self, 1, "m", T0);
    wp_pattern_t p;
    wp_analyzer_pair (self, 1, "m", T0 + HOUR, &p);
    wp_analyzer_destroy (&self);
    if (fabs (p.rate_per_h - 1.5 * M_LN2) > 1e-9)
        print_error ("regression: wp_analyzer_observe: late event weighs 1: rate %.6f, want %.6f\n",
                     p.rate_per_h, 1.5 * M_LN2);
    assert_close (p.rate_per_h, 1.5 * M_LN2, 1e-9);
}

//  A user's models come most recently used first; capacity cuts the list.
static void
test_pattern_order (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    wp_analyzer_observe (self, 5, "a", T0 + 1000);
    wp_analyzer_observe (self, 5, "b", T0 + 2000);
    wp_analyzer_observe (self, 5, "c", T0 + 3000);
    wp_analyzer_observe (self, 5, "a", T0 + 4000);
    wp_analyzer_observe (self, 6, "d", T0 + 5000);
    wp_pattern_t out [8];
    assert_int_equal (wp_analyzer_pattern (self, 5, T0 + 5000, out, 8), 3);
    assert_string_equal (out [0].model, "a");
    assert_string_equal (out [1].model, "c");
    assert_string_equal (out [2].model, "b");
    assert_true (out [0].count == 2 && out [1].count == 1 && out [2].count == 1);
    //  Dense model ids in order of first sight.
    assert_int_equal (out [0].model_id, 0);
    assert_int_equal (out [2].model_id, 1);
    assert_int_equal (out [1].model_id, 2);
    assert_int_equal (wp_analyzer_pattern (self, 5, T0 + 5000, out, 2), 2);
    assert_string_equal (out [1].model, "c");
    assert_int_equal (wp_analyzer_pattern (self, 5, T0, out, 0), 0);
    assert_int_equal (wp_analyzer_pattern (self, 99, T0, out, 8), 0);
    assert_int_equal (wp_analyzer_pattern (self, 6, T0, out, 8), 1);
    assert_string_equal (out [0].model, "d");
    assert_int_equal (out [0].model_id, 3);
    wp_analyzer_destroy (&self);
}

//  Per-user bound: the user's least recently used model is forgotten
//  (and deleted in the store); other users are untouched.
static void
test_user_models_bound (void **state)
{
    wp_analyzer_opts_t opts = { .max_user_models = 3 };
    wp_analyzer_t *self = wp_analyzer_new (&opts);
    wp_analyzer_observe (self, 1, "m1", T0 + 1);
    wp_analyzer_observe (self, 1, "m2", T0 + 2);
    wp_analyzer_observe (self, 1, "m3", T0 + 3);
    wp_analyzer_observe (self, 2, "m2", T0 + 4);
    wp_analyzer_observe (self, 1, "m1", T0 + 5);    //  m2 is now LRU for user 1
    store_t store;
    s_store_init (&store);
    assert_int_equal (wp_analyzer_drain (self, s_store_fn, &store), 4 + 3);
    assert_int_equal (wp_analyzer_evicted (self), 0);

    wp_analyzer_observe (self, 1, "m4", T0 + 6);
    assert_int_equal (wp_analyzer_evicted (self), 1);
    assert_int_equal (wp_analyzer_pairs (self), 4);
    wp_pattern_t out [8], p;
    assert_int_equal (wp_analyzer_pattern (self, 1, T0 + 6, out, 8), 3);
    assert_string_equal (out [0].model, "m4");
    assert_string_equal (out [1].model, "m1");
    assert_string_equal (out [2].model, "m3");
    assert_false (wp_analyzer_pair (self, 1, "m2", T0 + 6, &p));
    assert_true (wp_analyzer_pair (self, 2, "m2", T0 + 6, &p));
    //  The model's lifetime count is kept.
    assert_true (wp_analyzer_model_count (self, "m2") == 2);

    //  Drain: a delete of (1, m2), the new pair, the changed model, and
    //  (1, m1), whose "asked next" now names m4.
    store.puts = store.deletes = 0;
    assert_int_equal (wp_analyzer_drain (self, s_store_fn, &store), 4);
    assert_int_equal (store.deletes, 1);
    assert_int_equal (store.puts, 3);
    uint8_t key [10];
    wp_put_u64 (key, 1);
    memcpy (key + 8, "m2", 2);
    char *name = s_record_name ("pairs", key, 10);
    assert_null (zhashx_lookup (store.records, name));
    free (name);
    wp_put_u64 (key, 2);
    name = s_record_name ("pairs", key, 10);
    assert_non_null (zhashx_lookup (store.records, name));
    free (name);
    //  Back again, it starts over.
    wp_analyzer_observe (self, 1, "m2", T0 + 7);
    wp_analyzer_pair (self, 1, "m2", T0 + 7, &p);
    assert_true (p.count == 1 && p.first_ms == T0 + 7);
    assert_false (wp_analyzer_pair (self, 1, "m3", T0 + 7, &p));
    s_store_fini (&store);
    wp_analyzer_destroy (&self);

    //  The bound is at most 32.
    opts.max_user_models = 100;
    self = wp_analyzer_new (&opts);
    char model [16];
    for (int i = 0; i < 40; i++) {
        snprintf (model, sizeof model, "m%d", i);
        wp_analyzer_observe (self, 1, model, T0 + (uint64_t) i);
    }
    wp_pattern_t many [40];
    assert_int_equal (wp_analyzer_pattern (self, 1, T0 + 40, many, 40),
                      WP_ANALYZER_USER_MODELS_MAX);
    assert_string_equal (many [0].model, "m39");
    assert_string_equal (many [31].model, "m8");
    assert_int_equal (wp_analyzer_evicted (self), 8);
    wp_analyzer_destroy (&self);
}

//  Total bound: never more than max_pairs; the pairs used most recently
//  survive (the victim is the oldest of a sample of 8, so it is older
//  than at least 7 others).
static void
test_max_pairs_bound (void **state)
{
    wp_analyzer_opts_t opts = { .max_pairs = 16 };
    wp_analyzer_t *self = wp_analyzer_new (&opts);
    wp_pattern_t p;
    for (uint64_t i = 0; i < 1000; i++) {
        assert_int_equal (wp_analyzer_observe (self, 1000 + i, "m", T0 + i), 0);
        assert_true (wp_analyzer_pairs (self) <= 16);
        for (uint64_t j = i >= 7 ? i - 7 : 0; j <= i; j++)
            assert_true (wp_analyzer_pair (self, 1000 + j, "m", T0 + i, &p));
    }
    assert_int_equal (wp_analyzer_pairs (self), 16);
    assert_int_equal (wp_analyzer_users (self), 16);
    assert_int_equal (wp_analyzer_evicted (self), 1000 - 16);
    assert_true (wp_analyzer_model_count (self, "m") == 1000);
    //  Drain: 984 deletes, 16 pairs, 1 model.
    store_t store;
    s_store_init (&store);
    assert_int_equal (wp_analyzer_drain (self, s_store_fn, &store), 984 + 16 + 1);
    assert_int_equal (store.deletes, 984);
    assert_int_equal (zhashx_size (store.records), 17);
    s_store_fini (&store);
    wp_analyzer_destroy (&self);
}

//  Records handed at each event (wp_analyzer_drain_recent) and the rest
//  at each drain leave a store equal, record for record, to the drains
//  alone, evictions (deletes) and pairs asked again after their eviction
//  included; a refusal keeps the refused records dirty for the drain.
static void
test_drain_recent (void **state)
{
    wp_analyzer_opts_t opts = { .max_pairs = 64 };
    wp_analyzer_t *early = wp_analyzer_new (&opts);
    wp_analyzer_t *whole = wp_analyzer_new (&opts);
    store_t a, b;
    s_store_init (&a);
    s_store_init (&b);
    const char *models [] = { "m0", "m1", "m2", "m3" };
    uint32_t seed = 7;
    int handed_early = 0, handed_drain = 0;
    for (int i = 0; i < 5000; i++) {
        seed = seed * 1103515245u + 12345u;
        uint64_t user = 1 + (seed >> 16) % 40;          //  40 users x 4 models > 64
        const char *model = models [(seed >> 8) % 4];
        assert_int_equal (wp_analyzer_observe (early, user, model, T0 + (uint64_t) i * 500), 0);
        assert_int_equal (wp_analyzer_observe (whole, user, model, T0 + (uint64_t) i * 500), 0);
        int n = wp_analyzer_drain_recent (early, s_store_fn, &a);
        assert_true (n >= 0 && n <= 3);     //  a delete, the pair, its predecessor
        handed_early += n;
        if (i % 97 == 96) {
            int drained = wp_analyzer_drain (early, s_store_fn, &a);
            assert_true (drained >= 0);
            handed_drain += drained;
            assert_true (wp_analyzer_drain (whole, s_store_fn, &b) >= 0);
            assert_int_equal (zhashx_size (a.records), zhashx_size (b.records));
            for (record_t *r = (record_t *) zhashx_first (b.records); r;
                 r = (record_t *) zhashx_next (b.records)) {
                const char *name = (const char *) zhashx_cursor (b.records);
                record_t *other = (record_t *) zhashx_lookup (a.records, name);
                assert_non_null (other);
                assert_int_equal (other->value_len, r->value_len);
                assert_memory_equal (other->value, r->value, r->value_len);
            }
        }
    }
    assert_true (wp_analyzer_evicted (early) > 0);
    assert_true (handed_early > handed_drain);          //  most went at their event
    //  A refusal: the pair stays dirty, and the drain hands it
    assert_int_equal (wp_analyzer_drain (early, s_store_fn, &a) >= 0, 1);
    assert_int_equal (wp_analyzer_observe (early, 999, "m0", T0 + 10000000), 0);
    a.fail_at = a.calls + 1;
    assert_int_equal (wp_analyzer_drain_recent (early, s_store_fn, &a), -1);
    a.fail_at = 0;
    int puts = a.puts;
    assert_true (wp_analyzer_drain (early, s_store_fn, &a) >= 1);
    assert_true (a.puts > puts);
    s_store_fini (&a);
    s_store_fini (&b);
    wp_analyzer_destroy (&early);
    wp_analyzer_destroy (&whole);
}

//  The record layout: key = user hash big-endian + model name; pair value
//  = count, first, last (u64), gap mean, gap M2, decayed count (f64),
//  decayed-at (u64), all big-endian; model value = count, last.
static void
test_drain_layout (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    wp_analyzer_observe (self, 0x0102030405060708ULL, "m", T0 + 1000);
    wp_analyzer_observe (self, 0x0102030405060708ULL, "m", T0 + 3000);
    store_t store;
    s_store_init (&store);
    assert_int_equal (wp_analyzer_drain (self, s_store_fn, &store), 2);
    const uint8_t key [9] = { 1, 2, 3, 4, 5, 6, 7, 8, 'm' };
    char *name = s_record_name ("pairs", key, 9);
    record_t *pair = (record_t *) zhashx_lookup (store.records, name);
    free (name);
    assert_non_null (pair);
    //  Version 3 extends version 1: the same first 56 bytes, then format
    //  3; no links, one stored bin (2 s): 158 + 3 bytes.
    assert_int_equal (pair->value_len, 161);
    assert_int_equal (pair->value [56], 3);
    int bin = wp_idle_bin (2000);
    assert_true (wp_get_u64 (pair->value + 88) == 1ULL << bin);
    assert_int_equal (wp_get_u32 (pair->value + 80), 0x38800000);  //  unit 2^-14
    assert_int_equal (wp_get_u32 (pair->value + 84), 0);           //  no rounding
    assert_int_equal (pair->value [158], 0x40);                     //  16384
    assert_int_equal (pair->value [159], 0);
    assert_int_equal (pair->value [160], 16);                       //  recent 1
    assert_true (wp_get_u64 (pair->value) == 2);
    assert_true (wp_get_u64 (pair->value + 8) == T0 + 1000);
    assert_true (wp_get_u64 (pair->value + 16) == T0 + 3000);
    assert_close (wp_get_f64 (pair->value + 24), 2000, 0);
    assert_close (wp_get_f64 (pair->value + 32), 0, 0);
    double tau = 3600000.0 / M_LN2;
    assert_close (wp_get_f64 (pair->value + 40), 1 + exp (-2000 / tau), 1e-12);
    assert_true (wp_get_u64 (pair->value + 48) == T0 + 3000);
    name = s_record_name ("models", "m", 1);
    record_t *model = (record_t *) zhashx_lookup (store.records, name);
    free (name);
    assert_non_null (model);
    assert_int_equal (model->value_len, 50);
    assert_int_equal (model->value [16], 3);
    assert_true (wp_get_u64 (model->value + 40) == 1ULL << bin);
    assert_true (wp_get_u64 (model->value) == 2);
    assert_true (wp_get_u64 (model->value + 8) == T0 + 3000);
    //  Clean now; a change makes the pair and its model dirty again.
    assert_int_equal (wp_analyzer_drain (self, s_store_fn, &store), 0);
    wp_analyzer_observe (self, 9, "n", T0 + 4000);
    assert_int_equal (wp_analyzer_drain (self, s_store_fn, &store), 2);
    assert_int_equal (wp_analyzer_drain (self, s_store_fn, &store), 0);
    s_store_fini (&store);
    wp_analyzer_destroy (&self);
}

//  A callback that fails stops the drain; what it refused stays dirty.
static void
test_drain_stops_on_failure (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    wp_analyzer_observe (self, 1, "a", T0);
    wp_analyzer_observe (self, 2, "b", T0);
    //  4 records: two pairs, two models. The third call fails.
    store_t store;
    s_store_init (&store);
    store.fail_at = 3;
    assert_int_equal (wp_analyzer_drain (self, s_store_fn, &store), -1);
    assert_int_equal (store.puts, 2);
    store.fail_at = 0;
    assert_int_equal (wp_analyzer_drain (self, s_store_fn, &store), 2);
    assert_int_equal (store.puts, 4);
    assert_int_equal (zhashx_size (store.records), 4);
    assert_int_equal (wp_analyzer_drain (self, s_store_fn, &store), 0);

    //  A failing delete stays queued too.
    wp_analyzer_opts_t opts = { .max_user_models = 1 };
    wp_analyzer_t *small = wp_analyzer_new (&opts);
    wp_analyzer_observe (small, 1, "a", T0);
    wp_analyzer_observe (small, 1, "b", T0 + 1);   //  evicts (1, a)
    store.calls = 0;
    store.fail_at = 1;
    store.deletes = 0;
    assert_int_equal (wp_analyzer_drain (small, s_store_fn, &store), -1);
    assert_int_equal (store.deletes, 0);
    store.fail_at = 0;
    //  delete (1, a), pair (1, b), models a and b
    assert_int_equal (wp_analyzer_drain (small, s_store_fn, &store), 4);
    assert_int_equal (store.deletes, 1);
    s_store_fini (&store);
    wp_analyzer_destroy (&small);
    wp_analyzer_destroy (&self);
}

//  Drain (repeatedly, with evictions in between) then load into a fresh
//  analyzer: every pair, model count and user order comes back.
static void
test_round_trip (void **state)
{
    wp_analyzer_opts_t opts = { .max_pairs = 500, .max_user_models = 4 };
    wp_analyzer_t *self = wp_analyzer_new (&opts);
    store_t store;
    s_store_init (&store);
    uint64_t seed = 12345;
    char models [10][8];
    for (int m = 0; m < 10; m++)
        snprintf (models [m], sizeof models [m], "mod-%d", m);
    for (int i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t user = (seed >> 33) % 300;
        int model = (int) ((seed >> 17) % 10);
        wp_analyzer_observe (self, user * 7919 + 1, models [model], T0 + (uint64_t) i * 10);
        if (i % 997 == 0)
            assert_true (wp_analyzer_drain (self, s_store_fn, &store) >= 0);
    }
    assert_true (wp_analyzer_evicted (self) > 0);
    assert_true (wp_analyzer_drain (self, s_store_fn, &store) >= 0);
    //  The store holds exactly the live pairs and every model.
    assert_int_equal (zhashx_size (store.records), wp_analyzer_pairs (self) + 10);

    wp_analyzer_t *copy = wp_analyzer_new (&opts);
    s_store_load (&store, copy);
    assert_int_equal (wp_analyzer_pairs (copy), wp_analyzer_pairs (self));
    assert_int_equal (wp_analyzer_users (copy), wp_analyzer_users (self));
    assert_int_equal (wp_analyzer_models (copy), 10);
    assert_int_equal (wp_analyzer_evicted (copy), 0);
    uint64_t now = T0 + 20000 * 10 + 5000;
    for (int m = 0; m < 10; m++)
        assert_true (wp_analyzer_model_count (copy, models [m])
                     == wp_analyzer_model_count (self, models [m]));
    for (uint64_t user = 0; user < 300; user++) {
        wp_pattern_t one [8], two [8];
        size_t n = wp_analyzer_pattern (self, user * 7919 + 1, now, one, 8);
        assert_int_equal (wp_analyzer_pattern (copy, user * 7919 + 1, now, two, 8), n);
        for (size_t i = 0; i < n; i++) {
            assert_string_equal (one [i].model, two [i].model);
            assert_true (one [i].count == two [i].count);
            assert_true (one [i].first_ms == two [i].first_ms);
            assert_true (one [i].last_ms == two [i].last_ms);
            assert_true (one [i].gap_mean_ms == two [i].gap_mean_ms);
            assert_true (one [i].gap_std_ms == two [i].gap_std_ms);
            assert_true (one [i].rate_per_h == two [i].rate_per_h);
            assert_true (one [i].model_count == two [i].model_count);
        }
    }
    //  Loaded records are clean: nothing to drain.
    store_t again;
    s_store_init (&again);
    assert_int_equal (wp_analyzer_drain (copy, s_store_fn, &again), 0);
    s_store_fini (&again);
    wp_analyzer_destroy (&copy);
    s_store_fini (&store);
    wp_analyzer_destroy (&self);
}

//  Records that do not parse are refused, and create nothing.
static void
test_load_rejects (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    uint8_t key [8 + 256 + 1];
    wp_put_u64 (key, 42);
    memcpy (key + 8, "model", 5);
    uint8_t value [64];
    memset (value, 0, sizeof value);
    wp_put_u64 (value, 3);              //  count
    wp_put_u64 (value + 8, T0);         //  first
    wp_put_u64 (value + 16, T0 + 2000); //  last
    wp_put_f64 (value + 24, 1000);      //  gap mean
    wp_put_f64 (value + 32, 0);         //  gap M2
    wp_put_f64 (value + 40, 2.5);       //  decayed
    wp_put_u64 (value + 48, T0 + 2000); //  decayed at

    //  Wrong sizes, short or long keys, unknown database.
    assert_int_equal (wp_analyzer_load (self, "pairs", key, 13, value, 55), -1);
    assert_int_equal (wp_analyzer_load (self, "pairs", key, 13, value, 57), -1);
    assert_int_equal (wp_analyzer_load (self, "pairs", key, 8, value, 56), -1);
    assert_int_equal (wp_analyzer_load (self, "pairs", key, 7, value, 56), -1);
    memset (key + 8, 'x', 256);
    assert_int_equal (wp_analyzer_load (self, "pairs", key, 8 + 256, value, 56), -1);
    memcpy (key + 8, "model", 5);
    assert_int_equal (wp_analyzer_load (self, "other", key, 13, value, 56), -1);
    //  A NUL inside the model name.
    key [10] = 0;
    assert_int_equal (wp_analyzer_load (self, "pairs", key, 13, value, 56), -1);
    memcpy (key + 8, "model", 5);
    //  Values that cannot be: count 0, NaN, infinite, negative.
    uint8_t bad [64];
    memcpy (bad, value, 56);
    wp_put_u64 (bad, 0);
    assert_int_equal (wp_analyzer_load (self, "pairs", key, 13, bad, 56), -1);
    const size_t offsets [3] = { 24, 32, 40 };
    const double wrong [3] = { NAN, INFINITY, -1 };
    for (int o = 0; o < 3; o++)
        for (int w = 0; w < 3; w++) {
            memcpy (bad, value, 56);
            wp_put_f64 (bad + offsets [o], wrong [w]);
            assert_int_equal (wp_analyzer_load (self, "pairs", key, 13, bad, 56), -1);
        }
    //  Models: wrong size, empty or long name, NUL inside.
    assert_int_equal (wp_analyzer_load (self, "models", "model", 5, value, 15), -1);
    assert_int_equal (wp_analyzer_load (self, "models", "model", 5, value, 17), -1);
    assert_int_equal (wp_analyzer_load (self, "models", "model", 0, value, 16), -1);
    char long_name [257];
    memset (long_name, 'y', 256);
    assert_int_equal (wp_analyzer_load (self, "models", long_name, 256, value, 16), -1);
    assert_int_equal (wp_analyzer_load (self, "models", "mo\0el", 5, value, 16), -1);
    //  Nothing was created.
    assert_int_equal (wp_analyzer_pairs (self), 0);
    assert_int_equal (wp_analyzer_users (self), 0);
    assert_int_equal (wp_analyzer_models (self), 0);

    //  The good record loads, and reads back as written: mean 1000,
    //  rate 2.5 / tau at its decayed-at time.
    assert_int_equal (wp_analyzer_load (self, "pairs", key, 13, value, 56), 0);
    wp_pattern_t p;
    assert_true (wp_analyzer_pair (self, 42, "model", T0 + 2000, &p));
    assert_true (p.count == 3 && p.first_ms == T0 && p.last_ms == T0 + 2000);
    assert_close (p.gap_mean_ms, 1000, 0);
    assert_close (p.gap_std_ms, 0, 0);
    assert_close (p.rate_per_h, 2.5 * M_LN2, 1e-12);
    //  A model name of 255 bytes is the longest accepted.
    memset (long_name, 'y', 255);
    assert_int_equal (wp_analyzer_load (self, "models", long_name, 255, value, 16), 0);
    assert_int_equal (wp_analyzer_models (self), 2);
    wp_analyzer_destroy (&self);
}

//  Model names: 1..255 bytes.
static void
test_invalid_model_names (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    assert_int_equal (wp_analyzer_observe (self, 1, "", T0), -1);
    char name [300];
    memset (name, 'n', 256);
    name [256] = 0;
    assert_int_equal (wp_analyzer_observe (self, 1, name, T0), -1);
    assert_int_equal (wp_analyzer_pairs (self), 0);
    assert_int_equal (wp_analyzer_users (self), 0);
    assert_int_equal (wp_analyzer_models (self), 0);
    name [255] = 0;
    assert_int_equal (wp_analyzer_observe (self, 1, name, T0), 0);
    assert_int_equal (wp_analyzer_observe (self, 1, "x", T0), 0);
    assert_int_equal (wp_analyzer_pairs (self), 2);
    //  The 255-byte name makes a valid record key.
    store_t store;
    s_store_init (&store);
    assert_int_equal (wp_analyzer_drain (self, s_store_fn, &store), 4);
    wp_analyzer_t *copy = wp_analyzer_new (NULL);
    s_store_load (&store, copy);
    assert_int_equal (wp_analyzer_pairs (copy), 2);
    s_store_fini (&store);
    wp_analyzer_destroy (&copy);
    wp_analyzer_destroy (&self);
}

//  Memory held grows with the pairs (at least a record's worth each).
static void
test_state_bytes (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    size_t empty = wp_analyzer_state_bytes (self);
    assert_true (empty > 0);
    size_t last = empty;
    uint64_t n = 0;
    const uint64_t steps [] = { 10, 100, 1000, 10000 };
    for (int s = 0; s < 4; s++) {
        for (; n < steps [s]; n++)
            wp_analyzer_observe (self, n, "m", T0 + n);
        size_t bytes = wp_analyzer_state_bytes (self);
        assert_true (bytes > last);
        last = bytes;
    }
    assert_true (last >= empty + 10000 * 56);
    //  A first idle time stores its bin (the histogram is sparse) ...
    for (uint64_t i = 0; i < 10000; i++)
        wp_analyzer_observe (self, i, "m", T0 + 20000 + i);
    last = wp_analyzer_state_bytes (self);
    //  ... and another in the same bin does not grow it.
    for (uint64_t i = 0; i < 10000; i++)
        wp_analyzer_observe (self, i, "m", T0 + 40000 + i);
    assert_int_equal (wp_analyzer_state_bytes (self), last);
    wp_analyzer_destroy (&self);
}

//  With a names table shared with other cores (holding another name and
//  these in another order), an analyzer learns the same as with its own:
//  the same patterns (but the ids) and records, which load back; its
//  models are those it saw; the table is not in its bytes.
static void
test_shared_names (void **state)
{
    const char *models [4] = { "a", "b", "c", "unused" };
    wp_names_t *names = wp_names_new ();
    assert_non_null (names);
    assert_int_equal (wp_names_add (names, "other"), 0);
    for (int i = 3; i >= 0; i--)
        wp_names_add (names, models [i]);
    wp_analyzer_opts_t opts = { .names = names };
    wp_analyzer_t *shared = wp_analyzer_new (&opts);
    wp_analyzer_t *own = wp_analyzer_new (NULL);
    uint64_t rng = 1;
    for (int i = 0; i < 3000; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t user = (rng >> 33) % 7;
        const char *model = models [(rng >> 40) % 3];
        uint64_t t = T0 + (uint64_t) i * 7000 + (rng >> 50) % 5000;
        assert_int_equal (wp_analyzer_observe (own, user, model, t), 0);
        assert_int_equal (wp_analyzer_observe (shared, user, model, t), 0);
    }
    assert_int_equal (wp_analyzer_models (shared), 3);
    assert_int_equal (wp_analyzer_model_count (shared, "other"), 0);
    assert_int_equal (wp_analyzer_model_count (shared, "unused"), 0);
    size_t links = 0;
    for (uint64_t user = 0; user < 7; user++) {
        wp_pattern_t a [4], b [4];
        size_t n = wp_analyzer_pattern (own, user, T0 + 30000000, a, 4);
        assert_int_equal (wp_analyzer_pattern (shared, user, T0 + 30000000, b, 4), n);
        for (size_t k = 0; k < n; k++) {
            assert_string_equal (a [k].model, b [k].model);
            assert_true (a [k].count == b [k].count && a [k].rate_per_h == b [k].rate_per_h);
            assert_memory_equal (a [k].hist_buf, b [k].hist_buf, sizeof a [k].hist_buf);
            assert_memory_equal (a [k].recent, b [k].recent, sizeof a [k].recent);
            assert_int_equal (a [k].n_next, b [k].n_next);
            assert_int_equal (a [k].n_couse, b [k].n_couse);
            for (uint8_t l = 0; l < a [k].n_next; l++) {
                assert_string_equal (a [k].next [l].model, b [k].next [l].model);
                assert_true (a [k].next [l].weight == b [k].next [l].weight);
            }
            links += a [k].n_next + a [k].n_couse;
        }
    }
    assert_true (links > 0);
    store_t mine, ours;
    s_store_init (&mine);
    s_store_init (&ours);
    assert_true (wp_analyzer_drain (own, s_store_fn, &mine) > 0);
    assert_int_equal (wp_analyzer_drain (shared, s_store_fn, &ours), mine.calls);
    for (record_t *r = (record_t *) zhashx_first (mine.records); r;
         r = (record_t *) zhashx_next (mine.records)) {
        char *name = s_record_name (r->db, r->key, r->key_len);
        record_t *other = (record_t *) zhashx_lookup (ours.records, name);
        free (name);
        assert_non_null (other);
        assert_int_equal (other->value_len, r->value_len);
        assert_memory_equal (other->value, r->value, r->value_len);
    }
    //  Its records load into another analyzer of the same table.
    wp_analyzer_t *again = wp_analyzer_new (&opts);
    s_store_load (&ours, again);
    assert_int_equal (wp_analyzer_pairs (again), wp_analyzer_pairs (own));
    assert_int_equal (wp_analyzer_models (again), 3);
    assert_true (wp_analyzer_model_count (again, "b") == wp_analyzer_model_count (own, "b"));
    assert_true (wp_analyzer_state_bytes (shared) < wp_analyzer_state_bytes (own));
    s_store_fini (&mine);
    s_store_fini (&ours);
    wp_analyzer_destroy (&again);
    wp_analyzer_destroy (&shared);
    wp_analyzer_destroy (&own);
    assert_int_equal (wp_names_size (names), 5);
    wp_names_destroy (&names);
}

//  --------------------------------------------------------------------------
//  200000 requests of 5000 users for 20 models, max_pairs 10000 (and 16
//  models per user), checked against a plain reference: the count, first
//  and last of each live pair since it was (re)created, the model counts,
//  the bounds, evictions = creations - live pairs.

#define R_USERS 5000
#define R_MODELS 20
#define R_EVENTS 200000

typedef struct {
    uint32_t count;
    uint64_t first, last;
} ref_pair_t;

static uint64_t s_rng = 0x2545f4914f6cdd1dULL;

//  xorshift64*: a fixed sequence.
static uint64_t
s_random (void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 0x2545f4914f6cdd1dULL;
}

//  Distinct hashes for user numbers.
static uint64_t
s_user_hash (uint32_t user)
{
    return (uint64_t) user * 0x9e3779b97f4a7c15ULL + 17;
}

//  The randomized run itself.
static void
test_randomized_against_reference (void **state)
{
    wp_analyzer_opts_t opts = { .max_pairs = 10000 };
    wp_analyzer_t *self = wp_analyzer_new (&opts);
    ref_pair_t *ref = calloc ((size_t) R_USERS * R_MODELS, sizeof (ref_pair_t));
    assert_non_null (ref);
    uint64_t model_total [R_MODELS] = { 0 };
    char names [R_MODELS][16];
    for (int m = 0; m < R_MODELS; m++)
        snprintf (names [m], sizeof names [m], "model-%02d", m);
    uint64_t creations = 0;
    uint64_t now = T0;
    for (int i = 0; i < R_EVENTS; i++) {
        uint64_t r = s_random ();
        //  80% of requests from 500 hot users; models skewed to low ids.
        uint32_t user = (r % 100 < 80) ? (uint32_t) ((r >> 8) % 500)
                                       : (uint32_t) ((r >> 8) % R_USERS);
        uint32_t a = (uint32_t) ((r >> 32) % R_MODELS), b = (uint32_t) ((r >> 40) % R_MODELS);
        uint32_t model = a < b ? a : b;
        now += (r >> 48) % 1000;
        ref_pair_t *expect = &ref [(size_t) user * R_MODELS + model];
        wp_pattern_t p;
        if (!wp_analyzer_pair (self, s_user_hash (user), names [model], now, &p)) {
            expect->count = 0;
            expect->first = now;
            creations++;
        }
        assert_int_equal (wp_analyzer_observe (self, s_user_hash (user), names [model], now), 0);
        expect->count++;
        expect->last = now;
        model_total [model]++;
        if (i % 1000 == 0)
            assert_true (wp_analyzer_pairs (self) <= 10000);
    }
    assert_true (wp_analyzer_pairs (self) <= 10000);
    assert_true (wp_analyzer_evicted (self) > 0);

    size_t live = 0, users = 0;
    for (uint32_t user = 0; user < R_USERS; user++) {
        wp_pattern_t list [WP_ANALYZER_USER_MODELS_MAX];
        size_t n = wp_analyzer_pattern (self, s_user_hash (user), now, list,
                                        WP_ANALYZER_USER_MODELS_MAX);
        assert_true (n <= 16);
        users += n > 0;
        for (size_t i = 1; i < n; i++)
            assert_true (list [i - 1].last_ms >= list [i].last_ms);
        size_t present = 0;
        for (uint32_t model = 0; model < R_MODELS; model++) {
            wp_pattern_t p;
            if (!wp_analyzer_pair (self, s_user_hash (user), names [model], now, &p))
                continue;
            present++;
            const ref_pair_t *expect = &ref [(size_t) user * R_MODELS + model];
            assert_true (p.count == expect->count);
            assert_true (p.first_ms == expect->first);
            assert_true (p.last_ms == expect->last);
            assert_true (p.model_count == model_total [model]);
            if (p.count >= 2) {
                //  In-order events: the mean gap is the span over the gaps.
                double span = (double) (p.last_ms - p.first_ms) / (double) (p.count - 1);
                assert_close (p.gap_mean_ms, span, 1e-6 * (span + 1));
            }
        }
        assert_int_equal (present, n);
        live += present;
    }
    assert_int_equal (live, wp_analyzer_pairs (self));
    assert_int_equal (users, wp_analyzer_users (self));
    assert_true (creations - wp_analyzer_evicted (self) == live);
    assert_int_equal (wp_analyzer_models (self), R_MODELS);
    for (int m = 0; m < R_MODELS; m++)
        assert_true (wp_analyzer_model_count (self, names [m]) == model_total [m]);
    free (ref);
    wp_analyzer_destroy (&self);
}

//  Idle-time bins: [0, 1 s), quarter octaves to 512 s, half octaves to
//  2^17 s, then the rest; every edge starts its own bin.
static void
test_idle_bins (void **state)
{
    assert_int_equal (wp_idle_bin (0), 0);
    assert_int_equal (wp_idle_bin (999), 0);
    assert_int_equal (wp_idle_bin (1000), 1);
    assert_int_equal (wp_idle_bin (2000), 5);           //  one octave: 4 bins
    assert_int_equal (wp_idle_bin (512000), 37);
    assert_int_equal (wp_idle_bin (1024000), 39);       //  half octaves
    assert_int_equal (wp_idle_bin (131072000), WP_IDLE_BINS - 1);
    assert_int_equal (wp_idle_bin (UINT64_MAX / 2), WP_IDLE_BINS - 1);
    for (int i = 0; i < WP_IDLE_BINS; i++) {
        assert_int_equal (wp_idle_bin (wp_idle_edge (i)), i);
        if (i > 0)
            assert_int_equal (wp_idle_bin (wp_idle_edge (i) - 1), i - 1);
        assert_true (wp_idle_edge (i + 1) > wp_idle_edge (i));
    }
}

//  The histogram counts each idle time in its bin, aged by the half-life
//  (24 h): a gap one half-life after the previous weighs the old counts
//  half; the recent idle times keep the last few at 7/8 each.
static void
test_idle_histogram (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    wp_analyzer_observe (self, 1, "m", T0);
    wp_analyzer_observe (self, 1, "m", T0 + 10000);
    wp_analyzer_observe (self, 1, "m", T0 + 20000);
    wp_pattern_t p;
    assert_true (wp_analyzer_pair (self, 1, "m", T0 + 20000, &p));
    int ten = wp_idle_bin (10000);
    //  Counts hold a bin to 1/16384 of the largest (the total is exact)
    assert_close (p.hist [ten], 1 + exp (-10000.0 * M_LN2 / 86400000.0), 2.0 / 16384);
    assert_close (p.hist_total, 1 + exp (-10000.0 * M_LN2 / 86400000.0), 1e-6);
    assert_close (p.recent [ten], 1 + 7.0 / 8.0, 1.0 / 16);
    //  A day later: the old counts weigh half.
    uint64_t later = T0 + 20000 + 24 * HOUR;
    wp_analyzer_observe (self, 1, "m", later);
    assert_true (wp_analyzer_pair (self, 1, "m", later, &p));
    int day = wp_idle_bin (24 * HOUR);
    assert_close (p.hist [day], 1, 1.0 / 16384);
    assert_close (p.hist [ten], 0.5 * (1 + exp (-10000.0 * M_LN2 / 86400000.0)), 1e-4);
    //  Prior: a single user's own history is not their prior: the model
    //  has no other pairs, so the prior is all pairs' (here: the same
    //  user, through the global counts) and sums to 1.
    float prior [WP_IDLE_BINS];
    wp_analyzer_prior (self, 1, "m", prior);
    double sum = 0;
    for (int i = 0; i < WP_IDLE_BINS; i++)
        sum += prior [i];
    assert_close (sum, 1, 1e-5);
    wp_analyzer_destroy (&self);
}

//  The recent idle times are the last few: an idle time that is not
//  repeated fades to nothing (each older one keeps 7/8, rounded down;
//  a weight that stopped at 7/16 would keep every bin ever hit), and the
//  weights of one repeated idle time stay about 8 (1 / (1 - 7/8)).
static void
test_recent_fades (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    uint64_t t = T0;
    wp_analyzer_observe (self, 1, "m", t);
    t += 10000;
    wp_analyzer_observe (self, 1, "m", t);
    for (int i = 0; i < 40; i++) {
        t += 1000;
        wp_analyzer_observe (self, 1, "m", t);
    }
    wp_pattern_t p;
    assert_true (wp_analyzer_pair (self, 1, "m", t, &p));
    assert_true (p.hist [wp_idle_bin (10000)] > 0.9);     //  the long run keeps it
    assert_close (p.recent [wp_idle_bin (10000)], 0, 0);
    assert_true (p.recent [wp_idle_bin (1000)] > 7 && p.recent [wp_idle_bin (1000)] <= 8);
    assert_close (p.recent_total, p.recent [wp_idle_bin (1000)], 0);
    wp_analyzer_destroy (&self);
}

//  A new user of a model many use gets the model's idle times as prior.
static void
test_population_prior (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    for (uint64_t user = 1; user <= 10; user++)
        for (int i = 0; i < 20; i++)
            wp_analyzer_observe (self, user, "shared", T0 + (uint64_t) i * 120000 + user);
    wp_analyzer_observe (self, 99, "other", T0);
    wp_analyzer_observe (self, 99, "other", T0 + 5000);
    wp_analyzer_observe (self, 42, "shared", T0 + 3 * HOUR);
    wp_pattern_t p;
    assert_true (wp_analyzer_pair (self, 42, "shared", T0 + 3 * HOUR, &p));
    assert_close (p.hist_total, 0, 0);
    int two = wp_idle_bin (120000);
    float prior [WP_IDLE_BINS];
    wp_analyzer_prior (self, 42, "shared", prior);
    assert_true (prior [two] > 0.9);
    assert_true (prior [wp_idle_bin (5000)] < 0.05);
    //  A user the model never saw gets the same (no own idle times to take
    //  out); a model never seen, all pairs'.
    float stranger [WP_IDLE_BINS];
    wp_analyzer_prior (self, 1000, "shared", stranger);
    assert_memory_equal (prior, stranger, sizeof prior);
    wp_analyzer_prior (self, 1000, "unknown", stranger);
    assert_true (stranger [wp_idle_bin (5000)] > prior [wp_idle_bin (5000)]);
    wp_analyzer_destroy (&self);
}

//  Seasonality: requests at 09:00 make 09:00 above average, 03:00 below.
static void
test_seasonality (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    uint64_t day0 = (T0 / 86400000ULL) * 86400000ULL;
    for (int d = 0; d < 14; d++)
        wp_analyzer_observe (self, 1, "m", day0 + (uint64_t) d * 86400000ULL + 9 * HOUR);
    wp_pattern_t p;
    assert_true (wp_analyzer_pair (self, 1, "m", day0 + 14 * 86400000ULL + 9 * HOUR, &p));
    assert_true (p.season > 3);
    assert_true (wp_analyzer_pair (self, 1, "m", day0 + 14 * 86400000ULL + 3 * HOUR, &p));
    assert_true (p.season < 0.8);       //  (0 + 2) / (14 / 24 + 2): pseudo counts
    wp_analyzer_destroy (&self);
}

//  Rates and anomaly: a steady rate for a day reads near 0; a burst of
//  60 requests in a minute reads as a burst (z > 3).
static void
test_rate_anomaly (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    uint64_t t = T0;
    for (int i = 0; i < 24 * 12; i++, t += 300000)
        wp_analyzer_observe (self, 1, "m", t);
    wp_pattern_t p;
    assert_true (wp_analyzer_pair (self, 1, "m", t, &p));
    assert_true (fabs (p.anomaly) < 2);
    assert_true (p.rate_long_per_h > 5 && p.rate_long_per_h < 15);
    for (int i = 0; i < 60; i++)
        wp_analyzer_observe (self, 1, "m", t + (uint64_t) i * 1000);
    assert_true (wp_analyzer_pair (self, 1, "m", t + 60000, &p));
    assert_true (p.anomaly > 3);
    assert_true (p.rate_short_per_h > p.rate_long_per_h * 10);
    wp_analyzer_destroy (&self);
}

//  Transitions: A then B (twice), A then C once: after A, B leads the
//  "next" links with its mean delay; second order after (C, A) names B;
//  co-use links both ways within 5 minutes.
static void
test_transitions (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    uint64_t t = T0;
    const char *seq [] = { "C", "A", "B", "C", "A", "B", "X", "A", "C" };
    for (size_t i = 0; i < sizeof seq / sizeof seq [0]; i++, t += 30000)
        wp_analyzer_observe (self, 1, seq [i], t);
    //  Now the user's latest two are A then C; ask about A itself.
    wp_pattern_t p;
    assert_true (wp_analyzer_pair (self, 1, "A", t, &p));
    assert_int_equal (p.n_next, 2);
    double b = 0, c = 0;
    for (int i = 0; i < p.n_next; i++) {
        if (streq (p.next [i].model, "B")) {
            b = p.next [i].weight;
            assert_close (p.next [i].delay_ms, 30000, 1e-3);
        }
        if (streq (p.next [i].model, "C"))
            c = p.next [i].weight;
    }
    assert_true (b > c && c > 0);
    assert_true (p.n_couse >= 2);
    //  Second order: the pattern of the latest model gives the links
    //  after (previous, latest): (A, C) was never followed yet.
    wp_pattern_t out [8];
    size_t n = wp_analyzer_pattern (self, 1, t, out, 8);
    assert_true (n >= 4);
    assert_string_equal (out [0].model, "C");
    assert_int_equal (out [0].n_next2, 0);
    //  C then A again, and after (C, A) came B: the latest is A now.
    wp_analyzer_observe (self, 1, "A", t + 30000);
    n = wp_analyzer_pattern (self, 1, t + 30000, out, 8);
    assert_string_equal (out [0].model, "A");
    assert_int_equal (out [0].n_next2, 1);
    assert_string_equal (out [0].next2 [0].model, "B");
    wp_analyzer_destroy (&self);
}

//  A record of version 3 carries histograms and links across a restart
//  (links by model name) exactly; version 1 records still load, empty of
//  them.
static void
test_round_trip_v3 (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    uint64_t t = T0;
    for (int i = 0; i < 10; i++, t += 40000) {
        wp_analyzer_observe (self, 5, "A", t);
        wp_analyzer_observe (self, 5, "B", t + 20000);
    }
    store_t store;
    s_store_init (&store);
    assert_true (wp_analyzer_drain (self, s_store_fn, &store) > 0);
    wp_analyzer_t *copy = wp_analyzer_new (NULL);
    //  Models first, as the actor does.
    for (record_t *r = (record_t *) zhashx_first (store.records); r;
         r = (record_t *) zhashx_next (store.records))
        if (streq (r->db, "models"))
            assert_int_equal (wp_analyzer_load (copy, r->db, r->key, r->key_len,
                                                r->value, r->value_len), 0);
    for (record_t *r = (record_t *) zhashx_first (store.records); r;
         r = (record_t *) zhashx_next (store.records))
        if (streq (r->db, "pairs"))
            assert_int_equal (wp_analyzer_load (copy, r->db, r->key, r->key_len,
                                                r->value, r->value_len), 0);
    wp_pattern_t one, two;
    assert_true (wp_analyzer_pair (self, 5, "A", t, &one));
    assert_true (wp_analyzer_pair (copy, 5, "A", t, &two));
    assert_memory_equal (one.hist, two.hist, sizeof (float) * WP_IDLE_BINS);
    assert_memory_equal (one.recent, two.recent, sizeof one.recent);
    assert_close (one.season, two.season, 0);
    assert_close (one.rate_short_per_h, two.rate_short_per_h, 1e-9);
    assert_close (one.rate_long_per_h, two.rate_long_per_h, 1e-9);
    assert_int_equal (one.n_next, two.n_next);
    assert_string_equal (two.next [0].model, "B");
    assert_close (one.next [0].weight, two.next [0].weight, 0);
    assert_int_equal (one.n_couse, two.n_couse);
    float prior_one [WP_IDLE_BINS], prior_two [WP_IDLE_BINS];
    wp_analyzer_prior (self, 5, "A", prior_one);
    wp_analyzer_prior (copy, 5, "A", prior_two);
    for (int i = 0; i < WP_IDLE_BINS; i++)
        assert_close (prior_one [i], prior_two [i], 1e-6);
    //  A version 1 record (its first 56 bytes) loads, with empty stats.
    uint8_t key [9] = { 0, 0, 0, 0, 0, 0, 0, 6, 'A' };
    record_t *a = NULL;
    for (record_t *r = (record_t *) zhashx_first (store.records); r && !a;
         r = (record_t *) zhashx_next (store.records))
        if (streq (r->db, "pairs") && r->key_len == 9 && r->key [8] == 'A')
            a = r;
    assert_non_null (a);
    assert_int_equal (wp_analyzer_load (copy, "pairs", key, 9, a->value, 56), 0);
    assert_true (wp_analyzer_pair (copy, 6, "A", t, &two));
    assert_close (two.hist_total, 0, 0);
    assert_int_equal (two.n_next, 0);
    //  A version 3 record with a bad format byte, a NaN unit, a bin past
    //  the last, or a size that does not match its bins is refused.
    uint8_t bad [1024];
    memcpy (bad, a->value, a->value_len);
    bad [56] = 4;
    assert_int_equal (wp_analyzer_load (copy, "pairs", key, 9, bad, a->value_len), -1);
    memcpy (bad, a->value, a->value_len);
    wp_put_u32 (bad + 80, 0x7fc00000);
    assert_int_equal (wp_analyzer_load (copy, "pairs", key, 9, bad, a->value_len), -1);
    memcpy (bad, a->value, a->value_len);
    bad [88] |= 0x80;                           //  bin 63
    assert_int_equal (wp_analyzer_load (copy, "pairs", key, 9, bad, a->value_len), -1);
    memcpy (bad, a->value, a->value_len);
    assert_int_equal (wp_analyzer_load (copy, "pairs", key, 9, bad, a->value_len - 1), -1);
    assert_int_equal (wp_analyzer_load (copy, "pairs", key, 9, bad, a->value_len), 0);
    wp_analyzer_destroy (&copy);
    s_store_fini (&store);
    wp_analyzer_destroy (&self);
}

//  Load a store's records into an analyzer, models first (as the actor).
static void
s_store_load_ordered (store_t *store, wp_analyzer_t *analyzer)
{
    for (int pass = 0; pass < 2; pass++)
        for (record_t *r = (record_t *) zhashx_first (store->records); r;
             r = (record_t *) zhashx_next (store->records))
            if (streq (r->db, pass ? "pairs" : "models"))
                assert_int_equal (wp_analyzer_load (analyzer, r->db, r->key, r->key_len,
                                                    r->value, r->value_len), 0);
}

//  Two summaries of a pair are the same to the bit (but the second-order
//  links, given after the user's latest two models, which a record does
//  not keep: the records compare them).
static void
s_assert_same_pair (const wp_pattern_t *one, const wp_pattern_t *two)
{
    assert_true (one->count == two->count);
    assert_true (one->first_ms == two->first_ms && one->last_ms == two->last_ms);
    assert_memory_equal (&one->gap_mean_ms, &two->gap_mean_ms, sizeof (double));
    assert_memory_equal (&one->gap_std_ms, &two->gap_std_ms, sizeof (double));
    assert_memory_equal (&one->season, &two->season, sizeof (double));
    assert_memory_equal (&one->anomaly, &two->anomaly, sizeof (double));
    assert_memory_equal (one->hist, two->hist, sizeof (float) * WP_IDLE_BINS);
    assert_memory_equal (one->recent, two->recent, sizeof one->recent);
    assert_memory_equal (&one->hist_total, &two->hist_total, sizeof one->hist_total);
    assert_int_equal (one->n_next, two->n_next);
    assert_int_equal (one->n_couse, two->n_couse);
    for (int i = 0; i < one->n_next; i++) {
        assert_string_equal (one->next [i].model, two->next [i].model);
        assert_memory_equal (&one->next [i].weight, &two->next [i].weight, sizeof (float));
        assert_memory_equal (&one->next [i].delay_ms, &two->next [i].delay_ms,
                             sizeof (float));
    }
    for (int i = 0; i < one->n_couse; i++) {
        assert_string_equal (one->couse [i].model, two->couse [i].model);
        assert_memory_equal (&one->couse [i].weight, &two->couse [i].weight, sizeof (float));
    }
}

//  What a pair holds beside its fixed part (its links, each list as long
//  as it is used; the idle-time bins, hours and days it stored) comes
//  back from its record to the bit, over days of random use with every
//  list full and an hour's count halved; the records of the next event
//  are the same bytes.
static void
test_tail_round_trip (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    const char *models [] = { "m0", "m1", "m2", "m3", "m4", "m5", "m6" };
    uint64_t seed = 99, t = T0;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        t += (seed >> 40) % 120000;         //  up to 2 minutes apart: 9 days
        uint64_t user = 1 + (seed >> 20) % 40;
        wp_analyzer_observe (self, user, models [(seed >> 8) % 7], t);
    }
    //  A busy pair: 130,000 requests in under an hour, so that one hour
    //  (of at most two) and one day pass the largest count and halve
    for (int i = 0; i < 130000; i++)
        wp_analyzer_observe (self, 1, "m0", t + (uint64_t) i * 25);
    t += 130000 * 25;
    store_t store;
    s_store_init (&store);
    assert_true (wp_analyzer_drain (self, s_store_fn, &store) > 0);
    wp_analyzer_t *copy = wp_analyzer_new (NULL);
    s_store_load_ordered (&store, copy);
    assert_int_equal (wp_analyzer_pairs (copy), wp_analyzer_pairs (self));
    int full = 0;
    for (uint64_t user = 1; user <= 40; user++)
        for (int m = 0; m < 7; m++) {
            wp_pattern_t one, two;
            bool known = wp_analyzer_pair (self, user, models [m], t + 1000, &one);
            assert_true (known == wp_analyzer_pair (copy, user, models [m], t + 1000, &two));
            if (!known)
                continue;
            s_assert_same_pair (&one, &two);
            full += one.n_next == WP_ANALYZER_LINKS && one.n_couse == WP_ANALYZER_LINKS;
        }
    assert_true (full > 40);
    //  The next event of each user, on both, over an hour later (no link
    //  learned: a record does not keep the user's latest models): the
    //  same records
    store_t after_self, after_copy;
    s_store_init (&after_self);
    s_store_init (&after_copy);
    for (uint64_t user = 1; user <= 40; user++) {
        wp_analyzer_observe (self, user, models [user % 7], t + 2 * HOUR);
        wp_analyzer_observe (copy, user, models [user % 7], t + 2 * HOUR);
    }
    assert_true (wp_analyzer_drain (self, s_store_fn, &after_self) > 0);
    assert_true (wp_analyzer_drain (copy, s_store_fn, &after_copy) > 0);
    assert_int_equal (zhashx_size (after_self.records), zhashx_size (after_copy.records));
    for (record_t *r = (record_t *) zhashx_first (after_self.records); r;
         r = (record_t *) zhashx_next (after_self.records)) {
        record_t *other = (record_t *) zhashx_lookup (after_copy.records,
                                                      zhashx_cursor (after_self.records));
        assert_non_null (other);
        assert_int_equal (r->value_len, other->value_len);
        assert_memory_equal (r->value, other->value, r->value_len);
    }
    s_store_fini (&after_copy);
    s_store_fini (&after_self);
    wp_analyzer_destroy (&copy);
    s_store_fini (&store);
    wp_analyzer_destroy (&self);
}

//  A pair's links hold memory as they are used: users who asked A then B
//  a second apart (a next link and co-use both ways) hold little more
//  than users who asked them two hours apart (no link), not a block for
//  every kind of link.
static void
test_links_memory (void **state)
{
    wp_analyzer_t *apart = wp_analyzer_new (NULL);
    wp_analyzer_t *linked = wp_analyzer_new (NULL);
    for (uint64_t user = 1; user <= 1000; user++) {
        wp_analyzer_observe (apart, user, "A", T0);
        wp_analyzer_observe (apart, user, "B", T0 + 2 * HOUR);
        wp_analyzer_observe (linked, user, "A", T0 + 2 * HOUR - 1000);
        wp_analyzer_observe (linked, user, "B", T0 + 2 * HOUR);
    }
    wp_pattern_t p;
    assert_true (wp_analyzer_pair (linked, 7, "A", T0 + 2 * HOUR, &p));
    assert_int_equal (p.n_next, 1);
    assert_int_equal (p.n_couse, 1);
    assert_true (wp_analyzer_pair (apart, 7, "A", T0 + 2 * HOUR, &p));
    assert_int_equal (p.n_next, 0);
    size_t without = wp_analyzer_state_bytes (apart);
    size_t with = wp_analyzer_state_bytes (linked);
    assert_true (with <= without + 1000 * 64);
    wp_analyzer_destroy (&linked);
    wp_analyzer_destroy (&apart);
}

//  Version 2 records (dense float histograms, 604 and 248 bytes) still
//  load: their values become counts, to 1/16384 of the largest bin.
static void
test_load_v2 (void **state)
{
    float hist [WP_IDLE_BINS] = { 0 };
    hist [3] = 0.001f;
    hist [20] = 12.5f;
    hist [40] = 3.25f;
    float total = 15.751f;
    uint8_t model [248];
    memset (model, 0, sizeof model);
    wp_put_u64 (model, 40);
    wp_put_u64 (model + 8, T0);
    model [16] = 2;
    uint32_t bits;
    memcpy (&bits, &total, 4);
    wp_put_u32 (model + 20, bits);
    for (int i = 0; i < WP_IDLE_BINS; i++) {
        memcpy (&bits, &hist [i], 4);
        wp_put_u32 (model + 24 + 4 * i, bits);
    }
    wp_put_u64 (model + 240, T0);
    uint8_t pair [604];
    memset (pair, 0, sizeof pair);
    wp_put_u64 (pair, 20);
    wp_put_u64 (pair + 8, T0 - HOUR);
    wp_put_u64 (pair + 16, T0);
    wp_put_f64 (pair + 24, 1000);
    wp_put_u64 (pair + 48, T0);
    pair [56] = 2;
    memcpy (pair + 76, model + 20, 4 + 4 * WP_IDLE_BINS);
    pair [550 + 20] = 100;                      //  recent weights
    pair [550 + 30] = 7;                        //  (bin 30: no count)

    wp_analyzer_t *self = wp_analyzer_new (NULL);
    assert_int_equal (wp_analyzer_load (self, "models", "m", 1, model, sizeof model), 0);
    uint8_t key [9] = { 0, 0, 0, 0, 0, 0, 0, 1, 'm' };
    assert_int_equal (wp_analyzer_load (self, "pairs", key, 9, pair, sizeof pair), 0);
    wp_pattern_t p;
    assert_true (wp_analyzer_pair (self, 1, "m", T0, &p));
    for (int i = 0; i < WP_IDLE_BINS; i++)
        assert_close (p.hist [i], hist [i], 12.5 / 16384);
    assert_close (p.hist_total, total, 0);
    assert_close (p.recent [20], 100.0 / 16, 0);
    assert_close (p.recent [30], 7.0 / 16, 0);
    //  The model's counts, through the prior of a user who has none of
    //  their own: the model's idle times and all pairs' (rebuilt from the
    //  models: the same) weigh the same, so the prior is the model's share.
    float prior [WP_IDLE_BINS];
    wp_analyzer_prior (self, 2, "m", prior);
    double sum = 0;
    for (int i = 0; i < WP_IDLE_BINS; i++)
        sum += hist [i];
    for (int i = 0; i < WP_IDLE_BINS; i++)
        assert_close (prior [i] * sum, hist [i], 1e-3 * sum);
    //  A v2 record with a bad format byte or a NaN bin is refused
    pair [56] = 3;
    assert_int_equal (wp_analyzer_load (self, "pairs", key, 9, pair, sizeof pair), -1);
    pair [56] = 2;
    wp_put_u32 (pair + 80, 0x7fc00000);
    assert_int_equal (wp_analyzer_load (self, "pairs", key, 9, pair, sizeof pair), -1);
    wp_analyzer_destroy (&self);
}

//  The counts against the float ageing they stand for: one bin fed
//  100000 idle times at 0.5 s (busy: each idle time is about a count
//  once the bin is large) and a second bin fed now and then stay within
//  a count or two (1/16384 of the largest bin each) of the float values
//  the analyzer kept before.
static void
test_counts_precision (void **state)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    double tau = 86400000.0 / M_LN2;
    double busy = 0, rare = 0;
    float busy_f = 0, rare_f = 0;       //  as the float counts were
    uint64_t t = T0, last = T0;
    wp_analyzer_observe (self, 1, "m", t);
    int fast_bin = wp_idle_bin (500), slow_bin = wp_idle_bin (60000);
    for (int i = 1; i <= 100000; i++) {
        uint64_t gap = i % 1000 == 0 ? 60000 : 500;
        t += gap;
        double keep = exp (-(double) (t - last) / tau);
        busy *= keep;
        rare *= keep;
        busy_f *= (float) keep;
        rare_f *= (float) keep;
        if (gap == 500) {
            busy += 1;
            busy_f += 1.0f;
        }
        else {
            rare += 1;
            rare_f += 1.0f;
        }
        last = t;
        wp_analyzer_observe (self, 1, "m", t);
    }
    wp_pattern_t p;
    assert_true (wp_analyzer_pair (self, 1, "m", t, &p));
    assert_true (busy > 10000);      //  a bin far past 65535 counts of 2^-14
    //  Against the float counts the analyzer kept before (their ageing
    //  rounds too: they are 4e-4 above the exact value here)
    assert_close (p.hist [fast_bin], busy_f, busy / 8192);
    assert_close (p.hist [slow_bin], rare_f, busy / 8192);
    assert_close (p.hist [fast_bin], busy, busy * 1e-3);
    assert_close (p.hist_total, busy_f + rare_f, (busy + rare) * 1e-4);
    wp_analyzer_destroy (&self);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_idle_bins),
        cmocka_unit_test (test_idle_histogram),
        cmocka_unit_test (test_recent_fades),
        cmocka_unit_test (test_population_prior),
        cmocka_unit_test (test_seasonality),
        cmocka_unit_test (test_rate_anomaly),
        cmocka_unit_test (test_transitions),
        cmocka_unit_test (test_round_trip_v3),
        cmocka_unit_test (test_tail_round_trip),
        cmocka_unit_test (test_links_memory),
        cmocka_unit_test (test_load_v2),
        cmocka_unit_test (test_counts_precision),
        cmocka_unit_test (test_known_sequence),
        cmocka_unit_test (test_out_of_order),
        cmocka_unit_test (test_late_event_before_first),
        cmocka_unit_test (test_rate_half_life),
        cmocka_unit_test (test_rate_steady_state),
        cmocka_unit_test (test_late_event_rate),
        cmocka_unit_test (test_pattern_order),
        cmocka_unit_test (test_user_models_bound),
        cmocka_unit_test (test_max_pairs_bound),
        cmocka_unit_test (test_drain_layout),
        cmocka_unit_test (test_drain_stops_on_failure),
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_load_rejects),
        cmocka_unit_test (test_invalid_model_names),
        cmocka_unit_test (test_state_bytes),
        cmocka_unit_test (test_shared_names),
        cmocka_unit_test (test_randomized_against_reference),
        cmocka_unit_test (test_drain_recent),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
