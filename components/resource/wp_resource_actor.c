/*  =========================================================================
    wp_resource_actor - binds the ResourceManager core to the bus and to
    the files Linux describes resources in, and to the GPUs (NVML or
    nvidia-smi).
    =========================================================================
*/
#include "wp_resource_actor.h"
#include "wp_resource.h"
#include "wp_measure.h"
#include "wp_exec.h"
#include "wp_util.h"
#include <dirent.h>
#include <dlfcn.h>

//  nvidia-smi is killed after this long.
#define S_SMI_TIMEOUT_MS 10000
//  An auto budget moves only by this much or more (readings wobble).
#define S_BUDGET_STEP_MB 64
//  Processes of the watch items remembered per sample, for the GPUs.
#define S_PIDS_MAX 4096
//  Loads measured per resource.status at most.
#define S_MEASURED_MAX 16
//  A load or cool asked but never done is forgotten after this long.
#define S_ASKED_FORGET_MS 600000

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

//  A process on a GPU (nvmlProcessInfo_t of NVML 11+: _v2 and _v3 calls).
typedef struct {
    unsigned int pid;
    unsigned long long used;
    unsigned int gpu_instance, compute_instance;
} s_nvml_process_t;

//  The same, of the first call (nvmlProcessInfo_v1_t).
typedef struct {
    unsigned int pid;
    unsigned long long used;
} s_nvml_process_v1_t;

typedef struct {
    void *library;                              //  dlopen handle, or NULL
    int (*device_count) (unsigned int *);
    int (*device_handle) (unsigned int, void **);
    int (*memory_info) (void *, s_nvml_memory_t *);
    int (*name) (void *, char *, unsigned int);             //  may be NULL
    int (*uuid) (void *, char *, unsigned int);             //  may be NULL
    int (*processes) (void *, unsigned int *, void *);      //  may be NULL
    bool processes_v1;                          //  ... with the first layout
    int (*shutdown) (void);
} s_nvml_t;

//  NVML's "not available" for a process's memory.
#define S_NVML_NOT_AVAILABLE 0xFFFFFFFFFFFFFFFFULL

//  A device's "others" (what processes that are not ours hold), as
//  last accepted: when ours is what the models warm on it hold (no
//  process attribution), a reading taken while one of our loads or cools
//  ran is not taken (the load's memory would count as someone else's).
typedef struct {
    uint64_t others_mb;
    bool have;
} s_others_t;

