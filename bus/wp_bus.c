/*  =========================================================================
    wp_bus - a bus client: publish and receive warmup events through the
    proxy, with headers, sequence numbers, validation and readiness probe.
    =========================================================================
*/
#include "wp_bus.h"
#include "wp_util.h"

#define PROBE_PREFIX "_probe."
#define TOPIC_MAX    64          //  longest topic frame accepted
#define SEQ_TRACK_MAX 8192       //  (source, topic) slots tracked for gaps
#define BUFFER_MAX   100000      //  events kept while waiting for readiness

//  Topic table, in wp_topic_t order.
static const struct {
    const char *name;
    const ProtobufCMessageDescriptor *descriptor;
    bool periodic;                  //  a periodic report (wp_topic_periodic)
} s_topics [WP_TOPIC_COUNT] = {
    { "usage.observed", &warmup__v1__usage_observed__descriptor, false },
    { "usage.pattern", &warmup__v1__usage_pattern__descriptor, false },
    { "prediction.made", &warmup__v1__prediction_made__descriptor, false },
    { "warmup.requested", &warmup__v1__warmup_requested__descriptor, false },
    { "warmup.done", &warmup__v1__warmup_done__descriptor, false },
    { "resource.status", &warmup__v1__resource_status__descriptor, true },
    { "perf.estimate", &warmup__v1__perf_estimate__descriptor, true },
    { "metrics.snapshot", &warmup__v1__metrics_snapshot__descriptor, true },
    { "heartbeat", &warmup__v1__heartbeat__descriptor, true },
    { "clock.tick", &warmup__v1__clock_tick__descriptor, false },
    { "clock.ack", &warmup__v1__clock_ack__descriptor, false },
    { "control.request", &warmup__v1__control_request__descriptor, false },
    { "control.reply", &warmup__v1__control_reply__descriptor, false },
    { "room.request", &warmup__v1__room_request__descriptor, false },
    { "room.reply", &warmup__v1__room_reply__descriptor, false },
    { "sync.request", &warmup__v1__sync_request__descriptor, false },
    { "sync.reply", &warmup__v1__sync_reply__descriptor, false },
    { "warmup.deferred", &warmup__v1__warmup_deferred__descriptor, false },
    { "usage.intent", &warmup__v1__usage_intent__descriptor, false },
};

//  Where the last sequence number of one (topic, source) is kept. An
//  open-addressing table of SEQ_TRACK_MAX slots, emptied when full.
typedef struct {
    uint64_t key;                   //  hash of topic and source; 0 = empty
    uint64_t seq;                   //  last sequence number seen
} seq_slot_t;

//  A bump allocator holding one decoded event: protobuf-c's many small
//  allocations become one, and a freed event's arena is reused.
typedef struct _arena_t {
    struct _arena_t *next;          //  free list, or overflow chain
    struct _arena_t *overflow;      //  extra blocks of this event
    wp_bus_t *owner;                //  the bus whose free list takes it back
    size_t used, size;              //  bytes used of data
    uint8_t data [];                //  the memory handed out
} arena_t;

#define ARENA_SIZE 8192             //  fits every usual event
#define ARENAS_KEPT 64              //  free arenas cached per client
#define OUT_KEEP_MAX (1u << 20)     //  send room kept for the next publish, at most

struct _wp_bus_t {
    zsock_t *pub;                   //  connects to the proxy's XSUB side
    zsock_t *sub;                   //  connects to the proxy's XPUB side
    char *source;                   //  our source id
    char *probe_topic;              //  "_probe.<source>"
    bool ready;                     //  probe came back
    size_t max_frame;               //  largest payload accepted
    uint64_t seq [WP_TOPIC_COUNT];  //  last sequence number sent per topic
    seq_slot_t *seen;               //  (topic, source) -> last seq received
    size_t seen_used;               //  slots in use
    arena_t *arenas;                //  free arenas for decoded events
    size_t n_arenas;                //  how many are free
    zlistx_t *buffered;             //  zmsg_t kept during wait_ready
    wp_bus_stats_t stats;           //  counters
    uint32_t header_only;           //  bit t: topic t decoded header-only
    uint8_t *out;                   //  room for the payload being sent
    size_t out_cap;                 //  its size (kept up to OUT_KEEP_MAX)
};

