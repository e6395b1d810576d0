/*  =========================================================================
    test_dashboard - the dashboard as a person sees it, in headless
    Chromium: opened while warmupd replays a short trace (the page shows
    live numbers and its charts fill), then, once the trace is over and
    the service is quiet, every number the page shows equals the one in
    /api/snapshot; a screenshot is saved as a test artifact
    ($WP_ARTIFACT_DIR/dashboard.png).

    Needs Debian's chromium package (tools/setup.sh --test installs it).
    =========================================================================
*/
#include "integration/itest.h"
#include "integration/ihttp.h"
#include <sys/stat.h>

//  Models of the trace, with their memory and load time.
static const char *s_config =
    "metrics_interval_ms = 200\n"
    "max_memory_mb = 16384\n"
    "gpu_source = nvidia-smi\n"         //  the scripted one (tests/fake)
    "gpu_interval_ms = 200\n"
    "models\n"
    "    qwen-coder-1.5b\n"
    "        memory_mb = 1800\n"
    "        load_ms = 300\n"
    "    llama3-8b-chat\n"
    "        memory_mb = 4800\n"
    "        load_ms = 600\n"
    "    nomic-embed\n"
    "        memory_mb = 300\n"
    "        load_ms = 150\n"
    "    starcoder2-3b\n"
    "        memory_mb = 3000\n"
    "        load_ms = 400\n";

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
        fail_msg ("%s is not installed: run tools/setup.sh --test (Debian package chromium)",
                  name);
    return found;
}

//  Publish one usage event of the trace.
static void
s_usage (wp_bus_t *bus, const char *user, const char *model, Warmup__V1__Outcome outcome,
         uint32_t wait_ms, uint64_t at_ms, int *published)
{
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    usage.user = (char *) user;
    usage.model = (char *) model;
    usage.task = WARMUP__V1__TASK__TASK_COMPLETION;
    usage.outcome = outcome;
    usage.wait_ms = wait_ms;
    usage.event_ms = at_ms;
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_USAGE, &usage.base), 0);
    (*published)++;
}

//  A metrics.snapshot event.
static bool
s_is_snapshot (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    return topic == WP_TOPIC_METRICS;
}

//  Headless Chromium on url: "--dump-dom" or "--screenshot=FILE". The
//  page runs for budget_ms of virtual time (its polls included) first.
//  Returns the process; stdout (the DOM) is what it prints.
static wp_test_proc_t *
s_chromium (const char *chromium, const char *dir, const char *what, const char *url,
            int budget_ms)
{
    static int runs = 0;
    char command [4096];
    snprintf (command, sizeof command,
              "exec %s --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
              "--disable-background-networking --disable-component-update --disable-sync "
              "--user-data-dir=%s/chromium-%d --window-size=1440,1500 "
              "--virtual-time-budget=%d %s %s 2>>%s/chromium.log",
              chromium, dir, ++runs, budget_ms, what, url, dir);
    const char *argv [] = { "/bin/sh", "-c", command, NULL };
    return wp_test_spawn (argv);
}

//  Run Chromium to its end; returns what it printed (caller frees).
static char *
s_chromium_wait (wp_test_proc_t **proc_p)
{
    int code = wp_test_proc_wait (*proc_p, 120000);
    char *output = strdup (wp_test_proc_output (*proc_p));
    if (code != 0)
        fail_msg ("chromium failed (%d):\n%.2000s", code, output);
    wp_test_proc_destroy (proc_p);
    return output;
}

//  The value of attribute name in the element starting at tag, or "".
static void
s_attribute (const char *tag, const char *name, char *value, size_t size)
{
    value [0] = 0;
    const char *end = strchr (tag, '>');
    char pattern [64];
    snprintf (pattern, sizeof pattern, " %s=\"", name);
    const char *at = strstr (tag, pattern);
    if (!at || (end && at > end))
        return;
    at += strlen (pattern);
    size_t length = strcspn (at, "\"");
    snprintf (value, size, "%.*s", (int) (length < size ? length : size - 1), at);
}

