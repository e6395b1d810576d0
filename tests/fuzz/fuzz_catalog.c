/*  =========================================================================
    fuzz_catalog - the catalog readers: the service's (--catalog,
    wp_config_add_catalog) and warmup-eval's (wp_eval_catalog_load, with
    its optional pin and priority columns). A file is read or refused with
    an error; a model read is one the catalog finds again.
    =========================================================================
*/
#include "fuzz.h"
#include "wp_config.h"
#include "wp_eval_catalog.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_init ();
    const char *path = fuzz_file ("catalog.csv", data, size);
    wp_config_t *config = wp_config_new ();
    if (wp_config_add_catalog (config, path) == 0)
        for (size_t i = 0; i < config->n_models; i++)
            assert (wp_config_model (config, config->models [i].name));
    wp_config_destroy (&config);
    char error [WP_EVAL_ERRLEN];
    wp_eval_catalog_t *catalog = wp_eval_catalog_load (path, error);
    if (catalog) {
        size_t n = wp_eval_catalog_size (catalog);
        for (size_t i = 0; i < n; i++)
            (void) wp_eval_catalog_priority (catalog, (uint32_t) i);
        (void) wp_eval_catalog_pinned_mb (catalog);
        wp_eval_catalog_destroy (&catalog);
    }
    else
        assert (*error);
    return 0;
}
