/*  =========================================================================
    test_sample_config - the commented sample configuration in compose/
    loads, and every value it shows as a default is the built-in default,
    so the sample and the code cannot drift apart.
    =========================================================================
*/
#include "testutil.h"
#include "wp_config.h"
#include <czmq.h>

static void
test_sample_matches_defaults (void **state)
{
    const char *source = getenv ("WP_SOURCE_DIR");
    assert_non_null (source);
    char path [1024];
    snprintf (path, sizeof path, "%s/compose/warmup.cfg", source);
    wp_config_t *sample = wp_config_load (path);
    assert_non_null (sample);
    wp_config_t *defaults = wp_config_new ();

    assert_int_equal (sample->max_warm_models, defaults->max_warm_models);
    assert_int_equal (sample->max_memory_mb, defaults->max_memory_mb);
    assert_true (sample->max_cpu_percent == defaults->max_cpu_percent);
    assert_true (sample->prediction_threshold == defaults->prediction_threshold);
    assert_int_equal (sample->prediction_horizon_seconds, defaults->prediction_horizon_seconds);
    assert_int_equal (sample->prediction_cache_ttl_seconds, defaults->prediction_cache_ttl_seconds);
    assert_int_equal (sample->usage_window_seconds, defaults->usage_window_seconds);
    assert_int_equal (sample->background_warmup_enabled, defaults->background_warmup_enabled);
    assert_true (sample->performance_impact_threshold == defaults->performance_impact_threshold);
    assert_true (sample->learning_rate == defaults->learning_rate);
    assert_int_equal (sample->max_queue_size, defaults->max_queue_size);
    assert_int_equal (sample->max_concurrent_warmups, defaults->max_concurrent_warmups);
    assert_int_equal (sample->warmup_timeout_seconds, defaults->warmup_timeout_seconds);
    assert_int_equal (sample->default_memory_mb, defaults->default_memory_mb);
    assert_int_equal (sample->default_load_ms, defaults->default_load_ms);
    assert_int_equal (sample->max_pairs, defaults->max_pairs);
    assert_string_equal (sample->pub_endpoint, defaults->pub_endpoint);
    assert_string_equal (sample->sub_endpoint, defaults->sub_endpoint);
    assert_int_equal (sample->max_frame_bytes, defaults->max_frame_bytes);
    assert_int_equal (sample->hwm, defaults->hwm);
    assert_int_equal (sample->heartbeat_ms, defaults->heartbeat_ms);
    assert_int_equal (sample->ready_timeout_ms, defaults->ready_timeout_ms);
    assert_string_equal (sample->data_dir, defaults->data_dir);
    assert_int_equal (sample->batch_max, defaults->batch_max);
    assert_int_equal (sample->flush_ms, defaults->flush_ms);
    assert_int_equal (sample->nosync, defaults->nosync);
    assert_int_equal (sample->checkpoint_s, defaults->checkpoint_s);
    assert_int_equal (sample->journal_max_kb, defaults->journal_max_kb);
    assert_int_equal (sample->resource_interval_ms, defaults->resource_interval_ms);
    assert_int_equal (sample->metrics_interval_ms, defaults->metrics_interval_ms);
    assert_string_equal (sample->metrics_listen, defaults->metrics_listen);
    assert_string_equal (sample->proxy_listen, defaults->proxy_listen);
    assert_null (sample->proxy_upstream);
    assert_int_equal (sample->proxy_max_body_bytes, defaults->proxy_max_body_bytes);
    assert_int_equal (sample->proxy_max_connections, defaults->proxy_max_connections);
    assert_int_equal (sample->proxy_upstream_timeout_seconds,
                      defaults->proxy_upstream_timeout_seconds);
    assert_int_equal (sample->max_models, defaults->max_models);
    assert_int_equal (sample->curve, defaults->curve);
    assert_int_equal (sample->max_events_per_s, defaults->max_events_per_s);
    assert_null (sample->server_key);
    assert_null (sample->operator_token);
    assert_false (sample->user_key_set);
    assert_int_equal (sample->audit, defaults->audit);
    assert_int_equal (sample->audit_max_mb, defaults->audit_max_mb);
    assert_int_equal (sample->audit_files, defaults->audit_files);
    assert_int_equal (sample->max_memory_auto, defaults->max_memory_auto);
    assert_int_equal (sample->max_vram_mb, defaults->max_vram_mb);
    assert_int_equal (sample->max_vram_auto, defaults->max_vram_auto);
    assert_int_equal (sample->memory_reserve_mb, defaults->memory_reserve_mb);
    assert_int_equal (sample->gpu_mask, defaults->gpu_mask);
    assert_int_equal (sample->gpu_interval_ms, defaults->gpu_interval_ms);
    assert_string_equal (sample->gpu_source, defaults->gpu_source);

    //  The example models.
    assert_int_equal (sample->n_models, 2);
    const wp_model_config_t *coder = wp_config_model (sample, "qwen-coder-1.5b");
    assert_non_null (coder);
    assert_int_equal (coder->memory_mb, 1800);
    assert_int_equal (coder->load_ms, 2500);
    assert_int_equal (coder->backend, WP_BACKEND_SIM);
    assert_int_equal (coder->device, WP_DEVICE_CPU);
    const wp_model_config_t *codellama = wp_config_model (sample, "codellama");
    assert_non_null (codellama);
    assert_int_equal (codellama->backend, WP_BACKEND_EXEC);
    assert_string_equal (codellama->command, "ollama run %m ''");
    assert_string_equal (codellama->cool_command, "ollama stop %m");

    wp_config_destroy (&defaults);
    wp_config_destroy (&sample);
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_sample_matches_defaults),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
