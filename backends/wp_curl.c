/*  =========================================================================
    wp_curl - libcurl multi on a zloop.

    zloop calls a poller's handler with a copy of the poll item taken when
    the poll set was built, and runs every due timer before the pollers;
    a handler that removes pollers makes it stop the pass. So every
    handler here takes the client (which lives as long as the loop uses
    it) as argument, never a socket or call record, and hands the fd to
    curl, which ignores sockets it no longer knows.
    =========================================================================
*/
#include "wp_curl.h"
#include "wp_jval.h"
#include <curl/curl.h>

//  Structure of our class
struct _wp_curl_t {
    zloop_t *loop;              //  the caller's loop
    CURLM *multi;               //  the multi handle
    int timer_id;               //  curl's timeout timer, -1 = none
    zlistx_t *calls;            //  calls in flight (wp_curl_call_t *)
    zhashx_t *sockets;          //  fd (as text) -> events watched (int)
};

//  One request
struct _wp_curl_call_t {
    wp_curl_t *owner;           //  the client
    CURL *easy;                 //  the transfer
    struct curl_slist *headers; //  request headers
    char *request_body;         //  what we send, owned
    char *body;                 //  reply bytes so far, NUL-terminated
    size_t body_len;            //  bytes in body
    bool body_cut;              //  reply longer than WP_CURL_BODY_MAX
    uint32_t timeout_ms;        //  the request's timeout
    uint64_t started_ms;        //  monotonic start
    wp_curl_fn *fn;             //  callback
    void *arg;                  //  its argument
    void *handle;               //  position in owner->calls
    char error_buffer [CURL_ERROR_SIZE]; // curl's detailed message
};

static int s_socket_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg);

//  curl_global_init, once per process, on the main thread before main()
//  runs: it is not thread-safe, and the TLS library it initialises keeps
//  per-thread state. Done on an actor's thread, that state belongs to a
//  detached thread that may still be ending while exit() cleans the TLS
//  library up (a double free under AddressSanitizer, a leak otherwise).
__attribute__ ((constructor)) static void
s_curl_init (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
}

//  ---------------------------------------------------------------------------
//  Socket and timer callbacks: curl tells, the loop watches.

//  Stop watching fd.
static void
s_unwatch (wp_curl_t *self, curl_socket_t fd)
{
    char key [16];
    snprintf (key, sizeof key, "%d", (int) fd);
    if (zhashx_lookup (self->sockets, key)) {
        zmq_pollitem_t item = { NULL, fd, 0, 0 };
        zloop_poller_end (self->loop, &item);
        zhashx_delete (self->sockets, key);
    }
}

//  CURLMOPT_SOCKETFUNCTION: watch fd for what curl wants.
static int
s_socket_fn (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    wp_curl_t *self = (wp_curl_t *) userp;
    s_unwatch (self, fd);
    if (what == CURL_POLL_REMOVE)
        return 0;
    short events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= ZMQ_POLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= ZMQ_POLLOUT;
    zmq_pollitem_t item = { NULL, fd, events, 0 };
    if (zloop_poller (self->loop, &item, s_socket_ready, self) == 0) {
        zloop_poller_set_tolerant (self->loop, &item);
        char key [16];
        snprintf (key, sizeof key, "%d", (int) fd);
        zhashx_insert (self->sockets, key, (void *) (intptr_t) 1);
    }
    return 0;
}

static void s_check_done (wp_curl_t *self);

//  curl's timer fired.
static int
s_timer_ready (zloop_t *loop, int timer_id, void *arg)
{
    wp_curl_t *self = (wp_curl_t *) arg;
    if (timer_id != self->timer_id)
        return 0;           //  a timer ended in this same pass
    self->timer_id = -1;
    int running;
    curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_check_done (self);
    return 0;
}

