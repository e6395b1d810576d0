/*  =========================================================================
    wp_resource_actor - binds the ResourceManager core to the bus and to
    the files Linux describes resources in.
    =========================================================================
*/
#include "wp_resource_actor.h"
#include "wp_resource.h"
#include "wp_util.h"

typedef struct {
    wp_resource_t *core;        //  warm set and admission
    wp_cpu_times_t cpu;         //  previous CPU sample
    bool have_cpu;              //  cpu holds a sample
    char cgroup [512];          //  our cgroup v2 directory, or ""
    uint64_t read_errors;       //  failed reads of the files
} resource_t;

//  Read a whole small file into buffer (NUL-terminated). Returns 0 or -1.
static int
s_read_file (const char *path, char *buffer, size_t capacity)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    size_t n = fread (buffer, 1, capacity - 1, file);
    fclose (file);
    buffer [n] = 0;
    return 0;
}

//  Log a failed read once in a while.
static void
s_read_error (resource_t *self, const char *what)
{
    self->read_errors++;
    if (wp_log_should (self->read_errors))
        zsys_warning ("resource: cannot read or parse %s", what);
}

//  Build the state.
static void *
s_create (wp_ctx_t *ctx)
{
    const wp_config_t *config = wp_ctx_config (ctx);
    resource_t *self = (resource_t *) zmalloc (sizeof (resource_t));
    assert (self);
    self->core = wp_resource_new (config->max_memory_mb, config->max_cpu_percent);
    if (!self->core) {
        free (self);
        return NULL;
    }
    char text [4096], path [400];
    if (s_read_file ("/proc/self/cgroup", text, sizeof text) == 0
        && wp_resource_parse_cgroup (text, path, sizeof path) == 0) {
        snprintf (self->cgroup, sizeof self->cgroup, "/sys/fs/cgroup%s", path);
        char probe [600];
        snprintf (probe, sizeof probe, "%s/memory.current", self->cgroup);
        if (access (probe, R_OK) != 0)
            self->cgroup [0] = 0;
    }
    if (!self->cgroup [0])
        zsys_info ("resource: no cgroup v2 memory controller visible; "
                   "reporting machine memory only");
    return self;
}

//  Destroy the state.
static void
s_destroy (void **state_p)
{
    resource_t *self = (resource_t *) *state_p;
    wp_resource_destroy (&self->core);
    free (self);
    *state_p = NULL;
}

//  Track what is warm.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    resource_t *self = (resource_t *) state;
    const Warmup__V1__WarmupDone *done = (const Warmup__V1__WarmupDone *) msg;
    if (!done->ok || !done->model || !*done->model)
        return 0;
    if (done->action == WARMUP__V1__ACTION__ACTION_WARM) {
        uint32_t memory = done->memory_mb
                        ? done->memory_mb
                        : wp_config_model_memory_mb (wp_ctx_config (ctx), done->model);
        if (wp_resource_model_warm (self->core, done->model, memory)) {
            wp_ctx_count_rejected (ctx);
            return -1;
        }
    }
    else
    if (done->action == WARMUP__V1__ACTION__ACTION_COOL)
        wp_resource_model_cool (self->core, done->model);
    return 0;
}

//  Sample the machine and publish the status.
static int
s_on_tick (void *state, wp_ctx_t *ctx)
{
    resource_t *self = (resource_t *) state;
    const wp_config_t *config = wp_ctx_config (ctx);
    Warmup__V1__ResourceStatus out = WARMUP__V1__RESOURCE_STATUS__INIT;
    char text [16384];
    uint64_t available = WP_RESOURCE_UNKNOWN_MB;
    if (s_read_file ("/proc/meminfo", text, sizeof text) == 0
        && wp_resource_parse_meminfo (text, &out.mem_total_mb, &out.mem_available_mb) == 0)
        available = out.mem_available_mb;
    else
        s_read_error (self, "/proc/meminfo");

    wp_cpu_times_t now_cpu;
    uint32_t ncpu = 0;
    if (s_read_file ("/proc/stat", text, sizeof text) == 0
        && wp_resource_parse_stat (text, &now_cpu, &ncpu) == 0) {
        if (self->have_cpu)
            out.cpu_percent = wp_resource_cpu_percent (&self->cpu, &now_cpu);
        self->cpu = now_cpu;
        self->have_cpu = true;
        out.ncpu = ncpu;
    }
    else
        s_read_error (self, "/proc/stat");

    if (self->cgroup [0]) {
        char path [600];
        uint64_t limit = 0, usage = 0;
        snprintf (path, sizeof path, "%s/memory.max", self->cgroup);
        if (s_read_file (path, text, sizeof text) == 0
            && wp_resource_parse_memory_max (text, &limit) == 0)
            out.cgroup_limit_mb = limit == WP_RESOURCE_NO_LIMIT ? 0 : limit >> 20;
        else
            s_read_error (self, path);
        snprintf (path, sizeof path, "%s/memory.current", self->cgroup);
        if (s_read_file (path, text, sizeof text) == 0
            && wp_resource_parse_memory_current (text, &usage) == 0)
            out.cgroup_usage_mb = usage >> 20;
        else
            s_read_error (self, path);
    }
    wp_resource_set_sample (self->core, out.cpu_percent, available,
                            out.cgroup_limit_mb, out.cgroup_usage_mb);
    out.event_ms = wp_ctx_now_ms (ctx);
    out.warm_models = (uint32_t) wp_resource_warm_count (self->core);
    out.warm_memory_mb = wp_resource_warm_memory_mb (self->core);
    out.budget_mb = config->max_memory_mb;
    //  The first CPU sample has nothing to compare with: it counts as idle.
    out.admit = config->background_warmup_enabled
             && wp_resource_admit_background (self->core);
    return wp_ctx_publish (ctx, WP_TOPIC_RESOURCE, &out.base);
}

//  Sampling period from the configuration.
static unsigned
s_tick_period (const wp_config_t *config)
{
    return config->resource_interval_ms;
}

const wp_component_def_t wp_resource_def = {
    .name = "resource",
    .title = "ResourceManager",
    .topics = { "warmup.done", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
    .on_tick = s_on_tick,
    .tick_period = s_tick_period,
};
