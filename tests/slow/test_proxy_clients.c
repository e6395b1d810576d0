/*  =========================================================================
    test_proxy_clients - real clients through the proxy in front of a real
    llama-server: the official `openai` and `ollama` npm client libraries
    (tests/slow/clients/clients.mjs) each stream a chat and fetch an
    embedding straight from the server and then through warmupd's proxy,
    and the content must be equal; curl does the same for a streamed chat.
    Each request through the proxy gives exactly one usage.observed with
    its model and task; POST /warmup/v1/predict then returns the model.

    llama-server (llama.cpp, built by tools/llama-server-setup.sh) serves
    the OpenAI routes; it has none of Ollama's, and no Ollama server can be
    installed here, so the Ollama client talks to ollama-shim.mjs, a
    documented stand-in that speaks Ollama's wire format and gets every
    token and vector from the same llama-server (docs/proxy.md). The
    models are random weights: gibberish, but greedy decoding makes it the
    same gibberish both ways.

    Without the llama-server cache or the npm clients' cache
    (tools/npm-clients-setup.sh) the test says so loudly and is reported
    skipped.
    =========================================================================
*/
#include "integration/itest.h"
#include "integration/ihttp.h"

//  A cache directory: $env, else $XDG_CACHE_HOME/name, else ~/.cache/name.
static void
s_cache (const char *env, const char *name, char *out, size_t size)
{
    const char *set = getenv (env);
    const char *xdg = getenv ("XDG_CACHE_HOME");
    if (set && *set)
        snprintf (out, size, "%s", set);
    else
    if (xdg && *xdg)
        snprintf (out, size, "%s/%s", xdg, name);
    else
        snprintf (out, size, "%s/.cache/%s", getenv ("HOME"), name);
}

//  True when dir/READY exists.
static bool
s_ready (const char *dir)
{
    char path [1200];
    snprintf (path, sizeof path, "%s/READY", dir);
    return access (path, R_OK) == 0;
}

//  Copy a file of the source tree into dir.
static void
s_copy (const char *source_dir, const char *name, const char *dir)
{
    char from [1200], to [1200];
    snprintf (from, sizeof from, "%s/tests/slow/clients/%s", source_dir, name);
    snprintf (to, sizeof to, "%s/%s", dir, name);
    const char *argv [] = { "/bin/cp", from, to, NULL };
    assert_int_equal (wp_test_run (argv, 10000, NULL), 0);
}

//  The streamed content of an OpenAI server-sent event stream: every
//  "content":"..." string of its deltas, concatenated (escapes kept).
static void
s_sse_content (const char *stream, char *out, size_t size)
{
    size_t used = 0;
    out [0] = 0;
    for (const char *at = stream; (at = strstr (at, "\"content\":\"")); ) {
        at += strlen ("\"content\":\"");
        while (*at && *at != '"' && used + 2 < size) {
            if (*at == '\\' && at [1])
                out [used++] = *at++;
            out [used++] = *at++;
        }
        out [used] = 0;
    }
}

//  Run curl for a streamed chat of tiny-a at base; its content into out.
static void
s_curl_chat (const char *base, char *out, size_t size)
{
    char url [256];
    snprintf (url, sizeof url, "%s/v1/chat/completions", base);
    const char *body = "{\"model\":\"tiny-a\",\"stream\":true,\"max_tokens\":4,"
                       "\"temperature\":0,\"seed\":7,\"messages\":[{\"role\":\"user\","
                       "\"content\":\"Write a C function that adds two numbers.\"}]}";
    const char *argv [] = { "/usr/bin/curl", "-sSN", "--fail", "--max-time", "300",
                            "-H", "Content-Type: application/json",
                            "-H", "X-Warmup-User: curl-user", "-d", body, url, NULL };
    char *output = NULL;
    int code = wp_test_run (argv, 300000, &output);
    if (code != 0)
        fail_msg ("curl %s failed (%d): %s", url, code, output);
    s_sse_content (output, out, size);
    free (output);
}

//  Usage events counted by model and task until the marker.
typedef struct {
    const char *model;
    int task;
    int seen;
    char user [300];
} count_t;

