/*  =========================================================================
    warmupctl - talk to a running warmup service over its bus.

        warmupctl [endpoint flags] emit --user U --model M [--task T]
                  [--language L] [--session S] [--file-type F]
                  [--outcome warm|delayed|cold] [--wait-ms N] [--at MS]
        warmupctl [endpoint flags] intent --user U --kind K [--model M]
                  [--language L] [--session S] [--file-type F] [--task T]
                  [--at MS]
        warmupctl [endpoint flags] ingest --format continue|tabby [--follow]
                  [--user U] [--model M] [--rate N] [--from-start] [PATH...]
        warmupctl [endpoint flags] tail [--topic PREFIX] [--count N]
                  [--timeout S] [--json | --text]
        warmupctl [endpoint flags] status [--require all|NAME,...]
                  [--timeout S] [--json]
        warmupctl [endpoint flags] warm|cool MODEL [--timeout S] [--no-wait]
        warmupctl [endpoint flags] metrics [--timeout S] [--json]
        warmupctl [endpoint flags] replay --trace FILE --catalog FILE
                  --budget-mb N [--speed X | --lockstep] [--json]
        warmupctl [endpoint flags] pin|unpin MODEL [--timeout S]
        warmupctl [endpoint flags] reload [--expect N] [--timeout S]
        warmupctl [endpoint flags] models [--timeout S] [--json]
        warmupctl [endpoint flags] model load FILE [--timeout S]
        warmupctl model show FILE
        warmupctl train --trace FILE --catalog FILE --out FILE [...]
        warmupctl keygen DIR [--name NAME]
        warmupctl [-c FILE | --data-dir DIR] audit [--since T] [--model M]
                  [--kind K] [--json]
    =========================================================================
*/
#include "wp_component.h"
#include "wp_security.h"
#include "wp_audit.h"
#include "wp_ctl.h"
#include "wp_ingest.h"
#include "wp_json.h"
#include "wp_intent.h"
#include "wp_jval.h"
#include "wp_pattern_wire.h"
#include "wp_util.h"
#include "wp_engine_file.h"
#ifdef WP_HAVE_REPLAY
#include "wp_replay.h"
#include "wp_train.h"
#endif
#include <math.h>
#include <sys/stat.h>

static const char *s_usage =
    " COMMAND ...\n"
    "commands:\n"
    "  emit --user U --model M [--task T] [--language L] [--session S]\n"
    "       [--file-type F] [--outcome warm|delayed|cold] [--wait-ms N] [--at MS]\n"
    "      publish one usage event (T: completion chat embedding rerank edit review;\n"
    "      MS: event time in ms since the epoch, default now)\n"
    "  intent --user U --kind K [--model M] [--language L] [--session S]\n"
    "         [--file-type F] [--task T] [--at MS]\n"
    "      publish one intent: a sign that U is about to need a model (K:\n"
    "      chat.opened typing.started file.opened editor.focused\n"
    "      review.requested, or another name of [a-z0-9._-]; M: the model\n"
    "      expected, a hint)\n"
    "  ingest --format continue|tabby [--follow] [--user U] [--model M] [--rate N]\n"
    "         [--from-start] [PATH...]\n"
    "      publish the requests Continue's dev data or Tabby's event log record,\n"
    "      once or following the files (ingest --help)\n"
    "  tail [--topic PREFIX] [--count N] [--timeout S] [--json | --text]\n"
    "      print bus events as JSON lines (default) or short text lines; stop\n"
    "      after N events or S seconds\n"
    "      (exit 1 when --count was not reached in time)\n"
    "  status [--require all|NAME,...] [--timeout S] [--json]\n"
    "      list live components from their heartbeats (listens S s, default 2.5,\n"
    "      the bus included); with --require exit 0 as soon as each named\n"
    "      component (or all seven; bus: the bus itself) has a heartbeat, 1\n"
    "      naming the missing ones after S s; --json: one object for scripts\n"
    "  warm MODEL | cool MODEL [--timeout S] [--no-wait]\n"
    "      ask for a warm or cool and wait for its warmup.done (default 60 s)\n"
    "  metrics [--timeout S] [--json]\n"
    "      wait for the next metrics.snapshot on the bus (default 5 s) and print\n"
    "      a summary (or the event as JSON)\n"
    "  replay --trace FILE [--format csv|azure] --catalog FILE --budget-mb N\n"
    "         [--speed X | --lockstep] [--json] [--quiet]\n"
    "      replay a trace through a service started with --replay, in event time,\n"
    "      and print its EVAL.md metrics (replay --help)\n"
    "  pin MODEL | unpin MODEL [--timeout S]\n"
    "      pin: warm the model now and never cool it; unpin: manage it like any\n"
    "      other again (until a reload changes its pin key, or a restart)\n"
    "  reload [--expect N] [--timeout S]\n"
    "      re-read the configuration file of the running service (as SIGHUP\n"
    "      does); a bad file is rejected whole and the running one stays.\n"
    "      N: answers to wait for (one per process started with -c; default 1)\n"
    "  models [--timeout S] [--json]\n"
    "      every model the scheduler knows: state, pin, memory, last use,\n"
    "      current prediction and the reason of its last decision\n"
    "  (pin, unpin, reload, models wait S s for the answer, default 10; exit 1\n"
    "   when the service refused or did not answer)\n"
    "  train --trace FILE --catalog FILE --out FILE [--price W] [--from-ms N]\n"
    "        [--until-ms N] [--merge]\n"
    "      learn what the engine learns of all pairs from a trace (as warmup-eval's\n"
    "      predictive replays it) into a model file (train --help)\n"
    "  model show FILE | model load FILE [--timeout S]\n"
    "      print a model file; install it in the running engine at once (no\n"
    "      restart; refused whole with the reason if it is bad)\n"
    "  keygen DIR [--name NAME]\n"
    "      write a CURVE key pair: DIR/NAME.key (public: put it in the service's\n"
    "      bus/allowed_keys or bus/operator_keys directory) and DIR/NAME.key_secret\n"
    "      (0600; point bus/client_key or --client-key at DIR/NAME.key); NAME\n"
    "      defaults to client\n"
    "  audit [--since T] [--model M] [--kind K] [--json]\n"
    "      the audit log of the service's data directory (-c, --data-dir or\n"
    "      WARMUP_DATA_DIR): decisions, warmups done, controls, refusals; T is\n"
    "      10m, 2h, 1d ago, an ISO time (2026-01-31T12:00:00Z) or epoch seconds\n"
    "      or ms; K is decision, done, control, reply, refused, deferred, ...\n";

//  Parse a non-negative number argument strictly.
static int
s_number (const char *flag, const char *text, double max, double *value)
{
    return wp_ctl_number (flag, text, max, value);
}

//  A connected bus client, ready within ready_ms; NULL after printing why.
static wp_bus_t *
s_connect (const wp_config_t *config, const char *role, const char **topics, int ready_ms)
{
    return wp_ctl_connect (config, role, topics, ready_ms);
}

