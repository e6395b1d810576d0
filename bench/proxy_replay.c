/*  =========================================================================
    proxy-replay - what a person feels: the time to the first token of
    real requests through warmupd's proxy to a real llama-server, with the
    router's own loading (warmup off) and with warmup on.

    It takes the busiest units of a trace (timestamp_ms,user,model; by
    request count, ties by name), maps each to its own GGUF file of a real
    format and size (tools/make-test-gguf.py, RANDOM WEIGHTS, made once
    into a cache), starts llama-server in router mode over them with
    --models-max below their number, and for each run starts a fresh
    warmupd (--proxy-listen, backend llama-server for every unit) and
    replays the slice through the proxy, compressed `speed` times, every
    request a one-token streamed completion sent at its (compressed) time:
      (a) off: background_warmup_enabled = false: the router loads on demand
          and evicts the least recently used;
      (b) on:  the service warms what it predicts and cools the rest
          within max_warm_models = --models-max.
    The service's time constants (horizon, prediction ttl, usage window)
    are divided by speed, so the trace keeps its shape against them.
    Per run: requests, requests that waited for a load (the model was not
    loaded in the router when the request was sent: sampled every 50 ms),
    time to first token p50 / p95 / p99, and memory-time of the loaded
    models (resident memory of the router's model processes, sampled).
    =========================================================================
*/
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

extern char **environ;

#define UNITS_MAX 8
#define NAME_MAX_ 128

//  Settings.
typedef struct {
    const char *trace;          //  trace file (.csv or .csv.gz)
    int units;                  //  busiest units replayed
    double speed;               //  time compression
    double minutes;             //  trace minutes replayed (from its start)
    int models_max;             //  router's --models-max
    const char *runs;           //  "off,on"
    char source [1024];         //  the source tree (tools/, data/)
    char bin [1024];            //  warmupd
    char llama [1024];          //  llama-server cache (bin/, src/gguf-py)
    char models [1100];         //  where the units' GGUF files are made
} settings_t;

//  One request of the slice.
typedef struct {
    uint64_t at_ms;             //  trace time
    int unit;                   //  index into the units
    char user [64];
} request_t;

//  Monotonic ms.
static double
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

//  ---------------------------------------------------------------------------
//  The slice

typedef struct {
    char model [NAME_MAX_];     //  the trace's unit name
    char name [NAME_MAX_];      //  its model name here (file name, '/' -> '-')
    int count;
} unit_t;

static int
s_by_count (const void *a, const void *b)
{
    const unit_t *x = (const unit_t *) a, *y = (const unit_t *) b;
    return x->count != y->count ? y->count - x->count : strcmp (x->model, y->model);
}

