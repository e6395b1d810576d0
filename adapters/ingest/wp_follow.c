/*  =========================================================================
    wp_follow - log files followed line by line, across rotation and
    truncation, with their offsets in a state file.
    =========================================================================
*/
#include <czmq.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include "wp_follow.h"
#include "wp_util.h"

#define CHUNK 65536             //  bytes read at once
#define FP_BYTES 256            //  a file's fingerprint: its first bytes
#define QUIET_POLLS 4           //  a rotated file is let go after this many
                                //  polls without growth at its end
#define PARK_POLLS 240          //  a file that long at its end (a minute at
                                //  4 polls a second) is closed, and opened
                                //  again when it grows
#define STATE_MAGIC "warmup-follow 1"

//  One file being read.
typedef struct _file_t {
    char *path;                 //  the name followed (lines are reported by it)
    int fd;                     //  -1: not open
    uint64_t dev, ino;          //  which file fd is
    uint64_t offset;            //  bytes of the lines taken
    uint64_t line;              //  lines taken
    uint64_t fp;                //  hash of its first fp_len bytes
    uint32_t fp_len;
    char *partial;              //  bytes read after offset (no newline yet,
    size_t partial_len;         //  or lines not taken yet)
    size_t partial_cap;
    uint64_t overlong;          //  > 0: the line is longer than LINE_MAX: its
                                //  bytes so far (not kept)
    bool eof;                   //  the last read found no more
    int quiet;                  //  rotated: polls without growth at the end
    bool from_dir;              //  found in a directory
    bool parked;                //  closed at its end: dev, ino, offset and
                                //  line still say where it was
    struct _file_t *pred;       //  the file this name named before (rotated
                                //  away), read to its end first
} file_t;

//  An offset record from the state file.
typedef struct {
    char *path;
    uint64_t dev, ino, fp, offset, line;
    uint32_t fp_len;
} saved_t;

struct _wp_follow_t {
    char *suffix;               //  of a directory's files
    char *state_path;           //  NULL: none
    char **dirs;                //  directories followed
    size_t n_dirs;
    file_t **files;             //  files followed
    size_t n_files;
    saved_t *saved;             //  what the state file said at start
    size_t n_saved;
};

//  FNV-1a over bytes.
static uint64_t
s_hash (const char *data, size_t size)
{
    uint64_t hash = 14695981039346656037ULL;
    for (size_t i = 0; i < size; i++) {
        hash ^= (unsigned char) data [i];
        hash *= 1099511628211ULL;
    }
    return hash;
}

//  The fingerprint of an open file: hash and length of its first bytes.
static void
s_fingerprint (int fd, uint64_t *fp, uint32_t *fp_len)
{
    char buffer [FP_BYTES];
    ssize_t n = pread (fd, buffer, FP_BYTES, 0);
    *fp_len = n > 0 ? (uint32_t) n : 0;
    *fp = s_hash (buffer, *fp_len);
}

//  True when an open file's first fp_len bytes hash to fp.
static bool
s_fingerprint_is (int fd, uint64_t fp, uint32_t fp_len)
{
    char buffer [FP_BYTES];
    if (fp_len > FP_BYTES)
        return false;
    ssize_t n = pread (fd, buffer, fp_len, 0);
    return n == (ssize_t) fp_len && s_hash (buffer, fp_len) == fp;
}

//  Free one file (and what it rotated from).
static void
s_file_destroy (file_t **file_p)
{
    file_t *file = *file_p;
    if (!file)
        return;
    s_file_destroy (&file->pred);
    if (file->fd >= 0)
        close (file->fd);
    free (file->path);
    free (file->partial);
    free (file);
    *file_p = NULL;
}

