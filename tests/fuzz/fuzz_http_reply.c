/*  =========================================================================
    fuzz_http_reply - the model servers' HTTP replies as the backends read
    them: llama-server (router /models), Ollama (/api/generate, /api/ps)
    and openai-compatible (configured paths), each warm, cool or status,
    run for real (libcurl, the job's state machine) against a server in
    this process that answers every request with the fuzz input verbatim
    (status line, headers and body: anything). The first byte picks the
    backend and the job. Whatever the reply, the job ends once, within its
    timeout, with a result that is ok or says why not.
    =========================================================================
*/
#include "fuzz.h"
#include "wp_backend.h"
#include "wp_config.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

//  What the server answers, set before each job.
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *s_reply;
static size_t s_reply_len;
static int s_port;

//  Read a request (headers, and a body of Content-Length) with a bound.
static void
s_read_request (int fd)
{
    char buffer [8192];
    size_t used = 0;
    long body = -1;
    while (used < sizeof buffer - 1) {
        struct pollfd item = { fd, POLLIN, 0 };
        if (poll (&item, 1, 500) <= 0)
            return;
        ssize_t n = recv (fd, buffer + used, sizeof buffer - 1 - used, 0);
        if (n <= 0)
            return;
        used += (size_t) n;
        buffer [used] = 0;
        char *end = strstr (buffer, "\r\n\r\n");
        if (end && body < 0) {
            char *length = strcasestr (buffer, "content-length:");
            body = length && length < end ? atol (length + 15) : 0;
        }
        if (end && (size_t) (end + 4 - buffer) + (size_t) body <= used)
            return;
    }
}

//  The server: one connection at a time, the reply, then close.
static void *
s_serve (void *arg)
{
    int listener = *(int *) arg;
    while (true) {
        int fd = accept (listener, NULL, NULL);
        if (fd < 0)
            continue;
        s_read_request (fd);
        pthread_mutex_lock (&s_lock);
        size_t sent = 0;
        while (sent < s_reply_len) {
            ssize_t n = send (fd, s_reply + sent, s_reply_len - sent, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            sent += (size_t) n;
        }
        pthread_mutex_unlock (&s_lock);
        shutdown (fd, SHUT_RDWR);
        close (fd);
    }
    return NULL;
}

//  Start the server once; its port in s_port.
static void
s_server_start (void)
{
    static int listener;
    listener = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = 0,
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    assert (bind (listener, (struct sockaddr *) &address, sizeof address) == 0);
    assert (listen (listener, 64) == 0);
    socklen_t length = sizeof address;
    getsockname (listener, (struct sockaddr *) &address, &length);
    s_port = ntohs (address.sin_port);
    pthread_t thread;
    assert (pthread_create (&thread, NULL, s_serve, &listener) == 0);
    pthread_detach (thread);
}

//  How a job ended.
typedef struct {
    int calls;
    bool ok;
    char error [600];
} s_outcome_t;

static void
s_done (wp_job_t *job, const wp_job_result_t *result, void *arg)
{
    s_outcome_t *outcome = (s_outcome_t *) arg;
    outcome->calls++;
    outcome->ok = result->ok;
    snprintf (outcome->error, sizeof outcome->error, "%s", result->error);
}

//  End the loop once the job called back.
static int
s_check (zloop_t *loop, int timer_id, void *arg)
{
    return ((s_outcome_t *) arg)->calls ? -1 : 0;
}

//  Give up (a job that outlives its timeout is a finding).
static int
s_give_up (zloop_t *loop, int timer_id, void *arg)
{
    return -1;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_init ();
    static wp_config_t *config;
    if (!config) {
        s_server_start ();
        char text [2048];
        snprintf (text, sizeof text,
                  "models\n"
                  "    llama\n"
                  "        backend = llama-server\n"
                  "        url = \"http://127.0.0.1:%d\"\n"
                  "        poll_ms = 10\n"
                  "        retries = 0\n"
                  "    ollama\n"
                  "        backend = ollama\n"
                  "        url = \"http://127.0.0.1:%d\"\n"
                  "        retries = 0\n"
                  "    openai\n"
                  "        backend = openai-compatible\n"
                  "        url = \"http://127.0.0.1:%d\"\n"
                  "        load_path = \"/load/%%m\"\n"
                  "        unload_path = \"/unload/%%m\"\n"
                  "        status_path = \"/status\"\n"
                  "        status_loaded = \"loaded\"\n"
                  "        poll_ms = 10\n"
                  "        retries = 0\n", s_port, s_port, s_port);
        const char *path = fuzz_file ("backends.cfg", (const uint8_t *) text, strlen (text));
        config = wp_config_load (path);
        assert (config);
    }
    if (size < 1)
        return 0;
    const char *names [] = { "llama", "ollama", "openai" };
    const char *name = names [data [0] % 3];
    wp_job_op_t op = (wp_job_op_t) (WP_JOB_WARM + (data [0] / 3) % 3);
    pthread_mutex_lock (&s_lock);
    free (s_reply);
    s_reply = (uint8_t *) malloc (size);
    memcpy (s_reply, data + 1, size - 1);
    s_reply_len = size - 1;
    pthread_mutex_unlock (&s_lock);

    zloop_t *loop = zloop_new ();
    wp_backends_t *backends = wp_backends_new (loop);
    assert (backends);
    s_outcome_t outcome = { 0 };
    wp_job_t *job = wp_backends_start (backends, wp_config_model (config, name), name, op,
                                       200, s_done, &outcome);
    assert (job);
    zloop_timer (loop, 2, 0, s_check, &outcome);
    zloop_timer (loop, 5000, 1, s_give_up, NULL);
    //  A signal (libFuzzer's timeout alarm) ends zloop_start early: again
    //  until the job ends or the bound passes.
    int64_t deadline = zclock_mono () + 5000;
    while (!outcome.calls && zclock_mono () < deadline)
        zloop_start (loop);
    //  Once, in time, ok or with a reason.
    assert (outcome.calls == 1);
    assert (outcome.ok || outcome.error [0]);
    assert (wp_backends_active (backends) == 0);
    wp_backends_destroy (&backends);
    zloop_destroy (&loop);
    return 0;
}
