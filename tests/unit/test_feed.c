/*  =========================================================================
    test_feed - Continue's dev data and Tabby's event log read into usage
    events (wp_feed), line by line over the fixtures in tests/fixtures/.

    The Continue fixture follows the dev-data schema 0.2.0 as published in
    continuedev/continue, packages/config-yaml/src/schemas/data/:
    index.ts (commit d9850923: the events of "0.2.0"), base.ts (adc29f27:
    eventName, schema, timestamp as an ISO datetime, userId, userAgent,
    selectedProfileId), autocomplete/index.ts and autocomplete/v0.2.0.ts
    (adc29f27, cb7944e0: modelName, modelProvider, filepath, and timestamp
    a number of ms), chatInteraction/v0.2.0.ts (66313eac: modelTitle,
    modelProvider, sessionId), editInteraction/v0.2.0.ts (d2d046b9:
    modelName, modelTitle, filepath), tokensGenerated/index.ts (adc29f27);
    files as core/data/log.ts writes them (~/.continue/dev_data/0.2.0/
    <eventName>.jsonl; the HTTP destination's body {name, data, schema,
    level, profileId}). The Tabby fixture follows TabbyML/tabby
    crates/tabby-common/src/api/event.rs (commit 3ed2dff2: LogEntry {user,
    ts, event} with completion, chat_completion, view, select, dismiss),
    written to ~/.tabby/events/<YYYY-MM-DD>.json.
    =========================================================================
*/
#include "testutil.h"
#include "wp_feed.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wp_util.h"

#define NOW 1800000000000ULL

//  The fixture file's lines, read whole.
typedef struct {
    char *text;
    char *lines [64];
    size_t sizes [64];
    int count;
} s_lines_t;

//  Read a fixture into lines (the last may lack its newline).
static void
s_read_lines (const char *relative, s_lines_t *out)
{
    char path [1024];
    snprintf (path, sizeof path, "%s/tests/fixtures/%s", getenv ("WP_SOURCE_DIR"), relative);
    FILE *in = fopen (path, "rb");
    assert_non_null (in);
    out->text = malloc (1 << 16);
    assert_non_null (out->text);
    size_t size = fread (out->text, 1, (1 << 16) - 1, in);
    fclose (in);
    out->count = 0;
    char *at = out->text;
    while (at < out->text + size && out->count < 64) {
        char *newline = memchr (at, '\n', (size_t) (out->text + size - at));
        size_t length = newline ? (size_t) (newline - at) : (size_t) (out->text + size - at);
        out->lines [out->count] = at;
        out->sizes [out->count++] = length;
        at += length + 1;
    }
}

//  A Continue reader for a file of event name (NULL: lines name it).
static wp_feed_opts_t
s_continue (const char *event_name)
{
    wp_feed_opts_t opts = { .format = WP_FEED_CONTINUE, .event_name = event_name };
    memset (opts.user_key, 7, sizeof opts.user_key);
    return opts;
}

//  Read one line, expecting a result.
static wp_feed_result_t
s_line (const wp_feed_opts_t *opts, s_lines_t *lines, int index, wp_feed_event_t *event,
        char *why)
{
    return wp_feed_line (opts, lines->lines [index], lines->sizes [index], NOW, event, why, 200);
}

