/*  =========================================================================
    wp_resource - the resource manager core: parses what Linux says about
    memory and CPU, tracks the models this service holds warm, and decides
    whether a warmup may start.

    Plain C, no I/O: the actor reads /proc/meminfo, /proc/stat,
    /proc/self/cgroup and the cgroup v2 memory.max / memory.current files,
    hands their text to the parsers here, and passes the numbers on to
    wp_resource_admit. Parsers take NUL-terminated text (the whole file as
    read) and return 0 on success or -1 on malformed input, leaving their
    outputs untouched on error; they never read past the terminating NUL.

    The warm set is keyed by model name (names are copied). It is bounded:
    at most WP_RESOURCE_MAX_MODELS models, names of at most
    WP_RESOURCE_NAME_MAX bytes. Each warm model holds RAM and, when it
    loads onto a GPU, VRAM on its device (wp_resource_model_place).

    Memory as measured: the devices (RAM and each GPU) as the resource
    manager last read them (wp_resource_set_devices) bound what may start
    besides the budgets: a warm onto a device starts only if, after it,
    the device keeps its reserve free, counting the warms that started
    after the device was read (wp_resource_check_on).
    =========================================================================
*/

#ifndef WP_RESOURCE_H_INCLUDED
#define WP_RESOURCE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Most models the warm set holds; further warm calls fail.
#define WP_RESOURCE_MAX_MODELS 4096

//  Longest model name, bytes (without the terminating NUL).
#define WP_RESOURCE_NAME_MAX 255

//  memory.max value "max": the cgroup has no memory limit.
#define WP_RESOURCE_NO_LIMIT UINT64_MAX

//  Pass as mem_available_mb to wp_resource_admit when it is not known.
#define WP_RESOURCE_UNKNOWN_MB UINT64_MAX

//  Most GPUs read, and GPU processes listed per reading.
#define WP_RESOURCE_GPUS_MAX 32
#define WP_RESOURCE_APPS_MAX 256

//  One GPU as nvidia-smi or NVML reports it.
typedef struct {
    uint32_t index;             //  the driver's index (nvidia-smi -i)
    char uuid [80];             //  "GPU-8f6c...", to match processes
    char name [64];             //  product name
    uint64_t total_mb;          //  memory.total, MiB
    uint64_t used_mb;           //  memory.used, MiB
} wp_gpu_t;

//  One process holding GPU memory.
typedef struct {
    uint32_t gpu;               //  index of its GPU
    uint32_t pid;
    uint64_t used_mb;           //  WP_RESOURCE_UNKNOWN_MB when not reported
} wp_gpu_app_t;

typedef struct _wp_resource_t wp_resource_t;

//  Cumulative CPU time of all CPUs, from the "cpu " line of /proc/stat, in
//  USER_HZ ticks. guest and guest_nice are already part of user and nice.
typedef struct {
    uint64_t user;      // normal processes in user mode
    uint64_t nice;      // niced processes in user mode
    uint64_t system;    // kernel mode
    uint64_t idle;      // idle
    uint64_t iowait;    // idle while waiting for I/O (counted as idle)
    uint64_t irq;       // servicing hardware interrupts
    uint64_t softirq;   // servicing soft interrupts
    uint64_t steal;     // taken by the hypervisor for other guests
} wp_cpu_times_t;

//  Parse /proc/meminfo: sets *total_mb and *available_mb (MemTotal and
//  MemAvailable, KiB in the file, MiB out, rounded down). A missing
//  MemTotal or MemAvailable line, or a value that is not a decimal
//  number, is -1. Either output pointer may be NULL.
int
    wp_resource_parse_meminfo (const char *text, uint64_t *total_mb,
                               uint64_t *available_mb);

//  Parse /proc/stat: fills *times from the aggregate "cpu " line (user nice
//  system idle are required; iowait irq softirq steal default to 0 on old
//  kernels; guest fields are ignored) and sets *ncpu to the number of
//  "cpuN" lines. No "cpu " line, a bad number or no "cpuN" line is -1.
//  ncpu may be NULL.
int
    wp_resource_parse_stat (const char *text, wp_cpu_times_t *times,
                            uint32_t *ncpu);

//  Parse /proc/self/cgroup: copies the cgroup v2 path of the "0::/path"
//  line into path (capacity bytes including the NUL). No such line, a path
//  not starting with '/', or a path that does not fit is -1.
int
    wp_resource_parse_cgroup (const char *text, char *path, size_t capacity);

//  Parse a cgroup v2 memory.max file: sets *limit_bytes to the limit, or to
//  WP_RESOURCE_NO_LIMIT for "max". Anything else is -1.
int
    wp_resource_parse_memory_max (const char *text, uint64_t *limit_bytes);

