/*  =========================================================================
    warmup - libwarmup, the client library (include/warmup/warmup.h): the
    bus through wp_bus (czmq, protobuf-c), HTTP through libcurl's easy
    interface, answers read with wp_jval. Everything a caller gives is
    checked here, with the bounds the service applies, so a bad event is
    refused at once with its field named rather than dropped on the bus.
    =========================================================================
*/
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include "warmup/warmup.h"
#include "wp_bus.h"
#include "wp_jval.h"
#include "wp_json.h"
#include "wp_keys.h"
#include "wp_util.h"

//  Largest HTTP answer read, bytes.
#define HTTP_ANSWER_MAX (1 << 20)
//  Longest session, language and file type accepted, bytes (as the proxy).
#define SESSION_MAX WARMUP_USER_MAX
#define LANGUAGE_MAX 64

struct _warmup_t {
    char *http_url;             //  the listener, without a trailing '/' (NULL: none)
    CURL *curl;                 //  the HTTP connection, kept alive between calls
    struct curl_slist *headers; //  Content-Type and Authorization
    wp_bus_t *bus;              //  the bus client (NULL: none)
    unsigned subscribe;         //  WARMUP_EVENT_* received
    int timeout_ms;             //  each HTTP call's bound
    char error [512];           //  the last failure, in words
    wp_bus_event_t received;    //  the bus event the current warmup_event_t reads
    warmup_model_t *models;     //  the current prediction event's models
    size_t models_cap;          //  their room
};

//  A growing buffer of an HTTP answer.
typedef struct {
    char *data;                 //  NUL-terminated
    size_t len;
    size_t cap;
    bool too_big;               //  it passed HTTP_ANSWER_MAX
} answer_t;

static const char *s_tasks [] = { "", "completion", "chat", "embedding", "rerank",
                                  "edit", "review" };
static const char *s_outcomes [] = { "unknown", "warm", "delayed", "cold", "uncacheable" };
static const char *s_priorities [] = { "", "low", "normal", "high" };

//  Record a failure and return its status.
static int
s_fail (warmup_t *self, int status, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
static int
s_fail (warmup_t *self, int status, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    return status;
}

int
warmup_version (void)
{
    return WARMUP_VERSION;
}

const char *
warmup_strerror (int status)
{
    switch (status) {
        case WARMUP_OK:        return "ok";
        case WARMUP_EINVAL:    return "invalid argument";
        case WARMUP_ENOTCONN:  return "not connected that way";
        case WARMUP_ETIMEDOUT: return "timed out";
        case WARMUP_EREFUSED:  return "refused by the service";
        case WARMUP_EIO:       return "transport failed";
        case WARMUP_EPROTO:    return "unreadable answer";
        case WARMUP_ENOMEM:    return "out of memory";
        default:               return "unknown status";
    }
}

//  Check an optional text field: at most max bytes, no control bytes.
static int
s_text_ok (warmup_t *self, const char *name, const char *text, size_t max, bool required)
{
    if (!text || !*text)
        return required ? s_fail (self, WARMUP_EINVAL, "%s is required", name) : 0;
    size_t len = strlen (text);
    if (len > max)
        return s_fail (self, WARMUP_EINVAL, "%s is %zu bytes (at most %zu)", name, len, max);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) text [i] < 0x20 || text [i] == 0x7f)
            return s_fail (self, WARMUP_EINVAL, "%s holds a control byte at %zu", name, i);
    return 0;
}

//  Check an enum value against its count of names.
static int
s_enum_ok (warmup_t *self, const char *name, int value, int count)
{
    if (value < 0 || value >= count)
        return s_fail (self, WARMUP_EINVAL, "%s is %d (0..%d)", name, value, count - 1);
    return 0;
}

//  Copy an optional string; NULL stays NULL.
static int
s_dup (char **target, const char *text)
{
    if (!text)
        return 0;
    *target = strdup (text);
    return *target ? 0 : -1;
}

//  --- connecting -------------------------------------------------------------

