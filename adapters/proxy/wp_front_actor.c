/*  =========================================================================
    wp_front_actor - the proxy and the HTTP API on the actor's zloop.

    Three descriptors on the loop, fixed for the actor's life: libmicrohttpd's
    epoll descriptor (clients), our epoll descriptor of curl's sockets
    (model servers), and our epoll descriptor of the client sockets whose
    connection is suspended (to see a client that leaves while it waits).
    Callbacks of one library never call into the other: they set flags,
    and s_settle runs curl, resumes and runs MHD, then publishes, until
    nothing is left to do.
    =========================================================================
*/
#include <curl/curl.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include "wp_front_actor.h"
#include "wp_security.h"
#include "wp_front.h"
#include "wp_front_api.h"
#include "wp_front_view.h"
#include "wp_feed.h"
#include "wp_http.h"
#include "wp_json.h"
#include "wp_util.h"

//  Bytes of a response kept per request before the upstream is paused.
#define BUFFER_MAX (256 * 1024)

//  Largest body of a request to the HTTP API, bytes.
#define API_BODY_MAX (1024 * 1024)

//  How long GET /warmup/v1/models waits for the scheduler, ms.
#define MODELS_WAIT_MS 5000

//  Connect timeout to a model server, ms.
#define CONNECT_MS 10000

//  Users whose prediction the view keeps.
#define VIEW_USERS 10000

//  Idle keep-alive connections are closed after this, s.
#define IDLE_S 60

//  libmicrohttpd's memory per connection (request headers, the write
//  buffer of the answer), bytes: allocated per connection, touched as used.
#define CONNECTION_MEMORY (32 * 1024)

//  Users of warm requests from one predict call at most.
#define PREDICT_WARM_MAX 8

//  Kinds of request.
typedef enum { K_PASS = 0, K_API } kind_t;

typedef struct _front_t front_t;

//  One request (libmicrohttpd's per-request pointer).
typedef struct _req_t {
    front_t *front;             //  the proxy
    struct _req_t *prev, *next; //  in front->requests
    struct MHD_Connection *connection;
    char *uri;                  //  request target as received, owned
    char method [16];
    kind_t kind;
    int task;                   //  observed as (0: not observed)
    bool observed;              //  model found: publish a usage.observed
    char model [WP_FRONT_MODEL_MAX + 1];
    char user [WP_FRONT_USER_MAX + 1];
    bool user_given;            //  user is the X-Warmup-User header's
    char session [WP_FRONT_USER_MAX + 1];
    char client [64];           //  the client's address
    int fd;                     //  the client's socket
    int outcome;                //  warmup.v1.Outcome at arrival
    uint64_t arrival_ms;        //  wall clock at arrival
    uint64_t arrival_ns;        //  monotonic at arrival
    //  Request body
    char *body;
    size_t body_len, body_cap;
    size_t body_max;            //  accepted at most
    bool started;               //  the first call of the handler was made
    bool dispatched;            //  the whole request was read and acted on
    bool responded;             //  a response is queued
    bool suspended;             //  the connection is suspended
    bool watched;               //  fd is in front->watch_ep
    bool gone;                  //  the client left
    //  Upstream
    CURL *easy;                 //  the transfer, NULL when none or ended
    struct curl_slist *headers; //  request headers sent
    char error [CURL_ERROR_SIZE];
    long status;                //  its status (0: none yet)
    bool head_done;             //  status and headers complete
    int64_t length;             //  its Content-Length, -1 = none
    char *head;                 //  headers to pass: "Name\0Value\0" ...
    size_t head_len, head_cap;
    char *buf;                  //  body bytes not yet handed to MHD
    size_t buf_len, buf_off, buf_cap;
    bool paused;                //  the transfer is paused (buffer full)
    bool want_unpause;          //  the buffer drained: unpause
    bool upstream_done;         //  the transfer ended
    CURLcode result;            //  how
    uint64_t first_byte_ns;     //  monotonic, first body byte (0: none)
    bool publish_due;           //  publish the usage.observed
    bool published;
    //  A local answer (API, errors)
    int local_status;
    char *local_body;           //  owned, NULL = none
    size_t local_len;
    const char *allow;          //  Allow header of a 405, static
    char request_id [64];       //  GET /warmup/v1/models: the control.request
    uint64_t deadline_ms;       //  monotonic: its answer by then
} req_t;

//  The proxy's counters (GET /warmup/v1/stats).
typedef struct {
    uint64_t requests;          //  requests received
    uint64_t passed;            //  passed through on a route not observed
    uint64_t observed;          //  usage.observed published
    uint64_t not_observed [5];  //  on an observed route, by wp_front_scan_t
    uint64_t too_large;         //  413
    uint64_t bad_target;        //  400: not an origin-form target
    uint64_t no_upstream;       //  502: nowhere to send it
    uint64_t upstream_errors;   //  502: the upstream failed
    uint64_t upstream_timeouts; //  504: no first byte in time
    uint64_t client_gone;       //  the client left before the end
    uint64_t api;               //  HTTP API requests
    uint64_t api_errors;        //  ... refused
    uint64_t warms;             //  warmup.requested from predict calls
    uint64_t intents;           //  usage.intent published (POST /warmup/v1/intent)
    uint64_t continue_events;   //  usage.observed from Continue's destination
    uint64_t continue_ignored;  //  ... of its events that are no request
} stats_t;

struct _front_t {
    wp_ctx_t *ctx;              //  the component context
    zloop_t *loop;              //  its loop
    struct MHD_Daemon *daemon;  //  clients
    zmq_pollitem_t mhd_item;    //  its epoll descriptor
    int mhd_timer;              //  zloop timer for work left over, -1 = none
    CURLM *multi;               //  model servers
    int curl_ep;                //  epoll of curl's sockets
    zmq_pollitem_t curl_item;
    int curl_timer;             //  zloop timer for curl, -1 = none
    int64_t curl_due;           //  monotonic ms curl wants a call (0 = none)
    int64_t curl_timer_due;     //  when curl_timer fires
    bool curl_kick;             //  curl wants a call now
    int watch_ep;               //  epoll of suspended clients' sockets
    zmq_pollitem_t watch_item;
    bool run_mhd;               //  a connection was resumed
    size_t unpause;             //  requests with want_unpause
    size_t publish;             //  requests with publish_due
    uint64_t sent;              //  bytes handed to libmicrohttpd
    size_t waiting;             //  bytes of answers waiting for it
    req_t *requests;            //  every live request
    size_t n_requests;
    wp_front_view_t *view;      //  the service as we see it
    char endpoint [320];        //  where we listen
    uint64_t models_seq;        //  control requests sent
    uint8_t user_key [16];      //  the bus's key of user ids (to find a user's
                                //  predictions, held under the bus's hash)
    uint8_t token_key [16];     //  the key bearer tokens are hashed under
    stats_t stats;
};

//  curl_global_init once per process, on the main thread before main()
//  (not thread-safe; see wp_curl.c, whose own may not be linked in).
__attribute__ ((constructor)) static void
s_curl_init (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
}

//  ---------------------------------------------------------------------------
//  Requests

//  Monotonic ms.
static int64_t
s_mono_ms (void)
{
    return (int64_t) (wp_mono_ns () / 1000000);
}

//  Stop watching a client's socket.
static void
s_unwatch (req_t *req)
{
    if (req->watched) {
        epoll_ctl (req->front->watch_ep, EPOLL_CTL_DEL, req->fd, NULL);
        req->watched = false;
    }
}

//  Suspend the connection until there is something to send; watch the
//  client's socket meanwhile (libmicrohttpd does not).
static void
s_suspend (req_t *req)
{
    assert (!req->suspended);
    MHD_suspend_connection (req->connection);
    req->suspended = true;
    if (req->fd >= 0 && !req->watched) {
        struct epoll_event event = { .events = EPOLLRDHUP, .data.ptr = req };
        if (epoll_ctl (req->front->watch_ep, EPOLL_CTL_ADD, req->fd, &event) == 0)
            req->watched = true;
    }
}

