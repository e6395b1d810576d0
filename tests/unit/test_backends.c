/*  =========================================================================
    test_backends - every backend against something real: commands for
    exec, files for file, and for the HTTP backends a scripted server on
    127.0.0.1 inside the test (replies, error replies, a server that hangs,
    a port nobody listens on). Also the JSON reader and the curl helpers.
    The end-to-end run against a real llama-server is test_llama_e2e (slow).
    =========================================================================
*/
#include "testutil.h"
#include "httpstub.h"
#include "wp_backend.h"
#include "wp_jval.h"
#include "wp_pagecache.h"
#include <czmq.h>

static char *s_dir;             //  scratch directory of this run

//  What a job reported.
typedef struct {
    bool done;                  //  the callback came
    wp_job_result_t result;     //  its result
} outcome_t;

static void
s_job_done (wp_job_t *job, const wp_job_result_t *result, void *arg)
{
    outcome_t *outcome = (outcome_t *) arg;
    outcome->done = true;
    outcome->result = *result;
}

//  Loop timer: end the loop once the job called back.
static int
s_check (zloop_t *loop, int timer_id, void *arg)
{
    return ((outcome_t *) arg)->done ? -1 : 0;
}

//  Loop timer: the job never called back.
static int
s_give_up (zloop_t *loop, int timer_id, void *arg)
{
    return -1;
}

//  Load a config made of one model section (text indented under models)
//  and return it; the model is named "m".
static wp_config_t *
s_config (const char *section)
{
    char path [512];
    snprintf (path, sizeof path, "%s/model.cfg", s_dir);
    char text [4096];
    snprintf (text, sizeof text, "models\n    m\n%s", section);
    wp_test_write_file (path, text);
    wp_config_t *config = wp_config_load (path);
    if (!config)
        fail_msg ("config rejected:\n%s", text);
    return config;
}

//  Run one job of model "m" to its end on a loop of our own.
static outcome_t
s_run (const wp_config_t *config, wp_job_op_t op, uint32_t timeout_ms)
{
    zloop_t *loop = zloop_new ();
    wp_backends_t *backends = wp_backends_new (loop);
    assert_non_null (backends);
    outcome_t outcome = { 0 };
    wp_job_t *job = wp_backends_start (backends, wp_config_model (config, "m"), "m", op,
                                       timeout_ms, s_job_done, &outcome);
    assert_non_null (job);
    assert_false (outcome.done);        //  never from inside start
    zloop_timer (loop, 2, 0, s_check, &outcome);
    zloop_timer (loop, 60000, 1, s_give_up, NULL);
    zloop_start (loop);
    assert_true (outcome.done);
    assert_int_equal (wp_backends_active (backends), 0);
    wp_backends_destroy (&backends);
    zloop_destroy (&loop);
    return outcome;
}

//  A config for an HTTP backend pointing at the stub.
static wp_config_t *
s_http_config (stub_t *stub, const char *backend, const char *extra)
{
    char section [2048];
    snprintf (section, sizeof section,
              "        backend = %s\n"
              "        url = \"http://127.0.0.1:%d\"\n"
              "%s%s", backend, stub->port,
              streq (backend, "ollama") ? "" : "        poll_ms = 10\n", extra ? extra : "");
    return s_config (section);
}

