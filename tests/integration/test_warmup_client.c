/*  =========================================================================
    test_warmup_client - libwarmup (include/warmup/warmup.h), the shared
    library, against a running warmupd: usage events and intents over HTTP
    and over the bus reach the bus as the service's own events (users
    hashed); subscribed predictions and warmup.done come through
    warmup_next, warmup_dispatch and a polled warmup_fd; predict answers
    over HTTP; on tcp:// the bus speaks CURVE with a client key the service
    admits, and a client without keys is told what it lacks; bad
    arguments, missing transports and a dead listener are refused with a
    status and a message naming what is wrong.
    =========================================================================
*/
#include "itest.h"
#include "ihttp.h"
#include "wp_json.h"
#include <poll.h>
#include <sys/stat.h>
#include <warmup/warmup.h>

typedef struct {
    itest_t it;
    wp_test_proc_t *daemon;
    char endpoint [64];         //  the proxy's host:port
    char url [80];              //  http://host:port
    wp_bus_t *bus;              //  the test's own tap
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *f = (fixture_t *) calloc (1, sizeof (fixture_t));
    itest_init (&f->it, "wp-libwarmup", NULL);
    f->daemon = ihttp_start_proxy (&f->it, NULL, f->endpoint, sizeof f->endpoint);
    snprintf (f->url, sizeof f->url, "http://%s", f->endpoint);
    const char *topics [] = { "usage.observed", "usage.intent", NULL };
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
    itest_destroy (&f->it);
    free (f);
    return 0;
}

//  Assert that json (an event, NULL when none came) holds text.
static void
s_has (const char *json, const char *text)
{
    if (!json)
        fail_msg ("no event where '%s' was expected", text);
    if (!strstr (json, text))
        fail_msg ("'%s' not in %s", text, json);
}

//  A client of the deployment; bus and subscribe as asked.
static warmup_t *
s_connect (fixture_t *f, bool http, bool bus, unsigned subscribe)
{
    warmup_options_t options = { .http_url = http ? f->url : NULL,
                                 .bus_publish = bus ? f->it.pub : NULL,
                                 .bus_subscribe = bus ? f->it.sub : NULL,
                                 .subscribe = subscribe,
                                 .timeout_ms = wp_test_ms (ITEST_START_MS) };
    char error [512] = "";
    warmup_t *client = warmup_connect (&options, error, sizeof error);
    if (!client)
        fail_msg ("warmup_connect: %s", error);
    return client;
}

//  Refused at connect: NULL, and the reason contains want.
static void
s_connect_refused (const warmup_options_t *options, const char *want)
{
    char error [512] = "";
    warmup_t *client = warmup_connect (options, error, sizeof error);
    assert_null (client);
    s_has (error, want);
}

static void
test_refusals (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    assert_int_equal (warmup_version (), WARMUP_VERSION);
    assert_string_equal (warmup_strerror (WARMUP_ETIMEDOUT), "timed out");
    s_connect_refused (NULL, "no options");
    warmup_options_t options = { 0 };
    s_connect_refused (&options, "neither http_url nor the bus");
    options.bus_publish = f->it.pub;
    s_connect_refused (&options, "both bus_publish and bus_subscribe");
    options = (warmup_options_t) { .http_url = f->url, .subscribe = WARMUP_EVENT_PREDICTION };
    s_connect_refused (&options, "subscribe needs the bus");
    options = (warmup_options_t) { .http_url = "ftp://x" };
    s_connect_refused (&options, "not http://");
    options = (warmup_options_t) { .bus_publish = f->it.pub, .bus_subscribe = f->it.sub,
                                   .bus_server_key = "/nonexistent/server.key" };
    s_connect_refused (&options, "bus_client_cert");
    options.bus_client_cert = "/nonexistent/alice.key";
    s_connect_refused (&options, "/nonexistent/");

    warmup_t *client = s_connect (f, true, false, 0);
    warmup_usage_t usage = { .model = "m" };
    assert_int_equal (warmup_observe (client, &usage), WARMUP_EINVAL);
    assert_string_equal (warmup_last_error (client), "user is required");
    usage = (warmup_usage_t) { .user = "u", .model = "m", .task = (warmup_task_t) 9 };
    assert_int_equal (warmup_observe (client, &usage), WARMUP_EINVAL);
    s_has (warmup_last_error (client), "task");
    usage = (warmup_usage_t) { .user = "u", .model = "m", .language = "c\n" };
    assert_int_equal (warmup_observe (client, &usage), WARMUP_EINVAL);
    s_has (warmup_last_error (client), "language holds a control byte");
    warmup_intent_t intent = { .user = "u", .kind = "Chat Opened" };
    assert_int_equal (warmup_intent (client, &intent), WARMUP_EINVAL);
    s_has (warmup_last_error (client), "kind 'Chat Opened'");
    warmup_event_t event;
    assert_int_equal (warmup_next (client, &event, 0), WARMUP_ENOTCONN);
    assert_int_equal (warmup_fd (client), -1);
    warmup_destroy (&client);
    assert_null (client);
    warmup_destroy (&client);

    //  Bus only: predict needs HTTP.
    client = s_connect (f, false, true, 0);
    size_t count = 99;
    warmup_model_t models [4];
    assert_int_equal (warmup_predict (client, NULL, models, 4, &count, 0), WARMUP_ENOTCONN);
    assert_int_equal (count, 0);
    s_has (warmup_last_error (client), "needs HTTP");
    warmup_destroy (&client);

    //  Nobody listening: the transport fails, naming the URL.
    char dead [64];
    snprintf (dead, sizeof dead, "http://127.0.0.1:%d", itest_free_port ());
    options = (warmup_options_t) { .http_url = dead, .timeout_ms = 2000 };
    client = warmup_connect (&options, NULL, 0);
    assert_non_null (client);
    usage = (warmup_usage_t) { .user = "u", .model = "m" };
    assert_int_equal (warmup_observe (client, &usage), WARMUP_EIO);
    s_has (warmup_last_error (client), dead);
    warmup_destroy (&client);
}

