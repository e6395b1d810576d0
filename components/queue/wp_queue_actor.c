/*  =========================================================================
    wp_queue_actor - binds the WarmupQueue core, the backends and the
    admission check to the bus and to the component's LMDB environment.

    Each accepted request gets a cookie; its task is kept in the store
    (database "tasks", key = cookie big-endian) from acceptance until its
    warmup.done, so pending and running tasks are resumed after a restart
    (a crash loses at most the open batch: store/flush_ms).
    =========================================================================
*/
#include "wp_queue_actor.h"
#include "wp_queue.h"
#include "wp_backend.h"
#include "wp_exec.h"
#include "wp_resource.h"
#include "wp_util.h"

//  The watchdog fails a task this long after its backend's timeout (the
//  backend ends it itself first: this catches one that does not).
#define S_WATCHDOG_GRACE_MS 5000

//  A resource.status older than this many of its periods is not trusted.
#define S_SAMPLE_PERIODS 10

//  Store: database and record version of persisted tasks.
#define S_TASKS_DB "tasks"
#define S_TASK_VERSION 1

//  Store: the models the queue made (or found) warm, key = name, value =
//  their memory (u32 MiB) then, from version 2, of it on GPUs (u32 MiB),
//  so a restarted queue still knows them.
#define S_MODELS_DB "models"
#define S_MODEL_VERSION 2

//  What the queue remembers of an accepted request, by cookie.
typedef struct {
    char *source;               //  cause: the request's publisher
    uint64_t seq;               //  cause: its sequence number
} request_t;

//  A concurrency group: the tasks that share one server.
typedef struct {
    uint32_t limit;             //  most running at once, 0 = no own limit
    uint32_t running;           //  running now
} group_t;

typedef struct _queue_t queue_t;

//  A task being run by a backend.
typedef struct {
    queue_t *queue;             //  the queue that runs it
    char *model;                //  owned copy of the model name
    wp_model_config_t config;   //  the model's section (or the defaults), a
                                //  copy: a reload may free the configuration
    group_t *group;             //  its concurrency group
    wp_job_t *job;              //  the backend's job
    uint64_t started_ns;        //  monotonic start, for the duration
    bool reserved;              //  warm: its memory was reserved at start
} run_t;

struct _queue_t {
    wp_ctx_t *ctx;              //  for timers, store and publishing
    wp_queue_t *core;           //  the queue
    wp_backends_t *backends;    //  the backends' runtime
    wp_resource_t *admission;   //  memory budget and machine sample
    uint64_t sample_ms;         //  when the last resource.status came
    bool gpu_read;              //  ... and it had a GPU of ours
    zhashx_t *runs;             //  model -> run_t
    zhashx_t *requests;         //  cookie (as text) -> request_t
    zhashx_t *groups;           //  group key -> group_t
    zhashx_t *held;             //  model -> reason it is held (logged once)
    zhashx_t *warm;             //  model -> s_held_t: warm now
    zhashx_t *learned;          //  model -> s_held_t: what it takes, learned
                                //  (perf.estimate)
    uint64_t next_cookie;       //  cookies handed out
    uint64_t resumed;           //  tasks resumed from the store at start
    bool pumped;                //  the first tick started what may start
};

//  What a model holds (or will): in all, and of it on GPUs, MiB.
typedef struct {
    uint32_t memory_mb;
    uint32_t vram_mb;
} s_held_t;

static void s_pump (queue_t *self);
static void s_ask_status (queue_t *self);

//  --- What is warm ------------------------------------------------------------

static wp_model_config_t s_model_config (queue_t *self, const char *model);

//  The model is warm now (memory_mb MiB, vram_mb of it on its GPU):
//  admission counts it, the store and snapshots know it.
static void
s_model_warm (queue_t *self, const char *model, uint32_t memory_mb, uint32_t vram_mb,
              uint64_t since_ms)
{
    if (!wp_resource_is_warm (self->admission, model))
        wp_resource_model_place (self->admission, model, memory_mb, vram_mb,
                                 s_model_config (self, model).device, since_ms);
    s_held_t *held = (s_held_t *) zhashx_lookup (self->warm, model);
    if (held && held->memory_mb == memory_mb && held->vram_mb == vram_mb)
        return;
    if (!held) {
        held = (s_held_t *) zmalloc (sizeof (s_held_t));
        assert (held);
        zhashx_insert (self->warm, model, held);
    }
    held->memory_mb = memory_mb;
    held->vram_mb = vram_mb;
    uint8_t value [8];
    wp_put_u32 (value, memory_mb);
    wp_put_u32 (value + 4, vram_mb);
    if (wp_store_put (wp_ctx_store (self->ctx), S_MODELS_DB, model, strlen (model), value,
                      sizeof value, S_MODEL_VERSION))
        zsys_error ("queue: cannot store that %s is warm", model);
}

//  The model is cold now.
static void
s_model_cool (queue_t *self, const char *model)
{
    wp_resource_model_cool (self->admission, model);
    if (zhashx_lookup (self->warm, model)) {
        zhashx_delete (self->warm, model);
        wp_store_del (wp_ctx_store (self->ctx), S_MODELS_DB, model, strlen (model));
    }
}

