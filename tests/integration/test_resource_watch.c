/*  =========================================================================
    test_resource_watch - the ResourceManager and the queue's admission
    as programs: resource.status reports the RSS of the processes model
    sections tell it to watch (by pid, pidfile and name; each process
    counted once), says once that there is no GPU tool; and the queue
    holds a warm the machine has no memory for until a resource.status
    says there is.
    =========================================================================
*/
#include "itest.h"

//  A resource.status with its watched entries.
typedef struct {
    uint32_t processes [3];
    uint64_t rss_mb [3];
    uint64_t total_rss_mb;
    size_t n_watched;
    bool gpu_present;
} status_t;

static bool
s_take_status (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    if (topic != WP_TOPIC_RESOURCE)
        return false;
    const Warmup__V1__ResourceStatus *in = (const Warmup__V1__ResourceStatus *) msg;
    status_t *status = (status_t *) arg;
    status->n_watched = in->n_watched;
    for (size_t i = 0; i < in->n_watched && i < 3; i++) {
        status->processes [i] = in->watched [i]->processes;
        status->rss_mb [i] = in->watched [i]->rss_mb;
    }
    status->total_rss_mb = in->watched_rss_mb;
    status->gpu_present = in->gpu_present;
    return true;
}

//  Watch this test process by pid and by pidfile, and a name nobody has.
static void
test_watch (void **state)
{
    char *dir = wp_test_tmpdir ("wp-rwatch");
    char pidfile [600], pid [32], extra [2048];
    snprintf (pidfile, sizeof pidfile, "%s/server.pid", dir);
    snprintf (pid, sizeof pid, "%d\n", (int) getpid ());
    wp_test_write_file (pidfile, pid);
    snprintf (extra, sizeof extra,
              "resource_interval_ms = 100\n"
              "models\n"
              "    a\n"
              "        watch = \"pid:%d, pidfile:%s\"\n"
              "    b\n"
              "        watch = \"no-such-server, pid:%d\"\n", (int) getpid (), pidfile,
              (int) getpid ());
    itest_t it;
    itest_init (&it, "wp-rwatch", extra);
    wp_test_proc_t *bus = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *resource = itest_start (&it, "warmup-resource", NULL, NULL);
    const char *topics [] = { "resource.status", NULL };
    wp_bus_t *watch = itest_bus (&it, topics);
    status_t status = { 0 };
    assert_true (itest_wait_event (watch, s_take_status, &status, ITEST_EVENT_MS));
    //  Three distinct items: pid:N (named twice), pidfile:, the name
    assert_int_equal (status.n_watched, 3);
    assert_int_equal (status.processes [0], 1);
    assert_int_equal (status.processes [1], 1);
    assert_int_equal (status.processes [2], 0);
    assert_true (status.rss_mb [0] >= 1);
    assert_int_equal (status.rss_mb [0], status.rss_mb [1]);
    //  One process, counted once in the total
    assert_true (status.total_rss_mb <= status.rss_mb [0] + 1);
    assert_true (status.total_rss_mb >= 1);
    assert_false (status.gpu_present);
    const char *output = wp_test_proc_output (resource);
    const char *said = strstr (output, "GPU memory is not reported");
    if (access ("/usr/bin/nvidia-smi", X_OK) != 0) {
        assert_non_null (said);
        assert_null (strstr (said + 1, "GPU memory is not reported"));
    }
    wp_bus_destroy (&watch);
    itest_stop (&resource, "warmup-resource");
    itest_stop (&bus, "warmup-bus");
    itest_destroy (&it);
    wp_test_rmtree (dir);
    free (dir);
}

//  Publish a machine sample as the resource manager would.
static void
s_sample (wp_bus_t *bus, uint64_t available_mb)
{
    Warmup__V1__ResourceStatus status = WARMUP__V1__RESOURCE_STATUS__INIT;
    status.event_ms = wp_wall_us () / 1000;
    status.mem_total_mb = 16384;
    status.mem_available_mb = available_mb;
    status.cpu_percent = 1;
    status.ncpu = 2;
    status.admit = true;
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_RESOURCE, &status.base), 0);
}

//  A warmup.done of a model.
static bool
s_done_of (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    return topic == WP_TOPIC_WARMUP_DONE
        && streq (((const Warmup__V1__WarmupDone *) msg)->model, (const char *) arg);
}

//  The queue holds a warm while the machine lacks its memory.
static void
test_admission_holds (void **state)
{
    itest_t it;
    itest_init (&it, "wp-radmit",
                "models\n"
                "    big\n"
                "        memory_mb = 800\n"
                "        load_ms = 1\n"
                "    small\n"
                "        memory_mb = 10\n"
                "        load_ms = 1\n");
    wp_test_proc_t *bus = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *queue = itest_start (&it, "warmup-queue", NULL, NULL);
    const char *topics [] = { "warmup.done", NULL };
    wp_bus_t *watch = itest_bus (&it, topics);
    s_sample (watch, 100);              //  100 MiB available
    const char *big [] = { "warm", "big", "--no-wait", NULL };
    assert_int_equal (itest_ctl (&it, big, NULL), 0);
    if (wp_test_proc_wait_line (queue, "warm of big held: needs 800 MiB, 100 MiB available",
                                ITEST_EVENT_MS, NULL, 0))
        fail_msg ("not held:\n%s", wp_test_proc_output (queue));
    //  A model that fits is not held up behind it
    const char *small [] = { "warm", "small", "--no-wait", NULL };
    assert_int_equal (itest_ctl (&it, small, NULL), 0);
    assert_true (itest_wait_event (watch, s_done_of, "small", ITEST_EVENT_MS));
    s_sample (watch, 4000);
    if (!itest_wait_event (watch, s_done_of, "big", ITEST_EVENT_MS))
        fail_msg ("big never started:\n%s", wp_test_proc_output (queue));
    wp_bus_destroy (&watch);
    itest_stop (&queue, "warmup-queue");
    itest_stop (&bus, "warmup-bus");
    itest_destroy (&it);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_watch),
        cmocka_unit_test (test_admission_holds),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
