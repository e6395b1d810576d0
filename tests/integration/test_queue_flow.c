/*  =========================================================================
    test_queue_flow - the WarmupQueue as a user runs it: warmup-bus and
    warmup-queue started as programs, requests published on the bus, the
    warmup.done stream checked. Priority order, dedupe, cancel, a full
    queue, retries with backoff, a timeout, a restart that resumes the
    pending tasks, and the file backend warming a 256 MiB file into the
    page cache (residency from under 5% to over 99%) and evicting it.
    Commands that must wait do so on a file the test creates: no sleeps.
    =========================================================================
*/
#include "itest.h"
#include "wp_pagecache.h"

//  Publish a warm or cool request from the test's own client.
static void
s_request (wp_bus_t *bus, const char *model, bool warm, int priority)
{
    Warmup__V1__WarmupRequested request = WARMUP__V1__WARMUP_REQUESTED__INIT;
    request.event_ms = wp_wall_us () / 1000;
    request.model = (char *) model;
    request.action = warm ? WARMUP__V1__ACTION__ACTION_WARM : WARMUP__V1__ACTION__ACTION_COOL;
    request.priority = (Warmup__V1__Priority) priority;
    request.reason = "itest";
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_WARMUP_REQUEST, &request.base), 0);
}

//  A copy of what a warmup.done said.
typedef struct {
    char model [64];
    bool warm;
    bool ok;
    char error [600];
    char backend [32];
    uint32_t attempts;
    uint32_t memory_mb;
    char memory_source [16];
    uint64_t resident_bytes;
    uint64_t queue_dropped;
    uint64_t cause_seq;
} done_t;

//  Take the next warmup.done (other topics are skipped).
static bool
s_take_done (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    if (topic != WP_TOPIC_WARMUP_DONE)
        return false;
    const Warmup__V1__WarmupDone *in = (const Warmup__V1__WarmupDone *) msg;
    done_t *done = (done_t *) arg;
    snprintf (done->model, sizeof done->model, "%s", in->model);
    done->warm = in->action == WARMUP__V1__ACTION__ACTION_WARM;
    done->ok = in->ok;
    snprintf (done->error, sizeof done->error, "%s", in->error);
    snprintf (done->backend, sizeof done->backend, "%s", in->backend);
    done->attempts = in->attempts;
    done->memory_mb = in->memory_mb;
    snprintf (done->memory_source, sizeof done->memory_source, "%s", in->memory_source);
    done->resident_bytes = in->resident_bytes;
    done->queue_dropped = in->queue_dropped;
    done->cause_seq = in->cause ? in->cause->seq : 0;
    return true;
}

//  Wait for the next warmup.done and check its model, action and outcome.
static done_t
s_expect_done (wp_bus_t *bus, const char *model, bool warm, bool ok)
{
    done_t done = { 0 };
    if (!itest_wait_event (bus, s_take_done, &done, ITEST_EVENT_MS))
        fail_msg ("no warmup.done (expected %s %s)", warm ? "warm" : "cool", model);
    if (strcmp (done.model, model) || done.warm != warm || done.ok != ok)
        fail_msg ("expected %s %s ok=%d, got %s %s ok=%d (%s)", warm ? "warm" : "cool",
                  model, ok, done.warm ? "warm" : "cool", done.model, done.ok, done.error);
    return done;
}

//  Start a bus and a queue for a deployment.
static void
s_start (itest_t *it, wp_test_proc_t **bus, wp_test_proc_t **queue)
{
    *bus = itest_start (it, "warmup-bus", NULL, NULL);
    *queue = itest_start (it, "warmup-queue", NULL, NULL);
}

//  Stop them cleanly.
static void
s_stop (wp_test_proc_t **bus, wp_test_proc_t **queue)
{
    if (*queue)
        itest_stop (queue, "warmup-queue");
    itest_stop (bus, "warmup-bus");
}

