/*  =========================================================================
    wp_feed - Continue's and Tabby's usage events read into usage.observed.
    =========================================================================
*/
#include <czmq.h>
#include <math.h>
#include <time.h>
#include "wp_feed.h"
#include "wp_jval.h"
#include "wp_util.h"

//  Longest model name taken (the configuration's limit).
#define MODEL_MAX 200
//  Longest user and session id taken.
#define ID_MAX 256

//  A Continue event that is a request: its task, where its model is (the
//  first of these that is a non-empty string), its file and its session.
typedef struct {
    const char *name;
    Warmup__V1__Task task;
    const char *model [2];
    const char *path;
    const char *session;
} continue_request_t;

static const continue_request_t s_continue [] = {
    { "autocomplete", WARMUP__V1__TASK__TASK_COMPLETION, { "modelName", NULL }, "filepath",
      NULL },
    { "chatInteraction", WARMUP__V1__TASK__TASK_CHAT, { "modelName", "modelTitle" }, NULL,
      "sessionId" },
    { "editInteraction", WARMUP__V1__TASK__TASK_EDIT, { "modelName", "modelTitle" },
      "filepath", NULL },
    { "nextEditWithHistory", WARMUP__V1__TASK__TASK_COMPLETION, { "modelName", "modelTitle" },
      "fileURI", NULL },
    { "quickEdit", WARMUP__V1__TASK__TASK_EDIT, { "model", NULL }, "path", NULL },
};

//  Continue events that are no request.
static const char *s_continue_other [] = {
    "chatFeedback", "tokensGenerated", "editOutcome", "nextEditOutcome", "toolUsage"
};

//  Extensions and their language.
static const struct {
    const char *extension;
    const char *language;
} s_languages [] = {
    { "c", "c" }, { "h", "c" }, { "cc", "cpp" }, { "cpp", "cpp" }, { "cxx", "cpp" },
    { "hpp", "cpp" }, { "hh", "cpp" }, { "cs", "csharp" }, { "go", "go" },
    { "java", "java" }, { "js", "javascript" }, { "mjs", "javascript" },
    { "cjs", "javascript" }, { "jsx", "javascript" }, { "ts", "typescript" },
    { "tsx", "typescript" }, { "mts", "typescript" }, { "py", "python" },
    { "pyi", "python" }, { "rs", "rust" }, { "rb", "ruby" }, { "php", "php" },
    { "kt", "kotlin" }, { "kts", "kotlin" }, { "swift", "swift" }, { "scala", "scala" },
    { "sh", "shell" }, { "bash", "shell" }, { "zsh", "shell" }, { "lua", "lua" },
    { "sql", "sql" }, { "html", "html" }, { "css", "css" }, { "md", "markdown" },
    { "json", "json" }, { "yaml", "yaml" }, { "yml", "yaml" }, { "toml", "toml" },
    { "r", "r" }, { "jl", "julia" }, { "dart", "dart" }, { "ex", "elixir" },
    { "exs", "elixir" }, { "hs", "haskell" }, { "ml", "ocaml" }, { "zig", "zig" },
    { "vue", "vue" }, { "svelte", "svelte" },
};

