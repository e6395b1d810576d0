/*  =========================================================================
    wp_pattern_wire - one pair's summary to and from usage.pattern.
    =========================================================================
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "wp_pattern_wire.h"

//  --- Writing ---------------------------------------------------------------

//  Append a link list to the flattened arrays; returns how many went.
static size_t
s_links_fill (wp_pattern_wire_t *self, size_t at, const wp_link_t *links, uint8_t n,
              bool delays)
{
    size_t added = 0;
    for (uint8_t i = 0; i < n && i < WP_PATTERN_LINKS; i++) {
        self->link_model [at + added] = (char *) links [i].model;
        self->link_weight [at + added] = links [i].weight;
        self->link_delay_ms [at + added] = delays ? links [i].delay_ms : 0;
        added++;
    }
    return added;
}

void
wp_pattern_wire_fill (wp_pattern_wire_t *self, const wp_pattern_t *pair,
                      Warmup__V1__UsagePattern *out)
{
    assert (self && pair && out);
    out->model = (char *) pair->model;
    out->count = pair->count;
    out->last_ms = pair->last_ms;
    out->rate_per_h = pair->rate_per_h;
    //  The bins that hold idle times, and their counts.
    uint64_t bins = 0;
    size_t n = 0;
    if (pair->hist)
        for (int b = 0; b < WP_IDLE_BINS; b++)
            if (pair->hist [b] != 0) {
                bins |= 1ULL << b;
                self->hist [n++] = pair->hist [b];
            }
    out->idle_bins = bins;
    out->n_idle_hist = n;
    out->idle_hist = self->hist;
    out->idle_total = pair->hist ? pair->hist_total : 0;
    out->season = pair->season;
    out->anomaly = pair->anomaly;
    size_t next = s_links_fill (self, 0, pair->next, pair->n_next, true);
    size_t next2 = s_links_fill (self, next, pair->next2, pair->n_next2, true);
    size_t couse = s_links_fill (self, next + next2, pair->couse, pair->n_couse, false);
    out->next_count = (uint32_t) next;
    out->next2_count = (uint32_t) next2;
    out->n_link_model = out->n_link_weight = out->n_link_delay_ms = next + next2 + couse;
    out->link_model = self->link_model;
    out->link_weight = self->link_weight;
    out->link_delay_ms = self->link_delay_ms;
}

//  --- Reading ---------------------------------------------------------------

//  Say what is wrong (error may be NULL); -1.
static int
s_refuse (char *error, size_t error_size, const char *why)
{
    if (error && error_size)
        snprintf (error, error_size, "%s", why);
    return -1;
}

//  True for a finite, non-negative number.
static inline bool
s_count_good (double value)
{
    return value >= 0 && isfinite (value);
}

//  Read one link list of n links from the arrays at `at`: the good ones.
static uint8_t
s_links_read (const Warmup__V1__UsagePattern *msg, size_t at, size_t n, wp_link_t *out)
{
    uint8_t kept = 0;
    for (size_t i = at; i < at + n; i++) {
        const char *model = msg->link_model [i];
        float weight = msg->link_weight [i], delay = msg->link_delay_ms [i];
        if (!model || !*model || !s_count_good (weight) || !s_count_good (delay))
            continue;
        out [kept].model = model;
        out [kept].model_id = 0;
        out [kept].weight = weight;
        out [kept].delay_ms = delay;
        kept++;
    }
    return kept;
}

int
wp_pattern_wire_read (const Warmup__V1__UsagePattern *msg, wp_pattern_t *out,
                      char *error, size_t error_size)
{
    assert (msg && out);
    memset (out, 0, sizeof *out);
    if (!msg->model || !*msg->model)
        return s_refuse (error, error_size, "model: missing");
    if (msg->count == 0)
        return s_refuse (error, error_size, "count: 0 (a pair has a request)");
    if (WP_IDLE_BINS < 64 && (msg->idle_bins >> WP_IDLE_BINS))
        return s_refuse (error, error_size, "idle_bins: a bin past the last");
    if (msg->n_idle_hist != (size_t) __builtin_popcountll (msg->idle_bins))
        return s_refuse (error, error_size, "idle_hist: not one count per set bin");
    if (!s_count_good (msg->idle_total))
        return s_refuse (error, error_size, "idle_total: not a finite count");
    size_t n_links = msg->n_link_model;
    if (msg->n_link_weight != n_links || msg->n_link_delay_ms != n_links)
        return s_refuse (error, error_size,
                         "link_model, link_weight, link_delay_ms: of different lengths");
    if (msg->next_count > WP_PATTERN_LINKS || msg->next2_count > WP_PATTERN_LINKS
        || msg->next_count + msg->next2_count > n_links
        || n_links - msg->next_count - msg->next2_count > WP_PATTERN_LINKS)
        return s_refuse (error, error_size,
                         "next_count, next2_count: lists longer than 4 or than the links");
    int at = 0;
    for (uint64_t bins = msg->idle_bins; bins; bins &= bins - 1, at++) {
        float count = msg->idle_hist [at];
        if (!s_count_good (count))
            return s_refuse (error, error_size, "idle_hist: a count that is not finite "
                             "and non-negative");
        out->hist_buf [__builtin_ctzll (bins)] = count;
    }
    out->model = msg->model;
    out->count = msg->count;
    out->last_ms = msg->last_ms;
    out->rate_per_h = s_count_good (msg->rate_per_h) ? msg->rate_per_h : 0;
    out->hist = out->hist_buf;
    out->hist_total = msg->idle_total;
    out->season = isfinite (msg->season) ? msg->season : 1;
    out->anomaly = isfinite (msg->anomaly) ? msg->anomaly : 0;
    size_t next = msg->next_count, next2 = msg->next2_count;
    out->n_next = s_links_read (msg, 0, next, out->next);
    out->n_next2 = s_links_read (msg, next, next2, out->next2);
    out->n_couse = s_links_read (msg, next + next2, n_links - next - next2, out->couse);
    return 0;
}
