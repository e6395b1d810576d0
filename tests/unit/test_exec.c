/*  =========================================================================
    test_exec - the exec backend's process runner: command templates and
    model name checks, exit codes, stderr capture, kills, reaping.
    Waits are poll() on the pidfd or the stderr pipe, with a timeout as a
    bound only; no sleeps.
    =========================================================================
*/
#include "testutil.h"
#include "wp_exec.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

//  Bound on any wait, ms: only reached when something is broken.
#define S_BOUND_MS 10000

//  True if fd becomes readable within timeout_ms.
static bool
s_readable (int fd, int timeout_ms)
{
    struct pollfd item = { .fd = fd, .events = POLLIN };
    int rc;
    while ((rc = poll (&item, 1, timeout_ms)) == -1 && errno == EINTR)
        ;
    assert_true (rc >= 0);
    return rc == 1;
}

//  Wait for the child to exit and reap it: on the pidfd, or where there
//  is none (valgrind 3.19 lacks pidfd_open) by retrying every ms.
static void
s_wait_reap (wp_exec_t *exec)
{
    if (wp_exec_fd (exec) >= 0)
        assert_true (s_readable (wp_exec_fd (exec), S_BOUND_MS));
    else
        for (int waited = 0; wp_exec_reap (exec) == 0; waited++) {
            assert_true (waited < S_BOUND_MS);
            poll (NULL, 0, 1);
        }
    assert_int_equal (wp_exec_reap (exec), 1);
    assert_true (wp_exec_finished (exec));
}

//  Run a command to its end and return the runner.
static wp_exec_t *
s_run (const char *command)
{
    wp_exec_t *exec = wp_exec_new (command);
    assert_non_null (exec);
    s_wait_reap (exec);
    return exec;
}

//  Model names: only plain shell words pass.
static void
test_model_valid (void **state)
{
    const char *good [] = {
        "llama3", "llama3:8b", "meta-llama/Llama-3.1-8B-Instruct",
        "qwen2.5-coder:7b-q4_K_M", "user@registry+v1", "a", "7", "a-", ".", NULL
    };
    for (int index = 0; good [index]; index++) {
        assert_true (wp_exec_model_valid (good [index]));
        char *command = wp_exec_command ("load %m", good [index]);
        assert_non_null (command);
        free (command);
    }
    const char *bad [] = {
        "", "a b", "a;reboot", "a&&reboot", "a||reboot", "a|sh", "a&", "$(reboot)",
        "${IFS}", "$HOME", "`id`", "a>/etc/passwd", "a<x", "'a'", "\"a\"",
        "a\\b", "a\nreboot", "a\tb", "a*", "a?", "a[0]", "~root", "a#b", "a=b",
        "a,b", "a!b", "(a)", "{a,b}", "a%b", "-rf", "--help", "mod\xc3\xa8le",
        "\x7f", NULL
    };
    for (int index = 0; bad [index]; index++) {
        assert_false (wp_exec_model_valid (bad [index]));
        assert_null (wp_exec_command ("load %m", bad [index]));
    }
    assert_false (wp_exec_model_valid (NULL));
    assert_null (wp_exec_command ("load %m", NULL));

    //  Length 1..200
    char name [202];
    memset (name, 'm', 201);
    name [201] = 0;
    assert_false (wp_exec_model_valid (name));
    name [200] = 0;
    assert_true (wp_exec_model_valid (name));
}

//  Templates: %m is the model, %% a percent sign, nothing else.
static void
test_command (void **state)
{
    char *command = wp_exec_command ("ollama run %m --keepalive 5m", "llama3:8b");
    assert_string_equal (command, "ollama run llama3:8b --keepalive 5m");
    free (command);
    command = wp_exec_command ("%m%m", "ab");
    assert_string_equal (command, "abab");
    free (command);
    command = wp_exec_command ("echo 100%% %%m '%m' %%%m", "x/y");
    assert_string_equal (command, "echo 100% %m 'x/y' %x/y");
    free (command);
    command = wp_exec_command ("systemctl restart server", "x");
    assert_string_equal (command, "systemctl restart server");
    free (command);
    assert_null (wp_exec_command ("printf %s %m", "x"));
    assert_null (wp_exec_command ("load %M", "x"));
    assert_null (wp_exec_command ("load %m %", "x"));
    assert_null (wp_exec_command ("", "x"));
    assert_null (wp_exec_command (NULL, "x"));
}

