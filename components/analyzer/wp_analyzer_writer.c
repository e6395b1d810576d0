/*  =========================================================================
    wp_analyzer_writer - the analyzer's journal on a thread of its own.
    =========================================================================
*/
#include "wp_analyzer_writer.h"
#include "wp_journal.h"
#include "wp_util.h"

#include <czmq.h>
#include <pthread.h>

//  A buffer of records: each a u32 length (host order) and a payload.
typedef struct {
    uint8_t *data;
    size_t len, cap;
    uint32_t records;
} s_batch_t;

struct _wp_analyzer_writer_t {
    wp_analyzer_log_t *log;         //  the journal (the thread's)
    wp_store_t *store;              //  its LMDB (the thread's)
    uint32_t pending_max;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;            //  the thread waits on it for work
    pthread_cond_t flushed_cond;    //  wp_analyzer_writer_sync waits on it
    //  The analyzer's side, no lock
    s_batch_t batch;                //  records of the flush being drained
    bool refusing;                  //  refuse records (as of the last flush)
    bool refusals_count;            //  and count them (the journal fails;
                                    //  not when the writer is only behind)
    uint64_t refused_here;          //  records refused so, counted
    //  Shared, under lock
    s_batch_t queued;               //  handed over, not taken yet
    bool stop;                      //  end after what was handed over
    uint64_t handed;                //  flushes handed over
    uint64_t flushed;               //  of them, through the journal's flush
    bool failing;                   //  the latest journal flush failed
    bool full;                      //  the journal's files past hold_bytes
                                    //  (checkpoints behind)
    uint32_t waiting;               //  records taken, not durable yet
    wp_analyzer_writer_counts_t counts;  //  as of the thread's latest round
    //  The thread's side
    s_batch_t taken;                //  records taken, being appended
    size_t taken_at;                //  the first not appended yet
};

//  Room for more bytes in a batch.
static void
s_reserve (s_batch_t *batch, size_t more)
{
    if (batch->len + more <= batch->cap)
        return;
    size_t cap = batch->cap ? batch->cap : 65536;
    while (cap < batch->len + more)
        cap *= 2;
    batch->data = (uint8_t *) realloc (batch->data, cap);
    assert (batch->data);
    batch->cap = cap;
}

//  A buffer emptied: given back when it grew past what a flush of the
//  steady rate needs (a flood's, or the drain after the writer was behind):
//  a flush of 1,000 events is about 0.6 MB; three buffers kept at 4 MB
//  held 10 MB of warmupd's RSS at rest after a flood
#define S_KEEP_BYTES (1u << 20)

static void
s_emptied (s_batch_t *batch)
{
    batch->len = 0;
    batch->records = 0;
    if (batch->cap > S_KEEP_BYTES) {
        free (batch->data);
        batch->data = NULL;
        batch->cap = 0;
    }
}

//  Move the records of from behind those of to: the buffers swapped when
//  to is empty, else copied; from is left empty.
static void
s_move (s_batch_t *to, s_batch_t *from)
{
    if (from->len == 0)
        return;
    if (to->len == 0) {
        s_batch_t swap = *to;
        *to = *from;
        *from = swap;
    }
    else {
        s_reserve (to, from->len);
        memcpy (to->data + to->len, from->data, from->len);
        to->len += from->len;
        to->records += from->records;
    }
    s_emptied (from);
}

//  Take what was handed over into taken (under lock), behind what of it
//  the journal has not taken yet (s_append empties taken once it has).
static void
s_take (wp_analyzer_writer_t *self)
{
    s_move (&self->taken, &self->queued);
}

//  Append what was taken; stops at a record the journal refuses (its
//  flushes fail), which waits for the next round.
static void
s_append (wp_analyzer_writer_t *self)
{
    while (self->taken_at < self->taken.len) {
        uint32_t size;
        memcpy (&size, self->taken.data + self->taken_at, sizeof size);
        if (wp_analyzer_log_append (self->log, self->taken.data + self->taken_at + 4, size))
            break;
        self->taken_at += 4 + (size_t) size;
        self->taken.records--;
    }
    if (self->taken_at == self->taken.len) {
        s_emptied (&self->taken);
        self->taken_at = 0;
    }
}

