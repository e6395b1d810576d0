/*  =========================================================================
    warmup-store - look after the LMDB environments of a data directory:
    what each holds and what this build will do with it, a consistent
    backup while the service runs, a migration to this build's schema.

        warmup-store info PATH...
        warmup-store backup PATH DEST
        warmup-store migrate PATH...

    PATH is one environment (a folder holding data.mdb, as
    <data_dir>/analyzer) or a data directory (each of its folders that
    holds one). Exit 0 when every environment was handled, 1 otherwise,
    2 for bad arguments. docs/operations.md says when to use each.
    =========================================================================
*/
#include "wp_component.h"
#include <dirent.h>

static const char *s_usage =
    "usage: warmup-store COMMAND PATH...\n"
    "  info PATH...         each environment: its component, store schema and\n"
    "                       what this build does with it (opens, migrates,\n"
    "                       refuses), its databases by record version; reads\n"
    "                       only (safe while the service runs)\n"
    "  backup PATH DEST     a consistent, compacted copy of each environment in\n"
    "                       DEST/<its folder name>, safe while the service runs\n"
    "  migrate PATH...      bring each environment to this build's store schema\n"
    "                       now (stop the service first; it also happens when\n"
    "                       the new build opens it)\n"
    "PATH: one environment (a folder with data.mdb, e.g. /var/lib/warmup/analyzer)\n"
    "or a data directory (each of its folders that holds one)\n";

//  The environments PATH names, sorted; NULL (printed) when none.
static zlistx_t *
s_environments (const char *given)
{
    char path [4096];
    snprintf (path, sizeof path, "%s", given);
    for (size_t len = strlen (path); len > 1 && path [len - 1] == '/'; len--)
        path [len - 1] = 0;
    zlistx_t *list = zlistx_new ();
    zlistx_set_destructor (list, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (list, (zlistx_duplicator_fn *) strdup);
    zlistx_set_comparator (list, (zlistx_comparator_fn *) strcmp);
    char *file = zsys_sprintf ("%s/data.mdb", path);
    if (zsys_file_exists (file))
        zlistx_add_end (list, (void *) path);
    else {
        DIR *dir = opendir (path);
        struct dirent *entry;
        while (dir && (entry = readdir (dir))) {
            if (entry->d_name [0] == '.')
                continue;
            char *sub = zsys_sprintf ("%s/%s/data.mdb", path, entry->d_name);
            if (zsys_file_exists (sub)) {
                char *env = zsys_sprintf ("%s/%s", path, entry->d_name);
                zlistx_add_end (list, env);
                zstr_free (&env);
            }
            zstr_free (&sub);
        }
        if (dir)
            closedir (dir);
        zlistx_sort (list);
    }
    zstr_free (&file);
    if (zlistx_size (list) == 0) {
        fprintf (stderr, "warmup-store: %s: no LMDB environment there (no data.mdb in it "
                 "or in its folders)\n", path);
        zlistx_destroy (&list);
    }
    return list;
}

//  The last part of a path (without trailing slashes: see s_environments).
static const char *
s_basename (const char *path)
{
    const char *slash = strrchr (path, '/');
    return slash ? slash + 1 : path;
}

//  Print one database's records of one record version (wp_store_db_fn).
static void
s_print_db (const char *db, uint16_t version, uint64_t records, void *arg)
{
    if (version == UINT16_MAX)
        printf ("  %-12s %10" PRIu64 " records too short for a header (corrupt)\n", db,
                records);
    else
        printf ("  %-12s %10" PRIu64 " records of version %u\n", db, records, version);
}

//  info
static int
s_info (const char *env)
{
    wp_store_info_t info;
    if (wp_store_inspect (env, &info, NULL, NULL))
        return 1;
    const char *action = info.schema == WP_STORE_SCHEMA ? "opens it as it is"
                       : info.schema > WP_STORE_SCHEMA ? "REFUSES it: written by a newer warmup"
                       : info.schema >= WP_STORE_SCHEMA_MIN ? "migrates it when it opens it"
                       : "REFUSES it: not a warmup store, or too old";
    printf ("%s: component %s, store schema %u (this build reads %u-%u: %s); "
            "%zu KiB used of a %.0f MiB map\n", env, *info.owner ? info.owner : "(not recorded)",
            info.schema, WP_STORE_SCHEMA_MIN, WP_STORE_SCHEMA, action,
            info.used_bytes / 1024, info.map_size / 1048576.0);
    wp_store_inspect (env, &info, s_print_db, NULL);
    return info.schema > WP_STORE_SCHEMA || info.schema < WP_STORE_SCHEMA_MIN ? 1 : 0;
}

//  backup
static int
s_backup (const char *env, const char *dest)
{
    char *target = zsys_sprintf ("%s/%s", dest, s_basename (env));
    int rc = wp_store_backup (env, target);
    if (rc == 0) {
        wp_store_info_t info;
        wp_store_inspect (target, &info, NULL, NULL);
        printf ("%s -> %s (%zu KiB, store schema %u)\n", env, target,
                info.used_bytes / 1024, info.schema);
    }
    zstr_free (&target);
    return rc ? 1 : 0;
}

//  migrate: open with this build (as its component, when the folder is
//  named after one: the owner is recorded).
static int
s_migrate (const char *env)
{
    wp_store_info_t before;
    if (wp_store_inspect (env, &before, NULL, NULL))
        return 1;
    const char *name = s_basename (env);
    wp_store_opts_t opts = { .owner = wp_component_find (name) ? name : NULL };
    if (*before.owner)
        opts.owner = NULL;      //  recorded already: open without a claim
    wp_store_t *store = wp_store_new (env, &opts);
    if (!store) {
        fprintf (stderr, "warmup-store: %s: not migrated (see above)\n", env);
        return 1;
    }
    wp_store_destroy (&store);
    if (before.schema == WP_STORE_SCHEMA)
        printf ("%s: store schema %u already\n", env, before.schema);
    else
        printf ("%s: store schema %u -> %u\n", env, before.schema, WP_STORE_SCHEMA);
    return 0;
}

int
main (int argc, char **argv)
{
    zsys_init ();
    zsys_set_logident ("warmup-store");
    if (argc == 2 && (streq (argv [1], "-h") || streq (argv [1], "--help"))) {
        fputs (s_usage, stdout);
        return 0;
    }
    if (argc < 3) {
        fputs (s_usage, stderr);
        return 2;
    }
    const char *command = argv [1];
    if (!streq (command, "info") && !streq (command, "backup") && !streq (command, "migrate")) {
        fprintf (stderr, "warmup-store: unknown command '%s'\n%s", command, s_usage);
        return 2;
    }
    if (streq (command, "backup") && argc != 4) {
        fprintf (stderr, "warmup-store backup: needs PATH and DEST\n");
        return 2;
    }
    int rc = 0;
    int last = streq (command, "backup") ? 3 : argc;
    for (int i = 2; i < last; i++) {
        zlistx_t *envs = s_environments (argv [i]);
        if (!envs) {
            rc = 1;
            continue;
        }
        for (const char *env = (const char *) zlistx_first (envs); env;
             env = (const char *) zlistx_next (envs)) {
            int one = streq (command, "info") ? s_info (env)
                    : streq (command, "backup") ? s_backup (env, argv [3])
                    : s_migrate (env);
            rc = rc || one;
        }
        zlistx_destroy (&envs);
    }
    return rc;
}
