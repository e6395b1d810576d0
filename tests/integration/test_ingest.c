/*  =========================================================================
    test_ingest - warmupctl ingest against a running bus, as a user runs
    it: the Continue fixture (dev-data schema 0.2.0, see
    tests/unit/test_feed.c and tests/fixtures/README.md for the files of
    continuedev/continue it follows) publishes its six requests with the
    right model, task, time, user and language, and reports its bad lines
    by file and line; a second run publishes nothing. --follow across a
    stop and a restart, a rotation and a truncation while stopped or
    running: every line published exactly once. Tabby's event log: its
    requests for the models given, its unknown kind and its unfinished
    last line reported.

    Every wait is for the event that proves the point: a marker event
    published after the lines checked (one publisher, one proxy: ZeroMQ
    keeps the order), never a sleep.
    =========================================================================
*/
#include "itest.h"
#include <sys/stat.h>

//  Usage events seen.
typedef struct {
    char model [64][128];
    char session [64][64];
    char user [64][128];
    char language [64][32];
    int task [64];
    uint64_t event_ms [64];
    int count;
} s_seen_t;

//  Take usage events until one of model marker arrives (or count
//  events when marker is NULL). Returns true when it came in time.
static bool
s_collect (wp_bus_t *bus, s_seen_t *seen, const char *marker, int count)
{
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    while (zclock_mono () < deadline) {
        wp_bus_event_t event;
        if (wp_bus_recv_wait (bus, &event, 200) != 1)
            continue;
        bool done = false;
        if (event.topic == WP_TOPIC_USAGE) {
            const Warmup__V1__UsageObserved *u = (const Warmup__V1__UsageObserved *) event.msg;
            if (marker && streq (u->model, marker))
                done = true;
            else
            if (seen->count < 64) {
                int i = seen->count++;
                snprintf (seen->model [i], sizeof seen->model [i], "%s", u->model);
                snprintf (seen->session [i], sizeof seen->session [i], "%s", u->session);
                snprintf (seen->user [i], sizeof seen->user [i], "%s", u->user);
                snprintf (seen->language [i], sizeof seen->language [i], "%s", u->language);
                seen->task [i] = u->task;
                seen->event_ms [i] = u->event_ms;
                done = !marker && seen->count >= count;
            }
        }
        wp_bus_event_free (&event);
        if (done)
            return true;
    }
    return false;
}

//  Publish the marker event (a usage of model marker) and take what came
//  before it.
static void
s_barrier (itest_t *it, wp_bus_t *bus, s_seen_t *seen, const char *marker)
{
    const char *args [] = { "emit", "--user", "test", "--model", marker, NULL };
    char *output = NULL;
    assert_int_equal (itest_ctl (it, args, &output), 0);
    free (output);
    assert_true (s_collect (bus, seen, marker, 0));
}

//  Copy a fixture file into dir.
static void
s_copy_fixture (const char *relative, const char *dir, const char *name)
{
    char from [1024], to [1024];
    snprintf (from, sizeof from, "%s/tests/fixtures/%s", getenv ("WP_SOURCE_DIR"), relative);
    snprintf (to, sizeof to, "%s/%s", dir, name);
    FILE *in = fopen (from, "rb"), *out = fopen (to, "wb");
    assert_non_null (in);
    assert_non_null (out);
    char buffer [4096];
    size_t n;
    while ((n = fread (buffer, 1, sizeof buffer, in)) > 0)
        assert_int_equal (fwrite (buffer, 1, n, out), n);
    fclose (in);
    fclose (out);
}

