/*  =========================================================================
    test_pattern_wire - the usage.pattern codec: what the analyzer sends is
    what the engine reads, to the bit, and a message that does not hold
    together is refused with the entry and field named.
    =========================================================================
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"
#include "wp_analyzer.h"
#include "wp_pattern_wire.h"
#include "wp_engine.h"

#define T0 1700000000000ULL

//  A user with five models used in a fixed order, so every list of links
//  (next, second order, co-use) has entries.
static wp_analyzer_t *
s_learned (uint64_t *now)
{
    wp_analyzer_t *self = wp_analyzer_new (NULL);
    const char *seq [] = { "A", "B", "C", "A", "B", "D", "A", "B", "C", "E", "A", "B" };
    uint64_t t = T0;
    for (int round = 0; round < 6; round++)
        for (size_t i = 0; i < sizeof seq / sizeof seq [0]; i++, t += 7000 + 1000 * i)
            assert_int_equal (wp_analyzer_observe (self, 9, seq [i], t), 0);
    *now = t;
    return self;
}

//  Pack, unpack, read back.
static int
s_through_wire (wp_pattern_t *pattern, size_t n, wp_pattern_t *back, size_t capacity,
                Warmup__V1__UsagePattern **unpacked)
{
    static wp_pattern_wire_t wire;
    Warmup__V1__UsagePattern msg = WARMUP__V1__USAGE_PATTERN__INIT;
    msg.user = (char *) "someone";
    wp_pattern_wire_fill (&wire, pattern, n, &msg);
    size_t size = warmup__v1__usage_pattern__get_packed_size (&msg);
    uint8_t *buffer = (uint8_t *) malloc (size);
    assert_int_equal (warmup__v1__usage_pattern__pack (&msg, buffer), size);
    *unpacked = warmup__v1__usage_pattern__unpack (NULL, size, buffer);
    free (buffer);
    assert_non_null (*unpacked);
    char error [160] = "";
    return wp_pattern_wire_read (*unpacked, back, capacity, error, sizeof error);
}

//  The same links by name, weight and delay, in order.
static void
s_links_equal (const wp_link_t *a, uint8_t n_a, const wp_link_t *b, uint8_t n_b)
{
    assert_int_equal (n_a, n_b);
    for (uint8_t i = 0; i < n_a; i++) {
        assert_string_equal (a [i].model, b [i].model);
        assert_memory_equal (&a [i].weight, &b [i].weight, sizeof (float));
        assert_memory_equal (&a [i].delay_ms, &b [i].delay_ms, sizeof (float));
    }
}

//  Every field the engine reads comes back bit for bit, links that point
//  outside the message's models included (the pattern is cut to three).
static void
test_round_trip_exact (void **state)
{
    uint64_t now;
    wp_analyzer_t *analyzer = s_learned (&now);
    wp_pattern_t pattern [8];
    size_t n = wp_analyzer_pattern (analyzer, 9, now, pattern, 8);
    assert_int_equal (n, 5);
    size_t links = 0;
    for (size_t i = 0; i < n; i++)
        links += pattern [i].n_next + pattern [i].n_next2 + pattern [i].n_couse;
    assert_true (pattern [0].n_next2 > 0);
    assert_true (links >= 15);

    wp_pattern_t back [8];
    Warmup__V1__UsagePattern *msg;
    assert_int_equal (s_through_wire (pattern, 3, back, 8, &msg), 3);
    //  Two of the five models are only linked to: named once each.
    assert_int_equal (msg->n_link_models, 2);
    for (size_t i = 0; i < 3; i++) {
        const wp_pattern_t *a = &pattern [i], *b = &back [i];
        assert_string_equal (a->model, b->model);
        assert_int_equal (a->count, b->count);
        assert_int_equal (a->last_ms, b->last_ms);
        assert_int_equal (a->model_count, b->model_count);
        assert_memory_equal (&a->gap_mean_ms, &b->gap_mean_ms, sizeof (double));
        assert_memory_equal (&a->gap_std_ms, &b->gap_std_ms, sizeof (double));
        assert_memory_equal (&a->rate_per_h, &b->rate_per_h, sizeof (double));
        assert_memory_equal (&a->rate_short_per_h, &b->rate_short_per_h, sizeof (double));
        assert_memory_equal (&a->rate_long_per_h, &b->rate_long_per_h, sizeof (double));
        assert_memory_equal (&a->anomaly, &b->anomaly, sizeof (double));
        assert_memory_equal (&a->season, &b->season, sizeof (double));
        assert_non_null (b->hist);
        assert_memory_equal (a->hist, b->hist, sizeof (float) * WP_IDLE_BINS);
        assert_memory_equal (&a->hist_total, &b->hist_total, sizeof (double));
        assert_memory_equal (a->recent, b->recent, sizeof a->recent);
        assert_memory_equal (&a->recent_total, &b->recent_total, sizeof (double));
        //  The prior as the analyzer computes it, carried (the reader has
        //  no population of its own).
        float prior [WP_IDLE_BINS];
        wp_pattern_prior (a, prior);
        assert_memory_equal (prior, b->prior, sizeof prior);
        assert_null (b->global_hist);
        float again [WP_IDLE_BINS];
        wp_pattern_prior (b, again);
        assert_memory_equal (prior, again, sizeof prior);
        s_links_equal (a->next, a->n_next, b->next, b->n_next);
        s_links_equal (a->next2, a->n_next2, b->next2, b->n_next2);
        s_links_equal (a->couse, a->n_couse, b->couse, b->n_couse);
    }
    warmup__v1__usage_pattern__free_unpacked (msg, NULL);
    wp_analyzer_destroy (&analyzer);
}

//  Two engines with the same history, one fed the analyzer's pattern
//  directly (as warmup-eval does), one what came through the message (as
//  the live engine does), predict the same, to the bit.
static void
test_engine_sees_the_same (void **state)
{
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_t *direct = wp_engine_new (NULL);
    wp_engine_t *wired = wp_engine_new (NULL);
    const char *seq [] = { "A", "B", "C", "A", "B", "D" };
    uint64_t t = T0;
    size_t checked = 0;
    for (int i = 0; i < 300; i++, t += 3000 + (uint64_t) (i % 7) * 2500) {
        const char *model = seq [i % 6];
        uint64_t user = 1 + (uint64_t) (i / 20 % 3);
        assert_int_equal (wp_analyzer_observe (analyzer, user, model, t), 0);
        wp_pattern_t pattern [WP_PATTERN_WIRE_MAX], back [WP_PATTERN_WIRE_MAX];
        size_t n = wp_analyzer_pattern (analyzer, user, t, pattern, WP_PATTERN_WIRE_MAX);
        Warmup__V1__UsagePattern *msg;
        assert_int_equal (s_through_wire (pattern, n, back, WP_PATTERN_WIRE_MAX, &msg),
                          (int) n);
        wp_prediction_t a [8], b [8];
        size_t n_a = wp_engine_predict_for (direct, user, pattern, n, t, a, 8);
        size_t n_b = wp_engine_predict_for (wired, user, back, n, t, b, 8);
        assert_int_equal (n_a, n_b);
        for (size_t k = 0; k < n_a; k++) {
            assert_string_equal (a [k].model, b [k].model);
            assert_memory_equal (&a [k].probability, &b [k].probability, sizeof (double));
            assert_int_equal (a [k].expected_in_ms, b [k].expected_in_ms);
            assert_int_equal (a [k].keep_until_ms, b [k].keep_until_ms);
            assert_int_equal (a [k].prewarm_at_ms, b [k].prewarm_at_ms);
            assert_int_equal (a [k].hold_until_ms, b [k].hold_until_ms);
            checked++;
        }
        warmup__v1__usage_pattern__free_unpacked (msg, NULL);
    }
    assert_true (checked > 800);
    wp_engine_destroy (&direct);
    wp_engine_destroy (&wired);
    wp_analyzer_destroy (&analyzer);
}

//  A message that does not hold together is refused, naming the field
//  (and model); bad values inside a sound message are skipped.
static void
test_malformed (void **state)
{
    char *names [2] = { (char *) "m1", (char *) "m2" };
    uint64_t counts [2] = { 4, 2 };
    uint32_t next_count [2] = { 2, 0 };
    uint32_t refs [2] = { 1, 2 };
    float weights [2] = { 2.0f, 1.0f };
    float delays [2] = { 500.0f, 700.0f };
    Warmup__V1__PatternColumns c = WARMUP__V1__PATTERN_COLUMNS__INIT;
    c.n_model = 2;
    c.model = names;
    c.n_count = 2;
    c.count = counts;
    c.n_next_count = 2;
    c.next_count = next_count;
    c.n_next_ref = c.n_next_weight = c.n_next_delay_ms = 2;
    c.next_ref = refs;
    c.next_weight = weights;
    c.next_delay_ms = delays;
    char *others [1] = { (char *) "m9" };
    Warmup__V1__UsagePattern msg = WARMUP__V1__USAGE_PATTERN__INIT;
    msg.user = (char *) "u";
    msg.columns = &c;
    msg.n_link_models = 1;
    msg.link_models = others;
    msg.idle_bins = WP_IDLE_BINS;
    wp_pattern_t out [2];
    char error [160] = "";
    assert_int_equal (wp_pattern_wire_read (&msg, out, 2, error, sizeof error), 2);
    assert_int_equal (out [0].n_next, 2);
    assert_string_equal (out [0].next [0].model, "m2");
    assert_string_equal (out [0].next [1].model, "m9");
    assert_true (out [0].next [1].delay_ms == 700.0f);
    assert_int_equal (out [1].n_next, 0);
    //  Columns left empty read as zeros; no histograms: none used, the
    //  prior flat.
    assert_int_equal (out [1].last_ms, 0);
    assert_null (out [0].hist);
    assert_true (out [0].prior [0] == 1.0f / WP_IDLE_BINS);
    assert_true (out [0].season == 1);

    //  A reference past the models and the linked names.
    refs [1] = 3;
    assert_int_equal (wp_pattern_wire_read (&msg, out, 2, error, sizeof error), -1);
    assert_non_null (strstr (error, "columns.next_ref of model m1"));
    refs [1] = 2;
    //  A column of another length than the models.
    c.n_count = 1;
    assert_int_equal (wp_pattern_wire_read (&msg, out, 2, error, sizeof error), -1);
    assert_non_null (strstr (error, "columns.count:"));
    c.n_count = 2;
    //  Link counts that do not add up to the arrays.
    next_count [1] = 1;
    assert_int_equal (wp_pattern_wire_read (&msg, out, 2, error, sizeof error), -1);
    assert_non_null (strstr (error, "columns.next_ref:"));
    next_count [1] = 0;
    c.n_next_delay_ms = 1;
    assert_int_equal (wp_pattern_wire_read (&msg, out, 2, error, sizeof error), -1);
    c.n_next_delay_ms = 2;
    //  A negative or non-finite weight or delay: that link is skipped.
    weights [0] = -1.0f;
    delays [1] = NAN;
    assert_int_equal (wp_pattern_wire_read (&msg, out, 2, error, sizeof error), 2);
    assert_int_equal (out [0].n_next, 0);
    weights [0] = 2.0f;
    delays [1] = 700.0f;
    //  Histograms: one per model; a bad one is left out, not the others.
    float hist [2 * WP_IDLE_BINS] = { 0 };
    double totals [2] = { 2, 1 };
    hist [3] = 2;
    hist [WP_IDLE_BINS + 7] = 1;
    c.n_idle_hist = 2 * WP_IDLE_BINS;
    c.idle_hist = hist;
    c.n_idle_total = 2;
    c.idle_total = totals;
    assert_int_equal (wp_pattern_wire_read (&msg, out, 2, error, sizeof error), 2);
    assert_ptr_equal (out [0].hist, &hist [0]);
    assert_ptr_equal (out [1].hist, &hist [WP_IDLE_BINS]);
    hist [WP_IDLE_BINS + 5] = -1;
    assert_int_equal (wp_pattern_wire_read (&msg, out, 2, error, sizeof error), 2);
    assert_non_null (out [0].hist);
    assert_null (out [1].hist);
    hist [WP_IDLE_BINS + 5] = INFINITY;
    assert_int_equal (wp_pattern_wire_read (&msg, out, 2, error, sizeof error), 2);
    assert_null (out [1].hist);
    hist [WP_IDLE_BINS + 5] = -0.0f;
    assert_int_equal (wp_pattern_wire_read (&msg, out, 2, error, sizeof error), 2);
    assert_non_null (out [1].hist);
    //  Histograms of another analyzer's bins: left out.
    msg.idle_bins = WP_IDLE_BINS - 1;
    c.n_idle_hist = 2 * (WP_IDLE_BINS - 1);
    assert_int_equal (wp_pattern_wire_read (&msg, out, 2, error, sizeof error), 2);
    assert_null (out [0].hist);
    //  ... but not of another length than the bins say.
    c.n_idle_hist = 2 * WP_IDLE_BINS;
    assert_int_equal (wp_pattern_wire_read (&msg, out, 2, error, sizeof error), -1);
    assert_non_null (strstr (error, "columns.idle_hist:"));
    msg.idle_bins = WP_IDLE_BINS;
    //  A model without a count is skipped, not an error; its links do not
    //  shift the next model's.
    counts [0] = 0;
    next_count [1] = 0;
    assert_int_equal (wp_pattern_wire_read (&msg, out, 2, error, sizeof error), 1);
    assert_string_equal (out [0].model, "m2");
    assert_int_equal (out [0].n_next, 0);
    //  Room for fewer than there are.
    counts [0] = 4;
    assert_int_equal (wp_pattern_wire_read (&msg, out, 1, error, sizeof error), 1);
    assert_string_equal (out [0].model, "m1");
}

//  Mutated messages (bytes flipped at random, a fixed sequence): whatever
//  protobuf-c still unpacks, the reader either reads within its bounds or
//  refuses; every entry it returns points inside the message. The
//  sanitizer build turns any overread into a failure.
static void
test_mutations (void **state)
{
    uint64_t now;
    wp_analyzer_t *analyzer = s_learned (&now);
    wp_pattern_t pattern [8];
    assert_int_equal (wp_analyzer_pattern (analyzer, 9, now, pattern, 8), 5);
    static wp_pattern_wire_t wire;
    Warmup__V1__UsagePattern msg = WARMUP__V1__USAGE_PATTERN__INIT;
    msg.user = (char *) "someone";
    wp_pattern_wire_fill (&wire, pattern, 3, &msg);
    size_t size = warmup__v1__usage_pattern__get_packed_size (&msg);
    uint8_t *good = (uint8_t *) malloc (size), *bad = (uint8_t *) malloc (size);
    warmup__v1__usage_pattern__pack (&msg, good);
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    size_t unpacked = 0, refused = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy (bad, good, size);
        int flips = 1 + round % 4;
        for (int f = 0; f < flips; f++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bad [seed % size] ^= (uint8_t) (1u << ((seed >> 32) % 8));
        }
        Warmup__V1__UsagePattern *in = warmup__v1__usage_pattern__unpack (NULL, size, bad);
        if (!in)
            continue;
        unpacked++;
        wp_pattern_t out [WP_PATTERN_WIRE_MAX];
        char error [160];
        int got = wp_pattern_wire_read (in, out, WP_PATTERN_WIRE_MAX, error, sizeof error);
        if (got < 0)
            refused++;
        for (int i = 0; i < got; i++) {
            assert_true (out [i].count > 0);
            assert_true (out [i].n_next <= WP_ANALYZER_LINKS);
            if (out [i].hist && in->columns) {
                assert_true (out [i].hist >= in->columns->idle_hist);
                assert_true (out [i].hist + WP_IDLE_BINS
                             <= in->columns->idle_hist + in->columns->n_idle_hist);
            }
        }
        warmup__v1__usage_pattern__free_unpacked (in, NULL);
    }
    //  The sequence reaches both outcomes.
    assert_true (unpacked > 100);
    assert_true (refused > 0);
    free (good);
    free (bad);
    wp_analyzer_destroy (&analyzer);
}

//  The older form (a ModelLink per link) is still read.
static void
test_old_links (void **state)
{
    Warmup__V1__ModelLink link = WARMUP__V1__MODEL_LINK__INIT;
    link.model = (char *) "m2";
    link.weight = 3;
    link.delay_ms = 1200;
    Warmup__V1__ModelLink bad = WARMUP__V1__MODEL_LINK__INIT;
    bad.model = (char *) "m3";
    bad.weight = -2;
    Warmup__V1__ModelLink *list [2] = { &bad, &link };
    Warmup__V1__ModelPattern one = WARMUP__V1__MODEL_PATTERN__INIT;
    one.model = (char *) "m1";
    one.count = 1;
    one.n_next = 2;
    one.next = list;
    one.n_couse = 1;
    one.couse = &list [1];
    Warmup__V1__ModelPattern *models [1] = { &one };
    Warmup__V1__UsagePattern msg = WARMUP__V1__USAGE_PATTERN__INIT;
    msg.n_models = 1;
    msg.models = models;
    wp_pattern_t out [1];
    assert_int_equal (wp_pattern_wire_read (&msg, out, 1, NULL, 0), 1);
    assert_int_equal (out [0].n_next, 1);
    assert_string_equal (out [0].next [0].model, "m2");
    assert_true (out [0].next [0].delay_ms == 1200.0f);
    assert_int_equal (out [0].n_couse, 1);
    assert_int_equal (out [0].n_next2, 0);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_round_trip_exact),
        cmocka_unit_test (test_engine_sees_the_same),
        cmocka_unit_test (test_malformed),
        cmocka_unit_test (test_mutations),
        cmocka_unit_test (test_old_links),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
