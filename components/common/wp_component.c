/*  =========================================================================
    wp_component - the actor skeleton every component shares, and the thin
    main() of a one-component process.
    =========================================================================
*/
#include <getopt.h>
#include <pthread.h>
#include "wp_component.h"
#include "wp_util.h"

struct _wp_ctx_t {
    const wp_component_def_t *def;  //  the component
    const wp_config_t *config;      //  borrowed configuration
    zsock_t *pipe;                  //  actor pipe
    zloop_t *loop;                  //  event loop
    wp_bus_t *bus;                  //  bus client
    wp_store_t *store;              //  the component's LMDB environment
    void *state;                    //  the component's own state
    char *instance;                 //  instance id
    bool verbose;                   //  log each event
    bool started;                   //  START succeeded
    const char *pub_endpoint;       //  where to publish (borrowed)
    const char *sub_endpoint;       //  where to subscribe (borrowed)
    uint64_t started_ms;            //  wall clock at START
    uint64_t rejected;              //  events rejected by the handlers
    uint64_t persist_errors;        //  failed flushes
};

//  Publish an event.
int
wp_ctx_publish (wp_ctx_t *ctx, wp_topic_t topic, ProtobufCMessage *msg)
{
    assert (ctx && ctx->bus);
    return wp_bus_publish (ctx->bus, topic, msg);
}

//  The store.
wp_store_t *
wp_ctx_store (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->store;
}

//  The configuration.
const wp_config_t *
wp_ctx_config (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->config;
}

//  The loop.
zloop_t *
wp_ctx_loop (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->loop;
}

//  Current time in ms.
uint64_t
wp_ctx_now_ms (wp_ctx_t *ctx)
{
    return wp_wall_us () / 1000;
}

//  Verbose?
bool
wp_ctx_verbose (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->verbose;
}

//  Count a rejected event.
void
wp_ctx_count_rejected (wp_ctx_t *ctx)
{
    assert (ctx);
    ctx->rejected++;
}

//  The component's name.
const char *
wp_ctx_name (wp_ctx_t *ctx)
{
    assert (ctx);
    return ctx->def->name;
}

//  The bus counters.
void
wp_ctx_bus_stats (wp_ctx_t *ctx, wp_bus_stats_t *stats)
{
    assert (ctx && stats);
    wp_bus_stats (ctx->bus, stats);
    stats->gaps += ctx->rejected;
}

//  Publish a heartbeat.
static int
s_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    wp_ctx_t *ctx = (wp_ctx_t *) arg;
    wp_bus_stats_t stats;
    wp_bus_stats (ctx->bus, &stats);
    Warmup__V1__Heartbeat beat = WARMUP__V1__HEARTBEAT__INIT;
    uint64_t now = wp_ctx_now_ms (ctx);
    beat.event_ms = now;
    beat.component = (char *) ctx->def->name;
    beat.instance = ctx->instance;
    beat.pid = (uint32_t) getpid ();
    beat.rss_kb = wp_rss_kb ();
    beat.uptime_ms = now - ctx->started_ms;
    beat.events_in = stats.events_in;
    beat.events_out = stats.events_out + 1;     //  counting this one
    beat.dropped = stats.gaps + stats.bad_frames + ctx->rejected;
    beat.bad_frames = stats.bad_frames;
    beat.persisted = ctx->store ? wp_store_committed (ctx->store) : 0;
    beat.interval_ms = ctx->config->heartbeat_ms;
    if (ctx->def->state_size && ctx->state)
        ctx->def->state_size (ctx->state, &beat.state_bytes, &beat.state_items);
    wp_bus_publish (ctx->bus, WP_TOPIC_HEARTBEAT, &beat.base);
    return 0;
}

//  Write dirty state and commit.
static void
s_persist (wp_ctx_t *ctx)
{
    if (ctx->def->on_persist && ctx->state)
        ctx->def->on_persist (ctx->state, ctx);
    if (ctx->store && wp_store_flush (ctx->store)) {
        ctx->persist_errors++;
        if (wp_log_should (ctx->persist_errors))
            zsys_error ("%s: cannot commit state (will retry)", ctx->def->name);
    }
}

//  Flush timer.
static int
s_flush (zloop_t *loop, int timer_id, void *arg)
{
    s_persist ((wp_ctx_t *) arg);
    return 0;
}

//  Tick timer.
static int
s_tick (zloop_t *loop, int timer_id, void *arg)
{
    wp_ctx_t *ctx = (wp_ctx_t *) arg;
    ctx->def->on_tick (ctx->state, ctx);
    return 0;
}

