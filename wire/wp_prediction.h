/*  =========================================================================
    wp_prediction - what the engine says of one (user, model) pair, as the
    scheduler reads it: the meaning the two sides of prediction.made share.

    A prediction is a probability of a request within the horizon, the
    expected time until it, and, for the model the user just asked (or one
    the engine expects to follow it), a plan: keep the model resident until
    keep_until_ms, then load it again at prewarm_at_ms and hold it until
    hold_until_ms. It carries the quantiles of the pair's idle times its
    plan was made from, so a reader can tell the chance of a request later
    on, from how long the user has been idle, without asking again
    (wp_prediction_cdf). And it names what the pair's arrivals allowed
    (wp_category_t).

    Plain C: no sockets, no clock. Owned by no component: both include it.
    =========================================================================
*/

#ifndef WP_PREDICTION_H_INCLUDED
#define WP_PREDICTION_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Idle-time quantiles a prediction carries: 0.25, 0.5, 0.75, 0.9, 0.99.
#define WP_PREDICTION_QUANTILES 5

//  What a pair's arrivals allow (after SPES's categories), as its latest
//  plan found them: too little of its own yet (new), asked again sooner
//  than a load (always_on), foreseen to the window (periodic), kept
//  through nearly all its idle times (dense), kept through most but let
//  go between bursts (successive), let go between most requests (rare),
//  or warmed after another model of the user (correlated), or on a sign
//  from the IDE that a request is coming (intent: wp_intent).
typedef enum {
    WP_CATEGORY_NEW = 0, WP_CATEGORY_ALWAYS_ON, WP_CATEGORY_PERIODIC, WP_CATEGORY_DENSE,
    WP_CATEGORY_SUCCESSIVE, WP_CATEGORY_RARE, WP_CATEGORY_CORRELATED, WP_CATEGORY_INTENT,
    WP_CATEGORIES
} wp_category_t;

//  One model's prediction and plan. Plan times are event times (ms); a
//  plan with keep_until_ms == 0 and hold_until_ms == 0 changes nothing.
typedef struct {
    const char *model;          //  borrowed from what it came from
    double probability;         //  P(request within the horizon)
    uint64_t expected_in_ms;    //  expected time until the request, ms
    double confidence;          //  0..1, grows with the evidence
    uint64_t keep_until_ms;     //  keep resident until (a request's plan)
    uint64_t prewarm_at_ms;     //  then load again at (0: no window)
    uint64_t hold_until_ms;     //  and hold until
    double benefit_ms;          //  wait saved if resident at the next request
    uint32_t load_ms;           //  load time the plan assumed
    uint64_t last_ms;           //  the user's last request of the model
    float gap_q [WP_PREDICTION_QUANTILES];  //  idle-time quantiles, ms (0: none)
    uint8_t category;           //  what the pair's arrivals allow (wp_category_t)
} wp_prediction_t;

//  Fraction of a pair's idle times at or below x ms, from its quantiles
//  (piecewise linear between them; from the 0.99 one to twice it, 1).
double
    wp_prediction_cdf (const float *gap_q, double x);

//  Name of a category: "new", "always_on", "periodic", "dense",
//  "successive", "rare", "correlated", "intent" ("" for another value).
const char *
    wp_category_name (int category);

#ifdef __cplusplus
}
#endif

#endif
