/*  =========================================================================
    wp_front_api - the proxy's HTTP API: readers and answers.
    =========================================================================
*/
#include <czmq.h>
#include <math.h>
#include <stdarg.h>
#include "wp_front_api.h"
#include "wp_jval.h"
#include "wp_json.h"
#include "wp_util.h"

//  Fill an error.
int
wp_front_error (wp_front_error_t *error, int status, const char *field,
                const char *format, ...)
{
    assert (error);
    error->status = status;
    snprintf (error->field, sizeof error->field, "%s", field ? field : "");
    va_list args;
    va_start (args, format);
    vsnprintf (error->message, sizeof error->message, format, args);
    va_end (args);
    return -1;
}

//  An error as JSON.
char *
wp_front_error_json (const wp_front_error_t *error, size_t *size)
{
    char *json = NULL;
    size_t len = 0, cap = 0;
    wp_json_appendf (&json, &len, &cap, "{\"error\":");
    wp_json_append_string (&json, &len, &cap, error->message);
    wp_json_appendf (&json, &len, &cap, ",\"field\":");
    wp_json_append_string (&json, &len, &cap, error->field);
    wp_json_appendf (&json, &len, &cap, "}\n");
    *size = len;
    return json;
}

//  ---------------------------------------------------------------------------
//  Shared readers of JSON values

//  Kinds of field.
typedef enum {
    F_ID,           //  1..256 bytes, no control byte (user)
    F_TEXT,         //  0..limit bytes, no control byte
    F_MODEL,        //  1..200 bytes, no control byte
    F_KIND,         //  a usage.intent kind: 1..48 bytes of [a-z0-9._-]
    F_U32,          //  an integer in 0..2^32-1
    F_U64,          //  an integer in 0..9e15 (ms since the epoch)
    F_ENUM,         //  a name of the enum (lower case, prefix dropped)
    F_BOOL          //  true or false
} field_kind_t;

//  An integer JSON number in 0..max into *value. Returns 0 or -1.
static int
s_integer (const wp_jval_t *value, double max, double *out)
{
    if (wp_jval_type (value) != WP_JVAL_NUMBER)
        return -1;
    double number = wp_jval_num (value, -1);
    if (!(number >= 0) || number > max || number != floor (number))
        return -1;
    *out = number;
    return 0;
}

//  The value of an enum by short name ("chat" for TASK_CHAT; case
//  ignored), or -1. Zero ("unspecified") is refused.
static int
s_enum_value (const ProtobufCEnumDescriptor *desc, const char *prefix, const char *name)
{
    char full [64];
    size_t prefix_len = strlen (prefix), name_len = name ? strlen (name) : 0;
    if (!name || prefix_len + name_len >= sizeof full)
        return -1;
    memcpy (full, prefix, prefix_len);
    memcpy (full + prefix_len, name, name_len + 1);
    for (char *c = full; *c; c++)
        *c = (char) toupper ((unsigned char) *c);
    const ProtobufCEnumValue *value = protobuf_c_enum_descriptor_get_value_by_name (desc, full);
    return value && value->value != 0 ? value->value : -1;
}

//  The enum's names, lower case, for an error message.
static void
s_enum_names (const ProtobufCEnumDescriptor *desc, size_t prefix, char *out, size_t size)
{
    size_t used = 0;
    out [0] = 0;
    for (unsigned i = 0; i < desc->n_values; i++) {
        if (desc->values [i].value == 0)
            continue;
        const char *name = desc->values [i].name + prefix;
        int n = snprintf (out + used, size - used, "%s", used ? ", " : "");
        used += (size_t) n < size - used ? (size_t) n : 0;
        for (const char *c = name; *c && used + 1 < size; c++)
            out [used++] = (char) tolower ((unsigned char) *c);
        out [used] = 0;
    }
}

//  True if text has no control byte.
static bool
s_printable (const char *text)
{
    for (const unsigned char *c = (const unsigned char *) text; *c; c++)
        if (*c < 0x20 || *c == 0x7F)
            return false;
    return true;
}

