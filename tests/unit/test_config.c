/*  =========================================================================
    test_config - the service configuration: documented defaults, a full
    file with every key, the sample file, and every kind of bad value
    rejected with an error naming the file, the line and the key (checked
    by capturing czmq's log).
    =========================================================================
*/

#include "testutil.h"
#include <czmq.h>
#include "wp_config.h"

static char *s_dir;         //  temporary directory of this run

static int
s_setup (void **state)
{
    s_dir = wp_test_tmpdir ("wp-test-config");
    return 0;
}

static int
s_teardown (void **state)
{
    wp_test_rmtree (s_dir);
    free (s_dir);
    s_dir = NULL;
    return 0;
}

//  Write text to a file in the temporary directory; returns its path.
static char *
s_write (const char *name, const char *text)
{
    char *path = zsys_sprintf ("%s/%s", s_dir, name);
    assert_non_null (path);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_int_equal (fwrite (text, 1, strlen (text), file), strlen (text));
    fclose (file);
    return path;
}

//  Capture czmq's log into a temporary file.
static FILE *
s_capture_start (void)
{
    FILE *file = tmpfile ();
    assert_non_null (file);
    zsys_set_logstream (file);
    return file;
}

//  Stop capturing; returns what was logged (caller frees).
static char *
s_capture_end (FILE *file)
{
    zsys_set_logstream (stderr);
    fflush (file);
    long size = ftell (file);
    assert_true (size >= 0);
    rewind (file);
    char *text = malloc ((size_t) size + 1);
    assert_non_null (text);
    size_t got = fread (text, 1, (size_t) size, file);
    text [got] = 0;
    fclose (file);
    return text;
}

//  Load a file that must fail; returns the log it produced (caller frees).
static char *
s_load_fails (const char *path)
{
    FILE *capture = s_capture_start ();
    wp_config_t *config = wp_config_load (path);
    char *log = s_capture_end (capture);
    if (config)
        print_error ("%s loaded but should not have\n", path);
    assert_null (config);
    return log;
}

//  True when the log names path:line and 'key'; prints the log when not.
//  Callers free what they hold before asserting, so a failure leaks nothing.
static bool
s_names (const char *log, const char *path, int line, const char *key)
{
    char *where = zsys_sprintf ("config %s:%d: ", path, line);
    char *what = zsys_sprintf ("key '%s'", key);
    bool named = strstr (log, where) && strstr (log, what);
    if (!named)
        print_error ("log does not name '%s' and \"%s\":\n%s\n", where, what, log);
    zstr_free (&where);
    zstr_free (&what);
    return named;
}

//  The documented defaults (docs/configuration.md), and no models.
static void
s_assert_defaults (const wp_config_t *config)
{
    assert_int_equal (config->max_warm_models, 5);
    assert_int_equal (config->max_memory_mb, 2048);
    assert_true (config->max_cpu_percent == 30);
    assert_true (config->prediction_threshold == 0.7);
    assert_true (config->cold_wait_price == 1000);
    assert_int_equal (config->usage_window_seconds, 3600);
    assert_int_equal (config->max_queue_size, 100);
    assert_int_equal (config->warmup_timeout_seconds, 30);
    assert_true (config->performance_impact_threshold == 0.1);
    assert_true (config->learning_rate == 0.1);
    assert_true (config->background_warmup_enabled);
    assert_int_equal (config->prediction_cache_ttl_seconds, 300);
    assert_int_equal (config->prediction_horizon_seconds, 300);
    assert_int_equal (config->max_concurrent_warmups, 2);
    assert_int_equal (config->default_memory_mb, 512);
    assert_int_equal (config->default_load_ms, 1000);
    assert_int_equal (config->max_pairs, 1000000);
    assert_false (config->user_key_set);
    assert_int_equal (config->max_models, 10000);
    assert_int_equal (config->curve, WP_CURVE_AUTO);
    assert_null (config->server_key);
    assert_null (config->client_key);
    assert_null (config->allowed_keys);
    assert_null (config->operator_keys);
    assert_int_equal (config->max_events_per_s, 1000);
    assert_int_equal (config->checkpoint_s, 60);
    assert_int_equal (config->journal_max_kb, 65536);
    assert_int_equal (config->checkpoint_slice, 1024);
    assert_null (config->operator_token);
    assert_true (config->audit);
    assert_int_equal (config->audit_max_mb, 64);
    assert_int_equal (config->audit_files, 4);
    assert_string_equal (config->pub_endpoint, "tcp://127.0.0.1:5701");
    assert_string_equal (config->sub_endpoint, "tcp://127.0.0.1:5702");
    assert_int_equal (config->max_frame_bytes, 65536);
    assert_int_equal (config->hwm, 100000);
    assert_int_equal (config->heartbeat_ms, 1000);
    assert_int_equal (config->ready_timeout_ms, 10000);
    assert_string_equal (config->data_dir, "./var");
    assert_int_equal (config->batch_max, 1000);
    assert_int_equal (config->flush_ms, 200);
    assert_false (config->nosync);
    assert_int_equal (config->resource_interval_ms, 1000);
    assert_int_equal (config->metrics_interval_ms, 1000);
    assert_string_equal (config->proxy_listen, "off");
    assert_null (config->proxy_upstream);
    assert_int_equal (config->proxy_max_body_bytes, 16777216);
    assert_int_equal (config->proxy_max_connections, 1024);
    assert_int_equal (config->proxy_upstream_timeout_seconds, 600);
    //  Memory as measured
    assert_false (config->max_memory_auto);
    assert_int_equal (config->max_vram_mb, 0);
    assert_false (config->max_vram_auto);
    assert_false (wp_config_has_vram (config));
    assert_int_equal (config->memory_reserve_mb, 512);
    assert_int_equal (config->gpu_mask, UINT32_MAX);
    assert_int_equal (config->gpu_interval_ms, 5000);
    assert_string_equal (config->gpu_source, "auto");
}

