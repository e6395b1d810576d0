/*  =========================================================================
    test_bus - the bus: the proxy actor's commands, readiness of clients,
    a round trip of every topic with stamped headers, sequence gaps, and
    every kind of bad message (garbage payload, no header, unknown topic,
    wrong frame count, oversized) dropped by the proxy or the client and
    counted. Every test binds its own inproc:// endpoints; nothing sleeps:
    tests wait on events with a timeout as the bound.
    =========================================================================
*/

#include "testutil.h"
#include <czmq.h>
#include <unistd.h>
#include "wp_bus.h"
#include "wp_proxy.h"
#include "wp_util.h"

#define WAIT_MS 5000        //  bound on any wait for something that must come

static int s_endpoints;     //  endpoint names handed out

//  A fresh pair of unique inproc endpoints.
static void
s_endpoint_pair (char **pub, char **sub)
{
    s_endpoints++;
    *pub = zsys_sprintf ("inproc://wp-test-bus-%d-%d-pub", (int) getpid (), s_endpoints);
    *sub = zsys_sprintf ("inproc://wp-test-bus-%d-%d-sub", (int) getpid (), s_endpoints);
}

//  Start a proxy actor; its pipe answers within WAIT_MS or the test fails.
static zactor_t *
s_proxy_new (void)
{
    zactor_t *proxy = zactor_new (wp_proxy_actor, NULL);
    assert_non_null (proxy);
    zsock_set_rcvtimeo (zactor_sock (proxy), WAIT_MS);
    return proxy;
}

