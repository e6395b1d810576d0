/*  =========================================================================
    wp_proxy - the XSUB/XPUB proxy actor of the warmup bus.
    =========================================================================
*/
#include <pthread.h>
#include <stdatomic.h>
#include <limits.h>
#include <sys/stat.h>
#include "wp_proxy.h"
#include "wp_bus.h"
#include "wp_ingress.h"
#include "wp_keys.h"
#include "wp_util.h"

#define BATCH 1000          //  messages moved per wake-up before looking around
#define RATE_SLOTS 4096     //  publishers the rate limit remembers
#define ZAP_ROLE "warmup-role"  //  ZAP metadata: the key's role
#define ZAP_NAME "warmup-key"   //  ZAP metadata: the key's name

//  What a publisher may do, from its authenticated key.
typedef enum {
    ROLE_LOCAL = 0,         //  in this process, or no CURVE: everything, not
                            //  rate limited (the same user could read the
                            //  operator key)
    ROLE_OPERATOR,          //  everything, not rate limited
    ROLE_COMPONENT,         //  everything but control.request, not rate limited
                            //  (the service's own: the HTTP proxy's usage)
    ROLE_CLIENT             //  usage.observed and usage.intent (rate limited),
                            //  control.request MODELS
} role_t;

static const char *s_role_names [] = { "local", "operator", "component", "client" };

//  ZAP has one handler per process: one CURVE proxy at a time.
static atomic_bool s_auth_taken;

typedef struct {
    zsock_t *pipe;          //  actor pipe
    zsock_t *xsub;          //  publishers connect here
    zsock_t *xpub;          //  subscribers connect here
    zpoller_t *poller;      //  pipe, and both sides once bound
    size_t max_frame;       //  largest payload forwarded
    int hwm;                //  high-water mark of both sides, messages
    uint64_t forwarded;     //  envelopes forwarded
    uint64_t dropped;       //  envelopes dropped as invalid
    bool verbose;           //  log every drop
    bool terminated;        //  $TERM received
    //  Security (docs/security.md)
    bool curve;             //  CURVE server on both sides
    char curve_public [41]; //  our key pair, Z85
    char curve_secret [41];
    zcertstore_t *certs;    //  admitted keys and their roles, until BIND
    size_t n_keys;          //  how many
    zactor_t *auth;         //  zauth, while bound with CURVE
    bool auth_owner;        //  we hold s_auth_taken
    void *monitors [2];     //  handshake events of xsub, xpub (PAIR)
    uint8_t user_key [16];  //  SipHash key of user ids
    wp_ratelimit_t *limiter;//  usage.observed per publisher, NULL = none
    uint64_t received;      //  envelopes received from publishers
    uint64_t refused;       //  events a publisher's role may not send
    uint64_t rate_limited;  //  usage events over the rate
    uint64_t hashed;        //  user ids hashed
    uint64_t auth_failures; //  connections refused at the handshake
    uint8_t *out;           //  room for a rewritten payload
    size_t out_cap;
    //  Our own events: heartbeats and refusals
    char *source;           //  header source ("bus/host:pid")
    uint64_t seq [WP_TOPIC_COUNT];  //  last sequence number per topic
    unsigned heartbeat_ms;  //  0 = no heartbeat
    int64_t next_beat;      //  monotonic ms of the next one
    uint64_t started_ms;    //  wall clock at BIND
} proxy_t;

//  Reply an error on the pipe.
static void
s_reply_error (proxy_t *self, const char *reason)
{
    zstr_sendx (self->pipe, "ERROR", reason, NULL);
}

