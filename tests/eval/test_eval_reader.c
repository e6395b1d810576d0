/*  =========================================================================
    test_eval_reader - trace and catalog readers: both formats, gzip,
    expansion of minute counts, and every bad line reported as file:line.
    =========================================================================
*/
#include "test_eval_util.h"
#include "wp_eval_trace.h"

#include <zlib.h>

//  A catalog with models a, b, c.
static wp_eval_catalog_t *
s_abc (void)
{
    wp_eval_catalog_t *catalog = wp_eval_catalog_new ();
    assert_int_equal (wp_eval_catalog_add (catalog, "a", 100, 10), 0);
    assert_int_equal (wp_eval_catalog_add (catalog, "b", 200, 20), 1);
    assert_int_equal (wp_eval_catalog_add (catalog, "c", 300, 30), 2);
    return catalog;
}

//  Read a whole trace; returns the count, -1 on error (message in error).
static ssize_t
s_read_all (const char *path, wp_eval_format_t format, wp_eval_catalog_t *catalog,
            wp_eval_request_t *out, size_t max, char *error)
{
    wp_eval_trace_t *trace = wp_eval_trace_open (path, format, catalog, error);
    if (!trace)
        return -1;
    size_t n = 0;
    ssize_t got;
    while ((got = wp_eval_trace_read (trace, out + n, 2)) > 0)
        n += (size_t) got;
    if (got < 0)
        snprintf (error, WP_EVAL_ERRLEN, "%s", wp_eval_trace_error (trace));
    wp_eval_trace_destroy (&trace);
    return got < 0? -1: (ssize_t) n;
}

//  Plain CSV: extra columns ignored, users interned in order, CRLF.
static void
test_csv_plain (void **state)
{
    wp_eval_catalog_t *catalog = s_abc ();
    char *path = test_write_file (".csv",
        "timestamp_ms,user,model,task,language\n"
        "0,alice,b,chat,en\n"
        "5,bob,a,code,c\r\n"
        "5,alice,c,x,y\n"
        "17,carol,a,,\n");
    wp_eval_request_t r [8];
    char error [WP_EVAL_ERRLEN];
    assert_int_equal (s_read_all (path, WP_EVAL_FORMAT_AUTO, catalog, r, 8, error), 4);
    assert_int_equal (r [0].time, 0);
    assert_int_equal (r [0].user, 0);
    assert_int_equal (r [0].model, 1);
    assert_int_equal (r [1].time, 5);
    assert_int_equal (r [1].user, 1);
    assert_int_equal (r [1].model, 0);
    assert_int_equal (r [2].user, 0);
    assert_int_equal (r [2].model, 2);
    assert_int_equal (r [3].time, 17);
    assert_int_equal (r [3].user, 2);
    test_remove_file (path);
    wp_eval_catalog_destroy (&catalog);
}

//  Gzip CSV, detected by the .gz suffix.
static void
test_csv_gzip (void **state)
{
    wp_eval_catalog_t *catalog = s_abc ();
    char *path = test_write_file (".csv.gz", "");
    gzFile gz = gzopen (path, "wb");
    assert_non_null (gz);
    gzprintf (gz, "timestamp_ms,user,model\n");
    for (int i = 0; i < 1000; i++)
        gzprintf (gz, "%d,u%d,%s\n", i * 3, i % 7, i % 2? "a": "c");
    gzclose (gz);
    static wp_eval_request_t r [1000];
    char error [WP_EVAL_ERRLEN];
    assert_int_equal (s_read_all (path, WP_EVAL_FORMAT_CSV, catalog, r, 1000, error), 1000);
    assert_int_equal (r [999].time, 2997);
    assert_int_equal (r [999].model, 0);
    assert_int_equal (r [998].model, 2);
    assert_int_equal (r [13].user, 6);
    test_remove_file (path);
    wp_eval_catalog_destroy (&catalog);
}