//  The fixture: six requests, bad lines by file and line; nothing twice.
static void
test_continue_fixture (void **state)
{
    itest_t it;
    itest_init (&it, "ingest", NULL);
    wp_test_proc_t *bus_proc = itest_start (&it, "warmup-bus", NULL, NULL);
    const char *prefixes [] = { "usage.observed", NULL };
    wp_bus_t *bus = itest_bus (&it, prefixes);
    char dir [512];
    snprintf (dir, sizeof dir, "%s/dev_data", it.dir);
    mkdir (dir, 0700);
    const char *files [] = { "autocomplete", "chatInteraction", "editInteraction",
                             "tokensGenerated" };
    for (int i = 0; i < 4; i++) {
        char relative [256], name [64];
        snprintf (relative, sizeof relative, "continue/dev_data/0.2.0/%s.jsonl", files [i]);
        snprintf (name, sizeof name, "%s.jsonl", files [i]);
        s_copy_fixture (relative, dir, name);
    }
    const char *args [] = { "ingest", "--format", "continue", "--quiet", dir, NULL };
    char *output = NULL;
    assert_int_equal (itest_ctl (&it, args, &output), 0);
    const char *reports [] = { "autocomplete.jsonl:3: bad line", "autocomplete.jsonl:4: bad line",
                               "autocomplete.jsonl:6: bad line: autocomplete without modelName",
                               "chatInteraction.jsonl:3: bad line: timestamp",
                               "tokensGenerated.jsonl:2: unknown event: unknown event type "
                               "'futureEvent'",
                               "6 usage events published, 1 no request, 1 unknown event, "
                               "4 bad lines" };
    for (size_t i = 0; i < sizeof reports / sizeof reports [0]; i++)
        if (!strstr (output, reports [i]))
            fail_msg ("'%s' not in:\n%s", reports [i], output);
    free (output);
    s_seen_t seen = { .count = 0 };
    s_barrier (&it, bus, &seen, "marker-1");
    assert_int_equal (seen.count, 6);
    //  By model and task (files are read one after another).
    int completions = 0, chats = 0, edits = 0;
    for (int i = 0; i < seen.count; i++) {
        if (seen.task [i] == WARMUP__V1__TASK__TASK_COMPLETION) {
            completions++;
            if (streq (seen.model [i], "starcoder2:3b")) {
                assert_string_equal (seen.language [i], "typescript");
                assert_int_equal (seen.event_ms [i], 1738324820000ULL);
            }
            else
                assert_string_equal (seen.model [i], "qwen2.5-coder:1.5b");
        }
        if (seen.task [i] == WARMUP__V1__TASK__TASK_CHAT) {
            chats++;
            assert_string_equal (seen.model [i], "Llama 3.1 8B");
            char session [WP_USER_ID_LEN + 1];
            assert_string_equal (seen.session [i], itest_user_id (&it, "s-1", 's', session));
            assert_true (seen.event_ms [i] == 1738324860000ULL
                         || seen.event_ms [i] == 1738325010250ULL);
        }
        if (seen.task [i] == WARMUP__V1__TASK__TASK_EDIT) {
            edits++;
            assert_string_equal (seen.model [i], "qwen2.5-coder:7b");
            assert_string_equal (seen.language [i], "python");
        }
        assert_null (strstr (seen.user [i], "tok-ABC"));
    }
    assert_int_equal (completions, 3);
    assert_int_equal (chats, 2);
    assert_int_equal (edits, 1);

    //  Again: nothing new, nothing published.
    assert_int_equal (itest_ctl (&it, args, &output), 0);
    assert_non_null (strstr (output, "0 usage events published"));
    free (output);
    s_seen_t again = { .count = 0 };
    s_barrier (&it, bus, &again, "marker-2");
    assert_int_equal (again.count, 0);
    wp_bus_destroy (&bus);
    itest_stop (&bus_proc, "warmup-bus");
    itest_destroy (&it);
}

//  Append chat lines with sessions s-from..s-to to a file.
static void
s_chat_lines (const char *path, int from, int to, const char *tail)
{
    FILE *out = fopen (path, "a");
    assert_non_null (out);
    for (int i = from; i <= to; i++)
        fprintf (out, "{\"eventName\":\"chatInteraction\",\"schema\":\"0.2.0\","
                 "\"timestamp\":\"2025-02-01T10:%02d:00.000Z\",\"userId\":\"\","
                 "\"userAgent\":\"x\",\"selectedProfileId\":\"local\",\"prompt\":\"\","
                 "\"completion\":\"\",\"modelTitle\":\"chat-m\",\"modelProvider\":\"ollama\","
                 "\"sessionId\":\"s-%d\"}\n", i % 60, i);
    if (tail)
        fputs (tail, out);
    fclose (out);
}

