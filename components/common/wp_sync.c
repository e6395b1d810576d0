/*  =========================================================================
    wp_sync - resync between components: snapshots by request and reply
    (sync.request, sync.reply), the Clone pattern. See wp_sync.h.
    =========================================================================
*/
#include "wp_sync.h"
#include "wp_util.h"

//  A request unanswered this long is asked again (bounded tries).
#define S_TIMEOUT_MS 2000
//  Requests in a row without an answer before waiting for a trigger (the
//  peer's next first heartbeat, gap or restart).
#define S_TRIES_MAX 3
//  Room left in a part for its envelope, bytes.
#define S_PART_MARGIN 1024

//  A snapshot being answered.
struct _wp_sync_t {
    wp_resync_t *owner;             //  the resync answering
    const char *request_id;         //  borrowed from the request
    uint64_t since_ms;              //  the request's since_ms (0: all)
    Warmup__V1__SyncItem *items;    //  items of the current part
    Warmup__V1__SyncItem **pointers;//  the part's repeated field
    size_t count, cap;              //  items in the part, room
    size_t bytes;                   //  packed size of the part so far
    size_t limit;                   //  largest part, bytes
    uint32_t part;                  //  parts sent
    uint32_t total;                 //  items sent in all parts
};

struct _wp_resync_t {
    const wp_component_def_t *def;  //  the component
    wp_ctx_t *ctx;                  //  its actor
    const char *topics [4];         //  prefixes to subscribe to, NULL-ended
    char prefix [80];               //  "<sync_from>/": the peer's sources
    //  Asking
    char request_id [96];           //  the request awaited ("" = none)
    int64_t sent_ms;                //  when it was sent, or its last part
                                    //  came (monotonic)
    unsigned tries;                 //  requests in a row unanswered
    uint64_t since_ms;              //  what it asks from (0: everything)
    bool wanted;                    //  a trigger came while one was awaited
    uint64_t want_since_ms;         //  what the wanted one asks from
    char *part_source;              //  who answers the awaited request
    uint32_t part;                  //  its last part received
    char *applied_source;           //  who sent the snapshot applied last
    uint64_t requests;              //  requests sent
    bool first_done;                //  the first snapshot came, or its
                                    //  request went unanswered
    //  Counters
    uint64_t resyncs;               //  snapshots applied whole
    uint64_t items;                 //  their items
    uint64_t served;                //  snapshots answered
};

//  Descriptor of a snapshot item's kind, or NULL.
static const ProtobufCMessageDescriptor *
s_kind_descriptor (const char *kind)
{
    if (kind && streq (kind, WP_SYNC_MODEL_STATE))
        return &warmup__v1__model_state__descriptor;
    if (kind && streq (kind, WP_SYNC_PATTERN))
        return &warmup__v1__usage_pattern__descriptor;
    return NULL;
}

//  Make a resync.
wp_resync_t *
wp_resync_new (const wp_component_def_t *def, wp_ctx_t *ctx)
{
    assert (def && ctx);
    if (!def->snapshot && !def->sync_from)
        return NULL;
    wp_resync_t *self = (wp_resync_t *) zmalloc (sizeof (wp_resync_t));
    assert (self);
    self->def = def;
    self->ctx = ctx;
    int n = 0;
    if (def->snapshot)
        self->topics [n++] = "sync.request";
    if (def->sync_from) {
        self->topics [n++] = "sync.reply";
        //  The peer's heartbeats: a new instance, a restart, a gap
        self->topics [n++] = "heartbeat";
        snprintf (self->prefix, sizeof self->prefix, "%s/", def->sync_from);
    }
    return self;
}

//  Destroy.
void
wp_resync_destroy (wp_resync_t **self_p)
{
    assert (self_p);
    wp_resync_t *self = *self_p;
    if (self) {
        free (self->part_source);
        free (self->applied_source);
        free (self);
        *self_p = NULL;
    }
}

//  Topics to subscribe to.
const char **
wp_resync_topics (wp_resync_t *self)
{
    assert (self);
    return self->topics;
}

//  Want a request (from since_ms, 0: everything) once the awaited one is
//  settled: the smallest of what was wanted.
static void
s_want (wp_resync_t *self, uint64_t since_ms)
{
    if (!self->wanted || since_ms < self->want_since_ms)
        self->want_since_ms = since_ms;
    self->wanted = true;
}

