/*  =========================================================================
    wp_eval_report - prints evaluation results: table, JSON, SVG chart

    A row is one simulation's metrics with what identifies it (policy name,
    knob, budget). The table and the JSON use the metric names of EVAL.md
    section 3 exactly; the chart plots cold_wait_s against resident_gb_s
    (log scales), one line per policy family.
    =========================================================================
*/
#ifndef WP_EVAL_REPORT_H_INCLUDED
#define WP_EVAL_REPORT_H_INCLUDED

#include "wp_eval_sim.h"

#include <stdio.h>

//  One simulation's results.
typedef struct {
    const char *name;           //  policy name as asked ("keepalive:600")
    const char *family;         //  policy family ("keepalive")
    const char *knob_name;      //  what was swept: a knob name or "budget_mb"
    double knob;                //  value of the swept knob or budget
    int64_t budget_mb;          //  budget of the run
    bool implicit;              //  run only to normalise (not asked)
    bool sweep;                 //  a sweep point (not the main comparison)
    wp_eval_metrics_t metrics;  //  results
} wp_eval_row_t;

//  Print the rows as a table (main rows only; implicit ones marked '*').
void
    wp_eval_report_table (FILE *out, const char *trace, int64_t budget_mb,
                          const wp_eval_row_t *rows, size_t count);

//  Print the rows as JSON: asked main rows in "policies", sweep points (if
//  any) in "sweep".
void
    wp_eval_report_json (FILE *out, const char *trace, int64_t budget_mb,
                         const wp_eval_row_t *rows, size_t count, bool sweep);

//  Write an SVG Pareto chart of the asked rows (main and sweep); 0 or -1
//  with the reason in error (WP_EVAL_ERRLEN bytes).
int
    wp_eval_report_svg (const char *path, const char *trace, int64_t budget_mb,
                        const wp_eval_row_t *rows, size_t count, char *error);

#endif
