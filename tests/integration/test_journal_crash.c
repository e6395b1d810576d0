/*  =========================================================================
    test_journal_crash - the analyzer's crash bound with its journal,
    proved with kill -9 on the real processes (warmup-bus and
    warmup-analyzer):
      * with store/batch_max = 100 and a flush period longer than the
        test, the analyzer's journal is flushed exactly after every 100th
        event; the test learns the same events in a core of its own and so
        knows the records each flush made durable. It waits until the
        analyzer's heartbeat reports the durable records of 1000 events and
        has learned 50 more (the open batch), kills it with SIGKILL, starts
        it again, stops it, and reads its LMDB: the pairs and models are
        byte for byte those of the first 1000 events, the open batch's
        new pairs are missing, nothing else is. A small journal_max_kb
        makes checkpoints happen during the run (on the analyzer's
        writer thread, so at the kill one may have ended, or be in
        progress, or not), and recovery combines them with a journal
        tail: the last flush's records are always in the journal;
      * kill -9 while a checkpoint applies the old journal generation
        (in slices of one write, so that it lasts; the test sees its
        file, pairs.journal.applying, and kills): the restart applies the
        old generation, then the new one, and LMDB equals the records of
        every flush, byte for byte;
      * a journal with a corrupt record in the middle is refused (exit
        78) naming the file and the offset; --reset-store analyzer moves it
        aside and the analyzer starts from its checkpoint.
    Every wait is for the event that proves the point, with a bound.
    =========================================================================
*/
#include "itest.h"
#include "wp_analyzer.h"
#include "wp_analyzer_log.h"
#include "wp_journal.h"
#include "wp_store.h"
#include <fcntl.h>

#define S_BATCH 100
#define S_DURABLE 1000              //  events the journal holds at the kill
#define S_OPEN 50                   //  events of the open batch
#define S_USERS 30
#define S_MODELS 3

//  The analyzer's options as the deployment's defaults give them (the
//  test's own analyzers learn as warmup-analyzer does).
static wp_analyzer_opts_t
s_analyzer_opts (void)
{
    wp_config_t *config = wp_config_new ();
    wp_analyzer_opts_t opts = { .max_pairs = config->max_pairs,
                                .rate_half_life_s = config->usage_window_seconds };
    wp_config_destroy (&config);
    return opts;
}

//  Write the deployment's config: a batch of S_BATCH events, no timed
//  flush within the test, a small journal (checkpoints during the run).
static void
s_config (itest_t *it, int slice)
{
    char text [2048];
    snprintf (text, sizeof text,
              "max_cpu_percent = 100\n"
              "metrics_listen = \"127.0.0.1:0\"\n"
              "bus\n"
              "    pub_endpoint = \"%s\"\n"
              "    sub_endpoint = \"%s\"\n"
              "    heartbeat_ms = 100\n"
              "    max_events_per_s_per_source = 0\n"
              "store\n"
              "    data_dir = \"%s\"\n"
              "    batch_max = %d\n"
              "    flush_ms = 3600000\n"
              "    checkpoint_s = 86400\n"
              "    journal_max_kb = 64\n"
              "    checkpoint_slice = %d\n",
              it->pub, it->sub, it->data_dir, S_BATCH, slice);
    wp_test_write_file (it->config, text);
}

//  The analyzer's heartbeat: records made durable, pairs known.
typedef struct {
    uint64_t persisted, items;
    uint64_t want_persisted, want_items;
} s_beat_t;

static bool
s_is_beat (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    s_beat_t *want = (s_beat_t *) arg;
    const Warmup__V1__Heartbeat *beat = (const Warmup__V1__Heartbeat *) msg;
    if (topic != WP_TOPIC_HEARTBEAT || !streq (beat->component, "analyzer"))
        return false;
    want->persisted = beat->persisted;
    want->items = beat->state_items;
    return beat->persisted == want->want_persisted && beat->state_items == want->want_items;
}