//  Name of a topic.
const char *
wp_topic_name (wp_topic_t topic)
{
    assert (topic < WP_TOPIC_COUNT);
    return s_topics [topic].name;
}

//  A periodic report?
bool
wp_topic_periodic (wp_topic_t topic)
{
    assert (topic < WP_TOPIC_COUNT);
    return s_topics [topic].periodic;
}

//  Descriptor of a topic's payload.
const ProtobufCMessageDescriptor *
wp_topic_descriptor (wp_topic_t topic)
{
    assert (topic < WP_TOPIC_COUNT);
    return s_topics [topic].descriptor;
}

//  Topic for a name, or -1.
int
wp_topic_lookup (const char *name, size_t len)
{
    for (int i = 0; i < WP_TOPIC_COUNT; i++)
        if (strlen (s_topics [i].name) == len
            && memcmp (s_topics [i].name, name, len) == 0)
            return i;
    return -1;
}

//  Check an envelope's topic and payload size.
int
wp_bus_check_envelope (const void *topic, size_t topic_len, size_t payload_len,
                       size_t max_frame, const char **why)
{
    const char *name = (const char *) topic;
    if (topic_len == 0 || topic_len > TOPIC_MAX) {
        *why = "topic frame empty or too long";
        return -1;
    }
    bool probe = topic_len > strlen (PROBE_PREFIX)
              && memcmp (name, PROBE_PREFIX, strlen (PROBE_PREFIX)) == 0;
    if (!probe && wp_topic_lookup (name, topic_len) < 0) {
        *why = "unknown topic";
        return -1;
    }
    if (payload_len > max_frame) {
        *why = "payload larger than max_frame";
        return -1;
    }
    return 0;
}

//  Create a client.
wp_bus_t *
wp_bus_new (const char *pub_endpoint, const char *sub_endpoint,
            const char *source, const wp_bus_opts_t *opts)
{
    assert (pub_endpoint && sub_endpoint && source);
    wp_bus_t *self = (wp_bus_t *) zmalloc (sizeof (wp_bus_t));
    assert (self);
    wp_bus_opts_t defaults = { 0 };
    if (!opts)
        opts = &defaults;
    self->max_frame = opts->max_frame ? opts->max_frame : WP_BUS_MAX_FRAME_DEFAULT;
    self->source = strdup (source);
    self->probe_topic = zsys_sprintf (PROBE_PREFIX "%s", source);
    self->seen = (seq_slot_t *) calloc (SEQ_TRACK_MAX, sizeof (seq_slot_t));
    assert (self->seen);
    self->buffered = zlistx_new ();
    zlistx_set_destructor (self->buffered, (zlistx_destructor_fn *) zmsg_destroy);

    self->pub = zsock_new (ZMQ_PUB);
    self->sub = zsock_new (ZMQ_SUB);
    assert (self->pub && self->sub);
    zsock_set_sndhwm (self->pub, opts->sndhwm ? opts->sndhwm : 100000);
    zsock_set_rcvhwm (self->sub, opts->rcvhwm ? opts->rcvhwm : 100000);
    zsock_set_linger (self->pub, opts->linger_ms ? opts->linger_ms : 1000);
    if (opts->curve_server_key) {
        assert (opts->curve_public_key && opts->curve_secret_key);
        const char *endpoints [2] = { pub_endpoint, sub_endpoint };
        zsock_t *sockets [2] = { self->pub, self->sub };
        for (int i = 0; i < 2; i++)
            if (strncmp (endpoints [i], "inproc://", 9) != 0) {
                zsock_set_curve_serverkey (sockets [i], opts->curve_server_key);
                zsock_set_curve_publickey (sockets [i], opts->curve_public_key);
                zsock_set_curve_secretkey (sockets [i], opts->curve_secret_key);
            }
    }
    if (zsock_connect (self->pub, "%s", pub_endpoint) != 0) {
        zsys_error ("bus: cannot connect publisher to '%s': %s",
                    pub_endpoint, zmq_strerror (zmq_errno ()));
        wp_bus_destroy (&self);
        return NULL;
    }
    if (zsock_connect (self->sub, "%s", sub_endpoint) != 0) {
        zsys_error ("bus: cannot connect subscriber to '%s': %s",
                    sub_endpoint, zmq_strerror (zmq_errno ()));
        wp_bus_destroy (&self);
        return NULL;
    }
    zsock_set_subscribe (self->sub, self->probe_topic);
    return self;
}

