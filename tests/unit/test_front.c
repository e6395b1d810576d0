/*  =========================================================================
    test_front - what the proxy reads from a request (wp_front): observed
    routes and their tasks, the model of a JSON body (and every way a body
    can be malformed), the user (never the raw token), request targets,
    hop-by-hop headers, upstream URLs.
    =========================================================================
*/
#include "testutil.h"
#include "wp_front.h"
#include "wp_util.h"
#include "warmup.pb-c.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_routes (void **state)
{
    struct {
        const char *method, *path;
        int task;
    } cases [] = {
        { "POST", "/v1/chat/completions", WARMUP__V1__TASK__TASK_CHAT },
        { "POST", "/v1/completions", WARMUP__V1__TASK__TASK_COMPLETION },
        { "POST", "/infill", WARMUP__V1__TASK__TASK_COMPLETION },
        { "POST", "/v1/embeddings", WARMUP__V1__TASK__TASK_EMBEDDING },
        { "POST", "/v1/rerank", WARMUP__V1__TASK__TASK_RERANK },
        { "POST", "/rerank", WARMUP__V1__TASK__TASK_RERANK },
        { "POST", "/api/chat", WARMUP__V1__TASK__TASK_CHAT },
        { "POST", "/api/generate", WARMUP__V1__TASK__TASK_COMPLETION },
        { "POST", "/api/embed", WARMUP__V1__TASK__TASK_EMBEDDING },
        { "POST", "/api/embeddings", WARMUP__V1__TASK__TASK_EMBEDDING },
        { "GET", "/v1/chat/completions", 0 },
        { "POST", "/v1/models", 0 },
        { "POST", "/v1/chat/completionsX", 0 },
        { "POST", "/api/tags", 0 },
        { "POST", "", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++)
        assert_int_equal (wp_front_route_task (cases [i].method, cases [i].path,
                                               strlen (cases [i].path)), cases [i].task);
    //  The path ends where the caller says (the query string is not part)
    const char *with_query = "/api/chat?x=1";
    assert_int_equal (wp_front_route_task ("POST", with_query, 9), WARMUP__V1__TASK__TASK_CHAT);
    assert_int_equal (wp_front_route_task (NULL, "/api/chat", 9), 0);
}

//  Scan a NUL-terminated body.
static wp_front_scan_t
s_scan (const char *body, char *model)
{
    return wp_front_scan_model (body, strlen (body), model, WP_FRONT_MODEL_MAX + 1);
}

static void
test_scan_model (void **state)
{
    char model [WP_FRONT_MODEL_MAX + 1];
    assert_int_equal (s_scan ("{\"model\":\"qwen\",\"stream\":true}", model), WP_FRONT_SCAN_OK);
    assert_string_equal (model, "qwen");
    //  Anywhere among the members, nested values skipped, blanks around
    assert_int_equal (s_scan (" {\"messages\":[{\"role\":\"user\",\"content\":\"{\\\"model\\\""
                              ":1}\"}],\"options\":{\"model\":\"inner\"},\n\"model\" : "
                              "\"outer:7b\" } ", model), WP_FRONT_SCAN_OK);
    assert_string_equal (model, "outer:7b");
    //  Escapes decoded, surrogate pairs included
    assert_int_equal (s_scan ("{\"model\":\"a\\/b\\u00e9\\ud83d\\ude00\"}", model),
                      WP_FRONT_SCAN_OK);
    assert_string_equal (model, "a/b\xc3\xa9\xf0\x9f\x98\x80");
    //  The last one when given twice
    assert_int_equal (s_scan ("{\"model\":\"a\",\"model\":\"b\"}", model), WP_FRONT_SCAN_OK);
    assert_string_equal (model, "b");
    //  Numbers of every form, literals
    assert_int_equal (s_scan ("{\"t\":-0.5e+3,\"n\":0,\"x\":[true,false,null,1E2],"
                              "\"model\":\"m\"}", model), WP_FRONT_SCAN_OK);

    //  No model, or not a string
    assert_int_equal (s_scan ("{}", model), WP_FRONT_SCAN_NO_MODEL);
    assert_int_equal (s_scan ("{\"input\":\"x\"}", model), WP_FRONT_SCAN_NO_MODEL);
    assert_int_equal (s_scan ("{\"model\":7}", model), WP_FRONT_SCAN_NO_MODEL);
    assert_int_equal (s_scan ("{\"model\":null}", model), WP_FRONT_SCAN_NO_MODEL);
    assert_string_equal (model, "");
    //  Unusable model strings
    assert_int_equal (s_scan ("{\"model\":\"\"}", model), WP_FRONT_SCAN_BAD_MODEL);
    assert_int_equal (s_scan ("{\"model\":\"a\\nb\"}", model), WP_FRONT_SCAN_BAD_MODEL);
    assert_int_equal (s_scan ("{\"model\":\"a\\u0000b\"}", model), WP_FRONT_SCAN_BAD_MODEL);
    char long_body [400];
    snprintf (long_body, sizeof long_body, "{\"model\":\"%0201d\"}", 7);
    assert_int_equal (s_scan (long_body, model), WP_FRONT_SCAN_BAD_MODEL);
    //  Valid, but not an object
    assert_int_equal (s_scan ("[{\"model\":\"m\"}]", model), WP_FRONT_SCAN_NOT_OBJECT);
    assert_int_equal (s_scan ("\"model\"", model), WP_FRONT_SCAN_NOT_OBJECT);

    //  Malformed, each way
    const char *malformed [] = {
        "", "   ", "{", "{\"model\":\"m\"", "{\"model\":\"m\",}", "{\"model\" \"m\"}",
        "{\"model\":\"m\"} x", "{\"model\":\"m\"}{}", "{model:\"m\"}", "{\"a\":01}",
        "{\"a\":1.}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":tru}", "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}", "{\"a\":\"raw\ncontrol\"}", "{\"a\":[1,]}", "{\"a\":[1 2]}",
        "{\"model\":\"m\",\"a\":}", "{'model':'m'}", "nul", "{\"a\":\"unterminated}",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed [0]; i++)
        if (s_scan (malformed [i], model) != WP_FRONT_SCAN_MALFORMED)
            fail_msg ("not refused as malformed: %s", malformed [i]);
    //  A model before the error is not kept
    assert_int_equal (s_scan ("{\"model\":\"m\",", model), WP_FRONT_SCAN_MALFORMED);
    assert_string_equal (model, "");
    //  A NUL byte inside the text is malformed, not the end
    assert_int_equal (wp_front_scan_model ("{\"model\":\"m\"}\0{", 15, model, sizeof model),
                      WP_FRONT_SCAN_MALFORMED);
    assert_int_equal (wp_front_scan_model (NULL, 0, model, sizeof model),
                      WP_FRONT_SCAN_MALFORMED);

    //  Nesting: up to the bound, not beyond (and no stack to exhaust)
    char deep [2 * WP_FRONT_JSON_DEPTH + 64];
    size_t at = 0;
    at += (size_t) sprintf (deep + at, "{\"model\":\"m\",\"x\":");
    for (int i = 0; i < WP_FRONT_JSON_DEPTH - 1; i++)
        deep [at++] = '[';
    for (int i = 0; i < WP_FRONT_JSON_DEPTH - 1; i++)
        deep [at++] = ']';
    strcpy (deep + at, "}");
    assert_int_equal (s_scan (deep, model), WP_FRONT_SCAN_OK);
    at = (size_t) sprintf (deep, "{\"model\":\"m\",\"x\":");
    for (int i = 0; i < WP_FRONT_JSON_DEPTH; i++)
        deep [at++] = '[';
    for (int i = 0; i < WP_FRONT_JSON_DEPTH; i++)
        deep [at++] = ']';
    strcpy (deep + at, "}");
    assert_int_equal (s_scan (deep, model), WP_FRONT_SCAN_MALFORMED);
    char *abyss = (char *) malloc (1000001);
    memset (abyss, '[', 1000000);
    abyss [1000000] = 0;
    assert_int_equal (s_scan (abyss, model), WP_FRONT_SCAN_MALFORMED);
    free (abyss);
    assert_string_equal (wp_front_scan_name (WP_FRONT_SCAN_MALFORMED), "malformed JSON");
}

