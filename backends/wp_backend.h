/*  =========================================================================
    wp_backend - the backends that warm and cool models, behind one small
    interface: start a job (warm, cool or status of one model), get one
    callback with its result, or cancel it.

    Each backend lives in its own file (wp_backend_<name>.c) and provides a
    wp_backend_t: `start` begins the work of a job without blocking (HTTP
    through the shared wp_curl client, child processes through pidfd
    pollers, file reads in slices on timers), `stop` releases whatever the
    job still holds. Backends:

      sim                a labelled simulation: waits load_ms, loads nothing
      exec               runs the model's command / cool_command
      llama-server       llama.cpp's router: POST /models/load, /models/unload,
                         GET /models (polled until the model is loaded)
      ollama             POST /api/generate {"model", "keep_alive"}, GET /api/ps
      openai-compatible  configured load / unload / status requests
      file               weight files into the page cache and out of it,
                         residency measured with mincore

    Every job has a timeout: the backend itself ends the work and reports
    `timed_out` when it passes (HTTP requests carry the time left, a
    command gets SIGTERM then SIGKILL 2 s later, file reads stop).

    The runtime (wp_backends_t) owns the HTTP client and the loop hooks.
    Callbacks always come from the loop, never from inside
    wp_backends_start or wp_backends_cancel. Loop handlers are keyed by
    timer id and fd and look the job up, so a job cancelled earlier in the
    same loop pass is never touched.
    =========================================================================
*/
#ifndef WP_BACKEND_H_INCLUDED
#define WP_BACKEND_H_INCLUDED

#include <czmq.h>
#include "wp_config.h"
#include "wp_curl.h"

