/*  =========================================================================
    test_prometheus - warmupd's /metrics against the real tools: promtool
    check metrics accepts the exposition, and a Prometheus server (loopback
    only, its own temporary data directory) scrapes warmupd and answers a
    PromQL query for the cold-start counter with the number of cold starts
    the test reported.

    Needs Debian's prometheus package (tools/setup.sh --test installs it).
    =========================================================================
*/
#include "integration/itest.h"
#include "integration/ihttp.h"

//  Full path of a program on PATH, or fail the test naming the package.
static char *
s_which (const char *name)
{
    const char *path = getenv ("PATH");
    char *copy = strdup (path ? path : "/usr/bin:/bin");
    char *found = NULL;
    for (char *dir = strtok (copy, ":"); dir && !found; dir = strtok (NULL, ":")) {
        char candidate [1024];
        snprintf (candidate, sizeof candidate, "%s/%s", dir, name);
        if (access (candidate, X_OK) == 0)
            found = strdup (candidate);
    }
    free (copy);
    if (!found)
        fail_msg ("%s is not installed: run tools/setup.sh --test (Debian package prometheus)",
                  name);
    return found;
}

//  A loopback port nobody listens on right now.
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (bind (fd, (struct sockaddr *) &address, sizeof address), 0);
    socklen_t size = sizeof address;
    getsockname (fd, (struct sockaddr *) &address, &size);
    close (fd);
    return ntohs (address.sin_port);
}

//  Emit one usage event with an outcome.
static void
s_emit (itest_t *it, const char *user, const char *model, const char *outcome)
{
    const char *args [] = { "emit", "--user", user, "--model", model, "--outcome", outcome,
                            "--wait-ms", "1200", NULL };
    char *output = NULL;
    int code = itest_ctl (it, args, &output);
    if (code != 0)
        fail_msg ("warmupctl emit failed (%d): %s", code, output);
    free (output);
}

static void
test_promtool_and_server (void **state)
{
    char *promtool = s_which ("promtool");
    char *prometheus = s_which ("prometheus");
    itest_t it;
    itest_init (&it, "wp-prom", "metrics_interval_ms = 100\n");
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    char endpoint [128];
    ihttp_endpoint_of (daemon, endpoint, sizeof endpoint);

    //  Five cold starts over two models, two warm requests
    s_emit (&it, "u1", "coder", "cold");
    s_emit (&it, "u2", "coder", "cold");
    s_emit (&it, "u1", "coder", "cold");
    s_emit (&it, "u3", "chat", "cold");
    s_emit (&it, "u3", "chat", "cold");
    s_emit (&it, "u1", "coder", "warm");
    s_emit (&it, "u2", "chat", "warm");
    bool found;
    char *body = ihttp_wait_for (endpoint, "/metrics", "warmup_requests_total{model=\"coder\"} 4\n",
                                 ITEST_EVENT_MS, &found);
    assert_true (found);
    free (body);
    body = ihttp_wait_for (endpoint, "/metrics", "warmup_requests_total{model=\"chat\"} 3\n",
                           ITEST_EVENT_MS, &found);
    assert_true (found);
    //  ... and the latency histogram has samples (predictions came back)
    free (body);
    body = ihttp_wait_for (endpoint, "/metrics", "warmup_prediction_latency_seconds_count 7\n",
                           ITEST_EVENT_MS, &found);
    if (!found)
        fail_msg ("no latency samples:\n%s", body);

    //  promtool check metrics: the exposition format and its lint rules
    char path [1024];
    snprintf (path, sizeof path, "%s/metrics.txt", it.dir);
    wp_test_write_file (path, body);
    free (body);
    char command [2200];
    snprintf (command, sizeof command, "%s check metrics < %s", promtool, path);
    const char *check [] = { "/bin/sh", "-c", command, NULL };
    char *output = NULL;
    int code = wp_test_run (check, ITEST_START_MS, &output);
    if (code != 0 || strstr (output, "error") || strstr (output, "warn"))
        fail_msg ("promtool check metrics failed (%d):\n%s", code, output);
    free (output);

    //  A Prometheus server scraping warmupd every second, on loopback only
    int port = s_free_port ();
    char config [1024], data [1024], listen [64], prom [64];
    snprintf (config, sizeof config, "%s/prometheus.yml", it.dir);
    snprintf (data, sizeof data, "--storage.tsdb.path=%s/prometheus", it.dir);
    snprintf (listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", port);
    snprintf (prom, sizeof prom, "127.0.0.1:%d", port);
    char yml [512];
    snprintf (yml, sizeof yml,
              "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
              "scrape_configs:\n  - job_name: warmup\n    static_configs:\n"
              "      - targets: ['%s']\n", endpoint);
    wp_test_write_file (config, yml);
    char config_flag [1100];
    snprintf (config_flag, sizeof config_flag, "--config.file=%s", config);
    const char *argv [] = { prometheus, config_flag, data, listen, "--log.level=warn", NULL };
    wp_test_proc_t *server = wp_test_spawn (argv);

    //  Ready when its API says so (bounded)
    body = ihttp_wait_for (prom, "/-/ready", "Ready", 60000, &found);
    if (!found)
        fail_msg ("prometheus did not get ready:\n%s", wp_test_proc_output (server));
    free (body);

    //  The cold-start counter, through PromQL, equals what we reported
    body = ihttp_wait_for (prom, "/api/v1/query?query=sum(warmup_cold_starts_total)",
                           "\"5\"]", 60000, &found);
    if (!found)
        fail_msg ("PromQL sum(warmup_cold_starts_total) never answered 5:\n%s\n%s", body,
                  wp_test_proc_output (server));
    assert_non_null (strstr (body, "\"status\":\"success\""));
    free (body);
    body = ihttp_wait_for (prom, "/api/v1/query?query=warmup_cold_starts_total%7Bmodel%3D%22chat%22%7D",
                           "\"2\"]", 60000, &found);
    assert_true (found);
    free (body);
    //  The scrape itself is healthy
    body = ihttp_wait_for (prom, "/api/v1/query?query=up%7Bjob%3D%22warmup%22%7D", "\"1\"]",
                           60000, &found);
    assert_true (found);
    free (body);

    assert_int_equal (wp_test_proc_stop (server, SIGTERM, 30000), 0);
    wp_test_proc_destroy (&server);
    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
    free (promtool);
    free (prometheus);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_promtool_and_server),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