//  Something to do for the connection: resume it, and have libmicrohttpd
//  run (a connection that was not suspended may be waiting for bytes on a
//  socket that stays writable: no event would wake it).
static void
s_wake (req_t *req)
{
    if (req->suspended) {
        s_unwatch (req);
        MHD_resume_connection (req->connection);
        req->suspended = false;
    }
    req->front->run_mhd = true;
}

//  End the upstream transfer, if any.
static void
s_cancel (req_t *req)
{
    if (req->easy) {
        curl_multi_remove_handle (req->front->multi, req->easy);
        curl_easy_cleanup (req->easy);
        req->easy = NULL;
    }
    curl_slist_free_all (req->headers);
    req->headers = NULL;
    if (req->want_unpause) {
        req->want_unpause = false;
        req->front->unpause--;
    }
}

//  A local answer: status and a JSON body (taken).
static void
s_answer (req_t *req, int status, char *body, size_t size)
{
    free (req->local_body);
    req->local_status = status;
    req->local_body = body;
    req->local_len = size;
}

//  A local error answer.
static void
s_answer_error (req_t *req, const wp_front_error_t *error)
{
    size_t size;
    char *body = wp_front_error_json (error, &size);
    s_answer (req, error->status, body, size);
}

//  Free a request.
static void
s_req_destroy (req_t **req_p)
{
    req_t *req = *req_p;
    if (!req)
        return;
    front_t *front = req->front;
    s_cancel (req);
    s_unwatch (req);
    if (req->publish_due) {
        req->publish_due = false;
        front->publish--;
    }
    if (req->prev)
        req->prev->next = req->next;
    else
        front->requests = req->next;
    if (req->next)
        req->next->prev = req->prev;
    front->n_requests--;
    front->waiting -= req->buf_len - req->buf_off;
    free (req->uri);
    free (req->body);
    free (req->head);
    free (req->buf);
    free (req->local_body);
    free (req);
    *req_p = NULL;
}

//  ---------------------------------------------------------------------------
//  Publishing

//  Publish the request's usage.observed.
static void
s_publish (front_t *front, req_t *req)
{
    if (req->published || !req->observed)
        return;
    req->published = true;
    uint64_t end_ns = req->first_byte_ns ? req->first_byte_ns : wp_mono_ns ();
    uint64_t wait = (end_ns - req->arrival_ns) / 1000000;
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    usage.event_ms = req->arrival_ms;
    usage.user = req->user;
    usage.session = req->session;
    usage.model = req->model;
    usage.task = (Warmup__V1__Task) req->task;
    usage.outcome = (Warmup__V1__Outcome) req->outcome;
    usage.wait_ms = wait > UINT32_MAX ? UINT32_MAX : (uint32_t) wait;
    if (wp_ctx_publish (front->ctx, WP_TOPIC_USAGE, &usage.base) == 0)
        front->stats.observed++;
    if (req->status >= 200 && req->status < 300)
        wp_front_view_served (front->view, req->model);
}

//  Mark the usage.observed due: 2xx at the first body byte (or the end),
//  other answers of the server at the end but 4xx (the server refused the
//  request: no use of the model); none when the server never answered.
static void
s_due (req_t *req, bool end)
{
    if (!req->observed || req->published || req->publish_due || req->status == 0)
        return;
    bool ok = req->status >= 200 && req->status < 300;
    bool refused = req->status >= 400 && req->status < 500;
    if (refused || (!ok && !end))
        return;
    req->publish_due = true;
    req->front->publish++;
}

//  ---------------------------------------------------------------------------
//  The upstream side (curl)

//  A header line of the upstream's answer.
static size_t
s_upstream_header (char *line, size_t size, size_t count, void *arg)
{
    req_t *req = (req_t *) arg;
    size_t length = size * count;
    if (req->head_done)
        return length;              //  trailers: dropped
    if (length >= 5 && memcmp (line, "HTTP/", 5) == 0) {
        //  A status line; an interim 1xx answer is followed by another
        const char *space = memchr (line, ' ', length);
        req->status = space ? strtol (space + 1, NULL, 10) : 0;
        req->head_len = 0;
        req->length = -1;
        return length;
    }
    size_t end = length;
    while (end && (line [end - 1] == '\r' || line [end - 1] == '\n'))
        end--;
    if (end == 0) {
        if (req->status >= 200) {
            req->head_done = true;
            s_due (req, false);
            s_wake (req);
        }
        return length;
    }
    const char *colon = memchr (line, ':', end);
    if (!colon || colon == line)
        return length;
    char name [128];
    size_t name_len = (size_t) (colon - line);
    if (name_len >= sizeof name)
        return length;
    memcpy (name, line, name_len);
    name [name_len] = 0;
    const char *value = colon + 1;
    while (value < line + end && (*value == ' ' || *value == '\t'))
        value++;
    size_t value_len = (size_t) (line + end - value);
    if (strcasecmp (name, "Content-Length") == 0) {
        char number [32];
        snprintf (number, sizeof number, "%.*s", (int) (value_len < 31 ? value_len : 31), value);
        char *stop = NULL;
        long long parsed = strtoll (number, &stop, 10);
        req->length = stop && *stop == 0 && parsed >= 0 ? parsed : -1;
        return length;
    }
    if (wp_front_hop_by_hop (name))
        return length;
    size_t need = name_len + value_len + 2;
    if (req->head_len + need > req->head_cap) {
        size_t cap = req->head_cap ? req->head_cap * 2 : 1024;
        while (cap < req->head_len + need)
            cap *= 2;
        if (cap > 256 * 1024)
            return 0;               //  absurd headers: fail the transfer
        req->head = (char *) realloc (req->head, cap);
        assert (req->head);
        req->head_cap = cap;
    }
    memcpy (req->head + req->head_len, name, name_len + 1);
    req->head_len += name_len + 1;
    memcpy (req->head + req->head_len, value, value_len);
    req->head_len += value_len;
    req->head [req->head_len++] = 0;
    return length;
}

//  Body bytes of the upstream's answer: kept for MHD, or the transfer
//  paused while BUFFER_MAX bytes wait.
static size_t
s_upstream_body (char *data, size_t size, size_t count, void *arg)
{
    req_t *req = (req_t *) arg;
    size_t length = size * count;
    if (req->gone)
        return 0;
    if (!req->first_byte_ns && length) {
        req->first_byte_ns = wp_mono_ns ();
        s_due (req, false);
    }
    size_t waiting = req->buf_len - req->buf_off;
    if (waiting && waiting + length > BUFFER_MAX) {
        req->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    //  Room at the end: move the waiting bytes to the front only when no
    //  more of them than were consumed (each byte is moved at most once on
    //  average), else grow
    if (req->buf_off && req->buf_len + length > req->buf_cap && req->buf_off >= waiting) {
        memmove (req->buf, req->buf + req->buf_off, waiting);
        req->buf_len = waiting;
        req->buf_off = 0;
    }
    if (req->buf_len + length > req->buf_cap) {
        size_t cap = req->buf_cap ? req->buf_cap : 4096;
        while (cap < req->buf_len + length)
            cap *= 2;
        req->buf = (char *) realloc (req->buf, cap);
        assert (req->buf);
        req->buf_cap = cap;
    }
    memcpy (req->buf + req->buf_len, data, length);
    req->buf_len += length;
    req->front->waiting += length;
    s_wake (req);
    return length;
}

//  A transfer ended.
static void
s_upstream_done (front_t *front, req_t *req, CURLcode result)
{
    curl_multi_remove_handle (front->multi, req->easy);
    curl_easy_cleanup (req->easy);
    req->easy = NULL;
    req->upstream_done = true;
    req->result = result;
    if (!req->head_done) {
        wp_front_error_t error;
        bool timeout = result == CURLE_OPERATION_TIMEDOUT;
        if (timeout)
            front->stats.upstream_timeouts++;
        else
            front->stats.upstream_errors++;
        wp_front_error (&error, timeout ? 504 : 502, "", "model server: %s",
                        req->error [0] ? req->error : curl_easy_strerror (result));
        if (wp_log_should (front->stats.upstream_errors + front->stats.upstream_timeouts))
            zsys_warning ("proxy: %s %s: %s", req->method, req->uri, error.message);
        s_answer_error (req, &error);
    }
    else
    if (result != CURLE_OK) {
        front->stats.upstream_errors++;
        if (wp_log_should (front->stats.upstream_errors))
            zsys_warning ("proxy: %s %s: the model server's answer broke off: %s",
                          req->method, req->uri,
                          req->error [0] ? req->error : curl_easy_strerror (result));
    }
    s_due (req, true);
    s_wake (req);
}

//  Collect ended transfers.
static void
s_collect (front_t *front)
{
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read (front->multi, &left)))
        if (message->msg == CURLMSG_DONE) {
            req_t *req = NULL;
            curl_easy_getinfo (message->easy_handle, CURLINFO_PRIVATE, (char **) &req);
            CURLcode result = message->data.result;
            if (req)
                s_upstream_done (front, req, result);
        }
}