//  The number at a dotted path of the snapshot JSON ("totals.requests",
//  "horizons.all.f1", "models.NAME.requests"); NaN for null; fails when
//  the path is not there.
static double
s_json_value (const char *json, const char *path)
{
    //  first.middle.last, where the middle (a model name) may hold dots
    char parts [3][200] = { "", "", "" };
    int n = 1;
    const char *first_dot = strchr (path, '.'), *last_dot = strrchr (path, '.');
    if (!first_dot)
        snprintf (parts [0], sizeof parts [0], "%s", path);
    else {
        snprintf (parts [0], sizeof parts [0], "%.*s", (int) (first_dot - path), path);
        if (first_dot == last_dot) {
            snprintf (parts [1], sizeof parts [1], "%s", first_dot + 1);
            n = 2;
        }
        else {
            snprintf (parts [1], sizeof parts [1], "%.*s", (int) (last_dot - first_dot - 1),
                      first_dot + 1);
            snprintf (parts [2], sizeof parts [2], "%s", last_dot + 1);
            n = 3;
        }
    }
    char pattern [700];
    const char *at = json;
    const char *field = parts [n - 1];
    if (n == 3) {
        const char *key = strcmp (parts [0], "horizons") == 0 ? "horizon"
                        : strcmp (parts [0], "models") == 0 ? "model"
                        : strcmp (parts [0], "memory") == 0 ? "device" : "component";
        //  memory.devices.NAME.field: the device NAME
        const char *name = strcmp (parts [0], "memory") == 0
                        && strncmp (parts [1], "devices.", 8) == 0 ? parts [1] + 8 : parts [1];
        snprintf (pattern, sizeof pattern, "\"%s\":\"%s\"", key, name);
        at = strstr (json, pattern);
    }
    else
    if (n == 2) {
        snprintf (pattern, sizeof pattern, "\"%s\":{", parts [0]);
        at = strstr (json, pattern);
    }
    if (!at)
        fail_msg ("no %s in the snapshot", path);
    snprintf (pattern, sizeof pattern, "\"%s\":", field);
    at = strstr (at, pattern);
    if (!at)
        fail_msg ("no %s in the snapshot", path);
    at += strlen (pattern);
    if (strncmp (at, "null", 4) == 0)
        return NAN;
    return strtod (at, NULL);
}

//  Metrics that move with the clock alone (memory-time; heartbeats and
//  snapshots flow all the time; the machine's memory use): not compared.
//  A device's total is.
static bool
s_moves_with_time (const char *path)
{
    return strstr (path, "resident_gb_s") || strstr (path, "uptime")
        || strncmp (path, "components.", 11) == 0
        || (strncmp (path, "memory.", 7) == 0 && !strstr (path, ".total_mb"));
}

//  Every number the page shows against the snapshot; returns how many
//  were compared.
static int
s_compare (const char *dom, const char *json)
{
    int compared = 0;
    for (const char *at = strstr (dom, " data-metric=\""); at;
         at = strstr (at + 1, " data-metric=\"")) {
        const char *tag = at;
        while (tag > dom && *tag != '<')
            tag--;
        char path [128], shown [64], format [32];
        s_attribute (tag, "data-metric", path, sizeof path);
        s_attribute (tag, "data-value", shown, sizeof shown);
        s_attribute (tag, "data-format", format, sizeof format);
        if (s_moves_with_time (path))
            continue;
        double want = s_json_value (json, path);
        if (isnan (want)) {
            if (*shown)
                fail_msg ("%s: the page shows %s, the snapshot has null", path, shown);
        }
        else {
            char *end = NULL;
            double got = strtod (shown, &end);
            if (!*shown || *end || fabs (got - want) > 1e-9 * fmax (1, fabs (want)))
                fail_msg ("%s: the page shows '%s', the snapshot has %.12g", path, shown, want);
            //  Counts are shown as they are
            if (!*format) {
                const char *text = strchr (at, '>') + 1;
                size_t length = strcspn (text, "<");
                if (strncmp (text, shown, length) != 0 || strlen (shown) != length)
                    fail_msg ("%s: the page reads '%.*s', its value is %s", path, (int) length,
                              text, shown);
            }
        }
        compared++;
    }
    return compared;
}

