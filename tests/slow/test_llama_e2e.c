/*  =========================================================================
    test_llama_e2e - the real thing: llama.cpp's llama-server in router
    mode with two models, warmupd configured with the llama-server backend,
    a short usage sequence, and the first-request latency of a model the
    service warmed against the same model cold.

    The server and the two model files (RANDOM WEIGHTS: real GGUF files of
    a real llama architecture and size that answer gibberish) come from
    tools/llama-server-setup.sh, cached outside the repository. Without
    that cache the test says so loudly and is reported skipped.

    Behaviour is asserted (the warm goes through llama-server, the model
    is loaded afterwards, a cool unloads the other model, each first
    request is answered). Latencies are printed, never asserted: they go
    into docs/backends.md from a measurement run.
    =========================================================================
*/
#include "integration/itest.h"
#include "wp_pagecache.h"
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

static char s_cache [1024];     //  the setup script's cache
static int s_port;              //  the router's port
static char s_base [64];        //  http://127.0.0.1:port

//  Append a reply to a buffer (curl write callback).
static size_t
s_collect (char *data, size_t size, size_t count, void *arg)
{
    char *buffer = (char *) arg;
    size_t used = strlen (buffer), bytes = size * count;
    size_t room = 65535 - used;
    memcpy (buffer + used, data, bytes < room ? bytes : room);
    buffer [used + (bytes < room ? bytes : room)] = 0;
    return bytes;
}

//  One blocking request to the router; returns the HTTP status, the body
//  in reply (64 KiB), the time it took in *ms.
static long
s_http (const char *method, const char *path, const char *body, char *reply, double *ms)
{
    char url [256];
    snprintf (url, sizeof url, "%s%s", s_base, path);
    CURL *curl = curl_easy_init ();
    assert_non_null (curl);
    reply [0] = 0;
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_NOPROXY, "*");
    if (body)
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, 300L);
    uint64_t start = wp_mono_ns ();
    CURLcode code = curl_easy_perform (curl);
    if (ms)
        *ms = (double) (wp_mono_ns () - start) / 1e6;
    long status = 0;
    if (code == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    return status;
}

//  The status.value the router reports for a model ("" if not listed).
static void
s_model_status (const char *model, char *value, size_t capacity)
{
    char reply [65536];
    value [0] = 0;
    if (s_http ("GET", "/models", NULL, reply, NULL) != 200)
        return;
    char needle [128];
    snprintf (needle, sizeof needle, "\"id\":\"%s\"", model);
    const char *entry = strstr (reply, needle);
    const char *status = entry ? strstr (entry, "\"value\":\"") : NULL;
    if (status) {
        status += 9;
        size_t length = strcspn (status, "\"");
        snprintf (value, capacity, "%.*s", (int) length, status);
    }
}

//  Unload a model and wait until the router says so. The router answers
//  at once and stops the child after; its status changes are the event.
static void
s_unload (const char *model)
{
    char body [128], reply [65536], value [32];
    snprintf (body, sizeof body, "{\"model\":\"%s\"}", model);
    s_http ("POST", "/models/unload", body, reply, NULL);
    int64_t deadline = zclock_mono () + 60000;
    s_model_status (model, value, sizeof value);
    while (strcmp (value, "unloaded") && zclock_mono () < deadline) {
        zclock_sleep (20);      //  the server's poll period, not a wait for luck
        s_model_status (model, value, sizeof value);
    }
    assert_string_equal (value, "unloaded");
}

//  Drop a model's file from the page cache.
static void
s_evict (const char *model)
{
    char path [1200];
    snprintf (path, sizeof path, "%s/models/%s.gguf", s_cache, model);
    assert_int_equal (wp_pagecache_evict (path), 0);
}

//  The first request to a model: a one-token completion; returns ms.
static double
s_first_request (const char *model)
{
    char body [256], reply [65536];
    snprintf (body, sizeof body,
              "{\"model\":\"%s\",\"prompt\":\"int main(void) {\",\"max_tokens\":1,"
              "\"temperature\":0}", model);
    double ms = 0;
    long status = s_http ("POST", "/v1/completions", body, reply, &ms);
    if (status != 200)
        fail_msg ("completion of %s: HTTP %ld: %s", model, status, reply);
    return ms;
}

