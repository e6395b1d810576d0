/*  =========================================================================
    wp_config - the service configuration, loaded from a ZPL file.
    =========================================================================
*/
#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include "wp_config.h"
#include "wp_util.h"
#include "wp_eval_policy.h"

//  Largest configuration file read, bytes.
#define CONFIG_BYTES_MAX (1024 * 1024)

//  The last error of a load on this thread, for wp_config_load_error (the
//  loader's functions log as they go; this keeps the message for callers
//  that must also pass it on, such as a reload's reply).
static _Thread_local char s_last_error [600];

//  Root keys a reload may change (the rest take effect only at start).
static const char *s_reloadable [] = {
    "max_warm_models", "max_memory_mb", "max_cpu_percent",
    "background_warmup_enabled", "cold_wait_price", "proxy/upstream",
    "proxy/max_body_bytes", "proxy/upstream_timeout_seconds", "max_vram_mb",
    "memory_reserve_mb", "policy", NULL
};

//  Kinds of value a key takes.
//  T_MEMORY: an integer, or "auto" (sets the bool at aux_offset, the
//  number 0); T_GPUS: "all" or GPU indices separated by commas.
typedef enum { T_UINT, T_DOUBLE, T_BOOL, T_STRING, T_KEY, T_CURVE, T_MEMORY, T_GPUS } value_type_t;

//  One configuration key: where it lives, its type, its range.
typedef struct {
    const char *path;       //  "max_warm_models", "bus/pub_endpoint", ...
    value_type_t type;
    size_t offset;          //  into wp_config_t
    double min, max;        //  allowed range for numbers
    const char *unit;       //  for error messages
    size_t aux_offset;      //  T_MEMORY: its "auto" flag
} key_spec_t;

#define U(p, f, lo, hi, unit) { p, T_UINT, offsetof (wp_config_t, f), lo, hi, unit, 0 }
#define D(p, f, lo, hi, unit) { p, T_DOUBLE, offsetof (wp_config_t, f), lo, hi, unit, 0 }
#define B(p, f) { p, T_BOOL, offsetof (wp_config_t, f), 0, 1, "", 0 }
#define S(p, f) { p, T_STRING, offsetof (wp_config_t, f), 0, 0, "", 0 }
#define M(p, f, a, lo, hi, unit) { p, T_MEMORY, offsetof (wp_config_t, f), lo, hi, unit, \
                                   offsetof (wp_config_t, a) }

static const key_spec_t s_keys [] = {
    U ("max_warm_models", max_warm_models, 1, 10000, "models"),
    M ("max_memory_mb", max_memory_mb, max_memory_auto, 0, 1e9, "MiB"),
    M ("max_vram_mb", max_vram_mb, max_vram_auto, 0, 1e9, "MiB"),
    U ("memory_reserve_mb", memory_reserve_mb, 0, 1e9, "MiB"),
    { "gpus", T_GPUS, offsetof (wp_config_t, gpu_mask), 0, 0, "", 0 },
    D ("max_cpu_percent", max_cpu_percent, 0, 100, "%"),
    D ("prediction_threshold", prediction_threshold, 0, 1, "probability"),
    S ("policy", policy),
    D ("cold_wait_price", cold_wait_price, 1, 1e7, "GiB*s per s of wait"),
    U ("usage_window_seconds", usage_window_seconds, 1, 31536000, "s"),
    U ("max_queue_size", max_queue_size, 1, 1000000, "tasks"),
    U ("warmup_timeout_seconds", warmup_timeout_seconds, 1, 86400, "s"),
    D ("performance_impact_threshold", performance_impact_threshold, 0, 1, "fraction"),
    D ("learning_rate", learning_rate, 0, 1, "fraction"),
    B ("background_warmup_enabled", background_warmup_enabled),
    U ("prediction_cache_ttl_seconds", prediction_cache_ttl_seconds, 1, 86400, "s"),
    U ("prediction_horizon_seconds", prediction_horizon_seconds, 1, 86400, "s"),
    U ("max_concurrent_warmups", max_concurrent_warmups, 1, 1000, "tasks"),
    U ("default_memory_mb", default_memory_mb, 0, 1e9, "MiB"),
    U ("default_load_ms", default_load_ms, 0, 3600000, "ms"),
    U ("max_pairs", max_pairs, 16, 100000000, "pairs"),
    U ("max_models", max_models, 16, 10000000, "models"),
    { "user_hash_key", T_KEY, 0, 0, 0, "", 0 },
    S ("bus/pub_endpoint", pub_endpoint),
    S ("bus/sub_endpoint", sub_endpoint),
    { "bus/curve", T_CURVE, offsetof (wp_config_t, curve), 0, 0, "", 0 },
    S ("bus/server_key", server_key),
    S ("bus/client_key", client_key),
    S ("bus/allowed_keys", allowed_keys),
    S ("bus/operator_keys", operator_keys),
    U ("bus/max_events_per_s_per_source", max_events_per_s, 0, 1e9, "events/s"),
    U ("bus/max_frame_bytes", max_frame_bytes, 256, 16777216, "bytes"),
    U ("bus/hwm", hwm, 100, 10000000, "messages"),
    U ("bus/heartbeat_ms", heartbeat_ms, 10, 3600000, "ms"),
    U ("bus/ready_timeout_ms", ready_timeout_ms, 100, 600000, "ms"),
    S ("store/data_dir", data_dir),
    U ("store/batch_max", batch_max, 1, 1000000, "writes"),
    U ("store/flush_ms", flush_ms, 1, 3600000, "ms"),
    B ("store/nosync", nosync),
    U ("store/map_max_mb", map_max_mb, 16, 16777216, "MiB"),
    U ("store/checkpoint_s", checkpoint_s, 1, 86400, "s"),
    U ("store/journal_max_kb", journal_max_kb, 64, 16777216, "KiB"),
    U ("store/checkpoint_slice", checkpoint_slice, 1, 1000000, "writes"),
    U ("resource_interval_ms", resource_interval_ms, 10, 3600000, "ms"),
    U ("gpu_interval_ms", gpu_interval_ms, 100, 3600000, "ms"),
    S ("gpu_source", gpu_source),
    U ("metrics_interval_ms", metrics_interval_ms, 10, 3600000, "ms"),
    S ("metrics_listen", metrics_listen),
    S ("proxy/listen", proxy_listen),
    S ("proxy/upstream", proxy_upstream),
    U ("proxy/max_body_bytes", proxy_max_body_bytes, 1024, 1073741824, "bytes"),
    U ("proxy/max_connections", proxy_max_connections, 1, 100000, "connections"),
    U ("proxy/upstream_timeout_seconds", proxy_upstream_timeout_seconds, 0, 86400, "s"),
    S ("http/operator_token", operator_token),
    B ("audit/enabled", audit),
    U ("audit/max_mb", audit_max_mb, 1, 100000, "MiB"),
    U ("audit/files", audit_files, 2, 100, "files"),
};

static void s_model_free (wp_model_config_t *model);

//  Duplicate a string or die (allocation failure is not recoverable).
static char *
s_strdup (const char *s)
{
    char *copy = strdup (s);
    assert (copy);
    return copy;
}