//  Enum value by its short name ("chat" -> TASK_CHAT), or -1.
static int
s_enum (const ProtobufCEnumDescriptor *desc, const char *prefix, const char *name)
{
    char full [64];
    snprintf (full, sizeof full, "%s%s", prefix, name);
    for (char *p = full; *p; p++)
        *p = (char) toupper ((unsigned char) *p);
    const ProtobufCEnumValue *value = protobuf_c_enum_descriptor_get_value_by_name (desc, full);
    return value && value->value != 0 ? value->value : -1;
}

//  emit
static int
s_emit (const wp_config_t *config, int argc, char **argv)
{
    Warmup__V1__UsageObserved usage = WARMUP__V1__USAGE_OBSERVED__INIT;
    double number;
    for (int i = 0; i < argc; i++) {
        const char *flag = argv [i];
        const char *value = i + 1 < argc ? argv [i + 1] : NULL;
        if (!value) {
            fprintf (stderr, "warmupctl emit: %s needs a value\n", flag);
            return 2;
        }
        i++;
        if (streq (flag, "--user"))
            usage.user = (char *) value;
        else
        if (streq (flag, "--model"))
            usage.model = (char *) value;
        else
        if (streq (flag, "--session"))
            usage.session = (char *) value;
        else
        if (streq (flag, "--language"))
            usage.language = (char *) value;
        else
        if (streq (flag, "--file-type"))
            usage.file_type = (char *) value;
        else
        if (streq (flag, "--task")) {
            int task = s_enum (&warmup__v1__task__descriptor, "TASK_", value);
            if (task < 0) {
                fprintf (stderr, "warmupctl emit: unknown --task '%s' (completion chat "
                         "embedding rerank edit review)\n", value);
                return 2;
            }
            usage.task = (Warmup__V1__Task) task;
        }
        else
        if (streq (flag, "--outcome")) {
            int outcome = s_enum (&warmup__v1__outcome__descriptor, "OUTCOME_", value);
            if (outcome < 0) {
                fprintf (stderr, "warmupctl emit: unknown --outcome '%s' (warm delayed cold)\n",
                         value);
                return 2;
            }
            usage.outcome = (Warmup__V1__Outcome) outcome;
        }
        else
        if (streq (flag, "--wait-ms")) {
            if (s_number (flag, value, 86400000, &number))
                return 2;
            usage.wait_ms = (uint32_t) number;
        }
        else
        if (streq (flag, "--at")) {
            if (s_number (flag, value, 9e15, &number))
                return 2;
            usage.event_ms = (uint64_t) number;
        }
        else {
            fprintf (stderr, "warmupctl emit: unknown flag '%s'\n", flag);
            return 2;
        }
    }
    if (!usage.user || !*usage.user || !usage.model || !*usage.model) {
        fprintf (stderr, "warmupctl emit: --user and --model are required\n");
        return 2;
    }
    if (!usage.event_ms)
        usage.event_ms = wp_wall_us () / 1000;
    wp_bus_t *bus = s_connect (config, "emit", NULL, (int) config->ready_timeout_ms);
    if (!bus)
        return 1;
    int rc = wp_bus_publish (bus, WP_TOPIC_USAGE, &usage.base);
    wp_bus_destroy (&bus);     //  lingers until the event is sent
    return rc ? 1 : 0;
}

//  intent
static int
s_intent (const wp_config_t *config, int argc, char **argv)
{
    Warmup__V1__UsageIntent intent = WARMUP__V1__USAGE_INTENT__INIT;
    double number;
    for (int i = 0; i < argc; i++) {
        const char *flag = argv [i];
        const char *value = i + 1 < argc ? argv [i + 1] : NULL;
        if (!value) {
            fprintf (stderr, "warmupctl intent: %s needs a value\n", flag);
            return 2;
        }
        i++;
        if (streq (flag, "--user"))
            intent.user = (char *) value;
        else
        if (streq (flag, "--kind"))
            intent.kind = (char *) value;
        else
        if (streq (flag, "--model"))
            intent.model = (char *) value;
        else
        if (streq (flag, "--session"))
            intent.session = (char *) value;
        else
        if (streq (flag, "--language"))
            intent.language = (char *) value;
        else
        if (streq (flag, "--file-type"))
            intent.file_type = (char *) value;
        else
        if (streq (flag, "--task")) {
            int task = s_enum (&warmup__v1__task__descriptor, "TASK_", value);
            if (task < 0) {
                fprintf (stderr, "warmupctl intent: unknown --task '%s' (completion chat "
                         "embedding rerank edit review)\n", value);
                return 2;
            }
            intent.task = (Warmup__V1__Task) task;
        }
        else
        if (streq (flag, "--at")) {
            if (s_number (flag, value, 9e15, &number))
                return 2;
            intent.event_ms = (uint64_t) number;
        }
        else {
            fprintf (stderr, "warmupctl intent: unknown flag '%s'\n", flag);
            return 2;
        }
    }
    if (!intent.user || !*intent.user || !intent.kind) {
        fprintf (stderr, "warmupctl intent: --user and --kind are required\n");
        return 2;
    }
    if (!wp_intent_kind_ok (intent.kind)) {
        fprintf (stderr, "warmupctl intent: bad --kind '%s': 1..%d characters of "
                 "[a-z0-9._-], e.g. chat.opened\n", intent.kind, WP_INTENT_KIND_MAX);
        return 2;
    }
    if (!intent.event_ms)
        intent.event_ms = wp_wall_us () / 1000;
    wp_bus_t *bus = s_connect (config, "intent", NULL, (int) config->ready_timeout_ms);
    if (!bus)
        return 1;
    int rc = wp_bus_publish (bus, WP_TOPIC_INTENT, &intent.base);
    wp_bus_destroy (&bus);     //  lingers until the event is sent
    return rc ? 1 : 0;
}

