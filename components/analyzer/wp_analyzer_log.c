/*  =========================================================================
    wp_analyzer_log - the analyzer's persistence: an append-only journal of
    its pair and model records, checkpointed into its LMDB.
    =========================================================================
*/
#include "wp_analyzer_log.h"
#include "wp_analyzer.h"
#include "wp_journal.h"
#include "wp_util.h"

#include <czmq.h>

#define S_DB_MODELS 1
#define S_DB_PAIRS 2
#define S_PAYLOAD_HEADER 6
#define S_COVERED_VERSION 1
//  A checkpoint's slices, each a few ms of the actor's thread: records
//  indexed, entries sorted into one run, writes applied and committed
//  (in key order: each transaction changes a run of neighbouring leaf
//  pages, each once)
#define S_STEP_SCAN 16384
#define S_STEP_SORT 8192
#define S_STEP_WRITES 1024            //  (the default of slice_writes)

//  The checkpoint's copies of the keys go into blocks of this size (one
//  allocation per block, not per key; freed when the checkpoint ends).
#define S_KEY_BLOCK (1u << 20)

//  A block of keys.
typedef struct _s_key_block_t {
    struct _s_key_block_t *next;    //  the block filled before
    size_t used, cap;
    uint8_t data [];
} s_key_block_t;

//  A checkpoint's phases.
typedef enum { S_IDLE, S_INDEX, S_SORT, S_APPLY } s_phase_t;

//  A sorted run of the index, merged with the others: the next entry, the
//  end.
typedef struct {
    size_t at, end;
} s_run_t;

//  A record of the journal past the checkpoint, for the checkpoint's
//  key order: its database and key (copied), its offset.
typedef struct {
    uint64_t prefix;            //  its first 8 bytes, big-endian, 0-padded
                                //  (most comparisons end there)
    uint8_t *key;               //  db byte, then the key
    size_t key_len;             //  its bytes, the db byte included
    uint64_t offset;            //  the record's offset in the journal
} s_entry_t;

struct _wp_analyzer_log_t {
    wp_store_t *store;          //  the analyzer's LMDB (borrowed)
    wp_journal_t *journal;      //  the journal's generation appended to
    char *path;                 //  its file
    wp_journal_t *old;          //  the generation a checkpoint applies, NULL
                                //  when none is in progress
    char *old_path;             //  its file
    s_phase_t phase;            //  where the checkpoint is
    uint64_t scan_at;           //  offset the index goes on from
    uint32_t scanned;           //  records indexed in this slice
    size_t sorted;              //  entries sorted into runs
    s_run_t *runs;              //  the runs, a heap on their next entries
    size_t n_runs, runs_cap;
    uint8_t *scratch;           //  one payload being built or read
    size_t scratch_cap;
    uint64_t covered_gen;       //  what LMDB covers: generation and offset
    uint64_t covered_off;
    uint32_t checkpoint_ms;     //  checkpoint at least this often
    uint32_t slice_writes;      //  writes per slice of a checkpoint
    uint64_t journal_max;       //  or past this many bytes
    uint64_t hold_bytes;        //  full past this many bytes of files (0: never)
    uint64_t checkpoint_at;     //  when the last checkpoint ran, ms (0: not yet)
    uint64_t checkpoints;       //  checkpoints done
    uint64_t applied;           //  records checkpoints applied since open
    uint64_t failed_at;         //  offset of a record that does not parse
    bool refused;               //  the store refused a write of the latest
                                //  checkpoint
    uint64_t failures;          //  checkpoints that failed (logs thinned)
    s_entry_t *entries;         //  the checkpoint's records, key order
    size_t n_entries, entries_cap;
    s_key_block_t *keys;        //  their keys' copies, the latest block first
};

