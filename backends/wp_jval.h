/*  =========================================================================
    wp_jval - a small JSON reader for what model servers answer: parse a
    reply into a tree, then look up members and array items.

    Bounded: at most WP_JVAL_MAX_DEPTH levels of nesting and the input
    size the caller gives (the HTTP client caps replies). Strings are
    decoded (escapes, \uXXXX with surrogate pairs; a NUL becomes '?').
    Numbers are doubles. A reply that is not one whole JSON value is
    refused (NULL), never half-read.

    Ownership: wp_jval_parse returns a tree the caller destroys; every
    other function returns values borrowed from that tree.
    =========================================================================
*/
#ifndef WP_JVAL_H_INCLUDED
#define WP_JVAL_H_INCLUDED

#include <stddef.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Deepest nesting accepted.
#define WP_JVAL_MAX_DEPTH 64

typedef enum {
    WP_JVAL_NULL, WP_JVAL_BOOL, WP_JVAL_NUMBER, WP_JVAL_STRING,
    WP_JVAL_ARRAY, WP_JVAL_OBJECT
} wp_jval_type_t;

typedef struct _wp_jval_t wp_jval_t;

//  Parse size bytes of text. Returns the tree, or NULL if the text is not
//  exactly one JSON value (blank space around it allowed), nests too
//  deep, or memory runs out.
wp_jval_t *
    wp_jval_parse (const char *text, size_t size);

//  Destroy a tree returned by wp_jval_parse; nulls *self_p. Safe on NULL.
void
    wp_jval_destroy (wp_jval_t **self_p);

//  Type of a value; a NULL value is WP_JVAL_NULL.
wp_jval_type_t
    wp_jval_type (const wp_jval_t *self);

//  Member `key` of an object, or NULL (not an object, or no such key).
const wp_jval_t *
    wp_jval_get (const wp_jval_t *self, const char *key);

//  Item `index` of an array, or NULL.
const wp_jval_t *
    wp_jval_at (const wp_jval_t *self, size_t index);

//  Member `index` of an object (in the order of the text), its name into
//  *key (may be NULL); NULL when not an object or out of range.
const wp_jval_t *
    wp_jval_member (const wp_jval_t *self, size_t index, const char **key);

//  Items of an array or members of an object; 0 for anything else.
size_t
    wp_jval_size (const wp_jval_t *self);

//  The text of a string value, or NULL if not a string.
const char *
    wp_jval_str (const wp_jval_t *self);

//  The value of a number, or fallback if not a number.
double
    wp_jval_num (const wp_jval_t *self, double fallback);

//  True only for the value true.
bool
    wp_jval_true (const wp_jval_t *self);

//  Follow a path of object keys separated by '.', e.g. "status.value".
const wp_jval_t *
    wp_jval_path (const wp_jval_t *self, const char *path);

#ifdef __cplusplus
}
#endif

#endif
