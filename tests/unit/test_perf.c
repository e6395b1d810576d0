/*  =========================================================================
    test_perf - the performance predictor core: EMA, counts, quantiles
    against exact quantiles, the persistent record and its checks.
    =========================================================================
*/

#include "testutil.h"
#include "wp_perf.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Assert |actual - expected| <= tolerance, printing both on failure.
#define assert_close(actual, expected, tolerance) \
    s_assert_close ((actual), (expected), (tolerance), __FILE__, __LINE__)

static void
s_assert_close (double actual, double expected, double tolerance,
                const char *file, int line)
{
    if (!(fabs (actual - expected) <= tolerance)) {
        print_error ("%s:%d: %.9g is not %.9g +- %.3g\n", file, line,
                     actual, expected, tolerance);
        fail ();
    }
}

//  Assert two estimates are the same, field by field.
static void
s_assert_same (const wp_perf_estimate_t *one, const wp_perf_estimate_t *two)
{
    assert_true (one->samples == two->samples);
    assert_true (one->failures == two->failures);
    assert_close (one->ema_ms, two->ema_ms, 0);
    assert_close (one->p50_ms, two->p50_ms, 0);
    assert_close (one->p90_ms, two->p90_ms, 0);
    assert_close (one->p99_ms, two->p99_ms, 0);
    assert_int_equal (one->memory_mb, two->memory_mb);
}

//  Exact nearest-rank q-quantile of sorted[0..n-1], the definition wp_perf uses.
static double
s_exact (const uint32_t *sorted, size_t n, double q)
{
    double wanted = ceil (q * (double) n - 1e-9);
    size_t rank = wanted < 1 ? 1 : (size_t) wanted;
    if (rank > n)
        rank = n;
    return sorted [rank - 1];
}

static int
s_compare_u32 (const void *one, const void *two)
{
    uint32_t a = *(const uint32_t *) one, b = *(const uint32_t *) two;
    return a < b ? -1 : a > b;
}

//  Write a record field by field, big-endian: pins the documented layout.
typedef struct {
    uint8_t bytes [WP_PERF_RECORD_MAX + 16];
    size_t size;
} record_t;

static void
s_put (record_t *record, uint64_t value, int width)
{
    for (int index = width - 1; index >= 0; index--)
        record->bytes [record->size++] = (uint8_t) (value >> (8 * index));
}

static uint64_t
s_double_bits (double value)
{
    uint64_t bits;
    memcpy (&bits, &value, sizeof (bits));
    return bits;
}

//  A record header; the caller appends K pairs.
static void
s_header (record_t *record, uint64_t samples, uint64_t failures, double ema,
          uint32_t memory_mb, uint32_t min_ms, uint32_t max_ms, uint16_t pairs)
{
    record->size = 0;
    s_put (record, 1, 1);           // format
    s_put (record, 0, 1);           // reserved
    s_put (record, 387, 2);         // buckets
    s_put (record, samples, 8);
    s_put (record, failures, 8);
    s_put (record, s_double_bits (ema), 8);
    s_put (record, memory_mb, 4);
    s_put (record, min_ms, 4);
    s_put (record, max_ms, 4);
    s_put (record, pairs, 2);
}

static void
s_pair (record_t *record, uint16_t index, uint32_t count)
{
    s_put (record, index, 2);
    s_put (record, count, 4);
}

static void
test_new (void **state)
{
    assert_null (wp_perf_new (-0.1));
    assert_null (wp_perf_new (1.5));
    assert_null (wp_perf_new (NAN));
    wp_perf_t *perf = wp_perf_new (1);
    assert_non_null (perf);
    wp_perf_destroy (&perf);
    assert_null (perf);
    wp_perf_destroy (&perf);
}

