/*  =========================================================================
    wp_jval - a small JSON reader: recursive descent over a bounded input
    into a tree of nodes (children as arrays).
    =========================================================================
*/
#include "wp_jval.h"
#include <czmq.h>

//  Structure of our class: one node of the tree
struct _wp_jval_t {
    wp_jval_type_t type;        //  what it is
    bool boolean;               //  BOOL: its value
    double number;              //  NUMBER: its value
    char *string;               //  STRING: decoded text; OBJECT member: unused
    char **keys;                //  OBJECT: member names, parallel to items
    wp_jval_t **items;          //  ARRAY, OBJECT: children
    size_t size;                //  children
};

//  Parser state.
typedef struct {
    const char *p;              //  next byte
    const char *end;            //  end of input
    int depth;                  //  current nesting
} s_parser_t;

static wp_jval_t *s_value (s_parser_t *parser);

//  Skip blank space.
static void
s_blank (s_parser_t *parser)
{
    while (parser->p < parser->end
           && (*parser->p == ' ' || *parser->p == '\t' || *parser->p == '\n'
               || *parser->p == '\r'))
        parser->p++;
}

//  Destroy a tree.
void
wp_jval_destroy (wp_jval_t **self_p)
{
    assert (self_p);
    wp_jval_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->size; i++) {
        wp_jval_destroy (&self->items [i]);
        if (self->keys)
            free (self->keys [i]);
    }
    free (self->items);
    free (self->keys);
    free (self->string);
    free (self);
    *self_p = NULL;
}

//  Append a UTF-8 encoded code point.
static void
s_put_utf8 (char **out, unsigned code)
{
    char *o = *out;
    if (code < 0x80)
        *o++ = (char) (code ? code : '?');
    else
    if (code < 0x800) {
        *o++ = (char) (0xC0 | (code >> 6));
        *o++ = (char) (0x80 | (code & 0x3F));
    }
    else
    if (code < 0x10000) {
        *o++ = (char) (0xE0 | (code >> 12));
        *o++ = (char) (0x80 | ((code >> 6) & 0x3F));
        *o++ = (char) (0x80 | (code & 0x3F));
    }
    else {
        *o++ = (char) (0xF0 | (code >> 18));
        *o++ = (char) (0x80 | ((code >> 12) & 0x3F));
        *o++ = (char) (0x80 | ((code >> 6) & 0x3F));
        *o++ = (char) (0x80 | (code & 0x3F));
    }
    *out = o;
}

//  Four hex digits, or -1.
static int
s_hex4 (s_parser_t *parser)
{
    if (parser->end - parser->p < 4)
        return -1;
    int value = 0;
    for (int i = 0; i < 4; i++) {
        char c = *parser->p++;
        value <<= 4;
        if (c >= '0' && c <= '9')
            value |= c - '0';
        else
        if (c >= 'a' && c <= 'f')
            value |= c - 'a' + 10;
        else
        if (c >= 'A' && c <= 'F')
            value |= c - 'A' + 10;
        else
            return -1;
    }
    return value;
}

//  A string literal (at its opening quote); returns the decoded text.
static char *
s_string (s_parser_t *parser)
{
    parser->p++;
    const char *start = parser->p;
    //  The decoded text is never longer than the literal
    const char *close = start;
    while (close < parser->end && *close != '"') {
        if (*close == '\\')
            close++;
        close++;
    }
    if (close >= parser->end)
        return NULL;
    char *text = (char *) malloc ((size_t) (close - start) + 1);
    if (!text)
        return NULL;
    char *out = text;
    while (parser->p < close) {
        unsigned char c = (unsigned char) *parser->p++;
        if (c < 0x20)
            goto bad;
        if (c != '\\') {
            *out++ = (char) c;
            continue;
        }
        char e = *parser->p++;
        switch (e) {
            case '"':  *out++ = '"'; break;
            case '\\': *out++ = '\\'; break;
            case '/':  *out++ = '/'; break;
            case 'b':  *out++ = '\b'; break;
            case 'f':  *out++ = '\f'; break;
            case 'n':  *out++ = '\n'; break;
            case 'r':  *out++ = '\r'; break;
            case 't':  *out++ = '\t'; break;
            case 'u': {
                int code = s_hex4 (parser);
                if (code < 0)
                    goto bad;
                if (code >= 0xD800 && code <= 0xDBFF && close - parser->p >= 6
                    && parser->p [0] == '\\' && parser->p [1] == 'u') {
                    parser->p += 2;
                    int low = s_hex4 (parser);
                    if (low < 0xDC00 || low > 0xDFFF)
                        goto bad;
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                }
                else
                if (code >= 0xD800 && code <= 0xDFFF)
                    code = '?';
                //  \uXXXX is 6 bytes of input for at most 3 of output;
                //  a pair is 12 for 4
                s_put_utf8 (&out, (unsigned) code);
                break;
            }
            default:
                goto bad;
        }
    }
    *out = 0;
    parser->p = close + 1;
    return text;
bad:
    free (text);
    return NULL;
}

