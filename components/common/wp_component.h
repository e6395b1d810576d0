/*  =========================================================================
    wp_component - what every component's actor shares: a bus client, its
    own LMDB environment, heartbeats, periodic ticks and flushes, the
    START/$TERM protocol; and the thin main() of a component process.

    A component is described by a wp_component_def_t (its name, topics and
    handlers). Its actor function calls wp_component_run, which:
      1. signals the pipe at once, then waits for START;
      2. on START: connects the bus, opens <data_dir>/<name> (LMDB),
         calls def->create, subscribes, waits until the bus is ready,
         replies "OK" or "ERROR" reason;
      3. loops on a zloop: bus events -> def->on_event, every tick_ms ->
         def->on_tick, every flush_ms -> def->on_persist then a store
         flush, every heartbeat_ms -> a heartbeat event (and once a
         period passed without work: the store's map pages released,
         and once the whole process had none, malloc_trim);
      4. on $TERM: persists, flushes, destroys everything, ends.

    Pipe commands: START (reply "OK" | "ERROR" reason), STATS (reply
    "OK" events_in events_out dropped bad_frames persisted), CONFIG with a
    wp_config_t pointer (a reload, validated already: def->on_config, then
    the component reads the new configuration; reply "OK"; the caller
    frees the old one after every actor answered), $TERM.

    Supervision (wp_component_supervise): the thread that owns the actors
    and the configuration also listens on the bus for control.request
    COMMAND_RELOAD and takes SIGHUP: it re-reads the file, checks it whole
    (wp_config_load, wp_config_check_reload), and only then hands it to
    every actor; it answers with control.reply (ok, or the error naming
    file:line:key while the running configuration stays).
    =========================================================================
*/

#ifndef WP_COMPONENT_H_INCLUDED
#define WP_COMPONENT_H_INCLUDED

#include <czmq.h>
#include "wp_bus.h"
#include "wp_store.h"
#include "wp_config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _wp_ctx_t wp_ctx_t;

//  A snapshot being answered (resync, wp_sync.h): the component adds its
//  items, the skeleton sends them in parts.
typedef struct _wp_sync_t wp_sync_t;

//  Where a snapshot being received is (a component's on_sync).
typedef enum {
    WP_SYNC_BEGIN,              //  a snapshot starts: items follow
    WP_SYNC_ITEM,               //  one item (kind, msg)
    WP_SYNC_END,                //  the snapshot is whole: what it did not
                                //  mention is not in the peer's state (one
                                //  asked since an event time, sync_since:
                                //  what did not change since)
    WP_SYNC_ABORT               //  a part went missing: forget this one (it
                                //  is asked for again)
} wp_sync_phase_t;

//  A component's description and handlers. Handlers return 0, or -1 for
//  an error they have logged (the component keeps running).
typedef struct {
    const char *name;           //  short name: "analyzer", used for --only
    const char *title;          //  "UsagePatternAnalyzer"
    const char *topics [WP_TOPIC_COUNT + 1]; // subscription prefixes, NULL-ended
    //  Build the component's state; NULL on failure (logged).
    void *(*create) (wp_ctx_t *ctx);
    //  Destroy the state; nulls *state_p.
    void (*destroy) (void **state_p);
    //  One decoded event; msg is borrowed.
    int (*on_event) (void *state, wp_ctx_t *ctx, wp_topic_t topic,
                     const ProtobufCMessage *msg);
    //  Periodic work every tick_ms (may be NULL).
    int (*on_tick) (void *state, wp_ctx_t *ctx);
    unsigned tick_ms;           //  0 = no tick
    //  Tick period from the configuration, overriding tick_ms (may be NULL).
    unsigned (*tick_period) (const wp_config_t *config);
    //  Write dirty state to the store before a flush (may be NULL).
    int (*on_persist) (void *state, wp_ctx_t *ctx);
    //  Size of the learned state for heartbeats: bytes and entries (may
    //  be NULL).
    void (*state_size) (void *state, uint64_t *bytes, uint64_t *items);
    //  A component that makes its records durable in a file of its own
    //  (a journal) besides its store: called with the store's records
    //  committed, failed commits and refused writes, it says its own
    //  (may be NULL: the store's are reported).
    void (*durability) (void *state, uint64_t *persisted, uint64_t *errors,
                        uint64_t *refused);
    //  The component's store is written and committed on a thread of its
    //  own once create returns: the skeleton neither flushes it nor reads
    //  its counts (durability gives them, the store's included).
    bool store_elsewhere;
    //  Replay mode (config->replay): extra subscription prefixes,
    //  NULL-ended.
    const char *replay_topics [WP_TOPIC_COUNT + 1];
    //  Replay mode: event time advanced to now_ms (a clock.tick); fire the
    //  timers due. NULL: on_tick runs when a tick_ms period of event time
    //  has passed (at most once per tick).
    int (*on_clock) (void *state, wp_ctx_t *ctx, uint64_t now_ms);
    //  Replay mode: the next timer in event time, 0 = none (may be NULL).
    uint64_t (*next_ms) (void *state);
    //  Replay mode: work started that will publish without further input
    //  (may be NULL).
    bool (*busy) (void *state);
    //  A reload: apply next (validated already; wp_ctx_config still gives
    //  the old one during the call). Keep no pointer into either config
    //  past the next reload (may be NULL).
    void (*on_config) (void *state, wp_ctx_t *ctx, const wp_config_t *next);
    //  Resync (the Clone pattern; docs/architecture.md "Resync"). Answer
    //  a sync.request for this component: add the state with wp_sync_add
    //  (may be NULL: it answers none).
    int (*snapshot) (void *state, wp_ctx_t *ctx, wp_sync_t *sync);
    //  The component whose snapshot this one asks for at start, on a gap
    //  or a restart in its events, and when a new instance of it appears
    //  (NULL: none).
    const char *sync_from;
    //  A snapshot from sync_from arriving: BEGIN, ITEM per item (kind and
    //  the decoded msg, borrowed), END, or ABORT (may be NULL).
    int (*on_sync) (void *state, wp_ctx_t *ctx, wp_sync_phase_t phase,
                    const char *kind, const ProtobufCMessage *msg);
    //  A resync after a gap in the events of the instance whose snapshot
    //  this one holds asks only for what changed since the event time (ms)
    //  this returns; 0 (or NULL) asks for the whole state.
    uint64_t (*sync_since) (void *state);
} wp_component_def_t;