//  A model name reaches the command as one word, unchanged.
static void
test_command_runs (void **state)
{
    const char *model = "a+b@c:d/e.f-g_h";
    char *command = wp_exec_command ("printf '[%%s]' %m >&2; exit 1", model);
    assert_non_null (command);
    wp_exec_t *exec = s_run (command);
    assert_string_equal (wp_exec_stderr (exec), "[a+b@c:d/e.f-g_h]");
    assert_string_equal (wp_exec_error (exec), "exit code 1: [a+b@c:d/e.f-g_h]");
    wp_exec_destroy (&exec);
    free (command);
}

//  A command that succeeds; stdout is not captured; stdin is /dev/null.
static void
test_exit_ok (void **state)
{
    wp_exec_t *exec = wp_exec_new ("exit 0");
    assert_non_null (exec);
    assert_true (wp_exec_pid (exec) > 0);
    if (wp_exec_fd (exec) < 0)
        print_message ("no pidfd_open here: exits found by polling\n");
    assert_true (wp_exec_stderr_fd (exec) >= 0);
    assert_false (wp_exec_finished (exec));
    assert_false (wp_exec_ok (exec));
    assert_string_equal (wp_exec_error (exec), "");
    s_wait_reap (exec);
    assert_true (wp_exec_ok (exec));
    assert_int_equal (wp_exec_exit_code (exec), 0);
    assert_int_equal (wp_exec_signal (exec), 0);
    assert_string_equal (wp_exec_error (exec), "");
    assert_string_equal (wp_exec_stderr (exec), "");
    assert_int_equal (wp_exec_reap (exec), 1);     //  again: no change
    assert_int_equal (wp_exec_kill (exec, SIGTERM), 0);     //  nothing to kill
    wp_exec_destroy (&exec);
    assert_null (exec);
    wp_exec_destroy (&exec);

    //  Our stdin is a pipe held open: a child reading it would wait
    //  forever; cat gets end of file from /dev/null at once
    int held [2];
    assert_int_equal (pipe (held), 0);
    int saved = dup (0);
    assert_true (saved >= 0);
    assert_int_equal (dup2 (held [0], 0), 0);
    exec = wp_exec_new ("echo to-stdout; cat; echo to-stderr >&2");
    assert_int_equal (dup2 (saved, 0), 0);
    close (saved);
    close (held [0]);
    assert_non_null (exec);
    s_wait_reap (exec);
    close (held [1]);
    assert_true (wp_exec_ok (exec));
    assert_string_equal (wp_exec_stderr (exec), "to-stderr");
    assert_string_equal (wp_exec_error (exec), "");
    wp_exec_destroy (&exec);
}

//  A command that fails: exit code and stderr in the error text.
static void
test_exit_code (void **state)
{
    wp_exec_t *exec = s_run ("echo boom >&2; exit 3");
    assert_false (wp_exec_ok (exec));
    assert_int_equal (wp_exec_exit_code (exec), 3);
    assert_int_equal (wp_exec_signal (exec), 0);
    assert_string_equal (wp_exec_stderr (exec), "boom");
    assert_non_null (strstr (wp_exec_error (exec), "boom"));
    assert_non_null (strstr (wp_exec_error (exec), "3"));
    assert_string_equal (wp_exec_error (exec), "exit code 3: boom");
    wp_exec_destroy (&exec);

    //  No stderr: just the code
    exec = s_run ("exit 42");
    assert_string_equal (wp_exec_error (exec), "exit code 42");
    wp_exec_destroy (&exec);

    //  A missing program is the shell's exit code 127
    exec = s_run ("/nonexistent/warm-model");
    assert_int_equal (wp_exec_exit_code (exec), 127);
    assert_non_null (strstr (wp_exec_error (exec), "exit code 127: "));
    assert_non_null (strstr (wp_exec_error (exec), "not found"));
    wp_exec_destroy (&exec);
}

