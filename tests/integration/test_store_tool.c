/*  =========================================================================
    test_store_tool - warmup-store, the operator's tool for a data
    directory: info says per environment what this build does with it
    (opens, migrates, refuses); migrate brings an older store schema up,
    recording the component; backup copies an environment consistently and
    never over another; bad paths and arguments are errors.
    =========================================================================
*/
#include "testutil.h"
#include "wp_store.h"
#include <czmq.h>
#include <lmdb.h>

//  Run warmup-store with args (NULL-ended); its output in *output.
static int
s_tool (const char *const args [], char **output)
{
    char *path = wp_test_bin ("warmup-store");
    const char *argv [8] = { path };
    for (int i = 0; args [i] && i < 6; i++)
        argv [i + 1] = args [i];
    int code = wp_test_run (argv, 20000, output);
    free (path);
    return code;
}

//  An environment written by hand: meta "schema" = schema, and a record of
//  record version 1 in database "pairs".
static void
s_raw_env (const char *path, uint32_t schema)
{
    assert_int_equal (zsys_dir_create ("%s", path), 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal (mdb_env_create (&env), 0);
    assert_int_equal (mdb_env_set_maxdbs (env, 4), 0);
    assert_int_equal (mdb_env_open (env, path, 0, 0664), 0);
    assert_int_equal (mdb_txn_begin (env, NULL, 0, &txn), 0);
    byte number [4] = { (byte) (schema >> 24), (byte) (schema >> 16), (byte) (schema >> 8),
                        (byte) schema };
    MDB_val key = { 6, (void *) "schema" }, value = { 4, number };
    assert_int_equal (mdb_dbi_open (txn, "meta", MDB_CREATE, &dbi), 0);
    assert_int_equal (mdb_put (txn, dbi, &key, &value, 0), 0);
    MDB_val pkey = { 5, (void *) "alice" }, pvalue = { 7, (void *) "\x00\x01\x00\x00old" };
    assert_int_equal (mdb_dbi_open (txn, "pairs", MDB_CREATE, &dbi), 0);
    assert_int_equal (mdb_put (txn, dbi, &pkey, &pvalue, 0), 0);
    assert_int_equal (mdb_txn_commit (txn), 0);
    mdb_env_close (env);
}

//  A data directory: analyzer of schema 1, perf of a newer schema than
//  this build's, queue of this build with two tasks.
static char *
s_data_dir (char **dir_p)
{
    *dir_p = wp_test_tmpdir ("wp-store-tool");
    char *data = zsys_sprintf ("%s/var", *dir_p);
    char *path = zsys_sprintf ("%s/analyzer", data);
    s_raw_env (path, 1);
    zstr_free (&path);
    path = zsys_sprintf ("%s/perf", data);
    s_raw_env (path, WP_STORE_SCHEMA + 1);
    zstr_free (&path);
    path = zsys_sprintf ("%s/queue", data);
    wp_store_opts_t opts = { .owner = "queue" };
    wp_store_t *store = wp_store_new (path, &opts);
    assert_non_null (store);
    assert_int_equal (wp_store_put (store, "tasks", "t1", 2, "x", 1, 1), 0);
    assert_int_equal (wp_store_put (store, "tasks", "t2", 2, "y", 1, 1), 0);
    wp_store_destroy (&store);
    zstr_free (&path);
    return data;
}

//  info over a data directory: every environment, and what this build
//  does with it; exit 1 because one is refused
static void
test_info (void **state)
{
    char *dir;
    char *data = s_data_dir (&dir);
    char *output;
    const char *args [] = { "info", data, NULL };
    assert_int_equal (s_tool (args, &output), 1);
    assert_non_null (strstr (output, "/analyzer: component (not recorded), store schema 1 "));
    assert_non_null (strstr (output, "migrates it when it opens it"));
    assert_non_null (strstr (output, "/perf: component (not recorded), store schema 3 "));
    assert_non_null (strstr (output, "REFUSES it: written by a newer warmup"));
    assert_non_null (strstr (output, "/queue: component queue, store schema 2 "));
    assert_non_null (strstr (output, "opens it as it is"));
    assert_non_null (strstr (output, "tasks                 2 records of version 1"));
    //  Read only: the analyzer is still schema 1
    wp_store_info_t info;
    char *analyzer = zsys_sprintf ("%s/analyzer", data);
    assert_int_equal (wp_store_inspect (analyzer, &info, NULL, NULL), 0);
    assert_int_equal (info.schema, 1);
    free (output);

    const char *nothing [] = { "info", dir, NULL };     //  no environment in it
    assert_int_equal (s_tool (nothing, &output), 1);
    assert_non_null (strstr (output, "no LMDB environment there"));
    free (output);
    zstr_free (&analyzer);
    zstr_free (&data);
    wp_test_rmtree (dir);
    free (dir);
}

//  migrate: schema 1 -> 2 with the folder's component recorded; a newer
//  schema is refused, unchanged
static void
test_migrate (void **state)
{
    char *dir;
    char *data = s_data_dir (&dir);
    char *analyzer = zsys_sprintf ("%s/analyzer/", data);   //  a trailing slash
    char *perf = zsys_sprintf ("%s/perf", data);
    char *output;
    const char *args [] = { "migrate", analyzer, NULL };
    assert_int_equal (s_tool (args, &output), 0);
    assert_non_null (strstr (output, "store schema 1 -> 2"));
    free (output);
    wp_store_info_t info;
    assert_int_equal (wp_store_inspect (analyzer, &info, NULL, NULL), 0);
    assert_int_equal (info.schema, 2);
    assert_string_equal (info.owner, "analyzer");
    //  The record it had is read as before
    wp_store_opts_t opts = { .owner = "analyzer" };
    wp_store_t *store = wp_store_new (analyzer, &opts);
    assert_non_null (store);
    char value [8];
    size_t length;
    assert_int_equal (wp_store_get (store, "pairs", "alice", 5, value, sizeof value, &length,
                                    NULL), 0);
    assert_memory_equal (value, "old", 3);
    wp_store_destroy (&store);

    const char *newer [] = { "migrate", perf, NULL };
    assert_int_equal (s_tool (newer, &output), 1);
    assert_non_null (strstr (output, "environment has store schema 3, this program reads "
                                     "schemas 1 to 2; refusing to open"));
    assert_non_null (strstr (output, "not migrated"));
    free (output);
    assert_int_equal (wp_store_inspect (perf, &info, NULL, NULL), 0);
    assert_int_equal (info.schema, 3);
    zstr_free (&analyzer);
    zstr_free (&perf);
    zstr_free (&data);
    wp_test_rmtree (dir);
    free (dir);
}

//  backup: a copy per environment under DEST, opened by its component;
//  never over an existing one
static void
test_backup (void **state)
{
    char *dir;
    char *data = s_data_dir (&dir);
    char *queue = zsys_sprintf ("%s/queue", data);
    char *dest = zsys_sprintf ("%s/backup", dir);
    char *output;
    const char *args [] = { "backup", queue, dest, NULL };
    assert_int_equal (s_tool (args, &output), 0);
    assert_non_null (strstr (output, "/backup/queue ("));
    free (output);
    char *copy = zsys_sprintf ("%s/queue", dest);
    wp_store_opts_t opts = { .owner = "queue" };
    wp_store_t *store = wp_store_new (copy, &opts);
    assert_non_null (store);
    char value [4];
    assert_int_equal (wp_store_get (store, "tasks", "t2", 2, value, sizeof value, NULL, NULL), 0);
    assert_int_equal (value [0], 'y');
    wp_store_destroy (&store);

    assert_int_equal (s_tool (args, &output), 1);
    assert_non_null (strstr (output, "already holds an environment"));
    free (output);

    const char *missing [] = { "backup", queue, NULL };
    assert_int_equal (s_tool (missing, &output), 2);
    free (output);
    const char *unknown [] = { "restore", queue, NULL };
    assert_int_equal (s_tool (unknown, &output), 2);
    assert_non_null (strstr (output, "unknown command 'restore'"));
    free (output);
    zstr_free (&copy);
    zstr_free (&queue);
    zstr_free (&dest);
    zstr_free (&data);
    wp_test_rmtree (dir);
    free (dir);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_info),
        cmocka_unit_test (test_migrate),
        cmocka_unit_test (test_backup),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
