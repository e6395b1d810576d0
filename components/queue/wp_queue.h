/*  =========================================================================
    wp_queue - the warmup queue core: which warm or cool task starts next.

    Plain C, no sockets, no clock: the caller passes the current time (ms)
    and does the I/O. The queue holds pending tasks, at most `max_size` of
    them, and running tasks, at most `max_running` of them.

    Rules:
      * At most one pending and one running task per model. A push for a
        model with a pending task of the same action merges into it (higher
        priority, earlier non-zero deadline, newer reason); a push of the
        opposite action cancels the pending one and takes its place (a cool
        cancels a pending warm of the same model, and vice versa).
      * A push of the action a model is already running is a duplicate:
        nothing is queued (and a pending opposite task, which would undo
        what the new request asks for, is cancelled). A push of the
        opposite action is queued and starts after the running task ends.
      * wp_queue_next starts the highest priority task first, then the
        earliest deadline (0 = none sorts last), then the oldest. A task
        past its deadline still runs: deadlines only order the queue.
      * When max_size tasks are pending, a new task evicts the lowest
        priority pending task (the newest among equals) if it has a
        strictly higher priority than that task; otherwise it is dropped.
      * wp_queue_expired reports running tasks whose started_ms +
        timeout_ms <= now_ms (the task's own timeout_ms if set, else the
        queue's); the caller kills them and completes them.
      * wp_queue_next_if starts the first task, in that same order, that
        the caller's filter admits (per-backend concurrency limits,
        resource admission) and whose not_before_ms has come; it looks at
        WP_QUEUE_SCAN_MAX candidates at most per call.
      * wp_queue_retry puts a running task that failed back as pending
        with a not_before_ms (backoff), unless a newer request for its
        model is pending (that one supersedes it) or the queue is full.

    Ownership: a task the queue hands back with `wp_queue_task_t *` (a task
    that left the queue: completed, cancelled, evicted) is the caller's and
    is freed with wp_queue_task_destroy. A `const wp_queue_task_t *` is
    borrowed from the queue. The cookie is opaque to the queue: it never
    frees or reads it; the caller gets it back with the task that holds it.
    =========================================================================
*/

#ifndef WP_QUEUE_H_INCLUDED
#define WP_QUEUE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Actions, as in warmup.proto (enum Action).
#define WP_QUEUE_WARM 1
#define WP_QUEUE_COOL 2

//  Priorities, as in warmup.proto (enum Priority); 0 is taken as NORMAL.
#define WP_QUEUE_LOW    1
#define WP_QUEUE_NORMAL 2
#define WP_QUEUE_HIGH   3

//  What wp_queue_push did with a task. Only ADDED, REPLACED and EVICTED
//  put the new task (and its cookie) into the queue.
typedef enum {
    WP_QUEUE_INVALID = -2,      // bad task (empty model, bad action or
                                // priority): nothing changed
    WP_QUEUE_ERROR = -1,        // out of memory: nothing changed
    WP_QUEUE_ADDED = 0,         // queued
    WP_QUEUE_MERGED = 1,        // merged into the pending task of the same
                                // model and action (which keeps its cookie)
    WP_QUEUE_REPLACED = 2,      // queued; the pending task of the opposite
                                // action was cancelled (see displaced)
    WP_QUEUE_EVICTED = 3,       // queued; the queue was full and its lowest
                                // priority, newest task left (see displaced)
    WP_QUEUE_DROPPED_FULL = 4,  // not queued: full, and no pending task has
                                // a lower priority than the new one
    WP_QUEUE_RUNNING_DUP = 5,   // not queued: the model is already running
                                // this action (a pending opposite task, if
                                // any, was cancelled: see displaced)
    WP_QUEUE_SUPERSEDED = 6     // retry: not queued, a pending task of the
                                // same model takes its place
} wp_queue_result_t;

//  Most pending tasks wp_queue_next_if examines per call.
#define WP_QUEUE_SCAN_MAX 64

//  A task. For wp_queue_push the caller fills the first six fields and the
//  queue copies them (strings included). Tasks the queue returns own their
//  strings; reason is never NULL in them.
typedef struct {
    char *model;            // model name, 1..255 bytes
    int action;             // WP_QUEUE_WARM or WP_QUEUE_COOL
    int priority;           // 1..3, higher first (0 in a push = NORMAL)
    uint64_t deadline_ms;   // should be done by this time, 0 = none
    char *reason;           // human-readable reason; NULL in a push = ""
    uint64_t cookie;        // the caller's handle on the request, opaque
    uint64_t enqueued_ms;   // when it was queued: now_ms of the push, or
                            // the value given to push if non-zero (restore)
    uint64_t started_ms;    // when wp_queue_next started it (running only)
    uint64_t finished_ms;   // now_ms of wp_queue_complete (completed only)
    uint64_t timeout_ms;    // running time limit; 0 = the queue's (push)
    uint64_t not_before_ms; // do not start before this time (retry backoff)
    uint32_t attempts;      // times started (wp_queue_next counts them)
} wp_queue_task_t;

typedef struct _wp_queue_t wp_queue_t;

//  Called by wp_queue_iterate for each pending task, and by
//  wp_queue_expired for each expired running task. Return 0 to go on,
//  non-zero to stop.
typedef int (wp_queue_fn) (const wp_queue_task_t *task, void *arg);