//  The warmup.done of a model.
typedef struct {
    const char *model;
    bool warm;
    bool ok;
    char backend [32];
    char error [600];
    uint32_t duration_ms;
    uint32_t memory_mb;
    char memory_source [32];
} done_t;

static bool
s_done_of (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    done_t *done = (done_t *) arg;
    const Warmup__V1__WarmupDone *in = (const Warmup__V1__WarmupDone *) msg;
    if (topic != WP_TOPIC_WARMUP_DONE || strcmp (in->model, done->model)
        || (in->action == WARMUP__V1__ACTION__ACTION_WARM) != done->warm)
        return false;
    done->ok = in->ok;
    snprintf (done->backend, sizeof done->backend, "%s", in->backend);
    snprintf (done->error, sizeof done->error, "%s", in->error);
    done->duration_ms = in->duration_ms;
    done->memory_mb = in->memory_mb;
    snprintf (done->memory_source, sizeof done->memory_source, "%s", in->memory_source);
    return true;
}

//  A perf.estimate that learned what a model takes from a measure.
static bool
s_measured_of (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    const Warmup__V1__PerfEstimate *in = (const Warmup__V1__PerfEstimate *) msg;
    if (topic != WP_TOPIC_PERF || strcmp (in->model, (const char *) arg)
        || !in->learned_from || strcmp (in->learned_from, "measured"))
        return false;
    printf ("tiny-a takes %u MiB as measured around its load (the router's children's RSS)\n",
            in->learned_mb);
    return in->learned_mb > 0;
}

