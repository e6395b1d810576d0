/*  =========================================================================
    wp_exec - run one warm or cool command for the `exec` backend, without
    threads: posix_spawn, a pidfd to poll, a non-blocking stderr pipe.

    The child is a keeper (s_keeper): it leads its own process group (so a
    kill reaches whatever the shell started), runs the shell with default
    signal handlers and an empty signal mask, whatever the daemon set for
    itself, ends as the shell ended, and kills the group when the daemon
    dies (PR_SET_PDEATHSIG), so a kill -9 of the queue leaves no orphan.
    Our descriptors are close-on-exec, so no other child inherits the
    pipe and holds it open.
    =========================================================================
*/

#include "wp_exec.h"
#include <czmq.h>
#include <sys/prctl.h>
#include <sys/pidfd.h>
#include <sys/wait.h>

//  Most bytes one wp_exec_drain reads, so a chatty child cannot hold the
//  caller's loop; more than a default pipe holds.
#define S_DRAIN_MAX (256 * 1024)

//  Structure of our class
struct _wp_exec_t {
    pid_t pid;                  // the child, also its process group
    int pidfd;                  // readable when the child exits
    int err_fd;                 // read end of the child's stderr pipe
    bool eof;                   // stderr reached end of file
    bool reaped;                // waitpid collected the child
    int exit_code;              // exit code if it exited, else -1
    int signal;                 // signal that killed it, else 0
    char tail [WP_EXEC_STDERR_MAX]; // last bytes of stderr, raw
    size_t tail_len;            // bytes in tail
    bool cut_mid_line;          // bytes before tail were dropped, and
                                // tail starts inside a line
    char text [WP_EXEC_STDERR_MAX + 1];     // cleaned tail, for callers
    char error [WP_EXEC_STDERR_MAX + 64];   // error text once reaped
};

//  True for a byte allowed in a model name.
static bool
s_model_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || strchr ("._:/@+-", c);
}

//  True if the model name is safe unquoted in a shell command.
bool
wp_exec_model_valid (const char *model)
{
    if (!model || !*model || *model == '-')
        return false;
    size_t length = 0;
    for (const char *c = model; *c; c++, length++)
        if (length == WP_EXEC_MODEL_MAX || !s_model_char (*c))
            return false;
    return true;
}

//  Build a command from a template and a model name.
char *
wp_exec_command (const char *pattern, const char *model)
{
    if (!pattern || !*pattern || !wp_exec_model_valid (model))
        return NULL;
    //  First pass: check the template and size the result
    size_t model_len = strlen (model);
    size_t size = 1;
    for (const char *c = pattern; *c; c++) {
        if (*c != '%')
            size++;
        else
        if (c [1] == 'm') {
            size += model_len;
            c++;
        }
        else
        if (c [1] == '%') {
            size++;
            c++;
        }
        else
            return NULL;
    }
    char *command = (char *) malloc (size);
    if (!command)
        return NULL;
    char *out = command;
    for (const char *c = pattern; *c; c++) {
        if (*c != '%')
            *out++ = *c;
        else
        if (*++c == 'm') {
            memcpy (out, model, model_len);
            out += model_len;
        }
        else
            *out++ = '%';
    }
    *out = 0;
    assert ((size_t) (out - command) + 1 == size);
    return command;
}

