/*  =========================================================================
    wp_resource_actor - binds the ResourceManager core to the bus and to
    the files Linux describes resources in.
    =========================================================================
*/
#include "wp_resource_actor.h"
#include "wp_resource.h"
#include "wp_exec.h"
#include "wp_util.h"
#include <dirent.h>
#include <dlfcn.h>

//  nvidia-smi runs at most this often, and is killed after this long.
#define S_SMI_PERIOD_MS 5000
#define S_SMI_TIMEOUT_MS 10000

//  One watch item of the model sections, and what it matched last.
typedef struct {
    char *spec;                 //  "llama-server", "pid:12", "pidfile:/run/x.pid"
    char **models;              //  models whose section names it
    size_t n_models;
    int pid;                    //  pid:/pidfile: the pid this sample, 0 = none,
                                //  -1 = a process name
    uint32_t processes;         //  processes matched at the last sample
    uint64_t rss_kb;            //  their RSS, KiB
} watch_t;

//  NVML, loaded at run time when the driver is there (no build dependency).
typedef struct {
    unsigned long long total, free, used;
} s_nvml_memory_t;

typedef struct {
    void *library;                              //  dlopen handle, or NULL
    int (*device_count) (unsigned int *);
    int (*device_handle) (unsigned int, void **);
    int (*memory_info) (void *, s_nvml_memory_t *);
    int (*shutdown) (void);
} s_nvml_t;