//  Room for a key's copy of len bytes.
static uint8_t *
s_key_alloc (wp_analyzer_log_t *self, size_t len)
{
    s_key_block_t *block = self->keys;
    if (!block || block->used + len > block->cap) {
        size_t cap = len > S_KEY_BLOCK ? len : S_KEY_BLOCK;
        block = (s_key_block_t *) malloc (sizeof (s_key_block_t) + cap);
        assert (block);
        block->next = self->keys;
        block->used = 0;
        block->cap = cap;
        self->keys = block;
    }
    uint8_t *key = block->data + block->used;
    block->used += len;
    return key;
}

//  Read the covered position from the store (0, 0 when none).
static int
s_covered_get (wp_analyzer_log_t *self)
{
    uint8_t value [16];
    size_t len = 0;
    int rc = wp_store_get (self->store, "journal", "covered", 7, value, sizeof value, &len,
                           NULL);
    if (rc < 0)
        return -1;
    if (rc == 0 && len == 16) {
        self->covered_gen = wp_get_u64 (value);
        self->covered_off = wp_get_u64 (value + 8);
    }
    return 0;
}

//  Where a checkpoint of journal starts: past the covered position, or
//  its end when LMDB covers it all.
static uint64_t
s_from (wp_analyzer_log_t *self, wp_journal_t *journal)
{
    uint64_t generation = wp_journal_generation (journal);
    uint64_t size = wp_journal_size (journal);
    if (generation > self->covered_gen)
        return WP_JOURNAL_HEADER;
    if (generation < self->covered_gen || self->covered_off >= size)
        return size;
    return self->covered_off > WP_JOURNAL_HEADER ? self->covered_off : WP_JOURNAL_HEADER;
}

//  Check a payload's header; fills db, op, version and the key. Returns
//  0, or -1 for one that is not an analyzer record.
static int
s_parse (const uint8_t *p, size_t size, uint8_t *db, uint8_t *op, uint16_t *version,
         size_t *key_len)
{
    if (size < S_PAYLOAD_HEADER)
        return -1;
    *db = p [0];
    *op = p [1];
    *version = (uint16_t) ((p [2] << 8) | p [3]);
    *key_len = (size_t) ((p [4] << 8) | p [5]);
    if ((*db != S_DB_MODELS && *db != S_DB_PAIRS) || *op > 1 || *key_len == 0
        || S_PAYLOAD_HEADER + *key_len > size
        || (*op == 0 && S_PAYLOAD_HEADER + *key_len != size)
        || (*op == 1 && S_PAYLOAD_HEADER + *key_len == size))
        return -1;
    return 0;
}

//  Note one journal record for the checkpoint (its key and offset).
static int
s_index (const void *data, size_t size, uint64_t offset, void *arg)
{
    wp_analyzer_log_t *self = (wp_analyzer_log_t *) arg;
    const uint8_t *p = (const uint8_t *) data;
    uint8_t db, op;
    uint16_t version;
    size_t key_len;
    if (s_parse (p, size, &db, &op, &version, &key_len)) {
        self->failed_at = offset;
        return -1;
    }
    if (self->n_entries == self->entries_cap) {
        self->entries_cap = self->entries_cap ? self->entries_cap * 2 : 1024;
        self->entries = (s_entry_t *) realloc (self->entries,
                                               self->entries_cap * sizeof (s_entry_t));
        assert (self->entries);
    }
    s_entry_t *entry = &self->entries [self->n_entries++];
    entry->key_len = 1 + key_len;
    entry->key = s_key_alloc (self, entry->key_len);
    entry->key [0] = db;
    memcpy (entry->key + 1, p + S_PAYLOAD_HEADER, key_len);
    entry->offset = offset;
    entry->prefix = 0;
    for (size_t i = 0; i < 8; i++)
        entry->prefix = (entry->prefix << 8) | (i < entry->key_len ? entry->key [i] : 0);
    self->scan_at = offset + WP_JOURNAL_RECORD_HEADER + size;
    return ++self->scanned < S_STEP_SCAN ? 0 : 1;     //  1: the slice is done
}