//  Destroy a client.
void
wp_bus_destroy (wp_bus_t **self_p)
{
    assert (self_p);
    wp_bus_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->pub);
    zsock_destroy (&self->sub);
    free (self->seen);
    while (self->arenas) {
        arena_t *arena = self->arenas;
        self->arenas = arena->next;
        free (arena);
    }
    zlistx_destroy (&self->buffered);
    free (self->out);
    zstr_free (&self->probe_topic);
    free (self->source);
    free (self);
    *self_p = NULL;
}

//  Subscribe to a topic prefix.
int
wp_bus_subscribe (wp_bus_t *self, const char *prefix)
{
    assert (self && prefix);
    zsock_set_subscribe (self->sub, prefix);
    return 0;
}

//  Send our probe.
static void
s_send_probe (wp_bus_t *self)
{
    zmq_send (zsock_resolve (self->pub), self->probe_topic,
              strlen (self->probe_topic), ZMQ_SNDMORE);
    zmq_send (zsock_resolve (self->pub), "", 0, 0);
}

//  True when msg is a probe; sets ready when it is ours.
static bool
s_is_probe (wp_bus_t *self, zmsg_t *msg)
{
    zframe_t *topic = zmsg_first (msg);
    if (!topic || zframe_size (topic) <= strlen (PROBE_PREFIX)
        || memcmp (zframe_data (topic), PROBE_PREFIX, strlen (PROBE_PREFIX)) != 0)
        return false;
    if (zframe_streq (topic, self->probe_topic))
        self->ready = true;
    return true;
}

//  Probe until ready or timeout.
int
wp_bus_wait_ready (wp_bus_t *self, int timeout_ms)
{
    assert (self);
    int64_t deadline = zclock_mono () + timeout_ms;
    zpoller_t *poller = zpoller_new (self->sub, NULL);
    int retry_ms = 10;
    while (!self->ready && !zsys_interrupted) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        s_send_probe (self);
        //  Wait for the probe, keeping anything else that arrives.
        int64_t until = zclock_mono () + (retry_ms < left ? retry_ms : left);
        while (!self->ready) {
            int64_t wait = until - zclock_mono ();
            if (wait <= 0)
                break;
            if (!zpoller_wait (poller, (int) wait))
                break;
            zmsg_t *msg = zmsg_recv (self->sub);
            if (!msg)
                break;
            if (s_is_probe (self, msg))
                zmsg_destroy (&msg);
            else
            if (zlistx_size (self->buffered) < BUFFER_MAX)
                zlistx_add_end (self->buffered, msg);
            else {
                self->stats.gaps++;
                zframe_t *topic = zmsg_first (msg);
                int index = topic ? wp_topic_lookup ((const char *) zframe_data (topic),
                                                     zframe_size (topic)) : -1;
                if (index >= 0)
                    self->stats.gaps_by_topic [index]++;
                zmsg_destroy (&msg);
            }
        }
        if (retry_ms < 200)
            retry_ms *= 2;
    }
    zpoller_destroy (&poller);
    if (self->ready)
        zsock_set_unsubscribe (self->sub, self->probe_topic);
    return self->ready ? 0 : -1;
}

//  True once ready.
bool
wp_bus_ready (wp_bus_t *self)
{
    assert (self);
    return self->ready;
}

//  Header slot of a message: field 1, which every warmup message has.
static Warmup__V1__Header **
s_header_slot (const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    assert (desc->n_fields > 0);
    const ProtobufCFieldDescriptor *field = &desc->fields [0];
    assert (field->id == 1 && field->type == PROTOBUF_C_TYPE_MESSAGE
            && field->descriptor == &warmup__v1__header__descriptor);
    return (Warmup__V1__Header **) ((char *) msg + field->offset);
}

//  Header of a decoded event.
const Warmup__V1__Header *
wp_bus_header (const ProtobufCMessage *msg)
{
    assert (msg);
    return *s_header_slot (msg);
}