static void
test_defaults (void **state)
{
    wp_config_t *config = wp_config_new ();
    assert_non_null (config);
    s_assert_defaults (config);
    assert_null (config->path);
    assert_int_equal (config->n_models, 0);
    //  No built-in key: each installation makes its own (wp_security).
    const uint8_t zero [32] = { 0 };
    assert_memory_equal (config->user_key, zero, 32);
    //  Unknown models take the defaults.
    assert_null (wp_config_model (config, "anything"));
    assert_int_equal (wp_config_model_memory_mb (config, "anything"), 512);
    assert_int_equal (wp_config_model_load_ms (config, "anything"), 1000);
    wp_config_destroy (&config);
    assert_null (config);
    wp_config_destroy (&config);
}

//  An empty file (and one with only comments) gives the defaults.
static void
test_empty_file_gives_defaults (void **state)
{
    char *path = s_write ("empty.cfg", "");
    wp_config_t *config = wp_config_load (path);
    assert_non_null (config);
    s_assert_defaults (config);
    assert_string_equal (config->path, path);
    wp_config_destroy (&config);
    zstr_free (&path);

    path = s_write ("comments.cfg", "#   nothing here\n\n#   at all\n");
    config = wp_config_load (path);
    assert_non_null (config);
    s_assert_defaults (config);
    wp_config_destroy (&config);
    zstr_free (&path);
}