//  A record handed by a drain, counted (arg: a counter).
static int
s_count (const char *db, const void *key, size_t key_len, const void *value,
         size_t value_len, void *arg)
{
    (*(uint64_t *) arg)++;
    return 0;
}

//  Free a chunk held by a zhash.
static void
s_chunk_free (void *data)
{
    zchunk_t *chunk = (zchunk_t *) data;
    zchunk_destroy (&chunk);
}

//  What the analyzer's LMDB must hold: the records of a core, keyed
//  "db/key" (hex), the value bytes.
static int
s_expect (const char *db, const void *key, size_t key_len, const void *value,
          size_t value_len, void *arg)
{
    zhash_t *expected = (zhash_t *) arg;
    assert_non_null (value);
    char *name = zsys_sprintf ("%s/", db);
    for (size_t i = 0; i < key_len; i++) {
        char *longer = zsys_sprintf ("%s%02x", name, ((const uint8_t *) key) [i]);
        zstr_free (&name);
        name = longer;
    }
    zchunk_t *chunk = zchunk_new (value, value_len);
    zhash_insert (expected, name, chunk);
    zhash_freefn (expected, name, s_chunk_free);
    zstr_free (&name);
    return 0;
}

//  Compare one stored record with the expected ones (arg: [db, expected,
//  matched count, mismatches]).
static int
s_compare (const void *key, size_t key_len, const void *value, size_t value_len,
           uint16_t version, void *arg)
{
    void **args = (void **) arg;
    const char *db = (const char *) args [0];
    zhash_t *expected = (zhash_t *) args [1];
    char *name = zsys_sprintf ("%s/", db);
    for (size_t i = 0; i < key_len; i++) {
        char *longer = zsys_sprintf ("%s%02x", name, ((const uint8_t *) key) [i]);
        zstr_free (&name);
        name = longer;
    }
    zchunk_t *want = (zchunk_t *) zhash_lookup (expected, name);
    if (want && version == WP_ANALYZER_RECORD_VERSION && zchunk_size (want) == value_len
        && memcmp (zchunk_data (want), value, value_len) == 0)
        (*(size_t *) args [2])++;
    else {
        (*(size_t *) args [3])++;
        print_message ("stored %s differs from what the flushed events give (%s)\n", name,
                       want ? "value" : "not expected");
    }
    zstr_free (&name);
    return 0;
}

//  The analyzer's LMDB in dir holds, byte for byte, the records of the
//  core whole (drained: every record it has), and nothing else.
static void
s_check_store (const char *dir, wp_analyzer_t *whole)
{
    zhash_t *expected = zhash_new ();
    assert_true (wp_analyzer_drain (whole, s_expect, expected) > 0);
    wp_store_opts_t store_opts = { .owner = "analyzer" };
    wp_store_t *store = wp_store_new (dir, &store_opts);
    assert_non_null (store);
    size_t matched = 0, mismatched = 0;
    const char *dbs [] = { "models", "pairs" };
    for (int i = 0; i < 2; i++) {
        void *args [] = { (void *) dbs [i], expected, &matched, &mismatched };
        assert_int_equal (wp_store_iterate (store, dbs [i], s_compare, args), 0);
    }
    wp_store_destroy (&store);
    print_message ("journal: %zu records stored after the restart equal the %zu of the "
                   "flushed events, %zu differ\n", matched, zhash_size (expected),
                   mismatched);
    assert_int_equal (mismatched, 0);
    assert_int_equal (matched, zhash_size (expected));
    zhash_destroy (&expected);
}

