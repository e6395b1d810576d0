/*  =========================================================================
    wp_eval_strmap - interns strings to dense integer ids (0, 1, 2, ...)

    An open-addressing hash table that copies each distinct string once.
    Used for model names (the catalog) and user names (the trace): memory
    grows with the number of distinct strings, never with the trace.
    =========================================================================
*/
#ifndef WP_EVAL_STRMAP_H_INCLUDED
#define WP_EVAL_STRMAP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct _wp_eval_strmap_t wp_eval_strmap_t;

//  Create an empty map; NULL on allocation failure.
wp_eval_strmap_t *
    wp_eval_strmap_new (void);

//  Destroy the map and its strings; safe on NULL, nulls the pointer.
void
    wp_eval_strmap_destroy (wp_eval_strmap_t **self_p);

//  Id of the string (len bytes, need not be NUL-terminated), or -1 if absent.
int64_t
    wp_eval_strmap_lookup (wp_eval_strmap_t *self, const char *str, size_t len);

//  Id of the string, interning it with the next id if absent; -1 on
//  allocation failure. *added (if not NULL) says whether it was new.
int64_t
    wp_eval_strmap_intern (wp_eval_strmap_t *self, const char *str, size_t len,
                           int *added);

//  Number of distinct strings.
size_t
    wp_eval_strmap_size (wp_eval_strmap_t *self);

//  The string with this id (borrowed, NUL-terminated); NULL if out of range.
const char *
    wp_eval_strmap_name (wp_eval_strmap_t *self, size_t id);

//  Bytes of memory the map holds (for state accounting).
size_t
    wp_eval_strmap_bytes (wp_eval_strmap_t *self);

#endif
