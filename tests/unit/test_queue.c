/*  =========================================================================
    test_queue - the warmup queue core: order, merge, cancel, eviction,
    concurrency, one running task per model, timeouts, iteration.
    =========================================================================
*/
#include "testutil.h"
#include "wp_queue.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WARM WP_QUEUE_WARM
#define COOL WP_QUEUE_COOL

//  Push a task built from its fields; displaced_p may be NULL.
static wp_queue_result_t
s_push (wp_queue_t *queue, const char *model, int action, int priority,
        uint64_t deadline_ms, const char *reason, uint64_t cookie,
        uint64_t now_ms, wp_queue_task_t **displaced_p)
{
    wp_queue_task_t task = {
        .model = (char *) model, .action = action, .priority = priority,
        .deadline_ms = deadline_ms, .reason = (char *) reason, .cookie = cookie
    };
    return wp_queue_push (queue, &task, now_ms, displaced_p);
}

//  Start the next task and check it is the expected model and action.
static void
s_expect_next (wp_queue_t *queue, uint64_t now_ms, const char *model,
               int action)
{
    const wp_queue_task_t *task = wp_queue_next (queue, now_ms);
    if (!model) {
        assert_null (task);
        return;
    }
    assert_non_null (task);
    assert_string_equal (task->model, model);
    assert_int_equal (task->action, action);
    assert_int_equal (task->started_ms, now_ms);
}

//  Complete the running task of a model and free it.
static void
s_complete (wp_queue_t *queue, const char *model, uint64_t now_ms)
{
    wp_queue_task_t *task = wp_queue_complete (queue, model, now_ms);
    assert_non_null (task);
    assert_string_equal (task->model, model);
    wp_queue_task_destroy (&task);
    assert_null (task);
}

//  Constructor arguments, destructor safety, destroying a busy queue.
static void
test_new_destroy (void **state)
{
    assert_null (wp_queue_new (0, 1, 0));
    assert_null (wp_queue_new (1, 0, 0));
    wp_queue_t *queue = NULL;
    wp_queue_destroy (&queue);
    wp_queue_task_t *task = NULL;
    wp_queue_task_destroy (&task);

    queue = wp_queue_new (4, 1, 1000);
    assert_non_null (queue);
    assert_int_equal (wp_queue_pending (queue), 0);
    assert_int_equal (wp_queue_running (queue), 0);
    assert_null (wp_queue_next (queue, 0));
    //  One running, two pending (one parked behind the running model)
    assert_int_equal (s_push (queue, "a", WARM, 2, 0, "r", 1, 0, NULL), WP_QUEUE_ADDED);
    s_expect_next (queue, 1, "a", WARM);
    assert_int_equal (s_push (queue, "a", COOL, 2, 0, "r", 2, 2, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "b", WARM, 2, 0, NULL, 3, 3, NULL), WP_QUEUE_ADDED);
    assert_int_equal (wp_queue_pending (queue), 2);
    assert_int_equal (wp_queue_running (queue), 1);
    wp_queue_destroy (&queue);
    assert_null (queue);
}

