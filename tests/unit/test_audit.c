/*  =========================================================================
    test_audit - the audit log file: records appended whole and read back
    oldest first, rotation bounds the size and drops the oldest file, a
    line cut by a crash is skipped, files are private; the actor records
    what it hears on the bus.
    =========================================================================
*/
#include "testutil.h"
#include "wp_audit.h"
#include "wp_bus.h"
#include "wp_proxy.h"
#include "wp_util.h"
#include <sys/stat.h>

//  Records read back, in order.
typedef struct {
    int count;
    int first;              //  the number in the first record read
    int last;               //  ... in the last one
    bool ordered;           //  each one after the one before
} s_read_t;

static int
s_read (const char *record, void *arg)
{
    s_read_t *read = (s_read_t *) arg;
    int n = -1;
    assert_int_equal (sscanf (record, "{\"n\":%d}", &n), 1);
    if (read->count == 0)
        read->first = n;
    else
    if (n != read->last + 1)
        read->ordered = false;
    read->last = n;
    read->count++;
    return 0;
}

//  Total bytes of the log's files.
static uint64_t
s_bytes (const char *dir)
{
    uint64_t total = 0;
    for (int i = 0; i < 10; i++) {
        char *path = i ? zsys_sprintf ("%s/audit.log.%d", dir, i)
                       : zsys_sprintf ("%s/audit.log", dir);
        struct stat info;
        if (stat (path, &info) == 0) {
            total += (uint64_t) info.st_size;
            assert_int_equal (info.st_mode & 0777, 0600);
        }
        zstr_free (&path);
    }
    return total;
}

//  Append, rotate, read back: the newest records are all there in order,
//  the total stays under the bound, the oldest went first.
static void
test_append_rotate_read (void **state)
{
    char *base = wp_test_tmpdir ("wp-audit");
    char *dir = zsys_sprintf ("%s/audit", base);
    //  4 files of 16 KiB: a record is 10-13 bytes.
    wp_audit_t *log = wp_audit_new (dir, 64 * 1024, 4);
    assert_non_null (log);
    struct stat info;
    assert_int_equal (stat (dir, &info), 0);
    assert_int_equal (info.st_mode & 0777, 0700);
    char record [64];
    for (int n = 0; n < 20000; n++) {
        snprintf (record, sizeof record, "{\"n\":%d}", n);
        assert_int_equal (wp_audit_append (log, record), 0);
    }
    assert_int_equal (wp_audit_sync (log), 0);
    assert_true (wp_audit_records (log) == 20000);
    assert_true (wp_audit_errors (log) == 0);
    assert_true (s_bytes (dir) <= 64 * 1024);
    s_read_t read = { 0, 0, 0, true };
    char error [300];
    int count = wp_audit_read (dir, s_read, &read, error, sizeof error);
    assert_int_equal (count, read.count);
    assert_true (read.ordered);
    assert_int_equal (read.last, 19999);
    assert_true (read.first > 0);              //  the oldest were dropped
    assert_true (read.count > 3 * 16 * 1024 / 13);
    wp_audit_destroy (&log);
    assert_null (log);

    //  Reopened: appends after what is there.
    log = wp_audit_new (dir, 64 * 1024, 4);
    assert_int_equal (wp_audit_append (log, "{\"n\":20000}"), 0);
    wp_audit_destroy (&log);
    //  A line cut by a crash (no closing brace, no newline) is skipped.
    char *path = zsys_sprintf ("%s/audit.log", dir);
    FILE *file = fopen (path, "a");
    fputs ("{\"n\":2000", file);
    fclose (file);
    read = (s_read_t) { 0, 0, 0, true };
    wp_audit_read (dir, s_read, &read, error, sizeof error);
    assert_true (read.ordered);
    assert_int_equal (read.last, 20000);
    //  A record over the line bound becomes a short valid one.
    log = wp_audit_new (dir, 64 * 1024, 4);
    char *huge = malloc (WP_AUDIT_LINE_MAX + 100);
    memset (huge, 'x', WP_AUDIT_LINE_MAX + 99);
    huge [WP_AUDIT_LINE_MAX + 99] = 0;
    assert_int_equal (wp_audit_append (log, huge), 0);
    free (huge);
    wp_audit_destroy (&log);
    //  No directory: an error naming it.
    assert_int_equal (wp_audit_read ("/nonexistent/audit", s_read, &read, error,
                                     sizeof error), -1);
    assert_non_null (strstr (error, "/nonexistent/audit"));
    zstr_free (&path);
    zstr_free (&dir);
    wp_test_rmtree (base);
    free (base);
}

//  What the actor wrote, as text to search.
static int
s_collect (const char *record, void *arg)
{
    char **all = (char **) arg;
    char *joined = zsys_sprintf ("%s%s\n", *all ? *all : "", record);
    zstr_free (all);
    *all = joined;
    return 0;
}