//  One event as a short line for people (tail --text).
static void
s_print_text (wp_topic_t topic, const ProtobufCMessage *msg)
{
    const Warmup__V1__Header *header = wp_bus_header (msg);
    printf ("%-17s %-24s ", wp_topic_name (topic), header->source);
    switch (topic) {
        case WP_TOPIC_USAGE: {
            const Warmup__V1__UsageObserved *e = (const Warmup__V1__UsageObserved *) msg;
            const ProtobufCEnumValue *task = protobuf_c_enum_descriptor_get_value (
                &warmup__v1__task__descriptor, e->task);
            printf ("user=%s model=%s task=%s", e->user, e->model,
                    task ? task->name + 5 : "?");
            break;
        }
        case WP_TOPIC_INTENT: {
            const Warmup__V1__UsageIntent *e = (const Warmup__V1__UsageIntent *) msg;
            printf ("user=%s kind=%s%s%s%s%s", e->user, e->kind, *e->model ? " model=" : "",
                    e->model, *e->language ? " language=" : "", e->language);
            break;
        }
        case WP_TOPIC_PATTERN: {
            const Warmup__V1__UsagePattern *e = (const Warmup__V1__UsagePattern *) msg;
            static wp_pattern_t pair;
            char error [160] = "";
            printf ("user=%s", e->user);
            if (wp_pattern_wire_read (e, &pair, error, sizeof error) == 0) {
                printf (" model=%s n=%" PRIu64 " rate=%.1f/h idle=%.1f links=%u",
                        pair.model, pair.count, pair.rate_per_h, pair.hist_total,
                        (unsigned) (pair.n_next + pair.n_next2 + pair.n_couse));
            }
            else
                printf (" (malformed: %s)", error);
            break;
        }
        case WP_TOPIC_PREDICTION: {
            const Warmup__V1__PredictionMade *e = (const Warmup__V1__PredictionMade *) msg;
            printf ("user=%s horizon=%us", e->user, e->horizon_s);
            for (size_t i = 0; i < e->n_models && i < 4; i++)
                printf (" %s=%.2f", e->models [i]->model, e->models [i]->probability);
            printf (" (%u us)", e->compute_us);
            break;
        }
        case WP_TOPIC_WARMUP_REQUEST: {
            const Warmup__V1__WarmupRequested *e = (const Warmup__V1__WarmupRequested *) msg;
            printf ("%s %s: %s", e->action == WARMUP__V1__ACTION__ACTION_COOL ? "cool" : "warm",
                    e->model, e->reason);
            break;
        }
        case WP_TOPIC_WARMUP_DONE: {
            const Warmup__V1__WarmupDone *e = (const Warmup__V1__WarmupDone *) msg;
            printf ("%s %s %s in %u ms via %s%s%s",
                    e->action == WARMUP__V1__ACTION__ACTION_COOL ? "cool" : "warm", e->model,
                    e->ok ? "ok" : "FAILED", e->duration_ms, e->backend,
                    e->ok ? "" : ": ", e->ok ? "" : e->error);
            break;
        }
        case WP_TOPIC_RESOURCE: {
            const Warmup__V1__ResourceStatus *e = (const Warmup__V1__ResourceStatus *) msg;
            printf ("mem %" PRIu64 "/%" PRIu64 " MiB free, cpu %.0f%%, warm %u models "
                    "%" PRIu64 "/%" PRIu64 " MiB%s, admit=%s", e->mem_available_mb,
                    e->mem_total_mb, e->cpu_percent, e->warm_models, e->warm_memory_mb,
                    e->budget_mb, e->memory_auto ? " (auto)" : "", e->admit ? "yes" : "no");
            for (size_t i = 0; i < e->n_devices; i++)
                if (e->devices [i]->device && !streq (e->devices [i]->device, "ram"))
                    printf (", %s %" PRIu64 "/%" PRIu64 " MiB used (ours %" PRIu64 ", others %"
                            PRIu64 ", leaves %" PRIu64 ")", e->devices [i]->device,
                            e->devices [i]->used_mb, e->devices [i]->total_mb,
                            e->devices [i]->ours_mb, e->devices [i]->others_mb,
                            e->devices [i]->capacity_mb);
            if (e->vram_budget_mb)
                printf (", GPU budget %" PRIu64 " MiB%s", e->vram_budget_mb,
                        e->vram_auto ? " (auto)" : "");
            break;
        }
        case WP_TOPIC_WARMUP_DEFERRED: {
            const Warmup__V1__WarmupDeferred *e = (const Warmup__V1__WarmupDeferred *) msg;
            printf ("%s %s: %s", e->model, e->waits ? "waits" : "no longer waits", e->reason);
            break;
        }
        case WP_TOPIC_PERF: {
            const Warmup__V1__PerfEstimate *e = (const Warmup__V1__PerfEstimate *) msg;
            printf ("%s load p50=%.0f p90=%.0f ms over %" PRIu64 " loads", e->model,
                    e->load_ms_p50, e->load_ms_p90, e->samples);
            if (e->learned_mb)
                printf (", takes %u MiB (%u on GPUs, %s)", e->learned_mb, e->learned_vram_mb,
                        e->learned_from);
            break;
        }
        case WP_TOPIC_METRICS: {
            const Warmup__V1__MetricsSnapshot *e = (const Warmup__V1__MetricsSnapshot *) msg;
            printf ("requests=%" PRIu64 " cold=%" PRIu64 " predictions=%" PRIu64
                    " latency p50=%" PRIu64 " p99=%" PRIu64 " us warmups=%" PRIu64,
                    e->requests, e->cold_starts, e->predictions, e->latency_p50_us,
                    e->latency_p99_us, e->warmups_ok);
            break;
        }
        case WP_TOPIC_HEARTBEAT: {
            const Warmup__V1__Heartbeat *e = (const Warmup__V1__Heartbeat *) msg;
            printf ("%s rss=%.1f MiB in=%" PRIu64 " out=%" PRIu64 " dropped=%" PRIu64,
                    e->component, e->rss_kb / 1024.0, e->events_in, e->events_out,
                    e->dropped);
            break;
        }
        case WP_TOPIC_CONTROL: {
            const Warmup__V1__ControlRequest *e = (const Warmup__V1__ControlRequest *) msg;
            const ProtobufCEnumValue *command = protobuf_c_enum_descriptor_get_value (
                &warmup__v1__command__descriptor, e->command);
            printf ("%s %s id=%s", command ? command->name + 8 : "?", e->model, e->request_id);
            break;
        }
        case WP_TOPIC_CONTROL_REPLY: {
            const Warmup__V1__ControlReply *e = (const Warmup__V1__ControlReply *) msg;
            printf ("%s id=%s %s%s", e->component, e->request_id, e->ok ? "ok: " : "FAILED: ",
                    e->ok ? e->message : e->error);
            break;
        }
        default:
            break;
    }
    printf ("\n");
}

//  tail
static int
s_tail (const wp_config_t *config, int argc, char **argv)
{
    const char *topic = "";
    double count = 0, timeout = 0;
    bool text = false;
    for (int i = 0; i < argc; i++) {
        const char *flag = argv [i];
        if (streq (flag, "--json")) {
            text = false;
            continue;
        }
        if (streq (flag, "--text")) {
            text = true;
            continue;
        }
        const char *value = i + 1 < argc ? argv [++i] : NULL;
        if (!value) {
            fprintf (stderr, "warmupctl tail: %s needs a value\n", flag);
            return 2;
        }
        if (streq (flag, "--topic"))
            topic = value;
        else
        if (streq (flag, "--count")) {
            if (s_number (flag, value, 1e12, &count))
                return 2;
        }
        else
        if (streq (flag, "--timeout")) {
            if (s_number (flag, value, 1e7, &timeout))
                return 2;
        }
        else {
            fprintf (stderr, "warmupctl tail: unknown flag '%s'\n", flag);
            return 2;
        }
    }
    const char *topics [] = { topic, NULL };
    wp_bus_t *bus = s_connect (config, "tail", topics, (int) config->ready_timeout_ms);
    if (!bus)
        return 1;
    fprintf (stderr, "warmupctl: tail ready\n");
    fflush (stderr);
    int64_t deadline = timeout > 0 ? zclock_mono () + (int64_t) (timeout * 1000) : INT64_MAX;
    uint64_t seen = 0;
    int rc = 0;
    while (count == 0 || seen < (uint64_t) count) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0) {
            rc = count > 0 ? 1 : 0;
            break;
        }
        wp_bus_event_t event;
        int got = wp_bus_recv_wait (bus, &event, left > 500 ? 500 : (int) left);
        if (got < 0)
            break;
        if (got == 0)
            continue;
        if (text)
            s_print_text (event.topic, event.msg);
        else {
            char *json = wp_json_event (wp_topic_name (event.topic), event.msg);
            printf ("%s\n", json);
            free (json);
        }
        fflush (stdout);
        wp_bus_event_free (&event);
        seen++;
    }
    wp_bus_destroy (&bus);
    return rc;
}

