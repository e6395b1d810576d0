/*  =========================================================================
    wp_ingress - what the bus proxy does to an event as it enters the bus.
    =========================================================================
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "wp_ingress.h"
#include "wp_util.h"

//  Write a varint; returns its length.
static size_t
s_put_varint (uint8_t *p, uint64_t value)
{
    size_t n = 0;
    while (value >= 0x80) {
        p [n++] = (uint8_t) (value | 0x80);
        value >>= 7;
    }
    p [n++] = (uint8_t) value;
    return n;
}

//  Rewrite a usage.observed payload.
int
wp_ingress_usage (const uint8_t *in, size_t len, const uint8_t key [16], uint8_t *out,
                  wp_ingress_info_t *info)
{
    assert (in || len == 0);
    assert (key && out && info);
    memset (info, 0, sizeof *info);
    const uint8_t *p = in, *end = in + len;
    uint8_t *o = out;
    bool seen [2] = { false, false };
    while (p < end) {
        const uint8_t *field_start = p;
        uint64_t tag, value;
        if (!wp_varint (&p, end, &tag) || (tag >> 3) == 0) {
            info->why = "payload does not parse";
            return -1;
        }
        const uint8_t *tag_end = p;
        uint64_t number = tag >> 3;
        switch (tag & 7) {
            case 0:
                if (!wp_varint (&p, end, &value)) {
                    info->why = "payload does not parse";
                    return -1;
                }
                break;
            case 1:
            case 5: {
                size_t width = (tag & 7) == 1 ? 8 : 4;
                if ((size_t) (end - p) < width) {
                    info->why = "payload does not parse";
                    return -1;
                }
                p += width;
                break;
            }
            case 2: {
                if (!wp_varint (&p, end, &value) || value > (uint64_t) (end - p)) {
                    info->why = "payload does not parse";
                    return -1;
                }
                const uint8_t *data = p;
                p += value;
                if ((number == 3 || number == 4) && value > 0) {
                    if (seen [number - 3]) {
                        info->why = number == 3 ? "user given twice" : "session given twice";
                        return -1;
                    }
                    seen [number - 3] = true;
                    if (number == 3 && value > WP_INGRESS_USER_MAX) {
                        info->why = "user id longer than 256 bytes";
                        return -1;
                    }
                    //  The tag as it came, then the hash in place of the text.
                    memcpy (o, field_start, (size_t) (tag_end - field_start));
                    o += tag_end - field_start;
                    char text [WP_USER_ID_LEN + 1];
                    wp_user_id_format (wp_siphash (key, data, (size_t) value), text);
                    if (number == 4)
                        text [0] = 's';
                    o += s_put_varint (o, WP_USER_ID_LEN);
                    memcpy (o, text, WP_USER_ID_LEN);
                    o += WP_USER_ID_LEN;
                    if (number == 3)
                        info->user = true;
                    continue;
                }
                break;
            }
            default:
                info->why = "payload does not parse";
                return -1;
        }
        memcpy (o, field_start, (size_t) (p - field_start));
        o += p - field_start;
    }
    return (int) (o - out);
}

//  Append a string field.
int
wp_ingress_append_string (uint8_t *buffer, size_t used, size_t cap, uint32_t field,
                          const char *text, size_t len)
{
    assert (buffer && text && field > 0);
    uint8_t head [20];
    size_t n = s_put_varint (head, (uint64_t) field << 3 | 2);
    n += s_put_varint (head + n, len);
    if (used + n + len > cap)
        return -1;
    memcpy (buffer + used, head, n);
    memcpy (buffer + used + n, text, len);
    return (int) (used + n + len);
}

//  --- Rate limits per publisher ---------------------------------------------

#define PROBE 8                 //  slots a key may live in after its hash

//  One publisher's bucket.
typedef struct {
    uint64_t key;               //  0 = empty
    uint64_t last_ns;           //  when its tokens were last counted
    double tokens;              //  events it may still send now
    bool limited;               //  refused at least once
} bucket_t;

struct _wp_ratelimit_t {
    double rate;                //  events per second
    size_t mask;                //  slots - 1
    uint64_t limited_sources;   //  publishers refused at least once
    bucket_t *slots;
};

//  Create a limiter.
wp_ratelimit_t *
wp_ratelimit_new (double rate, size_t slots)
{
    assert (rate > 0 && slots >= PROBE && (slots & (slots - 1)) == 0);
    wp_ratelimit_t *self = (wp_ratelimit_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = (bucket_t *) calloc (slots, sizeof (bucket_t));
    if (!self->slots) {
        free (self);
        return NULL;
    }
    self->rate = rate;
    self->mask = slots - 1;
    return self;
}

//  Destroy.
void
wp_ratelimit_destroy (wp_ratelimit_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->slots);
        free (*self_p);
        *self_p = NULL;
    }
}

//  Take a token.
bool
wp_ratelimit_take (wp_ratelimit_t *self, uint64_t key, uint64_t now_ns)
{
    assert (self);
    if (key == 0)
        key = 1;
    size_t start = (size_t) wp_mix64 (key) & self->mask;
    bucket_t *bucket = NULL, *oldest = NULL;
    for (size_t i = 0; i < PROBE && !bucket; i++) {
        bucket_t *slot = &self->slots [(start + i) & self->mask];
        if (slot->key == key)
            bucket = slot;
        else
        if (!oldest || !slot->key || (oldest->key && slot->last_ns < oldest->last_ns))
            oldest = slot;
    }
    if (!bucket) {
        //  New (or forgotten) publisher: a full bucket, in the place of the
        //  least recently seen one near its hash.
        bucket = oldest;
        bucket->key = key;
        bucket->last_ns = now_ns;
        bucket->tokens = self->rate;
        bucket->limited = false;
    }
    if (now_ns > bucket->last_ns) {
        bucket->tokens += self->rate * (double) (now_ns - bucket->last_ns) / 1e9;
        if (bucket->tokens > self->rate)
            bucket->tokens = self->rate;
        bucket->last_ns = now_ns;
    }
    if (bucket->tokens >= 1) {
        bucket->tokens -= 1;
        return true;
    }
    if (!bucket->limited) {
        bucket->limited = true;
        self->limited_sources++;
    }
    return false;
}

//  Publishers refused at least once.
uint64_t
wp_ratelimit_limited_sources (wp_ratelimit_t *self)
{
    assert (self);
    return self->limited_sources;
}