//  Publish one of our own events straight to the subscribers.
static void
s_publish (proxy_t *self, wp_topic_t topic, ProtobufCMessage *msg)
{
    if (!self->xpub)
        return;
    Warmup__V1__Header header = WARMUP__V1__HEADER__INIT;
    header.source = self->source ? self->source : (char *) "bus";
    header.seq = ++self->seq [topic];
    header.sent_us = wp_wall_us ();
    header.schema = WP_SCHEMA_VERSION;
    //  Field 1 of every event is its header.
    Warmup__V1__Header **slot = (Warmup__V1__Header **) ((char *) msg
                                + msg->descriptor->fields [0].offset);
    *slot = &header;
    size_t size = protobuf_c_message_get_packed_size (msg);
    uint8_t *buffer = (uint8_t *) malloc (size ? size : 1);
    assert (buffer);
    protobuf_c_message_pack (msg, buffer);
    *slot = NULL;
    const char *name = wp_topic_name (topic);
    void *xpub = zsock_resolve (self->xpub);
    zmq_send (xpub, name, strlen (name), ZMQ_SNDMORE);
    zmq_send (xpub, buffer, size, 0);
    free (buffer);
}

//  Publish the proxy's heartbeat.
static void
s_heartbeat (proxy_t *self)
{
    Warmup__V1__Heartbeat beat = WARMUP__V1__HEARTBEAT__INIT;
    uint64_t now = wp_wall_us () / 1000;
    beat.event_ms = now;
    beat.component = (char *) "bus";
    const char *slash = self->source ? strchr (self->source, '/') : NULL;
    beat.instance = (char *) (slash ? slash + 1 : "");
    beat.pid = (uint32_t) getpid ();
    beat.rss_kb = wp_rss_kb ();
    beat.uptime_ms = now - self->started_ms;
    beat.events_in = self->received;
    beat.events_out = self->forwarded;
    beat.dropped = self->dropped + self->refused + self->rate_limited;
    beat.bad_frames = self->dropped;
    beat.interval_ms = self->heartbeat_ms;
    beat.refused = self->refused;
    beat.rate_limited = self->rate_limited;
    beat.auth_failures = self->auth_failures;
    s_publish (self, WP_TOPIC_HEARTBEAT, &beat.base);
}