//  Read one warm model back (wp_store_iterate callback).
static int
s_load_model (const void *key, size_t key_len, const void *data, size_t size,
              uint16_t version, void *arg)
{
    queue_t *self = (queue_t *) arg;
    char model [256];
    //  Version 1 held the memory alone (all of it in RAM)
    if (!((version == 1 && size == 4) || (version == S_MODEL_VERSION && size == 8))
        || key_len == 0 || key_len >= sizeof model) {
        zsys_warning ("queue: a stored warm model could not be decoded; dropped");
        return 0;
    }
    memcpy (model, key, key_len);
    model [key_len] = 0;
    s_held_t *held = (s_held_t *) zmalloc (sizeof (s_held_t));
    assert (held);
    held->memory_mb = wp_get_u32 ((const uint8_t *) data);
    held->vram_mb = size == 8 ? wp_get_u32 ((const uint8_t *) data + 4) : 0;
    zhashx_update (self->warm, model, held);
    wp_resource_model_place (self->admission, model, held->memory_mb, held->vram_mb,
                             s_model_config (self, model).device, 0);
    return 0;
}

//  Free a request record.
static void
s_request_free (request_t **request_p)
{
    if (*request_p) {
        free ((*request_p)->source);
        free (*request_p);
        *request_p = NULL;
    }
}

//  The model's section, or the defaults for a model without one.
static wp_model_config_t
s_model_config (queue_t *self, const char *model)
{
    const wp_config_t *config = wp_ctx_config (self->ctx);
    const wp_model_config_t *section = wp_config_model (config, model);
    wp_model_config_t result;
    if (section)
        result = *section;
    else
        wp_config_model_defaults (config, &result);
    return result;
}

//  What a model will hold when warm: what it was learned to take, else its
//  configured memory (all on its GPU when it loads onto one).
static s_held_t
s_need (queue_t *self, const char *model, const char **source)
{
    const s_held_t *learned = (const s_held_t *) zhashx_lookup (self->learned, model);
    if (learned) {
        if (source)
            *source = "learned";
        return *learned;
    }
    wp_model_config_t section = s_model_config (self, model);
    if (source)
        *source = "config";
    return (s_held_t) { section.memory_mb,
                        WP_DEVICE_IS_GPU (section.device) ? section.memory_mb : 0 };
}

//  The concurrency group of a model: one per server (backend and url),
//  one for all files, one each for exec and sim.
static void
s_group_key (const wp_model_config_t *model, char *key, size_t size)
{
    snprintf (key, size, "%s %s", wp_backend_name (model->backend),
              model->url ? model->url : "");
}

//  The group of a model, made on first use.
static group_t *
s_group (queue_t *self, const wp_model_config_t *model)
{
    char key [600];
    s_group_key (model, key, sizeof key);
    group_t *group = (group_t *) zhashx_lookup (self->groups, key);
    if (!group) {
        group = (group_t *) zmalloc (sizeof (group_t));
        assert (group);
        group->limit = model->concurrency;
        zhashx_insert (self->groups, key, group);
    }
    return group;
}

//  Free a group (zhashx destructor).
static void
s_group_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  --- The store ------------------------------------------------------------

//  Write the task's record (on acceptance and whenever it changes).
static void
s_store_task (queue_t *self, const wp_queue_task_t *task)
{
    char key_text [32];
    snprintf (key_text, sizeof key_text, "%" PRIu64, task->cookie);
    request_t *request = (request_t *) zhashx_lookup (self->requests, key_text);
    const char *source = request && request->source ? request->source : "";
    size_t model_len = strlen (task->model), reason_len = strlen (task->reason);
    size_t source_len = strlen (source);
    if (reason_len > 1024)
        reason_len = 1024;
    if (source_len > 1024)
        source_len = 1024;
    size_t size = 40 + model_len + reason_len + source_len;
    uint8_t *value = (uint8_t *) malloc (size);
    assert (value);
    value [0] = (uint8_t) task->action;
    value [1] = (uint8_t) task->priority;
    value [2] = value [3] = 0;
    wp_put_u32 (value + 4, task->attempts);
    wp_put_u64 (value + 8, task->deadline_ms);
    wp_put_u64 (value + 16, task->enqueued_ms);
    wp_put_u64 (value + 24, request ? request->seq : 0);
    value [32] = (uint8_t) (model_len >> 8);
    value [33] = (uint8_t) model_len;
    value [34] = (uint8_t) (reason_len >> 8);
    value [35] = (uint8_t) reason_len;
    value [36] = (uint8_t) (source_len >> 8);
    value [37] = (uint8_t) source_len;
    value [38] = value [39] = 0;
    memcpy (value + 40, task->model, model_len);
    memcpy (value + 40 + model_len, task->reason, reason_len);
    memcpy (value + 40 + model_len + reason_len, source, source_len);
    uint8_t key [8];
    wp_put_u64 (key, task->cookie);
    if (wp_store_put (wp_ctx_store (self->ctx), S_TASKS_DB, key, sizeof key, value, size,
                      S_TASK_VERSION))
        zsys_error ("queue: cannot store the task of %s", task->model);
    free (value);
}

//  Forget a task's record.
static void
s_unstore_task (queue_t *self, uint64_t cookie)
{
    uint8_t key [8];
    wp_put_u64 (key, cookie);
    wp_store_del (wp_ctx_store (self->ctx), S_TASKS_DB, key, sizeof key);
}

//  A stored task, decoded.
typedef struct {
    wp_queue_task_t task;       //  strings owned
    char *source;               //  cause source, owned
    uint64_t seq;               //  cause seq
} s_stored_t;

