/*  =========================================================================
    wp_resource - the resource manager core: /proc and cgroup v2 parsers,
    the warm set and the admission decision.

    The parsers are hand-written over NUL-terminated text rather than
    sscanf/strtoull: those accept signs and leading blanks and overflow
    silently, and a file read while it changes may be cut anywhere. Every
    number is unsigned decimal, checked for overflow.
    =========================================================================
*/

#include "wp_resource.h"
#include "wp_config.h"
#include <czmq.h>
#include <math.h>

//  One warm model: what it holds where.
typedef struct {
    uint64_t ram_mb;            // in RAM
    uint64_t vram_mb;           // on its GPU device
    uint32_t device;            // WP_DEVICE_*
    uint64_t since_ms;          // a device reading started at or before this
                                // may not hold it (UINT64_MAX: it loads now)
} held_t;

//  Structure of our class

struct _wp_resource_t {
    zhashx_t *models;           // model name -> held_t
    uint64_t budget_mb;         // memory the warm models may hold, 0 = unbounded
    double max_cpu_percent;     // CPU load above which nothing starts, 0 = none
    uint64_t warm_memory_mb;    // sum of the warm models' RAM, MiB
    uint64_t warm_vram_mb;      // sum of their VRAM, MiB
    bool have_sample;           // wp_resource_set_sample was called
    double cpu_percent;         // last sample: busy share of all CPUs
    uint64_t mem_available_mb;  // last sample: MemAvailable, MiB
    uint64_t cgroup_limit_mb;   // last sample: memory.max, MiB (0 = no limit)
    uint64_t cgroup_usage_mb;   // last sample: memory.current, MiB
    //  The devices of the last resource.status (wp_resource_set_devices)
    wp_resource_device_t devices [WP_RESOURCE_GPUS_MAX + 1];
    size_t n_devices;
    uint64_t ram_reserve_mb;    // the RAM device's reserve (0 without devices)
    uint64_t vram_budget_mb;    // the GPU budget in force, 0 = none
};

//  Parse unsigned decimal digits at *p_p and move past them; -1 if none or overflow.

static int
s_parse_u64 (const char **p_p, uint64_t *value)
{
    const char *p = *p_p;
    if (*p < '0' || *p > '9')
        return -1;
    uint64_t result = 0;
    while (*p >= '0' && *p <= '9') {
        uint64_t digit = (uint64_t) (*p - '0');
        if (result > (UINT64_MAX - digit) / 10)
            return -1;
        result = result * 10 + digit;
        p++;
    }
    *p_p = p;
    *value = result;
    return 0;
}

//  Skip blanks (spaces and tabs), not newlines.

