/*  =========================================================================
    wp_eval_catalog - the models a trace may request: memory and load time
    =========================================================================
*/
#include "wp_eval_catalog.h"
#include "wp_eval_input.h"
#include "wp_eval_strmap.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _wp_eval_catalog_t {
    wp_eval_strmap_t *names;    //  model name <-> id
    uint32_t *memory_mb;        //  memory_mb [id]
    uint32_t *load_ms;          //  load_ms [id]
    uint8_t *pin;               //  pin [id]: 1 = pinned
    uint8_t *priority;          //  priority [id]: 1 low, 2 normal, 3 high
    uint32_t *rank;             //  name rank [id], built on first use
    size_t size;                //  number of models
    size_t capacity;            //  allocated length of the arrays
    uint64_t total_mb;          //  sum of memory_mb
    uint64_t pinned_mb;         //  sum of the pinned models' memory_mb
    bool has_settings;          //  a pin or priority column, or one was set
};

//  Create an empty catalog.
wp_eval_catalog_t *
wp_eval_catalog_new (void)
{
    wp_eval_catalog_t *self = calloc (1, sizeof (wp_eval_catalog_t));
    if (!self)
        return NULL;
    self->names = wp_eval_strmap_new ();
    if (!self->names) {
        free (self);
        return NULL;
    }
    return self;
}

//  Destroy the catalog.
void
wp_eval_catalog_destroy (wp_eval_catalog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_eval_catalog_t *self = *self_p;
    wp_eval_strmap_destroy (&self->names);
    free (self->memory_mb);
    free (self->load_ms);
    free (self->pin);
    free (self->priority);
    free (self->rank);
    free (self);
    *self_p = NULL;
}

//  Add a model.
int64_t
wp_eval_catalog_add (wp_eval_catalog_t *self, const char *name,
                     uint32_t memory_mb, uint32_t load_ms)
{
    int added;
    int64_t id = wp_eval_strmap_intern (self->names, name, strlen (name), &added);
    if (id < 0 || !added)
        return -1;
    if (self->size == self->capacity) {
        size_t cap = self->capacity? self->capacity * 2: 64;
        uint32_t *mem = realloc (self->memory_mb, cap * sizeof (uint32_t));
        if (!mem)
            return -1;
        self->memory_mb = mem;
        uint32_t *load = realloc (self->load_ms, cap * sizeof (uint32_t));
        if (!load)
            return -1;
        self->load_ms = load;
        uint8_t *pin = realloc (self->pin, cap);
        if (!pin)
            return -1;
        self->pin = pin;
        uint8_t *priority = realloc (self->priority, cap);
        if (!priority)
            return -1;
        self->priority = priority;
        self->capacity = cap;
    }
    self->memory_mb [id] = memory_mb;
    self->load_ms [id] = load_ms;
    self->pin [id] = 0;
    self->priority [id] = 2;
    self->size++;
    self->total_mb += memory_mb;
    free (self->rank);
    self->rank = NULL;
    return id;
}

//  Parse a non-negative decimal integer field of at most 9 digits.
static int
s_parse_u32 (const char *str, size_t len, uint32_t *value)
{
    if (len == 0 || len > 9)
        return -1;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (str [i] < '0' || str [i] > '9')
            return -1;
        v = v * 10 + (uint32_t) (str [i] - '0');
    }
    *value = v;
    return 0;
}

//  The columns a catalog may have; the first three are required, in order.
typedef enum { COL_MODEL, COL_MEMORY, COL_LOAD, COL_PIN, COL_PRIORITY, COL_COUNT } s_column_t;
static const char *s_column_names [COL_COUNT] = {
    "model", "memory_mb", "load_ms", "pin", "priority"
};

//  Most columns a catalog may have (each known column once), and most
//  header fields looked at for the error.
#define COLUMNS_MAX COL_COUNT
#define HEADER_MAX 64

