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
#include <czmq.h>
#include <math.h>

//  Structure of our class

struct _wp_resource_t {
    zhashx_t *models;           // model name -> uint64_t memory_mb it holds
    uint64_t budget_mb;         // memory the warm models may hold, 0 = unbounded
    double max_cpu_percent;     // CPU load above which nothing starts, 0 = none
    uint64_t warm_memory_mb;    // sum of the warm models' memory, MiB
    bool have_sample;           // wp_resource_set_sample was called
    double cpu_percent;         // last sample: busy share of all CPUs
    uint64_t mem_available_mb;  // last sample: MemAvailable, MiB
    uint64_t cgroup_limit_mb;   // last sample: memory.max, MiB (0 = no limit)
    uint64_t cgroup_usage_mb;   // last sample: memory.current, MiB
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

//  Parse nvidia-smi's memory query.

int
wp_resource_parse_nvidia_smi (const char *text, uint64_t *total_mb,
                              uint64_t *used_mb, uint32_t *gpus)
{
    if (!text)
        return -1;
    uint64_t total = 0, used = 0;
    uint32_t count = 0;
    const char *p = text;
    while (*p) {
        p = s_skip_blanks (p);
        if (*p == '\n') {
            p++;
            continue;
        }
        uint64_t line_total, line_used;
        if (s_parse_u64 (&p, &line_total))
            return -1;
        p = s_skip_blanks (p);
        if (*p++ != ',')
            return -1;
        p = s_skip_blanks (p);
        if (s_parse_u64 (&p, &line_used))
            return -1;
        p = s_skip_blanks (p);
        if (*p == '\r')
            p++;
        if (!s_at_eol (p))
            return -1;
        if (total > UINT64_MAX - line_total || used > UINT64_MAX - line_used)
            return -1;
        total += line_total;
        used += line_used;
        count++;
    }
    if (count == 0)
        return -1;
    if (total_mb)
        *total_mb = total;
    if (used_mb)
        *used_mb = used;
    if (gpus)
        *gpus = count;
    return 0;
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
    assert (self);
    if (!s_valid_name (model))
        return -1;
    uint64_t *held = (uint64_t *) zhashx_lookup (self->models, model);
    if (held) {
        self->warm_memory_mb -= *held;
        *held = memory_mb;
        self->warm_memory_mb += memory_mb;
        return 0;
    }
    if (zhashx_size (self->models) >= WP_RESOURCE_MAX_MODELS)
        return -1;
    held = (uint64_t *) malloc (sizeof (uint64_t));
    if (!held)
        return -1;
    *held = memory_mb;
    //  Cannot fail: the key is not there. At most 4096 x 2^32 MiB in total,
    //  so the sum cannot overflow.
    zhashx_insert (self->models, model, held);
    self->warm_memory_mb += memory_mb;
    return 0;
}

//  Record that model was unloaded.

int
wp_resource_model_cool (wp_resource_t *self, const char *model)
{
    assert (self);
    if (!model)
        return -1;
    uint64_t *held = (uint64_t *) zhashx_lookup (self->models, model);
    if (!held)
        return -1;
    self->warm_memory_mb -= *held;
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
    if (self->mem_available_mb < memory_mb)
        return WP_RESOURCE_LOW_MEMORY;
    if (self->cgroup_limit_mb > 0) {
        uint64_t headroom = self->cgroup_limit_mb > self->cgroup_usage_mb
                          ? self->cgroup_limit_mb - self->cgroup_usage_mb : 0;
        if (headroom < memory_mb)
            return WP_RESOURCE_CGROUP_FULL;
    }
    return WP_RESOURCE_ADMIT;
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
            snprintf (out, capacity, "needs %" PRIu64 " MiB, %" PRIu64 " MiB available",
                      memory_mb, self->mem_available_mb);
            break;
        case WP_RESOURCE_CGROUP_FULL:
            snprintf (out, capacity, "needs %" PRIu64 " MiB, cgroup at %" PRIu64 " of %"
                      PRIu64 " MiB", memory_mb, self->cgroup_usage_mb, self->cgroup_limit_mb);
            break;
    }
}

//  Forget the last sample.

void
wp_resource_clear_sample (wp_resource_t *self)
{
    assert (self);
    self->have_sample = false;
}