static const char *
s_skip_blanks (const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

//  True at the end of a line or of the text.

static bool
s_at_eol (const char *p)
{
    return *p == '\n' || *p == '\0';
}

//  The text after prefix on the first line starting with it, or NULL.

static const char *
s_find_line (const char *text, const char *prefix)
{
    size_t length = strlen (prefix);
    const char *line = text;
    while (*line) {
        if (strncmp (line, prefix, length) == 0)
            return line + length;
        const char *eol = strchr (line, '\n');
        if (!eol)
            break;
        line = eol + 1;
    }
    return NULL;
}

//  Parse one "Key:   <n> kB" value of /proc/meminfo. Returns 0 or -1.

static int
s_meminfo_kib (const char *text, const char *key, uint64_t *kib)
{
    const char *p = s_find_line (text, key);
    if (!p)
        return -1;
    p = s_skip_blanks (p);
    uint64_t value;
    if (s_parse_u64 (&p, &value))
        return -1;
    p = s_skip_blanks (p);
    if (strncmp (p, "kB", 2) != 0)
        return -1;
    p = s_skip_blanks (p + 2);
    if (!s_at_eol (p))
        return -1;
    *kib = value;
    return 0;
}

//  Parse /proc/meminfo into MemTotal and MemAvailable, MiB.

int
wp_resource_parse_meminfo (const char *text, uint64_t *total_mb,
                           uint64_t *available_mb)
{
    if (!text)
        return -1;
    uint64_t total_kib, available_kib;
    if (s_meminfo_kib (text, "MemTotal:", &total_kib)
    ||  s_meminfo_kib (text, "MemAvailable:", &available_kib))
        return -1;
    if (total_mb)
        *total_mb = total_kib / 1024;
    if (available_mb)
        *available_mb = available_kib / 1024;
    return 0;
}

//  Parse /proc/stat: the aggregate cpu times and the number of CPUs.

int
wp_resource_parse_stat (const char *text, wp_cpu_times_t *times,
                        uint32_t *ncpu)
{
    assert (times);
    if (!text)
        return -1;
    const char *p = s_find_line (text, "cpu ");
    if (!p)
        return -1;
    uint64_t field [8] = { 0 };
    size_t fields = 0;
    while (fields < 8) {
        p = s_skip_blanks (p);
        if (s_at_eol (p))
            break;
        if (s_parse_u64 (&p, &field [fields]))
            return -1;
        if (*p != ' ' && *p != '\t' && !s_at_eol (p))
            return -1;          // e.g. "12x"
        fields++;
    }
    if (fields < 4)
        return -1;
    //  guest and guest_nice: must still be numbers, their values are unused
    while (!s_at_eol (p)) {
        if (*p != ' ' && *p != '\t' && (*p < '0' || *p > '9'))
            return -1;
        p++;
    }
    uint32_t count = 0;
    const char *line = text;
    while (*line) {
        if (strncmp (line, "cpu", 3) == 0 && line [3] >= '0' && line [3] <= '9'
        &&  count < UINT32_MAX)
            count++;
        const char *eol = strchr (line, '\n');
        if (!eol)
            break;
        line = eol + 1;
    }
    if (count == 0)
        return -1;
    times->user = field [0];
    times->nice = field [1];
    times->system = field [2];
    times->idle = field [3];
    times->iowait = field [4];
    times->irq = field [5];
    times->softirq = field [6];
    times->steal = field [7];
    if (ncpu)
        *ncpu = count;
    return 0;
}

//  Parse /proc/self/cgroup: the cgroup v2 path of the "0::" line.

int
wp_resource_parse_cgroup (const char *text, char *path, size_t capacity)
{
    assert (path);
    if (!text)
        return -1;
    const char *start = s_find_line (text, "0::");
    if (!start || *start != '/')
        return -1;
    const char *end = start;
    while (!s_at_eol (end))
        end++;
    size_t length = (size_t) (end - start);
    if (length >= capacity)
        return -1;
    memcpy (path, start, length);
    path [length] = '\0';
    return 0;
}

//  Parse a whole file holding one number and an optional newline.

static int
s_parse_number_file (const char *text, uint64_t *value)
{
    const char *p = text;
    uint64_t result;
    if (s_parse_u64 (&p, &result))
        return -1;
    if (*p == '\n')
        p++;
    if (*p != '\0')
        return -1;
    *value = result;
    return 0;
}

//  Parse a cgroup v2 memory.max file.

int
wp_resource_parse_memory_max (const char *text, uint64_t *limit_bytes)
{
    assert (limit_bytes);
    if (!text)
        return -1;
    if (streq (text, "max") || streq (text, "max\n")) {
        *limit_bytes = WP_RESOURCE_NO_LIMIT;
        return 0;
    }
    return s_parse_number_file (text, limit_bytes);
}

//  Parse a cgroup v2 memory.current file.

int
wp_resource_parse_memory_current (const char *text, uint64_t *usage_bytes)
{
    assert (usage_bytes);
    if (!text)
        return -1;
    return s_parse_number_file (text, usage_bytes);
}

//  Parse /proc/PID/status for VmRSS.

int
wp_resource_parse_status_rss (const char *text, uint64_t *rss_kb)
{
    assert (rss_kb);
    if (!text)
        return -1;
    return s_meminfo_kib (text, "VmRSS:", rss_kb);
}

//  Copy the field [start, end) of a line, trimmed, into out; -1 if it
//  does not fit.

static int
s_field (const char *start, const char *end, char *out, size_t size)
{
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end [-1] == ' ' || end [-1] == '\t' || end [-1] == '\r'))
        end--;
    if ((size_t) (end - start) >= size)
        return -1;
    memcpy (out, start, (size_t) (end - start));
    out [end - start] = 0;
    return 0;
}

//  Parse a whole field as an unsigned decimal; -1 if it is not one.