//  A new node of a type.
static wp_jval_t *
s_node (wp_jval_type_t type)
{
    wp_jval_t *node = (wp_jval_t *) calloc (1, sizeof (wp_jval_t));
    if (node)
        node->type = type;
    return node;
}

//  Add a child (and its key, for objects) to a node. Returns 0 or -1.
static int
s_add (wp_jval_t *node, char *key, wp_jval_t *child, size_t *capacity)
{
    if (node->size == *capacity) {
        size_t grown = *capacity ? *capacity * 2 : 4;
        wp_jval_t **items = (wp_jval_t **) realloc (node->items, grown * sizeof *items);
        if (!items)
            return -1;
        node->items = items;
        if (node->type == WP_JVAL_OBJECT) {
            char **keys = (char **) realloc (node->keys, grown * sizeof *keys);
            if (!keys)
                return -1;
            node->keys = keys;
        }
        *capacity = grown;
    }
    if (node->keys)
        node->keys [node->size] = key;
    node->items [node->size++] = child;
    return 0;
}

//  An array or object (at its opening bracket).
static wp_jval_t *
s_container (s_parser_t *parser, bool object)
{
    if (++parser->depth > WP_JVAL_MAX_DEPTH)
        return NULL;
    parser->p++;
    wp_jval_t *node = s_node (object ? WP_JVAL_OBJECT : WP_JVAL_ARRAY);
    if (!node)
        return NULL;
    size_t capacity = 0;
    char close = object ? '}' : ']';
    s_blank (parser);
    if (parser->p < parser->end && *parser->p == close) {
        parser->p++;
        parser->depth--;
        return node;
    }
    while (true) {
        char *key = NULL;
        s_blank (parser);
        if (object) {
            if (parser->p >= parser->end || *parser->p != '"'
                || !(key = s_string (parser)))
                break;
            s_blank (parser);
            if (parser->p >= parser->end || *parser->p++ != ':') {
                free (key);
                break;
            }
        }
        wp_jval_t *child = s_value (parser);
        if (!child || s_add (node, key, child, &capacity)) {
            free (key);
            wp_jval_destroy (&child);
            break;
        }
        s_blank (parser);
        if (parser->p < parser->end && *parser->p == ',') {
            parser->p++;
            continue;
        }
        if (parser->p < parser->end && *parser->p == close) {
            parser->p++;
            parser->depth--;
            return node;
        }
        break;
    }
    wp_jval_destroy (&node);
    return NULL;
}

//  True if the input continues with word.
static bool
s_word (s_parser_t *parser, const char *word)
{
    size_t length = strlen (word);
    if ((size_t) (parser->end - parser->p) < length || memcmp (parser->p, word, length))
        return false;
    parser->p += length;
    return true;
}