//  Watch a socket's handshake failures on a PAIR socket; NULL if not.
static void *
s_monitor (proxy_t *self, zsock_t *socket, const char *side)
{
    char endpoint [96];
    snprintf (endpoint, sizeof endpoint, "inproc://wp-proxy-monitor-%p-%s", (void *) self,
              side);
    if (zmq_socket_monitor (zsock_resolve (socket), endpoint,
                            ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0)
        return NULL;
    void *pair = zmq_socket (zsys_init (), ZMQ_PAIR);
    int linger = 0;
    if (pair)
        zmq_setsockopt (pair, ZMQ_LINGER, &linger, sizeof linger);
    if (pair && zmq_connect (pair, endpoint) == 0)
        return pair;
    if (pair)
        zmq_close (pair);
    return NULL;
}

//  Count the handshake failures a monitor reports.
static void
s_monitor_events (proxy_t *self, void *monitor)
{
    for (int i = 0; i < BATCH; i++) {
        zmq_msg_t event, address;
        zmq_msg_init (&event);
        if (zmq_msg_recv (&event, monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&event);
            break;
        }
        zmq_msg_init (&address);
        if (zmq_msg_more (&event))
            zmq_msg_recv (&address, monitor, 0);
        if (zmq_msg_size (&event) >= 6) {
            uint16_t what;
            memcpy (&what, zmq_msg_data (&event), 2);
            self->auth_failures++;
            if (self->verbose || wp_log_should (self->auth_failures))
                zsys_warning ("bus: refused a connection at %.*s: %s (%" PRIu64 " so far)",
                              (int) zmq_msg_size (&address), (char *) zmq_msg_data (&address),
                              what == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                              ? "its CURVE key is not allowed"
                              : "it does not speak CURVE with our key", self->auth_failures);
        }
        zmq_msg_close (&address);
        zmq_msg_close (&event);
    }
}

//  Bind a socket; an ipc:// file gets mode 0600 (umask 077 while it is
//  made, so it is never open to others). Returns 0 or -1 (errno set).
static int
s_bind (zsock_t *socket, const char *endpoint)
{
    bool ipc = strncmp (endpoint, "ipc://", 6) == 0 && endpoint [6] != '@';
    mode_t mask = ipc ? umask (077) : 0;
    int rc = zsock_bind (socket, "%s", endpoint);
    int saved = zmq_errno ();
    if (ipc)
        umask (mask);
    if (rc >= 0 && ipc) {
        char *bound = zsock_last_endpoint (socket);
        if (bound && strncmp (bound, "ipc://", 6) == 0)
            chmod (bound + 6, 0600);
        zstr_free (&bound);
    }
    errno = saved;
    return rc < 0 ? -1 : 0;
}

//  Make a socket a CURVE server with our key pair.
static void
s_curve_server (proxy_t *self, zsock_t *socket)
{
    zsock_set_zap_domain (socket, "warmup");
    zsock_set_curve_server (socket, 1);
    zsock_set_curve_secretkey (socket, self->curve_secret);
    zsock_set_curve_publickey (socket, self->curve_public);
}

//  Handle BIND: bind both sides and report their real endpoints.
static void
s_bind_both (proxy_t *self, const char *pub, const char *sub)
{
    if (self->xsub || !pub || !sub) {
        s_reply_error (self, self->xsub ? "already bound" : "BIND needs two endpoints");
        return;
    }
    if (self->curve) {
        bool expected = false;
        if (!atomic_compare_exchange_strong (&s_auth_taken, &expected, true)) {
            s_reply_error (self, "CURVE: another proxy of this process authenticates "
                           "(ZAP has one handler per process)");
            return;
        }
        self->auth_owner = true;
        //  The authenticator runs before any socket listens.
        self->auth = zactor_new (zauth, self->certs);
        self->certs = NULL;         //  zauth owns it now
        assert (self->auth);
        if (self->verbose) {
            zstr_send (self->auth, "VERBOSE");
            zsock_wait (self->auth);
        }
    }
    zsock_t *xsub = zsock_new (ZMQ_XSUB);
    zsock_t *xpub = zsock_new (ZMQ_XPUB);
    assert (xsub && xpub);
    zsock_set_rcvhwm (xsub, self->hwm);
    zsock_set_sndhwm (xpub, self->hwm);
    //  A peer sending a frame far beyond any valid event is disconnected.
    zsock_set_maxmsgsize (xsub, (int64_t) self->max_frame * 16);
    if (self->curve) {
        s_curve_server (self, xsub);
        s_curve_server (self, xpub);
        self->monitors [0] = s_monitor (self, xsub, "pub");
        self->monitors [1] = s_monitor (self, xpub, "sub");
    }
    char reason [512];
    const char *failed = s_bind (xsub, pub) ? pub : s_bind (xpub, sub) ? sub : NULL;
    if (failed) {
        snprintf (reason, sizeof reason, "cannot bind '%s': %s", failed,
                  zmq_strerror (errno));
        for (int i = 0; i < 2; i++)
            if (self->monitors [i]) {
                zmq_close (self->monitors [i]);
                self->monitors [i] = NULL;
            }
        zsock_destroy (&xsub);
        zsock_destroy (&xpub);
        s_reply_error (self, reason);
        return;
    }
    self->xsub = xsub;
    self->xpub = xpub;
    //  Every event crosses ZeroMQ's I/O threads (they exist once a socket
    //  does): the pipeline's short slice (wp_thread_slice)
    wp_threads_slice ("ZMQbg/IO/", WP_PIPELINE_SLICE_US);
    zpoller_add (self->poller, xsub);
    zpoller_add (self->poller, xpub);
    for (int i = 0; i < 2; i++)
        if (self->monitors [i])
            zpoller_add (self->poller, self->monitors [i]);
    self->started_ms = wp_wall_us () / 1000;
    if (self->heartbeat_ms)
        self->next_beat = zclock_mono () + self->heartbeat_ms;
    char *pub_bound = zsock_last_endpoint (xsub);
    char *sub_bound = zsock_last_endpoint (xpub);
    zstr_sendx (self->pipe, "OK", pub_bound, sub_bound, NULL);
    zstr_free (&pub_bound);
    zstr_free (&sub_bound);
}

//  Handle ALSO: bind both sides to a further pair of endpoints.
static void
s_also (proxy_t *self, const char *pub, const char *sub)
{
    if (!self->xsub || !pub || !sub) {
        s_reply_error (self, self->xsub ? "ALSO needs two endpoints" : "BIND first");
        return;
    }
    char reason [512];
    if (s_bind (self->xsub, pub) || s_bind (self->xpub, sub)) {
        snprintf (reason, sizeof reason, "cannot bind '%s' / '%s': %s", pub, sub,
                  zmq_strerror (errno));
        s_reply_error (self, reason);
        return;
    }
    zstr_send (self->pipe, "OK");
}

//  Handle CURVE: our key pair.
static void
s_curve (proxy_t *self, const char *public_key, const char *secret_key)
{
    uint8_t bytes [32];
    if (self->xsub)
        s_reply_error (self, "CURVE must come before BIND");
    else
    if (!public_key || !secret_key || strlen (public_key) != 40 || strlen (secret_key) != 40
        || !zmq_z85_decode (bytes, public_key) || !zmq_z85_decode (bytes, secret_key))
        s_reply_error (self, "CURVE needs a public and a secret key (Z85, 40 characters)");
    else {
        snprintf (self->curve_public, sizeof self->curve_public, "%s", public_key);
        snprintf (self->curve_secret, sizeof self->curve_secret, "%s", secret_key);
        self->curve = true;
        zstr_send (self->pipe, "OK");
    }
}

//  Handle KEY: admit a client key with a role.
static void
s_key (proxy_t *self, const char *role, const char *name, const char *public_key)
{
    uint8_t bytes [32];
    int which = -1;
    for (int i = ROLE_OPERATOR; role && i <= ROLE_CLIENT; i++)
        if (streq (role, s_role_names [i]))
            which = i;
    if (self->xsub)
        s_reply_error (self, "KEY must come before BIND");
    else
    if (which < 0 || !name || !*name || strlen (name) > 100 || !public_key
        || strlen (public_key) != 40 || !zmq_z85_decode (bytes, public_key))
        s_reply_error (self, "KEY needs a role (operator, component, client), a name "
                       "and a public key (Z85, 40 characters)");
    else {
        if (!self->certs)
            self->certs = zcertstore_new (NULL);
        zcert_t *known = zcertstore_lookup (self->certs, public_key);
        if (known)
            zsys_info ("bus: key %s (%s) is also %s: it keeps the role %s", name, role,
                       zcert_meta (known, ZAP_NAME), zcert_meta (known, ZAP_ROLE));
        else {
            uint8_t no_secret [32] = { 0 };
            zcert_t *cert = zcert_new_from (bytes, no_secret);
            zcert_set_meta (cert, ZAP_ROLE, "%s", role);
            zcert_set_meta (cert, ZAP_NAME, "%s", name);
            zcertstore_insert (self->certs, &cert);
            self->n_keys++;
        }
        zstr_send (self->pipe, "OK");
    }
}

//  Handle one pipe command.
static void
s_handle_pipe (proxy_t *self)
{
    zmsg_t *request = zmsg_recv (self->pipe);
    if (!request) {
        self->terminated = true;
        return;
    }
    char *command = zmsg_popstr (request);
    char *a = zmsg_popstr (request);
    char *b = zmsg_popstr (request);
    char *c = zmsg_popstr (request);
    if (!command)
        s_reply_error (self, "empty command");
    else
    if (streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "BIND"))
        s_bind_both (self, a, b);
    else
    if (streq (command, "ALSO"))
        s_also (self, a, b);
    else
    if (streq (command, "CURVE"))
        s_curve (self, a, b);
    else
    if (streq (command, "KEY"))
        s_key (self, a, b, c);
    else
    if (streq (command, "USERKEY")) {
        if (wp_parse_key (a, self->user_key) == 0)
            zstr_send (self->pipe, "OK");
        else
            s_reply_error (self, "USERKEY needs 32 hex digits");
    }
    else
    if (streq (command, "RATELIMIT")) {
        char *end = NULL;
        double rate = a ? strtod (a, &end) : -1;
        if (!a || !*a || *end || !(rate >= 0) || rate > 1e9)
            s_reply_error (self, "RATELIMIT needs events per second (0 = none)");
        else {
            wp_ratelimit_destroy (&self->limiter);
            if (rate > 0)
                self->limiter = wp_ratelimit_new (rate, RATE_SLOTS);
            zstr_send (self->pipe, "OK");
        }
    }
    else
    if (streq (command, "HEARTBEAT")) {
        long ms = a ? atol (a) : 0;
        if (ms < 10 || !b || !*b)
            s_reply_error (self, "HEARTBEAT needs a period (>= 10 ms) and a source");
        else {
            self->heartbeat_ms = (unsigned) ms;
            zstr_free (&self->source);
            self->source = strdup (b);
            self->next_beat = zclock_mono () + ms;
            zstr_send (self->pipe, "OK");
        }
    }
    else
    if (streq (command, "MAXFRAME")) {
        long bytes = a ? atol (a) : 0;
        if (bytes > 0) {
            self->max_frame = (size_t) bytes;
            zstr_send (self->pipe, "OK");
        }
        else
            s_reply_error (self, "MAXFRAME needs a positive byte count");
    }
    else
    if (streq (command, "HWM")) {
        long messages = a ? atol (a) : 0;
        if (messages > 0 && messages <= INT_MAX && !self->xsub) {
            self->hwm = (int) messages;
            zstr_send (self->pipe, "OK");
        }
        else
            s_reply_error (self, "HWM needs a positive message count, before BIND");
    }
    else
    if (streq (command, "STATS")) {
        char numbers [6][32];
        uint64_t values [6] = { self->forwarded, self->dropped, self->refused,
                                self->rate_limited, self->hashed, self->auth_failures };
        for (int i = 0; i < 6; i++)
            snprintf (numbers [i], sizeof numbers [i], "%" PRIu64, values [i]);
        zstr_sendx (self->pipe, "OK", numbers [0], numbers [1], numbers [2], numbers [3],
                    numbers [4], numbers [5], NULL);
    }
    else
    if (streq (command, "VERBOSE")) {
        self->verbose = true;
        zstr_send (self->pipe, "OK");
    }
    else {
        zsys_error ("proxy: unknown command '%s'", command);
        s_reply_error (self, "unknown command");
    }
    zstr_free (&command);
    zstr_free (&a);
    zstr_free (&b);
    zstr_free (&c);
    zmsg_destroy (&request);
}

