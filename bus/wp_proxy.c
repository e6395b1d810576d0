/*  =========================================================================
    wp_proxy - the XSUB/XPUB proxy actor of the warmup bus.
    =========================================================================
*/
#include <pthread.h>
#include "wp_proxy.h"
#include "wp_bus.h"
#include "wp_util.h"

#define BATCH 1000      //  messages moved per wake-up before looking around

typedef struct {
    zsock_t *pipe;          //  actor pipe
    zsock_t *xsub;          //  publishers connect here
    zsock_t *xpub;          //  subscribers connect here
    zpoller_t *poller;      //  pipe, and both sides once bound
    size_t max_frame;       //  largest payload forwarded
    uint64_t forwarded;     //  envelopes forwarded
    uint64_t dropped;       //  envelopes dropped as invalid
    bool verbose;           //  log every drop
    bool terminated;        //  $TERM received
} proxy_t;

//  Reply an error on the pipe.
static void
s_reply_error (proxy_t *self, const char *reason)
{
    zstr_sendx (self->pipe, "ERROR", reason, NULL);
}

//  Handle BIND: bind both sides and report their real endpoints.
static void
s_bind (proxy_t *self, const char *pub, const char *sub)
{
    if (self->xsub || !pub || !sub) {
        s_reply_error (self, self->xsub ? "already bound" : "BIND needs two endpoints");
        return;
    }
    zsock_t *xsub = zsock_new (ZMQ_XSUB);
    zsock_t *xpub = zsock_new (ZMQ_XPUB);
    assert (xsub && xpub);
    zsock_set_rcvhwm (xsub, 100000);
    zsock_set_sndhwm (xpub, 100000);
    //  A peer sending a frame far beyond any valid event is disconnected.
    zsock_set_maxmsgsize (xsub, (int64_t) self->max_frame * 16);
    char reason [512];
    if (zsock_bind (xsub, "%s", pub) < 0) {
        snprintf (reason, sizeof reason, "cannot bind '%s': %s", pub,
                  zmq_strerror (zmq_errno ()));
        zsock_destroy (&xsub);
        zsock_destroy (&xpub);
        s_reply_error (self, reason);
        return;
    }
    if (zsock_bind (xpub, "%s", sub) < 0) {
        snprintf (reason, sizeof reason, "cannot bind '%s': %s", sub,
                  zmq_strerror (zmq_errno ()));
        zsock_destroy (&xsub);
        zsock_destroy (&xpub);
        s_reply_error (self, reason);
        return;
    }
    self->xsub = xsub;
    self->xpub = xpub;
    zpoller_add (self->poller, xsub);
    zpoller_add (self->poller, xpub);
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
    if (zsock_bind (self->xsub, "%s", pub) < 0 || zsock_bind (self->xpub, "%s", sub) < 0) {
        snprintf (reason, sizeof reason, "cannot bind '%s' / '%s': %s", pub, sub,
                  zmq_strerror (zmq_errno ()));
        s_reply_error (self, reason);
        return;
    }
    zstr_send (self->pipe, "OK");
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
    if (!command)
        s_reply_error (self, "empty command");
    else
    if (streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "BIND")) {
        char *pub = zmsg_popstr (request);
        char *sub = zmsg_popstr (request);
        s_bind (self, pub, sub);
        zstr_free (&pub);
        zstr_free (&sub);
    }
    else
    if (streq (command, "ALSO")) {
        char *pub = zmsg_popstr (request);
        char *sub = zmsg_popstr (request);
        s_also (self, pub, sub);
        zstr_free (&pub);
        zstr_free (&sub);
    }
    else
    if (streq (command, "MAXFRAME")) {
        char *value = zmsg_popstr (request);
        long bytes = value ? atol (value) : 0;
        if (bytes > 0) {
            self->max_frame = (size_t) bytes;
            zstr_send (self->pipe, "OK");
        }
        else
            s_reply_error (self, "MAXFRAME needs a positive byte count");
        zstr_free (&value);
    }
    else
    if (streq (command, "STATS")) {
        char forwarded [32], dropped [32];
        snprintf (forwarded, sizeof forwarded, "%" PRIu64, self->forwarded);
        snprintf (dropped, sizeof dropped, "%" PRIu64, self->dropped);
        zstr_sendx (self->pipe, "OK", forwarded, dropped, NULL);
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

//  Move published envelopes from XSUB to XPUB, validating each. Frames
//  move as zmq_msg_t (no copy, no allocation of message objects).
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
        if (why)
            s_drop (self, why);
        else {
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
    proxy_t self = { 0 };
    self.pipe = pipe;
    self.max_frame = WP_BUS_MAX_FRAME_DEFAULT;
    self.poller = zpoller_new (pipe, NULL);
    assert (self.poller);
    //  Only $TERM ends the actor; the owner decides what a signal means.
    zpoller_set_nonstop (self.poller, true);
    zsock_signal (pipe, 0);

    while (!self.terminated) {
        void *which = zpoller_wait (self.poller, -1);
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
    }
    zpoller_destroy (&self.poller);
    zsock_destroy (&self.xsub);
    zsock_destroy (&self.xpub);
}
