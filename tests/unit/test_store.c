/*  =========================================================================
    test_store - unit tests of wp_store: records, batches, map growth,
    schema check, reopening. Every test works in its own temporary
    directory; raw LMDB calls inspect and tamper with what the store wrote.
    =========================================================================
*/

#include "testutil.h"
#include "wp_store.h"

#include <czmq.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIB ((size_t) 1024)

//  Per-test state: the temporary directory and its environment path
typedef struct {
    char *dir;                  //  temporary directory, removed after
    char *path;                 //  environment directory inside it
} s_fixture_t;


//  Make a fresh temporary directory for one test
static int
s_setup (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) calloc (1, sizeof (s_fixture_t));
    assert_non_null (fixture);
    fixture->dir = wp_test_tmpdir ("test_store");
    fixture->path = zsys_sprintf ("%s/env", fixture->dir);
    assert_non_null (fixture->path);
    *state = fixture;
    return 0;
}


//  Remove the test's temporary directory
static int
s_teardown (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_test_rmtree (fixture->dir);
    free (fixture->dir);
    zstr_free (&fixture->path);
    free (fixture);
    return 0;
}


//  Encode a 32-bit big-endian key
static void
s_key (uint32_t value, byte key [4])
{
    key [0] = (byte) (value >> 24);
    key [1] = (byte) (value >> 16);
    key [2] = (byte) (value >> 8);
    key [3] = (byte) value;
}


//  Decode a 32-bit big-endian key
static uint32_t
s_key_value (const void *key)
{
    const byte *bytes = (const byte *) key;
    return ((uint32_t) bytes [0] << 24) | ((uint32_t) bytes [1] << 16)
         | ((uint32_t) bytes [2] << 8) | (uint32_t) bytes [3];
}


//  Fill a value that depends on its key, so a mix-up is seen
static void
s_fill (byte *value, size_t size, uint32_t seed)
{
    for (size_t index = 0; index < size; index++)
        value [index] = (byte) (seed * 31 + index * 7);
}


//  Put record `id` (4-byte key, `size` bytes of value) into `db`
static int
s_put_id (wp_store_t *store, const char *db, uint32_t id, size_t size)
{
    byte key [4];
    byte value [512];
    assert_true (size <= sizeof (value));
    s_key (id, key);
    s_fill (value, size, id);
    return wp_store_put (store, db, key, 4, value, size, (uint16_t) id);
}


//  Check that record `id` of `db` holds what s_put_id wrote
static void
s_check_id (wp_store_t *store, const char *db, uint32_t id, size_t size)
{
    byte key [4];
    byte expected [512];
    byte value [512];
    size_t value_len = 0;
    uint16_t version = 0;
    s_key (id, key);
    s_fill (expected, size, id);
    assert_int_equal (wp_store_get (store, db, key, 4, value, sizeof (value),
                                    &value_len, &version), 0);
    assert_int_equal (value_len, size);
    assert_int_equal (version, (uint16_t) id);
    assert_memory_equal (value, expected, size);
}


//  Open a raw LMDB environment on the store's directory (store closed)
static MDB_env *
s_raw_open (const char *path)
{
    MDB_env *env;
    assert_int_equal (mdb_env_create (&env), 0);
    assert_int_equal (mdb_env_set_maxdbs (env, 8), 0);
    assert_int_equal (mdb_env_open (env, path, 0, 0664), 0);
    return env;
}


//  Write a raw record (no store header) into database `db`
static void
s_raw_put (const char *path, const char *db, const void *key, size_t key_len,
           const void *value, size_t value_len)
{
    MDB_env *env = s_raw_open (path);
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal (mdb_txn_begin (env, NULL, 0, &txn), 0);
    assert_int_equal (mdb_dbi_open (txn, db, MDB_CREATE, &dbi), 0);
    MDB_val mkey = { key_len, (void *) key };
    MDB_val mvalue = { value_len, (void *) value };
    assert_int_equal (mdb_put (txn, dbi, &mkey, &mvalue, 0), 0);
    assert_int_equal (mdb_txn_commit (txn), 0);
    mdb_env_close (env);
}


