/*  =========================================================================
    wp_replay - warmupctl replay: a request trace through the live system,
    in event time, with the evaluator's world and metrics.

    The replayer plays the model servers of EVAL.md section 2 with
    warmup-eval's own simulator (wp_eval_sim, linked, not re-written): the
    live system is the "policy" of that world. Each request is classified
    by the world (warm, delayed, cold) and published as a usage.observed
    event with its outcome; the world starts a load when a warmup.done
    (warm, ok) arrives and unloads on a warmup.done (cool, ok), at the
    event time of the round that caused them.

    Lock-step (--lockstep): one round per request and per component timer.
    A round publishes clock.tick (event time t); every component handles
    it and every event before it, and answers clock.ack with its counts
    (events handled and published per topic), its next timer and whether
    it is busy. The round is over when every component acked the tick, is
    not busy, and for every topic each subscriber handled as many events
    as were published: nothing is in flight (the counts of a component's
    ack cover everything it published before it, so an event in flight
    shows as a count that does not balance). Then the world's next step
    is the earlier of the next request and the components' next timers,
    a world timer that fires before a request at the same ms, as
    warmup-eval fires the predictive policy's timers. One round per
    request is what makes the world see the reaction to each request
    before it classifies the next one, as warmup-eval does.

    --speed X: requests at X times their real pace, ticks every 10 ms of
    wall time, no waiting: what the pipeline does under a real load; its
    results drift from lock-step's (docs/evaluation.md).
    =========================================================================
*/
#include "wp_component.h"
#include "wp_replay.h"
#include "wp_security.h"
#include "wp_util.h"
#include "wp_eval_catalog.h"
#include "wp_eval_report.h"
#include "wp_eval_run.h"
#include "wp_eval_sim.h"
#include "wp_eval_trace.h"
#include <math.h>

#define MEMBERS_MAX 64              //  components in a replay at most
#define BATCH 4096                  //  requests read at once
#define TOKEN_TICK 1                //  world timer: a component's timer is due
#define TOKEN_UNLOAD 2              //  world timer: a cool waits for its load
#define TOKEN_APPLY 3               //  world timer: a scheduler timer's decision
#define WINDOW_MAX 1000000          //  --window: requests per round at most
#define WINDOW_DEFAULT 4096         //  --window: requests per round by default
#define WINDOW_EVENTS 6             //  events a request makes, at most about (bus/hwm)
#define ROUND_TIMEOUT_MS 30000      //  a round without progress this long fails
#define FOREIGN_QUIET_MS 300         //  first round: counts still this long
#define ASKED_MAX 4096              //  cools asked remembered for their time
#define SPEED_TICK_MS 10            //  --speed: a tick every this many ms of wall time

//  What the replayer knows of one component, from its latest clock.ack.
typedef struct {
    char source [128];              //  its bus source
    char name [32];                 //  component name
    uint64_t tick;                  //  latest tick it handled
    uint64_t next_ms;               //  its next timer (0 none)
    bool busy;                      //  work in flight
    uint32_t subscribed;            //  topic bits
    uint64_t received [WP_TOPIC_COUNT];
    uint64_t published [WP_TOPIC_COUNT];
    uint64_t foreign [WP_TOPIC_COUNT];  //  received before the replay from
                                    //  publishers that are no members (a
                                    //  warmupctl reload, pin...)
} s_member_t;

//  Replay by windows: one decision of the scheduler (warmup.requested).
typedef struct {
    uint64_t seq;                   //  its header seq
    uint64_t time;                  //  event time it was made at
    uint64_t cause;                 //  seq of the request it follows (0: none)
    int phase;                      //  where: WARMUP__V1__PHASE__*
    uint32_t model;                 //  catalog id
    bool warm;                      //  warm (else cool)
    int done;                       //  its warmup.done: -1 none yet, 0 failed, 1 ok
} s_decision_t;

//  Replay by windows: a warmup.done, for the decision it answers.
typedef struct {
    uint64_t seq;                   //  header seq of the warmup.requested
    bool ok;                        //  done
} s_done_t;

//  One replay.
typedef struct {
    const wp_config_t *config;      //  endpoints
    wp_bus_t *bus;                  //  our client
    wp_eval_catalog_t *catalog;     //  models
    wp_eval_trace_t *trace;         //  requests (and user names)
    wp_eval_sim_t *sim;             //  the world
    bool lockstep;                  //  wait for every round
    double speed;                   //  --speed factor (0: lock-step)
    bool quiet;                     //  no progress bar
    s_member_t members [MEMBERS_MAX];
    size_t n_members;
    uint64_t tick;                  //  ticks published
    uint64_t published [WP_TOPIC_COUNT];    //  our own publications
    uint64_t done_received;         //  warmup.done handled
    int64_t timer_at;               //  earliest world tick timer pending, -1 none
    uint64_t rounds;                //  rounds run
    uint64_t not_applied;           //  warmup.done the world could not follow
    uint64_t late_cools;            //  cools of a model still loading (deferred)
    //  Replay by windows (--window N)
    size_t window;                  //  requests per round (0: a round per request)
    s_decision_t *decisions;        //  the scheduler's, in the order published
    size_t n_decisions;             //  how many held
    size_t cap_decisions;           //  allocated
    size_t next_decision;           //  first not applied or scheduled yet
    size_t timer_decision;          //  first scheduled as a world timer, not applied
    s_done_t *dones;                //  warmup.done of this round
    size_t n_dones;                 //  how many
    size_t cap_dones;               //  allocated
    char *scheduler;                //  source of the scheduler's decisions
    uint64_t usage_seq;             //  seq of the request being served
    uint64_t rooms;                 //  room.request published (= its last seq)
    uint64_t room_victims;          //  models unloaded on the scheduler's reply
    //  A round per request: the event time of the latest cools asked (a
    //  cool asked as of a time past, a time-out's expiry, unloads then)
    struct { uint64_t seq; uint64_t event_ms; } asked [ASKED_MAX];
    char source [128];              //  our bus source
    char error [512];               //  why it failed
} s_replay_t;