//  Read the trace's first `minutes`; keep the busiest units' requests.
static int
s_slice (const settings_t *set, unit_t *units, request_t **requests, size_t *n_requests)
{
    gzFile file = gzopen (set->trace, "rb");
    if (!file) {
        fprintf (stderr, "proxy-replay: cannot read %s\n", set->trace);
        return -1;
    }
    size_t cap = 4096, all_n = 0, units_cap = 1024, n_all_units = 0;
    request_t *all = (request_t *) malloc (cap * sizeof (request_t));
    unit_t *seen = (unit_t *) calloc (units_cap, sizeof (unit_t));
    int *unit_of = (int *) malloc (cap * sizeof (int));
    char line [512];
    uint64_t limit = (uint64_t) (set->minutes * 60000.0);
    int lineno = 0;
    while (gzgets (file, line, sizeof line)) {
        if (lineno++ == 0)
            continue;
        char *c1 = strchr (line, ','), *c2 = c1 ? strchr (c1 + 1, ',') : NULL;
        if (!c1 || !c2)
            continue;
        uint64_t at = strtoull (line, NULL, 10);
        if (at >= limit)
            break;
        *c2 = 0;
        char *model = c2 + 1;
        model [strcspn (model, "\r\n")] = 0;
        size_t u;
        for (u = 0; u < n_all_units; u++)
            if (strcmp (seen [u].model, model) == 0)
                break;
        if (u == n_all_units) {
            if (n_all_units == units_cap)
                continue;
            snprintf (seen [u].model, NAME_MAX_, "%s", model);
            n_all_units++;
        }
        seen [u].count++;
        if (all_n == cap) {
            cap *= 2;
            all = (request_t *) realloc (all, cap * sizeof (request_t));
            unit_of = (int *) realloc (unit_of, cap * sizeof (int));
        }
        all [all_n].at_ms = at;
        snprintf (all [all_n].user, sizeof all [all_n].user, "%.*s", (int) (c2 - c1 - 1), c1 + 1);
        unit_of [all_n++] = (int) u;
    }
    gzclose (file);
    //  The busiest
    unit_t *sorted = (unit_t *) malloc (n_all_units * sizeof (unit_t));
    memcpy (sorted, seen, n_all_units * sizeof (unit_t));
    qsort (sorted, n_all_units, sizeof (unit_t), s_by_count);
    int n = set->units < (int) n_all_units ? set->units : (int) n_all_units;
    for (int i = 0; i < n; i++) {
        units [i] = sorted [i];
        memcpy (units [i].name, units [i].model, NAME_MAX_);
        for (char *c = units [i].name; *c; c++)
            if (*c == '/')
                *c = '-';
    }
    *requests = (request_t *) malloc (all_n * sizeof (request_t));
    *n_requests = 0;
    for (size_t r = 0; r < all_n; r++)
        for (int i = 0; i < n; i++)
            if (strcmp (seen [unit_of [r]].model, units [i].model) == 0) {
                (*requests) [*n_requests] = all [r];
                (*requests) [(*n_requests)++].unit = i;
            }
    free (sorted);
    free (seen);
    free (unit_of);
    free (all);
    return n;
}

//  ---------------------------------------------------------------------------
//  Processes

//  Run a command to its end; returns its exit code.
static int
s_run (char *const argv [])
{
    pid_t pid;
    if (posix_spawn (&pid, argv [0], NULL, NULL, argv, environ))
        return -1;
    int status = 0;
    waitpid (pid, &status, 0);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  Start a program, output into log.
static pid_t
s_spawn (char *const argv [], const char *log)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_addopen (&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2 (&actions, 1, 2);
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid = 0;
    if (posix_spawn (&pid, argv [0], &actions, NULL, argv, environ)) {
        fprintf (stderr, "proxy-replay: cannot start %s\n", argv [0]);
        exit (1);
    }
    posix_spawn_file_actions_destroy (&actions);
    return pid;
}

//  Stop a program: SIGTERM, SIGKILL after 30 s.
static void
s_stop (pid_t pid)
{
    if (pid <= 0)
        return;
    kill (pid, SIGTERM);
    for (int i = 0; i < 3000; i++) {
        if (waitpid (pid, NULL, WNOHANG) == pid)
            return;
        poll (NULL, 0, 10);
    }
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
}

//  Wait for a line containing needle in a log file (bounded).
static int
s_wait_log (const char *log, const char *needle, int timeout_ms, char *line_out, size_t size)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        FILE *file = fopen (log, "r");
        char line [2048];
        while (file && fgets (line, sizeof line, file))
            if (strstr (line, needle)) {
                if (line_out)
                    snprintf (line_out, size, "%s", line);
                fclose (file);
                return 0;
            }
        if (file)
            fclose (file);
        poll (NULL, 0, 50);
    }
    return -1;
}