//  The JSON reader: values, nesting, escapes, and refusals.
static void
test_jval (void **state)
{
    const char *text = "{\"data\":[{\"id\":\"a\\u00e9\\\"\",\"n\":-1.5e2,\"ok\":true,"
                       "\"none\":null,\"s\":{\"value\":\"loaded\"}}],\"empty\":{}}";
    wp_jval_t *json = wp_jval_parse (text, strlen (text));
    assert_non_null (json);
    const wp_jval_t *first = wp_jval_at (wp_jval_get (json, "data"), 0);
    assert_string_equal (wp_jval_str (wp_jval_get (first, "id")), "a\xc3\xa9\"");
    assert_true (wp_jval_num (wp_jval_get (first, "n"), 0) == -150.0);
    assert_true (wp_jval_true (wp_jval_get (first, "ok")));
    assert_int_equal (wp_jval_type (wp_jval_get (first, "none")), WP_JVAL_NULL);
    assert_string_equal (wp_jval_str (wp_jval_path (first, "s.value")), "loaded");
    assert_null (wp_jval_path (first, "s.missing"));
    assert_int_equal (wp_jval_size (wp_jval_get (json, "empty")), 0);
    assert_null (wp_jval_at (wp_jval_get (json, "data"), 1));
    wp_jval_destroy (&json);
    assert_null (json);

    const char *bad [] = { "", "{", "{\"a\":}", "[1,]", "\"open", "{\"a\" 1}", "01x",
                           "[1] [2]", "tru", "\"\\q\"", "{\"a\":\"\\u12\"}", NULL };
    for (int i = 0; bad [i]; i++)
        if (wp_jval_parse (bad [i], strlen (bad [i])))
            fail_msg ("accepted bad JSON: %s", bad [i]);
    char deep [200];
    memset (deep, '[', 100);
    memset (deep + 100, ']', 100);
    assert_null (wp_jval_parse (deep, sizeof deep));
}

//  Templates and the server's message in an error reply.
static void
test_curl_helpers (void **state)
{
    char out [64];
    assert_int_equal (wp_curl_expand ("/v2/models/%m/load?x=%%", "org/m b", true,
                                      out, sizeof out), 0);
    assert_string_equal (out, "/v2/models/org%2Fm%20b/load?x=%");
    assert_int_equal (wp_curl_expand ("{\"model\":\"%m\"}", "a\"b", false, out, sizeof out), 0);
    assert_string_equal (out, "{\"model\":\"a\\\"b\"}");
    assert_int_equal (wp_curl_expand ("%m%m%m%m%m", "0123456789abc", false, out, sizeof out), -1);
    assert_int_equal (wp_curl_expand ("%x", "m", false, out, sizeof out), -1);

    char message [32];
    const char *llama = "{\"error\":{\"code\":404,\"message\":\"model is not found\"}}";
    wp_curl_server_message (llama, strlen (llama), message, sizeof message);
    assert_string_equal (message, "model is not found");
    const char *ollama = "{\"error\":\"model 'x' not found\"}";
    wp_curl_server_message (ollama, strlen (ollama), message, sizeof message);
    assert_string_equal (message, "model 'x' not found");
    const char *vllm = "{\"detail\":\"Not Found\"}";
    wp_curl_server_message (vllm, strlen (vllm), message, sizeof message);
    assert_string_equal (message, "Not Found");
    const char *plain = "  upstream\nexploded with a very long message indeed\n";
    wp_curl_server_message (plain, strlen (plain), message, sizeof message);
    assert_string_equal (message, "upstream exploded with a very l");
}