static void
test_ema_and_counts (void **state)
{
    wp_perf_t *perf = wp_perf_new (0.5);
    assert_non_null (perf);
    wp_perf_estimate_t estimate;

    //  The first sample sets the EMA: 100; then 100 + 0.5 (200 - 100) = 150;
    //  then 150 + 0.5 (50 - 150) = 100
    assert_int_equal (wp_perf_observe (perf, "m", true, 100, 4000), 0);
    assert_int_equal (wp_perf_estimate (perf, "m", &estimate), 0);
    assert_close (estimate.ema_ms, 100, 0);
    assert_int_equal (wp_perf_observe (perf, "m", true, 200, 0), 0);
    assert_int_equal (wp_perf_estimate (perf, "m", &estimate), 0);
    assert_close (estimate.ema_ms, 150, 0);
    //  A failure moves only the failure count, whatever its duration
    assert_int_equal (wp_perf_observe (perf, "m", false, 99999, 1), 0);
    assert_int_equal (wp_perf_observe (perf, "m", true, 50, 4100), 0);
    assert_int_equal (wp_perf_estimate (perf, "m", &estimate), 0);
    assert_close (estimate.ema_ms, 100, 0);
    assert_int_equal (estimate.samples, 3);
    assert_int_equal (estimate.failures, 1);
    //  memory: the last non-zero value of a successful warmup
    assert_int_equal (estimate.memory_mb, 4100);
    //  Loads 50, 100, 200: p50 is rank 2, p90 and p99 rank 3
    assert_close (estimate.p50_ms, 100, 100 * WP_PERF_REL_ERROR);
    assert_close (estimate.p90_ms, 200, 200 * WP_PERF_REL_ERROR);
    assert_close (estimate.p99_ms, 200, 200 * WP_PERF_REL_ERROR);
    wp_perf_destroy (&perf);

    //  Default alpha 0.2: 100, then 120, then 120 - 24 = 96
    perf = wp_perf_new (0);
    assert_non_null (perf);
    wp_perf_observe (perf, "m", true, 100, 0);
    wp_perf_observe (perf, "m", true, 200, 0);
    wp_perf_estimate (perf, "m", &estimate);
    assert_close (estimate.ema_ms, 120, 1e-9);
    wp_perf_observe (perf, "m", true, 0, 0);
    wp_perf_estimate (perf, "m", &estimate);
    assert_close (estimate.ema_ms, 96, 1e-9);
    assert_int_equal (estimate.memory_mb, 0);

    //  Only failures: known, but no load statistics
    assert_int_equal (wp_perf_observe (perf, "broken", false, 10, 0), 0);
    assert_int_equal (wp_perf_observe (perf, "broken", false, 10, 0), 0);
    assert_int_equal (wp_perf_estimate (perf, "broken", &estimate), 0);
    assert_int_equal (estimate.samples, 0);
    assert_int_equal (estimate.failures, 2);
    assert_close (estimate.ema_ms, 0, 0);
    assert_close (estimate.p90_ms, 0, 0);
    assert_close (wp_perf_expected_load_ms (perf, "broken", 30000), 30000, 0);
    assert_close (wp_perf_quantile_ms (perf, "broken", 0.5), 0, 0);

    //  Unknown model: -1 and a zeroed estimate
    memset (&estimate, 0xff, sizeof (estimate));
    assert_int_equal (wp_perf_estimate (perf, "nobody", &estimate), -1);
    assert_int_equal (estimate.samples, 0);
    assert_close (estimate.p99_ms, 0, 0);
    assert_int_equal (wp_perf_estimate (perf, NULL, &estimate), -1);
    assert_close (wp_perf_expected_load_ms (perf, "nobody", 1234.5), 1234.5, 0);
    assert_close (wp_perf_expected_load_ms (perf, NULL, 7), 7, 0);
    assert_close (wp_perf_quantile_ms (perf, "nobody", 0.5), 0, 0);
    assert_int_equal (wp_perf_size (perf), 2);
    wp_perf_destroy (&perf);
}

static void
test_quantiles_small (void **state)
{
    wp_perf_t *perf = wp_perf_new (0);
    assert_non_null (perf);
    //  Loads 100, 200, ..., 1000: p50 = rank 5 = 500, p90 = rank 9 = 900,
    //  p99 = rank ceil (9.9) = 10 = 1000 (the largest load: exact)
    for (uint32_t load = 1000; load >= 100; load -= 100)
        assert_int_equal (wp_perf_observe (perf, "ten", true, load, 0), 0);
    wp_perf_estimate_t estimate;
    assert_int_equal (wp_perf_estimate (perf, "ten", &estimate), 0);
    assert_close (estimate.p50_ms, 500, 500 * WP_PERF_REL_ERROR);
    assert_close (estimate.p90_ms, 900, 900 * WP_PERF_REL_ERROR);
    assert_close (estimate.p99_ms, 1000, 1000 * WP_PERF_REL_ERROR);
    assert_close (wp_perf_quantile_ms (perf, "ten", 0), 100, 0);     // the min
    assert_close (wp_perf_quantile_ms (perf, "ten", 1), 1000, 0);    // the max
    assert_close (wp_perf_quantile_ms (perf, "ten", -3), 100, 0);
    assert_close (wp_perf_quantile_ms (perf, "ten", 7), 1000, 0);
    assert_close (wp_perf_quantile_ms (perf, "ten", NAN), 100, 0);
    assert_close (wp_perf_expected_load_ms (perf, "ten", 5), estimate.p90_ms, 0);

    //  One sample: every quantile is that sample exactly
    wp_perf_observe (perf, "one", true, 1234, 0);
    assert_int_equal (wp_perf_estimate (perf, "one", &estimate), 0);
    assert_close (estimate.p50_ms, 1234, 0);
    assert_close (estimate.p99_ms, 1234, 0);

    //  Zero and sub-millisecond loads: within 1 ms
    wp_perf_observe (perf, "zero", true, 0, 0);
    wp_perf_observe (perf, "zero", true, 0, 0);
    wp_perf_observe (perf, "zero", true, 3, 0);
    assert_int_equal (wp_perf_estimate (perf, "zero", &estimate), 0);
    assert_close (estimate.p50_ms, 0, 1);
    assert_close (estimate.p99_ms, 3, 3 * WP_PERF_REL_ERROR);

    //  Above one hour: the longest load seen, an upper bound
    wp_perf_observe (perf, "slow", true, 4000000, 0);
    wp_perf_observe (perf, "slow", true, 5000000, 0);
    wp_perf_observe (perf, "slow", true, UINT32_MAX, 0);
    assert_int_equal (wp_perf_estimate (perf, "slow", &estimate), 0);
    assert_close (estimate.p50_ms, UINT32_MAX, 0);
    assert_close (wp_perf_quantile_ms (perf, "slow", 0), 4000000, 0);
    wp_perf_destroy (&perf);
}