//  Handle the events waiting on the bus (a bounded batch per wake-up so
//  timers and the pipe are not starved).
static int
s_bus_events (zloop_t *loop, zsock_t *reader, void *arg)
{
    wp_ctx_t *ctx = (wp_ctx_t *) arg;
    wp_bus_event_t event;
    for (int i = 0; i < 1000; i++) {
        if (wp_bus_recv (ctx->bus, &event) != 1)
            break;
        if (ctx->verbose)
            zsys_debug ("%s: %s", ctx->def->name, wp_topic_name (event.topic));
        if (ctx->def->on_event)
            ctx->def->on_event (ctx->state, ctx, event.topic, event.msg);
        wp_bus_event_free (&event);
    }
    return 0;
}

//  Build everything on START. Returns 0, or -1 with reason filled.
static int
s_start (wp_ctx_t *ctx, char *reason, size_t size)
{
    const wp_config_t *config = ctx->config;
    char source [256];
    snprintf (source, sizeof source, "%s/%s", ctx->def->name, ctx->instance);
    wp_bus_opts_t opts = { .max_frame = config->max_frame_bytes,
                           .sndhwm = (int) config->hwm,
                           .rcvhwm = (int) config->hwm };
    ctx->bus = wp_bus_new (ctx->pub_endpoint, ctx->sub_endpoint, source, &opts);
    if (!ctx->bus) {
        snprintf (reason, size, "cannot connect to the bus at %s / %s",
                  ctx->pub_endpoint, ctx->sub_endpoint);
        return -1;
    }
    char *path = zsys_sprintf ("%s/%s", config->data_dir, ctx->def->name);
    if (zsys_dir_create ("%s", config->data_dir) != 0 && !zsys_file_exists (config->data_dir)) {
        snprintf (reason, size, "cannot create data directory %s", config->data_dir);
        zstr_free (&path);
        return -1;
    }
    wp_store_opts_t store_opts = { .batch_max = config->batch_max,
                                   .nosync = config->nosync };
    ctx->store = wp_store_new (path, &store_opts);
    if (!ctx->store) {
        snprintf (reason, size, "cannot open the store at %s", path);
        zstr_free (&path);
        return -1;
    }
    zstr_free (&path);
    ctx->state = ctx->def->create ? ctx->def->create (ctx) : NULL;
    if (ctx->def->create && !ctx->state) {
        snprintf (reason, size, "%s could not initialise (see the log)", ctx->def->name);
        return -1;
    }
    for (int i = 0; ctx->def->topics [i]; i++)
        wp_bus_subscribe (ctx->bus, ctx->def->topics [i]);
    if (wp_bus_wait_ready (ctx->bus, (int) config->ready_timeout_ms)) {
        snprintf (reason, size, "the bus did not answer within %u ms (is the "
                  "proxy running at %s / %s?)", config->ready_timeout_ms,
                  ctx->pub_endpoint, ctx->sub_endpoint);
        return -1;
    }
    ctx->started_ms = wp_ctx_now_ms (ctx);
    zloop_reader (ctx->loop, wp_bus_sub_socket (ctx->bus), s_bus_events, ctx);
    zloop_timer (ctx->loop, config->heartbeat_ms, 0, s_heartbeat, ctx);
    zloop_timer (ctx->loop, config->flush_ms, 0, s_flush, ctx);
    unsigned tick_ms = ctx->def->tick_period ? ctx->def->tick_period (config)
                                             : ctx->def->tick_ms;
    if (ctx->def->on_tick && tick_ms)
        zloop_timer (ctx->loop, tick_ms, 0, s_tick, ctx);
    //  Events that arrived while we waited for readiness.
    s_bus_events (ctx->loop, NULL, ctx);
    s_heartbeat (ctx->loop, 0, ctx);
    ctx->started = true;
    return 0;
}