//  Start warmupctl ingest --follow on dir.
static wp_test_proc_t *
s_follow (itest_t *it, const char *dir)
{
    char *path = wp_test_bin ("warmupctl");
    const char *argv [] = { path, "-c", it->config, "ingest", "--format", "continue",
                            "--follow", "--user", "dev", dir, NULL };
    wp_test_proc_t *proc = wp_test_spawn (argv);
    free (path);
    if (wp_test_proc_wait_line (proc, "following", ITEST_START_MS, NULL, 0))
        fail_msg ("ingest --follow did not start:\n%s", wp_test_proc_output (proc));
    return proc;
}

//  Each session s-1..s-n seen exactly once (as the bus hashed it).
static void
s_assert_once (itest_t *it, const s_seen_t *seen, int n)
{
    for (int i = 1; i <= n; i++) {
        char raw [16], want [WP_USER_ID_LEN + 1];
        snprintf (raw, sizeof raw, "s-%d", i);
        itest_user_id (it, raw, 's', want);
        int times = 0;
        for (int j = 0; j < seen->count; j++)
            times += streq (seen->session [j], want);
        if (times != 1)
            fail_msg ("session %s published %d times (want once)", raw, times);
    }
    assert_int_equal (seen->count, n);
}

//  --follow: growth, a partial line, stop and restart, rotation and
//  truncation: every line once.
static void
test_follow_restart_rotate (void **state)
{
    itest_t it;
    itest_init (&it, "ingest", NULL);
    wp_test_proc_t *bus_proc = itest_start (&it, "warmup-bus", NULL, NULL);
    const char *prefixes [] = { "usage.observed", NULL };
    wp_bus_t *bus = itest_bus (&it, prefixes);
    char dir [512], path [600], rotated [600];
    snprintf (dir, sizeof dir, "%s/dev_data", it.dir);
    mkdir (dir, 0700);
    snprintf (path, sizeof path, "%s/chatInteraction.jsonl", dir);
    snprintf (rotated, sizeof rotated, "%s/chatInteraction.jsonl.1", dir);
    s_chat_lines (path, 1, 5, NULL);
    wp_test_proc_t *ingest = s_follow (&it, dir);
    s_seen_t seen = { .count = 0 };
    assert_true (s_collect (bus, &seen, NULL, 5));
    //  Growth while followed, ending inside a line.
    s_chat_lines (path, 6, 8, "{\"eventName\":\"chatInteraction\",\"modelTitle\":\"chat-m\",");
    assert_true (s_collect (bus, &seen, NULL, 8));
    //  Stopped; the line is ended and more come; rotated; a new file.
    assert_int_equal (wp_test_proc_stop (ingest, SIGTERM, wp_test_ms (ITEST_STOP_MS)), 0);
    if (!strstr (wp_test_proc_output (ingest), "8 usage events published"))
        fail_msg ("first run:\n%s", wp_test_proc_output (ingest));
    wp_test_proc_destroy (&ingest);
    FILE *out = fopen (path, "a");
    fputs ("\"sessionId\":\"s-9\"}\n", out);
    fclose (out);
    s_chat_lines (path, 10, 10, NULL);
    assert_int_equal (rename (path, rotated), 0);
    s_chat_lines (path, 11, 12, NULL);
    ingest = s_follow (&it, dir);
    assert_true (s_collect (bus, &seen, NULL, 12));
    //  Rotated while followed, the old file still written once more.
    assert_int_equal (unlink (rotated), 0);
    assert_int_equal (rename (path, rotated), 0);
    s_chat_lines (rotated, 13, 13, NULL);
    s_chat_lines (path, 14, 15, NULL);
    assert_true (s_collect (bus, &seen, NULL, 15));
    //  Truncated in place, then written.
    out = fopen (path, "w");
    fclose (out);
    s_chat_lines (path, 16, 17, NULL);
    assert_true (s_collect (bus, &seen, NULL, 17));
    assert_int_equal (wp_test_proc_stop (ingest, SIGTERM, wp_test_ms (ITEST_STOP_MS)), 0);
    wp_test_proc_destroy (&ingest);
    //  A third run finds nothing new; the marker closes the stream.
    ingest = s_follow (&it, dir);
    assert_int_equal (wp_test_proc_stop (ingest, SIGTERM, wp_test_ms (ITEST_STOP_MS)), 0);
    if (!strstr (wp_test_proc_output (ingest), "0 usage events published"))
        fail_msg ("third run:\n%s", wp_test_proc_output (ingest));
    wp_test_proc_destroy (&ingest);
    s_barrier (&it, bus, &seen, "marker-3");
    s_assert_once (&it, &seen, 17);
    char dev [WP_USER_ID_LEN + 1];
    itest_user_id (&it, "dev", 'u', dev);
    for (int i = 0; i < seen.count; i++) {
        assert_string_equal (seen.user [i], dev);
        assert_string_equal (seen.model [i], "chat-m");
    }
    wp_bus_destroy (&bus);
    itest_stop (&bus_proc, "warmup-bus");
    itest_destroy (&it);
}

