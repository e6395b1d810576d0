/*  =========================================================================
    wp_journal - an append-only journal of records: one write and one
    fdatasync per flush, replayed at start up to a torn tail.
    =========================================================================
*/

/*
@header
    The records appended since the last flush wait in one buffer, their
    headers filled at flush time (the flush offset is where the file ends
    then). A flush that fails is undone (the file is cut back to where it
    ended) and its records stay in the buffer for the next flush.
@discuss
    Reading maps the file read-only. After a record that does not check,
    the rest of the file is searched for a record that does and was written
    by a later flush (its flush offset lies after the bad record): that is
    corruption in the middle; none is a torn tail. Only the bytes of the
    last flush can be torn by a crash, since every earlier flush ended with
    an fdatasync.
@end
*/

#include "wp_journal.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

//  A flush's buffer kept for the next one at most, bytes.
#define S_BUFFER_KEEP (4u << 20)

#define S_MAGIC "WPJOURNL"
#define S_PENDING_MAX 16000

struct _wp_journal_t {
    char *path;                 //  the file
    int fd;                     //  open on it, read-write
    bool nosync;                //  no fdatasync
    uint64_t generation;        //  the file's generation
    uint64_t size;              //  bytes flushed (the file's length)
    uint64_t torn;              //  bytes of the torn tail cut at open
    uint8_t *buffer;            //  records appended, not flushed
    size_t buffer_len, buffer_cap;
    uint32_t pending;           //  records in the buffer
    uint32_t pending_max;       //  records kept while flushes fail
    bool failing;               //  the last flush failed
    uint64_t durable;           //  records made durable
    uint64_t failures;          //  flushes that failed
    uint64_t refused;           //  records refused
};

//  Big-endian integers.
static void
s_put32 (uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p [i] = (uint8_t) v;
}

static void
s_put64 (uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p [i] = (uint8_t) v;
}

static uint32_t
s_get32 (const uint8_t *p)
{
    return ((uint32_t) p [0] << 24) | ((uint32_t) p [1] << 16) | ((uint32_t) p [2] << 8)
           | p [3];
}

static uint64_t
s_get64 (const uint8_t *p)
{
    return ((uint64_t) s_get32 (p) << 32) | s_get32 (p + 4);
}

//  crc32 of size bytes.
static uint32_t
s_crc (const uint8_t *data, size_t size)
{
    return (uint32_t) crc32 (0L, data, (uInt) size);
}

//  Write a file header of generation into header.
static void
s_header (uint8_t *header, uint64_t generation)
{
    memset (header, 0, WP_JOURNAL_HEADER);
    memcpy (header, S_MAGIC, 8);
    s_put32 (header + 8, WP_JOURNAL_VERSION);
    s_put32 (header + 12, WP_JOURNAL_HEADER);
    s_put64 (header + 16, generation);
    s_put32 (header + 28, s_crc (header, 28));
}