//  A configuration with every default.
wp_config_t *
wp_config_new (void)
{
    wp_config_t *self = (wp_config_t *) zmalloc (sizeof (wp_config_t));
    assert (self);
    self->max_warm_models = 5;
    self->max_memory_mb = 2048;
    self->max_cpu_percent = 30;
    self->prediction_threshold = 0.7;
    self->policy = s_strdup ("builtin");
    self->cold_wait_price = 1000;       //  the engine's default (docs/configuration.md)
    self->usage_window_seconds = 3600;
    self->max_queue_size = 100;
    self->warmup_timeout_seconds = 30;
    self->performance_impact_threshold = 0.1;
    self->learning_rate = 0.1;
    self->background_warmup_enabled = true;
    self->prediction_cache_ttl_seconds = 300;
    self->prediction_horizon_seconds = 300;
    self->max_concurrent_warmups = 2;
    self->default_memory_mb = 512;
    self->default_load_ms = 1000;
    self->max_pairs = 1000000;
    self->max_models = 10000;
    self->pub_endpoint = s_strdup ("tcp://127.0.0.1:5701");
    self->sub_endpoint = s_strdup ("tcp://127.0.0.1:5702");
    self->max_frame_bytes = 65536;
    self->hwm = 100000;
    self->heartbeat_ms = 1000;
    self->ready_timeout_ms = 10000;
    self->data_dir = s_strdup ("./var");
    self->batch_max = 1000;
    self->flush_ms = 200;
    self->nosync = false;
    self->map_max_mb = 8192;
    self->checkpoint_s = 60;
    self->journal_max_kb = 65536;
    self->checkpoint_slice = 1024;
    self->resource_interval_ms = 1000;
    self->gpu_interval_ms = 5000;
    self->gpu_source = s_strdup ("auto");
    self->metrics_interval_ms = 1000;
    self->metrics_listen = s_strdup ("127.0.0.1:9464");
    self->proxy_listen = s_strdup ("off");
    self->proxy_max_body_bytes = 16 * 1024 * 1024;
    self->proxy_max_connections = 1024;
    self->proxy_upstream_timeout_seconds = 600;
    self->curve = WP_CURVE_AUTO;
    self->max_events_per_s = 1000;
    self->audit = true;
    self->audit_max_mb = 64;
    self->audit_files = 4;
    self->max_vram_mb = 0;
    self->memory_reserve_mb = 512;
    self->gpu_mask = UINT32_MAX;
    return self;
}

//  Destroy.
void
wp_config_destroy (wp_config_t **self_p)
{
    assert (self_p);
    wp_config_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_models; i++)
        s_model_free (&self->models [i]);
    free (self->models);
    free (self->pub_endpoint);
    free (self->sub_endpoint);
    free (self->data_dir);
    free (self->metrics_listen);
    free (self->policy);
    free (self->proxy_listen);
    free (self->proxy_upstream);
    free (self->gpu_source);
    free (self->catalog);
    free (self->reset_store);
    free (self->path);
    free (self->server_key);
    free (self->client_key);
    free (self->allowed_keys);
    free (self->operator_keys);
    if (self->operator_token)
        memset (self->operator_token, 0, strlen (self->operator_token));
    free (self->operator_token);
    memset (self->user_key, 0, sizeof self->user_key);
    free (self);
    *self_p = NULL;
}

//  Line of the file where the occurrence-th key at `path` (a/b/c) is, or
//  0. A small ZPL-aware scan (zconfig keeps no line numbers): indentation
//  is 4 spaces per level, "name = value" or "name" opens a level.
static int
s_line_of (const char *file, const char *path, int occurrence)
{
    FILE *handle = fopen (file, "r");
    if (!handle)
        return 0;
    char stack [16][128];
    char *line = NULL;
    size_t capacity = 0;
    int number = 0, found = 0, seen = 0;
    while (!found && getline (&line, &capacity, handle) >= 0) {
        number++;
        int indent = 0;
        while (line [indent] == ' ')
            indent++;
        char *start = line + indent;
        if (*start == '#' || *start == '\n' || *start == 0 || *start == '\r')
            continue;
        int level = indent / 4;
        if (level >= 16)
            continue;
        size_t len = strcspn (start, " =\t\r\n#");
        if (len >= 128)
            len = 127;
        memcpy (stack [level], start, len);
        stack [level][len] = 0;
        char joined [2100] = "";
        for (int i = 0; i <= level; i++) {
            if (i)
                strcat (joined, "/");
            strcat (joined, stack [i]);
        }
        if (streq (joined, path) && ++seen == occurrence)
            found = number;
    }
    free (line);
    fclose (handle);
    return found;
}

//  Log a configuration error naming file, line and key (the occurrence-th
//  key with that path, for keys given more than once).
static void
s_error_n (const char *file, const char *path, int occurrence, const char *fmt,
           const char *value, const char *detail)
{
    int line = s_line_of (file, path, occurrence);
    char message [512];
    snprintf (message, sizeof message, fmt, value ? value : "", detail ? detail : "");
    if (line)
        snprintf (s_last_error, sizeof s_last_error, "config %s:%d: key '%s': %s",
                  file, line, path, message);
    else
        snprintf (s_last_error, sizeof s_last_error, "config %s: key '%s': %s",
                  file, path, message);
    zsys_error ("%s", s_last_error);
}

//  Log a configuration error for the first key with that path.
static void
s_error (const char *file, const char *path, const char *fmt, const char *value,
         const char *detail)
{
    s_error_n (file, path, 1, fmt, value, detail);
}

//  How many keys named like item come before it in its section, plus one.
static int
s_occurrence (zconfig_t *section, zconfig_t *item)
{
    int count = 1;
    for (zconfig_t *other = zconfig_child (section); other && other != item;
         other = zconfig_next (other))
        if (streq (zconfig_name (other), zconfig_name (item)))
            count++;
    return count;
}

//  Parse a number strictly: the whole string, finite.
static int
s_parse_number (const char *text, double *value)
{
    if (!text || !*text)
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod (text, &end);
    while (end && (*end == ' ' || *end == '\t'))
        end++;
    if (errno || !end || *end || !isfinite (v))
        return -1;
    *value = v;
    return 0;
}

//  Parse a boolean: true/false, yes/no, 1/0, on/off.
static int
s_parse_bool (const char *text, bool *value)
{
    if (!text)
        return -1;
    if (streq (text, "true") || streq (text, "yes") || streq (text, "1")
        || streq (text, "on"))
        *value = true;
    else
    if (streq (text, "false") || streq (text, "no") || streq (text, "0")
        || streq (text, "off"))
        *value = false;
    else
        return -1;
    return 0;
}

//  Parse gpus: "all", or indices 0..31 separated by commas (and blanks).
static int
s_parse_gpus (const char *text, uint32_t *mask)
{
    if (!text || !*text)
        return -1;
    if (streq (text, "all")) {
        *mask = UINT32_MAX;
        return 0;
    }
    uint32_t bits = 0;
    const char *c = text;
    while (*c) {
        c += strspn (c, ", ");
        if (!*c)
            break;
        if (!isdigit ((unsigned char) *c))
            return -1;
        unsigned index = 0;
        int digits = 0;
        while (isdigit ((unsigned char) *c) && digits < 3) {
            index = index * 10 + (unsigned) (*c++ - '0');
            digits++;
        }
        if (index >= WP_DEVICE_GPUS_MAX || (*c && *c != ',' && *c != ' '))
            return -1;
        bits |= 1u << index;
    }
    if (!bits)
        return -1;
    *mask = bits;
    return 0;
}

