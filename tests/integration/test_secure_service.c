/*  =========================================================================
    test_secure_service - docs/security.md's promises against the real programs,
    started the way a user starts them:

    * on tcp:// with nothing configured, warmupd makes its keys (and says
      where); warmupctl finds them through -c or WARMUP_DATA_DIR; a raw
      ZeroMQ client with a key that is not allowed, or with no CURVE at
      all, neither reads nor publishes;
    * a key that is allowed but not an operator's may emit usage, but its
      cool and pin are refused with the reason; after a restart the
      refusal and a decision with its reason are in warmupctl audit;
    * the raw user id is in no store, no audit record and no event of a
      full warmupctl tail: the proxy hashed it at ingress;
    * on ipc:// CURVE is off and the socket files are 0600.
    =========================================================================
*/
#include "itest.h"
#include "wp_config.h"
#include "wp_security.h"
#include <ftw.h>
#include <sys/stat.h>

#define RAW_USER "raw-user-7f3a9c"

//  Copy "pub=X sub=Y" of a ready line into the deployment (the real
//  ports of tcp://...:*) and rewrite its config with them.
static void
s_take_endpoints (itest_t *it, const char *line, const char *extra)
{
    const char *pub = strstr (line, "pub="), *sub = strstr (line, "sub=");
    assert_non_null (pub);
    assert_non_null (sub);
    snprintf (it->pub, sizeof it->pub, "%.*s", (int) strcspn (pub + 4, " )"), pub + 4);
    snprintf (it->sub, sizeof it->sub, "%.*s", (int) strcspn (sub + 4, " )"), sub + 4);
    itest_config (it, extra);
}

//  Start warmupd -c config; returns it, with its ready line in line.
static wp_test_proc_t *
s_start (itest_t *it, char *line, size_t size)
{
    char *path = wp_test_bin ("warmupd");
    const char *argv [] = { path, "-c", it->config, NULL };
    wp_test_proc_t *proc = wp_test_spawn (argv);
    free (path);
    if (wp_test_proc_wait_line (proc, "warmupd: ready", ITEST_START_MS, line, size))
        fail_msg ("warmupd did not get ready:\n%s", wp_test_proc_output (proc));
    return proc;
}

//  The test's own client, with the installation's operator key.
static wp_bus_t *
s_operator_bus (itest_t *it, const char *const prefixes [])
{
    wp_config_t *config = wp_config_load (it->config);
    assert_non_null (config);
    wp_client_keys_t keys;
    char error [1200];
    if (wp_security_client (config, it->pub, it->sub, WP_KEYS_OPERATOR, false, &keys,
                            error, sizeof error))
        fail_msg ("%s", error);
    assert_true (keys.curve);
    wp_bus_opts_t opts = { 0 };
    wp_security_bus_opts (&keys, &opts);
    wp_bus_t *bus = wp_bus_new (it->pub, it->sub, "itest/operator", &opts);
    assert_non_null (bus);
    for (int i = 0; prefixes [i]; i++)
        wp_bus_subscribe (bus, prefixes [i]);
    assert_int_equal (wp_bus_wait_ready (bus, wp_test_ms (ITEST_START_MS)), 0);
    wp_config_destroy (&config);
    return bus;
}

//  The bus's heartbeat with at least *arg refused handshakes.
static bool
s_auth_failures (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    const Warmup__V1__Heartbeat *beat = (const Warmup__V1__Heartbeat *) msg;
    return topic == WP_TOPIC_HEARTBEAT && streq (beat->component, "bus")
        && beat->auth_failures >= *(uint64_t *) arg;
}

//  A usage event for the model arg.
static bool
s_usage_of (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    const Warmup__V1__UsageObserved *usage = (const Warmup__V1__UsageObserved *) msg;
    return topic == WP_TOPIC_USAGE && usage->model && streq (usage->model, (const char *) arg);
}

