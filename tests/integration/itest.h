/*  =========================================================================
    itest.h - what the integration tests share: a scratch deployment (a
    temporary directory with a config whose bus endpoints are ipc://
    sockets inside it), starting the programs the way a user would, and a
    bus client of the test's own to watch the stream.
    =========================================================================
*/
#ifndef WP_ITEST_H_INCLUDED
#define WP_ITEST_H_INCLUDED

#include "testutil.h"
#include "wp_bus.h"
#include "wp_util.h"
#include "wp_json.h"
#include "wp_pattern_wire.h"
#include "wp_config.h"
#include "wp_security.h"
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

//  Generous bounds: CI machines are shared and slow. Every wait below
//  multiplies its bound by wp_test_ms ($WP_TEST_TIME_SCALE).
#define ITEST_START_MS 20000
#define ITEST_EVENT_MS 20000
#define ITEST_STOP_MS 10000

//  One scratch deployment.
typedef struct {
    char *dir;          //  temporary directory
    char *config;       //  path of its config file
    char *data_dir;     //  LMDB environments
    char pub [300];     //  publishers connect here
    char sub [300];     //  subscribers connect here
} itest_t;

//  (Re)write the deployment's config file: its endpoints and data
//  directory, then the extra lines (NULL: none).
static inline void
itest_config (itest_t *self, const char *extra)
{
    char text [4096];
    int size = snprintf (text, sizeof text,
                         "#   integration test deployment\n"
                         "max_cpu_percent = 100\n"
                         "metrics_listen = \"127.0.0.1:0\"\n"
                         "bus\n"
                         "    pub_endpoint = \"%s\"\n"
                         "    sub_endpoint = \"%s\"\n"
                         "    heartbeat_ms = 200\n"
                         "store\n"
                         "    data_dir = \"%s\"\n"
                         "    flush_ms = 50\n"
                         "%s",
                         self->pub, self->sub, self->data_dir, extra ? extra : "");
    assert_true (size > 0 && (size_t) size < sizeof text);
    wp_test_write_file (self->config, text);
}

//  Make a deployment with extra config lines appended.
static inline void
itest_init (itest_t *self, const char *name, const char *extra)
{
    self->dir = wp_test_tmpdir (name);
    size_t size = strlen (self->dir) + 32;
    self->config = malloc (size);
    self->data_dir = malloc (size);
    assert_non_null (self->config);
    assert_non_null (self->data_dir);
    snprintf (self->config, size, "%s/warmup.cfg", self->dir);
    snprintf (self->data_dir, size, "%s/var", self->dir);
    snprintf (self->pub, sizeof self->pub, "ipc://%s/pub", self->dir);
    snprintf (self->sub, sizeof self->sub, "ipc://%s/sub", self->dir);
    itest_config (self, extra);
}

//  Remove the deployment.
static inline void
itest_destroy (itest_t *self)
{
    wp_test_rmtree (self->dir);
    free (self->dir);
    free (self->config);
    free (self->data_dir);
}

//  Start a program of the build with "-c config" and extra arguments,
//  and wait for its "ready" line.
static inline wp_test_proc_t *
itest_start (itest_t *self, const char *program, const char *arg1, const char *arg2)
{
    char *path = wp_test_bin (program);
    const char *argv [] = { path, "-c", self->config, arg1, arg2, NULL };
    wp_test_proc_t *proc = wp_test_spawn (argv);
    free (path);
    if (wp_test_proc_wait_line (proc, "ready", ITEST_START_MS, NULL, 0))
        fail_msg ("%s did not get ready:\n%s", program, wp_test_proc_output (proc));
    return proc;
}

//  Run warmupctl with up to six arguments; returns its exit code.
static inline int
itest_ctl (itest_t *self, const char *const args [], char **output)
{
    char *path = wp_test_bin ("warmupctl");
    const char *argv [16] = { path, "-c", self->config };
    int n = 3;
    for (int i = 0; args [i] && n < 15; i++)
        argv [n++] = args [i];
    argv [n] = NULL;
    int code = wp_test_run (argv, ITEST_EVENT_MS, output);
    free (path);
    return code;
}

//  Emit one usage event for user/model at event time at_ms.
static inline void
itest_emit (itest_t *self, const char *user, const char *model, uint64_t at_ms)
{
    char at [32];
    snprintf (at, sizeof at, "%" PRIu64, at_ms);
    const char *args [] = { "emit", "--user", user, "--model", model,
                            "--task", "completion", "--at", at, NULL };
    char *output = NULL;
    int code = itest_ctl (self, args, &output);
    if (code != 0)
        fail_msg ("warmupctl emit failed (%d): %s", code, output);
    free (output);
}

//  Emit a regular burst: count events `gap_ms` apart, the last one now.
static inline void
itest_emit_burst (itest_t *self, const char *user, const char *model, int count,
                  uint64_t gap_ms)
{
    uint64_t now = wp_wall_us () / 1000;
    for (int i = count - 1; i >= 0; i--)
        itest_emit (self, user, model, now - (uint64_t) i * gap_ms);
}

