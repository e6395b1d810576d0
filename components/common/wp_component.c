/*  =========================================================================
    wp_component - the actor skeleton every component shares, and the thin
    main() of a one-component process.
    =========================================================================
*/
#include <getopt.h>
#include <stdlib.h>
#ifdef __GLIBC__
#   include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include "wp_component.h"
#include "wp_security.h"
#include "wp_sync.h"
#include "wp_util.h"

//  How often an unanswered snapshot request is looked at, ms.
#define S_RESYNC_TICK_MS 250

//  Exit code of a component that refuses its store (corrupt, not
//  writable, disk full): EX_CONFIG, which the systemd unit does not
//  restart (RestartPreventExitStatus), so a refusal is no restart loop.
#define S_EXIT_STORE 78

struct _wp_ctx_t {
    const wp_component_def_t *def;  //  the component
    const wp_config_t *config;      //  borrowed configuration
    zsock_t *pipe;                  //  actor pipe
    zloop_t *loop;                  //  event loop
    wp_bus_t *bus;                  //  bus client
    wp_store_t *store;              //  the component's LMDB environment
    void *state;                    //  the component's own state
    char *instance;                 //  instance id
    bool verbose;                   //  log each event
    bool started;                   //  START succeeded
    char *pub_endpoint;             //  where to publish
    char *sub_endpoint;             //  where to subscribe
    uint64_t started_ms;            //  wall clock at START
    uint64_t rejected;              //  events rejected by the handlers
    uint64_t persist_errors;        //  failed flushes
    //  Replay mode (config->replay)
    bool replay;                    //  event time from clock.tick
    uint64_t now_ms;                //  the event time
    uint64_t tick;                  //  the latest tick handled (0: none)
    uint64_t next_period_ms;        //  on_tick is due at this event time
    unsigned tick_ms;               //  on_tick period, ms (0: none)
    uint32_t subscribed;            //  topics received, bit (1 << topic)
    uint64_t received [WP_TOPIC_COUNT];     //  events handled per topic
    uint64_t published [WP_TOPIC_COUNT];    //  events published per topic
    uint64_t acked_sum;             //  counts at the last ack (a change test)
    bool acked_busy;                //  busy at the last ack
    uint64_t acked_tick;            //  tick of the last ack
    uint64_t acked_next;            //  next_ms at the last ack
    bool windowed;                  //  the latest tick: replay by windows
    wp_resync_t *resync;            //  snapshots asked and answered (live mode)
    bool flush_resyncs;             //  the flush timer ticks the resync too
    zlistx_t *held;                 //  s_held_t: events held until the first
                                    //  snapshot (wp_resync_holding)
    uint64_t rest_work;             //  work events at the last heartbeat
    bool rested;                    //  the store's map released since
    uint64_t process_work;          //  s_process_work at the last heartbeat
    bool store_refused;             //  START failed on the store (exit 78)
    char *refused_why;              //  create refused a file of its store
};

//  The bus client.
wp_bus_t *
wp_ctx_bus (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->bus;
}

//  The component's state.
void *
wp_ctx_state (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->state;
}

//  Publish an event.
int
wp_ctx_publish (wp_ctx_t *ctx, wp_topic_t topic, ProtobufCMessage *msg)
{
    assert (ctx && ctx->bus);
    int rc = wp_bus_publish (ctx->bus, topic, msg);
    if (rc == 0)
        ctx->published [topic]++;
    return rc;
}

//  The store.
wp_store_t *
wp_ctx_store (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->store;
}

//  The configuration.
const wp_config_t *
wp_ctx_config (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->config;
}

//  The loop.
zloop_t *
wp_ctx_loop (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->loop;
}

//  Current time in ms.
uint64_t
wp_ctx_now_ms (wp_ctx_t *ctx)
{
    if (ctx && ctx->replay)
        return ctx->now_ms;
    return wp_wall_us () / 1000;
}

//  Replay mode?
bool
wp_ctx_replay (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->replay;
}

//  Replay by windows?
bool
wp_ctx_windowed (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->replay && ctx->windowed;
}

//  Send a clock.ack if anything changed since the last one.
void
wp_ctx_report (wp_ctx_t *ctx)
{
    assert (ctx);
    if (!ctx->replay || !ctx->tick || !ctx->bus)
        return;
    uint64_t sum = 0;
    for (int t = 0; t < WP_TOPIC_COUNT; t++)
        sum += ctx->received [t] + ctx->published [t];
    bool busy = ctx->def->busy && ctx->state && ctx->def->busy (ctx->state);
    uint64_t next = ctx->def->next_ms && ctx->state ? ctx->def->next_ms (ctx->state) : 0;
    if (ctx->acked_tick == ctx->tick && ctx->acked_sum == sum && ctx->acked_busy == busy
        && ctx->acked_next == next)
        return;
    Warmup__V1__ClockAck ack = WARMUP__V1__CLOCK_ACK__INIT;
    ack.event_ms = ctx->now_ms;
    ack.tick = ctx->tick;
    ack.component = (char *) ctx->def->name;
    ack.next_ms = next;
    ack.n_received = WP_TOPIC_COUNT;
    ack.received = ctx->received;
    ack.n_published = WP_TOPIC_COUNT;
    ack.published = ctx->published;
    ack.subscribed = ctx->subscribed;
    ack.busy = busy;
    //  Counted before sending, so the ack reports itself.
    ctx->published [WP_TOPIC_CLOCK_ACK]++;
    if (wp_bus_publish (ctx->bus, WP_TOPIC_CLOCK_ACK, &ack.base))
        ctx->published [WP_TOPIC_CLOCK_ACK]--;
    ctx->acked_tick = ctx->tick;
    ctx->acked_sum = sum + 1;
    ctx->acked_busy = busy;
    ctx->acked_next = next;
}

//  Replay mode: event time advanced to now_ms by a tick.
static void
s_clock (wp_ctx_t *ctx, const Warmup__V1__ClockTick *tick)
{
    if (tick->tick && tick->tick <= ctx->tick) {
        ctx->acked_tick = 0;        //  asked again: ack again, fire nothing
        return;
    }
    if (tick->event_ms > ctx->now_ms)
        ctx->now_ms = tick->event_ms;
    ctx->windowed = tick->windowed;
    if (ctx->state && ctx->def->on_clock)
        ctx->def->on_clock (ctx->state, ctx, ctx->now_ms);
    else
    if (ctx->state && ctx->def->on_tick && ctx->tick_ms) {
        //  Periodic work in event time: once when a period has passed,
        //  never a burst for every period a long gap skipped.
        if (ctx->now_ms >= ctx->next_period_ms) {
            ctx->def->on_tick (ctx->state, ctx);
            ctx->next_period_ms = ctx->now_ms - ctx->now_ms % ctx->tick_ms + ctx->tick_ms;
        }
    }
    if (tick->tick > ctx->tick)
        ctx->tick = tick->tick;
}