#define S_REQUIRE_MAX 32        //  names status --require takes at most

//  The names --require accepts after "all" expanded: component names and
//  "bus" (the probe came back through the proxy). Fills want (room for
//  S_REQUIRE_MAX + 1, NULL-ended, borrowed from the table or argv);
//  returns 0, or -1 after printing.
static int
s_require_parse (char *list, const char **want)
{
    size_t n = 0;
    for (char *name = strtok (list, ","); name; name = strtok (NULL, ",")) {
        while (*name == ' ')
            name++;
        const char *names [S_REQUIRE_MAX] = { NULL };
        size_t k = 0;
        if (streq (name, "all"))
            for (int i = 0; wp_components [i] && k < S_REQUIRE_MAX; i++)
                names [k++] = wp_components [i]->name;
        else
        if (streq (name, "bus") || wp_component_find (name))
            names [k++] = name;
        else {
            fprintf (stderr, "warmupctl status: --require: unknown component '%s' "
                     "(all, bus", name);
            for (int i = 0; wp_components [i]; i++)
                fprintf (stderr, ", %s", wp_components [i]->name);
            fprintf (stderr, ")\n");
            return -1;
        }
        for (size_t i = 0; i < k; i++) {
            bool dup = false;
            for (size_t j = 0; j < n; j++)
                dup = dup || streq (want [j], names [i]);
            if (!dup && n < S_REQUIRE_MAX)
                want [n++] = names [i];
        }
    }
    if (n == 0) {
        fprintf (stderr, "warmupctl status: --require needs all or NAME,...\n");
        return -1;
    }
    want [n] = NULL;
    return 0;
}

//  True when a heartbeat of component `name` was seen (bus: the client is
//  connected).
static bool
s_seen (zhashx_t *latest, bool bus, const char *name)
{
    if (streq (name, "bus"))
        return bus;
    for (const char *line = (const char *) zhashx_first (latest); line;
         line = (const char *) zhashx_next (latest)) {
        const char *component = (const char *) zhashx_cursor (latest);
        size_t len = strlen (name);
        if (strncmp (component, name, len) == 0 && component [len] == '/')
            return true;
    }
    return false;
}

//  status
static int
s_status (const wp_config_t *config, int argc, char **argv)
{
    double timeout = 2.5;
    bool json = false;
    const char *want [S_REQUIRE_MAX + 1] = { NULL };
    for (int i = 0; i < argc; i++) {
        if (streq (argv [i], "--timeout") && i + 1 < argc) {
            if (s_number ("--timeout", argv [++i], 3600, &timeout))
                return 2;
        }
        else
        if (streq (argv [i], "--require") && i + 1 < argc) {
            if (s_require_parse (argv [++i], want))
                return 2;
        }
        else
        if (streq (argv [i], "--json"))
            json = true;
        else {
            fprintf (stderr, "warmupctl status: unknown flag '%s'\n", argv [i]);
            return 2;
        }
    }
    //  The whole command, bus included, takes at most the timeout.
    int64_t deadline = zclock_mono () + (int64_t) (timeout * 1000);
    const char *topics [] = { "heartbeat", NULL };
    int ready_ms = (int) (timeout * 1000);
    wp_bus_t *bus = s_connect (config, "status", topics,
                               ready_ms < (int) config->ready_timeout_ms
                               ? ready_ms : (int) config->ready_timeout_ms);
    //  source -> the heartbeat as JSON (--json) or a table line; sources
    //  are "<component>/<instance>".
    zhashx_t *latest = zhashx_new ();
    zhashx_set_destructor (latest, (zhashx_destructor_fn *) zstr_free);
    while (bus && zclock_mono () < deadline && !zsys_interrupted) {
        bool all_seen = want [0] != NULL;
        for (int i = 0; want [i] && all_seen; i++)
            all_seen = s_seen (latest, true, want [i]);
        if (all_seen)
            break;              //  what was asked for is there: answer now
        wp_bus_event_t event;
        int64_t left = deadline - zclock_mono ();
        if (wp_bus_recv_wait (bus, &event, (int) (left > 0 ? left : 0)) != 1)
            continue;
        const Warmup__V1__Heartbeat *beat = (const Warmup__V1__Heartbeat *) event.msg;
        //  Where the drops are: sequence gaps by topic, store writes refused
        char detail [400] = "";
        for (size_t i = 0; i < beat->n_dropped_topics; i++) {
            size_t used = strlen (detail);
            snprintf (detail + used, sizeof detail - used, "%s%s=%" PRIu64, used ? " " : "",
                      beat->dropped_topics [i]->topic ? beat->dropped_topics [i]->topic : "?",
                      beat->dropped_topics [i]->count);
        }
        if (beat->store_refused || beat->store_errors) {
            size_t used = strlen (detail);
            snprintf (detail + used, sizeof detail - used, "%sstore_refused=%" PRIu64
                      " store_errors=%" PRIu64, used ? " " : "", beat->store_refused,
                      beat->store_errors);
        }
        char *line = json ? wp_json_event ("heartbeat", event.msg)
                   : zsys_sprintf ("%-10s %-28s %7u %9.1f %9.1f %10" PRIu64 " %10" PRIu64
                                   " %8" PRIu64 " %10" PRIu64 " %8" PRIu64 " %s",
                                   beat->component, beat->instance, beat->pid,
                                   beat->rss_kb / 1024.0, beat->uptime_ms / 1000.0,
                                   beat->events_in, beat->events_out, beat->dropped,
                                   beat->persisted, beat->resyncs, *detail ? detail : "-");
        //  Keyed by the component's name as it says, then its source.
        char *key = zsys_sprintf ("%s/%s", beat->component, beat->header->source);
        zhashx_update (latest, key, line);
        zstr_free (&key);
        wp_bus_event_free (&event);
    }
    //  What was asked for and not seen.
    char missing [512] = "";
    for (int i = 0; want [i]; i++)
        if (!s_seen (latest, bus != NULL, want [i])) {
            size_t used = strlen (missing);
            snprintf (missing + used, sizeof missing - used, "%s%s", used ? ", " : "", want [i]);
        }
    int rc = 0;
    if (*missing || (!want [0] && zhashx_size (latest) == 0))
        rc = 1;
    zlistx_t *keys = zhashx_keys (latest);
    zlistx_set_comparator (keys, (zlistx_comparator_fn *) strcmp);
    zlistx_sort (keys);
    if (json) {
        printf ("{\"ok\":%s,\"bus\":%s,\"missing\":[", rc ? "false" : "true",
                bus ? "true" : "false");
        for (char *name = strtok (missing, ", "); name; name = strtok (NULL, ", "))
            printf ("%s\"%s\"", name == missing ? "" : ",", name);
        printf ("],\"heartbeats\":[");
        const char *comma = "";
        for (char *key = (char *) zlistx_first (keys); key; key = (char *) zlistx_next (keys)) {
            printf ("%s%s", comma, (char *) zhashx_lookup (latest, key));
            comma = ",";
        }
        printf ("]}\n");
    }
    else {
        if (zhashx_size (latest)) {
            printf ("%-10s %-28s %7s %9s %9s %10s %10s %8s %10s %8s %s\n", "component",
                    "instance", "pid", "rss_mb", "uptime_s", "events_in", "events_out",
                    "dropped", "persisted", "resyncs", "dropped by topic");
            for (char *key = (char *) zlistx_first (keys); key;
                 key = (char *) zlistx_next (keys))
                printf ("%s\n", (char *) zhashx_lookup (latest, key));
        }
        if (*missing)
            fprintf (stderr, "warmupctl status: missing: %s (no heartbeat within %.1f s)\n",
                     missing, timeout);
        else
        if (rc)
            fprintf (stderr, "warmupctl status: no heartbeat within %.1f s\n", timeout);
    }
    zlistx_destroy (&keys);
    zhashx_destroy (&latest);
    wp_bus_destroy (&bus);
    return rc;
}