//  Sum of VmRSS (KiB) of the processes whose parent is pid.
static long
s_children_rss_kb (pid_t parent)
{
    DIR *proc = opendir ("/proc");
    struct dirent *entry;
    long total = 0;
    while (proc && (entry = readdir (proc))) {
        if (entry->d_name [0] < '0' || entry->d_name [0] > '9')
            continue;
        char path [300], text [1024];
        snprintf (path, sizeof path, "/proc/%s/stat", entry->d_name);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        size_t got = fread (text, 1, sizeof text - 1, file);
        fclose (file);
        text [got] = 0;
        const char *close_paren = strrchr (text, ')');
        int ppid = 0;
        char state;
        if (!close_paren || sscanf (close_paren + 2, "%c %d", &state, &ppid) != 2
            || ppid != parent)
            continue;
        snprintf (path, sizeof path, "/proc/%s/status", entry->d_name);
        file = fopen (path, "r");
        while (file && fgets (text, sizeof text, file))
            if (strncmp (text, "VmRSS:", 6) == 0)
                total += atol (text + 6);
        if (file)
            fclose (file);
    }
    if (proc)
        closedir (proc);
    return total;
}

//  ---------------------------------------------------------------------------
//  HTTP

typedef struct {
    char *data;
    size_t len;
} buffer_t;

static size_t
s_keep (char *data, size_t size, size_t count, void *arg)
{
    buffer_t *buffer = (buffer_t *) arg;
    size_t n = size * count;
    buffer->data = (char *) realloc (buffer->data, buffer->len + n + 1);
    memcpy (buffer->data + buffer->len, data, n);
    buffer->len += n;
    buffer->data [buffer->len] = 0;
    return n;
}

//  GET url into a buffer (caller frees .data); returns the status.
static long
s_get (CURL *easy, const char *url, buffer_t *out)
{
    out->data = NULL;
    out->len = 0;
    curl_easy_reset (easy);
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_keep);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, out);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt (easy, CURLOPT_NOPROXY, "*");
    long status = 0;
    if (curl_easy_perform (easy) == CURLE_OK)
        curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

//  Which units the router has loaded ('L'), is loading ('l'), or not ('-').
static void
s_router_state (CURL *easy, const char *router, const unit_t *units, int n, char *state)
{
    char url [256];
    snprintf (url, sizeof url, "%s/models", router);
    buffer_t reply;
    memset (state, '?', (size_t) n);
    if (s_get (easy, url, &reply) == 200 && reply.data)
        for (int i = 0; i < n; i++) {
            char needle [NAME_MAX_ + 16];
            snprintf (needle, sizeof needle, "\"id\":\"%s\"", units [i].name);
            const char *at = strstr (reply.data, needle);
            const char *value = at ? strstr (at, "\"value\":\"") : NULL;
            state [i] = !value ? '-' : strncmp (value + 9, "loaded", 6) == 0 ? 'L'
                      : strncmp (value + 9, "loading", 7) == 0 ? 'l' : '-';
        }
    free (reply.data);
}

//  One request in flight.
typedef struct {
    CURL *easy;
    struct curl_slist *headers;
    double sent_ms;
    double first_ms;            //  first body byte (0: none yet)
    bool waited;                //  its model was not loaded when sent
    char body [256];
} flight_t;

static size_t
s_first (char *data, size_t size, size_t count, void *arg)
{
    flight_t *flight = (flight_t *) arg;
    if (!flight->first_ms && size * count > 0)
        flight->first_ms = s_now_ms ();
    return size * count;
}

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
s_pct (const double *sorted, size_t n, double p)
{
    if (!n)
        return NAN;
    size_t i = (size_t) ceil (p / 100.0 * (double) n);
    return sorted [i ? (i > n ? n - 1 : i - 1) : 0];
}

//  ---------------------------------------------------------------------------
//  One run

typedef struct {
    const char *name;
    size_t requests, answered, waited, failed;
    double p50, p95, p99, mean;
    double gib_s;               //  memory-time of the router's models, GiB x s (wall)
    double loaded_s;            //  model-seconds loaded (wall)
    double wall_s;
} result_t;

