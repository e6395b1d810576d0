/*  =========================================================================
    wp_eval_trace - streaming reader of request traces
    =========================================================================
*/
#include "wp_eval_trace.h"
#include "wp_eval_input.h"
#include "wp_eval_strmap.h"
#include "wp_util.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW_BITS 20                     //  heap keys: time << ROW_BITS | row
#define MAX_ROWS (1u << ROW_BITS)

//  One row of the minute-count file while it is being expanded.
typedef struct {
    const char *cursor;         //  next minute field in the row's text
    const char *end;            //  end of the row's text
    uint32_t minute;            //  current minute (0-based)
    uint32_t count;             //  requests in the current minute
    uint32_t index;             //  next request within the minute
    uint32_t model;             //  catalog id of HashFunction
    uint32_t user;              //  user id of HashOwner
} s_row_t;

struct _wp_eval_trace_t {
    char *path;                 //  trace file name, for messages
    wp_eval_format_t format;    //  format being read
    wp_eval_catalog_t *catalog; //  borrowed catalog
    wp_eval_strmap_t *users;    //  user name <-> id
    char error [WP_EVAL_ERRLEN];   //  last error
    //  CSV
    wp_eval_input_t *input;     //  line reader
    int64_t last_time;          //  time of the previous row
    int kind_column;            //  the kind column's index (0: none)
    wp_eval_strmap_t *kinds;    //  intent kinds <-> id - 1
    //  Azure
    char *data;                 //  file contents
    size_t data_size;           //  bytes of data
    bool mapped;                //  data is mmap'ed
    s_row_t *rows;              //  rows [r]
    size_t nrows;               //  number of rows
    uint64_t *heap;             //  (time << ROW_BITS | row) of active rows
    size_t heap_size;           //  active rows
    uint64_t total;             //  requests in the file
    uint64_t emitted;           //  requests returned so far
};

//  Parse a format name.
int
wp_eval_format_parse (const char *name, wp_eval_format_t *format)
{
    if (strcmp (name, "csv") == 0)
        *format = WP_EVAL_FORMAT_CSV;
    else
    if (strcmp (name, "azure") == 0)
        *format = WP_EVAL_FORMAT_AZURE;
    else
        return -1;
    return 0;
}

//  Parse the digits of [p, end) as a count; -1 if not a plain decimal.
static int
s_parse_count (const char *p, const char *end, uint64_t *value)
{
    if (p == end || end - p > 18)
        return -1;
    uint64_t v = 0;
    for (; p < end; p++) {
        unsigned d = (unsigned) (*p - '0');
        if (d > 9)
            return -1;
        v = v * 10 + d;
    }
    *value = v;
    return 0;
}

//  Time of a row's current request.
static inline uint64_t
s_row_time (const s_row_t *row)
{
    return (uint64_t) row->minute * 60000
         + ((2 * (uint64_t) row->index + 1) * 30000) / row->count;
}

//  Move a row to its next minute with a non-zero count; false when done.
//  Fields were validated at open, so parsing here cannot fail.
static inline bool
s_row_next_minute (s_row_t *row)
{
    const char *p = row->cursor;
    while (p < row->end) {
        uint64_t v = 0;
        while (p < row->end && *p != ',')
            v = v * 10 + (uint64_t) (*p++ - '0');
        p++;                            //  skip the comma (or pass the end)
        row->minute++;
        if (v) {
            row->count = (uint32_t) v;
            row->index = 0;
            row->cursor = p;
            return true;
        }
    }
    row->cursor = row->end;
    return false;
}

//  Restore the heap order from position pos downwards.
static inline void
s_sift_down (uint64_t *heap, size_t size, size_t pos)
{
    uint64_t key = heap [pos];
    while (true) {
        size_t child = 2 * pos + 1;
        if (child >= size)
            break;
        if (child + 1 < size && heap [child + 1] < heap [child])
            child++;
        if (heap [child] >= key)
            break;
        heap [pos] = heap [child];
        pos = child;
    }
    heap [pos] = key;
}

