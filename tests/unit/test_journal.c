/*  =========================================================================
    test_journal - the append-only journal: append, flush, replay, a torn
    tail cut at every byte of the last record, a corrupt record in the
    middle refused with its offset, a version this build does not read,
    a rotation after a checkpoint, and one aside (the old generation kept
    for a checkpoint while the new one takes the appends).
    =========================================================================
*/
#include "testutil.h"
#include "wp_journal.h"

#include <czmq.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <signal.h>
#include <sys/resource.h>
#include <zlib.h>

typedef struct {
    char *dir;                  //  temporary directory, removed after
    char *path;                 //  the journal in it
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) zmalloc (sizeof (s_fixture_t));
    fixture->dir = wp_test_tmpdir ("test_journal");
    fixture->path = zsys_sprintf ("%s/pairs.journal", fixture->dir);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_test_rmtree (fixture->dir);
    free (fixture->dir);
    zstr_free (&fixture->path);
    free (fixture);
    return 0;
}

//  What a replay saw: the records' texts, in order, and their offsets.
typedef struct {
    char texts [64][64];
    uint64_t offsets [64];
    int count;
} s_seen_t;

static int
s_collect (const void *data, size_t size, uint64_t offset, void *arg)
{
    s_seen_t *seen = (s_seen_t *) arg;
    assert_true (seen->count < 64 && size < 64);
    memcpy (seen->texts [seen->count], data, size);
    seen->texts [seen->count][size] = 0;
    seen->offsets [seen->count] = offset;
    seen->count++;
    return 0;
}

//  Append text as a record.
static void
s_append (wp_journal_t *journal, const char *text)
{
    assert_int_equal (wp_journal_append (journal, text, strlen (text)), 0);
}

//  Open path, expecting success.
static wp_journal_t *
s_open (const char *path, uint64_t generation)
{
    char why [512];
    wp_journal_fail_t fail;
    wp_journal_opts_t opts = { .generation = generation };
    wp_journal_t *journal = wp_journal_open (path, &opts, &fail, why, sizeof why);
    if (!journal)
        fail_msg ("open failed: %s", why);
    return journal;
}

//  Size of the file at path.
static off_t
s_file_size (const char *path)
{
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    return st.st_size;
}

//  Overwrite one byte of path at offset with value.
static void
s_poke (const char *path, off_t offset, uint8_t value)
{
    int fd = open (path, O_WRONLY);
    assert_true (fd >= 0);
    assert_int_equal (pwrite (fd, &value, 1, offset), 1);
    close (fd);
}

//  Records appended are in the file only after a flush; replay gives
//  them back in order with their offsets, from any record boundary.
static void
test_append_flush_replay (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_journal_t *journal = s_open (fixture->path, 7);
    assert_int_equal (wp_journal_generation (journal), 7);
    assert_int_equal (wp_journal_size (journal), WP_JOURNAL_HEADER);
    s_append (journal, "one");
    s_append (journal, "two");
    assert_int_equal (wp_journal_pending (journal), 2);
    assert_int_equal (s_file_size (fixture->path), WP_JOURNAL_HEADER);
    s_seen_t seen = { .count = 0 };
    assert_int_equal (wp_journal_replay (journal, WP_JOURNAL_HEADER, s_collect, &seen), 0);
    assert_int_equal (seen.count, 0);       //  nothing flushed yet
    assert_int_equal (wp_journal_flush (journal), 0);
    assert_int_equal (wp_journal_pending (journal), 0);
    assert_int_equal (wp_journal_durable (journal), 2);
    s_append (journal, "three");
    assert_int_equal (wp_journal_flush (journal), 0);
    assert_int_equal (wp_journal_flush (journal), 0);      //  nothing: no-op
    uint64_t size = WP_JOURNAL_HEADER + 3 * WP_JOURNAL_RECORD_HEADER + 3 + 3 + 5;
    assert_int_equal (wp_journal_size (journal), size);
    assert_int_equal (s_file_size (fixture->path), (off_t) size);
    assert_int_equal (wp_journal_replay (journal, WP_JOURNAL_HEADER, s_collect, &seen), 0);
    assert_int_equal (seen.count, 3);
    assert_string_equal (seen.texts [0], "one");
    assert_string_equal (seen.texts [2], "three");
    //  A scan (checksums not computed) walks the same records
    s_seen_t scanned = { .count = 0 };
    assert_int_equal (wp_journal_scan (journal, WP_JOURNAL_HEADER, s_collect, &scanned), 0);
    assert_int_equal (scanned.count, 3);
    assert_string_equal (scanned.texts [1], "two");
    assert_true (scanned.offsets [2] == seen.offsets [2]);
    //  From the second record's offset
    s_seen_t tail = { .count = 0 };
    assert_int_equal (wp_journal_replay (journal, seen.offsets [1], s_collect, &tail), 0);
    assert_int_equal (tail.count, 2);
    assert_string_equal (tail.texts [0], "two");
    wp_journal_destroy (&journal);
    assert_null (journal);

    //  Reopened: the same records, the generation of the file
    journal = s_open (fixture->path, 99);
    assert_int_equal (wp_journal_generation (journal), 7);
    assert_int_equal (wp_journal_size (journal), size);
    assert_int_equal (wp_journal_torn (journal), 0);
    s_seen_t again = { .count = 0 };
    assert_int_equal (wp_journal_replay (journal, WP_JOURNAL_HEADER, s_collect, &again), 0);
    assert_int_equal (again.count, 3);
    assert_string_equal (again.texts [1], "two");
    wp_journal_destroy (&journal);
    wp_journal_destroy (&journal);          //  safe on NULL
}