//  Expect a read of this CSV body to fail with a message containing want
//  (after the file name).
static void
s_expect_csv_error (const char *body, const char *want)
{
    wp_eval_catalog_t *catalog = s_abc ();
    char text [512];
    snprintf (text, sizeof (text), "timestamp_ms,user,model\n%s", body);
    char *path = test_write_file (".csv", text);
    wp_eval_request_t r [8];
    char error [WP_EVAL_ERRLEN];
    assert_int_equal (s_read_all (path, WP_EVAL_FORMAT_CSV, catalog, r, 8, error), -1);
    char expect [600];
    snprintf (expect, sizeof (expect), "%s:%s", path, want);
    if (strstr (error, expect) == NULL)
        fail_msg ("error '%s' lacks '%s'", error, expect);
    test_remove_file (path);
    wp_eval_catalog_destroy (&catalog);
}

//  Every kind of bad CSV line, with its line number.
static void
test_csv_errors (void **state)
{
    s_expect_csv_error ("10,u,a\n9,u,a\n", "3: unsorted timestamp 9 after 10");
    s_expect_csv_error ("10,u,a\n1x,u,a\n", "3: bad number '1x' in field 'timestamp_ms'");
    s_expect_csv_error ("10,u,a\n-4,u,a\n", "3: bad number '-4' in field 'timestamp_ms'");
    s_expect_csv_error ("10,u\n", "2: missing field 'model'");
    s_expect_csv_error ("10,u,\n", "2: missing field 'model'");
    s_expect_csv_error ("10\n", "2: missing field 'user'");
    s_expect_csv_error (",u,a\n", "2: missing field 'timestamp_ms'");
    s_expect_csv_error ("1,u,a\n\n", "3: missing field 'timestamp_ms'");
    s_expect_csv_error ("1,u,a\n2,u,zz,extra\n", "3: model 'zz' is not in the catalog");
}

//  The header decides the format; an unknown header is an error.
static void
test_format_detection (void **state)
{
    wp_eval_catalog_t *catalog = s_abc ();
    char error [WP_EVAL_ERRLEN];
    char *path = test_write_file (".csv", "time,who,what\n1,u,a\n");
    assert_null (wp_eval_trace_open (path, WP_EVAL_FORMAT_AUTO, catalog, error));
    assert_non_null (strstr (error, ":1: unknown trace format"));
    test_remove_file (path);
    path = test_write_file (".csv", "HashFunction,HashApp,HashOwner,minute_1\na,x,o,1\n");
    assert_null (wp_eval_trace_open (path, WP_EVAL_FORMAT_CSV, catalog, error));
    assert_non_null (strstr (error, ":1: header must start 'timestamp_ms,user,model'"));
    wp_eval_trace_t *trace = wp_eval_trace_open (path, WP_EVAL_FORMAT_AUTO, catalog, error);
    assert_non_null (trace);
    assert_int_equal (wp_eval_trace_format (trace), WP_EVAL_FORMAT_AZURE);
    wp_eval_trace_destroy (&trace);
    test_remove_file (path);
    wp_eval_format_t format;
    assert_int_equal (wp_eval_format_parse ("azure", &format), 0);
    assert_int_equal (format, WP_EVAL_FORMAT_AZURE);
    assert_int_equal (wp_eval_format_parse ("tsv", &format), -1);
    wp_eval_catalog_destroy (&catalog);
}