//  Every key set to a value other than its default, models with the sim
//  and exec backends; the model defaults come from root keys written
//  after the models section.
static void
test_full_file (void **state)
{
    char *path = s_write ("full.cfg",
        "#   every key, none at its default\n"
        "max_warm_models = 7\n"
        "max_memory_mb = 4096\n"
        "max_cpu_percent = 55.5\n"
        "prediction_threshold = 0.65\n"
        "usage_window_seconds = 7200\n"
        "max_queue_size = 250\n"
        "warmup_timeout_seconds = 45\n"
        "performance_impact_threshold = 0.25\n"
        "learning_rate = 0.05\n"
        "background_warmup_enabled = false\n"
        "prediction_cache_ttl_seconds = 600\n"
        "prediction_horizon_seconds = 120\n"
        "max_concurrent_warmups = 4\n"
        "max_pairs = 5000\n"
        "user_hash_key = \"000102030405060708090A0B0C0D0E0F"
        "101112131415161718191a1b1c1d1e1f\"\n"
        "max_models = 300\n"
        "resource_interval_ms = 500\n"
        "metrics_interval_ms = 750\n"
        "\n"
        "bus\n"
        "    pub_endpoint = \"tcp://127.0.0.1:6701\"\n"
        "    sub_endpoint = \"ipc:///tmp/warmup.sub\"   #   a comment\n"
        "    max_frame_bytes = 131072\n"
        "    hwm = 5000\n"
        "    heartbeat_ms = 250\n"
        "    ready_timeout_ms = 3000\n"
        "    curve = true\n"
        "    server_key = \"/etc/warmup/server.key\"\n"
        "    client_key = \"/etc/warmup/me.key\"\n"
        "    allowed_keys = \"/etc/warmup/clients\"\n"
        "    operator_keys = \"/etc/warmup/operators\"\n"
        "    max_events_per_s_per_source = 50\n"
        "http\n"
        "    operator_token = \"0123456789abcdef0123\"\n"
        "audit\n"
        "    enabled = false\n"
        "    max_mb = 8\n"
        "    files = 3\n"
        "store\n"
        "    data_dir = \"/srv/warmup\"\n"
        "    batch_max = 64\n"
        "    flush_ms = 50\n"
        "    nosync = yes\n"
        "models\n"
        "    qwen2.5-coder@7b\n"
        "        memory_mb = 4000\n"
        "        load_ms = 2500\n"
        "    tiny\n"
        "        backend = sim\n"
        "    runner/x\n"
        "        memory_mb = 8192\n"
        "        backend = exec\n"
        "        command = \"/usr/bin/load %m\"\n"
        "        cool_command = \"/usr/bin/unload %m\"\n"
        "default_memory_mb = 256\n"
        "default_load_ms = 1500\n");
    wp_config_t *config = wp_config_load (path);
    assert_non_null (config);
    assert_string_equal (config->path, path);
    assert_int_equal (config->max_warm_models, 7);
    assert_int_equal (config->max_memory_mb, 4096);
    assert_true (config->max_cpu_percent == 55.5);
    assert_true (config->prediction_threshold == 0.65);
    assert_int_equal (config->usage_window_seconds, 7200);
    assert_int_equal (config->max_queue_size, 250);
    assert_int_equal (config->warmup_timeout_seconds, 45);
    assert_true (config->performance_impact_threshold == 0.25);
    assert_true (config->learning_rate == 0.05);
    assert_false (config->background_warmup_enabled);
    assert_int_equal (config->prediction_cache_ttl_seconds, 600);
    assert_int_equal (config->prediction_horizon_seconds, 120);
    assert_int_equal (config->max_concurrent_warmups, 4);
    assert_int_equal (config->default_memory_mb, 256);
    assert_int_equal (config->default_load_ms, 1500);
    assert_int_equal (config->max_pairs, 5000);
    assert_true (config->user_key_set);
    for (int i = 0; i < 32; i++)
        assert_int_equal (config->user_key [i], i);
    assert_int_equal (config->max_models, 300);
    assert_int_equal (config->curve, WP_CURVE_ON);
    assert_string_equal (config->server_key, "/etc/warmup/server.key");
    assert_string_equal (config->client_key, "/etc/warmup/me.key");
    assert_string_equal (config->allowed_keys, "/etc/warmup/clients");
    assert_string_equal (config->operator_keys, "/etc/warmup/operators");
    assert_int_equal (config->max_events_per_s, 50);
    assert_string_equal (config->operator_token, "0123456789abcdef0123");
    assert_false (config->audit);
    assert_int_equal (config->audit_max_mb, 8);
    assert_int_equal (config->audit_files, 3);
    assert_true (config->data_dir_set);
    assert_int_equal (config->resource_interval_ms, 500);
    assert_int_equal (config->metrics_interval_ms, 750);
    assert_string_equal (config->pub_endpoint, "tcp://127.0.0.1:6701");
    assert_string_equal (config->sub_endpoint, "ipc:///tmp/warmup.sub");
    assert_int_equal (config->max_frame_bytes, 131072);
    assert_int_equal (config->hwm, 5000);
    assert_int_equal (config->heartbeat_ms, 250);
    assert_int_equal (config->ready_timeout_ms, 3000);
    assert_string_equal (config->data_dir, "/srv/warmup");
    assert_int_equal (config->batch_max, 64);
    assert_int_equal (config->flush_ms, 50);
    assert_true (config->nosync);

    assert_int_equal (config->n_models, 3);
    const wp_model_config_t *qwen = wp_config_model (config, "qwen2.5-coder@7b");
    assert_non_null (qwen);
    assert_string_equal (qwen->name, "qwen2.5-coder@7b");
    assert_int_equal (qwen->memory_mb, 4000);
    assert_int_equal (qwen->load_ms, 2500);
    assert_int_equal (qwen->backend, WP_BACKEND_SIM);
    assert_null (qwen->command);
    assert_null (qwen->cool_command);
    const wp_model_config_t *tiny = wp_config_model (config, "tiny");
    assert_non_null (tiny);
    assert_int_equal (tiny->memory_mb, 256);
    assert_int_equal (tiny->load_ms, 1500);
    assert_int_equal (tiny->backend, WP_BACKEND_SIM);
    const wp_model_config_t *runner = wp_config_model (config, "runner/x");
    assert_non_null (runner);
    assert_int_equal (runner->memory_mb, 8192);
    assert_int_equal (runner->load_ms, 1500);
    assert_int_equal (runner->backend, WP_BACKEND_EXEC);
    assert_string_equal (runner->command, "/usr/bin/load %m");
    assert_string_equal (runner->cool_command, "/usr/bin/unload %m");
    assert_string_equal (wp_backend_name (runner->backend), "exec");
    assert_string_equal (wp_backend_name (tiny->backend), "sim");

    //  Known models answer from their section, unknown ones the defaults.
    assert_int_equal (wp_config_model_memory_mb (config, "qwen2.5-coder@7b"), 4000);
    assert_int_equal (wp_config_model_load_ms (config, "qwen2.5-coder@7b"), 2500);
    assert_int_equal (wp_config_model_memory_mb (config, "runner/x"), 8192);
    assert_int_equal (wp_config_model_memory_mb (config, "nope"), 256);
    assert_int_equal (wp_config_model_load_ms (config, "nope"), 1500);
    assert_null (wp_config_model (config, "qwen2.5-coder"));
    assert_null (wp_config_model (config, "TINY"));
    wp_config_destroy (&config);
    zstr_free (&path);
}

//  Booleans take true/false, yes/no, 1/0, on/off; numbers may be at the
//  ends of their ranges.
static void
test_value_forms (void **state)
{
    const char *truths [] = { "true", "yes", "1", "on" };
    const char *lies [] = { "false", "no", "0", "off" };
    for (int i = 0; i < 4; i++) {
        char *text = zsys_sprintf ("background_warmup_enabled = %s\n"
                                   "store\n    nosync = %s\n", lies [i], truths [i]);
        char *path = s_write ("bools.cfg", text);
        wp_config_t *config = wp_config_load (path);
        assert_non_null (config);
        assert_false (config->background_warmup_enabled);
        assert_true (config->nosync);
        wp_config_destroy (&config);
        zstr_free (&path);
        zstr_free (&text);
    }
    char *path = s_write ("ranges.cfg",
        "max_warm_models = 10000\n"
        "max_memory_mb = 0\n"
        "max_cpu_percent = 100\n"
        "prediction_threshold = 0\n"
        "max_pairs = 16\n"
        "bus\n"
        "    max_frame_bytes = 256\n"
        "    hwm = 10000000\n");
    wp_config_t *config = wp_config_load (path);
    assert_non_null (config);
    assert_int_equal (config->max_warm_models, 10000);
    assert_int_equal (config->max_memory_mb, 0);
    assert_true (config->max_cpu_percent == 100);
    assert_true (config->prediction_threshold == 0);
    assert_int_equal (config->max_pairs, 16);
    assert_int_equal (config->max_frame_bytes, 256);
    assert_int_equal (config->hwm, 10000000);
    wp_config_destroy (&config);
    zstr_free (&path);
}

