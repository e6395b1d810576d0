/*  =========================================================================
    istream.h - a streaming model server stand-in for the proxy's tests,
    on 127.0.0.1:0, a thread per connection (keep-alive), and a blocking
    HTTP/1.1 client that reads chunked answers chunk by chunk.

    The server answers:
      * a POST whose body holds "gate": the first event of a server-sent
        event stream at once, then waits for istream_release (or for the
        client to leave: counted in `cancelled`) before the rest;
      * a POST to an OpenAI path: ISTREAM_SSE, events flushed one by one;
      * a POST to an Ollama path (/api/...): ISTREAM_NDJSON, line by line;
      * anything else: 200 with a JSON body naming the method and path.
    Every answer carries "X-Upstream: istream". It counts requests and
    keeps the last body. Only the test thread calls cmocka.
    =========================================================================
*/
#ifndef WP_ISTREAM_H_INCLUDED
#define WP_ISTREAM_H_INCLUDED

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

//  The events of a stream, in order (the gated stream: the same).
static const char *const istream_events [] = {
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\" world\"}}]}\n\n",
    "data: [DONE]\n\n",
    NULL
};
static const char *const istream_lines [] = {
    "{\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}\n",
    "{\"message\":{\"role\":\"assistant\",\"content\":\"lo\"},\"done\":false}\n",
    "{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true}\n",
    NULL
};

#define ISTREAM_CONNECTIONS 64

typedef struct {
    int listener;               //  listening socket
    int port;
    int gate [2];               //  pipe: one byte releases one gated stream
    pthread_t thread;           //  the accept loop
    pthread_mutex_t lock;       //  guards what follows
    pthread_t workers [ISTREAM_CONNECTIONS];
    int fds [ISTREAM_CONNECTIONS];
    int n_workers;
    int requests;               //  requests answered (or started)
    int cancelled;              //  gated streams whose client left
    int gated;                  //  gated streams that (are about to) send their first event
    char last_body [8192];      //  the last request body
    bool stopping;
} istream_t;

