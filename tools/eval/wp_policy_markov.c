/*  =========================================================================
    wp_policy_markov - preload-markov: the Linux preload daemon's model

    Source: Behdad Esfahbod, "Preload - An Adaptive Prefetching Daemon"
    (MSc thesis, University of Toronto, 2006) and the preload 0.6 source
    (state.c, prophet.c), re-implemented from their description. Time is
    cut into 20 s cycles; a model is "in use" in a cycle if it got a
    request in it. Each pair of models (a, b) has a 4-state Markov chain
    (neither / a / b / both in use) that counts its transitions
    (weight[i][j], weight[i][i] = visits of i) and the mean sojourn time of
    each state. At the end of each cycle, every chain in which exactly one
    model is in use bids for the other, y:
        P(y in use next) = |corr(a, b)| x (1 - exp(-1.5 cycle / sojourn))
                           x (weight[s][y] + weight[s][both]) / (weight[s][s] + 0.01)
    corr being the pair's correlation of in-use time, and the bids combine
    as 1 - prod (1 - P). Models with P >= threshold are pre-warmed in order
    of need (highest P first, ties by id), each that fits in the free
    memory. A model neither in use in the last cycle nor predicted is
    unloaded at the cycle's end (loading ones at a later end).
    Deviations: preload prefetches files and lets the kernel evict, so it
    has no threshold and no unload rule; here the threshold (knob, default
    0.5) and the unload rule above stand for them. To keep the cost
    proportional to the models in use, a pair's chain is created the first
    time both are in use in one cycle (preload creates chains for all pairs
    of known programs) and chains in the "neither" state do not bid. The
    chain index takes models^2/2 x 4 bytes, so the policy refuses catalogs
    of more than 8192 models. When the budget is short: least recently used.
    =========================================================================
*/
#include "wp_eval_sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CYCLE_MS 20000                  //  preload's default cycle
#define MAX_MODELS 8192                 //  bound of the pair index

//  The Markov chain of one pair of models.
typedef struct {
    uint32_t a;                 //  lower model id (state bit 1)
    uint32_t b;                 //  higher model id (state bit 2)
    uint32_t change;            //  cycle the current state began
    uint32_t both_time;         //  cycles spent with both in use (closed spells)
    uint32_t weight [4][4];     //  transition counts, [i][i] = visits of i
    float sojourn [4];          //  mean cycles spent in each state
    uint8_t state;              //  bit 1: a in use, bit 2: b in use
} s_chain_t;

//  Per-model state.
typedef struct {
    uint32_t *chains;           //  ids of the chains the model is in
    uint32_t nchains;           //  length of chains
    uint32_t chains_cap;        //  allocated length of chains
    uint32_t run_time;          //  cycles in use (closed spells)
    uint32_t run_since;         //  cycle the current spell began
    double lnprob;              //  log P(not needed), this cycle's bids
    bool used;                  //  got a request in the current cycle
    bool running;               //  was in use in the last closed cycle
    bool bid;                   //  in the bidders list
} s_model_t;

//  State of one preload-markov run.
typedef struct {
    double threshold;           //  P needed to pre-warm
    s_model_t *models;          //  models [id]
    size_t nmodels;             //  number of models
    uint32_t *index;            //  pair -> chain id + 1 (0 = none)
    s_chain_t *chains;          //  chains
    size_t nchains;             //  number of chains
    size_t chains_cap;          //  allocated chains
    uint32_t *used;             //  models used in the current cycle
    size_t nused;               //  length of used
    uint32_t *running;          //  models in use in the last closed cycle
    size_t nrunning;            //  length of running
    uint32_t *scratch;          //  bidders, then candidates
    size_t adjacency_bytes;     //  bytes of per-model chain lists
    bool armed;                 //  the cycle timer is set
} s_self_t;

static void s_destroy (void **self_p);

//  Index slot of the pair a < b.
static inline size_t
s_pair (size_t a, size_t b)
{
    return b * (b - 1) / 2 + a;
}

//  Create the state.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    size_t n = wp_eval_catalog_size (wp_eval_sim_catalog (sim));
    if (n == 0 || n > MAX_MODELS)
        return NULL;
    s_self_t *self = calloc (1, sizeof (s_self_t));
    if (!self)
        return NULL;
    self->threshold = knob;
    self->nmodels = n;
    self->models = calloc (n, sizeof (s_model_t));
    self->index = calloc (n * (n - 1) / 2 + 1, sizeof (uint32_t));
    self->used = calloc (n, sizeof (uint32_t));
    self->running = calloc (n, sizeof (uint32_t));
    self->scratch = calloc (n, sizeof (uint32_t));
    if (!self->models || !self->index || !self->used || !self->running || !self->scratch) {
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    return self;
}

//  Destroy the state.
static void
s_destroy (void **self_p)
{
    s_self_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nmodels; i++)
        free (self->models [i].chains);
    free (self->models);
    free (self->index);
    free (self->chains);
    free (self->used);
    free (self->running);
    free (self->scratch);
    free (self);
    *self_p = NULL;
}

