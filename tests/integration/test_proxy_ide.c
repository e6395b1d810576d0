/*  =========================================================================
    test_proxy_ide - the IDE routes of warmupd's proxy: POST
    /warmup/v1/continue takes what Continue POSTs to an HTTP data
    destination (core/data/log.ts: {name, data, schema, level, profileId},
    Authorization: Bearer <apiKey>; dev-data schema 0.2.0) and publishes
    its requests as usage.observed (users: X-Warmup-User, else the event's
    userId hashed, else the caller as its requests count), takes the
    events that are no request without an error, and refuses a bad body
    naming the field; POST /warmup/v1/intent publishes usage.intent (one
    or an array) and refuses bad ones naming the field.
    =========================================================================
*/
#include "itest.h"
#include "ihttp.h"
#include "wp_json.h"

typedef struct {
    itest_t it;
    wp_test_proc_t *daemon;
    char endpoint [64];
    wp_bus_t *bus;
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *f = (fixture_t *) calloc (1, sizeof (fixture_t));
    itest_init (&f->it, "wp-ide", NULL);
    f->daemon = ihttp_start_proxy (&f->it, NULL, f->endpoint, sizeof f->endpoint);
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

//  An autocomplete event as Continue sends it.
static const char *s_autocomplete =
    "{\"name\":\"autocomplete\",\"data\":{\"eventName\":\"autocomplete\",\"schema\":\"0.2.0\","
    "\"timestamp\":1738324800000,\"userId\":\"\",\"userAgent\":\"VS Code/1.96 (Continue/1.0)\","
    "\"selectedProfileId\":\"local\",\"disable\":false,\"useFileSuffix\":true,"
    "\"maxPromptTokens\":1024,\"debounceDelay\":250,\"maxSuffixPercentage\":0.2,"
    "\"prefixPercentage\":0.3,\"multilineCompletions\":\"auto\","
    "\"slidingWindowPrefixPercentage\":0.75,\"slidingWindowSize\":500,\"useCache\":true,"
    "\"onlyMyCode\":true,\"useRecentlyEdited\":true,\"accepted\":true,\"time\":380,"
    "\"modelProvider\":\"ollama\",\"modelName\":\"qwen2.5-coder:1.5b\",\"cacheHit\":false,"
    "\"filepath\":\"file:///home/dev/a.py\",\"completionId\":\"c1\",\"uniqueId\":\"u1\"},"
    "\"schema\":\"0.2.0\",\"level\":\"noCode\",\"profileId\":\"local\"}";

//  Continue's destination: requests published, the rest taken quietly,
//  bad bodies refused naming the field.
static void
test_continue_destination (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    ihttp_reply_t reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/continue",
                                      "Content-Type: application/json\r\n"
                                      "Authorization: Bearer sk-team-key\r\n", s_autocomplete);
    assert_int_equal (reply.status, 202);
    assert_non_null (strstr (reply.body, "\"accepted\":1"));
    ihttp_reply_free (&reply);
    char *json = itest_next_json (f->bus, WP_TOPIC_USAGE);
    assert_non_null (json);
    assert_non_null (strstr (json, "\"model\":\"qwen2.5-coder:1.5b\""));
    assert_non_null (strstr (json, "\"task\":\"TASK_COMPLETION\""));
    assert_non_null (strstr (json, "\"event_ms\":1738324800000"));
    assert_non_null (strstr (json, "\"language\":\"python\""));
    assert_non_null (strstr (json, "\"user\":\"u:"));          //  hashed past the bus
    assert_null (strstr (json, "sk-team-key"));
    free (json);

    reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/continue",
                        "X-Warmup-User: alice\r\n", s_autocomplete);
    assert_int_equal (reply.status, 202);
    ihttp_reply_free (&reply);
    json = itest_next_json (f->bus, WP_TOPIC_USAGE);
    char want [64], alice [WP_USER_ID_LEN + 1];
    snprintf (want, sizeof want, "\"user\":\"%s\"", itest_user_id (&f->it, "alice", 'u', alice));
    assert_non_null (strstr (json, want));
    free (json);

    reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/continue", NULL,
                        "{\"name\":\"chatFeedback\",\"data\":{\"modelTitle\":\"x\"},"
                        "\"schema\":\"0.2.0\"}");
    assert_int_equal (reply.status, 202);
    assert_non_null (strstr (reply.body, "\"ignored\":\"not a request\""));
    ihttp_reply_free (&reply);
    reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/continue", NULL,
                        "{\"name\":\"futureThing\",\"data\":{}}");
    assert_int_equal (reply.status, 202);
    assert_non_null (strstr (reply.body, "unknown event type"));
    ihttp_reply_free (&reply);
    reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/continue", NULL,
                        "{\"name\":\"autocomplete\",\"data\":{\"timestamp\":1}}");
    assert_int_equal (reply.status, 400);
    assert_non_null (strstr (reply.body, "modelName"));
    ihttp_reply_free (&reply);
    reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/continue", NULL, "{\"name\":");
    assert_int_equal (reply.status, 400);
    ihttp_reply_free (&reply);
    reply = ihttp_get (f->endpoint, "/warmup/v1/continue");
    assert_int_equal (reply.status, 405);
    ihttp_reply_free (&reply);
    reply = ihttp_get (f->endpoint, "/warmup/v1/stats");
    if (!strstr (reply.body, "\"continue\":{\"events\":2,\"ignored\":2}"))
        fail_msg ("stats: %s", reply.body);
    ihttp_reply_free (&reply);
}

