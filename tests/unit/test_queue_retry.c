/*  =========================================================================
    test_queue_retry - what the queue core gained for real backends:
    starting through a filter (concurrency limits, admission), retries
    with exponential backoff and a cap, per-task timeouts, a retry that a
    newer request supersedes or a full queue refuses.
    =========================================================================
*/
#include "testutil.h"
#include "wp_queue.h"
#include <stdio.h>
#include <string.h>

#define WARM WP_QUEUE_WARM
#define COOL WP_QUEUE_COOL

//  Push a task.
static wp_queue_result_t
s_push (wp_queue_t *queue, const char *model, int action, int priority, uint64_t cookie,
        uint64_t now_ms)
{
    wp_queue_task_t task = { .model = (char *) model, .action = action,
                             .priority = priority, .cookie = cookie };
    return wp_queue_push (queue, &task, now_ms, NULL);
}

//  A filter that refuses the models named in a NULL-ended list.
static bool
s_refuse (const wp_queue_task_t *task, void *arg)
{
    for (const char **name = (const char **) arg; *name; name++)
        if (strcmp (*name, task->model) == 0)
            return false;
    return true;
}

//  The filter skips refused tasks and starts the best admitted one; the
//  refused ones start as soon as the filter admits them.
static void
test_next_if (void **state)
{
    wp_queue_t *queue = wp_queue_new (16, 16, 0);
    assert_int_equal (s_push (queue, "high", WARM, 3, 1, 0), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "normal", WARM, 2, 2, 1), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "low", COOL, 1, 3, 2), WP_QUEUE_ADDED);
    const char *busy [] = { "high", "normal", NULL };
    const wp_queue_task_t *task = wp_queue_next_if (queue, 10, s_refuse, busy);
    assert_non_null (task);
    assert_string_equal (task->model, "low");
    assert_int_equal (task->attempts, 1);
    assert_null (wp_queue_next_if (queue, 10, s_refuse, busy));
    const char *none [] = { NULL };
    task = wp_queue_next_if (queue, 11, s_refuse, none);
    assert_string_equal (task->model, "high");
    task = wp_queue_next_if (queue, 12, s_refuse, none);
    assert_string_equal (task->model, "normal");
    wp_queue_destroy (&queue);
}

//  The filter looks at WP_QUEUE_SCAN_MAX candidates at most, best first.
static void
test_next_if_bounded (void **state)
{
    size_t count = WP_QUEUE_SCAN_MAX + 10;
    wp_queue_t *queue = wp_queue_new (count, 4, 0);
    const char *refused [WP_QUEUE_SCAN_MAX + 1];
    char names [WP_QUEUE_SCAN_MAX + 10][16];
    for (size_t i = 0; i < count; i++) {
        snprintf (names [i], sizeof names [i], "m%03zu", i);
        //  The first SCAN_MAX are high priority and refused
        assert_int_equal (s_push (queue, names [i], WARM, i < WP_QUEUE_SCAN_MAX ? 3 : 1,
                                  i, i), WP_QUEUE_ADDED);
        if (i < WP_QUEUE_SCAN_MAX)
            refused [i] = names [i];
    }
    refused [WP_QUEUE_SCAN_MAX] = NULL;
    assert_null (wp_queue_next_if (queue, 1000, s_refuse, refused));
    //  With one fewer refused, the one admitted among them starts
    refused [WP_QUEUE_SCAN_MAX - 1] = NULL;
    const wp_queue_task_t *task = wp_queue_next_if (queue, 1000, s_refuse, refused);
    assert_non_null (task);
    assert_string_equal (task->model, names [WP_QUEUE_SCAN_MAX - 1]);
    wp_queue_destroy (&queue);
}

//  Backoff doubles from the base and stops at the cap, without overflow.
static void
test_backoff (void **state)
{
    assert_int_equal (wp_queue_backoff_ms (0, 100, 1000), 0);
    assert_int_equal (wp_queue_backoff_ms (1, 100, 1000), 100);
    assert_int_equal (wp_queue_backoff_ms (2, 100, 1000), 200);
    assert_int_equal (wp_queue_backoff_ms (4, 100, 1000), 800);
    assert_int_equal (wp_queue_backoff_ms (5, 100, 1000), 1000);
    assert_int_equal (wp_queue_backoff_ms (4000000000u, 100, 1000), 1000);
    assert_int_equal (wp_queue_backoff_ms (200, UINT64_MAX / 3, UINT64_MAX), UINT64_MAX);
    assert_int_equal (wp_queue_backoff_ms (3, 0, 1000), 0);
}

