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
    uint32_t *rank;             //  name rank [id], built on first use
    size_t size;                //  number of models
    size_t capacity;            //  allocated length of the arrays
    uint64_t total_mb;          //  sum of memory_mb
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
        self->capacity = cap;
    }
    self->memory_mb [id] = memory_mb;
    self->load_ms [id] = load_ms;
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
    while ((rc = wp_eval_input_line (input, &line, &len)) == 1) {
        unsigned long long lineno = (unsigned long long) wp_eval_input_lineno (input);
        if (header) {
            header = false;
            if (strncmp (line, "model,memory_mb,load_ms", 23) != 0
            ||  (line [23] != 0 && line [23] != ',')) {
                snprintf (error, WP_EVAL_ERRLEN,
                          "%s:%llu: header must be 'model,memory_mb,load_ms'", path, lineno);
                goto fail;
            }
            continue;
        }
        const char *field [3];
        size_t flen [3];
        const char *p = line, *end = line + len;
        int n = 0;
        while (n < 3) {
            const char *comma = memchr (p, ',', (size_t) (end - p));
            const char *stop = comma? comma: end;
            field [n] = p;
            flen [n] = (size_t) (stop - p);
            n++;
            if (!comma)
                break;
            p = comma + 1;
        }
        static const char *names [3] = { "model", "memory_mb", "load_ms" };
        for (int i = 0; i < 3; i++) {
            if (i >= n || flen [i] == 0) {
                snprintf (error, WP_EVAL_ERRLEN, "%s:%llu: missing field '%s'",
                          path, lineno, names [i]);
                goto fail;
            }
        }
        uint32_t memory_mb, load_ms;
        if (s_parse_u32 (field [1], flen [1], &memory_mb)) {
            snprintf (error, WP_EVAL_ERRLEN, "%s:%llu: bad number '%.*s' in field 'memory_mb'",
                      path, lineno, (int) flen [1], field [1]);
            goto fail;
        }
        if (s_parse_u32 (field [2], flen [2], &load_ms)) {
            snprintf (error, WP_EVAL_ERRLEN, "%s:%llu: bad number '%.*s' in field 'load_ms'",
                      path, lineno, (int) flen [2], field [2]);
            goto fail;
        }
        char name [1024];
        if (flen [0] >= sizeof (name)) {
            snprintf (error, WP_EVAL_ERRLEN, "%s:%llu: model name too long", path, lineno);
            goto fail;
        }
        memcpy (name, field [0], flen [0]);
        name [flen [0]] = 0;
        if (wp_eval_catalog_add (self, name, memory_mb, load_ms) < 0) {
            snprintf (error, WP_EVAL_ERRLEN, "%s:%llu: duplicate model '%.200s'", path, lineno, name);
            goto fail;
        }
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
