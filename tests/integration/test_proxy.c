/*  =========================================================================
    test_proxy - warmupd --proxy-listen --proxy-upstream in front of a
    streaming model server stand-in (istream.h), driven the way a client
    would: a streamed chat passes through unchanged and chunk by chunk
    (the stand-in holds its second event until the test has read the
    first through the proxy), warmupctl tail shows its usage.observed,
    POST /warmup/v1/predict returns its model; Ollama NDJSON and a bearer
    token (hashed, never spread); every bad input and fault of the issue
    (malformed JSON, no model, a body over proxy/max_body_bytes, the
    upstream down, the client gone mid-stream, 10,000 malformed requests);
    the HTTP API's errors; /healthz of warmupd and of a lone warmup-proxy.
    =========================================================================
*/
#include "itest.h"
#include "ihttp.h"
#include "istream.h"

//  The deployment every test uses.
typedef struct {
    itest_t it;
    istream_t upstream;         //  the model server stand-in
    wp_test_proc_t *daemon;     //  warmupd with the proxy
    char endpoint [64];         //  the proxy's HOST:PORT
    wp_bus_t *bus;              //  usage.observed and prediction.made
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *f = (fixture_t *) calloc (1, sizeof (fixture_t));
    istream_start (&f->upstream);
    char extra [1024];
    snprintf (extra, sizeof extra,
              "proxy\n"
              "    max_body_bytes = 65536\n"
              "models\n"
              "    down\n"
              "        backend = llama-server\n"
              "        url = \"http://127.0.0.1:%d\"\n", itest_free_port ());
    itest_init (&f->it, "wp-proxy", extra);
    char upstream [64];
    snprintf (upstream, sizeof upstream, "http://127.0.0.1:%d", f->upstream.port);
    f->daemon = ihttp_start_proxy (&f->it, upstream, f->endpoint, sizeof f->endpoint);
    const char *topics [] = { "usage.observed", "prediction.made", NULL };
    f->bus = itest_bus (&f->it, topics);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    wp_bus_destroy (&f->bus);
    itest_stop (&f->daemon, "warmupd");
    istream_stop (&f->upstream);
    itest_destroy (&f->it);
    free (f);
    return 0;
}

//  A number in the proxy's counters (GET /warmup/v1/stats): "key" or
//  "group.key" one level deep.
static long
s_stat (const char *endpoint, const char *key)
{
    ihttp_reply_t reply = ihttp_get (endpoint, "/warmup/v1/stats");
    assert_int_equal (reply.status, 200);
    char needle [96];
    const char *dot = strchr (key, '.');
    const char *from = reply.body;
    if (dot) {
        snprintf (needle, sizeof needle, "\"%.*s\":{", (int) (dot - key), key);
        from = strstr (reply.body, needle);
        assert_non_null (from);
        key = dot + 1;
    }
    snprintf (needle, sizeof needle, "\"%s\":", key);
    const char *at = strstr (from, needle);
    if (!at)
        fail_msg ("no %s in %s", needle, reply.body);
    long value = atol (at + strlen (needle));
    ihttp_reply_free (&reply);
    return value;
}

//  Wait until a counter of the proxy reaches at least (or, below, at
//  most) value; false when the bound passed.
static bool
s_stat_wait (const char *endpoint, const char *key, long value, bool below)
{
    int64_t deadline = ihttp_now_ms () + wp_test_ms (ITEST_EVENT_MS);
    while (ihttp_now_ms () < deadline) {
        long now = s_stat (endpoint, key);
        if (below ? now <= value : now >= value)
            return true;
        poll (NULL, 0, 20);
    }
    return false;
}

//  What a usage.observed must say.
typedef struct {
    const char *model;
    int task;
    char user [300];            //  out
    char session [300];         //  out
    uint64_t event_ms;          //  out
    int outcome;                //  out
    uint32_t wait_ms;           //  out
} usage_t;

