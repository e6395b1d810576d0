/*  =========================================================================
    wp_curl - HTTP requests through libcurl's multi interface, driven by
    the caller's zloop: no thread per request, no blocking call.

    curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: each
    becomes a zloop poller on the raw fd) and when to call it back
    (CURLMOPT_TIMERFUNCTION: a one-shot zloop timer); the loop hands the
    readiness back with curl_multi_socket_action. A finished transfer
    calls its callback from the loop, never from inside wp_curl_request.

    Every request has a timeout (the whole transfer, connect included).
    Replies are kept up to WP_CURL_BODY_MAX bytes. The error text of a
    failed request says what happened: curl's own message for transport
    failures ("timed out after 2000 ms", "connection refused"), or for an
    HTTP error status the server's message, taken from a JSON reply
    ({"error": "..."}, {"error": {"message": "..."}}, {"message": "..."},
    {"detail": "..."}) or else from the start of the body.

    Ownership: the wp_curl_call_t returned by wp_curl_request belongs to
    the wp_curl_t; it stays valid until its callback returns (then it is
    freed) or until wp_curl_cancel. The reply given to the callback is
    borrowed for the callback's duration.
    =========================================================================
*/
#ifndef WP_CURL_H_INCLUDED
#define WP_CURL_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Largest reply body kept, bytes (more is cut, and said so).
#define WP_CURL_BODY_MAX (1024 * 1024)

typedef struct _wp_curl_t wp_curl_t;
typedef struct _wp_curl_call_t wp_curl_call_t;

//  What a finished request gives its callback.
typedef struct {
    long status;                //  HTTP status, 0 when no reply came
    const char *body;           //  reply body, NUL-terminated (may be "")
    size_t body_len;            //  its length
    bool transport_error;       //  no complete reply: connect, timeout, ...
    bool timed_out;             //  the timeout ended it
    const char *error;          //  "" when status is 2xx, else what went
                                //  wrong, with the server's message
    uint32_t elapsed_ms;        //  from the request to the end
} wp_curl_reply_t;

//  Called once per request, from the loop.
typedef void (wp_curl_fn) (const wp_curl_reply_t *reply, void *arg);

//  Create a client that runs its transfers on loop. NULL if curl cannot
//  be initialised (logged).
wp_curl_t *
    wp_curl_new (zloop_t *loop);

//  Destroy the client, cancelling every request (no callbacks); nulls
//  *self_p. Safe on NULL.
void
    wp_curl_destroy (wp_curl_t **self_p);

//  Start a request: method ("GET", "POST", ...), absolute url, body (NULL
//  = none; sent as application/json), bearer token (NULL = none), timeout
//  in ms (>= 1). Returns the call, or NULL if it could not start (then
//  nothing will be called; logged).
wp_curl_call_t *
    wp_curl_request (wp_curl_t *self, const char *method, const char *url,
                     const char *body, const char *bearer, uint32_t timeout_ms,
                     wp_curl_fn *fn, void *arg);

//  Cancel a call that has not finished; its callback is not called.
//  Nulls *call_p. Safe on NULL.
void
    wp_curl_cancel (wp_curl_t *self, wp_curl_call_t **call_p);

//  Requests in flight.
size_t
    wp_curl_active (wp_curl_t *self);

//  Append to out (capacity bytes) the text with each %m replaced by
//  model (URL-encoded when url_encode, JSON-string-escaped otherwise,
//  without quotes) and %% by %. Returns 0, or -1 if it does not fit.
int
    wp_curl_expand (const char *pattern, const char *model, bool url_encode,
                    char *out, size_t capacity);

//  The server's message in an error reply body (see above), cut to fit
//  into out (capacity bytes). Always NUL-terminates out.
void
    wp_curl_server_message (const char *body, size_t body_len, char *out,
                            size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
