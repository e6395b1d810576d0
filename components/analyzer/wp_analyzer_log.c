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
//  Writes per LMDB transaction of a checkpoint (in key order: each
//  transaction changes a run of neighbouring leaf pages, each once)
#define S_CHECKPOINT_BATCH 16384

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
    wp_journal_t *journal;      //  the journal
    char *path;                 //  its file
    uint8_t *scratch;           //  one payload being built or read
    size_t scratch_cap;
    uint64_t covered_gen;       //  what LMDB covers: generation and offset
    uint64_t covered_off;
    uint32_t checkpoint_ms;     //  checkpoint at least this often
    uint64_t journal_max;       //  or past this many bytes
    uint64_t checkpoint_at;     //  when the last checkpoint ran, ms (0: not yet)
    uint64_t checkpoints;       //  checkpoints done
    uint64_t applied;           //  records the latest checkpoint applied
    uint64_t failed_at;         //  offset of a record that does not parse
    bool refused;               //  the store refused a write of the latest
                                //  checkpoint
    uint64_t failures;          //  checkpoints that failed (logs thinned)
    s_entry_t *entries;         //  the checkpoint's records, key order
    size_t n_entries, entries_cap;
};

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

//  Where a checkpoint starts in the current journal generation, or the
//  journal's end when it covers it all.
static uint64_t
s_from (wp_analyzer_log_t *self)
{
    uint64_t generation = wp_journal_generation (self->journal);
    if (generation == self->covered_gen)
        return self->covered_off > WP_JOURNAL_HEADER ? self->covered_off : WP_JOURNAL_HEADER;
    assert (generation > self->covered_gen);   //  (an older one: at open)
    return WP_JOURNAL_HEADER;
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
    entry->key = (uint8_t *) malloc (entry->key_len);
    assert (entry->key);
    entry->key [0] = db;
    memcpy (entry->key + 1, p + S_PAYLOAD_HEADER, key_len);
    entry->offset = offset;
    entry->prefix = 0;
    for (size_t i = 0; i < 8; i++)
        entry->prefix = (entry->prefix << 8) | (i < entry->key_len ? entry->key [i] : 0);
    return 0;
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
    for (size_t i = 0; i < self->n_entries; i++)
        free (self->entries [i].key);
    self->n_entries = 0;
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

//  Apply the journal from offset from to the store: each key's latest
//  record, in key order. Returns 0 or -1.
static int
s_apply_journal (wp_analyzer_log_t *self, uint64_t from)
{
    //  (every record applied is read back and checked)
    int rc = wp_journal_scan (self->journal, from, s_index, self);
    if (rc == 0 && self->n_entries) {
        qsort (self->entries, self->n_entries, sizeof (s_entry_t), s_entry_compare);
        if (!self->scratch || self->scratch_cap < WP_JOURNAL_RECORD_MAX) {
            self->scratch_cap = WP_JOURNAL_RECORD_MAX;
            self->scratch = (uint8_t *) realloc (self->scratch, self->scratch_cap);
            assert (self->scratch);
        }
    }
    for (size_t i = 0; rc == 0 && i < self->n_entries; i++) {
        s_entry_t *entry = &self->entries [i];
        if (i + 1 < self->n_entries && entry->key_len == self->entries [i + 1].key_len
            && memcmp (entry->key, self->entries [i + 1].key, entry->key_len) == 0)
            continue;           //  a later record of the key follows
        size_t size;
        rc = wp_journal_read (self->journal, entry->offset, self->scratch, self->scratch_cap,
                              &size);
        if (rc == 0)
            rc = s_apply (self, self->scratch, size, entry->offset);
    }
    s_entries_clear (self);
    return rc;
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
    assert (self->path);
    self->checkpoint_ms = opts->checkpoint_ms;
    self->journal_max = opts->journal_max;
    if (s_covered_get (self)) {
        snprintf (why, why_size, "cannot read the journal position in the store of %s",
                  opts->dir);
        wp_analyzer_log_destroy (&self);
        return NULL;
    }
    wp_journal_opts_t journal_opts = { .nosync = opts->nosync,
                                       .generation = self->covered_gen + 1,
                                       .pending_max = opts->pending_max };
    wp_journal_fail_t fail;
    self->journal = wp_journal_open (self->path, &journal_opts, &fail, why, why_size);
    if (!self->journal && fail != WP_JOURNAL_FAIL_IO && opts->reset) {
        char moved [1024];
        if (wp_journal_set_aside (self->path, moved, sizeof moved) == 0) {
            zsys_warning ("analyzer: --reset-store: the refused journal was moved aside "
                          "to %s (%s); starting from the checkpoint in LMDB", moved, why);
            self->journal = wp_journal_open (self->path, &journal_opts, &fail, why,
                                             why_size);
        }
    }
    if (!self->journal) {
        *refused = true;
        wp_analyzer_log_destroy (&self);
        return NULL;
    }
    //  A journal older or shorter than the checkpoint (a file restored or
    //  copied apart from its LMDB): what it holds is covered; what is
    //  appended to it from now on is not
    uint64_t generation = wp_journal_generation (self->journal);
    uint64_t size = wp_journal_size (self->journal);
    if (generation < self->covered_gen
        || (generation == self->covered_gen && self->covered_off > size)) {
        zsys_warning ("analyzer: the journal %s (generation %" PRIu64 ", %" PRIu64
                      " bytes) is older than the checkpoint in LMDB (generation %" PRIu64
                      ", offset %" PRIu64 "): nothing of it is replayed", self->path,
                      generation, size, self->covered_gen, self->covered_off);
        self->covered_gen = generation;
        self->covered_off = size;
    }
    //  Recovery: what the journal holds past the checkpoint goes into LMDB
    uint64_t from = s_from (self);
    if (from < size) {
        if (wp_analyzer_log_checkpoint (self, 0)) {
            if (self->failed_at) {
                snprintf (why, why_size, "the journal %s has a record at offset %" PRIu64
                          " that is not an analyzer record", self->path, self->failed_at);
                *refused = true;
            }
            else
                snprintf (why, why_size, "cannot apply the journal %s to the store in %s",
                          self->path, opts->dir);
            wp_analyzer_log_destroy (&self);
            return NULL;
        }
        zsys_info ("analyzer: recovered %" PRIu64 " records (%" PRIu64 " bytes) of the "
                   "journal %s past the checkpoint", self->applied, size - from,
                   self->path);
    }
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
    s_entries_clear (self);
    free (self->entries);
    free (self->scratch);
    zstr_free (&self->path);
    free (self);
    *self_p = NULL;
}

//  Append one record.
int
wp_analyzer_log_record (const char *db, const void *key, size_t key_len, const void *value,
                        size_t value_len, void *arg)
{
    wp_analyzer_log_t *self = (wp_analyzer_log_t *) arg;
    assert (self && key && key_len > 0 && key_len <= 0xffff);
    size_t size = S_PAYLOAD_HEADER + key_len + (value ? value_len : 0);
    if (size > self->scratch_cap) {
        self->scratch_cap = size < 4096 ? 4096 : size * 2;
        self->scratch = (uint8_t *) realloc (self->scratch, self->scratch_cap);
        assert (self->scratch);
    }
    uint8_t *p = self->scratch;
    p [0] = streq (db, "models") ? S_DB_MODELS : S_DB_PAIRS;
    p [1] = value ? 1 : 0;
    p [2] = (uint8_t) (WP_ANALYZER_RECORD_VERSION >> 8);
    p [3] = (uint8_t) WP_ANALYZER_RECORD_VERSION;
    p [4] = (uint8_t) (key_len >> 8);
    p [5] = (uint8_t) key_len;
    memcpy (p + S_PAYLOAD_HEADER, key, key_len);
    if (value)
        memcpy (p + S_PAYLOAD_HEADER + key_len, value, value_len);
    return wp_journal_append (self->journal, p, size);
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
    uint64_t from = s_from (self), size = wp_journal_size (self->journal);
    if (from >= size)
        return false;
    if (self->checkpoint_at == 0)
        self->checkpoint_at = now_ms;       //  the period starts with the first record
    return size - WP_JOURNAL_HEADER >= self->journal_max
           || now_ms - self->checkpoint_at >= self->checkpoint_ms;
}

//  Checkpoint.
int
wp_analyzer_log_checkpoint (wp_analyzer_log_t *self, uint64_t now_ms)
{
    assert (self);
    uint64_t generation = wp_journal_generation (self->journal);
    uint64_t from = s_from (self), size = wp_journal_size (self->journal);
    self->applied = 0;
    self->failed_at = 0;
    self->refused = false;
    if (from < size) {
        //  Larger transactions for the checkpoint, the owner's size after
        unsigned batch_max = wp_store_set_batch_max (self->store, S_CHECKPOINT_BATCH);
        int rc = s_apply_journal (self, from);
        if (rc && self->refused && wp_log_should (++self->failures))
            zsys_error ("analyzer: the store refuses writes (see above): the checkpoint "
                        "of %s stopped; the journal keeps the records and grows until "
                        "the store takes them", self->path);
        uint8_t covered [16];
        wp_put_u64 (covered, generation);
        wp_put_u64 (covered + 8, size);
        if (rc == 0
            && (wp_store_put (self->store, "journal", "covered", 7, covered, sizeof covered,
                              S_COVERED_VERSION)
                || wp_store_flush (self->store))) {
            if (wp_log_should (++self->failures))
                zsys_error ("analyzer: the checkpoint of %s could not commit; the "
                            "journal stays and is applied again at the next one",
                            self->path);
            rc = -1;
        }
        wp_store_set_batch_max (self->store, batch_max);
        if (rc)
            return -1;
        self->covered_gen = generation;
        self->covered_off = size;
        self->checkpoints++;
    }
    //  A new generation: LMDB covers the old one whole
    if (size > WP_JOURNAL_HEADER && wp_journal_rotate (self->journal) == 0) {
        self->covered_gen = generation;
        self->covered_off = size;
    }
    self->checkpoint_at = now_ms;
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

//  Checkpoints done.
uint64_t
wp_analyzer_log_checkpoints (wp_analyzer_log_t *self)
{
    assert (self);
    return self->checkpoints;
}
