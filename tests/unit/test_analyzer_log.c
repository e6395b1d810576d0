/*  =========================================================================
    test_analyzer_log - the analyzer's journal and its checkpoints into
    LMDB: a checkpoint writes the latest record of each key and the
    covered position, then empties the journal (a new generation); what is
    flushed after it survives a crash (the log dropped without a
    checkpoint) and is recovered into LMDB at the next open; a delete
    replays as a delete; what was not flushed is lost. A checkpoint in
    slices takes the old generation only, while appends go to the new; a
    crash in its middle is recovered, old generation then new.
    =========================================================================
*/
#include "testutil.h"
#include "wp_analyzer.h"
#include "wp_analyzer_log.h"
#include "wp_journal.h"
#include "wp_store.h"
#include "wp_util.h"

#include <czmq.h>

typedef struct {
    char *dir;                  //  temporary directory, removed after
    wp_store_t *store;          //  the analyzer's LMDB in it
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) zmalloc (sizeof (s_fixture_t));
    fixture->dir = wp_test_tmpdir ("test_analyzer_log");
    wp_store_opts_t opts = { .owner = "analyzer" };
    fixture->store = wp_store_new (fixture->dir, &opts);
    assert_non_null (fixture->store);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_destroy (&fixture->store);
    wp_test_rmtree (fixture->dir);
    free (fixture->dir);
    free (fixture);
    return 0;
}

//  Open the log on the fixture's store, expecting success.
static wp_analyzer_log_t *
s_open (s_fixture_t *fixture)
{
    wp_analyzer_log_opts_t opts = { .dir = fixture->dir, .checkpoint_ms = 60000,
                                    .journal_max = 1 << 20 };
    char why [1024];
    bool refused = true;
    wp_analyzer_log_t *log = wp_analyzer_log_new (fixture->store, &opts, why, sizeof why,
                                                  &refused);
    if (!log)
        fail_msg ("open failed: %s", why);
    assert_false (refused);
    return log;
}

//  Put a pair record of text.
static void
s_put (wp_analyzer_log_t *log, const char *key, const char *text)
{
    assert_int_equal (wp_analyzer_log_record ("pairs", key, strlen (key), text,
                                              strlen (text), log), 0);
}

//  The stored value of key into out ("" when none); returns its version.
static uint16_t
s_get (s_fixture_t *fixture, const char *db, const char *key, char *out, size_t size)
{
    size_t len = 0;
    uint16_t version = 0;
    int rc = wp_store_get (fixture->store, db, key, strlen (key), out, size - 1, &len,
                           &version);
    assert_true (rc == 0 || rc == 1);
    out [rc == 0 ? len : 0] = 0;
    return version;
}

//  Bytes of the journal file.
static uint64_t
s_journal_size (s_fixture_t *fixture)
{
    char *path = zsys_sprintf ("%s/%s", fixture->dir, WP_ANALYZER_JOURNAL);
    zfile_t *file = zfile_new (NULL, path);
    assert_non_null (file);
    uint64_t size = (uint64_t) zfile_cursize (file);
    zfile_destroy (&file);
    zstr_free (&path);
    return size;
}