//  True if the field (len bytes) equals the word.
static bool
s_field_is (const char *field, size_t len, const char *word)
{
    return strlen (word) == len && memcmp (field, word, len) == 0;
}

//  Split a line at commas into at most max fields; returns the number of
//  fields, or max + 1 if there are more.
static int
s_split (const char *line, size_t len, const char **field, size_t *flen, int max)
{
    const char *p = line, *end = line + len;
    int n = 0;
    while (true) {
        const char *comma = memchr (p, ',', (size_t) (end - p));
        const char *stop = comma? comma: end;
        if (n == max)
            return max + 1;
        field [n] = p;
        flen [n] = (size_t) (stop - p);
        n++;
        if (!comma)
            return n;
        p = comma + 1;
    }
}

//  Parse a pin value as the configuration does: true/false, yes/no, 1/0,
//  on/off; empty = false.
static int
s_parse_pin (const char *str, size_t len, uint8_t *pin)
{
    static const char *yes [] = { "true", "yes", "1", "on" };
    static const char *no [] = { "false", "no", "0", "off", "" };
    for (size_t i = 0; i < sizeof (yes) / sizeof (yes [0]); i++)
        if (s_field_is (str, len, yes [i])) {
            *pin = 1;
            return 0;
        }
    for (size_t i = 0; i < sizeof (no) / sizeof (no [0]); i++)
        if (s_field_is (str, len, no [i])) {
            *pin = 0;
            return 0;
        }
    return -1;
}

//  Parse a priority: low, normal or high; empty = normal.
static int
s_parse_priority (const char *str, size_t len, uint8_t *priority)
{
    if (len == 0 || s_field_is (str, len, "normal"))
        *priority = 2;
    else
    if (s_field_is (str, len, "low"))
        *priority = 1;
    else
    if (s_field_is (str, len, "high"))
        *priority = 3;
    else
        return -1;
    return 0;
}

//  Read the header: the required columns, then the optional ones in any
//  order. Fills column [i] with the meaning of field i; returns the number
//  of columns, or -1 with the error set.
static int
s_header (const char *path, const char *line, size_t len, s_column_t *column, char *error)
{
    const char *field [HEADER_MAX];
    size_t flen [HEADER_MAX];
    int n = s_split (line, len, field, flen, HEADER_MAX);
    for (int i = 0; i < COL_PIN; i++)
        if (i >= n || !s_field_is (field [i], flen [i], s_column_names [i])) {
            snprintf (error, WP_EVAL_ERRLEN,
                      "%s:1: header must start 'model,memory_mb,load_ms'", path);
            return -1;
        }
    if (n > HEADER_MAX) {
        snprintf (error, WP_EVAL_ERRLEN, "%s:1: too many columns (at most %d: "
                  "model,memory_mb,load_ms,pin,priority)", path, COLUMNS_MAX);
        return -1;
    }
    //  Every column known and given once, so at most COLUMNS_MAX are written.
    for (int i = 0; i < n; i++) {
        int known = -1;
        for (int c = 0; c < COL_COUNT; c++)
            if (s_field_is (field [i], flen [i], s_column_names [c]))
                known = c;
        if (known < COL_PIN && i >= COL_PIN) {
            if (known < 0)
                snprintf (error, WP_EVAL_ERRLEN, "%s:1:%d: unknown column '%.*s' "
                          "(after model,memory_mb,load_ms: pin, priority)",
                          path, i + 1, (int) (flen [i] > 100? 100: flen [i]), field [i]);
            else
                snprintf (error, WP_EVAL_ERRLEN, "%s:1:%d: column '%s' given twice",
                          path, i + 1, s_column_names [known]);
            return -1;
        }
        for (int j = COL_PIN; j < i; j++)
            if ((int) column [j] == known) {
                snprintf (error, WP_EVAL_ERRLEN, "%s:1:%d: column '%s' given twice",
                          path, i + 1, s_column_names [known]);
                return -1;
            }
        column [i] = (s_column_t) known;
    }
    return n;
}