//  Replay mode: the event time an event carries (field 2, event_ms, of
//  every message), 0 if none.
static uint64_t
s_event_ms (const ProtobufCMessage *msg)
{
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field (msg->descriptor, 2);
    if (!field || field->type != PROTOBUF_C_TYPE_UINT64
        || field->label == PROTOBUF_C_LABEL_REPEATED)
        return 0;
    return *(const uint64_t *) ((const char *) msg + field->offset);
}

//  Verbose?
bool
wp_ctx_verbose (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->verbose;
}

//  Decode a topic header-only.
void
wp_ctx_header_only (wp_ctx_t *ctx, wp_topic_t topic)
{
    assert (ctx && ctx->bus);
    wp_bus_header_only (ctx->bus, topic);
}

//  Count a rejected event.
void
wp_ctx_count_rejected (wp_ctx_t *ctx)
{
    assert (ctx);
    ctx->rejected++;
}

//  The component's name.
const char *
wp_ctx_name (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->def->name;
}

//  --reset-store names this component?
static bool s_names (const char *names, const char *name);

bool
wp_ctx_reset_store (wp_ctx_t *ctx)
{
    assert (ctx);
    return s_names (ctx->config->reset_store, ctx->def->name);
}

//  A file of the component's store refused by create.
void
wp_ctx_refuse_store (wp_ctx_t *ctx, const char *reason)
{
    assert (ctx && reason);
    free (ctx->refused_why);
    ctx->refused_why = strdup (reason);
    assert (ctx->refused_why);
}

//  The bus counters.
void
wp_ctx_bus_stats (wp_ctx_t *ctx, wp_bus_stats_t *stats)
{
    assert (ctx && stats);
    wp_bus_stats (ctx->bus, stats);
    stats->gaps += ctx->rejected;
}

//  Work events taken by all the actors of the process (every event but
//  the periodic ones), and that count at the latest malloc_trim.
static atomic_uint_fast64_t s_process_work;
static atomic_uint_fast64_t s_process_trimmed;

//  Give memory back once work stops: when the component has had no work
//  for a heartbeat period, the pages of its store's map that LMDB touched
//  (once per quiet spell); when the whole process has had none for a
//  period, as this actor sees it, the free pages of every malloc arena
//  (each thread of warmupd has its own; freed memory stays in them
//  otherwise), by one actor, once per quiet spell: an actor still at work
//  would wait on its arena's lock meanwhile.
static void
s_rest (wp_ctx_t *ctx)
{
    uint64_t work = 0;
    for (int topic = 0; topic < WP_TOPIC_COUNT; topic++)
        if (!wp_topic_periodic ((wp_topic_t) topic))
            work += ctx->received [topic];
    if (work != ctx->rest_work) {
        ctx->rest_work = work;
        ctx->rested = false;
    }
    else
    if (!ctx->rested) {
        ctx->rested = true;
        if (ctx->store && !ctx->def->store_elsewhere)
            wp_store_release (ctx->store);      //  (else its own thread's)
    }
    uint64_t all = atomic_load (&s_process_work);
    if (all != ctx->process_work) {
        ctx->process_work = all;
        return;
    }
#ifdef __GLIBC__
    uint64_t trimmed = atomic_load (&s_process_trimmed);
    if (trimmed != all && atomic_compare_exchange_strong (&s_process_trimmed, &trimmed, all))
        malloc_trim (0);
#endif
}

//  Publish a heartbeat.
static int
s_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    wp_ctx_t *ctx = (wp_ctx_t *) arg;
    s_rest (ctx);
    wp_bus_stats_t stats;
    wp_bus_stats (ctx->bus, &stats);
    Warmup__V1__Heartbeat beat = WARMUP__V1__HEARTBEAT__INIT;
    uint64_t now = wp_wall_us () / 1000;     //  liveness: the wall clock
    beat.event_ms = now;
    beat.component = (char *) ctx->def->name;
    beat.instance = ctx->instance;
    beat.pid = (uint32_t) getpid ();
    beat.rss_kb = wp_rss_kb ();
    beat.uptime_ms = now - ctx->started_ms;
    beat.events_in = stats.events_in;
    beat.events_out = stats.events_out + 1;     //  counting this one
    beat.dropped = stats.gaps + stats.bad_frames + ctx->rejected;
    beat.bad_frames = stats.bad_frames;
    bool store_here = ctx->store && !ctx->def->store_elsewhere;
    beat.persisted = store_here ? wp_store_committed (ctx->store) : 0;
    beat.interval_ms = ctx->config->heartbeat_ms;
    if (ctx->def->state_size && ctx->state)
        ctx->def->state_size (ctx->state, &beat.state_bytes, &beat.state_items);
    //  Drops by topic: where the load is lost
    Warmup__V1__TopicCount drops [WP_TOPIC_COUNT];
    Warmup__V1__TopicCount *drop_pointers [WP_TOPIC_COUNT];
    for (int t = 0; t < WP_TOPIC_COUNT; t++)
        if (stats.gaps_by_topic [t]) {
            warmup__v1__topic_count__init (&drops [beat.n_dropped_topics]);
            drops [beat.n_dropped_topics].topic = (char *) wp_topic_name ((wp_topic_t) t);
            drops [beat.n_dropped_topics].count = stats.gaps_by_topic [t];
            drop_pointers [beat.n_dropped_topics] = &drops [beat.n_dropped_topics];
            beat.n_dropped_topics++;
        }
    beat.dropped_topics = drop_pointers;
    if (store_here) {
        beat.store_refused = wp_store_refused (ctx->store);
        beat.store_errors = wp_store_commit_failures (ctx->store);
    }
    if (ctx->def->durability && ctx->state)
        ctx->def->durability (ctx->state, &beat.persisted, &beat.store_errors,
                              &beat.store_refused);
    wp_resync_stats (ctx->resync, &beat.resyncs, &beat.resync_items, &beat.snapshots_served);
    wp_bus_publish (ctx->bus, WP_TOPIC_HEARTBEAT, &beat.base);
    return 0;
}

