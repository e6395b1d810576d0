/*  =========================================================================
    test_analyzer_writer - the analyzer's journal on its own thread: the
    records handed over at each flush become durable there (counted once
    the flush went through), a stop checkpoints them all into LMDB (each
    key's latest), a journal passing journal_max is checkpointed while
    flushes go on, and while the journal's flushes fail the writer keeps
    what it has and refuses more past pending_max, then writes it all
    once they succeed again.
    =========================================================================
*/
#include "testutil.h"
#include "wp_analyzer.h"
#include "wp_analyzer_log.h"
#include "wp_analyzer_writer.h"
#include "wp_journal.h"
#include "wp_store.h"
#include "wp_util.h"

#include <czmq.h>
#include <signal.h>
#include <sys/resource.h>

#define S_SYNC_MS 10000

typedef struct {
    char *dir;                  //  temporary directory, removed after
    wp_store_t *store;          //  the analyzer's LMDB in it
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) zmalloc (sizeof (s_fixture_t));
    fixture->dir = wp_test_tmpdir ("test_analyzer_writer");
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

//  A writer on a log opened on the fixture's store.
static wp_analyzer_writer_t *
s_writer (s_fixture_t *fixture, uint64_t journal_max, uint32_t pending_max)
{
    wp_analyzer_log_opts_t opts = { .dir = fixture->dir, .checkpoint_ms = 600000,
                                    .journal_max = journal_max, .slice_writes = 16,
                                    .pending_max = UINT32_MAX };
    char why [1024];
    bool refused = true;
    wp_analyzer_log_t *log = wp_analyzer_log_new (fixture->store, &opts, why, sizeof why,
                                                  &refused);
    if (!log)
        fail_msg ("open failed: %s", why);
    wp_analyzer_writer_t *writer = wp_analyzer_writer_new (&log, fixture->store,
                                                           pending_max);
    assert_null (log);
    return writer;
}

//  Hand one pair record over; returns what the writer said.
static int
s_put (wp_analyzer_writer_t *writer, const char *key, const char *text)
{
    return wp_analyzer_writer_record ("pairs", key, strlen (key), text, strlen (text),
                                      writer);
}

//  The stored value of key into out ("" when none).
static void
s_get (s_fixture_t *fixture, const char *key, char *out, size_t size)
{
    size_t len = 0;
    int rc = wp_store_get (fixture->store, "pairs", key, strlen (key), out, size - 1, &len,
                           NULL);
    assert_true (rc == 0 || rc == 1);
    out [rc == 0 ? len : 0] = 0;
}

//  Records handed over are durable once their flush went through; the
//  stop puts each key's latest into LMDB, and a reopen replays nothing.
static void
test_durable_then_stored (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_analyzer_writer_t *writer = s_writer (fixture, 1 << 20, 100);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 10; i++) {
            char key [32], text [32];
            snprintf (key, sizeof key, "pair-%d", i);
            snprintf (text, sizeof text, "value-%d-%d", i, round);
            assert_int_equal (s_put (writer, key, text), 0);
        }
        wp_analyzer_writer_flush (writer);
    }
    assert_int_equal (wp_analyzer_writer_sync (writer, S_SYNC_MS), 0);
    wp_analyzer_writer_counts_t counts;
    wp_analyzer_writer_counts (writer, &counts);
    assert_int_equal (counts.durable, 30);
    assert_int_equal (counts.failures + counts.refused, 0);
    wp_analyzer_writer_destroy (&writer);
    assert_null (writer);

    char value [64];
    for (int i = 0; i < 10; i++) {
        char key [32], want [32];
        snprintf (key, sizeof key, "pair-%d", i);
        snprintf (want, sizeof want, "value-%d-2", i);
        s_get (fixture, key, value, sizeof value);
        assert_string_equal (value, want);
    }
    //  Nothing left past the checkpoint: the reopen recovers nothing
    writer = s_writer (fixture, 1 << 20, 100);
    wp_analyzer_writer_counts (writer, &counts);
    assert_int_equal (counts.checkpoints, 0);
    assert_int_equal (counts.durable, 0);
    wp_analyzer_writer_destroy (&writer);
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