//  llama-server: load, then polls until loaded; status; cool.
static void
test_llama_warm_cool (void **state)
{
    stub_t stub;
    stub_start (&stub);
    stub_route (&stub, "POST", "/models/load", STUB_REPLY, 200, "{\"success\":true}", 0);
    stub_route (&stub, "GET", "/models", STUB_REPLY, 200,
                "{\"data\":[{\"id\":\"other\",\"status\":{\"value\":\"loaded\"}},"
                "{\"id\":\"m\",\"status\":{\"value\":\"loading\"}}]}", 2);
    //  (the router merges the child's model info: meta.size, the weights)
    stub_route (&stub, "GET", "/models", STUB_REPLY, 200,
                "{\"data\":[{\"id\":\"m\",\"status\":{\"value\":\"loaded\"},"
                "\"meta\":{\"n_params\":134000000,\"size\":268435456}}]}", 2);
    stub_route (&stub, "POST", "/models/unload", STUB_REPLY, 200, "{\"success\":true}", 0);
    stub_route (&stub, "GET", "/models", STUB_REPLY, 200,
                "{\"data\":[{\"id\":\"x\",\"aliases\":[\"m\"],\"status\":{\"value\":\"unloaded\"}}]}", 0);
    wp_config_t *config = s_http_config (&stub, "llama-server", NULL);

    outcome_t warm = s_run (config, WP_JOB_WARM, 5000);
    assert_true (warm.result.ok);
    assert_true (warm.result.loaded);
    //  The weights, a lower bound of what it holds
    assert_string_equal (warm.result.memory_source, "server-weights");
    assert_int_equal (warm.result.memory_bytes, 268435456);
    assert_int_equal (warm.result.vram_bytes, 0);
    outcome_t status = s_run (config, WP_JOB_STATUS, 5000);
    assert_true (status.result.ok);
    assert_true (status.result.loaded);
    outcome_t cool = s_run (config, WP_JOB_COOL, 5000);
    assert_true (cool.result.ok);

    char *log = stub_log (&stub);
    //  One load, three polls until loaded, one status, one unload, one poll
    assert_non_null (strstr (log, "POST /models/load {\"model\":\"m\"}\n"));
    assert_non_null (strstr (log, "POST /models/unload {\"model\":\"m\"}\n"));
    assert_int_equal (stub.requests, 7);
    free (log);
    wp_config_destroy (&config);
    stub_stop (&stub);
}

//  llama-server errors: unknown model (the server's message, no retry),
//  "already running" (polled to loaded), a child that failed to load.
static void
test_llama_errors (void **state)
{
    stub_t stub;
    stub_start (&stub);
    stub_route (&stub, "POST", "/models/load", STUB_REPLY, 404,
                "{\"error\":{\"code\":404,\"message\":\"model is not found\","
                "\"type\":\"not_found_error\"}}", 1);
    stub_route (&stub, "POST", "/models/load", STUB_REPLY, 400,
                "{\"error\":{\"code\":400,\"message\":\"model is already running\"}}", 1);
    stub_route (&stub, "GET", "/models", STUB_REPLY, 200,
                "{\"data\":[{\"id\":\"m\",\"status\":{\"value\":\"loaded\"}}]}", 1);
    stub_route (&stub, "POST", "/models/load", STUB_REPLY, 200, "{\"success\":true}", 1);
    stub_route (&stub, "GET", "/models", STUB_REPLY, 200,
                "{\"data\":[{\"id\":\"m\",\"status\":{\"value\":\"unloaded\",\"failed\":true,"
                "\"exit_code\":1}}]}", 1);
    stub_route (&stub, "POST", "/models/load", STUB_REPLY, 503,
                "{\"error\":{\"message\":\"busy\"}}", 1);
    wp_config_t *config = s_http_config (&stub, "llama-server", NULL);

    outcome_t missing = s_run (config, WP_JOB_WARM, 5000);
    assert_false (missing.result.ok);
    assert_false (missing.result.retryable);
    assert_non_null (strstr (missing.result.error, "POST /models/load: HTTP 404: model is not found"));
    outcome_t running = s_run (config, WP_JOB_WARM, 5000);
    assert_true (running.result.ok);
    outcome_t failed = s_run (config, WP_JOB_WARM, 5000);
    assert_false (failed.result.ok);
    assert_false (failed.result.retryable);
    assert_non_null (strstr (failed.result.error, "failed to load 'm' (exit code 1)"));
    outcome_t busy = s_run (config, WP_JOB_WARM, 5000);
    assert_false (busy.result.ok);
    assert_true (busy.result.retryable);
    assert_non_null (strstr (busy.result.error, "HTTP 503: busy"));
    wp_config_destroy (&config);
    stub_stop (&stub);
}

