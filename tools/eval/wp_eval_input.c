/*  =========================================================================
    wp_eval_input - a fast line reader over a plain or gzip-compressed file
    =========================================================================
*/
#include "wp_eval_input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define BLOCK_SIZE (4u << 20)           //  bytes per read
#define MAX_LINE (64u << 20)            //  longest line accepted

struct _wp_eval_input_t {
    char *path;                 //  file name, for messages
    int fd;                     //  plain file, or -1
    gzFile gz;                  //  compressed file, or NULL
    char *buffer;               //  block buffer (one extra byte for a NUL)
    size_t capacity;            //  size of buffer
    size_t head;                //  first unconsumed byte
    size_t tail;                //  end of valid bytes
    bool eof;                   //  no more bytes to read from the file
    uint64_t lineno;            //  number of the last line returned
    uint64_t file_size;         //  size of the file on disk
    uint64_t consumed;          //  bytes read from disk (plain files)
    char error [WP_EVAL_ERRLEN];   //  last error
};

//  True when the path ends in ".gz".
bool
wp_eval_input_is_gz (const char *path)
{
    size_t len = strlen (path);
    return len >= 3 && strcmp (path + len - 3, ".gz") == 0;
}

//  Open a file for reading lines.
wp_eval_input_t *
wp_eval_input_new (const char *path, char *error)
{
    wp_eval_input_t *self = calloc (1, sizeof (wp_eval_input_t));
    if (!self) {
        snprintf (error, WP_EVAL_ERRLEN, "out of memory");
        return NULL;
    }
    self->fd = -1;
    self->path = strdup (path);
    self->capacity = BLOCK_SIZE;
    self->buffer = malloc (self->capacity + 1);
    if (!self->path || !self->buffer) {
        snprintf (error, WP_EVAL_ERRLEN, "out of memory");
        wp_eval_input_destroy (&self);
        return NULL;
    }
    self->fd = open (path, O_RDONLY);
    if (self->fd < 0) {
        snprintf (error, WP_EVAL_ERRLEN, "%s: cannot open: %s", path, strerror (errno));
        wp_eval_input_destroy (&self);
        return NULL;
    }
    struct stat st;
    if (fstat (self->fd, &st) == 0)
        self->file_size = (uint64_t) st.st_size;
    if (wp_eval_input_is_gz (path)) {
        self->gz = gzdopen (self->fd, "rb");
        if (!self->gz) {
            snprintf (error, WP_EVAL_ERRLEN, "%s: cannot open gzip stream", path);
            wp_eval_input_destroy (&self);
            return NULL;
        }
        self->fd = -1;                  //  owned by gz now
        gzbuffer (self->gz, 1u << 20);
    }
    return self;
}

//  Close the file and free the buffer.
void
wp_eval_input_destroy (wp_eval_input_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_eval_input_t *self = *self_p;
    if (self->gz)
        gzclose (self->gz);
    if (self->fd >= 0)
        close (self->fd);
    free (self->buffer);
    free (self->path);
    free (self);
    *self_p = NULL;
}

//  Refill the buffer after moving the unconsumed bytes to its front;
//  returns bytes added, 0 at end of file, -1 on error.
static ssize_t
s_fill (wp_eval_input_t *self)
{
    if (self->head > 0) {
        memmove (self->buffer, self->buffer + self->head, self->tail - self->head);
        self->tail -= self->head;
        self->head = 0;
    }
    if (self->tail == self->capacity) {
        if (self->capacity >= MAX_LINE) {
            snprintf (self->error, sizeof (self->error), "%s:%llu: line longer than %u bytes",
                      self->path, (unsigned long long) self->lineno + 1, MAX_LINE);
            return -1;
        }
        char *bigger = realloc (self->buffer, self->capacity * 2 + 1);
        if (!bigger) {
            snprintf (self->error, sizeof (self->error), "out of memory");
            return -1;
        }
        self->buffer = bigger;
        self->capacity *= 2;
    }
    size_t room = self->capacity - self->tail;
    ssize_t got;
    if (self->gz) {
        int rc = gzread (self->gz, self->buffer + self->tail, (unsigned) room);
        if (rc < 0) {
            int errnum;
            const char *msg = gzerror (self->gz, &errnum);
            snprintf (self->error, sizeof (self->error), "%s: gzip error: %s", self->path, msg);
            return -1;
        }
        got = rc;
    }
    else {
        got = read (self->fd, self->buffer + self->tail, room);
        if (got < 0) {
            snprintf (self->error, sizeof (self->error), "%s: read error: %s",
                      self->path, strerror (errno));
            return -1;
        }
        self->consumed += (uint64_t) got;
    }
    self->tail += (size_t) got;
    if (got == 0)
        self->eof = true;
    return got;
}

