/*  =========================================================================
    test_faults - what a component does when its storage or its children
    fail, started the way a user starts it:
      * a data.mdb that is not LMDB, or truncated: refused with exit 78,
        the file and --reset-store named; --reset-store moves it aside;
      * a data directory that cannot be written: refused, named;
      * a full disk (a small tmpfs) and a map at store/map_max_mb: the
        component keeps running, its heartbeats count the failed commits
        (or journal flushes) and the refused writes, the log says what to
        do;
      * kill -9 of the queue during an exec warmup: no orphan.
    The mounts need root (CI is); without it those cases say so and pass.
    =========================================================================
*/
#include "itest.h"
#include "wp_store.h"
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <poll.h>
#include <dirent.h>

//  Run a component to its end (it must refuse to start); returns its
//  exit code, its output in *output.
static int
s_run_component (itest_t *it, const char *program, const char *flag, const char *value,
                 char **output)
{
    char *path = wp_test_bin (program);
    const char *argv [] = { path, "-c", it->config, flag, value, NULL };
    int code = wp_test_run (argv, ITEST_START_MS, output);
    free (path);
    return code;
}

//  Path of a component's data.mdb (static buffer).
static const char *
s_data_file (itest_t *it, const char *component)
{
    static char path [600];
    snprintf (path, sizeof path, "%s/%s/data.mdb", it->data_dir, component);
    return path;
}

//  A file that is not LMDB is refused, naming the file and the way out;
//  --reset-store moves it aside and the component starts.
static void
test_not_lmdb (void **state)
{
    itest_t it;
    itest_init (&it, "faults-notlmdb", NULL);
    char dir [600];
    snprintf (dir, sizeof dir, "%s/perf", it.data_dir);
    assert_int_equal (zsys_dir_create ("%s", dir), 0);
    wp_test_write_file (s_data_file (&it, "perf"), "this is not an LMDB file\n");
    char *output = NULL;
    int code = s_run_component (&it, "warmup-perf", NULL, NULL, &output);
    assert_int_equal (code, 78);
    if (!strstr (output, s_data_file (&it, "perf")) || !strstr (output, "--reset-store perf"))
        fail_msg ("the refusal does not name the file and the way out:\n%s", output);
    free (output);
    //  Still refused: nothing was touched
    assert_true (zsys_file_exists (s_data_file (&it, "perf")));

    wp_test_proc_t *bus = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *perf = itest_start (&it, "warmup-perf", "--reset-store", "perf");
    if (!strstr (wp_test_proc_output (perf), "moved aside"))
        fail_msg ("no word of the store moved aside:\n%s", wp_test_proc_output (perf));
    DIR *listing = opendir (dir);
    assert_non_null (listing);
    bool aside = false;
    for (struct dirent *entry = readdir (listing); entry; entry = readdir (listing))
        aside |= strncmp (entry->d_name, "data.mdb.corrupt-", 17) == 0;
    closedir (listing);
    assert_true (aside);
    itest_stop (&perf, "warmup-perf");
    itest_stop (&bus, "warmup-bus");
    itest_destroy (&it);
}

//  A data.mdb cut short (a partial copy) is refused before LMDB maps it.
static void
test_truncated (void **state)
{
    itest_t it;
    itest_init (&it, "faults-trunc", NULL);
    char dir [600];
    snprintf (dir, sizeof dir, "%s/perf", it.data_dir);
    wp_store_opts_t opts = { .owner = "perf" };
    wp_store_t *store = wp_store_new (dir, &opts);
    assert_non_null (store);
    char key [32], value [512];
    memset (value, 'v', sizeof value);
    for (int i = 0; i < 2000; i++) {
        snprintf (key, sizeof key, "model-%05d", i);
        assert_int_equal (wp_store_put (store, "models", key, strlen (key), value,
                                        sizeof value, 1), 0);
    }
    wp_store_destroy (&store);
    assert_int_equal (truncate (s_data_file (&it, "perf"), 3 * 4096), 0);
    char *output = NULL;
    int code = s_run_component (&it, "warmup-perf", NULL, NULL, &output);
    assert_int_equal (code, 78);
    if (!strstr (output, "truncated") || !strstr (output, "--reset-store perf"))
        fail_msg ("the refusal does not say truncated and the way out:\n%s", output);
    free (output);
    itest_destroy (&it);
}