//  The file is cut at every byte offset inside its last record (a flush
//  that did not complete): the open keeps the records before it, cuts the
//  tail, and says how many bytes it dropped; appending goes on after.
static void
test_torn_tail (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_journal_t *journal = s_open (fixture->path, 1);
    s_append (journal, "first");
    s_append (journal, "second");
    assert_int_equal (wp_journal_flush (journal), 0);
    uint64_t before_last = wp_journal_size (journal);
    s_append (journal, "the last record");
    assert_int_equal (wp_journal_flush (journal), 0);
    uint64_t whole = wp_journal_size (journal);
    wp_journal_destroy (&journal);
    zfile_t *file = zfile_new (NULL, fixture->path);
    assert_non_null (file);
    assert_int_equal (zfile_input (file), 0);
    zchunk_t *chunk = zfile_read (file, (size_t) whole, 0);
    assert_non_null (chunk);
    zfile_destroy (&file);
    for (uint64_t cut = before_last; cut < whole; cut++) {
        //  The file as a crash may leave it: the last record cut at cut
        int fd = open (fixture->path, O_WRONLY | O_TRUNC);
        assert_true (fd >= 0);
        assert_int_equal (write (fd, zchunk_data (chunk), (size_t) cut), (ssize_t) cut);
        close (fd);
        journal = s_open (fixture->path, 1);
        assert_int_equal (wp_journal_size (journal), before_last);
        assert_int_equal (wp_journal_torn (journal), cut - before_last);
        assert_int_equal (s_file_size (fixture->path), (off_t) before_last);
        s_seen_t seen = { .count = 0 };
        assert_int_equal (wp_journal_replay (journal, WP_JOURNAL_HEADER, s_collect, &seen), 0);
        assert_int_equal (seen.count, 2);
        assert_string_equal (seen.texts [1], "second");
        //  Appending goes on where the tail was cut
        s_append (journal, "after");
        assert_int_equal (wp_journal_flush (journal), 0);
        wp_journal_destroy (&journal);
        journal = s_open (fixture->path, 1);
        assert_int_equal (wp_journal_torn (journal), 0);
        s_seen_t after = { .count = 0 };
        assert_int_equal (wp_journal_replay (journal, WP_JOURNAL_HEADER, s_collect, &after),
                          0);
        assert_int_equal (after.count, 3);
        assert_string_equal (after.texts [2], "after");
        wp_journal_destroy (&journal);
    }
    //  A last record whose bytes did not land (its checksum fails) is
    //  torn too, also with zeros after it
    int fd = open (fixture->path, O_WRONLY | O_TRUNC);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, zchunk_data (chunk), (size_t) whole), (ssize_t) whole);
    close (fd);
    s_poke (fixture->path, (off_t) whole - 2, 'X');
    journal = s_open (fixture->path, 1);
    assert_int_equal (wp_journal_torn (journal), whole - before_last);
    wp_journal_destroy (&journal);
    zchunk_destroy (&chunk);
}

