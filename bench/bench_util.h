/*  =========================================================================
    bench_util.h - what the benchmarks share: the machine they ran on.
    =========================================================================
*/
#ifndef WP_BENCH_UTIL_H_INCLUDED
#define WP_BENCH_UTIL_H_INCLUDED

#include <stdio.h>
#include <string.h>

//  The CPU model from /proc/cpuinfo ("unknown" when not found).
static inline void
bench_cpu_model (char *buffer, size_t size)
{
    snprintf (buffer, size, "unknown");
    FILE *file = fopen ("/proc/cpuinfo", "r");
    char line [512];
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "model name", 10) == 0) {
            char *value = strchr (line, ':');
            if (value) {
                value += 2;
                value [strcspn (value, "\n")] = 0;
                snprintf (buffer, size, "%s", value);
            }
            break;
        }
    if (file)
        fclose (file);
}

#endif