//  Tabby's log: completion and chat for the models given.
static void
test_tabby_fixture (void **state)
{
    itest_t it;
    itest_init (&it, "ingest", NULL);
    wp_test_proc_t *bus_proc = itest_start (&it, "warmup-bus", NULL, NULL);
    const char *prefixes [] = { "usage.observed", NULL };
    wp_bus_t *bus = itest_bus (&it, prefixes);
    char dir [512];
    snprintf (dir, sizeof dir, "%s/events", it.dir);
    mkdir (dir, 0700);
    s_copy_fixture ("tabby/events/2025-01-31.json", dir, "2025-01-31.json");
    const char *missing [] = { "ingest", "--format", "tabby", dir, NULL };
    char *output = NULL;
    assert_int_equal (itest_ctl (&it, missing, &output), 2);       //  which models?
    assert_non_null (strstr (output, "--completion-model"));
    free (output);
    const char *args [] = { "ingest", "--format", "tabby", "--completion-model", "tabby-coder",
                            "--chat-model", "tabby-chat", "--quiet", dir, NULL };
    assert_int_equal (itest_ctl (&it, args, &output), 0);
    const char *reports [] = { "2025-01-31.json:4: unknown event: unknown event type "
                               "'telemetry'",
                               "2025-01-31.json:8: ", "without a newline yet",
                               "3 usage events published, 3 no request, 1 unknown event, 0 bad "
                               "lines, 1 lines not ended yet" };
    for (size_t i = 0; i < sizeof reports / sizeof reports [0]; i++)
        if (!strstr (output, reports [i]))
            fail_msg ("'%s' not in:\n%s", reports [i], output);
    free (output);
    s_seen_t seen = { .count = 0 };
    s_barrier (&it, bus, &seen, "marker-4");
    assert_int_equal (seen.count, 3);
    assert_string_equal (seen.model [0], "tabby-coder");
    char user [WP_USER_ID_LEN + 1];
    assert_string_equal (seen.user [0], itest_user_id (&it, "alice@example.com", 'u', user));
    assert_string_equal (seen.language [0], "python");
    assert_string_equal (seen.model [1], "tabby-chat");
    assert_int_equal (seen.task [1], WARMUP__V1__TASK__TASK_CHAT);
    assert_string_equal (seen.user [2], itest_user_id (&it, "bob", 'u', user));
    wp_bus_destroy (&bus);
    itest_stop (&bus_proc, "warmup-bus");
    itest_destroy (&it);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_continue_fixture),
        cmocka_unit_test (test_follow_restart_rotate),
        cmocka_unit_test (test_tabby_fixture),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