//  A load that never settles times out with the last status named.
static void
test_llama_poll_timeout (void **state)
{
    stub_t stub;
    stub_start (&stub);
    stub_route (&stub, "POST", "/models/load", STUB_REPLY, 200, "{\"success\":true}", 0);
    stub_route (&stub, "GET", "/models", STUB_REPLY, 200,
                "{\"data\":[{\"id\":\"m\",\"status\":{\"value\":\"loading\"}}]}", 0);
    wp_config_t *config = s_http_config (&stub, "llama-server", NULL);
    outcome_t warm = s_run (config, WP_JOB_WARM, 300);
    assert_false (warm.result.ok);
    assert_true (warm.result.timed_out);
    assert_true (warm.result.retryable);
    if (!strstr (warm.result.error, "(status: loading)"))
        fail_msg ("%s", warm.result.error);
    wp_config_destroy (&config);
    stub_stop (&stub);
}

//  Ollama: the warm request, the memory /api/ps reports, the cool, the
//  server's error message, a status of a model not loaded.
static void
test_ollama (void **state)
{
    stub_t stub;
    stub_start (&stub);
    stub_route (&stub, "POST", "/api/generate", STUB_REPLY, 200,
                "{\"model\":\"qwen\",\"done\":true,\"done_reason\":\"load\"}", 3);
    stub_route (&stub, "GET", "/api/ps", STUB_REPLY, 200,
                "{\"models\":[{\"name\":\"qwen:latest\",\"model\":\"qwen:latest\","
                "\"size\":1234567890,\"size_vram\":0}]}", 1);
    //  Offloaded in part: 1 GiB of 1.5 on the GPU
    stub_route (&stub, "GET", "/api/ps", STUB_REPLY, 200,
                "{\"models\":[{\"name\":\"qwen:latest\",\"size\":1610612736,"
                "\"size_vram\":1073741824}]}", 1);
    stub_route (&stub, "POST", "/api/generate", STUB_REPLY, 404,
                "{\"error\":\"model 'qwen' not found, try pulling it first\"}", 1);
    stub_route (&stub, "GET", "/api/ps", STUB_REPLY, 200, "{\"models\":[]}", 1);
    wp_config_t *config = s_http_config (&stub, "ollama",
                                         "        server_model = qwen\n"
                                         "        keep_alive = 30m\n");
    outcome_t warm = s_run (config, WP_JOB_WARM, 5000);
    assert_true (warm.result.ok);
    assert_int_equal (warm.result.memory_bytes, 1234567890);
    assert_int_equal (warm.result.vram_bytes, 0);
    assert_string_equal (warm.result.memory_source, "server");
    outcome_t split = s_run (config, WP_JOB_WARM, 5000);
    assert_true (split.result.ok);
    assert_int_equal (split.result.memory_bytes, 1610612736);
    assert_int_equal (split.result.vram_bytes, 1073741824);
    outcome_t cool = s_run (config, WP_JOB_COOL, 5000);
    assert_true (cool.result.ok);
    outcome_t missing = s_run (config, WP_JOB_WARM, 5000);
    assert_false (missing.result.ok);
    assert_false (missing.result.retryable);
    assert_non_null (strstr (missing.result.error,
                             "HTTP 404: model 'qwen' not found, try pulling it first"));
    outcome_t status = s_run (config, WP_JOB_STATUS, 5000);
    assert_true (status.result.ok);
    assert_false (status.result.loaded);

    char *log = stub_log (&stub);
    assert_non_null (strstr (log, "POST /api/generate {\"model\":\"qwen\",\"keep_alive\":\"30m\"}\n"));
    assert_non_null (strstr (log, "POST /api/generate {\"model\":\"qwen\",\"keep_alive\":0}\n"));
    free (log);
    wp_config_destroy (&config);
    stub_stop (&stub);
}

