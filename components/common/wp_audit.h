/*  =========================================================================
    wp_audit - the audit log: every decision and every control command,
    one JSON object per line, in <data_dir>/audit/ (docs/security.md).

    What goes in (the audit actor writes what it hears on the bus):
      decision   a warmup.requested: warm or cool, the model, the reason
                 with the prediction behind it (the scheduler's demand or
                 plan), the expected benefit, who asked (its principal)
      done       a warmup.done: ok or failed and why (a full queue's drops
                 too), the backend, how long it took
      control    a control.request: the command, the model, who asked
      reply      a control.reply: accepted or refused, by whom, and why
                 (the bus's refusals of a key that may not control)
      deferred   the resource manager stops admitting background warmups,
                 and why; admitted when it admits again
      gap        events the audit missed (sequence gaps on the bus)
    Each record has "ts_ms" (wall clock, ms since the epoch), "time" (ISO
    8601, UTC) and "kind".

    Durability and size: a record is written (write(2), whole lines) when
    it arrives, so a crash of the process loses nothing written; the file
    is fdatasync'ed every flush_ms, which bounds what an OS crash can lose.
    The log rotates: audit.log, then audit.log.1 ... audit.log.<files-1>,
    each at most max_bytes / files; the oldest is deleted. Files are 0600
    in a 0700 directory: they name models and keys, never raw user ids.

    The reader walks the files oldest first, line by line.
    =========================================================================
*/
#ifndef WP_AUDIT_H_INCLUDED
#define WP_AUDIT_H_INCLUDED

#include <czmq.h>
#include "wp_config.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Where the log lives under a data directory.
#define WP_AUDIT_DIR "audit"
#define WP_AUDIT_FILE "audit.log"

//  Longest record, bytes (a longer one is cut and closed as valid JSON).
#define WP_AUDIT_LINE_MAX 4096

typedef struct _wp_audit_t wp_audit_t;

//  Open (creating) the log in dir, rotating through files files of at most
//  max_bytes / files bytes. NULL after logging why.
wp_audit_t *
    wp_audit_new (const char *dir, uint64_t max_bytes, unsigned files);

//  Close; safe on NULL; nulls *self_p.
void
    wp_audit_destroy (wp_audit_t **self_p);

//  Append one record (a JSON object without the newline). Returns 0, or
//  -1 when it could not be written (counted, logged once per many).
int
    wp_audit_append (wp_audit_t *self, const char *record);

//  Make what was appended durable (fdatasync). Returns 0 or -1.
int
    wp_audit_sync (wp_audit_t *self);

//  Records appended and write errors since the start.
uint64_t
    wp_audit_records (wp_audit_t *self);
uint64_t
    wp_audit_errors (wp_audit_t *self);

//  Call fn for every record of the log in dir, oldest first (fn returns
//  0 to go on, else the walk stops). Returns the records read, or -1 when
//  the directory cannot be read (error filled).
typedef int (wp_audit_fn) (const char *record, void *arg);
int
    wp_audit_read (const char *dir, wp_audit_fn *fn, void *arg, char *error, size_t size);

//  The audit actor: zactor_new (wp_audit_actor, &args) with
//  wp_audit_args_t (borrowed until it answers START). Commands: START
//  (open the log, connect, wait for the bus: "OK" or "ERROR" reason),
//  $TERM. Subscribes to warmup.requested, warmup.done, control.request,
//  control.reply and resource.status.
typedef struct {
    const wp_config_t *config;  //  data_dir, flush_ms, audit/*
    const char *pub_endpoint;   //  the bus (inproc beside the proxy)
    const char *sub_endpoint;
    const char *instance;       //  for its source ("audit/<instance>")
} wp_audit_args_t;

void
    wp_audit_actor (zsock_t *pipe, void *args);

//  Start the audit actor on a bus and START it; NULL after logging why,
//  or when audit/enabled is false.
zactor_t *
    wp_audit_start (const wp_config_t *config, const char *pub, const char *sub,
                    const char *instance);

#ifdef __cplusplus
}
#endif

#endif