//  Collect one stored task (wp_store_iterate callback).
static int
s_load_one (const void *key, size_t key_len, const void *data, size_t size,
            uint16_t version, void *arg)
{
    zlistx_t *loaded = (zlistx_t *) arg;
    const uint8_t *value = (const uint8_t *) data;
    if (key_len != 8 || version != S_TASK_VERSION || size < 40)
        goto bad;
    size_t model_len = (size_t) value [32] << 8 | value [33];
    size_t reason_len = (size_t) value [34] << 8 | value [35];
    size_t source_len = (size_t) value [36] << 8 | value [37];
    if (40 + model_len + reason_len + source_len != size || model_len == 0)
        goto bad;
    s_stored_t *stored = (s_stored_t *) zmalloc (sizeof (s_stored_t));
    assert (stored);
    stored->task.cookie = wp_get_u64 ((const uint8_t *) key);
    stored->task.action = value [0];
    stored->task.priority = value [1];
    stored->task.attempts = wp_get_u32 (value + 4);
    stored->task.deadline_ms = wp_get_u64 (value + 8);
    stored->task.enqueued_ms = wp_get_u64 (value + 16);
    stored->seq = wp_get_u64 (value + 24);
    stored->task.model = strndup ((const char *) value + 40, model_len);
    stored->task.reason = strndup ((const char *) value + 40 + model_len, reason_len);
    stored->source = strndup ((const char *) value + 40 + model_len + reason_len, source_len);
    assert (stored->task.model && stored->task.reason && stored->source);
    zlistx_add_end (loaded, stored);
    return 0;
bad:
    zsys_warning ("queue: a stored task could not be decoded; dropped");
    return 0;
}

//  Resume the tasks stored by a previous run, oldest first.
static void
s_resume (queue_t *self)
{
    zlistx_t *loaded = zlistx_new ();
    wp_store_t *store = wp_ctx_store (self->ctx);
    wp_store_iterate (store, S_TASKS_DB, s_load_one, loaded);
    uint64_t now = wp_ctx_now_ms (self->ctx);
    for (s_stored_t *stored = (s_stored_t *) zlistx_first (loaded); stored;
         stored = (s_stored_t *) zlistx_next (loaded)) {
        uint64_t cookie = stored->task.cookie;
        if (cookie > self->next_cookie)
            self->next_cookie = cookie;
        s_unstore_task (self, cookie);
        char key [32];
        snprintf (key, sizeof key, "%" PRIu64, cookie);
        request_t *request = (request_t *) zmalloc (sizeof (request_t));
        assert (request);
        request->source = stored->source;
        request->seq = stored->seq;
        stored->source = NULL;
        zhashx_update (self->requests, key, request);
        const wp_config_t *config = wp_ctx_config (self->ctx);
        wp_model_config_t model = s_model_config (self, stored->task.model);
        uint32_t timeout_s = model.timeout_seconds ? model.timeout_seconds
                                                   : config->warmup_timeout_seconds;
        stored->task.timeout_ms = (uint64_t) timeout_s * 1000 + S_WATCHDOG_GRACE_MS;
        wp_queue_task_t *displaced = NULL;
        wp_queue_result_t result = wp_queue_push (self->core, &stored->task, now, &displaced);
        if (result == WP_QUEUE_ADDED || result == WP_QUEUE_REPLACED
            || result == WP_QUEUE_EVICTED) {
            s_store_task (self, &stored->task);
            self->resumed++;
        }
        else
            zhashx_delete (self->requests, key);
        if (displaced) {
            snprintf (key, sizeof key, "%" PRIu64, displaced->cookie);
            zhashx_delete (self->requests, key);
            s_unstore_task (self, displaced->cookie);
            self->resumed--;
            wp_queue_task_destroy (&displaced);
        }
        free (stored->task.model);
        free (stored->task.reason);
        free (stored->source);
        free (stored);
    }
    zlistx_destroy (&loaded);
    wp_store_flush (store);
    if (self->resumed)
        zsys_info ("queue: resumed %" PRIu64 " pending tasks from the store", self->resumed);
}

//  --- State -----------------------------------------------------------------