//  Mount a tmpfs of size_kb (ro: read-only) on path; false when the
//  machine does not let us (not root).
static bool
s_mount (const char *path, int size_kb, bool ro)
{
    char options [64];
    snprintf (options, sizeof options, "size=%dk", size_kb);
    if (mount ("tmpfs", path, "tmpfs", ro ? MS_RDONLY : 0, options) == 0)
        return true;
    print_message ("SKIPPED (this case): cannot mount a tmpfs on %s: %s\n", path,
                   strerror (errno));
    return false;
}

//  A data directory nobody can write: refused, naming it.
static void
test_unwritable (void **state)
{
    itest_t it;
    itest_init (&it, "faults-ro", NULL);
    assert_int_equal (zsys_dir_create ("%s", it.data_dir), 0);
    if (!s_mount (it.data_dir, 64, true)) {
        itest_destroy (&it);
        return;
    }
    char *output = NULL;
    int code = s_run_component (&it, "warmup-perf", NULL, NULL, &output);
    umount (it.data_dir);
    assert_int_equal (code, 78);
    if (!strstr (output, it.data_dir) || !strstr (output, "write access"))
        fail_msg ("the refusal does not name the directory and what to do:\n%s", output);
    free (output);
    itest_destroy (&it);
}

//  What a heartbeat says of the store.
typedef struct {
    const char *component;
    uint64_t store_errors, store_refused;
} s_store_beat_t;

//  Predicate: a heartbeat of the component with failed commits and
//  refused writes.
static bool
s_is_store_trouble (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    s_store_beat_t *want = (s_store_beat_t *) arg;
    const Warmup__V1__Heartbeat *beat = (const Warmup__V1__Heartbeat *) msg;
    if (topic != WP_TOPIC_HEARTBEAT || !streq (beat->component, want->component))
        return false;
    want->store_errors = beat->store_errors;
    want->store_refused = beat->store_refused;
    return beat->store_refused > 0;
}

//  Publish usage events of distinct users until the analyzer's
//  heartbeat reports refused writes (or the bound passes).
static bool
s_flood_until_refused (itest_t *it, wp_bus_t *bus, s_store_beat_t *beat)
{
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    char user [64];
    usage.user = user;
    usage.model = "model-with-a-long-name-to-fill-pages";
    usage.task = WARMUP__V1__TASK__TASK_COMPLETION;
    int64_t deadline = zclock_mono () + wp_test_ms (60000);
    //  10,000 new pairs a round (a heartbeat's wait): a 16 MiB map fills
    //  in a few rounds, however slow the machine makes each round.
    for (int round = 0; zclock_mono () < deadline; round++) {
        for (int i = 0; i < 10000; i++) {
            snprintf (user, sizeof user, "user-%d-%d", round, i);
            usage.event_ms = wp_wall_us () / 1000;
            wp_bus_publish (bus, WP_TOPIC_USAGE, &usage.base);
        }
        //  The next heartbeat tells how the store is doing
        if (itest_wait_event (bus, s_is_store_trouble, beat, 1000))
            return true;
    }
    return false;
}

//  A full disk: commits fail, the batch waits in memory up to its cap,
//  then writes are refused and counted; the component keeps running.
static void
test_disk_full (void **state)
{
    itest_t it;
    itest_init (&it, "faults-full", "store\n    batch_max = 10\n");
    assert_int_equal (zsys_dir_create ("%s", it.data_dir), 0);
    if (!s_mount (it.data_dir, 256, false)) {
        itest_destroy (&it);
        return;
    }
    wp_test_proc_t *bus = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *analyzer = itest_start (&it, "warmup-analyzer", NULL, NULL);
    const char *topics [] = { "heartbeat", NULL };
    wp_bus_t *client = itest_bus (&it, topics);
    s_store_beat_t beat = { "analyzer", 0, 0 };
    bool refused = s_flood_until_refused (&it, client, &beat);
    wp_bus_destroy (&client);
    print_message ("disk full: store_errors=%" PRIu64 " store_refused=%" PRIu64 "\n",
                   beat.store_errors, beat.store_refused);
    if (!refused || !beat.store_errors)
        fail_msg ("no refused writes reported:\n%s", wp_test_proc_output (analyzer));
    //  (the analyzer's journal is what it writes first)
    if (!strstr (wp_test_proc_output (analyzer), "the disk is full")
        || (!strstr (wp_test_proc_output (analyzer), "data.mdb")
            && !strstr (wp_test_proc_output (analyzer), "pairs.journal")))
        fail_msg ("the log does not say the disk is full:\n%s",
                  wp_test_proc_output (analyzer));
    //  Still running, stops cleanly (what it could not write is logged lost)
    wp_test_proc_stop (analyzer, SIGTERM, ITEST_STOP_MS);
    wp_test_proc_destroy (&analyzer);
    itest_stop (&bus, "warmup-bus");
    umount (it.data_dir);
    itest_destroy (&it);
}

