/*  =========================================================================
    plugin_keepalive - keepalive:K as a plug-in (include/warmup/policy.h),
    written only against the ABI, to prove the host exact: warmup-eval must
    give it the numbers of its built-in keepalive:K to the last digit, at
    any budget (make_room left to the host: least recently used).
    =========================================================================
*/
#include <stdlib.h>
#include "warmup/policy.h"

typedef struct {
    const warmup_host_t *host;
    warmup_world_t *world;
    int64_t keep_ms;            //  the knob, ms
    int64_t *expire;            //  per model: idle until (-1: not held)
    int64_t *armed;             //  per model: the pending timer (-1: none)
    uint32_t models;
} state_t;

static void *
s_create (const warmup_host_t *host, warmup_world_t *world, double knob)
{
    state_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->host = host;
    self->world = world;
    self->keep_ms = (int64_t) (knob * 1000);
    self->models = host->models (world);
    self->expire = malloc ((self->models + 1) * sizeof (int64_t));
    self->armed = malloc ((self->models + 1) * sizeof (int64_t));
    if (!self->expire || !self->armed) {
        free (self->expire);
        free (self->armed);
        free (self);
        return NULL;
    }
    for (uint32_t i = 0; i < self->models; i++)
        self->expire [i] = self->armed [i] = -1;
    return self;
}

static void
s_destroy (void *state)
{
    state_t *self = state;
    if (!self)
        return;
    free (self->expire);
    free (self->armed);
    free (self);
}

//  Hold a model through expire: a timer a millisecond after it.
static int
s_hold (state_t *self, uint32_t model, int64_t expire)
{
    self->expire [model] = expire;
    if (self->armed [model] >= 0 && self->armed [model] <= expire + 1)
        return 0;
    self->armed [model] = expire + 1;
    return self->host->set_timer (self->world, expire + 1, model, (uint64_t) (expire + 1));
}

static int
s_on_request (void *state, const warmup_request_t *request, warmup_outcome_t outcome)
{
    state_t *self = state;
    if (outcome == WARMUP_SERVED_UNCACHEABLE || request->model >= self->models)
        return 0;
    return s_hold (self, request->model, request->time_ms + self->keep_ms);
}

static int
s_on_timer (void *state, uint32_t model, uint64_t token)
{
    state_t *self = state;
    if ((int64_t) token != self->armed [model])
        return 0;                   //  superseded by an earlier timer
    self->armed [model] = -1;
    int64_t expire = self->expire [model];
    if (expire < 0 || !self->host->is_resident (self->world, model))
        return 0;
    int64_t now = self->host->now (self->world);
    int64_t due = expire, load_end = self->host->load_end (self->world, model);
    if (load_end > due)
        due = load_end;             //  not before its load ends
    if (now <= due)
        return s_hold (self, model, due);
    if (self->host->unload_at (self->world, model, due) < 0)
        self->host->unload (self->world, model);
    self->expire [model] = -1;
    return 0;
}

static const warmup_policy_t s_policy = {
    .abi = WARMUP_POLICY_ABI, .name = "plugin-keepalive", .knob = "K_s",
    .knob_default = 600, .knob_min = 0, .knob_max = 86400.0 * 365,
    .summary = "keepalive:K as a plug-in (a test of the host)",
    .create = s_create, .destroy = s_destroy, .on_request = s_on_request,
    .on_timer = s_on_timer,
};

const warmup_policy_t *
warmup_policy_v1 (void)
{
    return &s_policy;
}
