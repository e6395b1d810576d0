/*  =========================================================================
    iload - a steady usage load for integration tests: a thread publishing
    usage.observed at a fixed rate through the deployment's bus, each
    event's user and model chosen by the test (by the event's number).
    =========================================================================
*/
#ifndef ILOAD_H_INCLUDED
#define ILOAD_H_INCLUDED

#include "itest.h"
#include <pthread.h>
#include <stdatomic.h>

//  Fills user and model (32 bytes each) of event number n (called in
//  order, just before the event is published), with the load's arg.
typedef void (iload_pick_fn) (uint64_t n, char *user, char *model, void *arg);

//  The load. Set it, iload_start, later iload_stop.
typedef struct {
    itest_t *it;                //  the deployment
    unsigned rate;              //  events per second
    iload_pick_fn *pick;        //  who asks for what
    void *arg;                  //  for pick
    atomic_bool stop;           //  set by iload_stop
    atomic_uint_fast64_t sent;  //  events published so far
    pthread_t thread;
} iload_t;

//  The thread: publish at rate, paced on the monotonic clock.
static inline void *
iload_run (void *arg)
{
    iload_t *load = (iload_t *) arg;
    char source [64];
    snprintf (source, sizeof source, "iload/%d", (int) getpid ());
    wp_bus_opts_t opts = { .sndhwm = 100000 };
    wp_bus_t *bus = wp_bus_new (load->it->pub, load->it->sub, source, &opts);
    assert (bus);
    wp_bus_wait_ready (bus, 2000);  //  the bus may be down: publish anyway
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    char user [32], model [32];
    usage.user = user;
    usage.model = model;
    usage.task = WARMUP__V1__TASK__TASK_COMPLETION;
    uint64_t mine = 0;
    int64_t started = zclock_mono ();
    while (!atomic_load (&load->stop)) {
        int64_t due = started + (int64_t) (mine * 1000 / load->rate);
        if (due > zclock_mono ()) {
            zclock_sleep ((int) (due - zclock_mono ()));    //  pacing, not sync
            continue;
        }
        load->pick (mine, user, model, load->arg);
        usage.event_ms = wp_wall_us () / 1000;
        wp_bus_publish (bus, WP_TOPIC_USAGE, &usage.base);
        mine++;
        atomic_store (&load->sent, mine);
    }
    wp_bus_destroy (&bus);
    return NULL;
}

//  Start the load's thread.
static inline void
iload_start (iload_t *load)
{
    atomic_store (&load->stop, false);
    atomic_store (&load->sent, 0);
    assert_int_equal (pthread_create (&load->thread, NULL, iload_run, load), 0);
}

//  Stop it; returns the events sent.
static inline uint64_t
iload_stop (iload_t *load)
{
    atomic_store (&load->stop, true);
    pthread_join (load->thread, NULL);
    return (uint64_t) atomic_load (&load->sent);
}

#endif
