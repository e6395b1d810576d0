/*  =========================================================================
    wp_config - the service configuration: every default in code, loaded
    from and validated against a ZPL file (czmq zconfig).

    A bad value or an unknown key is an error naming the file, the line
    and the key. See docs/configuration.md and the sample warmup.cfg.
    =========================================================================
*/

#ifndef WP_CONFIG_H_INCLUDED
#define WP_CONFIG_H_INCLUDED

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Backends a model can use (see docs/backends.md).
typedef enum {
    WP_BACKEND_SIM = 0,     //  simulated load of load_ms (the default)
    WP_BACKEND_EXEC,        //  run a command
    WP_BACKEND_LLAMA,       //  llama.cpp's llama-server in router mode
    WP_BACKEND_OLLAMA,      //  Ollama's /api/generate and /api/ps
    WP_BACKEND_OPENAI,      //  an HTTP server with configurable paths
    WP_BACKEND_FILE,        //  weight files into / out of the page cache
    WP_BACKEND_COUNT
} wp_backend_kind_t;

//  Where a model loads (its `device` key): main memory, any of the GPUs
//  the service manages (`gpus`), or one GPU by its index.
#define WP_DEVICE_CPU 0u
#define WP_DEVICE_GPU 1u
#define WP_DEVICE_GPU_N(index) (2u + (index))
#define WP_DEVICE_GPUS_MAX 32           //  GPU indices 0..31
#define WP_DEVICE_UNSET UINT32_MAX      //  not given: resolved at load

//  True for a GPU device; the GPU index of a WP_DEVICE_GPU_N, or -1.
#define WP_DEVICE_IS_GPU(device) ((device) != WP_DEVICE_CPU)
#define WP_DEVICE_INDEX(device) ((device) >= 2u ? (int) ((device) - 2u) : -1)

//  One model's section. Strings are owned by the config; NULL = not set.
typedef struct {
    char *name;                 //  the name clients use
    uint32_t memory_mb;         //  memory when warm, MiB
    uint32_t load_ms;           //  typical cold-start time, ms
    wp_backend_kind_t backend;  //  how to warm and cool it
    char *command;              //  exec: warm command template (%m = model)
    char *cool_command;         //  exec: cool command template, may be NULL
    //  Added with the real backends (issue 5)
    char *url;                  //  HTTP backends: base URL, http[s]://host:port[/prefix]
    char *server_model;         //  HTTP backends: the model's name on the
                                //  server (NULL = name)
    char *keep_alive;           //  ollama: keep_alive of a warm ("-1" = until cooled)
    char *load_method;          //  openai-compatible: warm request method
    char *load_path;            //  openai-compatible: warm request path (%m)
    char *load_body;            //  openai-compatible: warm request body (%m), may be NULL
    char *unload_method;        //  openai-compatible: cool request method
    char *unload_path;          //  openai-compatible: cool request path, may be NULL
    char *unload_body;          //  openai-compatible: cool request body, may be NULL
    char *status_method;        //  openai-compatible: status request method
    char *status_path;          //  openai-compatible: status path, may be NULL
    char *status_loaded;        //  openai-compatible: text a loaded status reply
                                //  contains (%m), NULL = any 2xx reply
    char *api_key;              //  HTTP backends: bearer token, may be NULL
    char *path;                 //  file: file, comma-separated files, or directory
    char *watch;                //  resource: the model's server processes: a
                                //  process name, pid:N or pidfile:PATH (commas)
    uint32_t timeout_seconds;   //  a warm or cool taking longer fails, s
                                //  (0 = warmup_timeout_seconds)
    uint32_t concurrency;       //  tasks at once on this model's server (the
                                //  smallest among models sharing it; 0 = only
                                //  max_concurrent_warmups)
    uint32_t retries;           //  retries of a failed warm or cool
    uint32_t retry_backoff_ms;  //  delay before the first retry, doubled each time
    uint32_t retry_backoff_max_ms; // cap of that delay
    uint32_t poll_ms;           //  llama-server, openai-compatible: status poll period
    //  Added with the operator's controls (issue 9)
    bool pin;                   //  warm from start-up, never cooled, memory reserved
    bool preload;               //  warm at start-up, then managed like any other
    uint32_t priority;          //  1 low, 2 normal, 3 high
    uint32_t min_keep_seconds;  //  never cooled sooner than this after its last use, s
    char *group;                //  the group it belongs to (groups section), or NULL
    //  Added with memory as measured (issue 22)
    uint32_t device;            //  WP_DEVICE_*: where it loads; memory_mb is
                                //  what it takes there (default: gpu when
                                //  max_vram_mb is set, else cpu)
} wp_model_config_t;

