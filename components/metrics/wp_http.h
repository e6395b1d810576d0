/*  =========================================================================
    wp_http - a small HTTP/1.1 server for GET and HEAD, run inside a zloop.

    libmicrohttpd parses the requests; it runs with no thread of its own
    (MHD_USE_EPOLL, external polling): its epoll descriptor is a reader of
    the caller's zloop and a one-shot timer serves its timeouts, so the
    handler runs on the zloop's thread and may read that thread's state
    without locks. docs/metrics.md says why this and not a ZMQ_STREAM
    socket.

    Requests are checked before the handler sees them: GET or HEAD only
    (405 with Allow otherwise), no body (413), a path of at most
    WP_HTTP_PATH_MAX bytes that starts with "/" (414 / 400). Memory is
    bounded: at most WP_HTTP_CONNECTIONS connections (more wait in the
    listen queue until one closes), WP_HTTP_CONNECTION_MEMORY bytes of
    headers each, connections idle for WP_HTTP_IDLE_S seconds are closed.

    The server belongs to the thread that runs its zloop.
    =========================================================================
*/

#ifndef WP_HTTP_H_INCLUDED
#define WP_HTTP_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Longest request path accepted, bytes.
#define WP_HTTP_PATH_MAX 256

//  Connections open at once at most.
#define WP_HTTP_CONNECTIONS 32

//  Memory for one connection's request line and headers, bytes.
#define WP_HTTP_CONNECTION_MEMORY 16384

//  Seconds an idle connection is kept.
#define WP_HTTP_IDLE_S 10

typedef struct _wp_http_t wp_http_t;

//  What the handler answers.
typedef struct {
    int status;                 // HTTP status, e.g. 200
    const char *content_type;   // static string, e.g. "text/plain"
    char *body;                 // the body
    size_t size;                // its length, bytes
    bool borrowed;              // true: body is static and not freed;
                                // false: malloc'ed, the server frees it
    const char *extra_header;   // one more header "Name: value" (static),
                                // or NULL
} wp_http_response_t;

//  Answer a checked request for path (without the query string). Fill
//  *response and return 0; -1 makes a 500.
typedef int (wp_http_handler_fn) (const char *path, wp_http_response_t *response,
                                  void *arg);

//  Start serving on listen ("HOST:PORT": an IPv4 address, "localhost" or
//  "[IPv6]"; port 0 takes a free port) in loop. Returns NULL after
//  logging why (bad address, port in use, ...).
wp_http_t *
    wp_http_new (zloop_t *loop, const char *listen, wp_http_handler_fn *handler,
                 void *arg);

//  Stop serving, close every connection; nulls *self_p. Safe on NULL.
void
    wp_http_destroy (wp_http_t **self_p);

//  Where the server listens, "HOST:PORT" with the real port.
const char *
    wp_http_endpoint (wp_http_t *self);

//  Connections open now.
unsigned
    wp_http_connections (wp_http_t *self);

//  Requests answered, and requests refused by the checks.
uint64_t
    wp_http_requests (wp_http_t *self);
uint64_t
    wp_http_refused (wp_http_t *self);

//  A non-blocking listening socket bound to listen (as wp_http_new takes
//  it), with the given backlog; endpoint (size bytes) gets "HOST:PORT"
//  with the real port. Returns the socket, or -1 after logging why.
int
    wp_http_listen_socket (const char *listen, int backlog, char *endpoint, size_t size);

//  Check a listen address without binding it. Returns 0, or -1 with
//  *why set to a static description.
int
    wp_http_check_listen (const char *listen, const char **why);

#ifdef __cplusplus
}
#endif

#endif