//  The replay the world's policy callbacks belong to: set around
//  wp_eval_sim_new only (the policy interface has no user argument).
static s_replay_t *s_creating;

//  Component names a replay expects acks from.
static const char *s_expected [] = { "analyzer", "engine", "scheduler", "queue",
                                     "resource", "perf", "metrics", NULL };

//  Monotonic ms.
static uint64_t
s_mono_ms (void)
{
    return wp_mono_ns () / 1000000;
}

//  The member of a source, added on its first ack; NULL when full.
static s_member_t *
s_member (s_replay_t *self, const char *source, const char *name)
{
    for (size_t i = 0; i < self->n_members; i++)
        if (streq (self->members [i].source, source))
            return &self->members [i];
    if (self->n_members == MEMBERS_MAX)
        return NULL;
    s_member_t *member = &self->members [self->n_members++];
    memset (member, 0, sizeof *member);
    snprintf (member->source, sizeof member->source, "%s", source);
    snprintf (member->name, sizeof member->name, "%s", name ? name : "");
    return member;
}

//  Take in a clock.ack.
static void
s_on_ack (s_replay_t *self, const Warmup__V1__ClockAck *ack)
{
    if (!ack->header || !ack->header->source)
        return;
    s_member_t *member = s_member (self, ack->header->source, ack->component);
    if (!member || ack->tick < member->tick)
        return;
    member->tick = ack->tick;
    member->next_ms = ack->next_ms;
    member->busy = ack->busy;
    member->subscribed = ack->subscribed;
    for (size_t t = 0; t < WP_TOPIC_COUNT; t++) {
        member->received [t] = t < ack->n_received ? ack->received [t] : 0;
        member->published [t] = t < ack->n_published ? ack->published [t] : 0;
    }
}

//  The world follows a warmup.done at its current time.
static void
s_on_done (s_replay_t *self, const Warmup__V1__WarmupDone *done)
{
    self->done_received++;
    if (!done->ok || !done->model)
        return;
    int64_t id = wp_eval_catalog_lookup (self->catalog, done->model, strlen (done->model));
    if (id < 0) {
        self->not_applied++;
        return;
    }
    if (done->action == WARMUP__V1__ACTION__ACTION_WARM) {
        if (wp_eval_sim_prewarm (self->sim, (uint32_t) id) < 0)
            self->not_applied++;        //  no room: the world cannot load it
    }
    else
    if (done->action == WARMUP__V1__ACTION__ACTION_COOL) {
        //  As of when it was asked, if that is past (a time-out's expiry)
        int64_t as_of = -1;
        if (done->cause && !self->window) {
            size_t slot = (size_t) (done->cause->seq % ASKED_MAX);
            if (self->asked [slot].seq == done->cause->seq)
                as_of = (int64_t) self->asked [slot].event_ms;
        }
        if (as_of >= 0 && as_of < wp_eval_sim_now (self->sim)
            && wp_eval_sim_unload_at (self->sim, (uint32_t) id, as_of) == 0)
            return;
        if (wp_eval_sim_unload (self->sim, (uint32_t) id) < 0) {
            //  Still loading: it leaves when its load ends.
            self->late_cools++;
            wp_eval_sim_set_timer (self->sim, wp_eval_sim_load_end (self->sim, (uint32_t) id),
                                   (uint32_t) id, TOKEN_UNLOAD);
        }
    }
}

//  Events published per topic, by us and by every member.
static void
s_totals (s_replay_t *self, uint64_t *total)
{
    for (int t = 0; t < WP_TOPIC_COUNT; t++) {
        total [t] = self->published [t];
        for (size_t i = 0; i < self->n_members; i++)
            total [t] += self->members [i].published [t];
    }
}

//  Does every count balance, has every component acked tick? Writes
//  what is missing into why.
static bool
s_settled (s_replay_t *self, uint64_t tick, char *why, size_t size)
{
    for (int e = 0; s_expected [e]; e++) {
        bool found = false;
        for (size_t i = 0; i < self->n_members && !found; i++)
            found = streq (self->members [i].name, s_expected [e]);
        if (!found) {
            snprintf (why, size, "no clock.ack from the %s (is it running with --replay?)",
                      s_expected [e]);
            return false;
        }
    }
    uint64_t total [WP_TOPIC_COUNT];
    s_totals (self, total);
    for (size_t i = 0; i < self->n_members; i++) {
        s_member_t *m = &self->members [i];
        if (m->tick < tick) {
            snprintf (why, size, "%s has not acked tick %" PRIu64, m->source, tick);
            return false;
        }
        if (m->busy) {
            snprintf (why, size, "%s is busy", m->source);
            return false;
        }
        for (int t = 0; t < WP_TOPIC_COUNT; t++) {
            if (t == WP_TOPIC_HEARTBEAT || t == WP_TOPIC_CLOCK_ACK || t == WP_TOPIC_CLOCK_TICK
                || !(m->subscribed & (1u << t)))
                continue;
            if (m->received [t] - m->foreign [t] != total [t]) {
                snprintf (why, size, "%s handled %" PRIu64 " %s of %" PRIu64 " published",
                          m->source, m->received [t], wp_topic_name ((wp_topic_t) t),
                          total [t]);
                return false;
            }
        }
    }
    if (self->done_received != total [WP_TOPIC_WARMUP_DONE]) {
        snprintf (why, size, "the replayer handled %" PRIu64 " warmup.done of %" PRIu64,
                  self->done_received, total [WP_TOPIC_WARMUP_DONE]);
        return false;
    }
    return true;
}

