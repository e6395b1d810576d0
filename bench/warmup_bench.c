/*  =========================================================================
    warmup-bench - throughput, latency and memory of the live pipeline,
    against raw PUB/SUB through the same proxy in the same run.

    For each mode (all-in-one warmupd; warmup-bus + one process per
    component) it starts the real programs in a scratch directory, then:
      throughput  N publisher threads emit usage events for U users and M
                  models as fast as the pipeline keeps up (each publisher
                  keeps at most `window` events not yet predicted), for D
                  seconds; a subscriber counts prediction.made events and
                  sequence gaps; at the end every component's heartbeat
                  gives its dropped count, RSS and learned state (the
                  analyzer's and the engine's bytes per pair), and
                  /proc/<pid>/status each process's RSS, anonymous and
                  file-mapped (again at the end of the at-rest phase).
      latency     one publisher at a fixed rate; usage -> prediction latency
                  as the subscriber sees it (prediction.cause.sent_us is the
                  usage's publish time).
      at rest     once the latency phase has drained and a second has passed
                  (the stores' last batch), no events for two windows of
                  `idle` seconds (60) each: the first, right after the
                  load, holds what the load left to do (the analyzer's
                  checkpoint of it); the second is the service at rest.
                  For each, the CPU every process of the pipeline takes (a
                  share of one core) and the bytes they write to disk
                  (/proc/<pid>/io write_bytes).
                  Meanwhile, the machine's CPU taken by other processes
                  (/proc/stat, less the pipeline's and the benchmark's own)
                  and stolen by a hypervisor: the latency is the
                  machine's as much as the pipeline's.
      raw         the same proxy program alone (warmup-bus), the same
                  publishers, message size and socket settings, one
                  subscriber, no processing: the limit, and the ratio.
    The deployment's defaults hold but for what a benchmark needs: no CPU
    cap (max_cpu_percent), room for every pair (max_pairs), the bus's
    high-water mark (hwm) and the endpoints; the heartbeat is the
    default's (1 s), so the at-rest phase measures what a deployment does.
    The bus runs on ipc:// sockets (no CURVE, the default there); with
    --curve-compare each mode runs again on tcp:// without CURVE and with
    it (docs/security.md), so its cost is a ratio within the same run.
    Prints a table, or --json.
    =========================================================================
*/
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <dirent.h>
#include "bench_util.h"
#include "wp_bus.h"
#include "wp_security.h"
#include "wp_util.h"

extern char **environ;

//  --- CPU time per thread (where the time goes) --------------------------

#define THREADS_MAX 64

//  CPU seconds of each named thread of a set of processes.
typedef struct {
    char name [THREADS_MAX][32];
    double seconds [THREADS_MAX];
    int n;
} cpu_t;

//  Settings.
typedef struct {
    int publishers;         //  publisher threads
    int users;              //  distinct users
    int models;             //  distinct models
    double duration_s;      //  throughput phase length
    double latency_s;       //  latency phase length
    double idle_s;          //  at-rest phase length
    int rate;               //  latency phase events/s
    int window;             //  events in flight per publisher at most
    bool json;              //  JSON output
    bool quick;             //  smoke-test settings
    const char *modes;      //  "both", "all-in-one", "per-process"
    bool nosync_compare;    //  also run all-in-one with store/nosync
    bool curve_compare;     //  also run each mode on tcp without and with CURVE
    char bin_dir [1024];    //  where the programs are
} settings_t;

//  How the bus is reached.
typedef enum {
    TRANSPORT_IPC = 0,      //  ipc:// socket files (CURVE off by default)
    TRANSPORT_TCP,          //  tcp:// with bus/curve = false
    TRANSPORT_CURVE         //  tcp:// with CURVE
} transport_t;

//  Memory of one process of the pipeline (/proc/<pid>/status), MB.
typedef struct {
    double rss, anon, file;     //  VmRSS = RssAnon + RssFile (+ RssShmem)
} mem_t;

//  A process of the pipeline and its memory after the throughput phase
//  and at the end of the at-rest phase.
typedef struct {
    char name [64];
    mem_t loaded, rest;
} proc_mem_t;

#define PROCS_MAX 9

//  One result row.
typedef struct {
    const char *mode;
    double events_per_s, predictions_per_s;
    uint64_t dropped;
    double p50_us, p99_us, p999_us;
    double rss_total_mb;
    double state_bytes_per_pair;
    uint64_t state_bytes, state_pairs;     //  the analyzer's learned state
    uint64_t engine_bytes, engine_pairs;   //  the engine's
    double raw_events_per_s;
    double ratio;
    uint64_t sent, predicted;
    cpu_t cpu;                  //  CPU seconds per thread in the throughput phase
    double cpu_phase_s;         //  its length
    double idle_cpu_pct;        //  first idle window: CPU of the pipeline, % of one core
    uint64_t idle_write_bytes;  //  first idle window: bytes it wrote to disk
    double lat_others_pct;      //  latency phase: CPU of the machine taken by
                                //  other processes than the pipeline's and
                                //  ours, % of one core
    double lat_steal_pct;       //  and stolen by the hypervisor
    double rest_cpu_pct;        //  second idle window (at rest): the same
    uint64_t rest_write_bytes;
    cpu_t rest_cpu;             //  second window: each thread's share of one core
    proc_mem_t procs [PROCS_MAX];   //  each process's memory
    int n_procs;
    mem_t loaded, rest;         //  the components' processes together (the
                                //  bus program of per-process apart)
} result_t;

//  A started program.
typedef struct {
    pid_t pid;
    char name [64];
} proc_t;

static char s_dir [512];            //  scratch directory
static char s_config [600];         //  its config file
static char s_pub [600], s_sub [600];
static transport_t s_transport;     //  of the mode running
static wp_client_keys_t s_keys;     //  the bench's keys with CURVE (operator)

