/*  =========================================================================
    wp_http - a small GET/HEAD server: libmicrohttpd driven by a zloop.
    =========================================================================
*/
#include "wp_http.h"
#include "wp_util.h"
#include <microhttpd.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

//  Structure of our class

struct _wp_http_t {
    struct MHD_Daemon *daemon;  // libmicrohttpd, no thread of its own
    zloop_t *loop;              // the loop it runs in (borrowed)
    zmq_pollitem_t item;        // its epoll descriptor, a reader of loop
    int timer_id;               // one-shot timer for its timeouts, or -1
    wp_http_handler_fn *handler;    // answers checked requests
    void *arg;                  // handler's argument
    char endpoint [320];        // "host:port" with the real port
    uint64_t requests;          // requests answered
    uint64_t refused;           // requests refused by the checks
};

//  Marks a request whose headers were seen (MHD's per-request pointer).
static int s_seen;

//  Split "HOST:PORT" into host (no brackets) and port. Returns 0 or -1.
static int
s_split (const char *listen, char *host, size_t host_size, unsigned *port, const char **why)
{
    *why = "must be HOST:PORT, e.g. 127.0.0.1:9464";
    if (!listen || !*listen)
        return -1;
    const char *colon = strrchr (listen, ':');
    if (!colon || colon == listen)
        return -1;
    const char *start = listen, *end = colon;
    if (*start == '[') {
        if (end [-1] != ']')
            return -1;
        start++;
        end--;
    }
    size_t length = (size_t) (end - start);
    if (length == 0 || length >= host_size)
        return -1;
    memcpy (host, start, length);
    host [length] = 0;
    char *stop = NULL;
    long value = strtol (colon + 1, &stop, 10);
    if (!colon [1] || *stop || value < 0 || value > 65535) {
        *why = "the port must be a number in 0..65535 (0 = any free port)";
        return -1;
    }
    *port = (unsigned) value;
    if (streq (host, "localhost"))
        snprintf (host, host_size, "127.0.0.1");
    return 0;
}

//  Resolve a numeric host and port. Returns 0 or -1.
static int
s_resolve (const char *listen, struct sockaddr_storage *address, socklen_t *size,
           const char **why)
{
    char host [256];
    unsigned port;
    if (s_split (listen, host, sizeof host, &port, why))
        return -1;
    struct addrinfo hints = { 0 }, *found = NULL;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    char service [16];
    snprintf (service, sizeof service, "%u", port);
    if (getaddrinfo (host, service, &hints, &found) || !found) {
        *why = "the host must be an IP address or localhost";
        return -1;
    }
    memcpy (address, found->ai_addr, found->ai_addrlen);
    *size = found->ai_addrlen;
    freeaddrinfo (found);
    return 0;
}

//  Check a listen address.
int
wp_http_check_listen (const char *listen, const char **why)
{
    struct sockaddr_storage address;
    socklen_t size;
    return s_resolve (listen, &address, &size, why);
}

//  Errors of libmicrohttpd go to our log.
static void
s_log (void *arg, const char *format, va_list args)
{
    char message [512];
    vsnprintf (message, sizeof message, format, args);
    size_t length = strlen (message);
    while (length && (message [length - 1] == '\n' || message [length - 1] == '\r'))
        message [--length] = 0;
    zsys_warning ("http: %s", message);
}