static void
test_user (void **state)
{
    uint8_t key [16] = { 1, 2, 3 };
    char user [WP_FRONT_USER_MAX + 1];
    wp_front_user (key, "alice", "Bearer sk-1", "127.0.0.1", user, sizeof user);
    assert_string_equal (user, "alice");
    //  A bearer token: a keyed hash, never the token
    wp_front_user (key, NULL, "Bearer sk-very-secret", "127.0.0.1", user, sizeof user);
    assert_int_equal (strncmp (user, "key:", 4), 0);
    assert_int_equal (strlen (user), 20);
    assert_null (strstr (user, "secret"));
    char expected [32];
    snprintf (expected, sizeof expected, "key:%016llx", (unsigned long long)
              wp_siphash (key, "sk-very-secret", strlen ("sk-very-secret")));
    assert_string_equal (user, expected);
    //  The same token, the same user; another key, another hash
    char again [WP_FRONT_USER_MAX + 1];
    wp_front_user (key, "", "bearer  sk-very-secret ", NULL, again, sizeof again);
    assert_string_equal (again, user);
    uint8_t other [16] = { 9 };
    wp_front_user (other, NULL, "Bearer sk-very-secret", NULL, again, sizeof again);
    assert_string_not_equal (again, user);
    //  No usable header: the client address
    wp_front_user (key, "bad\nuser", "Basic abc", "10.1.2.3", user, sizeof user);
    assert_string_equal (user, "addr:10.1.2.3");
    wp_front_user (key, NULL, "Bearer ", NULL, user, sizeof user);
    assert_string_equal (user, "addr:unknown");
    char long_id [400];
    memset (long_id, 'u', 300);
    long_id [300] = 0;
    assert_false (wp_front_id_ok (long_id));
    long_id [256] = 0;
    assert_true (wp_front_id_ok (long_id));
    assert_false (wp_front_id_ok (""));
    assert_false (wp_front_id_ok (NULL));
}