//  Bus options with the bench's keys (when CURVE is on).
static wp_bus_opts_t
s_opts (wp_bus_opts_t opts)
{
    wp_security_bus_opts (&s_keys, &opts);
    return opts;
}

//  Wall clock in seconds (monotonic).
static double
s_now (void)
{
    return wp_mono_ns () / 1e9;
}

//  Start a program from the bin dir with -c config; wait for "ready" in
//  its output (which goes to a log file). Returns 0 or -1.
static int
s_start (const settings_t *settings, const char *program, const char *extra,
         proc_t *proc)
{
    char path [1200], log [1200];
    snprintf (path, sizeof path, "%s/%s", settings->bin_dir, program);
    snprintf (log, sizeof log, "%s/%s.log", s_dir, program);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen (&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2 (&actions, 1, 2);
    char *argv [] = { path, (char *) "-c", s_config, (char *) extra, NULL };
    if (!extra)
        argv [3] = NULL;
    int rc = posix_spawn (&proc->pid, path, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&actions);
    snprintf (proc->name, sizeof proc->name, "%s", program);
    if (rc) {
        fprintf (stderr, "warmup-bench: cannot start %s: %s\n", path, strerror (rc));
        return -1;
    }
    //  Wait for the ready line (bounded), reading the log file.
    for (int i = 0; i < 3000; i++) {
        FILE *file = fopen (log, "r");
        char line [1024];
        bool ready = false;
        while (file && fgets (line, sizeof line, file))
            if (strstr (line, "ready"))
                ready = true;
        if (file)
            fclose (file);
        if (ready)
            return 0;
        if (waitpid (proc->pid, NULL, WNOHANG) == proc->pid) {
            fprintf (stderr, "warmup-bench: %s exited at start; see %s\n", program, log);
            return -1;
        }
        zclock_sleep (10);
    }
    fprintf (stderr, "warmup-bench: %s not ready after 30 s\n", program);
    return -1;
}

//  Stop a program (SIGTERM, bounded wait, then SIGKILL).
static void
s_stop (proc_t *proc)
{
    if (proc->pid <= 0)
        return;
    kill (proc->pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid (proc->pid, NULL, WNOHANG) == proc->pid) {
            proc->pid = 0;
            return;
        }
        zclock_sleep (10);
    }
    kill (proc->pid, SIGKILL);
    waitpid (proc->pid, NULL, 0);
    proc->pid = 0;
}

//  Write the scratch config.
static void
s_write_config (bool nosync)
{
    FILE *file = fopen (s_config, "w");
    assert (file);
    fprintf (file,
             "max_cpu_percent = 100\n"
             "max_pairs = 2000000\n"
             //  A free port: a warmupd already running here keeps 9464.
             "metrics_listen = \"127.0.0.1:0\"\n"
             "bus\n"
             "    pub_endpoint = \"%s\"\n"
             "    sub_endpoint = \"%s\"\n"
             "    hwm = 1000000\n"
             "    curve = %s\n"
             "store\n"
             "    data_dir = \"%s/var\"\n"
             "    nosync = %s\n",
             s_pub, s_sub, s_transport == TRANSPORT_CURVE ? "true" : "false", s_dir,
             nosync ? "true" : "false");
    fclose (file);
}

//  Add the CPU time (utime + stime) of every thread of pid, by thread name.
static void
s_cpu_sample (pid_t pid, cpu_t *cpu)
{
    char path [128];
    snprintf (path, sizeof path, "/proc/%d/task", (int) pid);
    DIR *dir = opendir (path);
    if (!dir)
        return;
    struct dirent *entry;
    double hz = (double) sysconf (_SC_CLK_TCK);
    while ((entry = readdir (dir))) {
        if (entry->d_name [0] == '.')
            continue;
        char file [512], text [1024], name [32] = "";
        snprintf (file, sizeof file, "%s/%s/stat", path, entry->d_name);
        FILE *handle = fopen (file, "r");
        if (!handle)
            continue;
        size_t n = fread (text, 1, sizeof text - 1, handle);
        fclose (handle);
        text [n] = 0;
        //  pid (comm) state ... field 14 utime, 15 stime
        char *open = strchr (text, '('), *close = strrchr (text, ')');
        if (!open || !close || close < open)
            continue;
        snprintf (name, sizeof name, "%.*s", (int) (close - open - 1), open + 1);
        unsigned long utime = 0, stime = 0;
        if (sscanf (close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                    &utime, &stime) != 2)
            continue;
        int i = 0;
        while (i < cpu->n && strcmp (cpu->name [i], name))
            i++;
        if (i == cpu->n && cpu->n < THREADS_MAX)
            snprintf (cpu->name [cpu->n++], sizeof cpu->name [0], "%s", name);
        if (i < THREADS_MAX)
            cpu->seconds [i] += (utime + stime) / hz;
    }
    closedir (dir);
}

//  CPU seconds of every thread of a set, summed.
static double
s_cpu_total (const cpu_t *cpu)
{
    double total = 0;
    for (int i = 0; i < cpu->n; i++)
        total += cpu->seconds [i];
    return total;
}

//  Bytes a process has caused to be written to disk (/proc/<pid>/io), 0
//  when it cannot be read.
static uint64_t
s_write_bytes (pid_t pid)
{
    char path [64], line [128];
    snprintf (path, sizeof path, "/proc/%d/io", (int) pid);
    FILE *file = fopen (path, "r");
    uint64_t bytes = 0;
    while (file && fgets (line, sizeof line, file))
        if (sscanf (line, "write_bytes: %" SCNu64, &bytes) == 1)
            break;
    if (file)
        fclose (file);
    return bytes;
}

