/*  =========================================================================
    wp_backend_sim - the simulated backend: a warm takes the model's
    load_ms and loads nothing; a cool is immediate. Reported as backend
    "sim" everywhere, so a simulated load is never mistaken for a real one.
    A load longer than the timeout times out when the timeout passes, as a
    real one would. It has no status to report.
    =========================================================================
*/
#include "wp_backend.h"

//  The simulated time is over.
static void
s_done (wp_job_t *job)
{
    wp_job_result_t result = { .ok = true };
    wp_job_finish (job, &result);
}

//  The timeout passed before the simulated load would have ended.
static void
s_timed_out (wp_job_t *job)
{
    wp_job_result_t result = { .retryable = true, .timed_out = true };
    snprintf (result.error, sizeof result.error,
              "timed out after %u ms (the simulated load takes %u ms)",
              wp_job_timeout_ms (job), wp_job_model (job)->load_ms);
    wp_job_finish (job, &result);
}

//  Start: wait load_ms for a warm, nothing for a cool.
static int
s_start (wp_job_t *job)
{
    if (wp_job_op (job) == WP_JOB_STATUS) {
        wp_job_fail (job, false, "sim has no status to report");
        return -1;
    }
    uint32_t delay = wp_job_op (job) == WP_JOB_WARM ? wp_job_model (job)->load_ms : 0;
    if (delay >= wp_job_timeout_ms (job))
        return wp_job_timer (job, wp_job_timeout_ms (job), s_timed_out);
    return wp_job_timer (job, delay, s_done);
}

const wp_backend_t wp_backend_sim = {
    .name = "sim",
    .start = s_start,
    .stop = NULL,
};
