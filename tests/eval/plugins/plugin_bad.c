/*  =========================================================================
    plugin_bad - plug-ins that are wrong in one way each, to test that the
    host refuses them whole with the reason (or stops the run). Built once
    per way, chosen by a definition:
    BAD_ABI         an ABI version the host does not load
    BAD_NAME        a built-in policy's name
    BAD_CALLBACK    on_timer missing
    BAD_NULL        warmup_policy_v1 returns NULL
    BAD_LOOP        a timer set at now from on_timer, for ever
    (BAD_SYMBOL builds without warmup_policy_v1 at all.)
    =========================================================================
*/
#include <stdlib.h>
#include "warmup/policy.h"

//  BAD_SYMBOL uses none of the callbacks.
#define CALLBACK static __attribute__ ((unused))

typedef struct {
    const warmup_host_t *host;
    warmup_world_t *world;
} state_t;

CALLBACK void *
s_create (const warmup_host_t *host, warmup_world_t *world, double knob)
{
    (void) knob;
    state_t *self = calloc (1, sizeof *self);
    if (self) {
        self->host = host;
        self->world = world;
    }
    return self;
}

CALLBACK void
s_destroy (void *state)
{
    free (state);
}

CALLBACK int
s_on_request (void *state, const warmup_request_t *request, warmup_outcome_t outcome)
{
    state_t *self = state;
    (void) outcome;
    return self->host->set_timer (self->world, request->time_ms, request->model, 0);
}

CALLBACK int
s_on_timer (void *state, uint32_t model, uint64_t token)
{
    state_t *self = state;
    return self->host->set_timer (self->world, self->host->now (self->world), model, token);
}

#ifndef BAD_SYMBOL
static const warmup_policy_t s_policy __attribute__ ((unused)) = {
#   ifdef BAD_ABI
    .abi = WARMUP_POLICY_ABI + 1,
#   else
    .abi = WARMUP_POLICY_ABI,
#   endif
#   ifdef BAD_NAME
    .name = "keepalive",
#   else
    .name = "bad",
#   endif
    .create = s_create, .destroy = s_destroy, .on_request = s_on_request,
#   ifndef BAD_CALLBACK
    .on_timer = s_on_timer,
#   endif
};

const warmup_policy_t *
warmup_policy_v1 (void)
{
#   ifdef BAD_NULL
    return NULL;
#   else
    return &s_policy;
#   endif
}
#else
//  Something to export, under another name.
const warmup_policy_t *
warmup_policy_v0 (void)
{
    return NULL;
}
#endif