//  Build the state.
static void *
s_create (wp_ctx_t *ctx)
{
    const wp_config_t *config = wp_ctx_config (ctx);
    queue_t *self = (queue_t *) zmalloc (sizeof (queue_t));
    assert (self);
    self->ctx = ctx;
    self->core = wp_queue_new (config->max_queue_size, config->max_concurrent_warmups,
                               (uint64_t) config->warmup_timeout_seconds * 1000
                               + S_WATCHDOG_GRACE_MS);
    self->backends = wp_backends_new (wp_ctx_loop (ctx));
    self->admission = wp_resource_new (config->max_memory_mb, config->max_cpu_percent);
    self->runs = zhashx_new ();
    self->requests = zhashx_new ();
    zhashx_set_destructor (self->requests, (zhashx_destructor_fn *) s_request_free);
    self->groups = zhashx_new ();
    zhashx_set_destructor (self->groups, s_group_free);
    self->held = zhashx_new ();
    zhashx_set_destructor (self->held, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_duplicator (self->held, (zhashx_duplicator_fn *) strdup);
    self->warm = zhashx_new ();
    zhashx_set_destructor (self->warm, (zhashx_destructor_fn *) zstr_free);
    self->learned = zhashx_new ();
    zhashx_set_destructor (self->learned, (zhashx_destructor_fn *) zstr_free);
    if (!self->core || !self->backends || !self->admission) {
        wp_queue_destroy (&self->core);
        wp_backends_destroy (&self->backends);
        wp_resource_destroy (&self->admission);
        zhashx_destroy (&self->runs);
        zhashx_destroy (&self->requests);
        zhashx_destroy (&self->groups);
        zhashx_destroy (&self->held);
        zhashx_destroy (&self->warm);
        zhashx_destroy (&self->learned);
        free (self);
        return NULL;
    }
    wp_resource_set_vram_budget (self->admission, config->max_vram_mb);
    //  A group's limit is the smallest any of its models asks for
    for (size_t i = 0; i < config->n_models; i++) {
        const wp_model_config_t *model = &config->models [i];
        group_t *group = s_group (self, model);
        if (model->concurrency && (!group->limit || model->concurrency < group->limit))
            group->limit = model->concurrency;
    }
    wp_store_iterate (wp_ctx_store (ctx), S_MODELS_DB, s_load_model, self);
    if (zhashx_size (self->warm))
        zsys_info ("queue: %zu models warm from before the restart",
                   zhashx_size (self->warm));
    s_resume (self);
    s_ask_status (self);
    return self;
}

//  A status asked at start came back: a model its server already holds
//  counts against the memory budget.
static void
s_status_done (wp_job_t *job, const wp_job_result_t *result, void *arg)
{
    queue_t *self = (queue_t *) arg;
    const char *model = wp_job_name (job);
    if (!result->ok) {
        zsys_info ("queue: status of %s unknown at start: %s", model, result->error);
        return;
    }
    if (result->loaded) {
        s_held_t need = s_need (self, model, NULL);
        uint32_t memory = result->memory_bytes
                        ? (uint32_t) ((result->memory_bytes + (1 << 20) - 1) >> 20)
                        : need.memory_mb;
        uint32_t vram = result->vram_bytes
                      ? (uint32_t) ((result->vram_bytes + (1 << 20) - 1) >> 20)
                      : need.vram_mb < memory ? need.vram_mb : memory;
        s_model_warm (self, model, memory, vram, wp_ctx_now_ms (self->ctx));
        zsys_info ("queue: %s is loaded already (%u MiB, says %s)", model, memory,
                   wp_backend_name (wp_job_model (job)->backend));
    }
}

//  Ask each server-backed model's backend whether it is loaded, so that
//  after a restart the budget counts what the servers still hold.
static void
s_ask_status (queue_t *self)
{
    const wp_config_t *config = wp_ctx_config (self->ctx);
    for (size_t i = 0; i < config->n_models; i++) {
        const wp_model_config_t *model = &config->models [i];
        bool has_status = model->backend == WP_BACKEND_LLAMA
                       || model->backend == WP_BACKEND_OLLAMA
                       || model->backend == WP_BACKEND_FILE
                       || (model->backend == WP_BACKEND_OPENAI && model->status_path);
        if (has_status)
            wp_backends_start (self->backends, model, model->name, WP_JOB_STATUS,
                               5000, s_status_done, self);
    }
}

//  Free a run (its job already ended or cancelled).
static void
s_run_free (run_t *run)
{
    wp_config_model_clear (&run->config);
    free (run->model);
    free (run);
}

//  Destroy the state: running jobs are cancelled (children killed); their
//  tasks stay in the store and resume at the next start.
static void
s_destroy (void **state_p)
{
    queue_t *self = (queue_t *) *state_p;
    for (run_t *run = (run_t *) zhashx_first (self->runs); run;
         run = (run_t *) zhashx_next (self->runs)) {
        wp_backends_cancel (self->backends, &run->job);
        s_run_free (run);
    }
    wp_backends_destroy (&self->backends);
    zhashx_destroy (&self->runs);
    zhashx_destroy (&self->requests);
    zhashx_destroy (&self->groups);
    zhashx_destroy (&self->held);
    zhashx_destroy (&self->warm);
    zhashx_destroy (&self->learned);
    wp_resource_destroy (&self->admission);
    wp_queue_destroy (&self->core);
    free (self);
    *state_p = NULL;
}

//  --- Outcomes ----------------------------------------------------------------

//  What a finished job measured, for warmup.done.
typedef struct {
    uint32_t duration_ms;       //  time the backend took
    uint32_t memory_mb;         //  memory held when warm
    uint32_t vram_mb;           //  ... of it on GPUs
    const char *memory_source;  //  "resident", "server", "server-weights",
                                //  "learned", "config"
    uint64_t resident_bytes;    //  file: bytes resident
} s_measure_t;

//  Publish warmup.done for a task (ok or not), forget its request and
//  its stored record.
static void
s_publish_done (queue_t *self, const wp_queue_task_t *task, const char *backend,
                bool ok, const char *error, const s_measure_t *measure)
{
    char key [32];
    snprintf (key, sizeof key, "%" PRIu64, task->cookie);
    request_t *request = (request_t *) zhashx_lookup (self->requests, key);
    Warmup__V1__WarmupDone out = WARMUP__V1__WARMUP_DONE__INIT;
    Warmup__V1__Header cause = WARMUP__V1__HEADER__INIT;
    out.event_ms = wp_ctx_now_ms (self->ctx);
    out.model = task->model;
    out.action = task->action == WP_QUEUE_COOL ? WARMUP__V1__ACTION__ACTION_COOL
                                               : WARMUP__V1__ACTION__ACTION_WARM;
    out.backend = (char *) backend;
    out.ok = ok;
    out.error = (char *) (error ? error : "");
    out.reason = task->reason;
    out.attempts = task->attempts;
    out.queue_dropped = wp_queue_dropped (self->core);
    out.memory_source = "";
    if (measure) {
        out.duration_ms = measure->duration_ms;
        if (ok && task->action == WP_QUEUE_WARM) {
            out.memory_mb = measure->memory_mb;
            out.vram_mb = measure->vram_mb;
            out.memory_source = (char *) measure->memory_source;
        }
        out.resident_bytes = measure->resident_bytes;
    }
    if (request) {
        cause.source = request->source;
        cause.seq = request->seq;
        out.cause = &cause;
    }
    wp_ctx_publish (self->ctx, WP_TOPIC_WARMUP_DONE, &out.base);
    if (!ok)
        zsys_warning ("queue: %s %s failed: %s",
                      task->action == WP_QUEUE_COOL ? "cool" : "warm", task->model, error);
    else
    if (wp_ctx_verbose (self->ctx))
        zsys_info ("queue: %s %s ok in %u ms via %s (%u attempts)",
                   task->action == WP_QUEUE_COOL ? "cool" : "warm", task->model,
                   out.duration_ms, backend, task->attempts);
    zhashx_delete (self->requests, key);
    zhashx_delete (self->held, task->model);
    s_unstore_task (self, task->cookie);
}

//  Report a task that left the queue without running (again).
static void
s_displaced (queue_t *self, wp_queue_task_t **task_p, const char *why)
{
    if (*task_p) {
        s_publish_done (self, *task_p, "queue", false, why, NULL);
        wp_queue_task_destroy (task_p);
    }
}

//  A job ended: publish, retry with backoff, or give up.
static void
s_run_result (run_t *run, const wp_job_result_t *result)
{
    queue_t *self = run->queue;
    uint64_t now = wp_ctx_now_ms (self->ctx);
    s_measure_t measure = { 0 };
    measure.duration_ms = (uint32_t) ((wp_mono_ns () - run->started_ns) / 1000000);
    if (wp_ctx_replay (self->ctx) && run->config.backend == WP_BACKEND_SIM)
        measure.duration_ms = result->ok ? run->config.load_ms : 0;   //  event time
    measure.resident_bytes = result->resident_bytes;
    //  What the model holds: what the server or the files said, else what
    //  it was learned to take, else its configuration
    s_held_t need = s_need (self, run->model, &measure.memory_source);
    if (result->memory_bytes && result->memory_source) {
        measure.memory_mb = (uint32_t) ((result->memory_bytes + (1 << 20) - 1) >> 20);
        measure.memory_source = result->memory_source;
        bool weights = streq (result->memory_source, "server-weights");
        measure.vram_mb = result->vram_bytes
                        ? (uint32_t) ((result->vram_bytes + (1 << 20) - 1) >> 20)
                        : weights && WP_DEVICE_IS_GPU (run->config.device)
                        ? measure.memory_mb : 0;
    }
    else {
        measure.memory_mb = need.memory_mb;
        measure.vram_mb = need.vram_mb;
    }
    const wp_queue_task_t *running = wp_queue_running_task (self->core, run->model);
    assert (running);
    bool warm = running->action == WP_QUEUE_WARM;
    const char *backend = wp_backend_name (run->config.backend);
    run->group->running--;
    zhashx_delete (self->runs, run->model);

    //  What is warm, for the admission of what comes next
    if (result->ok && warm) {
        wp_resource_model_cool (self->admission, run->model);   //  the reservation
        s_model_warm (self, run->model, measure.memory_mb, measure.vram_mb, now);
    }
    else
    if (result->ok)
        s_model_cool (self, run->model);
    else
    if (run->reserved)
        wp_resource_model_cool (self->admission, run->model);

    if (!result->ok && result->retryable && running->attempts <= run->config.retries) {
        uint64_t delay = wp_queue_backoff_ms (running->attempts, run->config.retry_backoff_ms,
                                              run->config.retry_backoff_max_ms);
        wp_queue_task_t *out = NULL;
        wp_queue_result_t retried = wp_queue_retry (self->core, run->model, now,
                                                    now + delay, &out);
        if (retried == WP_QUEUE_ADDED || retried == WP_QUEUE_EVICTED) {
            const wp_queue_task_t *task = wp_queue_pending_task (self->core, run->model);
            zsys_info ("queue: %s %s failed (attempt %u of %u), retry in %" PRIu64 " ms: %s",
                       warm ? "warm" : "cool", run->model, task->attempts,
                       run->config.retries + 1, delay, result->error);
            s_store_task (self, task);
            s_displaced (self, &out, "dropped: queue full of higher priority tasks");
        }
        else {
            char error [800];
            snprintf (error, sizeof error, "%s (not retried: %s)", result->error,
                      retried == WP_QUEUE_SUPERSEDED ? "a newer request replaced it"
                                                     : "queue full");
            s_publish_done (self, out, backend, false, error, &measure);
            wp_queue_task_destroy (&out);
        }
    }
    else {
        wp_queue_task_t *task = wp_queue_complete (self->core, run->model, now);
        s_publish_done (self, task, backend, result->ok, result->error, &measure);
        wp_queue_task_destroy (&task);
    }
    s_run_free (run);
}

//  A backend job called back.
static void
s_job_done (wp_job_t *job, const wp_job_result_t *result, void *arg)
{
    run_t *run = (run_t *) arg;
    run->job = NULL;        //  the runtime frees it when we return
    queue_t *self = run->queue;
    s_run_result (run, result);
    s_pump (self);
    wp_ctx_report (self->ctx);
}

//  --- Starting ----------------------------------------------------------------

//  With a budget that is measured (auto), nothing starts before a
//  resource.status has measured it (a GPU model: its GPUs): false, or
//  true with why filled.
static bool
s_measured (queue_t *self, const wp_model_config_t *model, s_held_t need, char *why,
            size_t size)
{
    const wp_config_t *config = wp_ctx_config (self->ctx);
    if (config->max_memory_auto && !self->sample_ms && need.memory_mb > need.vram_mb) {
        snprintf (why, size, "max_memory_mb = auto: no resource.status has measured RAM yet");
        return true;
    }
    if (config->max_vram_auto && need.vram_mb && !self->gpu_read) {
        char name [16];
        snprintf (why, size, "max_vram_mb = auto: no resource.status has read %s yet",
                  wp_device_name (model->device, name, sizeof name));
        return true;
    }
    return false;
}

//  May this pending task start now? Its server's concurrency limit, and
//  for a warm the memory budget, the machine's memory and (background
//  only) the CPU.
static bool
s_may_start (const wp_queue_task_t *task, void *arg)
{
    queue_t *self = (queue_t *) arg;
    wp_model_config_t model = s_model_config (self, task->model);
    group_t *group = s_group (self, &model);
    if (group->limit && group->running >= group->limit)
        return false;
    if (task->action == WP_QUEUE_COOL || wp_resource_is_warm (self->admission, task->model))
        return true;
    s_held_t need = s_need (self, task->model, NULL);
    char why [300];
    if (!s_measured (self, &model, need, why, sizeof why)) {
        wp_resource_verdict_t verdict = wp_resource_check_on (
            self->admission, need.memory_mb, need.vram_mb, model.device,
            task->priority < WP_QUEUE_HIGH, wp_ctx_now_ms (self->ctx));
        if (verdict == WP_RESOURCE_ADMIT)
            return true;
        wp_resource_verdict_text_on (self->admission, verdict, need.memory_mb, need.vram_mb,
                                     model.device, why, sizeof why);
    }
    const char *before = (const char *) zhashx_lookup (self->held, task->model);
    if (!before || !streq (before, why)) {
        zsys_info ("queue: warm of %s held: %s", task->model, why);
        zhashx_update (self->held, task->model, why);
    }
    return false;
}

//  Start one task on its backend.
static void
s_start (queue_t *self, const wp_queue_task_t *task)
{
    const wp_config_t *config = wp_ctx_config (self->ctx);
    run_t *run = (run_t *) zmalloc (sizeof (run_t));
    assert (run);
    run->queue = self;
    run->model = strdup (task->model);
    assert (run->model);
    wp_model_config_t section = s_model_config (self, task->model);
    wp_config_model_copy (&run->config, &section);
    run->group = s_group (self, &run->config);
    run->group->running++;
    run->started_ns = wp_mono_ns ();
    zhashx_delete (self->held, task->model);
    if (task->action == WP_QUEUE_WARM && !wp_resource_is_warm (self->admission, task->model)) {
        s_held_t need = s_need (self, task->model, NULL);
        wp_resource_model_place (self->admission, task->model, need.memory_mb, need.vram_mb,
                                 run->config.device, UINT64_MAX);
        run->reserved = true;
    }
    zhashx_insert (self->runs, run->model, run);
    s_store_task (self, task);      //  attempts changed
    if (wp_ctx_replay (self->ctx) && run->config.backend == WP_BACKEND_SIM) {
        //  Replay: the simulated world (EVAL.md section 2, played by the
        //  replayer) starts the load now and keeps the model loading for
        //  load_ms of event time; done is reported at once, as
        //  warmup-eval's predictive reports it to the scheduler.
        wp_job_result_t result = { .ok = true };
        s_run_result (run, &result);
        return;
    }
    uint32_t timeout_s = run->config.timeout_seconds ? run->config.timeout_seconds
                                                     : config->warmup_timeout_seconds;
    run->job = wp_backends_start (self->backends, &run->config, run->model,
                                  task->action == WP_QUEUE_WARM ? WP_JOB_WARM : WP_JOB_COOL,
                                  timeout_s * 1000, s_job_done, run);
}

//  Start what may start.
static void
s_pump (queue_t *self)
{
    const wp_queue_task_t *task;
    while ((task = wp_queue_next_if (self->core, wp_ctx_now_ms (self->ctx), s_may_start,
                                     self)))
        s_start (self, task);
}

//  --- Events ------------------------------------------------------------------

//  A machine sample from the resource manager.
static void
s_on_resource (queue_t *self, const Warmup__V1__ResourceStatus *in)
{
    const wp_config_t *config = wp_ctx_config (self->ctx);
    uint64_t available = in->mem_total_mb ? in->mem_available_mb : WP_RESOURCE_UNKNOWN_MB;
    wp_resource_set_sample (self->admission, in->cpu_percent, available,
                            in->cgroup_limit_mb, in->cgroup_usage_mb);
    self->sample_ms = wp_ctx_now_ms (self->ctx);
    //  The devices as measured, and the budgets an auto measured
    wp_resource_device_t devices [WP_RESOURCE_GPUS_MAX + 1];
    size_t n = 0;
    self->gpu_read = false;
    for (size_t i = 0; i < in->n_devices && n < WP_RESOURCE_GPUS_MAX + 1; i++) {
        const Warmup__V1__DeviceMemory *d = in->devices [i];
        if (!d->device)
            continue;
        bool ram = streq (d->device, "ram");
        if (!ram && (strncmp (d->device, "gpu", 3) != 0 || !isdigit ((unsigned char) d->device [3])))
            continue;
        devices [n++] = (wp_resource_device_t) {
            .index = ram ? -1 : atoi (d->device + 3), .managed = d->managed,
            .total_mb = d->total_mb, .used_mb = d->used_mb, .reserved_mb = d->reserved_mb,
            .sampled_ms = d->sampled_ms };
        self->gpu_read = self->gpu_read || (!ram && d->managed);
    }
    wp_resource_set_devices (self->admission, devices, n,
                             config->max_vram_auto ? in->vram_budget_mb : config->max_vram_mb);
    if (config->max_memory_auto)
        wp_resource_set_limits (self->admission, in->budget_mb, config->max_cpu_percent);
}

//  What a model takes, as the performance predictor learned it.
static void
s_on_perf (queue_t *self, const Warmup__V1__PerfEstimate *in)
{
    if (!in->model || !*in->model || !in->learned_mb || !in->learned_from
        || !*in->learned_from || zhashx_size (self->learned) >= WP_RESOURCE_MAX_MODELS)
        return;
    s_held_t *held = (s_held_t *) zhashx_lookup (self->learned, in->model);
    if (!held) {
        held = (s_held_t *) zmalloc (sizeof (s_held_t));
        assert (held);
        zhashx_insert (self->learned, in->model, held);
    }
    held->memory_mb = in->learned_mb;
    held->vram_mb = in->learned_vram_mb < in->learned_mb ? in->learned_vram_mb
                                                         : in->learned_mb;
}

//  A warmup request.
static void
s_on_request (queue_t *self, wp_ctx_t *ctx, const Warmup__V1__WarmupRequested *in)
{
    const wp_config_t *config = wp_ctx_config (ctx);
    wp_queue_task_t task = { 0 };
    task.model = in->model;
    task.action = in->action == WARMUP__V1__ACTION__ACTION_COOL ? WP_QUEUE_COOL : WP_QUEUE_WARM;
    task.priority = in->priority >= 1 && in->priority <= 3 ? (int) in->priority : 2;
    task.deadline_ms = in->deadline_ms;
    task.reason = in->reason ? in->reason : "";
    task.cookie = ++self->next_cookie;
    wp_model_config_t model = s_model_config (self, in->model);
    uint32_t timeout_s = model.timeout_seconds ? model.timeout_seconds
                                               : config->warmup_timeout_seconds;
    task.timeout_ms = (uint64_t) timeout_s * 1000 + S_WATCHDOG_GRACE_MS;
    char key [32];
    snprintf (key, sizeof key, "%" PRIu64, task.cookie);
    request_t *request = (request_t *) zmalloc (sizeof (request_t));
    assert (request);
    request->source = strdup (in->header->source ? in->header->source : "");
    request->seq = in->header->seq;
    zhashx_insert (self->requests, key, request);

    //  A model that can never fit is refused now rather than held forever
    s_held_t need = s_need (self, in->model, NULL);
    char error [200] = "";
    if (task.action == WP_QUEUE_WARM && config->max_memory_mb
        && need.memory_mb - need.vram_mb > config->max_memory_mb)
        snprintf (error, sizeof error, "refused: needs %u MiB, over max_memory_mb %u",
                  need.memory_mb - need.vram_mb, config->max_memory_mb);
    else
    if (task.action == WP_QUEUE_WARM && config->max_vram_mb && need.vram_mb > config->max_vram_mb)
        snprintf (error, sizeof error, "refused: needs %u MiB of GPU memory, over "
                  "max_vram_mb %u", need.vram_mb, config->max_vram_mb);
    if (*error) {
        s_publish_done (self, &task, "queue", false, error, NULL);
        return;
    }
    wp_queue_task_t *displaced = NULL;
    wp_queue_result_t result = wp_queue_push (self->core, &task, wp_ctx_now_ms (ctx),
                                              &displaced);
    switch (result) {
        case WP_QUEUE_ADDED:
            s_store_task (self, &task);
            break;
        case WP_QUEUE_MERGED: {
            zhashx_delete (self->requests, key);   //  the pending task answers
            s_store_task (self, wp_queue_pending_task (self->core, in->model));
            break;
        }
        case WP_QUEUE_REPLACED:
            s_store_task (self, &task);
            s_displaced (self, &displaced, "cancelled by a later request");
            break;
        case WP_QUEUE_EVICTED:
            s_store_task (self, &task);
            s_displaced (self, &displaced, "dropped: queue full of higher priority tasks");
            break;
        case WP_QUEUE_RUNNING_DUP:
            s_displaced (self, &displaced, "cancelled by a later request");
            zhashx_delete (self->requests, key);   //  the running task answers
            break;
        case WP_QUEUE_DROPPED_FULL:
        case WP_QUEUE_INVALID:
        case WP_QUEUE_ERROR:
        default:
            s_publish_done (self, &task, "queue", false,
                            result == WP_QUEUE_DROPPED_FULL ? "dropped: queue full"
                                                            : "rejected by the queue", NULL);
            break;
    }
    wp_queue_task_destroy (&displaced);
}

//  --- Snapshot (resync) --------------------------------------------------------

//  What a snapshot is built from: the models being warmed or cooled.
typedef struct {
    zhashx_t *busy;             //  model -> "loading" / "cooling" (static)
} s_snap_t;

//  Note a task's model (wp_queue_iterate callback, and for running ones).
static int
s_snap_task (const wp_queue_task_t *task, void *arg)
{
    s_snap_t *snap = (s_snap_t *) arg;
    zhashx_update (snap->busy, task->model,
                   (void *) (task->action == WP_QUEUE_COOL ? "cooling" : "loading"));
    return 0;
}

//  Add one model to the snapshot.
static void
s_snap_model (wp_sync_t *sync, const char *model, const char *state, uint32_t memory_mb)
{
    Warmup__V1__ModelState item = WARMUP__V1__MODEL_STATE__INIT;
    item.model = (char *) model;
    item.state = (char *) state;
    item.memory_mb = memory_mb;
    item.configured = true;
    wp_sync_add (sync, WP_SYNC_MODEL_STATE, &item.base);
}

//  Answer a snapshot request: every model warm, being warmed (queued or
//  running) or being cooled, as this queue runs them; a model not in it
//  is cold.
static int
s_snapshot (void *state, wp_ctx_t *ctx, wp_sync_t *sync)
{
    queue_t *self = (queue_t *) state;
    s_snap_t snap = { zhashx_new () };
    wp_queue_iterate (self->core, s_snap_task, &snap);
    for (run_t *run = (run_t *) zhashx_first (self->runs); run;
         run = (run_t *) zhashx_next (self->runs)) {
        const wp_queue_task_t *task = wp_queue_running_task (self->core, run->model);
        if (task)
            s_snap_task (task, &snap);
    }
    for (s_held_t *held = (s_held_t *) zhashx_first (self->warm); held;
         held = (s_held_t *) zhashx_next (self->warm)) {
        const char *model = (const char *) zhashx_cursor (self->warm);
        const char *busy = (const char *) zhashx_lookup (snap.busy, model);
        //  A warm model being warmed again is warm; one being cooled, cooling
        s_snap_model (sync, model, busy && streq (busy, "cooling") ? "cooling" : "warm",
                      held->memory_mb);
    }
    for (const char *busy = (const char *) zhashx_first (snap.busy); busy;
         busy = (const char *) zhashx_next (snap.busy)) {
        const char *model = (const char *) zhashx_cursor (snap.busy);
        if (!zhashx_lookup (self->warm, model))
            s_snap_model (sync, model, busy, s_model_config (self, model).memory_mb);
    }
    zhashx_destroy (&snap.busy);
    return 0;
}

//  An event.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    queue_t *self = (queue_t *) state;
    if (topic == WP_TOPIC_RESOURCE)
        s_on_resource (self, (const Warmup__V1__ResourceStatus *) msg);
    else
    if (topic == WP_TOPIC_PERF)
        s_on_perf (self, (const Warmup__V1__PerfEstimate *) msg);
    else {
        const Warmup__V1__WarmupRequested *in = (const Warmup__V1__WarmupRequested *) msg;
        if (!in->model || !wp_exec_model_valid (in->model)
            || (in->action != WARMUP__V1__ACTION__ACTION_WARM
                && in->action != WARMUP__V1__ACTION__ACTION_COOL)) {
            wp_ctx_count_rejected (ctx);
            zsys_warning ("queue: request with a bad model name or action dropped");
            return -1;
        }
        s_on_request (self, ctx, in);
    }
    s_pump (self);
    return 0;
}

