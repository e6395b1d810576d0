/*  =========================================================================
    wp_json - any warmup event as one line of JSON, for taps on the
    stream (warmupctl tail) and for logs. Field names are the schema's;
    enums print as their names; 64-bit integers print as numbers.
    =========================================================================
*/
#ifndef WP_JSON_H_INCLUDED
#define WP_JSON_H_INCLUDED

#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

//  One JSON object: {"topic": topic, <fields of msg>}. topic may be NULL
//  (then omitted). Returns a string the caller frees.
char *
    wp_json_event (const char *topic, const ProtobufCMessage *msg);

//  Append s to a growing buffer as a JSON string literal (with quotes).
//  Helper shared with other JSON writers. *buffer may be NULL at first.
void
    wp_json_append_string (char **buffer, size_t *len, size_t *cap, const char *s);

//  Append formatted text to a growing buffer.
void
    wp_json_appendf (char **buffer, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

#ifdef __cplusplus
}
#endif

#endif
