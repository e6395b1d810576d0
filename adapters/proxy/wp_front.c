/*  =========================================================================
    wp_front - what the proxy reads from a request: routes, the model of a
    JSON body, the user, hop-by-hop headers, request targets.
    =========================================================================
*/
#include "wp_front.h"
#include "wp_util.h"
#include "warmup.pb-c.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

//  The observed routes (POST only) and their tasks. The OpenAI paths, the
//  llama.cpp server's own and its aliases, and Ollama's.
static const struct {
    const char *path;
    int task;
} s_routes [] = {
    { "/v1/chat/completions", WARMUP__V1__TASK__TASK_CHAT },
    { "/chat/completions", WARMUP__V1__TASK__TASK_CHAT },
    { "/v1/completions", WARMUP__V1__TASK__TASK_COMPLETION },
    { "/completions", WARMUP__V1__TASK__TASK_COMPLETION },
    { "/completion", WARMUP__V1__TASK__TASK_COMPLETION },
    { "/infill", WARMUP__V1__TASK__TASK_COMPLETION },
    { "/v1/embeddings", WARMUP__V1__TASK__TASK_EMBEDDING },
    { "/embeddings", WARMUP__V1__TASK__TASK_EMBEDDING },
    { "/embedding", WARMUP__V1__TASK__TASK_EMBEDDING },
    { "/v1/rerank", WARMUP__V1__TASK__TASK_RERANK },
    { "/rerank", WARMUP__V1__TASK__TASK_RERANK },
    { "/v1/reranking", WARMUP__V1__TASK__TASK_RERANK },
    { "/reranking", WARMUP__V1__TASK__TASK_RERANK },
    { "/api/chat", WARMUP__V1__TASK__TASK_CHAT },
    { "/api/generate", WARMUP__V1__TASK__TASK_COMPLETION },
    { "/api/embed", WARMUP__V1__TASK__TASK_EMBEDDING },
    { "/api/embeddings", WARMUP__V1__TASK__TASK_EMBEDDING },
};

//  The task of a route.
int
wp_front_route_task (const char *method, const char *path, size_t path_len)
{
    if (!method || !path || strcmp (method, "POST") != 0)
        return 0;
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes [0]; i++)
        if (strlen (s_routes [i].path) == path_len
            && memcmp (s_routes [i].path, path, path_len) == 0)
            return s_routes [i].task;
    return 0;
}

//  ---------------------------------------------------------------------------
//  A validating JSON scanner: no allocation, bounded nesting.

typedef struct {
    const char *at;             //  next byte
    const char *end;            //  one past the last
} scan_t;

//  Skip blank space.
static void
s_blank (scan_t *s)
{
    while (s->at < s->end && (*s->at == ' ' || *s->at == '\t' || *s->at == '\n'
                              || *s->at == '\r'))
        s->at++;
}

//  Value of a hex digit, or -1.
static int
s_hex (char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

//  Four hex digits at p (p + 4 <= end), or -1.
static long
s_hex4 (const char *p)
{
    long value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = s_hex (p [i]);
        if (digit < 0)
            return -1;
        value = value * 16 + digit;
    }
    return value;
}

//  Append a code point as UTF-8 to out (when out is not NULL and there is
//  room; *length counts every byte, kept or not).
static void
s_put_utf8 (char *out, size_t capacity, size_t *length, unsigned long cp)
{
    char bytes [4];
    size_t n;
    if (cp < 0x80) {
        bytes [0] = (char) cp;
        n = 1;
    }
    else
    if (cp < 0x800) {
        bytes [0] = (char) (0xC0 | (cp >> 6));
        bytes [1] = (char) (0x80 | (cp & 0x3F));
        n = 2;
    }
    else
    if (cp < 0x10000) {
        bytes [0] = (char) (0xE0 | (cp >> 12));
        bytes [1] = (char) (0x80 | ((cp >> 6) & 0x3F));
        bytes [2] = (char) (0x80 | (cp & 0x3F));
        n = 3;
    }
    else {
        bytes [0] = (char) (0xF0 | (cp >> 18));
        bytes [1] = (char) (0x80 | ((cp >> 12) & 0x3F));
        bytes [2] = (char) (0x80 | ((cp >> 6) & 0x3F));
        bytes [3] = (char) (0x80 | (cp & 0x3F));
        n = 4;
    }
    for (size_t i = 0; i < n; i++, (*length)++)
        if (out && *length + 1 < capacity)
            out [*length] = bytes [i];
}

