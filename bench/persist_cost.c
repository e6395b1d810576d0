/*  =========================================================================
    persist-cost - what the analyzer's persistence costs per usage event,
    the two ways in one run on the same deterministic workload (the
    stage-cost one): the records a batch of events changed written into
    LMDB (one write transaction per batch: a B-tree page rewritten per
    changed pair), and appended to the journal (one write and one
    fdatasync per batch) with its checkpoints into LMDB (at
    store/journal_max_kb, and one at the end). Prints, per event: ns, the
    bytes the process wrote to disk (/proc/self/io), and the syncs. Run
    it under callgrind for instruction counts (user space only: the
    kernel's share of a write shows in ns and bytes):

        build/bin/persist-cost [--events N] [--users N] [--batch N] [--nosync]
        valgrind --tool=callgrind build/bin/persist-cost --events 100000
    =========================================================================
*/
#include <czmq.h>
#include <inttypes.h>
#include "wp_util.h"
#include "bench_util.h"
#include "wp_analyzer.h"
#include "wp_analyzer_log.h"
#include "wp_store.h"

//  A counter of /proc/self/io (0 when not readable): "wchar" the bytes
//  handed to write calls, "write_bytes" those sent to the storage layer.
static uint64_t
s_io (const char *name)
{
    FILE *file = fopen ("/proc/self/io", "r");
    if (!file)
        return 0;
    char line [128];
    uint64_t bytes = 0;
    size_t len = strlen (name);
    while (fgets (line, sizeof line, file))
        if (strncmp (line, name, len) == 0 && line [len] == ':') {
            bytes = strtoull (line + len + 1, NULL, 10);
            break;
        }
    fclose (file);
    return bytes;
}

//  Write one drained record into the store (the analyzer's former path).
static int
s_store_record (const char *db, const void *key, size_t key_len, const void *value,
                size_t value_len, void *arg)
{
    wp_store_t *store = (wp_store_t *) arg;
    if (value)
        return wp_store_put (store, db, key, key_len, value, value_len,
                             WP_ANALYZER_RECORD_VERSION);
    return wp_store_del (store, db, key, key_len);
}

