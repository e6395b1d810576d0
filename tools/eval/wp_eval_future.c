/*  =========================================================================
    wp_eval_future - every model's request times, for the clairvoyant oracle
    =========================================================================
*/
#include "wp_eval_future.h"

#include <stdlib.h>
#include <string.h>

//  One model's coded times.
typedef struct {
    uint8_t *bytes;             //  varint deltas
    uint64_t size;              //  bytes used
    uint64_t capacity;          //  bytes allocated
    int64_t first;              //  first time, -1 if none
    int64_t last;               //  last time appended
} s_list_t;

struct _wp_eval_future_t {
    s_list_t *lists;            //  lists [model]
    size_t models;              //  number of models
    size_t bytes;               //  bytes allocated in total
};

//  Create an empty future.
wp_eval_future_t *
wp_eval_future_new (size_t models)
{
    wp_eval_future_t *self = calloc (1, sizeof (wp_eval_future_t));
    if (!self)
        return NULL;
    self->lists = calloc (models? models: 1, sizeof (s_list_t));
    if (!self->lists) {
        free (self);
        return NULL;
    }
    for (size_t i = 0; i < models; i++)
        self->lists [i].first = -1;
    self->models = models;
    self->bytes = sizeof (*self) + models * sizeof (s_list_t);
    return self;
}

//  Destroy the future.
void
wp_eval_future_destroy (wp_eval_future_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_eval_future_t *self = *self_p;
    for (size_t i = 0; i < self->models; i++)
        free (self->lists [i].bytes);
    free (self->lists);
    free (self);
    *self_p = NULL;
}

//  Append a request.
int
wp_eval_future_add (wp_eval_future_t *self, uint32_t model, int64_t time)
{
    if (model >= self->models)
        return -1;
    s_list_t *list = &self->lists [model];
    if (list->first < 0) {
        list->first = list->last = time;
        return 0;
    }
    if (time < list->last)
        return -1;
    uint64_t delta = (uint64_t) (time - list->last);
    list->last = time;
    if (list->size + 10 > list->capacity) {
        uint64_t cap = list->capacity? list->capacity * 2: 64;
        uint8_t *bytes = realloc (list->bytes, cap);
        if (!bytes)
            return -1;
        self->bytes += cap - list->capacity;
        list->bytes = bytes;
        list->capacity = cap;
    }
    while (delta >= 0x80) {
        list->bytes [list->size++] = (uint8_t) (delta | 0x80);
        delta >>= 7;
    }
    list->bytes [list->size++] = (uint8_t) delta;
    return 0;
}

//  Put the cursor on the model's first request.
void
wp_eval_future_cursor_init (wp_eval_future_t *self, uint32_t model,
                            wp_eval_future_cursor_t *cursor)
{
    cursor->offset = 0;
    cursor->time = model < self->models? self->lists [model].first: -1;
}

//  Move the cursor to the model's next request.
int64_t
wp_eval_future_cursor_next (wp_eval_future_t *self, uint32_t model,
                            wp_eval_future_cursor_t *cursor)
{
    s_list_t *list = &self->lists [model];
    if (cursor->time < 0 || cursor->offset >= list->size) {
        cursor->time = -1;
        return -1;
    }
    uint64_t delta = 0;
    int shift = 0;
    uint8_t byte;
    do {
        byte = list->bytes [cursor->offset++];
        delta |= (uint64_t) (byte & 0x7f) << shift;
        shift += 7;
    } while (byte & 0x80);
    cursor->time += (int64_t) delta;
    return cursor->time;
}

//  Bytes of memory the future holds.
size_t
wp_eval_future_bytes (wp_eval_future_t *self)
{
    return self->bytes;
}
