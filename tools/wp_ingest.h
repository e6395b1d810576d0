/*  =========================================================================
    wp_ingest - warmupctl ingest: the usage events IDE assistants write to
    disk (Continue's dev data, Tabby's event log) published on the bus as
    usage.observed, once, or following the files as they grow.
    =========================================================================
*/
#ifndef WP_INGEST_H_INCLUDED
#define WP_INGEST_H_INCLUDED

#include "wp_config.h"

//  Run `warmupctl ingest` with its arguments (after the command name).
//  Returns the exit code: 0, 1 (failed), 2 (bad arguments).
int
    wp_ingest_main (const wp_config_t *config, int argc, char **argv);

#endif