//  CURLMOPT_SOCKETFUNCTION: watch what curl wants.
static int
s_curl_socket (CURL *easy, curl_socket_t fd, int what, void *arg, void *socketp)
{
    front_t *front = (front_t *) arg;
    if (what == CURL_POLL_REMOVE) {
        if (socketp) {
            epoll_ctl (front->curl_ep, EPOLL_CTL_DEL, fd, NULL);
            curl_multi_assign (front->multi, fd, NULL);
        }
        return 0;
    }
    struct epoll_event event = { 0 };
    event.data.fd = fd;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        event.events |= EPOLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        event.events |= EPOLLOUT;
    if (socketp)
        epoll_ctl (front->curl_ep, EPOLL_CTL_MOD, fd, &event);
    else
    if (epoll_ctl (front->curl_ep, EPOLL_CTL_ADD, fd, &event) == 0)
        curl_multi_assign (front->multi, fd, (void *) 1);
    return 0;
}

//  CURLMOPT_TIMERFUNCTION: when curl wants a call.
static int
s_curl_timer (CURLM *multi, long timeout_ms, void *arg)
{
    front_t *front = (front_t *) arg;
    if (timeout_ms < 0)
        front->curl_due = 0;
    else
    if (timeout_ms == 0)
        front->curl_kick = true;
    else
        front->curl_due = s_mono_ms () + timeout_ms;
    return 0;
}

//  What the client's headers give the upstream request.
typedef struct {
    struct curl_slist *list;    //  headers to send
    bool accept;                //  the client sent Accept
    bool content_type;          //  ... Content-Type
    bool failed;                //  out of memory
} headers_t;

//  One header of the client's request (MHD_KeyValueIterator).
static enum MHD_Result
s_forward_header (void *arg, enum MHD_ValueKind kind, const char *name, const char *value)
{
    headers_t *headers = (headers_t *) arg;
    if (!name || wp_front_hop_by_hop (name) || strncasecmp (name, "X-Warmup-", 9) == 0)
        return MHD_YES;
    if (strcasecmp (name, "Accept") == 0)
        headers->accept = true;
    if (strcasecmp (name, "Content-Type") == 0)
        headers->content_type = true;
    //  "Name;" is how curl sends a header with an empty value
    char *line = value && *value ? zsys_sprintf ("%s: %s", name, value)
                                 : zsys_sprintf ("%s;", name);
    struct curl_slist *grown = line ? curl_slist_append (headers->list, line) : NULL;
    zstr_free (&line);
    if (!grown) {
        headers->failed = true;
        return MHD_NO;
    }
    headers->list = grown;
    return MHD_YES;
}

