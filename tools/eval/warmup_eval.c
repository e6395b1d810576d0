/*  =========================================================================
    warmup-eval - replays a request trace through warm-up policies

    warmup-eval --trace FILE [--format csv|azure] --catalog FILE --budget-mb N
                --policy NAME [--policy NAME ...] [--json] [--sweep]
                [--plot OUT.svg] [--no-baselines] [--quiet]

    Prints the metrics of EVAL.md section 3 per policy (a table, or JSON).
    keepalive:600 and ollama are also run when not asked, at every budget
    used, because wasted_pct and cold_reduction are relative to them; the
    table marks them '*', the JSON leaves them out. A thin main around
    wp_eval_run; errors go to stderr as "warmup-eval: ..." (stdout carries
    only the results, so --json output can be piped).
    =========================================================================
*/
#include "wp_eval_report.h"
#include "wp_eval_run.h"
#include "wp_engine_file.h"
#include "wp_policy_predictive.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_POLICIES 64                 //  --policy options accepted
static const double s_budget_fractions [] = { 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0 };

//  One simulation to run, with what the report needs.
typedef struct {
    char name [96];             //  report name
    const wp_eval_policy_t *policy;    //  policy
    double knob;                //  knob
    int64_t budget_mb;          //  budget
    bool implicit;              //  normaliser only
    bool sweep;                 //  a sweep point
    const char *knob_name;      //  swept knob ("budget_mb" for budgets)
    double knob_value;          //  its value
} s_plan_t;

//  Print the usage on out.
static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: warmup-eval --trace FILE [--format csv|azure] --catalog FILE --budget-mb N\n"
        "                   [--from-ms N] [--until-ms N]\n"
        "                   --policy NAME [--policy NAME ...] [--json] [--sweep]\n"
        "                   [--plot OUT.svg] [--no-baselines] [--quiet]\n"
        "\n"
        "  --trace FILE     event CSV (timestamp_ms,user,model; .gz read through zlib)\n"
        "                   or Azure Functions 2019 minute counts\n"
        "  --format F       csv or azure (default: detected from the header)\n"
        "  --catalog FILE   model,memory_mb,load_ms\n"
        "  --budget-mb N    memory budget in MB, 0 = unbounded\n"
        "  --from-ms N      replay only requests at or after N ms (default 0)\n"
        "  --until-ms N     ... and before N ms (default: to the end); a part of a\n"
        "                   trace, e.g. one not tuned on\n"
        "  --model FILE     predictive starts from a model file (warmupctl train)\n"
        "  --policy NAME    a policy below, repeatable; 'all' = every policy;\n"
        "                   plugin:PATH[:knob] = a shared library's (include/warmup/policy.h)\n"
        "  --json           JSON on stdout instead of a table\n"
        "  --sweep          also vary each policy's knob (or the budget)\n"
        "  --plot FILE      write an SVG chart of cold_wait_s against resident_gb_s\n"
        "  --no-baselines   do not run keepalive:600 / ollama implicitly\n"
        "                   (wasted_pct and cold_reduction are then null)\n"
        "  --quiet          no progress line on stderr\n"
        "\npolicies:\n");
    size_t count;
    const wp_eval_policy_t *const *list = wp_eval_policy_list (&count);
    for (size_t i = 0; i < count; i++) {
        char name [64];
        if (list [i]->knob)
            snprintf (name, sizeof (name), "%s[:%s]", list [i]->family, list [i]->knob);
        else
            snprintf (name, sizeof (name), "%s", list [i]->family);
        fprintf (out, "  %-28s %s\n", name, list [i]->summary);
    }
}

//  Report a command-line error and return the exit code 2.
static int
s_bad_usage (const char *format, const char *value)
{
    fprintf (stderr, "warmup-eval: ");
    fprintf (stderr, format, value);
    fprintf (stderr, "\nwarmup-eval: try --help\n");
    return 2;
}

//  Parse a budget: a whole number of MB, >= 0.
static int
s_parse_budget (const char *text, int64_t *budget)
{
    char *end;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (!*text || *end || errno || value < 0)
        return -1;
    *budget = value;
    return 0;
}