//  Count and log (rate-limited) a dropped message.
static void
s_drop (proxy_t *self, const char *why)
{
    self->dropped++;
    if (self->verbose || wp_log_should (self->dropped))
        zsys_warning ("bus: dropped a message from a publisher: %s "
                      "(%" PRIu64 " dropped so far)", why, self->dropped);
}

//  The role and name of the publisher of a received frame.
static role_t
s_role (proxy_t *self, zmq_msg_t *frame, const char **name)
{
    *name = "local";
    if (!self->curve)
        return ROLE_LOCAL;
    const char *user_id = zmq_msg_gets (frame, "User-Id");
    if (!user_id)
        return ROLE_LOCAL;          //  inproc: no handshake, this process
    const char *role = zmq_msg_gets (frame, ZAP_ROLE);
    const char *key = zmq_msg_gets (frame, ZAP_NAME);
    *name = key ? key : user_id;
    for (int i = ROLE_OPERATOR; role && i <= ROLE_CLIENT; i++)
        if (streq (role, s_role_names [i]))
            return (role_t) i;
    return ROLE_CLIENT;             //  admitted, role unknown: the least
}

//  May a publisher of this role send this event? NULL if it may, else why not.
static const char *
s_forbidden (role_t role, int topic, zmq_msg_t *payload)
{
    if (role == ROLE_LOCAL || role == ROLE_OPERATOR)
        return NULL;
    if (topic == WP_TOPIC_CONTROL) {
        if (role == ROLE_CLIENT) {
            Warmup__V1__ControlRequest *request = warmup__v1__control_request__unpack (
                NULL, zmq_msg_size (payload), (const uint8_t *) zmq_msg_data (payload));
            bool listing = request
                        && request->command == WARMUP__V1__COMMAND__COMMAND_MODELS;
            if (request)
                warmup__v1__control_request__free_unpacked (request, NULL);
            if (listing)
                return NULL;
        }
        return "only operator keys may pin, unpin, reload or load a model (bus/operator_keys)";
    }
    if (role == ROLE_COMPONENT || topic == WP_TOPIC_USAGE || topic == WP_TOPIC_INTENT)
        return NULL;
    if (topic == WP_TOPIC_WARMUP_REQUEST)
        return "only operator keys may warm or cool (bus/operator_keys)";
    return "a client key may publish usage.observed and usage.intent only";
}

