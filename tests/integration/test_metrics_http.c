/*  =========================================================================
    test_metrics_http - the metrics component's HTTP endpoint in the real
    warmupd: /metrics, /api/snapshot and the dashboard answer with what
    the bus carried; bad requests are refused and the server stays up;
    --metrics-listen works, a port in use or a bad address fails the
    start; warmupctl metrics prints the summary from the bus.
    =========================================================================
*/
#include "itest.h"
#include "ihttp.h"

//  Emit one usage event with an outcome and a wait.
static void
s_emit (itest_t *it, const char *user, const char *model, const char *outcome,
        const char *wait_ms)
{
    const char *args [] = { "emit", "--user", user, "--model", model, "--outcome", outcome,
                            "--wait-ms", wait_ms, NULL };
    char *output = NULL;
    int code = itest_ctl (it, args, &output);
    if (code != 0)
        fail_msg ("warmupctl emit failed (%d): %s", code, output);
    free (output);
}

//  The counters reach /metrics, /api/snapshot and warmupctl metrics.
static void
test_endpoints (void **state)
{
    itest_t it;
    itest_init (&it, "wp-mhttp", "metrics_interval_ms = 100\n");
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    char endpoint [128];
    ihttp_endpoint_of (daemon, endpoint, sizeof endpoint);
    assert_non_null (strstr (endpoint, "127.0.0.1:"));
    assert_string_not_equal (endpoint, "127.0.0.1:0");

    ihttp_reply_t reply = ihttp_get (endpoint, "/metrics");
    assert_int_equal (reply.status, 200);
    assert_non_null (strstr (reply.head, "Content-Type: text/plain; version=0.0.4"));
    assert_non_null (strstr (reply.body, "# TYPE warmup_requests_total counter\n"));
    assert_non_null (strstr (reply.body, "# TYPE warmup_prediction_latency_seconds histogram\n"));
    ihttp_reply_free (&reply);

    s_emit (&it, "ann-7731", "coder-7b", "cold", "1500");
    s_emit (&it, "ann-7731", "coder-7b", "cold", "500");
    s_emit (&it, "ben-4410", "chat-8b", "warm", "0");
    //  Each emit is its own publisher: wait for both models' events (the
    //  counters only grow, so the first stays true in the second body).
    bool found;
    char *body = ihttp_wait_for (endpoint, "/metrics",
                                 "warmup_cold_starts_total{model=\"coder-7b\"} 2\n",
                                 ITEST_EVENT_MS, &found);
    if (!found)
        fail_msg ("the cold starts did not reach /metrics:\n%s", body);
    free (body);
    body = ihttp_wait_for (endpoint, "/metrics", "warmup_requests_total{model=\"chat-8b\"} 1\n",
                           ITEST_EVENT_MS, &found);
    if (!found)
        fail_msg ("the warm request did not reach /metrics:\n%s", body);
    assert_non_null (strstr (body, "warmup_cold_starts_total{model=\"coder-7b\"} 2\n"));
    assert_non_null (strstr (body, "warmup_cold_wait_seconds_total{model=\"coder-7b\"} 2\n"));
    //  No user id anywhere
    assert_null (strstr (body, "ann-7731"));
    assert_null (strstr (body, "ben-4410"));
    free (body);
    //  Each usage's prediction is matched to it (its cause: the usage's
    //  source and seq), so the latency histogram counts all three
    body = ihttp_wait_for (endpoint, "/metrics", "warmup_prediction_latency_seconds_count 3\n",
                           ITEST_EVENT_MS, &found);
    if (!found)
        fail_msg ("the predictions were not matched to their usage events:\n%s", body);
    free (body);
    //  Components report through their heartbeats
    body = ihttp_wait_for (endpoint, "/metrics",
                           "warmup_component_instances{component=\"analyzer\"} 1\n",
                           ITEST_EVENT_MS, &found);
    if (!found)
        fail_msg ("no analyzer heartbeat in /metrics:\n%s", body);
    free (body);

    reply = ihttp_get (endpoint, "/api/snapshot");
    assert_int_equal (reply.status, 200);
    assert_non_null (strstr (reply.head, "Content-Type: application/json"));
    assert_non_null (strstr (reply.body, "\"requests\":3,\"warm\":1,\"delayed\":0,"
                                         "\"cold_starts\":2,"));
    assert_non_null (strstr (reply.body, "\"model\":\"coder-7b\""));
    assert_null (strstr (reply.body, "ann-7731"));
    assert_null (strstr (reply.body, "ben-4410"));
    ihttp_reply_free (&reply);

    reply = ihttp_get (endpoint, "/");
    assert_int_equal (reply.status, 200);
    assert_non_null (strstr (reply.head, "Content-Type: text/html"));
    assert_non_null (strstr (reply.head, "Content-Security-Policy: default-src 'none'"));
    assert_non_null (strstr (reply.body, "<title>warmup"));
    assert_non_null (strstr (reply.body, "/api/snapshot"));
    //  Offline: the page loads nothing from another server (the one
    //  "http://" in it is the SVG namespace name)
    const char *remote [] = { "src=\"http", "href=\"http", "url(http", "@import",
                              "fetch (\"http", "https://", NULL };
    for (int i = 0; remote [i]; i++)
        if (strstr (reply.body, remote [i]))
            fail_msg ("the dashboard refers to another server: %s", remote [i]);
    ihttp_reply_free (&reply);

    //  warmupctl metrics: the summary of the next snapshot on the bus
    char seconds [16];
    snprintf (seconds, sizeof seconds, "%d", wp_test_ms (10000) / 1000);
    const char *args [] = { "metrics", "--timeout", seconds, NULL };
    char *output = NULL;
    assert_int_equal (itest_ctl (&it, args, &output), 0);
    if (!strstr (output, "requests 3 (warm 1, delayed 0, cold_starts 2)")
        || !strstr (output, "total predictions") || !strstr (output, "resource efficiency")
        || !strstr (output, "under_5m") || !strstr (output, "coder-7b")
        || !strstr (output, endpoint))
        fail_msg ("unexpected warmupctl metrics output:\n%s", output);
    free (output);
    const char *json_args [] = { "metrics", "--json", "--timeout", seconds, NULL };
    assert_int_equal (itest_ctl (&it, json_args, &output), 0);
    assert_non_null (strstr (output, "\"topic\":\"metrics.snapshot\""));
    assert_non_null (strstr (output, "\"cold_starts\":2"));
    free (output);

    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
}