static int
s_field_u64 (const char *start, const char *end, uint64_t *value)
{
    char text [32];
    if (s_field (start, end, text, sizeof text) || !*text)
        return -1;
    const char *p = text;
    if (s_parse_u64 (&p, value) || *p)
        return -1;
    return 0;
}

//  The end of the line at p (its newline or NUL).

static const char *
s_eol (const char *p)
{
    const char *eol = strchr (p, '\n');
    return eol ? eol : p + strlen (p);
}

//  True for a line of blanks (ending at eol).

static bool
s_blank_line (const char *line, const char *eol)
{
    const char *p = s_skip_blanks (line);
    return p == eol || (*p == '\r' && p + 1 == eol);
}

//  Parse nvidia-smi's GPU lines: index, uuid, name, total, used.

int
wp_resource_parse_gpus (const char *text, wp_gpu_t *gpus, size_t capacity, size_t *n)
{
    if (!text || !gpus || !n)
        return -1;
    size_t count = 0;
    const char *line = text;
    while (*line) {
        const char *eol = s_eol (line);
        if (s_blank_line (line, eol)) {
            line = *eol ? eol + 1 : eol;
            continue;
        }
        if (count == capacity)
            return -1;
        //  index, uuid from the left; used, total from the right; the
        //  name is what is between (a product name may hold a comma)
        const char *c1 = memchr (line, ',', (size_t) (eol - line));
        const char *c2 = c1 ? memchr (c1 + 1, ',', (size_t) (eol - c1 - 1)) : NULL;
        const char *c4 = NULL, *c3 = NULL;
        for (const char *q = eol; q > line; q--)
            if (q [-1] == ',') {
                if (!c4)
                    c4 = q - 1;
                else {
                    c3 = q - 1;
                    break;
                }
            }
        wp_gpu_t *gpu = &gpus [count];
        uint64_t index;
        if (!c1 || !c2 || !c3 || !c4 || c3 < c2
            || s_field_u64 (line, c1, &index) || index >= WP_RESOURCE_GPUS_MAX
            || s_field (c1 + 1, c2, gpu->uuid, sizeof gpu->uuid) || !*gpu->uuid
            || s_field (c2 + 1, c3 > c2 ? c3 : c2 + 1, gpu->name, sizeof gpu->name)
            || s_field_u64 (c3 + 1, c4, &gpu->total_mb)
            || s_field_u64 (c4 + 1, eol, &gpu->used_mb))
            return -1;
        gpu->index = (uint32_t) index;
        count++;
        line = *eol ? eol + 1 : eol;
    }
    if (!count)
        return -1;
    *n = count;
    return 0;
}

//  Parse nvidia-smi's compute processes: uuid, pid, used memory.

int
wp_resource_parse_gpu_apps (const char *text, const wp_gpu_t *gpus, size_t n_gpus,
                            wp_gpu_app_t *apps, size_t capacity, size_t *n)
{
    if (!text || !n || (n_gpus && !gpus))
        return -1;
    size_t count = 0;
    const char *line = text;
    while (*line) {
        const char *eol = s_eol (line);
        if (s_blank_line (line, eol)
            || strncmp (s_skip_blanks (line), "No running processes found", 26) == 0) {
            line = *eol ? eol + 1 : eol;
            continue;
        }
        const char *c1 = memchr (line, ',', (size_t) (eol - line));
        const char *c2 = c1 ? memchr (c1 + 1, ',', (size_t) (eol - c1 - 1)) : NULL;
        char uuid [80], used [32];
        uint64_t pid;
        if (!c1 || !c2 || s_field (line, c1, uuid, sizeof uuid)
            || s_field_u64 (c1 + 1, c2, &pid) || pid == 0 || pid > UINT32_MAX
            || s_field (c2 + 1, eol, used, sizeof used))
            return -1;
        uint64_t used_mb = WP_RESOURCE_UNKNOWN_MB;
        if (*used != '[' && s_field_u64 (c2 + 1, eol, &used_mb))
            return -1;
        const wp_gpu_t *gpu = NULL;
        for (size_t i = 0; i < n_gpus && !gpu; i++)
            if (streq (gpus [i].uuid, uuid))
                gpu = &gpus [i];
        if (gpu) {
            if (count == capacity || !apps)
                return -1;
            apps [count].gpu = gpu->index;
            apps [count].pid = (uint32_t) pid;
            apps [count].used_mb = used_mb;
            count++;
        }
        line = *eol ? eol + 1 : eol;
    }
    *n = count;
    return 0;
}