//  Replay by windows: keep a decision of the scheduler for later.
static void
s_on_requested (s_replay_t *self, const Warmup__V1__WarmupRequested *in)
{
    if (!in->header || !in->header->source || !in->model)
        return;
    if (!self->scheduler) {
        self->scheduler = strdup (in->header->source);
        assert (self->scheduler);
    }
    if (!streq (self->scheduler, in->header->source)) {
        snprintf (self->error, sizeof self->error, "warmup.requested from %s and %s: a "
                  "replay by windows needs one scheduler and no one else's decisions",
                  self->scheduler, in->header->source);
        return;
    }
    int64_t id = wp_eval_catalog_lookup (self->catalog, in->model, strlen (in->model));
    if (id < 0) {
        self->not_applied++;
        return;
    }
    if (self->n_decisions == self->cap_decisions) {
        self->cap_decisions = self->cap_decisions ? 2 * self->cap_decisions : 4096;
        self->decisions = (s_decision_t *) realloc (self->decisions,
                                                    self->cap_decisions * sizeof (s_decision_t));
        assert (self->decisions);
    }
    s_decision_t *d = &self->decisions [self->n_decisions++];
    d->seq = in->header->seq;
    d->time = in->event_ms;
    d->cause = in->cause ? in->cause->seq : 0;
    d->phase = (int) in->cause_phase;
    d->model = (uint32_t) id;
    d->warm = in->action == WARMUP__V1__ACTION__ACTION_WARM;
    d->done = -1;
}

//  Replay by windows: keep a warmup.done for its decision.
static void
s_on_done_later (s_replay_t *self, const Warmup__V1__WarmupDone *in)
{
    self->done_received++;
    if (!in->cause) {
        self->not_applied++;
        return;
    }
    if (self->n_dones == self->cap_dones) {
        self->cap_dones = self->cap_dones ? 2 * self->cap_dones : 4096;
        self->dones = (s_done_t *) realloc (self->dones, self->cap_dones * sizeof (s_done_t));
        assert (self->dones);
    }
    self->dones [self->n_dones].seq = in->cause->seq;
    self->dones [self->n_dones].ok = in->ok;
    self->n_dones++;
}

//  Handle one event from the bus.
static void
s_handle (s_replay_t *self, wp_bus_event_t *event)
{
    if (event->topic == WP_TOPIC_CLOCK_ACK)
        s_on_ack (self, (const Warmup__V1__ClockAck *) event->msg);
    else
    if (event->topic == WP_TOPIC_WARMUP_DONE && self->window)
        s_on_done_later (self, (const Warmup__V1__WarmupDone *) event->msg);
    else
    if (event->topic == WP_TOPIC_WARMUP_DONE)
        s_on_done (self, (const Warmup__V1__WarmupDone *) event->msg);
    else
    if (event->topic == WP_TOPIC_WARMUP_REQUEST && self->window)
        s_on_requested (self, (const Warmup__V1__WarmupRequested *) event->msg);
    else
    if (event->topic == WP_TOPIC_WARMUP_REQUEST) {
        const Warmup__V1__WarmupRequested *in =
            (const Warmup__V1__WarmupRequested *) event->msg;
        if (in->header && in->action == WARMUP__V1__ACTION__ACTION_COOL) {
            size_t slot = (size_t) (in->header->seq % ASKED_MAX);
            self->asked [slot].seq = in->header->seq;
            self->asked [slot].event_ms = in->event_ms;
        }
    }
}

//  The first round, quiet for a while: what a member received beyond what
//  the members and we published came from others before the replay (a
//  warmupctl reload's control.request): not waited for.
static void
s_foreign (s_replay_t *self, uint64_t tick)
{
    uint64_t total [WP_TOPIC_COUNT];
    s_totals (self, total);
    for (size_t i = 0; i < self->n_members; i++) {
        s_member_t *m = &self->members [i];
        for (int t = 0; m->tick >= tick && !m->busy && t < WP_TOPIC_COUNT; t++)
            if (m->received [t] > total [t])
                m->foreign [t] = m->received [t] - total [t];
    }
}

//  Publish clock.tick at event time t: a new tick, or (again) the current
//  one, which components only ack again.
static int
s_publish_tick (s_replay_t *self, int64_t t, bool again)
{
    Warmup__V1__ClockTick tick = WARMUP__V1__CLOCK_TICK__INIT;
    tick.event_ms = (uint64_t) t;
    tick.tick = again ? self->tick : ++self->tick;
    tick.lockstep = self->lockstep;
    tick.windowed = self->window > 0;
    if (wp_bus_publish (self->bus, WP_TOPIC_CLOCK_TICK, &tick.base)) {
        snprintf (self->error, sizeof self->error, "cannot publish on the bus");
        return -1;
    }
    self->published [WP_TOPIC_CLOCK_TICK]++;
    return 0;
}

//  Earliest timer of the components, 0 if none.
static uint64_t
s_next_timer (s_replay_t *self)
{
    uint64_t next = 0;
    for (size_t i = 0; i < self->n_members; i++)
        if (self->members [i].next_ms && (!next || self->members [i].next_ms < next))
            next = self->members [i].next_ms;
    return next;
}

//  A lock-step round at event time t: tick, then wait until settled,
//  the world following warmup.done as it comes. Then a world timer for
//  the components' next timer.
static int
s_round (s_replay_t *self, int64_t t)
{
    if (s_publish_tick (self, t, false))
        return -1;
    uint64_t tick = self->tick;
    uint64_t progress = s_mono_ms ();
    char why [300] = "";
    uint64_t counts = 0, stable_since = s_mono_ms ();
    while (!s_settled (self, tick, why, sizeof why)) {
        if (self->rounds == 0) {
            //  The first round: once every count stayed still for a while
            //  (heartbeats and clock events aside: they never do), a
            //  surplus is others' (s_foreign).
            uint64_t sum = 0;
            for (size_t i = 0; i < self->n_members; i++)
                for (int k = 0; k < WP_TOPIC_COUNT; k++)
                    if (k != WP_TOPIC_HEARTBEAT && k != WP_TOPIC_CLOCK_ACK
                        && k != WP_TOPIC_CLOCK_TICK)
                        sum += (self->members [i].received [k]
                                + self->members [i].published [k]) * (uint64_t) (k + 1)
                             + self->members [i].tick;
            if (sum != counts) {
                counts = sum;
                stable_since = s_mono_ms ();
            }
            else
            if (s_mono_ms () - stable_since > FOREIGN_QUIET_MS)
                s_foreign (self, tick);
        }
        wp_bus_event_t event;
        int rc = wp_bus_recv_wait (self->bus, &event, 200);
        if (rc < 0) {
            snprintf (self->error, sizeof self->error, "interrupted");
            return -1;
        }
        if (rc == 1) {
            s_handle (self, &event);
            wp_bus_event_free (&event);
            progress = s_mono_ms ();
            continue;
        }
        if (s_mono_ms () - progress > ROUND_TIMEOUT_MS) {
            snprintf (self->error, sizeof self->error,
                      "round at event time %" PRId64 " ms did not settle within %d s: %s",
                      t, ROUND_TIMEOUT_MS / 1000, why);
            return -1;
        }
        //  Nothing for a while: ask again (a component that started after
        //  the tick, or a lost one).
        if (s_publish_tick (self, t, true))
            return -1;
    }
    self->rounds++;
    if (self->window)
        return self->error [0] ? -1 : 0;      //  the scheduler fires its own timers
    uint64_t next = s_next_timer (self);
    if (next && (self->timer_at < 0 || (int64_t) next < self->timer_at)) {
        self->timer_at = (int64_t) next;
        if (wp_eval_sim_set_timer (self->sim, (int64_t) next, 0, TOKEN_TICK)) {
            snprintf (self->error, sizeof self->error, "out of memory");
            return -1;
        }
    }
    return 0;
}

