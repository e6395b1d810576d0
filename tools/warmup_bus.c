/*  =========================================================================
    warmup-bus - the event bus (XSUB/XPUB proxy) as its own process, for
    running each component as its own process (warmupd --only NAME or
    warmup-NAME). Prints a line containing "ready" with the bound
    endpoints.
    =========================================================================
*/
#include "wp_component.h"
#include "wp_audit.h"
#include "wp_security.h"

int
main (int argc, char **argv)
{
    wp_process_memory_init ();
    zsys_init ();
    zsys_set_logident ("warmup-bus");
    bool verbose;
    const char *instance;
    char **rest;
    int n_rest;
    wp_config_t *config = wp_component_parse_args (argc, argv, "warmup-bus", NULL,
                                                   &verbose, &instance, &rest, &n_rest);
    if (!config)
        return 2;
    if (n_rest) {
        fprintf (stderr, "warmup-bus: unexpected argument '%s' (see --help)\n", rest [0]);
        free (rest);
        wp_config_destroy (&config);
        return 2;
    }
    free (rest);
    //  The audit log hears decisions and controls beside the bus.
    char inproc_pub [64], inproc_sub [64];
    snprintf (inproc_pub, sizeof inproc_pub, "inproc://warmup-pub-%d", (int) getpid ());
    snprintf (inproc_sub, sizeof inproc_sub, "inproc://warmup-sub-%d", (int) getpid ());
    zactor_t *proxy = wp_security_start_proxy (config, "warmup-bus", inproc_pub, inproc_sub,
                                               verbose);
    zactor_t *audit = NULL;
    if (proxy && config->audit
        && !(audit = wp_audit_start (config, inproc_pub, inproc_sub, instance)))
        zactor_destroy (&proxy);
    int rc = 0;
    if (!proxy)
        rc = 1;
    else {
        printf ("warmup-bus: ready (pub=%s sub=%s)\n", config->pub_endpoint,
                config->sub_endpoint);
        fflush (stdout);
        zactor_t *actors [] = { proxy };
        rc = wp_component_wait (actors, 1) ? 1 : 0;
        zstr_send (proxy, "STATS");
        char *ok = NULL, *forwarded = NULL, *dropped = NULL, *refused = NULL, *limited = NULL;
        zstr_recvx (proxy, &ok, &forwarded, &dropped, &refused, &limited, NULL);
        zsys_info ("warmup-bus: forwarded %s events, dropped %s invalid, refused %s, "
                   "%s over the rate limit", forwarded ? forwarded : "?",
                   dropped ? dropped : "?", refused ? refused : "?", limited ? limited : "?");
        zstr_free (&ok);
        zstr_free (&forwarded);
        zstr_free (&dropped);
        zstr_free (&refused);
        zstr_free (&limited);
    }
    zactor_destroy (&audit);
    zactor_destroy (&proxy);
    wp_config_destroy (&config);
    return rc;
}