//  Queue a response; takes the body.
static enum MHD_Result
s_respond (struct MHD_Connection *connection, wp_http_response_t *response)
{
    struct MHD_Response *reply = MHD_create_response_from_buffer (
        response->size, response->body,
        response->borrowed ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
    if (!reply) {
        if (!response->borrowed)
            free (response->body);
        return MHD_NO;
    }
    MHD_add_response_header (reply, "Content-Type", response->content_type);
    MHD_add_response_header (reply, "Cache-Control", "no-store");
    MHD_add_response_header (reply, "X-Content-Type-Options", "nosniff");
    if (response->extra_header) {
        char name [64];
        const char *colon = strchr (response->extra_header, ':');
        if (colon && (size_t) (colon - response->extra_header) < sizeof name) {
            memcpy (name, response->extra_header, (size_t) (colon - response->extra_header));
            name [colon - response->extra_header] = 0;
            const char *value = colon + 1;
            while (*value == ' ')
                value++;
            MHD_add_response_header (reply, name, value);
        }
    }
    enum MHD_Result rc = MHD_queue_response (connection, (unsigned) response->status, reply);
    MHD_destroy_response (reply);
    return rc;
}

//  A plain-text error answer.
static enum MHD_Result
s_refuse (wp_http_t *self, struct MHD_Connection *connection, int status,
          const char *text, const char *extra_header)
{
    self->refused++;
    wp_http_response_t response = { status, "text/plain; charset=utf-8", (char *) text,
                                    strlen (text), true, extra_header };
    return s_respond (connection, &response);
}

//  Every request: check it, then ask the handler.
static enum MHD_Result
s_request (void *cls, struct MHD_Connection *connection, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **request_state)
{
    wp_http_t *self = (wp_http_t *) cls;
    *request_state = &s_seen;
    if (!streq (method, "GET") && !streq (method, "HEAD"))
        return s_refuse (self, connection, 405, "method not allowed: GET or HEAD only\n",
                         "Allow: GET, HEAD");
    //  A GET with a body: refuse before reading it
    const char *length = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                      "Content-Length");
    const char *chunked = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                       "Transfer-Encoding");
    if ((length && !streq (length, "0")) || chunked || *upload_data_size)
        return s_refuse (self, connection, 413, "a request body is not accepted\n", NULL);
    if (!url || url [0] != '/')
        return s_refuse (self, connection, 400, "bad request path\n", NULL);
    if (strlen (url) > WP_HTTP_PATH_MAX)
        return s_refuse (self, connection, 414, "request path too long\n", NULL);
    wp_http_response_t response = { 0 };
    if (self->handler (url, &response, self->arg) != 0 || !response.content_type) {
        if (response.body && !response.borrowed)
            free (response.body);
        self->refused++;
        wp_http_response_t failed = { 500, "text/plain; charset=utf-8",
                                      (char *) "internal error\n", 15, true, NULL };
        return s_respond (connection, &failed);
    }
    self->requests++;
    return s_respond (connection, &response);
}

static int s_timer (zloop_t *loop, int timer_id, void *arg);

//  Connections open now.
static unsigned
s_connections (wp_http_t *self)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (
        self->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info ? info->num_connections : 0;
}

//  Let libmicrohttpd work, then arm the timer for its next timeout.
//  At the connection limit MHD takes its listen socket out of its epoll
//  set, and puts it back only at the start of a later run. A run that
//  closed connections therefore needs another run: else, when no other
//  event and no timeout comes (the last connections closed), a client
//  waiting to be accepted is never served.
static void
s_work (wp_http_t *self)
{
    MHD_UNSIGNED_LONG_LONG timeout = 0;
    bool again = false;
    //  A zero timeout means work is ready now: run again, a bounded number
    //  of times so the loop's other readers are not starved.
    for (int round = 0; round < 16; round++) {
        unsigned before = s_connections (self);
        MHD_run (self->daemon);
        again = s_connections (self) < before;
        if (again)
            continue;
        if (MHD_get_timeout (self->daemon, &timeout) != MHD_YES || timeout > 0)
            break;
    }
    if (self->timer_id != -1) {
        zloop_timer_end (self->loop, self->timer_id);
        self->timer_id = -1;
    }
    if (again)
        self->timer_id = zloop_timer (self->loop, 1, 1, s_timer, self);
    else
    if (MHD_get_timeout (self->daemon, &timeout) == MHD_YES) {
        size_t delay = timeout < 1 ? 1 : timeout > 60000 ? 60000 : (size_t) timeout;
        self->timer_id = zloop_timer (self->loop, delay, 1, s_timer, self);
    }
}

