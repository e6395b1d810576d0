/*  =========================================================================
    wp_eval_future - every model's request times, for the clairvoyant oracle

    Built in a first pass over the trace: per model, the request times as
    varint-coded deltas (about 1-2 bytes a request). Read-only afterwards;
    each reader walks a model's times with its own small cursor, so several
    oracle runs share one future.
    =========================================================================
*/
#ifndef WP_EVAL_FUTURE_H_INCLUDED
#define WP_EVAL_FUTURE_H_INCLUDED

#include "wp_eval.h"

typedef struct _wp_eval_future_t wp_eval_future_t;

//  A position in one model's request times.
typedef struct {
    uint64_t offset;            //  next byte to decode
    int64_t time;               //  current request time, -1 past the end
} wp_eval_future_cursor_t;

//  Create an empty future for this many models; NULL on failure.
wp_eval_future_t *
    wp_eval_future_new (size_t models);

//  Destroy the future; safe on NULL, nulls the pointer.
void
    wp_eval_future_destroy (wp_eval_future_t **self_p);

//  Append a request (times per model must not decrease); 0 or -1.
int
    wp_eval_future_add (wp_eval_future_t *self, uint32_t model, int64_t time);

//  Put the cursor on the model's first request (time -1 if none).
void
    wp_eval_future_cursor_init (wp_eval_future_t *self, uint32_t model,
                                wp_eval_future_cursor_t *cursor);

//  Move the cursor to the model's next request; returns its time, or -1.
int64_t
    wp_eval_future_cursor_next (wp_eval_future_t *self, uint32_t model,
                                wp_eval_future_cursor_t *cursor);

//  Bytes of memory the future holds.
size_t
    wp_eval_future_bytes (wp_eval_future_t *self);

#endif
