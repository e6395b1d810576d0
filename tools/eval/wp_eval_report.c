/*  =========================================================================
    wp_eval_report - prints evaluation results: table, JSON, SVG chart
    =========================================================================
*/
#include "wp_eval_report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

//  Print a double as a JSON number (null when not a number).
static void
s_json_number (FILE *out, double value, int decimals)
{
    if (isnan (value) || isinf (value))
        fprintf (out, "null");
    else
        fprintf (out, "%.*f", decimals, value);
}

//  Print a string as a JSON string.
static void
s_json_string (FILE *out, const char *str)
{
    fputc ('"', out);
    for (const unsigned char *p = (const unsigned char *) str; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf (out, "\\%c", *p);
        else
        if (*p < 0x20)
            fprintf (out, "\\u%04x", *p);
        else
            fputc (*p, out);
    }
    fputc ('"', out);
}

//  Print one row as a JSON object with the field names.
static void
s_json_row (FILE *out, const wp_eval_row_t *row, bool sweep)
{
    const wp_eval_metrics_t *m = &row->metrics;
    fprintf (out, "{\"name\":");
    s_json_string (out, row->name);
    if (sweep) {
        fprintf (out, ",\"family\":");
        s_json_string (out, row->family);
        fprintf (out, ",\"knob\":");
        s_json_string (out, row->knob_name);
        fprintf (out, ",\"value\":%.17g,\"budget_mb\":%lld", row->knob, (long long) row->budget_mb);
    }
    fprintf (out, ",\"requests\":%llu,\"cold_starts\":%llu,\"delayed\":%llu,\"cold_rate\":",
             (unsigned long long) m->requests, (unsigned long long) m->cold_starts,
             (unsigned long long) m->delayed);
    s_json_number (out, m->cold_rate, 6);
    fprintf (out, ",\"cold_wait_s\":");
    s_json_number (out, m->cold_wait_s, 3);
    fprintf (out, ",\"p75_model_cold_rate\":");
    s_json_number (out, m->p75_model_cold_rate, 6);
    fprintf (out, ",\"resident_gb_s\":");
    s_json_number (out, m->resident_gb_s, 3);
    fprintf (out, ",\"wasted_pct\":");
    s_json_number (out, m->wasted_pct, 3);
    fprintf (out, ",\"prewarms\":%llu,\"useful_prewarms\":%llu,\"fp_rate\":",
             (unsigned long long) m->prewarms, (unsigned long long) m->useful_prewarms);
    s_json_number (out, m->fp_rate, 6);
    fprintf (out, ",\"cold_reduction\":");
    s_json_number (out, m->cold_reduction, 6);
    fprintf (out, ",\"recall\":");
    s_json_number (out, m->recall, 6);
    fprintf (out, ",\"ns_per_event_mean\":");
    s_json_number (out, m->ns_per_event_mean, 1);
    fprintf (out, ",\"ns_per_event_p99\":");
    s_json_number (out, m->ns_per_event_p99, 0);
    fprintf (out, ",\"state_bytes_peak\":%llu", (unsigned long long) m->state_bytes_peak);
    if (row->knob_name && strcmp (row->knob_name, "cold_wait_price") == 0) {
        //  EVAL.md section 6: the cost at the run's own price.
        fprintf (out, ",\"cost\":");
        s_json_number (out, m->cold_wait_s * row->knob + m->resident_gb_s, 3);
    }
    if (m->report [0])
        fprintf (out, ",\"report\":%s", m->report);
    if (m->by_class) {
        fprintf (out, ",\"by_class\":{");
        for (int c = 0; c < WP_EVAL_CLASSES; c++) {
            const wp_eval_class_t *k = &m->classes [c];
            fprintf (out, "%s\"%s\":{\"models\":%u,\"requests\":%llu,\"cold_starts\":%llu,"
                     "\"delayed\":%llu,\"cold_wait_s\":%.3f,\"resident_gb_s\":%.3f}",
                     c? ",": "", wp_eval_class_name (c), k->models,
                     (unsigned long long) k->requests, (unsigned long long) k->cold_starts,
                     (unsigned long long) k->delayed, (double) k->wait_ms / 1000.0,
                     (double) k->resident_mb_ms / (1024.0 * 1000.0));
        }
        fprintf (out, "}");
    }
    fprintf (out, "}");
}

