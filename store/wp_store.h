/*  =========================================================================
    wp_store - the LMDB wrapper: one owner per environment, batched commits,
    map growth on MDB_MAP_FULL, stale-reader check, schema version.

    One process (one actor) owns an environment. Writes go into a batch
    (one open write transaction); the batch commits when it holds
    `batch_max` writes or when the owner calls wp_store_flush (the actors
    call it every `flush_ms`). A crash therefore loses at most the writes
    of the open batch: at most batch_max records or flush_ms of updates.

    Every value is stored behind a 4-byte record header: the 16-bit
    record version given by the caller and 16 reserved bits, so readers can
    tell old records from new ones: a component reads every older version
    of its records and writes the newest.

    The environment itself carries a schema number (the layout of the
    environment, not of one record) in its "meta" database. Opening an
    environment of an older schema migrates it to WP_STORE_SCHEMA in one
    write transaction (all or nothing: a crash during it leaves the old
    schema) and logs it; one of a newer schema is refused with a message
    naming the path, both numbers and what to do. Schemas:
      1  meta holds "schema"
      2  meta also holds "owner": the component whose environment it is;
         opening it for another component fails (a volume or a backup in
         the wrong folder), opening it for none does not check
    =========================================================================
*/

#ifndef WP_STORE_H_INCLUDED
#define WP_STORE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Schema number of every environment this code writes, and the oldest
//  it migrates from.
#define WP_STORE_SCHEMA 2
#define WP_STORE_SCHEMA_MIN 1

typedef struct _wp_store_t wp_store_t;

//  Options for wp_store_new; zero fields take the defaults.
typedef struct {
    size_t map_size;      // initial map size in bytes (default 16 MiB);
                          // doubled on MDB_MAP_FULL up to map_max
    size_t map_max;       // largest map size in bytes (default 8 GiB)
    unsigned batch_max;   // writes per batch before an automatic commit
                          // (default 1000)
    bool nosync;          // MDB_NOSYNC: faster, loses durability on OS crash
                          // (not on process crash); default false
    unsigned max_dbs;     // named databases (default 16)
    const char *owner;    // the component that owns the environment
                          // (recorded; another is refused), or NULL
} wp_store_opts_t;

//  What wp_store_inspect found in an environment.
typedef struct {
    uint32_t schema;      // its schema number (0: no meta, not ours)
    char owner [64];      // its recorded owner, "" when none
    size_t map_size;      // its map size in bytes
    size_t used_bytes;    // pages in use, in bytes
} wp_store_info_t;

//  Called by wp_store_inspect for each (database, record version) found:
//  `records` of them. db is borrowed for the call.
typedef void (wp_store_db_fn) (const char *db, uint16_t version,
                               uint64_t records, void *arg);

//  Called for each record by wp_store_iterate. key/value are valid only
//  during the call. Return 0 to go on, non-zero to stop the iteration.
typedef int (wp_store_fn) (const void *key, size_t key_len,
                           const void *value, size_t value_len,
                           uint16_t version, void *arg);

//  Why an open failed (wp_store_open).
typedef enum {
    WP_STORE_FAIL_NONE = 0,
    WP_STORE_FAIL_OTHER,      // anything else (out of memory, bad options)
    WP_STORE_FAIL_CORRUPT,    // data.mdb is not LMDB, truncated, or corrupt:
                              // refused; wp_store_set_aside moves it away
    WP_STORE_FAIL_ACCESS,     // the directory or file is not writable
    WP_STORE_FAIL_FULL,       // the file system is full
    WP_STORE_FAIL_SCHEMA,     // a store schema this build does not read
    WP_STORE_FAIL_OWNER       // another component's environment
} wp_store_fail_t;

//  What wp_store_open says of a failure.
typedef struct {
    wp_store_fail_t kind;
    char why [700];           // one sentence naming the file and what to do
} wp_store_failure_t;

//  Open (creating if needed) the environment in directory `path` (created
//  if missing). Runs mdb_reader_check. opts may be NULL. Returns NULL and
//  logs why (naming the path) on failure. A data.mdb shorter than its
//  meta page says is refused as truncated (LMDB would die of SIGBUS on
//  the missing pages); garbage inside a whole file is found when read.
wp_store_t *
    wp_store_new (const char *path, const wp_store_opts_t *opts);

