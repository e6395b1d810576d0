/*  =========================================================================
    test_gpu_memory - memory as measured, without a GPU: a scripted
    nvidia-smi (tests/fake/nvidia-smi) and a scripted NVML (the fake
    libnvidia-ml.so.1 on LD_LIBRARY_PATH) stand in for the driver.

    Budget and admission (warmupd, nvidia-smi): 8 GiB on gpu0, 5 GiB of it
    held by another process, max_vram_mb = auto and memory_reserve_mb =
    512 give a 2.5 GiB GPU budget; a pinned 3 GiB model is not warmed,
    and warmupctl models says why, until the other process frees its
    memory; then it is warmed through an Ollama stand-in whose /api/ps
    reports 2800 MiB, all on the GPU; perf learns it, warmupctl models
    shows configured and learned sizes, and the model is planned with
    what it was learned to take (pinned again under a 2900 MiB budget its
    configured 3072 would not fit; another model with the same
    configuration is refused); /metrics and /api/snapshot show the
    device memory.

    Processes and measures (bus, resource, perf; NVML): ours is the
    watched processes' memory on each GPU, a GPU outside `gpus` is not
    ours to use, and a load whose server reports nothing is measured by
    the change in GPU memory around it, which perf learns.
    =========================================================================
*/
#include "itest.h"
#include "ihttp.h"
#include "unit/httpstub.h"

//  Write a file of the scripted GPU machine at once (rename).
static void
s_gpu_file (const char *dir, const char *name, const char *text)
{
    char path [1024], temporary [1100];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    snprintf (temporary, sizeof temporary, "%s.new", path);
    wp_test_write_file (temporary, text);
    assert_int_equal (rename (temporary, path), 0);
}

//  Put the fake nvidia-smi first on PATH and point it at dir.
static void
s_fake_gpus (const char *dir)
{
    const char *fake = getenv ("WP_FAKE_BIN_DIR");
    assert_non_null (fake);
    const char *path = getenv ("PATH");
    char *joined = zsys_sprintf ("%s:%s", fake, path ? path : "/usr/bin:/bin");
    assert_int_equal (setenv ("PATH", joined, 1), 0);
    zstr_free (&joined);
    assert_int_equal (setenv ("WP_FAKE_GPU_DIR", dir, 1), 0);
}

//  What a resource.status must show of one GPU (0 = anything).
typedef struct {
    const char *device;
    uint64_t total_mb, used_mb, ours_mb, others_mb, capacity_mb;
    uint64_t vram_budget_mb;
    const char *ours_from;
    bool unmanaged;             //  must be a GPU this service does not use
} want_gpu_t;

//  True when a resource.status shows the GPU as wanted.
static bool
s_status_shows (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    const want_gpu_t *want = (const want_gpu_t *) arg;
    if (topic != WP_TOPIC_RESOURCE)
        return false;
    const Warmup__V1__ResourceStatus *in = (const Warmup__V1__ResourceStatus *) msg;
    if (want->vram_budget_mb && in->vram_budget_mb != want->vram_budget_mb)
        return false;
    for (size_t i = 0; i < in->n_devices; i++) {
        const Warmup__V1__DeviceMemory *d = in->devices [i];
        if (!streq (d->device, want->device))
            continue;
        return (!want->total_mb || d->total_mb == want->total_mb)
            && (!want->used_mb || d->used_mb == want->used_mb)
            && (!want->ours_mb || d->ours_mb == want->ours_mb)
            && (!want->others_mb || d->others_mb == want->others_mb)
            && (!want->capacity_mb || d->capacity_mb == want->capacity_mb)
            && (!want->ours_from || streq (d->ours_from, want->ours_from))
            && d->managed == !want->unmanaged
            && d->reserved_mb == in->reserve_mb;
    }
    return false;
}

//  A warmup.done of a model and action, ok; its memory into *memory.
typedef struct {
    const char *model;
    int action;
    uint32_t memory_mb, vram_mb;    //  out
    char source [32];               //  out
} want_done_t;

static bool
s_is_done (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    want_done_t *want = (want_done_t *) arg;
    if (topic != WP_TOPIC_WARMUP_DONE)
        return false;
    const Warmup__V1__WarmupDone *in = (const Warmup__V1__WarmupDone *) msg;
    if (!streq (in->model, want->model) || (int) in->action != want->action)
        return false;
    if (!in->ok)
        fail_msg ("%s %s failed: %s", in->action == 1 ? "warm" : "cool", in->model, in->error);
    want->memory_mb = in->memory_mb;
    want->vram_mb = in->vram_mb;
    snprintf (want->source, sizeof want->source, "%s", in->memory_source);
    return true;
}

