/*  =========================================================================
    test_http - the HTTP server in a zloop of the test's own thread: it
    answers a GET; and once it was at its connection limit and every one
    of those connections closed at once, a client waiting to be accepted
    is still served (the listen socket is watched again).
    =========================================================================
*/
#include "testutil.h"
#include "wp_http.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Answers every path with "ok".
static int
s_handler (const char *path, wp_http_response_t *response, void *arg)
{
    response->status = 200;
    response->content_type = "text/plain";
    response->body = (char *) "ok\n";
    response->size = 3;
    response->borrowed = true;
    return 0;
}

//  A client socket connected to "127.0.0.1:port" (the kernel completes
//  the connection; the server accepts it when its loop runs).
static int
s_connect (const char *endpoint)
{
    const char *colon = strrchr (endpoint, ':');
    assert_non_null (colon);
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_port = htons ((uint16_t) atoi (colon + 1));
    assert_int_equal (inet_pton (AF_INET, "127.0.0.1", &address.sin_addr), 1);
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    assert_int_equal (connect (fd, (struct sockaddr *) &address, sizeof address), 0);
    return fd;
}

//  What one run of the loop waits for.
typedef struct {
    wp_http_t *http;
    unsigned connections;   //  the server has this many open, or
    int client;             //  this client socket became readable (-1: none)
    bool done;              //  out: it happened before the bound
} run_t;

//  Ends the loop once the server holds the connections wanted.
static int
s_count (zloop_t *loop, int timer_id, void *arg)
{
    run_t *run = (run_t *) arg;
    if (wp_http_connections (run->http) != run->connections)
        return 0;
    run->done = true;
    return -1;
}

//  Ends the loop when the client has an answer to read.
static int
s_answered (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    ((run_t *) arg)->done = true;
    return -1;
}

//  Ends the loop: the bound passed.
static int
s_bound (zloop_t *loop, int timer_id, void *arg)
{
    return -1;
}

//  Run the loop until what run waits for happens or bound_ms passes.
static void
s_run (zloop_t *loop, run_t *run, int bound_ms)
{
    run->done = false;
    int bound = zloop_timer (loop, (size_t) wp_test_ms (bound_ms), 1, s_bound, run);
    int count = -1;
    zmq_pollitem_t item = { NULL, run->client, ZMQ_POLLIN, 0 };
    if (run->client >= 0)
        assert_int_equal (zloop_poller (loop, &item, s_answered, run), 0);
    else
        count = zloop_timer (loop, 5, 0, s_count, run);
    zloop_start (loop);
    zloop_timer_end (loop, bound);
    if (count != -1)
        zloop_timer_end (loop, count);
    if (run->client >= 0)
        zloop_poller_end (loop, &item);
}

//  Send a GET on fd and read the answer until the server closes.
static void
s_expect_ok (zloop_t *loop, run_t *run, int fd)
{
    const char *request = "GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_int_equal (send (fd, request, strlen (request), MSG_NOSIGNAL),
                      (ssize_t) strlen (request));
    run->client = fd;
    s_run (loop, run, 10000);
    if (!run->done)
        fail_msg ("no answer within %d ms (%u connections open)", wp_test_ms (10000),
                  wp_http_connections (run->http));
    //  The whole answer, driving the loop while the server still writes.
    char answer [4096];
    size_t length = 0;
    while (length < sizeof answer - 1) {
        ssize_t n = recv (fd, answer + length, sizeof answer - 1 - length, MSG_DONTWAIT);
        if (n == 0)
            break;
        if (n > 0) {
            length += (size_t) n;
            continue;
        }
        s_run (loop, run, 10000);
        assert_true (run->done);
    }
    answer [length] = 0;
    assert_non_null (strstr (answer, "HTTP/1.1 200"));
    assert_non_null (strstr (answer, "\r\n\r\nok\n"));
    close (fd);
}

//  A plain GET is answered.
static void
test_get (void **state)
{
    zloop_t *loop = zloop_new ();
    wp_http_t *http = wp_http_new (loop, "127.0.0.1:0", s_handler, NULL);
    assert_non_null (http);
    run_t run = { http, 0, -1, false };
    s_expect_ok (loop, &run, s_connect (wp_http_endpoint (http)));
    assert_int_equal (wp_http_requests (http), 1);
    wp_http_destroy (&http);
    zloop_destroy (&loop);
}

//  At the limit the listen socket is set aside; when every connection
//  closes in one go (one run of the server sees them all), the next
//  client must still be accepted though no timeout is pending.
static void
test_limit_then_all_closed (void **state)
{
    zloop_t *loop = zloop_new ();
    wp_http_t *http = wp_http_new (loop, "127.0.0.1:0", s_handler, NULL);
    assert_non_null (http);
    const char *endpoint = wp_http_endpoint (http);
    int idle [WP_HTTP_CONNECTIONS];
    for (int i = 0; i < WP_HTTP_CONNECTIONS; i++)
        idle [i] = s_connect (endpoint);
    run_t run = { http, WP_HTTP_CONNECTIONS, -1, false };
    s_run (loop, &run, 10000);
    if (!run.done)
        fail_msg ("the server holds %u connections, not %d", wp_http_connections (http),
                  WP_HTTP_CONNECTIONS);
    //  All close while the server's loop is not running; the next client
    //  waits in the listen backlog.
    for (int i = 0; i < WP_HTTP_CONNECTIONS; i++)
        close (idle [i]);
    int next = s_connect (endpoint);
    s_expect_ok (loop, &run, next);
    assert_int_equal (wp_http_requests (http), 1);
    wp_http_destroy (&http);
    zloop_destroy (&loop);
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_get),
        cmocka_unit_test (test_limit_then_all_closed),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