static void
test_quantiles_error_bound (void **state)
{
    wp_perf_t *perf = wp_perf_new (0);
    assert_non_null (perf);
    double qs [] = { 0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1 };
    size_t nqs = sizeof (qs) / sizeof (qs [0]);

    //  Every load from 1 ms to 20 s, in a scrambled order
    size_t n = 20000;
    uint32_t *loads = malloc (n * sizeof (uint32_t));
    assert_non_null (loads);
    for (size_t index = 0; index < n; index++) {
        uint32_t load = (uint32_t) ((index * 7919) % n) + 1;
        loads [index] = load;
        assert_int_equal (wp_perf_observe (perf, "linear", true, load, 0), 0);
    }
    qsort (loads, n, sizeof (uint32_t), s_compare_u32);
    for (size_t index = 0; index < nqs; index++) {
        double exact = s_exact (loads, n, qs [index]);
        assert_close (wp_perf_quantile_ms (perf, "linear", qs [index]),
                      exact, exact * WP_PERF_REL_ERROR);
    }
    //  Every rank of a smaller set: 1 .. 1000 ms
    for (uint32_t load = 1; load <= 1000; load++)
        wp_perf_observe (perf, "each", true, load, 0);
    for (uint32_t rank = 1; rank <= 1000; rank++) {
        double estimate = wp_perf_quantile_ms (perf, "each", rank / 1000.0);
        assert_close (estimate, rank, rank * WP_PERF_REL_ERROR);
    }

    //  Log-uniform loads from 1 ms to 1 hour (a fixed pseudo-random set)
    uint32_t seed = 42;
    for (size_t index = 0; index < n; index++) {
        seed = seed * 1664525u + 1013904223u;
        double unit = (seed >> 8) / 16777216.0;
        loads [index] = (uint32_t) floor (exp (unit * log (3600000.0))) ;
        if (loads [index] < 1)
            loads [index] = 1;
        assert_int_equal (wp_perf_observe (perf, "log", true, loads [index], 0), 0);
    }
    qsort (loads, n, sizeof (uint32_t), s_compare_u32);
    double worst = 0;
    for (size_t index = 0; index < nqs; index++) {
        double exact = s_exact (loads, n, qs [index]);
        double estimate = wp_perf_quantile_ms (perf, "log", qs [index]);
        assert_close (estimate, exact, exact * WP_PERF_REL_ERROR);
        if (fabs (estimate - exact) / exact > worst)
            worst = fabs (estimate - exact) / exact;
    }
    //  The bound is not vacuous: the histogram does round
    assert_true (worst > 0.001);
    //  p50 / p90 / p99 in the estimate are the same quantiles
    wp_perf_estimate_t estimate;
    assert_int_equal (wp_perf_estimate (perf, "log", &estimate), 0);
    assert_int_equal (estimate.samples, n);
    assert_close (estimate.p50_ms, wp_perf_quantile_ms (perf, "log", 0.5), 0);
    assert_close (estimate.p90_ms, wp_perf_quantile_ms (perf, "log", 0.9), 0);
    assert_close (estimate.p99_ms, wp_perf_quantile_ms (perf, "log", 0.99), 0);
    free (loads);
    wp_perf_destroy (&perf);
}

static void
test_names_and_bounds (void **state)
{
    wp_perf_t *perf = wp_perf_new (0);
    assert_non_null (perf);
    char name [WP_PERF_NAME_MAX + 2];
    memset (name, 'n', sizeof (name) - 1);
    name [sizeof (name) - 1] = '\0';
    assert_int_equal (wp_perf_observe (perf, name, true, 1, 0), -1);
    name [WP_PERF_NAME_MAX] = '\0';
    assert_int_equal (wp_perf_observe (perf, name, true, 1, 0), 0);
    assert_int_equal (wp_perf_observe (perf, "", true, 1, 0), -1);
    assert_int_equal (wp_perf_observe (perf, NULL, true, 1, 0), -1);
    //  Names are copied
    strcpy (name, "copied");
    assert_int_equal (wp_perf_observe (perf, name, true, 1, 0), 0);
    strcpy (name, "other");
    wp_perf_estimate_t estimate;
    assert_int_equal (wp_perf_estimate (perf, "copied", &estimate), 0);
    assert_int_equal (wp_perf_estimate (perf, "other", &estimate), -1);
    wp_perf_destroy (&perf);

    perf = wp_perf_new (0);
    assert_non_null (perf);
    for (unsigned index = 0; index < WP_PERF_MAX_MODELS; index++) {
        snprintf (name, sizeof (name), "model-%u", index);
        assert_int_equal (wp_perf_observe (perf, name, true, index, 0), 0);
    }
    assert_int_equal (wp_perf_observe (perf, "one-too-many", true, 1, 0), -1);
    assert_int_equal (wp_perf_observe (perf, "model-9", false, 0, 0), 0);
    assert_int_equal (wp_perf_size (perf), WP_PERF_MAX_MODELS);
    wp_perf_destroy (&perf);
}

//  Collects what wp_perf_iterate visits.
typedef struct {
    wp_perf_t *perf;
    char names [8][16];
    uint64_t samples [8];
    int visited;
    int stop_after;
} visit_t;

