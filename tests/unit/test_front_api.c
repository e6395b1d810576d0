/*  =========================================================================
    test_front_api - the proxy's HTTP API as buffers: usage events read
    (one or an array, every field, each error naming its field), predict
    requests read, the predict answer and what it warms (threshold, state,
    acceptable latency, task), /healthz, the error body.
    =========================================================================
*/
#include "testutil.h"
#include "wp_front_api.h"
#include <czmq.h>

//  Read a usage body; NULL expected means it must fail with field.
static wp_front_usage_t *
s_usage (const char *body, int status, const char *field)
{
    wp_front_error_t error = { 0 };
    wp_front_usage_t *usage = wp_front_usage_read (body, strlen (body), 5000, &error);
    if (field) {
        if (usage)
            fail_msg ("accepted: %s", body);
        assert_int_equal (error.status, status);
        assert_string_equal (error.field, field);
        assert_true (strlen (error.message) > 5);
    }
    else
    if (!usage)
        fail_msg ("refused (%s: %s): %s", error.field, error.message, body);
    return usage;
}

static void
test_usage (void **state)
{
    wp_front_usage_t *usage = s_usage (
        "{\"user\":\"alice\",\"model\":\"qwen\",\"task\":\"Chat\",\"event_ms\":1700000000000,"
        "\"session\":\"s\",\"language\":\"c\",\"file_type\":\".c\",\"project_files\":12,"
        "\"input_tokens\":300,\"priority\":\"high\",\"acceptable_latency_ms\":500,"
        "\"outcome\":\"delayed\",\"wait_ms\":42}", 0, NULL);
    assert_int_equal (wp_front_usage_count (usage), 1);
    Warmup__V1__UsageObserved *e = wp_front_usage_event (usage, 0);
    assert_string_equal (e->user, "alice");
    assert_string_equal (e->model, "qwen");
    assert_int_equal (e->task, WARMUP__V1__TASK__TASK_CHAT);
    assert_int_equal (e->event_ms, 1700000000000ULL);
    assert_string_equal (e->session, "s");
    assert_string_equal (e->language, "c");
    assert_string_equal (e->file_type, ".c");
    assert_int_equal (e->project_files, 12);
    assert_int_equal (e->input_tokens, 300);
    assert_int_equal (e->priority, WARMUP__V1__PRIORITY__PRIORITY_HIGH);
    assert_int_equal (e->acceptable_latency_ms, 500);
    assert_int_equal (e->outcome, WARMUP__V1__OUTCOME__OUTCOME_DELAYED);
    assert_int_equal (e->wait_ms, 42);
    wp_front_usage_destroy (&usage);
    assert_null (usage);

    //  An array; event_ms defaults to now
    usage = s_usage ("[{\"user\":\"a\",\"model\":\"m\"},{\"user\":\"b\",\"model\":\"n\","
                     "\"task\":\"embedding\"}]", 0, NULL);
    assert_int_equal (wp_front_usage_count (usage), 2);
    assert_int_equal (wp_front_usage_event (usage, 0)->event_ms, 5000);
    assert_string_equal (wp_front_usage_event (usage, 1)->model, "n");
    wp_front_usage_destroy (&usage);

    //  Every error names its field
    s_usage ("{\"user\":\"a\"}", 400, "model");
    s_usage ("{\"model\":\"m\"}", 400, "user");
    s_usage ("{\"user\":\"\",\"model\":\"m\"}", 400, "user");
    s_usage ("{\"user\":\"a\",\"model\":\"m\",\"modle\":1}", 400, "modle");
    s_usage ("{\"user\":7,\"model\":\"m\"}", 400, "user");
    s_usage ("{\"user\":\"a\",\"model\":\"m\\n\"}", 400, "model");
    s_usage ("{\"user\":\"a\",\"model\":\"m\",\"task\":\"sing\"}", 400, "task");
    s_usage ("{\"user\":\"a\",\"model\":\"m\",\"task\":\"unspecified\"}", 400, "task");
    s_usage ("{\"user\":\"a\",\"model\":\"m\",\"task\":3}", 400, "task");
    s_usage ("{\"user\":\"a\",\"model\":\"m\",\"priority\":\"urgent\"}", 400, "priority");
    s_usage ("{\"user\":\"a\",\"model\":\"m\",\"outcome\":\"lukewarm\"}", 400, "outcome");
    s_usage ("{\"user\":\"a\",\"model\":\"m\",\"wait_ms\":-1}", 400, "wait_ms");
    s_usage ("{\"user\":\"a\",\"model\":\"m\",\"wait_ms\":1.5}", 400, "wait_ms");
    s_usage ("{\"user\":\"a\",\"model\":\"m\",\"wait_ms\":4294967296}", 400, "wait_ms");
    s_usage ("{\"user\":\"a\",\"model\":\"m\",\"event_ms\":\"now\"}", 400, "event_ms");
    s_usage ("{\"user\":\"a\",\"model\":\"m\",\"language\":\"0123456789012345678901234567"
             "890123456789012345678901234567890123456789\"}", 400, "language");
    s_usage ("[{\"user\":\"a\",\"model\":\"m\"},{\"user\":\"a\",\"modle\":\"m\"}]", 400,
             "[1].modle");
    s_usage ("[{\"user\":\"a\",\"model\":\"m\"},7]", 400, "[1]");
    s_usage ("[{\"user\":\"a\",\"model\":\"m\"},{\"model\":\"m\"}]", 400, "[1].user");
    s_usage ("[]", 400, "");
    s_usage ("7", 400, "");
    s_usage ("{\"user\":", 400, "");
    s_usage ("", 400, "");
    //  Too many events
    size_t size = (WP_FRONT_USAGE_MAX + 1) * 32 + 16;
    char *many = (char *) malloc (size);
    size_t at = 0;
    many [at++] = '[';
    for (int i = 0; i <= WP_FRONT_USAGE_MAX; i++)
        at += (size_t) sprintf (many + at, "%s{\"user\":\"a\",\"model\":\"m\"}", i ? "," : "");
    strcpy (many + at, "]");
    s_usage (many, 413, "");
    free (many);
    wp_front_usage_read (NULL, 0, 0, &(wp_front_error_t) { 0 });
}

