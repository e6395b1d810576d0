/*  =========================================================================
    wp_queue_actor - binds the WarmupQueue core and its backends to the bus.
    =========================================================================
*/
#include "wp_queue_actor.h"
#include "wp_queue.h"
#include "wp_exec.h"
#include "wp_util.h"

#define KILL_GRACE_MS 2000  //  SIGTERM, then SIGKILL this much later

//  What the queue remembers of an accepted request, by cookie.
typedef struct {
    char *source;           //  cause: the request's publisher
    uint64_t seq;           //  cause: its sequence number
} request_t;

//  A task being run by a backend.
typedef struct _queue_t queue_t;

typedef struct {
    queue_t *queue;             //  the queue that runs it
    char *model;                //  owned copy of the model name
    wp_backend_kind_t backend;  //  which backend runs it
    uint64_t started_ns;        //  monotonic start, for the duration
    int timer_id;               //  sim: the completion timer, else -1
    wp_exec_t *exec;            //  exec: the child, else NULL
    zmq_pollitem_t exit_item;   //  exec: pidfd poller
    zmq_pollitem_t err_item;    //  exec: stderr poller
    bool err_polled;            //  err_item is registered
    bool exit_polled;           //  exit_item is registered (else reaped on ticks)
    uint64_t term_ms;           //  when SIGTERM was sent (0 = not yet)
    bool timed_out;             //  ended by the timeout
    char *error;                //  error decided by the actor (owned)
} run_t;

struct _queue_t {
    wp_ctx_t *ctx;              //  for timers and publishing
    wp_queue_t *core;           //  the queue
    zhashx_t *runs;             //  model -> run_t
    zhashx_t *requests;         //  cookie (as text) -> request_t
    uint64_t next_cookie;       //  cookies handed out
};

static void s_pump (queue_t *self);

//  Free a request record.
static void
s_request_free (request_t **request_p)
{
    if (*request_p) {
        free ((*request_p)->source);
        free (*request_p);
        *request_p = NULL;
    }
}

//  Build the state.
static void *
s_create (wp_ctx_t *ctx)
{
    const wp_config_t *config = wp_ctx_config (ctx);
    queue_t *self = (queue_t *) zmalloc (sizeof (queue_t));
    assert (self);
    self->ctx = ctx;
    self->core = wp_queue_new (config->max_queue_size, config->max_concurrent_warmups,
                               (uint64_t) config->warmup_timeout_seconds * 1000);
    self->runs = zhashx_new ();
    self->requests = zhashx_new ();
    zhashx_set_destructor (self->requests, (zhashx_destructor_fn *) s_request_free);
    if (!self->core) {
        zhashx_destroy (&self->runs);
        zhashx_destroy (&self->requests);
        free (self);
        return NULL;
    }
    return self;
}

//  Stop watching and free a run.
static void
s_run_free (queue_t *self, run_t *run)
{
    zloop_t *loop = wp_ctx_loop (self->ctx);
    if (run->timer_id >= 0)
        zloop_timer_end (loop, run->timer_id);
    if (run->exec) {
        if (run->exit_polled)
            zloop_poller_end (loop, &run->exit_item);
        if (run->err_polled)
            zloop_poller_end (loop, &run->err_item);
        wp_exec_destroy (&run->exec);
    }
    free (run->model);
    free (run->error);
    free (run);
}

//  Destroy the state (running children are killed by wp_exec_destroy).
static void
s_destroy (void **state_p)
{
    queue_t *self = (queue_t *) *state_p;
    for (run_t *run = (run_t *) zhashx_first (self->runs); run;
         run = (run_t *) zhashx_next (self->runs))
        s_run_free (self, run);
    zhashx_destroy (&self->runs);
    zhashx_destroy (&self->requests);
    wp_queue_destroy (&self->core);
    free (self);
    *state_p = NULL;
}

//  Publish warmup.done for a task (ok or not) and forget its request.
static void
s_publish_done (queue_t *self, const wp_queue_task_t *task, const char *backend,
                bool ok, const char *error, uint32_t duration_ms)
{
    char key [32];
    snprintf (key, sizeof key, "%" PRIu64, task->cookie);
    request_t *request = (request_t *) zhashx_lookup (self->requests, key);
    Warmup__V1__WarmupDone out = WARMUP__V1__WARMUP_DONE__INIT;
    Warmup__V1__Header cause = WARMUP__V1__HEADER__INIT;
    out.event_ms = wp_ctx_now_ms (self->ctx);
    out.model = task->model;
    out.action = task->action == WP_QUEUE_COOL ? WARMUP__V1__ACTION__ACTION_COOL
                                               : WARMUP__V1__ACTION__ACTION_WARM;
    out.backend = (char *) backend;
    out.ok = ok;
    out.error = (char *) (error ? error : "");
    out.duration_ms = duration_ms;
    out.memory_mb = ok && task->action == WP_QUEUE_WARM
                  ? wp_config_model_memory_mb (wp_ctx_config (self->ctx), task->model) : 0;
    out.reason = task->reason;
    if (request) {
        cause.source = request->source;
        cause.seq = request->seq;
        out.cause = &cause;
    }
    wp_ctx_publish (self->ctx, WP_TOPIC_WARMUP_DONE, &out.base);
    if (!ok)
        zsys_warning ("queue: %s %s failed: %s",
                      task->action == WP_QUEUE_COOL ? "cool" : "warm", task->model, error);
    zhashx_delete (self->requests, key);
}