//  Key order as LMDB's (bytes, then the shorter first), then offset.
static int
s_entry_compare (const void *a, const void *b)
{
    const s_entry_t *x = (const s_entry_t *) a, *y = (const s_entry_t *) b;
    if (x->prefix != y->prefix)
        return x->prefix < y->prefix ? -1 : 1;
    size_t len = x->key_len < y->key_len ? x->key_len : y->key_len;
    int rc = memcmp (x->key, y->key, len);
    if (rc == 0 && x->key_len != y->key_len)
        rc = x->key_len < y->key_len ? -1 : 1;
    if (rc == 0 && x->offset != y->offset)
        rc = x->offset < y->offset ? -1 : 1;
    return rc;
}

//  Forget the checkpoint's records.
static void
s_entries_clear (wp_analyzer_log_t *self)
{
    while (self->keys) {
        s_key_block_t *next = self->keys->next;
        free (self->keys);
        self->keys = next;
    }
    self->n_entries = 0;
    self->n_runs = 0;
}

//  True when run a's next entry comes before run b's.
static bool
s_run_before (wp_analyzer_log_t *self, size_t a, size_t b)
{
    return s_entry_compare (&self->entries [self->runs [a].at],
                            &self->entries [self->runs [b].at]) < 0;
}

//  Restore the heap below run i.
static void
s_sift_down (wp_analyzer_log_t *self, size_t i)
{
    while (true) {
        size_t least = i, left = 2 * i + 1, right = left + 1;
        if (left < self->n_runs && s_run_before (self, left, least))
            least = left;
        if (right < self->n_runs && s_run_before (self, right, least))
            least = right;
        if (least == i)
            return;
        s_run_t swap = self->runs [i];
        self->runs [i] = self->runs [least];
        self->runs [least] = swap;
        i = least;
    }
}

//  Take the next entry of the merged runs (key order), NULL when none.
static s_entry_t *
s_merge_next (wp_analyzer_log_t *self)
{
    if (self->n_runs == 0)
        return NULL;
    s_entry_t *entry = &self->entries [self->runs [0].at++];
    if (self->runs [0].at == self->runs [0].end)
        self->runs [0] = self->runs [--self->n_runs];
    if (self->n_runs)
        s_sift_down (self, 0);
    return entry;
}

//  Apply one journal record's payload to the store.
static int
s_apply (wp_analyzer_log_t *self, const uint8_t *p, size_t size, uint64_t offset)
{
    uint8_t db, op;
    uint16_t version;
    size_t key_len;
    if (s_parse (p, size, &db, &op, &version, &key_len)) {
        self->failed_at = offset;
        return -1;
    }
    const char *name = db == S_DB_MODELS ? "models" : "pairs";
    const uint8_t *key = p + S_PAYLOAD_HEADER;
    self->applied++;
    //  A write the store refuses (counted and logged by it) stops the
    //  checkpoint: the journal keeps the records for the next one
    int rc = op == 0 ? wp_store_del (self->store, name, key, key_len)
                     : wp_store_put (self->store, name, key, key_len, key + key_len,
                                     size - S_PAYLOAD_HEADER - key_len, version);
    if (rc)
        self->refused = true;
    return rc;
}

//  Start the checkpoint of self->old from where LMDB's covered position
//  leaves it.
static void
s_start (wp_analyzer_log_t *self)
{
    s_entries_clear (self);
    self->phase = S_INDEX;
    self->scan_at = s_from (self, self->old);
}

//  The old generation is in LMDB (or was already): forget it.
static void
s_finish (wp_analyzer_log_t *self)
{
    uint64_t generation = wp_journal_generation (self->old);
    if (generation >= self->covered_gen) {
        self->covered_gen = generation;
        self->covered_off = wp_journal_size (self->old);
    }
    wp_journal_destroy (&self->old);
    if (unlink (self->old_path))
        zsys_warning ("analyzer: cannot remove %s (covered by the checkpoint): %s",
                      self->old_path, strerror (errno));
    s_entries_clear (self);
    //  (its index is as large as the journal was: not kept between
    //  checkpoints)
    free (self->entries);
    self->entries = NULL;
    self->entries_cap = 0;
    self->phase = S_IDLE;
}