//  Append a chain id to a model's list; -1 on allocation failure.
static int
s_link (s_self_t *self, s_model_t *m, uint32_t chain)
{
    if (m->nchains == m->chains_cap) {
        uint32_t cap = m->chains_cap? m->chains_cap * 2: 8;
        uint32_t *chains = realloc (m->chains, cap * sizeof (uint32_t));
        if (!chains)
            return -1;
        self->adjacency_bytes += (cap - m->chains_cap) * sizeof (uint32_t);
        m->chains = chains;
        m->chains_cap = cap;
    }
    m->chains [m->nchains++] = chain;
    return 0;
}

//  Create the chain of a pair both in use at cycle now; -1 on failure.
static int
s_chain_new (s_self_t *self, uint32_t a, uint32_t b, uint32_t now)
{
    if (a > b) {
        uint32_t swap = a;
        a = b;
        b = swap;
    }
    size_t slot = s_pair (a, b);
    if (self->index [slot])
        return 0;
    if (self->nchains == self->chains_cap) {
        size_t cap = self->chains_cap? self->chains_cap * 2: 1024;
        s_chain_t *chains = realloc (self->chains, cap * sizeof (s_chain_t));
        if (!chains)
            return -1;
        self->chains = chains;
        self->chains_cap = cap;
    }
    uint32_t id = (uint32_t) self->nchains++;
    s_chain_t *chain = &self->chains [id];
    memset (chain, 0, sizeof (*chain));
    chain->a = a;
    chain->b = b;
    chain->state = 3;
    chain->change = now;
    self->index [slot] = id + 1;
    if (s_link (self, &self->models [a], id) || s_link (self, &self->models [b], id))
        return -1;
    return 0;
}

//  Move a chain to the state its models' flags give, at cycle now.
static void
s_chain_update (s_self_t *self, s_chain_t *chain, uint32_t now)
{
    uint8_t state = (uint8_t) ((self->models [chain->a].running? 1: 0)
                             | (self->models [chain->b].running? 2: 0));
    uint8_t old = chain->state;
    if (state == old)
        return;
    uint32_t spent = now - chain->change;
    chain->weight [old][old]++;
    chain->sojourn [old] += ((float) spent - chain->sojourn [old]) / (float) chain->weight [old][old];
    chain->weight [old][state]++;
    if (old == 3)
        chain->both_time += spent;
    chain->state = state;
    chain->change = now;
}

//  Cycles a model has been in use up to cycle now.
static inline double
s_run_time (const s_model_t *m, uint32_t now)
{
    return (double) m->run_time + (m->running? (double) (now - m->run_since): 0);
}

//  Correlation of the pair's in-use indicators over now cycles.
static double
s_correlation (s_self_t *self, const s_chain_t *chain, uint32_t now)
{
    double t = now;
    double a = s_run_time (&self->models [chain->a], now);
    double b = s_run_time (&self->models [chain->b], now);
    double ab = chain->both_time + (chain->state == 3? (double) (now - chain->change): 0);
    if (a == 0 || a == t || b == 0 || b == t)
        return 0;
    double numerator = t * ab - a * b;
    double denominator2 = a * b * (t - a) * (t - b);
    return numerator / sqrt (denominator2);
}

//  Note the request; make sure the cycle timer runs.
static int
s_on_request (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *request,
              wp_eval_outcome_t outcome)
{
    s_self_t *self = state;
    s_model_t *m = &self->models [request->model];
    if (!m->used) {
        m->used = true;
        self->used [self->nused++] = request->model;
    }
    if (!self->armed) {
        self->armed = true;
        return wp_eval_sim_set_timer (sim, (request->time / CYCLE_MS + 1) * CYCLE_MS, 0, 0);
    }
    return 0;
}

//  Order candidates by need (lnprob ascending), then id.
static int
s_need_cmp (const void *x, const void *y, void *arg)
{
    s_self_t *self = arg;
    uint32_t a = *(const uint32_t *) x, b = *(const uint32_t *) y;
    double pa = self->models [a].lnprob, pb = self->models [b].lnprob;
    if (pa != pb)
        return pa < pb? -1: 1;
    return a < b? -1: a > b? 1: 0;
}