//  A string at s->at (the opening quote). Decodes into out (capacity
//  bytes, NUL-terminated, may be NULL); *length gets the decoded length
//  (even past capacity). Returns 0, or -1 when malformed.
static int
s_string (scan_t *s, char *out, size_t capacity, size_t *length)
{
    *length = 0;
    if (s->at >= s->end || *s->at != '"')
        return -1;
    s->at++;
    while (s->at < s->end) {
        unsigned char c = (unsigned char) *s->at++;
        if (c == '"') {
            if (out && capacity)
                out [*length < capacity ? *length : capacity - 1] = 0;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            if (out && *length + 1 < capacity)
                out [*length] = (char) c;
            (*length)++;
            continue;
        }
        if (s->at >= s->end)
            return -1;
        char escape = *s->at++;
        unsigned long cp;
        switch (escape) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u': {
                if (s->end - s->at < 4)
                    return -1;
                long unit = s_hex4 (s->at);
                if (unit < 0)
                    return -1;
                s->at += 4;
                cp = (unsigned long) unit;
                if (unit >= 0xD800 && unit <= 0xDBFF && s->end - s->at >= 6
                    && s->at [0] == '\\' && s->at [1] == 'u') {
                    long low = s_hex4 (s->at + 2);
                    if (low >= 0xDC00 && low <= 0xDFFF) {
                        cp = 0x10000 + (((unsigned long) unit - 0xD800) << 10)
                           + ((unsigned long) low - 0xDC00);
                        s->at += 6;
                    }
                }
                break;
            }
            default:
                return -1;
        }
        s_put_utf8 (out, capacity, length, cp);
    }
    return -1;
}

//  A number (JSON grammar). Returns 0 or -1.
static int
s_number (scan_t *s)
{
    const char *start = s->at;
    if (s->at < s->end && *s->at == '-')
        s->at++;
    if (s->at >= s->end)
        return -1;
    if (*s->at == '0')
        s->at++;
    else
    if (*s->at >= '1' && *s->at <= '9')
        while (s->at < s->end && isdigit ((unsigned char) *s->at))
            s->at++;
    else
        return -1;
    if (s->at < s->end && *s->at == '.') {
        s->at++;
        const char *digits = s->at;
        while (s->at < s->end && isdigit ((unsigned char) *s->at))
            s->at++;
        if (s->at == digits)
            return -1;
    }
    if (s->at < s->end && (*s->at == 'e' || *s->at == 'E')) {
        s->at++;
        if (s->at < s->end && (*s->at == '+' || *s->at == '-'))
            s->at++;
        const char *digits = s->at;
        while (s->at < s->end && isdigit ((unsigned char) *s->at))
            s->at++;
        if (s->at == digits)
            return -1;
    }
    return s->at > start ? 0 : -1;
}

//  A literal (true, false, null). Returns 0 or -1.
static int
s_literal (scan_t *s, const char *word)
{
    size_t length = strlen (word);
    if ((size_t) (s->end - s->at) < length || memcmp (s->at, word, length) != 0)
        return -1;
    s->at += length;
    return 0;
}

static int s_value (scan_t *s, int depth);