static bool
s_is_usage (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    usage_t *want = (usage_t *) arg;
    const Warmup__V1__UsageObserved *in = (const Warmup__V1__UsageObserved *) msg;
    if (topic != WP_TOPIC_USAGE || !streq (in->model, want->model) || (int) in->task != want->task)
        return false;
    snprintf (want->user, sizeof want->user, "%s", in->user);
    snprintf (want->session, sizeof want->session, "%s", in->session);
    want->event_ms = in->event_ms;
    want->outcome = in->outcome;
    want->wait_ms = in->wait_ms;
    return true;
}

//  The next usage.observed on the bus (any model) within the bound.
static bool
s_next_usage (wp_bus_t *bus, char *model, size_t size)
{
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    while (zclock_mono () < deadline) {
        wp_bus_event_t event;
        if (wp_bus_recv_wait (bus, &event, 200) != 1)
            continue;
        bool usage = event.topic == WP_TOPIC_USAGE;
        if (usage)
            snprintf (model, size, "%s",
                      ((const Warmup__V1__UsageObserved *) event.msg)->model);
        wp_bus_event_free (&event);
        if (usage)
            return true;
    }
    return false;
}

//  A prediction.made for a user that lists a model.
typedef struct {
    const char *user;
    const char *model;
} prediction_t;

static bool
s_is_prediction (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    prediction_t *want = (prediction_t *) arg;
    const Warmup__V1__PredictionMade *in = (const Warmup__V1__PredictionMade *) msg;
    if (topic != WP_TOPIC_PREDICTION || !streq (in->user, want->user))
        return false;
    for (size_t i = 0; i < in->n_models; i++)
        if (streq (in->models [i]->model, want->model))
            return true;
    return false;
}