//  A hanging command, killed: reported as killed by the signal.
static void
test_kill (void **state)
{
    wp_exec_t *exec = wp_exec_new ("echo starting >&2; sleep 30");
    assert_non_null (exec);
    //  Not finished: the pidfd stays quiet, reap says still running
    assert_true (s_readable (wp_exec_stderr_fd (exec), S_BOUND_MS));
    assert_int_equal (wp_exec_drain (exec), 0);
    assert_string_equal (wp_exec_stderr (exec), "starting");
    assert_false (s_readable (wp_exec_fd (exec), 100));
    assert_int_equal (wp_exec_reap (exec), 0);
    assert_false (wp_exec_finished (exec));
    assert_string_equal (wp_exec_error (exec), "");

    assert_int_equal (wp_exec_kill (exec, SIGTERM), 0);
    s_wait_reap (exec);
    assert_false (wp_exec_ok (exec));
    assert_int_equal (wp_exec_exit_code (exec), -1);
    assert_int_equal (wp_exec_signal (exec), SIGTERM);
    assert_string_equal (wp_exec_error (exec),
                         "killed by signal 15 (SIGTERM): starting");
    wp_exec_destroy (&exec);

    //  A command that ignores SIGTERM needs SIGKILL
    exec = wp_exec_new ("trap '' TERM; echo armed >&2; sleep 30");
    assert_non_null (exec);
    assert_true (s_readable (wp_exec_stderr_fd (exec), S_BOUND_MS));
    assert_int_equal (wp_exec_kill (exec, SIGTERM), 0);
    assert_false (s_readable (wp_exec_fd (exec), 200));
    assert_int_equal (wp_exec_kill (exec, SIGKILL), 0);
    s_wait_reap (exec);
    assert_int_equal (wp_exec_signal (exec), SIGKILL);
    assert_string_equal (wp_exec_error (exec), "killed by signal 9 (SIGKILL): armed");
    wp_exec_destroy (&exec);
}

//  True if process pid (not our child) exits within timeout_ms: on its
//  pidfd, or where there is none by reading its state every ms.
static bool
s_gone (int pid, int timeout_ms)
{
    int fd = pidfd_open (pid, 0);
    if (fd >= 0) {
        bool gone = s_readable (fd, timeout_ms);
        close (fd);
        return gone;
    }
    if (errno == ESRCH)
        return true;
    for (int waited = 0; ; waited++) {
        char path [64], line [256] = "";
        snprintf (path, sizeof (path), "/proc/%d/stat", pid);
        FILE *file = fopen (path, "r");
        if (!file)
            return true;
        char *fields = fgets (line, sizeof (line), file) ? strrchr (line, ')') : NULL;
        fclose (file);
        if (fields && (fields [2] == 'Z' || fields [2] == 'X'))
            return true;
        if (waited >= timeout_ms)
            return false;
        poll (NULL, 0, 1);
    }
}

//  The kill reaches what the shell started in the background too.
static void
test_kill_group (void **state)
{
    wp_exec_t *exec = wp_exec_new ("sleep 30 & echo $! >&2; wait");
    assert_non_null (exec);
    //  Read the background pid from stderr as it comes
    int grandchild = 0;
    while (!grandchild) {
        assert_true (s_readable (wp_exec_stderr_fd (exec), S_BOUND_MS));
        assert_true (wp_exec_drain (exec) >= 0);
        grandchild = atoi (wp_exec_stderr (exec));
    }
    assert_false (s_gone (grandchild, 0));

    assert_int_equal (wp_exec_kill (exec, SIGTERM), 0);
    s_wait_reap (exec);
    assert_int_equal (wp_exec_signal (exec), SIGTERM);
    //  The grandchild exits as well
    assert_true (s_gone (grandchild, S_BOUND_MS));
    wp_exec_destroy (&exec);
}

