/*  =========================================================================
    wp_eval_policies - the table of the policies warmup-eval knows: those
    the service can run live (wp_policy_table.c), then oracle and
    predictive.

    Names are "family" or "family:value" where value sets the policy's knob
    (keepalive:600, lru:4), or "plugin:PATH[:value]" (wp_policy_table.c).
    To add a policy that reads nothing but its world, add it to the live
    table of wp_policy_table.c (the scheduler can then run it too,
    docs/extending.md); one that needs more goes below.
    =========================================================================
*/
#include "wp_eval_policy.h"

#include <pthread.h>
#include <stdio.h>

extern const wp_eval_policy_t wp_policy_oracle;
extern const wp_eval_policy_t wp_policy_predictive;

#define POLICIES_MAX 32
static const wp_eval_policy_t *s_policies [POLICIES_MAX];
static size_t s_count;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

//  The live table, then oracle and predictive.
static void
s_fill (void)
{
    size_t live;
    const wp_eval_policy_t *const *list = wp_policy_live_list (&live);
    for (size_t i = 0; i < live && s_count < POLICIES_MAX - 2; i++)
        s_policies [s_count++] = list [i];
    s_policies [s_count++] = &wp_policy_oracle;
    s_policies [s_count++] = &wp_policy_predictive;
}

//  The known policies.
const wp_eval_policy_t *const *
wp_eval_policy_list (size_t *count)
{
    pthread_once (&s_once, s_fill);
    *count = s_count;
    return s_policies;
}

//  Find a policy by name (wp_policy_table.c parses it).
const wp_eval_policy_t *
wp_eval_policy_find (const char *name, double *knob, char *error)
{
    size_t count;
    const wp_eval_policy_t *const *list = wp_eval_policy_list (&count);
    return wp_policy_table_find (list, count, name, knob, error);
}