//  Send a request for the peer's snapshot (what was wanted, or everything).
static void
s_request (wp_resync_t *self)
{
    wp_bus_t *bus = wp_ctx_bus (self->ctx);
    snprintf (self->request_id, sizeof self->request_id, "%s#%" PRIu64, wp_bus_source (bus),
              ++self->requests);
    Warmup__V1__SyncRequest request = WARMUP__V1__SYNC_REQUEST__INIT;
    request.event_ms = wp_wall_us () / 1000;
    request.component = (char *) self->def->sync_from;
    request.request_id = self->request_id;
    request.requester = (char *) self->def->name;
    self->since_ms = self->wanted ? self->want_since_ms : 0;
    request.since_ms = self->since_ms;
    self->sent_ms = zclock_mono ();
    self->tries++;
    self->wanted = false;
    self->part = 0;
    free (self->part_source);
    self->part_source = NULL;
    if (wp_ctx_publish (self->ctx, WP_TOPIC_SYNC_REQUEST, &request.base))
        zsys_warning ("%s: cannot ask %s for a snapshot (will retry)", self->def->name,
                      self->def->sync_from);
}

//  First request.
void
wp_resync_start (wp_resync_t *self)
{
    //  (events that came while the bus got ready may have asked already)
    if (self && self->def->sync_from && !self->request_id [0])
        s_request (self);
}

//  Forget the awaited snapshot; tell the component if it had begun.
static void
s_abort (wp_resync_t *self, const char *why)
{
    if (self->part && self->def->on_sync)
        self->def->on_sync (wp_ctx_state (self->ctx), self->ctx, WP_SYNC_ABORT, NULL, NULL);
    zsys_warning ("%s: snapshot from %s abandoned: %s; asking again", self->def->name,
                  self->part_source ? self->part_source : self->def->sync_from, why);
    self->request_id [0] = 0;
    self->part = 0;
    s_want (self, self->since_ms);
}

//  --- Answering ---------------------------------------------------------------

//  Send the part being built (last: the final one, with the sequence
//  numbers of the snapshot).
static void
s_send_part (wp_sync_t *sync, bool last)
{
    wp_resync_t *self = sync->owner;
    Warmup__V1__SyncReply reply = WARMUP__V1__SYNC_REPLY__INIT;
    reply.event_ms = wp_wall_us () / 1000;
    reply.request_id = (char *) sync->request_id;
    reply.component = (char *) self->def->name;
    reply.part = ++sync->part;
    reply.last = last;
    reply.n_items = sync->count;
    reply.items = sync->pointers;
    Warmup__V1__TopicCount seqs [WP_TOPIC_COUNT];
    Warmup__V1__TopicCount *seq_pointers [WP_TOPIC_COUNT];
    size_t n_seqs = 0;
    if (last) {
        wp_bus_t *bus = wp_ctx_bus (self->ctx);
        for (int topic = 0; topic < WP_TOPIC_COUNT; topic++) {
            uint64_t seq = wp_bus_last_seq (bus, (wp_topic_t) topic);
            if (!seq || topic == WP_TOPIC_SYNC_REPLY || topic == WP_TOPIC_HEARTBEAT)
                continue;
            warmup__v1__topic_count__init (&seqs [n_seqs]);
            seqs [n_seqs].topic = (char *) wp_topic_name ((wp_topic_t) topic);
            seqs [n_seqs].count = seq;
            seq_pointers [n_seqs] = &seqs [n_seqs];
            n_seqs++;
        }
        reply.n_update_seq = n_seqs;
        reply.update_seq = seq_pointers;
        reply.items_total = sync->total + (uint32_t) sync->count;
    }
    wp_ctx_publish (self->ctx, WP_TOPIC_SYNC_REPLY, &reply.base);
    sync->total += (uint32_t) sync->count;
    for (size_t i = 0; i < sync->count; i++)
        free (sync->items [i].payload.data);
    sync->count = 0;
    sync->bytes = 0;
}