typedef struct {
    wp_resource_t *core;        //  warm set and admission
    wp_cpu_times_t cpu;         //  previous CPU sample
    bool have_cpu;              //  cpu holds a sample
    char cgroup [512];          //  our cgroup v2 directory, or ""
    uint64_t read_errors;       //  failed reads of the files
    watch_t *watches;           //  the watch items of all model sections
    size_t n_watches;
    s_nvml_t nvml;              //  NVML if present
    char *smi;                  //  path of nvidia-smi if present (no NVML)
    wp_exec_t *smi_run;         //  nvidia-smi running now
    uint64_t smi_started_ms;    //  when it started
    uint64_t smi_last_ms;       //  when it last started
    bool gpu_present;           //  a GPU was read
    uint64_t gpu_total_mb;      //  last reading
    uint64_t gpu_used_mb;
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

//  Collect the watch items of every model section (each item once).
static void
s_watch_init (resource_t *self, const wp_config_t *config)
{
    for (size_t i = 0; i < config->n_models; i++) {
        const char *spec = config->models [i].watch;
        while (spec && *spec) {
            while (*spec == ' ')
                spec++;
            size_t length = strcspn (spec, ",");
            size_t trimmed = length;
            while (trimmed && spec [trimmed - 1] == ' ')
                trimmed--;
            watch_t *watch = NULL;
            for (size_t w = 0; w < self->n_watches; w++)
                if (strlen (self->watches [w].spec) == trimmed
                    && strncmp (self->watches [w].spec, spec, trimmed) == 0)
                    watch = &self->watches [w];
            if (!watch && trimmed) {
                self->watches = (watch_t *) realloc (self->watches,
                                    (self->n_watches + 1) * sizeof (watch_t));
                assert (self->watches);
                watch = &self->watches [self->n_watches++];
                memset (watch, 0, sizeof *watch);
                watch->spec = strndup (spec, trimmed);
                assert (watch->spec);
            }
            if (watch) {
                watch->models = (char **) realloc (watch->models,
                                    (watch->n_models + 1) * sizeof (char *));
                assert (watch->models);
                watch->models [watch->n_models++] = strdup (config->models [i].name);
                assert (watch->models [watch->n_models - 1]);
            }
            spec += length;
            if (*spec == ',')
                spec++;
        }
    }
}

//  Free the watch items.
static void
s_watch_free (resource_t *self)
{
    for (size_t w = 0; w < self->n_watches; w++) {
        free (self->watches [w].spec);
        for (size_t m = 0; m < self->watches [w].n_models; m++)
            free (self->watches [w].models [m]);
        free (self->watches [w].models);
    }
    free (self->watches);
    self->watches = NULL;
    self->n_watches = 0;
}

//  Free this thread's record of a failed dlopen or dlsym. glibc keeps it
//  until dlerror is called twice (once to report, once to free) or the
//  thread ends; an actor thread may still be ending when the process
//  exits, and LeakSanitizer then reports the record lost (exit 1).
static void
s_dl_forget (void)
{
    if (dlerror ())
        dlerror ();
}

//  Find NVML, else nvidia-smi; say once when there is neither.
static void
s_gpu_init (resource_t *self)
{
    s_nvml_t *nvml = &self->nvml;
    nvml->library = dlopen ("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!nvml->library)
        s_dl_forget ();
    if (nvml->library) {
        int (*init) (void) = (int (*) (void)) dlsym (nvml->library, "nvmlInit_v2");
        nvml->device_count = (int (*) (unsigned int *)) dlsym (nvml->library,
                                                               "nvmlDeviceGetCount_v2");
        nvml->device_handle = (int (*) (unsigned int, void **))
                              dlsym (nvml->library, "nvmlDeviceGetHandleByIndex_v2");
        nvml->memory_info = (int (*) (void *, s_nvml_memory_t *))
                            dlsym (nvml->library, "nvmlDeviceGetMemoryInfo");
        nvml->shutdown = (int (*) (void)) dlsym (nvml->library, "nvmlShutdown");
        if (init && nvml->device_count && nvml->device_handle && nvml->memory_info
            && nvml->shutdown && init () == 0) {
            zsys_info ("resource: reading GPU memory through NVML");
            return;
        }
        dlclose (nvml->library);
        nvml->library = NULL;
        s_dl_forget ();
    }
    const char *path = getenv ("PATH");
    char *paths = strdup (path ? path : "/usr/bin:/bin");
    assert (paths);
    char *save = NULL;
    for (char *dir = strtok_r (paths, ":", &save); dir; dir = strtok_r (NULL, ":", &save)) {
        char *candidate = zsys_sprintf ("%s/nvidia-smi", dir);
        if (candidate && access (candidate, X_OK) == 0) {
            self->smi = candidate;
            break;
        }
        zstr_free (&candidate);
    }
    free (paths);
    if (self->smi)
        zsys_info ("resource: reading GPU memory with %s every %d s", self->smi,
                   S_SMI_PERIOD_MS / 1000);
    else
        zsys_info ("resource: no NVIDIA GPU tools (neither NVML nor nvidia-smi): "
                   "GPU memory is not reported");
}

//  Read NVML now.
static void
s_gpu_nvml (resource_t *self)
{
    unsigned int count = 0;
    uint64_t total = 0, used = 0;
    if (self->nvml.device_count (&count) != 0)
        return;
    for (unsigned int i = 0; i < count; i++) {
        void *device = NULL;
        s_nvml_memory_t memory = { 0 };
        if (self->nvml.device_handle (i, &device) == 0
            && self->nvml.memory_info (device, &memory) == 0) {
            total += memory.total >> 20;
            used += memory.used >> 20;
        }
    }
    self->gpu_present = count > 0;
    self->gpu_total_mb = total;
    self->gpu_used_mb = used;
}

//  Drive nvidia-smi: collect a finished run, start the next one, kill
//  one that hangs. Never blocks.
static void
s_gpu_smi (resource_t *self, uint64_t now)
{
    if (self->smi_run) {
        if (wp_exec_reap (self->smi_run) == 1) {
            uint64_t total, used;
            if (wp_exec_ok (self->smi_run)
                && wp_resource_parse_nvidia_smi (wp_exec_stderr (self->smi_run),
                                                 &total, &used, NULL) == 0) {
                self->gpu_present = true;
                self->gpu_total_mb = total;
                self->gpu_used_mb = used;
            }
            else
                s_read_error (self, "the output of nvidia-smi");
            wp_exec_destroy (&self->smi_run);
        }
        else
        if (now - self->smi_started_ms > S_SMI_TIMEOUT_MS) {
            s_read_error (self, "nvidia-smi (it hangs; killed)");
            wp_exec_destroy (&self->smi_run);
        }
        else
            wp_exec_drain (self->smi_run);
        return;
    }
    if (self->smi_last_ms && now - self->smi_last_ms < S_SMI_PERIOD_MS)
        return;
    char *command = zsys_sprintf ("'%s' --query-gpu=memory.total,memory.used "
                                  "--format=csv,noheader,nounits 1>&2", self->smi);
    self->smi_run = command ? wp_exec_new (command) : NULL;
    zstr_free (&command);
    self->smi_started_ms = self->smi_last_ms = now;
}

//  RSS of a process in KiB; -1 if it is gone or has no memory.
static int
s_process_rss (int pid, uint64_t *rss_kb)
{
    char path [64], text [4096];
    snprintf (path, sizeof path, "/proc/%d/status", pid);
    if (s_read_file (path, text, sizeof text))
        return -1;
    return wp_resource_parse_status_rss (text, rss_kb);
}

//  Measure every watch item.
static void
s_watch_sample (resource_t *self, Warmup__V1__ResourceStatus *out)
{
    if (!self->n_watches)
        return;
    for (size_t w = 0; w < self->n_watches; w++) {
        watch_t *watch = &self->watches [w];
        char text [32];
        watch->processes = 0;
        watch->rss_kb = 0;
        watch->pid = -1;
        if (strncmp (watch->spec, "pid:", 4) == 0)
            watch->pid = atoi (watch->spec + 4);
        else
        if (strncmp (watch->spec, "pidfile:", 8) == 0)
            watch->pid = s_read_file (watch->spec + 8, text, sizeof text) == 0
                       ? atoi (text) : 0;
    }
    //  Each process counts once in the total, however many items match it
    uint64_t total_kb = 0;
    DIR *proc = opendir ("/proc");
    struct dirent *entry;
    while (proc && (entry = readdir (proc))) {
        if (!isdigit ((unsigned char) entry->d_name [0]))
            continue;
        int pid = atoi (entry->d_name);
        char path [64], comm [64] = "";
        snprintf (path, sizeof path, "/proc/%d/comm", pid);
        bool have_comm = s_read_file (path, comm, sizeof comm) == 0;
        comm [strcspn (comm, "\n")] = 0;
        bool counted = false;
        uint64_t rss = 0;
        for (size_t w = 0; w < self->n_watches; w++) {
            watch_t *watch = &self->watches [w];
            bool match = watch->pid >= 0 ? watch->pid == pid
                                         : have_comm && streq (comm, watch->spec);
            if (!match)
                continue;
            if (!counted && s_process_rss (pid, &rss))
                break;      //  gone, or a kernel thread
            watch->processes++;
            watch->rss_kb += rss;
            if (!counted)
                total_kb += rss;
            counted = true;
        }
    }
    if (proc)
        closedir (proc);
    out->watched_rss_mb = total_kb >> 10;
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
    s_watch_init (self, config);
    s_gpu_init (self);
    return self;
}

//  Destroy the state.
static void
s_destroy (void **state_p)
{
    resource_t *self = (resource_t *) *state_p;
    wp_resource_destroy (&self->core);
    s_watch_free (self);
    wp_exec_destroy (&self->smi_run);
    zstr_free (&self->smi);
    if (self->nvml.library) {
        self->nvml.shutdown ();
        dlclose (self->nvml.library);
    }
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
    if (wp_ctx_replay (ctx)) {
        //  Replay: the machine is the simulated world, whose only limit is
        //  the memory budget (the scheduler keeps it); this machine's
        //  memory and CPU say nothing about it.
        out.event_ms = wp_ctx_now_ms (ctx);
        out.warm_models = (uint32_t) wp_resource_warm_count (self->core);
        out.warm_memory_mb = wp_resource_warm_memory_mb (self->core);
        out.budget_mb = config->max_memory_mb;
        out.admit = config->background_warmup_enabled;
        out.admit_reason = (char *) (out.admit ? "" : "background warmups disabled");
        return wp_ctx_publish (ctx, WP_TOPIC_RESOURCE, &out.base);
    }
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
    char reason [200] = "";
    if (!config->background_warmup_enabled)
        snprintf (reason, sizeof reason, "background warmups disabled");
    else
    if (!out.admit)
        wp_resource_verdict_text (self->core, wp_resource_check (self->core, 1, true), 1,
                                  reason, sizeof reason);
    out.admit_reason = reason;

    //  The model servers' processes
    s_watch_sample (self, &out);
    Warmup__V1__WatchedProcesses *watched = NULL, **watched_p = NULL;
    if (self->n_watches) {
        watched = (Warmup__V1__WatchedProcesses *) calloc (self->n_watches, sizeof *watched);
        watched_p = (Warmup__V1__WatchedProcesses **) calloc (self->n_watches,
                                                              sizeof *watched_p);
        assert (watched && watched_p);
        for (size_t w = 0; w < self->n_watches; w++) {
            warmup__v1__watched_processes__init (&watched [w]);
            watched [w].spec = self->watches [w].spec;
            watched [w].models = self->watches [w].models;
            watched [w].n_models = self->watches [w].n_models;
            watched [w].processes = self->watches [w].processes;
            watched [w].rss_mb = self->watches [w].rss_kb >> 10;
            watched_p [w] = &watched [w];
        }
        out.watched = watched_p;
        out.n_watched = self->n_watches;
    }
    //  GPUs
    if (self->nvml.library)
        s_gpu_nvml (self);
    else
    if (self->smi)
        s_gpu_smi (self, out.event_ms);
    out.gpu_present = self->gpu_present;
    out.gpu_total_mb = self->gpu_total_mb;
    out.gpu_used_mb = self->gpu_used_mb;
    int rc = wp_ctx_publish (ctx, WP_TOPIC_RESOURCE, &out.base);
    free (watched);
    free (watched_p);
    return rc;
}

//  Sampling period from the configuration.
static unsigned
s_tick_period (const wp_config_t *config)
{
    return config->resource_interval_ms;
}

//  A reload: the new budgets and watch items.
static void
s_on_config (void *state, wp_ctx_t *ctx, const wp_config_t *next)
{
    resource_t *self = (resource_t *) state;
    wp_resource_set_limits (self->core, next->max_memory_mb, next->max_cpu_percent);
    s_watch_free (self);
    s_watch_init (self, next);
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
    .on_config = s_on_config,
};
