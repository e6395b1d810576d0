/*  =========================================================================
    wp_measure - what a load really took, from the readings around it.
    =========================================================================
*/
#include "wp_measure.h"
#include <czmq.h>

//  One reading of a channel.
typedef struct {
    uint64_t start_ms, end_ms;  //  taken between
    uint64_t value;             //  MiB (GPU) or KiB (processes)
} reading_t;

//  A channel's last readings, a ring.
typedef struct {
    reading_t readings [WP_MEASURE_READINGS];
    size_t head;                //  next slot written
    size_t count;               //  readings held
} channel_t;

//  A load or cool of the service: from when it was asked (or started) to
//  its end (UINT64_MAX while it runs).
typedef struct {
    char model [WP_MEASURE_NAME_MAX + 1];
    uint64_t start_ms, end_ms;
} activity_t;

//  A load waiting for its readings after.
typedef struct {
    char model [WP_MEASURE_NAME_MAX + 1];
    uint64_t start_ms, end_ms;
    unsigned channels [WP_MEASURE_CHANNELS];
    size_t n_channels;
} pending_t;

struct _wp_measure_t {
    channel_t channels [WP_MEASURE_CHANNELS];
    activity_t activity [WP_MEASURE_ACTIVITY];  //  a ring, oldest overwritten
    size_t activity_head, activity_count;
    pending_t pending [WP_MEASURE_PENDING];
    size_t n_pending;
    uint64_t dropped;           //  loads found not measurable
};

//  Create.
wp_measure_t *
wp_measure_new (void)
{
    return (wp_measure_t *) calloc (1, sizeof (wp_measure_t));
}