//  What a device leaves to our models.

uint64_t
wp_resource_capacity_mb (uint64_t total_mb, uint64_t used_mb, uint64_t ours_mb,
                         uint64_t reserve_mb)
{
    uint64_t others = used_mb > ours_mb ? used_mb - ours_mb : 0;
    uint64_t taken = others > UINT64_MAX - reserve_mb ? UINT64_MAX : others + reserve_mb;
    return total_mb > taken ? total_mb - taken : 0;
}

//  Difference after - before, 0 when the counter went backwards.

static uint64_t
s_delta (uint64_t before, uint64_t after)
{
    return after > before ? after - before : 0;
}

//  Busy share of all CPUs between two samples, 0..100.

double
wp_resource_cpu_percent (const wp_cpu_times_t *before,
                         const wp_cpu_times_t *after)
{
    assert (before);
    assert (after);
    //  Per-field deltas in double: no overflow however large the counters
    double busy = (double) s_delta (before->user, after->user)
                + (double) s_delta (before->nice, after->nice)
                + (double) s_delta (before->system, after->system)
                + (double) s_delta (before->irq, after->irq)
                + (double) s_delta (before->softirq, after->softirq)
                + (double) s_delta (before->steal, after->steal);
    double idle = (double) s_delta (before->idle, after->idle)
                + (double) s_delta (before->iowait, after->iowait);
    double total = busy + idle;
    if (total <= 0)
        return 0;
    return busy / total * 100.0;
}

//  Free a warm-set item (zhashx destructor).

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

//  Create a resource manager.

wp_resource_t *
wp_resource_new (uint64_t budget_mb, double max_cpu_percent)
{
    if (isnan (max_cpu_percent) || max_cpu_percent < 0)
        return NULL;
    wp_resource_t *self = (wp_resource_t *) calloc (1, sizeof (wp_resource_t));
    if (!self)
        return NULL;
    self->models = zhashx_new ();
    if (!self->models) {
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->models, s_free_item);
    self->budget_mb = budget_mb;
    self->max_cpu_percent = max_cpu_percent;
    return self;
}

//  Destroy the resource manager.

void
wp_resource_destroy (wp_resource_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        wp_resource_t *self = *self_p;
        zhashx_destroy (&self->models);
        free (self);
        *self_p = NULL;
    }
}

//  True when name is a usable model name.

static bool
s_valid_name (const char *model)
{
    if (!model || !*model)
        return false;
    return strnlen (model, WP_RESOURCE_NAME_MAX + 1) <= WP_RESOURCE_NAME_MAX;
}

//  Record that model is warm and holds memory_mb.

int
wp_resource_model_warm (wp_resource_t *self, const char *model,
                        uint32_t memory_mb)
{
    return wp_resource_model_place (self, model, memory_mb, 0, WP_DEVICE_CPU, 0);
}

//  Record that model is warm (or loading) and what it holds where.

int
wp_resource_model_place (wp_resource_t *self, const char *model, uint32_t memory_mb,
                         uint32_t vram_mb, uint32_t device, uint64_t since_ms)
{
    assert (self);
    if (!s_valid_name (model))
        return -1;
    if (vram_mb > memory_mb)
        vram_mb = memory_mb;
    held_t *held = (held_t *) zhashx_lookup (self->models, model);
    if (!held) {
        if (zhashx_size (self->models) >= WP_RESOURCE_MAX_MODELS)
            return -1;
        held = (held_t *) calloc (1, sizeof (held_t));
        if (!held)
            return -1;
        //  Cannot fail: the key is not there. At most 4096 x 2^32 MiB in
        //  total, so the sums cannot overflow.
        zhashx_insert (self->models, model, held);
    }
    self->warm_memory_mb -= held->ram_mb;
    self->warm_vram_mb -= held->vram_mb;
    held->ram_mb = memory_mb - vram_mb;
    held->vram_mb = vram_mb;
    held->device = vram_mb ? device : WP_DEVICE_CPU;
    held->since_ms = since_ms;
    self->warm_memory_mb += held->ram_mb;
    self->warm_vram_mb += held->vram_mb;
    return 0;
}