//  Print the rows as JSON.
void
wp_eval_report_json (FILE *out, const char *trace, int64_t budget_mb,
                     const wp_eval_row_t *rows, size_t count, bool sweep)
{
    fprintf (out, "{\"trace\":");
    s_json_string (out, trace);
    fprintf (out, ",\"budget_mb\":%lld,\"policies\":[", (long long) budget_mb);
    bool first = true;
    for (size_t i = 0; i < count; i++) {
        if (rows [i].implicit || rows [i].sweep)
            continue;
        fprintf (out, first? "\n  ": ",\n  ");
        s_json_row (out, &rows [i], false);
        first = false;
    }
    fprintf (out, "]");
    if (sweep) {
        fprintf (out, ",\"sweep\":[");
        first = true;
        for (size_t i = 0; i < count; i++) {
            if (rows [i].implicit || !rows [i].sweep)
                continue;
            fprintf (out, first? "\n  ": ",\n  ");
            s_json_row (out, &rows [i], true);
            first = false;
        }
        fprintf (out, "]");
    }
    fprintf (out, "}\n");
}

//  Format a value or "-" when not a number.
static const char *
s_cell (char *buffer, size_t size, double value, int decimals)
{
    if (isnan (value))
        snprintf (buffer, size, "-");
    else
        snprintf (buffer, size, "%.*f", decimals, value);
    return buffer;
}

//  Print the rows as a table.
void
wp_eval_report_table (FILE *out, const char *trace, int64_t budget_mb,
                      const wp_eval_row_t *rows, size_t count)
{
    fprintf (out, "trace %s, budget_mb %lld%s\n", trace, (long long) budget_mb,
             budget_mb? "": " (unbounded)");
    fprintf (out, "%-20s %10s %11s %10s %9s %13s %8s %16s %10s %9s %9s %7s %9s %7s %8s %8s %12s\n",
             "policy", "requests", "cold_starts", "delayed", "cold_rate", "cold_wait_s",
             "p75_mcr", "resident_gb_s", "wasted_pct", "prewarms", "useful_pw", "fp_rate",
             "cold_red", "recall", "ns_mean", "ns_p99", "state_bytes");
    bool any_implicit = false;
    for (size_t i = 0; i < count; i++) {
        const wp_eval_row_t *row = &rows [i];
        if (row->sweep)
            continue;
        const wp_eval_metrics_t *m = &row->metrics;
        char name [64], c [8][32];
        snprintf (name, sizeof (name), "%s%s", row->name, row->implicit? "*": "");
        any_implicit |= row->implicit;
        fprintf (out, "%-20s %10llu %11llu %10llu %9.4f %13.3f %8.4f %16.3f %10s %9llu %9llu "
                 "%7s %9s %7s %8s %8s %12llu\n",
                 name, (unsigned long long) m->requests, (unsigned long long) m->cold_starts,
                 (unsigned long long) m->delayed, m->cold_rate, m->cold_wait_s,
                 m->p75_model_cold_rate, m->resident_gb_s,
                 s_cell (c [0], sizeof (c [0]), m->wasted_pct, 2),
                 (unsigned long long) m->prewarms, (unsigned long long) m->useful_prewarms,
                 s_cell (c [1], sizeof (c [1]), m->fp_rate, 4),
                 s_cell (c [2], sizeof (c [2]), m->cold_reduction, 4),
                 s_cell (c [3], sizeof (c [3]), m->recall, 4),
                 s_cell (c [4], sizeof (c [4]), m->ns_per_event_mean, 1),
                 s_cell (c [5], sizeof (c [5]), m->ns_per_event_p99, 0),
                 (unsigned long long) m->state_bytes_peak);
    }
    if (any_implicit)
        fprintf (out, "* run implicitly: the normalisers of wasted_pct (keepalive:600) and "
                      "cold_reduction (ollama)\n");
    fprintf (out, "p75_mcr = p75_model_cold_rate, useful_pw = useful_prewarms, "
                  "cold_red = cold_reduction, ns_* = ns_per_event_*, state_bytes = state_bytes_peak\n");
    //  The catalog's pins and priorities: the same figures per class.
    bool header = false;
    for (size_t i = 0; i < count; i++) {
        const wp_eval_row_t *row = &rows [i];
        if (row->sweep || !row->metrics.by_class)
            continue;
        if (!header) {
            fprintf (out, "\nby class of model (catalog pin / priority):\n");
            fprintf (out, "%-20s %-7s %7s %10s %11s %10s %13s %16s\n", "policy", "class",
                     "models", "requests", "cold_starts", "delayed", "cold_wait_s",
                     "resident_gb_s");
            header = true;
        }
        for (int c = 0; c < WP_EVAL_CLASSES; c++) {
            const wp_eval_class_t *k = &row->metrics.classes [c];
            if (!k->models)
                continue;
            char name [64];
            snprintf (name, sizeof (name), "%s%s", row->name, row->implicit? "*": "");
            fprintf (out, "%-20s %-7s %7u %10llu %11llu %10llu %13.3f %16.3f\n", name,
                     wp_eval_class_name (c), k->models, (unsigned long long) k->requests,
                     (unsigned long long) k->cold_starts, (unsigned long long) k->delayed,
                     (double) k->wait_ms / 1000.0,
                     (double) k->resident_mb_ms / (1024.0 * 1000.0));
        }
    }
}

