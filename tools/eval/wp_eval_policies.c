/*  =========================================================================
    wp_eval_policies - the table of the policies warmup-eval knows

    Names are "family" or "family:value" where value sets the policy's knob
    (keepalive:600, lru:4), or "plugin:PATH[:value]" (wp_policy_table.c).
    To add a policy, declare its table below and add it to s_policies; a
    policy that reads nothing but its world (not predictive, not oracle)
    also goes in the live table of wp_policy_table.c, which the scheduler
    can run (docs/extending.md).
    =========================================================================
*/
#include "wp_eval_policy.h"

#include <stdio.h>

extern const wp_eval_policy_t wp_policy_keepalive;
extern const wp_eval_policy_t wp_policy_ollama;
extern const wp_eval_policy_t wp_policy_lru;
extern const wp_eval_policy_t wp_policy_lmstudio;
extern const wp_eval_policy_t wp_policy_lemonade;
extern const wp_eval_policy_t wp_policy_hybrid;
extern const wp_eval_policy_t wp_policy_greedy_dual;
extern const wp_eval_policy_t wp_policy_icebreaker;
extern const wp_eval_policy_t wp_policy_markov;
extern const wp_eval_policy_t wp_policy_oracle;
extern const wp_eval_policy_t wp_policy_predictive;

static const wp_eval_policy_t *const s_policies [] = {
    &wp_policy_keepalive,
    &wp_policy_ollama,
    &wp_policy_lru,
    &wp_policy_lmstudio,
    &wp_policy_lemonade,
    &wp_policy_hybrid,
    &wp_policy_greedy_dual,
    &wp_policy_icebreaker,
    &wp_policy_markov,
    &wp_policy_oracle,
    &wp_policy_predictive,
};

//  The known policies.
const wp_eval_policy_t *const *
wp_eval_policy_list (size_t *count)
{
    *count = sizeof (s_policies) / sizeof (s_policies [0]);
    return s_policies;
}

//  Find a policy by name (wp_policy_table.c parses it).
const wp_eval_policy_t *
wp_eval_policy_find (const char *name, double *knob, char *error)
{
    return wp_policy_table_find (s_policies, sizeof (s_policies) / sizeof (s_policies [0]),
                                 name, knob, error);
}