//  Create a queue of at most max_size pending and max_running running
//  tasks (both >= 1); running tasks time out after timeout_ms (0 = never).
//  Returns NULL on bad arguments or out of memory.
wp_queue_t *
    wp_queue_new (size_t max_size, size_t max_running, uint64_t timeout_ms);

//  Destroy the queue and every task still in it (pending or running);
//  nulls *self_p. Safe on NULL. Cookies are not touched: iterate first if
//  they refer to anything.
void
    wp_queue_destroy (wp_queue_t **self_p);

//  Offer a task at now_ms; the queue copies it. Returns what happened (see
//  wp_queue_result_t). If displaced_p is not NULL it is set to the task
//  that left the queue because of this push, or to NULL: that task is the
//  caller's, to destroy with wp_queue_task_destroy. If displaced_p is NULL
//  such a task is destroyed by the queue.
wp_queue_result_t
    wp_queue_push (wp_queue_t *self, const wp_queue_task_t *task,
                   uint64_t now_ms, wp_queue_task_t **displaced_p);

//  May this pending task start now? (wp_queue_next_if)
typedef bool (wp_queue_filter_fn) (const wp_queue_task_t *task, void *arg);

//  Start the best pending task that may start: not_before_ms <= now_ms
//  and fn (NULL = any) admits it, looking at WP_QUEUE_SCAN_MAX candidates
//  at most, best first. As wp_queue_next otherwise.
const wp_queue_task_t *
    wp_queue_next_if (wp_queue_t *self, uint64_t now_ms, wp_queue_filter_fn *fn,
                      void *arg);

//  Put the running task of `model` back as pending, to start not before
//  not_before_ms (it keeps its attempts, cookie and enqueued_ms; it goes
//  behind tasks of its priority pushed before). Returns ADDED; EVICTED
//  (queued, the lowest priority pending task left: *out_p); DROPPED_FULL
//  (not queued: the queue is full of tasks of its priority or higher,
//  *out_p is the task itself); SUPERSEDED (not queued: a task of the same
//  model is pending, *out_p is the task itself); INVALID (no such running
//  task). *out_p is the caller's to destroy, or NULL.
wp_queue_result_t
    wp_queue_retry (wp_queue_t *self, const char *model, uint64_t now_ms,
                    uint64_t not_before_ms, wp_queue_task_t **out_p);

//  Delay before retry number `retry` (1 = the first): base_ms doubled for
//  each retry after the first, at most cap_ms. Overflow-safe.
uint64_t
    wp_queue_backoff_ms (uint32_t retry, uint64_t base_ms, uint64_t cap_ms);

//  Start the next task at now_ms: it becomes running with started_ms =
//  now_ms. Returns NULL when nothing may start (no pending task, all
//  max_running slots busy, or every pending model is running already).
//  The task is borrowed: valid until wp_queue_complete of its model or
//  wp_queue_destroy.
const wp_queue_task_t *
    wp_queue_next (wp_queue_t *self, uint64_t now_ms);

//  Mark the running task of `model` finished at now_ms (finished_ms) and
//  take it out of the queue; a pending task of that model may start next.
//  Returns the task, which the caller destroys with wp_queue_task_destroy,
//  or NULL if the model has no running task.
wp_queue_task_t *
    wp_queue_complete (wp_queue_t *self, const char *model, uint64_t now_ms);

//  Call fn for each running task with started_ms + timeout_ms <= now_ms,
//  oldest start first, every time it is called until the task completes
//  (so the caller can escalate SIGTERM to SIGKILL). fn may complete the
//  task it is given, and must not change the queue otherwise. Returns the
//  number of tasks reported. A task without a timeout_ms of its own has
//  the queue's; when both are 0 it never expires.
size_t
    wp_queue_expired (wp_queue_t *self, uint64_t now_ms, wp_queue_fn *fn,
                      void *arg);

//  Call fn for each pending task, oldest first (the order to push them
//  back in after a restart). fn must not change the queue. Returns 0, or
//  the first non-zero value fn returned.
int
    wp_queue_iterate (wp_queue_t *self, wp_queue_fn *fn, void *arg);

//  The pending task of `model`, borrowed (valid until the next call that
//  changes the queue), or NULL.
const wp_queue_task_t *
    wp_queue_pending_task (wp_queue_t *self, const char *model);

//  The running task of `model`, borrowed (valid until it completes), or
//  NULL.
const wp_queue_task_t *
    wp_queue_running_task (wp_queue_t *self, const char *model);

//  Tasks waiting to start.
size_t
    wp_queue_pending (wp_queue_t *self);

//  Tasks started and not completed.
size_t
    wp_queue_running (wp_queue_t *self);

//  Tasks lost because the queue was full: new tasks refused
//  (DROPPED_FULL) plus pending tasks evicted (EVICTED), since creation.
uint64_t
    wp_queue_dropped (wp_queue_t *self);

//  Pending tasks evicted by a higher priority task, since creation (also
//  counted in wp_queue_dropped).
uint64_t
    wp_queue_evicted (wp_queue_t *self);

//  Pushes merged into a pending task, since creation.
uint64_t
    wp_queue_merged (wp_queue_t *self);

//  Pending tasks cancelled by a push of the opposite action, since
//  creation.
uint64_t
    wp_queue_cancelled (wp_queue_t *self);

//  Short name of a push result, e.g. "merged", for logs. Never NULL.
const char *
    wp_queue_result_str (wp_queue_result_t result);

//  Destroy a task the queue handed over; nulls *self_p. Safe on NULL.
void
    wp_queue_task_destroy (wp_queue_task_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
