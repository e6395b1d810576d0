/*  =========================================================================
    fuzz_config - the ZPL configuration reader (wp_config_load): any file
    is a configuration or an error naming the file; a configuration that
    loads is checked as a reload against the defaults and against itself.
    =========================================================================
*/
#include "fuzz.h"
#include "wp_config.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_init ();
    const char *path = fuzz_file ("warmup.cfg", data, size);
    char error [700] = "";
    wp_config_t *config = wp_config_load_error (path, error, sizeof error);
    if (!config) {
        assert (strstr (error, path));
        return 0;
    }
    wp_config_t *defaults = wp_config_new ();
    char reason [700];
    (void) wp_config_check_reload (defaults, config, reason, sizeof reason);
    assert (wp_config_check_reload (config, config, reason, sizeof reason) == 0);
    for (size_t i = 0; i < config->n_models; i++) {
        const wp_model_config_t *model = &config->models [i];
        assert (wp_config_model (config, model->name) == model);
        wp_model_config_t copy;
        wp_config_model_copy (&copy, model);
        wp_config_model_clear (&copy);
    }
    wp_config_destroy (&defaults);
    wp_config_destroy (&config);
    return 0;
}