//  Bad tasks change nothing; strings are copied; defaults are applied.
static void
test_invalid_and_copy (void **state)
{
    wp_queue_t *queue = wp_queue_new (4, 4, 0);
    assert_non_null (queue);
    assert_int_equal (s_push (queue, NULL, WARM, 2, 0, "", 1, 0, NULL), WP_QUEUE_INVALID);
    assert_int_equal (s_push (queue, "", WARM, 2, 0, "", 1, 0, NULL), WP_QUEUE_INVALID);
    assert_int_equal (s_push (queue, "m", 0, 2, 0, "", 1, 0, NULL), WP_QUEUE_INVALID);
    assert_int_equal (s_push (queue, "m", 3, 2, 0, "", 1, 0, NULL), WP_QUEUE_INVALID);
    assert_int_equal (s_push (queue, "m", WARM, 4, 0, "", 1, 0, NULL), WP_QUEUE_INVALID);
    assert_int_equal (s_push (queue, "m", WARM, -1, 0, "", 1, 0, NULL), WP_QUEUE_INVALID);
    char name [300];
    memset (name, 'x', 256);
    name [256] = 0;
    assert_int_equal (s_push (queue, name, WARM, 2, 0, "", 1, 0, NULL), WP_QUEUE_INVALID);
    assert_int_equal (wp_queue_pending (queue), 0);
    name [255] = 0;             //  255 bytes is the longest name
    assert_int_equal (s_push (queue, name, WARM, 2, 0, "", 1, 0, NULL), WP_QUEUE_ADDED);

    //  The queue copies model and reason; priority 0 is NORMAL; no reason
    //  is ""; enqueued_ms is now unless given
    char model [] = "llama3:8b";
    char reason [] = "p=0.9";
    assert_int_equal (s_push (queue, model, COOL, 0, 0, reason, 42, 1000, NULL),
                      WP_QUEUE_ADDED);
    model [0] = 'X';
    reason [0] = 'X';
    const wp_queue_task_t *task = wp_queue_pending_task (queue, "llama3:8b");
    assert_non_null (task);
    assert_string_equal (task->reason, "p=0.9");
    assert_int_equal (task->priority, WP_QUEUE_NORMAL);
    assert_int_equal (task->cookie, 42);
    assert_int_equal (task->enqueued_ms, 1000);
    assert_null (wp_queue_pending_task (queue, model));

    wp_queue_task_t given = { .model = "restored", .action = WARM,
                              .enqueued_ms = 77 };
    assert_int_equal (wp_queue_push (queue, &given, 5000, NULL), WP_QUEUE_ADDED);
    task = wp_queue_pending_task (queue, "restored");
    assert_int_equal (task->enqueued_ms, 77);
    assert_string_equal (task->reason, "");
    assert_string_equal (wp_queue_result_str (WP_QUEUE_EVICTED), "evicted");
    assert_string_equal (wp_queue_result_str ((wp_queue_result_t) 99), "unknown");
    wp_queue_destroy (&queue);
}

//  Highest priority first, then earliest deadline (none last), then FIFO.
static void
test_order (void **state)
{
    wp_queue_t *queue = wp_queue_new (16, 16, 0);
    assert_non_null (queue);
    assert_int_equal (s_push (queue, "low-dl", WARM, 1, 5, "", 0, 0, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "n-none-1", WARM, 2, 0, "", 0, 1, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "n-500", COOL, 2, 500, "", 0, 2, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "n-200-a", WARM, 0, 200, "", 0, 3, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "high", WARM, 3, 0, "", 0, 4, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "n-200-b", WARM, 2, 200, "", 0, 5, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "n-none-2", WARM, 2, 0, "", 0, 6, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "low", COOL, 1, 0, "", 0, 7, NULL), WP_QUEUE_ADDED);
    assert_int_equal (wp_queue_pending (queue), 8);

    s_expect_next (queue, 10, "high", WARM);
    s_expect_next (queue, 11, "n-200-a", WARM);     //  priority 0 = normal
    s_expect_next (queue, 12, "n-200-b", WARM);
    s_expect_next (queue, 13, "n-500", COOL);
    s_expect_next (queue, 14, "n-none-1", WARM);
    s_expect_next (queue, 15, "n-none-2", WARM);
    s_expect_next (queue, 16, "low-dl", WARM);       //  deadline beats FIFO
    s_expect_next (queue, 17, "low", COOL);
    s_expect_next (queue, 18, NULL, 0);
    assert_int_equal (wp_queue_pending (queue), 0);
    assert_int_equal (wp_queue_running (queue), 8);
    wp_queue_destroy (&queue);
}