//  Write size bytes at offset, whole. Returns 0 or -1 (errno set).
static int
s_pwrite (int fd, const uint8_t *data, size_t size, uint64_t offset)
{
    while (size) {
        ssize_t n = pwrite (fd, data, size, (off_t) offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        data += n;
        size -= (size_t) n;
        offset += (uint64_t) n;
    }
    return 0;
}

//  fsync the directory that holds path (a new or renamed file's entry).
static void
s_sync_dir (const char *path)
{
    char *copy = strdup (path);
    assert (copy);
    int fd = open (dirname (copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync (fd);
        close (fd);
    }
    free (copy);
}

//  Size of the valid record at offset o of data (size bytes), or 0.
static size_t
s_check (const uint8_t *data, uint64_t size, uint64_t o)
{
    if (o + WP_JOURNAL_RECORD_HEADER > size)
        return 0;
    uint32_t len = s_get32 (data + o);
    if (len == 0 || len > WP_JOURNAL_RECORD_MAX || o + WP_JOURNAL_RECORD_HEADER + len > size)
        return 0;
    uint64_t flushed_at = s_get64 (data + o + 8);
    if (flushed_at < WP_JOURNAL_HEADER || flushed_at > o)
        return 0;
    if (s_get32 (data + o + 4) != s_crc (data + o + 8, 8 + (size_t) len))
        return 0;
    return WP_JOURNAL_RECORD_HEADER + len;
}

//  True when a record written by a flush after offset bad follows it.
static bool
s_later_flush (const uint8_t *data, uint64_t size, uint64_t bad)
{
    for (uint64_t p = bad + 1; p + WP_JOURNAL_RECORD_HEADER < size; ) {
        size_t r = s_check (data, size, p);
        if (r && s_get64 (data + p + 8) > bad)
            return true;
        p += r ? r : 1;
    }
    return false;
}

//  Map the first size bytes of the file read-only; NULL on failure.
static const uint8_t *
s_map (wp_journal_t *self, uint64_t size)
{
    void *data = mmap (NULL, (size_t) size, PROT_READ, MAP_PRIVATE, self->fd, 0);
    return data == MAP_FAILED ? NULL : (const uint8_t *) data;
}

//  Fill the failure.
static void
s_fail (wp_journal_fail_t *fail, wp_journal_fail_t kind, char *why, size_t why_size,
        const char *format, ...)
{
    if (fail)
        *fail = kind;
    if (why && why_size) {
        va_list args;
        va_start (args, format);
        vsnprintf (why, why_size, format, args);
        va_end (args);
    }
}

//  Write a fresh header of self->generation into the (empty) file.
static int
s_create (wp_journal_t *self)
{
    uint8_t header [WP_JOURNAL_HEADER];
    s_header (header, self->generation);
    if (ftruncate (self->fd, 0) || s_pwrite (self->fd, header, sizeof header, 0)
        || (!self->nosync && fdatasync (self->fd)))
        return -1;
    if (!self->nosync)
        s_sync_dir (self->path);
    self->size = WP_JOURNAL_HEADER;
    return 0;
}

//  Check the header and every record; cut a torn tail. Returns 0 or -1.
static int
s_read (wp_journal_t *self, uint64_t file_size, wp_journal_fail_t *fail, char *why,
        size_t why_size)
{
    const uint8_t *data = s_map (self, file_size);
    if (!data) {
        s_fail (fail, WP_JOURNAL_FAIL_IO, why, why_size, "cannot read the journal %s: %s",
                self->path, strerror (errno));
        return -1;
    }
    if (file_size < WP_JOURNAL_HEADER) {
        //  A header cut short (created, not synced): an empty journal
        bool cut = memcmp (data, S_MAGIC, file_size < 8 ? file_size : 8) == 0;
        munmap ((void *) data, (size_t) file_size);
        if (!cut) {
            s_fail (fail, WP_JOURNAL_FAIL_CORRUPT, why, why_size,
                    "%s is not a journal or its header is corrupt", self->path);
            return -1;
        }
        zsys_warning ("wp_journal: %s: a header cut short (%" PRIu64 " bytes) dropped; "
                      "the journal starts empty", self->path, file_size);
        self->torn = file_size;
        if (s_create (self)) {
            s_fail (fail, WP_JOURNAL_FAIL_IO, why, why_size, "cannot write the journal %s: %s",
                    self->path, strerror (errno));
            return -1;
        }
        return 0;
    }
    if (memcmp (data, S_MAGIC, 8) || s_get32 (data + 12) != WP_JOURNAL_HEADER
        || s_get32 (data + 28) != s_crc (data, 28)) {
        s_fail (fail, WP_JOURNAL_FAIL_CORRUPT, why, why_size,
                "%s is not a journal or its header is corrupt", self->path);
        munmap ((void *) data, (size_t) file_size);
        return -1;
    }
    uint32_t version = s_get32 (data + 8);
    if (version != WP_JOURNAL_VERSION) {
        s_fail (fail, WP_JOURNAL_FAIL_VERSION, why, why_size,
                "the journal %s has format version %u; this build reads version %u",
                self->path, version, WP_JOURNAL_VERSION);
        munmap ((void *) data, (size_t) file_size);
        return -1;
    }
    self->generation = s_get64 (data + 16);
    uint64_t o = WP_JOURNAL_HEADER;
    while (o < file_size) {
        size_t r = s_check (data, file_size, o);
        if (!r)
            break;
        o += r;
    }
    if (o < file_size && s_later_flush (data, file_size, o)) {
        s_fail (fail, WP_JOURNAL_FAIL_CORRUPT, why, why_size,
                "the journal %s has a corrupt record at offset %" PRIu64
                " with later records after it", self->path, o);
        munmap ((void *) data, (size_t) file_size);
        return -1;
    }
    munmap ((void *) data, (size_t) file_size);
    self->size = o;
    if (o < file_size) {
        self->torn = file_size - o;
        zsys_warning ("wp_journal: %s: torn tail of %" PRIu64 " bytes dropped at offset %"
                      PRIu64 " (the last flush did not complete)", self->path,
                      self->torn, o);
        if (ftruncate (self->fd, (off_t) o) || (!self->nosync && fdatasync (self->fd))) {
            s_fail (fail, WP_JOURNAL_FAIL_IO, why, why_size,
                    "cannot cut the torn tail of the journal %s: %s", self->path,
                    strerror (errno));
            return -1;
        }
    }
    return 0;
}

//  Open the journal.
wp_journal_t *
wp_journal_open (const char *path, const wp_journal_opts_t *opts, wp_journal_fail_t *fail,
                 char *why, size_t why_size)
{
    assert (path);
    wp_journal_opts_t o = opts ? *opts : (wp_journal_opts_t) { 0 };
    s_fail (fail, WP_JOURNAL_FAIL_NONE, why, why_size, "%s", "");
    wp_journal_t *self = (wp_journal_t *) zmalloc (sizeof (wp_journal_t));
    assert (self);
    self->path = strdup (path);
    assert (self->path);
    self->nosync = o.nosync;
    self->generation = o.generation;
    self->pending_max = o.pending_max ? o.pending_max : S_PENDING_MAX;
    self->fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    if (self->fd < 0 || fstat (self->fd, &st)) {
        s_fail (fail, WP_JOURNAL_FAIL_IO, why, why_size, "cannot open the journal %s: %s",
                path, strerror (errno));
        wp_journal_destroy (&self);
        return NULL;
    }
    int rc;
    if (st.st_size == 0) {
        rc = s_create (self);
        if (rc)
            s_fail (fail, WP_JOURNAL_FAIL_IO, why, why_size,
                    "cannot write the journal %s: %s", path, strerror (errno));
    }
    else
        rc = s_read (self, (uint64_t) st.st_size, fail, why, why_size);
    if (rc)
        wp_journal_destroy (&self);
    return self;
}

//  Move a refused journal aside.
int
wp_journal_set_aside (const char *path, char *moved, size_t moved_size)
{
    assert (path);
    time_t now = time (NULL);
    struct tm utc;
    gmtime_r (&now, &utc);
    char stamp [32];
    strftime (stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    char *aside = zsys_sprintf ("%s.corrupt-%s", path, stamp);
    assert (aside);
    int rc = 0;
    if (access (path, F_OK))
        rc = 1;
    else
    if (rename (path, aside)) {
        zsys_error ("wp_journal: %s: cannot move it aside to %s: %s", path, aside,
                    strerror (errno));
        rc = -1;
    }
    if (rc == 0 && moved)
        snprintf (moved, moved_size, "%s", aside);
    zstr_free (&aside);
    return rc;
}

//  Close.
void
wp_journal_destroy (wp_journal_t **self_p)
{
    assert (self_p);
    wp_journal_t *self = *self_p;
    if (!self)
        return;
    if (self->fd >= 0)
        close (self->fd);
    free (self->buffer);
    free (self->path);
    free (self);
    *self_p = NULL;
}

//  The generation.
uint64_t
wp_journal_generation (wp_journal_t *self)
{
    assert (self);
    return self->generation;
}

//  Bytes in the file.
uint64_t
wp_journal_size (wp_journal_t *self)
{
    assert (self);
    return self->size;
}

//  Torn bytes cut at open.
uint64_t
wp_journal_torn (wp_journal_t *self)
{
    assert (self);
    return self->torn;
}

//  Append a record.
int
wp_journal_append (wp_journal_t *self, const void *data, size_t size)
{
    assert (self && data);
    assert (size > 0 && size <= WP_JOURNAL_RECORD_MAX);
    if (self->failing && self->pending >= self->pending_max) {
        self->refused++;
        return -1;
    }
    size_t need = self->buffer_len + WP_JOURNAL_RECORD_HEADER + size;
    if (need > self->buffer_cap) {
        size_t cap = self->buffer_cap ? self->buffer_cap : 65536;
        while (cap < need)
            cap *= 2;
        self->buffer = (uint8_t *) realloc (self->buffer, cap);
        assert (self->buffer);
        self->buffer_cap = cap;
    }
    uint8_t *record = self->buffer + self->buffer_len;
    s_put32 (record, (uint32_t) size);
    memcpy (record + WP_JOURNAL_RECORD_HEADER, data, size);
    self->buffer_len = need;
    self->pending++;
    return 0;
}

//  Records waiting.
uint32_t
wp_journal_pending (wp_journal_t *self)
{
    assert (self);
    return self->pending;
}

//  Flush.
int
wp_journal_flush (wp_journal_t *self)
{
    assert (self);
    if (!self->buffer_len)
        return 0;
    //  The headers: where this flush begins, and the checksums
    for (size_t o = 0; o < self->buffer_len; ) {
        uint8_t *record = self->buffer + o;
        uint32_t len = s_get32 (record);
        s_put64 (record + 8, self->size);
        s_put32 (record + 4, s_crc (record + 8, 8 + (size_t) len));
        o += WP_JOURNAL_RECORD_HEADER + len;
    }
    if (s_pwrite (self->fd, self->buffer, self->buffer_len, self->size)
        || (!self->nosync && fdatasync (self->fd))) {
        int code = errno;
        //  Undone: the next flush writes the records at the same place
        if (ftruncate (self->fd, (off_t) self->size)) {
            //  (the torn bytes are cut at the next open)
        }
        self->failures++;
        if (!self->failing)
            zsys_error ("wp_journal: cannot write the journal %s: %s%s (the %u records "
                        "wait in memory and are written again at the next flush)",
                        self->path, strerror (code),
                        code == ENOSPC || code == EDQUOT
                            ? ": the disk is full; free space on it" : "",
                        self->pending);
        self->failing = true;
        return -1;
    }
    if (self->failing)
        zsys_info ("wp_journal: %s written again (%" PRIu64 " records refused meanwhile)",
                   self->path, self->refused);
    self->failing = false;
    self->size += self->buffer_len;
    self->durable += self->pending;
    self->buffer_len = 0;
    self->pending = 0;
    //  A flood's buffer is not kept for the steady rate's flushes
    if (self->buffer_cap > S_BUFFER_KEEP) {
        free (self->buffer);
        self->buffer = NULL;
        self->buffer_cap = 0;
    }
    return 0;
}

//  Call fn for the records from an offset, their checksums checked or not.
static int
s_walk (wp_journal_t *self, uint64_t from, bool check, wp_journal_fn *fn, void *arg)
{
    assert (self && fn && from >= WP_JOURNAL_HEADER);
    if (from >= self->size)
        return 0;
    const uint8_t *data = s_map (self, self->size);
    if (!data) {
        zsys_error ("wp_journal: cannot read the journal %s: %s", self->path,
                    strerror (errno));
        return -1;
    }
    int rc = 0;
    for (uint64_t o = from; o < self->size && rc == 0; ) {
        size_t r = 0;
        if (check)
            r = s_check (data, self->size, o);
        else
        if (o + WP_JOURNAL_RECORD_HEADER <= self->size) {
            uint32_t len = s_get32 (data + o);
            if (len && len <= WP_JOURNAL_RECORD_MAX
                && o + WP_JOURNAL_RECORD_HEADER + len <= self->size)
                r = WP_JOURNAL_RECORD_HEADER + len;
        }
        if (!r) {
            zsys_error ("wp_journal: the journal %s has a record at offset %" PRIu64
                        " that does not check", self->path, o);
            rc = -1;
            break;
        }
        rc = fn (data + o + WP_JOURNAL_RECORD_HEADER, r - WP_JOURNAL_RECORD_HEADER, o, arg);
        o += r;
    }
    munmap ((void *) data, (size_t) self->size);
    return rc;
}

//  Replay records from an offset.
int
wp_journal_replay (wp_journal_t *self, uint64_t from, wp_journal_fn *fn, void *arg)
{
    return s_walk (self, from, true, fn, arg);
}

//  Walk records from an offset, unchecked.
int
wp_journal_scan (wp_journal_t *self, uint64_t from, wp_journal_fn *fn, void *arg)
{
    return s_walk (self, from, false, fn, arg);
}

//  Read one record.
int
wp_journal_read (wp_journal_t *self, uint64_t offset, void *buffer, size_t capacity,
                 size_t *size)
{
    assert (self && buffer && size);
    uint8_t header [WP_JOURNAL_RECORD_HEADER];
    ssize_t n = pread (self->fd, header, sizeof header, (off_t) offset);
    uint32_t len = n == (ssize_t) sizeof header ? s_get32 (header) : 0;
    if (len == 0 || len > capacity || offset + WP_JOURNAL_RECORD_HEADER + len > self->size
        || pread (self->fd, buffer, len, (off_t) (offset + WP_JOURNAL_RECORD_HEADER))
               != (ssize_t) len) {
        zsys_error ("wp_journal: cannot read the record at offset %" PRIu64 " of %s",
                    offset, self->path);
        return -1;
    }
    uint32_t crc = (uint32_t) crc32 (0L, header + 8, 8);
    crc = (uint32_t) crc32 (crc, (const uint8_t *) buffer, (uInt) len);
    if (crc != s_get32 (header + 4)) {
        zsys_error ("wp_journal: the journal %s has a record at offset %" PRIu64
                    " that does not check", self->path, offset);
        return -1;
    }
    *size = len;
    return 0;
}

//  Start the next generation: its file written and synced as <path>.new,
//  then the current file renamed to aside (when not NULL) and the new one
//  renamed to path. Returns the new file's descriptor or -1 (logged).
static int
s_next (wp_journal_t *self, const char *aside)
{
    char *next = zsys_sprintf ("%s.new", self->path);
    assert (next);
    uint8_t header [WP_JOURNAL_HEADER];
    s_header (header, self->generation + 1);
    int fd = open (next, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool aside_done = false;
    if (fd >= 0 && s_pwrite (fd, header, sizeof header, 0) == 0
        && (self->nosync || fdatasync (fd) == 0)
        && (!aside || (aside_done = rename (self->path, aside) == 0))
        && rename (next, self->path) == 0) {
        if (!self->nosync)
            s_sync_dir (self->path);
        zstr_free (&next);
        return fd;
    }
    zsys_error ("wp_journal: cannot start a new journal %s: %s", next, strerror (errno));
    if (aside_done && rename (aside, self->path))
        zsys_error ("wp_journal: cannot move %s back to %s: %s", aside, self->path,
                    strerror (errno));
    if (fd >= 0)
        close (fd);
    unlink (next);
    zstr_free (&next);
    return -1;
}

//  Start the next generation.
int
wp_journal_rotate (wp_journal_t *self)
{
    assert (self);
    int fd = s_next (self, NULL);
    if (fd < 0)
        return -1;
    close (self->fd);
    self->fd = fd;
    self->generation++;
    self->size = WP_JOURNAL_HEADER;
    return 0;
}

//  Start the next generation, the current one kept under another name.
wp_journal_t *
wp_journal_rotate_aside (wp_journal_t *self, const char *aside)
{
    assert (self && aside);
    int fd = s_next (self, aside);
    if (fd < 0)
        return NULL;
    wp_journal_t *old = (wp_journal_t *) zmalloc (sizeof (wp_journal_t));
    assert (old);
    old->path = strdup (aside);
    assert (old->path);
    old->fd = self->fd;
    old->nosync = self->nosync;
    old->generation = self->generation;
    old->size = self->size;
    old->pending_max = self->pending_max;
    self->fd = fd;
    self->generation++;
    self->size = WP_JOURNAL_HEADER;
    return old;
}

//  Counters.
uint64_t
wp_journal_durable (wp_journal_t *self)
{
    assert (self);
    return self->durable;
}

uint64_t
wp_journal_failures (wp_journal_t *self)
{
    assert (self);
    return self->failures;
}

uint64_t
wp_journal_refused (wp_journal_t *self)
{
    assert (self);
    return self->refused;
}
