/*  =========================================================================
    wp_store - the LMDB wrapper: one owner per environment, batched commits,
    map growth on MDB_MAP_FULL, stale-reader check, schema version.
    =========================================================================
*/

/*
@header
    wp_store owns one LMDB environment for one thread. Writes go into "the
    batch": a single write transaction that stays open until batch_max
    writes have gone into it or the owner calls wp_store_flush. Reads use
    that transaction while it is open, so they see the batch's writes;
    otherwise they use a short read-only transaction.
@discuss
    Every write of the open batch is also kept in memory (key and stored
    value, copied) until the batch commits. When LMDB answers MDB_MAP_FULL,
    from a put or from the commit, the transaction is aborted, the map is
    doubled (never beyond map_max), a new transaction is begun and the kept
    writes are replayed into it. The same replay brings the batch back
    after a commit that failed for another reason: nothing the caller was
    told is in the batch is dropped while the store is open.

    Named databases are opened lazily and cached by name in a table of
    max_dbs slots. A handle opened inside a transaction that then aborts
    is invalid, so each slot remembers which transaction opened it until
    that transaction commits.

    The database "meta" is reserved: it holds key "schema", the schema
    number as a big-endian u32, and (schema 2) key "owner", the owner
    component's name. Callers cannot write to it. A change of schema adds
    one step to s_migrations, run at open inside the transaction that
    checks the schema.

    A wp_store_fn callback must not call wp_store_put, _del, _flush or
    _iterate on the same store (asserted); it may call wp_store_get.
@end
*/

#include "wp_store.h"

#include <czmq.h>
#include <lmdb.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#define S_MB                ((size_t) 1 << 20)
#define S_DEFAULT_MAP_SIZE  (16 * S_MB)
#if SIZE_MAX > 0xffffffffu
#   define S_DEFAULT_MAP_MAX   ((size_t) 8 << 30)
#else
#   define S_DEFAULT_MAP_MAX   ((size_t) 1 << 30)
#endif
#define S_DEFAULT_BATCH_MAX 1000
#define S_DEFAULT_MAX_DBS   16
//  Records committed or read between two releases of the map's pages from
//  the process (s_map_release): what LMDB touched through its read-only
//  map stays resident until then (a checkpoint's puts or an iterate at
//  start touch every leaf: the whole file otherwise stays in the RSS).
#define S_RELEASE_RECORDS   4096
#define S_MAX_READERS       16      //  the owner plus a few inspection tools
#define S_HEADER_SIZE       4       //  u16 record version + u16 reserved
#define S_META_DB           "meta"
#define S_SCHEMA_KEY        "schema"
#define S_OWNER_KEY         "owner"
#define S_OWNER_MAX         63      //  longest owner name, bytes

//  One write of the open batch, kept until the batch commits
typedef struct {
    bool is_put;                //  true for a put, false for a delete
    size_t slot;                //  index of its database in self->dbs
    size_t key_len;             //  key length in bytes
    size_t value_len;           //  stored value length, header included
    byte *data;                 //  key, then the stored value (one block)
} s_op_t;

//  A named database the owner has used
typedef struct {
    char *name;                 //  database name; NULL marks a free slot
    MDB_dbi dbi;                //  LMDB handle, meaningful when is_open
    bool is_open;               //  dbi is a live handle
    MDB_txn *opener;            //  transaction that opened dbi and has not
                                //  committed yet; NULL once it is shared
} s_db_t;

//  Structure of our class
struct _wp_store_t {
    char *path;                 //  environment directory, for messages
    char *owner;                //  owner component, or NULL
    MDB_env *env;               //  the LMDB environment
    MDB_dbi meta_dbi;           //  handle of the "meta" database
    size_t map_size;            //  current map size in bytes
    size_t map_max;             //  map never grows beyond this
    unsigned batch_max;         //  writes per batch before auto-commit
    size_t max_key;             //  largest key LMDB accepts
    s_db_t *dbs;                //  named databases, max_dbs slots
    unsigned max_dbs;           //  number of slots in dbs
    MDB_txn *txn;               //  the open batch, or NULL
    s_op_t *ops;                //  writes of the batch, in order
    size_t ops_count;           //  number of writes in ops
    size_t ops_size;            //  allocated slots in ops
    MDB_txn *read_txn;          //  read-only txn of a running iterate
    bool iterating;             //  an iterate callback is running
    uint64_t committed;         //  writes committed since open
    uint64_t refused;           //  writes refused (lost): map at map_max,
                                //  or the kept batch at its cap
    uint64_t commit_failures;   //  commits that failed (disk full, I/O)
    uint64_t touched;           //  records committed or read since the
                                //  map's pages were last released
    size_t ops_cap;             //  writes kept uncommitted at most
    wp_store_failure_t *failure;//  while opening: where to say why it failed
};

//  Writes kept uncommitted at most, in batches: when commits keep failing
//  (a full disk) the batch waits in memory up to this, then new writes
//  are refused and counted, so memory stays bounded.
#define S_OPS_CAP_BATCHES 16


//  --------------------------------------------------------------------------
//  Write a 16-bit value big-endian

static void
s_put_u16 (byte *dest, uint16_t value)
{
    dest [0] = (byte) (value >> 8);
    dest [1] = (byte) value;
}


//  --------------------------------------------------------------------------
//  Read a 16-bit big-endian value

static uint16_t
s_get_u16 (const byte *src)
{
    return (uint16_t) ((src [0] << 8) | src [1]);
}


//  --------------------------------------------------------------------------
//  Write a 32-bit value big-endian

static void
s_put_u32 (byte *dest, uint32_t value)
{
    dest [0] = (byte) (value >> 24);
    dest [1] = (byte) (value >> 16);
    dest [2] = (byte) (value >> 8);
    dest [3] = (byte) value;
}


//  --------------------------------------------------------------------------
//  Read a 32-bit big-endian value

static uint32_t
s_get_u32 (const byte *src)
{
    return ((uint32_t) src [0] << 24) | ((uint32_t) src [1] << 16)
         | ((uint32_t) src [2] << 8) | (uint32_t) src [3];
}


//  --------------------------------------------------------------------------
//  Log why an open failed and, when the caller asked, record it (the first
//  reason only: it is the most precise).

static void
s_fail (wp_store_failure_t *failure, wp_store_fail_t kind, const char *format, ...)
{
    char text [sizeof (failure->why)];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    zsys_error ("wp_store: %s", text);
    if (failure && failure->kind == WP_STORE_FAIL_NONE) {
        failure->kind = kind;
        snprintf (failure->why, sizeof failure->why, "%s", text);
    }
}