//  Set up the HTTP side: the URL and a kept-alive handle.
static int
s_http_open (warmup_t *self, const warmup_options_t *options)
{
    const char *url = options->http_url;
    if (strncmp (url, "http://", 7) && strncmp (url, "https://", 8))
        return s_fail (self, WARMUP_EINVAL, "http_url '%s' is not http:// or https://", url);
    if (s_dup (&self->http_url, url))
        return s_fail (self, WARMUP_ENOMEM, "out of memory");
    size_t len = strlen (self->http_url);
    while (len > 0 && self->http_url [len - 1] == '/')
        self->http_url [--len] = 0;
    self->curl = curl_easy_init ();
    if (!self->curl)
        return s_fail (self, WARMUP_ENOMEM, "curl_easy_init failed");
    self->headers = curl_slist_append (NULL, "Content-Type: application/json");
    if (options->http_token) {
        if (s_text_ok (self, "http_token", options->http_token, 512, true))
            return WARMUP_EINVAL;
        char header [600];
        snprintf (header, sizeof header, "Authorization: Bearer %s", options->http_token);
        self->headers = curl_slist_append (self->headers, header);
    }
    return self->headers ? 0 : s_fail (self, WARMUP_ENOMEM, "out of memory");
}

//  Set up the bus side: keys, the client, its subscriptions, readiness.
static int
s_bus_open (warmup_t *self, const warmup_options_t *options)
{
    wp_bus_opts_t bus_opts = { .linger_ms = 1000 };
    wp_keypair_t server, client;
    char why [400];
    if (options->bus_server_key) {
        if (!options->bus_client_cert)
            return s_fail (self, WARMUP_EINVAL,
                           "bus_server_key needs bus_client_cert (a certificate the service "
                           "admits: warmupctl keygen, then keys/allowed/)");
        if (wp_keys_load (options->bus_server_key, false, &server, why, sizeof why)
            || wp_keys_load (options->bus_client_cert, true, &client, why, sizeof why))
            return s_fail (self, WARMUP_EINVAL, "%s", why);
        bus_opts.curve_server_key = server.public_key;
        bus_opts.curve_public_key = client.public_key;
        bus_opts.curve_secret_key = client.secret_key;
    }
    char source [128];
    if (options->source)
        snprintf (source, sizeof source, "%s", options->source);
    else
        snprintf (source, sizeof source, "libwarmup/%d", (int) getpid ());
    self->bus = wp_bus_new (options->bus_publish, options->bus_subscribe, source, &bus_opts);
    memset (&client, 0, sizeof client);
    if (!self->bus)
        return s_fail (self, WARMUP_EINVAL, "bad bus endpoints '%s' / '%s'",
                       options->bus_publish, options->bus_subscribe);
    if (self->subscribe & WARMUP_EVENT_PREDICTION)
        wp_bus_subscribe (self->bus, wp_topic_name (WP_TOPIC_PREDICTION));
    if (self->subscribe & WARMUP_EVENT_WARMUP_DONE)
        wp_bus_subscribe (self->bus, wp_topic_name (WP_TOPIC_WARMUP_DONE));
    if (wp_bus_wait_ready (self->bus, self->timeout_ms))
        return s_fail (self, WARMUP_ETIMEDOUT,
                       "no bus at %s / %s within %d ms (is warmupd running%s?)",
                       options->bus_publish, options->bus_subscribe, self->timeout_ms,
                       options->bus_server_key ? ", and is this client's key in its "
                       "keys/allowed/" : "; on tcp:// it needs bus_server_key");
    return 0;
}

//  Once per process: a library leaves the program's signals alone (czmq
//  would take SIGINT and SIGTERM) and says nothing on stdout; libcurl's
//  global state is set up before any thread may race to it.
static void
s_init_once (void)
{
    zsys_handler_set (NULL);
    zsys_set_logstream (NULL);
    zsys_set_logsystem (false);
    curl_global_init (CURL_GLOBAL_DEFAULT);
}