//  Open the minute-count format: map the file, validate every row, build
//  the heap of first requests.
static int
s_open_azure (wp_eval_trace_t *self, char *error)
{
    self->data = wp_eval_input_slurp (self->path, &self->data_size, &self->mapped, error);
    if (!self->data)
        return -1;
    const char *p = self->data, *end = self->data + self->data_size;
    //  Header: HashFunction,HashApp,HashOwner,minute_1..minute_N
    const char *eol = memchr (p, '\n', (size_t) (end - p));
    const char *hend = eol? eol: end;
    if (hend > p && hend [-1] == '\r')
        hend--;
    if ((size_t) (hend - p) < 30 || strncmp (p, "HashFunction,HashApp,HashOwner,", 31) != 0) {
        snprintf (error, WP_EVAL_ERRLEN,
                  "%s:1: header must start 'HashFunction,HashApp,HashOwner,minute_1'", self->path);
        return -1;
    }
    size_t minutes = 0;
    for (const char *q = p + 30; q < hend; q++)
        if (*q == ',')
            minutes++;
    if (minutes == 0) {
        snprintf (error, WP_EVAL_ERRLEN, "%s:1: no minute columns", self->path);
        return -1;
    }
    //  Count the rows to size the arrays.
    size_t lines = 0;
    for (const char *q = eol? eol + 1: end; q < end; ) {
        const char *nl = memchr (q, '\n', (size_t) (end - q));
        lines++;
        q = nl? nl + 1: end;
    }
    if (lines >= MAX_ROWS) {
        snprintf (error, WP_EVAL_ERRLEN, "%s: more than %u rows", self->path, MAX_ROWS - 1);
        return -1;
    }
    self->rows = calloc (lines + 1, sizeof (s_row_t));
    self->heap = calloc (lines + 1, sizeof (uint64_t));
    if (!self->rows || !self->heap) {
        snprintf (error, WP_EVAL_ERRLEN, "out of memory");
        return -1;
    }
    unsigned long long lineno = 1;
    for (const char *q = eol? eol + 1: end; q < end; ) {
        lineno++;
        const char *nl = memchr (q, '\n', (size_t) (end - q));
        const char *lend = nl? nl: end;
        const char *next = nl? nl + 1: end;
        if (lend > q && lend [-1] == '\r')
            lend--;
        if (lend == q) {
            if (next == end)
                break;                  //  trailing empty line
            snprintf (error, WP_EVAL_ERRLEN, "%s:%llu: empty line", self->path, lineno);
            return -1;
        }
        //  The three hash fields.
        const char *field [3];
        size_t flen [3];
        const char *f = q;
        static const char *names [3] = { "HashFunction", "HashApp", "HashOwner" };
        for (int i = 0; i < 3; i++) {
            const char *comma = memchr (f, ',', (size_t) (lend - f));
            if (!comma || comma == f) {
                snprintf (error, WP_EVAL_ERRLEN, "%s:%llu: missing field '%s'",
                          self->path, lineno, comma? names [i]: i < 2? names [i + 1]: "minute_1");
                return -1;
            }
            field [i] = f;
            flen [i] = (size_t) (comma - f);
            f = comma + 1;
        }
        //  The minute counts: exactly `minutes` plain decimals.
        size_t count = 0;
        uint64_t row_total = 0;
        const char *m = f;
        while (true) {
            const char *comma = memchr (m, ',', (size_t) (lend - m));
            const char *stop = comma? comma: lend;
            uint64_t v;
            count++;
            if (count > minutes) {
                snprintf (error, WP_EVAL_ERRLEN, "%s:%llu: more than %zu minute fields",
                          self->path, lineno, minutes);
                return -1;
            }
            if (stop == m) {
                snprintf (error, WP_EVAL_ERRLEN, "%s:%llu: missing field 'minute_%zu'",
                          self->path, lineno, count);
                return -1;
            }
            if (s_parse_count (m, stop, &v) || v > UINT32_MAX) {
                snprintf (error, WP_EVAL_ERRLEN, "%s:%llu: bad number '%.*s' in field 'minute_%zu'",
                          self->path, lineno, (int) (stop - m), m, count);
                return -1;
            }
            row_total += v;
            if (!comma)
                break;
            m = comma + 1;
        }
        if (count < minutes) {
            snprintf (error, WP_EVAL_ERRLEN, "%s:%llu: missing field 'minute_%zu'",
                      self->path, lineno, count + 1);
            return -1;
        }
        int64_t model = wp_eval_catalog_lookup (self->catalog, field [0], flen [0]);
        if (model < 0) {
            snprintf (error, WP_EVAL_ERRLEN, "%s:%llu: model '%.*s' is not in the catalog",
                      self->path, lineno, (int) flen [0], field [0]);
            return -1;
        }
        int64_t user = wp_eval_strmap_intern (self->users, field [2], flen [2], NULL);
        if (user < 0) {
            snprintf (error, WP_EVAL_ERRLEN, "out of memory");
            return -1;
        }
        s_row_t *row = &self->rows [self->nrows];
        row->cursor = f;
        row->end = lend;
        row->minute = (uint32_t) -1;    //  the first s_row_next_minute makes it 0
        row->model = (uint32_t) model;
        row->user = (uint32_t) user;
        self->total += row_total;
        if (s_row_next_minute (row))
            self->heap [self->heap_size++] = s_row_time (row) << ROW_BITS | self->nrows;
        self->nrows++;
        q = next;
    }
    //  Heapify (keys are unique: the row number is part of the key).
    for (size_t i = self->heap_size / 2; i-- > 0; )
        s_sift_down (self->heap, self->heap_size, i);
    return 0;
}