//  VRAM the warm models hold on a device.

uint64_t
wp_resource_warm_vram_mb (wp_resource_t *self, uint32_t device)
{
    assert (self);
    if (device == WP_DEVICE_GPU)
        return self->warm_vram_mb;
    uint64_t sum = 0;
    for (held_t *held = (held_t *) zhashx_first (self->models); held;
         held = (held_t *) zhashx_next (self->models))
        if (held->device == device)
            sum += held->vram_mb;
    return sum;
}

//  Record that model was unloaded.

int
wp_resource_model_cool (wp_resource_t *self, const char *model)
{
    assert (self);
    if (!model)
        return -1;
    held_t *held = (held_t *) zhashx_lookup (self->models, model);
    if (!held)
        return -1;
    self->warm_memory_mb -= held->ram_mb;
    self->warm_vram_mb -= held->vram_mb;
    zhashx_delete (self->models, model);
    return 0;
}

//  True when model is in the warm set.

bool
wp_resource_is_warm (wp_resource_t *self, const char *model)
{
    assert (self);
    return model && zhashx_lookup (self->models, model) != NULL;
}

//  Number of models in the warm set.

size_t
wp_resource_warm_count (wp_resource_t *self)
{
    assert (self);
    return zhashx_size (self->models);
}

//  Memory the warm models hold in total, MiB.

uint64_t
wp_resource_warm_memory_mb (wp_resource_t *self)
{
    assert (self);
    return self->warm_memory_mb;
}

//  Change the limits.
void
wp_resource_set_limits (wp_resource_t *self, uint64_t budget_mb, double max_cpu_percent)
{
    assert (self);
    self->budget_mb = budget_mb;
    if (!isnan (max_cpu_percent) && max_cpu_percent >= 0)
        self->max_cpu_percent = max_cpu_percent;
}

//  The memory budget, MiB (0 = unbounded).

uint64_t
wp_resource_budget_mb (wp_resource_t *self)
{
    assert (self);
    return self->budget_mb;
}

//  May a warmup needing memory_mb_needed start now?

bool
wp_resource_admit (wp_resource_t *self, uint64_t memory_mb_needed,
                   double cpu_percent, uint64_t mem_available_mb,
                   uint64_t cgroup_limit_mb, uint64_t cgroup_usage_mb)
{
    assert (self);
    //  Written as subtractions so that no sum can overflow
    if (self->budget_mb > 0
    &&  (self->warm_memory_mb > self->budget_mb
    ||   memory_mb_needed > self->budget_mb - self->warm_memory_mb))
        return false;
    if (isnan (cpu_percent))
        return false;
    if (self->max_cpu_percent > 0 && cpu_percent > self->max_cpu_percent)
        return false;
    if (mem_available_mb < memory_mb_needed)
        return false;
    if (cgroup_limit_mb > 0) {
        uint64_t headroom = cgroup_limit_mb > cgroup_usage_mb
                          ? cgroup_limit_mb - cgroup_usage_mb : 0;
        if (headroom < memory_mb_needed)
            return false;
    }
    return true;
}

//  Remember the latest machine sample.

void
wp_resource_set_sample (wp_resource_t *self, double cpu_percent,
                        uint64_t mem_available_mb, uint64_t cgroup_limit_mb,
                        uint64_t cgroup_usage_mb)
{
    assert (self);
    self->have_sample = true;
    self->cpu_percent = cpu_percent;
    self->mem_available_mb = mem_available_mb;
    self->cgroup_limit_mb = cgroup_limit_mb;
    self->cgroup_usage_mb = cgroup_usage_mb;
}

//  May background warmups start, judged on the last sample?

bool
wp_resource_admit_background (wp_resource_t *self)
{
    assert (self);
    if (!self->have_sample)
        return false;
    return wp_resource_admit (self, 1, self->cpu_percent,
                              self->mem_available_mb, self->cgroup_limit_mb,
                              self->cgroup_usage_mb);
}

//  May a warmup needing memory_mb start, judged on the last sample?