warmup_t *
warmup_connect (const warmup_options_t *options, char *error, size_t error_size)
{
    static pthread_once_t s_once = PTHREAD_ONCE_INIT;
    pthread_once (&s_once, s_init_once);
    warmup_t *self = (warmup_t *) calloc (1, sizeof (warmup_t));
    if (!self) {
        if (error && error_size)
            snprintf (error, error_size, "out of memory");
        return NULL;
    }
    int rc = 0;
    if (!options)
        rc = s_fail (self, WARMUP_EINVAL, "no options");
    else {
        self->timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : 5000;
        self->subscribe = options->subscribe;
        bool bus = options->bus_publish || options->bus_subscribe;
        if (!options->http_url && !bus)
            rc = s_fail (self, WARMUP_EINVAL, "neither http_url nor the bus endpoints are set");
        else
        if (bus && !(options->bus_publish && options->bus_subscribe))
            rc = s_fail (self, WARMUP_EINVAL, "the bus needs both bus_publish and bus_subscribe");
        else
        if (self->subscribe & ~(unsigned) (WARMUP_EVENT_PREDICTION | WARMUP_EVENT_WARMUP_DONE))
            rc = s_fail (self, WARMUP_EINVAL, "subscribe has unknown bits 0x%x", self->subscribe);
        else
        if (self->subscribe && !bus)
            rc = s_fail (self, WARMUP_ENOTCONN, "subscribe needs the bus (bus_publish, "
                         "bus_subscribe)");
        if (rc == 0 && options->http_url)
            rc = s_http_open (self, options);
        if (rc == 0 && bus)
            rc = s_bus_open (self, options);
    }
    if (rc) {
        if (error && error_size)
            snprintf (error, error_size, "%s", self->error);
        warmup_destroy (&self);
    }
    return self;
}

void
warmup_destroy (warmup_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    warmup_t *self = *self_p;
    wp_bus_event_free (&self->received);
    wp_bus_destroy (&self->bus);
    if (self->curl)
        curl_easy_cleanup (self->curl);
    curl_slist_free_all (self->headers);
    free (self->http_url);
    free (self->models);
    free (self);
    *self_p = NULL;
}

const char *
warmup_last_error (warmup_t *self)
{
    return self ? self->error : "no client";
}

//  --- HTTP -------------------------------------------------------------------

//  libcurl's write callback: keep up to HTTP_ANSWER_MAX bytes.
static size_t
s_http_write (char *data, size_t size, size_t count, void *arg)
{
    answer_t *answer = (answer_t *) arg;
    size_t bytes = size * count;
    if (answer->len + bytes > HTTP_ANSWER_MAX) {
        answer->too_big = true;
        return 0;
    }
    if (answer->len + bytes + 1 > answer->cap) {
        size_t cap = (answer->len + bytes + 1) * 2;
        char *grown = (char *) realloc (answer->data, cap);
        if (!grown)
            return 0;
        answer->data = grown;
        answer->cap = cap;
    }
    memcpy (answer->data + answer->len, data, bytes);
    answer->len += bytes;
    answer->data [answer->len] = 0;
    return bytes;
}

//  The refusal a 4xx or 5xx answer states: {"error": ..., "field": ...}.
static int
s_http_refused (warmup_t *self, const char *url, long code, const answer_t *answer)
{
    wp_jval_t *json = answer->data ? wp_jval_parse (answer->data, answer->len) : NULL;
    const char *message = wp_jval_str (wp_jval_get (json, "error"));
    const char *field = wp_jval_str (wp_jval_get (json, "field"));
    int status = code >= 500 ? WARMUP_EIO : WARMUP_EREFUSED;
    s_fail (self, status, "%s: HTTP %ld%s%s%s%s", url, code, message ? ": " : "",
            message ? message : "", field && *field ? ", field " : "", field ? field : "");
    wp_jval_destroy (&json);
    return status;
}