//  A checkpoint writes each key's latest record and the covered
//  position into LMDB, then empties the journal.
static void
test_checkpoint (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_analyzer_log_t *log = s_open (fixture);
    s_put (log, "pair-a", "a1");
    s_put (log, "pair-b", "b1");
    assert_int_equal (wp_analyzer_log_flush (log), 0);
    s_put (log, "pair-a", "a2");
    assert_int_equal (wp_analyzer_log_record ("models", "m", 1, "model", 5, log), 0);
    assert_int_equal (wp_analyzer_log_flush (log), 0);
    uint64_t durable, failures, refused;
    wp_analyzer_log_counts (log, &durable, &failures, &refused);
    assert_int_equal (durable, 4);
    assert_int_equal (failures + refused, 0);
    char value [64];
    s_get (fixture, "pairs", "pair-a", value, sizeof value);
    assert_string_equal (value, "");            //  in the journal only
    assert_true (s_journal_size (fixture) > WP_JOURNAL_HEADER);
    //  Not due yet: below journal_max, within checkpoint_ms
    assert_false (wp_analyzer_log_due (log, 1000));
    assert_false (wp_analyzer_log_due (log, 60999));
    assert_true (wp_analyzer_log_due (log, 61000));
    assert_int_equal (wp_analyzer_log_checkpoint (log, 61000), 0);
    assert_int_equal (wp_analyzer_log_checkpoints (log), 1);
    assert_int_equal (s_get (fixture, "pairs", "pair-a", value, sizeof value),
                      WP_ANALYZER_RECORD_VERSION);
    assert_string_equal (value, "a2");
    s_get (fixture, "pairs", "pair-b", value, sizeof value);
    assert_string_equal (value, "b1");
    s_get (fixture, "models", "m", value, sizeof value);
    assert_string_equal (value, "model");
    assert_int_equal (s_journal_size (fixture), WP_JOURNAL_HEADER);
    assert_false (wp_analyzer_log_due (log, 200000));      //  nothing to do
    wp_analyzer_log_destroy (&log);
    assert_null (log);
    wp_analyzer_log_destroy (&log);             //  safe on NULL
    //  A clean reopen replays nothing
    log = s_open (fixture);
    assert_int_equal (wp_analyzer_log_checkpoints (log), 0);
    wp_analyzer_log_destroy (&log);
}

//  A crash (no checkpoint): what was flushed is recovered into LMDB at
//  the next open, a delete as a delete; what was not flushed is lost.
static void
test_recover (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_analyzer_log_t *log = s_open (fixture);
    s_put (log, "pair-a", "a1");
    s_put (log, "pair-gone", "g1");
    assert_int_equal (wp_analyzer_log_flush (log), 0);
    assert_int_equal (wp_analyzer_log_checkpoint (log, 1), 0);
    //  After the checkpoint: a new value, a delete, a record not flushed
    s_put (log, "pair-a", "a2");
    assert_int_equal (wp_analyzer_log_record ("pairs", "pair-gone", 9, NULL, 0, log), 0);
    assert_int_equal (wp_analyzer_log_flush (log), 0);
    s_put (log, "pair-open", "lost");
    wp_analyzer_log_destroy (&log);             //  the crash
    char value [64];
    s_get (fixture, "pairs", "pair-a", value, sizeof value);
    assert_string_equal (value, "a1");          //  the checkpoint's

    log = s_open (fixture);
    assert_int_equal (wp_analyzer_log_checkpoints (log), 1);   //  the recovery
    s_get (fixture, "pairs", "pair-a", value, sizeof value);
    assert_string_equal (value, "a2");
    s_get (fixture, "pairs", "pair-gone", value, sizeof value);
    assert_string_equal (value, "");
    s_get (fixture, "pairs", "pair-open", value, sizeof value);
    assert_string_equal (value, "");
    assert_int_equal (s_journal_size (fixture), WP_JOURNAL_HEADER);
    wp_analyzer_log_destroy (&log);
}

//  Put S_KEYS pair records "k0000".. of value text (%d: the key's number).
#define S_KEYS 3000
static void
s_put_keys (wp_analyzer_log_t *log, const char *text)
{
    for (int i = 0; i < S_KEYS; i++) {
        char key [16], value [32];
        snprintf (key, sizeof key, "k%04d", i);
        snprintf (value, sizeof value, text, i);
        s_put (log, key, value);
    }
}

//  True when the file name of the analyzer's journal dir exists.
static bool
s_exists (s_fixture_t *fixture, const char *name)
{
    char *path = zsys_sprintf ("%s/%s", fixture->dir, name);
    bool exists = zsys_file_exists (path);
    zstr_free (&path);
    return exists;
}

