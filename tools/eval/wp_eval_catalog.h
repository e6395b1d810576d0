/*  =========================================================================
    wp_eval_catalog - the models a trace may request: memory and load time

    Read from a CSV file `model,memory_mb,load_ms` (header required, further
    columns ignored). Models get dense ids in file order; the simulator and
    every policy index their per-model state by these ids.
    =========================================================================
*/
#ifndef WP_EVAL_CATALOG_H_INCLUDED
#define WP_EVAL_CATALOG_H_INCLUDED

#include "wp_eval.h"

typedef struct _wp_eval_catalog_t wp_eval_catalog_t;

//  Create an empty catalog (tests add models with wp_eval_catalog_add).
wp_eval_catalog_t *
    wp_eval_catalog_new (void);

//  Load a catalog file; NULL on failure with "file:line: reason" in error
//  (WP_EVAL_ERRLEN bytes).
wp_eval_catalog_t *
    wp_eval_catalog_load (const char *path, char *error);

//  Destroy the catalog; safe on NULL, nulls the pointer.
void
    wp_eval_catalog_destroy (wp_eval_catalog_t **self_p);

//  Add a model; returns its id, or -1 if the name is already there or
//  memory is short.
int64_t
    wp_eval_catalog_add (wp_eval_catalog_t *self, const char *name,
                         uint32_t memory_mb, uint32_t load_ms);

//  Number of models.
size_t
    wp_eval_catalog_size (wp_eval_catalog_t *self);

//  Id of a model name (len bytes), or -1 if the catalog lacks it.
int64_t
    wp_eval_catalog_lookup (wp_eval_catalog_t *self, const char *name, size_t len);

//  Name of a model (borrowed).
const char *
    wp_eval_catalog_name (wp_eval_catalog_t *self, uint32_t model);

//  Memory a model occupies while resident, MB.
uint32_t
    wp_eval_catalog_memory_mb (wp_eval_catalog_t *self, uint32_t model);

//  Time a load of the model takes, ms.
uint32_t
    wp_eval_catalog_load_ms (wp_eval_catalog_t *self, uint32_t model);

//  Sum of every model's memory_mb (the footprint of keeping everything).
uint64_t
    wp_eval_catalog_total_mb (wp_eval_catalog_t *self);

//  Rank of a model's name in byte order (0 = smallest); for tie-breaks.
uint32_t
    wp_eval_catalog_name_rank (wp_eval_catalog_t *self, uint32_t model);

#endif