//  --------------------------------------------------------------------------
//  True for the occurrences of a repeated error worth logging: the first
//  ten, then every thousandth

static bool
s_log_should (uint64_t count)
{
    return count <= 10 || count % 1000 == 0;
}


//  --------------------------------------------------------------------------
//  The kind of failure an errno means at open

static wp_store_fail_t
s_errno_kind (int code)
{
    if (code == EACCES || code == EPERM || code == EROFS)
        return WP_STORE_FAIL_ACCESS;
    if (code == ENOSPC || code == EDQUOT)
        return WP_STORE_FAIL_FULL;
    return WP_STORE_FAIL_OTHER;
}


//  --------------------------------------------------------------------------
//  Record an open failure of `path` caused by errno-like `code` (an LMDB
//  code too), with what an operator does about it.

static void
s_fail_code (wp_store_failure_t *failure, const char *path, const char *what, int code)
{
    wp_store_fail_t kind = s_errno_kind (code);
    if (kind == WP_STORE_FAIL_ACCESS)
        s_fail (failure, kind, "%s: %s: %s: the service's user cannot write there; give "
                "it write access (chown, chmod, a writable volume) or choose another "
                "store/data_dir (--data-dir)", path, what, mdb_strerror (code));
    else
    if (kind == WP_STORE_FAIL_FULL)
        s_fail (failure, kind, "%s: %s: %s: the file system holding it is full; free "
                "space there (df -h %s) or move store/data_dir", path, what,
                mdb_strerror (code), path);
    else
    if (code == MDB_INVALID || code == MDB_VERSION_MISMATCH || code == MDB_CORRUPTED
        || code == MDB_PAGE_NOTFOUND)
        s_fail (failure, WP_STORE_FAIL_CORRUPT, "%s/data.mdb: %s: %s: not a usable LMDB "
                "environment (corrupt, truncated or another file)", path, what,
                mdb_strerror (code));
    else
        s_fail (failure, WP_STORE_FAIL_OTHER, "%s: %s: %s", path, what, mdb_strerror (code));
}


//  --------------------------------------------------------------------------
//  Create directory `path` and its missing parents; 0 when it exists as a
//  directory afterwards, else -1 (logged).