//  A ready bus client of the test's own, subscribed to prefixes.
static inline wp_bus_t *
itest_bus (itest_t *self, const char *const prefixes [])
{
    char source [64];
    snprintf (source, sizeof source, "itest/%d", (int) getpid ());
    wp_bus_t *bus = wp_bus_new (self->pub, self->sub, source, NULL);
    assert_non_null (bus);
    for (int i = 0; prefixes [i]; i++)
        wp_bus_subscribe (bus, prefixes [i]);
    assert_int_equal (wp_bus_wait_ready (bus, wp_test_ms (ITEST_START_MS)), 0);
    return bus;
}

//  The id a raw user id (prefix 'u'; a session: 's') has on the bus of the
//  deployment: the bus's keyed hash under the installation secret of its
//  data directory (docs/security.md). Fills out (WP_USER_ID_LEN + 1 bytes)
//  and returns it.
static inline const char *
itest_user_id (itest_t *self, const char *raw, char prefix, char *out)
{
    wp_config_t *config = wp_config_load (self->config);
    assert_non_null (config);
    uint8_t key [16];
    char error [1200];
    if (wp_security_user_key (config, false, key, error, sizeof error))
        fail_msg ("%s", error);
    wp_user_id_format (wp_siphash (key, raw, strlen (raw)), out);
    out [0] = prefix;
    wp_config_destroy (&config);
    return out;
}

//  Stop a program with SIGTERM: it must exit 0 within the bound; if not,
//  the failure shows what it printed. Destroys it.
static inline void
itest_stop (wp_test_proc_t **proc_p, const char *program)
{
    int code = wp_test_proc_stop (*proc_p, SIGTERM, ITEST_STOP_MS);
    if (code != 0)
        fail_msg ("%s: SIGTERM gave exit %d (-1: still running after %d ms):\n%s",
                  program, code, wp_test_ms (ITEST_STOP_MS), wp_test_proc_output (*proc_p));
    wp_test_proc_destroy (proc_p);
}

//  A free TCP port on 127.0.0.1 (nobody listens on it when this returns).
static inline int
itest_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t size = sizeof address;
    assert_int_equal (bind (fd, (struct sockaddr *) &address, size), 0);
    assert_int_equal (getsockname (fd, (struct sockaddr *) &address, &size), 0);
    close (fd);
    return ntohs (address.sin_port);
}

//  The next event of topic on bus within the bound, as JSON (wp_json_event;
//  caller frees), or NULL; events of other topics are passed over.
static inline char *
itest_next_json (wp_bus_t *bus, wp_topic_t topic)
{
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    while (zclock_mono () < deadline) {
        wp_bus_event_t event;
        if (wp_bus_recv_wait (bus, &event, 200) != 1)
            continue;
        char *json = event.topic == topic ? wp_json_event (NULL, event.msg) : NULL;
        wp_bus_event_free (&event);
        if (json)
            return json;
    }
    return NULL;
}

//  The value of "key": in the JSON object of policy name within text (the
//  output of warmup-eval --json or warmupctl replay --json), as text.
static inline void
itest_policy_value (const char *text, const char *name, const char *key, char *out,
                    size_t size)
{
    char needle [64];
    snprintf (needle, sizeof needle, "\"name\":\"%s\"", name);
    const char *object = strstr (text, needle);
    if (!object)
        fail_msg ("no policy '%s' in:\n%s", name, text);
    snprintf (needle, sizeof needle, "\"%s\":", key);
    const char *at = strstr (object, needle);
    if (!at)
        fail_msg ("no '%s' for '%s' in:\n%s", key, name, text);
    at += strlen (needle);
    size_t len = strcspn (at, ",}");
    assert_true (len > 0 && len < size);
    memcpy (out, at, len);
    out [len] = 0;
}

//  Predicate over a received event.
typedef bool (itest_match_fn) (wp_topic_t topic, const ProtobufCMessage *msg, void *arg);

//  What itest_is_pattern looks for: a usage.pattern (read as the engine
//  reads it) showing count requests of model; sent_us is set to when the
//  analyzer published the one found.
typedef struct {
    const char *model;
    uint64_t count;
    uint64_t sent_us;       //  out
} itest_pattern_t;

//  Predicate (itest_match_fn) for an itest_pattern_t.
static inline bool
itest_is_pattern (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    itest_pattern_t *want = (itest_pattern_t *) arg;
    if (topic != WP_TOPIC_PATTERN)
        return false;
    static wp_pattern_t pair;
    const Warmup__V1__UsagePattern *pattern = (const Warmup__V1__UsagePattern *) msg;
    if (wp_pattern_wire_read (pattern, &pair, NULL, 0) == 0
        && streq (pair.model, want->model) && pair.count == want->count) {
        want->sent_us = pattern->header->sent_us;
        return true;
    }
    return false;
}

//  Wait for an event satisfying fn; returns true when seen in time.
static inline bool
itest_wait_event (wp_bus_t *bus, itest_match_fn *fn, void *arg, int timeout_ms)
{
    int64_t deadline = zclock_mono () + wp_test_ms (timeout_ms);
    while (zclock_mono () < deadline) {
        wp_bus_event_t event;
        int64_t left = deadline - zclock_mono ();
        if (wp_bus_recv_wait (bus, &event, (int) (left > 0 ? left : 0)) != 1)
            continue;
        bool match = fn (event.topic, event.msg, arg);
        wp_bus_event_free (&event);
        if (match)
            return true;
    }
    return false;
}

#endif