//  Write dirty state and commit.
static void
s_persist (wp_ctx_t *ctx)
{
    if (ctx->def->on_persist && ctx->state)
        ctx->def->on_persist (ctx->state, ctx);
    if (ctx->store && !ctx->def->store_elsewhere && wp_store_flush (ctx->store)) {
        ctx->persist_errors++;
        if (wp_log_should (ctx->persist_errors))
            zsys_error ("%s: cannot commit state (will retry)", ctx->def->name);
    }
}

static int s_resync_tick (zloop_t *loop, int timer_id, void *arg);

//  Flush timer (and the resync's, when the flush comes as often: one
//  wake-up where two would be).
static int
s_flush (zloop_t *loop, int timer_id, void *arg)
{
    wp_ctx_t *ctx = (wp_ctx_t *) arg;
    s_persist (ctx);
    if (ctx->flush_resyncs)
        s_resync_tick (loop, timer_id, arg);
    return 0;
}

//  Tick timer.
static int
s_tick (zloop_t *loop, int timer_id, void *arg)
{
    wp_ctx_t *ctx = (wp_ctx_t *) arg;
    ctx->def->on_tick (ctx->state, ctx);
    return 0;
}

static void s_release_held (wp_ctx_t *ctx);

//  Resync timer.
static int
s_resync_tick (zloop_t *loop, int timer_id, void *arg)
{
    wp_ctx_t *ctx = (wp_ctx_t *) arg;
    wp_resync_tick (ctx->resync);
    s_release_held (ctx);
    return 0;
}

//  Most events held while the first snapshot is awaited; more are
//  dropped and counted. Each is held packed, in its own bytes (a usage
//  event ~100, a pattern under 2 KiB), not in the 8 KiB arena it was
//  decoded in: at most ~20 MiB held, for at most the resync's timeout.
#define S_HELD_MAX 10000

//  An event held, packed again; decoded again when it is handed over.
typedef struct {
    wp_topic_t topic;               //  its topic
    uint64_t gap;                   //  as received (wp_bus_event_t)
    bool restarted, first;
    size_t size;                    //  bytes of data
    uint8_t data [];                //  the packed message
} s_held_t;

//  Free a held event (zlistx destructor).
static void
s_held_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

//  Hold one event (copied; the caller frees its own).
static void
s_hold (wp_ctx_t *ctx, const wp_bus_event_t *event)
{
    size_t size = protobuf_c_message_get_packed_size (event->msg);
    s_held_t *held = (s_held_t *) malloc (sizeof (s_held_t) + size);
    assert (held);
    held->topic = event->topic;
    held->gap = event->gap;
    held->restarted = event->restarted;
    held->first = event->first;
    held->size = protobuf_c_message_pack (event->msg, held->data);
    if (!ctx->held) {
        ctx->held = zlistx_new ();
        zlistx_set_destructor (ctx->held, s_held_destroy);
    }
    zlistx_add_end (ctx->held, held);
}

//  Hand an event to the component.
static void
s_deliver (wp_ctx_t *ctx, wp_bus_event_t *event)
{
    if (ctx->def->on_event && (ctx->subscribed & (1u << event->topic))
        && event->topic != WP_TOPIC_CLOCK_TICK && event->topic != WP_TOPIC_CLOCK_ACK)
        ctx->def->on_event (ctx->state, ctx, event->topic, event->msg);
}

//  Hand over the events held for the first snapshot, once it came.
static void
s_release_held (wp_ctx_t *ctx)
{
    if (!ctx->held || wp_resync_holding (ctx->resync))
        return;
    s_held_t *held;
    while ((held = (s_held_t *) zlistx_detach (ctx->held, NULL))) {
        wp_bus_event_t event = { .topic = held->topic, .gap = held->gap,
                                 .restarted = held->restarted, .first = held->first };
        event.msg = wp_bus_unpack (held->topic, false, held->data, held->size, NULL);
        if (event.msg) {
            s_deliver (ctx, &event);
            protobuf_c_message_free_unpacked (event.msg, NULL);
        }
        else
            ctx->rejected++;
        free (held);
    }
    zlistx_destroy (&ctx->held);
}

//  Handle the events waiting on the bus (a bounded batch per wake-up so
//  timers and the pipe are not starved).
static int
s_bus_events (zloop_t *loop, zsock_t *reader, void *arg)
{
    wp_ctx_t *ctx = (wp_ctx_t *) arg;
    wp_bus_event_t event;
    uint64_t work = 0;
    for (int i = 0; i < 1000; i++) {
        if (wp_bus_recv (ctx->bus, &event) != 1)
            break;
        work += !wp_topic_periodic (event.topic);
        if (ctx->verbose)
            zsys_debug ("%s: %s", ctx->def->name, wp_topic_name (event.topic));
        ctx->received [event.topic]++;
        if (ctx->replay && event.topic == WP_TOPIC_CLOCK_TICK)
            s_clock (ctx, (const Warmup__V1__ClockTick *) event.msg);
        else {
            //  (an operator's control carries the wall clock: a reload
            //  during a replay is no step in event time)
            if (ctx->replay && event.topic != WP_TOPIC_HEARTBEAT
                && event.topic != WP_TOPIC_CLOCK_ACK && event.topic != WP_TOPIC_CONTROL
                && event.topic != WP_TOPIC_CONTROL_REPLY) {
                uint64_t event_ms = s_event_ms (event.msg);
                if (event_ms > ctx->now_ms)
                    ctx->now_ms = event_ms;
            }
            //  Snapshots are the skeleton's; the component sees only the
            //  topics it subscribed to itself
            bool consumed = wp_resync_event (ctx->resync, &event);
            if (!consumed && wp_resync_holding (ctx->resync)
                && (ctx->subscribed & (1u << event.topic))) {
                //  Held until the first snapshot: decided on after it
                if (!ctx->held || zlistx_size (ctx->held) < S_HELD_MAX)
                    s_hold (ctx, &event);
                else
                    ctx->rejected++;
            }
            else
            if (!consumed) {
                s_release_held (ctx);
                s_deliver (ctx, &event);
            }
        }
        wp_bus_event_free (&event);
    }
    if (work)
        atomic_fetch_add (&s_process_work, work);
    s_release_held (ctx);
    wp_ctx_report (ctx);
    return 0;
}