//  A perf.estimate that learned a model's memory from a source.
typedef struct {
    const char *model;
    const char *from;
    uint32_t learned_mb, learned_vram_mb;   //  out
} want_learned_t;

static bool
s_is_learned (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    want_learned_t *want = (want_learned_t *) arg;
    if (topic != WP_TOPIC_PERF)
        return false;
    const Warmup__V1__PerfEstimate *in = (const Warmup__V1__PerfEstimate *) msg;
    if (!streq (in->model, want->model) || !in->learned_mb || !streq (in->learned_from, want->from))
        return false;
    want->learned_mb = in->learned_mb;
    want->learned_vram_mb = in->learned_vram_mb;
    return true;
}

//  warmupctl models --json until the model's entry holds every field
//  (NULL-ended); returns the listing (caller frees), or fails at the bound.
static char *
s_listing (itest_t *it, const char *model, const char *const fields [])
{
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    const char *args [] = { "models", "--json", NULL };
    char *listing = NULL;
    while (true) {
        free (listing);
        listing = NULL;
        if (itest_ctl (it, args, &listing) == 0) {
            char needle [300];
            snprintf (needle, sizeof needle, "\"model\":\"%s\"", model);
            const char *entry = strstr (listing, needle);
            const char *next = entry ? strstr (entry + 1, "\"model\":\"") : NULL;
            bool all = entry != NULL;
            for (int i = 0; all && fields [i]; i++) {
                const char *found = strstr (entry, fields [i]);
                all = found && (!next || found < next);
            }
            if (all)
                return listing;
        }
        if (zclock_mono () >= deadline)
            fail_msg ("%s never had all of its fields (first: %s):\n%s", model, fields [0],
                      listing);
    }
}

//  warmupctl audit --model M --kind K until it shows needle, or fail at
//  the bound (the audit writes what it hears on the bus: a moment after).
static void
s_audit_shows (itest_t *it, const char *model, const char *kind, const char *needle)
{
    int64_t deadline = zclock_mono () + wp_test_ms (ITEST_EVENT_MS);
    const char *args [] = { "audit", "--model", model, "--kind", kind, NULL };
    char *output = NULL;
    while (true) {
        free (output);
        output = NULL;
        if (itest_ctl (it, args, &output) == 0 && strstr (output, needle))
            break;
        if (zclock_mono () >= deadline)
            fail_msg ("the audit of %s never showed '%s':\n%s", model, needle, output);
    }
    free (output);
}

//  True if a warmup.requested warm of the model is among the events the
//  bus client received so far (they are read, not waited for).
static bool
s_warm_asked (wp_bus_t *bus, const char *model)
{
    bool asked = false;
    wp_bus_event_t event;
    while (wp_bus_recv (bus, &event) == 1) {
        const Warmup__V1__WarmupRequested *in = (const Warmup__V1__WarmupRequested *) event.msg;
        if (event.topic == WP_TOPIC_WARMUP_REQUEST && streq (in->model, model)
            && in->action == WARMUP__V1__ACTION__ACTION_WARM)
            asked = true;
        wp_bus_event_free (&event);
    }
    return asked;
}