//  A push for a pending model and action merges into it.
static void
test_merge (void **state)
{
    wp_queue_t *queue = wp_queue_new (8, 1, 0);
    assert_non_null (queue);
    wp_queue_task_t *displaced = (wp_queue_task_t *) &displaced;
    assert_int_equal (s_push (queue, "m", WARM, 1, 0, "first", 1, 100, &displaced),
                      WP_QUEUE_ADDED);
    assert_null (displaced);
    assert_int_equal (s_push (queue, "other", WARM, 2, 0, "", 2, 101, NULL),
                      WP_QUEUE_ADDED);

    //  Higher priority and a deadline: both taken, reason updated, the
    //  original cookie and enqueue time kept
    assert_int_equal (s_push (queue, "m", WARM, 3, 900, "second", 3, 200, &displaced),
                      WP_QUEUE_MERGED);
    assert_null (displaced);
    const wp_queue_task_t *task = wp_queue_pending_task (queue, "m");
    assert_int_equal (task->priority, 3);
    assert_int_equal (task->deadline_ms, 900);
    assert_string_equal (task->reason, "second");
    assert_int_equal (task->cookie, 1);
    assert_int_equal (task->enqueued_ms, 100);

    //  Lower priority, earlier deadline, empty reason: priority and reason
    //  kept, deadline taken
    assert_int_equal (s_push (queue, "m", WARM, 1, 500, "", 4, 300, NULL),
                      WP_QUEUE_MERGED);
    assert_int_equal (task->priority, 3);
    assert_int_equal (task->deadline_ms, 500);
    assert_string_equal (task->reason, "second");
    //  No deadline and a later one: the earlier deadline stays
    assert_int_equal (s_push (queue, "m", WARM, 0, 0, NULL, 5, 301, NULL), WP_QUEUE_MERGED);
    assert_int_equal (s_push (queue, "m", WARM, 0, 700, "third", 6, 302, NULL),
                      WP_QUEUE_MERGED);
    assert_int_equal (task->deadline_ms, 500);
    assert_string_equal (task->reason, "third");
    assert_int_equal (wp_queue_pending (queue), 2);
    assert_int_equal (wp_queue_merged (queue), 4);
    assert_int_equal (wp_queue_cancelled (queue), 0);

    //  A merge that raises the priority moves it ahead of "other"
    s_expect_next (queue, 400, "m", WARM);
    s_expect_next (queue, 401, NULL, 0);    //  max_running 1
    s_complete (queue, "m", 450);
    s_expect_next (queue, 451, "other", WARM);

    //  A deadline merged into the newer of two equal tasks moves it ahead
    s_complete (queue, "other", 460);
    assert_int_equal (s_push (queue, "p", WARM, 2, 0, "", 0, 500, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "q", WARM, 2, 0, "", 0, 501, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "q", WARM, 2, 800, "", 0, 502, NULL), WP_QUEUE_MERGED);
    s_expect_next (queue, 503, "q", WARM);
    wp_queue_destroy (&queue);
}

//  A push of the opposite action cancels the pending task and replaces it.
static void
test_replace (void **state)
{
    wp_queue_t *queue = wp_queue_new (8, 4, 0);
    assert_non_null (queue);
    wp_queue_task_t *displaced = NULL;
    assert_int_equal (s_push (queue, "a", WARM, 3, 100, "warm it", 11, 10, NULL),
                      WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "b", WARM, 2, 0, "", 12, 11, NULL), WP_QUEUE_ADDED);
    //  A cool cancels the pending warm; the new task takes nothing from it
    assert_int_equal (s_push (queue, "a", COOL, 1, 0, "idle", 13, 20, &displaced),
                      WP_QUEUE_REPLACED);
    assert_non_null (displaced);
    assert_string_equal (displaced->model, "a");
    assert_int_equal (displaced->action, WARM);
    assert_int_equal (displaced->cookie, 11);
    assert_string_equal (displaced->reason, "warm it");
    wp_queue_task_destroy (&displaced);
    const wp_queue_task_t *task = wp_queue_pending_task (queue, "a");
    assert_int_equal (task->action, COOL);
    assert_int_equal (task->priority, 1);
    assert_int_equal (task->deadline_ms, 0);
    assert_int_equal (task->cookie, 13);
    assert_int_equal (task->enqueued_ms, 20);
    assert_int_equal (wp_queue_pending (queue), 2);
    assert_int_equal (wp_queue_cancelled (queue), 1);

    //  And a warm cancels a pending cool (displaced_p NULL: the queue frees it)
    assert_int_equal (s_push (queue, "a", WARM, 2, 0, "back", 14, 30, NULL),
                      WP_QUEUE_REPLACED);
    task = wp_queue_pending_task (queue, "a");
    assert_int_equal (task->action, WARM);
    assert_int_equal (task->cookie, 14);
    assert_int_equal (wp_queue_cancelled (queue), 2);
    assert_int_equal (wp_queue_merged (queue), 0);
    //  The replacement is newer than "b": FIFO puts it after
    s_expect_next (queue, 40, "b", WARM);
    s_expect_next (queue, 41, "a", WARM);
    wp_queue_destroy (&queue);
}

