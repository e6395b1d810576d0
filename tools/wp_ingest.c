/*  =========================================================================
    wp_ingest - warmupctl ingest: Continue's and Tabby's usage files on the
    bus.

    Reads the files (wp_follow: rotation, truncation, offsets in
    <data_dir>/ingest/), turns each line into a usage event (wp_feed) and
    publishes the requests as usage.observed, paced (--rate). Lines that
    are no request are counted by event type; unknown event types and bad
    lines are reported as file:line: reason (the first 20, then every
    1000th) and counted. Offsets are saved at most every 200 ms while
    lines come and at the end, after the bus client has sent what it
    holds: a clean stop (SIGINT, SIGTERM) repeats nothing, a crash repeats
    at most the lines of the last 200 ms.
    =========================================================================
*/
#include "wp_component.h"
#include "wp_ctl.h"
#include "wp_feed.h"
#include "wp_follow.h"
#include "wp_ingest.h"
#include "wp_security.h"
#include "wp_util.h"
#include <sys/stat.h>

#define SAVE_MS 200                 //  offsets saved at most this often
#define PROGRESS_MS 2000            //  a progress line this often
#define IDLE_MS 250                 //  --follow: a poll this often when idle
#define RATE_DEFAULT 1000           //  events a second (the bus's per-client limit)
#define REPORT_FIRST 20             //  problem lines printed, then every 1000th
#define TYPES_MAX 64                //  event types counted by name

static const char *s_ingest_usage =
    "usage: warmupctl [-c FILE] ingest --format continue|tabby [--follow] [--user U]\n"
    "         [--model M] [--completion-model M] [--chat-model M] [--rate N]\n"
    "         [--from-start] [--quiet] [PATH...]\n"
    "  Publish the requests IDE assistants log as usage.observed events.\n"
    "  continue: Continue's dev data, ~/.continue/dev_data/0.2.0 (its <event>.jsonl\n"
    "            files; schema 0.2.0: autocomplete, chatInteraction, editInteraction,\n"
    "            nextEditWithHistory; quickEdit of 0.1.0)\n"
    "  tabby:    Tabby's event log, ~/.tabby/events (<date>.json: completion and\n"
    "            chat_completion; Tabby names no model: --completion-model and\n"
    "            --chat-model, or --model for both)\n"
    "  PATH: files or directories (default: the one above). Each line is read\n"
    "  once: offsets are kept in <data_dir>/ingest/, so a second run (or a\n"
    "  restart of --follow) goes on where the last one stopped; --from-start\n"
    "  reads everything again.\n"
    "  --follow   keep reading as the files grow (rotation and truncation are\n"
    "             followed) until SIGINT or SIGTERM\n"
    "  --user U   the user of every event (default: the event's; Continue's\n"
    "             userId is a token and is published only as its keyed hash, as\n"
    "             the proxy hashes bearer tokens; without either, $USER)\n"
    "  --rate N   events a second at most (default 1000; 0: no limit)\n"
    "  --quiet    no progress lines\n";

//  An event type and how many lines of it.
typedef struct {
    char name [64];
    uint64_t count;
} s_type_t;

//  One run.
typedef struct {
    const wp_config_t *config;
    wp_feed_opts_t feed;        //  how lines are read
    wp_bus_t *bus;              //  where events go
    uint64_t lines;             //  lines read
    uint64_t published;         //  usage events published
    uint64_t publish_errors;    //  publishes that failed
    uint64_t skipped;           //  known events that are no request
    uint64_t unknown;           //  unknown event types
    uint64_t bad;               //  malformed lines
    uint64_t reported;          //  problem lines printed
    s_type_t types [TYPES_MAX]; //  skipped and unknown lines by type
    size_t n_types;
} s_ingest_t;

//  Count a line of an event type.
static void
s_count_type (s_ingest_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_types; i++)
        if (streq (self->types [i].name, name)) {
            self->types [i].count++;
            return;
        }
    if (self->n_types < TYPES_MAX) {
        snprintf (self->types [self->n_types].name, sizeof self->types [0].name, "%s",
                  *name ? name : "?");
        self->types [self->n_types++].count = 1;
    }
}