//  warm / cool
static int
s_warm_cool (const wp_config_t *config, bool warm, int argc, char **argv)
{
    const char *model = NULL;
    double timeout = 60;
    bool wait = true;
    for (int i = 0; i < argc; i++) {
        if (streq (argv [i], "--timeout") && i + 1 < argc) {
            if (s_number ("--timeout", argv [++i], 86400, &timeout))
                return 2;
        }
        else
        if (streq (argv [i], "--no-wait"))
            wait = false;
        else
        if (!model && argv [i][0] != '-')
            model = argv [i];
        else {
            fprintf (stderr, "warmupctl: unexpected argument '%s'\n", argv [i]);
            return 2;
        }
    }
    if (!model) {
        fprintf (stderr, "warmupctl %s: which model?\n", warm ? "warm" : "cool");
        return 2;
    }
    //  The done, or the bus's refusal of a key that may not warm or cool.
    const char *topics [] = { "warmup.done", "control.reply", NULL };
    wp_bus_t *bus = s_connect (config, warm ? "warm" : "cool", wait ? topics : NULL,
                               (int) config->ready_timeout_ms);
    if (!bus)
        return 1;
    Warmup__V1__WarmupRequested request = WARMUP__V1__WARMUP_REQUESTED__INIT;
    request.event_ms = wp_wall_us () / 1000;
    request.model = (char *) model;
    request.action = warm ? WARMUP__V1__ACTION__ACTION_WARM : WARMUP__V1__ACTION__ACTION_COOL;
    request.priority = WARMUP__V1__PRIORITY__PRIORITY_HIGH;
    request.reason = (char *) "manual";
    request.memory_mb = wp_config_model_memory_mb (config, model);
    int rc = wp_bus_publish (bus, WP_TOPIC_WARMUP_REQUEST, &request.base) ? 1 : 0;
    int64_t deadline = zclock_mono () + (int64_t) (timeout * 1000);
    while (rc == 0 && wait) {
        int64_t left = deadline - zclock_mono ();
        wp_bus_event_t event;
        if (left <= 0 || wp_bus_recv_wait (bus, &event, (int) left) != 1) {
            fprintf (stderr, "warmupctl: no warmup.done for %s within %.0f s\n",
                     model, timeout);
            rc = 1;
            break;
        }
        if (event.topic == WP_TOPIC_CONTROL_REPLY) {
            const Warmup__V1__ControlReply *reply = (const Warmup__V1__ControlReply *) event.msg;
            bool ours = !reply->ok && reply->cause && reply->cause->source
                     && streq (reply->cause->source, wp_bus_source (bus));
            if (ours) {
                fprintf (stderr, "%s: %s\n", reply->component, reply->error);
                rc = 1;
            }
            wp_bus_event_free (&event);
            if (ours)
                break;
            continue;
        }
        const Warmup__V1__WarmupDone *done = (const Warmup__V1__WarmupDone *) event.msg;
        if (done->model && streq (done->model, model) && done->action == request.action) {
            char *json = wp_json_event ("warmup.done", event.msg);
            printf ("%s\n", json);
            free (json);
            rc = done->ok ? 0 : 1;
            wp_bus_event_free (&event);
            break;
        }
        wp_bus_event_free (&event);
    }
    wp_bus_destroy (&bus);
    return rc;
}

//  A ratio as a percentage, "-" when undefined.
static const char *
s_pct (char *buffer, size_t size, double value)
{
    if (isfinite (value))
        snprintf (buffer, size, "%.1f %%", value * 100);
    else
        snprintf (buffer, size, "-");
    return buffer;
}

//  Print one metrics snapshot for people.
static void
s_print_metrics (const Warmup__V1__MetricsSnapshot *m)
{
    char a [32], b [32], c [32], d [32];
    time_t when = (time_t) (m->event_ms / 1000);
    struct tm local;
    localtime_r (&when, &local);
    char stamp [32];
    strftime (stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &local);
    printf ("warmup metrics at %s from %s", stamp, m->header->source);
    if (m->http_endpoint && *m->http_endpoint)
        printf (" (dashboard http://%s/)", m->http_endpoint);
    printf ("\n\nsummary\n");
    printf ("  total predictions     %" PRIu64 "\n", m->predictions);
    printf ("  accuracy              %s\n", s_pct (a, sizeof a, m->accuracy));
    if (m->latency_samples)
        printf ("  avg prediction latency %.3f ms (usage -> prediction, %" PRIu64
                " samples; p50 %" PRIu64 " us, p99 %" PRIu64 " us)\n",
                m->latency_mean_us / 1000.0, m->latency_samples, m->latency_p50_us,
                m->latency_p99_us);
    else
        printf ("  avg prediction latency -\n");
    printf ("  resource efficiency   %s (useful pre-warms / pre-warms)\n",
            s_pct (a, sizeof a, m->resource_efficiency));
    printf ("\nEVAL.md metrics\n");
    printf ("  requests %" PRIu64 " (warm %" PRIu64 ", delayed %" PRIu64 ", cold_starts %"
            PRIu64 "), cold_rate %s, p75_model_cold_rate %s\n", m->requests, m->warm,
            m->delayed, m->cold_starts, s_pct (a, sizeof a, m->cold_rate),
            s_pct (b, sizeof b, m->p75_model_cold_rate));
    printf ("  cold_wait_s %.3f, resident_gb_s %.3f (resident now %" PRIu64 " MiB)\n",
            m->cold_wait_s, m->resident_gb_s, m->resident_mb);
    printf ("  prewarms %" PRIu64 ", useful_prewarms %" PRIu64 ", cold starts avoided %"
            PRIu64 ", fp_rate %s, recall %s\n", m->prewarms, m->useful_prewarms,
            m->prewarm_hits, s_pct (a, sizeof a, m->fp_rate), s_pct (b, sizeof b, m->recall));
    printf ("\n%-10s %8s %8s %8s %8s %9s %9s %9s %6s\n", "expected", "tp", "fp", "fn", "tn",
            "accuracy", "precision", "recall", "f1");
    for (size_t i = 0; i < m->n_horizons; i++) {
        const Warmup__V1__HorizonAccuracy *h = m->horizons [i];
        printf ("%-10s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %9s %9s %9s %6s\n",
                h->horizon, h->true_positives, h->false_positives, h->false_negatives,
                h->true_negatives, s_pct (a, sizeof a, h->accuracy),
                s_pct (b, sizeof b, h->precision), s_pct (c, sizeof c, h->recall),
                isfinite (h->f1) ? (snprintf (d, sizeof d, "%.2f", h->f1), d) : "-");
    }
    if (m->n_models) {
        printf ("\n%-24s %-8s %9s %6s %8s %8s %9s %7s %9s\n", "model", "state", "requests",
                "cold", "delayed", "avoided", "prewarms", "MiB", "GiB*s");
        for (size_t i = 0; i < m->n_models; i++) {
            const Warmup__V1__ModelMetrics *x = m->models [i];
            char prewarms [48];
            snprintf (prewarms, sizeof prewarms, "%" PRIu64 "/%" PRIu64, x->useful_prewarms,
                      x->prewarms);
            printf ("%-24s %-8s %9" PRIu64 " %6" PRIu64 " %8" PRIu64 " %8" PRIu64 " %9s %7u %9.2f\n",
                    x->model, x->state, x->requests, x->cold_starts, x->delayed,
                    x->prewarm_hits, prewarms, x->memory_mb, x->resident_gb_s);
        }
    }
}