//  Start the transfer of a request to url. Returns 0 or -1.
static int
s_upstream_start (front_t *front, req_t *req, const char *url)
{
    headers_t headers = { NULL, false, false, false };
    MHD_get_connection_values (req->connection, MHD_HEADER_KIND, s_forward_header, &headers);
    //  No 100-continue round trip; no defaults of curl's the client did
    //  not send
    const char *extra [] = { "Expect:", headers.accept ? NULL : "Accept:",
                             headers.content_type ? NULL : "Content-Type:" };
    for (size_t i = 0; i < 3 && !headers.failed; i++)
        if (extra [i]) {
            struct curl_slist *grown = curl_slist_append (headers.list, extra [i]);
            if (!grown)
                headers.failed = true;
            else
                headers.list = grown;
        }
    CURL *easy = headers.failed ? NULL : curl_easy_init ();
    if (!easy) {
        curl_slist_free_all (headers.list);
        return -1;
    }
    req->headers = headers.list;
    req->easy = easy;
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, req);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, req->error);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (easy, CURLOPT_NOPROXY, "*");
    curl_easy_setopt (easy, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt (easy, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
    curl_easy_setopt (easy, CURLOPT_CONNECTTIMEOUT_MS, (long) CONNECT_MS);
    curl_easy_setopt (easy, CURLOPT_HEADERFUNCTION, s_upstream_header);
    curl_easy_setopt (easy, CURLOPT_HEADERDATA, req);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_upstream_body);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, req);
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, req->headers);
    if (streq (req->method, "GET"))
        curl_easy_setopt (easy, CURLOPT_HTTPGET, 1L);
    else
    if (streq (req->method, "HEAD"))
        curl_easy_setopt (easy, CURLOPT_NOBODY, 1L);
    else {
        if (req->body_len || streq (req->method, "POST") || streq (req->method, "PUT")) {
            curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
            curl_easy_setopt (easy, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        }
        curl_easy_setopt (easy, CURLOPT_CUSTOMREQUEST, req->method);
    }
    if (curl_multi_add_handle (front->multi, easy) != CURLM_OK) {
        s_cancel (req);
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Responses

//  Queue the local answer.
static enum MHD_Result
s_queue_local (req_t *req)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (
        req->local_len, req->local_body, MHD_RESPMEM_MUST_FREE);
    if (!response)
        return MHD_NO;
    req->local_body = NULL;         //  the response has it
    MHD_add_response_header (response, "Content-Type", "application/json");
    MHD_add_response_header (response, "Cache-Control", "no-store");
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    if (req->allow)
        MHD_add_response_header (response, "Allow", req->allow);
    enum MHD_Result rc = MHD_queue_response (req->connection,
                                             (unsigned) req->local_status, response);
    MHD_destroy_response (response);
    req->responded = true;
    return rc;
}

//  MHD_ContentReaderCallback: the upstream's body as it comes.
static ssize_t
s_read_body (void *arg, uint64_t pos, char *out, size_t max)
{
    req_t *req = (req_t *) arg;
    if (req->gone)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t waiting = req->buf_len - req->buf_off;
    if (waiting) {
        size_t n = waiting < max ? waiting : max;
        memcpy (out, req->buf + req->buf_off, n);
        req->buf_off += n;
        req->front->sent += n;
        req->front->waiting -= n;
        if (req->buf_off == req->buf_len)
            req->buf_off = req->buf_len = 0;
        if (req->paused && !req->want_unpause && req->buf_len - req->buf_off < BUFFER_MAX / 2) {
            req->want_unpause = true;
            req->front->unpause++;
        }
        return (ssize_t) n;
    }
    if (req->upstream_done)
        return req->result == CURLE_OK ? MHD_CONTENT_READER_END_OF_STREAM
                                       : MHD_CONTENT_READER_END_WITH_ERROR;
    if (req->paused && !req->want_unpause) {
        req->want_unpause = true;
        req->front->unpause++;
    }
    s_suspend (req);
    return 0;
}

//  Queue the upstream's answer: its status and headers now, the body as
//  it comes.
static enum MHD_Result
s_queue_stream (req_t *req)
{
    struct MHD_Response *response = MHD_create_response_from_callback (
        req->length >= 0 && !streq (req->method, "HEAD") ? (uint64_t) req->length
                                                           : MHD_SIZE_UNKNOWN,
        CONNECTION_MEMORY / 2, s_read_body, req, NULL);
    if (!response)
        return MHD_NO;
    for (size_t at = 0; at < req->head_len;) {
        const char *name = req->head + at;
        const char *value = name + strlen (name) + 1;
        at = (size_t) (value - req->head) + strlen (value) + 1;
        MHD_add_response_header (response, name, value);
    }
    enum MHD_Result rc = MHD_queue_response (req->connection, (unsigned) req->status,
                                             response);
    MHD_destroy_response (response);
    req->responded = true;
    return rc;
}

//  ---------------------------------------------------------------------------
//  The HTTP API

//  The seven components, by name, for /healthz.
static const char *const *
s_component_names (void)
{
    static const char *names [16];
    if (!names [0]) {
        size_t n = 0;
        for (int i = 0; wp_components [i] && n < 15; i++)
            names [n++] = wp_components [i]->name;
        names [n] = NULL;
    }
    return names;
}

//  GET /warmup/v1/stats
static void
s_api_stats (front_t *front, req_t *req)
{
    const stats_t *s = &front->stats;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (
        front->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    char *json = zsys_sprintf (
        "{\"endpoint\":\"%s\",\"connections\":%u,\"in_flight\":%zu,\"requests\":%" PRIu64
        ",\"passed\":%" PRIu64 ",\"observed\":%" PRIu64 ",\"not_observed\":{\"malformed\":%"
        PRIu64 ",\"not_object\":%" PRIu64 ",\"no_model\":%" PRIu64 ",\"bad_model\":%" PRIu64
        "},\"too_large\":%" PRIu64 ",\"bad_target\":%" PRIu64 ",\"no_upstream\":%" PRIu64
        ",\"upstream_errors\":%" PRIu64 ",\"upstream_timeouts\":%" PRIu64
        ",\"client_gone\":%" PRIu64 ",\"api\":%" PRIu64 ",\"api_errors\":%" PRIu64
        ",\"warms\":%" PRIu64 ",\"intents\":%" PRIu64 ",\"continue\":{\"events\":%" PRIu64
        ",\"ignored\":%" PRIu64 "},\"users\":%zu,\"rss_kb\":%" PRIu64 "}\n",
        front->endpoint, info ? info->num_connections : 0, front->n_requests, s->requests,
        s->passed, s->observed, s->not_observed [WP_FRONT_SCAN_MALFORMED],
        s->not_observed [WP_FRONT_SCAN_NOT_OBJECT], s->not_observed [WP_FRONT_SCAN_NO_MODEL],
        s->not_observed [WP_FRONT_SCAN_BAD_MODEL], s->too_large, s->bad_target,
        s->no_upstream, s->upstream_errors, s->upstream_timeouts, s->client_gone, s->api,
        s->api_errors, s->warms, s->intents, s->continue_events, s->continue_ignored,
        wp_front_view_users (front->view), wp_rss_kb ());
    s_answer (req, 200, json, strlen (json));
}

//  POST /warmup/v1/usage
static void
s_api_usage (front_t *front, req_t *req)
{
    wp_front_error_t error;
    wp_front_usage_t *usage = wp_front_usage_read (req->body, req->body_len,
                                                   wp_wall_us () / 1000, &error);
    if (!usage) {
        front->stats.api_errors++;
        s_answer_error (req, &error);
        return;
    }
    size_t count = wp_front_usage_count (usage), sent = 0;
    for (size_t i = 0; i < count; i++)
        if (wp_ctx_publish (front->ctx, WP_TOPIC_USAGE,
                            &wp_front_usage_event (usage, i)->base) == 0)
            sent++;
    wp_front_usage_destroy (&usage);
    char *json = zsys_sprintf ("{\"accepted\":%zu}\n", sent);
    s_answer (req, sent == count ? 202 : 503, json, strlen (json));
}

//  POST /warmup/v1/intent
static void
s_api_intent (front_t *front, req_t *req)
{
    wp_front_error_t error;
    wp_front_usage_t *intents = wp_front_intent_read (req->body, req->body_len,
                                                      wp_wall_us () / 1000, &error);
    if (!intents) {
        front->stats.api_errors++;
        s_answer_error (req, &error);
        return;
    }
    size_t count = wp_front_usage_count (intents), sent = 0;
    for (size_t i = 0; i < count; i++)
        if (wp_ctx_publish (front->ctx, WP_TOPIC_INTENT,
                            wp_front_batch_message (intents, i)) == 0)
            sent++;
    wp_front_usage_destroy (&intents);
    front->stats.intents += sent;
    char *json = zsys_sprintf ("{\"accepted\":%zu}\n", sent);
    s_answer (req, sent == count ? 202 : 503, json, strlen (json));
}

//  POST /warmup/v1/continue: what Continue sends to an HTTP data
//  destination. The user: X-Warmup-User, else the event's userId (its
//  keyed hash), else the caller as its model requests count.
static void
s_api_continue (front_t *front, req_t *req)
{
    wp_feed_opts_t opts = { .format = WP_FEED_CONTINUE,
                            .user = req->user_given ? req->user : NULL,
                            .fallback_user = req->user };
    memcpy (opts.user_key, front->token_key, sizeof opts.user_key);
    wp_feed_event_t event;
    char why [200];
    wp_feed_result_t result = wp_feed_continue_post (&opts, req->body, req->body_len,
                                                     wp_wall_us () / 1000, &event, why,
                                                     sizeof why);
    if (result == WP_FEED_BAD) {
        wp_front_error_t error;
        size_t field = strcspn (why, ": ");
        char name [64];
        snprintf (name, sizeof name, "%.*s", why [field] == ':' && field < 63 ? (int) field : 0,
                  why);
        wp_front_error (&error, 400, name, "%s", why);
        front->stats.api_errors++;
        s_answer_error (req, &error);
        return;
    }
    char *json;
    int status = 202;
    if (result == WP_FEED_USAGE) {
        if (wp_ctx_publish (front->ctx, WP_TOPIC_USAGE, &event.usage.base) == 0) {
            front->stats.continue_events++;
            json = zsys_sprintf ("{\"accepted\":1,\"event\":\"%s\"}\n", event.event);
        }
        else {
            status = 503;
            json = zsys_sprintf ("{\"accepted\":0,\"event\":\"%s\"}\n", event.event);
        }
    }
    else {
        //  Not a request (feedback, tokens) or a type this reader does not
        //  know: taken, so that Continue logs no error, and counted.
        front->stats.continue_ignored++;
        json = zsys_sprintf ("{\"accepted\":0,\"event\":\"%s\",\"ignored\":\"%s\"}\n",
                             event.event, result == WP_FEED_SKIP ? "not a request"
                                                                 : "unknown event type");
    }
    s_answer (req, status, json, strlen (json));
}

//  POST /warmup/v1/predict
static void
s_api_predict (front_t *front, req_t *req)
{
    wp_front_error_t error;
    wp_front_predict_t request;
    if (wp_front_predict_read (req->body, req->body_len, &request, &error)) {
        front->stats.api_errors++;
        s_answer_error (req, &error);
        return;
    }
    if (!*request.user)             //  the caller's own, as its requests count
        snprintf (request.user, sizeof request.user, "%s", req->user);
    //  Predictions name the user by the bus's hash of the id.
    wp_user_id_format (wp_siphash (front->user_key, request.user, strlen (request.user)),
                       request.held_as);
    const wp_config_t *config = wp_ctx_config (front->ctx);
    char warm [PREDICT_WARM_MAX][WP_FRONT_MODEL_MAX + 1];
    size_t n_warm = 0, size = 0;
    uint64_t now = wp_wall_us () / 1000;
    char *json = wp_front_predict_answer (front->view, config, &request, now, warm,
                                          PREDICT_WARM_MAX, &n_warm, &size);
    for (size_t i = 0; i < n_warm; i++) {
        Warmup__V1__WarmupRequested warmup = WARMUP__V1__WARMUP_REQUESTED__INIT;
        warmup.event_ms = now;
        warmup.model = warm [i];
        warmup.action = WARMUP__V1__ACTION__ACTION_WARM;
        warmup.priority = request.priority ? (Warmup__V1__Priority) request.priority
                                           : WARMUP__V1__PRIORITY__PRIORITY_NORMAL;
        warmup.reason = (char *) "predict api";
        warmup.memory_mb = wp_config_model_memory_mb (config, warm [i]);
        if (wp_ctx_publish (front->ctx, WP_TOPIC_WARMUP_REQUEST, &warmup.base) == 0) {
            front->stats.warms++;
            wp_front_view_requested (front->view, warm [i], true);
        }
    }
    s_answer (req, 200, json, size);
}

//  GET /warmup/v1/models: ask the scheduler; the answer comes in
//  s_on_event (or the tick gives up).
static int
s_api_models (front_t *front, req_t *req)
{
    snprintf (req->request_id, sizeof req->request_id, "proxy-%d-%" PRIu64,
              (int) getpid (), ++front->models_seq);
    Warmup__V1__ControlRequest request = WARMUP__V1__CONTROL_REQUEST__INIT;
    request.event_ms = wp_wall_us () / 1000;
    request.command = WARMUP__V1__COMMAND__COMMAND_MODELS;
    request.model = (char *) "";
    request.request_id = req->request_id;
    if (wp_ctx_publish (front->ctx, WP_TOPIC_CONTROL, &request.base)) {
        req->request_id [0] = 0;
        return -1;
    }
    req->deadline_ms = (uint64_t) s_mono_ms () + MODELS_WAIT_MS;
    return 0;
}

//  Answer an API request now (0), or later (1: the request waits).
static int
s_api (front_t *front, req_t *req, const char *path, size_t path_len)
{
    front->stats.api++;
    wp_front_error_t error;
    bool get = streq (req->method, "GET") || streq (req->method, "HEAD");
    bool post = streq (req->method, "POST");
    char route [64];
    snprintf (route, sizeof route, "%.*s", (int) (path_len < 63 ? path_len : 63), path);
    const char *allow = NULL;
    if (streq (route, "/healthz")) {
        if (get) {
            int status;
            size_t size;
            char *json = wp_front_health (front->view, s_component_names (),
                                          wp_wall_us () / 1000, &status, &size);
            s_answer (req, status, json, size);
            return 0;
        }
        allow = "GET, HEAD";
    }
    else
    if (streq (route, "/warmup/v1/stats") || streq (route, "/warmup/v1/models")) {
        if (get && streq (route, "/warmup/v1/stats")) {
            s_api_stats (front, req);
            return 0;
        }
        if (get) {
            if (s_api_models (front, req) == 0)
                return 1;
            wp_front_error (&error, 503, "", "cannot ask the scheduler: the bus refused "
                            "the request");
            front->stats.api_errors++;
            s_answer_error (req, &error);
            return 0;
        }
        allow = "GET, HEAD";
    }
    else
    if (streq (route, "/warmup/v1/usage") || streq (route, "/warmup/v1/predict")
        || streq (route, "/warmup/v1/intent") || streq (route, "/warmup/v1/continue")) {
        if (post) {
            if (streq (route, "/warmup/v1/usage"))
                s_api_usage (front, req);
            else
            if (streq (route, "/warmup/v1/intent"))
                s_api_intent (front, req);
            else
            if (streq (route, "/warmup/v1/continue"))
                s_api_continue (front, req);
            else
                s_api_predict (front, req);
            return 0;
        }
        allow = "POST";
    }
    front->stats.api_errors++;
    if (allow) {
        req->allow = allow;
        wp_front_error (&error, 405, "", "method %s not allowed here: %s", req->method, allow);
    }
    else
        wp_front_error (&error, 404, "", "no such route: %s (the API: POST /warmup/v1/usage, "
                        "POST /warmup/v1/intent, POST /warmup/v1/continue, POST "
                        "/warmup/v1/predict, GET /warmup/v1/models, GET /warmup/v1/stats, GET "
                        "/healthz)", route);
    s_answer_error (req, &error);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Requests from clients (MHD)

//  True for the API's paths.
static bool
s_is_api (const char *path, size_t length)
{
    return (length == 8 && memcmp (path, "/healthz", 8) == 0)
        || (length >= 10 && memcmp (path, "/warmup/v1", 10) == 0
            && (length == 10 || path [10] == '/'));
}

//  The whole request is read: answer it, or send it upstream.
static enum MHD_Result
s_dispatch (front_t *front, req_t *req)
{
    req->dispatched = true;
    const char *path = req->uri;
    size_t path_len = strcspn (path, "?");
    if (req->kind == K_API) {
        if (s_api (front, req, path, path_len) == 1) {
            s_suspend (req);
            return MHD_YES;
        }
        return s_queue_local (req);
    }
    const wp_config_t *config = wp_ctx_config (front->ctx);
    const wp_model_config_t *section = NULL;
    if (req->task) {
        wp_front_scan_t scan = wp_front_scan_model (req->body, req->body_len, req->model,
                                                    sizeof req->model);
        if (scan == WP_FRONT_SCAN_OK) {
            req->observed = true;
            section = wp_config_model (config, req->model);
            wp_front_state_t state = wp_front_view_state (front->view, req->model);
            req->outcome = state == WP_FRONT_WARM ? WARMUP__V1__OUTCOME__OUTCOME_WARM
                         : state == WP_FRONT_LOADING ? WARMUP__V1__OUTCOME__OUTCOME_DELAYED
                         : WARMUP__V1__OUTCOME__OUTCOME_COLD;
        }
        else {
            front->stats.not_observed [scan]++;
            uint64_t count = 0;
            for (int i = 1; i < 5; i++)
                count += front->stats.not_observed [i];
            if (wp_log_should (count))
                zsys_warning ("proxy: %s %.*s from %s passed on, not observed: %s",
                              req->method, (int) path_len, path, req->client,
                              wp_front_scan_name (scan));
        }
    }
    else
        front->stats.passed++;
    const char *base = section && section->url ? section->url : config->proxy_upstream;
    wp_front_error_t error;
    char url [WP_FRONT_URI_MAX + 512];
    if (!base) {
        front->stats.no_upstream++;
        wp_front_error (&error, 502, req->observed ? "model" : "", "no model server for "
                        "this request: set proxy/upstream (--proxy-upstream) or a url "
                        "in the model's section");
        req->observed = false;
        s_answer_error (req, &error);
        return s_queue_local (req);
    }
    if (wp_front_upstream_url (base, req->uri, url, sizeof url)
        || s_upstream_start (front, req, url)) {
        front->stats.upstream_errors++;
        req->observed = false;
        wp_front_error (&error, 502, "", "cannot start the request to the model server");
        s_answer_error (req, &error);
        return s_queue_local (req);
    }
    if (wp_ctx_verbose (front->ctx))
        zsys_debug ("proxy: %s %s -> %s%s%s", req->method, req->uri, url,
                    req->observed ? " model=" : "", req->observed ? req->model : "");
    s_suspend (req);
    return MHD_YES;
}

//  MHD_OPTION_URI_LOG_CALLBACK: a request starts; the target as received.
static void *
s_request_start (void *arg, const char *uri, struct MHD_Connection *connection)
{
    front_t *front = (front_t *) arg;
    req_t *req = (req_t *) zmalloc (sizeof (req_t));
    assert (req);
    req->front = front;
    req->fd = -1;
    req->length = -1;
    req->uri = strdup (uri ? uri : "");
    assert (req->uri);
    req->next = front->requests;
    if (front->requests)
        front->requests->prev = req;
    front->requests = req;
    front->n_requests++;
    return req;
}

//  The first call of the handler for a request: its headers are in.
static enum MHD_Result
s_request_head (front_t *front, req_t *req, struct MHD_Connection *connection,
                const char *method)
{
    req->started = true;
    req->connection = connection;
    req->arrival_ns = wp_mono_ns ();
    req->arrival_ms = wp_wall_us () / 1000;
    snprintf (req->method, sizeof req->method, "%s", method);
    front->stats.requests++;
    const union MHD_ConnectionInfo *info = MHD_get_connection_info (
        connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    req->fd = info ? info->connect_fd : -1;
    info = MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info && info->client_addr) {
        const struct sockaddr *address = info->client_addr;
        if (address->sa_family == AF_INET6)
            inet_ntop (AF_INET6, &((const struct sockaddr_in6 *) address)->sin6_addr,
                       req->client, sizeof req->client);
        else
            inet_ntop (AF_INET, &((const struct sockaddr_in *) address)->sin_addr,
                       req->client, sizeof req->client);
    }
    const wp_config_t *config = wp_ctx_config (front->ctx);
    req->user_given = wp_front_id_ok (MHD_lookup_connection_value (connection,
                                                                   MHD_HEADER_KIND,
                                                                   "X-Warmup-User"));
    wp_front_user (front->token_key,
                   MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "X-Warmup-User"),
                   MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Authorization"),
                   req->client, req->user, sizeof req->user);
    const char *session = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                       "X-Warmup-Session");
    if (wp_front_id_ok (session))
        snprintf (req->session, sizeof req->session, "%s", session);
    wp_front_error_t error;
    const char *why = NULL;
    if (wp_front_uri_check (req->uri, &why)) {
        front->stats.bad_target++;
        wp_front_error (&error, 400, "", "%s", why);
        s_answer_error (req, &error);
        return s_queue_local (req);
    }
    size_t path_len = strcspn (req->uri, "?");
    req->kind = s_is_api (req->uri, path_len) ? K_API : K_PASS;
    req->task = req->kind == K_PASS ? wp_front_route_task (method, req->uri, path_len) : 0;
    req->body_max = req->kind == K_API && config->proxy_max_body_bytes > API_BODY_MAX
                  ? API_BODY_MAX : config->proxy_max_body_bytes;
    const char *length = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                      "Content-Length");
    if (length && strtoull (length, NULL, 10) > req->body_max) {
        front->stats.too_large++;
        wp_front_error (&error, 413, "", "request body of %s bytes, over %s (%zu bytes)",
                        length, req->kind == K_API ? "the API's limit"
                                                   : "proxy/max_body_bytes", req->body_max);
        s_answer_error (req, &error);
        return s_queue_local (req);
    }
    return MHD_YES;
}