//  POST body to path; on a 2xx answer its parsed JSON into *reply (may be
//  NULL: not parsed). Returns 0 or a status with the reason recorded.
static int
s_http_post (warmup_t *self, const char *path, const char *body, int timeout_ms,
             wp_jval_t **reply)
{
    if (!self->curl)
        return s_fail (self, WARMUP_ENOTCONN, "%s needs HTTP (http_url)", path);
    char url [1024];
    snprintf (url, sizeof url, "%s%s", self->http_url, path);
    answer_t answer = { NULL, 0, 0, false };
    CURL *curl = self->curl;
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, self->headers);
    curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE, (long) strlen (body));
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_http_write);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long) (timeout_ms > 0 ? timeout_ms
                                                                        : self->timeout_ms));
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode code = curl_easy_perform (curl);
    int rc = 0;
    long status = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    if (code == CURLE_OPERATION_TIMEDOUT)
        rc = s_fail (self, WARMUP_ETIMEDOUT, "%s: no answer within %d ms", url,
                     timeout_ms > 0 ? timeout_ms : self->timeout_ms);
    else
    if (answer.too_big)
        rc = s_fail (self, WARMUP_EPROTO, "%s: an answer over %d bytes", url, HTTP_ANSWER_MAX);
    else
    if (code != CURLE_OK)
        rc = s_fail (self, WARMUP_EIO, "%s: %s", url, curl_easy_strerror (code));
    else
    if (status < 200 || status > 299)
        rc = s_http_refused (self, url, status, &answer);
    else
    if (reply) {
        *reply = answer.data ? wp_jval_parse (answer.data, answer.len) : NULL;
        if (wp_jval_type (*reply) != WP_JVAL_OBJECT) {
            wp_jval_destroy (reply);
            rc = s_fail (self, WARMUP_EPROTO, "%s: the answer is not a JSON object", url);
        }
    }
    free (answer.data);
    return rc;
}

//  A JSON body under construction.
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} body_t;

//  Append ,"name":"text" when text is set.
static void
s_json_text (body_t *body, const char *name, const char *text)
{
    if (!text || !*text)
        return;
    wp_json_appendf (&body->data, &body->len, &body->cap, "%s\"%s\":",
                     body->len > 1 ? "," : "", name);
    wp_json_append_string (&body->data, &body->len, &body->cap, text);
}

//  Append ,"name":number when number is not 0.
static void
s_json_number (body_t *body, const char *name, uint64_t number)
{
    if (number)
        wp_json_appendf (&body->data, &body->len, &body->cap, "%s\"%s\":%" PRIu64,
                         body->len > 1 ? "," : "", name, number);
}

//  --- observe, intent ----------------------------------------------------------

//  Check a usage event as the service would.
static int
s_usage_check (warmup_t *self, const warmup_usage_t *usage)
{
    if (!usage)
        return s_fail (self, WARMUP_EINVAL, "no usage event");
    int rc = s_text_ok (self, "user", usage->user, WARMUP_USER_MAX, true);
    if (!rc) rc = s_text_ok (self, "model", usage->model, WARMUP_MODEL_MAX, true);
    if (!rc) rc = s_text_ok (self, "session", usage->session, SESSION_MAX, false);
    if (!rc) rc = s_text_ok (self, "language", usage->language, LANGUAGE_MAX, false);
    if (!rc) rc = s_text_ok (self, "file_type", usage->file_type, LANGUAGE_MAX, false);
    if (!rc) rc = s_enum_ok (self, "task", usage->task, 7);
    if (!rc) rc = s_enum_ok (self, "outcome", usage->outcome, 5);
    if (!rc) rc = s_enum_ok (self, "priority", usage->priority, 4);
    return rc;
}

//  Publish a message on the bus; its strings are the caller's.
static int
s_publish (warmup_t *self, wp_topic_t topic, ProtobufCMessage *msg)
{
    if (wp_bus_publish (self->bus, topic, msg))
        return s_fail (self, WARMUP_EIO, "publishing %s failed (the bus's queue is full "
                       "or closed)", wp_topic_name (topic));
    return 0;
}

