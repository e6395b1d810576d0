/*  =========================================================================
    wp_analyzer_actor - UsagePatternAnalyzer on the bus.

    Subscribes: usage.observed. Publishes: usage.pattern (one per valid
    usage event: the user's models with what was learned of each), and
    heartbeats. State: pairs and models in <data_dir>/analyzer: changed
    records appended to its journal every flush_ms or batch_max events
    (one fdatasync), checkpointed into LMDB every checkpoint_s or
    journal_max_kb (wp_analyzer_log) in slices of checkpoint_slice
    writes, run between events on a 1 ms timer and after each flush; at start the journal past the
    checkpoint goes into LMDB, which is loaded. Heartbeats' persisted
    counts the records made durable in the journal.
    =========================================================================
*/
#ifndef WP_ANALYZER_ACTOR_H_INCLUDED
#define WP_ANALYZER_ACTOR_H_INCLUDED

#include "wp_component.h"

extern const wp_component_def_t wp_analyzer_def;

#endif