//  Publish the events, learning them (as the bus delivered them, the
//  user hashed) in `flushed` (drained every S_BATCH events, the records
//  counted in *durable) and in `whole` (the first S_DURABLE, not drained).
static void
s_publish_and_learn (itest_t *it, wp_analyzer_t *flushed, wp_analyzer_t *whole,
                     uint64_t *durable, uint64_t *pairs_open)
{
    const char *topics [] = { "usage.observed", NULL };
    wp_bus_t *watch = itest_bus (it, topics);
    wp_bus_t *bus = itest_bus (it, topics);
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    char user [64], model [32];
    usage.user = user;
    usage.model = model;
    usage.task = WARMUP__V1__TASK__TASK_COMPLETION;
    const uint64_t base_ms = 1700000000000ull;
    for (int i = 0; i < S_DURABLE + S_OPEN; i++) {
        //  The open batch: users of their own (new pairs the kill loses)
        int u = i < S_DURABLE ? (i * 7) % S_USERS : S_USERS + i;
        snprintf (user, sizeof user, "journal-user-%d", u);
        snprintf (model, sizeof model, "model-%d", (i / 3 + u) % S_MODELS);
        usage.event_ms = base_ms + (uint64_t) i * 7000;
        assert_int_equal (wp_bus_publish (bus, WP_TOPIC_USAGE, &usage.base), 0);
    }
    int learned = 0;
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    while (learned < S_DURABLE + S_OPEN && zclock_mono () < deadline) {
        wp_bus_event_t event;
        if (wp_bus_recv_wait (watch, &event, 200) != 1)
            continue;
        const Warmup__V1__UsageObserved *seen = (const Warmup__V1__UsageObserved *) event.msg;
        uint64_t hash;
        assert_int_equal (wp_user_id_parse (seen->user, &hash), 0);
        assert_int_equal (wp_analyzer_observe (flushed, hash, seen->model, seen->event_ms), 0);
        //  As the analyzer does: what the event changed goes to the batch
        //  at once (durable with the batch's flush; the open batch's not)
        uint64_t open = 0;
        assert_true (wp_analyzer_drain_recent (flushed, s_count,
                                               learned < S_DURABLE ? durable : &open) >= 0);
        if (learned < S_DURABLE)
            assert_int_equal (wp_analyzer_observe (whole, hash, seen->model, seen->event_ms),
                              0);
        learned++;
        if (learned % S_BATCH == 0 && learned <= S_DURABLE)
            assert_true (wp_analyzer_drain (flushed, s_count, durable) >= 0);
        wp_bus_event_free (&event);
    }
    assert_int_equal (learned, S_DURABLE + S_OPEN);
    *pairs_open = wp_analyzer_pairs (flushed);
    wp_bus_destroy (&bus);
    wp_bus_destroy (&watch);
}