//  Open a trace.
wp_eval_trace_t *
wp_eval_trace_open (const char *path, wp_eval_format_t format,
                    wp_eval_catalog_t *catalog, char *error)
{
    wp_eval_trace_t *self = calloc (1, sizeof (wp_eval_trace_t));
    if (!self) {
        snprintf (error, WP_EVAL_ERRLEN, "out of memory");
        return NULL;
    }
    self->catalog = catalog;
    self->path = strdup (path);
    self->users = wp_eval_strmap_new ();
    if (!self->path || !self->users) {
        snprintf (error, WP_EVAL_ERRLEN, "out of memory");
        wp_eval_trace_destroy (&self);
        return NULL;
    }
    //  Read the header line through the line reader (both formats).
    self->input = wp_eval_input_new (path, error);
    if (!self->input) {
        wp_eval_trace_destroy (&self);
        return NULL;
    }
    const char *line;
    size_t len;
    int rc = wp_eval_input_line (self->input, &line, &len);
    if (rc <= 0) {
        if (rc < 0)
            snprintf (error, WP_EVAL_ERRLEN, "%s", wp_eval_input_error (self->input));
        else
            snprintf (error, WP_EVAL_ERRLEN, "%s: empty trace (no header)", path);
        wp_eval_trace_destroy (&self);
        return NULL;
    }
    bool is_csv = strncmp (line, "timestamp_ms,user,model", 23) == 0
               && (line [23] == 0 || line [23] == ',');
    bool is_azure = strncmp (line, "HashFunction,HashApp,HashOwner,", 31) == 0;
    if (format == WP_EVAL_FORMAT_AUTO) {
        if (!is_csv && !is_azure) {
            snprintf (error, WP_EVAL_ERRLEN,
                      "%s:1: unknown trace format: header is neither "
                      "'timestamp_ms,user,model' nor 'HashFunction,HashApp,HashOwner,minute_1,...'",
                      path);
            wp_eval_trace_destroy (&self);
            return NULL;
        }
        format = is_csv? WP_EVAL_FORMAT_CSV: WP_EVAL_FORMAT_AZURE;
    }
    self->format = format;
    if (format == WP_EVAL_FORMAT_CSV) {
        if (!is_csv) {
            snprintf (error, WP_EVAL_ERRLEN, "%s:1: header must start 'timestamp_ms,user,model'",
                      path);
            wp_eval_trace_destroy (&self);
            return NULL;
        }
        //  An optional kind column, after model.
        int column = 0;
        for (const char *field = line; field; column++) {
            const char *comma = memchr (field, ',', (size_t) (line + len - field));
            size_t flen = (size_t) ((comma ? comma : line + len) - field);
            if (column > 2 && flen == 4 && memcmp (field, "kind", 4) == 0) {
                if (self->kind_column) {
                    snprintf (error, WP_EVAL_ERRLEN, "%s:1: column 'kind' given twice", path);
                    wp_eval_trace_destroy (&self);
                    return NULL;
                }
                self->kind_column = column;
            }
            field = comma ? comma + 1 : NULL;
        }
        if (self->kind_column && !(self->kinds = wp_eval_strmap_new ())) {
            snprintf (error, WP_EVAL_ERRLEN, "out of memory");
            wp_eval_trace_destroy (&self);
            return NULL;
        }
        return self;
    }
    wp_eval_input_destroy (&self->input);
    if (s_open_azure (self, error)) {
        wp_eval_trace_destroy (&self);
        return NULL;
    }
    return self;
}