//  Over HTTP: usage and intent on the bus, users hashed; predict answers.
static void
test_http (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    warmup_t *client = s_connect (f, true, false, 0);
    char alice [WP_USER_ID_LEN + 1], want [80];
    itest_user_id (&f->it, "alice", 'u', alice);

    warmup_usage_t usage = { .user = "alice", .model = "coder-http", .task = WARMUP_TASK_CHAT,
                             .language = "python", .event_ms = 1700000000000ULL,
                             .outcome = WARMUP_OUTCOME_COLD, .wait_ms = 1200 };
    assert_int_equal (warmup_observe (client, &usage), WARMUP_OK);
    char *json = itest_next_json (f->bus, WP_TOPIC_USAGE);
    snprintf (want, sizeof want, "\"user\":\"%s\"", alice);
    s_has (json, want);
    s_has (json, "\"model\":\"coder-http\"");
    s_has (json, "\"task\":\"TASK_CHAT\"");
    s_has (json, "\"language\":\"python\"");
    s_has (json, "\"event_ms\":1700000000000");
    s_has (json, "\"outcome\":\"OUTCOME_COLD\"");
    s_has (json, "\"wait_ms\":1200");
    free (json);

    warmup_intent_t intent = { .user = "alice", .kind = "chat.opened", .model = "coder-http",
                               .task = WARMUP_TASK_CHAT };
    assert_int_equal (warmup_intent (client, &intent), WARMUP_OK);
    json = itest_next_json (f->bus, WP_TOPIC_INTENT);
    s_has (json, want);
    s_has (json, "\"kind\":\"chat.opened\"");
    s_has (json, "\"model\":\"coder-http\"");
    free (json);

    warmup_predict_t request = { .user = "nobody-yet", .no_warm = 1 };
    warmup_model_t models [8];
    size_t count = 99;
    assert_int_equal (warmup_predict (client, &request, models, 8, &count, 0), WARMUP_OK);
    assert_int_equal (count, 0);
    warmup_destroy (&client);
}

//  Counts warmup.done events of one model (warmup_dispatch's callback).
typedef struct {
    const char *model;
    int seen;
} done_t;

static int
s_on_event (const warmup_event_t *event, void *arg)
{
    done_t *done = (done_t *) arg;
    if (event->type == WARMUP_EVENT_WARMUP_DONE && streq (event->model, done->model)
        && event->warm && event->ok)
        done->seen++;
    return done->seen > 0;
}

//  Ask the operator's warm of model (warmupctl warm).
static void
s_warm (fixture_t *f, const char *model)
{
    const char *args [] = { "warm", model, NULL };
    char *output = NULL;
    if (itest_ctl (&f->it, args, &output))
        fail_msg ("warmupctl warm %s: %s", model, output);
    free (output);
}