//  Parse a cgroup v2 memory.current file: sets *usage_bytes. Anything but
//  one decimal number (and an optional newline) is -1.
int
    wp_resource_parse_memory_current (const char *text, uint64_t *usage_bytes);

//  Parse /proc/PID/status: sets *rss_kb from its VmRSS line (KiB). No
//  such line (a kernel thread, a zombie) or a bad number is -1.
int
    wp_resource_parse_status_rss (const char *text, uint64_t *rss_kb);

//  Parse the output of `nvidia-smi --query-gpu=index,uuid,name,memory.total,
//  memory.used --format=csv,noheader,nounits`: one "index, uuid, name,
//  total, used" line (MiB) per GPU (the name may hold commas). Fills at
//  most capacity GPUs and sets *n. No line, more than capacity, or a line
//  that does not parse is -1.
int
    wp_resource_parse_gpus (const char *text, wp_gpu_t *gpus, size_t capacity,
                            size_t *n);

//  Parse the output of `nvidia-smi --query-compute-apps=gpu_uuid,pid,
//  used_memory --format=csv,noheader,nounits`: one "uuid, pid, used" line
//  per process, matched to gpus by uuid. A used memory the driver does not
//  report ("[N/A]", "[Not Supported]") is WP_RESOURCE_UNKNOWN_MB. Lines
//  naming no GPU of gpus, and a "No running processes found" line, are
//  skipped. Fills at most capacity processes and sets *n. A line that
//  does not parse, or more than capacity, is -1.
int
    wp_resource_parse_gpu_apps (const char *text, const wp_gpu_t *gpus, size_t n_gpus,
                                wp_gpu_app_t *apps, size_t capacity, size_t *n);

//  What a device leaves to our models: total - reserve - others, where
//  others = used - ours (not below 0); 0 when that is negative.
uint64_t
    wp_resource_capacity_mb (uint64_t total_mb, uint64_t used_mb, uint64_t ours_mb,
                             uint64_t reserve_mb);

//  Busy share of all CPUs between two samples, 0..100: the delta of
//  user+nice+system+irq+softirq+steal over the delta of all eight fields.
//  0 when no time passed. A field that went backwards counts as 0.
double
    wp_resource_cpu_percent (const wp_cpu_times_t *before,
                             const wp_cpu_times_t *after);

//  Create a resource manager. budget_mb is the memory the warm models may
//  hold in total (0 = unbounded); max_cpu_percent is the CPU load above
//  which no warmup starts (0 = no CPU limit). Returns NULL when out of
//  memory or when max_cpu_percent is negative or not a number.
wp_resource_t *
    wp_resource_new (uint64_t budget_mb, double max_cpu_percent);

//  Destroy the resource manager and its warm set; nulls *self_p. Safe on
//  NULL.
void
    wp_resource_destroy (wp_resource_t **self_p);

//  Record that model is warm and holds memory_mb (in RAM). Warming a warm
//  model replaces its memory. The name is copied. Returns 0, or -1 when
//  the name is empty or too long, or the warm set is full.
int
    wp_resource_model_warm (wp_resource_t *self, const char *model,
                            uint32_t memory_mb);

//  Record that model is warm (or loading) and holds memory_mb in all,
//  vram_mb of it on device (a WP_DEVICE_* of wp_config.h; the rest in
//  RAM). since_ms (wall clock): a device reading that started at or
//  before it may not hold the model yet (its load ended then; UINT64_MAX
//  while it loads, 0 for one known to be in every reading). As
//  wp_resource_model_warm otherwise.
int
    wp_resource_model_place (wp_resource_t *self, const char *model,
                             uint32_t memory_mb, uint32_t vram_mb, uint32_t device,
                             uint64_t since_ms);

//  VRAM the warm models hold on device (WP_DEVICE_GPU: on any GPU), MiB.
uint64_t
    wp_resource_warm_vram_mb (wp_resource_t *self, uint32_t device);

//  Record that model was unloaded. Returns 0, or -1 when it was not warm
//  (nothing changes).
int
    wp_resource_model_cool (wp_resource_t *self, const char *model);

//  True when model is in the warm set.
bool
    wp_resource_is_warm (wp_resource_t *self, const char *model);

//  Number of models in the warm set.
size_t
    wp_resource_warm_count (wp_resource_t *self);

//  Memory the warm models hold in total, MiB.
uint64_t
    wp_resource_warm_memory_mb (wp_resource_t *self);

//  Change the memory budget (MiB, 0 = unbounded) and the CPU limit at run
//  time (a reload).
void
    wp_resource_set_limits (wp_resource_t *self, uint64_t budget_mb,
                            double max_cpu_percent);

//  The budget (wp_resource_new or wp_resource_set_limits), MiB (0 =
//  unbounded).
uint64_t
    wp_resource_budget_mb (wp_resource_t *self);

