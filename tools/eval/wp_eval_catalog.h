/*  =========================================================================
    wp_eval_catalog - the models a trace may request: memory and load time

    Read from a CSV file with the header `model,memory_mb,load_ms` and,
    optionally after them in any order, the columns `pin` (true/false,
    yes/no, 1/0, on/off; empty = false) and `priority` (low, normal or
    high; empty = normal), as a model's configuration section has them.
    Any other column, a column given twice, a row with more or fewer
    fields than the header, or a bad value is an error naming the file,
    line, column and value. Models get dense ids in file order; the
    simulator and every policy index their per-model state by these ids.
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

//  Pin a model (true) or not: it is resident from the start of the run
//  and never unloaded (wp_eval_sim.h).
void
    wp_eval_catalog_set_pin (wp_eval_catalog_t *self, uint32_t model, bool pin);

//  Set a model's priority: 1 low, 2 normal, 3 high (others: normal).
void
    wp_eval_catalog_set_priority (wp_eval_catalog_t *self, uint32_t model, int priority);

//  True if the model is pinned.
bool
    wp_eval_catalog_pinned (wp_eval_catalog_t *self, uint32_t model);

//  Priority of a model: 1 low, 2 normal (the default), 3 high.
int
    wp_eval_catalog_priority (wp_eval_catalog_t *self, uint32_t model);

//  Sum of the pinned models' memory_mb.
uint64_t
    wp_eval_catalog_pinned_mb (wp_eval_catalog_t *self);

//  True if the catalog's file had a pin or priority column, or a model was
//  given a pin or priority since (reports then break figures down by class).
bool
    wp_eval_catalog_has_settings (wp_eval_catalog_t *self);

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