//  Add a plan entry unless an equal one (policy, knob, budget) exists;
//  returns its index or -1 when full.
static int
s_plan_add (s_plan_t *plans, size_t *count, size_t max, const s_plan_t *plan)
{
    for (size_t i = 0; i < *count; i++)
        if (plans [i].policy == plan->policy && plans [i].knob == plan->knob
        &&  plans [i].budget_mb == plan->budget_mb) {
            //  An asked run supersedes an implicit or sweep duplicate.
            if (!plan->implicit && !plan->sweep) {
                plans [i] = *plan;
            }
            return (int) i;
        }
    if (*count >= max)
        return -1;
    plans [(*count)++] = *plan;
    return (int) *count - 1;
}

//  Add the normalisers keepalive:600 and ollama at a budget.
static int
s_plan_normalisers (s_plan_t *plans, size_t *count, size_t max, int64_t budget)
{
    const char *names [2] = { "keepalive:600", "ollama" };
    for (int i = 0; i < 2; i++) {
        char error [WP_EVAL_ERRLEN];
        s_plan_t plan = { .budget_mb = budget, .implicit = true, .knob_name = "budget_mb",
                          .knob_value = (double) budget };
        plan.policy = wp_eval_policy_find (names [i], &plan.knob, error);
        snprintf (plan.name, sizeof (plan.name), "%s", names [i]);
        if (s_plan_add (plans, count, max, &plan) < 0)
            return -1;
    }
    return 0;
}

