/*  =========================================================================
    wp_analyzer_actor - binds the UsagePatternAnalyzer core to the bus.
    =========================================================================
*/
#include "wp_analyzer_actor.h"
#include "wp_analyzer.h"
#include "wp_analyzer_log.h"
#include "wp_analyzer_writer.h"
#include "wp_pattern_wire.h"
#include "wp_util.h"

typedef struct {
    wp_analyzer_t *core;    //  what is learned
    wp_analyzer_writer_t *writer;   //  its journal and checkpoints, on a
                                    //  thread of their own
    uint64_t stored;        //  records handed to the journal
    uint64_t over_models;   //  usage of new models dropped at max_models
    uint32_t unflushed;     //  events learned since the last journal flush
    uint32_t batch_max;     //  flush the journal after this many events
    wp_pattern_wire_t wire; //  room for the usage.pattern message
} analyzer_t;

//  Store one loaded record into the core.
static int
s_load_record (const void *key, size_t key_len, const void *value,
               size_t value_len, uint16_t version, void *arg)
{
    void **args = (void **) arg;
    analyzer_t *self = (analyzer_t *) args [0];
    const char *db = (const char *) args [1];
    size_t *bad = (size_t *) args [2];
    if (version < 1 || version > WP_ANALYZER_RECORD_VERSION
        || wp_analyzer_load (self->core, db, key, key_len, value, value_len))
        (*bad)++;
    return 0;
}

//  Build the state, loading what was learned before.
static void *
s_create (wp_ctx_t *ctx)
{
    const wp_config_t *config = wp_ctx_config (ctx);
    analyzer_t *self = (analyzer_t *) zmalloc (sizeof (analyzer_t));
    assert (self);
    wp_analyzer_opts_t opts = { .max_pairs = config->max_pairs,
                                .rate_half_life_s = config->usage_window_seconds };
    //  The pattern copies histograms into floats of the message.
    _Static_assert (sizeof (float) == 4, "float is not 32 bits");
    self->core = wp_analyzer_new (&opts);
    self->batch_max = config->batch_max;
    //  The journal first: what it holds past the checkpoint goes into
    //  the store, which is then loaded whole
    char *dir = zsys_sprintf ("%s/%s", config->data_dir, wp_ctx_name (ctx));
    assert (dir);
    //  (records wait in memory while the journal's flushes fail: the
    //  writer refuses more past pending_max, the journal none)
    //  (16 batches, and at least 65,536 records: about 21 MB, so that a
    //  writer a few slices behind does not hold small batches back)
    uint32_t pending_max = config->batch_max > UINT32_MAX / 16 ? UINT32_MAX
                                                               : 16 * config->batch_max;
    if (pending_max < 65536)
        pending_max = 65536;
    wp_analyzer_log_opts_t log_opts = {
        .dir = dir,
        .nosync = config->nosync,
        .reset = wp_ctx_reset_store (ctx),
        .pending_max = UINT32_MAX,
        .checkpoint_ms = config->checkpoint_s * 1000,
        .journal_max = (uint64_t) config->journal_max_kb << 10,
        //  (a flood that outruns the checkpoints waits, its pairs dirty,
        //  past twice that and at least 64 MiB: the journal's disk stays
        //  bounded)
        .hold_bytes = ((uint64_t) config->journal_max_kb << 11) > (64ull << 20)
                    ? (uint64_t) config->journal_max_kb << 11 : 64ull << 20,
        .slice_writes = config->checkpoint_slice
    };
    char why [1024] = "";
    bool refused = false;
    wp_analyzer_log_t *log = wp_analyzer_log_new (wp_ctx_store (ctx), &log_opts, why,
                                                  sizeof why, &refused);
    zstr_free (&dir);
    if (!log) {
        if (refused) {
            char reason [1400];
            snprintf (reason, sizeof reason, "%s. The analyzer will not start on it, so "
                      "nothing in it is lost: restore a backup (docs/operations.md) or "
                      "start once with --reset-store analyzer to move it aside and begin "
                      "from the checkpoint in LMDB", why);
            wp_ctx_refuse_store (ctx, reason);
        }
        else
            zsys_error ("analyzer: %s", why);
        wp_analyzer_destroy (&self->core);
        free (self);
        return NULL;
    }
    size_t bad = 0;
    const char *dbs [] = { "models", "pairs" };
    for (int i = 0; i < 2; i++) {
        void *args [] = { self, (void *) dbs [i], &bad };
        if (wp_store_iterate (wp_ctx_store (ctx), dbs [i], s_load_record, args) < 0) {
            zsys_error ("analyzer: cannot read the stored %s", dbs [i]);
            wp_analyzer_log_destroy (&log);
            wp_analyzer_destroy (&self->core);
            free (self);
            return NULL;
        }
    }
    if (bad)
        zsys_warning ("analyzer: skipped %zu stored records that do not parse", bad);
    zsys_info ("analyzer: loaded %zu pairs of %zu users, %zu models",
               wp_analyzer_pairs (self->core), wp_analyzer_users (self->core),
               wp_analyzer_models (self->core));
    //  From now on the store is the writer's thread's
    self->writer = wp_analyzer_writer_new (&log, wp_ctx_store (ctx), pending_max);
    return self;
}