//  The Done-means scenario of the issue, through warmupd.
static void
test_budget_and_admission (void **state)
{
    char *gpu = wp_test_tmpdir ("wp-gpu-smi");
    s_fake_gpus (gpu);
    s_gpu_file (gpu, "gpus", "0, GPU-fake-0, Fake GPU 8 GiB, 8192, 5120\n");
    s_gpu_file (gpu, "apps", "GPU-fake-0, 4242, 5120\n");
    //  Ollama: loads anything, holds "big" in 2800 MiB, all of it on the GPU
    stub_t ollama;
    stub_start (&ollama);
    stub_route (&ollama, "POST", "/api/generate", STUB_REPLY, 200, "{\"done\":true}", 0);
    //  (nothing loaded when the queue asks at its start, for each model)
    stub_route (&ollama, "GET", "/api/ps", STUB_REPLY, 200, "{\"models\":[]}", 2);
    stub_route (&ollama, "GET", "/api/ps", STUB_REPLY, 200,
                "{\"models\":[{\"name\":\"big:latest\",\"model\":\"big:latest\","
                "\"size\":2936012800,\"size_vram\":2936012800}]}", 0);
    char extra [2048];
    snprintf (extra, sizeof extra,
              "resource_interval_ms = 100\n"
              "gpu_interval_ms = 100\n"
              "gpu_source = nvidia-smi\n"
              "max_vram_mb = auto\n"
              "memory_reserve_mb = 512\n"
              "models\n"
              "    big\n"
              "        backend = ollama\n"
              "        url = \"http://127.0.0.1:%d\"\n"
              "        memory_mb = 3072\n"
              "        pin = true\n"
              "    twin\n"
              "        backend = ollama\n"
              "        url = \"http://127.0.0.1:%d\"\n"
              "        memory_mb = 3072\n", ollama.port, ollama.port);
    itest_t it;
    itest_init (&it, "wp-gpu", extra);
    wp_test_proc_t *daemon = itest_start (&it, "warmupd", NULL, NULL);
    const char *topics [] = { "resource.status", "warmup.", "perf.estimate", NULL };
    wp_bus_t *bus = itest_bus (&it, topics);

    //  8 GiB - 5 GiB of another process - 512 MiB reserved: 2.5 GiB
    want_gpu_t busy = { "gpu0", 8192, 5120, 0, 5120, 2560, 2560, "models", false };
    assert_true (itest_wait_event (bus, s_status_shows, &busy, ITEST_EVENT_MS));
    //  The pinned 3 GiB model waits, and says why
    const char *deferred [] = { "\"state\":\"cold\"", "\"device\":\"gpu\"",
                                "\"deferred\":\"no room in GPU budget: needs 3072 MiB, "
                                "0 of 2560 MiB taken (max_vram_mb = auto, as measured)\"",
                                NULL };
    char *listing = s_listing (&it, "big", deferred);
    free (listing);
    //  ... and the text listing shows it too
    const char *text_args [] = { "models", NULL };
    char *output = NULL;
    assert_int_equal (itest_ctl (&it, text_args, &output), 0);
    assert_non_null (strstr (output, "waits: no room in GPU budget: needs 3072 MiB"));
    free (output);
    //  ... and so does the audit of decisions
    s_audit_shows (&it, "big", "deferred", " big                      no room in GPU budget: "
                                           "needs 3072 MiB, 0 of 2560 MiB taken");
    //  Nothing asked the queue to warm it (the events so far)
    assert_false (s_warm_asked (bus, "big"));
    //  ... and Ollama was never asked to load anything
    char *requests = stub_log (&ollama);
    assert_null (strstr (requests, "POST /api/generate"));
    free (requests);

    //  The other process frees its memory: the model is warmed, and
    //  Ollama says what it takes
    s_gpu_file (gpu, "apps", "");
    s_gpu_file (gpu, "gpus", "0, GPU-fake-0, Fake GPU 8 GiB, 8192, 0\n");
    want_done_t done = { .model = "big", .action = WARMUP__V1__ACTION__ACTION_WARM };
    assert_true (itest_wait_event (bus, s_is_done, &done, ITEST_EVENT_MS));
    assert_int_equal (done.memory_mb, 2800);
    assert_int_equal (done.vram_mb, 2800);
    assert_string_equal (done.source, "server");
    requests = stub_log (&ollama);
    assert_non_null (strstr (requests, "POST /api/generate"));
    free (requests);
    want_learned_t learned = { .model = "big", .from = "server" };
    assert_true (itest_wait_event (bus, s_is_learned, &learned, ITEST_EVENT_MS));
    assert_int_equal (learned.learned_mb, 2800);
    assert_int_equal (learned.learned_vram_mb, 2800);
    //  warmupctl models: configured and learned, planned with the learned
    s_audit_shows (&it, "big", "resumed", " big                      room now: warmed");
    const char *sizes [] = { "\"state\":\"warm\"", "\"memory_mb\":2800",
                             "\"configured_mb\":3072", "\"learned_mb\":2800",
                             "\"vram_mb\":2800", "\"learned_from\":\"server\"", NULL };
    listing = s_listing (&it, "big", sizes);
    free (listing);

    //  Planned with it: unpinned it is cooled; under a 2900 MiB budget
    //  (4780 MiB held by another process) a model configured at 3072
    //  cannot be pinned, big (2800 learned) can, and is warmed again
    const char *unpin [] = { "unpin", "big", NULL };
    assert_int_equal (itest_ctl (&it, unpin, &output), 0);
    free (output);
    want_done_t cooled = { .model = "big", .action = WARMUP__V1__ACTION__ACTION_COOL };
    assert_true (itest_wait_event (bus, s_is_done, &cooled, ITEST_EVENT_MS));
    s_gpu_file (gpu, "apps", "GPU-fake-0, 4242, 4780\n");
    s_gpu_file (gpu, "gpus", "0, GPU-fake-0, Fake GPU 8 GiB, 8192, 4780\n");
    want_gpu_t tighter = { "gpu0", 8192, 4780, 0, 4780, 2900, 2900, "models", false };
    assert_true (itest_wait_event (bus, s_status_shows, &tighter, ITEST_EVENT_MS));
    const char *pin_twin [] = { "pin", "twin", NULL };
    output = NULL;
    assert_int_equal (itest_ctl (&it, pin_twin, &output), 1);
    assert_non_null (strstr (output, "cannot pin twin: pinned models would need 3072 MiB of "
                                     "GPU memory, over the GPU budget 2900 MiB"));
    free (output);
    const char *pin_big [] = { "pin", "big", NULL };
    output = NULL;
    assert_int_equal (itest_ctl (&it, pin_big, &output), 0);
    free (output);
    want_done_t again = { .model = "big", .action = WARMUP__V1__ACTION__ACTION_WARM };
    assert_true (itest_wait_event (bus, s_is_done, &again, ITEST_EVENT_MS));
    assert_int_equal (again.memory_mb, 2800);

    //  /metrics and /api/snapshot show the device memory
    char endpoint [128];
    ihttp_endpoint_of (daemon, endpoint, sizeof endpoint);
    bool found = false;
    char *metrics = ihttp_wait_for (endpoint, "/metrics",
                                    "warmup_device_memory_bytes{device=\"gpu0\",kind=\"total\"} "
                                    "8589934592", ITEST_EVENT_MS, &found);
    assert_true (found);
    assert_non_null (strstr (metrics, "warmup_device_memory_bytes{device=\"gpu0\",kind=\"reserved\"} "
                                      "536870912"));
    assert_non_null (strstr (metrics, "warmup_device_memory_bytes{device=\"ram\",kind=\"total\"}"));
    assert_non_null (strstr (metrics, "warmup_memory_budget_auto{device=\"gpu\"} 1"));
    free (metrics);
    char *snapshot = ihttp_wait_for (endpoint, "/api/snapshot",
                                     "\"device\":\"gpu0\",\"name\":\"Fake GPU 8 GiB\","
                                     "\"total_mb\":8192", ITEST_EVENT_MS, &found);
    assert_true (found);
    assert_non_null (strstr (snapshot, "\"vram_auto\":true"));
    free (snapshot);

    wp_bus_destroy (&bus);
    itest_stop (&daemon, "warmupd");
    stub_stop (&ollama);
    itest_destroy (&it);
    wp_test_rmtree (gpu);
    free (gpu);
}