//  On the bus: intent and usage published; the prediction and warmup.done
//  subscribed to come through next, dispatch and the polled descriptor.
static void
test_bus (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    warmup_t *client = s_connect (f, false, true,
                                  WARMUP_EVENT_PREDICTION | WARMUP_EVENT_WARMUP_DONE);
    char bob [WP_USER_ID_LEN + 1], want [80];
    itest_user_id (&f->it, "bob", 'u', bob);
    snprintf (want, sizeof want, "\"user\":\"%s\"", bob);

    warmup_intent_t intent = { .user = "bob", .kind = "typing.started", .language = "c" };
    assert_int_equal (warmup_intent (client, &intent), WARMUP_OK);
    char *json = itest_next_json (f->bus, WP_TOPIC_INTENT);
    s_has (json, want);
    s_has (json, "\"kind\":\"typing.started\"");
    free (json);

    warmup_usage_t usage = { .user = "bob", .model = "coder-bus",
                             .task = WARMUP_TASK_COMPLETION };
    assert_int_equal (warmup_observe (client, &usage), WARMUP_OK);
    json = itest_next_json (f->bus, WP_TOPIC_USAGE);
    s_has (json, want);
    free (json);
    warmup_event_t event;
    bool predicted = false;
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    while (!predicted && zclock_mono () < deadline)
        if (warmup_next (client, &event, 200) == 1 && event.type == WARMUP_EVENT_PREDICTION
            && streq (event.user, bob)) {
            assert_true (event.model_count >= 1);
            assert_string_equal (event.models [0].model, "coder-bus");
            assert_true (event.models [0].probability > 0 && event.models [0].probability <= 1);
            assert_true (event.horizon_s > 0);
            predicted = true;
        }
    assert_true (predicted);

    //  warmup.done through the callback.
    s_warm (f, "coder-dispatch");
    done_t done = { "coder-dispatch", 0 };
    deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    while (!done.seen && zclock_mono () < deadline)
        assert_true (warmup_dispatch (client, s_on_event, &done, 200) >= 0);
    assert_int_equal (done.seen, 1);

    //  warmup.done through the descriptor: drain, warm, poll, read.
    while (warmup_next (client, &event, 0) == 1)
        ;
    int fd = warmup_fd (client);
    assert_true (fd >= 0);
    s_warm (f, "coder-poll");
    done = (done_t) { "coder-poll", 0 };
    deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    while (!done.seen && zclock_mono () < deadline) {
        struct pollfd item = { .fd = fd, .events = POLLIN };
        if (poll (&item, 1, 200) <= 0)
            continue;
        while (warmup_next (client, &event, 0) == 1)
            s_on_event (&event, &done);
    }
    assert_int_equal (done.seen, 1);
    warmup_destroy (&client);
}

//  CURVE on tcp:// (the default there): a client key made by warmupctl
//  keygen and admitted before the service starts publishes and receives;
//  no key, no bus.
static void
test_curve (void **state)
{
    itest_t it;
    itest_init (&it, "wp-libwarmup-curve", NULL);
    snprintf (it.pub, sizeof it.pub, "tcp://127.0.0.1:%d", itest_free_port ());
    snprintf (it.sub, sizeof it.sub, "tcp://127.0.0.1:%d", itest_free_port ());
    itest_config (&it, NULL);
    char *keydir = zsys_sprintf ("%s/mine", it.dir);
    const char *keygen [] = { "keygen", keydir, "--name", "ide", NULL };
    char *output = NULL;
    if (itest_ctl (&it, keygen, &output))
        fail_msg ("keygen: %s", output);
    zstr_free (&output);
    char *ide = zsys_sprintf ("%s/ide.key", keydir);
    char *allowed_dir = zsys_sprintf ("%s/keys/allowed", it.data_dir);
    assert_int_equal (zsys_dir_create ("%s", allowed_dir), 0);
    assert_int_equal (chmod (it.data_dir, 0700) | chmod (allowed_dir, 0700), 0);
    zfile_t *file = zfile_new (NULL, ide);
    assert_int_equal (zfile_input (file), 0);
    zchunk_t *chunk = zfile_read (file, 4096, 0);
    assert_non_null (chunk);
    char *text = zchunk_strdup (chunk);
    zchunk_destroy (&chunk);
    zfile_destroy (&file);
    char *allowed = zsys_sprintf ("%s/ide.key", allowed_dir);
    wp_test_write_file (allowed, text);
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    if (!strstr (wp_test_proc_output (daemon), "1 client key"))
        fail_msg ("the client key was not admitted:\n%s", wp_test_proc_output (daemon));

    char *server = zsys_sprintf ("%s/keys/server.key", it.data_dir);
    warmup_options_t options = { .bus_publish = it.pub, .bus_subscribe = it.sub,
                                 .bus_server_key = server, .bus_client_cert = ide,
                                 .subscribe = WARMUP_EVENT_PREDICTION,
                                 .timeout_ms = wp_test_ms (ITEST_START_MS) };
    char error [512] = "";
    warmup_t *client = warmup_connect (&options, error, sizeof error);
    if (!client)
        fail_msg ("warmup_connect with CURVE: %s\n%s", error, wp_test_proc_output (daemon));
    warmup_usage_t usage = { .user = "dana", .model = "coder-curve" };
    assert_int_equal (warmup_observe (client, &usage), WARMUP_OK);
    warmup_event_t event;
    bool predicted = false;
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    while (!predicted && zclock_mono () < deadline)
        predicted = warmup_next (client, &event, 200) == 1 && event.model_count
                    && streq (event.models [0].model, "coder-curve");
    assert_true (predicted);
    warmup_destroy (&client);

    //  Without keys the handshake fails: a timeout that says what is missing.
    options = (warmup_options_t) { .bus_publish = it.pub, .bus_subscribe = it.sub,
                                   .timeout_ms = 500 };
    assert_null (warmup_connect (&options, error, sizeof error));
    s_has (error, "needs bus_server_key");
    itest_stop (&daemon, "warmupd");
    zstr_free (&server);
    zstr_free (&allowed);
    free (text);
    zstr_free (&allowed_dir);
    zstr_free (&ide);
    zstr_free (&keydir);
    itest_destroy (&it);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_refusals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_http, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bus, s_setup, s_teardown),
        cmocka_unit_test (test_curve),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