//  The counts as of now (the thread's, for the shared copy).
static void
s_counts (wp_analyzer_writer_t *self, wp_analyzer_writer_counts_t *counts)
{
    uint64_t durable, failures, refused;
    wp_analyzer_log_counts (self->log, &durable, &failures, &refused);
    counts->durable = durable;
    counts->failures = failures + wp_store_commit_failures (self->store);
    counts->refused = refused + wp_store_refused (self->store);
    counts->checkpoints = wp_analyzer_log_checkpoints (self->log);
}

//  The thread: take, append, flush, a checkpoint's slice when one is due
//  or in progress; wait when there is nothing to do.
static void *
s_run (void *arg)
{
    wp_analyzer_writer_t *self = (wp_analyzer_writer_t *) arg;
    pthread_setname_np (pthread_self (), "analyzer-log");
    //  Long work (fdatasync, checkpoints): the kernel's default slice, not
    //  the analyzer's short one it would inherit
    wp_thread_slice (0, 0);
    pthread_mutex_lock (&self->lock);
    while (true) {
        s_take (self);
        bool stop = self->stop;
        uint64_t handed = self->handed;
        pthread_mutex_unlock (&self->lock);

        //  A checkpoint due begins at a flush, before its records: they
        //  open the new generation (so after a flush the journal holds
        //  at least its records); by time alone, at any round (at rest,
        //  the flush timer's)
        uint64_t now_ms = wp_wall_us () / 1000;
        bool records = self->taken.len > self->taken_at;
        if (!stop && records && !wp_analyzer_log_busy (self->log)
            && wp_analyzer_log_due (self->log, now_ms))
            wp_analyzer_log_begin (self->log, now_ms);
        s_append (self);
        int rc = wp_analyzer_log_flush (self->log);
        if (!stop) {
            if (wp_analyzer_log_busy (self->log)) {
                wp_analyzer_log_step (self->log);
                //  The store's pages the checkpoint touched: not the
                //  process's to hold (the kernel's cache keeps them)
                if (!wp_analyzer_log_busy (self->log))
                    wp_store_release (self->store);
            }
            else
            if (!records && rc == 0 && wp_analyzer_log_due_by_time (self->log, now_ms))
                wp_analyzer_log_begin (self->log, now_ms);
        }
        wp_analyzer_writer_counts_t counts;
        s_counts (self, &counts);

        pthread_mutex_lock (&self->lock);
        self->counts = counts;
        self->failing = rc != 0;
        self->full = wp_analyzer_log_full (self->log);
        self->waiting = self->taken.records + wp_analyzer_log_pending (self->log);
        self->flushed = handed;
        pthread_cond_broadcast (&self->flushed_cond);
        if (self->stop && stop && self->queued.len == 0)
            break;              //  (all of it taken and flushed)
        if (!self->stop && self->queued.len == 0 && !wp_analyzer_log_busy (self->log))
            pthread_cond_wait (&self->wake, &self->lock);
    }
    pthread_mutex_unlock (&self->lock);
    //  The end: the checkpoint in progress and the rest, at once
    s_append (self);
    if (self->taken.len)
        zsys_error ("analyzer: %u records could not be written to the journal "
                    "before the stop (its flushes fail): they are lost",
                    self->taken.records);
    wp_analyzer_log_checkpoint (self->log, wp_wall_us () / 1000);
    wp_analyzer_writer_counts_t counts;
    s_counts (self, &counts);
    pthread_mutex_lock (&self->lock);
    self->counts = counts;
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

//  Start.
wp_analyzer_writer_t *
wp_analyzer_writer_new (wp_analyzer_log_t **log_p, wp_store_t *store, uint32_t pending_max)
{
    assert (log_p && *log_p && store);
    wp_analyzer_writer_t *self = (wp_analyzer_writer_t *) zmalloc (sizeof *self);
    assert (self);
    self->log = *log_p;
    *log_p = NULL;
    self->store = store;
    self->pending_max = pending_max;
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->wake, NULL);
    pthread_cond_init (&self->flushed_cond, NULL);
    s_counts (self, &self->counts);
    int rc = pthread_create (&self->thread, NULL, s_run, self);
    assert (rc == 0);
    return self;
}

