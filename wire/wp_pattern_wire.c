/*  =========================================================================
    wp_pattern_wire - a user's pattern to and from the usage.pattern message.
    =========================================================================
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "wp_pattern_wire.h"

//  --- Writing ---------------------------------------------------------------

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
    const size_t bins = WP_IDLE_BINS * sizeof (float);
    size_t n_others = 0, n_links [3] = { 0, 0, 0 };
    for (size_t i = 0; i < n; i++) {
        wp_pattern_t *p = &pattern [i];
        self->model [i] = (char *) p->model;
        self->count [i] = p->count;
        self->last_ms [i] = p->last_ms;
        self->model_count [i] = p->model_count;
        self->gap_mean_ms [i] = p->gap_mean_ms;
        self->gap_std_ms [i] = p->gap_std_ms;
        self->rate_per_h [i] = p->rate_per_h;
        //  The histograms as the engine needs them: the pair's, its recent
        //  idle times, and the population prior (the engine does not see
        //  the other pairs).
        if (p->hist)
            memcpy (&self->hist [i * WP_IDLE_BINS], p->hist, bins);
        else
            memset (&self->hist [i * WP_IDLE_BINS], 0, bins);
        self->idle_total [i] = p->hist ? p->hist_total : 0;
        memcpy (&self->recent [i * WP_IDLE_BINS], p->recent, bins);
        self->recent_total [i] = p->recent_total;
        wp_pattern_prior (p, p->prior);
        memcpy (&self->prior [i * WP_IDLE_BINS], p->prior, bins);
        self->rate_short_per_h [i] = p->rate_short_per_h;
        self->rate_long_per_h [i] = p->rate_long_per_h;
        self->anomaly [i] = p->anomaly;
        self->season [i] = p->season;
        const wp_link_t *lists [3] = { p->next, p->next2, p->couse };
        size_t counts [3] = { p->n_next, p->n_next2, p->n_couse };
        for (int l = 0; l < 3; l++) {
            if (counts [l] > WP_PATTERN_LINKS)
                counts [l] = WP_PATTERN_LINKS;
            self->link_count [l][i] = (uint32_t) counts [l];
            for (size_t j = 0; j < counts [l]; j++) {
                size_t at = n_links [l]++;
                self->refs [l][at] = s_ref (self, pattern, n, &lists [l][j], &n_others);
                self->weights [l][at] = lists [l][j].weight;
                if (l < 2)
                    self->delays [l][at] = lists [l][j].delay_ms;
            }
        }
    }
    Warmup__V1__PatternColumns *c = &self->columns;
    warmup__v1__pattern_columns__init (c);
    c->n_model = c->n_count = c->n_last_ms = c->n_gap_mean_ms = c->n_gap_std_ms = n;
    c->n_model_count = c->n_rate_per_h = c->n_idle_total = c->n_recent_total = n;
    c->n_rate_short_per_h = c->n_rate_long_per_h = c->n_anomaly = c->n_season = n;
    c->n_idle_hist = c->n_idle_recent = c->n_idle_prior = n * WP_IDLE_BINS;
    c->model = self->model;
    c->count = self->count;
    c->last_ms = self->last_ms;
    c->gap_mean_ms = self->gap_mean_ms;
    c->gap_std_ms = self->gap_std_ms;
    c->model_count = self->model_count;
    c->rate_per_h = self->rate_per_h;
    c->idle_hist = self->hist;
    c->idle_total = self->idle_total;
    c->idle_recent = self->recent;
    c->recent_total = self->recent_total;
    c->idle_prior = self->prior;
    c->rate_short_per_h = self->rate_short_per_h;
    c->rate_long_per_h = self->rate_long_per_h;
    c->anomaly = self->anomaly;
    c->season = self->season;
    c->n_next_count = c->n_next2_count = c->n_couse_count = n;
    c->next_count = self->link_count [0];
    c->next2_count = self->link_count [1];
    c->couse_count = self->link_count [2];
    c->n_next_ref = c->n_next_weight = c->n_next_delay_ms = n_links [0];
    c->next_ref = self->refs [0];
    c->next_weight = self->weights [0];
    c->next_delay_ms = self->delays [0];
    c->n_next2_ref = c->n_next2_weight = c->n_next2_delay_ms = n_links [1];
    c->next2_ref = self->refs [1];
    c->next2_weight = self->weights [1];
    c->next2_delay_ms = self->delays [1];
    c->n_couse_ref = c->n_couse_weight = n_links [2];
    c->couse_ref = self->refs [2];
    c->couse_weight = self->weights [2];
    out->columns = c;
    out->n_models = 0;
    out->models = NULL;
    out->n_link_models = n_others;
    out->link_models = self->others;
    out->idle_bins = WP_IDLE_BINS;
}

//  --- Reading ---------------------------------------------------------------

//  True if a histogram of WP_IDLE_BINS floats holds finite, non-negative
//  counts. The test is on the bits (no branch per bin): a float is finite
//  and >= 0 when its bits are below those of +infinity, or -0.
static bool
s_hist_good (const float *in)
{
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

//  Fill an entry's histograms: the pair's (borrowed), recent and prior
//  (copied); each left out as the header says when it is not one.
static void
s_hists (wp_pattern_t *p, const float *hist, double hist_total, const float *recent,
         double recent_total, const float *prior)
{
    p->hist = NULL;
    p->hist_total = 0;
    if (hist && s_hist_good (hist) && hist_total >= 0 && isfinite (hist_total)) {
        p->hist = hist;
        p->hist_total = hist_total;
    }
    if (recent && s_hist_good (recent) && recent_total >= 0 && isfinite (recent_total)) {
        memcpy (p->recent, recent, sizeof p->recent);
        p->recent_total = recent_total;
    }
    else {
        memset (p->recent, 0, sizeof p->recent);
        p->recent_total = 0;
    }
    if (prior && s_hist_good (prior))
        memcpy (p->prior, prior, sizeof p->prior);
    else
        for (int b = 0; b < WP_IDLE_BINS; b++)
            p->prior [b] = 1.0f / WP_IDLE_BINS;
}

//  Fill an entry's statistics that need no more than a finite value.
static void
s_rates (wp_pattern_t *p, double rate_short, double rate_long, double anomaly, double season)
{
    p->rate_short_per_h = isfinite (rate_short) ? rate_short : 0;
    p->rate_long_per_h = isfinite (rate_long) ? rate_long : 0;
    p->anomaly = isfinite (anomaly) ? anomaly : 0;
    p->season = isfinite (season) && season > 0 ? season : 1;
}

//  The name a link reference gives, or NULL if it names no model.
static const char *
s_ref_name (const Warmup__V1__UsagePattern *msg, size_t n_models, const char *const *models,
            uint32_t ref)
{
    if (ref < n_models)
        return models [ref];
    if (ref - n_models < msg->n_link_models)
        return msg->link_models [ref - n_models];
    return NULL;
}

//  Copy up to WP_PATTERN_LINKS links of one model from flattened arrays
//  (delays NULL: none). -1 if a reference names no model.
static int
s_links (const Warmup__V1__UsagePattern *msg, size_t n_models, const char *const *models,
         const uint32_t *refs, const float *weights, const float *delays, size_t count,
         wp_link_t *out)
{
    int n = 0;
    for (size_t i = 0; i < count; i++) {
        const char *model = s_ref_name (msg, n_models, models, refs [i]);
        if (!model)
            return -1;
        float delay = delays ? delays [i] : 0;
        if (n >= WP_PATTERN_LINKS || !*model || !s_link_good (weights [i], delay))
            continue;
        out [n].model = model;
        out [n].model_id = 0;
        out [n].weight = weights [i];
        out [n].delay_ms = delay;
        n++;
    }
    return n;
}

//  Copy up to WP_PATTERN_LINKS links of the ModelLink form.
static uint8_t
s_links_old (Warmup__V1__ModelLink **in, size_t n_in, wp_link_t *out)
{
    uint8_t n = 0;
    for (size_t i = 0; i < n_in && n < WP_PATTERN_LINKS; i++) {
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

//  Write an error and return -1.
static int
s_error (char *error, size_t error_size, const char *field, const char *model)
{
    if (error && error_size) {
        if (model)
            snprintf (error, error_size, "columns.%s of model %.64s: a reference to no model",
                      field, model);
        else
            snprintf (error, error_size, "columns.%s: not one per model (or per link "
                      "counted), as the models and link counts say", field);
    }
    return -1;
}

//  A column of doubles, if it is one per model; 0 at i if it is empty.
#define COLUMN(c, name, i) ((c)->n_##name ? (c)->name [i] : 0)
//  Element first on of a link column, NULL for an empty one (NULL + 0 is
//  undefined behaviour: found by fuzz_pattern_wire).
#define FROM(c, name, first) ((c)->n_##name ? (c)->name + (first) : NULL)

//  Read the columns.
static int
s_read_columns (const Warmup__V1__UsagePattern *msg, wp_pattern_t *out, size_t capacity,
                char *error, size_t error_size)
{
    const Warmup__V1__PatternColumns *c = msg->columns;
    size_t n = c->n_model;
    //  Every per-model column is one per model, or empty.
    struct { const char *name; size_t size; } sizes [] = {
        { "count", c->n_count }, { "last_ms", c->n_last_ms },
        { "gap_mean_ms", c->n_gap_mean_ms }, { "gap_std_ms", c->n_gap_std_ms },
        { "model_count", c->n_model_count }, { "rate_per_h", c->n_rate_per_h },
        { "idle_total", c->n_idle_total }, { "recent_total", c->n_recent_total },
        { "rate_short_per_h", c->n_rate_short_per_h },
        { "rate_long_per_h", c->n_rate_long_per_h }, { "anomaly", c->n_anomaly },
        { "season", c->n_season }, { "next_count", c->n_next_count },
        { "next2_count", c->n_next2_count }, { "couse_count", c->n_couse_count }
    };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes [0]; k++)
        if (sizes [k].size != n && sizes [k].size != 0)
            return s_error (error, error_size, sizes [k].name, NULL);
    //  Histograms: one of idle_bins per model; of another size (another
    //  analyzer's bins), left out.
    size_t hist_len = (size_t) msg->idle_bins * n;
    struct { const char *name; size_t size; } hists [] = {
        { "idle_hist", c->n_idle_hist }, { "idle_recent", c->n_idle_recent },
        { "idle_prior", c->n_idle_prior }
    };
    for (size_t k = 0; k < 3; k++)
        if (hists [k].size != hist_len && hists [k].size != 0)
            return s_error (error, error_size, hists [k].name, NULL);
    bool bins_ok = msg->idle_bins == WP_IDLE_BINS;
    //  Links: the counts add up to each list's arrays.
    size_t sums [3] = { 0, 0, 0 };
    for (size_t i = 0; i < n; i++) {
        sums [0] += COLUMN (c, next_count, i);
        sums [1] += COLUMN (c, next2_count, i);
        sums [2] += COLUMN (c, couse_count, i);
    }
    if (c->n_next_ref != sums [0] || c->n_next_weight != sums [0]
        || c->n_next_delay_ms != sums [0])
        return s_error (error, error_size, "next_ref", NULL);
    if (c->n_next2_ref != sums [1] || c->n_next2_weight != sums [1]
        || c->n_next2_delay_ms != sums [1])
        return s_error (error, error_size, "next2_ref", NULL);
    if (c->n_couse_ref != sums [2] || c->n_couse_weight != sums [2])
        return s_error (error, error_size, "couse_ref", NULL);

    const char *const *models = (const char *const *) c->model;
    size_t got = 0, at [3] = { 0, 0, 0 };
    for (size_t i = 0; i < n; i++) {
        size_t counts [3] = { COLUMN (c, next_count, i), COLUMN (c, next2_count, i),
                              COLUMN (c, couse_count, i) };
        size_t first [3] = { at [0], at [1], at [2] };
        for (int l = 0; l < 3; l++)
            at [l] += counts [l];
        const char *model = models [i];
        if (!model || !*model || COLUMN (c, count, i) == 0 || got >= capacity)
            continue;
        wp_pattern_t *p = &out [got];
        memset (p, 0, offsetof (wp_pattern_t, hist_buf));
        p->model = model;
        p->count = c->count [i];
        p->last_ms = COLUMN (c, last_ms, i);
        p->gap_mean_ms = COLUMN (c, gap_mean_ms, i);
        p->gap_std_ms = COLUMN (c, gap_std_ms, i);
        p->model_count = COLUMN (c, model_count, i);
        p->rate_per_h = COLUMN (c, rate_per_h, i);
        size_t off = i * WP_IDLE_BINS;
        s_hists (p, bins_ok && c->n_idle_hist ? &c->idle_hist [off] : NULL,
                 COLUMN (c, idle_total, i),
                 bins_ok && c->n_idle_recent ? &c->idle_recent [off] : NULL,
                 COLUMN (c, recent_total, i),
                 bins_ok && c->n_idle_prior ? &c->idle_prior [off] : NULL);
        p->model_bins = 0;
        p->model_counts = NULL;
        p->model_unit = 0;
        p->global_hist = NULL;
        p->global_total = 0;
        s_rates (p, COLUMN (c, rate_short_per_h, i), COLUMN (c, rate_long_per_h, i),
                 COLUMN (c, anomaly, i), COLUMN (c, season, i));
        int links [3];
        links [0] = s_links (msg, n, models, FROM (c, next_ref, first [0]),
                             FROM (c, next_weight, first [0]),
                             FROM (c, next_delay_ms, first [0]), counts [0], p->next);
        links [1] = s_links (msg, n, models, FROM (c, next2_ref, first [1]),
                             FROM (c, next2_weight, first [1]),
                             FROM (c, next2_delay_ms, first [1]), counts [1], p->next2);
        links [2] = s_links (msg, n, models, FROM (c, couse_ref, first [2]),
                             FROM (c, couse_weight, first [2]), NULL, counts [2], p->couse);
        static const char *lists [3] = { "next_ref", "next2_ref", "couse_ref" };
        for (int l = 0; l < 3; l++)
            if (links [l] < 0)
                return s_error (error, error_size, lists [l], model);
        p->n_next = (uint8_t) links [0];
        p->n_next2 = (uint8_t) links [1];
        p->n_couse = (uint8_t) links [2];
        got++;
    }
    return (int) got;
}

//  Read the older form: a ModelPattern per model.
static int
s_read_models (const Warmup__V1__UsagePattern *msg, wp_pattern_t *out, size_t capacity)
{
    size_t n = 0;
    for (size_t i = 0; i < msg->n_models && n < capacity; i++) {
        const Warmup__V1__ModelPattern *m = msg->models [i];
        if (!m->model || !*m->model || m->count == 0)
            continue;
        wp_pattern_t *p = &out [n];
        memset (p, 0, offsetof (wp_pattern_t, hist_buf));
        p->model = m->model;
        p->count = m->count;
        p->last_ms = m->last_ms;
        p->gap_mean_ms = m->gap_mean_ms;
        p->gap_std_ms = m->gap_std_ms;
        p->model_count = m->model_count;
        p->rate_per_h = m->rate_per_h;
        s_hists (p, m->n_idle_hist == WP_IDLE_BINS ? m->idle_hist : NULL, m->idle_total,
                 m->n_idle_recent == WP_IDLE_BINS ? m->idle_recent : NULL, m->recent_total,
                 m->n_idle_prior == WP_IDLE_BINS ? m->idle_prior : NULL);
        p->model_bins = 0;
        p->model_counts = NULL;
        p->model_unit = 0;
        p->global_hist = NULL;
        p->global_total = 0;
        s_rates (p, m->rate_short_per_h, m->rate_long_per_h, m->anomaly, m->season);
        p->n_next = s_links_old (m->next, m->n_next, p->next);
        p->n_next2 = s_links_old (m->next2, m->n_next2, p->next2);
        p->n_couse = s_links_old (m->couse, m->n_couse, p->couse);
        n++;
    }
    return (int) n;
}

int
wp_pattern_wire_read (const Warmup__V1__UsagePattern *msg, wp_pattern_t *out,
                      size_t capacity, char *error, size_t error_size)
{
    assert (msg && (out || capacity == 0));
    if (msg->columns)
        return s_read_columns (msg, out, capacity, error, error_size);
    return s_read_models (msg, out, capacity);
}
