/*  =========================================================================
    wp_feed - the usage events IDE assistants already write, read into
    usage.observed: Continue's "dev data" and Tabby's event log.

    Continue (schema 0.2.0, continuedev/continue
    packages/config-yaml/src/schemas/data/): one JSON object per line in
    ~/.continue/dev_data/0.2.0/<eventName>.jsonl, or POSTed to a data
    destination as {"name", "data", "schema", "level", "profileId"}
    (core/data/log.ts). Requests: autocomplete (completion: modelName,
    filepath), chatInteraction (chat: modelName or modelTitle, sessionId),
    editInteraction (edit: modelName or modelTitle, filepath),
    nextEditWithHistory (completion: modelName or modelTitle, fileURI) and
    quickEdit of 0.1.0 (edit: model, path). Known events that are no
    request (chatFeedback, tokensGenerated, editOutcome, nextEditOutcome,
    toolUsage) are skipped. Time from "timestamp" (ISO 8601, or ms since
    the epoch as autocomplete writes it); the user from "userId", which is
    Continue's account token: never published as it is, but as
    "continue:" and 16 hex digits of its keyed hash.

    Tabby (TabbyML/tabby crates/tabby-common/src/api/event.rs): one object
    per line in ~/.tabby/events/<YYYY-MM-DD>.json, {"ts": ms, "user"?,
    "event": {"<kind>": {...}}}. Requests: completion (language,
    segments.filepath) and chat_completion; view, select and dismiss are
    skipped. Tabby names no model in its events: the reader is given the
    completion and the chat model.

    The user is the override when given (--user, X-Warmup-User), else the
    event's, else the fallback ("local", or the HTTP caller). Language from
    the event, else the file's extension. Every refusal says why, naming
    the field. Plain C: buffers in, events out, no I/O.
    =========================================================================
*/
#ifndef WP_FEED_H_INCLUDED
#define WP_FEED_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "warmup.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Longest line (or body) read, bytes: a longer one is refused.
#define WP_FEED_LINE_MAX (8u << 20)

//  Formats.
typedef enum {
    WP_FEED_CONTINUE = 1,       //  Continue's dev data (a line, or a file destination)
    WP_FEED_TABBY               //  Tabby's event log
} wp_feed_format_t;

//  What a line or body held.
typedef enum {
    WP_FEED_USAGE = 0,          //  a request: the event is filled
    WP_FEED_SKIP,               //  a known event that is no request
    WP_FEED_UNKNOWN,            //  an event type the reader does not know
    WP_FEED_BAD                 //  malformed or missing what a request needs
} wp_feed_result_t;

//  How to read.
typedef struct {
    wp_feed_format_t format;
    const char *user;           //  every event's user (NULL: the event's)
    const char *fallback_user;  //  when the event names none (NULL: "local")
    const char *event_name;     //  Continue: the event of lines without
                                //  "eventName" (a file's name: "autocomplete")
    const char *completion_model;   //  Tabby: the completion model (NULL: skip them)
    const char *chat_model;         //  Tabby: the chat model (NULL: skip them)
    uint8_t user_key [16];      //  key of the hash of Continue's user tokens
} wp_feed_opts_t;

//  One usage event read; its strings live in it.
typedef struct {
    Warmup__V1__UsageObserved usage;    //  points into the fields below
    char event [64];            //  the event type read ("autocomplete")
    char user [260];
    char session [260];
    char model [256];
    char language [65];
    char file_type [33];
} wp_feed_event_t;

//  Read one line of a feed (without its newline) at now_ms (the time of
//  events without one). USAGE fills *event; for SKIP and UNKNOWN
//  event->event names the type; for BAD and UNKNOWN why (size bytes) says
//  what is wrong.
wp_feed_result_t
    wp_feed_line (const wp_feed_opts_t *opts, const char *line, size_t size,
                  uint64_t now_ms, wp_feed_event_t *event, char *why, size_t why_size);

//  Read the body Continue POSTs to an HTTP data destination: {"name":
//  event name, "data": the event, "schema", "level", "profileId"}. As
//  wp_feed_line; opts->format is taken as Continue.
wp_feed_result_t
    wp_feed_continue_post (const wp_feed_opts_t *opts, const char *body, size_t size,
                           uint64_t now_ms, wp_feed_event_t *event, char *why,
                           size_t why_size);

//  Parse an ISO 8601 time ("2025-01-31T12:00:00.250Z", "...+02:00") into
//  ms since the epoch. Returns 0, or -1 when it is not one.
int
    wp_feed_iso_ms (const char *text, uint64_t *ms);

//  Language and file type of a path or file URI by its extension
//  ("src/a.py" -> "python", ".py"). Either out may be NULL; "" when none.
void
    wp_feed_language (const char *path, char *language, size_t language_size,
                      char *file_type, size_t file_type_size);

//  Name of a result ("usage", "skip", "unknown", "bad").
const char *
    wp_feed_result_name (wp_feed_result_t result);

#ifdef __cplusplus
}
#endif

#endif