//  Read the state file.
static int
s_load (wp_follow_t *self, char *error, size_t size)
{
    FILE *in = fopen (self->state_path, "r");
    if (!in) {
        if (errno == ENOENT)
            return 0;
        snprintf (error, size, "%s: %s", self->state_path, strerror (errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t length;
    int number = 0, rc = 0;
    while ((length = getline (&line, &cap, in)) >= 0) {
        number++;
        if (length > 0 && line [length - 1] == '\n')
            line [--length] = 0;
        if (number == 1) {
            if (!streq (line, STATE_MAGIC)) {
                snprintf (error, size, "%s:1: not a warmup offsets file (start over with "
                          "--from-start)", self->state_path);
                rc = -1;
                break;
            }
            continue;
        }
        saved_t record = { 0 };
        unsigned fp_len = 0;
        int used = 0;
        if (sscanf (line, "%" SCNu64 " %" SCNu64 " %" SCNx64 " %u %" SCNu64 " %" SCNu64 " %n",
                    &record.dev, &record.ino, &record.fp, &fp_len, &record.offset,
                    &record.line, &used) != 6 || used == 0 || !line [used] || fp_len > FP_BYTES) {
            snprintf (error, size, "%s:%d: not an offset record (device inode fingerprint "
                      "length offset line path; start over with --from-start)",
                      self->state_path, number);
            rc = -1;
            break;
        }
        record.fp_len = fp_len;
        record.path = strdup (line + used);
        saved_t *grown = (saved_t *) realloc (self->saved,
                                              (self->n_saved + 1) * sizeof (saved_t));
        if (!grown || !record.path) {
            free (record.path);
            snprintf (error, size, "out of memory");
            rc = -1;
            break;
        }
        self->saved = grown;
        self->saved [self->n_saved++] = record;
    }
    free (line);
    fclose (in);
    return rc;
}

//  Create.
wp_follow_t *
wp_follow_new (const char *suffix, const char *state_path, bool from_start, char *error,
               size_t size)
{
    wp_follow_t *self = (wp_follow_t *) zmalloc (sizeof (wp_follow_t));
    self->suffix = strdup (suffix ? suffix : "");
    self->state_path = state_path ? strdup (state_path) : NULL;
    if (self->state_path && !from_start && s_load (self, error, size)) {
        wp_follow_destroy (&self);
        return NULL;
    }
    return self;
}

//  Destroy.
void
wp_follow_destroy (wp_follow_t **self_p)
{
    assert (self_p);
    wp_follow_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_files; i++)
        s_file_destroy (&self->files [i]);
    for (size_t i = 0; i < self->n_dirs; i++)
        free (self->dirs [i]);
    for (size_t i = 0; i < self->n_saved; i++)
        free (self->saved [i].path);
    free (self->files);
    free (self->dirs);
    free (self->saved);
    free (self->suffix);
    free (self->state_path);
    free (self);
    *self_p = NULL;
}

//  The file followed under path, or NULL.
static file_t *
s_find (wp_follow_t *self, const char *path)
{
    for (size_t i = 0; i < self->n_files; i++)
        if (streq (self->files [i]->path, path))
            return self->files [i];
    return NULL;
}

//  Start following a file by its path.
static int
s_add_file (wp_follow_t *self, const char *path, bool from_dir)
{
    if (s_find (self, path))
        return 0;
    if (self->n_files >= WP_FOLLOW_FILES_MAX || strchr (path, '\n'))
        return -1;
    file_t **grown = (file_t **) realloc (self->files, (self->n_files + 1) * sizeof (file_t *));
    if (!grown)
        return -1;
    self->files = grown;
    file_t *file = (file_t *) zmalloc (sizeof (file_t));
    file->path = strdup (path);
    file->fd = -1;
    file->from_dir = from_dir;
    self->files [self->n_files++] = file;
    return 0;
}

//  Scan a directory for new files with the suffix.
static void
s_scan (wp_follow_t *self, const char *dir)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return;
    struct dirent *entry;
    size_t suffix_len = strlen (self->suffix);
    while ((entry = readdir (handle))) {
        size_t length = strlen (entry->d_name);
        if (entry->d_name [0] == '.' || length < suffix_len
            || strcmp (entry->d_name + length - suffix_len, self->suffix) != 0)
            continue;
        char path [4096];
        if (snprintf (path, sizeof path, "%s/%s", dir, entry->d_name) >= (int) sizeof path)
            continue;
        struct stat st;
        if (stat (path, &st) || !S_ISREG (st.st_mode))
            continue;
        if (!s_find (self, path) && s_add_file (self, path, true))
            zsys_warning ("ingest: %s: not followed (at most %d files)", path,
                          WP_FOLLOW_FILES_MAX);
    }
    closedir (handle);
}

//  Follow a path.
int
wp_follow_add (wp_follow_t *self, const char *path, char *error, size_t size)
{
    assert (self && path);
    char clean [4096];
    snprintf (clean, sizeof clean, "%s", path);
    size_t length = strlen (clean);
    while (length > 1 && clean [length - 1] == '/')
        clean [--length] = 0;
    struct stat st;
    if (stat (clean, &st) == 0 && S_ISDIR (st.st_mode)) {
        char **grown = (char **) realloc (self->dirs, (self->n_dirs + 1) * sizeof (char *));
        if (!grown) {
            snprintf (error, size, "out of memory");
            return -1;
        }
        self->dirs = grown;
        self->dirs [self->n_dirs++] = strdup (clean);
        s_scan (self, clean);
        return 0;
    }
    if (stat (clean, &st) == 0 && !S_ISREG (st.st_mode)) {
        snprintf (error, size, "%s: not a file or a directory", clean);
        return -1;
    }
    if (stat (clean, &st) && errno != ENOENT) {
        snprintf (error, size, "%s: %s", clean, strerror (errno));
        return -1;
    }
    if (s_add_file (self, clean, false)) {
        snprintf (error, size, "%s: cannot follow it (a newline in its name, or over %d "
                  "files)", clean, WP_FOLLOW_FILES_MAX);
        return -1;
    }
    return 0;
}

//  Open a file for a path entry: where the state left it when it is the
//  same file; else, if the state names a file the path no longer names,
//  that one (found by device and inode beside it) is read to its end
//  first, as a predecessor.
static void
s_open (wp_follow_t *self, file_t *file, int fd, const struct stat *st)
{
    file->fd = fd;
    file->dev = st->st_dev;
    file->ino = st->st_ino;
    file->offset = file->line = 0;
    s_fingerprint (fd, &file->fp, &file->fp_len);
    saved_t *saved = NULL;
    for (size_t i = 0; i < self->n_saved; i++)
        if (self->saved [i].path && streq (self->saved [i].path, file->path))
            saved = &self->saved [i];
    if (!saved)
        return;
    if (saved->dev == file->dev && saved->ino == file->ino) {
        if ((uint64_t) st->st_size >= saved->offset
            && s_fingerprint_is (fd, saved->fp, saved->fp_len)) {
            file->offset = saved->offset;
            file->line = saved->line;
        }
        else
            zsys_warning ("ingest: %s: truncated or replaced since the last run (%" PRIu64
                          " bytes read then): read again from its start", file->path,
                          saved->offset);
    }
    else {
        //  Rotated while we were away: look for the old file beside it.
        char dir [4096];
        snprintf (dir, sizeof dir, "%s", file->path);
        char *slash = strrchr (dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf (dir, sizeof dir, ".");
        DIR *handle = opendir (dir);
        struct dirent *entry;
        bool found = false;
        while (handle && (entry = readdir (handle)) && !found) {
            char path [4096];
            struct stat old;
            if (snprintf (path, sizeof path, "%s/%s", dir, entry->d_name) >= (int) sizeof path
                || stat (path, &old) || (uint64_t) old.st_dev != saved->dev
                || (uint64_t) old.st_ino != saved->ino)
                continue;
            int old_fd = open (path, O_RDONLY | O_CLOEXEC);
            if (old_fd < 0)
                continue;
            if ((uint64_t) old.st_size >= saved->offset
                && s_fingerprint_is (old_fd, saved->fp, saved->fp_len)) {
                file_t *pred = (file_t *) zmalloc (sizeof (file_t));
                pred->path = strdup (file->path);
                pred->fd = old_fd;
                pred->dev = saved->dev;
                pred->ino = saved->ino;
                pred->offset = saved->offset;
                pred->line = saved->line;
                pred->fp = saved->fp;
                pred->fp_len = saved->fp_len;
                lseek (old_fd, (off_t) saved->offset, SEEK_SET);
                file->pred = pred;
                found = true;
                zsys_info ("ingest: %s was rotated to %s since the last run: reading its "
                           "rest from line %" PRIu64 " first", file->path, path,
                           saved->line + 1);
            }
            else
                close (old_fd);
        }
        if (handle)
            closedir (handle);
        if (!found)
            zsys_warning ("ingest: %s was rotated since the last run and the old file is "
                          "gone: lines after line %" PRIu64 " of it, if any, are lost",
                          file->path, saved->line);
    }
    free (saved->path);
    saved->path = NULL;                 //  used once
}

//  Hand over the whole lines in a file's buffer. Returns lines taken; sets
//  *stopped when fn refused one or max was reached.
static size_t
s_deliver (file_t *file, wp_follow_fn *fn, void *arg, size_t max, bool *stopped)
{
    size_t taken = 0, at = 0;
    while (at < file->partial_len) {
        char *newline = (char *) memchr (file->partial + at, '\n', file->partial_len - at);
        if (!newline)
            break;
        if (max && taken >= max) {
            *stopped = true;
            break;
        }
        size_t length = (size_t) (newline - (file->partial + at));
        *newline = 0;
        bool overlong = file->overlong > 0;
        uint64_t size = overlong ? file->overlong + length : length;
        if (fn (arg, file->path, file->line + 1, overlong ? NULL : file->partial + at,
                (size_t) size, false)) {
            *newline = '\n';
            *stopped = true;
            break;
        }
        file->offset += size + 1;
        file->line++;
        file->overlong = 0;
        at += length + 1;
        taken++;
    }
    if (at) {
        memmove (file->partial, file->partial + at, file->partial_len - at);
        file->partial_len -= at;
    }
    return taken;
}

//  Read what a file gained and hand its lines over.
static size_t
s_read (file_t *file, wp_follow_fn *fn, void *arg, size_t max, bool *stopped)
{
    size_t taken = s_deliver (file, fn, arg, max, stopped);
    file->eof = false;
    while (!*stopped && (!max || taken < max)) {
        if (file->partial_len >= WP_FOLLOW_LINE_MAX) {
            //  A line too long to keep: count it, keep nothing.
            file->overlong += file->partial_len;
            file->partial_len = 0;
        }
        if (file->partial_cap < file->partial_len + CHUNK) {
            size_t cap = file->partial_len + CHUNK;
            char *grown = (char *) realloc (file->partial, cap);
            if (!grown)
                break;
            file->partial = grown;
            file->partial_cap = cap;
        }
        ssize_t n = read (file->fd, file->partial + file->partial_len, CHUNK);
        if (n <= 0) {
            file->eof = true;
            break;
        }
        file->partial_len += (size_t) n;
        file->quiet = 0;
        taken += s_deliver (file, fn, arg, max ? max - taken : 0, stopped);
    }
    return taken;
}

//  A rotated file at its end for good: its partial line is handed over
//  as cut. Returns 1 when taken (the file is done), 0 when refused.
static int
s_finish (file_t *file, wp_follow_fn *fn, void *arg)
{
    if (file->partial_len || file->overlong) {
        bool overlong = file->overlong > 0;
        size_t size = (size_t) (file->overlong + file->partial_len);
        if (file->partial_cap <= file->partial_len) {
            char *grown = (char *) realloc (file->partial, file->partial_len + 1);
            if (!grown)
                return 0;
            file->partial = grown;
            file->partial_cap = file->partial_len + 1;
        }
        file->partial [file->partial_len] = 0;
        if (fn (arg, file->path, file->line + 1, overlong ? NULL : file->partial, size, true))
            return 0;
        file->offset += size;
        file->line++;
        file->partial_len = 0;
        file->overlong = 0;
    }
    return 1;
}

//  One file entry's poll: its predecessor first, then rotation,
//  truncation, and what it gained.
static size_t
s_poll_file (wp_follow_t *self, file_t *file, wp_follow_fn *fn, void *arg, size_t max,
             bool *stopped)
{
    size_t taken = 0;
    if (file->pred) {
        file_t *pred = file->pred;
        taken += s_read (pred, fn, arg, max, stopped);
        if (*stopped)
            return taken;
        if (pred->eof && ++pred->quiet >= QUIET_POLLS && s_finish (pred, fn, arg))
            s_file_destroy (&file->pred);
        else
            return taken;               //  the new file waits for the old one
    }
    struct stat st;
    bool exists = stat (file->path, &st) == 0 && S_ISREG (st.st_mode);
    if (file->parked) {
        bool same = exists && (uint64_t) st.st_ino == file->ino
                 && (uint64_t) st.st_dev == file->dev;
        if (same && (uint64_t) st.st_size == file->offset)
            return taken;               //  nothing new
        file->parked = false;
        if (same) {
            file->fd = open (file->path, O_RDONLY | O_CLOEXEC);
            if (file->fd < 0) {
                file->parked = true;
                return taken;
            }
            lseek (file->fd, (off_t) file->offset, SEEK_SET);
        }
        else
            file->offset = file->line = 0;      //  another file: from its start
    }
    if (file->fd >= 0 && (!exists || (uint64_t) st.st_ino != file->ino
                          || (uint64_t) st.st_dev != file->dev)) {
        //  Rotated (or removed): read the old file to its end, then the new.
        zsys_info ("ingest: %s was rotated at line %" PRIu64 ": reading the rest of the "
                   "old file, then the new one", file->path, file->line);
        file_t *pred = (file_t *) zmalloc (sizeof (file_t));
        *pred = *file;
        pred->path = strdup (file->path);
        pred->pred = NULL;
        pred->quiet = 0;
        file->partial = NULL;
        file->partial_len = file->partial_cap = 0;
        file->overlong = 0;
        file->fd = -1;
        file->pred = pred;
        return taken + s_poll_file (self, file, fn, arg, max ? max - taken : 0, stopped);
    }
    if (!exists)
        return taken;
    if (file->fd < 0) {
        int fd = open (file->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return taken;
        s_open (self, file, fd, &st);
        if (file->pred)
            return taken + s_poll_file (self, file, fn, arg, max ? max - taken : 0, stopped);
        lseek (fd, (off_t) file->offset, SEEK_SET);
        file->partial_len = 0;
    }
    else
    if ((uint64_t) st.st_size < file->offset + file->partial_len + file->overlong
        || !s_fingerprint_is (file->fd, file->fp, file->fp_len)) {
        zsys_warning ("ingest: %s was truncated or rewritten (%" PRIu64 " bytes, %" PRIu64
                      " read): reading it again from its start", file->path,
                      (uint64_t) st.st_size, file->offset + file->partial_len);
        file->offset = file->line = 0;
        file->partial_len = 0;
        file->overlong = 0;
        lseek (file->fd, 0, SEEK_SET);
        s_fingerprint (file->fd, &file->fp, &file->fp_len);
    }
    taken += s_read (file, fn, arg, max ? max - taken : 0, stopped);
    if (file->fp_len < FP_BYTES)
        s_fingerprint (file->fd, &file->fp, &file->fp_len);    //  its start grew
    if (file->eof && !file->partial_len && !file->overlong && ++file->quiet >= PARK_POLLS) {
        close (file->fd);
        file->fd = -1;
        file->parked = true;
        file->quiet = 0;
    }
    return taken;
}

//  Poll every file.
size_t
wp_follow_poll (wp_follow_t *self, wp_follow_fn *fn, void *arg, size_t max_lines, bool *more)
{
    assert (self && fn);
    for (size_t i = 0; i < self->n_dirs; i++)
        s_scan (self, self->dirs [i]);
    size_t taken = 0;
    bool stopped = false;
    for (size_t i = 0; i < self->n_files && !stopped; i++)
        taken += s_poll_file (self, self->files [i], fn, arg,
                              max_lines ? max_lines - taken : 0, &stopped);
    if (more)
        *more = stopped;
    return taken;
}

//  Write the state.
int
wp_follow_save (wp_follow_t *self, char *error, size_t size)
{
    assert (self);
    if (!self->state_path)
        return 0;
    char temporary [4200];
    snprintf (temporary, sizeof temporary, "%s.tmp", self->state_path);
    FILE *out = fopen (temporary, "w");
    if (!out) {
        snprintf (error, size, "%s: %s", temporary, strerror (errno));
        return -1;
    }
    fprintf (out, "%s\n", STATE_MAGIC);
    for (size_t i = 0; i < self->n_files; i++) {
        file_t *file = self->files [i];
        //  Until its predecessor is read to its end, the name is there.
        file_t *at = file->pred ? file->pred : file;
        if (at->fd < 0 && !at->parked)
            continue;
        if (at->fd >= 0 && at->fp_len < FP_BYTES)
            s_fingerprint (at->fd, &at->fp, &at->fp_len);
        fprintf (out, "%" PRIu64 " %" PRIu64 " %" PRIx64 " %u %" PRIu64 " %" PRIu64 " %s\n",
                 at->dev, at->ino, at->fp, at->fp_len, at->offset, at->line, file->path);
    }
    //  Records of files not opened this run stay as they were.
    for (size_t i = 0; i < self->n_saved; i++) {
        const saved_t *saved = &self->saved [i];
        if (saved->path)
            fprintf (out, "%" PRIu64 " %" PRIu64 " %" PRIx64 " %u %" PRIu64 " %" PRIu64 " %s\n",
                     saved->dev, saved->ino, saved->fp, saved->fp_len, saved->offset,
                     saved->line, saved->path);
    }
    bool failed = fflush (out) != 0 || fsync (fileno (out)) != 0;
    failed = fclose (out) != 0 || failed;
    if (failed || rename (temporary, self->state_path)) {
        snprintf (error, size, "%s: %s", self->state_path, strerror (errno));
        unlink (temporary);
        return -1;
    }
    return 0;
}

//  Files and partial lines.
size_t
wp_follow_files (wp_follow_t *self, size_t *partial)
{
    assert (self);
    size_t waiting = 0;
    for (size_t i = 0; i < self->n_files; i++)
        if (self->files [i]->partial_len || self->files [i]->overlong)
            waiting++;
    if (partial)
        *partial = waiting;
    return self->n_files;
}

//  A rotated file still read.
bool
wp_follow_draining (wp_follow_t *self)
{
    assert (self);
    for (size_t i = 0; i < self->n_files; i++)
        if (self->files [i]->pred)
            return true;
    return false;
}

//  Each partial line.
void
wp_follow_each_partial (wp_follow_t *self, wp_follow_partial_fn *fn, void *arg)
{
    assert (self && fn);
    for (size_t i = 0; i < self->n_files; i++) {
        file_t *file = self->files [i];
        if (file->partial_len || file->overlong)
            fn (arg, file->path, file->line + 1, (size_t) (file->overlong + file->partial_len));
    }
}