//  Requests that break the rules are refused, and the server stays up.
static void
test_bad_requests (void **state)
{
    itest_t it;
    itest_init (&it, "wp-mhttp-bad", NULL);
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    char endpoint [128];
    ihttp_endpoint_of (daemon, endpoint, sizeof endpoint);

    ihttp_reply_t reply = ihttp_request (endpoint, "POST", "/metrics");
    assert_int_equal (reply.status, 405);
    assert_non_null (strstr (reply.head, "Allow: GET, HEAD"));
    ihttp_reply_free (&reply);
    reply = ihttp_request (endpoint, "DELETE", "/api/snapshot");
    assert_int_equal (reply.status, 405);
    ihttp_reply_free (&reply);

    reply = ihttp_get (endpoint, "/no/such/page");
    assert_int_equal (reply.status, 404);
    ihttp_reply_free (&reply);

    //  HEAD: the headers, no body
    reply = ihttp_request (endpoint, "HEAD", "/metrics");
    assert_int_equal (reply.status, 200);
    assert_int_equal (reply.size, 0);
    ihttp_reply_free (&reply);

    //  A GET with a body
    const char *with_body = "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                            "Connection: close\r\n\r\nhello";
    reply = ihttp_raw (endpoint, with_body, strlen (with_body));
    assert_int_equal (reply.status, 413);
    ihttp_reply_free (&reply);

    //  A path over the limit
    char path [400];
    memset (path, 'a', sizeof path - 1);
    path [0] = '/';
    path [sizeof path - 1] = 0;
    reply = ihttp_get (endpoint, path);
    assert_int_equal (reply.status, 414);
    ihttp_reply_free (&reply);

    //  Headers over the per-connection memory: refused, never served
    size_t big = 40000;
    char *huge = malloc (big + 200);
    assert_non_null (huge);
    int at = snprintf (huge, 200, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: ");
    memset (huge + at, 'x', big);
    strcpy (huge + at + big, "\r\nConnection: close\r\n\r\n");
    reply = ihttp_raw (endpoint, huge, strlen (huge));
    assert_true (reply.status != 200);
    ihttp_reply_free (&reply);
    free (huge);

    //  Garbage that is not HTTP at all
    const char *garbage = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n";
    reply = ihttp_raw (endpoint, garbage, strlen (garbage));
    assert_true (reply.status != 200);
    ihttp_reply_free (&reply);

    //  More idle connections than the limit, then closed: still serving
    int fds [48];
    for (int i = 0; i < 48; i++)
        fds [i] = ihttp_connect (endpoint);
    for (int i = 0; i < 48; i++)
        if (fds [i] >= 0)
            close (fds [i]);
    //  The server sees them close and accepts again: the 16 over the
    //  limit waited in the listen queue, and when the last of the 32
    //  closed the listen socket is watched again (wp_http.c, s_work).
    bool found;
    char *body = ihttp_wait_for (endpoint, "/metrics", "warmup_requests_total",
                                 ITEST_EVENT_MS, &found);
    assert_true (found);
    free (body);

    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
}

//  --metrics-listen on warmup-metrics; a port in use and a bad address
//  fail the start with the address named.
static void
test_listen_flag (void **state)
{
    itest_t it;
    itest_init (&it, "wp-mhttp-flag", NULL);
    wp_test_proc_t *bus = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *metrics = itest_start (&it, "warmup-metrics", "--metrics-listen",
                                           "127.0.0.1:0");
    char endpoint [128];
    ihttp_endpoint_of (metrics, endpoint, sizeof endpoint);
    ihttp_reply_t reply = ihttp_get (endpoint, "/api/snapshot");
    assert_int_equal (reply.status, 200);
    ihttp_reply_free (&reply);

    //  The same port again
    char *program = wp_test_bin ("warmup-metrics");
    const char *argv [] = { program, "-c", it.config, "--metrics-listen", endpoint, NULL };
    char *output = NULL;
    assert_int_equal (wp_test_run (argv, ITEST_START_MS, &output), 1);
    if (!strstr (output, endpoint) || !strstr (output, "metrics_listen"))
        fail_msg ("the error does not name the address:\n%s", output);
    free (output);
    //  Not an address
    const char *bad [] = { program, "-c", it.config, "--metrics-listen", "nowhere:http", NULL };
    assert_int_equal (wp_test_run (bad, ITEST_START_MS, &output), 1);
    if (!strstr (output, "metrics_listen") || !strstr (output, "nowhere:http"))
        fail_msg ("the error does not name the key and value:\n%s", output);
    free (output);
    free (program);

    itest_stop (&metrics, "warmup-metrics");
    itest_stop (&bus, "warmup-bus");
    itest_destroy (&it);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_endpoints),
        cmocka_unit_test (test_bad_requests),
        cmocka_unit_test (test_listen_flag),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