//  One bad file: its text, the line and the key the error must name.
typedef struct {
    const char *text;
    int line;
    const char *key;
} bad_case_t;

static const bad_case_t s_bad_cases [] = {
    //  memory as measured
    { "max_memory_mb = automatic\n", 1, "max_memory_mb" },
    { "max_vram_mb = -1\n", 1, "max_vram_mb" },
    { "max_vram_mb = 1.5\n", 1, "max_vram_mb" },
    { "memory_reserve_mb = auto\n", 1, "memory_reserve_mb" },
    { "gpus = 0,32\n", 1, "gpus" },
    { "gpus = first\n", 1, "gpus" },
    { "gpus = \",\"\n", 1, "gpus" },
    { "gpu_interval_ms = 99\n", 1, "gpu_interval_ms" },
    { "gpu_source = cuda\n", 1, "gpu_source" },
    { "models\n    m\n        device = tpu\n", 3, "models/m/device" },
    { "models\n    m\n        device = gpu:\n", 3, "models/m/device" },
    { "models\n    m\n        device = gpu:32\n", 3, "models/m/device" },
    { "models\n    m\n        device = gpu:1x\n", 3, "models/m/device" },
    { "gpus = 0\nmodels\n    m\n        device = gpu:1\n", 0, "models/m/device" },
    { "max_vram_mb = 4000\nmodels\n    a\n        memory_mb = 3000\n        pin = true\n"
      "    b\n        memory_mb = 3000\n        pin = true\n", 0, "models/b/pin" },
    { "max_vram_mb = 4000\nmodels\n    a\n        memory_mb = 3000\n"
      "    b\n        memory_mb = 3000\ngroups\n    g\n        models = \"a, b\"\n", 9,
      "groups/g/models" },
    //  not a number
    { "# c\nmax_warm_models = 3\n\nmax_memory_mb = lots\n", 4, "max_memory_mb" },
    { "max_warm_models = 5x\n", 1, "max_warm_models" },
    { "max_cpu_percent = inf\n", 1, "max_cpu_percent" },
    { "max_cpu_percent = nan\n", 1, "max_cpu_percent" },
    { "max_queue_size = \"\"\n", 1, "max_queue_size" },
    //  out of range
    { "prediction_threshold = 1.5\n", 1, "prediction_threshold" },
    { "cold_wait_price = 0\n", 1, "cold_wait_price" },
    { "cold_wait_price = 2e7\n", 1, "cold_wait_price" },
    { "max_warm_models = 0\n", 1, "max_warm_models" },
    { "max_memory_mb = -1\n", 1, "max_memory_mb" },
    { "max_pairs = 15\n", 1, "max_pairs" },
    { "learning_rate = -0.01\n", 1, "learning_rate" },
    { "bus\n    max_frame_bytes = 255\n", 2, "bus/max_frame_bytes" },
    { "usage_window_seconds = 31536001\n", 1, "usage_window_seconds" },
    //  a fraction for an integer
    { "bus\n    hwm = 1000\n    heartbeat_ms = 2.5\n", 3, "bus/heartbeat_ms" },
    { "max_queue_size = 100.5\n", 1, "max_queue_size" },
    //  bad booleans
    { "background_warmup_enabled = maybe\n", 1, "background_warmup_enabled" },
    { "store\n    batch_max = 5\n    nosync = 2\n", 3, "store/nosync" },
    { "store\n    checkpoint_s = 0\n", 2, "store/checkpoint_s" },
    { "store\n    journal_max_kb = 63\n", 2, "store/journal_max_kb" },
    { "store\n    checkpoint_slice = 0\n", 2, "store/checkpoint_slice" },
    //  bad keys of the user hash
    { "user_hash_key = \"000102030405060708090a0b0c0d0e0f"
      "101112131415161718191a1b1c1d1e1g\"\n", 1, "user_hash_key" },
    { "max_warm_models = 3\nuser_hash_key = \"0001020304\"\n", 2, "user_hash_key" },
    //  the 16-byte key of before is too short now
    { "user_hash_key = \"000102030405060708090a0b0c0d0e0f\"\n", 1, "user_hash_key" },
    //  security keys
    { "bus\n    curve = sometimes\n", 2, "bus/curve" },
    { "bus\n    max_events_per_s_per_source = -1\n", 2, "bus/max_events_per_s_per_source" },
    { "max_models = 15\n", 1, "max_models" },
    { "audit\n    files = 1\n", 2, "audit/files" },
    { "audit\n    max_mb = 0\n", 2, "audit/max_mb" },
    { "http\n    token = \"x\"\n", 2, "http/token" },
    //  unknown keys at the root, in bus, in store, in a model
    { "# x\nmax_warm_modles = 3\n", 2, "max_warm_modles" },
    { "metrics\n    interval = 3\n", 1, "metrics" },
    { "bus\n    pub_endpoint = \"tcp://127.0.0.1:1\"\n    pub_endpont = \"x\"\n",
      3, "bus/pub_endpont" },
    { "store\n    data_directory = \"x\"\n", 2, "store/data_directory" },
    { "models\n    m1\n        memory_mb = 100\n        memroy = 5\n", 4,
      "models/m1/memroy" },
    //  a value that is a section
    { "max_warm_models = 3\n    oops = 1\n", 1, "max_warm_models" },
    //  empty strings
    { "bus\n    sub_endpoint = \"\"\n", 2, "bus/sub_endpoint" },
    { "store\n    data_dir = \"\"\n", 2, "store/data_dir" },
    //  models: exec without command, bad backend, bad numbers, empty
    //  command, bad name
    { "models\n    m1\n        backend = exec\n", 2, "models/m1" },
    { "models\n    m1\n        backend = exec\n        cool_command = \"x\"\n", 2,
      "models/m1" },
    { "models\n    m1\n        backend = gpu\n", 3, "models/m1/backend" },
    { "models\n    m1\n        load_ms = soon\n", 3, "models/m1/load_ms" },
    { "models\n    m1\n        load_ms = 1.5\n", 3, "models/m1/load_ms" },
    { "models\n    m1\n        memory_mb = -5\n", 3, "models/m1/memory_mb" },
    { "models\n    m1\n        memory_mb = 1000000001\n", 3, "models/m1/memory_mb" },
    { "models\n    m1\n        backend = exec\n        command = \"\"\n", 4,
      "models/m1/command" },
    { "models\n    m1\n    bad$name\n", 3, "models/bad$name" },
    { "models\n    a&b\n        memory_mb = 1\n", 2, "models/a&b" },
    //  duplicate model (the first definition is line 2)
    { "models\n    m1\n        memory_mb = 1\n    m2\n    m1\n        memory_mb = 2\n",
      0, "models/m1" },
    //  the model defaults are read in a first pass: still named
    { "max_warm_models = 3\ndefault_memory_mb = x\n", 2, "default_memory_mb" },
    { "default_load_ms = 3600001\n", 1, "default_load_ms" },
};

