/*  =========================================================================
    bench_util.h - what the benchmarks share: the machine they ran on, a
    free port, the synthetic names of a workload.
    =========================================================================
*/
#ifndef WP_BENCH_UTIL_H_INCLUDED
#define WP_BENCH_UTIL_H_INCLUDED

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

//  A free TCP port on 127.0.0.1 (asked of the kernel; free when it
//  answered), or -1.
static inline int
bench_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t length = sizeof address;
    int port = -1;
    if (fd >= 0 && bind (fd, (struct sockaddr *) &address, sizeof address) == 0
        && getsockname (fd, (struct sockaddr *) &address, &length) == 0)
        port = ntohs (address.sin_port);
    if (fd >= 0)
        close (fd);
    return port;
}

//  n names "<prefix>NNN" (number zero-padded to digits), for a
//  synthetic workload's users or models; aborts when out of memory.
static inline char **
bench_names_new (const char *prefix, int digits, long n)
{
    char **names = (char **) calloc ((size_t) n, sizeof (char *));
    if (!names)
        abort ();
    size_t size = strlen (prefix) + (size_t) digits + 24;
    for (long i = 0; i < n; i++) {
        names [i] = (char *) malloc (size);
        if (!names [i])
            abort ();
        snprintf (names [i], size, "%s%0*ld", prefix, digits, i);
    }
    return names;
}

//  Free names of bench_names_new; nulls *names_p.
static inline void
bench_names_destroy (char ***names_p, long n)
{
    for (long i = 0; *names_p && i < n; i++)
        free ((*names_p) [i]);
    free (*names_p);
    *names_p = NULL;
}

#endif
