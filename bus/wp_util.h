/*  =========================================================================
    wp_util - small helpers shared by every class: clocks, rate-limited
    logging of bad input, keyed hashing of user ids, process RSS.
    =========================================================================
*/
#ifndef WP_UTIL_H_INCLUDED
#define WP_UTIL_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Wall-clock time in microseconds since the Unix epoch.
uint64_t
    wp_wall_us (void);

//  Monotonic time in nanoseconds (for measuring durations).
uint64_t
    wp_mono_ns (void);

//  Decides whether the n-th occurrence of a problem is logged: the first
//  10, then every 1000th, so a flood of bad frames cannot flood the log.
bool
    wp_log_should (uint64_t occurrence);

//  SipHash-2-4 of data under a 128-bit key (key is 16 bytes).
uint64_t
    wp_siphash (const uint8_t key[16], const void *data, size_t len);

//  Keyed hash of a user id: what stores and logs keep instead of the id.
uint64_t
    wp_user_hash (const uint8_t key[16], const char *user);

//  Longest kind of a usage.intent, bytes.
#define WP_INTENT_KIND_MAX 48

//  True for a usable usage.intent kind (schemas/warmup.proto): 1..48
//  bytes of [a-z0-9._-], e.g. "chat.opened".
bool
    wp_intent_kind_ok (const char *kind);

//  Parse a 32-hex-digit key into 16 bytes. Returns 0 or -1.
int
    wp_parse_key (const char *hex, uint8_t key[16]);

//  Parse exactly 2 x n hex digits into n bytes. Returns 0 or -1.
int
    wp_parse_hex (const char *hex, uint8_t *out, size_t n);

//  A user id as events carry it after the bus proxy (wp_ingress): "u:"
//  and the 16 lowercase hex digits of its keyed hash.
#define WP_USER_ID_LEN 18

//  Write the user id of a hash into text (WP_USER_ID_LEN + 1 bytes).
void
    wp_user_id_format (uint64_t hash, char *text);

//  The hash in a user id of that form. Returns 0, or -1 for anything else
//  (a raw id that did not come through the proxy).
int
    wp_user_id_parse (const char *text, uint64_t *hash);

//  Read a protobuf varint at *p_p (before end), moving *p_p past it;
//  false when it runs past end or over 10 bytes.
bool
    wp_varint (const uint8_t **p_p, const uint8_t *end, uint64_t *value);

//  Parse a ZPL file (czmq zconfig) of at most max_bytes. NULL when it
//  cannot be read, is larger, or does not parse (zconfig logs why). Reads
//  the file itself: czmq's zconfig_load leaks its file handle when the
//  text does not parse (found by fuzz_config). The result is the caller's
//  (zconfig_destroy).
struct _zconfig_t *
    wp_zpl_load (const char *path, size_t max_bytes);

//  An instance id: instance when given, else "<host>:<pid>" (what header
//  sources and heartbeats name a process by). The caller frees it.
char *
    wp_instance_id (const char *instance);

//  Resident set size of this process in KiB (0 when unknown).
uint64_t
    wp_rss_kb (void);

//  Mix a 64-bit value into a well-spread one (the splitmix64 finaliser):
//  slots of open-addressing tables keyed by hashes or sequential ids.
static inline uint64_t
wp_mix64 (uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

//  Big-endian encode/decode of fixed-width integers and doubles.
void
    wp_put_u64 (uint8_t *p, uint64_t v);
uint64_t
    wp_get_u64 (const uint8_t *p);
void
    wp_put_u32 (uint8_t *p, uint32_t v);
uint32_t
    wp_get_u32 (const uint8_t *p);
void
    wp_put_f64 (uint8_t *p, double v);
double
    wp_get_f64 (const uint8_t *p);

//  Ask the kernel to run thread tid (0: the calling thread) in slices of
//  slice_us microseconds (EEVDF's custom slice, Linux 6.12 and later): a
//  thread with a shorter slice than the one running preempts it when it
//  wakes, instead of waiting for that one's slice to end; 0 gives the
//  kernel's default back (a new thread inherits its creator's). The
//  policy and the nice value stay. Returns 0, or -1 where the kernel refuses it (an
//  older kernel: no harm, nothing changed).
int
    wp_thread_slice (int tid, unsigned slice_us);

//  The slice of the threads an event crosses on its way to a prediction
//  (the bus proxy, the components' actors, ZeroMQ's I/O threads): the
//  shortest the kernel allows. Threads of long work (the analyzer's
//  journal and checkpoints, the audit log) keep the default's (0.7 ms
//  times 1 + log2 of the cores).
#define WP_PIPELINE_SLICE_US 100

//  The same for every thread of this process whose name starts with
//  prefix (ZeroMQ's I/O threads, "ZMQbg/IO/", which it starts itself).
//  Returns how many took it.
int
    wp_threads_slice (const char *prefix, unsigned slice_us);

#ifdef __cplusplus
}
#endif

#endif