//  Destroy the state: after the last flush (on_persist), a checkpoint,
//  so that a clean restart has nothing to replay.
static void
s_destroy (void **state_p)
{
    analyzer_t *self = (analyzer_t *) *state_p;
    wp_analyzer_writer_destroy (&self->writer);
    wp_analyzer_destroy (&self->core);
    free (self);
    *state_p = NULL;
}

//  Hand what changed to the writer, which makes it durable and
//  checkpoints it into the store when one is due, on its own thread.
//  Records it refuses (the journal's flushes fail) stay dirty in the
//  core for the next flush.
static int
s_flush (analyzer_t *self)
{
    int handed = wp_analyzer_drain (self->core, wp_analyzer_writer_record, self->writer);
    if (handed > 0)
        self->stored += (uint64_t) handed;
    self->unflushed = 0;
    wp_analyzer_writer_flush (self->writer);
    return 0;
}

//  Copy a header (the fields are borrowed from msg).
static void
s_copy_header (Warmup__V1__Header *to, const Warmup__V1__Header *from)
{
    to->source = from->source;
    to->seq = from->seq;
    to->sent_us = from->sent_us;
    to->schema = from->schema;
}

//  Learn from one usage event and publish the pair it changed.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    analyzer_t *self = (analyzer_t *) state;
    const Warmup__V1__UsageObserved *usage = (const Warmup__V1__UsageObserved *) msg;
    uint64_t received_us = wp_wall_us ();
    //  The bus proxy replaced the user id by its keyed hash (wp_ingress):
    //  anything else did not come through it, and is not learned.
    uint64_t user;
    if (!usage->user || wp_user_id_parse (usage->user, &user)
        || !usage->model || !*usage->model) {
        wp_ctx_count_rejected (ctx);
        zsys_warning ("analyzer: usage event without a valid user (hashed by the bus) or "
                      "model dropped");
        return -1;
    }
    uint64_t now = usage->event_ms ? usage->event_ms : wp_ctx_now_ms (ctx);
    if (wp_analyzer_models (self->core) >= wp_ctx_config (ctx)->max_models
        && wp_analyzer_model_count (self->core, usage->model) == 0) {
        wp_ctx_count_rejected (ctx);
        if (wp_log_should (++self->over_models))
            zsys_warning ("analyzer: usage of a new model dropped: %u models known, the "
                          "max_models cap (%" PRIu64 " dropped so far)",
                          wp_ctx_config (ctx)->max_models, self->over_models);
        return -1;
    }
    if (wp_analyzer_observe (self->core, user, usage->model, now)) {
        wp_ctx_count_rejected (ctx);
        zsys_warning ("analyzer: usage event with an invalid model name dropped");
        return -1;
    }
    //  Its records to the writer now, while they are in the cache (the
    //  flush's drain then has little left: no stop of milliseconds)
    int handed = wp_analyzer_drain_recent (self->core, wp_analyzer_writer_record,
                                           self->writer);
    if (handed > 0)
        self->stored += (uint64_t) handed;
    //  What changed: the pair this request made (not the user's other ones).
    wp_pattern_t pair;
    bool known = wp_analyzer_observed (self->core, now, &pair);
    assert (known);
    Warmup__V1__UsagePattern out = WARMUP__V1__USAGE_PATTERN__INIT;
    Warmup__V1__Header cause = WARMUP__V1__HEADER__INIT;
    s_copy_header (&cause, usage->header);
    out.event_ms = now;
    out.user = usage->user;             //  the hashed id (wp_ingress)
    out.cause = &cause;
    out.usage_received_us = received_us;
    wp_pattern_wire_fill (&self->wire, &pair, &out);
    int rc = wp_ctx_publish (ctx, WP_TOPIC_PATTERN, &out.base);
    //  The batch is full: the journal takes it now (the crash bound)
    if (++self->unflushed >= self->batch_max)
        s_flush (self);
    return rc;
}