static void
s_run_one (const settings_t *set, const unit_t *units, int n_units, const request_t *requests,
           size_t n_requests, bool warmup, const char *dir, result_t *result)
{
    memset (result, 0, sizeof *result);
    result->name = warmup ? "on" : "off";
    char log [1200], router_log [1200], config [1200], data [1200], pub [1200], sub [1200];
    snprintf (log, sizeof log, "%s/warmupd-%s.log", dir, result->name);
    snprintf (router_log, sizeof router_log, "%s/llama-server-%s.log", dir, result->name);
    snprintf (config, sizeof config, "%s/warmup-%s.cfg", dir, result->name);
    snprintf (data, sizeof data, "%s/var-%s", dir, result->name);
    snprintf (pub, sizeof pub, "ipc://%s/pub-%s", dir, result->name);
    snprintf (sub, sizeof sub, "ipc://%s/sub-%s", dir, result->name);

    //  A fresh router per run: nothing loaded at the start
    char server [1100], models_max [16], port_text [16], router [64];
    int port = 20000 + (int) (getpid () % 20000);
    snprintf (server, sizeof server, "%s/bin/llama-server", set->llama);
    snprintf (models_max, sizeof models_max, "%d", set->models_max);
    snprintf (port_text, sizeof port_text, "%d", port);
    snprintf (router, sizeof router, "http://127.0.0.1:%d", port);
    //  The router sees this run's units only: links to their files
    char models_dir [1200];
    snprintf (models_dir, sizeof models_dir, "%s/models", dir);
    mkdir (models_dir, 0755);
    for (int i = 0; i < n_units; i++) {
        char target [1400], link_path [1400];
        snprintf (target, sizeof target, "%s/%s.gguf", set->models, units [i].name);
        snprintf (link_path, sizeof link_path, "%s/%s.gguf", models_dir, units [i].name);
        if (symlink (target, link_path) && errno != EEXIST) {
            fprintf (stderr, "proxy-replay: cannot link %s\n", link_path);
            exit (1);
        }
    }
    char *router_argv [] = { server, "--models-dir", models_dir, "--models-max",
                             models_max, "--host", "127.0.0.1", "--port", port_text,
                             "-c", "512", "-t", "2", NULL };
    pid_t router_pid = s_spawn (router_argv, router_log);
    if (s_wait_log (router_log, "listening", 60000, NULL, 0)) {
        fprintf (stderr, "proxy-replay: llama-server did not start (%s)\n", router_log);
        exit (1);
    }

    //  warmupd with the proxy, its time constants divided by speed
    FILE *file = fopen (config, "w");
    unsigned horizon = (unsigned) fmax (1, 300 / set->speed);
    fprintf (file,
             "background_warmup_enabled = %s\nmax_warm_models = %d\nmax_memory_mb = %d\n"
             "max_cpu_percent = 0\nprediction_horizon_seconds = %u\n"
             "prediction_cache_ttl_seconds = %u\nusage_window_seconds = %u\n"
             "metrics_listen = off\nstore\n    data_dir = \"%s\"\n    nosync = true\n"
             "bus\n    pub_endpoint = \"%s\"\n    sub_endpoint = \"%s\"\n"
             "proxy\n    listen = \"127.0.0.1:0\"\n    upstream = \"%s\"\nmodels\n",
             warmup ? "true" : "false", set->models_max, set->models_max * 400, horizon,
             horizon, (unsigned) fmax (60, 3600 / set->speed), data, pub, sub, router);
    for (int i = 0; i < n_units; i++)
        fprintf (file, "    %s\n        backend = llama-server\n        url = \"%s\"\n"
                 "        memory_mb = 400\n        load_ms = 1000\n        timeout_seconds = 120\n",
                 units [i].name, router);
    fclose (file);
    char warmupd [1100];
    snprintf (warmupd, sizeof warmupd, "%s/warmupd", set->bin);
    char *warmupd_argv [] = { warmupd, "-c", config, NULL };
    pid_t daemon = s_spawn (warmupd_argv, log);
    char line [2048];
    if (s_wait_log (log, "proxy: serving http://", 30000, line, sizeof line)
        || s_wait_log (log, "ready", 30000, NULL, 0)) {
        fprintf (stderr, "proxy-replay: warmupd did not start (%s)\n", log);
        exit (1);
    }
    char proxy [128];
    const char *at = strstr (line, "http://");
    snprintf (proxy, sizeof proxy, "%.*s", (int) strcspn (at, " \n"), at);
    size_t length = strlen (proxy);
    if (length && proxy [length - 1] == '/')
        proxy [length - 1] = 0;

    //  The replay
    CURLM *multi = curl_multi_init ();
    CURL *probe = curl_easy_init ();
    flight_t *flights = (flight_t *) calloc (n_requests, sizeof (flight_t));
    char state [UNITS_MAX];
    double start = s_now_ms (), last_sample = start, next_state = 0;
    size_t next = 0;
    int running = 0;
    long rss_kb = 0;
    s_router_state (probe, router, units, n_units, state);
    while (next < n_requests || running) {
        double now = s_now_ms ();
        if (now >= next_state) {
            s_router_state (probe, router, units, n_units, state);
            //  Memory-time since the last sample, at the last RSS
            result->gib_s += (double) rss_kb / 1048576.0 * (now - last_sample) / 1000.0;
            for (int i = 0; i < n_units; i++)
                if (state [i] == 'L')
                    result->loaded_s += (now - last_sample) / 1000.0;
            rss_kb = s_children_rss_kb (router_pid);
            last_sample = now;
            next_state = now + 50;
        }
        while (next < n_requests
               && now >= start + (double) requests [next].at_ms / set->speed) {
            const request_t *r = &requests [next];
            flight_t *f = &flights [next++];
            f->waited = state [r->unit] != 'L';
            snprintf (f->body, sizeof f->body,
                      "{\"model\":\"%s\",\"prompt\":\"int main(void) {\",\"max_tokens\":1,"
                      "\"temperature\":0,\"stream\":true}", units [r->unit].name);
            char user [128], url [256];
            snprintf (user, sizeof user, "X-Warmup-User: %s", r->user);
            snprintf (url, sizeof url, "%s/v1/completions", proxy);
            f->headers = curl_slist_append (NULL, "Content-Type: application/json");
            f->headers = curl_slist_append (f->headers, user);
            f->easy = curl_easy_init ();
            curl_easy_setopt (f->easy, CURLOPT_URL, url);
            curl_easy_setopt (f->easy, CURLOPT_POSTFIELDS, f->body);
            curl_easy_setopt (f->easy, CURLOPT_HTTPHEADER, f->headers);
            curl_easy_setopt (f->easy, CURLOPT_WRITEFUNCTION, s_first);
            curl_easy_setopt (f->easy, CURLOPT_WRITEDATA, f);
            curl_easy_setopt (f->easy, CURLOPT_PRIVATE, f);
            curl_easy_setopt (f->easy, CURLOPT_TIMEOUT, 300L);
            curl_easy_setopt (f->easy, CURLOPT_NOPROXY, "*");
            f->sent_ms = s_now_ms ();
            curl_multi_add_handle (multi, f->easy);
        }
        curl_multi_perform (multi, &running);
        CURLMsg *message;
        int left;
        while ((message = curl_multi_info_read (multi, &left)))
            if (message->msg == CURLMSG_DONE) {
                flight_t *f = NULL;
                curl_easy_getinfo (message->easy_handle, CURLINFO_PRIVATE, (char **) &f);
                long status = 0;
                curl_easy_getinfo (message->easy_handle, CURLINFO_RESPONSE_CODE, &status);
                if (message->data.result != CURLE_OK || status != 200 || !f->first_ms) {
                    result->failed++;
                    f->first_ms = 0;
                }
                curl_multi_remove_handle (multi, f->easy);
                curl_easy_cleanup (f->easy);
                curl_slist_free_all (f->headers);
                f->easy = NULL;
            }
        curl_multi_poll (multi, NULL, 0, 10, NULL);
    }
    result->wall_s = (s_now_ms () - start) / 1000.0;
    double *ttft = (double *) malloc (n_requests * sizeof (double));
    double sum = 0;
    for (size_t i = 0; i < n_requests; i++) {
        result->requests++;
        if (flights [i].waited)
            result->waited++;
        if (flights [i].first_ms) {
            ttft [result->answered++] = flights [i].first_ms - flights [i].sent_ms;
            sum += flights [i].first_ms - flights [i].sent_ms;
        }
    }
    qsort (ttft, result->answered, sizeof (double), s_cmp);
    result->p50 = s_pct (ttft, result->answered, 50);
    result->p95 = s_pct (ttft, result->answered, 95);
    result->p99 = s_pct (ttft, result->answered, 99);
    result->mean = result->answered ? sum / (double) result->answered : NAN;
    free (ttft);
    free (flights);
    curl_easy_cleanup (probe);
    curl_multi_cleanup (multi);
    s_stop (daemon);
    s_stop (router_pid);
}