//  A slice of the index: the next S_STEP_SCAN records (unchecked: each
//  record applied is read back and checked).
static int
s_step_index (wp_analyzer_log_t *self)
{
    self->scanned = 0;
    int rc = wp_journal_scan (self->old, self->scan_at, s_index, self);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        self->phase = S_SORT;
        self->sorted = 0;
        self->n_runs = 0;
    }
    return 0;
}

//  A slice of the sort: one more run of S_STEP_SORT entries; the heap of
//  runs when all are sorted.
static int
s_step_sort (wp_analyzer_log_t *self)
{
    size_t end = self->sorted + S_STEP_SORT < self->n_entries ? self->sorted + S_STEP_SORT
                                                              : self->n_entries;
    if (end > self->sorted) {
        qsort (self->entries + self->sorted, end - self->sorted, sizeof (s_entry_t),
               s_entry_compare);
        if (self->n_runs == self->runs_cap) {
            self->runs_cap = self->runs_cap ? self->runs_cap * 2 : 64;
            self->runs = (s_run_t *) realloc (self->runs, self->runs_cap * sizeof (s_run_t));
            assert (self->runs);
        }
        self->runs [self->n_runs++] = (s_run_t) { .at = self->sorted, .end = end };
        self->sorted = end;
    }
    if (self->sorted == self->n_entries) {
        for (size_t i = self->n_runs; i-- > 0; )
            s_sift_down (self, i);
        self->phase = S_APPLY;
        if (self->n_entries
            && (!self->scratch || self->scratch_cap < WP_JOURNAL_RECORD_MAX)) {
            self->scratch_cap = WP_JOURNAL_RECORD_MAX;
            self->scratch = (uint8_t *) realloc (self->scratch, self->scratch_cap);
            assert (self->scratch);
        }
    }
    return 0;
}

//  A slice of the writes: the next slice_writes keys' latest records,
//  committed; after the last, the covered position with them.
static int
s_step_apply (wp_analyzer_log_t *self)
{
    //  One transaction for the slice, the owner's size after
    unsigned batch_max = wp_store_set_batch_max (self->store, self->slice_writes + 1);
    int rc = 0;
    for (uint32_t writes = 0; rc == 0 && writes < self->slice_writes; ) {
        s_entry_t *entry = s_merge_next (self);
        if (!entry)
            break;
        if (self->n_runs) {
            const s_entry_t *next = &self->entries [self->runs [0].at];
            if (entry->key_len == next->key_len
                && memcmp (entry->key, next->key, entry->key_len) == 0)
                continue;       //  a later record of the key follows
        }
        size_t size;
        rc = wp_journal_read (self->old, entry->offset, self->scratch, self->scratch_cap,
                              &size);
        if (rc == 0)
            rc = s_apply (self, self->scratch, size, entry->offset);
        writes++;
    }
    if (rc && self->refused && wp_log_should (++self->failures))
        zsys_error ("analyzer: the store refuses writes (see above): the checkpoint "
                    "of %s stopped; the journal keeps the records and grows until "
                    "the store takes them", self->old_path);
    bool last = rc == 0 && self->n_runs == 0;
    if (last && wp_journal_generation (self->old) >= self->covered_gen) {
        uint8_t covered [16];
        wp_put_u64 (covered, wp_journal_generation (self->old));
        wp_put_u64 (covered + 8, wp_journal_size (self->old));
        rc = wp_store_put (self->store, "journal", "covered", 7, covered, sizeof covered,
                           S_COVERED_VERSION);
    }
    if (rc == 0 && wp_store_flush (self->store))
        rc = -1;
    if (rc && !self->refused && wp_log_should (++self->failures))
        zsys_error ("analyzer: the checkpoint of %s could not commit; it is applied "
                    "again from its start", self->old_path);
    wp_store_set_batch_max (self->store, batch_max);
    if (rc)
        return -1;
    if (last) {
        self->checkpoints++;
        s_finish (self);
    }
    return 0;
}

