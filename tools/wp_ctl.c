/*  =========================================================================
    wp_ctl - what warmupctl's commands share.
    =========================================================================
*/
#include "wp_ctl.h"
#include "wp_security.h"

//  A ready bus client.
wp_bus_t *
wp_ctl_connect (const wp_config_t *config, const char *role, const char **topics,
                int ready_ms)
{
    char source [128];
    snprintf (source, sizeof source, "warmupctl-%s/%d", role, (int) getpid ());
    wp_bus_opts_t opts = { .max_frame = config->max_frame_bytes,
                           .linger_ms = 2000 };
    //  The installation's operator key; on a host that holds only the
    //  component key (a component's container or host), that one: what
    //  needs an operator is then refused by the bus, saying so.
    wp_client_keys_t keys;
    char error [1200], unused [1200];
    if (wp_security_client (config, config->pub_endpoint, config->sub_endpoint,
                            WP_KEYS_OPERATOR, false, &keys, error, sizeof error)
        && (config->client_key
            || wp_security_client (config, config->pub_endpoint, config->sub_endpoint,
                                   WP_KEYS_COMPONENT, false, &keys, unused, sizeof unused))) {
        fprintf (stderr, "warmupctl: %s\n", error);
        return NULL;
    }
    wp_security_bus_opts (&keys, &opts);
    wp_bus_t *bus = wp_bus_new (config->pub_endpoint, config->sub_endpoint, source, &opts);
    memset (&keys, 0, sizeof keys);
    if (!bus)
        return NULL;
    for (int i = 0; topics && topics [i]; i++)
        wp_bus_subscribe (bus, topics [i]);
    if (wp_bus_wait_ready (bus, ready_ms)) {
        fprintf (stderr, "warmupctl: no bus at %s / %s (is warmupd running?)\n",
                 config->pub_endpoint, config->sub_endpoint);
        wp_bus_destroy (&bus);
    }
    return bus;
}

//  Parse a non-negative number argument strictly.
int
wp_ctl_number (const char *flag, const char *text, double max, double *value)
{
    char *end = NULL;
    double v = text ? strtod (text, &end) : 0;
    if (!text || !*text || *end || !(v >= 0) || v > max) {
        fprintf (stderr, "warmupctl: %s needs a number in 0..%.0f, got '%s'\n",
                 flag, max, text ? text : "");
        return -1;
    }
    *value = v;
    return 0;
}