//  Publish a warm or cool the way the queue would finish one.
static void
s_publish_done (wp_bus_t *bus, const char *model, uint64_t start_ms, uint64_t end_ms)
{
    Warmup__V1__WarmupDone done = WARMUP__V1__WARMUP_DONE__INIT;
    done.event_ms = end_ms;
    done.model = (char *) model;
    done.action = WARMUP__V1__ACTION__ACTION_WARM;
    done.backend = (char *) "exec";
    done.ok = true;
    done.error = (char *) "";
    done.duration_ms = (uint32_t) (end_ms - start_ms);
    done.memory_mb = 4096;
    done.memory_source = (char *) "config";
    done.vram_mb = 4096;
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_WARMUP_DONE, &done.base), 0);
}

//  A resource.status that measured a model's load.
typedef struct {
    const char *model;
    uint32_t vram_mb;       //  out
    char how [32];          //  out
} want_measured_t;

static bool
s_is_measured (wp_topic_t topic, const ProtobufCMessage *msg, void *arg)
{
    want_measured_t *want = (want_measured_t *) arg;
    if (topic != WP_TOPIC_RESOURCE)
        return false;
    const Warmup__V1__ResourceStatus *in = (const Warmup__V1__ResourceStatus *) msg;
    for (size_t i = 0; i < in->n_measured; i++)
        if (streq (in->measured [i]->model, want->model)) {
            want->vram_mb = in->measured [i]->vram_mb;
            snprintf (want->how, sizeof want->how, "%s", in->measured [i]->how);
            return true;
        }
    return false;
}