//  Subscribe to a prefix and note the topics it covers.
static void
s_subscribe (wp_ctx_t *ctx, const char *prefix)
{
    if (ctx->replay && !*prefix) {
        //  Everything but the acks: they are the replayer's, and many.
        for (int t = 0; t < WP_TOPIC_COUNT; t++)
            if (t != WP_TOPIC_CLOCK_ACK)
                s_subscribe (ctx, wp_topic_name ((wp_topic_t) t));
        return;
    }
    wp_bus_subscribe (ctx->bus, prefix);
    for (int t = 0; t < WP_TOPIC_COUNT; t++)
        if (strncmp (wp_topic_name ((wp_topic_t) t), prefix, strlen (prefix)) == 0)
            ctx->subscribed |= 1u << t;
}

//  True when the comma list `names` ("a,b" or "all") names component name.
static bool
s_names (const char *names, const char *name)
{
    if (!names)
        return false;
    size_t length = strlen (name);
    for (const char *item = names; *item; ) {
        const char *comma = strchr (item, ',');
        size_t size = comma ? (size_t) (comma - item) : strlen (item);
        if ((size == 3 && strncmp (item, "all", 3) == 0)
            || (size == length && strncmp (item, name, length) == 0))
            return true;
        item += size + (comma ? 1 : 0);
    }
    return false;
}

//  Open the component's store at path; a corrupt one is moved aside when
//  --reset-store names the component, else refused. Returns 0, or -1 with
//  reason filled: the file, what is wrong and what to do.
static int
s_store_open (wp_ctx_t *ctx, const char *path, const wp_store_opts_t *opts,
              char *reason, size_t size)
{
    const char *name = ctx->def->name;
    wp_store_failure_t failure;
    ctx->store = wp_store_open (path, opts, &failure);
    if (!ctx->store && failure.kind == WP_STORE_FAIL_CORRUPT
        && s_names (ctx->config->reset_store, name)) {
        char moved [1024];
        if (wp_store_set_aside (path, moved, sizeof moved) == 0) {
            zsys_warning ("%s: --reset-store: the corrupt store was moved aside to %s; "
                          "starting with an empty one", name, moved);
            ctx->store = wp_store_open (path, opts, &failure);
        }
    }
    if (ctx->store)
        return 0;
    if (failure.kind == WP_STORE_FAIL_CORRUPT)
        snprintf (reason, size, "store refused: %s. %s will not start on it, so nothing "
                  "in it is overwritten: restore a backup (warmup-store backup, "
                  "docs/operations.md) or start once with --reset-store %s to move it "
                  "aside and begin with an empty store", failure.why, name, name);
    else
        snprintf (reason, size, "store refused: %s", *failure.why ? failure.why : path);
    return -1;
}

//  Build everything on START. Returns 0, or -1 with reason filled.
static int
s_start (wp_ctx_t *ctx, char *reason, size_t size)
{
    const wp_config_t *config = ctx->config;
    char source [256];
    snprintf (source, sizeof source, "%s/%s", ctx->def->name, ctx->instance);
    wp_bus_opts_t opts = { .max_frame = config->max_frame_bytes,
                           .sndhwm = (int) config->hwm,
                           .rcvhwm = (int) config->hwm };
    wp_client_keys_t keys;
    if (wp_security_client (config, ctx->pub_endpoint, ctx->sub_endpoint, WP_KEYS_COMPONENT,
                            true, &keys, reason, size))
        return -1;
    wp_security_bus_opts (&keys, &opts);
    ctx->bus = wp_bus_new (ctx->pub_endpoint, ctx->sub_endpoint, source, &opts);
    sodium_memzero (&keys, sizeof keys);
    if (!ctx->bus) {
        snprintf (reason, size, "cannot connect to the bus at %s / %s",
                  ctx->pub_endpoint, ctx->sub_endpoint);
        return -1;
    }
    //  ZeroMQ's I/O threads carry every event of the pipeline too (they
    //  exist once a socket does)
    wp_threads_slice ("ZMQbg/IO/", WP_PIPELINE_SLICE_US);
    char *path = zsys_sprintf ("%s/%s", config->data_dir, ctx->def->name);
    if (wp_keys_data_dir (config->data_dir, reason, size)) {
        zstr_free (&path);
        return -1;
    }
    wp_store_opts_t store_opts = { .batch_max = config->batch_max,
                                   .nosync = config->nosync,
                                   .map_max = (size_t) config->map_max_mb << 20,
                                   .owner = ctx->def->name };
    if (s_store_open (ctx, path, &store_opts, reason, size)) {
        ctx->store_refused = true;
        zstr_free (&path);
        return -1;
    }
    zstr_free (&path);
    ctx->state = ctx->def->create ? ctx->def->create (ctx) : NULL;
    if (ctx->def->create && !ctx->state && ctx->refused_why) {
        snprintf (reason, size, "store refused: %s", ctx->refused_why);
        ctx->store_refused = true;
        return -1;
    }
    if (ctx->def->create && !ctx->state) {
        snprintf (reason, size, "%s could not initialise (see the log)", ctx->def->name);
        return -1;
    }
    for (int i = 0; ctx->def->topics [i]; i++)
        s_subscribe (ctx, ctx->def->topics [i]);
    //  Resync (live mode): its topics are the skeleton's, not the
    //  component's (not in subscribed)
    if (!ctx->replay)
        ctx->resync = wp_resync_new (ctx->def, ctx);
    for (const char **topic = ctx->resync ? wp_resync_topics (ctx->resync) : NULL;
         topic && *topic; topic++)
        wp_bus_subscribe (ctx->bus, *topic);
    if (ctx->replay) {
        for (int i = 0; ctx->def->replay_topics [i]; i++)
            s_subscribe (ctx, ctx->def->replay_topics [i]);
        if (!(ctx->subscribed & (1u << WP_TOPIC_CLOCK_TICK)))
            s_subscribe (ctx, "clock.tick");
    }
    if (wp_bus_wait_ready (ctx->bus, (int) config->ready_timeout_ms)) {
        snprintf (reason, size, "the bus did not answer within %u ms (is the "
                  "proxy running at %s / %s?)", config->ready_timeout_ms,
                  ctx->pub_endpoint, ctx->sub_endpoint);
        return -1;
    }
    ctx->started_ms = wp_wall_us () / 1000;
    zloop_reader (ctx->loop, wp_bus_sub_socket (ctx->bus), s_bus_events, ctx);
    //  The flush timer goes first: when both are due in one pass of the
    //  loop (after a stall), the heartbeat then reports the commit that
    //  was due before it, so a heartbeat sent a flush period after an
    //  event reports that event's state as persisted.
    zloop_timer (ctx->loop, config->flush_ms, 0, s_flush, ctx);
    zloop_timer (ctx->loop, config->heartbeat_ms, 0, s_heartbeat, ctx);
    unsigned tick_ms = ctx->def->tick_period ? ctx->def->tick_period (config)
                                             : ctx->def->tick_ms;
    ctx->tick_ms = tick_ms;
    //  In replay mode periodic work follows event time (s_clock).
    if (ctx->def->on_tick && tick_ms && !ctx->replay)
        zloop_timer (ctx->loop, tick_ms, 0, s_tick, ctx);
    //  (the timers' periods are the start's: a reload does not change them)
    ctx->flush_resyncs = ctx->resync && config->flush_ms <= S_RESYNC_TICK_MS;
    if (ctx->resync && !ctx->flush_resyncs)
        zloop_timer (ctx->loop, S_RESYNC_TICK_MS, 0, s_resync_tick, ctx);
    //  Events that arrived while we waited for readiness.
    s_bus_events (ctx->loop, NULL, ctx);
    s_heartbeat (ctx->loop, 0, ctx);
    wp_resync_start (ctx->resync);
    ctx->started = true;
    return 0;
}