//  Every kind of bad value: NULL, and an error naming file, line and key.
static void
test_bad_values (void **state)
{
    for (size_t i = 0; i < sizeof s_bad_cases / sizeof s_bad_cases [0]; i++) {
        const bad_case_t *bad = &s_bad_cases [i];
        char name [32];
        snprintf (name, sizeof name, "bad-%zu.cfg", i);
        char *path = s_write (name, bad->text);
        char *log = s_load_fails (path);
        bool named;
        if (bad->line)
            named = s_names (log, path, bad->line, bad->key);
        else {
            char *what = zsys_sprintf ("key '%s'", bad->key);
            named = strstr (log, path) && strstr (log, what);
            zstr_free (&what);
        }
        free (log);
        zstr_free (&path);
        if (!named)
            print_error ("case %zu:\n%s\n", i, bad->text);
        assert_true (named);
    }
}

//  max_memory_mb and max_vram_mb take auto or a number; a model's device
//  defaults to gpu when the configuration has a GPU budget, else cpu;
//  gpus lists indices; the GPU axis has its own pin and group checks.
static void
test_memory_as_measured (void **state)
{
    char *path = s_write ("memory.cfg",
        "max_memory_mb = auto\n"
        "models\n"
        "    chat\n"
        "        memory_mb = 4700\n"
        "    embed\n"
        "        device = cpu\n"
        "    coder\n"
        "        device = gpu:1\n"
        "        pin = true\n"
        "max_vram_mb = auto\n"
        "memory_reserve_mb = 1024\n"
        "gpus = \"0, 1\"\n"
        "gpu_interval_ms = 250\n"
        "gpu_source = nvidia-smi\n");
    wp_config_t *config = wp_config_load (path);
    assert_non_null (config);
    assert_true (config->max_memory_auto);
    assert_int_equal (config->max_memory_mb, 0);
    assert_true (config->max_vram_auto);
    assert_true (wp_config_has_vram (config));
    assert_int_equal (config->memory_reserve_mb, 1024);
    assert_int_equal (config->gpu_mask, 3);
    assert_int_equal (config->gpu_interval_ms, 250);
    assert_string_equal (config->gpu_source, "nvidia-smi");
    //  (max_vram_mb comes after the models: the default follows it anyway)
    assert_int_equal (wp_config_model (config, "chat")->device, WP_DEVICE_GPU);
    assert_int_equal (wp_config_model (config, "embed")->device, WP_DEVICE_CPU);
    assert_int_equal (wp_config_model (config, "coder")->device, WP_DEVICE_GPU_N (1));
    wp_model_config_t defaults;
    wp_config_model_defaults (config, &defaults);
    assert_int_equal (defaults.device, WP_DEVICE_GPU);
    char name [16];
    assert_string_equal (wp_device_name (WP_DEVICE_GPU_N (1), name, sizeof name), "gpu:1");
    assert_string_equal (wp_device_name (WP_DEVICE_GPU, name, sizeof name), "gpu");
    assert_string_equal (wp_device_name (WP_DEVICE_CPU, name, sizeof name), "cpu");
    //  A reload may change the budgets and the reserve, not the GPUs
    char *next_path = s_write ("memory2.cfg",
        "max_memory_mb = 8000\nmax_vram_mb = 6000\nmemory_reserve_mb = 0\n"
        "gpus = \"0, 1\"\ngpu_interval_ms = 250\ngpu_source = nvidia-smi\n");
    wp_config_t *next = wp_config_load (next_path);
    assert_non_null (next);
    assert_false (next->max_memory_auto);
    assert_int_equal (next->max_vram_mb, 6000);
    assert_int_equal (wp_config_check_reload (config, next, NULL, 0), 0);
    wp_config_destroy (&next);
    zstr_free (&next_path);
    next_path = s_write ("memory3.cfg", "max_memory_mb = auto\nmax_vram_mb = auto\n"
                         "gpus = 0\ngpu_interval_ms = 250\ngpu_source = nvidia-smi\n");
    next = wp_config_load (next_path);
    assert_non_null (next);
    char error [300] = "";
    FILE *capture = s_capture_start ();
    assert_int_equal (wp_config_check_reload (config, next, error, sizeof error), -1);
    free (s_capture_end (capture));
    assert_non_null (strstr (error, "key 'gpus': changed, but takes effect only at start"));
    wp_config_destroy (&next);
    zstr_free (&next_path);
    wp_config_destroy (&config);
    zstr_free (&path);

    //  Without a GPU budget, models are on the CPU; a fixed GPU budget
    //  checks the pins on the GPUs and the RAM budget the rest
    path = s_write ("memory4.cfg",
        "max_memory_mb = 1000\n"
        "max_vram_mb = 8000\n"
        "models\n"
        "    big\n"
        "        memory_mb = 6000\n"
        "        pin = true\n"
        "    small\n"
        "        memory_mb = 900\n"
        "        device = cpu\n"
        "        pin = true\n");
    config = wp_config_load (path);
    assert_non_null (config);
    assert_int_equal (config->max_vram_mb, 8000);
    assert_int_equal (wp_config_model (config, "big")->device, WP_DEVICE_GPU);
    wp_config_destroy (&config);
    zstr_free (&path);
    path = s_write ("memory5.cfg", "models\n    m\n        memory_mb = 10\n");
    config = wp_config_load (path);
    assert_non_null (config);
    assert_int_equal (wp_config_model (config, "m")->device, WP_DEVICE_CPU);
    wp_config_destroy (&config);
    zstr_free (&path);
}

