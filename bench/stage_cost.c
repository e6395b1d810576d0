/*  =========================================================================
    stage-cost - what each stage of the pipeline costs per usage event,
    without ZeroMQ: decode usage, analyzer observe + the pair it changed,
    encode and decode the pair (usage.pattern), engine update, encode and
    decode the prediction, scheduler update + decide; then what a resync
    snapshot of every pair learned costs (the analyzer's items encoded, the
    engine's decoded and taken). Runs the components' own cores and codecs
    in one thread and prints nanoseconds per event per stage, so the
    messaging cost (warmup-bench) and the processing cost can be told
    apart. Deterministic input; run it under callgrind for instruction
    counts that do not depend on the machine's load:

        valgrind --tool=callgrind build/bin/stage-cost --events 200000
    =========================================================================
*/
#include "wp_bus.h"
#include "wp_util.h"
#include "bench_util.h"
#include "wp_analyzer.h"
#include "wp_pattern_wire.h"
#include "wp_prediction_wire.h"
#include "wp_engine.h"
#include "wp_scheduler.h"
#include <math.h>

#define STAGES 7

static const char *s_stage_names [STAGES] = {
    "decode usage", "analyzer", "pattern codec", "engine", "prediction codec",
    "scheduler", "header+seq"
};

//  A resync snapshot of the analyzer's pairs, as the analyzer answers
//  and the engine takes it: the bytes and time per pair, each side.
typedef struct {
    wp_engine_t *engine;        //  the restarted engine taking them
    uint64_t now;
    uint8_t *buffer;            //  room for one item
    uint64_t bytes, pairs;      //  items' packed bytes, pairs
    double encode_ns, decode_ns;
} s_snapshot_t;

static void
s_snapshot_pair (uint64_t user, const wp_pattern_t *pair, void *arg)
{
    s_snapshot_t *snap = (s_snapshot_t *) arg;
    static wp_pattern_wire_t wire;
    uint64_t t0 = wp_mono_ns ();
    char id [WP_USER_ID_LEN + 1];
    wp_user_id_format (user, id);
    Warmup__V1__UsagePattern out = WARMUP__V1__USAGE_PATTERN__INIT;
    out.user = id;
    out.event_ms = snap->now;
    wp_pattern_wire_fill (&wire, pair, &out);
    size_t size = warmup__v1__usage_pattern__get_packed_size (&out);
    uint8_t *payload = (uint8_t *) malloc (size);
    warmup__v1__usage_pattern__pack (&out, payload);
    Warmup__V1__SyncItem item = WARMUP__V1__SYNC_ITEM__INIT;
    item.kind = (char *) "usage.pattern";
    item.payload.data = payload;
    item.payload.len = size;
    size_t len = warmup__v1__sync_item__pack (&item, snap->buffer);
    free (payload);
    uint64_t t1 = wp_mono_ns ();
    Warmup__V1__SyncItem *in = warmup__v1__sync_item__unpack (NULL, len, snap->buffer);
    Warmup__V1__UsagePattern *pin = warmup__v1__usage_pattern__unpack (
        NULL, in->payload.len, in->payload.data);
    wp_pattern_t back;
    uint64_t back_user;
    if (pin && !wp_user_id_parse (pin->user, &back_user)
        && !wp_pattern_wire_read (pin, &back, NULL, 0))
        wp_engine_restore (snap->engine, back_user, &back, snap->now);
    warmup__v1__usage_pattern__free_unpacked (pin, NULL);
    warmup__v1__sync_item__free_unpacked (in, NULL);
    uint64_t t2 = wp_mono_ns ();
    snap->encode_ns += (double) (t1 - t0);
    snap->decode_ns += (double) (t2 - t1);
    snap->bytes += len;
    snap->pairs++;
}