//  MHD_AccessHandlerCallback: every step of a request.
static enum MHD_Result
s_request (void *arg, struct MHD_Connection *connection, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_size, void **state)
{
    front_t *front = (front_t *) arg;
    req_t *req = (req_t *) *state;
    if (!req)
        *state = req = (req_t *) s_request_start (front, url, connection);
    if (!req->started)
        return s_request_head (front, req, connection, method);
    if (*upload_size) {
        size_t size = *upload_size;
        *upload_size = 0;
        if (req->responded)
            return MHD_YES;         //  an answer is queued: the rest is dropped
        if (req->body_len + size > req->body_max) {
            front->stats.too_large++;
            wp_front_error_t error;
            wp_front_error (&error, 413, "", "request body over %s (%zu bytes)",
                            req->kind == K_API ? "the API's limit" : "proxy/max_body_bytes",
                            req->body_max);
            s_answer_error (req, &error);
            return s_queue_local (req);
        }
        if (req->body_len + size + 1 > req->body_cap) {
            size_t cap = req->body_cap ? req->body_cap : 4096;
            while (cap < req->body_len + size + 1)
                cap *= 2;
            req->body = (char *) realloc (req->body, cap);
            assert (req->body);
            req->body_cap = cap;
        }
        memcpy (req->body + req->body_len, upload, size);
        req->body_len += size;
        req->body [req->body_len] = 0;
        return MHD_YES;
    }
    if (req->responded)
        return MHD_YES;
    if (req->gone)
        return MHD_NO;
    if (!req->dispatched)
        return s_dispatch (front, req);
    //  Resumed: an answer is here
    if (req->local_body)
        return s_queue_local (req);
    if (req->head_done)
        return s_queue_stream (req);
    s_suspend (req);
    return MHD_YES;
}