//  The message says what is wrong, in the documented form.
static void
test_error_text (void **state)
{
    char *path = s_write ("text.cfg",
        "models\n"
        "    codellama\n"
        "        memory_mb = 4096\n"
        "        load_ms = soon\n");
    char *log = s_load_fails (path);
    char *want = zsys_sprintf ("config %s:4: key 'models/codellama/load_ms': "
                               "bad value 'soon': must be an integer in "
                               "0..1000000000 ms", path);
    bool found = strstr (log, want) != NULL;
    if (!found)
        print_error ("want: %s\nlog:  %s\n", want, log);
    zstr_free (&want);
    free (log);
    zstr_free (&path);
    assert_true (found);

    path = s_write ("text2.cfg", "max_warm_modles = 3\n");
    log = s_load_fails (path);
    want = zsys_sprintf ("config %s:1: key 'max_warm_modles': unknown key", path);
    found = strstr (log, want) != NULL;
    zstr_free (&want);
    free (log);
    zstr_free (&path);
    assert_true (found);

    path = s_write ("text3.cfg", "prediction_threshold = 2\n");
    log = s_load_fails (path);
    found = strstr (log, "bad value '2'") && strstr (log, "0..1");
    free (log);
    zstr_free (&path);
    assert_true (found);
}

//  A missing file fails and names the file.
static void
test_missing_file (void **state)
{
    char *path = zsys_sprintf ("%s/does-not-exist.cfg", s_dir);
    char *log = s_load_fails (path);
    bool named = strstr (log, path) != NULL;
    free (log);
    zstr_free (&path);
    assert_true (named);
}

//  A file that is not ZPL fails and names the file (and leaks nothing:
//  czmq's zconfig_load leaked its zfile_t here; the reader reads the file
//  itself, wp_zpl_load).
static void
test_syntax_error (void **state)
{
    char *path = s_write ("syntax.cfg", "max_warm_models = 3\nmodels\n    a:b\n");
    char *log = s_load_fails (path);
    bool named = strstr (log, path) != NULL;
    free (log);
    zstr_free (&path);
    assert_true (named);
}

//  A file over 1 MiB is refused before it is parsed, naming it.
static void
test_too_large (void **state)
{
    char *text = malloc (1024 * 1024 + 100);
    assert_non_null (text);
    memset (text, '#', 1024 * 1024 + 99);
    text [1024 * 1024 + 99] = 0;
    char *path = s_write ("large.cfg", text);
    free (text);
    char *log = s_load_fails (path);
    bool named = strstr (log, path) != NULL && strstr (log, "larger than");
    free (log);
    zstr_free (&path);
    assert_true (named);
}