//  The whole configuration. Strings are owned by the config.
typedef struct {
    char *path;                         //  file it came from, or NULL

    //  The seed's parameters
    uint32_t max_warm_models;           //  models held warm at once
    uint32_t max_memory_mb;             //  memory budget for warm models, MiB
    double max_cpu_percent;             //  no background warmups above this CPU use
    double prediction_threshold;        //  probability that triggers a warmup, 0..1
    char *policy;                       //  the scheduler's policy: "builtin" (the
                                        //  predictive pipeline), a policy of the
                                        //  live table ("icebreaker", "keepalive:600")
                                        //  or "plugin:PATH[:knob]"
    double cold_wait_price;             //  GiB*s of residency one second of a
                                        //  request waiting on a load is worth
    uint32_t usage_window_seconds;      //  how long usage counts as recent, s
    uint32_t max_queue_size;            //  warmup tasks waiting at most
    uint32_t warmup_timeout_seconds;    //  a warmup taking longer fails, s
    double performance_impact_threshold;//  share of CPU a warmup may cost, 0..1
    double learning_rate;               //  step size of online learning, 0..1
    bool background_warmup_enabled;     //  warm on predictions (not only on request)
    uint32_t prediction_cache_ttl_seconds; // a prediction counts this long, s

    //  Service settings
    uint32_t prediction_horizon_seconds;// horizon of each prediction, s
    uint32_t max_concurrent_warmups;    //  warmup tasks running at once
    uint32_t default_memory_mb;         //  memory of a model with no section, MiB
    uint32_t default_load_ms;           //  load time of a model with no section, ms
    uint32_t max_pairs;                 //  (user, model) pairs the analyzer keeps
    uint8_t user_key [32];              //  key the user-id hash derives from
    bool user_key_set;                  //  user_key came from the config (else
                                        //  <data_dir>/keys/user_hash.key)

    //  bus
    char *pub_endpoint;                 //  publishers connect here
    char *sub_endpoint;                 //  subscribers connect here
    uint32_t max_frame_bytes;           //  largest accepted event, bytes
    uint32_t hwm;                       //  socket high-water marks, messages
    uint32_t heartbeat_ms;              //  heartbeat period, ms
    uint32_t ready_timeout_ms;          //  how long to wait for the bus, ms

    //  store
    char *data_dir;                     //  LMDB environments live under here
    uint32_t batch_max;                 //  writes per LMDB commit at most
    uint32_t flush_ms;                  //  commit at least this often, ms
    bool nosync;                        //  skip fsync (faster, less durable)
    uint32_t map_max_mb;                //  LMDB map of one store at most, MiB
    uint32_t checkpoint_s;              //  analyzer: journal into LMDB this often, s
    uint32_t journal_max_kb;            //  analyzer: or when the journal passes this, KiB
    uint32_t checkpoint_slice;          //  analyzer: writes per slice of a checkpoint

    //  component periods
    uint32_t resource_interval_ms;      //  resource status period, ms
    uint32_t gpu_interval_ms;           //  nvidia-smi runs at most this often, ms
    char *gpu_source;                   //  how GPUs are read: "auto" (NVML, else
                                        //  nvidia-smi), "nvml", "nvidia-smi", "off"
    uint32_t metrics_interval_ms;       //  metrics snapshot period, ms
    char *metrics_listen;               //  metrics HTTP endpoint, HOST:PORT or "off"

    //  Memory as measured (issue 22; docs/configuration.md)
    bool max_memory_auto;               //  max_memory_mb = auto: the budget is
                                        //  what RAM (and the cgroup) has, minus
                                        //  memory_reserve_mb and what others hold
                                        //  (max_memory_mb is then 0)
    uint32_t max_vram_mb;               //  GPU memory budget, MiB (0 = no GPU budget)
    bool max_vram_auto;                 //  max_vram_mb = auto: measured as above
                                        //  over the managed GPUs
    uint32_t memory_reserve_mb;         //  left free on each device, MiB
    uint32_t gpu_mask;                  //  GPUs this service manages (gpus):
                                        //  bit per index, all bits = all

    wp_model_config_t *models;          //  configured models
    size_t n_models;

    //  Added for replay (issue 8)
    bool replay;                        //  event time from clock.tick, not the
                                        //  wall clock (--replay; docs/architecture.md)
    char *catalog;                      //  catalog CSV the models came from
                                        //  (--catalog), or NULL
    char *reset_store;                  //  --reset-store: component names
                                        //  ("a,b" or "all") whose corrupt
                                        //  store is moved aside, or NULL
    unsigned set_by_flag;               //  string settings set by
                                        //  wp_config_set_string (bit per key)

    //  Added for the proxy (issue 14; docs/proxy.md)
    char *proxy_listen;                 //  proxy HTTP listener, HOST:PORT or "off"
    char *proxy_upstream;               //  default model server, http[s]://host:port
                                        //  [/prefix], or NULL (model urls only)
    uint32_t proxy_max_body_bytes;      //  largest request body accepted, bytes
    uint32_t proxy_max_connections;     //  client connections open at once at most
    uint32_t proxy_upstream_timeout_seconds; // longest wait for an upstream's
                                        //  first byte, s (0 = no limit)

    //  Added for security (issue 18; docs/security.md)
    int curve;                          //  bus/curve: a wp_curve_t
    char *server_key;                   //  bus/server_key: the proxy's certificate
                                        //  (NULL = <data_dir>/keys/server.key)
    char *client_key;                   //  bus/client_key: this program's certificate
                                        //  (NULL = the installation's component or
                                        //  operator key)
    char *allowed_keys;                 //  bus/allowed_keys: directory of client keys
                                        //  (NULL = <data_dir>/keys/allowed)
    char *operator_keys;                //  bus/operator_keys: directory of operator keys
                                        //  (NULL = <data_dir>/keys/operators)
    uint32_t max_events_per_s;          //  bus/max_events_per_s_per_source (0 = none)
    uint32_t max_models;                //  models the analyzer learns about at most
    char *operator_token;               //  http/operator_token (NULL =
                                        //  <data_dir>/keys/operator.token)
    bool audit;                         //  audit/enabled
    uint32_t audit_max_mb;              //  audit/max_mb: the log, all files together, MiB
    uint32_t audit_files;               //  audit/files: files it rotates through
    bool data_dir_set;                  //  store/data_dir came from the file
} wp_config_t;

