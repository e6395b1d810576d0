/*  =========================================================================
    wp_pattern_wire - a user's pattern to and from the usage.pattern message.
    =========================================================================
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "wp_pattern_wire.h"

//  Reference of a linked model: its entry, else its place among the others.
static uint32_t
s_ref (wp_pattern_wire_t *self, const wp_pattern_t *pattern, size_t n, const wp_link_t *link,
       size_t *n_others)
{
    for (size_t i = 0; i < n; i++)
        if (pattern [i].model_id == link->model_id)
            return (uint32_t) i;
    for (size_t i = 0; i < *n_others; i++)
        if (self->other_ids [i] == link->model_id)
            return (uint32_t) (n + i);
    self->others [*n_others] = (char *) link->model;
    self->other_ids [*n_others] = link->model_id;
    return (uint32_t) (n + (*n_others)++);
}

void
wp_pattern_wire_fill (wp_pattern_wire_t *self, wp_pattern_t *pattern, size_t n,
                      Warmup__V1__UsagePattern *out)
{
    assert (self && (pattern || n == 0) && out);
    if (n > WP_PATTERN_WIRE_MAX)
        n = WP_PATTERN_WIRE_MAX;
    size_t n_others = 0;
    for (size_t i = 0; i < n; i++) {
        wp_pattern_t *p = &pattern [i];
        Warmup__V1__ModelPattern *e = &self->entries [i];
        warmup__v1__model_pattern__init (e);
        e->model = (char *) p->model;
        e->count = p->count;
        e->last_ms = p->last_ms;
        e->gap_mean_ms = p->gap_mean_ms;
        e->gap_std_ms = p->gap_std_ms;
        e->model_count = p->model_count;
        e->rate_per_h = p->rate_per_h;
        //  The histograms as the engine needs them: the pair's, its recent
        //  idle times, and the population prior (the engine does not see
        //  the other pairs).
        if (p->hist) {
            e->n_idle_hist = WP_IDLE_BINS;
            e->idle_hist = (float *) p->hist;
            e->idle_total = p->hist_total;
        }
        e->n_idle_recent = WP_IDLE_BINS;
        e->idle_recent = p->recent;
        e->recent_total = p->recent_total;
        wp_analyzer_prior (p, p->prior);
        e->n_idle_prior = WP_IDLE_BINS;
        e->idle_prior = p->prior;
        e->rate_short_per_h = p->rate_short_per_h;
        e->rate_long_per_h = p->rate_long_per_h;
        e->anomaly = p->anomaly;
        e->season = p->season;
        const wp_link_t *lists [3] = { p->next, p->next2, p->couse };
        size_t counts [3] = { p->n_next, p->n_next2, p->n_couse };
        for (int l = 0; l < 3; l++) {
            if (counts [l] > WP_ANALYZER_LINKS)
                counts [l] = WP_ANALYZER_LINKS;
            for (size_t j = 0; j < counts [l]; j++) {
                self->refs [i][l][j] = s_ref (self, pattern, n, &lists [l][j], &n_others);
                self->weights [i][l][j] = lists [l][j].weight;
                if (l < 2)
                    self->delays [i][l][j] = lists [l][j].delay_ms;
            }
        }
        e->n_next_ref = e->n_next_weight = e->n_next_delay_ms = counts [0];
        e->next_ref = self->refs [i][0];
        e->next_weight = self->weights [i][0];
        e->next_delay_ms = self->delays [i][0];
        e->n_next2_ref = e->n_next2_weight = e->n_next2_delay_ms = counts [1];
        e->next2_ref = self->refs [i][1];
        e->next2_weight = self->weights [i][1];
        e->next2_delay_ms = self->delays [i][1];
        e->n_couse_ref = e->n_couse_weight = counts [2];
        e->couse_ref = self->refs [i][2];
        e->couse_weight = self->weights [i][2];
        self->pointers [i] = e;
    }
    out->n_models = n;
    out->models = self->pointers;
    out->n_link_models = n_others;
    out->link_models = self->others;
    out->idle_bins = WP_IDLE_BINS;
}

//  Copy a histogram of WP_IDLE_BINS finite, non-negative floats; false if
//  it is not one. The test is on the bits (no branch per bin): a float is
//  finite and >= 0 when its bits are below those of +infinity, or -0.
static bool
s_hist (const float *in, size_t n, float *out)
{
    if (n != WP_IDLE_BINS)
        return false;
    memcpy (out, in, WP_IDLE_BINS * sizeof (float));
    //  Rounded up to 8 lanes (zeros pass), so the loop vectorises.
    uint32_t bits [(WP_IDLE_BINS + 7) / 8 * 8] = { 0 };
    memcpy (bits, in, WP_IDLE_BINS * sizeof (float));
    uint32_t bad = 0;
    for (size_t i = 0; i < sizeof bits / sizeof bits [0]; i++)
        bad |= (uint32_t) (bits [i] >= 0x7F800000u) & (uint32_t) (bits [i] != 0x80000000u);
    return !bad;
}

//  A usable link: a weight and a delay that are finite, non-negative counts.
static bool
s_link_good (float weight, float delay_ms)
{
    return weight >= 0 && isfinite (weight) && isfinite (delay_ms);
}

//  Copy up to WP_ANALYZER_LINKS links of the older form.
static uint8_t
s_links_old (Warmup__V1__ModelLink **in, size_t n_in, wp_link_t *out)
{
    uint8_t n = 0;
    for (size_t i = 0; i < n_in && n < WP_ANALYZER_LINKS; i++) {
        if (!in [i]->model || !*in [i]->model || !s_link_good (in [i]->weight, in [i]->delay_ms))
            continue;
        out [n].model = in [i]->model;
        out [n].model_id = 0;
        out [n].weight = in [i]->weight;
        out [n].delay_ms = in [i]->delay_ms;
        n++;
    }
    return n;
}

//  Copy up to WP_ANALYZER_LINKS links given as references; -1 if the
//  arrays do not hold together.
static int
s_links (const Warmup__V1__UsagePattern *msg, const uint32_t *refs, size_t n_refs,
         const float *weights, size_t n_weights, const float *delays, size_t n_delays,
         bool has_delays, wp_link_t *out)
{
    if (n_weights != n_refs || (has_delays && n_delays != n_refs))
        return -1;
    size_t known = msg->n_models + msg->n_link_models;
    int n = 0;
    for (size_t i = 0; i < n_refs; i++) {
        if (refs [i] >= known)
            return -1;
        float delay = has_delays ? delays [i] : 0;
        if (n >= WP_ANALYZER_LINKS || !s_link_good (weights [i], delay))
            continue;
        const char *model = refs [i] < msg->n_models
                          ? msg->models [refs [i]]->model
                          : msg->link_models [refs [i] - msg->n_models];
        if (!model || !*model)
            continue;
        out [n].model = model;
        out [n].model_id = 0;
        out [n].weight = weights [i];
        out [n].delay_ms = delay;
        n++;
    }
    return n;
}

int
wp_pattern_wire_read (const Warmup__V1__UsagePattern *msg, wp_pattern_t *out,
                      size_t capacity, char *error, size_t error_size)
{
    assert (msg && (out || capacity == 0));
    size_t n = 0;
    for (size_t i = 0; i < msg->n_models && n < capacity; i++) {
        const Warmup__V1__ModelPattern *m = msg->models [i];
        if (!m->model || !*m->model || m->count == 0)
            continue;
        wp_pattern_t *p = &out [n];
        //  Only the fields read below matter; the rest is zeroed here.
        memset (p, 0, offsetof (wp_pattern_t, hist_buf));
        p->model = m->model;
        p->count = m->count;
        p->last_ms = m->last_ms;
        p->gap_mean_ms = m->gap_mean_ms;
        p->gap_std_ms = m->gap_std_ms;
        p->model_count = m->model_count;
        p->rate_per_h = m->rate_per_h;
        p->hist = NULL;
        //  The idle-time statistics: histograms of another size (another
        //  analyzer) or with bad values are left out; the prior is then
        //  flat (every bin alike).
        if (s_hist (m->idle_hist, m->n_idle_hist, p->hist_buf) && m->idle_total >= 0
            && isfinite (m->idle_total)) {
            p->hist = p->hist_buf;
            p->hist_total = m->idle_total;
        }
        if (s_hist (m->idle_recent, m->n_idle_recent, p->recent)
            && m->recent_total >= 0 && isfinite (m->recent_total))
            p->recent_total = m->recent_total;
        else {
            memset (p->recent, 0, sizeof p->recent);
            p->recent_total = 0;
        }
        if (!s_hist (m->idle_prior, m->n_idle_prior, p->prior))
            for (int b = 0; b < WP_IDLE_BINS; b++)
                p->prior [b] = 1.0f / WP_IDLE_BINS;
        p->model_bins = 0;
        p->model_counts = NULL;
        p->model_unit = 0;
        p->global_hist = NULL;
        p->global_total = 0;
        p->rate_short_per_h = isfinite (m->rate_short_per_h) ? m->rate_short_per_h : 0;
        p->rate_long_per_h = isfinite (m->rate_long_per_h) ? m->rate_long_per_h : 0;
        p->anomaly = isfinite (m->anomaly) ? m->anomaly : 0;
        p->season = isfinite (m->season) && m->season > 0 ? m->season : 1;
        //  Links: references when present, else the older lists.
        int got [3];
        const char *field = NULL;
        got [0] = m->n_next_ref || m->n_next_weight || m->n_next_delay_ms
                ? s_links (msg, m->next_ref, m->n_next_ref, m->next_weight, m->n_next_weight,
                           m->next_delay_ms, m->n_next_delay_ms, true, p->next)
                : s_links_old (m->next, m->n_next, p->next);
        if (got [0] < 0)
            field = "next_ref";
        got [1] = m->n_next2_ref || m->n_next2_weight || m->n_next2_delay_ms
                ? s_links (msg, m->next2_ref, m->n_next2_ref, m->next2_weight,
                           m->n_next2_weight, m->next2_delay_ms, m->n_next2_delay_ms, true,
                           p->next2)
                : s_links_old (m->next2, m->n_next2, p->next2);
        if (got [1] < 0 && !field)
            field = "next2_ref";
        got [2] = m->n_couse_ref || m->n_couse_weight
                ? s_links (msg, m->couse_ref, m->n_couse_ref, m->couse_weight,
                           m->n_couse_weight, NULL, 0, false, p->couse)
                : s_links_old (m->couse, m->n_couse, p->couse);
        if (got [2] < 0 && !field)
            field = "couse_ref";
        if (field) {
            if (error && error_size)
                snprintf (error, error_size,
                          "models[%zu] (%.64s): %s: arrays of different lengths or a "
                          "reference to no model", i, m->model, field);
            return -1;
        }
        p->n_next = (uint8_t) got [0];
        p->n_next2 = (uint8_t) got [1];
        p->n_couse = (uint8_t) got [2];
        n++;
    }
    return (int) n;
}