//  True when two snapshots agree on every number the page shows (those
//  that move with time aside).
static bool
s_same (const char *dom, const char *one, const char *two)
{
    for (const char *at = strstr (dom, " data-metric=\""); at;
         at = strstr (at + 1, " data-metric=\"")) {
        const char *tag = at;
        while (tag > dom && *tag != '<')
            tag--;
        char path [128];
        s_attribute (tag, "data-metric", path, sizeof path);
        if (s_moves_with_time (path))
            continue;
        double a = s_json_value (one, path), b = s_json_value (two, path);
        if (isnan (a) != isnan (b)
            || (!isnan (a) && fabs (a - b) > 1e-9 * fmax (1, fabs (a))))
            return false;
    }
    return true;
}

//  The integer totals that settle once the trace is processed.
static void
s_settled_totals (const char *json, char *out, size_t size)
{
    const char *start = strstr (json, "\"requests\":");
    const char *end = strstr (json, "\"cold_wait_s\"");
    const char *pw = strstr (json, "\"prewarms\":");
    const char *pw_end = strstr (json, "\"fp_rate\"");
    const char *pred = strstr (json, "\"predictions\":");
    const char *pred_end = strstr (json, "\"guesses_open\"");
    assert_true (start && end && pw && pw_end && pred && pred_end);
    snprintf (out, size, "%.*s|%.*s|%.*s", (int) (end - start), start, (int) (pw_end - pw), pw,
              (int) (pred_end - pred), pred);
}

//  Wait until two snapshots a few metrics periods apart agree on the
//  settled totals and count every request; returns the latter (caller
//  frees).
static char *
s_wait_quiet (const char *endpoint, wp_bus_t *bus, int requests)
{
    char needle [64];
    snprintf (needle, sizeof needle, "\"requests\":%d,", requests);
    bool found;
    char *json = ihttp_wait_for (endpoint, "/api/snapshot", needle, ITEST_EVENT_MS, &found);
    if (!found)
        fail_msg ("the snapshot never counted %d requests:\n%.3000s", requests, json);
    for (int tries = 0; tries < 100; tries++) {
        char before [1024], after [1024];
        s_settled_totals (json, before, sizeof before);
        for (int i = 0; i < 3; i++)
            assert_true (itest_wait_event (bus, s_is_snapshot, NULL, ITEST_EVENT_MS));
        free (json);
        ihttp_reply_t reply = ihttp_get (endpoint, "/api/snapshot");
        assert_int_equal (reply.status, 200);
        json = reply.body;
        reply.body = NULL;
        ihttp_reply_free (&reply);
        s_settled_totals (json, after, sizeof after);
        if (strcmp (before, after) == 0)
            return json;
    }
    fail_msg ("the service never went quiet");
    return NULL;
}

