/*  =========================================================================
    testutil - helpers shared by the cmocka tests.
    =========================================================================
*/
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
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