//  Next line.
int
wp_eval_input_line (wp_eval_input_t *self, const char **line, size_t *len)
{
    while (true) {
        char *start = self->buffer + self->head;
        size_t avail = self->tail - self->head;
        char *nl = avail? memchr (start, '\n', avail): NULL;
        if (nl || (self->eof && avail)) {
            size_t n = nl? (size_t) (nl - start): avail;
            self->head += nl? n + 1: n;
            if (n && start [n - 1] == '\r')
                n--;
            start [n] = 0;
            *line = start;
            *len = n;
            self->lineno++;
            return 1;
        }
        if (self->eof)
            return 0;
        if (s_fill (self) < 0)
            return -1;
    }
}

//  Number of the line last returned.
uint64_t
wp_eval_input_lineno (wp_eval_input_t *self)
{
    return self->lineno;
}

//  Fraction of the file consumed so far.
double
wp_eval_input_progress (wp_eval_input_t *self)
{
    if (!self->file_size)
        return 0;
    uint64_t at = self->gz? (uint64_t) gzoffset (self->gz): self->consumed;
    double fraction = (double) at / (double) self->file_size;
    return fraction > 1? 1: fraction;
}

//  The path given at open.
const char *
wp_eval_input_path (wp_eval_input_t *self)
{
    return self->path;
}

//  Reason of the last error.
const char *
wp_eval_input_error (wp_eval_input_t *self)
{
    return self->error;
}

//  Read a whole file into memory.
char *
wp_eval_input_slurp (const char *path, size_t *size, bool *mapped, char *error)
{
    *mapped = false;
    if (!wp_eval_input_is_gz (path)) {
        int fd = open (path, O_RDONLY);
        if (fd < 0) {
            snprintf (error, WP_EVAL_ERRLEN, "%s: cannot open: %s", path, strerror (errno));
            return NULL;
        }
        struct stat st;
        if (fstat (fd, &st) || st.st_size == 0) {
            snprintf (error, WP_EVAL_ERRLEN, "%s: empty or unreadable file", path);
            close (fd);
            return NULL;
        }
        char *data = mmap (NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close (fd);
        if (data == MAP_FAILED) {
            snprintf (error, WP_EVAL_ERRLEN, "%s: cannot map: %s", path, strerror (errno));
            return NULL;
        }
        *size = (size_t) st.st_size;
        *mapped = true;
        return data;
    }
    gzFile gz = gzopen (path, "rb");
    if (!gz) {
        snprintf (error, WP_EVAL_ERRLEN, "%s: cannot open: %s", path, strerror (errno));
        return NULL;
    }
    size_t cap = 1u << 22, len = 0;
    char *data = malloc (cap);
    while (data) {
        if (len == cap) {
            char *bigger = realloc (data, cap * 2);
            if (!bigger) {
                free (data);
                data = NULL;
                break;
            }
            data = bigger;
            cap *= 2;
        }
        int got = gzread (gz, data + len, (unsigned) (cap - len > (1u << 30)? 1u << 30: cap - len));
        if (got < 0) {
            int errnum;
            snprintf (error, WP_EVAL_ERRLEN, "%s: gzip error: %s", path, gzerror (gz, &errnum));
            free (data);
            gzclose (gz);
            return NULL;
        }
        if (got == 0)
            break;
        len += (size_t) got;
    }
    gzclose (gz);
    if (!data) {
        snprintf (error, WP_EVAL_ERRLEN, "out of memory reading %s", path);
        return NULL;
    }
    if (len == 0) {
        free (data);
        snprintf (error, WP_EVAL_ERRLEN, "%s: empty file", path);
        return NULL;
    }
    *size = len;
    return data;
}

//  Release what wp_eval_input_slurp returned.
void
wp_eval_input_release (char *data, size_t size, bool mapped)
{
    if (!data)
        return;
    if (mapped)
        munmap (data, size);
    else
        free (data);
}