//  Answer a refused control on control.reply.
static void
s_refuse_control (proxy_t *self, int topic, zmq_msg_t *payload, const char *principal,
                  const char *why)
{
    Warmup__V1__ControlReply reply = WARMUP__V1__CONTROL_REPLY__INIT;
    reply.event_ms = wp_wall_us () / 1000;
    reply.component = (char *) "bus";
    reply.ok = false;
    char error [300];
    snprintf (error, sizeof error, "refused: %s: %s", principal, why);
    reply.error = error;
    reply.message = (char *) "";
    reply.principal = (char *) principal;
    reply.request_id = (char *) "";
    reply.model = (char *) "";
    ProtobufCMessage *request = protobuf_c_message_unpack (
        wp_topic_descriptor ((wp_topic_t) topic), NULL, zmq_msg_size (payload),
        (const uint8_t *) zmq_msg_data (payload));
    if (request && topic == WP_TOPIC_CONTROL) {
        Warmup__V1__ControlRequest *control = (Warmup__V1__ControlRequest *) request;
        reply.command = control->command;
        reply.request_id = control->request_id ? control->request_id : (char *) "";
        reply.model = control->model ? control->model : (char *) "";
        reply.cause = control->header;
    }
    else
    if (request) {
        Warmup__V1__WarmupRequested *warm = (Warmup__V1__WarmupRequested *) request;
        reply.command = warm->action == WARMUP__V1__ACTION__ACTION_COOL
                      ? WARMUP__V1__COMMAND__COMMAND_COOL : WARMUP__V1__COMMAND__COMMAND_WARM;
        reply.model = warm->model ? warm->model : (char *) "";
        reply.cause = warm->header;
    }
    //  The reply names the model, which came from outside: keep it short.
    if (strlen (reply.model) > 200)
        reply.model = (char *) "(name too long)";
    s_publish (self, WP_TOPIC_CONTROL_REPLY, &reply.base);
    if (request)
        protobuf_c_message_free_unpacked (request, NULL);
}