//  Print what the snapshot of every pair costs.
static void
s_snapshot_cost (wp_analyzer_t *analyzer, uint64_t now, uint8_t *buffer)
{
    s_snapshot_t snap = { .engine = wp_engine_new (NULL), .now = now, .buffer = buffer };
    uint64_t t0 = wp_mono_ns ();
    wp_analyzer_each (analyzer, 0, now, s_snapshot_pair, &snap);
    double ms = (double) (wp_mono_ns () - t0) / 1e6;
    double pairs = snap.pairs ? (double) snap.pairs : 1;
    printf ("resync snapshot: %" PRIu64 " pairs, %.0f bytes/pair (%.1f MB, %.0f parts at the "
            "default bus/max_frame_bytes); analyzer %.0f ns/pair, engine %.0f ns/pair, %.0f ms in all; "
            "engine %zu pairs after\n", snap.pairs, (double) snap.bytes / pairs,
            (double) snap.bytes / 1e6, ceil ((double) snap.bytes / (65536 - 1024)),
            snap.encode_ns / pairs, snap.decode_ns / pairs, ms,
            wp_engine_pairs (snap.engine));
    wp_engine_destroy (&snap.engine);
}

int
main (int argc, char **argv)
{
    long events = 1000000, users = 10000, models = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (streq (argv [i], "--events"))
            events = atol (argv [i + 1]);
        else
        if (streq (argv [i], "--users"))
            users = atol (argv [i + 1]);
        else
        if (streq (argv [i], "--models"))
            models = atol (argv [i + 1]);
        else
            events = 0;     //  an unknown option: the usage below
    }
    if (argc % 2 == 0)
        events = 0;
    if (events <= 0 || users <= 0 || models <= 0 || models > 1000) {
        fprintf (stderr, "usage: stage-cost [--events N] [--users N] [--models N]\n");
        return 2;
    }
    char **user_names = bench_names_new ("user-", 6, users);
    char **model_names = bench_names_new ("model-", 3, models);

    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_engine_t *engine = wp_engine_new (NULL);
    wp_scheduler_opts_t sched_opts = { .max_warm_models = 5, .max_memory_mb = 2048,
                                       .threshold = 0.7, .hysteresis = 0.1, .ttl_s = 300,
                                       .background = true, .default_memory_mb = 512,
                                       .default_load_ms = 1000 };
    wp_scheduler_t *scheduler = wp_scheduler_new (&sched_opts);
    uint8_t key [16] = { 0 };
    double ns [STAGES] = { 0 };
    static uint8_t buffer [1 << 20];
    static wp_pattern_wire_t wire;
    static wp_prediction_wire_t pwire;
    uint64_t seed = 88172645463325252ULL;
    uint64_t now = 1700000000000ULL;
    Warmup__V1__Header header = WARMUP__V1__HEADER__INIT;
    header.source = (char *) "bench/1";
    header.schema = 1;

    for (long e = 0; e < events; e++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        now += 5;
        //  The usage event as it arrives: encoded.
        Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
        header.seq = (uint64_t) e + 1;
        usage.header = &header;
        usage.event_ms = now;
        usage.user = user_names [seed % (uint64_t) users];
        usage.model = model_names [(seed >> 32) % (uint64_t) models];
        usage.task = WARMUP__V1__TASK__TASK_COMPLETION;
        size_t size = warmup__v1__usage_observed__pack (&usage, buffer);

        uint64_t t0 = wp_mono_ns ();
        Warmup__V1__UsageObserved *in = warmup__v1__usage_observed__unpack (NULL, size, buffer);
        uint64_t t1 = wp_mono_ns ();
        //  The bus hashed the user at ingress: the components parse it.
        uint64_t user = wp_user_hash (key, in->user);
        char hashed [24];
        wp_user_id_format (user, hashed);
        if (wp_user_id_parse (hashed, &user))
            return 1;
        wp_analyzer_observe (analyzer, user, in->model, in->event_ms);
        wp_pattern_t pair;
        if (!wp_analyzer_observed (analyzer, now, &pair))
            return 1;
        uint64_t t2 = wp_mono_ns ();

        Warmup__V1__UsagePattern out = WARMUP__V1__USAGE_PATTERN__INIT;
        out.header = &header;
        out.user = hashed;
        out.event_ms = now;
        wp_pattern_wire_fill (&wire, &pair, &out);
        size = warmup__v1__usage_pattern__get_packed_size (&out);
        if (size > sizeof buffer) {
            fprintf (stderr, "stage-cost: a pattern of %zu bytes\n", size);
            return 1;
        }
        size = warmup__v1__usage_pattern__pack (&out, buffer);
        Warmup__V1__UsagePattern *pin = warmup__v1__usage_pattern__unpack (NULL, size, buffer);
        wp_pattern_t back;
        uint64_t pattern_user;
        if (wp_user_id_parse (pin->user, &pattern_user)
            || wp_pattern_wire_read (pin, &back, NULL, 0))
            return 1;
        uint64_t t3 = wp_mono_ns ();

        wp_prediction_t predictions [8];
        size_t count = wp_engine_update (engine, pattern_user, &back, now, predictions, 8);
        uint64_t t4 = wp_mono_ns ();

        Warmup__V1__PredictionMade made = WARMUP__V1__PREDICTION_MADE__INIT;
        made.header = &header;
        made.user = pin->user;
        made.event_ms = now;
        made.cause = pin->cause;
        made.engine_version = (char *) WP_ENGINE_VERSION;
        wp_prediction_wire_fill (&pwire, predictions, count, &made);
        size = warmup__v1__prediction_made__pack (&made, buffer);
        Warmup__V1__PredictionMade *pm = warmup__v1__prediction_made__unpack (NULL, size, buffer);
        uint64_t t5 = wp_mono_ns ();

        wp_prediction_t again [8];
        size_t n_again = wp_prediction_wire_read (pm, again, 8);
        uint64_t predicted_user;
        if (wp_user_id_parse (pm->user, &predicted_user))
            return 1;
        wp_scheduler_predictions (scheduler, predicted_user, again, n_again, now);
        wp_decision_t decisions [16];
        size_t made_n = wp_scheduler_decide (scheduler, now, decisions, 16);
        for (size_t i = 0; i < made_n; i++)
            wp_scheduler_done (scheduler, decisions [i].model, decisions [i].action, true);
        uint64_t t6 = wp_mono_ns ();
        //  What a client does per event besides decoding: the header and
        //  the sequence hash (a SipHash of the source).
        volatile uint64_t sink = wp_siphash (key, header.source, strlen (header.source));
        (void) sink;
        uint64_t t7 = wp_mono_ns ();

        ns [0] += (double) (t1 - t0);
        ns [1] += (double) (t2 - t1);
        ns [2] += (double) (t3 - t2);
        ns [3] += (double) (t4 - t3);
        ns [4] += (double) (t5 - t4);
        ns [5] += (double) (t6 - t5);
        ns [6] += (double) (t7 - t6);
        warmup__v1__prediction_made__free_unpacked (pm, NULL);
        warmup__v1__usage_pattern__free_unpacked (pin, NULL);
        warmup__v1__usage_observed__free_unpacked (in, NULL);
    }
    double total = 0;
    printf ("stage-cost: %ld events, %ld users, %ld models (%zu pairs learned)\n",
            events, users, models, wp_analyzer_pairs (analyzer));
    for (int i = 0; i < STAGES; i++) {
        printf ("  %-18s %8.0f ns/event\n", s_stage_names [i], ns [i] / events);
        total += ns [i];
    }
    printf ("  %-18s %8.0f ns/event  (%.0f events/s on one core)\n", "total",
            total / events, 1e9 / (total / events));
    s_snapshot_cost (analyzer, now, buffer);
    wp_scheduler_destroy (&scheduler);
    wp_engine_destroy (&engine);
    wp_analyzer_destroy (&analyzer);
    bench_names_destroy (&user_names, users);
    bench_names_destroy (&model_names, models);
    return 0;
}