static void
test_clients (void **state)
{
    char llama [1024], clients [1024];
    s_cache ("WARMUP_LLAMA_DIR", "warmup-llama", llama, sizeof llama);
    s_cache ("WARMUP_CLIENTS_DIR", "warmup-clients", clients, sizeof clients);
    if (!s_ready (llama) || !s_ready (clients) || access ("/usr/bin/curl", X_OK)) {
        printf ("\n"
                "######################################################################\n"
                "#  SKIPPED: client tests' caches absent (llama-server at %s: %s;\n"
                "#  npm clients at %s: %s)\n"
                "#  Run tools/llama-server-setup.sh and tools/npm-clients-setup.sh once,\n"
                "#  then this test drives the openai and ollama npm clients and curl\n"
                "#  through the proxy in front of the real llama-server.\n"
                "######################################################################\n",
                llama, s_ready (llama) ? "ready" : "ABSENT", clients,
                s_ready (clients) ? "ready" : "ABSENT");
        skip ();
    }
    const char *source = getenv ("WP_SOURCE_DIR");
    assert_non_null (source);
    char *dir = wp_test_tmpdir ("wp-clients");

    //  llama-server in router mode: two chat models, two embedding models
    //  (the same files with --embeddings: an embedding server serves
    //  nothing else)
    char presets [1200], text [8192];
    snprintf (presets, sizeof presets, "%s/presets.ini", dir);
    snprintf (text, sizeof text,
              "version = 1\n[*]\nc = 512\nt = 2\n"
              "[tiny-a]\nmodel = %s/models/tiny-a.gguf\n"
              "[tiny-b]\nmodel = %s/models/tiny-b.gguf\n"
              "[tiny-a-embed]\nmodel = %s/models/tiny-a.gguf\nembeddings = true\npooling = mean\n"
              "[tiny-b-embed]\nmodel = %s/models/tiny-b.gguf\nembeddings = true\npooling = mean\n",
              llama, llama, llama, llama);
    wp_test_write_file (presets, text);
    int llama_port = itest_free_port ();
    char server [1100], port [16], llama_url [64];
    snprintf (server, sizeof server, "%s/bin/llama-server", llama);
    snprintf (port, sizeof port, "%d", llama_port);
    snprintf (llama_url, sizeof llama_url, "http://127.0.0.1:%d", llama_port);
    const char *llama_argv [] = { server, "--models-preset", presets, "--models-max", "4",
                                  "--host", "127.0.0.1", "--port", port, NULL };
    wp_test_proc_t *router = wp_test_spawn (llama_argv);
    if (wp_test_proc_wait_line (router, "listening", 60000, NULL, 0))
        fail_msg ("llama-server did not start:\n%s", wp_test_proc_output (router));

    //  The scripts beside the installed clients (ES modules resolve their
    //  imports from where they are)
    s_copy (source, "clients.mjs", dir);
    s_copy (source, "ollama-shim.mjs", dir);
    char modules [1200], link_path [1200];
    snprintf (modules, sizeof modules, "%s/node_modules", clients);
    snprintf (link_path, sizeof link_path, "%s/node_modules", dir);
    assert_int_equal (symlink (modules, link_path), 0);
    char shim_script [1200], clients_script [1200], shim_port [16], shim_url [64];
    snprintf (shim_script, sizeof shim_script, "%s/ollama-shim.mjs", dir);
    snprintf (clients_script, sizeof clients_script, "%s/clients.mjs", dir);
    int shim = itest_free_port ();
    snprintf (shim_port, sizeof shim_port, "%d", shim);
    snprintf (shim_url, sizeof shim_url, "http://127.0.0.1:%d", shim);
    const char *shim_argv [] = { "/usr/bin/node", shim_script, "--port", shim_port,
                                 "--llama", llama_url, NULL };
    wp_test_proc_t *ollama = wp_test_spawn (shim_argv);
    if (wp_test_proc_wait_line (ollama, "listening", 30000, NULL, 0))
        fail_msg ("ollama-shim did not start:\n%s", wp_test_proc_output (ollama));

    //  warmupd with the proxy: llama-server by default, the Ollama models
    //  at their own server
    char extra [1024];
    snprintf (extra, sizeof extra,
              "proxy\n"
              "    listen = \"127.0.0.1:0\"\n"
              "    upstream = \"%s\"\n"
              "models\n"
              "    tiny-b\n"
              "        backend = ollama\n"
              "        url = \"%s\"\n"
              "        timeout_seconds = 120\n"
              "    tiny-b-embed\n"
              "        backend = ollama\n"
              "        url = \"%s\"\n"
              "        timeout_seconds = 120\n", llama_url, shim_url, shim_url);
    itest_t it;
    itest_init (&it, "wp-clients-it", extra);
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    char endpoint [64], proxy_url [80];
    ihttp_endpoint_after (daemon, "proxy: serving http://", endpoint, sizeof endpoint);
    snprintf (proxy_url, sizeof proxy_url, "http://%s", endpoint);
    const char *topics [] = { "usage.observed", NULL };
    wp_bus_t *bus = itest_bus (&it, topics);

    //  The two client libraries, straight and through the proxy
    const char *clients_argv [] = { "/usr/bin/node", clients_script, "--proxy", proxy_url,
                                    "--llama", llama_url, "--ollama", shim_url,
                                    "--key", "sk-warmup-clients-test", NULL };
    char *result = NULL;
    int code = wp_test_run (clients_argv, 600000, &result);
    printf ("clients.mjs: %s\n", result);
    if (code != 0)
        fail_msg ("clients.mjs failed (%d):\n%s\nollama-shim:\n%s", code, result,
                  wp_test_proc_output (ollama));
    assert_non_null (strstr (result, "\"openai\":{"));
    assert_non_null (strstr (result, "\"ollama\":{"));
    free (result);

    //  curl, straight and through the proxy
    char direct [2048], proxied [2048];
    s_curl_chat (llama_url, direct, sizeof direct);
    s_curl_chat (proxy_url, proxied, sizeof proxied);
    printf ("curl: direct \"%s\", through the proxy \"%s\"\n", direct, proxied);
    assert_true (strlen (direct) > 0);
    assert_string_equal (direct, proxied);

    //  Exactly one usage.observed per request through the proxy: count
    //  them up to a marker the proxy publishes after them
    ihttp_reply_t reply = ihttp_send (endpoint, "POST", "/warmup/v1/usage", NULL,
                                      "{\"user\":\"marker\",\"model\":\"marker-end\"}");
    assert_int_equal (reply.status, 202);
    ihttp_reply_free (&reply);
    count_t counts [] = {
        { "tiny-a", WARMUP__V1__TASK__TASK_CHAT, 0, "" },           //  openai + curl
        { "tiny-a-embed", WARMUP__V1__TASK__TASK_EMBEDDING, 0, "" },
        { "tiny-b", WARMUP__V1__TASK__TASK_CHAT, 0, "" },
        { "tiny-b-embed", WARMUP__V1__TASK__TASK_EMBEDDING, 0, "" },
    };
    int others = 0;
    bool marker = false;
    //  User ids as the bus hashed them (docs/security.md)
    char curl_user [WP_USER_ID_LEN + 1], loopback [WP_USER_ID_LEN + 1];
    itest_user_id (&it, "curl-user", 'u', curl_user);
    itest_user_id (&it, "addr:127.0.0.1", 'u', loopback);
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    while (!marker && zclock_mono () < deadline) {
        wp_bus_event_t event;
        if (wp_bus_recv_wait (bus, &event, 200) != 1)
            continue;
        const Warmup__V1__UsageObserved *usage = (const Warmup__V1__UsageObserved *) event.msg;
        bool counted = false;
        if (streq (usage->model, "marker-end"))
            marker = counted = true;
        for (size_t i = 0; i < sizeof counts / sizeof counts [0] && !counted; i++)
            if (streq (usage->model, counts [i].model) && (int) usage->task == counts [i].task) {
                counts [i].seen++;
                if (!streq (usage->user, curl_user))
                    snprintf (counts [i].user, sizeof counts [i].user, "%s", usage->user);
                counted = true;
            }
        if (!counted) {
            others++;
            printf ("unexpected usage.observed: model %s task %d\n", usage->model, usage->task);
        }
        wp_bus_event_free (&event);
    }
    assert_true (marker);
    assert_int_equal (counts [0].seen, 2);
    assert_int_equal (counts [1].seen, 1);
    assert_int_equal (counts [2].seen, 1);
    assert_int_equal (counts [3].seen, 1);
    assert_int_equal (others, 0);
    //  The OpenAI client's key is its user, hashed (by the proxy, then by
    //  the bus); Ollama's sends none: its address is its user
    uint64_t hash;
    assert_int_equal (wp_user_id_parse (counts [0].user, &hash), 0);
    assert_null (strstr (counts [0].user, "sk-warmup"));
    assert_string_not_equal (counts [0].user, loopback);
    assert_string_equal (counts [2].user, loopback);

    //  Predict, as the OpenAI client (its key) and for the Ollama user
    bool found = false;
    deadline = zclock_mono () + wp_test_ms (60000);
    while (!found && zclock_mono () < deadline) {
        reply = ihttp_send (endpoint, "POST", "/warmup/v1/predict",
                            "Authorization: Bearer sk-warmup-clients-test\r\n",
                            "{\"warm\":false}");
        assert_int_equal (reply.status, 200);
        found = strstr (reply.body, "\"model\":\"tiny-a\"") != NULL;
        if (found)
            printf ("predict: %s", reply.body);
        ihttp_reply_free (&reply);
        if (!found)
            poll (NULL, 0, 100);
    }
    assert_true (found);
    reply = ihttp_send (endpoint, "POST", "/warmup/v1/predict", NULL,
                        "{\"user\":\"addr:127.0.0.1\",\"warm\":false}");
    assert_int_equal (reply.status, 200);
    assert_non_null (strstr (reply.body, "\"model\":\"tiny-b\""));
    ihttp_reply_free (&reply);

    wp_bus_destroy (&bus);
    itest_stop (&daemon, "warmupd");
    wp_test_proc_stop (ollama, SIGTERM, 10000);
    wp_test_proc_destroy (&ollama);
    wp_test_proc_stop (router, SIGTERM, 30000);
    wp_test_proc_destroy (&router);
    itest_destroy (&it);
    wp_test_rmtree (dir);
    free (dir);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_clients),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