//  kill -9 after a flush the heartbeat acknowledged, with an open batch
//  learned and not flushed: the restart has exactly the flushed state.
static void
test_kill_after_flush (void **state)
{
    itest_t it;
    itest_init (&it, "journal-crash", NULL);
    s_config (&it, 1024);
    wp_analyzer_opts_t opts = s_analyzer_opts ();
    wp_analyzer_t *flushed = wp_analyzer_new (&opts);
    wp_analyzer_t *whole = wp_analyzer_new (&opts);
    wp_test_proc_t *bus = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *analyzer = itest_start (&it, "warmup-analyzer", NULL, NULL);
    const char *topics [] = { "heartbeat", NULL };
    wp_bus_t *client = itest_bus (&it, topics);

    uint64_t durable = 0, pairs_open = 0;
    s_publish_and_learn (&it, flushed, whole, &durable, &pairs_open);
    //  The analyzer made the records of 1000 events durable and learned
    //  the open batch (its new pairs are counted)
    s_beat_t beat = { .want_persisted = durable, .want_items = pairs_open };
    if (!itest_wait_event (client, s_is_beat, &beat, ITEST_EVENT_MS))
        fail_msg ("no heartbeat with %" PRIu64 " records durable and %" PRIu64
                  " pairs (last: %" PRIu64 ", %" PRIu64 "):\n%s", durable, pairs_open,
                  beat.persisted, beat.items, wp_test_proc_output (analyzer));
    assert_true (pairs_open > wp_analyzer_pairs (whole));
    assert_int_equal (kill (wp_test_proc_pid (analyzer), SIGKILL), 0);
    assert_int_equal (wp_test_proc_wait (analyzer, wp_test_ms (ITEST_STOP_MS)), 128 + SIGKILL);
    wp_test_proc_destroy (&analyzer);

    //  What the kill left: a checkpoint in LMDB and a journal past it
    char *dir = zsys_sprintf ("%s/analyzer", it.data_dir);
    char *journal = zsys_sprintf ("%s/%s", dir, WP_ANALYZER_JOURNAL);
    wp_store_opts_t store_opts = { .owner = "analyzer" };
    wp_store_t *store = wp_store_new (dir, &store_opts);
    assert_non_null (store);
    //  (none yet when the writer's thread had not ended a checkpoint by
    //  the kill: then the journal holds all)
    uint8_t covered [16] = { 0 };
    size_t covered_len = 0;
    int found = wp_store_get (store, "journal", "covered", 7, covered, sizeof covered,
                              &covered_len, NULL);
    assert_true (found == 0 || found == 1);
    wp_store_destroy (&store);
    zfile_t *file = zfile_new (NULL, journal);
    assert_non_null (file);
    off_t journal_size = zfile_cursize (file);
    zfile_destroy (&file);
    print_message ("journal: checkpointed at generation %" PRIu64 ", %jd bytes of journal "
                   "past it at the kill; %" PRIu64 " records durable\n",
                   wp_get_u64 (covered), (intmax_t) journal_size, durable);
    assert_true (journal_size > WP_JOURNAL_HEADER);

    //  Restart: recovery replays the journal; then a clean stop
    analyzer = itest_start (&it, "warmup-analyzer", NULL, NULL);
    s_beat_t after = { .want_persisted = 0, .want_items = wp_analyzer_pairs (whole) };
    if (!itest_wait_event (client, s_is_beat, &after, ITEST_EVENT_MS))
        fail_msg ("after the restart %" PRIu64 " pairs, want %zu:\n%s", after.items,
                  wp_analyzer_pairs (whole), wp_test_proc_output (analyzer));
    if (!strstr (wp_test_proc_output (analyzer), "recovered"))
        fail_msg ("no word of the journal's recovery:\n%s", wp_test_proc_output (analyzer));
    assert_int_equal (wp_test_proc_stop (analyzer, SIGTERM, wp_test_ms (ITEST_STOP_MS)), 0);
    wp_test_proc_destroy (&analyzer);

    //  LMDB holds, byte for byte, the pairs and models of the 1000
    //  events, and nothing of the open batch
    s_check_store (dir, whole);
    print_message ("journal: the open batch's %" PRIu64 " new pairs are lost\n",
                   (uint64_t) (pairs_open - wp_analyzer_pairs (whole)));
    zstr_free (&journal);
    zstr_free (&dir);
    wp_bus_destroy (&client);
    wp_analyzer_destroy (&flushed);
    wp_analyzer_destroy (&whole);
    itest_stop (&bus, "warmup-bus");
    itest_destroy (&it);
}