//  Room for a rewritten payload of size bytes.
static uint8_t *
s_room (proxy_t *self, size_t size)
{
    if (size > self->out_cap) {
        free (self->out);
        self->out_cap = size < 4096 ? 4096 : size;
        self->out = (uint8_t *) malloc (self->out_cap);
        assert (self->out);
    }
    return self->out;
}

//  Replace a frame's contents by bytes.
static void
s_replace (zmq_msg_t *frame, const uint8_t *bytes, size_t size)
{
    zmq_msg_close (frame);
    zmq_msg_init_size (frame, size);
    memcpy (zmq_msg_data (frame), bytes, size);
}

//  Hash the user of a usage event or an intent (user and session are
//  fields 3 and 4 of both) and apply the rate limit. Returns false
//  when the event goes no further (counted).
static bool
s_ingress_usage (proxy_t *self, zmq_msg_t *topic, zmq_msg_t *payload, role_t role)
{
    size_t size = zmq_msg_size (payload);
    uint8_t *out = s_room (self, size + WP_INGRESS_GROWTH);
    wp_ingress_info_t info;
    int rewritten = wp_ingress_usage ((const uint8_t *) zmq_msg_data (payload), size,
                                      self->user_key, out, &info);
    if (rewritten < 0) {
        s_drop (self, info.why);
        return false;
    }
    if (self->limiter && role == ROLE_CLIENT) {
        //  A keyed publisher: its key (Z85) is its ZAP User-Id.
        const char *user_id = zmq_msg_gets (topic, "User-Id");
        uint64_t key = wp_siphash (self->user_key, user_id, user_id ? strlen (user_id) : 0);
        if (!wp_ratelimit_take (self->limiter, key, (uint64_t) zclock_usecs () * 1000)) {
            self->rate_limited++;
            if (self->verbose || wp_log_should (self->rate_limited))
                zsys_warning ("bus: usage events over the rate limit dropped "
                              "(bus/max_events_per_s_per_source; %" PRIu64 " so far, "
                              "%" PRIu64 " publishers limited)", self->rate_limited,
                              wp_ratelimit_limited_sources (self->limiter));
            return false;
        }
    }
    if (info.user)
        self->hashed++;
    s_replace (payload, out, (size_t) rewritten);
    return true;
}