//  CURLMOPT_TIMERFUNCTION: call curl back in timeout_ms (-1: never).
static int
s_timer_fn (CURLM *multi, long timeout_ms, void *userp)
{
    wp_curl_t *self = (wp_curl_t *) userp;
    if (self->timer_id >= 0) {
        zloop_timer_end (self->loop, self->timer_id);
        self->timer_id = -1;
    }
    if (timeout_ms >= 0)
        self->timer_id = zloop_timer (self->loop, timeout_ms > 0 ? (size_t) timeout_ms : 0,
                                      1, s_timer_ready, self);
    return 0;
}

//  A watched socket is ready.
static int
s_socket_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    wp_curl_t *self = (wp_curl_t *) arg;
    int mask = 0;
    if (item->revents & ZMQ_POLLIN)
        mask |= CURL_CSELECT_IN;
    if (item->revents & ZMQ_POLLOUT)
        mask |= CURL_CSELECT_OUT;
    if (item->revents & ZMQ_POLLERR)
        mask |= CURL_CSELECT_ERR;
    int running;
    curl_multi_socket_action (self->multi, item->fd, mask, &running);
    s_check_done (self);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Calls

//  Monotonic ms.
static uint64_t
s_mono_ms (void)
{
    return (uint64_t) zclock_mono ();
}

//  CURLOPT_WRITEFUNCTION: keep the reply, up to the cap.
static size_t
s_write_fn (char *data, size_t size, size_t count, void *userp)
{
    wp_curl_call_t *call = (wp_curl_call_t *) userp;
    size_t bytes = size * count;
    size_t room = WP_CURL_BODY_MAX - call->body_len;
    size_t keep = bytes < room ? bytes : room;
    if (keep < bytes)
        call->body_cut = true;
    if (keep) {
        char *grown = (char *) realloc (call->body, call->body_len + keep + 1);
        if (!grown)
            return 0;       //  makes curl fail the transfer
        call->body = grown;
        memcpy (call->body + call->body_len, data, keep);
        call->body_len += keep;
        call->body [call->body_len] = 0;
    }
    return bytes;
}

//  Free a call (already out of the multi handle and the list).
static void
s_call_free (wp_curl_call_t *call)
{
    curl_easy_cleanup (call->easy);
    curl_slist_free_all (call->headers);
    free (call->request_body);
    free (call->body);
    free (call);
}

//  Take a call out of curl and the list.
static void
s_call_detach (wp_curl_t *self, wp_curl_call_t *call)
{
    curl_multi_remove_handle (self->multi, call->easy);
    zlistx_delete (self->calls, call->handle);
}

//  Cut text into out at a UTF-8 boundary, control characters as spaces.
static void
s_clean_copy (const char *text, size_t length, char *out, size_t capacity)
{
    size_t n = 0;
    while (length && (*text == ' ' || *text == '\n' || *text == '\r' || *text == '\t')) {
        text++;
        length--;
    }
    for (size_t i = 0; i < length && n + 1 < capacity; i++) {
        unsigned char c = (unsigned char) text [i];
        out [n++] = c < 0x20 || c == 0x7F ? ' ' : (char) c;
    }
    //  Do not end inside a UTF-8 sequence
    if (n && n + 1 >= capacity) {
        size_t back = n;
        while (back > 0 && ((unsigned char) out [back - 1] & 0xC0) == 0x80)
            back--;
        if (back > 0 && ((unsigned char) out [back - 1] & 0x80))
            n = back - 1;
    }
    while (n && out [n - 1] == ' ')
        n--;
    out [n] = 0;
}

//  The server's message in an error body.
void
wp_curl_server_message (const char *body, size_t body_len, char *out, size_t capacity)
{
    assert (out && capacity);
    out [0] = 0;
    if (!body || !body_len)
        return;
    wp_jval_t *json = wp_jval_parse (body, body_len);
    const char *message = NULL;
    if (json) {
        const wp_jval_t *error = wp_jval_get (json, "error");
        message = wp_jval_str (error);
        if (!message)
            message = wp_jval_str (wp_jval_get (error, "message"));
        if (!message)
            message = wp_jval_str (wp_jval_get (json, "message"));
        if (!message)
            message = wp_jval_str (wp_jval_get (json, "detail"));
    }
    if (message)
        s_clean_copy (message, strlen (message), out, capacity);
    else
        s_clean_copy (body, body_len, out, capacity);
    wp_jval_destroy (&json);
}