//  Publish S_BATCH events of users of their own (from user first) and
//  learn them as the bus delivered them in whole and in flushed, drained
//  (the records of the analyzer's flush added to *durable).
static void
s_publish_batch (wp_bus_t *bus, wp_bus_t *watch, wp_analyzer_t *flushed,
                 wp_analyzer_t *whole, int first, uint64_t *durable)
{
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    char user [64], model [32];
    usage.user = user;
    usage.model = model;
    usage.task = WARMUP__V1__TASK__TASK_COMPLETION;
    for (int i = first; i < first + S_BATCH; i++) {
        snprintf (user, sizeof user, "slice-user-%d", i);
        snprintf (model, sizeof model, "model-%d", i % S_MODELS);
        usage.event_ms = 1700000000000ull + (uint64_t) i * 7000;
        assert_int_equal (wp_bus_publish (bus, WP_TOPIC_USAGE, &usage.base), 0);
    }
    int learned = 0;
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    while (learned < S_BATCH && zclock_mono () < deadline) {
        wp_bus_event_t event;
        if (wp_bus_recv_wait (watch, &event, 200) != 1)
            continue;
        const Warmup__V1__UsageObserved *seen = (const Warmup__V1__UsageObserved *) event.msg;
        uint64_t hash;
        assert_int_equal (wp_user_id_parse (seen->user, &hash), 0);
        assert_int_equal (wp_analyzer_observe (whole, hash, seen->model, seen->event_ms), 0);
        assert_int_equal (wp_analyzer_observe (flushed, hash, seen->model, seen->event_ms),
                          0);
        assert_true (wp_analyzer_drain_recent (flushed, s_count, durable) >= 0);
        learned++;
        wp_bus_event_free (&event);
    }
    assert_int_equal (learned, S_BATCH);
    assert_true (wp_analyzer_drain (flushed, s_count, durable) > 0);
}

//  kill -9 while a checkpoint is applying the old journal generation (a
//  slice of one write, so that it lasts): the restart applies it and the
//  new generation, and LMDB equals the flushed records.
static void
test_kill_in_checkpoint (void **state)
{
    itest_t it;
    itest_init (&it, "journal-slices", NULL);
    s_config (&it, 1);
    wp_analyzer_opts_t opts = s_analyzer_opts ();
    wp_analyzer_t *whole = wp_analyzer_new (&opts);
    wp_analyzer_t *flushed = wp_analyzer_new (&opts);
    wp_test_proc_t *bus_proc = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *analyzer = itest_start (&it, "warmup-analyzer", NULL, NULL);
    const char *heartbeats [] = { "heartbeat", NULL };
    wp_bus_t *client = itest_bus (&it, heartbeats);
    const char *usage_topics [] = { "usage.observed", NULL };
    wp_bus_t *watch = itest_bus (&it, usage_topics);
    wp_bus_t *bus = itest_bus (&it, usage_topics);
    char *dir = zsys_sprintf ("%s/analyzer", it.data_dir);
    char *old = zsys_sprintf ("%s/%s", dir, WP_ANALYZER_JOURNAL_OLD);

    //  A batch at a time (one flush each), each acknowledged by the
    //  heartbeat (no flush follows it), until a checkpoint is seen in
    //  progress; then the kill
    bool killed = false;
    uint64_t durable = 0;
    for (int batch = 0; batch < 60 && !killed; batch++) {
        s_publish_batch (bus, watch, flushed, whole, batch * S_BATCH, &durable);
        s_beat_t beat = { .want_persisted = durable,
                          .want_items = wp_analyzer_pairs (whole) };
        if (!itest_wait_event (client, s_is_beat, &beat, ITEST_EVENT_MS))
            fail_msg ("no heartbeat with %" PRIu64 " records durable and %zu pairs (last: %"
                      PRIu64 ", %" PRIu64 "):\n%s", durable, wp_analyzer_pairs (whole),
                      beat.persisted, beat.items, wp_test_proc_output (analyzer));
        if (zsys_file_exists (old)) {
            assert_int_equal (kill (wp_test_proc_pid (analyzer), SIGKILL), 0);
            killed = true;
            print_message ("journal: killed during a checkpoint after %d flushes, %" PRIu64
                           " records durable\n", batch + 1, durable);
        }
    }
    assert_true (killed);
    assert_int_equal (wp_test_proc_wait (analyzer, wp_test_ms (ITEST_STOP_MS)), 128 + SIGKILL);
    wp_test_proc_destroy (&analyzer);
    if (!zsys_file_exists (old))
        fail_msg ("the checkpoint ended before the kill landed: nothing was proved");

    analyzer = itest_start (&it, "warmup-analyzer", NULL, NULL);
    s_beat_t after = { .want_persisted = 0, .want_items = wp_analyzer_pairs (whole) };
    if (!itest_wait_event (client, s_is_beat, &after, ITEST_EVENT_MS))
        fail_msg ("after the restart %" PRIu64 " pairs, want %zu:\n%s", after.items,
                  wp_analyzer_pairs (whole), wp_test_proc_output (analyzer));
    if (!strstr (wp_test_proc_output (analyzer), "recovered"))
        fail_msg ("no word of the journal's recovery:\n%s", wp_test_proc_output (analyzer));
    assert_int_equal (wp_test_proc_stop (analyzer, SIGTERM, wp_test_ms (ITEST_STOP_MS)), 0);
    wp_test_proc_destroy (&analyzer);
    assert_false (zsys_file_exists (old));
    s_check_store (dir, whole);

    zstr_free (&old);
    zstr_free (&dir);
    wp_bus_destroy (&bus);
    wp_bus_destroy (&watch);
    wp_bus_destroy (&client);
    wp_analyzer_destroy (&whole);
    wp_analyzer_destroy (&flushed);
    itest_stop (&bus_proc, "warmup-bus");
    itest_destroy (&it);
}

