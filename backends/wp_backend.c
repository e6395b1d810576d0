/*  =========================================================================
    wp_backend - the backend runtime: jobs, their timers and pollers on
    the loop, deferred completion, HTTP helpers shared by the backends.
    =========================================================================
*/
#include "wp_backend.h"
#include <stdarg.h>

//  Most timers and pollers one job holds at once.
#define S_JOB_HOOKS 4

//  Structure of our class
struct _wp_backends_t {
    zloop_t *loop;              //  the actor's loop
    wp_curl_t *http;            //  shared HTTP client
    zlistx_t *jobs;             //  live jobs (wp_job_t *)
    zhashx_t *timers;           //  timer id (text) -> job
    zhashx_t *pollers;          //  fd (text) -> job
};

//  A job
struct _wp_job_t {
    wp_backends_t *owner;       //  the runtime
    void *handle;               //  position in owner->jobs
    const wp_backend_t *backend;//  who does the work
    wp_model_config_t model;    //  the model's section (a copy, owned)
    char *name;                 //  model name, owned
    wp_job_op_t op;             //  what to do
    uint32_t timeout_ms;        //  time it has
    int64_t deadline;           //  monotonic ms when it runs out
    wp_job_fn *fn;              //  completion callback
    void *arg;                  //  its argument
    void *state;                //  the backend's state
    bool ended;                 //  finish or fail was called
    wp_job_result_t result;     //  the result once ended
    int timer_ids [S_JOB_HOOKS];            //  live timers, -1 = free slot
    wp_job_timer_fn *timer_fns [S_JOB_HOOKS];
    int poll_fds [S_JOB_HOOKS];             //  polled fds, -1 = free slot
    wp_job_poll_fn *poll_fns [S_JOB_HOOKS];
    wp_curl_call_t *call;       //  the HTTP request in flight, or NULL
    wp_job_http_fn *call_fn;    //  its handler
};

//  Backends by kind.
static const wp_backend_t *s_backends [WP_BACKEND_COUNT] = {
    [WP_BACKEND_SIM] = &wp_backend_sim,
    [WP_BACKEND_EXEC] = &wp_backend_exec,
    [WP_BACKEND_LLAMA] = &wp_backend_llama,
    [WP_BACKEND_OLLAMA] = &wp_backend_ollama,
    [WP_BACKEND_OPENAI] = &wp_backend_openai,
    [WP_BACKEND_FILE] = &wp_backend_file,
};

//  Create the runtime.
wp_backends_t *
wp_backends_new (zloop_t *loop)
{
    assert (loop);
    wp_backends_t *self = (wp_backends_t *) zmalloc (sizeof (wp_backends_t));
    assert (self);
    self->loop = loop;
    self->http = wp_curl_new (loop);
    self->jobs = zlistx_new ();
    self->timers = zhashx_new ();
    self->pollers = zhashx_new ();
    if (!self->http) {
        wp_backends_destroy (&self);
        return NULL;
    }
    return self;
}

static void s_job_release (wp_job_t *job);
static void s_job_complete (wp_job_t *job);

//  Destroy the runtime.
void
wp_backends_destroy (wp_backends_t **self_p)
{
    assert (self_p);
    wp_backends_t *self = *self_p;
    if (!self)
        return;
    wp_job_t *job;
    while ((job = (wp_job_t *) zlistx_first (self->jobs)))
        wp_backends_cancel (self, &job);
    zlistx_destroy (&self->jobs);
    zhashx_destroy (&self->timers);
    zhashx_destroy (&self->pollers);
    wp_curl_destroy (&self->http);
    free (self);
    *self_p = NULL;
}

//  The backend of a kind.
const wp_backend_t *
wp_backends_get (wp_backend_kind_t kind)
{
    return kind >= 0 && kind < WP_BACKEND_COUNT ? s_backends [kind] : NULL;
}

//  The job's timers are keyed "<id>" in owner->timers.
static void
s_key (char *key, size_t size, int number)
{
    snprintf (key, size, "%d", number);
}

//  A job timer fired: look the job up by timer id.
static int
s_timer_ready (zloop_t *loop, int timer_id, void *arg)
{
    wp_backends_t *self = (wp_backends_t *) arg;
    char key [16];
    s_key (key, sizeof key, timer_id);
    wp_job_t *job = (wp_job_t *) zhashx_lookup (self->timers, key);
    if (!job)
        return 0;           //  ended earlier in this pass
    zhashx_delete (self->timers, key);
    for (int i = 0; i < S_JOB_HOOKS; i++)
        if (job->timer_ids [i] == timer_id) {
            wp_job_timer_fn *fn = job->timer_fns [i];
            job->timer_ids [i] = -1;
            //  Once ended, only the completion runs
            if (!job->ended || fn == s_job_complete)
                fn (job);
            break;
        }
    return 0;
}

