/*  =========================================================================
    test_eval_util - helpers for the warmup-eval tests: temporary files and
    a catalog built in code. Header-only (each test is one binary).
    =========================================================================
*/
#ifndef TEST_EVAL_UTIL_H_INCLUDED
#define TEST_EVAL_UTIL_H_INCLUDED

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "wp_eval_catalog.h"
#include "wp_eval_sim.h"

//  Write text to a fresh temporary file whose name ends in suffix; returns
//  the path (caller frees and unlinks).
static inline char *
test_write_file (const char *suffix, const char *text)
{
    char *path = malloc (256);
    assert_non_null (path);
    snprintf (path, 256, "/tmp/wp-eval-test-XXXXXX%s", suffix);
    int fd = mkstemps (path, (int) strlen (suffix));
    assert_true (fd >= 0);
    size_t len = strlen (text);
    assert_int_equal (write (fd, text, len), (ssize_t) len);
    close (fd);
    return path;
}

//  Remove and free a temporary file path.
static inline void
test_remove_file (char *path)
{
    unlink (path);
    free (path);
}

//  A catalog of models "m0".."m<n-1>" with the given memory and load times.
static inline wp_eval_catalog_t *
test_catalog (size_t n, const uint32_t *memory_mb, const uint32_t *load_ms)
{
    wp_eval_catalog_t *catalog = wp_eval_catalog_new ();
    assert_non_null (catalog);
    for (size_t i = 0; i < n; i++) {
        char name [32];
        snprintf (name, sizeof (name), "m%zu", i);
        assert_int_equal (wp_eval_catalog_add (catalog, name, memory_mb [i], load_ms [i]),
                          (int64_t) i);
    }
    return catalog;
}

//  A world running the named policy ("family[:knob]"); future may be NULL;
//  timing: measure each event's cost (the CLI does).
static inline wp_eval_sim_t *
test_sim (const char *name, wp_eval_catalog_t *catalog, int64_t budget,
          wp_eval_future_t *future, bool timing)
{
    char error [WP_EVAL_ERRLEN];
    double knob;
    const wp_eval_policy_t *policy = wp_eval_policy_find (name, &knob, error);
    if (!policy)
        fail_msg ("%s", error);
    wp_eval_sim_t *sim = wp_eval_sim_new (catalog, budget, policy, knob, future, timing, error);
    if (!sim)
        fail_msg ("%s", error);
    return sim;
}

#endif