//  The key the test proxies hash user ids under.
static const uint8_t s_user_key [16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

//  A user id (or with prefix 's', a session) as it leaves the proxy.
static const char *
s_hashed (const char *text, char prefix)
{
    static char ids [8][WP_USER_ID_LEN + 1];
    static int next;
    char *id = ids [next++ % 8];
    wp_user_id_format (wp_siphash (s_user_key, text, strlen (text)), id);
    id [0] = prefix;
    return id;
}

//  Start a proxy bound to fresh endpoints.
static zactor_t *
s_proxy_start (char **pub, char **sub)
{
    zactor_t *proxy = s_proxy_new ();
    zstr_sendx (proxy, "USERKEY", "000102030405060708090a0b0c0d0e0f", NULL);
    char *ok = zstr_recv (proxy);
    assert_string_equal (ok, "OK");
    zstr_free (&ok);
    s_endpoint_pair (pub, sub);
    zstr_sendx (proxy, "BIND", *pub, *sub, NULL);
    char *status = NULL, *pub_bound = NULL, *sub_bound = NULL;
    assert_int_equal (zstr_recvx (proxy, &status, &pub_bound, &sub_bound, NULL), 3);
    assert_string_equal (status, "OK");
    assert_string_equal (pub_bound, *pub);
    assert_string_equal (sub_bound, *sub);
    zstr_free (&status);
    zstr_free (&pub_bound);
    zstr_free (&sub_bound);
    return proxy;
}

//  The proxy's counters.
static void
s_proxy_stats (zactor_t *proxy, uint64_t *forwarded, uint64_t *dropped)
{
    zstr_send (proxy, "STATS");
    char *status = NULL, *one = NULL, *two = NULL;
    assert_int_equal (zstr_recvx (proxy, &status, &one, &two, NULL), 3);
    assert_string_equal (status, "OK");
    *forwarded = strtoull (one, NULL, 10);
    *dropped = strtoull (two, NULL, 10);
    zstr_free (&status);
    zstr_free (&one);
    zstr_free (&two);
}

//  Send a one-word command; returns the first reply frame (caller frees)
//  and the second, if any, through *detail.
static char *
s_proxy_command (zactor_t *proxy, const char *command, const char *arg, char **detail)
{
    if (arg)
        zstr_sendx (proxy, command, arg, NULL);
    else
        zstr_send (proxy, command);
    zmsg_t *reply = zmsg_recv (proxy);
    assert_non_null (reply);
    char *status = zmsg_popstr (reply);
    char *second = zmsg_popstr (reply);
    if (detail)
        *detail = second;
    else
        zstr_free (&second);
    zmsg_destroy (&reply);
    return status;
}

//  A client that is ready; subscribed to prefix unless NULL.
static wp_bus_t *
s_client (const char *pub, const char *sub, const char *source, const char *prefix,
          const wp_bus_opts_t *opts)
{
    wp_bus_t *bus = wp_bus_new (pub, sub, source, opts);
    assert_non_null (bus);
    if (prefix)
        assert_int_equal (wp_bus_subscribe (bus, prefix), 0);
    assert_int_equal (wp_bus_wait_ready (bus, WAIT_MS), 0);
    assert_true (wp_bus_ready (bus));
    return bus;
}

//  --------------------------------------------------------------------------
//  Raw publishers: hand-made envelopes.

//  Pack a heartbeat with the given header fields (source NULL: no header).
static uint8_t *
s_pack_heartbeat (const char *source, uint64_t seq, const char *component, size_t *size)
{
    Warmup__V1__Header header = WARMUP__V1__HEADER__INIT;
    header.source = (char *) source;
    header.seq = seq;
    header.schema = WP_SCHEMA_VERSION;
    Warmup__V1__Heartbeat beat = WARMUP__V1__HEARTBEAT__INIT;
    beat.header = source ? &header : NULL;
    beat.component = (char *) (component ? component : "raw");
    *size = protobuf_c_message_get_packed_size (&beat.base);
    uint8_t *buffer = malloc (*size ? *size : 1);
    assert_non_null (buffer);
    protobuf_c_message_pack (&beat.base, buffer);
    return buffer;
}

//  Send frames as one message: n frames of (data, size).
static void
s_raw_send (zsock_t *raw, int n, const void *const *data, const size_t *sizes)
{
    for (int i = 0; i < n; i++)
        assert_true (zmq_send (zsock_resolve (raw), data [i], sizes [i],
                               i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
}

//  Send a topic and a payload.
static void
s_raw_envelope (zsock_t *raw, const char *topic, const void *payload, size_t size)
{
    const void *data [2] = { topic, payload };
    size_t sizes [2] = { strlen (topic), size };
    s_raw_send (raw, 2, data, sizes);
}

//  Send a heartbeat from source with seq.
static void
s_raw_heartbeat (zsock_t *raw, const char *source, uint64_t seq)
{
    size_t size;
    uint8_t *payload = s_pack_heartbeat (source, seq, NULL, &size);
    s_raw_envelope (raw, "heartbeat", payload, size);
    free (payload);
}

//  True for the heartbeats s_raw_sync sends (source "sync", seq 1); seen
//  again and again they never count as a gap.
static bool
s_is_sync (const wp_bus_event_t *event)
{
    if (event->topic != WP_TOPIC_HEARTBEAT)
        return false;
    const Warmup__V1__Header *header = wp_bus_header (event->msg);
    return header && streq (header->source, "sync") && header->seq == 1;
}

//  Wait until a raw publisher's messages reach every subscriber: send a
//  sync heartbeat until each has received one.
static void
s_raw_sync (zsock_t *raw, wp_bus_t **subscribers, int n)
{
    bool got [8] = { false };
    assert_true (n <= 8);
    int64_t deadline = zclock_mono () + WAIT_MS;
    int left = n;
    while (left) {
        assert_true (zclock_mono () < deadline);
        s_raw_heartbeat (raw, "sync", 1);
        for (int i = 0; i < n; i++) {
            if (got [i])
                continue;
            wp_bus_event_t event;
            if (wp_bus_recv_wait (subscribers [i], &event, 10) == 1) {
                assert_true (s_is_sync (&event));
                got [i] = true;
                left--;
                wp_bus_event_free (&event);
            }
        }
    }
}

//  Receive the next event that is not a sync heartbeat.
static int
s_recv_next (wp_bus_t *bus, wp_bus_event_t *event)
{
    while (true) {
        int rc = wp_bus_recv_wait (bus, event, WAIT_MS);
        if (rc != 1 || !s_is_sync (event))
            return rc;
        wp_bus_event_free (event);
    }
}

//  Send a marker heartbeat and receive it on each subscriber: everything
//  the raw publisher sent before it has then been handled (one path,
//  in order). Fails if anything else arrives first.
static void
s_raw_marker (zsock_t *raw, uint64_t seq, wp_bus_t **subscribers, int n)
{
    s_raw_heartbeat (raw, "marker", seq);
    for (int i = 0; i < n; i++) {
        wp_bus_event_t event;
        assert_int_equal (s_recv_next (subscribers [i], &event), 1);
        assert_int_equal (event.topic, WP_TOPIC_HEARTBEAT);
        const Warmup__V1__Header *header = wp_bus_header (event.msg);
        if (!streq (header->source, "marker"))
            print_error ("expected marker %d, got %s seq %d\n", (int) seq,
                         header->source, (int) header->seq);
        assert_string_equal (header->source, "marker");
        assert_true (header->seq == seq);
        wp_bus_event_free (&event);
    }
}

//  A raw publisher connected to the proxy.
static zsock_t *
s_raw_pub (const char *pub)
{
    zsock_t *raw = zsock_new (ZMQ_PUB);
    assert_non_null (raw);
    zsock_set_sndhwm (raw, 100000);
    assert_int_equal (zsock_connect (raw, "%s", pub), 0);
    return raw;
}

//  --------------------------------------------------------------------------
//  The proxy's commands.

static void
test_proxy_commands (void **state)
{
    char *pub, *sub;
    zactor_t *proxy = s_proxy_start (&pub, &sub);
    char *detail = NULL;

    //  A second BIND is an error; the first binding stays.
    char *other_pub, *other_sub;
    s_endpoint_pair (&other_pub, &other_sub);
    zstr_sendx (proxy, "BIND", other_pub, other_sub, NULL);
    char *status = NULL;
    assert_int_equal (zstr_recvx (proxy, &status, &detail, NULL), 2);
    assert_string_equal (status, "ERROR");
    assert_string_equal (detail, "already bound");
    zstr_free (&status);
    zstr_free (&detail);

    uint64_t forwarded = 99, dropped = 99;
    s_proxy_stats (proxy, &forwarded, &dropped);
    assert_true (forwarded == 0 && dropped == 0);

    status = s_proxy_command (proxy, "VERBOSE", NULL, NULL);
    assert_string_equal (status, "OK");
    zstr_free (&status);
    status = s_proxy_command (proxy, "MAXFRAME", "1000", NULL);
    assert_string_equal (status, "OK");
    zstr_free (&status);
    const char *bad_sizes [] = { "0", "-5", "lots" };
    for (int i = 0; i < 3; i++) {
        status = s_proxy_command (proxy, "MAXFRAME", bad_sizes [i], NULL);
        assert_string_equal (status, "ERROR");
        zstr_free (&status);
    }
    status = s_proxy_command (proxy, "MAXFRAME", NULL, NULL);
    assert_string_equal (status, "ERROR");
    zstr_free (&status);
    //  HWM: only before BIND (the sockets take it when made)
    status = s_proxy_command (proxy, "HWM", "5000", NULL);
    assert_string_equal (status, "ERROR");
    zstr_free (&status);
    zactor_t *fresh = s_proxy_new ();
    status = s_proxy_command (fresh, "HWM", "5000", NULL);
    assert_string_equal (status, "OK");
    zstr_free (&status);
    const char *bad_hwms [] = { "0", "-5", "lots", "99999999999" };
    for (int i = 0; i < 4; i++) {
        status = s_proxy_command (fresh, "HWM", bad_hwms [i], NULL);
        assert_string_equal (status, "ERROR");
        zstr_free (&status);
    }
    zactor_destroy (&fresh);
    status = s_proxy_command (proxy, "FROB", NULL, &detail);
    assert_string_equal (status, "ERROR");
    assert_string_equal (detail, "unknown command");
    zstr_free (&status);
    zstr_free (&detail);

    //  The old binding still works: a client gets ready through it.
    wp_bus_t *bus = s_client (pub, sub, "test/cmd", NULL, NULL);
    wp_bus_destroy (&bus);
    assert_null (bus);
    wp_bus_destroy (&bus);

    zactor_destroy (&proxy);
    zstr_free (&pub);
    zstr_free (&sub);
    zstr_free (&other_pub);
    zstr_free (&other_sub);
}

//  BIND errors: a missing endpoint, an endpoint that cannot be bound
//  (either side); after an error the proxy can still be bound.
static void
test_proxy_bind_errors (void **state)
{
    zactor_t *proxy = s_proxy_new ();
    char *detail = NULL;
    char *status = s_proxy_command (proxy, "BIND", "inproc://only-one", &detail);
    assert_string_equal (status, "ERROR");
    assert_string_equal (detail, "BIND needs two endpoints");
    zstr_free (&status);
    zstr_free (&detail);

    char *pub, *sub;
    s_endpoint_pair (&pub, &sub);
    const char *bad [2][2] = { { "nonsense://x", sub }, { pub, "tcp://256.1.1.1:1" } };
    for (int i = 0; i < 2; i++) {
        zstr_sendx (proxy, "BIND", bad [i][0], bad [i][1], NULL);
        assert_int_equal (zstr_recvx (proxy, &status, &detail, NULL), 2);
        assert_string_equal (status, "ERROR");
        assert_non_null (strstr (detail, "cannot bind"));
        assert_non_null (strstr (detail, i == 0 ? "nonsense://x" : "tcp://256.1.1.1:1"));
        zstr_free (&status);
        zstr_free (&detail);
    }
    //  Not bound: a good BIND now works (fresh names: a closed inproc
    //  endpoint is released asynchronously).
    char *good_pub, *good_sub;
    s_endpoint_pair (&good_pub, &good_sub);
    zstr_sendx (proxy, "BIND", good_pub, good_sub, NULL);
    char *one = NULL, *two = NULL;
    assert_int_equal (zstr_recvx (proxy, &status, &one, &two, NULL), 3);
    assert_string_equal (status, "OK");
    zstr_free (&status);
    zstr_free (&one);
    zstr_free (&two);
    wp_bus_t *bus = s_client (good_pub, good_sub, "test/bind", NULL, NULL);
    wp_bus_destroy (&bus);
    zactor_destroy (&proxy);
    zstr_free (&pub);
    zstr_free (&sub);
    zstr_free (&good_pub);
    zstr_free (&good_sub);
}

//  tcp://127.0.0.1:* binds a real port and says which.
static void
test_proxy_bind_tcp_port (void **state)
{
    zactor_t *proxy = s_proxy_new ();
    zstr_sendx (proxy, "BIND", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", NULL);
    char *status = NULL, *pub = NULL, *sub = NULL;
    assert_int_equal (zstr_recvx (proxy, &status, &pub, &sub, NULL), 3);
    assert_string_equal (status, "OK");
    const char *prefix = "tcp://127.0.0.1:";
    assert_memory_equal (pub, prefix, strlen (prefix));
    assert_memory_equal (sub, prefix, strlen (prefix));
    long pub_port = atol (pub + strlen (prefix)), sub_port = atol (sub + strlen (prefix));
    assert_true (pub_port > 0 && pub_port < 65536);
    assert_true (sub_port > 0 && sub_port < 65536);
    assert_true (pub_port != sub_port);
    //  A client reaches readiness through those ports.
    wp_bus_t *bus = s_client (pub, sub, "test/tcp", NULL, NULL);
    wp_bus_destroy (&bus);
    zactor_destroy (&proxy);
    zstr_free (&status);
    zstr_free (&pub);
    zstr_free (&sub);
}

//  --------------------------------------------------------------------------
//  Clients.

//  A client is ready once its probe came back; without a proxy it is not.
static void
test_client_readiness (void **state)
{
    char *pub, *sub;
    zactor_t *proxy = s_proxy_start (&pub, &sub);
    wp_bus_t *bus = wp_bus_new (pub, sub, "test/ready", NULL);
    assert_non_null (bus);
    assert_false (wp_bus_ready (bus));
    assert_string_equal (wp_bus_source (bus), "test/ready");
    assert_non_null (wp_bus_sub_socket (bus));
    assert_int_equal (wp_bus_wait_ready (bus, WAIT_MS), 0);
    assert_true (wp_bus_ready (bus));
    //  Ready again at once.
    assert_int_equal (wp_bus_wait_ready (bus, 0), 0);
    //  Probes are not events.
    wp_bus_stats_t stats;
    wp_bus_stats (bus, &stats);
    assert_true (stats.events_in == 0 && stats.events_out == 0);
    assert_true (stats.bad_frames == 0 && stats.gaps == 0);
    wp_bus_event_t event;
    assert_int_equal (wp_bus_recv (bus, &event), 0);
    assert_null (event.msg);
    assert_int_equal (wp_bus_recv_wait (bus, &event, 20), 0);
    assert_false (wp_bus_has_buffered (bus));
    wp_bus_destroy (&bus);

    //  Nobody bound these endpoints: never ready, within the timeout.
    char *nowhere_pub, *nowhere_sub;
    s_endpoint_pair (&nowhere_pub, &nowhere_sub);
    bus = wp_bus_new (nowhere_pub, nowhere_sub, "test/alone", NULL);
    assert_non_null (bus);
    int64_t start = zclock_mono ();
    assert_int_equal (wp_bus_wait_ready (bus, 200), -1);
    int64_t took = zclock_mono () - start;
    assert_true (took >= 190 && took < 2000);
    assert_false (wp_bus_ready (bus));
    wp_bus_destroy (&bus);

    //  An endpoint that is not one: no client.
    assert_null (wp_bus_new ("nonsense", sub, "test/bad", NULL));
    assert_null (wp_bus_new (pub, "nonsense://x", "test/bad", NULL));

    zactor_destroy (&proxy);
    zstr_free (&pub);
    zstr_free (&sub);
    zstr_free (&nowhere_pub);
    zstr_free (&nowhere_sub);
}

//  One message of every topic, different for each round r.
typedef struct {
    Warmup__V1__UsageObserved usage;
    Warmup__V1__UsagePattern pattern;
    char *link_models [2];
    float link_weights [2];
    float link_delays [2];
    float hist [2];
    Warmup__V1__Header cause;
    Warmup__V1__PredictionMade prediction;
    Warmup__V1__ModelPrediction predictions [2];
    Warmup__V1__ModelPrediction *prediction_ptrs [2];
    Warmup__V1__WarmupRequested request;
    Warmup__V1__WarmupDone done;
    Warmup__V1__ResourceStatus resource;
    Warmup__V1__PerfEstimate perf;
    Warmup__V1__MetricsSnapshot metrics;
    Warmup__V1__TopicCount topic_counts [2];
    Warmup__V1__TopicCount *topic_count_ptrs [2];
    Warmup__V1__Heartbeat heartbeat;
    Warmup__V1__ClockTick tick;
    Warmup__V1__ClockAck ack;
    Warmup__V1__ModelMemory idle [2];
    Warmup__V1__ModelMemory *idle_ptrs [2];
    Warmup__V1__RoomRequest room;
    char *victims [2];
    Warmup__V1__RoomReply room_reply;
    Warmup__V1__SyncRequest sync_request;
    Warmup__V1__SyncReply sync_reply;
    Warmup__V1__SyncItem sync_item;
    Warmup__V1__SyncItem *sync_item_ptrs [1];
    uint8_t sync_payload [3];
    Warmup__V1__WarmupDeferred deferred;
    Warmup__V1__UsageIntent intent;
    uint64_t counts [WP_TOPIC_COUNT];
    Warmup__V1__ControlRequest control;
    Warmup__V1__ControlReply control_reply;
    Warmup__V1__ModelState model_state;
    Warmup__V1__ModelState *model_state_ptrs [1];
    char user [32];
} messages_t;

static void
s_messages_fill (messages_t *m, int r)
{
    memset (m, 0, sizeof *m);
    snprintf (m->user, sizeof m->user, "user-%d", r);
    Warmup__V1__Header cause = WARMUP__V1__HEADER__INIT;
    cause.source = "ide/7";
    cause.seq = (uint64_t) r;
    cause.sent_us = 12345;
    cause.schema = 1;
    m->cause = cause;

    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    usage.event_ms = 1000 + (uint64_t) r;
    usage.user = m->user;
    usage.session = "s1";
    usage.model = "coder";
    usage.task = WARMUP__V1__TASK__TASK_COMPLETION;
    usage.language = "c";
    usage.file_type = ".c";
    usage.project_files = 120;
    usage.input_tokens = 512 + (uint32_t) r;
    usage.priority = WARMUP__V1__PRIORITY__PRIORITY_HIGH;
    usage.acceptable_latency_ms = 300;
    usage.outcome = WARMUP__V1__OUTCOME__OUTCOME_DELAYED;
    usage.wait_ms = 40;
    m->usage = usage;

    for (int i = 0; i < 2; i++) {
        m->link_models [i] = i ? "chat" : "coder";
        m->link_weights [i] = 1.5f * (float) (r + i);
        m->link_delays [i] = 1234.5f * (float) r;
        m->hist [i] = 0.25f + (float) i;
    }
    Warmup__V1__UsagePattern pattern = WARMUP__V1__USAGE_PATTERN__INIT;
    pattern.event_ms = 2000 + (uint64_t) r;
    pattern.user = m->user;
    pattern.cause = &m->cause;
    pattern.model = "coder";
    pattern.count = (uint64_t) r + 1;
    pattern.last_ms = 999;
    pattern.rate_per_h = 3.5;
    pattern.idle_bins = (1ULL << 3) | (1ULL << 40);
    pattern.n_idle_hist = 2;
    pattern.idle_hist = m->hist;
    pattern.idle_total = 2.5;
    pattern.n_link_model = pattern.n_link_weight = pattern.n_link_delay_ms = 2;
    pattern.link_model = m->link_models;
    pattern.link_weight = m->link_weights;
    pattern.link_delay_ms = m->link_delays;
    pattern.next_count = 1;
    pattern.usage_received_us = 5;
    m->pattern = pattern;

    for (int i = 0; i < 2; i++) {
        Warmup__V1__ModelPrediction mp = WARMUP__V1__MODEL_PREDICTION__INIT;
        mp.model = i ? "chat" : "coder";
        mp.probability = 0.9 - 0.1 * i;
        mp.expected_in_ms = 60000;
        mp.confidence = 0.5;
        m->predictions [i] = mp;
        m->prediction_ptrs [i] = &m->predictions [i];
    }
    Warmup__V1__PredictionMade prediction = WARMUP__V1__PREDICTION_MADE__INIT;
    prediction.event_ms = 3000 + (uint64_t) r;
    prediction.user = m->user;
    prediction.horizon_s = 300;
    prediction.n_models = 2;
    prediction.models = m->prediction_ptrs;
    prediction.engine_version = "recency-frequency/1";
    prediction.compute_us = 17;
    prediction.cause = &m->cause;
    prediction.usage_received_us = 6;
    m->prediction = prediction;

    Warmup__V1__WarmupRequested request = WARMUP__V1__WARMUP_REQUESTED__INIT;
    request.event_ms = 4000 + (uint64_t) r;
    request.model = "coder";
    request.action = WARMUP__V1__ACTION__ACTION_WARM;
    request.priority = WARMUP__V1__PRIORITY__PRIORITY_NORMAL;
    request.deadline_ms = 9999;
    request.reason = "demand 0.90 >= 0.70 from 1 user(s)";
    request.expected_benefit_ms = 2250;
    request.memory_mb = 1800;
    m->request = request;

    Warmup__V1__WarmupDone done = WARMUP__V1__WARMUP_DONE__INIT;
    done.event_ms = 5000 + (uint64_t) r;
    done.model = "coder";
    done.action = WARMUP__V1__ACTION__ACTION_COOL;
    done.backend = "sim";
    done.ok = r % 2;
    done.error = r % 2 ? "" : "failed";
    done.duration_ms = 2500;
    done.memory_mb = 0;
    done.reason = "manual";
    done.cause = &m->cause;
    m->done = done;

    Warmup__V1__ResourceStatus resource = WARMUP__V1__RESOURCE_STATUS__INIT;
    resource.event_ms = 6000 + (uint64_t) r;
    resource.mem_total_mb = 32000;
    resource.mem_available_mb = 16000;
    resource.cgroup_limit_mb = 8000;
    resource.cgroup_usage_mb = 4000;
    resource.cpu_percent = 12.5;
    resource.ncpu = 8;
    resource.warm_models = 2;
    resource.warm_memory_mb = 3600;
    resource.budget_mb = 4096;
    resource.admit = 1;
    m->resource = resource;

    Warmup__V1__PerfEstimate perf = WARMUP__V1__PERF_ESTIMATE__INIT;
    perf.event_ms = 7000 + (uint64_t) r;
    perf.model = "coder";
    perf.samples = 10;
    perf.load_ms_ema = 2400.5;
    perf.load_ms_p50 = 2300;
    perf.load_ms_p90 = 2900;
    perf.load_ms_p99 = 3100;
    perf.memory_mb = 1800;
    perf.failures = 1;
    m->perf = perf;

    for (int i = 0; i < 2; i++) {
        Warmup__V1__TopicCount tc = WARMUP__V1__TOPIC_COUNT__INIT;
        tc.topic = i ? "heartbeat" : "usage.observed";
        tc.count = (uint64_t) (100 * r + i);
        m->topic_counts [i] = tc;
        m->topic_count_ptrs [i] = &m->topic_counts [i];
    }
    Warmup__V1__MetricsSnapshot metrics = WARMUP__V1__METRICS_SNAPSHOT__INIT;
    metrics.event_ms = 8000 + (uint64_t) r;
    metrics.n_topics = 2;
    metrics.topics = m->topic_count_ptrs;
    metrics.requests = 10;
    metrics.warm = 7;
    metrics.cold_wait_s = 1.5;
    metrics.latency_p99_us = 800;
    m->metrics = metrics;

    Warmup__V1__Heartbeat heartbeat = WARMUP__V1__HEARTBEAT__INIT;
    heartbeat.event_ms = 9000 + (uint64_t) r;
    heartbeat.component = "analyzer";
    heartbeat.instance = "host:1";
    heartbeat.pid = 4321;
    heartbeat.rss_kb = 10240;
    heartbeat.uptime_ms = 60000;
    heartbeat.events_in = 5;
    heartbeat.interval_ms = 1000;
    m->heartbeat = heartbeat;

    Warmup__V1__ClockTick tick = WARMUP__V1__CLOCK_TICK__INIT;
    tick.event_ms = 10000 + (uint64_t) r;
    tick.tick = (uint64_t) r + 1;
    tick.lockstep = true;
    m->tick = tick;

    for (int t = 0; t < WP_TOPIC_COUNT; t++)
        m->counts [t] = (uint64_t) (t * 10 + r);
    Warmup__V1__ClockAck ack = WARMUP__V1__CLOCK_ACK__INIT;
    ack.event_ms = 11000 + (uint64_t) r;
    ack.tick = (uint64_t) r + 1;
    ack.component = "scheduler";
    ack.next_ms = 12000;
    ack.n_received = WP_TOPIC_COUNT;
    ack.received = m->counts;
    ack.n_published = WP_TOPIC_COUNT;
    ack.published = m->counts;
    ack.subscribed = 0x15;
    ack.busy = r == 1;
    m->ack = ack;
    Warmup__V1__ControlRequest control = WARMUP__V1__CONTROL_REQUEST__INIT;
    control.event_ms = 10000 + (uint64_t) r;
    control.command = WARMUP__V1__COMMAND__COMMAND_PIN;
    control.model = "embed";
    control.request_id = m->user;
    m->control = control;

    Warmup__V1__ModelState model_state = WARMUP__V1__MODEL_STATE__INIT;
    model_state.model = "embed";
    model_state.state = "warm";
    model_state.pinned = true;
    model_state.memory_mb = 300;
    model_state.last_reason = "pinned (config)";
    m->model_state = model_state;
    m->model_state_ptrs [0] = &m->model_state;
    Warmup__V1__ControlReply reply = WARMUP__V1__CONTROL_REPLY__INIT;
    reply.event_ms = 11000 + (uint64_t) r;
    reply.command = WARMUP__V1__COMMAND__COMMAND_MODELS;
    reply.request_id = m->user;
    reply.component = "scheduler";
    reply.ok = true;
    reply.n_models = 1;
    reply.models = m->model_state_ptrs;
    reply.models_total = 1;
    m->control_reply = reply;

    for (int i = 0; i < 2; i++) {
        Warmup__V1__ModelMemory idle = WARMUP__V1__MODEL_MEMORY__INIT;
        idle.model = i ? "m-small/c1" : "m-large/c0";
        idle.memory_mb = 4096u << i;
        m->idle [i] = idle;
        m->idle_ptrs [i] = &m->idle [i];
    }
    Warmup__V1__RoomRequest room = WARMUP__V1__ROOM_REQUEST__INIT;
    room.event_ms = 13000 + (uint64_t) r;
    room.model = "m-mid/c2";
    room.need_mb = 16384;
    room.free_mb = -1024 * r;
    room.n_idle = 2;
    room.idle = m->idle_ptrs;
    m->room = room;
    m->victims [0] = "m-large/c0";
    m->victims [1] = "m-small/c1";
    Warmup__V1__RoomReply room_reply = WARMUP__V1__ROOM_REPLY__INIT;
    room_reply.event_ms = 13000 + (uint64_t) r;
    room_reply.request_source = "warmupctl-replay/42";
    room_reply.request_seq = (uint64_t) r + 1;
    room_reply.n_victims = (size_t) r % 3;
    room_reply.victims = m->victims;
    m->room_reply = room_reply;
    Warmup__V1__SyncRequest sync_request = WARMUP__V1__SYNC_REQUEST__INIT;
    sync_request.event_ms = 14000 + (uint64_t) r;
    sync_request.component = "queue";
    sync_request.request_id = "scheduler/h:1#1";
    sync_request.requester = "scheduler";
    m->sync_request = sync_request;
    Warmup__V1__SyncItem item = WARMUP__V1__SYNC_ITEM__INIT;
    m->sync_payload [0] = 0x1a;
    m->sync_payload [1] = 1;
    m->sync_payload [2] = (uint8_t) ('a' + r);
    item.kind = "model.state";
    item.payload.len = sizeof m->sync_payload;
    item.payload.data = m->sync_payload;
    m->sync_item = item;
    m->sync_item_ptrs [0] = &m->sync_item;
    Warmup__V1__SyncReply sync_reply = WARMUP__V1__SYNC_REPLY__INIT;
    sync_reply.event_ms = 14000 + (uint64_t) r;
    sync_reply.request_id = "scheduler/h:1#1";
    sync_reply.component = "queue";
    sync_reply.part = (uint32_t) r + 1;
    sync_reply.last = r == 2;
    sync_reply.n_items = 1;
    sync_reply.items = m->sync_item_ptrs;
    sync_reply.items_total = 3;
    m->sync_reply = sync_reply;
    Warmup__V1__WarmupDeferred deferred = WARMUP__V1__WARMUP_DEFERRED__INIT;
    deferred.event_ms = 15000 + (uint64_t) r;
    deferred.model = "big";
    deferred.waits = r != 1;
    deferred.reason = "no room in GPU budget: needs 3072 MiB, 0 of 2560 MiB taken";
    deferred.memory_mb = 3072;
    deferred.device = "gpu";
    m->deferred = deferred;
    Warmup__V1__UsageIntent intent = WARMUP__V1__USAGE_INTENT__INIT;
    intent.event_ms = 15000 + (uint64_t) r;
    intent.user = m->user;
    intent.session = "s1";
    intent.kind = r == 1 ? "chat.opened" : "file.opened";
    intent.model = r == 2 ? "" : "coder";
    intent.language = "python";
    intent.file_type = ".py";
    intent.task = WARMUP__V1__TASK__TASK_CHAT;
    m->intent = intent;
}

static ProtobufCMessage *
s_message (messages_t *m, wp_topic_t topic)
{
    switch (topic) {
        case WP_TOPIC_USAGE: return &m->usage.base;
        case WP_TOPIC_PATTERN: return &m->pattern.base;
        case WP_TOPIC_PREDICTION: return &m->prediction.base;
        case WP_TOPIC_WARMUP_REQUEST: return &m->request.base;
        case WP_TOPIC_WARMUP_DONE: return &m->done.base;
        case WP_TOPIC_RESOURCE: return &m->resource.base;
        case WP_TOPIC_PERF: return &m->perf.base;
        case WP_TOPIC_METRICS: return &m->metrics.base;
        case WP_TOPIC_HEARTBEAT: return &m->heartbeat.base;
        case WP_TOPIC_CLOCK_TICK: return &m->tick.base;
        case WP_TOPIC_CLOCK_ACK: return &m->ack.base;
        case WP_TOPIC_CONTROL: return &m->control.base;
        case WP_TOPIC_CONTROL_REPLY: return &m->control_reply.base;
        case WP_TOPIC_ROOM_REQUEST: return &m->room.base;
        case WP_TOPIC_ROOM_REPLY: return &m->room_reply.base;
        case WP_TOPIC_SYNC_REQUEST: return &m->sync_request.base;
        case WP_TOPIC_SYNC_REPLY: return &m->sync_reply.base;
        case WP_TOPIC_WARMUP_DEFERRED: return &m->deferred.base;
        case WP_TOPIC_INTENT: return &m->intent.base;
        default: fail ();
    }
    return NULL;
}

//  The header slot (field 1) of a message.
static Warmup__V1__Header **
s_header_slot (ProtobufCMessage *msg)
{
    return (Warmup__V1__Header **) ((char *) msg + msg->descriptor->fields [0].offset);
}

//  True when received equals sent apart from the header: both packed
//  without their header give the same bytes.
static bool
s_same_payload (ProtobufCMessage *sent, ProtobufCMessage *received)
{
    if (sent->descriptor != received->descriptor)
        return false;
    Warmup__V1__Header **slot = s_header_slot (received);
    Warmup__V1__Header *header = *slot;
    *slot = NULL;
    size_t size_one = protobuf_c_message_get_packed_size (sent);
    size_t size_two = protobuf_c_message_get_packed_size (received);
    bool same = size_one == size_two;
    if (same) {
        uint8_t *one = malloc (size_one + 1), *two = malloc (size_two + 1);
        assert_true (one && two);
        protobuf_c_message_pack (sent, one);
        protobuf_c_message_pack (received, two);
        same = memcmp (one, two, size_one) == 0;
        free (one);
        free (two);
    }
    *slot = header;
    return same;
}

//  Every topic, three rounds: received in order, intact, with the header
//  stamped (source, seq 1, 2, 3 per topic, schema 1, send time).
static void
test_round_trip_every_topic (void **state)
{
    char *pub, *sub;
    zactor_t *proxy = s_proxy_start (&pub, &sub);
    //  The subscriber first: the publisher's readiness then covers its
    //  subscription (the proxy passes it on when the publisher connects).
    wp_bus_t *reader = s_client (pub, sub, "test/reader", "", NULL);
    wp_bus_t *writer = s_client (pub, sub, "test/writer", NULL, NULL);
    messages_t sent [3];
    uint64_t before = wp_wall_us ();
    for (int r = 0; r < 3; r++) {
        s_messages_fill (&sent [r], r + 1);
        for (int t = 0; t < WP_TOPIC_COUNT; t++) {
            ProtobufCMessage *msg = s_message (&sent [r], (wp_topic_t) t);
            assert_int_equal (wp_bus_publish (writer, (wp_topic_t) t, msg), 0);
            //  The caller's message keeps its own (absent) header.
            assert_null (*s_header_slot (msg));
        }
    }
    uint64_t after = wp_wall_us ();
    for (int r = 0; r < 3; r++)
        for (int t = 0; t < WP_TOPIC_COUNT; t++) {
            wp_bus_event_t event;
            assert_int_equal (wp_bus_recv_wait (reader, &event, WAIT_MS), 1);
            assert_int_equal (event.topic, t);
            assert_ptr_equal (event.msg->descriptor, wp_topic_descriptor ((wp_topic_t) t));
            const Warmup__V1__Header *header = wp_bus_header (event.msg);
            assert_non_null (header);
            assert_string_equal (header->source, "test/writer");
            assert_true (header->seq == (uint64_t) (r + 1));
            assert_int_equal (header->schema, WP_SCHEMA_VERSION);
            assert_true (header->sent_us >= before && header->sent_us <= after);
            //  What the proxy changes on the way: user ids hashed, the
            //  principal (a peer of this process: "local") stamped.
            messages_t expected = sent [r];
            expected.usage.user = (char *) s_hashed (sent [r].usage.user, 'u');
            expected.usage.session = (char *) s_hashed (sent [r].usage.session, 's');
            expected.intent.user = (char *) s_hashed (sent [r].intent.user, 'u');
            expected.intent.session = (char *) s_hashed (sent [r].intent.session, 's');
            expected.request.principal = (char *) "local";
            expected.control.principal = (char *) "local";
            if (!s_same_payload (s_message (&expected, (wp_topic_t) t), event.msg))
                print_error ("round %d topic %s differs\n", r, wp_topic_name ((wp_topic_t) t));
            assert_true (s_same_payload (s_message (&expected, (wp_topic_t) t), event.msg));
            wp_bus_event_free (&event);
            assert_null (event.msg);
            wp_bus_event_free (&event);
        }
    wp_bus_event_t event;
    assert_int_equal (wp_bus_recv (reader, &event), 0);

    wp_bus_stats_t stats;
    wp_bus_stats (writer, &stats);
    assert_true (stats.events_out == 3 * WP_TOPIC_COUNT && stats.send_errors == 0);
    wp_bus_stats (reader, &stats);
    assert_true (stats.events_in == 3 * WP_TOPIC_COUNT);
    assert_true (stats.gaps == 0 && stats.bad_frames == 0);
    uint64_t forwarded, dropped;
    s_proxy_stats (proxy, &forwarded, &dropped);
    assert_true (forwarded >= 3 * WP_TOPIC_COUNT);
    assert_true (dropped == 0);

    wp_bus_destroy (&writer);
    wp_bus_destroy (&reader);
    zactor_destroy (&proxy);
    zstr_free (&pub);
    zstr_free (&sub);
}

//  The header a caller set is replaced on the wire, and left as it was
//  in the caller's message; a payload over 4 KiB goes out whole.
static void
test_publish_header_and_large (void **state)
{
    char *pub, *sub;
    zactor_t *proxy = s_proxy_start (&pub, &sub);
    wp_bus_t *reader = s_client (pub, sub, "test/reader", "usage.", NULL);
    wp_bus_t *writer = s_client (pub, sub, "test/writer", NULL, NULL);

    Warmup__V1__Header mine = WARMUP__V1__HEADER__INIT;
    mine.source = "forged";
    mine.seq = 99;
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    usage.header = &mine;
    usage.user = "u";
    usage.model = "m";
    assert_int_equal (wp_bus_publish (writer, WP_TOPIC_USAGE, &usage.base), 0);
    assert_ptr_equal (usage.header, &mine);
    assert_string_equal (mine.source, "forged");
    assert_true (mine.seq == 99);

    //  A pattern with 400 links: about 6 KiB (a real one has at most 12).
    char *links [400];
    float weights [400];
    char names [400][16];
    for (int i = 0; i < 400; i++) {
        snprintf (names [i], sizeof names [i], "model-%03d", i);
        links [i] = names [i];
        weights [i] = (float) i * 1.5f;
    }
    Warmup__V1__UsagePattern pattern = WARMUP__V1__USAGE_PATTERN__INIT;
    pattern.user = "big";
    pattern.n_link_model = pattern.n_link_weight = pattern.n_link_delay_ms = 400;
    pattern.link_model = links;
    pattern.link_weight = weights;
    pattern.link_delay_ms = weights;
    assert_true (protobuf_c_message_get_packed_size (&pattern.base) > 4096);
    assert_int_equal (wp_bus_publish (writer, WP_TOPIC_PATTERN, &pattern.base), 0);

    wp_bus_event_t event;
    assert_int_equal (wp_bus_recv_wait (reader, &event, WAIT_MS), 1);
    assert_int_equal (event.topic, WP_TOPIC_USAGE);
    const Warmup__V1__Header *header = wp_bus_header (event.msg);
    assert_string_equal (header->source, "test/writer");
    assert_true (header->seq == 1);
    Warmup__V1__UsageObserved *got = (Warmup__V1__UsageObserved *) event.msg;
    assert_string_equal (got->user, s_hashed ("u", 'u'));
    wp_bus_event_free (&event);

    assert_int_equal (wp_bus_recv_wait (reader, &event, WAIT_MS), 1);
    assert_int_equal (event.topic, WP_TOPIC_PATTERN);
    assert_true (s_same_payload (&pattern.base, event.msg));
    assert_true (wp_bus_header (event.msg)->seq == 1);
    wp_bus_event_free (&event);

    wp_bus_destroy (&writer);
    wp_bus_destroy (&reader);
    zactor_destroy (&proxy);
    zstr_free (&pub);
    zstr_free (&sub);
}

//  A topic decoded header-only: the header, event_ms and nothing else of
//  a 200-model pattern; sequence gaps still counted; a payload whose wire
//  structure or header does not parse is still rejected.
static void
test_header_only (void **state)
{
    char *pub, *sub;
    zactor_t *proxy = s_proxy_start (&pub, &sub);
    wp_bus_t *reader = s_client (pub, sub, "test/reader", "", NULL);
    wp_bus_t *writer = s_client (pub, sub, "test/writer", NULL, NULL);
    wp_bus_header_only (reader, WP_TOPIC_PATTERN);

    char *links [200];
    float hist [200 * 54];
    for (int i = 0; i < 200; i++)
        links [i] = (char *) "m";
    for (int b = 0; b < 200 * 54; b++)
        hist [b] = (float) b;
    Warmup__V1__UsagePattern pattern = WARMUP__V1__USAGE_PATTERN__INIT;
    pattern.user = "big";
    pattern.event_ms = 1700000000123ULL;
    pattern.model = (char *) "m";
    pattern.n_link_model = 200;
    pattern.link_model = links;
    pattern.n_idle_hist = 200 * 54;
    pattern.idle_hist = hist;
    pattern.idle_bins = 54;
    for (int n = 0; n < 3; n++)
        assert_int_equal (wp_bus_publish (writer, WP_TOPIC_PATTERN, &pattern.base), 0);
    //  Other topics decode in full
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    usage.user = "u";
    usage.model = "m";
    assert_int_equal (wp_bus_publish (writer, WP_TOPIC_USAGE, &usage.base), 0);
    for (int n = 0; n < 3; n++) {
        wp_bus_event_t event;
        assert_int_equal (wp_bus_recv_wait (reader, &event, WAIT_MS), 1);
        assert_int_equal (event.topic, WP_TOPIC_PATTERN);
        const Warmup__V1__UsagePattern *got = (const Warmup__V1__UsagePattern *) event.msg;
        assert_ptr_equal (got->base.descriptor, &warmup__v1__usage_pattern__descriptor);
        assert_string_equal (wp_bus_header (event.msg)->source, "test/writer");
        assert_true (wp_bus_header (event.msg)->seq == (uint64_t) n + 1);
        assert_true (got->event_ms == 1700000000123ULL);
        assert_int_equal (got->n_link_model, 0);
        assert_int_equal (got->n_idle_hist, 0);
        assert_int_equal (got->idle_bins, 0);
        assert_true (got->user == NULL || *got->user == 0);
        wp_bus_event_free (&event);
    }
    wp_bus_event_t event;
    assert_int_equal (wp_bus_recv_wait (reader, &event, WAIT_MS), 1);
    assert_int_equal (event.topic, WP_TOPIC_USAGE);
    assert_string_equal (((Warmup__V1__UsageObserved *) event.msg)->user, s_hashed ("u", 'u'));
    wp_bus_event_free (&event);

    //  Bad payloads on the header-only topic: counted, not delivered
    zsock_t *raw = s_raw_pub (pub);
    s_raw_sync (raw, &reader, 1);
    const uint8_t truncated [3] = { 0x0a, 0x10, 0x01 };
    const uint8_t endless [11] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff };
    const uint8_t nested [4] = { 0x0a, 0x02, 0xff, 0xff };
    const uint8_t group [2] = { 0x0b, 0x0c };
    const uint8_t *garbage [4] = { truncated, endless, nested, group };
    const size_t sizes [4] = { 3, 11, 4, 2 };
    wp_bus_stats_t before, after;
    uint64_t seq = 0;
    s_raw_marker (raw, ++seq, &reader, 1);
    wp_bus_stats (reader, &before);
    for (int g = 0; g < 4; g++) {
        s_raw_envelope (raw, "usage.pattern", garbage [g], sizes [g]);
        s_raw_marker (raw, ++seq, &reader, 1);
    }
    wp_bus_stats (reader, &after);
    assert_true (after.bad_frames == before.bad_frames + 4);
    zsock_destroy (&raw);
    wp_bus_destroy (&writer);
    wp_bus_destroy (&reader);
    zactor_destroy (&proxy);
    zstr_free (&pub);
    zstr_free (&sub);
}

//  Sequence gaps per (source, topic): seq 1 then 5 is 3 missed events; a
//  lower number is a restart, not a gap; each source and topic counts
//  on its own.
static void
test_sequence_gaps (void **state)
{
    char *pub, *sub;
    zactor_t *proxy = s_proxy_start (&pub, &sub);
    wp_bus_t *reader = s_client (pub, sub, "test/reader", "", NULL);
    zsock_t *raw = s_raw_pub (pub);
    s_raw_sync (raw, &reader, 1);

    struct {
        const char *topic, *source;
        uint64_t seq, gaps;
    } steps [] = {
        { "heartbeat", "raw", 1, 0 },
        { "heartbeat", "raw", 5, 3 },           //  2, 3, 4 missed
        { "heartbeat", "raw", 6, 3 },
        { "heartbeat", "raw", 6, 3 },           //  a repeat is no gap
        { "heartbeat", "raw", 2, 3 },           //  restart: from 2 on
        { "heartbeat", "raw", 4, 4 },           //  3 missed
        //  A heartbeat payload also decodes as a usage event (fields 1..3
        //  are compatible): the usage topic has its own numbers.
        { "usage.observed", "raw", 10, 4 },     //  first seen: no gap
        { "usage.observed", "raw", 11, 4 },
        { "usage.observed", "raw", 13, 5 },
        { "heartbeat", "other", 7, 5 },         //  another source
        { "heartbeat", "other", 10, 7 },
        { "heartbeat", "raw", 5, 7 },           //  raw's heartbeats went on at 4
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps [0]; i++) {
        size_t size;
        uint8_t *payload = s_pack_heartbeat (steps [i].source, steps [i].seq, NULL, &size);
        s_raw_envelope (raw, steps [i].topic, payload, size);
        free (payload);
        wp_bus_event_t event;
        assert_int_equal (s_recv_next (reader, &event), 1);
        const Warmup__V1__Header *header = wp_bus_header (event.msg);
        assert_true (header->seq == steps [i].seq);
        assert_string_equal (header->source, steps [i].source);
        assert_string_equal (wp_topic_name (event.topic), steps [i].topic);
        wp_bus_event_free (&event);
        wp_bus_stats_t stats;
        wp_bus_stats (reader, &stats);
        if (stats.gaps != steps [i].gaps)
            print_error ("after %s %s seq %d: gaps %d, want %d\n", steps [i].topic,
                         steps [i].source, (int) steps [i].seq, (int) stats.gaps,
                         (int) steps [i].gaps);
        assert_true (stats.gaps == steps [i].gaps);
    }

    zsock_destroy (&raw);
    wp_bus_destroy (&reader);
    zactor_destroy (&proxy);
    zstr_free (&pub);
    zstr_free (&sub);
}

//  A payload that does not decode, on every topic: not delivered, counted
//  as a bad frame; the proxy (which does not decode) forwards it, except
//  on usage.observed and usage.intent, whose wire it reads to hash the
//  user id: there it drops what does not parse (and counts it).
static void
test_garbage_payloads (void **state)
{
    char *pub, *sub;
    zactor_t *proxy = s_proxy_start (&pub, &sub);
    wp_bus_t *reader = s_client (pub, sub, "test/reader", "", NULL);
    zsock_t *raw = s_raw_pub (pub);
    s_raw_sync (raw, &reader, 1);
    //  Field 1 (the header) says 16 bytes follow, 1 does; a tag that
    //  never ends; a header whose own content is a broken tag.
    const uint8_t truncated [3] = { 0x0a, 0x10, 0x01 };
    const uint8_t endless [3] = { 0xff, 0xff, 0xff };
    const uint8_t nested [4] = { 0x0a, 0x02, 0xff, 0xff };
    const uint8_t *garbage [3] = { truncated, endless, nested };
    const size_t sizes [3] = { 3, 3, 4 };
    uint64_t seq = 0, bad = 0;
    //  Every late sync heartbeat is ahead of this marker.
    s_raw_marker (raw, ++seq, &reader, 1);
    //  Garbage alone: once it is waiting on the socket, wp_bus_recv says
    //  there is nothing (0) and counts it.
    zpoller_t *poller = zpoller_new (wp_bus_sub_socket (reader), NULL);
    assert_non_null (poller);
    wp_bus_stats_t before;
    wp_bus_stats (reader, &before);
    for (int t = 0; t < WP_TOPIC_COUNT; t++) {
        if (t == WP_TOPIC_USAGE || t == WP_TOPIC_INTENT)
            continue;           //  below
        s_raw_envelope (raw, wp_topic_name ((wp_topic_t) t), truncated, sizeof truncated);
        assert_ptr_equal (zpoller_wait (poller, WAIT_MS), wp_bus_sub_socket (reader));
        wp_bus_event_t event;
        assert_int_equal (wp_bus_recv (reader, &event), 0);
        assert_null (event.msg);
        wp_bus_stats_t stats;
        wp_bus_stats (reader, &stats);
        assert_true (stats.bad_frames == ++bad);
        assert_true (stats.events_in == before.events_in);
    }
    zpoller_destroy (&poller);
    //  Every kind, each followed by a marker that must be the next event.
    uint64_t proxy_drops = 0;
    for (int g = 0; g < 3; g++)
        for (int t = 0; t < WP_TOPIC_COUNT; t++) {
            s_raw_envelope (raw, wp_topic_name ((wp_topic_t) t), garbage [g], sizes [g]);
            s_raw_marker (raw, ++seq, &reader, 1);
            //  The top level of nested parses: the proxy lets it through.
            if ((t == WP_TOPIC_USAGE || t == WP_TOPIC_INTENT) && g < 2) {
                uint64_t forwarded, dropped;
                s_proxy_stats (proxy, &forwarded, &dropped);
                assert_true (dropped == ++proxy_drops);
                continue;
            }
            bad++;
            wp_bus_stats_t stats;
            wp_bus_stats (reader, &stats);
            if (stats.bad_frames != bad)
                print_error ("garbage %d on %s: bad_frames %d, want %d\n", g,
                             wp_topic_name ((wp_topic_t) t), (int) stats.bad_frames,
                             (int) bad);
            assert_true (stats.bad_frames == bad);
            assert_true (stats.gaps == 0);
        }
    uint64_t forwarded, dropped;
    s_proxy_stats (proxy, &forwarded, &dropped);
    assert_true (dropped == proxy_drops);
    assert_true (forwarded >= 4 * WP_TOPIC_COUNT + 1 - 3);
    zsock_destroy (&raw);
    wp_bus_destroy (&reader);
    zactor_destroy (&proxy);
    zstr_free (&pub);
    zstr_free (&sub);
}

//  A payload without a usable header is rejected: none at all (an empty
//  payload decodes to defaults), an empty source, sequence number 0.
static void
test_payload_without_header (void **state)
{
    char *pub, *sub;
    zactor_t *proxy = s_proxy_start (&pub, &sub);
    wp_bus_t *reader = s_client (pub, sub, "test/reader", "", NULL);
    zsock_t *raw = s_raw_pub (pub);
    s_raw_sync (raw, &reader, 1);

    s_raw_envelope (raw, "usage.observed", "", 0);
    size_t size;
    uint8_t *payload = s_pack_heartbeat (NULL, 0, "no header", &size);
    s_raw_envelope (raw, "heartbeat", payload, size);
    free (payload);
    payload = s_pack_heartbeat ("", 5, NULL, &size);
    s_raw_envelope (raw, "heartbeat", payload, size);
    free (payload);
    payload = s_pack_heartbeat ("someone", 0, NULL, &size);
    s_raw_envelope (raw, "heartbeat", payload, size);
    free (payload);
    s_raw_marker (raw, 1, &reader, 1);
    wp_bus_stats_t stats;
    wp_bus_stats (reader, &stats);
    assert_true (stats.bad_frames == 4);
    zsock_destroy (&raw);
    wp_bus_destroy (&reader);
    zactor_destroy (&proxy);
    zstr_free (&pub);
    zstr_free (&sub);
}

//  The proxy drops what is not an envelope (unknown topic, not two
//  frames, empty or too long topic) and counts it; nothing reaches the
//  subscriber. Another client's probe passes the proxy and is ignored
//  by the subscriber, not counted as bad.
static void
test_proxy_drops_invalid (void **state)
{
    char *pub, *sub;
    zactor_t *proxy = s_proxy_start (&pub, &sub);
    wp_bus_t *reader = s_client (pub, sub, "test/reader", "", NULL);
    zsock_t *raw = s_raw_pub (pub);
    s_raw_sync (raw, &reader, 1);
    uint64_t forwarded_before, dropped;
    s_proxy_stats (proxy, &forwarded_before, &dropped);
    assert_true (dropped == 0);

    size_t size;
    uint8_t *payload = s_pack_heartbeat ("raw", 1, NULL, &size);
    s_raw_envelope (raw, "nosuch.topic", payload, size);
    s_raw_envelope (raw, "heartbeats", payload, size);
    s_raw_envelope (raw, "_probe.", payload, size);
    {
        const void *data [3] = { "heartbeat", payload, "extra" };
        size_t sizes [3] = { 9, size, 5 };
        s_raw_send (raw, 3, data, sizes);
    }
    {
        const void *data [1] = { "heartbeat" };
        size_t sizes [1] = { 9 };
        s_raw_send (raw, 1, data, sizes);
    }
    {
        const void *data [2] = { "", payload };
        size_t sizes [2] = { 0, size };
        s_raw_send (raw, 2, data, sizes);
    }
    char long_topic [66];
    memcpy (long_topic, "_probe.", 7);
    memset (long_topic + 7, 'x', 58);
    long_topic [65] = 0;
    s_raw_envelope (raw, long_topic, payload, size);     //  65 bytes
    free (payload);
    //  Someone else's probe (64 bytes, the longest topic): forwarded,
    //  then dropped quietly by the subscriber.
    long_topic [64] = 0;
    s_raw_envelope (raw, long_topic, "", 0);
    s_raw_marker (raw, 1, &reader, 1);

    uint64_t forwarded;
    s_proxy_stats (proxy, &forwarded, &dropped);
    if (dropped != 7)
        print_error ("proxy dropped %d, want 7\n", (int) dropped);
    assert_true (dropped == 7);
    //  The probe and the marker, and perhaps late sync heartbeats.
    assert_true (forwarded >= forwarded_before + 2);
    wp_bus_stats_t stats;
    wp_bus_stats (reader, &stats);
    assert_true (stats.bad_frames == 0);
    wp_bus_event_t event;
    assert_int_equal (wp_bus_recv (reader, &event), 0);
    zsock_destroy (&raw);
    wp_bus_destroy (&reader);
    zactor_destroy (&proxy);
    zstr_free (&pub);
    zstr_free (&sub);
}

//  A heartbeat packed to exactly `target` bytes (from source "big").
static uint8_t *
s_pack_exact (size_t target, uint64_t seq, size_t *size)
{
    char *component = malloc (target + 1);
    assert_non_null (component);
    for (size_t len = target > 64 ? target - 64 : 0; len <= target; len++) {
        memset (component, 'c', len);
        component [len] = 0;
        uint8_t *payload = s_pack_heartbeat ("big", seq, component, size);
        if (*size == target) {
            free (component);
            return payload;
        }
        free (payload);
    }
    free (component);
    fail_msg ("cannot pack a heartbeat of exactly %zu bytes", target);
    return NULL;
}

//  Send a heartbeat of exactly `bytes` from "big" with seq; check which of
//  the two readers (large, small) gets it; then a marker.
static void
s_send_size (zsock_t *raw, wp_bus_t **readers, size_t bytes, uint64_t seq,
             uint64_t marker, bool large_gets, bool small_gets)
{
    size_t size;
    uint8_t *payload = s_pack_exact (bytes, seq, &size);
    s_raw_envelope (raw, "heartbeat", payload, size);
    free (payload);
    for (int i = 0; i < 2; i++) {
        if (!(i == 0 ? large_gets : small_gets))
            continue;
        wp_bus_event_t event;
        assert_int_equal (s_recv_next (readers [i], &event), 1);
        const Warmup__V1__Header *header = wp_bus_header (event.msg);
        assert_string_equal (header->source, "big");
        assert_true (header->seq == seq);
        Warmup__V1__Heartbeat *beat = (Warmup__V1__Heartbeat *) event.msg;
        assert_true (strlen (beat->component) > bytes - 64);
        wp_bus_event_free (&event);
    }
    s_raw_marker (raw, marker, readers, 2);
}

//  Size limits: the proxy forwards payloads up to its max_frame (64 KiB
//  by default, MAXFRAME changes it) and drops larger ones; a client with
//  a smaller max_frame rejects what is larger than its own.
static void
test_oversized_payloads (void **state)
{
    char *pub, *sub;
    zactor_t *proxy = s_proxy_start (&pub, &sub);
    wp_bus_opts_t small = { .max_frame = 1024 };
    wp_bus_t *readers [2];
    readers [0] = s_client (pub, sub, "test/large", "", NULL);
    readers [1] = s_client (pub, sub, "test/small", "", &small);
    zsock_t *raw = s_raw_pub (pub);
    s_raw_sync (raw, readers, 2);
    uint64_t marker = 0, seq = 0, forwarded, dropped;
    #define SEND_SIZE(bytes, large_gets, small_gets) \
        s_send_size (raw, readers, bytes, ++seq, ++marker, large_gets, small_gets)
    wp_bus_stats_t stats;

    SEND_SIZE (1024, true, true);
    SEND_SIZE (1025, true, false);
    wp_bus_stats (readers [1], &stats);
    assert_true (stats.bad_frames == 1);
    SEND_SIZE (65536, true, false);
    wp_bus_stats (readers [1], &stats);
    assert_true (stats.bad_frames == 2);
    s_proxy_stats (proxy, &forwarded, &dropped);
    assert_true (dropped == 0);
    SEND_SIZE (65537, false, false);
    s_proxy_stats (proxy, &forwarded, &dropped);
    assert_true (dropped == 1);
    wp_bus_stats (readers [0], &stats);
    assert_true (stats.bad_frames == 0);
    //  The one the proxy dropped shows up as a gap at the next one.
    SEND_SIZE (300, true, true);
    wp_bus_stats (readers [0], &stats);
    assert_true (stats.gaps == 1);

    char *status = s_proxy_command (proxy, "MAXFRAME", "2000", NULL);
    assert_string_equal (status, "OK");
    zstr_free (&status);
    SEND_SIZE (2000, true, false);
    SEND_SIZE (2001, false, false);
    s_proxy_stats (proxy, &forwarded, &dropped);
    assert_true (dropped == 2);

    #undef SEND_SIZE
    zsock_destroy (&raw);
    wp_bus_destroy (&readers [0]);
    wp_bus_destroy (&readers [1]);
    zactor_destroy (&proxy);
    zstr_free (&pub);
    zstr_free (&sub);
}

//  Events that arrive while a client waits for its probe are kept and
//  returned first, in order. Arranged so: the reader subscribes (but does
//  not probe); the writer publishes until the reader's socket has an
//  event waiting; then the reader waits for readiness, and must read that
//  event off its socket before its own probe.
static void
test_events_during_wait_ready (void **state)
{
    char *pub, *sub;
    zactor_t *proxy = s_proxy_start (&pub, &sub);
    wp_bus_t *reader = wp_bus_new (pub, sub, "test/reader", NULL);
    assert_non_null (reader);
    assert_int_equal (wp_bus_subscribe (reader, "usage."), 0);
    wp_bus_t *writer = s_client (pub, sub, "test/writer", NULL, NULL);

    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    usage.model = "m";
    char user [32];
    usage.user = user;
    zpoller_t *poller = zpoller_new (wp_bus_sub_socket (reader), NULL);
    assert_non_null (poller);
    int published = 0;
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (true) {
        assert_true (zclock_mono () < deadline);
        snprintf (user, sizeof user, "early-%d", ++published);
        assert_int_equal (wp_bus_publish (writer, WP_TOPIC_USAGE, &usage.base), 0);
        if (zpoller_wait (poller, 10))
            break;
    }
    zpoller_destroy (&poller);
    for (int i = 1; i <= 2; i++) {
        snprintf (user, sizeof user, "late-%d", i);
        assert_int_equal (wp_bus_publish (writer, WP_TOPIC_USAGE, &usage.base), 0);
    }
    assert_false (wp_bus_has_buffered (reader));
    assert_int_equal (wp_bus_wait_ready (reader, WAIT_MS), 0);
    assert_true (wp_bus_has_buffered (reader));

    //  Everything from the first event that reached the socket to late-2,
    //  in order, with contiguous numbers.
    int received = 0;
    uint64_t first_seq = 0, last_seq = 0;
    while (last_seq < (uint64_t) published + 2) {
        wp_bus_event_t event;
        assert_int_equal (wp_bus_recv_wait (reader, &event, WAIT_MS), 1);
        assert_int_equal (event.topic, WP_TOPIC_USAGE);
        uint64_t seq = wp_bus_header (event.msg)->seq;
        if (received == 0)
            first_seq = seq;
        else
            assert_true (seq == last_seq + 1);
        last_seq = seq;
        char want [32];
        if (seq <= (uint64_t) published)
            snprintf (want, sizeof want, "early-%d", (int) seq);
        else
            snprintf (want, sizeof want, "late-%d", (int) (seq - (uint64_t) published));
        assert_string_equal (((Warmup__V1__UsageObserved *) event.msg)->user,
                             s_hashed (want, 'u'));
        wp_bus_event_free (&event);
        received++;
    }
    assert_true (first_seq >= 1 && first_seq <= (uint64_t) published);
    assert_int_equal (received, (int) (published + 2 - first_seq + 1));
    assert_false (wp_bus_has_buffered (reader));
    wp_bus_event_t event;
    assert_int_equal (wp_bus_recv (reader, &event), 0);
    wp_bus_stats_t stats;
    wp_bus_stats (reader, &stats);
    assert_true (stats.gaps == 0 && stats.bad_frames == 0);
    assert_true (stats.events_in == (uint64_t) received);

    wp_bus_destroy (&writer);
    wp_bus_destroy (&reader);
    zactor_destroy (&proxy);
    zstr_free (&pub);
    zstr_free (&sub);
}

//  Topic names and lookups.
static void
test_topics (void **state)
{
    const char *names [WP_TOPIC_COUNT] = {
        "usage.observed", "usage.pattern", "prediction.made", "warmup.requested",
        "warmup.done", "resource.status", "perf.estimate", "metrics.snapshot",
        "heartbeat", "clock.tick", "clock.ack", "control.request", "control.reply",
        "room.request", "room.reply", "sync.request", "sync.reply", "warmup.deferred",
        "usage.intent"
    };
    const ProtobufCMessageDescriptor *descriptors [WP_TOPIC_COUNT] = {
        &warmup__v1__usage_observed__descriptor, &warmup__v1__usage_pattern__descriptor,
        &warmup__v1__prediction_made__descriptor, &warmup__v1__warmup_requested__descriptor,
        &warmup__v1__warmup_done__descriptor, &warmup__v1__resource_status__descriptor,
        &warmup__v1__perf_estimate__descriptor, &warmup__v1__metrics_snapshot__descriptor,
        &warmup__v1__heartbeat__descriptor, &warmup__v1__clock_tick__descriptor,
        &warmup__v1__clock_ack__descriptor, &warmup__v1__control_request__descriptor,
        &warmup__v1__control_reply__descriptor, &warmup__v1__room_request__descriptor,
        &warmup__v1__room_reply__descriptor, &warmup__v1__sync_request__descriptor,
        &warmup__v1__sync_reply__descriptor, &warmup__v1__warmup_deferred__descriptor,
        &warmup__v1__usage_intent__descriptor
    };
    for (int t = 0; t < WP_TOPIC_COUNT; t++) {
        assert_string_equal (wp_topic_name ((wp_topic_t) t), names [t]);
        assert_ptr_equal (wp_topic_descriptor ((wp_topic_t) t), descriptors [t]);
        assert_int_equal (wp_topic_lookup (names [t], strlen (names [t])), t);
        //  The length decides, not a terminating NUL.
        assert_int_equal (wp_topic_lookup (names [t], strlen (names [t]) - 1), -1);
    }
    assert_int_equal (wp_topic_lookup ("heartbeatX", 9), WP_TOPIC_HEARTBEAT);
    assert_int_equal (wp_topic_lookup ("heartbeatX", 10), -1);
    assert_int_equal (wp_topic_lookup ("", 0), -1);
    assert_int_equal (wp_topic_lookup ("usage", 5), -1);
}

//  The envelope check the proxy and the clients share.
static void
test_check_envelope (void **state)
{
    const char *why = NULL;
    for (int t = 0; t < WP_TOPIC_COUNT; t++) {
        const char *name = wp_topic_name ((wp_topic_t) t);
        assert_int_equal (wp_bus_check_envelope (name, strlen (name), 0, 1000, &why), 0);
        assert_int_equal (wp_bus_check_envelope (name, strlen (name), 1000, 1000, &why), 0);
        why = NULL;
        assert_int_equal (wp_bus_check_envelope (name, strlen (name), 1001, 1000, &why), -1);
        assert_string_equal (why, "payload larger than max_frame");
    }
    why = NULL;
    assert_int_equal (wp_bus_check_envelope ("", 0, 0, 1000, &why), -1);
    assert_string_equal (why, "topic frame empty or too long");
    assert_int_equal (wp_bus_check_envelope ("usage.observe", 13, 0, 1000, &why), -1);
    assert_string_equal (why, "unknown topic");
    assert_int_equal (wp_bus_check_envelope ("usage.observedX", 15, 0, 1000, &why), -1);
    assert_int_equal (wp_bus_check_envelope ("Heartbeat", 9, 0, 1000, &why), -1);
    //  Probes: "_probe." and at least one more byte, up to 64 bytes.
    assert_int_equal (wp_bus_check_envelope ("_probe.x", 8, 0, 1000, &why), 0);
    why = NULL;
    assert_int_equal (wp_bus_check_envelope ("_probe.", 7, 0, 1000, &why), -1);
    assert_string_equal (why, "unknown topic");
    assert_int_equal (wp_bus_check_envelope ("_probe.x", 8, 1001, 1000, &why), -1);
    char topic [65];
    memcpy (topic, "_probe.", 7);
    memset (topic + 7, 'p', 58);
    assert_int_equal (wp_bus_check_envelope (topic, 64, 0, 1000, &why), 0);
    why = NULL;
    assert_int_equal (wp_bus_check_envelope (topic, 65, 0, 1000, &why), -1);
    assert_string_equal (why, "topic frame empty or too long");
    //  A topic with a NUL inside is not a topic.
    assert_int_equal (wp_bus_check_envelope ("heartbeat\0", 10, 0, 1000, &why), -1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_topics),
        cmocka_unit_test (test_check_envelope),
        cmocka_unit_test (test_proxy_commands),
        cmocka_unit_test (test_proxy_bind_errors),
        cmocka_unit_test (test_proxy_bind_tcp_port),
        cmocka_unit_test (test_client_readiness),
        cmocka_unit_test (test_round_trip_every_topic),
        cmocka_unit_test (test_publish_header_and_large),
        cmocka_unit_test (test_header_only),
        cmocka_unit_test (test_sequence_gaps),
        cmocka_unit_test (test_garbage_payloads),
        cmocka_unit_test (test_payload_without_header),
        cmocka_unit_test (test_proxy_drops_invalid),
        cmocka_unit_test (test_oversized_payloads),
        cmocka_unit_test (test_events_during_wait_ready),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