//  Minute counts: t = (j-1)*60000 + floor((2i+1)*60000/(2c)), merged in
//  time order, ties by row order; user = HashOwner.
static void
test_azure_expansion (void **state)
{
    wp_eval_catalog_t *catalog = s_abc ();
    char *path = test_write_file (".csv",
        "HashFunction,HashApp,HashOwner,minute_1,minute_2,minute_3\n"
        "c,app1,own1,1,3,0\n"
        "a,app2,own2,2,0,1\n"
        "b,app3,own1,1,0,7\n");
    wp_eval_request_t r [32];
    char error [WP_EVAL_ERRLEN];
    assert_int_equal (s_read_all (path, WP_EVAL_FORMAT_AUTO, catalog, r, 32, error), 15);
    //  minute 1: a@15000, c@30000 (row 1) and b@30000 (row 3) tie, a@45000
    int64_t times [15] = { 15000, 30000, 30000, 45000,
                           70000, 90000, 110000,                 //  c: 3 in minute 2
                           120000 + 4285, 120000 + 12857, 120000 + 21428,   //  b: 7 in minute 3
                           120000 + 30000, 120000 + 30000,       //  b i=3 ties a (c=1) ...
                           120000 + 38571, 120000 + 47142, 120000 + 55714 };
    uint32_t models [15] = { 0, 2, 1, 0, 2, 2, 2, 1, 1, 1, 0, 1, 1, 1, 1 };
    for (int i = 0; i < 15; i++) {
        assert_int_equal (r [i].time, times [i]);
        assert_int_equal (r [i].model, models [i]);
    }
    //  a's row (row 2) comes before b's row (row 3) at the 150000 tie.
    assert_int_equal (r [1].user, 0);           //  own1
    assert_int_equal (r [0].user, 1);           //  own2
    assert_int_equal (r [2].user, 0);           //  own1 (b)
    test_remove_file (path);
    wp_eval_catalog_destroy (&catalog);
}

//  Expect opening this minute-count file to fail with want after the name.
static void
s_expect_azure_error (const char *text, const char *want)
{
    wp_eval_catalog_t *catalog = s_abc ();
    char *path = test_write_file (".csv", text);
    char error [WP_EVAL_ERRLEN];
    assert_null (wp_eval_trace_open (path, WP_EVAL_FORMAT_AZURE, catalog, error));
    char expect [600];
    snprintf (expect, sizeof (expect), "%s:%s", path, want);
    if (strstr (error, expect) == NULL)
        fail_msg ("error '%s' lacks '%s'", error, expect);
    test_remove_file (path);
    wp_eval_catalog_destroy (&catalog);
}

//  Bad minute-count rows are found at open, with their line.
static void
test_azure_errors (void **state)
{
    const char *h = "HashFunction,HashApp,HashOwner,minute_1,minute_2\n";
    char text [256];
    snprintf (text, sizeof (text), "%sa,x,o,1,2\nb,x,o,1,z\n", h);
    s_expect_azure_error (text, "3: bad number 'z' in field 'minute_2'");
    snprintf (text, sizeof (text), "%sa,x,o,1\n", h);
    s_expect_azure_error (text, "2: missing field 'minute_2'");
    snprintf (text, sizeof (text), "%sa,x,o,1,2,3\n", h);
    s_expect_azure_error (text, "2: more than 2 minute fields");
    snprintf (text, sizeof (text), "%sa,x,o,1,,\n", h);
    s_expect_azure_error (text, "2: missing field 'minute_2'");
    snprintf (text, sizeof (text), "%sa,x,o,1,2\nq,x,o,1,2\n", h);
    s_expect_azure_error (text, "3: model 'q' is not in the catalog");
    snprintf (text, sizeof (text), "%sa,x\n", h);
    s_expect_azure_error (text, "2: missing field 'HashOwner'");
}

//  Expect a catalog text to be rejected with an error containing want.
static void
s_expect_catalog_error (const char *text, const char *want)
{
    char error [WP_EVAL_ERRLEN];
    char *path = test_write_file (".csv", text);
    assert_null (wp_eval_catalog_load (path, error));
    if (!strstr (error, want) || !strstr (error, path))
        fail_msg ("error '%s' lacks '%s' or the file name", error, want);
    test_remove_file (path);
}