//  Stamp and publish.
int
wp_bus_publish (wp_bus_t *self, wp_topic_t topic, ProtobufCMessage *msg)
{
    assert (self && msg && topic < WP_TOPIC_COUNT);
    assert (msg->descriptor == s_topics [topic].descriptor);
    Warmup__V1__Header header = WARMUP__V1__HEADER__INIT;
    Warmup__V1__Header **slot = s_header_slot (msg);
    Warmup__V1__Header *saved = *slot;
    header.source = self->source;
    header.seq = ++self->seq [topic];
    header.sent_us = wp_wall_us ();
    header.schema = WP_SCHEMA_VERSION;
    *slot = &header;

    //  Packed into room kept from one publish to the next (a pattern is
    //  about 10 KiB; no allocation per event), unless unusually large.
    size_t size = protobuf_c_message_get_packed_size (msg);
    uint8_t *buffer = self->out;
    if (size > self->out_cap) {
        if (size <= OUT_KEEP_MAX) {
            size_t cap = self->out_cap ? self->out_cap : 4096;
            while (cap < size)
                cap *= 2;
            free (self->out);
            self->out = (uint8_t *) malloc (cap);
            assert (self->out);
            self->out_cap = cap;
            buffer = self->out;
        }
        else
            buffer = (uint8_t *) malloc (size);
        assert (buffer);
    }
    protobuf_c_message_pack (msg, buffer);
    *slot = saved;

    void *socket = zsock_resolve (self->pub);
    const char *name = s_topics [topic].name;
    int rc = 0;
    if (zmq_send (socket, name, strlen (name), ZMQ_SNDMORE) < 0
        || zmq_send (socket, buffer, size, 0) < 0) {
        self->stats.send_errors++;
        if (wp_log_should (self->stats.send_errors))
            zsys_error ("bus: %s: cannot publish %s: %s", self->source, name,
                        zmq_strerror (zmq_errno ()));
        rc = -1;
    }
    else
        self->stats.events_out++;
    if (buffer != self->out)
        free (buffer);
    return rc;
}

//  Send frames as given.
int
wp_bus_send_raw (wp_bus_t *self, zmsg_t **msg_p)
{
    assert (self && msg_p);
    return zmsg_send (msg_p, self->pub);
}

//  Count a rejected message and log it (rate-limited).
static void
s_reject (wp_bus_t *self, const char *why, const void *topic, size_t topic_len)
{
    self->stats.bad_frames++;
    if (wp_log_should (self->stats.bad_frames)) {
        int shown = topic_len > 40 ? 40 : (int) topic_len;
        char printable [41];
        for (int i = 0; i < shown; i++) {
            char c = ((const char *) topic) [i];
            printable [i] = (c >= 32 && c < 127) ? c : '?';
        }
        printable [shown] = 0;
        zsys_warning ("bus: %s: dropped message on '%s': %s (%" PRIu64 " so far)",
                      self->source, printable, why, self->stats.bad_frames);
    }
}

//  Track the sequence number of a received event; count gaps, and tell
//  the event what its number says (a gap before it, a restart, a first).
static void
s_track_seq (wp_bus_t *self, wp_topic_t topic, const Warmup__V1__Header *header,
             wp_bus_event_t *event)
{
    static const uint8_t key [16] = { 0 };
    const char *source = header->source ? header->source : "";
    uint64_t hash = wp_siphash (key, source, strlen (source)) ^ ((uint64_t) topic << 56);
    if (hash == 0)
        hash = 1;
    size_t mask = SEQ_TRACK_MAX - 1;
    size_t i = (size_t) hash & mask;
    while (self->seen [i].key && self->seen [i].key != hash)
        i = (i + 1) & mask;
    seq_slot_t *slot = &self->seen [i];
    if (!slot->key) {
        //  A new publisher: start from its number. Full table: start over.
        if (self->seen_used * 2 >= SEQ_TRACK_MAX) {
            memset (self->seen, 0, SEQ_TRACK_MAX * sizeof (seq_slot_t));
            self->seen_used = 0;
            slot = &self->seen [(size_t) hash & mask];
        }
        slot->key = hash;
        self->seen_used++;
        event->first = true;
    }
    else
    if (header->seq > slot->seq + 1) {
        event->gap = header->seq - slot->seq - 1;
        self->stats.gaps += event->gap;
        self->stats.gaps_by_topic [topic] += event->gap;
    }
    else
    if (header->seq <= slot->seq)
        event->restarted = true;
    //  A lower number means the publisher restarted: start again from it.
    slot->seq = header->seq;
}