//  A record that fails its checksum with a later flush's record after
//  it is corruption: the open fails, naming the file and the offset.
static void
test_corrupt_middle (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_journal_t *journal = s_open (fixture->path, 1);
    s_append (journal, "first");
    assert_int_equal (wp_journal_flush (journal), 0);
    uint64_t second = wp_journal_size (journal);
    s_append (journal, "second");
    assert_int_equal (wp_journal_flush (journal), 0);
    s_append (journal, "third, a later flush");
    assert_int_equal (wp_journal_flush (journal), 0);
    wp_journal_destroy (&journal);
    s_poke (fixture->path, (off_t) second + WP_JOURNAL_RECORD_HEADER + 1, 'X');
    char why [512];
    wp_journal_fail_t fail;
    journal = wp_journal_open (fixture->path, NULL, &fail, why, sizeof why);
    assert_null (journal);
    assert_int_equal (fail, WP_JOURNAL_FAIL_CORRUPT);
    char offset [32];
    snprintf (offset, sizeof offset, "offset %" PRIu64, second);
    if (!strstr (why, fixture->path) || !strstr (why, offset))
        fail_msg ("the failure does not name the file and '%s': %s", offset, why);
    //  Nothing was cut: the file is as it was
    assert_true (s_file_size (fixture->path) > (off_t) second + 40);

    //  A file that is not a journal, or a header that does not check
    wp_test_write_file (fixture->path, "this is not a journal, it is longer than a header\n");
    journal = wp_journal_open (fixture->path, NULL, &fail, why, sizeof why);
    assert_null (journal);
    assert_int_equal (fail, WP_JOURNAL_FAIL_CORRUPT);
    assert_non_null (strstr (why, "not a journal"));
}

//  A version this build does not read is refused, naming both.
static void
test_version (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_journal_t *journal = s_open (fixture->path, 1);
    wp_journal_destroy (&journal);
    //  Version 2, with a header checksum that matches it
    uint8_t header [WP_JOURNAL_HEADER];
    int fd = open (fixture->path, O_RDWR);
    assert_int_equal (read (fd, header, sizeof header), (ssize_t) sizeof header);
    close (fd);
    header [11] = 2;
    uint32_t sum = (uint32_t) crc32 (0L, header, 28);
    header [28] = (uint8_t) (sum >> 24);
    header [29] = (uint8_t) (sum >> 16);
    header [30] = (uint8_t) (sum >> 8);
    header [31] = (uint8_t) sum;
    fd = open (fixture->path, O_WRONLY);
    assert_int_equal (pwrite (fd, header, sizeof header, 0), (ssize_t) sizeof header);
    close (fd);
    char why [512];
    wp_journal_fail_t fail;
    journal = wp_journal_open (fixture->path, NULL, &fail, why, sizeof why);
    assert_null (journal);
    assert_int_equal (fail, WP_JOURNAL_FAIL_VERSION);
    if (!strstr (why, "version 2") || !strstr (why, "reads version 1")
        || !strstr (why, fixture->path))
        fail_msg ("the failure does not name the versions and the file: %s", why);
}

//  After a checkpoint (here: what was replayed), the journal rotates:
//  a new generation, empty; records appended before the rotation and
//  not flushed are kept for the next flush.
static void
test_checkpoint_rotate (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_journal_t *journal = s_open (fixture->path, 3);
    s_append (journal, "covered");
    assert_int_equal (wp_journal_flush (journal), 0);
    s_seen_t checkpoint = { .count = 0 };
    assert_int_equal (wp_journal_replay (journal, WP_JOURNAL_HEADER, s_collect, &checkpoint),
                      0);
    assert_int_equal (checkpoint.count, 1);
    s_append (journal, "pending");
    assert_int_equal (wp_journal_rotate (journal), 0);
    assert_int_equal (wp_journal_generation (journal), 4);
    assert_int_equal (wp_journal_size (journal), WP_JOURNAL_HEADER);
    assert_int_equal (s_file_size (fixture->path), WP_JOURNAL_HEADER);
    assert_int_equal (wp_journal_pending (journal), 1);
    assert_int_equal (wp_journal_flush (journal), 0);
    wp_journal_destroy (&journal);
    journal = s_open (fixture->path, 1);
    assert_int_equal (wp_journal_generation (journal), 4);
    s_seen_t seen = { .count = 0 };
    assert_int_equal (wp_journal_replay (journal, WP_JOURNAL_HEADER, s_collect, &seen), 0);
    assert_int_equal (seen.count, 1);
    assert_string_equal (seen.texts [0], "pending");
    wp_journal_destroy (&journal);
    //  No file left beside it
    char *next = zsys_sprintf ("%s.new", fixture->path);
    assert_false (zsys_file_exists (next));
    zstr_free (&next);
}

