/*  =========================================================================
    wp_exec - run one warm or cool command for the `exec` backend, without
    threads: the caller polls file descriptors (zloop) and reaps.

    wp_exec_command builds the command line from a configured template and
    a model name, refusing any model name that is not a plain word to the
    shell. wp_exec_new runs it as `/bin/sh -c command` in its own process
    group, with stdin and stdout on /dev/null and stderr on a pipe, under a
    keeper process that leads the group, ends as the shell ends (same exit
    code or signal) and kills the whole group when the thread that started
    it dies, a kill -9 of the daemon included (PR_SET_PDEATHSIG): no orphan
    outlives the queue. The caller polls:
      * wp_exec_fd, a pidfd: readable once the child has exited. Then call
        wp_exec_reap, which waits for it, decodes the status and reads
        what is left of stderr.
      * wp_exec_stderr_fd (non-blocking), when the command may write more
        than a pipe holds (64 KiB): call wp_exec_drain when it is readable,
        else the child blocks on a full pipe. Remove it from the poller when
        wp_exec_drain returns 1 (end of file).
    On timeout: wp_exec_kill (SIGTERM), later wp_exec_kill (SIGKILL) if the
    pidfd is still not readable. Signals go to the whole process group, so
    the shell's children die too.

    Only the last WP_EXEC_STDERR_MAX bytes of stderr are kept (the end of
    a failing script is where its error is), cut at a line start, with
    control characters and invalid UTF-8 replaced, so the text can go into
    a protobuf string.

    Where pidfd_open is missing (Linux before 5.3, some seccomp profiles,
    valgrind 3.19) wp_exec_fd is -1 and the caller calls wp_exec_reap on a
    timer instead; everything else works the same. The process must not
    ignore SIGCHLD (the kernel would reap the child before wp_exec_reap).
    =========================================================================
*/

#ifndef WP_EXEC_H_INCLUDED
#define WP_EXEC_H_INCLUDED

#include <stdbool.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Longest model name wp_exec_command accepts, in bytes.
#define WP_EXEC_MODEL_MAX 200

//  Bytes of stderr kept for the error text.
#define WP_EXEC_STDERR_MAX 1024

typedef struct _wp_exec_t wp_exec_t;

//  True if model is safe to put unquoted in a shell command: 1 to
//  WP_EXEC_MODEL_MAX characters from [A-Za-z0-9._:/@+-], not starting with
//  '-' (it would read as an option of the command).
bool
    wp_exec_model_valid (const char *model);

//  Build a command from a template: each %m becomes the model name, each
//  %% a single %. Returns a string the caller frees, or NULL if the model
//  is not valid (wp_exec_model_valid), or the template is empty or holds
//  any other % sequence (a configuration error).
char *
    wp_exec_command (const char *pattern, const char *model);

//  Start `/bin/sh -c command`. Returns NULL, and logs why, if the pipe,
//  the spawn or pidfd_open fails (pidfd_open missing is not a failure).
wp_exec_t *
    wp_exec_new (const char *command);

//  Destroy the runner; nulls *self_p. Safe on NULL. A child not reaped yet
//  is killed (SIGKILL to its process group) and reaped first. Closes both
//  descriptors: take them out of any poller before.
void
    wp_exec_destroy (wp_exec_t **self_p);

//  Process id of the child, the keeper (also its process group id).
pid_t
    wp_exec_pid (wp_exec_t *self);

//  The pidfd: readable once the child has exited. Stays open (and
//  readable) until wp_exec_destroy. -1 when the system has no pidfd_open:
//  then call wp_exec_reap on a timer.
int
    wp_exec_fd (wp_exec_t *self);

//  Read end of the child's stderr pipe, non-blocking. Stays open until
//  wp_exec_destroy.
int
    wp_exec_stderr_fd (wp_exec_t *self);

//  Read what stderr holds now, without blocking, keeping the tail. Returns
//  0 when more may come, 1 at end of file (every writer closed it; stop
//  polling the fd), -1 on a read error (logged).
int
    wp_exec_drain (wp_exec_t *self);

//  Send signum (SIGTERM, then SIGKILL if needed) to the child's process
//  group. Returns 0, also when the child is already reaped (nothing to
//  do), or -1 if the signal could not be sent.
int
    wp_exec_kill (wp_exec_t *self, int signum);

//  Reap the child if it has exited (never blocks): decode its status, read
//  the rest of stderr, build the error text. Returns 1 when reaped (now or
//  before), 0 when it is still running, -1 on error (logged; e.g. someone
//  else reaped it).
int
    wp_exec_reap (wp_exec_t *self);

//  True once wp_exec_reap has reaped the child.
bool
    wp_exec_finished (wp_exec_t *self);

//  True if the child was reaped and exited with code 0.
bool
    wp_exec_ok (wp_exec_t *self);

//  Exit code of a reaped child that exited, else -1.
int
    wp_exec_exit_code (wp_exec_t *self);

//  Signal that killed a reaped child, else 0.
int
    wp_exec_signal (wp_exec_t *self);

//  Captured stderr so far: the tail, cleaned, blank space trimmed at both
//  ends. Borrowed; valid until the next call on self.
const char *
    wp_exec_stderr (wp_exec_t *self);

//  Why the command failed, e.g. "exit code 3: boom" or "killed by signal
//  15 (SIGTERM)", with the stderr tail after a colon if any. "" while
//  running and when it succeeded. Borrowed; valid until destroy.
const char *
    wp_exec_error (wp_exec_t *self);

#ifdef __cplusplus
}
#endif

#endif