//  Call fn (job) once after delay_ms.
int
wp_job_timer (wp_job_t *job, size_t delay_ms, wp_job_timer_fn *fn)
{
    assert (job && fn);
    wp_backends_t *self = job->owner;
    for (int i = 0; i < S_JOB_HOOKS; i++)
        if (job->timer_ids [i] < 0) {
            int id = zloop_timer (self->loop, delay_ms, 1, s_timer_ready, self);
            if (id < 0)
                return -1;
            char key [16];
            s_key (key, sizeof key, id);
            zhashx_insert (self->timers, key, job);
            job->timer_ids [i] = id;
            job->timer_fns [i] = fn;
            return 0;
        }
    zsys_error ("backend: job of %s holds too many timers", job->name);
    return -1;
}

//  A polled fd is readable: look the job up by fd.
static int
s_poll_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    wp_backends_t *self = (wp_backends_t *) arg;
    char key [16];
    s_key (key, sizeof key, item->fd);
    wp_job_t *job = (wp_job_t *) zhashx_lookup (self->pollers, key);
    if (!job || job->ended)
        return 0;
    for (int i = 0; i < S_JOB_HOOKS; i++)
        if (job->poll_fds [i] == item->fd) {
            job->poll_fns [i] (job, item->fd);
            break;
        }
    return 0;
}

//  Call fn (job, fd) whenever fd is readable.
int
wp_job_poll (wp_job_t *job, int fd, wp_job_poll_fn *fn)
{
    assert (job && fn && fd >= 0);
    wp_backends_t *self = job->owner;
    for (int i = 0; i < S_JOB_HOOKS; i++)
        if (job->poll_fds [i] < 0) {
            zmq_pollitem_t item = { NULL, fd, ZMQ_POLLIN, 0 };
            if (zloop_poller (self->loop, &item, s_poll_ready, self))
                return -1;
            zloop_poller_set_tolerant (self->loop, &item);
            char key [16];
            s_key (key, sizeof key, fd);
            zhashx_insert (self->pollers, key, job);
            job->poll_fds [i] = fd;
            job->poll_fns [i] = fn;
            return 0;
        }
    zsys_error ("backend: job of %s polls too many descriptors", job->name);
    return -1;
}

//  Stop polling fd.
void
wp_job_poll_end (wp_job_t *job, int fd)
{
    assert (job);
    for (int i = 0; i < S_JOB_HOOKS; i++)
        if (job->poll_fds [i] == fd) {
            zmq_pollitem_t item = { NULL, fd, 0, 0 };
            zloop_poller_end (job->owner->loop, &item);
            char key [16];
            s_key (key, sizeof key, fd);
            zhashx_delete (job->owner->pollers, key);
            job->poll_fds [i] = -1;
        }
}

//  End every timer, poller and request of a job and let its backend free
//  its state.
static void
s_job_release (wp_job_t *job)
{
    wp_backends_t *self = job->owner;
    if (job->backend && job->backend->stop)
        job->backend->stop (job);
    if (job->call)
        wp_curl_cancel (self->http, &job->call);
    for (int i = 0; i < S_JOB_HOOKS; i++) {
        if (job->timer_ids [i] >= 0) {
            zloop_timer_end (self->loop, job->timer_ids [i]);
            char key [16];
            s_key (key, sizeof key, job->timer_ids [i]);
            zhashx_delete (self->timers, key);
            job->timer_ids [i] = -1;
        }
        if (job->poll_fds [i] >= 0)
            wp_job_poll_end (job, job->poll_fds [i]);
    }
}

//  Free a released job.
static void
s_job_free (wp_job_t *job)
{
    zlistx_delete (job->owner->jobs, job->handle);
    wp_config_model_clear (&job->model);
    free (job->name);
    free (job);
}

//  The deferred completion: release, call back, free.
static void
s_job_complete (wp_job_t *job)
{
    s_job_release (job);
    job->fn (job, &job->result, job->arg);
    s_job_free (job);
}

//  Start a job.
wp_job_t *
wp_backends_start (wp_backends_t *self, const wp_model_config_t *model,
                   const char *name, wp_job_op_t op, uint32_t timeout_ms,
                   wp_job_fn *fn, void *arg)
{
    assert (self && model && name && fn);
    wp_job_t *job = (wp_job_t *) zmalloc (sizeof (wp_job_t));
    assert (job);
    job->owner = self;
    job->backend = wp_backends_get (model->backend);
    //  Its own copy: a reload may free the configuration while it runs.
    wp_config_model_copy (&job->model, model);
    job->name = strdup (name);
    assert (job->name);
    job->op = op;
    job->timeout_ms = timeout_ms ? timeout_ms : 1;
    job->deadline = zclock_mono () + job->timeout_ms;
    job->fn = fn;
    job->arg = arg;
    for (int i = 0; i < S_JOB_HOOKS; i++)
        job->timer_ids [i] = job->poll_fds [i] = -1;
    job->handle = zlistx_add_end (self->jobs, job);
    if (!job->backend)
        wp_job_fail (job, false, "no such backend");
    else
    if (job->backend->start (job) && !job->ended)
        wp_job_fail (job, false, "backend %s could not start", job->backend->name);
    return job;
}