//  Full queue: refuse a task whose priority is not higher than the lowest
//  pending one, else evict the lowest priority, newest pending task.
static void
test_full (void **state)
{
    wp_queue_t *queue = wp_queue_new (3, 1, 0);
    assert_non_null (queue);
    wp_queue_task_t *displaced = NULL;
    assert_int_equal (s_push (queue, "A", WARM, 1, 0, "", 1, 1, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "B", WARM, 2, 0, "", 2, 2, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "C", COOL, 1, 0, "", 3, 3, NULL), WP_QUEUE_ADDED);

    //  Equal priority is not enough
    assert_int_equal (s_push (queue, "D", WARM, 1, 0, "", 4, 4, &displaced),
                      WP_QUEUE_DROPPED_FULL);
    assert_null (displaced);
    assert_null (wp_queue_pending_task (queue, "D"));
    assert_int_equal (wp_queue_dropped (queue), 1);

    //  Merge and replace still work when full: they take no room
    assert_int_equal (s_push (queue, "A", WARM, 1, 0, "", 5, 5, NULL), WP_QUEUE_MERGED);
    assert_int_equal (s_push (queue, "B", COOL, 2, 0, "", 6, 6, &displaced),
                      WP_QUEUE_REPLACED);
    assert_int_equal (displaced->cookie, 2);
    wp_queue_task_destroy (&displaced);

    //  Lowest priority are A (older) and C (newer): C goes
    assert_int_equal (s_push (queue, "E", WARM, 2, 0, "", 7, 7, &displaced),
                      WP_QUEUE_EVICTED);
    assert_non_null (displaced);
    assert_string_equal (displaced->model, "C");
    assert_int_equal (displaced->action, COOL);
    assert_int_equal (displaced->cookie, 3);
    wp_queue_task_destroy (&displaced);
    //  Then A, the last low one
    assert_int_equal (s_push (queue, "F", WARM, 2, 0, "", 8, 8, &displaced),
                      WP_QUEUE_EVICTED);
    assert_string_equal (displaced->model, "A");
    wp_queue_task_destroy (&displaced);
    //  All normal now: a normal task is dropped, a high one evicts the
    //  newest normal (F), even with a deadline on F
    assert_int_equal (s_push (queue, "F", WARM, 2, 50, "", 8, 9, NULL), WP_QUEUE_MERGED);
    assert_int_equal (s_push (queue, "G", WARM, 0, 0, "", 9, 10, NULL),
                      WP_QUEUE_DROPPED_FULL);
    assert_int_equal (s_push (queue, "H", WARM, 3, 0, "", 10, 11, NULL),
                      WP_QUEUE_EVICTED);    //  displaced_p NULL: freed
    assert_null (wp_queue_pending_task (queue, "F"));
    assert_int_equal (wp_queue_pending (queue), 3);
    assert_int_equal (wp_queue_dropped (queue), 5);
    assert_int_equal (wp_queue_evicted (queue), 3);
    assert_int_equal (wp_queue_cancelled (queue), 1);
    assert_int_equal (wp_queue_merged (queue), 2);

    //  Running tasks take no room in the queue
    s_expect_next (queue, 20, "H", WARM);
    assert_int_equal (s_push (queue, "I", WARM, 1, 0, "", 11, 21, NULL), WP_QUEUE_ADDED);
    s_complete (queue, "H", 22);
    s_expect_next (queue, 23, "B", COOL);
    s_complete (queue, "B", 24);
    s_expect_next (queue, 25, "E", WARM);
    s_complete (queue, "E", 26);
    s_expect_next (queue, 27, "I", WARM);
    wp_queue_destroy (&queue);
}

//  At most max_running tasks run; completing one frees a slot.
static void
test_concurrency (void **state)
{
    wp_queue_t *queue = wp_queue_new (8, 2, 0);
    assert_non_null (queue);
    assert_int_equal (s_push (queue, "a", WARM, 2, 0, "ra", 1, 0, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "b", WARM, 2, 0, "", 2, 0, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "c", WARM, 2, 0, "", 3, 0, NULL), WP_QUEUE_ADDED);
    s_expect_next (queue, 100, "a", WARM);
    s_expect_next (queue, 200, "b", WARM);
    s_expect_next (queue, 300, NULL, 0);
    assert_int_equal (wp_queue_running (queue), 2);
    assert_int_equal (wp_queue_pending (queue), 1);
    assert_non_null (wp_queue_running_task (queue, "a"));
    assert_null (wp_queue_running_task (queue, "c"));

    assert_null (wp_queue_complete (queue, "c", 400));      //  not running
    assert_null (wp_queue_complete (queue, "nope", 400));
    wp_queue_task_t *done = wp_queue_complete (queue, "a", 1350);
    assert_non_null (done);
    assert_string_equal (done->model, "a");
    assert_string_equal (done->reason, "ra");
    assert_int_equal (done->cookie, 1);
    assert_int_equal (done->started_ms, 100);
    assert_int_equal (done->finished_ms, 1350);
    assert_int_equal (done->finished_ms - done->started_ms, 1250);
    wp_queue_task_destroy (&done);
    assert_null (wp_queue_complete (queue, "a", 1351));     //  only once
    assert_int_equal (wp_queue_running (queue), 1);
    s_expect_next (queue, 1400, "c", WARM);
    s_expect_next (queue, 1401, NULL, 0);
    wp_queue_destroy (&queue);
}

