/*  =========================================================================
    wp_sync - resync between components, the Clone pattern of the ZeroMQ
    Guide: a snapshot by request and reply on the bus, then the ordinary,
    sequence-numbered events as the updates after it.

    A component whose definition names sync_from (the scheduler and the
    metrics: "queue"; the engine: "analyzer") asks that component for a snapshot
    (sync.request) when it starts, when the peer's events show a sequence
    gap or a restart, and when a new instance of the peer appears (its
    first heartbeat). After a gap in the events of the instance whose
    snapshot it holds, a component with sync_since asks only for what
    changed since the event time it names (since_ms). A component with a
    snapshot handler answers with sync.reply parts, each under the bus's
    max_frame; the last part carries the answerer's last sequence number
    per topic at the snapshot. Events the peer published before the
    snapshot reach the requester before it (one publisher, one proxy: its
    order is kept), so the snapshot replaces what they said, and every
    event after it is an update from the snapshot on: nothing is buffered.

    The skeleton owns one wp_sync_t per actor and calls it from its loop;
    components see only wp_sync_add (answering) and their on_sync handler
    (BEGIN, ITEM per item, then END, or ABORT when a part went missing).
    Not used in replay mode (lock-step counts every event).
    =========================================================================
*/

#ifndef WP_SYNC_H_INCLUDED
#define WP_SYNC_H_INCLUDED

#include "wp_component.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _wp_resync_t wp_resync_t;

//  A resync of the actor of ctx, for def (the skeleton's). NULL when def
//  neither answers nor asks.
wp_resync_t *
    wp_resync_new (const wp_component_def_t *def, wp_ctx_t *ctx);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_resync_destroy (wp_resync_t **self_p);

//  The topic prefixes the resync needs, NULL-ended (the skeleton
//  subscribes to them besides the component's own).
const char **
    wp_resync_topics (wp_resync_t *self);

//  Ask for the first snapshot (after the bus is ready).
void
    wp_resync_start (wp_resync_t *self);

//  Look at one received event: a sync.request this component answers and
//  a sync.reply to its own request are handled and true is returned (the
//  component does not see them); any other event is only watched for a
//  gap or a restart of the peer (false).
bool
    wp_resync_event (wp_resync_t *self, const wp_bus_event_t *event);

//  True until the first snapshot is applied, or its first request went
//  unanswered (the peer is not running): meanwhile the skeleton holds the
//  component's events, so it decides nothing on a view the snapshot will
//  replace (the Clone pattern's queued updates).
bool
    wp_resync_holding (wp_resync_t *self);

//  Periodic: retry an unanswered request, send one a trigger asked for.
void
    wp_resync_tick (wp_resync_t *self);

//  Counters for heartbeats: snapshots applied, their items, snapshots
//  answered.
void
    wp_resync_stats (wp_resync_t *self, uint64_t *resyncs, uint64_t *items,
                     uint64_t *served);

//  The bus client of an actor (the skeleton's; for wp_sync).
wp_bus_t *
    wp_ctx_bus (wp_ctx_t *ctx);

//  The component's state (def->create's), for wp_sync.
void *
    wp_ctx_state (wp_ctx_t *ctx);

#ifdef __cplusplus
}
#endif

#endif