//  Collect finished transfers and call their callbacks.
static void
s_check_done (wp_curl_t *self)
{
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read (self->multi, &left))) {
        if (message->msg != CURLMSG_DONE)
            continue;
        wp_curl_call_t *call = NULL;
        curl_easy_getinfo (message->easy_handle, CURLINFO_PRIVATE, (char **) &call);
        CURLcode code = message->data.result;
        s_call_detach (self, call);

        wp_curl_reply_t reply = { 0 };
        char error [700] = "";
        reply.elapsed_ms = (uint32_t) (s_mono_ms () - call->started_ms);
        reply.body = call->body ? call->body : "";
        reply.body_len = call->body_len;
        if (code != CURLE_OK) {
            reply.transport_error = true;
            reply.timed_out = code == CURLE_OPERATION_TIMEDOUT;
            if (reply.timed_out)
                snprintf (error, sizeof error, "no reply within %u ms (%s)",
                          call->timeout_ms, call->error_buffer);
            else
                snprintf (error, sizeof error, "%s",
                          *call->error_buffer ? call->error_buffer
                                              : curl_easy_strerror (code));
        }
        else {
            curl_easy_getinfo (call->easy, CURLINFO_RESPONSE_CODE, &reply.status);
            if (reply.status < 200 || reply.status > 299) {
                char server [400];
                wp_curl_server_message (reply.body, reply.body_len, server, sizeof server);
                snprintf (error, sizeof error, "HTTP %ld%s%s", reply.status,
                          *server ? ": " : "", server);
            }
        }
        reply.error = error;
        call->fn (&reply, call->arg);
        s_call_free (call);
    }
}

//  Create a client.
wp_curl_t *
wp_curl_new (zloop_t *loop)
{
    assert (loop);
    wp_curl_t *self = (wp_curl_t *) zmalloc (sizeof (wp_curl_t));
    assert (self);
    self->loop = loop;
    self->timer_id = -1;
    self->multi = curl_multi_init ();
    self->calls = zlistx_new ();
    self->sockets = zhashx_new ();
    if (!self->multi || !self->calls || !self->sockets) {
        zsys_error ("http: cannot initialise libcurl");
        wp_curl_destroy (&self);
        return NULL;
    }
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, s_socket_fn);
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, s_timer_fn);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERDATA, self);
    return self;
}

//  Destroy the client.
void
wp_curl_destroy (wp_curl_t **self_p)
{
    assert (self_p);
    wp_curl_t *self = *self_p;
    if (!self)
        return;
    if (self->calls) {
        wp_curl_call_t *call;
        while ((call = (wp_curl_call_t *) zlistx_first (self->calls))) {
            s_call_detach (self, call);
            s_call_free (call);
        }
        zlistx_destroy (&self->calls);
    }
    if (self->sockets) {
        //  curl has removed its sockets with the transfers; end the rest
        zlistx_t *keys = zhashx_keys (self->sockets);
        for (char *key = (char *) zlistx_first (keys); key;
             key = (char *) zlistx_next (keys)) {
            zmq_pollitem_t item = { NULL, atoi (key), 0, 0 };
            zloop_poller_end (self->loop, &item);
        }
        zlistx_destroy (&keys);
        zhashx_destroy (&self->sockets);
    }
    if (self->timer_id >= 0)
        zloop_timer_end (self->loop, self->timer_id);
    if (self->multi)
        curl_multi_cleanup (self->multi);
    free (self);
    *self_p = NULL;
}