typedef struct {
    wp_resource_t *core;        //  warm set and admission
    wp_cpu_times_t cpu;         //  previous CPU sample
    bool have_cpu;              //  cpu holds a sample
    char cgroup [512];          //  our cgroup v2 directory, or ""
    uint64_t read_errors;       //  failed reads of the files
    watch_t *watches;           //  the watch items of all model sections
    size_t n_watches;
    int pids [S_PIDS_MAX];      //  processes the watch items matched
    size_t n_pids;
    //  GPUs
    s_nvml_t nvml;              //  NVML if present
    char *smi;                  //  path of nvidia-smi if present (no NVML)
    char *smi_gpus, *smi_apps;  //  files its output goes to
    wp_exec_t *smi_run;         //  nvidia-smi running now
    uint64_t smi_started_ms;    //  when it started
    uint64_t smi_last_ms;       //  when it last started
    bool gpu_present;           //  a GPU was read
    wp_gpu_t gpus [WP_RESOURCE_GPUS_MAX];       //  the last reading
    size_t n_gpus;
    wp_gpu_app_t apps [WP_RESOURCE_APPS_MAX];   //  processes on them
    size_t n_apps;
    bool apps_known;            //  the last reading listed processes
    uint64_t gpu_read_start;    //  it was taken between these (wall clock)
    uint64_t gpu_read_end;
    bool vram_warned;           //  said that GPU models have no GPU
    //  Memory as measured
    wp_measure_t *measure;      //  what loads took
    zhashx_t *asked;            //  model -> uint64_t: a load or cool asked
                                //  and not done yet (since when)
    uint64_t last_end_ms;       //  when the last one ended
    s_others_t others [WP_RESOURCE_GPUS_MAX + 1];   //  RAM, then GPU index + 1
    uint64_t budget_mb;         //  the RAM budget in force (auto: stepped)
    uint64_t vram_budget_mb;    //  the GPU budget in force
    char gpu_names [WP_RESOURCE_GPUS_MAX][16];  //  "gpu0", ... for the status
    char smi_text [65536];      //  a file nvidia-smi wrote
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

//  A symbol of NVML, or NULL (forgetting the error).
static void *
s_nvml_symbol (void *library, const char *name)
{
    void *symbol = dlsym (library, name);
    if (!symbol)
        s_dl_forget ();
    return symbol;
}

//  Where nvidia-smi's output goes: a file of the component's data
//  directory. False (logged) when its path cannot be quoted for the shell.
static bool
s_smi_files (resource_t *self, const wp_config_t *config)
{
    if (strchr (config->data_dir, '\'')) {
        zsys_warning ("resource: the data directory's name holds a quote: nvidia-smi "
                      "is not run");
        return false;
    }
    self->smi_gpus = zsys_sprintf ("%s/resource/nvidia-smi-gpus.txt", config->data_dir);
    self->smi_apps = zsys_sprintf ("%s/resource/nvidia-smi-apps.txt", config->data_dir);
    assert (self->smi_gpus && self->smi_apps);
    return true;
}

//  Find NVML, else nvidia-smi (or the one gpu_source names); say once
//  when there is neither.
static void
s_gpu_init (resource_t *self, const wp_config_t *config)
{
    const char *source = config->gpu_source;
    if (streq (source, "off")) {
        zsys_info ("resource: gpu_source = off: GPU memory is not read");
        return;
    }
    s_nvml_t *nvml = &self->nvml;
    nvml->library = streq (source, "nvidia-smi") ? NULL
                  : dlopen ("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!nvml->library)
        s_dl_forget ();
    if (nvml->library) {
        void *library = nvml->library;
        int (*init) (void) = (int (*) (void)) s_nvml_symbol (library, "nvmlInit_v2");
        nvml->device_count = (int (*) (unsigned int *))
                             s_nvml_symbol (library, "nvmlDeviceGetCount_v2");
        nvml->device_handle = (int (*) (unsigned int, void **))
                              s_nvml_symbol (library, "nvmlDeviceGetHandleByIndex_v2");
        nvml->memory_info = (int (*) (void *, s_nvml_memory_t *))
                            s_nvml_symbol (library, "nvmlDeviceGetMemoryInfo");
        nvml->name = (int (*) (void *, char *, unsigned int))
                     s_nvml_symbol (library, "nvmlDeviceGetName");
        nvml->uuid = (int (*) (void *, char *, unsigned int))
                     s_nvml_symbol (library, "nvmlDeviceGetUUID");
        nvml->processes = (int (*) (void *, unsigned int *, void *))
                          s_nvml_symbol (library, "nvmlDeviceGetComputeRunningProcesses_v3");
        if (!nvml->processes)
            nvml->processes = (int (*) (void *, unsigned int *, void *))
                              s_nvml_symbol (library, "nvmlDeviceGetComputeRunningProcesses_v2");
        if (!nvml->processes) {
            nvml->processes = (int (*) (void *, unsigned int *, void *))
                              s_nvml_symbol (library, "nvmlDeviceGetComputeRunningProcesses");
            nvml->processes_v1 = true;
        }
        nvml->shutdown = (int (*) (void)) s_nvml_symbol (library, "nvmlShutdown");
        if (init && nvml->device_count && nvml->device_handle && nvml->memory_info
            && nvml->shutdown && init () == 0) {
            zsys_info ("resource: reading GPU memory through NVML%s",
                       nvml->processes ? " (and the processes on each GPU)" : "");
            return;
        }
        dlclose (nvml->library);
        nvml->library = NULL;
        s_dl_forget ();
    }
    if (streq (source, "nvml")) {
        zsys_warning ("resource: gpu_source = nvml, but NVML (libnvidia-ml.so.1) cannot be "
                      "loaded: GPU memory is not reported");
        return;
    }
    const char *path = getenv ("PATH");
    char *paths = strdup (path ? path : "/usr/bin:/bin");
    assert (paths);
    char *save = NULL;
    for (char *dir = strtok_r (paths, ":", &save); dir; dir = strtok_r (NULL, ":", &save)) {
        char *candidate = zsys_sprintf ("%s/nvidia-smi", dir);
        if (candidate && access (candidate, X_OK) == 0 && !strchr (candidate, '\'')) {
            self->smi = candidate;
            break;
        }
        zstr_free (&candidate);
    }
    free (paths);
    if (self->smi && !s_smi_files (self, config))
        zstr_free (&self->smi);
    if (self->smi)
        zsys_info ("resource: reading GPU memory with %s every %u ms", self->smi,
                   config->gpu_interval_ms);
    else
        zsys_info ("resource: no NVIDIA GPU tools (neither NVML nor nvidia-smi): "
                   "GPU memory is not reported");
}

//  Read NVML now: each GPU and the processes on it.
static void
s_gpu_nvml (resource_t *self, uint64_t now)
{
    s_nvml_t *nvml = &self->nvml;
    unsigned int count = 0;
    if (nvml->device_count (&count) != 0) {
        s_read_error (self, "NVML's device count");
        return;
    }
    size_t n_gpus = 0, n_apps = 0;
    bool apps_known = nvml->processes != NULL;
    for (unsigned int i = 0; i < count && n_gpus < WP_RESOURCE_GPUS_MAX; i++) {
        void *device = NULL;
        s_nvml_memory_t memory = { 0 };
        if (nvml->device_handle (i, &device) != 0
            || nvml->memory_info (device, &memory) != 0)
            continue;
        wp_gpu_t *gpu = &self->gpus [n_gpus++];
        memset (gpu, 0, sizeof *gpu);
        gpu->index = i;
        gpu->total_mb = memory.total >> 20;
        gpu->used_mb = memory.used >> 20;
        if (nvml->name && nvml->name (device, gpu->name, sizeof gpu->name) != 0)
            gpu->name [0] = 0;
        gpu->name [sizeof gpu->name - 1] = 0;
        if (nvml->uuid && nvml->uuid (device, gpu->uuid, sizeof gpu->uuid) != 0)
            gpu->uuid [0] = 0;
        gpu->uuid [sizeof gpu->uuid - 1] = 0;
        if (!nvml->processes)
            continue;
        //  The processes: as many as fit, in either layout
        s_nvml_process_t list [64];
        s_nvml_process_v1_t list_v1 [64];
        unsigned int listed = 64;
        int rc = nvml->processes (device, &listed,
                                  nvml->processes_v1 ? (void *) list_v1 : (void *) list);
        if (rc != 0) {
            apps_known = false;
            continue;
        }
        for (unsigned int p = 0; p < listed && p < 64 && n_apps < WP_RESOURCE_APPS_MAX; p++) {
            unsigned long long used = nvml->processes_v1 ? list_v1 [p].used : list [p].used;
            self->apps [n_apps].gpu = i;
            self->apps [n_apps].pid = nvml->processes_v1 ? list_v1 [p].pid : list [p].pid;
            self->apps [n_apps].used_mb = used == S_NVML_NOT_AVAILABLE
                                        ? WP_RESOURCE_UNKNOWN_MB : used >> 20;
            n_apps++;
        }
    }
    self->n_gpus = n_gpus;
    self->n_apps = n_apps;
    self->apps_known = apps_known;
    self->gpu_present = n_gpus > 0;
    self->gpu_read_start = self->gpu_read_end = now;
    for (size_t i = 0; i < n_gpus; i++)
        wp_measure_reading (self->measure, WP_MEASURE_GPU (self->gpus [i].index), now, now,
                            self->gpus [i].used_mb);
}

//  nvidia-smi finished: read what it wrote.
static void
s_gpu_smi_read (resource_t *self, uint64_t now)
{
    char *text = self->smi_text;
    size_t size = sizeof self->smi_text;
    wp_gpu_t gpus [WP_RESOURCE_GPUS_MAX];
    size_t n_gpus = 0, n_apps = 0;
    if (!wp_exec_ok (self->smi_run) || s_read_file (self->smi_gpus, text, size)
        || wp_resource_parse_gpus (text, gpus, WP_RESOURCE_GPUS_MAX, &n_gpus)) {
        s_read_error (self, "the output of nvidia-smi --query-gpu");
        return;
    }
    memcpy (self->gpus, gpus, n_gpus * sizeof *gpus);
    self->n_gpus = n_gpus;
    self->gpu_present = true;
    self->apps_known = s_read_file (self->smi_apps, text, size) == 0
                    && text [0] != '#'
                    && wp_resource_parse_gpu_apps (text, gpus, n_gpus, self->apps,
                                                   WP_RESOURCE_APPS_MAX, &n_apps) == 0;
    self->n_apps = self->apps_known ? n_apps : 0;
    self->gpu_read_start = self->smi_started_ms;
    self->gpu_read_end = now;
    for (size_t i = 0; i < n_gpus; i++)
        wp_measure_reading (self->measure, WP_MEASURE_GPU (gpus [i].index),
                            self->gpu_read_start, now, gpus [i].used_mb);
}

//  Drive nvidia-smi: collect a finished run, start the next one, kill
//  one that hangs. Never blocks.
static void
s_gpu_smi (resource_t *self, const wp_config_t *config, uint64_t now)
{
    if (self->smi_run) {
        if (wp_exec_reap (self->smi_run) == 1) {
            s_gpu_smi_read (self, now);
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
    if (self->smi_last_ms && now - self->smi_last_ms < config->gpu_interval_ms)
        return;
    char *command = zsys_sprintf (
        "'%s' --query-gpu=index,uuid,name,memory.total,memory.used "
        "--format=csv,noheader,nounits >'%s' || exit 1; "
        "'%s' --query-compute-apps=gpu_uuid,pid,used_memory --format=csv,noheader,nounits "
        ">'%s' 2>/dev/null || echo '#failed' >'%s'",
        self->smi, self->smi_gpus, self->smi, self->smi_apps, self->smi_apps);
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

//  Measure every watch item (and keep the processes they matched).
static void
s_watch_sample (resource_t *self, Warmup__V1__ResourceStatus *out, uint64_t now)
{
    self->n_pids = 0;
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
            if (!counted) {
                total_kb += rss;
                if (self->n_pids < S_PIDS_MAX)
                    self->pids [self->n_pids++] = pid;
            }
            counted = true;
        }
    }
    if (proc)
        closedir (proc);
    out->watched_rss_mb = total_kb >> 10;
    for (size_t w = 0; w < self->n_watches && w < WP_MEASURE_CHANNELS - WP_MEASURE_WATCH (0);
         w++)
        wp_measure_reading (self->measure, WP_MEASURE_WATCH (w), now, now,
                            self->watches [w].rss_kb);
}

//  True if pid is one of the watched processes.
static bool
s_watched_pid (resource_t *self, uint32_t pid)
{
    for (size_t i = 0; i < self->n_pids; i++)
        if ((uint32_t) self->pids [i] == pid)
            return true;
    return false;
}

//  Build the state.
static void *
s_create (wp_ctx_t *ctx)
{
    const wp_config_t *config = wp_ctx_config (ctx);
    resource_t *self = (resource_t *) zmalloc (sizeof (resource_t));
    assert (self);
    self->core = wp_resource_new (config->max_memory_mb, config->max_cpu_percent);
    self->measure = wp_measure_new ();
    self->asked = zhashx_new ();
    if (!self->core || !self->measure || !self->asked) {
        wp_resource_destroy (&self->core);
        wp_measure_destroy (&self->measure);
        zhashx_destroy (&self->asked);
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->asked, (zhashx_destructor_fn *) zstr_free);
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
    if (!wp_ctx_replay (ctx)) {
        s_gpu_init (self, config);
        //  A first reading now, not a period later: a load asked at once
        //  (a pin, a preload) is then measured from it
        uint64_t now = wp_ctx_now_ms (ctx);
        Warmup__V1__ResourceStatus unused = WARMUP__V1__RESOURCE_STATUS__INIT;
        s_watch_sample (self, &unused, now);
        if (self->nvml.library)
            s_gpu_nvml (self, now);
        else
        if (self->smi)
            s_gpu_smi (self, config, now);
    }
    return self;
}

//  Destroy the state.
static void
s_destroy (void **state_p)
{
    resource_t *self = (resource_t *) *state_p;
    wp_resource_destroy (&self->core);
    wp_measure_destroy (&self->measure);
    zhashx_destroy (&self->asked);
    s_watch_free (self);
    wp_exec_destroy (&self->smi_run);
    zstr_free (&self->smi);
    zstr_free (&self->smi_gpus);
    zstr_free (&self->smi_apps);
    if (self->nvml.library) {
        self->nvml.shutdown ();
        dlclose (self->nvml.library);
    }
    free (self);
    *state_p = NULL;
}

//  The channels a load of model is measured on: its GPUs (by its device)
//  and the watch items of its section. Returns how many.
static size_t
s_channels (resource_t *self, const wp_config_t *config, const char *model,
            unsigned *channels, size_t capacity)
{
    size_t n = 0;
    const wp_model_config_t *section = wp_config_model (config, model);
    uint32_t device = section ? section->device
                    : wp_config_has_vram (config) ? WP_DEVICE_GPU : WP_DEVICE_CPU;
    int index = WP_DEVICE_INDEX (device);
    if (WP_DEVICE_IS_GPU (device))
        for (size_t i = 0; i < self->n_gpus && n < capacity; i++) {
            uint32_t gpu = self->gpus [i].index;
            if (index >= 0 ? (int) gpu == index : (config->gpu_mask & (1u << gpu)) != 0)
                channels [n++] = WP_MEASURE_GPU (gpu);
        }
    for (size_t w = 0; w < self->n_watches && n < capacity; w++)
        for (size_t m = 0; m < self->watches [w].n_models; m++)
            if (streq (self->watches [w].models [m], model)
                && WP_MEASURE_WATCH (w) < WP_MEASURE_CHANNELS) {
                channels [n++] = WP_MEASURE_WATCH (w);
                break;
            }
    return n;
}

//  Track what is warm, what runs, and what a load took.
static int
s_on_event (void *state, wp_ctx_t *ctx, wp_topic_t topic, const ProtobufCMessage *msg)
{
    resource_t *self = (resource_t *) state;
    const wp_config_t *config = wp_ctx_config (ctx);
    if (topic == WP_TOPIC_WARMUP_REQUEST) {
        const Warmup__V1__WarmupRequested *in = (const Warmup__V1__WarmupRequested *) msg;
        if (!in->model || !*in->model || wp_ctx_replay (ctx))
            return 0;
        uint64_t now = wp_ctx_now_ms (ctx);
        char *since = zsys_sprintf ("%" PRIu64, now);
        assert (since);
        zhashx_update (self->asked, in->model, since);
        wp_measure_asked (self->measure, in->model, now);
        return 0;
    }
    const Warmup__V1__WarmupDone *done = (const Warmup__V1__WarmupDone *) msg;
    if (!done->model || !*done->model)
        return 0;
    uint64_t end = done->event_ms ? done->event_ms : wp_ctx_now_ms (ctx);
    uint64_t start = end > done->duration_ms ? end - done->duration_ms : 0;
    if (!wp_ctx_replay (ctx)) {
        zhashx_delete (self->asked, done->model);
        wp_measure_ended (self->measure, done->model, start, end);
        self->last_end_ms = end > self->last_end_ms ? end : self->last_end_ms;
    }
    if (!done->ok)
        return 0;
    if (done->action == WARMUP__V1__ACTION__ACTION_WARM) {
        uint32_t memory = done->memory_mb
                        ? done->memory_mb
                        : wp_config_model_memory_mb (config, done->model);
        const wp_model_config_t *section = wp_config_model (config, done->model);
        uint32_t device = section ? section->device
                        : wp_config_has_vram (config) ? WP_DEVICE_GPU : WP_DEVICE_CPU;
        if (wp_resource_model_place (self->core, done->model, memory, done->vram_mb, device,
                                     0)) {
            wp_ctx_count_rejected (ctx);
            return -1;
        }
        //  The server said nothing of its memory: measure the load
        bool said = done->memory_source && (streq (done->memory_source, "server")
                                             || streq (done->memory_source, "resident"));
        bool loads = done->backend && !streq (done->backend, "sim")
                  && !streq (done->backend, "queue");
        unsigned channels [WP_MEASURE_CHANNELS];
        size_t n = s_channels (self, config, done->model, channels, WP_MEASURE_CHANNELS);
        if (!said && loads && n && !wp_ctx_replay (ctx))
            wp_measure_load (self->measure, done->model, start, end, channels, n);
    }
    else
    if (done->action == WARMUP__V1__ACTION__ACTION_COOL)
        wp_resource_model_cool (self->core, done->model);
    return 0;
}

//  True when a device reading taken between start and end saw none of
//  our loads or cools run: then what it says of others can be taken.
static bool
s_quiet (resource_t *self, uint64_t start, uint64_t end)
{
    (void) end;
    return zhashx_size (self->asked) == 0 && start >= self->last_end_ms;
}

//  Forget loads and cools asked long ago whose done never came.
static void
s_asked_expire (resource_t *self, uint64_t now)
{
    zlistx_t *old = zlistx_new ();
    for (char *since = (char *) zhashx_first (self->asked); since;
         since = (char *) zhashx_next (self->asked))
        if (strtoull (since, NULL, 10) + S_ASKED_FORGET_MS < now)
            zlistx_add_end (old, (void *) zhashx_cursor (self->asked));
    for (const char *model = (const char *) zlistx_first (old); model;
         model = (const char *) zlistx_next (old))
        zhashx_delete (self->asked, model);
    zlistx_destroy (&old);
}

//  Fill a device: ours, others (kept while our own work runs when ours is
//  only what the models are known to hold) and what it leaves us.
static void
s_device (resource_t *self, Warmup__V1__DeviceMemory *d, s_others_t *others,
          uint64_t ours, bool by_processes, bool quiet, uint64_t reserve)
{
    //  (models that load nothing, the sim backend's, hold nothing used)
    d->ours_mb = ours < d->used_mb ? ours : d->used_mb;
    d->ours_from = (char *) (by_processes ? "processes" : "models");
    uint64_t now_others = d->used_mb > ours ? d->used_mb - ours : 0;
    if (by_processes || quiet || !others->have) {
        others->others_mb = now_others;
        others->have = true;
    }
    d->others_mb = others->others_mb;
    d->reserved_mb = reserve;
    uint64_t taken = d->others_mb + reserve;
    d->capacity_mb = d->total_mb > taken ? d->total_mb - taken : 0;
}

//  An auto budget moves only by S_BUDGET_STEP_MB or more.
static uint64_t
s_step (uint64_t current, uint64_t measured)
{
    uint64_t change = current > measured ? current - measured : measured - current;
    return change >= S_BUDGET_STEP_MB || measured == 0 ? measured : current;
}

//  What loads took (wp_measure), into out's measured list (the arrays are
//  the caller's, S_MEASURED_MAX each), each said in the log.
static void
s_measured_loads (resource_t *self, Warmup__V1__ResourceStatus *out,
                  Warmup__V1__ModelMeasured *measured, Warmup__V1__ModelMeasured **measured_p,
                  wp_measured_t *loads, uint64_t now)
{
    size_t taken = wp_measure_take (self->measure, now, loads, S_MEASURED_MAX);
    for (size_t i = 0; i < taken; i++) {
        Warmup__V1__ModelMeasured *m = &measured [i];
        warmup__v1__model_measured__init (m);
        m->model = loads [i].model;
        m->vram_mb = loads [i].vram_mb;
        m->memory_mb = loads [i].vram_mb + loads [i].ram_mb;
        m->how = (char *) (loads [i].gpu && loads [i].processes ? "gpu+processes"
                           : loads [i].gpu ? "gpu" : "processes");
        m->event_ms = loads [i].end_ms;
        measured_p [i] = m;
        zsys_info ("resource: %s took %u MiB (%u on GPUs), measured by the change in %s "
                   "memory around its load", m->model, m->memory_mb, m->vram_mb,
                   loads [i].gpu && loads [i].processes ? "GPU and process"
                   : loads [i].gpu ? "GPU" : "process");
    }
    out->measured = measured_p;
    out->n_measured = taken;
}

//  The devices, budgets and measured loads of a resource.status. The
//  arrays are the caller's (n_gpus + 1 devices, S_MEASURED_MAX measured).
static void
s_memory (resource_t *self, const wp_config_t *config, Warmup__V1__ResourceStatus *out,
          Warmup__V1__DeviceMemory *devices, Warmup__V1__DeviceMemory **device_p,
          Warmup__V1__ModelMeasured *measured, Warmup__V1__ModelMeasured **measured_p,
          wp_measured_t *loads, uint64_t now)
{
    uint64_t reserve = config->memory_reserve_mb;
    bool watched = self->n_watches > 0;
    //  RAM: the machine's
    Warmup__V1__DeviceMemory *ram = &devices [0];
    warmup__v1__device_memory__init (ram);
    ram->device = (char *) "ram";
    ram->name = (char *) "";
    ram->total_mb = out->mem_total_mb;
    ram->used_mb = out->mem_total_mb > out->mem_available_mb
                 ? out->mem_total_mb - out->mem_available_mb : 0;
    ram->sampled_ms = now;
    ram->managed = true;
    uint64_t ram_ours = watched ? out->watched_rss_mb : wp_resource_warm_memory_mb (self->core);
    s_device (self, ram, &self->others [0], ram_ours, watched, s_quiet (self, now, now),
              reserve);
    device_p [0] = ram;
    size_t n = 1;
    //  Each GPU read
    uint64_t vram_capacity = 0;
    bool one_managed = false;
    size_t managed = 0;
    for (size_t i = 0; i < self->n_gpus; i++)
        managed += (config->gpu_mask & (1u << self->gpus [i].index)) != 0;
    one_managed = managed == 1;
    bool quiet = s_quiet (self, self->gpu_read_start, self->gpu_read_end);
    for (size_t i = 0; i < self->n_gpus; i++) {
        const wp_gpu_t *gpu = &self->gpus [i];
        Warmup__V1__DeviceMemory *d = &devices [n];
        warmup__v1__device_memory__init (d);
        snprintf (self->gpu_names [i], sizeof self->gpu_names [i], "gpu%u", gpu->index);
        d->device = self->gpu_names [i];
        d->name = (char *) gpu->name;
        d->total_mb = gpu->total_mb;
        d->used_mb = gpu->used_mb;
        d->sampled_ms = self->gpu_read_start;
        d->managed = (config->gpu_mask & (1u << gpu->index)) != 0;
        //  Ours: the watched processes' memory on it, when the driver
        //  lists it; else what the models warm on it hold
        bool by_processes = watched && self->apps_known;
        uint64_t ours = 0;
        for (size_t a = 0; by_processes && a < self->n_apps; a++)
            if (self->apps [a].gpu == gpu->index && s_watched_pid (self, self->apps [a].pid)) {
                if (self->apps [a].used_mb == WP_RESOURCE_UNKNOWN_MB)
                    by_processes = false;
                else
                    ours += self->apps [a].used_mb;
            }
        if (!by_processes) {
            ours = wp_resource_warm_vram_mb (self->core, WP_DEVICE_GPU_N (gpu->index));
            if (one_managed && d->managed)
                ours = wp_resource_warm_vram_mb (self->core, WP_DEVICE_GPU);
        }
        s_device (self, d, &self->others [1 + gpu->index], ours, by_processes, quiet, reserve);
        if (d->managed)
            vram_capacity += d->capacity_mb;
        device_p [n++] = d;
    }
    out->devices = device_p;
    out->n_devices = n;
    out->reserve_mb = reserve;
    //  The budgets in force
    out->memory_auto = config->max_memory_auto;
    if (config->max_memory_auto) {
        uint64_t capacity = ram->capacity_mb;
        if (out->cgroup_limit_mb) {
            uint64_t limit = out->cgroup_limit_mb > reserve ? out->cgroup_limit_mb - reserve : 0;
            capacity = capacity < limit ? capacity : limit;
        }
        //  (at least 1 MiB: 0 would read as "no budget")
        self->budget_mb = s_step (self->budget_mb, capacity ? capacity : 1);
    }
    else
        self->budget_mb = config->max_memory_mb;
    out->vram_auto = config->max_vram_auto;
    if (config->max_vram_auto)
        self->vram_budget_mb = managed ? s_step (self->vram_budget_mb,
                                                 vram_capacity ? vram_capacity : 1) : 0;
    else
        self->vram_budget_mb = config->max_vram_mb;
    out->budget_mb = self->budget_mb;
    out->vram_budget_mb = self->vram_budget_mb;
    if (wp_config_has_vram (config) && !managed && !self->vram_warned
        && (self->nvml.library || (self->smi && self->smi_last_ms
                                   && now - self->smi_last_ms > S_SMI_TIMEOUT_MS))) {
        zsys_warning ("resource: max_vram_mb is set but no GPU of gpus was read: models "
                      "on a GPU are not warmed");
        self->vram_warned = true;
    }
    s_measured_loads (self, out, measured, measured_p, loads, now);
}

//  The RAM and GPU readings, for the core's admission.
static void
s_core_devices (resource_t *self, const Warmup__V1__ResourceStatus *out)
{
    wp_resource_device_t devices [WP_RESOURCE_GPUS_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < out->n_devices && n < WP_RESOURCE_GPUS_MAX + 1; i++) {
        const Warmup__V1__DeviceMemory *d = out->devices [i];
        devices [n++] = (wp_resource_device_t) {
            .index = streq (d->device, "ram") ? -1 : atoi (d->device + 3),
            .managed = d->managed, .total_mb = d->total_mb, .used_mb = d->used_mb,
            .reserved_mb = d->reserved_mb, .sampled_ms = d->sampled_ms };
    }
    wp_resource_set_devices (self->core, devices, n, out->vram_budget_mb);
}

//  Read the machine's memory, CPU and cgroup into out; returns the
//  memory available, MB (WP_RESOURCE_UNKNOWN_MB when /proc/meminfo is not
//  read).
static uint64_t
s_read_machine (resource_t *self, Warmup__V1__ResourceStatus *out)
{
    char text [16384];
    uint64_t available = WP_RESOURCE_UNKNOWN_MB;
    if (s_read_file ("/proc/meminfo", text, sizeof text) == 0
        && wp_resource_parse_meminfo (text, &out->mem_total_mb, &out->mem_available_mb) == 0)
        available = out->mem_available_mb;
    else
        s_read_error (self, "/proc/meminfo");

    wp_cpu_times_t now_cpu;
    uint32_t ncpu = 0;
    if (s_read_file ("/proc/stat", text, sizeof text) == 0
        && wp_resource_parse_stat (text, &now_cpu, &ncpu) == 0) {
        if (self->have_cpu)
            out->cpu_percent = wp_resource_cpu_percent (&self->cpu, &now_cpu);
        self->cpu = now_cpu;
        self->have_cpu = true;
        out->ncpu = ncpu;
    }
    else
        s_read_error (self, "/proc/stat");

    if (self->cgroup [0]) {
        char path [600];
        uint64_t limit = 0, usage = 0;
        snprintf (path, sizeof path, "%s/memory.max", self->cgroup);
        if (s_read_file (path, text, sizeof text) == 0
            && wp_resource_parse_memory_max (text, &limit) == 0)
            out->cgroup_limit_mb = limit == WP_RESOURCE_NO_LIMIT ? 0 : limit >> 20;
        else
            s_read_error (self, path);
        snprintf (path, sizeof path, "%s/memory.current", self->cgroup);
        if (s_read_file (path, text, sizeof text) == 0
            && wp_resource_parse_memory_current (text, &usage) == 0)
            out->cgroup_usage_mb = usage >> 20;
        else
            s_read_error (self, path);
    }
    return available;
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
    uint64_t now = wp_ctx_now_ms (ctx);
    s_asked_expire (self, now);
    uint64_t available = s_read_machine (self, &out);
    wp_resource_set_sample (self->core, out.cpu_percent, available,
                            out.cgroup_limit_mb, out.cgroup_usage_mb);
    out.event_ms = now;

    //  The model servers' processes
    s_watch_sample (self, &out, now);
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
        s_gpu_nvml (self, now);
    else
    if (self->smi)
        s_gpu_smi (self, config, now);
    out.gpu_present = self->gpu_present;
    for (size_t i = 0; i < self->n_gpus; i++) {
        out.gpu_total_mb += self->gpus [i].total_mb;
        out.gpu_used_mb += self->gpus [i].used_mb;
    }
    //  Memory as measured: the devices, the budgets, what loads took
    Warmup__V1__DeviceMemory devices [WP_RESOURCE_GPUS_MAX + 1];
    Warmup__V1__DeviceMemory *device_p [WP_RESOURCE_GPUS_MAX + 1];
    Warmup__V1__ModelMeasured measured [S_MEASURED_MAX];
    Warmup__V1__ModelMeasured *measured_p [S_MEASURED_MAX];
    wp_measured_t loads [S_MEASURED_MAX];
    s_memory (self, config, &out, devices, device_p, measured, measured_p, loads, now);
    wp_resource_set_limits (self->core, out.budget_mb, config->max_cpu_percent);
    s_core_devices (self, &out);

    out.warm_models = (uint32_t) wp_resource_warm_count (self->core);
    out.warm_memory_mb = wp_resource_warm_memory_mb (self->core);
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
    wp_resource_set_limits (self->core, next->max_memory_auto ? self->budget_mb
                                                               : next->max_memory_mb,
                            next->max_cpu_percent);
    s_watch_free (self);
    s_watch_init (self, next);
    self->vram_warned = false;
}

const wp_component_def_t wp_resource_def = {
    .name = "resource",
    .title = "ResourceManager",
    .topics = { "warmup.done", "warmup.requested", NULL },
    .create = s_create,
    .destroy = s_destroy,
    .on_event = s_on_event,
    .on_tick = s_on_tick,
    .tick_period = s_tick_period,
    .on_config = s_on_config,
};