//  An array or object at s->at, members checked (and skipped). Returns 0
//  or -1.
static int
s_container (scan_t *s, int depth)
{
    if (depth >= WP_FRONT_JSON_DEPTH)
        return -1;
    bool object = *s->at == '{';
    char close = object ? '}' : ']';
    s->at++;
    s_blank (s);
    if (s->at < s->end && *s->at == close) {
        s->at++;
        return 0;
    }
    while (true) {
        if (object) {
            size_t length;
            if (s_string (s, NULL, 0, &length))
                return -1;
            s_blank (s);
            if (s->at >= s->end || *s->at != ':')
                return -1;
            s->at++;
            s_blank (s);
        }
        if (s_value (s, depth + 1))
            return -1;
        s_blank (s);
        if (s->at >= s->end)
            return -1;
        if (*s->at == close) {
            s->at++;
            return 0;
        }
        if (*s->at != ',')
            return -1;
        s->at++;
        s_blank (s);
    }
}

//  Any value. Returns 0 or -1.
static int
s_value (scan_t *s, int depth)
{
    if (s->at >= s->end)
        return -1;
    size_t length;
    switch (*s->at) {
        case '{':
        case '[':
            return s_container (s, depth);
        case '"':
            return s_string (s, NULL, 0, &length);
        case 't':
            return s_literal (s, "true");
        case 'f':
            return s_literal (s, "false");
        case 'n':
            return s_literal (s, "null");
        default:
            return s_number (s);
    }
}

//  Validate a body and find its top-level "model" (may leave a model in
//  model when the body turns out malformed).
static wp_front_scan_t
s_scan_body (const char *body, size_t size, char *model, size_t capacity)
{
    if (!body)
        return WP_FRONT_SCAN_MALFORMED;
    scan_t s = { body, body + size };
    s_blank (&s);
    if (s.at >= s.end)
        return WP_FRONT_SCAN_MALFORMED;
    if (*s.at != '{') {
        if (s_value (&s, 0))
            return WP_FRONT_SCAN_MALFORMED;
        s_blank (&s);
        return s.at == s.end ? WP_FRONT_SCAN_NOT_OBJECT : WP_FRONT_SCAN_MALFORMED;
    }
    //  The top-level object, member by member: keys are compared, the
    //  "model" value decoded, every other value only checked.
    s.at++;
    s_blank (&s);
    wp_front_scan_t found = WP_FRONT_SCAN_NO_MODEL;
    if (s.at < s.end && *s.at == '}')
        s.at++;
    else
        while (true) {
            char key [8];
            size_t key_length, length;
            if (s_string (&s, key, sizeof key, &key_length))
                return WP_FRONT_SCAN_MALFORMED;
            s_blank (&s);
            if (s.at >= s.end || *s.at != ':')
                return WP_FRONT_SCAN_MALFORMED;
            s.at++;
            s_blank (&s);
            if (key_length == 5 && memcmp (key, "model", 5) == 0) {
                if (s.at < s.end && *s.at == '"') {
                    char name [WP_FRONT_MODEL_MAX + 2];
                    if (s_string (&s, name, sizeof name, &length))
                        return WP_FRONT_SCAN_MALFORMED;
                    found = WP_FRONT_SCAN_OK;
                    if (length == 0 || length > WP_FRONT_MODEL_MAX
                        || strlen (name) != length)
                        found = WP_FRONT_SCAN_BAD_MODEL;
                    for (size_t i = 0; i < length && found == WP_FRONT_SCAN_OK; i++)
                        if ((unsigned char) name [i] < 0x20 || name [i] == 0x7F)
                            found = WP_FRONT_SCAN_BAD_MODEL;
                    if (model && capacity)
                        snprintf (model, capacity, "%s",
                                  found == WP_FRONT_SCAN_OK ? name : "");
                }
                else {
                    if (s_value (&s, 1))
                        return WP_FRONT_SCAN_MALFORMED;
                    found = WP_FRONT_SCAN_NO_MODEL;
                    if (model && capacity)
                        model [0] = 0;
                }
            }
            else
            if (s_value (&s, 1))
                return WP_FRONT_SCAN_MALFORMED;
            s_blank (&s);
            if (s.at >= s.end)
                return WP_FRONT_SCAN_MALFORMED;
            if (*s.at == '}') {
                s.at++;
                break;
            }
            if (*s.at != ',')
                return WP_FRONT_SCAN_MALFORMED;
            s.at++;
            s_blank (&s);
        }
    s_blank (&s);
    return s.at == s.end ? found : WP_FRONT_SCAN_MALFORMED;
}