//  Open one journal file at path (gen: its generation when created),
//  moving a refused one aside with reset. Returns NULL with why and
//  *fail filled.
static wp_journal_t *
s_open (const char *path, const wp_analyzer_log_opts_t *opts, uint64_t gen,
        wp_journal_fail_t *fail, char *why, size_t why_size)
{
    wp_journal_opts_t journal_opts = { .nosync = opts->nosync, .generation = gen,
                                       .pending_max = opts->pending_max };
    wp_journal_t *journal = wp_journal_open (path, &journal_opts, fail, why, why_size);
    if (!journal && *fail != WP_JOURNAL_FAIL_IO && opts->reset) {
        char moved [1024];
        if (wp_journal_set_aside (path, moved, sizeof moved) == 0) {
            zsys_warning ("analyzer: --reset-store: the refused journal was moved aside "
                          "to %s (%s); starting from the checkpoint in LMDB", moved, why);
            journal = wp_journal_open (path, &journal_opts, fail, why, why_size);
        }
    }
    return journal;
}

//  Open, recover.
wp_analyzer_log_t *
wp_analyzer_log_new (wp_store_t *store, const wp_analyzer_log_opts_t *opts, char *why,
                     size_t why_size, bool *refused)
{
    assert (store && opts && opts->dir && refused);
    *refused = false;
    wp_analyzer_log_t *self = (wp_analyzer_log_t *) zmalloc (sizeof (wp_analyzer_log_t));
    assert (self);
    self->store = store;
    self->path = zsys_sprintf ("%s/%s", opts->dir, WP_ANALYZER_JOURNAL);
    self->old_path = zsys_sprintf ("%s/%s", opts->dir, WP_ANALYZER_JOURNAL_OLD);
    assert (self->path && self->old_path);
    self->checkpoint_ms = opts->checkpoint_ms;
    self->journal_max = opts->journal_max;
    self->hold_bytes = opts->hold_bytes;
    self->slice_writes = opts->slice_writes ? opts->slice_writes : S_STEP_WRITES;
    if (s_covered_get (self)) {
        snprintf (why, why_size, "cannot read the journal position in the store of %s",
                  opts->dir);
        wp_analyzer_log_destroy (&self);
        return NULL;
    }
    //  A generation a checkpoint was applying when the process stopped
    //  (it comes before the journal's)
    wp_journal_fail_t fail;
    uint64_t next_gen = self->covered_gen + 1;
    if (access (self->old_path, F_OK) == 0) {
        self->old = s_open (self->old_path, opts, self->covered_gen, &fail, why, why_size);
        if (!self->old && access (self->old_path, F_OK) == 0) {
            *refused = true;
            wp_analyzer_log_destroy (&self);
            return NULL;
        }
        if (self->old && wp_journal_generation (self->old) >= next_gen)
            next_gen = wp_journal_generation (self->old) + 1;
    }
    self->journal = s_open (self->path, opts, next_gen, &fail, why, why_size);
    if (!self->journal) {
        *refused = true;
        wp_analyzer_log_destroy (&self);
        return NULL;
    }
    uint64_t generation = wp_journal_generation (self->journal);
    uint64_t size = wp_journal_size (self->journal);
    if (self->old && generation <= wp_journal_generation (self->old)) {
        snprintf (why, why_size, "the journal %s (generation %" PRIu64 ") is not newer "
                  "than %s (generation %" PRIu64 "): one of them was restored or copied",
                  self->path, generation, self->old_path, wp_journal_generation (self->old));
        *refused = true;
        wp_analyzer_log_destroy (&self);
        return NULL;
    }
    //  A journal older or shorter than the checkpoint (a file restored or
    //  copied apart from its LMDB): what it holds is covered; what is
    //  appended to it from now on is not
    if (generation < self->covered_gen
        || (generation == self->covered_gen && self->covered_off > size)) {
        zsys_warning ("analyzer: the journal %s (generation %" PRIu64 ", %" PRIu64
                      " bytes) is older than the checkpoint in LMDB (generation %" PRIu64
                      ", offset %" PRIu64 "): nothing of it is replayed", self->path,
                      generation, size, self->covered_gen, self->covered_off);
        self->covered_gen = generation;
        self->covered_off = size;
    }
    //  Recovery: what the journals hold past the checkpoint goes into
    //  LMDB, the old generation's first
    uint64_t bytes = size - s_from (self, self->journal);
    if (self->old) {
        bytes += wp_journal_size (self->old) - s_from (self, self->old);
        s_start (self);
    }
    if (bytes) {
        if (wp_analyzer_log_checkpoint (self, 0)) {
            if (self->failed_at) {
                snprintf (why, why_size, "the journal %s has a record at offset %" PRIu64
                          " that is not an analyzer record",
                          self->old ? self->old_path : self->path, self->failed_at);
                *refused = true;
            }
            else
                snprintf (why, why_size, "cannot apply the journal %s to the store in %s",
                          self->path, opts->dir);
            wp_analyzer_log_destroy (&self);
            return NULL;
        }
        zsys_info ("analyzer: recovered %" PRIu64 " records (%" PRIu64 " bytes) of the "
                   "journal %s past the checkpoint", self->applied, bytes, self->path);
    }
    else
    if (self->old)
        s_finish (self);        //  (covered whole: a checkpoint's last step
                                //  committed, the file was not removed yet)
    return self;
}