//  Handle a pipe command; -1 ends the loop.
static int
s_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    wp_ctx_t *ctx = (wp_ctx_t *) arg;
    zmsg_t *request = zmsg_recv (pipe);
    if (!request)
        return -1;
    char *command = zmsg_popstr (request);
    int rc = 0;
    if (!command || streq (command, "$TERM"))
        rc = -1;
    else
    if (streq (command, "START")) {
        char reason [2048] = "";
        if (ctx->started)
            zstr_sendx (pipe, "ERROR", "already started", NULL);
        else
        if (s_start (ctx, reason, sizeof reason) == 0)
            zstr_send (pipe, "OK");
        else {
            zsys_error ("%s: %s", ctx->def->name, reason);
            zstr_sendx (pipe, "ERROR", reason, ctx->store_refused ? "store" : "", NULL);
        }
    }
    else
    if (streq (command, "STATS")) {
        wp_bus_stats_t stats = { 0 };
        if (ctx->bus)
            wp_bus_stats (ctx->bus, &stats);
        char in [32], out [32], dropped [32], bad [32], persisted [32];
        snprintf (in, sizeof in, "%" PRIu64, stats.events_in);
        snprintf (out, sizeof out, "%" PRIu64, stats.events_out);
        snprintf (dropped, sizeof dropped, "%" PRIu64,
                  stats.gaps + stats.bad_frames + ctx->rejected);
        snprintf (bad, sizeof bad, "%" PRIu64, stats.bad_frames);
        uint64_t durable = ctx->store && !ctx->def->store_elsewhere
                         ? wp_store_committed (ctx->store) : 0, errors = 0,
                 refused = 0;
        if (ctx->def->durability && ctx->state)
            ctx->def->durability (ctx->state, &durable, &errors, &refused);
        snprintf (persisted, sizeof persisted, "%" PRIu64, durable);
        zstr_sendx (pipe, "OK", in, out, dropped, bad, persisted, NULL);
    }
    else
    if (streq (command, "CONFIG")) {
        //  A reload, validated by the sender, who frees the old config
        //  once every actor has answered.
        zframe_t *frame = zmsg_pop (request);
        if (frame && zframe_size (frame) == sizeof (void *)) {
            const wp_config_t *next = *(const wp_config_t **) zframe_data (frame);
            if (ctx->def->on_config && ctx->state)
                ctx->def->on_config (ctx->state, ctx, next);
            ctx->config = next;
            zstr_send (pipe, "OK");
        }
        else
            zstr_sendx (pipe, "ERROR", "CONFIG needs a configuration", NULL);
        zframe_destroy (&frame);
    }
    else {
        zsys_error ("%s: unknown command '%s'", ctx->def->name, command);
        zstr_sendx (pipe, "ERROR", "unknown command", NULL);
    }
    zstr_free (&command);
    zmsg_destroy (&request);
    return rc;
}

//  Run a component's actor.
void
wp_component_run (zsock_t *pipe, const wp_component_def_t *def,
                  const wp_component_args_t *args)
{
    //  Name the thread after the component (top, perf, gdb show it).
    pthread_setname_np (pthread_self (), def->name);
    //  An event's path crosses several threads on few cores: each wakes
    //  ahead of a long computation instead of after its slice
    wp_thread_slice (0, WP_PIPELINE_SLICE_US);
    wp_ctx_t ctx = { 0 };
    ctx.def = def;
    ctx.config = args->config;
    ctx.pub_endpoint = strdup (args->pub_endpoint ? args->pub_endpoint
                                                  : args->config->pub_endpoint);
    ctx.sub_endpoint = strdup (args->sub_endpoint ? args->sub_endpoint
                                                  : args->config->sub_endpoint);
    assert (ctx.pub_endpoint && ctx.sub_endpoint);
    ctx.pipe = pipe;
    ctx.verbose = args->verbose;
    ctx.replay = args->config->replay;
    ctx.instance = wp_instance_id (args->instance);
    ctx.loop = zloop_new ();
    assert (ctx.loop);
    //  Only $TERM ends the actor: the owner decides what a signal means.
    zloop_set_nonstop (ctx.loop, true);
    zloop_reader (ctx.loop, pipe, s_pipe, &ctx);
    zsock_signal (pipe, 0);

    zloop_start (ctx.loop);

    if (ctx.started)
        s_persist (&ctx);
    if (def->destroy && ctx.state)
        def->destroy (&ctx.state);
    zloop_destroy (&ctx.loop);
    zlistx_destroy (&ctx.held);
    wp_resync_destroy (&ctx.resync);
    wp_store_destroy (&ctx.store);
    wp_bus_destroy (&ctx.bus);
    free (ctx.refused_why);
    free (ctx.instance);
    free (ctx.pub_endpoint);
    free (ctx.sub_endpoint);
}

//  The actor of any component.
void
wp_component_actor (zsock_t *pipe, void *args)
{
    wp_component_start_t start = *(wp_component_start_t *) args;
    wp_component_run (pipe, start.def, &start.args);
}

//  Component by name.
const wp_component_def_t *
wp_component_find (const char *name)
{
    for (int i = 0; wp_components [i]; i++)
        if (streq (wp_components [i]->name, name))
            return wp_components [i];
    return NULL;
}