//  metrics
static int
s_metrics (const wp_config_t *config, int argc, char **argv)
{
    double timeout = 5;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (streq (argv [i], "--timeout") && i + 1 < argc) {
            if (s_number ("--timeout", argv [++i], 3600, &timeout))
                return 2;
        }
        else
        if (streq (argv [i], "--json"))
            json = true;
        else {
            fprintf (stderr, "warmupctl metrics: unknown flag '%s'\n", argv [i]);
            return 2;
        }
    }
    const char *topics [] = { "metrics.snapshot", NULL };
    wp_bus_t *bus = s_connect (config, "metrics", topics, (int) config->ready_timeout_ms);
    if (!bus)
        return 1;
    wp_bus_event_t event;
    int64_t deadline = zclock_mono () + (int64_t) (timeout * 1000);
    int got = 0;
    while (got == 0 && !zsys_interrupted) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        got = wp_bus_recv_wait (bus, &event, (int) left);
    }
    int rc = 0;
    if (got != 1) {
        fprintf (stderr, "warmupctl metrics: no metrics.snapshot within %.1f s (is the "
                 "metrics component running?)\n", timeout);
        rc = 1;
    }
    else {
        if (json) {
            char *text = wp_json_event (wp_topic_name (event.topic), event.msg);
            printf ("%s\n", text);
            free (text);
        }
        else
            s_print_metrics ((const Warmup__V1__MetricsSnapshot *) event.msg);
        wp_bus_event_free (&event);
    }
    wp_bus_destroy (&bus);
    return rc;
}

//  Send a control.request and wait for `expect` replies to it. Each reply
//  goes to fn; returns 0 when all were ok, 1 otherwise.
typedef void (reply_fn) (const Warmup__V1__ControlReply *reply, void *arg);

static int
s_control (const wp_config_t *config, Warmup__V1__Command command, const char *model,
           const ProtobufCBinaryData *payload, int expect, double timeout, reply_fn *fn,
           void *arg)
{
    const char *topics [] = { "control.reply", NULL };
    wp_bus_t *bus = s_connect (config, "control", topics, (int) config->ready_timeout_ms);
    if (!bus)
        return 1;
    char id [64];
    snprintf (id, sizeof id, "%d-%" PRIu64, (int) getpid (), wp_wall_us ());
    Warmup__V1__ControlRequest request = WARMUP__V1__CONTROL_REQUEST__INIT;
    request.event_ms = wp_wall_us () / 1000;
    request.command = command;
    request.model = (char *) (model ? model : "");
    request.request_id = id;
    if (payload)
        request.payload = *payload;
    int rc = wp_bus_publish (bus, WP_TOPIC_CONTROL, &request.base) ? 1 : 0;
    int64_t deadline = zclock_mono () + (int64_t) (timeout * 1000);
    int got = 0;
    //  The first refusal ends the wait (the bus's of a key that may not
    //  control comes at once, and no one else answers then).
    while (rc == 0 && got < expect && !zsys_interrupted) {
        int64_t left = deadline - zclock_mono ();
        wp_bus_event_t event;
        if (left <= 0)
            break;
        if (wp_bus_recv_wait (bus, &event, (int) left) != 1)
            continue;
        const Warmup__V1__ControlReply *reply = (const Warmup__V1__ControlReply *) event.msg;
        if (reply->request_id && streq (reply->request_id, id)) {
            got++;
            fn (reply, arg);
            if (!reply->ok)
                rc = 1;
        }
        wp_bus_event_free (&event);
    }
    if (rc == 0 && got < expect) {
        fprintf (stderr, "warmupctl: %d of %d answer(s) within %.0f s (is warmupd running "
                 "with a scheduler?)\n", got, expect, timeout);
        rc = 1;
    }
    wp_bus_destroy (&bus);
    return rc;
}

//  Print a reply's outcome: message on stdout, error on stderr.
static void
s_print_outcome (const Warmup__V1__ControlReply *reply, void *arg)
{
    if (reply->ok)
        printf ("%s: %s\n", reply->component, reply->message);
    else
        fprintf (stderr, "%s: %s\n", reply->component, reply->error);
    fflush (stdout);
}

//  "12 s ago" style age of an event time, into buffer.
static const char *
s_ago (char *buffer, size_t size, uint64_t at_ms, uint64_t now_ms)
{
    if (!at_ms)
        snprintf (buffer, size, "-");
    else {
        double s = now_ms > at_ms ? (now_ms - at_ms) / 1000.0 : 0;
        if (s < 120)
            snprintf (buffer, size, "%.0fs ago", s);
        else
        if (s < 7200)
            snprintf (buffer, size, "%.0fm ago", s / 60);
        else
            snprintf (buffer, size, "%.1fh ago", s / 3600);
    }
    return buffer;
}