//  Close.
void
wp_analyzer_log_destroy (wp_analyzer_log_t **self_p)
{
    assert (self_p);
    wp_analyzer_log_t *self = *self_p;
    if (!self)
        return;
    wp_journal_destroy (&self->journal);
    wp_journal_destroy (&self->old);
    s_entries_clear (self);
    free (self->entries);
    free (self->runs);
    free (self->scratch);
    zstr_free (&self->path);
    zstr_free (&self->old_path);
    free (self);
    *self_p = NULL;
}

//  Build one record's payload.
size_t
wp_analyzer_log_payload (const char *db, const void *key, size_t key_len, const void *value,
                         size_t value_len, uint8_t *out, size_t out_cap)
{
    assert (db && key && key_len > 0 && key_len <= 0xffff);
    size_t size = S_PAYLOAD_HEADER + key_len + (value ? value_len : 0);
    if (size > out_cap || size > WP_JOURNAL_RECORD_MAX)
        return size;
    uint8_t *p = out;
    p [0] = streq (db, "models") ? S_DB_MODELS : S_DB_PAIRS;
    p [1] = value ? 1 : 0;
    p [2] = (uint8_t) (WP_ANALYZER_RECORD_VERSION >> 8);
    p [3] = (uint8_t) WP_ANALYZER_RECORD_VERSION;
    p [4] = (uint8_t) (key_len >> 8);
    p [5] = (uint8_t) key_len;
    memcpy (p + S_PAYLOAD_HEADER, key, key_len);
    if (value)
        memcpy (p + S_PAYLOAD_HEADER + key_len, value, value_len);
    return size;
}

//  Append one record.
int
wp_analyzer_log_record (const char *db, const void *key, size_t key_len, const void *value,
                        size_t value_len, void *arg)
{
    wp_analyzer_log_t *self = (wp_analyzer_log_t *) arg;
    assert (self);
    size_t size = S_PAYLOAD_HEADER + key_len + (value ? value_len : 0);
    if (size > self->scratch_cap) {
        self->scratch_cap = size < 4096 ? 4096 : size * 2;
        self->scratch = (uint8_t *) realloc (self->scratch, self->scratch_cap);
        assert (self->scratch);
    }
    wp_analyzer_log_payload (db, key, key_len, value, value_len, self->scratch,
                             self->scratch_cap);
    return wp_journal_append (self->journal, self->scratch, size);
}

//  Append one payload built by wp_analyzer_log_payload.
int
wp_analyzer_log_append (wp_analyzer_log_t *self, const void *payload, size_t size)
{
    assert (self && payload);
    return wp_journal_append (self->journal, payload, size);
}