//  Priority order, dedupe, a cool cancelling a pending warm, and a full
//  queue dropping (counted) its lowest priority, behind a running task.
static void
test_order_dedupe_cancel_full (void **state)
{
    itest_t it;
    char extra [2048];
    char *dir = wp_test_tmpdir ("wp-qflow-gate");
    snprintf (extra, sizeof extra,
              "max_concurrent_warmups = 1\n"
              "max_queue_size = 3\n"
              "models\n"
              "    gate\n"
              "        backend = exec\n"
              "        command = \"while [ ! -f %s/go ]; do sleep 0.02; done\"\n"
              "    a\n        load_ms = 1\n"
              "    b\n        load_ms = 1\n"
              "    c\n        load_ms = 1\n"
              "    d\n        load_ms = 1\n"
              "    e\n        load_ms = 1\n", dir);
    itest_init (&it, "wp-qflow-order", extra);
    wp_test_proc_t *bus, *queue;
    s_start (&it, &bus, &queue);
    const char *topics [] = { "warmup.done", NULL };
    wp_bus_t *watch = itest_bus (&it, topics);

    s_request (watch, "gate", true, 3);         //  runs, holds the only slot
    s_request (watch, "a", true, 1);
    s_request (watch, "b", true, 3);
    s_request (watch, "c", true, 2);            //  the queue is full now
    s_request (watch, "b", true, 2);            //  dedupe: merged into b
    s_request (watch, "d", true, 1);            //  full, nothing lower: dropped
    done_t done = s_expect_done (watch, "d", true, false);
    assert_string_equal (done.error, "dropped: queue full");
    assert_int_equal (done.queue_dropped, 1);
    s_request (watch, "e", true, 3);            //  full: evicts a, the lowest
    done = s_expect_done (watch, "a", true, false);
    assert_non_null (strstr (done.error, "dropped: queue full of higher priority"));
    assert_int_equal (done.queue_dropped, 2);
    s_request (watch, "c", false, 2);           //  cancels the pending warm of c
    done = s_expect_done (watch, "c", true, false);
    assert_string_equal (done.error, "cancelled by a later request");
    assert_string_equal (done.backend, "queue");
    assert_int_equal (done.attempts, 0);

    char go [600];
    snprintf (go, sizeof go, "%s/go", dir);
    wp_test_write_file (go, "");
    done = s_expect_done (watch, "gate", true, true);
    assert_string_equal (done.backend, "exec");
    assert_int_equal (done.attempts, 1);
    //  Highest priority first, FIFO among equals; b answered once
    done = s_expect_done (watch, "b", true, true);
    assert_string_equal (done.backend, "sim");
    assert_string_equal (done.memory_source, "config");
    s_expect_done (watch, "e", true, true);
    s_expect_done (watch, "c", false, true);

    wp_bus_destroy (&watch);
    s_stop (&bus, &queue);
    itest_destroy (&it);
    wp_test_rmtree (dir);
    free (dir);
}

//  A command failing twice succeeds on the third attempt (backoff);
//  one that keeps failing gives up after its retries; one that hangs
//  times out.
static void
test_retry_and_timeout (void **state)
{
    itest_t it;
    char extra [2048];
    char *dir = wp_test_tmpdir ("wp-qflow-retry");
    snprintf (extra, sizeof extra,
              "models\n"
              "    flaky\n"
              "        backend = exec\n"
              "        command = \"n=$(cat %s/n 2>/dev/null || echo 0); n=$((n+1)); "
              "echo $n > %s/n; [ $n -ge 3 ] || { echo attempt $n failed >&2; exit 1; }\"\n"
              "        retries = 3\n"
              "        retry_backoff_ms = 50\n"
              "    broken\n"
              "        backend = exec\n"
              "        command = \"echo broken for good >&2; exit 2\"\n"
              "        retries = 1\n"
              "        retry_backoff_ms = 10\n"
              "    stuck\n"
              "        backend = exec\n"
              "        command = \"exec sleep 60\"\n"
              "        timeout_seconds = 1\n"
              "        retries = 0\n", dir, dir);
    itest_init (&it, "wp-qflow-retry", extra);
    wp_test_proc_t *bus, *queue;
    s_start (&it, &bus, &queue);
    const char *topics [] = { "warmup.done", NULL };
    wp_bus_t *watch = itest_bus (&it, topics);

    s_request (watch, "flaky", true, 2);
    done_t done = s_expect_done (watch, "flaky", true, true);
    assert_int_equal (done.attempts, 3);
    s_request (watch, "broken", true, 2);
    done = s_expect_done (watch, "broken", true, false);
    assert_int_equal (done.attempts, 2);
    assert_string_equal (done.error, "exit code 2: broken for good");
    s_request (watch, "stuck", true, 2);
    done = s_expect_done (watch, "stuck", true, false);
    assert_int_equal (done.attempts, 1);
    assert_non_null (strstr (done.error, "timed out after 1000 ms"));
    //  The log tells of each retry and its delay
    const char *output = wp_test_proc_output (queue);
    assert_non_null (strstr (output, "warm flaky failed (attempt 1 of 4), retry in 50 ms"));
    assert_non_null (strstr (output, "warm flaky failed (attempt 2 of 4), retry in 100 ms"));

    wp_bus_destroy (&watch);
    s_stop (&bus, &queue);
    itest_destroy (&it);
    wp_test_rmtree (dir);
    free (dir);
}