//  ---------------------------------------------------------------------------

//  Make the units' model files once (random weights).
static int
s_make_models (const settings_t *set, const unit_t *units, int n)
{
    mkdir (set->models, 0755);
    char script [1200], pythonpath [1200];
    snprintf (script, sizeof script, "%s/tools/make-test-gguf.py", set->source);
    snprintf (pythonpath, sizeof pythonpath, "%s/src/gguf-py", set->llama);
    setenv ("PYTHONPATH", pythonpath, 1);
    for (int i = 0; i < n; i++) {
        char path [1400], tmp [1500], seed [16];
        snprintf (path, sizeof path, "%s/%s.gguf", set->models, units [i].name);
        if (access (path, R_OK) == 0)
            continue;
        snprintf (tmp, sizeof tmp, "%s.tmp", path);
        snprintf (seed, sizeof seed, "%d", 100 + i);
        fprintf (stderr, "proxy-replay: writing %s (random weights)\n", path);
        char *argv [] = { "/usr/bin/python3", script, tmp, seed, NULL };
        if (s_run (argv) != 0 || rename (tmp, path)) {
            fprintf (stderr, "proxy-replay: could not write %s\n", path);
            return -1;
        }
    }
    return 0;
}

int
main (int argc, char **argv)
{
    settings_t set = { .units = 4, .speed = 10, .minutes = 60, .models_max = 2,
                       .runs = "off,on" };
    char self [1024];
    ssize_t got = readlink ("/proc/self/exe", self, sizeof self - 1);
    self [got > 0 ? got : 0] = 0;
    snprintf (set.bin, sizeof set.bin, "%s", self);
    char *slash = strrchr (set.bin, '/');
    if (slash)
        *slash = 0;
    //  build/bin -> the source tree is where CMake's cache says; default
    //  to the current directory
    snprintf (set.source, sizeof set.source, ".");
    const char *xdg = getenv ("XDG_CACHE_HOME");
    const char *llama = getenv ("WARMUP_LLAMA_DIR");
    if (llama && *llama)
        snprintf (set.llama, sizeof set.llama, "%s", llama);
    else
        snprintf (set.llama, sizeof set.llama, "%s/warmup-llama",
                  xdg && *xdg ? xdg : strcat (strcpy (self, getenv ("HOME")), "/.cache"));
    snprintf (set.models, sizeof set.models, "%s-replay", set.llama);
    set.trace = NULL;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv [i], *value = i + 1 < argc ? argv [i + 1] : NULL;
        if (!value)
            goto usage;
        i++;
        if (strcmp (flag, "--trace") == 0)
            set.trace = value;
        else
        if (strcmp (flag, "--units") == 0)
            set.units = atoi (value);
        else
        if (strcmp (flag, "--speed") == 0)
            set.speed = atof (value);
        else
        if (strcmp (flag, "--minutes") == 0)
            set.minutes = atof (value);
        else
        if (strcmp (flag, "--models-max") == 0)
            set.models_max = atoi (value);
        else
        if (strcmp (flag, "--runs") == 0)
            set.runs = value;
        else
        if (strcmp (flag, "--source") == 0)
            snprintf (set.source, sizeof set.source, "%s", value);
        else
            goto usage;
    }
    if (set.units < 2 || set.units > UNITS_MAX || set.speed < 1 || set.minutes <= 0
        || set.models_max < 1 || set.models_max >= set.units)
        goto usage;
    char trace [1200];
    if (!set.trace) {
        snprintf (trace, sizeof trace, "%s/data/servegen-dev-1h/trace.csv.gz", set.source);
        set.trace = trace;
    }
    char ready [1200];
    snprintf (ready, sizeof ready, "%s/READY", set.llama);
    if (access (ready, R_OK)) {
        fprintf (stderr, "proxy-replay: no llama-server cache at %s: run "
                 "tools/llama-server-setup.sh first\n", set.llama);
        return 1;
    }
    curl_global_init (CURL_GLOBAL_DEFAULT);
    signal (SIGPIPE, SIG_IGN);
    unit_t units [UNITS_MAX];
    request_t *requests = NULL;
    size_t n_requests = 0;
    int n_units = s_slice (&set, units, &requests, &n_requests);
    if (n_units < 2 || s_make_models (&set, units, n_units))
        return 1;
    char dir [] = "/tmp/proxy-replay-XXXXXX";
    if (!mkdtemp (dir))
        return 1;
    double load [3];
    getloadavg (load, 3);
    printf ("proxy-replay: %s, first %.0f min, the %d busiest units, speed x%.0f, "
            "llama-server --models-max %d, one-token streamed completions; load %.2f at start\n",
            set.trace, set.minutes, n_units, set.speed, set.models_max, load [0]);
    for (int i = 0; i < n_units; i++)
        printf ("  %-16s -> %s.gguf (%d requests)\n", units [i].model, units [i].name,
                units [i].count);
    fflush (stdout);
    result_t results [2];
    int n_results = 0;
    if (strstr (set.runs, "off"))
        s_run_one (&set, units, n_units, requests, n_requests, false, dir, &results [n_results++]);
    if (strstr (set.runs, "on"))
        s_run_one (&set, units, n_units, requests, n_requests, true, dir, &results [n_results++]);
    printf ("\n%-8s %9s %7s %8s %10s %10s %10s %10s %12s %12s\n", "warmup", "requests",
            "failed", "waited", "ttft p50", "ttft p95", "ttft p99", "mean", "GiB*s", "model*s");
    for (int i = 0; i < n_results; i++) {
        const result_t *r = &results [i];
        printf ("%-8s %9zu %7zu %8zu %8.0f ms %8.0f ms %8.0f ms %8.0f ms %12.1f %12.1f\n",
                r->name, r->requests, r->failed, r->waited, r->p50, r->p95, r->p99, r->mean,
                r->gib_s, r->loaded_s);
    }
    printf ("(GiB*s and model*s over the replay's wall time, %.0f s per run; times x%.0f for "
            "trace time)\n", n_results ? results [0].wall_s : 0.0, set.speed);
    getloadavg (load, 3);
    printf ("load %.2f at the end; logs in %s\n", load [0], dir);
    free (requests);
    curl_global_cleanup ();
    return 0;
usage:
    fprintf (stderr, "usage: proxy-replay [--trace FILE] [--units N] [--speed X] [--minutes M]\n"
             "                    [--models-max N] [--runs off,on] [--source DIR]\n"
             "  defaults: data/servegen-dev-1h (from --source, default .), 4 units, speed 10,\n"
             "  60 minutes, --models-max 2 (below the units)\n");
    return 2;
}