//  A streamed chat passes through unchanged, chunk by chunk; its usage
//  shows in warmupctl tail; predict returns its model.
static void
test_stream (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    //  warmupctl tail, as a user would run it
    char *ctl = wp_test_bin ("warmupctl");
    const char *argv [] = { ctl, "-c", f->it.config, "tail", "--topic", "usage.observed",
                            "--count", "1", "--timeout", "60", NULL };
    wp_test_proc_t *tail = wp_test_spawn (argv);
    free (ctl);
    assert_int_equal (wp_test_proc_wait_line (tail, "tail ready", ITEST_START_MS, NULL, 0), 0);

    const char *body = "{\"model\":\"coder\",\"stream\":true,\"gate\":true,"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    char request [1024];
    int length = snprintf (request, sizeof request,
                           "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                           "Content-Type: application/json\r\nX-Warmup-User: alice\r\n"
                           "X-Warmup-Session: s-1\r\nContent-Length: %zu\r\n\r\n%s",
                           strlen (body), body);
    uint64_t sent_ms = wp_wall_us () / 1000;
    iclient_t client;
    assert_int_equal (iclient_open (&client, f->endpoint, request, (size_t) length), 0);
    assert_int_equal (iclient_head (&client), 0);
    assert_int_equal (client.status, 200);
    assert_non_null (strstr (client.head, "X-Upstream: istream"));
    assert_non_null (strstr (client.head, "Content-Type: text/event-stream"));
    //  The first event arrives while the stand-in holds the others back:
    //  nothing is buffered whole
    char chunk [4096], rest [8192] = "";
    assert_true (iclient_chunk (&client, chunk, sizeof chunk) > 0);
    assert_string_equal (chunk, istream_events [0]);
    assert_int_equal (istream_count (&f->upstream, &f->upstream.gated), 1);
    istream_release (&f->upstream);
    long n;
    while ((n = iclient_chunk (&client, chunk, sizeof chunk)) > 0)
        strcat (rest, chunk);
    assert_int_equal (n, 0);
    char expected [8192] = "";
    for (int i = 1; istream_events [i]; i++)
        strcat (expected, istream_events [i]);
    assert_string_equal (rest, expected);
    iclient_close (&client);
    assert_non_null (strstr (f->upstream.last_body, "\"model\":\"coder\""));

    usage_t usage = { .model = "coder", .task = WARMUP__V1__TASK__TASK_CHAT };
    assert_true (itest_wait_event (f->bus, s_is_usage, &usage, ITEST_EVENT_MS));
    //  Hashed by the bus at ingress (docs/security.md): never "alice" past it
    char alice [WP_USER_ID_LEN + 1], session [WP_USER_ID_LEN + 1];
    assert_string_equal (usage.user, itest_user_id (&f->it, "alice", 'u', alice));
    assert_string_equal (usage.session, itest_user_id (&f->it, "s-1", 's', session));
    assert_true (usage.event_ms >= sent_ms - 1000 && usage.event_ms <= sent_ms + 10000);
    assert_int_equal (usage.outcome, WARMUP__V1__OUTCOME__OUTCOME_COLD);
    assert_int_equal (wp_test_proc_wait (tail, ITEST_EVENT_MS), 0);
    const char *tailed = wp_test_proc_output (tail);
    assert_non_null (strstr (tailed, "\"model\":\"coder\""));
    assert_non_null (strstr (tailed, "\"task\":\"TASK_CHAT\""));
    wp_test_proc_destroy (&tail);

    //  The engine predicts for alice; predict answers from what it holds
    prediction_t prediction = { alice, "coder" };
    assert_true (itest_wait_event (f->bus, s_is_prediction, &prediction, ITEST_EVENT_MS));
    ihttp_reply_t reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/predict", NULL,
                                  "{\"user\":\"alice\",\"task\":\"chat\",\"warm\":false}");
    assert_int_equal (reply.status, 200);
    assert_non_null (strstr (reply.body, "\"user\":\"alice\""));
    assert_non_null (strstr (reply.body, "\"model\":\"coder\""));
    assert_non_null (strstr (reply.body, "\"warming\":[]"));
    ihttp_reply_free (&reply);
    //  A second request: the model answered once, so it is warm now
    reply = ihttp_send (f->endpoint, "POST", "/v1/chat/completions", "X-Warmup-User: alice\r\n",
                    "{\"model\":\"coder\"}");
    assert_int_equal (reply.status, 200);
    ihttp_reply_free (&reply);
    usage_t again = { .model = "coder", .task = WARMUP__V1__TASK__TASK_CHAT };
    assert_true (itest_wait_event (f->bus, s_is_usage, &again, ITEST_EVENT_MS));
    assert_int_equal (again.outcome, WARMUP__V1__OUTCOME__OUTCOME_WARM);
}

//  Ollama's NDJSON streams line by line; an embedding; a bearer token is
//  hashed, never published.
static void
test_ollama_and_token (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    ihttp_reply_t reply = ihttp_send (f->endpoint, "POST", "/api/chat",
                                  "Authorization: Bearer sk-secret-token-1\r\n",
                                  "{\"model\":\"llama3\",\"messages\":[]}");
    assert_int_equal (reply.status, 200);
    assert_non_null (strstr (reply.head, "application/x-ndjson"));
    //  ihttp reads the raw bytes: the chunked framing of each line
    for (int i = 0; istream_lines [i]; i++)
        assert_non_null (strstr (reply.body, istream_lines [i]));
    ihttp_reply_free (&reply);
    usage_t usage = { .model = "llama3", .task = WARMUP__V1__TASK__TASK_CHAT };
    assert_true (itest_wait_event (f->bus, s_is_usage, &usage, ITEST_EVENT_MS));
    //  The proxy's "key:" and the token's hash, hashed again by the bus
    uint64_t hash;
    assert_int_equal (wp_user_id_parse (usage.user, &hash), 0);
    assert_null (strstr (usage.user, "secret"));

    reply = ihttp_send (f->endpoint, "POST", "/api/embed", "Authorization: Bearer sk-secret-token-1\r\n",
                    "{\"model\":\"nomic\",\"input\":\"x\"}");
    assert_int_equal (reply.status, 200);
    assert_non_null (strstr (reply.body, "\"path\":\"/api/embed\""));
    ihttp_reply_free (&reply);
    usage_t embed = { .model = "nomic", .task = WARMUP__V1__TASK__TASK_EMBEDDING };
    assert_true (itest_wait_event (f->bus, s_is_usage, &embed, ITEST_EVENT_MS));
    assert_string_equal (embed.user, usage.user);

    //  A route not observed passes through (query string as sent)
    reply = ihttp_get (f->endpoint, "/v1/models?x=%2F1&y");
    assert_int_equal (reply.status, 200);
    assert_non_null (strstr (reply.body, "\"path\":\"/v1/models?x=%2F1&y\""));
    ihttp_reply_free (&reply);
}