static int
s_visit (const char *model, const wp_perf_estimate_t *estimate, void *arg)
{
    visit_t *visit = (visit_t *) arg;
    assert_true (visit->visited < 8);
    snprintf (visit->names [visit->visited], 16, "%s", model);
    visit->samples [visit->visited] = estimate->samples;
    visit->visited++;
    //  Changing the predictor from the callback is allowed
    wp_perf_observe (visit->perf, model, true, 10, 0);
    wp_perf_observe (visit->perf, "added-late", true, 10, 0);
    return visit->visited == visit->stop_after ? 7 : 0;
}

static void
test_iterate (void **state)
{
    wp_perf_t *perf = wp_perf_new (0);
    assert_non_null (perf);
    visit_t visit = { .perf = perf };
    assert_int_equal (wp_perf_iterate (perf, s_visit, &visit), 0);
    assert_int_equal (visit.visited, 0);

    wp_perf_observe (perf, "charlie", true, 10, 0);
    wp_perf_observe (perf, "alpha", true, 10, 0);
    wp_perf_observe (perf, "alpha", true, 10, 0);
    wp_perf_observe (perf, "bravo", false, 10, 0);
    assert_int_equal (wp_perf_iterate (perf, s_visit, &visit), 0);
    assert_int_equal (visit.visited, 3);
    assert_string_equal (visit.names [0], "alpha");
    assert_string_equal (visit.names [1], "bravo");
    assert_string_equal (visit.names [2], "charlie");
    assert_int_equal (visit.samples [0], 2);
    assert_int_equal (visit.samples [1], 0);
    assert_int_equal (visit.samples [2], 1);
    assert_int_equal (wp_perf_size (perf), 4);

    //  A non-zero return stops the walk and is returned
    memset (&visit, 0, sizeof (visit));
    visit.perf = perf;
    visit.stop_after = 2;
    assert_int_equal (wp_perf_iterate (perf, s_visit, &visit), 7);
    assert_int_equal (visit.visited, 2);
    assert_string_equal (visit.names [1], "alpha");
    wp_perf_destroy (&perf);
}

//  With a names table shared with other cores: its models are those it
//  learnt of (names others added are not), with the same answers and
//  records as with its own table; the table is not in its bytes.
static void
test_shared_names (void **state)
{
    wp_names_t *names = wp_names_new ();
    assert_non_null (names);
    assert_int_equal (wp_names_add (names, "other"), 0);
    assert_int_equal (wp_names_add (names, "bravo"), 1);
    wp_perf_t *perf = wp_perf_new_shared (0, names);
    wp_perf_t *own = wp_perf_new (0);
    assert_non_null (perf);
    const char *models [3] = { "charlie", "alpha", "bravo" };
    for (unsigned i = 0; i < 30; i++) {
        assert_int_equal (wp_perf_observe (perf, models [i % 3], i % 7, 100 + i * i, i), 0);
        assert_int_equal (wp_perf_observe (own, models [i % 3], i % 7, 100 + i * i, i), 0);
    }
    assert_int_equal (wp_names_find (names, "charlie"), 2);
    assert_int_equal (wp_perf_size (perf), 3);
    wp_perf_estimate_t estimate;
    assert_int_equal (wp_perf_estimate (perf, "other", &estimate), -1);
    uint8_t mine [WP_PERF_RECORD_MAX], ours [WP_PERF_RECORD_MAX];
    for (int i = 0; i < 3; i++) {
        int size = wp_perf_encode (own, models [i], mine, sizeof mine);
        assert_true (size > 0);
        assert_int_equal (wp_perf_encode (perf, models [i], ours, sizeof ours), size);
        assert_memory_equal (ours, mine, (size_t) size);
    }
    visit_t visit = { .perf = perf, .stop_after = 2 };
    assert_int_equal (wp_perf_iterate (perf, s_visit, &visit), 7);
    assert_string_equal (visit.names [0], "alpha");
    assert_string_equal (visit.names [1], "bravo");
    //  A record of a model it did not know (named in the table) makes it one.
    assert_int_equal (wp_perf_decode (perf, "other", mine, (size_t) wp_perf_encode
                                      (own, "alpha", mine, sizeof mine)), 0);
    assert_int_equal (wp_perf_size (perf), 5);     //  and added-late, by s_visit
    assert_int_equal (wp_perf_estimate (perf, "other", &estimate), 0);
    assert_true (wp_perf_state_bytes (perf) < wp_perf_state_bytes (own));
    wp_perf_destroy (&perf);
    wp_perf_destroy (&own);
    assert_string_equal (wp_names_name (names, 2), "charlie");
    wp_names_destroy (&names);
}

