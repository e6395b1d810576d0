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

#endif