wp_resource_verdict_t
wp_resource_check (wp_resource_t *self, uint64_t memory_mb, bool background)
{
    assert (self);
    if (self->budget_mb > 0
    &&  (self->warm_memory_mb > self->budget_mb
    ||   memory_mb > self->budget_mb - self->warm_memory_mb))
        return WP_RESOURCE_OVER_BUDGET;
    if (!self->have_sample)
        return WP_RESOURCE_ADMIT;
    if (background && (isnan (self->cpu_percent)
    ||  (self->max_cpu_percent > 0 && self->cpu_percent > self->max_cpu_percent)))
        return WP_RESOURCE_CPU_BUSY;
    //  The RAM device's reserve stays free (with a device reading)
    if (self->mem_available_mb < memory_mb
        || self->mem_available_mb - memory_mb < self->ram_reserve_mb)
        return WP_RESOURCE_LOW_MEMORY;
    if (self->cgroup_limit_mb > 0) {
        uint64_t headroom = self->cgroup_limit_mb > self->cgroup_usage_mb
                          ? self->cgroup_limit_mb - self->cgroup_usage_mb : 0;
        if (headroom < memory_mb)
            return WP_RESOURCE_CGROUP_FULL;
    }
    return WP_RESOURCE_ADMIT;
}

//  The devices of the last resource.status.

void
wp_resource_set_devices (wp_resource_t *self, const wp_resource_device_t *devices,
                         size_t n, uint64_t vram_budget_mb)
{
    assert (self && (devices || !n));
    if (n > WP_RESOURCE_GPUS_MAX + 1)
        n = WP_RESOURCE_GPUS_MAX + 1;
    memcpy (self->devices, devices, n * sizeof *devices);
    self->n_devices = n;
    self->vram_budget_mb = vram_budget_mb;
    self->ram_reserve_mb = 0;
    for (size_t i = 0; i < n; i++)
        if (devices [i].index < 0)
            self->ram_reserve_mb = devices [i].reserved_mb;
}

//  Change the GPU budget.

void
wp_resource_set_vram_budget (wp_resource_t *self, uint64_t vram_budget_mb)
{
    assert (self);
    self->vram_budget_mb = vram_budget_mb;
}

//  What the GPUs of device have free after their reserve, as read, less
//  the VRAM of warms placed since they were read; false without a
//  reading of them.

static bool
s_device_free (wp_resource_t *self, uint32_t device, int64_t *free_mb,
               uint64_t *total_mb, uint64_t *used_mb, uint64_t *reserved_mb,
               uint64_t *since_mb)
{
    int index = WP_DEVICE_INDEX (device);
    int64_t free = 0;
    uint64_t total = 0, used = 0, reserved = 0, oldest = UINT64_MAX;
    bool any = false;
    for (size_t i = 0; i < self->n_devices; i++) {
        const wp_resource_device_t *d = &self->devices [i];
        if (d->index < 0 || (index >= 0 ? d->index != index : !d->managed))
            continue;
        any = true;
        free += (int64_t) d->total_mb - (int64_t) d->used_mb - (int64_t) d->reserved_mb;
        total += d->total_mb;
        used += d->used_mb;
        reserved += d->reserved_mb;
        oldest = d->sampled_ms < oldest ? d->sampled_ms : oldest;
    }
    if (!any)
        return false;
    //  Loads running, or ended after the reading started, may not be in
    //  it: count them whole.
    uint64_t since = 0;
    for (held_t *held = (held_t *) zhashx_first (self->models); held;
         held = (held_t *) zhashx_next (self->models))
        if (held->vram_mb && held->since_ms && held->since_ms >= oldest
            && (index < 0 || held->device == device))
            since += held->vram_mb;
    *free_mb = free - (int64_t) since;
    *total_mb = total;
    *used_mb = used;
    *reserved_mb = reserved;
    *since_mb = since;
    return true;
}

//  May a warm onto a device start now?

wp_resource_verdict_t
wp_resource_check_on (wp_resource_t *self, uint32_t memory_mb, uint32_t vram_mb,
                      uint32_t device, bool background, uint64_t now_ms)
{
    assert (self);
    (void) now_ms;
    if (vram_mb > memory_mb)
        vram_mb = memory_mb;
    wp_resource_verdict_t verdict = wp_resource_check (self, memory_mb - vram_mb, background);
    if (verdict != WP_RESOURCE_ADMIT || !vram_mb)
        return verdict;
    if (self->vram_budget_mb
        && (self->warm_vram_mb > self->vram_budget_mb
            || vram_mb > self->vram_budget_mb - self->warm_vram_mb))
        return WP_RESOURCE_OVER_VRAM_BUDGET;
    int64_t free;
    uint64_t total, used, reserved, since;
    if (s_device_free (self, device, &free, &total, &used, &reserved, &since)
        && free < (int64_t) vram_mb)
        return WP_RESOURCE_DEVICE_FULL;
    return WP_RESOURCE_ADMIT;
}