//  A failed task goes back pending, waits its backoff, starts again with
//  its attempts counted, cookie and enqueue time kept.
static void
test_retry (void **state)
{
    wp_queue_t *queue = wp_queue_new (4, 4, 0);
    wp_queue_task_t *out = NULL;
    assert_int_equal (wp_queue_retry (queue, "none", 0, 0, &out), WP_QUEUE_INVALID);
    assert_int_equal (s_push (queue, "m", WARM, 2, 42, 5), WP_QUEUE_ADDED);
    const wp_queue_task_t *task = wp_queue_next (queue, 10);
    assert_int_equal (task->attempts, 1);
    assert_int_equal (wp_queue_retry (queue, "m", 20, 120, &out), WP_QUEUE_ADDED);
    assert_null (out);
    assert_int_equal (wp_queue_running (queue), 0);
    assert_int_equal (wp_queue_pending (queue), 1);
    //  Not before its time
    assert_null (wp_queue_next (queue, 119));
    task = wp_queue_next (queue, 120);
    assert_non_null (task);
    assert_int_equal (task->attempts, 2);
    assert_int_equal (task->cookie, 42);
    assert_int_equal (task->enqueued_ms, 5);
    wp_queue_task_t *done = wp_queue_complete (queue, "m", 130);
    assert_int_equal (done->attempts, 2);
    wp_queue_task_destroy (&done);

    //  A task waiting for its retry does not hold up others
    assert_int_equal (s_push (queue, "a", WARM, 3, 1, 200), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "b", WARM, 1, 2, 201), WP_QUEUE_ADDED);
    wp_queue_next (queue, 210);
    assert_int_equal (wp_queue_retry (queue, "a", 220, 10000, &out), WP_QUEUE_ADDED);
    task = wp_queue_next (queue, 230);
    assert_string_equal (task->model, "b");
    //  A new request for it merges into the waiting retry
    assert_int_equal (s_push (queue, "a", WARM, 2, 3, 240), WP_QUEUE_MERGED);
    assert_null (wp_queue_next (queue, 250));
    wp_queue_destroy (&queue);
}

//  A retry gives way to a newer request of the same model, and to a full
//  queue unless it outranks the lowest pending task.
static void
test_retry_refused (void **state)
{
    wp_queue_t *queue = wp_queue_new (1, 2, 0);
    wp_queue_task_t *out = NULL;
    assert_int_equal (s_push (queue, "m", WARM, 2, 1, 0), WP_QUEUE_ADDED);
    wp_queue_next (queue, 1);
    //  A cool came while the warm ran: the failed warm is not retried
    assert_int_equal (s_push (queue, "m", COOL, 2, 2, 2), WP_QUEUE_ADDED);
    assert_int_equal (wp_queue_retry (queue, "m", 3, 100, &out), WP_QUEUE_SUPERSEDED);
    assert_non_null (out);
    assert_int_equal (out->cookie, 1);
    wp_queue_task_destroy (&out);
    const wp_queue_task_t *task = wp_queue_next (queue, 4);
    assert_int_equal (task->action, COOL);
    wp_queue_task_t *done = wp_queue_complete (queue, "m", 5);
    wp_queue_task_destroy (&done);

    //  Full of a task of higher priority: the retry is dropped
    assert_int_equal (s_push (queue, "x", WARM, 1, 3, 10), WP_QUEUE_ADDED);
    wp_queue_next (queue, 11);
    assert_int_equal (s_push (queue, "y", WARM, 3, 4, 12), WP_QUEUE_ADDED);
    assert_int_equal (wp_queue_retry (queue, "x", 13, 100, &out), WP_QUEUE_DROPPED_FULL);
    assert_int_equal (out->cookie, 3);
    wp_queue_task_destroy (&out);
    assert_int_equal (wp_queue_dropped (queue), 1);
    //  Full of a task of lower priority: the retry evicts it
    wp_queue_next (queue, 14);          //  y runs
    assert_int_equal (s_push (queue, "z", WARM, 1, 5, 15), WP_QUEUE_ADDED);
    assert_int_equal (wp_queue_retry (queue, "y", 16, 100, &out), WP_QUEUE_EVICTED);
    assert_int_equal (out->cookie, 5);
    wp_queue_task_destroy (&out);
    assert_int_equal (wp_queue_evicted (queue), 1);
    assert_string_equal (wp_queue_result_str (WP_QUEUE_SUPERSEDED), "superseded");
    wp_queue_destroy (&queue);
}

//  Count expired tasks.
static int
s_count (const wp_queue_task_t *task, void *arg)
{
    (*(int *) arg)++;
    return 0;
}

//  A task's own timeout wins over the queue's; with neither, none.
static void
test_task_timeout (void **state)
{
    wp_queue_t *queue = wp_queue_new (4, 4, 1000);
    wp_queue_task_t task = { .model = "short", .action = WARM, .timeout_ms = 100 };
    assert_int_equal (wp_queue_push (queue, &task, 0, NULL), WP_QUEUE_ADDED);
    assert_int_equal (s_push (queue, "default", WARM, 2, 2, 0), WP_QUEUE_ADDED);
    wp_queue_next (queue, 0);
    wp_queue_next (queue, 0);
    int expired = 0;
    assert_int_equal (wp_queue_expired (queue, 99, s_count, &expired), 0);
    assert_int_equal (wp_queue_expired (queue, 100, s_count, &expired), 1);
    assert_int_equal (wp_queue_expired (queue, 1000, s_count, &expired), 2);
    wp_queue_destroy (&queue);

    queue = wp_queue_new (4, 4, 0);
    assert_int_equal (s_push (queue, "never", WARM, 2, 1, 0), WP_QUEUE_ADDED);
    wp_queue_next (queue, 0);
    assert_int_equal (wp_queue_expired (queue, UINT64_MAX, s_count, &expired), 0);
    wp_queue_destroy (&queue);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_next_if),
        cmocka_unit_test (test_next_if_bounded),
        cmocka_unit_test (test_backoff),
        cmocka_unit_test (test_retry),
        cmocka_unit_test (test_retry_refused),
        cmocka_unit_test (test_task_timeout),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