static void
test_dashboard (void **state)
{
    char *chromium = s_which ("chromium");
    itest_t it;
    itest_init (&it, "wp-dash", s_config);
    //  A GPU, scripted: 24 GiB, 6 of them another process's
    const char *fake = getenv ("WP_FAKE_BIN_DIR");
    assert_non_null (fake);
    char *path = zsys_sprintf ("%s:%s", fake, getenv ("PATH") ? getenv ("PATH") : "/bin");
    assert_int_equal (setenv ("PATH", path, 1), 0);
    zstr_free (&path);
    assert_int_equal (setenv ("WP_FAKE_GPU_DIR", it.dir, 1), 0);
    char *gpus = zsys_sprintf ("%s/gpus", it.dir);
    wp_test_write_file (gpus, "0, GPU-dash-0, Fake GPU 24 GiB, 24576, 6144\n");
    zstr_free (&gpus);
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    char endpoint [128], url [200];
    ihttp_endpoint_of (daemon, endpoint, sizeof endpoint);
    snprintf (url, sizeof url, "http://%s/?interval=250", endpoint);
    const char *topics [] = { "metrics.snapshot", NULL };
    wp_bus_t *bus = itest_bus (&it, topics);
    int published = 0;

    //  The trace, first its history: regular users the engine learns
    uint64_t now = wp_wall_us () / 1000;
    for (int i = 6; i >= 1; i--)
        s_usage (bus, "alice", "qwen-coder-1.5b", i == 6 ? WARMUP__V1__OUTCOME__OUTCOME_COLD
                 : WARMUP__V1__OUTCOME__OUTCOME_WARM, i == 6 ? 300 : 0,
                 now - (uint64_t) i * 10000, &published);
    for (int i = 4; i >= 1; i--)
        s_usage (bus, "bob", "nomic-embed", WARMUP__V1__OUTCOME__OUTCOME_COLD, 150,
                 now - (uint64_t) i * 20000, &published);
    for (int i = 3; i >= 1; i--)
        s_usage (bus, "carol", "starcoder2-3b", WARMUP__V1__OUTCOME__OUTCOME_COLD, 400,
                 now - (uint64_t) i * 15000, &published);

    //  Open the page while the rest of the trace plays, one round per
    //  metrics snapshot
    wp_test_proc_t *browser = s_chromium (chromium, it.dir, "--dump-dom", url, 4000);
    for (int round = 0; round < 25; round++) {
        assert_true (itest_wait_event (bus, s_is_snapshot, NULL, ITEST_EVENT_MS));
        uint64_t at = wp_wall_us () / 1000;
        if (round % 2 == 0)
            s_usage (bus, "alice", "qwen-coder-1.5b", WARMUP__V1__OUTCOME__OUTCOME_WARM, 0, at,
                     &published);
        if (round % 4 == 1)
            s_usage (bus, "bob", "nomic-embed", WARMUP__V1__OUTCOME__OUTCOME_WARM, 0, at,
                     &published);
        if (round % 5 == 2)
            s_usage (bus, "carol", "starcoder2-3b", round < 10
                     ? WARMUP__V1__OUTCOME__OUTCOME_DELAYED : WARMUP__V1__OUTCOME__OUTCOME_WARM,
                     round < 10 ? 120 : 0, at, &published);
        if (round == 7 || round == 19)
            s_usage (bus, "dave", "llama3-8b-chat", round == 7
                     ? WARMUP__V1__OUTCOME__OUTCOME_COLD : WARMUP__V1__OUTCOME__OUTCOME_WARM,
                     round == 7 ? 600 : 0, at, &published);
    }
    char *dom = s_chromium_wait (&browser);
    //  What the page showed while events flowed: live numbers, charts
    char value [64];
    const char *body = strstr (dom, "<body");
    assert_non_null (body);
    s_attribute (body, "data-snapshot-time", value, sizeof value);
    if (atoll (value) <= 0)
        fail_msg ("the page never rendered a snapshot:\n%.3000s", dom);
    const char *charts [] = { "chart-cold", "chart-memory", "chart-accuracy", NULL };
    for (int i = 0; charts [i]; i++) {
        char id [64];
        snprintf (id, sizeof id, "id=\"%s\"", charts [i]);
        const char *chart = strstr (dom, id);
        assert_non_null (chart);
        while (*chart != '<')
            chart--;
        s_attribute (chart, "data-points", value, sizeof value);
        if (atoi (value) < 2)
            fail_msg ("chart %s has %s points", charts [i], value);
    }
    assert_non_null (strstr (dom, "data-series=\"avoided\""));
    free (dom);

    //  The trace is over: once quiet, the page shows the snapshot's numbers.
    //  The scheduler may still warm or cool a model late on a busy machine,
    //  so a page is held against the snapshot only when the snapshots just
    //  before and just after its load agree (it rendered one in between);
    //  else it is loaded again.
    char *settled = s_wait_quiet (endpoint, bus, published);
    free (settled);
    ihttp_reply_t reply;
    for (int tries = 0; ; tries++) {
        ihttp_reply_t before = ihttp_get (endpoint, "/api/snapshot");
        assert_int_equal (before.status, 200);
        browser = s_chromium (chromium, it.dir, "--dump-dom", url, 1500);
        dom = s_chromium_wait (&browser);
        reply = ihttp_get (endpoint, "/api/snapshot");
        assert_int_equal (reply.status, 200);
        bool same = s_same (dom, before.body, reply.body);
        ihttp_reply_free (&before);
        if (same)
            break;
        if (tries == 20)
            fail_msg ("the numbers never held still over a page load");
        free (dom);
        ihttp_reply_free (&reply);
    }
    int compared = s_compare (dom, reply.body);
    //  KPIs, the model table (4 models x 3), horizons (4 x 4), components
    if (compared < 40)
        fail_msg ("only %d numbers compared:\n%.3000s", compared, dom);
    char requests [64];
    snprintf (requests, sizeof requests, "data-metric=\"totals.requests\" data-value=\"%d\"",
              published);
    assert_non_null (strstr (dom, requests));
    //  The model table shows each model's state
    const char *models [] = { "qwen-coder-1.5b", "nomic-embed", "starcoder2-3b",
                              "llama3-8b-chat", NULL };
    for (int i = 0; models [i]; i++) {
        char badge [128];
        snprintf (badge, sizeof badge, "data-model-state=\"%s\">", models [i]);
        assert_non_null (strstr (dom, badge));
    }
    //  The device memory panel shows RAM and the GPU as measured (their
    //  totals compared above)
    assert_non_null (strstr (dom, "data-metric=\"memory.devices.ram.total_mb\""));
    assert_non_null (strstr (dom, "data-metric=\"memory.devices.ram.capacity_mb\""));
    assert_non_null (strstr (dom, "data-metric=\"memory.devices.gpu0.total_mb\" "
                                  "data-value=\"24576\""));
    assert_non_null (strstr (dom, "data-metric=\"memory.devices.gpu0.others_mb\" "
                                  "data-value=\"6144\""));
    assert_non_null (strstr (dom, "Fake GPU 24 GiB"));
    free (dom);
    ihttp_reply_free (&reply);

    //  The screenshot, a test artifact
    const char *artifacts = getenv ("WP_ARTIFACT_DIR");
    char png [1024];
    if (artifacts && *artifacts) {
        mkdir (artifacts, 0755);
        snprintf (png, sizeof png, "%s/dashboard.png", artifacts);
    }
    else
        snprintf (png, sizeof png, "%s/dashboard.png", it.dir);
    unlink (png);
    char flag [1100];
    snprintf (flag, sizeof flag, "--screenshot=%s", png);
    browser = s_chromium (chromium, it.dir, flag, url, 1500);
    free (s_chromium_wait (&browser));
    FILE *file = fopen (png, "rb");
    if (!file)
        fail_msg ("no screenshot at %s", png);
    unsigned char header [8] = { 0 };
    assert_int_equal (fread (header, 1, 8, file), 8);
    assert_int_equal (memcmp (header, "\x89PNG\r\n\x1a\n", 8), 0);
    fseek (file, 0, SEEK_END);
    assert_true (ftell (file) > 20000);     //  a page, not a blank
    fclose (file);
    printf ("dashboard screenshot: %s\n", png);

    wp_bus_destroy (&bus);
    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
    free (chromium);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_dashboard),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
