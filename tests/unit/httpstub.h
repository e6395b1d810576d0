/*  =========================================================================
    httpstub.h - a scripted HTTP/1.1 server on 127.0.0.1:0 in a thread of
    the test, standing in for a model server: each route answers with a
    given status and body (a number of times, then the next route for the
    same request takes over), or hangs until the stub stops, or closes
    the connection without a reply. It records every request it got.
    Only the test thread calls cmocka; the server thread only serves.
    =========================================================================
*/
#ifndef WP_HTTPSTUB_H_INCLUDED
#define WP_HTTPSTUB_H_INCLUDED

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define STUB_ROUTES 32
#define STUB_LOG 8192

//  What a route does.
typedef enum { STUB_REPLY, STUB_HANG, STUB_CLOSE } stub_kind_t;

typedef struct {
    char method [8];            //  "GET", "POST"
    char path [256];            //  exact path (with query)
    stub_kind_t kind;
    int status;                 //  STUB_REPLY: HTTP status
    char body [2048];           //  STUB_REPLY: body
    int times;                  //  answers left; 0 = unlimited
} stub_route_t;

typedef struct {
    int listener;               //  listening socket
    int port;                   //  its port
    int wake [2];               //  pipe: stop the thread
    pthread_t thread;
    pthread_mutex_t lock;       //  guards routes and log
    stub_route_t routes [STUB_ROUTES];
    int n_routes;
    char log [STUB_LOG];        //  "METHOD PATH BODY\n" per request
    int requests;               //  requests served
} stub_t;

//  Add a route (before or while serving).
static inline void
stub_route (stub_t *self, const char *method, const char *path, stub_kind_t kind,
            int status, const char *body, int times)
{
    pthread_mutex_lock (&self->lock);
    stub_route_t *route = &self->routes [self->n_routes++];
    memset (route, 0, sizeof *route);
    snprintf (route->method, sizeof route->method, "%s", method);
    snprintf (route->path, sizeof route->path, "%s", path);
    route->kind = kind;
    route->status = status;
    snprintf (route->body, sizeof route->body, "%s", body ? body : "");
    route->times = times;
    pthread_mutex_unlock (&self->lock);
}

//  Read one request from fd; returns 0, -1 on close.
static inline int
stub_read_request (int fd, char *buffer, size_t capacity, char **body)
{
    size_t used = 0;
    char *end = NULL;
    while (!(end = strstr (buffer, "\r\n\r\n"))) {
        if (used + 1 >= capacity)
            return -1;
        ssize_t got = read (fd, buffer + used, capacity - 1 - used);
        if (got <= 0)
            return -1;
        used += (size_t) got;
        buffer [used] = 0;
    }
    size_t length = 0;
    char *header = strcasestr (buffer, "\r\nContent-Length:");
    if (header && header < end)
        length = (size_t) atol (header + 17);
    *body = end + 4;
    while ((size_t) (buffer + used - *body) < length && used + 1 < capacity) {
        ssize_t got = read (fd, buffer + used, capacity - 1 - used);
        if (got <= 0)
            return -1;
        used += (size_t) got;
        buffer [used] = 0;
    }
    return 0;
}

//  Serve connections one at a time until woken.
static inline void *
stub_thread (void *arg)
{
    stub_t *self = (stub_t *) arg;
    while (true) {
        struct pollfd items [2] = { { self->listener, POLLIN, 0 }, { self->wake [0], POLLIN, 0 } };
        if (poll (items, 2, -1) < 0)
            continue;
        if (items [1].revents)
            break;
        int fd = accept (self->listener, NULL, NULL);
        if (fd < 0)
            continue;
        char request [16384] = "";
        char *body = NULL;
        if (stub_read_request (fd, request, sizeof request, &body)) {
            close (fd);
            continue;
        }
        char method [8] = "", path [256] = "";
        sscanf (request, "%7s %255s", method, path);
        pthread_mutex_lock (&self->lock);
        size_t len = strlen (self->log);
        snprintf (self->log + len, sizeof self->log - len, "%s %s %s\n", method, path, body);
        self->requests++;
        stub_route_t route = { .kind = STUB_REPLY, .status = 404 };
        snprintf (route.body, sizeof route.body, "{\"error\":\"no route for %s %s\"}",
                  method, path);
        for (int i = 0; i < self->n_routes; i++) {
            stub_route_t *candidate = &self->routes [i];
            if (strcmp (candidate->method, method) || strcmp (candidate->path, path)
                || candidate->times < 0)
                continue;
            route = *candidate;
            if (candidate->times > 0 && --candidate->times == 0)
                candidate->times = -1;     //  used up
            break;
        }
        pthread_mutex_unlock (&self->lock);
        if (route.kind == STUB_HANG) {
            //  Keep the connection open, say nothing, until the stub stops
            struct pollfd wait = { self->wake [0], POLLIN, 0 };
            poll (&wait, 1, -1);
            close (fd);
            break;
        }
        if (route.kind == STUB_REPLY) {
            char reply [4096];
            int size = snprintf (reply, sizeof reply,
                                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                                 route.status, strlen (route.body), route.body);
            ssize_t ignored = write (fd, reply, (size_t) size);
            (void) ignored;
        }
        close (fd);
    }
    return NULL;
}

//  Start a stub on 127.0.0.1, any port.
static inline void
stub_start (stub_t *self)
{
    memset (self, 0, sizeof *self);
    pthread_mutex_init (&self->lock, NULL);
    self->listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int rc = bind (self->listener, (struct sockaddr *) &address, sizeof address);
    rc |= listen (self->listener, 16);
    socklen_t size = sizeof address;
    rc |= getsockname (self->listener, (struct sockaddr *) &address, &size);
    rc |= pipe (self->wake);
    if (rc) {
        perror ("stub");
        abort ();
    }
    self->port = ntohs (address.sin_port);
    pthread_create (&self->thread, NULL, stub_thread, self);
}

//  Stop the stub (ends a hanging reply too).
static inline void
stub_stop (stub_t *self)
{
    ssize_t ignored = write (self->wake [1], "x", 1);
    (void) ignored;
    pthread_join (self->thread, NULL);
    close (self->listener);
    close (self->wake [0]);
    close (self->wake [1]);
    pthread_mutex_destroy (&self->lock);
}

//  A copy of the request log (caller frees).
static inline char *
stub_log (stub_t *self)
{
    pthread_mutex_lock (&self->lock);
    char *copy = strdup (self->log);
    pthread_mutex_unlock (&self->lock);
    return copy;
}

#endif