//  The map at store/map_max_mb: writes refused, counted, logged with
//  the key to raise.
static void
test_map_full (void **state)
{
    itest_t it;
    //  (the analyzer's journal goes into LMDB at every checkpoint)
    itest_init (&it, "faults-map", "store\n    map_max_mb = 16\n    checkpoint_s = 1\n");
    wp_test_proc_t *bus = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *analyzer = itest_start (&it, "warmup-analyzer", NULL, NULL);
    const char *topics [] = { "heartbeat", NULL };
    wp_bus_t *client = itest_bus (&it, topics);
    s_store_beat_t beat = { "analyzer", 0, 0 };
    bool refused = s_flood_until_refused (&it, client, &beat);
    wp_bus_destroy (&client);
    print_message ("map full: store_refused=%" PRIu64 "\n", beat.store_refused);
    if (!refused || !strstr (wp_test_proc_output (analyzer), "store/map_max_mb"))
        fail_msg ("no refused writes or no word of map_max_mb:\n%s",
                  wp_test_proc_output (analyzer));
    itest_stop (&analyzer, "warmup-analyzer");
    itest_stop (&bus, "warmup-bus");
    itest_destroy (&it);
}

//  True if process pid exits within timeout_ms (its pidfd, or /proc).
static bool
s_gone (int pid, int timeout_ms)
{
    int fd = pidfd_open (pid, 0);
    if (fd < 0)
        return errno == ESRCH;
    struct pollfd item = { .fd = fd, .events = POLLIN };
    bool gone = poll (&item, 1, wp_test_ms (timeout_ms)) == 1;
    close (fd);
    return gone;
}

//  kill -9 of the queue during an exec warmup leaves no orphan.
static void
test_exec_orphan (void **state)
{
    itest_t it;
    itest_init (&it, "faults-orphan", NULL);
    char extra [1200];
    snprintf (extra, sizeof extra,
              "models\n"
              "    slow\n"
              "        backend = exec\n"
              "        command = \"sleep 300 & echo $! > %s/child.pid; wait\"\n"
              "        timeout_seconds = 600\n", it.dir);
    itest_config (&it, extra);
    wp_test_proc_t *bus = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *queue = itest_start (&it, "warmup-queue", NULL, NULL);
    const char *topics [] = { "warmup.done", NULL };
    wp_bus_t *client = itest_bus (&it, topics);
    //  As warmupctl warm does (which would wait for the warmup's end)
    Warmup__V1__WarmupRequested request = WARMUP__V1__WARMUP_REQUESTED__INIT;
    request.event_ms = wp_wall_us () / 1000;
    request.model = "slow";
    request.action = WARMUP__V1__ACTION__ACTION_WARM;
    request.reason = "manual";
    assert_int_equal (wp_bus_publish (client, WP_TOPIC_WARMUP_REQUEST, &request.base), 0);
    //  The command writes its background child's pid: wait for the file
    char pid_file [600];
    snprintf (pid_file, sizeof pid_file, "%s/child.pid", it.dir);
    int child = 0;
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    while (!child && zclock_mono () < deadline) {
        FILE *file = fopen (pid_file, "r");
        if (file) {
            if (fscanf (file, "%d", &child) != 1)
                child = 0;
            fclose (file);
        }
        if (!child)
            poll (NULL, 0, 10);     //  a file has no event to wait on
    }
    assert_true (child > 0);
    assert_false (s_gone (child, 0));
    assert_int_equal (kill (wp_test_proc_pid (queue), SIGKILL), 0);
    assert_int_equal (wp_test_proc_wait (queue, ITEST_STOP_MS), 128 + SIGKILL);
    wp_test_proc_destroy (&queue);
    if (!s_gone (child, ITEST_STOP_MS)) {
        kill (child, SIGKILL);
        fail_msg ("the exec command's child %d outlived the queue", child);
    }
    wp_bus_destroy (&client);
    itest_stop (&bus, "warmup-bus");
    itest_destroy (&it);
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_not_lmdb),
        cmocka_unit_test (test_truncated),
        cmocka_unit_test (test_unwritable),
        cmocka_unit_test (test_disk_full),
        cmocka_unit_test (test_map_full),
        cmocka_unit_test (test_exec_orphan),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