//  Fill why.
static wp_feed_result_t
s_why (wp_feed_result_t result, char *why, size_t size, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
static wp_feed_result_t
s_why (wp_feed_result_t result, char *why, size_t size, const char *format, ...)
{
    if (why && size) {
        va_list args;
        va_start (args, format);
        vsnprintf (why, size, format, args);
        va_end (args);
    }
    return result;
}

//  True when text is 1..limit bytes without a control byte.
static bool
s_id_ok (const char *text, size_t limit)
{
    size_t length = text ? strlen (text) : 0;
    if (length == 0 || length > limit)
        return false;
    for (const unsigned char *c = (const unsigned char *) text; *c; c++)
        if (*c < 0x20 || *c == 0x7F)
            return false;
    return true;
}

//  Copy text into a field of size bytes (cut at a character boundary).
static void
s_copy (char *out, size_t size, const char *text)
{
    size_t length = text ? strlen (text) : 0;
    if (length >= size) {
        length = size - 1;
        while (length > 0 && ((unsigned char) text [length] & 0xC0) == 0x80)
            length--;
    }
    if (length)
        memcpy (out, text, length);
    out [length] = 0;
}

//  Result names.
const char *
wp_feed_result_name (wp_feed_result_t result)
{
    static const char *names [] = { "usage", "skip", "unknown", "bad" };
    return result <= WP_FEED_BAD ? names [result] : "";
}

//  ISO 8601 to ms since the epoch.
int
wp_feed_iso_ms (const char *text, uint64_t *ms)
{
    if (!text)
        return -1;
    int year, month, day, hour, minute, second, used = 0;
    if (sscanf (text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                &second, &used) != 6 || used != 19)
        return -1;
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23
        || minute > 59 || second > 60)
        return -1;
    const char *at = text + used;
    double fraction = 0;
    if (*at == '.') {
        double scale = 0.1;
        at++;
        if (!isdigit ((unsigned char) *at))
            return -1;
        while (isdigit ((unsigned char) *at)) {
            fraction += (*at - '0') * scale;
            scale /= 10;
            at++;
        }
    }
    long offset_s = 0;
    if (*at == 'Z' || *at == 'z')
        at++;
    else
    if (*at == '+' || *at == '-') {
        int sign = *at == '-' ? -1 : 1;
        int oh, om, n = 0;
        if (sscanf (at + 1, "%2d:%2d%n", &oh, &om, &n) == 2 && n == 5)
            at += 6;
        else
        if (sscanf (at + 1, "%2d%2d%n", &oh, &om, &n) == 2 && n == 4)
            at += 5;
        else
            return -1;
        if (oh > 23 || om > 59)
            return -1;
        offset_s = sign * (oh * 3600L + om * 60L);
    }
    if (*at)
        return -1;
    struct tm tm = { .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                     .tm_hour = hour, .tm_min = minute, .tm_sec = second };
    time_t seconds = timegm (&tm);
    if (seconds < 0 || (int64_t) seconds - offset_s < 0)
        return -1;
    *ms = (uint64_t) ((int64_t) seconds - offset_s) * 1000 + (uint64_t) (fraction * 1000);
    return 0;
}

//  Language and file type by extension.
void
wp_feed_language (const char *path, char *language, size_t language_size,
                  char *file_type, size_t file_type_size)
{
    if (language && language_size)
        language [0] = 0;
    if (file_type && file_type_size)
        file_type [0] = 0;
    if (!path)
        return;
    //  The last path segment, without a query or fragment.
    size_t end = strcspn (path, "?#");
    const char *name = path;
    for (size_t i = 0; i < end; i++)
        if (path [i] == '/' || path [i] == '\\')
            name = path + i + 1;
    const char *dot = NULL;
    for (const char *c = name; c < path + end; c++)
        if (*c == '.')
            dot = c;
    if (!dot || dot == name || dot + 1 >= path + end)
        return;
    char extension [16];
    size_t length = (size_t) (path + end - dot - 1);
    if (length >= sizeof extension)
        return;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char) dot [1 + i];
        if (!isalnum (c))
            return;
        extension [i] = (char) tolower (c);
    }
    extension [length] = 0;
    if (file_type && file_type_size)
        snprintf (file_type, file_type_size, ".%s", extension);
    if (language && language_size) {
        for (size_t i = 0; i < sizeof s_languages / sizeof s_languages [0]; i++)
            if (streq (s_languages [i].extension, extension)) {
                snprintf (language, language_size, "%s", s_languages [i].language);
                return;
            }
        snprintf (language, language_size, "%s", extension);
    }
}

//  Start an event: empty, at now_ms.
static void
s_event_init (wp_feed_event_t *event, uint64_t now_ms)
{
    memset (event, 0, sizeof *event);
    Warmup__V1__UsageObserved init = WARMUP__V1__USAGE_OBSERVED__INIT;
    event->usage = init;
    event->usage.event_ms = now_ms;
}

//  Point the usage's strings at the event's fields.
static void
s_event_finish (wp_feed_event_t *event)
{
    event->usage.user = event->user;
    event->usage.session = event->session;
    event->usage.model = event->model;
    event->usage.language = event->language;
    event->usage.file_type = event->file_type;
}