//  A journal with a corrupt record in the middle: refused, exit 78, the
//  file and offset named; --reset-store analyzer moves it aside.
static void
test_corrupt_journal (void **state)
{
    itest_t it;
    itest_init (&it, "journal-corrupt", NULL);
    s_config (&it, 1024);
    char *dir = zsys_sprintf ("%s/analyzer", it.data_dir);
    assert_int_equal (zsys_dir_create ("%s", dir), 0);
    char *path = zsys_sprintf ("%s/%s", dir, WP_ANALYZER_JOURNAL);
    wp_journal_t *journal = wp_journal_open (path, NULL, NULL, NULL, 0);
    assert_non_null (journal);
    uint64_t bad = wp_journal_size (journal);
    for (int flush = 0; flush < 2; flush++) {
        assert_int_equal (wp_journal_append (journal, "a record", 8), 0);
        assert_int_equal (wp_journal_flush (journal), 0);
    }
    wp_journal_destroy (&journal);
    int fd = open (path, O_WRONLY);
    assert_true (fd >= 0);
    assert_int_equal (pwrite (fd, "X", 1, (off_t) bad + WP_JOURNAL_RECORD_HEADER + 2), 1);
    close (fd);

    char *program = wp_test_bin ("warmup-analyzer");
    const char *argv [] = { program, "-c", it.config, NULL };
    char *output = NULL;
    int code = wp_test_run (argv, wp_test_ms (ITEST_START_MS), &output);
    char offset [32];
    snprintf (offset, sizeof offset, "offset %" PRIu64, bad);
    if (code != 78 || !strstr (output, path) || !strstr (output, offset)
        || !strstr (output, "--reset-store analyzer"))
        fail_msg ("exit %d; the refusal does not name the file, '%s' and the way out:\n%s",
                  code, offset, output);
    free (output);
    free (program);

    wp_test_proc_t *bus = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *analyzer = itest_start (&it, "warmup-analyzer", "--reset-store",
                                            "analyzer");
    if (!strstr (wp_test_proc_output (analyzer), "moved aside"))
        fail_msg ("no word of the journal moved aside:\n%s", wp_test_proc_output (analyzer));
    itest_stop (&analyzer, "warmup-analyzer");
    itest_stop (&bus, "warmup-bus");
    zstr_free (&path);
    zstr_free (&dir);
    itest_destroy (&it);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_kill_after_flush),
        cmocka_unit_test (test_kill_in_checkpoint),
        cmocka_unit_test (test_corrupt_journal),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
