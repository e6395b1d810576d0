/*  =========================================================================
    wp_ctl - what warmupctl's commands share: a bus client that is ready
    (or says why not), and strict parsing of number arguments.
    =========================================================================
*/
#ifndef WP_CTL_H_INCLUDED
#define WP_CTL_H_INCLUDED

#include "wp_bus.h"
#include "wp_config.h"

//  A bus client of warmupctl ("warmupctl-<role>/<pid>"), subscribed to
//  the NULL-ended topic prefixes (may be NULL) and ready within ready_ms;
//  NULL after printing why.
wp_bus_t *
    wp_ctl_connect (const wp_config_t *config, const char *role, const char **topics,
                    int ready_ms);

//  Parse a number argument of flag in 0..max into *value. Returns 0, or
//  -1 after printing what is wrong.
int
    wp_ctl_number (const char *flag, const char *text, double max, double *value);

#endif