//  The user: the override, else the event's (hashed when it is a
//  token), else the fallback. BAD when one given is unusable.
static wp_feed_result_t
s_user (const wp_feed_opts_t *opts, const wp_jval_t *value, bool token, const char *field,
        wp_feed_event_t *event, char *why, size_t why_size)
{
    if (opts->user) {
        s_copy (event->user, sizeof event->user, opts->user);
        return WP_FEED_USAGE;
    }
    const char *id = value ? wp_jval_str (value) : NULL;
    if (value && wp_jval_type (value) != WP_JVAL_NULL && !id)
        return s_why (WP_FEED_BAD, why, why_size, "%s: must be a string", field);
    if (id && *id) {
        if (token)
            snprintf (event->user, sizeof event->user, "continue:%016" PRIx64,
                      wp_siphash (opts->user_key, id, strlen (id)));
        else {
            if (!s_id_ok (id, ID_MAX))
                return s_why (WP_FEED_BAD, why, why_size, "%s: must be 1..%d bytes without "
                              "control characters", field, ID_MAX);
            s_copy (event->user, sizeof event->user, id);
        }
        return WP_FEED_USAGE;
    }
    s_copy (event->user, sizeof event->user,
            opts->fallback_user ? opts->fallback_user : "local");
    return WP_FEED_USAGE;
}

//  A model name from a string value, into event->model. BAD when absent.
static wp_feed_result_t
s_model (const char *name, const char *field, const char *event_name, wp_feed_event_t *event,
         char *why, size_t why_size)
{
    if (!name || !*name)
        return s_why (WP_FEED_BAD, why, why_size, "%s without %s: no model to count it for",
                      event_name, field);
    if (!s_id_ok (name, MODEL_MAX))
        return s_why (WP_FEED_BAD, why, why_size, "%s: must be 1..%d bytes without control "
                      "characters", field, MODEL_MAX);
    s_copy (event->model, sizeof event->model, name);
    return WP_FEED_USAGE;
}

//  Event time from a "timestamp" (ISO 8601 or a number of ms, or of
//  seconds when below 1e11); absent: now.
static wp_feed_result_t
s_time (const wp_jval_t *value, const char *field, wp_feed_event_t *event, char *why,
        size_t why_size)
{
    if (!value || wp_jval_type (value) == WP_JVAL_NULL)
        return WP_FEED_USAGE;
    if (wp_jval_type (value) == WP_JVAL_NUMBER) {
        double number = wp_jval_num (value, -1);
        if (number > 0 && number < 1e11)
            number *= 1000;
        if (!(number >= 1) || number > 9e15)
            return s_why (WP_FEED_BAD, why, why_size, "%s: %.17g is no time (ms or s since "
                          "the epoch)", field, number);
        event->usage.event_ms = (uint64_t) number;
        return WP_FEED_USAGE;
    }
    const char *text = wp_jval_str (value);
    uint64_t ms = 0;
    if (!text || wp_feed_iso_ms (text, &ms) || ms == 0)
        return s_why (WP_FEED_BAD, why, why_size, "%s: not an ISO 8601 time (e.g. "
                      "2025-01-31T12:00:00.000Z)", field);
    event->usage.event_ms = ms;
    return WP_FEED_USAGE;
}

//  An optional string member: NULL when absent or null; BAD when of
//  another type (*bad set).
static const char *
s_string (const wp_jval_t *object, const char *key, bool *bad)
{
    const wp_jval_t *value = wp_jval_get (object, key);
    if (!value || wp_jval_type (value) == WP_JVAL_NULL)
        return NULL;
    const char *text = wp_jval_str (value);
    if (!text)
        *bad = true;
    return text;
}