//  Print a problem line (the first few, then every 1000th).
static void
s_report (s_ingest_t *self, const char *path, uint64_t line_no, const char *what,
          const char *why)
{
    self->reported++;
    if (self->reported <= REPORT_FIRST || self->reported % 1000 == 0)
        fprintf (stderr, "warmupctl ingest: %s:%" PRIu64 ": %s: %s (skipped)%s\n", path,
                 line_no, what, why, self->reported == REPORT_FIRST
                 ? " [further problems: every 1000th is shown]" : "");
}

//  One line of a file.
static int
s_line (void *arg, const char *path, uint64_t line_no, const char *line, size_t size,
        bool cut)
{
    s_ingest_t *self = (s_ingest_t *) arg;
    self->lines++;
    //  Continue names the event by its file: autocomplete.jsonl.
    wp_feed_opts_t opts = self->feed;
    char event_name [64] = "";
    if (opts.format == WP_FEED_CONTINUE) {
        const char *base = strrchr (path, '/');
        snprintf (event_name, sizeof event_name, "%s", base ? base + 1 : path);
        char *dot = strstr (event_name, ".jsonl");
        if (dot)
            *dot = 0;
        opts.event_name = event_name;
    }
    wp_feed_event_t event;
    char why [256] = "";
    uint64_t now = wp_wall_us () / 1000;
    wp_feed_result_t result = wp_feed_line (&opts, line, size, now, &event, why, sizeof why);
    if (cut && result == WP_FEED_BAD)
        snprintf (why, sizeof why, "cut short: the file ended inside this line (rotated "
                  "away without its newline)");
    switch (result) {
        case WP_FEED_USAGE:
            if (wp_bus_publish (self->bus, WP_TOPIC_USAGE, &event.usage.base))
                self->publish_errors++;
            else
                self->published++;
            break;
        case WP_FEED_SKIP:
            self->skipped++;
            s_count_type (self, event.event);
            break;
        case WP_FEED_UNKNOWN:
            self->unknown++;
            s_count_type (self, event.event);
            s_report (self, path, line_no, "unknown event", why);
            break;
        case WP_FEED_BAD:
            self->bad++;
            s_report (self, path, line_no, "bad line", why);
            break;
    }
    return 0;
}

//  A line with no newline yet at the end of a one-shot run.
static void
s_partial (void *arg, const char *path, uint64_t line_no, size_t size)
{
    fprintf (stderr, "warmupctl ingest: %s:%" PRIu64 ": %zu bytes without a newline yet: "
             "left for the next run\n", path, line_no, size);
    (*(uint64_t *) arg)++;
}

//  Where this set of paths keeps its offsets:
//  <data_dir>/ingest/<format>-<hash of the paths>.offsets.
static int
s_state_path (const wp_config_t *config, const char *format, char **paths, int n,
              char *out, size_t size)
{
    uint64_t hash = 14695981039346656037ULL;
    for (int i = 0; i < n; i++) {
        char resolved [4096];
        const char *name = realpath (paths [i], resolved) ? resolved : paths [i];
        for (const char *c = name; ; c++) {
            hash ^= (unsigned char) *c;
            hash *= 1099511628211ULL;
            if (!*c)
                break;
        }
    }
    char dir [4096];
    snprintf (dir, sizeof dir, "%s/ingest", config->data_dir);
    if (zsys_dir_create ("%s", dir)) {
        fprintf (stderr, "warmupctl ingest: cannot make %s: %s\n", dir, strerror (errno));
        return -1;
    }
    chmod (dir, 0700);
    snprintf (out, size, "%s/%s-%016" PRIx64 ".offsets", dir, format, hash);
    return 0;
}