//  Memory of a process from /proc/<pid>/status (zeros when gone).
static mem_t
s_mem (pid_t pid)
{
    char path [64], line [128];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    mem_t mem = { 0 };
    unsigned long kb;
    while (file && fgets (line, sizeof line, file)) {
        if (sscanf (line, "VmRSS: %lu", &kb) == 1)
            mem.rss = kb / 1024.0;
        else
        if (sscanf (line, "RssAnon: %lu", &kb) == 1)
            mem.anon = kb / 1024.0;
        else
        if (sscanf (line, "RssFile: %lu", &kb) == 1)
            mem.file = kb / 1024.0;
    }
    if (file)
        fclose (file);
    return mem;
}

//  Record the memory of every process (rest: at the end of the at-rest
//  phase, else after the throughput phase), and the components' sum.
static void
s_mem_sample (const proc_t *procs, int n, bool rest, result_t *result)
{
    mem_t total = { 0 };
    result->n_procs = n;
    for (int i = 0; i < n && i < PROCS_MAX; i++) {
        mem_t mem = s_mem (procs [i].pid);
        snprintf (result->procs [i].name, sizeof result->procs [i].name, "%s",
                  procs [i].name);
        *(rest ? &result->procs [i].rest : &result->procs [i].loaded) = mem;
        if (n > 1 && streq (procs [i].name, "warmup-bus"))
            continue;       //  as rss_total_mb: the components' processes
        total.rss += mem.rss;
        total.anon += mem.anon;
        total.file += mem.file;
    }
    *(rest ? &result->rest : &result->loaded) = total;
}

//  --- Publishers ---------------------------------------------------------

typedef struct {
    const settings_t *settings;
    int index;                  //  publisher number
    atomic_uint_fast64_t *sent; //  events sent by all publishers
    atomic_uint_fast64_t *done; //  events known processed (predictions seen)
    atomic_bool *stop;          //  end of phase
    double rate;                //  events/s for this publisher (0 = flat out)
    bool raw;                   //  raw phase: no flow control by predictions
    uint64_t window;            //  in-flight bound (all publishers together)
    int error;                  //  set when the publisher could not start
} publisher_t;

//  Publishers over the window wait here until the collector catches up
//  (blocking, not spinning: on a small machine a spinning publisher takes
//  the CPU the pipeline needs).
static pthread_mutex_t s_flow_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_flow_cond = PTHREAD_COND_INITIALIZER;

//  Pre-built names.
static char **s_users;
static char **s_models;