//  Flush every flush_ms: the journal, then a checkpoint when one is due.
static int
s_on_persist (void *state, wp_ctx_t *ctx)
{
    analyzer_t *self = (analyzer_t *) state;
    return s_flush (self);
}

//  Records made durable: the journal's (a checkpoint copies them).
static void
s_durability (void *state, uint64_t *persisted, uint64_t *errors, uint64_t *refused)
{
    analyzer_t *self = (analyzer_t *) state;
    wp_analyzer_writer_counts_t counts;
    wp_analyzer_writer_counts (self->writer, &counts);
    *persisted = counts.durable;
    *errors += counts.failures;
    *refused += counts.refused;
}

//  A snapshot being answered: each pair as a usage.pattern item.
typedef struct {
    wp_sync_t *sync;        //  the answer
    analyzer_t *self;       //  for the message's room
    uint64_t now_ms;        //  when the summaries are taken
} s_snap_t;

//  Add one pair to the snapshot.
static void
s_snapshot_pair (uint64_t user_hash, const wp_pattern_t *pair, void *arg)
{
    s_snap_t *snap = (s_snap_t *) arg;
    char user [WP_USER_ID_LEN + 1];
    wp_user_id_format (user_hash, user);
    Warmup__V1__UsagePattern out = WARMUP__V1__USAGE_PATTERN__INIT;
    out.event_ms = snap->now_ms;
    out.user = user;
    wp_pattern_wire_fill (&snap->self->wire, pair, &out);
    wp_sync_add (snap->sync, WP_SYNC_PATTERN, &out.base);
}

//  Resync: the pairs (all, or those asked for since an event time), each
//  as the usage.pattern of its latest request would carry it now.
static int
s_snapshot (void *state, wp_ctx_t *ctx, wp_sync_t *sync)
{
    analyzer_t *self = (analyzer_t *) state;
    s_snap_t snap = { .sync = sync, .self = self, .now_ms = wp_ctx_now_ms (ctx) };
    wp_analyzer_each (self->core, wp_sync_since (sync), snap.now_ms, s_snapshot_pair, &snap);
    return 0;
}

//  Size of what is learned.
static void
s_state_size (void *state, uint64_t *bytes, uint64_t *items)
{
    analyzer_t *self = (analyzer_t *) state;
    *bytes = wp_analyzer_state_bytes (self->core);
    *items = wp_analyzer_pairs (self->core);
}

const wp_component_def_t wp_analyzer_def = {
    .name = "analyzer",
    .title = "UsagePatternAnalyzer",
    .topics = { "usage.observed", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
    .on_persist = s_on_persist,
    .state_size = s_state_size,
    .snapshot = s_snapshot,
    .durability = s_durability,
    .store_elsewhere = true,
};