static void
test_encode (void **state)
{
    wp_perf_t *perf = wp_perf_new (0);
    assert_non_null (perf);
    wp_perf_observe (perf, "m", true, 100, 512);
    wp_perf_observe (perf, "m", false, 0, 0);

    //  100 ms lies in bucket 118: 1.04^117 = 98.4 <= 100 < 1.04^118 = 102.3
    record_t expected;
    s_header (&expected, 1, 1, 100.0, 512, 100, 100, 1);
    s_pair (&expected, 118, 1);
    assert_int_equal (expected.size, 48);

    uint8_t buffer [WP_PERF_RECORD_MAX];
    assert_int_equal (wp_perf_encode (perf, "m", buffer, sizeof (buffer)), 48);
    assert_memory_equal (buffer, expected.bytes, 48);
    //  The first bytes, spelled out: format 1, reserved, 387 buckets, samples 1
    uint8_t start [] = { 1, 0, 0x01, 0x83, 0, 0, 0, 0, 0, 0, 0, 1 };
    assert_memory_equal (buffer, start, sizeof (start));
    //  Capacity: exactly enough, one short
    assert_int_equal (wp_perf_encode (perf, "m", buffer, 48), 48);
    assert_int_equal (wp_perf_encode (perf, "m", buffer, 47), -1);
    assert_int_equal (wp_perf_encode (perf, "nobody", buffer, sizeof (buffer)), -1);
    assert_int_equal (wp_perf_encode (perf, NULL, buffer, sizeof (buffer)), -1);

    //  Only failures: a header without pairs
    wp_perf_observe (perf, "f", false, 0, 0);
    s_header (&expected, 0, 1, 0, 0, 0, 0, 0);
    assert_int_equal (wp_perf_encode (perf, "f", buffer, sizeof (buffer)), 42);
    assert_memory_equal (buffer, expected.bytes, 42);
    wp_perf_destroy (&perf);
}

static void
test_round_trip (void **state)
{
    wp_perf_t *perf = wp_perf_new (0.3);
    wp_perf_t *copy = wp_perf_new (0.3);
    assert_non_null (perf);
    assert_non_null (copy);
    uint32_t seed = 7;
    for (int index = 0; index < 5000; index++) {
        seed = seed * 1664525u + 1013904223u;
        bool ok = (seed >> 28) != 0;
        wp_perf_observe (perf, "model", ok, (seed >> 12) % 600000, 100 + index % 7);
    }
    uint8_t buffer [WP_PERF_RECORD_MAX];
    int size = wp_perf_encode (perf, "model", buffer, sizeof (buffer));
    assert_true (size > 42 && size <= WP_PERF_RECORD_MAX);
    assert_int_equal (wp_perf_decode (copy, "model", buffer, (size_t) size), 0);

    wp_perf_estimate_t one, two;
    assert_int_equal (wp_perf_estimate (perf, "model", &one), 0);
    assert_int_equal (wp_perf_estimate (copy, "model", &two), 0);
    s_assert_same (&one, &two);
    for (double q = 0; q <= 1; q += 0.05)
        assert_close (wp_perf_quantile_ms (copy, "model", q),
                      wp_perf_quantile_ms (perf, "model", q), 0);
    //  Both go on learning the same way
    wp_perf_observe (perf, "model", true, 1000, 0);
    wp_perf_observe (copy, "model", true, 1000, 0);
    uint8_t again [WP_PERF_RECORD_MAX];
    size = wp_perf_encode (perf, "model", buffer, sizeof (buffer));
    assert_int_equal (wp_perf_encode (copy, "model", again, sizeof (again)), size);
    assert_memory_equal (buffer, again, (size_t) size);

    //  Decoding replaces what was there
    wp_perf_observe (copy, "other", true, 5, 1);
    assert_int_equal (wp_perf_decode (copy, "other", buffer, (size_t) size), 0);
    assert_int_equal (wp_perf_estimate (copy, "other", &two), 0);
    assert_int_equal (wp_perf_estimate (perf, "model", &one), 0);
    s_assert_same (&one, &two);

    //  The largest record: all 387 buckets, 0 ms up to beyond one hour
    record_t full;
    s_header (&full, 387, 0, 1000, 1, 0, 4000000, 387);
    for (uint16_t index = 0; index < 387; index++)
        s_pair (&full, index, 1);
    assert_int_equal (full.size, WP_PERF_RECORD_MAX);
    assert_int_equal (wp_perf_decode (copy, "full", full.bytes, full.size), 0);
    assert_int_equal (wp_perf_encode (copy, "full", again, sizeof (again)),
                      WP_PERF_RECORD_MAX);
    assert_memory_equal (again, full.bytes, WP_PERF_RECORD_MAX);

    //  Decode needs a good name and room
    assert_int_equal (wp_perf_decode (copy, "", buffer, (size_t) size), -1);
    assert_int_equal (wp_perf_decode (copy, NULL, buffer, (size_t) size), -1);
    wp_perf_destroy (&perf);
    wp_perf_destroy (&copy);
}

