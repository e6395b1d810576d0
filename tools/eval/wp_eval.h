/*  =========================================================================
    wp_eval - types shared by the trace-replay evaluator (warmup-eval)

    The evaluator replays a request trace through warm-up policies in a
    simulated world (docs/evaluation.md, docs/EVAL.md). Times are
    milliseconds from the start of the trace; models are dense catalog ids;
    users are dense ids in order of first appearance in the trace.
    =========================================================================
*/
#ifndef WP_EVAL_H_INCLUDED
#define WP_EVAL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Size of the error-message buffers the evaluator's constructors fill.
#define WP_EVAL_ERRLEN 512

//  One request of the trace.
typedef struct {
    int64_t time;               //  arrival, ms from the start of the trace
    uint32_t user;              //  user id (dense, first appearance order)
    uint32_t model;             //  model id (catalog row order)
} wp_eval_request_t;

#endif
