/*  =========================================================================
    wp_backend_ollama - Ollama.

      warm    POST /api/generate {"model": NAME, "keep_alive": D} with no
              prompt: Ollama loads the model and answers when it is in
              memory. Then GET /api/ps for the memory it holds ("size",
              bytes, of which "size_vram" on GPUs): warmup.done carries
              it (memory_source "server").
      cool    POST /api/generate {"model": NAME, "keep_alive": 0}.
      status  GET /api/ps: loaded when the model is listed (as NAME or,
              for a name without a tag, NAME:latest).

    keep_alive is the model's `keep_alive` key: -1 (the default) keeps
    it until the queue cools it, or a duration such as 30m.
    =========================================================================
*/
#include "wp_backend.h"
#include "wp_jval.h"

//  The model's entry in a GET /api/ps reply, or NULL.
static const wp_jval_t *
s_find_model (const wp_jval_t *reply, const char *name)
{
    const wp_jval_t *models = wp_jval_get (reply, "models");
    char tagged [300];
    snprintf (tagged, sizeof tagged, "%s:latest", name);
    for (size_t i = 0; i < wp_jval_size (models); i++) {
        const wp_jval_t *entry = wp_jval_at (models, i);
        const char *keys [] = { "name", "model", NULL };
        for (int k = 0; keys [k]; k++) {
            const char *listed = wp_jval_str (wp_jval_get (entry, keys [k]));
            if (listed && (streq (listed, name)
                           || (!strchr (name, ':') && streq (listed, tagged))))
                return entry;
        }
    }
    return NULL;
}

//  The GET /api/ps reply.
static void
s_on_ps (wp_job_t *job, const wp_curl_reply_t *reply)
{
    wp_job_result_t result = { 0 };
    bool warm = wp_job_op (job) == WP_JOB_WARM;
    if (*reply->error) {
        if (!warm) {
            wp_job_fail_reply (job, "GET /api/ps", reply);
            return;
        }
        //  The warm itself succeeded: only the memory is unknown
        result.ok = result.loaded = true;
        wp_job_finish (job, &result);
        return;
    }
    wp_jval_t *json = wp_jval_parse (reply->body, reply->body_len);
    if (!json && !warm) {
        wp_job_fail (job, true, "GET /api/ps: the reply is not JSON");
        return;
    }
    const wp_jval_t *entry = s_find_model (json, wp_job_server_name (job));
    result.ok = true;
    result.loaded = entry != NULL || warm;
    double size = wp_jval_num (wp_jval_get (entry, "size"), 0);
    double vram = wp_jval_num (wp_jval_get (entry, "size_vram"), 0);
    if (size > 0 && size < 1e18) {
        result.memory_bytes = (uint64_t) size;
        result.memory_source = "server";
        if (vram > 0)
            result.vram_bytes = vram < size ? (uint64_t) vram : (uint64_t) size;
    }
    wp_jval_destroy (&json);
    wp_job_finish (job, &result);
}

//  The POST /api/generate reply.
static void
s_on_generate (wp_job_t *job, const wp_curl_reply_t *reply)
{
    if (*reply->error) {
        wp_job_fail_reply (job, "POST /api/generate", reply);
        return;
    }
    if (wp_job_op (job) == WP_JOB_WARM)
        wp_job_request (job, "GET", "/api/ps", NULL, s_on_ps);
    else {
        wp_job_result_t result = { .ok = true };
        wp_job_finish (job, &result);
    }
}

//  True when text is an integer (JSON number) rather than a duration.
static bool
s_is_integer (const char *text)
{
    if (*text == '-')
        text++;
    return *text && strspn (text, "0123456789") == strlen (text);
}

//  Start.
static int
s_start (wp_job_t *job)
{
    if (wp_job_op (job) == WP_JOB_STATUS)
        return wp_job_request (job, "GET", "/api/ps", NULL, s_on_ps);
    char name [600], body [800];
    if (wp_curl_expand ("%m", wp_job_server_name (job), false, name, sizeof name)) {
        wp_job_fail (job, false, "model name too long");
        return -1;
    }
    const char *keep = wp_job_model (job)->keep_alive ? wp_job_model (job)->keep_alive : "-1";
    if (wp_job_op (job) == WP_JOB_COOL)
        snprintf (body, sizeof body, "{\"model\":\"%s\",\"keep_alive\":0}", name);
    else
    if (s_is_integer (keep))
        snprintf (body, sizeof body, "{\"model\":\"%s\",\"keep_alive\":%s}", name, keep);
    else
        snprintf (body, sizeof body, "{\"model\":\"%s\",\"keep_alive\":\"%s\"}", name, keep);
    return wp_job_request (job, "POST", "/api/generate", body, s_on_generate);
}

const wp_backend_t wp_backend_ollama = {
    .name = "ollama",
    .start = s_start,
    .stop = NULL,
};