//  Parse a model's device: cpu, gpu, gpu:N.
static int
s_parse_device (const char *text, uint32_t *device)
{
    if (!text)
        return -1;
    if (streq (text, "cpu"))
        *device = WP_DEVICE_CPU;
    else
    if (streq (text, "gpu"))
        *device = WP_DEVICE_GPU;
    else
    if (strncmp (text, "gpu:", 4) == 0 && isdigit ((unsigned char) text [4])
        && strlen (text + 4) <= 2 && strspn (text + 4, "0123456789") == strlen (text + 4)
        && atoi (text + 4) < WP_DEVICE_GPUS_MAX)
        *device = WP_DEVICE_GPU_N ((uint32_t) atoi (text + 4));
    else
        return -1;
    return 0;
}

//  Apply one key's value (the occurrence-th of its path in the file, for
//  error lines); returns 0 or -1 (logged).
static int
s_apply (wp_config_t *self, const key_spec_t *spec, const char *file,
         const char *value, int occurrence)
{
    char range [128];
    if (spec->type == T_UINT || spec->type == T_DOUBLE) {
        double v;
        if (s_parse_number (value, &v) || v < spec->min || v > spec->max
            || (spec->type == T_UINT && v != floor (v))) {
            snprintf (range, sizeof range, "%s %.10g..%.10g %s",
                      spec->type == T_UINT ? "an integer in" : "a number in",
                      spec->min, spec->max, spec->unit);
            s_error_n (file, spec->path, occurrence, "bad value '%s': must be %s", value, range);
            return -1;
        }
        if (spec->type == T_UINT)
            *(uint32_t *) ((char *) self + spec->offset) = (uint32_t) v;
        else
            *(double *) ((char *) self + spec->offset) = v;
    }
    else
    if (spec->type == T_BOOL) {
        if (s_parse_bool (value, (bool *) ((char *) self + spec->offset))) {
            s_error_n (file, spec->path, occurrence, "bad value '%s': must be true or false%s",
                     value, NULL);
            return -1;
        }
    }
    else
    if (spec->type == T_STRING) {
        if (!value || !*value) {
            s_error_n (file, spec->path, occurrence, "empty value%s%s", NULL, NULL);
            return -1;
        }
        if (streq (spec->path, "gpu_source") && !streq (value, "auto") && !streq (value, "nvml")
            && !streq (value, "nvidia-smi") && !streq (value, "off")) {
            s_error_n (file, spec->path, occurrence, "bad value '%s': must be auto, nvml, "
                       "nvidia-smi or off%s", value, NULL);
            return -1;
        }
        char **slot = (char **) ((char *) self + spec->offset);
        free (*slot);
        *slot = s_strdup (value);
        if (streq (spec->path, "store/data_dir"))
            self->data_dir_set = true;
    }
    else
    if (spec->type == T_MEMORY) {
        bool *automatic = (bool *) ((char *) self + spec->aux_offset);
        double v;
        if (value && streq (value, "auto")) {
            *automatic = true;
            *(uint32_t *) ((char *) self + spec->offset) = 0;
        }
        else
        if (s_parse_number (value, &v) || v < spec->min || v > spec->max || v != floor (v)) {
            snprintf (range, sizeof range, "auto, or an integer in %.10g..%.10g %s",
                      spec->min, spec->max, spec->unit);
            s_error_n (file, spec->path, occurrence, "bad value '%s': must be %s", value, range);
            return -1;
        }
        else {
            *automatic = false;
            *(uint32_t *) ((char *) self + spec->offset) = (uint32_t) v;
        }
    }
    else
    if (spec->type == T_GPUS) {
        uint32_t mask = 0;
        if (s_parse_gpus (value, &mask)) {
            s_error_n (file, spec->path, occurrence, "bad value '%s': must be all, or GPU "
                       "indices 0..31 separated by commas%s", value, NULL);
            return -1;
        }
        self->gpu_mask = mask;
    }
    else
    if (spec->type == T_KEY) {
        if (wp_parse_hex (value, self->user_key, sizeof self->user_key)) {
            s_error_n (file, spec->path, occurrence, "bad value%s: must be 64 hex digits "
                       "(32 bytes; e.g. from: head -c 32 /dev/urandom | xxd -p -c 64)%s",
                       "", NULL);
            return -1;
        }
        self->user_key_set = true;
    }
    else
    if (spec->type == T_CURVE) {
        bool flag;
        if (value && streq (value, "auto"))
            self->curve = WP_CURVE_AUTO;
        else
        if (s_parse_bool (value, &flag) == 0)
            self->curve = flag ? WP_CURVE_ON : WP_CURVE_OFF;
        else {
            s_error_n (file, spec->path, occurrence, "bad value '%s': must be auto, true "
                       "or false%s", value, NULL);
            return -1;
        }
    }
    return 0;
}

//  Backend names as written in the config, by kind.
static const char *s_backend_names [WP_BACKEND_COUNT] = {
    "sim", "exec", "llama-server", "ollama", "openai-compatible", "file"
};

//  Which backends a model key applies to (bit 1 << kind).
#define B_ALL   ((1u << WP_BACKEND_COUNT) - 1)
#define B_EXEC  (1u << WP_BACKEND_EXEC)
#define B_HTTP  ((1u << WP_BACKEND_LLAMA) | (1u << WP_BACKEND_OLLAMA) \
                 | (1u << WP_BACKEND_OPENAI))
#define B_POLL  ((1u << WP_BACKEND_LLAMA) | (1u << WP_BACKEND_OPENAI))
#define B_OLLAMA (1u << WP_BACKEND_OLLAMA)
#define B_OPENAI (1u << WP_BACKEND_OPENAI)
#define B_FILE  (1u << WP_BACKEND_FILE)

//  Kinds of value a model key takes.
typedef enum {
    M_UINT,         //  an integer in min..max
    M_COMMAND,      //  a non-empty command template
    M_URL,          //  http://host[:port][/prefix] or https://
    M_NAME,         //  printable, no blanks, 1..200 bytes
    M_METHOD,       //  GET, POST, PUT or DELETE
    M_PATH,         //  starts with '/', no blanks, %m and %% only
    M_TEXT,         //  any non-empty text, %m and %% only
    M_SECRET,       //  any non-empty text, no template
    M_DURATION,     //  ollama keep_alive: -1, 0, N, Ns, Nm, Nh
    M_WATCH,        //  NAME | pid:N | pidfile:/PATH, comma-separated
    M_BOOL,         //  true or false (a bool field)
    M_PRIORITY,     //  low, normal or high (a uint32_t field, 1..3)
    M_DEVICE        //  cpu, gpu or gpu:N (a uint32_t field, WP_DEVICE_*)
} model_type_t;

//  True for the kinds stored as a string the model owns.
static bool
s_is_string (model_type_t type)
{
    return type != M_UINT && type != M_BOOL && type != M_PRIORITY && type != M_DEVICE;
}