//  The keeper: the child between the daemon and the command. It leads
//  the command's process group, runs `/bin/sh -c command` in it and
//  mirrors how the shell ended; when the thread that started it dies
//  (kill -9 of the daemon included: PR_SET_PDEATHSIG) it kills the whole
//  group, itself with it. Runs between fork and exec in a process that
//  has threads: async-signal-safe calls only. Never returns.
static void
s_keeper (const char *command, int err_fd, pid_t parent)
{
    sigset_t all, none, waited;
    sigfillset (&all);
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &all, NULL);
    setpgid (0, 0);
    //  SIGUSR1 stays blocked: it is read by sigwaitinfo below.
    prctl (PR_SET_PDEATHSIG, SIGUSR1);
    if (getppid () != parent)
        kill (0, SIGKILL);          //  the daemon died before the prctl
    //  stderr first: if the pipe's write end is fd 0 or 1 it is copied
    //  before that fd is reopened on /dev/null
    if (err_fd != 2) {
        dup2 (err_fd, 2);
        close (err_fd);
    }
    else
        fcntl (2, F_SETFD, 0);

    int null_in = open ("/dev/null", O_RDONLY);
    int null_out = open ("/dev/null", O_WRONLY);
    if (null_in < 0 || null_out < 0)
        _exit (127);
    dup2 (null_in, 0);
    dup2 (null_out, 1);
    if (null_in > 2)
        close (null_in);
    if (null_out > 2)
        close (null_out);
    pid_t shell = fork ();
    if (shell == 0) {
        //  Default handlers and an empty mask, whatever the daemon set
        struct sigaction action;
        memset (&action, 0, sizeof action);
        action.sa_handler = SIG_DFL;
        for (int signum = 1; signum < NSIG; signum++)
            sigaction (signum, &action, NULL);
        sigprocmask (SIG_SETMASK, &none, NULL);
        char *argv [] = { "sh", "-c", (char *) command, NULL };
        execve ("/bin/sh", argv, environ);
        _exit (127);
    }
    if (shell < 0)
        _exit (127);
    sigemptyset (&waited);
    sigaddset (&waited, SIGCHLD);
    sigaddset (&waited, SIGUSR1);
    while (true) {
        int signum = sigwaitinfo (&waited, NULL);
        if (signum == SIGUSR1)
            kill (0, SIGKILL);      //  the daemon is gone: the group goes too
        if (signum != SIGCHLD)
            continue;
        int status;
        pid_t rc = waitpid (shell, &status, WNOHANG);
        if (rc != shell)
            continue;
        if (WIFEXITED (status))
            _exit (WEXITSTATUS (status));
        if (WIFSIGNALED (status)) {
            //  End as the shell did, so the daemon reads the same status
            int shell_signal = WTERMSIG (status);
            struct sigaction action;
            memset (&action, 0, sizeof action);
            action.sa_handler = SIG_DFL;
            sigaction (shell_signal, &action, NULL);
            sigset_t one;
            sigemptyset (&one);
            sigaddset (&one, shell_signal);
            kill (getpid (), shell_signal);
            sigprocmask (SIG_UNBLOCK, &one, NULL);
            _exit (128 + shell_signal);
        }
    }
}

//  Start the command.
wp_exec_t *
wp_exec_new (const char *command)
{
    if (!command || !*command) {
        zsys_error ("exec: empty command");
        return NULL;
    }
    wp_exec_t *self = (wp_exec_t *) calloc (1, sizeof (wp_exec_t));
    if (!self)
        return NULL;
    self->pid = -1;
    self->pidfd = -1;
    self->err_fd = -1;
    self->exit_code = -1;

    int pipe_fds [2];
    if (pipe2 (pipe_fds, O_CLOEXEC)) {
        zsys_error ("exec: pipe: %s", strerror (errno));
        free (self);
        return NULL;
    }
    self->err_fd = pipe_fds [0];
    fcntl (self->err_fd, F_SETFL, fcntl (self->err_fd, F_GETFL) | O_NONBLOCK);

    pid_t parent = getpid ();
    self->pid = fork ();
    if (self->pid == 0)
        s_keeper (command, pipe_fds [1], parent);
    int fork_errno = errno;
    close (pipe_fds [1]);
    if (self->pid < 0) {
        zsys_error ("exec: fork: %s", strerror (fork_errno));
        close (self->err_fd);
        free (self);
        return NULL;
    }
    //  Also from here, so a signal sent at once reaches the group
    setpgid (self->pid, self->pid);
    self->pidfd = pidfd_open (self->pid, 0);
    if (self->pidfd == -1) {
        if (errno == ENOSYS || errno == EPERM) {
            //  Old kernel, seccomp or valgrind: the caller reaps on a timer
            static bool s_warned = false;
            if (!s_warned)
                zsys_warning ("exec: no pidfd_open (%s): exits are found by "
                              "polling", strerror (errno));
            s_warned = true;
        }
        else {
            zsys_error ("exec: pidfd_open: %s", strerror (errno));
            wp_exec_destroy (&self);
        }
    }
    return self;
}