//  One Continue event (an object) named name.
static wp_feed_result_t
s_continue_event (const wp_feed_opts_t *opts, const wp_jval_t *data, const char *name,
                  wp_feed_event_t *event, char *why, size_t why_size)
{
    s_copy (event->event, sizeof event->event, name);
    for (size_t i = 0; i < sizeof s_continue_other / sizeof s_continue_other [0]; i++)
        if (streq (name, s_continue_other [i]))
            return WP_FEED_SKIP;
    const continue_request_t *spec = NULL;
    for (size_t i = 0; i < sizeof s_continue / sizeof s_continue [0]; i++)
        if (streq (name, s_continue [i].name))
            spec = &s_continue [i];
    if (!spec)
        return s_why (WP_FEED_UNKNOWN, why, why_size, "unknown event type '%.60s'", name);
    event->usage.task = spec->task;
    bool bad = false;
    const char *model = NULL, *model_field = spec->model [0];
    for (int m = 0; m < 2 && spec->model [m] && !(model && *model); m++) {
        model = s_string (data, spec->model [m], &bad);
        if (bad)
            return s_why (WP_FEED_BAD, why, why_size, "%s: must be a string",
                          spec->model [m]);
        model_field = model && *model ? spec->model [m] : model_field;
    }
    wp_feed_result_t result = s_model (model, model_field, name, event, why, why_size);
    if (result != WP_FEED_USAGE)
        return result;
    result = s_time (wp_jval_get (data, "timestamp"), "timestamp", event, why, why_size);
    if (result != WP_FEED_USAGE)
        return result;
    result = s_user (opts, wp_jval_get (data, "userId"), true, "userId", event, why,
                     why_size);
    if (result != WP_FEED_USAGE)
        return result;
    if (spec->path) {
        const char *path = s_string (data, spec->path, &bad);
        if (bad)
            return s_why (WP_FEED_BAD, why, why_size, "%s: must be a string", spec->path);
        wp_feed_language (path, event->language, sizeof event->language, event->file_type,
                          sizeof event->file_type);
    }
    if (spec->session) {
        const char *session = s_string (data, spec->session, &bad);
        if (bad || (session && *session && !s_id_ok (session, ID_MAX)))
            return s_why (WP_FEED_BAD, why, why_size, "%s: must be a string of 1..%d bytes "
                          "without control characters", spec->session, ID_MAX);
        s_copy (event->session, sizeof event->session, session);
    }
    s_event_finish (event);
    return WP_FEED_USAGE;
}

//  One Tabby log entry.
static wp_feed_result_t
s_tabby (const wp_feed_opts_t *opts, const wp_jval_t *entry, wp_feed_event_t *event,
         char *why, size_t why_size)
{
    const wp_jval_t *wrapper = wp_jval_get (entry, "event");
    if (wp_jval_type (wrapper) != WP_JVAL_OBJECT || wp_jval_size (wrapper) != 1)
        return s_why (WP_FEED_BAD, why, why_size, "event: must be an object with one "
                      "member, the event's kind");
    const char *kind = NULL;
    const wp_jval_t *body = wp_jval_member (wrapper, 0, &kind);
    s_copy (event->event, sizeof event->event, kind);
    if (streq (kind, "view") || streq (kind, "select") || streq (kind, "dismiss"))
        return WP_FEED_SKIP;
    bool chat = streq (kind, "chat_completion");
    if (!chat && !streq (kind, "completion"))
        return s_why (WP_FEED_UNKNOWN, why, why_size, "unknown event type '%.60s'", kind);
    if (wp_jval_type (body) != WP_JVAL_OBJECT)
        return s_why (WP_FEED_BAD, why, why_size, "event.%s: must be an object", kind);
    const char *model = chat ? opts->chat_model : opts->completion_model;
    if (!model)
        return s_why (WP_FEED_SKIP, why, why_size, "no %s model given", chat ? "chat"
                      : "completion");
    wp_feed_result_t result = s_model (model, chat ? "the chat model" : "the completion model",
                                       kind, event, why, why_size);
    if (result != WP_FEED_USAGE)
        return result;
    event->usage.task = chat ? WARMUP__V1__TASK__TASK_CHAT
                             : WARMUP__V1__TASK__TASK_COMPLETION;
    result = s_time (wp_jval_get (entry, "ts"), "ts", event, why, why_size);
    if (result != WP_FEED_USAGE)
        return result;
    const wp_jval_t *user = wp_jval_get (entry, "user");
    const char *field = "user";
    if (!user || wp_jval_type (user) == WP_JVAL_NULL) {
        user = wp_jval_get (body, "user");
        field = "event.completion.user";
    }
    result = s_user (opts, user, false, field, event, why, why_size);
    if (result != WP_FEED_USAGE)
        return result;
    bool bad = false;
    const char *language = chat ? NULL : s_string (body, "language", &bad);
    const wp_jval_t *segments = chat ? NULL : wp_jval_get (body, "segments");
    const char *path = segments ? s_string (segments, "filepath", &bad) : NULL;
    if (bad)
        return s_why (WP_FEED_BAD, why, why_size, "event.%s: language and "
                      "segments.filepath must be strings", kind);
    wp_feed_language (path, event->language, sizeof event->language, event->file_type,
                      sizeof event->file_type);
    if (language && *language && s_id_ok (language, 64))
        s_copy (event->language, sizeof event->language, language);
    s_event_finish (event);
    return WP_FEED_USAGE;
}