//  Flush.
int
wp_analyzer_log_flush (wp_analyzer_log_t *self)
{
    assert (self);
    return wp_journal_flush (self->journal);
}

//  Checkpoint due?
bool
wp_analyzer_log_due (wp_analyzer_log_t *self, uint64_t now_ms)
{
    assert (self);
    if (self->old)
        return true;                        //  one in progress
    uint64_t from = s_from (self, self->journal), size = wp_journal_size (self->journal);
    if (from >= size)
        return false;
    if (self->checkpoint_at == 0)
        self->checkpoint_at = now_ms;       //  the period starts with the first record
    return size - WP_JOURNAL_HEADER >= self->journal_max
           || now_ms - self->checkpoint_at >= self->checkpoint_ms;
}

//  Checkpoint due by time?
bool
wp_analyzer_log_due_by_time (wp_analyzer_log_t *self, uint64_t now_ms)
{
    assert (self);
    return !self->old && wp_analyzer_log_due (self, now_ms)
        && now_ms - self->checkpoint_at >= self->checkpoint_ms;
}

//  Begin a checkpoint.
int
wp_analyzer_log_begin (wp_analyzer_log_t *self, uint64_t now_ms)
{
    assert (self);
    if (self->old)
        return 0;                           //  one in progress
    self->checkpoint_at = now_ms;
    //  (the records appended go into the old generation)
    if (wp_journal_flush (self->journal))
        return -1;
    if (s_from (self, self->journal) >= wp_journal_size (self->journal))
        return 0;                           //  nothing past the checkpoint
    self->old = wp_journal_rotate_aside (self->journal, self->old_path);
    if (!self->old)
        return -1;
    s_start (self);
    return 0;
}

//  One slice of the checkpoint in progress.
int
wp_analyzer_log_step (wp_analyzer_log_t *self)
{
    assert (self);
    if (!self->old)
        return 0;
    self->failed_at = 0;
    self->refused = false;
    int rc = self->phase == S_INDEX ? s_step_index (self)
           : self->phase == S_SORT  ? s_step_sort (self)
                                    : s_step_apply (self);
    if (rc) {
        s_start (self);                     //  (again from its start)
        return -1;
    }
    return self->old ? 1 : 0;
}

//  A checkpoint in progress?
bool
wp_analyzer_log_busy (wp_analyzer_log_t *self)
{
    assert (self);
    return self->old != NULL;
}

//  Checkpoint, all of it now.
int
wp_analyzer_log_checkpoint (wp_analyzer_log_t *self, uint64_t now_ms)
{
    assert (self);
    //  The one in progress, then the records appended meanwhile
    for (int round = 0; round < 2; round++) {
        if (wp_analyzer_log_begin (self, now_ms))
            return -1;
        int rc;
        while ((rc = wp_analyzer_log_step (self)) > 0)
            ;
        if (rc < 0)
            return -1;
    }
    return 0;
}

//  Counters.
void
wp_analyzer_log_counts (wp_analyzer_log_t *self, uint64_t *durable, uint64_t *failures,
                        uint64_t *refused)
{
    assert (self);
    *durable = wp_journal_durable (self->journal);
    *failures = wp_journal_failures (self->journal);
    *refused = wp_journal_refused (self->journal);
}

//  The journal's files past hold_bytes?
bool
wp_analyzer_log_full (wp_analyzer_log_t *self)
{
    assert (self);
    uint64_t bytes = wp_journal_size (self->journal);
    if (self->old)
        bytes += wp_journal_size (self->old);
    return self->hold_bytes && bytes >= self->hold_bytes;
}

//  Records appended, not durable yet.
uint32_t
wp_analyzer_log_pending (wp_analyzer_log_t *self)
{
    assert (self);
    return wp_journal_pending (self->journal);
}

//  Checkpoints done.
uint64_t
wp_analyzer_log_checkpoints (wp_analyzer_log_t *self)
{
    assert (self);
    return self->checkpoints;
}