//  Intents: one, an array, bad ones.
static void
test_intent_route (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    ihttp_reply_t reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/intent", NULL,
                                      "{\"user\":\"alice\",\"kind\":\"chat.opened\","
                                      "\"model\":\"llama3\",\"language\":\"python\","
                                      "\"event_ms\":1738324800000}");
    assert_int_equal (reply.status, 202);
    assert_non_null (strstr (reply.body, "\"accepted\":1"));
    ihttp_reply_free (&reply);
    char *json = itest_next_json (f->bus, WP_TOPIC_INTENT);
    assert_non_null (json);
    char want [64], alice [WP_USER_ID_LEN + 1];
    snprintf (want, sizeof want, "\"user\":\"%s\"", itest_user_id (&f->it, "alice", 'u', alice));
    assert_non_null (strstr (json, want));
    assert_non_null (strstr (json, "\"kind\":\"chat.opened\""));
    assert_non_null (strstr (json, "\"model\":\"llama3\""));
    assert_non_null (strstr (json, "\"language\":\"python\""));
    assert_non_null (strstr (json, "\"event_ms\":1738324800000"));
    free (json);

    reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/intent", NULL,
                        "[{\"user\":\"bob\",\"kind\":\"typing.started\"},"
                        "{\"user\":\"bob\",\"kind\":\"file.opened\",\"task\":\"completion\"}]");
    assert_int_equal (reply.status, 202);
    assert_non_null (strstr (reply.body, "\"accepted\":2"));
    ihttp_reply_free (&reply);
    json = itest_next_json (f->bus, WP_TOPIC_INTENT);
    assert_non_null (strstr (json, "\"kind\":\"typing.started\""));
    free (json);
    json = itest_next_json (f->bus, WP_TOPIC_INTENT);
    assert_non_null (strstr (json, "\"kind\":\"file.opened\""));
    assert_non_null (strstr (json, "\"task\":\"TASK_COMPLETION\""));
    free (json);

    const struct {
        const char *body, *field;
    } bad [] = {
        { "{\"kind\":\"chat.opened\"}", "\"field\":\"user\"" },
        { "{\"user\":\"a\"}", "\"field\":\"kind\"" },
        { "{\"user\":\"a\",\"kind\":\"Chat Opened\"}", "\"field\":\"kind\"" },
        { "{\"user\":\"a\",\"kind\":\"x\",\"modle\":\"m\"}", "\"field\":\"modle\"" },
        { "[{\"user\":\"a\",\"kind\":\"x\"},{\"user\":\"a\",\"kind\":7}]",
          "\"field\":\"[1].kind\"" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        reply = ihttp_send (f->endpoint, "POST", "/warmup/v1/intent", NULL, bad [i].body);
        assert_int_equal (reply.status, 400);
        if (!strstr (reply.body, bad [i].field))
            fail_msg ("%s: %s", bad [i].body, reply.body);
        ihttp_reply_free (&reply);
    }
    reply = ihttp_get (f->endpoint, "/warmup/v1/stats");
    if (!strstr (reply.body, "\"intents\":3"))
        fail_msg ("stats: %s", reply.body);
    ihttp_reply_free (&reply);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_continue_destination, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_intent_route, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
