/*  =========================================================================
    wp_journal - an append-only journal of records: one write and one
    fdatasync per flush, replayed at start up to a torn tail.

    The owner appends records (opaque bytes) into a buffer and calls
    wp_journal_flush, which writes them at the end of the file in one
    write and makes them durable with one fdatasync (none with nosync).
    A crash therefore loses at most the records appended since the last
    flush. A checkpoint elsewhere (the owner's LMDB) covers the journal up
    to a position (generation, offset); wp_journal_rotate then starts a new
    generation, empty, so the file stays small. wp_journal_rotate_aside
    starts it before the checkpoint, the old generation renamed, so that
    appends go on while the checkpoint reads the old one.

    File format, version 1, integers big-endian:
        header (32 bytes)
            "WPJOURNL"          magic (8 bytes)
            u32 version         1
            u32 header size     32
            u64 generation      a new one for every rotation
            u32 reserved        0
            u32 crc32           of the 28 bytes before it
        records, each
            u32 length          of the payload (1 .. WP_JOURNAL_RECORD_MAX)
            u32 crc32           of the next 8 bytes and the payload
            u64 flush offset    where the flush that wrote it began
            payload

    Reading (wp_journal_open) checks every record. A record cut short, or
    one that fails its checksum where nothing after it was written by a
    later flush, is a torn tail: the last flush did not complete (a crash
    during its write or before its fdatasync). It is cut, and the bytes
    dropped are logged. A record that fails where a later flush's record
    follows is corruption in the middle: the open fails, naming the file
    and the offset. A magic or header checksum that does not match, or a
    version this build does not read, fails the open alike.
    =========================================================================
*/

#ifndef WP_JOURNAL_H_INCLUDED
#define WP_JOURNAL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Format version this code writes and reads.
#define WP_JOURNAL_VERSION 1

//  Bytes of the file header and of a record's header.
#define WP_JOURNAL_HEADER 32
#define WP_JOURNAL_RECORD_HEADER 16

//  Largest payload of one record.
#define WP_JOURNAL_RECORD_MAX (1u << 20)

typedef struct _wp_journal_t wp_journal_t;

//  Why an open failed.
typedef enum {
    WP_JOURNAL_FAIL_NONE = 0,
    WP_JOURNAL_FAIL_IO,         //  cannot create, read or write the file
    WP_JOURNAL_FAIL_CORRUPT,    //  bad magic, header or a record in the middle
    WP_JOURNAL_FAIL_VERSION     //  a format version this build does not read
} wp_journal_fail_t;

//  Options; zero fields take the defaults.
typedef struct {
    bool nosync;                //  no fdatasync (survives a process crash,
                                //  not an OS crash)
    uint64_t generation;        //  generation of a file created now
    uint32_t pending_max;       //  records kept while flushes fail; more
                                //  are refused (default 16000)
} wp_journal_opts_t;

//  Called for each record by wp_journal_replay: payload and its length,
//  the record's offset. Return 0 to go on, non-zero to stop.
typedef int (wp_journal_fn) (const void *data, size_t size, uint64_t offset, void *arg);

//  Open the journal at path, creating it (with opts->generation) when
//  missing or empty. Checks every record, cuts a torn tail (logged with
//  the bytes dropped). Returns NULL on failure with *fail and why (one
//  sentence naming the file and, for a bad record, its offset) filled.
wp_journal_t *
    wp_journal_open (const char *path, const wp_journal_opts_t *opts,
                     wp_journal_fail_t *fail, char *why, size_t why_size);

//  Move a refused journal at path aside: it becomes
//  <path>.corrupt-<UTC time>, so the next open starts empty. The new name
//  goes into moved (may be NULL). Returns 0, 1 when there was no file, or
//  -1 (logged).
int
    wp_journal_set_aside (const char *path, char *moved, size_t moved_size);

//  Close; safe on NULL; nulls *self_p. Records not flushed are lost.
void
    wp_journal_destroy (wp_journal_t **self_p);

//  The file's generation.
uint64_t
    wp_journal_generation (wp_journal_t *self);

//  Bytes in the file (header and flushed records).
uint64_t
    wp_journal_size (wp_journal_t *self);

//  Bytes a torn tail had when the journal was opened (0: none).
uint64_t
    wp_journal_torn (wp_journal_t *self);

//  Append a record (copied) to the buffer of the next flush. Returns 0,
//  or -1 when it is too large (asserted: a programming error) or refused
//  (pending_max records wait while flushes fail; counted).
int
    wp_journal_append (wp_journal_t *self, const void *data, size_t size);

//  Records appended and not flushed yet.
uint32_t
    wp_journal_pending (wp_journal_t *self);

//  Write the appended records and make them durable. Returns 0 (also
//  when there was nothing), or -1 (logged once per run of failures,
//  naming the file; the records stay and are written by the next flush).
int
    wp_journal_flush (wp_journal_t *self);

//  Call fn for every record from offset `from` (a record boundary, at
//  least WP_JOURNAL_HEADER) to the end of what was flushed. Returns 0,
//  -1 on a read error or a record that does not check (logged), or fn's
//  non-zero return.
int
    wp_journal_replay (wp_journal_t *self, uint64_t from, wp_journal_fn *fn, void *arg);

//  As wp_journal_replay, without computing the checksums (the lengths are
//  followed; a length that leaves the file is an error): for an index of
//  records that are then read back, checked, with wp_journal_read.
int
    wp_journal_scan (wp_journal_t *self, uint64_t from, wp_journal_fn *fn, void *arg);

//  Read the record at offset (as wp_journal_replay gave it) into buffer
//  (its payload, at most capacity bytes); *size gets the payload's length.
//  Returns 0, or -1 (logged) when it cannot be read, does not check, or is
//  larger than capacity.
int
    wp_journal_read (wp_journal_t *self, uint64_t offset, void *buffer, size_t capacity,
                     size_t *size);

//  Start the next generation: an empty file replaces this one (written,
//  synced, renamed over it). Records appended and not flushed are kept
//  for the next flush. Returns 0, or -1 (logged; the old file stays).
int
    wp_journal_rotate (wp_journal_t *self);

//  Start the next generation as wp_journal_rotate does, the current file
//  moved to aside first (renamed; a file there is replaced): a checkpoint
//  of it can then run while records are appended to the next. Returns the
//  old generation (the caller's to destroy: its flushed records, for
//  wp_journal_scan/replay/read; records appended and not flushed stay
//  with self), or NULL (logged; the current file stays where it was).
wp_journal_t *
    wp_journal_rotate_aside (wp_journal_t *self, const char *aside);

//  Records made durable, failed flushes and refused records since open.
uint64_t
    wp_journal_durable (wp_journal_t *self);
uint64_t
    wp_journal_failures (wp_journal_t *self);
uint64_t
    wp_journal_refused (wp_journal_t *self);

#ifdef __cplusplus
}
#endif

#endif