//  Colours of the chart's lines.
static const char *s_colours [] = {
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#000000", "#aec7e8"
};

//  Human label of a power of ten (1, 10, 100, 1k, ..., 1P).
static void
s_decade_label (char *buffer, size_t size, int exponent)
{
    static const char *suffix [] = { "", "k", "M", "G", "T", "P", "E" };
    if (exponent < 0)
        snprintf (buffer, size, "1e%d", exponent);
    else
    if (exponent / 3 < 7) {
        int mult = exponent % 3 == 0? 1: exponent % 3 == 1? 10: 100;
        snprintf (buffer, size, "%d%s", mult, suffix [exponent / 3]);
    }
    else
        snprintf (buffer, size, "1e%d", exponent);
}

//  Order row pointers by family, then resident_gb_s.
static int
s_point_cmp (const void *a, const void *b)
{
    const wp_eval_row_t *x = *(const wp_eval_row_t *const *) a;
    const wp_eval_row_t *y = *(const wp_eval_row_t *const *) b;
    int c = strcmp (x->family, y->family);
    if (c)
        return c;
    return x->metrics.resident_gb_s < y->metrics.resident_gb_s? -1
         : x->metrics.resident_gb_s > y->metrics.resident_gb_s? 1: 0;
}

//  Write an SVG Pareto chart.
int
wp_eval_report_svg (const char *path, const char *trace, int64_t budget_mb,
                    const wp_eval_row_t *rows, size_t count, char *error)
{
    const wp_eval_row_t **points = calloc (count? count: 1, sizeof (*points));
    if (!points) {
        snprintf (error, WP_EVAL_ERRLEN, "out of memory");
        return -1;
    }
    size_t n = 0;
    double xmin = INFINITY, xmax = 0, ymin = INFINITY, ymax = 0;
    for (size_t i = 0; i < count; i++) {
        if (rows [i].implicit)
            continue;
        points [n++] = &rows [i];
        double x = rows [i].metrics.resident_gb_s, y = rows [i].metrics.cold_wait_s;
        if (x > 0) {
            xmin = fmin (xmin, x);
            xmax = fmax (xmax, x);
        }
        if (y > 0) {
            ymin = fmin (ymin, y);
            ymax = fmax (ymax, y);
        }
    }
    if (xmax == 0) {
        xmin = 1;
        xmax = 10;
    }
    if (ymax == 0) {
        ymin = 1;
        ymax = 10;
    }
    qsort (points, n, sizeof (*points), s_point_cmp);
    int x0 = (int) floor (log10 (xmin)), x1 = (int) ceil (log10 (xmax));
    int y0 = (int) floor (log10 (ymin)), y1 = (int) ceil (log10 (ymax));
    if (x1 == x0)
        x1++;
    if (y1 == y0)
        y1++;
    FILE *out = fopen (path, "w");
    if (!out) {
        snprintf (error, WP_EVAL_ERRLEN, "%s: cannot write: %s", path, strerror (errno));
        free (points);
        return -1;
    }
    const double W = 960, H = 600, L = 90, R = 250, T = 50, B = 70;
    const double pw = W - L - R, ph = H - T - B;
#define SX(v) (L + (log10 (v) - x0) / (x1 - x0) * pw)
#define SY(v) (T + ph - (log10 (v) - y0) / (y1 - y0) * ph)
    fprintf (out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
             "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
             "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H, W, H);
    //  Title: the trace's folder and file name, not the whole path.
    const char *shown = trace + strlen (trace);
    for (int slashes = 0; shown > trace; shown--)
        if (shown [-1] == '/' && ++slashes == 2)
            break;
    fprintf (out, "<text x=\"%.0f\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">"
             "%s, budget %lld MB%s: cold wait against resident memory (lower left is better)"
             "</text>\n", L + pw / 2, shown, (long long) budget_mb, budget_mb? "": " (unbounded)");
    //  Grid and ticks.
    for (int e = x0; e <= x1; e++) {
        double x = L + (double) (e - x0) / (x1 - x0) * pw;
        char label [32];
        s_decade_label (label, sizeof (label), e);
        fprintf (out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                 x, T, x, T + ph);
        fprintf (out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                 x, T + ph + 18, label);
    }
    for (int e = y0; e <= y1; e++) {
        double y = T + ph - (double) (e - y0) / (y1 - y0) * ph;
        char label [32];
        s_decade_label (label, sizeof (label), e);
        fprintf (out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                 L, y, L + pw, y);
        fprintf (out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                 L - 6, y + 4, label);
    }
    fprintf (out, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
             "stroke=\"black\"/>\n", L, T, pw, ph);
    fprintf (out, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">"
             "resident_gb_s: memory x time resident (GB x s, log scale)</text>\n",
             L + pw / 2, H - 22);
    fprintf (out, "<text transform=\"translate(24,%.0f) rotate(-90)\" text-anchor=\"middle\">"
             "cold_wait_s: total wait for loads (s, log scale)</text>\n", T + ph / 2);
    //  One line per family.
    size_t series = 0;
    for (size_t i = 0; i < n; ) {
        size_t j = i;
        while (j < n && strcmp (points [j]->family, points [i]->family) == 0)
            j++;
        const char *colour = s_colours [series % (sizeof (s_colours) / sizeof (s_colours [0]))];
        fprintf (out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colour);
        for (size_t k = i; k < j; k++) {
            double x = fmax (points [k]->metrics.resident_gb_s, pow (10, x0));
            double y = fmax (points [k]->metrics.cold_wait_s, pow (10, y0));
            fprintf (out, "%.1f,%.1f ", SX (x), SY (y));
        }
        fprintf (out, "\"/>\n");
        for (size_t k = i; k < j; k++) {
            double x = fmax (points [k]->metrics.resident_gb_s, pow (10, x0));
            double y = fmax (points [k]->metrics.cold_wait_s, pow (10, y0));
            fprintf (out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\">"
                     "<title>%s (%s %g): resident_gb_s %.0f, cold_wait_s %.0f</title></circle>\n",
                     SX (x), SY (y), points [k]->sweep? 3: 5, colour, points [k]->name,
                     points [k]->knob_name, points [k]->knob,
                     points [k]->metrics.resident_gb_s, points [k]->metrics.cold_wait_s);
        }
        //  Legend entry.
        double ly = T + 10 + 20 * (double) series;
        fprintf (out, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" "
                 "stroke-width=\"3\"/>\n", L + pw + 15, ly, L + pw + 40, ly, colour);
        fprintf (out, "<text x=\"%.0f\" y=\"%.0f\">%s (%s)</text>\n", L + pw + 46, ly + 4,
                 points [i]->family, j - i > 1? points [i]->knob_name: "one point");
        series++;
        i = j;
    }
    fprintf (out, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\" fill=\"#555\">"
             "big dots: the comparison runs;</text>\n", L + pw + 15, T + 20 + 20 * (double) series);
    fprintf (out, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\" fill=\"#555\">"
             "small dots: sweep points</text>\n", L + pw + 15, T + 34 + 20 * (double) series);
    fprintf (out, "</svg>\n");
#undef SX
#undef SY
    free (points);
    if (fclose (out)) {
        snprintf (error, WP_EVAL_ERRLEN, "%s: write failed: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}