//  The histogram is held as a window of buckets, widened both ways: the
//  order of the loads changes nothing (estimates, records), and a model
//  whose loads fall in one bucket costs far less than the 387 counters.
static void
test_window (void **state)
{
    wp_perf_t *perf = wp_perf_new (1);
    assert_non_null (perf);
    size_t empty = wp_perf_state_bytes (perf);
    //  1000 models loading in one time each
    char name [32];
    for (int m = 0; m < 1000; m++) {
        snprintf (name, sizeof name, "model-%03d", m);
        for (int i = 0; i < 10; i++)
            assert_int_equal (wp_perf_observe (perf, name, true, 500 + 8 * (m % 100), 64), 0);
    }
    size_t per_model = (wp_perf_state_bytes (perf) - empty) / 1000;
    assert_true (per_model < 128);
    assert_true (per_model > 10);  //  the name and the statistics are counted

    //  The same loads up, down and shuffled: the same estimates, records
    const char *orders [3] = { "up", "down", "shuffled" };
    uint32_t values [200];
    for (int i = 0; i < 200; i++)
        values [i] = (uint32_t) (i * i * 37 + (i % 3));     //  0 ms .. 1.5 M ms
    for (int i = 0; i < 200; i++) {
        wp_perf_observe (perf, "up", true, values [i], 1);
        wp_perf_observe (perf, "down", true, values [199 - i], 1);
        wp_perf_observe (perf, "shuffled", true, values [(i * 71) % 200], 1);
    }
    uint8_t one [WP_PERF_RECORD_MAX], two [WP_PERF_RECORD_MAX];
    int size = wp_perf_encode (perf, "up", one, sizeof one);
    assert_true (size > 42);
    for (int o = 1; o < 3; o++) {
        assert_int_equal (wp_perf_encode (perf, orders [o], two, sizeof two), size);
        //  EMA bytes (20..27) depend on the order; the rest may not
        assert_memory_equal (one, two, 20);
        assert_memory_equal (one + 28, two + 28, (size_t) size - 28);
        for (double q = 0; q <= 1; q += 0.01)
            assert_close (wp_perf_quantile_ms (perf, orders [o], q),
                          wp_perf_quantile_ms (perf, "up", q), 0);
    }
    //  A decoded window holds the same counts, and widens the same way
    wp_perf_t *copy = wp_perf_new (1);
    assert_non_null (copy);
    assert_int_equal (wp_perf_decode (copy, "down", two, (size_t) size), 0);
    wp_perf_observe (perf, "down", true, 0, 1);
    wp_perf_observe (copy, "down", true, 0, 1);
    wp_perf_observe (perf, "down", true, 4000000, 1);
    wp_perf_observe (copy, "down", true, 4000000, 1);
    size = wp_perf_encode (perf, "down", one, sizeof one);
    assert_int_equal (wp_perf_encode (copy, "down", two, sizeof two), size);
    assert_memory_equal (one, two, (size_t) size);
    //  Decoding over a wide window replaces it (ASan/valgrind: no leak)
    assert_int_equal (wp_perf_decode (copy, "down", one, 48 > size ? 48 : (size_t) size), 0);
    wp_perf_destroy (&copy);
    wp_perf_destroy (&perf);
}

//  Decode must refuse record and leave "m" as it was.
static void
s_refused (wp_perf_t *perf, const record_t *record)
{
    wp_perf_estimate_t before, after;
    assert_int_equal (wp_perf_estimate (perf, "m", &before), 0);
    assert_int_equal (wp_perf_decode (perf, "m", record->bytes, record->size), -1);
    assert_int_equal (wp_perf_estimate (perf, "m", &after), 0);
    s_assert_same (&before, &after);
}