#ifdef __cplusplus
extern "C" {
#endif

//  What a job does.
typedef enum {
    WP_JOB_WARM = 1,            //  load the model
    WP_JOB_COOL = 2,            //  unload it
    WP_JOB_STATUS = 3           //  is it loaded?
} wp_job_op_t;

//  The outcome of a job.
typedef struct {
    bool ok;                    //  it did what was asked
    bool retryable;             //  a failure worth retrying (connection,
                                //  timeout, 5xx, 429, a failed command)
    bool timed_out;             //  the job's timeout ended it
    bool loaded;                //  status: the model is loaded
    uint64_t memory_bytes;      //  memory the model holds as measured or
                                //  reported by the server, 0 = unknown
    uint64_t vram_bytes;        //  of it on GPUs, as the server reports (Ollama's
                                //  size_vram), 0 = none or unknown
    const char *memory_source;  //  "resident", "server" (the whole footprint),
                                //  "server-weights" (the weights only: a lower
                                //  bound), or NULL (unknown)
    uint64_t resident_bytes;    //  file: bytes of its files in the page cache
    uint64_t total_bytes;       //  file: bytes of its files
    char error [600];           //  why it failed, "" when ok
} wp_job_result_t;

typedef struct _wp_backends_t wp_backends_t;
typedef struct _wp_job_t wp_job_t;

//  Called once when a job ends (not after a cancel); the job is destroyed
//  when it returns. result is borrowed for the call.
typedef void (wp_job_fn) (wp_job_t *job, const wp_job_result_t *result, void *arg);

//  A backend.
typedef struct {
    const char *name;           //  as in the config: "llama-server"
    //  Begin the work. Returns 0, or -1 after wp_job_fail (nothing left
    //  running).
    int (*start) (wp_job_t *job);
    //  Release what the job holds (its state, requests, children). Timers
    //  and pollers made with wp_job_timer / wp_job_poll end by themselves.
    void (*stop) (wp_job_t *job);
} wp_backend_t;

extern const wp_backend_t wp_backend_sim;
extern const wp_backend_t wp_backend_exec;
extern const wp_backend_t wp_backend_llama;
extern const wp_backend_t wp_backend_ollama;
extern const wp_backend_t wp_backend_openai;
extern const wp_backend_t wp_backend_file;

//  --- The runtime ---------------------------------------------------------

//  Create the runtime on a loop. NULL if the HTTP client cannot start.
wp_backends_t *
    wp_backends_new (zloop_t *loop);

//  Destroy; cancels every job (no callbacks); nulls *self_p. Safe on NULL.
void
    wp_backends_destroy (wp_backends_t **self_p);

//  The backend of a kind.
const wp_backend_t *
    wp_backends_get (wp_backend_kind_t kind);

//  Start a job: op on the model `name`, configured by model (the struct
//  is copied, its strings are borrowed: the config must outlive the job),
//  within timeout_ms (>= 1).
//  fn is called once, later, from the loop. Returns the job (valid until
//  fn returns or wp_backends_cancel).
wp_job_t *
    wp_backends_start (wp_backends_t *self, const wp_model_config_t *model,
                       const char *name, wp_job_op_t op, uint32_t timeout_ms,
                       wp_job_fn *fn, void *arg);

//  Cancel a job that has not called back: its backend stops it (a child
//  is killed, a request abandoned), fn is not called. Nulls *job_p. Safe
//  on NULL.
void
    wp_backends_cancel (wp_backends_t *self, wp_job_t **job_p);

//  Jobs not finished.
size_t
    wp_backends_active (wp_backends_t *self);

//  The shared HTTP client.
wp_curl_t *
    wp_backends_curl (wp_backends_t *self);

//  --- For backends ----------------------------------------------------------

//  The job's model section (a copy owned by the job), name, op, backend.
const wp_model_config_t *
    wp_job_model (wp_job_t *job);
const char *
    wp_job_name (wp_job_t *job);
wp_job_op_t
    wp_job_op (wp_job_t *job);

//  The model's name on its server (server_model, else the name).
const char *
    wp_job_server_name (wp_job_t *job);

//  The job's timeout, and the ms left of it (0 when passed).
uint32_t
    wp_job_timeout_ms (wp_job_t *job);
uint32_t
    wp_job_left_ms (wp_job_t *job);

//  The backend's own state for the job (NULL at start).
void *
    wp_job_state (wp_job_t *job);
void
    wp_job_set_state (wp_job_t *job, void *state);

//  The loop and the HTTP client.
zloop_t *
    wp_job_loop (wp_job_t *job);
wp_curl_t *
    wp_job_curl (wp_job_t *job);

//  Call fn (job) once after delay_ms. Returns 0 or -1.
typedef void (wp_job_timer_fn) (wp_job_t *job);
int
    wp_job_timer (wp_job_t *job, size_t delay_ms, wp_job_timer_fn *fn);

//  Call fn (job, fd) whenever fd is readable, until wp_job_poll_end or the
//  job ends. Returns 0 or -1.
typedef void (wp_job_poll_fn) (wp_job_t *job, int fd);
int
    wp_job_poll (wp_job_t *job, int fd, wp_job_poll_fn *fn);
void
    wp_job_poll_end (wp_job_t *job, int fd);

//  End the job with a result (copied); the callback follows from the loop.
//  Later calls of finish or fail are ignored.
void
    wp_job_finish (wp_job_t *job, const wp_job_result_t *result);

//  End the job as failed, with a formatted error.
void
    wp_job_fail (wp_job_t *job, bool retryable, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  True once finish or fail was called.
bool
    wp_job_ended (wp_job_t *job);

//  HTTP for the job: method on the model's url + path (NULL body = none),
//  with the model's api_key and the job's time left as the timeout. One
//  request at a time per job (stop cancels it). fn gets the reply.
//  Returns 0, or -1 after failing the job.
typedef void (wp_job_http_fn) (wp_job_t *job, const wp_curl_reply_t *reply);
int
    wp_job_request (wp_job_t *job, const char *method, const char *path,
                    const char *body, wp_job_http_fn *fn);

//  Fail the job with a failed reply: "<what>: <reply error>", retryable
//  for transport errors, 5xx, 408 and 429; timed_out when it timed out.
void
    wp_job_fail_reply (wp_job_t *job, const char *what, const wp_curl_reply_t *reply);

#ifdef __cplusplus
}
#endif

#endif