//  Why a verdict of wp_resource_check_on refused.

void
wp_resource_verdict_text_on (wp_resource_t *self, wp_resource_verdict_t verdict,
                             uint32_t memory_mb, uint32_t vram_mb, uint32_t device,
                             char *out, size_t capacity)
{
    assert (self && out && capacity);
    if (vram_mb > memory_mb)
        vram_mb = memory_mb;
    char name [16];
    int64_t free;
    uint64_t total = 0, used = 0, reserved = 0, since = 0;
    switch (verdict) {
        case WP_RESOURCE_OVER_VRAM_BUDGET:
            snprintf (out, capacity, "needs %u MiB of GPU memory, %" PRIu64 " of %" PRIu64
                      " MiB GPU budget in use", vram_mb, self->warm_vram_mb,
                      self->vram_budget_mb);
            break;
        case WP_RESOURCE_DEVICE_FULL:
            s_device_free (self, device, &free, &total, &used, &reserved, &since);
            wp_device_name (device, name, sizeof name);
            if (since)
                snprintf (out, capacity, "needs %u MiB on %s: %" PRIu64 " of %" PRIu64
                          " MiB used, %" PRIu64 " reserved, %" PRIu64 " MiB loading since "
                          "read", vram_mb, name, used, total, reserved, since);
            else
                snprintf (out, capacity, "needs %u MiB on %s: %" PRIu64 " of %" PRIu64
                          " MiB used, %" PRIu64 " reserved", vram_mb, name, used, total,
                          reserved);
            break;
        default:
            wp_resource_verdict_text (self, verdict, memory_mb - vram_mb, out, capacity);
            break;
    }
}

//  Why a verdict refused.

void
wp_resource_verdict_text (wp_resource_t *self, wp_resource_verdict_t verdict,
                          uint64_t memory_mb, char *out, size_t capacity)
{
    assert (self && out && capacity);
    switch (verdict) {
        case WP_RESOURCE_ADMIT:
            *out = 0;
            break;
        case WP_RESOURCE_OVER_BUDGET:
            snprintf (out, capacity, "needs %" PRIu64 " MiB, %" PRIu64 " of %" PRIu64
                      " MiB budget in use", memory_mb, self->warm_memory_mb, self->budget_mb);
            break;
        case WP_RESOURCE_CPU_BUSY:
            snprintf (out, capacity, "cpu %.0f%% > %.0f%%", self->cpu_percent,
                      self->max_cpu_percent);
            break;
        case WP_RESOURCE_LOW_MEMORY:
            if (self->ram_reserve_mb)
                snprintf (out, capacity, "needs %" PRIu64 " MiB, %" PRIu64 " MiB available, "
                          "%" PRIu64 " reserved", memory_mb, self->mem_available_mb,
                          self->ram_reserve_mb);
            else
                snprintf (out, capacity, "needs %" PRIu64 " MiB, %" PRIu64 " MiB available",
                          memory_mb, self->mem_available_mb);
            break;
        case WP_RESOURCE_CGROUP_FULL:
            snprintf (out, capacity, "needs %" PRIu64 " MiB, cgroup at %" PRIu64 " of %"
                      PRIu64 " MiB", memory_mb, self->cgroup_usage_mb, self->cgroup_limit_mb);
            break;
        case WP_RESOURCE_OVER_VRAM_BUDGET:
        case WP_RESOURCE_DEVICE_FULL:
            wp_resource_verdict_text_on (self, verdict, (uint32_t) memory_mb,
                                         (uint32_t) memory_mb, WP_DEVICE_GPU, out, capacity);
            break;
    }
}

//  Forget the last sample.

void
wp_resource_clear_sample (wp_resource_t *self)
{
    assert (self);
    self->have_sample = false;
    self->n_devices = 0;
    self->ram_reserve_mb = 0;
}