//  Handle a pipe command; -1 ends the loop.
static int
s_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    wp_ctx_t *ctx = (wp_ctx_t *) arg;
    zmsg_t *request = zmsg_recv (pipe);
    if (!request)
        return -1;
    char *command = zmsg_popstr (request);
    int rc = 0;
    if (!command || streq (command, "$TERM"))
        rc = -1;
    else
    if (streq (command, "START")) {
        char reason [512] = "";
        if (ctx->started)
            zstr_sendx (pipe, "ERROR", "already started", NULL);
        else
        if (s_start (ctx, reason, sizeof reason) == 0)
            zstr_send (pipe, "OK");
        else {
            zsys_error ("%s: %s", ctx->def->name, reason);
            zstr_sendx (pipe, "ERROR", reason, NULL);
        }
    }
    else
    if (streq (command, "STATS")) {
        wp_bus_stats_t stats = { 0 };
        if (ctx->bus)
            wp_bus_stats (ctx->bus, &stats);
        char in [32], out [32], dropped [32], bad [32], persisted [32];
        snprintf (in, sizeof in, "%" PRIu64, stats.events_in);
        snprintf (out, sizeof out, "%" PRIu64, stats.events_out);
        snprintf (dropped, sizeof dropped, "%" PRIu64,
                  stats.gaps + stats.bad_frames + ctx->rejected);
        snprintf (bad, sizeof bad, "%" PRIu64, stats.bad_frames);
        snprintf (persisted, sizeof persisted, "%" PRIu64,
                  ctx->store ? wp_store_committed (ctx->store) : 0);
        zstr_sendx (pipe, "OK", in, out, dropped, bad, persisted, NULL);
    }
    else {
        zsys_error ("%s: unknown command '%s'", ctx->def->name, command);
        zstr_sendx (pipe, "ERROR", "unknown command", NULL);
    }
    zstr_free (&command);
    zmsg_destroy (&request);
    return rc;
}

//  Run a component's actor.
void
wp_component_run (zsock_t *pipe, const wp_component_def_t *def,
                  const wp_component_args_t *args)
{
    //  Name the thread after the component (top, perf, gdb show it).
    pthread_setname_np (pthread_self (), def->name);
    wp_ctx_t ctx = { 0 };
    ctx.def = def;
    ctx.config = args->config;
    ctx.pub_endpoint = args->pub_endpoint ? args->pub_endpoint : args->config->pub_endpoint;
    ctx.sub_endpoint = args->sub_endpoint ? args->sub_endpoint : args->config->sub_endpoint;
    ctx.pipe = pipe;
    ctx.verbose = args->verbose;
    if (args->instance)
        ctx.instance = strdup (args->instance);
    else {
        char host [128] = "localhost";
        gethostname (host, sizeof host - 1);
        ctx.instance = zsys_sprintf ("%s:%d", host, (int) getpid ());
    }
    ctx.loop = zloop_new ();
    assert (ctx.loop);
    //  Only $TERM ends the actor: the owner decides what a signal means.
    zloop_set_nonstop (ctx.loop, true);
    zloop_reader (ctx.loop, pipe, s_pipe, &ctx);
    zsock_signal (pipe, 0);

    zloop_start (ctx.loop);

    if (ctx.started)
        s_persist (&ctx);
    if (def->destroy && ctx.state)
        def->destroy (&ctx.state);
    zloop_destroy (&ctx.loop);
    wp_store_destroy (&ctx.store);
    wp_bus_destroy (&ctx.bus);
    free (ctx.instance);
}

//  The actor of any component.
void
wp_component_actor (zsock_t *pipe, void *args)
{
    wp_component_start_t start = *(wp_component_start_t *) args;
    wp_component_run (pipe, start.def, &start.args);
}

//  Component by name.
const wp_component_def_t *
wp_component_find (const char *name)
{
    for (int i = 0; wp_components [i]; i++)
        if (streq (wp_components [i]->name, name))
            return wp_components [i];
    return NULL;
}

//  Start a component actor and START it.
zactor_t *
wp_component_start (const wp_component_def_t *def, const wp_component_args_t *args)
{
    wp_component_start_t start = { def, *args };
    zactor_t *actor = zactor_new (wp_component_actor, &start);
    if (!actor)
        return NULL;
    zstr_send (actor, "START");
    char *status = NULL, *reason = NULL;
    if (zstr_recvx (actor, &status, &reason, NULL) < 1 || !streq (status, "OK")) {
        zsys_error ("%s: failed to start: %s", def->name, reason ? reason : "no reply");
        zstr_free (&status);
        zstr_free (&reason);
        zactor_destroy (&actor);
        return NULL;
    }
    zstr_free (&status);
    zstr_free (&reason);
    return actor;
}

//  Print the usage of a program.
static void
s_usage (const char *program, const char *extra)
{
    fprintf (stderr,
        "usage: %s [options]%s\n"
        "  -c, --config FILE        ZPL configuration file (default: built-in defaults)\n"
        "  --data-dir DIR           where LMDB state lives (default ./var)\n"
        "  --pub-endpoint EP        where publishers connect (default tcp://127.0.0.1:5701)\n"
        "  --sub-endpoint EP        where subscribers connect (default tcp://127.0.0.1:5702)\n"
        "  --instance ID            instance id in heartbeats (default host:pid)\n"
        "  --metrics-listen H:P     metrics HTTP endpoint (default 127.0.0.1:9464;\n"
        "                           port 0 picks a free port; off = none)\n"
        "  -v, --verbose            log each event\n"
        "  -h, --help               this help\n", program, extra ? extra : "");
}