//  Validate a body and find its top-level "model".
wp_front_scan_t
wp_front_scan_model (const char *body, size_t size, char *model, size_t capacity)
{
    if (model && capacity)
        model [0] = 0;
    wp_front_scan_t result = s_scan_body (body, size, model, capacity);
    if (result != WP_FRONT_SCAN_OK && model && capacity)
        model [0] = 0;
    return result;
}

//  Name of a scan result.
const char *
wp_front_scan_name (wp_front_scan_t result)
{
    switch (result) {
        case WP_FRONT_SCAN_OK: return "ok";
        case WP_FRONT_SCAN_MALFORMED: return "malformed JSON";
        case WP_FRONT_SCAN_NOT_OBJECT: return "not a JSON object";
        case WP_FRONT_SCAN_NO_MODEL: return "no \"model\" string";
        case WP_FRONT_SCAN_BAD_MODEL: return "unusable \"model\"";
    }
    return "?";
}

//  ---------------------------------------------------------------------------
//  Users, headers, targets

//  A usable id?
bool
wp_front_id_ok (const char *value)
{
    if (!value || !*value)
        return false;
    size_t length = 0;
    for (const unsigned char *c = (const unsigned char *) value; *c; c++, length++)
        if (*c < 0x20 || *c == 0x7F || length >= WP_FRONT_USER_MAX)
            return false;
    return true;
}

//  The user of a request.
void
wp_front_user (const uint8_t key [16], const char *x_user, const char *authorization,
               const char *client_address, char *out, size_t capacity)
{
    if (wp_front_id_ok (x_user)) {
        snprintf (out, capacity, "%s", x_user);
        return;
    }
    if (authorization && strncasecmp (authorization, "Bearer ", 7) == 0) {
        const char *token = authorization + 7;
        while (*token == ' ')
            token++;
        size_t length = strlen (token);
        while (length && token [length - 1] == ' ')
            length--;
        if (length) {
            snprintf (out, capacity, "key:%016llx",
                      (unsigned long long) wp_siphash (key, token, length));
            return;
        }
    }
    snprintf (out, capacity, "addr:%s", client_address && *client_address
                                        ? client_address : "unknown");
}

//  Headers not forwarded.
bool
wp_front_hop_by_hop (const char *name)
{
    static const char *names [] = {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
        "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
        "Host", "Content-Length", "Expect", NULL
    };
    if (!name)
        return true;
    for (int i = 0; names [i]; i++)
        if (strcasecmp (name, names [i]) == 0)
            return true;
    return false;
}

//  Check a request target.
int
wp_front_uri_check (const char *uri, const char **why)
{
    *why = NULL;
    if (!uri || uri [0] != '/' || (uri [1] == '/')) {
        *why = "the request target must be a path (origin form), not a URL";
        return -1;
    }
    size_t length = 0;
    for (const unsigned char *c = (const unsigned char *) uri; *c; c++, length++) {
        if (*c <= 0x20 || *c == 0x7F) {
            *why = "blank or control byte in the request target";
            return -1;
        }
        if (length >= WP_FRONT_URI_MAX) {
            *why = "request target too long";
            return -1;
        }
    }
    return 0;
}

//  The upstream URL of a request.
int
wp_front_upstream_url (const char *base, const char *uri, char *out, size_t capacity)
{
    size_t length = strlen (base);
    while (length && base [length - 1] == '/')
        length--;
    int written = snprintf (out, capacity, "%.*s%s", (int) length, base, uri);
    return written < 0 || (size_t) written >= capacity ? -1 : 0;
}