//  Check a string field of a kind; returns the text or NULL after filling
//  error.
static const char *
s_string_field (const wp_jval_t *value, field_kind_t kind, size_t limit, const char *field,
                wp_front_error_t *error)
{
    const char *text = wp_jval_str (value);
    if (!text) {
        wp_front_error (error, 400, field, "must be a string");
        return NULL;
    }
    if (kind == F_KIND) {
        if (!wp_intent_kind_ok (text)) {
            wp_front_error (error, 400, field, "must be 1..%d characters of [a-z0-9._-]: "
                            "chat.opened, typing.started, file.opened, editor.focused, "
                            "review.requested, or a name of yours", WP_INTENT_KIND_MAX);
            return NULL;
        }
        return text;
    }
    size_t length = strlen (text);
    size_t min = kind == F_TEXT ? 0 : 1;
    if (kind == F_ID)
        limit = WP_FRONT_USER_MAX;
    if (kind == F_MODEL)
        limit = WP_FRONT_MODEL_MAX;
    if (length < min || length > limit || !s_printable (text)) {
        wp_front_error (error, 400, field, "must be %zu..%zu bytes without control "
                        "characters", min, limit);
        return NULL;
    }
    return text;
}

//  ---------------------------------------------------------------------------
//  POST /warmup/v1/usage and /warmup/v1/intent

//  One field of an event as read from JSON.
typedef struct {
    const char *name;           //  JSON name = the schema's field name
    field_kind_t kind;
    size_t offset;              //  into the message
    size_t limit;               //  F_TEXT: longest, bytes
    const ProtobufCEnumDescriptor *desc;    //  F_ENUM
    const char *prefix;         //  F_ENUM: prefix of the value names
} event_field_t;

//  What one kind of event is read as.
typedef struct {
    const ProtobufCMessageDescriptor *descriptor;
    const event_field_t *fields;
    size_t n_fields;
    const char *names;          //  its fields, for an unknown one's error
    size_t event_ms;            //  offset of event_ms (default: now)
    const char *required [2];   //  string fields that must be given
    const char *why [2];        //  what each is
} event_spec_t;

#define UF(n, k, l, d, p) { #n, k, offsetof (Warmup__V1__UsageObserved, n), l, d, p }

static const event_field_t s_usage_fields [] = {
    UF (event_ms, F_U64, 0, NULL, NULL),
    UF (user, F_ID, 0, NULL, NULL),
    UF (session, F_TEXT, WP_FRONT_USER_MAX, NULL, NULL),
    UF (model, F_MODEL, 0, NULL, NULL),
    UF (task, F_ENUM, 0, &warmup__v1__task__descriptor, "TASK_"),
    UF (language, F_TEXT, 64, NULL, NULL),
    UF (file_type, F_TEXT, 64, NULL, NULL),
    UF (project_files, F_U32, 0, NULL, NULL),
    UF (input_tokens, F_U32, 0, NULL, NULL),
    UF (priority, F_ENUM, 0, &warmup__v1__priority__descriptor, "PRIORITY_"),
    UF (acceptable_latency_ms, F_U32, 0, NULL, NULL),
    UF (outcome, F_ENUM, 0, &warmup__v1__outcome__descriptor, "OUTCOME_"),
    UF (wait_ms, F_U32, 0, NULL, NULL),
};

static const event_spec_t s_usage_spec = {
    &warmup__v1__usage_observed__descriptor, s_usage_fields,
    sizeof s_usage_fields / sizeof s_usage_fields [0],
    "UsageObserved: user, model, task, event_ms, session, language, file_type, "
    "project_files, input_tokens, priority, acceptable_latency_ms, outcome, wait_ms",
    offsetof (Warmup__V1__UsageObserved, event_ms),
    { "user", "model" }, { "who made the request", "the model used" }
};

#define IF(n, k, l, d, p) { #n, k, offsetof (Warmup__V1__UsageIntent, n), l, d, p }