//  A checkpoint in slices: the old generation goes into LMDB a slice at
//  a time while records are appended to the new one, which it does not
//  take (a key written in the new generation keeps the old generation's
//  value in LMDB until the next checkpoint, which then writes the new).
static void
test_sliced (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_analyzer_log_t *log = s_open (fixture);
    s_put_keys (log, "old-%d");
    s_put (log, "pair-x", "x-old");
    assert_int_equal (wp_analyzer_log_flush (log), 0);
    assert_false (wp_analyzer_log_due (log, 1));
    assert_true (wp_analyzer_log_due (log, 60001));         //  checkpoint_ms
    assert_false (wp_analyzer_log_busy (log));
    assert_int_equal (wp_analyzer_log_begin (log, 60001), 0);
    assert_true (wp_analyzer_log_busy (log));
    assert_true (wp_analyzer_log_due (log, 60002));         //  in progress
    assert_true (s_exists (fixture, WP_ANALYZER_JOURNAL_OLD));
    assert_int_equal (s_journal_size (fixture), WP_JOURNAL_HEADER);
    int slices = 0, rc;
    char value [64];
    while ((rc = wp_analyzer_log_step (log)) == 1) {
        slices++;
        //  Between two slices: new records, into the new generation
        char text [32];
        snprintf (text, sizeof text, "x-new-%d", slices);
        s_put (log, "pair-x", text);
        s_put (log, "k0001", text);
        assert_int_equal (wp_analyzer_log_flush (log), 0);
        assert_true (slices < 100);
    }
    assert_int_equal (rc, 0);
    //  The index, the sort, and 3000 / 1024 slices of writes
    assert_true (slices >= 4);
    assert_false (wp_analyzer_log_busy (log));
    assert_false (s_exists (fixture, WP_ANALYZER_JOURNAL_OLD));
    assert_int_equal (wp_analyzer_log_checkpoints (log), 1);
    s_get (fixture, "pairs", "pair-x", value, sizeof value);
    assert_string_equal (value, "x-old");
    s_get (fixture, "pairs", "k0001", value, sizeof value);
    assert_string_equal (value, "old-1");
    s_get (fixture, "pairs", "k2999", value, sizeof value);
    assert_string_equal (value, "old-2999");
    assert_true (s_journal_size (fixture) > WP_JOURNAL_HEADER);
    //  A step with none in progress does nothing
    assert_int_equal (wp_analyzer_log_step (log), 0);
    //  The next checkpoint writes the new generation's latest records
    assert_int_equal (wp_analyzer_log_checkpoint (log, 2), 0);
    assert_int_equal (wp_analyzer_log_checkpoints (log), 2);
    char want [32];
    snprintf (want, sizeof want, "x-new-%d", slices);
    s_get (fixture, "pairs", "pair-x", value, sizeof value);
    assert_string_equal (value, want);
    s_get (fixture, "pairs", "k0001", value, sizeof value);
    assert_string_equal (value, want);
    assert_int_equal (s_journal_size (fixture), WP_JOURNAL_HEADER);
    wp_analyzer_log_destroy (&log);
}