//  Catalog file: ids in file order, bad lines reported with their line
//  and column.
static void
test_catalog_file (void **state)
{
    char error [WP_EVAL_ERRLEN];
    char *path = test_write_file (".csv", "model,memory_mb,load_ms\nx,10,20\ny,30,40\r\n");
    wp_eval_catalog_t *catalog = wp_eval_catalog_load (path, error);
    assert_non_null (catalog);
    assert_int_equal (wp_eval_catalog_size (catalog), 2);
    assert_int_equal (wp_eval_catalog_lookup (catalog, "y", 1), 1);
    assert_int_equal (wp_eval_catalog_memory_mb (catalog, 1), 30);
    assert_int_equal (wp_eval_catalog_load_ms (catalog, 0), 20);
    assert_int_equal (wp_eval_catalog_total_mb (catalog), 40);
    assert_string_equal (wp_eval_catalog_name (catalog, 0), "x");
    //  No pin or priority column: nothing pinned, every model normal.
    assert_false (wp_eval_catalog_has_settings (catalog));
    assert_false (wp_eval_catalog_pinned (catalog, 0));
    assert_int_equal (wp_eval_catalog_priority (catalog, 1), 2);
    assert_int_equal (wp_eval_catalog_pinned_mb (catalog), 0);
    wp_eval_catalog_destroy (&catalog);
    test_remove_file (path);
    s_expect_catalog_error ("name,mem,load\n", ":1: header must start 'model,memory_mb,load_ms'");
    s_expect_catalog_error ("model,load_ms,memory_mb\n", ":1: header must start");
    s_expect_catalog_error ("model,memory_mb,load_ms\nx,1.5,3\n",
                            ":2:2: bad number '1.5' in field 'memory_mb'");
    s_expect_catalog_error ("model,memory_mb,load_ms\nx,1,-3\n",
                            ":2:3: bad number '-3' in field 'load_ms'");
    s_expect_catalog_error ("model,memory_mb,load_ms\nx,1\n", ":2:3: missing field 'load_ms'");
    s_expect_catalog_error ("model,memory_mb,load_ms\n,1,2\n", ":2:1: missing field 'model'");
    s_expect_catalog_error ("model,memory_mb,load_ms\nx,1,2\nx,3,4\n", ":3:1: duplicate model 'x'");
    s_expect_catalog_error ("model,memory_mb,load_ms\nx,1,2,extra\n",
                            ":2:4: more fields than the header's 3");
    s_expect_catalog_error ("model,memory_mb,load_ms\n", "catalog has no models");
    assert_null (wp_eval_catalog_load ("/nonexistent/catalog.csv", error));
    assert_non_null (strstr (error, "cannot open"));
}