//  A decision of the scheduler (not an operator's) for the model arg.
static bool
s_decision_for (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    const Warmup__V1__WarmupRequested *request = (const Warmup__V1__WarmupRequested *) msg;
    return topic == WP_TOPIC_WARMUP_REQUEST && streq (request->model, (const char *) arg)
        && strncmp (request->header->source, "scheduler/", 10) == 0
        && request->reason && *request->reason;
}

//  A raw ZeroMQ socket of type with a CURVE key pair made here (not
//  allowed), or without CURVE (plain true), connected to endpoint.
static zsock_t *
s_raw (int type, const char *endpoint, const char *server_key, bool plain)
{
    zsock_t *socket = zsock_new (type);
    assert_non_null (socket);
    if (!plain) {
        char public_key [41], secret_key [41];
        assert_int_equal (zmq_curve_keypair (public_key, secret_key), 0);
        zsock_set_curve_serverkey (socket, server_key);
        zsock_set_curve_publickey (socket, public_key);
        zsock_set_curve_secretkey (socket, secret_key);
    }
    if (type == ZMQ_SUB)
        zsock_set_subscribe (socket, "");
    assert_int_equal (zsock_connect (socket, "%s", endpoint), 0);
    return socket;
}

//  Publish a usage event for model as raw frames on a raw PUB socket.
static void
s_raw_usage (zsock_t *socket, const char *model)
{
    Warmup__V1__Header header = WARMUP__V1__HEADER__INIT;
    header.source = "intruder";
    header.seq = 1;
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    usage.header = &header;
    usage.user = "mallory";
    usage.model = (char *) model;
    uint8_t buffer [256];
    size_t size = protobuf_c_message_pack (&usage.base, buffer);
    zsock_send (socket, "sb", "usage.observed", buffer, size);
}

//  Files of a tree that contain needle, one line each, into *found.
static const char *s_needle;
static char s_found [4096];
static int
s_grep (const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    if (flag != FTW_F)
        return 0;
    FILE *file = fopen (path, "rb");
    if (!file)
        return 0;
    size_t size = (size_t) info->st_size;
    char *data = malloc (size + 1);
    assert_non_null (data);
    size_t got = fread (data, 1, size, file);
    fclose (file);
    if (memmem (data, got, s_needle, strlen (s_needle))) {
        size_t used = strlen (s_found);
        snprintf (s_found + used, sizeof s_found - used, "%s\n", path);
    }
    free (data);
    return 0;
}

//  Run warmupctl with arguments (NULL-ended); returns its exit code.
static int
s_ctl (itest_t *it, char **output, ...)
{
    const char *args [16];
    int n = 0;
    va_list list;
    va_start (list, output);
    const char *arg;
    while ((arg = va_arg (list, const char *)) && n < 15)
        args [n++] = arg;
    va_end (list);
    args [n] = NULL;
    return itest_ctl (it, args, output);
}