//  openai-compatible as vLLM's sleep mode: wake_up, then the status
//  until it says awake; sleep; a 500 is retryable with its message.
static void
test_openai_vllm (void **state)
{
    stub_t stub;
    stub_start (&stub);
    stub_route (&stub, "POST", "/wake_up", STUB_REPLY, 200, "", 1);
    stub_route (&stub, "GET", "/is_sleeping", STUB_REPLY, 200, "{\"is_sleeping\":true}", 1);
    stub_route (&stub, "GET", "/is_sleeping", STUB_REPLY, 200, "{\"is_sleeping\":false}", 0);
    stub_route (&stub, "POST", "/sleep?level=1", STUB_REPLY, 200, "", 1);
    stub_route (&stub, "POST", "/wake_up", STUB_REPLY, 500,
                "{\"detail\":\"CUDA out of memory\"}", 1);
    wp_config_t *config = s_http_config (&stub, "openai-compatible",
                                         "        load_path = /wake_up\n"
                                         "        unload_path = \"/sleep?level=1\"\n"
                                         "        status_path = /is_sleeping\n"
                                         "        status_loaded = '\"is_sleeping\":false'\n");
    outcome_t warm = s_run (config, WP_JOB_WARM, 5000);
    assert_true (warm.result.ok);
    outcome_t cool = s_run (config, WP_JOB_COOL, 5000);
    assert_true (cool.result.ok);
    outcome_t oom = s_run (config, WP_JOB_WARM, 5000);
    assert_false (oom.result.ok);
    assert_true (oom.result.retryable);
    assert_non_null (strstr (oom.result.error, "load: HTTP 500: CUDA out of memory"));
    assert_int_equal (stub.requests, 5);
    wp_config_destroy (&config);
    stub_stop (&stub);
}

//  openai-compatible as Triton's repository API, with a server name that
//  needs URL encoding; a status of "not ready" (400) is not loaded.
static void
test_openai_triton (void **state)
{
    stub_t stub;
    stub_start (&stub);
    stub_route (&stub, "POST", "/v2/repository/models/org%2Fbert/load", STUB_REPLY, 200, "{}", 1);
    stub_route (&stub, "GET", "/v2/models/org%2Fbert/ready", STUB_REPLY, 200, "", 1);
    stub_route (&stub, "POST", "/v2/repository/models/org%2Fbert/unload", STUB_REPLY, 200, "{}", 1);
    stub_route (&stub, "GET", "/v2/models/org%2Fbert/ready", STUB_REPLY, 400,
                "{\"error\":\"not ready\"}", 1);
    wp_config_t *config = s_http_config (&stub, "openai-compatible",
        "        server_model = org/bert\n"
        "        load_path = /v2/repository/models/%m/load\n"
        "        unload_path = /v2/repository/models/%m/unload\n"
        "        status_path = /v2/models/%m/ready\n");
    assert_true (s_run (config, WP_JOB_WARM, 5000).result.ok);
    assert_true (s_run (config, WP_JOB_COOL, 5000).result.ok);
    outcome_t status = s_run (config, WP_JOB_STATUS, 5000);
    assert_true (status.result.ok);
    assert_false (status.result.loaded);
    wp_config_destroy (&config);
    stub_stop (&stub);
}

//  A server that accepts and never answers: the request times out.
static void
test_server_hangs (void **state)
{
    stub_t stub;
    stub_start (&stub);
    stub_route (&stub, "POST", "/api/generate", STUB_HANG, 0, NULL, 0);
    wp_config_t *config = s_http_config (&stub, "ollama", NULL);
    outcome_t warm = s_run (config, WP_JOB_WARM, 300);
    assert_false (warm.result.ok);
    assert_true (warm.result.timed_out);
    assert_true (warm.result.retryable);
    //  Within the 300 ms the job had left when the request started
    assert_non_null (strstr (warm.result.error, "POST /api/generate: no reply within "));
    wp_config_destroy (&config);
    stub_stop (&stub);
}

//  A server that closes without a reply, and a port nobody listens on.
static void
test_transport_errors (void **state)
{
    stub_t stub;
    stub_start (&stub);
    stub_route (&stub, "POST", "/models/load", STUB_CLOSE, 0, NULL, 0);
    wp_config_t *config = s_http_config (&stub, "llama-server", NULL);
    outcome_t closed = s_run (config, WP_JOB_WARM, 5000);
    assert_false (closed.result.ok);
    assert_true (closed.result.retryable);
    assert_false (closed.result.timed_out);
    assert_non_null (strstr (closed.result.error, "POST /models/load: "));
    wp_config_destroy (&config);
    stub_stop (&stub);

    //  The stub's port, now closed: connection refused
    config = s_http_config (&stub, "llama-server", NULL);
    outcome_t refused = s_run (config, WP_JOB_WARM, 5000);
    assert_false (refused.result.ok);
    assert_true (refused.result.retryable);
    assert_non_null (strstr (refused.result.error, "onnect"));
    wp_config_destroy (&config);
}