//  The optional pin and priority columns: any order after the required
//  three, the configuration's spellings, empty cells take the defaults.
static void
test_catalog_settings (void **state)
{
    char error [WP_EVAL_ERRLEN];
    char *path = test_write_file (".csv",
        "model,memory_mb,load_ms,priority,pin\n"
        "a,100,1,high,true\n"
        "b,200,2,low,0\n"
        "c,300,3,,yes\n"
        "d,400,4,normal,\n"
        "e,500,5,high,off\n"
        "f,600,6,,on\n"
        "g,700,7,low,1\n"
        "h,800,8,,false\n"
        "i,900,9,,no\n");
    wp_eval_catalog_t *catalog = wp_eval_catalog_load (path, error);
    if (!catalog)
        fail_msg ("%s", error);
    assert_true (wp_eval_catalog_has_settings (catalog));
    const bool pin [9] = { 1, 0, 1, 0, 0, 1, 1, 0, 0 };
    const int priority [9] = { 3, 1, 2, 2, 3, 2, 1, 2, 2 };
    for (uint32_t i = 0; i < 9; i++) {
        assert_int_equal (wp_eval_catalog_pinned (catalog, i), pin [i]);
        assert_int_equal (wp_eval_catalog_priority (catalog, i), priority [i]);
    }
    assert_int_equal (wp_eval_catalog_pinned_mb (catalog), 100 + 300 + 600 + 700);
    wp_eval_catalog_destroy (&catalog);
    test_remove_file (path);

    //  One optional column alone: the other takes its default.
    path = test_write_file (".csv", "model,memory_mb,load_ms,pin\nx,10,20,1\ny,30,40,0\n");
    catalog = wp_eval_catalog_load (path, error);
    assert_non_null (catalog);
    assert_true (wp_eval_catalog_pinned (catalog, 0));
    assert_false (wp_eval_catalog_pinned (catalog, 1));
    assert_int_equal (wp_eval_catalog_priority (catalog, 0), 2);
    assert_int_equal (wp_eval_catalog_pinned_mb (catalog), 10);
    wp_eval_catalog_destroy (&catalog);
    test_remove_file (path);

    //  Set from code (tests, tools): has_settings follows.
    catalog = wp_eval_catalog_new ();
    assert_int_equal (wp_eval_catalog_add (catalog, "m", 64, 10), 0);
    assert_false (wp_eval_catalog_has_settings (catalog));
    wp_eval_catalog_set_pin (catalog, 0, true);
    wp_eval_catalog_set_priority (catalog, 0, 7);
    assert_true (wp_eval_catalog_has_settings (catalog));
    assert_int_equal (wp_eval_catalog_pinned_mb (catalog), 64);
    assert_int_equal (wp_eval_catalog_priority (catalog, 0), 2);
    wp_eval_catalog_set_pin (catalog, 0, false);
    assert_int_equal (wp_eval_catalog_pinned_mb (catalog), 0);
    wp_eval_catalog_destroy (&catalog);

    //  Bad values name the line, the column and the value.
    s_expect_catalog_error ("model,memory_mb,load_ms,pin\nx,1,2,1\ny,1,2,maybe\n",
                            ":3:4: bad value 'maybe' in field 'pin' (must be true or false)");
    s_expect_catalog_error ("model,memory_mb,load_ms,pin,priority\nx,1,2,1,urgent\n",
                            ":2:5: bad value 'urgent' in field 'priority' "
                            "(must be low, normal or high)");
    s_expect_catalog_error ("model,memory_mb,load_ms,priority\nx,1,2,HIGH\n",
                            ":2:4: bad value 'HIGH' in field 'priority'");
    s_expect_catalog_error ("model,memory_mb,load_ms,pin\nx,1,2,TRUE \n",
                            ":2:4: bad value 'TRUE ' in field 'pin'");
    //  Missing fields: a row shorter than its header.
    s_expect_catalog_error ("model,memory_mb,load_ms,pin,priority\nx,1,2,1\n",
                            ":2:5: missing field 'priority'");
    s_expect_catalog_error ("model,memory_mb,load_ms,priority,pin\nx,1,2\n",
                            ":2:4: missing field 'priority'");
    s_expect_catalog_error ("model,memory_mb,load_ms,pin\nx,1,2,1,high\n",
                            ":2:5: more fields than the header's 4");
    //  Unknown and repeated columns are errors (a misspelt column would
    //  otherwise measure the wrong thing in silence).
    s_expect_catalog_error ("model,memory_mb,load_ms,notes\nx,1,2,n\n",
                            ":1:4: unknown column 'notes' (after model,memory_mb,load_ms: "
                            "pin, priority)");
    s_expect_catalog_error ("model,memory_mb,load_ms,pin,priorty\n",
                            ":1:5: unknown column 'priorty'");
    s_expect_catalog_error ("model,memory_mb,load_ms,pin,priority,a,b,c\n",
                            ":1:6: unknown column 'a'");
    s_expect_catalog_error ("model,memory_mb,load_ms,pin,pin\n", ":1:5: column 'pin' given twice");
    s_expect_catalog_error ("model,memory_mb,load_ms,model\n", ":1:4: column 'model' given twice");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_csv_plain),
        cmocka_unit_test (test_csv_gzip),
        cmocka_unit_test (test_csv_errors),
        cmocka_unit_test (test_format_detection),
        cmocka_unit_test (test_azure_expansion),
        cmocka_unit_test (test_azure_errors),
        cmocka_unit_test (test_catalog_file),
        cmocka_unit_test (test_catalog_settings),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