//  Stamp who sent a control event (its `principal` field).
static void
s_stamp (proxy_t *self, int topic, zmq_msg_t *payload, const char *principal)
{
    uint32_t field = topic == WP_TOPIC_CONTROL ? 6 : 12;
    size_t size = zmq_msg_size (payload), len = strlen (principal);
    uint8_t *out = s_room (self, size + len + 16);
    memcpy (out, zmq_msg_data (payload), size);
    int stamped = wp_ingress_append_string (out, size, size + len + 16, field, principal, len);
    assert (stamped > 0);
    s_replace (payload, out, (size_t) stamped);
}

//  Move published envelopes from XSUB to XPUB, validating each. Frames
//  move as zmq_msg_t (no copy, no allocation of message objects); only
//  usage and control events are rewritten.
static void
s_forward_events (proxy_t *self)
{
    void *xsub = zsock_resolve (self->xsub);
    void *xpub = zsock_resolve (self->xpub);
    for (int i = 0; i < BATCH; i++) {
        zmq_msg_t topic, payload;
        zmq_msg_init (&topic);
        if (zmq_msg_recv (&topic, xsub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&topic);
            break;
        }
        self->received++;
        zmq_msg_init (&payload);
        size_t frames = 1;
        bool more = zmq_msg_more (&topic);
        if (more) {
            //  The rest of a multipart message is already here.
            zmq_msg_recv (&payload, xsub, 0);
            frames++;
            more = zmq_msg_more (&payload);
            while (more) {
                zmq_msg_t extra;
                zmq_msg_init (&extra);
                zmq_msg_recv (&extra, xsub, 0);
                more = zmq_msg_more (&extra);
                zmq_msg_close (&extra);
                frames++;
            }
        }
        const char *why = NULL;
        if (frames != 2)
            why = "not two frames";
        else
            wp_bus_check_envelope (zmq_msg_data (&topic), zmq_msg_size (&topic),
                                   zmq_msg_size (&payload), self->max_frame, &why);
        bool pass = !why;
        if (why)
            s_drop (self, why);
        int index = pass ? wp_topic_lookup ((const char *) zmq_msg_data (&topic),
                                            zmq_msg_size (&topic)) : -1;
        if (index >= 0) {
            const char *name;
            role_t role = s_role (self, &topic, &name);
            const char *forbidden = s_forbidden (role, index, &payload);
            bool control = index == WP_TOPIC_CONTROL || index == WP_TOPIC_WARMUP_REQUEST;
            char principal [128] = "local";
            if ((forbidden || control) && role != ROLE_LOCAL)
                snprintf (principal, sizeof principal, "%s/%s", s_role_names [role], name);
            if (forbidden) {
                pass = false;
                self->refused++;
                if (self->verbose || wp_log_should (self->refused))
                    zsys_warning ("bus: refused %s from %s: %s (%" PRIu64 " refused so far)",
                                  wp_topic_name ((wp_topic_t) index), principal, forbidden,
                                  self->refused);
                if (control)
                    s_refuse_control (self, index, &payload, principal, forbidden);
            }
            else
            if (index == WP_TOPIC_USAGE || index == WP_TOPIC_INTENT)
                pass = s_ingress_usage (self, &topic, &payload, role);
            else
            if (control)
                s_stamp (self, index, &payload, principal);
        }
        if (pass) {
            //  XPUB never blocks: a slow subscriber loses at its HWM and
            //  sees the gap in sequence numbers.
            zmq_msg_send (&topic, xpub, ZMQ_SNDMORE);
            zmq_msg_send (&payload, xpub, 0);
            self->forwarded++;
        }
        zmq_msg_close (&topic);
        zmq_msg_close (&payload);
    }
}