//  autocomplete.jsonl: three requests (completion, their models, their
//  time in ms, the language of their file), a line cut short, one that is
//  not JSON, one without modelName.
static void
test_continue_autocomplete (void **state)
{
    s_lines_t lines;
    s_read_lines ("continue/dev_data/0.2.0/autocomplete.jsonl", &lines);
    assert_int_equal (lines.count, 6);
    wp_feed_opts_t opts = s_continue ("autocomplete");
    wp_feed_event_t e;
    char why [200];
    assert_int_equal (s_line (&opts, &lines, 0, &e, why), WP_FEED_USAGE);
    assert_string_equal (e.usage.model, "qwen2.5-coder:1.5b");
    assert_int_equal (e.usage.task, WARMUP__V1__TASK__TASK_COMPLETION);
    assert_int_equal (e.usage.event_ms, 1738324800000ULL);
    assert_string_equal (e.usage.language, "python");
    assert_string_equal (e.usage.file_type, ".py");
    assert_string_equal (e.usage.user, "local");
    assert_string_equal (e.event, "autocomplete");

    //  userId is Continue's token: hashed, never published.
    assert_int_equal (s_line (&opts, &lines, 1, &e, why), WP_FEED_USAGE);
    assert_string_equal (e.usage.language, "rust");
    char want [64];
    snprintf (want, sizeof want, "continue:%016" PRIx64,
              wp_siphash (opts.user_key, "tok-ABC", 7));
    assert_string_equal (e.usage.user, want);
    assert_null (strstr (e.usage.user, "tok-ABC"));

    assert_int_equal (s_line (&opts, &lines, 2, &e, why), WP_FEED_BAD);
    assert_non_null (strstr (why, "not one JSON value"));
    assert_int_equal (s_line (&opts, &lines, 3, &e, why), WP_FEED_BAD);
    assert_int_equal (s_line (&opts, &lines, 4, &e, why), WP_FEED_USAGE);
    assert_string_equal (e.usage.model, "starcoder2:3b");
    assert_string_equal (e.usage.language, "typescript");
    assert_int_equal (s_line (&opts, &lines, 5, &e, why), WP_FEED_BAD);
    assert_non_null (strstr (why, "modelName"));

    //  --user overrides the event's.
    opts.user = "alice";
    assert_int_equal (s_line (&opts, &lines, 1, &e, why), WP_FEED_USAGE);
    assert_string_equal (e.usage.user, "alice");
    free (lines.text);
}

//  chatInteraction.jsonl: modelTitle names the model, ISO times, the
//  session; a bad timestamp is refused naming it.
static void
test_continue_chat_and_edit (void **state)
{
    s_lines_t lines;
    s_read_lines ("continue/dev_data/0.2.0/chatInteraction.jsonl", &lines);
    assert_int_equal (lines.count, 3);
    wp_feed_opts_t opts = s_continue ("chatInteraction");
    wp_feed_event_t e;
    char why [200];
    assert_int_equal (s_line (&opts, &lines, 0, &e, why), WP_FEED_USAGE);
    assert_string_equal (e.usage.model, "Llama 3.1 8B");
    assert_int_equal (e.usage.task, WARMUP__V1__TASK__TASK_CHAT);
    assert_int_equal (e.usage.event_ms, 1738324860000ULL);
    assert_string_equal (e.usage.session, "s-1");
    assert_string_equal (e.usage.language, "");
    assert_int_equal (s_line (&opts, &lines, 1, &e, why), WP_FEED_USAGE);
    assert_int_equal (e.usage.event_ms, 1738325010250ULL);
    assert_int_equal (s_line (&opts, &lines, 2, &e, why), WP_FEED_BAD);
    assert_non_null (strstr (why, "timestamp"));
    free (lines.text);

    s_read_lines ("continue/dev_data/0.2.0/editInteraction.jsonl", &lines);
    opts = s_continue ("editInteraction");
    assert_int_equal (s_line (&opts, &lines, 0, &e, why), WP_FEED_USAGE);
    assert_string_equal (e.usage.model, "qwen2.5-coder:7b");     //  modelName first
    assert_int_equal (e.usage.task, WARMUP__V1__TASK__TASK_EDIT);
    assert_string_equal (e.usage.language, "python");
    free (lines.text);
}

