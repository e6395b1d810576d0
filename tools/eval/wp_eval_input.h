/*  =========================================================================
    wp_eval_input - a fast line reader over a plain or gzip-compressed file

    Reads in big blocks (read(2), or zlib's gzread when the name ends in
    ".gz") and hands out one line at a time without copying. Lines keep no
    '\n' nor trailing '\r'. Also reads a whole file into memory (the Azure
    minute-count format needs random access to its rows).
    =========================================================================
*/
#ifndef WP_EVAL_INPUT_H_INCLUDED
#define WP_EVAL_INPUT_H_INCLUDED

#include "wp_eval.h"

typedef struct _wp_eval_input_t wp_eval_input_t;

//  Open a file for reading lines; NULL on failure with the reason in error
//  (WP_EVAL_ERRLEN bytes).
wp_eval_input_t *
    wp_eval_input_new (const char *path, char *error);

//  Close the file and free the buffer; safe on NULL, nulls the pointer.
void
    wp_eval_input_destroy (wp_eval_input_t **self_p);

//  Next line: 1 and *line/*len set (borrowed, valid until the next call),
//  0 at end of file, -1 on a read error (reason in wp_eval_input_error).
int
    wp_eval_input_line (wp_eval_input_t *self, const char **line, size_t *len);

//  Number of the line last returned (1-based).
uint64_t
    wp_eval_input_lineno (wp_eval_input_t *self);

//  Fraction of the file consumed so far, 0..1 (compressed bytes for .gz).
double
    wp_eval_input_progress (wp_eval_input_t *self);

//  The path given at open (borrowed).
const char *
    wp_eval_input_path (wp_eval_input_t *self);

//  Reason of the last error (borrowed).
const char *
    wp_eval_input_error (wp_eval_input_t *self);

//  Read a whole file into memory: a plain file is mapped read-only, a .gz
//  file is inflated into the heap. Returns the bytes (release them with
//  wp_eval_input_release) and sets *size; NULL on failure with error set.
char *
    wp_eval_input_slurp (const char *path, size_t *size, bool *mapped, char *error);

//  Release what wp_eval_input_slurp returned.
void
    wp_eval_input_release (char *data, size_t size, bool mapped);

//  True when the path ends in ".gz".
bool
    wp_eval_input_is_gz (const char *path);

#endif