//  Parse an object, or say why not.
static wp_jval_t *
s_parse (const char *text, size_t size, const char *what, char *why, size_t why_size)
{
    if (size > WP_FEED_LINE_MAX) {
        s_why (WP_FEED_BAD, why, why_size, "%s over %u bytes", what, WP_FEED_LINE_MAX);
        return NULL;
    }
    wp_jval_t *tree = text ? wp_jval_parse (text, size) : NULL;
    if (!tree)
        s_why (WP_FEED_BAD, why, why_size, "not one JSON value (malformed, cut short, or "
               "nested deeper than %d)", WP_JVAL_MAX_DEPTH);
    else
    if (wp_jval_type (tree) != WP_JVAL_OBJECT) {
        s_why (WP_FEED_BAD, why, why_size, "%s is not a JSON object", what);
        wp_jval_destroy (&tree);
    }
    return tree;
}

//  One line.
wp_feed_result_t
wp_feed_line (const wp_feed_opts_t *opts, const char *line, size_t size, uint64_t now_ms,
              wp_feed_event_t *event, char *why, size_t why_size)
{
    assert (opts && event);
    s_event_init (event, now_ms);
    if (why && why_size)
        why [0] = 0;
    wp_jval_t *tree = s_parse (line, size, "the line", why, why_size);
    if (!tree)
        return WP_FEED_BAD;
    wp_feed_result_t result;
    if (opts->format == WP_FEED_TABBY)
        result = s_tabby (opts, tree, event, why, why_size);
    else {
        bool bad = false;
        const char *name = s_string (tree, "eventName", &bad);
        if (bad)
            result = s_why (WP_FEED_BAD, why, why_size, "eventName: must be a string");
        else
        if (!(name && *name) && !(opts->event_name && *opts->event_name))
            result = s_why (WP_FEED_UNKNOWN, why, why_size, "no eventName, and no file "
                            "name (<event>.jsonl) to tell the event");
        else
            result = s_continue_event (opts, tree, name && *name ? name : opts->event_name,
                                       event, why, why_size);
    }
    wp_jval_destroy (&tree);
    return result;
}

//  Continue's HTTP destination.
wp_feed_result_t
wp_feed_continue_post (const wp_feed_opts_t *opts, const char *body, size_t size,
                       uint64_t now_ms, wp_feed_event_t *event, char *why, size_t why_size)
{
    assert (opts && event);
    s_event_init (event, now_ms);
    if (why && why_size)
        why [0] = 0;
    wp_jval_t *tree = s_parse (body, size, "the body", why, why_size);
    if (!tree)
        return WP_FEED_BAD;
    wp_feed_result_t result;
    bool bad = false;
    const char *name = s_string (tree, "name", &bad);
    const wp_jval_t *data = wp_jval_get (tree, "data");
    if (bad || !name || !*name)
        result = s_why (WP_FEED_BAD, why, why_size, "name: required, the event's name "
                        "(Continue sends {\"name\", \"data\", \"schema\", ...})");
    else
    if (wp_jval_type (data) != WP_JVAL_OBJECT)
        result = s_why (WP_FEED_BAD, why, why_size, "data: required, the event (an object)");
    else
        result = s_continue_event (opts, data, name, event, why, why_size);
    wp_jval_destroy (&tree);
    return result;
}