//  --speed: take in what arrived, without waiting.
static void
s_drain (s_replay_t *self)
{
    wp_bus_event_t event;
    while (wp_bus_recv (self->bus, &event) == 1) {
        s_handle (self, &event);
        wp_bus_event_free (&event);
    }
}

//  --- Replay by windows -------------------------------------------------------

//  Apply one of the scheduler's decisions to the world now, if the queue
//  did it (its warmup.done is ok).
static void
s_apply (s_replay_t *self, const s_decision_t *d)
{
    if (d->done != 1 || (int64_t) d->time != wp_eval_sim_now (self->sim)) {
        self->not_applied++;
        return;
    }
    if (d->warm ? wp_eval_sim_prewarm (self->sim, d->model) < 0
                : wp_eval_sim_unload (self->sim, d->model) < 0)
        self->not_applied++;
}

//  Apply the next decisions if they follow request cause in phase.
static void
s_apply_phase (s_replay_t *self, uint64_t cause, int phase)
{
    while (self->next_decision < self->n_decisions) {
        s_decision_t *d = &self->decisions [self->next_decision];
        if (d->cause != cause || d->phase != phase)
            break;
        s_apply (self, d);
        if (phase == WARMUP__V1__PHASE__PHASE_ROOM)
            self->room_victims++;
        self->next_decision++;
        self->timer_decision = self->next_decision;
    }
}

//  Before the request of seq before_seq is served: the decisions of the
//  scheduler's timers since the previous one become world timers at their
//  times (they fire before the request, as the scheduler fired them).
static int
s_schedule (s_replay_t *self, uint64_t before_seq)
{
    while (self->next_decision < self->n_decisions
           && self->decisions [self->next_decision].cause < before_seq) {
        s_decision_t *d = &self->decisions [self->next_decision++];
        if (d->phase != WARMUP__V1__PHASE__PHASE_TIMER)
            self->not_applied++;        //  out of place: counted, applied as a timer
        if (wp_eval_sim_set_timer (self->sim, (int64_t) d->time, d->model, TOKEN_APPLY)) {
            snprintf (self->error, sizeof self->error, "out of memory");
            return -1;
        }
    }
    return 0;
}

//  Order dones by the seq of their decision.
static int
s_done_cmp (const void *a, const void *b)
{
    uint64_t x = ((const s_done_t *) a)->seq, y = ((const s_done_t *) b)->seq;
    return x < y ? -1 : x > y;
}

//  After a round: each warmup.done to its decision (decisions are in seq
//  order, one publisher).
static void
s_match (s_replay_t *self)
{
    if (self->n_dones == 0)
        return;     //  (dones may be NULL: nothing was done yet)
    qsort (self->dones, self->n_dones, sizeof (s_done_t), s_done_cmp);
    size_t j = self->next_decision;
    for (size_t i = 0; i < self->n_dones; i++) {
        while (j < self->n_decisions && self->decisions [j].seq < self->dones [i].seq)
            j++;
        if (j < self->n_decisions && self->decisions [j].seq == self->dones [i].seq)
            self->decisions [j].done = self->dones [i].ok ? 1 : 0;
        else
            self->not_applied++;        //  a done for no decision we hold
    }
    self->n_dones = 0;
}

//  Drop the decisions applied.
static void
s_compact (s_replay_t *self)
{
    size_t gone = self->timer_decision;
    if (gone == 0)
        return;     //  (decisions may be NULL: none was made yet)
    memmove (self->decisions, self->decisions + gone,
             (self->n_decisions - gone) * sizeof (s_decision_t));
    self->n_decisions -= gone;
    self->next_decision -= gone;
    self->timer_decision = 0;
}

//  By windows: publish a request without its outcome.
static int
s_publish_usage (s_replay_t *self, const wp_eval_request_t *request)
{
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    usage.event_ms = (uint64_t) request->time;
    usage.user = (char *) wp_eval_trace_user_name (self->trace, request->user);
    usage.model = (char *) wp_eval_catalog_name (self->catalog, request->model);
    if (wp_bus_publish (self->bus, WP_TOPIC_USAGE, &usage.base)) {
        snprintf (self->error, sizeof self->error, "cannot publish on the bus");
        return -1;
    }
    self->published [WP_TOPIC_USAGE]++;
    return 0;
}

//  --- The world's policy: the live system -----------------------------------

//  State: the replay.
static void *
s_live_create (wp_eval_sim_t *sim, double knob)
{
    (void) knob;
    s_creating->sim = sim;
    return s_creating;
}

//  Nothing to free: the replay owns itself.
static void
s_live_destroy (void **self_p)
{
    *self_p = NULL;
}