//  Finish the running task of a model and publish the outcome. The
//  caller starts what is next (s_pump).
static void
s_finish (queue_t *self, run_t *run, bool ok, const char *error)
{
    uint32_t duration = (uint32_t) ((wp_mono_ns () - run->started_ns) / 1000000);
    wp_queue_task_t *task = wp_queue_complete (self->core, run->model,
                                               wp_ctx_now_ms (self->ctx));
    zhashx_delete (self->runs, run->model);
    if (task) {
        s_publish_done (self, task, wp_backend_name (run->backend), ok, error, duration);
        wp_queue_task_destroy (&task);
    }
    s_run_free (self, run);
}

//  sim: the simulated load is over.
static int
s_sim_done (zloop_t *loop, int timer_id, void *arg)
{
    run_t *run = (run_t *) arg;
    run->timer_id = -1;     //  a one-shot timer ends by itself
    queue_t *self = run->queue;
    s_finish (self, run, true, NULL);
    s_pump (self);
    return 0;
}

//  exec: the child's stderr has data.
static int
s_exec_stderr (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    run_t *run = (run_t *) arg;
    if (wp_exec_drain (run->exec) != 0) {
        zloop_poller_end (loop, &run->err_item);
        run->err_polled = false;
    }
    return 0;
}

//  exec: the child exited.
static int
s_exec_exit (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    run_t *run = (run_t *) arg;
    if (wp_exec_reap (run->exec) == 0)
        return 0;   //  not yet (spurious wake-up)
    bool ok = wp_exec_ok (run->exec) && !run->timed_out;
    char error [600] = "";
    if (run->timed_out)
        snprintf (error, sizeof error, "timed out after %u s (%s)",
                  wp_ctx_config (run->queue->ctx)->warmup_timeout_seconds,
                  wp_exec_error (run->exec));
    else
    if (!ok)
        snprintf (error, sizeof error, "%s", wp_exec_error (run->exec));
    queue_t *self = run->queue;
    s_finish (self, run, ok, error);
    s_pump (self);
    return 0;
}

//  Start one task on its backend.
static void
s_start (queue_t *self, const wp_queue_task_t *task)
{
    const wp_config_t *config = wp_ctx_config (self->ctx);
    const wp_model_config_t *model = wp_config_model (config, task->model);
    run_t *run = (run_t *) zmalloc (sizeof (run_t));
    assert (run);
    run->queue = self;
    run->model = strdup (task->model);
    assert (run->model);
    run->backend = model ? model->backend : WP_BACKEND_SIM;
    run->started_ns = wp_mono_ns ();
    run->timer_id = -1;
    zhashx_insert (self->runs, run->model, run);
    zloop_t *loop = wp_ctx_loop (self->ctx);

    if (run->backend == WP_BACKEND_SIM) {
        //  A simulated load takes load_ms; a simulated unload is immediate.
        size_t delay = task->action == WP_QUEUE_WARM
                     ? wp_config_model_load_ms (config, task->model) : 0;
        run->timer_id = zloop_timer (loop, delay ? delay : 1, 1, s_sim_done, run);
        return;
    }
    const char *pattern = task->action == WP_QUEUE_WARM ? model->command : model->cool_command;
    if (!pattern) {
        //  exec without a cool command: nothing to run, the model is
        //  left to the server's own unloading.
        run->timer_id = zloop_timer (loop, 1, 1, s_sim_done, run);
        return;
    }
    char *command = wp_exec_command (pattern, task->model);
    const char *error = command ? "cannot start the command (see the log)"
                                : "model name not safe for a command";
    run->exec = command ? wp_exec_new (command) : NULL;
    free (command);
    if (!run->exec) {
        s_finish (self, run, false, error);
        return;
    }
    run->exit_item.fd = wp_exec_fd (run->exec);
    run->exit_item.events = ZMQ_POLLIN;
    run->err_item.fd = wp_exec_stderr_fd (run->exec);
    run->err_item.events = ZMQ_POLLIN;
    //  Without pidfd_open (old kernels, valgrind) exits are reaped on ticks.
    if (run->exit_item.fd >= 0) {
        zloop_poller (loop, &run->exit_item, s_exec_exit, run);
        run->exit_polled = true;
    }
    zloop_poller (loop, &run->err_item, s_exec_stderr, run);
    run->err_polled = true;
}