//  bus/curve.
typedef enum {
    WP_CURVE_AUTO = 0,      //  on unless both endpoints are ipc:// (files) or inproc://
    WP_CURVE_ON,
    WP_CURVE_OFF
} wp_curve_t;

//  A configuration with every default (no models). Never NULL.
wp_config_t *
    wp_config_new (void);

//  Load and validate a ZPL file over the defaults. Returns NULL after
//  logging an error naming the file, line and key.
wp_config_t *
    wp_config_load (const char *path);

//  As wp_config_load, and on error also copy the message ("config FILE:LINE:
//  key 'KEY': ...") into error (size bytes, may be NULL).
wp_config_t *
    wp_config_load_error (const char *path, char *error, size_t size);

//  Check that next can replace running without a restart: every key that
//  only takes effect at start (bus, store, metrics_listen, user_hash_key,
//  max_pairs, ...; see docs/configuration.md) has the same value. Returns
//  0, or -1 with error naming next's file, line and key.
int
    wp_config_check_reload (const wp_config_t *running, const wp_config_t *next,
                            char *error, size_t size);

//  Name of a model priority (1 low, 2 normal, 3 high).
const char *
    wp_priority_name (uint32_t priority);

//  Destroy; safe on NULL; nulls *self_p.
void
    wp_config_destroy (wp_config_t **self_p);

//  Set a string setting (endpoints, data_dir, metrics_listen, catalog,
//  proxy_listen, proxy_upstream, client_key) from a command-line flag.
//  Returns 0, or -1 for an unknown key.
int
    wp_config_set_string (wp_config_t *self, const char *key, const char *value);

//  Add the models of a catalog CSV (`model,memory_mb,load_ms`, header
//  first, further columns ignored: the format of EVAL.md section 1) with
//  the sim backend; a model already configured keeps its section.
//  Returns 0, or -1 after logging "file:line: reason".
int
    wp_config_add_catalog (wp_config_t *self, const char *path);
//  set_by_flag: max_memory_mb came from --max-memory-mb.
#define WP_CONFIG_FLAG_MAX_MEMORY (1u << 16)     //  above the string settings' bits

//  Give next the settings running got from command-line flags (a flag
//  wins over the file at start and on a reload): the string settings,
//  --max-memory-mb, --replay, and the models of --catalog. Returns 0, or
//  -1 when the catalog is rejected now (logged).
int
    wp_config_inherit_flags (wp_config_t *next, const wp_config_t *running);

//  A deep copy of a model section into *copy; free it with
//  wp_config_model_clear.
void
    wp_config_model_copy (wp_model_config_t *copy, const wp_model_config_t *model);

//  Free the strings of a model section made by wp_config_model_copy (and
//  zero it); safe on a zeroed section.
void
    wp_config_model_clear (wp_model_config_t *model);

//  Configured model by name, or NULL.
const wp_model_config_t *
    wp_config_model (const wp_config_t *self, const char *name);

//  Memory and load time of a model: its section, or the defaults.
uint32_t
    wp_config_model_memory_mb (const wp_config_t *self, const char *name);
uint32_t
    wp_config_model_load_ms (const wp_config_t *self, const char *name);

//  A device as written in the config: "cpu", "gpu", "gpu:N", into buffer.
const char *
    wp_device_name (uint32_t device, char *buffer, size_t size);

//  True when the configuration has a GPU axis (max_vram_mb set or auto).
bool
    wp_config_has_vram (const wp_config_t *self);

//  Name of a backend kind as written in the config ("llama-server").
const char *
    wp_backend_name (wp_backend_kind_t kind);

//  Fill *model with what a model without a section gets: the sim backend,
//  default_memory_mb, default_load_ms, the built-in retry policy; strings
//  NULL.
void
    wp_config_model_defaults (const wp_config_t *self, wp_model_config_t *model);

//  The model's name on its server: server_model, else name.
const char *
    wp_model_server_name (const wp_model_config_t *model, const char *name);

#ifdef __cplusplus
}
#endif

#endif
