/*  =========================================================================
    warmupd - the warmup service in one process: the bus proxy and all
    seven components (the embedded default: no configuration needed), or
    with --only NAME one component against a bus run by warmup-bus; and
    the proxy with its HTTP API when proxy/listen (--proxy-listen) is set.

    Prints a line containing "ready" once every component is up.
    SIGINT/SIGTERM end it cleanly; SIGHUP (or warmupctl reload) re-reads
    the configuration file without a restart.
    =========================================================================
*/
#include "wp_component.h"
#include "wp_proxy.h"
#include "wp_front_actor.h"
#include "wp_audit.h"
#include "wp_security.h"

//  Extra usage text.
static const char *s_extra =
    " [--only COMPONENT] [--proxy-listen HOST:PORT] [--proxy-upstream URL]\n"
    "  --only COMPONENT         run one component (analyzer, engine, scheduler,\n"
    "                           resource, queue, perf, metrics) against a running\n"
    "                           warmup-bus\n"
    WP_FRONT_FLAGS_USAGE;

int
main (int argc, char **argv)
{
    wp_process_memory_init ();
    zsys_init ();
    zsys_set_logident ("warmupd");
    bool verbose;
    const char *instance;
    char **rest;
    int n_rest;
    wp_config_t *config = wp_component_parse_args (argc, argv, "warmupd", s_extra,
                                                   &verbose, &instance, &rest, &n_rest);
    if (!config)
        return 2;
    const char *only = NULL;
    if (wp_front_flags (config, "warmupd", rest, &n_rest)) {
        free (rest);
        wp_config_destroy (&config);
        return 2;
    }
    for (int i = 0; i < n_rest; i++) {
        if (streq (rest [i], "--only") && i + 1 < n_rest)
            only = rest [++i];
        else {
            fprintf (stderr, "warmupd: unexpected argument '%s' (see --help)\n", rest [i]);
            free (rest);
            wp_config_destroy (&config);
            return 2;
        }
    }
    free (rest);
    if (only && !wp_component_find (only)) {
        fprintf (stderr, "warmupd: unknown component '%s' (analyzer, engine, "
                 "scheduler, resource, queue, perf, metrics)\n", only);
        wp_config_destroy (&config);
        return 2;
    }
    //  Components in this process reach the proxy through inproc
    //  endpoints: no I/O thread, no copies. Outsiders use the config's.
    char inproc_pub [64], inproc_sub [64];
    snprintf (inproc_pub, sizeof inproc_pub, "inproc://warmup-pub-%d", (int) getpid ());
    snprintf (inproc_sub, sizeof inproc_sub, "inproc://warmup-sub-%d", (int) getpid ());
    zactor_t *proxy = NULL, *audit = NULL;
    if (!only) {
        proxy = wp_security_start_proxy (config, "warmupd", inproc_pub, inproc_sub, verbose);
        //  The audit log hears decisions and controls beside the bus.
        if (proxy && config->audit
            && !(audit = wp_audit_start (config, inproc_pub, inproc_sub, instance)))
            zactor_destroy (&proxy);
        if (!proxy) {
            wp_config_destroy (&config);
            return 1;
        }
    }
    zactor_t *actors [16] = { NULL };
    size_t n_actors = 0;
    wp_component_args_t args = { config, instance, verbose,
                                 proxy ? inproc_pub : NULL, proxy ? inproc_sub : NULL };
    int rc = 0;
    for (int i = 0; wp_components [i]; i++) {
        if (only && !streq (wp_components [i]->name, only))
            continue;
        zactor_t *actor = wp_component_start_code (wp_components [i], &args, &rc);
        if (!actor)
            break;
        rc = 0;
        actors [n_actors++] = actor;
    }
    //  The proxy last: the components it reports on are up
    size_t n_components = n_actors;
    if (rc == 0 && !only && !streq (config->proxy_listen, "off")) {
        zactor_t *actor = wp_component_start (&wp_front_def, &args);
        if (actor)
            actors [n_actors++] = actor;
        else
            rc = 1;
    }
    if (rc == 0) {
        char ready [1200];
        snprintf (ready, sizeof ready, "warmupd: ready (%zu component%s%s, pub=%s sub=%s "
                  "data=%s)", n_components, n_components == 1 ? "" : "s",
                  n_actors > n_components ? " and the proxy" : "", config->pub_endpoint,
                  config->sub_endpoint, config->data_dir);
        wp_supervisor_t supervisor = { &config, "warmupd", instance,
                                       proxy ? inproc_pub : NULL,
                                       proxy ? inproc_sub : NULL, ready };
        rc = wp_component_supervise (actors, n_actors, &supervisor) ? 1 : 0;
    }
    //  Components first (they flush their state), then the audit, the bus.
    while (n_actors)
        zactor_destroy (&actors [--n_actors]);
    zactor_destroy (&audit);
    zactor_destroy (&proxy);
    wp_config_destroy (&config);
    return rc;
}