//  Malformed bodies pass through unobserved; oversized ones are refused;
//  a bad target, an upstream that is down; the API's errors name fields.
static void
test_bad_input (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    long malformed = s_stat (f->endpoint, "not_observed.malformed");
    long no_model = s_stat (f->endpoint, "not_observed.no_model");
    ihttp_reply_t reply = ihttp_send (f->endpoint, "POST", "/v1/completions", NULL,
                                  "{\"model\": \"half");
    assert_int_equal (reply.status, 200);       //  the server's answer
    ihttp_reply_free (&reply);
    assert_string_equal (f->upstream.last_body, "{\"model\": \"half");
    reply = ihttp_send (f->endpoint, "POST", "/v1/embeddings", NULL, "{\"input\":\"no model\"}");
    assert_int_equal (reply.status, 200);
    ihttp_reply_free (&reply);
    assert_int_equal (s_stat (f->endpoint, "not_observed.malformed"), malformed + 1);
    assert_int_equal (s_stat (f->endpoint, "not_observed.no_model"), no_model + 1);
    //  Neither was observed: the next usage.observed is this one's
    reply = ihttp_send (f->endpoint, "POST", "/v1/embeddings", NULL, "{\"model\":\"after\"}");
    assert_int_equal (reply.status, 200);
    ihttp_reply_free (&reply);
    char model [256];
    assert_true (s_next_usage (f->bus, model, sizeof model));
    assert_string_equal (model, "after");

    //  Over proxy/max_body_bytes (65536): 413 before the body is read
    char *big = (char *) malloc (70001);
    memset (big, 'x', 70000);
    big [70000] = 0;
    reply = ihttp_send (f->endpoint, "POST", "/v1/completions", NULL, big);
    free (big);
    assert_int_equal (reply.status, 413);
    assert_non_null (strstr (reply.body, "\"error\":"));
    assert_non_null (strstr (reply.body, "proxy/max_body_bytes"));
    ihttp_reply_free (&reply);
    assert_true (s_stat (f->endpoint, "too_large") >= 1);

    //  Not a path: this is no forward proxy
    const char *absolute = "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n"
                           "Connection: close\r\n\r\n";
    reply = ihttp_raw (f->endpoint, absolute, strlen (absolute));
    assert_int_equal (reply.status, 400);
    ihttp_reply_free (&reply);

    //  The model's own server is down: 502 with a JSON error, counted
    long errors = s_stat (f->endpoint, "upstream_errors");
    reply = ihttp_send (f->endpoint, "POST", "/v1/completions", NULL, "{\"model\":\"down\"}");
    assert_int_equal (reply.status, 502);
    assert_non_null (strstr (reply.body, "\"error\":\"model server: "));
    assert_non_null (strstr (reply.head, "application/json"));
    ihttp_reply_free (&reply);
    assert_int_equal (s_stat (f->endpoint, "upstream_errors"), errors + 1);
    reply = ihttp_send (f->endpoint, "POST", "/v1/completions", NULL, "{\"model\":\"up\"}");
    assert_int_equal (reply.status, 200);
    ihttp_reply_free (&reply);

    //  The API's errors name the field
    reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/usage", NULL,
                    "[{\"user\":\"u\",\"model\":\"m\"},{\"user\":\"u\",\"modle\":\"m\"}]");
    assert_int_equal (reply.status, 400);
    assert_non_null (strstr (reply.body, "\"field\":\"[1].modle\""));
    ihttp_reply_free (&reply);
    reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/usage", NULL, "{\"user\":\"u\"}");
    assert_int_equal (reply.status, 400);
    assert_non_null (strstr (reply.body, "\"field\":\"model\""));
    ihttp_reply_free (&reply);
    reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/predict", NULL, "{\"task\":\"sing\"}");
    assert_int_equal (reply.status, 400);
    assert_non_null (strstr (reply.body, "\"field\":\"task\""));
    ihttp_reply_free (&reply);
    reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/usage", NULL, "{\"user\":");
    assert_int_equal (reply.status, 400);
    ihttp_reply_free (&reply);
    reply = ihttp_get (f->endpoint, "/warmup/v1/nothing");
    assert_int_equal (reply.status, 404);
    ihttp_reply_free (&reply);
    reply = ihttp_get (f->endpoint, "/warmup/v1/usage");
    assert_int_equal (reply.status, 405);
    assert_non_null (strstr (reply.head, "Allow: POST"));
    ihttp_reply_free (&reply);

    //  Events by HTTP flow as events by the bus
    reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/usage", NULL,
                    "[{\"user\":\"bob\",\"model\":\"via-http\",\"task\":\"rerank\","
                    "\"outcome\":\"warm\",\"wait_ms\":3}]");
    assert_int_equal (reply.status, 202);
    assert_non_null (strstr (reply.body, "\"accepted\":1"));
    ihttp_reply_free (&reply);
    usage_t usage = { .model = "via-http", .task = WARMUP__V1__TASK__TASK_RERANK };
    assert_true (itest_wait_event (f->bus, s_is_usage, &usage, ITEST_EVENT_MS));
    char bob [WP_USER_ID_LEN + 1];
    assert_string_equal (usage.user, itest_user_id (&f->it, "bob", 'u', bob));
    assert_int_equal (usage.wait_ms, 3);
}