//  One way of persisting: run the workload, print its cost.
static int
s_run (const char *name, const char *dir, bool journal, bool at_once, long events,
       long users, long models, long batch, bool nosync)
{
    char **user_names = bench_names_new ("user-", 6, users);
    char **model_names = bench_names_new ("model-", 3, models);
    wp_analyzer_t *analyzer = wp_analyzer_new (NULL);
    wp_store_opts_t store_opts = { .batch_max = (unsigned) batch, .nosync = nosync,
                                   .owner = "analyzer" };
    wp_store_t *store = wp_store_new (dir, &store_opts);
    if (!store)
        return 1;
    wp_analyzer_log_opts_t log_opts = { .dir = dir, .nosync = nosync,
                                        .pending_max = (uint32_t) (16 * batch),
                                        .checkpoint_ms = 60000,
                                        .journal_max = (uint64_t) 65536 << 10 };
    char why [1024];
    bool refused;
    wp_analyzer_log_t *log = journal ? wp_analyzer_log_new (store, &log_opts, why,
                                                            sizeof why, &refused)
                                     : NULL;
    if (journal && !log) {
        fprintf (stderr, "persist-cost: %s\n", why);
        return 1;
    }
    uint8_t key [16] = { 0 };
    uint64_t seed = 88172645463325252ULL;
    uint64_t now = 1700000000000ULL;
    double observe_ns = 0, persist_ns = 0, stop_max_ms = 0;
    double begin_max_ms = 0, slice_max_ms = 0;  //  in slices: the longest of each
    uint64_t slices = 0, slices_over_5ms = 0;
    uint64_t records = 0, flushes = 0;
    uint64_t written = s_io ("write_bytes"), handed = s_io ("wchar");
    for (long e = 0; e < events; e++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        now += 5;
        uint64_t t0 = wp_mono_ns ();
        uint64_t user = wp_user_hash (key, user_names [seed % (uint64_t) users]);
        wp_analyzer_observe (analyzer, user, model_names [(seed >> 32) % (uint64_t) models],
                             now);
        uint64_t t1 = wp_mono_ns ();
        observe_ns += (double) (t1 - t0);
        if ((e + 1) % batch && e + 1 < events)
            continue;
        //  A flush: the batch's records, made durable
        int drained;
        if (journal) {
            drained = wp_analyzer_drain (analyzer, wp_analyzer_log_record, log);
            if (drained < 0 || wp_analyzer_log_flush (log))
                return 1;
            //  (by size only: the run is shorter than checkpoint_s); a
            //  stop of the thread: a whole checkpoint, or its beginning
            //  and then one slice after each batch
            uint64_t c0 = wp_mono_ns ();
            if (at_once && wp_analyzer_log_due (log, 1)
                && wp_analyzer_log_checkpoint (log, 1))
                return 1;
            bool begins = !at_once && !wp_analyzer_log_busy (log)
                          && wp_analyzer_log_due (log, 1);
            if (begins && wp_analyzer_log_begin (log, 1))
                return 1;
            uint64_t c1 = wp_mono_ns ();
            bool steps = !at_once && wp_analyzer_log_busy (log);
            if (steps && wp_analyzer_log_step (log) < 0)
                return 1;
            double ms = (double) (wp_mono_ns () - c0) / 1e6;
            if (ms > stop_max_ms)
                stop_max_ms = ms;
            if (begins && (double) (c1 - c0) / 1e6 > begin_max_ms)
                begin_max_ms = (double) (c1 - c0) / 1e6;
            if (steps) {
                double slice_ms = (double) (wp_mono_ns () - c1) / 1e6;
                if (slice_ms > slice_max_ms)
                    slice_max_ms = slice_ms;
                slices++;
                if (slice_ms > 5)
                    slices_over_5ms++;
            }
        }
        else {
            drained = wp_analyzer_drain (analyzer, s_store_record, store);
            if (drained < 0 || wp_store_flush (store))
                return 1;
        }
        records += (uint64_t) drained;
        flushes++;
        persist_ns += (double) (wp_mono_ns () - t1);
    }
    //  The journal's last checkpoint (a clean stop's)
    uint64_t t2 = wp_mono_ns ();
    uint64_t checkpoints = 0;
    if (journal) {
        if (wp_analyzer_log_checkpoint (log, 2))
            return 1;
        checkpoints = wp_analyzer_log_checkpoints (log);
    }
    persist_ns += (double) (wp_mono_ns () - t2);
    written = s_io ("write_bytes") - written;
    handed = s_io ("wchar") - handed;
    printf ("persist-cost %-8s %ld events, %ld users x %ld models (%zu pairs), batch %ld%s:\n"
            "  observe %6.0f ns/event; persist %6.0f ns/event; bytes/event %7.0f written, "
            "%7.0f to storage; %.2f records/event, %" PRIu64 " flushes (%" PRIu64
            " checkpoints, the longest stop %.1f ms)\n",
            name, events, users, models, wp_analyzer_pairs (analyzer), batch,
            nosync ? ", nosync" : "", observe_ns / events, persist_ns / events,
            (double) handed / events, (double) written / events, (double) records / events, flushes, checkpoints, stop_max_ms);
    if (journal && !at_once)
        printf ("  in slices: the longest begin (a new generation) %.1f ms, the longest "
                "slice %.1f ms; %" PRIu64 " slices, %" PRIu64 " over 5 ms\n", begin_max_ms,
                slice_max_ms, slices, slices_over_5ms);
    wp_analyzer_log_destroy (&log);
    wp_store_destroy (&store);
    wp_analyzer_destroy (&analyzer);
    bench_names_destroy (&user_names, users);
    bench_names_destroy (&model_names, models);
    return 0;
}

int
main (int argc, char **argv)
{
    long events = 300000, users = 10000, models = 20, batch = 1000;
    bool nosync = false;
    const char *only = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (streq (argv [i], "--nosync"))
            nosync = true;
        else
        if (i + 1 < argc && streq (argv [i], "--events"))
            events = atol (argv [++i]);
        else
        if (i + 1 < argc && streq (argv [i], "--users"))
            users = atol (argv [++i]);
        else
        if (i + 1 < argc && streq (argv [i], "--batch"))
            batch = atol (argv [++i]);
        else
        if (i + 1 < argc && streq (argv [i], "--only"))
            only = argv [++i];
        else
            break;
    }
    if (i < argc || events <= 0 || users <= 0 || batch <= 0 || batch > 1000000
        || (only && !streq (only, "lmdb") && !streq (only, "at-once")
            && !streq (only, "journal"))) {
        fprintf (stderr, "usage: persist-cost [--events N] [--users N] [--batch N] "
                         "[--nosync] [--only lmdb|at-once|journal]\n");
        return 2;
    }
    char template_ [] = "/tmp/persist-cost-XXXXXX";
    char *root = mkdtemp (template_);
    if (!root)
        return 1;
    int rc = 0;
    const char *ways [] = { "lmdb", "at-once", "journal" };
    for (int w = 0; w < 3 && rc == 0; w++) {
        if (only && !streq (only, ways [w]))
            continue;
        char *dir = zsys_sprintf ("%s/%s", root, ways [w]);
        rc = s_run (ways [w], dir, w > 0, w == 1, events, users, models, batch, nosync);
        char *command = zsys_sprintf ("rm -rf '%s'", dir);
        if (system (command)) {
            //  (a scratch directory left behind)
        }
        zstr_free (&command);
        zstr_free (&dir);
    }
    rmdir (root);
    return rc;
}