//  A crash in the middle of a checkpoint (some of its slices committed,
//  records appended to the new generation meanwhile): recovery applies
//  the old generation, then the new one, and LMDB holds each key's
//  latest flushed record.
static void
test_crash_in_checkpoint (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_analyzer_log_t *log = s_open (fixture);
    s_put_keys (log, "one-%d");
    s_put (log, "pair-gone", "here");
    assert_int_equal (wp_analyzer_log_flush (log), 0);
    assert_int_equal (wp_analyzer_log_checkpoint (log, 1), 0);
    s_put_keys (log, "two-%d");
    assert_int_equal (wp_analyzer_log_record ("pairs", "pair-gone", 9, NULL, 0, log), 0);
    assert_int_equal (wp_analyzer_log_flush (log), 0);
    assert_int_equal (wp_analyzer_log_begin (log, 2), 0);
    //  Slices until the first keys are in LMDB and the last are not
    char value [64];
    for (int i = 0; i < 100; i++) {
        assert_int_equal (wp_analyzer_log_step (log), 1);
        s_get (fixture, "pairs", "k0000", value, sizeof value);
        if (streq (value, "two-0"))
            break;
    }
    assert_string_equal (value, "two-0");
    s_get (fixture, "pairs", "k2999", value, sizeof value);
    assert_string_equal (value, "one-2999");
    //  The new generation: a key of the old one again, flushed; one not
    s_put (log, "k0005", "three");
    assert_int_equal (wp_analyzer_log_flush (log), 0);
    s_put (log, "k0006", "not flushed");
    wp_analyzer_log_destroy (&log);             //  the crash
    assert_true (s_exists (fixture, WP_ANALYZER_JOURNAL_OLD));

    log = s_open (fixture);
    assert_false (wp_analyzer_log_busy (log));
    assert_false (s_exists (fixture, WP_ANALYZER_JOURNAL_OLD));
    assert_int_equal (s_journal_size (fixture), WP_JOURNAL_HEADER);
    assert_int_equal (wp_analyzer_log_checkpoints (log), 2);   //  old, then new
    for (int i = 0; i < S_KEYS; i++) {
        char key [16], want [32];
        snprintf (key, sizeof key, "k%04d", i);
        snprintf (want, sizeof want, i == 5 ? "three" : "two-%d", i);
        s_get (fixture, "pairs", key, value, sizeof value);
        assert_string_equal (value, want);
    }
    s_get (fixture, "pairs", "pair-gone", value, sizeof value);
    assert_string_equal (value, "");
    wp_analyzer_log_destroy (&log);
    //  Reopened clean: nothing left to replay
    log = s_open (fixture);
    assert_int_equal (wp_analyzer_log_checkpoints (log), 0);
    wp_analyzer_log_destroy (&log);
}

//  A generation left by a checkpoint that is not a journal: refused,
//  named; with reset (--reset-store analyzer) moved aside, and what the
//  current journal holds is recovered.
static void
test_old_generation_refused (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_analyzer_log_t *log = s_open (fixture);
    s_put (log, "pair-a", "a1");
    assert_int_equal (wp_analyzer_log_flush (log), 0);
    wp_analyzer_log_destroy (&log);
    char *old = zsys_sprintf ("%s/%s", fixture->dir, WP_ANALYZER_JOURNAL_OLD);
    FILE *file = fopen (old, "w");
    assert_non_null (file);
    fputs ("not a journal at all, but long enough for its header", file);
    fclose (file);
    wp_analyzer_log_opts_t opts = { .dir = fixture->dir, .checkpoint_ms = 60000,
                                    .journal_max = 1 << 20 };
    char why [1024] = "";
    bool refused = false;
    assert_null (wp_analyzer_log_new (fixture->store, &opts, why, sizeof why, &refused));
    assert_true (refused);
    assert_non_null (strstr (why, old));
    opts.reset = true;
    log = wp_analyzer_log_new (fixture->store, &opts, why, sizeof why, &refused);
    assert_non_null (log);
    assert_false (zsys_file_exists (old));
    char value [64];
    s_get (fixture, "pairs", "pair-a", value, sizeof value);
    assert_string_equal (value, "a1");
    wp_analyzer_log_destroy (&log);
    zstr_free (&old);
}

//  Load one stored record into an analyzer (arg: [analyzer, db, count]).
static int
s_load (const void *key, size_t key_len, const void *value, size_t value_len,
        uint16_t version, void *arg)
{
    void **args = (void **) arg;
    assert_int_equal (version, WP_ANALYZER_RECORD_VERSION);
    assert_int_equal (wp_analyzer_load ((wp_analyzer_t *) args [0], (const char *) args [1],
                                        key, key_len, value, value_len), 0);
    (*(uint64_t *) args [2])++;
    return 0;
}

