/*  =========================================================================
    wp_analyzer_writer - the analyzer's journal on a thread of its own.

    The analyzer's thread learns from events and publishes what changed;
    the writes that make it durable (the journal's write and fdatasync,
    the checkpoints into LMDB) take milliseconds at a time and would hold
    every event queued behind them. The writer takes them off that thread:
    at each flush the analyzer hands over the records the flush drained
    (copied into a buffer, the only work left on its thread), and the
    writer's thread ("analyzer-log") appends them to the journal, makes
    them durable with one fdatasync, and runs a checkpoint's slices when
    one is due (wp_analyzer_log), between which it takes the next records
    handed over.

    The crash bound is the journal's plus one flush in flight: records
    are durable once the writer's fdatasync after the flush that handed
    them returns (the heartbeat's `persisted` counts them then). While
    the journal's flushes fail, or while the writer is behind (its disk
    slow, its thread given little CPU), the writer keeps what it was
    handed, and once pending_max records wait the analyzer refuses more:
    they stay dirty in its core (a flag per pair, so memory stays bounded)
    and go at a later flush. Only refusals while the journal fails are
    counted (store_refused): behind is not an error. The same holds while
    the journal's files are past twice journal_max and 64 MiB (a flood
    outruns the checkpoints): the pairs wait, dirty, for the checkpoint in progress to
    end, so the journal's disk stays bounded and a pair changed many times
    meanwhile is written once.

    Once the writer runs, the analyzer's LMDB store is its thread's
    alone (the component skeleton does not flush it:
    wp_component_def_t.store_elsewhere).
    =========================================================================
*/

#ifndef WP_ANALYZER_WRITER_H_INCLUDED
#define WP_ANALYZER_WRITER_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "wp_analyzer_log.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _wp_analyzer_writer_t wp_analyzer_writer_t;

//  Start the writer's thread on log (recovered; taken over: *log_p is
//  nulled) and its store (borrowed, the thread's alone from now on).
//  pending_max: records waiting while the journal's flushes fail before
//  new ones are refused.
wp_analyzer_writer_t *
    wp_analyzer_writer_new (wp_analyzer_log_t **log_p, wp_store_t *store,
                            uint32_t pending_max);

//  Stop: what was handed over is appended and flushed, the checkpoint in
//  progress and a last one run at once (a restart replays nothing), the
//  thread joined, the log closed. Safe on NULL; nulls *self_p.
void
    wp_analyzer_writer_destroy (wp_analyzer_writer_t **self_p);

//  A wp_analyzer_record_fn (arg: the writer), on the analyzer's thread:
//  add one record to the batch the next wp_analyzer_writer_flush hands
//  over. Returns 0, or -1 when the writer refuses it (the journal's
//  flushes fail and pending_max records wait): it stays dirty.
int
    wp_analyzer_writer_record (const char *db, const void *key, size_t key_len,
                               const void *value, size_t value_len, void *arg);

//  Hand the batch over to the writer's thread, which writes it, makes it
//  durable and checkpoints when one is due; wakes it even with an empty
//  batch (a checkpoint may be due by time, a failed flush retried).
void
    wp_analyzer_writer_flush (wp_analyzer_writer_t *self);

//  Wait until every flush handed over so far went through the journal's
//  flush (made durable, or failed: the counts say which), at most
//  timeout_ms. Returns 0, or -1 at the timeout.
int
    wp_analyzer_writer_sync (wp_analyzer_writer_t *self, int timeout_ms);

//  What the writer did: records made durable in the journal, failed
//  flushes and failed checkpoint commits, records refused (by the journal,
//  the writer or the store), checkpoints done (the recovery's included).
typedef struct {
    uint64_t durable;
    uint64_t failures;
    uint64_t refused;
    uint64_t checkpoints;
} wp_analyzer_writer_counts_t;

void
    wp_analyzer_writer_counts (wp_analyzer_writer_t *self,
                               wp_analyzer_writer_counts_t *counts);

#ifdef __cplusplus
}
#endif

#endif
