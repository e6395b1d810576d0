/*  =========================================================================
    wp_engine_file - a model file (wp_engine_file.h).
    =========================================================================
*/
#include "wp_engine_file.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static const char s_magic [8] = { 'W', 'P', 'M', 'O', 'D', 'E', 'L', '\n' };

#define LEVELS (WP_IDLE_BINS + 1)   //  done [] entries

//  A cursor over a buffer; fails (ok false) past its end.
typedef struct {
    uint8_t *out;               //  writing (NULL: reading)
    const uint8_t *in;
    size_t len, at;
    bool ok;
} s_cursor_t;

//  Move n bytes between the buffer and p (little-endian hosts only: the
//  build checks).
static void
s_bytes (s_cursor_t *c, void *p, size_t n)
{
    if (!c->ok || c->at + n > c->len) {
        c->ok = false;
        return;
    }
    if (c->out)
        memcpy (c->out + c->at, p, n);
    else
        memcpy (p, c->in + c->at, n);
    c->at += n;
}

//  The whole layout, one way or the other: the same code writes and reads.
static void
s_layout (s_cursor_t *c, wp_engine_file_t *m, char magic [8], uint32_t dims [5])
{
    _Static_assert (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian layout");
    uint32_t flags = (m->merge ? 1 : 0) | (m->population ? 2 : 0);
    s_bytes (c, magic, 8);
    s_bytes (c, &dims [0], 4);                  //  format
    s_bytes (c, &flags, 4);
    s_bytes (c, m->engine, sizeof m->engine);
    s_bytes (c, &dims [1], 4);                  //  features
    s_bytes (c, &dims [2], 4);                  //  levels
    s_bytes (c, &dims [3], 4);                  //  tols
    s_bytes (c, &m->price, 8);
    s_bytes (c, &m->requests, 8);
    s_bytes (c, &m->from_ms, 8);
    s_bytes (c, &m->until_ms, 8);
    s_bytes (c, m->source, sizeof m->source);
    wp_engine_learned_t *l = &m->learned;
    s_bytes (c, l->weights, sizeof l->weights);
    s_bytes (c, &l->updates, 8);
    s_bytes (c, l->survival, sizeof l->survival);
    s_bytes (c, l->done, sizeof l->done);
    s_bytes (c, &l->waits_s, 8);
    s_bytes (c, &l->waits_n, 8);
    s_bytes (c, l->hits, sizeof l->hits);
    s_bytes (c, &l->trials, 8);
    m->merge = flags & 1;
    m->population = flags & 2;
    dims [4] = flags;
}

size_t
wp_engine_file_encode (const wp_engine_file_t *self, uint8_t *out, size_t size)
{
    wp_engine_file_t copy = *self;
    char magic [8];
    memcpy (magic, s_magic, 8);
    uint32_t dims [5] = { WP_ENGINE_FILE_FORMAT, WP_ENGINE_FEATURES, LEVELS,
                          WP_ENGINE_TOLS, 0 };
    copy.engine [sizeof copy.engine - 1] = 0;
    copy.source [sizeof copy.source - 1] = 0;
    s_cursor_t c = { out, NULL, size, 0, true };
    s_layout (&c, &copy, magic, dims);
    uint32_t crc = (uint32_t) crc32 (0L, out, (uInt) c.at);
    s_bytes (&c, &crc, 4);
    return c.ok ? c.at : 0;
}

int
wp_engine_file_decode (wp_engine_file_t *self, const uint8_t *data, size_t len,
                       char *error, size_t size)
{
    memset (self, 0, sizeof *self);
    char magic [8];
    uint32_t dims [5] = { 0 };
    s_cursor_t c = { NULL, data, len, 0, true };
    s_layout (&c, self, magic, dims);
    uint32_t crc = 0;
    size_t body = c.at;
    s_bytes (&c, &crc, 4);
    const char *wrong = NULL;
    if (len >= 8 && memcmp (data, s_magic, 8))
        wrong = "not a model file (no WPMODEL magic)";
    else
    if (!c.ok)
        wrong = "cut short";
    else
    if (c.at != len)
        wrong = "longer than a model file";
    else
    if (crc != (uint32_t) crc32 (0L, data, (uInt) body))
        wrong = "checksum differs (damaged)";
    if (wrong) {
        snprintf (error, size, "%s", wrong);
        return -1;
    }
    self->engine [sizeof self->engine - 1] = 0;
    self->source [sizeof self->source - 1] = 0;
    if (dims [0] != WP_ENGINE_FILE_FORMAT) {
        snprintf (error, size, "format %u, this build reads %u", dims [0],
                  WP_ENGINE_FILE_FORMAT);
        return -1;
    }
    if (strcmp (self->engine, WP_ENGINE_VERSION)) {
        snprintf (error, size, "learned by engine '%s', this is '%s'", self->engine,
                  WP_ENGINE_VERSION);
        return -1;
    }
    if (dims [1] != WP_ENGINE_FEATURES || dims [2] != LEVELS || dims [3] != WP_ENGINE_TOLS
        || (dims [4] & ~3u)) {
        snprintf (error, size, "dimensions %u/%u/%u or flags %#x differ from this build's "
                  "%d/%d/%d", dims [1], dims [2], dims [3], dims [4], WP_ENGINE_FEATURES,
                  LEVELS, WP_ENGINE_TOLS);
        return -1;
    }
    if (!(self->price > 0 && isfinite (self->price))) {
        snprintf (error, size, "price %g is not positive", self->price);
        return -1;
    }
    return 0;
}

int
wp_engine_file_write (const wp_engine_file_t *self, const char *path, char *error,
                      size_t size)
{
    uint8_t data [WP_ENGINE_FILE_MAX];
    size_t len = wp_engine_file_encode (self, data, sizeof data);
    char temp [4200];
    snprintf (temp, sizeof temp, "%s.tmp", path);
    FILE *file = len ? fopen (temp, "wb") : NULL;
    if (!file) {
        snprintf (error, size, "%s: %s", temp, len ? strerror (errno) : "too large");
        return -1;
    }
    bool ok = fwrite (data, 1, len, file) == len;
    ok = fflush (file) == 0 && ok;
    ok = fsync (fileno (file)) == 0 && ok;
    ok = fclose (file) == 0 && ok;
    if (!ok || rename (temp, path)) {
        snprintf (error, size, "%s: %s", path, strerror (errno));
        unlink (temp);
        return -1;
    }
    return 0;
}

int
wp_engine_file_read (wp_engine_file_t *self, const char *path, char *error, size_t size)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        snprintf (error, size, "%s: %s", path, strerror (errno));
        return -1;
    }
    uint8_t data [WP_ENGINE_FILE_MAX + 1];
    size_t len = fread (data, 1, sizeof data, file);
    fclose (file);
    char why [256];
    if (wp_engine_file_decode (self, data, len, why, sizeof why)) {
        snprintf (error, size, "%s: %s", path, why);
        return -1;
    }
    return 0;
}

