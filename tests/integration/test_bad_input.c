/*  =========================================================================
    test_bad_input - hostile frames against the running daemon: garbage on
    every topic, an oversized frame, too many frames, an unknown topic.
    Each is dropped, counted and logged; nothing crashes; valid events
    still flow afterwards.
    =========================================================================
*/
#include "itest.h"

//  Heartbeat counters of one component, as last seen.
typedef struct {
    const char *component;
    uint64_t bad_frames;
} bad_seen_t;

//  A heartbeat of the component reporting at least `bad_frames` rejected.
static bool
s_bad_at_least (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    bad_seen_t *want = (bad_seen_t *) arg;
    if (topic != WP_TOPIC_HEARTBEAT)
        return false;
    const Warmup__V1__Heartbeat *beat = (const Warmup__V1__Heartbeat *) msg;
    return streq (beat->component, want->component)
        && beat->bad_frames >= want->bad_frames && beat->dropped >= want->bad_frames;
}

//  A pattern for a user whose id came hashed through the bus (never arg,
//  the raw id).
static bool
s_pattern_for (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    uint64_t hash;
    const char *user = topic == WP_TOPIC_PATTERN
                     ? ((const Warmup__V1__UsagePattern *) msg)->user : NULL;
    return user && !strstr (user, (const char *) arg) && wp_user_id_parse (user, &hash) == 0;
}

//  Send topic + payload (+ an optional third frame) as raw frames.
static void
s_send (wp_bus_t *bus, const char *topic, const void *payload, size_t size, bool extra)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, topic);
    zmsg_addmem (msg, payload, size);
    if (extra)
        zmsg_addstr (msg, "extra");
    assert_int_equal (wp_bus_send_raw (bus, &msg), 0);
}

static void
test_garbage_everywhere (void **state)
{
    itest_t it;
    itest_init (&it, "wp-bad", NULL);
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    const char *topics [] = { "heartbeat", "usage.pattern", NULL };
    wp_bus_t *bus = itest_bus (&it, topics);

    //  Garbage that passes the proxy (known topic, small) but does not
    //  decode: 0xff bytes are an invalid protobuf tag.
    uint8_t garbage [64];
    memset (garbage, 0xff, sizeof garbage);
    for (int t = 0; t < WP_TOPIC_COUNT; t++)
        s_send (bus, wp_topic_name ((wp_topic_t) t), garbage, sizeof garbage, false);
    //  The proxy reads usage.observed's (and usage.intent's) wire to hash
    //  the user id: 0xff does not get past it. Field 2 (event_ms, a varint)
    //  sent as bytes does: it parses as wire, not as a UsageObserved.
    const uint8_t wrong_type [3] = { 0x12, 0x01, 0x00 };
    s_send (bus, "usage.observed", wrong_type, sizeof wrong_type, false);
    s_send (bus, "usage.intent", wrong_type, sizeof wrong_type, false);
    //  Dropped by the proxy: oversized, three frames, unknown topic.
    size_t big = 1024 * 1024;
    uint8_t *oversized = calloc (1, big);
    assert_non_null (oversized);
    s_send (bus, "usage.observed", oversized, big, false);
    free (oversized);
    s_send (bus, "usage.observed", garbage, 8, true);
    s_send (bus, "no.such.topic", garbage, 8, false);

    //  Each component counts the garbage on the topics it takes: the
    //  analyzer one (usage.observed), the scheduler five, metrics all.
    bad_seen_t analyzer = { "analyzer", 1 }, scheduler = { "scheduler", 5 },
               metrics = { "metrics", WP_TOPIC_COUNT }, queue = { "queue", 1 },
               engine = { "engine", 1 }, perf = { "perf", 1 }, resource = { "resource", 1 };
    bad_seen_t *all [] = { &analyzer, &scheduler, &metrics, &queue, &engine, &perf,
                           &resource, NULL };
    for (int i = 0; all [i]; i++)
        if (!itest_wait_event (bus, s_bad_at_least, all [i], ITEST_EVENT_MS))
            fail_msg ("%s never reported %" PRIu64 " bad frames:\n%s", all [i]->component,
                      all [i]->bad_frames, wp_test_proc_output (daemon));

    //  Still alive and still working.
    itest_emit (&it, "dave", "phi3", wp_wall_us () / 1000);
    assert_true (itest_wait_event (bus, s_pattern_for, "dave", ITEST_EVENT_MS));

    //  The proxy logged what it dropped, and why.
    const char *log = wp_test_proc_output (daemon);
    if (!strstr (log, "payload larger than max_frame") || !strstr (log, "not two frames")
        || !strstr (log, "unknown topic") || !strstr (log, "does not decode")
        || !strstr (log, "payload does not parse"))
        fail_msg ("drops not logged:\n%s", log);

    wp_bus_destroy (&bus);
    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_garbage_everywhere),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