//  tokensGenerated.jsonl: no request; an unknown event type is told apart
//  from a bad line, by its eventName over the file's name.
static void
test_continue_other_events (void **state)
{
    s_lines_t lines;
    s_read_lines ("continue/dev_data/0.2.0/tokensGenerated.jsonl", &lines);
    wp_feed_opts_t opts = s_continue ("tokensGenerated");
    wp_feed_event_t e;
    char why [200];
    assert_int_equal (s_line (&opts, &lines, 0, &e, why), WP_FEED_SKIP);
    assert_string_equal (e.event, "tokensGenerated");
    assert_int_equal (s_line (&opts, &lines, 1, &e, why), WP_FEED_UNKNOWN);
    assert_string_equal (e.event, "futureEvent");
    assert_non_null (strstr (why, "futureEvent"));
    //  A line without eventName, from a file that does not name it either.
    wp_feed_opts_t nameless = s_continue (NULL);
    const char *line = "{\"modelName\":\"m\"}";
    assert_int_equal (wp_feed_line (&nameless, line, strlen (line), NOW, &e, why, 200),
                      WP_FEED_UNKNOWN);
    //  No timestamp: now. Not an object: bad. A model of another type: bad.
    wp_feed_opts_t ac = s_continue ("autocomplete");
    line = "{\"modelName\":\"m\",\"filepath\":\"a.go\"}";
    assert_int_equal (wp_feed_line (&ac, line, strlen (line), NOW, &e, why, 200),
                      WP_FEED_USAGE);
    assert_int_equal (e.usage.event_ms, NOW);
    assert_string_equal (e.usage.language, "go");
    line = "[1,2]";
    assert_int_equal (wp_feed_line (&ac, line, strlen (line), NOW, &e, why, 200), WP_FEED_BAD);
    line = "{\"modelName\":7}";
    assert_int_equal (wp_feed_line (&ac, line, strlen (line), NOW, &e, why, 200), WP_FEED_BAD);
    line = "{\"modelName\":\"m\",\"timestamp\":-5}";
    assert_int_equal (wp_feed_line (&ac, line, strlen (line), NOW, &e, why, 200), WP_FEED_BAD);
    //  Seconds are taken as seconds.
    line = "{\"modelName\":\"m\",\"timestamp\":1738324800}";
    assert_int_equal (wp_feed_line (&ac, line, strlen (line), NOW, &e, why, 200),
                      WP_FEED_USAGE);
    assert_int_equal (e.usage.event_ms, 1738324800000ULL);
    free (lines.text);
}

//  Continue's HTTP destination: {name, data, schema, level, profileId}.
static void
test_continue_post (void **state)
{
    wp_feed_opts_t opts = s_continue (NULL);
    opts.fallback_user = "key:0123456789abcdef";
    wp_feed_event_t e;
    char why [200];
    const char *body = "{\"name\":\"chatInteraction\",\"data\":{\"eventName\":\"chatInteraction\","
                       "\"schema\":\"0.2.0\",\"timestamp\":\"2025-01-31T12:01:00.000Z\","
                       "\"userId\":\"\",\"userAgent\":\"x\",\"selectedProfileId\":\"local\","
                       "\"modelTitle\":\"Llama\",\"modelProvider\":\"ollama\","
                       "\"sessionId\":\"s-9\"},\"schema\":\"0.2.0\",\"level\":\"noCode\","
                       "\"profileId\":\"local\"}";
    assert_int_equal (wp_feed_continue_post (&opts, body, strlen (body), NOW, &e, why, 200),
                      WP_FEED_USAGE);
    assert_string_equal (e.usage.model, "Llama");
    assert_string_equal (e.usage.user, "key:0123456789abcdef");
    assert_string_equal (e.usage.session, "s-9");
    body = "{\"name\":\"chatFeedback\",\"data\":{}}";
    assert_int_equal (wp_feed_continue_post (&opts, body, strlen (body), NOW, &e, why, 200),
                      WP_FEED_SKIP);
    body = "{\"data\":{}}";
    assert_int_equal (wp_feed_continue_post (&opts, body, strlen (body), NOW, &e, why, 200),
                      WP_FEED_BAD);
    assert_non_null (strstr (why, "name"));
    body = "{\"name\":\"autocomplete\",\"data\":5}";
    assert_int_equal (wp_feed_continue_post (&opts, body, strlen (body), NOW, &e, why, 200),
                      WP_FEED_BAD);
    assert_non_null (strstr (why, "data"));
}