//  Parse the common flags.
wp_config_t *
wp_component_parse_args (int argc, char **argv, const char *program,
                         const char *extra_usage, bool *verbose,
                         const char **instance, char ***rest, int *n_rest)
{
    const char *config_path = NULL, *data_dir = NULL, *pub = NULL, *sub = NULL;
    const char *metrics_listen = NULL;
    *verbose = false;
    *instance = NULL;
    *n_rest = 0;
    *rest = (char **) calloc ((size_t) argc + 1, sizeof (char *));
    assert (*rest);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        const char **target = NULL;
        if (streq (arg, "-c") || streq (arg, "--config"))
            target = &config_path;
        else
        if (streq (arg, "--data-dir"))
            target = &data_dir;
        else
        if (streq (arg, "--pub-endpoint"))
            target = &pub;
        else
        if (streq (arg, "--sub-endpoint"))
            target = &sub;
        else
        if (streq (arg, "--instance"))
            target = instance;
        else
        if (streq (arg, "--metrics-listen"))
            target = &metrics_listen;
        else
        if (streq (arg, "-v") || streq (arg, "--verbose")) {
            *verbose = true;
            continue;
        }
        else
        if (streq (arg, "-h") || streq (arg, "--help")) {
            s_usage (program, extra_usage);
            free (*rest);
            *rest = NULL;
            return NULL;
        }
        else {
            (*rest) [(*n_rest)++] = argv [i];
            continue;
        }
        if (i + 1 >= argc) {
            fprintf (stderr, "%s: %s needs a value\n", program, arg);
            free (*rest);
            *rest = NULL;
            return NULL;
        }
        *target = argv [++i];
    }
    wp_config_t *config = config_path ? wp_config_load (config_path) : wp_config_new ();
    if (!config) {
        fprintf (stderr, "%s: configuration rejected (see above)\n", program);
        free (*rest);
        *rest = NULL;
        return NULL;
    }
    if (data_dir)
        wp_config_set_string (config, "data_dir", data_dir);
    if (pub)
        wp_config_set_string (config, "pub_endpoint", pub);
    if (sub)
        wp_config_set_string (config, "sub_endpoint", sub);
    if (metrics_listen)
        wp_config_set_string (config, "metrics_listen", metrics_listen);
    return config;
}

//  Wait for a signal or an actor's death.
int
wp_component_wait (zactor_t **actors, size_t n_actors)
{
    zpoller_t *poller = zpoller_new (NULL);
    for (size_t i = 0; i < n_actors; i++)
        if (actors [i])
            zpoller_add (poller, actors [i]);
    int rc = 0;
    while (!zsys_interrupted) {
        void *which = zpoller_wait (poller, 1000);
        if (which) {
            //  An actor only talks on its own when it is ending.
            zsys_error ("a component ended unexpectedly");
            rc = -1;
            break;
        }
        if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    return rc;
}

//  main() of a one-component process.
int
wp_component_main (int argc, char **argv, const char *name)
{
    char program [64];
    snprintf (program, sizeof program, "warmup-%s", name);
    zsys_init ();
    zsys_set_logident (program);
    bool verbose;
    const char *instance;
    char **rest;
    int n_rest;
    wp_config_t *config = wp_component_parse_args (argc, argv, program, NULL,
                                                   &verbose, &instance, &rest, &n_rest);
    if (!config)
        return 2;
    if (n_rest > 0) {
        fprintf (stderr, "%s: unexpected argument '%s' (see --help)\n", program, rest [0]);
        free (rest);
        wp_config_destroy (&config);
        return 2;
    }
    free (rest);
    const wp_component_def_t *def = wp_component_find (name);
    assert (def);
    wp_component_args_t args = { config, instance, verbose, NULL, NULL };
    zactor_t *actor = wp_component_start (def, &args);
    if (!actor) {
        wp_config_destroy (&config);
        return 1;
    }
    printf ("%s: %s ready (pub=%s sub=%s data=%s)\n", program, def->title,
            config->pub_endpoint, config->sub_endpoint, config->data_dir);
    fflush (stdout);
    int rc = wp_component_wait (&actor, 1);
    zactor_destroy (&actor);
    wp_config_destroy (&config);
    return rc ? 1 : 0;
}