//  One model key.
typedef struct {
    const char *key;        //  name in the section
    model_type_t type;
    size_t offset;          //  into wp_model_config_t
    double min, max;        //  M_UINT range
    const char *unit;       //  M_UINT unit for messages
    unsigned backends;      //  backends it applies to
} model_key_t;

#define MU(k, lo, hi, unit, b) { #k, M_UINT, offsetof (wp_model_config_t, k), lo, hi, unit, b }
#define MS(k, t, b) { #k, t, offsetof (wp_model_config_t, k), 0, 0, "", b }

static const model_key_t s_model_keys [] = {
    MU (memory_mb, 0, 1e9, "MiB", B_ALL),
    MU (load_ms, 0, 1e9, "ms", B_ALL),
    MS (command, M_COMMAND, B_EXEC),
    MS (cool_command, M_COMMAND, B_EXEC),
    MS (url, M_URL, B_HTTP),
    MS (server_model, M_NAME, B_HTTP),
    MS (api_key, M_SECRET, B_HTTP),
    MS (keep_alive, M_DURATION, B_OLLAMA),
    MS (load_method, M_METHOD, B_OPENAI),
    MS (load_path, M_PATH, B_OPENAI),
    MS (load_body, M_TEXT, B_OPENAI),
    MS (unload_method, M_METHOD, B_OPENAI),
    MS (unload_path, M_PATH, B_OPENAI),
    MS (unload_body, M_TEXT, B_OPENAI),
    MS (status_method, M_METHOD, B_OPENAI),
    MS (status_path, M_PATH, B_OPENAI),
    MS (status_loaded, M_TEXT, B_OPENAI),
    MS (path, M_SECRET, B_FILE),
    MS (watch, M_WATCH, B_ALL),
    MU (timeout_seconds, 1, 86400, "s", B_ALL),
    MU (concurrency, 0, 1000, "tasks", B_ALL),
    MU (retries, 0, 100, "retries", B_ALL),
    MU (retry_backoff_ms, 0, 3600000, "ms", B_ALL),
    MU (retry_backoff_max_ms, 0, 86400000, "ms", B_ALL),
    MU (poll_ms, 10, 60000, "ms", B_POLL),
    MS (pin, M_BOOL, B_ALL),
    MS (preload, M_BOOL, B_ALL),
    MS (priority, M_PRIORITY, B_ALL),
    MU (min_keep_seconds, 0, 31536000, "s", B_ALL),
    MS (device, M_DEVICE, B_ALL),
};

//  Model priorities by value - 1.
static const char *s_priority_names [3] = { "low", "normal", "high" };

//  Fill a model with the defaults of a model without a section.
void
wp_config_model_defaults (const wp_config_t *self, wp_model_config_t *model)
{
    assert (self && model);
    memset (model, 0, sizeof *model);
    model->memory_mb = self->default_memory_mb;
    model->load_ms = self->default_load_ms;
    model->backend = WP_BACKEND_SIM;
    model->retries = 2;
    model->retry_backoff_ms = 1000;
    model->retry_backoff_max_ms = 30000;
    model->poll_ms = 100;
    model->priority = 2;
    model->device = wp_config_has_vram (self) ? WP_DEVICE_GPU : WP_DEVICE_CPU;
}

//  Free the strings of a model section.
static void
s_model_free (wp_model_config_t *model)
{
    for (size_t i = 0; i < sizeof s_model_keys / sizeof s_model_keys [0]; i++)
        if (s_is_string (s_model_keys [i].type))
            free (*(char **) ((char *) model + s_model_keys [i].offset));
    free (model->name);
    free (model->group);
}

//  True if a template uses only %m and %%.
static bool
s_template_ok (const char *text)
{
    for (const char *c = text; *c; c++)
        if (*c == '%') {
            if (c [1] != 'm' && c [1] != '%')
                return false;
            c++;
        }
    return true;
}

//  True if text has no blank or control character.
static bool
s_no_blanks (const char *text)
{
    for (const unsigned char *c = (const unsigned char *) text; *c; c++)
        if (*c <= ' ' || *c == 0x7F)
            return false;
    return true;
}

//  Check a server URL; returns an error detail, or NULL if valid.
static const char *
s_url_error (const char *value)
{
    const char *host = strncmp (value, "http://", 7) == 0 ? value + 7
                     : strncmp (value, "https://", 8) == 0 ? value + 8 : NULL;
    if (!host || !*host || *host == '/' || !s_no_blanks (value)
        || strchr (value, '?') || strchr (value, '#'))
        return "must be http://host[:port][/prefix] or https://...";
    return NULL;
}

//  Check one watch item: NAME (a process name, 1..15 bytes as in
//  /proc/PID/comm), pid:N or pidfile:/absolute/path.
static bool
s_watch_item_ok (const char *item, size_t length)
{
    if (length > 4 && strncmp (item, "pid:", 4) == 0) {
        if (length - 4 > 9)
            return false;
        for (size_t i = 4; i < length; i++)
            if (!isdigit ((unsigned char) item [i]))
                return false;
        return true;
    }
    if (length > 8 && strncmp (item, "pidfile:", 8) == 0)
        return item [8] == '/';
    return length >= 1 && length <= 15;
}

//  Check a model key's value; returns an error detail, or NULL if valid.
static const char *
s_model_value_error (const model_key_t *spec, const char *value, double *number)
{
    static char detail [160];
    if (!value || !*value)
        return "empty value";
    switch (spec->type) {
        case M_UINT:
            if (s_parse_number (value, number) || *number < spec->min
                || *number > spec->max || *number != floor (*number)) {
                snprintf (detail, sizeof detail, "must be an integer in %.10g..%.10g %s",
                          spec->min, spec->max, spec->unit);
                return detail;
            }
            return NULL;
        case M_COMMAND:
            return NULL;            //  checked against %m at use (wp_exec)
        case M_URL:
            return s_url_error (value);
        case M_NAME:
            if (strlen (value) > 200 || !s_no_blanks (value))
                return "must be 1..200 characters without blanks";
            return NULL;
        case M_METHOD:
            if (streq (value, "GET") || streq (value, "POST") || streq (value, "PUT")
                || streq (value, "DELETE"))
                return NULL;
            return "must be GET, POST, PUT or DELETE";
        case M_PATH:
            if (*value != '/' || !s_no_blanks (value) || !s_template_ok (value))
                return "must start with '/', have no blanks, and use only %m and %%";
            return NULL;
        case M_TEXT:
            if (!s_template_ok (value))
                return "may use only %m (the model) and %% (a %)";
            return NULL;
        case M_SECRET:
            return NULL;
        case M_DURATION: {
            const char *c = value;
            if (streq (value, "-1"))
                return NULL;
            while (isdigit ((unsigned char) *c))
                c++;
            if (c == value || c - value > 9
                || !(*c == 0 || ((*c == 's' || *c == 'm' || *c == 'h') && c [1] == 0)))
                return "must be -1 (until cooled), seconds, or a number with s, m or h";
            return NULL;
        }
        case M_WATCH: {
            const char *item = value;
            while (true) {
                size_t length = strcspn (item, ",");
                while (length && item [length - 1] == ' ')
                    length--;
                if (!s_watch_item_ok (item, length))
                    return "must be process names (1..15 characters), pid:N or "
                           "pidfile:/path, separated by commas";
                item += strcspn (item, ",");
                if (!*item)
                    break;
                item++;
                while (*item == ' ')
                    item++;
            }
            return NULL;
        }
        case M_BOOL: {
            bool flag;
            if (s_parse_bool (value, &flag))
                return "must be true or false";
            *number = flag;
            return NULL;
        }
        case M_DEVICE: {
            uint32_t device;
            if (s_parse_device (value, &device))
                return "must be cpu, gpu or gpu:N (N a GPU index 0..31)";
            *number = device;
            return NULL;
        }
        case M_PRIORITY:
            for (int i = 0; i < 3; i++)
                if (streq (value, s_priority_names [i])) {
                    *number = i + 1;
                    return NULL;
                }
            return "must be low, normal or high";
    }
    return "unknown type";
}