//  A rotation aside (a checkpoint that runs while appends go on): the
//  old generation is renamed and still read (its records, checked), the
//  new one takes the appends, pending records included; a failed one
//  (the aside's directory missing) leaves the journal as it was.
static void
test_rotate_aside (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    char *aside = zsys_sprintf ("%s.applying", fixture->path);
    char *nowhere = zsys_sprintf ("%s/missing/pairs.journal.applying", fixture->dir);
    wp_journal_t *journal = s_open (fixture->path, 7);
    s_append (journal, "old one");
    s_append (journal, "old two");
    assert_int_equal (wp_journal_flush (journal), 0);
    uint64_t old_size = wp_journal_size (journal);
    assert_null (wp_journal_rotate_aside (journal, nowhere));
    assert_int_equal (wp_journal_generation (journal), 7);
    assert_int_equal (wp_journal_size (journal), old_size);
    s_append (journal, "pending");
    wp_journal_t *old = wp_journal_rotate_aside (journal, aside);
    assert_non_null (old);
    assert_int_equal (wp_journal_generation (old), 7);
    assert_int_equal (wp_journal_size (old), old_size);
    assert_int_equal (s_file_size (aside), old_size);
    assert_int_equal (wp_journal_generation (journal), 8);
    assert_int_equal (wp_journal_size (journal), WP_JOURNAL_HEADER);
    assert_int_equal (wp_journal_pending (journal), 1);
    assert_int_equal (wp_journal_flush (journal), 0);
    s_seen_t seen = { .count = 0 };
    assert_int_equal (wp_journal_replay (old, WP_JOURNAL_HEADER, s_collect, &seen), 0);
    assert_int_equal (seen.count, 2);
    assert_string_equal (seen.texts [1], "old two");
    wp_journal_destroy (&old);
    wp_journal_destroy (&journal);
    //  Both files read back as they were left
    journal = s_open (fixture->path, 1);
    assert_int_equal (wp_journal_generation (journal), 8);
    s_seen_t now = { .count = 0 };
    assert_int_equal (wp_journal_replay (journal, WP_JOURNAL_HEADER, s_collect, &now), 0);
    assert_int_equal (now.count, 1);
    assert_string_equal (now.texts [0], "pending");
    wp_journal_destroy (&journal);
    old = s_open (aside, 1);
    assert_int_equal (wp_journal_generation (old), 7);
    assert_int_equal (wp_journal_size (old), old_size);
    wp_journal_destroy (&old);
    zstr_free (&nowhere);
    zstr_free (&aside);
}

//  A flush that cannot write (the file size limit: EFBIG) is undone,
//  counted, keeps its records for the next one, and refuses records
//  beyond pending_max meanwhile; once it can write, all are there.
static void
test_flush_fails (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_journal_opts_t opts = { .generation = 1, .pending_max = 3 };
    char why [512];
    wp_journal_fail_t fail;
    wp_journal_t *journal = wp_journal_open (fixture->path, &opts, &fail, why, sizeof why);
    assert_non_null (journal);
    s_append (journal, "durable");
    assert_int_equal (wp_journal_flush (journal), 0);
    uint64_t size = wp_journal_size (journal);
    struct rlimit saved, limit;
    assert_int_equal (getrlimit (RLIMIT_FSIZE, &saved), 0);
    signal (SIGXFSZ, SIG_IGN);
    limit = saved;
    limit.rlim_cur = (rlim_t) size + 20;    //  room for part of a record
    assert_int_equal (setrlimit (RLIMIT_FSIZE, &limit), 0);
    s_append (journal, "waits one");
    s_append (journal, "waits two");
    assert_int_equal (wp_journal_flush (journal), -1);
    assert_int_equal (wp_journal_failures (journal), 1);
    assert_int_equal (wp_journal_pending (journal), 2);
    assert_int_equal (s_file_size (fixture->path), (off_t) size);   //  undone
    s_append (journal, "waits three");
    assert_int_equal (wp_journal_append (journal, "refused", 7), -1);
    assert_int_equal (wp_journal_refused (journal), 1);
    assert_int_equal (wp_journal_flush (journal), -1);
    assert_int_equal (wp_journal_failures (journal), 2);
    assert_int_equal (setrlimit (RLIMIT_FSIZE, &saved), 0);
    signal (SIGXFSZ, SIG_DFL);
    assert_int_equal (wp_journal_flush (journal), 0);
    assert_int_equal (wp_journal_durable (journal), 4);
    wp_journal_destroy (&journal);
    journal = s_open (fixture->path, 1);
    s_seen_t seen = { .count = 0 };
    assert_int_equal (wp_journal_replay (journal, WP_JOURNAL_HEADER, s_collect, &seen), 0);
    assert_int_equal (seen.count, 4);
    assert_string_equal (seen.texts [3], "waits three");
    wp_journal_destroy (&journal);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_append_flush_replay, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_torn_tail, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_corrupt_middle, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_version, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_checkpoint_rotate, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rotate_aside, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_flush_fails, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