//  The watchdog: a job its backend did not end in time is cancelled.
static int
s_expired (const wp_queue_task_t *task, void *arg)
{
    queue_t *self = (queue_t *) arg;
    run_t *run = (run_t *) zhashx_lookup (self->runs, task->model);
    if (!run)
        return 0;
    wp_backends_cancel (self->backends, &run->job);
    wp_job_result_t result = { .retryable = true, .timed_out = true };
    snprintf (result.error, sizeof result.error,
              "timed out after %" PRIu64 " ms (the backend did not end it)",
              task->timeout_ms);
    s_run_result (run, &result);
    return 0;
}

//  Every 100 ms: the watchdog, stale samples, retries whose time came.
static int
s_on_tick (void *state, wp_ctx_t *ctx)
{
    queue_t *self = (queue_t *) state;
    const wp_config_t *config = wp_ctx_config (ctx);
    uint64_t now = wp_ctx_now_ms (ctx);
    uint64_t stale = (uint64_t) config->resource_interval_ms * S_SAMPLE_PERIODS;
    if (self->sample_ms && now - self->sample_ms > (stale > 5000 ? stale : 5000)) {
        wp_resource_clear_sample (self->admission);
        self->sample_ms = 0;
        self->gpu_read = false;
        zsys_info ("queue: no resource.status for a while; admitting on the memory "
                   "budget alone");
    }
    wp_queue_expired (self->core, now, s_expired, self);
    s_pump (self);
    return 0;
}