static const event_field_t s_intent_fields [] = {
    IF (event_ms, F_U64, 0, NULL, NULL),
    IF (user, F_ID, 0, NULL, NULL),
    IF (session, F_TEXT, WP_FRONT_USER_MAX, NULL, NULL),
    IF (kind, F_KIND, 0, NULL, NULL),
    IF (model, F_MODEL, 0, NULL, NULL),
    IF (language, F_TEXT, 64, NULL, NULL),
    IF (file_type, F_TEXT, 64, NULL, NULL),
    IF (task, F_ENUM, 0, &warmup__v1__task__descriptor, "TASK_"),
};

static const event_spec_t s_intent_spec = {
    &warmup__v1__usage_intent__descriptor, s_intent_fields,
    sizeof s_intent_fields / sizeof s_intent_fields [0],
    "UsageIntent: user, kind, model, language, event_ms, session, file_type, task",
    offsetof (Warmup__V1__UsageIntent, event_ms),
    { "user", "kind" }, { "whose intent it is", "what happened, e.g. chat.opened" }
};

struct _wp_front_usage_t {
    wp_jval_t *tree;            //  the parsed body; the events' strings point in it
    const event_spec_t *spec;   //  what the events are
    void *events;               //  the events, spec->descriptor->sizeof_message each
    size_t count;
};

//  Read one event object into *event; path is its name in errors ("" or
//  "[3]"). Returns 0 or -1.
static int
s_read_event (const event_spec_t *spec, const wp_jval_t *object, const char *path,
              uint64_t now_ms, void *event, wp_front_error_t *error)
{
    char field [96];
    if (wp_jval_type (object) != WP_JVAL_OBJECT)
        return wp_front_error (error, 400, *path ? path : "", "an event must be a JSON "
                               "object with the fields of %.*s", (int) strcspn (spec->names, ":"),
                               spec->names);
    protobuf_c_message_init (spec->descriptor, event);
    for (size_t i = 0; i < wp_jval_size (object); i++) {
        const char *key = NULL;
        const wp_jval_t *value = wp_jval_member (object, i, &key);
        snprintf (field, sizeof field, "%s%s%.60s", path, *path ? "." : "", key);
        const event_field_t *at = NULL;
        for (size_t f = 0; f < spec->n_fields; f++)
            if (streq (spec->fields [f].name, key))
                at = &spec->fields [f];
        if (!at)
            return wp_front_error (error, 400, field, "unknown field (the fields of %s)",
                                   spec->names);
        void *slot = (char *) event + at->offset;
        double number = 0;
        switch (at->kind) {
            case F_ID:
            case F_TEXT:
            case F_MODEL:
            case F_KIND: {
                const char *text = s_string_field (value, at->kind, at->limit, field, error);
                if (!text)
                    return -1;
                *(char **) slot = (char *) text;
                break;
            }
            case F_U32:
                if (s_integer (value, 4294967295.0, &number))
                    return wp_front_error (error, 400, field, "must be an integer in "
                                           "0..4294967295");
                *(uint32_t *) slot = (uint32_t) number;
                break;
            case F_U64:
                if (s_integer (value, 9e15, &number))
                    return wp_front_error (error, 400, field, "must be an integer in "
                                           "0..9000000000000000 (ms since the epoch)");
                *(uint64_t *) slot = (uint64_t) number;
                break;
            case F_ENUM: {
                int v = s_enum_value (at->desc, at->prefix, wp_jval_str (value));
                if (v < 0) {
                    char names [200];
                    s_enum_names (at->desc, strlen (at->prefix), names, sizeof names);
                    return wp_front_error (error, 400, field, "must be one of: %s", names);
                }
                *(int *) slot = v;
                break;
            }
            case F_BOOL:
                break;
        }
    }
    for (int r = 0; r < 2; r++) {
        const event_field_t *at = NULL;
        for (size_t f = 0; f < spec->n_fields; f++)
            if (streq (spec->fields [f].name, spec->required [r]))
                at = &spec->fields [f];
        assert (at);
        if (!**(char **) ((char *) event + at->offset)) {
            snprintf (field, sizeof field, "%s%s%s", path, *path ? "." : "", at->name);
            return wp_front_error (error, 400, field, "required: %s", spec->why [r]);
        }
    }
    uint64_t *event_ms = (uint64_t *) ((char *) event + spec->event_ms);
    if (!*event_ms)
        *event_ms = now_ms;
    return 0;
}

