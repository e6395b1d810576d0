/*  =========================================================================
    testutil - helpers shared by the cmocka tests.
    =========================================================================
*/
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

//  Make a fresh temporary directory under $TMPDIR or /tmp.
char *
wp_test_tmpdir (const char *prefix)
{
    const char *base = getenv ("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    size_t size = strlen (base) + strlen (prefix) + 16;
    char *path = malloc (size);
    assert_non_null (path);
    snprintf (path, size, "%s/%s-XXXXXX", base, prefix);
    assert_non_null (mkdtemp (path));
    return path;
}

static int
s_remove (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove (path);
}

//  Remove a directory tree; safe on NULL.
void
wp_test_rmtree (const char *path)
{
    if (path)
        nftw (path, s_remove, 16, FTW_DEPTH | FTW_PHYS);
}

//  --- Running the real programs -------------------------------------------

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

struct _wp_test_proc_t {
    pid_t pid;          //  the child
    int fd;             //  read end of its stdout + stderr
    char *output;       //  everything read so far
    size_t len, cap;    //  of output
    size_t consumed;    //  lines before this offset were looked at
    bool exited;        //  reaped
    int code;           //  exit code once reaped
};

//  Monotonic milliseconds.
static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  A bound scaled by $WP_TEST_TIME_SCALE.
int
wp_test_ms (int ms)
{
    static int scale = 0;
    if (!scale) {
        const char *text = getenv ("WP_TEST_TIME_SCALE");
        int value = text ? atoi (text) : 1;
        if (value < 1 || value > 20) {
            if (text)
                fprintf (stderr, "testutil: WP_TEST_TIME_SCALE='%s' is not 1..20; "
                         "using 1\n", text);
            value = 1;
        }
        scale = value;
    }
    if (ms <= 0)
        return ms;
    return ms > INT32_MAX / scale ? INT32_MAX : ms * scale;
}

//  Path of a built program.
char *
wp_test_bin (const char *name)
{
    const char *dir = getenv ("WP_BIN_DIR");
    assert_non_null (dir);
    size_t size = strlen (dir) + strlen (name) + 2;
    char *path = malloc (size);
    assert_non_null (path);
    snprintf (path, size, "%s/%s", dir, name);
    return path;
}

//  Start a program. It dies with the test (PR_SET_PDEATHSIG): a test
//  that fails, or is killed at its timeout, leaves no daemon running.
wp_test_proc_t *
wp_test_spawn (const char *const argv [])
{
    int pipe_fds [2];
    assert_int_equal (pipe2 (pipe_fds, O_CLOEXEC), 0);
    wp_test_proc_t *self = calloc (1, sizeof *self);
    assert_non_null (self);
    pid_t parent = getpid ();
    self->pid = fork ();
    assert_true (self->pid >= 0);
    if (self->pid == 0) {
        //  Only async-signal-safe calls until exec.
        int null = open ("/dev/null", O_RDONLY);
        if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid () != parent
        ||  null < 0 || dup2 (null, 0) < 0
        ||  dup2 (pipe_fds [1], 1) < 0 || dup2 (pipe_fds [1], 2) < 0)
            _exit (126);
        execve (argv [0], (char *const *) argv, environ);
        static const char message [] = "wp_test_spawn: cannot execute the program\n";
        ssize_t written = write (2, message, sizeof message - 1);
        (void) written;
        _exit (127);
    }
    close (pipe_fds [1]);
    self->fd = pipe_fds [0];
    fcntl (self->fd, F_SETFL, O_NONBLOCK);
    self->cap = 4096;
    self->output = calloc (1, self->cap);
    assert_non_null (self->output);
    return self;
}