//  Print what a run did.
static void
s_summary (s_ingest_t *self, uint64_t incomplete, size_t files)
{
    fprintf (stderr, "warmupctl ingest: %" PRIu64 " lines of %zu files: %" PRIu64
             " usage events published, %" PRIu64 " no request, %" PRIu64 " unknown event, %"
             PRIu64 " bad lines", self->lines, files, self->published, self->skipped,
             self->unknown, self->bad);
    if (incomplete)
        fprintf (stderr, ", %" PRIu64 " lines not ended yet", incomplete);
    if (self->publish_errors)
        fprintf (stderr, ", %" PRIu64 " NOT published (bus errors)", self->publish_errors);
    for (size_t i = 0; i < self->n_types; i++)
        fprintf (stderr, "%s%s %" PRIu64, i ? ", " : " (", self->types [i].name,
                 self->types [i].count);
    fprintf (stderr, "%s\n", self->n_types ? ")" : "");
}

//  warmupctl ingest.
int
wp_ingest_main (const wp_config_t *config, int argc, char **argv)
{
    s_ingest_t self = { .config = config };
    const char *format = NULL, *model = NULL;
    bool follow_mode = false, from_start = false, quiet = false;
    double rate = RATE_DEFAULT;
    char **paths = (char **) calloc ((size_t) argc + 1, sizeof (char *));
    int n_paths = 0;
    for (int i = 0; i < argc; i++) {
        const char *flag = argv [i];
        bool valued = streq (flag, "--format") || streq (flag, "--user")
                   || streq (flag, "--model") || streq (flag, "--completion-model")
                   || streq (flag, "--chat-model") || streq (flag, "--rate");
        const char *value = valued && i + 1 < argc ? argv [++i] : NULL;
        if (valued && !value) {
            fprintf (stderr, "warmupctl ingest: %s needs a value\n", flag);
            free (paths);
            return 2;
        }
        if (streq (flag, "--format"))
            format = value;
        else
        if (streq (flag, "--user"))
            self.feed.user = value;
        else
        if (streq (flag, "--model"))
            model = value;
        else
        if (streq (flag, "--completion-model"))
            self.feed.completion_model = value;
        else
        if (streq (flag, "--chat-model"))
            self.feed.chat_model = value;
        else
        if (streq (flag, "--rate")) {
            if (wp_ctl_number (flag, value, 1e7, &rate)) {
                free (paths);
                return 2;
            }
        }
        else
        if (streq (flag, "--follow"))
            follow_mode = true;
        else
        if (streq (flag, "--from-start"))
            from_start = true;
        else
        if (streq (flag, "--quiet"))
            quiet = true;
        else
        if (streq (flag, "--help") || streq (flag, "-h")) {
            fputs (s_ingest_usage, stdout);
            free (paths);
            return 0;
        }
        else
        if (flag [0] == '-' && flag [1]) {
            fprintf (stderr, "warmupctl ingest: unknown flag '%s'\n%s", flag, s_ingest_usage);
            free (paths);
            return 2;
        }
        else
            paths [n_paths++] = argv [i];
    }
    if (!format || !(streq (format, "continue") || streq (format, "tabby"))) {
        fprintf (stderr, "warmupctl ingest: --format continue or --format tabby, please\n%s",
                 s_ingest_usage);
        free (paths);
        return 2;
    }
    bool tabby = streq (format, "tabby");
    self.feed.format = tabby ? WP_FEED_TABBY : WP_FEED_CONTINUE;
    if (tabby) {
        if (model && !self.feed.completion_model)
            self.feed.completion_model = model;
        if (model && !self.feed.chat_model)
            self.feed.chat_model = model;
        if (!self.feed.completion_model && !self.feed.chat_model) {
            fprintf (stderr, "warmupctl ingest: Tabby's events name no model: give "
                     "--completion-model and --chat-model (or --model for both)\n");
            free (paths);
            return 2;
        }
    }
    else
    if (model || self.feed.completion_model || self.feed.chat_model) {
        fprintf (stderr, "warmupctl ingest: Continue's events name their model: --model, "
                 "--completion-model and --chat-model are for --format tabby\n");
        free (paths);
        return 2;
    }
    //  Continue's user tokens are hashed under the subkey the proxy hashes
    //  bearer tokens with: a user counts the same through Continue's HTTP
    //  destination and its files. Without the installation secret (a host
    //  with a client key only), under a fixed key: still never published.
    uint8_t secret [WP_KEYS_SECRET_LEN];
    char secret_error [1200];
    if (wp_security_secret (config, false, secret, secret_error, sizeof secret_error) == 0)
        wp_keys_derive (secret, "frontkey", self.feed.user_key, sizeof self.feed.user_key);
    memset (secret, 0, sizeof secret);
    const char *login = getenv ("USER");
    self.feed.fallback_user = login && *login ? login : "local";
    //  The default place of each format.
    char home_path [4096];
    if (n_paths == 0) {
        const char *home = getenv ("HOME");
        snprintf (home_path, sizeof home_path, "%s/%s", home ? home : ".",
                  tabby ? ".tabby/events" : ".continue/dev_data/0.2.0");
        paths [n_paths++] = home_path;
    }
    char state [4300], error [600];
    if (s_state_path (config, format, paths, n_paths, state, sizeof state)) {
        free (paths);
        return 1;
    }
    wp_follow_t *follow = wp_follow_new (tabby ? ".json" : ".jsonl", state, from_start, error,
                                         sizeof error);
    if (!follow) {
        fprintf (stderr, "warmupctl ingest: %s\n", error);
        free (paths);
        return 1;
    }
    for (int i = 0; i < n_paths; i++)
        if (wp_follow_add (follow, paths [i], error, sizeof error)) {
            fprintf (stderr, "warmupctl ingest: %s\n", error);
            wp_follow_destroy (&follow);
            free (paths);
            return 2;
        }
    free (paths);
    self.bus = wp_ctl_connect (config, "ingest", NULL, (int) config->ready_timeout_ms);
    if (!self.bus) {
        wp_follow_destroy (&follow);
        return 1;
    }
    if (!quiet)
        fprintf (stderr, "warmupctl ingest: %s, offsets in %s%s\n", format, state,
                 follow_mode ? "; following (SIGINT or SIGTERM to stop)" : "");
    int rc = 0;
    int64_t last_save = zclock_mono (), last_progress = last_save, last_fill = last_save;
    double tokens = rate > 0 ? rate / 4 : 0;
    while (!zsys_interrupted) {
        size_t budget = 0;
        if (rate > 0) {
            int64_t now = zclock_mono ();
            tokens += rate * (double) (now - last_fill) / 1000.0;
            tokens = tokens > rate ? rate : tokens;
            last_fill = now;
            if (tokens < 1) {
                zclock_sleep ((int) ceil (1000.0 / rate));
                continue;
            }
            budget = (size_t) tokens;
        }
        bool more = false;
        size_t taken = wp_follow_poll (follow, s_line, &self, budget, &more);
        tokens -= (double) taken;
        int64_t now = zclock_mono ();
        if (taken && now - last_save >= SAVE_MS) {
            if (wp_follow_save (follow, error, sizeof error)) {
                fprintf (stderr, "warmupctl ingest: %s\n", error);
                rc = 1;
                break;
            }
            last_save = now;
        }
        if (!quiet && now - last_progress >= PROGRESS_MS) {
            fprintf (stderr, "warmupctl ingest: %" PRIu64 " lines, %" PRIu64 " events "
                     "published, %" PRIu64 " bad\n", self.lines, self.published, self.bad);
            last_progress = now;
        }
        bool draining = wp_follow_draining (follow);
        if (!follow_mode && !taken && !more && !draining)
            break;
        if (!taken && !more)
            zclock_sleep (follow_mode ? IDLE_MS : 10);
    }
    uint64_t incomplete = 0;
    if (!follow_mode)
        wp_follow_each_partial (follow, s_partial, &incomplete);
    wp_bus_destroy (&self.bus);             //  lingers until the events are sent
    if (wp_follow_save (follow, error, sizeof error)) {
        fprintf (stderr, "warmupctl ingest: %s\n", error);
        rc = 1;
    }
    s_summary (&self, incomplete, wp_follow_files (follow, NULL));
    wp_follow_destroy (&follow);
    return rc ? rc : self.publish_errors ? 1 : 0;
}