//  Start a component actor and START it.
zactor_t *
wp_component_start (const wp_component_def_t *def, const wp_component_args_t *args)
{
    return wp_component_start_code (def, args, NULL);
}

//  As wp_component_start; *exit_code (may be NULL) gets the exit code a
//  process should end with when it fails.
zactor_t *
wp_component_start_code (const wp_component_def_t *def, const wp_component_args_t *args,
                         int *exit_code)
{
    wp_component_start_t start = { def, *args };
    zactor_t *actor = zactor_new (wp_component_actor, &start);
    if (exit_code)
        *exit_code = 1;
    if (!actor)
        return NULL;
    zstr_send (actor, "START");
    char *status = NULL, *reason = NULL, *kind = NULL;
    if (zstr_recvx (actor, &status, &reason, &kind, NULL) < 1 || !streq (status, "OK")) {
        zsys_error ("%s: failed to start: %s", def->name, reason ? reason : "no reply");
        if (exit_code && kind && streq (kind, "store"))
            *exit_code = S_EXIT_STORE;
        zstr_free (&status);
        zstr_free (&reason);
        zstr_free (&kind);
        zactor_destroy (&actor);
        return NULL;
    }
    zstr_free (&status);
    zstr_free (&reason);
    zstr_free (&kind);
    return actor;
}

//  Print the usage of a program.
static void
s_usage (const char *program, const char *extra)
{
    fprintf (stderr,
        "usage: %s [options]%s\n"
        "  -c, --config FILE        ZPL configuration file (default: built-in defaults)\n"
        "  --data-dir DIR           where state, keys and the audit log live (default:\n"
        "                           the file's store/data_dir, else $WARMUP_DATA_DIR,\n"
        "                           else ./var)\n"
        "  --client-key FILE        this program's CURVE certificate (bus/client_key)\n"
        "  --pub-endpoint EP        where publishers connect (default tcp://127.0.0.1:5701)\n"
        "  --sub-endpoint EP        where subscribers connect (default tcp://127.0.0.1:5702)\n"
        "  --instance ID            instance id in heartbeats (default host:pid)\n"
        "  --metrics-listen H:P     metrics HTTP endpoint (default 127.0.0.1:9464;\n"
        "                           port 0 picks a free port; off = none)\n"
        "  --catalog FILE           add the models of a catalog CSV (model,memory_mb,\n"
        "                           load_ms) with the sim backend\n"
        "  --max-memory-mb N|auto   memory budget, overrides max_memory_mb (0 = none;\n"
        "                           auto = measured, docs/configuration.md)\n"
        "  --reset-store NAME,...   move the corrupt store of these components (or\n"
        "                           all) aside and start with an empty one\n"
        "  --replay                 event time from clock.tick (warmupctl replay)\n"
        "  -v, --verbose            log each event\n"
        "  -h, --help               this help\n", program, extra ? extra : "");
}

//  The values of the command line's options (borrowed from argv).
typedef struct {
    const char *config_path, *data_dir, *pub, *sub, *metrics_listen, *catalog,
               *max_memory, *reset_store, *client_key;
    bool replay;
} s_flags_t;

//  Where an option that takes a value keeps it, or NULL for another
//  argument.
static const char **
s_flag_slot (s_flags_t *flags, const char **instance, const char *arg)
{
    static const struct {
        const char *name;
        size_t offset;
    } table [] = {
        { "-c", offsetof (s_flags_t, config_path) },
        { "--config", offsetof (s_flags_t, config_path) },
        { "--data-dir", offsetof (s_flags_t, data_dir) },
        { "--pub-endpoint", offsetof (s_flags_t, pub) },
        { "--sub-endpoint", offsetof (s_flags_t, sub) },
        { "--metrics-listen", offsetof (s_flags_t, metrics_listen) },
        { "--catalog", offsetof (s_flags_t, catalog) },
        { "--max-memory-mb", offsetof (s_flags_t, max_memory) },
        { "--reset-store", offsetof (s_flags_t, reset_store) },
        { "--client-key", offsetof (s_flags_t, client_key) },
    };
    if (streq (arg, "--instance"))
        return instance;
    for (size_t i = 0; i < sizeof table / sizeof table [0]; i++)
        if (streq (arg, table [i].name))
            return (const char **) ((char *) flags + table [i].offset);
    return NULL;
}

//  The configuration the options make: the file (or the defaults), then
//  each option over it. NULL after saying why on stderr.
static wp_config_t *
s_config_from_flags (const s_flags_t *flags, const char *program)
{
    wp_config_t *config = flags->config_path ? wp_config_load (flags->config_path)
                                             : wp_config_new ();
    if (!config) {
        fprintf (stderr, "%s: configuration rejected (see above)\n", program);
        return NULL;
    }
    //  Where the service keeps its state and keys: the flag, the file, then
    //  the environment (so warmupctl finds warmupd's keys with no flag).
    const char *data_dir = flags->data_dir;
    const char *from_env = getenv ("WARMUP_DATA_DIR");
    if (!data_dir && !config->data_dir_set && from_env && *from_env)
        data_dir = from_env;
    if (data_dir)
        wp_config_set_string (config, "data_dir", data_dir);
    if (flags->client_key)
        wp_config_set_string (config, "client_key", flags->client_key);
    if (flags->pub)
        wp_config_set_string (config, "pub_endpoint", flags->pub);
    if (flags->sub)
        wp_config_set_string (config, "sub_endpoint", flags->sub);
    if (flags->metrics_listen)
        wp_config_set_string (config, "metrics_listen", flags->metrics_listen);
    if (flags->reset_store)
        wp_config_set_string (config, "reset_store", flags->reset_store);
    const char *max_memory = flags->max_memory;
    if (max_memory && streq (max_memory, "auto")) {
        config->max_memory_mb = 0;
        config->max_memory_auto = true;
        config->set_by_flag |= WP_CONFIG_FLAG_MAX_MEMORY;
    }
    else
    if (max_memory) {
        char *end = NULL;
        errno = 0;
        unsigned long long mb = strtoull (max_memory, &end, 10);
        if (errno || !end || *end || end == max_memory || *max_memory == '-'
            || mb > 1000000000ULL) {
            fprintf (stderr, "%s: --max-memory-mb: bad value '%s': must be auto or an "
                     "integer in 0..1000000000 MiB\n", program, max_memory);
            wp_config_destroy (&config);
            return NULL;
        }
        config->max_memory_mb = (uint32_t) mb;
        config->set_by_flag |= WP_CONFIG_FLAG_MAX_MEMORY;
    }
    if (flags->catalog && wp_config_add_catalog (config, flags->catalog)) {
        fprintf (stderr, "%s: catalog rejected (see above)\n", program);
        wp_config_destroy (&config);
        return NULL;
    }
    config->replay = config->replay || flags->replay;
    if (config->replay && (config->max_memory_auto || wp_config_has_vram (config))) {
        //  The simulated world has one memory of a given size
        fprintf (stderr, "%s: --replay needs max_memory_mb as a number and no "
                 "max_vram_mb (the simulated world measures nothing)\n", program);
        wp_config_destroy (&config);
        return NULL;
    }
    return config;
}