//  A kill -9 of the daemon (here a forked stand-in that started the
//  command) leaves no orphan: the keeper kills the whole group.
static void
test_parent_killed (void **state)
{
    int report [2];
    assert_int_equal (pipe (report), 0);
    pid_t daemon = fork ();
    assert_true (daemon >= 0);
    if (daemon == 0) {
        //  The stand-in: start the command, pass the background pid up,
        //  then wait to be killed.
        close (report [0]);
        wp_exec_t *exec = wp_exec_new ("sleep 300 & echo $! >&2; wait");
        int grandchild = 0;
        while (exec && !grandchild) {
            if (!s_readable (wp_exec_stderr_fd (exec), S_BOUND_MS)
                || wp_exec_drain (exec) < 0)
                _exit (1);
            grandchild = atoi (wp_exec_stderr (exec));
        }
        int pids [2] = { exec ? (int) wp_exec_pid (exec) : 0, grandchild };
        if (write (report [1], pids, sizeof pids) != sizeof pids)
            _exit (1);
        while (true)
            pause ();
    }
    close (report [1]);
    int pids [2] = { 0, 0 };
    assert_true (s_readable (report [0], S_BOUND_MS));
    assert_int_equal (read (report [0], pids, sizeof pids), (ssize_t) sizeof pids);
    close (report [0]);
    assert_true (pids [0] > 0 && pids [1] > 0);
    assert_false (s_gone (pids [1], 0));

    assert_int_equal (kill (daemon, SIGKILL), 0);
    int status;
    assert_int_equal (waitpid (daemon, &status, 0), daemon);
    //  Both the keeper and what the shell started in the background go
    assert_true (s_gone (pids [1], S_BOUND_MS));
    assert_true (s_gone (pids [0], S_BOUND_MS));
}

//  Destroying a running child kills and reaps it.
static void
test_destroy_running (void **state)
{
    wp_exec_t *exec = wp_exec_new ("sleep 30");
    assert_non_null (exec);
    pid_t pid = wp_exec_pid (exec);
    wp_exec_destroy (&exec);
    assert_null (exec);
    //  Reaped already: no such child
    int status;
    assert_int_equal (waitpid (pid, &status, WNOHANG), -1);
    assert_int_equal (errno, ECHILD);
}

//  More stderr than a pipe holds: draining keeps the child going; only the
//  tail is kept, from a line start.
static void
test_stderr_flood (void **state)
{
    wp_exec_t *exec = wp_exec_new (
        "head -c 300000 /dev/zero | tr '\\0' x >&2; echo >&2;"
        "echo last words >&2; exit 2");
    assert_non_null (exec);
    int eof = 0;
    while (!eof) {
        assert_true (s_readable (wp_exec_stderr_fd (exec), S_BOUND_MS));
        eof = wp_exec_drain (exec);
        assert_true (eof >= 0);
    }
    s_wait_reap (exec);
    assert_int_equal (wp_exec_exit_code (exec), 2);
    assert_string_equal (wp_exec_stderr (exec), "last words");
    assert_string_equal (wp_exec_error (exec), "exit code 2: last words");
    assert_int_equal (wp_exec_drain (exec), 1);
    wp_exec_destroy (&exec);

    //  One long line: its end is kept, WP_EXEC_STDERR_MAX bytes
    exec = wp_exec_new ("head -c 5000 /dev/zero | tr '\\0' y >&2; echo z >&2; exit 1");
    assert_non_null (exec);
    while (wp_exec_drain (exec) == 0)
        assert_true (s_readable (wp_exec_stderr_fd (exec), S_BOUND_MS));
    s_wait_reap (exec);
    const char *text = wp_exec_stderr (exec);
    assert_int_equal (strlen (text), WP_EXEC_STDERR_MAX - 1);     //  "\n" trimmed
    assert_int_equal (text [0], 'y');
    assert_string_equal (text + WP_EXEC_STDERR_MAX - 2, "z");
    wp_exec_destroy (&exec);
}