//  One publisher thread.
static void *
s_publisher (void *arg)
{
    publisher_t *self = (publisher_t *) arg;
    char source [64];
    snprintf (source, sizeof source, "bench-pub-%d/%d", self->index, (int) getpid ());
    wp_bus_opts_t opts = s_opts ((wp_bus_opts_t) { .sndhwm = 1000000, .linger_ms = 5000 });
    wp_bus_t *bus = wp_bus_new (s_pub, s_sub, source, &opts);
    if (!bus || wp_bus_wait_ready (bus, 10000)) {
        self->error = 1;
        wp_bus_destroy (&bus);
        return NULL;
    }
    uint64_t seed = 0x9e3779b97f4a7c15ULL * (uint64_t) (self->index + 1);
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    usage.task = WARMUP__V1__TASK__TASK_COMPLETION;
    usage.language = (char *) "c";
    double started = s_now ();
    uint64_t mine = 0;
    while (!atomic_load (self->stop)) {
        if (self->rate > 0) {
            //  Paced: event k is due at started + k / rate.
            double due = started + mine / self->rate;
            double wait = due - s_now ();
            if (wait > 0.0005) {
                zclock_sleep ((int) (wait * 1000));
                continue;
            }
        }
        else
        if (atomic_load (self->sent) - atomic_load (self->done) >= self->window) {
            pthread_mutex_lock (&s_flow_lock);
            while (atomic_load (self->sent) - atomic_load (self->done) >= self->window
                   && !atomic_load (self->stop)) {
                struct timespec until;
                clock_gettime (CLOCK_REALTIME, &until);
                until.tv_nsec += 10 * 1000000;
                if (until.tv_nsec >= 1000000000) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait (&s_flow_cond, &s_flow_lock, &until);
            }
            pthread_mutex_unlock (&s_flow_lock);
            continue;
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usage.user = s_users [seed % (uint64_t) self->settings->users];
        usage.model = s_models [(seed >> 32) % (uint64_t) self->settings->models];
        usage.event_ms = wp_wall_us () / 1000;
        if (wp_bus_publish (bus, WP_TOPIC_USAGE, &usage.base) == 0) {
            atomic_fetch_add (self->sent, 1);
            mine++;
        }
    }
    wp_bus_destroy (&bus);
    return NULL;
}

//  --- One phase --------------------------------------------------------------

typedef struct {
    uint64_t sent, received, gaps;
    double seconds;
    double *latencies;          //  us, for the latency phase
    size_t n_latencies, cap_latencies;
} phase_t;

//  Compare doubles for qsort.
static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

//  Run publishers for `seconds` while the main thread counts events of
//  `topic` on a subscriber. rate 0 = flat out with flow control.
static int
s_phase (const settings_t *settings, wp_topic_t topic, int publishers, double rate,
         double seconds, bool latency, phase_t *out)
{
    memset (out, 0, sizeof *out);
    wp_bus_opts_t opts = s_opts ((wp_bus_opts_t) { .rcvhwm = 1000000 });
    char source [64];
    snprintf (source, sizeof source, "bench-sub/%d", (int) getpid ());
    wp_bus_t *sub = wp_bus_new (s_pub, s_sub, source, &opts);
    assert (sub);
    wp_bus_subscribe (sub, wp_topic_name (topic));
    if (wp_bus_wait_ready (sub, 10000)) {
        fprintf (stderr, "warmup-bench: its subscriber not ready after 10 s\n");
        wp_bus_destroy (&sub);
        return -1;
    }
    atomic_uint_fast64_t sent = 0, done = 0;
    atomic_bool stop = false;
    publisher_t *pubs = (publisher_t *) calloc ((size_t) publishers, sizeof (publisher_t));
    pthread_t *threads = (pthread_t *) calloc ((size_t) publishers, sizeof (pthread_t));
    for (int i = 0; i < publishers; i++) {
        pubs [i] = (publisher_t) { settings, i, &sent, &done, &stop,
                                   rate > 0 ? rate / publishers : 0, false,
                                   (uint64_t) settings->window * (uint64_t) publishers, 0 };
        pthread_create (&threads [i], NULL, s_publisher, &pubs [i]);
    }
    double start = s_now ();
    double end = start + seconds;
    uint64_t received = 0;
    zpoller_t *poller = zpoller_new (wp_bus_sub_socket (sub), NULL);
    double last_progress = start;
    while (true) {
        double now = s_now ();
        if (now >= end && !atomic_load (&stop)) {
            atomic_store (&stop, true);
            out->seconds = now - start;
            out->sent = 0;     //  filled after join
        }
        if (atomic_load (&stop)) {
            //  Drain: wait until everything sent was processed, bounded.
            if (received >= atomic_load (&sent) || now > end + 10)
                break;
        }
        if (now - last_progress > 2 && !settings->json) {
            fprintf (stderr, "  ... %.0f s, %" PRIu64 " events processed\r", now - start, received);
            last_progress = now;
        }
        wp_bus_event_t event;
        int got = 0;
        while (wp_bus_recv (sub, &event) == 1) {
            got++;
            received++;
            if (latency && topic == WP_TOPIC_PREDICTION) {
                const Warmup__V1__PredictionMade *prediction =
                    (const Warmup__V1__PredictionMade *) event.msg;
                if (prediction->cause && out->n_latencies < out->cap_latencies + 1) {
                    if (out->n_latencies == out->cap_latencies) {
                        out->cap_latencies = out->cap_latencies ? out->cap_latencies * 2 : 65536;
                        out->latencies = (double *) realloc (out->latencies,
                                                             out->cap_latencies * sizeof (double));
                        assert (out->latencies);
                    }
                    out->latencies [out->n_latencies++] =
                        (double) (wp_wall_us () - prediction->cause->sent_us);
                }
            }
            wp_bus_event_free (&event);
            if (got >= 1000)
                break;
        }
        atomic_store (&done, received);
        if (got) {
            pthread_mutex_lock (&s_flow_lock);
            pthread_cond_broadcast (&s_flow_cond);
            pthread_mutex_unlock (&s_flow_lock);
        }
        else
            zpoller_wait (poller, 1);
    }
    for (int i = 0; i < publishers; i++)
        pthread_join (threads [i], NULL);
    int failed = 0;
    for (int i = 0; i < publishers; i++)
        failed |= pubs [i].error;
    wp_bus_stats_t stats;
    wp_bus_stats (sub, &stats);
    out->sent = atomic_load (&sent);
    out->received = received;
    out->gaps = stats.gaps;
    zpoller_destroy (&poller);
    wp_bus_destroy (&sub);
    free (pubs);
    free (threads);
    if (!settings->json)
        fprintf (stderr, "%60s\r", "");
    return failed ? -1 : 0;
}

//  Collect one heartbeat per component: sums of RSS (distinct pids),
//  dropped events, and the analyzer's state.
static void
s_heartbeats (int expected, double *rss_mb, uint64_t *dropped, result_t *result)
{
    wp_bus_opts_t opts = s_opts ((wp_bus_opts_t) { 0 });
    wp_bus_t *sub = wp_bus_new (s_pub, s_sub, "bench-hb", &opts);
    wp_bus_subscribe (sub, "heartbeat");
    wp_bus_wait_ready (sub, 10000);
    zhashx_t *seen = zhashx_new ();
    zhashx_t *pids = zhashx_new ();
    *rss_mb = 0;
    *dropped = 0;
    int64_t deadline = zclock_mono () + 5000;
    while ((int) zhashx_size (seen) < expected && zclock_mono () < deadline) {
        wp_bus_event_t event;
        if (wp_bus_recv_wait (sub, &event, 500) != 1)
            continue;
        const Warmup__V1__Heartbeat *beat = (const Warmup__V1__Heartbeat *) event.msg;
        //  The components'; the bus's own is not one of them.
        if (!streq (beat->component, "bus") && !zhashx_lookup (seen, beat->component)) {
            zhashx_insert (seen, beat->component, (void *) 1);
            *dropped += beat->dropped;
            char pid [32];
            snprintf (pid, sizeof pid, "%u", beat->pid);
            if (!zhashx_lookup (pids, pid)) {
                zhashx_insert (pids, pid, (void *) 1);
                *rss_mb += beat->rss_kb / 1024.0;
            }
            if (streq (beat->component, "analyzer")) {
                result->state_bytes = beat->state_bytes;
                result->state_pairs = beat->state_items;
            }
            if (streq (beat->component, "engine")) {
                result->engine_bytes = beat->state_bytes;
                result->engine_pairs = beat->state_items;
            }
        }
        wp_bus_event_free (&event);
    }
    zhashx_destroy (&seen);
    zhashx_destroy (&pids);
    wp_bus_destroy (&sub);
}

//  Percentile of sorted values.
static double
s_percentile (const double *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t) (q * (double) n);
    if (rank >= n)
        rank = n - 1;
    return sorted [rank];
}

static const char *s_components [] = {
    "metrics", "perf", "queue", "scheduler", "engine", "analyzer", "resource", NULL
};