//  Read a body of one event or an array of them.
static wp_front_usage_t *
s_read_events (const event_spec_t *spec, const char *body, size_t size, uint64_t now_ms,
               wp_front_error_t *error)
{
    wp_jval_t *tree = body ? wp_jval_parse (body, size) : NULL;
    if (!tree) {
        wp_front_error (error, 400, "", "the body is not one JSON value (or nests deeper "
                        "than %d)", WP_JVAL_MAX_DEPTH);
        return NULL;
    }
    bool array = wp_jval_type (tree) == WP_JVAL_ARRAY;
    size_t count = array ? wp_jval_size (tree) : 1;
    if (array && count == 0) {
        wp_front_error (error, 400, "", "an empty array: send 1..%d events",
                        WP_FRONT_USAGE_MAX);
        wp_jval_destroy (&tree);
        return NULL;
    }
    if (count > WP_FRONT_USAGE_MAX) {
        wp_front_error (error, 413, "", "%zu events: send at most %d per request", count,
                        WP_FRONT_USAGE_MAX);
        wp_jval_destroy (&tree);
        return NULL;
    }
    wp_front_usage_t *self = (wp_front_usage_t *) zmalloc (sizeof (wp_front_usage_t));
    assert (self);
    self->tree = tree;
    self->spec = spec;
    self->events = calloc (count, spec->descriptor->sizeof_message);
    assert (self->events);
    self->count = count;
    for (size_t i = 0; i < count; i++) {
        char path [32] = "";
        if (array)
            snprintf (path, sizeof path, "[%zu]", i);
        void *event = (char *) self->events + i * spec->descriptor->sizeof_message;
        if (s_read_event (spec, array ? wp_jval_at (tree, i) : tree, path, now_ms, event,
                          error)) {
            wp_front_usage_destroy (&self);
            return NULL;
        }
    }
    return self;
}

//  Read a usage body.
wp_front_usage_t *
wp_front_usage_read (const char *body, size_t size, uint64_t now_ms, wp_front_error_t *error)
{
    return s_read_events (&s_usage_spec, body, size, now_ms, error);
}

//  Read an intent body.
wp_front_usage_t *
wp_front_intent_read (const char *body, size_t size, uint64_t now_ms, wp_front_error_t *error)
{
    return s_read_events (&s_intent_spec, body, size, now_ms, error);
}

//  Events read.
size_t
wp_front_usage_count (wp_front_usage_t *self)
{
    assert (self);
    return self->count;
}

//  An event.
Warmup__V1__UsageObserved *
wp_front_usage_event (wp_front_usage_t *self, size_t index)
{
    assert (self && index < self->count && self->spec == &s_usage_spec);
    return &((Warmup__V1__UsageObserved *) self->events) [index];
}

//  An intent.
Warmup__V1__UsageIntent *
wp_front_intent_event (wp_front_usage_t *self, size_t index)
{
    assert (self && index < self->count && self->spec == &s_intent_spec);
    return &((Warmup__V1__UsageIntent *) self->events) [index];
}

//  The message of an event, of either kind.
ProtobufCMessage *
wp_front_batch_message (wp_front_usage_t *self, size_t index)
{
    assert (self && index < self->count);
    return (ProtobufCMessage *) ((char *) self->events
                                 + index * self->spec->descriptor->sizeof_message);
}

