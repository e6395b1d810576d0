/*  =========================================================================
    wp_bus - a bus client: publishes and receives warmup events through the
    XSUB/XPUB proxy (wp_proxy).

    Envelope: every message is two frames, the topic (e.g. "usage.observed")
    then one protobuf payload whose field 1 is a warmup.v1.Header. The
    client stamps the header on publish: its source id, a sequence number
    per (source, topic) counting from 1, the wall-clock send time and the
    schema number. On receive it validates the frames (count, topic, size),
    decodes the payload with the topic's message type, and counts sequence
    gaps per (source, topic) as dropped events.

    Readiness: a client is ready once a probe it publishes on its own topic
    "_probe.<source>" comes back to its own subscriber through the proxy.
    That proves the path publisher -> proxy -> subscriber is connected and
    every subscription made before the probe is active (the slow-joiner
    problem). Messages that arrive while waiting are kept and returned by
    wp_bus_recv first.

    A client belongs to the thread that created it (its sockets do).
    =========================================================================
*/

#ifndef WP_BUS_H_INCLUDED
#define WP_BUS_H_INCLUDED

#include <czmq.h>
#include "warmup.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

//  The bus topics. Keep wp_bus.c's table in the same order.
typedef enum {
    WP_TOPIC_USAGE = 0,       // usage.observed      UsageObserved
    WP_TOPIC_PATTERN,         // usage.pattern       UsagePattern
    WP_TOPIC_PREDICTION,      // prediction.made     PredictionMade
    WP_TOPIC_WARMUP_REQUEST,  // warmup.requested    WarmupRequested
    WP_TOPIC_WARMUP_DONE,     // warmup.done         WarmupDone
    WP_TOPIC_RESOURCE,        // resource.status     ResourceStatus
    WP_TOPIC_PERF,            // perf.estimate       PerfEstimate
    WP_TOPIC_METRICS,         // metrics.snapshot    MetricsSnapshot
    WP_TOPIC_HEARTBEAT,       // heartbeat           Heartbeat
    WP_TOPIC_CLOCK_TICK,      // clock.tick          ClockTick (replay mode)
    WP_TOPIC_CLOCK_ACK,       // clock.ack           ClockAck (replay mode)
    WP_TOPIC_CONTROL,         // control.request     ControlRequest
    WP_TOPIC_CONTROL_REPLY,   // control.reply       ControlReply
    WP_TOPIC_ROOM_REQUEST,    // room.request        RoomRequest (replay mode)
    WP_TOPIC_ROOM_REPLY,      // room.reply          RoomReply (replay mode)
    WP_TOPIC_SYNC_REQUEST,    // sync.request        SyncRequest (resync)
    WP_TOPIC_SYNC_REPLY,      // sync.reply          SyncReply (resync)
    WP_TOPIC_WARMUP_DEFERRED, // warmup.deferred     WarmupDeferred
    WP_TOPIC_INTENT,          // usage.intent        UsageIntent
    WP_TOPIC_COUNT
} wp_topic_t;

//  Schema number stamped in every header (warmup.v1).
#define WP_SCHEMA_VERSION 1

//  Largest accepted payload by default, bytes.
#define WP_BUS_MAX_FRAME_DEFAULT 65536

//  Options for wp_bus_new; zero fields take the defaults.
typedef struct {
    size_t max_frame;   // largest payload accepted, bytes (default 64 KiB)
    int sndhwm;         // publisher high-water mark, messages (default 100000)
    int rcvhwm;         // subscriber high-water mark, messages (default 100000)
    int linger_ms;      // how long unsent events may delay close (default 1000)
    //  CURVE (docs/security.md): with curve_server_key set, both sockets
    //  are CURVE clients of the proxy (except to inproc:// endpoints, which
    //  have no handshake). Z85 text, 40 characters; copied at once.
    const char *curve_server_key;   // the proxy's public key
    const char *curve_public_key;   // this client's key pair
    const char *curve_secret_key;
} wp_bus_opts_t;

//  Counters of one client.
typedef struct {
    uint64_t events_in;     // events received and decoded
    uint64_t events_out;    // events published
    uint64_t gaps;          // events missed, from sequence gaps
    uint64_t gaps_by_topic [WP_TOPIC_COUNT]; // the same, by topic
    uint64_t bad_frames;    // messages rejected: frames, topic, size, decode
    uint64_t send_errors;   // publishes that failed
} wp_bus_stats_t;

//  A received event. msg is the caller's: free with wp_bus_event_free,
//  on the client's thread and before the client is destroyed (the payload
//  lives in an arena the client recycles).
typedef struct {
    wp_topic_t topic;
    ProtobufCMessage *msg;  // the decoded payload, of the topic's type
    void *arena;            // where msg lives (private)
    uint64_t gap;           // events of its (source, topic) missed just
                            // before it (counted in gaps)
    bool restarted;         // its seq went down: the publisher restarted
    bool first;             // the first event seen of its (source, topic)
} wp_bus_event_t;