//  Models of one server share its concurrency limit; other servers' models
//  go ahead meanwhile.
static void
test_server_concurrency (void **state)
{
    itest_t it;
    char extra [2048];
    char *dir = wp_test_tmpdir ("wp-qflow-conc");
    snprintf (extra, sizeof extra,
              "max_concurrent_warmups = 4\n"
              "models\n"
              "    g1\n"
              "        backend = exec\n"
              "        command = \"while [ ! -f %s/go ]; do sleep 0.02; done\"\n"
              "        concurrency = 1\n"
              "    g2\n"
              "        backend = exec\n"
              "        command = true\n"
              "    s\n"
              "        load_ms = 1\n", dir);
    itest_init (&it, "wp-qflow-conc", extra);
    wp_test_proc_t *bus, *queue;
    s_start (&it, &bus, &queue);
    const char *topics [] = { "warmup.done", NULL };
    wp_bus_t *watch = itest_bus (&it, topics);
    s_request (watch, "g1", true, 2);           //  runs, holds the exec limit
    s_request (watch, "g2", true, 2);           //  same server: waits for g1
    s_request (watch, "s", true, 2);            //  another server: goes ahead
    s_expect_done (watch, "s", true, true);
    char go [600];
    snprintf (go, sizeof go, "%s/go", dir);
    wp_test_write_file (go, "");
    //  Had g2 not waited it would have been done long before g1
    s_expect_done (watch, "g1", true, true);
    s_expect_done (watch, "g2", true, true);
    wp_bus_destroy (&watch);
    s_stop (&bus, &queue);
    itest_destroy (&it);
    wp_test_rmtree (dir);
    free (dir);
}

//  A heartbeat of the queue reporting at least `count` committed records.
static bool
s_queue_persisted (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    if (topic != WP_TOPIC_HEARTBEAT)
        return false;
    const Warmup__V1__Heartbeat *beat = (const Warmup__V1__Heartbeat *) msg;
    return streq (beat->component, "queue") && beat->persisted >= *(uint64_t *) arg;
}

//  kill -9 of the queue with one task running and one pending: the next
//  start resumes both, and their warmup.done still names the request.
static void
test_restart_resumes (void **state)
{
    itest_t it;
    char extra [2048];
    char *dir = wp_test_tmpdir ("wp-qflow-restart");
    snprintf (extra, sizeof extra,
              "max_concurrent_warmups = 1\n"
              "models\n"
              "    gate\n"
              "        backend = exec\n"
              "        command = \"while [ ! -f %s/restarted ]; do sleep 0.02; done\"\n"
              "    later\n"
              "        load_ms = 1\n", dir);
    itest_init (&it, "wp-qflow-restart", extra);
    wp_test_proc_t *bus, *queue;
    s_start (&it, &bus, &queue);
    const char *topics [] = { "warmup.done", "heartbeat", NULL };
    wp_bus_t *watch = itest_bus (&it, topics);

    s_request (watch, "gate", true, 2);
    s_request (watch, "later", true, 2);
    //  Both records (and gate's start) committed
    uint64_t records = 3;
    assert_true (itest_wait_event (watch, s_queue_persisted, &records, ITEST_EVENT_MS));
    assert_int_equal (wp_test_proc_stop (queue, SIGKILL, 5000), 128 + SIGKILL);
    wp_test_proc_destroy (&queue);

    char flag [600];
    snprintf (flag, sizeof flag, "%s/restarted", dir);
    wp_test_write_file (flag, "");
    queue = itest_start (&it, "warmup-queue", NULL, NULL);
    //  It says so before it says ready
    if (!strstr (wp_test_proc_output (queue), "resumed 2 pending tasks"))
        fail_msg ("no resume:\n%s", wp_test_proc_output (queue));
    done_t done = s_expect_done (watch, "gate", true, true);
    assert_int_equal (done.cause_seq, 1);       //  the first request we sent
    assert_int_equal (done.attempts, 2);        //  started before and after
    done = s_expect_done (watch, "later", true, true);
    assert_int_equal (done.cause_seq, 2);

    wp_bus_destroy (&watch);
    s_stop (&bus, &queue);
    itest_destroy (&it);
    wp_test_rmtree (dir);
    free (dir);
}

//  Fraction of a file in the page cache.
static double
s_residency (const char *path)
{
    uint64_t resident = 0, size = 0;
    assert_int_equal (wp_pagecache_residency (path, &resident, &size), 0);
    assert_true (size > 0);
    return (double) resident / (double) size;
}