//  One running task per model: duplicates are refused, the opposite
//  action waits (without blocking other models) until the model is free.
static void
test_one_per_model (void **state)
{
    wp_queue_t *queue = wp_queue_new (8, 4, 0);
    assert_non_null (queue);
    wp_queue_task_t *displaced = NULL;
    assert_int_equal (s_push (queue, "m", WARM, 2, 0, "", 1, 0, NULL), WP_QUEUE_ADDED);
    s_expect_next (queue, 10, "m", WARM);
    assert_int_equal (s_push (queue, "m", WARM, 3, 0, "", 2, 11, &displaced),
                      WP_QUEUE_RUNNING_DUP);
    assert_null (displaced);
    assert_int_equal (wp_queue_pending (queue), 0);

    //  The cool waits behind the running warm; a lower-priority other
    //  model starts meanwhile
    assert_int_equal (s_push (queue, "m", COOL, 3, 0, "", 3, 12, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "x", WARM, 1, 0, "", 4, 13, NULL), WP_QUEUE_ADDED);
    s_expect_next (queue, 14, "x", WARM);
    s_expect_next (queue, 15, NULL, 0);
    assert_int_equal (wp_queue_pending (queue), 1);

    //  Warm again while the cool waits: the cool is cancelled, nothing new
    //  is queued (the model is being warmed already)
    assert_int_equal (s_push (queue, "m", WARM, 2, 0, "", 5, 16, &displaced),
                      WP_QUEUE_RUNNING_DUP);
    assert_non_null (displaced);
    assert_int_equal (displaced->action, COOL);
    assert_int_equal (displaced->cookie, 3);
    wp_queue_task_destroy (&displaced);
    assert_int_equal (wp_queue_pending (queue), 0);
    assert_int_equal (wp_queue_cancelled (queue), 1);

    //  A new cool waits; it merges while waiting; it starts on completion
    assert_int_equal (s_push (queue, "m", COOL, 1, 0, "", 6, 17, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "m", COOL, 3, 0, "", 7, 18, NULL), WP_QUEUE_MERGED);
    s_expect_next (queue, 19, NULL, 0);
    s_complete (queue, "m", 20);
    s_expect_next (queue, 21, "m", COOL);
    assert_int_equal (wp_queue_running_task (queue, "m")->cookie, 6);
    //  Now the warm is the opposite action of the running cool: queued
    assert_int_equal (s_push (queue, "m", WARM, 2, 0, "", 8, 22, NULL), WP_QUEUE_ADDED);
    s_expect_next (queue, 23, NULL, 0);
    s_complete (queue, "x", 24);
    s_expect_next (queue, 25, NULL, 0);
    s_complete (queue, "m", 26);
    s_expect_next (queue, 27, "m", WARM);
    wp_queue_destroy (&queue);
}

//  What the expiry callback saw.
typedef struct {
    wp_queue_t *queue;          // queue, to complete from the callback
    bool complete;              // complete each reported task
    int stop_after;             // return non-zero after this many (0 = never)
    int count;                  // tasks reported
    char models [8][16];        // their models, in order
} s_expired_t;

static int
s_on_expired (const wp_queue_task_t *task, void *arg)
{
    s_expired_t *seen = (s_expired_t *) arg;
    assert_true (seen->count < 8);
    snprintf (seen->models [seen->count], 16, "%s", task->model);
    seen->count++;
    if (seen->complete) {
        wp_queue_task_t *done = wp_queue_complete (seen->queue, task->model, 0);
        assert_non_null (done);
        wp_queue_task_destroy (&done);
    }
    return seen->stop_after && seen->count >= seen->stop_after;
}