//  Add an item to the snapshot being answered.
int
wp_sync_add (wp_sync_t *sync, const char *kind, const ProtobufCMessage *msg)
{
    assert (sync && kind && msg);
    assert (s_kind_descriptor (kind) == msg->descriptor);
    size_t size = protobuf_c_message_get_packed_size (msg);
    size_t cost = size + strlen (kind) + 16;
    if (cost > sync->limit) {
        zsys_warning ("%s: a snapshot item of %zu bytes is larger than a part (%zu): "
                      "skipped", sync->owner->def->name, size, sync->limit);
        return -1;
    }
    if (sync->bytes + cost > sync->limit)
        s_send_part (sync, false);
    if (sync->count == sync->cap) {
        sync->cap = sync->cap ? sync->cap * 2 : 64;
        sync->items = (Warmup__V1__SyncItem *) realloc (sync->items,
                                                       sync->cap * sizeof *sync->items);
        sync->pointers = (Warmup__V1__SyncItem **) realloc (sync->pointers,
                                                           sync->cap * sizeof (void *));
        assert (sync->items && sync->pointers);
    }
    Warmup__V1__SyncItem *item = &sync->items [sync->count];
    warmup__v1__sync_item__init (item);
    item->kind = (char *) kind;
    item->payload.len = size;
    item->payload.data = (uint8_t *) malloc (size ? size : 1);
    assert (item->payload.data);
    protobuf_c_message_pack (msg, item->payload.data);
    //  The pointers may have moved: set them all
    for (size_t i = 0; i <= sync->count; i++)
        sync->pointers [i] = &sync->items [i];
    sync->count++;
    sync->bytes += cost;
    return 0;
}

//  Where the snapshot being answered starts.
uint64_t
wp_sync_since (wp_sync_t *sync)
{
    assert (sync);
    return sync->since_ms;
}

//  Answer a request for our snapshot.
static void
s_serve (wp_resync_t *self, const Warmup__V1__SyncRequest *request)
{
    if (!self->def->snapshot || !request->component
        || !streq (request->component, self->def->name) || !request->request_id
        || !*request->request_id || strlen (request->request_id) > 200)
        return;
    const wp_config_t *config = wp_ctx_config (self->ctx);
    wp_sync_t sync = { .owner = self, .request_id = request->request_id,
                       .since_ms = request->since_ms };
    sync.limit = config->max_frame_bytes > 2 * S_PART_MARGIN
               ? config->max_frame_bytes - S_PART_MARGIN : config->max_frame_bytes / 2;
    int64_t started = zclock_mono ();
    self->def->snapshot (wp_ctx_state (self->ctx), self->ctx, &sync);
    s_send_part (&sync, true);
    self->served++;
    zsys_info ("%s: snapshot for %s (%s, since %" PRIu64 "): %u items in %u parts, %"
               PRId64 " ms", self->def->name, request->requester ? request->requester : "?",
               request->request_id, request->since_ms, sync.total, sync.part,
               zclock_mono () - started);
    free (sync.items);
    free (sync.pointers);
}

//  --- Receiving ---------------------------------------------------------------

//  One part of the awaited snapshot. False when it is someone else's (or
//  one given up).
static bool
s_receive (wp_resync_t *self, const Warmup__V1__SyncReply *reply)
{
    if (!self->request_id [0] || !reply->request_id
        || !streq (reply->request_id, self->request_id))
        return false;
    const char *source = reply->header->source;
    if (self->part_source && !streq (self->part_source, source))
        return true;                //  another instance answers too: the first wins
    if (reply->part != self->part + 1) {
        s_abort (self, "a part is missing");
        return true;
    }
    if (reply->part == 1) {
        self->part_source = strdup (source);
        assert (self->part_source);
        if (self->def->on_sync)
            self->def->on_sync (wp_ctx_state (self->ctx), self->ctx, WP_SYNC_BEGIN,
                                NULL, NULL);
    }
    self->part = reply->part;
    self->sent_ms = zclock_mono ();     //  the timeout runs from the last part
    for (size_t i = 0; i < reply->n_items; i++) {
        const Warmup__V1__SyncItem *item = reply->items [i];
        const ProtobufCMessageDescriptor *descriptor = s_kind_descriptor (item->kind);
        if (!descriptor) {
            wp_ctx_count_rejected (self->ctx);
            continue;
        }
        ProtobufCMessage *msg = protobuf_c_message_unpack (descriptor, NULL,
                                                           item->payload.len,
                                                           item->payload.data);
        if (!msg) {
            wp_ctx_count_rejected (self->ctx);
            continue;
        }
        if (self->def->on_sync)
            self->def->on_sync (wp_ctx_state (self->ctx), self->ctx, WP_SYNC_ITEM,
                                item->kind, msg);
        protobuf_c_message_free_unpacked (msg, NULL);
    }
    if (!reply->last)
        return true;
    if (self->def->on_sync)
        self->def->on_sync (wp_ctx_state (self->ctx), self->ctx, WP_SYNC_END, NULL, NULL);
    self->resyncs++;
    self->items += reply->items_total;
    char seqs [400] = "";
    for (size_t i = 0; i < reply->n_update_seq; i++) {
        size_t used = strlen (seqs);
        snprintf (seqs + used, sizeof seqs - used, "%s%s=%" PRIu64, used ? " " : "",
                  reply->update_seq [i]->topic, reply->update_seq [i]->count);
    }
    zsys_info ("%s: resynced from %s: %u items (since %" PRIu64 "); its updates go on "
               "after seq %s", self->def->name, source, reply->items_total, self->since_ms,
               *seqs ? seqs : "(none yet)");
    free (self->applied_source);
    self->applied_source = self->part_source;
    self->part_source = NULL;
    self->request_id [0] = 0;
    self->part = 0;
    self->tries = 0;
    self->first_done = true;
    return true;
}