static void
test_decode_rejects (void **state)
{
    wp_perf_t *perf = wp_perf_new (0);
    assert_non_null (perf);
    wp_perf_observe (perf, "m", true, 777, 9);
    record_t record;

    //  A good record to start from: loads 100 and 200 (buckets 118, 136)
    s_header (&record, 2, 0, 150, 0, 100, 200, 2);
    s_pair (&record, 118, 1);
    s_pair (&record, 136, 1);
    wp_perf_t *check = wp_perf_new (0);
    assert_non_null (check);
    assert_int_equal (wp_perf_decode (check, "good", record.bytes, record.size), 0);
    wp_perf_destroy (&check);

    //  Every truncation, and one byte too many
    record_t cut = record;
    for (cut.size = 0; cut.size < record.size; cut.size++)
        s_refused (perf, &cut);
    cut.size = record.size + 1;
    cut.bytes [record.size] = 0;
    s_refused (perf, &cut);

    //  Header fields
    record_t bad = record;
    bad.bytes [0] = 2;                      // format
    s_refused (perf, &bad);
    bad = record;
    bad.bytes [1] = 1;                      // reserved
    s_refused (perf, &bad);
    bad = record;
    bad.bytes [3] = 0x82;                   // 386 buckets
    s_refused (perf, &bad);
    bad = record;
    bad.bytes [41] = 3;                     // K = 3, only 2 pairs
    s_refused (perf, &bad);
    bad = record;
    bad.bytes [40] = 0xff;                  // K = 65282
    s_refused (perf, &bad);

    //  Histogram inconsistent with the counts
    s_header (&bad, 3, 0, 150, 0, 100, 200, 2);     // samples 3, counts 2
    s_pair (&bad, 118, 1);
    s_pair (&bad, 136, 1);
    s_refused (perf, &bad);
    s_header (&bad, 2, 0, 150, 0, 100, 200, 2);     // indexes not rising
    s_pair (&bad, 136, 1);
    s_pair (&bad, 118, 1);
    s_refused (perf, &bad);
    s_header (&bad, 2, 0, 150, 0, 100, 200, 2);     // repeated index
    s_pair (&bad, 118, 1);
    s_pair (&bad, 118, 1);
    s_refused (perf, &bad);
    s_header (&bad, 2, 0, 150, 0, 100, 200, 3);     // a zero count
    s_pair (&bad, 118, 1);
    s_pair (&bad, 120, 0);
    s_pair (&bad, 136, 1);
    s_refused (perf, &bad);
    s_header (&bad, 2, 0, 150, 0, 100, 200000, 2);  // index 387
    s_pair (&bad, 118, 1);
    s_pair (&bad, 387, 1);
    s_refused (perf, &bad);
    s_header (&bad, 2, 0, 150, 0, 90, 200, 2);      // min not in first bucket
    s_pair (&bad, 118, 1);
    s_pair (&bad, 136, 1);
    s_refused (perf, &bad);
    s_header (&bad, 2, 0, 150, 0, 100, 300, 2);     // max not in last bucket
    s_pair (&bad, 118, 1);
    s_pair (&bad, 136, 1);
    s_refused (perf, &bad);
    s_header (&bad, 2, 0, 150, 0, 200, 100, 2);     // min > max
    s_pair (&bad, 118, 1);
    s_pair (&bad, 136, 1);
    s_refused (perf, &bad);
    double emas [] = { NAN, INFINITY, -INFINITY, -1, 99, 201 };
    for (size_t index = 0; index < sizeof (emas) / sizeof (emas [0]); index++) {
        s_header (&bad, 2, 0, emas [index], 0, 100, 200, 2);
        s_pair (&bad, 118, 1);
        s_pair (&bad, 136, 1);
        s_refused (perf, &bad);
    }
    //  No samples but a histogram, or a memory, or an EMA
    s_header (&bad, 0, 4, 0, 0, 100, 100, 1);
    s_pair (&bad, 118, 1);
    s_refused (perf, &bad);
    s_header (&bad, 0, 4, 0, 5, 0, 0, 0);
    s_refused (perf, &bad);
    s_header (&bad, 0, 4, 3, 0, 0, 0, 0);
    s_refused (perf, &bad);
    s_header (&bad, 0, 4, 0, 0, 0, 0, 0);           // but this one is fine
    check = wp_perf_new (0);
    assert_non_null (check);
    assert_int_equal (wp_perf_decode (check, "m", bad.bytes, bad.size), 0);

    //  A saturated bucket: counts may sum to less than the samples
    s_header (&bad, (uint64_t) UINT32_MAX + 5, 0, 100, 0, 100, 100, 1);
    s_pair (&bad, 118, UINT32_MAX);
    assert_int_equal (wp_perf_decode (check, "busy", bad.bytes, bad.size), 0);
    wp_perf_observe (check, "busy", true, 100, 0);
    wp_perf_estimate_t estimate;
    assert_int_equal (wp_perf_estimate (check, "busy", &estimate), 0);
    assert_true (estimate.samples == (uint64_t) UINT32_MAX + 6);
    assert_close (estimate.p50_ms, 100, 0);
    //  ... but not more
    s_header (&bad, 5, 0, 100, 0, 100, 100, 1);
    s_pair (&bad, 118, UINT32_MAX);
    assert_int_equal (wp_perf_decode (check, "busy", bad.bytes, bad.size), -1);
    wp_perf_destroy (&check);

    //  Random bytes of every length up to a full record: never accepted
    uint32_t seed = 99;
    uint8_t noise [WP_PERF_RECORD_MAX + 8];
    check = wp_perf_new (0);
    assert_non_null (check);
    for (int round = 0; round < 10000; round++) {
        size_t size = (size_t) round % sizeof (noise);
        for (size_t index = 0; index < size; index++) {
            seed = seed * 1103515245u + 12345u;
            noise [index] = (uint8_t) (seed >> 16);
        }
        assert_int_equal (wp_perf_decode (check, "x", noise, size), -1);
    }
    //  The good header with random pairs: never accepted
    for (int round = 0; round < 10000; round++) {
        memcpy (noise, record.bytes, 42);
        for (size_t index = 42; index < record.size; index++) {
            seed = seed * 1103515245u + 12345u;
            noise [index] = (uint8_t) (seed >> 16);
        }
        assert_int_equal (wp_perf_decode (check, "x", noise, record.size), -1);
    }
    assert_int_equal (wp_perf_size (check), 0);
    //  The good record with one byte changed: refused, or accepted and
    //  usable (a changed failure count cannot be detected)
    int accepted = 0;
    for (size_t index = 0; index < record.size; index++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy (noise, record.bytes, record.size);
            noise [index] ^= (uint8_t) (1 << bit);
            if (wp_perf_decode (check, "x", noise, record.size) == 0) {
                accepted++;
                assert_int_equal (wp_perf_estimate (check, "x", &estimate), 0);
                assert_true (estimate.p99_ms <= 210 && estimate.p50_ms >= 90);
            }
        }
    //  Only the failure and memory fields (12 bytes), EMA mantissa bits
    //  and low bits of the shortest and longest load pass unnoticed
    assert_true (accepted > 0 && accepted < 12 * 8 + 64);
    wp_perf_destroy (&check);
    assert_int_equal (wp_perf_decode (perf, "m", NULL, 48), -1);
    wp_perf_destroy (&perf);
}

//  Count the models visited (wp_perf_iterate_learned).
static int
s_count_learned (const char *model, const wp_perf_estimate_t *estimate, void *arg)
{
    assert_true (estimate->learned_mb > 0);
    (*(size_t *) arg)++;
    return 0;
}