//  Parse the arguments, replay the trace through every simulation, print.
int
main (int argc, char **argv)
{
    const char *trace = NULL, *catalog_path = NULL, *plot = NULL, *budget_text = NULL;
    const char *from_text = NULL, *until_text = NULL, *model_path = NULL;
    const char *policy_names [MAX_POLICIES];
    size_t npolicies = 0;
    wp_eval_format_t format = WP_EVAL_FORMAT_AUTO;
    bool json = false, sweep = false, baselines = true, quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        bool has_value = i + 1 < argc;
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
            s_usage (stdout);
            return 0;
        }
        else
        if (strcmp (arg, "--json") == 0)
            json = true;
        else
        if (strcmp (arg, "--sweep") == 0)
            sweep = true;
        else
        if (strcmp (arg, "--no-baselines") == 0)
            baselines = false;
        else
        if (strcmp (arg, "--quiet") == 0)
            quiet = true;
        else
        if (strcmp (arg, "--trace") == 0 || strcmp (arg, "--catalog") == 0
        ||  strcmp (arg, "--budget-mb") == 0 || strcmp (arg, "--policy") == 0
        ||  strcmp (arg, "--format") == 0 || strcmp (arg, "--plot") == 0
        ||  strcmp (arg, "--from-ms") == 0 || strcmp (arg, "--until-ms") == 0
        ||  strcmp (arg, "--model") == 0) {
            if (!has_value)
                return s_bad_usage ("%s needs a value", arg);
            const char *value = argv [++i];
            if (strcmp (arg, "--trace") == 0)
                trace = value;
            else
            if (strcmp (arg, "--catalog") == 0)
                catalog_path = value;
            else
            if (strcmp (arg, "--budget-mb") == 0)
                budget_text = value;
            else
            if (strcmp (arg, "--plot") == 0)
                plot = value;
            else
            if (strcmp (arg, "--from-ms") == 0)
                from_text = value;
            else
            if (strcmp (arg, "--until-ms") == 0)
                until_text = value;
            else
            if (strcmp (arg, "--model") == 0)
                model_path = value;
            else
            if (strcmp (arg, "--format") == 0) {
                if (wp_eval_format_parse (value, &format))
                    return s_bad_usage ("--format must be csv or azure, not '%s'", value);
            }
            else {
                if (npolicies == MAX_POLICIES)
                    return s_bad_usage ("too many --policy options (at most %s)", "64");
                policy_names [npolicies++] = value;
            }
        }
        else
            return s_bad_usage ("unknown argument '%s'", arg);
    }
    if (!trace)
        return s_bad_usage ("%s", "--trace FILE is required");
    if (!catalog_path)
        return s_bad_usage ("%s", "--catalog FILE is required");
    if (!budget_text)
        return s_bad_usage ("%s", "--budget-mb N is required (0 = unbounded)");
    int64_t budget;
    if (s_parse_budget (budget_text, &budget))
        return s_bad_usage ("--budget-mb must be a whole number of MB >= 0, not '%s'", budget_text);
    int64_t from_ms = 0, until_ms = INT64_MAX;
    if (from_text && s_parse_budget (from_text, &from_ms))
        return s_bad_usage ("--from-ms must be a whole number of ms >= 0, not '%s'", from_text);
    if (until_text && s_parse_budget (until_text, &until_ms))
        return s_bad_usage ("--until-ms must be a whole number of ms >= 0, not '%s'", until_text);
    if (until_ms <= from_ms)
        return s_bad_usage ("--until-ms (%s) must be after --from-ms", until_text);
    if (npolicies == 0)
        return s_bad_usage ("%s", "at least one --policy NAME is required");
    if (model_path) {
        //  predictive's engine starts from the model file (warmupctl train)
        wp_engine_file_t model;
        char why [512];
        if (wp_engine_file_read (&model, model_path, why, sizeof why))
            return s_bad_usage ("--model: %s", why);
        wp_engine_learned_t learned;
        wp_engine_file_learned (&model, &learned);
        wp_policy_predictive_start_from (&learned, model.merge);
    }
    if (access (trace, R_OK))
        return s_bad_usage ("cannot read trace '%s'", trace);
    if (plot && strlen (plot) < 5)
        return s_bad_usage ("--plot needs a file name ending in .svg, not '%s'", plot);
    if (plot && strcmp (plot + strlen (plot) - 4, ".svg") != 0)
        return s_bad_usage ("--plot needs a file name ending in .svg, not '%s'", plot);

    //  Expand 'all' and validate every policy name before reading anything.
    size_t nlist;
    const wp_eval_policy_t *const *list = wp_eval_policy_list (&nlist);
    s_plan_t plans [1024];
    size_t nplans = 0, max_plans = sizeof (plans) / sizeof (plans [0]);
    for (size_t i = 0; i < npolicies; i++) {
        size_t expand = strcmp (policy_names [i], "all") == 0? nlist: 1;
        for (size_t j = 0; j < expand; j++) {
            const char *name = expand > 1? list [j]->family: policy_names [i];
            char error [WP_EVAL_ERRLEN];
            s_plan_t plan = { .budget_mb = budget, .knob_name = "budget_mb",
                              .knob_value = (double) budget };
            plan.policy = wp_eval_policy_find (name, &plan.knob, error);
            if (!plan.policy)
                return s_bad_usage ("%s", error);
            if (expand > 1)
                wp_eval_policy_name (plan.policy, plan.knob, plan.name, sizeof (plan.name));
            else
                snprintf (plan.name, sizeof (plan.name), "%s", name);
            s_plan_add (plans, &nplans, max_plans, &plan);
        }
    }
    size_t nasked = nplans;
    wp_eval_catalog_t *catalog = NULL;
    char error [WP_EVAL_ERRLEN];
    catalog = wp_eval_catalog_load (catalog_path, error);
    if (!catalog) {
        fprintf (stderr, "warmup-eval: %s\n", error);
        return 1;
    }
    //  Sweep points: the knob at the asked budget, or the budget.
    if (sweep) {
        uint64_t total = wp_eval_catalog_total_mb (catalog);
        for (size_t i = 0; i < nasked; i++) {
            const wp_eval_policy_t *policy = plans [i].policy;
            if (policy->sweep) {
                for (size_t k = 0; k < policy->sweep_len; k++) {
                    s_plan_t plan = { .policy = policy, .knob = policy->sweep [k],
                                      .budget_mb = budget, .sweep = true,
                                      .knob_name = policy->knob,
                                      .knob_value = policy->sweep [k] };
                    wp_eval_policy_name (policy, plan.knob, plan.name, sizeof (plan.name));
                    if (s_plan_add (plans, &nplans, max_plans, &plan) < 0)
                        goto too_many;
                }
            }
            else {
                for (size_t k = 0; k < sizeof (s_budget_fractions) / sizeof (double); k++) {
                    int64_t b = (int64_t) llround (s_budget_fractions [k] * (double) total);
                    if (b < 1)
                        b = 1;
                    s_plan_t plan = { .policy = policy, .knob = plans [i].knob, .budget_mb = b,
                                      .sweep = true, .knob_name = "budget_mb",
                                      .knob_value = (double) b };
                    snprintf (plan.name, sizeof (plan.name), "%.60s@%lld", plans [i].name,
                              (long long) b);
                    if (s_plan_add (plans, &nplans, max_plans, &plan) < 0)
                        goto too_many;
                }
            }
        }
    }
    //  The normalisers at every budget in use.
    if (baselines) {
        size_t n = nplans;
        for (size_t i = 0; i < n; i++)
            if (s_plan_normalisers (plans, &nplans, max_plans, plans [i].budget_mb))
                goto too_many;
    }
    wp_eval_run_t *run = wp_eval_run_new (trace, format, catalog);
    if (!run) {
        fprintf (stderr, "warmup-eval: out of memory\n");
        wp_eval_catalog_destroy (&catalog);
        return 1;
    }
    wp_eval_run_set_progress (run, !quiet);
    wp_eval_run_set_span (run, from_ms, until_ms);
    for (size_t i = 0; i < nplans; i++)
        if (wp_eval_run_add (run, plans [i].name, plans [i].policy, plans [i].knob,
                             plans [i].budget_mb, error) < 0) {
            fprintf (stderr, "warmup-eval: %s\n", error);
            wp_eval_run_destroy (&run);
            wp_eval_catalog_destroy (&catalog);
            return 1;
        }
    if (wp_eval_run_execute (run)) {
        fprintf (stderr, "warmup-eval: %s\n", wp_eval_run_error (run));
        wp_eval_run_destroy (&run);
        wp_eval_catalog_destroy (&catalog);
        return 1;
    }
    //  Collect rows; fill wasted_pct and cold_reduction from the normalisers.
    wp_eval_row_t *rows = calloc (nplans, sizeof (wp_eval_row_t));
    for (size_t i = 0; i < nplans && rows; i++) {
        rows [i].name = plans [i].name;
        rows [i].family = plans [i].policy->family;
        rows [i].knob_name = plans [i].knob_name;
        rows [i].knob = plans [i].knob_value;
        rows [i].budget_mb = plans [i].budget_mb;
        rows [i].implicit = plans [i].implicit;
        rows [i].sweep = plans [i].sweep;
        wp_eval_run_metrics (run, i, &rows [i].metrics);
    }
    for (size_t i = 0; i < nplans && rows; i++) {
        for (size_t j = 0; j < nplans; j++) {
            if (plans [j].budget_mb != plans [i].budget_mb)
                continue;
            const wp_eval_metrics_t *ref = &rows [j].metrics;
            if (strcmp (plans [j].policy->family, "keepalive") == 0 && plans [j].knob == 600)
                rows [i].metrics.wasted_pct = ref->resident_mb_ms
                    ? 100.0 * (double) rows [i].metrics.resident_mb_ms / (double) ref->resident_mb_ms
                    : NAN;
            if (strcmp (plans [j].policy->family, "ollama") == 0)
                rows [i].metrics.cold_reduction = ref->wait_ms
                    ? 1.0 - (double) rows [i].metrics.wait_ms / (double) ref->wait_ms
                    : NAN;
        }
    }
    int rc = 0;
    if (!rows) {
        fprintf (stderr, "warmup-eval: out of memory\n");
        rc = 1;
    }
    else {
        if (json)
            wp_eval_report_json (stdout, trace, budget, rows, nplans, sweep);
        else
            wp_eval_report_table (stdout, trace, budget, rows, nplans);
        if (plot && wp_eval_report_svg (plot, trace, budget, rows, nplans, error)) {
            fprintf (stderr, "warmup-eval: %s\n", error);
            rc = 1;
        }
    }
    uint64_t requests;
    double seconds;
    wp_eval_run_stats (run, &requests, &seconds);
    if (!quiet)
        fprintf (stderr, "warmup-eval: replayed %llu requests through %zu simulations in "
                 "%.2f s (%.2fM req/s)\n", (unsigned long long) requests, nplans, seconds,
                 seconds > 0? requests / seconds / 1e6: 0);
    free (rows);
    wp_eval_run_destroy (&run);
    wp_eval_catalog_destroy (&catalog);
    return rc;
too_many:
    fprintf (stderr, "warmup-eval: too many simulations (at most %zu)\n", max_plans);
    wp_eval_catalog_destroy (&catalog);
    return 2;
}