//  Cancelling a job in flight calls nothing back and leaves nothing.
static void
test_cancel (void **state)
{
    stub_t stub;
    stub_start (&stub);
    stub_route (&stub, "POST", "/api/generate", STUB_HANG, 0, NULL, 0);
    wp_config_t *config = s_http_config (&stub, "ollama", NULL);
    zloop_t *loop = zloop_new ();
    wp_backends_t *backends = wp_backends_new (loop);
    outcome_t outcome = { 0 };
    wp_job_t *job = wp_backends_start (backends, wp_config_model (config, "m"), "m",
                                       WP_JOB_WARM, 60000, s_job_done, &outcome);
    assert_int_equal (wp_backends_active (backends), 1);
    wp_backends_cancel (backends, &job);
    assert_null (job);
    assert_int_equal (wp_backends_active (backends), 0);
    assert_int_equal (wp_curl_active (wp_backends_curl (backends)), 0);
    //  A job left running is cancelled by destroy
    job = wp_backends_start (backends, wp_config_model (config, "m"), "m", WP_JOB_WARM,
                             60000, s_job_done, &outcome);
    wp_backends_destroy (&backends);
    assert_false (outcome.done);
    zloop_destroy (&loop);
    wp_config_destroy (&config);
    stub_stop (&stub);
}

//  exec: a command that succeeds, one that fails (its stderr in the
//  error), one that outlives its timeout (SIGTERM), and status.
static void
test_exec (void **state)
{
    wp_config_t *config = s_config ("        backend = exec\n"
                                    "        command = \"echo loading %m >&2; true\"\n"
                                    "        cool_command = \"echo no such model %m >&2; exit 3\"\n");
    assert_true (s_run (config, WP_JOB_WARM, 5000).result.ok);
    outcome_t cool = s_run (config, WP_JOB_COOL, 5000);
    assert_false (cool.result.ok);
    assert_true (cool.result.retryable);
    assert_string_equal (cool.result.error, "exit code 3: no such model m");
    outcome_t status = s_run (config, WP_JOB_STATUS, 5000);
    assert_false (status.result.ok);
    wp_config_destroy (&config);

    config = s_config ("        backend = exec\n"
                       "        command = \"exec sleep 30\"\n");
    outcome_t slow = s_run (config, WP_JOB_WARM, 200);
    assert_false (slow.result.ok);
    assert_true (slow.result.timed_out);
    assert_non_null (strstr (slow.result.error, "SIGTERM"));
    //  Without a cool_command a cool only marks the model cold
    assert_true (s_run (config, WP_JOB_COOL, 5000).result.ok);
    wp_config_destroy (&config);
}

//  sim: a warm takes load_ms; a load longer than the timeout times out.
static void
test_sim (void **state)
{
    wp_config_t *config = s_config ("        load_ms = 20\n");
    assert_true (s_run (config, WP_JOB_WARM, 5000).result.ok);
    outcome_t slow = s_run (config, WP_JOB_WARM, 10);
    assert_false (slow.result.ok);
    assert_true (slow.result.timed_out);
    assert_false (s_run (config, WP_JOB_STATUS, 5000).result.ok);
    wp_config_destroy (&config);
}

//  Write size bytes of non-zero data to path, synced (so it can be evicted).
static void
s_write_data (const char *path, size_t size)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    char block [65536];
    for (size_t i = 0; i < sizeof block; i++)
        block [i] = (char) (i * 7 + 1);
    for (size_t done = 0; done < size; done += sizeof block)
        assert_int_equal (fwrite (block, 1, sizeof block, file), sizeof block);
    fflush (file);
    assert_int_equal (fsync (fileno (file)), 0);
    fclose (file);
}