//  Fresh scratch state for a run: a new data directory (and keys), the
//  endpoints of the transport.
static void
s_reset_dir (bool nosync)
{
    char command [700];
    snprintf (command, sizeof command, "rm -rf '%s/var'", s_dir);
    if (system (command) != 0)
        fprintf (stderr, "warmup-bench: cannot clean %s/var\n", s_dir);
    memset (&s_keys, 0, sizeof s_keys);
    if (s_transport == TRANSPORT_IPC) {
        snprintf (s_pub, sizeof s_pub, "ipc://%s/pub", s_dir);
        snprintf (s_sub, sizeof s_sub, "ipc://%s/sub", s_dir);
    }
    else {
        snprintf (s_pub, sizeof s_pub, "tcp://127.0.0.1:%d", bench_free_port ());
        snprintf (s_sub, sizeof s_sub, "tcp://127.0.0.1:%d", bench_free_port ());
    }
    s_write_config (nosync);
}

//  With CURVE: the keys the bus made, read as warmupctl reads them.
static int
s_load_keys (void)
{
    if (s_transport != TRANSPORT_CURVE)
        return 0;
    wp_config_t *config = wp_config_load (s_config);
    char error [1200];
    int rc = config ? wp_security_client (config, s_pub, s_sub, WP_KEYS_OPERATOR, true,
                                          &s_keys, error, sizeof error) : -1;
    if (rc)
        fprintf (stderr, "warmup-bench: %s\n", config ? error : "config rejected");
    wp_config_destroy (&config);
    return rc;
}

//  A window of idle_s seconds without events: the CPU of every process of
//  the pipeline, % of one core, the bytes they wrote to disk, and (if
//  threads) the CPU seconds of each thread.
static void
s_idle_window (const proc_t *procs, int n, double idle_s, double *cpu_pct,
               uint64_t *written, cpu_t *threads)
{
    cpu_t before = { 0 }, after = { 0 };
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++) {
        s_cpu_sample (procs [i].pid, &before);
        bytes -= s_write_bytes (procs [i].pid);
    }
    double start = s_now ();
    zclock_sleep ((int) (idle_s * 1000));
    for (int i = 0; i < n; i++) {
        s_cpu_sample (procs [i].pid, &after);
        bytes += s_write_bytes (procs [i].pid);
    }
    double wall = s_now () - start;
    *cpu_pct = 100 * (s_cpu_total (&after) - s_cpu_total (&before)) / wall;
    *written = bytes;
    if (threads) {
        *threads = after;
        for (int k = 0; k < after.n; k++)
            for (int b = 0; b < before.n; b++)
                if (streq (before.name [b], after.name [k]))
                    threads->seconds [k] -= before.seconds [b];
        for (int k = 0; k < threads->n; k++)
            threads->seconds [k] /= wall;
    }
}

//  The machine's CPU time so far, seconds summed over the cores: busy (user,
//  nice, system, irq, softirq) and stolen (a virtual machine's, by the
//  hypervisor); 0 when /proc/stat cannot be read.
static void
s_machine_cpu (double *busy, double *steal)
{
    *busy = *steal = 0;
    FILE *file = fopen ("/proc/stat", "r");
    if (!file)
        return;
    unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0,
                       softirq = 0, stolen = 0;
    if (fscanf (file, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys,
                &idle, &iowait, &irq, &softirq, &stolen) == 8) {
        double hz = (double) sysconf (_SC_CLK_TCK);
        *busy = (user + nice + sys + irq + softirq) / hz;
        *steal = stolen / hz;
    }
    fclose (file);
}

