/*  =========================================================================
    test_model_config - model sections with the real backends: every key
    read, the defaults each backend gets, and every kind of bad value or
    misplaced key refused with the file, the line and the key named
    (checked by capturing czmq's log).
    =========================================================================
*/
#include "testutil.h"
#include "wp_config.h"
#include <czmq.h>

static char *s_dir;             //  scratch directory
static char *s_log;             //  path of the captured log

//  Load text as a config file; returns the config or NULL.
static wp_config_t *
s_load (const char *text)
{
    char path [600];
    snprintf (path, sizeof path, "%s/m.cfg", s_dir);
    wp_test_write_file (path, text);
    return wp_config_load (path);
}

//  Load text that must be refused with an error naming line and key and
//  containing detail.
static void
s_refused (const char *text, int line, const char *key, const char *detail)
{
    FILE *log = fopen (s_log, "w+");
    assert_non_null (log);
    zsys_set_logstream (log);
    wp_config_t *config = s_load (text);
    zsys_set_logstream (stderr);
    fflush (log);
    rewind (log);
    char captured [4096] = "";
    size_t size = fread (captured, 1, sizeof captured - 1, log);
    captured [size] = 0;
    fclose (log);
    if (config)
        fail_msg ("accepted:\n%s", text);
    char where [700], named [300];
    snprintf (where, sizeof where, "%s/m.cfg:%d: ", s_dir, line);
    snprintf (named, sizeof named, "key '%s'", key);
    if (!strstr (captured, where) || !strstr (captured, named) || !strstr (captured, detail))
        fail_msg ("error does not name %s, %s and '%s':\n%s", where, named, detail, captured);
}

//  Every backend's keys are read; backend defaults apply.
static void
test_backends_read (void **state)
{
    wp_config_t *config = s_load (
        "models\n"
        "    coder\n"                                           //  2
        "        backend = llama-server\n"
        "        url = \"http://127.0.0.1:8080/\"\n"
        "        server_model = qwen2.5-coder-1.5b\n"
        "        watch = \"llama-server, pidfile:/run/llama.pid\"\n"
        "        timeout_seconds = 120\n"
        "        poll_ms = 50\n"
        "    chat\n"
        "        backend = ollama\n"
        "        url = \"http://127.0.0.1:11434\"\n"
        "        keep_alive = 30m\n"
        "        retries = 5\n"
        "        retry_backoff_ms = 200\n"
        "        retry_backoff_max_ms = 2000\n"
        "    swap\n"
        "        backend = openai-compatible\n"
        "        url = \"http://127.0.0.1:9292\"\n"
        "        load_method = GET\n"
        "        load_path = /upstream/%m/\n"
        "        unload_path = /api/models/unload/%m\n"
        "        status_path = /running\n"
        "        status_loaded = '\"%m\"'\n"
        "        api_key = s3cret\n"
        "        concurrency = 2\n"
        "    weights\n"
        "        backend = file\n"
        "        path = \"/models/a.gguf, /models/b.gguf\"\n"
        "        memory_mb = 900\n"
        "    plain\n"
        "        load_ms = 10\n");
    assert_non_null (config);
    const wp_model_config_t *coder = wp_config_model (config, "coder");
    assert_int_equal (coder->backend, WP_BACKEND_LLAMA);
    assert_string_equal (coder->url, "http://127.0.0.1:8080/");
    assert_string_equal (wp_model_server_name (coder, "coder"), "qwen2.5-coder-1.5b");
    assert_string_equal (coder->watch, "llama-server, pidfile:/run/llama.pid");
    assert_int_equal (coder->timeout_seconds, 120);
    assert_int_equal (coder->poll_ms, 50);
    assert_int_equal (coder->concurrency, 1);           //  a server's default
    assert_int_equal (coder->retries, 2);
    const wp_model_config_t *chat = wp_config_model (config, "chat");
    assert_int_equal (chat->backend, WP_BACKEND_OLLAMA);
    assert_string_equal (chat->keep_alive, "30m");
    assert_int_equal (chat->retries, 5);
    assert_int_equal (chat->retry_backoff_ms, 200);
    assert_int_equal (chat->retry_backoff_max_ms, 2000);
    assert_string_equal (wp_model_server_name (chat, "chat"), "chat");
    const wp_model_config_t *swap = wp_config_model (config, "swap");
    assert_int_equal (swap->backend, WP_BACKEND_OPENAI);
    assert_string_equal (swap->load_method, "GET");
    assert_string_equal (swap->unload_method, "POST");  //  default
    assert_string_equal (swap->status_method, "GET");
    assert_string_equal (swap->load_path, "/upstream/%m/");
    assert_string_equal (swap->status_loaded, "\"%m\"");
    assert_string_equal (swap->api_key, "s3cret");
    assert_null (swap->load_body);
    assert_int_equal (swap->concurrency, 2);
    const wp_model_config_t *weights = wp_config_model (config, "weights");
    assert_int_equal (weights->backend, WP_BACKEND_FILE);
    assert_string_equal (weights->path, "/models/a.gguf, /models/b.gguf");
    assert_int_equal (weights->memory_mb, 900);
    const wp_model_config_t *plain = wp_config_model (config, "plain");
    assert_int_equal (plain->backend, WP_BACKEND_SIM);
    assert_int_equal (plain->concurrency, 0);
    assert_string_equal (wp_backend_name (WP_BACKEND_OPENAI), "openai-compatible");
    assert_string_equal (wp_backend_name (WP_BACKEND_COUNT), "unknown");

    wp_model_config_t defaults;
    wp_config_model_defaults (config, &defaults);
    assert_int_equal (defaults.backend, WP_BACKEND_SIM);
    assert_int_equal (defaults.memory_mb, config->default_memory_mb);
    assert_int_equal (defaults.retry_backoff_max_ms, 30000);
    assert_null (defaults.url);
    wp_config_destroy (&config);
}