//  Everything on tcp:// with the defaults.
static void
test_tcp_defaults (void **state)
{
    itest_t it;
    itest_init (&it, "wp-security", NULL);
    snprintf (it.pub, sizeof it.pub, "tcp://127.0.0.1:*");
    snprintf (it.sub, sizeof it.sub, "tcp://127.0.0.1:*");
    itest_config (&it, NULL);
    char line [1024];
    wp_test_proc_t *daemon = s_start (&it, line, sizeof line);
    s_take_endpoints (&it, line, NULL);

    //  The keys: made on first start, where the log says.
    char *keys = zsys_sprintf ("%s/keys", it.data_dir);
    const char *log = wp_test_proc_output (daemon);
    if (!strstr (log, "CURVE on; made the keys in") || !strstr (log, keys))
        fail_msg ("the keys' place is not printed:\n%s", log);
    assert_int_equal (wp_test_mode (keys), 0700);
    const char *secrets [] = { "server.key_secret", "operator.key_secret",
                               "component.key_secret", "installation.key", NULL };
    for (int i = 0; secrets [i]; i++) {
        char *path = zsys_sprintf ("%s/%s", keys, secrets [i]);
        assert_int_equal (wp_test_mode (path), 0600);
        zstr_free (&path);
    }

    //  A full tail of everything, from now to the end of the test. Its
    //  output is read as the test goes: a pipe left full would stop the
    //  tail, and the bus would drop what it then missed.
    char *ctl = wp_test_bin ("warmupctl");
    const char *tail_argv [] = { ctl, "-c", it.config, "tail", NULL };
    wp_test_proc_t *tail = wp_test_spawn (tail_argv);
    if (wp_test_proc_wait_line (tail, "tail ready", ITEST_START_MS, NULL, 0))
        fail_msg ("warmupctl tail: %s", wp_test_proc_output (tail));

    //  warmupctl finds the keys with -c (the file names the data
    //  directory) and with WARMUP_DATA_DIR and the endpoints alone.
    itest_emit (&it, RAW_USER, "coder", wp_wall_us () / 1000);
    setenv ("WARMUP_DATA_DIR", it.data_dir, 1);
    const char *env_argv [] = { ctl, "--pub-endpoint", it.pub, "--sub-endpoint", it.sub,
                                "emit", "--user", RAW_USER, "--model", "coder", NULL };
    char *output = NULL;
    int code = wp_test_run (env_argv, ITEST_EVENT_MS, &output);
    if (code != 0)
        fail_msg ("warmupctl with WARMUP_DATA_DIR: exit %d: %s", code, output);
    zstr_free (&output);
    unsetenv ("WARMUP_DATA_DIR");
    //  Without the keys: a clear error, exit 1.
    const char *bare_argv [] = { ctl, "--pub-endpoint", it.pub, "--sub-endpoint", it.sub,
                                 "--data-dir", it.dir, "emit", "--user", "x", "--model",
                                 "coder", NULL };
    code = wp_test_run (bare_argv, ITEST_EVENT_MS, &output);
    assert_int_equal (code, 1);
    if (!strstr (output, "uses CURVE"))
        fail_msg ("no clear error without keys: %s", output);
    zstr_free (&output);

    //  Raw ZeroMQ clients: a key of their own, and no CURVE at all.
    const char *watch [] = { "usage.", "heartbeat", "warmup.requested", NULL };
    wp_bus_t *bus = s_operator_bus (&it, watch);
    char *server_path = zsys_sprintf ("%s/server.key", keys);
    wp_keypair_t server;
    char error [1200];
    assert_int_equal (wp_keys_load (server_path, false, &server, error, sizeof error), 0);
    zsock_t *raw_sub = s_raw (ZMQ_SUB, it.sub, server.public_key, false);
    zsock_t *raw_pub = s_raw (ZMQ_PUB, it.pub, server.public_key, false);
    zsock_t *plain_sub = s_raw (ZMQ_SUB, it.sub, NULL, true);
    zsock_t *plain_pub = s_raw (ZMQ_PUB, it.pub, NULL, true);
    //  The two refused keys are counted in the bus's heartbeat (ZAP
    //  refuses them on the bus's side, every time). A peer without
    //  CURVE is counted only when the bus reads its greeting before the
    //  peer, which sees the mismatch too, hangs up: a race, so the two
    //  plain sockets are checked by what they get and send, below.
    uint64_t refused = 2;
    if (!itest_wait_event (bus, s_auth_failures, &refused, ITEST_EVENT_MS))
        fail_msg ("the bus never reported 2 refused handshakes:\n%s",
                  wp_test_proc_output (daemon));
    s_raw_usage (raw_pub, "intruder-model");
    s_raw_usage (plain_pub, "intruder-model");
    itest_emit (&it, RAW_USER, "legit-model", wp_wall_us () / 1000);
    assert_true (itest_wait_event (bus, s_usage_of, "legit-model", ITEST_EVENT_MS));
    wp_test_proc_output (tail);
    //  Nothing reached the intruders; nothing of theirs reached anyone.
    assert_false (zsock_events (raw_sub) & ZMQ_POLLIN);
    assert_false (zsock_events (plain_sub) & ZMQ_POLLIN);

    //  A client key: allowed, not an operator. Keys are read at start.
    char *keydir = zsys_sprintf ("%s/mine", it.dir);
    assert_int_equal (s_ctl (&it, NULL, "keygen", keydir, "--name", "ide", NULL), 0);
    char *ide = zsys_sprintf ("%s/ide.key", keydir);
    char *allowed = zsys_sprintf ("%s/allowed/ide.key", keys);
    assert_int_equal (zsys_file_exists (ide), true);
    {
        FILE *from = fopen (ide, "r");
        char buffer [1024];
        size_t got = fread (buffer, 1, sizeof buffer - 1, from);
        fclose (from);
        buffer [got] = 0;
        wp_test_write_file (allowed, buffer);
    }
    wp_bus_destroy (&bus);
    itest_stop (&daemon, "warmupd");
    daemon = s_start (&it, line, sizeof line);
    if (!strstr (wp_test_proc_output (daemon), "1 client key"))
        fail_msg ("the client key was not admitted:\n%s", wp_test_proc_output (daemon));
    bus = s_operator_bus (&it, watch);

    //  Its usage passes; its cool and pin are refused, saying why.
    code = s_ctl (&it, &output, "--client-key", ide, "emit", "--user", RAW_USER, "--model",
                  "client-model", NULL);
    assert_int_equal (code, 0);
    zstr_free (&output);
    assert_true (itest_wait_event (bus, s_usage_of, "client-model", ITEST_EVENT_MS));
    wp_test_proc_output (tail);
    code = s_ctl (&it, &output, "--client-key", ide, "cool", "coder", NULL);
    if (code != 1 || !strstr (output, "refused: client/ide.key: only operator keys may "
                                      "warm or cool"))
        fail_msg ("cool with a client key: exit %d: %s", code, output);
    zstr_free (&output);
    code = s_ctl (&it, &output, "--client-key", ide, "pin", "coder", NULL);
    if (code != 1 || !strstr (output, "refused"))
        fail_msg ("pin with a client key: exit %d: %s", code, output);
    zstr_free (&output);
    //  The operator's cool is done.
    code = s_ctl (&it, &output, "cool", "coder", NULL);
    if (code != 0)
        fail_msg ("cool with the operator key: exit %d: %s", code, output);
    zstr_free (&output);

    //  A decision of the scheduler with its reason: a regular user.
    wp_test_proc_output (tail);
    itest_emit_burst (&it, RAW_USER, "coder", 6, 1000);
    if (!itest_wait_event (bus, s_decision_for, "coder", ITEST_EVENT_MS))
        fail_msg ("no decision for coder:\n%s", wp_test_proc_output (daemon));

    //  After a restart the audit log still has both, with their reasons.
    wp_test_proc_output (tail);
    wp_bus_destroy (&bus);
    itest_stop (&daemon, "warmupd");
    daemon = s_start (&it, line, sizeof line);
    code = s_ctl (&it, &output, "audit", "--json", NULL);
    assert_int_equal (code, 0);
    if (!strstr (output, "\"kind\":\"refused\",\"command\":\"cool\",\"model\":\"coder\"")
        || !strstr (output, "only operator keys may warm or cool")
        || !strstr (output, "\"kind\":\"refused\",\"command\":\"pin\"")
        || !strstr (output, "\"kind\":\"decision\",\"action\":\"cool\",\"model\":\"coder\","
                            "\"reason\":\"manual\"")
        || !strstr (output, "\"principal\":\"operator/operator.key\"")
        || !strstr (output, "\"source\":\"scheduler/"))
        fail_msg ("the audit log after a restart lacks a refusal or a decision:\n%s", output);
    zstr_free (&output);
    //  Filters: by kind and model, text.
    code = s_ctl (&it, &output, "audit", "--kind", "refused", "--model", "coder", NULL);
    assert_int_equal (code, 0);
    if (!strstr (output, "refused   cool") || strstr (output, "decision"))
        fail_msg ("audit --kind refused --model coder:\n%s", output);
    zstr_free (&output);
    code = s_ctl (&it, &output, "audit", "--since", "2100-01-01T00:00:00Z", NULL);
    assert_int_equal (code, 0);
    assert_string_equal (output, "");
    zstr_free (&output);

    //  No raw user id past ingress: not in any store or audit record, not
    //  in any event of the tail, not in the logs.
    int tail_code = wp_test_proc_stop (tail, SIGTERM, ITEST_STOP_MS);
    const char *tailed = wp_test_proc_output (tail);
    if (tail_code != 0 || !strstr (tailed, "\"topic\":\"usage.observed\"")
        || !strstr (tailed, "\"user\":\"u:") || !strstr (tailed, "\"topic\":\"usage.pattern\"")
        || !strstr (tailed, "\"topic\":\"prediction.made\"")
        || !strstr (tailed, "\"topic\":\"control.reply\""))
        fail_msg ("warmupctl tail (exit %d) missed events:\n%.3000s", tail_code, tailed);
    if (strstr (tailed, RAW_USER))
        fail_msg ("the raw user id went over the bus:\n%s", strstr (tailed, RAW_USER));
    wp_test_proc_destroy (&tail);
    if (strstr (wp_test_proc_output (daemon), RAW_USER))
        fail_msg ("the raw user id is in warmupd's log");
    itest_stop (&daemon, "warmupd");
    s_needle = RAW_USER;
    s_found [0] = 0;
    nftw (it.data_dir, s_grep, 16, FTW_PHYS);
    if (*s_found)
        fail_msg ("the raw user id is stored in:\n%s", s_found);
    //  The search does read the stores: the model's name is in them.
    s_needle = "client-model";
    nftw (it.data_dir, s_grep, 16, FTW_PHYS);
    if (!strstr (s_found, "/analyzer/"))
        fail_msg ("the search found the model in no store: %s", s_found);

    zsock_destroy (&raw_sub);
    zsock_destroy (&raw_pub);
    zsock_destroy (&plain_sub);
    zsock_destroy (&plain_pub);
    zstr_free (&ide);
    zstr_free (&allowed);
    zstr_free (&keydir);
    zstr_free (&server_path);
    zstr_free (&keys);
    zstr_free (&ctl);
    itest_destroy (&it);
}