//  MHD_OPTION_NOTIFY_COMPLETED: a request ended (answered, or the
//  connection closed).
static void
s_request_end (void *arg, struct MHD_Connection *connection, void **state,
               enum MHD_RequestTerminationCode code)
{
    front_t *front = (front_t *) arg;
    req_t *req = (req_t *) *state;
    if (!req)
        return;
    if (code != MHD_REQUEST_TERMINATED_COMPLETED_OK && !req->gone
        && (req->easy || (req->responded && !req->upstream_done && req->head_done))) {
        front->stats.client_gone++;
        if (wp_log_should (front->stats.client_gone))
            zsys_info ("proxy: %s %s: the client left; the request to the model server "
                       "is cancelled", req->method, req->uri);
    }
    //  A 2xx whose body never came still counts once it was answered
    if (req->publish_due) {
        req->publish_due = false;
        front->publish--;
        s_publish (front, req);
    }
    s_req_destroy (&req);
    *state = NULL;
}

//  Errors of libmicrohttpd go to our log (rate-limited).
static void
s_mhd_log (void *arg, const char *format, va_list args)
{
    static _Thread_local uint64_t count;
    if (!wp_log_should (++count))
        return;
    char message [512];
    vsnprintf (message, sizeof message, format, args);
    size_t length = strlen (message);
    while (length && (message [length - 1] == '\n' || message [length - 1] == '\r'))
        message [--length] = 0;
    zsys_warning ("proxy: http: %s", message);
}

//  ---------------------------------------------------------------------------
//  The loop

static int s_curl_timer_fired (zloop_t *loop, int timer_id, void *arg);

//  Connections open now.
static unsigned
s_connections (front_t *front)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (
        front->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info ? info->num_connections : 0;
}

//  Run libmicrohttpd until it has nothing ready (bounded). At the
//  connection limit it takes its listen socket out of its epoll set and
//  puts it back only at the start of a later run, so a run that closed
//  connections is followed by another (see wp_http.c).
static int s_mhd_again (zloop_t *loop, int timer_id, void *arg);

static void
s_run_mhd (front_t *front)
{
    MHD_UNSIGNED_LONG_LONG timeout = 1;
    for (int round = 0; round < 64; round++) {
        unsigned before = s_connections (front);
        uint64_t sent = front->sent;
        MHD_run (front->daemon);
        timeout = 1;
        if (s_connections (front) < before)
            continue;
        //  It handed bytes on and more wait: a writable socket gives
        //  libmicrohttpd no new edge, so run it again now
        if (front->sent > sent && front->waiting)
            continue;
        if (MHD_get_timeout (front->daemon, &timeout) != MHD_YES || timeout > 0)
            break;
    }
    //  Still work ready after the bounded rounds (a fast stream): come back
    //  on the next turn of the loop, after its other readers, never after
    //  a timer's sleep (no descriptor would wake us for it)
    if (timeout == 0 && front->mhd_timer == -1)
        front->mhd_timer = zloop_timer (front->loop, 1, 1, s_mhd_again, front);
}

//  Do what the callbacks asked for, until nothing is left: curl's
//  immediate calls, unpaused transfers, resumed connections; then publish
//  (after the bytes were handed on) and arm curl's timer.
static void
s_settle (front_t *front)
{
    for (int round = 0; round < 64; round++) {
        if (front->curl_kick) {
            front->curl_kick = false;
            int running;
            curl_multi_socket_action (front->multi, CURL_SOCKET_TIMEOUT, 0, &running);
            s_collect (front);
        }
        else
        if (front->unpause) {
            for (req_t *req = front->requests; req && front->unpause; req = req->next)
                if (req->want_unpause) {
                    req->want_unpause = false;
                    front->unpause--;
                    req->paused = false;
                    if (!req->easy)
                        continue;
                    curl_easy_pause (req->easy, CURLPAUSE_CONT);
                    //  Read on now: curl would wait for its timer (a
                    //  millisecond or more per pause) to look at the socket
                    curl_socket_t fd = CURL_SOCKET_BAD;
                    int running;
                    if (req->easy && curl_easy_getinfo (req->easy, CURLINFO_ACTIVESOCKET,
                                                        &fd) == CURLE_OK
                        && fd != CURL_SOCKET_BAD)
                        curl_multi_socket_action (front->multi, fd, CURL_CSELECT_IN,
                                                  &running);
                }
            s_collect (front);
        }
        else
        if (front->run_mhd) {
            front->run_mhd = false;
            s_run_mhd (front);
        }
        else
            break;
    }
    //  Work left after the bounded rounds (a fast stream keeps making
    //  more): come back on the next turn of the loop, after its other
    //  readers; no descriptor would wake us for it
    if ((front->curl_kick || front->unpause || front->run_mhd) && front->mhd_timer == -1)
        front->mhd_timer = zloop_timer (front->loop, 1, 1, s_mhd_again, front);
    if (front->publish)
        for (req_t *req = front->requests; req && front->publish; req = req->next)
            if (req->publish_due) {
                req->publish_due = false;
                front->publish--;
                s_publish (front, req);
            }
    //  curl's timer: one zloop timer at its latest due time
    if (front->curl_due && front->curl_due != front->curl_timer_due) {
        if (front->curl_timer != -1)
            zloop_timer_end (front->loop, front->curl_timer);
        int64_t delay = front->curl_due - s_mono_ms ();
        front->curl_timer = zloop_timer (front->loop, delay > 1 ? (size_t) delay : 1, 1,
                                         s_curl_timer_fired, front);
        front->curl_timer_due = front->curl_due;
    }
}