int
warmup_observe (warmup_t *self, const warmup_usage_t *usage)
{
    assert (self);
    int rc = s_usage_check (self, usage);
    if (rc)
        return rc;
    uint64_t event_ms = usage->event_ms ? usage->event_ms : wp_wall_us () / 1000;
    if (self->bus) {
        Warmup__V1__UsageObserved msg = WARMUP__V1__USAGE_OBSERVED__INIT;
        msg.event_ms = event_ms;
        msg.user = (char *) usage->user;
        msg.model = (char *) usage->model;
        msg.session = (char *) (usage->session ? usage->session : "");
        msg.language = (char *) (usage->language ? usage->language : "");
        msg.file_type = (char *) (usage->file_type ? usage->file_type : "");
        msg.task = (Warmup__V1__Task) usage->task;
        msg.priority = (Warmup__V1__Priority) usage->priority;
        msg.outcome = (Warmup__V1__Outcome) usage->outcome;
        msg.wait_ms = usage->wait_ms;
        msg.input_tokens = usage->input_tokens;
        msg.acceptable_latency_ms = usage->acceptable_latency_ms;
        return s_publish (self, WP_TOPIC_USAGE, &msg.base);
    }
    body_t body = { NULL, 0, 0 };
    wp_json_appendf (&body.data, &body.len, &body.cap, "{");
    s_json_text (&body, "user", usage->user);
    s_json_text (&body, "model", usage->model);
    s_json_text (&body, "task", s_tasks [usage->task]);
    s_json_text (&body, "session", usage->session);
    s_json_text (&body, "language", usage->language);
    s_json_text (&body, "file_type", usage->file_type);
    s_json_number (&body, "event_ms", event_ms);
    s_json_text (&body, "priority", s_priorities [usage->priority]);
    if (usage->outcome)
        s_json_text (&body, "outcome", s_outcomes [usage->outcome]);
    s_json_number (&body, "wait_ms", usage->wait_ms);
    s_json_number (&body, "input_tokens", usage->input_tokens);
    s_json_number (&body, "acceptable_latency_ms", usage->acceptable_latency_ms);
    wp_json_appendf (&body.data, &body.len, &body.cap, "}");
    rc = body.data ? s_http_post (self, "/warmup/v1/usage", body.data, 0, NULL)
                   : s_fail (self, WARMUP_ENOMEM, "out of memory");
    free (body.data);
    return rc;
}

//  Check an intent as the service would.
static int
s_intent_check (warmup_t *self, const warmup_intent_t *intent)
{
    if (!intent)
        return s_fail (self, WARMUP_EINVAL, "no intent");
    int rc = s_text_ok (self, "user", intent->user, WARMUP_USER_MAX, true);
    if (!rc && !wp_intent_kind_ok (intent->kind))
        rc = s_fail (self, WARMUP_EINVAL, "kind '%s' is not 1..%d bytes of [a-z0-9._-]",
                     intent->kind ? intent->kind : "", WARMUP_KIND_MAX);
    if (!rc) rc = s_text_ok (self, "model", intent->model, WARMUP_MODEL_MAX, false);
    if (!rc) rc = s_text_ok (self, "session", intent->session, SESSION_MAX, false);
    if (!rc) rc = s_text_ok (self, "language", intent->language, LANGUAGE_MAX, false);
    if (!rc) rc = s_text_ok (self, "file_type", intent->file_type, LANGUAGE_MAX, false);
    if (!rc) rc = s_enum_ok (self, "task", intent->task, 7);
    return rc;
}

int
warmup_intent (warmup_t *self, const warmup_intent_t *intent)
{
    assert (self);
    int rc = s_intent_check (self, intent);
    if (rc)
        return rc;
    uint64_t event_ms = intent->event_ms ? intent->event_ms : wp_wall_us () / 1000;
    if (self->bus) {
        Warmup__V1__UsageIntent msg = WARMUP__V1__USAGE_INTENT__INIT;
        msg.event_ms = event_ms;
        msg.user = (char *) intent->user;
        msg.kind = (char *) intent->kind;
        msg.model = (char *) (intent->model ? intent->model : "");
        msg.session = (char *) (intent->session ? intent->session : "");
        msg.language = (char *) (intent->language ? intent->language : "");
        msg.file_type = (char *) (intent->file_type ? intent->file_type : "");
        msg.task = (Warmup__V1__Task) intent->task;
        return s_publish (self, WP_TOPIC_INTENT, &msg.base);
    }
    body_t body = { NULL, 0, 0 };
    wp_json_appendf (&body.data, &body.len, &body.cap, "{");
    s_json_text (&body, "user", intent->user);
    s_json_text (&body, "kind", intent->kind);
    s_json_text (&body, "model", intent->model);
    s_json_text (&body, "language", intent->language);
    s_json_text (&body, "file_type", intent->file_type);
    s_json_text (&body, "session", intent->session);
    s_json_text (&body, "task", s_tasks [intent->task]);
    s_json_number (&body, "event_ms", event_ms);
    wp_json_appendf (&body.data, &body.len, &body.cap, "}");
    rc = body.data ? s_http_post (self, "/warmup/v1/intent", body.data, 0, NULL)
                   : s_fail (self, WARMUP_ENOMEM, "out of memory");
    free (body.data);
    return rc;
}