//  Tabby's log: completion and chat_completion are requests for the
//  models given; view, select, dismiss are not; an unknown kind and a
//  line cut short are told.
static void
test_tabby (void **state)
{
    s_lines_t lines;
    s_read_lines ("tabby/events/2025-01-31.json", &lines);
    assert_int_equal (lines.count, 8);
    wp_feed_opts_t opts = { .format = WP_FEED_TABBY, .completion_model = "tabby-coder",
                            .chat_model = "tabby-chat" };
    wp_feed_event_t e;
    char why [200];
    assert_int_equal (s_line (&opts, &lines, 0, &e, why), WP_FEED_USAGE);
    assert_string_equal (e.usage.model, "tabby-coder");
    assert_string_equal (e.usage.user, "alice@example.com");
    assert_string_equal (e.usage.language, "python");
    assert_string_equal (e.usage.file_type, ".py");
    assert_int_equal (e.usage.event_ms, 1738324800000ULL);
    assert_int_equal (e.usage.task, WARMUP__V1__TASK__TASK_COMPLETION);
    assert_int_equal (s_line (&opts, &lines, 1, &e, why), WP_FEED_SKIP);
    assert_string_equal (e.event, "view");
    assert_int_equal (s_line (&opts, &lines, 2, &e, why), WP_FEED_SKIP);
    assert_int_equal (s_line (&opts, &lines, 3, &e, why), WP_FEED_UNKNOWN);
    assert_string_equal (e.event, "telemetry");
    assert_int_equal (s_line (&opts, &lines, 4, &e, why), WP_FEED_SKIP);
    assert_string_equal (e.event, "dismiss");
    assert_int_equal (s_line (&opts, &lines, 5, &e, why), WP_FEED_USAGE);
    assert_string_equal (e.usage.model, "tabby-chat");
    assert_int_equal (e.usage.task, WARMUP__V1__TASK__TASK_CHAT);
    assert_int_equal (s_line (&opts, &lines, 6, &e, why), WP_FEED_USAGE);
    assert_string_equal (e.usage.user, "bob");
    assert_string_equal (e.usage.language, "rust");
    assert_int_equal (s_line (&opts, &lines, 7, &e, why), WP_FEED_BAD);
    //  No chat model given: chat lines are skipped, saying so.
    opts.chat_model = NULL;
    assert_int_equal (s_line (&opts, &lines, 5, &e, why), WP_FEED_SKIP);
    assert_non_null (strstr (why, "chat model"));
    free (lines.text);
}

//  Times and languages.
static void
test_iso_and_language (void **state)
{
    uint64_t ms = 0;
    assert_int_equal (wp_feed_iso_ms ("1970-01-01T00:00:01Z", &ms), 0);
    assert_int_equal (ms, 1000);
    assert_int_equal (wp_feed_iso_ms ("2025-01-31T14:01:00.5+02:00", &ms), 0);
    assert_int_equal (ms, 1738324860500ULL);
    assert_int_equal (wp_feed_iso_ms ("2025-01-31T12:01:00", &ms), 0);
    assert_int_equal (ms, 1738324860000ULL);
    const char *bad [] = { "", "2025-01-31", "2025-13-01T00:00:00Z", "2025-01-31T12:01:00Zx",
                           "2025-01-31T12:01:00.Z", "2025-01-31 12:01:00Z", "yesterday" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        assert_int_equal (wp_feed_iso_ms (bad [i], &ms), -1);
    char language [65], type [33];
    wp_feed_language ("file:///home/x/Main.JAVA?x=1", language, sizeof language, type,
                      sizeof type);
    assert_string_equal (language, "java");
    assert_string_equal (type, ".java");
    wp_feed_language ("src/Makefile", language, sizeof language, type, sizeof type);
    assert_string_equal (language, "");
    wp_feed_language ("/a/.bashrc", language, sizeof language, type, sizeof type);
    assert_string_equal (language, "");
    wp_feed_language ("x.weird", language, sizeof language, type, sizeof type);
    assert_string_equal (language, "weird");
    wp_feed_language ("C:\\src\\a.cpp", language, sizeof language, NULL, 0);
    assert_string_equal (language, "cpp");
    assert_string_equal (wp_feed_result_name (WP_FEED_BAD), "bad");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_continue_autocomplete),
        cmocka_unit_test (test_continue_chat_and_edit),
        cmocka_unit_test (test_continue_other_events),
        cmocka_unit_test (test_continue_post),
        cmocka_unit_test (test_tabby),
        cmocka_unit_test (test_iso_and_language),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
