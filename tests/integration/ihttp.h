/*  =========================================================================
    ihttp.h - what the tests that talk HTTP share: a blocking HTTP/1.1
    client for loopback servers (one request per connection), finding the
    metrics endpoint a program logged, and polling an URL until its body
    says what the test waits for (a bounded number of tries, never a
    fixed sleep).
    =========================================================================
*/
#ifndef WP_IHTTP_H_INCLUDED
#define WP_IHTTP_H_INCLUDED

#include "testutil.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  One answer.
typedef struct {
    int status;         //  HTTP status, or -1 when there was no answer
    char *head;         //  status line and headers
    char *body;         //  body (NUL-terminated)
    size_t size;        //  body length, bytes
} ihttp_reply_t;

//  Free a reply's strings.
static inline void
ihttp_reply_free (ihttp_reply_t *reply)
{
    free (reply->head);
    free (reply->body);
    memset (reply, 0, sizeof *reply);
    reply->status = -1;
}

//  A connected socket to "host:port" (IPv4), or -1.
static inline int
ihttp_connect (const char *endpoint)
{
    char host [64];
    int port = 0;
    if (sscanf (endpoint, "%63[^:]:%d", host, &port) != 2)
        return -1;
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_port = htons ((uint16_t) port);
    if (inet_pton (AF_INET, host, &address.sin_addr) != 1)
        return -1;
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval timeout = { 10, 0 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect (fd, (struct sockaddr *) &address, sizeof address)) {
        close (fd);
        return -1;
    }
    return fd;
}

//  Send raw request bytes and read the answer until the server closes.
static inline ihttp_reply_t
ihttp_raw (const char *endpoint, const char *request, size_t length)
{
    ihttp_reply_t reply = { -1, NULL, NULL, 0 };
    int fd = ihttp_connect (endpoint);
    if (fd < 0)
        return reply;
    size_t sent = 0;
    while (sent < length) {
        ssize_t n = send (fd, request + sent, length - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t) n;
    }
    size_t cap = 65536, len = 0;
    char *data = malloc (cap + 1);
    assert_non_null (data);
    while (true) {
        if (len == cap) {
            cap *= 2;
            data = realloc (data, cap + 1);
            assert_non_null (data);
        }
        ssize_t n = recv (fd, data + len, cap - len, 0);
        if (n <= 0)
            break;
        len += (size_t) n;
    }
    close (fd);
    data [len] = 0;
    char *end = strstr (data, "\r\n\r\n");
    if (strncmp (data, "HTTP/1.", 7) != 0 || !end) {
        free (data);
        return reply;
    }
    reply.status = atoi (data + 9);
    size_t head = (size_t) (end - data);
    reply.head = strndup (data, head);
    reply.size = len - head - 4;
    reply.body = malloc (reply.size + 1);
    assert_non_null (reply.body);
    memcpy (reply.body, end + 4, reply.size);
    reply.body [reply.size] = 0;
    free (data);
    return reply;
}

//  A request with method and path, closing the connection after.
static inline ihttp_reply_t
ihttp_request (const char *endpoint, const char *method, const char *path)
{
    char request [4096];
    int length = snprintf (request, sizeof request,
                           "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                           method, path, endpoint);
    return ihttp_raw (endpoint, request, (size_t) length);
}

//  A request with extra headers (each ending in \r\n, may be NULL) and a
//  body (may be NULL), closing the connection after.
static inline ihttp_reply_t
ihttp_send (const char *endpoint, const char *method, const char *path, const char *headers,
            const char *body)
{
    size_t size = strlen (body ? body : "") + strlen (headers ? headers : "") + 1024;
    char *request = (char *) malloc (size);
    assert_non_null (request);
    int length = snprintf (request, size, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                           "%sContent-Length: %zu\r\n\r\n%s", method, path, endpoint,
                           headers ? headers : "", strlen (body ? body : ""),
                           body ? body : "");
    ihttp_reply_t reply = ihttp_raw (endpoint, request, (size_t) length);
    free (request);
    return reply;
}

//  GET path.
static inline ihttp_reply_t
ihttp_get (const char *endpoint, const char *path)
{
    return ihttp_request (endpoint, "GET", path);
}

//  The endpoint "host:port" a program logged after marker ("proxy:
//  serving http://").
static inline void
ihttp_endpoint_after (wp_test_proc_t *proc, const char *marker, char *endpoint, size_t size)
{
    const char *output = wp_test_proc_output (proc);
    const char *at = strstr (output, marker);
    if (!at)
        fail_msg ("no '%s' line in:\n%s", marker, output);
    at += strlen (marker);
    size_t length = strcspn (at, "/ \n");
    assert_true (length < size);
    memcpy (endpoint, at, length);
    endpoint [length] = 0;
}

//  The metrics endpoint "host:port" a program logged ("serving http://").
static inline void
ihttp_endpoint_of (wp_test_proc_t *proc, char *endpoint, size_t size)
{
    ihttp_endpoint_after (proc, "serving http://", endpoint, size);
}

#ifdef WP_ITEST_H_INCLUDED
//  Start the deployment's warmupd with its proxy on a free port, passing
//  requests to upstream (NULL: none); its "host:port" into endpoint.
static inline wp_test_proc_t *
ihttp_start_proxy (itest_t *it, const char *upstream, char *endpoint, size_t size)
{
    char *path = wp_test_bin ("warmupd");
    const char *argv [] = { path, "-c", it->config, "--proxy-listen", "127.0.0.1:0",
                            upstream ? "--proxy-upstream" : NULL, upstream, NULL };
    wp_test_proc_t *daemon = wp_test_spawn (argv);
    free (path);
    if (wp_test_proc_wait_line (daemon, "ready", ITEST_START_MS, NULL, 0))
        fail_msg ("warmupd did not get ready:\n%s", wp_test_proc_output (daemon));
    ihttp_endpoint_after (daemon, "proxy: serving http://", endpoint, size);
    return daemon;
}
#endif

//  Monotonic milliseconds.
static inline int64_t
ihttp_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  GET path until the body contains needle or timeout_ms (scaled by
//  wp_test_ms) passes; each try waits for the previous answer, and between
//  tries poll() waits on nothing for 50 ms so a failing server is not
//  hammered. Returns the last body (caller frees) and sets *found.
static inline char *
ihttp_wait_for (const char *endpoint, const char *path, const char *needle,
                int timeout_ms, bool *found)
{
    int64_t deadline = ihttp_now_ms () + wp_test_ms (timeout_ms);
    char *last = NULL;
    *found = false;
    while (true) {
        ihttp_reply_t reply = ihttp_get (endpoint, path);
        if (reply.status == 200) {
            free (last);
            last = reply.body;
            reply.body = NULL;
            if (strstr (last, needle)) {
                *found = true;
                ihttp_reply_free (&reply);
                return last;
            }
        }
        ihttp_reply_free (&reply);
        if (ihttp_now_ms () >= deadline)
            return last;
        poll (NULL, 0, 50);
    }
}

#endif