static void
test_cold_vs_warmed (void **state)
{
    const char *setup = getenv ("WARMUP_LLAMA_DIR");
    const char *xdg = getenv ("XDG_CACHE_HOME");
    if (setup && *setup)
        snprintf (s_cache, sizeof s_cache, "%s", setup);
    else
    if (xdg && *xdg)
        snprintf (s_cache, sizeof s_cache, "%s/warmup-llama", xdg);
    else
        snprintf (s_cache, sizeof s_cache, "%s/.cache/warmup-llama", getenv ("HOME"));
    char ready [1100];
    snprintf (ready, sizeof ready, "%s/READY", s_cache);
    if (access (ready, R_OK) != 0) {
        printf ("\n"
                "######################################################################\n"
                "#  SKIPPED: llama-server cache absent at %s\n"
                "#  Run tools/llama-server-setup.sh once (npm pack node-llama-cpp, build\n"
                "#  llama-server, write two random-weight GGUF files), then this test\n"
                "#  runs warmupd against the real server.\n"
                "######################################################################\n",
                s_cache);
        skip ();
    }
    curl_global_init (CURL_GLOBAL_DEFAULT);
    s_port = itest_free_port ();
    snprintf (s_base, sizeof s_base, "http://127.0.0.1:%d", s_port);
    char server [1100], models [1100], port [16];
    snprintf (server, sizeof server, "%s/bin/llama-server", s_cache);
    snprintf (models, sizeof models, "%s/models", s_cache);
    snprintf (port, sizeof port, "%d", s_port);
    const char *argv [] = { server, "--models-dir", models, "--models-max", "2",
                            "--host", "127.0.0.1", "--port", port, "-c", "1024",
                            "-t", "2", NULL };
    wp_test_proc_t *router = wp_test_spawn (argv);
    if (wp_test_proc_wait_line (router, "listening", 60000, NULL, 0))
        fail_msg ("llama-server did not start:\n%s", wp_test_proc_output (router));
    char value [32];
    s_model_status ("tiny-a", value, sizeof value);
    assert_string_equal (value, "unloaded");
    s_model_status ("tiny-b", value, sizeof value);
    assert_string_equal (value, "unloaded");

    //  Cold: not loaded, weights not in the page cache; then cold with
    //  the weights cached (what is left is the server's own start)
    s_evict ("tiny-a");
    double cold_disk = s_first_request ("tiny-a");
    s_unload ("tiny-a");
    double cold_cached = s_first_request ("tiny-a");
    s_unload ("tiny-a");
    s_evict ("tiny-a");

    //  Warmed by the service from a short usage sequence
    char extra [2048];
    snprintf (extra, sizeof extra,
              "max_memory_mb = 4096\n"
              "models\n"
              "    tiny-a\n"
              "        backend = llama-server\n"
              "        url = \"%s\"\n"
              "        memory_mb = 300\n"
              "        load_ms = 2000\n"
              "        timeout_seconds = 120\n"
              "        watch = llama-server\n"
              "    tiny-b\n"
              "        backend = llama-server\n"
              "        url = \"%s\"\n"
              "        memory_mb = 300\n"
              "        timeout_seconds = 120\n", s_base, s_base);
    itest_t it;
    itest_init (&it, "wp-llama-e2e", extra);
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    const char *topics [] = { "warmup.done", "perf.estimate", NULL };
    wp_bus_t *watch = itest_bus (&it, topics);
    itest_emit_burst (&it, "alice", "tiny-a", 4, 10000);
    done_t warmed = { .model = "tiny-a", .warm = true };
    assert_true (itest_wait_event (watch, s_done_of, &warmed, 180000));
    if (!warmed.ok)
        fail_msg ("the warm failed: %s", warmed.error);
    assert_string_equal (warmed.backend, "llama-server");
    //  The router reports the weights it loaded (the 269 MB file's tensors)
    assert_string_equal (warmed.memory_source, "server-weights");
    if (warmed.memory_mb < 200 || warmed.memory_mb > 300)
        fail_msg ("tiny-a's weights reported as %u MiB", warmed.memory_mb);
    //  ... and the resource manager measures what the load took
    if (!itest_wait_event (watch, s_measured_of, (void *) "tiny-a", 30000))
    {
        printf ("%s\n", wp_test_proc_output (daemon));
        fail_msg ("tiny-a's load was not measured (the log above)");
    }
    s_model_status ("tiny-a", value, sizeof value);
    assert_string_equal (value, "loaded");
    double warm_ms = s_first_request ("tiny-a");

    //  The other model through an operator's warm and cool
    const char *warm_b [] = { "warm", "tiny-b", NULL };
    assert_int_equal (itest_ctl (&it, warm_b, NULL), 0);
    done_t b = { .model = "tiny-b", .warm = true };
    assert_true (itest_wait_event (watch, s_done_of, &b, 180000));
    assert_true (b.ok);
    s_model_status ("tiny-b", value, sizeof value);
    assert_string_equal (value, "loaded");
    const char *cool_b [] = { "cool", "tiny-b", NULL };
    assert_int_equal (itest_ctl (&it, cool_b, NULL), 0);
    done_t cooled = { .model = "tiny-b", .warm = false };
    assert_true (itest_wait_event (watch, s_done_of, &cooled, 60000));
    assert_true (cooled.ok);
    s_model_status ("tiny-b", value, sizeof value);
    assert_string_equal (value, "unloaded");

    printf ("\nllama-server e2e (tiny-a.gguf, %s, RANDOM WEIGHTS):\n"
            "  first request, cold, weights not in page cache: %8.1f ms\n"
            "  first request, cold, weights in page cache:     %8.1f ms\n"
            "  first request, warmed by warmupd:               %8.1f ms\n"
            "  the warm itself (warmup.done duration_ms):      %8u ms\n",
            "llama-server router", cold_disk, cold_cached, warm_ms, warmed.duration_ms);

    wp_bus_destroy (&watch);
    assert_int_equal (wp_test_proc_stop (daemon, SIGTERM, 10000), 0);
    wp_test_proc_destroy (&daemon);
    wp_test_proc_stop (router, SIGTERM, 30000);
    wp_test_proc_destroy (&router);
    itest_destroy (&it);
    curl_global_cleanup ();
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_cold_vs_warmed),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