//  Move subscriptions from XPUB to XSUB.
static void
s_forward_subscriptions (proxy_t *self)
{
    for (int i = 0; i < BATCH; i++) {
        if (!(zsock_events (self->xpub) & ZMQ_POLLIN))
            break;
        zmsg_t *msg = zmsg_recv (self->xpub);
        if (!msg)
            break;
        zmsg_send (&msg, self->xsub);
    }
}

//  The actor.
void
wp_proxy_actor (zsock_t *pipe, void *args)
{
    pthread_setname_np (pthread_self (), "proxy");
    wp_thread_slice (0, WP_PIPELINE_SLICE_US);
    proxy_t self = { 0 };
    self.pipe = pipe;
    self.max_frame = WP_BUS_MAX_FRAME_DEFAULT;
    self.hwm = 100000;
    //  Without USERKEY: a key of this run only.
    if (wp_keys_random (self.user_key, sizeof self.user_key))
        zsys_error ("proxy: no random bytes for the user-id key");
    self.poller = zpoller_new (pipe, NULL);
    assert (self.poller);
    //  Only $TERM ends the actor; the owner decides what a signal means.
    zpoller_set_nonstop (self.poller, true);
    zsock_signal (pipe, 0);

    while (!self.terminated) {
        int wait = -1;
        if (self.heartbeat_ms && self.xpub) {
            int64_t left = self.next_beat - zclock_mono ();
            wait = left > 0 ? (int) left : 0;
        }
        void *which = zpoller_wait (self.poller, wait);
        if (self.heartbeat_ms && self.xpub && zclock_mono () >= self.next_beat) {
            s_heartbeat (&self);
            self.next_beat = zclock_mono () + self.heartbeat_ms;
        }
        if (!which) {
            if (zpoller_terminated (self.poller))
                break;      //  the context is shutting down
            continue;
        }
        if (which == pipe)
            s_handle_pipe (&self);
        else
        if (which == self.xsub)
            s_forward_events (&self);
        else
        if (which == self.xpub)
            s_forward_subscriptions (&self);
        else
        if (which == self.monitors [0] || which == self.monitors [1])
            s_monitor_events (&self, which);
    }
    zpoller_destroy (&self.poller);
    zsock_destroy (&self.xsub);
    zsock_destroy (&self.xpub);
    for (int i = 0; i < 2; i++)
        if (self.monitors [i])
            zmq_close (self.monitors [i]);
    zactor_destroy (&self.auth);
    if (self.auth_owner)
        atomic_store (&s_auth_taken, false);
    zcertstore_destroy (&self.certs);
    wp_ratelimit_destroy (&self.limiter);
    free (self.out);
    zstr_free (&self.source);
}