//  A journal past journal_max is checkpointed on the writer's thread while
//  more flushes come: the stop finds every key's latest in LMDB.
static void
test_checkpoint_while_flushing (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_analyzer_writer_t *writer = s_writer (fixture, 8192, 100000);
    int keys = 500;
    uint64_t bytes = WP_JOURNAL_HEADER;       //  all the records' bytes
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < keys; i++) {
            char key [32], text [32];
            snprintf (key, sizeof key, "pair-%05d", (i * 7919 + round) % keys);
            snprintf (text, sizeof text, "r%d", round);
            assert_int_equal (s_put (writer, key, text), 0);
            bytes += WP_JOURNAL_RECORD_HEADER + 6 + strlen (key) + strlen (text);
        }
        wp_analyzer_writer_flush (writer);
        //  (each flush a round of the writer's, as the analyzer's timer
        //  spaces them)
        assert_int_equal (wp_analyzer_writer_sync (writer, S_SYNC_MS), 0);
    }
    assert_int_equal (wp_analyzer_writer_sync (writer, S_SYNC_MS), 0);
    wp_analyzer_writer_counts_t counts;
    wp_analyzer_writer_counts (writer, &counts);
    assert_int_equal (counts.durable, 20 * keys);
    //  A checkpoint began (at the first flush past 8 KiB): the journal
    //  started a new generation, so it holds less than all that was written
    uint64_t size = s_journal_size (fixture);
    wp_analyzer_writer_destroy (&writer);
    assert_true (size < bytes);
    char value [64];
    for (int i = 0; i < keys; i++) {
        char key [32];
        snprintf (key, sizeof key, "pair-%05d", i);
        s_get (fixture, key, value, sizeof value);
        assert_string_equal (value, "r19");
    }
}

//  The process's file size limit at 1 byte (on) or back (off): every
//  write that extends a file fails with EFBIG (SIGXFSZ ignored).
static void
s_limit_files (bool on, struct rlimit *saved)
{
    if (on) {
        assert_int_equal (getrlimit (RLIMIT_FSIZE, saved), 0);
        struct rlimit limit = *saved;
        limit.rlim_cur = 1;     //  (the journal's header is 32 bytes)
        assert_int_equal (setrlimit (RLIMIT_FSIZE, &limit), 0);
    }
    else
        assert_int_equal (setrlimit (RLIMIT_FSIZE, saved), 0);
}

//  While the journal's flushes fail the writer keeps what it has, refuses
//  more past pending_max (they stay the analyzer's to hand over again),
//  and writes all it kept at the first flush that succeeds.
static void
test_refuses_while_failing (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    signal (SIGXFSZ, SIG_IGN);
    wp_analyzer_writer_t *writer = s_writer (fixture, 1 << 20, 10);
    struct rlimit saved;
    s_limit_files (true, &saved);
    for (int i = 0; i < 6; i++)
        assert_int_equal (s_put (writer, "pair-a", "kept"), 0);
    wp_analyzer_writer_flush (writer);
    assert_int_equal (wp_analyzer_writer_sync (writer, S_SYNC_MS), 0);
    wp_analyzer_writer_counts_t counts;
    wp_analyzer_writer_counts (writer, &counts);
    assert_int_equal (counts.durable, 0);
    assert_true (counts.failures >= 1);
    //  Below pending_max: taken (6 waiting + 6 handed now = 12 >= 10)
    for (int i = 0; i < 6; i++)
        assert_int_equal (s_put (writer, "pair-b", "kept"), 0);
    wp_analyzer_writer_flush (writer);
    //  Past it: refused, counted
    assert_int_equal (s_put (writer, "pair-c", "refused"), -1);
    wp_analyzer_writer_counts (writer, &counts);
    assert_int_equal (counts.refused, 1);
    assert_int_equal (wp_analyzer_writer_sync (writer, S_SYNC_MS), 0);

    s_limit_files (false, &saved);
    wp_analyzer_writer_flush (writer);          //  (the retry)
    assert_int_equal (wp_analyzer_writer_sync (writer, S_SYNC_MS), 0);
    wp_analyzer_writer_counts (writer, &counts);
    assert_int_equal (counts.durable, 12);
    //  Taken again once the flushes succeed
    wp_analyzer_writer_flush (writer);
    assert_int_equal (s_put (writer, "pair-c", "taken"), 0);
    wp_analyzer_writer_flush (writer);
    assert_int_equal (wp_analyzer_writer_sync (writer, S_SYNC_MS), 0);
    wp_analyzer_writer_counts (writer, &counts);
    assert_int_equal (counts.durable, 13);
    wp_analyzer_writer_destroy (&writer);
    signal (SIGXFSZ, SIG_DFL);
    char value [64];
    s_get (fixture, "pair-b", value, sizeof value);
    assert_string_equal (value, "kept");
    s_get (fixture, "pair-c", value, sizeof value);
    assert_string_equal (value, "taken");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_durable_then_stored, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_checkpoint_while_flushing, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_refuses_while_failing, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