//  Start a request.
wp_curl_call_t *
wp_curl_request (wp_curl_t *self, const char *method, const char *url,
                 const char *body, const char *bearer, uint32_t timeout_ms,
                 wp_curl_fn *fn, void *arg)
{
    assert (self && method && url && fn);
    wp_curl_call_t *call = (wp_curl_call_t *) zmalloc (sizeof (wp_curl_call_t));
    assert (call);
    call->owner = self;
    call->fn = fn;
    call->arg = arg;
    call->timeout_ms = timeout_ms ? timeout_ms : 1;
    call->started_ms = s_mono_ms ();
    call->easy = curl_easy_init ();
    if (!call->easy) {
        zsys_error ("http: curl_easy_init failed");
        free (call);
        return NULL;
    }
    CURL *easy = call->easy;
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, call);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, call->error_buffer);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_write_fn);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, call);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, (long) call->timeout_ms);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (easy, CURLOPT_USERAGENT, "warmup-queue/1");
    //  A model server answers on the address it is given: no proxy
    curl_easy_setopt (easy, CURLOPT_NOPROXY, "*");
    if (streq (method, "GET"))
        curl_easy_setopt (easy, CURLOPT_HTTPGET, 1L);
    else
        curl_easy_setopt (easy, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        call->request_body = strdup (body);
        assert (call->request_body);
        curl_easy_setopt (easy, CURLOPT_POSTFIELDS, call->request_body);
        curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE, (long) strlen (body));
        call->headers = curl_slist_append (call->headers, "Content-Type: application/json");
    }
    else
    if (!streq (method, "GET")) {
        curl_easy_setopt (easy, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE, 0L);
    }
    if (bearer) {
        char header [600];
        snprintf (header, sizeof header, "Authorization: Bearer %s", bearer);
        call->headers = curl_slist_append (call->headers, header);
    }
    //  No "Expect: 100-continue" round trip
    call->headers = curl_slist_append (call->headers, "Expect:");
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, call->headers);
    call->handle = zlistx_add_end (self->calls, call);
    CURLMcode code = curl_multi_add_handle (self->multi, easy);
    if (code != CURLM_OK) {
        zsys_error ("http: cannot start %s %s: %s", method, url, curl_multi_strerror (code));
        zlistx_delete (self->calls, call->handle);
        s_call_free (call);
        return NULL;
    }
    return call;
}

//  Cancel a call.
void
wp_curl_cancel (wp_curl_t *self, wp_curl_call_t **call_p)
{
    assert (self && call_p);
    if (*call_p) {
        s_call_detach (self, *call_p);
        s_call_free (*call_p);
        *call_p = NULL;
    }
}

//  Requests in flight.
size_t
wp_curl_active (wp_curl_t *self)
{
    assert (self);
    return zlistx_size (self->calls);
}

//  Expand %m and %% into out.
int
wp_curl_expand (const char *pattern, const char *model, bool url_encode,
                char *out, size_t capacity)
{
    assert (pattern && model && out && capacity);
    size_t n = 0;
    #define PUT(c) do { if (n + 1 >= capacity) return -1; out [n++] = (c); } while (0)
    for (const char *c = pattern; *c; c++) {
        if (*c != '%') {
            PUT (*c);
            continue;
        }
        if (c [1] == '%') {
            PUT ('%');
            c++;
            continue;
        }
        if (c [1] != 'm')
            return -1;
        c++;
        for (const unsigned char *m = (const unsigned char *) model; *m; m++) {
            if (url_encode) {
                if (isalnum (*m) || strchr ("-._~", *m))
                    PUT ((char) *m);
                else {
                    char hex [4];
                    snprintf (hex, sizeof hex, "%%%02X", *m);
                    PUT (hex [0]);
                    PUT (hex [1]);
                    PUT (hex [2]);
                }
            }
            else
            if (*m == '"' || *m == '\\') {
                PUT ('\\');
                PUT ((char) *m);
            }
            else
            if (*m < 0x20) {
                char hex [8];
                snprintf (hex, sizeof hex, "\\u%04x", *m);
                for (int i = 0; hex [i]; i++)
                    PUT (hex [i]);
            }
            else
                PUT ((char) *m);
        }
    }
    #undef PUT
    out [n] = 0;
    return 0;
}