//  Print a models listing.
static void
s_print_models (const Warmup__V1__ControlReply *reply, void *arg)
{
    bool json = *(bool *) arg;
    if (json) {
        char *text = wp_json_event ("control.reply", &reply->base);
        printf ("%s\n", text);
        free (text);
        return;
    }
    if (!reply->ok) {
        fprintf (stderr, "%s: %s\n", reply->component, reply->error);
        return;
    }
    uint64_t now = wp_wall_us () / 1000;
    //  MiB: what the plans use; configured and learned (and from where)
    //  beside it; a model that waits says why on a line of its own
    printf ("%-24s %-8s %-8s %-6s %7s %7s %-16s %-10s %6s %-8s %-10s %s\n", "model", "state",
            "pin", "device", "MiB", "config", "learned", "last use", "p", "priority", "group",
            "last decision");
    for (size_t i = 0; i < reply->n_models; i++) {
        const Warmup__V1__ModelState *m = reply->models [i];
        char used [32], decided [32], learned [48] = "-";
        const char *state = m->pinned && streq (m->state, "warm") ? "pinned" : m->state;
        const char *priority = m->priority == WARMUP__V1__PRIORITY__PRIORITY_LOW ? "low"
                             : m->priority == WARMUP__V1__PRIORITY__PRIORITY_HIGH ? "high"
                             : "normal";
        if (m->learned_mb)
            snprintf (learned, sizeof learned, "%u %s", m->learned_mb,
                      m->learned_from && *m->learned_from ? m->learned_from : "");
        printf ("%-24s %-8s %-8s %-6s %7u %7u %-16s %-10s %6.2f %-8s %-10s ", m->model, state,
                m->pinned ? m->pin_source : (m->preload ? "preload" : "-"),
                m->device && *m->device ? m->device : "cpu", m->memory_mb,
                m->configured_mb ? m->configured_mb : m->memory_mb, learned,
                s_ago (used, sizeof used, m->last_use_ms, now), m->probability, priority,
                *m->group ? m->group : "-");
        if (m->last_decision_ms)
            printf ("%s: %s (%s)\n",
                    m->last_action == WARMUP__V1__ACTION__ACTION_WARM ? "warm"
                    : m->last_action == WARMUP__V1__ACTION__ACTION_COOL ? "cool" : "note",
                    m->last_reason, s_ago (decided, sizeof decided, m->last_decision_ms, now));
        else
            printf ("-\n");
        if (m->deferred && *m->deferred)
            printf ("%-24s waits: %s\n", "", m->deferred);
    }
    if (reply->n_models < reply->models_total)
        printf ("(%zu of %u models listed: one event holds no more)\n", reply->n_models,
                reply->models_total);
}

//  pin, unpin, reload, models
static int
s_command (const wp_config_t *config, const char *name, int argc, char **argv)
{
    const char *model = NULL;
    double timeout = 10, expect = 1;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (streq (argv [i], "--timeout") && i + 1 < argc) {
            if (s_number ("--timeout", argv [++i], 86400, &timeout))
                return 2;
        }
        else
        if (streq (argv [i], "--expect") && i + 1 < argc && streq (name, "reload")) {
            if (s_number ("--expect", argv [++i], 1000, &expect) || expect < 1)
                return 2;
        }
        else
        if (streq (argv [i], "--json") && streq (name, "models"))
            json = true;
        else
        if (!model && argv [i][0] != '-' && (streq (name, "pin") || streq (name, "unpin")))
            model = argv [i];
        else {
            fprintf (stderr, "warmupctl %s: unexpected argument '%s'\n", name, argv [i]);
            return 2;
        }
    }
    if ((streq (name, "pin") || streq (name, "unpin")) && !model) {
        fprintf (stderr, "warmupctl %s: which model?\n", name);
        return 2;
    }
    if (streq (name, "models"))
        return s_control (config, WARMUP__V1__COMMAND__COMMAND_MODELS, NULL, NULL, 1, timeout,
                          s_print_models, &json);
    Warmup__V1__Command command = streq (name, "pin") ? WARMUP__V1__COMMAND__COMMAND_PIN
                                : streq (name, "unpin") ? WARMUP__V1__COMMAND__COMMAND_UNPIN
                                : WARMUP__V1__COMMAND__COMMAND_RELOAD;
    return s_control (config, command, model, NULL, (int) expect, timeout, s_print_outcome,
                      NULL);
}

//  model show FILE | model load FILE [--timeout S]
static int
s_model (const wp_config_t *config, int argc, char **argv)
{
    double timeout = 10;
    const char *path = NULL;
    bool load = argc > 0 && streq (argv [0], "load");
    if (argc < 1 || !(load || streq (argv [0], "show"))) {
        fprintf (stderr, "warmupctl model: show FILE or load FILE [--timeout S]\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "--timeout") && i + 1 < argc && load) {
            if (s_number ("--timeout", argv [++i], 86400, &timeout))
                return 2;
        }
        else
        if (!path && argv [i][0] != '-')
            path = argv [i];
        else {
            fprintf (stderr, "warmupctl model: unexpected argument '%s'\n", argv [i]);
            return 2;
        }
    }
    if (!path) {
        fprintf (stderr, "warmupctl model %s: which file?\n", argv [0]);
        return 2;
    }
    //  Checked here first, for a clear word before anything is sent; the
    //  engine checks again (it takes nothing it has not checked).
    wp_engine_file_t model;
    char error [512];
    if (wp_engine_file_read (&model, path, error, sizeof error)) {
        fprintf (stderr, "warmupctl model: %s\n", error);
        return 1;
    }
    if (!load) {
        wp_engine_file_print (&model, stdout);
        return 0;
    }
    uint8_t data [WP_ENGINE_FILE_MAX];
    ProtobufCBinaryData payload = { wp_engine_file_encode (&model, data, sizeof data), data };
    return s_control (config, WARMUP__V1__COMMAND__COMMAND_MODEL_LOAD, NULL, &payload, 1,
                      timeout, s_print_outcome, NULL);
}


//  keygen
static int
s_keygen (int argc, char **argv)
{
    const char *dir = NULL, *name = "client";
    for (int i = 0; i < argc; i++) {
        if (streq (argv [i], "--name") && i + 1 < argc)
            name = argv [++i];
        else
        if (!dir && argv [i][0] != '-')
            dir = argv [i];
        else {
            fprintf (stderr, "warmupctl keygen: unexpected argument '%s'\n", argv [i]);
            return 2;
        }
    }
    if (!dir || !*name || strlen (name) > 64 || strchr (name, '/')) {
        fprintf (stderr, "warmupctl keygen: which directory? (and --name: 1..64 "
                 "characters, no '/')\n");
        return 2;
    }
    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        fprintf (stderr, "warmupctl keygen: cannot create %s: %s\n", dir, strerror (errno));
        return 1;
    }
    char *path = zsys_sprintf ("%s/%s.key", dir, name);
    wp_keypair_t pair;
    char error [1200];
    int rc = wp_keys_generate (path, name, &pair, error, sizeof error);
    if (rc)
        fprintf (stderr, "warmupctl keygen: %s\n", error);
    else
        printf ("%s         public: copy it into the service's bus/allowed_keys (a client) or\n"
                "%*s bus/operator_keys (an operator) directory, then restart the bus\n"
                "%s_secret  secret (0600): keep it; use it with bus/client_key = %s\n"
                "          or --client-key %s\n"
                "public key %s\n", path, (int) strlen (path) + 8, "", path, path, path,
                pair.public_key);
    memset (&pair, 0, sizeof pair);
    zstr_free (&path);
    return rc ? 1 : 0;
}

