/*  =========================================================================
    wp_front - what the proxy reads from a request it passes to a model
    server, with no socket and no clock: which routes are observed and as
    which task, the model a JSON body names, who the user is, which
    headers are hop-by-hop, and which request targets are acceptable.

    Every function takes a buffer and its length (never a connection), so
    a fuzzer calls them as the proxy does (docs/proxy.md). The body
    scanner validates the whole JSON text without allocating and keeps
    only the top-level "model" string; nesting is bounded by
    WP_FRONT_JSON_DEPTH.
    =========================================================================
*/
#ifndef WP_FRONT_H_INCLUDED
#define WP_FRONT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Deepest JSON nesting the scanner accepts.
#define WP_FRONT_JSON_DEPTH 64

//  Longest model name kept, bytes (the config's limit for model names).
#define WP_FRONT_MODEL_MAX 200

//  Longest user id taken from X-Warmup-User, and session id, bytes.
#define WP_FRONT_USER_MAX 256

//  Longest request target (path and query) accepted, bytes.
#define WP_FRONT_URI_MAX 8192

//  The task a route is observed as: the values of warmup.v1.Task, or 0
//  (TASK_UNSPECIFIED) for a route passed through and not observed.
//  method and path (without the query string) as received.
int
    wp_front_route_task (const char *method, const char *path, size_t path_len);

//  What wp_front_scan_model found.
typedef enum {
    WP_FRONT_SCAN_OK = 0,       //  a JSON object with a usable "model" string
    WP_FRONT_SCAN_MALFORMED,    //  not one JSON value, or nested too deep
    WP_FRONT_SCAN_NOT_OBJECT,   //  valid JSON, but not an object
    WP_FRONT_SCAN_NO_MODEL,     //  no top-level "model", or not a string
    WP_FRONT_SCAN_BAD_MODEL     //  "model" empty, too long, or with control bytes
} wp_front_scan_t;

//  Validate size bytes of JSON and copy the top-level "model" string
//  (decoded, NUL-terminated; the last one if given twice) into model
//  (capacity bytes, at least WP_FRONT_MODEL_MAX + 1).
wp_front_scan_t
    wp_front_scan_model (const char *body, size_t size, char *model, size_t capacity);

//  Name of a scan result, for logs and counters ("malformed", ...).
const char *
    wp_front_scan_name (wp_front_scan_t result);

//  The user a request is counted for, into out (capacity bytes, at least
//  WP_FRONT_USER_MAX + 1): the X-Warmup-User header when it is 1..256
//  printable bytes; else, for "Authorization: Bearer TOKEN", "key:"
//  followed by 16 hex digits of SipHash-2-4 of the token under key (the
//  token itself never leaves this function); else "addr:" and the client
//  address. Any argument but key and out may be NULL.
void
    wp_front_user (const uint8_t key [16], const char *x_user, const char *authorization,
                   const char *client_address, char *out, size_t capacity);

//  True when value is usable as a user or session id: 1..256 bytes, no
//  control bytes.
bool
    wp_front_id_ok (const char *value);

//  True for a header a proxy must not forward (RFC 9110 7.6.1: Connection,
//  Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade), and for
//  those the proxy sets itself (Host, Content-Length, Expect).
bool
    wp_front_hop_by_hop (const char *name);

//  Check a request target: origin form ("/path?query"), 1..WP_FRONT_URI_MAX
//  bytes, no blank or control byte. Returns 0, or -1 with *why set.
int
    wp_front_uri_check (const char *uri, const char **why);

//  The upstream URL of a request: base (http[s]://host[:port][/prefix],
//  a trailing '/' ignored) followed by uri. Returns 0, or -1 when it does
//  not fit capacity bytes.
int
    wp_front_upstream_url (const char *base, const char *uri, char *out, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
