/*  =========================================================================
    wp_backend_openai - an HTTP model server driven by configured requests:
    llama-swap, vLLM's sleep mode, Triton's model repository, and any
    server with a load and an unload call (see docs/backends.md).

      warm    load_method url+load_path [load_body]; then, if status_path
              is set, the status request every poll_ms until it says loaded
      cool    unload_method url+unload_path [unload_body]; without an
              unload_path a cool only marks the model cold
      status  status_method url+status_path: loaded when the reply is 2xx
              and (if status_loaded is set) contains that text

    In paths %m is the model's server name, URL-encoded; in bodies and in
    status_loaded it is JSON-string-escaped. A 2xx reply is success; the
    error of any other carries the server's message. Memory is the
    configured memory_mb (memory_source "config").
    =========================================================================
*/
#include "wp_backend.h"

static void s_poll (wp_job_t *job);

//  Does a status reply say loaded?
static bool
s_says_loaded (wp_job_t *job, const wp_curl_reply_t *reply)
{
    const char *pattern = wp_job_model (job)->status_loaded;
    if (*reply->error)
        return false;
    if (!pattern)
        return true;
    char expected [600];
    if (wp_curl_expand (pattern, wp_job_server_name (job), false, expected, sizeof expected))
        return false;
    return strstr (reply->body, expected) != NULL;
}

//  A status reply.
static void
s_on_status (wp_job_t *job, const wp_curl_reply_t *reply)
{
    wp_job_result_t result = { 0 };
    bool loaded = s_says_loaded (job, reply);
    if (wp_job_op (job) == WP_JOB_STATUS) {
        //  Only a transport failure or a 5xx is an error: a 4xx is how
        //  some servers (Triton) say "not ready"
        if (reply->transport_error || reply->status >= 500) {
            wp_job_fail_reply (job, "status", reply);
            return;
        }
        result.ok = true;
        result.loaded = loaded;
        wp_job_finish (job, &result);
        return;
    }
    //  Waiting for a warm to show
    if (loaded) {
        result.ok = result.loaded = true;
        wp_job_finish (job, &result);
        return;
    }
    uint32_t left = wp_job_left_ms (job);
    if (left == 0) {
        result.timed_out = result.retryable = true;
        snprintf (result.error, sizeof result.error,
                  "timed out after %u ms waiting for the status to say loaded%s%s",
                  wp_job_timeout_ms (job), *reply->error ? " (last: " : "",
                  *reply->error ? reply->error : "");
        if (*reply->error)
            strncat (result.error, ")", sizeof result.error - strlen (result.error) - 1);
        wp_job_finish (job, &result);
        return;
    }
    uint32_t delay = wp_job_model (job)->poll_ms;
    wp_job_timer (job, delay < left ? delay : left, s_poll);
}

//  Send the status request, unless the time is up.
static void
s_poll (wp_job_t *job)
{
    const wp_model_config_t *model = wp_job_model (job);
    if (wp_job_left_ms (job) == 0) {
        wp_job_result_t result = { .timed_out = true, .retryable = true };
        snprintf (result.error, sizeof result.error,
                  "timed out after %u ms waiting for the status to say loaded",
                  wp_job_timeout_ms (job));
        wp_job_finish (job, &result);
        return;
    }
    char path [1200];
    if (wp_curl_expand (model->status_path, wp_job_server_name (job), true, path, sizeof path)) {
        wp_job_fail (job, false, "status_path too long for model '%s'", wp_job_name (job));
        return;
    }
    wp_job_request (job, model->status_method ? model->status_method : "GET", path, NULL,
                    s_on_status);
}

//  The load or unload reply.
static void
s_on_command (wp_job_t *job, const wp_curl_reply_t *reply)
{
    bool warm = wp_job_op (job) == WP_JOB_WARM;
    if (*reply->error) {
        wp_job_fail_reply (job, warm ? "load" : "unload", reply);
        return;
    }
    if (warm && wp_job_model (job)->status_path) {
        s_poll (job);
        return;
    }
    wp_job_result_t result = { .ok = true, .loaded = warm };
    wp_job_finish (job, &result);
}

//  Nothing to send: succeed.
static void
s_nothing (wp_job_t *job)
{
    wp_job_result_t result = { .ok = true };
    wp_job_finish (job, &result);
}

//  Start.
static int
s_start (wp_job_t *job)
{
    const wp_model_config_t *model = wp_job_model (job);
    const char *name = wp_job_server_name (job);
    if (wp_job_op (job) == WP_JOB_STATUS) {
        if (!model->status_path) {
            wp_job_fail (job, false, "no status_path configured");
            return -1;
        }
        s_poll (job);
        return wp_job_ended (job) ? -1 : 0;
    }
    bool warm = wp_job_op (job) == WP_JOB_WARM;
    const char *path_pattern = warm ? model->load_path : model->unload_path;
    const char *body_pattern = warm ? model->load_body : model->unload_body;
    const char *method = warm ? model->load_method : model->unload_method;
    if (!path_pattern)
        return wp_job_timer (job, 0, s_nothing);
    char path [1200], body [4096];
    if (wp_curl_expand (path_pattern, name, true, path, sizeof path)
        || (body_pattern && wp_curl_expand (body_pattern, name, false, body, sizeof body))) {
        wp_job_fail (job, false, "request too long for model '%s'", wp_job_name (job));
        return -1;
    }
    return wp_job_request (job, method ? method : "POST", path,
                           body_pattern ? body : NULL, s_on_command);
}

const wp_backend_t wp_backend_openai = {
    .name = "openai-compatible",
    .start = s_start,
    .stop = NULL,
};