//  The records of a real analyzer round-trip: drained into the journal,
//  recovered into LMDB, loaded into a new analyzer, they give the same
//  pairs (the integration test compares the bytes).
static void
test_analyzer_records (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    for (int i = 0; i < 200; i++) {
        char model [16];
        snprintf (model, sizeof model, "model-%d", i % 3);
        assert_int_equal (wp_analyzer_observe (analyzer, 1000 + (uint64_t) (i % 7), model,
                                               1700000000000ull + (uint64_t) i * 9000), 0);
    }
    wp_analyzer_log_t *log = s_open (fixture);
    int handed = wp_analyzer_drain (analyzer, wp_analyzer_log_record, log);
    assert_true (handed > 0);
    assert_int_equal (wp_analyzer_log_flush (log), 0);
    wp_analyzer_log_destroy (&log);             //  a crash
    log = s_open (fixture);                     //  recovered into LMDB
    wp_analyzer_log_destroy (&log);
    wp_analyzer_t *loaded = wp_analyzer_new (NULL);
    const char *dbs [] = { "models", "pairs" };
    for (int i = 0; i < 2; i++) {
        uint64_t records = 0;
        void *args [] = { loaded, (void *) dbs [i], &records };
        assert_int_equal (wp_store_iterate (fixture->store, dbs [i], s_load, args), 0);
    }
    assert_int_equal (wp_analyzer_pairs (loaded), wp_analyzer_pairs (analyzer));
    assert_int_equal (wp_analyzer_pairs (loaded), 21);
    wp_pattern_t before, after;
    uint64_t now = 1700000000000ull + 200 * 9000;
    assert_true (wp_analyzer_pair (analyzer, 1003, "model-1", now, &before));
    assert_true (wp_analyzer_pair (loaded, 1003, "model-1", now, &after));
    assert_int_equal (after.count, before.count);
    assert_int_equal (after.last_ms, before.last_ms);
    wp_analyzer_destroy (&loaded);
    wp_analyzer_destroy (&analyzer);
}

//  Full: the journal's files (the one appended to and the one a
//  checkpoint applies) at hold_bytes or more, until the checkpoint that
//  applies the old one ends.
static void
test_full (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_analyzer_log_opts_t opts = { .dir = fixture->dir, .checkpoint_ms = 60000,
                                    .journal_max = 2048, .hold_bytes = 4096,
                                    .slice_writes = 4 };
    char why [1024];
    bool refused = true;
    wp_analyzer_log_t *log = wp_analyzer_log_new (fixture->store, &opts, why, sizeof why,
                                                  &refused);
    assert_non_null (log);
    char key [32];
    int n = 0;
    while (s_journal_size (fixture) < 3000) {
        snprintf (key, sizeof key, "pair-%04d", n++);
        s_put (log, key, "a value of some thirty bytes...");
        assert_int_equal (wp_analyzer_log_flush (log), 0);
        assert_false (wp_analyzer_log_full (log));
    }
    assert_int_equal (wp_analyzer_log_begin (log, 1), 0);
    assert_true (wp_analyzer_log_busy (log));
    //  The old generation (3000 bytes) and the new one together
    while (!wp_analyzer_log_full (log)) {
        snprintf (key, sizeof key, "pair-%04d", n++);
        s_put (log, key, "a value of some thirty bytes...");
        assert_int_equal (wp_analyzer_log_flush (log), 0);
        assert_true (s_journal_size (fixture) < 4096);
    }
    int steps = 0, rc;
    while ((rc = wp_analyzer_log_step (log)) > 0)
        steps++;
    assert_int_equal (rc, 0);
    assert_true (steps > 1);
    assert_false (wp_analyzer_log_full (log));      //  the old one is gone
    wp_analyzer_log_destroy (&log);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_checkpoint, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_full, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_recover, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sliced, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_crash_in_checkpoint, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_old_generation_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_analyzer_records, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
