/*  =========================================================================
    wp_ingress - what the bus proxy does to an event as it enters the bus,
    as plain functions over bytes (no sockets, no clock):

    * wp_ingress_usage rewrites a usage.observed payload (or a usage.intent
      one: its user and session are the same fields) so that no raw
      user id goes further: the user field (3) becomes "u:" and 16 hex
      digits of SipHash-2-4 of the id under the installation's key, the
      session field (4) likewise with "s:". It works on the wire bytes
      (the other fields are copied as they are, nothing is decoded into
      structures), refuses a payload that does not parse, a user id over
      WP_INGRESS_USER_MAX bytes, or a user or session given twice (a
      decoder would keep the last, the bytes would still carry the first),
      and says whether a user id was hashed.
    * wp_ingress_append_string appends a string field to a payload: the
      proxy stamps the authenticated principal on control events, and
      protobuf keeps the last value of a field, so a principal the sender
      wrote itself is overridden.
    * wp_ratelimit_t is a token bucket per publisher (keyed by a hash of
      its CURVE key): rate events/s,
      a burst of one second's worth, a fixed table (the least recently
      seen publisher makes room for a new one).
    =========================================================================
*/
#ifndef WP_INGRESS_H_INCLUDED
#define WP_INGRESS_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Longest user id accepted, bytes.
#define WP_INGRESS_USER_MAX 256

//  Bytes a rewrite may add to a payload at most (two fields of 20 bytes).
#define WP_INGRESS_GROWTH 48

//  What wp_ingress_usage saw.
typedef struct {
    const char *why;            //  when refused: a static description
    bool user;                  //  a user id was hashed
} wp_ingress_info_t;

//  Rewrite a usage.observed payload (in, len) into out (room for len +
//  WP_INGRESS_GROWTH bytes) with user and session hashed under key.
//  Returns the new length, or -1 with info->why set.
int
    wp_ingress_usage (const uint8_t *in, size_t len, const uint8_t key [16],
                      uint8_t *out, wp_ingress_info_t *info);

//  Append field `field` (a string of len bytes) to a payload in buffer
//  (used bytes, cap room). Returns the new length, or -1 without room.
int
    wp_ingress_append_string (uint8_t *buffer, size_t used, size_t cap, uint32_t field,
                              const char *text, size_t len);

typedef struct _wp_ratelimit_t wp_ratelimit_t;

//  A limiter of rate events per second per publisher, remembering up to
//  slots publishers (a power of two). NULL when out of memory.
wp_ratelimit_t *
    wp_ratelimit_new (double rate, size_t slots);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_ratelimit_destroy (wp_ratelimit_t **self_p);

//  May publisher `key` send one more event at now_ns (a monotonic time)?
//  Takes a token when it may.
bool
    wp_ratelimit_take (wp_ratelimit_t *self, uint64_t key, uint64_t now_ns);

//  Publishers that were refused at least once, since the start.
uint64_t
    wp_ratelimit_limited_sources (wp_ratelimit_t *self);

#ifdef __cplusplus
}
#endif

#endif
