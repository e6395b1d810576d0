/*  =========================================================================
    wp_audit - the audit log: a rotated file of JSON lines, and the actor
    that writes what it hears on the bus.
    =========================================================================
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include "wp_audit.h"
#include "wp_bus.h"
#include "wp_json.h"
#include "wp_util.h"

struct _wp_audit_t {
    char *dir;              //  the log's directory
    char *path;             //  <dir>/audit.log
    int fd;                 //  open for appending, -1 after an error
    uint64_t size;          //  bytes in the current file
    uint64_t file_max;      //  bytes per file at most
    unsigned files;         //  files rotated through
    bool dirty;             //  written since the last sync
    uint64_t records;       //  appended
    uint64_t errors;        //  failed appends
};

//  Open the current file for appending.
static int
s_open (wp_audit_t *self)
{
    self->fd = open (self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (self->fd < 0) {
        zsys_error ("audit: cannot open %s: %s", self->path, strerror (errno));
        return -1;
    }
    struct stat info;
    self->size = fstat (self->fd, &info) == 0 ? (uint64_t) info.st_size : 0;
    return 0;
}

//  Open the log.
wp_audit_t *
wp_audit_new (const char *dir, uint64_t max_bytes, unsigned files)
{
    assert (dir && files >= 2 && max_bytes > 0);
    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        zsys_error ("audit: cannot create %s: %s", dir, strerror (errno));
        return NULL;
    }
    wp_audit_t *self = (wp_audit_t *) zmalloc (sizeof (wp_audit_t));
    assert (self);
    self->dir = strdup (dir);
    self->path = zsys_sprintf ("%s/%s", dir, WP_AUDIT_FILE);
    self->files = files;
    self->file_max = max_bytes / files;
    if (self->file_max < WP_AUDIT_LINE_MAX)
        self->file_max = WP_AUDIT_LINE_MAX;
    if (s_open (self)) {
        wp_audit_destroy (&self);
        return NULL;
    }
    return self;
}

//  Close.
void
wp_audit_destroy (wp_audit_t **self_p)
{
    assert (self_p);
    wp_audit_t *self = *self_p;
    if (!self)
        return;
    if (self->fd >= 0) {
        if (self->dirty)
            fdatasync (self->fd);
        close (self->fd);
    }
    free (self->dir);
    zstr_free (&self->path);
    free (self);
    *self_p = NULL;
}

//  Rotate: audit.log -> .1 -> .2 ... (the oldest goes), a new audit.log.
static int
s_rotate (wp_audit_t *self)
{
    if (self->fd >= 0) {
        fdatasync (self->fd);
        close (self->fd);
        self->fd = -1;
    }
    self->dirty = false;
    for (unsigned i = self->files - 1; i >= 1; i--) {
        char *from = i == 1 ? strdup (self->path) : zsys_sprintf ("%s.%u", self->path, i - 1);
        char *to = zsys_sprintf ("%s.%u", self->path, i);
        if (rename (from, to) != 0 && errno != ENOENT)
            zsys_warning ("audit: cannot rotate %s: %s", from, strerror (errno));
        free (from);
        zstr_free (&to);
    }
    return s_open (self);
}

//  Append one record.
int
wp_audit_append (wp_audit_t *self, const char *record)
{
    assert (self && record);
    size_t len = strlen (record);
    char line [WP_AUDIT_LINE_MAX + 2];
    if (len > WP_AUDIT_LINE_MAX) {
        //  Cut, and still one JSON object per line.
        snprintf (line, sizeof line, "{\"kind\":\"cut\",\"bytes\":%zu}", len);
        len = strlen (line);
    }
    else
        memcpy (line, record, len);
    line [len++] = '\n';
    if (self->size && self->size + len > self->file_max && s_rotate (self))
        self->fd = -1;
    if (self->fd < 0 && s_open (self) == 0)
        zsys_info ("audit: %s open again", self->path);
    ssize_t written = self->fd >= 0 ? write (self->fd, line, len) : -1;
    if (written != (ssize_t) len) {
        self->errors++;
        if (wp_log_should (self->errors))
            zsys_error ("audit: cannot append to %s: %s (%" PRIu64 " records lost)",
                        self->path, written < 0 ? strerror (errno) : "short write",
                        self->errors);
        return -1;
    }
    self->size += len;
    self->records++;
    self->dirty = true;
    return 0;
}

//  Make it durable.
int
wp_audit_sync (wp_audit_t *self)
{
    assert (self);
    if (!self->dirty || self->fd < 0)
        return 0;
    self->dirty = false;
    return fdatasync (self->fd) == 0 ? 0 : -1;
}

uint64_t
wp_audit_records (wp_audit_t *self)
{
    assert (self);
    return self->records;
}

uint64_t
wp_audit_errors (wp_audit_t *self)
{
    assert (self);
    return self->errors;
}

//  Read every record, oldest first.
int
wp_audit_read (const char *dir, wp_audit_fn *fn, void *arg, char *error, size_t size)
{
    assert (dir && fn);
    DIR *handle = opendir (dir);
    if (!handle) {
        snprintf (error, size, "cannot read %s: %s", dir, strerror (errno));
        return -1;
    }
    //  The highest rotation number there is: the oldest file.
    unsigned oldest = 0;
    size_t prefix = strlen (WP_AUDIT_FILE);
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        const char *name = entry->d_name;
        if (strncmp (name, WP_AUDIT_FILE ".", prefix + 1) == 0
            && strspn (name + prefix + 1, "0123456789") == strlen (name + prefix + 1)
            && name [prefix + 1]) {
            unsigned long n = strtoul (name + prefix + 1, NULL, 10);
            if (n > oldest && n < 100000)
                oldest = (unsigned) n;
        }
    }
    closedir (handle);
    int count = 0;
    bool stop = false;
    char *line = NULL;
    size_t capacity = 0;
    for (int i = (int) oldest; i >= 0 && !stop; i--) {
        char *path = i ? zsys_sprintf ("%s/%s.%d", dir, WP_AUDIT_FILE, i)
                       : zsys_sprintf ("%s/%s", dir, WP_AUDIT_FILE);
        FILE *file = fopen (path, "r");
        zstr_free (&path);
        if (!file)
            continue;
        ssize_t n;
        while (!stop && (n = getline (&line, &capacity, file)) > 0) {
            while (n && (line [n - 1] == '\n' || line [n - 1] == '\r'))
                line [--n] = 0;
            //  A line cut by a crash is not a record.
            if (n < 2 || line [0] != '{' || line [n - 1] != '}')
                continue;
            count++;
            stop = fn (line, arg) != 0;
        }
        fclose (file);
    }
    free (line);
    return count;
}

//  --- The actor ----------------------------------------------------------------

typedef struct {
    zsock_t *pipe;          //  actor pipe
    const wp_config_t *config;  //  until START: borrowed
    wp_bus_t *bus;          //  the bus client
    wp_audit_t *log;        //  the log
    zloop_t *loop;
    char *pub, *sub;        //  endpoints
    char *source;           //  "audit/<instance>"
    bool admit;             //  the resource manager's latest admit
    bool admit_known;       //  a resource.status was seen
    uint64_t gaps;          //  bus gaps already recorded
    unsigned flush_ms;      //  a record is synced within this
    bool sync_armed;        //  the sync timer is set (one shot)
} audit_actor_t;

static int s_sync (zloop_t *loop, int timer_id, void *arg);

//  Name of an enum value without its prefix, lower case ("COMMAND_PIN"
//  -> "pin"), into buffer.
static const char *
s_enum (const ProtobufCEnumDescriptor *desc, int value, char *buffer, size_t size)
{
    const ProtobufCEnumValue *found = protobuf_c_enum_descriptor_get_value (desc, value);
    const char *name = found ? found->name : "unknown";
    const char *under = strchr (name, '_');
    snprintf (buffer, size, "%s", under ? under + 1 : name);
    for (char *c = buffer; *c; c++)
        *c = (char) tolower ((unsigned char) *c);
    return buffer;
}

//  Start a record of a kind: {"ts_ms":..,"time":"..","kind":"..".
static void
s_begin (char **buffer, size_t *len, size_t *cap, const char *kind)
{
    uint64_t now_us = wp_wall_us ();
    time_t seconds = (time_t) (now_us / 1000000);
    struct tm utc;
    gmtime_r (&seconds, &utc);
    char stamp [40];
    strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    wp_json_appendf (buffer, len, cap, "{\"ts_ms\":%" PRIu64 ",\"time\":\"%s.%03uZ\","
                     "\"kind\":\"%s\"", now_us / 1000, stamp,
                     (unsigned) (now_us / 1000 % 1000), kind);
}

//  Append ,"name":"value" (a JSON string; NULL as "").
static void
s_str (char **buffer, size_t *len, size_t *cap, const char *name, const char *value)
{
    wp_json_appendf (buffer, len, cap, ",\"%s\":", name);
    wp_json_append_string (buffer, len, cap, value ? value : "");
}

//  Write a finished record.
static void
s_write (audit_actor_t *self, char **buffer, size_t *len, size_t *cap)
{
    wp_json_appendf (buffer, len, cap, "}");
    wp_audit_append (self->log, *buffer);
    free (*buffer);
    *buffer = NULL;
    //  Synced flush_ms after the first record since the last sync: no
    //  timer wakes the thread while nothing is written
    if (!self->sync_armed && self->loop) {
        self->sync_armed = true;
        zloop_timer (self->loop, self->flush_ms, 1, s_sync, self);
    }
}

//  The source of an event's header.
static const char *
s_source (const ProtobufCMessage *msg)
{
    const Warmup__V1__Header *header = wp_bus_header (msg);
    return header && header->source ? header->source : "";
}

//  One event into a record.
static void
s_record (audit_actor_t *self, wp_topic_t topic, const ProtobufCMessage *msg)
{
    char *b = NULL;
    size_t len = 0, cap = 0;
    char name [32];
    if (topic == WP_TOPIC_WARMUP_REQUEST) {
        const Warmup__V1__WarmupRequested *e = (const Warmup__V1__WarmupRequested *) msg;
        s_begin (&b, &len, &cap, "decision");
        s_str (&b, &len, &cap, "action", s_enum (&warmup__v1__action__descriptor,
                                                  e->action, name, sizeof name));
        s_str (&b, &len, &cap, "model", e->model);
        s_str (&b, &len, &cap, "reason", e->reason);
        s_str (&b, &len, &cap, "priority", s_enum (&warmup__v1__priority__descriptor,
                                                    e->priority, name, sizeof name));
        wp_json_appendf (&b, &len, &cap, ",\"expected_benefit_ms\":%.0f,\"memory_mb\":%u,"
                         "\"event_ms\":%" PRIu64, e->expected_benefit_ms, e->memory_mb,
                         e->event_ms);
        s_str (&b, &len, &cap, "principal", e->principal);
        s_str (&b, &len, &cap, "source", s_source (msg));
    }
    else
    if (topic == WP_TOPIC_WARMUP_DONE) {
        const Warmup__V1__WarmupDone *e = (const Warmup__V1__WarmupDone *) msg;
        s_begin (&b, &len, &cap, "done");
        s_str (&b, &len, &cap, "action", s_enum (&warmup__v1__action__descriptor,
                                                  e->action, name, sizeof name));
        s_str (&b, &len, &cap, "model", e->model);
        wp_json_appendf (&b, &len, &cap, ",\"ok\":%s", e->ok ? "true" : "false");
        s_str (&b, &len, &cap, "error", e->error);
        s_str (&b, &len, &cap, "backend", e->backend);
        wp_json_appendf (&b, &len, &cap, ",\"duration_ms\":%u,\"attempts\":%u",
                         e->duration_ms, e->attempts);
        s_str (&b, &len, &cap, "reason", e->reason);
    }
    else
    if (topic == WP_TOPIC_CONTROL) {
        const Warmup__V1__ControlRequest *e = (const Warmup__V1__ControlRequest *) msg;
        if (e->command == WARMUP__V1__COMMAND__COMMAND_MODELS)
            return;                 //  a listing changes nothing
        s_begin (&b, &len, &cap, "control");
        s_str (&b, &len, &cap, "command", s_enum (&warmup__v1__command__descriptor,
                                                   e->command, name, sizeof name));
        s_str (&b, &len, &cap, "model", e->model);
        s_str (&b, &len, &cap, "request_id", e->request_id);
        s_str (&b, &len, &cap, "principal", e->principal);
        s_str (&b, &len, &cap, "source", s_source (msg));
    }
    else
    if (topic == WP_TOPIC_CONTROL_REPLY) {
        const Warmup__V1__ControlReply *e = (const Warmup__V1__ControlReply *) msg;
        if (e->command == WARMUP__V1__COMMAND__COMMAND_MODELS && e->ok)
            return;
        bool refused = !e->ok && e->component && streq (e->component, "bus");
        s_begin (&b, &len, &cap, refused ? "refused" : "reply");
        s_str (&b, &len, &cap, "command", s_enum (&warmup__v1__command__descriptor,
                                                   e->command, name, sizeof name));
        s_str (&b, &len, &cap, "model", e->model);
        wp_json_appendf (&b, &len, &cap, ",\"ok\":%s", e->ok ? "true" : "false");
        s_str (&b, &len, &cap, "reason", e->ok ? e->message : e->error);
        s_str (&b, &len, &cap, "component", e->component);
        s_str (&b, &len, &cap, "request_id", e->request_id);
        s_str (&b, &len, &cap, "principal", e->principal);
        s_str (&b, &len, &cap, "source", e->cause && e->cause->source ? e->cause->source
                                                                       : "");
    }
    else
    if (topic == WP_TOPIC_WARMUP_DEFERRED) {
        const Warmup__V1__WarmupDeferred *e = (const Warmup__V1__WarmupDeferred *) msg;
        s_begin (&b, &len, &cap, e->waits ? "deferred" : "resumed");
        s_str (&b, &len, &cap, "model", e->model);
        s_str (&b, &len, &cap, "reason", e->reason);
        s_str (&b, &len, &cap, "device", e->device);
        wp_json_appendf (&b, &len, &cap, ",\"memory_mb\":%u,\"event_ms\":%" PRIu64,
                         e->memory_mb, e->event_ms);
        s_str (&b, &len, &cap, "source", s_source (msg));
    }
    else
    if (topic == WP_TOPIC_RESOURCE) {
        const Warmup__V1__ResourceStatus *e = (const Warmup__V1__ResourceStatus *) msg;
        bool changed = !self->admit_known || e->admit != self->admit;
        self->admit = e->admit;
        self->admit_known = true;
        if (!changed)
            return;
        s_begin (&b, &len, &cap, e->admit ? "admitted" : "deferred");
        s_str (&b, &len, &cap, "reason", e->admit ? "background warmups admitted"
                                                  : e->admit_reason);
        s_str (&b, &len, &cap, "source", s_source (msg));
    }
    else
        return;
    s_write (self, &b, &len, &cap);
}

//  Events from the bus.
static int
s_events (zloop_t *loop, zsock_t *reader, void *arg)
{
    audit_actor_t *self = (audit_actor_t *) arg;
    wp_bus_event_t event;
    for (int i = 0; i < 1000 && wp_bus_recv (self->bus, &event) == 1; i++) {
        s_record (self, event.topic, event.msg);
        wp_bus_event_free (&event);
    }
    wp_bus_stats_t stats;
    wp_bus_stats (self->bus, &stats);
    if (stats.gaps > self->gaps) {
        char *b = NULL;
        size_t len = 0, cap = 0;
        s_begin (&b, &len, &cap, "gap");
        wp_json_appendf (&b, &len, &cap, ",\"missed\":%" PRIu64, stats.gaps - self->gaps);
        s_write (self, &b, &len, &cap);
        self->gaps = stats.gaps;
    }
    return 0;
}

//  Sync timer.
static int
s_sync (zloop_t *loop, int timer_id, void *arg)
{
    audit_actor_t *self = (audit_actor_t *) arg;
    self->sync_armed = false;
    wp_audit_sync (self->log);
    return 0;
}

//  START: open, connect, wait for the bus.
static int
s_start (audit_actor_t *self, char *reason, size_t size)
{
    const wp_config_t *config = self->config;
    char *dir = zsys_sprintf ("%s/%s", config->data_dir, WP_AUDIT_DIR);
    self->log = wp_audit_new (dir, (uint64_t) config->audit_max_mb * 1024 * 1024,
                              config->audit_files);
    if (!self->log)
        snprintf (reason, size, "cannot open the audit log in %s", dir);
    zstr_free (&dir);
    if (!self->log)
        return -1;
    wp_bus_opts_t opts = { .max_frame = config->max_frame_bytes,
                           .rcvhwm = (int) config->hwm };
    self->bus = wp_bus_new (self->pub, self->sub, self->source, &opts);
    if (!self->bus) {
        snprintf (reason, size, "cannot connect to the bus at %s / %s", self->pub, self->sub);
        return -1;
    }
    const char *topics [] = { "warmup.requested", "warmup.done", "warmup.deferred",
                              "control.request", "control.reply", "resource.status", NULL };
    for (int i = 0; topics [i]; i++)
        wp_bus_subscribe (self->bus, topics [i]);
    if (wp_bus_wait_ready (self->bus, (int) config->ready_timeout_ms)) {
        snprintf (reason, size, "the bus did not answer within %u ms", config->ready_timeout_ms);
        return -1;
    }
    zloop_reader (self->loop, wp_bus_sub_socket (self->bus), s_events, self);
    self->flush_ms = config->flush_ms;
    s_events (self->loop, NULL, self);
    self->config = NULL;        //  a reload may free it; nothing more is read
    return 0;
}

//  A pipe command; -1 ends the loop.
static int
s_pipe (zloop_t *loop, zsock_t *pipe, void *arg)
{
    audit_actor_t *self = (audit_actor_t *) arg;
    char *command = zstr_recv (pipe);
    int rc = 0;
    if (!command || streq (command, "$TERM"))
        rc = -1;
    else
    if (streq (command, "START")) {
        char reason [512] = "";
        if (self->bus || s_start (self, reason, sizeof reason))
            zstr_sendx (pipe, "ERROR", self->bus && !*reason ? "already started" : reason,
                        NULL);
        else
            zstr_send (pipe, "OK");
    }
    else
        zstr_sendx (pipe, "ERROR", "unknown command", NULL);
    zstr_free (&command);
    return rc;
}

//  The actor.
void
wp_audit_actor (zsock_t *pipe, void *args)
{
    pthread_setname_np (pthread_self (), "audit");
    const wp_audit_args_t *start = (const wp_audit_args_t *) args;
    audit_actor_t self = { 0 };
    self.pipe = pipe;
    self.config = start->config;
    self.pub = strdup (start->pub_endpoint);
    self.sub = strdup (start->sub_endpoint);
    char *instance = wp_instance_id (start->instance);
    self.source = zsys_sprintf ("audit/%s", instance);
    free (instance);
    self.loop = zloop_new ();
    assert (self.loop);
    zloop_set_nonstop (self.loop, true);
    zloop_reader (self.loop, pipe, s_pipe, &self);
    zsock_signal (pipe, 0);
    zloop_start (self.loop);
    zloop_destroy (&self.loop);
    //  What is still queued on the bus goes in before the end.
    if (self.bus && self.log)
        s_events (NULL, NULL, &self);
    wp_bus_destroy (&self.bus);
    wp_audit_destroy (&self.log);
    free (self.pub);
    free (self.sub);
    zstr_free (&self.source);
}

//  Start the audit actor.
zactor_t *
wp_audit_start (const wp_config_t *config, const char *pub, const char *sub,
                const char *instance)
{
    assert (config && pub && sub);
    if (!config->audit)
        return NULL;
    wp_audit_args_t args = { config, pub, sub, instance };
    zactor_t *actor = zactor_new (wp_audit_actor, &args);
    assert (actor);
    zstr_send (actor, "START");
    char *status = NULL, *reason = NULL;
    zstr_recvx (actor, &status, &reason, NULL);
    if (!status || !streq (status, "OK")) {
        zsys_error ("audit: %s", reason ? reason : "no reply");
        zactor_destroy (&actor);
    }
    zstr_free (&status);
    zstr_free (&reason);
    return actor;
}