//  protobuf-c allocator callbacks over an event's arena.
static void *
s_arena_alloc (void *data, size_t size)
{
    arena_t *arena = (arena_t *) data;
    size = (size + 15) & ~(size_t) 15;
    //  The newest block: the arena, then (an event larger than it, a
    //  pattern of many models) extra blocks of at least its size.
    arena_t *block = arena->overflow ? arena->overflow : arena;
    if (block->used + size <= block->size) {
        void *p = block->data + block->used;
        block->used += size;
        return p;
    }
    size_t room = size > ARENA_SIZE ? size : ARENA_SIZE;
    arena_t *extra = (arena_t *) malloc (sizeof (arena_t) + room);
    if (!extra)
        return NULL;
    extra->size = room;
    extra->used = size;
    extra->overflow = arena->overflow;
    arena->overflow = extra;
    return extra->data;
}

static void
s_arena_free (void *data, void *pointer)
{
    //  Everything is released at once with the event.
}

//  An empty arena, from the free list or new.
static arena_t *
s_arena_get (wp_bus_t *self)
{
    arena_t *arena = self->arenas;
    if (arena) {
        self->arenas = arena->next;
        self->n_arenas--;
    }
    else {
        arena = (arena_t *) malloc (sizeof (arena_t) + ARENA_SIZE);
        assert (arena);
        arena->size = ARENA_SIZE;
        arena->owner = self;
    }
    arena->next = NULL;
    arena->overflow = NULL;
    arena->used = 0;
    return arena;
}

//  Give an arena back to its client.
static void
s_arena_put (arena_t *arena)
{
    while (arena->overflow) {
        arena_t *extra = arena->overflow;
        arena->overflow = extra->overflow;
        free (extra);
    }
    wp_bus_t *owner = arena->owner;
    if (owner->n_arenas < ARENAS_KEPT) {
        arena->next = owner->arenas;
        owner->arenas = arena;
        owner->n_arenas++;
    }
    else
        free (arena);
}

//  Header-only decode: walk the payload's top-level fields (every tag
//  and length must hold), decode field 1 (the header) and keep field 2
//  when it is event_ms; the message has the topic's type with every other
//  field empty. NULL when the payload does not parse.
static ProtobufCMessage *
s_unpack_header_only (const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *allocator,
                      size_t len, const uint8_t *data)
{
    const uint8_t *p = data, *end = data + len;
    const uint8_t *header = NULL;
    uint64_t header_len = 0, event_ms = 0;
    while (p < end) {
        uint64_t key, value;
        if (!wp_varint (&p, end, &key) || (key >> 3) == 0)
            return NULL;
        switch (key & 7) {
            case 0:                                 //  varint
                if (!wp_varint (&p, end, &value))
                    return NULL;
                if ((key >> 3) == 2)
                    event_ms = value;
                break;
            case 1:                                 //  64-bit
                if (end - p < 8)
                    return NULL;
                p += 8;
                break;
            case 2:                                 //  length-delimited
                if (!wp_varint (&p, end, &value) || value > (uint64_t) (end - p))
                    return NULL;
                if ((key >> 3) == 1) {
                    header = p;
                    header_len = value;
                }
                p += value;
                break;
            case 5:                                 //  32-bit
                if (end - p < 4)
                    return NULL;
                p += 4;
                break;
            default:                                //  groups: never ours
                return NULL;
        }
    }
    ProtobufCMessage *msg = (ProtobufCMessage *) allocator->alloc (allocator->allocator_data,
                                                                   desc->sizeof_message);
    if (!msg)
        return NULL;
    protobuf_c_message_init (desc, msg);
    if (header) {
        Warmup__V1__Header *decoded = warmup__v1__header__unpack (allocator, header_len, header);
        if (!decoded) {
            allocator->free (allocator->allocator_data, msg);
            return NULL;
        }
        *s_header_slot (msg) = decoded;
    }
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field (desc, 2);
    if (field && field->type == PROTOBUF_C_TYPE_UINT64
        && field->label != PROTOBUF_C_LABEL_REPEATED)
        *(uint64_t *) ((char *) msg + field->offset) = event_ms;
    return msg;
}