//  A time for --since: "10m" (ago; s, m, h, d), an ISO time
//  (YYYY-MM-DDTHH:MM[:SS][Z]; local time without Z), or epoch seconds
//  (or ms, from 10^12). Returns 0 with *ms, or -1.
static int
s_since (const char *text, uint64_t now_ms, uint64_t *ms)
{
    char *end = NULL;
    double value = strtod (text, &end);
    if (end != text && value >= 0 && end [0] && !end [1] && strchr ("smhd", end [0])) {
        double unit = end [0] == 's' ? 1e3 : end [0] == 'm' ? 6e4 : end [0] == 'h' ? 3.6e6
                    : 8.64e7;
        *ms = value * unit >= (double) now_ms ? 0 : now_ms - (uint64_t) (value * unit);
        return 0;
    }
    if (end != text && !*end && value >= 0) {
        *ms = value >= 1e12 ? (uint64_t) value : (uint64_t) (value * 1000);
        return 0;
    }
    struct tm when = { 0 };
    const char *rest = strptime (text, "%Y-%m-%dT%H:%M", &when);
    if (!rest)
        rest = strptime (text, "%Y-%m-%d", &when);
    if (!rest)
        return -1;
    if (*rest == ':')
        rest = strptime (rest, ":%S", &when);
    if (!rest || (*rest && !streq (rest, "Z")))
        return -1;
    time_t seconds;
    if (*rest == 'Z')
        seconds = timegm (&when);
    else {
        when.tm_isdst = -1;
        seconds = mktime (&when);
    }
    if (seconds < 0)
        return -1;
    *ms = (uint64_t) seconds * 1000;
    return 0;
}

//  What audit keeps.
typedef struct {
    uint64_t since_ms;
    const char *model;
    const char *kind;
    bool json;
    uint64_t shown;
} s_audit_filter_t;

//  One record of the audit log, if the filter takes it.
static int
s_audit_record (const char *record, void *arg)
{
    s_audit_filter_t *filter = (s_audit_filter_t *) arg;
    wp_jval_t *json = wp_jval_parse (record, strlen (record));
    if (!json)
        return 0;
    const char *kind = wp_jval_str (wp_jval_get (json, "kind"));
    const char *model = wp_jval_str (wp_jval_get (json, "model"));
    double ts = wp_jval_num (wp_jval_get (json, "ts_ms"), 0);
    bool take = ts >= (double) filter->since_ms
             && (!filter->model || (model && streq (model, filter->model)))
             && (!filter->kind || (kind && streq (kind, filter->kind)));
    if (take && filter->json)
        printf ("%s\n", record);
    else
    if (take) {
        const char *what = wp_jval_str (wp_jval_get (json, "action"));
        if (!what)
            what = wp_jval_str (wp_jval_get (json, "command"));
        const char *why = wp_jval_str (wp_jval_get (json, "reason"));
        const char *error = wp_jval_str (wp_jval_get (json, "error"));
        const char *who = wp_jval_str (wp_jval_get (json, "principal"));
        const char *source = wp_jval_str (wp_jval_get (json, "source"));
        const wp_jval_t *ok = wp_jval_get (json, "ok");
        printf ("%-24s %-9s %-6s %-24s", wp_jval_str (wp_jval_get (json, "time")),
                kind ? kind : "?", what ? what : "", model ? model : "");
        if (ok)
            printf (" %s", wp_jval_true (ok) ? "ok" : "FAILED");
        if (error && *error)
            printf (" %s", error);
        if (why && *why)
            printf (" %s%s", ok && !wp_jval_true (ok) && error && *error ? "; " : "", why);
        if (who && *who && !streq (who, "local"))
            printf (" [by %s]", who);
        else
        if (source && *source)
            printf (" [from %s]", source);
        printf ("\n");
    }
    if (take)
        filter->shown++;
    wp_jval_destroy (&json);
    return 0;
}

//  audit
static int
s_audit (const wp_config_t *config, int argc, char **argv)
{
    s_audit_filter_t filter = { 0 };
    for (int i = 0; i < argc; i++) {
        const char *value = i + 1 < argc ? argv [i + 1] : NULL;
        if (streq (argv [i], "--json"))
            filter.json = true;
        else
        if (streq (argv [i], "--since") && value) {
            if (s_since (value, wp_wall_us () / 1000, &filter.since_ms)) {
                fprintf (stderr, "warmupctl audit: --since: bad time '%s' (10m, 2h, 1d, "
                         "2026-01-31T12:00:00Z, epoch seconds or ms)\n", value);
                return 2;
            }
            i++;
        }
        else
        if (streq (argv [i], "--model") && value) {
            filter.model = value;
            i++;
        }
        else
        if (streq (argv [i], "--kind") && value) {
            filter.kind = value;
            i++;
        }
        else {
            fprintf (stderr, "warmupctl audit: unexpected argument '%s'\n", argv [i]);
            return 2;
        }
    }
    char *dir = zsys_sprintf ("%s/%s", config->data_dir, WP_AUDIT_DIR);
    char error [1200];
    int read = wp_audit_read (dir, s_audit_record, &filter, error, sizeof error);
    if (read < 0)
        fprintf (stderr, "warmupctl audit: %s (is %s the service's data directory? give "
                 "-c, --data-dir or WARMUP_DATA_DIR)\n", error, config->data_dir);
    zstr_free (&dir);
    return read < 0 ? 1 : 0;
}

int
main (int argc, char **argv)
{
    zsys_init ();
    zsys_set_logident ("warmupctl");
    bool verbose;
    const char *instance;
    char **rest;
    int n_rest;
    wp_config_t *config = wp_component_parse_args (argc, argv, "warmupctl", s_usage,
                                                   &verbose, &instance, &rest, &n_rest);
    if (!config)
        return 2;
    int rc = 2;
    if (n_rest == 0)
        fprintf (stderr, "warmupctl: which command? (emit, intent, ingest, tail, status, warm, "
                 "cool, metrics, pin, unpin, reload, models, keygen, audit; see --help)\n");
    else
    if (streq (rest [0], "emit"))
        rc = s_emit (config, n_rest - 1, rest + 1);
    else
    if (streq (rest [0], "intent"))
        rc = s_intent (config, n_rest - 1, rest + 1);
    else
    if (streq (rest [0], "ingest"))
        rc = wp_ingest_main (config, n_rest - 1, rest + 1);
    else
    if (streq (rest [0], "tail"))
        rc = s_tail (config, n_rest - 1, rest + 1);
    else
    if (streq (rest [0], "status"))
        rc = s_status (config, n_rest - 1, rest + 1);
    else
    if (streq (rest [0], "warm") || streq (rest [0], "cool"))
        rc = s_warm_cool (config, streq (rest [0], "warm"), n_rest - 1, rest + 1);
    else
    if (streq (rest [0], "metrics"))
        rc = s_metrics (config, n_rest - 1, rest + 1);
    else
#ifdef WP_HAVE_REPLAY
    if (streq (rest [0], "replay"))
        rc = wp_replay_main (config, n_rest - 1, rest + 1);
    else
#endif
    if (streq (rest [0], "pin") || streq (rest [0], "unpin") || streq (rest [0], "reload")
        || streq (rest [0], "models"))
        rc = s_command (config, rest [0], n_rest - 1, rest + 1);
    else
    if (streq (rest [0], "model"))
        rc = s_model (config, n_rest - 1, rest + 1);
    else
#ifdef WP_HAVE_REPLAY
    if (streq (rest [0], "train"))
        rc = wp_train_main (config, n_rest - 1, rest + 1);
    else
#endif
    if (streq (rest [0], "keygen"))
        rc = s_keygen (n_rest - 1, rest + 1);
    else
    if (streq (rest [0], "audit"))
        rc = s_audit (config, n_rest - 1, rest + 1);
    else
        fprintf (stderr, "warmupctl: unknown command '%s' (see --help)\n", rest [0]);
    free (rest);
    wp_config_destroy (&config);
    return rc;
}
