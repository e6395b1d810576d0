/*  =========================================================================
    warmup-bus - the event bus (XSUB/XPUB proxy) as its own process, for
    running each component as its own process (warmupd --only NAME or
    warmup-NAME). Prints a line containing "ready" with the bound
    endpoints.
    =========================================================================
*/
#include "wp_component.h"
#include "wp_proxy.h"

int
main (int argc, char **argv)
{
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
    zactor_t *proxy = zactor_new (wp_proxy_actor, NULL);
    char frame [32];
    snprintf (frame, sizeof frame, "%u", config->max_frame_bytes);
    zstr_sendx (proxy, "MAXFRAME", frame, NULL);
    char *status = zstr_recv (proxy);
    zstr_free (&status);
    if (verbose) {
        zstr_send (proxy, "VERBOSE");
        status = zstr_recv (proxy);
        zstr_free (&status);
    }
    zstr_sendx (proxy, "BIND", config->pub_endpoint, config->sub_endpoint, NULL);
    char *pub = NULL, *sub = NULL;
    zstr_recvx (proxy, &status, &pub, &sub, NULL);
    int rc = 0;
    if (!status || !streq (status, "OK")) {
        fprintf (stderr, "warmup-bus: %s\n", pub ? pub : "no reply from the proxy");
        rc = 1;
    }
    else {
        printf ("warmup-bus: ready (pub=%s sub=%s)\n", pub, sub);
        fflush (stdout);
        zactor_t *actors [] = { proxy };
        rc = wp_component_wait (actors, 1) ? 1 : 0;
        zstr_send (proxy, "STATS");
        char *forwarded = NULL, *dropped = NULL, *ok = NULL;
        zstr_recvx (proxy, &ok, &forwarded, &dropped, NULL);
        zsys_info ("warmup-bus: forwarded %s events, dropped %s invalid",
                   forwarded ? forwarded : "?", dropped ? dropped : "?");
        zstr_free (&ok);
        zstr_free (&forwarded);
        zstr_free (&dropped);
    }
    zstr_free (&status);
    zstr_free (&pub);
    zstr_free (&sub);
    zactor_destroy (&proxy);
    wp_config_destroy (&config);
    return rc;
}