//  On ipc:// CURVE is off by default, and only this user can connect:
//  the socket files are 0600.
static void
test_ipc_default (void **state)
{
    itest_t it;
    itest_init (&it, "wp-security-ipc", NULL);
    char line [1024];
    mode_t old = umask (0);
    wp_test_proc_t *daemon = s_start (&it, line, sizeof line);
    umask (old);
    if (!strstr (wp_test_proc_output (daemon), "CURVE off"))
        fail_msg ("no word of CURVE:\n%s", wp_test_proc_output (daemon));
    assert_int_equal (wp_test_mode (it.pub + 6), 0600);
    assert_int_equal (wp_test_mode (it.sub + 6), 0600);
    //  Still hashed at ingress.
    const char *watch [] = { "usage.", NULL };
    wp_bus_t *bus = itest_bus (&it, watch);
    itest_emit (&it, RAW_USER, "coder", wp_wall_us () / 1000);
    wp_bus_event_t event;
    assert_int_equal (wp_bus_recv_wait (bus, &event, wp_test_ms (ITEST_EVENT_MS)), 1);
    uint64_t hash;
    assert_int_equal (wp_user_id_parse (((Warmup__V1__UsageObserved *) event.msg)->user,
                                        &hash), 0);
    wp_bus_event_free (&event);
    wp_bus_destroy (&bus);
    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_tcp_defaults),
        cmocka_unit_test (test_ipc_default),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