//  malloc's allocator, for wp_bus_unpack without one.
static void *
s_malloc (void *data, size_t size)
{
    return malloc (size);
}

static void
s_free (void *data, void *pointer)
{
    free (pointer);
}

//  True when msg and every message in it have no unknown field numbered 0.
//  Field 0 is invalid, but protobuf-c accepts it written as a multi-byte
//  tag (82 00: field 0, length-delimited) and keeps it as an unknown field,
//  which it would then pack as a tag it refuses: found by fuzz_proto.
static bool
s_fields_valid (const ProtobufCMessage *msg)
{
    for (unsigned i = 0; i < msg->n_unknown_fields; i++)
        if (msg->unknown_fields [i].tag == 0)
            return false;
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned f = 0; f < desc->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &desc->fields [f];
        if (field->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *slot = (const char *) msg + field->offset;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) ((const char *) msg + field->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *) slot;
            for (size_t i = 0; i < n; i++)
                if (items [i] && !s_fields_valid (items [i]))
                    return false;
        }
        else {
            const ProtobufCMessage *item = *(const ProtobufCMessage *const *) slot;
            if (item && !s_fields_valid (item))
                return false;
        }
    }
    return true;
}

//  Decode a payload as a subscriber does.
ProtobufCMessage *
wp_bus_unpack (wp_topic_t topic, bool header_only, const uint8_t *data, size_t size,
               ProtobufCAllocator *allocator)
{
    assert (topic < WP_TOPIC_COUNT);
    ProtobufCAllocator heap = { s_malloc, s_free, NULL };
    if (!allocator)
        allocator = &heap;
    ProtobufCMessage *msg = header_only
        ? s_unpack_header_only (s_topics [topic].descriptor, allocator, size, data)
        : protobuf_c_message_unpack (s_topics [topic].descriptor, allocator, size, data);
    if (msg && !s_fields_valid (msg)) {
        protobuf_c_message_free_unpacked (msg, allocator);
        msg = NULL;
    }
    return msg;
}

//  Decode a topic's events header-only from now on.
void
wp_bus_header_only (wp_bus_t *self, wp_topic_t topic)
{
    assert (self && topic < WP_TOPIC_COUNT);
    self->header_only |= 1u << topic;
}

//  Validate and decode one message: its topic and payload frames and how
//  many frames it had. Returns 1 with *event filled, else 0 (counted).
static int
s_decode (wp_bus_t *self, const void *topic, size_t topic_len, const void *payload,
          size_t payload_len, size_t frames, wp_bus_event_t *event)
{
    if (frames != 2) {
        s_reject (self, "not two frames", topic ? topic : "", topic ? topic_len : 0);
        return 0;
    }
    const char *why = NULL;
    if (wp_bus_check_envelope (topic, topic_len, payload_len, self->max_frame, &why)) {
        s_reject (self, why, topic, topic_len);
        return 0;
    }
    int index = wp_topic_lookup ((const char *) topic, topic_len);
    if (index < 0)
        return 0;   //  someone else's probe
    arena_t *arena = s_arena_get (self);
    ProtobufCAllocator allocator = { s_arena_alloc, s_arena_free, arena };
    ProtobufCMessage *decoded = wp_bus_unpack ((wp_topic_t) index,
                                               self->header_only & (1u << index),
                                               (const uint8_t *) payload, payload_len,
                                               &allocator);
    if (!decoded) {
        s_arena_put (arena);
        s_reject (self, "payload does not decode", topic, topic_len);
        return 0;
    }
    const Warmup__V1__Header *header = *s_header_slot (decoded);
    if (!header || !header->source || !*header->source || header->seq == 0) {
        s_arena_put (arena);
        s_reject (self, "payload has no header", topic, topic_len);
        return 0;
    }
    event->gap = 0;
    event->restarted = false;
    event->first = false;
    s_track_seq (self, (wp_topic_t) index, header, event);
    self->stats.events_in++;
    event->topic = (wp_topic_t) index;
    event->msg = decoded;
    event->arena = arena;
    return 1;
}

//  Decode a message kept during wait_ready.
static int
s_decode_zmsg (wp_bus_t *self, zmsg_t *msg, wp_bus_event_t *event)
{
    zframe_t *topic = zmsg_first (msg);
    zframe_t *payload = zmsg_next (msg);
    return s_decode (self, topic ? zframe_data (topic) : NULL, topic ? zframe_size (topic) : 0,
                     payload ? zframe_data (payload) : NULL,
                     payload ? zframe_size (payload) : 0, zmsg_size (msg), event);
}

