/*  =========================================================================
    wp_replay - warmupctl replay: a request trace through the live system,
    in event time, playing the simulated world of EVAL.md section 2.
    =========================================================================
*/
#ifndef WP_REPLAY_H_INCLUDED
#define WP_REPLAY_H_INCLUDED

#include "wp_config.h"

//  Run `warmupctl replay` with its arguments (after the command name).
//  Returns the exit code: 0, 1 (failed), 2 (bad arguments).
int
    wp_replay_main (const wp_config_t *config, int argc, char **argv);

#endif
