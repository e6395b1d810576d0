/*  =========================================================================
    wp_policy_icebreaker - icebreaker: IceBreaker's FFT invocation forecast

    Source: Roy, Patel and Tiwari, "IceBreaker: Warming Serverless Functions
    Better with Heterogeneous Computing", ASPLOS'22 (its Fourier-based
    invocation predictor). At every minute boundary, per model: take the
    last 60 one-minute request counts, remove the linear trend (least
    squares slope), take the FFT, keep the 21 lowest-frequency terms (the
    constant and 10 harmonics with their conjugates), extrapolate one
    minute ahead and add the trend back. If the forecast rounds to >= 1
    (>= 0.5), the model is kept, or pre-warmed at the boundary, for that
    minute; otherwise it is unloaded at the boundary (a model still loading
    is reconsidered at the next boundary). A request for an absent model
    loads it on demand; it stays until the next boundary's decision.
    Because every step is linear in the counts, the forecast is computed as
    a fixed weighted sum of the 60 counts (weights derived once from the
    FFT formula), which gives the same number at 60 multiply-adds.
    Deviation: IceBreaker also chooses between heterogeneous servers; there
    is one kind here. Pre-warms that do not fit unload least-recently-used
    idle models; when the budget is short: least recently used.
    =========================================================================
*/
#include "wp_eval_sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 60                       //  minutes of history
#define HARMONICS 10                    //  kept: constant + 10 pairs = 21 terms
#define MINUTE_MS 60000                 //  forecast period

//  Per-model counts.
typedef struct {
    uint32_t counts [WINDOW];   //  ring of the last 60 complete minutes
    uint32_t current;           //  requests in the current minute
    uint32_t head;              //  ring slot of the oldest minute
    uint64_t window_sum;        //  sum of counts in the ring
    bool active;                //  in the active list
} s_model_t;

//  State of one icebreaker run.
typedef struct {
    double weights [WINDOW];    //  forecast = sum of weights [n] x count n
    s_model_t *models;          //  models [id]
    size_t nmodels;             //  number of models
    uint32_t *active;           //  models with recent requests or resident
    size_t nactive;             //  length of active
    bool armed;                 //  the minute timer is set
} s_self_t;

//  Derive the forecast weights: trend slope p = sum a_n x_n (least
//  squares), detrended y_n = x_n - p n, truncated Fourier series at n = 60
//  equals its value at n = 0: (1/N) sum y_n D(n), D the Dirichlet kernel
//  of 10 harmonics; forecast = p N + (1/N) sum y_n D(n).
static void
s_weights (double *weights)
{
    const int n = WINDOW;
    double mean_t = (n - 1) / 2.0, sxx = 0;
    for (int t = 0; t < n; t++)
        sxx += (t - mean_t) * (t - mean_t);
    double kernel [WINDOW], t_kernel = 0;
    for (int t = 0; t < n; t++) {
        kernel [t] = 1;
        for (int k = 1; k <= HARMONICS; k++)
            kernel [t] += 2 * cos (2 * M_PI * k * t / n);
        t_kernel += t * kernel [t];
    }
    double slope_factor = n - t_kernel / n;
    for (int t = 0; t < n; t++)
        weights [t] = kernel [t] / n + (t - mean_t) / sxx * slope_factor;
}

//  Create the state.
static void *
s_create (wp_eval_sim_t *sim, double knob)
{
    s_self_t *self = calloc (1, sizeof (s_self_t));
    if (!self)
        return NULL;
    self->nmodels = wp_eval_catalog_size (wp_eval_sim_catalog (sim));
    self->models = calloc (self->nmodels, sizeof (s_model_t));
    self->active = calloc (self->nmodels, sizeof (uint32_t));
    if (!self->models || !self->active) {
        free (self->models);
        free (self->active);
        free (self);
        return NULL;
    }
    s_weights (self->weights);
    return self;
}

//  Destroy the state.
static void
s_destroy (void **self_p)
{
    s_self_t *self = *self_p;
    if (!self)
        return;
    free (self->models);
    free (self->active);
    free (self);
    *self_p = NULL;
}

//  Count the request; make sure the minute timer runs.
static int
s_on_request (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *request,
              wp_eval_outcome_t outcome)
{
    s_self_t *self = state;
    s_model_t *m = &self->models [request->model];
    m->current++;
    if (!m->active) {
        m->active = true;
        self->active [self->nactive++] = request->model;
    }
    if (!self->armed) {
        self->armed = true;
        int64_t next = (request->time / MINUTE_MS + 1) * MINUTE_MS;
        return wp_eval_sim_set_timer (sim, next, 0, 0);
    }
    return 0;
}

//  Forecast of the next minute's count from the ring (oldest first).
static double
s_forecast (const s_self_t *self, const s_model_t *m)
{
    double f = 0;
    for (int t = 0; t < WINDOW; t++)
        f += self->weights [t] * m->counts [(m->head + t) % WINDOW];
    return f;
}

//  A minute ended: shift the counts in, forecast, keep/pre-warm/unload.
static int
s_on_timer (void *state, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    s_self_t *self = state;
    size_t i = 0;
    while (i < self->nactive) {
        uint32_t id = self->active [i];
        s_model_t *m = &self->models [id];
        m->window_sum += m->current;
        m->window_sum -= m->counts [m->head];
        m->counts [m->head] = m->current;
        m->head = (m->head + 1) % WINDOW;
        m->current = 0;
        bool keep = m->window_sum > 0 && s_forecast (self, m) >= 0.5;
        if (keep) {
            if (wp_eval_sim_prewarm (sim, id) < 0) {
                int64_t need = wp_eval_catalog_memory_mb (wp_eval_sim_catalog (sim), id);
                if (wp_eval_sim_evict_lru (sim, need) == 0)
                    wp_eval_sim_prewarm (sim, id);
            }
        }
        else
            wp_eval_sim_unload (sim, id);
        if (m->window_sum == 0 && !wp_eval_sim_is_resident (sim, id)) {
            m->active = false;
            memset (m->counts, 0, sizeof (m->counts));
            m->head = 0;
            self->active [i] = self->active [--self->nactive];
        }
        else
            i++;
    }
    if (self->nactive == 0) {
        self->armed = false;
        return 0;
    }
    return wp_eval_sim_set_timer (sim, wp_eval_sim_now (sim) + MINUTE_MS, 0, 0);
}

//  Bytes of state.
static size_t
s_state_bytes (void *state)
{
    s_self_t *self = state;
    return sizeof (*self) + self->nmodels * (sizeof (s_model_t) + sizeof (uint32_t));
}

const wp_eval_policy_t wp_policy_icebreaker = {
    .family = "icebreaker",
    .summary = "IceBreaker ASPLOS'22: FFT forecast of the next minute, keep iff >= 1",
    .create = s_create,
    .destroy = s_destroy,
    .on_request = s_on_request,
    .on_timer = s_on_timer,
    .make_room = NULL,
    .state_bytes = s_state_bytes,
};