//  Running tasks expire when started_ms + timeout_ms <= now_ms.
static void
test_expired (void **state)
{
    wp_queue_t *queue = wp_queue_new (8, 4, 1000);
    assert_non_null (queue);
    assert_int_equal (s_push (queue, "a", WARM, 2, 0, "", 1, 0, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "b", WARM, 2, 0, "", 2, 0, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "c", WARM, 2, 0, "", 3, 0, NULL), WP_QUEUE_ADDED);
    s_expect_next (queue, 100, "a", WARM);
    s_expect_next (queue, 300, "b", WARM);
    s_expect_next (queue, 5000, "c", WARM);

    s_expired_t seen = { .queue = queue };
    assert_int_equal (wp_queue_expired (queue, 1099, s_on_expired, &seen), 0);
    assert_int_equal (seen.count, 0);
    //  Exactly at the boundary
    assert_int_equal (wp_queue_expired (queue, 1100, s_on_expired, &seen), 1);
    assert_int_equal (seen.count, 1);
    assert_string_equal (seen.models [0], "a");
    //  Reported again while it runs, oldest start first
    seen.count = 0;
    assert_int_equal (wp_queue_expired (queue, 1300, s_on_expired, &seen), 2);
    assert_string_equal (seen.models [0], "a");
    assert_string_equal (seen.models [1], "b");
    //  The callback may stop the scan
    seen = (s_expired_t) { .queue = queue, .stop_after = 1 };
    assert_int_equal (wp_queue_expired (queue, 1300, s_on_expired, &seen), 1);
    //  The callback may complete each task it is given
    seen = (s_expired_t) { .queue = queue, .complete = true };
    assert_int_equal (wp_queue_expired (queue, 1300, s_on_expired, &seen), 2);
    assert_string_equal (seen.models [0], "a");
    assert_string_equal (seen.models [1], "b");
    assert_int_equal (wp_queue_running (queue), 1);
    assert_non_null (wp_queue_running_task (queue, "c"));
    //  A clock that went backwards expires nothing
    assert_int_equal (wp_queue_expired (queue, 4000, s_on_expired, &seen), 0);
    assert_int_equal (wp_queue_expired (queue, 5999, s_on_expired, &seen), 0);
    assert_int_equal (wp_queue_expired (queue, 6000, s_on_expired, &seen), 1);
    wp_queue_destroy (&queue);

    //  timeout 0: nothing ever expires
    queue = wp_queue_new (8, 4, 0);
    assert_int_equal (s_push (queue, "a", WARM, 2, 0, "", 1, 0, NULL), WP_QUEUE_ADDED);
    s_expect_next (queue, 0, "a", WARM);
    seen = (s_expired_t) { .queue = queue };
    assert_int_equal (wp_queue_expired (queue, UINT64_MAX, s_on_expired, &seen), 0);
    wp_queue_destroy (&queue);

    //  A huge timeout does not overflow
    queue = wp_queue_new (8, 4, UINT64_MAX - 10);
    assert_int_equal (s_push (queue, "a", WARM, 2, 0, "", 1, 0, NULL), WP_QUEUE_ADDED);
    s_expect_next (queue, 100, "a", WARM);
    assert_int_equal (wp_queue_expired (queue, UINT64_MAX - 1, s_on_expired, &seen), 0);
    assert_int_equal (wp_queue_expired (queue, UINT64_MAX, s_on_expired, &seen), 0);
    wp_queue_destroy (&queue);
}

//  Collect pending models in iteration order.
typedef struct {
    int stop_after;             // return non-zero after this many (0 = never)
    int count;                  // tasks seen
    char models [8][16];        // their models, in order
} s_seen_t;

static int
s_on_pending (const wp_queue_task_t *task, void *arg)
{
    s_seen_t *seen = (s_seen_t *) arg;
    assert_true (seen->count < 8);
    snprintf (seen->models [seen->count], 16, "%s", task->model);
    seen->count++;
    return seen->stop_after && seen->count >= seen->stop_after ? 7 : 0;
}

