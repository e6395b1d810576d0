/*  =========================================================================
    wp_backend_exec - the exec backend: runs the model's command (warm) or
    cool_command (cool) through /bin/sh with wp_exec, watching the child's
    pidfd and stderr on the loop. At the timeout the process group gets
    SIGTERM, and SIGKILL 2 s later. A failed command is retryable (the
    backend cannot tell a busy server from a broken one; retries are
    capped). A cool without a cool_command only marks the model cold. It
    has no status to report.
    =========================================================================
*/
#include "wp_backend.h"
#include "wp_exec.h"

//  Time between SIGTERM and SIGKILL, ms.
#define S_KILL_GRACE_MS 2000

//  Exit polling period where pidfd_open is missing, ms.
#define S_REAP_POLL_MS 50

//  The job's state.
typedef struct {
    wp_exec_t *exec;            //  the child
    bool timed_out;             //  SIGTERM was sent at the timeout
    bool err_polled;            //  stderr is polled
} s_state_t;

static void s_reap (wp_job_t *job);

//  The child may have exited: reap and report.
static void
s_check_exit (wp_job_t *job)
{
    s_state_t *state = (s_state_t *) wp_job_state (job);
    int rc = wp_exec_reap (state->exec);
    if (rc == 0)
        return;
    wp_job_result_t result = { 0 };
    if (rc < 0) {
        result.retryable = true;
        snprintf (result.error, sizeof result.error, "cannot reap the command");
    }
    else
    if (state->timed_out) {
        result.retryable = true;
        result.timed_out = true;
        snprintf (result.error, sizeof result.error, "timed out after %u ms (%s)",
                  wp_job_timeout_ms (job), wp_exec_error (state->exec));
    }
    else
    if (wp_exec_ok (state->exec))
        result.ok = true;
    else {
        result.retryable = true;
        snprintf (result.error, sizeof result.error, "%s", wp_exec_error (state->exec));
    }
    wp_job_finish (job, &result);
}

//  The pidfd is readable.
static void
s_on_exit (wp_job_t *job, int fd)
{
    s_check_exit (job);
}

//  No pidfd: look again later.
static void
s_reap (wp_job_t *job)
{
    s_check_exit (job);
    if (!wp_job_ended (job))
        wp_job_timer (job, S_REAP_POLL_MS, s_reap);
}

//  stderr has data.
static void
s_on_stderr (wp_job_t *job, int fd)
{
    s_state_t *state = (s_state_t *) wp_job_state (job);
    if (wp_exec_drain (state->exec) != 0) {
        wp_job_poll_end (job, fd);
        state->err_polled = false;
    }
}

//  SIGKILL if SIGTERM was not enough.
static void
s_kill (wp_job_t *job)
{
    s_state_t *state = (s_state_t *) wp_job_state (job);
    wp_exec_kill (state->exec, SIGKILL);
}

//  The timeout passed: SIGTERM, SIGKILL later.
static void
s_timeout (wp_job_t *job)
{
    s_state_t *state = (s_state_t *) wp_job_state (job);
    state->timed_out = true;
    wp_exec_kill (state->exec, SIGTERM);
    wp_job_timer (job, S_KILL_GRACE_MS, s_kill);
}

//  Nothing to run: succeed at once.
static void
s_nothing (wp_job_t *job)
{
    wp_job_result_t result = { .ok = true };
    wp_job_finish (job, &result);
}

//  Start the command.
static int
s_start (wp_job_t *job)
{
    const wp_model_config_t *model = wp_job_model (job);
    if (wp_job_op (job) == WP_JOB_STATUS) {
        wp_job_fail (job, false, "exec has no status to report");
        return -1;
    }
    const char *pattern = wp_job_op (job) == WP_JOB_WARM ? model->command
                                                         : model->cool_command;
    if (!pattern)       //  no cool_command: the server unloads by itself
        return wp_job_timer (job, 0, s_nothing);
    char *command = wp_exec_command (pattern, wp_job_name (job));
    if (!command) {
        wp_job_fail (job, false, "model name not safe for a command");
        return -1;
    }
    s_state_t *state = (s_state_t *) zmalloc (sizeof (s_state_t));
    assert (state);
    wp_job_set_state (job, state);
    state->exec = wp_exec_new (command);
    free (command);
    if (!state->exec) {
        wp_job_fail (job, true, "cannot start the command (see the log)");
        return -1;
    }
    if (wp_exec_fd (state->exec) >= 0)
        wp_job_poll (job, wp_exec_fd (state->exec), s_on_exit);
    else
        wp_job_timer (job, S_REAP_POLL_MS, s_reap);
    state->err_polled = wp_job_poll (job, wp_exec_stderr_fd (state->exec), s_on_stderr) == 0;
    wp_job_timer (job, wp_job_timeout_ms (job), s_timeout);
    return 0;
}

//  Free the state; a child still running is killed and reaped.
static void
s_stop (wp_job_t *job)
{
    s_state_t *state = (s_state_t *) wp_job_state (job);
    if (state) {
        //  The pollers go before the descriptors close
        if (state->exec) {
            wp_job_poll_end (job, wp_exec_stderr_fd (state->exec));
            if (wp_exec_fd (state->exec) >= 0)
                wp_job_poll_end (job, wp_exec_fd (state->exec));
        }
        wp_exec_destroy (&state->exec);
        free (state);
        wp_job_set_state (job, NULL);
    }
}

const wp_backend_t wp_backend_exec = {
    .name = "exec",
    .start = s_start,
    .stop = s_stop,
};
