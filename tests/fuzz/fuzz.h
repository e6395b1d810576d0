/*  =========================================================================
    fuzz.h - what the libFuzzer targets share: a scratch file per process
    for readers that take a path, and a quiet log.
    =========================================================================
*/
#ifndef WP_FUZZ_H_INCLUDED
#define WP_FUZZ_H_INCLUDED

#include <czmq.h>
#include <stdint.h>
#include <stddef.h>

//  The fuzzer's entry point (libFuzzer).
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Quiet logs (every bad input logs once), czmq set up once.
static inline void
fuzz_init (void)
{
    static bool done;
    if (!done) {
        zsys_init ();
        zsys_set_logstream (NULL);
        zsys_set_logsystem (false);
        done = true;
    }
}

//  Write data into this process's scratch file named suffix (e.g.
//  "trace.csv"); returns its path (static, per suffix slot).
static inline const char *
fuzz_file (const char *suffix, const uint8_t *data, size_t size)
{
    static char path [4][256];
    static const char *suffixes [4];
    int slot = 0;
    while (slot < 3 && suffixes [slot] && strcmp (suffixes [slot], suffix) != 0)
        slot++;
    if (!suffixes [slot]) {
        suffixes [slot] = suffix;
        const char *tmp = getenv ("TMPDIR");
        snprintf (path [slot], sizeof path [slot], "%s/wp-fuzz-%d-%s",
                  tmp && *tmp ? tmp : "/tmp", (int) getpid (), suffix);
    }
    FILE *file = fopen (path [slot], "wb");
    assert (file);
    if (size)
        assert (fwrite (data, 1, size, file) == size);
    fclose (file);
    return path [slot];
}

#endif