//  Destroy.
void
wp_front_usage_destroy (wp_front_usage_t **self_p)
{
    assert (self_p);
    wp_front_usage_t *self = *self_p;
    if (!self)
        return;
    free (self->events);
    wp_jval_destroy (&self->tree);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------------
//  POST /warmup/v1/predict

//  Read a predict request.
int
wp_front_predict_read (const char *body, size_t size, wp_front_predict_t *request,
                       wp_front_error_t *error)
{
    memset (request, 0, sizeof *request);
    request->warm = true;
    size_t blank = 0;
    while (body && blank < size && isspace ((unsigned char) body [blank]))
        blank++;
    if (!body || blank == size)
        return 0;
    wp_jval_t *tree = wp_jval_parse (body, size);
    if (!tree)
        return wp_front_error (error, 400, "", "the body is not one JSON value (or nests "
                               "deeper than %d)", WP_JVAL_MAX_DEPTH);
    int rc = 0;
    if (wp_jval_type (tree) != WP_JVAL_OBJECT)
        rc = wp_front_error (error, 400, "", "the body must be a JSON object: {\"user\": "
                             "\"...\", \"task\": \"chat\", \"warm\": true, ...}");
    for (size_t i = 0; rc == 0 && i < wp_jval_size (tree); i++) {
        const char *key = NULL;
        const wp_jval_t *value = wp_jval_member (tree, i, &key);
        char field [96];
        snprintf (field, sizeof field, "%.60s", key);
        double number;
        if (streq (key, "user")) {
            const char *text = s_string_field (value, F_ID, 0, field, error);
            if (!text)
                rc = -1;
            else
                snprintf (request->user, sizeof request->user, "%s", text);
        }
        else
        if (streq (key, "task") || streq (key, "priority")) {
            bool task = streq (key, "task");
            const ProtobufCEnumDescriptor *desc = task ? &warmup__v1__task__descriptor
                                                       : &warmup__v1__priority__descriptor;
            const char *prefix = task ? "TASK_" : "PRIORITY_";
            int v = s_enum_value (desc, prefix, wp_jval_str (value));
            if (v < 0) {
                char names [200];
                s_enum_names (desc, strlen (prefix), names, sizeof names);
                rc = wp_front_error (error, 400, field, "must be one of: %s", names);
            }
            else
            if (task)
                request->task = v;
            else
                request->priority = v;
        }
        else
        if (streq (key, "language")) {
            const char *text = s_string_field (value, F_TEXT, 64, field, error);
            if (!text)
                rc = -1;
            else
                snprintf (request->language, sizeof request->language, "%s", text);
        }
        else
        if (streq (key, "acceptable_latency_ms")) {
            if (s_integer (value, 4294967295.0, &number))
                rc = wp_front_error (error, 400, field, "must be an integer in 0..4294967295");
            else
                request->acceptable_latency_ms = (uint32_t) number;
        }
        else
        if (streq (key, "warm")) {
            if (wp_jval_type (value) != WP_JVAL_BOOL)
                rc = wp_front_error (error, 400, field, "must be true or false");
            else
                request->warm = wp_jval_true (value);
        }
        else
            rc = wp_front_error (error, 400, field, "unknown field (user, task, language, "
                                 "priority, acceptable_latency_ms, warm)");
    }
    wp_jval_destroy (&tree);
    return rc;
}

//  Append a number that may not be finite (JSON has no NaN).
static void
s_number (char **json, size_t *len, size_t *cap, double value)
{
    if (isfinite (value))
        wp_json_appendf (json, len, cap, "%.6g", value);
    else
        wp_json_appendf (json, len, cap, "null");
}

//  Answer a predict request.
char *
wp_front_predict_answer (wp_front_view_t *view, const wp_config_t *config,
                         const wp_front_predict_t *request, uint64_t now_ms,
                         char warm [][WP_FRONT_MODEL_MAX + 1], size_t max_warm,
                         size_t *n_warm, size_t *size)
{
    wp_front_pred_t preds [WP_FRONT_PREDICT_MAX];
    size_t count = wp_front_view_predictions (
        view, *request->held_as ? request->held_as : request->user, now_ms,
        (uint64_t) config->prediction_cache_ttl_seconds * 1000, preds, WP_FRONT_PREDICT_MAX);
    *n_warm = 0;
    char *json = NULL;
    size_t len = 0, cap = 0;
    wp_json_appendf (&json, &len, &cap, "{\"user\":");
    wp_json_append_string (&json, &len, &cap, request->user);
    wp_json_appendf (&json, &len, &cap, ",\"horizon_s\":%u,\"threshold\":",
                     config->prediction_horizon_seconds);
    s_number (&json, &len, &cap, config->prediction_threshold);
    wp_json_appendf (&json, &len, &cap, ",\"models\":[");
    size_t listed = 0;
    for (size_t i = 0; i < count; i++) {
        const wp_front_pred_t *p = &preds [i];
        int task = wp_front_view_task_of (view, p->model);
        if (request->task && task && task != request->task)
            continue;
        wp_front_state_t state = wp_front_view_state (view, p->model);
        wp_json_appendf (&json, &len, &cap, "%s{\"model\":", listed++ ? "," : "");
        wp_json_append_string (&json, &len, &cap, p->model);
        wp_json_appendf (&json, &len, &cap, ",\"probability\":");
        s_number (&json, &len, &cap, p->probability);
        wp_json_appendf (&json, &len, &cap, ",\"confidence\":");
        s_number (&json, &len, &cap, p->confidence);
        wp_json_appendf (&json, &len, &cap, ",\"expected_in_ms\":%" PRIu64
                         ",\"state\":\"%s\"}", p->expected_in_ms, wp_front_state_name (state));
        uint32_t load_ms = wp_front_view_load_ms_of (
            view, p->model, wp_config_model_load_ms (config, p->model));
        if (request->warm && state == WP_FRONT_COLD
            && p->probability >= config->prediction_threshold
            && (request->acceptable_latency_ms == 0 || load_ms > request->acceptable_latency_ms)
            && *n_warm < max_warm) {
            size_t length = strnlen (p->model, WP_FRONT_MODEL_MAX);
            memcpy (warm [*n_warm], p->model, length);
            warm [(*n_warm)++][length] = 0;
        }
    }
    wp_json_appendf (&json, &len, &cap, "],\"warming\":[");
    for (size_t i = 0; i < *n_warm; i++) {
        if (i)
            wp_json_appendf (&json, &len, &cap, ",");
        wp_json_append_string (&json, &len, &cap, warm [i]);
    }
    wp_json_appendf (&json, &len, &cap, "]}\n");
    *size = len;
    return json;
}

//  ---------------------------------------------------------------------------
//  GET /healthz

//  The health answer.
char *
wp_front_health (wp_front_view_t *view, const char *const *components, uint64_t now_ms,
                 int *status, size_t *size)
{
    char *alive = NULL, *missing = NULL;
    size_t alive_len = 0, alive_cap = 0, missing_len = 0, missing_cap = 0;
    wp_json_appendf (&alive, &alive_len, &alive_cap, "[");
    wp_json_appendf (&missing, &missing_len, &missing_cap, "[");
    size_t n_alive = 0, n_missing = 0;
    for (size_t i = 0; components [i]; i++) {
        bool up = wp_front_view_alive (view, components [i], now_ms);
        char **buffer = up ? &alive : &missing;
        size_t *len = up ? &alive_len : &missing_len;
        size_t *cap = up ? &alive_cap : &missing_cap;
        size_t *n = up ? &n_alive : &n_missing;
        if ((*n)++)
            wp_json_appendf (buffer, len, cap, ",");
        wp_json_append_string (buffer, len, cap, components [i]);
    }
    *status = n_missing ? 503 : 200;
    char *json = NULL;
    size_t len = 0, cap = 0;
    wp_json_appendf (&json, &len, &cap, "{\"status\":\"%s\",\"alive\":%s],\"missing\":%s]}\n",
                     n_missing ? "degraded" : "ok", alive, missing);
    free (alive);
    free (missing);
    *size = len;
    return json;
}