//  Check a model section's name (path: "models/NAME"): valid, and not
//  configured twice. Returns 0 or -1 (the error kept).
static int
s_model_name_check (wp_config_t *self, const char *name, const char *path,
                    const char *file)
{
    if (!name || !*name || strlen (name) > 200
        || strspn (name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789._:/@+-") != strlen (name)) {
        s_error (file, path, "bad model name '%s': use letters, digits and ._:/@+-%s",
                 name, NULL);
        return -1;
    }
    if (wp_config_model (self, name)) {
        s_error (file, path, "model '%s' is configured twice%s", name, NULL);
        return -1;
    }
    return 0;
}

//  Read a model section's backend first (which keys apply depends on it)
//  and set the defaults that depend on it. Returns 0 or -1.
static int
s_model_backend (wp_model_config_t *model, zconfig_t *section, const char *path,
                 const char *file)
{
    for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item))
        if (streq (zconfig_name (item), "backend")) {
            const char *value = zconfig_value (item);
            int kind;
            for (kind = 0; kind < WP_BACKEND_COUNT; kind++)
                if (value && streq (value, s_backend_names [kind]))
                    break;
            if (kind == WP_BACKEND_COUNT) {
                char key_path [600];
                snprintf (key_path, sizeof key_path, "%s/backend", path);
                s_error (file, key_path, "bad value '%s': must be sim, exec, "
                         "llama-server, ollama, openai-compatible or file%s", value, NULL);
                return -1;
            }
            model->backend = (wp_backend_kind_t) kind;
        }
    if (model->backend != WP_BACKEND_SIM && model->backend != WP_BACKEND_EXEC)
        model->concurrency = 1;
    if (model->backend == WP_BACKEND_OLLAMA)
        model->keep_alive = s_strdup ("-1");
    if (model->backend == WP_BACKEND_OPENAI) {
        model->load_method = s_strdup ("POST");
        model->unload_method = s_strdup ("POST");
        model->status_method = s_strdup ("GET");
    }
    return 0;
}

//  Apply one key of a model section (not its backend). Returns 0 or -1.
static int
s_model_key (wp_model_config_t *model, zconfig_t *item, const char *path, const char *file)
{
    const char *key = zconfig_name (item);
    const char *value = zconfig_value (item);
    char key_path [600];
    snprintf (key_path, sizeof key_path, "%s/%s", path, key);
    const model_key_t *spec = NULL;
    for (size_t i = 0; i < sizeof s_model_keys / sizeof s_model_keys [0]; i++)
        if (streq (s_model_keys [i].key, key))
            spec = &s_model_keys [i];
    if (!spec) {
        s_error (file, key_path, "unknown key%s%s", NULL, NULL);
        return -1;
    }
    if (!(spec->backends & (1u << model->backend))) {
        s_error (file, key_path, "does not apply to backend %s%s",
                 s_backend_names [model->backend], NULL);
        return -1;
    }
    double number = 0;
    const char *problem = s_model_value_error (spec, value, &number);
    if (problem) {
        if (value && *value)
            s_error (file, key_path, "bad value '%s': %s", value, problem);
        else
            s_error (file, key_path, "%s%s", problem, NULL);
        return -1;
    }
    void *slot = (char *) model + spec->offset;
    if (spec->type == M_UINT || spec->type == M_PRIORITY || spec->type == M_DEVICE)
        *(uint32_t *) slot = (uint32_t) number;
    else
    if (spec->type == M_BOOL)
        *(bool *) slot = number != 0;
    else {
        free (*(char **) slot);
        *(char **) slot = s_strdup (value);
    }
    return 0;
}

//  What a model section lacks for its backend, or NULL.
static const char *
s_model_missing (const wp_model_config_t *model)
{
    if (model->backend == WP_BACKEND_EXEC && !model->command)
        return "backend exec needs a command";
    if ((1u << model->backend) & B_HTTP && !model->url)
        return "this backend needs a url";
    if (model->backend == WP_BACKEND_OPENAI && !model->load_path)
        return "backend openai-compatible needs a load_path";
    if (model->backend == WP_BACKEND_FILE && !model->path)
        return "backend file needs a path";
    if (model->retry_backoff_max_ms < model->retry_backoff_ms)
        return "retry_backoff_max_ms is below retry_backoff_ms";
    return NULL;
}

//  Parse one model section.
static int
s_load_model (wp_config_t *self, zconfig_t *section, const char *file)
{
    const char *name = zconfig_name (section);
    char path [512];
    snprintf (path, sizeof path, "models/%s", name);
    if (s_model_name_check (self, name, path, file))
        return -1;
    wp_model_config_t model;
    wp_config_model_defaults (self, &model);
    model.device = WP_DEVICE_UNSET;     //  resolved once every root key is read
    if (s_model_backend (&model, section, path, file))
        return -1;
    int rc = 0;
    for (zconfig_t *item = zconfig_child (section); item && rc == 0;
         item = zconfig_next (item))
        if (!streq (zconfig_name (item), "backend"))
            rc = s_model_key (&model, item, path, file);
    const char *missing = rc == 0 ? s_model_missing (&model) : NULL;
    if (missing) {
        s_error (file, path, "%s%s", missing, NULL);
        rc = -1;
    }
    if (rc) {
        s_model_free (&model);
        return -1;
    }
    model.name = s_strdup (name);
    self->models = (wp_model_config_t *) realloc (
        self->models, (self->n_models + 1) * sizeof (wp_model_config_t));
    assert (self->models);
    self->models [self->n_models++] = model;
    return 0;
}

//  Find a key spec by path.
static const key_spec_t *
s_find_key (const char *path)
{
    for (size_t i = 0; i < sizeof s_keys / sizeof s_keys [0]; i++)
        if (streq (s_keys [i].path, path))
            return &s_keys [i];
    return NULL;
}