//  Bad values, misplaced keys and missing settings, each named.
static void
test_refused (void **state)
{
    s_refused ("models\n    m\n        backend = vllm\n", 3, "models/m/backend",
               "must be sim, exec, llama-server, ollama, openai-compatible or file");
    s_refused ("models\n    m\n        backend = ollama\n        url = localhost:11434\n",
               4, "models/m/url", "must be http://host");
    s_refused ("models\n    m\n        backend = ollama\n", 2, "models/m",
               "this backend needs a url");
    s_refused ("models\n    m\n        backend = file\n", 2, "models/m",
               "backend file needs a path");
    s_refused ("models\n    m\n        backend = openai-compatible\n"
               "        url = \"http://127.0.0.1:1\"\n", 2, "models/m",
               "needs a load_path");
    s_refused ("models\n    m\n        backend = openai-compatible\n"
               "        url = \"http://127.0.0.1:1\"\n        load_path = wake_up\n",
               5, "models/m/load_path", "must start with '/'");
    s_refused ("models\n    m\n        backend = openai-compatible\n"
               "        url = \"http://127.0.0.1:1\"\n        load_path = /a/%s\n",
               5, "models/m/load_path", "only %m and %%");
    s_refused ("models\n    m\n        backend = openai-compatible\n"
               "        url = \"http://127.0.0.1:1\"\n        load_path = /a\n"
               "        load_method = PATCH\n", 6, "models/m/load_method",
               "must be GET, POST, PUT or DELETE");
    s_refused ("models\n    m\n        backend = ollama\n        url = \"http://h:1\"\n"
               "        keep_alive = forever\n", 5, "models/m/keep_alive",
               "must be -1 (until cooled)");
    s_refused ("models\n    m\n        path = /x\n", 3, "models/m/path",
               "does not apply to backend sim");
    s_refused ("models\n    m\n        backend = file\n        path = /x\n"
               "        url = \"http://h:1\"\n", 5, "models/m/url",
               "does not apply to backend file");
    s_refused ("models\n    m\n        backend = ollama\n        url = \"http://h:1\"\n"
               "        poll_ms = 10\n", 5, "models/m/poll_ms", "does not apply");
    s_refused ("models\n    m\n        retries = many\n", 3, "models/m/retries",
               "must be an integer in 0..100 retries");
    s_refused ("models\n    m\n        timeout_seconds = 0\n", 3, "models/m/timeout_seconds",
               "must be an integer in 1..86400 s");
    s_refused ("models\n    m\n        retry_backoff_ms = 5000\n"
               "        retry_backoff_max_ms = 100\n", 2, "models/m",
               "retry_backoff_max_ms is below retry_backoff_ms");
    s_refused ("models\n    m\n        watch = \"pid:12x\"\n", 3, "models/m/watch",
               "process names");
    s_refused ("models\n    m\n        watch = \"a-process-name-longer-than-15\"\n", 3,
               "models/m/watch", "process names");
    s_refused ("models\n    m\n        watch = \"pidfile:relative\"\n", 3, "models/m/watch",
               "process names");
    s_refused ("models\n    m\n        colour = blue\n", 3, "models/m/colour", "unknown key");
    s_refused ("models\n    m\n        backend = exec\n", 2, "models/m",
               "backend exec needs a command");
}

int
main (void)
{
    zsys_init ();
    s_dir = wp_test_tmpdir ("wp-test-model-config");
    s_log = zsys_sprintf ("%s/log", s_dir);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_backends_read),
        cmocka_unit_test (test_refused),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    wp_test_rmtree (s_dir);
    free (s_dir);
    zstr_free (&s_log);
    return rc;
}