//  Destroy the runner, killing and reaping a child still there.
void
wp_exec_destroy (wp_exec_t **self_p)
{
    assert (self_p);
    wp_exec_t *self = *self_p;
    if (!self)
        return;
    if (!self->reaped && self->pid > 0) {
        kill (-self->pid, SIGKILL);
        kill (self->pid, SIGKILL);
        int status;
        while (waitpid (self->pid, &status, 0) == -1 && errno == EINTR)
            ;
    }
    if (self->pidfd >= 0)
        close (self->pidfd);
    if (self->err_fd >= 0)
        close (self->err_fd);
    free (self);
    *self_p = NULL;
}

//  Process id of the child.
pid_t
wp_exec_pid (wp_exec_t *self)
{
    assert (self);
    return self->pid;
}

//  The pidfd.
int
wp_exec_fd (wp_exec_t *self)
{
    assert (self);
    return self->pidfd;
}

//  Read end of the stderr pipe.
int
wp_exec_stderr_fd (wp_exec_t *self)
{
    assert (self);
    return self->err_fd;
}

//  Append bytes to the tail, keeping the last WP_EXEC_STDERR_MAX.
static void
s_tail_append (wp_exec_t *self, const char *data, size_t size)
{
    size_t total = self->tail_len + size;
    if (total > WP_EXEC_STDERR_MAX) {
        //  Drop the oldest bytes of tail + data; note whether the last
        //  byte dropped ended a line
        size_t drop = total - WP_EXEC_STDERR_MAX;
        char last = drop <= self->tail_len ? self->tail [drop - 1]
                                           : data [drop - 1 - self->tail_len];
        self->cut_mid_line = last != '\n' && last != '\r';
        if (drop < self->tail_len) {
            memmove (self->tail, self->tail + drop, self->tail_len - drop);
            self->tail_len -= drop;
        }
        else {
            data += drop - self->tail_len;
            size -= drop - self->tail_len;
            self->tail_len = 0;
        }
    }
    memcpy (self->tail + self->tail_len, data, size);
    self->tail_len += size;
}

//  Read what stderr holds now.
int
wp_exec_drain (wp_exec_t *self)
{
    assert (self);
    if (self->eof)
        return 1;
    char chunk [4096];
    size_t total = 0;
    while (total < S_DRAIN_MAX) {
        ssize_t size = read (self->err_fd, chunk, sizeof (chunk));
        if (size > 0) {
            s_tail_append (self, chunk, (size_t) size);
            total += (size_t) size;
        }
        else
        if (size == 0) {
            self->eof = true;
            return 1;
        }
        else
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        else
        if (errno != EINTR) {
            zsys_error ("exec: reading stderr of %d: %s", (int) self->pid,
                        strerror (errno));
            return -1;
        }
    }
    return 0;
}

//  Send a signal to the child's process group.
int
wp_exec_kill (wp_exec_t *self, int signum)
{
    assert (self);
    if (self->reaped)
        return 0;
    //  The child may have left its group: then signal it alone (its pid
    //  cannot be reused before we reap it)
    if (kill (-self->pid, signum) == 0 || kill (self->pid, signum) == 0)
        return 0;
    zsys_error ("exec: signal %d to %d: %s", signum, (int) self->pid,
                strerror (errno));
    return -1;
}

//  Length of the valid UTF-8 sequence at data (size bytes left), or 0.
static size_t
s_utf8_length (const unsigned char *data, size_t size)
{
    unsigned char lead = data [0];
    size_t length = lead >= 0xF0 && lead <= 0xF4 ? 4
                  : lead >= 0xE0 ? 3
                  : lead >= 0xC2 && lead <= 0xDF ? 2 : 0;
    if (length == 0 || length > size || lead > 0xF4)
        return 0;
    for (size_t index = 1; index < length; index++)
        if ((data [index] & 0xC0) != 0x80)
            return 0;
    //  Overlong forms, surrogates, beyond U+10FFFF
    if ((lead == 0xE0 && data [1] < 0xA0) || (lead == 0xED && data [1] > 0x9F)
    ||  (lead == 0xF0 && data [1] < 0x90) || (lead == 0xF4 && data [1] > 0x8F))
        return 0;
    return length;
}