//  Read a raw record of `db` into value; returns its size
static size_t
s_raw_get (const char *path, const char *db, const void *key, size_t key_len,
           byte *value, size_t capacity)
{
    MDB_env *env = s_raw_open (path);
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal (mdb_txn_begin (env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal (mdb_dbi_open (txn, db, 0, &dbi), 0);
    MDB_val mkey = { key_len, (void *) key };
    MDB_val mvalue;
    assert_int_equal (mdb_get (txn, dbi, &mkey, &mvalue), 0);
    assert_true (mvalue.mv_size <= capacity);
    memcpy (value, mvalue.mv_data, mvalue.mv_size);
    mdb_txn_abort (txn);
    mdb_env_close (env);
    return mvalue.mv_size;
}


//  Records seen by an iterate callback
typedef struct {
    uint32_t ids [64];          //  keys seen, in call order
    uint16_t versions [64];     //  their record versions
    size_t sizes [64];          //  their value sizes
    size_t count;               //  number of calls
    size_t stop_after;          //  return 7 after this many calls (0: never)
    wp_store_t *store;          //  when set, get each record back
    int get_rc [64];            //  wp_store_get results from the callback
} s_seen_t;


//  Iterate callback: record what it sees
static int
s_collect (const void *key, size_t key_len, const void *value,
           size_t value_len, uint16_t version, void *arg)
{
    s_seen_t *seen = (s_seen_t *) arg;
    if (seen->count >= 64 || key_len != 4)
        return -2;
    seen->ids [seen->count] = s_key_value (key);
    seen->versions [seen->count] = version;
    seen->sizes [seen->count] = value_len;
    if (seen->store) {
        byte buffer [512];
        seen->get_rc [seen->count] = wp_store_get (
            seen->store, "order", key, key_len, buffer, sizeof (buffer),
            NULL, NULL);
    }
    seen->count++;
    if (seen->stop_after && seen->count == seen->stop_after)
        return 7;
    return 0;
}


//  Iterate callback: count records
static int
s_count (const void *key, size_t key_len, const void *value,
         size_t value_len, uint16_t version, void *arg)
{
    (*(size_t *) arg)++;
    return 0;
}


//  A record goes in and comes back with its version; NULL out-params
//  are allowed; an empty value round-trips
static void
test_put_get (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_t *store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    assert_int_equal (wp_store_map_size (store), 16 * 1024 * KIB);

    const char *value = "model-42 weights";
    assert_int_equal (wp_store_put (store, "models", "m42", 3, value,
                                    strlen (value), 0xBEEF), 0);
    char buffer [64];
    size_t value_len = 0;
    uint16_t version = 0;
    memset (buffer, 'x', sizeof (buffer));
    assert_int_equal (wp_store_get (store, "models", "m42", 3, buffer,
                                    sizeof (buffer), &value_len, &version), 0);
    assert_int_equal (value_len, strlen (value));
    assert_int_equal (version, 0xBEEF);
    assert_memory_equal (buffer, value, strlen (value));
    assert_int_equal (buffer [strlen (value)], 'x');

    //  Both out-parameters are optional
    assert_int_equal (wp_store_get (store, "models", "m42", 3, buffer,
                                    sizeof (buffer), NULL, NULL), 0);

    //  Overwrite: new value and version
    assert_int_equal (wp_store_put (store, "models", "m42", 3, "v2", 2, 2), 0);
    assert_int_equal (wp_store_get (store, "models", "m42", 3, buffer,
                                    sizeof (buffer), &value_len, &version), 0);
    assert_int_equal (value_len, 2);
    assert_int_equal (version, 2);
    assert_memory_equal (buffer, "v2", 2);

    //  Empty value, no buffer needed
    assert_int_equal (wp_store_put (store, "models", "empty", 5, NULL, 0, 9),
                      0);
    value_len = 99;
    assert_int_equal (wp_store_get (store, "models", "empty", 5, NULL, 0,
                                    &value_len, &version), 0);
    assert_int_equal (value_len, 0);
    assert_int_equal (version, 9);

    //  Same key in another database is another record
    assert_int_equal (wp_store_get (store, "other", "m42", 3, buffer,
                                    sizeof (buffer), NULL, NULL), 1);
    wp_store_destroy (&store);
    assert_null (store);
    wp_store_destroy (&store);      //  safe on NULL
}


//  Missing keys and missing databases are "not found" (1), before and
//  after a commit
static void
test_not_found (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_t *store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    char buffer [16];
    assert_int_equal (wp_store_get (store, "nodb", "k", 1, buffer,
                                    sizeof (buffer), NULL, NULL), 1);
    assert_int_equal (wp_store_put (store, "db", "k", 1, "v", 1, 1), 0);
    assert_int_equal (wp_store_get (store, "db", "other", 5, buffer,
                                    sizeof (buffer), NULL, NULL), 1);
    assert_int_equal (wp_store_flush (store), 0);
    assert_int_equal (wp_store_get (store, "db", "other", 5, buffer,
                                    sizeof (buffer), NULL, NULL), 1);
    assert_int_equal (wp_store_get (store, "nodb", "k", 1, buffer,
                                    sizeof (buffer), NULL, NULL), 1);
    assert_int_equal (wp_store_get (store, "db", "k", 1, buffer,
                                    sizeof (buffer), NULL, NULL), 0);
    wp_store_destroy (&store);
}


//  A value longer than the buffer is an error that still reports the
//  full length and leaves the buffer untouched
static void
test_capacity_too_small (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_t *store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    assert_int_equal (wp_store_put (store, "db", "k", 1, "0123456789", 10, 1),
                      0);
    char buffer [16];
    memset (buffer, 'x', sizeof (buffer));
    size_t value_len = 0;
    assert_int_equal (wp_store_get (store, "db", "k", 1, buffer, 9,
                                    &value_len, NULL), -1);
    assert_int_equal (value_len, 10);
    assert_int_equal (buffer [0], 'x');
    //  Exactly the right size is fine
    assert_int_equal (wp_store_get (store, "db", "k", 1, buffer, 10,
                                    &value_len, NULL), 0);
    assert_memory_equal (buffer, "0123456789", 10);
    wp_store_destroy (&store);
}


//  Deletes: of a committed record, of a record of the open batch, of a
//  missing key and in a missing database
static void
test_delete (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_t *store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    char buffer [16];
    assert_int_equal (wp_store_put (store, "db", "a", 1, "1", 1, 1), 0);
    assert_int_equal (wp_store_put (store, "db", "b", 1, "2", 1, 1), 0);
    assert_int_equal (wp_store_flush (store), 0);

    assert_int_equal (wp_store_del (store, "db", "a", 1), 0);
    assert_int_equal (wp_store_get (store, "db", "a", 1, buffer,
                                    sizeof (buffer), NULL, NULL), 1);
    assert_int_equal (wp_store_get (store, "db", "b", 1, buffer,
                                    sizeof (buffer), NULL, NULL), 0);

    //  Put then delete inside one batch
    assert_int_equal (wp_store_put (store, "db", "c", 1, "3", 1, 1), 0);
    assert_int_equal (wp_store_del (store, "db", "c", 1), 0);
    assert_int_equal (wp_store_get (store, "db", "c", 1, buffer,
                                    sizeof (buffer), NULL, NULL), 1);

    assert_int_equal (wp_store_del (store, "db", "missing", 7), 0);
    assert_int_equal (wp_store_del (store, "nodb", "a", 1), 0);
    assert_int_equal (wp_store_flush (store), 0);
    wp_store_destroy (&store);

    //  The deletes are durable
    store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    assert_int_equal (wp_store_get (store, "db", "a", 1, buffer,
                                    sizeof (buffer), NULL, NULL), 1);
    assert_int_equal (wp_store_get (store, "db", "c", 1, buffer,
                                    sizeof (buffer), NULL, NULL), 1);
    assert_int_equal (wp_store_get (store, "db", "b", 1, buffer,
                                    sizeof (buffer), NULL, NULL), 0);
    assert_int_equal (wp_store_get (store, "nodb", "a", 1, buffer,
                                    sizeof (buffer), NULL, NULL), 1);
    wp_store_destroy (&store);
}


//  Iteration follows big-endian key order (not insertion order), merges
//  committed records with the open batch, stops on a non-zero return
static void
test_iterate_order (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_t *store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);

    //  Committed: 300, 1, 70000; in the batch: 256, 2, and 1 deleted.
    //  Little-endian order would put 256 before 2 and 300 before 70000.
    assert_int_equal (s_put_id (store, "order", 300, 30), 0);
    assert_int_equal (s_put_id (store, "order", 1, 10), 0);
    assert_int_equal (s_put_id (store, "order", 70000, 70), 0);
    assert_int_equal (wp_store_flush (store), 0);
    assert_int_equal (s_put_id (store, "order", 256, 25), 0);
    assert_int_equal (s_put_id (store, "order", 2, 20), 0);
    byte key [4];
    s_key (1, key);
    assert_int_equal (wp_store_del (store, "order", key, 4), 0);
    assert_true (wp_store_pending (store) > 0);

    s_seen_t seen = { .count = 0 };
    assert_int_equal (wp_store_iterate (store, "order", s_collect, &seen), 0);
    assert_int_equal (seen.count, 4);
    uint32_t expected [] = { 2, 256, 300, 70000 };
    size_t sizes [] = { 20, 25, 30, 70 };
    for (size_t index = 0; index < 4; index++) {
        assert_int_equal (seen.ids [index], expected [index]);
        assert_int_equal (seen.versions [index], (uint16_t) expected [index]);
        assert_int_equal (seen.sizes [index], sizes [index]);
    }

    //  A non-zero return stops the walk and is returned
    memset (&seen, 0, sizeof (seen));
    seen.stop_after = 2;
    assert_int_equal (wp_store_iterate (store, "order", s_collect, &seen), 7);
    assert_int_equal (seen.count, 2);

    //  The callback may read the store: through the batch, then through
    //  the iteration's own read transaction once committed
    memset (&seen, 0, sizeof (seen));
    seen.store = store;
    assert_int_equal (wp_store_iterate (store, "order", s_collect, &seen), 0);
    assert_int_equal (seen.count, 4);
    for (size_t index = 0; index < 4; index++)
        assert_int_equal (seen.get_rc [index], 0);
    assert_int_equal (wp_store_flush (store), 0);
    memset (&seen, 0, sizeof (seen));
    seen.store = store;
    assert_int_equal (wp_store_iterate (store, "order", s_collect, &seen), 0);
    assert_int_equal (seen.count, 4);
    for (size_t index = 0; index < 4; index++)
        assert_int_equal (seen.get_rc [index], 0);

    //  A missing database has no records
    memset (&seen, 0, sizeof (seen));
    assert_int_equal (wp_store_iterate (store, "nodb", s_collect, &seen), 0);
    assert_int_equal (seen.count, 0);
    wp_store_destroy (&store);
}


//  The batch commits by itself at batch_max writes; counters follow
static void
test_batch_autocommit (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_opts_t opts = { .batch_max = 10 };
    wp_store_t *store = wp_store_new (fixture->path, &opts);
    assert_non_null (store);
    assert_int_equal (wp_store_pending (store), 0);
    assert_int_equal (wp_store_committed (store), 0);

    for (uint32_t id = 0; id < 9; id++)
        assert_int_equal (s_put_id (store, "db", id, 8), 0);
    assert_int_equal (wp_store_pending (store), 9);
    assert_int_equal (wp_store_committed (store), 0);

    assert_int_equal (s_put_id (store, "db", 9, 8), 0);
    assert_int_equal (wp_store_pending (store), 0);
    assert_int_equal (wp_store_committed (store), 10);

    //  Deletes count as writes too
    for (uint32_t id = 0; id < 5; id++) {
        byte key [4];
        s_key (id, key);
        assert_int_equal (wp_store_del (store, "db", key, 4), 0);
    }
    for (uint32_t id = 10; id < 14; id++)
        assert_int_equal (s_put_id (store, "db", id, 8), 0);
    assert_int_equal (wp_store_pending (store), 9);
    assert_int_equal (wp_store_committed (store), 10);

    assert_int_equal (wp_store_flush (store), 0);
    assert_int_equal (wp_store_pending (store), 0);
    assert_int_equal (wp_store_committed (store), 19);
    //  An empty flush does nothing
    assert_int_equal (wp_store_flush (store), 0);
    assert_int_equal (wp_store_committed (store), 19);

    size_t count = 0;
    assert_int_equal (wp_store_iterate (store, "db", s_count, &count), 0);
    assert_int_equal (count, 9);
    wp_store_destroy (&store);
}


//  Writes of an unflushed batch are visible to get and iterate at once;
//  the batch is pending, not committed
static void
test_unflushed_visible (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_t *store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    assert_int_equal (s_put_id (store, "db", 5, 50), 0);
    assert_int_equal (wp_store_pending (store), 1);
    assert_int_equal (wp_store_committed (store), 0);
    s_check_id (store, "db", 5, 50);
    size_t count = 0;
    assert_int_equal (wp_store_iterate (store, "db", s_count, &count), 0);
    assert_int_equal (count, 1);
    assert_int_equal (wp_store_pending (store), 1);
    wp_store_destroy (&store);
}


//  Committed data, and the batch still open at destroy, survive a reopen;
//  counters start again at zero
static void
test_reopen (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_t *store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    for (uint32_t id = 0; id < 20; id++)
        assert_int_equal (s_put_id (store, "a", id, 16), 0);
    assert_int_equal (wp_store_flush (store), 0);
    for (uint32_t id = 100; id < 110; id++)
        assert_int_equal (s_put_id (store, "b", id, 32), 0);
    assert_int_equal (wp_store_pending (store), 10);
    wp_store_destroy (&store);      //  commits the open batch

    store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    assert_int_equal (wp_store_committed (store), 0);
    assert_int_equal (wp_store_pending (store), 0);
    for (uint32_t id = 0; id < 20; id++)
        s_check_id (store, "a", id, 16);
    for (uint32_t id = 100; id < 110; id++)
        s_check_id (store, "b", id, 32);
    wp_store_destroy (&store);
}


//  On disk a record is u16 big-endian version, u16 zero, payload; the
//  meta database holds the schema number as a big-endian u32
static void
test_record_format (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_t *store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    assert_int_equal (wp_store_put (store, "db", "k", 1, "xyz", 3, 0x0102), 0);
    wp_store_destroy (&store);

    byte raw [16];
    assert_int_equal (s_raw_get (fixture->path, "db", "k", 1, raw,
                                 sizeof (raw)), 7);
    assert_memory_equal (raw, "\x01\x02\x00\x00xyz", 7);
    assert_int_equal (s_raw_get (fixture->path, "meta", "schema", 6, raw,
                                 sizeof (raw)), 4);
    assert_int_equal (s_key_value (raw), WP_STORE_SCHEMA);
}


//  A stored record shorter than the header is reported as corrupt
static void
test_corrupt_record (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_t *store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    assert_int_equal (wp_store_put (store, "db", "a", 1, "ok", 2, 1), 0);
    wp_store_destroy (&store);
    s_raw_put (fixture->path, "db", "b", 1, "\x00\x01", 2);

    store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    char buffer [16];
    assert_int_equal (wp_store_get (store, "db", "b", 1, buffer,
                                    sizeof (buffer), NULL, NULL), -1);
    assert_int_equal (wp_store_get (store, "db", "a", 1, buffer,
                                    sizeof (buffer), NULL, NULL), 0);
    size_t count = 0;
    assert_int_equal (wp_store_iterate (store, "db", s_count, &count), -1);
    assert_int_equal (count, 1);    //  "a" came before the corrupt "b"
    wp_store_destroy (&store);
}


//  Keys LMDB cannot store and the reserved database are refused, and the
//  open batch is unharmed by the refusals
static void
test_bad_input (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_t *store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    assert_int_equal (s_put_id (store, "db", 1, 10), 0);

    byte long_key [4096];
    memset (long_key, 'k', sizeof (long_key));
    char buffer [16];
    assert_int_equal (wp_store_put (store, "db", long_key, sizeof (long_key),
                                    "v", 1, 1), -1);
    assert_int_equal (wp_store_put (store, "db", "", 0, "v", 1, 1), -1);
    assert_int_equal (wp_store_del (store, "db", "", 0), -1);
    assert_int_equal (wp_store_get (store, "db", "", 0, buffer,
                                    sizeof (buffer), NULL, NULL), -1);
    assert_int_equal (wp_store_put (store, "meta", "schema", 6, "v", 1, 1),
                      -1);
    assert_int_equal (wp_store_del (store, "meta", "schema", 6), -1);

    assert_int_equal (wp_store_pending (store), 1);
    s_check_id (store, "db", 1, 10);
    assert_int_equal (s_put_id (store, "db", 2, 10), 0);
    assert_int_equal (wp_store_flush (store), 0);
    assert_int_equal (wp_store_committed (store), 2);
    wp_store_destroy (&store);

    //  The schema survived the attempt
    store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    s_check_id (store, "db", 2, 10);
    wp_store_destroy (&store);
}


//  At most max_dbs named databases
static void
test_max_dbs (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_opts_t opts = { .max_dbs = 2 };
    wp_store_t *store = wp_store_new (fixture->path, &opts);
    assert_non_null (store);
    assert_int_equal (wp_store_put (store, "one", "k", 1, "v", 1, 1), 0);
    assert_int_equal (wp_store_put (store, "two", "k", 1, "v", 1, 1), 0);
    assert_int_equal (wp_store_put (store, "three", "k", 1, "v", 1, 1), -1);
    assert_int_equal (wp_store_put (store, "one", "k2", 2, "v", 1, 1), 0);
    assert_int_equal (wp_store_flush (store), 0);
    assert_int_equal (wp_store_committed (store), 3);
    wp_store_destroy (&store);
}


//  Write `count` records of `size` bytes to "grow" and check them all
static void
s_fill_and_check (wp_store_t *store, uint32_t count, size_t size)
{
    for (uint32_t id = 0; id < count; id++)
        assert_int_equal (s_put_id (store, "grow", id, size), 0);
    assert_int_equal (wp_store_flush (store), 0);
    for (uint32_t id = 0; id < count; id++)
        s_check_id (store, "grow", id, size);
}


//  MDB_MAP_FULL grows the map (several doublings) and loses nothing,
//  whether it strikes in a long batch (the handle of a database created
//  in the aborted transaction must be reopened) or around commits; the
//  grown size persists across a reopen
static void
test_map_growth (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    const uint32_t count = 3000;
    const size_t size = 200;

    //  One batch of everything: growth always happens inside the batch
    wp_store_opts_t opts = { .map_size = 64 * KIB, .batch_max = 100000 };
    wp_store_t *store = wp_store_new (fixture->path, &opts);
    assert_non_null (store);
    assert_int_equal (wp_store_map_size (store), 64 * KIB);
    s_fill_and_check (store, count, size);
    size_t grown = wp_store_map_size (store);
    assert_true (grown >= 8 * 64 * KIB);     //  at least three doublings
    assert_int_equal (wp_store_committed (store), count);
    wp_store_destroy (&store);

    //  Reopening with a small map_size keeps the grown size
    store = wp_store_new (fixture->path, &opts);
    assert_non_null (store);
    assert_int_equal (wp_store_map_size (store), grown);
    for (uint32_t id = 0; id < count; id++)
        s_check_id (store, "grow", id, size);
    size_t records = 0;
    assert_int_equal (wp_store_iterate (store, "grow", s_count, &records), 0);
    assert_int_equal (records, count);
    wp_store_destroy (&store);

    //  A larger map_size than the stored one wins
    wp_store_opts_t larger = { .map_size = 4 * grown };
    store = wp_store_new (fixture->path, &larger);
    assert_non_null (store);
    assert_int_equal (wp_store_map_size (store), 4 * grown);
    wp_store_destroy (&store);
}


//  Growth with small batches: MAP_FULL hits puts and commits
static void
test_map_growth_small_batches (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_opts_t opts = { .map_size = 64 * KIB, .batch_max = 7 };
    wp_store_t *store = wp_store_new (fixture->path, &opts);
    assert_non_null (store);
    s_fill_and_check (store, 3000, 200);
    assert_true (wp_store_map_size (store) >= 8 * 64 * KIB);
    wp_store_destroy (&store);

    store = wp_store_new (fixture->path, &opts);
    assert_non_null (store);
    for (uint32_t id = 0; id < 3000; id++)
        s_check_id (store, "grow", id, 200);
    wp_store_destroy (&store);
}


//  At map_max writes are refused with -1; what was committed stays
//  readable and the store keeps working for reads
static void
test_map_max (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_opts_t opts = {
        .map_size = 64 * KIB, .map_max = 128 * KIB, .batch_max = 1
    };
    wp_store_t *store = wp_store_new (fixture->path, &opts);
    assert_non_null (store);
    uint32_t id;
    int rc = 0;
    for (id = 0; id < 10000 && rc == 0; id++)
        rc = s_put_id (store, "grow", id, 200);
    assert_int_equal (rc, -1);
    assert_true (id < 10000);
    assert_int_equal (wp_store_map_size (store), 128 * KIB);
    uint64_t committed = wp_store_committed (store);
    assert_true (committed > 100);
    //  Further writes keep failing, without harm
    assert_int_equal (s_put_id (store, "grow", 99999, 200), -1);
    for (uint32_t check = 0; check < committed; check++)
        s_check_id (store, "grow", check, 200);
    wp_store_destroy (&store);

    //  Everything committed is there after reopen
    store = wp_store_new (fixture->path, &opts);
    assert_non_null (store);
    for (uint32_t check = 0; check < committed; check++)
        s_check_id (store, "grow", check, 200);
    wp_store_destroy (&store);
}


//  An environment written with another schema number is refused, as is a
//  malformed schema record
static void
test_schema_mismatch (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_t *store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    assert_int_equal (wp_store_put (store, "db", "k", 1, "v", 1, 1), 0);
    wp_store_destroy (&store);

    byte schema [4];
    s_key (WP_STORE_SCHEMA + 1, schema);
    s_raw_put (fixture->path, "meta", "schema", 6, schema, 4);
    assert_null (wp_store_new (fixture->path, NULL));

    s_raw_put (fixture->path, "meta", "schema", 6, "\x00\x01", 2);
    assert_null (wp_store_new (fixture->path, NULL));

    //  Restoring the right number makes it open again, data intact
    s_key (WP_STORE_SCHEMA, schema);
    s_raw_put (fixture->path, "meta", "schema", 6, schema, 4);
    store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    char buffer [4];
    assert_int_equal (wp_store_get (store, "db", "k", 1, buffer,
                                    sizeof (buffer), NULL, NULL), 0);
    wp_store_destroy (&store);
}


//  A path that is a regular file, or lies under one, is refused
static void
test_path_is_file (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    FILE *file = fopen (fixture->path, "w");
    assert_non_null (file);
    fputs ("not an environment\n", file);
    fclose (file);
    assert_null (wp_store_new (fixture->path, NULL));

    char *under = zsys_sprintf ("%s/sub", fixture->path);
    assert_null (wp_store_new (under, NULL));
    zstr_free (&under);
}


//  Missing directories are created, several levels deep
static void
test_creates_directory (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    char *deep = zsys_sprintf ("%s/one/two/three", fixture->path);
    wp_store_t *store = wp_store_new (deep, NULL);
    assert_non_null (store);
    assert_int_equal (wp_store_put (store, "db", "k", 1, "v", 1, 1), 0);
    wp_store_destroy (&store);
    char *data = zsys_sprintf ("%s/data.mdb", deep);
    assert_true (zsys_file_exists (data));
    zstr_free (&data);
    zstr_free (&deep);
}


//  Options that cannot work are refused
static void
test_bad_options (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_opts_t opts = { .map_size = 1024 * KIB, .map_max = 512 * KIB };
    assert_null (wp_store_new (fixture->path, &opts));
}

//  An environment as schema 1 wrote it (meta "schema" = 1, no owner), with
//  records of two record versions: the current code migrates it to
//  schema 2 in place, recording its owner, and every record reads as before
static void
test_migrate_schema_1 (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    assert_int_equal (mkdir (fixture->path, 0775), 0);
    byte schema [4];
    s_key (1, schema);
    s_raw_put (fixture->path, "meta", "schema", 6, schema, 4);
    s_raw_put (fixture->path, "pairs", "alice", 5, "\x00\x01\x00\x00old", 7);
    s_raw_put (fixture->path, "pairs", "bob", 3, "\x00\x03\x00\x00newer", 9);

    //  Inspecting reads it as it is and changes nothing
    wp_store_info_t info;
    assert_int_equal (wp_store_inspect (fixture->path, &info, NULL, NULL), 0);
    assert_int_equal (info.schema, 1);
    assert_string_equal (info.owner, "");

    wp_store_opts_t opts = { .owner = "analyzer" };
    wp_store_t *store = wp_store_new (fixture->path, &opts);
    assert_non_null (store);
    char buffer [16];
    size_t length;
    uint16_t version;
    assert_int_equal (wp_store_get (store, "pairs", "alice", 5, buffer, sizeof (buffer),
                                    &length, &version), 0);
    assert_int_equal (length, 3);
    assert_memory_equal (buffer, "old", 3);
    assert_int_equal (version, 1);
    assert_int_equal (wp_store_get (store, "pairs", "bob", 3, buffer, sizeof (buffer),
                                    &length, &version), 0);
    assert_memory_equal (buffer, "newer", 5);
    assert_int_equal (version, 3);
    wp_store_destroy (&store);

    byte raw [16];
    assert_int_equal (s_raw_get (fixture->path, "meta", "schema", 6, raw, sizeof (raw)), 4);
    assert_int_equal (s_key_value (raw), WP_STORE_SCHEMA);
    assert_int_equal (s_raw_get (fixture->path, "meta", "owner", 5, raw, sizeof (raw)), 8);
    assert_memory_equal (raw, "analyzer", 8);

    //  Migrated once: it opens as it is now, and inspects so
    store = wp_store_new (fixture->path, &opts);
    assert_non_null (store);
    wp_store_destroy (&store);
    assert_int_equal (wp_store_inspect (fixture->path, &info, NULL, NULL), 0);
    assert_int_equal (info.schema, 2);
    assert_string_equal (info.owner, "analyzer");
}


//  A schema older than any the code migrates from is refused, unchanged
static void
test_schema_too_old (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    assert_int_equal (mkdir (fixture->path, 0775), 0);
    byte schema [4];
    s_key (WP_STORE_SCHEMA_MIN - 1, schema);
    s_raw_put (fixture->path, "meta", "schema", 6, schema, 4);
    assert_null (wp_store_new (fixture->path, NULL));
    byte raw [4];
    s_raw_get (fixture->path, "meta", "schema", 6, raw, sizeof (raw));
    assert_int_equal (s_key_value (raw), WP_STORE_SCHEMA_MIN - 1);
}


//  An environment records its owner: another component is refused, the
//  owner and an ownerless opener (the inspection tools) are not; one
//  created without an owner takes the first that opens it with one
static void
test_owner (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_opts_t perf = { .owner = "perf" };
    wp_store_opts_t analyzer = { .owner = "analyzer" };
    wp_store_t *store = wp_store_new (fixture->path, &perf);
    assert_non_null (store);
    assert_int_equal (wp_store_put (store, "models", "m", 1, "x", 1, 1), 0);
    wp_store_destroy (&store);

    assert_null (wp_store_new (fixture->path, &analyzer));
    store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    wp_store_destroy (&store);
    store = wp_store_new (fixture->path, &perf);
    assert_non_null (store);
    wp_store_destroy (&store);

    char *other = zsys_sprintf ("%s/other", fixture->dir);
    store = wp_store_new (other, NULL);
    assert_non_null (store);
    wp_store_destroy (&store);
    store = wp_store_new (other, &analyzer);
    assert_non_null (store);
    wp_store_destroy (&store);
    assert_null (wp_store_new (other, &perf));
    zstr_free (&other);

    wp_store_opts_t bad = { .owner = "" };
    assert_null (wp_store_new (fixture->path, &bad));
}


//  What wp_store_inspect reports per database and record version
typedef struct {
    char line [8][64];
    size_t lines;
} s_versions_t;

static void
s_version_seen (const char *db, uint16_t version, uint64_t records, void *arg)
{
    s_versions_t *seen = (s_versions_t *) arg;
    assert_true (seen->lines < 8);
    snprintf (seen->line [seen->lines++], 64, "%s v%u %" PRIu64, db, version, records);
}


//  inspect counts records by database and version, without the meta
//  database; a path with no environment is an error
static void
test_inspect (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_opts_t opts = { .owner = "queue" };
    wp_store_t *store = wp_store_new (fixture->path, &opts);
    assert_non_null (store);
    for (uint32_t id = 0; id < 5; id++)
        assert_int_equal (wp_store_put (store, "tasks", &id, 4, "t", 1, id < 3 ? 1 : 2), 0);
    assert_int_equal (wp_store_put (store, "other", "k", 1, "v", 1, 7), 0);
    wp_store_destroy (&store);

    s_versions_t seen = { .lines = 0 };
    wp_store_info_t info;
    assert_int_equal (wp_store_inspect (fixture->path, &info, s_version_seen, &seen), 0);
    assert_int_equal (info.schema, WP_STORE_SCHEMA);
    assert_string_equal (info.owner, "queue");
    assert_true (info.used_bytes > 0 && info.used_bytes <= info.map_size);
    assert_int_equal (seen.lines, 3);
    assert_string_equal (seen.line [0], "other v7 1");
    assert_string_equal (seen.line [1], "tasks v1 3");
    assert_string_equal (seen.line [2], "tasks v2 2");

    char *none = zsys_sprintf ("%s/none", fixture->dir);
    assert_int_equal (wp_store_inspect (none, &info, NULL, NULL), -1);
    zstr_free (&none);
}


//  A backup taken while the owner holds an open batch has what was
//  committed (not the batch), opens as the owner's store, and is never
//  written over
static void
test_backup (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    wp_store_opts_t opts = { .owner = "perf" };
    wp_store_t *store = wp_store_new (fixture->path, &opts);
    assert_non_null (store);
    for (uint32_t id = 0; id < 50; id++)
        assert_int_equal (s_put_id (store, "models", id, 100), 0);
    assert_int_equal (wp_store_flush (store), 0);
    assert_int_equal (s_put_id (store, "models", 99, 100), 0);     //  open batch

    char *copy = zsys_sprintf ("%s/backup/perf", fixture->dir);
    assert_int_equal (wp_store_backup (fixture->path, copy), 0);
    assert_int_equal (wp_store_backup (fixture->path, copy), -1);  //  not over one
    wp_store_destroy (&store);

    store = wp_store_new (copy, &opts);
    assert_non_null (store);
    for (uint32_t id = 0; id < 50; id++)
        s_check_id (store, "models", id, 100);
    byte key [4];
    s_key (99, key);
    char buffer [128];
    assert_int_equal (wp_store_get (store, "models", key, 4, buffer, sizeof (buffer),
                                    NULL, NULL), 1);
    wp_store_destroy (&store);
    wp_store_opts_t analyzer = { .owner = "analyzer" };
    assert_null (wp_store_new (copy, &analyzer));
    zstr_free (&copy);
}

//  Resident KiB of this process's mappings of `file` (/proc/self/smaps)
static size_t
s_mapped_kb (const char *file)
{
    FILE *smaps = fopen ("/proc/self/smaps", "r");
    assert_non_null (smaps);
    char line [1024];
    bool inside = false;
    size_t total = 0, kb;
    while (fgets (line, sizeof line, smaps)) {
        unsigned long start, end;
        if (sscanf (line, "%lx-%lx ", &start, &end) == 2)
            inside = strstr (line, file) != NULL;
        else
        if (inside && sscanf (line, "Rss: %zu kB", &kb) == 1)
            total += kb;
    }
    fclose (smaps);
    return total;
}


//  What LMDB touched through its map leaves the process's resident set,
//  on wp_store_release and by itself every 4,096 records read or
//  committed; the records read back the same after it
static void
test_map_release (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    char *file = zsys_sprintf ("%s/data.mdb", fixture->path);
    wp_store_t *store = wp_store_new (fixture->path, NULL);
    assert_non_null (store);
    //  2,000 records of 400 bytes (about 1 MB), read back: 4,000 records
    //  touched, below the automatic release
    for (uint32_t id = 0; id < 2000; id++)
        assert_int_equal (s_put_id (store, "pairs", id, 400), 0);
    assert_int_equal (wp_store_flush (store), 0);
    size_t count = 0;
    assert_int_equal (wp_store_iterate (store, "pairs", s_count, &count), 0);
    assert_int_equal (count, 2000);
    size_t resident = s_mapped_kb (file);
    assert_true (resident >= 512);
    assert_int_equal (wp_store_release (store), 0);
    assert_int_equal (s_mapped_kb (file), 0);
    for (uint32_t id = 0; id < 2000; id += 97)
        s_check_id (store, "pairs", id, 400);

    //  Automatic: 10,000 records (about 5 MB) walked whole, their pages
    //  released every 4,096, so no more than about 2,000 records' stay
    for (uint32_t id = 2000; id < 10000; id++)
        assert_int_equal (s_put_id (store, "pairs", id, 400), 0);
    assert_int_equal (wp_store_flush (store), 0);
    assert_int_equal (wp_store_release (store), 0);
    count = 0;
    assert_int_equal (wp_store_iterate (store, "pairs", s_count, &count), 0);
    assert_int_equal (count, 10000);
    assert_true (s_mapped_kb (file) < 2 * resident);
    for (uint32_t id = 0; id < 10000; id += 101)
        s_check_id (store, "pairs", id, 400);
    wp_store_destroy (&store);
    zstr_free (&file);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_put_get, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_not_found, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_capacity_too_small, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_delete, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_iterate_order, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_batch_autocommit, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_unflushed_visible, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_reopen, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_record_format, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_corrupt_record, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_input, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_max_dbs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_map_growth, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_map_growth_small_batches,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_map_max, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_schema_mismatch, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_path_is_file, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_creates_directory, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_options, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_migrate_schema_1, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_schema_too_old, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_owner, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_inspect, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_backup, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_map_release, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