//  A request was served: publish it with its outcome, then a round.
static int
s_live_request (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *request,
                wp_eval_outcome_t outcome)
{
    s_replay_t *self = state;
    if (self->window) {
        //  By windows: published before; the scheduler's decisions after it.
        s_apply_phase (self, self->usage_seq, WARMUP__V1__PHASE__PHASE_SERVED);
        return 0;
    }
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    usage.event_ms = (uint64_t) request->time;
    usage.user = (char *) wp_eval_trace_user_name (self->trace, request->user);
    usage.model = (char *) wp_eval_catalog_name (self->catalog, request->model);
    uint32_t load_ms = wp_eval_catalog_load_ms (self->catalog, request->model);
    switch (outcome) {
        case WP_EVAL_WARM:
            usage.outcome = WARMUP__V1__OUTCOME__OUTCOME_WARM;
            break;
        case WP_EVAL_DELAYED:
            usage.outcome = WARMUP__V1__OUTCOME__OUTCOME_DELAYED;
            usage.wait_ms = (uint32_t) (wp_eval_sim_load_end (sim, request->model)
                                        - request->time);
            break;
        case WP_EVAL_COLD:
            usage.outcome = WARMUP__V1__OUTCOME__OUTCOME_COLD;
            usage.wait_ms = load_ms;
            break;
        default:
            usage.outcome = WARMUP__V1__OUTCOME__OUTCOME_UNCACHEABLE;
            usage.wait_ms = load_ms;
            break;
    }
    if (wp_bus_publish (self->bus, WP_TOPIC_USAGE, &usage.base)) {
        snprintf (self->error, sizeof self->error, "cannot publish on the bus");
        return -1;
    }
    self->published [WP_TOPIC_USAGE]++;
    if (!self->lockstep) {
        s_drain (self);
        return 0;
    }
    return s_round (self, request->time);
}

//  An intent of the trace: publish it as usage.intent, then a round (a
//  replay with intents goes a round per event).
static int
s_live_intent (void *state, wp_eval_sim_t *sim, const wp_eval_request_t *intent)
{
    s_replay_t *self = state;
    Warmup__V1__UsageIntent out = WARMUP__V1__USAGE_INTENT__INIT;
    out.event_ms = (uint64_t) intent->time;
    out.user = (char *) wp_eval_trace_user_name (self->trace, intent->user);
    out.kind = (char *) wp_eval_trace_kind_name (self->trace, intent->kind);
    if (intent->model != WP_EVAL_NO_MODEL)
        out.model = (char *) wp_eval_catalog_name (self->catalog, intent->model);
    if (wp_bus_publish (self->bus, WP_TOPIC_INTENT, &out.base)) {
        snprintf (self->error, sizeof self->error, "cannot publish on the bus");
        return -1;
    }
    self->published [WP_TOPIC_INTENT]++;
    if (!self->lockstep) {
        s_drain (self);
        return 0;
    }
    return s_round (self, intent->time);
}

//  A world timer: a component's timer is due, or a cool's load ended.
static int
s_live_timer (void *state, wp_eval_sim_t *sim, uint32_t model, uint64_t token)
{
    s_replay_t *self = state;
    int64_t now = wp_eval_sim_now (sim);
    if (token == TOKEN_UNLOAD) {
        wp_eval_sim_unload (sim, model);
        return 0;
    }
    if (token == TOKEN_APPLY) {
        if (self->timer_decision < self->next_decision)
            s_apply (self, &self->decisions [self->timer_decision++]);
        return 0;
    }
    if (self->timer_at == now)
        self->timer_at = -1;
    if (!self->lockstep)
        return 0;
    return s_round (self, now);
}

//  A cold start short of memory: ask the live scheduler which models to
//  unload (room.request, with what the world can unload now), wait for its
//  room.reply and unload them, as warmup-eval's predictive asks its
//  scheduler core in make_room. If they are not enough, the world then
//  evicts least recently used models itself, as warmup-eval's does.
static int
s_live_make_room (void *state, wp_eval_sim_t *sim, uint32_t model, int64_t short_mb)
{
    s_replay_t *self = state;
    if (self->window) {
        //  By windows: the scheduler made room when it served the request.
        s_apply_phase (self, self->usage_seq, WARMUP__V1__PHASE__PHASE_ROOM);
        return 0;
    }
    if (short_mb <= 0)
        return 0;
    size_t count = wp_eval_sim_resident_count (sim), n = 0;
    Warmup__V1__ModelMemory *idle = (Warmup__V1__ModelMemory *)
        malloc ((count + 1) * sizeof *idle);
    Warmup__V1__ModelMemory **idle_ptrs = (Warmup__V1__ModelMemory **)
        malloc ((count + 1) * sizeof *idle_ptrs);
    assert (idle && idle_ptrs);
    for (size_t i = 0; i < count; i++) {
        uint32_t id = wp_eval_sim_resident_model (sim, i);
        if (wp_eval_sim_is_loading (sim, id))
            continue;
        Warmup__V1__ModelMemory item = WARMUP__V1__MODEL_MEMORY__INIT;
        item.model = (char *) wp_eval_catalog_name (self->catalog, id);
        item.memory_mb = wp_eval_catalog_memory_mb (self->catalog, id);
        idle [n] = item;
        idle_ptrs [n] = &idle [n];
        n++;
    }
    Warmup__V1__RoomRequest request = WARMUP__V1__ROOM_REQUEST__INIT;
    request.event_ms = (uint64_t) wp_eval_sim_now (sim);
    request.model = (char *) wp_eval_catalog_name (self->catalog, model);
    request.need_mb = wp_eval_catalog_memory_mb (self->catalog, model);
    request.free_mb = wp_eval_sim_free_mb (sim);
    request.n_idle = n;
    request.idle = idle_ptrs;
    int rc = wp_bus_publish (self->bus, WP_TOPIC_ROOM_REQUEST, &request.base);
    free (idle_ptrs);
    free (idle);
    //  Our sequence numbers per topic count from 1: this one's is rooms.
    uint64_t seq = ++self->rooms;
    if (rc) {
        snprintf (self->error, sizeof self->error, "cannot publish on the bus");
        return -1;
    }
    self->published [WP_TOPIC_ROOM_REQUEST]++;
    uint64_t progress = s_mono_ms ();
    for (;;) {
        wp_bus_event_t event;
        int got = wp_bus_recv_wait (self->bus, &event, 200);
        if (got < 0) {
            snprintf (self->error, sizeof self->error, "interrupted");
            return -1;
        }
        if (got == 0) {
            if (s_mono_ms () - progress > ROUND_TIMEOUT_MS) {
                snprintf (self->error, sizeof self->error,
                          "no room.reply from the scheduler within %d s for %s at event "
                          "time %" PRId64 " ms", ROUND_TIMEOUT_MS / 1000, request.model,
                          wp_eval_sim_now (sim));
                return -1;
            }
            continue;
        }
        progress = s_mono_ms ();
        const Warmup__V1__RoomReply *reply = (const Warmup__V1__RoomReply *) event.msg;
        if (event.topic == WP_TOPIC_ROOM_REPLY && reply->request_seq == seq
            && reply->request_source && streq (reply->request_source, self->source)) {
            for (size_t i = 0; i < reply->n_victims; i++) {
                const char *name = reply->victims [i];
                int64_t id = name ? wp_eval_catalog_lookup (self->catalog, name, strlen (name))
                                  : -1;
                if (id < 0 || wp_eval_sim_unload (sim, (uint32_t) id) != 0)
                    self->not_applied++;
                else
                    self->room_victims++;
            }
            wp_bus_event_free (&event);
            return 0;
        }
        s_handle (self, &event);
        wp_bus_event_free (&event);
    }
}

