/*  =========================================================================
    wp_policy_table - policy names, and the policies the service can run

    Names are "family" or "family:value" where value sets the policy's knob
    (keepalive:600, lru:4), or "plugin:PATH" / "plugin:PATH:value" for a
    shared library (include/warmup/policy.h, wp_policy_plugin.c).
    warmup-eval looks names up in its whole table (wp_eval_policies.c); the
    scheduler in the live table below: the policies that read nothing but
    their world, so that the service can run each of them (`policy =
    icebreaker`, docs/extending.md). Not in it: oracle (it reads the
    future) and predictive (the service's own pipeline is that one).
    =========================================================================
*/
#include "wp_eval_policy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const wp_eval_policy_t wp_policy_keepalive;
extern const wp_eval_policy_t wp_policy_ollama;
extern const wp_eval_policy_t wp_policy_lru;
extern const wp_eval_policy_t wp_policy_lmstudio;
extern const wp_eval_policy_t wp_policy_lemonade;
extern const wp_eval_policy_t wp_policy_hybrid;
extern const wp_eval_policy_t wp_policy_greedy_dual;
extern const wp_eval_policy_t wp_policy_icebreaker;
extern const wp_eval_policy_t wp_policy_markov;

static const wp_eval_policy_t *const s_live [] = {
    &wp_policy_keepalive,
    &wp_policy_ollama,
    &wp_policy_lru,
    &wp_policy_lmstudio,
    &wp_policy_lemonade,
    &wp_policy_hybrid,
    &wp_policy_greedy_dual,
    &wp_policy_icebreaker,
    &wp_policy_markov,
};

//  Names a plug-in may not take: the table's, and these.
static const char *const s_reserved [] = { "predictive", "oracle", "plugin", "all",
                                           "builtin", NULL };

//  Parse a knob for a policy: 0, or -1 with the reason.
static int
s_knob (const wp_eval_policy_t *policy, const char *text, double *knob, char *error)
{
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    if (*text == 0 || *end || errno || !isfinite (value)
    ||  value < policy->knob_min || value > policy->knob_max
    ||  (policy->knob_integer && value != floor (value))) {
        snprintf (error, WP_EVAL_ERRLEN, "policy '%s': %s must be a%s number in [%g, %g], not '%s'",
                  policy->family, policy->knob, policy->knob_integer? " whole": "",
                  policy->knob_min, policy->knob_max, text);
        return -1;
    }
    *knob = value;
    return 0;
}

//  A plug-in: "PATH" or "PATH:value" (a value when what follows the last
//  ':' parses as a number and the library is the part before it).
static const wp_eval_policy_t *
s_plugin (const char *spec, double *knob, char *error)
{
    char path [1024];
    const char *colon = strrchr (spec, ':');
    const char *value = NULL;
    snprintf (path, sizeof path, "%s", spec);
    if (colon && colon [1]) {
        char *end;
        strtod (colon + 1, &end);
        if (!*end) {
            snprintf (path, sizeof path, "%.*s", (int) (colon - spec), spec);
            value = colon + 1;
        }
    }
    const wp_eval_policy_t *policy = wp_policy_plugin_load (path, error);
    if (!policy)
        return NULL;
    *knob = policy->knob_default;
    if (value && !policy->knob) {
        snprintf (error, WP_EVAL_ERRLEN, "policy '%s' takes no ':value'", policy->family);
        return NULL;
    }
    return value && s_knob (policy, value, knob, error) ? NULL : policy;
}

//  Find a policy by name in a table, or a plug-in.
const wp_eval_policy_t *
wp_policy_table_find (const wp_eval_policy_t *const *list, size_t count, const char *name,
                      double *knob, char *error)
{
    if (strncmp (name, "plugin:", 7) == 0)
        return s_plugin (name + 7, knob, error);
    const char *colon = strchr (name, ':');
    size_t family_len = colon? (size_t) (colon - name): strlen (name);
    const wp_eval_policy_t *policy = NULL;
    for (size_t i = 0; i < count; i++)
        if (strlen (list [i]->family) == family_len
        &&  strncmp (list [i]->family, name, family_len) == 0)
            policy = list [i];
    if (!policy) {
        snprintf (error, WP_EVAL_ERRLEN, "unknown policy '%s' (see --help for the list)", name);
        return NULL;
    }
    *knob = policy->knob_default;
    if (!colon)
        return policy;
    if (!policy->knob) {
        snprintf (error, WP_EVAL_ERRLEN, "policy '%s' takes no ':value'", policy->family);
        return NULL;
    }
    return s_knob (policy, colon + 1, knob, error) ? NULL : policy;
}

//  The policies the service can run.
const wp_eval_policy_t *const *
wp_policy_live_list (size_t *count)
{
    *count = sizeof (s_live) / sizeof (s_live [0]);
    return s_live;
}

//  True if a plug-in may take this name: [a-z0-9-]+, at most 40, and no
//  built-in policy's.
bool
wp_policy_name_free (const char *name)
{
    if (!name || !*name || strlen (name) > 40)
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
            return false;
    for (size_t i = 0; i < sizeof (s_live) / sizeof (s_live [0]); i++)
        if (strcmp (s_live [i]->family, name) == 0)
            return false;
    for (size_t i = 0; s_reserved [i]; i++)
        if (strcmp (s_reserved [i], name) == 0)
            return false;
    return true;
}

//  Canonical name of a policy with a knob.
void
wp_eval_policy_name (const wp_eval_policy_t *policy, double knob, char *buffer, size_t size)
{
    if (policy->knob)
        snprintf (buffer, size, "%s:%g", policy->family, knob);
    else
        snprintf (buffer, size, "%s", policy->family);
}
