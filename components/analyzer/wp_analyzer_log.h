/*  =========================================================================
    wp_analyzer_log - the analyzer's persistence: an append-only journal of
    its pair and model records (wp_journal), checkpointed into its LMDB.

    Each flush appends the records that changed since the last one (the
    records wp_analyzer_drain hands over: a pair's or a model's whole
    state, or a pair's delete) and makes them durable with one fdatasync.
    A checkpoint starts a new, empty journal generation for the records
    appended from then on (the old one renamed to pairs.journal.applying),
    then applies the old generation past the position LMDB covers to LMDB
    in slices of a few ms each, between which the owner goes on with its
    events (wp_analyzer_log_step): the records indexed, sorted into runs,
    then each key's latest record written in key order, a transaction per
    slice. The last slice records the position it covers (the old
    generation's end) in the same store; the old file is then removed.
    The next checkpoint begins only when this one is done, so LMDB takes
    every generation whole, in order. Recovery at start is a checkpoint
    run to its end: the old generation if one is left, then the current
    one, go into LMDB, and the analyzer then loads LMDB as before. Applying
    a record twice leaves what applying it once does, so a crash during a
    checkpoint costs nothing.

    Journal payload, after wp_journal's record header (big-endian):
        u8  db          1 models, 2 pairs
        u8  op          1 put, 0 delete
        u16 version     the record version (WP_ANALYZER_RECORD_VERSION)
        u16 key length
        key             a pair's: the user's keyed hash + the model name
        value           the record (none for a delete)
    The user is the keyed hash the bus gave (wp_ingress), never the id.

    The covered position is the record "covered" of database "journal":
    u64 generation, u64 offset (record version 1).
    =========================================================================
*/

#ifndef WP_ANALYZER_LOG_H_INCLUDED
#define WP_ANALYZER_LOG_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "wp_store.h"

#ifdef __cplusplus
extern "C" {
#endif

//  The journal's file name in the analyzer's store directory.
#define WP_ANALYZER_JOURNAL "pairs.journal"

//  The generation a checkpoint is applying, beside it.
#define WP_ANALYZER_JOURNAL_OLD "pairs.journal.applying"

typedef struct _wp_analyzer_log_t wp_analyzer_log_t;

//  Options.
typedef struct {
    const char *dir;            //  the analyzer's store directory
    bool nosync;                //  no fdatasync
    bool reset;                 //  --reset-store: move a refused journal aside
    uint32_t pending_max;       //  records kept while flushes fail
    uint32_t checkpoint_ms;     //  checkpoint at least this often
    uint64_t journal_max;       //  or when the journal passes this, bytes
    uint32_t slice_writes;      //  writes per slice of a checkpoint (0: 1024)
    uint64_t hold_bytes;        //  wp_analyzer_log_full past this many bytes
                                //  of journal files (0: never)
} wp_analyzer_log_opts_t;

//  Open the journal and recover: what it holds past the position store
//  covers goes into store (committed), then the journal starts a new
//  generation. Returns NULL on failure, with why (a sentence naming the
//  file) and *refused (true: the journal is corrupt, of another version or
//  not readable, and was left as it is) filled.
wp_analyzer_log_t *
    wp_analyzer_log_new (wp_store_t *store, const wp_analyzer_log_opts_t *opts,
                         char *why, size_t why_size, bool *refused);

//  Close; safe on NULL; nulls *self_p. Records not flushed are lost.
void
    wp_analyzer_log_destroy (wp_analyzer_log_t **self_p);

//  A wp_analyzer_record_fn (arg: the log): append one record. Returns 0,
//  or -1 when the journal refuses it (its flushes fail): the record stays
//  dirty in the analyzer.
int
    wp_analyzer_log_record (const char *db, const void *key, size_t key_len,
                            const void *value, size_t value_len, void *arg);

//  Build one record's payload (what wp_analyzer_log_record appends) in
//  out. Returns its size; when that is above out_cap nothing is written.
size_t
    wp_analyzer_log_payload (const char *db, const void *key, size_t key_len,
                             const void *value, size_t value_len, uint8_t *out,
                             size_t out_cap);

//  Append one payload wp_analyzer_log_payload built. Returns 0, or -1
//  when the journal refuses it (its flushes fail and pending_max records
//  wait).
int
    wp_analyzer_log_append (wp_analyzer_log_t *self, const void *payload, size_t size);

//  Make the appended records durable. Returns 0 or -1 (logged; they are
//  written by the next flush).
int
    wp_analyzer_log_flush (wp_analyzer_log_t *self);

//  True when a checkpoint is due at now_ms: one is in progress, or the
//  journal holds records past the covered position and passed
//  journal_max, or checkpoint_ms passed since the last one began.
bool
    wp_analyzer_log_due (wp_analyzer_log_t *self, uint64_t now_ms);

//  True when a checkpoint is due at now_ms by time: none is in
//  progress, records are past the covered position and checkpoint_ms
//  passed since the last one began.
bool
    wp_analyzer_log_due_by_time (wp_analyzer_log_t *self, uint64_t now_ms);

//  Begin a checkpoint at now_ms (none when one is in progress or nothing
//  is past the covered position): flush, start a new generation. Returns
//  0, or -1 (logged; the journal stays as it was).
int
    wp_analyzer_log_begin (wp_analyzer_log_t *self, uint64_t now_ms);

//  Do one slice of the checkpoint in progress (a few ms). Returns 1 when
//  more remain, 0 when it is done (or none was in progress), -1 on a
//  failure (logged; it starts again from its beginning at the next step).
int
    wp_analyzer_log_step (wp_analyzer_log_t *self);

//  True while a checkpoint is in progress.
bool
    wp_analyzer_log_busy (wp_analyzer_log_t *self);

//  Checkpoint everything now (at now_ms), at once: the checkpoint in
//  progress, then the records appended since. Returns 0, or -1 (logged;
//  the journal stays and the next checkpoint applies it again).
int
    wp_analyzer_log_checkpoint (wp_analyzer_log_t *self, uint64_t now_ms);

//  Records made durable in the journal, failed flushes and records the
//  journal refused, since open.
void
    wp_analyzer_log_counts (wp_analyzer_log_t *self, uint64_t *durable,
                            uint64_t *failures, uint64_t *refused);

//  True when the journal's files (the generation appended to and the one
//  a checkpoint applies) hold hold_bytes or more: a flood outruns the
//  checkpoints, and the owner should hold records back (they stay dirty in
//  its core) until a checkpoint ends.
bool
    wp_analyzer_log_full (wp_analyzer_log_t *self);

//  Records appended and not durable yet (their flush failed or is to
//  come).
uint32_t
    wp_analyzer_log_pending (wp_analyzer_log_t *self);

//  Checkpoints done since open (the recovery's included).
uint64_t
    wp_analyzer_log_checkpoints (wp_analyzer_log_t *self);

#ifdef __cplusplus
}
#endif

#endif