//  The file backend through the service: a 256 MiB file evicted (under
//  5% resident), warmed (over 99%), cooled (under 5% again).
static void
test_file_residency (void **state)
{
    //  On disk, next to the build (a tmpfs would keep every page resident)
    char *bin = wp_test_bin ("");
    char base [1024];
    snprintf (base, sizeof base, "%s/..", bin);
    free (bin);
    char *old = getenv ("TMPDIR") ? strdup (getenv ("TMPDIR")) : NULL;
    setenv ("TMPDIR", base, 1);
    char *dir = wp_test_tmpdir ("wp-qflow-file");
    if (old)
        setenv ("TMPDIR", old, 1);
    else
        unsetenv ("TMPDIR");
    free (old);

    char path [1200];
    snprintf (path, sizeof path, "%s/weights.gguf", dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    char *block = (char *) malloc (1 << 20);
    for (int i = 0; i < (1 << 20); i++)
        block [i] = (char) (i * 31 + 7);
    for (int i = 0; i < 256; i++)
        assert_int_equal (fwrite (block, 1, 1 << 20, file), 1 << 20);
    free (block);
    assert_int_equal (fflush (file), 0);
    assert_int_equal (fsync (fileno (file)), 0);
    fclose (file);
    assert_int_equal (wp_pagecache_evict (path), 0);
    double before = s_residency (path);
    if (before >= 0.05)
        fail_msg ("the file stays %.1f%% resident after POSIX_FADV_DONTNEED: is %s a "
                  "tmpfs?", before * 100, dir);

    char extra [2048];
    snprintf (extra, sizeof extra,
              "models\n"
              "    weights\n"
              "        backend = file\n"
              "        path = \"%s\"\n", path);
    itest_t it;
    itest_init (&it, "wp-qflow-file", extra);
    wp_test_proc_t *bus, *queue;
    s_start (&it, &bus, &queue);
    const char *topics [] = { "warmup.done", NULL };
    wp_bus_t *watch = itest_bus (&it, topics);
    const char *warm [] = { "warm", "weights", NULL };
    assert_int_equal (itest_ctl (&it, warm, NULL), 0);
    done_t done = s_expect_done (watch, "weights", true, true);
    double after = s_residency (path);
    printf ("file backend: 256 MiB file %.1f%% resident before the warm, %.1f%% after\n",
            before * 100, after * 100);
    assert_true (after > 0.99);
    assert_string_equal (done.backend, "file");
    assert_string_equal (done.memory_source, "resident");
    assert_true (done.resident_bytes > (uint64_t) (0.99 * (256 << 20)));
    //  What is resident, in whole MiB: the page cache of a busy machine
    //  may hold back a page or two even right after the warm.
    assert_true (done.memory_mb >= 253 && done.memory_mb <= 256);

    //  A restarted queue asks the backend, and counts what is loaded
    itest_stop (&queue, "warmup-queue");
    queue = itest_start (&it, "warmup-queue", NULL, NULL);
    //  The answer may come before or after the ready line. The page cache
    //  of a busy machine may have taken back a few pages since the warm:
    //  the backend counts what was resident at the queue's start, which is
    //  at most the whole file and at least what is resident now (nobody
    //  reads the file meanwhile, so pages only go).
    const char *loaded = "weights is loaded already (";
    char line [512] = "";
    const char *at = strstr (wp_test_proc_output (queue), loaded);
    if (at)
        snprintf (line, sizeof line, "%.*s", (int) strcspn (at, "\n"), at);
    else
    if (wp_test_proc_wait_line (queue, loaded, ITEST_EVENT_MS, line, sizeof line))
        fail_msg ("no status at start:\n%s", wp_test_proc_output (queue));
    unsigned mib = 0;
    char says [16] = "";
    at = strstr (line, loaded);
    double now = s_residency (path);
    if (!at || sscanf (at + strlen (loaded), "%u MiB, says %15[a-z])", &mib, says) != 2
        || !streq (says, "file") || mib > 256 || mib + 1 < (unsigned) (now * 256))
        fail_msg ("not the file backend's status of 256 MiB %.1f%% resident: %s", now * 100,
                  line);

    const char *cool [] = { "cool", "weights", NULL };
    assert_int_equal (itest_ctl (&it, cool, NULL), 0);
    done = s_expect_done (watch, "weights", false, true);
    assert_true (s_residency (path) < 0.05);

    wp_bus_destroy (&watch);
    s_stop (&bus, &queue);
    itest_destroy (&it);
    wp_test_rmtree (dir);
    free (dir);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_order_dedupe_cancel_full),
        cmocka_unit_test (test_retry_and_timeout),
        cmocka_unit_test (test_server_concurrency),
        cmocka_unit_test (test_restart_resumes),
        cmocka_unit_test (test_file_residency),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
