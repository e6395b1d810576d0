/*  =========================================================================
    test_json - warmup events as JSON lines: exact output worked out by
    hand for escapes, enums, repeated and nested messages, every scalar
    type (through a hand-made descriptor), and a strict RFC 8259 checker
    run over every output.
    =========================================================================
*/

#include "testutil.h"
#include "wp_json.h"
#include "warmup.pb-c.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  A strict JSON checker (RFC 8259): one value, nothing after it, strings
//  without raw control characters, valid escapes, valid UTF-8 (no
//  overlong forms, no surrogates), numbers in the JSON grammar.

typedef struct {
    const unsigned char *p;     //  next byte
    const char *error;          //  first problem, or NULL
} json_check_t;

static bool s_json_value (json_check_t *self, int depth);

//  Skip whitespace.
static void
s_json_ws (json_check_t *self)
{
    while (*self->p == ' ' || *self->p == '\t' || *self->p == '\n' || *self->p == '\r')
        self->p++;
}

//  Note the first problem; returns false.
static bool
s_json_fail (json_check_t *self, const char *why)
{
    if (!self->error)
        self->error = why;
    return false;
}

//  True for a hex digit.
static bool
s_is_hex (unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

//  One UTF-8 sequence starting at a byte >= 0x80.
static bool
s_json_utf8 (json_check_t *self)
{
    const unsigned char *p = self->p;
    uint32_t code;
    int more;
    if (p [0] >= 0xc2 && p [0] <= 0xdf) {
        code = p [0] & 0x1f;
        more = 1;
    }
    else
    if (p [0] >= 0xe0 && p [0] <= 0xef) {
        code = p [0] & 0x0f;
        more = 2;
    }
    else
    if (p [0] >= 0xf0 && p [0] <= 0xf4) {
        code = p [0] & 0x07;
        more = 3;
    }
    else
        return s_json_fail (self, "invalid UTF-8 lead byte");
    for (int i = 1; i <= more; i++) {
        if ((p [i] & 0xc0) != 0x80)
            return s_json_fail (self, "invalid UTF-8 continuation");
        code = (code << 6) | (p [i] & 0x3f);
    }
    if ((more == 2 && code < 0x800) || (more == 3 && code < 0x10000))
        return s_json_fail (self, "overlong UTF-8");
    if ((code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff)
        return s_json_fail (self, "UTF-8 encodes a surrogate or beyond U+10FFFF");
    self->p += more + 1;
    return true;
}

//  One string literal.
static bool
s_json_string (json_check_t *self)
{
    if (*self->p != '"')
        return s_json_fail (self, "string expected");
    self->p++;
    while (*self->p != '"') {
        unsigned char c = *self->p;
        if (c == 0)
            return s_json_fail (self, "unterminated string");
        if (c < 0x20)
            return s_json_fail (self, "raw control character in string");
        if (c == '\\') {
            unsigned char e = self->p [1];
            if (e == 'u') {
                for (int i = 2; i < 6; i++)
                    if (!s_is_hex (self->p [i]))
                        return s_json_fail (self, "bad \\u escape");
                self->p += 6;
            }
            else
            if (e && strchr ("\"\\/bfnrt", e))
                self->p += 2;
            else
                return s_json_fail (self, "bad escape");
        }
        else
        if (c >= 0x80) {
            if (!s_json_utf8 (self))
                return false;
        }
        else
            self->p++;
    }
    self->p++;
    return true;
}

//  One number.
static bool
s_json_number (json_check_t *self)
{
    const unsigned char *p = self->p;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else
    if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return s_json_fail (self, "bad number");
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return s_json_fail (self, "bad fraction");
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return s_json_fail (self, "bad exponent");
        while (*p >= '0' && *p <= '9')
            p++;
    }
    self->p = p;
    return true;
}

//  One value of any kind, nested at most 64 deep.
static bool
s_json_value (json_check_t *self, int depth)
{
    if (depth > 64)
        return s_json_fail (self, "nested too deep");
    s_json_ws (self);
    unsigned char c = *self->p;
    bool ok;
    if (c == '{') {
        self->p++;
        s_json_ws (self);
        if (*self->p == '}')
            self->p++;
        else
            while (true) {
                s_json_ws (self);
                if (!s_json_string (self))
                    return false;
                s_json_ws (self);
                if (*self->p != ':')
                    return s_json_fail (self, "':' expected");
                self->p++;
                if (!s_json_value (self, depth + 1))
                    return false;
                s_json_ws (self);
                if (*self->p == ',') {
                    self->p++;
                    continue;
                }
                if (*self->p != '}')
                    return s_json_fail (self, "',' or '}' expected");
                self->p++;
                break;
            }
        ok = true;
    }
    else
    if (c == '[') {
        self->p++;
        s_json_ws (self);
        if (*self->p == ']')
            self->p++;
        else
            while (true) {
                if (!s_json_value (self, depth + 1))
                    return false;
                s_json_ws (self);
                if (*self->p == ',') {
                    self->p++;
                    continue;
                }
                if (*self->p != ']')
                    return s_json_fail (self, "',' or ']' expected");
                self->p++;
                break;
            }
        ok = true;
    }
    else
    if (c == '"')
        ok = s_json_string (self);
    else
    if (c == '-' || (c >= '0' && c <= '9'))
        ok = s_json_number (self);
    else
    if (strncmp ((const char *) self->p, "true", 4) == 0) {
        self->p += 4;
        ok = true;
    }
    else
    if (strncmp ((const char *) self->p, "false", 5) == 0) {
        self->p += 5;
        ok = true;
    }
    else
    if (strncmp ((const char *) self->p, "null", 4) == 0) {
        self->p += 4;
        ok = true;
    }
    else
        ok = s_json_fail (self, "value expected");
    return ok;
}

//  Check text is exactly one JSON value on one line; returns NULL or why.
static const char *
s_json_check (const char *text)
{
    if (strchr (text, '\n'))
        return "not one line";
    json_check_t check = { (const unsigned char *) text, NULL };
    if (s_json_value (&check, 0)) {
        s_json_ws (&check);
        if (*check.p)
            s_json_fail (&check, "text after the value");
    }
    return check.error;
}

//  Assert text is valid JSON, printing it when it is not.
static void
s_assert_json (const char *text)
{
    assert_non_null (text);
    const char *why = s_json_check (text);
    if (why)
        print_error ("not JSON (%s): %s\n", why, text);
    assert_null (why);
}

//  True when json is want, or want with more fields after its last one:
//  fields are only ever added to warmup.v1 messages, with higher numbers,
//  so what a message printed before stays a prefix of what it prints now.
static bool
s_json_matches (const char *json, const char *want)
{
    if (strcmp (json, want) == 0)
        return true;
    size_t head = strlen (want) - 1;       //  without the closing brace
    return want [head] == '}' && strncmp (json, want, head) == 0 && json [head] == ',';
}

//  Assert an event's JSON is valid and what we expect (as above).
static void
s_assert_event_json (const char *topic, const ProtobufCMessage *msg, const char *want)
{
    char *json = wp_json_event (topic, msg);
    assert_non_null (json);
    const char *why = s_json_check (json);
    bool matches = s_json_matches (json, want);
    if (why)
        print_error ("not JSON (%s): %s\n", why, json);
    if (!matches)
        print_error ("got:  %s\nwant: %s\n", json, want);
    free (json);
    assert_null (why);
    assert_true (matches);
}

//  The checker itself: it must reject what is not JSON, or the other
//  tests prove nothing.
static void
test_checker_rejects_bad_json (void **state)
{
    assert_null (s_json_check ("{\"a\":[1,2.5,-0,1e+3,true,false,null,\"x\\u00e9\"]}"));
    assert_null (s_json_check ("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""));
    assert_non_null (s_json_check ("{\"a\":1,}"));
    assert_non_null (s_json_check ("{\"a\" 1}"));
    assert_non_null (s_json_check ("[1 2]"));
    assert_non_null (s_json_check ("\"a\nb\""));
    assert_non_null (s_json_check ("\"a\x01" "b\""));
    assert_non_null (s_json_check ("\"\\x41\""));
    assert_non_null (s_json_check ("\"\\u12\""));
    assert_non_null (s_json_check ("01"));
    assert_non_null (s_json_check ("1."));
    assert_non_null (s_json_check ("nan"));
    assert_non_null (s_json_check ("{}{}"));
    assert_non_null (s_json_check ("\"\xff\""));
    assert_non_null (s_json_check ("\"\xc0\xaf\""));
    assert_non_null (s_json_check ("\"\xed\xa0\x80\""));
    assert_non_null (s_json_check ("{\"a\":"));
}

//  A usage event: header nested, strings needing every kind of escape,
//  enums by name, an unset string, 32- and 64-bit numbers.
static void
test_usage_observed_exact (void **state)
{
    Warmup__V1__Header header = WARMUP__V1__HEADER__INIT;
    header.source = "ide\\1";
    header.seq = 7;
    header.sent_us = 1700000000000001ULL;
    header.schema = 1;
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    usage.header = &header;
    usage.event_ms = 1700000000123ULL;
    //  quote, backslash, newline, tab, 0x01, 0x1f, DEL, slash, e-acute
    usage.user = "a\"b\\c\nd\te\x01" "f\x1f\x7fg/\xc3\xa9";
    usage.model = "llama";
    usage.task = WARMUP__V1__TASK__TASK_CHAT;
    usage.language = "c";
    usage.file_type = ".c";
    usage.project_files = 12;
    usage.priority = WARMUP__V1__PRIORITY__PRIORITY_HIGH;
    usage.acceptable_latency_ms = 500;
    usage.outcome = WARMUP__V1__OUTCOME__OUTCOME_COLD;
    usage.wait_ms = 4294967295U;
    s_assert_event_json ("usage.observed", &usage.base,
        "{\"topic\":\"usage.observed\","
        "\"header\":{\"source\":\"ide\\\\1\",\"seq\":7,"
        "\"sent_us\":1700000000000001,\"schema\":1},"
        "\"event_ms\":1700000000123,"
        "\"user\":\"a\\\"b\\\\c\\u000ad\\u0009e\\u0001f\\u001f\\u007fg/\xc3\xa9\","
        "\"session\":\"\",\"model\":\"llama\",\"task\":\"TASK_CHAT\","
        "\"language\":\"c\",\"file_type\":\".c\",\"project_files\":12,"
        "\"input_tokens\":0,\"priority\":\"PRIORITY_HIGH\","
        "\"acceptable_latency_ms\":500,\"outcome\":\"OUTCOME_COLD\","
        "\"wait_ms\":4294967295}");
}

//  A prediction: no header (null), a nested cause header, repeated
//  messages, doubles that are not finite (null), -0, the largest uint64;
//  no topic.
static void
test_prediction_repeated_exact (void **state)
{
    Warmup__V1__Header cause = WARMUP__V1__HEADER__INIT;
    cause.source = "a";
    cause.seq = 1;
    cause.sent_us = 2;
    cause.schema = 1;
    Warmup__V1__ModelPrediction one = WARMUP__V1__MODEL_PREDICTION__INIT;
    one.model = "m1";
    one.probability = 0.5;
    one.expected_in_ms = 1000;
    one.confidence = 1.25;
    Warmup__V1__ModelPrediction two = WARMUP__V1__MODEL_PREDICTION__INIT;
    two.model = "m2";
    two.probability = NAN;
    two.confidence = INFINITY;
    two.last_ms = UINT64_MAX;
    two.benefit_ms = -0.0;
    Warmup__V1__ModelPrediction *models [2] = { &one, &two };
    Warmup__V1__PredictionMade made = WARMUP__V1__PREDICTION_MADE__INIT;
    made.event_ms = 5;
    made.user = "u";
    made.cause = &cause;
    made.n_models = 2;
    made.models = models;
    made.usage_received_us = 9;
#   define PLAN_FIELDS(benefit, last) \
        ",\"keep_until_ms\":0,\"prewarm_at_ms\":0,\"hold_until_ms\":0,\"benefit_ms\":" \
        benefit ",\"load_ms\":0,\"last_ms\":" last ",\"idle_quantiles_ms\":[]"
    s_assert_event_json (NULL, &made.base,
        "{\"header\":null,\"event_ms\":5,\"user\":\"u\",\"horizon_s\":0,"
        "\"models\":["
        "{\"model\":\"m1\",\"probability\":0.5,\"expected_in_ms\":1000,"
        "\"confidence\":1.25" PLAN_FIELDS ("0", "0") "},"
        "{\"model\":\"m2\",\"probability\":null,\"expected_in_ms\":0,"
        "\"confidence\":null" PLAN_FIELDS ("-0", "18446744073709551615") "}],"
        "\"engine_version\":\"\",\"compute_us\":0,"
        "\"cause\":{\"source\":\"a\",\"seq\":1,\"sent_us\":2,\"schema\":1},"
        "\"usage_received_us\":9}");

    //  No models: an empty array.
    made.n_models = 0;
    made.models = NULL;
    made.cause = NULL;
    s_assert_event_json ("prediction.made", &made.base,
        "{\"topic\":\"prediction.made\",\"header\":null,\"event_ms\":5,"
        "\"user\":\"u\",\"horizon_s\":0,\"models\":[],\"engine_version\":\"\","
        "\"compute_us\":0,\"cause\":null,\"usage_received_us\":9}");
}

//  A metrics snapshot (repeated TopicCount) and a warmup done (bools,
//  enums, nested cause): the topic itself is escaped too.
static void
test_metrics_and_done_exact (void **state)
{
    Warmup__V1__TopicCount usage = WARMUP__V1__TOPIC_COUNT__INIT;
    usage.topic = "usage.observed";
    usage.count = 42;
    Warmup__V1__TopicCount beat = WARMUP__V1__TOPIC_COUNT__INIT;
    beat.topic = "heartbeat";
    beat.count = 0;
    Warmup__V1__TopicCount *topics [2] = { &usage, &beat };
    Warmup__V1__MetricsSnapshot snapshot = WARMUP__V1__METRICS_SNAPSHOT__INIT;
    snapshot.event_ms = 1;
    snapshot.n_topics = 2;
    snapshot.topics = topics;
    snapshot.requests = 2;
    snapshot.cold_wait_s = 2.5;
    snapshot.dropped = 3;
    s_assert_event_json ("metrics.snapshot", &snapshot.base,
        "{\"topic\":\"metrics.snapshot\",\"header\":null,\"event_ms\":1,"
        "\"topics\":[{\"topic\":\"usage.observed\",\"count\":42},"
        "{\"topic\":\"heartbeat\",\"count\":0}],"
        "\"requests\":2,\"warm\":0,\"delayed\":0,\"cold_starts\":0,"
        "\"cold_wait_s\":2.5,\"predictions\":0,\"latency_p50_us\":0,"
        "\"latency_p99_us\":0,\"latency_max_us\":0,\"warmups_ok\":0,"
        "\"warmups_failed\":0,\"cools\":0,\"dropped\":3}");

    Warmup__V1__Header cause = WARMUP__V1__HEADER__INIT;
    cause.source = "sched/\"x\"";
    cause.seq = 18446744073709551615ULL;
    Warmup__V1__WarmupDone done = WARMUP__V1__WARMUP_DONE__INIT;
    done.event_ms = 10;
    done.model = "m";
    done.action = WARMUP__V1__ACTION__ACTION_COOL;
    done.backend = "exec";
    done.ok = 0;
    done.error = "exit 1: \"boom\"\r\n";
    done.duration_ms = 250;
    done.reason = "manual";
    done.cause = &cause;
    s_assert_event_json ("warmup\"done", &done.base,
        "{\"topic\":\"warmup\\\"done\",\"header\":null,\"event_ms\":10,"
        "\"model\":\"m\",\"action\":\"ACTION_COOL\",\"backend\":\"exec\","
        "\"ok\":false,\"error\":\"exit 1: \\\"boom\\\"\\u000d\\u000a\","
        "\"duration_ms\":250,\"memory_mb\":0,\"reason\":\"manual\","
        "\"cause\":{\"source\":\"sched/\\\"x\\\"\","
        "\"seq\":18446744073709551615,\"sent_us\":0,\"schema\":0}}");
    done.ok = 1;
    done.action = WARMUP__V1__ACTION__ACTION_WARM;
    char *json = wp_json_event (NULL, &done.base);
    s_assert_json (json);
    assert_non_null (strstr (json, "\"action\":\"ACTION_WARM\""));
    assert_non_null (strstr (json, "\"ok\":true"));
    free (json);
}

//  An enum value the schema does not know prints as its number.
static void
test_unknown_enum_prints_number (void **state)
{
    Warmup__V1__WarmupRequested request = WARMUP__V1__WARMUP_REQUESTED__INIT;
    request.model = "m";
    request.action = (Warmup__V1__Action) 77;
    request.priority = WARMUP__V1__PRIORITY__PRIORITY_UNSPECIFIED;
    request.expected_benefit_ms = 1234.5;
    request.memory_mb = 512;
    s_assert_event_json (NULL, &request.base,
        "{\"header\":null,\"event_ms\":0,\"model\":\"m\",\"action\":77,"
        "\"priority\":\"PRIORITY_UNSPECIFIED\",\"deadline_ms\":0,"
        "\"reason\":\"\",\"expected_benefit_ms\":1234.5,\"memory_mb\":512}");
}

//  Doubles print with enough digits to read back exactly.
static void
test_doubles_round_trip (void **state)
{
    const double values [] = { 0.1, 1.0 / 3.0, 1e300, -2.5e-308, 123456789.0123,
                               4.9e-324, 1e21, -7.0 };
    for (size_t i = 0; i < sizeof values / sizeof values [0]; i++) {
        Warmup__V1__ResourceStatus status = WARMUP__V1__RESOURCE_STATUS__INIT;
        status.cpu_percent = values [i];
        status.admit = 1;
        char *json = wp_json_event ("resource.status", &status.base);
        s_assert_json (json);
        const char *at = strstr (json, "\"cpu_percent\":");
        assert_non_null (at);
        double back = strtod (at + strlen ("\"cpu_percent\":"), NULL);
        assert_true (back == values [i]);
        const char *admit = strstr (json, "\"admit\":true");
        assert_non_null (admit);
        assert_true (admit [12] == ',' || admit [12] == '}');
        free (json);
    }
}

//  --------------------------------------------------------------------------
//  Every scalar type and repeated scalars, through a descriptor made by
//  hand (the schema has no repeated scalars, floats, bytes or signed
//  integers, but the writer is generic).

typedef struct {
    ProtobufCMessage base;
    int32_t i32;
    int64_t s64;
    uint64_t u64;
    float f;
    protobuf_c_boolean flag;
    ProtobufCBinaryData data;
    size_t n_u32;
    uint32_t *u32;
    size_t n_d;
    double *d;
    size_t n_b;
    protobuf_c_boolean *b;
    size_t n_s;
    char **s;
    size_t n_e;
    int *e;
    size_t n_i64;
    int64_t *i64;
    size_t n_f;
    float *fs;
    size_t n_h;
    Warmup__V1__Header **h;
    size_t n_bytes;
    ProtobufCBinaryData *bytes;
} probe_t;

#define FIELD(nm, num, lab, typ, q, f, desc)                                  \
    { nm, num, PROTOBUF_C_LABEL_##lab, PROTOBUF_C_TYPE_##typ, q,              \
      offsetof (probe_t, f), desc, NULL, 0, 0, NULL, NULL }

static const ProtobufCFieldDescriptor s_probe_fields [] = {
    FIELD ("i32", 1, NONE, INT32, 0, i32, NULL),
    FIELD ("s64", 2, NONE, SINT64, 0, s64, NULL),
    FIELD ("u64", 3, NONE, FIXED64, 0, u64, NULL),
    FIELD ("f", 4, NONE, FLOAT, 0, f, NULL),
    FIELD ("flag", 5, NONE, BOOL, 0, flag, NULL),
    FIELD ("data", 6, NONE, BYTES, 0, data, NULL),
    FIELD ("u32", 7, REPEATED, UINT32, offsetof (probe_t, n_u32), u32, NULL),
    FIELD ("d", 8, REPEATED, DOUBLE, offsetof (probe_t, n_d), d, NULL),
    FIELD ("b", 9, REPEATED, BOOL, offsetof (probe_t, n_b), b, NULL),
    FIELD ("s", 10, REPEATED, STRING, offsetof (probe_t, n_s), s, NULL),
    FIELD ("e", 11, REPEATED, ENUM, offsetof (probe_t, n_e), e,
           &warmup__v1__task__descriptor),
    FIELD ("i64", 12, REPEATED, SFIXED64, offsetof (probe_t, n_i64), i64, NULL),
    FIELD ("fs", 13, REPEATED, FLOAT, offsetof (probe_t, n_f), fs, NULL),
    FIELD ("h", 14, REPEATED, MESSAGE, offsetof (probe_t, n_h), h,
           &warmup__v1__header__descriptor),
    FIELD ("bytes", 15, REPEATED, BYTES, offsetof (probe_t, n_bytes), bytes, NULL),
};

static const ProtobufCMessageDescriptor s_probe_descriptor = {
    .magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    .name = "test.Probe",
    .short_name = "Probe",
    .c_name = "Probe",
    .package_name = "test",
    .sizeof_message = sizeof (probe_t),
    .n_fields = sizeof s_probe_fields / sizeof s_probe_fields [0],
    .fields = s_probe_fields,
};

//  Every scalar type, single and repeated, written by hand.
static void
test_every_scalar_type (void **state)
{
    uint8_t data [3] = { 0x00, 0xff, 0x10 };
    uint32_t u32 [2] = { 1, 4294967295U };
    double d [3] = { 0.25, NAN, -1e-7 };
    protobuf_c_boolean b [3] = { 1, 0, 1 };
    char *s [3] = { "x", "\"q\"", NULL };
    int e [3] = { WARMUP__V1__TASK__TASK_CHAT, WARMUP__V1__TASK__TASK_UNSPECIFIED, 77 };
    int64_t i64 [2] = { -1, INT64_MAX };
    float fs [3] = { 0.1f, INFINITY, -2.0f };
    Warmup__V1__Header h1 = WARMUP__V1__HEADER__INIT, h2 = WARMUP__V1__HEADER__INIT;
    h1.source = "one";
    h1.seq = 1;
    h2.source = "two";
    h2.seq = 2;
    h2.schema = 1;
    Warmup__V1__Header *h [2] = { &h1, &h2 };
    uint8_t raw1 [1] = { 0xab };
    ProtobufCBinaryData bytes [2] = { { 1, raw1 }, { 0, NULL } };

    probe_t probe;
    memset (&probe, 0, sizeof probe);
    probe.base.descriptor = &s_probe_descriptor;
    probe.i32 = -42;
    probe.s64 = INT64_MIN;
    probe.u64 = 18446744073709551615ULL;
    probe.f = 1.5f;
    probe.flag = 1;
    probe.data.len = 3;
    probe.data.data = data;
    probe.n_u32 = 2;
    probe.u32 = u32;
    probe.n_d = 3;
    probe.d = d;
    probe.n_b = 3;
    probe.b = b;
    probe.n_s = 3;
    probe.s = s;
    probe.n_e = 3;
    probe.e = e;
    probe.n_i64 = 2;
    probe.i64 = i64;
    probe.n_f = 3;
    probe.fs = fs;
    probe.n_h = 2;
    probe.h = h;
    probe.n_bytes = 2;
    probe.bytes = bytes;
    //  0.1f is 0.100000001490116...: 9 significant digits give 0.100000001
    s_assert_event_json (NULL, &probe.base,
        "{\"i32\":-42,\"s64\":-9223372036854775808,"
        "\"u64\":18446744073709551615,\"f\":1.5,\"flag\":true,"
        "\"data\":\"00ff10\",\"u32\":[1,4294967295],"
        "\"d\":[0.25,null,-9.9999999999999995e-08],\"b\":[true,false,true],"
        "\"s\":[\"x\",\"\\\"q\\\"\",\"\"],"
        "\"e\":[\"TASK_CHAT\",\"TASK_UNSPECIFIED\",77],"
        "\"i64\":[-1,9223372036854775807],"
        "\"fs\":[0.100000001,null,-2],"
        "\"h\":[{\"source\":\"one\",\"seq\":1,\"sent_us\":0,\"schema\":0},"
        "{\"source\":\"two\",\"seq\":2,\"sent_us\":0,\"schema\":1}],"
        "\"bytes\":[\"ab\",\"\"]}");
}

//  A large message: the buffer grows many times and keeps every byte.
static void
test_large_message (void **state)
{
    enum { N = 2000 };
    Warmup__V1__ModelPrediction items [N];
    Warmup__V1__ModelPrediction *pointers [N];
    char names [N][16];
    for (int i = 0; i < N; i++) {
        Warmup__V1__ModelPrediction init = WARMUP__V1__MODEL_PREDICTION__INIT;
        items [i] = init;
        snprintf (names [i], sizeof names [i], "m%d", i);
        items [i].model = names [i];
        items [i].probability = (double) i;
        pointers [i] = &items [i];
    }
    Warmup__V1__PredictionMade pattern = WARMUP__V1__PREDICTION_MADE__INIT;
    pattern.n_models = N;
    pattern.models = pointers;
    char *long_user = malloc (100001);
    assert_non_null (long_user);
    memset (long_user, '"', 100000);
    long_user [100000] = 0;
    pattern.user = long_user;
    char *json = wp_json_event ("prediction.made", &pattern.base);
    s_assert_json (json);
    //  Each quote becomes \" : 200000 characters between the outer quotes.
    const char *user = strstr (json, "\"user\":\"");
    assert_non_null (user);
    user += strlen ("\"user\":\"");
    for (int i = 0; i < 200000; i += 2) {
        assert_int_equal (user [i], '\\');
        assert_int_equal (user [i + 1], '"');
    }
    assert_int_equal (user [200000], '"');
    //  Every item is there, in order.
    const char *at = json;
    for (int i = 0; i < N; i++) {
        char item [64];
        snprintf (item, sizeof item, "{\"model\":\"m%d\",\"probability\":%d,", i, i);
        at = strstr (at, item);
        assert_non_null (at);
    }
    free (json);
    free (long_user);
}

//  The buffer helpers on their own: start from NULL, grow, stay terminated.
static void
test_append_helpers (void **state)
{
    char *buffer = NULL;
    size_t len = 0, cap = 0;
    wp_json_appendf (&buffer, &len, &cap, "%s", "");
    assert_non_null (buffer);
    assert_int_equal (len, 0);
    assert_string_equal (buffer, "");
    size_t expected = 0;
    for (int i = 0; i < 1000; i++) {
        wp_json_appendf (&buffer, &len, &cap, "[%d]", i);
        char piece [16];
        expected += (size_t) snprintf (piece, sizeof piece, "[%d]", i);
        assert_int_equal (len, expected);
        assert_int_equal (strlen (buffer), len);
        assert_true (cap > len);
    }
    assert_memory_equal (buffer, "[0][1][2]", 9);
    assert_string_equal (buffer + len - 5, "[999]");
    free (buffer);

    buffer = NULL;
    len = cap = 0;
    wp_json_append_string (&buffer, &len, &cap, NULL);
    wp_json_appendf (&buffer, &len, &cap, ",");
    wp_json_append_string (&buffer, &len, &cap, "\\/\"\b\f");
    assert_string_equal (buffer, "\"\",\"\\\\/\\\"\\u0008\\u000c\"");
    assert_int_equal (len, strlen (buffer));
    free (buffer);

    //  One append far larger than the first allocation.
    buffer = NULL;
    len = cap = 0;
    char *big = malloc (5000);
    assert_non_null (big);
    memset (big, 'x', 4999);
    big [4999] = 0;
    wp_json_appendf (&buffer, &len, &cap, "<%s>", big);
    assert_int_equal (len, 5001);
    assert_int_equal (buffer [0], '<');
    assert_int_equal (buffer [5000], '>');
    assert_int_equal (buffer [5001], 0);
    free (big);
    free (buffer);
}

//  A string that is not valid UTF-8 (a publisher sent junk bytes; protobuf-c
//  does not check) must still give valid JSON: RFC 8259 section 8.1 requires
//  UTF-8. Regression (was a bug): bytes >= 0x80 were copied unchanged.
static void
test_invalid_utf8_still_valid_json (void **state)
{
    Warmup__V1__Heartbeat beat = WARMUP__V1__HEARTBEAT__INIT;
    beat.component = "bad\xff\xfe" "bytes\xc3";
    beat.instance = "ok";
    char *json = wp_json_event ("heartbeat", &beat.base);
    assert_non_null (json);
    const char *why = s_json_check (json);
    if (why)
        print_error ("regression: wp_json_append_string: invalid UTF-8 copied raw (%s): %s\n",
                     why, json);
    free (json);
    assert_null (why);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_checker_rejects_bad_json),
        cmocka_unit_test (test_usage_observed_exact),
        cmocka_unit_test (test_prediction_repeated_exact),
        cmocka_unit_test (test_metrics_and_done_exact),
        cmocka_unit_test (test_unknown_enum_prints_number),
        cmocka_unit_test (test_doubles_round_trip),
        cmocka_unit_test (test_every_scalar_type),
        cmocka_unit_test (test_large_message),
        cmocka_unit_test (test_append_helpers),
        cmocka_unit_test (test_invalid_utf8_still_valid_json),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
