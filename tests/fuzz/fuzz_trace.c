/*  =========================================================================
    fuzz_trace - warmup-eval's trace readers: the CSV request trace and the
    Azure Functions minute counts, plain or gzip (the CSV with or without
    its kind column of intents). The first byte picks the
    format (auto, csv, azure) and the file's name (.gz or not); the rest is
    the file. Every request read is in time order and names a catalog
    model; a bad line stops the read with an error. At most 100,000
    requests are read (an Azure minute may ask for many).
    =========================================================================
*/
#include "fuzz.h"
#include "wp_eval_catalog.h"
#include "wp_eval_trace.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_init ();
    if (size < 1)
        return 0;
    static wp_eval_catalog_t *catalog;
    if (!catalog) {
        catalog = wp_eval_catalog_new ();
        const char *models [] = { "m", "a/b", "x", "HashFunction", NULL };
        for (int i = 0; models [i]; i++)
            wp_eval_catalog_add (catalog, models [i], 100, 1000);
    }
    wp_eval_format_t format = (wp_eval_format_t) (data [0] % 3);
    const char *path = fuzz_file (data [0] & 4 ? "trace.csv.gz" : "trace.csv", data + 1,
                                  size - 1);
    char error [WP_EVAL_ERRLEN] = "";
    wp_eval_trace_t *trace = wp_eval_trace_open (path, format, catalog, error);
    if (!trace) {
        assert (*error);
        return 0;
    }
    static wp_eval_request_t buffer [512];
    int64_t last = INT64_MIN;
    uint64_t total = 0;
    ssize_t n;
    while (total < 100000 && (n = wp_eval_trace_read (trace, buffer, 512)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            assert (buffer [i].time >= last);
            last = buffer [i].time;
            assert (buffer [i].model < wp_eval_catalog_size (catalog)
                    || (buffer [i].kind && buffer [i].model == WP_EVAL_NO_MODEL));
            assert (!buffer [i].kind || wp_eval_trace_kind_name (trace, buffer [i].kind));
            (void) wp_eval_trace_user_name (trace, buffer [i].user);
        }
        total += (uint64_t) n;
    }
    (void) wp_eval_trace_progress (trace);
    wp_eval_trace_destroy (&trace);
    return 0;
}