//  A number, strictly as JSON writes it.
static wp_jval_t *
s_number (s_parser_t *parser)
{
    const char *p = parser->p;
    if (p < parser->end && *p == '-')
        p++;
    const char *digits = p;
    while (p < parser->end && isdigit ((unsigned char) *p))
        p++;
    if (p == digits)
        return NULL;
    if (p < parser->end && *p == '.') {
        p++;
        const char *fraction = p;
        while (p < parser->end && isdigit ((unsigned char) *p))
            p++;
        if (p == fraction)
            return NULL;
    }
    if (p < parser->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < parser->end && (*p == '+' || *p == '-'))
            p++;
        const char *exponent = p;
        while (p < parser->end && isdigit ((unsigned char) *p))
            p++;
        if (p == exponent)
            return NULL;
    }
    char buffer [64];
    size_t length = (size_t) (p - parser->p);
    if (length >= sizeof buffer)
        return NULL;
    memcpy (buffer, parser->p, length);
    buffer [length] = 0;
    wp_jval_t *node = s_node (WP_JVAL_NUMBER);
    if (node)
        node->number = strtod (buffer, NULL);
    parser->p = p;
    return node;
}

//  Any value.
static wp_jval_t *
s_value (s_parser_t *parser)
{
    s_blank (parser);
    if (parser->p >= parser->end)
        return NULL;
    char c = *parser->p;
    if (c == '{' || c == '[')
        return s_container (parser, c == '{');
    if (c == '"') {
        char *text = s_string (parser);
        wp_jval_t *node = text ? s_node (WP_JVAL_STRING) : NULL;
        if (node)
            node->string = text;
        else
            free (text);
        return node;
    }
    if (s_word (parser, "true") || s_word (parser, "false")) {
        wp_jval_t *node = s_node (WP_JVAL_BOOL);
        if (node)
            node->boolean = parser->p [-1] == 'e' && parser->p [-2] == 'u';
        return node;
    }
    if (s_word (parser, "null"))
        return s_node (WP_JVAL_NULL);
    return s_number (parser);
}

//  Parse a whole text.
wp_jval_t *
wp_jval_parse (const char *text, size_t size)
{
    if (!text)
        return NULL;
    s_parser_t parser = { text, text + size, 0 };
    wp_jval_t *root = s_value (&parser);
    s_blank (&parser);
    if (root && parser.p != parser.end)
        wp_jval_destroy (&root);
    return root;
}

//  Type of a value.
wp_jval_type_t
wp_jval_type (const wp_jval_t *self)
{
    return self ? self->type : WP_JVAL_NULL;
}

//  Member of an object.
const wp_jval_t *
wp_jval_get (const wp_jval_t *self, const char *key)
{
    if (!self || self->type != WP_JVAL_OBJECT || !key)
        return NULL;
    for (size_t i = 0; i < self->size; i++)
        if (streq (self->keys [i], key))
            return self->items [i];
    return NULL;
}

//  Item of an array.
const wp_jval_t *
wp_jval_at (const wp_jval_t *self, size_t index)
{
    if (!self || self->type != WP_JVAL_ARRAY || index >= self->size)
        return NULL;
    return self->items [index];
}

//  Member of an object by position.
const wp_jval_t *
wp_jval_member (const wp_jval_t *self, size_t index, const char **key)
{
    if (!self || self->type != WP_JVAL_OBJECT || index >= self->size)
        return NULL;
    if (key)
        *key = self->keys [index];
    return self->items [index];
}

//  Children of an array or object.
size_t
wp_jval_size (const wp_jval_t *self)
{
    return self && (self->type == WP_JVAL_ARRAY || self->type == WP_JVAL_OBJECT)
         ? self->size : 0;
}

//  Text of a string.
const char *
wp_jval_str (const wp_jval_t *self)
{
    return self && self->type == WP_JVAL_STRING ? self->string : NULL;
}

//  Value of a number.
double
wp_jval_num (const wp_jval_t *self, double fallback)
{
    return self && self->type == WP_JVAL_NUMBER ? self->number : fallback;
}

//  True only for true.
bool
wp_jval_true (const wp_jval_t *self)
{
    return self && self->type == WP_JVAL_BOOL && self->boolean;
}

//  Follow a dotted path of keys.
const wp_jval_t *
wp_jval_path (const wp_jval_t *self, const char *path)
{
    char key [128];
    while (self && path && *path) {
        size_t length = strcspn (path, ".");
        if (length >= sizeof key)
            return NULL;
        memcpy (key, path, length);
        key [length] = 0;
        self = wp_jval_get (self, key);
        path += length;
        if (*path == '.')
            path++;
    }
    return self;
}
