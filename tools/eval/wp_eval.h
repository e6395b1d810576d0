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

//  No model: an intent without a hint.
#define WP_EVAL_NO_MODEL UINT32_MAX

//  One request of the trace, or an intent (a sign from the IDE that a
//  request is coming: the trace's optional kind column).
typedef struct {
    int64_t time;               //  arrival, ms from the start of the trace
    uint32_t user;              //  user id (dense, first appearance order)
    uint32_t model;             //  model id (catalog row order); an intent's
                                //  hint, or WP_EVAL_NO_MODEL
    uint32_t kind;              //  0: a request; else an intent of this kind
                                //  (1, 2, ...: wp_eval_trace_kind_name)
} wp_eval_request_t;

#endif