//  The memory a model takes, learned apart from its loads: from a server,
//  a residency or a measure; the weights alone never replace those; a
//  record of it decodes to the same; bad input changes nothing.
static void
test_learn_memory (void **state)
{
    wp_perf_t *perf = wp_perf_new (0);
    size_t before = wp_perf_state_bytes (perf);
    wp_perf_estimate_t estimate;
    //  Nothing learned: no estimate at all
    assert_int_equal (wp_perf_estimate (perf, "big", &estimate), -1);
    //  The weights first (llama-server's meta.size)
    assert_int_equal (wp_perf_learn_memory (perf, "big", 2600, 2600, "server-weights", 10), 1);
    assert_int_equal (wp_perf_estimate (perf, "big", &estimate), 0);
    assert_int_equal (estimate.samples, 0);
    assert_int_equal (estimate.learned_mb, 2600);
    assert_string_equal (estimate.learned_from, "server-weights");
    assert_true (wp_perf_state_bytes (perf) > before);
    //  A measure replaces them; the weights then do not replace the measure
    assert_int_equal (wp_perf_learn_memory (perf, "big", 3100, 2900, "measured", 20), 1);
    assert_int_equal (wp_perf_learn_memory (perf, "big", 2600, 2600, "server-weights", 30), 0);
    assert_int_equal (wp_perf_learn_memory (perf, "big", 3100, 2900, "measured", 40), 0);
    wp_perf_estimate (perf, "big", &estimate);
    assert_int_equal (estimate.learned_mb, 3100);
    assert_int_equal (estimate.learned_vram_mb, 2900);
    assert_string_equal (estimate.learned_from, "measured");
    assert_int_equal (estimate.learned_ms, 40);
    //  A server's whole footprint replaces it; VRAM is at most the whole
    assert_int_equal (wp_perf_learn_memory (perf, "big", 2800, 9999, "server", 50), 1);
    wp_perf_estimate (perf, "big", &estimate);
    assert_int_equal (estimate.learned_vram_mb, 2800);
    //  Loads and memory together
    assert_int_equal (wp_perf_observe (perf, "big", true, 1500, 2800), 0);
    wp_perf_estimate (perf, "big", &estimate);
    assert_int_equal (estimate.samples, 1);
    assert_int_equal (estimate.learned_mb, 2800);
    //  Bad input
    assert_int_equal (wp_perf_learn_memory (perf, "big", 0, 0, "server", 60), -1);
    assert_int_equal (wp_perf_learn_memory (perf, "big", 100, 0, "config", 60), -1);
    assert_int_equal (wp_perf_learn_memory (perf, "big", 100, 0, NULL, 60), -1);
    assert_int_equal (wp_perf_learn_memory (perf, "", 100, 0, "server", 60), -1);
    //  The record, and back (into another predictor)
    uint8_t record [64];
    int length = wp_perf_encode_memory (perf, "big", record, sizeof record);
    assert_int_equal (length, 18);
    assert_int_equal (wp_perf_encode_memory (perf, "big", record, 17), -1);
    assert_int_equal (wp_perf_encode_memory (perf, "nobody", record, sizeof record), -1);
    wp_perf_t *copy = wp_perf_new (0);
    assert_int_equal (wp_perf_decode_memory (copy, "big", record, (size_t) length), 0);
    wp_perf_estimate (copy, "big", &estimate);
    assert_int_equal (estimate.learned_mb, 2800);
    assert_int_equal (estimate.learned_vram_mb, 2800);
    assert_string_equal (estimate.learned_from, "server");
    assert_int_equal (estimate.learned_ms, 50);
    //  Records that do not hold together are refused
    assert_int_equal (wp_perf_decode_memory (copy, "x", record, (size_t) length - 1), -1);
    uint8_t bad [18];
    memcpy (bad, record, sizeof bad);
    bad [0] = 2;                            //  format
    assert_int_equal (wp_perf_decode_memory (copy, "x", bad, sizeof bad), -1);
    memcpy (bad, record, sizeof bad);
    bad [1] = 9;                            //  source
    assert_int_equal (wp_perf_decode_memory (copy, "x", bad, sizeof bad), -1);
    memcpy (bad, record, sizeof bad);
    bad [6] = 0xFF;                         //  VRAM over the whole
    assert_int_equal (wp_perf_decode_memory (copy, "x", bad, sizeof bad), -1);
    assert_int_equal (wp_perf_estimate (copy, "x", &estimate), -1);
    //  Every learned model is visited
    assert_int_equal (wp_perf_learn_memory (perf, "small", 100, 0, "resident", 70), 1);
    size_t visited = 0;
    assert_int_equal (wp_perf_iterate_learned (perf, s_count_learned, &visited), 0);
    assert_int_equal (visited, 2);
    wp_perf_destroy (&copy);
    wp_perf_destroy (&perf);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_learn_memory),
        cmocka_unit_test (test_new),
        cmocka_unit_test (test_ema_and_counts),
        cmocka_unit_test (test_quantiles_small),
        cmocka_unit_test (test_quantiles_error_bound),
        cmocka_unit_test (test_names_and_bounds),
        cmocka_unit_test (test_iterate),
        cmocka_unit_test (test_encode),
        cmocka_unit_test (test_shared_names),
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_window),
        cmocka_unit_test (test_decode_rejects),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