//  Work was left for the next turn of the loop: do it.
static int
s_mhd_again (zloop_t *loop, int timer_id, void *arg)
{
    front_t *front = (front_t *) arg;
    front->mhd_timer = -1;
    front->run_mhd = true;
    s_settle (front);
    return 0;
}

//  curl's timer fired.
static int
s_curl_timer_fired (zloop_t *loop, int timer_id, void *arg)
{
    front_t *front = (front_t *) arg;
    front->curl_timer = -1;
    front->curl_timer_due = 0;
    front->curl_due = 0;
    int running;
    curl_multi_socket_action (front->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_collect (front);
    s_settle (front);
    return 0;
}

//  curl's sockets are ready.
static int
s_curl_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    front_t *front = (front_t *) arg;
    struct epoll_event events [64];
    int n = epoll_wait (front->curl_ep, events, 64, 0);
    for (int i = 0; i < n; i++) {
        int mask = 0;
        if (events [i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
            mask |= CURL_CSELECT_IN;
        if (events [i].events & EPOLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (events [i].events & EPOLLERR)
            mask |= CURL_CSELECT_ERR;
        int running;
        curl_multi_socket_action (front->multi, events [i].data.fd, mask, &running);
    }
    s_collect (front);
    s_settle (front);
    return 0;
}

//  libmicrohttpd's descriptors are ready.
static int
s_mhd_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    front_t *front = (front_t *) arg;
    s_run_mhd (front);
    s_settle (front);
    return 0;
}

//  A suspended client's socket says the client left.
static int
s_watch_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    front_t *front = (front_t *) arg;
    struct epoll_event events [64];
    int n = epoll_wait (front->watch_ep, events, 64, 0);
    for (int i = 0; i < n; i++) {
        req_t *req = (req_t *) events [i].data.ptr;
        s_unwatch (req);
        if (req->gone)
            continue;
        req->gone = true;
        front->stats.client_gone++;
        if (wp_log_should (front->stats.client_gone))
            zsys_info ("proxy: %s %s: the client left; the request to the model server is "
                       "cancelled", req->method, req->uri);
        s_cancel (req);
        s_wake (req);
    }
    s_settle (front);
    return 0;
}

//  ---------------------------------------------------------------------------
//  The component

//  Raise the limit of open files to what max_connections needs (a client
//  and an upstream socket each), as far as the hard limit allows.
static void
s_file_limit (uint32_t connections)
{
    struct rlimit limit;
    rlim_t need = (rlim_t) connections * 2 + 256;
    if (getrlimit (RLIMIT_NOFILE, &limit) || limit.rlim_cur >= need)
        return;
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY || limit.rlim_max >= need
                   ? need : limit.rlim_max;
    setrlimit (RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < need)
        zsys_warning ("proxy: open files limited to %llu (ulimit -n), below the %llu that "
                      "proxy/max_connections %u needs", (unsigned long long) limit.rlim_cur,
                      (unsigned long long) need, connections);
}

//  Destroy the proxy.
static void
s_destroy (void **state_p)
{
    front_t *front = (front_t *) *state_p;
    if (!front)
        return;
    //  No transfer outlives its request; no connection stays suspended
    //  (libmicrohttpd must not stop with one)
    for (req_t *req = front->requests; req; req = req->next) {
        req->gone = true;
        s_cancel (req);
        s_wake (req);
    }
    if (front->daemon) {
        zloop_poller_end (front->loop, &front->mhd_item);
        MHD_run (front->daemon);
        MHD_stop_daemon (front->daemon);    //  ends every request (s_request_end)
    }
    while (front->requests) {               //  never started (no handler call)
        req_t *req = front->requests;
        s_req_destroy (&req);
    }
    if (front->curl_timer != -1)
        zloop_timer_end (front->loop, front->curl_timer);
    if (front->mhd_timer != -1)
        zloop_timer_end (front->loop, front->mhd_timer);
    if (front->curl_ep >= 0) {
        zloop_poller_end (front->loop, &front->curl_item);
        close (front->curl_ep);
    }
    if (front->watch_ep >= 0) {
        zloop_poller_end (front->loop, &front->watch_item);
        close (front->watch_ep);
    }
    if (front->multi)
        curl_multi_cleanup (front->multi);
    wp_front_view_destroy (&front->view);
    free (front);
    *state_p = NULL;
}

//  Build the proxy on START.
static void *
s_create (wp_ctx_t *ctx)
{
    const wp_config_t *config = wp_ctx_config (ctx);
    if (streq (config->proxy_listen, "off")) {
        zsys_error ("proxy: key 'proxy/listen' is off: set it (or --proxy-listen HOST:PORT)");
        return NULL;
    }
    const char *why = NULL;
    if (wp_http_check_listen (config->proxy_listen, &why)) {
        zsys_error ("proxy: key 'proxy/listen': bad value '%s': %s", config->proxy_listen,
                    why);
        return NULL;
    }
    if (config->proxy_upstream && (strncmp (config->proxy_upstream, "http://", 7) != 0
                                   && strncmp (config->proxy_upstream, "https://", 8) != 0)) {
        zsys_error ("proxy: key 'proxy/upstream': bad value '%s': must be "
                    "http://host[:port][/prefix] or https://...", config->proxy_upstream);
        return NULL;
    }
    front_t *front = (front_t *) zmalloc (sizeof (front_t));
    assert (front);
    //  Keys from the installation secret (docs/security.md): user ids as the
    //  bus hashes them, and bearer tokens under a subkey of their own.
    char error [1200];
    uint8_t secret [WP_KEYS_SECRET_LEN];
    if (wp_security_secret (config, true, secret, error, sizeof error)) {
        zsys_error ("proxy: %s", error);
        free (front);
        return NULL;
    }
    wp_keys_derive (secret, "userid01", front->user_key, sizeof front->user_key);
    wp_keys_derive (secret, "frontkey", front->token_key, sizeof front->token_key);
    memset (secret, 0, sizeof secret);
    front->ctx = ctx;
    front->loop = wp_ctx_loop (ctx);
    front->curl_timer = -1;
    front->mhd_timer = -1;
    front->curl_ep = epoll_create1 (EPOLL_CLOEXEC);
    front->watch_ep = epoll_create1 (EPOLL_CLOEXEC);
    front->view = wp_front_view_new (VIEW_USERS);
    front->multi = curl_multi_init ();
    void *state = front;
    if (front->curl_ep < 0 || front->watch_ep < 0 || !front->multi) {
        zsys_error ("proxy: cannot set up the client side: %s", strerror (errno));
        s_destroy (&state);
        return NULL;
    }
    curl_multi_setopt (front->multi, CURLMOPT_SOCKETFUNCTION, s_curl_socket);
    curl_multi_setopt (front->multi, CURLMOPT_SOCKETDATA, front);
    curl_multi_setopt (front->multi, CURLMOPT_TIMERFUNCTION, s_curl_timer);
    curl_multi_setopt (front->multi, CURLMOPT_TIMERDATA, front);
    curl_multi_setopt (front->multi, CURLMOPT_MAXCONNECTS, (long) config->proxy_max_connections);
    s_file_limit (config->proxy_max_connections);

    int fd = wp_http_listen_socket (config->proxy_listen, 1024, front->endpoint,
                                    sizeof front->endpoint);
    if (fd < 0) {
        s_destroy (&state);
        return NULL;
    }
    front->daemon = MHD_start_daemon (
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_SUPPRESS_DATE_NO_CLOCK
        | MHD_USE_ERROR_LOG,
        0, NULL, NULL, s_request, front,
        MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd,
        MHD_OPTION_URI_LOG_CALLBACK, s_request_start, front,
        MHD_OPTION_NOTIFY_COMPLETED, s_request_end, front,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) config->proxy_max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) IDLE_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CONNECTION_MEMORY,
        MHD_OPTION_END);
    if (!front->daemon) {
        zsys_error ("proxy: cannot start the HTTP server on %s", front->endpoint);
        close (fd);
        s_destroy (&state);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (front->daemon,
                                                            MHD_DAEMON_INFO_EPOLL_FD);
    assert (info);
    front->mhd_item = (zmq_pollitem_t) { NULL, info->epoll_fd, ZMQ_POLLIN, 0 };
    front->curl_item = (zmq_pollitem_t) { NULL, front->curl_ep, ZMQ_POLLIN, 0 };
    front->watch_item = (zmq_pollitem_t) { NULL, front->watch_ep, ZMQ_POLLIN, 0 };
    zloop_poller (front->loop, &front->mhd_item, s_mhd_ready, front);
    zloop_poller (front->loop, &front->curl_item, s_curl_ready, front);
    zloop_poller (front->loop, &front->watch_item, s_watch_ready, front);
    //  Not tolerant: a poller error ends the loop like any other
    zsys_info ("proxy: serving http://%s/ (upstream %s%s)", front->endpoint,
               config->proxy_upstream ? config->proxy_upstream : "none",
               config->proxy_upstream ? "" : ": model sections' urls only");
    return front;
}