//  Several errors in one file: each is reported, the load fails.
static void
test_every_error_reported (void **state)
{
    char *path = s_write ("many.cfg",
        "max_warm_models = x\n"
        "bus\n"
        "    hwm = 1\n"
        "models\n"
        "    m1\n"
        "        backend = exec\n");
    char *log = s_load_fails (path);
    bool named = s_names (log, path, 1, "max_warm_models")
              && s_names (log, path, 3, "bus/hwm")
              && s_names (log, path, 5, "models/m1");
    free (log);
    zstr_free (&path);
    assert_true (named);
}

//  Regression (was a bug; wp_config.c, s_line_of): a key given twice is reported at its
//  first line, though the bad value is on the second.
static void
test_line_of_repeated_key (void **state)
{
    char *path = s_write ("twice.cfg",
        "max_warm_models = 3\n"
        "max_memory_mb = 100\n"
        "max_warm_models = many\n");
    char *log = s_load_fails (path);
    bool said = strstr (log, "bad value 'many'") != NULL;
    bool named = s_names (log, path, 3, "max_warm_models");
    if (!named)
        print_error ("regression: s_line_of: the bad value on line 3 is reported at another line\n");
    free (log);
    zstr_free (&path);
    assert_true (said);
    assert_true (named);
}

//  Regression (was a bug; wp_config.c, s_line_of): the duplicate of a model is reported at
//  the line of the first definition (2), not of the duplicate (5).
static void
test_line_of_duplicate_model (void **state)
{
    char *path = s_write ("dup.cfg",
        "models\n"
        "    m1\n"
        "        memory_mb = 1\n"
        "    m2\n"
        "    m1\n"
        "        memory_mb = 2\n");
    char *log = s_load_fails (path);
    bool said = strstr (log, "configured twice") != NULL;
    bool named = s_names (log, path, 5, "models/m1");
    if (!named)
        print_error ("regression: s_line_of: the duplicate on line 5 is reported at another line\n");
    free (log);
    zstr_free (&path);
    assert_true (said);
    assert_true (named);
}

//  Regression (was a bug; wp_config.c, s_line_of): a line longer than 1023 bytes (a long
//  exec command) is counted as two lines by fgets, so every later error
//  names the wrong line.
static void
test_line_after_long_line (void **state)
{
    char command [1501];
    memset (command, 'x', 1500);
    command [1500] = 0;
    char *text = zsys_sprintf (
        "models\n"
        "    m1\n"
        "        backend = exec\n"
        "        command = \"%s\"\n"
        "max_warm_models = none\n", command);
    char *path = s_write ("long.cfg", text);
    char *log = s_load_fails (path);
    bool named = s_names (log, path, 5, "max_warm_models");
    if (!named)
        print_error ("regression: s_line_of: the error on line 5 is reported at another line\n");
    free (log);
    zstr_free (&path);
    zstr_free (&text);
    assert_true (named);
}

//  Command-line overrides of string settings.
static void
test_set_string (void **state)
{
    wp_config_t *config = wp_config_new ();
    assert_int_equal (wp_config_set_string (config, "pub_endpoint", "ipc://@p"), 0);
    assert_int_equal (wp_config_set_string (config, "sub_endpoint", "ipc://@s"), 0);
    assert_int_equal (wp_config_set_string (config, "data_dir", "/tmp/d"), 0);
    assert_int_equal (wp_config_set_string (config, "max_warm_models", "3"), -1);
    assert_int_equal (wp_config_set_string (config, "bus/pub_endpoint", "x"), -1);
    assert_string_equal (config->pub_endpoint, "ipc://@p");
    assert_string_equal (config->sub_endpoint, "ipc://@s");
    assert_string_equal (config->data_dir, "/tmp/d");
    assert_int_equal (config->max_warm_models, 5);
    wp_config_destroy (&config);
}

//  The source tree, from ctest's environment or this file's path.
static char *
s_source_dir (void)
{
    const char *env = getenv ("WP_SOURCE_DIR");
    if (env && *env)
        return strdup (env);
    char *dir = strdup (__FILE__);
    assert_non_null (dir);
    char *cut = strstr (dir, "/tests/unit/");
    assert_non_null (cut);
    *cut = 0;
    return dir;
}

//  The commented sample loads, and every default it shows is the one in
//  code (docs/configuration.md promises this test).
static void
test_sample_file_matches_defaults (void **state)
{
    char *root = s_source_dir ();
    char *path = zsys_sprintf ("%s/compose/warmup.cfg", root);
    wp_config_t *config = wp_config_load (path);
    assert_non_null (config);
    s_assert_defaults (config);
    //  Its example models load with their sections' values (which ones
    //  it shows may change; each must be complete).
    assert_true (config->n_models > 0);
    for (size_t i = 0; i < config->n_models; i++) {
        const wp_model_config_t *model = &config->models [i];
        assert_non_null (model->name);
        assert_ptr_equal (wp_config_model (config, model->name), model);
        if (model->backend == WP_BACKEND_EXEC)
            assert_non_null (model->command);
    }
    wp_config_destroy (&config);
    zstr_free (&path);
    free (root);
}