//  Close the trace.
void
wp_eval_trace_destroy (wp_eval_trace_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_eval_trace_t *self = *self_p;
    wp_eval_input_destroy (&self->input);
    wp_eval_input_release (self->data, self->data_size, self->mapped);
    wp_eval_strmap_destroy (&self->users);
    wp_eval_strmap_destroy (&self->kinds);
    free (self->rows);
    free (self->heap);
    free (self->path);
    free (self);
    *self_p = NULL;
}

//  Read CSV requests.
static ssize_t
s_read_csv (wp_eval_trace_t *self, wp_eval_request_t *buffer, size_t max)
{
    size_t n = 0;
    const char *line;
    size_t len;
    while (n < max) {
        int rc = wp_eval_input_line (self->input, &line, &len);
        if (rc == 0)
            break;
        if (rc < 0) {
            snprintf (self->error, sizeof (self->error), "%s", wp_eval_input_error (self->input));
            return -1;
        }
        const char *p = line, *end = line + len;
        unsigned long long lineno = (unsigned long long) wp_eval_input_lineno (self->input);
        //  timestamp_ms
        int64_t t = 0;
        const char *start = p;
        while (p < end && *p != ',') {
            unsigned d = (unsigned) (*p - '0');
            if (d > 9 || p - start >= 15) {
                const char *stop = memchr (start, ',', (size_t) (end - start));
                snprintf (self->error, sizeof (self->error),
                          "%s:%llu: bad number '%.*s' in field 'timestamp_ms'", self->path,
                          lineno, (int) ((stop? stop: end) - start), start);
                return -1;
            }
            t = t * 10 + d;
            p++;
        }
        if (p == start) {
            snprintf (self->error, sizeof (self->error),
                      "%s:%llu: missing field 'timestamp_ms'", self->path, lineno);
            return -1;
        }
        if (p == end) {
            snprintf (self->error, sizeof (self->error),
                      "%s:%llu: missing field 'user'", self->path, lineno);
            return -1;
        }
        //  user
        const char *user = ++p;
        const char *comma = memchr (p, ',', (size_t) (end - p));
        if (!comma || comma == user) {
            snprintf (self->error, sizeof (self->error),
                      "%s:%llu: missing field '%s'", self->path, lineno, comma? "user": "model");
            return -1;
        }
        size_t user_len = (size_t) (comma - user);
        //  model
        const char *model = comma + 1;
        comma = memchr (model, ',', (size_t) (end - model));
        size_t model_len = (size_t) ((comma? comma: end) - model);
        //  kind (an intent when not empty)
        int64_t kind_id = 0;
        if (self->kind_column) {
            const char *field = comma ? comma + 1 : NULL;
            for (int column = 3; field && column < self->kind_column; column++) {
                const char *next = memchr (field, ',', (size_t) (end - field));
                field = next ? next + 1 : NULL;
            }
            if (!field) {
                snprintf (self->error, sizeof (self->error),
                          "%s:%llu: missing field 'kind'", self->path, lineno);
                return -1;
            }
            const char *stop = memchr (field, ',', (size_t) (end - field));
            size_t kind_len = (size_t) ((stop ? stop : end) - field);
            if (kind_len) {
                char kind [WP_INTENT_KIND_MAX + 1];
                snprintf (kind, sizeof kind, "%.*s", (int) (kind_len < sizeof kind ? kind_len
                                                            : sizeof kind - 1), field);
                if (kind_len > WP_INTENT_KIND_MAX || !wp_intent_kind_ok (kind)) {
                    snprintf (self->error, sizeof (self->error),
                              "%s:%llu: bad kind '%.*s' in field 'kind': 1..%d characters of "
                              "[a-z0-9._-], e.g. chat.opened (empty: a request)", self->path,
                              lineno, (int) kind_len, field, WP_INTENT_KIND_MAX);
                    return -1;
                }
                kind_id = wp_eval_strmap_intern (self->kinds, field, kind_len, NULL);
                if (kind_id < 0) {
                    snprintf (self->error, sizeof (self->error), "out of memory");
                    return -1;
                }
                kind_id++;
            }
        }
        if (model_len == 0 && !kind_id) {
            snprintf (self->error, sizeof (self->error),
                      "%s:%llu: missing field 'model'", self->path, lineno);
            return -1;
        }
        if (t < self->last_time) {
            snprintf (self->error, sizeof (self->error),
                      "%s:%llu: unsorted timestamp %lld after %lld", self->path, lineno,
                      (long long) t, (long long) self->last_time);
            return -1;
        }
        int64_t model_id = model_len ? wp_eval_catalog_lookup (self->catalog, model, model_len)
                                     : (int64_t) WP_EVAL_NO_MODEL;
        if (model_id < 0) {
            snprintf (self->error, sizeof (self->error),
                      "%s:%llu: model '%.*s' is not in the catalog", self->path, lineno,
                      (int) model_len, model);
            return -1;
        }
        int64_t user_id = wp_eval_strmap_intern (self->users, user, user_len, NULL);
        if (user_id < 0) {
            snprintf (self->error, sizeof (self->error), "out of memory");
            return -1;
        }
        self->last_time = t;
        buffer [n].time = t;
        buffer [n].user = (uint32_t) user_id;
        buffer [n].model = (uint32_t) model_id;
        buffer [n].kind = (uint32_t) kind_id;
        n++;
    }
    return (ssize_t) n;
}