typedef struct _wp_bus_t wp_bus_t;

//  Name of a topic, e.g. "usage.observed".
const char *
    wp_topic_name (wp_topic_t topic);

//  True for the topics of the periodic reports every service sends while
//  nothing happens (heartbeat, resource.status, perf.estimate,
//  metrics.snapshot): what is not work, and no reason to write.
bool
    wp_topic_periodic (wp_topic_t topic);

//  Message descriptor of a topic's payload.
const ProtobufCMessageDescriptor *
    wp_topic_descriptor (wp_topic_t topic);

//  Topic for a name of `len` bytes, or -1 when it is not a topic.
int
    wp_topic_lookup (const char *name, size_t len);

//  From now on decode a topic's events header-only: the event's message
//  has the topic's type with its header (field 1) and event_ms (field 2,
//  where the type has it) and every other field empty. The payload's wire
//  structure is still checked (every tag and length), not its contents.
//  For a subscriber that only counts the topic (the metrics of
//  usage.pattern, the largest event): it skips decoding the rest.
void
    wp_bus_header_only (wp_bus_t *self, wp_topic_t topic);

//  Decode a topic's payload as a subscriber does: in full, or header_only
//  (wp_bus_header_only's form). allocator NULL: malloc's (free the result
//  with protobuf_c_message_free_unpacked). NULL when it does not decode;
//  the header is not checked here (wp_bus_recv also refuses a payload
//  without one).
ProtobufCMessage *
    wp_bus_unpack (wp_topic_t topic, bool header_only, const uint8_t *data, size_t size,
                   ProtobufCAllocator *allocator);

//  Check an envelope's topic frame and payload size as the proxy and every
//  subscriber do. Returns 0 when acceptable, else -1 with *why set to a
//  static description.
int
    wp_bus_check_envelope (const void *topic, size_t topic_len,
                           size_t payload_len, size_t max_frame,
                           const char **why);

//  Create a client publishing to pub_endpoint (the proxy's XSUB side) and
//  subscribing at sub_endpoint (its XPUB side). source names the publisher
//  ("analyzer/host:1234"); it is copied. opts may be NULL. Returns NULL
//  with a logged error when an endpoint is invalid.
wp_bus_t *
    wp_bus_new (const char *pub_endpoint, const char *sub_endpoint,
                const char *source, const wp_bus_opts_t *opts);

//  Destroy a client; safe on NULL; nulls *self_p.
void
    wp_bus_destroy (wp_bus_t **self_p);

//  Subscribe to every topic starting with prefix ("" = all). Do it before
//  wp_bus_wait_ready so readiness covers it. Returns 0 or -1.
int
    wp_bus_subscribe (wp_bus_t *self, const char *prefix);

//  Probe until the path through the proxy works or timeout_ms passes.
//  Returns 0 when ready, -1 on timeout or interrupt.
int
    wp_bus_wait_ready (wp_bus_t *self, int timeout_ms);

//  True once the probe came back.
bool
    wp_bus_ready (wp_bus_t *self);

//  Stamp the header of msg (creating it if absent) and publish it on its
//  topic. msg must be of the topic's type. Returns 0 or -1 (counted).
int
    wp_bus_publish (wp_bus_t *self, wp_topic_t topic, ProtobufCMessage *msg);

//  Send frames exactly as given, without a header or checks: for tools
//  and tests that must send malformed input. Takes ownership of *msg_p.
//  Returns 0 or -1.
int
    wp_bus_send_raw (wp_bus_t *self, zmsg_t **msg_p);

//  Receive one event without blocking. Returns 1 with *event filled, 0
//  when nothing (more) is waiting, or when what arrived was a probe or a
//  rejected message (counted and logged).
int
    wp_bus_recv (wp_bus_t *self, wp_bus_event_t *event);

//  Receive one event, waiting up to timeout_ms (-1 forever). Returns 1
//  with *event filled, 0 on timeout, -1 when interrupted.
int
    wp_bus_recv_wait (wp_bus_t *self, wp_bus_event_t *event, int timeout_ms);

//  Free an event's payload; safe when already freed.
void
    wp_bus_event_free (wp_bus_event_t *event);

//  The subscriber socket, for zloop/zpoller.
zsock_t *
    wp_bus_sub_socket (wp_bus_t *self);

//  True while events kept during wp_bus_wait_ready wait to be received.
bool
    wp_bus_has_buffered (wp_bus_t *self);

//  Copy of the client's counters.
void
    wp_bus_stats (wp_bus_t *self, wp_bus_stats_t *stats);

//  The sequence number of the last event published on topic (0: none).
uint64_t
    wp_bus_last_seq (wp_bus_t *self, wp_topic_t topic);

//  The client's source id.
const char *
    wp_bus_source (wp_bus_t *self);

//  Header of a decoded event (every payload has one), or NULL.
const Warmup__V1__Header *
    wp_bus_header (const ProtobufCMessage *msg);

#ifdef __cplusplus
}
#endif

#endif