//  Destroy.
void
wp_measure_destroy (wp_measure_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

//  A reading of a channel.
int
wp_measure_reading (wp_measure_t *self, unsigned channel, uint64_t start_ms,
                    uint64_t end_ms, uint64_t value)
{
    assert (self);
    if (channel >= WP_MEASURE_CHANNELS || end_ms < start_ms)
        return -1;
    channel_t *c = &self->channels [channel];
    c->readings [c->head] = (reading_t) { start_ms, end_ms, value };
    c->head = (c->head + 1) % WP_MEASURE_READINGS;
    if (c->count < WP_MEASURE_READINGS)
        c->count++;
    return 0;
}

//  True for a name that fits.
static bool
s_name_ok (const char *model)
{
    return model && *model && strlen (model) <= WP_MEASURE_NAME_MAX;
}

//  Remember one activity.
static void
s_activity (wp_measure_t *self, const char *model, uint64_t start_ms, uint64_t end_ms)
{
    activity_t *a = &self->activity [self->activity_head];
    snprintf (a->model, sizeof a->model, "%s", model);
    a->start_ms = start_ms;
    a->end_ms = end_ms;
    self->activity_head = (self->activity_head + 1) % WP_MEASURE_ACTIVITY;
    if (self->activity_count < WP_MEASURE_ACTIVITY)
        self->activity_count++;
}

//  A load or cool asked.
void
wp_measure_asked (wp_measure_t *self, const char *model, uint64_t at_ms)
{
    assert (self);
    if (s_name_ok (model))
        s_activity (self, model, at_ms, UINT64_MAX);
}

//  A load or cool ended.
void
wp_measure_ended (wp_measure_t *self, const char *model, uint64_t start_ms,
                  uint64_t end_ms)
{
    assert (self);
    if (!s_name_ok (model))
        return;
    //  Close the model's running activity, from when it was asked
    for (size_t i = 0; i < self->activity_count; i++) {
        activity_t *a = &self->activity [i];
        if (a->end_ms == UINT64_MAX && streq (a->model, model)) {
            a->start_ms = a->start_ms < start_ms ? a->start_ms : start_ms;
            a->end_ms = end_ms;
            return;
        }
    }
    s_activity (self, model, start_ms, end_ms);
}

//  Measure a load.
int
wp_measure_load (wp_measure_t *self, const char *model, uint64_t start_ms,
                 uint64_t end_ms, const unsigned *channels, size_t n)
{
    assert (self && (channels || !n));
    if (!s_name_ok (model) || n > WP_MEASURE_CHANNELS || !n)
        return -1;
    if (self->n_pending == WP_MEASURE_PENDING) {
        self->dropped++;
        return -1;
    }
    pending_t *p = &self->pending [self->n_pending++];
    snprintf (p->model, sizeof p->model, "%s", model);
    p->start_ms = start_ms;
    p->end_ms = end_ms;
    memcpy (p->channels, channels, n * sizeof *channels);
    p->n_channels = n;
    return 0;
}

//  The last reading of a channel ended by before_ms, and the first started
//  at or after after_ms (NULL when there is none).
static void
s_around (const channel_t *c, uint64_t before_ms, uint64_t after_ms,
          const reading_t **before, const reading_t **after)
{
    *before = *after = NULL;
    for (size_t i = 0; i < c->count; i++) {
        const reading_t *r = &c->readings [i];
        if (r->end_ms <= before_ms && (!*before || r->end_ms > (*before)->end_ms))
            *before = r;
        if (r->start_ms >= after_ms && (!*after || r->start_ms < (*after)->start_ms))
            *after = r;
    }
}

//  Did another load or cool of the service run in (from, to)? The load
//  measured itself (same model, overlapping its own run) does not count.
static bool
s_overlapped (wp_measure_t *self, const pending_t *p, uint64_t from, uint64_t to)
{
    for (size_t i = 0; i < self->activity_count; i++) {
        const activity_t *a = &self->activity [i];
        if (a->start_ms >= to || a->end_ms <= from)
            continue;
        bool itself = streq (a->model, p->model) && a->start_ms <= p->end_ms
                   && a->end_ms >= p->start_ms;
        if (!itself)
            return true;
    }
    return false;
}

//  What one pending load says now: 1 measured (into out), 0 wait, -1 drop.
static int
s_assess (wp_measure_t *self, const pending_t *p, uint64_t now_ms, wp_measured_t *out)
{
    uint64_t from = UINT64_MAX, to = 0;
    int64_t vram = 0, ram_kb = 0;
    bool gpu = false, processes = false;
    for (size_t i = 0; i < p->n_channels; i++) {
        unsigned channel = p->channels [i];
        if (channel >= WP_MEASURE_CHANNELS)
            continue;
        const reading_t *before, *after;
        s_around (&self->channels [channel], p->start_ms, p->end_ms, &before, &after);
        if (!after)
            return now_ms > p->end_ms + WP_MEASURE_WAIT_MS ? -1 : 0;
        if (!before)
            continue;           //  this channel has nothing from before
        from = before->end_ms < from ? before->end_ms : from;
        to = after->start_ms > to ? after->start_ms : to;
        int64_t change = (int64_t) after->value - (int64_t) before->value;
        if (channel < WP_MEASURE_WATCH (0)) {
            vram += change;
            gpu = true;
        }
        else {
            ram_kb += change;
            processes = true;
        }
    }
    if ((!gpu && !processes) || s_overlapped (self, p, from, to))
        return -1;
    uint64_t vram_mb = vram > 0 ? (uint64_t) vram : 0;
    uint64_t ram_mb = ram_kb > 0 ? ((uint64_t) ram_kb + 1023) >> 10 : 0;
    if (vram_mb + ram_mb == 0 || vram_mb > UINT32_MAX || ram_mb > UINT32_MAX)
        return -1;
    snprintf (out->model, sizeof out->model, "%s", p->model);
    out->vram_mb = (uint32_t) vram_mb;
    out->ram_mb = (uint32_t) ram_mb;
    out->gpu = gpu;
    out->processes = processes;
    out->end_ms = p->end_ms;
    return 1;
}

//  Loads measured by now.
size_t
wp_measure_take (wp_measure_t *self, uint64_t now_ms, wp_measured_t *out, size_t capacity)
{
    assert (self && (out || !capacity));
    size_t n = 0, kept = 0;
    for (size_t i = 0; i < self->n_pending; i++) {
        pending_t *p = &self->pending [i];
        int verdict = n < capacity ? s_assess (self, p, now_ms, &out [n]) : 0;
        if (verdict == 1)
            n++;
        else
        if (verdict < 0)
            self->dropped++;
        else
        if (kept++ != i)
            self->pending [kept - 1] = *p;
    }
    self->n_pending = kept;
    return n;
}

//  Loads dropped.
uint64_t
wp_measure_dropped (wp_measure_t *self)
{
    assert (self);
    return self->dropped;
}