static int
s_make_dir (const char *path, wp_store_failure_t *failure)
{
    char *copy = strdup (path);
    if (!copy) {
        zsys_error ("wp_store: %s: out of memory", path);
        return -1;
    }
    for (char *slash = strchr (copy + 1, '/'); slash;
         slash = strchr (slash + 1, '/')) {
        *slash = 0;
        if (mkdir (copy, 0775) && errno != EEXIST) {
            int code = errno;
            char what [300];
            snprintf (what, sizeof what, "cannot create directory %s", copy);
            s_fail_code (failure, path, what, code);
            freen (copy);
            return -1;
        }
        *slash = '/';
    }
    freen (copy);
    if (mkdir (path, 0775) && errno != EEXIST) {
        s_fail_code (failure, path, "cannot create the directory", errno);
        return -1;
    }
    struct stat st;
    if (stat (path, &st)) {
        s_fail_code (failure, path, "stat", errno);
        return -1;
    }
    if (!S_ISDIR (st.st_mode)) {
        s_fail (failure, WP_STORE_FAIL_OTHER, "%s: not a directory: remove or rename "
                "it, or choose another store/data_dir (--data-dir)", path);
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  True when `path` holds no environment yet (no data file, or an empty one)

static bool
s_env_is_new (const char *path)
{
    char *file = zsys_sprintf ("%s/data.mdb", path);
    if (!file)
        return true;
    struct stat st;
    bool is_new = stat (file, &st) != 0 || st.st_size == 0;
    zstr_free (&file);
    return is_new;
}


//  --------------------------------------------------------------------------
//  Read the map size LMDB is using into self->map_size

static void
s_read_map_size (wp_store_t *self)
{
    MDB_envinfo info;
    int rc = mdb_env_info (self->env, &info);
    assert (rc == 0);           //  only fails on a NULL argument
    self->map_size = info.me_mapsize;
}


//  --------------------------------------------------------------------------
//  Put a meta record (key: a string) in txn; returns an LMDB error code

static int
s_meta_put (wp_store_t *self, MDB_txn *txn, const char *name, const void *data,
            size_t size)
{
    MDB_val key = { strlen (name), (void *) name };
    MDB_val value = { size, (void *) data };
    return mdb_put (txn, self->meta_dbi, &key, &value, 0);
}


//  --------------------------------------------------------------------------
//  Schema 1 -> 2: record the owner (when the store is opened with one), so
//  that another component's environment in this folder is refused, not
//  read as garbage

static int
s_migrate_owner (wp_store_t *self, MDB_txn *txn)
{
    return self->owner ? s_meta_put (self, txn, S_OWNER_KEY, self->owner,
                                     strlen (self->owner))
                       : 0;
}


//  One step of the environment's format: from schema `from` to from + 1,
//  inside the transaction of the open
typedef struct {
    uint32_t from;              //  schema it starts from
    const char *what;           //  what it does, for the log
    int (*fn) (wp_store_t *self, MDB_txn *txn); //  0 or an LMDB error
} s_migration_t;

static const s_migration_t s_migrations [] = {
    { 1, "records the owner component in meta", s_migrate_owner },
};

_Static_assert (sizeof (s_migrations) / sizeof (s_migrations [0])
                == WP_STORE_SCHEMA - WP_STORE_SCHEMA_MIN,
                "one migration per schema step");


//  --------------------------------------------------------------------------
//  Check the owner recorded in meta against self->owner, recording it when
//  none is. Returns 0, -1 (logged) when another owns the environment, or
//  an LMDB error code

static int
s_owner_check (wp_store_t *self, MDB_txn *txn)
{
    if (!self->owner)
        return 0;
    MDB_val key = { strlen (S_OWNER_KEY), (void *) S_OWNER_KEY };
    MDB_val value;
    int rc = mdb_get (txn, self->meta_dbi, &key, &value);
    if (rc == MDB_NOTFOUND)
        return s_meta_put (self, txn, S_OWNER_KEY, self->owner,
                           strlen (self->owner));
    if (rc)
        return rc;
    if (value.mv_size != strlen (self->owner)
    ||  memcmp (value.mv_data, self->owner, value.mv_size) != 0) {
        s_fail (self->failure, WP_STORE_FAIL_OWNER, "%s: this environment belongs to component "
                    "'%.*s', not '%s' (another component's folder, volume or "
                    "backup?); refusing to open",
                    self->path, (int) (value.mv_size < 64 ? value.mv_size : 64),
                    (const char *) value.mv_data, self->owner);
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Check the schema number in "meta": write it (and the owner) into a new
//  environment, migrate an older one, refuse a newer one. Returns 0, or -1
//  (logged) on a refusal or an LMDB error.

static int
s_schema_check (wp_store_t *self)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc) {
        s_fail_code (self->failure, self->path, "cannot begin a transaction", rc);
        return -1;
    }
    rc = mdb_dbi_open (txn, S_META_DB, MDB_CREATE, &self->meta_dbi);
    MDB_val key = { strlen (S_SCHEMA_KEY), (void *) S_SCHEMA_KEY };
    MDB_val value;
    uint32_t schema = WP_STORE_SCHEMA;
    if (rc == 0)
        rc = mdb_get (txn, self->meta_dbi, &key, &value);
    if (rc == MDB_NOTFOUND) {
        //  A new environment: this schema, and its owner
        byte number [4];
        s_put_u32 (number, WP_STORE_SCHEMA);
        rc = s_meta_put (self, txn, S_SCHEMA_KEY, number, sizeof (number));
    }
    else
    if (rc == 0) {
        if (value.mv_size != 4) {
            s_fail (self->failure, WP_STORE_FAIL_CORRUPT, "%s/data.mdb: corrupt schema "
                    "record (%zu bytes)", self->path, value.mv_size);
            mdb_txn_abort (txn);
            return -1;
        }
        schema = s_get_u32 ((const byte *) value.mv_data);
        if (schema > WP_STORE_SCHEMA || schema < WP_STORE_SCHEMA_MIN) {
            s_fail (self->failure, WP_STORE_FAIL_SCHEMA, "%s: environment has store schema %u, this "
                        "program reads schemas %u to %u; refusing to open. %s",
                        self->path, schema, WP_STORE_SCHEMA_MIN, WP_STORE_SCHEMA,
                        schema > WP_STORE_SCHEMA
                        ? "It was written by a newer warmup: run that version "
                          "(or a newer one), or restore the backup taken "
                          "before the upgrade (docs/operations.md, Upgrading)"
                        : "It is older than any this program migrates");
            mdb_txn_abort (txn);
            return -1;
        }
        //  Migrate, step by step, in this one transaction
        for (uint32_t from = schema; rc == 0 && from < WP_STORE_SCHEMA; from++) {
            const s_migration_t *step = &s_migrations [from - WP_STORE_SCHEMA_MIN];
            assert (step->from == from);
            rc = step->fn (self, txn);
            if (rc == 0)
                zsys_info ("wp_store: %s: store schema %u -> %u: %s",
                           self->path, from, from + 1, step->what);
        }
        if (rc == 0 && schema < WP_STORE_SCHEMA) {
            byte number [4];
            s_put_u32 (number, WP_STORE_SCHEMA);
            rc = s_meta_put (self, txn, S_SCHEMA_KEY, number, sizeof (number));
        }
    }
    if (rc == 0) {
        rc = s_owner_check (self, txn);
        if (rc < 0) {
            mdb_txn_abort (txn);
            return -1;
        }
    }
    if (rc == 0)
        rc = mdb_txn_commit (txn);
    else
        mdb_txn_abort (txn);
    if (rc) {
        s_fail_code (self->failure, self->path, "cannot write the store schema", rc);
        return -1;
    }
    if (schema < WP_STORE_SCHEMA)
        zsys_warning ("wp_store: %s: migrated from store schema %u to %u; "
                      "older versions of warmup no longer open it",
                      self->path, schema, WP_STORE_SCHEMA);
    return 0;
}


//  --------------------------------------------------------------------------
//  Refuse a data file shorter than the pages its meta page says are in
//  use (a truncated copy, a disk that filled during a copy): LMDB would
//  map the missing pages and the process would die of SIGBUS reading
//  them. Returns 0, or -1 (recorded as corrupt).

static int
s_size_check (wp_store_t *self)
{
    MDB_envinfo info;
    MDB_stat stat_info;
    if (mdb_env_info (self->env, &info) || mdb_env_stat (self->env, &stat_info))
        return 0;
    char *file = zsys_sprintf ("%s/data.mdb", self->path);
    struct stat st;
    int rc = 0;
    uint64_t needed = ((uint64_t) info.me_last_pgno + 1) * stat_info.ms_psize;
    if (file && stat (file, &st) == 0 && (uint64_t) st.st_size < needed) {
        s_fail (self->failure, WP_STORE_FAIL_CORRUPT, "%s: truncated: %" PRIu64 " bytes, "
                "its last committed page needs %" PRIu64 " (a partial copy or restore?)",
                file, (uint64_t) st.st_size, needed);
        rc = -1;
    }
    zstr_free (&file);
    return rc;
}


//  --------------------------------------------------------------------------
//  Open the LMDB environment of a new store; returns 0 or -1 (logged)

static int
s_env_open (wp_store_t *self, size_t map_size, bool nosync)
{
    int rc = mdb_env_create (&self->env);
    if (rc) {
        zsys_error ("wp_store: %s: mdb_env_create: %s", self->path,
                    mdb_strerror (rc));
        self->env = NULL;
        return -1;
    }
    //  A new environment takes map_size now; an existing one keeps the
    //  size stored in it (LMDB's choice when none is set) unless that is
    //  smaller than map_size.
    bool is_new = s_env_is_new (self->path);
    rc = mdb_env_set_maxreaders (self->env, S_MAX_READERS);
    if (rc == 0)
        rc = mdb_env_set_maxdbs (self->env, self->max_dbs + 1);
    if (rc == 0 && is_new)
        rc = mdb_env_set_mapsize (self->env, map_size);
    if (rc == 0)
        rc = mdb_env_open (self->env, self->path, nosync ? MDB_NOSYNC : 0,
                           0664);
    if (rc) {
        s_fail_code (self->failure, self->path, "cannot open the environment", rc);
        return -1;
    }
    if (s_size_check (self))
        return -1;
    int dead = 0;
    rc = mdb_reader_check (self->env, &dead);
    if (rc) {
        s_fail_code (self->failure, self->path, "mdb_reader_check", rc);
        return -1;
    }
    if (dead > 0)
        zsys_warning ("wp_store: %s: cleared %d stale reader slot(s)",
                      self->path, dead);
    s_read_map_size (self);
    if (self->map_size < map_size) {
        rc = mdb_env_set_mapsize (self->env, map_size);
        if (rc) {
            zsys_error ("wp_store: %s: cannot set map size to %zu: %s",
                        self->path, map_size, mdb_strerror (rc));
            return -1;
        }
        s_read_map_size (self);
    }
    int max_key = mdb_env_get_maxkeysize (self->env);
    assert (max_key > 0);
    self->max_key = (size_t) max_key;
    return s_schema_check (self);
}


//  --------------------------------------------------------------------------
//  Open (creating if needed) the environment in directory `path`.
//  Returns NULL and logs why (naming the path) on failure.

wp_store_t *
wp_store_new (const char *path, const wp_store_opts_t *opts)
{
    return wp_store_open (path, opts, NULL);
}


//  --------------------------------------------------------------------------
//  As wp_store_new; on failure also fills *failure (may be NULL).

wp_store_t *
wp_store_open (const char *path, const wp_store_opts_t *opts, wp_store_failure_t *failure)
{
    assert (path);
    if (failure) {
        failure->kind = WP_STORE_FAIL_NONE;
        failure->why [0] = 0;
    }
    wp_store_opts_t o = { 0 };
    if (opts)
        o = *opts;
    if (!o.map_size)
        o.map_size = S_DEFAULT_MAP_SIZE;
    if (!o.map_max)
        o.map_max = S_DEFAULT_MAP_MAX;
    if (!o.batch_max)
        o.batch_max = S_DEFAULT_BATCH_MAX;
    if (!o.max_dbs)
        o.max_dbs = S_DEFAULT_MAX_DBS;

    //  LMDB wants map sizes in whole OS pages
    size_t page = (size_t) sysconf (_SC_PAGESIZE);
    if (o.map_size % page)
        o.map_size += page - o.map_size % page;
    o.map_max -= o.map_max % page;
    if (o.map_size > o.map_max) {
        s_fail (failure, WP_STORE_FAIL_OTHER, "%s: map_size %zu is larger than map_max %zu",
                path, o.map_size, o.map_max);
        return NULL;
    }
    if (o.max_dbs > 10000) {
        zsys_error ("wp_store: %s: max_dbs %u is too large", path, o.max_dbs);
        return NULL;
    }
    if (o.owner && (!*o.owner || strlen (o.owner) > S_OWNER_MAX)) {
        zsys_error ("wp_store: %s: bad owner name", path);
        return NULL;
    }
    if (s_make_dir (path, failure))
        return NULL;

    wp_store_t *self = (wp_store_t *) calloc (1, sizeof (wp_store_t));
    if (self) {
        self->path = strdup (path);
        self->owner = o.owner ? strdup (o.owner) : NULL;
        self->dbs = (s_db_t *) calloc (o.max_dbs, sizeof (s_db_t));
    }
    if (!self || !self->path || !self->dbs || (o.owner && !self->owner)) {
        zsys_error ("wp_store: %s: out of memory", path);
        wp_store_destroy (&self);
        return NULL;
    }
    self->map_max = o.map_max;
    self->batch_max = o.batch_max;
    self->ops_cap = (size_t) o.batch_max * S_OPS_CAP_BATCHES;
    self->max_dbs = o.max_dbs;
    self->failure = failure;
    if (s_env_open (self, o.map_size, o.nosync))
        wp_store_destroy (&self);
    else
        self->failure = NULL;
    return self;
}


//  --------------------------------------------------------------------------
//  Forget the handles a transaction opened, or make them shared when it
//  committed; call after every commit or abort.

static void
s_txn_ended (wp_store_t *self, MDB_txn *txn, bool committed)
{
    for (unsigned slot = 0; slot < self->max_dbs; slot++) {
        s_db_t *db = &self->dbs [slot];
        if (db->is_open && db->opener == txn) {
            db->opener = NULL;
            if (!committed)
                db->is_open = false;
        }
    }
}


//  --------------------------------------------------------------------------
//  Abort the open batch transaction; the batch's writes stay in self->ops

static void
s_batch_abort (wp_store_t *self)
{
    if (self->txn) {
        mdb_txn_abort (self->txn);
        s_txn_ended (self, self->txn, false);
        self->txn = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Free the kept writes of the batch

static void
s_ops_clear (wp_store_t *self)
{
    for (size_t index = 0; index < self->ops_count; index++)
        freen (self->ops [index].data);
    self->ops_count = 0;
}


//  --------------------------------------------------------------------------
//  Commit any open batch, close the environment, free the store; nulls
//  *self_p. Safe on NULL. Writes that cannot be committed are logged lost.

void
wp_store_destroy (wp_store_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        wp_store_t *self = *self_p;
        assert (!self->iterating);
        if (self->env) {
            if (wp_store_flush (self))
                zsys_error ("wp_store: %s: closing with %zu uncommitted "
                            "write(s); they are lost",
                            self->path, self->ops_count);
            s_batch_abort (self);
            mdb_env_close (self->env);
        }
        s_ops_clear (self);
        freen (self->ops);
        if (self->dbs)
            for (unsigned slot = 0; slot < self->max_dbs; slot++)
                freen (self->dbs [slot].name);
        freen (self->dbs);
        freen (self->path);
        freen (self->owner);
        freen (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Find or take the slot of database `name`. Returns its index, or -1
//  (logged) when the name is reserved or the table is full.

static int
s_db_slot (wp_store_t *self, const char *name)
{
    int free_slot = -1;
    for (unsigned slot = 0; slot < self->max_dbs; slot++) {
        if (self->dbs [slot].name) {
            if (streq (self->dbs [slot].name, name))
                return (int) slot;
        }
        else
        if (free_slot < 0)
            free_slot = (int) slot;
    }
    if (streq (name, S_META_DB)) {
        zsys_error ("wp_store: %s: database name '%s' is reserved",
                    self->path, name);
        return -1;
    }
    if (free_slot < 0) {
        zsys_error ("wp_store: %s: cannot use database '%s': all %u "
                    "database slots (max_dbs) are taken",
                    self->path, name, self->max_dbs);
        return -1;
    }
    self->dbs [free_slot].name = strdup (name);
    if (!self->dbs [free_slot].name) {
        zsys_error ("wp_store: %s: out of memory", self->path);
        return -1;
    }
    return free_slot;
}


//  --------------------------------------------------------------------------
//  Get the handle of the database in `slot`, opening it in `txn` if needed
//  (creating it when `create`). Returns 0, MDB_NOTFOUND when it does not
//  exist and !create, or another LMDB error (not logged).

static int
s_db_handle (wp_store_t *self, MDB_txn *txn, size_t slot, bool create,
             MDB_dbi *dbi)
{
    s_db_t *db = &self->dbs [slot];
    if (!db->is_open) {
        int rc = mdb_dbi_open (txn, db->name, create ? MDB_CREATE : 0,
                               &db->dbi);
        if (rc)
            return rc;
        db->is_open = true;
        db->opener = txn;
    }
    *dbi = db->dbi;
    return 0;
}


//  --------------------------------------------------------------------------
//  Apply one write to the open batch transaction. Returns 0 or an LMDB
//  error (not logged); deleting a missing record or database is 0.

static int
s_op_apply (wp_store_t *self, const s_op_t *op)
{
    MDB_dbi dbi;
    int rc = s_db_handle (self, self->txn, op->slot, op->is_put, &dbi);
    if (rc)
        return !op->is_put && rc == MDB_NOTFOUND ? 0 : rc;
    MDB_val key = { op->key_len, op->data };
    if (op->is_put) {
        MDB_val value = { op->value_len, op->data + op->key_len };
        return mdb_put (self->txn, dbi, &key, &value, 0);
    }
    rc = mdb_del (self->txn, dbi, &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}


//  --------------------------------------------------------------------------
//  Double the map size, up to map_max. No transaction may be open.
//  Returns 0, or -1 (logged) when the map is already at map_max.

static int
s_map_grow (wp_store_t *self)
{
    assert (!self->txn && !self->read_txn);
    if (self->map_size >= self->map_max) {
        if (s_log_should (self->refused + self->commit_failures + 1))
            zsys_error ("wp_store: %s/data.mdb: the map is full at %zu MiB, its limit "
                        "(store/map_max_mb); writes are refused and counted "
                        "(%" PRIu64 " so far): raise store/map_max_mb and restart, "
                        "nothing committed is lost", self->path, self->map_size >> 20,
                        self->refused + 1);
        return -1;
    }
    size_t new_size = self->map_size <= self->map_max / 2
                    ? self->map_size * 2: self->map_max;
    int rc = mdb_env_set_mapsize (self->env, new_size);
    if (rc) {
        zsys_error ("wp_store: %s: cannot grow map to %zu bytes: %s",
                    self->path, new_size, mdb_strerror (rc));
        return -1;
    }
    s_read_map_size (self);
    zsys_info ("wp_store: %s: map grown to %zu bytes", self->path,
               self->map_size);
    return 0;
}


//  --------------------------------------------------------------------------
//  Drop the pages of the map from the process's resident set. The map is
//  read-only and shared (no MDB_WRITEMAP): the pages stay in the kernel's
//  page cache, clean, and the next access maps them again; nothing LMDB
//  holds a pointer to moves. Returns 0 or -1 (errno).

static int
s_map_release (wp_store_t *self)
{
    self->touched = 0;
    //  LMDB does not tell where its map is (MDB_envinfo's me_mapaddr is
    //  only set with MDB_FIXEDMAP): find the mappings of the data file
    //  by inode, as the map moves when it grows.
    mdb_filehandle_t fd;
    struct stat file;
    if (!self->env || mdb_env_get_fd (self->env, &fd) || fstat (fd, &file))
        return -1;
    FILE *maps = fopen ("/proc/self/maps", "r");
    if (!maps)
        return -1;
    char line [512];
    int rc = -1;
    while (fgets (line, sizeof line, maps)) {
        unsigned long start, end, inode;
        unsigned dev_major, dev_minor;
        if (sscanf (line, "%lx-%lx %*s %*x %x:%x %lu", &start, &end, &dev_major,
                    &dev_minor, &inode) == 5
            && inode == (unsigned long) file.st_ino
            && makedev (dev_major, dev_minor) == file.st_dev)
            rc = madvise ((void *) start, end - start, MADV_DONTNEED);
    }
    fclose (maps);
    return rc;
}


//  --------------------------------------------------------------------------
//  Count records LMDB touched through the map; past S_RELEASE_RECORDS,
//  release the map's pages.

static void
s_touched (wp_store_t *self, size_t records)
{
    self->touched += records;
    if (self->touched >= S_RELEASE_RECORDS)
        s_map_release (self);
}


//  --------------------------------------------------------------------------
//  Make sure the batch transaction is open and holds every kept write,
//  growing the map as needed. Returns 0 or -1 (logged).

static int
s_batch_open (wp_store_t *self)
{
    while (!self->txn) {
        int rc = mdb_txn_begin (self->env, NULL, 0, &self->txn);
        if (rc) {
            self->txn = NULL;
            zsys_error ("wp_store: %s: cannot begin transaction: %s",
                        self->path, mdb_strerror (rc));
            return -1;
        }
        for (size_t index = 0; index < self->ops_count && rc == 0; index++)
            rc = s_op_apply (self, &self->ops [index]);
        if (rc) {
            s_batch_abort (self);
            if (rc != MDB_MAP_FULL) {
                zsys_error ("wp_store: %s: cannot replay the batch: %s",
                            self->path, mdb_strerror (rc));
                return -1;
            }
            if (s_map_grow (self))
                return -1;
        }
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Commit the batch (reopening and replaying it first if a failure closed
//  it), growing the map on MDB_MAP_FULL. Returns 0 or -1 (logged); on -1
//  the writes stay in self->ops for the next attempt.

static int
s_batch_commit (wp_store_t *self)
{
    while (self->txn || self->ops_count) {
        if (s_batch_open (self))
            return -1;
        MDB_txn *txn = self->txn;
        self->txn = NULL;
        int rc = mdb_txn_commit (txn);
        s_txn_ended (self, txn, rc == 0);
        if (rc == 0) {
            self->committed += self->ops_count;
            s_touched (self, self->ops_count);
            s_ops_clear (self);
        }
        else
        if (rc != MDB_MAP_FULL) {
            self->commit_failures++;
            //  LMDB reports a short write as EIO: look at the file system
            struct statvfs fs;
            bool full = rc == ENOSPC || rc == EDQUOT
                     || (statvfs (self->path, &fs) == 0
                         && (uint64_t) fs.f_bavail * fs.f_frsize < ((uint64_t) 1 << 20));
            if (s_log_should (self->commit_failures))
                zsys_error ("wp_store: %s/data.mdb: commit failed: %s%s (%zu write(s) "
                            "kept in memory and retried at each flush, up to %zu; "
                            "%" PRIu64 " failed commit(s) so far)",
                            self->path, mdb_strerror (rc),
                            full ? ": the disk is full; free space on it" : "",
                            self->ops_count, self->ops_cap, self->commit_failures);
            return -1;
        }
        else
        if (s_map_grow (self))
            return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Add one write to the batch: apply it, keep it, commit a full batch.
//  Takes ownership of op->data. Returns 0 or -1 (logged); when only the
//  automatic commit fails, the write stays in the batch.

static int
s_batch_write (wp_store_t *self, s_op_t *op)
{
    if (self->ops_count >= self->ops_cap) {
        //  Commits keep failing: refuse rather than grow without bound
        self->refused++;
        if (s_log_should (self->refused))
            zsys_error ("wp_store: %s/data.mdb: %zu writes wait for a commit that keeps "
                        "failing (see above); new writes are refused and counted "
                        "(%" PRIu64 " so far) until a commit succeeds",
                        self->path, self->ops_count, self->refused);
        freen (op->data);
        return -1;
    }
    if (self->ops_count == self->ops_size) {
        size_t new_size = self->ops_size ? self->ops_size * 2 : 64;
        s_op_t *ops = (s_op_t *) realloc (self->ops,
                                          new_size * sizeof (s_op_t));
        if (!ops) {
            zsys_error ("wp_store: %s: out of memory", self->path);
            freen (op->data);
            return -1;
        }
        self->ops = ops;
        self->ops_size = new_size;
    }
    while (true) {
        if (s_batch_open (self)) {
            freen (op->data);
            return -1;
        }
        int rc = s_op_apply (self, op);
        if (rc == 0)
            break;
        //  A failed write may leave the transaction unusable: drop it,
        //  the kept writes are replayed into the next one.
        s_batch_abort (self);
        if (rc != MDB_MAP_FULL) {
            zsys_error ("wp_store: %s: write to '%s' failed: %s",
                        self->path, self->dbs [op->slot].name,
                        mdb_strerror (rc));
            freen (op->data);
            return -1;
        }
        if (s_map_grow (self)) {
            self->refused++;
            freen (op->data);
            return -1;
        }
    }
    self->ops [self->ops_count++] = *op;
    if (self->ops_count >= self->batch_max)
        return s_batch_commit (self);
    return 0;
}


//  --------------------------------------------------------------------------
//  Check a key from the caller; returns 0, or -1 (logged) when LMDB
//  cannot store it.

static int
s_key_check (wp_store_t *self, const char *db, size_t key_len)
{
    if (key_len == 0 || key_len > self->max_key) {
        zsys_error ("wp_store: %s: key of %zu bytes for '%s' refused "
                    "(keys are 1 to %zu bytes)",
                    self->path, key_len, db, self->max_key);
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Put a record into database `db` in the current batch; the value is
//  copied behind the record header. Returns 0 or -1 (logged).

int
wp_store_put (wp_store_t *self, const char *db, const void *key,
              size_t key_len, const void *value, size_t value_len,
              uint16_t version)
{
    assert (self);
    assert (db);
    assert (key);
    assert (value || value_len == 0);
    assert (!self->iterating);
    if (s_key_check (self, db, key_len))
        return -1;
    if (value_len > UINT32_MAX - S_HEADER_SIZE) {
        zsys_error ("wp_store: %s: value of %zu bytes for '%s' refused",
                    self->path, value_len, db);
        return -1;
    }
    int slot = s_db_slot (self, db);
    if (slot < 0)
        return -1;
    s_op_t op = { true, (size_t) slot, key_len, S_HEADER_SIZE + value_len,
                  NULL };
    op.data = (byte *) malloc (key_len + op.value_len);
    if (!op.data) {
        zsys_error ("wp_store: %s: out of memory", self->path);
        return -1;
    }
    byte *stored = op.data + key_len;
    memcpy (op.data, key, key_len);
    s_put_u16 (stored, version);
    s_put_u16 (stored + 2, 0);
    if (value_len)
        memcpy (stored + S_HEADER_SIZE, value, value_len);
    return s_batch_write (self, &op);
}


//  --------------------------------------------------------------------------
//  Delete a record in the current batch; a missing key is 0. Returns 0 or
//  -1 (logged).

int
wp_store_del (wp_store_t *self, const char *db, const void *key,
              size_t key_len)
{
    assert (self);
    assert (db);
    assert (key);
    assert (!self->iterating);
    if (s_key_check (self, db, key_len))
        return -1;
    int slot = s_db_slot (self, db);
    if (slot < 0)
        return -1;
    s_op_t op = { false, (size_t) slot, key_len, 0, NULL };
    op.data = (byte *) malloc (key_len);
    if (!op.data) {
        zsys_error ("wp_store: %s: out of memory", self->path);
        return -1;
    }
    memcpy (op.data, key, key_len);
    return s_batch_write (self, &op);
}


//  --------------------------------------------------------------------------
//  Get a transaction to read from: the batch (reopened if it holds kept
//  writes), a running iterate's, or a new read-only one. Returns 0 or -1
//  (logged).

static int
s_read_begin (wp_store_t *self, MDB_txn **txn_p)
{
    if (self->txn || self->ops_count) {
        if (s_batch_open (self))
            return -1;
        *txn_p = self->txn;
        return 0;
    }
    if (self->read_txn) {
        *txn_p = self->read_txn;
        return 0;
    }
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, txn_p);
    if (rc) {
        zsys_error ("wp_store: %s: cannot begin read transaction: %s",
                    self->path, mdb_strerror (rc));
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  End a transaction from s_read_begin if it was made for the read;
//  committing keeps any database handle opened in it.

static void
s_read_end (wp_store_t *self, MDB_txn *txn)
{
    if (txn != self->txn && txn != self->read_txn) {
        int rc = mdb_txn_commit (txn);
        s_txn_ended (self, txn, rc == 0);
    }
}


//  --------------------------------------------------------------------------
//  Read a record, seeing the open batch. Copies at most capacity bytes of
//  the value into buffer. Returns 0 when found, 1 when not found, -1 on
//  error (logged), including a value longer than capacity.

int
wp_store_get (wp_store_t *self, const char *db, const void *key,
              size_t key_len, void *buffer, size_t capacity,
              size_t *value_len, uint16_t *version)
{
    assert (self);
    assert (db);
    assert (key);
    assert (buffer || capacity == 0);
    if (s_key_check (self, db, key_len))
        return -1;
    int slot = s_db_slot (self, db);
    if (slot < 0)
        return -1;
    MDB_txn *txn;
    if (s_read_begin (self, &txn))
        return -1;

    int result = 0;
    MDB_dbi dbi;
    MDB_val mkey = { key_len, (void *) key };
    MDB_val mvalue;
    int rc = s_db_handle (self, txn, (size_t) slot, false, &dbi);
    if (rc == 0)
        rc = mdb_get (txn, dbi, &mkey, &mvalue);
    if (rc == MDB_NOTFOUND)
        result = 1;
    else
    if (rc) {
        zsys_error ("wp_store: %s: read from '%s' failed: %s", self->path,
                    db, mdb_strerror (rc));
        result = -1;
    }
    else
    if (mvalue.mv_size < S_HEADER_SIZE) {
        zsys_error ("wp_store: %s: corrupt record in '%s' (%zu bytes, "
                    "shorter than its header)", self->path, db,
                    mvalue.mv_size);
        result = -1;
    }
    else {
        const byte *stored = (const byte *) mvalue.mv_data;
        size_t size = mvalue.mv_size - S_HEADER_SIZE;
        if (value_len)
            *value_len = size;
        if (version)
            *version = s_get_u16 (stored);
        if (size > capacity) {
            zsys_error ("wp_store: %s: record in '%s' has %zu bytes, the "
                        "buffer only %zu", self->path, db, size, capacity);
            result = -1;
        }
        else
        if (size)
            memcpy (buffer, stored + S_HEADER_SIZE, size);
    }
    s_read_end (self, txn);
    return result;
}


//  --------------------------------------------------------------------------
//  Walk database `dbi` in key order with a cursor in `txn`, calling fn.
//  Returns 0, -1 (logged), or the callback's non-zero return.

static int
s_walk (wp_store_t *self, MDB_txn *txn, MDB_dbi dbi, const char *db,
        wp_store_fn *fn, void *arg)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbi, &cursor);
    if (rc) {
        zsys_error ("wp_store: %s: cannot iterate '%s': %s", self->path, db,
                    mdb_strerror (rc));
        return -1;
    }
    int result = 0;
    MDB_val key, value;
    rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST);
    while (rc == 0 && result == 0) {
        if (value.mv_size < S_HEADER_SIZE) {
            zsys_error ("wp_store: %s: corrupt record in '%s' (%zu bytes, "
                        "shorter than its header)", self->path, db,
                        value.mv_size);
            result = -1;
            break;
        }
        const byte *stored = (const byte *) value.mv_data;
        result = fn (key.mv_data, key.mv_size, stored + S_HEADER_SIZE,
                     value.mv_size - S_HEADER_SIZE, s_get_u16 (stored), arg);
        s_touched (self, 1);    //  a walk at start reads the whole file
        if (result == 0)
            rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT);
    }
    if (result == 0 && rc != MDB_NOTFOUND) {
        zsys_error ("wp_store: %s: iterating '%s' failed: %s", self->path,
                    db, mdb_strerror (rc));
        result = -1;
    }
    mdb_cursor_close (cursor);
    return result;
}


//  --------------------------------------------------------------------------
//  Call fn for each record of `db` in key order, seeing the open batch.
//  A missing database has no records. Returns 0, -1 (logged), or the
//  callback's non-zero return.

int
wp_store_iterate (wp_store_t *self, const char *db, wp_store_fn *fn,
                  void *arg)
{
    assert (self);
    assert (db);
    assert (fn);
    assert (!self->iterating);
    int slot = s_db_slot (self, db);
    if (slot < 0)
        return -1;
    MDB_txn *txn;
    if (s_read_begin (self, &txn))
        return -1;
    if (txn != self->txn)
        self->read_txn = txn;   //  lets the callback's gets share it

    int result = 0;
    MDB_dbi dbi;
    int rc = s_db_handle (self, txn, (size_t) slot, false, &dbi);
    if (rc == 0) {
        self->iterating = true;
        result = s_walk (self, txn, dbi, db, fn, arg);
        self->iterating = false;
    }
    else
    if (rc != MDB_NOTFOUND) {
        zsys_error ("wp_store: %s: cannot open '%s': %s", self->path, db,
                    mdb_strerror (rc));
        result = -1;
    }
    self->read_txn = NULL;
    s_read_end (self, txn);
    return result;
}


//  --------------------------------------------------------------------------
//  Commit the open batch, if any. Returns 0 or -1 (logged; the batch is
//  kept and retried on the next flush or write).

int
wp_store_flush (wp_store_t *self)
{
    assert (self);
    assert (!self->iterating);
    return s_batch_commit (self);
}


//  --------------------------------------------------------------------------
//  Drop the pages of the map that LMDB touched from the process's resident
//  set (they stay in the kernel's page cache). The store does this itself
//  every S_RELEASE_RECORDS records committed or read; an owner calls it
//  when it goes quiet. Returns 0 or -1.

int
wp_store_release (wp_store_t *self)
{
    assert (self);
    return s_map_release (self);
}


//  --------------------------------------------------------------------------
//  Return the number of writes committed since the store was opened

uint64_t
wp_store_committed (wp_store_t *self)
{
    assert (self);
    return self->committed;
}


//  --------------------------------------------------------------------------
//  Change the writes per batch
unsigned
wp_store_set_batch_max (wp_store_t *self, unsigned batch_max)
{
    assert (self && batch_max > 0);
    unsigned previous = self->batch_max;
    self->batch_max = batch_max;
    self->ops_cap = (size_t) batch_max * S_OPS_CAP_BATCHES;
    return previous;
}

//  Writes refused since open

uint64_t
wp_store_refused (wp_store_t *self)
{
    assert (self);
    return self->refused;
}


//  --------------------------------------------------------------------------
//  Commits that failed since open

uint64_t
wp_store_commit_failures (wp_store_t *self)
{
    assert (self);
    return self->commit_failures;
}


//  --------------------------------------------------------------------------
//  Move a refused environment's data file aside

int
wp_store_set_aside (const char *path, char *moved, size_t moved_size)
{
    assert (path);
    char *data = zsys_sprintf ("%s/data.mdb", path);
    char *lock = zsys_sprintf ("%s/lock.mdb", path);
    time_t now = time (NULL);
    struct tm utc;
    gmtime_r (&now, &utc);
    char stamp [32];
    strftime (stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    char *aside = zsys_sprintf ("%s/data.mdb.corrupt-%s", path, stamp);
    int rc = 0;
    struct stat st;
    if (!data || !lock || !aside)
        rc = -1;
    else
    if (stat (data, &st) != 0)
        rc = 1;
    else
    if (rename (data, aside)) {
        zsys_error ("wp_store: %s: cannot move it aside to %s: %s", data, aside,
                    strerror (errno));
        rc = -1;
    }
    else {
        unlink (lock);
        zsys_warning ("wp_store: %s moved aside to %s; the store starts empty", data,
                      aside);
    }
    if (moved && moved_size)
        snprintf (moved, moved_size, "%s", rc == 0 ? aside : "");
    zstr_free (&data);
    zstr_free (&lock);
    zstr_free (&aside);
    return rc;
}


//  --------------------------------------------------------------------------
//  Return the number of writes waiting in the open batch

unsigned
wp_store_pending (wp_store_t *self)
{
    assert (self);
    return (unsigned) self->ops_count;
}


//  --------------------------------------------------------------------------
//  Return the current map size in bytes

size_t
wp_store_map_size (wp_store_t *self)
{
    assert (self);
    return self->map_size;
}


//  --------------------------------------------------------------------------
//  Open the environment in `path` read-only for inspection or backup, as
//  one more reader beside its owner. Returns the environment or NULL
//  (logged).

static MDB_env *
s_env_open_reader (const char *path)
{
    char *file = zsys_sprintf ("%s/data.mdb", path);
    bool exists = file && zsys_file_exists (file);
    zstr_free (&file);
    if (!exists) {
        zsys_error ("wp_store: %s: no environment here (no data.mdb)", path);
        return NULL;
    }
    MDB_env *env;
    int rc = mdb_env_create (&env);
    if (rc == 0) {
        rc = mdb_env_set_maxdbs (env, 1024);
        if (rc == 0)
            rc = mdb_env_open (env, path, MDB_RDONLY, 0664);
        if (rc)
            mdb_env_close (env);
    }
    if (rc) {
        zsys_error ("wp_store: %s: cannot open environment: %s", path,
                    mdb_strerror (rc));
        return NULL;
    }
    return env;
}


//  --------------------------------------------------------------------------
//  Count the records of one database by record version; calls fn per
//  version found. Returns 0 or an LMDB error.

static int
s_inspect_db (MDB_txn *txn, const char *name, wp_store_db_fn *fn, void *arg)
{
    MDB_dbi dbi;
    int rc = mdb_dbi_open (txn, name, 0, &dbi);
    if (rc)
        return rc;
    //  Versions in order of first sight, and how many of each
    uint16_t versions [16];
    uint64_t counts [16] = { 0 };
    size_t seen = 0;
    uint64_t other = 0;             //  headerless, or past 16 versions
    MDB_cursor *cursor;
    rc = mdb_cursor_open (txn, dbi, &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        if (value.mv_size < S_HEADER_SIZE) {
            other++;
            continue;
        }
        uint16_t version = s_get_u16 ((const byte *) value.mv_data);
        size_t index = 0;
        while (index < seen && versions [index] != version)
            index++;
        if (index == seen && seen < 16)
            versions [seen++] = version;
        if (index < seen)
            counts [index]++;
        else
            other++;
    }
    mdb_cursor_close (cursor);
    if (rc != MDB_NOTFOUND)
        return rc;
    if (fn) {
        for (size_t index = 0; index < seen; index++)
            fn (name, versions [index], counts [index], arg);
        if (other)
            fn (name, UINT16_MAX, other, arg);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Read an environment without changing it; see the header

int
wp_store_inspect (const char *path, wp_store_info_t *info, wp_store_db_fn *fn,
                  void *arg)
{
    assert (path);
    assert (info);
    memset (info, 0, sizeof (*info));
    MDB_env *env = s_env_open_reader (path);
    if (!env)
        return -1;
    MDB_envinfo envinfo;
    MDB_stat stat;
    mdb_env_info (env, &envinfo);
    mdb_env_stat (env, &stat);
    info->map_size = envinfo.me_mapsize;
    info->used_bytes = (envinfo.me_last_pgno + 1) * (size_t) stat.ms_psize;
    MDB_txn *txn;
    MDB_dbi main_dbi;
    int rc = mdb_txn_begin (env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = mdb_dbi_open (txn, NULL, 0, &main_dbi);
        //  The main database lists the named ones
        MDB_cursor *cursor = NULL;
        if (rc == 0)
            rc = mdb_cursor_open (txn, main_dbi, &cursor);
        MDB_val key, value;
        for (int more = rc == 0 ? mdb_cursor_get (cursor, &key, &value, MDB_FIRST)
                                : MDB_NOTFOUND;
             rc == 0 && more == 0;
             more = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
            char name [256];
            if (key.mv_size == 0 || key.mv_size >= sizeof (name))
                continue;
            memcpy (name, key.mv_data, key.mv_size);
            name [key.mv_size] = 0;
            if (streq (name, S_META_DB)) {
                MDB_dbi meta;
                if (mdb_dbi_open (txn, S_META_DB, 0, &meta) == 0) {
                    MDB_val mkey = { strlen (S_SCHEMA_KEY), (void *) S_SCHEMA_KEY };
                    MDB_val mvalue;
                    if (mdb_get (txn, meta, &mkey, &mvalue) == 0 && mvalue.mv_size == 4)
                        info->schema = s_get_u32 ((const byte *) mvalue.mv_data);
                    mkey.mv_size = strlen (S_OWNER_KEY);
                    mkey.mv_data = (void *) S_OWNER_KEY;
                    if (mdb_get (txn, meta, &mkey, &mvalue) == 0
                    &&  mvalue.mv_size < sizeof (info->owner)) {
                        memcpy (info->owner, mvalue.mv_data, mvalue.mv_size);
                        info->owner [mvalue.mv_size] = 0;
                    }
                }
                continue;
            }
            rc = s_inspect_db (txn, name, fn, arg);
        }
        if (cursor)
            mdb_cursor_close (cursor);
        mdb_txn_abort (txn);
    }
    mdb_env_close (env);
    if (rc) {
        zsys_error ("wp_store: %s: cannot read: %s", path, mdb_strerror (rc));
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Write a consistent, compacted copy of an environment; see the header

int
wp_store_backup (const char *path, const char *dest)
{
    assert (path);
    assert (dest);
    if (s_make_dir (dest, NULL))
        return -1;
    if (!s_env_is_new (dest)) {
        zsys_error ("wp_store: %s: already holds an environment; not "
                    "overwriting it", dest);
        return -1;
    }
    MDB_env *env = s_env_open_reader (path);
    if (!env)
        return -1;
    //  A read transaction of its own: a snapshot, whatever the owner writes
    int rc = mdb_env_copy2 (env, dest, MDB_CP_COMPACT);
    mdb_env_close (env);
    if (rc) {
        zsys_error ("wp_store: %s: cannot copy to %s: %s", path, dest,
                    mdb_strerror (rc));
        return -1;
    }
    return 0;
}