//  Look at an event.
bool
wp_resync_event (wp_resync_t *self, const wp_bus_event_t *event)
{
    if (!self)
        return false;
    //  (the requests we do not answer and the replies to others go on to
    //  a component that subscribed to them: metrics counts them)
    if (event->topic == WP_TOPIC_SYNC_REQUEST) {
        s_serve (self, (const Warmup__V1__SyncRequest *) event->msg);
        return self->def->snapshot != NULL;
    }
    if (event->topic == WP_TOPIC_SYNC_REPLY)
        return self->def->sync_from
            && s_receive (self, (const Warmup__V1__SyncReply *) event->msg);
    if (!self->def->sync_from)
        return false;
    const Warmup__V1__Header *header = wp_bus_header (event->msg);
    const char *source = header && header->source ? header->source : "";
    if (strncmp (source, self->prefix, strlen (self->prefix)) != 0)
        return false;
    //  A peer that started after our request (its first heartbeat says
    //  so) did not hear it: ask it now rather than at the timeout
    if (event->first && event->topic == WP_TOPIC_HEARTBEAT && self->request_id [0]
        && !self->part
        && ((const Warmup__V1__Heartbeat *) event->msg)->uptime_ms
           < (uint64_t) (zclock_mono () - self->sent_ms)) {
        zsys_info ("%s: resync from %s: it started after the request", self->def->name,
                   source);
        self->request_id [0] = 0;
        self->tries = 0;
        s_want (self, self->since_ms);
        s_request (self);
        return false;
    }
    //  The peer's events: a gap or a restart means our view may be stale;
    //  a new instance (not the one whose snapshot we hold) too.
    const char *why = event->gap ? "a gap in its events"
                    : event->restarted ? "it restarted"
                    : event->first && !self->request_id [0]
                      && (!self->applied_source || !streq (self->applied_source, source))
                    ? "a new instance" : NULL;
    if (why) {
        //  A gap in the events of the instance whose snapshot we hold:
        //  only what changed since the component's view (if it says)
        uint64_t since = event->gap && !event->restarted && self->applied_source
                      && streq (self->applied_source, source) && self->def->sync_since
                       ? self->def->sync_since (wp_ctx_state (self->ctx)) : 0;
        if (self->request_id [0]) {
            s_want (self, since);   //  after the one awaited
            zsys_info ("%s: resync from %s after the one awaited: %s", self->def->name,
                       source, why);
        }
        else {
            zsys_info ("%s: resync from %s: %s", self->def->name, source, why);
            self->tries = 0;
            s_want (self, since);
            s_request (self);
        }
    }
    return false;
}

//  Periodic work.
void
wp_resync_tick (wp_resync_t *self)
{
    if (!self || !self->def->sync_from)
        return;
    if (self->request_id [0]) {
        if (zclock_mono () - self->sent_ms < S_TIMEOUT_MS)
            return;
        self->first_done = true;    //  no longer hold the component's events
        if (self->part) {
            s_abort (self, "no part for too long");
            return;
        }
        self->request_id [0] = 0;
        if (self->tries >= S_TRIES_MAX) {
            zsys_warning ("%s: no snapshot from %s after %u requests; resync when it "
                          "appears", self->def->name, self->def->sync_from, self->tries);
            return;
        }
        s_want (self, self->since_ms);
    }
    if (self->wanted)
        s_request (self);
}

//  Holding the component's events?
bool
wp_resync_holding (wp_resync_t *self)
{
    return self && self->def->sync_from && !self->first_done;
}

//  Counters.
void
wp_resync_stats (wp_resync_t *self, uint64_t *resyncs, uint64_t *items, uint64_t *served)
{
    *resyncs = self ? self->resyncs : 0;
    *items = self ? self->items : 0;
    *served = self ? self->served : 0;
}
