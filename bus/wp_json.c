/*  =========================================================================
    wp_json - warmup events as JSON lines.
    =========================================================================
*/
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include "wp_json.h"

//  Append formatted text.
void
wp_json_appendf (char **buffer, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list args;
    while (true) {
        va_start (args, fmt);
        int n = vsnprintf (*buffer ? *buffer + *len : NULL,
                           *buffer ? *cap - *len : 0, fmt, args);
        va_end (args);
        assert (n >= 0);
        if (*buffer && *len + (size_t) n < *cap) {
            *len += (size_t) n;
            return;
        }
        size_t grown = (*cap ? *cap * 2 : 256) + (size_t) n;
        *buffer = (char *) realloc (*buffer, grown);
        assert (*buffer);
        *cap = grown;
    }
}

//  Length of the valid UTF-8 sequence starting at p (a lead byte >= 0x80),
//  or 0 when it is not one (overlong, surrogate, beyond U+10FFFF, cut).
static size_t
s_utf8_length (const unsigned char *p)
{
    size_t n;
    uint32_t code;
    if (*p >= 0xc2 && *p <= 0xdf) {
        n = 2;
        code = *p & 0x1f;
    }
    else
    if (*p >= 0xe0 && *p <= 0xef) {
        n = 3;
        code = *p & 0x0f;
    }
    else
    if (*p >= 0xf0 && *p <= 0xf4) {
        n = 4;
        code = *p & 0x07;
    }
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p [i] & 0xc0) != 0x80)
            return 0;
        code = (code << 6) | (p [i] & 0x3f);
    }
    if ((n == 3 && code < 0x800) || (n == 4 && (code < 0x10000 || code > 0x10ffff))
        || (code >= 0xd800 && code <= 0xdfff))
        return 0;
    return n;
}

//  Append a JSON string literal.
void
wp_json_append_string (char **buffer, size_t *len, size_t *cap, const char *s)
{
    wp_json_appendf (buffer, len, cap, "\"");
    const unsigned char *p = (const unsigned char *) (s ? s : "");
    while (*p) {
        if (*p == '"' || *p == '\\')
            wp_json_appendf (buffer, len, cap, "\\%c", *p++);
        else
        if (*p < 0x20 || *p == 0x7f)
            wp_json_appendf (buffer, len, cap, "\\u%04x", *p++);
        else
        if (*p < 0x80)
            wp_json_appendf (buffer, len, cap, "%c", *p++);
        else {
            //  Copy a valid UTF-8 sequence; anything else becomes U+FFFD
            //  (strings from the bus are not guaranteed to be UTF-8).
            size_t n = s_utf8_length (p);
            if (n)
                wp_json_appendf (buffer, len, cap, "%.*s", (int) n, (const char *) p);
            else
                wp_json_appendf (buffer, len, cap, "\\ufffd");
            p += n ? n : 1;
        }
    }
    wp_json_appendf (buffer, len, cap, "\"");
}

static void s_message (char **b, size_t *l, size_t *c, const ProtobufCMessage *msg,
                       const char *topic);

//  Append one value of a field, at address `value`.
static void
s_value (char **b, size_t *l, size_t *c, const ProtobufCFieldDescriptor *field,
         const void *value)
{
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            wp_json_appendf (b, l, c, "%" PRId32, *(const int32_t *) value);
            break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            wp_json_appendf (b, l, c, "%" PRIu32, *(const uint32_t *) value);
            break;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            wp_json_appendf (b, l, c, "%" PRId64, *(const int64_t *) value);
            break;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            wp_json_appendf (b, l, c, "%" PRIu64, *(const uint64_t *) value);
            break;
        case PROTOBUF_C_TYPE_FLOAT: {
            double v = *(const float *) value;
            wp_json_appendf (b, l, c, isfinite (v) ? "%.9g" : "null", v);
            break;
        }
        case PROTOBUF_C_TYPE_DOUBLE: {
            double v = *(const double *) value;
            if (isfinite (v))
                wp_json_appendf (b, l, c, "%.17g", v);
            else
                wp_json_appendf (b, l, c, "null");
            break;
        }
        case PROTOBUF_C_TYPE_BOOL:
            wp_json_appendf (b, l, c, *(const protobuf_c_boolean *) value ? "true" : "false");
            break;
        case PROTOBUF_C_TYPE_ENUM: {
            int v = *(const int *) value;
            const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value (
                (const ProtobufCEnumDescriptor *) field->descriptor, v);
            if (ev)
                wp_json_append_string (b, l, c, ev->name);
            else
                wp_json_appendf (b, l, c, "%d", v);
            break;
        }
        case PROTOBUF_C_TYPE_STRING:
            wp_json_append_string (b, l, c, *(char *const *) value);
            break;
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *data = (const ProtobufCBinaryData *) value;
            wp_json_appendf (b, l, c, "\"");
            for (size_t i = 0; i < data->len; i++)
                wp_json_appendf (b, l, c, "%02x", data->data [i]);
            wp_json_appendf (b, l, c, "\"");
            break;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *) value;
            if (sub)
                s_message (b, l, c, sub, NULL);
            else
                wp_json_appendf (b, l, c, "null");
            break;
        }
    }
}

//  Size of one element of a repeated field.
static size_t
s_element_size (const ProtobufCFieldDescriptor *field)
{
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
            return 8;
        case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
            return sizeof (void *);
        case PROTOBUF_C_TYPE_BYTES:
            return sizeof (ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_BOOL:
            return sizeof (protobuf_c_boolean);
        default:
            return 4;
    }
}

//  Append a message as an object.
static void
s_message (char **b, size_t *l, size_t *c, const ProtobufCMessage *msg, const char *topic)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    wp_json_appendf (b, l, c, "{");
    bool first = true;
    if (topic) {
        wp_json_appendf (b, l, c, "\"topic\":");
        wp_json_append_string (b, l, c, topic);
        first = false;
    }
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &desc->fields [i];
        const char *base = (const char *) msg;
        wp_json_appendf (b, l, c, "%s\"%s\":", first ? "" : ",", field->name);
        first = false;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) (base + field->quantifier_offset);
            const char *array = *(char *const *) (base + field->offset);
            wp_json_appendf (b, l, c, "[");
            for (size_t j = 0; j < n; j++) {
                if (j)
                    wp_json_appendf (b, l, c, ",");
                s_value (b, l, c, field, array + j * s_element_size (field));
            }
            wp_json_appendf (b, l, c, "]");
        }
        else
            s_value (b, l, c, field, base + field->offset);
    }
    wp_json_appendf (b, l, c, "}");
}

//  One event as JSON.
char *
wp_json_event (const char *topic, const ProtobufCMessage *msg)
{
    assert (msg);
    char *buffer = NULL;
    size_t len = 0, cap = 0;
    s_message (&buffer, &len, &cap, msg, topic);
    return buffer;
}