//  Replay mode: a job is running.
static bool
s_busy (void *state)
{
    return zhashx_size (((queue_t *) state)->runs) > 0;
}

//  A reload: the new budgets, and the concurrency limits of the servers
//  (tasks already running keep the section they started with).
static void
s_on_config (void *state, wp_ctx_t *ctx, const wp_config_t *next)
{
    queue_t *self = (queue_t *) state;
    if (!next->max_memory_auto)
        wp_resource_set_limits (self->admission, next->max_memory_mb, next->max_cpu_percent);
    if (!next->max_vram_auto)
        wp_resource_set_vram_budget (self->admission, next->max_vram_mb);
    for (size_t i = 0; i < next->n_models; i++) {
        group_t *group = s_group (self, &next->models [i]);
        group->limit = 0;
    }
    for (size_t i = 0; i < next->n_models; i++) {
        const wp_model_config_t *model = &next->models [i];
        group_t *group = s_group (self, model);
        if (model->concurrency && (!group->limit || model->concurrency < group->limit))
            group->limit = model->concurrency;
    }
    s_pump (self);
}

const wp_component_def_t wp_queue_def = {
    .name = "queue",
    .snapshot = s_snapshot,
    .title = "WarmupQueue",
    .topics = { "warmup.requested", "resource.status", "perf.estimate", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
    .on_tick = s_on_tick,
    .tick_ms = 100,
    .busy = s_busy,
    .on_config = s_on_config,
};