//  Parse the common arguments.
wp_config_t *
wp_component_parse_args (int argc, char **argv, const char *program,
                         const char *extra_usage, bool *verbose,
                         const char **instance, char ***rest, int *n_rest)
{
    s_flags_t flags = { 0 };
    *verbose = false;
    *instance = NULL;
    *n_rest = 0;
    *rest = (char **) calloc ((size_t) argc + 1, sizeof (char *));
    assert (*rest);
    wp_config_t *config = NULL;
    bool parsed = true;
    for (int i = 1; i < argc && parsed; i++) {
        const char *arg = argv [i];
        const char **slot = s_flag_slot (&flags, instance, arg);
        if (slot && i + 1 < argc)
            *slot = argv [++i];
        else
        if (slot) {
            fprintf (stderr, "%s: %s needs a value\n", program, arg);
            parsed = false;
        }
        else
        if (streq (arg, "--replay"))
            flags.replay = true;
        else
        if (streq (arg, "-v") || streq (arg, "--verbose"))
            *verbose = true;
        else
        if (streq (arg, "-h") || streq (arg, "--help")) {
            s_usage (program, extra_usage);
            parsed = false;
        }
        else
            (*rest) [(*n_rest)++] = argv [i];
    }
    if (parsed)
        config = s_config_from_flags (&flags, program);
    if (!config) {
        free (*rest);
        *rest = NULL;
    }
    return config;
}

