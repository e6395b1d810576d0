/*  =========================================================================
    test_model_load - custom predictors end to end: warmupctl train writes a
    model file from a trace, warmupctl model show prints it, warmupctl
    model load installs it in a running warmupd (no restart: the same
    process answers, and says what it replaced); a damaged file is refused
    by warmupctl, and a bad payload by the engine itself, each with the
    reason; after a restart the engine takes back what it had (the stored
    weights, with the loaded model's examples).
    =========================================================================
*/
#include "itest.h"
#include "wp_engine_file.h"

//  A small trace of two users and three models, requests seconds to
//  minutes apart (a fixed sequence), and its catalog.
static void
s_trace (const itest_t *it, char *trace, char *catalog, size_t size)
{
    snprintf (trace, size, "%s/trace.csv", it->dir);
    snprintf (catalog, size, "%s/catalog.csv", it->dir);
    FILE *file = fopen (trace, "w");
    assert_non_null (file);
    fprintf (file, "timestamp_ms,user,model\n");
    uint64_t x = 7, t = 0;
    for (int i = 0; i < 3000; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t r = (uint32_t) (x >> 33);
        t += r % 8 == 0 ? 600000 + r % 1200000 : 1000 + r % 20000;
        fprintf (file, "%" PRIu64 ",user%u,m%u\n", t, r % 2, (r >> 4) % 3);
    }
    fclose (file);
    wp_test_write_file (catalog, "model,memory_mb,load_ms\nm0,1000,2000\nm1,4000,8000\n"
                                 "m2,500,700\n");
}

//  Run warmupctl; its exit code and output.
static int
s_ctl (itest_t *it, const char *const args [], char **output)
{
    return itest_ctl (it, args, output);
}

static void
test_train_load_restart (void **state)
{
    itest_t it;
    itest_init (&it, "model-load", NULL);
    char trace [512], catalog [512], model [512], damaged [512];
    s_trace (&it, trace, catalog, sizeof trace);
    snprintf (model, sizeof model, "%s/model.bin", it.dir);
    snprintf (damaged, sizeof damaged, "%s/damaged.bin", it.dir);

    //  train, show
    char *output = NULL;
    const char *train [] = { "train", "--trace", trace, "--catalog", catalog, "--out", model,
                             "--quiet", NULL };
    int code = s_ctl (&it, train, &output);
    if (code != 0)
        fail_msg ("train exited %d: %s", code, output);
    unsigned long long requests = 0, examples = 0;
    const char *wrote = strstr (output, "requests, ");
    assert_non_null (wrote);
    assert_int_equal (sscanf (strstr (output, ": ") + 2, "%llu requests, %llu examples",
                              &requests, &examples), 2);
    assert_int_equal (requests, 3000);
    assert_true (examples > 1000);
    free (output);
    const char *show [] = { "model", "show", model, NULL };
    assert_int_equal (s_ctl (&it, show, &output), 0);
    assert_non_null (strstr (output, "learned from trace.csv, 3000 requests"));
    free (output);

    //  load into a running service: the same process answers
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    pid_t pid = wp_test_proc_pid (daemon);
    const char *load [] = { "model", "load", model, NULL };
    code = s_ctl (&it, load, &output);
    if (code != 0)
        fail_msg ("model load exited %d: %s", code, output);
    assert_non_null (strstr (output, "engine: model of trace.csv"));
    assert_non_null (strstr (output, "replaced what was learned online"));
    free (output);
    assert_int_equal (wp_test_proc_pid (daemon), pid);

    //  a damaged file: refused by warmupctl, the reason named
    FILE *in = fopen (model, "rb"), *out = fopen (damaged, "wb");
    assert_non_null (in);
    assert_non_null (out);
    uint8_t data [WP_ENGINE_FILE_MAX];
    size_t len = fread (data, 1, sizeof data, in);
    data [len / 2] ^= 1;
    assert_int_equal (fwrite (data, 1, len, out), len);
    fclose (in);
    fclose (out);
    const char *bad [] = { "model", "load", damaged, NULL };
    assert_int_equal (s_ctl (&it, bad, &output), 1);
    assert_non_null (strstr (output, "checksum differs"));
    free (output);

    //  a bad payload straight to the engine: refused by it, with the reason
    const char *replies [] = { "control.reply", NULL };
    wp_bus_t *bus = itest_bus (&it, replies);
    Warmup__V1__ControlRequest request = WARMUP__V1__CONTROL_REQUEST__INIT;
    request.command = WARMUP__V1__COMMAND__COMMAND_MODEL_LOAD;
    request.request_id = (char *) "bad-payload";
    request.payload.data = data;
    request.payload.len = len - 3;
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_CONTROL, &request.base), 0);
    bool refused = false;
    wp_bus_event_t event;
    while (!refused && wp_bus_recv_wait (bus, &event, wp_test_ms (ITEST_EVENT_MS)) == 1) {
        const Warmup__V1__ControlReply *reply = (const Warmup__V1__ControlReply *) event.msg;
        refused = streq (reply->request_id, "bad-payload") && streq (reply->component, "engine")
               && !reply->ok && strstr (reply->error, "cut short");
        wp_bus_event_free (&event);
    }
    assert_true (refused);
    wp_bus_destroy (&bus);

    //  a restart: the engine takes back what it had
    itest_stop (&daemon, "warmupd");
    daemon = itest_start (&it, "warmupd", NULL, NULL);
    char line [160];
    snprintf (line, sizeof line, "took the stored weights (%llu examples)", examples);
    //  (said at start, before its "ready")
    if (!strstr (wp_test_proc_output (daemon), line))
        fail_msg ("no '%s':\n%s", line, wp_test_proc_output (daemon));
    itest_stop (&daemon, "warmupd");
    itest_destroy (&it);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_train_load_restart),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