//  Kinds of snapshot items: a ModelState (the queue's view of a model)
//  and a UsagePattern (a pair's summary, from the analyzer).
#define WP_SYNC_MODEL_STATE "model.state"
#define WP_SYNC_PATTERN "usage.pattern"

//  Add one item of kind (WP_SYNC_MODEL_STATE: a Warmup__V1__ModelState;
//  WP_SYNC_PATTERN: a Warmup__V1__UsagePattern) to the snapshot being
//  answered; it is packed now. Returns 0, or -1 when the item alone is
//  larger than a part may be (logged; skipped).
int
    wp_sync_add (wp_sync_t *sync, const char *kind, const ProtobufCMessage *msg);

//  The event time (ms) from which the snapshot being answered is asked
//  for: add only the state changed at or after it (0: all of it).
uint64_t
    wp_sync_since (wp_sync_t *sync);

//  What an actor is started with (zactor_new args). Borrowed: must
//  outlive the actor.
typedef struct {
    const wp_config_t *config;  //  configuration
    const char *instance;       //  instance id (NULL = host:pid)
    bool verbose;               //  log each event
    const char *pub_endpoint;   //  bus endpoints to use instead of the
    const char *sub_endpoint;   //  config's (NULL = config's), e.g. inproc
} wp_component_args_t;

//  Set up the process's malloc for a long-running service (large blocks
//  from maps of their own, given back when freed). Call first in main().
void
    wp_process_memory_init (void);

//  Run a component's actor on `pipe`. Called by each wp_X_actor.
void
    wp_component_run (zsock_t *pipe, const wp_component_def_t *def,
                      const wp_component_args_t *args);

//  Publish an event stamped with this component's source. Returns 0/-1.
int
    wp_ctx_publish (wp_ctx_t *ctx, wp_topic_t topic, ProtobufCMessage *msg);

//  The component's store (its own LMDB environment).
wp_store_t *
    wp_ctx_store (wp_ctx_t *ctx);

//  The configuration.
const wp_config_t *
    wp_ctx_config (wp_ctx_t *ctx);

//  The component's event loop, for extra timers and pollers.
zloop_t *
    wp_ctx_loop (wp_ctx_t *ctx);

//  Current time in ms since the epoch: the wall clock in live mode; in
//  replay mode the event time, the latest of the clock.tick times and the
//  event_ms of the events received (heartbeats aside).
uint64_t
    wp_ctx_now_ms (wp_ctx_t *ctx);

//  True in replay mode (event time from clock.tick).
bool
    wp_ctx_replay (wp_ctx_t *ctx);

//  Replay mode: true when the latest clock.tick said the replay goes by
//  windows (usage.observed without outcomes, many per round; see
//  ClockTick.windowed in schemas/warmup.proto).
bool
    wp_ctx_windowed (wp_ctx_t *ctx);

