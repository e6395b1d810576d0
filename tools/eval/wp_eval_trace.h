/*  =========================================================================
    wp_eval_trace - streaming reader of request traces (EVAL.md section 1)

    Two formats:
    - event CSV `timestamp_ms,user,model[,...]`, plain or gzip (".gz"
      suffix), rows sorted by time; read in big blocks, parsed by hand.
      An optional column `kind` (after model) marks a row as an intent:
      an empty kind is a request; a kind (1..48 bytes of [a-z0-9._-],
      e.g. chat.opened) is a sign from the IDE that a request is coming,
      its model (which may be empty) a hint. Other columns are ignored.
    - Azure Functions 2019 minute counts `HashFunction,HashApp,HashOwner,
      minute_1..minute_N` (model = HashFunction, user = HashOwner): a count
      c in minute j expands to c requests at (j-1)*60000 +
      floor((2i+1)*60000/(2c)), i = 0..c-1, merged across rows in time
      order, ties by row order. The file is mapped (or inflated) once and
      validated up front; then each row keeps a cursor into its text and a
      binary heap orders the rows by their next request, so memory is
      O(rows), never O(requests).
    Models are looked up in the catalog (a missing one is an error naming
    it); users are interned to dense ids. Every bad line is reported as
    "file:line: reason".
    =========================================================================
*/
#ifndef WP_EVAL_TRACE_H_INCLUDED
#define WP_EVAL_TRACE_H_INCLUDED

#include "wp_eval.h"
#include "wp_eval_catalog.h"

#include <sys/types.h>

typedef enum {
    WP_EVAL_FORMAT_AUTO = 0,    //  detect from the header line
    WP_EVAL_FORMAT_CSV,         //  timestamp_ms,user,model
    WP_EVAL_FORMAT_AZURE        //  Azure Functions 2019 minute counts
} wp_eval_format_t;

typedef struct _wp_eval_trace_t wp_eval_trace_t;

//  Open a trace; the catalog is borrowed and must outlive the reader.
//  NULL on failure with the reason in error (WP_EVAL_ERRLEN bytes).
wp_eval_trace_t *
    wp_eval_trace_open (const char *path, wp_eval_format_t format,
                        wp_eval_catalog_t *catalog, char *error);

//  Close the trace; safe on NULL, nulls the pointer.
void
    wp_eval_trace_destroy (wp_eval_trace_t **self_p);

//  Read up to max requests in time order into buffer. Returns how many
//  (0 at the end), or -1 on a bad line (reason in wp_eval_trace_error).
ssize_t
    wp_eval_trace_read (wp_eval_trace_t *self, wp_eval_request_t *buffer, size_t max);

//  Reason of the last error (borrowed).
const char *
    wp_eval_trace_error (wp_eval_trace_t *self);

//  Fraction of the trace read so far, 0..1.
double
    wp_eval_trace_progress (wp_eval_trace_t *self);

//  Format of the trace (detected when opened with WP_EVAL_FORMAT_AUTO).
wp_eval_format_t
    wp_eval_trace_format (wp_eval_trace_t *self);

//  Number of distinct users seen so far.
size_t
    wp_eval_trace_users (wp_eval_trace_t *self);

//  Name of a user id (borrowed).
const char *
    wp_eval_trace_user_name (wp_eval_trace_t *self, uint32_t user);

//  True when the trace has a kind column (intents).
bool
    wp_eval_trace_has_kinds (wp_eval_trace_t *self);

//  Name of an intent's kind (1, 2, ...), borrowed; NULL if unknown.
const char *
    wp_eval_trace_kind_name (wp_eval_trace_t *self, uint32_t kind);

//  Parse a format name ("csv", "azure"); returns -1 if unknown.
int
    wp_eval_format_parse (const char *name, wp_eval_format_t *format);

#endif
