/*  =========================================================================
    warmup-proxy - the proxy (adapters/proxy) as its own process: an
    OpenAI- and Ollama-compatible HTTP proxy in front of model servers,
    and the service's HTTP API, against a running warmup bus.

        warmup-proxy [-c FILE] [bus flags] --proxy-listen HOST:PORT
                     [--proxy-upstream URL]
    =========================================================================
*/
#include "wp_front_actor.h"

int
main (int argc, char **argv)
{
    wp_process_memory_init ();
    zsys_init ();
    zsys_set_logident ("warmup-proxy");
    bool verbose;
    const char *instance;
    char **rest;
    int n_rest;
    wp_config_t *config = wp_component_parse_args (argc, argv, "warmup-proxy",
                                                   " [--proxy-listen HOST:PORT] [--proxy-upstream URL]\n" WP_FRONT_FLAGS_USAGE, &verbose,
                                                   &instance, &rest, &n_rest);
    if (!config)
        return 2;
    int rc = wp_front_flags (config, "warmup-proxy", rest, &n_rest) ? 2 : 0;
    if (rc == 0 && n_rest > 0) {
        fprintf (stderr, "warmup-proxy: unexpected argument '%s' (see --help)\n", rest [0]);
        rc = 2;
    }
    if (rc == 0 && streq (config->proxy_listen, "off")) {
        fprintf (stderr, "warmup-proxy: nothing to serve: set proxy/listen or "
                 "--proxy-listen HOST:PORT\n");
        rc = 2;
    }
    free (rest);
    zactor_t *actor = NULL;
    if (rc == 0) {
        wp_component_args_t args = { config, instance, verbose, NULL, NULL };
        actor = wp_component_start (&wp_front_def, &args);
        rc = actor ? 0 : 1;
    }
    if (actor) {
        char ready [1200];
        snprintf (ready, sizeof ready, "warmup-proxy: ready (pub=%s sub=%s)",
                  config->pub_endpoint, config->sub_endpoint);
        wp_supervisor_t supervisor = { &config, "warmup-proxy", instance, NULL, NULL, ready };
        rc = wp_component_supervise (&actor, 1, &supervisor) ? 1 : 0;
        zactor_destroy (&actor);
    }
    wp_config_destroy (&config);
    return rc;
}
