/*  =========================================================================
    make_seeds - writes the binary seeds of the fuzz corpora (the events
    the components really send), into tests/fuzz/corpus/<target>/:
        make-seeds tests/fuzz/corpus
    The text seeds (configurations, catalogs, traces, JSON, HTTP replies)
    are written by hand. Run it again after a schema change.
    =========================================================================
*/
#include "wp_analyzer.h"
#include "wp_bus.h"
#include "wp_engine.h"
#include "wp_pattern_wire.h"
#include "wp_prediction_wire.h"

static const char *s_dir;

//  Write prefix (when >= 0, one byte) and msg packed into <dir>/<target>/<name>.
static void
s_write (const char *target, const char *name, int prefix, const ProtobufCMessage *msg)
{
    char *path = zsys_sprintf ("%s/%s", s_dir, target);
    zsys_dir_create ("%s", path);
    zstr_free (&path);
    path = zsys_sprintf ("%s/%s/%s", s_dir, target, name);
    size_t size = protobuf_c_message_get_packed_size (msg);
    uint8_t *buffer = (uint8_t *) malloc (size + 1);
    size_t at = 0;
    if (prefix >= 0)
        buffer [at++] = (uint8_t) prefix;
    protobuf_c_message_pack (msg, buffer + at);
    FILE *file = fopen (path, "wb");
    assert (file);
    assert (fwrite (buffer, 1, size + at, file) == size + at);
    fclose (file);
    free (buffer);
    zstr_free (&path);
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: make-seeds CORPUS_DIR\n");
        return 2;
    }
    s_dir = argv [1];
    zsys_init ();
    Warmup__V1__Header header = WARMUP__V1__HEADER__INIT;
    header.source = (char *) "analyzer/host:1";
    header.seq = 42;
    header.sent_us = 1700000000000000ULL;
    header.schema = 1;

    //  A usage event, as it enters and as it leaves the proxy.
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    usage.header = &header;
    usage.event_ms = 1700000000123ULL;
    usage.user = (char *) "alice@example.com";
    usage.session = (char *) "s-1";
    usage.model = (char *) "qwen-coder";
    usage.task = WARMUP__V1__TASK__TASK_COMPLETION;
    usage.language = (char *) "c";
    usage.file_type = (char *) ".c";
    usage.outcome = WARMUP__V1__OUTCOME__OUTCOME_COLD;
    usage.wait_ms = 2500;
    s_write ("fuzz_proto", "usage", WP_TOPIC_USAGE, &usage.base);
    s_write ("fuzz_ingress", "usage", 0, &usage.base);
    usage.session = NULL;
    usage.user = (char *) "u:0123456789abcdef";
    s_write ("fuzz_ingress", "usage-hashed", 0, &usage.base);

    //  Patterns and predictions from the real cores: three users of six
    //  models, after a few requests each.
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_t *engine = wp_engine_new (NULL);
    static wp_pattern_wire_t wire;
    static wp_prediction_wire_t pwire;
    const char *models [] = { "qwen-coder", "llama3", "nomic-embed", "rerank", "review",
                              "chat-big" };
    uint64_t now = 1700000000000ULL, seed = 88172645463325252ULL;
    int written = 0;
    for (int e = 1; e <= 120; e++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        now += 1000 + seed % 60000;
        uint64_t user = 1 + seed % 3;
        wp_analyzer_observe (analyzer, user, models [(seed >> 20) % 6], now);
        wp_pattern_t pair;
        if (!wp_analyzer_observed (analyzer, now, &pair))
            return 1;
        wp_prediction_t predictions [8];
        size_t count = wp_engine_update (engine, user, &pair, now, predictions, 8);
        if (e != 6 && e != 40 && e != 120)
            continue;
        Warmup__V1__UsagePattern out = WARMUP__V1__USAGE_PATTERN__INIT;
        out.header = &header;
        out.user = (char *) "u:0123456789abcdef";
        out.event_ms = now;
        out.cause = &header;
        wp_pattern_wire_fill (&wire, &pair, &out);
        char name [32];
        snprintf (name, sizeof name, "pattern-%d", written);
        s_write ("fuzz_pattern_wire", name, -1, &out.base);
        s_write ("fuzz_proto", name, WP_TOPIC_PATTERN, &out.base);
        snprintf (name, sizeof name, "pattern-header-%d", written);
        s_write ("fuzz_proto", name, 0x80 | WP_TOPIC_PATTERN, &out.base);
        Warmup__V1__PredictionMade made = WARMUP__V1__PREDICTION_MADE__INIT;
        made.header = &header;
        made.user = out.user;
        made.event_ms = now;
        made.horizon_s = 300;
        made.cause = &header;
        made.engine_version = (char *) WP_ENGINE_VERSION;
        wp_prediction_wire_fill (&pwire, predictions, count, &made);
        snprintf (name, sizeof name, "prediction-%d", written);
        s_write ("fuzz_prediction_wire", name, -1, &made.base);
        s_write ("fuzz_proto", name, WP_TOPIC_PREDICTION, &made.base);
        written++;
    }
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);

    //  The other topics.
    Warmup__V1__WarmupRequested request = WARMUP__V1__WARMUP_REQUESTED__INIT;
    request.header = &header;
    request.model = (char *) "llama3";
    request.action = WARMUP__V1__ACTION__ACTION_WARM;
    request.priority = WARMUP__V1__PRIORITY__PRIORITY_HIGH;
    request.reason = (char *) "plan of 2 user(s), value 1.5";
    request.expected_benefit_ms = 1800;
    request.memory_mb = 4700;
    request.principal = (char *) "operator/operator.key";
    s_write ("fuzz_proto", "requested", WP_TOPIC_WARMUP_REQUEST, &request.base);
    Warmup__V1__WarmupDone done = WARMUP__V1__WARMUP_DONE__INIT;
    done.header = &header;
    done.model = (char *) "llama3";
    done.action = WARMUP__V1__ACTION__ACTION_WARM;
    done.backend = (char *) "llama-server";
    done.error = (char *) "timed out";
    done.duration_ms = 30000;
    done.cause = &header;
    s_write ("fuzz_proto", "done", WP_TOPIC_WARMUP_DONE, &done.base);
    Warmup__V1__Heartbeat beat = WARMUP__V1__HEARTBEAT__INIT;
    beat.header = &header;
    beat.component = (char *) "bus";
    beat.instance = (char *) "host:1";
    beat.rss_kb = 20000;
    beat.refused = 3;
    beat.rate_limited = 7;
    s_write ("fuzz_proto", "heartbeat", WP_TOPIC_HEARTBEAT, &beat.base);
    Warmup__V1__ControlRequest control = WARMUP__V1__CONTROL_REQUEST__INIT;
    control.header = &header;
    control.command = WARMUP__V1__COMMAND__COMMAND_PIN;
    control.model = (char *) "llama3";
    control.request_id = (char *) "1-2";
    s_write ("fuzz_proto", "control", WP_TOPIC_CONTROL, &control.base);
    s_write ("fuzz_ingress", "control", 1, &control.base);
    Warmup__V1__ModelState state = WARMUP__V1__MODEL_STATE__INIT;
    state.model = (char *) "llama3";
    state.state = (char *) "warm";
    state.pinned = true;
    Warmup__V1__ModelState *states [] = { &state };
    Warmup__V1__ControlReply reply = WARMUP__V1__CONTROL_REPLY__INIT;
    reply.header = &header;
    reply.command = WARMUP__V1__COMMAND__COMMAND_MODELS;
    reply.ok = true;
    reply.n_models = 1;
    reply.models = states;
    reply.cause = &header;
    s_write ("fuzz_proto", "reply", WP_TOPIC_CONTROL_REPLY, &reply.base);
    Warmup__V1__ResourceStatus status = WARMUP__V1__RESOURCE_STATUS__INIT;
    status.header = &header;
    status.mem_total_mb = 24000;
    status.cpu_percent = 12.5;
    status.admit_reason = (char *) "cpu 85% > 30%";
    s_write ("fuzz_proto", "resource", WP_TOPIC_RESOURCE, &status.base);
    Warmup__V1__ClockAck ack = WARMUP__V1__CLOCK_ACK__INIT;
    uint64_t counts [WP_TOPIC_COUNT] = { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5 };
    ack.header = &header;
    ack.tick = 7;
    ack.n_received = WP_TOPIC_COUNT;
    ack.received = counts;
    ack.n_published = WP_TOPIC_COUNT;
    ack.published = counts;
    s_write ("fuzz_proto", "ack", WP_TOPIC_CLOCK_ACK, &ack.base);
    Warmup__V1__HorizonAccuracy horizon = WARMUP__V1__HORIZON_ACCURACY__INIT;
    horizon.horizon = (char *) "under_5m";
    horizon.true_positives = 3;
    Warmup__V1__HorizonAccuracy *horizons [] = { &horizon };
    Warmup__V1__MetricsSnapshot snapshot = WARMUP__V1__METRICS_SNAPSHOT__INIT;
    snapshot.header = &header;
    snapshot.requests = 100;
    snapshot.n_horizons = 1;
    snapshot.horizons = horizons;
    s_write ("fuzz_proto", "metrics", WP_TOPIC_METRICS, &snapshot.base);
    printf ("make-seeds: wrote the seeds into %s\n", s_dir);
    return 0;
}