//  --- predict --------------------------------------------------------------------

//  Read one model of a predict answer; -1 when it does not read.
static int
s_predict_model (const wp_jval_t *item, const wp_jval_t *warming, warmup_model_t *model)
{
    const char *name = wp_jval_str (wp_jval_get (item, "model"));
    if (!name || !*name || strlen (name) > WARMUP_MODEL_MAX)
        return -1;
    memset (model, 0, sizeof *model);
    snprintf (model->model, sizeof model->model, "%s", name);
    model->probability = wp_jval_num (wp_jval_get (item, "probability"), 0);
    model->confidence = wp_jval_num (wp_jval_get (item, "confidence"), 0);
    double expected = wp_jval_num (wp_jval_get (item, "expected_in_ms"), 0);
    model->expected_in_ms = expected > 0 && expected < 1e18 ? (uint64_t) expected : 0;
    const char *state = wp_jval_str (wp_jval_get (item, "state"));
    snprintf (model->state, sizeof model->state, "%s", state ? state : "");
    for (size_t i = 0; i < wp_jval_size (warming); i++) {
        const char *warm = wp_jval_str (wp_jval_at (warming, i));
        if (warm && streq (warm, name))
            model->warming = 1;
    }
    return 0;
}

int
warmup_predict (warmup_t *self, const warmup_predict_t *request, warmup_model_t *models,
                size_t capacity, size_t *count, int timeout_ms)
{
    assert (self);
    if (!count || (capacity && !models))
        return s_fail (self, WARMUP_EINVAL, "predict needs count, and models for capacity");
    *count = 0;
    warmup_predict_t any = { NULL, 0, 0, 0, 0 };
    if (!request)
        request = &any;
    int rc = s_text_ok (self, "user", request->user, WARMUP_USER_MAX, false);
    if (!rc) rc = s_enum_ok (self, "task", request->task, 7);
    if (!rc) rc = s_enum_ok (self, "priority", request->priority, 4);
    if (rc)
        return rc;
    body_t body = { NULL, 0, 0 };
    wp_json_appendf (&body.data, &body.len, &body.cap, "{");
    s_json_text (&body, "user", request->user);
    s_json_text (&body, "task", s_tasks [request->task]);
    s_json_text (&body, "priority", s_priorities [request->priority]);
    s_json_number (&body, "acceptable_latency_ms", request->acceptable_latency_ms);
    if (request->no_warm)
        wp_json_appendf (&body.data, &body.len, &body.cap, "%s\"warm\":false",
                         body.len > 1 ? "," : "");
    wp_json_appendf (&body.data, &body.len, &body.cap, "}");
    wp_jval_t *reply = NULL;
    rc = body.data ? s_http_post (self, "/warmup/v1/predict", body.data, timeout_ms, &reply)
                   : s_fail (self, WARMUP_ENOMEM, "out of memory");
    free (body.data);
    if (rc)
        return rc;
    const wp_jval_t *list = wp_jval_get (reply, "models");
    const wp_jval_t *warming = wp_jval_get (reply, "warming");
    if (wp_jval_type (list) != WP_JVAL_ARRAY)
        rc = s_fail (self, WARMUP_EPROTO, "the predict answer has no models list");
    for (size_t i = 0; rc == 0 && i < wp_jval_size (list) && *count < capacity; i++)
        if (s_predict_model (wp_jval_at (list, i), warming, &models [*count]) == 0)
            (*count)++;
        else
            rc = s_fail (self, WARMUP_EPROTO, "the predict answer's models[%zu] has no "
                         "usable model", i);
    wp_jval_destroy (&reply);
    return rc;
}

//  --- subscriptions ---------------------------------------------------------------