//  The proxy's section: its keys, a bad upstream named, which keys a
//  reload may change, the flags' settings kept over a reload.
static void
test_proxy_section (void **state)
{
    char *path = s_write ("proxy.cfg",
                          "proxy\n"
                          "    listen = \"127.0.0.1:0\"\n"
                          "    upstream = \"http://127.0.0.1:8080/prefix\"\n"
                          "    max_body_bytes = 4096\n"
                          "    max_connections = 10\n"
                          "    upstream_timeout_seconds = 0\n");
    wp_config_t *config = wp_config_load (path);
    assert_non_null (config);
    assert_string_equal (config->proxy_listen, "127.0.0.1:0");
    assert_string_equal (config->proxy_upstream, "http://127.0.0.1:8080/prefix");
    assert_int_equal (config->proxy_max_body_bytes, 4096);
    assert_int_equal (config->proxy_max_connections, 10);
    assert_int_equal (config->proxy_upstream_timeout_seconds, 0);

    //  A reload may change the upstream and the limits, not the listener
    char *next_path = s_write ("proxy2.cfg",
                               "proxy\n"
                               "    listen = \"127.0.0.1:0\"\n"
                               "    upstream = \"http://10.0.0.1:1\"\n"
                               "    max_body_bytes = 8192\n"
                               "    max_connections = 10\n");
    wp_config_t *next = wp_config_load (next_path);
    assert_non_null (next);
    char error [600] = "";
    assert_int_equal (wp_config_check_reload (config, next, error, sizeof error), 0);
    wp_config_destroy (&next);
    zstr_free (&next_path);
    next_path = s_write ("proxy3.cfg", "proxy\n    listen = \"127.0.0.1:1\"\n"
                                       "    max_connections = 10\n");
    next = wp_config_load (next_path);
    assert_non_null (next);
    assert_int_equal (wp_config_check_reload (config, next, error, sizeof error), -1);
    assert_non_null (strstr (error, "key 'proxy/listen'"));
    //  Flags win over the file on a reload too
    wp_config_set_string (config, "proxy_upstream", "http://flag:1");
    assert_int_equal (wp_config_inherit_flags (next, config), 0);
    assert_string_equal (next->proxy_upstream, "http://flag:1");
    wp_config_destroy (&next);
    zstr_free (&next_path);
    wp_config_destroy (&config);
    zstr_free (&path);

    //  Bad values, named
    struct {
        const char *text, *key;
        int line;
    } bad [] = {
        { "proxy\n    upstream = \"ftp://x\"\n", "proxy/upstream", 2 },
        { "proxy\n    upstream = \"http://x y\"\n", "proxy/upstream", 2 },
        { "proxy\n    max_body_bytes = 10\n", "proxy/max_body_bytes", 2 },
        { "proxy\n    max_connections = 0\n", "proxy/max_connections", 2 },
        { "proxy\n    listen = \"\"\n", "proxy/listen", 2 },
        { "proxy\n    lisen = \"x\"\n", "proxy/lisen", 2 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char *bad_path = s_write ("bad-proxy.cfg", bad [i].text);
        char *log = s_load_fails (bad_path);
        bool named = s_names (log, bad_path, bad [i].line, bad [i].key);
        free (log);
        zstr_free (&bad_path);
        assert_true (named);
    }
}

//  The price is reloadable; a key that takes effect only at start is not,
//  and the refusal names it.
static void
test_reload_price (void **state)
{
    char *path = s_write ("running.cfg", "cold_wait_price = 1000\nmax_pairs = 1000\n");
    wp_config_t *running = wp_config_load (path);
    zstr_free (&path);
    path = s_write ("priced.cfg", "cold_wait_price = 3000\nmax_pairs = 1000\n");
    wp_config_t *priced = wp_config_load (path);
    zstr_free (&path);
    path = s_write ("pairs.cfg", "cold_wait_price = 1000\nmax_pairs = 2000\n");
    wp_config_t *pairs = wp_config_load (path);
    zstr_free (&path);
    assert_non_null (running);
    assert_non_null (priced);
    assert_non_null (pairs);
    assert_true (priced->cold_wait_price == 3000);
    char error [512] = "";
    assert_int_equal (wp_config_check_reload (running, priced, error, sizeof error), 0);
    assert_int_not_equal (wp_config_check_reload (running, pairs, error, sizeof error), 0);
    assert_non_null (strstr (error, "max_pairs"));
    wp_config_destroy (&running);
    wp_config_destroy (&priced);
    wp_config_destroy (&pairs);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_defaults),
        cmocka_unit_test (test_empty_file_gives_defaults),
        cmocka_unit_test (test_full_file),
        cmocka_unit_test (test_value_forms),
        cmocka_unit_test (test_bad_values),
        cmocka_unit_test (test_error_text),
        cmocka_unit_test (test_memory_as_measured),
        cmocka_unit_test (test_missing_file),
        cmocka_unit_test (test_syntax_error),
        cmocka_unit_test (test_too_large),
        cmocka_unit_test (test_every_error_reported),
        cmocka_unit_test (test_line_of_repeated_key),
        cmocka_unit_test (test_line_of_duplicate_model),
        cmocka_unit_test (test_line_after_long_line),
        cmocka_unit_test (test_set_string),
        cmocka_unit_test (test_proxy_section),
        cmocka_unit_test (test_sample_file_matches_defaults),
        cmocka_unit_test (test_reload_price),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