//  Receive one event without blocking.
int
wp_bus_recv (wp_bus_t *self, wp_bus_event_t *event)
{
    assert (self && event);
    event->msg = NULL;
    event->arena = NULL;
    //  First what arrived while we waited for readiness.
    zmsg_t *kept;
    while ((kept = (zmsg_t *) zlistx_detach (self->buffered, NULL))) {
        int rc = s_is_probe (self, kept) ? 0 : s_decode_zmsg (self, kept, event);
        zmsg_destroy (&kept);
        if (rc == 1)
            return 1;
    }
    void *socket = zsock_resolve (self->sub);
    while (true) {
        zmq_msg_t topic, payload;
        zmq_msg_init (&topic);
        if (zmq_msg_recv (&topic, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&topic);
            return 0;
        }
        size_t frames = 1;
        bool have_payload = false;
        zmq_msg_init (&payload);
        if (zmq_msg_more (&topic)) {
            //  The rest of a multipart message is already here.
            have_payload = zmq_msg_recv (&payload, socket, 0) >= 0;
            frames++;
            while (have_payload && zmq_msg_more (&payload)) {
                zmq_msg_t extra;
                zmq_msg_init (&extra);
                int more = zmq_msg_recv (&extra, socket, 0) >= 0 && zmq_msg_more (&extra);
                zmq_msg_close (&extra);
                frames++;
                if (!more)
                    break;
            }
        }
        const char *name = (const char *) zmq_msg_data (&topic);
        size_t name_len = zmq_msg_size (&topic);
        int rc = 0;
        bool probe = name_len > strlen (PROBE_PREFIX)
                  && memcmp (name, PROBE_PREFIX, strlen (PROBE_PREFIX)) == 0;
        if (probe) {
            if (name_len == strlen (self->probe_topic)
                && memcmp (name, self->probe_topic, name_len) == 0)
                self->ready = true;
        }
        else
            rc = s_decode (self, name, name_len,
                           have_payload ? zmq_msg_data (&payload) : NULL,
                           have_payload ? zmq_msg_size (&payload) : 0, frames, event);
        zmq_msg_close (&topic);
        zmq_msg_close (&payload);
        if (rc == 1)
            return 1;
    }
}

//  Receive one event, waiting up to timeout_ms.
int
wp_bus_recv_wait (wp_bus_t *self, wp_bus_event_t *event, int timeout_ms)
{
    assert (self && event);
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : zclock_mono () + timeout_ms;
    zpoller_t *poller = zpoller_new (self->sub, NULL);
    int rc = 0;
    while (true) {
        if (wp_bus_recv (self, event) == 1) {
            rc = 1;
            break;
        }
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        zpoller_wait (poller, left > 1000 ? 1000 : (int) left);
        if (zpoller_terminated (poller) || zsys_interrupted) {
            rc = -1;
            break;
        }
    }
    zpoller_destroy (&poller);
    return rc;
}

//  Free an event's payload.
void
wp_bus_event_free (wp_bus_event_t *event)
{
    if (event && event->arena) {
        s_arena_put ((arena_t *) event->arena);
        event->arena = NULL;
    }
    if (event)
        event->msg = NULL;
}

//  The subscriber socket.
zsock_t *
wp_bus_sub_socket (wp_bus_t *self)
{
    assert (self);
    return self->sub;
}

//  True while buffered events wait.
bool
wp_bus_has_buffered (wp_bus_t *self)
{
    assert (self);
    return zlistx_size (self->buffered) > 0;
}

//  Copy of the counters.
void
wp_bus_stats (wp_bus_t *self, wp_bus_stats_t *stats)
{
    assert (self && stats);
    *stats = self->stats;
}

//  Last sequence number published on a topic.
uint64_t
wp_bus_last_seq (wp_bus_t *self, wp_topic_t topic)
{
    assert (self && topic < WP_TOPIC_COUNT);
    return self->seq [topic];
}

//  The source id.
const char *
wp_bus_source (wp_bus_t *self)
{
    assert (self);
    return self->source;
}
