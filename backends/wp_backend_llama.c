/*  =========================================================================
    wp_backend_llama - llama.cpp's llama-server in router mode
    (llama-server --models-dir DIR, or --models-preset): one router
    process starts a child server per loaded model.

      warm    POST /models/load {"model": NAME}, then GET /models every
              poll_ms until the model's status.value is "loaded" (a load
              is asynchronous: the router answers before the child is up).
              "already running" is not an error: the model is loading or
              loaded, so it is polled the same way. A child that exits
              while loading (status.failed) fails the warm, not retried.
      cool    POST /models/unload {"model": NAME}, then poll until it is
              no longer loaded or loading. "not running" counts as done.
      status  GET /models: loaded when status.value is "loaded".

    Memory: a loaded model's entry carries the child's model info, whose
    meta.size is the size of its weights: warmup.done carries it with
    memory_source "server-weights" (a lower bound: the KV cache and the
    compute buffers come on top), else the model's configured memory_mb
    ("config"). Either way the ResourceManager measures what the load
    really took (GPU memory, and the children's RSS when the section says
    `watch = llama-server`), which replaces the weights once known.
    =========================================================================
*/
#include "wp_backend.h"
#include "wp_jval.h"

//  The model's entry in a GET /models reply ("data": [{"id": ...}]),
//  matched on id or on one of its aliases.
static const wp_jval_t *
s_find_model (const wp_jval_t *reply, const char *name)
{
    const wp_jval_t *data = wp_jval_get (reply, "data");
    for (size_t i = 0; i < wp_jval_size (data); i++) {
        const wp_jval_t *entry = wp_jval_at (data, i);
        const char *id = wp_jval_str (wp_jval_get (entry, "id"));
        if (id && streq (id, name))
            return entry;
        const wp_jval_t *aliases = wp_jval_get (entry, "aliases");
        for (size_t j = 0; j < wp_jval_size (aliases); j++) {
            const char *alias = wp_jval_str (wp_jval_at (aliases, j));
            if (alias && streq (alias, name))
                return entry;
        }
    }
    return NULL;
}

static void s_poll (wp_job_t *job);

//  The job's state: the status value last seen, for the timeout's error.
typedef struct {
    char last [32];             //  status.value of the model, "" = none yet
} s_state_t;

//  The wait for the status ran out.
static void
s_wait_timed_out (wp_job_t *job)
{
    s_state_t *state = (s_state_t *) wp_job_state (job);
    wp_job_result_t result = { .timed_out = true, .retryable = true };
    snprintf (result.error, sizeof result.error,
              "timed out after %u ms waiting for '%s' to be %s (status: %s)",
              wp_job_timeout_ms (job), wp_job_server_name (job),
              wp_job_op (job) == WP_JOB_WARM ? "loaded" : "unloaded",
              state && *state->last ? state->last : "?");
    wp_job_finish (job, &result);
}

//  A GET /models reply while waiting for a warm or cool to settle.
static void
s_on_models (wp_job_t *job, const wp_curl_reply_t *reply)
{
    if (*reply->error) {
        if (reply->timed_out && wp_job_op (job) != WP_JOB_STATUS)
            s_wait_timed_out (job);
        else
            wp_job_fail_reply (job, "GET /models", reply);
        return;
    }
    wp_jval_t *json = wp_jval_parse (reply->body, reply->body_len);
    const wp_jval_t *entry = s_find_model (json, wp_job_server_name (job));
    const char *value = wp_jval_str (wp_jval_path (entry, "status.value"));
    wp_job_result_t result = { 0 };
    bool settled = false;
    if (!json)
        wp_job_fail (job, true, "GET /models: the reply is not JSON");
    else
    if (!entry)
        wp_job_fail (job, false, "GET /models: the router does not list model '%s'",
                     wp_job_server_name (job));
    else
    if (wp_job_op (job) == WP_JOB_STATUS) {
        result.ok = true;
        result.loaded = value && streq (value, "loaded");
        settled = true;
    }
    else
    if (wp_job_op (job) == WP_JOB_WARM) {
        if (value && streq (value, "loaded")) {
            result.ok = result.loaded = true;
            settled = true;
            //  The child's model info, merged by the router: the weights
            double size = wp_jval_num (wp_jval_path (entry, "meta.size"), 0);
            if (size > 0 && size < 1e18) {
                result.memory_bytes = (uint64_t) size;
                result.memory_source = "server-weights";
            }
        }
        else
        if (wp_jval_true (wp_jval_path (entry, "status.failed")))
            wp_job_fail (job, false, "llama-server failed to load '%s' (exit code %.0f)",
                         wp_job_server_name (job),
                         wp_jval_num (wp_jval_path (entry, "status.exit_code"), -1));
    }
    else
    if (!value || (!streq (value, "loaded") && !streq (value, "loading"))) {
        result.ok = true;
        settled = true;
    }
    s_state_t *state = (s_state_t *) wp_job_state (job);
    if (state)
        snprintf (state->last, sizeof state->last, "%s", value ? value : "");
    if (settled)
        wp_job_finish (job, &result);
    else
    if (!wp_job_ended (job)) {
        uint32_t left = wp_job_left_ms (job);
        uint32_t delay = wp_job_model (job)->poll_ms;
        wp_job_timer (job, delay < left ? delay : left, s_poll);
    }
    wp_jval_destroy (&json);
}

//  Ask the router for its models, unless the time is up.
static void
s_poll (wp_job_t *job)
{
    if (wp_job_left_ms (job) == 0)
        s_wait_timed_out (job);
    else
        wp_job_request (job, "GET", "/models", NULL, s_on_models);
}

//  The reply to POST /models/load or /models/unload.
static void
s_on_command (wp_job_t *job, const wp_curl_reply_t *reply)
{
    bool warm = wp_job_op (job) == WP_JOB_WARM;
    if (*reply->error) {
        char message [400];
        wp_curl_server_message (reply->body, reply->body_len, message, sizeof message);
        //  Already in the state asked for: settle by polling
        bool benign = reply->status == 400
                   && strstr (message, warm ? "already running" : "not running");
        if (!benign) {
            wp_job_fail_reply (job, warm ? "POST /models/load" : "POST /models/unload",
                               reply);
            return;
        }
    }
    s_poll (job);
}

//  Start: a command then polls, or one status request.
static int
s_start (wp_job_t *job)
{
    s_state_t *state = (s_state_t *) zmalloc (sizeof (s_state_t));
    assert (state);
    wp_job_set_state (job, state);
    if (wp_job_op (job) == WP_JOB_STATUS)
        return wp_job_request (job, "GET", "/models", NULL, s_on_models);
    char name [600], body [700];
    if (wp_curl_expand ("%m", wp_job_server_name (job), false, name, sizeof name)) {
        wp_job_fail (job, false, "model name too long");
        return -1;
    }
    snprintf (body, sizeof body, "{\"model\":\"%s\"}", name);
    return wp_job_request (job, "POST",
                           wp_job_op (job) == WP_JOB_WARM ? "/models/load" : "/models/unload",
                           body, s_on_command);
}

//  Free the state.
static void
s_stop (wp_job_t *job)
{
    free (wp_job_state (job));
    wp_job_set_state (job, NULL);
}

const wp_backend_t wp_backend_llama = {
    .name = "llama-server",
    .start = s_start,
    .stop = s_stop,
};