//  Walk a section of plain keys (root, bus, store, proxy).
static int
s_load_keys (wp_config_t *self, zconfig_t *section, const char *prefix,
             const char *file)
{
    int rc = 0;
    for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        char path [512];
        snprintf (path, sizeof path, "%s%s%s", prefix, *prefix ? "/" : "", name);
        if (!*prefix && streq (name, "models")) {
            for (zconfig_t *model = zconfig_child (item); model;
                 model = zconfig_next (model)) {
                //  A second section of the same name: name its own line.
                if (wp_config_model (self, zconfig_name (model))) {
                    char model_path [512];
                    snprintf (model_path, sizeof model_path, "models/%s", zconfig_name (model));
                    s_error_n (file, model_path, s_occurrence (item, model),
                               "model '%s' is configured twice%s", zconfig_name (model), NULL);
                    rc = -1;
                }
                else
                if (s_load_model (self, model, file))
                    rc = -1;
            }
            continue;
        }
        if (!*prefix && streq (name, "groups"))
            continue;               //  after the models: s_load_groups
        if (!*prefix && (streq (name, "bus") || streq (name, "store")
                         || streq (name, "proxy") || streq (name, "http")
                         || streq (name, "audit"))) {
            if (s_load_keys (self, item, name, file))
                rc = -1;
            continue;
        }
        const key_spec_t *spec = s_find_key (path);
        if (!spec) {
            s_error (file, path, "unknown key%s%s", NULL, NULL);
            rc = -1;
            continue;
        }
        if (zconfig_child (item)) {
            s_error (file, path, "is a value, not a section%s%s", NULL, NULL);
            rc = -1;
            continue;
        }
        if (s_apply (self, spec, file, zconfig_value (item), s_occurrence (section, item)))
            rc = -1;
    }
    return rc;
}

//  Parse the groups section: each group a section whose "models" key
//  names two or more configured models (commas and/or blanks between).
static int
s_load_groups (wp_config_t *self, zconfig_t *root, const char *file)
{
    zconfig_t *groups = zconfig_locate (root, "groups");
    if (!groups)
        return 0;
    if (zconfig_value (groups) && *zconfig_value (groups)) {
        s_error (file, "groups", "is a section, not a value%s%s", NULL, NULL);
        return -1;
    }
    for (zconfig_t *group = zconfig_child (groups); group; group = zconfig_next (group)) {
        const char *name = zconfig_name (group);
        char path [512], key_path [600];
        snprintf (path, sizeof path, "groups/%s", name);
        snprintf (key_path, sizeof key_path, "%s/models", path);
        if (strlen (name) > 200
            || strspn (name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                             "0123456789._:/@+-") != strlen (name)) {
            s_error (file, path, "bad group name '%s': use letters, digits and ._:/@+-%s",
                     name, NULL);
            return -1;
        }
        for (zconfig_t *other = zconfig_child (groups); other != group;
             other = zconfig_next (other))
            if (streq (zconfig_name (other), name)) {
                s_error_n (file, path, 2, "group '%s' is configured twice%s", name, NULL);
                return -1;
            }
        const char *list = NULL;
        for (zconfig_t *item = zconfig_child (group); item; item = zconfig_next (item)) {
            char item_path [800];
            snprintf (item_path, sizeof item_path, "%s/%s", path, zconfig_name (item));
            if (!streq (zconfig_name (item), "models")) {
                s_error (file, item_path, "unknown key (a group has only 'models')%s%s",
                         NULL, NULL);
                return -1;
            }
            list = zconfig_value (item);
        }
        if (!list || !*list) {
            s_error (file, list ? key_path : path,
                     "a group needs models = \"model, model, ...\"%s%s", NULL, NULL);
            return -1;
        }
        size_t members = 0;
        uint64_t memory = 0, vram = 0;
        const char *cursor = list;
        while (*cursor) {
            cursor += strspn (cursor, ", \t");
            size_t length = strcspn (cursor, ", \t");
            if (!length)
                break;
            char model_name [256];
            if (length >= sizeof model_name) {
                s_error (file, key_path, "model name too long in '%s'%s", list, NULL);
                return -1;
            }
            memcpy (model_name, cursor, length);
            model_name [length] = 0;
            cursor += length;
            wp_model_config_t *model = (wp_model_config_t *) wp_config_model (self, model_name);
            char detail [400];
            if (!model) {
                snprintf (detail, sizeof detail, ": '%s' has no section under models",
                          model_name);
                s_error (file, key_path, "bad value '%s'%s", list, detail);
                return -1;
            }
            if (model->group) {
                snprintf (detail, sizeof detail, ": '%s' is already in group '%s'",
                          model_name, model->group);
                s_error (file, key_path, "bad value '%s'%s", list, detail);
                return -1;
            }
            model->group = s_strdup (name);
            members++;
            if (WP_DEVICE_IS_GPU (model->device))
                vram += model->memory_mb;
            else
                memory += model->memory_mb;
        }
        if (members < 2) {
            s_error (file, key_path, "bad value '%s': a group needs two or more models%s",
                     list, NULL);
            return -1;
        }
        if (self->max_memory_mb && memory > self->max_memory_mb) {
            char detail [200];
            snprintf (detail, sizeof detail, ": together %" PRIu64 " MiB, over "
                      "max_memory_mb %u", memory, self->max_memory_mb);
            s_error (file, key_path, "bad value '%s'%s", list, detail);
            return -1;
        }
        if (self->max_vram_mb && vram > self->max_vram_mb) {
            char detail [200];
            snprintf (detail, sizeof detail, ": together %" PRIu64 " MiB on GPUs, over "
                      "max_vram_mb %u", vram, self->max_vram_mb);
            s_error (file, key_path, "bad value '%s'%s", list, detail);
            return -1;
        }
    }
    return 0;
}

//  Pinned models must fit together: their memory is reserved out of
//  max_memory_mb, and each is one of max_warm_models.
static int
s_check_pins (wp_config_t *self, const char *file)
{
    uint64_t memory = 0, vram = 0;
    uint32_t count = 0;
    for (size_t i = 0; i < self->n_models; i++) {
        const wp_model_config_t *model = &self->models [i];
        if (!model->pin)
            continue;
        bool gpu = WP_DEVICE_IS_GPU (model->device);
        *(gpu ? &vram : &memory) += model->memory_mb;
        count++;
        char path [600], detail [200];
        snprintf (path, sizeof path, "models/%s/pin", model->name);
        if (self->max_memory_mb && memory > self->max_memory_mb) {
            snprintf (detail, sizeof detail, ": pinned models need %" PRIu64 " MiB, over "
                      "max_memory_mb %u", memory, self->max_memory_mb);
            s_error (file, path, "cannot pin%s%s", detail, NULL);
            return -1;
        }
        if (self->max_vram_mb && vram > self->max_vram_mb) {
            snprintf (detail, sizeof detail, ": pinned models need %" PRIu64 " MiB on "
                      "GPUs, over max_vram_mb %u", vram, self->max_vram_mb);
            s_error (file, path, "cannot pin%s%s", detail, NULL);
            return -1;
        }
        if (count > self->max_warm_models) {
            snprintf (detail, sizeof detail, ": %u pinned models, over max_warm_models %u",
                      count, self->max_warm_models);
            s_error (file, path, "cannot pin%s%s", detail, NULL);
            return -1;
        }
    }
    return 0;
}