//  This process's CPU time so far, seconds.
static double
s_self_cpu (void)
{
    struct rusage usage;
    if (getrusage (RUSAGE_SELF, &usage))
        return 0;
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
         + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

//  One mode: start, measure, stop.
static int
s_run_mode (const settings_t *settings, const char *mode, bool per_process, bool nosync,
            result_t *result)
{
    memset (result, 0, sizeof *result);
    result->mode = mode;
    proc_t procs [PROCS_MAX] = { { 0 } };
    int n = 0;
    //  Raw first: the same proxy program alone.
    s_reset_dir (nosync);
    if (s_start (settings, "warmup-bus", NULL, &procs [n]))
        return -1;
    if (s_load_keys ()) {
        s_stop (&procs [n]);
        return -1;
    }
    phase_t raw;
    if (!settings->json)
        fprintf (stderr, "%s: raw PUB/SUB through warmup-bus...\n", mode);
    int rc = s_phase (settings, WP_TOPIC_USAGE, settings->publishers, 0,
                      settings->duration_s, false, &raw);
    s_stop (&procs [n]);
    if (rc)
        return -1;
    result->raw_events_per_s = raw.received / raw.seconds;

    //  The pipeline.
    s_reset_dir (nosync);
    if (per_process) {
        if (s_start (settings, "warmup-bus", NULL, &procs [n++]))
            return -1;
        for (int i = 0; s_components [i]; i++) {
            char program [64];
            snprintf (program, sizeof program, "warmup-%s", s_components [i]);
            if (s_start (settings, program, NULL, &procs [n++]))
                goto fail;
        }
    }
    else
    if (s_start (settings, "warmupd", NULL, &procs [n++]))
        return -1;
    if (s_load_keys ())
        goto fail;

    if (!settings->json)
        fprintf (stderr, "%s: throughput...\n", mode);
    phase_t thru;
    cpu_t before = { 0 };
    for (int i = 0; i < n; i++)
        s_cpu_sample (procs [i].pid, &before);
    if (s_phase (settings, WP_TOPIC_PREDICTION, settings->publishers, 0,
                 settings->duration_s, false, &thru))
        goto fail;
    for (int i = 0; i < n; i++)
        s_cpu_sample (procs [i].pid, &result->cpu);
    for (int i = 0; i < result->cpu.n; i++)
        for (int j = 0; j < before.n; j++)
            if (streq (before.name [j], result->cpu.name [i]))
                result->cpu.seconds [i] -= before.seconds [j];
    result->cpu_phase_s = thru.seconds;
    result->sent = thru.sent;
    result->predicted = thru.received;
    result->events_per_s = thru.received / thru.seconds;
    result->predictions_per_s = thru.received / thru.seconds;

    uint64_t component_drops;
    double rss;
    s_heartbeats (7, &rss, &component_drops, result);
    s_mem_sample (procs, n, false, result);
    result->rss_total_mb = rss;
    result->state_bytes_per_pair = result->state_pairs
                                 ? (double) result->state_bytes / result->state_pairs : 0;
    result->dropped = component_drops + thru.gaps
                    + (thru.sent > thru.received ? thru.sent - thru.received : 0);

    if (!settings->json)
        fprintf (stderr, "%s: latency at %d events/s...\n", mode, settings->rate);
    phase_t lat;
    //  What else the machine did meanwhile: its busy time, less the
    //  pipeline's and the benchmark's own
    cpu_t lat_before = { 0 }, lat_after = { 0 };
    double busy_before, steal_before, busy_after, steal_after;
    for (int i = 0; i < n; i++)
        s_cpu_sample (procs [i].pid, &lat_before);
    double self_before = s_self_cpu ();
    s_machine_cpu (&busy_before, &steal_before);
    if (s_phase (settings, WP_TOPIC_PREDICTION, 1, settings->rate, settings->latency_s,
                 true, &lat))
        goto fail;
    s_machine_cpu (&busy_after, &steal_after);
    double self_after = s_self_cpu ();
    for (int i = 0; i < n; i++)
        s_cpu_sample (procs [i].pid, &lat_after);
    if (lat.seconds > 0 && busy_after > 0) {
        double others = (busy_after - busy_before) - (self_after - self_before)
                      - (s_cpu_total (&lat_after) - s_cpu_total (&lat_before));
        result->lat_others_pct = others > 0 ? 100 * others / lat.seconds : 0;
        result->lat_steal_pct = 100 * (steal_after - steal_before) / lat.seconds;
    }
    if (lat.n_latencies)
        qsort (lat.latencies, lat.n_latencies, sizeof (double), s_cmp_double);
    result->p50_us = s_percentile (lat.latencies, lat.n_latencies, 0.50);
    result->p99_us = s_percentile (lat.latencies, lat.n_latencies, 0.99);
    result->p999_us = s_percentile (lat.latencies, lat.n_latencies, 0.999);
    free (lat.latencies);
    result->ratio = result->raw_events_per_s > 0
                  ? result->events_per_s / result->raw_events_per_s : 0;

    //  At rest: the backlog has drained (the phase waits for it); a second
    //  for the stores' last batch, then nothing for two windows of idle_s:
    //  right after the load, then at rest.
    if (!settings->json)
        fprintf (stderr, "%s: no events for 2 x %.0f s...\n", mode, settings->idle_s);
    zclock_sleep (1000);
    s_idle_window (procs, n, settings->idle_s, &result->idle_cpu_pct,
                   &result->idle_write_bytes, NULL);
    s_idle_window (procs, n, settings->idle_s, &result->rest_cpu_pct,
                   &result->rest_write_bytes, &result->rest_cpu);
    s_mem_sample (procs, n, true, result);
    while (n)
        s_stop (&procs [--n]);
    return 0;
fail:
    while (n)
        s_stop (&procs [--n]);
    return -1;
}

//  Usage.
static void
s_usage (void)
{
    fprintf (stderr,
        "usage: warmup-bench [--quick] [--json] [--mode both|all-in-one|per-process]\n"
        "                    [--duration S] [--latency-duration S] [--rate N]\n"
        "                    [--publishers N] [--users N] [--models N] [--window N]\n"
        "                    [--idle-duration S] [--nosync-compare] [--curve-compare]\n"
        "  defaults: 4 publishers, 10000 users, 20 models, 10 s phases, 10000 events/s\n"
        "  for latency, 2 x 60 s without events, window 5000 in-flight events per publisher\n"
        "  --quick: 2 s phases (at rest too), 1000 users, both modes (a smoke test for CI)\n"
        "  --curve-compare: each mode again on tcp://, without and with CURVE\n");
}

//  Parse a positive number flag.
static int
s_flag_number (const char *flag, const char *value, double *out)
{
    char *end = NULL;
    double v = value ? strtod (value, &end) : 0;
    if (!value || *end || !(v > 0) || v > 1e9) {
        fprintf (stderr, "warmup-bench: %s needs a positive number\n", flag);
        return -1;
    }
    *out = v;
    return 0;
}

int
main (int argc, char **argv)
{
    zsys_init ();
    zsys_set_logident ("warmup-bench");
    settings_t settings = { 4, 10000, 20, 10, 10, 60, 10000, 5000, false, false, "both",
                            false, false, "" };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        const char *value = i + 1 < argc ? argv [i + 1] : NULL;
        double v;
        if (streq (arg, "--json"))
            settings.json = true;
        else
        if (streq (arg, "--quick")) {
            settings.quick = true;
            settings.duration_s = 2;
            settings.latency_s = 2;
            settings.idle_s = 2;
            settings.users = 1000;
        }
        else
        if (streq (arg, "--nosync-compare"))
            settings.nosync_compare = true;
        else
        if (streq (arg, "--curve-compare"))
            settings.curve_compare = true;
        else
        if (streq (arg, "--mode") && value) {
            settings.modes = value;
            i++;
            if (!streq (value, "both") && !streq (value, "all-in-one")
                && !streq (value, "per-process")) {
                s_usage ();
                return 2;
            }
        }
        else
        if (streq (arg, "-h") || streq (arg, "--help")) {
            s_usage ();
            return 0;
        }
        else {
            const char *numeric [] = { "--duration", "--latency-duration", "--rate",
                                       "--publishers", "--users", "--models", "--window",
                                       "--idle-duration", NULL };
            int k = 0;
            while (numeric [k] && !streq (arg, numeric [k]))
                k++;
            if (!numeric [k]) {
                fprintf (stderr, "warmup-bench: unknown argument '%s'\n", arg);
                s_usage ();
                return 2;
            }
            if (s_flag_number (arg, value, &v))
                return 2;
            i++;
            switch (k) {
                case 0: settings.duration_s = v; break;
                case 1: settings.latency_s = v; break;
                case 2: settings.rate = (int) v; break;
                case 3: settings.publishers = (int) v; break;
                case 4: settings.users = (int) v; break;
                case 5: settings.models = (int) v; break;
                case 6: settings.window = (int) v; break;
                case 7: settings.idle_s = v; break;
            }
        }
    }
    //  Programs live next to this one.
    ssize_t len = readlink ("/proc/self/exe", settings.bin_dir, sizeof settings.bin_dir - 1);
    if (len <= 0) {
        fprintf (stderr, "warmup-bench: cannot find my own path\n");
        return 1;
    }
    settings.bin_dir [len] = 0;
    *strrchr (settings.bin_dir, '/') = 0;

    snprintf (s_dir, sizeof s_dir, "%s/warmup-bench-XXXXXX", getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
    if (!mkdtemp (s_dir)) {
        fprintf (stderr, "warmup-bench: cannot make a scratch directory\n");
        return 1;
    }
    snprintf (s_config, sizeof s_config, "%s/bench.cfg", s_dir);

    s_users = (char **) calloc ((size_t) settings.users, sizeof (char *));
    for (int i = 0; i < settings.users; i++)
        s_users [i] = zsys_sprintf ("user-%06d", i);
    s_models = (char **) calloc ((size_t) settings.models, sizeof (char *));
    for (int i = 0; i < settings.models; i++)
        s_models [i] = zsys_sprintf ("model-%03d", i);

    result_t results [9];
    int n_results = 0, rc = 0;
    static const char *suffixes [] = { "", "-tcp", "-curve" };
    static char names [9][40];
    int transports = settings.curve_compare ? 3 : 1;
    for (int t = 0; t < transports; t++) {
        s_transport = (transport_t) t;
        if (streq (settings.modes, "both") || streq (settings.modes, "all-in-one")) {
            snprintf (names [n_results], sizeof names [0], "all-in-one%s", suffixes [t]);
            if (s_run_mode (&settings, names [n_results], false, false,
                            &results [n_results]) == 0)
                n_results++;
            else {
                fprintf (stderr, "warmup-bench: %s did not complete\n", names [n_results]);
                rc = 1;
            }
            if (settings.nosync_compare && t == 0) {
                if (s_run_mode (&settings, "all-in-one-nosync", false, true,
                                &results [n_results]) == 0)
                    n_results++;
                else
                    rc = 1;
            }
        }
        if (streq (settings.modes, "both") || streq (settings.modes, "per-process")) {
            snprintf (names [n_results], sizeof names [0], "per-process%s", suffixes [t]);
            if (s_run_mode (&settings, names [n_results], true, false,
                            &results [n_results]) == 0)
                n_results++;
            else {
                fprintf (stderr, "warmup-bench: %s did not complete\n", names [n_results]);
                rc = 1;
            }
        }
    }

    char cpu [256];
    bench_cpu_model (cpu, sizeof cpu);
    struct utsname uts;
    uname (&uts);
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    if (settings.json) {
        printf ("{\"machine\":{\"cpu\":\"%s\",\"cores\":%ld,\"kernel\":\"%s\"},"
                "\"settings\":{\"publishers\":%d,\"users\":%d,\"models\":%d,"
                "\"duration_s\":%.1f,\"latency_rate\":%d,\"window\":%d,\"idle_s\":%.1f},"
                "\"results\":[",
                cpu, cores, uts.release, settings.publishers, settings.users,
                settings.models, settings.duration_s, settings.rate, settings.window,
                settings.idle_s);
        for (int i = 0; i < n_results; i++) {
            result_t *r = &results [i];
            printf ("%s{\"mode\":\"%s\",\"events_per_s\":%.0f,\"predictions_per_s\":%.0f,"
                    "\"dropped\":%" PRIu64 ",\"latency_p50_us\":%.0f,\"latency_p99_us\":%.0f,"
                    "\"latency_p999_us\":%.0f,\"rss_total_mb\":%.1f,"
                    "\"state_bytes_per_pair\":%.1f,\"raw_events_per_s\":%.0f,\"ratio\":%.3f,"
                    "\"idle_cpu_pct\":%.2f,\"idle_write_bytes\":%" PRIu64 ","
                    "\"rest_cpu_pct\":%.2f,\"rest_write_bytes\":%" PRIu64 ","
                    "\"latency_others_cpu_pct\":%.1f,\"latency_steal_pct\":%.1f,"
                    "\"rss_anon_mb\":%.1f,\"rss_file_mb\":%.1f,\"rss_rest_mb\":%.1f,"
                    "\"state_mb\":%.1f,\"engine_state_mb\":%.1f,"
                    "\"engine_bytes_per_pair\":%.1f,\"rss_processes\":[",
                    i ? "," : "", r->mode, r->events_per_s, r->predictions_per_s, r->dropped,
                    r->p50_us, r->p99_us, r->p999_us, r->rss_total_mb,
                    r->state_bytes_per_pair, r->raw_events_per_s, r->ratio, r->idle_cpu_pct,
                    r->idle_write_bytes, r->rest_cpu_pct, r->rest_write_bytes,
                    r->lat_others_pct, r->lat_steal_pct, r->loaded.anon, r->loaded.file, r->rest.rss,
                    r->state_bytes / 1048576.0, r->engine_bytes / 1048576.0,
                    r->engine_pairs ? (double) r->engine_bytes / r->engine_pairs : 0);
            for (int k = 0; k < r->n_procs; k++)
                printf ("%s{\"name\":\"%s\",\"rss_mb\":%.1f,\"anon_mb\":%.1f,"
                        "\"file_mb\":%.1f,\"rest_mb\":%.1f}", k ? "," : "",
                        r->procs [k].name, r->procs [k].loaded.rss, r->procs [k].loaded.anon,
                        r->procs [k].loaded.file, r->procs [k].rest.rss);
            printf ("]}");
        }
        printf ("]}\n");
    }
    else {
        printf ("machine: %s, %ld cores, Linux %s\n", cpu, cores, uts.release);
        printf ("settings: %d publishers, %d users, %d models, %.0f s phases, latency at "
                "%d events/s\n\n", settings.publishers, settings.users, settings.models,
                settings.duration_s, settings.rate);
        printf ("%-18s %12s %12s %8s %9s %9s %9s %9s %11s %12s %6s\n", "mode", "events/s",
                "predict/s", "dropped", "p50_us", "p99_us", "p999_us", "rss_mb",
                "bytes/pair", "raw/s", "ratio");
        for (int i = 0; i < n_results; i++) {
            result_t *r = &results [i];
            printf ("%-18s %12.0f %12.0f %8" PRIu64 " %9.0f %9.0f %9.0f %9.1f %11.1f %12.0f "
                    "%6.3f\n", r->mode, r->events_per_s, r->predictions_per_s, r->dropped,
                    r->p50_us, r->p99_us, r->p999_us, r->rss_total_mb,
                    r->state_bytes_per_pair, r->raw_events_per_s, r->ratio);
        }
        printf ("\nDuring the latency phase, the machine's CPU taken by other processes "
                "than these (%% of one core; %ld cores):\n", cores);
        for (int i = 0; i < n_results; i++)
            printf ("  %-18s others %.1f%%, stolen by the hypervisor %.1f%%\n",
                    results [i].mode, results [i].lat_others_pct, results [i].lat_steal_pct);
        printf ("\nCPU by thread during the throughput phase (share of one core):\n");
        for (int i = 0; i < n_results; i++) {
            result_t *r = &results [i];
            printf ("  %-18s", r->mode);
            for (int k = 0; k < r->cpu.n; k++)
                if (r->cpu.seconds [k] / r->cpu_phase_s >= 0.005)
                    printf (" %s %.0f%%", r->cpu.name [k],
                            100 * r->cpu.seconds [k] / r->cpu_phase_s);
            printf ("\n");
        }
        printf ("\nMemory by process, MB (RSS = anonymous + file pages mapped), after the "
                "throughput phase and at the end of the at-rest phase:\n");
        for (int i = 0; i < n_results; i++) {
            result_t *r = &results [i];
            for (int k = 0; k < r->n_procs; k++) {
                const proc_mem_t *p = &r->procs [k];
                printf ("  %-18s %-17s %7.1f = %6.1f + %6.1f   at rest %7.1f = %6.1f + %6.1f%s\n",
                        k ? "" : r->mode, p->name, p->loaded.rss, p->loaded.anon,
                        p->loaded.file, p->rest.rss, p->rest.anon, p->rest.file,
                        r->n_procs > 1 && streq (p->name, "warmup-bus")
                        ? "  (not in the total)" : "");
            }
            printf ("  %-18s %-17s %7.1f = %6.1f + %6.1f   at rest %7.1f = %6.1f + %6.1f\n",
                    "", "total", r->loaded.rss, r->loaded.anon, r->loaded.file,
                    r->rest.rss, r->rest.anon, r->rest.file);
            printf ("  %-18s learned state: analyzer %.1f MB (%" PRIu64 " pairs, %.1f bytes "
                    "each), engine %.1f MB (%" PRIu64 " pairs, %.1f bytes each)\n", "",
                    r->state_bytes / 1048576.0, r->state_pairs, r->state_bytes_per_pair,
                    r->engine_bytes / 1048576.0, r->engine_pairs,
                    r->engine_pairs ? (double) r->engine_bytes / r->engine_pairs : 0);
        }
        printf ("\nWithout events, once the latency phase drained: the first %.0f s "
                "(what the load left to do), then %.0f s at rest:\n", settings.idle_s,
                settings.idle_s);
        for (int i = 0; i < n_results; i++) {
            const result_t *r = &results [i];
            printf ("  %-18s first: CPU %.2f%% of one core, %" PRIu64 " bytes written to "
                    "disk; at rest: CPU %.2f%%, %" PRIu64 " bytes\n", r->mode,
                    r->idle_cpu_pct, r->idle_write_bytes, r->rest_cpu_pct,
                    r->rest_write_bytes);
            printf ("  %-18s at rest by thread (%% of one core):", "");
            for (int k = 0; k < r->rest_cpu.n; k++)
                if (r->rest_cpu.seconds [k] >= 0.0005)
                    printf (" %s %.2f", r->rest_cpu.name [k], 100 * r->rest_cpu.seconds [k]);
            printf ("\n");
        }
    }
    char command [700];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    if (system (command) != 0)
        fprintf (stderr, "warmup-bench: cannot remove %s\n", s_dir);
    for (int i = 0; i < settings.users; i++)
        zstr_free (&s_users [i]);
    for (int i = 0; i < settings.models; i++)
        zstr_free (&s_models [i]);
    free (s_users);
    free (s_models);
    return rc;
}