//  Run a command that writes part one ("line-one\n" and 990 'a'), waits
//  on a fifo, then writes b_count 'b' and "\nlast\n"; drain part one
//  before releasing part two, so the tail is cut inside the buffer.
static wp_exec_t *
s_run_two_parts (int b_count)
{
    char *dir = wp_test_tmpdir ("wp-exec");
    char fifo [300];
    snprintf (fifo, sizeof (fifo), "%s/go", dir);
    assert_int_equal (mkfifo (fifo, 0600), 0);
    char command [600];
    snprintf (command, sizeof (command),
              "printf 'line-one\\n' >&2; head -c 990 /dev/zero | tr '\\0' a >&2;"
              "read x < '%s'; head -c %d /dev/zero | tr '\\0' b >&2;"
              "printf '\\nlast\\n' >&2", fifo, b_count);
    wp_exec_t *exec = wp_exec_new (command);
    assert_non_null (exec);
    while (strlen (wp_exec_stderr (exec)) < 999) {
        assert_true (s_readable (wp_exec_stderr_fd (exec), S_BOUND_MS));
        assert_int_equal (wp_exec_drain (exec), 0);
    }
    assert_int_equal (strlen (wp_exec_stderr (exec)), 999);
    //  Opening blocks until the child opens its end: no sleep needed
    FILE *file = fopen (fifo, "w");
    assert_non_null (file);
    fputs ("go\n", file);
    fclose (file);
    s_wait_reap (exec);
    assert_true (wp_exec_ok (exec));
    wp_test_rmtree (dir);
    free (dir);
    return exec;
}

//  The kept tail starts at a line start: a line cut by the limit is
//  dropped, a line that begins exactly at the cut is kept.
static void
test_stderr_tail (void **state)
{
    //  1030 bytes: 6 dropped, "one" is the rest of a cut line
    wp_exec_t *exec = s_run_two_parts (25);
    const char *text = wp_exec_stderr (exec);
    assert_int_equal (strlen (text), 990 + 25 + 5);
    assert_int_equal (strspn (text, "a"), 990);
    assert_string_equal (text + 990 + 25, "\nlast");
    wp_exec_destroy (&exec);

    //  1033 bytes: exactly "line-one\n" dropped, the a-line is whole
    exec = s_run_two_parts (28);
    text = wp_exec_stderr (exec);
    assert_int_equal (strlen (text), 990 + 28 + 5);
    assert_int_equal (strspn (text, "a"), 990);
    wp_exec_destroy (&exec);

    //  1034 bytes: one 'a' dropped as well, so the a-line goes
    exec = s_run_two_parts (29);
    assert_string_equal (wp_exec_stderr (exec), "last");
    wp_exec_destroy (&exec);
}

//  The error text is safe for a protobuf string: control characters and
//  invalid UTF-8 replaced, valid UTF-8 kept, CR as a line end.
static void
test_stderr_clean (void **state)
{
    wp_exec_t *exec = s_run (
        "printf '\\n  a\\033[31mb\\377c caf\\303\\251 \\355\\240\\200|\\r10%%\\r99%%\\t\\n\\n' >&2;"
        "exit 5");
    assert_string_equal (wp_exec_stderr (exec),
                         "a [31mb?c caf\xc3\xa9 ???|\n10%\n99%");
    assert_string_equal (wp_exec_error (exec),
                         "exit code 5: a [31mb?c caf\xc3\xa9 ???|\n10%\n99%");
    wp_exec_destroy (&exec);
}

//  Bad commands are refused before anything runs.
static void
test_bad_command (void **state)
{
    assert_null (wp_exec_new (""));
    assert_null (wp_exec_new (NULL));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_model_valid),
        cmocka_unit_test (test_command),
        cmocka_unit_test (test_command_runs),
        cmocka_unit_test (test_exit_ok),
        cmocka_unit_test (test_exit_code),
        cmocka_unit_test (test_kill),
        cmocka_unit_test (test_kill_group),
        cmocka_unit_test (test_parent_killed),
        cmocka_unit_test (test_destroy_running),
        cmocka_unit_test (test_stderr_flood),
        cmocka_unit_test (test_stderr_tail),
        cmocka_unit_test (test_stderr_clean),
        cmocka_unit_test (test_bad_command),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