//  Cancel a job.
void
wp_backends_cancel (wp_backends_t *self, wp_job_t **job_p)
{
    assert (self && job_p);
    wp_job_t *job = *job_p;
    if (!job)
        return;
    s_job_release (job);
    s_job_free (job);
    *job_p = NULL;
}

//  Jobs not finished.
size_t
wp_backends_active (wp_backends_t *self)
{
    assert (self);
    return zlistx_size (self->jobs);
}

//  The shared HTTP client.
wp_curl_t *
wp_backends_curl (wp_backends_t *self)
{
    assert (self);
    return self->http;
}

//  Accessors for backends.
const wp_model_config_t *
wp_job_model (wp_job_t *job)
{
    return &job->model;
}

const char *
wp_job_name (wp_job_t *job)
{
    return job->name;
}

wp_job_op_t
wp_job_op (wp_job_t *job)
{
    return job->op;
}

const char *
wp_job_server_name (wp_job_t *job)
{
    return wp_model_server_name (&job->model, job->name);
}

uint32_t
wp_job_timeout_ms (wp_job_t *job)
{
    return job->timeout_ms;
}

uint32_t
wp_job_left_ms (wp_job_t *job)
{
    int64_t left = job->deadline - zclock_mono ();
    return left > 0 ? (uint32_t) left : 0;
}

void *
wp_job_state (wp_job_t *job)
{
    return job->state;
}

void
wp_job_set_state (wp_job_t *job, void *state)
{
    job->state = state;
}

zloop_t *
wp_job_loop (wp_job_t *job)
{
    return job->owner->loop;
}

wp_curl_t *
wp_job_curl (wp_job_t *job)
{
    return job->owner->http;
}

bool
wp_job_ended (wp_job_t *job)
{
    return job->ended;
}

//  End the job with a result; the callback comes from the loop.
void
wp_job_finish (wp_job_t *job, const wp_job_result_t *result)
{
    assert (job && result);
    if (job->ended)
        return;
    job->ended = true;
    job->result = *result;
    job->result.error [sizeof job->result.error - 1] = 0;
    //  The other hooks stay until the completion releases them; a slot
    //  is kept free for this one (s_job_complete ends them all)
    bool placed = false;
    for (int i = 0; i < S_JOB_HOOKS && !placed; i++)
        if (job->timer_ids [i] < 0)
            placed = true;
    if (!placed) {
        zloop_timer_end (job->owner->loop, job->timer_ids [0]);
        char key [16];
        s_key (key, sizeof key, job->timer_ids [0]);
        zhashx_delete (job->owner->timers, key);
        job->timer_ids [0] = -1;
    }
    wp_job_timer (job, 0, s_job_complete);
}

//  End the job as failed.
void
wp_job_fail (wp_job_t *job, bool retryable, const char *format, ...)
{
    wp_job_result_t result = { 0 };
    result.retryable = retryable;
    va_list args;
    va_start (args, format);
    vsnprintf (result.error, sizeof result.error, format, args);
    va_end (args);
    wp_job_finish (job, &result);
}

//  A job's HTTP reply came.
static void
s_request_done (const wp_curl_reply_t *reply, void *arg)
{
    wp_job_t *job = (wp_job_t *) arg;
    job->call = NULL;       //  freed by wp_curl after this returns
    if (!job->ended)
        job->call_fn (job, reply);
}

//  HTTP for a job.
int
wp_job_request (wp_job_t *job, const char *method, const char *path,
                const char *body, wp_job_http_fn *fn)
{
    assert (job && method && path && fn);
    assert (!job->call);
    const char *base = job->model.url ? job->model.url : "";
    size_t base_len = strlen (base);
    while (base_len && base [base_len - 1] == '/')
        base_len--;
    char url [2048];
    if ((size_t) snprintf (url, sizeof url, "%.*s%s", (int) base_len, base, path)
        >= sizeof url) {
        wp_job_fail (job, false, "url too long: %s%s", base, path);
        return -1;
    }
    uint32_t left = wp_job_left_ms (job);
    if (left == 0) {
        wp_job_result_t result = { .retryable = true, .timed_out = true };
        snprintf (result.error, sizeof result.error, "timed out after %u ms before %s %.400s",
                  job->timeout_ms, method, url);
        wp_job_finish (job, &result);
        return -1;
    }
    job->call_fn = fn;
    job->call = wp_curl_request (job->owner->http, method, url, body, job->model.api_key,
                                 left, s_request_done, job);
    if (!job->call) {
        wp_job_fail (job, true, "cannot start %s %s", method, url);
        return -1;
    }
    return 0;
}

//  Fail the job with a failed reply.
void
wp_job_fail_reply (wp_job_t *job, const char *what, const wp_curl_reply_t *reply)
{
    wp_job_result_t result = { 0 };
    result.timed_out = reply->timed_out;
    result.retryable = reply->transport_error || reply->status >= 500
                    || reply->status == 408 || reply->status == 429;
    snprintf (result.error, sizeof result.error, "%s: %s", what, reply->error);
    wp_job_finish (job, &result);
}
