/*  adaptive_keepalive - an example warm-up policy plug-in
    (include/warmup/policy.h; docs/extending.md).

    Keeps each model for knob x the moving average of its own idle times
    (at least its load time, at most 4 hours; 10 minutes until it has
    one), then unloads it. A few dozen lines: the shape every policy has.

        cc -shared -fPIC -I include -o adaptive_keepalive.so examples/adaptive_keepalive.c
        warmup-eval ... --policy plugin:./adaptive_keepalive.so:3
        policy = plugin:/path/adaptive_keepalive.so:3        (warmup.cfg)   */
#include <stdlib.h>
#include "warmup/policy.h"

typedef struct {
    const warmup_host_t *host;
    warmup_world_t *world;
    double factor;              //  the knob
    uint32_t models;
    int64_t *last;              //  per model: its last request (-1: none)
    double *idle;               //  per model: moving average idle time, ms
    int64_t *until;             //  per model: kept until (-1: not held)
    int64_t *armed;             //  per model: its timer's time (-1: none)
} self_t;

static void
s_destroy (void *state)
{
    self_t *self = state;
    if (self) {
        free (self->last);
        free (self->idle);
        free (self->until);
        free (self->armed);
        free (self);
    }
}

//  Be called when the model's hold ends; the token is the time, so that a
//  timer overtaken by an earlier one is known when it fires.
static int
s_arm (self_t *self, uint32_t m, int64_t at)
{
    self->armed [m] = at;
    return self->host->set_timer (self->world, at, m, (uint64_t) at);
}

static void *
s_create (const warmup_host_t *host, warmup_world_t *world, double knob)
{
    self_t *self = calloc (1, sizeof *self);
    uint32_t n = host->models (world);
    if (self) {
        self->last = malloc ((n + 1) * sizeof (int64_t));
        self->idle = calloc (n + 1, sizeof (double));
        self->until = malloc ((n + 1) * sizeof (int64_t));
        self->armed = malloc ((n + 1) * sizeof (int64_t));
    }
    if (!self || !self->last || !self->idle || !self->until || !self->armed) {
        s_destroy (self);
        return NULL;
    }
    self->host = host;
    self->world = world;
    self->factor = knob;
    self->models = n;
    for (uint32_t i = 0; i < n; i++)
        self->last [i] = self->until [i] = self->armed [i] = -1;
    return self;
}

static int
s_on_request (void *state, const warmup_request_t *r, warmup_outcome_t outcome)
{
    self_t *self = state;
    uint32_t m = r->model;
    (void) outcome;
    if (m >= self->models)
        return 0;
    if (self->last [m] >= 0) {
        double gap = (double) (r->time_ms - self->last [m]);
        self->idle [m] = self->idle [m] > 0 ? 0.8 * self->idle [m] + 0.2 * gap : gap;
    }
    self->last [m] = r->time_ms;
    double keep = self->idle [m] > 0 ? self->factor * self->idle [m] : 600000;
    double load = self->host->load_ms (self->world, m);
    keep = keep < load ? load : keep > 14400000 ? 14400000 : keep;
    self->until [m] = r->time_ms + (int64_t) keep;
    bool armed = self->armed [m] >= 0 && self->armed [m] <= self->until [m] + 1;
    return armed ? 0 : s_arm (self, m, self->until [m] + 1);
}

static int
s_on_timer (void *state, uint32_t m, uint64_t token)
{
    self_t *self = state;
    int64_t now = self->host->now (self->world);
    if ((int64_t) token != self->armed [m])
        return 0;                   //  overtaken by an earlier one
    self->armed [m] = -1;
    if (self->until [m] < 0 || !self->host->is_resident (self->world, m))
        return 0;                   //  not held, or the host unloaded it
    if (now <= self->until [m])     //  a later request moved it on
        return s_arm (self, m, self->until [m] + 1);
    if (self->host->unload (self->world, m) < 0)        //  still loading
        return s_arm (self, m, self->host->load_end (self->world, m) + 1);
    self->until [m] = -1;
    return 0;
}

static const warmup_policy_t s_policy = {
    .abi = WARMUP_POLICY_ABI, .name = "adaptive-keepalive", .knob = "factor",
    .knob_default = 3, .knob_min = 0.1, .knob_max = 100,
    .summary = "keep each model knob x its moving-average idle time",
    .create = s_create, .destroy = s_destroy, .on_request = s_on_request,
    .on_timer = s_on_timer,
};

const warmup_policy_t *
warmup_policy_v1 (void)
{
    return &s_policy;
}
