/*  =========================================================================
    wp_train - warmupctl train: fit what the engine can learn of all pairs
    from a trace and write it as a model file (wp_engine_file.h).
    =========================================================================
*/
#ifndef WP_TRAIN_H_INCLUDED
#define WP_TRAIN_H_INCLUDED

#include "wp_config.h"

//  warmupctl train ARGS (the common flags, --catalog among them, parsed
//  into config already): 0, 1 on failure, 2 on bad usage.
int
    wp_train_main (const wp_config_t *config, int argc, char **argv);

#endif