//  Fill event from a prediction.made; -1 when out of memory.
static int
s_event_prediction (warmup_t *self, Warmup__V1__PredictionMade *made, warmup_event_t *event)
{
    if (made->n_models > self->models_cap) {
        warmup_model_t *grown = (warmup_model_t *) realloc (self->models,
                                                            made->n_models * sizeof *grown);
        if (!grown)
            return -1;
        self->models = grown;
        self->models_cap = made->n_models;
    }
    size_t n = 0;
    for (size_t i = 0; i < made->n_models; i++) {
        Warmup__V1__ModelPrediction *p = made->models [i];
        if (!p->model || !*p->model)
            continue;
        warmup_model_t *model = &self->models [n++];
        memset (model, 0, sizeof *model);
        snprintf (model->model, sizeof model->model, "%s", p->model);
        model->probability = p->probability;
        model->confidence = p->confidence;
        model->expected_in_ms = p->expected_in_ms;
    }
    event->type = WARMUP_EVENT_PREDICTION;
    event->event_ms = made->event_ms;
    event->user = made->user ? made->user : "";
    event->horizon_s = made->horizon_s;
    event->model_count = n;
    event->models = self->models;
    return 0;
}

//  Fill event from a warmup.done.
static void
s_event_done (Warmup__V1__WarmupDone *done, warmup_event_t *event)
{
    event->type = WARMUP_EVENT_WARMUP_DONE;
    event->event_ms = done->event_ms;
    event->model = done->model ? done->model : "";
    event->warm = done->action == WARMUP__V1__ACTION__ACTION_WARM;
    event->ok = done->ok;
    event->error = done->error ? done->error : "";
    event->reason = done->reason ? done->reason : "";
    event->backend = done->backend ? done->backend : "";
    event->duration_ms = done->duration_ms;
    event->memory_mb = done->memory_mb;
}

int
warmup_next (warmup_t *self, warmup_event_t *event, int timeout_ms)
{
    assert (self);
    if (!event)
        return s_fail (self, WARMUP_EINVAL, "no event to fill");
    if (!self->bus || !self->subscribe)
        return s_fail (self, WARMUP_ENOTCONN, "events need the bus and a subscription "
                       "(options.subscribe)");
    wp_bus_event_free (&self->received);
    int64_t deadline = zclock_mono () + (timeout_ms > 0 ? timeout_ms : 0);
    while (true) {
        int64_t left = deadline - zclock_mono ();
        int wait = timeout_ms < 0 ? -1 : left > 0 ? (int) left : 0;
        int got = wait == 0 ? wp_bus_recv (self->bus, &self->received)
                            : wp_bus_recv_wait (self->bus, &self->received, wait);
        if (got < 0)
            return s_fail (self, WARMUP_EIO, "interrupted");
        if (got == 0) {
            if (wait == 0 || (timeout_ms >= 0 && zclock_mono () >= deadline))
                return 0;
            continue;
        }
        memset (event, 0, sizeof *event);
        if (self->received.topic == WP_TOPIC_PREDICTION) {
            if (s_event_prediction (self, (Warmup__V1__PredictionMade *) self->received.msg,
                                    event))
                return s_fail (self, WARMUP_ENOMEM, "out of memory");
            return 1;
        }
        if (self->received.topic == WP_TOPIC_WARMUP_DONE) {
            s_event_done ((Warmup__V1__WarmupDone *) self->received.msg, event);
            return 1;
        }
        wp_bus_event_free (&self->received);    //  a topic sharing a prefix
    }
}

int
warmup_dispatch (warmup_t *self, warmup_callback_fn *fn, void *arg, int timeout_ms)
{
    assert (self);
    if (!fn)
        return s_fail (self, WARMUP_EINVAL, "no callback");
    int64_t deadline = zclock_mono () + (timeout_ms > 0 ? timeout_ms : 0);
    int handed = 0;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        int wait = timeout_ms < 0 ? -1 : left > 0 ? (int) left : 0;
        warmup_event_t event;
        int rc = warmup_next (self, &event, wait);
        if (rc <= 0)
            return rc < 0 ? rc : handed;
        handed++;
        if (fn (&event, arg))
            return handed;
    }
}

int
warmup_fd (warmup_t *self)
{
    assert (self);
    if (!self->bus)
        return -1;
    return zsock_fd (wp_bus_sub_socket (self->bus));
}