//  Replay mode: send a clock.ack if the component's counts or busy state
//  changed since the last one (the skeleton calls it after every batch of
//  events; call it after work that ends outside an event, e.g. a job).
void
    wp_ctx_report (wp_ctx_t *ctx);

//  True when the component was started verbose.
bool
    wp_ctx_verbose (wp_ctx_t *ctx);

//  Decode a topic's events header-only (wp_bus_header_only), for a
//  component that subscribes to a topic only to count it. Call from
//  create.
void
    wp_ctx_header_only (wp_ctx_t *ctx, wp_topic_t topic);

//  Count an event the component itself rejected (bad content). It is
//  reported in heartbeats as dropped.
void
    wp_ctx_count_rejected (wp_ctx_t *ctx);

//  The component's name.
const char *
    wp_ctx_name (wp_ctx_t *ctx);

//  True when --reset-store names this component (or "all"): create may
//  move a corrupt file of its own aside, as the skeleton does its store.
bool
    wp_ctx_reset_store (wp_ctx_t *ctx);

//  From create, before it returns NULL: a file of the component's own
//  store (a journal) is refused (corrupt, of a newer version, not
//  readable). START fails as for a refused store (exit 78), with reason
//  (copied).
void
    wp_ctx_refuse_store (wp_ctx_t *ctx, const char *reason);

//  The bus counters of the component; gaps include events its handlers
//  rejected.
void
    wp_ctx_bus_stats (wp_ctx_t *ctx, wp_bus_stats_t *stats);

//  Every component, in start order; NULL-terminated.
extern const wp_component_def_t *const wp_components [];

//  Component by short name, or NULL.
const wp_component_def_t *
    wp_component_find (const char *name);

//  What wp_component_actor takes as args: the component and its start
//  arguments. Copied by the actor before zactor_new returns.
typedef struct {
    const wp_component_def_t *def;
    wp_component_args_t args;
} wp_component_start_t;

//  The actor of any component: zactor_new (wp_component_actor, &start).
void
    wp_component_actor (zsock_t *pipe, void *args);

//  Start a component actor and send START; returns the actor or NULL
//  after logging the component's error.
zactor_t *
    wp_component_start (const wp_component_def_t *def,
                        const wp_component_args_t *args);

//  As wp_component_start; *exit_code (may be NULL) gets the exit code a
//  process should end with when it fails: 78 when its store was refused
//  (corrupt, not writable, disk full: a restart would fail alike), else 1.
zactor_t *
    wp_component_start_code (const wp_component_def_t *def,
                             const wp_component_args_t *args, int *exit_code);

//  Parse the common flags (-c, --data-dir, --pub-endpoint,
//  --sub-endpoint, --instance, --metrics-listen, --catalog, --max-memory-mb,
//  --reset-store, --replay, -v, -h). Unparsed arguments are left in
//  argv order in *rest (count *n_rest). Returns the config, or NULL after
//  printing the problem. *verbose and *instance are set.
wp_config_t *
    wp_component_parse_args (int argc, char **argv, const char *program,
                             const char *extra_usage, bool *verbose,
                             const char **instance, char ***rest, int *n_rest);

//  Wait until SIGINT/SIGTERM or an actor dies. Returns 0 on a signal,
//  -1 when an actor ended by itself.
int
    wp_component_wait (zactor_t **actors, size_t n_actors);

//  What wp_component_supervise needs to reload the configuration.
typedef struct {
    wp_config_t **config_p;     //  the running configuration, replaced on a
                                //  reload (the actors borrow it)
    const char *program;        //  names the replies: "warmupd", "warmup-queue"
    const char *instance;       //  instance id (NULL = host:pid)
    const char *pub_endpoint;   //  the bus for control requests and replies
    const char *sub_endpoint;   //  (NULL = the configuration's)
    const char *ready_line;     //  printed on stdout once control requests
                                //  are heard (NULL = none)
} wp_supervisor_t;

//  As wp_component_wait, and meanwhile reload the configuration on
//  control.request COMMAND_RELOAD and on SIGHUP, answering with
//  control.reply.
int
    wp_component_supervise (zactor_t **actors, size_t n_actors,
                            const wp_supervisor_t *supervisor);

//  Reload now: re-read (*supervisor->config_p)->path, check it, apply it
//  to the actors. Returns 0, or -1 with error filled (nothing changed).
//  message gets a summary of what changed.
int
    wp_component_reload (zactor_t **actors, size_t n_actors,
                         const wp_supervisor_t *supervisor, char *message,
                         size_t message_size, char *error, size_t error_size);

//  The main() of a one-component process.
int
    wp_component_main (int argc, char **argv, const char *name);

#ifdef __cplusplus
}
#endif

#endif