static const wp_eval_policy_t s_live = {
    .family = "predictive-live",
    .summary = "the live system over the bus",
    .create = s_live_create,
    .destroy = s_live_destroy,
    .on_request = s_live_request,
    .on_timer = s_live_timer,
    .make_room = s_live_make_room,
    .on_intent = s_live_intent,
};

//  --- The command -----------------------------------------------------------

static const char *s_replay_usage =
    "usage: warmupctl [endpoint flags] replay --trace FILE [--format csv|azure]\n"
    "                 --catalog FILE --budget-mb N [--lockstep [--window N | --per-request]\n"
    "                 | --speed X] [--json] [--quiet]\n"
    "  Replays a trace through a warmup service started with --replay (and the\n"
    "  same --catalog and --max-memory-mb), playing the model servers of the\n"
    "  simulated world (EVAL.md section 2), and prints the EVAL.md metrics of\n"
    "  the live system as policy 'predictive-live' (--json: warmup-eval's JSON).\n"
    "  --lockstep   event time advances when every component is done (default):\n"
    "               deterministic, the numbers of warmup-eval --policy predictive\n"
    "  --window N   lock-step by windows of N requests (default 4096): they go out\n"
    "               without their outcome, the scheduler serves them on its mirror\n"
    "               of the world and tags its decisions with their cause\n"
    "  --per-request  lock-step, a round per request carrying its outcome (slow:\n"
    "               about 1,000 requests/s; the same numbers)\n"
    "  --speed X    X times real time, no waiting (results drift; see\n"
    "               docs/evaluation.md)\n";

//  Print the progress line: event time reached, requests, pace.
static void
s_progress (s_replay_t *self, uint64_t requests, double started, bool end)
{
    double elapsed = (double) wp_mono_ns () / 1e9 - started;
    int64_t now_s = wp_eval_sim_now (self->sim) / 1000;
    fprintf (stderr, "\rreplay: event time %" PRId64 "d %02d:%02d:%02d, %" PRIu64
             " requests, %.0f req/s, %" PRIu64 " rounds%s", now_s / 86400,
             (int) (now_s / 3600 % 24), (int) (now_s / 60 % 60), (int) (now_s % 60), requests,
             elapsed > 0 ? (double) requests / elapsed : 0.0, self->rounds, end ? "\n" : "  ");
}