static void
test_headers_and_targets (void **state)
{
    assert_true (wp_front_hop_by_hop ("Connection"));
    assert_true (wp_front_hop_by_hop ("transfer-encoding"));
    assert_true (wp_front_hop_by_hop ("Host"));
    assert_true (wp_front_hop_by_hop ("Content-Length"));
    assert_true (wp_front_hop_by_hop ("Keep-Alive"));
    assert_true (wp_front_hop_by_hop ("Upgrade"));
    assert_false (wp_front_hop_by_hop ("Authorization"));
    assert_false (wp_front_hop_by_hop ("Content-Type"));
    assert_false (wp_front_hop_by_hop ("X-Request-Id"));

    const char *why;
    assert_int_equal (wp_front_uri_check ("/v1/models?x=1", &why), 0);
    assert_int_equal (wp_front_uri_check ("/", &why), 0);
    assert_int_equal (wp_front_uri_check ("http://evil/", &why), -1);
    assert_non_null (why);
    assert_int_equal (wp_front_uri_check ("//evil/x", &why), -1);
    assert_int_equal (wp_front_uri_check ("*", &why), -1);
    assert_int_equal (wp_front_uri_check ("/a b", &why), -1);
    assert_int_equal (wp_front_uri_check ("/a\x01", &why), -1);
    assert_int_equal (wp_front_uri_check (NULL, &why), -1);
    char *longest = (char *) malloc (WP_FRONT_URI_MAX + 2);
    longest [0] = '/';
    memset (longest + 1, 'a', WP_FRONT_URI_MAX);
    longest [WP_FRONT_URI_MAX + 1] = 0;
    assert_int_equal (wp_front_uri_check (longest, &why), -1);
    longest [WP_FRONT_URI_MAX] = 0;
    assert_int_equal (wp_front_uri_check (longest, &why), 0);
    free (longest);

    char url [64];
    assert_int_equal (wp_front_upstream_url ("http://h:1", "/v1/x?y", url, sizeof url), 0);
    assert_string_equal (url, "http://h:1/v1/x?y");
    assert_int_equal (wp_front_upstream_url ("http://h:1/pre//", "/a", url, sizeof url), 0);
    assert_string_equal (url, "http://h:1/pre/a");
    assert_int_equal (wp_front_upstream_url ("http://h:1", "/0123456789012345678901234567"
                                             "890123456789012345678901234567890", url,
                                             sizeof url), -1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_routes),
        cmocka_unit_test (test_scan_model),
        cmocka_unit_test (test_user),
        cmocka_unit_test (test_headers_and_targets),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
