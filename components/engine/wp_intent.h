/*  =========================================================================
    wp_intent - what an IDE's signs say about the request to come: the
    engine's intent learning (usage.intent).

    An IDE knows seconds ahead that a model will be needed: the chat panel
    opens before the first message is sent, typing resumes before the next
    completion is asked, a file of another language opens before its model
    is used. Each sign is an intent: a user, a kind ("chat.opened") and a
    language ("" when none). Per (user, kind, language) context this class
    learns, from what follows, which models are asked within the horizon of
    an intent and how soon:
    - every intent of a context fades what the context learned by FADE and
      counts one more intent; a request to a model within the horizon of
      the context's latest intent counts one hit for the model (its first
      request after the intent only) and keeps the lead (request time -
      intent time) in a ring of the last four;
    - P(model within the horizon | intent) = hits / (intents before this
      one + PRIOR_WEIGHT); a model the intent names as a hint, new to the
      context, starts with the hits that make it 0.5 (they fade like any
      others); any other model is learned once it follows. Intents never
      followed by the model so drive its probability to zero: nothing is
      warmed on them any more.
    On an intent, each model of the context is priced with the engine's
    rule (wp_engine_break_even_ms: what a cold start of it costs in
    residency at cold_wait_price): a window opens at the intent plus the
    shortest lead learned less the load time, and holds to the longest lead
    and a quarter more (within the horizon). The wait it saves is the load
    for each learned lead the window covers after the load, a part of it
    for one that comes sooner. The model is warmed when P x the share of
    the wait saved x break-even exceeds the window's residency beyond what
    the engine's own plan already keeps (the latest keep_until the caller
    reported); such a model becomes a prediction with that window (and the
    plan's keep, so the scheduler's plan for the pair loses nothing), the
    category "intent". Nothing else is returned: a prediction without a
    plan would count as demand.

    Bounded: at most max_users users (the least recently active forgotten
    first), CONTEXTS contexts per user and MODELS models per context (the
    least recently used, the fewest hits replaced), MODEL_NAMES names. Plain
    C: no sockets, no clock; held in memory only (the engine's learning is
    not persisted, docs/architecture.md).
    =========================================================================
*/
#ifndef WP_INTENT_H_INCLUDED
#define WP_INTENT_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "wp_engine.h"
#include "wp_util.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Longest language, bytes.
#define WP_INTENT_LANGUAGE_MAX 64

//  Options; zero fields take the defaults.
typedef struct {
    uint32_t horizon_s;         //  a request counts as following an intent
                                //  within this, s (default 300: the engine's)
    uint32_t max_users;         //  users remembered (default 100000)
} wp_intent_opts_t;

//  What the caller learns of an intent it passes on.
typedef struct {
    const char *kind;           //  e.g. "chat.opened" (required)
    const char *language;       //  NULL or "" = none
    const char *model;          //  hint: NULL or "" = none
} wp_intent_sign_t;

typedef struct _wp_intent_t wp_intent_t;

//  Create; opts may be NULL. NULL when out of memory.
wp_intent_t *
    wp_intent_new (const wp_intent_opts_t *opts);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_intent_destroy (wp_intent_t **self_p);

//  A request of user_hash for model at now_ms (event time), and the keep
//  the engine planned after it (keep_until_ms, 0: none): hits for the
//  user's intents it follows. Returns 0, or -1 for an unusable model name.
int
    wp_intent_request (wp_intent_t *self, uint64_t user_hash, const char *model,
                       uint64_t now_ms, uint64_t keep_until_ms);

//  An intent of user_hash at now_ms: learn it, and write into out (at most
//  capacity) the models worth warming for it, priced with the engine's
//  load times, memory and price; model names are borrowed from this
//  class (valid while it lives). Returns how many (0: nothing worth it),
//  or -1 for an unusable sign (kind, language or hint).
int
    wp_intent_signal (wp_intent_t *self, wp_engine_t *engine, uint64_t user_hash,
                      const wp_intent_sign_t *sign, uint64_t now_ms,
                      wp_prediction_t *out, size_t capacity);

//  Intents learned so far, and those that warmed at least one model.
uint64_t
    wp_intent_signals (wp_intent_t *self, uint64_t *warming);

//  Users held now.
size_t
    wp_intent_users (wp_intent_t *self);

//  Bytes of memory held.
size_t
    wp_intent_state_bytes (wp_intent_t *self);

#ifdef __cplusplus
}
#endif

#endif