//  Read what is available, waiting up to wait_ms. Returns bytes read,
//  0 on timeout, -1 at end of output.
static int
s_read (wp_test_proc_t *self, int wait_ms)
{
    if (self->fd < 0)
        return -1;
    struct pollfd item = { self->fd, POLLIN, 0 };
    if (poll (&item, 1, wait_ms) <= 0)
        return 0;
    if (self->len + 4097 > self->cap) {
        self->cap *= 2;
        self->output = realloc (self->output, self->cap);
        assert_non_null (self->output);
    }
    ssize_t n = read (self->fd, self->output + self->len, 4096);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        close (self->fd);
        self->fd = -1;
        return -1;
    }
    self->len += (size_t) n;
    self->output [self->len] = 0;
    return (int) n;
}

//  Wait for a line containing needle.
int
wp_test_proc_wait_line (wp_test_proc_t *self, const char *needle, int timeout_ms,
                        char *line, size_t capacity)
{
    int64_t deadline = s_now_ms () + wp_test_ms (timeout_ms);
    while (true) {
        //  Look at complete lines not looked at yet.
        char *start = self->output + self->consumed;
        char *end;
        while ((end = strchr (start, '\n'))) {
            *end = 0;
            bool found = strstr (start, needle) != NULL;
            if (found && line) {
                snprintf (line, capacity, "%s", start);
            }
            *end = '\n';
            self->consumed = (size_t) (end + 1 - self->output);
            if (found)
                return 0;
            start = end + 1;
        }
        int64_t left = deadline - s_now_ms ();
        if (left <= 0)
            return -1;
        if (s_read (self, (int) (left > 200 ? 200 : left)) < 0 && !strchr (start, '\n'))
            return -1;
    }
}

//  Output so far.
const char *
wp_test_proc_output (wp_test_proc_t *self)
{
    while (s_read (self, 0) > 0)
        ;
    return self->output;
}

//  Wait for the exit.
int
wp_test_proc_wait (wp_test_proc_t *self, int timeout_ms)
{
    int64_t deadline = s_now_ms () + wp_test_ms (timeout_ms);
    while (!self->exited) {
        int status;
        pid_t rc = waitpid (self->pid, &status, WNOHANG);
        if (rc == self->pid) {
            self->exited = true;
            self->code = WIFEXITED (status) ? WEXITSTATUS (status)
                                            : 128 + WTERMSIG (status);
            break;
        }
        if (s_now_ms () >= deadline)
            return -1;
        //  Keep the pipe drained so the child never blocks on output;
        //  the read waits at most 20 ms for output or the exit.
        if (s_read (self, 20) < 0) {
            struct timespec ts = { 0, 5 * 1000000 };
            nanosleep (&ts, NULL);  //  output closed: poll the exit
        }
    }
    return self->code;
}

//  Signal and wait.
int
wp_test_proc_stop (wp_test_proc_t *self, int signum, int timeout_ms)
{
    if (!self->exited)
        kill (self->pid, signum);
    return wp_test_proc_wait (self, timeout_ms);
}

//  Process id.
int
wp_test_proc_pid (wp_test_proc_t *self)
{
    return (int) self->pid;
}

//  Kill, reap, free.
void
wp_test_proc_destroy (wp_test_proc_t **self_p)
{
    wp_test_proc_t *self = *self_p;
    if (!self)
        return;
    if (!self->exited) {
        kill (self->pid, SIGKILL);
        waitpid (self->pid, NULL, 0);
    }
    if (self->fd >= 0)
        close (self->fd);
    free (self->output);
    free (self);
    *self_p = NULL;
}

//  Run to completion.
int
wp_test_run (const char *const argv [], int timeout_ms, char **output)
{
    wp_test_proc_t *proc = wp_test_spawn (argv);
    int code = wp_test_proc_wait (proc, timeout_ms);
    if (output)
        *output = strdup (wp_test_proc_output (proc));
    wp_test_proc_destroy (&proc);
    return code;
}

//  Mode bits of a file.
unsigned
wp_test_mode (const char *path)
{
    struct stat info;
    assert_int_equal (stat (path, &info), 0);
    return (unsigned) (info.st_mode & 07777);
}

//  Write a file.
void
wp_test_write_file (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_true (fputs (text, file) >= 0);
    assert_int_equal (fclose (file), 0);
}