//  Pending tasks iterate oldest first, whatever their priority.
static void
test_iterate (void **state)
{
    wp_queue_t *queue = wp_queue_new (8, 1, 0);
    assert_non_null (queue);
    s_seen_t seen = { 0 };
    assert_int_equal (wp_queue_iterate (queue, s_on_pending, &seen), 0);
    assert_int_equal (seen.count, 0);
    assert_int_equal (s_push (queue, "a", WARM, 1, 0, "", 1, 0, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "b", WARM, 3, 0, "", 2, 0, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "c", WARM, 2, 0, "", 3, 0, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "d", WARM, 2, 0, "", 4, 0, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "a", WARM, 3, 0, "", 5, 0, NULL), WP_QUEUE_MERGED);
    assert_int_equal (s_push (queue, "c", COOL, 2, 0, "", 6, 0, NULL), WP_QUEUE_REPLACED);
    s_expect_next (queue, 1, "a", WARM);
    //  Pending now: b, d, c (replaced, so newest)
    assert_int_equal (wp_queue_iterate (queue, s_on_pending, &seen), 0);
    assert_int_equal (seen.count, 3);
    assert_string_equal (seen.models [0], "b");
    assert_string_equal (seen.models [1], "d");
    assert_string_equal (seen.models [2], "c");
    seen = (s_seen_t) { .stop_after = 2 };
    assert_int_equal (wp_queue_iterate (queue, s_on_pending, &seen), 7);
    assert_int_equal (seen.count, 2);
    wp_queue_destroy (&queue);
}

//  ---------------------------------------------------------------------------
//  Random operations checked against a naive model of the same rules: an
//  independent check of the heaps, the FIFO list and the hashes.

#define R_MODELS  24
#define R_MAXSIZE 10
#define R_RUNNING 3

//  A task in the naive model.
typedef struct {
    bool used;                  // slot in use
    int model;                  // model number
    int action;                 // WARM or COOL
    int priority;               // 1..3
    uint64_t deadline;          // 0 = none
    uint64_t seq;               // push order
    uint64_t cookie;            // cookie
} r_task_t;

//  The naive model: linear scans over small arrays.
typedef struct {
    r_task_t pending [R_MAXSIZE];   // pending tasks
    r_task_t running [R_RUNNING];   // running tasks
    uint64_t seq;                   // last seq given
} r_queue_t;

static r_task_t *
r_find (r_task_t *tasks, int size, int model)
{
    for (int index = 0; index < size; index++)
        if (tasks [index].used && tasks [index].model == model)
            return &tasks [index];
    return NULL;
}

static int
r_count (r_task_t *tasks, int size)
{
    int count = 0;
    for (int index = 0; index < size; index++)
        count += tasks [index].used;
    return count;
}

//  The naive push; sets *gone to the task that left (copied) or clears it.
static wp_queue_result_t
r_push (r_queue_t *r, r_task_t task, r_task_t *gone)
{
    gone->used = false;
    if (task.priority == 0)
        task.priority = 2;
    r_task_t *running = r_find (r->running, R_RUNNING, task.model);
    r_task_t *pending = r_find (r->pending, R_MAXSIZE, task.model);
    if (running && running->action == task.action) {
        if (pending) {
            *gone = *pending;
            pending->used = false;
        }
        return WP_QUEUE_RUNNING_DUP;
    }
    if (pending && pending->action == task.action) {
        if (task.priority > pending->priority)
            pending->priority = task.priority;
        if (task.deadline && (!pending->deadline || task.deadline < pending->deadline))
            pending->deadline = task.deadline;
        return WP_QUEUE_MERGED;
    }
    task.used = true;
    task.seq = ++r->seq;
    if (pending) {
        *gone = *pending;
        *pending = task;
        return WP_QUEUE_REPLACED;
    }
    if (r_count (r->pending, R_MAXSIZE) == R_MAXSIZE) {
        r_task_t *victim = NULL;
        for (int index = 0; index < R_MAXSIZE; index++) {
            r_task_t *t = &r->pending [index];
            if (!victim || t->priority < victim->priority
            || (t->priority == victim->priority && t->seq > victim->seq))
                victim = t;
        }
        if (task.priority <= victim->priority)
            return WP_QUEUE_DROPPED_FULL;
        *gone = *victim;
        *victim = task;
        return WP_QUEUE_EVICTED;
    }
    for (int index = 0; index < R_MAXSIZE; index++)
        if (!r->pending [index].used) {
            r->pending [index] = task;
            break;
        }
    return WP_QUEUE_ADDED;
}