//  Start what may start.
static void
s_pump (queue_t *self)
{
    const wp_queue_task_t *task;
    while ((task = wp_queue_next (self->core, wp_ctx_now_ms (self->ctx))))
        s_start (self, task);
}

//  Report a task that left the queue without running.
static void
s_displaced (queue_t *self, wp_queue_task_t **task_p, const char *why)
{
    if (*task_p) {
        s_publish_done (self, *task_p, "queue", false, why, 0);
        wp_queue_task_destroy (task_p);
    }
}

//  A warmup request.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    queue_t *self = (queue_t *) state;
    const Warmup__V1__WarmupRequested *in = (const Warmup__V1__WarmupRequested *) msg;
    if (!in->model || !wp_exec_model_valid (in->model)
        || (in->action != WARMUP__V1__ACTION__ACTION_WARM
            && in->action != WARMUP__V1__ACTION__ACTION_COOL)) {
        wp_ctx_count_rejected (ctx);
        zsys_warning ("queue: request with a bad model name or action dropped");
        return -1;
    }
    wp_queue_task_t task = { 0 };
    task.model = in->model;
    task.action = in->action == WARMUP__V1__ACTION__ACTION_COOL ? WP_QUEUE_COOL : WP_QUEUE_WARM;
    task.priority = in->priority >= 1 && in->priority <= 3 ? (int) in->priority : 2;
    task.deadline_ms = in->deadline_ms;
    task.reason = in->reason;
    task.cookie = ++self->next_cookie;
    char key [32];
    snprintf (key, sizeof key, "%" PRIu64, task.cookie);
    request_t *request = (request_t *) zmalloc (sizeof (request_t));
    assert (request);
    request->source = strdup (in->header->source);
    request->seq = in->header->seq;
    zhashx_insert (self->requests, key, request);

    wp_queue_task_t *displaced = NULL;
    wp_queue_result_t result = wp_queue_push (self->core, &task, wp_ctx_now_ms (ctx),
                                              &displaced);
    switch (result) {
        case WP_QUEUE_ADDED:
            break;
        case WP_QUEUE_MERGED:
            zhashx_delete (self->requests, key);   //  the pending task answers
            break;
        case WP_QUEUE_REPLACED:
            s_displaced (self, &displaced, "cancelled by a later request");
            break;
        case WP_QUEUE_EVICTED:
            s_displaced (self, &displaced, "dropped: queue full of higher priority tasks");
            break;
        case WP_QUEUE_RUNNING_DUP:
            s_displaced (self, &displaced, "cancelled by a later request");
            zhashx_delete (self->requests, key);   //  the running task answers
            break;
        case WP_QUEUE_DROPPED_FULL:
        case WP_QUEUE_INVALID:
        case WP_QUEUE_ERROR:
        default:
            s_publish_done (self, &task, "queue", false,
                            result == WP_QUEUE_DROPPED_FULL ? "dropped: queue full"
                                                            : "rejected by the queue", 0);
            break;
    }
    wp_queue_task_destroy (&displaced);
    s_pump (self);
    return 0;
}

//  Handle one expired task: SIGTERM, then SIGKILL; a sim load just fails.
static int
s_expired (const wp_queue_task_t *task, void *arg)
{
    queue_t *self = (queue_t *) arg;
    run_t *run = (run_t *) zhashx_lookup (self->runs, task->model);
    if (!run)
        return 0;
    uint64_t now = wp_ctx_now_ms (self->ctx);
    run->timed_out = true;
    if (!run->exec) {
        char error [128];
        snprintf (error, sizeof error, "timed out after %u s",
                  wp_ctx_config (self->ctx)->warmup_timeout_seconds);
        s_finish (self, run, false, error);
    }
    else
    if (!run->term_ms) {
        wp_exec_kill (run->exec, SIGTERM);
        run->term_ms = now;
    }
    else
    if (now >= run->term_ms + KILL_GRACE_MS)
        wp_exec_kill (run->exec, SIGKILL);
    return 0;
}

//  Every 100 ms: time out what runs too long.
static int
s_on_tick (void *state, wp_ctx_t *ctx)
{
    queue_t *self = (queue_t *) state;
    //  Reap the children we cannot poll (finishing edits self->runs, so
    //  collect them first).
    run_t *unpolled [64];
    size_t n = 0;
    for (run_t *run = (run_t *) zhashx_first (self->runs); run && n < 64;
         run = (run_t *) zhashx_next (self->runs))
        if (run->exec && !run->exit_polled)
            unpolled [n++] = run;
    for (size_t i = 0; i < n; i++)
        s_exec_exit (wp_ctx_loop (ctx), NULL, unpolled [i]);
    wp_queue_expired (self->core, wp_ctx_now_ms (ctx), s_expired, self);
    s_pump (self);
    return 0;
}

const wp_component_def_t wp_queue_def = {
    .name = "queue",
    .title = "WarmupQueue",
    .topics = { "warmup.requested", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
    .on_tick = s_on_tick,
    .tick_ms = 100,
};