//  Load a catalog file.
wp_eval_catalog_t *
wp_eval_catalog_load (const char *path, char *error)
{
    wp_eval_input_t *input = wp_eval_input_new (path, error);
    if (!input)
        return NULL;
    wp_eval_catalog_t *self = wp_eval_catalog_new ();
    if (!self) {
        snprintf (error, WP_EVAL_ERRLEN, "out of memory");
        wp_eval_input_destroy (&input);
        return NULL;
    }
    const char *line;
    size_t len;
    int rc;
    bool header = true;
    s_column_t column [COLUMNS_MAX];
    int ncolumns = 0;
    while ((rc = wp_eval_input_line (input, &line, &len)) == 1) {
        unsigned long long lineno = (unsigned long long) wp_eval_input_lineno (input);
        if (header) {
            header = false;
            ncolumns = s_header (path, line, len, column, error);
            if (ncolumns < 0)
                goto fail;
            self->has_settings = ncolumns > COL_PIN;
            continue;
        }
        const char *field [COLUMNS_MAX];
        size_t flen [COLUMNS_MAX];
        int n = s_split (line, len, field, flen, ncolumns);
        if (n > ncolumns) {
            snprintf (error, WP_EVAL_ERRLEN, "%s:%llu:%d: more fields than the header's %d",
                      path, lineno, ncolumns + 1, ncolumns);
            goto fail;
        }
        for (int i = 0; i < ncolumns; i++) {
            if (i >= n || (i < COL_PIN && flen [i] == 0)) {
                snprintf (error, WP_EVAL_ERRLEN, "%s:%llu:%d: missing field '%s'",
                          path, lineno, i + 1, s_column_names [column [i]]);
                goto fail;
            }
        }
        uint32_t memory_mb, load_ms;
        if (s_parse_u32 (field [1], flen [1], &memory_mb)) {
            snprintf (error, WP_EVAL_ERRLEN, "%s:%llu:2: bad number '%.*s' in field 'memory_mb'",
                      path, lineno, (int) flen [1], field [1]);
            goto fail;
        }
        if (s_parse_u32 (field [2], flen [2], &load_ms)) {
            snprintf (error, WP_EVAL_ERRLEN, "%s:%llu:3: bad number '%.*s' in field 'load_ms'",
                      path, lineno, (int) flen [2], field [2]);
            goto fail;
        }
        uint8_t pin = 0, priority = 2;
        for (int i = COL_PIN; i < ncolumns; i++) {
            int bad = column [i] == COL_PIN? s_parse_pin (field [i], flen [i], &pin)
                                           : s_parse_priority (field [i], flen [i], &priority);
            if (bad) {
                snprintf (error, WP_EVAL_ERRLEN, "%s:%llu:%d: bad value '%.*s' in field '%s' "
                          "(must be %s)", path, lineno, i + 1,
                          (int) (flen [i] > 100? 100: flen [i]), field [i],
                          s_column_names [column [i]],
                          column [i] == COL_PIN? "true or false": "low, normal or high");
                goto fail;
            }
        }
        char name [1024];
        if (flen [0] >= sizeof (name)) {
            snprintf (error, WP_EVAL_ERRLEN, "%s:%llu:1: model name too long", path, lineno);
            goto fail;
        }
        memcpy (name, field [0], flen [0]);
        name [flen [0]] = 0;
        int64_t id = wp_eval_catalog_add (self, name, memory_mb, load_ms);
        if (id < 0) {
            snprintf (error, WP_EVAL_ERRLEN, "%s:%llu:1: duplicate model '%.200s'", path,
                      lineno, name);
            goto fail;
        }
        self->pin [id] = pin;
        self->priority [id] = priority;
        if (pin)
            self->pinned_mb += memory_mb;
    }
    if (rc < 0) {
        snprintf (error, WP_EVAL_ERRLEN, "%s", wp_eval_input_error (input));
        goto fail;
    }
    if (header) {
        snprintf (error, WP_EVAL_ERRLEN, "%s: empty catalog (no header)", path);
        goto fail;
    }
    if (self->size == 0) {
        snprintf (error, WP_EVAL_ERRLEN, "%s: catalog has no models", path);
        goto fail;
    }
    wp_eval_input_destroy (&input);
    return self;
fail:
    wp_eval_input_destroy (&input);
    wp_eval_catalog_destroy (&self);
    return NULL;
}