//  The actor: a decision, a refusal and a control reach the log with
//  their reasons; a listing does not; admit changes become records.
static void
test_actor_records (void **state)
{
    char *base = wp_test_tmpdir ("wp-audit-actor");
    char *pub = zsys_sprintf ("inproc://wp-audit-%d-pub", (int) getpid ());
    char *sub = zsys_sprintf ("inproc://wp-audit-%d-sub", (int) getpid ());
    zactor_t *proxy = zactor_new (wp_proxy_actor, NULL);
    zstr_sendx (proxy, "BIND", pub, sub, NULL);
    char *status = NULL;
    zstr_recvx (proxy, &status, NULL);
    assert_string_equal (status, "OK");
    zstr_free (&status);
    wp_config_t *config = wp_config_new ();
    wp_config_set_string (config, "data_dir", base);
    zactor_t *audit = wp_audit_start (config, pub, sub, "test");
    assert_non_null (audit);
    wp_bus_t *bus = wp_bus_new (pub, sub, "scheduler/test", NULL);
    assert_int_equal (wp_bus_wait_ready (bus, wp_test_ms (5000)), 0);

    Warmup__V1__WarmupRequested warm = WARMUP__V1__WARMUP_REQUESTED__INIT;
    warm.model = "coder";
    warm.action = WARMUP__V1__ACTION__ACTION_WARM;
    warm.reason = "plan of 3 user(s), value 2.5";
    warm.expected_benefit_ms = 1800;
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_WARMUP_REQUEST, &warm.base), 0);
    Warmup__V1__ControlReply refusal = WARMUP__V1__CONTROL_REPLY__INIT;
    refusal.command = WARMUP__V1__COMMAND__COMMAND_COOL;
    refusal.component = "bus";
    refusal.error = "refused: client/ide.key: only operator keys may warm or cool";
    refusal.principal = "client/ide.key";
    refusal.model = "coder";
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_CONTROL_REPLY, &refusal.base), 0);
    Warmup__V1__ControlRequest listing = WARMUP__V1__CONTROL_REQUEST__INIT;
    listing.command = WARMUP__V1__COMMAND__COMMAND_MODELS;
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_CONTROL, &listing.base), 0);
    Warmup__V1__ControlRequest pin = WARMUP__V1__CONTROL_REQUEST__INIT;
    pin.command = WARMUP__V1__COMMAND__COMMAND_PIN;
    pin.model = "coder";
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_CONTROL, &pin.base), 0);
    Warmup__V1__WarmupDeferred waits = WARMUP__V1__WARMUP_DEFERRED__INIT;
    waits.model = "big";
    waits.waits = true;
    waits.reason = "no room in GPU budget: needs 3072 MiB, 0 of 2560 MiB taken";
    waits.memory_mb = 3072;
    waits.device = "gpu";
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_WARMUP_DEFERRED, &waits.base), 0);
    waits.waits = false;
    waits.reason = "room now: warmed";
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_WARMUP_DEFERRED, &waits.base), 0);
    Warmup__V1__ResourceStatus status_msg = WARMUP__V1__RESOURCE_STATUS__INIT;
    status_msg.admit = false;
    status_msg.admit_reason = "cpu 85% > 30%";
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_RESOURCE, &status_msg.base), 0);
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_RESOURCE, &status_msg.base), 0);
    //  The marker after them: once it is written, so is everything before.
    status_msg.admit = true;
    assert_int_equal (wp_bus_publish (bus, WP_TOPIC_RESOURCE, &status_msg.base), 0);
    char *dir = zsys_sprintf ("%s/audit", base);
    char *all = NULL, error [300];
    int64_t deadline = zclock_mono () + wp_test_ms (5000);
    while (!(all && strstr (all, "\"kind\":\"admitted\"")) && zclock_mono () < deadline) {
        zstr_free (&all);
        zclock_sleep (20);      //  between reads of the file; the bound is above
        wp_audit_read (dir, s_collect, &all, error, sizeof error);
    }
    zactor_destroy (&audit);
    assert_non_null (all);
    assert_non_null (strstr (all, "\"kind\":\"admitted\""));
    assert_non_null (strstr (all, "\"kind\":\"decision\",\"action\":\"warm\",\"model\":\"coder\","
                                  "\"reason\":\"plan of 3 user(s), value 2.5\""));
    assert_non_null (strstr (all, "\"kind\":\"refused\",\"command\":\"cool\",\"model\":\"coder\""));
    assert_non_null (strstr (all, "only operator keys may warm or cool"));
    assert_non_null (strstr (all, "\"kind\":\"control\",\"command\":\"pin\""));
    assert_null (strstr (all, "\"command\":\"models\""));
    assert_non_null (strstr (all, "\"kind\":\"deferred\",\"reason\":\"cpu 85% > 30%\""));
    //  One record for two statuses that say the same.
    const char *once = "\"kind\":\"deferred\",\"reason\"";
    assert_null (strstr (strstr (all, once) + 1, once));
    //  A model the scheduler defers, and when it no longer waits
    assert_non_null (strstr (all, "\"kind\":\"deferred\",\"model\":\"big\",\"reason\":"
                                  "\"no room in GPU budget: needs 3072 MiB, 0 of 2560 MiB "
                                  "taken\",\"device\":\"gpu\",\"memory_mb\":3072"));
    assert_non_null (strstr (all, "\"kind\":\"resumed\",\"model\":\"big\",\"reason\":"
                                  "\"room now: warmed\""));
    zstr_free (&all);
    zstr_free (&dir);
    wp_bus_destroy (&bus);
    zactor_destroy (&proxy);
    wp_config_destroy (&config);
    zstr_free (&pub);
    zstr_free (&sub);
    wp_test_rmtree (base);
    free (base);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logident ("test_audit");
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_append_rotate_read),
        cmocka_unit_test (test_actor_records),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