//  Give each model without a device key the default (gpu when the
//  configuration has a GPU budget, else cpu), and check that a gpu:N is
//  one of the managed GPUs.
static int
s_resolve_devices (wp_config_t *self, const char *file)
{
    for (size_t i = 0; i < self->n_models; i++) {
        wp_model_config_t *model = &self->models [i];
        if (model->device == WP_DEVICE_UNSET)
            model->device = wp_config_has_vram (self) ? WP_DEVICE_GPU : WP_DEVICE_CPU;
        int index = WP_DEVICE_INDEX (model->device);
        if (index >= 0 && !(self->gpu_mask & (1u << index))) {
            char path [600], value [16];
            snprintf (path, sizeof path, "models/%s/device", model->name);
            snprintf (value, sizeof value, "gpu:%d", index);
            s_error (file, path, "bad value '%s': GPU %s is not one of gpus", value,
                     value + 4);
            return -1;
        }
    }
    return 0;
}

//  The scheduler's policy must be one it can run: builtin, a policy of the
//  live table, or a plug-in that loads (the library is loaded here).
static int
s_check_policy (wp_config_t *self, const char *file)
{
    if (streq (self->policy, "builtin"))
        return 0;
    char error [WP_EVAL_ERRLEN];
    double knob;
    size_t count;
    const wp_eval_policy_t *const *list = wp_policy_live_list (&count);
    if (wp_policy_table_find (list, count, self->policy, &knob, error))
        return 0;
    s_error (file, "policy", "is not builtin nor a policy the scheduler runs: %s%s", error,
             NULL);
    return -1;
}

//  Load and validate a ZPL file, keeping the error message.
wp_config_t *
wp_config_load_error (const char *path, char *error, size_t size)
{
    s_last_error [0] = 0;
    wp_config_t *self = wp_config_load (path);
    if (!self && error && size)
        snprintf (error, size, "%s", s_last_error);
    return self;
}

//  Load and validate a ZPL file.
wp_config_t *
wp_config_load (const char *path)
{
    assert (path);
    if (access (path, R_OK) != 0) {
        snprintf (s_last_error, sizeof s_last_error, "config %s: cannot read: %s",
                  path, strerror (errno));
        zsys_error ("%s", s_last_error);
        return NULL;
    }
    //  A configuration is small: a file over 1 MiB is refused unparsed.
    struct stat info;
    if (stat (path, &info) == 0 && info.st_size > CONFIG_BYTES_MAX) {
        snprintf (s_last_error, sizeof s_last_error, "config %s: larger than %d bytes",
                  path, CONFIG_BYTES_MAX);
        zsys_error ("%s", s_last_error);
        return NULL;
    }
    zconfig_t *root = wp_zpl_load (path, CONFIG_BYTES_MAX);
    if (!root) {
        snprintf (s_last_error, sizeof s_last_error,
                  "config %s: not a valid ZPL file (indentation is 4 spaces per level; "
                  "see the zconfig error logged)", path);
        zsys_error ("%s", s_last_error);
        return NULL;
    }
    wp_config_t *self = wp_config_new ();
    self->path = s_strdup (path);
    //  Defaults for models come from the root keys: read those first.
    zconfig_t *item;
    for (item = zconfig_child (root); item; item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        if (streq (name, "default_memory_mb") || streq (name, "default_load_ms"))
            if (s_apply (self, s_find_key (name), path, zconfig_value (item),
                         s_occurrence (root, item)))
                break;
    }
    int rc = item ? -1 : s_load_keys (self, root, "", path);
    if (rc == 0 && self->proxy_upstream && s_url_error (self->proxy_upstream)) {
        s_error (path, "proxy/upstream", "bad value '%s': %s", self->proxy_upstream,
                 s_url_error (self->proxy_upstream));
        rc = -1;
    }
    if (rc == 0)
        rc = s_resolve_devices (self, path);
    if (rc == 0)
        rc = s_load_groups (self, root, path);
    if (rc == 0)
        rc = s_check_pins (self, path);
    if (rc == 0)
        rc = s_check_policy (self, path);
    zconfig_destroy (&root);
    if (rc)
        wp_config_destroy (&self);
    return self;
}

//  String settings a flag may set, by bit of set_by_flag.
static const char *s_flag_keys [] = {
    "pub_endpoint", "sub_endpoint", "data_dir", "metrics_listen", "catalog",
    "reset_store", "proxy_listen", "proxy_upstream", "client_key", NULL
};

//  The slot of the i-th of them.
static char **
s_flag_slot (wp_config_t *self, int i)
{
    char **slots [] = { &self->pub_endpoint, &self->sub_endpoint, &self->data_dir,
                        &self->metrics_listen, &self->catalog, &self->reset_store,
                        &self->proxy_listen, &self->proxy_upstream, &self->client_key };
    assert (i >= 0 && i < (int) (sizeof slots / sizeof slots [0]));
    return slots [i];
}

//  Set a string setting from a flag.
int
wp_config_set_string (wp_config_t *self, const char *key, const char *value)
{
    assert (self && key && value);
    for (int i = 0; s_flag_keys [i]; i++)
        if (streq (key, s_flag_keys [i])) {
            char **slot = s_flag_slot (self, i);
            free (*slot);
            *slot = s_strdup (value);
            self->set_by_flag |= 1u << i;
            return 0;
        }
    return -1;
}

//  Inherit the settings flags gave.
int
wp_config_inherit_flags (wp_config_t *next, const wp_config_t *running)
{
    assert (next && running);
    for (int i = 0; s_flag_keys [i]; i++)
        if (running->set_by_flag & (1u << i))
            wp_config_set_string (next, s_flag_keys [i],
                                  *s_flag_slot ((wp_config_t *) running, i));
    if (running->set_by_flag & WP_CONFIG_FLAG_MAX_MEMORY) {
        next->max_memory_mb = running->max_memory_mb;
        next->max_memory_auto = running->max_memory_auto;
        next->set_by_flag |= WP_CONFIG_FLAG_MAX_MEMORY;
    }
    next->replay = running->replay;
    //  The catalog's models, again (a model section in the file wins).
    if (next->catalog && wp_config_add_catalog (next, next->catalog))
        return -1;
    return 0;
}

//  Deep copy of a model section.
void
wp_config_model_copy (wp_model_config_t *copy, const wp_model_config_t *model)
{
    assert (copy && model);
    *copy = *model;
    for (size_t i = 0; i < sizeof s_model_keys / sizeof s_model_keys [0]; i++)
        if (s_is_string (s_model_keys [i].type)) {
            char **slot = (char **) ((char *) copy + s_model_keys [i].offset);
            if (*slot)
                *slot = s_strdup (*slot);
        }
    if (copy->name)
        copy->name = s_strdup (copy->name);
    if (copy->group)
        copy->group = s_strdup (copy->group);
}

//  Free a copied model section.
void
wp_config_model_clear (wp_model_config_t *model)
{
    assert (model);
    s_model_free (model);
    memset (model, 0, sizeof *model);
}

//  Parse an unsigned decimal field of a catalog line in [0, max].
static bool
s_catalog_number (const char *text, size_t len, uint64_t max, uint32_t *out)
{
    if (len == 0 || len > 10)
        return false;
    uint64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text [i] < '0' || text [i] > '9')
            return false;
        value = value * 10 + (uint64_t) (text [i] - '0');
    }
    if (value > max)
        return false;
    *out = (uint32_t) value;
    return true;
}