static void
test_predict_read (void **state)
{
    wp_front_predict_t request;
    wp_front_error_t error = { 0 };
    assert_int_equal (wp_front_predict_read ("", 0, &request, &error), 0);
    assert_true (request.warm);
    assert_string_equal (request.user, "");
    const char *body = "{\"user\":\"alice\",\"task\":\"completion\",\"language\":\"python\","
                       "\"priority\":\"low\",\"acceptable_latency_ms\":800,\"warm\":false}";
    assert_int_equal (wp_front_predict_read (body, strlen (body), &request, &error), 0);
    assert_string_equal (request.user, "alice");
    assert_int_equal (request.task, WARMUP__V1__TASK__TASK_COMPLETION);
    assert_string_equal (request.language, "python");
    assert_int_equal (request.priority, WARMUP__V1__PRIORITY__PRIORITY_LOW);
    assert_int_equal (request.acceptable_latency_ms, 800);
    assert_false (request.warm);
    struct {
        const char *body, *field;
    } bad [] = {
        { "{\"warm\":\"yes\"}", "warm" },
        { "{\"task\":\"sing\"}", "task" },
        { "{\"priority\":1}", "priority" },
        { "{\"user\":\"\"}", "user" },
        { "{\"acceptable_latency_ms\":-5}", "acceptable_latency_ms" },
        { "{\"usr\":\"a\"}", "usr" },
        { "[1]", "" },
        { "{", "" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        assert_int_equal (wp_front_predict_read (bad [i].body, strlen (bad [i].body), &request,
                                                 &error), -1);
        assert_int_equal (error.status, 400);
        assert_string_equal (error.field, bad [i].field);
    }
}

static void
test_predict_answer (void **state)
{
    wp_config_t *config = wp_config_new ();
    wp_front_view_t *view = wp_front_view_new (10);
    Warmup__V1__ModelPrediction items [4], *pointers [4];
    const char *models [] = { "chat", "embed", "warm-one", "unlikely" };
    const double p [] = { 0.95, 0.9, 0.85, 0.2 };
    for (int i = 0; i < 4; i++) {
        Warmup__V1__ModelPrediction init = WARMUP__V1__MODEL_PREDICTION__INIT;
        items [i] = init;
        items [i].model = (char *) models [i];
        items [i].probability = p [i];
        items [i].expected_in_ms = 1000;
        pointers [i] = &items [i];
    }
    Warmup__V1__PredictionMade made = WARMUP__V1__PREDICTION_MADE__INIT;
    made.user = (char *) "alice";
    made.n_models = 4;
    made.models = pointers;
    wp_front_view_prediction (view, &made, 1000);
    wp_front_view_served (view, "warm-one");
    wp_front_view_task (view, "embed", WARMUP__V1__TASK__TASK_EMBEDDING);
    wp_front_view_task (view, "chat", WARMUP__V1__TASK__TASK_CHAT);

    wp_front_predict_t request = { .warm = true };
    snprintf (request.user, sizeof request.user, "alice");
    char warm [8][WP_FRONT_MODEL_MAX + 1];
    size_t n_warm, size;
    char *json = wp_front_predict_answer (view, config, &request, 1500, warm, 8, &n_warm, &size);
    assert_int_equal (strlen (json), size);
    //  Every model, highest first, with its state; the cold ones over the
    //  threshold (0.7) are warmed
    assert_non_null (strstr (json, "{\"user\":\"alice\",\"horizon_s\":300,\"threshold\":0.7,"
                                   "\"models\":[{\"model\":\"chat\",\"probability\":0.95,"
                                   "\"confidence\":0,\"expected_in_ms\":500,\"state\":\"cold\"}"));
    assert_non_null (strstr (json, "\"model\":\"warm-one\",\"probability\":0.85,\"confidence\":0,"
                                   "\"expected_in_ms\":500,\"state\":\"warm\""));
    assert_non_null (strstr (json, "\"warming\":[\"chat\",\"embed\"]"));
    assert_int_equal (n_warm, 2);
    assert_string_equal (warm [0], "chat");
    assert_string_equal (warm [1], "embed");
    free (json);
    //  A task keeps the models used for it (and those never seen)
    request.task = WARMUP__V1__TASK__TASK_EMBEDDING;
    json = wp_front_predict_answer (view, config, &request, 1500, warm, 8, &n_warm, &size);
    assert_null (strstr (json, "\"model\":\"chat\""));
    assert_non_null (strstr (json, "\"model\":\"unlikely\""));
    assert_non_null (strstr (json, "\"warming\":[\"embed\"]"));
    free (json);
    //  A cold start within the acceptable latency is not worth a warm
    request.task = 0;
    request.acceptable_latency_ms = 5000;       //  default_load_ms is 1000
    json = wp_front_predict_answer (view, config, &request, 1500, warm, 8, &n_warm, &size);
    assert_int_equal (n_warm, 0);
    free (json);
    wp_front_view_load_ms (view, "chat", 9000);
    json = wp_front_predict_answer (view, config, &request, 1500, warm, 8, &n_warm, &size);
    assert_int_equal (n_warm, 1);
    assert_string_equal (warm [0], "chat");
    free (json);
    //  warm false: nothing; an unknown user: no models
    request.warm = false;
    json = wp_front_predict_answer (view, config, &request, 1500, warm, 8, &n_warm, &size);
    assert_int_equal (n_warm, 0);
    free (json);
    snprintf (request.user, sizeof request.user, "nobody\"");
    json = wp_front_predict_answer (view, config, &request, 1500, warm, 8, &n_warm, &size);
    assert_non_null (strstr (json, "{\"user\":\"nobody\\\"\","));
    assert_non_null (strstr (json, "\"models\":[],\"warming\":[]"));
    free (json);
    wp_front_view_destroy (&view);
    wp_config_destroy (&config);
}

static void
test_health_and_errors (void **state)
{
    wp_front_view_t *view = wp_front_view_new (1);
    const char *components [] = { "analyzer", "engine", "queue", NULL };
    wp_front_view_heartbeat (view, "engine", 1000, 1000);
    int status;
    size_t size;
    char *json = wp_front_health (view, components, 1500, &status, &size);
    assert_int_equal (status, 503);
    assert_string_equal (json, "{\"status\":\"degraded\",\"alive\":[\"engine\"],"
                               "\"missing\":[\"analyzer\",\"queue\"]}\n");
    free (json);
    wp_front_view_heartbeat (view, "analyzer", 1000, 1000);
    wp_front_view_heartbeat (view, "queue", 1000, 1000);
    json = wp_front_health (view, components, 1500, &status, &size);
    assert_int_equal (status, 200);
    assert_string_equal (json, "{\"status\":\"ok\",\"alive\":[\"analyzer\",\"engine\",\"queue\"],"
                               "\"missing\":[]}\n");
    free (json);
    wp_front_view_destroy (&view);

    wp_front_error_t error;
    assert_int_equal (wp_front_error (&error, 413, "[2].model", "too %s", "big"), -1);
    json = wp_front_error_json (&error, &size);
    assert_string_equal (json, "{\"error\":\"too big\",\"field\":\"[2].model\"}\n");
    assert_int_equal (size, strlen (json));
    free (json);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_usage),
        cmocka_unit_test (test_predict_read),
        cmocka_unit_test (test_predict_answer),
        cmocka_unit_test (test_health_and_errors),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