//  warmupctl replay.
int
wp_replay_main (const wp_config_t *config, int argc, char **argv)
{
    const char *trace_path = NULL, *catalog_path = NULL, *format_name = NULL;
    double budget = -1, speed = 0;
    size_t window = WINDOW_DEFAULT;
    bool per_request = false, window_flag = false;
    bool json = false, quiet = false, lockstep_flag = false;
    for (int i = 0; i < argc; i++) {
        const char *flag = argv [i];
        const char *value = i + 1 < argc ? argv [i + 1] : NULL;
        char *end = NULL;
        if (streq (flag, "--json"))
            json = true;
        else
        if (streq (flag, "--quiet"))
            quiet = true;
        else
        if (streq (flag, "--lockstep"))
            lockstep_flag = true;
        else
        if (streq (flag, "--per-request"))
            per_request = true;
        else
        if (streq (flag, "-h") || streq (flag, "--help")) {
            fputs (s_replay_usage, stdout);
            return 0;
        }
        else
        if (!value) {
            fprintf (stderr, "warmupctl replay: unknown flag or missing value '%s'\n%s",
                     flag, s_replay_usage);
            return 2;
        }
        else
        if (streq (flag, "--trace"))
            trace_path = argv [++i];
        else
        if (streq (flag, "--catalog"))
            catalog_path = argv [++i];
        else
        if (streq (flag, "--format"))
            format_name = argv [++i];
        else
        if (streq (flag, "--budget-mb")) {
            budget = strtod (argv [++i], &end);
            if (!*argv [i] || *end || !(budget >= 0) || budget > 1e12 || budget != floor (budget)) {
                fprintf (stderr, "warmupctl replay: --budget-mb: bad value '%s': an integer "
                         ">= 0 (MB, 0 = unbounded)\n", argv [i]);
                return 2;
            }
        }
        else
        if (streq (flag, "--window")) {
            double count = strtod (argv [++i], &end);
            if (!*argv [i] || *end || !(count >= 1) || count > WINDOW_MAX
                || count != floor (count)) {
                fprintf (stderr, "warmupctl replay: --window: bad value '%s': requests per "
                         "round, 1 to %d\n", argv [i], WINDOW_MAX);
                return 2;
            }
            window = (size_t) count;
            window_flag = true;
        }
        else
        if (streq (flag, "--speed")) {
            speed = strtod (argv [++i], &end);
            if (!*argv [i] || *end || !(speed > 0) || speed > 1e9) {
                fprintf (stderr, "warmupctl replay: --speed: bad value '%s': a factor > 0\n",
                         argv [i]);
                return 2;
            }
        }
        else {
            fprintf (stderr, "warmupctl replay: unknown flag '%s'\n%s", flag, s_replay_usage);
            return 2;
        }
    }
    if (!catalog_path)
        catalog_path = config->catalog;     //  the common flag took it
    if (!trace_path || !catalog_path || budget < 0) {
        fprintf (stderr, "warmupctl replay: --trace, --catalog and --budget-mb are "
                 "required\n%s", s_replay_usage);
        return 2;
    }
    if (speed > 0 && lockstep_flag) {
        fprintf (stderr, "warmupctl replay: --speed and --lockstep exclude each other\n");
        return 2;
    }
    if ((speed > 0 || per_request) && window_flag) {
        fprintf (stderr, "warmupctl replay: --window excludes --speed and --per-request\n");
        return 2;
    }
    if (speed > 0 && per_request) {
        fprintf (stderr, "warmupctl replay: --per-request is lock-step: not with --speed\n");
        return 2;
    }
    if (speed > 0 || per_request)
        window = 0;
    if ((uint64_t) window * WINDOW_EVENTS > config->hwm) {
        fprintf (stderr, "warmupctl replay: --window %zu: a round would queue about %zu "
                 "events per subscriber, more than the bus high-water mark (bus/hwm %u): "
                 "use at most %zu, or raise bus/hwm\n", window, window * WINDOW_EVENTS,
                 (unsigned) config->hwm, (size_t) (config->hwm / WINDOW_EVENTS));
        return 2;
    }
    wp_eval_format_t format = WP_EVAL_FORMAT_AUTO;
    if (format_name && wp_eval_format_parse (format_name, &format)) {
        fprintf (stderr, "warmupctl replay: --format: unknown format '%s' (csv, azure)\n",
                 format_name);
        return 2;
    }
    s_replay_t *self = (s_replay_t *) zmalloc (sizeof (s_replay_t));
    assert (self);
    self->config = config;
    self->speed = speed;
    self->lockstep = speed == 0;
    self->quiet = quiet;
    self->timer_at = -1;
    int rc = 1;
    char error [WP_EVAL_ERRLEN] = "";
    self->window = window;
    size_t chunk = window > BATCH ? window : BATCH;
    wp_eval_request_t *buffer = (wp_eval_request_t *) malloc (chunk * sizeof *buffer);
    assert (buffer);
    self->catalog = wp_eval_catalog_load (catalog_path, error);
    if (!self->catalog) {
        fprintf (stderr, "warmupctl replay: %s\n", error);
        goto done;
    }
    if (window && wp_eval_catalog_pinned_mb (self->catalog)) {
        //  The scheduler's mirror of the world (wp_simworld) has no pinned
        //  models yet: by windows would not be exact.
        if (window_flag) {
            fprintf (stderr, "warmupctl replay: --window: %s pins models, and a replay by "
                     "windows does not know pins yet (it would not be exact): use "
                     "--per-request\n", catalog_path);
            goto done;
        }
        fprintf (stderr, "replay: %s pins models: a round per request (a replay by windows "
                 "does not know pins yet)\n", catalog_path);
        window = 0;
        self->window = 0;
    }
    self->trace = wp_eval_trace_open (trace_path, format, self->catalog, error);
    if (!self->trace) {
        fprintf (stderr, "warmupctl replay: %s\n", error);
        goto done;
    }
    if (window && wp_eval_trace_has_kinds (self->trace)) {
        //  Intents come between requests, and the scheduler's mirror of the
        //  world serves requests only: a round per event.
        if (window_flag) {
            fprintf (stderr, "warmupctl replay: --window: %s has intents (a kind column), "
                     "and a replay by windows does not carry them: use --per-request\n",
                     trace_path);
            goto done;
        }
        fprintf (stderr, "replay: %s has intents: a round per event (a replay by windows "
                 "does not carry them)\n", trace_path);
        window = 0;
        self->window = 0;
    }
    s_creating = self;
    wp_eval_sim_t *sim = wp_eval_sim_new (self->catalog, (int64_t) budget, &s_live, 0, NULL,
                                          false, error);
    s_creating = NULL;
    if (!sim) {
        fprintf (stderr, "warmupctl replay: %s\n", error);
        goto done;
    }
    self->sim = sim;
    snprintf (self->source, sizeof self->source, "warmupctl-replay/%d", (int) getpid ());
    wp_bus_opts_t opts = { .max_frame = config->max_frame_bytes, .sndhwm = (int) config->hwm,
                           .rcvhwm = (int) config->hwm, .linger_ms = 2000 };
    //  A replay drives the world: it needs an operator's key with CURVE.
    wp_client_keys_t keys;
    if (wp_security_client (config, config->pub_endpoint, config->sub_endpoint,
                            WP_KEYS_OPERATOR, false, &keys, error, sizeof error)) {
        fprintf (stderr, "warmupctl replay: %s\n", error);
        goto done;
    }
    wp_security_bus_opts (&keys, &opts);
    self->bus = wp_bus_new (config->pub_endpoint, config->sub_endpoint, self->source, &opts);
    memset (&keys, 0, sizeof keys);
    if (self->bus) {
        wp_bus_subscribe (self->bus, "clock.ack");
        wp_bus_subscribe (self->bus, "warmup.done");
        wp_bus_subscribe (self->bus, "room.reply");
        wp_bus_subscribe (self->bus, "warmup.requested");
    }
    if (!self->bus || wp_bus_wait_ready (self->bus, (int) config->ready_timeout_ms)) {
        fprintf (stderr, "warmupctl replay: no bus at %s / %s (is warmupd running?)\n",
                 config->pub_endpoint, config->sub_endpoint);
        goto done;
    }
    double started = (double) wp_mono_ns () / 1e9, last_print = started;
    uint64_t requests = 0;
    int64_t last_time = 0, first_time = -1;
    ssize_t n;
    bool first = true;
    uint64_t next_tick_wall = 0;
    while ((n = wp_eval_trace_read (self->trace, buffer,
                                    (ssize_t) (window ? window : BATCH))) > 0) {
        if (first) {
            //  Round zero at the first request's time: every component is
            //  there, and none has replayed before.
            first = false;
            first_time = buffer [0].time;
            if (s_publish_tick (self, first_time, false))
                goto failed;
            self->lockstep = true;
            int round = s_round (self, first_time);
            self->lockstep = speed == 0;
            if (round)
                goto failed;
            for (size_t i = 0; i < self->n_members; i++)
                if (self->members [i].received [WP_TOPIC_USAGE]) {
                    snprintf (self->error, sizeof self->error,
                              "%s has handled usage events before this replay: start the "
                              "service afresh (new --data-dir) for each replay",
                              self->members [i].source);
                    goto failed;
                }
        }
        uint64_t first_seq = self->published [WP_TOPIC_USAGE] + 1;
        if (window) {
            //  By windows: the requests go out without their outcome, then
            //  a round; the world then serves them, applying the
            //  scheduler's decisions where each falls.
            for (ssize_t i = 0; i < n; i++)
                if (s_publish_usage (self, &buffer [i]))
                    goto failed;
            if (s_round (self, buffer [n - 1].time))
                goto failed;
            s_match (self);
        }
        for (ssize_t i = 0; i < n; i++) {
            if (window) {
                self->usage_seq = first_seq + (uint64_t) i;
                if (s_schedule (self, self->usage_seq))
                    goto failed;
            }
            if (!self->lockstep) {
                //  --speed: wait for the request's wall time, ticking.
                uint64_t due = (uint64_t) (started * 1000.0
                             + (double) (buffer [i].time - first_time) / speed);
                for (;;) {
                    uint64_t now = s_mono_ms ();
                    if (now >= next_tick_wall) {
                        int64_t event_ms = first_time
                                         + (int64_t) ((double) (now - (uint64_t) (started * 1000.0))
                                                      * speed);
                        if (event_ms > buffer [i].time)
                            event_ms = buffer [i].time;
                        if (event_ms >= wp_eval_sim_now (sim)
                            && s_publish_tick (self, event_ms, false))
                            goto failed;
                        next_tick_wall = now + SPEED_TICK_MS;
                    }
                    if (now >= due)
                        break;
                    uint64_t wait = due < next_tick_wall ? due - now : next_tick_wall - now;
                    wp_bus_event_t event;
                    int got = wp_bus_recv_wait (self->bus, &event, (int) wait);
                    if (got < 0)
                        goto failed;
                    if (got == 1) {
                        s_handle (self, &event);
                        wp_bus_event_free (&event);
                    }
                }
            }
            if (wp_eval_sim_request (sim, &buffer [i]))
                goto failed;
            requests += buffer [i].kind == 0;
            if (!quiet && (requests & 255) == 0) {
                double now = (double) wp_mono_ns () / 1e9;
                if (now - last_print >= 0.5) {
                    s_progress (self, requests, started, false);
                    last_print = now;
                }
            }
        }
        last_time = buffer [n - 1].time;
        if (window)
            s_compact (self);
    }
    if (n < 0) {
        fprintf (stderr, "warmupctl replay: %s\n", wp_eval_trace_error (self->trace));
        goto done;
    }
    //  The end, as warmup-eval ends it: the timers until the tail.
    self->lockstep = true;
    if (window && first_time >= 0) {
        //  By windows: the scheduler's timers until the tail, then the world.
        if (s_round (self, last_time + WP_EVAL_TAIL_MS))
            goto failed;
        s_match (self);
        if (s_schedule (self, UINT64_MAX))
            goto failed;
    }
    else
    if (first_time >= 0 && s_round (self, wp_eval_sim_now (sim)))
        goto failed;
    if (wp_eval_sim_finish (sim, last_time + WP_EVAL_TAIL_MS))
        goto failed;
    if (window)         //  by windows: every decision was applied
        self->not_applied += self->n_decisions - self->timer_decision;
    double seconds = (double) wp_mono_ns () / 1e9 - started;
    if (!quiet)
        s_progress (self, requests, started, true);
    wp_eval_row_t row = { 0 };
    row.name = "predictive-live";
    row.family = "predictive-live";
    row.knob_name = "threshold";
    row.knob = config->prediction_threshold;
    row.budget_mb = (int64_t) budget;
    wp_eval_sim_metrics (sim, &row.metrics);
    if (json)
        wp_eval_report_json (stdout, trace_path, (int64_t) budget, &row, 1, false);
    else
        wp_eval_report_table (stdout, trace_path, (int64_t) budget, &row, 1);
    fprintf (stderr, "replay: %" PRIu64 " requests in %.2f s (%.0f req/s), %" PRIu64
             " rounds, %s\n", requests, seconds, seconds > 0 ? (double) requests / seconds : 0,
             self->rounds, speed > 0 ? "--speed" : "lock-step");
    if (budget > 0)
        fprintf (stderr, "replay: the scheduler unloaded %" PRIu64 " models to make room "
                 "for cold starts (%" PRIu64 " room.request)\n", self->room_victims,
                 self->rooms);
    if (self->not_applied || self->late_cools)
        fprintf (stderr, "replay: the world could not follow %" PRIu64 " decisions (a warm "
                 "without room, a room victim not idle) and deferred %" PRIu64 " cools of "
                 "models still loading\n", self->not_applied, self->late_cools);
    rc = 0;
    goto done;
failed:
    fprintf (stderr, "%swarmupctl replay: %s\n", quiet ? "" : "\n",
             self->error [0] ? self->error : self->sim ? wp_eval_sim_error (self->sim) : "failed");
done:
    wp_eval_sim_destroy (&self->sim);
    wp_eval_trace_destroy (&self->trace);
    wp_eval_catalog_destroy (&self->catalog);
    wp_bus_destroy (&self->bus);
    free (buffer);
    free (self->decisions);
    free (self->dones);
    free (self->scheduler);
    free (self);
    return rc;
}