//  file: the path forms, then evict -> warm -> resident -> cool -> evicted.
static void
test_file (void **state)
{
    char dir [600], a [700], b [700], hidden [700], error [256];
    snprintf (dir, sizeof dir, "%s/weights", s_dir);
    assert_int_equal (mkdir (dir, 0700), 0);
    snprintf (a, sizeof a, "%s/b-part1.gguf", dir);
    snprintf (b, sizeof b, "%s/a-part0.gguf", dir);
    snprintf (hidden, sizeof hidden, "%s/.partial", dir);
    s_write_data (a, 8 << 20);
    s_write_data (b, 4 << 20);
    wp_test_write_file (hidden, "x");

    zlistx_t *files = wp_pagecache_list (dir, error, sizeof error);
    assert_non_null (files);
    assert_int_equal (zlistx_size (files), 2);
    assert_string_equal (zlistx_first (files), b);          //  name order
    zlistx_destroy (&files);
    char list [1500];
    snprintf (list, sizeof list, "%s , %s", a, b);
    files = wp_pagecache_list (list, error, sizeof error);
    assert_non_null (files);
    assert_string_equal (zlistx_first (files), a);          //  given order
    zlistx_destroy (&files);
    snprintf (list, sizeof list, "%s,%s/missing", a, dir);
    assert_null (wp_pagecache_list (list, error, sizeof error));
    assert_non_null (strstr (error, "missing: No such file"));
    assert_null (wp_pagecache_list (",", error, sizeof error));

    char section [1000];
    snprintf (section, sizeof section, "        backend = file\n        path = \"%s\"\n", dir);
    wp_config_t *config = s_config (section);
    assert_int_equal (wp_pagecache_evict (a), 0);
    assert_int_equal (wp_pagecache_evict (b), 0);
    outcome_t before = s_run (config, WP_JOB_STATUS, 5000);
    assert_true (before.result.ok);
    assert_int_equal (before.result.total_bytes, 12 << 20);
    assert_true (before.result.resident_bytes < (12 << 20) / 20);
    assert_false (before.result.loaded);

    outcome_t warm = s_run (config, WP_JOB_WARM, 30000);
    assert_true (warm.result.ok);
    assert_true (warm.result.loaded);
    assert_string_equal (warm.result.memory_source, "resident");
    assert_int_equal (warm.result.resident_bytes, 12 << 20);
    assert_int_equal (warm.result.memory_bytes, 12 << 20);

    outcome_t cool = s_run (config, WP_JOB_COOL, 5000);
    assert_true (cool.result.ok);
    assert_false (cool.result.loaded);
    assert_true (cool.result.resident_bytes < (12 << 20) / 20);
    wp_config_destroy (&config);

    snprintf (section, sizeof section, "        backend = file\n        path = \"%s/none\"\n",
              dir);
    config = s_config (section);
    outcome_t missing = s_run (config, WP_JOB_WARM, 5000);
    assert_false (missing.result.ok);
    assert_false (missing.result.retryable);
    assert_non_null (strstr (missing.result.error, "none: No such file"));
    wp_config_destroy (&config);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    s_dir = wp_test_tmpdir ("wp-test-backends");
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_jval),
        cmocka_unit_test (test_curl_helpers),
        cmocka_unit_test (test_llama_warm_cool),
        cmocka_unit_test (test_llama_errors),
        cmocka_unit_test (test_llama_poll_timeout),
        cmocka_unit_test (test_ollama),
        cmocka_unit_test (test_openai_vllm),
        cmocka_unit_test (test_openai_triton),
        cmocka_unit_test (test_server_hangs),
        cmocka_unit_test (test_transport_errors),
        cmocka_unit_test (test_cancel),
        cmocka_unit_test (test_exec),
        cmocka_unit_test (test_sim),
        cmocka_unit_test (test_file),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    wp_test_rmtree (s_dir);
    free (s_dir);
    return rc;
}
