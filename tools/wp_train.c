/*  =========================================================================
    wp_train - warmupctl train (wp_train.h).

    The engine learns from the trace as warmup-eval's predictive runs it:
    the service's own cores in the simulated world of docs/EVAL.md, at the
    price given (the knob of predictive:W), over the part of the trace
    given; what its engine learned of all pairs when the run ends is the
    model (per-pair state is not: the users of the trace are not those of
    the service).
    =========================================================================
*/
#include "wp_train.h"
#include "wp_util.h"
#include "wp_engine_file.h"
#include "wp_eval_catalog.h"
#include "wp_eval_run.h"
#include "wp_policy_predictive.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *s_usage =
    "usage: warmupctl train --trace FILE [--format csv|azure] --catalog FILE --out FILE\n"
    "                       [--price W] [--budget-mb N] [--from-ms N] [--until-ms N]\n"
    "                       [--merge] [--population] [--quiet]\n"
    "  learn what the engine learns of all pairs (the ensemble's weights, the\n"
    "  population's idle times, the waits behind cold starts, the windows' hit\n"
    "  rates) from a trace, as warmup-eval --policy predictive:W replays it, and\n"
    "  write it as a model file (warmupctl model show / model load).\n"
    "  --price W      cold_wait_price to learn at (default 1000)\n"
    "  --budget-mb N  the memory budget of the replay (default 0: none)\n"
    "  --from-ms, --until-ms  the part of the trace (default: all of it)\n"
    "  --merge        the file loads merged with what the engine learned online\n"
    "                 (default: it replaces it)\n"
    "  --population   the population's idle-time survival becomes the engine's\n"
    "                 prior where it knows nothing (default: the scale-free prior\n"
    "                 stays; docs/extending.md says what each cost on held-out data)\n";

//  A whole number >= 0 from text; -1 if it is none.
static int
s_whole (const char *flag, const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll (text, &end, 10);
    if (!*text || *end || errno || v < 0) {
        fprintf (stderr, "warmupctl train: %s needs a whole number >= 0, not '%s'\n", flag,
                 text);
        return -1;
    }
    *out = v;
    return 0;
}

int
wp_train_main (const wp_config_t *config, int argc, char **argv)
{
    const char *trace = NULL, *catalog_path = NULL, *out = NULL;
    wp_eval_format_t format = WP_EVAL_FORMAT_AUTO;
    double price = 1000;
    int64_t budget = 0, from_ms = 0, until_ms = INT64_MAX;
    bool merge = false, population = false, quiet = false, from_set = false, until_set = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv [i], *value = i + 1 < argc ? argv [i + 1] : NULL;
        if (strcmp (arg, "--merge") == 0)
            merge = true;
        else
        if (strcmp (arg, "--population") == 0)
            population = true;
        else
        if (strcmp (arg, "--quiet") == 0)
            quiet = true;
        else
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
            fputs (s_usage, stdout);
            return 0;
        }
        else
        if (!value || value [0] == '-') {
            fprintf (stderr, "warmupctl train: unexpected '%s'\n%s", arg, s_usage);
            return 2;
        }
        else {
            i++;
            if (strcmp (arg, "--trace") == 0)
                trace = value;
            else
            if (strcmp (arg, "--catalog") == 0)
                catalog_path = value;
            else
            if (strcmp (arg, "--out") == 0)
                out = value;
            else
            if (strcmp (arg, "--format") == 0) {
                if (wp_eval_format_parse (value, &format)) {
                    fprintf (stderr, "warmupctl train: --format is csv or azure, not '%s'\n",
                             value);
                    return 2;
                }
            }
            else
            if (strcmp (arg, "--price") == 0) {
                char *end;
                price = strtod (value, &end);
                if (*end || !(price >= 1 && price <= 1e7)) {
                    fprintf (stderr, "warmupctl train: --price is in 1..1e7, not '%s'\n",
                             value);
                    return 2;
                }
            }
            else
            if (strcmp (arg, "--budget-mb") == 0) {
                if (s_whole (arg, value, &budget))
                    return 2;
            }
            else
            if (strcmp (arg, "--from-ms") == 0) {
                if (s_whole (arg, value, &from_ms))
                    return 2;
                from_set = true;
            }
            else
            if (strcmp (arg, "--until-ms") == 0) {
                if (s_whole (arg, value, &until_ms))
                    return 2;
                until_set = true;
            }
            else {
                fprintf (stderr, "warmupctl train: unknown option '%s'\n%s", arg, s_usage);
                return 2;
            }
        }
    }
    if (!catalog_path)
        catalog_path = config->catalog;     //  the common flag took it
    if (!trace || !catalog_path || !out) {
        fprintf (stderr, "warmupctl train: --trace, --catalog and --out are needed\n%s",
                 s_usage);
        return 2;
    }
    if (until_ms <= from_ms) {
        fprintf (stderr, "warmupctl train: --until-ms must be after --from-ms\n");
        return 2;
    }
    char error [WP_EVAL_ERRLEN];
    wp_eval_catalog_t *catalog = wp_eval_catalog_load (catalog_path, error);
    if (!catalog) {
        fprintf (stderr, "warmupctl train: %s\n", error);
        return 1;
    }
    double knob;
    char name [64];
    snprintf (name, sizeof name, "predictive:%g", price);
    const wp_eval_policy_t *policy = wp_eval_policy_find (name, &knob, error);
    wp_eval_run_t *run = policy ? wp_eval_run_new (trace, format, catalog) : NULL;
    int rc = 1;
    if (!run || wp_eval_run_add (run, name, policy, knob, budget, error) < 0)
        fprintf (stderr, "warmupctl train: %s\n", run ? error : "out of memory");
    else {
        wp_eval_run_set_timing (run, false);
        wp_eval_run_set_progress (run, !quiet);
        wp_eval_run_set_span (run, from_ms, until_ms);
        wp_policy_predictive_start_from (NULL, false);
        if (wp_eval_run_execute (run))
            fprintf (stderr, "warmupctl train: %s\n", wp_eval_run_error (run));
        else
            rc = 0;
    }
    wp_eval_metrics_t metrics;
    if (rc == 0)
        wp_eval_run_metrics (run, 0, &metrics);
    wp_eval_run_destroy (&run);         //  the engine's learning is taken at its end
    wp_eval_catalog_destroy (&catalog);
    if (rc)
        return rc;
    wp_engine_file_t file = { .merge = merge, .population = population, .price = price, .requests = metrics.requests,
                              .from_ms = from_set ? from_ms : -1,
                              .until_ms = until_set ? until_ms : -1 };
    snprintf (file.engine, sizeof file.engine, "%s", WP_ENGINE_VERSION);
    const char *base = strrchr (trace, '/');
    snprintf (file.source, sizeof file.source, "%s", base ? base + 1 : trace);
    if (!wp_policy_predictive_last_learned (&file.learned)) {
        fprintf (stderr, "warmupctl train: the engine did not run\n");
        return 1;
    }
    char why [512];
    if (wp_engine_file_write (&file, out, why, sizeof why)) {
        fprintf (stderr, "warmupctl train: %s\n", why);
        return 1;
    }
    printf ("wrote %s: %" PRIu64 " requests, %" PRIu64 " examples\n", out, file.requests,
            file.learned.updates);
    return 0;
}