//  Rebuild text from the tail: from the first whole line, control
//  characters as spaces (CR as a line end), invalid UTF-8 as '?',
//  blank space trimmed at both ends.
static void
s_clean_text (wp_exec_t *self)
{
    const unsigned char *data = (const unsigned char *) self->tail;
    size_t size = self->tail_len;
    size_t start = 0;
    if (self->cut_mid_line) {
        //  Skip the cut line, unless nothing but blank space follows it
        while (start < size && data [start] != '\n' && data [start] != '\r')
            start++;
        size_t rest = start;
        while (rest < size && isspace (data [rest]))
            rest++;
        start = rest < size ? start : 0;
    }
    char *out = self->text;
    for (size_t index = start; index < size; ) {
        unsigned char c = data [index];
        if (c >= 0x80) {
            size_t length = s_utf8_length (data + index, size - index);
            if (length) {
                memcpy (out, data + index, length);
                out += length;
                index += length;
            }
            else {
                *out++ = '?';
                index++;
            }
            continue;
        }
        *out++ = c == '\r' ? '\n'
               : c == '\n' || c == '\t' ? (char) c
               : c < 0x20 || c == 0x7F ? ' ' : (char) c;
        index++;
    }
    while (out > self->text && isspace ((unsigned char) out [-1]))
        out--;
    *out = 0;
    size_t lead = strspn (self->text, " \t\n");
    if (lead)
        memmove (self->text, self->text + lead, strlen (self->text + lead) + 1);
}

//  Reap the child if it has exited.
int
wp_exec_reap (wp_exec_t *self)
{
    assert (self);
    if (self->reaped)
        return 1;
    int status;
    pid_t rc;
    while ((rc = waitpid (self->pid, &status, WNOHANG)) == -1 && errno == EINTR)
        ;
    if (rc == 0)
        return 0;
    if (rc == -1) {
        zsys_error ("exec: waitpid %d: %s", (int) self->pid, strerror (errno));
        return -1;
    }
    self->reaped = true;
    if (WIFEXITED (status))
        self->exit_code = WEXITSTATUS (status);
    else
    if (WIFSIGNALED (status))
        self->signal = WTERMSIG (status);
    wp_exec_drain (self);
    s_clean_text (self);

    const char *text = self->text;
    const char *colon = *text ? ": " : "";
    const char *name = self->signal ? sigabbrev_np (self->signal) : NULL;
    if (self->exit_code > 0)
        snprintf (self->error, sizeof (self->error), "exit code %d%s%s",
                  self->exit_code, colon, text);
    else
    if (self->signal)
        snprintf (self->error, sizeof (self->error),
                  "killed by signal %d (SIG%s)%s%s", self->signal,
                  name ? name : "?", colon, text);
    return 1;
}

//  True once reaped.
bool
wp_exec_finished (wp_exec_t *self)
{
    assert (self);
    return self->reaped;
}

//  True if reaped with exit code 0.
bool
wp_exec_ok (wp_exec_t *self)
{
    assert (self);
    return self->reaped && self->exit_code == 0;
}

//  Exit code, or -1.
int
wp_exec_exit_code (wp_exec_t *self)
{
    assert (self);
    return self->exit_code;
}

//  Killing signal, or 0.
int
wp_exec_signal (wp_exec_t *self)
{
    assert (self);
    return self->signal;
}

//  Captured stderr so far, cleaned.
const char *
wp_exec_stderr (wp_exec_t *self)
{
    assert (self);
    if (!self->reaped)
        s_clean_text (self);
    return self->text;
}

//  Why the command failed, or "".
const char *
wp_exec_error (wp_exec_t *self)
{
    assert (self);
    return self->error;
}
