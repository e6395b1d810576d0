/*  =========================================================================
    proxy-bench - what the proxy (warmup-proxy) adds between a client and a
    model server, measured against the direct path in the same run, and
    against nginx (a server built for proxying) when it is installed.

    A streaming upstream runs in a thread of this program (epoll, every
    connection non-blocking); warmup-bus and warmup-proxy run as their own
    processes, as a user runs them; nginx with proxy_buffering off.
      ttfb        N requests, interleaved direct / proxied / nginx, each on
                  its own keep-alive connection: a POST /v1/chat/completions
                  whose first server-sent event the upstream writes at once;
                  time to the first body byte, p50 / p99 / p99.9, and what
                  each proxy adds at each percentile.
      throughput  a 256 MiB chunked body, and 200,000 small events, as fast
                  as the upstream writes them: MB/s and events/s, the best
                  of 3 interleaved rounds per path.
      streams     1,000 concurrent streaming connections held through the
                  proxy (an event per second each, 10 s), every event
                  counted; the proxy's RSS idle, holding them, and after.
    Prints the machine, the settings and a table.
    =========================================================================
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench_util.h"

extern char **environ;

//  Settings.
typedef struct {
    int requests;               //  ttfb: requests per path
    int bulk_mb;                //  throughput: body size, MiB
    int events;                 //  throughput: events in the event stream
    int streams;                //  concurrent streams held
    int hold_s;                 //  how long each is held, s
    bool quick;                 //  smoke settings
    const char *nginx;          //  nginx binary, or NULL
    char bin_dir [1024];        //  warmup-bus, warmup-proxy
} settings_t;

//  Monotonic ns.
static uint64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

//  ---------------------------------------------------------------------------
//  The upstream: an epoll server in a thread

#define EVENT_TEXT "data: {\"choices\":[{\"delta\":{\"content\":\"token token token\"}," \
                   "\"index\":0}],\"object\":\"chat.completion.chunk\"}\n\n"

typedef enum { G_NONE, G_CHAT, G_BULK, G_EVENTS, G_HOLD } gen_kind_t;

typedef struct {
    int fd;
    char in [8192];             //  request bytes
    size_t in_len;
    char *out;                  //  bytes to write
    size_t out_len, out_off, out_cap;
    gen_kind_t kind;            //  what the answer still produces
    uint64_t left;              //  bytes (bulk) or events left
    uint64_t next_ns;           //  hold: next event
    uint64_t gap_ns;            //  hold: time between events
    bool want_out;              //  EPOLLOUT armed
} up_conn_t;

typedef struct {
    int listener;
    int port;
    int ep;
    atomic_bool stop;
    pthread_t thread;
    atomic_long requests;
    up_conn_t **conns;          //  by fd
    int conns_cap;
    int max_fd;                 //  highest fd in use
    uint64_t next_scan;         //  when held streams are looked at next
} upstream_t;

//  Append to a connection's output.
static void
s_out (up_conn_t *c, const char *data, size_t size)
{
    if (c->out_len + size > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 65536;
        while (cap < c->out_len + size)
            cap *= 2;
        c->out = (char *) realloc (c->out, cap);
        c->out_cap = cap;
    }
    memcpy (c->out + c->out_len, data, size);
    c->out_len += size;
}

//  Append one chunk.
static void
s_out_chunk (up_conn_t *c, const char *data, size_t size)
{
    char head [32];
    int n = snprintf (head, sizeof head, "%zx\r\n", size);
    s_out (c, head, (size_t) n);
    s_out (c, data, size);
    s_out (c, "\r\n", 2);
}

//  Produce more of the answer (up to about 256 KiB queued).
static void
s_generate (up_conn_t *c, uint64_t now)
{
    static char block [65536];
    if (!block [0])
        memset (block, 'x', sizeof block);
    while (c->kind != G_NONE && c->out_len - c->out_off < 262144) {
        if (c->kind == G_BULK) {
            size_t n = c->left < sizeof block ? (size_t) c->left : sizeof block;
            s_out_chunk (c, block, n);
            c->left -= n;
        }
        else
        if (c->kind == G_EVENTS) {
            s_out_chunk (c, EVENT_TEXT, strlen (EVENT_TEXT));
            c->left--;
        }
        else
        if (c->kind == G_HOLD) {
            if (now < c->next_ns)
                return;
            s_out_chunk (c, EVENT_TEXT, strlen (EVENT_TEXT));
            c->left--;
            c->next_ns = now + c->gap_ns;
        }
        if (c->left == 0) {
            s_out (c, "0\r\n\r\n", 5);
            c->kind = G_NONE;
        }
    }
}

//  A whole request is in: start its answer.
static void
s_answer (upstream_t *up, up_conn_t *c, const char *path, uint64_t now)
{
    atomic_fetch_add (&up->requests, 1);
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";
    s_out (c, head, strlen (head));
    const char *query = strchr (path, '?');
    long n = query ? atol (strchr (query, '=') ? strchr (query, '=') + 1 : "0") : 0;
    if (strncmp (path, "/bulk", 5) == 0) {
        c->kind = G_BULK;
        c->left = (uint64_t) n << 20;
    }
    else
    if (strncmp (path, "/events", 7) == 0) {
        c->kind = G_EVENTS;
        c->left = (uint64_t) n;
    }
    else
    if (query && strstr (query, "hold=")) {
        const char *gap = strstr (query, "gap=");
        c->kind = G_HOLD;
        c->left = (uint64_t) n;
        c->gap_ns = (uint64_t) (gap ? atol (gap + 4) : 1000) * 1000000ull;
        c->next_ns = now;
    }
    else {
        //  A short chat stream: its first event at once
        c->kind = G_EVENTS;
        c->left = 4;
    }
    s_generate (c, now);
}

//  Write what is queued; arm EPOLLOUT while something stays. -1: closed.
static int
s_flush (upstream_t *up, up_conn_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send (c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0)
            return -1;
        c->out_off += (size_t) n;
        if (c->out_off == c->out_len)
            c->out_off = c->out_len = 0;
        s_generate (c, s_now_ns ());
    }
    bool want = c->out_off < c->out_len;
    if (want != c->want_out) {
        struct epoll_event event = { .events = EPOLLIN | (want ? EPOLLOUT : 0),
                                     .data.ptr = c };
        epoll_ctl (up->ep, EPOLL_CTL_MOD, c->fd, &event);
        c->want_out = want;
    }
    return 0;
}

//  Close a connection.
static void
s_close (upstream_t *up, up_conn_t *c)
{
    epoll_ctl (up->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close (c->fd);
    up->conns [c->fd] = NULL;
    free (c->out);
    free (c);
}

//  Read requests (keep-alive; a body by Content-Length).
static int
s_read (upstream_t *up, up_conn_t *c)
{
    while (true) {
        ssize_t n = recv (c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0)
            return -1;
        c->in_len += (size_t) n;
        while (true) {
            char *end = memmem (c->in, c->in_len, "\r\n\r\n", 4);
            if (!end)
                break;
            size_t head = (size_t) (end - c->in) + 4;
            char *length = strcasestr (c->in, "\r\nContent-Length:");
            size_t body = length && length < end ? (size_t) atol (length + 17) : 0;
            if (head + body > sizeof c->in)
                return -1;
            if (c->in_len < head + body)
                break;
            char path [256] = "";
            sscanf (c->in, "%*s %255s", path);
            if (c->kind != G_NONE)
                return -1;          //  no pipelining here
            s_answer (up, c, path, s_now_ns ());
            memmove (c->in, c->in + head + body, c->in_len - head - body);
            c->in_len -= head + body;
        }
        if (c->in_len == sizeof c->in)
            return -1;
    }
    return s_flush (up, c);
}

//  The server's loop.
static void *
s_upstream_loop (void *arg)
{
    upstream_t *up = (upstream_t *) arg;
    struct epoll_event events [256];
    while (!atomic_load (&up->stop)) {
        int n = epoll_wait (up->ep, events, 256, 1);
        uint64_t now = s_now_ns ();
        for (int i = 0; i < n; i++) {
            if (events [i].data.ptr == NULL) {
                int fd;
                while ((fd = accept4 (up->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    int on = 1;
                    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                    if (fd >= up->conns_cap) {
                        close (fd);
                        continue;
                    }
                    up_conn_t *c = (up_conn_t *) calloc (1, sizeof (up_conn_t));
                    c->fd = fd;
                    up->max_fd = fd > up->max_fd ? fd : up->max_fd;
                    up->conns [fd] = c;
                    struct epoll_event event = { .events = EPOLLIN, .data.ptr = c };
                    epoll_ctl (up->ep, EPOLL_CTL_ADD, fd, &event);
                }
                continue;
            }
            up_conn_t *c = (up_conn_t *) events [i].data.ptr;
            int rc = 0;
            if (events [i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                rc = s_read (up, c);
            if (rc == 0 && (events [i].events & EPOLLOUT))
                rc = s_flush (up, c);
            if (rc)
                s_close (up, c);
        }
        //  Held streams: their next event when due (looked at every 5 ms)
        if (now < up->next_scan)
            continue;
        up->next_scan = now + 1000000;
        for (int fd = 0; fd <= up->max_fd; fd++) {
            up_conn_t *c = up->conns [fd];
            if (c && c->kind == G_HOLD && now >= c->next_ns) {
                s_generate (c, now);
                if (s_flush (up, c))
                    s_close (up, c);
            }
        }
    }
    for (int fd = 0; fd < up->conns_cap; fd++)
        if (up->conns [fd])
            s_close (up, up->conns [fd]);
    return NULL;
}

//  Start the upstream on 127.0.0.1:0.
static void
s_upstream_start (upstream_t *up)
{
    memset (up, 0, sizeof *up);
    up->listener = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t size = sizeof address;
    if (bind (up->listener, (struct sockaddr *) &address, size) || listen (up->listener, 4096)
        || getsockname (up->listener, (struct sockaddr *) &address, &size)) {
        perror ("proxy-bench: upstream");
        exit (1);
    }
    up->port = ntohs (address.sin_port);
    up->conns_cap = 65536;
    up->conns = (up_conn_t **) calloc ((size_t) up->conns_cap, sizeof (up_conn_t *));
    up->ep = epoll_create1 (EPOLL_CLOEXEC);
    struct epoll_event event = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl (up->ep, EPOLL_CTL_ADD, up->listener, &event);
    pthread_create (&up->thread, NULL, s_upstream_loop, up);
}

//  Stop it.
static void
s_upstream_stop (upstream_t *up)
{
    atomic_store (&up->stop, true);
    pthread_join (up->thread, NULL);
    close (up->listener);
    close (up->ep);
    free (up->conns);
}

//  ---------------------------------------------------------------------------
//  Processes

typedef struct {
    pid_t pid;
    const char *name;
} proc_t;

//  Programs started, stopped at exit whatever the path (an error exits at
//  once).
static pid_t s_started [8];
static int s_n_started;

//  Stop what is still running (atexit).
static void
s_stop_all (void)
{
    for (int i = 0; i < s_n_started; i++)
        if (s_started [i] > 0) {
            kill (s_started [i], SIGTERM);
            waitpid (s_started [i], NULL, 0);
        }
}

//  Forget a stopped program.
static void
s_forget (pid_t pid)
{
    for (int i = 0; i < s_n_started; i++)
        if (s_started [i] == pid)
            s_started [i] = 0;
}

//  Start a program with its output into log.
static proc_t
s_spawn (const char *name, char *const argv [], const char *log)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_addopen (&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2 (&actions, 1, 2);
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    proc_t proc = { 0, name };
    if (posix_spawn (&proc.pid, argv [0], &actions, NULL, argv, environ)) {
        fprintf (stderr, "proxy-bench: cannot start %s\n", argv [0]);
        exit (1);
    }
    posix_spawn_file_actions_destroy (&actions);
    if (s_n_started < 8)
        s_started [s_n_started++] = proc.pid;
    return proc;
}

//  Stop a program (SIGTERM, then SIGKILL after 10 s).
static void
s_stop (proc_t *proc)
{
    if (!proc->pid)
        return;
    s_forget (proc->pid);
    kill (proc->pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid (proc->pid, NULL, WNOHANG) == proc->pid) {
            proc->pid = 0;
            return;
        }
        poll (NULL, 0, 10);
    }
    kill (proc->pid, SIGKILL);
    waitpid (proc->pid, NULL, 0);
    proc->pid = 0;
}

//  A blocking connection to 127.0.0.1:port, or -1.
static int
s_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    if (connect (fd, (struct sockaddr *) &address, sizeof address)) {
        close (fd);
        return -1;
    }
    int on = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    struct timeval timeout = { 30, 0 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return fd;
}

//  Wait until something listens on port (bounded). Returns 0 or -1.
static int
s_wait_port (int port, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        int fd = s_connect (port);
        if (fd >= 0) {
            close (fd);
            return 0;
        }
        poll (NULL, 0, 20);
    }
    return -1;
}

//  A process's resident memory, KiB.
static long
s_rss_kb (pid_t pid)
{
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    long kb = 0;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kb = atol (line + 6);
    if (file)
        fclose (file);
    return kb;
}

//  ---------------------------------------------------------------------------
//  A blocking client reading chunked answers

typedef struct {
    int fd;
    char buf [1 << 17];
    size_t len, off;
} client_t;

//  Fill more bytes. Returns 0 or -1.
static int
s_fill (client_t *c)
{
    if (c->off && c->off == c->len)
        c->off = c->len = 0;
    if (c->len == sizeof c->buf) {
        memmove (c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    ssize_t n = recv (c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n <= 0)
        return -1;
    c->len += (size_t) n;
    return 0;
}

//  Read through the headers. Returns 0 or -1 (not a 200).
static int
s_head (client_t *c)
{
    char *end;
    while (!(end = memmem (c->buf + c->off, c->len - c->off, "\r\n\r\n", 4)))
        if (s_fill (c))
            return -1;
    bool ok = strncmp (c->buf + c->off, "HTTP/1.1 200", 12) == 0;
    c->off = (size_t) (end - c->buf) + 4;
    return ok ? 0 : -1;
}

//  Read one chunk; returns its size (0 at the end) or -1. The first byte
//  of the body arrived when it returns the first time.
static long
s_chunk (client_t *c)
{
    char *eol;
    while (!(eol = memmem (c->buf + c->off, c->len - c->off, "\r\n", 2)))
        if (s_fill (c))
            return -1;
    long size = strtol (c->buf + c->off, NULL, 16);
    c->off = (size_t) (eol - c->buf) + 2;
    size_t need = (size_t) size + 2;
    while (need) {
        size_t have = c->len - c->off;
        size_t take = have < need ? have : need;
        c->off += take;
        need -= take;
        if (need && s_fill (c))
            return -1;
    }
    return size;
}

//  Send a request on the client's connection.
static int
s_send (client_t *c, const char *method, const char *path, const char *body)
{
    char request [1024];
    int n = snprintf (request, sizeof request, "%s %s HTTP/1.1\r\nHost: bench\r\n"
                      "Authorization: Bearer bench-key\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n%s", method, path, strlen (body), body);
    return send (c->fd, request, (size_t) n, MSG_NOSIGNAL) == n ? 0 : -1;
}

//  ---------------------------------------------------------------------------
//  Measurements

#define PATHS 3
static const char *s_path_names [PATHS] = { "direct", "warmup-proxy", "nginx" };

//  Percentile of sorted values.
static double
s_pct (const double *sorted, int n, double p)
{
    if (n == 0)
        return NAN;
    int i = (int) ceil (p / 100.0 * n) - 1;
    return sorted [i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

//  Time to first byte through each path, interleaved.
static void
s_ttfb (const settings_t *set, const int ports [PATHS], bool have [PATHS])
{
    client_t *clients [PATHS];
    double *samples [PATHS];
    int n [PATHS] = { 0 };
    for (int p = 0; p < PATHS; p++) {
        clients [p] = (client_t *) calloc (1, sizeof (client_t));
        samples [p] = (double *) calloc ((size_t) set->requests, sizeof (double));
        clients [p]->fd = have [p] ? s_connect (ports [p]) : -1;
    }
    const char *body = "{\"model\":\"bench-model\",\"stream\":true,\"messages\":[{\"role\":"
                       "\"user\",\"content\":\"hello\"}]}";
    int warmup = set->requests / 10;
    for (int i = -warmup; i < set->requests; i++)
        for (int q = 0; q < PATHS; q++) {
            int p = (i + q) % PATHS;    //  rotate who goes first
            if (p < 0)
                p += PATHS;
            if (!have [p])
                continue;
            client_t *c = clients [p];
            uint64_t start = s_now_ns ();
            if (s_send (c, "POST", "/v1/chat/completions", body) || s_head (c)
                || s_chunk (c) <= 0) {
                fprintf (stderr, "proxy-bench: ttfb request via %s failed\n", s_path_names [p]);
                exit (1);
            }
            double us = (double) (s_now_ns () - start) / 1000.0;
            long size;
            while ((size = s_chunk (c)) > 0)
                ;
            if (size < 0) {
                fprintf (stderr, "proxy-bench: ttfb answer via %s broke\n", s_path_names [p]);
                exit (1);
            }
            if (i >= 0)
                samples [p][n [p]++] = us;
        }
    printf ("\ntime to first byte, %d requests per path, keep-alive, interleaved (us)\n",
            set->requests);
    printf ("  %-14s %9s %9s %9s %9s   %s\n", "path", "p50", "p90", "p99", "p99.9",
            "added p50 / p99 / p99.9");
    double base [3] = { 0 };
    for (int p = 0; p < PATHS; p++) {
        if (!have [p])
            continue;
        qsort (samples [p], (size_t) n [p], sizeof (double), s_cmp);
        double v50 = s_pct (samples [p], n [p], 50), v90 = s_pct (samples [p], n [p], 90),
               v99 = s_pct (samples [p], n [p], 99), v999 = s_pct (samples [p], n [p], 99.9);
        if (p == 0) {
            base [0] = v50;
            base [1] = v99;
            base [2] = v999;
            printf ("  %-14s %9.1f %9.1f %9.1f %9.1f\n", s_path_names [p], v50, v90, v99, v999);
        }
        else
            printf ("  %-14s %9.1f %9.1f %9.1f %9.1f   %+.1f / %+.1f / %+.1f\n",
                    s_path_names [p], v50, v90, v99, v999, v50 - base [0], v99 - base [1],
                    v999 - base [2]);
    }
    for (int p = 0; p < PATHS; p++) {
        if (clients [p]->fd >= 0)
            close (clients [p]->fd);
        free (clients [p]);
        free (samples [p]);
    }
}

//  One streamed answer read whole; returns body bytes and chunks.
static int
s_stream (int port, const char *path, uint64_t *bytes, uint64_t *chunks, double *seconds)
{
    client_t *c = (client_t *) calloc (1, sizeof (client_t));
    c->fd = s_connect (port);
    int rc = -1;
    uint64_t start = s_now_ns ();
    *bytes = *chunks = 0;
    if (c->fd >= 0 && s_send (c, "GET", path, "") == 0 && s_head (c) == 0) {
        long size;
        while ((size = s_chunk (c)) > 0) {
            *bytes += (uint64_t) size;
            (*chunks)++;
        }
        rc = size == 0 ? 0 : -1;
    }
    *seconds = (double) (s_now_ns () - start) / 1e9;
    if (c->fd >= 0)
        close (c->fd);
    free (c);
    return rc;
}

//  Throughput of a bulk body and of an event stream, best of 3 rounds.
static void
s_throughput (const settings_t *set, const int ports [PATHS], bool have [PATHS])
{
    double mbps [PATHS] = { 0 }, eps [PATHS] = { 0 };
    char bulk [64], events [64];
    snprintf (bulk, sizeof bulk, "/bulk?mb=%d", set->bulk_mb);
    snprintf (events, sizeof events, "/events?n=%d", set->events);
    for (int round = 0; round < 3; round++)
        for (int p = 0; p < PATHS; p++) {
            if (!have [p])
                continue;
            uint64_t bytes, chunks;
            double seconds;
            if (s_stream (ports [p], bulk, &bytes, &chunks, &seconds)
                || bytes != (uint64_t) set->bulk_mb << 20) {
                fprintf (stderr, "proxy-bench: bulk via %s failed\n", s_path_names [p]);
                exit (1);
            }
            double rate = (double) bytes / 1048576.0 / seconds;
            mbps [p] = rate > mbps [p] ? rate : mbps [p];
            if (s_stream (ports [p], events, &bytes, &chunks, &seconds)
                || bytes != (uint64_t) set->events * strlen (EVENT_TEXT)) {
                fprintf (stderr, "proxy-bench: events via %s failed (%" PRIu64 " bytes)\n",
                         s_path_names [p], bytes);
                exit (1);
            }
            rate = (double) set->events / seconds;
            eps [p] = rate > eps [p] ? rate : eps [p];
        }
    printf ("\nstreamed throughput, best of 3 interleaved rounds\n");
    printf ("  %-14s %12s %8s %14s %8s\n", "path", "bulk MiB/s", "ratio", "events/s", "ratio");
    for (int p = 0; p < PATHS; p++)
        if (have [p])
            printf ("  %-14s %12.1f %8.3f %14.0f %8.3f\n", s_path_names [p], mbps [p],
                    mbps [p] / mbps [0], eps [p], eps [p] / eps [0]);
    printf ("  (bulk: %d MiB in 64 KiB chunks; events: %d server-sent events of %zu bytes)\n",
            set->bulk_mb, set->events, strlen (EVENT_TEXT));
}

//  Hold n streams at once through a path, each `events` events gap_ms
//  apart; count every event; the path's RSS when pid is given. Prints a
//  row: with memory (memory true), or the delivered event rate.
static void
s_streams (int n, int events_each, int gap_ms, int port, pid_t pid, const char *name,
           bool memory)
{
    int ep = epoll_create1 (EPOLL_CLOEXEC);
    int *fds = (int *) calloc ((size_t) n, sizeof (int));
    uint64_t *received = (uint64_t *) calloc ((size_t) n, sizeof (uint64_t));
    bool *ended = (bool *) calloc ((size_t) n, sizeof (bool));
    //  Where each stream is in the two patterns counted, byte by byte (a
    //  pattern may straddle two reads)
    uint8_t *in_event = (uint8_t *) calloc ((size_t) n, 1);
    uint8_t *in_end = (uint8_t *) calloc ((size_t) n, 1);
    static const char event_mark [] = "data: ", end_mark [] = "\r\n0\r\n\r\n";
    long rss_idle = pid ? s_rss_kb (pid) : 0;
    char body [256], request [512];
    snprintf (body, sizeof body, "{\"model\":\"bench-model\",\"stream\":true}");
    int length = snprintf (request, sizeof request,
                           "POST /v1/chat/completions?hold=%d&gap=%d HTTP/1.1\r\n"
                           "Host: bench\r\nContent-Length: %zu\r\n\r\n%s", events_each,
                           gap_ms, strlen (body), body);
    uint64_t start = s_now_ns ();
    int open = 0;
    for (int i = 0; i < n; i++) {
        fds [i] = s_connect (port);
        if (fds [i] < 0 || send (fds [i], request, (size_t) length, MSG_NOSIGNAL) != length) {
            fprintf (stderr, "proxy-bench: stream %d via %s could not start\n", i, name);
            break;
        }
        fcntl (fds [i], F_SETFL, O_NONBLOCK);
        struct epoll_event event = { .events = EPOLLIN, .data.u32 = (uint32_t) i };
        epoll_ctl (ep, EPOLL_CTL_ADD, fds [i], &event);
        open++;
    }
    double open_s = (double) (s_now_ns () - start) / 1e9;
    long rss_peak = 0;
    int done = 0;
    static char buf [65536];
    uint64_t deadline = start + (uint64_t) events_each * (uint64_t) gap_ms * 1000000ull
                      + 30000000000ull;
    uint64_t next_sample = 0;
    while (done < open && s_now_ns () < deadline) {
        struct epoll_event events [256];
        int k = epoll_wait (ep, events, 256, 100);
        for (int j = 0; j < k; j++) {
            int i = (int) events [j].data.u32;
            while (true) {
                ssize_t got = recv (fds [i], buf, sizeof buf, 0);
                if (got > 0) {
                    for (ssize_t b = 0; b < got; b++) {
                        char byte = buf [b];
                        in_event [i] = byte == event_mark [in_event [i]] ? in_event [i] + 1
                                     : byte == event_mark [0];
                        if (in_event [i] == 6) {
                            received [i]++;
                            in_event [i] = 0;
                        }
                        in_end [i] = byte == end_mark [in_end [i]] ? in_end [i] + 1
                                   : byte == end_mark [0];
                        if (in_end [i] == 7 && !ended [i]) {
                            ended [i] = true;
                            done++;
                        }
                    }
                    continue;
                }
                if (got == 0 && !ended [i]) {
                    ended [i] = true;
                    done++;
                }
                if (got == 0)
                    epoll_ctl (ep, EPOLL_CTL_DEL, fds [i], NULL);
                break;
            }
        }
        uint64_t now = s_now_ns ();
        if (pid && now >= next_sample) {
            long rss = s_rss_kb (pid);
            rss_peak = rss > rss_peak ? rss : rss_peak;
            next_sample = now + 200000000ull;
        }
    }
    double seconds = (double) (s_now_ns () - start) / 1e9;
    uint64_t complete = 0, events = 0;
    for (int i = 0; i < open; i++) {
        events += received [i];
        if (received [i] == (uint64_t) events_each)
            complete++;
        close (fds [i]);
    }
    poll (NULL, 0, 500);
    long rss_after = pid ? s_rss_kb (pid) : 0;
    if (memory)
        printf ("  %-14s %6d %7" PRIu64 " %9" PRIu64 "/%-9d %8.2f %9.1f %9.1f %9.1f %8.1f\n",
                name, open, complete, events, open * events_each, open_s, rss_idle / 1024.0,
                rss_peak / 1024.0, rss_after / 1024.0,
                open ? (rss_peak - rss_idle) / (double) open : 0.0);
    else
        printf ("  %-14s %6d %7" PRIu64 " %9" PRIu64 "/%-9d %10.2f %12.0f\n", name, open,
                complete, events, open * events_each, seconds, events / seconds);
    close (ep);
    free (fds);
    free (received);
    free (ended);
    free (in_event);
    free (in_end);
}

//  ---------------------------------------------------------------------------

//  Write nginx's configuration: a reverse proxy that streams.
static void
s_nginx_config (const char *dir, int listen, int upstream)
{
    char path [1200];
    snprintf (path, sizeof path, "%s/nginx.conf", dir);
    FILE *file = fopen (path, "w");
    fprintf (file,
             "daemon off;\nmaster_process off;\nworker_processes 1;\n"
             "worker_rlimit_nofile 16384;\npid %s/nginx.pid;\nerror_log %s/nginx.log warn;\n"
             "events { worker_connections 8192; }\n"
             "http {\n  access_log off;\n  keepalive_requests 1000000;\n  client_body_temp_path %s;\n  proxy_temp_path %s;\n"
             "  fastcgi_temp_path %s;\n  uwsgi_temp_path %s;\n  scgi_temp_path %s;\n"
             "  upstream up { server 127.0.0.1:%d; keepalive 256; }\n"
             "  server {\n    listen 127.0.0.1:%d;\n    location / {\n"
             "      proxy_pass http://up;\n      proxy_http_version 1.1;\n"
             "      proxy_set_header Connection \"\";\n      proxy_buffering off;\n"
             "      proxy_request_buffering off;\n      proxy_read_timeout 600s;\n"
             "    }\n  }\n}\n", dir, dir, dir, dir, dir, dir, dir, upstream, listen);
    fclose (file);
}

int
main (int argc, char **argv)
{
    settings_t set = { .requests = 5000, .bulk_mb = 256, .events = 200000, .streams = 1000,
                       .hold_s = 10, .nginx = NULL };
    bool no_nginx = false;
    int hold = 0;               //  --hold S: serve S seconds first (for a look by hand)
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv [i], "--quick") == 0)
            set.quick = true;
        else
        if (strcmp (argv [i], "--no-nginx") == 0)
            no_nginx = true;
        else
        if (strcmp (argv [i], "--hold") == 0 && i + 1 < argc)
            hold = atoi (argv [++i]);
        else
        if (strcmp (argv [i], "--requests") == 0 && i + 1 < argc)
            set.requests = atoi (argv [++i]);
        else
        if (strcmp (argv [i], "--streams") == 0 && i + 1 < argc)
            set.streams = atoi (argv [++i]);
        else {
            fprintf (stderr, "usage: proxy-bench [--quick] [--no-nginx] [--requests N] "
                     "[--streams N]\n  defaults: 5000 requests per path, 1000 streams "
                     "held 10 s, nginx when /usr/sbin/nginx exists\n");
            return 2;
        }
    }
    if (set.quick) {
        set.requests = 300;
        set.bulk_mb = 16;
        set.events = 10000;
        set.streams = 50;
        set.hold_s = 2;
    }
    if (set.requests < 10 || set.streams < 1) {
        fprintf (stderr, "proxy-bench: --requests >= 10, --streams >= 1\n");
        return 2;
    }
    if (!no_nginx && access ("/usr/sbin/nginx", X_OK) == 0)
        set.nginx = "/usr/sbin/nginx";
    signal (SIGPIPE, SIG_IGN);
    atexit (s_stop_all);
    struct rlimit limit;
    getrlimit (RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit (RLIMIT_NOFILE, &limit);
    //  The programs beside this one
    char self [1024];
    ssize_t got = readlink ("/proc/self/exe", self, sizeof self - 1);
    self [got > 0 ? got : 0] = 0;
    snprintf (set.bin_dir, sizeof set.bin_dir, "%s", self);
    char *slash = strrchr (set.bin_dir, '/');
    if (slash)
        *slash = 0;

    char dir [] = "/tmp/proxy-bench-XXXXXX";
    if (!mkdtemp (dir)) {
        perror ("proxy-bench: mkdtemp");
        return 1;
    }
    upstream_t up;
    s_upstream_start (&up);
    int ports [PATHS] = { up.port, bench_free_port (), bench_free_port () };
    bool have [PATHS] = { true, true, set.nginx != NULL };

    char bus_bin [1100], proxy_bin [1100], log [1200], pub [1200], sub [1200], data [1200];
    char listen [64], upstream [64];
    snprintf (bus_bin, sizeof bus_bin, "%s/warmup-bus", set.bin_dir);
    snprintf (proxy_bin, sizeof proxy_bin, "%s/warmup-proxy", set.bin_dir);
    snprintf (log, sizeof log, "%s/programs.log", dir);
    snprintf (pub, sizeof pub, "ipc://%s/pub", dir);
    snprintf (sub, sizeof sub, "ipc://%s/sub", dir);
    snprintf (data, sizeof data, "%s/var", dir);
    snprintf (listen, sizeof listen, "127.0.0.1:%d", ports [1]);
    snprintf (upstream, sizeof upstream, "http://127.0.0.1:%d", up.port);
    char *bus_argv [] = { bus_bin, "--pub-endpoint", pub, "--sub-endpoint", sub, NULL };
    proc_t bus = s_spawn ("warmup-bus", bus_argv, log);
    char *proxy_argv [] = { proxy_bin, "--pub-endpoint", pub, "--sub-endpoint", sub,
                            "--data-dir", data, "--proxy-listen", listen,
                            "--proxy-upstream", upstream, NULL };
    proc_t proxy = s_spawn ("warmup-proxy", proxy_argv, log);
    proc_t nginx = { 0, "nginx" };
    if (set.nginx) {
        s_nginx_config (dir, ports [2], up.port);
        char conf [1200];
        snprintf (conf, sizeof conf, "%s/nginx.conf", dir);
        char *nginx_argv [] = { (char *) set.nginx, "-c", conf, "-e", log, NULL };
        nginx = s_spawn ("nginx", nginx_argv, log);
    }
    for (int p = 1; p < PATHS; p++)
        if (have [p] && s_wait_port (ports [p], 20000)) {
            fprintf (stderr, "proxy-bench: %s did not listen (see %s)\n", s_path_names [p], log);
            have [p] = false;
            if (p == 1)
                return 1;
        }

    char cpu [256];
    bench_cpu_model (cpu, sizeof cpu);
    double load [3] = { 0 };
    getloadavg (load, 3);
    printf ("proxy-bench: %s, %ld CPUs, load %.2f %.2f %.2f at start\n", cpu,
            sysconf (_SC_NPROCESSORS_ONLN), load [0], load [1], load [2]);
    printf ("paths: direct to the upstream (a thread of this program); warmup-proxy "
            "(libmicrohttpd + libcurl multi, one thread, with warmup-bus)%s\n",
            set.nginx ? "; nginx 1 worker, proxy_buffering off, upstream keepalive" : "");
    fflush (stdout);

    if (hold > 0) {
        printf ("holding %d s: upstream 127.0.0.1:%d, warmup-proxy 127.0.0.1:%d, nginx "
                "127.0.0.1:%d\n", hold, ports [0], ports [1], ports [2]);
        fflush (stdout);
        sleep ((unsigned) hold);
    }
    s_ttfb (&set, ports, have);
    fflush (stdout);
    s_throughput (&set, ports, have);
    fflush (stdout);
    int paced = set.quick ? 20 : 100, paced_events = set.quick ? 100 : 500;
    printf ("\npaced streams: %d at once, %d events each, one every 10 ms (a fast model's "
            "token rate)\n", paced, paced_events);
    printf ("  %-14s %6s %7s %19s %10s %12s\n", "path", "open", "whole", "events got/sent",
            "seconds", "events/s");
    for (int p = 0; p < PATHS; p++)
        if (have [p])
            s_streams (paced, paced_events, 10, ports [p], 0, s_path_names [p], false);
    fflush (stdout);
    printf ("\n%d concurrent streams held %d s (an event per second each)\n", set.streams,
            set.hold_s);
    printf ("  %-14s %6s %7s %19s %8s %9s %9s %9s %8s\n", "path", "open", "whole",
            "events got/sent", "open s", "RSS idle", "RSS held", "RSS after", "KiB/conn");
    s_streams (set.streams, set.hold_s, 1000, ports [1], proxy.pid, "warmup-proxy", true);
    if (have [2])
        s_streams (set.streams, set.hold_s, 1000, ports [2], nginx.pid, "nginx", true);
    printf ("  (RSS in MiB; KiB/conn = (held - idle) / streams)\n");
    getloadavg (load, 3);
    printf ("\nload %.2f %.2f %.2f at the end\n", load [0], load [1], load [2]);

    s_stop (&nginx);
    s_stop (&proxy);
    s_stop (&bus);
    s_upstream_stop (&up);
    char command [1300];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    if (system (command) != 0)
        fprintf (stderr, "proxy-bench: could not remove %s\n", dir);
    return 0;
}