//  As wp_store_new; on failure also fills *failure (may be NULL) with
//  its kind and the sentence logged.
wp_store_t *
    wp_store_open (const char *path, const wp_store_opts_t *opts,
                   wp_store_failure_t *failure);

//  Move the environment of `path` aside (a refused, corrupt one): its
//  data.mdb becomes data.mdb.corrupt-<UTC time> beside it and lock.mdb is
//  removed, so the next open starts empty. The new name goes into moved
//  (may be NULL). Returns 0, 1 when there was no data.mdb, or -1 (logged).
int
    wp_store_set_aside (const char *path, char *moved, size_t moved_size);

//  Commit any open batch, close the environment, free it; nulls *self_p.
//  Safe on NULL.
void
    wp_store_destroy (wp_store_t **self_p);

//  Put a record into database `db` (created on first use) in the current
//  batch. The value is copied. Commits automatically when the batch is
//  full. Grows the map and retries on MDB_MAP_FULL. Returns 0 or -1.
int
    wp_store_put (wp_store_t *self, const char *db, const void *key,
                  size_t key_len, const void *value, size_t value_len,
                  uint16_t version);

//  Delete a record in the current batch. Deleting a missing key is 0.
int
    wp_store_del (wp_store_t *self, const char *db, const void *key,
                  size_t key_len);

//  Read a record (seeing writes of the open batch). Copies at most
//  `capacity` bytes of the value into `buffer`, sets *value_len to the
//  full length and *version to its record version (either may be NULL).
//  Returns 0 when found, 1 when not found, -1 on error (including a value
//  longer than capacity, which is logged).
int
    wp_store_get (wp_store_t *self, const char *db, const void *key,
                  size_t key_len, void *buffer, size_t capacity,
                  size_t *value_len, uint16_t *version);

//  Call fn for each record of `db` in key order (seeing the open batch).
//  A missing database has no records. Returns 0, or -1 on error, or the
//  callback's non-zero return.
int
    wp_store_iterate (wp_store_t *self, const char *db, wp_store_fn *fn,
                      void *arg);

//  Commit the open batch, if any. Returns 0 or -1 (the batch is kept in
//  memory and retried on the next flush after a transient failure).
int
    wp_store_flush (wp_store_t *self);

//  Records committed durably since the store was opened.
uint64_t
    wp_store_committed (wp_store_t *self);

//  Writes refused since open, and so lost: the map at map_max, or the
//  batch at its cap (16 x batch_max) while commits keep failing.
uint64_t
    wp_store_refused (wp_store_t *self);

//  Commits that failed since open (a full disk, an I/O error); their
//  writes stay in the batch and are retried at the next flush.
uint64_t
    wp_store_commit_failures (wp_store_t *self);

//  Change the writes per batch (an owner that writes in bulk, such as a
//  checkpoint, commits fewer and larger transactions: a page changed by
//  several writes of one batch is written once). The cap of writes kept
//  while commits fail follows (16 x batch_max). Returns the previous one.
unsigned
    wp_store_set_batch_max (wp_store_t *self, unsigned batch_max);

//  Writes waiting in the open batch.
unsigned
    wp_store_pending (wp_store_t *self);

//  Drop the map's pages from the process's resident set: LMDB reads
//  through a read-only shared map, so what it touched stays in the RSS;
//  the pages stay in the kernel's page cache and are mapped again when
//  read. The store does this by itself every 4,096 records committed or
//  read; call it when the owner goes quiet. Returns 0 or -1.
int
    wp_store_release (wp_store_t *self);

//  Current map size in bytes.
size_t
    wp_store_map_size (wp_store_t *self);

//  Read an environment without changing it (no migration; the owner may
//  be running): fills *info, and calls fn (may be NULL) per database and
//  record version. Returns 0, or -1 (logged, naming the path) when `path`
//  holds no readable environment.
int
    wp_store_inspect (const char *path, wp_store_info_t *info,
                      wp_store_db_fn *fn, void *arg);

//  Write a consistent, compacted copy of the environment in `path` into
//  the directory `dest` (created; it must not hold an environment), also
//  while its owner runs and writes. Returns 0, or -1 (logged).
int
    wp_store_backup (const char *path, const char *dest);

#ifdef __cplusplus
}
#endif

#endif