void
wp_engine_file_learned (const wp_engine_file_t *self, wp_engine_learned_t *out)
{
    *out = self->learned;
    if (!self->population)
        memset (out->survival, 0, sizeof out->survival);
}

void
wp_engine_file_print (const wp_engine_file_t *self, FILE *out)
{
    const wp_engine_learned_t *l = &self->learned;
    fprintf (out, "model file format %d, engine %s, cold_wait_price %g\n",
             WP_ENGINE_FILE_FORMAT, self->engine, self->price);
    fprintf (out, "learned from %s, %" PRIu64 " requests", self->source, self->requests);
    if (self->from_ms >= 0 || self->until_ms >= 0) {
        char from [32] = "its start", until [32] = "its end";
        if (self->from_ms >= 0)
            snprintf (from, sizeof from, "%" PRId64 " ms", self->from_ms);
        if (self->until_ms >= 0)
            snprintf (until, sizeof until, "%" PRId64 " ms", self->until_ms);
        fprintf (out, " (from %s to %s)", from, until);
    }
    fprintf (out, "\nloads as: %s what the engine learned online; the population's "
             "survival %s\n", self->merge ? "merged with" : "replacing",
             self->population ? "becomes the prior" : "is shown only (--population)");
    fprintf (out, "ensemble weights (%" PRIu64 " examples):", l->updates);
    for (int i = 0; i < WP_ENGINE_FEATURES; i++)
        fprintf (out, " %.4f", l->weights [i]);
    fprintf (out, "\npopulation: P(idle >= next level | >= level), from %.0f idle times "
             "(faded):", l->done [0]);
    for (int j = 0; j + 1 < LEVELS; j++)
        fprintf (out, " %.3f", l->survival [j]);
    fprintf (out, "\nwaits behind cold starts (faded): %.1f over %.1f cold starts\n",
             l->waits_s, l->waits_n);
    fprintf (out, "windows' hit rates over %.1f tries:", l->trials);
    for (int t = 0; t < WP_ENGINE_TOLS; t++)
        fprintf (out, " %.3f", l->trials > 0 ? l->hits [t] / l->trials : 0);
    fprintf (out, "\n");
}