//  Stop.
void
wp_analyzer_writer_destroy (wp_analyzer_writer_t **self_p)
{
    assert (self_p);
    wp_analyzer_writer_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    self->stop = true;
    pthread_cond_signal (&self->wake);
    pthread_mutex_unlock (&self->lock);
    pthread_join (self->thread, NULL);
    wp_analyzer_log_destroy (&self->log);
    pthread_cond_destroy (&self->wake);
    pthread_cond_destroy (&self->flushed_cond);
    pthread_mutex_destroy (&self->lock);
    free (self->batch.data);
    free (self->queued.data);
    free (self->taken.data);
    free (self);
    *self_p = NULL;
}

//  One record into the batch.
int
wp_analyzer_writer_record (const char *db, const void *key, size_t key_len,
                           const void *value, size_t value_len, void *arg)
{
    wp_analyzer_writer_t *self = (wp_analyzer_writer_t *) arg;
    assert (self);
    //  (a batch holds pending_max records at most: past them, after the
    //  writer was behind, the rest go at the next flush)
    if (self->refusing || self->batch.records >= self->pending_max) {
        if (self->refusals_count)
            self->refused_here++;
        return -1;
    }
    size_t size = wp_analyzer_log_payload (db, key, key_len, value, value_len, NULL, 0);
    assert (size <= WP_JOURNAL_RECORD_MAX);
    s_reserve (&self->batch, 4 + size);
    uint32_t size32 = (uint32_t) size;
    memcpy (self->batch.data + self->batch.len, &size32, sizeof size32);
    wp_analyzer_log_payload (db, key, key_len, value, value_len,
                             self->batch.data + self->batch.len + 4, size);
    self->batch.len += 4 + size;
    self->batch.records++;
    return 0;
}

//  Hand the batch over.
void
wp_analyzer_writer_flush (wp_analyzer_writer_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    s_move (&self->queued, &self->batch);
    //  Records wait in memory while the journal's flushes fail, or while
    //  the writer is behind (a checkpoint's slices, a slow disk), up to
    //  pending_max; after that the core keeps them dirty (a pair's flag,
    //  not a record: memory stays bounded) until the writer catches up
    self->handed++;
    self->refusing = (uint64_t) self->waiting + self->queued.records >= self->pending_max
                  || self->full;
    self->refusals_count = self->refusing && self->failing;
    pthread_cond_signal (&self->wake);
    pthread_mutex_unlock (&self->lock);
}

//  Wait for the flushes handed over.
int
wp_analyzer_writer_sync (wp_analyzer_writer_t *self, int timeout_ms)
{
    assert (self && timeout_ms >= 0);
    struct timespec deadline;
    clock_gettime (CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock (&self->lock);
    uint64_t want = self->handed;
    while (rc == 0 && self->flushed < want)
        rc = pthread_cond_timedwait (&self->flushed_cond, &self->lock, &deadline);
    bool done = self->flushed >= want;
    pthread_mutex_unlock (&self->lock);
    return done ? 0 : -1;
}

//  Counts.
void
wp_analyzer_writer_counts (wp_analyzer_writer_t *self, wp_analyzer_writer_counts_t *counts)
{
    assert (self && counts);
    pthread_mutex_lock (&self->lock);
    *counts = self->counts;
    pthread_mutex_unlock (&self->lock);
    counts->refused += self->refused_here;
}