//  A client that leaves mid-stream: the upstream request is cancelled.
static void
test_client_gone (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    long gone = s_stat (f->endpoint, "client_gone");
    int cancelled = istream_count (&f->upstream, &f->upstream.cancelled);
    const char *body = "{\"model\":\"coder\",\"stream\":true,\"gate\":true}";
    char request [512];
    int length = snprintf (request, sizeof request,
                           "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                           "Content-Length: %zu\r\n\r\n%s", strlen (body), body);
    iclient_t client;
    assert_int_equal (iclient_open (&client, f->endpoint, request, (size_t) length), 0);
    assert_int_equal (iclient_head (&client), 0);
    char chunk [4096];
    assert_true (iclient_chunk (&client, chunk, sizeof chunk) > 0);
    iclient_close (&client);
    //  The stand-in sees its connection end while it holds the stream
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    while (istream_count (&f->upstream, &f->upstream.cancelled) == cancelled
           && zclock_mono () < deadline)
        poll (NULL, 0, 10);
    assert_int_equal (istream_count (&f->upstream, &f->upstream.cancelled), cancelled + 1);
    assert_true (s_stat_wait (f->endpoint, "client_gone", gone + 1, false));
    //  Nothing left in flight but the stats request itself
    assert_true (s_stat_wait (f->endpoint, "in_flight", 1, true));
}

//  10,000 malformed requests in a burst: still serving, memory bounded.
static void
test_burst (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    long rss_before = s_stat (f->endpoint, "rss_kb");
    const char *garbage [] = {
        "GARBAGE\r\n\r\n",
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Length: 9\r\n\r\n{\"model\":",
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Length: 1000000000\r\n\r\n{",
        "GET http://x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "POST /warmup/v1/usage HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Length: 5\r\n\r\n[[[[[",
    };
    //  Each on its own connection; libmicrohttpd closes the first kind (no
    //  request line) without an answer, every other kind is answered
    int answered = 0;
    int64_t start = zclock_mono ();
    for (int i = 0; i < 10000; i++) {
        const char *request = garbage [i % 5];
        ihttp_reply_t reply = ihttp_raw (f->endpoint, request, strlen (request));
        if (i % 5 && reply.status >= 200)
            answered++;
        ihttp_reply_free (&reply);
    }
    printf ("burst: 10000 malformed requests in %" PRId64 " ms\n", zclock_mono () - start);
    assert_int_equal (answered, 8000);
    //  Still serving
    ihttp_reply_t reply = ihttp_send (f->endpoint, "POST", "/v1/chat/completions", NULL,
                                  "{\"model\":\"after-burst\"}");
    assert_int_equal (reply.status, 200);
    assert_non_null (strstr (reply.body, "[DONE]"));
    ihttp_reply_free (&reply);
    assert_true (s_stat_wait (f->endpoint, "in_flight", 1, true));
    long rss_after = s_stat (f->endpoint, "rss_kb");
    printf ("burst: rss %ld KiB before, %ld KiB after 10000 malformed requests\n",
            rss_before, rss_after);
#ifndef __SANITIZE_ADDRESS__
    //  (AddressSanitizer keeps freed memory in quarantine, up to 256 MiB:
    //  there its leak check at warmupd's exit is the bound)
    assert_true (rss_after - rss_before < 32 * 1024);
#endif
}

//  The rest of the API: models, healthz (and 503 from a lone proxy).
static void
test_api (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    ihttp_reply_t reply = ihttp_get (f->endpoint, "/warmup/v1/models");
    assert_int_equal (reply.status, 200);
    assert_non_null (strstr (reply.body, "\"topic\":\"control.reply\""));
    assert_non_null (strstr (reply.body, "\"command\":\"COMMAND_MODELS\""));
    assert_non_null (strstr (reply.body, "\"model\":\"down\""));
    ihttp_reply_free (&reply);
    bool found = false;
    char *body = ihttp_wait_for (f->endpoint, "/healthz", "\"missing\":[]", ITEST_EVENT_MS,
                                 &found);
    assert_true (found);
    assert_non_null (strstr (body, "\"analyzer\""));
    assert_non_null (strstr (body, "\"scheduler\""));
    free (body);

    //  A proxy on a bus with no component: 503 naming them all
    itest_t lone;
    itest_init (&lone, "wp-proxy-lone", "proxy\n    listen = \"127.0.0.1:0\"\n");
    wp_test_proc_t *bus = itest_start (&lone, "warmup-bus", NULL, NULL);
    wp_test_proc_t *proxy = itest_start (&lone, "warmup-proxy", NULL, NULL);
    char endpoint [64];
    ihttp_endpoint_after (proxy, "proxy: serving http://", endpoint, sizeof endpoint);
    reply = ihttp_get (endpoint, "/healthz");
    assert_int_equal (reply.status, 503);
    assert_non_null (strstr (reply.body, "\"status\":\"degraded\""));
    assert_non_null (strstr (reply.body, "\"missing\":[\"metrics\""));
    ihttp_reply_free (&reply);
    //  No upstream at all: 502 naming what to set
    reply = ihttp_send (endpoint, "POST", "/v1/chat/completions", NULL, "{\"model\":\"m\"}");
    assert_int_equal (reply.status, 502);
    assert_non_null (strstr (reply.body, "proxy/upstream"));
    ihttp_reply_free (&reply);
    reply = ihttp_get (endpoint, "/warmup/v1/models");
    assert_int_equal (reply.status, 504);
    ihttp_reply_free (&reply);
    itest_stop (&proxy, "warmup-proxy");
    itest_stop (&bus, "warmup-bus");
    itest_destroy (&lone);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_stream),
        cmocka_unit_test (test_ollama_and_token),
        cmocka_unit_test (test_bad_input),
        cmocka_unit_test (test_client_gone),
        cmocka_unit_test (test_burst),
        cmocka_unit_test (test_api),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