//  Send all of it; -1 when the peer is gone.
static inline int
istream_send (int fd, const char *data, size_t size)
{
    while (size) {
        ssize_t n = send (fd, data, size, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        data += n;
        size -= (size_t) n;
    }
    return 0;
}

//  Send one chunk of a chunked body, in one write.
static inline int
istream_chunk (int fd, const char *data)
{
    char chunk [4096];
    int size = snprintf (chunk, sizeof chunk, "%zx\r\n%s\r\n", strlen (data), data);
    return size > 0 && (size_t) size < sizeof chunk ? istream_send (fd, chunk, (size_t) size)
                                                    : -1;
}

typedef struct {
    istream_t *self;
    int fd;
} istream_conn_t;

//  Serve one connection until it closes.
static inline void *
istream_worker (void *arg)
{
    istream_conn_t conn = *(istream_conn_t *) arg;
    free (arg);
    istream_t *self = conn.self;
    int fd = conn.fd;
    static __thread char buffer [1 << 20];
    size_t used = 0;
    while (true) {
        char *end = NULL;
        while (!(end = memmem (buffer, used, "\r\n\r\n", 4))) {
            if (used == sizeof buffer)
                goto done;
            ssize_t n = recv (fd, buffer + used, sizeof buffer - used, 0);
            if (n <= 0)
                goto done;
            used += (size_t) n;
        }
        size_t head = (size_t) (end - buffer) + 4;
        char method [16] = "", path [512] = "";
        sscanf (buffer, "%15s %511s", method, path);
        size_t length = 0;
        char *field = NULL;
        for (char *line = strstr (buffer, "\r\n"); line && line < end;
             line = strstr (line + 2, "\r\n"))
            if (strncasecmp (line + 2, "Content-Length:", 15) == 0)
                field = line + 17;
        if (field)
            length = (size_t) atol (field);
        if (head + length > sizeof buffer)
            goto done;
        while (used < head + length) {
            ssize_t n = recv (fd, buffer + used, sizeof buffer - used, 0);
            if (n <= 0)
                goto done;
            used += (size_t) n;
        }
        char body [8192];
        size_t kept = length < sizeof body - 1 ? length : sizeof body - 1;
        memcpy (body, buffer + head, kept);
        body [kept] = 0;
        pthread_mutex_lock (&self->lock);
        self->requests++;
        snprintf (self->last_body, sizeof self->last_body, "%s", body);
        pthread_mutex_unlock (&self->lock);
        memmove (buffer, buffer + head + length, used - head - length);
        used -= head + length;

        const char *stream_head = "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                                  "X-Upstream: istream\r\nTransfer-Encoding: chunked\r\n\r\n";
        char text [512];
        bool gated = strstr (body, "\"gate\"") != NULL;
        bool ollama = strncmp (path, "/api/", 5) == 0;
        if (strcmp (method, "POST") == 0 && (gated || strstr (path, "completion")
                                       || strstr (path, "/api/chat"))) {
            snprintf (text, sizeof text, stream_head,
                      ollama ? "application/x-ndjson" : "text/event-stream");
            const char *const *parts = ollama ? istream_lines : istream_events;
            if (gated) {
                //  Counted before the first event leaves: a client that has
                //  read it sees the count
                pthread_mutex_lock (&self->lock);
                self->gated++;
                pthread_mutex_unlock (&self->lock);
            }
            if (istream_send (fd, text, strlen (text)) || istream_chunk (fd, parts [0]))
                goto done;
            if (gated) {
                //  Wait for the test's release, or for the client to leave
                struct pollfd items [2] = { { self->gate [0], POLLIN, 0 },
                                            { fd, POLLRDHUP, 0 } };
                while (true) {
                    poll (items, 2, -1);
                    if (items [1].revents) {
                        pthread_mutex_lock (&self->lock);
                        self->cancelled++;
                        pthread_mutex_unlock (&self->lock);
                        goto done;
                    }
                    char byte;
                    if (read (self->gate [0], &byte, 1) == 1)
                        break;
                }
            }
            for (int i = 1; parts [i]; i++)
                if (istream_chunk (fd, parts [i]))
                    goto done;
            if (istream_send (fd, "0\r\n\r\n", 5))
                goto done;
        }
        else {
            char json [700];
            snprintf (json, sizeof json, "{\"method\":\"%s\",\"path\":\"%.500s\"}", method, path);
            snprintf (text, sizeof text, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "X-Upstream: istream\r\nContent-Length: %zu\r\n\r\n", strlen (json));
            if (istream_send (fd, text, strlen (text)) || istream_send (fd, json, strlen (json)))
                goto done;
        }
    }
done:
    shutdown (fd, SHUT_RDWR);
    return NULL;
}

//  Accept connections until stopped.
static inline void *
istream_accept (void *arg)
{
    istream_t *self = (istream_t *) arg;
    while (true) {
        int fd = accept (self->listener, NULL, NULL);
        pthread_mutex_lock (&self->lock);
        bool stop = self->stopping || self->n_workers == ISTREAM_CONNECTIONS;
        if (fd >= 0 && !stop) {
            int on = 1;     //  as model servers do: no Nagle delay on small writes
            setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
            istream_conn_t *conn = (istream_conn_t *) malloc (sizeof *conn);
            conn->self = self;
            conn->fd = fd;
            self->fds [self->n_workers] = fd;
            pthread_create (&self->workers [self->n_workers++], NULL, istream_worker, conn);
        }
        else
        if (fd >= 0)
            close (fd);
        pthread_mutex_unlock (&self->lock);
        if (stop || fd < 0)
            break;
    }
    return NULL;
}

//  Start the server.
static inline void
istream_start (istream_t *self)
{
    memset (self, 0, sizeof *self);
    pthread_mutex_init (&self->lock, NULL);
    self->listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int rc = bind (self->listener, (struct sockaddr *) &address, sizeof address);
    rc |= listen (self->listener, 64);
    socklen_t size = sizeof address;
    rc |= getsockname (self->listener, (struct sockaddr *) &address, &size);
    rc |= pipe (self->gate);
    if (rc) {
        perror ("istream");
        abort ();
    }
    self->port = ntohs (address.sin_port);
    pthread_create (&self->thread, NULL, istream_accept, self);
}

//  Release one gated stream.
static inline void
istream_release (istream_t *self)
{
    ssize_t ignored = write (self->gate [1], "x", 1);
    (void) ignored;
}

//  A counter, read under the lock.
static inline int
istream_count (istream_t *self, const int *counter)
{
    pthread_mutex_lock (&self->lock);
    int value = *counter;
    pthread_mutex_unlock (&self->lock);
    return value;
}

//  Stop the server and every connection.
static inline void
istream_stop (istream_t *self)
{
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    for (int i = 0; i < self->n_workers; i++)
        shutdown (self->fds [i], SHUT_RDWR);
    pthread_mutex_unlock (&self->lock);
    shutdown (self->listener, SHUT_RDWR);
    pthread_join (self->thread, NULL);
    for (int i = 0; i < self->n_workers; i++) {
        istream_release (self);
        pthread_join (self->workers [i], NULL);
        close (self->fds [i]);
    }
    close (self->listener);
    close (self->gate [0]);
    close (self->gate [1]);
    pthread_mutex_destroy (&self->lock);
}

//  ---------------------------------------------------------------------------
//  A client that reads chunk by chunk

typedef struct {
    int fd;
    char data [1 << 16];        //  bytes received, not yet consumed
    size_t used;
    int status;
    char head [4096];           //  status line and headers
    bool chunked;
    long length;                //  Content-Length, -1 = none
} iclient_t;

//  Connect to "127.0.0.1:port" and send a request. Returns 0 or -1.
static inline int
iclient_open (iclient_t *self, const char *endpoint, const char *request, size_t size)
{
    memset (self, 0, sizeof *self);
    char host [64];
    int port = 0;
    if (sscanf (endpoint, "%63[^:]:%d", host, &port) != 2)
        return -1;
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_port = htons ((uint16_t) port);
    inet_pton (AF_INET, host, &address.sin_addr);
    self->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval timeout = { 20, 0 };
    setsockopt (self->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (connect (self->fd, (struct sockaddr *) &address, sizeof address))
        return -1;
    return istream_send (self->fd, request, size);
}

//  Read until n bytes are buffered. Returns 0 or -1.
static inline int
iclient_fill (iclient_t *self, size_t n)
{
    while (self->used < n) {
        if (self->used == sizeof self->data)
            return -1;
        ssize_t got = recv (self->fd, self->data + self->used, sizeof self->data - self->used, 0);
        if (got <= 0)
            return -1;
        self->used += (size_t) got;
    }
    return 0;
}

//  Drop n consumed bytes.
static inline void
iclient_consume (iclient_t *self, size_t n)
{
    memmove (self->data, self->data + n, self->used - n);
    self->used -= n;
}

//  Read the status line and headers. Returns 0 or -1.
static inline int
iclient_head (iclient_t *self)
{
    char *end;
    while (!(end = memmem (self->data, self->used, "\r\n\r\n", 4)))
        if (iclient_fill (self, self->used + 1))
            return -1;
    size_t size = (size_t) (end - self->data) + 4;
    snprintf (self->head, sizeof self->head, "%.*s", (int) size, self->data);
    iclient_consume (self, size);
    self->status = atoi (self->head + 9);
    self->chunked = strcasestr (self->head, "Transfer-Encoding: chunked") != NULL;
    const char *length = strcasestr (self->head, "\r\nContent-Length:");
    self->length = length ? atol (length + 17) : -1;
    return 0;
}

//  Read the next chunk of a chunked body into out (NUL-terminated).
//  Returns its size, 0 at the end, -1 on error.
static inline long
iclient_chunk (iclient_t *self, char *out, size_t capacity)
{
    char *eol;
    while (!(eol = memmem (self->data, self->used, "\r\n", 2)))
        if (iclient_fill (self, self->used + 1))
            return -1;
    long size = strtol (self->data, NULL, 16);
    size_t line = (size_t) (eol - self->data) + 2;
    if (size < 0 || (size_t) size + 1 > capacity || iclient_fill (self, line + (size_t) size + 2))
        return -1;
    memcpy (out, self->data + line, (size_t) size);
    out [size] = 0;
    iclient_consume (self, line + (size_t) size + 2);
    return size;
}

//  The whole body (after iclient_head) into out, chunked or not. Returns
//  its length or -1.
static inline long
iclient_body (iclient_t *self, char *out, size_t capacity)
{
    size_t total = 0;
    if (self->chunked) {
        long n;
        while ((n = iclient_chunk (self, out + total, capacity - total)) > 0)
            total += (size_t) n;
        return n < 0 ? -1 : (long) total;
    }
    if (self->length < 0 || (size_t) self->length + 1 > capacity
        || iclient_fill (self, (size_t) self->length))
        return -1;
    memcpy (out, self->data, (size_t) self->length);
    out [self->length] = 0;
    iclient_consume (self, (size_t) self->length);
    return self->length;
}

//  Close.
static inline void
iclient_close (iclient_t *self)
{
    if (self->fd > 0)
        close (self->fd);
    self->fd = -1;
}

#endif
