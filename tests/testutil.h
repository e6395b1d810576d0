/*  =========================================================================
    testutil - helpers shared by the cmocka tests: temporary directories,
    starting the real programs and reading their output.
    =========================================================================
*/
#ifndef WP_TESTUTIL_H_INCLUDED
#define WP_TESTUTIL_H_INCLUDED

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <cmocka.h>

//  Make a fresh temporary directory; returns a path the caller frees.
char *
    wp_test_tmpdir (const char *prefix);

//  Remove a directory tree (rm -rf); safe on NULL.
void
    wp_test_rmtree (const char *path);

//  --- Time bounds ---------------------------------------------------------

//  A bound of ms milliseconds multiplied by $WP_TEST_TIME_SCALE (a whole
//  number 1..20, default 1; the sanitizer build's ctest sets it). A bound
//  is how long a test waits before it calls a missing event a failure, never
//  a schedule: a slower build or a busier machine gets longer bounds, and a
//  passing test takes no longer. Every timeout_ms below is scaled so.
int
    wp_test_ms (int ms);

//  --- Running the real programs -------------------------------------------

typedef struct _wp_test_proc_t wp_test_proc_t;

//  Path of a built program (from $WP_BIN_DIR); static buffer per call site
//  is not needed: returns a string the caller frees.
char *
    wp_test_bin (const char *name);

//  Start a program (argv[0] is a path) with stdin from /dev/null and
//  stdout + stderr into one pipe the test reads. NULL-terminated argv.
wp_test_proc_t *
    wp_test_spawn (const char *const argv []);

//  Read output lines until one contains needle or timeout_ms passes.
//  Copies the line into line (if not NULL). Returns 0 found, -1 not.
int
    wp_test_proc_wait_line (wp_test_proc_t *self, const char *needle,
                            int timeout_ms, char *line, size_t capacity);

//  Everything the process printed so far (for failure messages).
const char *
    wp_test_proc_output (wp_test_proc_t *self);

//  Send signum and wait up to timeout_ms for the exit. Returns the exit
//  code (128 + signal when killed by one), or -1 on timeout.
int
    wp_test_proc_stop (wp_test_proc_t *self, int signum, int timeout_ms);

//  Wait up to timeout_ms for the process to exit by itself; as _stop.
int
    wp_test_proc_wait (wp_test_proc_t *self, int timeout_ms);

//  Process id.
int
    wp_test_proc_pid (wp_test_proc_t *self);

//  Kill (SIGKILL) if still running, reap, free; nulls *self_p.
void
    wp_test_proc_destroy (wp_test_proc_t **self_p);

//  Run a program to completion (up to timeout_ms); returns its exit code,
//  or -1 on timeout. Its output goes to *output (caller frees) if not NULL.
int
    wp_test_run (const char *const argv [], int timeout_ms, char **output);

//  Mode bits (07777) of a file; asserts that it exists.
unsigned
    wp_test_mode (const char *path);

//  Write text to a file; asserts on failure.
void
    wp_test_write_file (const char *path, const char *text);

#endif