//  The naive next: a full scan for the best startable task.
static r_task_t *
r_next (r_queue_t *r)
{
    if (r_count (r->running, R_RUNNING) == R_RUNNING)
        return NULL;
    r_task_t *best = NULL;
    for (int index = 0; index < R_MAXSIZE; index++) {
        r_task_t *t = &r->pending [index];
        if (!t->used || r_find (r->running, R_RUNNING, t->model))
            continue;
        uint64_t t_dl = t->deadline ? t->deadline : UINT64_MAX;
        uint64_t b_dl = best ? (best->deadline ? best->deadline : UINT64_MAX) : 0;
        if (!best || t->priority > best->priority
        || (t->priority == best->priority && t_dl < b_dl)
        || (t->priority == best->priority && t_dl == b_dl && t->seq < best->seq))
            best = t;
    }
    if (!best)
        return NULL;
    r_task_t *slot = NULL;
    for (int index = 0; index < R_RUNNING && !slot; index++)
        if (!r->running [index].used)
            slot = &r->running [index];
    *slot = *best;
    best->used = false;
    return slot;
}

static void
test_random (void **state)
{
    wp_queue_t *queue = wp_queue_new (R_MAXSIZE, R_RUNNING, 0);
    assert_non_null (queue);
    r_queue_t r = { 0 };
    srand (12345);
    char name [16];
    int results [WP_QUEUE_RUNNING_DUP + 1] = { 0 };
    for (int step = 0; step < 50000; step++) {
        int op = rand () % 10;
        if (op < 6) {
            r_task_t task = {
                .model = rand () % R_MODELS, .action = 1 + rand () % 2,
                .priority = rand () % 4,
                .deadline = rand () % 3 ? 0 : 1 + (uint64_t) (rand () % 50),
                .cookie = (uint64_t) step
            };
            snprintf (name, sizeof (name), "m%d", task.model);
            r_task_t expect_gone;
            wp_queue_result_t expect = r_push (&r, task, &expect_gone);
            wp_queue_task_t *gone = NULL;
            wp_queue_result_t result = s_push (queue, name, task.action,
                task.priority, task.deadline, "", task.cookie, step, &gone);
            assert_int_equal (result, expect);
            results [result]++;
            if (expect_gone.used) {
                assert_non_null (gone);
                assert_int_equal (gone->cookie, expect_gone.cookie);
                wp_queue_task_destroy (&gone);
            }
            else
                assert_null (gone);
        }
        else
        if (op < 8) {
            r_task_t *expect = r_next (&r);
            const wp_queue_task_t *task = wp_queue_next (queue, step);
            if (expect) {
                assert_non_null (task);
                assert_int_equal (task->cookie, expect->cookie);
                snprintf (name, sizeof (name), "m%d", expect->model);
                assert_string_equal (task->model, name);
                assert_int_equal (task->priority, expect->priority);
                assert_int_equal (task->deadline_ms, expect->deadline);
            }
            else
                assert_null (task);
        }
        else {
            int index = rand () % R_RUNNING;
            if (r.running [index].used) {
                snprintf (name, sizeof (name), "m%d", r.running [index].model);
                wp_queue_task_t *done = wp_queue_complete (queue, name, step);
                assert_non_null (done);
                assert_int_equal (done->cookie, r.running [index].cookie);
                wp_queue_task_destroy (&done);
                r.running [index].used = false;
            }
        }
        assert_int_equal (wp_queue_pending (queue), r_count (r.pending, R_MAXSIZE));
        assert_int_equal (wp_queue_running (queue), r_count (r.running, R_RUNNING));
    }
    //  Every kind of push happened often enough to mean something
    for (int result = WP_QUEUE_ADDED; result <= WP_QUEUE_RUNNING_DUP; result++)
        assert_true (results [result] > 500);
    wp_queue_destroy (&queue);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_new_destroy),
        cmocka_unit_test (test_invalid_and_copy),
        cmocka_unit_test (test_order),
        cmocka_unit_test (test_merge),
        cmocka_unit_test (test_replace),
        cmocka_unit_test (test_full),
        cmocka_unit_test (test_concurrency),
        cmocka_unit_test (test_one_per_model),
        cmocka_unit_test (test_expired),
        cmocka_unit_test (test_iterate),
        cmocka_unit_test (test_random),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