//  Pin a model or not.
void
wp_eval_catalog_set_pin (wp_eval_catalog_t *self, uint32_t model, bool pin)
{
    assert (model < self->size);
    if (self->pin [model] != pin) {
        if (pin)
            self->pinned_mb += self->memory_mb [model];
        else
            self->pinned_mb -= self->memory_mb [model];
        self->pin [model] = pin;
    }
    self->has_settings = true;
}

//  Set a model's priority.
void
wp_eval_catalog_set_priority (wp_eval_catalog_t *self, uint32_t model, int priority)
{
    assert (model < self->size);
    self->priority [model] = priority >= 1 && priority <= 3? (uint8_t) priority: 2;
    self->has_settings = true;
}

//  True if the model is pinned.
bool
wp_eval_catalog_pinned (wp_eval_catalog_t *self, uint32_t model)
{
    return self->pin [model] != 0;
}

//  Priority of a model.
int
wp_eval_catalog_priority (wp_eval_catalog_t *self, uint32_t model)
{
    return self->priority [model];
}

//  Sum of the pinned models' memory_mb.
uint64_t
wp_eval_catalog_pinned_mb (wp_eval_catalog_t *self)
{
    return self->pinned_mb;
}

//  True if the catalog carries pins or priorities.
bool
wp_eval_catalog_has_settings (wp_eval_catalog_t *self)
{
    return self->has_settings;
}

//  Number of models.
size_t
wp_eval_catalog_size (wp_eval_catalog_t *self)
{
    return self->size;
}

//  Id of a model name, or -1.
int64_t
wp_eval_catalog_lookup (wp_eval_catalog_t *self, const char *name, size_t len)
{
    return wp_eval_strmap_lookup (self->names, name, len);
}

//  Name of a model.
const char *
wp_eval_catalog_name (wp_eval_catalog_t *self, uint32_t model)
{
    return wp_eval_strmap_name (self->names, model);
}

//  Memory a model occupies while resident, MB.
uint32_t
wp_eval_catalog_memory_mb (wp_eval_catalog_t *self, uint32_t model)
{
    return self->memory_mb [model];
}

//  Time a load of the model takes, ms.
uint32_t
wp_eval_catalog_load_ms (wp_eval_catalog_t *self, uint32_t model)
{
    return self->load_ms [model];
}

//  Sum of every model's memory_mb.
uint64_t
wp_eval_catalog_total_mb (wp_eval_catalog_t *self)
{
    return self->total_mb;
}

//  Order two model ids by name (qsort_r comparator; arg is the catalog).
static int
s_rank_cmp (const void *a, const void *b, void *arg)
{
    wp_eval_catalog_t *self = arg;
    return strcmp (wp_eval_strmap_name (self->names, *(const uint32_t *) a),
                   wp_eval_strmap_name (self->names, *(const uint32_t *) b));
}

//  Rank of a model's name in byte order.
uint32_t
wp_eval_catalog_name_rank (wp_eval_catalog_t *self, uint32_t model)
{
    if (!self->rank) {
        uint32_t *order = malloc (self->size * sizeof (uint32_t));
        uint32_t *rank = malloc (self->size * sizeof (uint32_t));
        assert (order && rank);
        for (size_t i = 0; i < self->size; i++)
            order [i] = (uint32_t) i;
        qsort_r (order, self->size, sizeof (uint32_t), s_rank_cmp, self);
        for (size_t i = 0; i < self->size; i++)
            rank [order [i]] = (uint32_t) i;
        free (order);
        self->rank = rank;
    }
    return self->rank [model];
}