//  Read Azure requests: pop the earliest row, emit, advance, sift.
static ssize_t
s_read_azure (wp_eval_trace_t *self, wp_eval_request_t *buffer, size_t max)
{
    size_t n = 0;
    uint64_t *heap = self->heap;
    size_t size = self->heap_size;
    while (n < max && size) {
        uint64_t key = heap [0];
        uint32_t r = (uint32_t) (key & (MAX_ROWS - 1));
        s_row_t *row = &self->rows [r];
        buffer [n].time = (int64_t) (key >> ROW_BITS);
        buffer [n].user = row->user;
        buffer [n].model = row->model;
        buffer [n].kind = 0;
        n++;
        if (++row->index < row->count || s_row_next_minute (row))
            heap [0] = s_row_time (row) << ROW_BITS | r;
        else
            heap [0] = heap [--size];
        if (size)
            s_sift_down (heap, size, 0);
    }
    self->heap_size = size;
    self->emitted += n;
    return (ssize_t) n;
}

//  Read up to max requests.
ssize_t
wp_eval_trace_read (wp_eval_trace_t *self, wp_eval_request_t *buffer, size_t max)
{
    if (self->format == WP_EVAL_FORMAT_CSV)
        return s_read_csv (self, buffer, max);
    return s_read_azure (self, buffer, max);
}

//  Reason of the last error.
const char *
wp_eval_trace_error (wp_eval_trace_t *self)
{
    return self->error;
}

//  Fraction of the trace read so far.
double
wp_eval_trace_progress (wp_eval_trace_t *self)
{
    if (self->format == WP_EVAL_FORMAT_CSV)
        return wp_eval_input_progress (self->input);
    return self->total? (double) self->emitted / (double) self->total: 1;
}

//  Format of the trace.
wp_eval_format_t
wp_eval_trace_format (wp_eval_trace_t *self)
{
    return self->format;
}

//  Number of distinct users seen so far.
size_t
wp_eval_trace_users (wp_eval_trace_t *self)
{
    return wp_eval_strmap_size (self->users);
}

//  Name of a user id.
const char *
wp_eval_trace_user_name (wp_eval_trace_t *self, uint32_t user)
{
    return wp_eval_strmap_name (self->users, user);
}

//  Intents in the trace.
bool
wp_eval_trace_has_kinds (wp_eval_trace_t *self)
{
    return self->kind_column > 0;
}

//  An intent's kind.
const char *
wp_eval_trace_kind_name (wp_eval_trace_t *self, uint32_t kind)
{
    if (!self->kinds || kind == 0)
        return NULL;
    return wp_eval_strmap_name (self->kinds, kind - 1);
}