//  NVML: the processes on each GPU, a GPU not ours, and a measured load.
static void
test_nvml_processes_and_measure (void **state)
{
    const char *nvml = getenv ("WP_FAKE_NVML_DIR");
    assert_non_null (nvml);
    assert_int_equal (setenv ("LD_LIBRARY_PATH", nvml, 1), 0);
    char *gpu = wp_test_tmpdir ("wp-gpu-nvml");
    assert_int_equal (setenv ("WP_FAKE_GPU_DIR", gpu, 1), 0);
    //  gpu0: 1000 MiB ours (this test's process, watched), 500 another's;
    //  gpu1: not one of gpus
    s_gpu_file (gpu, "gpus", "0, GPU-n-0, Fake A, 16384, 1500\n1, GPU-n-1, Fake B, 8192, 100\n");
    char apps [256];
    snprintf (apps, sizeof apps, "GPU-n-0, %d, 1000\nGPU-n-0, 777, 500\nGPU-n-1, 778, 100\n",
              (int) getpid ());
    s_gpu_file (gpu, "apps", apps);
    char extra [1024];
    snprintf (extra, sizeof extra,
              "resource_interval_ms = 100\n"
              "gpu_source = nvml\n"
              "gpus = 0\n"
              "max_vram_mb = auto\n"
              "memory_reserve_mb = 1024\n"
              "models\n"
              "    coder\n"
              "        memory_mb = 4096\n"
              "        device = gpu:0\n"
              "        watch = \"pid:%d\"\n", (int) getpid ());
    itest_t it;
    itest_init (&it, "wp-gpu-nvml", extra);
    wp_test_proc_t *proxy = itest_start (&it, "warmup-bus", NULL, NULL);
    wp_test_proc_t *resource = itest_start (&it, "warmup-resource", NULL, NULL);
    wp_test_proc_t *perf = itest_start (&it, "warmup-perf", NULL, NULL);
    assert_non_null (strstr (wp_test_proc_output (resource), "through NVML (and the processes"));
    const char *topics [] = { "resource.status", "perf.estimate", NULL };
    wp_bus_t *bus = itest_bus (&it, topics);

    //  Ours by processes: 1000; others 500; 16384 - 1024 - 500 = 14860
    want_gpu_t gpu0 = { "gpu0", 16384, 1500, 1000, 500, 14860, 14860, "processes", false };
    assert_true (itest_wait_event (bus, s_status_shows, &gpu0, ITEST_EVENT_MS));
    want_gpu_t gpu1 = { "gpu1", 8192, 100, 0, 100, 7068, 0, NULL, true };
    assert_true (itest_wait_event (bus, s_status_shows, &gpu1, ITEST_EVENT_MS));

    //  A load the server says nothing about: 2000 MiB more on gpu0 while
    //  it ran, measured from the readings before and after it
    uint64_t start = wp_wall_us () / 1000;
    Warmup__V1__WarmupRequested asked = WARMUP__V1__WARMUP_REQUESTED__INIT;
    asked.event_ms = start;
    asked.model = (char *) "coder";
    asked.action = WARMUP__V1__ACTION__ACTION_WARM;
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_WARMUP_REQUEST, &asked.base), 0);
    //  (the reading the measure starts from ended before the load began)
    want_gpu_t before = { .device = "gpu0", .total_mb = 16384, .used_mb = 1500 };
    assert_true (itest_wait_event (bus, s_status_shows, &before, ITEST_EVENT_MS));
    s_gpu_file (gpu, "gpus", "0, GPU-n-0, Fake A, 16384, 3500\n1, GPU-n-1, Fake B, 8192, 100\n");
    snprintf (apps, sizeof apps, "GPU-n-0, %d, 3000\nGPU-n-0, 777, 500\nGPU-n-1, 778, 100\n",
              (int) getpid ());
    s_gpu_file (gpu, "apps", apps);
    s_publish_done (bus, "coder", start, wp_wall_us () / 1000);
    want_measured_t measured = { .model = "coder" };
    assert_true (itest_wait_event (bus, s_is_measured, &measured, ITEST_EVENT_MS));
    assert_int_equal (measured.vram_mb, 2000);
    assert_true (strncmp (measured.how, "gpu", 3) == 0);
    want_learned_t learned = { .model = "coder", .from = "measured" };
    assert_true (itest_wait_event (bus, s_is_learned, &learned, ITEST_EVENT_MS));
    assert_int_equal (learned.learned_vram_mb, 2000);
    //  Our own load did not count as someone else's
    want_gpu_t after = { "gpu0", 16384, 3500, 3000, 500, 14860, 14860, "processes", false };
    assert_true (itest_wait_event (bus, s_status_shows, &after, ITEST_EVENT_MS));

    wp_bus_destroy (&bus);
    itest_stop (&perf, "warmup-perf");
    itest_stop (&resource, "warmup-resource");
    itest_stop (&proxy, "warmup-bus");
    itest_destroy (&it);
    wp_test_rmtree (gpu);
    free (gpu);
    unsetenv ("LD_LIBRARY_PATH");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_budget_and_admission),
        cmocka_unit_test (test_nvml_processes_and_measure),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