//  May a warmup needing memory_mb_needed start now? False when the warm
//  memory plus the need exceeds the budget, when cpu_percent exceeds
//  max_cpu_percent (or is not a number), when mem_available_mb is less than
//  the need, or when the cgroup (cgroup_limit_mb != 0, 0 = no limit) has
//  less than the need left above cgroup_usage_mb. Pass
//  WP_RESOURCE_UNKNOWN_MB as mem_available_mb when it is not known.
bool
    wp_resource_admit (wp_resource_t *self, uint64_t memory_mb_needed,
                       double cpu_percent, uint64_t mem_available_mb,
                       uint64_t cgroup_limit_mb, uint64_t cgroup_usage_mb);

//  Remember the latest machine sample, for wp_resource_admit_background.
//  Arguments as for wp_resource_admit.
void
    wp_resource_set_sample (wp_resource_t *self, double cpu_percent,
                            uint64_t mem_available_mb, uint64_t cgroup_limit_mb,
                            uint64_t cgroup_usage_mb);

//  Why a warmup may not start (wp_resource_check).
typedef enum {
    WP_RESOURCE_ADMIT = 0,      //  it may start
    WP_RESOURCE_OVER_BUDGET,    //  warm memory + need > budget
    WP_RESOURCE_CPU_BUSY,       //  background only: CPU above max_cpu_percent
    WP_RESOURCE_LOW_MEMORY,     //  MemAvailable below the need
    WP_RESOURCE_CGROUP_FULL,    //  the cgroup's headroom below the need
    WP_RESOURCE_OVER_VRAM_BUDGET,   //  warm VRAM + need > the GPU budget
    WP_RESOURCE_DEVICE_FULL     //  the GPU would keep less than its reserve free
} wp_resource_verdict_t;

//  May a warmup needing memory_mb start, judged on the last sample? The
//  budget applies to every warmup; the CPU limit only to background ones
//  (an operator's warm is not throttled); system and cgroup memory when
//  a sample is known (without one only the budget is checked, so a queue
//  running without a resource manager is not blocked).
wp_resource_verdict_t
    wp_resource_check (wp_resource_t *self, uint64_t memory_mb, bool background);

//  Change the GPU budget (MiB, 0 = none) without a device reading.
void
    wp_resource_set_vram_budget (wp_resource_t *self, uint64_t vram_budget_mb);

//  Why a verdict refused, with the numbers of the last sample, e.g.
//  "cpu 85% > 30%", into out (capacity bytes). "" for WP_RESOURCE_ADMIT.
void
    wp_resource_verdict_text (wp_resource_t *self, wp_resource_verdict_t verdict,
                              uint64_t memory_mb, char *out, size_t capacity);

//  Forget the last sample (it became too old to judge by), devices too.
void
    wp_resource_clear_sample (wp_resource_t *self);

//  A device as the resource manager read it (ResourceStatus.devices).
typedef struct {
    int index;                  //  GPU index, -1 for RAM
    bool managed;               //  a GPU this service uses (gpus)
    uint64_t total_mb;
    uint64_t used_mb;
    uint64_t reserved_mb;       //  to keep free on it
    uint64_t sampled_ms;        //  when its reading started (wall clock)
} wp_resource_device_t;

//  The devices of the last resource.status (copied; at most
//  WP_RESOURCE_GPUS_MAX + 1), and the GPU budget in force (0 = none).
void
    wp_resource_set_devices (wp_resource_t *self, const wp_resource_device_t *devices,
                             size_t n, uint64_t vram_budget_mb);

//  May a warm of a model needing memory_mb in all, vram_mb of it on
//  device, start now (now_ms, wall clock)? wp_resource_check's axes for
//  its RAM part, then the GPU budget, then the device: the GPU (all the
//  managed GPUs for WP_DEVICE_GPU) must keep its reserve free after it,
//  counting the VRAM of warms placed since it was read. Without a device
//  reading, only the budgets apply.
wp_resource_verdict_t
    wp_resource_check_on (wp_resource_t *self, uint32_t memory_mb, uint32_t vram_mb,
                          uint32_t device, bool background, uint64_t now_ms);

//  As wp_resource_verdict_text, for wp_resource_check_on's verdicts.
void
    wp_resource_verdict_text_on (wp_resource_t *self, wp_resource_verdict_t verdict,
                                 uint32_t memory_mb, uint32_t vram_mb, uint32_t device,
                                 char *out, size_t capacity);

//  May background warmups start, judged on the last sample? True when
//  wp_resource_admit would admit a 1 MiB warmup, i.e. there is headroom on
//  every axis. False before the first sample.
bool
    wp_resource_admit_background (wp_resource_t *self);

#ifdef __cplusplus
}
#endif

#endif