//  Wait for a signal or an actor's death.
int
wp_component_wait (zactor_t **actors, size_t n_actors)
{
    zpoller_t *poller = zpoller_new (NULL);
    for (size_t i = 0; i < n_actors; i++)
        if (actors [i])
            zpoller_add (poller, actors [i]);
    int rc = 0;
    while (!zsys_interrupted) {
        void *which = zpoller_wait (poller, 1000);
        if (which) {
            //  An actor only talks on its own when it is ending.
            zsys_error ("a component ended unexpectedly");
            rc = -1;
            break;
        }
        if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    return rc;
}

//  --- Supervision: reloads -------------------------------------------------

//  Set by SIGHUP; the supervisor's loop reloads. (A signal handler can only
//  talk through a variable like this.)
static volatile sig_atomic_t s_hangup;

//  SIGHUP handler.
static void
s_on_hangup (int signum)
{
    (void) signum;
    s_hangup = 1;
}

//  Append "name" to a comma list in buffer.
static void
s_list_add (char *buffer, size_t size, const char *name)
{
    size_t used = strlen (buffer);
    if (used + strlen (name) + 3 < size)
        snprintf (buffer + used, size - used, "%s%s", used ? ", " : "", name);
}

//  Reload the configuration.
int
wp_component_reload (zactor_t **actors, size_t n_actors, const wp_supervisor_t *sv,
                     char *message, size_t message_size, char *error, size_t error_size)
{
    assert (sv && sv->config_p && *sv->config_p);
    wp_config_t *running = *sv->config_p;
    if (message && message_size)
        *message = 0;
    if (!running->path) {
        snprintf (error, error_size, "%s was started without a configuration file "
                  "(-c): nothing to reload", sv->program);
        return -1;
    }
    wp_config_t *next = wp_config_load_error (running->path, error, error_size);
    if (!next)
        return -1;
    if (wp_config_inherit_flags (next, running)) {
        snprintf (error, error_size, "catalog %s: rejected now (see the log)",
                  running->catalog);
        wp_config_destroy (&next);
        return -1;
    }
    if (wp_config_check_reload (running, next, error, error_size)) {
        wp_config_destroy (&next);
        return -1;
    }
    //  Every actor takes it, then the old one can go.
    for (size_t i = 0; i < n_actors; i++) {
        if (!actors [i])
            continue;
        zsock_send (actors [i], "sp", "CONFIG", (void *) next);
        char *status = zstr_recv (actors [i]);
        if (!status || !streq (status, "OK"))
            zsys_error ("%s: an actor did not take the configuration", sv->program);
        zstr_free (&status);
    }
    if (message && message_size) {
        char added [400] = "", removed [400] = "", changed [400] = "";
        for (size_t i = 0; i < next->n_models; i++) {
            const wp_model_config_t *now = &next->models [i];
            const wp_model_config_t *was = wp_config_model (running, now->name);
            if (!was)
                s_list_add (added, sizeof added, now->name);
            else
            if (was->pin != now->pin || was->preload != now->preload
                || was->priority != now->priority || was->memory_mb != now->memory_mb
                || was->load_ms != now->load_ms || was->backend != now->backend
                || was->min_keep_seconds != now->min_keep_seconds
                || !streq (was->group ? was->group : "", now->group ? now->group : ""))
                s_list_add (changed, sizeof changed, now->name);
        }
        for (size_t i = 0; i < running->n_models; i++)
            if (!wp_config_model (next, running->models [i].name))
                s_list_add (removed, sizeof removed, running->models [i].name);
        snprintf (message, message_size, "reloaded %s: %zu models; added: %s; "
                  "removed: %s; changed: %s", next->path, next->n_models,
                  *added ? added : "none", *removed ? removed : "none",
                  *changed ? changed : "none");
    }
    wp_config_destroy (sv->config_p);
    *sv->config_p = next;
    return 0;
}

//  Publish the outcome of a reload.
static void
s_reload_reply (wp_bus_t *bus, const wp_supervisor_t *sv, const Warmup__V1__ControlRequest *in,
                bool ok, const char *message, const char *error)
{
    if (!bus)
        return;
    Warmup__V1__ControlReply reply = WARMUP__V1__CONTROL_REPLY__INIT;
    reply.event_ms = wp_wall_us () / 1000;
    reply.command = WARMUP__V1__COMMAND__COMMAND_RELOAD;
    reply.request_id = in && in->request_id ? in->request_id : (char *) "";
    if (in)
        reply.cause = in->header;
    reply.component = (char *) sv->program;
    reply.ok = ok;
    reply.message = (char *) (message ? message : "");
    reply.error = (char *) (error ? error : "");
    wp_bus_publish (bus, WP_TOPIC_CONTROL_REPLY, &reply.base);
}

//  Reload and answer.
static void
s_supervised_reload (zactor_t **actors, size_t n_actors, const wp_supervisor_t *sv,
                     wp_bus_t *bus, const Warmup__V1__ControlRequest *in)
{
    char message [1600] = "", error [700] = "";
    if (wp_component_reload (actors, n_actors, sv, message, sizeof message,
                             error, sizeof error) == 0) {
        zsys_info ("%s: %s", sv->program, message);
        s_reload_reply (bus, sv, in, true, message, NULL);
    }
    else {
        zsys_error ("%s: reload rejected, the running configuration stays: %s",
                    sv->program, error);
        s_reload_reply (bus, sv, in, false, NULL, error);
    }
}

//  Wait, reloading on request.
int
wp_component_supervise (zactor_t **actors, size_t n_actors, const wp_supervisor_t *sv)
{
    assert (sv && sv->config_p && *sv->config_p);
    const wp_config_t *config = *sv->config_p;
    char source [256];
    char *instance = wp_instance_id (sv->instance);
    snprintf (source, sizeof source, "%s/%s", sv->program, instance);
    free (instance);
    wp_bus_opts_t opts = { .max_frame = config->max_frame_bytes };
    const char *pub = sv->pub_endpoint ? sv->pub_endpoint : config->pub_endpoint;
    const char *sub = sv->sub_endpoint ? sv->sub_endpoint : config->sub_endpoint;
    wp_client_keys_t keys;
    char error [1200];
    wp_bus_t *bus = NULL;
    if (wp_security_client (config, pub, sub, WP_KEYS_COMPONENT, true, &keys, error,
                            sizeof error))
        zsys_warning ("%s: %s", sv->program, error);
    else {
        wp_security_bus_opts (&keys, &opts);
        bus = wp_bus_new (pub, sub, source, &opts);
        sodium_memzero (&keys, sizeof keys);
    }
    if (bus) {
        wp_bus_subscribe (bus, "control.request");
        if (wp_bus_wait_ready (bus, (int) config->ready_timeout_ms)) {
            zsys_warning ("%s: no bus for control requests; reload with SIGHUP only",
                          sv->program);
            wp_bus_destroy (&bus);
        }
    }
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_hangup;
    sigemptyset (&action.sa_mask);
    sigaction (SIGHUP, &action, NULL);
    if (sv->ready_line) {
        printf ("%s\n", sv->ready_line);
        fflush (stdout);
    }

    zpoller_t *poller = zpoller_new (NULL);
    for (size_t i = 0; i < n_actors; i++)
        if (actors [i])
            zpoller_add (poller, actors [i]);
    if (bus)
        zpoller_add (poller, wp_bus_sub_socket (bus));
    int rc = 0;
    while (!zsys_interrupted) {
        if (s_hangup) {
            s_hangup = 0;
            zsys_info ("%s: SIGHUP: reloading %s", sv->program,
                       (*sv->config_p)->path ? (*sv->config_p)->path : "(no file)");
            s_supervised_reload (actors, n_actors, sv, bus, NULL);
        }
        //  A signal may land on another thread: look at the flag often.
        void *which = zpoller_wait (poller, 200);
        if (bus && (which == wp_bus_sub_socket (bus) || wp_bus_has_buffered (bus))) {
            wp_bus_event_t event;
            while (wp_bus_recv (bus, &event) == 1) {
                const Warmup__V1__ControlRequest *in
                    = (const Warmup__V1__ControlRequest *) event.msg;
                if (event.topic == WP_TOPIC_CONTROL
                    && in->command == WARMUP__V1__COMMAND__COMMAND_RELOAD)
                    s_supervised_reload (actors, n_actors, sv, bus, in);
                wp_bus_event_free (&event);
            }
            continue;
        }
        if (which) {
            //  An actor only talks on its own when it is ending.
            zsys_error ("a component ended unexpectedly");
            rc = -1;
            break;
        }
    }
    zpoller_destroy (&poller);
    wp_bus_destroy (&bus);
    signal (SIGHUP, SIG_DFL);
    return rc;
}

//  The process's malloc: blocks of 128 KiB and more from their own maps,
//  at a fixed threshold (glibc raises it, by default, to the largest block
//  freed, up to 32 MiB: then a flood's buffers, a checkpoint's index and
//  a slab's old copy come from the arenas and their pages stay there after
//  they are freed, about 45 MB in warmupd after the default bench).
void
wp_process_memory_init (void)
{
#ifdef __GLIBC__
    mallopt (M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

//  main() of a one-component process.
int
wp_component_main (int argc, char **argv, const char *name)
{
    char program [64];
    snprintf (program, sizeof program, "warmup-%s", name);
    wp_process_memory_init ();
    zsys_init ();
    zsys_set_logident (program);
    bool verbose;
    const char *instance;
    char **rest;
    int n_rest;
    wp_config_t *config = wp_component_parse_args (argc, argv, program, NULL,
                                                   &verbose, &instance, &rest, &n_rest);
    if (!config)
        return 2;
    if (n_rest > 0) {
        fprintf (stderr, "%s: unexpected argument '%s' (see --help)\n", program, rest [0]);
        free (rest);
        wp_config_destroy (&config);
        return 2;
    }
    free (rest);
    const wp_component_def_t *def = wp_component_find (name);
    assert (def);
    wp_component_args_t args = { config, instance, verbose, NULL, NULL };
    int exit_code = 1;
    zactor_t *actor = wp_component_start_code (def, &args, &exit_code);
    if (!actor) {
        wp_config_destroy (&config);
        return exit_code;
    }
    char ready [1200];
    snprintf (ready, sizeof ready, "%s: %s ready (pub=%s sub=%s data=%s)", program,
              def->title, config->pub_endpoint, config->sub_endpoint, config->data_dir);
    wp_supervisor_t supervisor = { &config, program, instance, NULL, NULL, ready };
    int rc = wp_component_supervise (&actor, 1, &supervisor);
    zactor_destroy (&actor);
    wp_config_destroy (&config);
    return rc ? 1 : 0;
}