//  The timer fired.
static int
s_timer (zloop_t *loop, int timer_id, void *arg)
{
    wp_http_t *self = (wp_http_t *) arg;
    self->timer_id = -1;       //  a one-shot timer ends itself
    s_work (self);
    return 0;
}

//  The epoll descriptor is readable.
static int
s_run (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_work ((wp_http_t *) arg);
    return 0;
}

//  A listening socket for a listen address.
int
wp_http_listen_socket (const char *where, int backlog, char *endpoint, size_t size)
{
    struct sockaddr_storage address;
    socklen_t address_size;
    const char *why = NULL;
    if (s_resolve (where, &address, &address_size, &why)) {
        zsys_error ("http: bad listen address '%s': %s", where ? where : "", why);
        return -1;
    }
    int fd = socket (address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        zsys_error ("http: cannot create a socket: %s", strerror (errno));
        return -1;
    }
    int on = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind (fd, (struct sockaddr *) &address, address_size) || listen (fd, backlog)) {
        zsys_error ("http: cannot listen on %s: %s", where, strerror (errno));
        close (fd);
        return -1;
    }
    //  The real address, for port 0
    struct sockaddr_storage bound;
    socklen_t bound_size = sizeof bound;
    getsockname (fd, (struct sockaddr *) &bound, &bound_size);
    char host [INET6_ADDRSTRLEN] = "?";
    if (bound.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &bound;
        inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf (endpoint, size, "[%s]:%u", host, ntohs (in6->sin6_port));
    }
    else {
        struct sockaddr_in *in4 = (struct sockaddr_in *) &bound;
        inet_ntop (AF_INET, &in4->sin_addr, host, sizeof host);
        snprintf (endpoint, size, "%s:%u", host, ntohs (in4->sin_port));
    }
    return fd;
}

//  Start serving.
wp_http_t *
wp_http_new (zloop_t *loop, const char *where, wp_http_handler_fn *handler, void *arg)
{
    assert (loop && handler);
    char endpoint [320];
    int fd = wp_http_listen_socket (where, 64, endpoint, sizeof endpoint);
    if (fd < 0)
        return NULL;
    wp_http_t *self = (wp_http_t *) zmalloc (sizeof (wp_http_t));
    assert (self);
    self->loop = loop;
    self->handler = handler;
    self->arg = arg;
    self->timer_id = -1;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", endpoint);

    self->daemon = MHD_start_daemon (
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, s_request, self,
        MHD_OPTION_EXTERNAL_LOGGER, s_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) WP_HTTP_CONNECTIONS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) WP_HTTP_CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) WP_HTTP_IDLE_S,
        MHD_OPTION_END);
    if (!self->daemon) {
        zsys_error ("http: cannot start the HTTP server on %s", self->endpoint);
        close (fd);
        free (self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_EPOLL_FD);
    assert (info);
    self->item.fd = info->epoll_fd;
    self->item.events = ZMQ_POLLIN;
    if (zloop_poller (loop, &self->item, s_run, self)) {
        zsys_error ("http: cannot poll the HTTP server");
        MHD_stop_daemon (self->daemon);     //  closes fd
        free (self);
        return NULL;
    }
    return self;
}

//  Stop serving.
void
wp_http_destroy (wp_http_t **self_p)
{
    assert (self_p);
    wp_http_t *self = *self_p;
    if (!self)
        return;
    zloop_poller_end (self->loop, &self->item);
    if (self->timer_id != -1)
        zloop_timer_end (self->loop, self->timer_id);
    MHD_stop_daemon (self->daemon);         //  closes every socket
    free (self);
    *self_p = NULL;
}

//  Where the server listens.
const char *
wp_http_endpoint (wp_http_t *self)
{
    assert (self);
    return self->endpoint;
}

//  Connections open now.
unsigned
wp_http_connections (wp_http_t *self)
{
    assert (self);
    return s_connections (self);
}

//  Requests answered.
uint64_t
wp_http_requests (wp_http_t *self)
{
    assert (self);
    return self->requests;
}

//  Requests refused.
uint64_t
wp_http_refused (wp_http_t *self)
{
    assert (self);
    return self->refused;
}