//  A control.reply for a waiting GET /warmup/v1/models.
static void
s_models_reply (front_t *front, const Warmup__V1__ControlReply *reply)
{
    if (!reply->request_id || strncmp (reply->request_id, "proxy-", 6) != 0)
        return;
    for (req_t *req = front->requests; req; req = req->next)
        if (*req->request_id && streq (req->request_id, reply->request_id)) {
            req->request_id [0] = 0;
            char *json = wp_json_event ("control.reply", &reply->base);
            size_t size = strlen (json);
            json = (char *) realloc (json, size + 2);
            assert (json);
            memcpy (json + size, "\n", 2);
            s_answer (req, reply->ok ? 200 : 503, json, size + 1);
            s_wake (req);
            break;
        }
}

//  An event from the bus.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    front_t *front = (front_t *) state;
    uint64_t now = wp_wall_us () / 1000;
    switch (topic) {
        case WP_TOPIC_PREDICTION:
            wp_front_view_prediction (front->view, (const Warmup__V1__PredictionMade *) msg,
                                      now);
            break;
        case WP_TOPIC_WARMUP_REQUEST: {
            const Warmup__V1__WarmupRequested *in = (const Warmup__V1__WarmupRequested *) msg;
            if (in->action != WARMUP__V1__ACTION__ACTION_UNSPECIFIED)
                wp_front_view_requested (front->view, in->model,
                                         in->action == WARMUP__V1__ACTION__ACTION_WARM);
            break;
        }
        case WP_TOPIC_WARMUP_DONE: {
            const Warmup__V1__WarmupDone *in = (const Warmup__V1__WarmupDone *) msg;
            wp_front_view_done (front->view, in->model,
                                in->action == WARMUP__V1__ACTION__ACTION_WARM, in->ok);
            break;
        }
        case WP_TOPIC_USAGE: {
            const Warmup__V1__UsageObserved *in = (const Warmup__V1__UsageObserved *) msg;
            wp_front_view_task (front->view, in->model, in->task);
            break;
        }
        case WP_TOPIC_PERF: {
            const Warmup__V1__PerfEstimate *in = (const Warmup__V1__PerfEstimate *) msg;
            if (in->samples && in->load_ms_p90 > 0 && in->load_ms_p90 < 86400000.0)
                wp_front_view_load_ms (front->view, in->model, (uint32_t) in->load_ms_p90);
            break;
        }
        case WP_TOPIC_HEARTBEAT: {
            const Warmup__V1__Heartbeat *in = (const Warmup__V1__Heartbeat *) msg;
            wp_front_view_heartbeat (front->view, in->component, in->interval_ms, now);
            break;
        }
        case WP_TOPIC_CONTROL_REPLY:
            s_models_reply (front, (const Warmup__V1__ControlReply *) msg);
            break;
        default:
            break;
    }
    s_settle (front);
    return 0;
}

//  Every tick: give up on what waited too long; let libmicrohttpd time
//  out idle connections.
static int
s_on_tick (void *state, wp_ctx_t *ctx)
{
    front_t *front = (front_t *) state;
    const wp_config_t *config = wp_ctx_config (ctx);
    uint64_t now = (uint64_t) s_mono_ms ();
    uint64_t first_byte_ms = (uint64_t) config->proxy_upstream_timeout_seconds * 1000;
    for (req_t *req = front->requests; req; req = req->next) {
        wp_front_error_t error;
        if (*req->request_id && now >= req->deadline_ms) {
            req->request_id [0] = 0;
            front->stats.api_errors++;
            wp_front_error (&error, 504, "", "the scheduler did not answer within %d ms (is "
                            "it running?)", MODELS_WAIT_MS);
            s_answer_error (req, &error);
            s_wake (req);
        }
        if (req->easy && !req->head_done && first_byte_ms
            && now - req->arrival_ns / 1000000 >= first_byte_ms) {
            s_cancel (req);
            req->upstream_done = true;
            req->result = CURLE_OPERATION_TIMEDOUT;
            front->stats.upstream_timeouts++;
            wp_front_error (&error, 504, "", "the model server sent nothing within "
                            "proxy/upstream_timeout_seconds (%u s)",
                            config->proxy_upstream_timeout_seconds);
            s_answer_error (req, &error);
            s_wake (req);
        }
    }
    front->run_mhd = true;
    s_settle (front);
    return 0;
}

//  The proxy's definition.
const wp_component_def_t wp_front_def = {
    .name = "proxy",
    .title = "Proxy",
    .topics = { "prediction.made", "warmup.requested", "warmup.done", "usage.observed",
                "perf.estimate", "heartbeat", "control.reply", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
    .on_tick = s_on_tick,
    .tick_ms = 250,
};

//  ---------------------------------------------------------------------------
//  Flags

//  Take the proxy's flags out of rest.
int
wp_front_flags (wp_config_t *config, const char *program, char **rest, int *n_rest)
{
    int kept = 0;
    for (int i = 0; i < *n_rest; i++) {
        const char *flag = rest [i];
        const char *key = streq (flag, "--proxy-listen") ? "proxy_listen"
                        : streq (flag, "--proxy-upstream") ? "proxy_upstream" : NULL;
        if (!key) {
            rest [kept++] = rest [i];
            continue;
        }
        if (i + 1 >= *n_rest) {
            fprintf (stderr, "%s: %s needs a value\n", program, flag);
            return -1;
        }
        const char *value = rest [++i];
        const char *why = NULL;
        if (streq (key, "proxy_listen") && !streq (value, "off")
            && wp_http_check_listen (value, &why)) {
            fprintf (stderr, "%s: --proxy-listen: bad value '%s': %s\n", program, value, why);
            return -1;
        }
        if (streq (key, "proxy_upstream") && strncmp (value, "http://", 7) != 0
            && strncmp (value, "https://", 8) != 0) {
            fprintf (stderr, "%s: --proxy-upstream: bad value '%s': must be "
                     "http://host[:port][/prefix] or https://...\n", program, value);
            return -1;
        }
        wp_config_set_string (config, key, value);
    }
    *n_rest = kept;
    return 0;
}