//  A cycle ended: update chains, bid, pre-warm, unload.
static int
s_on_timer (void *state, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    s_self_t *self = state;
    uint32_t now = (uint32_t) (wp_eval_sim_now (sim) / CYCLE_MS);
    //  1. New in-use flags: running = used in the cycle that ended.
    size_t nchanged = 0;
    uint32_t *changed = self->scratch;
    for (size_t i = 0; i < self->nrunning; i++) {
        s_model_t *m = &self->models [self->running [i]];
        if (!m->used) {
            m->running = false;
            m->run_time += now - m->run_since;
            changed [nchanged++] = self->running [i];
        }
    }
    for (size_t i = 0; i < self->nused; i++) {
        s_model_t *m = &self->models [self->used [i]];
        if (!m->running) {
            m->running = true;
            m->run_since = now;
            changed [nchanged++] = self->used [i];
        }
    }
    memcpy (self->running, self->used, self->nused * sizeof (uint32_t));
    self->nrunning = self->nused;
    //  2. Chains of the models that changed follow; new pairs get chains.
    for (size_t i = 0; i < nchanged; i++) {
        s_model_t *m = &self->models [changed [i]];
        for (uint32_t c = 0; c < m->nchains; c++)
            s_chain_update (self, &self->chains [m->chains [c]], now);
    }
    for (size_t i = 0; i < nchanged; i++) {
        uint32_t a = changed [i];
        if (!self->models [a].running)
            continue;
        for (size_t j = 0; j < self->nrunning; j++)
            if (self->running [j] != a && s_chain_new (self, a, self->running [j], now))
                return -1;
    }
    //  3. Bids: chains with exactly one model in use bid for the other.
    size_t nbid = 0;
    uint32_t *bidders = self->scratch;
    for (size_t i = 0; i < self->nrunning; i++) {
        s_model_t *m = &self->models [self->running [i]];
        for (uint32_t c = 0; c < m->nchains; c++) {
            s_chain_t *chain = &self->chains [m->chains [c]];
            int s = chain->state;
            if (s != 1 && s != 2)
                continue;
            if (!chain->weight [s][s] || !(chain->sojourn [s] > 0))
                continue;
            uint32_t y = s == 1? chain->b: chain->a;
            int ystate = s == 1? 2: 1;
            if (chain->weight [s][ystate] + chain->weight [s][3] == 0)
                continue;               //  never followed by y in use
            double correlation = fabs (s_correlation (self, chain, now));
            if (correlation == 0)
                continue;
            double p_change = -expm1 (-1.5 / chain->sojourn [s]);
            double p_next = (double) (chain->weight [s][ystate] + chain->weight [s][3])
                          / ((double) chain->weight [s][s] + 0.01);
            double p = correlation * p_change * p_next;
            if (p >= 1)
                p = 0.999999;
            s_model_t *ym = &self->models [y];
            if (!ym->bid) {
                ym->bid = true;
                ym->lnprob = 0;
                bidders [nbid++] = y;
            }
            ym->lnprob += log1p (-p);
        }
    }
    //  4. Pre-warm predicted models in order of need while they fit.
    size_t ncand = 0;
    double ln_threshold = log1p (-self->threshold);     //  P >= t <=> lnprob <= ln (1 - t)
    for (size_t i = 0; i < nbid; i++) {
        s_model_t *ym = &self->models [bidders [i]];
        ym->bid = false;
        if (ym->lnprob <= ln_threshold)
            bidders [ncand++] = bidders [i];
        else
            ym->lnprob = 0;
    }
    qsort_r (bidders, ncand, sizeof (uint32_t), s_need_cmp, self);
    for (size_t i = 0; i < ncand; i++)
        wp_eval_sim_prewarm (sim, bidders [i]);
    //  5. Unload what is neither in use nor predicted.
    size_t i = 0;
    while (i < wp_eval_sim_resident_count (sim)) {
        uint32_t id = wp_eval_sim_resident_model (sim, i);
        s_model_t *m = &self->models [id];
        if (!m->running && m->lnprob == 0 && wp_eval_sim_unload (sim, id) == 0)
            continue;                   //  another model moved into slot i
        i++;
    }
    for (size_t c = 0; c < ncand; c++)
        self->models [bidders [c]].lnprob = 0;
    //  6. Next cycle.
    for (size_t u = 0; u < self->nused; u++)
        self->models [self->used [u]].used = false;
    self->nused = 0;
    if (self->nrunning == 0 && wp_eval_sim_resident_count (sim) == 0) {
        self->armed = false;
        return 0;
    }
    return wp_eval_sim_set_timer (sim, wp_eval_sim_now (sim) + CYCLE_MS, 0, 0);
}

//  Bytes of state.
static size_t
s_state_bytes (void *state)
{
    s_self_t *self = state;
    size_t n = self->nmodels;
    return sizeof (*self) + n * (sizeof (s_model_t) + 3 * sizeof (uint32_t))
         + (n * (n - 1) / 2 + 1) * sizeof (uint32_t)
         + self->chains_cap * sizeof (s_chain_t) + self->adjacency_bytes;
}

static const double s_sweep [] = { 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99 };

const wp_eval_policy_t wp_policy_markov = {
    .family = "preload-markov",
    .knob = "threshold",
    .knob_default = 0.5,
    .knob_min = 0.000001,
    .knob_max = 0.999999,
    .sweep = s_sweep,
    .sweep_len = sizeof (s_sweep) / sizeof (s_sweep [0]),
    .summary = "Linux preload: 20 s cycles, pairwise 4-state Markov chains, pre-warm P >= threshold",
    .create = s_create,
    .destroy = s_destroy,
    .on_request = s_on_request,
    .on_timer = s_on_timer,
    .make_room = NULL,
    .state_bytes = s_state_bytes,
};