//  Add the models of a catalog CSV.
int
wp_config_add_catalog (wp_config_t *self, const char *path)
{
    assert (self && path);
    if (self->catalog != path)
        wp_config_set_string (self, "catalog", path);
    FILE *file = fopen (path, "r");
    if (!file) {
        zsys_error ("catalog %s: cannot read: %s", path, strerror (errno));
        return -1;
    }
    char line [1024];
    size_t lineno = 0;
    int rc = 0;
    while (fgets (line, sizeof line, file)) {
        lineno++;
        size_t len = strlen (line);
        if (len == sizeof line - 1 && line [len - 1] != '\n') {
            zsys_error ("catalog %s:%zu: line longer than %zu bytes", path, lineno,
                        sizeof line - 2);
            rc = -1;
            break;
        }
        while (len && (line [len - 1] == '\n' || line [len - 1] == '\r'))
            line [--len] = 0;
        if (lineno == 1) {
            if (strncmp (line, "model,memory_mb,load_ms", 23) != 0
                || (line [23] && line [23] != ',')) {
                zsys_error ("catalog %s:1: header must start with "
                            "'model,memory_mb,load_ms'", path);
                rc = -1;
                break;
            }
            continue;
        }
        if (len == 0)
            continue;
        char *c1 = strchr (line, ',');
        char *c2 = c1 ? strchr (c1 + 1, ',') : NULL;
        char *c3 = c2 ? strchr (c2 + 1, ',') : NULL;
        uint32_t memory_mb, load_ms;
        if (!c1 || !c2 || c1 == line || (size_t) (c1 - line) > 255) {
            zsys_error ("catalog %s:%zu: expected model,memory_mb,load_ms", path, lineno);
            rc = -1;
            break;
        }
        *c1 = 0;
        if (!s_catalog_number (c1 + 1, (size_t) (c2 - c1 - 1), 1000000000, &memory_mb)
            || !s_catalog_number (c2 + 1, c3 ? (size_t) (c3 - c2 - 1) : strlen (c2 + 1),
                                  1000000000, &load_ms)) {
            zsys_error ("catalog %s:%zu: model '%s': memory_mb and load_ms must be "
                        "integers in 0..1000000000", path, lineno, line);
            rc = -1;
            break;
        }
        if (wp_config_model (self, line))
            continue;
        wp_model_config_t model;
        wp_config_model_defaults (self, &model);
        model.name = s_strdup (line);
        model.memory_mb = memory_mb;
        model.load_ms = load_ms;
        wp_model_config_t *grown = (wp_model_config_t *) realloc (
            self->models, (self->n_models + 1) * sizeof (wp_model_config_t));
        assert (grown);
        self->models = grown;
        self->models [self->n_models++] = model;
    }
    if (rc == 0 && ferror (file)) {
        zsys_error ("catalog %s: read error", path);
        rc = -1;
    }
    if (rc == 0 && lineno == 0) {
        zsys_error ("catalog %s:1: empty file (expected the header "
                    "model,memory_mb,load_ms)", path);
        rc = -1;
    }
    fclose (file);
    return rc;
}

//  Configured model by name.
const wp_model_config_t *
wp_config_model (const wp_config_t *self, const char *name)
{
    assert (self && name);
    for (size_t i = 0; i < self->n_models; i++)
        if (streq (self->models [i].name, name))
            return &self->models [i];
    return NULL;
}

//  Memory of a model.
uint32_t
wp_config_model_memory_mb (const wp_config_t *self, const char *name)
{
    const wp_model_config_t *model = wp_config_model (self, name);
    return model ? model->memory_mb : self->default_memory_mb;
}

//  Load time of a model.
uint32_t
wp_config_model_load_ms (const wp_config_t *self, const char *name)
{
    const wp_model_config_t *model = wp_config_model (self, name);
    return model ? model->load_ms : self->default_load_ms;
}

//  A device as written in the config.
const char *
wp_device_name (uint32_t device, char *buffer, size_t size)
{
    assert (buffer && size);
    if (device == WP_DEVICE_CPU || device == WP_DEVICE_UNSET)
        snprintf (buffer, size, "cpu");
    else
    if (device == WP_DEVICE_GPU)
        snprintf (buffer, size, "gpu");
    else
        snprintf (buffer, size, "gpu:%d", WP_DEVICE_INDEX (device));
    return buffer;
}

//  True when the configuration has a GPU axis.
bool
wp_config_has_vram (const wp_config_t *self)
{
    assert (self);
    return self->max_vram_mb > 0 || self->max_vram_auto;
}

//  Name of a backend kind.
const char *
wp_backend_name (wp_backend_kind_t kind)
{
    return kind >= 0 && kind < WP_BACKEND_COUNT ? s_backend_names [kind] : "unknown";
}

//  The model's name on its server.
const char *
wp_model_server_name (const wp_model_config_t *model, const char *name)
{
    return model && model->server_model ? model->server_model : name;
}

//  Name of a model priority.
const char *
wp_priority_name (uint32_t priority)
{
    return priority >= 1 && priority <= 3 ? s_priority_names [priority - 1] : "normal";
}

//  True if a root key may change at run time.
static bool
s_is_reloadable (const char *path)
{
    for (int i = 0; s_reloadable [i]; i++)
        if (streq (s_reloadable [i], path))
            return true;
    return false;
}

//  Check that a new configuration can replace the running one.
int
wp_config_check_reload (const wp_config_t *running, const wp_config_t *next,
                        char *error, size_t size)
{
    assert (running && next);
    const char *changed = NULL;
    for (size_t i = 0; i < sizeof s_keys / sizeof s_keys [0] && !changed; i++) {
        const key_spec_t *spec = &s_keys [i];
        if (s_is_reloadable (spec->path))
            continue;
        const char *a = (const char *) running + spec->offset;
        const char *b = (const char *) next + spec->offset;
        bool same = true;
        switch (spec->type) {
            case T_UINT:   same = *(const uint32_t *) a == *(const uint32_t *) b; break;
            case T_DOUBLE: same = *(const double *) a == *(const double *) b; break;
            case T_BOOL:   same = *(const bool *) a == *(const bool *) b; break;
            case T_STRING: {
                const char *x = *(char *const *) a, *y = *(char *const *) b;
                same = x == y || (x && y && streq (x, y));
                break;
            }
            case T_KEY:    same = running->user_key_set == next->user_key_set
                                  && memcmp (running->user_key, next->user_key,
                                             sizeof next->user_key) == 0; break;
            case T_CURVE:  same = running->curve == next->curve; break;
            case T_MEMORY: same = *(const uint32_t *) a == *(const uint32_t *) b
                               && *(const bool *) ((const char *) running + spec->aux_offset)
                                  == *(const bool *) ((const char *) next + spec->aux_offset);
                           break;
            case T_GPUS:   same = running->gpu_mask == next->gpu_mask; break;
        }
        if (!same)
            changed = spec->path;
    }
    if (!changed)
        return 0;
    s_last_error [0] = 0;
    s_error (next->path ? next->path : "(built-in)", changed,
             "changed, but takes effect only at start: restart to change it "
             "(the running configuration stays)%s%s", NULL, NULL);
    if (error && size)
        snprintf (error, size, "%s", s_last_error);
    return -1;
}
